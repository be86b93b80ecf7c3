// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * OTLP/JSON lines back into spans: one ExportTraceServiceRequest per line,
 * as exporters/otlp_json.c writes them (ids hex, 64-bit numbers as strings)
 * and as the Collector's file exporter does (the same, numbers sometimes
 * bare, enums sometimes by name). zlib's gzopen reads plain and gzip alike.
 * One line is parsed at a time with yajl's tree API and freed at once, so
 * memory holds the spans, never the file.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>
#include <zlib.h>
#include "report/report.h"
#include "util/log.h"

static char *dup_str(const char *s)
{
	return strdup(s ? s : "");
}

static const char *jstr(yajl_val v)
{
	return v && YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
}

static yajl_val jget(yajl_val obj, const char *key)
{
	if (!obj || !YAJL_IS_OBJECT(obj))
		return NULL;
	for (size_t i = 0; i < obj->u.object.len; i++)
		if (!strcmp(obj->u.object.keys[i], key))
			return obj->u.object.values[i];
	return NULL;
}

/* the text of a number written as a JSON number or as a decimal string */
static const char *jnum_text(yajl_val v)
{
	const char *s = NULL;

	if (v && YAJL_IS_NUMBER(v))
		s = v->u.number.r;
	else if (v && YAJL_IS_STRING(v))
		s = YAJL_GET_STRING(v);
	return s && *s ? s : NULL;
}

static bool jnum_u64(yajl_val v, uint64_t *out)
{
	const char *s = jnum_text(v);
	char *end;

	if (!s)
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return !errno && !*end;
}

static bool jnum_i64(yajl_val v, int64_t *out)
{
	const char *s = jnum_text(v);
	char *end;

	if (!s)
		return false;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return !errno && !*end;
}

/* an array element as text: its stringValue, or a number's decimal text */
static const char *elem_str(yajl_val e)
{
	const char *s = jstr(jget(e, "stringValue"));

	if (!s)
		s = jnum_text(jget(e, "intValue") ? jget(e, "intValue") : jget(e, "doubleValue"));
	return s ? s : "";
}

static void attrs_free(struct sp_rattrs *a)
{
	for (unsigned i = 0; i < a->n; i++) {
		free(a->a[i].key);
		free(a->a[i].s);
	}
	free(a->a);
	a->a = NULL;
	a->n = 0;
}

/* an AnyValue's array of strings (other element types: their JSON text
 * is not kept; a number becomes its decimal string) */
static int array_value(yajl_val arr, struct sp_rattr *ra)
{
	yajl_val vals = jget(arr, "values");
	size_t total = 0, n = 0;
	char *p;

	if (!vals || !YAJL_IS_ARRAY(vals))
		vals = NULL;
	for (size_t i = 0; vals && i < vals->u.array.len; i++) {
		total += strlen(elem_str(vals->u.array.values[i])) + 1;
	}
	ra->s = p = malloc(total + 1);
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; vals && i < vals->u.array.len; i++) {
		const char *s = elem_str(vals->u.array.values[i]);

		memcpy(p, s, strlen(s) + 1);
		p += strlen(s) + 1;
		n++;
	}
	ra->n = n;
	ra->t = SP_RA_ARR;
	return 0;
}

static int parse_attrs(yajl_val arr, struct sp_rattrs *out)
{
	size_t n;

	out->a = NULL;
	out->n = 0;
	if (!arr || !YAJL_IS_ARRAY(arr))
		return 0;
	n = arr->u.array.len < SP_REPORT_MAX_ATTRS ? arr->u.array.len : SP_REPORT_MAX_ATTRS;
	if (!n)
		return 0;
	out->a = calloc(n, sizeof(*out->a));
	if (!out->a)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		yajl_val kv = arr->u.array.values[i];
		const char *key = jstr(jget(kv, "key"));
		yajl_val val = jget(kv, "value"), x;
		struct sp_rattr *ra = &out->a[out->n];

		if (!key)
			continue;
		if ((x = jget(val, "stringValue"))) {
			ra->t = SP_RA_STR;
			ra->s = dup_str(jstr(x));
		} else if ((x = jget(val, "intValue"))) {
			ra->t = SP_RA_INT;
			if (!jnum_i64(x, &ra->i))
				continue;
		} else if ((x = jget(val, "doubleValue"))) {
			ra->t = SP_RA_DBL;
			if (YAJL_IS_NUMBER(x))
				ra->d = YAJL_GET_DOUBLE(x);
			else if (jstr(x))
				ra->d = strtod(jstr(x), NULL);	/* "NaN", "Infinity" */
			else
				continue;
		} else if ((x = jget(val, "boolValue"))) {
			ra->t = SP_RA_BOOL;
			ra->b = YAJL_IS_TRUE(x);
		} else if ((x = jget(val, "arrayValue"))) {
			if (array_value(x, ra))
				return -ENOMEM;
		} else {
			continue;	/* kvlist, bytes: not shown */
		}
		ra->key = strdup(key);
		if (!ra->key || (ra->t == SP_RA_STR && !ra->s))
			return -ENOMEM;
		out->n++;
	}
	return 0;
}

