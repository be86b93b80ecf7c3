// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "util/log.h"
#include "pipeline.h"
#include "model/procs.h"
#include "assemble/func_span.h"
#include "util/selfconn.h"
#include "pair/jsonrpc_exchange.h"
#include "semantics/mcp_span.h"
#include "assemble/links.h"
#include "semantics/retries.h"
#include "semantics/trace_context.h"
#include "semantics/conn_span.h"
#include "semantics/grpc_span.h"

struct sp_pipeline {
	struct sp_pipeline_opts o;
	struct sp_procs *procs;
	struct sp_streams *streams;
	struct sp_span_asm *asm_;
	struct sp_retries *retries;
	struct sp_links *links;		/* both ends of local connections */
	struct sp_func_spans *funcs;	/* --probe, --usdt */
	struct sp_sem_opts sem;		/* the streams borrow it */
	struct sp_pipeline_stats stats;
};

static void on_proc_evict(void *ctx, struct sp_proc *p)
{
	struct sp_pipeline *pl = ctx;

	sp_span_asm__evict(pl->asm_, p);
}

/* A model call's tool calls and results, as the agent sees them. */
static void agent_view(struct sp_pipeline *pl, const struct sp_body_sub *sub, void *st,
		       struct sp_tool_view *v)
{
	memset(v, 0, sizeof(*v));
	if (!sub->tools)
		return;
	sub->tools(st, v);
	/* the arguments are content: recorded only when content is */
	if (!pl->sem.llm_opts.content)
		for (int i = 0; i < v->ncalls; i++) {
			v->calls[i].args = NULL;
			v->calls[i].args_len = 0;
		}
}

/* A request carrying W3C trace context: its span (and what nests under it)
 * joins the caller's trace. */
static void adopt_trace_context(struct sp_pipeline *pl, struct sp_span *s,
				const struct sp_http_req *rq)
{
	const char *tp, *ts;
	struct sp_trace_ctx tc;

	sp_http_req_trace_context(rq, &tp, &ts);
	if (!tp[0])
		return;
	if (!sp_traceparent_parse(tp, strlen(tp), &tc)) {
		pl->stats.bad_traceparent++;
		return;
	}
	sp_trace_ctx_adopt(s, &tc, ts);
	pl->stats.trace_context++;
}

/* A client's repeat of a request whose last attempt failed: marked, and
 * an event where the caller (the agent, for curl's calls) runs. */
static void mark_retry(struct sp_pipeline *pl, struct sp_proc *p, struct sp_span *s,
		       const struct sp_http_exchange *ex, uint64_t start, uint64_t end)
{
	uint32_t scope = sp_proc_is_http_cli(p) && p->ppid ? p->ppid : p->pid;
	uint16_t status = ex->resp && !ex->resp->incomplete ? ex->resp->status : 0;
	uint32_t n;

	if (ex->role != SP_ROLE_CLIENT)
		return;
	n = sp_retries__note(pl->retries, scope, ex->req->method, ex->req->host, ex->req->target,
			     sp_retry_worthy(status, ex->error_type), start, end);
	if (!n)
		return;
	sp_span__set_int(s, "http.request.resend_count", n);
	sp_span_asm__retry_event(pl->asm_, scope, start, n, s->name);
	pl->stats.retries++;
}

/*
 * A server's span: what the server did while serving the request (its own
 * calls) nests under it. When the client is traced too (a local
 * connection), the server's span goes under the client's, whichever of the
 * two completed first.
 */
static void link_ends(struct sp_pipeline *pl, struct sp_proc *p, struct sp_span *s,
		      const struct sp_http_exchange *ex)
{
	struct sp_link_end mine = { .start = s->start_ns, .end = s->end_ns }, peer;
	bool server = ex->role == SP_ROLE_SERVER;

	if (server)
		sp_span_asm__adopt(pl->asm_, p->pid, s);
	/* a traceparent header linked it already */
	if (!ex->sock || s->remote_parent)
		return;
	memcpy(mine.trace_id, s->trace_id, sizeof(mine.trace_id));
	memcpy(mine.span_id, s->span_id, sizeof(mine.span_id));
	if (!sp_links__meet(pl->links, server, &ex->sock->local, &ex->sock->remote, &mine, &peer)) {
		/* an agent server's request from elsewhere is the root of the
		 * work done for it: a trace of its own (a local caller may be
		 * traced and link it later: it stays put) */
		if (server && !sp_addr_is_local(&ex->sock->remote) &&
		    sp_span_asm__is_agent(pl->asm_, p->pid)) {
			uint8_t tid[16], none[8] = {};

			sp_random_id(tid, sizeof(tid));
			sp_span_asm__reparent(pl->asm_, s, tid, none);
			pl->stats.agent_requests++;
		}
		return;
	}
	if (server)
		sp_span_asm__reparent(pl->asm_, s, peer.trace_id, peer.span_id);
	else if (!sp_span_asm__graft(pl->asm_, peer.trace_id, peer.span_id, s))
		return;
	pl->stats.local_links++;
}

