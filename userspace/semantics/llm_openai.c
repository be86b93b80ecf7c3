// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * OpenAI, and the many servers that speak its API (vLLM, llama.cpp,
 * LiteLLM, OpenRouter, Groq, Together, DeepSeek, Mistral, Azure OpenAI):
 * Chat Completions, Completions, Embeddings and Responses, as the API
 * reference (platform.openai.com/docs/api-reference) writes them.
 */
#include "semantics/llm_internal.h"

/* Named alike by Chat Completions and Completions. */
static const struct llm_path sampling[] = {
	{ "model", LF_MODEL },
	{ "max_tokens", LF_MAX_TOKENS },
	{ "temperature", LF_TEMPERATURE },
	{ "top_p", LF_TOP_P },
	{ "stream", LF_STREAM },
};

/* {"error": {"message", "type", "param", "code"}}; some compatible
 * servers send a plain string. */
static const struct llm_path errors[] = {
	{ "error.type", LF_ERR_TYPE },
	{ "error.message", LF_ERR_MSG },
	{ "error.code", LF_ERR_CODE },
	{ "error", LF_ERR_MSG },
};

static const struct llm_path chat_req[] = {
	{ "max_completion_tokens", LF_MAX_TOKENS },
	{ "messages[].role", LF_IN_ROLE },
	{ "messages[].content", LF_IN_TEXT },
	{ "messages[].content[].text", LF_IN_TEXT },
	/* the model's calls, echoed back; {"role": "tool", "tool_call_id",
	 * "content"}: a tool's result */
	{ "messages[].tool_calls[].id", LF_CALL_ID, LK_ARRAY01 },
	{ "messages[].tool_calls[].function.name", LF_CALL_NAME, LK_ARRAY01 },
	{ "messages[].tool_call_id", LF_RESULT_ID },
};

/* The chat.completion object, and the chat.completion.chunk of a stream. */
static const struct llm_path chat_resp[] = {
	{ "id", LF_ID },
	{ "model", LF_RESP_MODEL },
	{ "usage.prompt_tokens", LF_IN_TOKENS },
	{ "usage.completion_tokens", LF_OUT_TOKENS },
	{ "usage.total_tokens", LF_TOTAL_TOKENS },
	{ "usage.prompt_tokens_details.cached_tokens", LF_CACHE_READ },
	{ "usage.completion_tokens_details.reasoning_tokens", LF_REASONING },
	{ "choices[].finish_reason", LF_FINISH },
	{ "choices[].message.role", LF_OUT_ROLE },
	{ "choices[].message.content", LF_OUT_TEXT },
	{ "choices[].message.tool_calls[].id", LF_TOOL_ID, LK_ARRAY1 },
	{ "choices[].message.tool_calls[].function.name", LF_TOOL_NAME, LK_ARRAY1 },
	{ "choices[].message.tool_calls[].function.arguments", LF_TOOL_ARGS, LK_ARRAY1 },
	{ "choices[].delta.role", LF_OUT_ROLE },
	{ "choices[].delta.content", LF_OUT_TEXT },
	/* output too, for the first chunk: reasoning (DeepSeek, vLLM,
	 * OpenRouter), a refusal */
	{ "choices[].delta.reasoning_content", LF_OUT_MARK },
	{ "choices[].delta.reasoning", LF_OUT_MARK },
	{ "choices[].delta.refusal", LF_OUT_MARK },
	/* a stream names the call each piece is for by its index */
	{ "choices[].delta.tool_calls[].index", LF_TOOL_INDEX },
	{ "choices[].delta.tool_calls[].id", LF_TOOL_ID, LK_DELTA },
	{ "choices[].delta.tool_calls[].function.name", LF_TOOL_NAME, LK_DELTA },
	{ "choices[].delta.tool_calls[].function.arguments", LF_TOOL_ARGS, LK_DELTA },
};

static const struct llm_path completions_req[] = {
	{ "prompt", LF_PROMPT },
	{ "prompt[]", LF_PROMPT },
};

static const struct llm_path completions_resp[] = {
	{ "id", LF_ID },
	{ "model", LF_RESP_MODEL },
	{ "usage.prompt_tokens", LF_IN_TOKENS },
	{ "usage.completion_tokens", LF_OUT_TOKENS },
	{ "usage.total_tokens", LF_TOTAL_TOKENS },
	{ "choices[].finish_reason", LF_FINISH },
	{ "choices[].text", LF_OUT_TEXT },
};

