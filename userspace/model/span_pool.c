// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include "model/span.h"
#include "model/span_pool.h"
#include "util/clock.h"

#define WINDOW_NS (60ull * 1000000000ull)
#define CLOCK_EVERY 64		/* block returns between two clock reads */
/* Given back at once, this much is worth handing to the kernel too:
 * glibc keeps freed small chunks in its heap otherwise. */
#define MALLOC_TRIM_MIN (1u << 20)

/* A cached block: linked through its first word. */
struct blk_free {
	struct blk_free *next;
};

struct blk_class {
	struct blk_free *free;
	uint32_t nfree, nused;
	uint32_t peak;		/* nused high-water of this window */
};

struct sp_span_pool {
	uint32_t max_spans;
	size_t max_bytes;
	struct blk_class cls[SP_BLK__N];
	struct sp_span *live;	/* spans in use, through pool_prev/pool_next */
	uint64_t window_start;
	uint32_t puts;
	struct sp_span_pool_stats st;
};

/* Gives up to n cached blocks of class c back to malloc. */
static void cache_drop(struct sp_span_pool *p, enum sp_blk_class c, uint32_t n)
{
	struct blk_class *k = &p->cls[c];

	while (n-- && k->free) {
		struct blk_free *b = k->free;

		k->free = b->next;
		k->nfree--;
		free(b);
		p->st.bytes_held -= sp_blk_size[c];
		p->st.bytes_released += sp_blk_size[c];
	}
}

/* Makes room for need more bytes within max_bytes, from other classes'
 * caches if it must. */
static bool make_room(struct sp_span_pool *p, size_t need)
{
	for (int c = SP_BLK__N - 1; c >= 0 && p->st.bytes_held + need > p->max_bytes; c--)
		while (p->cls[c].free && p->st.bytes_held + need > p->max_bytes)
			cache_drop(p, c, 1);
	return p->st.bytes_held + need <= p->max_bytes;
}

static void *blk_take(struct sp_span_pool *p, enum sp_blk_class c)
{
	struct blk_class *k = &p->cls[c];
	void *b = k->free;

	if (b) {
		k->free = k->free->next;
		k->nfree--;
	} else {
		if (!make_room(p, sp_blk_size[c]))
			return NULL;
		b = malloc(sp_blk_size[c]);
		if (!b)
			return NULL;
		p->st.bytes_held += sp_blk_size[c];
		if (p->st.bytes_held > p->st.bytes_high_water)
			p->st.bytes_high_water = p->st.bytes_held;
	}
	if (++k->nused > k->peak)
		k->peak = k->nused;
	p->st.bytes_in_use += sp_blk_size[c];
	return b;
}

static void blk_give(struct sp_span_pool *p, enum sp_blk_class c, void *b)
{
	struct blk_class *k = &p->cls[c];
	struct blk_free *f = b;

	if (!b)
		return;
	f->next = k->free;
	k->free = f;
	k->nfree++;
	k->nused--;
	p->st.bytes_in_use -= sp_blk_size[c];
	if (++p->puts % CLOCK_EVERY == 0)
		sp_span_pool__tick(p);
}

void sp_span_pool__tick(struct sp_span_pool *p)
{
	if (sp_clock_mono_ns() - p->window_start >= WINDOW_NS)
		sp_span_pool__trim(p);
}

void sp_span_pool__trim(struct sp_span_pool *p)
{
	uint64_t released = p->st.bytes_released;

	for (int c = 0; c < SP_BLK__N; c++) {
		struct blk_class *k = &p->cls[c];
		/* what the window just ended needed, or what is in use now */
		uint32_t keep = k->peak > k->nused ? k->peak : k->nused;

		k->peak = k->nused;
		if (k->nused + k->nfree > keep)
			cache_drop(p, c, k->nused + k->nfree - keep);
	}
	p->window_start = sp_clock_mono_ns();
#ifdef __GLIBC__
	if (p->st.bytes_released - released >= MALLOC_TRIM_MIN)
		malloc_trim(0);
#endif
}

void *sp_span_pool__blk_get(struct sp_span_pool *p, enum sp_blk_class c)
{
	void *b;

	if (!p)
		return malloc(sp_blk_size[c]);
	b = blk_take(p, c);
	if (!b)
		p->st.grows_refused++;
	return b;
}

void sp_span_pool__blk_put(struct sp_span_pool *p, enum sp_blk_class c, void *b)
{
	if (!p)
		free(b);
	else
		blk_give(p, c, b);
}

struct sp_span_pool *sp_span_pool__new(uint32_t max_spans, size_t max_bytes)
{
	struct sp_span_pool *p;

	if (!max_spans || !max_bytes) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->max_spans = max_spans;
	p->max_bytes = max_bytes;
	p->window_start = sp_clock_mono_ns();
	return p;
}

void sp_span_pool__free(struct sp_span_pool *p)
{
	if (!p)
		return;
	while (p->live)
		sp_span_pool__put(p, p->live);
	for (int c = 0; c < SP_BLK__N; c++)
		cache_drop(p, c, UINT32_MAX);
	free(p);
}

struct sp_span *sp_span_pool__get(struct sp_span_pool *p)
{
	struct sp_span *s = NULL;
	void *attrs = NULL, *text = NULL;

	if (p->st.spans_in_use < p->max_spans) {
		s = blk_take(p, SP_BLK_SPAN);
		attrs = s ? blk_take(p, SP_BLK_ATTRS_8) : NULL;
		text = attrs ? blk_take(p, SP_BLK_TEXT_512) : NULL;
	}
	if (!text) {
		blk_give(p, SP_BLK_ATTRS_8, attrs);
		blk_give(p, SP_BLK_SPAN, s);
		p->st.spans_refused++;
		return NULL;
	}
	sp_span__adopt(s, p, attrs, text);
	s->pool_next = p->live;
	if (p->live)
		p->live->pool_prev = s;
	p->live = s;
	if (++p->st.spans_in_use > p->st.spans_high_water)
		p->st.spans_high_water = p->st.spans_in_use;
	return s;
}

void sp_span_pool__put(struct sp_span_pool *p, struct sp_span *s)
{
	if (!s || !sp_span__owned_by(s, p))
		return;
	sp_span__release(s);
	if (s->pool_prev)
		s->pool_prev->pool_next = s->pool_next;
	else
		p->live = s->pool_next;
	if (s->pool_next)
		s->pool_next->pool_prev = s->pool_prev;
	sp_span__disown(s);
	blk_give(p, SP_BLK_SPAN, s);
	p->st.spans_in_use--;
}

const struct sp_span_pool_stats *sp_span_pool__stats(const struct sp_span_pool *p)
{
	return &p->st;
}
