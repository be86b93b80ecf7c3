// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdlib.h>
#include <string.h>
#include "util/blocks.h"

struct free_blk {
	struct free_blk *next;
};

struct sp_blocks {
	size_t max_bytes, idle_max;
	struct free_blk *free[SP_BLOCK_CLASSES];
	size_t idle[SP_BLOCK_CLASSES];	/* bytes on each free list */
	struct sp_blocks_stats stats;
};

struct sp_blocks *sp_blocks__new(size_t max_bytes, size_t idle_max)
{
	struct sp_blocks *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->max_bytes = max_bytes;
	b->idle_max = idle_max;
	return b;
}

void sp_blocks__free(struct sp_blocks *b)
{
	if (!b)
		return;
	for (int c = 0; c < SP_BLOCK_CLASSES; c++) {
		struct free_blk *f;

		while ((f = b->free[c])) {
			b->free[c] = f->next;
			free(f);
		}
	}
	free(b);
}

/* The class of a request of size bytes, or -1 if too big. */
static int class_of(size_t size)
{
	int c = 0;

	while (c < SP_BLOCK_CLASSES && ((size_t)1 << (SP_BLOCK_MIN_SHIFT + c)) < size)
		c++;
	return c < SP_BLOCK_CLASSES ? c : -1;
}

void *sp_blocks__get(struct sp_blocks *b, size_t size, size_t *cap)
{
	int c = class_of(size ? size : 1);
	size_t n;
	struct free_blk *f;

	if (c < 0)
		goto refuse;
	n = (size_t)1 << (SP_BLOCK_MIN_SHIFT + c);
	if (b->stats.bytes_in_use + n > b->max_bytes)
		goto refuse;
	f = b->free[c];
	if (f) {
		b->free[c] = f->next;
		b->idle[c] -= n;
		b->stats.bytes_idle -= n;
	} else {
		f = malloc(n);
		if (!f)
			goto refuse;
	}
	b->stats.bytes_in_use += n;
	if (b->stats.bytes_in_use > b->stats.bytes_high)
		b->stats.bytes_high = b->stats.bytes_in_use;
	*cap = n;
	return f;
refuse:
	b->stats.refused++;
	*cap = 0;
	return NULL;
}

void sp_blocks__put(struct sp_blocks *b, void *blk, size_t cap)
{
	int c;
	struct free_blk *f = blk;

	if (!blk)
		return;
	c = class_of(cap);
	b->stats.bytes_in_use -= cap;
	if (b->idle[c] + cap > b->idle_max) {
		free(blk);
		return;
	}
	f->next = b->free[c];
	b->free[c] = f;
	b->idle[c] += cap;
	b->stats.bytes_idle += cap;
}

void *sp_blocks__grow(struct sp_blocks *b, void *blk, size_t *cap, size_t size, size_t keep)
{
	size_t ncap;
	void *n;

	if (blk && size <= *cap)
		return blk;
	n = sp_blocks__get(b, size, &ncap);
	if (!n)
		return NULL;
	if (blk) {
		memcpy(n, blk, keep < *cap ? keep : *cap);
		sp_blocks__put(b, blk, *cap);
	}
	*cap = ncap;
	return n;
}

const struct sp_blocks_stats *sp_blocks__stats(const struct sp_blocks *b)
{
	return &b->stats;
}
