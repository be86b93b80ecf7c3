// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <linux/capability.h>
#include <signal.h>
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

#define DEAD_PIDS	1024	/* exited processes waiting for a sweep */
#define WALK_BATCH	4096	/* entries read per syscall in a map walk */
/* fd keys deleted one by one in a sweep, at most: past it one walk of
 * conns and nonsock (2 x 65536 entries, 32 batch reads) is cheaper */
#define FD_KEYS_MAX	8192

struct sp_loader {
	struct spanprobe_bpf *skel;
	struct ring_buffer *rb;
	uint32_t dead[DEAD_PIDS];
	uint32_t ndead;
	uint64_t lost_seen;		/* pid_keys_lost at the last sweep */
	struct sp_sweep_stats sweep;
};

/* The mirrors of BPF-only structs (bpf/spanprobe.bpf.h) that the sweep
 * reads; sp_loader__open checks their sizes against the maps. */
struct pid_keys_u {
	uint64_t fd_max;
	uint8_t has_fds, has_tls, pad[6];
};

struct conn_state_u {
	uint64_t bytes[2], sk, gen, ssl, connect_ts;
	uint32_t exec_id;
	uint8_t proto, role, sniffs, connect_echo;
};

struct tls_key_u {
	uint32_t tgid, pad;
	uint64_t ssl;
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

/*
 * Syscall tracepoints this kernel does not have are not loaded: the
 * syscall table is per architecture (arm64 has dup3 but no dup2), so a
 * program for a syscall that does not exist could never run anyway.
 */
static void skip_missing_syscalls(struct bpf_object *obj)
{
	static const char *const roots[] = { "/sys/kernel/tracing/events/",
					     "/sys/kernel/debug/tracing/events/" };
	struct bpf_program *p;
	char path[256];

	bpf_object__for_each_program(p, obj) {
		const char *sec = bpf_program__section_name(p), *tp;
		bool found = false;

		if (strncmp(sec, "tracepoint/syscalls/", 20))
			continue;
		tp = sec + strlen("tracepoint/");
		for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]) && !found; i++) {
			snprintf(path, sizeof(path), "%s%s", roots[i], tp);
			found = !access(path, F_OK);
		}
		if (!found) {
			sp_dbg("this kernel has no %s: %s not loaded", tp, bpf_program__name(p));
			bpf_program__set_autoload(p, false);
		}
	}
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
	skip_missing_syscalls(l->skel->obj);
	err = spanprobe_bpf__load(l->skel);
	if (err) {
		sp_err("cannot load the BPF programs: %s (run with -v for the verifier log)",
		       strerror(-err));
		goto err_out;
	}
	if (bpf_map__value_size(l->skel->maps.pid_keys) != sizeof(struct pid_keys_u) ||
	    bpf_map__value_size(l->skel->maps.conns) != sizeof(struct conn_state_u) ||
	    bpf_map__key_size(l->skel->maps.tls_streams) != sizeof(struct tls_key_u)) {
		sp_err("internal error: the sweep's view of the BPF tables is out of date "
		       "(userspace/kernel/loader.c vs bpf/spanprobe.bpf.h)");
		err = -EINVAL;
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

void sp_loader__quiesce(struct sp_loader *l)
{
	/* the programs read it on every event; a store is seen at once */
	__atomic_store_n(&l->skel->bss->sp_stopping, 1, __ATOMIC_RELEASE);
}

void sp_loader__forget_pid(struct sp_loader *l, uint32_t pid)
{
	if (l->ndead == DEAD_PIDS)
		sp_loader__sweep(l);
	l->dead[l->ndead++] = pid;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* l->dead is sorted while a sweep runs */
static bool is_dead(struct sp_loader *l, uint32_t pid)
{
	return bsearch(&pid, l->dead, l->ndead, sizeof(pid), cmp_u32) != NULL;
}

/* Deletes the entries of map whose key starts with a dead tgid at
 * tgid_off, one key at a time. Keys are collected first: deleting during
 * the walk would restart it. The fallback for kernels without batch ops. */
static void walk_map_keys(struct sp_loader *l, struct bpf_map *map, size_t tgid_off)
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
			l->sweep.map_ops++;
			l->sweep.walked++;
			memcpy(&tgid, next + tgid_off, sizeof(tgid));
			if (is_dead(l, tgid))
				memcpy(doomed[n++], next, ksz);
			memcpy(key, next, ksz);
			prev = key;
		}
		for (int i = 0; i < n; i++)
			bpf_map_delete_elem(fd, doomed[i]);
		l->sweep.map_ops += n;
		l->sweep.deleted += n;
	} while (n == BATCH);
}

