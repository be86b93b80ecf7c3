// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "util/clock.h"
#include "util/log.h"
#include "util/procfs.h"
#include "util/table.h"
#include "model/span_pool.h"
#include "assemble/span_asm.h"
#include "assemble/tool_windows.h"

/* agents whose tool windows are kept at once */
#define SP_ASM_MAX_AGENTS	256
/* how far up a process chain is followed (claiming, re-rooting) */
#define SP_ASM_MAX_DEPTH	32

/* What span assembly keeps per process: the span state, not the facts. */
struct asm_proc {
	uint32_t pid;
	bool target;		/* named with -p or launched: always a root */
	struct sp_span *span;	/* open process span, or NULL */
	uint64_t last_activity_ns;
	uint32_t open_children;	/* child process spans under span */
	uint32_t parent_span_pid;	/* pid whose span is our parent, 0 if root */
	/* that span's id: the pid may be a new process's by the time we end
	 * (our span's parent_id may instead be one of its tool windows) */
	uint8_t parent_span_id[8];
	bool agent;		/* makes model calls: its span is invoke_agent */
	bool model_client;	/* a CLI HTTP client making its parent's model calls */
	bool mcp_server;	/* serves MCP to its host: a server, not a tool run */
	/* in a tree kept whole, a target's or an agent's: an agent found
	 * below nests here instead of starting a trace of its own */
	bool tree;
	/* an agent's turns: the conversation its span is for, how many input
	 * messages its last model call carried, whether that call's answer
	 * asked for no tool (the turn is done), which turn this is */
	uint64_t conv;
	uint32_t msgs;
	bool turn_done;
	uint32_t turn;
};

struct sp_span_asm {
	struct sp_asm_opts o;
	/* by pid: an entry while a process has a span or is a target */
	struct sp_table *procs;
	struct sp_trace_buf *tb;
	/* open and held spans: o.max_spans, o.max_bytes */
	struct sp_span_pool *pool;
	struct sp_tool_windows *wins;	/* agents' open tool calls */
	bool freeing;		/* __free: spans go back unexported */
	/* spanprobe itself, run by an agent (a test runner): never its tool */
	uint32_t self;
	uint64_t now;		/* the latest CLOCK_MONOTONIC time seen */
	struct sp_asm_stats stats;
};

static void close_proc_span(struct sp_span_asm *a, struct asm_proc *e, struct sp_proc *p,
			    uint64_t end);

static void span_put(void *ctx, struct sp_span *s)
{
	struct sp_span_asm *a = ctx;

	sp_span_pool__put(a->pool, s);
}

static void end_window(struct sp_span_asm *a, struct sp_tool_win *w, uint64_t end,
		       const char *why);

static void on_window_evict(void *ctx, struct sp_tool_win *w)
{
	struct sp_span_asm *a = ctx;

	end_window(a, w, a->now, "evicted");
}

/* The asm table only outgrows the process table if they disagree: end
 * the span, with the facts it has. */
static void on_proc_full(void *ctx, void *entry)
{
	struct asm_proc *e = entry;

	e->target = false;
	close_proc_span(ctx, e, NULL, e->last_activity_ns);
}

struct sp_span_asm *sp_span_asm__new(const struct sp_asm_opts *opts, uint32_t max_procs)
{
	struct sp_span_asm *a = calloc(1, sizeof(*a));
	struct sp_trace_buf_opts to = {};

	if (!a)
		return NULL;
	a->o = *opts;
	a->self = getpid();
	if (!a->o.batch_max)
		a->o.batch_max = 512;
	/* by default, room for a span per process on top, so that open
	 * process spans never leave none for exchanges */
	if (!a->o.max_spans)
		a->o.max_spans = SP_ASM_MAX_SPANS + max_procs;
	if (!a->o.max_bytes)
		a->o.max_bytes = SP_ASM_MAX_BYTES;
	to.max_traces = a->o.max_spans;
	to.max_trace_spans = a->o.max_trace_spans;
	/* the pool bounds what is held: __shed when it runs dry */
	to.max_spans = 0;
	to.max_age_ns = a->o.max_trace_age_ns ? a->o.max_trace_age_ns : SP_ASM_MAX_TRACE_AGE_NS;
	/* no activity for longer than the idle rule waits: nothing will end
	 * the trace's root soon (a silent child runs, or the root was lost) */
	if (a->o.trace_idle_ns)
		to.quiet_ns = a->o.trace_idle_ns + SP_ASM_QUIET_MARGIN_NS;
	to.flush_interval_ns = a->o.flush_interval_ns;
	to.batch_max = a->o.batch_max;
	a->pool = sp_span_pool__new(a->o.max_spans, a->o.max_bytes);
	a->tb = sp_trace_buf__new(&to, span_put, a);
	a->procs = sp_table__new(max_procs ? max_procs : 1, sizeof(struct asm_proc), on_proc_full,
				 a);
	a->wins = sp_tool_windows__new(SP_ASM_MAX_AGENTS, on_window_evict, a);
	if (!a->pool || !a->tb || !a->procs || !a->wins)
		goto err_out;
	return a;
err_out:
	sp_span_asm__free(a);
	errno = ENOMEM;
	return NULL;
}

