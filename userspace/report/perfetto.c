// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Chrome trace-event format (the "JSON Object Format" of the Trace
 * Event Format document): {"traceEvents":[...]} with one "X" (complete)
 * event per span, ts and dur in microseconds from the earliest span, pid
 * the resource's process.pid and tid the span's thread.id (else the pid),
 * "M" metadata events naming them, args the attributes; spans of one
 * thread that overlap without nesting on lanes of their own (lane_for). Perfetto's UI and
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

/*
 * A track (pid, tid) shows nested slices only; spans of one thread that
 * overlap without nesting (concurrent requests of an async agent) would be
 * misnested there, so each goes to the first lane of its track where it
 * nests, a new lane (tid + k * 10^7, above any Linux tid) when none.
 */
struct lane {
	long long pid, base, tid;
	uint64_t *ends;		/* the open spans' ends, a stack */
	unsigned depth, cap;
};

struct lanes {
	struct lane *l;
	size_t n, cap;
};

#define LANE_TID_STEP	10000000ll

/* the lane for s (*fresh: just made), or NULL on ENOMEM */
static struct lane *lane_for(struct lanes *ls, long long pid, long long base,
			     const struct sp_rspan *s, bool *pnew, bool *fresh)
{
	unsigned k = 0;
	struct lane *l;

	*pnew = true;
	*fresh = false;
	for (size_t i = 0; i < ls->n; i++) {
		l = &ls->l[i];
		if (l->pid != pid)
			continue;
		*pnew = false;
		if (l->base != base)
			continue;
		k++;
		while (l->depth && l->ends[l->depth - 1] <= s->start)
			l->depth--;
		if (!l->depth || l->ends[l->depth - 1] >= s->end)
			goto push;
	}
	if (ls->n == ls->cap) {
		size_t cap = ls->cap ? 2 * ls->cap : 16;
		struct lane *p = realloc(ls->l, cap * sizeof(*p));

		if (!p)
			return NULL;
		ls->l = p;
		ls->cap = cap;
	}
	l = &ls->l[ls->n++];
	memset(l, 0, sizeof(*l));
	l->pid = pid;
	l->base = base;
	l->tid = base + k * LANE_TID_STEP;
	*fresh = true;
push:
	if (l->depth == l->cap) {
		unsigned cap = l->cap ? 2 * l->cap : 8;
		uint64_t *p = realloc(l->ends, cap * sizeof(*p));

		if (!p)
			return NULL;
		l->ends = p;
		l->cap = cap;
	}
	l->ends[l->depth++] = s->end;
	return l;
}

static int by_start_end(const void *x, const void *y)
{
	const struct sp_rspan *a = *(const struct sp_rspan *const *)x;
	const struct sp_rspan *b = *(const struct sp_rspan *const *)y;

	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	return a->end > b->end ? -1 : a->end < b->end;	/* the enclosing one first */
}

int sp_report_perfetto(FILE *out, const struct sp_rmodel *m)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const struct sp_rspan **order = calloc(m->n + 1, sizeof(*order));
	struct lanes ls = { 0 };
	uint64_t t0 = UINT64_MAX;
	size_t n = 0, len;
	const unsigned char *buf;
	int err = 0;

	if (!g || !order) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < m->n; i++) {
		if (!m->spans[i]->tr->nselected)
			continue;
		order[n++] = m->spans[i];
		if (m->spans[i]->start < t0)
			t0 = m->spans[i]->start;
	}
	qsort(order, n, sizeof(*order), by_start_end);
	yajl_gen_map_open(g);
	STR(g, "displayTimeUnit");
	STR(g, "ms");
	STR(g, "traceEvents");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < n; i++) {
		const struct sp_rspan *s = order[i];
		long long pid = span_pid(s), base = span_tid(s, pid);
		bool pnew, fresh;
		struct lane *l = lane_for(&ls, pid, base, s, &pnew, &fresh);
		char name[300];

		if (!l) {
			err = -ENOMEM;
			goto cleanup;
		}
		if (pnew) {
			const char *exe = s->res ? sp_rattrs_str(&s->res->attrs,
								 "process.executable.name") : NULL;
			const char *svc = s->res ? sp_rattrs_str(&s->res->attrs, "service.name") : NULL;

			snprintf(name, sizeof(name), "%s", exe ? exe : svc ? svc : "spans");
			meta(g, "process_name", pid, l->tid, name);
		}
		if (fresh) {
			if (l->tid == l->base)
				snprintf(name, sizeof(name), base == pid ? "main" : "thread %lld", base);
			else
				snprintf(name, sizeof(name), "%s %lld (overlapping %lld)",
					 base == pid ? "main" : "thread", base,
					 (l->tid - l->base) / LANE_TID_STEP);
			meta(g, "thread_name", pid, l->tid, name);
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
		yajl_gen_integer(g, l->tid);
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
	for (size_t i = 0; i < ls.n; i++)
		free(ls.l[i].ends);
	free(ls.l);
	free(order);
	if (g)
		yajl_gen_free(g);
	return err;
}
