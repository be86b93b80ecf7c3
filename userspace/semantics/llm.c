// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What each provider's API puts where is written from its published API
 * reference (OpenAI Chat Completions, Completions, Embeddings, Responses;
 * Anthropic Messages; Gemini generateContent; Ollama /api/chat and co.). The request
 * and response are walked as JSON paths (jwalk.c); each API's table below
 * says which paths matter. Unknown fields are ignored, missing ones left
 * out: nothing is guessed.
 */
#include <brotli/decode.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>
#include "util/clock.h"
#include "decode/jwalk.h"
#include "semantics/llm.h"
#include "semantics/prices.h"

#define MAX_MSGS	16	/* input messages kept (the rest counted) */
#define MAX_TOOLS	16	/* tool calls kept */
#define MAX_FINISH	8
#define SSE_LINE_MAX	(1u << 20)	/* one SSE line */
#define DECODED_MAX	(64ull << 20)	/* decompressed bytes, against bombs */

/* A bounded text: up to cap bytes kept, the rest counted as cut. */
struct text {
	char *buf;
	uint32_t len;
	bool cut;
};

struct msg {
	char role[16];
	int key;		/* which JSON element it came from */
	struct text content;
};

struct tool {
	int key;
	char id[96];
	char name[96];
	struct text args;
	uint64_t ts;
};

enum body_kind { BODY_JSON, BODY_SSE, BODY_NDJSON };
enum body_enc { ENC_NONE, ENC_GZIP, ENC_DEFLATE, ENC_BR, ENC_ZSTD, ENC_UNKNOWN };

struct sp_llm {
	enum sp_llm_api api;
	struct sp_llm_opts o;
	char host[128];

	/* request */
	struct jwalk req;
	bool req_shape;		/* the body had the API's shape */
	char req_model[128];
	int64_t max_tokens;
	double temperature, top_p;
	bool has_max_tokens, has_temperature, has_top_p;
	int stream;		/* -1: not said */
	struct msg in[MAX_MSGS];
	int nin, in_dropped, last_in_key;
	struct text input_value;

	/* response */
	uint16_t status;
	enum body_kind kind;
	enum body_enc enc;
	bool resp_started;
	z_stream z;
	bool z_init, z_raw_tried;
	BrotliDecoderState *br;
	ZSTD_DStream *zs;
	uint64_t decoded;
	struct jwalk resp;
	bool resp_init;
	char *line;
	uint32_t line_len, line_cap;
	bool line_skip;
	uint64_t cur_ts;
	char rec_type[48];	/* "type" of the current stream record */
	int rec_index;		/* "index" of the current stream record */
	int cur_tool;		/* OpenAI stream: delta.tool_calls[].index */

	char resp_model[128], resp_id[128];
	char finish[MAX_FINISH][32];
	int nfinish;
	int64_t in_tok, out_tok, total_tok, cache_read, cache_write, reasoning;
	char out_role[16];
	struct text out;
	struct tool tools[MAX_TOOLS];
	int ntools, tools_dropped;
	uint64_t first_chunk_ts;
	char err_type[64], err_msg[256];
	char retry_after[32];
};

/* ---- small helpers ---- */

static void text_add(struct text *t, uint32_t cap, const char *s, size_t n)
{
	if (!n || !cap || t->cut)
		return;
	if (!t->buf) {
		t->buf = malloc(cap + 1);
		if (!t->buf) {
			t->cut = true;
			return;
		}
	}
	if (t->len + n > cap) {
		n = cap - t->len;
		t->cut = true;
		/* never through the middle of a UTF-8 character */
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = 0;
}

static void copy(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = 0;
}

static int64_t num(const char *s, size_t n)
{
	char b[32];

	copy(b, sizeof(b), s, n);
	return strtoll(b, NULL, 10);
}

static double dbl(const char *s, size_t n)
{
	char b[48];

	copy(b, sizeof(b), s, n);
	return strtod(b, NULL);
}

static bool is(const char *path, const char *want)
{
	return !strcmp(path, want);
}

/* ---- recognising an API ---- */

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && !memcmp(s + n - k, suffix, k);
}

enum sp_llm_api sp_llm_api_of(const char *method, const char *target, char *model, size_t cap)
{
	size_t n = strcspn(target, "?#");
	const char *colon, *slash;

