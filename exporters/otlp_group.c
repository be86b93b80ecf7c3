// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Sorting span indices by (resource, index) puts each resource's spans
 * together in batch order; sorting those runs by their first index gives
 * first-seen order. O(n log n) for any mix of resources, where a pass per
 * resource would be O(n * resources).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "otlp_group.h"

static int by_res_then_index(const void *pa, const void *pb, void *arg)
{
	struct sp_span *const *spans = arg;
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	uintptr_t ra = (uintptr_t)spans[a]->res, rb = (uintptr_t)spans[b]->res;

	if (ra != rb)
		return ra < rb ? -1 : 1;
	return a < b ? -1 : a > b;
}

static int by_first_seen(const void *pa, const void *pb, void *arg)
{
	const uint32_t *sorted = arg;
	uint32_t a = sorted[((const struct sp_otlp_group *)pa)->first];
	uint32_t b = sorted[((const struct sp_otlp_group *)pb)->first];

	return a < b ? -1 : a > b;
}

struct sp_otlp_groups *sp_otlp_groups__new(struct sp_span *const *spans, size_t n)
{
	struct sp_otlp_groups *g;
	uint32_t *sorted, pos = 0;

	if (n > UINT32_MAX) {
		errno = EINVAL;
		return NULL;
	}
	/* header, n groups at most, the result and the sorted indices */
	g = malloc(sizeof(*g) + n * (sizeof(*g->group) + 2 * sizeof(uint32_t)));
	if (!g)
		return NULL;
	g->n = 0;
	g->group = (struct sp_otlp_group *)(g + 1);
	g->idx = (uint32_t *)(g->group + n);
	sorted = g->idx + n;
	for (uint32_t i = 0; i < n; i++)
		sorted[i] = i;
	qsort_r(sorted, n, sizeof(*sorted), by_res_then_index, (void *)spans);
	for (uint32_t i = 0; i < n; i++) {
		if (i && spans[sorted[i]]->res == spans[sorted[i - 1]]->res) {
			g->group[g->n - 1].count++;
			continue;
		}
		g->group[g->n++] = (struct sp_otlp_group){ spans[sorted[i]]->res, i, 1 };
	}
	qsort_r(g->group, g->n, sizeof(*g->group), by_first_seen, sorted);
	for (uint32_t k = 0; k < g->n; k++) {
		memcpy(g->idx + pos, sorted + g->group[k].first, g->group[k].count * sizeof(*sorted));
		g->group[k].first = pos;
		pos += g->group[k].count;
	}
	return g;
}
