// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The live run: BPF loaded and attached, TLS libraries probed, COMMAND
 * launched, then the event loop until the command ends, --duration, or
 * SIGINT/SIGTERM; with --record, every pipeline input written to FILE too.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "capture/record.h"
#include "cli/commands.h"
#include "cli/sinks.h"
#include "assemble/func_span.h"
#include "discovery/func_probe.h"
#include "discovery/procscan.h"
#include "discovery/tls_attach.h"
#include "kernel/loader.h"
#include "model/resource.h"
#include "pipeline.h"
#include "semantics/prices.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/procfs.h"

#define POLL_MS			20
/*
 * One round of the loop handles at most this many records, or this much
 * time of them, before it looks at signals, --duration, ticks and the
 * command: with four busy connections the ring buffer never empties, and
 * libbpf's poll would go on calling back for tens of seconds.
 */
#define ROUND_RECORDS		4096
#define ROUND_NS		10000000ull
/* at exit, with the programs stopped, what the ring buffer holds gets at
 * most this long (16 MiB of records take ~0.2 s here) */
#define DRAIN_NS		700000000ull
/* the callback's "stop here" (epoll_wait never returns it) */
#define ROUND_OVER		(-EAGAIN)

static volatile sig_atomic_t stop_signal;

struct trace_run {
	const struct sp_config *cfg;
	struct sp_pipeline *pl;
	struct sp_loader *loader;
	struct sp_tls_attach *tls;
	struct sp_func_probes *funcs;	/* --probe, --usdt; NULL without */
	struct sp_rec_writer *rec;	/* --record, or NULL */
	pid_t child;
	bool child_exit_seen;		/* its exit record has been handled */
	bool draining;			/* at exit: signals no longer cut a round */
	uint32_t round_records;
	uint64_t round_end;
	bool round_over;		/* the callback ended the round */
};

static void on_signal(int sig)
{
	stop_signal = sig;
}

/* ---- pipeline calls, each written to the recording after it is made
 * (the /proc reads it made come first: record.h) ---- */

static int run_target(struct trace_run *r, uint32_t pid, uint64_t ts)
{
	int err = sp_pipeline__target(r->pl, pid, ts);

	if (r->rec)
		sp_rec_writer__frame(r->rec, SP_REC_TARGET, ts, &pid, sizeof(pid));
	return err;
}

static void run_snapshot(struct trace_run *r, uint32_t pid, uint64_t ts)
{
	sp_pipeline__snapshot(r->pl, pid, ts);
	if (r->rec)
		sp_rec_writer__frame(r->rec, SP_REC_SNAPSHOT, ts, &pid, sizeof(pid));
}

static void run_tick(struct trace_run *r, uint64_t now)
{
	sp_pipeline__tick(r->pl, now);
	if (r->rec)
		sp_rec_writer__frame(r->rec, SP_REC_TICK, now, NULL, 0);
}

static void run_shutdown(struct trace_run *r, uint64_t now)
{
	sp_pipeline__shutdown(r->pl, now);
	if (r->rec)
		sp_rec_writer__frame(r->rec, SP_REC_SHUTDOWN, now, NULL, 0);
}

/* Tells the pipeline (and the recording) what each function probe's id
 * names, as the record SP_FUNC_DEFINE (assemble/func_span.h). */
static void run_func_defs(struct trace_run *r)
{
	uint64_t now = sp_clock_mono_ns();

	for (int i = 0; i < sp_func_probes__count(r->funcs); i++) {
		const struct sp_func_probe *fp = sp_func_probes__get(r->funcs, i);
		struct sp_func_def d = { .hdr = { .type = SP_EV_FUNC, .probe = i,
						  .what = SP_FUNC_DEFINE,
						  .flags = fp->usdt ? SP_FUNC_DEF_USDT : 0 } };

		snprintf(d.name, sizeof(d.name), "%s", fp->name);
		snprintf(d.symbol, sizeof(d.symbol), "%s", fp->symbol);
		snprintf(d.usdt_name, sizeof(d.usdt_name), "%s", fp->usdt_name);
		if (snprintf(d.binary, sizeof(d.binary), "%s", fp->binary) >= (int)sizeof(d.binary))
			sp_dbg("%s: the binary's path is cut in spans", fp->arg);
		sp_pipeline__handle(r->pl, &d, sizeof(d));
		if (r->rec)
			sp_rec_writer__frame(r->rec, SP_REC_RING, now, &d, sizeof(d));
	}
}

