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
 * CLIENT span (in the agent, the server's parent process) and the SERVER
 * span (in the server), and makes the server's a child of the client's
 * (same trace id, parent id = the client's span id). When the request
 * carried params._meta.traceparent, the client span joins that trace as
 * a child of the span it names. Names and times are the caller's. */
void sp_mcp_span_pair(struct sp_span *client, struct sp_span *server,
		      const struct sp_rpc_exchange *ex);

#endif
