// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The trace buffer on its own: spans made by hand, a sink that records
 * every export() call, a pool that counts what comes back.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "assemble/trace_buf.h"

#define POOL 32
#define SEC 1000000000ull

static struct sp_span *pool[POOL];
static int npool_out, nput;

/* what one export() call held */
struct call {
	int n;
	uint8_t trace[POOL];	/* trace_id[0] of each span */
	char name[POOL][16];
	bool partial[POOL];
	int64_t mark[POOL];	/* "test.step" set by a step, -1 if none */
};

static struct call calls[POOL];
static int ncalls, nflush;

static int rec_export(struct sp_exporter *e, struct sp_span *const *spans, size_t n)
{
	struct call *c = &calls[ncalls++];

	assert_true(ncalls <= POOL);
	c->n = n;
	for (size_t i = 0; i < n; i++) {
		const struct sp_attr *a = sp_span__attr(spans[i], "test.step");

		c->trace[i] = spans[i]->trace_id[0];
		snprintf(c->name[i], sizeof(c->name[i]), "%s", spans[i]->name);
		c->partial[i] = spans[i]->trace_partial;
		c->mark[i] = a ? a->i : -1;
	}
	return 0;
}

static int rec_flush(struct sp_exporter *e)
{
	nflush++;
	return 0;
}

static void rec_free(struct sp_exporter *e)
{
	free(e);
}

static void put(void *ctx, struct sp_span *s)
{
	for (int i = 0; i < POOL; i++) {
		if (pool[i] == s) {
			sp_span__free(s);
			pool[i] = NULL;
			nput++;
			npool_out--;
			return;
		}
	}
	fail_msg("put a span that is not out");
}

/* A span of trace t ("t" in trace_id[0]); parent 0: the root. */
static struct sp_span *mk(uint8_t t, const char *name, uint8_t parent)
{
	for (int i = 0; i < POOL; i++) {
		if (pool[i])
			continue;
		pool[i] = sp_span__alloc();
		assert_non_null(pool[i]);
		sp_span__init(pool[i], name, strlen(name), SP_KIND_INTERNAL, NULL);
		memset(pool[i]->trace_id, 0, 16);
		pool[i]->trace_id[0] = t;
		pool[i]->trace_id[15] = 0x5a;
		pool[i]->parent_id[0] = parent;
		npool_out++;
		return pool[i];
	}
	fail_msg("test pool empty");
	return NULL;
}

static struct sp_trace_buf *new_buf(struct sp_trace_buf_opts o)
{
	struct sp_exporter *e = calloc(1, sizeof(*e));
	struct sp_trace_buf *b;

	if (!o.flush_interval_ns)
		o.flush_interval_ns = 1 * SEC;
	b = sp_trace_buf__new(&o, put, NULL);
	assert_non_null(b);
	e->name = "rec";
	e->export = rec_export;
	e->flush = rec_flush;
	e->free = rec_free;
	assert_int_equal(sp_trace_buf__add_sink(b, e), 0);
	ncalls = nflush = nput = 0;
	memset(calls, 0, sizeof(calls));
	return b;
}

static void done(struct sp_trace_buf *b)
{
	sp_trace_buf__free(b);
	assert_int_equal(npool_out, 0);
}

/* Children end first; nothing leaves until the root does, then all of
 * it in one export() call. */
static void test_children_wait_for_root(void **state)
{
	struct sp_trace_buf *b = new_buf((struct sp_trace_buf_opts){});

	sp_trace_buf__add(b, mk(1, "http1", 9), 1 * SEC);
	sp_trace_buf__add(b, mk(1, "http2", 9), 2 * SEC);
	sp_trace_buf__add(b, mk(1, "child", 9), 3 * SEC);
	sp_trace_buf__tick(b, 10 * SEC);	/* the batch interval passed */
	assert_int_equal(ncalls, 0);
	assert_int_equal(sp_trace_buf__stats(b)->spans_held, 3);
	sp_trace_buf__add(b, mk(1, "root", 0), 11 * SEC);
	assert_int_equal(ncalls, 0);	/* waits for the batch */
	sp_trace_buf__tick(b, 12 * SEC);
	assert_int_equal(ncalls, 1);
	assert_int_equal(calls[0].n, 4);
	assert_string_equal(calls[0].name[0], "http1");
	assert_string_equal(calls[0].name[3], "root");
	for (int i = 0; i < 4; i++)
		assert_false(calls[0].partial[i]);
	assert_int_equal(sp_trace_buf__stats(b)->traces_completed, 1);
	assert_int_equal(sp_trace_buf__stats(b)->spans_held, 0);
	assert_int_equal(sp_trace_buf__stats(b)->spans_held_max, 4);
	assert_int_equal(nput, 4);	/* back to the pool after export */
	done(b);
}

