// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The report as JSON: --json (everything the text says, for scripts) and
 * the HTML page's data document (/tmp/report_schema.md: traces and spans,
 * unix ns as decimal strings). --json is the data document plus the sums.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl/yajl_gen.h>
#include "report/report.h"
#include "report/sums.h"

#define STR(g, s) yajl_gen_string(g, (const unsigned char *)(s), strlen(s))

static void gen_u64s(yajl_gen g, uint64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "%" PRIu64, v);
	STR(g, b);
}

static void gen_dbl(yajl_gen g, double d)
{
	if (isfinite(d))
		yajl_gen_double(g, d);
	else
		yajl_gen_null(g);
}

void sp_rjson_attr_values(yajl_gen g, const struct sp_rattrs *a)
{
	for (unsigned i = 0; a && i < a->n; i++) {
		const struct sp_rattr *x = &a->a[i];

		STR(g, x->key);
		switch (x->t) {
		case SP_RA_STR:
			STR(g, x->s);
			break;
		case SP_RA_INT:
			yajl_gen_integer(g, x->i);
			break;
		case SP_RA_DBL:
			gen_dbl(g, x->d);
			break;
		case SP_RA_BOOL:
			yajl_gen_bool(g, x->b);
			break;
		case SP_RA_ARR: {
			const char *v = x->s;

			yajl_gen_array_open(g);
			for (unsigned k = 0; k < x->n; k++, v += strlen(v) + 1)
				STR(g, v);
			yajl_gen_array_close(g);
			break;
		}
		}
	}
}

static void gen_attrs(yajl_gen g, const struct sp_rattrs *a)
{
	yajl_gen_map_open(g);
	sp_rjson_attr_values(g, a);
	yajl_gen_map_close(g);
}

static void gen_trace(yajl_gen g, const struct sp_rtrace *t)
{
	yajl_gen_map_open(g);
	STR(g, "id");
	STR(g, t->id);
	STR(g, "name");
	STR(g, t->root ? t->root->name : t->spans[0]->name);
	STR(g, "start");
	gen_u64s(g, t->start);
	STR(g, "end");
	gen_u64s(g, t->end);
	STR(g, "spans");
	yajl_gen_integer(g, t->n);
	STR(g, "errors");
	yajl_gen_integer(g, t->errors);
	STR(g, "llm_calls");
	yajl_gen_integer(g, t->llm_calls);
	STR(g, "tool_calls");
	yajl_gen_integer(g, t->tool_calls);
	STR(g, "input_tokens");
	yajl_gen_integer(g, t->in_tok);
	STR(g, "output_tokens");
	yajl_gen_integer(g, t->out_tok);
	STR(g, "cost_usd");
	gen_dbl(g, t->cost);
	STR(g, "think_ns");
	gen_u64s(g, t->think_ns);
	STR(g, "act_ns");
	gen_u64s(g, t->act_ns);
	STR(g, "other_ns");
	gen_u64s(g, t->other_ns);
	yajl_gen_map_close(g);
}

static void gen_span(yajl_gen g, const struct sp_rspan *s)
{
	yajl_gen_map_open(g);
	STR(g, "trace");
	STR(g, s->trace);
	STR(g, "id");
	STR(g, s->id);
	STR(g, "parent");
	STR(g, s->parent);
	STR(g, "orphan");
	yajl_gen_bool(g, s->orphan);
	STR(g, "name");
	STR(g, s->name);
	STR(g, "kind");
	STR(g, sp_rkind_name(s->kind));
	STR(g, "class");
	STR(g, sp_rclass_name(s->cls));
	STR(g, "start");
	gen_u64s(g, s->start);
	STR(g, "end");
	gen_u64s(g, s->end);
	STR(g, "status");
	STR(g, sp_rstatus_name(s->status));
	STR(g, "status_message");
	STR(g, s->status_msg);
	STR(g, "attrs");
	gen_attrs(g, &s->attrs);
	STR(g, "events");
	yajl_gen_array_open(g);
	for (unsigned i = 0; i < s->nevents; i++) {
		yajl_gen_map_open(g);
		STR(g, "name");
		STR(g, s->events[i].name);
		STR(g, "time");
		gen_u64s(g, s->events[i].t);
		STR(g, "attrs");
		gen_attrs(g, &s->events[i].attrs);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	STR(g, "resource");
	gen_attrs(g, s->res ? &s->res->attrs : NULL);
	yajl_gen_map_close(g);
}

/* which traces a report shows: those with a selected span */
static bool shown(const struct sp_rtrace *t)
{
	return t->nselected > 0;
}

static void gen_data(yajl_gen g, const struct sp_rmodel *m)
{
	char now[32];
	time_t tt = time(NULL);
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	STR(g, "generated");
	STR(g, now);
	STR(g, "files");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < m->nfiles; i++)
		STR(g, m->files[i]);
	yajl_gen_array_close(g);
	STR(g, "traces");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < m->ntraces; i++)
		if (shown(&m->traces[i]))
			gen_trace(g, &m->traces[i]);
	yajl_gen_array_close(g);
	STR(g, "spans");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < m->ntraces; i++)
		if (shown(&m->traces[i]))
			for (unsigned k = 0; k < m->traces[i].n; k++)
				gen_span(g, m->traces[i].spans[k]);
	yajl_gen_array_close(g);
}

