// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The console tree: each trace group the trace buffer hands over (the
 * contiguous spans of one trace, see exporter.h) is printed as an
 * indented tree with offsets, durations and a small waterfall, so the user
 * sees where the time went without a backend.
 *
 * The group is the whole of what is drawn: nothing is kept between
 * batches. A group that left the buffer early (trace_partial) says so in
 * its header, and spans whose parent is not in the group are drawn under
 * their own heading rather than lost.
 *
 * The tree comes from one index per group: the spans sorted by (parent
 * id, start), so a span's children are one binary search away and come
 * out in start order. Scratch space grows in steps and is reused, so
 * steady state allocates nothing.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "exporter.h"
#include "util/log.h"

#define BAR_WIDTH	24
#define NAME_COLS	44	/* name column at depth 0; two fewer per level */
#define MAX_INDENT	32	/* deeper spans are drawn at this depth */
#define SCRATCH_MIN	64

enum {
	HAS_PARENT = 1,	/* its parent is in the group */
	VISITED = 2,	/* printed, or on the stack to be */
};

struct ent {
	const struct sp_span *s;
	uint32_t pos;	/* in the group: the key of flags[] and the last tie-break */
};

struct frame {
	struct ent e;
	uint32_t depth;
};

struct console {
	FILE *out;
	bool color;
	bool warned;
	/* scratch for one group, cap entries each, one block */
	size_t cap;
	struct ent *by_parent;	/* sorted by (parent id, start, pos) */
	struct ent *tops;	/* roots, then orphans, each in start order */
	struct frame *stack;
	uint8_t *flags;
	/* for log_stats */
	uint64_t groups, partial_groups, orphans, write_errors;
};

/* Bytes from the wire may hold terminal escapes: C0, DEL and C1 controls
 * become '?' (C1 in its UTF-8 form, U+0080..U+009F). */
static void clean(const char *in, char *out, size_t cap)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p && n + 1 < cap; p++) {
		if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			out[n++] = '?';
			p++;
		} else {
			out[n++] = *p < 0x20 || *p == 0x7f ? '?' : (char)*p;
		}
	}
	out[n] = 0;
}

static void span_detail(const struct sp_span *s, char *out, size_t cap)
{
	const struct sp_attr *code = sp_span__attr(s, "http.response.status_code");
	const struct sp_attr *addr = sp_span__attr(s, "server.address");
	const struct sp_attr *port = sp_span__attr(s, "server.port");
	const struct sp_attr *pid = sp_span__attr(s, "process.pid");
	const struct sp_attr *exit_code = sp_span__attr(s, "process.exit.code");
	const struct sp_attr *err = sp_span__attr(s, "error.type");
	char raw[160];
	size_t n = 0;

	raw[0] = 0;
	if (code)
		n += snprintf(raw + n, sizeof(raw) - n, "%" PRId64 " ", code->i);
	if (err && !code && n < sizeof(raw))
		n += snprintf(raw + n, sizeof(raw) - n, "%s ", err->s);
	if (addr && n < sizeof(raw)) {
		n += snprintf(raw + n, sizeof(raw) - n, "%s", addr->s);
		if (port && n < sizeof(raw))
			n += snprintf(raw + n, sizeof(raw) - n, ":%" PRId64, port->i);
		if (n < sizeof(raw))
			n += snprintf(raw + n, sizeof(raw) - n, " ");
	}
	if (pid && n < sizeof(raw))
		n += snprintf(raw + n, sizeof(raw) - n, "pid %" PRId64 " ", pid->i);
	if (exit_code && n < sizeof(raw))
		snprintf(raw + n, sizeof(raw) - n, "exit %" PRId64, exit_code->i);
	clean(raw, out, cap);
}

/* After the bar, for LLM calls: "  MODEL IN in / OUT out tokens". */
static void span_llm(const struct sp_span *s, char *out, size_t cap)
{
	const struct sp_attr *model = sp_span__attr(s, "gen_ai.response.model");
	const struct sp_attr *in = sp_span__attr(s, "gen_ai.usage.input_tokens");
	const struct sp_attr *o = sp_span__attr(s, "gen_ai.usage.output_tokens");
	char raw[160], tin[24] = "-", tout[24] = "-";
	size_t n = 0;

	if (!model)
		model = sp_span__attr(s, "gen_ai.request.model");
	raw[0] = 0;
	if (model)
		n += snprintf(raw, sizeof(raw), "  %s", model->s);
	if (in)
		snprintf(tin, sizeof(tin), "%" PRId64, in->i);
	if (o)
		snprintf(tout, sizeof(tout), "%" PRId64, o->i);
	if ((in || o) && n < sizeof(raw))
		snprintf(raw + n, sizeof(raw) - n, "%s%s in / %s out tokens", model ? " " : "  ",
			 tin, tout);
	clean(raw, out, cap);
}

