// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli/options.h"
#include "discovery/tls_attach.h"
#include "model/resource.h"
#include "pipeline.h"
#include "spanprobe.h"
#include "util/log.h"

static const char usage[] =
"Usage: spanprobe [OPTIONS] [-- COMMAND [ARGS...]]\n"
"       spanprobe record FILE [OPTIONS] [-- COMMAND [ARGS...]]\n"
"       spanprobe replay FILE [SINK OPTIONS]\n"
"       spanprobe report FILE... [REPORT OPTIONS]\n"
"       spanprobe help | --help | --version\n"
"\n"
"Traces the HTTP and HTTPS calls processes make and turns them into spans,\n"
"with no change to those processes. With no COMMAND and no -p, traces every\n"
"process on the host until SIGINT/SIGTERM (or --duration).\n"
"\n"
"Sink options (tracing and replay):\n"
"  -o, --output FILE        write finished spans as OTLP/JSON lines to FILE\n"
"                           (created 0600; '-' for stdout). Without -o: a trace\n"
"                           tree on stdout and spans in ./" SP_DEFAULT_OUTPUT "\n"
"      --console            print the trace tree on stdout as well\n"
"      --no-console         do not print the trace tree\n"
"      --trace-idle SECONDS end a process's trace after SECONDS without\n"
"                           activity; its next call starts a new trace (30)\n"
"      --trace-hold SECONDS hold a trace's finished spans at most SECONDS for\n"
"                           it to end, then send what there is, marked partial\n"
"                           (60; sinks get whole traces when they end sooner)\n"
"      --no-content         record no prompts or completions (LLM calls keep\n"
"                           model, tokens, timing, cost)\n"
"      --content-max BYTES  prompt/completion bytes kept per message (4096)\n"
"      --prices FILE        LLM price table (JSON, as userspace/semantics/prices.json),\n"
"                           instead of the built-in one\n"
"      --otlp-*             OTLP export, below\n"
"\n"
"Tracing options:\n"
"  -p, --pid PID            trace only PID and its descendants (repeatable)\n"
"  -d, --duration SECONDS   stop after SECONDS\n"
"      --max-capture BYTES  payload bytes captured per read/write call\n"
"                           (default 524288, at most 4194304)\n"
"      --ringbuf-mb MB      kernel ring buffer size, a power of two (16)\n"
"      --max-connections N  connections tracked at once (4096)\n"
"      --max-processes N    processes tracked at once (16384)\n"
"      --record FILE        also write everything the pipeline is given to FILE\n"
"                           (created 0600), for `spanprobe replay FILE`. FILE\n"
"                           holds the captured payload itself: request and\n"
"                           response bodies, prompts, cookies, Authorization\n"
"                           headers, API keys and other credentials. Treat it\n"
"                           as a secret.\n"
"      --probe BINARY:SYMBOL[=NAME]  a span for each call of the function SYMBOL\n"
"                           of BINARY (an executable or a library: a path, or a\n"
"                           name found in PATH or the library directories),\n"
"                           named NAME (default SYMBOL), nested by call depth;\n"
"                           BINARY:0xADDR names a function by its address\n"
"                           (repeatable)\n"
"      --usdt BINARY:PROVIDER:NAME  a span for each hit of the USDT probe\n"
"                           PROVIDER:NAME of BINARY (repeatable; --probe and\n"
"                           --usdt: at most 64 in all)\n"
"      --list-tls-probes PATH  print where spanprobe would probe PATH's TLS\n"
"                           functions, and exit\n"
"\n"
"Commands:\n"
"  record FILE [OPTIONS] [-- COMMAND]  trace, as above, with --record FILE\n"
"  replay FILE [SINK OPTIONS]  run the userspace pipeline on a recording and\n"
"                           send its spans to the sinks: the spans of the\n"
"                           recorded run, with new span and trace ids. Needs\n"
"                           no root and no BPF.\n"
"  report FILE... [REPORT OPTIONS]  sum up the spans of OTLP/JSON files (-o's,\n"
"                           or an OpenTelemetry Collector file exporter's; plain\n"
"                           or gzip): trees, think vs act, latency by operation,\n"
"                           slowest spans, failures, tokens and cost. No root.\n"
"      --json               everything as one JSON document on stdout\n"
"      --trace ID           only the trace(s) whose id starts with ID\n"
"      --filter KEY=VALUE   only spans with name=, kind=, status=, class= or an\n"
"                           attribute KEY equal to VALUE (repeatable, ANDed)\n"
"      --since T, --until T only spans overlapping [T1, T2] (RFC 3339 or unix seconds)\n"
"      --sort duration|start  trace order (start)\n"
"      --top N              the N slowest spans (10)\n"
"      --html FILE          a waterfall page (created 0600)\n"
"      --perfetto FILE      Chrome trace-event JSON for ui.perfetto.dev (0600)\n"
"\n"
"OTLP export (flags override the OTEL_* variables the OpenTelemetry SDKs read):\n"
"      --otlp-endpoint URL  send spans to URL (OTLP/HTTP: URL/v1/traces)\n"
"                           env: OTEL_EXPORTER_OTLP_ENDPOINT, or the full URL in\n"
"                           OTEL_EXPORTER_OTLP_TRACES_ENDPOINT\n"
"      --otlp-protocol P    http/protobuf (default), http/json or grpc\n"
"                           env: OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL\n"
"      --otlp-header K=V    add a request header (repeatable)\n"
"                           env: OTEL_EXPORTER_OTLP_[TRACES_]HEADERS=k=v,k2=v2\n"
"      --otlp-compression C gzip or none   env: OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION\n"
"      --otlp-timeout MS    per request (10000)  env: OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT\n"
"      --otlp-certificate F CA bundle for https  env: OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE\n"
"                           (and _CLIENT_CERTIFICATE, _CLIENT_KEY for mutual TLS)\n"
"      --otlp-queue-size N  spans held while the backend is away (2048)\n"
"                           env: OTEL_BSP_MAX_QUEUE_SIZE\n"
"      --otlp-flush-timeout MS  at exit, time to deliver what is queued (5000)\n"
"  Also read: OTEL_TRACES_EXPORTER (otlp, none), OTEL_SERVICE_NAME and\n"
"  OTEL_RESOURCE_ATTRIBUTES (applied to every traced process's resource;\n"
"  a process's own values win), OTEL_BSP_SCHEDULE_DELAY and\n"
"  OTEL_BSP_MAX_EXPORT_BATCH_SIZE (batching, for every sink).\n"
"\n"
"  -v, --verbose            debug logging (and libbpf's)\n"
"  -V, --version            print the version\n"
"  -h, --help               this help\n"
"\n"
"Exit status: with COMMAND, the command's; otherwise 0, or 1 on an error.\n";