static int parse_kind(yajl_val v)
{
	static const char *names[] = { "SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL",
				       "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT",
				       "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER" };
	int64_t k;

	if (jstr(v))
		for (int i = 0; i < 6; i++)
			if (!strcmp(jstr(v), names[i]))
				return i;
	return jnum_i64(v, &k) && k >= 0 && k <= 5 ? (int)k : 0;
}

static int parse_status(yajl_val v)
{
	const char *s = jstr(v);
	int64_t c;

	if (s)
		return !strcmp(s, "STATUS_CODE_ERROR") ? 2 : !strcmp(s, "STATUS_CODE_OK") ? 1 : 0;
	return jnum_i64(v, &c) && c >= 0 && c <= 2 ? (int)c : 0;
}

static bool hex_id(const char *s, size_t n, char *out)
{
	if (!s || strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'F')
			c += 'a' - 'A';
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
		out[i] = c;
	}
	out[n] = 0;
	return true;
}

static void span_free(struct sp_rspan *s)
{
	if (!s)
		return;
	free(s->name);
	free(s->status_msg);
	attrs_free(&s->attrs);
	for (unsigned i = 0; i < s->nevents; i++) {
		free(s->events[i].name);
		attrs_free(&s->events[i].attrs);
	}
	free(s->events);
	free(s->kids);
	free(s);
}

void sp_rspan_free(struct sp_rspan *s);
void sp_rspan_free(struct sp_rspan *s)
{
	span_free(s);
}

