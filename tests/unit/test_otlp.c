// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * OTLP: a span tree encoded to protobuf and decoded back with protobuf-c;
 * both encoders group a batch by resource the same way;
 * exporter configuration from OTEL_* variables and flags, bad values
 * included; resource attributes from the environments.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <yajl/yajl_tree.h>
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "util/log.h"
#include "exporters/otlp_config.h"
#include "exporters/otlp_json.h"
#include "exporters/otlp_proto.h"
#include "model/resource.h"
#include "model/span.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest Request;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;

static const KeyValue *find_kv(KeyValue **kvs, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(kvs[i]->key, key))
			return kvs[i];
	fail_msg("no attribute %s", key);
	return NULL;
}

static struct sp_resource *make_res(uint32_t pid, const char *exe)
{
	struct sp_resource *r = sp_resource__new();

	r->pid = pid;
	snprintf(r->exe_name, sizeof(r->exe_name), "%s", exe);
	sp_resource__finish(r, NULL);
	return r;
}

static void test_proto_round_trip(void **state)
{
	struct sp_resource *ra = make_res(10, "python3"), *rb = make_res(11, "curl");
	struct sp_span *s[3];
	uint8_t *buf;
	size_t len;
	Request *req;
	struct sp_event *ev;

	for (int i = 0; i < 3; i++)
		s[i] = calloc(1, sizeof(*s[i]));
	sp_span__init(s[0], "python3 agent.py", 16, SP_KIND_INTERNAL, ra);
	sp_random_id(s[0]->trace_id, 16);
	s[0]->start_ns = 1000;
	s[0]->end_ns = 5000000000ull;
	sp_span__set_int(s[0], "process.exit.code", 3);
	sp_span__set_status(s[0], SP_STATUS_ERROR, "exit code 3");
	sp_span__init(s[1], "GET /x", 6, SP_KIND_CLIENT, rb);
	memcpy(s[1]->trace_id, s[0]->trace_id, 16);
	memcpy(s[1]->parent_id, s[0]->span_id, 8);
	s[1]->start_ns = 2000;
	s[1]->end_ns = 3000;
	sp_span__set_str(s[1], "url.full", "https://h/x", 11);
	sp_span__set_int(s[1], "http.response.status_code", 200);
	sp_span__set_double(s[1], "d", 0.5);
	sp_span__set_bool(s[1], "b", true);
	ev = sp_span__add_event(s[1], "first chunk", 2500);
	ev->attrs[ev->nattrs++] = (struct sp_attr){ .key = "k", .type = SP_ATTR_STR, .s = "v" };
	sp_span__init(s[2], "GET /y", 6, SP_KIND_SERVER, ra);

	assert_int_equal(sp_otlp_proto__encode(s, 3, &buf, &len), 0);
	req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
		NULL, len, buf);
	assert_non_null(req);
	/* grouped by resource: python3 (spans 0 and 2), then curl */
	assert_int_equal(req->n_resource_spans, 2);
	{
		Opentelemetry__Proto__Trace__V1__ResourceSpans *r0 = req->resource_spans[0];
		Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = r0->scope_spans[0];
		Opentelemetry__Proto__Trace__V1__Span *root = ss->spans[0];
		const KeyValue *kv;

		assert_string_equal(ss->scope->name, "spanprobe");
		assert_string_equal(ss->scope->version, SPANPROBE_VERSION);
		assert_int_equal(ss->n_spans, 2);
		kv = find_kv(r0->resource->attributes, r0->resource->n_attributes, "service.name");
		assert_string_equal(kv->value->string_value, "python3");
		kv = find_kv(r0->resource->attributes, r0->resource->n_attributes, "process.pid");
		assert_int_equal(kv->value->int_value, 10);
		kv = find_kv(r0->resource->attributes, r0->resource->n_attributes, "telemetry.sdk.name");
		assert_string_equal(kv->value->string_value, "spanprobe");
		assert_int_equal(root->trace_id.len, 16);
		assert_memory_equal(root->trace_id.data, s[0]->trace_id, 16);
		assert_int_equal(root->span_id.len, 8);
		assert_int_equal(root->parent_span_id.len, 0);	/* a root: empty */
		assert_string_equal(root->name, "python3 agent.py");
		assert_int_equal(root->kind, 1);
		assert_int_equal(root->start_time_unix_nano, 1000);
		assert_int_equal(root->end_time_unix_nano, 5000000000ull);
		assert_int_equal(root->status->code, 2);
		assert_string_equal(root->status->message, "exit code 3");
		assert_int_equal(root->flags & 0xff, 1);
		kv = find_kv(root->attributes, root->n_attributes, "process.exit.code");
		assert_int_equal(kv->value->value_case,
				 OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE);
		assert_int_equal(kv->value->int_value, 3);
		assert_int_equal(ss->spans[1]->kind, 2);
	}
	{
		Opentelemetry__Proto__Trace__V1__Span *c = req->resource_spans[1]->scope_spans[0]->spans[0];
		const KeyValue *kv;

		assert_memory_equal(c->parent_span_id.data, s[0]->span_id, 8);
		assert_memory_equal(c->trace_id.data, s[0]->trace_id, 16);
		kv = find_kv(c->attributes, c->n_attributes, "url.full");
		assert_string_equal(kv->value->string_value, "https://h/x");
		kv = find_kv(c->attributes, c->n_attributes, "d");
		assert_true(kv->value->double_value == 0.5);
		kv = find_kv(c->attributes, c->n_attributes, "b");
		assert_true(kv->value->bool_value);
		assert_int_equal(c->n_events, 1);
		assert_string_equal(c->events[0]->name, "first chunk");
		assert_int_equal(c->events[0]->time_unix_nano, 2500);
		assert_string_equal(c->events[0]->attributes[0]->value->string_value, "v");
		assert_int_equal(c->status->code, 0);
	}
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req,
												NULL);
	free(buf);
	for (int i = 0; i < 3; i++) {
		sp_span__release(s[i]);
		free(s[i]);
	}
	sp_resource__put(ra);
	sp_resource__put(rb);
}