/* The function probes' counts, at exit (when there are probes). */
static void print_func_stats(struct trace_run *r)
{
	const struct sp_func_stats *fs = sp_pipeline__func_stats(r->pl);

	if (!r->funcs)
		return;
	fprintf(stderr, "spanprobe: function probes: %" PRIu64 " calls, %" PRIu64 " USDT hits, "
		"%" PRIu64 " calls ended without a return; dropped: %" PRIu64 " past depth %d, "
		"%" PRIu64 " unmatched returns, %" PRIu64 " threads evicted, %" PRIu64
		" without a span, %" PRIu64 " of unknown probes\n", fs->calls, fs->usdt_hits,
		fs->unfinished, fs->too_deep, SP_FUNC_DEPTH, fs->unmatched, fs->thread_evictions,
		fs->no_span, fs->unknown_probe);
}

static void run_clock_sync(struct trace_run *r)
{
	int64_t off;

	sp_clock_sync();
	off = sp_clock_offset();
	if (r->rec)
		sp_rec_writer__frame(r->rec, SP_REC_CLOCK, sp_clock_mono_ns(), &off, sizeof(off));
}

/* The live /proc, every answer also written to the recording. */
static size_t recording_proc_read(void *ctx, uint32_t pid, const char *what, char *buf,
				  size_t cap)
{
	struct trace_run *r = ctx;
	size_t n = sp_procfs_read(pid, what, buf, cap);

	sp_rec_writer__proc(r->rec, pid, what, buf, n);
	return n;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct trace_run *r = ctx;
	uint64_t now = sp_clock_mono_ns();

	sp_pipeline__handle(r->pl, data, size);
	if (r->rec)
		sp_rec_writer__frame(r->rec, SP_REC_RING, now, data, size);
	/*
	 * libbpf (ringbuf.c ringbuf_process_ring, 1.1.2 as in Debian 12, and
	 * since) has moved the consumer position past this record before it
	 * calls us, and stores it when we return an error: this record is
	 * handled once, and the next poll starts with the one after it.
	 */
	if (++r->round_records >= ROUND_RECORDS || now >= r->round_end ||
	    (stop_signal && !r->draining)) {
		r->round_over = true;
		return ROUND_OVER;
	}
	return 0;
}

/* One round: waits up to timeout_ms, handles at most a round's records.
 * Count or -errno; a round the callback ended is not an error. */
static int poll_round(struct trace_run *r, int timeout_ms, uint64_t budget_ns)
{
	int err;

	r->round_records = 0;
	r->round_over = false;
	r->round_end = sp_clock_mono_ns() + budget_ns;
	err = sp_loader__poll(r->loader, timeout_ms);
	return err == ROUND_OVER && r->round_over ? 0 : err;
}

/* At exit: the programs stop tracing, then what the ring buffer holds is
 * read, for a bounded time. */
static void drain(struct trace_run *r)
{
	uint64_t until = sp_clock_mono_ns() + DRAIN_NS, now;

	sp_loader__quiesce(r->loader);
	r->draining = true;
	do {
		now = sp_clock_mono_ns();
		if (now >= until || poll_round(r, 0, until - now) < 0)
			break;
	} while (r->round_over);
	if (r->round_over)
		sp_warn("the ring buffer still held records %llu ms after the end: the rest are "
			"not read", DRAIN_NS / 1000000);
}

static void on_exec(void *ctx, uint32_t pid)
{
	struct trace_run *r = ctx;

	if (r->tls)
		sp_tls_attach__after_exec(r->tls, pid, sp_clock_mono_ns());
}

static void on_exit_pid(void *ctx, uint32_t pid)
{
	struct trace_run *r = ctx;

	if (r->loader)
		sp_loader__forget_pid(r->loader, pid);
	if ((pid_t)pid == r->child)
		r->child_exit_seen = true;
}

static void snapshot_one(void *ctx, uint32_t pid)
{
	run_snapshot(ctx, pid, sp_clock_mono_ns());
}

static void trace_descendant(void *ctx, uint32_t pid)
{
	struct trace_run *r = ctx;

	sp_loader__trace_pid(r->loader, pid);
	run_snapshot(r, pid, sp_clock_mono_ns());
}

/* Resolves a command name through PATH, as execvp will. */
static void resolve_command(const char *cmd, char *out, size_t cap)
{
	const char *path = getenv("PATH");

	snprintf(out, cap, "%s", cmd);
	if (strchr(cmd, '/') || !path)
		return;
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, ":");

		snprintf(out, cap, "%.*s/%s", (int)n, p, cmd);
		if (!access(out, X_OK))
			return;
		p += n + (p[n] == ':');
	}
	snprintf(out, cap, "%s", cmd);
}

