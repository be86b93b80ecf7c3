// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * LLM calls from recorded bodies, written from each provider's published
 * API reference: every API, streamed and not, compressed and not, cut at
 * every point, provider errors, and the rule that nothing is guessed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "codings.h"
#include "decode/jwalk.h"
#include "util/clock.h"
#include "semantics/body_sub.h"
#include "semantics/llm.h"
#include "semantics/prices.h"
#include "model/span.h"

#define MS 1000000ull
#define T0 (1000 * MS)	/* request start, CLOCK_MONOTONIC */

static struct sp_resource *res;
static struct sp_span *span;
/* the last exchange's tool view, its strings borrowed from `cur` */
static struct sp_llm *cur;
static struct sp_tool_view view;
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
	sp_llm__free(cur);
	cur = NULL;
	memset(&view, 0, sizeof(view));
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
		sp_llm__tools(l, &view);
	}
	cur = l;	/* freed by the next run: the view borrows from it */
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

/* Strict UTF-8 (RFC 3629): no overlongs, surrogates or past U+10FFFF. */
static bool utf8_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2
			: (*p & 0xf8) == 0xf0 ? 3 : -1;
		uint32_t c = n == 0 ? *p : n == 1 ? *p & 0x1f : n == 2 ? *p & 0x0f : *p & 0x07;

		if (n < 0 || (n == 1 && c < 2))
			return false;
		for (int i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			c = c << 6 | (p[i] & 0x3f);
		}
		if ((n == 2 && (c < 0x800 || (c >= 0xd800 && c < 0xe000))) ||
		    (n == 3 && (c < 0x10000 || c > 0x10ffff)))
			return false;
		p += n + 1;
	}
	return true;
}

/* Every string the span holds, values and event attributes, is UTF-8. */
static void span_utf8_ok(void)
{
	for (unsigned i = 0; i < span->nattrs; i++) {
		const struct sp_attr *a = &span->attrs[i];
		const char *v = a->s;

		if (a->type == SP_ATTR_STR && !utf8_ok(v))
			fail_msg("%s is not UTF-8", a->key);
		for (unsigned k = 0; a->type == SP_ATTR_STR_ARRAY && k < a->n; k++, v += strlen(v) + 1)
			if (!utf8_ok(v))
				fail_msg("%s[%u] is not UTF-8", a->key, k);
	}
	for (unsigned i = 0; i < span->nevents; i++)
		for (unsigned k = 0; k < span->events[i].nattrs; k++)
			if (span->events[i].attrs[k].type == SP_ATTR_STR)
				assert_true(utf8_ok(span->events[i].attrs[k].s));
	assert_true(!span->status_msg || utf8_ok(span->status_msg));
}

static bool key_in(const char *key, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(key, set[i]))
			return true;
	return false;
}

/* Random bytes, alone, after a valid stream's first bytes, or compressed
 * (or said to be): no crash, UTF-8 only, and nothing but what the request
 * said and what the body really held. */
static void test_garbage_never_crashes(void **state)
{
	/* from the request {"model":"m"}, the same whatever the response */
	static const char *const from_request[] = {
		"gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model",
		"gen_ai.request.stream", "openinference.span.kind", "llm.model_name", "llm.provider",
		"llm.invocation_parameters", "input.value", "input.mime_type",
	};
	/* what the "delta.content" prefix may really carry */
	static const char *const from_prefix[] = {
		"output.value", "output.mime_type", "llm.output_messages.0.message.role",
		"llm.output_messages.0.message.content", "gen_ai.response.time_to_first_chunk",
	};
	static const char prefix[] = "data: {\"choices\":[{\"delta\":{\"content\":\"";
	unsigned seed = 7;

	for (int round = 0; round < 600; round++) {
		char body[512];
		size_t n = 1 + rand_r(&seed) % sizeof(body);
		struct chunk c[] = { { body, n, 10 } };
		bool pre = round % 2, sse = round % 3;

		for (size_t i = 0; i < n; i++)
			body[i] = (char)rand_r(&seed);
		if (pre && n > sizeof(prefix))
			memcpy(body, prefix, sizeof(prefix) - 1);
		else
			pre = false;
		assert_true(run("POST", "/v1/chat/completions", "h", "{\"model\":\"m\"}", 200,
				sse ? "text/event-stream" : "application/json",
				round % 5 ? NULL : "gzip", NULL, c, 1, NULL, 0));
		span_utf8_ok();
		str_is("gen_ai.request.model", "m");
		str_is("llm.model_name", "m");
		assert_int_equal(span->status, SP_STATUS_UNSET);
		for (unsigned i = 0; i < span->nattrs; i++) {
			const char *k = span->attrs[i].key;

			if (key_in(k, from_request, sizeof(from_request) / sizeof(from_request[0])))
				continue;
			if (!pre || !sse || !key_in(k, from_prefix, sizeof(from_prefix) / sizeof(from_prefix[0])))
				fail_msg("round %d: %s invented", round, k);
		}
		assert_true(span->nevents <= 1);
		if (attr("output.value")) {
			/* never more than the body held after the prefix */
			assert_true(strlen(attr("output.value")->s) < n - (sizeof(prefix) - 1));
			assert_int_equal(events_named("gen_ai.content.first_chunk"), 1);
		}
	}
	/* a string closed before the garbage is what the body held */
	{
		char body[300];
		struct chunk c[] = { { body, sizeof(body), 10 } };

		memset(body, 0xff, sizeof(body));
		memcpy(body, prefix, sizeof(prefix) - 1);
		memcpy(body + sizeof(prefix) - 1, "abc\"", 4);
		body[sizeof(body) - 1] = '\n';
		assert_true(run("POST", "/v1/chat/completions", "h", "{\"model\":\"m\"}", 200,
				"text/event-stream", NULL, NULL, c, 1, NULL, 0));
		str_is("output.value", "abc");
		span_utf8_ok();
	}
}

/* Random requests: never an LLM call (nothing is guessed). */
static void test_garbage_requests_are_not_calls(void **state)
{
	unsigned seed = 11;

	for (int round = 0; round < 300; round++) {
		char req[400];
		size_t n = 1 + rand_r(&seed) % (sizeof(req) - 1);
		struct sp_llm *l;

		for (size_t i = 0; i < n; i++)
			req[i] = (char)(rand_r(&seed) % 255 + 1);
		req[n] = 0;
		if (round % 3 == 0)
			req[0] = '{';
		l = sp_llm__new(round % 2 ? SP_LLM_ANTHROPIC_MESSAGES : SP_LLM_OLLAMA_CHAT, "h", "",
				&opts);
		assert_non_null(l);
		sp_llm__request_body(l, req, n);
		assert_false(sp_llm__is_llm(l));
		sp_llm__free(l);
	}
}

/* A valid stream with bytes flipped: what comes out is at most what the
 * intact stream gives (no key it does not set), and UTF-8. */
