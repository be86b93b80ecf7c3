// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * spanprobe report's engine on spans written by hand as OTLP/JSON lines:
 * percentiles, trees, de-duplication, think/act, error propagation, the
 * Chrome trace and report JSON (parsed back), the reader's bad input.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <yajl/yajl_tree.h>
#include <zlib.h>
#include "report/report.h"
#include "util/log.h"

#define T0 1764662400000000000ull
#define MS 1000000ull
#define TR "4bf92f3577b34da6a3ce929d0e0e4736"

/* one span, the way exporters/otlp_json.c writes it; attrs: extra
 * attribute JSON ("" for none) */
static void add(struct sp_rmodel *m, const char *trace, const char *id, const char *parent,
		const char *name, unsigned start_ms, unsigned end_ms, int status, const char *attrs)
{
	char line[4096];

	snprintf(line, sizeof(line),
		 "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"process.pid\","
		 "\"value\":{\"intValue\":\"42\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"s\"},"
		 "\"spans\":[{\"traceId\":\"%s\",\"spanId\":\"%s\"%s%s%s,\"name\":\"%s\",\"kind\":1,"
		 "\"startTimeUnixNano\":\"%llu\",\"endTimeUnixNano\":\"%llu\",\"attributes\":[%s],"
		 "\"status\":{\"code\":%d}}]}]}]}",
		 trace, id, parent ? ",\"parentSpanId\":\"" : "", parent ? parent : "",
		 parent ? "\"" : "", name, T0 + start_ms * MS, T0 + end_ms * MS, attrs, status);
	assert_int_equal(sp_report_read_line(m, line, strlen(line), "t.jsonl", 1), 0);
}

#define LLM "{\"key\":\"gen_ai.operation.name\",\"value\":{\"stringValue\":\"chat\"}}," \
	    "{\"key\":\"gen_ai.request.model\",\"value\":{\"stringValue\":\"gpt-4o\"}}," \
	    "{\"key\":\"gen_ai.usage.input_tokens\",\"value\":{\"intValue\":\"100\"}}," \
	    "{\"key\":\"gen_ai.usage.output_tokens\",\"value\":{\"intValue\":\"20\"}}," \
	    "{\"key\":\"llm.cost.total\",\"value\":{\"doubleValue\":0.5}}"
#define TOOL "{\"key\":\"gen_ai.operation.name\",\"value\":{\"stringValue\":\"execute_tool\"}}," \
	     "{\"key\":\"gen_ai.tool.name\",\"value\":{\"stringValue\":\"ls\"}}"

static struct sp_report_opts opts = { .top = 10 };

static void test_percentiles(void **state)
{
	uint64_t one[] = { 7 }, two[] = { 10, 20 }, three[] = { 1, 2, 3 }, h[100];

	(void)state;
	for (int i = 0; i < 100; i++)
		h[i] = i + 1;
	assert_int_equal(sp_percentile(NULL, 0, 50), 0);	/* n=0: no value */
	assert_int_equal(sp_percentile(one, 1, 50), 7);
	assert_int_equal(sp_percentile(one, 1, 99), 7);
	/* n=2: rank ceil(0.5*2)=1 -> 10; ceil(0.95*2)=2 -> 20 */
	assert_int_equal(sp_percentile(two, 2, 50), 10);
	assert_int_equal(sp_percentile(two, 2, 95), 20);
	/* n=3: ceil(1.5)=2 -> 2; ceil(2.85)=3 -> 3 */
	assert_int_equal(sp_percentile(three, 3, 50), 2);
	assert_int_equal(sp_percentile(three, 3, 95), 3);
	assert_int_equal(sp_percentile(three, 3, 0), 1);
	/* n=100, 1..100: pN is N */
	assert_int_equal(sp_percentile(h, 100, 50), 50);
	assert_int_equal(sp_percentile(h, 100, 95), 95);
	assert_int_equal(sp_percentile(h, 100, 99), 99);
	assert_int_equal(sp_percentile(h, 100, 100), 100);
}

