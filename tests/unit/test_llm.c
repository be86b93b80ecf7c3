// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * LLM calls from recorded bodies, written from each provider's published
 * API reference: every API, streamed and not, compressed and not, cut at
 * every point, provider errors, and the rule that nothing is guessed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>
#include <cmocka.h>
#include "util/clock.h"
#include "semantics/llm.h"
#include "semantics/prices.h"
#include "model/span.h"

#define MS 1000000ull
#define T0 (1000 * MS)	/* request start, CLOCK_MONOTONIC */

static struct sp_resource *res;
static struct sp_span *span;
static struct sp_llm_opts opts = { .content = true, .content_max = 4096 };

struct chunk {
	const char *data;
	size_t len;		/* 0: strlen */
	uint64_t at_ms;		/* after T0 */
};

/* Runs one exchange through the decoder; the span is left in `span`. */
static bool run(const char *method, const char *target, const char *host, const char *req,
		uint16_t status, const char *ctype, const char *cenc, const char *retry_after,
		const struct chunk *chunks, int n, char *name, size_t name_cap)
{
	char model[128];
	enum sp_llm_api api = sp_llm_api_of(method, target, model, sizeof(model));
	struct sp_llm *l;
	bool is;

	if (span) {
		sp_span__release(span);
		free(span);
	}
	span = calloc(1, sizeof(*span));
	sp_span__init(span, "x", 1, SP_KIND_CLIENT, res);
	span->start_ns = sp_clock_to_unix(T0);
	span->end_ns = sp_clock_to_unix(T0 + 2000 * MS);
	if (api == SP_LLM_NONE)
		return false;
	l = sp_llm__new(api, host, model, &opts);
	assert_non_null(l);
	if (req)
		sp_llm__request_body(l, req, strlen(req));
	sp_llm__response_head(l, status, ctype, ctype ? strlen(ctype) : 0, cenc,
			      cenc ? strlen(cenc) : 0, retry_after,
			      retry_after ? strlen(retry_after) : 0);
	for (int i = 0; i < n; i++)
		sp_llm__response_body(l, chunks[i].data, chunks[i].len ?: strlen(chunks[i].data),
				      T0 + chunks[i].at_ms * MS);
	is = sp_llm__is_llm(l);
	if (is) {
		sp_llm__fill(l, span);
		if (name)
			sp_llm__span_name(l, name, name_cap);
	}
	sp_llm__free(l);
	return is;
}

static const struct sp_attr *attr(const char *key)
{
	return sp_span__attr(span, key);
}

static void str_is(const char *key, const char *want)
{
	const struct sp_attr *a = attr(key);

	if (!a)
		fail_msg("no attribute %s (want %s)", key, want);
	assert_int_equal(a->type, SP_ATTR_STR);
	assert_string_equal(a->s, want);
}

static void int_is(const char *key, int64_t want)
{
	const struct sp_attr *a = attr(key);

	if (!a)
		fail_msg("no attribute %s (want %lld)", key, (long long)want);
	assert_int_equal(a->type, SP_ATTR_INT);
	assert_int_equal(a->i, want);
}

static void dbl_near(const char *key, double want)
{
	const struct sp_attr *a = attr(key);

	if (!a)
		fail_msg("no attribute %s", key);
	assert_int_equal(a->type, SP_ATTR_DOUBLE);
	if (a->d < want - 1e-9 || a->d > want + 1e-9)
		fail_msg("%s = %.12g, want %.12g", key, a->d, want);
}

static void finish_is(const char *want)
{
	const struct sp_attr *a = attr("gen_ai.response.finish_reasons");

	assert_non_null(a);
	assert_int_equal(a->type, SP_ATTR_STR_ARRAY);
	assert_int_equal(a->n, 1);
	assert_string_equal(a->s, want);
}

static int events_named(const char *name)
{
	int n = 0;

	for (unsigned i = 0; i < span->nevents; i++)
		n += !strcmp(span->events[i].name, name);
	return n;
}

static const char *event_attr(const char *event, int nth, const char *key)
{
	for (unsigned i = 0; i < span->nevents; i++) {
		if (strcmp(span->events[i].name, event) || nth--)
			continue;
		for (unsigned k = 0; k < span->events[i].nattrs; k++)
			if (!strcmp(span->events[i].attrs[k].key, key))
				return span->events[i].attrs[k].s;
	}
	return NULL;
}

static void usage_is(int64_t in, int64_t out)
{
	int_is("gen_ai.usage.input_tokens", in);
	int_is("gen_ai.usage.output_tokens", out);
	int_is("llm.token_count.prompt", in);
	int_is("llm.token_count.completion", out);
	int_is("llm.token_count.total", in + out);
}

/* ---- OpenAI ---- */

static const char OPENAI_REQ[] =
	"{\"model\":\"gpt-4o-mini\",\"max_tokens\":256,\"temperature\":0.2,\"messages\":["
	"{\"role\":\"system\",\"content\":\"You are terse.\"},"
	"{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is the weather in Paris?\"}]}]}";