static void test_mutated_stream_invents_nothing(void **state)
{
	static const char req[] = "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[]}";
	size_t len = strlen(OPENAI_STREAM);
	char *body = malloc(len);
	struct chunk c[] = { { body, len, 100 } };
	const char *clean[64];
	unsigned nclean = 0, seed = 5;

	memcpy(body, OPENAI_STREAM, len);
	assert_true(run("POST", "/v1/chat/completions", "api.openai.com", req, 200,
			"text/event-stream", NULL, NULL, c, 1, NULL, 0));
	for (unsigned i = 0; i < span->nattrs && nclean < 64; i++)
		clean[nclean++] = strdup(span->attrs[i].key);
	for (int round = 0; round < 400; round++) {
		memcpy(body, OPENAI_STREAM, len);
		for (int f = 0; f <= round % 3; f++)
			body[rand_r(&seed) % len] ^= (char)(1 + rand_r(&seed) % 255);
		assert_true(run("POST", "/v1/chat/completions", "api.openai.com", req, 200,
				"text/event-stream", NULL, NULL, c, 1, NULL, 0));
		span_utf8_ok();
		for (unsigned i = 0; i < span->nattrs; i++)
			if (!key_in(span->attrs[i].key, clean, nclean))
				fail_msg("round %d: %s invented", round, span->attrs[i].key);
		assert_true(events_named("gen_ai.tool.call") <= 2);
	}
	for (unsigned i = 0; i < nclean; i++)
		free((char *)clean[i]);
	free(body);
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

/* ---- routing and the provider registry ---- */

static void test_routes_and_registry(void **state)
{
	static const struct {
		const char *target;
		enum sp_llm_api api;
		const char *model;	/* from the path */
		const char *op;		/* gen_ai.operation.name */
		const char *req;	/* a body of the API's shape */
	} routes[] = {
		{ "/v1/chat/completions", SP_LLM_OPENAI_CHAT, "", "chat", NULL },
		{ "/openai/v1/chat/completions", SP_LLM_OPENAI_CHAT, "", "chat", NULL },
		{ "/api/v1/chat/completions", SP_LLM_OPENAI_CHAT, "", "chat", NULL },
		{ "http://127.0.0.1:8000/v1/chat/completions?x=1", SP_LLM_OPENAI_CHAT, "", "chat", NULL },
		{ "/openai/deployments/gpt4o/chat/completions?api-version=1", SP_LLM_OPENAI_CHAT,
		  "gpt4o", "chat", NULL },
		{ "/v1/completions", SP_LLM_OPENAI_COMPLETIONS, "", "text_completion", NULL },
		{ "/openai/deployments/inst/completions", SP_LLM_OPENAI_COMPLETIONS, "inst",
		  "text_completion", NULL },
		{ "/v1/embeddings", SP_LLM_OPENAI_EMBEDDINGS, "", "embeddings", NULL },
		{ "/api/v1/embeddings", SP_LLM_OPENAI_EMBEDDINGS, "", "embeddings", NULL },
		{ "/v1/responses", SP_LLM_OPENAI_RESPONSES, "", "chat", NULL },
		{ "/openai/responses", SP_LLM_OPENAI_RESPONSES, "", "chat", NULL },
		{ "/v1/messages", SP_LLM_ANTHROPIC_MESSAGES, "", "chat", NULL },
		{ "https://proxy.example/v1/messages", SP_LLM_ANTHROPIC_MESSAGES, "", "chat", NULL },
		{ "/v1beta/models/gemini-2.0-flash:generateContent?key=k", SP_LLM_GEMINI_GENERATE,
		  "gemini-2.0-flash", "generate_content", "{\"contents\":[{\"parts\":[{\"text\":\"x\"}]}]}" },
		{ "/v1/projects/p/locations/l/publishers/google/models/gemini-pro:streamGenerateContent",
		  SP_LLM_GEMINI_STREAM, "gemini-pro", "generate_content",
		  "{\"contents\":[{\"parts\":[{\"text\":\"x\"}]}]}" },
		{ "/v1beta/models/text-embedding-004:embedContent", SP_LLM_GEMINI_EMBED,
		  "text-embedding-004", "embeddings", "{\"content\":{\"parts\":[{\"text\":\"x\"}]}}" },
		{ "/api/chat", SP_LLM_OLLAMA_CHAT, "", "chat", NULL },
		{ "/api/generate", SP_LLM_OLLAMA_GENERATE, "", "text_completion", NULL },
		{ "/api/embed", SP_LLM_OLLAMA_EMBED, "", "embeddings", NULL },
		{ "/api/embeddings", SP_LLM_OLLAMA_EMBED, "", "embeddings", NULL },
		{ "http://127.0.0.1:11434/api/chat", SP_LLM_OLLAMA_CHAT, "", "chat", NULL },
		/* not APIs */
		{ "http://proxy.example", SP_LLM_NONE, "", NULL, NULL },
		{ "/v1/messages/count_tokens", SP_LLM_NONE, "", NULL, NULL },
		{ "/v1/models", SP_LLM_NONE, "", NULL, NULL },
		{ "/v1beta/models/gemini-2.0-flash:countTokens", SP_LLM_NONE, "", NULL, NULL },
		{ "/v1beta/models/gemini-2.0-flash", SP_LLM_NONE, "", NULL, NULL },
		{ "/search?q=/v1/messages", SP_LLM_NONE, "", NULL, NULL },
	};

	for (int pass = 0; pass < 3; pass++) {
		/* the index rebuilt from nothing gives the same answers */
		if (pass)
			sp_llm_reset();
		if (pass == 2)
			assert_int_equal(sp_llm_init(), 0);
		for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
			char model[64], name[128];
			const char *req = routes[i].req ? routes[i].req : "{\"model\":\"m\"}";

			if (sp_llm_api_of("POST", routes[i].target, model, sizeof(model)) != routes[i].api)
				fail_msg("%s: API %d, want %d", routes[i].target,
					 sp_llm_api_of("POST", routes[i].target, model, sizeof(model)),
					 routes[i].api);
			assert_string_equal(model, routes[i].model);
			if (!routes[i].op)
				continue;
			assert_true(run("POST", routes[i].target, "h", req, 200, "application/json", NULL,
					NULL, NULL, 0, name, sizeof(name)));
			str_is("gen_ai.operation.name", routes[i].op);
			assert_int_equal(strncmp(name, routes[i].op, strlen(routes[i].op)), 0);
			str_is("openinference.span.kind",
			       !strcmp(routes[i].op, "embeddings") ? "EMBEDDING" : "LLM");
		}
	}
	/* an id the routing never gives */
	errno = 0;
	assert_null(sp_llm__new((enum sp_llm_api)99, "h", "", &opts));
	assert_int_equal(errno, EINVAL);
	assert_null(sp_llm__new(SP_LLM_NONE, "h", "", &opts));
	sp_llm__free(NULL);
}

/* Fields of one API are not read in another's body. */
static void test_tables_are_per_api(void **state)
{
	/* Anthropic's text and usage in an OpenAI chat answer: not OpenAI's */
	static const char ant[] = "{\"id\":\"x\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}],"
				  "\"usage\":{\"input_tokens\":3,\"output_tokens\":4}}";
	struct chunk c[] = { { ant, 0, 10 } };

	assert_true(run("POST", "/v1/chat/completions", "h", "{\"model\":\"m\",\"messages\":[]}", 200,
			"application/json", NULL, NULL, c, 1, NULL, 0));
	str_is("gen_ai.response.id", "x");
	assert_null(attr("output.value"));
	assert_null(attr("gen_ai.usage.input_tokens"));
	/* and the other way round */
	assert_true(run("POST", "/v1/messages", "h", ANTHROPIC_REQ, 200, "application/json", NULL,
			NULL, (struct chunk[]){ { OPENAI_RESP, 0, 10 } }, 1, NULL, 0));
	assert_null(attr("output.value"));
	assert_null(attr("gen_ai.usage.input_tokens"));
	assert_null(attr("gen_ai.response.finish_reasons"));
	/* a chat request's "prompt" is not a chat's */
	assert_false(run("POST", "/v1/chat/completions", "h", "{\"prompt\":\"hi\"}", 200,
			 "application/json", NULL, NULL, NULL, 0, NULL, 0));
}

/* Gemini's stream without alt=sse: every response its own calls. */
static void test_gemini_array_stream_tool_calls(void **state)
{
	static const char body[] =
		"[{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"a\","
		"\"args\":{\"x\":1}}},{\"functionCall\":{\"name\":\"b\",\"args\":{}}}],"
		"\"role\":\"model\"},\"index\":0}]},\n"
		"{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"c\","
		"\"args\":{\"y\":[2]}}}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],"
		"\"usageMetadata\":{\"promptTokenCount\":7,\"candidatesTokenCount\":3}}]";
	struct chunk c[] = { { body, 0, 120 } };

	assert_true(run("POST", "/v1beta/models/gemini-2.0-flash:streamGenerateContent",
			"generativelanguage.googleapis.com",
			"{\"contents\":[{\"parts\":[{\"text\":\"x\"}]}]}", 200, "application/json", NULL,
			NULL, c, 1, NULL, 0));
	assert_int_equal(events_named("gen_ai.tool.call"), 3);
	assert_string_equal(event_attr("gen_ai.tool.call", 0, "gen_ai.tool.name"), "a");
	assert_string_equal(event_attr("gen_ai.tool.call", 0, "gen_ai.tool.call.arguments"),
			    "{\"x\":1}");
	assert_string_equal(event_attr("gen_ai.tool.call", 1, "gen_ai.tool.name"), "b");
	assert_string_equal(event_attr("gen_ai.tool.call", 2, "gen_ai.tool.name"), "c");
	assert_string_equal(event_attr("gen_ai.tool.call", 2, "gen_ai.tool.call.arguments"),
			    "{\"y\":[2]}");
	usage_is(7, 3);
	finish_is("STOP");
}

/* OpenAI Responses streamed: text from the deltas, the id of the first
 * event, the status once it is no longer in progress. */
