// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "assemble/func_span.h"
#include "assemble/span_asm.h"
#include "model/procs.h"
#include "util/table.h"

/* One open call: its span id is drawn here, at entry. */
struct frame {
	uint64_t sp;		/* stack pointer at entry: pairs the return */
	uint64_t start;		/* entry, CLOCK_MONOTONIC */
	uint64_t args[2];
	uint8_t span_id[8];
	uint16_t probe;
};

/* A thread with calls open; deleted when its last one returns. */
struct func_thread {
	uint32_t tid, tgid;
	uint32_t n;		/* open calls in f[] */
	uint32_t too_deep;	/* entries past the bound whose returns are due */
	/* Where the outermost call hangs, fixed by the stack's first span:
	 * later spans of the stack stay in that trace even if the process's
	 * span changes before the outermost call returns. */
	bool rooted;
	uint8_t trace_id[16];
	uint8_t parent_id[8];
	struct frame f[SP_FUNC_DEPTH];
};

struct sp_func_spans {
	struct sp_span_asm *asm_;
	struct sp_procs *procs;
	/* both NULL until the first definition: no cost without probes */
	struct sp_func_def *defs;	/* SP_FUNC_MAX_PROBES, by probe id */
	struct sp_table *threads;	/* by tid */
	uint32_t nthreads;		/* entries in threads */
	uint64_t now;			/* the latest record time */
	bool defined[SP_FUNC_MAX_PROBES];
	struct sp_func_stats stats;
};

static void unwind(struct sp_func_spans *f, struct func_thread *t, uint32_t depth, uint64_t ts);

static void on_thread_evict(void *ctx, void *entry)
{
	struct sp_func_spans *f = ctx;
	struct func_thread *t = entry;

	f->stats.thread_evictions++;
	unwind(f, t, 0, f->now);
	f->nthreads--;
}

struct sp_func_spans *sp_func_spans__new(struct sp_span_asm *asm_, struct sp_procs *procs)
{
	struct sp_func_spans *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->asm_ = asm_;
	f->procs = procs;
	return f;
}

void sp_func_spans__free(struct sp_func_spans *f)
{
	if (!f)
		return;
	sp_table__free(f->threads);
	free(f->defs);
	free(f);
}

const struct sp_func_stats *sp_func_spans__stats(const struct sp_func_spans *f)
{
	return &f->stats;
}

/*
 * A span of thread t (NULL: a thread with no calls open) at call depth
 * depth, from start to end: a child of the call at depth - 1, or at depth
 * 0 of the process's span. NULL if there is no room (counted).
 */
static struct sp_span *thread_span(struct sp_func_spans *f, struct func_thread *t, uint32_t tgid,
				   uint32_t depth, const char *name, uint64_t start, uint64_t end)
{
	struct sp_proc *p = sp_procs__get_or_add(f->procs, tgid, 0, start);
	struct sp_span *s;

	if (!p) {
		f->stats.no_span++;
		return NULL;
	}
	sp_procs__ensure(f->procs, p);
	s = sp_span_asm__child(f->asm_, f->procs, p, name, SP_KIND_INTERNAL, start, end);
	if (!s) {
		f->stats.no_span++;
		return NULL;
	}
	if (!t)
		return s;
	if (!t->rooted) {
		memcpy(t->trace_id, s->trace_id, sizeof(t->trace_id));
		memcpy(t->parent_id, s->parent_id, sizeof(t->parent_id));
		t->rooted = true;
	} else {
		memcpy(s->trace_id, t->trace_id, sizeof(s->trace_id));
	}
	memcpy(s->parent_id, depth ? t->f[depth - 1].span_id : t->parent_id, sizeof(s->parent_id));
	return s;
}

static void set_cstr(struct sp_span *s, const char *key, const char *v)
{
	sp_span__set_str(s, key, v, strlen(v));
}

/* The span of t's call at depth k, ending at end: returned (ret), or
 * left without a return (ret NULL). */