/* Two traces whose spans interleave leave as two contiguous groups. */
static void test_interleaved_traces_contiguous(void **state)
{
	struct sp_trace_buf *b = new_buf((struct sp_trace_buf_opts){});

	sp_trace_buf__add(b, mk(1, "a1", 9), 1);
	sp_trace_buf__add(b, mk(2, "b1", 9), 2);
	sp_trace_buf__add(b, mk(1, "a2", 9), 3);
	sp_trace_buf__add(b, mk(2, "b2", 9), 4);
	sp_trace_buf__add(b, mk(2, "broot", 0), 5);
	sp_trace_buf__add(b, mk(1, "aroot", 0), 6);
	sp_trace_buf__flush_all(b);
	assert_int_equal(ncalls, 1);
	assert_int_equal(calls[0].n, 6);
	/* b completed first: its group comes first */
	for (int i = 0; i < 3; i++)
		assert_int_equal(calls[0].trace[i], 2);
	for (int i = 3; i < 6; i++)
		assert_int_equal(calls[0].trace[i], 1);
	assert_string_equal(calls[0].name[2], "broot");
	assert_string_equal(calls[0].name[5], "aroot");
	assert_int_equal(sp_trace_buf__stats(b)->traces_completed, 2);
	assert_int_equal(nflush, 1);
	done(b);
}

/* A group never straddles two batches; one bigger than a batch goes
 * alone. */
static void test_batches_hold_whole_groups(void **state)
{
	struct sp_trace_buf *b = new_buf((struct sp_trace_buf_opts){ .batch_max = 4 });

	sp_trace_buf__add(b, mk(1, "a1", 9), 1);
	sp_trace_buf__add(b, mk(1, "a2", 9), 1);
	sp_trace_buf__add(b, mk(1, "aroot", 0), 1);	/* 3 in the batch */
	sp_trace_buf__add(b, mk(2, "b1", 9), 1);
	sp_trace_buf__add(b, mk(2, "broot", 0), 1);	/* 3 + 2 > 4: a goes first */
	assert_int_equal(ncalls, 1);
	assert_int_equal(calls[0].n, 3);
	for (int i = 0; i < 6; i++)
		sp_trace_buf__add(b, mk(3, "c", 9), 1);
	sp_trace_buf__add(b, mk(3, "croot", 0), 1);	/* 7 > 4: b, then c alone */
	assert_int_equal(ncalls, 3);
	assert_int_equal(calls[1].n, 2);
	assert_int_equal(calls[1].trace[0], 2);
	assert_int_equal(calls[2].n, 7);
	for (int i = 0; i < 7; i++)
		assert_int_equal(calls[2].trace[i], 3);
	assert_int_equal(sp_trace_buf__stats(b)->batches, 3);
	sp_trace_buf__flush_all(b);
	assert_int_equal(ncalls, 3);	/* nothing was left */
	done(b);
}

/* A trace at max_trace_spans leaves early, marked partial, and so does
 * the rest of it, root included. */