	if (cap)
		model[0] = 0;
	if (strcmp(method, "POST"))
		return SP_LLM_NONE;
	/* absolute-form through a proxy: look at the path */
	if (strstr(target, "://")) {
		const char *p = strchr(strstr(target, "://") + 3, '/');

		if (!p)
			return SP_LLM_NONE;
		n -= p - target;
		target = p;
	}
	/* Gemini: .../models/{model}:{method} */
	colon = memchr(target, ':', n);
	if (colon && (slash = strstr(target, "/models/")) && slash < colon) {
		const char *m = slash + 8;
		const char *verb = colon + 1;
		size_t vn = target + n - verb;
		enum sp_llm_api api = SP_LLM_NONE;

		if (vn == 15 && !memcmp(verb, "generateContent", 15))
			api = SP_LLM_GEMINI_GENERATE;
		else if (vn == 21 && !memcmp(verb, "streamGenerateContent", 21))
			api = SP_LLM_GEMINI_STREAM;
		else if (vn == 12 && !memcmp(verb, "embedContent", 12))
			api = SP_LLM_GEMINI_EMBED;
		if (api && cap)
			copy(model, cap, m, colon - m);
		return api;
	}
	/* Azure OpenAI: /openai/deployments/{deployment}/... names the model */
	if ((slash = strstr(target, "/deployments/")) && slash < target + n && cap) {
		const char *d = slash + 13;
		size_t dn = strcspn(d, "/?#");

		copy(model, cap, d, dn);
	}
	/* OpenAI and compatible servers under any prefix (/v1, /openai/v1,
	 * /openai/deployments/{d} for Azure, /api/v1 for OpenRouter) */
	if (ends_with(target, n, "/chat/completions"))
		return SP_LLM_OPENAI_CHAT;
	if (ends_with(target, n, "/v1/completions") || ends_with(target, n, "}/completions") ||
	    (strstr(target, "/deployments/") && ends_with(target, n, "/completions")))
		return SP_LLM_OPENAI_COMPLETIONS;
	if (ends_with(target, n, "/embeddings") && !ends_with(target, n, "/api/embeddings"))
		return SP_LLM_OPENAI_EMBEDDINGS;
	if (ends_with(target, n, "/v1/responses") || ends_with(target, n, "/openai/responses"))
		return SP_LLM_OPENAI_RESPONSES;
	if (ends_with(target, n, "/v1/messages"))
		return SP_LLM_ANTHROPIC_MESSAGES;
	if (ends_with(target, n, "/api/chat"))
		return SP_LLM_OLLAMA_CHAT;
	if (ends_with(target, n, "/api/generate"))
		return SP_LLM_OLLAMA_GENERATE;
	if (ends_with(target, n, "/api/embed") || ends_with(target, n, "/api/embeddings"))
		return SP_LLM_OLLAMA_EMBED;
	return SP_LLM_NONE;
}

static bool is_embedding(enum sp_llm_api api)
{
	return api == SP_LLM_OPENAI_EMBEDDINGS || api == SP_LLM_GEMINI_EMBED ||
	       api == SP_LLM_OLLAMA_EMBED;
}

static const char *operation(enum sp_llm_api api)
{
	switch (api) {
	case SP_LLM_OPENAI_COMPLETIONS:
	case SP_LLM_OLLAMA_GENERATE:
		return "text_completion";
	case SP_LLM_GEMINI_GENERATE:
	case SP_LLM_GEMINI_STREAM:
		return "generate_content";
	default:
		return is_embedding(api) ? "embeddings" : "chat";
	}
}

/* gen_ai.provider.name: the host where it is known, else the API shape */
static void provider(const struct sp_llm *l, const char **otel, const char **oi)
{
	static const struct {
		const char *host, *otel, *oi;
	} hosts[] = {
		{ "api.openai.com", "openai", "openai" },
		{ "api.anthropic.com", "anthropic", "anthropic" },
		{ "generativelanguage.googleapis.com", "gcp.gemini", "google" },
		{ "aiplatform.googleapis.com", "gcp.vertex_ai", "google" },
		{ ".openai.azure.com", "azure.ai.openai", "azure" },
		{ "api.groq.com", "groq", "groq" },
		{ "api.deepseek.com", "deepseek", "deepseek" },
		{ "api.mistral.ai", "mistral_ai", "mistralai" },
		{ "api.x.ai", "x_ai", "xai" },
		{ "api.perplexity.ai", "perplexity", "perplexity" },
		{ "openrouter.ai", "openrouter", "openrouter" },
		{ "api.together.xyz", "together_ai", "together" },
		{ "api.cohere.com", "cohere", "cohere" },
	};
	char host[128];

	copy(host, sizeof(host), l->host, strcspn(l->host, ":"));
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		size_t hl = strlen(host), kl = strlen(hosts[i].host);

		if (hl >= kl && !strcasecmp(host + hl - kl, hosts[i].host) &&
		    (hl == kl || hosts[i].host[0] == '.' || host[hl - kl - 1] == '.')) {
			*otel = hosts[i].otel;
			*oi = hosts[i].oi;
			return;
		}
	}
	switch (l->api) {
	case SP_LLM_ANTHROPIC_MESSAGES:
		*otel = *oi = "anthropic";
		break;
	case SP_LLM_GEMINI_GENERATE:
	case SP_LLM_GEMINI_STREAM:
	case SP_LLM_GEMINI_EMBED:
		*otel = "gcp.gemini";
		*oi = "google";
		break;
	case SP_LLM_OLLAMA_CHAT:
	case SP_LLM_OLLAMA_GENERATE:
	case SP_LLM_OLLAMA_EMBED:
		*otel = *oi = "ollama";
		break;
	default:
		*otel = *oi = "openai";
	}
}

/* ---- request ---- */

static struct msg *msg_at(struct sp_llm *l, int key)
{
	if (l->nin && l->last_in_key == key)
		return &l->in[l->nin - 1];
	if (l->nin == MAX_MSGS) {
		l->in_dropped++;
		l->last_in_key = key;
		return NULL;
	}
	l->last_in_key = key;
	memset(&l->in[l->nin], 0, sizeof(l->in[0]));
	l->in[l->nin].key = key;
	return &l->in[l->nin++];
}

static void in_role(struct sp_llm *l, int key, const char *s, size_t n)
{
	struct msg *m = msg_at(l, key);

	if (m)
		copy(m->role, sizeof(m->role), s, n);
}

static void in_text(struct sp_llm *l, int key, const char *role, const char *s, size_t n)
{
	struct msg *m = msg_at(l, key);

	if (!m)
		return;
	if (role && !m->role[0])
		copy(m->role, sizeof(m->role), role, strlen(role));
	if (l->o.content)
		text_add(&m->content, l->o.content_max, s, n);
}

