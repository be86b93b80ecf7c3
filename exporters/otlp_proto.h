/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * OTLP protobuf encoding of an ExportTraceServiceRequest, with the
 * protobuf-c code generated at build time from exporters/proto/. Spans are
 * grouped by resource (one per process) under the scope "spanprobe".
 */
#ifndef SP_OTLP_PROTO_H
#define SP_OTLP_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include "model/span.h"

/* On success *out is a malloc'ed buffer owned by the caller; 0 or -errno. */
int sp_otlp_proto__encode(struct sp_span *const *spans, size_t n, uint8_t **out, size_t *out_len);

#endif
