/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * HTTP/2 on a stream: frames and HPACK per direction (decode/http2.c),
 * requests paired with their responses by stream id into exchanges, the
 * same struct sp_http_exchange HTTP/1 makes (body consumers, spans), with
 * gRPC's service, method and status (semantics/grpc_span.h).
 */
#ifndef SP_H2_EXCHANGE_H
#define SP_H2_EXCHANGE_H

#include "decode/protocol.h"

/* Open streams kept per connection; past it the least recently active
 * one ends (error.type spanprobe_evicted, counted). */
#define SP_H2_STREAMS_MAX	16

extern const struct sp_proto sp_http2_proto;

#endif
