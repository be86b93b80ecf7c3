// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kernel/loader.h"
#include "util/log.h"
#include "spanprobe.skel.h"

#define DEAD_PIDS 1024

struct sp_loader {
	struct spanprobe_bpf *skel;
	struct ring_buffer *rb;
	uint32_t dead[DEAD_PIDS];
	uint32_t ndead;
};

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG && sp_log_level < SP_LOG_DEBUG)
		return 0;
	if (level == LIBBPF_INFO && sp_log_level < SP_LOG_DEBUG)
		return 0;
	fputs("libbpf: ", stderr);
	return vfprintf(stderr, fmt, args);
}

static bool has_cap(int cap)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};

	if (syscall(SYS_capget, &hdr, data))
		return false;
	return data[cap / 32].effective & (1u << (cap % 32));
}

static int check_privilege(void)
{
	/* CAP_BPF/CAP_PERFMON (Linux 5.8+) suffice for most; uprobes on other
	 * users' files and tracefs want CAP_SYS_ADMIN, which root has */
	if (geteuid() == 0 || (has_cap(CAP_BPF) && has_cap(CAP_PERFMON) && has_cap(CAP_SYS_ADMIN)))
		return 0;
	sp_err("permission denied: loading eBPF programs needs root (or CAP_BPF, CAP_PERFMON "
	       "and CAP_SYS_ADMIN): run it with sudo");
	return -EPERM;
}

static int check_btf(void)
{
	if (!access("/sys/kernel/btf/vmlinux", R_OK))
		return 0;
	sp_err("this kernel has no BTF (/sys/kernel/btf/vmlinux is missing): spanprobe needs a "
	       "kernel built with CONFIG_DEBUG_INFO_BTF=y (Linux 5.8+)");
	return -ENOTSUP;
}

/* Syscall tracepoints are found through tracefs; a fresh machine may not
 * have it mounted. */
static int ensure_tracefs(void)
{
	if (!access("/sys/kernel/tracing/events/syscalls", F_OK) ||
	    !access("/sys/kernel/debug/tracing/events/syscalls", F_OK))
		return 0;
	if (!mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) &&
	    !access("/sys/kernel/tracing/events/syscalls", F_OK)) {
		sp_dbg("mounted tracefs on /sys/kernel/tracing");
		return 0;
	}
	sp_err("tracefs is not mounted and mounting it failed (%s): run "
	       "'mount -t tracefs nodev /sys/kernel/tracing' as root, then try again",
	       strerror(errno));
	return -ENOENT;
}

int sp_loader_check(void)
{
	int err = check_privilege();

	if (!err)
		err = check_btf();
	if (!err)
		err = ensure_tracefs();
	return err;
}

int sp_loader__open(struct sp_loader **out, const struct sp_loader_opts *o)
{
	struct sp_loader *l;
	int err;

	*out = NULL;
	libbpf_set_print(libbpf_print);
	err = sp_loader_check();
	if (err)
		return err;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->skel = spanprobe_bpf__open();
	if (!l->skel) {
		err = -errno;
		sp_err("cannot open the BPF object: %s", strerror(-err));
		goto err_out;
	}
	l->skel->rodata->targ_all = o->all;
	l->skel->rodata->targ_self = getpid();
	l->skel->rodata->targ_max_capture = o->max_capture;
	l->skel->rodata->targ_wakeup_bytes = o->ringbuf_bytes / 4;
	err = bpf_map__set_max_entries(l->skel->maps.rb, o->ringbuf_bytes);
	if (err)
		goto err_out;
	err = spanprobe_bpf__load(l->skel);
	if (err) {
		sp_err("cannot load the BPF programs: %s (run with -v for the verifier log)",
		       strerror(-err));
		goto err_out;
	}
	/* tracepoints and raw tracepoints; the TLS uprobes are attached per
	 * file by tls_attach.c */
	err = spanprobe_bpf__attach(l->skel);
	if (err) {
		sp_err("cannot attach the BPF programs: %s", strerror(-err));
		goto err_out;
	}
	l->rb = ring_buffer__new(bpf_map__fd(l->skel->maps.rb), o->on_record, o->ctx, NULL);
	if (!l->rb) {
		err = -errno;
		sp_err("cannot create the ring buffer: %s", strerror(-err));
		goto err_out;
	}
	*out = l;
	return 0;
err_out:
	sp_loader__free(l);
	return err;
}

