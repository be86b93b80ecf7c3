// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cli/sinks.h"
#include "exporters/exporter.h"
#include "exporters/otlp.h"
#include "model/span_pool.h"
#include "assemble/trace_buf.h"
#include "pipeline.h"
#include "spanprobe.h"
#include "util/log.h"

static int add_sinks(struct sp_pipeline *pl, const struct sp_config *c)
{
	bool console = c->console == 1 || (c->console == -1 && !c->output);
	const char *out = c->output ? c->output : c->otlp.enabled ? NULL : SP_DEFAULT_OUTPUT;
	struct sp_exporter *e;

	if (console) {
		if (c->output && !strcmp(c->output, "-")) {
			sp_err("-o - and the console tree both write to stdout: pick one "
			       "(--no-console)");
			return -EINVAL;
		}
		e = sp_console_exporter__new(stdout, isatty(STDOUT_FILENO));
		if (!e || sp_pipeline__add_sink(pl, e))
			return -ENOMEM;
	}
	if (out) {
		e = sp_file_exporter__new(out);
		if (!e)
			return -errno;
		if (sp_pipeline__add_sink(pl, e))
			return -ENOMEM;
		if (!c->output)
			sp_info("writing spans to ./%s (OTLP/JSON lines) and a trace tree to stdout",
				SP_DEFAULT_OUTPUT);
	}
	if (c->otlp.enabled) {
		e = sp_otlp_exporter__new(&c->otlp);
		if (!e)
			return -errno;
		if (sp_pipeline__add_sink(pl, e))
			return -ENOMEM;
		sp_info("exporting spans with OTLP %s to %s",
			sp_otlp_protocol_name(c->otlp.protocol), c->otlp.url);
	}
	return 0;
}

int sp_sinks_pipeline(struct sp_pipeline **out, const struct sp_pipeline_opts *po,
		      const struct sp_config *c)
{
	struct sp_pipeline *pl = sp_pipeline__new(po);
	int err;

	*out = NULL;
	if (!pl) {
		sp_err("out of memory");
		return -ENOMEM;
	}
	err = add_sinks(pl, c);
	if (err) {
		sp_pipeline__free(pl);
		return err;
	}
	*out = pl;
	return 0;
}

/* Appends ", N what" to buf when n > 0. */
static void add_count(char *buf, size_t cap, uint64_t n, const char *what)
{
	size_t at = strlen(buf);

	if (n && at < cap)
		snprintf(buf + at, cap - at, "%s%" PRIu64 " %s", at ? ", " : "", n, what);
}

/* 1234 -> "1234", 12345 -> "12.3k", 1234567 -> "1.2M" */
static const char *human(uint64_t n, char *buf, size_t cap)
{
	if (n < 10000)
		snprintf(buf, cap, "%" PRIu64, n);
	else if (n < 10000000)
		snprintf(buf, cap, "%.1fk", n / 1e3);
	else
		snprintf(buf, cap, "%.1fM", n / 1e6);
	return buf;
}

void sp_sinks_print_status(struct sp_pipeline *pl, const uint64_t *kcnt, uint32_t tls_files,
			   uint64_t now_ns)
{
	static uint64_t last_ns, last_events;
	const struct sp_streams_stats *ss = sp_pipeline__streams_stats(pl);
	const struct sp_asm_stats *as = sp_pipeline__asm_stats(pl);
	const struct sp_pipeline_stats *ps = sp_pipeline__stats(pl);
	const struct sp_trace_buf_stats *tb = sp_span_asm__trace_stats(sp_pipeline__asm(pl));
	uint64_t dt = now_ns - last_ns, rate = 0, lost;
	char r[16], sp[16], tr[16], dr[16];

	if (last_ns && dt)
		rate = (ps->events - last_events) * 1000000000ull / dt;
	last_ns = now_ns;
	last_events = ps->events;
	/* what is lost whole: records, spans, connections (bytes in holes
	 * are in the exit line) */
	lost = kcnt[SP_CNT_RB_FULL] + as->spans_dropped + ss->stream_evictions +
	       ss->requests_dropped;
	sp_status_line("spanprobe: %s records/s  %s spans  %s traces  %s dropped  %u TLS files",
		       human(rate, r, sizeof(r)), human(as->spans_finished, sp, sizeof(sp)),
		       human(tb->traces_completed, tr, sizeof(tr)), human(lost, dr, sizeof(dr)),
		       tls_files);
}

