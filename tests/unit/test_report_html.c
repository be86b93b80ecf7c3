// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The HTML report page: the data embedded whole and inert (nothing in it
 * ends its <script> element), the title escaped, nothing from the network. */
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <cmocka.h>
#include "report/html.h"

#define DATA_OPEN "<script type=\"application/json\" id=\"sp-data\">"

/* The page for data, as a NUL-terminated string (owned by the caller). */
static char *page(const char *title, const char *data, size_t len, size_t *size)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	assert_non_null(f);
	assert_int_equal(sp_report_html(f, title, data, len), 0);
	assert_int_equal(fclose(f), 0);
	if (size)
		*size = n;
	return buf;
}

static size_t count(const char *hay, size_t n, const char *needle)
{
	size_t k = 0, m = strlen(needle);

	for (size_t i = 0; i + m <= n; i++)
		k += !strncasecmp(hay + i, needle, m);
	return k;
}

/* The embedded data with html.c's escapes undone. */
static char *embedded(const char *html, size_t *len)
{
	const char *from = strstr(html, DATA_OPEN), *to;
	char *out, *o;

	assert_non_null(from);
	from += strlen(DATA_OPEN);
	to = strstr(from, "</script>");
	assert_non_null(to);
	out = o = malloc(to - from + 1);
	assert_non_null(out);
	while (from < to) {
		if (!strncmp(from, "\\u003c", 6)) {
			*o++ = '<';
			from += 6;
		} else if (!strncmp(from, "\\u0000", 6)) {
			*o++ = '\0';
			from += 6;
		} else if (!strncmp(from, "\\u2028", 6) || !strncmp(from, "\\u2029", 6)) {
			*o++ = '\xe2';
			*o++ = '\x80';
			*o++ = from[5] == '8' ? '\xa8' : '\xa9';
			from += 6;
		} else {
			*o++ = *from++;
		}
	}
	*len = o - out;
	return out;
}

static void test_page_holds_the_data(void **state)
{
	const char *data = "{\"traces\":[{\"id\":\"4bf92f35\",\"name\":\"invoke_agent agent.py\"}],"
			   "\"spans\":[{\"trace\":\"4bf92f35\",\"id\":\"00f067aa0ba902b7\","
			   "\"name\":\"chat gpt-4o\",\"start\":\"1764662400100000000\"}]}";
	size_t n, len;
	char *html = page("run.jsonl", data, strlen(data), &n), *back;

	assert_int_equal(strlen(html), n);
	assert_true(!strncmp(html, "<!DOCTYPE html>", 15));
	assert_non_null(strstr(html, "</html>\n"));
	/* a JSON document without '<' goes in byte for byte */
	assert_non_null(strstr(html, data));
	back = embedded(html, &len);
	assert_int_equal(len, strlen(data));
	assert_memory_equal(back, data, len);
	/* every placeholder filled: the style, the script, the title */
	assert_null(strstr(html, "@TITLE@"));
	assert_null(strstr(html, "@CSS@"));
	assert_null(strstr(html, "@DATA@"));
	assert_null(strstr(html, "@JS@"));
	assert_non_null(strstr(html, "<title>run.jsonl</title>"));
	assert_non_null(strstr(html, "--c-llm"));	/* waterfall.css */
	assert_non_null(strstr(html, "function buildModel"));	/* waterfall.js */
	free(back);
	free(html);
}

static void test_data_cannot_end_its_script(void **state)
{
	static const char data[] =
		"{\"spans\":[{\"name\":\"</script><script>alert(1)</script>\","
		"\"status_message\":\"</SCRIPT >x<!--<script>\","
		"\"attrs\":{\"a\":\"line\xe2\x80\xa8sep\xe2\x80\xa9\",\"nul\":\"a\0b\",\"lt\":\"\\\\<\"}}],"
		"\"tail\":\"\xe2\x80\xa8\"}";
	size_t n, len;
	char *html = page(NULL, data, sizeof(data) - 1, &n), *back;

	/* the page's own two scripts end; nothing from the data does */
	assert_int_equal(count(html, n, "</script"), 2);
	assert_int_equal(count(html, n, "<!--"), 2);	/* the template's two comments */
	assert_null(memmem(html, n, "\xe2\x80\xa8", 3));
	assert_null(memmem(html, n, "\xe2\x80\xa9", 3));
	assert_null(memchr(html, '\0', n));
	assert_non_null(strstr(html, "\\u003c/script>\\u003cscript>alert(1)\\u003c/script>"));
	/* and what the page's JSON.parse sees is the document as written */
	back = embedded(html, &len);
	assert_int_equal(len, sizeof(data) - 1);
	assert_memory_equal(back, data, len);
	free(back);
	free(html);
}

static void test_title_is_text(void **state)
{
	char *html = page("a<b>&\"'</title><script>x()</script>", "{}", 2, NULL);

	assert_non_null(strstr(html, "<title>a&lt;b&gt;&amp;&quot;&#39;&lt;/title&gt;&lt;script&gt;x()"
				     "&lt;/script&gt;</title>"));
	assert_int_equal(count(html, strlen(html), "</script"), 2);
	assert_int_equal(count(html, strlen(html), "<title>"), 1);
	free(html);
	/* no title: a default one */
	html = page(NULL, "{}", 2, NULL);
	assert_non_null(strstr(html, "<title>spanprobe report</title>"));
	free(html);
}

static void test_nothing_from_the_network(void **state)
{
	char *html = page("t", "{}", 2, NULL);
	const char *p;

	assert_null(strcasestr(html, "http://"));
	assert_null(strcasestr(html, "https://"));
	assert_null(strcasestr(html, "url("));	/* CSS fetches */
	assert_null(strcasestr(html, "@import"));
	assert_null(strcasestr(html, "fetch("));
	assert_null(strcasestr(html, "XMLHttpRequest"));
	for (p = html; (p = strpbrk(p, "sShH")); p++) {
		const char *v;

		if (strncasecmp(p, "src=", 4) && strncasecmp(p, "href=", 5))
			continue;
		v = strchr(p, '=') + 1;
		v += *v == '"' || *v == '\'';
		if (!strncmp(v, "//", 2) || !strncasecmp(v, "http:", 5) || !strncasecmp(v, "https:", 6))
			fail_msg("the page loads %.60s", v);
	}
	/* and the browser is told so: no source but the page itself */
	assert_non_null(strstr(html, "Content-Security-Policy\" content=\"default-src 'none'"));
	free(html);
}

static void test_errors(void **state)
{
	char small[64];
	FILE *f;

	assert_int_equal(sp_report_html(NULL, "t", "{}", 2), -EINVAL);
	f = fopen("/dev/null", "w");
	assert_non_null(f);
	assert_int_equal(sp_report_html(f, "t", NULL, 5), -EINVAL);
	assert_int_equal(sp_report_html(f, "t", NULL, 0), 0);	/* an empty report */
	fclose(f);
	/* a stream that fills up: an error, not a cut page reported as written */
	f = fmemopen(small, sizeof(small), "w");
	assert_non_null(f);
	assert_true(sp_report_html(f, "t", "{}", 2) < 0);
	fclose(f);
	f = fopen("/dev/full", "w");
	if (f) {
		assert_int_equal(sp_report_html(f, "t", "{}", 2), -ENOSPC);
		fclose(f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page_holds_the_data),
		cmocka_unit_test(test_data_cannot_end_its_script),
		cmocka_unit_test(test_title_is_text),
		cmocka_unit_test(test_nothing_from_the_network),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
