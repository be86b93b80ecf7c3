// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "decode/http1.h"
#include "semantics/llm.h"
#include "util/redact.h"
#include "capture/streams.h"
#include "util/table.h"

#define REQ_QUEUE	4	/* requests awaiting a response (pipelining) */

struct stream {
	struct sp_streams *owner;
	uint32_t pid;
	int32_t fd;
	uint64_t ssl;		/* 0 for a plain socket */
	uint8_t role;		/* enum sp_role, once the first message shows it */
	uint64_t gen;		/* the kernel's stream generation */
	bool seq_init[2];
	uint64_t expect[2];	/* next stream offset per direction */
	struct sp_h1 dec[2];	/* per direction, valid once role is known */
	struct sp_http_req reqs[REQ_QUEUE];
	uint8_t req_head, req_n;
	bool have_resp;		/* a response that came before its request */
	const char *end_reason;	/* why a message was cut: error.type */
	bool local_end;		/* the traced process closed it, or exited */
	bool resp_lost;		/* a response may be missing: pair by time */
	struct sp_llm *cur_llm;	/* LLM decoder of the request being read */
	uint64_t last_ts;	/* last data seen */
	struct sp_http_resp early_resp;
};

struct pid_count {
	uint32_t n;		/* streams + sockets of this pid */
};

struct sp_streams {
	struct sp_llm_opts llm;
	bool decode_llm;
	struct sp_table *streams;	/* (pid<<32|fd, 0) or (pid, ssl) */
	struct sp_table *socks;		/* (pid<<32|fd, 1): struct sp_sockinfo */
	/* so that a process exit only walks the tables when it has entries:
	 * sized to hold every pid of both tables, so it never evicts */
	struct sp_table *pids;
	sp_exchange_fn on_exchange;
	void *ctx;
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

static const struct sp_sockinfo *stream_sock(struct stream *st)
{
	if (st->fd < 0)
		return NULL;
	return sp_table__get(st->owner->socks, fd_key(st->pid, st->fd), 1);
}

static void emit(struct stream *st, struct sp_http_req *rq, const struct sp_http_resp *rs,
		 const char *error_type, uint64_t end)
{
	struct sp_http_exchange ex = {
		.pid = st->pid, .role = st->role, .tls = st->ssl != 0, .req = rq,
		.resp = rs, .error_type = error_type, .end_ns = end,
		.sock = stream_sock(st), .llm = rq->llm,
	};

	st->owner->stats.exchanges++;
	st->owner->on_exchange(st->owner->ctx, &ex);
	sp_llm__free(rq->llm);
	rq->llm = NULL;
}

static struct sp_http_req *req_front(struct stream *st)
{
	return st->req_n ? &st->reqs[st->req_head] : NULL;
}

static void req_pop(struct stream *st)
{
	struct sp_http_req *rq = &st->reqs[st->req_head];

	sp_llm__free(rq->llm);	/* dropped unanswered: its decoder goes too */
	rq->llm = NULL;
	st->req_head = (st->req_head + 1) % REQ_QUEUE;
	st->req_n--;
}

static void copy_header(const struct sp_h1_msg *m, const char *name, char *out, size_t cap)
{
	size_t len;
	const char *v = sp_h1_msg__header(m, name, &len);

	if (!v)
		len = 0;
	if (len >= cap)
		len = cap - 1;
	memcpy(out, v ? v : "", len);
	out[len] = 0;
}

static void on_request(struct stream *st, const struct sp_h1_msg *m)
{
	struct sp_http_req *rq, *front;

	if (st->req_n == REQ_QUEUE) {
		/* more unanswered requests than we keep: the oldest goes, and
		 * the next response is paired by time, not by position */
		st->owner->stats.requests_dropped++;
		req_pop(st);
		st->resp_lost = true;
	}
	rq = &st->reqs[(st->req_head + st->req_n++) % REQ_QUEUE];
	rq->llm = st->cur_llm;
	st->cur_llm = NULL;
	memcpy(rq->method, m->method, sizeof(rq->method));
	sp_redact_url(m->head + m->url_off, m->url_len, rq->target, sizeof(rq->target));
	copy_header(m, "host", rq->host, sizeof(rq->host));
	copy_header(m, "user-agent", rq->user_agent, sizeof(rq->user_agent));
	rq->http_minor = m->http_minor;
	rq->incomplete = m->incomplete;
	rq->truncated = m->body_truncated || m->head_truncated;
	rq->start_ns = m->start_ns;
	rq->end_ns = m->end_ns;
	rq->body_len = m->body_len;
	if (!st->have_resp)
		return;
	/* the response that came first answers the oldest request waiting */
	st->have_resp = false;
	front = req_front(st);
	if (st->early_resp.end_ns < front->start_ns) {
		/* it ended before that request began: it answered one we
		 * never saw (we joined mid-stream) */
		st->owner->stats.orphan_responses++;
		return;
	}
	emit(st, front, &st->early_resp, NULL, st->early_resp.end_ns);
	req_pop(st);
}

/* The request a response answers: the oldest waiting, unless responses
 * may have been lost; then the latest one that began before the response
 * did, the older ones failing as lost. */
static struct sp_http_req *answered_request(struct stream *st, const struct sp_http_resp *rs)
{
	uint8_t pick = 0;