void sp_span_asm__free(struct sp_span_asm *a)
{
	struct asm_proc *e;
	uint32_t it = 0;

	if (!a)
		return;
	/* open tool spans go back to the pool with their windows */
	a->freeing = true;
	sp_tool_windows__free(a->wins);
	/* held spans come back through span_put */
	sp_trace_buf__free(a->tb);
	while (a->procs && (e = sp_table__next(a->procs, &it)))
		if (e->span)
			span_put(a, e->span);
	sp_table__free(a->procs);
	sp_span_pool__free(a->pool);
	free(a);
}

int sp_span_asm__add_sink(struct sp_span_asm *a, struct sp_exporter *e)
{
	return sp_trace_buf__add_sink(a->tb, e);
}

int sp_span_asm__add_step(struct sp_span_asm *a, sp_trace_step_fn fn, void *ctx)
{
	return sp_trace_buf__add_step(a->tb, fn, ctx);
}

struct sp_exporter *sp_span_asm__sink(const struct sp_span_asm *a, int i)
{
	return sp_trace_buf__sink(a->tb, i);
}

const struct sp_asm_stats *sp_span_asm__stats(const struct sp_span_asm *a)
{
	return &a->stats;
}

uint64_t sp_span_asm__tool_calls_dropped(const struct sp_span_asm *a)
{
	return sp_tool_windows__dropped(a->wins);
}

const struct sp_trace_buf_stats *sp_span_asm__trace_stats(const struct sp_span_asm *a)
{
	return sp_trace_buf__stats(a->tb);
}

const struct sp_span_pool_stats *sp_span_asm__pool_stats(const struct sp_span_asm *a)
{
	return sp_span_pool__stats(a->pool);
}

static void seen(struct sp_span_asm *a, uint64_t ts)
{
	if (ts > a->now)
		a->now = ts;
}

static struct sp_span *span_get(struct sp_span_asm *a)
{
	const struct sp_span_pool_stats *ps = sp_span_pool__stats(a->pool);
	struct sp_span *s;

	/* held spans leave before open ones run out of bytes to grow in */
	while (ps->bytes_in_use > a->o.max_bytes / 4 * 3 && sp_trace_buf__shed(a->tb))
		;
	s = sp_span_pool__get(a->pool);

	/* the pool bounds open and held spans together: held ones make room */
	if (!s && sp_trace_buf__shed(a->tb))
		s = sp_span_pool__get(a->pool);
	if (!s)
		a->stats.spans_dropped++;
	return s;
}

static struct asm_proc *proc_get(struct sp_span_asm *a, uint32_t pid)
{
	return sp_table__get(a->procs, pid, 0);
}

static struct asm_proc *proc_get_or_add(struct sp_span_asm *a, uint32_t pid)
{
	struct asm_proc *e = proc_get(a, pid);

	if (!e) {
		e = sp_table__add(a->procs, pid, 0);
		if (e)
			e->pid = pid;
	}
	return e;
}

/* An entry is kept while it has a span, names a target or an agent (whose
 * span the idle rule may end and its next activity start again). */
static void proc_forget(struct sp_span_asm *a, struct asm_proc *e)
{
	if (!e->span && !e->target && !e->agent)
		sp_table__del(a->procs, e);
}

bool sp_span_asm__has_span(struct sp_span_asm *a, uint32_t pid)
{
	struct asm_proc *e = proc_get(a, pid);

	return e && e->span;
}

void sp_span_asm__finish(struct sp_span_asm *a, struct sp_span *s)
{
	if (s->end_ns < s->start_ns)
		s->end_ns = s->start_ns;
	a->stats.spans_finished++;
	sp_trace_buf__add(a->tb, s, a->now);
}

static struct asm_proc *span_parent_entry(struct sp_span_asm *a, struct asm_proc *e)
{
	struct asm_proc *parent = e->parent_span_pid ? proc_get(a, e->parent_span_pid) : NULL;

	/* the same span we started under, not a later process's */
	if (parent && parent->span &&
	    !memcmp(parent->span->span_id, e->parent_span_id, sizeof(e->parent_span_id)))
		return parent;
	return NULL;
}

/* Which span a new child of parent's process goes under: one of its tool
 * windows if parent is an agent with one open that the child belongs to. */
static const struct sp_span *child_parent_span(struct sp_span_asm *a, struct asm_proc *parent,
					       const struct sp_proc *child, uint64_t ts)
{
	struct sp_tool_win *w;

	if (!parent->agent)
		return parent->span;
	w = sp_tool_windows__pick(a->wins, parent->pid,
				  child && child->res ? child->res->command_line : NULL, ts, NULL);
	return w && w->span ? w->span : parent->span;
}

/* Opens p's process span, under parent_pid's span if that has one. */
static struct sp_span *open_proc_span(struct sp_span_asm *a, struct sp_proc *p,
				      uint32_t parent_pid, uint64_t ts)
{
	struct asm_proc *e = proc_get_or_add(a, p->pid), *parent;
	struct sp_span *s;

	if (!e)
		return NULL;
	s = span_get(a);
	if (!s) {
		proc_forget(a, e);
		return NULL;
	}
	/* looked up after the add, which may have made room */
	parent = parent_pid ? proc_get(a, parent_pid) : NULL;
	sp_span__init(s, p->name, strlen(p->name), SP_KIND_INTERNAL, p->res);
	if (parent && parent->span) {
		const struct sp_span *ps = child_parent_span(a, parent, p, ts);

		memcpy(s->trace_id, parent->span->trace_id, sizeof(s->trace_id));
		memcpy(s->parent_id, ps->span_id, sizeof(s->parent_id));
		parent->open_children++;
		parent->last_activity_ns = ts;
		e->parent_span_pid = parent_pid;
		memcpy(e->parent_span_id, parent->span->span_id, sizeof(e->parent_span_id));
		e->tree = parent->tree;
	} else {
		sp_random_id(s->trace_id, sizeof(s->trace_id));
		e->parent_span_pid = 0;
	}
	s->start_ns = sp_clock_to_unix(ts);
	e->span = s;
	e->last_activity_ns = ts;
	return s;
}

