// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sweep_bench: what one sp_loader__sweep costs with the kernel tables
 * full. Loads spanprobe's BPF object (tracing nothing: no pid is traced),
 * fills conns and nonsock (65536 keys each: 4096 fake processes x 16 fds)
 * and tls_streams (4 sessions each), with the pid_keys entries BPF would
 * have written, then times sweeps with 0 and 100 exited processes, with
 * and without TLS sessions. Needs root. Prints one line per case.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kernel/loader.h"
#include "util/log.h"
#include "spanprobe.skel.h"

#define PROCS	4096
#define FDS	16
#define SSLS	4
#define BASE	3000000u	/* fake tgids, above any pid_max */

struct pid_keys_u {
	uint64_t fd_max;
	uint8_t has_fds, has_tls, pad[6];
};

static int on_record(void *ctx, void *data, size_t size)
{
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int fill(struct spanprobe_bpf *s, bool tls)
{
	uint8_t conn[48] = {}, stream[32] = {};
	uint32_t nonsock_val = 1;
	int err = 0;

	for (uint32_t p = 0; p < PROCS && !err; p++) {
		uint32_t tgid = BASE + p;
		struct pid_keys_u pk = { .fd_max = FDS - 1, .has_fds = 1, .has_tls = tls };

		for (uint32_t fd = 0; fd < FDS && !err; fd++) {
			uint64_t key = (uint64_t)tgid << 32 | fd;

			err = bpf_map_update_elem(bpf_map__fd(s->maps.conns), &key, conn, BPF_ANY) ||
			      bpf_map_update_elem(bpf_map__fd(s->maps.nonsock), &key, &nonsock_val,
						  BPF_ANY);
		}
		for (uint64_t ssl = 1; tls && ssl <= SSLS && !err; ssl++) {
			struct { uint32_t tgid, pad; uint64_t ssl; } k = { tgid, 0, ssl };

			err = bpf_map_update_elem(bpf_map__fd(s->maps.tls_streams), &k, stream,
						  BPF_ANY);
		}
		if (!err)
			err = bpf_map_update_elem(bpf_map__fd(s->maps.pid_keys), &tgid, &pk, BPF_ANY);
	}
	return err ? -errno : 0;
}

static uint32_t entries(struct bpf_map *m)
{
	uint8_t key[16], next[16];
	void *prev = NULL;
	uint32_t n = 0;

	while (!bpf_map_get_next_key(bpf_map__fd(m), prev, next)) {
		memcpy(key, next, sizeof(key));
		prev = key;
		n++;
	}
	return n;
}

static void run(struct sp_loader *l, const char *what, uint32_t ndead, uint32_t first)
{
	struct spanprobe_bpf *s = sp_loader__skel(l);
	uint64_t t0, t1;

	for (uint32_t i = 0; i < ndead; i++)
		sp_loader__forget_pid(l, BASE + first + i);
#ifndef OLD_LOADER
	struct sp_sweep_stats a, b;

	sp_loader__sweep_stats(l, &a);
#endif
	t0 = now_ns();
	sp_loader__sweep(l);
	t1 = now_ns();
#ifndef OLD_LOADER
	sp_loader__sweep_stats(l, &b);
	printf("%-34s %8.3f ms  %7llu map syscalls  %u walks  (conns %u, nonsock %u, tls_streams %u left)\n",
	       what, (t1 - t0) / 1e6, (unsigned long long)(b.map_ops - a.map_ops),
	       (unsigned)(b.walks - a.walks), entries(s->maps.conns), entries(s->maps.nonsock),
	       entries(s->maps.tls_streams));
#else
	printf("%-34s %8.3f ms  (conns %u, nonsock %u, tls_streams %u left)\n", what,
	       (t1 - t0) / 1e6, entries(s->maps.conns), entries(s->maps.nonsock),
	       entries(s->maps.tls_streams));
#endif
}

int main(void)
{
	struct sp_loader_opts o = {
		.max_capture = 4096, .ringbuf_bytes = 1 << 20, .on_record = on_record,
	};
	struct sp_loader *l = NULL;
	int err;

	err = sp_loader__open(&l, &o);
	if (err)
		return 1;
	err = fill(sp_loader__skel(l), false);
	if (err) {
		fprintf(stderr, "sweep_bench: cannot fill the tables: %s\n", strerror(-err));
		goto cleanup;
	}
	printf("full tables: conns %u, nonsock %u, tls_streams %u\n",
	       entries(sp_loader__skel(l)->maps.conns), entries(sp_loader__skel(l)->maps.nonsock),
	       entries(sp_loader__skel(l)->maps.tls_streams));
	run(l, "0 exited", 0, 0);
	run(l, "100 exited, no TLS", 100, 0);
	err = fill(sp_loader__skel(l), true);
	if (err)
		goto cleanup;
	run(l, "100 exited, with TLS sessions", 100, 200);
	run(l, "1 exited, with TLS sessions", 1, 400);
#ifndef OLD_LOADER
	/* as if BPF had failed to record a process's keys */
	{
		uint32_t zero = 0;
		uint64_t one = 1;

		bpf_map_update_elem(bpf_map__fd(sp_loader__skel(l)->maps.pid_keys_lost), &zero, &one,
				    BPF_ANY);
		run(l, "1 exited, pid_keys overflowed", 1, 600);
		printf("pid_keys entries left after pruning: %u (of %u)\n",
		       entries(sp_loader__skel(l)->maps.pid_keys), PROCS);
	}
#endif
cleanup:
	sp_loader__free(l);
	return err ? 1 : 0;
}
