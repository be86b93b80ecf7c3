// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "util/clock.h"
#include "util/log.h"
#include "util/procfs.h"
#include "util/table.h"
#include "model/span_pool.h"
#include "assemble/span_asm.h"

/* What span assembly keeps per process: the span state, not the facts. */
struct asm_proc {
	uint32_t pid;
	bool target;		/* named with -p or launched: always a root */
	struct sp_span *span;	/* open process span, or NULL */
	uint64_t last_activity_ns;
	uint32_t open_children;	/* child process spans under span */
	uint32_t parent_span_pid;	/* pid whose span is our parent, 0 if root */
	/* that span's id: the pid may be a new process's by the time we end */
	uint8_t parent_span_id[8];
};

struct sp_span_asm {
	struct sp_asm_opts o;
	/* by pid: an entry while a process has a span or is a target */
	struct sp_table *procs;
	struct sp_trace_buf *tb;
	/* open and held spans: o.max_spans, o.max_bytes */
	struct sp_span_pool *pool;
	uint64_t now;		/* the latest CLOCK_MONOTONIC time seen */
	struct sp_asm_stats stats;
};

static void close_proc_span(struct sp_span_asm *a, struct asm_proc *e, struct sp_proc *p,
			    uint64_t end);

static void span_put(void *ctx, struct sp_span *s)
{
	struct sp_span_asm *a = ctx;

	sp_span_pool__put(a->pool, s);
}

/* The asm table only outgrows the process table if they disagree: end
 * the span, with the facts it has. */
static void on_proc_full(void *ctx, void *entry)
{
	struct asm_proc *e = entry;

	e->target = false;
	close_proc_span(ctx, e, NULL, e->last_activity_ns);
}

struct sp_span_asm *sp_span_asm__new(const struct sp_asm_opts *opts, uint32_t max_procs)
{
	struct sp_span_asm *a = calloc(1, sizeof(*a));
	struct sp_trace_buf_opts to = {};

	if (!a)
		return NULL;
	a->o = *opts;
	if (!a->o.batch_max)
		a->o.batch_max = 512;
	/* by default, room for a span per process on top, so that open
	 * process spans never leave none for exchanges */
	if (!a->o.max_spans)
		a->o.max_spans = SP_ASM_MAX_SPANS + max_procs;
	if (!a->o.max_bytes)
		a->o.max_bytes = SP_ASM_MAX_BYTES;
	to.max_traces = a->o.max_spans;
	to.max_trace_spans = a->o.max_trace_spans;
	/* the pool bounds what is held: __shed when it runs dry */
	to.max_spans = 0;
	to.max_age_ns = a->o.max_trace_age_ns ? a->o.max_trace_age_ns : SP_ASM_MAX_TRACE_AGE_NS;
	/* no activity for longer than the idle rule waits: nothing will end
	 * the trace's root soon (a silent child runs, or the root was lost) */
	if (a->o.trace_idle_ns)
		to.quiet_ns = a->o.trace_idle_ns + SP_ASM_QUIET_MARGIN_NS;
	to.flush_interval_ns = a->o.flush_interval_ns;
	to.batch_max = a->o.batch_max;
	a->pool = sp_span_pool__new(a->o.max_spans, a->o.max_bytes);
	a->tb = sp_trace_buf__new(&to, span_put, a);
	a->procs = sp_table__new(max_procs ? max_procs : 1, sizeof(struct asm_proc), on_proc_full,
				 a);
	if (!a->pool || !a->tb || !a->procs)
		goto err_out;
	return a;
err_out:
	sp_span_asm__free(a);
	errno = ENOMEM;
	return NULL;
}

void sp_span_asm__free(struct sp_span_asm *a)
{
	struct asm_proc *e;
	uint32_t it = 0;

	if (!a)
		return;
	/* held spans come back through span_put */
	sp_trace_buf__free(a->tb);
	while (a->procs && (e = sp_table__next(a->procs, &it)))
		if (e->span)
			span_put(a, e->span);
	sp_table__free(a->procs);
	sp_span_pool__free(a->pool);
	free(a);
}

int sp_span_asm__add_sink(struct sp_span_asm *a, struct sp_exporter *e)
{
	return sp_trace_buf__add_sink(a->tb, e);
}

int sp_span_asm__add_step(struct sp_span_asm *a, sp_trace_step_fn fn, void *ctx)
{
	return sp_trace_buf__add_step(a->tb, fn, ctx);
}

struct sp_exporter *sp_span_asm__sink(const struct sp_span_asm *a, int i)
{
	return sp_trace_buf__sink(a->tb, i);
}

const struct sp_asm_stats *sp_span_asm__stats(const struct sp_span_asm *a)
{
	return &a->stats;
}

const struct sp_trace_buf_stats *sp_span_asm__trace_stats(const struct sp_span_asm *a)
{
	return sp_trace_buf__stats(a->tb);
}

const struct sp_span_pool_stats *sp_span_asm__pool_stats(const struct sp_span_asm *a)
{
	return sp_span_pool__stats(a->pool);
}

