// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The sinks: the console draws each trace group as the tree expected line
 * for line (partial groups, spans without their parent, colour and
 * NO_COLOR); the file sink writes one OTLP/JSON line per batch, owner-only,
 * never through a symlink; every sink's statistics line.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <yajl/yajl_tree.h>
#include "util/log.h"
#include "exporters/exporter.h"
#include "exporters/otlp.h"
#include "model/resource.h"
#include "model/span.h"

#define T0	1700000000000000000ull	/* Unix ns */
#define MS	1000000ull
#define MAX_SPANS 2048

static struct sp_resource *res;
static struct sp_span *pool[MAX_SPANS];
static size_t npool;

/* A span of trace tr (all 16 bytes tr), id and parent as small numbers
 * (0: none), times in ms after T0. */
static struct sp_span *mk(uint8_t tr, uint16_t id, uint16_t parent, const char *name,
			  uint64_t start_ms, uint64_t end_ms)
{
	struct sp_span *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	assert_true(npool < MAX_SPANS);
	pool[npool++] = s;
	sp_span__init(s, name, strlen(name), SP_KIND_CLIENT, res);
	memset(s->trace_id, tr, 16);
	memset(s->span_id, 0, 8);
	memset(s->parent_id, 0, 8);
	s->span_id[6] = id >> 8;
	s->span_id[7] = id & 0xff;
	s->parent_id[6] = parent >> 8;
	s->parent_id[7] = parent & 0xff;
	s->start_ns = T0 + start_ms * MS;
	s->end_ns = T0 + end_ms * MS;
	return s;
}

static int setup(void **state)
{
	res = sp_resource__new();
	res->pid = 10;
	snprintf(res->exe_name, sizeof(res->exe_name), "python3");
	sp_resource__finish(res, NULL);
	npool = 0;
	unsetenv("NO_COLOR");
	return 0;
}

static int teardown(void **state)
{
	for (size_t i = 0; i < npool; i++) {
		sp_span__release(pool[i]);
		free(pool[i]);
	}
	npool = 0;
	sp_resource__put(res);
	unsetenv("NO_COLOR");
	return 0;
}

/* Runs one console sink over the batches (NULL-separated, NULL-NULL
 * ended) and returns what it printed (owned). */
static char *console_run(bool color, struct sp_span **batches)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	struct sp_exporter *e;

	assert_non_null(out);
	e = sp_console_exporter__new(out, color);
	assert_non_null(e);
	for (struct sp_span **b = batches; *b; ) {
		size_t n = 0;

		while (b[n])
			n++;
		assert_int_equal(e->export(e, b, n), 0);
		b += n + 1;
	}
	assert_int_equal(e->flush(e), 0);
	sp_exporter__free(e);
	fclose(out);
	return buf;
}

/* An agent, its LLM call (with a DNS lookup inside) and a failed health
 * check, handed over child-first as they finish. */
static void trace_3_levels(struct sp_span **s)
{
	s[3] = mk(1, 1, 0, "python3 agent.py", 0, 1000);
	s[3]->kind = SP_KIND_INTERNAL;
	sp_span__set_int(s[3], "process.pid", 10);
	sp_span__set_int(s[3], "process.exit.code", 0);
	s[1] = mk(1, 2, 1, "POST /v1/chat/completions", 100, 600);
	sp_span__set_int(s[1], "http.response.status_code", 200);
	sp_span__set_str(s[1], "server.address", "api.openai.com", 14);
	sp_span__set_int(s[1], "server.port", 443);
	sp_span__set_str(s[1], "gen_ai.request.model", "gpt-4o", 6);
	sp_span__set_str(s[1], "gen_ai.response.model", "gpt-4o-2024-08-06", 17);
	sp_span__set_int(s[1], "gen_ai.usage.input_tokens", 12);
	sp_span__set_int(s[1], "gen_ai.usage.output_tokens", 5);
	s[0] = mk(1, 3, 2, "dns api.openai.com", 100, 150);
	s[2] = mk(1, 4, 1, "GET /health", 700, 750);
	sp_span__set_int(s[2], "http.response.status_code", 503);
	sp_span__set_status(s[2], SP_STATUS_ERROR, NULL);
}

static const char tree_3_levels[] =
	"trace 01010101010101010101010101010101  python3 agent.py  1.000s\n"
	"  python3 agent.py                             pid 10 exit 0                +   0.000s    1.000s |########################|\n"
	"    POST /v1/chat/completions                  200 api.openai.com:443       +   0.100s    0.500s |..############..........|  gpt-4o-2024-08-06 12 in / 5 out tokens\n"
	"      dns api.openai.com                                                    +   0.100s    0.050s |..#.....................|\n"
	"    GET /health                                503                          +   0.700s    0.050s |................##......|\n";