/*
 * The colour of a span's name on a terminal, by what it is: agents
 * magenta, model calls cyan, tools yellow, MCP green, HTTP blue, other
 * processes plain; an ERROR span is red whatever it is. The same classes
 * as the report's waterfall.
 */
static const char *span_color(const struct sp_span *s)
{
	const struct sp_attr *op = sp_span__attr(s, "gen_ai.operation.name");

	if (s->status == SP_STATUS_ERROR)
		return "\033[31m";
	if (op && op->type == SP_ATTR_STR) {
		if (!strcmp(op->s, "invoke_agent"))
			return "\033[35m";
		if (!strcmp(op->s, "execute_tool"))
			return sp_span__attr(s, "mcp.method.name") ? "\033[32m" : "\033[33m";
		return "\033[36m";	/* chat, generate_content, embeddings, ... */
	}
	if (sp_span__attr(s, "mcp.method.name"))
		return "\033[32m";
	if (sp_span__attr(s, "http.request.method") || sp_span__attr(s, "rpc.system"))
		return "\033[34m";
	return "";
}

/* One line: times relative to [t0, t1], the span the bar spans. */
static void print_span(struct console *c, const struct sp_span *s, uint64_t t0, uint64_t t1,
		       uint32_t depth)
{
	uint64_t total = t1 > t0 ? t1 - t0 : 1;
	bool before = s->start_ns < t0;
	double off = (before ? t0 - s->start_ns : s->start_ns - t0) / 1e9;
	double dur = (s->end_ns > s->start_ns ? s->end_ns - s->start_ns : 0) / 1e9;
	int b0 = -1, b1 = -1, d = depth < MAX_INDENT ? (int)depth : MAX_INDENT;
	int w = NAME_COLS - d * 2 > 8 ? NAME_COLS - d * 2 : 8;
	const char *red = c->color ? span_color(s) : "";
	const char *reset = *red ? "\033[0m" : "";
	char bar[BAR_WIDTH + 1], name[256], detail[80], llm[160];

	/* outside the reference span's time: no bar */
	if (!before && s->end_ns <= t1 && s->end_ns >= s->start_ns) {
		b0 = (int)((s->start_ns - t0) * BAR_WIDTH / total);
		b1 = (int)((s->end_ns - t0) * BAR_WIDTH / total);
	}
	for (int i = 0; i < BAR_WIDTH; i++)
		bar[i] = b0 >= 0 && i >= b0 && (i < b1 || i == b0) ? '#' : '.';
	bar[BAR_WIDTH] = 0;
	clean(s->name ? s->name : "", name, sizeof(name));
	span_detail(s, detail, sizeof(detail));
	span_llm(s, llm, sizeof(llm));
	fprintf(c->out, "  %*s%s%-*.*s%s %-28.28s %c%8.3fs %8.3fs |%s|%s\n", d * 2, "", red, w, w,
		name, reset, detail, before ? '-' : '+', off, dur, bar, llm);
}

