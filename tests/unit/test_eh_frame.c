// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The .eh_frame parser (discovery/eh_frame.c): on this test binary's own
 * section (real compiler output: its FDE for a function here must start at
 * that function), on hand-made records, and on every truncation and on
 * garbage, which must give an error or a table, never a read out of
 * bounds (the ASan run checks that).
 */
#include <errno.h>
#include <link.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "discovery/eh_frame.h"
#include "discovery/elf_sym.h"

__attribute__((noinline)) int probe_me(int x)
{
	return x * 3 + 1;
}

static int first_bias(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	*(uintptr_t *)arg = info->dlpi_addr;
	return 1;	/* the first object is the executable */
}

static void test_own_section(void **state)
{
	struct sp_elf *e = sp_elf__open("/proc/self/exe");
	struct sp_eh_frame *f;
	struct sp_elf_sec sec;
	struct sp_eh_fde fde;
	uintptr_t bias = 0;
	const uint8_t *bytes;

	(void)state;
	assert_non_null(e);
	assert_int_equal(sp_elf__section(e, ".eh_frame", &sec), 0);
	dl_iterate_phdr(first_bias, &bias);
	/* the loaded bytes, at their run-time address: pc-relative pointers
	 * then resolve to the run-time addresses of the functions */
	bytes = (const uint8_t *)(bias + sec.addr);
	f = sp_eh_frame__new(bytes, sec.size, bias + sec.addr, 1 << 16);
	assert_non_null(f);
	assert_true(sp_eh_frame__count(f) > 10);
	assert_int_equal(sp_eh_frame__find(f, (uintptr_t)probe_me + 1, &fde), 0);
	assert_int_equal(fde.start, (uintptr_t)probe_me);
	assert_true(fde.end > fde.start);
	assert_int_equal(sp_eh_frame__find(f, 16, &fde), -ENOENT);
	/* every truncation: an error or a table, and no byte read past len */
	for (size_t len = 0; len < sec.size && len < 4096; len++) {
		uint8_t *copy = malloc(len ? len : 1);

		memcpy(copy, bytes, len);
		sp_eh_frame__free(sp_eh_frame__new(copy, len, bias + sec.addr, 1 << 16));
		free(copy);
	}
	sp_eh_frame__free(f);
	sp_elf__close(e);
}

/* A CIE (version 1, "zR", FDE encoding pcrel|sdata4), one FDE for
 * [0x1000 + 0x40, +0x20) when the section is at 0x1000, a terminator. */
static size_t handmade(uint8_t *p, int32_t cie_ptr_fix)
{
	static const uint8_t cie[] = {
		0x10, 0, 0, 0,		/* length 16 */
		0, 0, 0, 0,		/* CIE id */
		1, 'z', 'R', 0,		/* version, augmentation */
		1, 0x78, 16,		/* code align 1, data align -8, ra r16 */
		1, 0x1b,		/* aug length 1: pcrel|sdata4 */
		0, 0, 0,		/* padding (DW_CFA_nop) */
	};
	size_t n = sizeof(cie);
	int32_t v;

	memcpy(p, cie, n);
	/* FDE at 20: length 16, CIE pointer = 24 - 0 (from the id field) */
	v = 16;
	memcpy(p + n, &v, 4);
	v = (int32_t)(n + 4) + cie_ptr_fix;
	memcpy(p + n + 4, &v, 4);
	v = 0x40 - (int32_t)(n + 8);	/* pc_begin, relative to its own address */
	memcpy(p + n + 8, &v, 4);
	v = 0x20;
	memcpy(p + n + 12, &v, 4);
	memset(p + n + 16, 0, 4);	/* aug length 0 + DW_CFA_nop */
	memset(p + n + 20, 0, 4);	/* terminator */
	return n + 24;
}

static void test_handmade(void **state)
{
	uint8_t buf[64];
	size_t len = handmade(buf, 0);
	struct sp_eh_frame *f = sp_eh_frame__new(buf, len, 0x1000, 8);
	struct sp_eh_fde fde;

	(void)state;
	assert_non_null(f);
	assert_int_equal(sp_eh_frame__count(f), 1);
	assert_int_equal(sp_eh_frame__find(f, 0x1050, &fde), 0);
	assert_int_equal(fde.start, 0x1040);
	assert_int_equal(fde.end, 0x1060);
	assert_int_equal(sp_eh_frame__find(f, 0x1060, &fde), -ENOENT);
	assert_int_equal(sp_eh_frame__find(f, 0x103f, &fde), -ENOENT);
	sp_eh_frame__free(f);

	/* more FDEs than allowed */
	errno = 0;
	assert_null(sp_eh_frame__new(buf, len, 0x1000, 0));
	assert_int_equal(errno, E2BIG);

	/* a CIE pointer to the middle of nowhere */
	len = handmade(buf, 3);
	errno = 0;
	assert_null(sp_eh_frame__new(buf, len, 0x1000, 8));
	assert_int_equal(errno, EINVAL);

	/* a length running past the end */
	len = handmade(buf, 0);
	buf[0] = 0xf0;
	errno = 0;
	assert_null(sp_eh_frame__new(buf, len, 0x1000, 8));
	assert_int_equal(errno, EINVAL);

	/* an unreadable pointer encoding (indirect) */
	len = handmade(buf, 0);
	buf[16] = 0x9b;
	errno = 0;
	assert_null(sp_eh_frame__new(buf, len, 0x1000, 8));
	assert_int_equal(errno, EINVAL);
}

static void test_garbage(void **state)
{
	uint8_t buf[512];
	uint32_t x = 12345;

	(void)state;
	for (int round = 0; round < 2000; round++) {
		for (size_t i = 0; i < sizeof(buf); i++) {
			x = x * 1103515245u + 12345u;
			buf[i] = (uint8_t)(x >> 16);
		}
		/* small lengths now and then, so records parse at all */
		if (round % 3 == 0)
			buf[0] = (uint8_t)(x % 64), buf[1] = buf[2] = buf[3] = 0;
		sp_eh_frame__free(sp_eh_frame__new(buf, (size_t)(x % sizeof(buf)), 0x400000, 64));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_section),
		cmocka_unit_test(test_handmade),
		cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