enum {
	OPT_CONSOLE = 256,
	OPT_NO_CONSOLE,
	OPT_TRACE_IDLE,
	OPT_TRACE_HOLD,
	OPT_NO_CONTENT,
	OPT_CONTENT_MAX,
	OPT_PRICES,
	OPT_OTLP_ENDPOINT,
	OPT_OTLP_PROTOCOL,
	OPT_OTLP_HEADER,
	OPT_OTLP_COMPRESSION,
	OPT_OTLP_TIMEOUT,
	OPT_OTLP_CERTIFICATE,
	OPT_OTLP_QUEUE_SIZE,
	OPT_OTLP_FLUSH_TIMEOUT,
	/* tracing only from here */
	OPT_TRACE_ONLY,
	OPT_MAX_CAPTURE = OPT_TRACE_ONLY,
	OPT_RINGBUF_MB,
	OPT_MAX_CONNECTIONS,
	OPT_MAX_PROCESSES,
	OPT_LIST_TLS_PROBES,
	OPT_RECORD,
	OPT_PROBE,
	OPT_USDT,
};

static const struct option long_opts[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "console", no_argument, NULL, OPT_CONSOLE },
	{ "no-console", no_argument, NULL, OPT_NO_CONSOLE },
	{ "pid", required_argument, NULL, 'p' },
	{ "duration", required_argument, NULL, 'd' },
	{ "trace-idle", required_argument, NULL, OPT_TRACE_IDLE },
	{ "trace-hold", required_argument, NULL, OPT_TRACE_HOLD },
	{ "max-capture", required_argument, NULL, OPT_MAX_CAPTURE },
	{ "ringbuf-mb", required_argument, NULL, OPT_RINGBUF_MB },
	{ "max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS },
	{ "max-processes", required_argument, NULL, OPT_MAX_PROCESSES },
	{ "list-tls-probes", required_argument, NULL, OPT_LIST_TLS_PROBES },
	{ "record", required_argument, NULL, OPT_RECORD },
	{ "probe", required_argument, NULL, OPT_PROBE },
	{ "usdt", required_argument, NULL, OPT_USDT },
	{ "no-content", no_argument, NULL, OPT_NO_CONTENT },
	{ "content-max", required_argument, NULL, OPT_CONTENT_MAX },
	{ "prices", required_argument, NULL, OPT_PRICES },
	{ "otlp-endpoint", required_argument, NULL, OPT_OTLP_ENDPOINT },
	{ "otlp-protocol", required_argument, NULL, OPT_OTLP_PROTOCOL },
	{ "otlp-header", required_argument, NULL, OPT_OTLP_HEADER },
	{ "otlp-compression", required_argument, NULL, OPT_OTLP_COMPRESSION },
	{ "otlp-timeout", required_argument, NULL, OPT_OTLP_TIMEOUT },
	{ "otlp-certificate", required_argument, NULL, OPT_OTLP_CERTIFICATE },
	{ "otlp-queue-size", required_argument, NULL, OPT_OTLP_QUEUE_SIZE },
	{ "otlp-flush-timeout", required_argument, NULL, OPT_OTLP_FLUSH_TIMEOUT },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{},
};