static void test_responses_stream(void **state)
{
	static const char body[] =
		"event: response.created\ndata: {\"type\":\"response.created\",\"response\":"
		"{\"id\":\"resp_1\",\"status\":\"in_progress\",\"model\":\"gpt-4.1\"}}\n\n"
		"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
		"\"item_id\":\"msg_1\",\"delta\":\"Hel\"}\n\n"
		"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
		"\"item_id\":\"msg_1\",\"delta\":\"lo\"}\n\n"
		"event: response.function_call_arguments.delta\ndata: {\"type\":"
		"\"response.function_call_arguments.delta\",\"delta\":\"{}\"}\n\n"
		"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":"
		"{\"id\":\"resp_1\",\"status\":\"completed\",\"model\":\"gpt-4.1-2025-04-14\","
		"\"output\":[{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":"
		"\"Hello\"}]}],\"usage\":{\"input_tokens\":5,\"output_tokens\":2,\"total_tokens\":7}}}\n\n";
	struct chunk c[] = { { body, 0, 250 } };

	assert_true(run("POST", "/v1/responses", "api.openai.com",
			"{\"model\":\"gpt-4.1\",\"stream\":true,\"input\":\"hi\"}", 200, "text/event-stream",
			NULL, NULL, c, 1, NULL, 0));
	str_is("output.value", "Hello");	/* the deltas; not the text again */
	str_is("gen_ai.response.id", "resp_1");
	str_is("gen_ai.response.model", "gpt-4.1-2025-04-14");
	finish_is("completed");
	usage_is(5, 2);
	dbl_near("gen_ai.response.time_to_first_chunk", 0.25);
}

/* One bad SSE event or NDJSON line does not end the stream. */
static void test_bad_record_does_not_end_stream(void **state)
{
	static const char sse[] =
		"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
		"data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]  oops\n\n"
		"data: {\"choices\":[{\"delta\":{\"content\":\"c\"},\"finish_reason\":\"stop\"}],"
		"\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n\n";
	static const char nd[] =
		"{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":\"x\"},\"done\":false}\n"
		"{not json at all}\n"
		"{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":\"y\"},"
		"\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":4,\"eval_count\":5}";
	struct chunk c1[] = { { sse, 0, 10 } }, c2[] = { { nd, 0, 10 } };

	assert_true(run("POST", "/v1/chat/completions", "h", "{\"model\":\"m\",\"stream\":true}", 200,
			"text/event-stream", NULL, NULL, c1, 1, NULL, 0));
	str_is("output.value", "abc");
	usage_is(1, 2);
	/* the last NDJSON line counts without its newline */
	assert_true(run("POST", "/api/chat", "localhost:11434", "{\"model\":\"llama3.2\"}", 200,
			"application/x-ndjson", NULL, NULL, c2, 1, NULL, 0));
	str_is("output.value", "xy");
	usage_is(4, 5);
	finish_is("stop");
}

/* A coding spanprobe does not decode: the body is not read, nothing is
 * made up from its bytes. */
static void test_unknown_coding_ignores_body(void **state)
{
	static const char *const codings[] = { "compress", "gzip, br", "snappy" };
	struct chunk c[] = { { OPENAI_RESP, 0, 10 } };

	for (size_t i = 0; i < sizeof(codings) / sizeof(codings[0]); i++) {
		assert_true(run("POST", "/v1/chat/completions", "api.openai.com", OPENAI_REQ, 200,
				"application/json", codings[i], NULL, c, 1, NULL, 0));
		str_is("gen_ai.request.model", "gpt-4o-mini");
		assert_null(attr("gen_ai.response.model"));
		assert_null(attr("gen_ai.usage.input_tokens"));
	}
	/* identity is no coding */
	assert_true(run("POST", "/v1/chat/completions", "api.openai.com", OPENAI_REQ, 200,
			"application/json", "identity", NULL, c, 1, NULL, 0));
	usage_is(25, 9);
}

/* Fixed-size fields are cut at a character, never through one. */
static void test_long_fields_cut_at_characters(void **state)
{
	char body[2200] = "{\"error\":{\"type\":\"", *p;
	struct chunk c[] = { { body, 0, 10 } };

	p = body + strlen(body);
	for (int i = 0; i < 100; i++)
		p += sprintf(p, "\xe2\x82\xac");	/* 3 bytes: 64 - 1 is not a multiple */
	p += sprintf(p, "\",\"message\":\"");
	for (int i = 0; i < 200; i++)
		p += sprintf(p, "\xc3\xa9");
	sprintf(p, "\"}}");
	assert_true(run("POST", "/v1/chat/completions", "h", OPENAI_REQ, 500, "application/json",
			NULL, NULL, c, 1, NULL, 0));
	span_utf8_ok();
	assert_true(utf8_ok(attr("error.type")->s));
	assert_int_equal(strlen(attr("error.type")->s), 63);	/* 21 whole characters */
	assert_int_equal(strlen(span->status_msg), 254);	/* 127 whole characters */
}

static void test_prices_load_and_free(void **state)
{
	static const char bare[] = "models/";
	char path[] = "/tmp/sp-test-prices-XXXXXX";
	int fd = mkstemp(path);
	struct sp_price p;
	const char *m;
	size_t n;

	assert_true(fd >= 0);
	assert_true(write(fd, "{\"models\":{\"mine\":{\"input\":1,\"output\":2}}}", 43) == 43);
	close(fd);
	for (int i = 0; i < 3; i++) {
		sp_prices_free();
		sp_prices_free();
		assert_false(sp_prices_lookup("gpt-4o-mini", &p));
		assert_int_equal(sp_prices_load(path), 0);
		assert_true(sp_prices_lookup("mine", &p) && p.input == 1 && p.output == 2);
		assert_false(sp_prices_lookup("gpt-4o-mini", &p));
		assert_int_equal(sp_prices_load(NULL), 0);
		assert_false(sp_prices_lookup("mine", &p));
		assert_true(sp_prices_lookup("gpt-4o-mini", &p));
	}
	/* a file that does not load leaves the table as it was */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(write(fd, "{\"models\":{\"bad\":{\"input\":1}}}", 30) == 30);
	close(fd);
	assert_int_equal(sp_prices_load(path), -EINVAL);
	assert_true(sp_prices_lookup("gpt-4o-mini", &p));
	assert_int_equal(sp_prices_load("/nonexistent/prices.json"), -ENOENT);
	assert_true(sp_prices_lookup("gpt-4o-mini", &p));
	unlink(path);
	/* the one "models/" helper */
	n = 23;
	m = sp_model_name("models/gemini-2.0-flash", &n);
	assert_int_equal(n, 16);
	assert_memory_equal(m, "gemini-2.0-flash", 16);
	n = 7;	/* nothing after it: not a resource name */
	assert_ptr_equal(sp_model_name(bare, &n), bare);
	assert_int_equal(n, 7);
}

/* ---- the walker's paths ---- */

struct walked {
	char log[2048];
	size_t n;
	int records;
};

static void walked_value(void *ctx, struct jwalk *w, const char *path, int type, const char *s,
			 size_t len)
{
	struct walked *k = ctx;

	/* the hash that comes with each path is the path's */
	assert_int_equal(w->hash, jw_hash(path, strlen(path)));
	k->n += snprintf(k->log + k->n, sizeof(k->log) - k->n, "%s@%d,%d=%.*s;", path, jw_index(w, 0),
			 jw_index(w, 1), (int)len, s);
}

static void walked_record(void *ctx, struct jwalk *w)
{
	((struct walked *)ctx)->records++;
}

static void test_jwalk_paths_hashes_array_stream(void **state)
{
	static const char arr[] = "[{\"a\":[1,{\"b\":2}]},{\"a\":[3]}]";
	struct walked k = {};
	struct jwalk w;
	char deep[600];
	int n;

	assert_int_equal(jw_init(&w, walked_value, walked_record, NULL, NULL, &k), 0);
	jw_feed(&w, arr, strlen(arr));
	jw_finish(&w);
	jw_free(&w);
	/* as it is: one record, the array counted */
	assert_string_equal(k.log, "[].a[]@0,0=1;[].a[].b@0,1=2;[].a[]@1,0=3;");
	assert_int_equal(k.records, 1);

	memset(&k, 0, sizeof(k));
	assert_int_equal(jw_init(&w, walked_value, walked_record, NULL, NULL, &k), 0);
	jw_array_stream(&w);
	for (size_t i = 0; i < strlen(arr); i++)
		jw_feed(&w, arr + i, 1);
	jw_finish(&w);
	jw_free(&w);
	/* as a stream: each element a record of its own, without the "[]" */
	assert_string_equal(k.log, "a[]@0,-1=1;a[].b@1,-1=2;a[]@0,-1=3;");
	assert_int_equal(k.records, 2);

	/* a path that does not fit is not reported (not even cut short) */
	memset(&k, 0, sizeof(k));
	n = sprintf(deep, "{\"x\":1,");
	for (int i = 0; i < 8; i++)
		n += sprintf(deep + n, "\"k%d_0123456789012345678901234567890\":{", i);
	n += sprintf(deep + n, "\"v\":2");
	for (int i = 0; i < 8; i++)
		n += sprintf(deep + n, "}");
	sprintf(deep + n, ",\"y\":3}");
	assert_int_equal(jw_init(&w, walked_value, NULL, NULL, NULL, &k), 0);
	assert_true(jw_feed(&w, deep, strlen(deep)));
	jw_free(&w);
	assert_string_equal(k.log, "x@-1,-1=1;y@-1,-1=3;");
}