static void seen(struct sp_span_asm *a, uint64_t ts)
{
	if (ts > a->now)
		a->now = ts;
}

static struct sp_span *span_get(struct sp_span_asm *a)
{
	const struct sp_span_pool_stats *ps = sp_span_pool__stats(a->pool);
	struct sp_span *s;

	/* held spans leave before open ones run out of bytes to grow in */
	while (ps->bytes_in_use > a->o.max_bytes / 4 * 3 && sp_trace_buf__shed(a->tb))
		;
	s = sp_span_pool__get(a->pool);

	/* the pool bounds open and held spans together: held ones make room */
	if (!s && sp_trace_buf__shed(a->tb))
		s = sp_span_pool__get(a->pool);
	if (!s)
		a->stats.spans_dropped++;
	return s;
}

static struct asm_proc *proc_get(struct sp_span_asm *a, uint32_t pid)
{
	return sp_table__get(a->procs, pid, 0);
}

static struct asm_proc *proc_get_or_add(struct sp_span_asm *a, uint32_t pid)
{
	struct asm_proc *e = proc_get(a, pid);

	if (!e) {
		e = sp_table__add(a->procs, pid, 0);
		if (e)
			e->pid = pid;
	}
	return e;
}

/* An entry is kept while it has a span, or names a target. */
static void proc_forget(struct sp_span_asm *a, struct asm_proc *e)
{
	if (!e->span && !e->target)
		sp_table__del(a->procs, e);
}

bool sp_span_asm__has_span(struct sp_span_asm *a, uint32_t pid)
{
	struct asm_proc *e = proc_get(a, pid);

	return e && e->span;
}

void sp_span_asm__finish(struct sp_span_asm *a, struct sp_span *s)
{
	if (s->end_ns < s->start_ns)
		s->end_ns = s->start_ns;
	a->stats.spans_finished++;
	sp_trace_buf__add(a->tb, s, a->now);
}

/* Opens p's process span, under parent_pid's span if that has one. */
static struct sp_span *open_proc_span(struct sp_span_asm *a, struct sp_proc *p,
				      uint32_t parent_pid, uint64_t ts)
{
	struct asm_proc *e = proc_get_or_add(a, p->pid), *parent;
	struct sp_span *s;

	if (!e)
		return NULL;
	s = span_get(a);
	if (!s) {
		proc_forget(a, e);
		return NULL;
	}
	/* looked up after the add, which may have made room */
	parent = parent_pid ? proc_get(a, parent_pid) : NULL;
	sp_span__init(s, p->name, strlen(p->name), SP_KIND_INTERNAL, p->res);
	if (parent && parent->span) {
		memcpy(s->trace_id, parent->span->trace_id, sizeof(s->trace_id));
		memcpy(s->parent_id, parent->span->span_id, sizeof(s->parent_id));
		parent->open_children++;
		parent->last_activity_ns = ts;
		e->parent_span_pid = parent_pid;
		memcpy(e->parent_span_id, parent->span->span_id, sizeof(e->parent_span_id));
	} else {
		sp_random_id(s->trace_id, sizeof(s->trace_id));
		e->parent_span_pid = 0;
	}
	s->start_ns = sp_clock_to_unix(ts);
	e->span = s;
	e->last_activity_ns = ts;
	return s;
}

/* Ends e's span at end; p holds the process's facts (NULL: not known).
 * e is forgotten unless it names a target. */