	if (!st->resp_lost || st->req_n < 2)
		return req_front(st);
	st->resp_lost = false;
	for (uint8_t i = 1; i < st->req_n; i++)
		if (st->reqs[(st->req_head + i) % REQ_QUEUE].start_ns <= rs->start_ns)
			pick = i;
	while (pick--) {
		struct sp_http_req *old = req_front(st);

		old->truncated = true;
		emit(st, old, NULL, "spanprobe_response_lost", rs->start_ns);
		req_pop(st);
	}
	return req_front(st);
}

static void on_response(struct stream *st, const struct sp_h1_msg *m)
{
	struct sp_http_resp rs = {
		.status = m->status, .http_minor = m->http_minor,
		.incomplete = m->incomplete,
		.truncated = m->body_truncated || m->head_truncated,
		.start_ns = m->start_ns, .end_ns = m->end_ns, .body_len = m->body_len,
	};
	struct sp_http_req *rq;
	const char *why = NULL;
	bool tunnel;

	/* 100 Continue and friends precede the real response */
	if (m->status >= 100 && m->status < 200 && m->status != 101)
		return;
	rq = answered_request(st, &rs);
	if (!rq) {
		/* read before the write that caused it was reported (two
		 * threads, two CPUs): hold it for the request */
		st->early_resp = rs;
		st->have_resp = true;
		return;
	}
	if (m->incomplete && !st->end_reason) {
		/* cut by a hole in the capture, not by the connection: the
		 * call went on; we lost sight of its end */
		rs.truncated = true;
		rs.incomplete = false;
		st->resp_lost = true;
	} else if (m->incomplete && st->local_end && m->status) {
		/* the traced process itself closed (or exited) after the
		 * head arrived: it chose not to read the rest */
		rs.body_unread = true;
		rs.end_ns = m->last_data_ns;
	} else if (m->incomplete) {
		why = st->end_reason;
	}
	tunnel = m->status == 101 || (!strcmp(rq->method, "CONNECT") && m->status / 100 == 2);
	emit(st, rq, &rs, why, m->end_ns);
	req_pop(st);
	if (tunnel) {
		/* no longer HTTP/1 either way: a tunnel or a new protocol */
		sp_h1__upgraded(&st->dec[SP_DIR_EGRESS]);
		sp_h1__upgraded(&st->dec[SP_DIR_INGRESS]);
	}
}

/* A head is complete: an LLM API request gets a decoder; a response
 * tells the decoder of the request it answers how its body is sent. */
static void on_head(void *ctx, struct sp_h1 *d, const struct sp_h1_msg *m)
{
	struct stream *st = ctx;
	struct sp_streams *s = st->owner;

	if (d->is_request) {
		char model[128], url[2048], host[256];
		enum sp_llm_api api;
		size_t hl;
		const char *h;

		sp_llm__free(st->cur_llm);
		st->cur_llm = NULL;
		if (!s->decode_llm)
			return;
		snprintf(url, sizeof(url), "%.*s", m->url_len, m->head + m->url_off);
		api = sp_llm_api_of(m->method, url, model, sizeof(model));
		if (api == SP_LLM_NONE)
			return;
		h = sp_h1_msg__header(m, "host", &hl);
		snprintf(host, sizeof(host), "%.*s", h ? (int)hl : 0, h ? h : "");
		st->cur_llm = sp_llm__new(api, host, model, &s->llm);
	} else {
		struct sp_http_req *rq = req_front(st);
		const char *ct, *ce, *ra;
		size_t ctl = 0, cel = 0, ral = 0;

		if (!rq || !rq->llm || (m->status >= 100 && m->status < 200))
			return;
		ct = sp_h1_msg__header(m, "content-type", &ctl);
		ce = sp_h1_msg__header(m, "content-encoding", &cel);
		ra = sp_h1_msg__header(m, "retry-after", &ral);
		sp_llm__response_head(rq->llm, m->status, ct, ctl, ce, cel, ra, ral);
	}
}

static void on_body(void *ctx, struct sp_h1 *d, const char *buf, size_t len, uint64_t ts)
{
	struct stream *st = ctx;
	struct sp_http_req *rq;

	if (d->is_request) {
		if (st->cur_llm)
			sp_llm__request_body(st->cur_llm, buf, len);
	} else if ((rq = req_front(st)) && rq->llm) {
		sp_llm__response_body(rq->llm, buf, len, ts);
	}
}

static void on_msg(void *ctx, struct sp_h1 *d, const struct sp_h1_msg *m)
{
	if (d->is_request)
		on_request(ctx, m);
	else
		on_response(ctx, m);
}

static bool response_has_no_body(void *ctx, struct sp_h1 *d)
{
	struct sp_http_req *rq = req_front(ctx);

	if (!rq)
		return false;
	/* HEAD, and a 2xx to CONNECT: what follows is the tunnel */
	return !strcmp(rq->method, "HEAD") ||
	       (!strcmp(rq->method, "CONNECT") && d->parser.status_code / 100 == 2);
}

/* Fails every request still waiting for its response. */
static void fail_pending(struct stream *st, const char *why, uint64_t ts)
{
	struct sp_http_req *rq;

	while ((rq = req_front(st))) {
		emit(st, rq, NULL, why, ts);
		req_pop(st);
	}
}

static void stream_end(struct stream *st, const char *why, bool graceful, uint64_t ts)
{
	st->end_reason = why;
	if (st->role) {
		int in = st->role == SP_ROLE_CLIENT ? SP_DIR_INGRESS : SP_DIR_EGRESS;

		/* a response that ends at close is complete when the peer
		 * closes; on a reset or a dead process it is cut */
		if (graceful)
			sp_h1__eof(&st->dec[in], ts);
		else
			sp_h1__cut(&st->dec[in], ts);
		if (sp_h1__busy(&st->dec[!in]))
			sp_h1__eof(&st->dec[!in], ts);
	}
	fail_pending(st, why, ts);
	/* a request still being read when the stream ended */
	sp_llm__free(st->cur_llm);
	st->cur_llm = NULL;
}

static void on_evict(void *ctx, void *entry)
{
	struct sp_streams *s = ctx;
	struct stream *st = entry;

	s->stats.stream_evictions++;
	stream_end(st, "spanprobe_evicted", false, st->last_ts);
	pid_ref(s, st->pid, -1);
}

static void on_sock_evict(void *ctx, void *entry)
{
	pid_ref(ctx, ((struct sp_sockinfo *)entry)->pid, -1);
}

struct sp_streams *sp_streams__new(uint32_t max_streams, uint32_t max_sockets,
				   const struct sp_llm_opts *llm, sp_exchange_fn on_exchange,
				   void *ctx)
{
	struct sp_streams *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (llm) {
		s->llm = *llm;
		s->decode_llm = true;
	}
	s->on_exchange = on_exchange;
	s->ctx = ctx;
	s->streams = sp_table__new(max_streams, sizeof(struct stream), on_evict, s);
	s->socks = sp_table__new(max_sockets, sizeof(struct sp_sockinfo), on_sock_evict, s);
	s->pids = sp_table__new(max_streams + max_sockets, sizeof(struct pid_count), NULL, NULL);
	if (!s->streams || !s->socks || !s->pids) {
		sp_streams__free(s);
		return NULL;
	}
	return s;
}

void sp_streams__free(struct sp_streams *s)
{
	struct stream *st;
	uint32_t it = 0;

	if (!s)
		return;
	while (s->streams && (st = sp_table__next(s->streams, &it))) {
		sp_llm__free(st->cur_llm);
		for (int i = 0; i < REQ_QUEUE; i++)
			sp_llm__free(st->reqs[i].llm);
	}
	sp_table__free(s->streams);
	sp_table__free(s->socks);
	sp_table__free(s->pids);
	free(s);
}

const struct sp_streams_stats *sp_streams__stats(const struct sp_streams *s)
{
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
	st->pid = pid;
	st->fd = fd;
	st->ssl = ssl;
	return st;
}

/* A TLS stream learnt its socket: link them, so a close of the socket
 * finds the stream without a walk. */
static void stream_set_fd(struct stream *st, int32_t fd)
{
	struct sp_sockinfo *si;

	st->fd = fd;
	if (!st->ssl)
		return;
	si = sp_table__get(st->owner->socks, fd_key(st->pid, fd), 1);
	if (si)
		si->ssl = st->ssl;
}

/* The first message start seen tells who is the client. */
static bool stream_learn_role(struct stream *st, uint8_t dir, const uint8_t *data, uint32_t len)
{
	bool req = sp_h1_looks_like_start((const char *)data, len, true);
	bool resp = !req && sp_h1_looks_like_start((const char *)data, len, false);
	int req_dir;

	if (!req && !resp)
		return false;
	/* the side that writes requests is the client */
	st->role = (req == (dir == SP_DIR_EGRESS)) ? SP_ROLE_CLIENT : SP_ROLE_SERVER;
	req_dir = st->role == SP_ROLE_CLIENT ? SP_DIR_EGRESS : SP_DIR_INGRESS;
	sp_h1__init(&st->dec[req_dir], true, on_msg, NULL, st);
	sp_h1__init(&st->dec[!req_dir], false, on_msg, response_has_no_body, st);
	sp_h1__watch(&st->dec[req_dir], on_head, on_body);
	sp_h1__watch(&st->dec[!req_dir], on_head, on_body);
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
			if (st->req_n || sp_h1__busy(&st->dec[0]) || sp_h1__busy(&st->dec[1]))
				s->stats.stream_restarts++;
			stream_end(st, "spanprobe_evicted", false, ev->ts_exit);
			memset(&st->role, 0, sizeof(*st) - offsetof(struct stream, role));
		}
		st->gen = ev->gen;
	}
	if (ev->fd >= 0 && st->fd != ev->fd)
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
		if (st->role) {
			/* a whole response may be in the hole */
			if (!st->dec[dir].is_request && !sp_h1__busy(&st->dec[dir]))
				st->resp_lost = true;
			sp_h1__gap(&st->dec[dir], gap, ev->ts_exit);
		}
		st->expect[dir] = seq;
	}
	if (!len)
		return;		/* a marker: the call's tail was not captured */
	st->expect[dir] = seq + len;
	if (!st->role && !stream_learn_role(st, dir, data, len)) {
		s->stats.not_http++;
		return;
	}
	if (sp_h1__feed(&st->dec[dir], (const char *)data, len, first, ev->ts_exit))
		s->stats.not_http++;
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
		if (st->pid == pid)
			fn(s, st, why, ts);
}

