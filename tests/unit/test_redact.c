// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Credentials never leave the machine: headers, URLs, command lines. */
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "model/procs.h"
#include "util/redact.h"

static void url_is(const char *in, const char *want)
{
	char out[512];

	sp_redact_url(in, strlen(in), out, sizeof(out));
	assert_string_equal(out, want);
}

static void test_url(void **state)
{
	url_is("/v1/models", "/v1/models");
	url_is("/x?api_key=abc&x=1", "/x?api_key=REDACTED&x=1");
	url_is("/x?x=1&key=abc", "/x?x=1&key=REDACTED");
	url_is("/x?access_token=a&token=b&sig=c&Signature=d&X-Goog-Signature=e&AWSAccessKeyId=f",
	       "/x?access_token=REDACTED&token=REDACTED&sig=REDACTED&Signature=REDACTED"
	       "&X-Goog-Signature=REDACTED&AWSAccessKeyId=REDACTED");
	url_is("https://user:pass@api.example.com/p?q=1", "https://api.example.com/p?q=1");
	url_is("https://api.example.com/p?monkey=1#frag", "https://api.example.com/p?monkey=1#frag");
	url_is("/p?key", "/p?key");		/* no value, nothing to hide */
	url_is("/p?key=a#key=b", "/p?key=REDACTED#key=b");
	url_is("", "");
}

static void test_url_truncates_safely(void **state)
{
	char out[12];
	const char *in = "/x?api_key=0123456789abcdef";

	sp_redact_url(in, strlen(in), out, sizeof(out));
	assert_int_equal(strlen(out), sizeof(out) - 1);
	assert_null(strstr(out, "0123"));
}

static void test_headers(void **state)
{
	static const char *const secret[] = {
		"Authorization", "proxy-authorization", "X-Api-Key", "api-key", "Cookie",
		"Set-Cookie", "x-goog-api-key", "X-Custom-Secret", "anthropic-api-key", NULL,
	};
	static const char *const plain[] = {
		"Content-Type", "User-Agent", "Host", "Accept", "anthropic-version", NULL,
	};

	for (const char *const *h = secret; *h; h++)
		assert_true(sp_redact_header(*h, strlen(*h)));
	for (const char *const *h = plain; *h; h++)
		assert_false(sp_redact_header(*h, strlen(*h)));
}

static void cmdline_is(const char *argv, size_t len, const char *want)
{
	char out[256];

	sp_proc_cmdline(argv, len, out, sizeof(out));
	assert_string_equal(out, want);
}

#define ARGV(s) s, sizeof(s) - 1

static void test_cmdline(void **state)
{
	cmdline_is(ARGV("curl\0-H\0Authorization: Bearer sk-1\0https://a.b/c?api_key=z"),
		   "curl -H Authorization: REDACTED https://a.b/c?api_key=REDACTED");
	cmdline_is(ARGV("tool\0--token\0abc\0--api-key=def\0-u\0me:pw\0ok"),
		   "tool --token REDACTED --api-key=REDACTED -u REDACTED ok");
	cmdline_is(ARGV("env\0OPENAI_API_KEY=sk-x\0python3\0agent.py"),
		   "env OPENAI_API_KEY=REDACTED python3 agent.py");
	cmdline_is(ARGV("curl\0https://user:pw@h/x"), "curl https://h/x");
	/* a script in one argument: the secret goes, the rest stays */
	cmdline_is(ARGV("sh\0-c\0curl 'https://h/x?token=abc&y=2' -o /dev/null; echo ok"),
		   "sh -c curl 'https://h/x?token=REDACTED&y=2' -o /dev/null; echo ok");
	cmdline_is(ARGV("sh\0-c\0OPENAI_API_KEY=sk-1 python3 agent.py"),
		   "sh -c OPENAI_API_KEY=REDACTED python3 agent.py");
}

static void test_proc_name(void **state)
{
	char out[64];

	sp_proc_name("/usr/bin/python3.11", ARGV("python3\0-u\0/home/a/agent.py\0--x"), out,
		     sizeof(out));
	assert_string_equal(out, "python3 agent.py");
	sp_proc_name("/usr/bin/python3.11", ARGV("python3\0-m\0http.server"), out, sizeof(out));
	assert_string_equal(out, "python3 http.server");
	sp_proc_name("/usr/bin/python3.11", ARGV("python3\0-c\0print(1)"), out, sizeof(out));
	assert_string_equal(out, "python3");
	sp_proc_name("/usr/bin/curl", ARGV("curl\0https://x"), out, sizeof(out));
	assert_string_equal(out, "curl");
	sp_proc_name("/usr/bin/node", ARGV("node\0server.js"), out, sizeof(out));
	assert_string_equal(out, "node server.js");
	sp_proc_name("/usr/bin/dash", "", 0, out, sizeof(out));
	assert_string_equal(out, "dash");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_url_truncates_safely),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_cmdline),
		cmocka_unit_test(test_proc_name),
	};

	return cmocka_run_group_tests_name("redact", tests, NULL, NULL);
}
