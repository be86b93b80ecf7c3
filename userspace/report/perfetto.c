// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Chrome trace-event format (the "JSON Object Format" of the Trace
 * Event Format document): {"traceEvents":[...]} with one "X" (complete)
 * event per span, ts and dur in microseconds from the earliest span, pid
 * the resource's process.pid and tid the span's thread.id (else the pid),
 * "M" metadata events naming them, args the attributes. Perfetto's UI and
 * chrome://tracing both open it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include "report/report.h"
#include "report/sums.h"

#define STR(g, s) yajl_gen_string(g, (const unsigned char *)(s), strlen(s))

static long long span_pid(const struct sp_rspan *s)
{
	double v;

	if (s->res && sp_rattrs_num(&s->res->attrs, "process.pid", &v))
		return (long long)v;
	if (sp_rattrs_num(&s->attrs, "process.pid", &v))
		return (long long)v;
	return 0;
}

static long long span_tid(const struct sp_rspan *s, long long pid)
{
	double v;

	return sp_rattrs_num(&s->attrs, "thread.id", &v) ? (long long)v : pid;
}

static void gen_args(yajl_gen g, const struct sp_rspan *s)
{
	STR(g, "args");
	yajl_gen_map_open(g);
	STR(g, "trace_id");
	STR(g, s->trace);
	STR(g, "span_id");
	STR(g, s->id);
	if (s->parent[0]) {
		STR(g, "parent_span_id");
		STR(g, s->parent);
	}
	STR(g, "status");
	STR(g, sp_rstatus_name(s->status));
	sp_rjson_attr_values(g, &s->attrs);
	yajl_gen_map_close(g);
}

static void meta(yajl_gen g, const char *what, long long pid, long long tid, const char *name)
{
	yajl_gen_map_open(g);
	STR(g, "name");
	STR(g, what);
	STR(g, "ph");
	STR(g, "M");
	STR(g, "pid");
	yajl_gen_integer(g, pid);
	STR(g, "tid");
	yajl_gen_integer(g, tid);
	STR(g, "args");
	yajl_gen_map_open(g);
	STR(g, "name");
	STR(g, name);
	yajl_gen_map_close(g);
	yajl_gen_map_close(g);
}

int sp_report_perfetto(FILE *out, const struct sp_rmodel *m)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	uint64_t t0 = UINT64_MAX;
	long long *seen = calloc(2 * m->n + 2, sizeof(*seen));
	size_t nseen = 0, len;
	const unsigned char *buf;
	int err = 0;

	if (!g || !seen) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < m->n; i++)
		if (m->spans[i]->tr->nselected && m->spans[i]->start < t0)
			t0 = m->spans[i]->start;
	yajl_gen_map_open(g);
	STR(g, "displayTimeUnit");
	STR(g, "ms");
	STR(g, "traceEvents");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < m->n; i++) {
		const struct sp_rspan *s = m->spans[i];
		long long pid = span_pid(s), tid = span_tid(s, pid);
		bool pnew = true, tnew = true;
		char name[300];

		if (!s->tr->nselected)
			continue;
		/* a linear scan over the tracks met so far: few processes */
		for (size_t k = 0; k < nseen; k += 2) {
			if (seen[k] == pid) {
				pnew = false;
				if (seen[k + 1] == tid)
					tnew = false;
			}
		}
		if (pnew) {
			const char *exe = s->res ? sp_rattrs_str(&s->res->attrs,
								 "process.executable.name") : NULL;
			const char *svc = s->res ? sp_rattrs_str(&s->res->attrs, "service.name") : NULL;

			snprintf(name, sizeof(name), "%s", exe ? exe : svc ? svc : "spans");
			meta(g, "process_name", pid, tid, name);
		}
		if (tnew) {
			snprintf(name, sizeof(name), tid == pid ? "main" : "thread %lld", tid);
			meta(g, "thread_name", pid, tid, name);
			seen[nseen++] = pid;
			seen[nseen++] = tid;
		}
		yajl_gen_map_open(g);
		STR(g, "name");
		STR(g, s->name);
		STR(g, "cat");
		STR(g, sp_rclass_name(s->cls));
		STR(g, "ph");
		STR(g, "X");
		STR(g, "ts");
		yajl_gen_double(g, (s->start - t0) / 1e3);
		STR(g, "dur");
		yajl_gen_double(g, (s->end - s->start) / 1e3);
		STR(g, "pid");
		yajl_gen_integer(g, pid);
		STR(g, "tid");
		yajl_gen_integer(g, tid);
		gen_args(g, s);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
		err = -EINVAL;
		goto cleanup;
	}
	if (fwrite(buf, 1, len, out) != len || fputc('\n', out) == EOF)
		err = -EIO;
cleanup:
	free(seen);
	if (g)
		yajl_gen_free(g);
	return err;
}