/* "pid:id,id;pid:id;" for each ResourceSpans of a protobuf request */
static void proto_groups(const uint8_t *buf, size_t len, char *out, size_t cap)
{
	Request *req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
		NULL, len, buf);
	char hex[17];

	assert_non_null(req);
	out[0] = 0;
	for (size_t r = 0; r < req->n_resource_spans; r++) {
		Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = req->resource_spans[r];
		const KeyValue *pid = find_kv(rs->resource->attributes, rs->resource->n_attributes,
					      "process.pid");

		assert_int_equal(rs->n_scope_spans, 1);
		snprintf(out + strlen(out), cap - strlen(out), "%" PRId64 ":",
			 pid->value->int_value);
		for (size_t k = 0; k < rs->scope_spans[0]->n_spans; k++) {
			assert_int_equal(rs->scope_spans[0]->spans[k]->span_id.len, 8);
			sp_id_hex(rs->scope_spans[0]->spans[k]->span_id.data, 8, hex);
			snprintf(out + strlen(out), cap - strlen(out), "%s%s", k ? "," : "", hex);
		}
		snprintf(out + strlen(out), cap - strlen(out), ";");
	}
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req,
												NULL);
}

/* the same, from an OTLP/JSON request */
static void json_groups(const char *json, char *out, size_t cap)
{
	const char *rs_path[] = { "resourceSpans", NULL };
	const char *attrs_path[] = { "resource", "attributes", NULL };
	const char *ss_path[] = { "scopeSpans", NULL };
	const char *spans_path[] = { "spans", NULL };
	const char *id_path[] = { "spanId", NULL };
	const char *key_path[] = { "key", NULL };
	const char *int_path[] = { "value", "intValue", NULL };
	yajl_val root = yajl_tree_parse(json, NULL, 0), rs;

	assert_non_null(root);
	rs = yajl_tree_get(root, rs_path, yajl_t_array);
	assert_non_null(rs);
	out[0] = 0;
	for (size_t r = 0; r < YAJL_GET_ARRAY(rs)->len; r++) {
		yajl_val g = YAJL_GET_ARRAY(rs)->values[r];
		yajl_val attrs = yajl_tree_get(g, attrs_path, yajl_t_array);
		yajl_val ss = yajl_tree_get(g, ss_path, yajl_t_array), spans;
		const char *pid = NULL;

		assert_non_null(attrs);
		for (size_t i = 0; i < YAJL_GET_ARRAY(attrs)->len; i++) {
			yajl_val a = YAJL_GET_ARRAY(attrs)->values[i];
			const char *key = YAJL_GET_STRING(yajl_tree_get(a, key_path, yajl_t_string));

			assert_non_null(key);
			if (!strcmp(key, "process.pid"))
				pid = YAJL_GET_STRING(yajl_tree_get(a, int_path, yajl_t_string));
		}
		assert_non_null(pid);
		assert_non_null(ss);
		assert_int_equal(YAJL_GET_ARRAY(ss)->len, 1);
		spans = yajl_tree_get(YAJL_GET_ARRAY(ss)->values[0], spans_path, yajl_t_array);
		assert_non_null(spans);
		snprintf(out + strlen(out), cap - strlen(out), "%s:", pid);
		for (size_t k = 0; k < YAJL_GET_ARRAY(spans)->len; k++) {
			const char *id = YAJL_GET_STRING(yajl_tree_get(
				YAJL_GET_ARRAY(spans)->values[k], id_path, yajl_t_string));

			assert_non_null(id);
			snprintf(out + strlen(out), cap - strlen(out), "%s%s", k ? "," : "", id);
		}
		snprintf(out + strlen(out), cap - strlen(out), ";");
	}
	yajl_tree_free(root);
}