static const char OPENAI_RESP[] =
	"{\"id\":\"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT\",\"object\":\"chat.completion\","
	"\"created\":1741569952,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,"
	"\"message\":{\"role\":\"assistant\",\"content\":\"Sunny, 21 C.\",\"refusal\":null},"
	"\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":25,"
	"\"completion_tokens\":9,\"total_tokens\":34,\"prompt_tokens_details\":{\"cached_tokens\":0,"
	"\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0}},"
	"\"service_tier\":\"default\",\"system_fingerprint\":\"fp_06737a9306\"}";

static void test_openai_chat(void **state)
{
	struct chunk c[] = { { OPENAI_RESP, 0, 900 } };
	char name[128];

	assert_true(run("POST", "/v1/chat/completions", "api.openai.com", OPENAI_REQ, 200,
			"application/json", NULL, NULL, c, 1, name, sizeof(name)));
	assert_string_equal(name, "chat gpt-4o-mini-2024-07-18");
	str_is("gen_ai.operation.name", "chat");
	str_is("gen_ai.provider.name", "openai");
	str_is("gen_ai.request.model", "gpt-4o-mini");
	str_is("gen_ai.response.model", "gpt-4o-mini-2024-07-18");
	str_is("gen_ai.response.id", "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT");
	int_is("gen_ai.request.max_tokens", 256);
	dbl_near("gen_ai.request.temperature", 0.2);
	assert_false(attr("gen_ai.request.stream")->b);
	finish_is("stop");
	usage_is(25, 9);
	int_is("gen_ai.usage.cache_read.input_tokens", 0);
	str_is("openinference.span.kind", "LLM");
	str_is("llm.model_name", "gpt-4o-mini-2024-07-18");
	str_is("llm.provider", "openai");
	str_is("llm.input_messages.0.message.role", "system");
	str_is("llm.input_messages.0.message.content", "You are terse.");
	str_is("llm.input_messages.1.message.role", "user");
	str_is("llm.input_messages.1.message.content", "What is the weather in Paris?");
	str_is("llm.output_messages.0.message.role", "assistant");
	str_is("output.value", "Sunny, 21 C.");
	str_is("input.value", OPENAI_REQ);
	str_is("llm.invocation_parameters", "{\"max_tokens\":256,\"temperature\":0.2}");
	/* dated snapshot priced as gpt-4o-mini: 0.15 and 0.60 per million */
	dbl_near("llm.cost.prompt", 25 * 0.15 / 1e6);
	dbl_near("llm.cost.completion", 9 * 0.60 / 1e6);
	dbl_near("llm.cost.total", 25 * 0.15 / 1e6 + 9 * 0.60 / 1e6);
	assert_null(attr("gen_ai.response.time_to_first_chunk"));
	assert_int_equal(span->status, SP_STATUS_UNSET);
}

/* A stream with include_usage and two tool calls whose arguments arrive
 * in pieces. */
static const char OPENAI_STREAM[] =
	"data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\","
	"\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,"
	"\"tool_calls\":[{\"index\":0,\"id\":\"call_abc\",\"type\":\"function\",\"function\":"
	"{\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}],\"usage\":null}\n\n"
	"data: {\"id\":\"chatcmpl-1\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":"
	"{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]},"
	"\"finish_reason\":null}],\"usage\":null}\n\n"
	"data: {\"id\":\"chatcmpl-1\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":"
	"{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]},"
	"\"finish_reason\":null}],\"usage\":null}\n\n"
	"data: {\"id\":\"chatcmpl-1\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":"
	"{\"tool_calls\":[{\"index\":1,\"id\":\"call_def\",\"type\":\"function\",\"function\":"
	"{\"name\":\"get_time\",\"arguments\":\"{}\"}}]},\"finish_reason\":null}],\"usage\":null}\n\n"
	"data: {\"id\":\"chatcmpl-1\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{},"
	"\"finish_reason\":\"tool_calls\"}],\"usage\":null}\n\n"
	"data: {\"id\":\"chatcmpl-1\",\"model\":\"gpt-4o\",\"choices\":[],\"usage\":"
	"{\"prompt_tokens\":82,\"completion_tokens\":31,\"total_tokens\":113}}\n\n"
	"data: [DONE]\n\n";

