// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "decode/tls_hello.h"

/* A ClientHello: SNI api.openai.com, ALPN h2 + http/1.1. */
static size_t client_hello(uint8_t *b)
{
	static const uint8_t ext[] = {
		0x00, 0x00, 0x00, 0x13, 0x00, 0x11, 0x00, 0x00, 0x0e,
		'a', 'p', 'i', '.', 'o', 'p', 'e', 'n', 'a', 'i', '.', 'c', 'o', 'm',
		0x00, 0x10, 0x00, 0x0e, 0x00, 0x0c, 0x02, 'h', '2',
		0x08, 'h', 't', 't', 'p', '/', '1', '.', '1',
	};
	size_t n = 0, body;

	b[n++] = 22; b[n++] = 3; b[n++] = 1; n += 2;		/* record, length later */
	b[n++] = 1; n += 3;					/* ClientHello */
	body = n;
	b[n++] = 3; b[n++] = 3;
	memset(b + n, 0xaa, 32); n += 32;
	b[n++] = 0;						/* session id */
	b[n++] = 0; b[n++] = 2; b[n++] = 0x13; b[n++] = 0x01;	/* suites */
	b[n++] = 1; b[n++] = 0;					/* compression */
	b[n++] = 0; b[n++] = sizeof(ext);
	memcpy(b + n, ext, sizeof(ext)); n += sizeof(ext);
	b[3] = (n - 5) >> 8; b[4] = (n - 5) & 0xff;
	b[6] = 0; b[7] = (n - body) >> 8; b[8] = (n - body) & 0xff;
	return n;
}

/* A TLS 1.3 ServerHello (supported_versions 0x0304). */
static size_t server_hello(uint8_t *b)
{
	size_t n = 0, body;

	b[n++] = 22; b[n++] = 3; b[n++] = 3; n += 2;
	b[n++] = 2; n += 3;
	body = n;
	b[n++] = 3; b[n++] = 3;
	memset(b + n, 0xbb, 32); n += 32;
	b[n++] = 0;
	b[n++] = 0x13; b[n++] = 0x01; b[n++] = 0;
	b[n++] = 0; b[n++] = 6;
	b[n++] = 0; b[n++] = 43; b[n++] = 0; b[n++] = 2; b[n++] = 3; b[n++] = 4;
	b[3] = (n - 5) >> 8; b[4] = (n - 5) & 0xff;
	b[6] = 0; b[7] = (n - body) >> 8; b[8] = (n - body) & 0xff;
	return n;
}

static void test_client_hello(void **state)
{
	uint8_t b[256];
	size_t n = client_hello(b);
	struct sp_tls_client_hello ch;

	(void)state;
	assert_int_equal(sp_tls_client_hello_parse(b, n, &ch), SP_TLS_OK);
	assert_int_equal(ch.sni.len, 14);
	assert_memory_equal(ch.sni.p, "api.openai.com", 14);
	assert_int_equal(ch.nalpn, 2);
	assert_memory_equal(ch.alpn[0].p, "h2", 2);
	assert_memory_equal(ch.alpn[1].p, "http/1.1", 8);
}

/* Every prefix, each against the end of a heap block (ASan sees a read
 * past it): more, never a wrong answer or a crash. */
static void test_client_hello_prefixes(void **state)
{
	uint8_t b[256];
	size_t n = client_hello(b);
	struct sp_tls_client_hello ch;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		uint8_t *c = malloc(i ? i : 1);

		memcpy(c, b, i);
		assert_int_equal(sp_tls_client_hello_parse(c, i, &ch), SP_TLS_MORE);
		free(c);
	}
}

static void test_server_hello(void **state)
{
	uint8_t b[128];
	size_t n = server_hello(b);
	struct sp_tls_server_hello sh;

	(void)state;
	assert_int_equal(sp_tls_server_hello_parse(b, n, &sh), SP_TLS_OK);
	assert_int_equal(sh.version, 0x0304);
	assert_string_equal(sp_tls_version_str(sh.version), "1.3");
	for (size_t i = 0; i < n; i++)
		assert_int_equal(sp_tls_server_hello_parse(b, i, &sh), SP_TLS_MORE);
}

static void test_garbage(void **state)
{
	uint8_t b[256];
	size_t n = client_hello(b);
	struct sp_tls_client_hello ch;
	struct sp_tls_server_hello sh;

	(void)state;
	assert_int_equal(sp_tls_client_hello_parse((const uint8_t *)"GET / HTTP/1.1\r\n", 16, &ch),
			 SP_TLS_BAD);
	/* a ServerHello is no ClientHello and back */
	assert_int_equal(sp_tls_server_hello_parse(b, n, &sh), SP_TLS_BAD);
	/* every byte flipped: a verdict, never a crash */
	for (size_t i = 0; i < n; i++) {
		uint8_t c[256];

		memcpy(c, b, n);
		c[i] ^= 0xff;
		int v = sp_tls_client_hello_parse(c, n, &ch);
		assert_true(v == SP_TLS_OK || v == SP_TLS_MORE || v == SP_TLS_BAD);
		assert_true(ch.sni.len <= 255);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_hello),
		cmocka_unit_test(test_client_hello_prefixes),
		cmocka_unit_test(test_server_hello),
		cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