static void test_trace_span_bound(void **state)
{
	struct sp_trace_buf *b = new_buf((struct sp_trace_buf_opts){ .max_trace_spans = 3 });

	sp_trace_buf__add(b, mk(1, "a1", 9), 1);
	sp_trace_buf__add(b, mk(1, "a2", 9), 1);
	sp_trace_buf__add(b, mk(2, "other", 9), 1);
	assert_int_equal(sp_trace_buf__stats(b)->flushed_trace_spans, 0);
	sp_trace_buf__add(b, mk(1, "a3", 9), 1);
	assert_int_equal(sp_trace_buf__stats(b)->flushed_trace_spans, 1);
	assert_int_equal(sp_trace_buf__stats(b)->spans_held, 1);	/* "other" */
	sp_trace_buf__add(b, mk(1, "a4", 9), 1);
	sp_trace_buf__add(b, mk(1, "aroot", 0), 1);
	sp_trace_buf__add(b, mk(2, "oroot", 0), 1);
	sp_trace_buf__flush_all(b);
	assert_int_equal(ncalls, 1);
	assert_int_equal(calls[0].n, 7);
	/* the early group, the rest of trace 1, then trace 2 whole */
	assert_string_equal(calls[0].name[0], "a1");
	assert_string_equal(calls[0].name[2], "a3");
	assert_string_equal(calls[0].name[3], "a4");
	assert_string_equal(calls[0].name[4], "aroot");
	for (int i = 0; i < 5; i++)
		assert_true(calls[0].partial[i]);
	assert_false(calls[0].partial[5]);
	assert_false(calls[0].partial[6]);
	assert_int_equal(sp_trace_buf__stats(b)->traces_completed, 2);
	assert_int_equal(sp_trace_buf__stats(b)->flushed_shutdown, 0);
	done(b);
}

/* No root end within max_age_ns of a trace's oldest span: it leaves,
 * however active it is. */
static void test_age_bound(void **state)
{
	struct sp_trace_buf *b = new_buf((struct sp_trace_buf_opts){ .max_age_ns = 10 * SEC });

	sp_trace_buf__add(b, mk(1, "a1", 9), 100 * SEC);
	sp_trace_buf__add(b, mk(2, "b1", 9), 105 * SEC);
	sp_trace_buf__add(b, mk(1, "a2", 9), 108 * SEC);
	sp_trace_buf__touch(b, (uint8_t[16]){ 1, [15] = 0x5a }, 109 * SEC);
	sp_trace_buf__tick(b, 109 * SEC);
	assert_int_equal(ncalls, 0);
	sp_trace_buf__tick(b, 110 * SEC);
	assert_int_equal(ncalls, 1);
	assert_int_equal(calls[0].n, 2);
	assert_int_equal(calls[0].trace[0], 1);
	assert_true(calls[0].partial[0] && calls[0].partial[1]);
	assert_int_equal(sp_trace_buf__stats(b)->flushed_age, 1);
	/* the age of trace 1's next span counts from its arrival */
	sp_trace_buf__add(b, mk(1, "a3", 9), 111 * SEC);
	sp_trace_buf__tick(b, 115 * SEC);
	assert_int_equal(ncalls, 2);
	assert_int_equal(calls[1].n, 1);
	assert_int_equal(calls[1].trace[0], 2);
	assert_int_equal(sp_trace_buf__stats(b)->flushed_age, 2);
	assert_int_equal(sp_trace_buf__stats(b)->spans_held, 1);
	sp_trace_buf__tick(b, 121 * SEC);
	assert_int_equal(ncalls, 3);
	assert_string_equal(calls[2].name[0], "a3");
	assert_true(calls[2].partial[0]);
	assert_int_equal(sp_trace_buf__stats(b)->flushed_age, 3);
	done(b);
}

/* No activity for quiet_ns: the trace leaves; activity (a span, or a
 * touch) restarts the clock. */
static void test_quiet_bound(void **state)
{
	struct sp_trace_buf *b = new_buf((struct sp_trace_buf_opts){ .quiet_ns = 3 * SEC });
	uint8_t id1[16] = { 1, [15] = 0x5a };

	sp_trace_buf__add(b, mk(1, "a1", 9), 10 * SEC);
	sp_trace_buf__add(b, mk(1, "a2", 9), 12 * SEC);
	sp_trace_buf__tick(b, 14 * SEC);
	assert_int_equal(ncalls, 0);
	sp_trace_buf__touch(b, id1, 14 * SEC);
	sp_trace_buf__tick(b, 16 * SEC);
	assert_int_equal(ncalls, 0);
	sp_trace_buf__tick(b, 17 * SEC);
	assert_int_equal(ncalls, 1);
	assert_int_equal(calls[0].n, 2);
	assert_true(calls[0].partial[0]);
	assert_int_equal(sp_trace_buf__stats(b)->flushed_quiet, 1);
	assert_int_equal(sp_trace_buf__stats(b)->flushed_age, 0);
	done(b);
}

