// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Go function table and build-information readers
 * (discovery/gopclntab.c).
 *
 * The tables are built here in each format's layout around values read
 * from a real binary's section: tests/integration/go_tls built by Debian's
 * Go 1.19.8 (go1.19 .gopclntab, magic 0xfffffff0: textStart 0x401000,
 * funcnameOffset 0x60, crypto/tls.(*Conn).Write at entryoff 0x1a9600 up to
 * crypto/tls.(*Conn).Write.func2 at 0x1a9dc0, Read at 0x1aaac0 up to
 * Read.func1 at 0x1aaec0, net.(*TCPConn).Close at 0x181f00 up to
 * LocalAddr at 0x181f20; its .go.buildinfo's first 48 bytes are copied
 * below). Every table is also cut at every length and bytes of it are
 * overwritten at random, in buffers of exactly that size (so ASan sees
 * any read past the end).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "discovery/gopclntab.h"

#define TEXT 0x401000ull

struct fn {
	const char *name;
	uint32_t entryoff;
};

/* sorted by entry, as the linker writes them; END ends the last */
static const struct fn fns[] = {
	{ "net.(*TCPConn).Close", 0x181f00 },
	{ "net.(*TCPConn).LocalAddr", 0x181f20 },
	{ "crypto/tls.(*Conn).Write", 0x1a9600 },
	{ "crypto/tls.(*Conn).Write.func2", 0x1a9dc0 },
	{ "crypto/tls.(*Conn).Read", 0x1aaac0 },
	{ "crypto/tls.(*Conn).Read.func1", 0x1aaec0 },
};
#define NFN (sizeof(fns) / sizeof(fns[0]))
#define END 0x1aaf00u

static void put(uint8_t *b, size_t at, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		b[at + i] = (uint8_t)(v >> (8 * i));
}

/* A table of format ver (116, 118, 120) in b; returns its length. The
 * header's textStart is text (118+). */
static size_t build(uint8_t *b, size_t cap, int ver, uint64_t text)
{
	unsigned nw = ver == 116 ? 7 : 8, ps = 8;
	size_t hdr = 8 + nw * ps, names = 0x60, ftab, rec, at;
	uint32_t nameoff[NFN];
	size_t esz = ver == 116 ? 16 : 8, fsz = ver == 116 ? 16 : 8;

	memset(b, 0, cap);
	assert_true(hdr <= names);
	put(b, 0, ver == 116 ? 0xfffffffa : ver == 118 ? 0xfffffff0 : 0xfffffff1, 4);
	b[6] = 1;	/* pc quantum */
	b[7] = (uint8_t)ps;
	at = names;
	for (size_t i = 0; i < NFN; i++) {
		nameoff[i] = (uint32_t)(at - names);
		memcpy(b + at, fns[i].name, strlen(fns[i].name) + 1);
		at += strlen(fns[i].name) + 1;
	}
	ftab = (at + 7) & ~7ul;
	rec = ftab + (NFN + 1) * esz;	/* the _func records, after the ftab */
	assert_true(rec + NFN * fsz <= cap);
	for (size_t i = 0; i <= NFN; i++) {
		uint64_t eoff = i < NFN ? fns[i].entryoff : END;
		uint64_t foff = rec + i * fsz - ftab;

		if (ver == 116) {
			put(b, ftab + i * 16, text + eoff, 8);
			put(b, ftab + i * 16 + 8, i < NFN ? foff : 0, 8);
		} else {
			put(b, ftab + i * 8, eoff, 4);
			put(b, ftab + i * 8 + 4, i < NFN ? foff : 0, 4);
		}
		if (i == NFN)
			break;
		if (ver == 116) {
			put(b, rec + i * fsz, text + eoff, 8);
			put(b, rec + i * fsz + 8, nameoff[i], 4);
		} else {
			put(b, rec + i * fsz, eoff, 4);
			put(b, rec + i * fsz + 4, nameoff[i], 4);
		}
	}
	/* header words: nfunc nfiles [textStart] funcname cu filetab pctab pcln */
	put(b, 8, NFN, 8);
	put(b, 16, 1, 8);
	if (ver == 116) {
		put(b, 24, names, 8);
		put(b, 56, ftab, 8);
	} else {
		put(b, 24, text, 8);
		put(b, 32, names, 8);
		put(b, 64, ftab, 8);
	}
	return rec + NFN * fsz;
}

