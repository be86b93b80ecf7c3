/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * FNV-1a, 64-bit: the hash of keys that live one run (retried requests,
 * local connections) and of texts that name a conversation. Not for
 * anything an attacker could aim at a table with: those tables are
 * bounded LRUs, so a collision costs a wrong match, never memory.
 */
#ifndef SP_HASH_H
#define SP_HASH_H

#include <stddef.h>
#include <stdint.h>

#define SP_FNV_OFFSET	0xcbf29ce484222325ull
#define SP_FNV_PRIME	0x100000001b3ull

/* h (SP_FNV_OFFSET to start) continued over n bytes at p. */
static inline uint64_t sp_fnv1a(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * SP_FNV_PRIME;
	return h;
}

#endif
