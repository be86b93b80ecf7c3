// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "util/clock.h"
#include "util/log.h"
#include "util/procfs.h"
#include "assemble/span_asm.h"

struct sp_span_asm {
	struct sp_asm_opts o;
	struct sp_exporter *sinks[SP_ASM_MAX_SINKS];
	int nsinks;
	/* span pool: allocated on demand up to o.max_spans, then reused */
	struct sp_span *free_list;
	uint32_t allocated, in_use;
	/* finished spans waiting for the next batch */
	struct sp_span **batch;
	uint32_t nbatch;
	uint64_t last_flush;
	struct sp_asm_stats stats;
};

struct sp_span_asm *sp_span_asm__new(const struct sp_asm_opts *opts)
{
	struct sp_span_asm *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->o = *opts;
	if (!a->o.batch_max)
		a->o.batch_max = 512;
	a->batch = calloc(a->o.batch_max, sizeof(*a->batch));
	if (!a->batch) {
		free(a);
		return NULL;
	}
	return a;
}

void sp_span_asm__free(struct sp_span_asm *a)
{
	struct sp_span *s;

	if (!a)
		return;
	for (uint32_t i = 0; i < a->nbatch; i++) {
		sp_span__release(a->batch[i]);
		free(a->batch[i]);
	}
	while ((s = a->free_list)) {
		a->free_list = s->next;
		free(s);
	}
	for (int i = 0; i < a->nsinks; i++)
		sp_exporter__free(a->sinks[i]);
	free(a->batch);
	free(a);
}

int sp_span_asm__add_sink(struct sp_span_asm *a, struct sp_exporter *e)
{
	if (a->nsinks == SP_ASM_MAX_SINKS)
		return -E2BIG;
	a->sinks[a->nsinks++] = e;
	return 0;
}

struct sp_exporter *sp_span_asm__sink(const struct sp_span_asm *a, int i)
{
	return i < a->nsinks ? a->sinks[i] : NULL;
}

const struct sp_asm_stats *sp_span_asm__stats(const struct sp_span_asm *a)
{
	return &a->stats;
}

static struct sp_span *span_get(struct sp_span_asm *a)
{
	struct sp_span *s = a->free_list;

	if (s) {
		a->free_list = s->next;
	} else if (a->allocated < a->o.max_spans) {
		s = malloc(sizeof(*s));
		if (s)
			a->allocated++;
	}
	if (!s) {
		a->stats.spans_dropped++;
		return NULL;
	}
	a->in_use++;
	return s;
}

static void span_put(struct sp_span_asm *a, struct sp_span *s)
{
	sp_span__release(s);
	s->next = a->free_list;
	a->free_list = s;
	a->in_use--;
}

static void flush_batch(struct sp_span_asm *a)
{
	if (!a->nbatch)
		return;
	for (int i = 0; i < a->nsinks; i++)
		a->sinks[i]->export(a->sinks[i], a->batch, a->nbatch);
	for (uint32_t i = 0; i < a->nbatch; i++)
		span_put(a, a->batch[i]);
	a->nbatch = 0;
}

void sp_span_asm__finish(struct sp_span_asm *a, struct sp_span *s)
{
	if (s->end_ns < s->start_ns)
		s->end_ns = s->start_ns;
	a->stats.spans_finished++;
	a->batch[a->nbatch++] = s;
	if (a->nbatch == a->o.batch_max)
		flush_batch(a);
}

/* Opens p's process span, under parent's span if parent has one. */
static struct sp_span *open_proc_span(struct sp_span_asm *a, struct sp_proc *p,
				      struct sp_proc *parent, uint64_t ts)
{
	struct sp_span *s = span_get(a);

	if (!s)
		return NULL;
	sp_span__init(s, p->name, strlen(p->name), SP_KIND_INTERNAL, p->res);
	if (parent && parent->span) {
		memcpy(s->trace_id, parent->span->trace_id, sizeof(s->trace_id));
		memcpy(s->parent_id, parent->span->span_id, sizeof(s->parent_id));
		parent->open_children++;
		parent->last_activity_ns = ts;
		p->parent_span_pid = parent->pid;
	} else {
		sp_random_id(s->trace_id, sizeof(s->trace_id));
		p->parent_span_pid = 0;
	}
	s->start_ns = sp_clock_to_unix(ts);
	p->span = s;
	p->last_activity_ns = ts;
	return s;
}

static void close_proc_span(struct sp_span_asm *a, struct sp_procs *procs, struct sp_proc *p,
			    uint64_t end)
{
	struct sp_span *s = p->span;
	struct sp_proc *parent;

	if (!s)
		return;
	p->span = NULL;
	s->end_ns = sp_clock_to_unix(end);
	/* process attributes, set last so an exec'd name and resource win */
	sp_span__set_name(s, p->name, strlen(p->name));
	if (p->res) {
		sp_span__set_int(s, "process.pid", p->pid);
		sp_span__set_str(s, "process.executable.path", p->res->exe_path,
				 strlen(p->res->exe_path));
		sp_span__set_str(s, "process.command_line", p->res->command_line,
				 strlen(p->res->command_line));
	}
	if (p->parent_span_pid)
		sp_span__set_int(s, "process.parent_pid", p->parent_span_pid);
	if (p->exited) {
		int st = p->exit_status;
		int code = sp_wait_code(st);

		sp_span__set_int(s, "process.exit.code", code);
		if (code) {
			char msg[48];

			if (WIFSIGNALED(st))
				snprintf(msg, sizeof(msg), "killed by signal %d", WTERMSIG(st));
			else
				snprintf(msg, sizeof(msg), "exit code %d", code);
			sp_span__set_status(s, SP_STATUS_ERROR, msg);
		}
	}
	if (p->parent_span_pid && procs) {
		parent = sp_procs__get(procs, p->parent_span_pid);
		if (parent && parent->open_children) {
			parent->open_children--;
			parent->last_activity_ns = end;
		}
	}
	sp_span_asm__finish(a, s);
}

