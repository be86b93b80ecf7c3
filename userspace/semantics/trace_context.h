/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): a request that
 * carries `traceparent` (an application with an OpenTelemetry SDK inside,
 * or a caller that propagates) puts spanprobe's span into that trace, as a
 * child of the header's span. spanprobe only reads the header; it never
 * writes into another process's traffic.
 */
#ifndef SP_TRACE_CONTEXT_H
#define SP_TRACE_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sp_span;

#define SP_TRACEPARENT_MAX	64	/* version 00 is 55; later ones may be longer */
#define SP_TRACESTATE_MAX	512	/* the spec's limit */

struct sp_trace_ctx {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t flags;		/* bit 0: sampled */
};

/* Parses a traceparent value (version 00, or a later one read as 00 says
 * to); false for anything malformed (all-zero ids, version ff, bad hex). */
bool sp_traceparent_parse(const char *v, size_t len, struct sp_trace_ctx *out);
/* s joins c's trace as a child of its span (remote_parent), keeping
 * tracestate (may be NULL or ""). */
void sp_trace_ctx_adopt(struct sp_span *s, const struct sp_trace_ctx *c, const char *tracestate);

#endif
