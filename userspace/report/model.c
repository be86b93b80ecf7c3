// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The spans read, made into traces: de-duplicated by (trace id, span id)
 * (the first read wins: two files holding the same spans report once),
 * linked to their parents, a span whose parent is absent kept as an orphan
 * at its trace's top level. Memory: at most SP_REPORT_MAX_SPANS spans.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "report/report.h"

void sp_rspan_free(struct sp_rspan *s);

void sp_rmodel_init(struct sp_rmodel *m)
{
	memset(m, 0, sizeof(*m));
}

static int by_id(const void *a, const void *b)
{
	const struct sp_rspan *x = *(struct sp_rspan *const *)a, *y = *(struct sp_rspan *const *)b;
	int c = strcmp(x->trace, y->trace);

	return c ? c : strcmp(x->id, y->id);
}

static int by_start(const void *a, const void *b)
{
	const struct sp_rspan *x = *(struct sp_rspan *const *)a, *y = *(struct sp_rspan *const *)b;
	int c = strcmp(x->trace, y->trace);

	if (c)
		return c;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->end != y->end)	/* the enclosing span first */
		return x->end > y->end ? -1 : 1;
	return strcmp(x->id, y->id);
}

const char *sp_rclass_name(enum sp_rclass c)
{
	static const char *n[] = { "agent", "llm", "tool", "http", "mcp", "process", "other" };

	return n[c];
}

const char *sp_rkind_name(int kind)
{
	static const char *n[] = { "INTERNAL", "INTERNAL", "SERVER", "CLIENT", "PRODUCER",
				   "CONSUMER" };

	return kind >= 0 && kind <= 5 ? n[kind] : "INTERNAL";
}

const char *sp_rstatus_name(int status)
{
	return status == 2 ? "ERROR" : status == 1 ? "OK" : "UNSET";
}

enum sp_rclass sp_rspan_class(const struct sp_rspan *s)
{
	const char *op = sp_rattrs_str(&s->attrs, "gen_ai.operation.name");
	const char *oi = sp_rattrs_str(&s->attrs, "openinference.span.kind");

	if (sp_rattrs_get(&s->attrs, "mcp.method.name"))
		return SP_RC_MCP;
	if ((op && !strcmp(op, "invoke_agent")) || (oi && !strcmp(oi, "AGENT")))
		return SP_RC_AGENT;
	if ((op && (!strcmp(op, "chat") || !strcmp(op, "text_completion") ||
		    !strcmp(op, "embeddings") || !strcmp(op, "generate_content"))) ||
	    (oi && (!strcmp(oi, "LLM") || !strcmp(oi, "EMBEDDING"))))
		return SP_RC_LLM;
	if ((op && !strcmp(op, "execute_tool")) || (oi && !strcmp(oi, "TOOL")))
		return SP_RC_TOOL;
	if (sp_rattrs_get(&s->attrs, "process.command_line") ||
	    sp_rattrs_get(&s->attrs, "process.exit.code"))
		/* the traced program itself is the run, not a tool */
		return s->parent[0] ? SP_RC_PROCESS : SP_RC_AGENT;
	if (sp_rattrs_get(&s->attrs, "http.request.method") ||
	    sp_rattrs_get(&s->attrs, "rpc.system"))
		return SP_RC_HTTP;
	return SP_RC_OTHER;
}

int sp_rfilter_parse(struct sp_rfilter *f, char *arg)
{
	char *eq = strchr(arg, '=');

	if (!eq || eq == arg)
		return -EINVAL;
	*eq = 0;
	f->key = arg;
	f->value = eq + 1;
	f->matched = 0;
	return 0;
}

bool sp_rfilter_match(const struct sp_rfilter *f, const struct sp_rspan *s)
{
	const struct sp_rattr *a;
	char buf[32];

	if (!strcmp(f->key, "name"))
		return !strcmp(s->name, f->value);
	if (!strcmp(f->key, "kind"))
		return !strcasecmp(sp_rkind_name(s->kind), f->value);
	if (!strcmp(f->key, "status"))
		return !strcasecmp(sp_rstatus_name(s->status), f->value);
	if (!strcmp(f->key, "class"))
		return !strcmp(sp_rclass_name(s->cls), f->value);
	a = sp_rattrs_get(&s->attrs, f->key);
	if (!a && s->res)
		a = sp_rattrs_get(&s->res->attrs, f->key);
	if (!a)
		return false;
	switch (a->t) {
	case SP_RA_STR:
		return !strcmp(a->s, f->value);
	case SP_RA_INT:
		snprintf(buf, sizeof(buf), "%lld", (long long)a->i);
		return !strcmp(buf, f->value);
	case SP_RA_DBL:
		return a->d == strtod(f->value, NULL);
	case SP_RA_BOOL:
		return !strcmp(a->b ? "true" : "false", f->value);
	case SP_RA_ARR: {
		const char *v = a->s;

		for (unsigned i = 0; i < a->n; i++, v += strlen(v) + 1)
			if (!strcmp(v, f->value))
				return true;
		return false;
	}
	}
	return false;
}

