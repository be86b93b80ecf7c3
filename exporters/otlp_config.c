// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "util/log.h"
#include "otlp_config.h"
#include "model/resource.h"

#define GRPC_PATH "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

const char *sp_otlp_protocol_name(enum sp_otlp_protocol p)
{
	switch (p) {
	case SP_OTLP_HTTP_JSON:
		return "http/json";
	case SP_OTLP_GRPC:
		return "grpc";
	default:
		return "http/protobuf";
	}
}

/* The TRACES_ variable if set, else the general one; *name says which. */
static const char *env2(const char *(*get)(const char *), const char *traces,
			const char *general, const char **name)
{
	const char *v = get(traces);

	*name = traces;
	if (v && *v)
		return v;
	*name = general;
	v = get(general);
	return v && *v ? v : NULL;
}

static int parse_protocol(const char *what, const char *v, enum sp_otlp_protocol *out)
{
	if (!strcmp(v, "http/protobuf"))
		*out = SP_OTLP_HTTP_PROTOBUF;
	else if (!strcmp(v, "http/json"))
		*out = SP_OTLP_HTTP_JSON;
	else if (!strcmp(v, "grpc"))
		*out = SP_OTLP_GRPC;
	else {
		sp_err("invalid %s '%s': expected grpc, http/protobuf or http/json", what, v);
		return -EINVAL;
	}
	return 0;
}

static int parse_compression(const char *what, const char *v, bool *gzip)
{
	if (!strcmp(v, "gzip"))
		*gzip = true;
	else if (!strcmp(v, "none"))
		*gzip = false;
	else {
		sp_err("invalid %s '%s': expected gzip or none", what, v);
		return -EINVAL;
	}
	return 0;
}

static bool has_scheme(const char *url)
{
	return !strncmp(url, "http://", 7) || !strncmp(url, "https://", 8);
}

/* Adds or replaces header name (case-insensitive). */
static int add_header(struct sp_otlp_config *cfg, const char *what, const char *name,
		      const char *value)
{
	size_t nl = strlen(name);
	int i;

	if (!nl || strpbrk(name, " :\r\n") || strpbrk(value, "\r\n")) {
		sp_err("invalid header in %s: '%s'", what, name);
		return -EINVAL;
	}
	for (i = 0; i < cfg->nheaders; i++)
		if (!strncasecmp(cfg->headers[i], name, nl) && cfg->headers[i][nl] == ':')
			break;
	if (i == SP_OTLP_MAX_HEADERS) {
		sp_err("too many OTLP headers (at most %d)", SP_OTLP_MAX_HEADERS);
		return -EINVAL;
	}
	if (snprintf(cfg->headers[i], sizeof(cfg->headers[i]), "%s: %s", name, value) >=
	    (int)sizeof(cfg->headers[i])) {
		sp_err("header %s in %s is too long", name, what);
		return -EINVAL;
	}
	if (i == cfg->nheaders)
		cfg->nheaders++;
	return 0;
}

/* "k=v,k2=v2", values percent-encoded (the W3C baggage form the SDKs use) */
static int add_header_list(struct sp_otlp_config *cfg, const char *what, const char *list)
{
	static struct sp_res_kv kv;
	const char *bad;

	if (sp_res_kv_parse(&kv, list, &bad)) {
		sp_err("invalid %s near '%.40s': expected key=value pairs separated by commas",
		       what, bad);
		return -EINVAL;
	}
	for (int i = 0; i < kv.n; i++)
		if (add_header(cfg, what, kv.key[i], kv.value[i]))
			return -EINVAL;
	return 0;
}

static int set_url(struct sp_otlp_config *cfg, const char *what, const char *base, bool full)
{
	size_t n = strlen(base);

	if (!has_scheme(base)) {
		sp_err("invalid %s '%s': expected a URL starting with http:// or https://", what,
		       base);
		return -EINVAL;
	}
	while (n > 0 && base[n - 1] == '/' && !full)
		n--;
	if (full)
		snprintf(cfg->url, sizeof(cfg->url), "%s", base);
	else if (cfg->protocol == SP_OTLP_GRPC)
		snprintf(cfg->url, sizeof(cfg->url), "%.*s%s", (int)n, base, GRPC_PATH);
	else
		snprintf(cfg->url, sizeof(cfg->url), "%.*s/v1/traces", (int)n, base);
	return 0;
}