static void check_find(const struct sp_gopcln *t, const char *name, uint64_t entry, uint64_t end)
{
	uint64_t a = 0, b = 0;

	assert_int_equal(sp_gopcln__find(t, name, &a, &b), 0);
	assert_int_equal(a, entry);
	assert_int_equal(b, end);
}

static void test_formats(void **state)
{
	static const int vers[] = { 116, 118, 120 };
	uint8_t b[1024];
	struct sp_gopcln t;
	uint64_t a, e;

	(void)state;
	for (size_t v = 0; v < 3; v++) {
		size_t len = build(b, sizeof(b), vers[v], TEXT);

		assert_int_equal(sp_gopcln__init(&t, b, len, 0), 0);
		assert_int_equal(t.ver, vers[v]);
		assert_int_equal(t.nfunc, NFN);
		check_find(&t, "crypto/tls.(*Conn).Write", 0x5aa600, 0x5aadc0);
		check_find(&t, "crypto/tls.(*Conn).Read", 0x5abac0, 0x5abec0);
		check_find(&t, "net.(*TCPConn).Close", 0x582f00, 0x582f20);
		/* the last function ends at the ftab's extra entry */
		check_find(&t, "crypto/tls.(*Conn).Read.func1", 0x5abec0, TEXT + END);
		/* a prefix is not a match */
		assert_int_equal(sp_gopcln__find(&t, "crypto/tls.(*Conn).Wri", &a, &e), -ENOENT);
		assert_int_equal(sp_gopcln__find(&t, "main.main", &a, &e), -ENOENT);
	}
}

/* A PIE's textStart is 0 in the file (a load-time relocation fills it):
 * the caller's .text address is used. */
static void test_text_start_fallback(void **state)
{
	uint8_t b[1024];
	struct sp_gopcln t;
	size_t len = build(b, sizeof(b), 118, 0);

	(void)state;
	assert_int_equal(sp_gopcln__init(&t, b, len, 0x2000), 0);
	check_find(&t, "crypto/tls.(*Conn).Write", 0x2000 + 0x1a9600, 0x2000 + 0x1a9dc0);
}

static void test_bad_headers(void **state)
{
	uint8_t b[1024];
	struct sp_gopcln t;
	size_t len = build(b, sizeof(b), 118, TEXT);

	(void)state;
	put(b, 0, 0xfffffffb, 4);	/* Go 1.2-1.15 */
	assert_int_equal(sp_gopcln__init(&t, b, len, 0), -EPROTONOSUPPORT);
	put(b, 0, 0x12345678, 4);
	assert_int_equal(sp_gopcln__init(&t, b, len, 0), -EINVAL);
	len = build(b, sizeof(b), 118, TEXT);
	b[7] = 3;			/* pointer size */
	assert_int_equal(sp_gopcln__init(&t, b, len, 0), -EINVAL);
	len = build(b, sizeof(b), 118, TEXT);
	put(b, 8, 1000000, 8);		/* nfunc past the table */
	assert_int_equal(sp_gopcln__init(&t, b, len, 0), -EINVAL);
	len = build(b, sizeof(b), 118, TEXT);
	put(b, 64, len + 8, 8);		/* ftab past the table */
	assert_int_equal(sp_gopcln__init(&t, b, len, 0), -EINVAL);
	assert_int_equal(sp_gopcln__init(&t, b, 0, 0), -EINVAL);
	assert_int_equal(sp_gopcln__init(&t, b, 7, 0), -EINVAL);
}

