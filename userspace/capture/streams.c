// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "capture/streams.h"
#include "decode/protocol.h"
#include "pair/jsonrpc_exchange.h"
#include "util/blocks.h"
#include "util/table.h"

/* Budget for per-stream memory (protocol state, message heads, request
 * strings), and the idle blocks kept for reuse. */
#define STREAM_BYTES_MAX	(48u << 20)
#define STREAM_BYTES_IDLE	(1u << 20)
/* Once this much more was in use than now, the heap is trimmed (at most
 * once a second): 10,000 connections that closed give their memory back
 * to the system, not only to malloc. */
#define STREAM_TRIM_BYTES	(4u << 20)
#define STREAM_TRIM_NS		1000000000ull

struct stream {
	struct sp_streams *owner;
	struct sp_stream_id id;	/* what the protocol sees */
	uint64_t gen;		/* the kernel's stream generation */
	bool seq_init[2];
	bool undecoded;		/* recognised, but no decoder for it yet */
	uint64_t expect[2];	/* next stream offset per direction */
	uint64_t last_ts;	/* last data seen */
	const struct sp_proto *proto;	/* NULL until the first bytes tell */
	void *pstate;		/* the protocol's, proto->state_size bytes */
	size_t pstate_cap;
};

struct pid_count {
	uint32_t n;		/* streams + sockets of this pid */
};

struct sp_streams {
	struct sp_table *streams;	/* (pid<<32|fd, 0) or (pid, ssl) */
	struct sp_table *socks;		/* (pid<<32|fd, 1): struct sp_sockinfo */
	/* so that a process exit only walks the tables when it has entries:
	 * sized to hold every pid of both tables, so it never evicts */
	struct sp_table *pids;
	struct sp_blocks *blocks;
	struct sp_proto_env env;
	struct sp_proto_stats pstats;
	sp_exchange_fn on_exchange;
	void *ctx;
	sp_connect_fail_fn on_connect_fail;
	void *connect_fail_ctx;
	sp_rpc_exchange_fn on_rpc;
	void *rpc_ctx;
	uint64_t trim_high;		/* bytes in use at most since the last trim */
	uint64_t trim_ns;		/* when it was */
	struct sp_streams_stats stats;
};

static uint64_t fd_key(uint32_t pid, int32_t fd)
{
	return ((uint64_t)pid << 32) | (uint32_t)fd;
}

static void pid_ref(struct sp_streams *s, uint32_t pid, int delta)
{
	struct pid_count *c = sp_table__get(s->pids, pid, 0);

	if (!c && delta > 0)
		c = sp_table__add(s->pids, pid, 0);
	if (!c)
		return;
	c->n += delta;
	if (!c->n)
		sp_table__del(s->pids, c);
}

/* A protocol finished an exchange: say whose it is, and pass it on. */
static void emit(const struct sp_proto_env *env, const struct sp_stream_id *sid,
		 struct sp_http_exchange *ex)
{
	struct sp_streams *s = env->ctx;

	ex->pid = sid->pid;
	ex->role = sid->role;
	ex->tls = sid->ssl != 0;
	ex->sock = sid->fd >= 0 ? sp_table__get(s->socks, fd_key(sid->pid, sid->fd), 1) : NULL;
	s->on_exchange(s->ctx, ex);
}

/* A JSON-RPC exchange: a stream with no socket is a pipe. */
static void emit_rpc(const struct sp_proto_env *env, const struct sp_stream_id *sid,
		     const struct sp_rpc_exchange *ex)
{
	struct sp_streams *s = env->ctx;
	struct sp_rpc_exchange e = *ex;

	e.transport = sid->fd >= 0 && sp_table__get(s->socks, fd_key(sid->pid, sid->fd), 1) ?
		      "tcp" : "pipe";
	s->on_rpc(s->rpc_ctx, &e);
}

void sp_streams__set_rpc_emit(struct sp_streams *s, sp_rpc_exchange_fn fn, void *ctx)
{
	s->on_rpc = fn;
	s->rpc_ctx = ctx;
	s->env.emit_rpc = fn ? emit_rpc : NULL;
}