/* Three processes' spans interleaved in one batch: one ResourceSpans each,
 * in first-seen order, spans in batch order, from both encoders. */
static void test_encoders_group_alike(void **state)
{
	/* first seen is last allocated: pointer order is not the answer */
	static const int which[] = { 2, 1, 2, 0, 1, 2, 0 };
	enum { N = sizeof(which) / sizeof(which[0]) };
	struct sp_resource *r[3] = { make_res(11, "node"), make_res(10, "curl"),
				     make_res(12, "python3") };
	struct sp_span *s[N];
	char pgroups[512], jgroups[512], *json;
	uint8_t *buf;
	size_t len;

	for (int i = 0; i < N; i++) {
		s[i] = calloc(1, sizeof(*s[i]));
		sp_span__init(s[i], "x", 1, SP_KIND_CLIENT, r[which[i]]);
		memset(s[i]->span_id, 0, 8);
		s[i]->span_id[7] = i + 1;
	}
	assert_int_equal(sp_otlp_proto__encode(s, N, &buf, &len), 0);
	proto_groups(buf, len, pgroups, sizeof(pgroups));
	free(buf);
	assert_int_equal(sp_otlp_json__encode(s, N, &json, &len), 0);
	json_groups(json, jgroups, sizeof(jgroups));
	free(json);
	assert_string_equal(pgroups, "12:0000000000000001,0000000000000003,0000000000000006;"
				     "10:0000000000000002,0000000000000005;"
				     "11:0000000000000004,0000000000000007;");
	assert_string_equal(jgroups, pgroups);

	/* an empty batch: an empty request from both */
	assert_int_equal(sp_otlp_proto__encode(s, 0, &buf, &len), 0);
	proto_groups(buf, len, pgroups, sizeof(pgroups));
	assert_string_equal(pgroups, "");
	free(buf);
	assert_int_equal(sp_otlp_json__encode(s, 0, &json, &len), 0);
	assert_string_equal(json, "{\"resourceSpans\":[]}");
	free(json);
	for (int i = 0; i < N; i++) {
		sp_span__release(s[i]);
		free(s[i]);
	}
	for (int i = 0; i < 3; i++)
		sp_resource__put(r[i]);
}

/* ---- configuration ---- */

static const char *fake_env[32][2];

static const char *fake_getenv(const char *name)
{
	for (int i = 0; fake_env[i][0]; i++)
		if (!strcmp(fake_env[i][0], name))
			return fake_env[i][1];
	return NULL;
}

static void set_env(const char *const *kv)
{
	int i = 0;

	for (; kv && kv[2 * i]; i++) {
		fake_env[i][0] = kv[2 * i];
		fake_env[i][1] = kv[2 * i + 1];
	}
	fake_env[i][0] = NULL;
}

static int load(const char *const *env, const struct sp_otlp_flags *f, struct sp_otlp_config *c)
{
	static const struct sp_otlp_flags none;

	set_env(env);
	return sp_otlp_config_load(c, f ? f : &none, fake_getenv);
}