static void test_tree_orphans_dups(void **state)
{
	struct sp_rmodel m;
	struct sp_rtrace *t;

	(void)state;
	sp_rmodel_init(&m);
	/* out of order: the child before its parent; one orphan; a dup */
	add(&m, TR, "00000000000000b1", "00000000000000a1", "child", 10, 20, 0, "");
	add(&m, TR, "00000000000000c1", "00000000000000ff", "orphan", 30, 40, 0, "");
	add(&m, TR, "00000000000000a1", NULL, "root", 0, 100, 0, "");
	add(&m, TR, "00000000000000b1", "00000000000000a1", "child", 10, 20, 0, "");
	add(&m, TR, "00000000000000b2", "00000000000000a1", "child2", 5, 8, 0, "");
	assert_int_equal(sp_rmodel_build(&m, &opts), 0);
	assert_int_equal(m.n, 4);
	assert_int_equal(m.duplicates, 1);
	assert_int_equal(m.orphans, 1);
	assert_int_equal(m.ntraces, 1);
	t = &m.traces[0];
	assert_string_equal(t->root->name, "root");
	assert_int_equal(t->root->nkids, 2);
	assert_string_equal(t->root->kids[0]->name, "child2");	/* by start */
	assert_string_equal(t->root->kids[1]->name, "child");
	assert_string_equal(t->spans[0]->name, "root");
	for (unsigned i = 0; i < t->n; i++)
		if (!strcmp(t->spans[i]->name, "orphan"))
			assert_true(t->spans[i]->orphan && !t->spans[i]->up);
	assert_int_equal(t->end - t->start, 100 * MS);
	sp_rmodel_free(&m);
}

static void test_parent_cycle(void **state)
{
	struct sp_rmodel m;
	FILE *f = tmpfile();

	(void)state;
	sp_rmodel_init(&m);
	add(&m, TR, "00000000000000a1", "00000000000000a2", "a", 0, 10, 0, "");
	add(&m, TR, "00000000000000a2", "00000000000000a1", "b", 0, 10, 0, "");
	assert_int_equal(sp_rmodel_build(&m, &opts), 0);
	assert_int_equal(m.orphans, 1);	/* the first span walked is cut: the other hangs under it */
	assert_int_equal(sp_report_text(f, &m, &opts), 0);	/* ends */
	fclose(f);
	sp_rmodel_free(&m);
}

static void test_think_act_overlap(void **state)
{
	struct sp_rmodel m;
	struct sp_rtrace *t;

	(void)state;
	sp_rmodel_init(&m);
	add(&m, TR, "00000000000000a1", NULL, "agent", 0, 100, 0, "");
	/* LLM 10-30 and 20-40 overlap: think = 10..40 = 30 */
	add(&m, TR, "00000000000000b1", "00000000000000a1", "chat gpt-4o", 10, 30, 0, LLM);
	add(&m, TR, "00000000000000b2", "00000000000000a1", "chat gpt-4o", 20, 40, 0, LLM);
	/* tool 35-60 overlaps think 35-40: act counts 40-60 = 20; tool 70-80: 10 */
	add(&m, TR, "00000000000000c1", "00000000000000a1", "execute_tool ls", 35, 60, 0, TOOL);
	add(&m, TR, "00000000000000c2", "00000000000000a1", "execute_tool ls", 70, 80, 0, TOOL);
	/* a subprocess inside the second tool: counted once */
	add(&m, TR, "00000000000000d1", "00000000000000c2", "ls", 72, 78, 0,
	    "{\"key\":\"process.exit.code\",\"value\":{\"intValue\":\"0\"}}");
	assert_int_equal(sp_rmodel_build(&m, &opts), 0);
	t = &m.traces[0];
	assert_int_equal(t->think_ns, 30 * MS);
	assert_int_equal(t->act_ns, 30 * MS);
	assert_int_equal(t->other_ns, 40 * MS);
	assert_int_equal(t->llm_calls, 2);
	assert_int_equal(t->tool_calls, 2);	/* the subprocess is under a tool */
	assert_int_equal(t->in_tok, 200);
	assert_int_equal(t->out_tok, 40);
	assert_true(t->cost > 0.99 && t->cost < 1.01);
	sp_rmodel_free(&m);
}