static void set_exit_status(struct sp_span *s, int st)
{
	int code = sp_wait_code(st);
	char msg[48], sig[16];

	sp_span__set_int(s, "process.exit.code", code);
	if (!code)
		return;
	if (WIFSIGNALED(st)) {
		const char *abbr = sigabbrev_np(WTERMSIG(st));

		if (abbr)
			snprintf(sig, sizeof(sig), "SIG%s", abbr);
		else
			snprintf(sig, sizeof(sig), "%d", WTERMSIG(st));
		snprintf(msg, sizeof(msg), "killed by %s", sig);
		sp_span__set_str(s, "error.type", sig, strlen(sig));
	} else {
		snprintf(sig, sizeof(sig), "%d", code);
		snprintf(msg, sizeof(msg), "exit code %d", code);
		sp_span__set_str(s, "error.type", sig, strlen(sig));
	}
	sp_span__set_status(s, SP_STATUS_ERROR, msg);
}

/*
 * "invoke_agent NAME" (AGENT) or "execute_tool NAME" (TOOL): the span name
 * and the GenAI and OpenInference attributes that say what it is.
 */
static void genai_names(struct sp_span *s, bool agent, const char *name)
{
	const char *op = agent ? "invoke_agent" : "execute_tool";
	char sname[160];

	snprintf(sname, sizeof(sname), "%s %s", op, name);
	sp_span__set_name(s, sname, strlen(sname));
	sp_span__set_str(s, "gen_ai.operation.name", op, strlen(op));
	sp_span__set_str(s, agent ? "gen_ai.agent.name" : "gen_ai.tool.name", name, strlen(name));
	sp_span__set_str(s, "openinference.span.kind", agent ? "AGENT" : "TOOL", agent ? 5 : 4);
	sp_span__set_str(s, agent ? "agent.name" : "tool.name", name, strlen(name));
}

/* The conversation an agent span is for, as GenAI and OpenInference name
 * it: 16 hex digits of its hash. */
static void set_conversation(struct sp_span *s, uint64_t conv)
{
	char id[17];

	snprintf(id, sizeof(id), "%016llx", (unsigned long long)conv);
	sp_span__set_str(s, "gen_ai.conversation.id", id, 16);
	sp_span__set_str(s, "session.id", id, 16);
}

/* A subprocess an agent ran outside any tool call the model asked for:
 * the process is the tool. */
static void name_tool_process(struct sp_span *s, const struct sp_proc *p)
{
	genai_names(s, false, p->res && p->res->exe_name[0] ? p->res->exe_name : p->comm);
}

static void end_agent_windows(struct sp_span_asm *a, uint32_t pid, uint64_t end);
static struct sp_span *sub_agent_span(struct sp_span_asm *a, struct asm_proc *e, uint64_t conv,
				      uint64_t start);

/* Ends e's span at end; p holds the process's facts (NULL: not known).
 * e is forgotten unless it names a target. */
static void close_proc_span(struct sp_span_asm *a, struct asm_proc *e, struct sp_proc *p,
			    uint64_t end)
{
	struct sp_span *s = e->span;
	struct asm_proc *parent;

	if (!s)
		return;
	if (e->agent)
		end_agent_windows(a, e->pid, end);
	e->span = NULL;
	s->end_ns = sp_clock_to_unix(end);
	parent = span_parent_entry(a, e);
	/* process attributes, set last so an exec'd name and resource win */
	if (p) {
		sp_span__set_name(s, p->name, strlen(p->name));
		if (p->res) {
			sp_span__set_int(s, "process.pid", p->pid);
			sp_span__set_str(s, "process.executable.name", p->res->exe_name,
					 strlen(p->res->exe_name));
			sp_span__set_str(s, "process.executable.path", p->res->exe_path,
					 strlen(p->res->exe_path));
			sp_span__set_str(s, "process.command_line", p->res->command_line,
					 strlen(p->res->command_line));
		}
	}
	if (e->agent) {
		genai_names(s, true, p ? sp_proc_agent_name(p) : "agent");
		if (e->conv)
			set_conversation(s, e->conv);
		if (e->turn)
			sp_span__set_int(s, "spanprobe.agent.turn", e->turn + 1);
	}
	else if (p && parent && parent->agent && !e->model_client && !e->mcp_server &&
		 !memcmp(s->parent_id, parent->span->span_id, sizeof(s->parent_id)))
		name_tool_process(s, p);
	if (e->parent_span_pid)
		sp_span__set_int(s, "process.parent_pid", e->parent_span_pid);
	if (p && p->exited)
		set_exit_status(s, p->exit_status);
	if (parent && parent->open_children) {
		parent->open_children--;
		parent->last_activity_ns = end;
	}
	proc_forget(a, e);
	sp_span_asm__finish(a, s);
}

