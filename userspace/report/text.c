// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The terminal report: trees with bars, then the sums. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "report/report.h"
#include "report/sums.h"

#define BAR_W	32

static void fmt_dur(char *b, size_t n, uint64_t ns)
{
	if (ns >= 10000000000ull)
		snprintf(b, n, "%.1fs", ns / 1e9);
	else if (ns >= 1000000000ull)
		snprintf(b, n, "%.2fs", ns / 1e9);
	else if (ns >= 1000000)
		snprintf(b, n, "%.1fms", ns / 1e6);
	else
		snprintf(b, n, "%.0fus", ns / 1e3);
}

static double pct(uint64_t a, uint64_t b)
{
	return b ? 100.0 * a / b : 0;
}

static void span_line(FILE *out, const struct sp_rtrace *t, const struct sp_rspan *s, int depth)
{
	uint64_t wall = t->end > t->start ? t->end - t->start : 1;
	unsigned a = (unsigned)((s->start - t->start) * (double)BAR_W / wall);
	unsigned b = (unsigned)((s->end - t->start) * (double)BAR_W / wall + 0.5);
	char bar[BAR_W + 1], d[24];
	int w = 44 - 2 * depth;

	if (a >= BAR_W)
		a = BAR_W - 1;
	if (b <= a)
		b = a + 1;
	if (b > BAR_W)
		b = BAR_W;
	for (unsigned i = 0; i < BAR_W; i++)
		bar[i] = i >= a && i < b ? '#' : '.';
	bar[BAR_W] = 0;
	fmt_dur(d, sizeof(d), s->end - s->start);
	fprintf(out, "  %*s%-*.*s %9s |%s|%s%s%s%s\n", 2 * depth, "", w < 8 ? 8 : w, w < 8 ? 8 : w,
		s->name, d, bar, s->status == 2 ? " ERROR" : "", s->orphan ? " (orphan: parent " : "",
		s->orphan ? s->parent : "", s->orphan ? " not found)" : "");
}

static void tree(FILE *out, const struct sp_rtrace *t, const struct sp_rspan *s, int depth)
{
	span_line(out, t, s, depth);
	for (unsigned i = 0; i < s->nkids; i++)
		tree(out, t, s->kids[i], depth + 1 < 12 ? depth + 1 : 12);
}

static void summary(FILE *out, const char *what, unsigned llm, unsigned tools, int64_t in,
		    int64_t outt, double cost, unsigned errors, uint64_t wall)
{
	char d[24];

	fmt_dur(d, sizeof(d), wall);
	fprintf(out, "%s%s wall, %u LLM call%s, %u tool call%s, %" PRId64 " tokens (%" PRId64
		" in, %" PRId64 " out), $%.4f, %u error%s\n", what, d, llm, llm == 1 ? "" : "s",
		tools, tools == 1 ? "" : "s", in + outt, in, outt, cost, errors,
		errors == 1 ? "" : "s");
}

static void think_act(FILE *out, const char *pre, uint64_t th, uint64_t act, uint64_t oth)
{
	uint64_t w = th + act + oth;

	fprintf(out, "%sthink %.3fs (%.0f%%)  act %.3fs (%.0f%%)  other %.3fs (%.0f%%)\n", pre,
		th / 1e9, pct(th, w), act / 1e9, pct(act, w), oth / 1e9, pct(oth, w));
}

static int trace_cmp_dur(const void *x, const void *y)
{
	const struct sp_rtrace *a = *(const struct sp_rtrace *const *)x;
	const struct sp_rtrace *b = *(const struct sp_rtrace *const *)y;
	uint64_t da = a->end - a->start, db = b->end - b->start;

	return da > db ? -1 : da < db;
}

static int trace_cmp_start(const void *x, const void *y)
{
	const struct sp_rtrace *a = *(const struct sp_rtrace *const *)x;
	const struct sp_rtrace *b = *(const struct sp_rtrace *const *)y;

	return a->start < b->start ? -1 : a->start > b->start;
}