/* Ends what is in flight on the stream; it may go on (a reset) or be
 * forgotten next. */
static void stream_end(struct stream *st, enum sp_stream_end how, const char *why, uint64_t ts)
{
	st->id.end_reason = why;
	if (st->proto && st->pstate)
		st->proto->end(st->pstate, how, why, ts);
}

/* Gives back the protocol's state. */
static void stream_drop_proto(struct stream *st)
{
	if (st->pstate) {
		st->proto->fini(st->pstate);
		sp_blocks__put(st->owner->blocks, st->pstate, st->pstate_cap);
	}
	st->pstate = NULL;
	st->pstate_cap = 0;
	st->proto = NULL;
}

static void on_evict(void *ctx, void *entry)
{
	struct sp_streams *s = ctx;
	struct stream *st = entry;

	s->stats.stream_evictions++;
	stream_end(st, SP_END_CUT, "spanprobe_evicted", st->last_ts);
	stream_drop_proto(st);
	pid_ref(s, st->id.pid, -1);
}

static void on_sock_evict(void *ctx, void *entry)
{
	pid_ref(ctx, ((struct sp_sockinfo *)entry)->pid, -1);
}

struct sp_streams *sp_streams__new(uint32_t max_streams, uint32_t max_sockets,
				   const struct sp_sem_opts *sem, sp_exchange_fn on_exchange,
				   void *ctx)
{
	struct sp_streams *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->blocks = sp_blocks__new(STREAM_BYTES_MAX, STREAM_BYTES_IDLE);
	s->env = (struct sp_proto_env){
		.blocks = s->blocks, .sem = sem, .emit = emit, .ctx = s,
	};
	s->on_exchange = on_exchange;
	s->ctx = ctx;
	s->streams = sp_table__new(max_streams, sizeof(struct stream), on_evict, s);
	s->socks = sp_table__new(max_sockets, sizeof(struct sp_sockinfo), on_sock_evict, s);
	s->pids = sp_table__new(max_streams + max_sockets, sizeof(struct pid_count), NULL, NULL);
	if (!s->streams || !s->socks || !s->pids || !s->blocks) {
		sp_streams__free(s);
		return NULL;
	}
	return s;
}

void sp_streams__set_connect_fail(struct sp_streams *s, sp_connect_fail_fn fn, void *ctx)
{
	s->on_connect_fail = fn;
	s->connect_fail_ctx = ctx;
}

void sp_streams__free(struct sp_streams *s)
{
	struct stream *st;
	uint32_t it = 0;

	if (!s)
		return;
	while (s->streams && (st = sp_table__next(s->streams, &it)))
		stream_drop_proto(st);
	sp_table__free(s->streams);
	sp_table__free(s->socks);
	sp_table__free(s->pids);
	sp_blocks__free(s->blocks);
	free(s);
}

const struct sp_streams_stats *sp_streams__stats(struct sp_streams *s)
{
	const struct sp_blocks_stats *b = sp_blocks__stats(s->blocks);

	s->stats.exchanges = s->pstats.exchanges;
	s->stats.requests_dropped = s->pstats.requests_dropped;
	s->stats.orphan_responses = s->pstats.orphan_responses;
	s->stats.rpc_notifications = s->pstats.notifications;
	s->stats.rpc_messages_lost = s->pstats.messages_lost;
	s->stats.h2_connections = s->pstats.h2_connections;
	s->stats.h2_streams = s->pstats.h2_streams;
	s->stats.h2_resets = s->pstats.h2_resets;
	s->stats.h2_joins = s->pstats.h2_joins;
	s->stats.h2_evictions = s->pstats.h2_evictions;
	s->stats.h2_frames = s->pstats.h2_frames;
	s->stats.h2_hpack_errors = s->pstats.h2_hpack_errors;
	s->stats.bytes_in_use = b->bytes_in_use;
	s->stats.bytes_high = b->bytes_high;
	s->stats.memory_refused = b->refused;
	return &s->stats;
}