/* ---- tool calls and results, for agent trees (sp_llm__tools) ---- */

static void result_is(int i, const char *id, const char *name, bool is_error)
{
	assert_true(i < view.nresults);
	assert_string_equal(view.results[i].id, id);
	assert_string_equal(view.results[i].name, name);
	assert_null(view.results[i].args);
	assert_int_equal(view.results[i].is_error, is_error);
}

static void call_is(int i, const char *id, const char *name, const char *args, uint64_t at_ms)
{
	assert_true(i < view.ncalls);
	assert_string_equal(view.calls[i].id, id);
	assert_string_equal(view.calls[i].name, name);
	assert_int_equal(view.calls[i].args_len, strlen(args));
	assert_memory_equal(view.calls[i].args, args, strlen(args));
	assert_false(view.calls[i].args_cut);
	assert_int_equal(view.calls[i].ts, T0 + at_ms * MS);
}

/* Chat Completions: "tool" messages answer the calls by tool_call_id. */
static void test_openai_chat_tool_results(void **state)
{
	static const char req[] =
		"{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"system\",\"content\":\"Use tools.\"},"
		"{\"role\":\"user\",\"content\":\"Weather in Paris and Rome?\"},"
		"{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_P\","
		"\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":"
		"\"{\\\"city\\\":\\\"Paris\\\"}\"}},{\"id\":\"call_R\",\"type\":\"function\","
		"\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Rome\\\"}\"}}]},"
		"{\"role\":\"tool\",\"tool_call_id\":\"call_P\",\"content\":\"18 C\"},"
		"{\"role\":\"tool\",\"content\":\"24 C\",\"tool_call_id\":\"call_R\"}],"
		"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}]}";
	static const char resp[] =
		"{\"id\":\"chatcmpl-1\",\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,"
		"\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
		"\"call_N\",\"type\":\"function\",\"function\":{\"name\":\"notify\",\"arguments\":"
		"\"{\\\"to\\\":\\\"me\\\"}\"}}]},\"finish_reason\":\"tool_calls\"}]}";
	struct chunk c[] = { { resp, 0, 700 } };

	assert_true(run("POST", "/v1/chat/completions", "api.openai.com", req, 200,
			"application/json", NULL, NULL, c, 1, NULL, 0));
	assert_int_equal(view.nresults, 2);
	result_is(0, "call_P", "", false);
	result_is(1, "call_R", "", false);	/* the id after the content */
	assert_false(view.last_is_user);
	assert_int_equal(view.ncalls, 1);
	call_is(0, "call_N", "notify", "{\"to\":\"me\"}", 700);
	str_is("llm.input_messages.2.message.tool_calls.0.tool_call.id", "call_P");
	str_is("llm.input_messages.2.message.tool_calls.1.tool_call.id", "call_R");
	str_is("llm.input_messages.2.message.tool_calls.1.tool_call.function.name", "get_weather");
	str_is("llm.input_messages.3.message.role", "tool");
	str_is("llm.input_messages.3.message.tool_call_id", "call_P");
	str_is("llm.input_messages.4.message.tool_call_id", "call_R");
	str_is("llm.input_messages.4.message.content", "24 C");
	str_is("llm.output_messages.0.message.tool_calls.0.tool_call.id", "call_N");
	str_is("gen_ai.input.messages",
	       "[{\"role\":\"system\",\"parts\":[{\"type\":\"text\"}]},"
	       "{\"role\":\"user\",\"parts\":[{\"type\":\"text\"}]},"
	       "{\"role\":\"assistant\",\"parts\":[{\"type\":\"tool_call\",\"id\":\"call_P\","
	       "\"name\":\"get_weather\"},{\"type\":\"tool_call\",\"id\":\"call_R\","
	       "\"name\":\"get_weather\"}]},"
	       "{\"role\":\"tool\",\"parts\":[{\"type\":\"tool_call_response\",\"id\":\"call_P\"}]},"
	       "{\"role\":\"tool\",\"parts\":[{\"type\":\"tool_call_response\",\"id\":\"call_R\"}]}]");

	/* the user's own message last: a new turn */
	assert_true(run("POST", "/v1/chat/completions", "api.openai.com",
			"{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"c\","
			"\"content\":\"ok\"},{\"role\":\"user\",\"content\":\"thanks\"}]}", 200,
			"application/json", NULL, NULL, c, 1, NULL, 0));
	assert_true(view.last_is_user);
	assert_int_equal(view.nresults, 1);
	/* a system or developer message last is not the user's */
	assert_true(run("POST", "/v1/chat/completions", "api.openai.com",
			"{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
			"{\"role\":\"developer\",\"content\":\"b\"}]}", 200, "application/json", NULL,
			NULL, c, 1, NULL, 0));
	assert_false(view.last_is_user);
	assert_int_equal(view.nresults, 0);
}

/* The last SP_TOOLS_MAX results are kept (the older ones were answered
 * long ago), the rest counted; a message past the 16 kept never lends
 * its text to the 16th. */
static void test_results_keep_the_last(void **state)
{
	static char req[16384];
	int n = snprintf(req, sizeof(req), "{\"model\":\"gpt-4o\",\"messages\":[");

	for (int i = 0; i < 20; i++)
		n += snprintf(req + n, sizeof(req) - n,
			      "%s{\"role\":\"assistant\",\"content\":\"calling %d\"},"
			      "{\"role\":\"tool\",\"tool_call_id\":\"call_%d\",\"content\":\"r%d\"}",
			      i ? "," : "", i, i, i);
	snprintf(req + n, sizeof(req) - n, "]}");
	assert_true(run("POST", "/v1/chat/completions", "api.openai.com", req, 200,
			"application/json", NULL, NULL, NULL, 0, NULL, 0));
	assert_int_equal(view.nresults, SP_TOOLS_MAX);
	for (int i = 0; i < SP_TOOLS_MAX; i++) {
		char id[24];

		snprintf(id, sizeof(id), "call_%d", i + 4);
		result_is(i, id, "", false);
	}
	int_is("spanprobe.llm.tool_results_dropped", 4);
	int_is("spanprobe.llm.input_messages_dropped", 40 - 16);
	str_is("llm.input_messages.15.message.content", "r7");
	str_is("llm.input_messages.15.message.tool_call_id", "call_7");
	assert_false(view.last_is_user);

	/* 30 parallel calls echoed back: 24 parts kept, in order */
	n = snprintf(req, sizeof(req), "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":"
		     "\"assistant\",\"tool_calls\":[");
	for (int i = 0; i < 30; i++)
		n += snprintf(req + n, sizeof(req) - n, "%s{\"id\":\"c%d\",\"type\":\"function\","
			      "\"function\":{\"name\":\"f%d\",\"arguments\":\"{}\"}}", i ? "," : "",
			      i, i);
	snprintf(req + n, sizeof(req) - n, "]}]}");
	assert_true(run("POST", "/v1/chat/completions", "api.openai.com", req, 200,
			"application/json", NULL, NULL, NULL, 0, NULL, 0));
	str_is("llm.input_messages.0.message.tool_calls.23.tool_call.function.name", "f23");
	assert_null(attr("llm.input_messages.0.message.tool_calls.24.tool_call.id"));
	int_is("spanprobe.llm.input_tool_parts_dropped", 6);
	assert_int_equal(view.nresults, 0);
}

/* Codex: the Responses API, the system prompt after the input, the
 * earlier calls echoed back as function_call items (MCP tools by
 * namespace), their results as function_call_output items. */
static const char CODEX_REQ[] =
	"{\"model\":\"gpt-5-codex\",\"input\":["
	"{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_text\","
	"\"text\":\"list /tmp\"}]},"
	"{\"type\":\"reasoning\",\"summary\":[],\"encrypted_content\":\"gAAAAB\"},"
	"{\"type\":\"function_call\",\"namespace\":\"mcp__filesystem\",\"name\":\"list_directory\","
	"\"arguments\":\"{\\\"path\\\":\\\"/tmp\\\"}\",\"call_id\":\"call_LD\"},"
	"{\"type\":\"function_call_output\",\"call_id\":\"call_LD\",\"output\":\"a.txt\\nb.txt\"},"
	"{\"type\":\"custom_tool_call\",\"call_id\":\"call_AP\",\"name\":\"apply_patch\","
	"\"input\":\"*** Begin Patch\"},"
	"{\"type\":\"custom_tool_call_output\",\"call_id\":\"call_AP\",\"output\":\"Done\"}],"
	"\"tools\":[],\"stream\":true,\"instructions\":\"You are Codex.\"}";

