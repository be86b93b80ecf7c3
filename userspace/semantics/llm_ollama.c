// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Ollama's own API (github.com/ollama/ollama docs/api.md): /api/chat,
 * /api/generate, /api/embed (and the older /api/embeddings). Streams NDJSON
 * unless asked not to. Its OpenAI-compatible /v1 endpoints are OpenAI's.
 */
#include "semantics/llm_internal.h"

static const struct llm_path options[] = {
	{ "model", LF_MODEL },
	{ "stream", LF_STREAM },
	{ "options.num_predict", LF_MAX_TOKENS },
	{ "options.temperature", LF_TEMPERATURE },
	{ "options.top_p", LF_TOP_P },
};

static const struct llm_path errors[] = {
	{ "error", LF_ERR_MSG },
};

static const struct llm_path chat_req[] = {
	{ "messages[].role", LF_IN_ROLE },
	{ "messages[].content", LF_IN_TEXT },
	/* the model's calls, echoed back; {"role": "tool", "tool_name",
	 * "content"}: a tool's result */
	{ "messages[].tool_calls[].id", LF_CALL_ID, LK_ARRAY01 },
	{ "messages[].tool_calls[].function.name", LF_CALL_NAME, LK_ARRAY01 },
	{ "messages[].tool_name", LF_RESULT_NAME },
	{ "messages[].tool_call_id", LF_RESULT_ID },
};

/* One object, or one per line; the last has "done": true and the counts. */
static const struct llm_path chat_resp[] = {
	{ "model", LF_RESP_MODEL },
	{ "message.role", LF_OUT_ROLE },
	{ "message.content", LF_OUT_TEXT },
	{ "message.thinking", LF_OUT_MARK },
	{ "done_reason", LF_FINISH },
	{ "prompt_eval_count", LF_IN_TOKENS },
	{ "eval_count", LF_OUT_TOKENS },
	/* each line its own calls; arguments are an object */
	{ "message.tool_calls[].id", LF_TOOL_ID, LK_RECORD_ARRAY0 },
	{ "message.tool_calls[].function.name", LF_TOOL_NAME, LK_RECORD_ARRAY0 },
	{ "message.tool_calls[].function.arguments", LF_TOOL_ARGS_JSON, LK_RECORD_ARRAY0 },
};

static const struct llm_path generate_req[] = {
	{ "prompt", LF_PROMPT },
	{ "system", LF_SYSTEM },
};

static const struct llm_path generate_resp[] = {
	{ "model", LF_RESP_MODEL },
	{ "response", LF_OUT_TEXT },
	{ "thinking", LF_OUT_MARK },
	{ "done_reason", LF_FINISH },
	{ "prompt_eval_count", LF_IN_TOKENS },
	{ "eval_count", LF_OUT_TOKENS },
};

static const struct llm_path embed_req[] = {
	{ "model", LF_MODEL },
	{ "input", LF_PROMPT },
	{ "input[]", LF_PROMPT },
	{ "prompt", LF_PROMPT },	/* /api/embeddings */
};

static const struct llm_path embed_resp[] = {
	{ "model", LF_RESP_MODEL },
	{ "prompt_eval_count", LF_IN_TOKENS },
};

static const struct llm_api apis[] = {
	{
		.id = SP_LLM_OLLAMA_CHAT,
		.name = "ollama.chat",
		.operation = "chat",
		.stream_default = true,
		.routes = { { LR_SUFFIX, "/api/chat" } },
		.req = { LLM_TABLE(options), LLM_TABLE(chat_req) },
		.resp = { LLM_TABLE(errors), LLM_TABLE(chat_resp) },
	},
	{
		.id = SP_LLM_OLLAMA_GENERATE,
		.name = "ollama.generate",
		.operation = "text_completion",
		.stream_default = true,
		.routes = { { LR_SUFFIX, "/api/generate" } },
		.req = { LLM_TABLE(options), LLM_TABLE(generate_req) },
		.resp = { LLM_TABLE(errors), LLM_TABLE(generate_resp) },
	},
	{
		.id = SP_LLM_OLLAMA_EMBED,
		.name = "ollama.embed",
		.operation = "embeddings",
		.embedding = true,
		.routes = { { LR_SUFFIX, "/api/embed" }, { LR_SUFFIX, "/api/embeddings" } },
		.req = { LLM_TABLE(embed_req) },
		.resp = { LLM_TABLE(errors), LLM_TABLE(embed_resp) },
	},
};

const struct llm_provider llm_ollama = {
	.otel = "ollama",
	.oi = "ollama",
	.apis = apis,
	.napis = sizeof(apis) / sizeof(apis[0]),
};