/* Past max_spans held in all, the least recently active trace leaves. */
static void test_total_bound(void **state)
{
	struct sp_trace_buf *b = new_buf((struct sp_trace_buf_opts){ .max_spans = 4 });

	sp_trace_buf__add(b, mk(1, "a1", 9), 1);
	sp_trace_buf__add(b, mk(2, "b1", 9), 2);
	sp_trace_buf__add(b, mk(1, "a2", 9), 3);
	sp_trace_buf__add(b, mk(2, "b2", 9), 4);	/* b is now the most recent */
	sp_trace_buf__add(b, mk(3, "c1", 9), 5);	/* 5 > 4: a leaves */
	assert_int_equal(sp_trace_buf__stats(b)->flushed_total, 1);
	assert_int_equal(sp_trace_buf__stats(b)->spans_held, 3);
	assert_int_equal(sp_trace_buf__stats(b)->spans_held_max, 5);
	sp_trace_buf__flush_all(b);
	assert_int_equal(calls[0].n, 5);
	assert_string_equal(calls[0].name[0], "a1");
	assert_string_equal(calls[0].name[1], "a2");
	for (int i = 0; i < 5; i++)
		assert_true(calls[0].partial[i]);	/* none had a root */
	assert_int_equal(sp_trace_buf__stats(b)->flushed_shutdown, 2);
	done(b);
}

/* The trace table full: the least recently active trace leaves. */
static void test_trace_table_bound(void **state)
{
	struct sp_trace_buf *b = new_buf((struct sp_trace_buf_opts){ .max_traces = 2 });

	sp_trace_buf__add(b, mk(1, "a1", 9), 1);
	sp_trace_buf__add(b, mk(2, "b1", 9), 2);
	sp_trace_buf__add(b, mk(1, "a2", 9), 3);
	sp_trace_buf__add(b, mk(3, "c1", 9), 4);	/* b evicted */
	assert_int_equal(sp_trace_buf__stats(b)->flushed_traces, 1);
	sp_trace_buf__add(b, mk(1, "aroot", 0), 5);
	sp_trace_buf__add(b, mk(3, "croot", 0), 6);
	sp_trace_buf__flush_all(b);
	assert_int_equal(calls[0].n, 6);
	assert_string_equal(calls[0].name[0], "b1");
	assert_true(calls[0].partial[0]);
	for (int i = 1; i < 6; i++)
		assert_false(calls[0].partial[i]);
	assert_int_equal(sp_trace_buf__stats(b)->traces_completed, 2);
	done(b);
}

/* The span pool ran dry: the pending batch goes first, then the least
 * recently active trace. */
static void test_shed(void **state)
{
	struct sp_trace_buf *b = new_buf((struct sp_trace_buf_opts){});

	sp_trace_buf__add(b, mk(1, "a1", 9), 1);
	sp_trace_buf__add(b, mk(1, "aroot", 0), 2);	/* in the batch */
	sp_trace_buf__add(b, mk(2, "b1", 9), 3);
	sp_trace_buf__add(b, mk(2, "b2", 9), 4);
	sp_trace_buf__add(b, mk(3, "c1", 9), 5);
	assert_int_equal(sp_trace_buf__shed(b), 2);
	assert_int_equal(ncalls, 1);
	assert_int_equal(sp_trace_buf__stats(b)->flushed_total, 0);
	assert_int_equal(sp_trace_buf__shed(b), 2);
	assert_int_equal(ncalls, 2);
	assert_int_equal(calls[1].trace[0], 2);
	assert_true(calls[1].partial[0]);
	assert_int_equal(sp_trace_buf__stats(b)->flushed_total, 1);
	assert_int_equal(sp_trace_buf__shed(b), 1);
	assert_int_equal(sp_trace_buf__shed(b), 0);	/* nothing left */
	assert_int_equal(npool_out, 0);
	done(b);
}