int sp_report_text(FILE *out, const struct sp_rmodel *m, const struct sp_report_opts *o)
{
	const struct sp_rtrace **order = calloc(m->ntraces + 1, sizeof(*order));
	struct sp_rsums sm;
	size_t n = 0;
	char d[4][24];
	int err;

	if (!order)
		return -ENOMEM;
	err = sp_rsums_build(m, o, &sm);
	if (err)
		goto cleanup;
	for (size_t i = 0; i < m->ntraces; i++)
		if (m->traces[i].nselected)
			order[n++] = &m->traces[i];
	qsort(order, n, sizeof(*order), o->sort_duration ? trace_cmp_dur : trace_cmp_start);
	for (size_t i = 0; i < n; i++) {
		const struct sp_rtrace *t = order[i];

		fprintf(out, "trace %s  %s\n", t->id, t->root ? t->root->name : "(no root span)");
		summary(out, "  ", t->llm_calls, t->tool_calls, t->in_tok, t->out_tok, t->cost,
			t->errors, t->end - t->start);
		think_act(out, "  ", t->think_ns, t->act_ns, t->other_ns);
		for (unsigned k = 0; k < t->n; k++)
			if (!t->spans[k]->up)
				tree(out, t, t->spans[k], 0);
		fputc('\n', out);
	}
	fprintf(out, "== total: %u trace%s, %u spans\n", sm.traces, sm.traces == 1 ? "" : "s",
		sm.spans);
	summary(out, "  ", sm.llm_calls, sm.tool_calls, sm.in_tok, sm.out_tok, sm.cost, sm.errors,
		sm.wall_ns);
	think_act(out, "  ", sm.think_ns, sm.act_ns, sm.other_ns);

	fprintf(out, "\n== latency by operation (nearest-rank percentiles)\n");
	fprintf(out, "  %-40s %6s %6s %9s %9s %9s %9s\n", "operation", "count", "err%", "p50",
		"p95", "p99", "max");
	for (size_t k = 0; k < sm.ops.n; k++) {
		const struct sp_rop *op = &sm.ops.op[k];

		fmt_dur(d[0], 24, sp_percentile(op->d, op->n, 50));
		fmt_dur(d[1], 24, sp_percentile(op->d, op->n, 95));
		fmt_dur(d[2], 24, sp_percentile(op->d, op->n, 99));
		fmt_dur(d[3], 24, sp_percentile(op->d, op->n, 100));
		fprintf(out, "  %-40.40s %6zu %5.1f%% %9s %9s %9s %9s\n", op->key, op->n,
			pct(op->errors, op->n), d[0], d[1], d[2], d[3]);
	}

	fprintf(out, "\n== slowest spans\n");
	for (size_t k = 0; k < sm.nslow && k < o->top; k++) {
		const struct sp_rspan *s = sm.slow[k];

		fmt_dur(d[0], 24, s->end - s->start);
		fprintf(out, "  %9s  %-44.44s trace %.8s span %s%s\n", d[0], s->name, s->trace,
			s->id, s->status == 2 ? " ERROR" : "");
	}

	fprintf(out, "\n== failures\n");
	if (!sm.errors)
		fprintf(out, "  none\n");
	for (size_t i = 0; i < n; i++) {
		struct sp_rprop p;

		if (!order[i]->errors || sp_rprop_build(order[i], &p))
			continue;
		fprintf(out, "  trace %.8s: first failure: %s (span %s)%s%s\n", order[i]->id,
			p.first->name, p.first->id, p.first->status_msg[0] ? ": " : "",
			p.first->status_msg);
		for (size_t k = 0; k < p.n; k++)
			fprintf(out, "    then %-10s %s (span %s, %s)\n", sp_rfate_name(p.steps[k].fate),
				p.steps[k].s->name, p.steps[k].s->id,
				sp_rstatus_name(p.steps[k].s->status));
		fprintf(out, "    run ended: %s\n",
			p.end_status < 0 ? "unknown (no root span)" : sp_rstatus_name(p.end_status));
		sp_rprop_free(&p);
	}

	fprintf(out, "\n== tokens and cost by model\n");
	for (size_t k = 0; k < sm.nmodels; k++)
		fprintf(out, "  %-32s %4u calls %8" PRId64 " in %8" PRId64 " out  $%.4f\n",
			sm.models[k].model, sm.models[k].calls, sm.models[k].in_tok,
			sm.models[k].out_tok, sm.models[k].cost);
	if (!sm.nmodels)
		fprintf(out, "  no LLM calls\n");
	if (sm.nttft) {
		fmt_dur(d[0], 24, sp_percentile(sm.ttft, sm.nttft, 50));
		fmt_dur(d[1], 24, sp_percentile(sm.ttft, sm.nttft, 95));
		fmt_dur(d[2], 24, sp_percentile(sm.ttft, sm.nttft, 99));
		fmt_dur(d[3], 24, sp_percentile(sm.ttft, sm.nttft, 100));
		fprintf(out, "  time to first token (%zu streams): p50 %s p95 %s p99 %s max %s\n",
			sm.nttft, d[0], d[1], d[2], d[3]);
	}
	sp_rsums_free(&sm);
cleanup:
	free(order);
	return err;
}