static int cmp_parent(const void *pa, const void *pb)
{
	const struct ent *a = pa, *b = pb;
	int r = memcmp(a->s->parent_id, b->s->parent_id, sizeof(a->s->parent_id));

	if (r)
		return r;
	if (a->s->start_ns != b->s->start_ns)
		return a->s->start_ns < b->s->start_ns ? -1 : 1;
	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static int cmp_start(const void *pa, const void *pb)
{
	const struct ent *a = pa, *b = pb;

	if (a->s->start_ns != b->s->start_ns)
		return a->s->start_ns < b->s->start_ns ? -1 : 1;
	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* by_parent[*lo, *hi): the spans whose parent is id */
static void children(const struct console *c, size_t n, const uint8_t *id, size_t *lo, size_t *hi)
{
	size_t l = 0, h = n;

	while (l < h) {	/* first entry with parent >= id */
		size_t m = l + (h - l) / 2;

		if (memcmp(c->by_parent[m].s->parent_id, id, 8) < 0)
			l = m + 1;
		else
			h = m;
	}
	*lo = l;
	for (h = n; l < h;) {	/* first entry with parent > id */
		size_t m = l + (h - l) / 2;

		if (memcmp(c->by_parent[m].s->parent_id, id, 8) <= 0)
			l = m + 1;
		else
			h = m;
	}
	*hi = l;
}

/* Depth-first from top, children in start order. Each span is pushed at
 * most once (VISITED), so the stack never holds more than the group and
 * a parent cycle in bad input ends. */
static void print_subtree(struct console *c, size_t n, struct ent top, uint32_t depth,
			  uint64_t t0, uint64_t t1)
{
	size_t sp = 0, lo, hi;

	if (c->flags[top.pos] & VISITED)
		return;
	c->flags[top.pos] |= VISITED;
	c->stack[sp++] = (struct frame){ top, depth };
	while (sp) {
		struct frame f = c->stack[--sp];

		print_span(c, f.e.s, t0, t1, f.depth);
		if (sp_id_is_zero(f.e.s->span_id, 8))
			continue;	/* its "children" would be the roots */
		children(c, n, f.e.s->span_id, &lo, &hi);
		for (size_t m = hi; m-- > lo;) {
			if (c->flags[c->by_parent[m].pos] & VISITED)
				continue;
			c->flags[c->by_parent[m].pos] |= VISITED;
			c->stack[sp++] = (struct frame){ c->by_parent[m], f.depth + 1 };
		}
	}
}

static int reserve(struct console *c, size_t n)
{
	size_t cap = c->cap ? c->cap : SCRATCH_MIN;
	char *block;

	if (n <= c->cap)
		return 0;
	while (cap < n)
		cap *= 2;
	block = malloc(cap * (2 * sizeof(struct ent) + sizeof(struct frame) + 1));
	if (!block)
		return -ENOMEM;
	free(c->by_parent);	/* the start of the old block */
	c->by_parent = (struct ent *)block;
	c->tops = c->by_parent + cap;
	c->stack = (struct frame *)(c->tops + cap);
	c->flags = (uint8_t *)(c->stack + cap);
	c->cap = cap;
	return 0;
}

static void print_group(struct console *c, struct sp_span *const *g, size_t n)
{
	const struct sp_span *root = NULL;
	uint64_t t0 = UINT64_MAX, t1 = 0;
	size_t nroots = 0, norphans = 0;
	bool partial = false, heading = false;
	char hex[33], name[256];

	for (size_t k = 0; k < n; k++) {
		partial |= g[k]->trace_partial;
		if (sp_id_is_zero(g[k]->parent_id, 8) && (!root || g[k]->start_ns < root->start_ns))
			root = g[k];
		t0 = g[k]->start_ns < t0 ? g[k]->start_ns : t0;
		t1 = g[k]->end_ns > t1 ? g[k]->end_ns : t1;
	}
	if (root) {	/* the root's time is the trace's */
		t0 = root->start_ns;
		t1 = root->end_ns;
	}
	sp_id_hex(g[0]->trace_id, 16, hex);
	clean(root && root->name ? root->name : "(root not in this group)", name, sizeof(name));
	fprintf(c->out, "trace %s  %s  %.3fs%s\n", hex, name, (t1 > t0 ? t1 - t0 : 0) / 1e9,
		partial ? "  (partial)" : "");
	c->groups++;
	c->partial_groups += partial;
	if (reserve(c, n)) {
		/* no memory for the index: the spans as they came, flat */
		for (size_t k = 0; k < n; k++)
			print_span(c, g[k], t0, t1, 0);
		return;
	}
	for (size_t k = 0; k < n; k++) {
		c->by_parent[k] = (struct ent){ g[k], (uint32_t)k };
		c->flags[k] = 0;
	}
	qsort(c->by_parent, n, sizeof(*c->by_parent), cmp_parent);
	for (size_t k = 0, lo, hi; k < n; k++) {
		if (sp_id_is_zero(c->by_parent[k].s->span_id, 8))
			continue;
		children(c, n, c->by_parent[k].s->span_id, &lo, &hi);
		for (size_t m = lo; m < hi; m++)
			c->flags[c->by_parent[m].pos] |= HAS_PARENT;
	}
	/* roots sort first (a zero parent id) and in start order already */
	for (size_t k = 0; k < n; k++)
		if (sp_id_is_zero(c->by_parent[k].s->parent_id, 8))
			c->tops[nroots++] = c->by_parent[k];
	for (size_t k = 0; k < n; k++)
		if (!sp_id_is_zero(c->by_parent[k].s->parent_id, 8) &&
		    !(c->flags[c->by_parent[k].pos] & HAS_PARENT))
			c->tops[nroots + norphans++] = c->by_parent[k];
	qsort(c->tops + nroots, norphans, sizeof(*c->tops), cmp_start);
	for (size_t k = 0; k < nroots; k++)
		print_subtree(c, n, c->tops[k], 0, t0, t1);
	if (norphans) {
		fprintf(c->out, "  (parent not in this group)\n");
		heading = true;
	}
	for (size_t k = 0; k < norphans; k++)
		print_subtree(c, n, c->tops[nroots + k], 1, t0, t1);
	c->orphans += norphans;
	/* what is left hangs in a parent cycle (bad input): drawn all the
	 * same, from its earliest span */
	norphans = 0;
	for (size_t k = 0; k < n; k++)
		if (!(c->flags[c->by_parent[k].pos] & VISITED))
			c->tops[norphans++] = c->by_parent[k];
	qsort(c->tops, norphans, sizeof(*c->tops), cmp_start);
	for (size_t k = 0; k < norphans; k++) {
		if (c->flags[c->tops[k].pos] & VISITED)
			continue;	/* drawn under an earlier one */
		if (!heading)
			fprintf(c->out, "  (parent not in this group)\n");
		heading = true;
		c->orphans++;
		print_subtree(c, n, c->tops[k], 1, t0, t1);
	}
}

static int console_export(struct sp_exporter *e, struct sp_span *const *spans, size_t n)
{
	struct console *c = e->priv;

	errno = 0;	/* a failed fprintf need not say why */
	sp_status_clear();	/* the live status line, if it shares the terminal */
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && !memcmp(spans[j]->trace_id, spans[i]->trace_id, 16); j++)
			;
		print_group(c, spans + i, j - i);
	}
	if (fflush(c->out) || ferror(c->out)) {
		int err = errno ? -errno : -EIO;

		if (!c->warned)
			sp_warn("cannot print the trace tree: %s", strerror(-err));
		c->warned = true;
		c->write_errors++;
		e->stats.errors++;
		e->stats.spans_dropped += n;
		clearerr(c->out);
		return err;
	}
	e->stats.spans_exported += n;
	return 0;
}

