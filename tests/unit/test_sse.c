// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * SSE and NDJSON framing: every line ending, every split point, a byte at
 * a time, lines over the bound, and what an unfinished stream reports.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "decode/sse.h"

/* What came out, as text: "D:value|" per data line, "!" per dispatch. */
struct log {
	char s[8192];
	size_t n;
	const char *lo, *hi;	/* the caller's buffer, for the zero-copy check */
	int borrowed;
};

static void on_field(void *ctx, enum sp_sse_field f, const char *v, size_t len)
{
	struct log *g = ctx;
	static const char tag[] = "?DEIR!";

	assert_true(f >= SP_SSE_DATA && f <= SP_SSE_DISPATCH);
	if (g->lo && v >= g->lo && v < g->hi)
		g->borrowed++;
	if (f == SP_SSE_DISPATCH) {
		assert_int_equal(len, 0);
		g->n += snprintf(g->s + g->n, sizeof(g->s) - g->n, "!");
		return;
	}
	g->n += snprintf(g->s + g->n, sizeof(g->s) - g->n, "%c:%.*s|", tag[f], (int)len, v);
}

/* Runs body through a framer in the given reads; returns the log. */
static void frame(enum sp_sse_framing fr, uint32_t max, const char *body, size_t len,
		  const size_t *cuts, int ncuts, struct log *g, uint64_t *dropped)
{
	struct sp_sse *s = sp_sse__new(fr, max, on_field, g);
	size_t at = 0;

	assert_non_null(s);
	memset(g, 0, sizeof(*g));
	for (int i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;

		sp_sse__feed(s, body + at, end - at);
		at = end;
	}
	sp_sse__finish(s);
	if (dropped)
		*dropped = sp_sse__dropped(s);
	sp_sse__free(s);
}

static const char STREAM[] =
	"\xef\xbb\xbf: a comment, then an event with two data lines\n"
	"event: message_start\n"
	"data: {\"a\":1,\n"
	"data:\"b\":2}\r\n"
	"id: 7\r\n"
	"\r\n"
	"retry: 3000\r"
	"\r"
	"data:  two spaces keep one\n"
	"data\n"
	"unknown: ignored\n"
	"dataX: ignored too\n"
	"\n"
	"\n"
	"data: [DONE]\n\n";

static const char WANT[] = "E:message_start|D:{\"a\":1,|D:\"b\":2}|I:7|!R:3000|!D: two spaces keep one|"
			   "D:|!D:[DONE]|!";

static void test_sse_fields_and_endings(void **state)
{
	struct log g;

	frame(SP_SSE_EVENTS, 1024, STREAM, strlen(STREAM), NULL, 0, &g, NULL);
	assert_string_equal(g.s, WANT);
}

static void test_sse_every_split(void **state)
{
	size_t len = strlen(STREAM);
	struct log g;

	for (size_t a = 0; a <= len; a++) {
		size_t cut[1] = { a };

		frame(SP_SSE_EVENTS, 1024, STREAM, len, cut, 1, &g, NULL);
		assert_string_equal(g.s, WANT);
		/* and in three reads */
		for (size_t b = a; b <= len; b += 5) {
			size_t cuts[2] = { a, b };

			frame(SP_SSE_EVENTS, 1024, STREAM, len, cuts, 2, &g, NULL);
			assert_string_equal(g.s, WANT);
		}
	}
	/* a byte at a time */
	{
		size_t *cuts = calloc(len, sizeof(*cuts));

		for (size_t i = 0; i < len; i++)
			cuts[i] = i;
		frame(SP_SSE_EVENTS, 1024, STREAM, len, cuts, len, &g, NULL);
		assert_string_equal(g.s, WANT);
		free(cuts);
	}
}

static void test_zero_copy_when_whole(void **state)
{
	static const char body[] = "data: one\n\ndata: two\n\n";
	struct sp_sse *s;
	struct log g = {};

	g.lo = body;
	g.hi = body + sizeof(body);
	s = sp_sse__new(SP_SSE_EVENTS, 64, on_field, &g);
	sp_sse__feed(s, body, strlen(body));
	sp_sse__free(s);
	assert_string_equal(g.s, "D:one|!D:two|!");
	/* both values straight from the caller's bytes */
	assert_int_equal(g.borrowed, 2);
}

