/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Span assembly: turns process lifecycles and decoded exchanges into span
 * trees, and hands finished spans to the trace buffer (trace_buf.h), which
 * sends each trace to every sink as one group once it is complete.
 *
 * Trace rules (README "Span trees"):
 * - A target process (launched with --, or named with -p) gets a root span
 *   when tracing starts.
 * - A process that makes a model call is an agent (curl and the like make
 *   them for the process that ran them: __model_call). Its span is
 *   invoke_agent from the process's start to its exit; it nests under its
 *   parent's span only if that is in a kept tree (a target's or another
 *   agent's), else it is a trace root, leaving any launcher's trace with
 *   its subtree. The processes it started before anyone knew, running or
 *   exited, get their spans then (model/procs.h keeps them).
 * - A process forked by a process that has an open span gets a child span
 *   at once, in the same trace: under an agent, under the tool window the
 *   model asked for (by command line, else by time), or, outside any, as
 *   a tool of its own (execute_tool {executable}).
 * - A tool call a model response asks for is an execute_tool span under
 *   the agent from that response's end to the request that answers it
 *   (__tools); the agent's other calls inside the window nest under it.
 * - Any other process gets a root span (a new trace) at its first HTTP
 *   exchange, so system-wide mode does not make a trace of every `ls`.
 * - A root span with no open child processes and no activity for
 *   trace_idle_ns is ended at its last activity; the next activity starts
 *   a new trace. A process span otherwise ends when the process exits.
 *
 * Its own state (each process's open span, activity, open child spans,
 * parent span) lives in a table of its own keyed by pid, as big as the
 * process table; struct sp_proc holds only facts, read here.
 */
#ifndef SP_SPAN_ASM_H
#define SP_SPAN_ASM_H

#include <stdint.h>
#include "exporters/exporter.h"
#include "model/procs.h"
#include "model/span.h"
#include "assemble/trace_buf.h"
#include "semantics/body_sub.h"

#define SP_ASM_MAX_SINKS SP_TRACE_BUF_MAX_SINKS
/* a trace held past trace_idle_ns by this much is quiet: it leaves */
#define SP_ASM_QUIET_MARGIN_NS	(30 * 1000000000ull)
/* no trace is held longer than this */
#define SP_ASM_MAX_TRACE_AGE_NS	(60 * 1000000000ull)
/* the span pool's budget when the options leave it 0 */
#define SP_ASM_MAX_SPANS	16384
#define SP_ASM_MAX_BYTES	((size_t)16 << 20)

struct sp_asm_opts {
	uint64_t trace_idle_ns;		/* idle gap that ends a trace */
	uint64_t flush_interval_ns;	/* how often batches go to sinks */
	uint32_t max_spans;		/* open + held spans at most; 0: 16384 + one
					 * per process (max_procs) */
	size_t max_bytes;		/* ... in this many bytes (span_pool.h) */
	uint32_t batch_max;		/* spans per batch at most */
	uint32_t max_trace_spans;	/* held per trace; 0: 1024 */
	uint64_t max_trace_age_ns;	/* held at most; 0: SP_ASM_MAX_TRACE_AGE_NS */
};

struct sp_asm_stats {
	uint64_t spans_finished;
	uint64_t spans_dropped;		/* span pool exhausted */
	uint64_t traces_split;		/* roots ended by the idle rule */
	uint64_t agents;		/* processes found to be agents */
	uint64_t agents_rerooted;	/* ... that left a launcher's trace */
	uint64_t procs_claimed;		/* spans made for what an agent ran before */
	uint64_t tool_calls;		/* execute_tool spans opened */
	uint64_t tool_calls_answered;	/* ... closed by the result going back */
	uint64_t turns;			/* agent spans ended by a new turn */
	uint64_t sub_agents;		/* in-process sub-agents (a second conversation) */
};

struct sp_span_asm;

/* max_procs: the process table's capacity. NULL with errno set. */
struct sp_span_asm *sp_span_asm__new(const struct sp_asm_opts *opts, uint32_t max_procs);
void sp_span_asm__free(struct sp_span_asm *a);
/* Adds a sink; the assembler owns it from now on. 0 or -errno. */
int sp_span_asm__add_sink(struct sp_span_asm *a, struct sp_exporter *e);
/* Adds an enrichment step, run on every trace group before the sinks,
 * in the order added (trace_buf.h). 0 or -errno. */
int sp_span_asm__add_step(struct sp_span_asm *a, sp_trace_step_fn fn, void *ctx);
/* Whether pid has an open process span. */
bool sp_span_asm__has_span(struct sp_span_asm *a, uint32_t pid);

/* Starts p's root span now (a target). */
void sp_span_asm__target(struct sp_span_asm *a, struct sp_proc *p, uint64_t ts);
/* parent may be NULL (not known). */
void sp_span_asm__fork(struct sp_span_asm *a, struct sp_proc *parent, struct sp_proc *child,
		       uint64_t ts);
void sp_span_asm__exec(struct sp_span_asm *a, struct sp_proc *p, uint64_t ts);
/* Ends p's span with its exit status. The caller then forgets p. */
void sp_span_asm__exit(struct sp_span_asm *a, struct sp_procs *procs, struct sp_proc *p,
		       uint64_t ts);

/*
 * p made a model call at ts: its agent (p, or the process that ran p when
 * p is curl and the like) becomes one (__agent). v (may be NULL): the
 * call's tool view; a call that continues the agent's conversation with a
 * new user message once the last turn is done starts a new turn (a new
 * trace). Returns the agent.
 */