static struct stream *stream_get(struct sp_streams *s, uint32_t pid, int32_t fd, uint64_t ssl,
				 bool create)
{
	uint64_t k1 = ssl ? pid : fd_key(pid, fd), k2 = ssl;
	struct stream *st = sp_table__get(s->streams, k1, k2);

	if (st || !create)
		return st;
	st = sp_table__add(s->streams, k1, k2);
	if (!st)
		return NULL;
	pid_ref(s, pid, 1);
	st->owner = s;
	st->id.pid = pid;
	st->id.fd = fd;
	st->id.ssl = ssl;
	return st;
}

/* A TLS stream learnt its socket: link them, so a close of the socket
 * finds the stream without a walk. */
static void stream_set_fd(struct stream *st, int32_t fd)
{
	struct sp_sockinfo *si;

	st->id.fd = fd;
	if (!st->id.ssl)
		return;
	si = sp_table__get(st->owner->socks, fd_key(st->id.pid, fd), 1);
	if (si)
		si->ssl = st->id.ssl;
}

/*
 * The first bytes of a message tell the protocol, and who is the client.
 * False while they do not: a stream joined mid-message, bytes after a hole,
 * or a protocol that is only recognised; each later record is tried again
 * (a record that merely looks like one, a JSON body mid-stream, must not
 * decide a stream for good). False too when the memory budget refuses the
 * protocol's state (counted): the next message start tries again.
 */
static bool stream_pick_proto(struct stream *st, uint8_t dir, const uint8_t *data, uint32_t len)
{
	struct sp_streams *s = st->owner;
	uint8_t role = 0;
	const struct sp_proto *p = sp_proto_sniff(data, len, dir, &role);

	if (!p)
		return false;
	if (!p->init) {
		if (!st->undecoded)
			s->stats.undecoded_streams++;
		st->undecoded = true;
		return false;
	}
	st->pstate = sp_blocks__get(s->blocks, p->state_size, &st->pstate_cap);
	if (!st->pstate) {
		s->stats.streams_no_memory++;
		return false;
	}
	st->id.role = role;
	if (p->init(st->pstate, &st->id, &s->env, &s->pstats)) {
		sp_blocks__put(s->blocks, st->pstate, st->pstate_cap);
		st->pstate = NULL;
		st->id.role = 0;
		s->stats.streams_no_memory++;
		return false;
	}
	st->proto = p;
	return true;
}

void sp_streams__data(struct sp_streams *s, const struct sp_data_event *ev, const uint8_t *data)
{
	struct stream *st = stream_get(s, ev->tgid, ev->fd, ev->source == SP_SRC_TLS ? ev->ssl : 0,
				       true);
	uint8_t dir = ev->dir & 1;
	uint64_t seq = ev->seq;
	uint32_t len = ev->len;
	/* a message's first byte: when it was sent, or when it had arrived */
	uint64_t first = dir == SP_DIR_EGRESS ? ev->ts_enter : ev->ts_exit;

	if (!st)
		return;
	if (st->gen != ev->gen) {
		/* the kernel lost and recreated its state for this stream
		 * (LRU eviction, an exec that kept the socket): its offsets
		 * restart, and what was in flight is lost */
		if (st->gen) {
			/* a reused SSL* is a new session, nothing lost; a
			 * restart with a call in flight is a loss */
			if (st->pstate && st->proto->busy(st->pstate))
				s->stats.stream_restarts++;
			stream_end(st, SP_END_CUT, "spanprobe_evicted", ev->ts_exit);
			stream_drop_proto(st);
			memset(&st->gen, 0, sizeof(*st) - offsetof(struct stream, gen));
			st->id.role = 0;
			st->id.local_end = false;
			st->id.end_reason = NULL;
		}
		st->gen = ev->gen;
	}
	if (ev->fd >= 0 && st->id.fd != ev->fd)
		stream_set_fd(st, ev->fd);
	st->last_ts = ev->ts_exit;
	if (!st->seq_init[dir]) {
		/* the kernel counts a stream's bytes from 0, from the first
		 * HTTP bytes it saw: a first record past 0 follows a loss */
		st->seq_init[dir] = true;
		st->expect[dir] = 0;
	}
	if (seq < st->expect[dir]) {
		/* overlap: only the part past what we have is new */
		uint64_t skip = st->expect[dir] - seq;

		if (skip >= len)
			return;
		data += skip;
		len -= skip;
		seq += skip;
	}
	if (seq > st->expect[dir]) {
		uint64_t gap = seq - st->expect[dir];

		s->stats.holes++;
		s->stats.bytes_lost += gap;
		if (st->pstate)
			st->proto->gap(st->pstate, dir, gap, ev->ts_exit);
		st->expect[dir] = seq;
	}
	if (!len)
		return;		/* a marker: the call's tail was not captured */
	st->expect[dir] = seq + len;
	if (!st->proto && !stream_pick_proto(st, dir, data, len)) {
		s->stats.not_decoded++;
		return;
	}
	if (st->proto->feed(st->pstate, dir, data, len, first, ev->ts_exit))
		s->stats.not_decoded++;
}