static void test_propagation(void **state)
{
	struct sp_rmodel m;
	struct sp_rprop p;

	(void)state;
	sp_rmodel_init(&m);
	add(&m, TR, "00000000000000a1", NULL, "agent", 0, 100, 2, "");
	add(&m, TR, "00000000000000b1", "00000000000000a1", "step", 5, 90, 2, "");
	add(&m, TR, "00000000000000c1", "00000000000000b1", "POST /v1", 10, 20, 2, "");
	add(&m, TR, "00000000000000c2", "00000000000000b1", "POST /v1", 25, 30, 2,
	    "{\"key\":\"http.request.resend_count\",\"value\":{\"intValue\":\"1\"}}");
	add(&m, TR, "00000000000000c3", "00000000000000b1", "POST /v2", 35, 40, 0, "");
	add(&m, TR, "00000000000000c4", "00000000000000b1", "parse", 45, 50, 2,
	    "{\"key\":\"x\",\"value\":{\"boolValue\":true}}");
	add(&m, TR, "00000000000000c0", "00000000000000b1", "before", 1, 6, 0, "");
	assert_int_equal(sp_rmodel_build(&m, &opts), 0);
	assert_int_equal(sp_rprop_build(&m.traces[0], &p), 0);
	assert_non_null(p.first);
	assert_string_equal(p.first->id, "00000000000000c1");	/* ended first */
	assert_int_equal(p.end_status, 2);
	assert_int_equal(p.n, 5);
	/* start order: agent and step (ancestors, propagated), then c2 c3 c4 */
	assert_string_equal(p.steps[0].s->name, "agent");
	assert_int_equal(p.steps[0].fate, SP_RF_PROPAGATED);
	assert_int_equal(p.steps[1].fate, SP_RF_PROPAGATED);
	assert_string_equal(p.steps[2].s->id, "00000000000000c2");
	assert_int_equal(p.steps[2].fate, SP_RF_RETRY);
	assert_int_equal(p.steps[3].fate, SP_RF_FALLBACK);
	assert_int_equal(p.steps[4].fate, SP_RF_FAILED);
	sp_rprop_free(&p);
	sp_rmodel_free(&m);
}

static yajl_val parse_file(FILE *f)
{
	static char buf[1 << 16];
	char err[128];
	size_t n;

	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	return yajl_tree_parse(buf, err, sizeof(err));
}

static void test_perfetto_and_json(void **state)
{
	struct sp_rmodel m;
	FILE *f = tmpfile();
	yajl_val v, ev, x;
	const char *p_events[] = { "traceEvents", NULL };
	unsigned nx = 0, nmeta = 0;

	(void)state;
	sp_rmodel_init(&m);
	add(&m, TR, "00000000000000a1", NULL, "agent", 0, 100, 0, "");
	add(&m, TR, "00000000000000b1", "00000000000000a1", "chat gpt-4o", 10, 30, 0, LLM);
	assert_int_equal(sp_rmodel_build(&m, &opts), 0);
	assert_int_equal(sp_report_perfetto(f, &m), 0);
	v = parse_file(f);
	assert_non_null(v);
	ev = yajl_tree_get(v, p_events, yajl_t_array);
	assert_non_null(ev);
	for (size_t i = 0; i < ev->u.array.len; i++) {
		yajl_val e = ev->u.array.values[i];
		const char *ph[] = { "ph", NULL }, *nm[] = { "name", NULL }, *ts[] = { "ts", NULL },
			   *dur[] = { "dur", NULL }, *pid[] = { "pid", NULL },
			   *model[] = { "args", "gen_ai.request.model", NULL };
		const char *phs = YAJL_GET_STRING(yajl_tree_get(e, ph, yajl_t_string));

		assert_int_equal(YAJL_GET_INTEGER(yajl_tree_get(e, pid, yajl_t_number)), 42);
		if (!strcmp(phs, "M")) {
			nmeta++;
			continue;
		}
		assert_string_equal(phs, "X");
		x = yajl_tree_get(e, nm, yajl_t_string);
		assert_non_null(x);
		if (!strcmp(x->u.string, "chat gpt-4o")) {
			assert_true(YAJL_GET_DOUBLE(yajl_tree_get(e, ts, yajl_t_number)) == 10000.0);
			assert_true(YAJL_GET_DOUBLE(yajl_tree_get(e, dur, yajl_t_number)) == 20000.0);
			assert_string_equal(YAJL_GET_STRING(yajl_tree_get(e, model, yajl_t_string)),
					    "gpt-4o");
		}
		nx++;
	}
	assert_int_equal(nx, 2);
	assert_int_equal(nmeta, 2);	/* process_name, thread_name */
	yajl_tree_free(v);
	fclose(f);

	f = tmpfile();
	assert_int_equal(sp_report_json(f, &m, &opts), 0);
	v = parse_file(f);
	assert_non_null(v);
	{
		const char *think[] = { "traces", NULL }, *tot[] = { "totals", "llm_calls", NULL },
			   *sp[] = { "spans", NULL }, *ops[] = { "operations", NULL };
		yajl_val tr = yajl_tree_get(v, think, yajl_t_array), s, o;
		const char *th[] = { "think_ns", NULL }, *cl[] = { "class", NULL },
			   *st[] = { "start", NULL }, *op[] = { "op", NULL },
			   *p50[] = { "p50_ns", NULL };

		assert_int_equal(tr->u.array.len, 1);
		assert_string_equal(YAJL_GET_STRING(yajl_tree_get(tr->u.array.values[0], th,
								  yajl_t_string)), "20000000");
		assert_int_equal(YAJL_GET_INTEGER(yajl_tree_get(v, tot, yajl_t_number)), 1);
		s = yajl_tree_get(v, sp, yajl_t_array);
		assert_int_equal(s->u.array.len, 2);
		assert_string_equal(YAJL_GET_STRING(yajl_tree_get(s->u.array.values[1], cl,
								  yajl_t_string)), "llm");
		assert_string_equal(YAJL_GET_STRING(yajl_tree_get(s->u.array.values[1], st,
								  yajl_t_string)),
				    "1764662400010000000");
		o = yajl_tree_get(v, ops, yajl_t_array);
		assert_int_equal(o->u.array.len, 2);
		assert_string_equal(YAJL_GET_STRING(yajl_tree_get(o->u.array.values[1], op,
								  yajl_t_string)), "model gpt-4o");
		assert_string_equal(YAJL_GET_STRING(yajl_tree_get(o->u.array.values[1], p50,
								  yajl_t_string)), "20000000");
	}
	yajl_tree_free(v);
	fclose(f);
	sp_rmodel_free(&m);
}