void sp_span_asm__target(struct sp_span_asm *a, struct sp_proc *p, uint64_t ts)
{
	struct asm_proc *e = proc_get_or_add(a, p->pid);

	seen(a, ts);
	if (!e)
		return;
	e->target = true;
	if (!e->span)
		open_proc_span(a, p, 0, ts);
	e = proc_get(a, p->pid);
	if (e)
		e->tree = true;
}

void sp_span_asm__fork(struct sp_span_asm *a, struct sp_proc *parent, struct sp_proc *child,
		       uint64_t ts)
{
	seen(a, ts);
	if (parent && sp_span_asm__has_span(a, parent->pid) && !sp_span_asm__has_span(a, child->pid))
		open_proc_span(a, child, parent->pid, ts);
}

void sp_span_asm__exec(struct sp_span_asm *a, struct sp_proc *p, uint64_t ts)
{
	struct asm_proc *e = proc_get(a, p->pid), *parent;
	struct sp_span *s = e ? e->span : NULL;
	struct sp_tool_win *w;
	bool by_cmd;

	seen(a, ts);
	if (!s)
		return;
	/* the span takes the new image's name and resource */
	sp_resource__put(s->res);
	s->res = sp_resource__get(p->res);
	sp_span__set_name(s, p->name, strlen(p->name));
	e->last_activity_ns = ts;
	/* now that it says what it runs, it may be a tool call's own */
	parent = span_parent_entry(a, e);
	if (parent && parent->agent && p->res) {
		w = sp_tool_windows__pick(a->wins, parent->pid, p->res->command_line, ts, &by_cmd);
		if (w && w->span && by_cmd)
			memcpy(s->parent_id, w->span->span_id, sizeof(s->parent_id));
	}
}

/* The process is gone: end its span and forget it, target or not. */
static void proc_gone(struct sp_span_asm *a, struct sp_proc *p, uint64_t *end)
{
	struct asm_proc *e = proc_get(a, p->pid);

	if (!e)
		return;
	e->target = false;
	/* an agent's span ends as what it was, then the entry goes */
	if (e->span)
		close_proc_span(a, e, p, end ? *end : e->last_activity_ns);
	e = proc_get(a, p->pid);
	if (e) {
		e->agent = false;
		proc_forget(a, e);
	}
}

void sp_span_asm__exit(struct sp_span_asm *a, struct sp_procs *procs, struct sp_proc *p,
		       uint64_t ts)
{
	seen(a, ts);
	proc_gone(a, p, &ts);
}

void sp_span_asm__evict(struct sp_span_asm *a, struct sp_proc *p)
{
	/* ends at its last activity: we stop knowing it, it did not exit */
	proc_gone(a, p, NULL);
}

/* ---- agents ---- */

/* A finished span of an agent's trace, once the agent is known: a process
 * it ran before that (and that ended) is a tool of its own, as it would
 * have been. */
static void moved_span(void *ctx, struct sp_span *s)
{
	const struct sp_span *agent = ctx;
	const struct sp_attr *exe = sp_span__attr(s, "process.executable.name");

	if (exe && exe->type == SP_ATTR_STR && !sp_span__attr(s, "gen_ai.operation.name") &&
	    !memcmp(s->parent_id, agent->span_id, sizeof(s->parent_id)))
		genai_names(s, false, exe->s);
}

/*
 * e's span leaves its trace for a new one, with every span of its subtree:
 * the open ones of its descendants' processes, and the finished ones the
 * trace buffer holds.
 */
static void reroot(struct sp_span_asm *a, struct asm_proc *e)
{
	struct asm_proc *parent = span_parent_entry(a, e);
	uint8_t old[16], tid[16];

	if (parent && parent->open_children)
		parent->open_children--;
	memcpy(old, e->span->trace_id, sizeof(old));
	sp_random_id(tid, sizeof(tid));
	memcpy(e->span->trace_id, tid, sizeof(tid));
	memset(e->span->parent_id, 0, sizeof(e->span->parent_id));
	e->parent_span_pid = 0;
	/* the open spans below move in keep_tree() */
	sp_trace_buf__move(a->tb, old, tid, e->span->span_id, a->now, moved_span, e->span);
	a->stats.agents_rerooted++;
}

/*
 * Every process with an open span below agent e is in its kept tree now
 * (a sub-agent found below it nests there), and in its trace (e may have
 * just left a launcher's).
 */
static void keep_tree(struct sp_span_asm *a, struct asm_proc *e)
{
	struct asm_proc *d;
	uint32_t it = 0;

	while ((d = sp_table__next(a->procs, &it))) {
		struct asm_proc *up = d;

		if (!d->span || d == e)
			continue;
		for (int depth = 0; up && up != e && depth < SP_ASM_MAX_DEPTH; depth++)
			up = up->parent_span_pid ? proc_get(a, up->parent_span_pid) : NULL;
		if (up != e)
			continue;
		d->tree = true;
		memcpy(d->span->trace_id, e->span->trace_id, sizeof(d->span->trace_id));
	}
}

/*
 * Spans for the processes pid started before anyone knew it was in a kept
 * tree: still running, or exited (tombstones, model/procs.h), children
 * first found, each then its own children, to SP_ASM_MAX_DEPTH.
 */
#define SP_ASM_MAX_CLAIMED 256

struct claimed {
	uint32_t pid[SP_ASM_MAX_CLAIMED];
	int n;
};