void sp_config_init(struct sp_config *c, enum sp_cmd cmd)
{
	memset(c, 0, sizeof(*c));
	c->cmd = cmd;
	c->console = -1;
	c->trace_idle = 30;
	c->trace_hold = 60;
	c->content_max = 4096;
	c->flush_interval_ns = 1000000000ull;
	c->batch_max = 512;
	c->max_capture = 512 * 1024;
	c->ringbuf_mb = 16;
	c->max_streams = 4096;
	c->max_procs = 16384;
}

void sp_config_usage(FILE *out)
{
	fputs(usage, out);
}

static int parse_seconds(const char *opt, const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !(v > 0) || v > 1e7) {
		sp_err("invalid %s '%s': expected a number of seconds greater than 0", opt, s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* The sink options: 0, 1 (not one of them), or -errno. */
static int parse_sink_opt(struct sp_config *c, int opt, const char *arg)
{
	struct sp_otlp_flags *o = &c->otlp_flags;

	switch (opt) {
	case 'o':
		c->output = arg;
		return 0;
	case OPT_CONSOLE:
		c->console = 1;
		return 0;
	case OPT_NO_CONSOLE:
		c->console = 0;
		return 0;
	case OPT_TRACE_IDLE:
		return parse_seconds("--trace-idle", arg, &c->trace_idle);
	case OPT_TRACE_HOLD:
		return parse_seconds("--trace-hold", arg, &c->trace_hold);
	case OPT_NO_CONTENT:
		c->no_content = true;
		return 0;
	case OPT_CONTENT_MAX:
		return sp_parse_u32("--content-max", arg, 16, 1 << 20, &c->content_max);
	case OPT_PRICES:
		c->prices = arg;
		return 0;
	case OPT_OTLP_ENDPOINT:
		o->endpoint = arg;
		return 0;
	case OPT_OTLP_PROTOCOL:
		o->protocol = arg;
		return 0;
	case OPT_OTLP_HEADER:
		if (o->nheaders == SP_OTLP_MAX_HEADERS) {
			sp_err("at most %d --otlp-header options", SP_OTLP_MAX_HEADERS);
			return -EINVAL;
		}
		o->headers[o->nheaders++] = arg;
		return 0;
	case OPT_OTLP_COMPRESSION:
		o->compression = arg;
		return 0;
	case OPT_OTLP_TIMEOUT:
		o->timeout_ms = arg;
		return 0;
	case OPT_OTLP_CERTIFICATE:
		o->certificate = arg;
		return 0;
	case OPT_OTLP_QUEUE_SIZE:
		o->queue_size = arg;
		return 0;
	case OPT_OTLP_FLUSH_TIMEOUT:
		o->flush_timeout = arg;
		return 0;
	}
	return 1;
}

/* The tracing options: 0, 1 (done: exit 0), or -errno. */
static int parse_trace_opt(struct sp_config *c, int opt, const char *arg)
{
	uint32_t v;
	int err;

	switch (opt) {
	case 'p':
		if (c->npids == SP_MAX_PIDS) {
			sp_err("at most %d -p options", SP_MAX_PIDS);
			return -EINVAL;
		}
		err = sp_parse_u32("pid", arg, 1, INT_MAX, &v);
		c->pids[c->npids++] = v;
		return err;
	case 'd':
		return parse_seconds("--duration", arg, &c->duration);
	case OPT_MAX_CAPTURE:
		return sp_parse_u32("--max-capture", arg, 4096, SP_CAPTURE_CEIL, &c->max_capture);
	case OPT_RINGBUF_MB:
		err = sp_parse_u32("--ringbuf-mb", arg, 1, 1024, &c->ringbuf_mb);
		if (!err && (c->ringbuf_mb & (c->ringbuf_mb - 1))) {
			sp_err("invalid --ringbuf-mb '%s': must be a power of two", arg);
			err = -EINVAL;
		}
		return err;
	case OPT_MAX_CONNECTIONS:
		return sp_parse_u32("--max-connections", arg, 16, SP_MAX_CONNS_CEIL, &c->max_streams);
	case OPT_MAX_PROCESSES:
		return sp_parse_u32("--max-processes", arg, 16, SP_MAX_PROCS_CEIL, &c->max_procs);
	case OPT_RECORD:
		if (c->record && strcmp(c->record, arg)) {
			sp_err("one recording at a time: '%s' and '%s'", c->record, arg);
			return -EINVAL;
		}
		c->record = arg;
		return 0;
	case OPT_PROBE:
	case OPT_USDT:
		if (c->nprobes == SP_FUNC_MAX_PROBES) {
			sp_err("at most %d --probe and --usdt options", SP_FUNC_MAX_PROBES);
			return -EINVAL;
		}
		err = sp_func_probe_check(arg, opt == OPT_USDT);
		c->probes[c->nprobes].arg = arg;
		c->probes[c->nprobes++].usdt = opt == OPT_USDT;
		return err;
	case OPT_LIST_TLS_PROBES:
		return sp_tls_list_points(arg, stdout) ? -ENOENT : 1;
	}
	return -EINVAL;
}

/* The argv word that held the option getopt just returned. */
static const char *opt_word(char **argv, int ind)
{
	return optarg && ind >= 2 && argv[ind - 1] == optarg ? argv[ind - 2] : argv[ind - 1];
}

int sp_config_parse(struct sp_config *c, int argc, char **argv)
{
	int opt, err;

	/* '+': stop at the first non-option, the command; ':' and opterr = 0:
	 * we word the errors ourselves, on one line */
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+:o:p:d:vVh", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'v':
			sp_log_level = SP_LOG_DEBUG;
			continue;
		case 'V':
			printf("spanprobe %s\n", SPANPROBE_VERSION);
			return 1;
		case 'h':
			sp_config_usage(stdout);
			return 1;
		case ':':
			sp_err("option '%s' needs a value (see spanprobe --help)", argv[optind - 1]);
			return -EINVAL;
		case '?':
			if (optopt)
				sp_err("unknown option '-%c' (see spanprobe --help)", optopt);
			else
				sp_err("unknown option '%s' (see spanprobe --help)", argv[optind - 1]);
			return -EINVAL;
		}
		err = parse_sink_opt(c, opt, optarg);
		if (err == 1) {
			if (c->cmd == SP_CMD_REPLAY) {
				sp_err("'%s' is a tracing option; replay takes the sink options only "
				       "(see spanprobe --help)", opt_word(argv, optind));
				return -EINVAL;
			}
			err = parse_trace_opt(c, opt, optarg);
		}
		if (err)
			return err;
	}
	if (optind < argc) {
		if (c->cmd == SP_CMD_REPLAY) {
			sp_err("replay takes no COMMAND ('%s'): it runs what the recording holds",
			       argv[optind]);
			return -EINVAL;
		}
		c->command = argv + optind;
	}
	if (c->command && c->npids) {
		sp_err("use either -p or a COMMAND, not both");
		return -EINVAL;
	}
	for (int i = 0; i < c->npids; i++) {
		if (kill(c->pids[i], 0) && errno == ESRCH) {
			sp_err("no process with pid %u", c->pids[i]);
			return -ESRCH;
		}
	}
	return 0;
}

