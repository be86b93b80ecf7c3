// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "util/table.h"

#define NIL UINT32_MAX

struct slot {
	uint64_t k1, k2;
	uint32_t hnext;		/* hash chain */
	uint32_t prev, next;	/* LRU list, or free list (next) */
	int used;
};

struct sp_table {
	uint32_t cap, nbuckets, count;
	size_t entry_size;
	/* entries, stride bytes each, in one anonymous mapping: pages are
	 * zero and take memory only once a slot is used, and the malloc heap
	 * is not shot through with long-lived entries (which would keep it
	 * from giving freed memory back) */
	char *entries;
	size_t stride, map_len;
	uint32_t *buckets;
	struct slot *slots;
	uint32_t lru_head, lru_tail;	/* head = most recent */
	uint32_t free_head;
	uint64_t evictions;
	sp_table_evict_fn evict;
	void *ctx;
};


static uint32_t hash(const struct sp_table *t, uint64_t k1, uint64_t k2)
{
	uint64_t h = (k1 * 0x9e3779b97f4a7c15ull) ^ (k2 + 0x632be59bd9b4e019ull + (k1 << 6));

	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	return (uint32_t)h & (t->nbuckets - 1);
}

struct sp_table *sp_table__new(uint32_t capacity, size_t entry_size,
			       sp_table_evict_fn evict, void *ctx)
{
	struct sp_table *t = calloc(1, sizeof(*t));

	/* the bucket count below is capacity * 2 rounded up, in 32 bits */
	if (!t || !capacity || capacity > (1u << 30))
		goto err_out;
	t->cap = capacity;
	t->entry_size = entry_size;
	t->evict = evict;
	t->ctx = ctx;
	for (t->nbuckets = 16; t->nbuckets < capacity * 2; t->nbuckets <<= 1)
		;
	t->buckets = malloc(t->nbuckets * sizeof(*t->buckets));
	t->slots = calloc(capacity, sizeof(*t->slots));
	if (!t->buckets || !t->slots)
		goto err_out;
	/* aligned for any type (the mapping is page-aligned) */
	t->stride = (entry_size + _Alignof(max_align_t) - 1) & ~(_Alignof(max_align_t) - 1);
	if (!t->stride)
		t->stride = _Alignof(max_align_t);
	t->map_len = t->stride * capacity;
	t->entries = mmap(NULL, t->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	if (t->entries == MAP_FAILED) {
		t->entries = NULL;
		goto err_out;
	}
	memset(t->buckets, 0xff, t->nbuckets * sizeof(*t->buckets));
	for (uint32_t i = 0; i < capacity; i++)
		t->slots[i].next = i + 1 < capacity ? i + 1 : NIL;
	t->free_head = 0;
	t->lru_head = t->lru_tail = NIL;
	return t;
err_out:
	sp_table__free(t);
	return NULL;
}

void sp_table__free(struct sp_table *t)
{
	if (!t)
		return;
	if (t->entries)
		munmap(t->entries, t->map_len);
	free(t->slots);
	free(t->buckets);
	free(t);
}

static void lru_unlink(struct sp_table *t, uint32_t i)
{
	struct slot *s = &t->slots[i];

	if (s->prev != NIL)
		t->slots[s->prev].next = s->next;
	else
		t->lru_head = s->next;
	if (s->next != NIL)
		t->slots[s->next].prev = s->prev;
	else
		t->lru_tail = s->prev;
}

static void lru_push(struct sp_table *t, uint32_t i)
{
	struct slot *s = &t->slots[i];

	s->prev = NIL;
	s->next = t->lru_head;
	if (t->lru_head != NIL)
		t->slots[t->lru_head].prev = i;
	t->lru_head = i;
	if (t->lru_tail == NIL)
		t->lru_tail = i;
}

/* An entry's place in the mapping gives its slot. */
static void *entry_of(const struct sp_table *t, uint32_t i)
{
	return t->entries + (size_t)i * t->stride;
}

static uint32_t slot_of(const struct sp_table *t, void *entry)
{
	return ((char *)entry - t->entries) / t->stride;
}

void *sp_table__get(struct sp_table *t, uint64_t k1, uint64_t k2)
{
	for (uint32_t i = t->buckets[hash(t, k1, k2)]; i != NIL; i = t->slots[i].hnext) {
		struct slot *s = &t->slots[i];

		if (s->k1 == k1 && s->k2 == k2) {
			if (t->lru_head != i) {
				lru_unlink(t, i);
				lru_push(t, i);
			}
			return entry_of(t, i);
		}
	}
	return NULL;
}

void sp_table__del(struct sp_table *t, void *entry)
{
	uint32_t i = slot_of(t, entry), *pp;
	struct slot *s = &t->slots[i];

	for (pp = &t->buckets[hash(t, s->k1, s->k2)]; *pp != NIL; pp = &t->slots[*pp].hnext) {
		if (*pp == i) {
			*pp = s->hnext;
			break;
		}
	}
	lru_unlink(t, i);
	s->used = 0;
	s->next = t->free_head;
	t->free_head = i;
	t->count--;
}

void *sp_table__add(struct sp_table *t, uint64_t k1, uint64_t k2)
{
	struct slot *s;
	uint32_t i, b;

	if (t->free_head == NIL) {
		void *victim = entry_of(t, t->lru_tail);

		t->evictions++;
		if (t->evict)
			t->evict(t->ctx, victim);
		/* the callback may have deleted it already */
		if (t->free_head == NIL)
			sp_table__del(t, victim);
	}
	i = t->free_head;
	s = &t->slots[i];
	t->free_head = s->next;
	s->k1 = k1;
	s->k2 = k2;
	s->used = 1;
	b = hash(t, k1, k2);
	s->hnext = t->buckets[b];
	t->buckets[b] = i;
	lru_push(t, i);
	t->count++;
	memset(entry_of(t, i), 0, t->entry_size);
	return entry_of(t, i);
}

void *sp_table__next(struct sp_table *t, uint32_t *it)
{
	while (*it < t->cap) {
		uint32_t i = (*it)++;

		if (t->slots[i].used)
			return entry_of(t, i);
	}
	return NULL;
}

uint64_t sp_table__evictions(const struct sp_table *t)
{
	return t->evictions;
}
