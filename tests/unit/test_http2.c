// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* HTTP/2 decoding and pairing through sp_http2_proto, on frames built here
 * with nghttp2's HPACK deflater (the encoder side a real peer runs). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <nghttp2/nghttp2.h>
#include "decode/http2.h"
#include "pair/h2_exchange.h"
#include "semantics/body_sub.h"
#include "semantics/grpc_span.h"
#include "semantics/http_span.h"
#include "spanprobe.h"
#include "util/blocks.h"

struct seen {
	int n;
	char method[16], target[256], host[256], error[32];
	uint16_t status;
	uint8_t major;
	bool incomplete;
	int grpc_status;
	char grpc_service[128], grpc_method[64];
	uint64_t resp_body;
	bool llm_call;
	char llm_name[128];
};

static struct seen seen[8];
static int nseen;

static void emit(const struct sp_proto_env *env, const struct sp_stream_id *sid,
		 struct sp_http_exchange *ex)
{
	struct seen *s = &seen[nseen < 8 ? nseen++ : 7];

	(void)env;
	(void)sid;
	memset(s, 0, sizeof(*s));
	snprintf(s->method, sizeof(s->method), "%s", ex->req->method);
	snprintf(s->target, sizeof(s->target), "%s", ex->req->target);
	snprintf(s->host, sizeof(s->host), "%s", ex->req->host);
	snprintf(s->error, sizeof(s->error), "%s", ex->error_type ? ex->error_type : "");
	s->status = ex->resp ? ex->resp->status : 0;
	s->resp_body = ex->resp ? ex->resp->body_len : 0;
	s->major = ex->req->http_major;
	s->incomplete = ex->req->headers_incomplete;
	s->grpc_status = ex->grpc ? ex->grpc->status : -2;
	if (ex->req->sub && ex->req->sub->is_call(ex->req->sub_st)) {
		s->llm_call = true;
		ex->req->sub->span_name(ex->req->sub_st, s->llm_name, sizeof(s->llm_name));
	}
	if (ex->grpc) {
		snprintf(s->grpc_service, sizeof(s->grpc_service), "%s", ex->grpc->service);
		snprintf(s->grpc_method, sizeof(s->grpc_method), "%s", ex->grpc->method);
	}
}

/* a byte stream per direction, built from frames */
struct wire {
	uint8_t b[2][8192];
	size_t n[2];
};

static void frame(struct wire *w, int dir, uint8_t type, uint8_t flags, uint32_t id,
		  const uint8_t *p, size_t len)
{
	uint8_t *o = w->b[dir] + w->n[dir];

	o[0] = len >> 16;
	o[1] = len >> 8;
	o[2] = len;
	o[3] = type;
	o[4] = flags;
	o[5] = id >> 24;
	o[6] = id >> 16;
	o[7] = id >> 8;
	o[8] = id;
	memcpy(o + 9, p, len);
	w->n[dir] += 9 + len;
}

/* a HEADERS frame (END_HEADERS) of the given name/value pairs */
static size_t hpack(nghttp2_hd_deflater *def, uint8_t *out, size_t cap, const char *const *kv)
{
	nghttp2_nv nv[16];
	size_t n = 0;
	ssize_t r;

	for (; kv[2 * n]; n++)
		nv[n] = (nghttp2_nv){ (uint8_t *)kv[2 * n], (uint8_t *)kv[2 * n + 1],
				      strlen(kv[2 * n]), strlen(kv[2 * n + 1]),
				      NGHTTP2_NV_FLAG_NONE };
	r = nghttp2_hd_deflate_hd(def, out, cap, nv, n);
	assert_true(r > 0);
	return r;
}

static void headers(struct wire *w, nghttp2_hd_deflater *def, int dir, uint32_t id, bool end,
		    const char *const *kv)
{
	uint8_t blk[2048];
	size_t n = hpack(def, blk, sizeof(blk), kv);

	frame(w, dir, SP_H2_HEADERS, SP_H2_F_END_HEADERS | (end ? SP_H2_F_END_STREAM : 0), id,
	      blk, n);
}

struct fixture {
	struct sp_blocks *blocks;
	struct sp_proto_env env;
	struct sp_proto_stats stats;
	struct sp_stream_id sid;
	uint8_t st[sizeof(uint8_t) * 65536] __attribute__((aligned(16)));
};