/* Records that point outside the table or disagree with the ftab. */
static void test_bad_records(void **state)
{
	uint8_t b[1024];
	struct sp_gopcln t;
	size_t len;
	uint64_t a, e, ftab;
	const char *n;

	(void)state;
	len = build(b, sizeof(b), 118, TEXT);
	assert_int_equal(sp_gopcln__init(&t, b, len, 0), 0);
	ftab = t.ftab;
	/* _func 0's nameoff past the end */
	{
		uint64_t foff = b[ftab + 4] | b[ftab + 5] << 8;

		put(b, ftab + foff + 4, 0x7fff0000, 4);
		assert_int_equal(sp_gopcln__func(&t, 0, &n, &a, &e), -EINVAL);
		/* the walk stops at a bad record: find says malformed */
		assert_int_equal(sp_gopcln__find(&t, "crypto/tls.(*Conn).Write", &a, &e), -EINVAL);
	}
	len = build(b, sizeof(b), 118, TEXT);
	assert_int_equal(sp_gopcln__init(&t, b, len, 0), 0);
	put(b, ftab + 8 * 2 + 4, 0x7ffffff0, 4);	/* funcoff of Write past the end */
	assert_int_equal(sp_gopcln__func(&t, 2, &n, &a, &e), -EINVAL);
	len = build(b, sizeof(b), 118, TEXT);
	put(b, ftab + 8 * 3, 0x1a9000, 4);		/* Write's end before its entry */
	assert_int_equal(sp_gopcln__func(&t, 2, &n, &a, &e), -EINVAL);
	len = build(b, sizeof(b), 118, TEXT);
	put(b, ftab + 8 * 2, 0x1a9604, 4);		/* ftab and _func disagree */
	assert_int_equal(sp_gopcln__func(&t, 2, &n, &a, &e), -EINVAL);
	len = build(b, sizeof(b), 118, TEXT);
	/* a name with no NUL before the end of the table: _func 0's name
	 * moved to the table's last byte, made non-zero */
	{
		uint64_t foff = b[ftab + 4] | b[ftab + 5] << 8;

		b[len - 1] = 'x';
		put(b, ftab + foff + 4, len - 1 - 0x60, 4);
		assert_int_equal(sp_gopcln__func(&t, 0, &n, &a, &e), -EINVAL);
	}
	assert_int_equal(sp_gopcln__func(&t, NFN, &n, &a, &e), -EINVAL);
}

/* Every prefix of every format, in a buffer of exactly that size: an
 * error or the right answer, never a read past the end. */
static void test_truncated(void **state)
{
	static const int vers[] = { 116, 118, 120 };
	uint8_t full[1024];

	(void)state;
	for (size_t v = 0; v < 3; v++) {
		size_t len = build(full, sizeof(full), vers[v], TEXT);

		for (size_t cut = 0; cut < len; cut++) {
			uint8_t *b = malloc(cut ? cut : 1);
			struct sp_gopcln t;
			uint64_t a, e;
			int err;

			assert_non_null(b);
			memcpy(b, full, cut);
			if (!sp_gopcln__init(&t, b, cut, 0)) {
				err = sp_gopcln__find(&t, "crypto/tls.(*Conn).Read", &a, &e);
				assert_true(err == -EINVAL || err == -ENOENT ||
					    (err == 0 && a == 0x5abac0 && e == 0x5abec0));
			}
			free(b);
		}
	}
}