static void console_log_stats(struct sp_exporter *e, int level, bool final)
{
	struct console *c = e->priv;

	/* the trees themselves are on stdout: the counts are for -v, a loss
	 * for everyone */
	sp_log(c->write_errors ? SP_LOG_WARN : SP_LOG_DEBUG,
	       "console: %" PRIu64 " trace groups printed (%" PRIu64 " partial), %" PRIu64
	       " spans, %" PRIu64 " without their parent in the group; %" PRIu64
	       " write errors, %" PRIu64 " spans dropped",
	       c->groups, c->partial_groups, e->stats.spans_exported, c->orphans,
	       c->write_errors, e->stats.spans_dropped);
}

static int console_flush(struct sp_exporter *e)
{
	struct console *c = e->priv;

	return fflush(c->out) ? -errno : 0;
}

static void console_free(struct sp_exporter *e)
{
	struct console *c;

	if (!e)
		return;
	c = e->priv;
	if (c)
		free(c->by_parent);
	free(c);
	free(e);
}

struct sp_exporter *sp_console_exporter__new(FILE *out, bool color)
{
	struct sp_exporter *e = calloc(1, sizeof(*e));
	struct console *c = calloc(1, sizeof(*c));
	const char *no_color = getenv("NO_COLOR");

	if (!e || !c) {
		free(e);
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	c->out = out;
	c->color = color && !(no_color && *no_color);
	e->name = "console";
	e->export = console_export;
	e->flush = console_flush;
	e->free = console_free;
	e->log_stats = console_log_stats;
	e->priv = c;
	return e;
}
