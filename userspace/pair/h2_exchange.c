// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HTTP/2 pairing: one decoder per connection (decode/http2.h), a bounded
 * table of open streams, and an exchange for each request when its
 * response ends (END_STREAM), is reset (RST_STREAM: error.type is the h2
 * error code's name), is refused by GOAWAY (streams above the last one
 * the server took), or when the connection ends under it.
 *
 * Who is the client is known from the preface; on a connection joined
 * mid-way, from the first head (:method is a request's, :status a
 * response's).
 */
#include <errno.h>
#include <string.h>
#include "decode/http2.h"
#include "pair/h2_exchange.h"
#include "semantics/body_sub.h"
#include "semantics/grpc_span.h"
#include "semantics/http_span.h"
#include "spanprobe.h"
#include "util/blocks.h"

struct h2_slot {
	uint32_t id;
	bool used;
	bool resp_head;		/* its response head came */
	bool is_grpc;
	uint64_t last_ns;	/* last activity, for eviction */
	struct sp_http_req req;
	struct sp_http_resp resp;
	struct sp_grpc_info grpc;
};

struct h2_stream {
	struct sp_stream_id *sid;
	const struct sp_proto_env *env;
	struct sp_proto_stats *stats;
	int8_t client_dir;	/* -1 until known */
	struct sp_h2_stats h2;
	uint64_t h2_frames_seen, h2_joins_seen, h2_hpack_seen;
	struct sp_h2_conn conn;
	struct h2_slot slots[SP_H2_STREAMS_MAX];
};

/* The decoder's counters into the shared ones (they are per connection). */
static void stats_sync(struct h2_stream *h)
{
	h->stats->h2_frames += h->h2.frames - h->h2_frames_seen;
	h->stats->h2_joins += h->h2.mid_stream_joins - h->h2_joins_seen;
	h->stats->h2_hpack_errors += h->h2.hpack_errors - h->h2_hpack_seen;
	h->h2_frames_seen = h->h2.frames;
	h->h2_joins_seen = h->h2.mid_stream_joins;
	h->h2_hpack_seen = h->h2.hpack_errors;
}

static void slot_release(struct h2_stream *h, struct h2_slot *sl)
{
	if (sl->req.sub)
		sl->req.sub->free(sl->req.sub_st);
	sp_blocks__put(h->env->blocks, sl->req.strs, sl->req.strs_cap);
	memset(sl, 0, sizeof(*sl));
}

static void finish(struct h2_stream *h, struct h2_slot *sl, const char *error_type, uint64_t end)
{
	struct sp_http_exchange ex = {
		.req = &sl->req, .resp = sl->resp_head ? &sl->resp : NULL,
		.error_type = error_type, .end_ns = end,
		.grpc = sl->is_grpc ? &sl->grpc : NULL,
	};

	if (error_type && sl->resp_head) {
		sl->resp.incomplete = true;
		sl->resp.end_ns = end;
	}
	h->stats->exchanges++;
	h->env->emit(h->env, h->sid, &ex);
	slot_release(h, sl);
}

static struct h2_slot *slot_find(struct h2_stream *h, uint32_t id)
{
	for (int i = 0; i < SP_H2_STREAMS_MAX; i++)
		if (h->slots[i].used && h->slots[i].id == id)
			return &h->slots[i];
	return NULL;
}

/* A free slot; when all are taken, the least recently active stream ends
 * (counted) to make room. */
static struct h2_slot *slot_new(struct h2_stream *h, uint64_t ts)
{
	struct h2_slot *old = &h->slots[0];

	for (int i = 0; i < SP_H2_STREAMS_MAX; i++) {
		if (!h->slots[i].used)
			return &h->slots[i];
		if (h->slots[i].last_ns < old->last_ns)
			old = &h->slots[i];
	}
	h->stats->h2_evictions++;
	finish(h, old, "spanprobe_evicted", ts);
	return old;
}

/* Header lookup for consumers: Host is :authority in h2. */
static const char *view_header(const void *msg, const char *name, size_t *len)
{
	const char *v;

	if (!strcmp(name, "host") && (v = sp_h2_head__header(msg, ":authority", len)))
		return v;
	return sp_h2_head__header(msg, name, len);
}

static struct sp_head_view head_view(const struct sp_h2_head *hd)
{
	struct sp_head_view v = { .header = view_header, .msg = hd, .method = "" };
	size_t n = 0;
	const char *t = sp_h2_head__header(hd, ":path", &n);

	v.target = t ? t : "";
	v.target_len = t ? n : 0;
	return v;
}

static void on_request(struct h2_stream *h, const struct sp_h2_head *hd)
{
	struct h2_slot *sl = slot_find(h, hd->stream_id);
	struct sp_head_view v = head_view(hd);
	const char *m, *ct;
	size_t n = 0, cap = 0;
	char *strs;

	if (sl) {
		/* trailers of the request */
		sl->last_ns = hd->end_ns;
		if (hd->end_stream)
			sl->req.end_ns = hd->end_ns;
		return;
	}
	sl = slot_new(h, hd->start_ns);
	sl->used = true;
	sl->id = hd->stream_id;
	sl->last_ns = hd->end_ns;
	h->stats->h2_streams++;
	m = sp_h2_head__header(hd, ":method", &n);
	if (m && n < sizeof(sl->req.method))
		memcpy(sl->req.method, m, n);
	v.method = sl->req.method;
	strs = sp_http_req_strings(h->env->blocks, &v, &cap);
	sp_http_req_take_strings(&sl->req, strs, cap);
	sl->req.http_major = 2;
	sl->req.start_ns = hd->start_ns;
	sl->req.end_ns = hd->end_ns;
	sl->req.headers_incomplete = hd->incomplete;
	sl->req.truncated |= hd->truncated;
	ct = sp_h2_head__header(hd, "content-type", &n);
	if (ct && sp_grpc_content_type(ct, n)) {
		sl->is_grpc = true;
		sp_grpc_info__init(&sl->grpc, v.target, v.target_len);
	}
	sl->req.sub = sp_body_sub_open(h->env->sem, &v, &sl->req.sub_st);
}

static void grpc_status(struct h2_slot *sl, const struct sp_h2_head *hd)
{
	size_t n = 0;
	const char *v;

	if (!sl->is_grpc)
		return;
	if ((v = sp_h2_head__header(hd, "grpc-status", &n)))
		sp_grpc_info__status(&sl->grpc, v, n);
	if ((v = sp_h2_head__header(hd, "grpc-message", &n)))
		sp_grpc_info__message(&sl->grpc, v, n);
}

static void on_response(struct h2_stream *h, const struct sp_h2_head *hd)
{
	struct h2_slot *sl = slot_find(h, hd->stream_id);
	size_t n = 0;
	const char *st;

	if (!sl) {
		h->stats->orphan_responses++;
		return;
	}
	sl->last_ns = hd->end_ns;
	if (!sl->resp_head) {
		struct sp_head_view v = head_view(hd);
		unsigned code = 0;

		st = sp_h2_head__header(hd, ":status", &n);
		for (size_t i = 0; st && i < n && i < 3; i++)
			code = code * 10 + (st[i] - '0');
		if (code >= 100 && code < 200)
			return;	/* informational: the real head follows */
		sl->resp_head = true;
		sl->resp.status = code;
		sl->resp.start_ns = hd->start_ns;
		sl->resp.end_ns = hd->end_ns;
		sl->req.headers_incomplete |= hd->incomplete;
		sl->resp.truncated |= hd->truncated;
		v.status = code;
		if (sl->req.sub)
			sl->req.sub->response_head(sl->req.sub_st, &v);
	}
	/* the head of a trailers-only response, or the trailers */
	grpc_status(sl, hd);
	if (hd->end_stream)
		finish(h, sl, NULL, hd->end_ns);
}

static void cb_head(void *ctx, uint8_t dir, const struct sp_h2_head *hd)
{
	struct h2_stream *h = ctx;
	size_t n;

	if (hd->push)
		return;	/* a pushed response is not a call the client made */
	if (h->client_dir < 0) {
		if (sp_h2_head__header(hd, ":method", &n))
			h->client_dir = dir;
		else if (sp_h2_head__header(hd, ":status", &n))
			h->client_dir = !dir;
		else
			return;
		h->sid->role = h->client_dir == SP_DIR_EGRESS ? SP_ROLE_CLIENT : SP_ROLE_SERVER;
	}
	if (dir == h->client_dir)
		on_request(h, hd);
	else
		on_response(h, hd);
}

static void cb_data(void *ctx, uint8_t dir, uint32_t id, const uint8_t *buf, size_t len,
		    bool end, uint64_t ts)
{
	struct h2_stream *h = ctx;
	struct h2_slot *sl = slot_find(h, id);

	if (!sl || h->client_dir < 0)
		return;
	sl->last_ns = ts;
	if (dir == h->client_dir) {
		sl->req.body_len += len;
		sl->req.end_ns = ts;
		if (len && sl->req.sub)
			sl->req.sub->request_body(sl->req.sub_st, (const char *)buf, len, ts);
		return;
	}
	sl->resp.body_len += len;
	sl->resp.end_ns = ts;
	if (len && sl->req.sub)
		sl->req.sub->response_body(sl->req.sub_st, (const char *)buf, len, ts);
	if (end)
		finish(h, sl, NULL, ts);
}

static void cb_rst(void *ctx, uint8_t dir, uint32_t id, uint32_t code, uint64_t ts)
{
	struct h2_stream *h = ctx;
	struct h2_slot *sl = slot_find(h, id);

	(void)dir;
	if (!sl)
		return;
	h->stats->h2_resets++;
	finish(h, sl, sp_h2_error_name(code), ts);
}

static void cb_goaway(void *ctx, uint8_t dir, uint32_t last, uint32_t code, uint64_t ts)
{
	struct h2_stream *h = ctx;

	/* the server's GOAWAY: the client's streams above last were never
	 * processed (RFC 9113 6.8) */
	if (h->client_dir < 0 || dir == h->client_dir)
		return;
	for (int i = 0; i < SP_H2_STREAMS_MAX; i++) {
		struct h2_slot *sl = &h->slots[i];

		if (sl->used && sl->id > last)
			finish(h, sl, code ? sp_h2_error_name(code) : "REFUSED_STREAM", ts);
	}
}

static const struct sp_h2_cbs cbs = {
	.head = cb_head, .data = cb_data, .rst = cb_rst, .goaway = cb_goaway,
};

/* The preface, or (a connection joined mid-way) a frame header that is
 * sane for one in progress. */
static bool h2_sniff(const uint8_t *buf, size_t len, uint8_t dir, uint8_t *role)
{
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

	if (len >= 16 &&
	    !memcmp(buf, preface, len < sizeof(preface) - 1 ? len : sizeof(preface) - 1)) {
		*role = dir == SP_DIR_EGRESS ? SP_ROLE_CLIENT : SP_ROLE_SERVER;
		return true;
	}
	if (!sp_h2_frame_plausible(buf, len))
		return false;
	*role = SP_ROLE_UNKNOWN;	/* told by the first head */
	return true;
}

static int h2_init(void *st, struct sp_stream_id *sid, const struct sp_proto_env *env,
		   struct sp_proto_stats *stats)
{
	struct h2_stream *h = st;
	int client_dir = -1;

	memset(h, 0, sizeof(*h));
	h->sid = sid;
	h->env = env;
	h->stats = stats;
	if (sid->role == SP_ROLE_CLIENT)
		client_dir = SP_DIR_EGRESS;
	else if (sid->role == SP_ROLE_SERVER)
		client_dir = SP_DIR_INGRESS;
	h->client_dir = client_dir;
	stats->h2_connections++;
	/* with no client known no direction expects a preface */
	return sp_h2_conn__init(&h->conn, client_dir < 0 ? 2 : client_dir, env->blocks, &cbs, h,
				&h->h2);
}

static int h2_feed(void *st, uint8_t dir, const uint8_t *buf, size_t len, uint64_t ts_first,
		   uint64_t ts_last)
{
	struct h2_stream *h = st;
	int err = sp_h2_conn__feed(&h->conn, dir, buf, len, ts_first, ts_last);

	stats_sync(h);
	if (err)
		h->stats->not_parsed++;
	return err == -EPROTO ? -EPROTO : 0;
}

static void h2_gap(void *st, uint8_t dir, uint64_t n, uint64_t ts)
{
	struct h2_stream *h = st;

	sp_h2_conn__gap(&h->conn, dir, n, ts);
	stats_sync(h);
}

static void h2_end(void *st, enum sp_stream_end how, const char *why, uint64_t ts)
{
	struct h2_stream *h = st;

	/* the peer closing its side ends the responses a client waits for;
	 * a server may still write its answers */
	if (how == SP_END_PEER_EOF && h->sid->role != SP_ROLE_CLIENT)
		return;
	for (int i = 0; i < SP_H2_STREAMS_MAX; i++)
		if (h->slots[i].used)
			finish(h, &h->slots[i], why ? why : "connection_closed", ts);
}

static bool h2_busy(const void *st)
{
	const struct h2_stream *h = st;

	for (int i = 0; i < SP_H2_STREAMS_MAX; i++)
		if (h->slots[i].used)
			return true;
	return false;
}

static void h2_fini(void *st)
{
	struct h2_stream *h = st;

	for (int i = 0; i < SP_H2_STREAMS_MAX; i++)
		if (h->slots[i].used)
			slot_release(h, &h->slots[i]);
	sp_h2_conn__fini(&h->conn);
}

const struct sp_proto sp_http2_proto = {
	.name = "http2",
	.sniff = h2_sniff,
	.state_size = sizeof(struct h2_stream),
	.init = h2_init,
	.feed = h2_feed,
	.gap = h2_gap,
	.end = h2_end,
	.busy = h2_busy,
	.fini = h2_fini,
};
