// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * An LLM call as span attributes: OTel GenAI and OpenInference (names as
 * /work/shared/CONVENTIONS.md lists them), tool-call events, the status of
 * a provider error, and cost from the price table only.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <yajl/yajl_gen.h>
#include "util/clock.h"
#include "semantics/llm_internal.h"
#include "semantics/prices.h"

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
	size_t hl;

	llm_copy(host, sizeof(host), l->host, strcspn(l->host, ":"));
	hl = strlen(host);
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		size_t kl = strlen(hosts[i].host);

		if (hl >= kl && !strcasecmp(host + hl - kl, hosts[i].host) &&
		    (hl == kl || hosts[i].host[0] == '.' || host[hl - kl - 1] == '.')) {
			*otel = hosts[i].otel;
			*oi = hosts[i].oi;
			return;
		}
	}
	*otel = l->reg->prov->otel;
	*oi = l->reg->prov->oi;
}

static const char *model_of(const struct sp_llm *l)
{
	return l->resp_model[0] ? l->resp_model : l->req_model;
}

void sp_llm__span_name(struct sp_llm *l, char *out, size_t cap)
{
	const char *m = model_of(l);

	snprintf(out, cap, "%s%s%s", l->reg->api->operation, *m ? " " : "", m);
}

static void set_text(struct sp_span *s, const char *key, const struct llm_text *t)
{
	if (t->buf)
		sp_span__set_str(s, key, t->buf, t->len);
}

static void set_cstr(struct sp_span *s, const char *key, const char *v)
{
	sp_span__set_str(s, key, v, strlen(v));
}

/* A count, if the body had it (-1: not said). */
static void set_count(struct sp_span *s, const char *key, int64_t v)
{
	if (v >= 0)
		sp_span__set_int(s, key, v);
}