static void test_console_tree(void **state)
{
	struct sp_span *b[6] = {};
	char *out;

	trace_3_levels(b);
	out = console_run(false, b);
	assert_string_equal(out, tree_3_levels);
	free(out);
}

/* A group that left the buffer early, without its root, and the next
 * trace's group in the same batch. */
static void test_console_partial_group(void **state)
{
	struct sp_span *b[6] = {};
	char *out;

	b[0] = mk(2, 11, 10, "GET /a", 200, 300);
	b[1] = mk(2, 12, 11, "read", 210, 220);
	b[2] = mk(2, 13, 10, "GET /b", 100, 400);
	for (int i = 0; i < 3; i++)
		b[i]->trace_partial = true;
	b[3] = mk(3, 20, 0, "curl", 0, 10);
	out = console_run(false, b);
	assert_string_equal(out,
		"trace 02020202020202020202020202020202  (root not in this group)  0.300s  (partial)\n"
		"  (parent not in this group)\n"
		"    GET /b                                                                  +   0.000s    0.300s |########################|\n"
		"    GET /a                                                                  +   0.100s    0.100s |........########........|\n"
		"      read                                                                  +   0.110s    0.010s |........#...............|\n"
		"trace 03030303030303030303030303030303  curl  0.010s\n"
		"  curl                                                                      +   0.000s    0.010s |########################|\n");
	free(out);
}

/* A span whose parent is not in the group is drawn under its own heading
 * with its children; so is a parent cycle (bad input): nothing is lost. */
static void test_console_orphans(void **state)
{
	struct sp_span *b[8] = {};
	char *out;

	b[0] = mk(4, 30, 0, "node app.js", 0, 100);
	b[1] = mk(4, 31, 99, "GET /lost", 10, 20);
	b[2] = mk(4, 32, 31, "write", 12, 14);
	b[3] = mk(4, 33, 34, "loop a", 50, 150);
	b[4] = mk(4, 34, 33, "loop b", 60, 70);
	out = console_run(false, b);
	assert_string_equal(out,
		"trace 04040404040404040404040404040404  node app.js  0.100s\n"
		"  node app.js                                                               +   0.000s    0.100s |########################|\n"
		"  (parent not in this group)\n"
		"    GET /lost                                                               +   0.010s    0.010s |..##....................|\n"
		"      write                                                                 +   0.012s    0.002s |..#.....................|\n"
		"    loop a                                                                  +   0.050s    0.100s |........................|\n"
		"      loop b                                                                +   0.060s    0.010s |..............##........|\n");
	free(out);
}

static void test_console_color(void **state)
{
	static const char red[] = "    \033[31mGET /health" "                               " "\033[0m 503 ";
	struct sp_span *b[6] = {};
	char *out;

	trace_3_levels(b);
	out = console_run(true, b);
	assert_non_null(strstr(out, red));
	/* only the failed span is red */
	assert_ptr_equal(strchr(out, '\033'), strstr(out, red) + 4);
	assert_null(strchr(strstr(out, red) + strlen(red), '\033'));
	free(out);

	setenv("NO_COLOR", "1", 1);
	out = console_run(true, b);
	assert_string_equal(out, tree_3_levels);
	free(out);

	setenv("NO_COLOR", "", 1);	/* empty: as if unset */
	out = console_run(true, b);
	assert_non_null(strstr(out, red));
	free(out);
	unsetenv("NO_COLOR");
}

/* Bytes from the wire never reach the terminal as escapes. */
static void test_console_controls(void **state)
{
	struct sp_span *b[3] = {};
	char *out;

	b[0] = mk(5, 1, 0, "GET /\033[2Jx\xc2\x9b", 0, 10);
	out = console_run(false, b);
	assert_null(strchr(out, '\033'));
	assert_null(strstr(out, "\xc2\x9b"));
	assert_non_null(strstr(out, "  GET /?[2Jx? "));
	free(out);
}

/* A group larger than the scratch space: every span once, each under its
 * parent, spans deeper than the indent limit included. */
