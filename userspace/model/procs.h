/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What spanprobe knows about each traced process: parent, executable,
 * command line (credentials redacted), service name, exit status. Filled
 * from fork/exec/exit events and /proc. Bounded; the least recently active
 * process is evicted when full.
 *
 * Every process is kept from its fork, system-wide, so that the tree an
 * agent runs is known before anyone knows it is an agent (its first model
 * call may come after it started its first tools). An exited process
 * nobody made a span of stays as a tombstone (exited set) for
 * SP_PROC_TOMB_NS, at most a sixteenth of the table, oldest out first: an
 * agent found later still gets the commands it ran before.
 */
#ifndef SP_PROCS_H
#define SP_PROCS_H

#include <stdbool.h>
#include <stdint.h>
#include "model/span.h"
#include "util/procfs.h"

struct sp_proc {
	uint32_t pid, ppid;
	bool exited;
	int exit_status;	/* wait(2) status */
	uint64_t start_ns;	/* fork, or first seen (CLOCK_MONOTONIC) */
	uint64_t exit_ns;
	char comm[16];
	char name[128];		/* span name: "python3 agent.py" */
	struct sp_resource *res;	/* owned reference; NULL until __ensure */
	/* ppid, name and res are final (from exec, or read once from
	 * /proc by __ensure) */
	bool facts_known;
};

/* long enough for what an agent runs before its first model call comes
 * back (start-up probes, a tool forked as the answer streams) */
#define SP_PROC_TOMB_NS	(15 * 1000000000ull)

struct sp_procs;

/* evict is called on a process about to be dropped to make room (it must
 * end the process's span); it may be NULL. read: where facts come from
 * (NULL: the live /proc). */
struct sp_procs *sp_procs__new(uint32_t capacity, void (*evict)(void *ctx, struct sp_proc *p),
			       void *ctx, sp_proc_read_fn read, void *read_ctx);
void sp_procs__free(struct sp_procs *t);
struct sp_proc *sp_procs__get(struct sp_procs *t, uint32_t pid);
/*
 * The entry for pid, created bare if it is not known yet (ppid 0: read
 * from /proc by __ensure). Returns NULL if the table is out of memory.
 */
struct sp_proc *sp_procs__get_or_add(struct sp_procs *t, uint32_t pid, uint32_t ppid,
				     uint64_t now);
/*
 * A new process forked by ppid: a fresh entry (replacing a tombstone or a
 * stale entry of a reused pid) that has its parent's facts until it execs,
 * so a subshell is named after its parent. NULL if out of memory.
 */
struct sp_proc *sp_procs__fork(struct sp_procs *t, uint32_t pid, uint32_t ppid, uint64_t now);
/* A bare entry for pid, for the caller to fill (sp_procs__exec). */
struct sp_proc *sp_procs__add(struct sp_procs *t, uint32_t pid, uint32_t ppid, uint64_t now);
/* Exec: a new image. args is NUL-separated argv (args_len bytes). Reads
 * what the record lacks (the resolved executable, its OTEL_* variables)
 * at once, while the process runs. */
void sp_procs__exec(struct sp_procs *t, struct sp_proc *p, const char *filename,
		    const char *args, uint32_t args_len);
/*
 * Reads what is still unknown of p (ppid, comm, executable, command line,
 * its own OTEL_* variables), once: call before using p->name, p->ppid or
 * p->res for a span. A process gone by then keeps what its exec record
 * said.
 */
void sp_procs__ensure(struct sp_procs *t, struct sp_proc *p);
/* The process exited with wait(2) status wstatus. */
void sp_procs__exit(struct sp_procs *t, struct sp_proc *p, int wstatus, uint64_t ts);
void sp_procs__del(struct sp_procs *t, struct sp_proc *p);
/* p exited and nobody made a span of it: keep it as a tombstone (above). */
void sp_procs__retire(struct sp_procs *t, struct sp_proc *p);
/* Tombstones past SP_PROC_TOMB_NS go. */
void sp_procs__tick(struct sp_procs *t, uint64_t now);
struct sp_proc *sp_procs__next(struct sp_procs *t, uint32_t *it);
uint64_t sp_procs__evictions(const struct sp_procs *t);

/* The name an agent process goes by: its script for an interpreter
 * ("agent.py" of "python3 agent.py"), else its executable ("claude"). */
const char *sp_proc_agent_name(const struct sp_proc *p);
/* A command-line HTTP client (curl, wget, httpie, xh, ...): its model
 * calls are made for the process that started it. */
bool sp_proc_is_http_cli(const struct sp_proc *p);
/* A process that only starts another (sh -c, env, npx/npm exec, uvx,
 * bwrap, timeout, ...): the host of an MCP server it launches is above it. */
bool sp_proc_is_launcher(const struct sp_proc *p);

/*
 * Span name for a process: the executable's base name, plus the script for
 * an interpreter ("python3 agent.py", "node server.js"). argv is
 * NUL-separated. Writes at most cap bytes, NUL-terminated.
 */
void sp_proc_name(const char *exe, const char *argv, uint32_t argv_len, char *out, size_t cap);
/*
 * Joins argv with spaces, redacting credentials: values of secret-bearing
 * headers ("Authorization: Bearer x"), URL userinfo and secret query
 * values, and the value after flags such as --password, --token,
 * --api-key, -u/--user.
 */
void sp_proc_cmdline(const char *argv, uint32_t argv_len, char *out, size_t cap);

#endif
