// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Content codings: each one, fed cut at every point and a byte at a time,
 * bodies cut short, corrupt input, stacked and unknown codings, and a
 * compression bomb stopped at the cap.
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
#include "codings.h"
#include "decode/content.h"

struct sink {
	char *buf;
	size_t len, cap;
	size_t calls, biggest;
};

static void collect(void *ctx, const char *buf, size_t len)
{
	struct sink *k = ctx;

	assert_true(len > 0);
	k->calls++;
	if (len > k->biggest)
		k->biggest = len;
	if (k->len + len > k->cap) {
		k->cap = (k->len + len) * 2;
		k->buf = realloc(k->buf, k->cap);
		assert_non_null(k->buf);
	}
	memcpy(k->buf + k->len, buf, len);
	k->len += len;
}

/* Only counts (for the bomb: 64 MiB need not be kept). */
static void count(void *ctx, const char *buf, size_t len)
{
	struct sink *k = ctx;

	k->len += len;
	k->calls++;
}

/* Text that compresses, but not to nothing. */
static char *sample(size_t n)
{
	char *s = malloc(n);
	unsigned seed = 3;

	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		s[i] = rand_r(&seed) % 4 ? "the quick brown fox "[i % 20] : 'a' + rand_r(&seed) % 26;
	return s;
}

static const char *header_of(const char *enc)
{
	return strcmp(enc, "rawdeflate") ? enc : "deflate";
}

static const char *const ENCS[] = { "gzip", "x-gzip", "deflate", "rawdeflate", "br", "zstd" };
#define NENCS (sizeof(ENCS) / sizeof(ENCS[0]))

static void test_each_coding_cut_at_every_point(void **state)
{
	size_t n = 3000;
	char *text = sample(n);
	uint8_t z[8192];

	for (size_t e = 0; e < NENCS; e++) {
		size_t zn = compress_with(ENCS[e], text, n, z, sizeof(z));

		for (size_t at = 0; at <= zn; at++) {
			struct sink k = {};
			struct sp_content *c = sp_content__new(header_of(ENCS[e]),
							       strlen(header_of(ENCS[e])), 0,
							       collect, &k);

			assert_non_null(c);
			assert_int_equal(sp_content__feed(c, (char *)z, at), 0);
			/* a prefix decodes to a prefix, never to more */
			assert_true(k.len <= n);
			assert_memory_equal(k.buf ?: "", text, k.len);
			if (at < zn)
				assert_int_equal(sp_content__finish(c), -EPIPE);
			assert_int_equal(sp_content__feed(c, (char *)z + at, zn - at), 0);
			assert_int_equal(k.len, n);
			assert_memory_equal(k.buf, text, n);
			assert_int_equal(sp_content__finish(c), 0);
			assert_int_equal(sp_content__decoded(c), n);
			sp_content__free(c);
			free(k.buf);
		}
	}
	free(text);
}

static void test_byte_at_a_time_and_large(void **state)
{
	size_t n = 300000;	/* many 16 KiB pieces out */
	char *text = sample(n);
	size_t cap = n + 1024;
	uint8_t *z = malloc(cap);

	for (size_t e = 0; e < NENCS; e++) {
		size_t zn = compress_with(ENCS[e], text, n, z, cap);
		struct sink k = {}, one = {};
		struct sp_content *c = sp_content__new(header_of(ENCS[e]), strlen(header_of(ENCS[e])),
						       0, collect, &k);
		struct sp_content *b = sp_content__new(header_of(ENCS[e]), strlen(header_of(ENCS[e])),
						       0, collect, &one);

		assert_non_null(c);
		assert_non_null(b);
		/* all at once: every byte out, the last ones too */
		assert_int_equal(sp_content__feed(c, (char *)z, zn), 0);
		assert_int_equal(k.len, n);
		assert_memory_equal(k.buf, text, n);
		assert_true(k.biggest <= 16384);
		assert_true(k.calls >= n / 16384);
		for (size_t i = 0; i < zn; i++)
			assert_int_equal(sp_content__feed(b, (char *)z + i, 1), 0);
		assert_int_equal(one.len, n);
		assert_memory_equal(one.buf, text, n);
		assert_int_equal(sp_content__finish(b), 0);
		sp_content__free(c);
		sp_content__free(b);
		free(k.buf);
		free(one.buf);
	}
	free(z);
	free(text);
}

static void test_identity_and_names(void **state)
{
	static const char *const pass[] = { NULL, "", "identity", " Identity " };
	static const char *const refused[] = { "compress", "gzip, br", "br,zstd", "gzip;q=1, deflate",
					       "snappy" };
	struct sink k = {};
	uint8_t z[256];
	size_t zn = compress_with("gzip", "hello", 5, z, sizeof(z));

	for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
		struct sp_content *c = sp_content__new(pass[i], pass[i] ? strlen(pass[i]) : 0, 4,
						       collect, &k);

		assert_non_null(c);
		k.len = 0;
		/* identity passes through as it is, uncapped */
		assert_int_equal(sp_content__feed(c, "plain text", 10), 0);
		assert_int_equal(k.len, 10);
		assert_memory_equal(k.buf, "plain text", 10);
		assert_int_equal(sp_content__finish(c), 0);
		sp_content__free(c);
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		errno = 0;
		assert_null(sp_content__new(refused[i], strlen(refused[i]), 0, collect, &k));
		assert_int_equal(errno, ENOTSUP);
	}
	/* names are case-insensitive; identity next to a coding is no coding */
	{
		static const char *const gz[] = { "GZIP", " gzip ", "identity, gzip", "x-gzip" };

		for (size_t i = 0; i < sizeof(gz) / sizeof(gz[0]); i++) {
			struct sp_content *c = sp_content__new(gz[i], strlen(gz[i]), 0, collect, &k);

			assert_non_null(c);
			k.len = 0;
			assert_int_equal(sp_content__feed(c, (char *)z, zn), 0);
			assert_int_equal(k.len, 5);
			assert_memory_equal(k.buf, "hello", 5);
			sp_content__free(c);
		}
	}
	sp_content__free(NULL);
	free(k.buf);
}

