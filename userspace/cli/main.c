// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * spanprobe: turns what processes do on the wire into spans, without
 * touching them. Kernel probes (bpf/) -> ring buffer (loader.c) ->
 * pipeline (decoders, span assembly) -> exporters.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "util/clock.h"
#include "util/procfs.h"
#include "exporters/exporter.h"
#include "kernel/loader.h"
#include "exporters/otlp.h"
#include "util/log.h"
#include "pipeline.h"
#include "semantics/prices.h"
#include "model/resource.h"
#include "discovery/tls_attach.h"

#define MAX_PIDS		64
#define DEFAULT_OUTPUT		"spanprobe-spans.jsonl"
#define POLL_MS			20

static struct env {
	const char *output;
	int console;		/* -1: default (on when no -o) */
	uint32_t pids[MAX_PIDS];
	int npids;
	double duration;
	uint32_t max_capture;
	uint32_t ringbuf_mb;
	double trace_idle;
	uint32_t max_streams;
	uint32_t max_procs;
	struct sp_otlp_flags otlp;
	bool no_content;
	uint32_t content_max;
	const char *prices;
	char **command;
} env = {
	.content_max = 4096,
	.console = -1,
	.max_capture = 512 * 1024,
	.ringbuf_mb = 16,
	.trace_idle = 30,
	.max_streams = 4096,
	.max_procs = 16384,
};

static volatile sig_atomic_t stop_signal;

static const char usage[] =
"Usage: spanprobe [OPTIONS] [-- COMMAND [ARGS...]]\n"
"\n"
"Traces the HTTP and HTTPS calls processes make and turns them into spans,\n"
"with no change to those processes. With no COMMAND and no -p, traces every\n"
"process on the host until SIGINT/SIGTERM (or --duration).\n"
"\n"
"  -o, --output FILE        write finished spans as OTLP/JSON lines to FILE\n"
"                           (created 0600; '-' for stdout). Without -o: a trace\n"
"                           tree on stdout and spans in ./" DEFAULT_OUTPUT "\n"
"      --console            print the trace tree on stdout as well\n"
"      --no-console         do not print the trace tree\n"
"  -p, --pid PID            trace only PID and its descendants (repeatable)\n"
"  -d, --duration SECONDS   stop after SECONDS\n"
"      --trace-idle SECONDS end a process's trace after SECONDS without\n"
"                           activity; its next call starts a new trace (30)\n"
"      --max-capture BYTES  payload bytes captured per read/write call\n"
"                           (default 524288, at most 4194304)\n"
"      --ringbuf-mb MB      kernel ring buffer size, a power of two (16)\n"
"      --max-connections N  connections tracked at once (4096)\n"
"      --max-processes N    processes tracked at once (16384)\n"
"      --no-content         record no prompts or completions (LLM calls keep\n"
"                           model, tokens, timing, cost)\n"
"      --content-max BYTES  prompt/completion bytes kept per message (4096)\n"
"      --prices FILE        LLM price table (JSON, as userspace/semantics/prices.json),\n"
"                           instead of the built-in one\n"
"      --list-tls-probes PATH  print where spanprobe would probe PATH's TLS\n"
"                           functions, and exit\n"
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
	OPT_MAX_CAPTURE,
	OPT_RINGBUF_MB,
	OPT_MAX_CONNECTIONS,
	OPT_MAX_PROCESSES,
	OPT_LIST_TLS_PROBES,
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
};

