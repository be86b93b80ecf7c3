// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "model/span.h"
#include "semantics/grpc_span.h"
#include "semantics/http_span.h"

bool sp_grpc_content_type(const char *v, size_t len)
{
	static const char g[] = "application/grpc";

	/* application/grpc, application/grpc+proto, application/grpc-web... */
	return len >= sizeof(g) - 1 && !strncasecmp(v, g, sizeof(g) - 1) &&
	       (len == sizeof(g) - 1 || v[sizeof(g) - 1] == '+' || v[sizeof(g) - 1] == ';' ||
		v[sizeof(g) - 1] == '-');
}

void sp_grpc_info__init(struct sp_grpc_info *g, const char *path, size_t len)
{
	const char *slash;
	size_t q = 0;

	memset(g, 0, sizeof(*g));
	g->status = -1;
	while (q < len && path[q] != '?')
		q++;
	len = q;
	if (len && path[0] == '/') {
		path++;
		len--;
	}
	slash = memchr(path, '/', len);
	if (!slash) {
		snprintf(g->method, sizeof(g->method), "%.*s", (int)len, path);
		return;
	}
	snprintf(g->service, sizeof(g->service), "%.*s", (int)(slash - path), path);
	snprintf(g->method, sizeof(g->method), "%.*s", (int)(len - (slash - path) - 1), slash + 1);
}

void sp_grpc_info__status(struct sp_grpc_info *g, const char *v, size_t len)
{
	int n = 0;

	if (!len || len > 3)
		return;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return;
		n = n * 10 + (v[i] - '0');
	}
	g->status = n;
}

void sp_grpc_info__message(struct sp_grpc_info *g, const char *v, size_t len)
{
	snprintf(g->message, sizeof(g->message), "%.*s", (int)len, v);
}

void sp_grpc_span_name(const struct sp_grpc_info *g, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", g->service, g->method);
}

void sp_grpc_span_fill(struct sp_span *s, const struct sp_http_exchange *ex)
{
	const struct sp_grpc_info *g = ex->grpc;

	sp_span__set_str(s, "rpc.system", "grpc", 4);
	if (g->service[0])
		sp_span__set_str(s, "rpc.service", g->service, strlen(g->service));
	if (g->method[0])
		sp_span__set_str(s, "rpc.method", g->method, strlen(g->method));
	if (g->status < 0)
		return;
	sp_span__set_int(s, "rpc.grpc.status_code", g->status);
	if (g->status) {
		char code[8];

		snprintf(code, sizeof(code), "%d", g->status);
		sp_span__set_str(s, "error.type", code, strlen(code));
		sp_span__set_status(s, SP_STATUS_ERROR, g->message[0] ? g->message : NULL);
	}
}