static void claim_children(struct sp_span_asm *a, struct sp_procs *procs, uint32_t pid,
			   uint64_t since, int depth, struct claimed *done)
{
	struct sp_proc *q;
	uint32_t it = 0;

	if (depth >= SP_ASM_MAX_DEPTH)
		return;
	while ((q = sp_procs__next(procs, &it))) {
		struct asm_proc *e;

		/* started after its parent did: not an older process that got
		 * a reused pid's parent */
		if (q->ppid != pid || q->pid == pid || q->start_ns < since ||
		    q->pid == a->self || sp_span_asm__has_span(a, q->pid))
			continue;
		sp_procs__ensure(procs, q);
		if (!open_proc_span(a, q, pid, q->start_ns))
			continue;
		a->stats.procs_claimed++;
		claim_children(a, procs, q->pid, q->start_ns, depth + 1, done);
		e = proc_get(a, q->pid);
		if (q->exited && e && e->span) {
			close_proc_span(a, e, q, q->exit_ns);
			if (done->n < SP_ASM_MAX_CLAIMED)
				done->pid[done->n++] = q->pid;
		}
	}
}

void sp_span_asm__agent(struct sp_span_asm *a, struct sp_procs *procs, struct sp_proc *p,
			uint64_t ts)
{
	struct asm_proc *e = proc_get(a, p->pid), *up, *parent;
	uint64_t start = p->start_ns;
	struct claimed done = {};

	seen(a, ts);
	if (e && e->agent && e->span)
		return;
	/* an agent whose span the idle rule ended starts again now */
	if (e && e->agent)
		start = ts;
	/* a child of a kept tree nests there (a sub-agent); anything above
	 * that is not (a login shell, tmux, the npm launcher) stays out */
	parent = p->ppid ? proc_get(a, p->ppid) : NULL;
	if (parent && !(parent->span && parent->tree))
		parent = NULL;
	if (!e || !e->span) {
		if (!open_proc_span(a, p, parent ? parent->pid : 0, start))
			return;
		e = proc_get(a, p->pid);
	} else if (!e->tree && e->parent_span_pid) {
		reroot(a, e);
	}
	if (start < ts && sp_clock_to_unix(start) < e->span->start_ns)
		e->span->start_ns = sp_clock_to_unix(start);
	e->agent = true;
	e->tree = true;
	keep_tree(a, e);
	/* what it ran and saw end before (a target's start-up probes) */
	sp_trace_buf__visit(a->tb, e->span->trace_id, moved_span, e->span);
	a->stats.agents++;
	/* a target whose tree makes model calls is an agent run too */
	up = e;
	for (int depth = 0; up && depth < SP_ASM_MAX_DEPTH; depth++) {
		struct asm_proc *next = span_parent_entry(a, up);

		if (!next && up->target)
			up->agent = true;
		up = next;
	}
	/* its subtree is kept whole from now on */
	claim_children(a, procs, p->pid, p->start_ns, 0, &done);
	/* tombstones that have spans now are no one's to claim again
	 * (deleted here, not while the table is walked) */
	for (int i = 0; i < done.n; i++) {
		struct sp_proc *q = sp_procs__get(procs, done.pid[i]);

		if (q && q->exited)
			sp_procs__del(procs, q);
	}
}

/* The agent a model call of p is made for: p, or the process that ran p
 * when p is curl and the like. */
static struct sp_proc *agent_of(struct sp_span_asm *a, struct sp_procs *procs, struct sp_proc *p)
{
	struct asm_proc *e = proc_get(a, p->pid);
	struct sp_proc *parent;

	if (e && e->target)
		return p;
	if (!sp_proc_is_http_cli(p) || !p->ppid)
		return p;
	parent = sp_procs__get(procs, p->ppid);
	if (!parent || parent->exited)
		return p;
	sp_procs__ensure(procs, parent);
	return parent;
}

/*
 * A long-lived agent (an interactive session, an agent server) is not one
 * endless trace: a model call that continues the agent's conversation with
 * a new user message, after the last answer asked for no tool and every
 * tool call was answered, starts a new turn: the span so far ends at its
 * last activity and a new one, a new trace, starts at ts.
 */
static void maybe_new_turn(struct sp_span_asm *a, struct sp_procs *procs, struct sp_proc *agent,
			   const struct sp_tool_view *v, uint64_t ts)
{
	struct asm_proc *e = proc_get(a, agent->pid), *parent;
	uint32_t turn, parent_pid;

	if (!v || !e || !e->agent || !e->span || !v->last_is_user || !v->conversation ||
	    v->conversation != e->conv || !e->turn_done || v->messages <= e->msgs ||
	    sp_tool_windows__next(a->wins, agent->pid, &(int){ 0 }))
		return;
	parent = span_parent_entry(a, e);
	parent_pid = parent ? parent->pid : 0;
	turn = e->turn + 1;
	sp_span__set_str(e->span, "spanprobe.trace.end", "turn", 4);
	close_proc_span(a, e, agent, e->last_activity_ns > ts ? ts : e->last_activity_ns);
	if (!open_proc_span(a, agent, parent_pid, ts))
		return;
	e = proc_get(a, agent->pid);
	e->open_children = 0;
	e->turn = turn;
	e->turn_done = false;
	a->stats.turns++;
}

