// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The target of the function-probe tests (probe_cases.py, tests/unit/
 * test_func.c): functions that call each other to depth 3, a recursive
 * one, one that leaves by longjmp, a tail call, USDT probes, and (with
 * probe_target_twin.c) two static functions of one name. Built -O2 -g
 * into build/tests/probe_target; every probed function is noinline and
 * noipa so that it keeps its name and its calls (no clones, no inlining,
 * no tail-recursion loop).
 *
 * usage: probe_target [N]   calls outer(i) for i in 0..N-1 (N = 3), then
 * the rest once; prints the sum of outer's results.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
/* every probe gets a semaphore (sdt.h then wants one per probe): a
 * debugger or tracer raises it while attached; "guarded" fires only then */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

#define SEMAPHORE(name) \
	__extension__ unsigned short spanprobe_test_##name##_semaphore \
	__attribute__((unused, section(".probes")))
SEMAPHORE(leaf_hit);
SEMAPHORE(done);
SEMAPHORE(guarded);

#define PROBED __attribute__((noinline, noipa, used))

int twin_a(int x);
int twin_b(int x);

static jmp_buf jump_back;

PROBED int leaf(int x)
{
	DTRACE_PROBE2(spanprobe_test, leaf_hit, x, x * 2);
	return x * 3;
}

PROBED int middle(int x)
{
	return leaf(x + 1) + 1;
}

PROBED int outer(int x)
{
	return middle(x + 1) + 1;
}

/* recurse(n) = n, through n + 1 nested calls */
PROBED int recurse(int n)
{
	int r;

	if (n == 0)
		return 0;
	r = recurse(n - 1);
	/* keeps gcc from turning the recursion into a loop */
	__asm__ volatile("" : "+r"(r));
	return r + 1;
}

/* never returns: its frame is left by longjmp */
PROBED void jumper(int code)
{
	longjmp(jump_back, code);
}

PROBED int tail_callee(int x)
{
	__asm__ volatile("" : "+r"(x));
	return x + 100;
}

/* ends in `jmp tail_callee` at -O2: tail_callee's entry finds this
 * function's uretprobe trampoline as its return address */
PROBED int tail_caller(int x)
{
	return tail_callee(x * 2);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 3, sum = 0;

	for (int i = 0; i < n; i++)
		sum += outer(i);
	if (!setjmp(jump_back))
		jumper(7);
	sum += recurse(3);
	sum += tail_caller(1);
	sum += twin_a(1) + twin_b(1);
	if (spanprobe_test_guarded_semaphore)
		DTRACE_PROBE1(spanprobe_test, guarded, spanprobe_test_guarded_semaphore);
	DTRACE_PROBE1(spanprobe_test, done, sum);
	printf("%d\n", sum);
	return 0;
}