static void test_openai_stream_tools_every_split(void **state)
{
	static const char req[] = "{\"model\":\"gpt-4o\",\"stream\":true,\"stream_options\":"
				  "{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
				  "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}]}";
	size_t len = strlen(OPENAI_STREAM);
	/* the first content (the tool's name) counts when its data line has
	 * ended: SSE is read a line at a time */
	size_t first = strchr(OPENAI_STREAM, '\n') - OPENAI_STREAM + 1;

	/* the same stream cut into two reads at every point */
	for (size_t at = 1; at < len; at += 7) {
		struct chunk c[] = { { OPENAI_STREAM, at, 300 },
				     { OPENAI_STREAM + at, len - at, 400 } };

		assert_true(run("POST", "/v1/chat/completions", "127.0.0.1:8443", req, 200,
				"text/event-stream; charset=utf-8", NULL, NULL, c, 2, NULL, 0));
		assert_true(attr("gen_ai.request.stream")->b);
		finish_is("tool_calls");
		usage_is(82, 31);
		assert_int_equal(events_named("gen_ai.tool.call"), 2);
		assert_string_equal(event_attr("gen_ai.tool.call", 0, "gen_ai.tool.name"), "get_weather");
		assert_string_equal(event_attr("gen_ai.tool.call", 0, "gen_ai.tool.call.id"), "call_abc");
		assert_string_equal(event_attr("gen_ai.tool.call", 0, "gen_ai.tool.call.arguments"),
				    "{\"city\":\"Paris\"}");
		assert_string_equal(event_attr("gen_ai.tool.call", 1, "gen_ai.tool.name"), "get_time");
		assert_int_equal(events_named("gen_ai.content.first_chunk"), 1);
		/* in the first read (300 ms) if it ends there, else the second */
		dbl_near("gen_ai.response.time_to_first_chunk", at >= first ? 0.3 : 0.4);
	}
}

static void test_openai_text_stream_ttfc_and_output(void **state)
{
	static const char body[] =
		"data: {\"id\":\"c2\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":"
		"{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n";
	static const char more[] =
		"data: {\"id\":\"c2\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":"
		"{\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n"
		"data: {\"id\":\"c2\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":"
		"{\"content\":\"lo!\"},\"finish_reason\":\"stop\"}]}\n\n"
		"data: [DONE]\n\n";
	struct chunk c[] = { { body, 0, 120 }, { more, 0, 700 } };

	assert_true(run("POST", "/v1/chat/completions", "127.0.0.1", "{\"model\":\"gpt-4o-mini\","
			"\"stream\":true,\"messages\":[]}", 200, "text/event-stream", NULL, NULL, c, 2,
			NULL, 0));
	/* the role-only chunk carries no content: the first is at 700 ms */
	dbl_near("gen_ai.response.time_to_first_chunk", 0.7);
	str_is("output.value", "Hello!");
	finish_is("stop");
	/* no usage in the stream (include_usage not asked): none reported */
	assert_null(attr("gen_ai.usage.input_tokens"));
	assert_null(attr("llm.cost.total"));
}

static void test_openai_embeddings_completions_responses(void **state)
{
	static const char emb[] = "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\","
				  "\"index\":0,\"embedding\":[0.0023,-0.0093]}],\"model\":"
				  "\"text-embedding-3-small\",\"usage\":{\"prompt_tokens\":8,\"total_tokens\":8}}";
	static const char cmpl[] = "{\"id\":\"cmpl-7\",\"object\":\"text_completion\",\"model\":"
				   "\"gpt-3.5-turbo-instruct\",\"choices\":[{\"text\":\"\\n\\nThis is a test.\","
				   "\"index\":0,\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":5,"
				   "\"completion_tokens\":7,\"total_tokens\":12}}";
	static const char resp[] =
		"{\"id\":\"resp_67ccd2bed1ec8190\",\"object\":\"response\",\"status\":\"completed\","
		"\"model\":\"gpt-4.1-2025-04-14\",\"output\":[{\"type\":\"function_call\",\"id\":\"fc_1\","
		"\"call_id\":\"call_9\",\"name\":\"lookup\",\"arguments\":\"{\\\"q\\\":\\\"x\\\"}\"},"
		"{\"type\":\"message\",\"id\":\"msg_1\",\"status\":\"completed\",\"role\":\"assistant\","
		"\"content\":[{\"type\":\"output_text\",\"text\":\"Done.\",\"annotations\":[]}]}],"
		"\"usage\":{\"input_tokens\":36,\"input_tokens_details\":{\"cached_tokens\":0},"
		"\"output_tokens\":87,\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":123}}";
	struct chunk c1[] = { { emb, 0, 10 } }, c2[] = { { cmpl, 0, 10 } }, c3[] = { { resp, 0, 10 } };
	char name[128];

	assert_true(run("POST", "/v1/embeddings", "api.openai.com", "{\"model\":"
			"\"text-embedding-3-small\",\"input\":\"hello world\"}", 200, "application/json",
			NULL, NULL, c1, 1, name, sizeof(name)));
	assert_string_equal(name, "embeddings text-embedding-3-small");
	str_is("openinference.span.kind", "EMBEDDING");
	str_is("llm.model_name", "text-embedding-3-small");
	int_is("gen_ai.usage.input_tokens", 8);
	assert_null(attr("gen_ai.request.stream"));
	dbl_near("llm.cost.prompt", 8 * 0.02 / 1e6);

	assert_true(run("POST", "/v1/completions", "api.openai.com", "{\"model\":"
			"\"gpt-3.5-turbo-instruct\",\"prompt\":\"Say this is a test\",\"max_tokens\":7}",
			200, "application/json", NULL, NULL, c2, 1, name, sizeof(name)));
	assert_string_equal(name, "text_completion gpt-3.5-turbo-instruct");
	finish_is("length");
	usage_is(5, 7);
	str_is("output.value", "\n\nThis is a test.");
	str_is("llm.input_messages.0.message.content", "Say this is a test");

	assert_true(run("POST", "/v1/responses", "api.openai.com", "{\"model\":\"gpt-4.1\","
			"\"instructions\":\"Be brief.\",\"input\":\"Look up x\"}", 200, "application/json",
			NULL, NULL, c3, 1, name, sizeof(name)));
	assert_string_equal(name, "chat gpt-4.1-2025-04-14");
	str_is("gen_ai.response.id", "resp_67ccd2bed1ec8190");
	finish_is("completed");
	usage_is(36, 87);
	str_is("output.value", "Done.");
	assert_int_equal(events_named("gen_ai.tool.call"), 1);
	assert_string_equal(event_attr("gen_ai.tool.call", 0, "gen_ai.tool.name"), "lookup");
	assert_string_equal(event_attr("gen_ai.tool.call", 0, "gen_ai.tool.call.id"), "call_9");
	dbl_near("llm.cost.total", 36 * 2.0 / 1e6 + 87 * 8.0 / 1e6);
}