static struct fixture fx;
static struct sp_sem_opts sem;

static void fx_init(uint8_t role)
{
	nseen = 0;
	memset(&fx.stats, 0, sizeof(fx.stats));
	fx.blocks = sp_blocks__new(1 << 22, 1 << 16);
	fx.env = (struct sp_proto_env){ .blocks = fx.blocks, .sem = &sem, .emit = emit };
	fx.sid = (struct sp_stream_id){ .pid = 1, .fd = -1, .role = role };
	assert_true(sp_http2_proto.state_size <= sizeof(fx.st));
	assert_int_equal(sp_http2_proto.init(fx.st, &fx.sid, &fx.env, &fx.stats), 0);
}

static void fx_fini(void)
{
	sp_http2_proto.fini(fx.st);
	assert_int_equal(sp_blocks__stats(fx.blocks)->bytes_in_use, 0);
	sp_blocks__free(fx.blocks);
}

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/* A client's connection: preface, SETTINGS, a GET and its 200 with a
 * body, a POST that is reset; each direction fed split at one point. */
static void client_exchange(size_t split)
{
	nghttp2_hd_deflater *dq, *ds;
	static struct wire w;
	static const uint8_t settings[6] = { 0, 1, 0, 0, 0x10, 0 };	/* table 4096 */
	static const uint8_t cancel[4] = { 0, 0, 0, 8 };
	const char *req1[] = { ":method", "GET", ":scheme", "https", ":path", "/v1/models?key=s3cret",
			       ":authority", "api.example.com", "authorization", "Bearer sk-1", NULL };
	const char *resp1[] = { ":status", "200", "content-type", "application/json", NULL };
	const char *req2[] = { ":method", "POST", ":scheme", "https", ":path", "/v1/chat",
			       ":authority", "api.example.com", "authorization", "Bearer sk-1", NULL };

	memset(&w, 0, sizeof(w));
	assert_int_equal(nghttp2_hd_deflate_new(&dq, 4096), 0);
	assert_int_equal(nghttp2_hd_deflate_new(&ds, 4096), 0);
	memcpy(w.b[SP_DIR_EGRESS], preface, 24);
	w.n[SP_DIR_EGRESS] = 24;
	frame(&w, SP_DIR_EGRESS, SP_H2_SETTINGS, 0, 0, settings, 6);
	frame(&w, SP_DIR_INGRESS, SP_H2_SETTINGS, 0, 0, settings, 6);
	headers(&w, dq, SP_DIR_EGRESS, 1, true, req1);
	headers(&w, dq, SP_DIR_EGRESS, 3, false, req2);	/* dynamic table reused */
	headers(&w, ds, SP_DIR_INGRESS, 1, false, resp1);
	frame(&w, SP_DIR_INGRESS, SP_H2_DATA, SP_H2_F_END_STREAM, 1, (const uint8_t *)"{\"a\":1}", 7);
	frame(&w, SP_DIR_INGRESS, SP_H2_RST_STREAM, 0, 3, cancel, 4);
	nghttp2_hd_deflate_del(dq);
	nghttp2_hd_deflate_del(ds);

	fx_init(SP_ROLE_CLIENT);
	for (int d = 0; d < 2; d++) {
		size_t s = split < w.n[d] ? split : w.n[d];

		assert_int_equal(sp_http2_proto.feed(fx.st, d, w.b[d], s, 10, 11), 0);
		assert_int_equal(sp_http2_proto.feed(fx.st, d, w.b[d] + s, w.n[d] - s, 12, 13), 0);
	}
	assert_int_equal(nseen, 2);
	assert_string_equal(seen[0].method, "GET");
	assert_string_equal(seen[0].target, "/v1/models?key=REDACTED");
	assert_string_equal(seen[0].host, "api.example.com");
	assert_int_equal(seen[0].status, 200);
	assert_int_equal(seen[0].resp_body, 7);
	assert_int_equal(seen[0].major, 2);
	assert_false(seen[0].incomplete);
	assert_string_equal(seen[1].method, "POST");
	assert_string_equal(seen[1].target, "/v1/chat");
	assert_string_equal(seen[1].error, "CANCEL");
	assert_int_equal(fx.stats.h2_resets, 1);
	assert_int_equal(fx.stats.h2_joins, 0);
	assert_false(sp_http2_proto.busy(fx.st));
	fx_fini();
}

