// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "util/log.h"
#include "pipeline.h"
#include "model/procs.h"
#include "assemble/func_span.h"
#include "util/selfconn.h"

struct sp_pipeline {
	struct sp_pipeline_opts o;
	struct sp_procs *procs;
	struct sp_streams *streams;
	struct sp_span_asm *asm_;
	struct sp_func_spans *funcs;	/* --probe, --usdt */
	struct sp_sem_opts sem;		/* the streams borrow it */
	struct sp_pipeline_stats stats;
};

static void on_proc_evict(void *ctx, struct sp_proc *p)
{
	struct sp_pipeline *pl = ctx;

	sp_span_asm__evict(pl->asm_, p);
}

static void on_exchange(void *ctx, const struct sp_http_exchange *ex)
{
	struct sp_pipeline *pl = ctx;
	struct sp_proc *p;
	const struct sp_body_sub *sub = ex->req->sub;
	struct sp_span *s;
	uint64_t start, end;
	char name[160];

	/* the backend's side of spanprobe's own export: not the user's
	 * traffic, and exporting it would feed itself */
	if (ex->role == SP_ROLE_SERVER && ex->sock && sp_selfconn_has(ex->sock->remote.port)) {
		pl->stats.own_exports++;
		return;
	}
	sp_http_span_times(ex, &start, &end);
	p = sp_procs__get_or_add(pl->procs, ex->pid, 0, start);
	if (!p)
		return;
	sp_procs__ensure(pl->procs, p);
	sp_http_span_name(ex->req, name, sizeof(name));
	s = sp_span_asm__child(pl->asm_, pl->procs, p, name,
			       ex->role == SP_ROLE_SERVER ? SP_KIND_SERVER : SP_KIND_CLIENT,
			       start, end);
	if (!s)
		return;
	sp_http_span_fill(s, ex);
	if (sub && ex->role == SP_ROLE_CLIENT && sub->is_call(ex->req->sub_st)) {
		/* the consumer's call (an LLM call), a child of its HTTP span,
		 * over the same time */
		struct sp_span *ls;

		sub->span_name(ex->req->sub_st, name, sizeof(name));
		ls = sp_span_asm__child_of(pl->asm_, s, name, SP_KIND_CLIENT);
		if (ls) {
			sub->fill(ex->req->sub_st, ls);
			pl->stats.llm_calls++;
			sp_span_asm__finish(pl->asm_, ls);
		}
	}
	sp_span_asm__finish(pl->asm_, s);
}