int sp_otlp_config_load(struct sp_otlp_config *cfg, const struct sp_otlp_flags *f,
			const char *(*get)(const char *))
{
	const char *v, *name, *exporter;

	memset(cfg, 0, sizeof(*cfg));
	cfg->timeout_ms = 10000;
	cfg->queue_spans = 2048;
	cfg->flush_timeout_ms = 5000;

	/* protocol first: it decides the default port and the path */
	if (f->protocol) {
		if (parse_protocol("--otlp-protocol", f->protocol, &cfg->protocol))
			return -EINVAL;
	} else if ((v = env2(get, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
			     "OTEL_EXPORTER_OTLP_PROTOCOL", &name))) {
		if (parse_protocol(name, v, &cfg->protocol))
			return -EINVAL;
	}

	/* OTLP is on when an endpoint is named, or OTEL_TRACES_EXPORTER says otlp */
	exporter = get("OTEL_TRACES_EXPORTER");
	if (f->endpoint) {
		if (set_url(cfg, "--otlp-endpoint", f->endpoint, false))
			return -EINVAL;
		cfg->enabled = true;
	} else if ((v = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) && *v) {
		/* used as is, for every protocol */
		if (set_url(cfg, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", v, true))
			return -EINVAL;
		cfg->enabled = true;
	} else if ((v = get("OTEL_EXPORTER_OTLP_ENDPOINT")) && *v) {
		if (set_url(cfg, "OTEL_EXPORTER_OTLP_ENDPOINT", v, false))
			return -EINVAL;
		cfg->enabled = true;
	} else if (exporter && strstr(exporter, "otlp")) {
		set_url(cfg, "default", cfg->protocol == SP_OTLP_GRPC ? "http://localhost:4317"
								     : "http://localhost:4318",
			false);
		cfg->enabled = true;
	}
	if (exporter && !strcmp(exporter, "none") && !f->endpoint)
		cfg->enabled = false;

	if ((v = get("OTEL_EXPORTER_OTLP_HEADERS")) && *v &&
	    add_header_list(cfg, "OTEL_EXPORTER_OTLP_HEADERS", v))
		return -EINVAL;
	if ((v = get("OTEL_EXPORTER_OTLP_TRACES_HEADERS")) && *v &&
	    add_header_list(cfg, "OTEL_EXPORTER_OTLP_TRACES_HEADERS", v))
		return -EINVAL;
	for (int i = 0; i < f->nheaders; i++) {
		const char *eq = strchr(f->headers[i], '=');
		char key[256];

		if (!eq || eq == f->headers[i] || eq - f->headers[i] >= (long)sizeof(key)) {
			sp_err("invalid --otlp-header '%s': expected name=value", f->headers[i]);
			return -EINVAL;
		}
		snprintf(key, sizeof(key), "%.*s", (int)(eq - f->headers[i]), f->headers[i]);
		if (add_header(cfg, "--otlp-header", key, eq + 1))
			return -EINVAL;
	}

	if (f->compression) {
		if (parse_compression("--otlp-compression", f->compression, &cfg->gzip))
			return -EINVAL;
	} else if ((v = env2(get, "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
			     "OTEL_EXPORTER_OTLP_COMPRESSION", &name)) &&
		   parse_compression(name, v, &cfg->gzip)) {
		return -EINVAL;
	}

	if (f->timeout_ms) {
		if (sp_parse_u32("--otlp-timeout", f->timeout_ms, 1, 600000, &cfg->timeout_ms))
			return -EINVAL;
	} else if ((v = env2(get, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT",
			     &name)) &&
		   sp_parse_u32(name, v, 1, 600000, &cfg->timeout_ms)) {
		return -EINVAL;
	}

	v = f->certificate ? f->certificate
			   : env2(get, "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
				  "OTEL_EXPORTER_OTLP_CERTIFICATE", &name);
	if (v)
		snprintf(cfg->ca_file, sizeof(cfg->ca_file), "%s", v);
	if ((v = env2(get, "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
		      "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", &name)))
		snprintf(cfg->client_cert, sizeof(cfg->client_cert), "%s", v);
	if ((v = env2(get, "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "OTEL_EXPORTER_OTLP_CLIENT_KEY",
		      &name)))
		snprintf(cfg->client_key, sizeof(cfg->client_key), "%s", v);

	if (f->queue_size) {
		if (sp_parse_u32("--otlp-queue-size", f->queue_size, 1, 1 << 22, &cfg->queue_spans))
			return -EINVAL;
	} else if ((v = get("OTEL_BSP_MAX_QUEUE_SIZE")) && *v &&
		   sp_parse_u32("OTEL_BSP_MAX_QUEUE_SIZE", v, 1, 1 << 22, &cfg->queue_spans)) {
		return -EINVAL;
	}
	if (f->flush_timeout &&
	    sp_parse_u32("--otlp-flush-timeout", f->flush_timeout, 0, 600000, &cfg->flush_timeout_ms))
		return -EINVAL;
	return 0;
}