static void test_every_split(void **state)
{
	(void)state;
	for (size_t split = 0; split < 400; split++)
		client_exchange(split);
}

/* CONTINUATION, padding and PRIORITY on a HEADERS frame; gRPC trailers. */
static void test_grpc_continuation_padding(void **state)
{
	nghttp2_hd_deflater *dq, *ds;
	static struct wire w;
	uint8_t blk[1024], f[1100];
	const char *req[] = { ":method", "POST", ":scheme", "http", ":path", "/helloworld.Greeter/SayHello",
			      ":authority", "127.0.0.1:50051", "content-type", "application/grpc", "te", "trailers", NULL };
	const char *resp[] = { ":status", "200", "content-type", "application/grpc", NULL };
	const char *trl[] = { "grpc-status", "5", "grpc-message", "not found", NULL };
	size_t n, half;

	(void)state;
	memset(&w, 0, sizeof(w));
	assert_int_equal(nghttp2_hd_deflate_new(&dq, 4096), 0);
	assert_int_equal(nghttp2_hd_deflate_new(&ds, 4096), 0);
	memcpy(w.b[SP_DIR_INGRESS], preface, 24);	/* we are the server */
	w.n[SP_DIR_INGRESS] = 24;
	n = hpack(dq, blk, sizeof(blk), req);
	half = n / 2;
	/* HEADERS: PADDED (3 bytes of padding) and PRIORITY, first half */
	f[0] = 3;
	memset(f + 1, 0, 5);
	memcpy(f + 6, blk, half);
	memset(f + 6 + half, 0, 3);
	frame(&w, SP_DIR_INGRESS, SP_H2_HEADERS, SP_H2_F_PADDED | SP_H2_F_PRIORITY, 1, f, 6 + half + 3);
	frame(&w, SP_DIR_INGRESS, SP_H2_CONTINUATION, SP_H2_F_END_HEADERS, 1, blk + half, n - half);
	frame(&w, SP_DIR_INGRESS, SP_H2_DATA, SP_H2_F_END_STREAM, 1, (const uint8_t *)"\0\0\0\0\0", 5);
	headers(&w, ds, SP_DIR_EGRESS, 1, false, resp);
	headers(&w, ds, SP_DIR_EGRESS, 1, true, trl);
	nghttp2_hd_deflate_del(dq);
	nghttp2_hd_deflate_del(ds);

	fx_init(SP_ROLE_SERVER);
	for (size_t i = 0; i < w.n[SP_DIR_INGRESS]; i++)	/* byte by byte */
		assert_int_equal(sp_http2_proto.feed(fx.st, SP_DIR_INGRESS, w.b[SP_DIR_INGRESS] + i, 1, 1, 2), 0);
	assert_int_equal(sp_http2_proto.feed(fx.st, SP_DIR_EGRESS, w.b[SP_DIR_EGRESS], w.n[SP_DIR_EGRESS], 3, 4), 0);
	assert_int_equal(nseen, 1);
	assert_string_equal(seen[0].grpc_service, "helloworld.Greeter");
	assert_string_equal(seen[0].grpc_method, "SayHello");
	assert_int_equal(seen[0].grpc_status, 5);
	assert_int_equal(seen[0].status, 200);
	fx_fini();
}

/* Joined mid-way: the second request refers to table entries the first
 * made; what the static table and literals give decodes, the rest is
 * left out and marked. Garbage before the first frame is skipped. */
