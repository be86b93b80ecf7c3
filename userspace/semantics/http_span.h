/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * An HTTP exchange (a request and its response, or the error that ended
 * it) and its mapping to an OTel HTTP span.
 */
#ifndef SP_HTTP_SPAN_H
#define SP_HTTP_SPAN_H

#include <stdbool.h>
#include <stdint.h>
#include "spanprobe.h"
#include "model/span.h"

/* What a socket fd is, from SP_EV_CONN. */
struct sp_sockinfo {
	uint32_t pid;
	int32_t fd;
	uint8_t role;		/* enum sp_role */
	uint64_t ssl;		/* the TLS session on this socket, 0 if none */
	struct sp_addr local, remote;
};

struct sp_body_sub;

#define SP_HTTP_TARGET_MAX	2048	/* request-target bytes kept */
#define SP_HTTP_HOST_MAX	256
#define SP_HTTP_UA_MAX		256

/* A finished request: copied out of the decoder, credentials redacted. */
struct sp_http_req {
	/* the body consumer of this exchange (semantics/body_sub.h) and its
	 * state, owned; NULL if none */
	const struct sp_body_sub *sub;
	void *sub_st;
	char method[16];
	/* NUL-terminated, in strs: request-target (secrets redacted), Host,
	 * User-Agent; "" when absent. strs also holds traceparent and
	 * tracestate after them (sp_http_req_trace_context). */
	const char *target, *host, *user_agent;
	char *strs;		/* owned by the pairing stage */
	size_t strs_cap;
	uint8_t http_minor;
	uint8_t http_major;	/* 2 for HTTP/2; 0 or 1: HTTP/1.x */
	bool incomplete, truncated;
	bool headers_incomplete;	/* h2 joined mid-way: headers left out */
	uint64_t start_ns, end_ns;	/* CLOCK_MONOTONIC */
	uint64_t body_len;
};

struct sp_http_resp {
	uint16_t status;
	uint8_t http_minor;
	bool incomplete, truncated;
	bool body_unread;	/* the process closed before reading it all */
	uint64_t start_ns, end_ns;
	uint64_t body_len;
};

struct sp_http_exchange {
	uint32_t pid;
	uint8_t role;		/* SP_ROLE_CLIENT: the process sent the request */
	bool tls;
	const struct sp_http_req *req;
	const struct sp_http_resp *resp;	/* NULL if none came */
	const char *error_type;	/* why it ended without a full response */
	uint64_t end_ns;	/* end when there is no full response */
	const struct sp_sockinfo *sock;	/* NULL if the socket is unknown */
	const struct sp_grpc_info *grpc;	/* gRPC over h2, else NULL */
};

struct sp_blocks;
struct sp_head_view;
struct sp_grpc_info;

/* What a span needs of a request head (target redacted, Host, User-Agent,
 * traceparent, tracestate) in one block from blocks, NUL-separated in
 * that order (owned by the caller, capacity in *cap); NULL when the
 * budget refuses it. */
char *sp_http_req_strings(struct sp_blocks *blocks, const struct sp_head_view *v, size_t *cap);
/* rq takes the block of sp_http_req_strings (NULL: it keeps none, and is
 * marked truncated). */
void sp_http_req_take_strings(struct sp_http_req *rq, char *strs, size_t cap);

/* The request's traceparent and tracestate headers ("" when absent). */
void sp_http_req_trace_context(const struct sp_http_req *rq, const char **traceparent,
			       const char **tracestate);
/* "GET /path" (query dropped): the span name of an exchange. */
void sp_http_span_name(const struct sp_http_req *req, char *out, size_t cap);
/* Span kind, start and end of an exchange (CLOCK_MONOTONIC). */
void sp_http_span_times(const struct sp_http_exchange *ex, uint64_t *start, uint64_t *end);
/* Sets the OTel HTTP attributes and status of ex on s. */
void sp_http_span_fill(struct sp_span *s, const struct sp_http_exchange *ex);
/* Formats an address ("127.0.0.1", "::1") into out. */
void sp_addr_str(const struct sp_addr *a, char *out, size_t cap);

#endif