/* the tid of the X event named name */
static long long tid_of(yajl_val ev, const char *name)
{
	const char *nm[] = { "name", NULL }, *ph[] = { "ph", NULL }, *tid[] = { "tid", NULL };

	for (size_t i = 0; i < ev->u.array.len; i++) {
		yajl_val e = ev->u.array.values[i], x = yajl_tree_get(e, nm, yajl_t_string);

		if (x && !strcmp(x->u.string, name) &&
		    !strcmp(yajl_tree_get(e, ph, yajl_t_string)->u.string, "X"))
			return YAJL_GET_INTEGER(yajl_tree_get(e, tid, yajl_t_number));
	}
	fail_msg("no X event %s", name);
	return -1;
}

static void test_perfetto_lanes(void **state)
{
	struct sp_rmodel m;
	FILE *f = tmpfile();
	const char *p_events[] = { "traceEvents", NULL };
	yajl_val v, ev;

	(void)state;
	sp_rmodel_init(&m);
	/* a and b overlap without nesting; c nests in a; d after both */
	add(&m, TR, "00000000000000a1", NULL, "a", 0, 50, 0, "");
	add(&m, TR, "00000000000000b1", NULL, "b", 40, 90, 0, "");
	add(&m, TR, "00000000000000c1", "00000000000000a1", "c", 10, 20, 0, "");
	add(&m, TR, "00000000000000d1", NULL, "d", 95, 99, 0, "");
	assert_int_equal(sp_rmodel_build(&m, &opts), 0);
	assert_int_equal(sp_report_perfetto(f, &m), 0);
	v = parse_file(f);
	assert_non_null(v);
	ev = yajl_tree_get(v, p_events, yajl_t_array);
	assert_int_equal(tid_of(ev, "a"), 42);
	assert_int_equal(tid_of(ev, "c"), 42);
	assert_int_equal(tid_of(ev, "d"), 42);
	assert_int_equal(tid_of(ev, "b"), 42 + 10000000);
	yajl_tree_free(v);
	fclose(f);
	sp_rmodel_free(&m);
}

/* a Collector file exporter's line: kind and status by name, bare numbers,
 * upper-case hex */