/* key spaces for messages: system text, then the messages array */
#define KEY_SYSTEM	-2
#define KEY_PROMPT	-3

static void req_value(void *ctx, struct jwalk *w, const char *p, int type, const char *s,
		      size_t n)
{
	struct sp_llm *l = ctx;
	int i0 = jw_index(w, 0);

	/* common parameters, named alike by most APIs */
	if (is(p, "model") && type == JW_STR) {
		/* Gemini spells it "models/{model}" in bodies */
		if (n > 7 && !memcmp(s, "models/", 7))
			s += 7, n -= 7;
		copy(l->req_model, sizeof(l->req_model), s, n);
		l->req_shape = true;
		return;
	}
	if (type == JW_NUM && (is(p, "max_tokens") || is(p, "max_completion_tokens") ||
			       is(p, "max_output_tokens") || is(p, "generationConfig.maxOutputTokens") ||
			       is(p, "options.num_predict"))) {
		l->max_tokens = num(s, n);
		l->has_max_tokens = true;
		return;
	}
	if (type == JW_NUM && (is(p, "temperature") || is(p, "generationConfig.temperature") ||
			       is(p, "options.temperature"))) {
		l->temperature = dbl(s, n);
		l->has_temperature = true;
		return;
	}
	if (type == JW_NUM && (is(p, "top_p") || is(p, "generationConfig.topP") ||
			       is(p, "options.top_p"))) {
		l->top_p = dbl(s, n);
		l->has_top_p = true;
		return;
	}
	if (is(p, "stream") && type == JW_BOOL) {
		l->stream = s[0] == 't';
		return;
	}
	if (type != JW_STR)
		return;
	/* messages, in each API's shape */
	if (is(p, "messages[].role") || is(p, "input[].role") || is(p, "contents[].role"))
		in_role(l, i0, s, n);
	else if (is(p, "messages[].content") || is(p, "messages[].content[].text") ||
		 is(p, "input[].content") || is(p, "input[].content[].text") ||
		 is(p, "contents[].parts[].text"))
		in_text(l, i0, NULL, s, n);
	else if (is(p, "system") || is(p, "system[].text") || is(p, "instructions") ||
		 is(p, "systemInstruction.parts[].text"))
		in_text(l, KEY_SYSTEM, "system", s, n);
	else if (is(p, "prompt") || is(p, "input") || is(p, "input[]") ||
		 is(p, "content.parts[].text"))
		in_text(l, KEY_PROMPT, "user", s, n);
	else
		return;
	/* The API's own fields: with the path, that is the shape of a call.
	 * Gemini and Azure deployments name the model in the path, not the
	 * body. */
	l->req_shape = true;
}

void sp_llm__request_body(struct sp_llm *l, const char *buf, size_t len)
{
	if (l->o.content)
		text_add(&l->input_value, l->o.content_max, buf, len);
	jw_feed(&l->req, buf, len);
}

/* ---- response ---- */

static struct tool *tool_at(struct sp_llm *l, int key)
{
	for (int i = 0; i < l->ntools; i++)
		if (l->tools[i].key == key)
			return &l->tools[i];
	if (l->ntools == MAX_TOOLS) {
		l->tools_dropped++;
		return NULL;
	}
	memset(&l->tools[l->ntools], 0, sizeof(l->tools[0]));
	l->tools[l->ntools].key = key;
	l->tools[l->ntools].ts = l->cur_ts;
	return &l->tools[l->ntools++];
}

static bool streaming(const struct sp_llm *l)
{
	return l->kind != BODY_JSON || l->api == SP_LLM_GEMINI_STREAM;
}

static void first_chunk(struct sp_llm *l)
{
	if (!l->first_chunk_ts && streaming(l))
		l->first_chunk_ts = l->cur_ts;
}

static void out_text(struct sp_llm *l, const char *s, size_t n)
{
	if (!n)
		return;
	first_chunk(l);
	if (l->o.content)
		text_add(&l->out, l->o.content_max, s, n);
}

static void tool_field(struct sp_llm *l, int key, int field, const char *s, size_t n)
{
	struct tool *t = tool_at(l, key);

	if (!t)
		return;
	first_chunk(l);
	if (field == 0)
		copy(t->id, sizeof(t->id), s, n);
	else if (field == 1)
		copy(t->name, sizeof(t->name), s, n);
	else
		text_add(&t->args, 4096, s, n);
}

static void add_finish(struct sp_llm *l, const char *s, size_t n)
{
	if (!n || l->nfinish == MAX_FINISH)
		return;
	/* a stream repeats it in chunk after chunk: once each */
	for (int i = 0; i < l->nfinish; i++)
		if (strlen(l->finish[i]) == n && !memcmp(l->finish[i], s, n))
			return;
	copy(l->finish[l->nfinish++], sizeof(l->finish[0]), s, n);
}

enum { TOOL_ID, TOOL_NAME, TOOL_ARGS };