static void test_config_defaults_and_endpoints(void **state)
{
	struct sp_otlp_config c;
	struct sp_otlp_flags f = { .endpoint = "http://127.0.0.1:4318" };

	assert_int_equal(load(NULL, NULL, &c), 0);
	assert_false(c.enabled);	/* nothing asked for OTLP */
	assert_int_equal(load(NULL, &f, &c), 0);
	assert_true(c.enabled);
	assert_string_equal(c.url, "http://127.0.0.1:4318/v1/traces");
	assert_int_equal(c.protocol, SP_OTLP_HTTP_PROTOBUF);
	assert_int_equal(c.timeout_ms, 10000);
	assert_false(c.gzip);

	const char *e1[] = { "OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318/", NULL };
	assert_int_equal(load(e1, NULL, &c), 0);
	assert_string_equal(c.url, "https://collector:4318/v1/traces");

	const char *e2[] = { "OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318",
			     "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:9999/custom/path", NULL };
	assert_int_equal(load(e2, NULL, &c), 0);
	assert_string_equal(c.url, "http://b:9999/custom/path");	/* as is */
	assert_int_equal(load(e2, &f, &c), 0);
	assert_string_equal(c.url, "http://127.0.0.1:4318/v1/traces");	/* flag wins */

	const char *e3[] = { "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc",
			     "OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317", NULL };
	assert_int_equal(load(e3, NULL, &c), 0);
	assert_int_equal(c.protocol, SP_OTLP_GRPC);
	assert_string_equal(c.url, "http://127.0.0.1:4317/opentelemetry.proto.collector.trace.v1."
				   "TraceService/Export");

	const char *e4[] = { "OTEL_TRACES_EXPORTER", "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc",
			     NULL };
	assert_int_equal(load(e4, NULL, &c), 0);
	assert_true(c.enabled);
	assert_non_null(strstr(c.url, "http://localhost:4317/"));

	const char *e5[] = { "OTEL_TRACES_EXPORTER", "none", "OTEL_EXPORTER_OTLP_ENDPOINT",
			     "http://a:1", NULL };
	assert_int_equal(load(e5, NULL, &c), 0);
	assert_false(c.enabled);
}

static void test_config_headers_and_values(void **state)
{
	struct sp_otlp_config c;
	struct sp_otlp_flags f = { .endpoint = "http://h:1", .nheaders = 1,
				   .headers = { "x-tenant=override" }, .timeout_ms = "2500" };
	const char *env[] = {
		"OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=a, api-key=secret%20v",
		"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-other=b",
		"OTEL_EXPORTER_OTLP_COMPRESSION", "gzip",
		"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json",
		"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc",
		"OTEL_EXPORTER_OTLP_TIMEOUT", "7000",
		"OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/ca.pem",
		"OTEL_BSP_MAX_QUEUE_SIZE", "100",
		NULL,
	};

	assert_int_equal(load(env, &f, &c), 0);
	assert_int_equal(c.nheaders, 3);
	assert_string_equal(c.headers[0], "x-tenant: override");
	assert_string_equal(c.headers[1], "api-key: secret v");
	assert_string_equal(c.headers[2], "x-other: b");
	assert_true(c.gzip);
	assert_int_equal(c.protocol, SP_OTLP_HTTP_JSON);	/* TRACES_ wins */
	assert_int_equal(c.timeout_ms, 2500);			/* flag wins */
	assert_string_equal(c.ca_file, "/etc/ca.pem");
	assert_int_equal(c.queue_spans, 100);
}

static void test_config_bad_values(void **state)
{
	static const char *const bad[][2] = {
		{ "OTEL_EXPORTER_OTLP_PROTOCOL", "bogus" },
		{ "OTEL_EXPORTER_OTLP_TIMEOUT", "abc" },
		{ "OTEL_EXPORTER_OTLP_TIMEOUT", "-5" },
		{ "OTEL_EXPORTER_OTLP_COMPRESSION", "brotli" },
		{ "OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://x" },
		{ "OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318" },
		{ "OTEL_EXPORTER_OTLP_HEADERS", "novalue" },
		{ "OTEL_EXPORTER_OTLP_HEADERS", "k=%zz" },
		{ "OTEL_BSP_MAX_QUEUE_SIZE", "0" },
	};
	struct sp_otlp_config c;
	struct sp_otlp_flags f = { .headers = { "nokey" }, .nheaders = 1 };
	int level = sp_log_level;

	sp_log_level = -1;	/* the one-line errors are expected here */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *env[] = { bad[i][0], bad[i][1], NULL };

		assert_int_equal(load(env, NULL, &c), -EINVAL);
	}
	assert_int_equal(load(NULL, &f, &c), -EINVAL);
	sp_log_level = level;
}

