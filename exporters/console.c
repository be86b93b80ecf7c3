// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The console tree: when a trace's root span finishes, print the trace as
 * an indented tree with offsets, durations and a small waterfall, so the
 * user sees where the time went without a backend.
 *
 * Spans arrive child-first (a request ends before its process does), so a
 * compact copy of each is kept until its root arrives. The table is
 * bounded: when full, the oldest trace is printed as it stands.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "exporter.h"

#define CONSOLE_MAX_SPANS	4096
#define BAR_WIDTH		24

struct rec {
	uint8_t trace[16], id[8], parent[8];
	uint64_t start, end, seq;
	uint8_t kind, status;
	bool used;
	char name[72];
	char detail[80];
};

struct console {
	FILE *out;
	bool color;
	uint64_t seq;
	struct rec recs[CONSOLE_MAX_SPANS];
};

static void rec_detail(const struct sp_span *s, char *out, size_t cap)
{
	const struct sp_attr *code = sp_span__attr(s, "http.response.status_code");
	const struct sp_attr *addr = sp_span__attr(s, "server.address");
	const struct sp_attr *port = sp_span__attr(s, "server.port");
	const struct sp_attr *pid = sp_span__attr(s, "process.pid");
	const struct sp_attr *exit_code = sp_span__attr(s, "process.exit.code");
	const struct sp_attr *err = sp_span__attr(s, "error.type");
	size_t n = 0;

	out[0] = 0;
	if (code)
		n += snprintf(out + n, cap - n, "%" PRId64 " ", code->i);
	if (err && !code && n < cap)
		n += snprintf(out + n, cap - n, "%s ", err->s);
	if (addr && n < cap)
		n += snprintf(out + n, cap - n, "%s:%" PRId64 " ", addr->s, port ? port->i : 0);
	if (pid && n < cap)
		n += snprintf(out + n, cap - n, "pid %" PRId64 " ", pid->i);
	if (exit_code && n < cap)
		snprintf(out + n, cap - n, "exit %" PRId64, exit_code->i);
}

static struct rec *rec_alloc(struct console *c)
{
	struct rec *oldest = NULL;

	for (int i = 0; i < CONSOLE_MAX_SPANS; i++) {
		if (!c->recs[i].used)
			return &c->recs[i];
		if (!oldest || c->recs[i].seq < oldest->seq)
			oldest = &c->recs[i];
	}
	return oldest;	/* caller prints and frees its trace first */
}

static void print_tree(struct console *c, const struct rec *r, const struct rec *root,
		       int depth, int budget)
{
	double off = (r->start - root->start) / 1e9, dur = (r->end - r->start) / 1e9;
	uint64_t total = root->end > root->start ? root->end - root->start : 1;
	int b0 = (int)((r->start - root->start) * BAR_WIDTH / total);
	int b1 = (int)((r->end - root->start) * BAR_WIDTH / total);
	char bar[BAR_WIDTH + 1];
	const char *red = c->color && r->status == 2 ? "\033[31m" : "";
	const char *reset = *red ? "\033[0m" : "";

	if (r->start < root->start || r->end > root->end)
		b0 = b1 = -1;	/* outside the root's time: no bar */
	for (int i = 0; i < BAR_WIDTH; i++)
		bar[i] = (i >= b0 && (i < b1 || i == b0)) ? '#' : '.';
	bar[BAR_WIDTH] = 0;
	fprintf(c->out, "  %*s%s%-*.*s%s %-28.28s +%8.3fs %8.3fs |%s|\n", depth * 2, "", red,
		44 - depth * 2 > 8 ? 44 - depth * 2 : 8, 44 - depth * 2 > 8 ? 44 - depth * 2 : 8,
		r->name, reset, r->detail, off, dur, bar);
	if (depth >= budget)
		return;
	/* children in start order: n is small, a selection pass is enough */
	uint64_t last = 0;
	const struct rec *prev = NULL;

	for (;;) {
		const struct rec *next = NULL;

		for (int i = 0; i < CONSOLE_MAX_SPANS; i++) {
			const struct rec *k = &c->recs[i];

			if (!k->used || memcmp(k->parent, r->id, 8) || memcmp(k->trace, r->trace, 16))
				continue;
			if (k->start < last || (k->start == last && prev && k <= prev))
				continue;
			if (!next || k->start < next->start || (k->start == next->start && k < next))
				next = k;
		}
		if (!next)
			break;
		print_tree(c, next, root, depth + 1, budget);
		last = next->start;
		prev = next;
	}
}