/* Forks the command, stopped until *release is written to. */
static pid_t spawn_command(char **argv, int *release)
{
	int fds[2];
	pid_t pid;
	char go;

	if (pipe2(fds, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		/* the command gets the dispositions it would have had */
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		close(fds[1]);
		if (read(fds[0], &go, 1) != 1)
			_exit(127);	/* spanprobe gave up */
		execvp(argv[0], argv);
		fprintf(stderr, "spanprobe: error: cannot run %s: %s\n", argv[0],
			strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	close(fds[0]);
	*release = fds[1];
	return pid;
}

/*
 * Detaching ~40 perf events (tracepoints, uprobes) costs the kernel an RCU
 * grace period each, one after another under a global mutex: 3.4 s here,
 * which every `spanprobe -- cmd` would add to cmd's time. Everything has
 * been flushed when this runs: a child takes references to the event files
 * and holds them until we are gone, so our own teardown only disables the
 * events and drops references, and the kernel finishes it in the child.
 */
static void detach_in_background(void)
{
	int fds[2];
	pid_t pid;
	char c;

	if (pipe(fds))
		return;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return;
	}
	if (pid == 0) {
		setsid();	/* out of the terminal's Ctrl-C */
		close(fds[1]);
		while (read(fds[0], &c, 1) > 0)
			;	/* EOF: the parent has exited */
		_exit(0);
	}
	close(fds[0]);
	/* fds[1] stays open until we exit: that is the child's signal */
}

static int open_recording(struct trace_run *r, const struct sp_pipeline_opts *po)
{
	struct sp_rec_info info = {
		.flags = po->all ? SP_REC_F_ALL : 0,
		.clock_offset = sp_clock_offset(),
		.start_ns = sp_clock_mono_ns(),
		.max_procs = po->max_procs,
		.max_streams = po->max_streams,
	};

	snprintf(info.version, sizeof(info.version), "%s", SPANPROBE_VERSION);
	snprintf(info.host, sizeof(info.host), "%s", sp_host_name());
	return sp_rec_writer__open(&r->rec, r->cfg->record, &info);
}

static void close_recording(struct trace_run *r)
{
	uint64_t frames, bytes;

	if (!r->rec)
		return;
	frames = sp_rec_writer__frames(r->rec);
	bytes = sp_rec_writer__bytes(r->rec);
	if (!sp_rec_writer__close(r->rec))
		sp_info("recorded %" PRIu64 " frames (%.1f MB) to %s; it holds captured payload, "
			"credentials included", frames, bytes / 1e6, r->cfg->record);
	r->rec = NULL;
}

int sp_trace_cmd(const struct sp_config *c)
{
	struct trace_run r = { .cfg = c, .child = -1 };
	struct sp_pipeline_opts po;
	struct sp_loader_opts lo = {};
	uint64_t start, now, last_sweep, last_stats, child_gone = 0;
	bool status_line;
	uint64_t kcnt[SP_CNT_MAX];
	int release = -1, status = 0, exit_code = 0, err;
	bool forwarded = false;	/* a stop signal went to the command */
	char exe[PATH_MAX], funcs_msg[32] = "";

	sp_clock_sync();
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	/* configuration errors first (the probes' files and symbols too),
	 * then privilege: before any file is created */
	if (sp_prices_load(c->prices))
		return 1;
	if (c->nprobes && !(r.funcs = sp_func_probes__new(c->probes, c->nprobes)))
		goto cleanup_err;
	if (sp_loader_check())
		goto cleanup_err;
	sp_config_pipeline_opts(c, &po);
	po.on_exec = on_exec;
	po.on_exit = on_exit_pid;
	po.hook_ctx = &r;
	if (c->record) {
		if (open_recording(&r, &po))
			goto cleanup_err;
		po.proc_read = recording_proc_read;
		po.proc_read_ctx = &r;
	}
	if (sp_sinks_pipeline(&r.pl, &po, c))
		goto cleanup_err;

	lo.all = po.all;
	lo.max_capture = c->max_capture;
	lo.ringbuf_bytes = c->ringbuf_mb << 20;
	lo.func_probes = r.funcs != NULL;
	lo.on_record = on_record;
	lo.ctx = &r;
	if (sp_loader__open(&r.loader, &lo))
		goto cleanup_err;

	now = sp_clock_mono_ns();
	for (int i = 0; i < c->npids; i++) {
		if (sp_loader__trace_pid(r.loader, c->pids[i]) ||
		    run_target(&r, c->pids[i], now)) {
			sp_err("cannot trace pid %u", c->pids[i]);
			goto cleanup_err;
		}
	}
	if (c->npids)
		sp_procscan_descendants(c->pids, c->npids, trace_descendant, &r);
	else if (po.all)
		sp_procscan_all(snapshot_one, &r);

	/* named before any can fire */
	run_func_defs(&r);
	if (sp_func_probes__attach(r.funcs, r.loader))
		goto cleanup_err;
	r.tls = sp_tls_attach__new(sp_loader__skel(r.loader), 1024);
	if (!r.tls) {
		sp_err("out of memory");
		goto cleanup_err;
	}
	/* every libssl and every TLS-exporting binary in use, system-wide:
	 * a uprobe lives on the file, so processes started later get it */
	sp_tls_attach__all(r.tls);
	if (c->command) {
		resolve_command(c->command[0], exe, sizeof(exe));
		sp_tls_attach__file(r.tls, exe);
		r.child = spawn_command(c->command, &release);
		if (r.child < 0) {
			sp_err("cannot start %s: %s", c->command[0], strerror(errno));
			goto cleanup_err;
		}
		if (sp_loader__trace_pid(r.loader, r.child) ||
		    run_target(&r, r.child, sp_clock_mono_ns())) {
			sp_err("cannot trace %s", c->command[0]);
			goto cleanup_err;
		}
	}

	if (r.funcs)
		snprintf(funcs_msg, sizeof(funcs_msg), "; %d function probes",
			 sp_func_probes__count(r.funcs));
	fprintf(stderr, "spanprobe: ready: tracing %s; %u TLS libraries/binaries probed%s\n",
		c->command ? c->command[0] : c->npids ? "the given processes" : "all processes",
		sp_tls_attach__files(r.tls), funcs_msg);
	if (release >= 0) {
		if (write(release, "g", 1) != 1)
			sp_warn("cannot start %s", c->command[0]);
		close(release);
		release = -1;
	}

	/* the status line only on a terminal, and not with -q or -v (whose
	 * periodic counts are the detailed version of it) */
	status_line = isatty(STDERR_FILENO) && sp_log_level == SP_LOG_INFO;
	start = last_sweep = last_stats = sp_clock_mono_ns();
	for (;;) {
		/* a round cut short left records waiting: no sleep before the next */
		err = poll_round(&r, r.round_over ? 0 : POLL_MS, ROUND_NS);
		if (err < 0 && err != -EINTR) {
			sp_err("reading the ring buffer: %s", strerror(-err));
			break;
		}
		now = sp_clock_mono_ns();
		run_tick(&r, now);
		sp_tls_attach__tick(r.tls, now);
		if (now - last_sweep > 1000000000ull) {
			sp_loader__sweep(r.loader);
			run_clock_sync(&r);
			if (r.rec)
				sp_rec_writer__flush(r.rec);	/* a killed run keeps most */
			last_sweep = now;
			if (status_line) {
				sp_loader__counters(r.loader, kcnt);
				sp_sinks_print_status(r.pl, kcnt, sp_tls_attach__files(r.tls), now);
			}
		}
		if (sp_log_level >= SP_LOG_DEBUG && now - last_stats > 10000000000ull) {
			sp_loader__counters(r.loader, kcnt);
			sp_sinks_print_stats(r.pl, kcnt, false);
			last_stats = now;
		}
		if (r.child > 0 && !child_gone && waitpid(r.child, &status, WNOHANG) == r.child) {
			child_gone = now;
			exit_code = sp_wait_code(status);
		}
		/* the exit record may trail waitpid: wait for it, briefly */
		if (child_gone && (r.child_exit_seen || now - child_gone > 500000000ull))
			break;
		if (c->duration && now - start >= (uint64_t)(c->duration * 1e9))
			break;
		if (stop_signal) {
			if (r.child > 0 && !child_gone && !forwarded) {
				/* let the command end first; a second signal stops
				 * us, still flushing what we have */
				kill(r.child, stop_signal);
				stop_signal = 0;
				forwarded = true;
				continue;
			}
			break;
		}
	}
	sp_status_clear();
	drain(&r);
	run_shutdown(&r, sp_clock_mono_ns());
	sp_loader__counters(r.loader, kcnt);
	if (r.rec)
		sp_rec_writer__frame(r.rec, SP_REC_COUNTERS, sp_clock_mono_ns(), kcnt, sizeof(kcnt));
	sp_sinks_print_stats(r.pl, kcnt, true);
	print_func_stats(&r);
	close_recording(&r);
	fflush(NULL);
	detach_in_background();
	goto cleanup;

cleanup_err:
	exit_code = 1;
	if (r.child > 0 && !child_gone) {
		kill(r.child, SIGKILL);
		waitpid(r.child, NULL, 0);
	}
cleanup:
	if (release >= 0)
		close(release);
	sp_tls_attach__free(r.tls);
	sp_loader__free(r.loader);
	sp_func_probes__free(r.funcs);
	sp_pipeline__free(r.pl);
	close_recording(&r);
	sp_prices_free();
	return exit_code;
}