/* ---- Anthropic ---- */

static const char ANTHROPIC_REQ[] =
	"{\"model\":\"claude-3-5-haiku-20241022\",\"max_tokens\":1024,\"system\":\"Be helpful.\","
	"\"messages\":[{\"role\":\"user\",\"content\":\"Weather in SF?\"}],\"tools\":[{\"name\":"
	"\"get_weather\",\"input_schema\":{\"type\":\"object\"}}]}";

static void test_anthropic_messages(void **state)
{
	static const char resp[] =
		"{\"id\":\"msg_01Aq9w938a90dw8q\",\"type\":\"message\",\"role\":\"assistant\",\"model\":"
		"\"claude-3-5-haiku-20241022\",\"content\":[{\"type\":\"text\",\"text\":\"Let me check.\"},"
		"{\"type\":\"tool_use\",\"id\":\"toolu_01A09q90qw90lq917835lq9\",\"name\":\"get_weather\","
		"\"input\":{\"location\":\"San Francisco, CA\",\"unit\":\"celsius\"}}],\"stop_reason\":"
		"\"tool_use\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,\"output_tokens\":89,"
		"\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":100}}";
	struct chunk c[] = { { resp, 0, 800 } };
	char name[128];

	assert_true(run("POST", "/v1/messages", "api.anthropic.com", ANTHROPIC_REQ, 200,
			"application/json", NULL, NULL, c, 1, name, sizeof(name)));
	assert_string_equal(name, "chat claude-3-5-haiku-20241022");
	str_is("gen_ai.provider.name", "anthropic");
	str_is("gen_ai.response.id", "msg_01Aq9w938a90dw8q");
	int_is("gen_ai.request.max_tokens", 1024);
	finish_is("tool_use");
	usage_is(472, 89);
	int_is("gen_ai.usage.cache_read.input_tokens", 100);
	int_is("gen_ai.usage.cache_creation.input_tokens", 0);
	str_is("llm.input_messages.0.message.role", "system");
	str_is("llm.input_messages.0.message.content", "Be helpful.");
	str_is("llm.input_messages.1.message.content", "Weather in SF?");
	str_is("output.value", "Let me check.");
	assert_int_equal(events_named("gen_ai.tool.call"), 1);
	assert_string_equal(event_attr("gen_ai.tool.call", 0, "gen_ai.tool.call.id"),
			    "toolu_01A09q90qw90lq917835lq9");
	assert_string_equal(event_attr("gen_ai.tool.call", 0, "gen_ai.tool.call.arguments"),
			    "{\"location\":\"San Francisco, CA\",\"unit\":\"celsius\"}");
	dbl_near("llm.cost.total", 472 * 0.80 / 1e6 + 89 * 4.00 / 1e6);
}

static const char ANTHROPIC_STREAM[] =
	"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":"
	"\"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY\",\"type\":\"message\",\"role\":\"assistant\","
	"\"content\":[],\"model\":\"claude-3-5-haiku-20241022\",\"stop_reason\":null,"
	"\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n"
	"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
	"\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
	"event: ping\ndata: {\"type\": \"ping\"}\n\n"
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
	"\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n"
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
	"\"delta\":{\"type\":\"text_delta\",\"text\":\"!\"}}\n\n"
	"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
	"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,"
	"\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\","
	"\"name\":\"get_weather\",\"input\":{}}}\n\n"
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
	"\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"location\\\": \"}}\n\n"
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
	"\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"SF\\\"}\"}}\n\n"
	"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
	"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
	"\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n"
	"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