/* Random bytes over a valid table: no crash, no read outside. */
static void test_garbage(void **state)
{
	uint8_t full[1024];
	size_t len = build(full, sizeof(full), 118, TEXT);

	(void)state;
	srand(9);
	for (int round = 0; round < 3000; round++) {
		uint8_t *b = malloc(len);
		struct sp_gopcln t;
		uint64_t a, e;
		const char *n;

		assert_non_null(b);
		memcpy(b, full, len);
		for (int k = 0; k < 1 + round % 8; k++)
			b[8 + rand() % (len - 8)] = (uint8_t)rand();
		if (!sp_gopcln__init(&t, b, len, 0)) {
			for (uint64_t i = 0; i < t.nfunc && i < 64; i++)
				if (!sp_gopcln__func(&t, i, &n, &a, &e))
					assert_non_null(memchr(n, 0, len - (size_t)(n - (char *)b)));
			sp_gopcln__find(&t, "crypto/tls.(*Conn).Write", &a, &e);
		}
		free(b);
	}
}

/* The first 48 bytes of the real binary's .go.buildinfo (Go 1.18+:
 * flags 2, the version inline as a uvarint length and its bytes). */
static const uint8_t buildinfo119[48] = {
	0xff, ' ', 'G', 'o', ' ', 'b', 'u', 'i', 'l', 'd', 'i', 'n', 'f', ':', 0x08, 0x02,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0x08, 'g', 'o', '1', '.', '1', '9', '.', '8', 0x8d, 0x03, '0', 'w', 0xaf, 0x0c, 0x92,
};

static void test_buildinfo(void **state)
{
	uint8_t b[48];
	char ver[32];
	uint64_t addr = 0;
	uint8_t ps = 0;
	int major, minor;

	(void)state;
	assert_int_equal(sp_gobuild__version(buildinfo119, 48, ver, sizeof(ver), &addr, &ps), 0);
	assert_string_equal(ver, "go1.19.8");
	assert_int_equal(ps, 8);
	assert_int_equal(sp_go_version_parse(ver, &major, &minor), 0);
	assert_int_equal(major, 1);
	assert_int_equal(minor, 19);
	/* too small a buffer for the version */
	assert_int_equal(sp_gobuild__version(buildinfo119, 48, ver, 8, &addr, &ps), -EINVAL);
	/* cut inside the version */
	for (size_t cut = 0; cut < 41; cut++) {
		uint8_t *c = malloc(cut ? cut : 1);

		memcpy(c, buildinfo119, cut);
		assert_int_equal(sp_gobuild__version(c, cut, ver, sizeof(ver), &addr, &ps), -EINVAL);
		free(c);
	}
	/* Go 1.13-1.17: flags 0, pointers at 16 */
	memcpy(b, buildinfo119, 48);
	b[15] = 0;
	put(b, 16, 0x8d1234, 8);
	assert_int_equal(sp_gobuild__version(b, 48, ver, sizeof(ver), &addr, &ps), -EAGAIN);
	assert_int_equal(addr, 0x8d1234);
	/* not build information */
	memcpy(b, buildinfo119, 48);
	b[3] = 'X';
	assert_int_equal(sp_gobuild__version(b, 48, ver, sizeof(ver), &addr, &ps), -EINVAL);
	/* an endless varint */
	memcpy(b, buildinfo119, 48);
	memset(b + 32, 0xff, 16);
	assert_int_equal(sp_gobuild__version(b, 48, ver, sizeof(ver), &addr, &ps), -EINVAL);
}

static void test_version_parse(void **state)
{
	int a, b;

	(void)state;
	assert_int_equal(sp_go_version_parse("go1.16.15", &a, &b), 0);
	assert_int_equal(b, 16);
	assert_int_equal(sp_go_version_parse("go1.22rc1", &a, &b), 0);
	assert_int_equal(b, 22);
	assert_int_equal(sp_go_version_parse("devel +abc", &a, &b), -EINVAL);
	assert_int_equal(sp_go_version_parse("go", &a, &b), -EINVAL);
	assert_int_equal(sp_go_version_parse("go1", &a, &b), -EINVAL);
	assert_int_equal(sp_go_version_parse("go1.x", &a, &b), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_text_start_fallback),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_bad_records),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_buildinfo),
		cmocka_unit_test(test_version_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