/* A tool-call turn: reasoning (encrypted: no deltas), then the call. */
static const char CODEX_STREAM[] =
	"event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,"
	"\"response\":{\"id\":\"resp_9\",\"status\":\"in_progress\",\"model\":\"gpt-5-codex\","
	"\"output\":[]}}\n\n"
	"event: response.in_progress\ndata: {\"type\":\"response.in_progress\",\"sequence_number\":1,"
	"\"response\":{\"id\":\"resp_9\",\"status\":\"in_progress\"}}\n\n"
	"event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\","
	"\"sequence_number\":2,\"output_index\":0,\"item\":{\"id\":\"rs_1\",\"type\":\"reasoning\","
	"\"summary\":[]}}\n\n"
	"event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\","
	"\"sequence_number\":3,\"output_index\":0,\"item\":{\"id\":\"rs_1\",\"type\":\"reasoning\","
	"\"summary\":[],\"encrypted_content\":\"gAAAAC\"}}\n\n"
	"event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\","
	"\"sequence_number\":4,\"output_index\":1,\"item\":{\"id\":\"fc_1\",\"type\":\"function_call\","
	"\"status\":\"in_progress\",\"arguments\":\"\",\"call_id\":\"call_RF\",\"name\":\"read_file\","
	"\"namespace\":\"mcp__filesystem\"}}\n\n"
	"event: response.function_call_arguments.delta\ndata: {\"type\":"
	"\"response.function_call_arguments.delta\",\"sequence_number\":5,\"item_id\":\"fc_1\","
	"\"output_index\":1,\"delta\":\"{\\\"path\\\":\"}\n\n"
	"event: response.function_call_arguments.delta\ndata: {\"type\":"
	"\"response.function_call_arguments.delta\",\"sequence_number\":6,\"item_id\":\"fc_1\","
	"\"output_index\":1,\"delta\":\"\\\"/tmp/a.txt\\\"}\"}\n\n"
	"event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\","
	"\"sequence_number\":7,\"output_index\":1,\"item\":{\"id\":\"fc_1\",\"type\":\"function_call\","
	"\"status\":\"completed\",\"arguments\":\"{\\\"path\\\":\\\"/tmp/a.txt\\\"}\",\"call_id\":"
	"\"call_RF\",\"name\":\"read_file\",\"namespace\":\"mcp__filesystem\"}}\n\n"
	"event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":8,"
	"\"response\":{\"id\":\"resp_9\",\"status\":\"completed\",\"model\":\"gpt-5-codex\","
	"\"output\":[{\"id\":\"rs_1\",\"type\":\"reasoning\",\"summary\":[]},{\"id\":\"fc_1\","
	"\"type\":\"function_call\",\"status\":\"completed\",\"arguments\":"
	"\"{\\\"path\\\":\\\"/tmp/a.txt\\\"}\",\"call_id\":\"call_RF\",\"name\":\"read_file\","
	"\"namespace\":\"mcp__filesystem\"}],\"usage\":{\"input_tokens\":900,\"output_tokens\":40,"
	"\"total_tokens\":940}}}\n\n";

/* Each record of body (up to and with sep) in a chunk of its own, the
 * n-th at n * step ms. */
static int split(const char *body, const char *sep, uint64_t step, struct chunk *c, int cap)
{
	const char *p = body;
	int n = 0;

	while (*p && n < cap) {
		const char *e = strstr(p, sep);

		e = e ? e + strlen(sep) : p + strlen(p);
		c[n] = (struct chunk){ p, e - p, step * (n + 1) };
		n++;
		p = e;
	}
	return n;
}

static void test_responses_codex_tools(void **state)
{
	struct chunk c[16];
	int n = split(CODEX_STREAM, "\n\n", 100, c, 16);
	const char *args = "{\"path\":\"/tmp/a.txt\"}";

	assert_int_equal(n, 9);
	assert_true(run("POST", "/v1/responses", "api.openai.com", CODEX_REQ, 200,
			"text/event-stream", NULL, NULL, c, n, NULL, 0));
	/* the system prompt first, whatever the JSON order */
	str_is("llm.input_messages.0.message.role", "system");
	str_is("llm.input_messages.0.message.content", "You are Codex.");
	str_is("llm.input_messages.1.message.role", "user");
	str_is("llm.input_messages.1.message.content", "list /tmp");
	/* the reasoning item is no message; the echoed call is the model's */
	str_is("llm.input_messages.2.message.role", "assistant");
	str_is("llm.input_messages.2.message.tool_calls.0.tool_call.id", "call_LD");
	str_is("llm.input_messages.2.message.tool_calls.0.tool_call.function.name",
	       "mcp__filesystem__list_directory");
	str_is("llm.input_messages.2.message.tool_calls.0.tool_call.function.arguments",
	       "{\"path\":\"/tmp\"}");
	assert_null(attr("llm.input_messages.2.message.content"));
	str_is("llm.input_messages.3.message.role", "tool");
	str_is("llm.input_messages.3.message.tool_call_id", "call_LD");
	str_is("llm.input_messages.3.message.content", "a.txt\nb.txt");
	str_is("llm.input_messages.4.message.tool_calls.0.tool_call.function.name", "apply_patch");
	str_is("llm.input_messages.5.message.tool_call_id", "call_AP");
	assert_null(attr("llm.input_messages.6.message.role"));
	str_is("gen_ai.input.messages",
	       "[{\"role\":\"system\",\"parts\":[{\"type\":\"text\"}]},"
	       "{\"role\":\"user\",\"parts\":[{\"type\":\"text\"}]},"
	       "{\"role\":\"assistant\",\"parts\":[{\"type\":\"tool_call\",\"id\":\"call_LD\","
	       "\"name\":\"mcp__filesystem__list_directory\"}]},"
	       "{\"role\":\"tool\",\"parts\":[{\"type\":\"tool_call_response\",\"id\":\"call_LD\"}]},"
	       "{\"role\":\"assistant\",\"parts\":[{\"type\":\"tool_call\",\"id\":\"call_AP\","
	       "\"name\":\"apply_patch\"}]},"
	       "{\"role\":\"tool\",\"parts\":[{\"type\":\"tool_call_response\",\"id\":\"call_AP\"}]}]");
	/* the echoed calls are not results; their outputs are */
	assert_int_equal(view.nresults, 2);
	result_is(0, "call_LD", "", false);
	result_is(1, "call_AP", "", false);
	assert_false(view.last_is_user);

	/* the response's call: announced at 500 ms, its arguments once (the
	 * deltas, then the item whole, then the response whole) */
	assert_int_equal(view.ncalls, 1);
	call_is(0, "call_RF", "mcp__filesystem__read_file", args, 500);
	assert_int_equal(events_named("gen_ai.tool.call"), 1);
	assert_string_equal(event_attr("gen_ai.tool.call", 0, "gen_ai.tool.name"),
			    "mcp__filesystem__read_file");
	assert_string_equal(event_attr("gen_ai.tool.call", 0, "spanprobe.tool.function_name"),
			    "read_file");
	assert_string_equal(event_attr("gen_ai.tool.call", 0, "spanprobe.tool.namespace"),
			    "mcp__filesystem");
	assert_string_equal(event_attr("gen_ai.tool.call", 0, "gen_ai.tool.call.arguments"), args);
	str_is("llm.output_messages.0.message.tool_calls.0.tool_call.function.name",
	       "mcp__filesystem__read_file");
	/* the first output is the encrypted reasoning, done at 400 ms: not
	 * the created/in_progress events, nor the end */
	dbl_near("gen_ai.response.time_to_first_chunk", 0.4);
	usage_is(900, 40);

	/* without reasoning: the call's announcement */
	{
		struct chunk d[16];
		int k = 0;

		for (int i = 0; i < n; i++)
			if (!memmem(c[i].data, c[i].len, "\"rs_1\"", 6) ||
			    memmem(c[i].data, c[i].len, "response.completed", 18))
				d[k++] = c[i];
		assert_int_equal(k, 7);
		assert_true(run("POST", "/v1/responses", "api.openai.com", CODEX_REQ, 200,
				"text/event-stream", NULL, NULL, d, k, NULL, 0));
		dbl_near("gen_ai.response.time_to_first_chunk", 0.5);
		call_is(0, "call_RF", "mcp__filesystem__read_file", args, 500);
	}

	/* not streamed: the response object alone */
	{
		static const char resp[] =
			"{\"id\":\"resp_2\",\"object\":\"response\",\"status\":\"completed\",\"model\":"
			"\"gpt-5-codex\",\"output\":[{\"type\":\"function_call\",\"id\":\"fc_2\","
			"\"call_id\":\"call_X\",\"namespace\":\"mcp__git\",\"name\":\"git_status\","
			"\"arguments\":\"{}\"}],\"usage\":{\"input_tokens\":5,\"output_tokens\":3}}";
		struct chunk e[] = { { resp, 0, 900 } };

		assert_true(run("POST", "/v1/responses", "api.openai.com",
				"{\"model\":\"gpt-5-codex\",\"instructions\":\"x\",\"input\":[{\"role\":"
				"\"user\",\"content\":\"status?\"}]}", 200, "application/json", NULL, NULL,
				e, 1, NULL, 0));
		call_is(0, "call_X", "mcp__git__git_status", "{}", 900);
		assert_true(view.last_is_user);
		assert_int_equal(view.nresults, 0);
		assert_null(attr("gen_ai.response.time_to_first_chunk"));	/* not a stream */
	}
	/* a plain string input is the user's */
	assert_true(run("POST", "/v1/responses", "api.openai.com",
			"{\"model\":\"gpt-4.1\",\"input\":\"hi\"}", 200, "application/json", NULL, NULL,
			NULL, 0, NULL, 0));
	assert_true(view.last_is_user);
	/* but what an embedding call embeds is nobody's message */
	assert_true(run("POST", "/v1/embeddings", "api.openai.com",
			"{\"model\":\"text-embedding-3-small\",\"input\":\"hi\"}", 200,
			"application/json", NULL, NULL, NULL, 0, NULL, 0));
	assert_false(view.last_is_user);
}