static void test_console_large_group(void **state)
{
	enum { N = 1500, CHAIN = 60 };
	struct sp_span **b = calloc(N + 2, sizeof(*b));
	char name[32], *out, *line;
	int seen[N] = {}, lines = 0;

	assert_non_null(b);
	/* span k (1-based id k): a chain for the first CHAIN, then fanned out */
	for (int k = 1; k <= N; k++) {
		int parent = k == 1 ? 0 : k <= CHAIN ? k - 1 : 1 + (k * 7919) % (k - 1);

		snprintf(name, sizeof(name), "s%d", k);
		b[N - k] = mk(6, k, parent, name, k, 2 * N);	/* last first */
	}
	out = console_run(false, b);
	for (line = strtok(out, "\n"); line; line = strtok(NULL, "\n"), lines++) {
		int k;

		if (!lines)
			continue;	/* the header */
		assert_int_equal(sscanf(line + strspn(line, " "), "s%d ", &k), 1);
		assert_true(k >= 1 && k <= N);
		seen[k - 1]++;
	}
	assert_int_equal(lines, N + 1);
	for (int k = 0; k < N; k++)
		assert_int_equal(seen[k], 1);
	free(out);
	free(b);
}

/* ---- statistics lines ---- */

static char captured[8192];
static int saved_fd = -1, capture_fd = -1;

/* stderr into a pipe (a file would fall under the test's RLIMIT_FSIZE);
 * what is captured must fit the pipe's 64 KiB */
static void capture_begin(void)
{
	int p[2];

	fflush(stderr);
	assert_int_equal(pipe(p), 0);
	saved_fd = dup(STDERR_FILENO);
	assert_true(saved_fd >= 0);
	assert_true(dup2(p[1], STDERR_FILENO) >= 0);
	close(p[1]);
	capture_fd = p[0];
}

static const char *capture_end(void)
{
	size_t n = 0;
	ssize_t r;

	fflush(stderr);
	dup2(saved_fd, STDERR_FILENO);	/* the pipe's last writer goes: EOF */
	close(saved_fd);
	while (n < sizeof(captured) - 1 &&
	       (r = read(capture_fd, captured + n, sizeof(captured) - 1 - n)) > 0)
		n += r;
	captured[n] = 0;
	close(capture_fd);
	return captured;
}

static int noop_export(struct sp_exporter *e, struct sp_span *const *spans, size_t n)
{
	return 0;
}

static void test_stats_generic(void **state)
{
	struct sp_exporter e = { .name = "mysink", .export = noop_export };

	capture_begin();
	e.stats.spans_exported = 7;
	sp_exporter__log_stats(&e, SP_LOG_INFO, true);	/* nothing lost: silent */
	e.stats.spans_dropped = 2;
	e.stats.errors = 1;
	sp_exporter__log_stats(&e, SP_LOG_INFO, true);
	assert_string_equal(capture_end(), "spanprobe: warning: mysink sink: 7 spans exported, "
					   "2 dropped, 1 errors\n");
}

static void test_stats_console(void **state)
{
	struct sp_span *b[8] = {};
	FILE *out = fopen("/dev/null", "w");
	struct sp_exporter *e = sp_console_exporter__new(out, false);
	int level = sp_log_level;

	trace_3_levels(b);
	b[4] = mk(2, 11, 10, "GET /a", 200, 300);
	b[4]->trace_partial = true;
	assert_int_equal(e->export(e, b, 5), 0);
	capture_begin();
	sp_exporter__log_stats(e, SP_LOG_INFO, true);	/* the counts are for -v */
	sp_log_level = SP_LOG_DEBUG;
	sp_exporter__log_stats(e, SP_LOG_INFO, true);
	sp_log_level = level;
	assert_string_equal(capture_end(),
			    "spanprobe: debug: console: 2 trace groups printed (1 partial), 5 spans, "
			    "1 without their parent in the group; 0 write errors, 0 spans dropped\n");
	sp_exporter__free(e);
	fclose(out);
}

/* ---- the file sink ---- */

static char dir[64];

static int file_setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/sp-test-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return setup(state);
}

static int file_teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return teardown(state);
}