/* The same, reading the map WALK_BATCH entries per syscall. */
static void walk_map(struct sp_loader *l, struct bpf_map *map, size_t tgid_off)
{
	size_t ksz = bpf_map__key_size(map), vsz = bpf_map__value_size(map);
	int fd = bpf_map__fd(map), err = 0;
	uint8_t *keys = malloc(WALK_BATCH * ksz), *vals = malloc(WALK_BATCH * vsz);
	uint64_t token = 0;
	void *in = NULL;
	uint32_t tgid;

	l->sweep.walks++;
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	do {
		__u32 n = WALK_BATCH;

		err = bpf_map_lookup_batch(fd, in, &token, keys, vals, &n, NULL);
		if (err && errno != ENOENT) {
			err = -errno;
			break;
		}
		l->sweep.map_ops++;
		l->sweep.walked += n;
		/* entries of buckets already read may go: the token is a
		 * bucket index */
		for (__u32 i = 0; i < n; i++) {
			memcpy(&tgid, keys + i * ksz + tgid_off, sizeof(tgid));
			if (!is_dead(l, tgid))
				continue;
			bpf_map_delete_elem(fd, keys + i * ksz);
			l->sweep.map_ops++;
			l->sweep.deleted++;
		}
		in = &token;
	} while (!err);
	if (err == -ENOENT)
		err = 0;
out:
	free(keys);
	free(vals);
	if (err) {
		sp_dbg("sweep: batch walk of %s failed (%s), walking key by key",
		       bpf_map__name(map), strerror(-err));
		walk_map_keys(l, map, tgid_off);
	}
}

/* Deletes tgid's fd-keyed entries by key: conns, nonsock, and what hangs
 * off a socket (its socks entry, its TLS session). */
static void delete_fds(struct sp_loader *l, uint32_t tgid, uint64_t fd_max)
{
	int conns = bpf_map__fd(l->skel->maps.conns), nonsock = bpf_map__fd(l->skel->maps.nonsock);
	int socks = bpf_map__fd(l->skel->maps.socks);
	int streams = bpf_map__fd(l->skel->maps.tls_streams);

	for (uint64_t fd = 0; fd <= fd_max; fd++) {
		uint64_t key = (uint64_t)tgid << 32 | (uint32_t)fd, owner;
		struct conn_state_u c;

		l->sweep.map_ops += 2;
		if (!bpf_map_delete_elem(nonsock, &key))
			l->sweep.deleted++;
		if (bpf_map_lookup_and_delete_elem(conns, &key, &c))
			continue;
		l->sweep.deleted++;
		/* a socket the process never closed itself: the kernel may
		 * reuse its address for a socket of a live process */
		l->sweep.map_ops++;
		if (!bpf_map_lookup_elem(socks, &c.sk, &owner) && owner == key) {
			bpf_map_delete_elem(socks, &c.sk);
			l->sweep.map_ops++;
		}
		if (c.ssl) {
			struct tls_key_u tk = { .tgid = tgid, .ssl = c.ssl };

			bpf_map_delete_elem(streams, &tk);
			l->sweep.map_ops++;
		}
	}
}

/* pid_keys filled up (exit records lost to a full ring buffer, a thread
 * that outlived the sweep): drops the entries of processes that are gone,
 * so that one overflow does not turn every later sweep into walks. */