/* Codex's request and stream cut at every point: what was whole is
 * reported, nothing more, and nothing breaks (run under ASan). */
static void test_responses_cut_everywhere(void **state)
{
	size_t rl = strlen(CODEX_REQ), sl = strlen(CODEX_STREAM);
	char *req = malloc(rl + 1);

	for (size_t at = 0; at <= rl; at++) {
		memcpy(req, CODEX_REQ, at);
		req[at] = 0;
		if (!run("POST", "/v1/responses", "api.openai.com", req, 200, "application/json",
			 NULL, NULL, NULL, 0, NULL, 0))
			continue;
		assert_true(view.nresults <= 2);
		/* a result cut before its call_id has none: never a wrong one */
		for (int i = 0; i < view.nresults; i++)
			if (view.results[i].id[0])
				assert_string_equal(view.results[i].id, i ? "call_AP" : "call_LD");
		/* the user's message is not last: a cut body may end on it */
		if (view.last_is_user)
			assert_true(at < (size_t)(strstr(CODEX_REQ, "\"summary\"") - CODEX_REQ));
	}
	free(req);
	for (size_t at = 0; at <= sl; at += 7) {
		struct chunk c[] = { { CODEX_STREAM, at, 100 } };

		assert_true(run("POST", "/v1/responses", "api.openai.com", CODEX_REQ, 200,
				"text/event-stream", NULL, NULL, c, at ? 1 : 0, NULL, 0));
		assert_true(view.ncalls <= 1);
		if (view.ncalls) {
			assert_string_equal(view.calls[0].id, "call_RF");
			assert_int_equal(view.calls[0].args[view.calls[0].args_len], 0);
			assert_true(view.calls[0].args_len <= strlen("{\"path\":\"/tmp/a.txt\"}"));
		}
	}
	/* not JSON at all */
	assert_false(run("POST", "/v1/responses", "api.openai.com", "\x01{[}\"input\":", 200,
			 "text/event-stream", NULL, NULL, NULL, 0, NULL, 0));
}

/* Anthropic: tool_result blocks in a user message, is_error; the system
 * prompt after the messages; thinking as the first output of a stream. */
static void test_anthropic_tool_results(void **state)
{
	static const char req[] =
		"{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":4096,\"messages\":["
		"{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Fix the build\"}]},"
		"{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Looking.\"},"
		"{\"type\":\"tool_use\",\"id\":\"toolu_B\",\"name\":\"Bash\",\"input\":{\"command\":"
		"\"make\"}},{\"type\":\"tool_use\",\"id\":\"toolu_R\",\"name\":\"mcp__fs__read\","
		"\"input\":{}}]},"
		"{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_B\","
		"\"content\":\"make: *** [all] Error 2\",\"is_error\":true},{\"type\":\"tool_result\","
		"\"tool_use_id\":\"toolu_R\",\"content\":[{\"type\":\"text\",\"text\":\"int main\"}]}]},"
		"{\"role\":\"assistant\",\"content\":[{\"type\":\"server_tool_use\",\"id\":\"srvtoolu_1\","
		"\"name\":\"web_search\",\"input\":{}},{\"type\":\"web_search_tool_result\","
		"\"tool_use_id\":\"srvtoolu_1\",\"content\":[]}]},"
		"{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_X\","
		"\"content\":\"ok\"}]}],"
		"\"system\":[{\"type\":\"text\",\"text\":\"You are Claude Code.\"}],\"stream\":true}";
	static const char stream[] =
		"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_T\","
		"\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":"
		"\"claude-sonnet-4-5-20250929\",\"usage\":{\"input_tokens\":50,\"output_tokens\":1}}}\n\n"
		"event: ping\ndata: {\"type\": \"ping\"}\n\n"
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
		"\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n"
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
		"\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"The build fails.\"}}\n\n"
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,"
		"\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_E\",\"name\":\"Edit\","
		"\"input\":{}}}\n\n"
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
		"\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"file\\\":\\\"a.c\\\"}\"}}\n\n"
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
		"\"tool_use\"},\"usage\":{\"output_tokens\":30}}\n\n";
	struct chunk c[8];
	int n = split(stream, "\n\n", 10, c, 8);

	assert_int_equal(n, 8);
	assert_true(run("POST", "/v1/messages", "api.anthropic.com", req, 200, "text/event-stream",
			NULL, NULL, c, n, NULL, 0));
	/* the web search's result is Anthropic's own, not one for the agent */
	assert_int_equal(view.nresults, 3);
	result_is(0, "toolu_B", "", true);
	result_is(1, "toolu_R", "", false);
	result_is(2, "toolu_X", "", false);
	assert_false(view.last_is_user);	/* only tool_result blocks */
	str_is("llm.input_messages.2.message.tool_calls.1.tool_call.function.name", "mcp__fs__read");
	str_is("llm.input_messages.3.message.tool_call_id", "toolu_B");
	str_is("gen_ai.input.messages",
	       "[{\"role\":\"system\",\"parts\":[{\"type\":\"text\"}]},"
	       "{\"role\":\"user\",\"parts\":[{\"type\":\"text\"}]},"
	       "{\"role\":\"assistant\",\"parts\":[{\"type\":\"text\"},{\"type\":\"tool_call\","
	       "\"id\":\"toolu_B\",\"name\":\"Bash\"},{\"type\":\"tool_call\",\"id\":\"toolu_R\","
	       "\"name\":\"mcp__fs__read\"}]},"
	       "{\"role\":\"user\",\"parts\":[{\"type\":\"tool_call_response\",\"id\":\"toolu_B\"},"
	       "{\"type\":\"tool_call_response\",\"id\":\"toolu_R\"}]},"
	       "{\"role\":\"assistant\",\"parts\":[]},"
	       "{\"role\":\"user\",\"parts\":[{\"type\":\"tool_call_response\",\"id\":\"toolu_X\"}]}]");
	str_is("llm.input_messages.0.message.role", "system");
	str_is("llm.input_messages.0.message.content", "You are Claude Code.");
	str_is("llm.input_messages.1.message.content", "Fix the build");
	str_is("llm.input_messages.3.message.role", "user");
	/* the results' text is not the user's */
	assert_null(attr("llm.input_messages.3.message.content"));
	/* thinking at 40 ms: not message_start, the ping, the empty block */
	dbl_near("gen_ai.response.time_to_first_chunk", 0.04);
	assert_int_equal(view.ncalls, 1);
	call_is(0, "toolu_E", "Edit", "{\"file\":\"a.c\"}", 60);
	assert_null(attr("output.value"));	/* thinking is not kept */
}

/* A user message with tool results and text of the user's own is a new
 * turn; Claude Code's subagent results are plain tool results. */
