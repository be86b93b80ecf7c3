// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Gemini (ai.google.dev/api): generateContent, streamGenerateContent (one
 * JSON array of responses, or SSE with alt=sse) and embedContent. The
 * model is in the path. Its JSON accepts the proto field names too
 * ("system_instruction" as well as "systemInstruction"), as its own
 * examples use.
 */
#include "semantics/llm_internal.h"

static const struct llm_path generate_req[] = {
	{ "model", LF_MODEL },
	{ "generationConfig.maxOutputTokens", LF_MAX_TOKENS },
	{ "generationConfig.temperature", LF_TEMPERATURE },
	{ "generationConfig.topP", LF_TOP_P },
	{ "generation_config.max_output_tokens", LF_MAX_TOKENS },
	{ "generation_config.temperature", LF_TEMPERATURE },
	{ "generation_config.top_p", LF_TOP_P },
	{ "contents[].role", LF_IN_ROLE },
	{ "contents[].parts[].text", LF_IN_TEXT },
	/* the model's functionCalls, echoed back, and their results;
	 * "error" in the response, by the API's own convention, marks a
	 * failure */
	{ "contents[].parts[].functionCall.id", LF_CALL_ID, LK_ARRAY01 },
	{ "contents[].parts[].functionCall.name", LF_CALL_NAME, LK_ARRAY01 },
	{ "contents[].parts[].function_call.id", LF_CALL_ID, LK_ARRAY01 },
	{ "contents[].parts[].function_call.name", LF_CALL_NAME, LK_ARRAY01 },
	{ "contents[].parts[].functionResponse.id", LF_RESULT_ID, LK_ARRAY01 },
	{ "contents[].parts[].functionResponse.name", LF_RESULT_NAME, LK_ARRAY01 },
	{ "contents[].parts[].functionResponse.response.error", LF_RESULT_ERROR_ANY, LK_ARRAY01 },
	{ "contents[].parts[].functionResponse.response.error.message", LF_RESULT_ERROR_ANY,
	  LK_ARRAY01 },
	{ "contents[].parts[].function_response.id", LF_RESULT_ID, LK_ARRAY01 },
	{ "contents[].parts[].function_response.name", LF_RESULT_NAME, LK_ARRAY01 },
	{ "systemInstruction.parts[].text", LF_SYSTEM },
	{ "system_instruction.parts[].text", LF_SYSTEM },
};

/* {"error": {"code": 429, "message", "status": "RESOURCE_EXHAUSTED"}} */
static const struct llm_path errors[] = {
	{ "error.status", LF_ERR_TYPE },
	{ "error.message", LF_ERR_MSG },
};

/* GenerateContentResponse; a stream is a series of them, each with the
 * new parts and the usage so far. */
static const struct llm_path generate_resp[] = {
	{ "responseId", LF_ID },
	{ "modelVersion", LF_RESP_MODEL },
	{ "usageMetadata.promptTokenCount", LF_IN_TOKENS },
	{ "usageMetadata.candidatesTokenCount", LF_OUT_TOKENS },
	{ "usageMetadata.totalTokenCount", LF_TOTAL_TOKENS },
	{ "usageMetadata.cachedContentTokenCount", LF_CACHE_READ },
	{ "usageMetadata.thoughtsTokenCount", LF_REASONING },
	{ "candidates[].finishReason", LF_FINISH },
	{ "candidates[].content.role", LF_OUT_ROLE },
	{ "candidates[].content.parts[].text", LF_OUT_TEXT },
	/* each response its own calls, by part */
	{ "candidates[].content.parts[].functionCall.id", LF_TOOL_ID, LK_RECORD_ARRAY1 },
	{ "candidates[].content.parts[].functionCall.name", LF_TOOL_NAME, LK_RECORD_ARRAY1 },
	{ "candidates[].content.parts[].functionCall.args", LF_TOOL_ARGS_JSON, LK_RECORD_ARRAY1 },
};

static const struct llm_path embed_req[] = {
	{ "model", LF_MODEL },
	{ "content.parts[].text", LF_PROMPT },
};

static const struct llm_api apis[] = {
	{
		.id = SP_LLM_GEMINI_GENERATE,
		.name = "gemini.generateContent",
		.operation = "generate_content",
		.routes = { { LR_MODEL_VERB, "generateContent" } },
		.req = { LLM_TABLE(generate_req) },
		.resp = { LLM_TABLE(errors), LLM_TABLE(generate_resp) },
	},
	{
		.id = SP_LLM_GEMINI_STREAM,
		.name = "gemini.streamGenerateContent",
		.operation = "generate_content",
		.stream_default = true,
		.stream_body = true,
		.routes = { { LR_MODEL_VERB, "streamGenerateContent" } },
		.req = { LLM_TABLE(generate_req) },
		.resp = { LLM_TABLE(errors), LLM_TABLE(generate_resp) },
	},
	{
		.id = SP_LLM_GEMINI_EMBED,
		.name = "gemini.embedContent",
		.operation = "embeddings",
		.embedding = true,
		.routes = { { LR_MODEL_VERB, "embedContent" } },
		.req = { LLM_TABLE(embed_req) },
		.resp = { LLM_TABLE(errors) },
	},
};

const struct llm_provider llm_gemini = {
	.otel = "gcp.gemini",
	.oi = "google",
	.apis = apis,
	.napis = sizeof(apis) / sizeof(apis[0]),
};
