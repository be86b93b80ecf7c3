/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel side setup: checks what tracing needs (privilege, BTF, tracefs),
 * opens, configures, loads and attaches the BPF programs, and owns the
 * ring buffer and the kernel-side tables.
 */
#ifndef SP_LOADER_H
#define SP_LOADER_H

#include <stdbool.h>
#include <stdint.h>
#include "spanprobe.h"

struct sp_loader_opts {
	bool all;			/* trace every process */
	uint32_t max_capture;		/* bytes captured per call */
	uint32_t ringbuf_bytes;		/* ring buffer size (power of 2) */
	bool func_probes;		/* load bpf/func.bpf.c's programs (--probe, --usdt) */
	int (*on_record)(void *ctx, void *data, size_t size);
	void *ctx;
};

struct sp_loader;

/* Checks privilege, BTF and tracefs (mounting it if needed): 0, or -errno
 * after a one-line error that says what to do. */
int sp_loader_check(void);
/*
 * Checks, opens, loads and attaches everything but the TLS uprobes.
 * Returns 0 or -errno, having printed a one-line error that says what to do.
 */
int sp_loader__open(struct sp_loader **out, const struct sp_loader_opts *o);
void sp_loader__free(struct sp_loader *l);
struct spanprobe_bpf *sp_loader__skel(struct sp_loader *l);
/*
 * Function probes (bpf/func.bpf.c, loaded when opts.func_probes is set):
 * the entry and return programs on the function at file offset off of
 * path, or the USDT program on path's probe provider:name; system-wide
 * (the pid filter decides in BPF), with probe as the attach cookie. 0 or
 * -errno (not logged: the caller words the error). The links are the
 * loader's until __free.
 */
int sp_loader__attach_func(struct sp_loader *l, const char *path, uint64_t off, uint16_t probe);
int sp_loader__attach_usdt(struct sp_loader *l, const char *path, const char *provider,
			   const char *name, uint16_t probe);
/* Adds pid to the filter (its descendants follow in BPF). */
int sp_loader__trace_pid(struct sp_loader *l, uint32_t pid);
/* Waits up to timeout_ms for records and handles them. Count or -errno. */
int sp_loader__poll(struct sp_loader *l, int timeout_ms);
/* Stops the programs from tracing anything new (at exit): after it, the
 * ring buffer only drains. */
void sp_loader__quiesce(struct sp_loader *l);
/* A process is gone: its kernel-side connection state is swept soon. */
void sp_loader__forget_pid(struct sp_loader *l, uint32_t pid);
/* Sweeps forgotten processes out of the kernel tables: deletes by key
 * where BPF recorded the keys, walks a table only when it must. Costs
 * nothing when no process was forgotten. */
void sp_loader__sweep(struct sp_loader *l);

/* What the sweeps have cost so far (bpf(2) map syscalls). */
struct sp_sweep_stats {
	uint64_t sweeps;		/* sweeps that had work */
	uint64_t map_ops;		/* map syscalls made */
	uint64_t walks;			/* whole-map walks */
	uint64_t walked;		/* entries read by walks */
	uint64_t deleted;		/* entries deleted */
};
void sp_loader__sweep_stats(const struct sp_loader *l, struct sp_sweep_stats *out);
/* Sums the per-CPU drop counters (enum sp_counter). */
void sp_loader__counters(struct sp_loader *l, uint64_t out[SP_CNT_MAX]);

#endif