static void prune_pid_keys(struct sp_loader *l)
{
	struct bpf_map *map = l->skel->maps.pid_keys;
	int fd = bpf_map__fd(map), err;
	uint32_t *keys = malloc(WALK_BATCH * sizeof(*keys)), pruned = 0;
	struct pid_keys_u *vals = malloc(WALK_BATCH * sizeof(*vals));
	uint64_t token = 0;
	void *in = NULL;

	if (!keys || !vals)
		goto out;
	do {
		__u32 n = WALK_BATCH;

		err = bpf_map_lookup_batch(fd, in, &token, keys, vals, &n, NULL);
		if (err && errno != ENOENT)
			break;
		l->sweep.map_ops++;
		for (__u32 i = 0; i < n; i++) {
			/* a reused pid keeps the entry: a superset is safe */
			if (kill((pid_t)keys[i], 0) && errno == ESRCH) {
				bpf_map_delete_elem(fd, &keys[i]);
				l->sweep.map_ops++;
				pruned++;
			}
		}
		in = &token;
	} while (!err);
	sp_dbg("sweep: pruned %u pid_keys entries of processes gone", pruned);
out:
	free(keys);
	free(vals);
}

/*
 * Kernel-side state keyed by pid is swept from userspace: BPF cannot
 * iterate a map at exit, and LRU eviction alone would let a reused pid
 * inherit a dead process's sockets. The cost follows the work: nothing
 * without exits; for each exited process, its pid_keys entry (written by
 * BPF when it made an entry) says which fds conns and nonsock may hold,
 * deleted by key, and the TLS sessions their sockets name with them; a
 * map is walked only when some exited process may have entries that
 * cannot be named (a TLS session no socket named, more fds than
 * FD_KEYS_MAX), or when pid_keys overflowed since the last sweep.
 */
void sp_loader__sweep(struct sp_loader *l)
{
	bool walk_fds = false, walk_tls = false;
	uint64_t lost = 0, fd_ops = 0;
	uint32_t zero = 0;
	struct pid_keys_u pk;
	int pkfd;

	if (!l->ndead)
		return;
	l->sweep.sweeps++;
	pkfd = bpf_map__fd(l->skel->maps.pid_keys);
	l->sweep.map_ops++;
	if (!bpf_map_lookup_elem(bpf_map__fd(l->skel->maps.pid_keys_lost), &zero, &lost) &&
	    lost != l->lost_seen) {
		/* some process's keys went unrecorded: trust nothing */
		sp_dbg("sweep: %llu pid_keys updates lost, walking every table",
		       (unsigned long long)(lost - l->lost_seen));
		l->lost_seen = lost;
		walk_fds = walk_tls = true;
		prune_pid_keys(l);
	}
	qsort(l->dead, l->ndead, sizeof(l->dead[0]), cmp_u32);
	for (uint32_t i = 0; i < l->ndead; i++) {
		l->sweep.map_ops++;
		if (bpf_map_lookup_and_delete_elem(pkfd, &l->dead[i], &pk))
			continue;	/* it made no entry */
		if (pk.has_tls)
			walk_tls = true;
		if (!pk.has_fds || walk_fds)
			continue;
		/* past this, one walk of both maps costs less */
		fd_ops += pk.fd_max + 1;
		if (pk.fd_max >= FD_KEYS_MAX || fd_ops > FD_KEYS_MAX)
			walk_fds = walk_tls = true;	/* sessions named by conns too */
		else
			delete_fds(l, l->dead[i], pk.fd_max);
	}
	/* conns, nonsock: key = tgid << 32 | fd (little-endian: tgid at byte 4) */
	if (walk_fds) {
		walk_map(l, l->skel->maps.conns, 4);
		walk_map(l, l->skel->maps.nonsock, 4);
	}
	/* tls_streams: key = { tgid, pad, ssl } */
	if (walk_tls)
		walk_map(l, l->skel->maps.tls_streams, 0);
	l->ndead = 0;
}

void sp_loader__sweep_stats(const struct sp_loader *l, struct sp_sweep_stats *out)
{
	*out = l->sweep;
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
