// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The HTTP/1 decoder against captured exchanges: every split point, keep-
 * alive, pipelining, chunked, HEAD, 1xx, bodies ending at close, holes,
 * garbage. Inputs are fed from heap copies so ASan sees any overread.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "decode/http1.h"

#define MAX_SEEN 16

struct seen {
	int n;
	struct {
		bool is_request, incomplete, body_truncated;
		char method[16];
		char url[256];
		char auth[64];
		uint16_t status;
		uint64_t body_len, start, end;
	} m[MAX_SEEN];
	bool head_request;	/* answer "nobody" for the response */
};

static void on_msg(void *ctx, struct sp_h1 *d, const struct sp_h1_msg *msg)
{
	struct seen *s = ctx;
	size_t len;
	const char *v;

	assert_true(s->n < MAX_SEEN);
	s->m[s->n].is_request = msg->is_request;
	s->m[s->n].incomplete = msg->incomplete;
	s->m[s->n].body_truncated = msg->body_truncated;
	strcpy(s->m[s->n].method, msg->method);
	snprintf(s->m[s->n].url, sizeof(s->m[s->n].url), "%.*s", msg->url_len,
		 msg->head + msg->url_off);
	v = sp_h1_msg__header(msg, "authorization", &len);
	snprintf(s->m[s->n].auth, sizeof(s->m[s->n].auth), "%.*s", v ? (int)len : 0, v ? v : "");
	s->m[s->n].status = msg->status;
	s->m[s->n].body_len = msg->body_len;
	s->m[s->n].start = msg->start_ns;
	s->m[s->n].end = msg->end_ns;
	s->n++;
}

static bool nobody(void *ctx, struct sp_h1 *d)
{
	return ((struct seen *)ctx)->head_request;
}

/* Feeds buf in two pieces split at `at`, from exact-size heap copies. */
static void feed_split(struct sp_h1 *d, const char *buf, size_t len, size_t at, uint64_t ts)
{
	char *a = malloc(at ? at : 1), *b = malloc(len - at ? len - at : 1);

	memcpy(a, buf, at);
	memcpy(b, buf + at, len - at);
	sp_h1__feed(d, a, at, ts, ts);
	sp_h1__feed(d, b, len - at, ts + 1, ts + 1);
	free(a);
	free(b);
}

/* A response decoder fed r whole, sent from ts 1 to 2, from an exact-size
 * heap copy that lives as long as the decoder (*copy; the caller frees it). */
static void feed_responses(struct sp_h1 *d, struct seen *s, const char *r, char **copy)
{
	size_t len = strlen(r);

	*copy = malloc(len);
	memcpy(*copy, r, len);
	sp_h1__init(d, false, on_msg, nobody, s);
	sp_h1__feed(d, *copy, len, 1, 2);
}

static const char REQS[] =
	"POST /v1/chat/completions?x=1 HTTP/1.1\r\n"
	"Host: api.example.com\r\n"
	"Authorization: Bearer sk-secret-value\r\n"
	"Content-Type: application/json\r\n"
	"Content-Length: 17\r\n"
	"\r\n"
	"{\"model\":\"gpt-4\"}"
	"GET /second HTTP/1.1\r\n"
	"Host: api.example.com\r\n"
	"\r\n";

static const char RESPS[] =
	"HTTP/1.1 200 OK\r\n"
	"Content-Type: application/json\r\n"
	"Transfer-Encoding: chunked\r\n"
	"\r\n"
	"5\r\nhello\r\n"
	"7\r\n, world\r\n"
	"0\r\n\r\n"
	"HTTP/1.1 404 Not Found\r\n"
	"Content-Length: 3\r\n"
	"\r\n"
	"nope";

static void test_every_split_requests(void **state)
{
	size_t len = strlen(REQS);

	for (size_t at = 0; at <= len; at++) {
		struct seen s = {};
		struct sp_h1 d;

		sp_h1__init(&d, true, on_msg, NULL, &s);
		feed_split(&d, REQS, len, at, 100);
		assert_int_equal(s.n, 2);
		assert_string_equal(s.m[0].method, "POST");
		assert_string_equal(s.m[0].url, "/v1/chat/completions?x=1");
		assert_string_equal(s.m[0].auth, "REDACTED");
		assert_int_equal(s.m[0].body_len, 17);
		/* an empty first piece: the message starts in the second */
		assert_int_equal(s.m[0].start, at ? 100 : 101);
		assert_string_equal(s.m[1].method, "GET");
		assert_string_equal(s.m[1].url, "/second");
		assert_false(s.m[0].incomplete || s.m[1].incomplete);
	}
}

