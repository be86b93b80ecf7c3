/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * OTLP/JSON encoding of an ExportTraceServiceRequest, as the OTLP spec
 * defines it: lowerCamelCase field names, trace and span ids as lowercase
 * hex, enums as integers, 64-bit integers as decimal strings. Spans are
 * grouped by resource (one per process) under one scope, "spanprobe".
 */
#ifndef SP_OTLP_JSON_H
#define SP_OTLP_JSON_H

#include <stddef.h>
#include "model/span.h"

#define SP_SCOPE_NAME "spanprobe"

/*
 * Encodes spans as one JSON object (no newline). On success *out is a
 * malloc'ed buffer owned by the caller, *out_len its length; returns 0 or
 * -errno. The order of spans is kept within each resource.
 */
int sp_otlp_json__encode(struct sp_span *const *spans, size_t n, char **out, size_t *out_len);

#endif