struct sp_pipeline *sp_pipeline__new(const struct sp_pipeline_opts *opts)
{
	struct sp_pipeline *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->o = *opts;
	p->sem.llm = opts->llm;
	p->sem.llm_opts = opts->llm_opts;
	p->asm_ = sp_span_asm__new(&opts->asm_opts, opts->max_procs);
	p->procs = sp_procs__new(opts->max_procs, on_proc_evict, p, opts->proc_read,
				 opts->proc_read_ctx);
	p->streams = sp_streams__new(opts->max_streams, opts->max_sockets,
				     &p->sem, on_exchange, p);
	p->funcs = sp_func_spans__new(p->asm_, p->procs);
	if (!p->asm_ || !p->procs || !p->streams || !p->funcs) {
		sp_pipeline__free(p);
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

void sp_pipeline__free(struct sp_pipeline *p)
{
	if (!p)
		return;
	sp_streams__free(p->streams);
	sp_func_spans__free(p->funcs);
	sp_span_asm__free(p->asm_);
	sp_procs__free(p->procs);
	free(p);
}

int sp_pipeline__add_sink(struct sp_pipeline *p, struct sp_exporter *e)
{
	return sp_span_asm__add_sink(p->asm_, e);
}

int sp_pipeline__target(struct sp_pipeline *p, uint32_t pid, uint64_t ts)
{
	struct sp_proc *pr = sp_procs__get_or_add(p->procs, pid, 0, ts);

	if (!pr)
		return -ENOMEM;
	sp_procs__ensure(p->procs, pr);
	sp_span_asm__target(p->asm_, pr, ts);
	return 0;
}

void sp_pipeline__snapshot(struct sp_pipeline *p, uint32_t pid, uint64_t ts)
{
	struct sp_proc *pr = sp_procs__get_or_add(p->procs, pid, 0, ts);

	/* read now, while it runs: it may be gone by its first exchange */
	if (pr)
		sp_procs__ensure(p->procs, pr);
}

static void handle_fork(struct sp_pipeline *p, const struct sp_proc_event *ev)
{
	struct sp_proc *parent = sp_procs__get(p->procs, ev->ppid), *child;
	bool traced = parent && sp_span_asm__has_span(p->asm_, parent->pid);

	/* system-wide, a child of a process without a span is created
	 * lazily, at its first exchange */
	if (p->o.all && !traced)
		return;
	child = sp_procs__get_or_add(p->procs, ev->tgid, ev->ppid, ev->ts);
	if (!child)
		return;
	if (traced)
		sp_procs__ensure(p->procs, child);
	sp_span_asm__fork(p->asm_, parent, child, ev->ts);
}

static void handle_exec(struct sp_pipeline *p, const struct sp_proc_event *ev)
{
	struct sp_proc *pr = sp_procs__get(p->procs, ev->tgid);
	uint32_t args_len = ev->args_len < SP_ARGS_LEN ? ev->args_len : SP_ARGS_LEN;
	char filename[SP_PATH_LEN], args[SP_ARGS_LEN + 1];

	if (p->o.on_exec)
		p->o.on_exec(p->o.hook_ctx, ev->tgid);
	sp_streams__proc_exec(p->streams, ev->tgid, ev->ts);
	sp_func_spans__proc_exit(p->funcs, ev->tgid, ev->ts);	/* the old image's calls */
	/* kept for every exec, system-wide too: a short-lived process may be
	 * gone from /proc by the time its first exchange is decoded */
	if (!pr)
		pr = sp_procs__add(p->procs, ev->tgid, ev->ppid, ev->ts);
	if (!pr)
		return;
	memcpy(filename, ev->filename, sizeof(filename));
	filename[sizeof(filename) - 1] = 0;
	/* a cut argv has no final NUL: add one */
	memcpy(args, ev->args, args_len);
	args[args_len] = 0;
	sp_procs__exec(p->procs, pr, filename, args, args_len);
	sp_span_asm__exec(p->asm_, pr, ev->ts);
}

static void handle_exit(struct sp_pipeline *p, const struct sp_proc_event *ev)
{
	struct sp_proc *pr;

	/* its requests end first, so they land under its span (and may
	 * create its entry, so look it up after) */
	sp_streams__proc_exit(p->streams, ev->tgid, ev->ts);
	sp_func_spans__proc_exit(p->funcs, ev->tgid, ev->ts);
	pr = sp_procs__get(p->procs, ev->tgid);
	if (p->o.on_exit)
		p->o.on_exit(p->o.hook_ctx, ev->tgid);
	if (!pr)
		return;
	sp_procs__exit(p->procs, pr, ev->exit_code, ev->ts);
	sp_span_asm__exit(p->asm_, p->procs, pr, ev->ts);
	sp_procs__del(p->procs, pr);
}

int sp_pipeline__handle(struct sp_pipeline *p, const void *rec, size_t size)
{
	const struct sp_data_event *d = rec;
	const struct sp_conn_event *c = rec;
	const struct sp_proc_event *pe = rec;
	const struct sp_tls_bind_event *b = rec;
	uint32_t type;

	if (size < sizeof(type))
		goto bad;
	memcpy(&type, rec, sizeof(type));
	p->stats.events++;
	switch (type) {
	case SP_EV_DATA:
		if (size < sizeof(*d) || d->len > size - sizeof(*d))
			goto bad;
		sp_streams__data(p->streams, d, (const uint8_t *)rec + sizeof(*d));
		return 0;
	case SP_EV_CONN:
	case SP_EV_CONN_CLOSE:
	case SP_EV_CONN_ERR:
		if (size < sizeof(*c))
			goto bad;
		if (type == SP_EV_CONN)
			sp_streams__conn(p->streams, c);
		else if (type == SP_EV_CONN_CLOSE)
			sp_streams__close(p->streams, c->tgid, c->fd, c->ts);
		else
			sp_streams__error(p->streams, c);
		return 0;
	case SP_EV_TLS_BIND:
		if (size < sizeof(*b))
			goto bad;
		sp_streams__tls_bind(p->streams, b->tgid, b->ssl, b->fd);
		return 0;
	case SP_EV_PROC_FORK:
	case SP_EV_PROC_EXEC:
	case SP_EV_PROC_EXIT:
		if (size < sizeof(*pe))
			goto bad;
		if (type == SP_EV_PROC_FORK)
			handle_fork(p, pe);
		else if (type == SP_EV_PROC_EXEC)
			handle_exec(p, pe);
		else
			handle_exit(p, pe);
		return 0;
	case SP_EV_FUNC:
		if (sp_func_spans__handle(p->funcs, rec, size))
			goto bad;
		return 0;
	}
bad:
	p->stats.bad_records++;
	return -EINVAL;
}

static bool pid_busy(void *ctx, uint32_t pid)
{
	return sp_streams__pid_busy(ctx, pid);
}

void sp_pipeline__tick(struct sp_pipeline *p, uint64_t now)
{
	sp_span_asm__tick(p->asm_, p->procs, now, pid_busy, p->streams);
	sp_streams__tick(p->streams, now);
}

void sp_pipeline__shutdown(struct sp_pipeline *p, uint64_t now)
{
	sp_streams__end_all(p->streams, now);
	sp_func_spans__end_all(p->funcs, now);
	sp_span_asm__shutdown(p->asm_, p->procs, now);
}

const struct sp_pipeline_stats *sp_pipeline__stats(const struct sp_pipeline *p)
{
	return &p->stats;
}

const struct sp_streams_stats *sp_pipeline__streams_stats(const struct sp_pipeline *p)
{
	return sp_streams__stats(p->streams);
}

const struct sp_asm_stats *sp_pipeline__asm_stats(const struct sp_pipeline *p)
{
	return sp_span_asm__stats(p->asm_);
}

uint64_t sp_pipeline__proc_evictions(const struct sp_pipeline *p)
{
	return sp_procs__evictions(p->procs);
}

const struct sp_func_stats *sp_pipeline__func_stats(const struct sp_pipeline *p)
{
	return sp_func_spans__stats(p->funcs);
}

struct sp_span_asm *sp_pipeline__asm(const struct sp_pipeline *p)
{
	return p->asm_;
}