static const struct option long_opts[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "console", no_argument, NULL, OPT_CONSOLE },
	{ "no-console", no_argument, NULL, OPT_NO_CONSOLE },
	{ "pid", required_argument, NULL, 'p' },
	{ "duration", required_argument, NULL, 'd' },
	{ "trace-idle", required_argument, NULL, OPT_TRACE_IDLE },
	{ "max-capture", required_argument, NULL, OPT_MAX_CAPTURE },
	{ "ringbuf-mb", required_argument, NULL, OPT_RINGBUF_MB },
	{ "max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS },
	{ "max-processes", required_argument, NULL, OPT_MAX_PROCESSES },
	{ "list-tls-probes", required_argument, NULL, OPT_LIST_TLS_PROBES },
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

/* 0: go on; 1: exit 0 now (help, version, list); < 0: usage error */
static int parse_args(int argc, char **argv)
{
	uint32_t v;
	int c, err;

	/* '+': stop at the first non-option, the command; ':' and opterr = 0:
	 * we word the errors ourselves, on one line */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:o:p:d:vVh", long_opts, NULL)) != -1) {
		err = 0;
		switch (c) {
		case 'o':
			env.output = optarg;
			break;
		case OPT_CONSOLE:
			env.console = 1;
			break;
		case OPT_NO_CONSOLE:
			env.console = 0;
			break;
		case 'p':
			if (env.npids == MAX_PIDS) {
				sp_err("at most %d -p options", MAX_PIDS);
				return -EINVAL;
			}
			err = sp_parse_u32("pid", optarg, 1, INT_MAX, &v);
			env.pids[env.npids++] = v;
			break;
		case 'd':
			err = parse_seconds("--duration", optarg, &env.duration);
			break;
		case OPT_TRACE_IDLE:
			err = parse_seconds("--trace-idle", optarg, &env.trace_idle);
			break;
		case OPT_MAX_CAPTURE:
			err = sp_parse_u32("--max-capture", optarg, 4096, SP_CAPTURE_CEIL,
					 &env.max_capture);
			break;
		case OPT_RINGBUF_MB:
			err = sp_parse_u32("--ringbuf-mb", optarg, 1, 1024, &env.ringbuf_mb);
			if (!err && (env.ringbuf_mb & (env.ringbuf_mb - 1))) {
				sp_err("invalid --ringbuf-mb '%s': must be a power of two", optarg);
				err = -EINVAL;
			}
			break;
		case OPT_MAX_CONNECTIONS:
			err = sp_parse_u32("--max-connections", optarg, 16, 1 << 20, &env.max_streams);
			break;
		case OPT_MAX_PROCESSES:
			err = sp_parse_u32("--max-processes", optarg, 16, 1 << 22, &env.max_procs);
			break;
		case OPT_NO_CONTENT:
			env.no_content = true;
			break;
		case OPT_CONTENT_MAX:
			err = sp_parse_u32("--content-max", optarg, 16, 1 << 20, &env.content_max);
			break;
		case OPT_PRICES:
			env.prices = optarg;
			break;
		case OPT_OTLP_ENDPOINT:
			env.otlp.endpoint = optarg;
			break;
		case OPT_OTLP_PROTOCOL:
			env.otlp.protocol = optarg;
			break;
		case OPT_OTLP_HEADER:
			if (env.otlp.nheaders == SP_OTLP_MAX_HEADERS) {
				sp_err("at most %d --otlp-header options", SP_OTLP_MAX_HEADERS);
				return -EINVAL;
			}
			env.otlp.headers[env.otlp.nheaders++] = optarg;
			break;
		case OPT_OTLP_COMPRESSION:
			env.otlp.compression = optarg;
			break;
		case OPT_OTLP_TIMEOUT:
			env.otlp.timeout_ms = optarg;
			break;
		case OPT_OTLP_CERTIFICATE:
			env.otlp.certificate = optarg;
			break;
		case OPT_OTLP_QUEUE_SIZE:
			env.otlp.queue_size = optarg;
			break;
		case OPT_OTLP_FLUSH_TIMEOUT:
			env.otlp.flush_timeout = optarg;
			break;
		case OPT_LIST_TLS_PROBES:
			return sp_tls_list_points(optarg, stdout) ? -ENOENT : 1;
		case 'v':
			sp_log_level = SP_LOG_DEBUG;
			break;
		case 'V':
			printf("spanprobe %s\n", SPANPROBE_VERSION);
			return 1;
		case 'h':
			fputs(usage, stdout);
			return 1;
		case ':':
			sp_err("option '%s' needs a value (see spanprobe --help)", argv[optind - 1]);
			return -EINVAL;
		default:
			if (optopt)
				sp_err("unknown option '-%c' (see spanprobe --help)", optopt);
			else
				sp_err("unknown option '%s' (see spanprobe --help)", argv[optind - 1]);
			return -EINVAL;
		}
		if (err)
			return err;
	}
	if (optind < argc)
		env.command = argv + optind;
	if (env.command && env.npids) {
		sp_err("use either -p or a COMMAND, not both");
		return -EINVAL;
	}
	for (int i = 0; i < env.npids; i++) {
		if (kill(env.pids[i], 0) && errno == ESRCH) {
			sp_err("no process with pid %u", env.pids[i]);
			return -ESRCH;
		}
	}
	return 0;
}

