// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "semantics/body_sub.h"
#include "semantics/grpc_span.h"
#include "semantics/http_span.h"
#include "semantics/trace_context.h"
#include "util/blocks.h"
#include "util/redact.h"
#include "util/url.h"

void sp_addr_str(const struct sp_addr *a, char *out, size_t cap)
{
	if (!a->family || !inet_ntop(a->family, a->v6, out, cap))
		snprintf(out, cap, "%s", "");
}

void sp_http_span_name(const struct sp_http_req *req, char *out, size_t cap)
{
	size_t n;
	/* absolute-form (via a proxy): name by the path */
	const char *path = sp_url_path(req->target, &n);

	snprintf(out, cap, "%s %.*s", req->method, (int)n, path);
}

void sp_http_req_trace_context(const struct sp_http_req *rq, const char **traceparent,
			       const char **tracestate)
{
	*traceparent = *tracestate = "";
	/* without its block the request kept no strings at all */
	if (!rq->strs)
		return;
	*traceparent = rq->user_agent + strlen(rq->user_agent) + 1;
	*tracestate = *traceparent + strlen(*traceparent) + 1;
}

void sp_http_span_times(const struct sp_http_exchange *ex, uint64_t *start, uint64_t *end)
{
	*start = ex->req->start_ns;
	*end = ex->resp && (!ex->resp->incomplete || ex->resp->body_unread) ? ex->resp->end_ns
									     : ex->end_ns;
	if (ex->resp && ex->resp->end_ns > *end)
		*end = ex->resp->end_ns;
	if (*end < *start)
		*end = *start;
}

/* host[:port] from a Host header value */
static void split_host(const char *h, char *host, size_t cap, long *port)
{
	const char *colon;

	*port = 0;
	if (h[0] == '[') {	/* [v6]:port */
		const char *rb = strchr(h, ']');

		if (rb) {
			snprintf(host, cap, "%.*s", (int)(rb - h - 1), h + 1);
			if (rb[1] == ':')
				*port = strtol(rb + 2, NULL, 10);
			return;
		}
	}
	colon = strrchr(h, ':');
	if (colon) {
		snprintf(host, cap, "%.*s", (int)(colon - h), h);
		*port = strtol(colon + 1, NULL, 10);
	} else {
		snprintf(host, cap, "%s", h);
	}
}