static void resp_value(void *ctx, struct jwalk *w, const char *path, int type, const char *s,
		       size_t n)
{
	struct sp_llm *l = ctx;
	const char *p = path;
	bool str = type == JW_STR, number = type == JW_NUM;

	/* Gemini's stream without alt=sse is one JSON array of responses */
	if (!strncmp(p, "[].", 3))
		p += 3;
	/* the record's own type and index, for stream events */
	if (is(p, "type") && str) {
		copy(l->rec_type, sizeof(l->rec_type), s, n);
		return;
	}
	if (is(p, "index") && number) {
		l->rec_index = (int)num(s, n);
		return;
	}
	/* ids and models: plain, nested in a stream's first event */
	if (str && (is(p, "id") || is(p, "message.id") || is(p, "response.id") ||
		    is(p, "responseId"))) {
		if (!l->resp_id[0] || l->api != SP_LLM_OPENAI_RESPONSES)
			copy(l->resp_id, sizeof(l->resp_id), s, n);
		return;
	}
	if (str && (is(p, "model") || is(p, "message.model") || is(p, "response.model") ||
		    is(p, "modelVersion"))) {
		if (n > 7 && !memcmp(s, "models/", 7))
			s += 7, n -= 7;
		copy(l->resp_model, sizeof(l->resp_model), s, n);
		return;
	}
	/* errors */
	if (str && (is(p, "error.type") || is(p, "error.status"))) {
		copy(l->err_type, sizeof(l->err_type), s, n);
		return;
	}
	if (str && (is(p, "error.message") || is(p, "error"))) {
		copy(l->err_msg, sizeof(l->err_msg), s, n);
		return;
	}
	if (str && is(p, "error.code") && !l->err_type[0]) {
		copy(l->err_type, sizeof(l->err_type), s, n);
		return;
	}
	/* usage: the last value seen wins (streams repeat or complete it) */
	if (number) {
		int64_t v = num(s, n);

		if (is(p, "usage.prompt_tokens") || is(p, "usage.input_tokens") ||
		    is(p, "message.usage.input_tokens") || is(p, "response.usage.input_tokens") ||
		    is(p, "usageMetadata.promptTokenCount") || is(p, "prompt_eval_count"))
			l->in_tok = v;
		else if (is(p, "usage.completion_tokens") || is(p, "usage.output_tokens") ||
			 is(p, "message.usage.output_tokens") ||
			 is(p, "response.usage.output_tokens") ||
			 is(p, "usageMetadata.candidatesTokenCount") || is(p, "eval_count"))
			l->out_tok = v;
		else if (is(p, "usage.total_tokens") || is(p, "response.usage.total_tokens") ||
			 is(p, "usageMetadata.totalTokenCount"))
			l->total_tok = v;
		else if (is(p, "usage.prompt_tokens_details.cached_tokens") ||
			 is(p, "usage.input_tokens_details.cached_tokens") ||
			 is(p, "response.usage.input_tokens_details.cached_tokens") ||
			 is(p, "usage.cache_read_input_tokens") ||
			 is(p, "message.usage.cache_read_input_tokens") ||
			 is(p, "usageMetadata.cachedContentTokenCount"))
			l->cache_read = v;
		else if (is(p, "usage.cache_creation_input_tokens") ||
			 is(p, "message.usage.cache_creation_input_tokens"))
			l->cache_write = v;
		else if (is(p, "usage.completion_tokens_details.reasoning_tokens") ||
			 is(p, "usage.output_tokens_details.reasoning_tokens") ||
			 is(p, "response.usage.output_tokens_details.reasoning_tokens") ||
			 is(p, "usageMetadata.thoughtsTokenCount"))
			l->reasoning = v;
		else if (is(p, "choices[].delta.tool_calls[].index"))
			l->cur_tool = (int)v;
		return;
	}
	if (!str)
		return;
	/* finish reasons */
	if (is(p, "choices[].finish_reason") || is(p, "stop_reason") || is(p, "delta.stop_reason") ||
	    is(p, "candidates[].finishReason") || is(p, "done_reason") ||
	    is(p, "response.incomplete_details.reason") ||
	    (l->api == SP_LLM_OPENAI_RESPONSES && (is(p, "status") || is(p, "response.status")) &&
	     strncmp(s, "in_progress", n))) {
		add_finish(l, s, n);
		return;
	}
	/* roles */
	if (is(p, "choices[].message.role") || is(p, "choices[].delta.role") || is(p, "role") ||
	    is(p, "message.role") || is(p, "candidates[].content.role")) {
		copy(l->out_role, sizeof(l->out_role), s, n);
		return;
	}
	/* generated text */
	if (is(p, "choices[].message.content") || is(p, "choices[].delta.content") ||
	    is(p, "choices[].text") || is(p, "content[].text") || is(p, "delta.text") ||
	    is(p, "candidates[].content.parts[].text") || is(p, "message.content") ||
	    is(p, "response") || is(p, "output[].content[].text") ||
	    (is(p, "delta") && !strcmp(l->rec_type, "response.output_text.delta"))) {
		out_text(l, s, n);
		return;
	}
	/* tool calls */
	if (is(p, "choices[].message.tool_calls[].id"))
		tool_field(l, jw_index(w, 1), TOOL_ID, s, n);
	else if (is(p, "choices[].message.tool_calls[].function.name"))
		tool_field(l, jw_index(w, 1), TOOL_NAME, s, n);
	else if (is(p, "choices[].message.tool_calls[].function.arguments"))
		tool_field(l, jw_index(w, 1), TOOL_ARGS, s, n);
	else if (is(p, "choices[].delta.tool_calls[].id"))
		tool_field(l, l->cur_tool, TOOL_ID, s, n);
	else if (is(p, "choices[].delta.tool_calls[].function.name"))
		tool_field(l, l->cur_tool, TOOL_NAME, s, n);
	else if (is(p, "choices[].delta.tool_calls[].function.arguments"))
		tool_field(l, l->cur_tool, TOOL_ARGS, s, n);
	/* Anthropic: content blocks (non-stream: by position; stream: by index) */
	else if (is(p, "content[].id"))
		tool_field(l, jw_index(w, 0), TOOL_ID, s, n);
	else if (is(p, "content[].name"))
		tool_field(l, jw_index(w, 0), TOOL_NAME, s, n);
	else if (is(p, "content_block.id"))
		tool_field(l, l->rec_index, TOOL_ID, s, n);
	else if (is(p, "content_block.name"))
		tool_field(l, l->rec_index, TOOL_NAME, s, n);
	else if (is(p, "delta.partial_json"))
		tool_field(l, l->rec_index, TOOL_ARGS, s, n);
	/* OpenAI Responses: function_call output items */
	else if (is(p, "output[].call_id") || is(p, "response.output[].call_id"))
		tool_field(l, 1000 + jw_index(w, 0), TOOL_ID, s, n);
	else if (is(p, "output[].name") || is(p, "response.output[].name"))
		tool_field(l, 1000 + jw_index(w, 0), TOOL_NAME, s, n);
	else if (is(p, "output[].arguments") || is(p, "response.output[].arguments"))
		tool_field(l, 1000 + jw_index(w, 0), TOOL_ARGS, s, n);
	/* Gemini and Ollama: function calls */
	else if (is(p, "candidates[].content.parts[].functionCall.name"))
		tool_field(l, (int)(w->records * 100 + jw_index(w, 1)), TOOL_NAME, s, n);
	else if (is(p, "candidates[].content.parts[].functionCall.id"))
		tool_field(l, (int)(w->records * 100 + jw_index(w, 1)), TOOL_ID, s, n);
	else if (is(p, "message.tool_calls[].function.name"))
		tool_field(l, (int)(w->records * 100 + jw_index(w, 0)), TOOL_NAME, s, n);
	else if (is(p, "message.tool_calls[].id"))
		tool_field(l, (int)(w->records * 100 + jw_index(w, 0)), TOOL_ID, s, n);
}