/* Freed without a flush: every held span still goes back to the pool. */
static void test_free_returns_spans(void **state)
{
	struct sp_trace_buf *b = new_buf((struct sp_trace_buf_opts){});

	sp_trace_buf__add(b, mk(1, "a1", 9), 1);
	sp_trace_buf__add(b, mk(2, "broot", 0), 1);
	done(b);
	assert_int_equal(ncalls, 0);
	assert_int_equal(nput, 2);
}

struct step_log {
	int calls;
	int n[8];
	bool saw_root[8];
	int order[8];
};

static int step_seq;

static void step_a(void *ctx, struct sp_span **spans, size_t n)
{
	struct step_log *l = ctx;

	l->n[l->calls] = n;
	l->order[l->calls] = step_seq++;
	for (size_t i = 0; i < n; i++) {
		/* one trace per call */
		assert_int_equal(spans[i]->trace_id[0], spans[0]->trace_id[0]);
		if (sp_id_is_zero(spans[i]->parent_id, 8))
			l->saw_root[l->calls] = true;
		sp_span__set_int(spans[i], "test.step", (int64_t)n);
	}
	l->calls++;
}

static void step_b(void *ctx, struct sp_span **spans, size_t n)
{
	struct step_log *l = ctx;

	l->order[l->calls++] = step_seq++;
	/* runs after step_a: sees its work */
	for (size_t i = 0; i < n; i++)
		assert_non_null(sp_span__attr(spans[i], "test.step"));
}

/* Steps see each whole group before the sinks, in order, and may change
 * the spans. */
static void test_enrichment_steps(void **state)
{
	struct sp_trace_buf *b = new_buf((struct sp_trace_buf_opts){});
	struct step_log la = {}, lb = {};

	assert_int_equal(sp_trace_buf__add_step(b, step_a, &la), 0);
	assert_int_equal(sp_trace_buf__add_step(b, step_b, &lb), 0);
	step_seq = 0;
	sp_trace_buf__add(b, mk(1, "a1", 9), 1);
	sp_trace_buf__add(b, mk(2, "b1", 9), 1);
	sp_trace_buf__add(b, mk(1, "a2", 9), 1);
	assert_int_equal(la.calls, 0);	/* nothing until a trace leaves */
	sp_trace_buf__add(b, mk(1, "aroot", 0), 1);
	assert_int_equal(la.calls, 1);
	assert_int_equal(la.n[0], 3);
	assert_true(la.saw_root[0]);
	assert_int_equal(lb.calls, 1);
	assert_true(la.order[0] < lb.order[0]);
	sp_trace_buf__flush_all(b);	/* b leaves at shutdown, rootless */
	assert_int_equal(la.calls, 2);
	assert_int_equal(la.n[1], 1);
	assert_false(la.saw_root[1]);
	assert_int_equal(ncalls, 1);
	assert_int_equal(calls[0].mark[0], 3);	/* the sink sees the change */
	assert_int_equal(calls[0].mark[3], 1);
	done(b);
}

static void test_limits(void **state)
{
	struct sp_trace_buf *b = new_buf((struct sp_trace_buf_opts){});

	for (int i = 0; i < SP_TRACE_BUF_MAX_STEPS; i++)
		assert_int_equal(sp_trace_buf__add_step(b, step_b, NULL), 0);
	assert_int_equal(sp_trace_buf__add_step(b, step_b, NULL), -E2BIG);
	assert_non_null(sp_trace_buf__sink(b, 0));
	assert_null(sp_trace_buf__sink(b, 1));
	done(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_children_wait_for_root),
		cmocka_unit_test(test_interleaved_traces_contiguous),
		cmocka_unit_test(test_batches_hold_whole_groups),
		cmocka_unit_test(test_trace_span_bound),
		cmocka_unit_test(test_age_bound),
		cmocka_unit_test(test_quiet_bound),
		cmocka_unit_test(test_total_bound),
		cmocka_unit_test(test_trace_table_bound),
		cmocka_unit_test(test_shed),
		cmocka_unit_test(test_free_returns_spans),
		cmocka_unit_test(test_enrichment_steps),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests_name("trace_buf", tests, NULL, NULL);
}