static void gen_pcts(yajl_gen g, const uint64_t *d, size_t n)
{
	static const struct { const char *k; double p; } P[] = {
		{ "p50_ns", 50 }, { "p95_ns", 95 }, { "p99_ns", 99 }, { "max_ns", 100 } };

	for (size_t i = 0; i < sizeof(P) / sizeof(P[0]); i++) {
		STR(g, P[i].k);
		if (n)
			gen_u64s(g, sp_percentile(d, n, P[i].p));
		else
			yajl_gen_null(g);
	}
}

static void gen_sums(yajl_gen g, const struct sp_rmodel *m, const struct sp_report_opts *o,
		     const struct sp_rsums *sm)
{
	STR(g, "totals");
	yajl_gen_map_open(g);
	STR(g, "traces");
	yajl_gen_integer(g, sm->traces);
	STR(g, "spans");
	yajl_gen_integer(g, sm->spans);
	STR(g, "errors");
	yajl_gen_integer(g, sm->errors);
	STR(g, "llm_calls");
	yajl_gen_integer(g, sm->llm_calls);
	STR(g, "tool_calls");
	yajl_gen_integer(g, sm->tool_calls);
	STR(g, "input_tokens");
	yajl_gen_integer(g, sm->in_tok);
	STR(g, "output_tokens");
	yajl_gen_integer(g, sm->out_tok);
	STR(g, "cost_usd");
	gen_dbl(g, sm->cost);
	STR(g, "wall_ns");
	gen_u64s(g, sm->wall_ns);
	STR(g, "think_ns");
	gen_u64s(g, sm->think_ns);
	STR(g, "act_ns");
	gen_u64s(g, sm->act_ns);
	STR(g, "other_ns");
	gen_u64s(g, sm->other_ns);
	STR(g, "duplicates");
	yajl_gen_integer(g, (long long)m->duplicates);
	STR(g, "bad_lines");
	yajl_gen_integer(g, (long long)m->bad_lines);
	STR(g, "orphans");
	yajl_gen_integer(g, (long long)m->orphans);
	STR(g, "dropped");
	yajl_gen_integer(g, (long long)m->dropped);
	yajl_gen_map_close(g);

	STR(g, "operations");
	yajl_gen_array_open(g);
	for (size_t k = 0; k < sm->ops.n; k++) {
		const struct sp_rop *op = &sm->ops.op[k];

		yajl_gen_map_open(g);
		STR(g, "op");
		STR(g, op->key);
		STR(g, "count");
		yajl_gen_integer(g, (long long)op->n);
		STR(g, "errors");
		yajl_gen_integer(g, op->errors);
		STR(g, "error_rate");
		gen_dbl(g, op->n ? (double)op->errors / op->n : 0);
		gen_pcts(g, op->d, op->n);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);

	STR(g, "slowest");
	yajl_gen_array_open(g);
	for (size_t k = 0; k < sm->nslow && k < o->top; k++) {
		const struct sp_rspan *s = sm->slow[k];

		yajl_gen_map_open(g);
		STR(g, "trace");
		STR(g, s->trace);
		STR(g, "id");
		STR(g, s->id);
		STR(g, "name");
		STR(g, s->name);
		STR(g, "duration_ns");
		gen_u64s(g, s->end - s->start);
		STR(g, "status");
		STR(g, sp_rstatus_name(s->status));
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);

	STR(g, "failures");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < m->ntraces; i++) {
		const struct sp_rtrace *t = &m->traces[i];
		struct sp_rprop p;

		if (!shown(t) || !t->errors || sp_rprop_build(t, &p))
			continue;
		yajl_gen_map_open(g);
		STR(g, "trace");
		STR(g, t->id);
		STR(g, "first");
		yajl_gen_map_open(g);
		STR(g, "id");
		STR(g, p.first->id);
		STR(g, "name");
		STR(g, p.first->name);
		STR(g, "status_message");
		STR(g, p.first->status_msg);
		yajl_gen_map_close(g);
		STR(g, "after");
		yajl_gen_array_open(g);
		for (size_t k = 0; k < p.n; k++) {
			yajl_gen_map_open(g);
			STR(g, "id");
			STR(g, p.steps[k].s->id);
			STR(g, "name");
			STR(g, p.steps[k].s->name);
			STR(g, "fate");
			STR(g, sp_rfate_name(p.steps[k].fate));
			STR(g, "status");
			STR(g, sp_rstatus_name(p.steps[k].s->status));
			yajl_gen_map_close(g);
		}
		yajl_gen_array_close(g);
		STR(g, "end_status");
		if (p.end_status < 0)
			yajl_gen_null(g);
		else
			STR(g, sp_rstatus_name(p.end_status));
		yajl_gen_map_close(g);
		sp_rprop_free(&p);
	}
	yajl_gen_array_close(g);

	STR(g, "models");
	yajl_gen_array_open(g);
	for (size_t k = 0; k < sm->nmodels; k++) {
		const struct sp_rmodel_sum *ms = &sm->models[k];

		yajl_gen_map_open(g);
		STR(g, "model");
		STR(g, ms->model);
		STR(g, "calls");
		yajl_gen_integer(g, ms->calls);
		STR(g, "input_tokens");
		yajl_gen_integer(g, ms->in_tok);
		STR(g, "output_tokens");
		yajl_gen_integer(g, ms->out_tok);
		STR(g, "cost_usd");
		gen_dbl(g, ms->cost);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);

	STR(g, "ttft");
	yajl_gen_map_open(g);
	STR(g, "count");
	yajl_gen_integer(g, (long long)sm->nttft);
	gen_pcts(g, sm->ttft, sm->nttft);
	yajl_gen_map_close(g);
}