static void flush_trace(struct console *c, const struct rec *root)
{
	char hex[33];
	uint8_t trace[16];

	memcpy(trace, root->trace, 16);
	sp_id_hex(trace, 16, hex);
	fprintf(c->out, "trace %s  %s  %.3fs\n", hex, root->name, (root->end - root->start) / 1e9);
	print_tree(c, root, root, 0, 32);
	/* spans not reachable from the root (their parent was evicted) */
	for (int i = 0; i < CONSOLE_MAX_SPANS; i++) {
		struct rec *k = &c->recs[i];
		bool orphan = true;

		if (!k->used || memcmp(k->trace, trace, 16) || k == root)
			continue;
		for (int j = 0; j < CONSOLE_MAX_SPANS && orphan; j++)
			if (c->recs[j].used && !memcmp(c->recs[j].id, k->parent, 8))
				orphan = false;
		if (orphan)
			fprintf(c->out, "  (detached) %s %s\n", k->name, k->detail);
	}
	for (int i = 0; i < CONSOLE_MAX_SPANS; i++)
		if (c->recs[i].used && !memcmp(c->recs[i].trace, trace, 16))
			c->recs[i].used = false;
	fflush(c->out);
}

static int console_export(struct sp_exporter *e, struct sp_span *const *spans, size_t n)
{
	struct console *c = e->priv;

	for (size_t i = 0; i < n; i++) {
		const struct sp_span *s = spans[i];
		struct rec *r = rec_alloc(c);

		if (r->used) {
			/* table full: print the oldest trace as it stands */
			struct rec oldest = *r;

			e->stats.spans_dropped++;
			flush_trace(c, &oldest);
		}
		memset(r, 0, sizeof(*r));
		r->used = true;
		r->seq = ++c->seq;
		memcpy(r->trace, s->trace_id, 16);
		memcpy(r->id, s->span_id, 8);
		memcpy(r->parent, s->parent_id, 8);
		r->start = s->start_ns;
		r->end = s->end_ns;
		r->kind = s->kind;
		r->status = s->status;
		snprintf(r->name, sizeof(r->name), "%s", s->name);
		rec_detail(s, r->detail, sizeof(r->detail));
		if (sp_id_is_zero(s->parent_id, 8))
			flush_trace(c, r);
		e->stats.spans_exported++;
	}
	return 0;
}

static int console_flush(struct sp_exporter *e)
{
	struct console *c = e->priv;

	/* traces whose root never finished: print what there is */
	for (int i = 0; i < CONSOLE_MAX_SPANS; i++) {
		if (c->recs[i].used) {
			struct rec first = c->recs[i];

			flush_trace(c, &first);
		}
	}
	return 0;
}

static void console_free(struct sp_exporter *e)
{
	if (!e)
		return;
	free(e->priv);
	free(e);
}

struct sp_exporter *sp_console_exporter__new(FILE *out, bool color)
{
	struct sp_exporter *e = calloc(1, sizeof(*e));
	struct console *c = calloc(1, sizeof(*c));

	if (!e || !c) {
		free(e);
		free(c);
		return NULL;
	}
	c->out = out;
	c->color = color;
	e->name = "console";
	e->export = console_export;
	e->flush = console_flush;
	e->free = console_free;
	e->priv = c;
	return e;
}
