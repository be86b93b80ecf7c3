/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Function-probe spans: SP_EV_FUNC records in, INTERNAL spans out. Each
 * returned call of a --probe function is a span named after the probe,
 * nested by the thread's call depth: a thread's outermost probed call is
 * a child of its process's span (sp_span_asm__child), every call inside
 * it a child of the call that encloses it. A --usdt hit is a zero-length
 * INTERNAL span, a child of the thread's innermost open call (or of the
 * process's span when none is open).
 *
 * Here rather than in semantics/ because the work is tree-building: the
 * attributes are a handful, the per-thread stack of open calls and their
 * span ids are the state.
 *
 * A span is made when its call returns (start from the entry, so children
 * are made first), but its span id is drawn at entry: the children that
 * return before it already name it as their parent. Entries and returns
 * pair by (thread, probe, stack pointer at entry). Calls that never
 * return through their probe (longjmp, an exception, the thread or
 * process ending) are ended, marked spanprobe.span.unfinished, when that
 * is known: a later entry or return deeper in the stack than where they
 * were, the process's exit, the thread's eviction, the end of the run.
 *
 * Bounded: SP_FUNC_DEPTH open calls per thread (deeper ones are counted
 * and not traced), SP_FUNC_MAX_THREADS threads with open calls (the least
 * recently active one is evicted, its calls ended), no allocation per
 * record once a probe is defined.
 */
#ifndef SP_FUNC_SPAN_H
#define SP_FUNC_SPAN_H

#include <stddef.h>
#include <stdint.h>
#include "spanprobe.h"

#define SP_FUNC_DEPTH		32
#define SP_FUNC_MAX_THREADS	4096
#define SP_FUNC_NAME_LEN	128

/*
 * What a probe id names: made by userspace (cli/trace_cmd.c, from
 * discovery/func_probe.h) and fed to the pipeline like a ring record, once
 * per probe before tracing starts, so that a recording replays with the
 * names it was made with. hdr.what = SP_FUNC_DEFINE, hdr.probe = the id,
 * hdr.flags = SP_FUNC_DEF_USDT for a USDT probe; the rest of hdr is 0.
 */
#define SP_FUNC_DEF_USDT	1
struct sp_func_def {
	struct sp_func_event hdr;
	char name[SP_FUNC_NAME_LEN];	/* the span name: =NAME, the symbol, PROVIDER:NAME */
	char symbol[SP_FUNC_NAME_LEN];	/* function: its symbol; USDT: the provider */
	char usdt_name[SP_FUNC_NAME_LEN];	/* USDT: the probe's name */
	char binary[SP_PATH_LEN];	/* the probed file, resolved */
};

struct sp_func_stats {
	uint64_t calls;			/* spans of returned calls */
	uint64_t usdt_hits;		/* USDT spans */
	uint64_t unfinished;		/* calls ended without their return */
	uint64_t too_deep;		/* entries past SP_FUNC_DEPTH, not traced */
	uint64_t unmatched;		/* returns of no open call (attached mid-call) */
	uint64_t thread_evictions;	/* threads dropped with calls open */
	uint64_t unknown_probe;		/* records of a probe id never defined */
	uint64_t no_span;		/* span pool exhausted */
};

struct sp_span_asm;
struct sp_procs;
struct sp_func_spans;

/* Borrows asm and procs, which must outlive it. Allocates its tables at
 * the first definition. NULL with errno set. */
struct sp_func_spans *sp_func_spans__new(struct sp_span_asm *asm_, struct sp_procs *procs);
void sp_func_spans__free(struct sp_func_spans *f);
/* One SP_EV_FUNC record or definition (borrowed). 0, -EINVAL for a
 * malformed one, or -ENOMEM when the first definition finds no memory. */
int sp_func_spans__handle(struct sp_func_spans *f, const void *rec, size_t size);
/* tgid exited (or exec'd: the old image's calls are over too) at ts: its
 * threads' open calls end there, unfinished. Call before the process's
 * span is ended or renamed. */
void sp_func_spans__proc_exit(struct sp_func_spans *f, uint32_t tgid, uint64_t ts);
/* Ends every open call at now (the end of the run). */
void sp_func_spans__end_all(struct sp_func_spans *f, uint64_t now);
const struct sp_func_stats *sp_func_spans__stats(const struct sp_func_spans *f);

#endif