static const char collector_line[] =
	"{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
	"\"value\":{\"stringValue\":\"svc\"}}]},\"scopeSpans\":[{\"scope\":{},\"spans\":[{"
	"\"traceId\":\"4BF92F3577B34DA6A3CE929D0E0E4736\",\"spanId\":\"00F067AA0BA902B7\","
	"\"name\":\"GET /\",\"kind\":\"SPAN_KIND_CLIENT\",\"startTimeUnixNano\":1764662400000000000,"
	"\"endTimeUnixNano\":\"1764662400500000000\",\"attributes\":[{\"key\":\"n\",\"value\":"
	"{\"intValue\":5}},{\"key\":\"a\",\"value\":{\"arrayValue\":{\"values\":[{\"stringValue\":"
	"\"x\"},{\"stringValue\":\"y\"}]}}}],\"status\":{\"code\":\"STATUS_CODE_ERROR\","
	"\"message\":\"boom\"}}]}]}]}";

static void test_reader_files(void **state)
{
	char plain[] = "/tmp/test_report_XXXXXX", gz[] = "/tmp/test_report_gz_XXXXXX";
	int fd = mkstemp(plain), fd2 = mkstemp(gz);
	struct sp_rmodel m;
	struct sp_rfilter f;
	char fa[] = "a=y";
	FILE *fp;
	gzFile g;
	const struct sp_rattr *a;

	(void)state;
	assert_true(fd >= 0 && fd2 >= 0);
	close(fd2);
	fp = fdopen(fd, "w");
	/* a good line, garbage, JSON that is not OTLP, a truncated last line */
	fprintf(fp, "%s\nnot json at all\n{\"foo\":1}\n", collector_line);
	fwrite(collector_line, 1, 100, fp);
	fclose(fp);
	sp_rmodel_init(&m);
	assert_int_equal(sp_report_read(&m, plain), 0);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.bad_lines, 3);
	assert_int_equal(m.lines, 4);
	assert_string_equal(m.spans[0]->trace, "4bf92f3577b34da6a3ce929d0e0e4736");
	assert_int_equal(m.spans[0]->kind, 3);
	assert_int_equal(m.spans[0]->status, 2);
	assert_string_equal(m.spans[0]->status_msg, "boom");
	assert_int_equal(m.spans[0]->start, 1764662400000000000ull);
	a = sp_rattrs_get(&m.spans[0]->attrs, "n");
	assert_true(a && a->t == SP_RA_INT && a->i == 5);
	assert_int_equal(sp_rfilter_parse(&f, fa), 0);
	assert_true(sp_rfilter_match(&f, m.spans[0]));	/* an array holds y */

	/* the same span gzip'd: read, then de-duplicated */
	g = gzopen(gz, "wb");
	gzprintf(g, "%s\n", collector_line);
	gzclose(g);
	assert_int_equal(sp_report_read(&m, gz), 0);
	assert_int_equal(m.n, 2);
	assert_int_equal(sp_rmodel_build(&m, &opts), 0);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.duplicates, 1);
	assert_int_equal(m.traces[0].errors, 1);
	sp_rmodel_free(&m);
	assert_int_equal(sp_report_read(&m, "/nonexistent/x.jsonl"), -ENOENT);
	unlink(plain);
	unlink(gz);
}

static void test_filters(void **state)
{
	struct sp_rmodel m;
	struct sp_report_opts o = { .top = 10, .nfilters = 1 };
	char fs[] = "gen_ai.request.model=gpt-4o";

	(void)state;
	sp_rmodel_init(&m);
	assert_int_equal(sp_rfilter_parse(&o.filters[0], fs), 0);
	add(&m, TR, "00000000000000a1", NULL, "agent", 0, 100, 0, "");
	add(&m, TR, "00000000000000b1", "00000000000000a1", "chat gpt-4o", 10, 30, 0, LLM);
	add(&m, "00000000000000000000000000000002", "00000000000000a2", NULL, "other", 0, 10, 0,
	    "");
	assert_int_equal(sp_rmodel_build(&m, &o), 0);
	assert_int_equal(o.filters[0].matched, 1);
	assert_int_equal(m.ntraces, 2);
	assert_int_equal(m.traces[0].nselected + m.traces[1].nselected, 1);
	sp_rmodel_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_percentiles),
		cmocka_unit_test(test_tree_orphans_dups),
		cmocka_unit_test(test_parent_cycle),
		cmocka_unit_test(test_think_act_overlap),
		cmocka_unit_test(test_propagation),
		cmocka_unit_test(test_perfetto_and_json),
		cmocka_unit_test(test_perfetto_lanes),
		cmocka_unit_test(test_reader_files),
		cmocka_unit_test(test_filters),
	};

	sp_log_level = SP_LOG_ERROR;
	return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