/* Tool arguments that are JSON objects, not strings */
static bool resp_want_raw(void *ctx, const char *path)
{
	const char *p = strncmp(path, "[].", 3) ? path : path + 3;

	return is(p, "content[].input") || is(p, "candidates[].content.parts[].functionCall.args") ||
	       is(p, "message.tool_calls[].function.arguments");
}

static void resp_raw(void *ctx, struct jwalk *w, const char *path, const char *json, size_t n)
{
	struct sp_llm *l = ctx;
	const char *p = strncmp(path, "[].", 3) ? path : path + 3;

	if (is(p, "content[].input"))
		tool_field(l, jw_index(w, 0), TOOL_ARGS, json, n);
	else if (is(p, "candidates[].content.parts[].functionCall.args"))
		tool_field(l, (int)(w->records * 100 + jw_index(w, 1)), TOOL_ARGS, json, n);
	else
		tool_field(l, (int)(w->records * 100 + jw_index(w, 0)), TOOL_ARGS, json, n);
}

static void resp_record(void *ctx, struct jwalk *w)
{
	struct sp_llm *l = ctx;

	l->rec_type[0] = 0;
}

/* Decoded body bytes: JSON as is, NDJSON as is (values in a row), SSE
 * through its data lines. */
static void parse(struct sp_llm *l, const char *buf, size_t len)
{
	if (!l->resp_init)
		return;
	if (l->kind != BODY_SSE) {
		jw_feed(&l->resp, buf, len);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		char c = buf[i];

		if (c != '\n') {
			if (l->line_skip)
				continue;
			if (l->line_len + 1 >= l->line_cap) {
				uint32_t cap = l->line_cap ? 2 * l->line_cap : 4096;
				char *nl = cap <= SSE_LINE_MAX ? realloc(l->line, cap) : NULL;

				if (!nl) {
					/* a line too long to keep: skip it */
					l->line_skip = true;
					continue;
				}
				l->line = nl;
				l->line_cap = cap;
			}
			l->line[l->line_len++] = c;
			continue;
		}
		if (!l->line_skip && l->line_len >= 5 && !memcmp(l->line, "data:", 5)) {
			char *d = l->line + 5;
			size_t dn = l->line_len - 5;

			if (dn && *d == ' ')
				d++, dn--;
			if (dn && d[dn - 1] == '\r')
				dn--;
			if (!(dn == 6 && !memcmp(d, "[DONE]", 6))) {
				if (l->resp.failed) {
					/* one bad event does not end the stream */
					jw_free(&l->resp);
					jw_init(&l->resp, resp_value, resp_record, resp_want_raw,
						resp_raw, l);
				}
				jw_feed(&l->resp, d, dn);
				jw_feed(&l->resp, "\n", 1);
			}
		}
		l->line_len = 0;
		l->line_skip = false;
	}
}