/* ---- resources ---- */

static void test_resource_kv_parse(void **state)
{
	struct sp_res_kv kv;
	const char *bad;

	assert_int_equal(sp_res_kv_parse(&kv, "a=1, b = two%2Cthree ,c=", &bad), 0);
	assert_int_equal(kv.n, 3);
	assert_string_equal(sp_res_kv_get(&kv, "b"), "two,three");
	assert_string_equal(sp_res_kv_get(&kv, "c"), "");
	assert_int_equal(sp_res_kv_parse(&kv, "a=1,,b=2", &bad), -EINVAL);
	assert_int_equal(sp_res_kv_parse(&kv, "=v", &bad), -EINVAL);
	assert_int_equal(kv.n, 0);	/* all or nothing, as the SDKs do */
	assert_int_equal(sp_res_kv_parse(&kv, "", &bad), 0);
	assert_int_equal(kv.n, 0);
}

static void test_resource_attrs_precedence(void **state)
{
	struct sp_resource *r = sp_resource__new();
	struct sp_res_attr a[SP_RES_MAX_ATTRS];
	const char *bad;
	size_t n;
	bool seen_team = false, seen_sdk = false;

	r->pid = 42;
	snprintf(r->exe_name, sizeof(r->exe_name), "node");
	assert_int_equal(sp_res_kv_parse(&r->extra, "service.name=from-attrs,team=a,"
						    "telemetry.sdk.name=liar", &bad), 0);
	sp_resource__finish(r, NULL);
	assert_string_equal(r->service_name, "from-attrs");
	sp_resource__finish(r, "own-name");
	assert_string_equal(r->service_name, "own-name");	/* OTEL_SERVICE_NAME wins */
	n = sp_resource__attrs(r, a, SP_RES_MAX_ATTRS);
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(a[i].key, "service.name"))
			assert_string_equal(a[i].s, "own-name");
		if (!strcmp(a[i].key, "team"))
			seen_team = !strcmp(a[i].s, "a");
		if (!strcmp(a[i].key, "telemetry.sdk.name"))
			seen_sdk = !strcmp(a[i].s, "spanprobe");
		if (!strcmp(a[i].key, "process.pid"))
			assert_int_equal(a[i].i, 42);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(a[i].key, a[j].key);	/* keys unique */
	}
	assert_true(seen_team);
	assert_true(seen_sdk);
	sp_resource__put(r);
}

/* A name cut mid-character, or not UTF-8 at all, still encodes. */
static void test_resource_utf8(void **state)
{
	struct sp_resource *r = sp_resource__new();

	/* "é" is 2 bytes: 32 of them do not fit in exe_name[64] with the NUL */
	for (int i = 0; i < 32; i++)
		memcpy(r->exe_name + 2 * i, "\xc3\xa9", 2);
	r->exe_name[63] = 0;
	snprintf(r->exe_path, sizeof(r->exe_path), "/opt/caf\xe9/bin");	/* Latin-1 */
	sp_resource__finish(r, NULL);
	assert_int_equal((unsigned char)r->exe_name[62], '?');
	assert_string_equal(r->exe_path, "/opt/caf?/bin");
	assert_int_equal(strlen(r->service_name), strlen(r->exe_name));
	sp_resource__put(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proto_round_trip),
		cmocka_unit_test(test_encoders_group_alike),
		cmocka_unit_test(test_config_defaults_and_endpoints),
		cmocka_unit_test(test_config_headers_and_values),
		cmocka_unit_test(test_config_bad_values),
		cmocka_unit_test(test_resource_kv_parse),
		cmocka_unit_test(test_resource_attrs_precedence),
		cmocka_unit_test(test_resource_utf8),
	};

	return cmocka_run_group_tests_name("otlp", tests, NULL, NULL);
}