static void close_proc_span(struct sp_span_asm *a, struct asm_proc *e, struct sp_proc *p,
			    uint64_t end)
{
	struct sp_span *s = e->span;
	struct asm_proc *parent;

	if (!s)
		return;
	e->span = NULL;
	s->end_ns = sp_clock_to_unix(end);
	/* process attributes, set last so an exec'd name and resource win */
	if (p) {
		sp_span__set_name(s, p->name, strlen(p->name));
		if (p->res) {
			sp_span__set_int(s, "process.pid", p->pid);
			sp_span__set_str(s, "process.executable.path", p->res->exe_path,
					 strlen(p->res->exe_path));
			sp_span__set_str(s, "process.command_line", p->res->command_line,
					 strlen(p->res->command_line));
		}
	}
	if (e->parent_span_pid)
		sp_span__set_int(s, "process.parent_pid", e->parent_span_pid);
	if (p && p->exited) {
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
	if (e->parent_span_pid) {
		parent = proc_get(a, e->parent_span_pid);
		/* the same span we started under, not a later process's */
		if (parent && parent->span && parent->open_children &&
		    !memcmp(parent->span->span_id, e->parent_span_id, sizeof(e->parent_span_id))) {
			parent->open_children--;
			parent->last_activity_ns = end;
		}
	}
	proc_forget(a, e);
	sp_span_asm__finish(a, s);
}

void sp_span_asm__target(struct sp_span_asm *a, struct sp_proc *p, uint64_t ts)
{
	struct asm_proc *e = proc_get_or_add(a, p->pid);

	seen(a, ts);
	if (!e)
		return;
	e->target = true;
	if (!e->span)
		open_proc_span(a, p, 0, ts);
}

void sp_span_asm__fork(struct sp_span_asm *a, struct sp_proc *parent, struct sp_proc *child,
		       uint64_t ts)
{
	seen(a, ts);
	if (parent && sp_span_asm__has_span(a, parent->pid) && !sp_span_asm__has_span(a, child->pid))
		open_proc_span(a, child, parent->pid, ts);
}

void sp_span_asm__exec(struct sp_span_asm *a, struct sp_proc *p, uint64_t ts)
{
	struct asm_proc *e = proc_get(a, p->pid);
	struct sp_span *s = e ? e->span : NULL;

	seen(a, ts);
	if (!s)
		return;
	/* the span takes the new image's name and resource */
	sp_resource__put(s->res);
	s->res = sp_resource__get(p->res);
	sp_span__set_name(s, p->name, strlen(p->name));
	e->last_activity_ns = ts;
}

/* The process is gone: end its span and forget it, target or not. */
static void proc_gone(struct sp_span_asm *a, struct sp_proc *p, uint64_t *end)
{
	struct asm_proc *e = proc_get(a, p->pid);

	if (!e)
		return;
	e->target = false;
	if (e->span)
		close_proc_span(a, e, p, end ? *end : e->last_activity_ns);
	else
		proc_forget(a, e);
}

void sp_span_asm__exit(struct sp_span_asm *a, struct sp_procs *procs, struct sp_proc *p,
		       uint64_t ts)
{
	seen(a, ts);
	proc_gone(a, p, &ts);
}

void sp_span_asm__evict(struct sp_span_asm *a, struct sp_proc *p)
{
	/* ends at its last activity: we stop knowing it, it did not exit */
	proc_gone(a, p, NULL);
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
	struct asm_proc *e = proc_get(a, p->pid);
	struct sp_span *s, *parent_span = e ? e->span : NULL;

	seen(a, end);
	if (!parent_span) {
		/* first activity: under the parent process's span if it has
		 * one (it started before us), else a trace of our own; a
		 * target is always a root */
		uint32_t ppid = p->ppid;

		if ((e && e->target) || !sp_span_asm__has_span(a, ppid))
			ppid = 0;
		parent_span = open_proc_span(a, p, ppid, start);
		if (!parent_span)
			return NULL;
		e = proc_get(a, p->pid);
	}
	s = sp_span_asm__child_of(a, parent_span, name, kind);
	if (!s)
		return NULL;
	s->start_ns = sp_clock_to_unix(start);
	s->end_ns = sp_clock_to_unix(end);
	if (end > e->last_activity_ns)
		e->last_activity_ns = end;
	/* a root that started late (pre-existing process) covers its child */
	if (parent_span->start_ns > s->start_ns)
		parent_span->start_ns = s->start_ns;
	return s;
}

void sp_span_asm__tick(struct sp_span_asm *a, struct sp_procs *procs, uint64_t now,
		       sp_busy_fn busy, void *busy_ctx)
{
	struct asm_proc *e;
	uint32_t it = 0;

	seen(a, now);
	while (a->o.trace_idle_ns && (e = sp_table__next(a->procs, &it))) {
		if (!e->span || e->parent_span_pid || e->open_children)
			continue;
		if (now < e->last_activity_ns || now - e->last_activity_ns < a->o.trace_idle_ns)
			continue;
		/* a 40 s LLM call is not idleness, for the trace buffer either */
		if (busy && busy(busy_ctx, e->pid)) {
			e->last_activity_ns = now;
			sp_trace_buf__touch(a->tb, e->span->trace_id, now);
			continue;
		}
		sp_span__set_str(e->span, "spanprobe.trace.end", "idle", 4);
		a->stats.traces_split++;
		close_proc_span(a, e, sp_procs__get(procs, e->pid), e->last_activity_ns);
	}
	sp_trace_buf__tick(a->tb, now);
	/* an idle pool gives a burst's memory back too */
	sp_span_pool__tick(a->pool);
}

void sp_span_asm__shutdown(struct sp_span_asm *a, struct sp_procs *procs, uint64_t now)
{
	struct asm_proc *e;
	uint32_t it;
	bool more = true;

	seen(a, now);
	/* children first, so parents can see them close */
	while (more) {
		more = false;
		it = 0;
		while ((e = sp_table__next(a->procs, &it))) {
			if (!e->span || e->open_children)
				continue;
			sp_span__set_bool(e->span, "spanprobe.span.unfinished", true);
			close_proc_span(a, e, sp_procs__get(procs, e->pid), now);
			more = true;
		}
	}
	/* anything left is a cycle of stale counts: close as is */
	it = 0;
	while ((e = sp_table__next(a->procs, &it)))
		if (e->span)
			close_proc_span(a, e, sp_procs__get(procs, e->pid), now);
	sp_trace_buf__flush_all(a->tb);
}