static void on_exchange(void *ctx, const struct sp_http_exchange *ex)
{
	struct sp_pipeline *pl = ctx;
	struct sp_proc *p, *agent = NULL;
	const struct sp_body_sub *sub = ex->req->sub;
	struct sp_span *s;
	uint64_t start, end;
	char name[160];
	bool model_call;
	struct sp_tool_view view;

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
	model_call = sub && ex->role == SP_ROLE_CLIENT && sub->model_calls &&
		     sub->is_call(ex->req->sub_st);
	/* the caller is an agent: its tree exists before this span does */
	if (model_call) {
		agent_view(pl, sub, ex->req->sub_st, &view);
		agent = sp_span_asm__model_call(pl->asm_, pl->procs, p, start, &view);
	}
	if (ex->grpc)
		sp_grpc_span_name(ex->grpc, name, sizeof(name));
	else
		sp_http_span_name(ex->req, name, sizeof(name));
	if (model_call)
		s = sp_span_asm__model_child(pl->asm_, pl->procs, p, name, SP_KIND_CLIENT, start,
					     end, view.conversation);
	else
		s = sp_span_asm__child(pl->asm_, pl->procs, p, name,
				       ex->role == SP_ROLE_SERVER ? SP_KIND_SERVER : SP_KIND_CLIENT,
				       start, end);
	if (!s)
		return;
	sp_http_span_fill(s, ex);
	adopt_trace_context(pl, s, ex->req);
	mark_retry(pl, p, s, ex, start, end);
	/* the consumer's call (an LLM call, an MCP request), a child of its
	 * HTTP span, over the same time; model calls on the caller's side
	 * only (a fake LLM server is no LLM call), MCP on both */
	if (sub && (ex->role == SP_ROLE_CLIENT || !sub->model_calls) &&
	    sub->is_call(ex->req->sub_st)) {
		struct sp_span *ls;

		sub->span_name(ex->req->sub_st, name, sizeof(name));
		ls = sp_span_asm__child_of(pl->asm_, s, name,
					   ex->role == SP_ROLE_SERVER ? SP_KIND_SERVER : SP_KIND_CLIENT);
		if (ls) {
			sub->fill(ex->req->sub_st, ls);
			if (sub->model_calls)
				pl->stats.llm_calls++;
			else
				pl->stats.consumer_calls++;
			sp_span_asm__finish(pl->asm_, ls);
		}
	}
	link_ends(pl, p, s, ex);
	sp_span_asm__finish(pl->asm_, s);
	if (agent)
		sp_span_asm__tools(pl->asm_, agent, &view, start, end);
}

/* A failed connect: an ERROR span under the process's current span, as
 * an exchange's. spanprobe's own (an exporter's backend down) never get
 * here: BPF skips its tgid (targ_self). */
static void on_connect_fail(void *ctx, const struct sp_connect_fail_event *ev)
{
	struct sp_pipeline *pl = ctx;
	struct sp_proc *p = sp_procs__get_or_add(pl->procs, ev->tgid, 0, ev->ts_start);
	struct sp_span *s;

	if (!p)
		return;
	sp_procs__ensure(pl->procs, p);
	s = sp_span_asm__child(pl->asm_, pl->procs, p, SP_CONN_SPAN_NAME, SP_KIND_CLIENT,
			       ev->ts_start, ev->ts_end < ev->ts_start ? ev->ts_start : ev->ts_end);
	if (!s)
		return;
	sp_conn_span_fill(s, ev);
	sp_span_asm__finish(pl->asm_, s);
}

/*
 * The MCP host of a stdio server: the agent above it, or the first process
 * above its launchers (npx, sh -c, uvx, bwrap): the one holding the other
 * end of its pipes. NULL if none is known.
 */
static struct sp_proc *mcp_host(struct sp_pipeline *pl, struct sp_proc *srv)
{
	struct sp_proc *q = srv, *first = NULL;

	for (int depth = 0; depth < 8 && q->ppid; depth++) {
		q = sp_procs__get(pl->procs, q->ppid);
		if (!q || q->exited)
			break;
		sp_procs__ensure(pl->procs, q);
		if (sp_span_asm__is_agent(pl->asm_, q->pid))
			return q;
		if (!first && !sp_proc_is_launcher(q))
			first = q;
	}
	return first;
}

/*
 * A JSON-RPC exchange on an MCP server's stdio: a CLIENT span in its host
 * (an MCP host is an agent: its servers start before its first model call)
 * under the tool call that asked for it, and the SERVER span in the
 * server, its child, with what the server did meanwhile under it. A
 * request the server sent its host (sampling, roots) the other way round.
 */