static void decode(struct sp_llm *l, const char *buf, size_t len)
{
	uint8_t out[16384];

	switch (l->enc) {
	case ENC_NONE:
		parse(l, buf, len);
		return;
	case ENC_UNKNOWN:
		return;
	case ENC_GZIP:
	case ENC_DEFLATE:
		l->z.next_in = (uint8_t *)buf;
		l->z.avail_in = len;
		while (l->z.avail_in && l->decoded < DECODED_MAX) {
			int rc;

			l->z.next_out = out;
			l->z.avail_out = sizeof(out);
			rc = inflate(&l->z, Z_NO_FLUSH);
			if (rc == Z_DATA_ERROR && l->enc == ENC_DEFLATE && !l->z_raw_tried &&
			    l->z.total_out == 0) {
				/* "deflate" is sometimes sent raw, without the
				 * zlib wrapper RFC 9110 asks for */
				l->z_raw_tried = true;
				inflateEnd(&l->z);
				inflateInit2(&l->z, -15);
				l->z.next_in = (uint8_t *)buf;
				l->z.avail_in = len;
				continue;
			}
			parse(l, (char *)out, sizeof(out) - l->z.avail_out);
			l->decoded += sizeof(out) - l->z.avail_out;
			if (rc != Z_OK)
				break;	/* end of stream, or corrupt: stop */
		}
		return;
	case ENC_BR: {
		const uint8_t *in = (const uint8_t *)buf;
		size_t avail_in = len;

		while (l->decoded < DECODED_MAX) {
			uint8_t *o = out;
			size_t avail_out = sizeof(out);
			BrotliDecoderResult rc = BrotliDecoderDecompressStream(
				l->br, &avail_in, &in, &avail_out, &o, NULL);

			parse(l, (char *)out, sizeof(out) - avail_out);
			l->decoded += sizeof(out) - avail_out;
			if (rc != BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT)
				break;
		}
		return;
	}
	case ENC_ZSTD: {
		ZSTD_inBuffer in = { buf, len, 0 };

		while (in.pos < in.size && l->decoded < DECODED_MAX) {
			ZSTD_outBuffer o = { out, sizeof(out), 0 };
			size_t rc = ZSTD_decompressStream(l->zs, &o, &in);

			if (ZSTD_isError(rc))
				break;
			parse(l, (char *)out, o.pos);
			l->decoded += o.pos;
		}
		return;
	}
	}
}

static bool has_token(const char *s, size_t n, const char *tok)
{
	size_t k = strlen(tok);

	for (size_t i = 0; i + k <= n; i++)
		if (!strncasecmp(s + i, tok, k))
			return true;
	return false;
}

void sp_llm__response_head(struct sp_llm *l, uint16_t status, const char *ctype, size_t ctype_len,
			   const char *cenc, size_t cenc_len, const char *retry_after, size_t ra_len)
{
	l->status = status;
	if (ctype && has_token(ctype, ctype_len, "text/event-stream"))
		l->kind = BODY_SSE;
	else if (ctype && (has_token(ctype, ctype_len, "ndjson") ||
			   has_token(ctype, ctype_len, "jsonl")))
		l->kind = BODY_NDJSON;
	else
		l->kind = BODY_JSON;
	l->enc = ENC_NONE;
	if (cenc && cenc_len && !has_token(cenc, cenc_len, "identity")) {
		if (has_token(cenc, cenc_len, "gzip"))
			l->enc = ENC_GZIP;
		else if (has_token(cenc, cenc_len, "deflate"))
			l->enc = ENC_DEFLATE;
		else if (has_token(cenc, cenc_len, "br"))
			l->enc = ENC_BR;
		else if (has_token(cenc, cenc_len, "zstd"))
			l->enc = ENC_ZSTD;
		else
			l->enc = ENC_UNKNOWN;
	}
	if ((l->enc == ENC_GZIP && inflateInit2(&l->z, 15 + 16) == Z_OK) ||
	    (l->enc == ENC_DEFLATE && inflateInit2(&l->z, 15) == Z_OK))
		l->z_init = true;
	else if (l->enc == ENC_GZIP || l->enc == ENC_DEFLATE)
		l->enc = ENC_UNKNOWN;
	if (l->enc == ENC_BR && !(l->br = BrotliDecoderCreateInstance(NULL, NULL, NULL)))
		l->enc = ENC_UNKNOWN;
	if (l->enc == ENC_ZSTD && !(l->zs = ZSTD_createDStream()))
		l->enc = ENC_UNKNOWN;
	if (retry_after && ra_len)
		copy(l->retry_after, sizeof(l->retry_after), retry_after, ra_len);
	l->resp_init = !jw_init(&l->resp, resp_value, resp_record, resp_want_raw, resp_raw, l);
	l->resp_started = true;
}

void sp_llm__response_body(struct sp_llm *l, const char *buf, size_t len, uint64_t ts)
{
	if (!l->resp_started)
		return;
	l->cur_ts = ts;
	decode(l, buf, len);
}

/* ---- life cycle ---- */

struct sp_llm *sp_llm__new(enum sp_llm_api api, const char *host, const char *path_model,
			   const struct sp_llm_opts *o)
{
	struct sp_llm *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->api = api;
	l->o = *o;
	l->stream = -1;
	l->in_tok = l->out_tok = l->total_tok = l->cache_read = l->cache_write = l->reasoning = -1;
	l->last_in_key = -100;
	snprintf(l->host, sizeof(l->host), "%s", host ? host : "");
	if (path_model && *path_model)
		snprintf(l->req_model, sizeof(l->req_model), "%s", path_model);
	if (jw_init(&l->req, req_value, NULL, NULL, NULL, l)) {
		free(l);
		return NULL;
	}
	return l;
}

void sp_llm__free(struct sp_llm *l)
{
	if (!l)
		return;
	jw_free(&l->req);
	if (l->resp_init)
		jw_free(&l->resp);
	if (l->z_init)
		inflateEnd(&l->z);
	if (l->br)
		BrotliDecoderDestroyInstance(l->br);
	if (l->zs)
		ZSTD_freeDStream(l->zs);
	for (int i = 0; i < l->nin; i++)
		free(l->in[i].content.buf);
	for (int i = 0; i < l->ntools; i++)
		free(l->tools[i].args.buf);
	free(l->out.buf);
	free(l->input_value.buf);
	free(l->line);
	free(l);
}