void sp_loader__free(struct sp_loader *l)
{
	if (!l)
		return;
	ring_buffer__free(l->rb);
	spanprobe_bpf__destroy(l->skel);
	free(l);
}

struct spanprobe_bpf *sp_loader__skel(struct sp_loader *l)
{
	return l->skel;
}

int sp_loader__trace_pid(struct sp_loader *l, uint32_t pid)
{
	uint8_t one = 1;

	if (bpf_map__update_elem(l->skel->maps.traced, &pid, sizeof(pid), &one, sizeof(one),
				 BPF_ANY))
		return -errno;
	return 0;
}

int sp_loader__poll(struct sp_loader *l, int timeout_ms)
{
	int n = ring_buffer__poll(l->rb, timeout_ms), m;

	/* records are written without wakeups (BPF_RB_NO_WAKEUP): the poll
	 * may time out with data waiting */
	if (n < 0)
		return n;
	m = ring_buffer__consume(l->rb);
	return m < 0 ? m : n + m;
}

void sp_loader__forget_pid(struct sp_loader *l, uint32_t pid)
{
	if (l->ndead == DEAD_PIDS)
		sp_loader__sweep(l);
	l->dead[l->ndead++] = pid;
}

static bool is_dead(struct sp_loader *l, uint32_t pid)
{
	for (uint32_t i = 0; i < l->ndead; i++)
		if (l->dead[i] == pid)
			return true;
	return false;
}

/* Deletes the entries of map whose key starts with a dead tgid at
 * tgid_off. Keys are collected first: deleting during the walk would
 * restart it. */
static void sweep_map(struct sp_loader *l, struct bpf_map *map, size_t tgid_off)
{
	enum { BATCH = 1024, KEY_MAX = 16 };
	static uint8_t doomed[BATCH][KEY_MAX];
	size_t ksz = bpf_map__key_size(map);
	uint8_t key[KEY_MAX], next[KEY_MAX];
	int fd = bpf_map__fd(map), n = 0;
	void *prev = NULL;
	uint32_t tgid;

	if (ksz > KEY_MAX)
		return;
	/* a batch at a time, until a walk finds no more */
	do {
		n = 0;
		prev = NULL;
		while (n < BATCH && !bpf_map_get_next_key(fd, prev, next)) {
			memcpy(&tgid, next + tgid_off, sizeof(tgid));
			if (is_dead(l, tgid))
				memcpy(doomed[n++], next, ksz);
			memcpy(key, next, ksz);
			prev = key;
		}
		for (int i = 0; i < n; i++)
			bpf_map_delete_elem(fd, doomed[i]);
	} while (n == BATCH);
}

/* Kernel-side state keyed by pid is swept from userspace: BPF cannot
 * iterate a map at exit, and LRU eviction alone would let a reused pid
 * inherit a dead process's sockets. */
void sp_loader__sweep(struct sp_loader *l)
{
	if (!l->ndead)
		return;
	/* conns, nonsock: key = tgid << 32 | fd (little-endian: tgid at byte 4) */
	sweep_map(l, l->skel->maps.conns, 4);
	sweep_map(l, l->skel->maps.nonsock, 4);
	/* tls_streams: key = { tgid, pad, ssl } */
	sweep_map(l, l->skel->maps.tls_streams, 0);
	l->ndead = 0;
}

void sp_loader__counters(struct sp_loader *l, uint64_t out[SP_CNT_MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals;

	memset(out, 0, sizeof(uint64_t) * SP_CNT_MAX);
	if (ncpu <= 0)
		return;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return;
	for (__u32 k = 0; k < SP_CNT_MAX; k++) {
		if (bpf_map__lookup_elem(l->skel->maps.counters, &k, sizeof(k), vals,
					 sizeof(*vals) * ncpu, 0))
			continue;
		for (int c = 0; c < ncpu; c++)
			out[k] += vals[c];
	}
	free(vals);
}