static void on_signal(int sig)
{
	stop_signal = sig;
}

static int on_record(void *ctx, void *data, size_t size)
{
	sp_pipeline__handle(ctx, data, size);
	return 0;
}

struct hooks {
	struct sp_loader *loader;
	struct sp_tls_attach *tls;
	pid_t child;
	bool child_exit_seen;	/* its exit record has been handled */
};

static void on_exec(void *ctx, uint32_t pid)
{
	struct hooks *h = ctx;

	if (h->tls)
		sp_tls_attach__after_exec(h->tls, pid, sp_clock_mono_ns());
}

static void on_exit_pid(void *ctx, uint32_t pid)
{
	struct hooks *h = ctx;

	if (h->loader)
		sp_loader__forget_pid(h->loader, pid);
	if ((pid_t)pid == h->child)
		h->child_exit_seen = true;
}

/* Running processes have no exec record to come: read what they are from
 * /proc now, while they are there (a busy host can leave userspace behind
 * a short-lived process's last exchange). */
static void snapshot_processes(struct sp_pipeline *pl, uint64_t now)
{
	struct dirent *de;
	DIR *d = opendir("/proc");

	if (!d)
		return;
	while ((de = readdir(d))) {
		uint32_t pid = strtoul(de->d_name, NULL, 10);

		if (pid && pid != (uint32_t)getpid())
			sp_pipeline__snapshot(pl, pid, now);
	}
	closedir(d);
}

/* Adds the running descendants of the -p processes to the filter; new
 * ones are followed in BPF from fork. */
static void trace_descendants(struct sp_loader *l, struct sp_pipeline *pl)
{
	enum { MAXP = 65536 };
	static uint32_t pid[MAXP], ppid[MAXP];
	static uint8_t in[MAXP];
	struct dirent *de;
	char path[64], buf[512];
	uint32_t n = 0;
	bool grew = true;
	DIR *d = opendir("/proc");

	if (!d)
		return;
	while ((de = readdir(d)) && n < MAXP) {
		uint32_t p = strtoul(de->d_name, NULL, 10);
		FILE *f;
		char *s;

		if (!p)
			continue;
		snprintf(path, sizeof(path), "/proc/%u/stat", p);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) && (s = strrchr(buf, ')')) &&
		    sscanf(s + 2, "%*c %u", &ppid[n]) == 1) {
			pid[n] = p;
			in[n] = 0;
			for (int i = 0; i < env.npids; i++)
				if (env.pids[i] == p)
					in[n] = 1;
			n++;
		}
		fclose(f);
	}
	closedir(d);
	while (grew) {
		grew = false;
		for (uint32_t i = 0; i < n; i++) {
			if (in[i])
				continue;
			for (uint32_t j = 0; j < n; j++) {
				if (in[j] && pid[j] == ppid[i]) {
					in[i] = 1;
					grew = true;
					sp_loader__trace_pid(l, pid[i]);
					sp_pipeline__snapshot(pl, pid[i], sp_clock_mono_ns());
					break;
				}
			}
		}
	}
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
static pid_t spawn_command(int *release)
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
		execvp(env.command[0], env.command);
		fprintf(stderr, "spanprobe: error: cannot run %s: %s\n", env.command[0],
			strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	close(fds[0]);
	*release = fds[1];
	return pid;
}

