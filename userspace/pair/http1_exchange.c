// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HTTP/1 on a stream: one decoder per direction (decode/http1.c) and FIFO
 * pairing of each request with its response into an exchange, with what
 * breaks FIFO on a captured stream handled: a response read before its
 * request was reported (two threads, two CPUs), responses lost in a hole
 * (pair by time), pipelined requests past the queue, 1xx, HEAD, CONNECT
 * and 101 (the stream leaves HTTP/1).
 *
 * Sized by what it holds: the state is ~2 KiB per connection; message
 * heads and request strings come from the capture stage's blocks, taken
 * when a message starts and given back when its exchange is done.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "decode/http1.h"
#include "decode/protocol.h"
#include "semantics/body_sub.h"
#include "semantics/http_span.h"
#include "semantics/trace_context.h"
#include "spanprobe.h"
#include "util/blocks.h"
#include "util/redact.h"

#define REQ_QUEUE	4	/* requests awaiting a response (pipelining) */

struct h1_stream {
	struct sp_stream_id *sid;
	const struct sp_proto_env *env;
	struct sp_proto_stats *stats;
	struct sp_h1 dec[2];	/* per direction */
	struct sp_http_req reqs[REQ_QUEUE];
	uint8_t req_head, req_n;
	bool have_resp;		/* a response that came before its request */
	bool resp_lost;		/* a response may be missing: pair by time */
	/* the request being read: its body consumer, and what a span needs
	 * of its head (taken at the head: the decoder gives the head back
	 * before the body) */
	const struct sp_body_sub *cur_sub;
	void *cur_sub_st;
	char *cur_strs;		/* target, Host, User-Agent: NUL-separated */
	size_t cur_strs_cap;
	bool cur_truncated;	/* the memory budget refused them */
	struct sp_http_resp early_resp;
};

static void sub_drop(const struct sp_body_sub **sub, void **st)
{
	if (*sub)
		(*sub)->free(*st);
	*sub = NULL;
	*st = NULL;
}

/* The request's strings go back; its consumer is freed unless taken. */
static void req_release(struct h1_stream *h, struct sp_http_req *rq)
{
	sub_drop(&rq->sub, &rq->sub_st);
	sp_blocks__put(h->env->blocks, rq->strs, rq->strs_cap);
	rq->strs = NULL;
	rq->strs_cap = 0;
	rq->target = rq->host = rq->user_agent = "";
}

static void emit(struct h1_stream *h, struct sp_http_req *rq, const struct sp_http_resp *rs,
		 const char *error_type, uint64_t end)
{
	struct sp_http_exchange ex = {
		.req = rq, .resp = rs, .error_type = error_type, .end_ns = end,
	};

	h->stats->exchanges++;
	h->env->emit(h->env, h->sid, &ex);
	req_release(h, rq);
}

static struct sp_http_req *req_front(struct h1_stream *h)
{
	return h->req_n ? &h->reqs[h->req_head] : NULL;
}

static void req_pop(struct h1_stream *h)
{
	/* dropped unanswered: its strings and consumer go too */
	req_release(h, &h->reqs[h->req_head]);
	h->req_head = (h->req_head + 1) % REQ_QUEUE;
	h->req_n--;
}

static const char *msg_header(const void *msg, const char *name, size_t *len)
{
	return sp_h1_msg__header(msg, name, len);
}

static struct sp_head_view head_view(const struct sp_h1_msg *m)
{
	return (struct sp_head_view){
		.method = m->method, .target = m->head ? m->head + m->url_off : "",
		.target_len = m->head ? m->url_len : 0,
		.status = m->status, .header = msg_header, .msg = m,
	};
}

static void cur_release(struct h1_stream *h)
{
	sp_blocks__put(h->env->blocks, h->cur_strs, h->cur_strs_cap);
	h->cur_strs = NULL;
	h->cur_strs_cap = 0;
	h->cur_truncated = false;
}