static bool selected(struct sp_rspan *s, struct sp_report_opts *o)
{
	bool ok = true;

	if (o->trace && strncmp(s->trace, o->trace, strlen(o->trace)))
		return false;
	if (o->since && s->end < o->since)
		return false;
	if (o->until && s->start > o->until)
		return false;
	for (int i = 0; i < o->nfilters; i++) {
		if (sp_rfilter_match(&o->filters[i], s))
			o->filters[i].matched++;
		else
			ok = false;
	}
	return ok;
}

int sp_rmodel_build(struct sp_rmodel *m, const struct sp_report_opts *oc)
{
	struct sp_report_opts *o = (struct sp_report_opts *)oc;
	size_t w = 0, t0;

	if (!m->n)
		return 0;
	qsort(m->spans, m->n, sizeof(*m->spans), by_id);
	/* equal (trace, id): keep the first read (stable by file order) */
	for (size_t i = 0; i < m->n; i++) {
		struct sp_rspan *s = m->spans[i];

		if (w && !by_id(&m->spans[w - 1], &s)) {
			struct sp_rspan *k = m->spans[w - 1];

			if (k->seq > s->seq) {
				m->spans[w - 1] = s;
				s = k;
			}
			m->duplicates++;
			sp_rspan_free(s);
			continue;
		}
		m->spans[w++] = s;
	}
	m->n = w;
	/* parents: a binary search within the trace's run of ids */
	for (size_t i = 0; i < m->n; i++) {
		struct sp_rspan *s = m->spans[i], key, *kp = &key, **hit;

		s->cls = sp_rspan_class(s);
		s->selected = selected(s, o);
		if (!s->parent[0])
			continue;
		memcpy(key.trace, s->trace, sizeof(key.trace));
		memcpy(key.id, s->parent, sizeof(key.id));
		hit = bsearch(&kp, m->spans, m->n, sizeof(*m->spans), by_id);
		if (hit && *hit != s) {
			s->up = *hit;
		} else {
			s->orphan = true;
			m->orphans++;
		}
	}
	/* a parent cycle (bad input) or a chain deeper than the bound: cut at
	 * the span, which becomes an orphan, so every walk up ends */
	for (size_t i = 0; i < m->n; i++) {
		struct sp_rspan *s = m->spans[i], *p = s->up;
		unsigned d = 0;

		while (p && ++d <= SP_REPORT_MAX_DEPTH)
			p = p->up;
		if (p) {
			s->up = NULL;
			s->orphan = true;
			m->orphans++;
		}
	}
	for (size_t i = 0; i < m->n; i++) {
		struct sp_rspan *s = m->spans[i], *p = s->up, **k;

		if (!p)
			continue;
		k = realloc(p->kids, (p->nkids + 1) * sizeof(*k));
		if (!k)
			return -ENOMEM;
		p->kids = k;
		p->kids[p->nkids++] = s;
	}
	/* a subprocess that only carries a model call is no tool */
	for (size_t i = 0; i < m->n; i++) {
		if (m->spans[i]->cls != SP_RC_LLM)
			continue;
		for (struct sp_rspan *p = m->spans[i]->up;
		     p && p->cls != SP_RC_TOOL && p->cls != SP_RC_AGENT; p = p->up)
			if (p->cls == SP_RC_PROCESS)
				p->carrier = true;
	}
	qsort(m->spans, m->n, sizeof(*m->spans), by_start);
	for (size_t i = 0; i < m->n; i++) {
		struct sp_rspan *s = m->spans[i];

		if (s->nkids > 1)
			qsort(s->kids, s->nkids, sizeof(*s->kids), by_start);
		m->ntraces += !i || strcmp(m->spans[i - 1]->trace, s->trace);
	}
	m->traces = calloc(m->ntraces, sizeof(*m->traces));
	if (!m->traces)
		return -ENOMEM;
	t0 = 0;
	for (size_t i = 0, k = 0; i <= m->n; i++) {
		struct sp_rtrace *t;

		if (i < m->n && !strcmp(m->spans[i]->trace, m->spans[t0]->trace))
			continue;
		t = &m->traces[k++];
		memcpy(t->id, m->spans[t0]->trace, sizeof(t->id));
		t->spans = &m->spans[t0];
		t->n = (unsigned)(i - t0);
		t->start = UINT64_MAX;
		for (unsigned j = 0; j < t->n; j++) {
			struct sp_rspan *s = t->spans[j];

			s->tr = t;
			if (!s->parent[0] && !t->root)
				t->root = s;
			t->start = s->start < t->start ? s->start : t->start;
			t->end = s->end > t->end ? s->end : t->end;
			t->nselected += s->selected;
		}
		sp_rtrace_sum(t);
		t0 = i;
	}
	return 0;
}

void sp_rmodel_free(struct sp_rmodel *m)
{
	for (size_t i = 0; i < m->n; i++)
		sp_rspan_free(m->spans[i]);
	free(m->spans);
	free(m->traces);
	while (m->res) {
		struct sp_rres *r = m->res;

		m->res = r->next;
		for (unsigned i = 0; i < r->attrs.n; i++) {
			free(r->attrs.a[i].key);
			free(r->attrs.a[i].s);
		}
		free(r->attrs.a);
		free(r);
	}
	memset(m, 0, sizeof(*m));
}