static void test_mid_stream_join(void **state)
{
	nghttp2_hd_deflater *dq, *ds;
	static struct wire w, skip;
	const char *req[] = { ":method", "GET", ":path", "/a", ":authority", "h.example", "x-custom", "v", NULL };
	const char *resp[] = { ":status", "204", "x-r", "1", NULL };

	(void)state;
	memset(&w, 0, sizeof(w));
	memset(&skip, 0, sizeof(skip));
	assert_int_equal(nghttp2_hd_deflate_new(&dq, 4096), 0);
	assert_int_equal(nghttp2_hd_deflate_new(&ds, 4096), 0);
	headers(&skip, dq, SP_DIR_EGRESS, 1, true, req);	/* before we joined */
	headers(&skip, ds, SP_DIR_INGRESS, 1, true, resp);
	memcpy(w.b[SP_DIR_EGRESS], "\xff\xfe", 2);	/* the tail of a frame */
	w.n[SP_DIR_EGRESS] = 2;
	headers(&w, dq, SP_DIR_EGRESS, 3, true, req);
	headers(&w, ds, SP_DIR_INGRESS, 3, true, resp);
	nghttp2_hd_deflate_del(dq);
	nghttp2_hd_deflate_del(ds);

	assert_true(sp_http2_proto.sniff(w.b[SP_DIR_INGRESS], w.n[SP_DIR_INGRESS], SP_DIR_INGRESS,
					 &(uint8_t){ 0 }));
	fx_init(SP_ROLE_UNKNOWN);
	assert_int_equal(sp_http2_proto.feed(fx.st, SP_DIR_EGRESS, w.b[0], w.n[0], 1, 2), -EPROTO);
	assert_int_equal(sp_http2_proto.feed(fx.st, SP_DIR_INGRESS, w.b[1], w.n[1], 3, 4), 0);
	assert_int_equal(nseen, 1);
	assert_string_equal(seen[0].method, "GET");	/* static table */
	assert_int_equal(seen[0].status, 204);
	assert_true(seen[0].incomplete);
	assert_int_equal(fx.sid.role, SP_ROLE_CLIENT);
	assert_int_equal(fx.stats.h2_joins, 2);
	fx_fini();
}

/* More open streams than the table holds: the oldest are evicted
 * (counted); the connection's end fails the rest. */
static void test_eviction_and_end(void **state)
{
	nghttp2_hd_deflater *dq;
	static struct wire w;
	const char *req[] = { ":method", "GET", ":path", "/", ":authority", "h", NULL };

	(void)state;
	memset(&w, 0, sizeof(w));
	assert_int_equal(nghttp2_hd_deflate_new(&dq, 4096), 0);
	memcpy(w.b[SP_DIR_EGRESS], preface, 24);
	w.n[SP_DIR_EGRESS] = 24;
	for (uint32_t i = 0; i < SP_H2_STREAMS_MAX + 3; i++)
		headers(&w, dq, SP_DIR_EGRESS, 1 + 2 * i, true, req);
	nghttp2_hd_deflate_del(dq);
	fx_init(SP_ROLE_CLIENT);
	assert_int_equal(sp_http2_proto.feed(fx.st, SP_DIR_EGRESS, w.b[0], w.n[0], 1, 2), 0);
	assert_int_equal(fx.stats.h2_evictions, 3);
	assert_int_equal(nseen, 3);
	assert_string_equal(seen[0].error, "spanprobe_evicted");
	assert_true(sp_http2_proto.busy(fx.st));
	nseen = 0;
	sp_http2_proto.end(fx.st, SP_END_CUT, "connection_reset", 5);
	assert_int_equal(nseen, 8);	/* recorded up to 8; all ended */
	assert_string_equal(seen[0].error, "connection_reset");
	assert_false(sp_http2_proto.busy(fx.st));
	fx_fini();
}

/* An OpenAI-compatible streamed chat completion over h2: the request
 * body and the SSE response, in DATA frames cut mid-event, reach the LLM
 * consumer through the pairing, which makes a model call of it. */