static void test_anthropic_stream_byte_at_a_time(void **state)
{
	size_t len = strlen(ANTHROPIC_STREAM);
	struct chunk *c = calloc(len, sizeof(*c));
	const char *first = strstr(ANTHROPIC_STREAM, "Hello");

	for (size_t i = 0; i < len; i++)
		c[i] = (struct chunk){ ANTHROPIC_STREAM + i, 1, i };	/* byte i at i ms */
	assert_true(run("POST", "/v1/messages", "127.0.0.1", "{\"model\":\"claude-3-5-haiku-20241022\","
			"\"stream\":true,\"max_tokens\":64,\"messages\":[]}", 200, "text/event-stream",
			NULL, NULL, c, len, NULL, 0));
	free(c);
	str_is("gen_ai.response.id", "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY");
	usage_is(25, 15);
	finish_is("tool_use");
	str_is("output.value", "Hello!");
	assert_int_equal(events_named("gen_ai.tool.call"), 1);
	assert_string_equal(event_attr("gen_ai.tool.call", 0, "gen_ai.tool.call.arguments"),
			    "{\"location\": \"SF\"}");
	/* the first content is complete when its line ends */
	dbl_near("gen_ai.response.time_to_first_chunk",
		 (double)(strchr(first, '\n') - ANTHROPIC_STREAM) / 1000);
}

/* ---- Gemini ---- */

static const char GEMINI_ONE[] =
	"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"It is\"},{\"functionCall\":{\"name\":"
	"\"find_theaters\",\"args\":{\"location\":\"Mountain View, CA\",\"movie\":\"Barbie\"}}}],"
	"\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":"
	"{\"promptTokenCount\":10,\"candidatesTokenCount\":6,\"totalTokenCount\":16},"
	"\"modelVersion\":\"gemini-2.0-flash\",\"responseId\":\"mAitaLmkHPPlz7IPvtfUqQ4\"}";

static void test_gemini(void **state)
{
	static const char req[] = "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":"
				  "\"Which theaters show Barbie?\"}]}],\"generationConfig\":"
				  "{\"temperature\":0.5,\"maxOutputTokens\":100}}";
	static const char stream_arr[] =
		"[{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Once\"}],\"role\":\"model\"},"
		"\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":4,\"totalTokenCount\":4},"
		"\"modelVersion\":\"gemini-2.0-flash\"}\r\n,\r\n{\"candidates\":[{\"content\":{\"parts\":"
		"[{\"text\":\" upon a time\"}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],"
		"\"usageMetadata\":{\"promptTokenCount\":4,\"candidatesTokenCount\":5,\"totalTokenCount\":9},"
		"\"modelVersion\":\"gemini-2.0-flash\"}]";
	struct chunk c1[] = { { GEMINI_ONE, 0, 500 } };
	struct chunk c2[] = { { stream_arr, 60, 200 }, { stream_arr + 60, 0, 650 } };
	char sse[1200];
	struct chunk c3[] = { { sse, 0, 300 } };
	char name[128];

	assert_true(run("POST", "/v1beta/models/gemini-2.0-flash:generateContent?key=xyz",
			"generativelanguage.googleapis.com", req, 200, "application/json; charset=UTF-8",
			NULL, NULL, c1, 1, name, sizeof(name)));
	assert_string_equal(name, "generate_content gemini-2.0-flash");
	str_is("gen_ai.provider.name", "gcp.gemini");
	str_is("llm.provider", "google");
	str_is("gen_ai.request.model", "gemini-2.0-flash");
	int_is("gen_ai.request.max_tokens", 100);
	dbl_near("gen_ai.request.temperature", 0.5);
	str_is("gen_ai.response.id", "mAitaLmkHPPlz7IPvtfUqQ4");
	finish_is("STOP");
	usage_is(10, 6);
	str_is("output.value", "It is");
	str_is("llm.input_messages.0.message.content", "Which theaters show Barbie?");
	assert_string_equal(event_attr("gen_ai.tool.call", 0, "gen_ai.tool.call.arguments"),
			    "{\"location\":\"Mountain View, CA\",\"movie\":\"Barbie\"}");
	dbl_near("llm.cost.total", 10 * 0.10 / 1e6 + 6 * 0.40 / 1e6);

	/* streamGenerateContent without alt=sse: one JSON array, streamed */
	assert_true(run("POST", "/v1beta/models/gemini-2.0-flash:streamGenerateContent",
			"generativelanguage.googleapis.com", req, 200, "application/json", NULL, NULL,
			c2, 2, NULL, 0));
	assert_true(attr("gen_ai.request.stream")->b);
	str_is("output.value", "Once upon a time");
	usage_is(4, 5);
	finish_is("STOP");
	/* "Once" is whole within the first 60 bytes, read at 200 ms */
	assert_true(strstr(stream_arr, "Once\"") + 5 - stream_arr <= 60);
	dbl_near("gen_ai.response.time_to_first_chunk", 0.2);

	/* and with alt=sse */
	snprintf(sse, sizeof(sse), "data: %s\r\n\r\n", GEMINI_ONE);
	assert_true(run("POST", "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
			"generativelanguage.googleapis.com", req, 200, "text/event-stream", NULL, NULL,
			c3, 1, NULL, 0));
	usage_is(10, 6);
	dbl_near("gen_ai.response.time_to_first_chunk", 0.3);
}

/* ---- Ollama ---- */