static void test_lines_over_the_bound(void **state)
{
	static const char bom2[] = "data: 0123456789abcdef\n\xef\xbb\xbf" "data: x\n\n";
	/* max 16: a data line of 16 bytes is kept, 17 are dropped */
	static const char body[] = "data: 0123456789\n"	/* 16 */
				   "data: 0123456789a\n"	/* 17: dropped */
				   "data: ok\n\n"
				   "data: 0123456789abcdefghijklmnopqrstuvwxyz\n"	/* dropped */
				   "data: after\n\n";
	size_t len = strlen(body);
	uint64_t dropped;
	struct log g;

	for (size_t a = 0; a <= len; a++) {
		size_t cut[1] = { a };

		frame(SP_SSE_EVENTS, 16, body, len, cut, 1, &g, &dropped);
		assert_string_equal(g.s, "D:0123456789|D:ok|!D:after|!");
		assert_int_equal(dropped, 2);
	}
	/* a byte at a time: the long line never grows the buffer past 16 */
	{
		struct sp_sse *s = sp_sse__new(SP_SSE_NDJSON, 16, on_field, &g);
		static const char nd[] = "{\"a\":1}\n{\"long\":\"0123456789\"}\n{\"b\":2}";

		memset(&g, 0, sizeof(g));
		for (size_t i = 0; i < strlen(nd); i++)
			sp_sse__feed(s, nd + i, 1);
		sp_sse__finish(s);
		assert_string_equal(g.s, "D:{\"a\":1}|D:{\"b\":2}|");
		assert_int_equal(sp_sse__dropped(s), 1);
		sp_sse__free(s);
	}
	/* a BOM is only skipped at the very start, even if that line was dropped */
	frame(SP_SSE_EVENTS, 16, bom2, sizeof(bom2) - 1, NULL, 0, &g, &dropped);
	assert_string_equal(g.s, "");
	assert_int_equal(dropped, 1);
	errno = 0;
	assert_null(sp_sse__new(SP_SSE_EVENTS, 0, on_field, &g));
	assert_int_equal(errno, EINVAL);
	sp_sse__free(NULL);
}

static void test_ndjson(void **state)
{
	static const char body[] = "{\"a\":1}\r\n\n{\"b\":\"x\\ry\"}\n   \n{\"c\":3}";
	size_t len = strlen(body);
	struct log g;

	for (size_t a = 0; a <= len; a++) {
		size_t cut[1] = { a };

		frame(SP_SSE_NDJSON, 1024, body, len, cut, 1, &g, NULL);
		/* CRLF ends a line too; blank lines are not records; the
		 * last one counts without its newline; no dispatches */
		assert_string_equal(g.s, "D:{\"a\":1}|D:{\"b\":\"x\\ry\"}|D:   |D:{\"c\":3}|");
	}
}

static void test_unfinished_stream(void **state)
{
	static const char body[] = "data: {\"a\":1}\n\ndata: {\"cut\":";
	struct log g;

	/* an SSE line or event that never ended is not reported */
	frame(SP_SSE_EVENTS, 1024, body, strlen(body), NULL, 0, &g, NULL);
	assert_string_equal(g.s, "D:{\"a\":1}|!");
	/* fields without their blank line: reported, never dispatched */
	frame(SP_SSE_EVENTS, 1024, "data: x\n", 8, NULL, 0, &g, NULL);
	assert_string_equal(g.s, "D:x|");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sse_fields_and_endings),
		cmocka_unit_test(test_sse_every_split),
		cmocka_unit_test(test_zero_copy_when_whole),
		cmocka_unit_test(test_lines_over_the_bound),
		cmocka_unit_test(test_ndjson),
		cmocka_unit_test(test_unfinished_stream),
	};

	return cmocka_run_group_tests_name("sse", tests, NULL, NULL);
}
