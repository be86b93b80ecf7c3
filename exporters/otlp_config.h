/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * OTLP exporter settings, read as the OpenTelemetry SDKs read them
 * (OTEL_EXPORTER_OTLP_*, the TRACES_ variant winning over the general one),
 * then overridden by command-line flags.
 */
#ifndef SP_OTLP_CONFIG_H
#define SP_OTLP_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define SP_OTLP_MAX_HEADERS	32

enum sp_otlp_protocol {
	SP_OTLP_HTTP_PROTOBUF = 0,	/* the default, as in the SDKs */
	SP_OTLP_HTTP_JSON,
	SP_OTLP_GRPC,
};

struct sp_otlp_config {
	bool enabled;
	enum sp_otlp_protocol protocol;
	char url[1024];			/* where requests go */
	int nheaders;
	char headers[SP_OTLP_MAX_HEADERS][512];	/* "Name: value" */
	bool gzip;
	uint32_t timeout_ms;		/* one request */
	char ca_file[512];
	char client_cert[512];
	char client_key[512];
	uint32_t queue_spans;		/* spans held while the backend is away */
	uint32_t flush_timeout_ms;	/* at exit, to deliver what is queued */
};

/* Command-line settings; NULL/0 when not given. */
struct sp_otlp_flags {
	const char *endpoint;
	const char *protocol;
	const char *compression;
	const char *timeout_ms;
	const char *certificate;
	const char *queue_size;
	const char *flush_timeout;
	int nheaders;
	const char *headers[SP_OTLP_MAX_HEADERS];	/* "key=value" */
};

/*
 * Fills cfg from the environment (getenv) and flags. Returns 0, or
 * -EINVAL after a one-line error naming the variable or flag and the
 * value that is wrong.
 */
int sp_otlp_config_load(struct sp_otlp_config *cfg, const struct sp_otlp_flags *flags,
			const char *(*getenv_fn)(const char *));
const char *sp_otlp_protocol_name(enum sp_otlp_protocol p);

#endif