struct sp_proc *sp_span_asm__model_call(struct sp_span_asm *a, struct sp_procs *procs,
					struct sp_proc *p, uint64_t ts,
					const struct sp_tool_view *v);
/* p is an agent (see the trace rules above); no-op if it is one already. */
void sp_span_asm__agent(struct sp_span_asm *a, struct sp_procs *procs, struct sp_proc *p,
			uint64_t ts);
/*
 * A model call of agent ended: v's results close the tool windows they
 * answer at req_start (the request that carries them), v's calls open
 * windows at resp_end. Arguments in v are recorded as given (pass none
 * when content is off).
 */
void sp_span_asm__tools(struct sp_span_asm *a, struct sp_proc *agent,
			const struct sp_tool_view *v, uint64_t req_start, uint64_t resp_end);

/*
 * A new span under p's current span (creating p's root if needed), with
 * start and end set from CLOCK_MONOTONIC times. The caller fills it and
 * passes it to __finish. NULL if the span pool is exhausted (counted).
 */
struct sp_span *sp_span_asm__child(struct sp_span_asm *a, struct sp_procs *procs,
				   struct sp_proc *p, const char *name, enum sp_span_kind kind,
				   uint64_t start, uint64_t end);
/* The same for a model call of conversation conv (0: unknown): never under
 * one of the agent's tool windows, but under the nested invoke_agent span
 * of a second conversation held inside one (an in-process sub-agent). */
struct sp_span *sp_span_asm__model_child(struct sp_span_asm *a, struct sp_procs *procs,
					 struct sp_proc *p, const char *name,
					 enum sp_span_kind kind, uint64_t start, uint64_t end,
					 uint64_t conv);
void sp_span_asm__finish(struct sp_span_asm *a, struct sp_span *s);
/* A new span under parent (same trace, same resource, same times), for
 * the caller to fill and __finish. NULL if the pool is exhausted
 * (counted). */
struct sp_span *sp_span_asm__child_of(struct sp_span_asm *a, const struct sp_span *parent,
				      const char *name, enum sp_span_kind kind);

/* A call of pid (or of curl it ran) was retried at ts: a "retry" event on
 * the span it runs in (pid's process span, or the tool window open then),
 * with the resend count and what was retried (a span name). */
void sp_span_asm__retry_event(struct sp_span_asm *a, uint32_t pid, uint64_t ts,
			      uint32_t resends, const char *what);

/* pid serves MCP to its host on stdio: its span is a process span, not a
 * tool the agent ran. */
void sp_span_asm__mcp_server(struct sp_span_asm *a, uint32_t pid);
/* Whether pid is an agent (see the trace rules). */
bool sp_span_asm__is_agent(struct sp_span_asm *a, uint32_t pid);
/* The same as __child, for a call of a tool named tool (an MCP tools/call):
 * under the agent's tool window for that tool ("tool", or Claude Code's
 * "mcp__{server}__tool") if one is open, else as __child. */
struct sp_span *sp_span_asm__tool_child(struct sp_span_asm *a, struct sp_procs *procs,
					struct sp_proc *p, const char *tool, const char *name,
					enum sp_span_kind kind, uint64_t start, uint64_t end);
/* s (finished or not, of pid's trace) served a request: the spans pid made
 * in its window that the trace buffer holds under pid's process span
 * become its children. */
void sp_span_asm__adopt(struct sp_span_asm *a, uint32_t pid, const struct sp_span *s);

/* The finished span (trace_id, span_id), held still, and its subtree go
 * under parent, in parent's trace (a server's span under its local
 * client's). False if it left the trace buffer already. */
bool sp_span_asm__graft(struct sp_span_asm *a, const uint8_t trace_id[16],
			const uint8_t span_id[8], const struct sp_span *parent);
/* s, not finished yet, moves under (trace_id, parent_id), and the held
 * spans of its subtree with it. */
void sp_span_asm__reparent(struct sp_span_asm *a, struct sp_span *s, const uint8_t trace_id[16],
			   const uint8_t parent_id[8]);

/* Whether a process has a request in flight (it is not idle then). */
typedef bool (*sp_busy_fn)(void *ctx, uint32_t pid);

/* Timers: the idle rule and the batch interval. now is CLOCK_MONOTONIC. */
void sp_span_asm__tick(struct sp_span_asm *a, struct sp_procs *procs, uint64_t now,
		       sp_busy_fn busy, void *busy_ctx);
/* Ends every open span at now, exports every held trace, flushes the
 * sinks. */
void sp_span_asm__shutdown(struct sp_span_asm *a, struct sp_procs *procs, uint64_t now);
/* p is about to be dropped from the process table: end its span. */
void sp_span_asm__evict(struct sp_span_asm *a, struct sp_proc *p);

const struct sp_asm_stats *sp_span_asm__stats(const struct sp_span_asm *a);
/* Tool calls that got no span: no window free (tool_windows.h). */
uint64_t sp_span_asm__tool_calls_dropped(const struct sp_span_asm *a);
const struct sp_trace_buf_stats *sp_span_asm__trace_stats(const struct sp_span_asm *a);
struct sp_span_pool_stats;
const struct sp_span_pool_stats *sp_span_asm__pool_stats(const struct sp_span_asm *a);
struct sp_exporter *sp_span_asm__sink(const struct sp_span_asm *a, int i);

#endif
