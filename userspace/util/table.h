/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A bounded hash table with LRU eviction, for per-process, per-connection
 * and per-socket state. Keys are two u64. Entries live in one anonymous
 * mapping of capacity slots, which takes memory page by page as slots are
 * first used; nothing is allocated after creation, and the table never
 * holds more than its capacity.
 */
#ifndef SP_TABLE_H
#define SP_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct sp_table;

/* Called on an entry about to be evicted to make room. */
typedef void (*sp_table_evict_fn)(void *ctx, void *entry);

struct sp_table *sp_table__new(uint32_t capacity, size_t entry_size,
			       sp_table_evict_fn evict, void *ctx);
void sp_table__free(struct sp_table *t);
/* Entry for (k1, k2), or NULL. Marks it most recently used. */
void *sp_table__get(struct sp_table *t, uint64_t k1, uint64_t k2);
/* A zeroed new entry for (k1, k2), evicting the least recently used entry
 * when full; NULL only if memory ran out. The key must not be present. */
void *sp_table__add(struct sp_table *t, uint64_t k1, uint64_t k2);
void sp_table__del(struct sp_table *t, void *entry);
/* Iteration in no particular order; entries may be deleted while iterating
 * (delete only the one just returned). Start with it = 0. */
void *sp_table__next(struct sp_table *t, uint32_t *it);
uint64_t sp_table__evictions(const struct sp_table *t);

#endif