/* Appends ", N what" to buf when n > 0. */
static void add_count(char *buf, size_t cap, uint64_t n, const char *what)
{
	size_t at = strlen(buf);

	if (n && at < cap)
		snprintf(buf + at, cap - at, "%s%" PRIu64 " %s", at ? ", " : "", n, what);
}

/* At exit (and every 10 s with -v): what was made, and every drop. */
static void print_stats(struct sp_pipeline *pl, struct sp_loader *l, bool final)
{
	const struct sp_streams_stats *ss = sp_pipeline__streams_stats(pl);
	const struct sp_asm_stats *as = sp_pipeline__asm_stats(pl);
	struct sp_span_asm *a = sp_pipeline__asm(pl);
	uint64_t c[SP_CNT_MAX];
	struct sp_exporter *e;
	char drops[1024] = "";
	int level = final ? SP_LOG_INFO : SP_LOG_DEBUG;

	sp_loader__counters(l, c);
	add_count(drops, sizeof(drops), c[SP_CNT_RB_FULL], "ring-buffer records (buffer full)");
	add_count(drops, sizeof(drops), c[SP_CNT_TRUNC_BYTES], "bytes past the capture cap");
	add_count(drops, sizeof(drops), ss->bytes_lost, "bytes in stream holes");
	add_count(drops, sizeof(drops), c[SP_CNT_IOV_TRUNC], "writev/readv calls past 16 segments");
	add_count(drops, sizeof(drops), c[SP_CNT_CALL_TABLE_FULL] + c[SP_CNT_CONN_TABLE_FULL],
		  "kernel table inserts");
	add_count(drops, sizeof(drops), ss->stream_evictions, "connections evicted");
	add_count(drops, sizeof(drops), ss->stream_restarts, "kernel streams restarted");
	add_count(drops, sizeof(drops), sp_pipeline__proc_evictions(pl), "processes evicted");
	add_count(drops, sizeof(drops), ss->requests_dropped, "pipelined requests past the queue");
	add_count(drops, sizeof(drops), ss->orphan_responses, "responses without their request");
	add_count(drops, sizeof(drops), as->spans_dropped, "spans (span table full)");
	add_count(drops, sizeof(drops), sp_pipeline__stats(pl)->bad_records, "malformed records");
	sp_log(level, "%" PRIu64 " spans, %" PRIu64 " HTTP exchanges; dropped: %s", as->spans_finished,
	       ss->exchanges, drops[0] ? drops : "nothing");
	sp_dbg("%" PRIu64 " records, %" PRIu64 " not HTTP/1, %" PRIu64 " stream holes, %" PRIu64
	       " traces split by the idle gap, %" PRIu64 " own exports seen at a local backend",
	       sp_pipeline__stats(pl)->events, ss->not_http, ss->holes, as->traces_split,
	       sp_pipeline__stats(pl)->own_exports);
	for (int i = 0; (e = sp_span_asm__sink(a, i)); i++) {
		if (!strcmp(e->name, "otlp")) {
			struct sp_otlp_stats os;

			sp_otlp_exporter__stats(e, &os);
			sp_log(final ? SP_LOG_INFO : SP_LOG_DEBUG,
			       "OTLP: %" PRIu64 " spans exported, %" PRIu64 " requests retried, %" PRIu64
			       " spans dropped (queue full or flush deadline), %" PRIu64
			       " rejected by the backend, %" PRIu64 " in refused requests, %" PRIu64
			       " still queued",
			       os.spans_exported, os.requests_retried, os.spans_dropped,
			       os.spans_rejected, os.spans_failed, final ? 0 : os.spans_queued_now);
			continue;
		}
		if (e->stats.spans_dropped || e->stats.errors)
			sp_warn("%s sink: %" PRIu64 " spans exported, %" PRIu64 " dropped, %" PRIu64
				" errors", e->name, e->stats.spans_exported, e->stats.spans_dropped,
				e->stats.errors);
	}
}

