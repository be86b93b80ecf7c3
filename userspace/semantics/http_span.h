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

struct sp_llm;

/* A finished request: copied out of the decoder, credentials redacted. */
struct sp_http_req {
	struct sp_llm *llm;	/* LLM API call decoder, owned; NULL if none */
	char method[16];
	char target[2048];	/* request-target, secrets redacted */
	char host[256];
	char user_agent[256];
	uint8_t http_minor;
	bool incomplete, truncated;
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
	struct sp_llm *llm;	/* borrowed: the LLM call, if it is one */
};

/* "GET /path" (query dropped): the span name of an exchange. */
void sp_http_span_name(const struct sp_http_req *req, char *out, size_t cap);
/* Span kind, start and end of an exchange (CLOCK_MONOTONIC). */
void sp_http_span_times(const struct sp_http_exchange *ex, uint64_t *start, uint64_t *end);
/* Sets the OTel HTTP attributes and status of ex on s. */
void sp_http_span_fill(struct sp_span *s, const struct sp_http_exchange *ex);
/* Formats an address ("127.0.0.1", "::1") into out. */
void sp_addr_str(const struct sp_addr *a, char *out, size_t cap);

#endif
