// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The x86-64 decoder wrapper behind attach-point proofs (discovery/x86_insn.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "discovery/x86_insn.h"

/* endbr64; push %rbp; mov %rsp,%rbp; lea 0x10(%rip),%rdi; mov $0x10,%edi;
 * call .+0x20; xor %eax,%eax; pop %rbp; ret; int3 */
static const uint8_t fn[] = {
	0xf3, 0x0f, 0x1e, 0xfa,			/* 0x1000 endbr64 */
	0x55,					/* 0x1004 push %rbp */
	0x48, 0x89, 0xe5,			/* 0x1005 mov %rsp,%rbp */
	0x48, 0x8d, 0x3d, 0x10, 0x00, 0x00, 0x00,	/* 0x1008 lea 0x10(%rip),%rdi */
	0xbf, 0x10, 0x00, 0x00, 0x00,		/* 0x100f mov $0x10,%edi */
	0xe8, 0x1b, 0x00, 0x00, 0x00,		/* 0x1014 call 0x1034 */
	0x31, 0xc0,				/* 0x1019 xor %eax,%eax */
	0x5d,					/* 0x101b pop %rbp */
	0xc3,					/* 0x101c ret */
	0xcc,					/* 0x101d int3 */
};

struct seen {
	int n;
	struct sp_x86_insn in[16];
};

static int collect(const struct sp_x86_insn *in, void *arg)
{
	struct seen *s = arg;

	if (s->n < 16)
		s->in[s->n++] = *in;
	return 0;
}

static void test_walk(void **state)
{
	struct seen s = { 0 };

	assert_int_equal(sp_x86_walk(fn, sizeof(fn), 0x1000, collect, &s, NULL), 0);
	assert_int_equal(s.n, 10);
	assert_int_equal(s.in[0].size, 4);
	assert_int_equal(s.in[1].addr, 0x1004);
	/* lea: RIP-relative operand resolved from the next instruction */
	assert_true(s.in[3].rip_rel);
	assert_int_equal(s.in[3].target, 0x100f + 0x10);
	assert_int_equal(s.in[3].dst, SP_X86_RDI);
	/* mov $16, %edi: the constant and the argument register it goes to */
	assert_true(s.in[4].has_imm);
	assert_int_equal(s.in[4].imm, 16);
	assert_int_equal(s.in[4].dst, SP_X86_RDI);
	assert_int_equal(s.in[5].kind, SP_X86_CALL);
	assert_true(s.in[5].has_target);
	assert_int_equal(s.in[5].target, 0x1034);
	assert_int_equal(s.in[6].dst, SP_X86_RAX);
	assert_int_equal(s.in[8].kind, SP_X86_RET);
	assert_int_equal(s.in[8].addr, 0x101c);
	assert_int_equal(s.in[9].kind, SP_X86_TRAP);
}

static void test_boundary(void **state)
{
	assert_int_equal(sp_x86_is_boundary(fn, sizeof(fn), 0x1000, 0x1000), 0);
	assert_int_equal(sp_x86_is_boundary(fn, sizeof(fn), 0x1000, 0x1004), 0);
	assert_int_equal(sp_x86_is_boundary(fn, sizeof(fn), 0x1000, 0x101c), 0);
	/* inside the lea and inside the endbr64: not instruction starts */
	assert_int_equal(sp_x86_is_boundary(fn, sizeof(fn), 0x1000, 0x100a), -ENOENT);
	assert_int_equal(sp_x86_is_boundary(fn, sizeof(fn), 0x1000, 0x1001), -ENOENT);
}

static void test_undecodable(void **state)
{
	/* 0x06 (push %es) does not exist in 64-bit mode */
	static const uint8_t junk[] = { 0x90, 0x06, 0x90 };
	struct seen s = { 0 };
	uint64_t bad = 0;

	assert_int_equal(sp_x86_walk(junk, sizeof(junk), 0x2000, collect, &s, &bad), -EILSEQ);
	assert_int_equal(s.n, 1);
	assert_int_equal(bad, 0x2001);
	/* truncated: half an instruction at the end */
	assert_int_equal(sp_x86_walk(fn, 10, 0x1000, collect, &s, &bad), -EILSEQ);
	assert_int_equal(bad, 0x1008);
}

static int stop_at_ret(const struct sp_x86_insn *in, void *arg)
{
	(*(int *)arg)++;
	return in->kind == SP_X86_RET;
}

static void test_stop(void **state)
{
	int n = 0;

	assert_int_equal(sp_x86_walk(fn, sizeof(fn), 0x1000, stop_at_ret, &n, NULL), 0);
	assert_int_equal(n, 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_boundary),
		cmocka_unit_test(test_undecodable),
		cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