/* The spanId values of one line's spans, in order, as "id,id," */
static void line_span_ids(const char *line, char *ids, size_t cap)
{
	const char *rs_path[] = { "resourceSpans", NULL };
	const char *ss_path[] = { "scopeSpans", NULL };
	const char *sp_path[] = { "spans", NULL };
	const char *id_path[] = { "spanId", NULL };
	yajl_val root = yajl_tree_parse(line, NULL, 0), rs, ss, spans;

	assert_non_null(root);
	rs = yajl_tree_get(root, rs_path, yajl_t_array);
	assert_non_null(rs);
	assert_int_equal(YAJL_GET_ARRAY(rs)->len, 1);
	ss = yajl_tree_get(YAJL_GET_ARRAY(rs)->values[0], ss_path, yajl_t_array);
	assert_non_null(ss);
	spans = yajl_tree_get(YAJL_GET_ARRAY(ss)->values[0], sp_path, yajl_t_array);
	assert_non_null(spans);
	ids[0] = 0;
	for (size_t i = 0; i < YAJL_GET_ARRAY(spans)->len; i++) {
		yajl_val id = yajl_tree_get(YAJL_GET_ARRAY(spans)->values[i], id_path,
					    yajl_t_string);

		assert_non_null(id);
		snprintf(ids + strlen(ids), cap - strlen(ids), "%s,", YAJL_GET_STRING(id));
	}
	yajl_tree_free(root);
}

static void test_file_lines_and_mode(void **state)
{
	struct sp_span *s[3];
	char path[128], line[65536], ids[128];
	struct sp_exporter *e;
	struct stat st;
	mode_t mask = umask(0);	/* the sink, not the umask, makes it 0600 */
	FILE *f;
	int fd;

	s[0] = mk(1, 1, 0, "a", 0, 10);
	s[1] = mk(1, 2, 1, "b", 1, 2);
	s[2] = mk(2, 3, 0, "c", 5, 6);
	snprintf(path, sizeof(path), "%s/spans.jsonl", dir);
	/* a file someone left world-readable is made owner-only */
	fd = open(path, O_WRONLY | O_CREAT, 0666);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "old\n", 4), 4);
	close(fd);
	e = sp_file_exporter__new(path);
	umask(mask);
	assert_non_null(e);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(e->export(e, s, 2), 0);
	assert_int_equal(e->export(e, s + 2, 1), 0);
	assert_int_equal(e->export(e, s, 0), 0);	/* no spans, no line */
	assert_int_equal(e->flush(e), 0);

	capture_begin();
	sp_exporter__log_stats(e, SP_LOG_INFO, true);
	snprintf(line, sizeof(line), "spanprobe: file: 3 spans written to %s, 0 write errors, "
				     "0 spans dropped\n", path);
	assert_string_equal(capture_end(), line);
	sp_exporter__free(e);

	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));	/* the old content is gone */
	line_span_ids(line, ids, sizeof(ids));
	assert_string_equal(ids, "0000000000000001,0000000000000002,");
	assert_non_null(fgets(line, sizeof(line), f));
	line_span_ids(line, ids, sizeof(ids));
	assert_string_equal(ids, "0000000000000003,");
	assert_null(fgets(line, sizeof(line), f));
	fclose(f);
}

/* A trace group bigger than a request: one line per SP_EXPORT_SLICE
 * spans, every span once, in order. */
static void test_file_slices_big_groups(void **state)
{
	enum { N = 2 * SP_EXPORT_SLICE + 7 };
	static struct sp_span *s[N];
	static char line[4 << 20];
	char path[128], want[32];
	struct sp_exporter *e;
	size_t lines = 0, seen = 0;
	FILE *f;

	for (int i = 0; i < N; i++)
		s[i] = mk(1, i + 1, i ? 1 : 0, "x", i, i + 1);
	snprintf(path, sizeof(path), "%s/big.jsonl", dir);
	e = sp_file_exporter__new(path);
	assert_non_null(e);
	assert_int_equal(e->export(e, s, N), 0);
	sp_exporter__free(e);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		size_t n = 0;

		for (const char *p = line; (p = strstr(p, "\"spanId\":\"")); p++, n++) {
			snprintf(want, sizeof(want), "\"spanId\":\"%016zx\"", seen + 1);
			assert_memory_equal(p, want, strlen(want));
			seen++;
		}
		assert_true(n <= SP_EXPORT_SLICE);
		lines++;
	}
	fclose(f);
	assert_int_equal(lines, 3);
	assert_int_equal(seen, N);
}

