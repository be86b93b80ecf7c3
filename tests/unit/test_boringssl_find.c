// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The BoringSSL rules (discovery/tls_boringssl.c, sp_bssl_find) on
 * synthetic x86-64 code: functions laid out as clang lays them out
 * (16-byte aligned, int3 padding), reporting errors the way
 * OPENSSL_PUT_ERROR compiles (mov $file,%ecx; mov $16,%edi; xor %esi,%esi;
 * mov $reason,%edx; call ERR_put_error), called from a caller. Each test
 * breaks one fact and expects the file to be declined, naming the rule.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "discovery/tls_boringssl.h"

#define TEXT	0x401000u
#define RODATA	0x200000u
#define STR	(RODATA + 8)

enum {
	NO_BAD_LENGTH = 1,	/* SSL_write does not report SSL_R_BAD_LENGTH */
	TWO_WRITES = 2,		/* a second SSL_write-like function */
	NO_CALLERS = 4,		/* nothing calls the functions */
	WRITE_NO_RSI = 8,	/* SSL_write writes rsi before reading it */
	TWO_ERRS = 16,		/* one report goes through another function */
	PEEK = 32,		/* an SSL_peek beside SSL_read */
	NO_STRING = 64,
};

struct img {
	uint8_t text[0x800];
	size_t at;
	uint8_t ro[64];
};

static void b(struct img *m, int n, ...)
{
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < n; i++)
		m->text[m->at++] = (uint8_t)va_arg(ap, int);
	va_end(ap);
}

static void imm32(struct img *m, uint8_t op, uint32_t v)
{
	m->text[m->at++] = op;
	memcpy(m->text + m->at, &v, 4);
	m->at += 4;
}

static void call(struct img *m, uint32_t to)
{
	imm32(m, 0xe8, to - (TEXT + (uint32_t)m->at + 5));
}

static void org(struct img *m, size_t off)
{
	while (m->at < off)
		m->text[m->at++] = 0xcc;	/* padding */
}

/* OPENSSL_PUT_ERROR(SSL, reason) */
static void put_error(struct img *m, uint32_t reason, uint32_t err)
{
	imm32(m, 0xb9, STR);		/* mov $file,%ecx */
	imm32(m, 0xbf, 16);		/* mov $16,%edi */
	b(m, 2, 0x31, 0xf6);		/* xor %esi,%esi */
	imm32(m, 0xba, reason);		/* mov $reason,%edx */
	call(m, err);
}

static void prologue(struct img *m, bool rsi)
{
	b(m, 1, 0x55);			/* push %rbp */
	b(m, 3, 0x48, 0x89, 0xfb);	/* mov %rdi,%rbx */
	if (rsi)
		b(m, 3, 0x49, 0x89, 0xf6);	/* mov %rsi,%r14 */
	else
		b(m, 2, 0x31, 0xf6);	/* xor %esi,%esi: written, never read */
	b(m, 3, 0x41, 0x89, 0xd7);	/* mov %edx,%r15d */
}

static void epilogue(struct img *m)
{
	b(m, 2, 0x5d, 0xc3);		/* pop %rbp; ret */
}