static void test_every_split_responses(void **state)
{
	/* the last response is "nope" with Content-Length 3: one extra byte
	 * after it is garbage the decoder must survive */
	size_t len = strlen(RESPS);

	for (size_t at = 0; at <= len; at++) {
		struct seen s = {};
		struct sp_h1 d;

		sp_h1__init(&d, false, on_msg, nobody, &s);
		feed_split(&d, RESPS, len, at, 100);
		assert_int_equal(s.n, 2);
		assert_int_equal(s.m[0].status, 200);
		assert_int_equal(s.m[0].body_len, 12);	/* "hello, world" dechunked */
		assert_int_equal(s.m[1].status, 404);
		assert_int_equal(s.m[1].body_len, 3);
		/* split inside the first message: it ends in the second piece */
		assert_int_equal(s.m[0].end, at < len - strlen(strstr(RESPS, "HTTP/1.1 404")) ? 101 : 100);
	}
}

static void test_byte_at_a_time(void **state)
{
	struct seen s = {};
	struct sp_h1 d;

	sp_h1__init(&d, true, on_msg, NULL, &s);
	for (size_t i = 0; i < strlen(REQS); i++) {
		char *c = malloc(1);

		*c = REQS[i];
		sp_h1__feed(&d, c, 1, i, i);
		free(c);
	}
	assert_int_equal(s.n, 2);
	assert_string_equal(s.m[0].auth, "REDACTED");
	assert_int_equal(s.m[0].start, 0);
	assert_int_equal(s.m[0].end, strstr(REQS, "GET /second") - REQS - 1);
}

static void test_head_response_has_no_body(void **state)
{
	static const char r[] = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
				"HTTP/1.1 204 No Content\r\n\r\n";
	struct seen s = { .head_request = true };
	struct sp_h1 d;
	char *copy;

	feed_responses(&d, &s, r, &copy);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.m[0].status, 200);
	assert_int_equal(s.m[0].body_len, 0);
	assert_int_equal(s.m[1].status, 204);
	free(copy);
}

static void test_continue_then_final(void **state)
{
	static const char r[] = "HTTP/1.1 100 Continue\r\n\r\n"
				"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
	struct seen s = {};
	struct sp_h1 d;
	char *copy;

	feed_responses(&d, &s, r, &copy);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.m[0].status, 100);
	assert_int_equal(s.m[1].status, 201);
	free(copy);
}

static void test_body_until_close(void **state)
{
	static const char r[] = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it";
	struct seen s = {};
	struct sp_h1 d;
	char *copy;

	feed_responses(&d, &s, r, &copy);
	assert_int_equal(s.n, 0);
	assert_true(sp_h1__busy(&d));
	assert_false(sp_h1__eof(&d, 9));
	assert_int_equal(s.n, 1);
	assert_false(s.m[0].incomplete);
	assert_int_equal(s.m[0].body_len, 9);
	assert_int_equal(s.m[0].end, 9);
	free(copy);
}

static void test_eof_mid_body_is_incomplete(void **state)
{
	static const char r[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort";
	struct seen s = {};
	struct sp_h1 d;
	char *copy;

	feed_responses(&d, &s, r, &copy);
	assert_true(sp_h1__eof(&d, 7));
	assert_int_equal(s.n, 1);
	assert_true(s.m[0].incomplete);
	assert_int_equal(s.m[0].status, 200);
	assert_int_equal(s.m[0].end, 7);
	free(copy);
}

static void test_gap_inside_content_length_keeps_framing(void **state)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n0123456789";
	static const char next[] = "HTTP/1.1 204 No Content\r\n\r\n";
	struct seen s = {};
	struct sp_h1 d;
	char *tail = malloc(90);

	memset(tail, 'x', 90);
	sp_h1__init(&d, false, on_msg, nobody, &s);
	sp_h1__feed(&d, head, strlen(head), 1, 1);
	sp_h1__gap(&d, 9900, 2);	/* lost in the middle of the body */
	sp_h1__feed(&d, tail, 90, 3, 3);
	sp_h1__feed(&d, next, strlen(next), 4, 4);
	free(tail);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.m[0].body_len, 10000);
	assert_true(s.m[0].body_truncated);
	assert_false(s.m[0].incomplete);
	assert_int_equal(s.m[0].end, 3);
	assert_int_equal(s.m[1].status, 204);
}

static void test_gap_in_chunked_resyncs(void **state)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n";
	static const char next[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n";
	struct seen s = {};
	struct sp_h1 d;

	sp_h1__init(&d, false, on_msg, nobody, &s);
	sp_h1__feed(&d, head, strlen(head), 1, 1);
	sp_h1__gap(&d, 5000, 2);
	assert_int_equal(s.n, 1);	/* cut at the hole */
	assert_true(s.m[0].incomplete);
	assert_true(s.m[0].body_truncated);
	/* bytes from the middle of the lost stream are skipped ... */
	assert_int_equal(sp_h1__feed(&d, "\r\n0\r\n\r\n", 7, 3, 3), -EPROTO);
	/* ... and the next message start resyncs */
	assert_int_equal(sp_h1__feed(&d, next, strlen(next), 4, 4), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.m[1].status, 500);
}