static const struct llm_path embeddings_req[] = {
	{ "model", LF_MODEL },
	{ "input", LF_PROMPT },
	{ "input[]", LF_PROMPT },
};

static const struct llm_path embeddings_resp[] = {
	{ "model", LF_RESP_MODEL },
	{ "usage.prompt_tokens", LF_IN_TOKENS },
	{ "usage.total_tokens", LF_TOTAL_TOKENS },
};

static const struct llm_path responses_req[] = {
	{ "model", LF_MODEL },
	{ "max_output_tokens", LF_MAX_TOKENS },
	{ "temperature", LF_TEMPERATURE },
	{ "top_p", LF_TOP_P },
	{ "stream", LF_STREAM },
	{ "instructions", LF_SYSTEM },
	{ "input", LF_PROMPT },
	{ "input[].role", LF_IN_ROLE },
	{ "input[].content", LF_IN_TEXT },
	{ "input[].content[].text", LF_IN_TEXT },
	/* items: the model's earlier calls ("function_call", and Codex's
	 * freeform "custom_tool_call"), echoed back, and their results
	 * ("function_call_output", "custom_tool_call_output"), by call_id */
	{ "input[].type", LF_IN_TYPE },
	{ "input[].call_id", LF_IN_CALL_ID },
	{ "input[].name", LF_IN_CALL_NAME },
	{ "input[].namespace", LF_IN_CALL_NS },
	{ "input[].arguments", LF_IN_TEXT },
	{ "input[].input", LF_IN_TEXT },
	{ "input[].output", LF_IN_TEXT },
	{ "input[].output[].text", LF_IN_TEXT },
};

/* The response object, and the events of a stream: those that carry the
 * response ("response.created", "response.completed": under "response")
 * and the text deltas. */
static const struct llm_path responses_resp[] = {
	{ "type", LF_REC_TYPE },
	{ "output_index", LF_REC_INDEX },
	{ "id", LF_ID_FIRST },
	{ "response.id", LF_ID_FIRST },
	{ "model", LF_RESP_MODEL },
	{ "response.model", LF_RESP_MODEL },
	{ "status", LF_STATUS },
	{ "response.status", LF_STATUS },
	{ "incomplete_details.reason", LF_FINISH },
	{ "response.incomplete_details.reason", LF_FINISH },
	{ "response.error.code", LF_ERR_CODE },
	{ "response.error.message", LF_ERR_MSG },
	{ "usage.input_tokens", LF_IN_TOKENS },
	{ "response.usage.input_tokens", LF_IN_TOKENS },
	{ "usage.output_tokens", LF_OUT_TOKENS },
	{ "response.usage.output_tokens", LF_OUT_TOKENS },
	{ "usage.total_tokens", LF_TOTAL_TOKENS },
	{ "response.usage.total_tokens", LF_TOTAL_TOKENS },
	{ "usage.input_tokens_details.cached_tokens", LF_CACHE_READ },
	{ "response.usage.input_tokens_details.cached_tokens", LF_CACHE_READ },
	{ "usage.output_tokens_details.reasoning_tokens", LF_REASONING },
	{ "response.usage.output_tokens_details.reasoning_tokens", LF_REASONING },
	{ "output[].role", LF_OUT_ROLE },
	{ "output[].content[].text", LF_OUT_TEXT },
	{ "delta", LF_OUT_TEXT, 0, "response.output_text.delta" },
	{ "delta", LF_OUT_MARK, 0, "response.reasoning_summary_text.delta" },
	{ "delta", LF_OUT_MARK, 0, "response.reasoning_text.delta" },
	{ "delta", LF_OUT_MARK, 0, "response.refusal.delta" },
	/* encrypted reasoning (Codex asks for it) has no deltas */
	{ "item.encrypted_content", LF_OUT_MARK, 0, "response.output_item.done" },
	/* function_call output items ("custom_tool_call": "input", not
	 * "arguments"); Codex names MCP tools by "namespace" and "name".
	 * A stream announces each as it begins, by output_index, sends its
	 * arguments in pieces, then the item whole, then the response. */
	{ "output[].type", LF_TOOL_TYPE, LK_ARRAY0 },	/* mcp_call: OpenAI's */
	{ "response.output[].type", LF_TOOL_TYPE, LK_ARRAY0 },
	{ "item.type", LF_TOOL_TYPE, LK_RECORD, "response.output_item.added" },
	{ "item.type", LF_TOOL_TYPE, LK_RECORD, "response.output_item.done" },
	{ "output[].call_id", LF_TOOL_ID, LK_ARRAY0 },
	{ "output[].name", LF_TOOL_NAME, LK_ARRAY0 },
	{ "output[].namespace", LF_TOOL_NS, LK_ARRAY0 },
	{ "output[].arguments", LF_TOOL_ARGS_FULL, LK_ARRAY0 },
	{ "output[].input", LF_TOOL_ARGS_FULL, LK_ARRAY0 },
	{ "response.output[].call_id", LF_TOOL_ID, LK_ARRAY0 },
	{ "response.output[].name", LF_TOOL_NAME, LK_ARRAY0 },
	{ "response.output[].namespace", LF_TOOL_NS, LK_ARRAY0 },
	{ "response.output[].arguments", LF_TOOL_ARGS_FULL, LK_ARRAY0 },
	{ "response.output[].input", LF_TOOL_ARGS_FULL, LK_ARRAY0 },
	{ "item.call_id", LF_TOOL_ID, LK_RECORD, "response.output_item.added" },
	{ "item.name", LF_TOOL_NAME, LK_RECORD, "response.output_item.added" },
	{ "item.namespace", LF_TOOL_NS, LK_RECORD, "response.output_item.added" },
	{ "item.arguments", LF_TOOL_ARGS_FULL, LK_RECORD, "response.output_item.added" },
	{ "item.input", LF_TOOL_ARGS_FULL, LK_RECORD, "response.output_item.added" },
	{ "delta", LF_TOOL_ARGS, LK_RECORD, "response.function_call_arguments.delta" },
	{ "delta", LF_TOOL_ARGS, LK_RECORD, "response.custom_tool_call_input.delta" },
	{ "item.call_id", LF_TOOL_ID, LK_RECORD, "response.output_item.done" },
	{ "item.name", LF_TOOL_NAME, LK_RECORD, "response.output_item.done" },
	{ "item.namespace", LF_TOOL_NS, LK_RECORD, "response.output_item.done" },
	{ "item.arguments", LF_TOOL_ARGS_FULL, LK_RECORD, "response.output_item.done" },
	{ "item.input", LF_TOOL_ARGS_FULL, LK_RECORD, "response.output_item.done" },
};

