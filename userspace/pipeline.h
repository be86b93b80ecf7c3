/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The userspace pipeline: ring-buffer records in, finished spans out.
 * Routes each record to its owner: data and socket events to streams
 * (decoders), process events to procs, exchanges and process lifecycles to
 * span assembly. Needs no BPF, so tests drive it with synthetic records.
 */
#ifndef SP_PIPELINE_H
#define SP_PIPELINE_H

#include <stddef.h>
#include <stdint.h>
#include "assemble/span_asm.h"
#include "capture/streams.h"
#include "semantics/body_sub.h"
#include "util/procfs.h"

struct sp_pipeline_opts {
	struct sp_asm_opts asm_opts;
	uint32_t max_procs;
	uint32_t max_streams;
	uint32_t max_sockets;
	bool all;		/* system-wide: processes get spans lazily */
	bool llm;		/* decode LLM API calls */
	struct sp_llm_opts llm_opts;
	/* a process exec'd a new image: attach TLS probes to it */
	void (*on_exec)(void *ctx, uint32_t pid);
	/* a process is gone: forget its kernel-side state */
	void (*on_exit)(void *ctx, uint32_t pid);
	void *hook_ctx;
	/* where process facts come from (util/procfs.h): NULL for the live
	 * /proc; a recording's answers in replay */
	sp_proc_read_fn proc_read;
	void *proc_read_ctx;
};

struct sp_pipeline_stats {
	uint64_t events;
	uint64_t bad_records;	/* too short or of an unknown type */
	uint64_t own_exports;	/* a local backend's side of our exports */
	uint64_t trace_context;	/* spans put into a caller's trace (traceparent) */
	uint64_t bad_traceparent;	/* malformed traceparent headers, ignored */
	uint64_t retries;	/* requests marked as resends of a failed one */
	uint64_t rpc_exchanges;	/* JSON-RPC (MCP) exchanges on stdio */
	uint64_t consumer_calls;	/* other body consumers' spans (MCP over HTTP) */
	uint64_t local_links;	/* server spans put under their local client's */
	uint64_t agent_requests;	/* an agent server's requests made trace roots */
	uint64_t llm_calls;
};

struct sp_pipeline;

struct sp_pipeline *sp_pipeline__new(const struct sp_pipeline_opts *opts);
void sp_pipeline__free(struct sp_pipeline *p);
/* Sinks: the pipeline owns them from now on. 0 or -errno. */
int sp_pipeline__add_sink(struct sp_pipeline *p, struct sp_exporter *e);
/* One ring-buffer record (borrowed). 0, or -EINVAL for a malformed one. */
int sp_pipeline__handle(struct sp_pipeline *p, const void *rec, size_t size);
/* pid is a target (-p or launched): it gets a root span now. */
int sp_pipeline__target(struct sp_pipeline *p, uint32_t pid, uint64_t ts);
/* Records a running process from /proc (one that started before us). */
void sp_pipeline__snapshot(struct sp_pipeline *p, uint32_t pid, uint64_t ts);
void sp_pipeline__tick(struct sp_pipeline *p, uint64_t now);
/* Ends everything in flight and flushes all sinks. */
void sp_pipeline__shutdown(struct sp_pipeline *p, uint64_t now);

const struct sp_pipeline_stats *sp_pipeline__stats(const struct sp_pipeline *p);
const struct sp_streams_stats *sp_pipeline__streams_stats(const struct sp_pipeline *p);
const struct sp_asm_stats *sp_pipeline__asm_stats(const struct sp_pipeline *p);
uint64_t sp_pipeline__proc_evictions(const struct sp_pipeline *p);
/* Local connections and request attempts forgotten to make room: links
 * and resends that went unmarked (assemble/links.h, semantics/retries.h). */
uint64_t sp_pipeline__link_evictions(const struct sp_pipeline *p);
uint64_t sp_pipeline__retry_evictions(const struct sp_pipeline *p);
struct sp_func_stats;
const struct sp_func_stats *sp_pipeline__func_stats(const struct sp_pipeline *p);
struct sp_span_asm *sp_pipeline__asm(const struct sp_pipeline *p);

#endif