static int finish(yajl_gen g, char **out, size_t *len)
{
	const unsigned char *buf;
	size_t n;

	if (yajl_gen_get_buf(g, &buf, &n) != yajl_gen_status_ok)
		return -EINVAL;
	*out = malloc(n + 1);
	if (!*out)
		return -ENOMEM;
	memcpy(*out, buf, n);
	(*out)[n] = 0;
	*len = n;
	return 0;
}

int sp_report_data_json(const struct sp_rmodel *m, char **out, size_t *len)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	int err;

	*out = NULL;
	if (!g)
		return -ENOMEM;
	yajl_gen_map_open(g);
	gen_data(g, m);
	yajl_gen_map_close(g);
	err = finish(g, out, len);
	yajl_gen_free(g);
	return err;
}

int sp_report_json(FILE *out, const struct sp_rmodel *m, const struct sp_report_opts *o)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	struct sp_rsums sm;
	char *buf = NULL;
	size_t len;
	int err;

	if (!g)
		return -ENOMEM;
	err = sp_rsums_build(m, o, &sm);
	if (err)
		goto cleanup;
	yajl_gen_map_open(g);
	gen_data(g, m);
	gen_sums(g, m, o, &sm);
	yajl_gen_map_close(g);
	err = finish(g, &buf, &len);
	if (!err && (fwrite(buf, 1, len, out) != len || fputc('\n', out) == EOF))
		err = -EIO;
	sp_rsums_free(&sm);
cleanup:
	free(buf);
	yajl_gen_free(g);
	return err;
}