static const char *get_env(const char *name)
{
	return getenv(name);
}

/* The file (-o), the console tree and OTLP, each fed the same spans.
 * Without -o: the tree, plus ./spanprobe-spans.jsonl unless OTLP is on. */
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

static int add_sinks(struct sp_pipeline *pl, const struct sp_otlp_config *otlp)
{
	bool console = env.console == 1 || (env.console == -1 && !env.output);
	const char *out = env.output ? env.output : otlp->enabled ? NULL : DEFAULT_OUTPUT;
	struct sp_exporter *e;

	if (console) {
		if (env.output && !strcmp(env.output, "-")) {
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
		if (!env.output)
			sp_info("writing spans to ./%s (OTLP/JSON lines) and a trace tree to stdout",
				DEFAULT_OUTPUT);
	}
	if (otlp->enabled) {
		e = sp_otlp_exporter__new(otlp);
		if (!e)
			return -errno;
		if (sp_pipeline__add_sink(pl, e))
			return -ENOMEM;
		sp_info("exporting spans with OTLP %s to %s", sp_otlp_protocol_name(otlp->protocol),
			otlp->url);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sp_pipeline_opts po = {
		.asm_opts = {
			.flush_interval_ns = 1000000000ull,
			.batch_max = 512,
			.max_spans = 16384,
		},
		.max_sockets = 16384,
	};
	struct sp_loader_opts lo = {};
	struct sp_otlp_config otlp;
	uint32_t bsp;
	const char *v;
	struct hooks hooks = {};
	struct sp_pipeline *pl = NULL;
	struct sp_loader *l = NULL;
	struct sp_tls_attach *tls = NULL;
	uint64_t start, now, last_sweep, last_stats, child_gone = 0;
	int release = -1, status = 0, exit_code = 0, err;
	pid_t child = -1;
	char exe[PATH_MAX];

	err = parse_args(argc, argv);
	if (err)
		return err > 0 ? 0 : 1;
	sp_clock_sync();
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	/* configuration errors first, then privilege: before any file is created */
	if (sp_resource_defaults_from_env() || sp_otlp_config_load(&otlp, &env.otlp, get_env))
		return 1;
	if ((v = getenv("OTEL_BSP_SCHEDULE_DELAY")) && *v) {
		if (sp_parse_u32("OTEL_BSP_SCHEDULE_DELAY", v, 1, 3600000, &bsp))
			return 1;
		po.asm_opts.flush_interval_ns = bsp * 1000000ull;
	}
	if ((v = getenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")) && *v) {
		if (sp_parse_u32("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", v, 1, 8192, &bsp))
			return 1;
		po.asm_opts.batch_max = bsp;
	}
	if (sp_prices_load(env.prices) || sp_loader_check())
		return 1;
	po.asm_opts.trace_idle_ns = (uint64_t)(env.trace_idle * 1e9);
	po.max_procs = env.max_procs;
	po.max_streams = env.max_streams;
	po.all = !env.command && !env.npids;
	po.llm = true;
	po.llm_opts.content = !env.no_content;
	po.llm_opts.content_max = env.content_max;
	po.on_exec = on_exec;
	po.on_exit = on_exit_pid;
	po.hook_ctx = &hooks;
	pl = sp_pipeline__new(&po);
	if (!pl) {
		sp_err("out of memory");
		goto cleanup_err;
	}
	if (add_sinks(pl, &otlp))
		goto cleanup_err;

	lo.all = po.all;
	lo.max_capture = env.max_capture;
	lo.ringbuf_bytes = env.ringbuf_mb << 20;
	lo.on_record = on_record;
	lo.ctx = pl;
	if (sp_loader__open(&l, &lo))
		goto cleanup_err;
	hooks.loader = l;

	now = sp_clock_mono_ns();
	for (int i = 0; i < env.npids; i++) {
		if (sp_loader__trace_pid(l, env.pids[i]) ||
		    sp_pipeline__target(pl, env.pids[i], now)) {
			sp_err("cannot trace pid %u", env.pids[i]);
			goto cleanup_err;
		}
	}
	if (env.npids)
		trace_descendants(l, pl);
	else if (po.all)
		snapshot_processes(pl, now);

	tls = sp_tls_attach__new(sp_loader__skel(l), 1024);
	if (!tls) {
		sp_err("out of memory");
		goto cleanup_err;
	}
	hooks.tls = tls;
	/* every libssl and every TLS-exporting binary in use, system-wide:
	 * a uprobe lives on the file, so processes started later get it */
	sp_tls_attach__all(tls);
	if (env.command) {
		resolve_command(env.command[0], exe, sizeof(exe));
		sp_tls_attach__file(tls, exe);
		child = spawn_command(&release);
		hooks.child = child;
		if (child < 0) {
			sp_err("cannot start %s: %s", env.command[0], strerror(errno));
			goto cleanup_err;
		}
		if (sp_loader__trace_pid(l, child) ||
		    sp_pipeline__target(pl, child, sp_clock_mono_ns())) {
			sp_err("cannot trace %s", env.command[0]);
			goto cleanup_err;
		}
	}

	fprintf(stderr, "spanprobe: ready: tracing %s; %u TLS libraries/binaries probed\n",
		env.command ? env.command[0] : env.npids ? "the given processes" : "all processes",
		sp_tls_attach__files(tls));
	if (release >= 0) {
		if (write(release, "g", 1) != 1)
			sp_warn("cannot start %s", env.command[0]);
		close(release);
		release = -1;
	}

	start = last_sweep = last_stats = sp_clock_mono_ns();
	for (;;) {
		err = sp_loader__poll(l, POLL_MS);
		if (err < 0 && err != -EINTR) {
			sp_err("reading the ring buffer: %s", strerror(-err));
			break;
		}
		now = sp_clock_mono_ns();
		sp_pipeline__tick(pl, now);
		sp_tls_attach__tick(tls, now);
		if (now - last_sweep > 1000000000ull) {
			sp_loader__sweep(l);
			sp_clock_sync();
			last_sweep = now;
		}
		if (sp_log_level >= SP_LOG_DEBUG && now - last_stats > 10000000000ull) {
			print_stats(pl, l, false);
			last_stats = now;
		}
		if (child > 0 && !child_gone && waitpid(child, &status, WNOHANG) == child) {
			child_gone = now;
			exit_code = sp_wait_code(status);
		}
		/* the exit record may trail waitpid: wait for it, briefly */
		if (child_gone && (hooks.child_exit_seen || now - child_gone > 500000000ull))
			break;
		if (env.duration && now - start >= (uint64_t)(env.duration * 1e9))
			break;
		if (stop_signal) {
			if (child > 0 && !child_gone) {
				/* let the command end first; a second signal stops us */
				kill(child, stop_signal);
				stop_signal = 0;
				signal(SIGINT, SIG_DFL);
				signal(SIGTERM, SIG_DFL);
				continue;
			}
			break;
		}
	}
	sp_loader__poll(l, 0);
	sp_pipeline__shutdown(pl, sp_clock_mono_ns());
	print_stats(pl, l, true);
	fflush(NULL);
	detach_in_background();
	goto cleanup;

cleanup_err:
	exit_code = 1;
	if (child > 0 && !child_gone) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
cleanup:
	if (release >= 0)
		close(release);
	sp_tls_attach__free(tls);
	sp_loader__free(l);
	sp_pipeline__free(pl);
	sp_prices_free();
	return exit_code;
}