static void test_ollama(void **state)
{
	static const char chat[] =
		"{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T08:52:19.385406455-07:00\","
		"\"message\":{\"role\":\"assistant\",\"content\":\"The\"},\"done\":false}\n"
		"{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T08:52:19.4Z\",\"message\":"
		"{\"role\":\"assistant\",\"content\":\" sky\"},\"done\":false}\n"
		"{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T19:22:45.499127Z\",\"message\":"
		"{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\","
		"\"total_duration\":4883583458,\"load_duration\":1334875,\"prompt_eval_count\":26,"
		"\"prompt_eval_duration\":342546000,\"eval_count\":282,\"eval_duration\":4535599000}\n";
	static const char gen[] = "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T19:22:45Z\","
				  "\"response\":\"The sky is blue.\",\"done\":true,\"done_reason\":\"stop\","
				  "\"prompt_eval_count\":10,\"eval_count\":5}";
	static const char emb[] = "{\"model\":\"all-minilm\",\"embeddings\":[[0.010071029,"
				  "-0.0017594862]],\"total_duration\":14143917,\"prompt_eval_count\":8}";
	struct chunk c1[] = { { chat, 0, 250 } }, c2[] = { { gen, 0, 40 } }, c3[] = { { emb, 0, 5 } };
	char name[128];

	assert_true(run("POST", "/api/chat", "localhost:11434", "{\"model\":\"llama3.2\","
			"\"messages\":[{\"role\":\"user\",\"content\":\"why is the sky blue?\"}],"
			"\"options\":{\"temperature\":0.7,\"num_predict\":300}}", 200, "application/x-ndjson",
			NULL, NULL, c1, 1, name, sizeof(name)));
	assert_string_equal(name, "chat llama3.2");
	str_is("gen_ai.provider.name", "ollama");
	assert_true(attr("gen_ai.request.stream")->b);	/* Ollama's default */
	int_is("gen_ai.request.max_tokens", 300);
	usage_is(26, 282);
	finish_is("stop");
	str_is("output.value", "The sky");
	dbl_near("gen_ai.response.time_to_first_chunk", 0.25);
	assert_null(attr("llm.cost.total"));	/* not in the price table */

	assert_true(run("POST", "/api/generate", "localhost:11434", "{\"model\":\"llama3.2\","
			"\"prompt\":\"Why?\",\"stream\":false}", 200, "application/json", NULL, NULL, c2,
			1, name, sizeof(name)));
	assert_string_equal(name, "text_completion llama3.2");
	assert_false(attr("gen_ai.request.stream")->b);
	str_is("output.value", "The sky is blue.");
	usage_is(10, 5);

	assert_true(run("POST", "/api/embed", "localhost:11434", "{\"model\":\"all-minilm\","
			"\"input\":\"Why is the sky blue?\"}", 200, "application/json", NULL, NULL, c3, 1,
			name, sizeof(name)));
	assert_string_equal(name, "embeddings all-minilm");
	int_is("gen_ai.usage.input_tokens", 8);
}

/* ---- encodings ---- */

static size_t compress_with(const char *enc, const char *in, size_t len, uint8_t *out, size_t cap)
{
	if (!strcmp(enc, "br")) {
		size_t n = cap;

		assert_true(BrotliEncoderCompress(5, 22, BROTLI_MODE_TEXT, len, (const uint8_t *)in,
						  &n, out));
		return n;
	}
	if (!strcmp(enc, "zstd")) {
		size_t n = ZSTD_compress(out, cap, in, len, 3);

		assert_false(ZSTD_isError(n));
		return n;
	}
	z_stream z = {};
	/* gzip: 31; deflate as RFC 9110 says (zlib): 15; raw deflate: -15 */
	int bits = !strcmp(enc, "gzip") ? 31 : !strcmp(enc, "deflate") ? 15 : -15;

	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (uint8_t *)in;
	z.avail_in = len;
	z.next_out = out;
	z.avail_out = cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	deflateEnd(&z);
	return z.total_out;
}

static void test_compressed_responses(void **state)
{
	static const char *const encs[][2] = {
		{ "gzip", "gzip" }, { "deflate", "deflate" }, { "rawdeflate", "deflate" },
		{ "br", "br" }, { "zstd", "zstd" },
	};
	uint8_t buf[8192];

	for (size_t i = 0; i < sizeof(encs) / sizeof(encs[0]); i++) {
		size_t n = compress_with(encs[i][0], OPENAI_STREAM, strlen(OPENAI_STREAM), buf,
					 sizeof(buf));
		/* in three reads, cut anywhere */
		struct chunk c[] = { { (char *)buf, n / 3, 100 }, { (char *)buf + n / 3, n / 3, 200 },
				     { (char *)buf + 2 * (n / 3), n - 2 * (n / 3), 300 } };

		assert_true(run("POST", "/v1/chat/completions", "api.openai.com",
				"{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[]}", 200,
				"text/event-stream", encs[i][1], NULL, c, 3, NULL, 0));
		usage_is(82, 31);
		assert_int_equal(events_named("gen_ai.tool.call"), 2);
	}
}

/* ---- errors ---- */