static void test_file_refuses_symlink(void **state)
{
	char target[128], link[128];
	struct stat st;
	int level = sp_log_level, fd;

	snprintf(target, sizeof(target), "%s/precious", dir);
	snprintf(link, sizeof(link), "%s/spans.jsonl", dir);
	fd = open(target, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep", 4), 4);
	assert_int_equal(fchmod(fd, 0644), 0);
	close(fd);
	assert_int_equal(symlink(target, link), 0);
	sp_log_level = -1;	/* the error line is expected */
	errno = 0;
	assert_null(sp_file_exporter__new(link));
	assert_int_equal(errno, ELOOP);
	sp_log_level = level;
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(st.st_size, 4);	/* not truncated */
	assert_int_equal(st.st_mode & 07777, 0644);	/* not chmod'ed */
}

/* A write that fails (the file-size limit) is counted and warned about. */
static void test_file_write_error(void **state)
{
	struct rlimit old, lim;
	struct sp_span *s[1];
	char path[128], want[512];
	struct sp_exporter *e;
	const char *got;

	s[0] = mk(1, 1, 0, "a", 0, 10);
	snprintf(path, sizeof(path), "%s/small.jsonl", dir);
	e = sp_file_exporter__new(path);
	assert_non_null(e);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 64;	/* less than one line */
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	capture_begin();
	assert_int_equal(e->export(e, s, 1), -EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	sp_exporter__log_stats(e, SP_LOG_INFO, true);
	got = capture_end();
	snprintf(want, sizeof(want),
		 "spanprobe: error: cannot write spans to %s: File too large\n"
		 "spanprobe: warning: file: 0 spans written to %s, 1 write errors, 1 spans dropped\n",
		 path, path);
	assert_string_equal(got, want);
	signal(SIGXFSZ, SIG_DFL);
	sp_exporter__free(e);
}

/* ---- the OTLP sink's line, as users and the integration tests read it ---- */

static const char *no_env(const char *name)
{
	return NULL;
}

/* The line of the given prefix in text, copied (NUL-terminated) to out. */
static bool find_line(const char *text, const char *prefix, int nth, char *out, size_t cap)
{
	for (const char *p = text; *p; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] != 0)) {
		if (strncmp(p, prefix, strlen(prefix)) || nth--)
			continue;
		snprintf(out, cap, "%.*s", (int)strcspn(p, "\n"), p);
		return true;
	}
	return false;
}

static void test_stats_otlp(void **state)
{
	/* port 1 on loopback: nothing listens, every attempt is refused */
	struct sp_otlp_flags f = { .endpoint = "http://127.0.0.1:1" };
	static const char head[] = "spanprobe: OTLP: 0 spans exported, ";
	static const char tail[] =
		" requests retried, 3 spans dropped (queue full or flush deadline), 0 rejected by "
		"the backend, 0 in refused requests, 0 still queued";
	struct sp_otlp_config cfg;
	struct sp_span *s[3];
	struct sp_exporter *e;
	char line[512];
	const char *got, *mid;

	for (int i = 0; i < 3; i++)
		s[i] = mk(1, i + 1, i, "x", i, 10);
	assert_int_equal(sp_otlp_config_load(&cfg, &f, no_env), 0);
	cfg.flush_timeout_ms = 100;
	/* the sender thread's warnings land here too: one window for all */
	capture_begin();
	e = sp_otlp_exporter__new(&cfg);
	assert_non_null(e);
	assert_int_equal(e->export(e, s, 3), 0);
	sp_exporter__log_stats(e, SP_LOG_INFO, false);
	assert_int_equal(e->flush(e), 0);	/* the deadline drops all three */
	sp_exporter__log_stats(e, SP_LOG_INFO, true);
	sp_exporter__free(e);
	got = capture_end();

	/* before the flush: all three queued or in flight */
	assert_true(find_line(got, "spanprobe: OTLP: ", 0, line, sizeof(line)));
	assert_int_equal(strncmp(line, head, strlen(head)), 0);
	assert_non_null(strstr(line, " 0 in refused requests, 3 still queued"));
	assert_true(find_line(got, "spanprobe: OTLP: ", 1, line, sizeof(line)));
	assert_int_equal(strncmp(line, head, strlen(head)), 0);
	mid = line + strlen(head);
	assert_true(strspn(mid, "0123456789") > 0);	/* some number of retries */
	assert_string_equal(mid + strspn(mid, "0123456789"), tail);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_console_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_console_partial_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_console_orphans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_console_color, setup, teardown),
		cmocka_unit_test_setup_teardown(test_console_controls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_console_large_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_generic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_console, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_lines_and_mode, file_setup, file_teardown),
		cmocka_unit_test_setup_teardown(test_file_slices_big_groups, file_setup, file_teardown),
		cmocka_unit_test_setup_teardown(test_file_refuses_symlink, file_setup, file_teardown),
		cmocka_unit_test_setup_teardown(test_file_write_error, file_setup, file_teardown),
		cmocka_unit_test_setup_teardown(test_stats_otlp, setup, teardown),
	};

	return cmocka_run_group_tests_name("exporters", tests, NULL, NULL);
}
