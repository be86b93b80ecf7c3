// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * spanprobe replay FILE: the frames of a recording (capture/record.h) fed,
 * in order, through the same pipeline calls the live run made. No BPF, no
 * privilege; the spans equal the live run's but for their random ids.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "capture/record.h"
#include "model/resource.h"
#include "cli/commands.h"
#include "cli/sinks.h"
#include "pipeline.h"
#include "semantics/prices.h"
#include "spanprobe.h"
#include "util/clock.h"
#include "util/log.h"

/* the /proc reads of one pipeline call (a snapshot makes five) */
#define MAX_ANSWERS	256

struct answer {
	uint32_t pid;
	char what[16];
	char *data;		/* owned */
	size_t len;
	uint64_t seq;		/* older answers are given first */
	bool used;
};

struct replay_run {
	struct sp_pipeline *pl;
	struct answer ans[MAX_ANSWERS];
	uint64_t seq;
	uint64_t proc_misses;	/* asked for a fact the recording lacks */
	uint64_t proc_evicted;	/* more reads before one call than we keep */
	uint64_t unknown;	/* frames of a kind this version does not know */
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void answer_clear(struct answer *a)
{
	free(a->data);
	memset(a, 0, sizeof(*a));
}

/* A SP_REC_PROC frame: kept until the pipeline call that follows it. */
static void answer_add(struct replay_run *r, const struct sp_rec_frame *f)
{
	struct answer *a = NULL;
	const char *what;
	const void *data;
	size_t what_len, len;
	uint32_t pid;

	if (sp_rec_proc_parse(f, &pid, &what, &what_len, &data, &len) ||
	    what_len >= sizeof(a->what)) {
		r->unknown++;
		return;
	}
	for (int i = 0; i < MAX_ANSWERS && !a; i++)
		if (!r->ans[i].used)
			a = &r->ans[i];
	if (!a) {
		a = &r->ans[0];
		for (int i = 1; i < MAX_ANSWERS; i++)
			if (r->ans[i].seq < a->seq)
				a = &r->ans[i];
		answer_clear(a);
		r->proc_evicted++;
	}
	a->data = malloc(len + 1);
	if (!a->data)
		return;
	memcpy(a->data, data, len);
	a->len = len;
	a->pid = pid;
	memcpy(a->what, what, what_len);
	a->what[what_len] = 0;
	a->seq = ++r->seq;
	a->used = true;
}

/* sp_proc_read_fn: the recorded answer, oldest first, as sp_procfs_read
 * gave it (NUL-terminated, within cap). */
static size_t recorded_proc_read(void *ctx, uint32_t pid, const char *what, char *buf,
				 size_t cap)
{
	struct replay_run *r = ctx;
	struct answer *best = NULL;
	size_t n;

	if (!cap)
		return 0;
	buf[0] = 0;
	for (int i = 0; i < MAX_ANSWERS; i++) {
		struct answer *a = &r->ans[i];

		if (a->used && a->pid == pid && !strcmp(a->what, what) &&
		    (!best || a->seq < best->seq))
			best = a;
	}
	if (!best) {
		r->proc_misses++;
		return 0;
	}
	n = best->len < cap - 1 ? best->len : cap - 1;
	memcpy(buf, best->data, n);
	buf[n] = 0;
	answer_clear(best);
	return n;
}

/* After a pipeline call: the answers it did not take were for it only. */
static void answers_reset(struct replay_run *r)
{
	for (int i = 0; i < MAX_ANSWERS; i++)
		if (r->ans[i].used)
			answer_clear(&r->ans[i]);
}

static uint32_t frame_pid(const struct sp_rec_frame *f)
{
	uint32_t pid = 0;

	if (f->len >= sizeof(pid))
		memcpy(&pid, f->data, sizeof(pid));
	return pid;
}

int sp_replay_cmd(const struct sp_config *c)
{
	struct replay_run r = {};
	struct sp_rec_reader *rd = NULL;
	struct sp_rec_info info;
	struct sp_pipeline_opts po;
	struct sp_rec_frame f;
	uint64_t kcnt[SP_CNT_MAX] = {}, last_ts = 0;
	bool have_kcnt = false, shut = false;
	int exit_code = 0, n = 0;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (sp_prices_load(c->prices))
		return 1;
	if (sp_rec_reader__open(&rd, c->replay, &info))
		goto cleanup_err;
	sp_dbg("replaying %s: recorded by spanprobe %s on %s", c->replay, info.version, info.host);
	sp_clock_set_offset(info.clock_offset);
	/* the spans come from the recorded host, not this one */
	sp_host_name_set(info.host);
	sp_config_pipeline_opts(c, &po);
	/* what the recorded run tracked, not what this command line says */
	po.all = info.flags & SP_REC_F_ALL;
	po.max_procs = info.max_procs;
	po.max_streams = info.max_streams;
	/* a file is not trusted: its table sizes are held to the flags' ranges */
	if (po.max_procs < 16 || po.max_procs > SP_MAX_PROCS_CEIL ||
	    po.max_streams < 16 || po.max_streams > SP_MAX_CONNS_CEIL) {
		sp_err("the recording %s is damaged: it says %u processes and %u connections "
		       "were tracked (16 to %u and 16 to %u are possible)", c->replay, po.max_procs,
		       po.max_streams, SP_MAX_PROCS_CEIL, SP_MAX_CONNS_CEIL);
		goto cleanup_err;
	}
	po.proc_read = recorded_proc_read;
	po.proc_read_ctx = &r;
	if (sp_sinks_pipeline(&r.pl, &po, c))
		goto cleanup_err;

	while (!stop_signal && (n = sp_rec_reader__next(rd, &f)) > 0) {
		bool call = true;

		if (f.ts)
			last_ts = f.ts;
		switch (f.kind) {
		case SP_REC_RING:
			sp_pipeline__handle(r.pl, f.data, f.len);
			break;
		case SP_REC_TARGET:
			sp_pipeline__target(r.pl, frame_pid(&f), f.ts);
			break;
		case SP_REC_SNAPSHOT:
			sp_pipeline__snapshot(r.pl, frame_pid(&f), f.ts);
			break;
		case SP_REC_TICK:
			sp_pipeline__tick(r.pl, f.ts);
			break;
		case SP_REC_SHUTDOWN:
			sp_pipeline__shutdown(r.pl, f.ts);
			shut = true;
			break;
		case SP_REC_CLOCK:
			call = false;
			if (f.len >= sizeof(int64_t)) {
				int64_t off;

				memcpy(&off, f.data, sizeof(off));
				sp_clock_set_offset(off);
			}
			break;
		case SP_REC_PROC:
			call = false;
			answer_add(&r, &f);
			break;
		case SP_REC_COUNTERS:
			call = false;
			memcpy(kcnt, f.data, f.len < sizeof(kcnt) ? f.len : sizeof(kcnt));
			have_kcnt = true;
			break;
		default:
			call = false;
			r.unknown++;
		}
		if (call)
			answers_reset(&r);
	}
	if (n < 0 && !stop_signal)
		exit_code = 1;
	if (sp_rec_reader__truncated(rd))
		sp_warn("%s ends inside a frame (the recording was cut short): %" PRIu64
			" frames replayed, 1 truncated frame ignored", c->replay,
			sp_rec_reader__frames(rd));
	if (r.unknown)
		sp_warn("%s: %" PRIu64 " frames this spanprobe does not understand were skipped",
			c->replay, r.unknown);
	if (r.proc_misses || r.proc_evicted)
		sp_dbg("%" PRIu64 " process facts not in the recording, %" PRIu64 " dropped",
		       r.proc_misses, r.proc_evicted);
	/* a cut recording has no shutdown: end what is in flight where it stops */
	if (!shut)
		sp_pipeline__shutdown(r.pl, last_ts);
	sp_info("replayed %" PRIu64 " frames from %s (spanprobe %s on %s)",
		sp_rec_reader__frames(rd), c->replay, info.version, info.host);
	sp_sinks_print_stats(r.pl, have_kcnt ? kcnt : NULL, true);
	goto cleanup;

cleanup_err:
	exit_code = 1;
cleanup:
	sp_pipeline__free(r.pl);
	answers_reset(&r);
	sp_rec_reader__free(rd);
	sp_prices_free();
	return exit_code;
}