static void test_provider_errors(void **state)
{
	static const char oai[] = "{\"error\":{\"message\":\"Rate limit reached for gpt-4o-mini\","
				  "\"type\":\"rate_limit_error\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}";
	static const char ant[] = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
				  "\"message\":\"Overloaded\"}}";
	static const char gem[] = "{\"error\":{\"code\":429,\"message\":\"Resource has been exhausted\","
				  "\"status\":\"RESOURCE_EXHAUSTED\"}}";
	static const char oll[] = "{\"error\":\"model \\\"llama9\\\" not found, try pulling it first\"}";
	struct chunk c1[] = { { oai, 0, 50 } }, c2[] = { { ant, 0, 50 } }, c3[] = { { gem, 0, 50 } },
		     c4[] = { { oll, 0, 50 } };
	const struct sp_attr *ra;

	assert_true(run("POST", "/v1/chat/completions", "api.openai.com", OPENAI_REQ, 429,
			"application/json", NULL, "20", c1, 1, NULL, 0));
	assert_int_equal(span->status, SP_STATUS_ERROR);
	str_is("error.type", "rate_limit_error");
	assert_string_equal(span->status_msg, "Rate limit reached for gpt-4o-mini");
	ra = attr("http.response.header.retry-after");
	assert_non_null(ra);
	assert_int_equal(ra->type, SP_ATTR_STR_ARRAY);
	assert_string_equal(ra->s, "20");
	assert_null(attr("llm.cost.total"));	/* no usage: no cost */

	assert_true(run("POST", "/v1/messages", "api.anthropic.com", ANTHROPIC_REQ, 529,
			"application/json", NULL, NULL, c2, 1, NULL, 0));
	str_is("error.type", "overloaded_error");
	assert_string_equal(span->status_msg, "Overloaded");

	assert_true(run("POST", "/v1beta/models/gemini-2.0-flash:generateContent",
			"generativelanguage.googleapis.com", "{\"contents\":[{\"parts\":[{\"text\":\"x\"}]}]}",
			429, "application/json", NULL, NULL, c3, 1, NULL, 0));
	str_is("error.type", "RESOURCE_EXHAUSTED");
	assert_string_equal(span->status_msg, "Resource has been exhausted");

	assert_true(run("POST", "/api/chat", "localhost:11434", "{\"model\":\"llama9\",\"messages\":[]}",
			404, "application/json", NULL, NULL, c4, 1, NULL, 0));
	str_is("error.type", "404");
	assert_string_equal(span->status_msg, "model \"llama9\" not found, try pulling it first");
}

/* ---- cut short, garbage, and nothing guessed ---- */

static void test_truncated_at_every_point(void **state)
{
	size_t len = strlen(OPENAI_STREAM);

	for (size_t at = 0; at < len; at++) {
		struct chunk c[] = { { OPENAI_STREAM, at, 100 } };

		assert_true(run("POST", "/v1/chat/completions", "api.openai.com",
				"{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[]}", 200,
				"text/event-stream", NULL, NULL, c, at ? 1 : 0, NULL, 0));
		/* what the cut body held, never more */
		str_is("gen_ai.request.model", "gpt-4o");
		if (at < (size_t)(strstr(OPENAI_STREAM, "\"usage\":{\"prompt") - OPENAI_STREAM))
			assert_null(attr("gen_ai.usage.input_tokens"));
	}
	/* a request body cut inside a string keeps what came before it (a
	 * half-received string is not reported) */
	assert_true(run("POST", "/v1/chat/completions", "api.openai.com",
			"{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hel", 200,
			"application/json", NULL, NULL, NULL, 0, NULL, 0));
	str_is("gen_ai.request.model", "gpt-4o");
	str_is("llm.input_messages.0.message.role", "user");
	assert_null(attr("llm.input_messages.0.message.content"));
}

static void test_garbage_never_crashes(void **state)
{
	unsigned seed = 7;

	for (int round = 0; round < 500; round++) {
		char body[512];
		size_t n = 1 + rand_r(&seed) % sizeof(body);
		struct chunk c[] = { { body, n, 10 } };

		for (size_t i = 0; i < n; i++)
			body[i] = (char)rand_r(&seed);
		if (round % 2)
			memcpy(body, "data: {\"choices\":[{\"delta\":{\"content\":\"", 40);
		run("POST", "/v1/chat/completions", "h", "{\"model\":\"m\"}", 200,
		    round % 3 ? "text/event-stream" : "application/json",
		    round % 5 ? NULL : "gzip", NULL, c, 1, NULL, 0);
	}
}