static void test_llm_sse_over_h2(void **state)
{
	nghttp2_hd_deflater *dq, *ds;
	static struct wire w;
	const char *req[] = { ":method", "POST", ":scheme", "https", ":path", "/v1/chat/completions",
			      ":authority", "api.openai.com", "content-type", "application/json",
			      "authorization", "Bearer sk-x", NULL };
	const char *resp[] = { ":status", "200", "content-type", "text/event-stream", NULL };
	static const char body[] =
		"{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
	static const char sse[] =
		"data: {\"id\":\"c1\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"}}]}\n\n"
		"data: {\"id\":\"c1\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n"
		"data: [DONE]\n\n";
	size_t third = (sizeof(sse) - 1) / 3;

	(void)state;
	memset(&w, 0, sizeof(w));
	assert_int_equal(nghttp2_hd_deflate_new(&dq, 4096), 0);
	assert_int_equal(nghttp2_hd_deflate_new(&ds, 4096), 0);
	memcpy(w.b[SP_DIR_EGRESS], preface, 24);
	w.n[SP_DIR_EGRESS] = 24;
	headers(&w, dq, SP_DIR_EGRESS, 1, false, req);
	frame(&w, SP_DIR_EGRESS, SP_H2_DATA, SP_H2_F_END_STREAM, 1, (const uint8_t *)body,
	      sizeof(body) - 1);
	headers(&w, ds, SP_DIR_INGRESS, 1, false, resp);
	frame(&w, SP_DIR_INGRESS, SP_H2_DATA, 0, 1, (const uint8_t *)sse, third);
	frame(&w, SP_DIR_INGRESS, SP_H2_DATA, 0, 1, (const uint8_t *)sse + third, third);
	frame(&w, SP_DIR_INGRESS, SP_H2_DATA, SP_H2_F_END_STREAM, 1, (const uint8_t *)sse + 2 * third,
	      sizeof(sse) - 1 - 2 * third);
	nghttp2_hd_deflate_del(dq);
	nghttp2_hd_deflate_del(ds);

	sem = (struct sp_sem_opts){ .llm = true, .llm_opts = { .content = true, .content_max = 4096 } };
	fx_init(SP_ROLE_CLIENT);
	assert_int_equal(sp_http2_proto.feed(fx.st, SP_DIR_EGRESS, w.b[0], w.n[0], 1, 2), 0);
	assert_int_equal(sp_http2_proto.feed(fx.st, SP_DIR_INGRESS, w.b[1], 60, 3, 4), 0);
	assert_int_equal(sp_http2_proto.feed(fx.st, SP_DIR_INGRESS, w.b[1] + 60, w.n[1] - 60, 5, 6), 0);
	assert_int_equal(nseen, 1);
	assert_true(seen[0].llm_call);
	assert_non_null(strstr(seen[0].llm_name, "gpt-4o-mini"));
	fx_fini();
	sem = (struct sp_sem_opts){ 0 };
}

/* A server's GOAWAY: the client's streams above its last-stream-id end
 * ERROR; the one below it still gets its response. A frame of a known type
 * that breaks its rules loses the framing, found again at the next frame. */
static void test_goaway_and_garbage(void **state)
{
	nghttp2_hd_deflater *dq, *ds;
	static struct wire w;
	const char *req[] = { ":method", "GET", ":path", "/g", ":authority", "h", NULL };
	const char *resp[] = { ":status", "200", NULL };
	static const uint8_t goaway[8] = { 0, 0, 0, 1, 0, 0, 0, 0 };
	static const uint8_t bad_ping[3] = { 1, 2, 3 };	/* PING must be 8 bytes */

	(void)state;
	memset(&w, 0, sizeof(w));
	assert_int_equal(nghttp2_hd_deflate_new(&dq, 4096), 0);
	assert_int_equal(nghttp2_hd_deflate_new(&ds, 4096), 0);
	memcpy(w.b[SP_DIR_EGRESS], preface, 24);
	w.n[SP_DIR_EGRESS] = 24;
	for (uint32_t id = 1; id <= 5; id += 2)
		headers(&w, dq, SP_DIR_EGRESS, id, true, req);
	frame(&w, SP_DIR_INGRESS, SP_H2_GOAWAY, 0, 0, goaway, 8);
	frame(&w, SP_DIR_INGRESS, SP_H2_PING, 0, 0, bad_ping, 3);
	headers(&w, ds, SP_DIR_INGRESS, 1, true, resp);
	nghttp2_hd_deflate_del(dq);
	nghttp2_hd_deflate_del(ds);

	fx_init(SP_ROLE_CLIENT);
	assert_int_equal(sp_http2_proto.feed(fx.st, SP_DIR_EGRESS, w.b[0], w.n[0], 1, 2), 0);
	assert_int_equal(sp_http2_proto.feed(fx.st, SP_DIR_INGRESS, w.b[1], w.n[1], 3, 4), -EPROTO);
	assert_int_equal(nseen, 3);
	assert_string_equal(seen[0].error, "REFUSED_STREAM");
	assert_string_equal(seen[1].error, "REFUSED_STREAM");
	assert_string_equal(seen[2].target, "/g");
	assert_int_equal(seen[2].status, 200);
	assert_string_equal(seen[2].error, "");
	fx_fini();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_split),
		cmocka_unit_test(test_grpc_continuation_padding),
		cmocka_unit_test(test_mid_stream_join),
		cmocka_unit_test(test_eviction_and_end),
		cmocka_unit_test(test_llm_sse_over_h2),
		cmocka_unit_test(test_goaway_and_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