static void on_request(struct h1_stream *h, const struct sp_h1_msg *m)
{
	struct sp_http_req *rq, *front;

	if (h->req_n == REQ_QUEUE) {
		/* more unanswered requests than we keep: the oldest goes, and
		 * the next response is paired by time, not by position */
		h->stats->requests_dropped++;
		req_pop(h);
		h->resp_lost = true;
	}
	rq = &h->reqs[(h->req_head + h->req_n++) % REQ_QUEUE];
	memset(rq, 0, sizeof(*rq));
	rq->sub = h->cur_sub;
	rq->sub_st = h->cur_sub_st;
	h->cur_sub = NULL;
	h->cur_sub_st = NULL;
	/* the strings taken at its head, if it got that far; else what a
	 * request cut before its head was complete kept */
	if (h->cur_strs || h->cur_truncated) {
		sp_http_req_take_strings(rq, h->cur_strs, h->cur_strs_cap);
		h->cur_strs = NULL;
		h->cur_strs_cap = 0;
		h->cur_truncated = false;
	} else {
		size_t cap = 0;
		struct sp_head_view v = head_view(m);
		char *strs = sp_http_req_strings(h->env->blocks, &v, &cap);

		sp_http_req_take_strings(rq, strs, cap);
	}
	memcpy(rq->method, m->method, sizeof(rq->method));
	rq->http_minor = m->http_minor;
	rq->incomplete = m->incomplete;
	rq->truncated |= m->body_truncated || m->head_truncated;
	rq->start_ns = m->start_ns;
	rq->end_ns = m->end_ns;
	rq->body_len = m->body_len;
	if (!h->have_resp)
		return;
	/* the response that came first answers the oldest request waiting */
	h->have_resp = false;
	front = req_front(h);
	if (h->early_resp.end_ns < front->start_ns) {
		/* it ended before that request began: it answered one we
		 * never saw (we joined mid-stream) */
		h->stats->orphan_responses++;
		return;
	}
	emit(h, front, &h->early_resp, NULL, h->early_resp.end_ns);
	req_pop(h);
}

/* The request a response answers: the oldest waiting, unless responses
 * may have been lost; then the latest one that began before the response
 * did, the older ones failing as lost. */
static struct sp_http_req *answered_request(struct h1_stream *h, const struct sp_http_resp *rs)
{
	uint8_t pick = 0;

	if (!h->resp_lost || h->req_n < 2)
		return req_front(h);
	h->resp_lost = false;
	for (uint8_t i = 1; i < h->req_n; i++)
		if (h->reqs[(h->req_head + i) % REQ_QUEUE].start_ns <= rs->start_ns)
			pick = i;
	while (pick--) {
		struct sp_http_req *old = req_front(h);

		old->truncated = true;
		emit(h, old, NULL, "spanprobe_response_lost", rs->start_ns);
		req_pop(h);
	}
	return req_front(h);
}

static void on_response(struct h1_stream *h, const struct sp_h1_msg *m)
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
	rq = answered_request(h, &rs);
	if (!rq) {
		/* read before the write that caused it was reported (two
		 * threads, two CPUs): hold it for the request */
		h->early_resp = rs;
		h->have_resp = true;
		return;
	}
	if (m->incomplete && !h->sid->end_reason) {
		/* cut by a hole in the capture, not by the connection: the
		 * call went on; we lost sight of its end */
		rs.truncated = true;
		rs.incomplete = false;
		h->resp_lost = true;
	} else if (m->incomplete && h->sid->local_end && m->status) {
		/* the traced process itself closed (or exited) after the
		 * head arrived: it chose not to read the rest */
		rs.body_unread = true;
		rs.end_ns = m->last_data_ns;
	} else if (m->incomplete) {
		why = h->sid->end_reason;
	}
	tunnel = m->status == 101 || (!strcmp(rq->method, "CONNECT") && m->status / 100 == 2);
	emit(h, rq, &rs, why, m->end_ns);
	req_pop(h);
	if (tunnel) {
		/* no longer HTTP/1 either way: a tunnel or a new protocol */
		sp_h1__upgraded(&h->dec[SP_DIR_EGRESS]);
		sp_h1__upgraded(&h->dec[SP_DIR_INGRESS]);
	}
}

/* A head is complete: a request may get a body consumer; a response
 * tells the consumer of the request it answers how its body is sent. */
static void on_head(void *ctx, struct sp_h1 *d, const struct sp_h1_msg *m)
{
	struct h1_stream *h = ctx;
	struct sp_head_view v = head_view(m);

	if (d->is_request) {
		sub_drop(&h->cur_sub, &h->cur_sub_st);
		h->cur_sub = sp_body_sub_open(h->env->sem, &v, &h->cur_sub_st);
		cur_release(h);
		h->cur_strs = sp_http_req_strings(h->env->blocks, &v, &h->cur_strs_cap);
		h->cur_truncated = !h->cur_strs;
	} else {
		struct sp_http_req *rq = req_front(h);

		if (!rq || !rq->sub || (m->status >= 100 && m->status < 200))
			return;
		rq->sub->response_head(rq->sub_st, &v);
	}
}