void sp_streams__conn(struct sp_streams *s, const struct sp_conn_event *ev)
{
	uint64_t k = fd_key(ev->tgid, ev->fd);
	struct sp_sockinfo *si = sp_table__get(s->socks, k, 1);

	if (!si) {
		si = sp_table__add(s->socks, k, 1);
		if (!si)
			return;
		pid_ref(s, ev->tgid, 1);
	}
	si->pid = ev->tgid;
	si->fd = ev->fd;
	if (ev->role)
		si->role = ev->role;
	si->local = ev->local;
	si->remote = ev->remote;
}

/* Calls fn on the streams of pid on fd (its plain stream and the TLS
 * session linked to it), or on all of pid's streams (fd < 0). */
static void for_streams(struct sp_streams *s, uint32_t pid, int32_t fd,
			void (*fn)(struct sp_streams *, struct stream *, const char *, uint64_t),
			const char *why, uint64_t ts)
{
	struct sp_sockinfo *si;
	struct stream *st;
	uint32_t it = 0;

	if (fd >= 0) {
		si = sp_table__get(s->socks, fd_key(pid, fd), 1);
		if (si && si->ssl && (st = stream_get(s, pid, fd, si->ssl, false)))
			fn(s, st, why, ts);
		if ((st = stream_get(s, pid, fd, 0, false)))
			fn(s, st, why, ts);
		return;
	}
	if (!sp_table__get(s->pids, pid, 0))
		return;
	while ((st = sp_table__next(s->streams, &it)))
		if (st->id.pid == pid)
			fn(s, st, why, ts);
}

static void forget(struct sp_streams *s, struct stream *st)
{
	stream_drop_proto(st);
	pid_ref(s, st->id.pid, -1);
	sp_table__del(s->streams, st);
}

/* The process closed the socket: a response that ends at close ends. */
static void close_and_forget(struct sp_streams *s, struct stream *st, const char *why,
			     uint64_t ts)
{
	st->id.local_end = true;
	stream_end(st, SP_END_CLOSE, why, ts);
	forget(s, st);
}

/* The process is gone (exit, or exec closing its sockets): cut. */
static void cut_and_forget(struct sp_streams *s, struct stream *st, const char *why, uint64_t ts)
{
	st->id.local_end = true;
	stream_end(st, SP_END_CUT, why, ts);
	forget(s, st);
}

static void reset_stream(struct sp_streams *s, struct stream *st, const char *why, uint64_t ts)
{
	stream_end(st, SP_END_CUT, why, ts);
}

static void eof_stream(struct sp_streams *s, struct stream *st, const char *why, uint64_t ts)
{
	/* the peer closed its side: what we read from it has ended */
	stream_end(st, SP_END_PEER_EOF, why, ts);
}