static void test_anthropic_last_is_user(void **state)
{
	assert_true(run("POST", "/v1/messages", "api.anthropic.com",
			"{\"model\":\"claude-haiku-4-5\",\"max_tokens\":10,\"messages\":[{\"role\":"
			"\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\","
			"\"content\":\"ok\"},{\"type\":\"text\",\"text\":\"now also run the tests\"}]}]}",
			200, "application/json", NULL, NULL, NULL, 0, NULL, 0));
	assert_true(view.last_is_user);
	result_is(0, "toolu_1", "", false);
	assert_true(run("POST", "/v1/messages", "api.anthropic.com",
			"{\"model\":\"claude-haiku-4-5\",\"max_tokens\":10,\"messages\":[{\"role\":"
			"\"user\",\"content\":\"hello\"}]}", 200, "application/json", NULL, NULL, NULL, 0,
			NULL, 0));
	assert_true(view.last_is_user);
	assert_int_equal(view.nresults, 0);
	/* an assistant prefill last */
	assert_true(run("POST", "/v1/messages", "api.anthropic.com",
			"{\"model\":\"claude-haiku-4-5\",\"max_tokens\":10,\"messages\":[{\"role\":"
			"\"user\",\"content\":\"hello\"},{\"role\":\"assistant\",\"content\":\"{\"}]}", 200,
			"application/json", NULL, NULL, NULL, 0, NULL, 0));
	assert_false(view.last_is_user);
}

/* Gemini: functionResponse parts (by id when given, else by name),
 * "error" in the response; systemInstruction after the contents; the
 * first chunk with output, not the first chunk. */
static void test_gemini_tool_results(void **state)
{
	static const char req[] =
		"{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Run ls and date\"}]},"
		"{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"id\":\"fc-1\",\"name\":\"ls\","
		"\"args\":{}}},{\"functionCall\":{\"name\":\"date\",\"args\":{}}}]},"
		"{\"role\":\"user\",\"parts\":[{\"functionResponse\":{\"id\":\"fc-1\",\"name\":\"ls\","
		"\"response\":{\"output\":\"a b\"}}},{\"functionResponse\":{\"name\":\"date\","
		"\"response\":{\"error\":{\"message\":\"not found\"}}}}]}],"
		"\"systemInstruction\":{\"parts\":[{\"text\":\"Be brief.\"}]}}";
	static const char body[] =
		"[{\"candidates\":[{\"content\":{\"role\":\"model\"},\"index\":0}],\"usageMetadata\":"
		"{\"promptTokenCount\":30},\"modelVersion\":\"gemini-2.5-flash\"}\n"
		",{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\"}],\"role\":\"model\"},"
		"\"index\":0}]}\n"
		",{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"cat\",\"args\":"
		"{\"f\":\"a\"}}}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}]}\n]";
	struct chunk c[3];

	assert_int_equal(split(body, "\n", 40, c, 3), 3);	/* at 40, 80, 120 ms */

	assert_true(run("POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
			"generativelanguage.googleapis.com", req, 200, "application/json", NULL, NULL,
			c, 3, NULL, 0));
	assert_int_equal(view.nresults, 2);
	result_is(0, "fc-1", "ls", false);
	result_is(1, "", "date", true);
	assert_false(view.last_is_user);	/* only functionResponse parts */
	str_is("llm.input_messages.0.message.role", "system");
	str_is("llm.input_messages.0.message.content", "Be brief.");
	str_is("llm.input_messages.1.message.content", "Run ls and date");
	str_is("llm.input_messages.2.message.tool_calls.0.tool_call.id", "fc-1");
	str_is("llm.input_messages.2.message.tool_calls.1.tool_call.function.name", "date");
	str_is("llm.input_messages.3.message.tool_call_id", "fc-1");
	dbl_near("gen_ai.response.time_to_first_chunk", 0.12);
	assert_int_equal(view.ncalls, 1);
	call_is(0, "", "cat", "{\"f\":\"a\"}", 120);

	/* a turn without a role is the user's */
	assert_true(run("POST", "/v1beta/models/gemini-2.5-flash:generateContent",
			"generativelanguage.googleapis.com",
			"{\"contents\":[{\"parts\":[{\"text\":\"hi\"}]}]}", 200, "application/json", NULL,
			NULL, NULL, 0, NULL, 0));
	assert_true(view.last_is_user);
}