struct sp_proc *sp_span_asm__model_call(struct sp_span_asm *a, struct sp_procs *procs,
					struct sp_proc *p, uint64_t ts,
					const struct sp_tool_view *v)
{
	struct sp_proc *agent = agent_of(a, procs, p);
	struct asm_proc *e;

	sp_span_asm__agent(a, procs, agent, ts);
	maybe_new_turn(a, procs, agent, v, ts);
	if (agent != p && (e = proc_get(a, p->pid))) {
		struct asm_proc *ae = span_parent_entry(a, e);

		e->model_client = true;
		/* curl sending tool results back ran inside their windows, but
		 * it is the agent thinking, not the tools acting */
		if (e->span && ae && ae->agent)
			memcpy(e->span->parent_id, ae->span->span_id, sizeof(e->span->parent_id));
	}
	return agent;
}

static void end_window(struct sp_span_asm *a, struct sp_tool_win *w, uint64_t end,
		       const char *why)
{
	struct sp_span *s = w->span, *sub = w->sub_agent;

	w->span = w->sub_agent = NULL;
	if (sub) {
		sub->end_ns = sp_clock_to_unix(end);
		if (a->freeing)
			span_put(a, sub);
		else
			sp_span_asm__finish(a, sub);
	}
	if (!s)
		return;
	s->end_ns = sp_clock_to_unix(end);
	if (why)
		sp_span__set_str(s, "spanprobe.tool.unanswered", why, strlen(why));
	if (a->freeing)
		span_put(a, s);
	else
		sp_span_asm__finish(a, s);
}

static void end_agent_windows(struct sp_span_asm *a, uint32_t pid, uint64_t end)
{
	struct sp_tool_win *w;
	int it = 0;

	while ((w = sp_tool_windows__next(a->wins, pid, &it))) {
		end_window(a, w, end, "agent ended");
		sp_tool_windows__close(a->wins, pid, w);
	}
}

static void tool_span_attrs(struct sp_span *s, const struct sp_tool_ref *c, const char *name)
{
	genai_names(s, false, name);
	sp_span__set_str(s, "gen_ai.tool.type", "function", 8);
	sp_span__set_str(s, "tool_call.function.name", name, strlen(name));
	if (c->id[0]) {
		sp_span__set_str(s, "gen_ai.tool.call.id", c->id, strlen(c->id));
		sp_span__set_str(s, "tool_call.id", c->id, strlen(c->id));
	}
	if (c->args && c->args_len) {
		sp_span__set_str(s, "gen_ai.tool.call.arguments", c->args, c->args_len);
		sp_span__set_str(s, "tool_call.function.arguments", c->args, c->args_len);
		sp_span__set_str(s, "tool.parameters", c->args, c->args_len);
		sp_span__set_str(s, "input.value", c->args, c->args_len);
		if (c->args_cut)
			sp_span__set_bool(s, "spanprobe.capture.truncated", true);
	}
}

void sp_span_asm__tools(struct sp_span_asm *a, struct sp_proc *agent,
			const struct sp_tool_view *v, uint64_t req_start, uint64_t resp_end)
{
	struct asm_proc *e = proc_get(a, agent->pid), *d;
	struct sp_tool_win *w;
	struct sp_span *sub;
	uint64_t first_call = resp_end;
	uint32_t it = 0;

	seen(a, resp_end);
	if (!e || !e->agent || !e->span)
		return;
	/* the conversation the span is for is its first one's */
	if (!e->conv)
		e->conv = v->conversation;
	/* a sub-agent's answers open windows under it */
	sub = sub_agent_span(a, e, v->conversation, req_start);
	if (v->conversation == e->conv) {
		e->msgs = v->messages;
		e->turn_done = !v->ncalls;
	}
	/* results first: they answer the calls of earlier responses */
	for (int i = 0; i < v->nresults; i++) {
		const struct sp_tool_ref *r = &v->results[i];

		w = sp_tool_windows__find(a->wins, agent->pid, r->id, r->name);
		if (!w)
			continue;
		if (w->span && r->is_error) {
			sp_span__set_str(w->span, "error.type", "tool_error", 10);
			sp_span__set_status(w->span, SP_STATUS_ERROR, "the tool reported an error");
		}
		end_window(a, w, req_start < w->start ? w->start : req_start, NULL);
		sp_tool_windows__close(a->wins, agent->pid, w);
		a->stats.tool_calls_answered++;
	}
	for (int i = 0; i < v->ncalls; i++) {
		const struct sp_tool_ref *c = &v->calls[i];
		const char *name = c->name[0] ? c->name : "tool";
		struct sp_span *s;

		w = sp_tool_windows__open(a->wins, agent->pid);
		if (!w)
			continue;
		s = sp_span_asm__child_of(a, sub ? sub : e->span, name, SP_KIND_INTERNAL);
		if (!s) {
			sp_tool_windows__close(a->wins, agent->pid, w);
			continue;
		}
		snprintf(w->id, sizeof(w->id), "%s", c->id);
		snprintf(w->name, sizeof(w->name), "%s", name);
		sp_tool_args_cmd(c->args, c->args_len, w->cmd, sizeof(w->cmd));
		w->call_ts = c->ts && c->ts < resp_end ? c->ts : resp_end;
		w->start = resp_end;
		w->span = s;
		if (w->call_ts < first_call)
			first_call = w->call_ts;
		tool_span_attrs(s, c, name);
		s->start_ns = sp_clock_to_unix(resp_end);
		s->end_ns = s->start_ns;
		a->stats.tool_calls++;
	}
	if (!v->ncalls)
		return;
	/* a tool started while the response was still arriving (the agent
	 * acts on a call as soon as it is streamed) moves under its window */
	while ((d = sp_table__next(a->procs, &it))) {
		struct sp_tool_win *tw;
		bool by_cmd;

		if (!d->span || d->parent_span_pid != agent->pid ||
		    memcmp(d->span->parent_id, e->span->span_id, sizeof(d->span->parent_id)) ||
		    d->span->start_ns < sp_clock_to_unix(first_call))
			continue;
		tw = sp_tool_windows__pick(a->wins, agent->pid, NULL, resp_end, &by_cmd);
		if (!tw || !tw->span)
			continue;
		memcpy(d->span->parent_id, tw->span->span_id, sizeof(d->span->parent_id));
		if (d->span->start_ns < tw->span->start_ns)
			tw->span->start_ns = d->span->start_ns;
	}
}