static void test_nothing_guessed(void **state)
{
	char model[64];

	/* paths that are not an LLM API, and methods other than POST */
	assert_int_equal(sp_llm_api_of("POST", "/v1/not-llm", model, sizeof(model)), SP_LLM_NONE);
	assert_int_equal(sp_llm_api_of("GET", "/v1/chat/completions", model, sizeof(model)),
			 SP_LLM_NONE);
	assert_int_equal(sp_llm_api_of("POST", "/v1/chat/completions/extra", model, sizeof(model)),
			 SP_LLM_NONE);
	assert_int_equal(sp_llm_api_of("POST", "/api/chat2", model, sizeof(model)), SP_LLM_NONE);
	assert_int_equal(sp_llm_api_of("POST", "/v1beta/models/x:countTokens", model, sizeof(model)),
			 SP_LLM_NONE);
	/* the right path, but a body that is not the API's: no LLM span */
	assert_false(run("POST", "/v1/chat/completions", "h", "{\"foo\":1,\"bar\":[1,2]}", 200,
			 "application/json", NULL, NULL, NULL, 0, NULL, 0));
	assert_false(run("POST", "/v1/messages", "h", "not json at all", 200, "application/json",
			 NULL, NULL, NULL, 0, NULL, 0));
	assert_false(run("POST", "/v1/chat/completions", "h", NULL, 200, "application/json", NULL,
			 NULL, NULL, 0, NULL, 0));
	/* recognised by path, whatever the host */
	assert_int_equal(sp_llm_api_of("POST", "/openai/deployments/gpt4o/chat/completions?api-version=1",
				       model, sizeof(model)), SP_LLM_OPENAI_CHAT);
	assert_string_equal(model, "gpt4o");
	assert_int_equal(sp_llm_api_of("POST", "https://proxy.example/v1/messages", model,
				       sizeof(model)), SP_LLM_ANTHROPIC_MESSAGES);
}

static void test_no_content_and_limits(void **state)
{
	struct chunk c[] = { { OPENAI_RESP, 0, 10 } };
	char big[3000];

	opts.content = false;
	assert_true(run("POST", "/v1/chat/completions", "api.openai.com", OPENAI_REQ, 200,
			"application/json", NULL, NULL, c, 1, NULL, 0));
	opts.content = true;
	assert_null(attr("input.value"));
	assert_null(attr("output.value"));
	assert_null(attr("llm.input_messages.0.message.content"));
	assert_null(attr("llm.output_messages.0.message.content"));
	usage_is(25, 9);
	str_is("llm.input_messages.0.message.role", "system");

	/* content cut at --content-max */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	opts.content_max = 100;
	{
		char req[3200];

		snprintf(req, sizeof(req), "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\","
			 "\"content\":\"%s\"}]}", big);
		assert_true(run("POST", "/v1/chat/completions", "h", req, 200, "application/json",
				NULL, NULL, c, 1, NULL, 0));
	}
	opts.content_max = 4096;
	assert_int_equal(strlen(attr("llm.input_messages.0.message.content")->s), 100);
	assert_int_equal(strlen(attr("input.value")->s), 100);

	/* a cut never splits a character: 2-byte "\xc3\xa9", cut at 101 */
	{
		char req[512], e[400] = "";

		for (int i = 0; i < 150; i++)
			strcat(e, "\xc3\xa9");
		snprintf(req, sizeof(req), "{\"model\":\"m\",\"messages\":[{\"content\":\"%s\"}]}", e);
		opts.content_max = 101;
		assert_true(run("POST", "/v1/chat/completions", "h", req, 200, "application/json",
				NULL, NULL, c, 1, NULL, 0));
		opts.content_max = 4096;
		assert_int_equal(strlen(attr("llm.input_messages.0.message.content")->s), 100);
		assert_null(strstr(attr("llm.input_messages.0.message.content")->s, "\xef\xbf\xbd"));
	}
}

static void test_prices(void **state)
{
	struct sp_price p;

	assert_true(sp_prices_lookup("gpt-4o-mini", &p));
	assert_true(p.input == 0.15 && p.output == 0.60);
	assert_true(sp_prices_lookup("gpt-4o-mini-2024-07-18", &p));	/* dated snapshot */
	assert_true(sp_prices_lookup("models/gemini-2.0-flash", &p));
	assert_false(sp_prices_lookup("gpt-4o-mini-turbo", &p));	/* never a guess */
	assert_false(sp_prices_lookup("my-local-model", &p));
	assert_false(sp_prices_lookup("", &p));
}

static int setup(void **state)
{
	res = sp_resource__new();
	snprintf(res->service_name, sizeof(res->service_name), "agent");
	return sp_prices_load(NULL);
}

static int teardown(void **state)
{
	if (span) {
		sp_span__release(span);
		free(span);
		span = NULL;
	}
	sp_resource__put(res);
	sp_prices_free();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openai_chat),
		cmocka_unit_test(test_openai_stream_tools_every_split),
		cmocka_unit_test(test_openai_text_stream_ttfc_and_output),
		cmocka_unit_test(test_openai_embeddings_completions_responses),
		cmocka_unit_test(test_anthropic_messages),
		cmocka_unit_test(test_anthropic_stream_byte_at_a_time),
		cmocka_unit_test(test_gemini),
		cmocka_unit_test(test_ollama),
		cmocka_unit_test(test_compressed_responses),
		cmocka_unit_test(test_provider_errors),
		cmocka_unit_test(test_truncated_at_every_point),
		cmocka_unit_test(test_garbage_never_crashes),
		cmocka_unit_test(test_nothing_guessed),
		cmocka_unit_test(test_no_content_and_limits),
		cmocka_unit_test(test_prices),
	};

	return cmocka_run_group_tests_name("llm", tests, setup, teardown);
}