static void end_frame(struct sp_func_spans *f, struct func_thread *t, uint32_t k, uint64_t end,
		      const struct sp_func_event *ret)
{
	const struct frame *fr = &t->f[k];
	const struct sp_func_def *d = &f->defs[fr->probe];
	struct sp_span *s = thread_span(f, t, t->tgid, k, d->name, fr->start, end);

	if (!s)
		return;
	memcpy(s->span_id, fr->span_id, sizeof(s->span_id));
	set_cstr(s, "code.function.name", d->symbol);
	set_cstr(s, "spanprobe.probe.binary", d->binary);
	sp_span__set_int(s, "thread.id", t->tid);
	sp_span__set_int(s, "spanprobe.probe.arg0", (int64_t)fr->args[0]);
	sp_span__set_int(s, "spanprobe.probe.arg1", (int64_t)fr->args[1]);
	if (ret) {
		sp_span__set_int(s, "spanprobe.probe.return_value", ret->ret);
		f->stats.calls++;
	} else {
		sp_span__set_bool(s, "spanprobe.span.unfinished", true);
		f->stats.unfinished++;
	}
	sp_span_asm__finish(f->asm_, s);
}

/* Ends t's calls deeper than depth at ts, innermost first: they left
 * without their return. */
static void unwind(struct sp_func_spans *f, struct func_thread *t, uint32_t depth, uint64_t ts)
{
	while (t->n > depth) {
		t->n--;
		end_frame(f, t, t->n, ts, NULL);
	}
	t->too_deep = 0;
}

static void thread_del(struct sp_func_spans *f, struct func_thread *t)
{
	sp_table__del(f->threads, t);
	f->nthreads--;
}

/* tid's entry (for tgid), created when add is set; NULL if it has none. */
static struct func_thread *thread_get(struct sp_func_spans *f, uint32_t tid, uint32_t tgid,
				      uint64_t ts, bool add)
{
	struct func_thread *t = sp_table__get(f->threads, tid, 0);

	if (t && t->tgid != tgid) {
		/* the tid is another process's now (we missed the old one's
		 * exit): that one's calls are over */
		unwind(f, t, 0, ts);
		thread_del(f, t);
		t = NULL;
	}
	if (!t && add) {
		t = sp_table__add(f->threads, tid, 0);
		if (t) {
			t->tid = tid;
			t->tgid = tgid;
			f->nthreads++;
		}
	}
	return t;
}

static void on_entry(struct sp_func_spans *f, const struct sp_func_event *ev)
{
	struct func_thread *t = thread_get(f, ev->tid, ev->tgid, ev->ts, true);
	struct frame *fr;

	if (!t)
		return;
	/*
	 * Open calls deeper in the stack than this entry are over: they left
	 * without their return (longjmp, an exception); so is one at this
	 * very depth, unless this entry is a tail call from it (`jmp`, at
	 * -O2), when both returns come, this one first. The kernel drops the
	 * same return instances (prepare_uretprobe), so none of these
	 * returns can still come.
	 */
	while (t->n) {
		const struct frame *top = &t->f[t->n - 1];

		if (top->sp > ev->sp || (top->sp == ev->sp && (ev->flags & SP_FUNC_F_TAIL)))
			break;
		unwind(f, t, t->n - 1, ev->ts);
	}
	if (t->n == SP_FUNC_DEPTH) {
		f->stats.too_deep++;
		t->too_deep++;
		return;
	}
	fr = &t->f[t->n++];
	fr->sp = ev->sp;
	fr->start = ev->ts;
	fr->probe = ev->probe;
	fr->args[0] = ev->args[0];
	fr->args[1] = ev->args[1];
	sp_random_id(fr->span_id, sizeof(fr->span_id));
}

static void on_return(struct sp_func_spans *f, const struct sp_func_event *ev)
{
	struct func_thread *t = thread_get(f, ev->tid, ev->tgid, ev->ts, false);
	uint32_t k = t ? t->n : 0;

	/* the stack is ordered: past a frame above ev's sp, no match */
	while (k && t->f[k - 1].sp <= ev->sp &&
	       (t->f[k - 1].sp != ev->sp || t->f[k - 1].probe != ev->probe))
		k--;
	if (!k || t->f[k - 1].sp != ev->sp) {
		if (t && t->too_deep)
			t->too_deep--;	/* a call past the bound */
		else
			f->stats.unmatched++;
		return;
	}
	k--;
	unwind(f, t, k + 1, ev->ts);
	end_frame(f, t, k, ev->ts, ev);
	t->n = k;
	if (!t->n)
		thread_del(f, t);
}

