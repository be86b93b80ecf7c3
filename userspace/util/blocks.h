/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Memory blocks in power-of-two size classes (64 B to 64 KiB), for state
 * that is sized by what it holds: a connection's message heads, its queued
 * requests. A freed block goes back to its class's free list, so the steady
 * state allocates nothing; each free list keeps at most a bounded number of
 * idle bytes, the rest is returned to the system (a burst of 10,000
 * connections does not stay resident after they close). The total in use
 * is bounded: past max_bytes a request fails (counted) and the caller
 * degrades (keeps less), never grows.
 *
 * One owner, one thread: no locking.
 */
#ifndef SP_BLOCKS_H
#define SP_BLOCKS_H

#include <stddef.h>
#include <stdint.h>

#define SP_BLOCK_MIN_SHIFT	6	/* 64 B */
#define SP_BLOCK_MAX_SHIFT	16	/* 64 KiB */
#define SP_BLOCK_CLASSES	(SP_BLOCK_MAX_SHIFT - SP_BLOCK_MIN_SHIFT + 1)

struct sp_blocks_stats {
	uint64_t bytes_in_use;		/* block bytes handed out now */
	uint64_t bytes_idle;		/* block bytes on the free lists */
	uint64_t bytes_high;		/* high-water of bytes_in_use */
	uint64_t refused;		/* requests past max_bytes, or malloc failures */
};

struct sp_blocks;

/* max_bytes: bound on bytes in use; idle_max: idle bytes kept per class. */
struct sp_blocks *sp_blocks__new(size_t max_bytes, size_t idle_max);
void sp_blocks__free(struct sp_blocks *b);
/* A block of at least size bytes (NULL past the bound: counted), its real
 * size in *cap. */
void *sp_blocks__get(struct sp_blocks *b, size_t size, size_t *cap);
/* Returns a block of capacity cap (as __get gave it). NULL is fine. */
void sp_blocks__put(struct sp_blocks *b, void *blk, size_t cap);
/* A block of at least size bytes holding the first keep bytes of blk
 * (whose capacity is *cap, updated); blk is returned. NULL when refused:
 * blk is then left as it was. */
void *sp_blocks__grow(struct sp_blocks *b, void *blk, size_t *cap, size_t size, size_t keep);
const struct sp_blocks_stats *sp_blocks__stats(const struct sp_blocks *b);

#endif