/* 0, 1 (not a span: said), or -ENOMEM */
static int parse_span(struct sp_rmodel *m, yajl_val js, const struct sp_rres *res,
		      const char *file, unsigned lineno)
{
	struct sp_rspan *s;
	const char *parent = jstr(jget(js, "parentSpanId"));
	yajl_val st = jget(js, "status"), ev = jget(js, "events");
	int err = -ENOMEM;

	if (m->n >= SP_REPORT_MAX_SPANS) {
		m->dropped++;
		return 0;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (!hex_id(jstr(jget(js, "traceId")), 32, s->trace) ||
	    !hex_id(jstr(jget(js, "spanId")), 16, s->id) ||
	    (parent && *parent && !hex_id(parent, 16, s->parent)) ||
	    !jnum_u64(jget(js, "startTimeUnixNano"), &s->start) ||
	    !jnum_u64(jget(js, "endTimeUnixNano"), &s->end)) {
		sp_warn("%s:%u: a span without a valid traceId, spanId, parentSpanId or "
			"start/end time: skipped", file, lineno);
		span_free(s);
		return 1;
	}
	if (s->end < s->start)
		s->end = s->start;
	s->name = dup_str(jstr(jget(js, "name")));
	s->kind = parse_kind(jget(js, "kind"));
	s->status = parse_status(jget(st, "code"));
	s->status_msg = dup_str(jstr(jget(st, "message")));
	s->res = res;
	s->file = file;
	s->line = lineno;
	s->seq = m->lines;
	if (!s->name || !s->status_msg || parse_attrs(jget(js, "attributes"), &s->attrs))
		goto fail;
	if (ev && YAJL_IS_ARRAY(ev) && ev->u.array.len) {
		size_t n = ev->u.array.len < SP_REPORT_MAX_EVENTS ? ev->u.array.len :
			   SP_REPORT_MAX_EVENTS;

		s->events = calloc(n, sizeof(*s->events));
		if (!s->events)
			goto fail;
		for (size_t i = 0; i < n; i++) {
			yajl_val e = ev->u.array.values[i];
			struct sp_revent *re = &s->events[s->nevents++];

			re->name = dup_str(jstr(jget(e, "name")));
			jnum_u64(jget(e, "timeUnixNano"), &re->t);
			if (!re->name || parse_attrs(jget(e, "attributes"), &re->attrs))
				goto fail;
		}
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 1024;
		struct sp_rspan **p = realloc(m->spans, cap * sizeof(*p));

		if (!p)
			goto fail;
		m->spans = p;
		m->cap = cap;
	}
	m->spans[m->n++] = s;
	return 0;
fail:
	span_free(s);
	return err;
}

int sp_report_read_line(struct sp_rmodel *m, const char *line, size_t len,
			const char *file, unsigned lineno)
{
	char err[256];
	yajl_val root, rs;
	int ret = 0;
	size_t got = 0;

	(void)len;
	m->lines++;
	root = yajl_tree_parse(line, err, sizeof(err));
	if (!root) {
		char *nl = strchr(err, '\n');

		if (nl)
			*nl = 0;
		sp_warn("%s:%u: not JSON (truncated?): %s", file, lineno, err);
		m->bad_lines++;
		return -EINVAL;
	}
	rs = jget(root, "resourceSpans");
	if (!rs || !YAJL_IS_ARRAY(rs)) {
		sp_warn("%s:%u: not OTLP/JSON traces (no \"resourceSpans\" array): skipped",
			file, lineno);
		m->bad_lines++;
		ret = -EINVAL;
		goto cleanup;
	}
	for (size_t r = 0; r < rs->u.array.len; r++) {
		yajl_val rsp = rs->u.array.values[r];
		yajl_val ss = jget(rsp, "scopeSpans");
		struct sp_rres *res;

		if (!ss)	/* older collectors: instrumentationLibrarySpans */
			ss = jget(rsp, "instrumentationLibrarySpans");
		res = calloc(1, sizeof(*res));
		if (!res || parse_attrs(jget(jget(rsp, "resource"), "attributes"), &res->attrs)) {
			free(res);
			ret = -ENOMEM;
			goto cleanup;
		}
		res->next = m->res;
		m->res = res;
		for (size_t k = 0; ss && YAJL_IS_ARRAY(ss) && k < ss->u.array.len; k++) {
			yajl_val sc = ss->u.array.values[k], spans = jget(sc, "spans");

			for (size_t i = 0; spans && YAJL_IS_ARRAY(spans) && i < spans->u.array.len;
			     i++) {
				int e = parse_span(m, spans->u.array.values[i], res, file, lineno);

				if (e < 0) {
					ret = e;
					goto cleanup;
				}
				got += !e;
			}
		}
	}
cleanup:
	yajl_tree_free(root);
	return ret;
}

int sp_report_read(struct sp_rmodel *m, const char *path)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	unsigned lineno = 0;
	gzFile f;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	f = gzopen(path, "rb");
	if (!f) {
		err = errno ? -errno : -ENOMEM;
		sp_err("cannot open %s: %s", path, strerror(-err));
		free(buf);
		return err;
	}
	gzbuffer(f, 1 << 17);
	for (;;) {
		bool eof;

		/* one whole line, however long */
		len = 0;
		buf[0] = 0;
		while (gzgets(f, buf + len, (int)(cap - len))) {
			len += strlen(buf + len);
			if (len && buf[len - 1] == '\n')
				break;
			if (cap - len < 2) {
				char *p = realloc(buf, 2 * cap);

				if (!p) {
					err = -ENOMEM;
					goto cleanup;
				}
				buf = p;
				cap *= 2;
			}
		}
		eof = !len;
		if (eof)
			break;
		lineno++;
		if (buf[len - 1] != '\n' && !gzeof(f)) {
			int e;

			sp_err("%s:%u: read error: %s", path, lineno, gzerror(f, &e));
			m->bad_lines++;
			break;
		}
		while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			buf[--len] = 0;
		if (!len)
			continue;
		err = sp_report_read_line(m, buf, len, path, lineno);
		if (err == -ENOMEM)
			goto cleanup;
		err = 0;
	}
	{
		int e;
		const char *msg = gzerror(f, &e);

		if (e && e != Z_STREAM_END && e != Z_BUF_ERROR)
			sp_warn("%s: %s (after line %u)", path, msg, lineno);
		else if (e == Z_BUF_ERROR)
			sp_warn("%s: the gzip stream ends early (after line %u)", path, lineno);
	}
cleanup:
	gzclose(f);
	free(buf);
	return err;
}

const struct sp_rattr *sp_rattrs_get(const struct sp_rattrs *a, const char *key)
{
	for (unsigned i = 0; a && i < a->n; i++)
		if (!strcmp(a->a[i].key, key))
			return &a->a[i];
	return NULL;
}

bool sp_rattrs_num(const struct sp_rattrs *a, const char *key, double *out)
{
	const struct sp_rattr *x = sp_rattrs_get(a, key);
	char *end;

	if (!x)
		return false;
	switch (x->t) {
	case SP_RA_INT:
		*out = (double)x->i;
		return true;
	case SP_RA_DBL:
		*out = x->d;
		return true;
	case SP_RA_STR:
		*out = strtod(x->s, &end);
		return end != x->s && !*end;
	default:
		return false;
	}
}

const char *sp_rattrs_str(const struct sp_rattrs *a, const char *key)
{
	const struct sp_rattr *x = sp_rattrs_get(a, key);

	return x && x->t == SP_RA_STR ? x->s : NULL;
}
