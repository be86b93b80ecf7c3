/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A JSON-RPC exchange (MCP over stdio, or over HTTP): a request and its
 * response, paired by id, or the request and what ended it. Requests go
 * both ways on one stream (an MCP server asks its client for sampling,
 * roots, elicitation): role says which side the traced process was on
 * for this one.
 */
#ifndef SP_JSONRPC_EXCHANGE_H
#define SP_JSONRPC_EXCHANGE_H

#include <stdbool.h>
#include <stdint.h>

/* Strings NUL-terminated, "" when absent; all borrowed for the call. */
struct sp_rpc_exchange {
	uint32_t pid;
	uint8_t role;		/* SP_ROLE_SERVER: the process read the request
				 * and answered it; SP_ROLE_CLIENT: it sent it */
	const char *transport;	/* network.transport: "pipe", "tcp"; NULL: unknown */
	const char *method;	/* "tools/call" */
	const char *id;		/* the request id's text */
	const char *jsonrpc_version;	/* "2.0" */
	const char *tool;	/* tools/call: params.name */
	const char *prompt;	/* prompts/get: params.name */
	const char *resource;	/* resources/read and others: params.uri */
	const char *protocol_version;	/* MCP's: negotiated by initialize */
	const char *session_id;	/* HTTP: Mcp-Session-Id */
	const char *traceparent, *tracestate;	/* params._meta */
	bool has_trace;		/* traceparent parsed: */
	uint8_t trace_id[16], parent_span_id[8], trace_flags;
	uint64_t start_ns;	/* the request's first byte (CLOCK_MONOTONIC) */
	uint64_t end_ns;	/* the response's last byte, or when it ended */
	bool answered;		/* a response came */
	bool is_error;		/* the result says isError: true */
	bool has_code;		/* a JSON-RPC error answer: */
	int64_t code;
	const char *err_msg;
	/* content (only when on): the request's arguments as JSON
	 * (credentials redacted), the result's text parts */
	const char *args;
	uint32_t args_len;
	const char *result;
	uint32_t result_len;
	bool content_cut;
	/* ended without an answer: cut (the stream ended, error.type = its
	 * reason), or cancelled (notifications/cancelled) */
	bool cut, cancelled;
	const char *end_reason;
};

/* "00-{32 hex}-{16 hex}-{2 hex}" into ex's trace fields; false (and
 * has_trace false) if s is not one. */
bool sp_rpc_parse_traceparent(struct sp_rpc_exchange *ex, const char *s);

struct sp_rpc_msg;
/* The exchange of request rq and response rs (NULL: none), strings
 * borrowed from them; role from the request's direction. */
void sp_rpc_exchange_of(struct sp_rpc_exchange *ex, const struct sp_rpc_msg *rq,
			const struct sp_rpc_msg *rs);

#endif