void sp_sinks_print_stats(struct sp_pipeline *pl, const uint64_t *kcnt, bool final)
{
	const struct sp_streams_stats *ss = sp_pipeline__streams_stats(pl);
	const struct sp_asm_stats *as = sp_pipeline__asm_stats(pl);
	const struct sp_pipeline_stats *ps = sp_pipeline__stats(pl);
	struct sp_span_asm *a = sp_pipeline__asm(pl);
	uint64_t none[SP_CNT_MAX] = {};
	const uint64_t *c = kcnt ? kcnt : none;
	struct sp_exporter *e;
	const struct sp_trace_buf_stats *tb = sp_span_asm__trace_stats(a);
	const struct sp_span_pool_stats *pool = sp_span_asm__pool_stats(a);
	uint64_t pieces;
	char drops[1024] = "";
	int level = final ? SP_LOG_INFO : SP_LOG_DEBUG;

	add_count(drops, sizeof(drops), c[SP_CNT_RB_FULL], "ring-buffer records (buffer full)");
	add_count(drops, sizeof(drops), c[SP_CNT_TRUNC_BYTES], "bytes past the capture cap");
	add_count(drops, sizeof(drops), ss->bytes_lost, "bytes in stream holes");
	add_count(drops, sizeof(drops), c[SP_CNT_IOV_TRUNC], "writev/readv calls past 16 segments");
	add_count(drops, sizeof(drops), c[SP_CNT_GO_NOT_TCP],
		  "Go TLS calls on a connection other than a *net.TCPConn");
	add_count(drops, sizeof(drops), c[SP_CNT_CALL_TABLE_FULL] + c[SP_CNT_CONN_TABLE_FULL],
		  "kernel table inserts");
	add_count(drops, sizeof(drops), c[SP_CNT_TLS_UNTIED], "rustls reads of an untied connection");
	add_count(drops, sizeof(drops), ss->stream_evictions, "connections evicted");
	add_count(drops, sizeof(drops), ss->stream_restarts, "kernel streams restarted");
	add_count(drops, sizeof(drops), sp_pipeline__proc_evictions(pl), "processes evicted");
	add_count(drops, sizeof(drops), ss->requests_dropped, "pipelined requests past the queue");
	add_count(drops, sizeof(drops), ss->orphan_responses, "responses without their request");
	add_count(drops, sizeof(drops), ss->h2_evictions, "h2 streams evicted (per-connection table full)");
	add_count(drops, sizeof(drops), as->spans_dropped, "spans (span pool full)");
	add_count(drops, sizeof(drops), ss->streams_no_memory,
		  "message starts not decoded (per-connection memory budget spent)");
	add_count(drops, sizeof(drops), ps->bad_records, "malformed records");
	sp_log(level, "%" PRIu64 " spans, %" PRIu64 " HTTP exchanges; dropped: %s", as->spans_finished,
	       ss->exchanges, drops[0] ? drops : "nothing");
	sp_dbg("%" PRIu64 " records, %" PRIu64 " not decoded, %" PRIu64 " stream holes, %" PRIu64
	       " traces split by the idle gap, %" PRIu64 " own exports seen at a local backend, %"
	       PRIu64 " failed connects",
	       ps->events, ss->not_decoded, ss->holes, as->traces_split, ps->own_exports,
	       ss->connect_fails);
	if (ss->h2_connections)
		sp_log(level, "h2: %" PRIu64 " connections, %" PRIu64 " streams, %" PRIu64
		       " resets, %" PRIu64 " mid-stream joins, %" PRIu64 " evictions, %" PRIu64
		       " frames, %" PRIu64 " header blocks not inflated",
		       ss->h2_connections, ss->h2_streams, ss->h2_resets, ss->h2_joins,
		       ss->h2_evictions, ss->h2_frames, ss->h2_hpack_errors);
	/* the agent trees: what was inferred, so a user can tell why a tree
	 * looks the way it does */
	sp_log(as->agents && final ? SP_LOG_INFO : SP_LOG_DEBUG,
	       "agents: %" PRIu64 " found (%" PRIu64 " left a launcher's trace), %" PRIu64
	       " new turns, %" PRIu64 " processes claimed after the fact, %" PRIu64
	       " tool calls (%" PRIu64 " answered, %" PRIu64 " with no room), %" PRIu64
	       " MCP exchanges on stdio, %" PRIu64 " retries, %" PRIu64
	       " spans in a caller's trace (traceparent, %" PRIu64 " malformed), %" PRIu64
	       " local links and %" PRIu64 " retry records evicted",
	       as->agents, as->agents_rerooted, as->turns, as->procs_claimed, as->tool_calls,
	       as->tool_calls_answered, sp_span_asm__tool_calls_dropped(a), ps->rpc_exchanges, ps->retries,
	       ps->trace_context, ps->bad_traceparent, sp_pipeline__link_evictions(pl),
	       sp_pipeline__retry_evictions(pl));
	pieces = tb->flushed_trace_spans + tb->flushed_total + tb->flushed_traces +
		 tb->flushed_quiet + tb->flushed_age + tb->flushed_shutdown;
	sp_log(pieces && final ? SP_LOG_INFO : SP_LOG_DEBUG,
	       "trace buffer: %" PRIu64 " traces whole, %" PRIu64 " sent in pieces (%" PRIu64
	       " too many spans, %" PRIu64 " span pool short, %" PRIu64 " too many traces, %" PRIu64
	       " quiet, %" PRIu64 " too old, %" PRIu64 " open at exit); spans held at most %" PRIu64
	       ", span memory at most %" PRIu64 " KiB, per-connection memory at most %" PRIu64 " KiB",
	       tb->traces_completed, pieces, tb->flushed_trace_spans, tb->flushed_total,
	       tb->flushed_traces, tb->flushed_quiet, tb->flushed_age, tb->flushed_shutdown,
	       tb->spans_held_max, (uint64_t)pool->bytes_high_water >> 10, ss->bytes_high >> 10);
	for (int i = 0; (e = sp_span_asm__sink(a, i)); i++)
		sp_exporter__log_stats(e, level, final);
}