void sp_streams__close(struct sp_streams *s, uint32_t pid, int32_t fd, uint64_t ts)
{
	struct sp_sockinfo *si = sp_table__get(s->socks, fd_key(pid, fd), 1);

	for_streams(s, pid, fd, close_and_forget, "connection_closed", ts);
	if (si) {
		pid_ref(s, pid, -1);
		sp_table__del(s->socks, si);
	}
}

void sp_streams__error(struct sp_streams *s, const struct sp_conn_event *ev)
{
	if (ev->err == 0) {
		/* EOF: the peer closed its side */
		if (ev->ssl) {
			struct stream *st = stream_get(s, ev->tgid, ev->fd, ev->ssl, false);

			if (st)
				eof_stream(s, st, "connection_closed", ev->ts);
		} else {
			for_streams(s, ev->tgid, ev->fd, eof_stream, "connection_closed", ev->ts);
		}
		return;
	}
	for_streams(s, ev->tgid, ev->fd, reset_stream, "connection_reset", ev->ts);
}

void sp_streams__connect_fail(struct sp_streams *s, const struct sp_connect_fail_event *ev)
{
	struct sp_sockinfo *si = sp_table__get(s->socks, fd_key(ev->tgid, ev->fd), 1);

	s->stats.connect_fails++;
	/* a non-blocking connect was reported when it started (SP_EV_CONN):
	 * it never connected, so that is over; a new connect(2) on the
	 * socket reports it again */
	if (si) {
		pid_ref(s, ev->tgid, -1);
		sp_table__del(s->socks, si);
	}
	if (s->on_connect_fail)
		s->on_connect_fail(s->connect_fail_ctx, ev);
}

void sp_streams__tls_bind(struct sp_streams *s, uint32_t pid, uint64_t ssl, int32_t fd)
{
	struct stream *st = stream_get(s, pid, fd, ssl, false);

	if (st)
		stream_set_fd(st, fd);
}

void sp_streams__proc_exit(struct sp_streams *s, uint32_t pid, uint64_t ts)
{
	struct sp_sockinfo *si;
	uint32_t it = 0;

	if (!sp_table__get(s->pids, pid, 0))
		return;
	for_streams(s, pid, -1, cut_and_forget, "process_exited", ts);
	while (sp_table__get(s->pids, pid, 0) && (si = sp_table__next(s->socks, &it))) {
		if (si->pid == pid) {
			pid_ref(s, pid, -1);
			sp_table__del(s->socks, si);
		}
	}
}

void sp_streams__proc_exec(struct sp_streams *s, uint32_t pid, uint64_t ts)
{
	/* exec closes close-on-exec sockets without close(2); one that
	 * survives is picked up again, as a new stream, at its next bytes */
	for_streams(s, pid, -1, cut_and_forget, "process_exec", ts);
}

bool sp_streams__pid_busy(struct sp_streams *s, uint32_t pid)
{
	struct stream *st;
	uint32_t it = 0;

	if (!sp_table__get(s->pids, pid, 0))
		return false;
	while ((st = sp_table__next(s->streams, &it)))
		if (st->id.pid == pid && st->pstate && st->proto->busy(st->pstate))
			return true;
	return false;
}

void sp_streams__end_all(struct sp_streams *s, uint64_t ts)
{
	struct stream *st;
	uint32_t it = 0;

	while ((st = sp_table__next(s->streams, &it)))
		close_and_forget(s, st, "spanprobe_stopped", ts);
}

void sp_streams__tick(struct sp_streams *s, uint64_t now)
{
	const struct sp_blocks_stats *b = sp_blocks__stats(s->blocks);

	if (b->bytes_in_use > s->trim_high)
		s->trim_high = b->bytes_in_use;
	if (s->trim_high - b->bytes_in_use < STREAM_TRIM_BYTES || now - s->trim_ns < STREAM_TRIM_NS)
		return;
#ifdef __GLIBC__
	malloc_trim(0);
#endif
	s->trim_high = b->bytes_in_use;
	s->trim_ns = now;
}