static void on_usdt(struct sp_func_spans *f, const struct sp_func_event *ev)
{
	struct func_thread *t = thread_get(f, ev->tid, ev->tgid, ev->ts, false);
	const struct sp_func_def *d = &f->defs[ev->probe];
	uint32_t nargs = ev->nargs < SP_FUNC_ARGS ? ev->nargs : SP_FUNC_ARGS;
	static const char *const arg_keys[SP_FUNC_ARGS] = {
		"spanprobe.usdt.arg0", "spanprobe.usdt.arg1",
		"spanprobe.usdt.arg2", "spanprobe.usdt.arg3",
	};
	struct sp_span *s;

	/* open calls that began below the probe's stack pointer are over */
	if (t) {
		while (t->n && t->f[t->n - 1].sp < ev->sp)
			unwind(f, t, t->n - 1, ev->ts);
		if (!t->n) {
			thread_del(f, t);
			t = NULL;
		}
	}
	s = thread_span(f, t, ev->tgid, t ? t->n : 0, d->name, ev->ts, ev->ts);
	if (!s)
		return;
	set_cstr(s, "spanprobe.usdt.provider", d->symbol);
	set_cstr(s, "spanprobe.usdt.name", d->usdt_name);
	set_cstr(s, "spanprobe.probe.binary", d->binary);
	sp_span__set_int(s, "thread.id", ev->tid);
	sp_span__set_int(s, "spanprobe.usdt.args_count", ev->nargs);
	for (uint32_t i = 0; i < nargs; i++)
		sp_span__set_int(s, arg_keys[i], (int64_t)ev->args[i]);
	f->stats.usdt_hits++;
	sp_span_asm__finish(f->asm_, s);
}

/* The strings of a definition, cut and NUL-terminated whatever it held. */
static void copy_field(char *dst, const char *src, size_t cap)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = 0;
}

static int define(struct sp_func_spans *f, const struct sp_func_def *d)
{
	struct sp_func_def *to;

	if (!f->defs) {
		f->defs = calloc(SP_FUNC_MAX_PROBES, sizeof(*f->defs));
		f->threads = sp_table__new(SP_FUNC_MAX_THREADS, sizeof(struct func_thread),
					   on_thread_evict, f);
		if (!f->defs || !f->threads) {
			free(f->defs);
			sp_table__free(f->threads);
			f->defs = NULL;
			f->threads = NULL;
			return -ENOMEM;
		}
	}
	to = &f->defs[d->hdr.probe];
	to->hdr = d->hdr;
	copy_field(to->name, d->name, sizeof(to->name));
	copy_field(to->symbol, d->symbol, sizeof(to->symbol));
	copy_field(to->usdt_name, d->usdt_name, sizeof(to->usdt_name));
	copy_field(to->binary, d->binary, sizeof(to->binary));
	f->defined[d->hdr.probe] = true;
	return 0;
}

int sp_func_spans__handle(struct sp_func_spans *f, const void *rec, size_t size)
{
	struct sp_func_event ev;

	if (size < sizeof(ev))
		return -EINVAL;
	memcpy(&ev, rec, sizeof(ev));
	if (ev.probe >= SP_FUNC_MAX_PROBES)
		return -EINVAL;
	if (ev.what == SP_FUNC_DEFINE) {
		if (size < sizeof(struct sp_func_def))
			return -EINVAL;
		return define(f, rec);
	}
	if (!f->defined[ev.probe]) {
		f->stats.unknown_probe++;
		return 0;
	}
	if (ev.ts > f->now)
		f->now = ev.ts;
	switch (ev.what) {
	case SP_FUNC_ENTRY:
		on_entry(f, &ev);
		return 0;
	case SP_FUNC_RETURN:
		on_return(f, &ev);
		return 0;
	case SP_FUNC_USDT:
		on_usdt(f, &ev);
		return 0;
	}
	return -EINVAL;
}

/* Ends the open calls of every thread of tgid (0: of all) at ts. */
static void end_threads(struct sp_func_spans *f, uint32_t tgid, uint64_t ts)
{
	struct func_thread *t;
	uint32_t it = 0;

	if (!f->nthreads)
		return;
	while ((t = sp_table__next(f->threads, &it))) {
		if (tgid && t->tgid != tgid)
			continue;
		unwind(f, t, 0, ts);
		thread_del(f, t);
	}
}

void sp_func_spans__proc_exit(struct sp_func_spans *f, uint32_t tgid, uint64_t ts)
{
	end_threads(f, tgid, ts);
}

void sp_func_spans__end_all(struct sp_func_spans *f, uint64_t now)
{
	end_threads(f, 0, now);
}
