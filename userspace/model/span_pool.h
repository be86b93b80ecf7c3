/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where spans come from: a bounded pool of span headers and of the blocks
 * a span grows by (attribute arrays, event arrays, text blocks), each
 * size class on its own free list, so a warmed-up pipeline mallocs
 * nothing. The pool holds at most max_spans spans and max_bytes bytes
 * (headers and blocks, in use or cached); past either bound a span is
 * not handed out, or does not grow, and that is counted. Cached blocks
 * above the high-water mark of the last one to two minutes go back to
 * malloc, so a burst does not stay resident.
 *
 * One thread only: the pipeline's. Exporter threads never see the pool
 * or a pooled span after export() returns (the OTLP sink encodes its
 * batch inside export()), so nothing here locks.
 */
#ifndef SP_SPAN_POOL_H
#define SP_SPAN_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sp_span;
struct sp_span_pool;

struct sp_span_pool_stats {
	uint32_t spans_in_use;
	uint32_t spans_high_water;
	size_t bytes_in_use;	/* headers and blocks held by spans in use */
	size_t bytes_held;	/* bytes_in_use plus the free lists: all taken from malloc */
	size_t bytes_high_water;	/* of bytes_held; never above max_bytes */
	uint64_t spans_refused;	/* __get returned NULL: a bound, or malloc */
	uint64_t grows_refused;	/* a span could not grow: the attribute, event
				 * or string went to its dropped counts */
	uint64_t bytes_released;	/* cached blocks given back to malloc */
};

/* A pool of up to max_spans spans in up to max_bytes bytes (both > 0);
 * nothing is allocated up front. NULL with errno set on failure. */
struct sp_span_pool *sp_span_pool__new(uint32_t max_spans, size_t max_bytes);
/* Frees every block and span header, including spans still in use (their
 * resource references are dropped): no span of p may be used after.
 * Accepts NULL. */
void sp_span_pool__free(struct sp_span_pool *p);
/*
 * A span with room for its name and 8 attributes, to be set up with
 * sp_span__init(); owned by the caller until sp_span_pool__put(). NULL
 * (counted in spans_refused) when max_spans spans are in use or the
 * bytes are not there.
 */
struct sp_span *sp_span_pool__get(struct sp_span_pool *p);
/* Drops s's resource reference and returns s and all its blocks to p.
 * Accepts NULL; ignores a span that is not p's. */
void sp_span_pool__put(struct sp_span_pool *p, struct sp_span *s);
const struct sp_span_pool_stats *sp_span_pool__stats(const struct sp_span_pool *p);
/*
 * Starts a new high-water window now: cached blocks beyond what the
 * window just ended needed (or what is in use now, if more) go back to
 * malloc, so a burst is given back one to two windows after it ends.
 * __tick does it when a minute has passed since the last (the pool calls
 * it every 64 returned blocks; call it from a timer too, so an idle pool
 * trims); __trim does it now.
 */
void sp_span_pool__tick(struct sp_span_pool *p);
void sp_span_pool__trim(struct sp_span_pool *p);

/* ---- for span.c only: the size classes a span grows through ---- */

enum sp_blk_class {
	SP_BLK_ATTRS_8,
	SP_BLK_ATTRS_16,
	SP_BLK_ATTRS_32,
	SP_BLK_ATTRS_64,
	SP_BLK_ATTRS_96,
	SP_BLK_EVENTS_2,
	SP_BLK_EVENTS_4,
	SP_BLK_EVENTS_16,
	SP_BLK_TEXT_512,
	SP_BLK_TEXT_2K,
	SP_BLK_TEXT_8K,
	SP_BLK_TEXT_16K,
	SP_BLK_SPAN,		/* a span header */
	SP_BLK__N,
	SP_BLK_NONE = 0xff,
};

/* Bytes of a block of each class (defined in span.c, which knows the
 * layouts). */
extern const uint32_t sp_blk_size[SP_BLK__N];

/* A block of class c from p's free list or malloc; with p NULL, plain
 * malloc. NULL if a bound or malloc says no (counted in grows_refused). */
void *sp_span_pool__blk_get(struct sp_span_pool *p, enum sp_blk_class c);
/* Gives b (from __blk_get with the same p and c) back. Accepts NULL. */
void sp_span_pool__blk_put(struct sp_span_pool *p, enum sp_blk_class c, void *b);

/* A span header from the pool made p's: empty, with attrs8 (class
 * SP_BLK_ATTRS_8) and text512 (SP_BLK_TEXT_512) as its first blocks. */
void sp_span__adopt(struct sp_span *s, struct sp_span_pool *p, void *attrs8, void *text512);
bool sp_span__owned_by(const struct sp_span *s, const struct sp_span_pool *p);
/* Makes s unknown again, before its memory goes back to malloc. */
void sp_span__disown(struct sp_span *s);

#endif