static const char *get_env(const char *name)
{
	return getenv(name);
}

int sp_config_load_env(struct sp_config *c)
{
	uint32_t v32;
	const char *v;

	if (sp_resource_defaults_from_env() || sp_otlp_config_load(&c->otlp, &c->otlp_flags, get_env))
		return -EINVAL;
	if ((v = getenv("OTEL_BSP_SCHEDULE_DELAY")) && *v) {
		if (sp_parse_u32("OTEL_BSP_SCHEDULE_DELAY", v, 1, 3600000, &v32))
			return -EINVAL;
		c->flush_interval_ns = v32 * 1000000ull;
	}
	if ((v = getenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")) && *v) {
		if (sp_parse_u32("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", v, 1, 8192, &v32))
			return -EINVAL;
		c->batch_max = v32;
	}
	return 0;
}

void sp_config_pipeline_opts(const struct sp_config *c, struct sp_pipeline_opts *po)
{
	memset(po, 0, sizeof(*po));
	po->asm_opts.flush_interval_ns = c->flush_interval_ns;
	po->asm_opts.batch_max = c->batch_max;
	po->asm_opts.max_spans = 0;	/* span_asm.h: 16384 + one per process */
	po->asm_opts.trace_idle_ns = (uint64_t)(c->trace_idle * 1e9);
	po->asm_opts.max_trace_age_ns = (uint64_t)(c->trace_hold * 1e9);
	po->max_sockets = 16384;
	po->max_procs = c->max_procs;
	po->max_streams = c->max_streams;
	po->all = !c->command && !c->npids;
	po->llm = true;
	po->llm_opts.content = !c->no_content;
	po->llm_opts.content_max = c->content_max;
}

/* RFC 3339 (2026-12-02T08:00:00Z, fractions, +hh:mm) or unix seconds */
static int parse_time(const char *opt, const char *s, uint64_t *out)
{
	struct tm tm;
	char *end;
	double v = strtod(s, &end), frac = 0;
	int oh = 0, om = 0;
	const char *p;

	if (end != s && !*end && v >= 0) {
		*out = (uint64_t)(v * 1e9);
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		p = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
	if (p && *p == '.') {
		frac = strtod(p, &end);
		p = end;
	}
	if (p && (*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d", &oh, &om) == 2) {
		int sign = *p == '+' ? 1 : -1;

		p += 6;
		oh *= sign;
		om *= sign;
	} else if (p && (*p == 'Z' || *p == 'z')) {
		p++;
	}
	if (!p || *p) {
		sp_err("invalid %s '%s': expected RFC 3339 (2026-12-02T08:00:00Z) or unix seconds",
		       opt, s);
		return -EINVAL;
	}
	*out = (uint64_t)((timegm(&tm) - oh * 3600 - om * 60 + frac) * 1e9);
	return 0;
}

int sp_report_args_parse(struct sp_report_args *a, int argc, char **argv)
{
	enum { R_JSON = 300, R_TRACE, R_FILTER, R_SINCE, R_UNTIL, R_SORT, R_TOP, R_HTML,
	       R_PERFETTO };
	static const struct option ropts[] = {
		{ "json", no_argument, NULL, R_JSON },
		{ "trace", required_argument, NULL, R_TRACE },
		{ "filter", required_argument, NULL, R_FILTER },
		{ "since", required_argument, NULL, R_SINCE },
		{ "until", required_argument, NULL, R_UNTIL },
		{ "sort", required_argument, NULL, R_SORT },
		{ "top", required_argument, NULL, R_TOP },
		{ "html", required_argument, NULL, R_HTML },
		{ "perfetto", required_argument, NULL, R_PERFETTO },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int opt, err = 0;

	memset(a, 0, sizeof(*a));
	a->o.top = 10;
	a->files = calloc(argc + 1, sizeof(*a->files));
	if (!a->files)
		return -ENOMEM;
	opterr = 0;
	optind = 1;
	/* no '+': FILEs and options in any order */
	while (!err && (opt = getopt_long(argc, argv, ":vh", ropts, NULL)) != -1) {
		switch (opt) {
		case 'v':
			sp_log_level = SP_LOG_DEBUG;
			break;
		case 'h':
			sp_config_usage(stdout);
			return 1;
		case ':':
			sp_err("option '%s' needs a value (see spanprobe --help)", argv[optind - 1]);
			return -EINVAL;
		case '?':
			sp_err("unknown report option '%s' (see spanprobe --help)", argv[optind - 1]);
			return -EINVAL;
		case R_JSON:
			a->json = true;
			break;
		case R_TRACE:
			a->o.trace = optarg;
			break;
		case R_FILTER:
			if (a->o.nfilters == SP_REPORT_MAX_FILTERS) {
				sp_err("at most %d --filter options", SP_REPORT_MAX_FILTERS);
				return -EINVAL;
			}
			if (sp_rfilter_parse(&a->o.filters[a->o.nfilters], optarg)) {
				sp_err("invalid --filter '%s': expected KEY=VALUE (name=, kind=, "
				       "status=, class= or an attribute)", optarg);
				return -EINVAL;
			}
			a->o.nfilters++;
			break;
		case R_SINCE:
			err = parse_time("--since", optarg, &a->o.since);
			break;
		case R_UNTIL:
			err = parse_time("--until", optarg, &a->o.until);
			break;
		case R_SORT:
			if (strcmp(optarg, "duration") && strcmp(optarg, "start")) {
				sp_err("invalid --sort '%s': duration or start", optarg);
				return -EINVAL;
			}
			a->o.sort_duration = optarg[0] == 'd';
			break;
		case R_TOP: {
			uint32_t v;

			err = sp_parse_u32("--top", optarg, 0, 1000000, &v);
			a->o.top = v;
			break;
		}
		case R_HTML:
			a->html = optarg;
			break;
		case R_PERFETTO:
			a->perfetto = optarg;
			break;
		}
	}
	if (err)
		return err;
	for (int i = optind; i < argc; i++)
		a->files[a->nfiles++] = argv[i];
	if (!a->nfiles) {
		sp_err("report needs a FILE: spanprobe report FILE... [OPTIONS] (see spanprobe --help)");
		return -EINVAL;
	}
	return 0;
}
