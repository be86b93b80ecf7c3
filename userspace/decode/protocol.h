/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The decoder interface: how the capture stage hands a stream's bytes to
 * the protocol spoken on it.
 *
 * The capture stage (capture/streams.c) owns a stream's byte accounting:
 * offsets, generations, holes, its end. It picks the protocol from the
 * stream's first bytes (sniff, in the order of decode/protocols.c), then
 * feeds it every byte in order, per direction, with timestamps, tells it
 * of each hole and of the stream's end. The protocol decodes messages and
 * pairs them by its own key (FIFO for HTTP/1; stream id for HTTP/2 and
 * request id for JSON-RPC when they come) into exchanges, which it hands
 * back through env->emit.
 *
 * Adding a protocol is one file that defines a struct sp_proto and one
 * line in decode/protocols.c.
 */
#ifndef SP_PROTOCOL_H
#define SP_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sp_blocks;
struct sp_http_exchange;
struct sp_rpc_exchange;
struct sp_sem_opts;

/* What the capture stage knows of a stream; protocols read it, and set
 * role at init. Owned by the capture stage, valid while the stream is. */
struct sp_stream_id {
	uint32_t pid;
	int32_t fd;		/* -1 while unknown (TLS before its socket) */
	uint64_t ssl;		/* TLS session, 0 for plain sockets */
	uint8_t role;		/* enum sp_role: who the traced process is */
	bool local_end;		/* the traced process closed it, or exited */
	const char *end_reason;	/* why it ended (error.type), once it did */
};

/* What protocols share: set up once by the capture stage. */
struct sp_proto_env {
	struct sp_blocks *blocks;		/* per-stream memory */
	const struct sp_sem_opts *sem;		/* which body consumers run */
	/* an exchange is done (ex borrowed for the call) */
	void (*emit)(const struct sp_proto_env *env, const struct sp_stream_id *sid,
		     struct sp_http_exchange *ex);
	/* a JSON-RPC exchange is done (pair/jsonrpc_exchange.h; ex borrowed
	 * for the call); NULL: nobody wants them */
	void (*emit_rpc)(const struct sp_proto_env *env, const struct sp_stream_id *sid,
			 const struct sp_rpc_exchange *ex);
	void *ctx;
};

/* Counters every protocol keeps the same way (the capture stage sums). */
struct sp_proto_stats {
	uint64_t exchanges;
	uint64_t requests_dropped;	/* pipelined past the queue */
	uint64_t orphan_responses;	/* responses to requests never seen */
	uint64_t not_parsed;		/* records that failed to parse */
	uint64_t notifications;		/* JSON-RPC: messages without an id */
	uint64_t messages_lost;		/* JSON-RPC: cut by a hole or the end */
	uint64_t h2_connections;	/* HTTP/2 */
	uint64_t h2_streams;		/* requests seen */
	uint64_t h2_resets;		/* streams ended by RST_STREAM */
	uint64_t h2_joins;		/* connections first seen mid-way */
	uint64_t h2_evictions;		/* open streams past the per-connection table */
	uint64_t h2_frames;
	uint64_t h2_hpack_errors;	/* header blocks that would not inflate */
};

enum sp_stream_end {
	SP_END_CLOSE = 1,	/* the traced process closed it: graceful */
	SP_END_CUT,		/* reset, exit, exec, eviction: cut short */
	SP_END_PEER_EOF,	/* the peer closed its side (ingress ended) */
};

struct sp_proto {
	const char *name;
	/* True if a stream whose first bytes in direction dir are buf speaks
	 * this protocol; *role: who the traced process is (enum sp_role). */
	bool (*sniff)(const uint8_t *buf, size_t len, uint8_t dir, uint8_t *role);
	/* Recognised only (no decoder yet): the rest is NULL. */
	size_t state_size;
	/* 0, or -ENOMEM. sid and env outlive the state. */
	int (*init)(void *st, struct sp_stream_id *sid, const struct sp_proto_env *env,
		    struct sp_proto_stats *stats);
	/* Bytes of direction dir; ts_first: when the first was sent or had
	 * arrived, ts_last: the last. 0, or -EPROTO for bytes it skipped. */
	int (*feed)(void *st, uint8_t dir, const uint8_t *buf, size_t len, uint64_t ts_first,
		    uint64_t ts_last);
	/* n bytes of direction dir were not captured. */
	void (*gap)(void *st, uint8_t dir, uint64_t n, uint64_t ts);
	/* The stream (or, SP_END_PEER_EOF, its ingress) ended: what is in
	 * flight ends as why says. sid->end_reason is set before. */
	void (*end)(void *st, enum sp_stream_end how, const char *why, uint64_t ts);
	/* True while a message or an exchange is in flight. */
	bool (*busy)(const void *st);
	/* Gives back what the state holds (after end, or at teardown). */
	void (*fini)(void *st);
};

/* The protocols, in sniffing order; NULL-terminated (decode/protocols.c). */
extern const struct sp_proto *const sp_protocols[];

/* The protocol whose sniff matches, or NULL; *role set on a match. */
const struct sp_proto *sp_proto_sniff(const uint8_t *buf, size_t len, uint8_t dir,
				      uint8_t *role);

#endif
