// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * insn_cost: what a uprobe costs on each instruction of a Go function's
 * shape, the question behind the Go attach points (README "TLS probes").
 * go_shape() is what a Go function looks like at its two ends:
 *
 *   +0  cmp 0x10(%rdi),%rsp   the stack check (Go: 0x10(%r14), same form)
 *   +4  jbe +1                conditional branch, never taken here
 *   +6  ret
 *   +7  ret                   (the branch target)
 *
 * `insn_cost --offsets` prints this binary's file offset of each
 * instruction ("cmp 0x..." lines); `insn_cost N` calls go_shape N times
 * and prints the ns per call. run.sh attaches an empty uprobe (floor
 * --uprobes-only) at one offset at a time and compares.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void go_shape(void *g);
asm(".text\n"
    ".globl go_shape\n"
    ".type go_shape, @function\n"
    "go_shape:\n"
    "	cmp 0x10(%rdi), %rsp\n"
    "	jbe 1f\n"
    "	ret\n"
    "1:	ret\n"
    ".size go_shape, .-go_shape\n");

/* go_shape's file offset: its address minus the start of the mapping
 * that holds it, plus that mapping's file offset (/proc/self/maps). */
static long self_offset(uintptr_t addr)
{
	unsigned long lo, hi, off;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	long r = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %*s %lx", &lo, &hi, &off) == 3 && addr >= lo && addr < hi) {
			r = (long)(addr - lo + off);
			break;
		}
	fclose(f);
	return r;
}

int main(int argc, char **argv)
{
	uint64_t g[4] = { 0 };	/* stack guard 0: the jbe is never taken */
	struct timespec a, b;
	long n, off;

	if (argc == 2 && !strcmp(argv[1], "--offsets")) {
		off = self_offset((uintptr_t)go_shape);
		if (off < 0)
			return 1;
		printf("cmp 0x%lx\njbe 0x%lx\nret 0x%lx\n", off, off + 4, off + 6);
		return 0;
	}
	n = argc == 2 ? atol(argv[1]) : 0;
	if (n <= 0) {
		fprintf(stderr, "usage: insn_cost --offsets | insn_cost CALLS\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++)
		go_shape(g);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
	return 0;
}
