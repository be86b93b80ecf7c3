/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A batch's spans grouped by resource, for the ResourceSpans of both OTLP
 * encoders: resources in the order the batch first names them, spans in
 * batch order within each. Resources are told apart by identity (one
 * sp_resource per process), as the span assembler hands them out.
 */
#ifndef SP_OTLP_GROUP_H
#define SP_OTLP_GROUP_H

#include <stddef.h>
#include <stdint.h>
#include "model/span.h"

struct sp_otlp_group {
	struct sp_resource *res;	/* borrowed from the spans */
	uint32_t first, count;		/* a run of sp_otlp_groups.idx */
};

struct sp_otlp_groups {
	uint32_t n;			/* resources */
	struct sp_otlp_group *group;	/* n of them */
	uint32_t *idx;			/* span indices, group after group */
};

/*
 * Groups spans[0..n). Returns an owned block (one allocation, sized by n,
 * whatever the number of resources), freed with free(); NULL with errno
 * set (ENOMEM; EINVAL past UINT32_MAX spans).
 */
struct sp_otlp_groups *sp_otlp_groups__new(struct sp_span *const *spans, size_t n);

#endif