bool sp_llm__is_llm(struct sp_llm *l)
{
	return l->req_shape;
}

static const char *model_of(const struct sp_llm *l)
{
	return l->resp_model[0] ? l->resp_model : l->req_model;
}

void sp_llm__span_name(struct sp_llm *l, char *out, size_t cap)
{
	const char *m = model_of(l);

	snprintf(out, cap, "%s%s%s", operation(l->api), *m ? " " : "", m);
}

/* ---- the span ---- */

static void set_text(struct sp_span *s, const char *key, const struct text *t)
{
	if (t->buf)
		sp_span__set_str(s, key, t->buf, t->len);
}

/* "llm.input_messages.3.message.role": a key made for this span */
static const char *dyn_key(struct sp_span *s, const char *fmt, int i)
{
	char k[96];
	int n = snprintf(k, sizeof(k), fmt, i);

	return sp_span__strdup(s, k, n);
}

static void event_str(struct sp_event *e, const char *key, const char *v)
{
	if (e->nattrs < SP_EVENT_MAX_ATTRS && v)
		e->attrs[e->nattrs++] = (struct sp_attr){ .key = key, .type = SP_ATTR_STR, .s = v };
}

void sp_llm__fill(struct sp_llm *l, struct sp_span *s)
{
	const char *otel_provider, *oi_provider, *model = model_of(l);
	bool embed = is_embedding(l->api);
	int64_t in = l->in_tok, out = l->out_tok, total = l->total_tok;
	struct sp_price price;
	char params[256];
	int pn = 0;

	jw_finish(&l->req);
	if (l->resp_init)
		jw_finish(&l->resp);
	provider(l, &otel_provider, &oi_provider);

	/* OTel GenAI */
	sp_span__set_str(s, "gen_ai.operation.name", operation(l->api), strlen(operation(l->api)));
	sp_span__set_str(s, "gen_ai.provider.name", otel_provider, strlen(otel_provider));
	if (l->req_model[0])
		sp_span__set_str(s, "gen_ai.request.model", l->req_model, strlen(l->req_model));
	if (l->has_max_tokens)
		sp_span__set_int(s, "gen_ai.request.max_tokens", l->max_tokens);
	if (l->has_temperature)
		sp_span__set_double(s, "gen_ai.request.temperature", l->temperature);
	if (l->has_top_p)
		sp_span__set_double(s, "gen_ai.request.top_p", l->top_p);
	if (!embed) {
		/* Ollama streams unless told not to; Gemini by endpoint */
		bool st = l->stream >= 0 ? l->stream
					 : (l->api == SP_LLM_GEMINI_STREAM ||
					    l->api == SP_LLM_OLLAMA_CHAT ||
					    l->api == SP_LLM_OLLAMA_GENERATE);

		sp_span__set_bool(s, "gen_ai.request.stream", st);
	}
	if (l->resp_model[0])
		sp_span__set_str(s, "gen_ai.response.model", l->resp_model, strlen(l->resp_model));
	if (l->resp_id[0])
		sp_span__set_str(s, "gen_ai.response.id", l->resp_id, strlen(l->resp_id));
	if (l->nfinish) {
		const char *f[MAX_FINISH];

		for (int i = 0; i < l->nfinish; i++)
			f[i] = l->finish[i];
		sp_span__set_str_array(s, "gen_ai.response.finish_reasons", f, l->nfinish);
	}
	if (total < 0 && in >= 0 && out >= 0)
		total = in + out;
	if (in >= 0)
		sp_span__set_int(s, "gen_ai.usage.input_tokens", in);
	if (out >= 0)
		sp_span__set_int(s, "gen_ai.usage.output_tokens", out);
	if (l->cache_read >= 0)
		sp_span__set_int(s, "gen_ai.usage.cache_read.input_tokens", l->cache_read);
	if (l->cache_write >= 0)
		sp_span__set_int(s, "gen_ai.usage.cache_creation.input_tokens", l->cache_write);
	if (l->reasoning >= 0)
		sp_span__set_int(s, "gen_ai.usage.reasoning.output_tokens", l->reasoning);
	if (l->first_chunk_ts) {
		uint64_t t = sp_clock_to_unix(l->first_chunk_ts);
		double ttfc = t > s->start_ns ? (t - s->start_ns) / 1e9 : 0;

		sp_span__set_double(s, "gen_ai.response.time_to_first_chunk", ttfc);
		sp_span__add_event(s, "gen_ai.content.first_chunk", t);
	}

	/* OpenInference */
	sp_span__set_str(s, "openinference.span.kind", embed ? "EMBEDDING" : "LLM",
			 embed ? 9 : 3);
	if (*model) {
		sp_span__set_str(s, "llm.model_name", model, strlen(model));
		if (embed)
			sp_span__set_str(s, "embedding.model_name", model, strlen(model));
	}
	sp_span__set_str(s, "llm.provider", oi_provider, strlen(oi_provider));
	if (in >= 0)
		sp_span__set_int(s, "llm.token_count.prompt", in);
	if (out >= 0)
		sp_span__set_int(s, "llm.token_count.completion", out);
	if (total >= 0)
		sp_span__set_int(s, "llm.token_count.total", total);
	if (l->cache_read >= 0)
		sp_span__set_int(s, "llm.token_count.prompt_details.cache_read", l->cache_read);
	if (l->cache_write >= 0)
		sp_span__set_int(s, "llm.token_count.prompt_details.cache_write", l->cache_write);
	if (l->reasoning >= 0)
		sp_span__set_int(s, "llm.token_count.completion_details.reasoning", l->reasoning);
	pn = snprintf(params, sizeof(params), "{");
	if (l->has_max_tokens)
		pn += snprintf(params + pn, sizeof(params) - pn, "%s\"max_tokens\":%lld",
			       pn > 1 ? "," : "", (long long)l->max_tokens);
	if (l->has_temperature)
		pn += snprintf(params + pn, sizeof(params) - pn, "%s\"temperature\":%g",
			       pn > 1 ? "," : "", l->temperature);
	if (l->has_top_p)
		pn += snprintf(params + pn, sizeof(params) - pn, "%s\"top_p\":%g", pn > 1 ? "," : "",
			       l->top_p);
	if (l->stream >= 0)
		pn += snprintf(params + pn, sizeof(params) - pn, "%s\"stream\":%s", pn > 1 ? "," : "",
			       l->stream ? "true" : "false");
	snprintf(params + pn, sizeof(params) - pn, "}");
	sp_span__set_str(s, "llm.invocation_parameters", params, strlen(params));

	/* the tool calls the model asks for: an event each */
	for (int i = 0; i < l->ntools; i++) {
		struct tool *t = &l->tools[i];
		struct sp_event *e;
		const char *k;

		if (!t->name[0] && !t->id[0])
			continue;
		e = sp_span__add_event(s, "gen_ai.tool.call", sp_clock_to_unix(t->ts));
		if (!e)
			break;
		event_str(e, "gen_ai.tool.name", sp_span__strdup(s, t->name, strlen(t->name)));
		if (t->id[0])
			event_str(e, "gen_ai.tool.call.id", sp_span__strdup(s, t->id, strlen(t->id)));
		if (t->args.buf)
			event_str(e, "gen_ai.tool.call.arguments",
				  sp_span__strdup(s, t->args.buf, t->args.len));
		k = dyn_key(s, "llm.output_messages.0.message.tool_calls.%d.tool_call.function.name", i);
		if (k)
			sp_span__set_str(s, k, t->name, strlen(t->name));
	}

	/* cost, from the price table only */
	if (*model && sp_prices_lookup(model, &price) && (in >= 0 || out >= 0)) {
		double cp = in > 0 ? in * price.input / 1e6 : 0;
		double cc = out > 0 ? out * price.output / 1e6 : 0;

		sp_span__set_double(s, "llm.cost.prompt", cp);
		sp_span__set_double(s, "llm.cost.completion", cc);
		sp_span__set_double(s, "llm.cost.total", cp + cc);
	}

	/* provider errors */
	if (l->retry_after[0]) {
		const char *v[1] = { l->retry_after };

		sp_span__set_str_array(s, "http.response.header.retry-after", v, 1);
	}
	if (l->status >= 400 || l->err_type[0] || (l->err_msg[0] && l->status >= 400)) {
		char code[8];
		const char *type = l->err_type;

		if (!*type) {
			snprintf(code, sizeof(code), "%u", l->status);
			type = code;
		}
		sp_span__set_str(s, "error.type", type, strlen(type));
		sp_span__set_status(s, SP_STATUS_ERROR, l->err_msg[0] ? l->err_msg : NULL);
	}

	/* Content last, most useful first, within the room the span has:
	 * the completion (one copy for both attributes), the roles, the raw
	 * request, then each input message while it fits. None with
	 * --no-content, except roles: they are not content. */
	if (l->out.buf || l->ntools || l->out_role[0]) {
		const char *role = l->out_role[0] ? l->out_role : "assistant";

		sp_span__set_str(s, "llm.output_messages.0.message.role", role, strlen(role));
		if (l->o.content && l->out.buf) {
			const char *o = sp_span__strdup(s, l->out.buf, l->out.len);

			sp_span__set_arena_str(s, "output.value", o);
			sp_span__set_arena_str(s, "llm.output_messages.0.message.content", o);
			sp_span__set_str(s, "output.mime_type", "text/plain", 10);
		}
	}
	for (int i = 0; i < l->nin; i++) {
		const char *role = l->in[i].role[0] ? l->in[i].role : "user";
		const char *k = dyn_key(s, "llm.input_messages.%d.message.role", i);

		if (k)
			sp_span__set_str(s, k, role, strlen(role));
	}
	if (l->in_dropped)
		sp_span__set_int(s, "spanprobe.llm.input_messages_dropped", l->in_dropped);
	if (l->o.content) {
		int left = 0;

		if (l->input_value.buf) {
			set_text(s, "input.value", &l->input_value);
			sp_span__set_str(s, "input.mime_type", "application/json", 16);
		}
		for (int i = 0; i < l->nin; i++) {
			const char *k;

			if (!l->in[i].content.buf)
				continue;
			/* the span is bounded: once one does not fit, the rest
			 * are left out, and counted */
			if (left || sp_span__arena_left(s) < l->in[i].content.len + 512) {
				left++;
				continue;
			}
			k = dyn_key(s, "llm.input_messages.%d.message.content", i);
			if (k)
				set_text(s, k, &l->in[i].content);
		}
		if (left)
			sp_span__set_int(s, "spanprobe.llm.input_messages_without_content", left);
	}
}
