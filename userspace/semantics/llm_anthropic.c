// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Anthropic Messages (docs.anthropic.com/en/api/messages), streamed and not. */
#include "semantics/llm_internal.h"

static const struct llm_path req[] = {
	{ "model", LF_MODEL },
	{ "max_tokens", LF_MAX_TOKENS },
	{ "temperature", LF_TEMPERATURE },
	{ "top_p", LF_TOP_P },
	{ "stream", LF_STREAM },
	{ "system", LF_SYSTEM },
	{ "system[].text", LF_SYSTEM },
	{ "messages[].role", LF_IN_ROLE },
	{ "messages[].content", LF_IN_TEXT },
	{ "messages[].content[].text", LF_IN_TEXT },
	/* tool_use blocks of the model's messages, and tool_result blocks
	 * of the user's that answer them, by type (server_tool_use and its
	 * web_search_tool_result are Anthropic's own: neither) */
	{ "messages[].content[].type", LF_IN_TYPE, LK_ARRAY01 },
	{ "messages[].content[].id", LF_IN_CALL_ID, LK_ARRAY01 },
	{ "messages[].content[].name", LF_IN_CALL_NAME, LK_ARRAY01 },
	{ "messages[].content[].tool_use_id", LF_IN_CALL_ID, LK_ARRAY01 },
	{ "messages[].content[].is_error", LF_RESULT_ERROR, LK_ARRAY01 },
};

/* The message object; a stream sends it in pieces: "message_start" (the
 * message, under "message"), then content blocks by "index"
 * ("content_block_start", "content_block_delta"), then "message_delta". */
static const struct llm_path resp[] = {
	{ "index", LF_REC_INDEX },
	{ "id", LF_ID },
	{ "message.id", LF_ID },
	{ "model", LF_RESP_MODEL },
	{ "message.model", LF_RESP_MODEL },
	{ "error.type", LF_ERR_TYPE },
	{ "error.message", LF_ERR_MSG },
	{ "usage.input_tokens", LF_IN_TOKENS },
	{ "message.usage.input_tokens", LF_IN_TOKENS },
	{ "usage.output_tokens", LF_OUT_TOKENS },
	{ "message.usage.output_tokens", LF_OUT_TOKENS },
	{ "usage.cache_read_input_tokens", LF_CACHE_READ },
	{ "message.usage.cache_read_input_tokens", LF_CACHE_READ },
	{ "usage.cache_creation_input_tokens", LF_CACHE_WRITE },
	{ "message.usage.cache_creation_input_tokens", LF_CACHE_WRITE },
	{ "stop_reason", LF_FINISH },
	{ "delta.stop_reason", LF_FINISH },
	{ "role", LF_OUT_ROLE },
	{ "message.role", LF_OUT_ROLE },
	{ "content[].text", LF_OUT_TEXT },
	{ "delta.text", LF_OUT_TEXT },
	/* thinking is output too (for the first chunk), not kept */
	{ "delta.thinking", LF_OUT_MARK },
	{ "content_block.data", LF_OUT_MARK },	/* redacted_thinking */
	/* tool_use blocks: by position, or by the stream's index
	 * (server_tool_use and mcp_tool_use ones run at Anthropic's) */
	{ "content[].type", LF_TOOL_TYPE, LK_ARRAY0 },
	{ "content_block.type", LF_TOOL_TYPE, LK_RECORD },
	{ "content[].id", LF_TOOL_ID, LK_ARRAY0 },
	{ "content[].name", LF_TOOL_NAME, LK_ARRAY0 },
	{ "content[].input", LF_TOOL_ARGS_JSON, LK_ARRAY0 },
	{ "content_block.id", LF_TOOL_ID, LK_RECORD },
	{ "content_block.name", LF_TOOL_NAME, LK_RECORD },
	{ "delta.partial_json", LF_TOOL_ARGS, LK_RECORD },
};

static const struct llm_api apis[] = {
	{
		.id = SP_LLM_ANTHROPIC_MESSAGES,
		.name = "anthropic.messages",
		.operation = "chat",
		.routes = { { LR_SUFFIX, "/v1/messages" } },
		.req = { LLM_TABLE(req) },
		.resp = { LLM_TABLE(resp) },
	},
};

const struct llm_provider llm_anthropic = {
	.otel = "anthropic",
	.oi = "anthropic",
	.apis = apis,
	.napis = sizeof(apis) / sizeof(apis[0]),
};