static void build(struct img *m, int flags)
{
	const uint32_t err = TEXT + 0x10, err2 = TEXT + 0x20, write = TEXT + 0x100,
		       impl = TEXT + 0x200, read = TEXT + 0x300, write2 = TEXT + 0x500,
		       peek = TEXT + 0x600;

	memset(m, 0, sizeof(*m));
	if (!(flags & NO_STRING))
		memcpy(m->ro + 8, "../../vendor/boringssl/ssl/ssl_lib.cc", 38);
	org(m, 0x10);
	b(m, 1, 0xc3);			/* ERR_put_error: ret */
	org(m, 0x20);
	b(m, 1, 0xc3);			/* another function */
	for (int k = 0; k < ((flags & TWO_WRITES) ? 2 : 1); k++) {
		org(m, k ? 0x500 : 0x100);
		prologue(m, !(flags & WRITE_NO_RSI));
		put_error(m, 226, err);
		put_error(m, 215, (flags & TWO_ERRS) ? err2 : err);
		if (!(flags & NO_BAD_LENGTH))
			put_error(m, 111, err);
		put_error(m, 66, err);
		epilogue(m);
	}
	org(m, 0x200);			/* ssl_read_impl */
	b(m, 1, 0x55);
	put_error(m, 226, err);
	put_error(m, 215, err);
	epilogue(m);
	org(m, 0x300);			/* SSL_read: SSL_peek inlined, then consume */
	prologue(m, true);
	put_error(m, 66, err);
	call(m, impl);
	call(m, err2);			/* DiscardConsumed, say */
	epilogue(m);
	if (flags & PEEK) {
		org(m, 0x600);		/* SSL_peek */
		prologue(m, true);
		put_error(m, 66, err);
		call(m, impl);
		epilogue(m);
	}
	org(m, 0x700);
	if (!(flags & NO_CALLERS)) {
		b(m, 1, 0x55);
		call(m, write);
		call(m, read);
		call(m, impl);
		if (flags & TWO_WRITES)
			call(m, write2);
		if (flags & PEEK)
			call(m, peek);
		epilogue(m);
	}
	org(m, sizeof(m->text));
}

static int find(int flags, struct sp_bssl_found *got, char *why, size_t whylen)
{
	static struct img m;
	struct sp_bssl_image img;

	build(&m, flags);
	img = (struct sp_bssl_image){
		.text = m.text, .text_len = sizeof(m.text), .text_addr = TEXT,
		.rodata = m.ro, .rodata_len = sizeof(m.ro), .rodata_addr = RODATA,
		.abs32 = true,
	};
	return sp_bssl_find(&img, got, why, whylen);
}

static void test_found(void **state)
{
	struct sp_bssl_found got;
	char why[256];

	(void)state;
	assert_int_equal(find(0, &got, why, sizeof(why)), 0);
	assert_int_equal(got.write.addr, TEXT + 0x100);
	assert_int_equal(got.read.addr, TEXT + 0x300);
	assert_int_equal(got.put_error, TEXT + 0x10);
	assert_int_equal(got.write.start, SP_BSSL_START_CALL);
	assert_true(got.write.callers >= 1 && got.read.callers >= 1);
}

static void expect_decline(int flags, const char *needle)
{
	struct sp_bssl_found got;
	char why[256];
	int r = find(flags, &got, why, sizeof(why));

	if (r != -ENOENT || !strstr(why, needle))
		fail_msg("flags %#x: got %d, why %s; want a decline naming \"%s\"", flags, r, why,
			 needle);
}

static void test_declines(void **state)
{
	(void)state;
	expect_decline(NO_BAD_LENGTH, "no function matches SSL_write");
	expect_decline(TWO_WRITES, "two functions match SSL_write");
	/* only ssl_read_impl is called (from SSL_read): two reports are too few */
	expect_decline(NO_CALLERS, "ERR_put_error not found");
	expect_decline(WRITE_NO_RSI, "does not read rdi, rsi and rdx");
	expect_decline(TWO_ERRS, "ambiguous");
}

static void test_peek_beside_read(void **state)
{
	struct sp_bssl_found got;
	char why[256];

	(void)state;
	if (find(PEEK, &got, why, sizeof(why)))
		fail_msg("%s", why);
	assert_int_equal(got.read.addr, TEXT + 0x300);
}

static void test_not_boringssl(void **state)
{
	struct sp_bssl_found got;
	char why[256];

	(void)state;
	assert_int_equal(find(NO_STRING, &got, why, sizeof(why)), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_found),
		cmocka_unit_test(test_declines),
		cmocka_unit_test(test_peek_beside_read),
		cmocka_unit_test(test_not_boringssl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