static void test_garbage_never_crashes(void **state)
{
	struct seen s = {};
	struct sp_h1 d;
	unsigned seed = 1;

	for (int round = 0; round < 2000; round++) {
		size_t len = 1 + rand_r(&seed) % 300;
		char *buf = malloc(len);

		for (size_t i = 0; i < len; i++)
			buf[i] = (char)rand_r(&seed);
		/* sometimes a valid start followed by garbage */
		if (round % 3 == 0 && len > 16)
			memcpy(buf, "GET / HTTP/1.1\r\n", 16);
		s.n = 0;
		sp_h1__init(&d, round % 2, on_msg, nobody, &s);
		sp_h1__feed(&d, buf, len, 1, 1);
		sp_h1__gap(&d, rand_r(&seed) % 100, 2);
		sp_h1__eof(&d, 3);
		free(buf);
	}
	/* and it still decodes a good message afterwards */
	s.n = 0;
	sp_h1__init(&d, true, on_msg, NULL, &s);
	sp_h1__feed(&d, "garbage\r\n", 9, 1, 1);
	sp_h1__feed(&d, REQS, strlen(REQS), 2, 2);
	assert_int_equal(s.n, 2);
}

static void test_truncated_at_every_point(void **state)
{
	size_t len = strlen(REQS);
	/* where the first message (POST with its 17-byte body) ends */
	size_t first_end = strstr(REQS, "GET /second") - REQS;
	int cut_short = 0;

	/* A stream cut at any point: the messages that were whole before the
	 * cut come out whole, and the one in progress (any, unless the cut
	 * falls between two messages) comes out at EOF marked incomplete,
	 * never as a message that claims to be whole. */
	for (size_t at = 1; at < len; at++) {
		struct seen s = {};
		struct sp_h1 d;
		char *a = malloc(at);
		int whole = at >= first_end;
		bool busy, cut;

		memcpy(a, REQS, at);
		sp_h1__init(&d, true, on_msg, NULL, &s);
		sp_h1__feed(&d, a, at, 1, 1);
		busy = sp_h1__busy(&d);
		assert_int_equal(busy, at != first_end);
		assert_int_equal(s.n, whole);
		cut = sp_h1__eof(&d, 2);
		free(a);
		assert_int_equal(cut, busy);
		assert_int_equal(s.n, whole + cut);
		for (int i = 0; i < whole; i++) {
			assert_false(s.m[i].incomplete);
			assert_int_equal(s.m[i].end, 1);
			assert_string_equal(s.m[i].method, "POST");
		}
		if (cut) {
			assert_true(s.m[whole].incomplete);
			assert_int_equal(s.m[whole].end, 2);
			cut_short++;
		}
	}
	/* every cut but the one between the two messages */
	assert_int_equal(cut_short, len - 2);
}

static void test_huge_head_is_cut_not_lost(void **state)
{
	size_t n = 3 * SP_H1_HEAD_MAX;
	char *req = malloc(n + 256), *p = req;
	struct seen s = {};
	struct sp_h1 d;

	p += sprintf(p, "GET /big HTTP/1.1\r\n");
	for (int i = 0; p - req < (long)n; i++)
		p += sprintf(p, "X-Pad-%d: %0100d\r\n", i, i);
	p += sprintf(p, "Authorization: secret\r\n\r\n");
	sp_h1__init(&d, true, on_msg, NULL, &s);
	sp_h1__feed(&d, req, p - req, 1, 1);
	free(req);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.m[0].url, "/big");
}

static void test_looks_like_start(void **state)
{
	assert_true(sp_h1_looks_like_start("GET / HTTP/1.1", 14, true));
	assert_true(sp_h1_looks_like_start("DELETE /x", 9, true));
	assert_false(sp_h1_looks_like_start("GETX", 4, true));
	assert_true(sp_h1_looks_like_start("HTTP/1.1 200", 12, false));
	assert_false(sp_h1_looks_like_start("HTTP/2", 6, false));
	assert_false(sp_h1_looks_like_start("\x16\x03\x01", 3, true));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_split_requests),
		cmocka_unit_test(test_every_split_responses),
		cmocka_unit_test(test_byte_at_a_time),
		cmocka_unit_test(test_head_response_has_no_body),
		cmocka_unit_test(test_continue_then_final),
		cmocka_unit_test(test_body_until_close),
		cmocka_unit_test(test_eof_mid_body_is_incomplete),
		cmocka_unit_test(test_gap_inside_content_length_keeps_framing),
		cmocka_unit_test(test_gap_in_chunked_resyncs),
		cmocka_unit_test(test_garbage_never_crashes),
		cmocka_unit_test(test_truncated_at_every_point),
		cmocka_unit_test(test_huge_head_is_cut_not_lost),
		cmocka_unit_test(test_looks_like_start),
	};

	return cmocka_run_group_tests_name("http1", tests, NULL, NULL);
}