void sp_http_span_fill(struct sp_span *s, const struct sp_http_exchange *ex)
{
	const struct sp_http_req *rq = ex->req;
	const struct sp_http_resp *rs = ex->resp;
	bool client = ex->role == SP_ROLE_CLIENT;
	const struct sp_addr *srv = NULL, *peer = NULL;
	char host[256] = "", addr[64] = "", url[4096], code[8];
	const char *scheme = ex->tls ? "https" : "http";
	long port = 0;
	size_t plen = strcspn(rq->target, "?#");
	const char *path = rq->target;

	if (ex->sock) {
		srv = client ? &ex->sock->remote : &ex->sock->local;
		peer = &ex->sock->remote;
	}
	if (rq->host[0])
		split_host(rq->host, host, sizeof(host), &port);
	if (!host[0] && srv)
		sp_addr_str(srv, host, sizeof(host));
	/* the socket knows the real port; Host may omit a default one */
	if (srv && srv->port)
		port = srv->port;
	else if (!port)
		port = ex->tls ? 443 : 80;

	sp_span__set_str(s, "http.request.method", rq->method, strlen(rq->method));
	if (sp_url_is_absolute(rq->target)) {
		/* absolute-form: already a full URL (already redacted) */
		sp_span__set_str(s, "url.full", rq->target, strlen(rq->target));
		path = sp_url_path(rq->target, &plen);
	} else if (client) {
		int n;

		if (strchr(host, ':'))	/* v6 literal */
			n = snprintf(url, sizeof(url), "%s://[%s]", scheme, host);
		else
			n = snprintf(url, sizeof(url), "%s://%s", scheme, host);
		if (port && port != (ex->tls ? 443 : 80) && n < (int)sizeof(url))
			n += snprintf(url + n, sizeof(url) - n, ":%ld", port);
		if (n < (int)sizeof(url))
			snprintf(url + n, sizeof(url) - n, "%s", rq->target);
		sp_span__set_str(s, "url.full", url, strlen(url));
	}
	sp_span__set_str(s, "url.path", path, plen);
	if (!client) {
		const char *q = strchr(path, '?');

		sp_span__set_str(s, "url.scheme", scheme, strlen(scheme));
		if (q)
			sp_span__set_str(s, "url.query", q + 1, strcspn(q + 1, "#"));
	}
	if (host[0])
		sp_span__set_str(s, "server.address", host, strlen(host));
	sp_span__set_int(s, "server.port", port);
	if (peer && peer->family) {
		sp_addr_str(peer, addr, sizeof(addr));
		sp_span__set_str(s, "network.peer.address", addr, strlen(addr));
		sp_span__set_int(s, "network.peer.port", peer->port);
		if (!client) {
			sp_span__set_str(s, "client.address", addr, strlen(addr));
			sp_span__set_int(s, "client.port", peer->port);
		}
	}
	sp_span__set_str(s, "network.protocol.name", "http", 4);
	if (rq->http_major == 2)
		sp_span__set_str(s, "network.protocol.version", "2", 1);
	else
		sp_span__set_str(s, "network.protocol.version", rq->http_minor ? "1.1" : "1.0", 3);
	if (rq->user_agent[0])
		sp_span__set_str(s, "user_agent.original", rq->user_agent, strlen(rq->user_agent));
	if (rq->body_len)
		sp_span__set_int(s, "http.request.body.size", rq->body_len);

	if (rs && rs->status) {
		sp_span__set_int(s, "http.response.status_code", rs->status);
		if (rs->body_len)
			sp_span__set_int(s, "http.response.body.size", rs->body_len);
		if (rs->status >= 500 || (client && rs->status >= 400)) {
			snprintf(code, sizeof(code), "%u", rs->status);
			sp_span__set_str(s, "error.type", code, strlen(code));
			sp_span__set_status(s, SP_STATUS_ERROR, NULL);
		}
	}
	if (ex->error_type && !strcmp(ex->error_type, "spanprobe_stopped")) {
		/* still in flight when tracing stopped: not the call's fault */
		sp_span__set_bool(s, "spanprobe.span.unfinished", true);
	} else if (ex->error_type) {
		char msg[96];

		sp_span__set_str(s, "error.type", ex->error_type, strlen(ex->error_type));
		snprintf(msg, sizeof(msg), "%s before the response %s", ex->error_type,
			 rs && rs->status ? "ended" : "arrived");
		sp_span__set_status(s, SP_STATUS_ERROR, msg);
	}
	if (ex->grpc)
		sp_grpc_span_fill(s, ex);
	if (rq->headers_incomplete)
		sp_span__set_bool(s, "spanprobe.h2.headers_incomplete", true);
	if (rs && rs->body_unread)
		sp_span__set_bool(s, "spanprobe.response.body_unread", true);
	if (rq->truncated || (rs && rs->truncated))
		sp_span__set_bool(s, "spanprobe.capture.truncated", true);
}

/* Appends the value (cut to max - 1 and to what fits) and a NUL at *at. */
static void put_str(char *buf, size_t cap, size_t *at, const char *v, size_t len, size_t max)
{
	if (len >= max)
		len = max - 1;
	if (*at + len + 1 > cap)
		len = *at + 1 <= cap ? cap - *at - 1 : 0;
	if (*at >= cap)
		return;
	memcpy(buf + *at, v, len);
	buf[*at + len] = 0;
	*at += len + 1;
}

static size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

char *sp_http_req_strings(struct sp_blocks *blocks, const struct sp_head_view *v, size_t *cap)
{
	static const char *const names[] = { "host", "user-agent", "traceparent", "tracestate" };
	static const size_t max[] = {
		SP_HTTP_HOST_MAX, SP_HTTP_UA_MAX, SP_TRACEPARENT_MAX, SP_TRACESTATE_MAX,
	};
	char target[SP_HTTP_TARGET_MAX], *strs;
	const char *val[4];
	size_t len[4], tl, need, at = 0;

	tl = v->target_len ? sp_redact_url(v->target, v->target_len, target, sizeof(target)) : 0;
	target[tl] = 0;
	need = tl + 1;
	for (int i = 0; i < 4; i++) {
		len[i] = 0;
		val[i] = v->header ? v->header(v->msg, names[i], &len[i]) : NULL;
		if (!val[i]) {
			val[i] = "";
			len[i] = 0;
		}
		need += min_sz(len[i], max[i]) + 1;
	}
	strs = sp_blocks__get(blocks, need, cap);
	if (!strs)
		return NULL;
	put_str(strs, *cap, &at, target, tl, SP_HTTP_TARGET_MAX);
	for (int i = 0; i < 4; i++)
		put_str(strs, *cap, &at, val[i], len[i], max[i]);
	return strs;
}

void sp_http_req_take_strings(struct sp_http_req *rq, char *strs, size_t cap)
{
	if (!strs) {
		rq->target = rq->host = rq->user_agent = "";
		rq->truncated = true;
		return;
	}
	rq->strs = strs;
	rq->strs_cap = cap;
	rq->target = strs;
	rq->host = rq->target + strlen(rq->target) + 1;
	rq->user_agent = rq->host + strlen(rq->host) + 1;
}
