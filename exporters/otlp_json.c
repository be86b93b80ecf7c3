// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * JSON is written with yajl's generator (Debian libyajl-dev): it escapes
 * strings correctly and is the same library the LLM decoder uses to parse
 * bodies incrementally, so spanprobe carries one JSON dependency.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include "otlp_group.h"
#include "otlp_json.h"

#define STR(g, s) yajl_gen_string(g, (const unsigned char *)(s), strlen(s))

static void gen_u64(yajl_gen g, uint64_t v)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%" PRIu64, v);

	yajl_gen_string(g, (const unsigned char *)buf, n);
}

static void gen_hex(yajl_gen g, const uint8_t *id, size_t n)
{
	char hex[33];

	sp_id_hex(id, n, hex);
	yajl_gen_string(g, (const unsigned char *)hex, 2 * n);
}

static void gen_attr(yajl_gen g, const struct sp_attr *a)
{
	char buf[24];

	yajl_gen_map_open(g);
	STR(g, "key");
	STR(g, a->key);
	STR(g, "value");
	yajl_gen_map_open(g);
	switch (a->type) {
	case SP_ATTR_STR:
		STR(g, "stringValue");
		STR(g, a->s);
		break;
	case SP_ATTR_INT:
		STR(g, "intValue");
		snprintf(buf, sizeof(buf), "%" PRId64, a->i);
		STR(g, buf);
		break;
	case SP_ATTR_DOUBLE:
		STR(g, "doubleValue");
		if (isfinite(a->d))
			yajl_gen_double(g, a->d);
		else	/* the JSON mapping spells these as strings */
			STR(g, isnan(a->d) ? "NaN" : a->d > 0 ? "Infinity" : "-Infinity");
		break;
	case SP_ATTR_BOOL:
		STR(g, "boolValue");
		yajl_gen_bool(g, a->b);
		break;
	case SP_ATTR_STR_ARRAY: {
		const char *v = a->s;

		STR(g, "arrayValue");
		yajl_gen_map_open(g);
		STR(g, "values");
		yajl_gen_array_open(g);
		for (unsigned i = 0; i < a->n; i++, v += strlen(v) + 1) {
			yajl_gen_map_open(g);
			STR(g, "stringValue");
			STR(g, v);
			yajl_gen_map_close(g);
		}
		yajl_gen_array_close(g);
		yajl_gen_map_close(g);
		break;
	}
	}
	yajl_gen_map_close(g);
	yajl_gen_map_close(g);
}

static void gen_attrs(yajl_gen g, const struct sp_attr *attrs, size_t n)
{
	STR(g, "attributes");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < n; i++)
		gen_attr(g, &attrs[i]);
	yajl_gen_array_close(g);
}

static void gen_resource(yajl_gen g, const struct sp_resource *r)
{
	struct sp_attr a[SP_RES_MAX_ATTRS];
	size_t n = sp_resource_span_attrs(r, a, SP_RES_MAX_ATTRS);

	STR(g, "resource");
	yajl_gen_map_open(g);
	gen_attrs(g, a, n);
	yajl_gen_map_close(g);
}

static void gen_span(yajl_gen g, const struct sp_span *s)
{
	yajl_gen_map_open(g);
	STR(g, "traceId");
	gen_hex(g, s->trace_id, sizeof(s->trace_id));
	STR(g, "spanId");
	gen_hex(g, s->span_id, sizeof(s->span_id));
	if (!sp_id_is_zero(s->parent_id, sizeof(s->parent_id))) {
		STR(g, "parentSpanId");
		gen_hex(g, s->parent_id, sizeof(s->parent_id));
	}
	if (s->trace_state) {
		STR(g, "traceState");
		STR(g, s->trace_state);
	}
	STR(g, "flags");
	yajl_gen_integer(g, 0x101 | (s->remote_parent ? 0x200 : 0));
	STR(g, "name");
	STR(g, s->name);
	STR(g, "kind");
	yajl_gen_integer(g, s->kind);
	STR(g, "startTimeUnixNano");
	gen_u64(g, s->start_ns);
	STR(g, "endTimeUnixNano");
	gen_u64(g, s->end_ns);
	gen_attrs(g, s->attrs, s->nattrs);
	if (s->dropped_attrs) {
		STR(g, "droppedAttributesCount");
		yajl_gen_integer(g, s->dropped_attrs);
	}
	if (s->nevents) {
		STR(g, "events");
		yajl_gen_array_open(g);
		for (unsigned i = 0; i < s->nevents; i++) {
			const struct sp_event *e = &s->events[i];

			yajl_gen_map_open(g);
			STR(g, "timeUnixNano");
			gen_u64(g, e->time_ns);
			STR(g, "name");
			STR(g, e->name);
			gen_attrs(g, e->attrs, e->nattrs);
			yajl_gen_map_close(g);
		}
		yajl_gen_array_close(g);
	}
	if (s->dropped_events) {
		STR(g, "droppedEventsCount");
		yajl_gen_integer(g, s->dropped_events);
	}
	STR(g, "status");
	yajl_gen_map_open(g);
	if (s->status_msg && s->status_msg[0]) {
		STR(g, "message");
		STR(g, s->status_msg);
	}
	STR(g, "code");
	yajl_gen_integer(g, s->status);
	yajl_gen_map_close(g);
	yajl_gen_map_close(g);
}

int sp_otlp_json__encode(struct sp_span *const *spans, size_t n, char **out, size_t *out_len)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	struct sp_otlp_groups *groups = sp_otlp_groups__new(spans, n);
	const unsigned char *buf;
	size_t len;
	int err = 0;

	*out = NULL;
	if (!g || !groups) {
		err = -ENOMEM;
		goto cleanup;
	}
	yajl_gen_config(g, yajl_gen_validate_utf8, 1);
	yajl_gen_map_open(g);
	STR(g, "resourceSpans");
	yajl_gen_array_open(g);
	for (uint32_t r = 0; r < groups->n; r++) {
		const struct sp_otlp_group *grp = &groups->group[r];

		yajl_gen_map_open(g);
		gen_resource(g, grp->res);
		STR(g, "scopeSpans");
		yajl_gen_array_open(g);
		yajl_gen_map_open(g);
		STR(g, "scope");
		yajl_gen_map_open(g);
		STR(g, "name");
		STR(g, SP_SCOPE_NAME);
		STR(g, "version");
		STR(g, SPANPROBE_VERSION);
		yajl_gen_map_close(g);
		STR(g, "spans");
		yajl_gen_array_open(g);
		for (uint32_t k = 0; k < grp->count; k++)
			gen_span(g, spans[groups->idx[grp->first + k]]);
		yajl_gen_array_close(g);
		yajl_gen_map_close(g);
		yajl_gen_array_close(g);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	if (yajl_gen_map_close(g) != yajl_gen_status_ok ||
	    yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
		err = -EINVAL;
		goto cleanup;
	}
	*out = malloc(len + 1);
	if (!*out) {
		err = -ENOMEM;
		goto cleanup;
	}
	memcpy(*out, buf, len);
	(*out)[len] = 0;
	*out_len = len;
cleanup:
	free(groups);
	if (g)
		yajl_gen_free(g);
	return err;
}
