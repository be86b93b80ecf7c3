/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The capture stage: connections as byte streams. Accounts for the
 * captured bytes of each stream (a socket, keyed by pid+fd, or a TLS
 * session, keyed by pid+SSL*): offsets, kernel generations, holes, and how
 * it ended (close, reset, peer EOF, exit, exec, eviction). Picks the
 * protocol from its first bytes and drives it (decode/protocol.h); the
 * protocol's exchanges come out through on_exchange with the socket's
 * addresses attached.
 *
 * Every table here is bounded; the least recently active stream is
 * evicted when full (counted). Per-stream memory (protocol state, message
 * heads) comes from one budget of blocks, taken as it is needed.
 */
#ifndef SP_STREAMS_H
#define SP_STREAMS_H

#include <stdbool.h>
#include <stdint.h>
#include "semantics/http_span.h"
#include "spanprobe.h"

struct sp_streams_stats {
	uint64_t holes;			/* gaps in a stream */
	uint64_t bytes_lost;		/* bytes in those gaps */
	uint64_t not_decoded;		/* data records no decoder took */
	uint64_t undecoded_streams;	/* recognised protocols without a decoder */
	uint64_t streams_no_memory;	/* message starts not decoded: budget spent */
	uint64_t bytes_in_use;		/* per-stream memory now */
	uint64_t bytes_high;		/* and its high-water */
	uint64_t memory_refused;	/* blocks refused by the budget */
	uint64_t stream_evictions;
	uint64_t stream_restarts;	/* kernel state recreated under a stream */
	uint64_t requests_dropped;	/* pipelined past the queue */
	uint64_t exchanges;
	uint64_t orphan_responses;	/* responses to requests never seen */
	uint64_t connect_fails;		/* failed TCP connects seen */
	uint64_t rpc_notifications;	/* JSON-RPC messages without an id */
	uint64_t rpc_messages_lost;	/* JSON-RPC messages cut by a hole or an end */
	uint64_t h2_connections, h2_streams, h2_resets, h2_joins, h2_evictions;
	uint64_t h2_frames, h2_hpack_errors;
};

typedef void (*sp_exchange_fn)(void *ctx, const struct sp_http_exchange *ex);
struct sp_rpc_exchange;
/* A JSON-RPC exchange (pair/jsonrpc_exchange.h), borrowed for the call. */
typedef void (*sp_rpc_exchange_fn)(void *ctx, const struct sp_rpc_exchange *ex);

/* A TCP connect failed (refused, unreachable, timed out); ev is borrowed. */
typedef void (*sp_connect_fail_fn)(void *ctx, const struct sp_connect_fail_event *ev);

struct sp_streams;

struct sp_sem_opts;

/* sem: which body consumers run (borrowed, outlives s; NULL: none). */
struct sp_streams *sp_streams__new(uint32_t max_streams, uint32_t max_sockets,
				   const struct sp_sem_opts *sem, sp_exchange_fn on_exchange,
				   void *ctx);
void sp_streams__free(struct sp_streams *s);
/* Who hears of failed connects (NULL: nobody); set before the first record. */
void sp_streams__set_connect_fail(struct sp_streams *s, sp_connect_fail_fn fn, void *ctx);
/* Where JSON-RPC exchanges (MCP over stdio) go; none until set. */
void sp_streams__set_rpc_emit(struct sp_streams *s, sp_rpc_exchange_fn fn, void *ctx);

/* ev is followed by ev->len payload bytes (data). */
void sp_streams__data(struct sp_streams *s, const struct sp_data_event *ev, const uint8_t *data);
void sp_streams__conn(struct sp_streams *s, const struct sp_conn_event *ev);
void sp_streams__close(struct sp_streams *s, uint32_t pid, int32_t fd, uint64_t ts);
void sp_streams__error(struct sp_streams *s, const struct sp_conn_event *ev);
/* A connect on a socket failed: it never carried a stream (counted, and
 * passed to the connect-fail callback). */
void sp_streams__connect_fail(struct sp_streams *s, const struct sp_connect_fail_event *ev);
void sp_streams__tls_bind(struct sp_streams *s, uint32_t pid, uint64_t ssl, int32_t fd);
/* The process is gone: end its streams (requests in flight fail). */
void sp_streams__proc_exit(struct sp_streams *s, uint32_t pid, uint64_t ts);
/* The process exec'd: its streams end (exec closes CLOEXEC sockets). */
void sp_streams__proc_exec(struct sp_streams *s, uint32_t pid, uint64_t ts);
/* True while pid has a request in flight (for the idle rule). */
bool sp_streams__pid_busy(struct sp_streams *s, uint32_t pid);
/* Timers: gives memory back to the system after a wave of connections
 * ended. now is CLOCK_MONOTONIC. */
void sp_streams__tick(struct sp_streams *s, uint64_t now);
/* Ends every stream (at shutdown). */
void sp_streams__end_all(struct sp_streams *s, uint64_t ts);

const struct sp_streams_stats *sp_streams__stats(struct sp_streams *s);

#endif