/* "llm.input_messages.3.message.role": a key made for this span */
__attribute__((format(printf, 2, 3)))
static const char *dyn_key(struct sp_span *s, const char *fmt, ...)
{
	char k[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(k, sizeof(k), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(k))
		return NULL;
	return sp_span__strdup(s, k, n);
}

static void event_str(struct sp_event *e, const char *key, const char *v)
{
	if (e->nattrs < SP_EVENT_MAX_ATTRS && v)
		e->attrs[e->nattrs++] = (struct sp_attr){ .key = key, .type = SP_ATTR_STR, .s = v };
}

/* OTel GenAI: the request, the response, usage, time to first chunk. */
static void fill_genai(struct sp_llm *l, struct sp_span *s, const char *prov, int64_t in,
		       int64_t out)
{
	const struct llm_api *api = l->reg->api;

	set_cstr(s, "gen_ai.operation.name", api->operation);
	set_cstr(s, "gen_ai.provider.name", prov);
	if (l->req_model[0])
		set_cstr(s, "gen_ai.request.model", l->req_model);
	if (l->has_max_tokens)
		sp_span__set_int(s, "gen_ai.request.max_tokens", l->max_tokens);
	if (l->has_temperature)
		sp_span__set_double(s, "gen_ai.request.temperature", l->temperature);
	if (l->has_top_p)
		sp_span__set_double(s, "gen_ai.request.top_p", l->top_p);
	/* Ollama streams unless told not to; Gemini by endpoint */
	if (!api->embedding)
		sp_span__set_bool(s, "gen_ai.request.stream",
				  l->stream >= 0 ? l->stream : api->stream_default);
	if (l->resp_model[0])
		set_cstr(s, "gen_ai.response.model", l->resp_model);
	if (l->resp_id[0])
		set_cstr(s, "gen_ai.response.id", l->resp_id);
	if (l->nfinish) {
		const char *f[LLM_MAX_FINISH];

		for (int i = 0; i < l->nfinish; i++)
			f[i] = l->finish[i];
		sp_span__set_str_array(s, "gen_ai.response.finish_reasons", f, l->nfinish);
	}
	set_count(s, "gen_ai.usage.input_tokens", in);
	set_count(s, "gen_ai.usage.output_tokens", out);
	set_count(s, "gen_ai.usage.cache_read.input_tokens", l->cache_read);
	set_count(s, "gen_ai.usage.cache_creation.input_tokens", l->cache_write);
	set_count(s, "gen_ai.usage.reasoning.output_tokens", l->reasoning);
	if (l->first_chunk_ts) {
		uint64_t t = sp_clock_to_unix(l->first_chunk_ts);
		double ttfc = t > s->start_ns ? (t - s->start_ns) / 1e9 : 0;

		sp_span__set_double(s, "gen_ai.response.time_to_first_chunk", ttfc);
		sp_span__add_event(s, "gen_ai.content.first_chunk", t);
	}
}

/* OpenInference: kind, model, provider, token counts, parameters. */
static void fill_openinference(struct sp_llm *l, struct sp_span *s, const char *prov, int64_t in,
			       int64_t out, int64_t total)
{
	bool embed = l->reg->api->embedding;
	const char *model = model_of(l);
	char params[256];
	int pn;

	set_cstr(s, "openinference.span.kind", embed ? "EMBEDDING" : "LLM");
	if (*model) {
		set_cstr(s, "llm.model_name", model);
		if (embed)
			set_cstr(s, "embedding.model_name", model);
	}
	set_cstr(s, "llm.provider", prov);
	set_count(s, "llm.token_count.prompt", in);
	set_count(s, "llm.token_count.completion", out);
	set_count(s, "llm.token_count.total", total);
	set_count(s, "llm.token_count.prompt_details.cache_read", l->cache_read);
	set_count(s, "llm.token_count.prompt_details.cache_write", l->cache_write);
	set_count(s, "llm.token_count.completion_details.reasoning", l->reasoning);
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
	set_cstr(s, "llm.invocation_parameters", params);
}

/* The tool calls the model asks for: an event each. */
static void fill_tools(struct sp_llm *l, struct sp_span *s)
{
	for (int i = 0; i < l->ntools; i++) {
		struct llm_tool *t = &l->tools[i];
		struct sp_event *e;
		const char *k;

		if (!t->name[0] && !t->id[0])
			continue;
		e = sp_span__add_event(s, "gen_ai.tool.call", sp_clock_to_unix(t->ts));
		if (!e)
			break;
		/* the name the agent knows the tool by: "{namespace}__{name}" */
		event_str(e, "gen_ai.tool.name", sp_span__strdup(s, t->name, strlen(t->name)));
		if (t->bare) {
			const char *b = t->name + t->bare;

			event_str(e, "spanprobe.tool.namespace", sp_span__strdup(s, t->ns, strlen(t->ns)));
			event_str(e, "spanprobe.tool.function_name", sp_span__strdup(s, b, strlen(b)));
		}
		if (t->id[0])
			event_str(e, "gen_ai.tool.call.id", sp_span__strdup(s, t->id, strlen(t->id)));
		if (t->server)
			event_str(e, "spanprobe.tool.executed_by", "provider");
		if (t->args.buf)
			event_str(e, "gen_ai.tool.call.arguments",
				  sp_span__strdup(s, t->args.buf, t->args.len));
		k = dyn_key(s, "llm.output_messages.0.message.tool_calls.%d.tool_call.function.name", i);
		if (k)
			set_cstr(s, k, t->name);
		k = dyn_key(s, "llm.output_messages.0.message.tool_calls.%d.tool_call.id", i);
		if (k && t->id[0])
			set_cstr(s, k, t->id);
	}
	if (l->tools_dropped)
		sp_span__set_int(s, "spanprobe.llm.tool_calls_dropped", l->tools_dropped);
	if (l->results_dropped)
		sp_span__set_int(s, "spanprobe.llm.tool_results_dropped", l->results_dropped);
}

/* Cost, from the price table only. */
static void fill_cost(struct sp_llm *l, struct sp_span *s, int64_t in, int64_t out)
{
	const char *model = model_of(l);
	struct sp_price price;
	double cp, cc;

	if (!*model || !sp_prices_lookup(model, &price) || (in < 0 && out < 0))
		return;
	cp = in > 0 ? in * price.input / 1e6 : 0;
	cc = out > 0 ? out * price.output / 1e6 : 0;
	sp_span__set_double(s, "llm.cost.prompt", cp);
	sp_span__set_double(s, "llm.cost.completion", cc);
	sp_span__set_double(s, "llm.cost.total", cp + cc);
}

/* Provider errors: the HTTP status, or an error in a 200 body. */
static void fill_error(struct sp_llm *l, struct sp_span *s)
{
	char code[8];
	const char *type = l->err_type;

	if (l->retry_after[0]) {
		const char *v[1] = { l->retry_after };

		sp_span__set_str_array(s, "http.response.header.retry-after", v, 1);
	}
	if (l->status < 400 && !l->err_type[0])
		return;
	if (!*type) {
		snprintf(code, sizeof(code), "%u", l->status);
		type = code;
	}
	set_cstr(s, "error.type", type);
	sp_span__set_status(s, SP_STATUS_ERROR, l->err_msg[0] ? l->err_msg : NULL);
}

static void gen_str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

/* One message as OTel GenAI writes it, {role, parts: [{type, ...}]}:
 * its text (if it had any: the text itself is in llm.input_messages.N,
 * the one copy the span keeps), then its tool calls and results. */
static void gen_msg(yajl_gen g, const struct sp_llm *l, const struct llm_msg *m)
{
	yajl_gen_map_open(g);
	gen_str(g, "role");
	gen_str(g, m->role[0] ? m->role : "user");
	gen_str(g, "parts");
	yajl_gen_array_open(g);
	if (m->text && m->tool == LM_TEXT) {
		yajl_gen_map_open(g);
		gen_str(g, "type");
		gen_str(g, "text");
		yajl_gen_map_close(g);
	}
	for (int i = 0; i < l->nparts; i++) {
		const struct llm_part *p = &l->parts[i];

		if (p->msg != m->key)
			continue;
		yajl_gen_map_open(g);
		gen_str(g, "type");
		gen_str(g, p->kind == LM_TOOL_CALL ? "tool_call" : "tool_call_response");
		gen_str(g, "id");
		gen_str(g, p->id);
		if (p->kind == LM_TOOL_CALL) {
			gen_str(g, "name");
			gen_str(g, p->name);
		}
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
}

/* gen_ai.input.messages: the conversation's shape, if the span has room. */
static void fill_genai_messages(struct sp_llm *l, struct sp_span *s)
{
	yajl_gen g;
	const unsigned char *buf;
	size_t len;

	if (!l->nin || !(g = yajl_gen_alloc(NULL)))
		return;
	yajl_gen_array_open(g);
	for (int i = 0; i < l->nin; i++)
		gen_msg(g, l, &l->in[i]);
	yajl_gen_array_close(g);
	if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok &&
	    sp_span__arena_left(s) > len + 256)
		sp_span__set_str(s, "gen_ai.input.messages", (const char *)buf, len);
	yajl_gen_free(g);
}

/* Input message i, OpenInference: its tool calls' ids and names (their
 * arguments are content), the call id its (first) result answers. */
static void fill_msg_tools(struct sp_llm *l, struct sp_span *s, int i)
{
	const char *k;
	bool result = false;
	int c = 0;

	for (int p = 0; p < l->nparts; p++) {
		const struct llm_part *t = &l->parts[p];

		if (t->msg != l->in[i].key)
			continue;
		if (t->kind == LM_TOOL_CALL) {
			k = dyn_key(s, "llm.input_messages.%d.message.tool_calls.%d.tool_call.id", i, c);
			if (k && t->id[0])
				set_cstr(s, k, t->id);
			k = dyn_key(s, "llm.input_messages.%d.message.tool_calls.%d.tool_call.function.name",
				    i, c);
			if (k && t->name[0])
				set_cstr(s, k, t->name);
			c++;
		} else if (!result && t->id[0]) {
			k = dyn_key(s, "llm.input_messages.%d.message.tool_call_id", i);
			if (k)
				set_cstr(s, k, t->id);
			result = true;
		}
	}
}

/* Content last, most useful first, within the room the span has: the
 * completion (one copy for both attributes), the roles, the raw request,
 * then each input message while it fits. None with --no-content, except
 * roles, tool ids and names (gen_ai.input.messages): they are not content. */
static void fill_content(struct sp_llm *l, struct sp_span *s)
{
	int left = 0;

	if (l->out.buf || l->ntools || l->out_role[0]) {
		set_cstr(s, "llm.output_messages.0.message.role",
			 l->out_role[0] ? l->out_role : "assistant");
		if (l->o.content && l->out.buf) {
			const char *o = sp_span__strdup(s, l->out.buf, l->out.len);

			sp_span__set_arena_str(s, "output.value", o);
			sp_span__set_arena_str(s, "llm.output_messages.0.message.content", o);
			sp_span__set_str(s, "output.mime_type", "text/plain", 10);
		}
	}
	for (int i = 0; i < l->nin; i++) {
		const char *k = dyn_key(s, "llm.input_messages.%d.message.role", i);

		if (k)
			set_cstr(s, k, l->in[i].role[0] ? l->in[i].role : "user");
		fill_msg_tools(l, s, i);
	}
	fill_genai_messages(l, s);
	if (l->in_dropped)
		sp_span__set_int(s, "spanprobe.llm.input_messages_dropped", l->in_dropped);
	if (l->parts_dropped)
		sp_span__set_int(s, "spanprobe.llm.input_tool_parts_dropped", l->parts_dropped);
	if (!l->o.content)
		return;
	if (l->input_value.buf) {
		set_text(s, "input.value", &l->input_value);
		sp_span__set_str(s, "input.mime_type", "application/json", 16);
	}
	for (int i = 0; i < l->nin; i++) {
		const char *k;

		if (!l->in[i].content.buf)
			continue;
		/* the span is bounded: once one does not fit, the rest are
		 * left out, and counted */
		if (left || sp_span__arena_left(s) < l->in[i].content.len + 512) {
			left++;
			continue;
		}
		k = dyn_key(s, l->in[i].tool == LM_TOOL_CALL ?
			    "llm.input_messages.%d.message.tool_calls.0.tool_call.function.arguments" :
			    "llm.input_messages.%d.message.content", i);
		if (k)
			set_text(s, k, &l->in[i].content);
	}
	if (left)
		sp_span__set_int(s, "spanprobe.llm.input_messages_without_content", left);
}

void sp_llm__fill(struct sp_llm *l, struct sp_span *s)
{
	const char *otel, *oi;
	int64_t in, out, total;

	llm_finish(l);	/* first: the last values may come out of it */
	in = l->in_tok;
	out = l->out_tok;
	total = l->total_tok;
	provider(l, &otel, &oi);
	if (total < 0 && in >= 0 && out >= 0)
		total = in + out;
	fill_genai(l, s, otel, in, out);
	fill_openinference(l, s, oi, in, out, total);
	fill_tools(l, s);
	fill_cost(l, s, in, out);
	fill_error(l, s);
	fill_content(l, s);
}
