/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Every command-line option and every OTEL_* variable spanprobe reads, parsed
 * in one place into one struct sp_config. The sink options (-o, --console,
 * --otlp-*, --trace-idle, --no-content, --content-max, --prices) are shared
 * by the trace and the replay command; the rest are tracing's own.
 */
#ifndef SP_CLI_OPTIONS_H
#define SP_CLI_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "discovery/func_probe.h"
#include "exporters/otlp_config.h"
#include "report/report.h"
#include "spanprobe.h"

#define SP_MAX_PIDS		64
#define SP_DEFAULT_OUTPUT	"spanprobe-spans.jsonl"

struct sp_pipeline_opts;

enum sp_cmd {
	SP_CMD_TRACE,		/* spanprobe [OPTIONS] [-- COMMAND], and record */
	SP_CMD_REPLAY,		/* spanprobe replay FILE [SINK OPTIONS] */
};

/* The largest --max-connections and --max-processes (and what a recording
 * may say it used). */
#define SP_MAX_CONNS_CEIL	(1u << 20)
#define SP_MAX_PROCS_CEIL	(1u << 22)

struct sp_config {
	enum sp_cmd cmd;

	/* sinks: trace and replay */
	const char *output;	/* -o; NULL: the default rule (sinks.c) */
	int console;		/* -1: default (on when no -o) */
	double trace_idle;
	double trace_hold;	/* --trace-hold: a trace's spans wait at most this */
	bool no_content;
	uint32_t content_max;
	const char *prices;
	struct sp_otlp_flags otlp_flags;
	struct sp_otlp_config otlp;		/* flags over OTEL_EXPORTER_OTLP_* */
	uint64_t flush_interval_ns;		/* OTEL_BSP_SCHEDULE_DELAY */
	uint32_t batch_max;			/* OTEL_BSP_MAX_EXPORT_BATCH_SIZE */

	/* tracing */
	uint32_t pids[SP_MAX_PIDS];
	int npids;
	double duration;
	uint32_t max_capture;
	uint32_t ringbuf_mb;
	uint32_t max_streams;
	uint32_t max_procs;
	struct sp_probe_arg probes[SP_FUNC_MAX_PROBES];	/* --probe, --usdt, in order */
	int nprobes;
	char **command;		/* borrowed from argv */
	const char *record;	/* --record FILE, or record's FILE */

	/* replay */
	const char *replay;	/* replay's FILE */
};

/* spanprobe report FILE... [REPORT OPTIONS] */
struct sp_report_args {
	char **files;		/* borrowed from argv */
	int nfiles;
	bool json;
	const char *html, *perfetto;
	struct sp_report_opts o;
};

/* Defaults for cmd. */
void sp_config_init(struct sp_config *c, enum sp_cmd cmd);
/*
 * Parses argv (argv[0] is skipped, as getopt does) for c->cmd. Returns 0
 * to go on, 1 when done (help, version, --list-tls-probes: exit 0), or
 * -errno after a one-line error (exit 1).
 */
int sp_config_parse(struct sp_config *c, int argc, char **argv);
/*
 * The environment: OTEL_EXPORTER_OTLP_* (under the flags), OTEL_SERVICE_NAME,
 * OTEL_RESOURCE_ATTRIBUTES, OTEL_BSP_*. 0, or -EINVAL after a one-line
 * error naming the variable.
 */
int sp_config_load_env(struct sp_config *c);
/* The pipeline settings c implies (trace: also from COMMAND and -p). */
void sp_config_pipeline_opts(const struct sp_config *c, struct sp_pipeline_opts *po);
/* report's argv (argv[0] is "report"): 0, 1 (help: exit 0) or -errno after
 * a one-line error. */
int sp_report_args_parse(struct sp_report_args *a, int argc, char **argv);
/* The help text, to out. */
void sp_config_usage(FILE *out);

#endif