/* Ollama: "tool" messages, named by tool_name; thinking is output. */
static void test_ollama_tool_results(void **state)
{
	static const char req[] =
		"{\"model\":\"qwen3\",\"messages\":[{\"role\":\"user\",\"content\":\"weather?\"},"
		"{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":{\"name\":"
		"\"get_weather\",\"arguments\":{\"city\":\"Oslo\"}}}]},"
		"{\"role\":\"tool\",\"content\":\"-3 C\",\"tool_name\":\"get_weather\"}]}";
	static const char body[] =
		"{\"model\":\"qwen3\",\"created_at\":\"2025-06-01T10:00:00Z\",\"message\":{\"role\":"
		"\"assistant\",\"content\":\"\"},\"done\":false}\n"
		"{\"model\":\"qwen3\",\"message\":{\"role\":\"assistant\",\"content\":\"\",\"thinking\":"
		"\"Cold.\"},\"done\":false}\n"
		"{\"model\":\"qwen3\",\"message\":{\"role\":\"assistant\",\"content\":\"It is -3 C.\"},"
		"\"done\":false}\n"
		"{\"model\":\"qwen3\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,"
		"\"done_reason\":\"stop\",\"prompt_eval_count\":40,\"eval_count\":9}\n";
	struct chunk c[4];

	assert_int_equal(split(body, "\n", 10, c, 4), 4);
	assert_true(run("POST", "/api/chat", "127.0.0.1:11434", req, 200, "application/x-ndjson",
			NULL, NULL, c, 4, NULL, 0));
	assert_int_equal(view.nresults, 1);
	result_is(0, "", "get_weather", false);
	assert_false(view.last_is_user);
	str_is("llm.input_messages.2.message.role", "tool");
	str_is("llm.input_messages.1.message.tool_calls.0.tool_call.function.name", "get_weather");
	dbl_near("gen_ai.response.time_to_first_chunk", 0.02);
	str_is("output.value", "It is -3 C.");
	assert_int_equal(view.ncalls, 0);
}

/* Chat Completions streamed: a role-only first delta is no output;
 * reasoning is. */
static void test_openai_stream_ttfc_reasoning(void **state)
{
	static const char body[] =
		"data: {\"id\":\"c1\",\"model\":\"deepseek-reasoner\",\"choices\":[{\"index\":0,"
		"\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"
		"data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":"
		"\"Hmm\"}}]}\n\n"
		"data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Yes.\"}}]}\n\n"
		"data: [DONE]\n\n";
	struct chunk c[4];

	assert_int_equal(split(body, "\n\n", 35, c, 4), 4);	/* at 35, 70, 105, 140 ms */

	assert_true(run("POST", "/v1/chat/completions", "api.deepseek.com",
			"{\"model\":\"deepseek-reasoner\",\"stream\":true,\"messages\":[{\"role\":"
			"\"user\",\"content\":\"?\"}]}", 200, "text/event-stream", NULL, NULL, c, 4, NULL,
			0));
	dbl_near("gen_ai.response.time_to_first_chunk", 0.07);
	str_is("output.value", "Yes.");
	assert_true(view.last_is_user);
}

/* With more than 16 messages before it, the system prompt still comes
 * first (the last message kept makes room). */
static void test_system_first_when_full(void **state)
{
	static char req[8192];
	int n = snprintf(req, sizeof(req), "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":8,"
			 "\"messages\":[");

	for (int i = 0; i < 18; i++)
		n += snprintf(req + n, sizeof(req) - n, "%s{\"role\":\"%s\",\"content\":\"m%d\"}",
			      i ? "," : "", i % 2 ? "assistant" : "user", i);
	snprintf(req + n, sizeof(req) - n, "],\"system\":\"S\"}");
	assert_true(run("POST", "/v1/messages", "api.anthropic.com", req, 200, "application/json",
			NULL, NULL, NULL, 0, NULL, 0));
	str_is("llm.input_messages.0.message.role", "system");
	str_is("llm.input_messages.0.message.content", "S");
	str_is("llm.input_messages.1.message.content", "m0");
	str_is("llm.input_messages.15.message.content", "m14");
	assert_null(attr("llm.input_messages.16.message.role"));
	int_is("spanprobe.llm.input_messages_dropped", 3);
	assert_false(view.last_is_user);	/* m17: the assistant's */
}

/* Tools the provider runs (Anthropic's web search, OpenAI's MCP calls)
 * stay events, but are no calls for the agent to answer; text blocks
 * with citations, many of them, take no tool's place. */
static void test_server_tools_are_not_the_agents(void **state)
{
	static char resp[8192];
	int n = snprintf(resp, sizeof(resp),
			 "{\"id\":\"msg_S\",\"type\":\"message\",\"role\":\"assistant\","
			 "\"model\":\"claude-sonnet-4-5\",\"content\":[{\"type\":\"server_tool_use\","
			 "\"id\":\"srvtoolu_1\",\"name\":\"web_search\",\"input\":{\"query\":\"x\"}},"
			 "{\"type\":\"web_search_tool_result\",\"tool_use_id\":\"srvtoolu_1\","
			 "\"content\":[]}");

	for (int i = 0; i < 20; i++)
		n += snprintf(resp + n, sizeof(resp) - n, ",{\"type\":\"text\",\"text\":\"t%d \","
			      "\"citations\":[{\"type\":\"web_search_result_location\"}]}", i);
	snprintf(resp + n, sizeof(resp) - n, ",{\"type\":\"tool_use\",\"id\":\"toolu_W\",\"name\":"
		 "\"Write\",\"input\":{\"f\":1}}],\"stop_reason\":\"tool_use\"}");
	struct chunk c[] = { { resp, 0, 300 } };

	assert_true(run("POST", "/v1/messages", "api.anthropic.com", ANTHROPIC_REQ, 200,
			"application/json", NULL, NULL, c, 1, NULL, 0));
	assert_int_equal(events_named("gen_ai.tool.call"), 2);
	assert_string_equal(event_attr("gen_ai.tool.call", 0, "gen_ai.tool.name"), "web_search");
	assert_string_equal(event_attr("gen_ai.tool.call", 0, "spanprobe.tool.executed_by"),
			    "provider");
	assert_null(event_attr("gen_ai.tool.call", 1, "spanprobe.tool.executed_by"));
	assert_null(attr("spanprobe.llm.tool_calls_dropped"));
	assert_int_equal(view.ncalls, 1);
	call_is(0, "toolu_W", "Write", "{\"f\":1}", 300);

	/* Responses: an mcp_call item is OpenAI's */
	assert_true(run("POST", "/v1/responses", "api.openai.com", "{\"model\":\"gpt-4.1\","
			"\"input\":\"hi\"}", 200, "application/json", NULL, NULL,
			(struct chunk[]){ { "{\"id\":\"resp_M\",\"status\":\"completed\",\"output\":["
					    "{\"type\":\"mcp_call\",\"id\":\"mcp_1\",\"name\":\"roll\","
					    "\"server_label\":\"dice\",\"arguments\":\"{}\"},{\"type\":"
					    "\"function_call\",\"call_id\":\"call_F\",\"name\":\"f\","
					    "\"arguments\":\"{}\"}]}", 0, 20 } }, 1, NULL, 0));
	assert_int_equal(events_named("gen_ai.tool.call"), 2);
	assert_int_equal(view.ncalls, 1);
	call_is(0, "call_F", "f", "{}", 20);
}

/* Requests with tool items, bytes changed at random: the view stays
 * bounded, its strings whole UTF-8 (run under ASan and UBSan). */
static void test_mutated_tool_requests(void **state)
{
	static const char *const reqs[][2] = {
		{ "/v1/responses", CODEX_REQ },
		{ "/v1/messages", "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
				  "[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\",\"is_error\":"
				  "true},{\"type\":\"text\",\"text\":\"\u00e9t\u00e9\"}]}],\"system\":\"s\"}" },
		{ "/v1beta/models/g:generateContent",
		  "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"functionResponse\":{\"id\":"
		  "\"a\",\"name\":\"b\",\"response\":{\"error\":\"x\"}}}]}]}" },
	};
	char buf[2048];
	unsigned seed = 7;

	for (size_t r = 0; r < sizeof(reqs) / sizeof(reqs[0]); r++) {
		size_t len = strlen(reqs[r][1]);

		for (int k = 0; k < 600; k++) {
			memcpy(buf, reqs[r][1], len + 1);
			for (int f = 0; f < 1 + k % 4; f++) {
				seed = seed * 1103515245 + 12345;
				buf[(seed >> 8) % len] = (char)(seed >> 20);
			}
			if (!run("POST", reqs[r][0], "h", buf, 200, "application/json", NULL, NULL,
				 NULL, 0, NULL, 0))
				continue;
			assert_true(view.nresults >= 0 && view.nresults <= SP_TOOLS_MAX);
			assert_int_equal(view.ncalls, 0);
			for (int i = 0; i < view.nresults; i++) {
				assert_true(utf8_ok(view.results[i].id));
				assert_true(utf8_ok(view.results[i].name));
			}
			span_utf8_ok();
		}
	}
}

/* A name with its namespace already in front keeps it once; a long one
 * is cut at a character, and then has no bare name to point at. */
static void test_namespace_names(void **state)
{
	static char resp[1024];
	char longname[200];
	int n = 0;

	for (int i = 0; i < 80; i++)	/* 160 bytes of two-byte characters */
		n += snprintf(longname + n, sizeof(longname) - n, "\xc3\xa9");
	snprintf(resp, sizeof(resp), "{\"id\":\"r\",\"status\":\"completed\",\"output\":["
		 "{\"type\":\"function_call\",\"call_id\":\"c1\",\"namespace\":\"mcp__git\","
		 "\"name\":\"mcp__git__log\",\"arguments\":\"{}\"},"
		 "{\"type\":\"function_call\",\"call_id\":\"c2\",\"namespace\":\"mcp__a\","
		 "\"name\":\"%s\",\"arguments\":\"{}\"},"
		 "{\"type\":\"function_call\",\"call_id\":\"c3\",\"name\":\"shell\",\"namespace\":"
		 "\"mcp__sh\",\"arguments\":\"{}\"}]}", longname);
	assert_true(run("POST", "/v1/responses", "api.openai.com", "{\"model\":\"m\",\"input\":\"x\"}",
			200, "application/json", NULL, NULL,
			(struct chunk[]){ { resp, 0, 10 } }, 1, NULL, 0));
	assert_int_equal(view.ncalls, 3);
	assert_string_equal(view.calls[0].name, "mcp__git__log");
	assert_null(event_attr("gen_ai.tool.call", 0, "spanprobe.tool.function_name"));
	assert_int_equal(strlen(view.calls[1].name), 8 + 152);	/* cut to 161 bytes, at a character */
	assert_memory_equal(view.calls[1].name, "mcp__a__\xc3\xa9", 10);
	assert_true(utf8_ok(view.calls[1].name));
	assert_null(event_attr("gen_ai.tool.call", 1, "spanprobe.tool.function_name"));
	/* the namespace after the name */
	assert_string_equal(view.calls[2].name, "mcp__sh__shell");
	assert_string_equal(event_attr("gen_ai.tool.call", 2, "spanprobe.tool.function_name"),
			    "shell");
	span_utf8_ok();
}

static int setup(void **state)
{
	res = sp_resource__new();
	snprintf(res->service_name, sizeof(res->service_name), "agent");
	return sp_prices_load(NULL);
}

static int teardown(void **state)
{
	sp_llm__free(cur);
	cur = NULL;
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
		cmocka_unit_test(test_garbage_requests_are_not_calls),
		cmocka_unit_test(test_mutated_stream_invents_nothing),
		cmocka_unit_test(test_nothing_guessed),
		cmocka_unit_test(test_no_content_and_limits),
		cmocka_unit_test(test_prices),
		cmocka_unit_test(test_prices_load_and_free),
		cmocka_unit_test(test_routes_and_registry),
		cmocka_unit_test(test_tables_are_per_api),
		cmocka_unit_test(test_gemini_array_stream_tool_calls),
		cmocka_unit_test(test_responses_stream),
		cmocka_unit_test(test_bad_record_does_not_end_stream),
		cmocka_unit_test(test_unknown_coding_ignores_body),
		cmocka_unit_test(test_long_fields_cut_at_characters),
		cmocka_unit_test(test_jwalk_paths_hashes_array_stream),
		cmocka_unit_test(test_openai_chat_tool_results),
		cmocka_unit_test(test_results_keep_the_last),
		cmocka_unit_test(test_responses_codex_tools),
		cmocka_unit_test(test_responses_cut_everywhere),
		cmocka_unit_test(test_anthropic_tool_results),
		cmocka_unit_test(test_anthropic_last_is_user),
		cmocka_unit_test(test_gemini_tool_results),
		cmocka_unit_test(test_ollama_tool_results),
		cmocka_unit_test(test_openai_stream_ttfc_reasoning),
		cmocka_unit_test(test_system_first_when_full),
		cmocka_unit_test(test_server_tools_are_not_the_agents),
		cmocka_unit_test(test_mutated_tool_requests),
		cmocka_unit_test(test_namespace_names),
	};

	return cmocka_run_group_tests_name("llm", tests, setup, teardown);
}
