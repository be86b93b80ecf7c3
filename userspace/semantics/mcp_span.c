// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdio.h>
#include <string.h>
#include "model/span.h"
#include "pair/jsonrpc_exchange.h"
#include "semantics/mcp_span.h"

void sp_mcp_span_name(const struct sp_rpc_exchange *ex, char *out, size_t cap)
{
	const char *target = ex->tool[0] ? ex->tool : ex->prompt;

	if (target[0])
		snprintf(out, cap, "%s %s", ex->method, target);
	else
		snprintf(out, cap, "%s", ex->method);
}

static void set(struct sp_span *s, const char *key, const char *v)
{
	if (v && v[0])
		sp_span__set_str(s, key, v, strlen(v));
}

void sp_mcp_span_fill(struct sp_span *s, const struct sp_rpc_exchange *ex, bool client_side)
{
	char code[24];

	s->kind = client_side ? SP_KIND_CLIENT : SP_KIND_SERVER;
	set(s, "mcp.method.name", ex->method);
	set(s, "jsonrpc.request.id", ex->id);
	set(s, "jsonrpc.protocol.version", ex->jsonrpc_version);
	set(s, "mcp.session.id", ex->session_id);
	set(s, "mcp.protocol.version", ex->protocol_version);
	set(s, "mcp.resource.uri", ex->resource);
	set(s, "gen_ai.tool.name", ex->tool);
	set(s, "gen_ai.prompt.name", ex->prompt);
	if (!strcmp(ex->method, "tools/call"))
		set(s, "gen_ai.operation.name", "execute_tool");
	set(s, "network.transport", ex->transport);
	if (ex->args_len)
		sp_span__set_str(s, "gen_ai.tool.call.arguments", ex->args, ex->args_len);
	if (ex->result_len)
		sp_span__set_str(s, "gen_ai.tool.call.result", ex->result, ex->result_len);
	if (ex->has_code) {
		snprintf(code, sizeof(code), "%lld", (long long)ex->code);
		set(s, "error.type", code);
		sp_span__set_int(s, "rpc.response.status_code", ex->code);
		sp_span__set_status(s, SP_STATUS_ERROR, ex->err_msg[0] ? ex->err_msg : NULL);
	} else if (ex->is_error) {
		set(s, "error.type", "tool_error");
		sp_span__set_status(s, SP_STATUS_ERROR, NULL);
	} else if (!ex->answered) {
		set(s, "error.type", ex->cancelled ? "cancelled" :
			ex->end_reason[0] ? ex->end_reason : "spanprobe_no_response");
		sp_span__set_status(s, SP_STATUS_ERROR, NULL);
	}
}

void sp_mcp_span_pair(struct sp_span *client, struct sp_span *server,
		      const struct sp_rpc_exchange *ex)
{
	sp_mcp_span_fill(client, ex, true);
	sp_mcp_span_fill(server, ex, false);
	if (ex->has_trace) {
		memcpy(client->trace_id, ex->trace_id, sizeof(client->trace_id));
		memcpy(client->parent_id, ex->parent_span_id, sizeof(client->parent_id));
		client->remote_parent = true;
	}
	memcpy(server->trace_id, client->trace_id, sizeof(server->trace_id));
	memcpy(server->parent_id, client->span_id, sizeof(server->parent_id));
}