void sp_span_asm__retry_event(struct sp_span_asm *a, uint32_t pid, uint64_t ts,
			      uint32_t resends, const char *what)
{
	struct asm_proc *e = proc_get(a, pid);
	struct sp_span *target;
	struct sp_event *ev;

	if (!e || !e->span)
		return;
	target = e->span;
	if (e->agent) {
		struct sp_tool_win *w = sp_tool_windows__pick(a->wins, pid, NULL, ts, NULL);

		if (w && w->span)
			target = w->span;
	}
	ev = sp_span__add_event(target, "retry", sp_clock_to_unix(ts));
	if (!ev)
		return;
	ev->attrs[ev->nattrs++] = (struct sp_attr){ .key = "http.request.resend_count",
						    .type = SP_ATTR_INT, .i = resends };
	what = what ? sp_span__strdup(target, what, strlen(what)) : NULL;
	if (what && ev->nattrs < SP_EVENT_MAX_ATTRS)
		ev->attrs[ev->nattrs++] = (struct sp_attr){ .key = "spanprobe.retry.of",
							    .type = SP_ATTR_STR, .s = what };
}

/* ---- spans of calls ---- */

struct sp_span *sp_span_asm__child_of(struct sp_span_asm *a, const struct sp_span *parent,
				      const char *name, enum sp_span_kind kind)
{
	struct sp_span *s = span_get(a);

	if (!s)
		return NULL;
	sp_span__init(s, name, strlen(name), kind, parent->res);
	memcpy(s->trace_id, parent->trace_id, sizeof(s->trace_id));
	memcpy(s->parent_id, parent->span_id, sizeof(s->parent_id));
	s->start_ns = parent->start_ns;
	s->end_ns = parent->end_ns;
	return s;
}

static bool agent_tool(const char *name)
{
	return strcasestr(name, "task") || strcasestr(name, "agent") || strcasestr(name, "delegate");
}

/*
 * The span a model call of agent e in conversation conv goes under: e's own
 * span for its conversation; for another one made inside a tool window (a
 * Task tool running a sub-agent in-process), that window's nested
 * invoke_agent span, made at its first call. NULL: e's own.
 */
static struct sp_span *sub_agent_span(struct sp_span_asm *a, struct asm_proc *e, uint64_t conv,
				      uint64_t start)
{
	struct sp_tool_win *w, *latest = NULL;
	struct sp_span *s;
	int it = 0;

	if (!conv || !e->conv || conv == e->conv)
		return NULL;
	while ((w = sp_tool_windows__next(a->wins, e->pid, &it))) {
		if (w->sub_agent && w->sub_conv == conv)
			return w->sub_agent;
		/* only a tool that runs an agent (Claude Code's Task or Agent,
		 * a delegate_to_agent): an agent's side calls (a title, a
		 * summary) while any other tool runs are its own */
		if (!w->sub_agent && w->span && w->start <= start && agent_tool(w->name) &&
		    (!latest || w->start > latest->start))
			latest = w;
	}
	if (!latest)
		return NULL;
	s = sp_span_asm__child_of(a, latest->span, "invoke_agent", SP_KIND_INTERNAL);
	if (!s)
		return NULL;
	genai_names(s, true, latest->name);
	s->start_ns = sp_clock_to_unix(start);
	s->end_ns = s->start_ns;
	set_conversation(s, conv);
	latest->sub_agent = s;
	latest->sub_conv = conv;
	a->stats.sub_agents++;
	return s;
}

static struct sp_span *call_span(struct sp_span_asm *a, struct sp_procs *procs,
				 struct sp_proc *p, const char *name, enum sp_span_kind kind,
				 uint64_t start, uint64_t end, bool model_call, const char *tool,
				 uint64_t conv)
{
	struct asm_proc *e = proc_get(a, p->pid);
	struct sp_span *s, *parent_span = e ? e->span : NULL;
	const struct sp_span *under;

	seen(a, end);
	if (!parent_span) {
		/* first activity: under the parent process's span if it has
		 * one (it started before us), else a trace of our own; a
		 * target is always a root */
		uint32_t ppid = p->ppid;

		if ((e && e->target) || !sp_span_asm__has_span(a, ppid))
			ppid = 0;
		parent_span = open_proc_span(a, p, ppid, start);
		if (!parent_span)
			return NULL;
		e = proc_get(a, p->pid);
	}
	/* an agent's own calls inside a tool window are the tool's doing;
	 * its model calls are its own */
	under = parent_span;
	if (e->agent && model_call) {
		struct sp_span *sub = sub_agent_span(a, e, conv, start);

		if (sub)
			under = sub;
	} else if (e->agent) {
		struct sp_tool_win *w = sp_tool_windows__for_tool(a->wins, p->pid, tool);

		if (!w)
			w = sp_tool_windows__pick(a->wins, p->pid, NULL, start, NULL);

		if (w && w->span)
			under = w->span;
	}
	s = sp_span_asm__child_of(a, under, name, kind);
	if (!s)
		return NULL;
	s->start_ns = sp_clock_to_unix(start);
	s->end_ns = sp_clock_to_unix(end);
	if (end > e->last_activity_ns)
		e->last_activity_ns = end;
	/* a root that started late (pre-existing process) covers its child */
	if (parent_span->start_ns > s->start_ns)
		parent_span->start_ns = s->start_ns;
	return s;
}

