/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * MCP spans from JSON-RPC exchanges (pair/jsonrpc_exchange.h), named and
 * attributed as /work/shared/CONVENTIONS.md "MCP" says: a CLIENT span on
 * the caller's side, a SERVER span on the server's, the server's a child
 * of the client's when both ends are seen.
 */
#ifndef SP_MCP_SPAN_H
#define SP_MCP_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sp_span;
struct sp_rpc_exchange;

/* "{mcp.method.name} {target}": target is the tool or prompt name, else
 * the span is named by the method alone ("tools/call echo", "tools/list"). */
void sp_mcp_span_name(const struct sp_rpc_exchange *ex, char *out, size_t cap);
/* Sets kind (CLIENT or SERVER, by client_side), the MCP attributes and
 * the status: ERROR for a JSON-RPC error answer (error.type = its code as
 * text, rpc.response.status_code = the code), for isError: true
 * (error.type = tool_error), for a request cut or cancelled (error.type =
 * why). Content (gen_ai.tool.call.arguments, .result) only if the
 * exchange carries it (content on). */
void sp_mcp_span_fill(struct sp_span *s, const struct sp_rpc_exchange *ex, bool client_side);
/* Both ends of one exchange seen on a stdio server's stream: fills the
 * CLIENT span (the caller's: the agent, the server's parent, for the
 * agent's requests; the server for its own) and the SERVER span (the
 * other process), and makes the server's a child of the client's (same
 * trace id, parent id = the client's span id). When the request carried
 * params._meta.traceparent, the client span joins that trace as a child
 * of the span it names (remote_parent). Names and times are the
 * caller's. */
void sp_mcp_span_pair(struct sp_span *client, struct sp_span *server,
		      const struct sp_rpc_exchange *ex);

/*
 * MCP over streamable HTTP (spec 2025-03-26 and 2025-06-18): a POST whose
 * body is a JSON-RPC request (the first request of a batch), answered by
 * application/json or by a text/event-stream whose events carry the
 * answer among notifications and the server's own requests. Fed one HTTP
 * exchange's bodies by the body consumer of semantics/body_subs.c; its
 * span is the HTTP span's child (semantics/mcp_http.c).
 */
struct sp_mcp_http;
struct sp_rpc_opts;

/* Owned: free with sp_mcp_http__free; NULL with errno ENOMEM. session,
 * version: the request's Mcp-Session-Id and MCP-Protocol-Version headers
 * (views, NULL when absent). o is copied. */
struct sp_mcp_http *sp_mcp_http__new(const char *session, size_t session_len,
				     const char *version, size_t version_len,
				     const struct sp_rpc_opts *o);
void sp_mcp_http__free(struct sp_mcp_http *m);
void sp_mcp_http__request_body(struct sp_mcp_http *m, const char *buf, size_t len);
/* The response head: status, Content-Type, Content-Encoding and the
 * Mcp-Session-Id the server assigns (views, NULL when absent). */
void sp_mcp_http__response_head(struct sp_mcp_http *m, uint16_t status, const char *ctype,
				size_t ctype_len, const char *cenc, size_t cenc_len,
				const char *session, size_t session_len);
void sp_mcp_http__response_body(struct sp_mcp_http *m, const char *buf, size_t len,
				uint64_t ts);
/* After the exchange: was the request body a JSON-RPC request? */
bool sp_mcp_http__is_call(struct sp_mcp_http *m);
void sp_mcp_http__span_name(struct sp_mcp_http *m, char *out, size_t cap);
/* The MCP attributes (network.transport=tcp); the kind the span was made
 * with says the side (SERVER: the server's, else the client's). */
void sp_mcp_http__fill(struct sp_mcp_http *m, struct sp_span *s);

#endif
