// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The benchmark's floor: a uprobe and a uretprobe that do nothing.
 *
 * Attached where spanprobe attaches, they cost the trap, the uprobe
 * dispatch and (for the return) the trampoline hijack, but no map, helper or
 * ring-buffer work. What spanprobe adds above this floor is its own cost;
 * the floor itself is the kernel's price for observing the call at all.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

/* Bare section names: libbpf (>= 1.0) does not auto-attach these, floor.c
 * attaches each program once per (binary, offset) pair. Plain functions
 * rather than BPF_KPROBE(): nothing is read from the registers, so not even
 * the macro's argument fetches get in. */
SEC("uprobe")
int floor_enter(struct pt_regs *ctx __attribute__((unused)))
{
	return 0;
}

SEC("uretprobe")
int floor_exit(struct pt_regs *ctx __attribute__((unused)))
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