struct sp_span *sp_span_asm__child(struct sp_span_asm *a, struct sp_procs *procs,
				   struct sp_proc *p, const char *name, enum sp_span_kind kind,
				   uint64_t start, uint64_t end)
{
	return call_span(a, procs, p, name, kind, start, end, false, NULL, 0);
}

struct sp_span *sp_span_asm__tool_child(struct sp_span_asm *a, struct sp_procs *procs,
					struct sp_proc *p, const char *tool, const char *name,
					enum sp_span_kind kind, uint64_t start, uint64_t end)
{
	return call_span(a, procs, p, name, kind, start, end, false, tool, 0);
}

bool sp_span_asm__graft(struct sp_span_asm *a, const uint8_t trace_id[16],
			const uint8_t span_id[8], const struct sp_span *parent)
{
	return sp_trace_buf__graft(a->tb, trace_id, span_id, parent->trace_id, parent->span_id,
				   a->now);
}

void sp_span_asm__reparent(struct sp_span_asm *a, struct sp_span *s, const uint8_t trace_id[16],
			   const uint8_t parent_id[8])
{
	uint8_t old[16];

	memcpy(old, s->trace_id, sizeof(old));
	memcpy(s->trace_id, trace_id, sizeof(s->trace_id));
	memcpy(s->parent_id, parent_id, sizeof(s->parent_id));
	if (memcmp(old, trace_id, sizeof(old)))
		sp_trace_buf__move(a->tb, old, trace_id, s->span_id, a->now, NULL, NULL);
}

void sp_span_asm__mcp_server(struct sp_span_asm *a, uint32_t pid)
{
	struct asm_proc *e = proc_get(a, pid);

	if (e)
		e->mcp_server = true;
}

bool sp_span_asm__is_agent(struct sp_span_asm *a, uint32_t pid)
{
	struct asm_proc *e = proc_get(a, pid);

	return e && e->agent;
}

void sp_span_asm__adopt(struct sp_span_asm *a, uint32_t pid, const struct sp_span *s)
{
	struct asm_proc *e = proc_get(a, pid);

	if (e && e->span && !memcmp(e->span->trace_id, s->trace_id, sizeof(s->trace_id)))
		sp_trace_buf__adopt(a->tb, s->trace_id, e->span->span_id, s->span_id, s->start_ns,
				    s->end_ns);
}

struct sp_span *sp_span_asm__model_child(struct sp_span_asm *a, struct sp_procs *procs,
					 struct sp_proc *p, const char *name,
					 enum sp_span_kind kind, uint64_t start, uint64_t end,
					 uint64_t conv)
{
	return call_span(a, procs, p, name, kind, start, end, true, NULL, conv);
}

void sp_span_asm__tick(struct sp_span_asm *a, struct sp_procs *procs, uint64_t now,
		       sp_busy_fn busy, void *busy_ctx)
{
	struct asm_proc *e;
	uint32_t it = 0;

	seen(a, now);
	while (a->o.trace_idle_ns && (e = sp_table__next(a->procs, &it))) {
		if (!e->span || e->parent_span_pid || e->open_children)
			continue;
		if (now < e->last_activity_ns || now - e->last_activity_ns < a->o.trace_idle_ns)
			continue;
		/* a 40 s LLM call is not idleness, for the trace buffer either;
		 * nor is a tool the model asked for still running */
		if ((busy && busy(busy_ctx, e->pid)) ||
		    (e->agent && sp_tool_windows__next(a->wins, e->pid, &(int){ 0 }))) {
			e->last_activity_ns = now;
			sp_trace_buf__touch(a->tb, e->span->trace_id, now);
			continue;
		}
		sp_span__set_str(e->span, "spanprobe.trace.end", "idle", 4);
		a->stats.traces_split++;
		close_proc_span(a, e, sp_procs__get(procs, e->pid), e->last_activity_ns);
	}
	sp_trace_buf__tick(a->tb, now);
	/* an idle pool gives a burst's memory back too */
	sp_span_pool__tick(a->pool);
}

void sp_span_asm__shutdown(struct sp_span_asm *a, struct sp_procs *procs, uint64_t now)
{
	struct asm_proc *e;
	uint32_t it;
	bool more = true;

	seen(a, now);
	/* children first, so parents can see them close */
	while (more) {
		more = false;
		it = 0;
		while ((e = sp_table__next(a->procs, &it))) {
			if (!e->span || e->open_children)
				continue;
			sp_span__set_bool(e->span, "spanprobe.span.unfinished", true);
			close_proc_span(a, e, sp_procs__get(procs, e->pid), now);
			more = true;
		}
	}
	/* anything left is a cycle of stale counts: close as is */
	it = 0;
	while ((e = sp_table__next(a->procs, &it)))
		if (e->span)
			close_proc_span(a, e, sp_procs__get(procs, e->pid), now);
	sp_trace_buf__flush_all(a->tb);
}