static void test_corrupt_is_sticky(void **state)
{
	static const char garbage[] = "this is not compressed at all, not even a little";
	static uint8_t z[65536];

	for (size_t e = 0; e < NENCS; e++) {
		struct sink k = {};
		struct sp_content *c;
		size_t zn;
		int err;

		if (!strcmp(ENCS[e], "rawdeflate"))
			continue;	/* any bytes may start a raw deflate stream */
		c = sp_content__new(header_of(ENCS[e]), strlen(header_of(ENCS[e])), 0, collect, &k);
		assert_non_null(c);
		err = sp_content__feed(c, garbage, sizeof(garbage));
		assert_int_equal(err, -EBADMSG);
		assert_int_equal(k.len, 0);
		zn = compress_with(ENCS[e], "ok", 2, z, sizeof(z));
		assert_int_equal(sp_content__feed(c, (char *)z, zn), -EBADMSG);
		assert_int_equal(sp_content__finish(c), -EBADMSG);
		assert_int_equal(k.len, 0);
		sp_content__free(c);

		/* good bytes, then a flipped one: what came before stands */
		{
			size_t n = 40000;
			char *text = sample(n);

			zn = compress_with(ENCS[e], text, n, z, sizeof(z));
			for (size_t i = zn / 2; i < zn; i++)
				z[i] ^= 0x5a;
			c = sp_content__new(header_of(ENCS[e]), strlen(header_of(ENCS[e])), 0,
					    collect, &k);
			err = sp_content__feed(c, (char *)z, zn);
			assert_true(err == -EBADMSG || sp_content__finish(c) == -EPIPE);
			assert_true(k.len < n);
			sp_content__free(c);
			free(text);
			free(k.buf);
		}
	}
}

static void test_concatenated_members_and_frames(void **state)
{
	uint8_t z[1024];
	size_t a, b;
	struct sink k = {};
	struct sp_content *c;

	/* gzip: two members, the second in a later read (RFC 1952 2.2) */
	a = compress_with("gzip", "first ", 6, z, sizeof(z));
	b = compress_with("gzip", "second", 6, z + a, sizeof(z) - a);
	c = sp_content__new("gzip", 4, 0, collect, &k);
	assert_int_equal(sp_content__feed(c, (char *)z, a), 0);
	assert_int_equal(sp_content__feed(c, (char *)z + a, b), 0);
	assert_int_equal(k.len, 12);
	assert_memory_equal(k.buf, "first second", 12);
	/* bytes after the end that start no member are ignored */
	assert_int_equal(sp_content__feed(c, "\0\0\0", 3), 0);
	assert_int_equal(sp_content__finish(c), 0);
	sp_content__free(c);

	/* zstd: two frames in one read */
	k.len = 0;
	a = compress_with("zstd", "first ", 6, z, sizeof(z));
	b = compress_with("zstd", "second", 6, z + a, sizeof(z) - a);
	c = sp_content__new("zstd", 4, 0, collect, &k);
	assert_int_equal(sp_content__feed(c, (char *)z, a + b), 0);
	assert_int_equal(k.len, 12);
	assert_memory_equal(k.buf, "first second", 12);
	assert_int_equal(sp_content__finish(c), 0);
	sp_content__free(c);
	free(k.buf);
}

/* 1 GiB of zeros is ~1 MiB of deflate: it stops at the cap. */
static void test_bomb_stops_at_cap(void **state)
{
	static const char *const encs[] = { "gzip", "deflate", "br", "zstd" };
	size_t n = 100u << 20;	/* 100 MiB of zeros */
	char *zeros = calloc(1, n);
	size_t cap = n / 100 + (1u << 20);
	uint8_t *z = malloc(cap);

	for (size_t e = 0; e < sizeof(encs) / sizeof(encs[0]); e++) {
		size_t zn = compress_with(encs[e], zeros, n, z, cap);
		uint64_t caps[] = { 0, 1000 };

		for (size_t m = 0; m < 2; m++) {
			struct sink k = {};
			struct sp_content *c = sp_content__new(encs[e], strlen(encs[e]), caps[m], count,
							       &k);
			uint64_t want = caps[m] ? caps[m] : SP_CONTENT_MAX_DEFAULT;
			int err = 0;

			assert_non_null(c);
			/* in 64 KiB reads, as a socket would give it */
			for (size_t at = 0; at < zn && !err; at += 65536)
				err = sp_content__feed(c, (char *)z + at,
						       zn - at < 65536 ? zn - at : 65536);
			assert_int_equal(err, -E2BIG);
			assert_int_equal(k.len, want);
			assert_int_equal(sp_content__decoded(c), want);
			/* and nothing more comes out */
			assert_int_equal(sp_content__feed(c, (char *)z, zn), -E2BIG);
			assert_int_equal(k.len, want);
			assert_int_equal(sp_content__finish(c), -E2BIG);
			sp_content__free(c);
		}
	}
	free(z);
	free(zeros);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_coding_cut_at_every_point),
		cmocka_unit_test(test_byte_at_a_time_and_large),
		cmocka_unit_test(test_identity_and_names),
		cmocka_unit_test(test_corrupt_is_sticky),
		cmocka_unit_test(test_concatenated_members_and_frames),
		cmocka_unit_test(test_bomb_stops_at_cap),
	};

	return cmocka_run_group_tests_name("content", tests, NULL, NULL);
}