static void forget(struct sp_streams *s, struct stream *st)
{
	pid_ref(s, st->pid, -1);
	sp_table__del(s->streams, st);
}

/* The process closed the socket: a response that ends at close ends. */
static void close_and_forget(struct sp_streams *s, struct stream *st, const char *why,
			     uint64_t ts)
{
	st->local_end = true;
	stream_end(st, why, true, ts);
	forget(s, st);
}

/* The process is gone (exit, or exec closing its sockets): cut. */
static void cut_and_forget(struct sp_streams *s, struct stream *st, const char *why, uint64_t ts)
{
	st->local_end = true;
	stream_end(st, why, false, ts);
	forget(s, st);
}

static void reset_stream(struct sp_streams *s, struct stream *st, const char *why, uint64_t ts)
{
	stream_end(st, why, false, ts);
}

static void eof_stream(struct sp_streams *s, struct stream *st, const char *why, uint64_t ts)
{
	int in;

	if (!st->role)
		return;
	/* the peer closed its side: what we read from it has ended */
	in = SP_DIR_INGRESS;
	st->end_reason = why;
	sp_h1__eof(&st->dec[in], ts);
	/* a client that hit EOF will get no more responses */
	if (st->role == SP_ROLE_CLIENT)
		fail_pending(st, why, ts);
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
	while ((st = sp_table__next(s->streams, &it))) {
		if (st->pid != pid || !st->role)
			continue;
		if (st->req_n || sp_h1__busy(&st->dec[SP_DIR_EGRESS]) ||
		    sp_h1__busy(&st->dec[SP_DIR_INGRESS]))
			return true;
	}
	return false;
}

void sp_streams__end_all(struct sp_streams *s, uint64_t ts)
{
	struct stream *st;
	uint32_t it = 0;

	while ((st = sp_table__next(s->streams, &it)))
		close_and_forget(s, st, "spanprobe_stopped", ts);
}