static void on_rpc(void *ctx, const struct sp_rpc_exchange *ex)
{
	struct sp_pipeline *pl = ctx;
	struct sp_proc *srv, *host, *caller, *callee;
	struct sp_span *cs, *ss;
	char name[160];

	srv = sp_procs__get_or_add(pl->procs, ex->pid, 0, ex->start_ns);
	if (!srv)
		return;
	sp_procs__ensure(pl->procs, srv);
	host = mcp_host(pl, srv);
	pl->stats.rpc_exchanges++;
	sp_mcp_span_name(ex, name, sizeof(name));
	if (!host) {
		/* no host known (it is gone): the server's side alone */
		ss = sp_span_asm__child(pl->asm_, pl->procs, srv, name,
					ex->role == SP_ROLE_SERVER ? SP_KIND_SERVER : SP_KIND_CLIENT,
					ex->start_ns, ex->end_ns);
		if (ss) {
			sp_mcp_span_fill(ss, ex, ex->role != SP_ROLE_SERVER);
			sp_span_asm__finish(pl->asm_, ss);
		}
		return;
	}
	sp_span_asm__agent(pl->asm_, pl->procs, host, ex->start_ns);
	sp_span_asm__mcp_server(pl->asm_, srv->pid);
	caller = ex->role == SP_ROLE_SERVER ? host : srv;
	callee = ex->role == SP_ROLE_SERVER ? srv : host;
	cs = sp_span_asm__tool_child(pl->asm_, pl->procs, caller, ex->tool, name, SP_KIND_CLIENT,
				     ex->start_ns, ex->end_ns);
	if (!cs)
		return;
	ss = sp_span_asm__child(pl->asm_, pl->procs, callee, name, SP_KIND_SERVER, ex->start_ns,
				ex->end_ns);
	if (!ss) {
		sp_mcp_span_fill(cs, ex, true);
		sp_span_asm__finish(pl->asm_, cs);
		return;
	}
	sp_mcp_span_pair(cs, ss, ex);
	sp_span_asm__adopt(pl->asm_, callee->pid, ss);
	sp_span_asm__finish(pl->asm_, ss);
	sp_span_asm__finish(pl->asm_, cs);
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
	p->retries = sp_retries__new(opts->max_streams ? opts->max_streams : 1024);
	p->links = sp_links__new(opts->max_streams ? opts->max_streams : 1024);
	p->procs = sp_procs__new(opts->max_procs, on_proc_evict, p, opts->proc_read,
				 opts->proc_read_ctx);
	p->streams = sp_streams__new(opts->max_streams, opts->max_sockets,
				     &p->sem, on_exchange, p);
	p->funcs = sp_func_spans__new(p->asm_, p->procs);
	if (!p->asm_ || !p->procs || !p->streams || !p->retries || !p->links || !p->funcs) {
		sp_pipeline__free(p);
		errno = ENOMEM;
		return NULL;
	}
	sp_streams__set_connect_fail(p->streams, on_connect_fail, p);
	sp_streams__set_rpc_emit(p->streams, on_rpc, p);
	return p;
}

void sp_pipeline__free(struct sp_pipeline *p)
{
	if (!p)
		return;
	sp_streams__free(p->streams);
	sp_func_spans__free(p->funcs);
	sp_span_asm__free(p->asm_);
	sp_retries__free(p->retries);
	sp_links__free(p->links);
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
	struct sp_proc *parent, *child;

	/* every process, system-wide too: an agent's tree is known before
	 * its first model call says it is one */
	child = sp_procs__fork(p->procs, ev->tgid, ev->ppid, ev->ts);
	if (!child)
		return;
	parent = sp_procs__get(p->procs, ev->ppid);
	if (parent && sp_span_asm__has_span(p->asm_, parent->pid))
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
	else if (pr->exited)	/* its pid is a new process's (its fork was lost) */
		pr = sp_procs__fork(p->procs, ev->tgid, ev->ppid, ev->ts);
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
	bool had_span;

	/* its requests end first, so they land under its span (and may
	 * create its entry, so look it up after) */
	sp_streams__proc_exit(p->streams, ev->tgid, ev->ts);
	sp_func_spans__proc_exit(p->funcs, ev->tgid, ev->ts);
	pr = sp_procs__get(p->procs, ev->tgid);
	if (p->o.on_exit)
		p->o.on_exit(p->o.hook_ctx, ev->tgid);
	if (!pr)
		return;
	had_span = sp_span_asm__has_span(p->asm_, pr->pid);
	sp_procs__exit(p->procs, pr, ev->exit_code, ev->ts);
	sp_span_asm__exit(p->asm_, p->procs, pr, ev->ts);
	/* what nobody made a span of yet, an agent above may still claim */
	if (had_span)
		sp_procs__del(p->procs, pr);
	else
		sp_procs__retire(p->procs, pr);
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
	case SP_EV_CONNECT_FAIL:
		if (size < sizeof(struct sp_connect_fail_event))
			goto bad;
		sp_streams__connect_fail(p->streams, rec);
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
	sp_procs__tick(p->procs, now);
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

uint64_t sp_pipeline__link_evictions(const struct sp_pipeline *p)
{
	return sp_links__evictions(p->links);
}

uint64_t sp_pipeline__retry_evictions(const struct sp_pipeline *p)
{
	return sp_retries__evictions(p->retries);
}

struct sp_span_asm *sp_pipeline__asm(const struct sp_pipeline *p)
{
	return p->asm_;
}
