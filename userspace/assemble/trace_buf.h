/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The trace buffer: finished spans wait here, per trace, until the trace is
 * complete (its root span, the one with a zero parent id, ended), then the
 * whole trace runs through the enrichment steps and goes to every sink as
 * one contiguous group (exporters/exporter.h: "A batch holds whole trace
 * groups").
 *
 * Nothing waits forever. A trace leaves early, its group marked
 * sp_span.trace_partial (and so do all its later groups), when one of these
 * bounds is hit, each counted:
 * - it holds max_trace_spans spans;
 * - the buffer holds max_spans spans, or the span pool ran dry
 *   (__shed): the least recently active trace leaves;
 * - the trace table is full (max_traces): the least recently active
 *   trace leaves;
 * - it saw no activity for quiet_ns, or its oldest span has waited
 *   max_age_ns.
 * At shutdown (__flush_all) every trace leaves.
 *
 * Groups accumulate into a batch, sent in one export() call per sink when it
 * reaches batch_max spans or flush_interval_ns passed; a group is never
 * split across batches (one bigger than batch_max goes alone).
 *
 * Costs: O(1) per span on average (a hash table keyed by trace id, lists
 * through sp_span.next); no allocation per span (table entries and the
 * batch are allocated once and reused).
 */
#ifndef SP_TRACE_BUF_H
#define SP_TRACE_BUF_H

#include <stddef.h>
#include <stdint.h>
#include "exporters/exporter.h"
#include "model/span.h"

#define SP_TRACE_BUF_MAX_SINKS 4
#define SP_TRACE_BUF_MAX_STEPS 8

struct sp_trace_buf_opts {
	uint32_t max_traces;		/* traces held at once; 0: 4096 */
	uint32_t max_trace_spans;	/* spans held per trace; 0: 1024 */
	uint32_t max_spans;		/* spans held in all; 0: no bound here */
	uint64_t quiet_ns;		/* no activity this long: leave; 0: off */
	uint64_t max_age_ns;		/* oldest span waited this long; 0: 60 s */
	uint64_t flush_interval_ns;	/* a batch waits at most this long */
	uint32_t batch_max;		/* spans per batch; 0: 512 */
};

struct sp_trace_buf_stats {
	uint64_t traces_completed;	/* root ended: left with its root */
	/* groups that left before their root ended, by bound */
	uint64_t flushed_trace_spans;	/* the trace held max_trace_spans */
	uint64_t flushed_total;		/* max_spans held, or span pool dry */
	uint64_t flushed_traces;	/* trace table full */
	uint64_t flushed_quiet;		/* no activity for quiet_ns */
	uint64_t flushed_age;		/* oldest span waited max_age_ns */
	uint64_t flushed_shutdown;	/* no root end by shutdown */
	uint64_t spans_held;		/* now */
	uint64_t spans_held_max;	/* high-water mark */
	uint64_t batches;		/* export() rounds */
};

/*
 * An enrichment step: sees one trace group (spans[0..n), contiguous, in
 * the order they ended) before any sink does, and may change the spans
 * (not free them, not add any).
 */
typedef void (*sp_trace_step_fn)(void *ctx, struct sp_span **spans, size_t n);
/* Gives a span back to its pool once every sink has seen it. */
typedef void (*sp_span_put_fn)(void *ctx, struct sp_span *s);

struct sp_trace_buf;

/* put returns exported spans to their owner. NULL with errno set. */
struct sp_trace_buf *sp_trace_buf__new(const struct sp_trace_buf_opts *opts, sp_span_put_fn put,
				       void *put_ctx);
/* Gives every held span back through put, unexported, and frees the
 * sinks. Call __flush_all first to export them. */
void sp_trace_buf__free(struct sp_trace_buf *b);
/* The buffer owns e from now on. 0 or -E2BIG. */
int sp_trace_buf__add_sink(struct sp_trace_buf *b, struct sp_exporter *e);
/* Borrowed; NULL past the last sink. */
struct sp_exporter *sp_trace_buf__sink(const struct sp_trace_buf *b, int i);
/* Steps run in the order they were added. 0 or -E2BIG. */
int sp_trace_buf__add_step(struct sp_trace_buf *b, sp_trace_step_fn fn, void *ctx);

/* A finished span; the buffer holds it until it is exported. now is
 * CLOCK_MONOTONIC. */
void sp_trace_buf__add(struct sp_trace_buf *b, struct sp_span *s, uint64_t now);
/* The trace is active at now though no span of it ended (a request in
 * flight): it is not quiet. */
void sp_trace_buf__touch(struct sp_trace_buf *b, const uint8_t trace_id[16], uint64_t now);
/*
 * A subtree changes trace: the held spans of trace from whose parent chain
 * (through held spans) reaches root_id move to trace to, which gets a new
 * trace id on each. For an agent found under a launcher that made a span
 * first (span_asm.h): its finished children leave the launcher's trace
 * with it. fn (may be NULL) sees each span as it moves. Returns how many
 * moved.
 */
size_t sp_trace_buf__move(struct sp_trace_buf *b, const uint8_t from[16], const uint8_t to[16],
			  const uint8_t root_id[8], uint64_t now,
			  void (*fn)(void *ctx, struct sp_span *s), void *ctx);
/*
 * The held span span_id of trace from, and its held subtree, move to trace
 * to, the span a child of new_parent: a server's span under the client
 * span that called it, once both ends were seen. False if the span is no
 * longer held (its trace left already).
 */
bool sp_trace_buf__graft(struct sp_trace_buf *b, const uint8_t from[16], const uint8_t span_id[8],
			 const uint8_t to[16], const uint8_t new_parent[8], uint64_t now);
/*
 * The held spans of trace tid that are children of parent_id and lie
 * within [start, end] (Unix ns), SERVER spans excepted (other requests
 * the process served), become children of new_parent: what a
 * process did while it served a request (known only once the request is
 * answered) nests under that request's span. Returns how many moved.
 */
size_t sp_trace_buf__adopt(struct sp_trace_buf *b, const uint8_t tid[16],
			   const uint8_t parent_id[8], const uint8_t new_parent[8], uint64_t start,
			   uint64_t end);
/* fn sees each span trace tid holds (and may change it, not free it). */
void sp_trace_buf__visit(struct sp_trace_buf *b, const uint8_t tid[16],
			 void (*fn)(void *ctx, struct sp_span *s), void *ctx);
/* The age bounds, and the batch interval. */
void sp_trace_buf__tick(struct sp_trace_buf *b, uint64_t now);
/*
 * The span pool ran dry: sends the pending batch, and if nothing was
 * pending, the least recently active trace (counted in flushed_total).
 * Returns how many spans went back to the pool.
 */
size_t sp_trace_buf__shed(struct sp_trace_buf *b);
/* Every held trace leaves now, the batch is sent, and the sinks flushed. */
void sp_trace_buf__flush_all(struct sp_trace_buf *b);

const struct sp_trace_buf_stats *sp_trace_buf__stats(const struct sp_trace_buf *b);

#endif