void sp_span_asm__target(struct sp_span_asm *a, struct sp_proc *p, uint64_t ts)
{
	p->target = true;
	if (!p->span)
		open_proc_span(a, p, NULL, ts);
}

void sp_span_asm__fork(struct sp_span_asm *a, struct sp_proc *parent, struct sp_proc *child,
		       uint64_t ts)
{
	if (parent && parent->span && !child->span)
		open_proc_span(a, child, parent, ts);
}

void sp_span_asm__exec(struct sp_span_asm *a, struct sp_proc *p, uint64_t ts)
{
	struct sp_span *s = p->span;

	if (!s)
		return;
	/* the span takes the new image's name and resource */
	sp_resource__put(s->res);
	s->res = sp_resource__get(p->res);
	sp_span__set_name(s, p->name, strlen(p->name));
	p->last_activity_ns = ts;
}

void sp_span_asm__exit(struct sp_span_asm *a, struct sp_procs *procs, struct sp_proc *p,
		       uint64_t ts)
{
	close_proc_span(a, procs, p, ts);
}

void sp_span_asm__evict(struct sp_span_asm *a, struct sp_proc *p)
{
	/* no procs: the parent may be the one being evicted */
	close_proc_span(a, NULL, p, p->last_activity_ns);
}

struct sp_span *sp_span_asm__child_of(struct sp_span_asm *a, const struct sp_span *parent,
				      const char *name, enum sp_span_kind kind)
{
	struct sp_span *s = span_get(a);

	if (!s)
		return NULL;
	sp_span__init(s, name, strlen(name), kind, parent->res);
	memcpy(s->trace_id, parent->trace_id, sizeof(s->trace_id));
	memcpy(s->parent_id, parent->span_id, sizeof(s->parent_id));
	s->start_ns = parent->start_ns;
	s->end_ns = parent->end_ns;
	return s;
}

struct sp_span *sp_span_asm__child(struct sp_span_asm *a, struct sp_procs *procs,
				   struct sp_proc *p, const char *name, enum sp_span_kind kind,
				   uint64_t start, uint64_t end)
{
	struct sp_span *s, *parent_span = p->span;

	if (!parent_span) {
		/* first activity: under the parent process's span if it has
		 * one (it started before us), else a trace of our own */
		struct sp_proc *parent = p->ppid ? sp_procs__get(procs, p->ppid) : NULL;

		parent_span = open_proc_span(a, p, parent && parent->span ? parent : NULL, start);
		if (!parent_span)
			return NULL;
	}
	s = sp_span_asm__child_of(a, parent_span, name, kind);
	if (!s)
		return NULL;
	s->start_ns = sp_clock_to_unix(start);
	s->end_ns = sp_clock_to_unix(end);
	if (end > p->last_activity_ns)
		p->last_activity_ns = end;
	/* a root that started late (pre-existing process) covers its child */
	if (parent_span->start_ns > s->start_ns)
		parent_span->start_ns = s->start_ns;
	return s;
}

void sp_span_asm__tick(struct sp_span_asm *a, struct sp_procs *procs, uint64_t now,
		       sp_busy_fn busy, void *busy_ctx)
{
	struct sp_proc *p;
	uint32_t it = 0;

	if (a->o.trace_idle_ns) {
		while ((p = sp_procs__next(procs, &it))) {
			if (!p->span || p->parent_span_pid || p->open_children)
				continue;
			if (now - p->last_activity_ns < a->o.trace_idle_ns)
				continue;
			/* a 40 s LLM call is not idleness */
			if (busy && busy(busy_ctx, p->pid)) {
				p->last_activity_ns = now;
				continue;
			}
			sp_span__set_str(p->span, "spanprobe.trace.end", "idle", 4);
			a->stats.traces_split++;
			close_proc_span(a, procs, p, p->last_activity_ns);
		}
	}
	if (now - a->last_flush >= a->o.flush_interval_ns) {
		flush_batch(a);
		a->last_flush = now;
	}
}

void sp_span_asm__shutdown(struct sp_span_asm *a, struct sp_procs *procs, uint64_t now)
{
	struct sp_proc *p;
	uint32_t it = 0;
	bool more = true;

	/* children first, so parents can see them close */
	while (more) {
		more = false;
		it = 0;
		while ((p = sp_procs__next(procs, &it))) {
			if (!p->span || p->open_children)
				continue;
			sp_span__set_bool(p->span, "spanprobe.span.unfinished", true);
			close_proc_span(a, procs, p, now);
			more = true;
		}
	}
	/* anything left is a cycle of stale counts: close as is */
	it = 0;
	while ((p = sp_procs__next(procs, &it)))
		if (p->span)
			close_proc_span(a, procs, p, now);
	flush_batch(a);
	for (int i = 0; i < a->nsinks; i++)
		a->sinks[i]->flush(a->sinks[i]);
}
