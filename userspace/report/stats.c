// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The sums of a report: percentiles (nearest-rank), think versus act,
 * latency by operation, error propagation, tokens and cost.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "report/report.h"
#include "report/sums.h"

uint64_t sp_percentile(const uint64_t *sorted, size_t n, double p)
{
	size_t rank;

	if (!n)
		return 0;
	rank = (size_t)ceil(p / 100.0 * (double)n);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

struct iv {
	uint64_t a, b;
};

static int iv_cmp(const void *x, const void *y)
{
	const struct iv *p = x, *q = y;

	return p->a < q->a ? -1 : p->a > q->a ? 1 : 0;
}

/* sorts and merges v in place; the number left */
static size_t iv_union(struct iv *v, size_t n)
{
	size_t w = 0;

	qsort(v, n, sizeof(*v), iv_cmp);
	for (size_t i = 0; i < n; i++) {
		if (w && v[i].a <= v[w - 1].b) {
			if (v[i].b > v[w - 1].b)
				v[w - 1].b = v[i].b;
		} else {
			v[w++] = v[i];
		}
	}
	return w;
}

static uint64_t iv_total(const struct iv *v, size_t n)
{
	uint64_t t = 0;

	for (size_t i = 0; i < n; i++)
		t += v[i].b - v[i].a;
	return t;
}

/* the length of the merged a minus the merged b */
static uint64_t iv_minus(const struct iv *a, size_t na, const struct iv *b, size_t nb)
{
	uint64_t t = 0;
	size_t j = 0;

	for (size_t i = 0; i < na; i++) {
		uint64_t cur = a[i].a, len = 0;

		while (j < nb && b[j].b <= a[i].a)
			j++;
		for (size_t k = j; k < nb && b[k].a < a[i].b; k++) {
			if (b[k].a > cur)
				len += b[k].a - cur;
			if (b[k].b > cur)
				cur = b[k].b;
		}
		if (a[i].b > cur)
			len += a[i].b - cur;
		t += len;
	}
	return t;
}

static bool is_act(const struct sp_rspan *s)
{
	switch (s->cls) {
	case SP_RC_TOOL:
	case SP_RC_MCP:
		return true;
	case SP_RC_PROCESS:
		return !s->carrier;
	case SP_RC_HTTP:	/* an HTTP or RPC call the agent makes, not served */
		return s->kind != 2;
	default:
		return false;
	}
}

void sp_think_act(struct sp_rspan *const *spans, size_t n, uint64_t start, uint64_t end,
		  uint64_t *think, uint64_t *act, uint64_t *other)
{
	struct iv *t = malloc((n + 1) * sizeof(*t)), *a = malloc((n + 1) * sizeof(*a));
	size_t nt = 0, na = 0;
	uint64_t wall = end > start ? end - start : 0;

	*think = *act = 0;
	*other = wall;
	if (!t || !a)
		goto cleanup;
	for (size_t i = 0; i < n; i++) {
		const struct sp_rspan *s = spans[i];
		struct iv v = { s->start < start ? start : s->start, s->end > end ? end : s->end };

		if (v.b <= v.a)
			continue;
		if (s->cls == SP_RC_LLM)
			t[nt++] = v;
		else if (is_act(s))
			a[na++] = v;
	}
	nt = iv_union(t, nt);
	na = iv_union(a, na);
	*think = iv_total(t, nt);
	*act = iv_minus(a, na, t, nt);
	*other = wall - *think - *act;
cleanup:
	free(t);
	free(a);
}

void sp_rtrace_sum(struct sp_rtrace *t)
{
	double v;

	for (unsigned i = 0; i < t->n; i++) {
		const struct sp_rspan *s = t->spans[i];

		t->errors += s->status == 2;
		if (s->cls == SP_RC_LLM) {
			t->llm_calls++;
			if (sp_rattrs_num(&s->attrs, "gen_ai.usage.input_tokens", &v))
				t->in_tok += (int64_t)v;
			if (sp_rattrs_num(&s->attrs, "gen_ai.usage.output_tokens", &v))
				t->out_tok += (int64_t)v;
			if (sp_rattrs_num(&s->attrs, "llm.cost.total", &v))
				t->cost += v;
		}
		/* a tool call is the tool span, or a subprocess or MCP call not
		 * already under one */
		if (s->cls == SP_RC_TOOL ||
		    (((s->cls == SP_RC_PROCESS && !s->carrier) || s->cls == SP_RC_MCP) &&
		     !(s->up && s->up->cls == SP_RC_TOOL)))
			t->tool_calls++;
	}
	sp_think_act(t->spans, t->n, t->start, t->end, &t->think_ns, &t->act_ns, &t->other_ns);
}

const char *sp_rspan_op(const struct sp_rspan *s, char *buf, size_t len)
{
	const char *tool = sp_rattrs_str(&s->attrs, "gen_ai.tool.name");
	const char *model = sp_rattrs_str(&s->attrs, "gen_ai.request.model");

	if (s->cls == SP_RC_LLM && !model)
		model = sp_rattrs_str(&s->attrs, "gen_ai.response.model");
	if (tool && (s->cls == SP_RC_TOOL || s->cls == SP_RC_MCP))
		snprintf(buf, len, "tool %s", tool);
	else if (model && s->cls == SP_RC_LLM)
		snprintf(buf, len, "model %s", model);
	else
		snprintf(buf, len, "%s", s->name);
	return buf;
}

static int u64_cmp(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static int op_cmp(const void *x, const void *y)
{
	return strcmp(((const struct sp_rop *)x)->key, ((const struct sp_rop *)y)->key);
}

int sp_rops_build(const struct sp_rmodel *m, struct sp_rops *ops)
{
	size_t cap = 0;
	char key[256];

	memset(ops, 0, sizeof(*ops));
	for (size_t i = 0; i < m->n; i++) {
		const struct sp_rspan *s = m->spans[i];
		struct sp_rop *op = NULL;

		if (!s->selected)
			continue;
		sp_rspan_op(s, key, sizeof(key));
		/* operations are few: a linear scan of the last ones seen
		 * would do, but keep it simple and bounded by the distinct names */
		for (size_t k = 0; k < ops->n && !op; k++)
			if (!strcmp(ops->op[k].key, key))
				op = &ops->op[k];
		if (!op) {
			if (ops->n == cap) {
				struct sp_rop *p = realloc(ops->op, (cap ? 2 * cap : 32) * sizeof(*p));

				if (!p)
					return -ENOMEM;
				ops->op = p;
				cap = cap ? 2 * cap : 32;
			}
			op = &ops->op[ops->n++];
			memset(op, 0, sizeof(*op));
			op->key = strdup(key);
			if (!op->key)
				return -ENOMEM;
		}
		if (op->n == op->cap) {
			uint64_t *p = realloc(op->d, (op->cap ? 2 * op->cap : 8) * sizeof(*p));

			if (!p)
				return -ENOMEM;
			op->d = p;
			op->cap = op->cap ? 2 * op->cap : 8;
		}
		op->d[op->n++] = s->end - s->start;
		op->errors += s->status == 2;
	}
	for (size_t k = 0; k < ops->n; k++)
		qsort(ops->op[k].d, ops->op[k].n, sizeof(uint64_t), u64_cmp);
	if (ops->n)
		qsort(ops->op, ops->n, sizeof(*ops->op), op_cmp);
	return 0;
}

void sp_rops_free(struct sp_rops *ops)
{
	for (size_t k = 0; k < ops->n; k++) {
		free(ops->op[k].key);
		free(ops->op[k].d);
	}
	free(ops->op);
	memset(ops, 0, sizeof(*ops));
}

const char *sp_rfate_name(enum sp_rfate f)
{
	static const char *n[] = { "retry", "fallback", "failed", "propagated" };

	return n[f];
}

static bool is_retry_of(const struct sp_rspan *s, const struct sp_rspan *first)
{
	double v;

	if (sp_rattrs_num(&s->attrs, "http.request.resend_count", &v) && v > 0)
		return true;
	for (unsigned i = 0; i < s->nevents; i++)
		if (strstr(s->events[i].name, "retry"))
			return true;
	return s->up == first->up && !strcmp(s->name, first->name);
}

static bool is_ancestor(const struct sp_rspan *a, const struct sp_rspan *s)
{
	for (const struct sp_rspan *p = s->up; p; p = p->up)
		if (p == a)
			return true;
	return false;
}

int sp_rprop_build(const struct sp_rtrace *t, struct sp_rprop *p)
{
	const struct sp_rspan *first = NULL;

	memset(p, 0, sizeof(*p));
	p->end_status = t->root ? t->root->status : -1;
	for (unsigned i = 0; i < t->n; i++) {
		const struct sp_rspan *s = t->spans[i];

		if (s->status != 2)
			continue;
		if (!first || s->end < first->end ||
		    (s->end == first->end && s->start < first->start))
			first = s;
	}
	if (!first)
		return 0;
	p->first = first;
	p->steps = calloc(t->n, sizeof(*p->steps));
	if (!p->steps)
		return -ENOMEM;
	for (unsigned i = 0; i < t->n; i++) {
		const struct sp_rspan *s = t->spans[i];
		struct sp_rprop_step *st = &p->steps[p->n];

		if (s == first)
			continue;
		if (is_ancestor(s, first)) {
			if (s->status == 2) {
				st->s = s;
				st->fate = SP_RF_PROPAGATED;
				p->n++;
			}
			continue;
		}
		if (s->start < first->start || is_ancestor(first, s))
			continue;
		st->s = s;
		if (is_retry_of(s, first))
			st->fate = SP_RF_RETRY;
		else if (s->status == 2)
			st->fate = SP_RF_FAILED;
		else if (s->cls == first->cls && s->up == first->up)
			st->fate = SP_RF_FALLBACK;
		else
			continue;
		p->n++;
	}
	return 0;
}

void sp_rprop_free(struct sp_rprop *p)
{
	free(p->steps);
	memset(p, 0, sizeof(*p));
}

static int slow_cmp(const void *x, const void *y)
{
	const struct sp_rspan *a = *(const struct sp_rspan *const *)x;
	const struct sp_rspan *b = *(const struct sp_rspan *const *)y;
	uint64_t da = a->end - a->start, db = b->end - b->start;

	return da > db ? -1 : da < db ? 1 : 0;
}

int sp_rsums_build(const struct sp_rmodel *m, const struct sp_report_opts *o,
		   struct sp_rsums *sm)
{
	int err;

	(void)o;
	memset(sm, 0, sizeof(*sm));
	sm->slow = calloc(m->n + 1, sizeof(*sm->slow));
	sm->ttft = calloc(m->n + 1, sizeof(*sm->ttft));
	sm->models = calloc(m->n + 1, sizeof(*sm->models));
	if (!sm->slow || !sm->ttft || !sm->models)
		return -ENOMEM;
	for (size_t i = 0; i < m->ntraces; i++) {
		const struct sp_rtrace *t = &m->traces[i];

		if (!t->nselected)
			continue;
		sm->traces++;
		sm->spans += t->n;
		sm->errors += t->errors;
		sm->llm_calls += t->llm_calls;
		sm->tool_calls += t->tool_calls;
		sm->in_tok += t->in_tok;
		sm->out_tok += t->out_tok;
		sm->cost += t->cost;
		sm->wall_ns += t->end - t->start;
		sm->think_ns += t->think_ns;
		sm->act_ns += t->act_ns;
		sm->other_ns += t->other_ns;
	}
	for (size_t i = 0; i < m->n; i++) {
		const struct sp_rspan *s = m->spans[i];
		const char *model;
		struct sp_rmodel_sum *ms = NULL;
		double v;

		if (!s->selected)
			continue;
		sm->slow[sm->nslow++] = s;
		if (s->cls != SP_RC_LLM)
			continue;
		if (sp_rattrs_num(&s->attrs, "gen_ai.response.time_to_first_chunk", &v) && v >= 0)
			sm->ttft[sm->nttft++] = (uint64_t)llround(v * 1e9);
		model = sp_rattrs_str(&s->attrs, "gen_ai.request.model");
		if (!model)
			model = sp_rattrs_str(&s->attrs, "gen_ai.response.model");
		if (!model)
			model = "(unknown)";
		for (size_t k = 0; k < sm->nmodels && !ms; k++)
			if (!strcmp(sm->models[k].model, model))
				ms = &sm->models[k];
		if (!ms) {
			ms = &sm->models[sm->nmodels++];
			ms->model = model;
		}
		ms->calls++;
		if (sp_rattrs_num(&s->attrs, "gen_ai.usage.input_tokens", &v))
			ms->in_tok += (int64_t)v;
		if (sp_rattrs_num(&s->attrs, "gen_ai.usage.output_tokens", &v))
			ms->out_tok += (int64_t)v;
		if (sp_rattrs_num(&s->attrs, "llm.cost.total", &v))
			ms->cost += v;
	}
	qsort(sm->slow, sm->nslow, sizeof(*sm->slow), slow_cmp);
	qsort(sm->ttft, sm->nttft, sizeof(*sm->ttft), u64_cmp);
	err = sp_rops_build(m, &sm->ops);
	return err;
}

void sp_rsums_free(struct sp_rsums *sm)
{
	sp_rops_free(&sm->ops);
	free(sm->slow);
	free(sm->ttft);
	free(sm->models);
	memset(sm, 0, sizeof(*sm));
}
