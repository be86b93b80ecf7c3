// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Messages are built over borrowed strings (the spans' arenas), in one
 * block sized by a counting pass, then __get_packed_size and __pack into
 * one buffer: no allocation per attribute.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "otlp_group.h"
#include "otlp_json.h"
#include "otlp_proto.h"

typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__ArrayValue ArrayValue;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Trace__V1__Span__Event Event;
typedef Opentelemetry__Proto__Trace__V1__Status Status;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest Request;

struct arena {
	char *p, *end;
};

static void *take(struct arena *a, size_t size)
{
	void *r = a->p;

	size = (size + 15) & ~(size_t)15;
	if (size > (size_t)(a->end - a->p))
		abort();	/* the counting pass is wrong: a bug, not input */
	a->p += size;
	return r;
}

/* KeyValue + AnyValue pair for one attribute */
struct kv {
	KeyValue kv;
	AnyValue v;
};

/* An array value: its AnyValues come from the arena. */
static void array_of(struct arena *ar, AnyValue *v, const struct sp_attr *a)
{
	ArrayValue *arr = take(ar, sizeof(*arr));
	AnyValue *items = take(ar, a->n * sizeof(*items));
	const char *s = a->s;

	*arr = (ArrayValue)OPENTELEMETRY__PROTO__COMMON__V1__ARRAY_VALUE__INIT;
	arr->n_values = a->n;
	arr->values = take(ar, a->n * sizeof(*arr->values));
	for (unsigned i = 0; i < a->n; i++, s += strlen(s) + 1) {
		items[i] = (AnyValue)OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
		items[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
		items[i].string_value = (char *)s;
		arr->values[i] = &items[i];
	}
	v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
	v->array_value = arr;
}

static KeyValue *kv_of(struct arena *ar, struct kv *s, const struct sp_attr *a)
{
	s->kv = (KeyValue)OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
	s->v = (AnyValue)OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
	s->kv.key = (char *)a->key;
	s->kv.value = &s->v;
	switch (a->type) {
	case SP_ATTR_STR:
		s->v.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
		s->v.string_value = (char *)a->s;
		break;
	case SP_ATTR_INT:
		s->v.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
		s->v.int_value = a->i;
		break;
	case SP_ATTR_DOUBLE:
		s->v.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
		s->v.double_value = a->d;
		break;
	case SP_ATTR_BOOL:
		s->v.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
		s->v.bool_value = a->b;
		break;
	case SP_ATTR_STR_ARRAY:
		array_of(ar, &s->v, a);
		break;
	}
	return &s->kv;
}

static KeyValue **attrs_of(struct arena *ar, const struct sp_attr *a, size_t n)
{
	KeyValue **list = take(ar, n * sizeof(*list));
	struct kv *kvs = take(ar, n * sizeof(*kvs));

	for (size_t i = 0; i < n; i++)
		list[i] = kv_of(ar, &kvs[i], &a[i]);
	return list;
}

static Span *span_of(struct arena *ar, struct sp_span *s)
{
	Span *m = take(ar, sizeof(*m));
	Status *st = take(ar, sizeof(*st));

	*m = (Span)OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
	*st = (Status)OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
	m->trace_id = (ProtobufCBinaryData){ sizeof(s->trace_id), s->trace_id };
	m->span_id = (ProtobufCBinaryData){ sizeof(s->span_id), s->span_id };
	if (!sp_id_is_zero(s->parent_id, sizeof(s->parent_id)))
		m->parent_span_id = (ProtobufCBinaryData){ sizeof(s->parent_id), s->parent_id };
	/* W3C trace flags: sampled; bit 8 says whether the parent is remote
	 * is known, bit 9 that it is (a traceparent header's span) */
	m->flags = 0x01 | 0x100 | (s->remote_parent ? 0x200 : 0);
	if (s->trace_state)
		m->trace_state = (char *)s->trace_state;
	m->name = (char *)s->name;
	m->kind = s->kind;
	m->start_time_unix_nano = s->start_ns;
	m->end_time_unix_nano = s->end_ns;
	m->n_attributes = s->nattrs;
	m->attributes = attrs_of(ar, s->attrs, s->nattrs);
	m->dropped_attributes_count = s->dropped_attrs;
	m->n_events = s->nevents;
	m->events = take(ar, s->nevents * sizeof(*m->events));
	for (unsigned i = 0; i < s->nevents; i++) {
		Event *e = take(ar, sizeof(*e));

		*e = (Event)OPENTELEMETRY__PROTO__TRACE__V1__SPAN__EVENT__INIT;
		e->time_unix_nano = s->events[i].time_ns;
		e->name = (char *)s->events[i].name;
		e->n_attributes = s->events[i].nattrs;
		e->attributes = attrs_of(ar, s->events[i].attrs, s->events[i].nattrs);
		m->events[i] = e;
	}
	m->dropped_events_count = s->dropped_events;
	st->code = s->status;
	if (s->status_msg)
		st->message = (char *)s->status_msg;
	m->status = st;
	return m;
}

static Resource *resource_of(struct arena *ar, const struct sp_resource *r)
{
	struct sp_attr *a = take(ar, SP_RES_MAX_ATTRS * sizeof(*a));
	Resource *m = take(ar, sizeof(*m));
	size_t n = sp_resource_span_attrs(r, a, SP_RES_MAX_ATTRS);

	*m = (Resource)OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
	m->n_attributes = n;
	m->attributes = attrs_of(ar, a, n);
	return m;
}

/* Upper bound of the arena a batch needs. */
static size_t arena_size(struct sp_span *const *spans, size_t n)
{
	size_t per_kv = 16 + sizeof(KeyValue *) + sizeof(struct kv) + 16;
	size_t sz = 256 + n * (sizeof(ResourceSpans *) + sizeof(ResourceSpans) + sizeof(ScopeSpans) +
			       sizeof(ScopeSpans *) + sizeof(Scope) + sizeof(Span *) * 2 +
			       SP_RES_MAX_ATTRS * (sizeof(struct sp_attr) + per_kv) +
			       sizeof(Resource) + 6 * 16);

	for (size_t i = 0; i < n; i++) {
		for (unsigned k = 0; k < spans[i]->nattrs; k++)
			if (spans[i]->attrs[k].type == SP_ATTR_STR_ARRAY)
				sz += sizeof(ArrayValue) + 32 +
				      spans[i]->attrs[k].n * (sizeof(AnyValue) + sizeof(AnyValue *) + 32);
		sz += sizeof(Span) + sizeof(Status) + 48 + spans[i]->nattrs * per_kv +
		      spans[i]->nevents * (sizeof(Event) + sizeof(Event *) + 32);
		for (unsigned e = 0; e < spans[i]->nevents; e++)
			sz += spans[i]->events[e].nattrs * per_kv + 16;
	}
	return sz;
}

int sp_otlp_proto__encode(struct sp_span *const *spans, size_t n, uint8_t **out, size_t *out_len)
{
	Request req = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
	size_t cap = arena_size(spans, n);
	char *block = malloc(cap);
	struct arena ar = { block, block + cap };
	struct sp_otlp_groups *groups = sp_otlp_groups__new(spans, n);
	int err = 0;

	*out = NULL;
	if (!block || !groups) {
		err = -ENOMEM;
		goto cleanup;
	}
	req.resource_spans = take(&ar, groups->n * sizeof(*req.resource_spans));
	for (uint32_t r = 0; r < groups->n; r++) {
		const struct sp_otlp_group *grp = &groups->group[r];
		ResourceSpans *rs = take(&ar, sizeof(*rs));
		ScopeSpans *ss = take(&ar, sizeof(*ss));
		Scope *scope = take(&ar, sizeof(*scope));

		*rs = (ResourceSpans)OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
		*ss = (ScopeSpans)OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
		*scope = (Scope)OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
		scope->name = SP_SCOPE_NAME;
		scope->version = SPANPROBE_VERSION;
		ss->scope = scope;
		ss->spans = take(&ar, grp->count * sizeof(*ss->spans));
		for (uint32_t k = 0; k < grp->count; k++)
			ss->spans[ss->n_spans++] = span_of(&ar, spans[groups->idx[grp->first + k]]);
		rs->resource = resource_of(&ar, grp->res);
		rs->n_scope_spans = 1;
		rs->scope_spans = take(&ar, sizeof(*rs->scope_spans));
		rs->scope_spans[0] = ss;
		req.resource_spans[req.n_resource_spans++] = rs;
	}
	*out_len = opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(&req);
	*out = malloc(*out_len ? *out_len : 1);
	if (!*out) {
		err = -ENOMEM;
		goto cleanup;
	}
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(&req, *out);
cleanup:
	free(groups);
	free(block);
	return err;
}