static const struct llm_api apis[] = {
	{
		.id = SP_LLM_OPENAI_CHAT,
		.name = "openai.chat",
		.operation = "chat",
		/* any prefix: /v1, /openai/v1, /openai/deployments/{d} */
		.routes = { { LR_SUFFIX, "/chat/completions" } },
		.req = { LLM_TABLE(sampling), LLM_TABLE(chat_req) },
		.resp = { LLM_TABLE(errors), LLM_TABLE(chat_resp) },
	},
	{
		.id = SP_LLM_OPENAI_COMPLETIONS,
		.name = "openai.completions",
		.operation = "text_completion",
		.routes = { { LR_SUFFIX, "/v1/completions" },
			    { LR_DEPLOYMENT_SUFFIX, "/completions" } },
		.req = { LLM_TABLE(sampling), LLM_TABLE(completions_req) },
		.resp = { LLM_TABLE(errors), LLM_TABLE(completions_resp) },
	},
	{
		.id = SP_LLM_OPENAI_EMBEDDINGS,
		.name = "openai.embeddings",
		.operation = "embeddings",
		.embedding = true,
		.routes = { { LR_SUFFIX, "/embeddings" } },
		.req = { LLM_TABLE(embeddings_req) },
		.resp = { LLM_TABLE(errors), LLM_TABLE(embeddings_resp) },
	},
	{
		.id = SP_LLM_OPENAI_RESPONSES,
		.name = "openai.responses",
		.operation = "chat",
		.routes = { { LR_SUFFIX, "/v1/responses" }, { LR_SUFFIX, "/openai/responses" } },
		.req = { LLM_TABLE(responses_req) },
		.resp = { LLM_TABLE(errors), LLM_TABLE(responses_resp) },
	},
};

const struct llm_provider llm_openai = {
	.otel = "openai",
	.oi = "openai",
	.apis = apis,
	.napis = sizeof(apis) / sizeof(apis[0]),
};