static void on_body(void *ctx, struct sp_h1 *d, const char *buf, size_t len, uint64_t ts)
{
	struct h1_stream *h = ctx;
	struct sp_http_req *rq;

	if (d->is_request) {
		if (h->cur_sub)
			h->cur_sub->request_body(h->cur_sub_st, buf, len, ts);
	} else if ((rq = req_front(h)) && rq->sub) {
		rq->sub->response_body(rq->sub_st, buf, len, ts);
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
static void fail_pending(struct h1_stream *h, const char *why, uint64_t ts)
{
	struct sp_http_req *rq;

	while ((rq = req_front(h))) {
		emit(h, rq, NULL, why, ts);
		req_pop(h);
	}
}

static bool h1_sniff(const uint8_t *buf, size_t len, uint8_t dir, uint8_t *role)
{
	bool req = sp_h1_looks_like_start((const char *)buf, len, true);
	bool resp = !req && sp_h1_looks_like_start((const char *)buf, len, false);

	if (!req && !resp)
		return false;
	/* the side that writes requests is the client */
	*role = (req == (dir == SP_DIR_EGRESS)) ? SP_ROLE_CLIENT : SP_ROLE_SERVER;
	return true;
}

static int h1_init(void *st, struct sp_stream_id *sid, const struct sp_proto_env *env,
		   struct sp_proto_stats *stats)
{
	struct h1_stream *h = st;
	int req_dir = sid->role == SP_ROLE_CLIENT ? SP_DIR_EGRESS : SP_DIR_INGRESS;

	memset(h, 0, sizeof(*h));
	h->sid = sid;
	h->env = env;
	h->stats = stats;
	sp_h1__init(&h->dec[req_dir], true, on_msg, NULL, h);
	sp_h1__init(&h->dec[!req_dir], false, on_msg, response_has_no_body, h);
	for (int i = 0; i < 2; i++) {
		sp_h1__use_blocks(&h->dec[i], env->blocks);
		sp_h1__watch(&h->dec[i], on_head, on_body);
	}
	for (int i = 0; i < REQ_QUEUE; i++)
		h->reqs[i].target = h->reqs[i].host = h->reqs[i].user_agent = "";
	return 0;
}

static int h1_feed(void *st, uint8_t dir, const uint8_t *buf, size_t len, uint64_t ts_first,
		   uint64_t ts_last)
{
	struct h1_stream *h = st;

	return sp_h1__feed(&h->dec[dir], (const char *)buf, len, ts_first, ts_last);
}

static void h1_gap(void *st, uint8_t dir, uint64_t n, uint64_t ts)
{
	struct h1_stream *h = st;

	/* a whole response may be in the hole */
	if (!h->dec[dir].is_request && !sp_h1__busy(&h->dec[dir]))
		h->resp_lost = true;
	sp_h1__gap(&h->dec[dir], n, ts);
}

static void h1_end(void *st, enum sp_stream_end how, const char *why, uint64_t ts)
{
	struct h1_stream *h = st;
	int in = h->sid->role == SP_ROLE_CLIENT ? SP_DIR_INGRESS : SP_DIR_EGRESS;

	if (how == SP_END_PEER_EOF) {
		/* the peer closed its side: what we read from it has ended */
		sp_h1__eof(&h->dec[SP_DIR_INGRESS], ts);
		/* a client that hit EOF will get no more responses */
		if (h->sid->role == SP_ROLE_CLIENT)
			fail_pending(h, why, ts);
		return;
	}
	/* a response that ends at close is complete when the peer closes;
	 * on a reset or a dead process it is cut */
	if (how == SP_END_CLOSE)
		sp_h1__eof(&h->dec[in], ts);
	else
		sp_h1__cut(&h->dec[in], ts);
	if (sp_h1__busy(&h->dec[!in]))
		sp_h1__eof(&h->dec[!in], ts);
	fail_pending(h, why, ts);
	/* a request still being read when the stream ended */
	sub_drop(&h->cur_sub, &h->cur_sub_st);
	cur_release(h);
}

static bool h1_busy(const void *st)
{
	const struct h1_stream *h = st;

	return h->req_n || sp_h1__busy(&h->dec[SP_DIR_EGRESS]) ||
	       sp_h1__busy(&h->dec[SP_DIR_INGRESS]);
}

static void h1_fini(void *st)
{
	struct h1_stream *h = st;

	sub_drop(&h->cur_sub, &h->cur_sub_st);
	cur_release(h);
	for (int i = 0; i < REQ_QUEUE; i++)
		req_release(h, &h->reqs[i]);
	h->req_n = 0;
	sp_h1__fini(&h->dec[0]);
	sp_h1__fini(&h->dec[1]);
}

const struct sp_proto sp_http1_proto = {
	.name = "http1",
	.sniff = h1_sniff,
	.state_size = sizeof(struct h1_stream),
	.init = h1_init,
	.feed = h1_feed,
	.gap = h1_gap,
	.end = h1_end,
	.busy = h1_busy,
	.fini = h1_fini,
};
