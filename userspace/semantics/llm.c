// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * One LLM call, from its bodies: the request and the response are walked
 * as JSON paths (decode/jwalk.c), and each value is looked up in the
 * tables of the call's API (llm_<provider>.c) by the hash of its path.
 * Unknown fields are ignored, missing ones left out: nothing is guessed.
 * The response arrives decoded by decode/content.c and, when it streams,
 * framed by decode/sse.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "semantics/body_sub.h"
#include "semantics/llm_internal.h"
#include "semantics/prices.h"
#include "util/hash.h"

_Static_assert(LLM_MAX_TOOLS <= SP_TOOLS_MAX && LLM_MAX_RESULTS <= SP_TOOLS_MAX,
	       "the tool view holds every call and result kept");

/* key spaces for messages: system text, then the messages array */
#define KEY_SYSTEM	-2
#define KEY_PROMPT	-3

/* ---- small helpers ---- */

/* Back from n to the start of a UTF-8 character. */
static size_t char_boundary(const char *s, size_t n)
{
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

static void text_add(struct llm_text *t, uint32_t cap, const char *s, size_t n)
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
		n = char_boundary(s, cap - t->len);
		t->cut = true;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = 0;
}

void llm_copy(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		n = char_boundary(s, cap - 1);
	memcpy(dst, s, n);
	dst[n] = 0;
}

static int64_t num(const char *s, size_t n)
{
	char b[32];

	llm_copy(b, sizeof(b), s, n);
	return strtoll(b, NULL, 10);
}

static double dbl(const char *s, size_t n)
{
	char b[48];

	llm_copy(b, sizeof(b), s, n);
	return strtod(b, NULL);
}

/* ---- request ---- */

static struct llm_msg *msg_of(struct sp_llm *l, int key)
{
	for (int i = 0; i < l->nin; i++)
		if (l->in[i].key == key)
			return &l->in[i];
	return NULL;
}

static struct llm_msg *msg_at(struct sp_llm *l, int key)
{
	struct llm_msg *m;

	if (l->nin && l->in[l->nin - 1].key == key)
		return &l->in[l->nin - 1];
	if (l->nin == LLM_MAX_MSGS && key == KEY_SYSTEM && !msg_of(l, KEY_SYSTEM)) {
		/* the system prompt comes first whatever the JSON order, so
		 * it takes the place of the last message kept, and its parts */
		int gone = l->in[--l->nin].key, k = 0;

		free(l->in[l->nin].content.buf);
		l->in_dropped++;
		for (int i = 0; i < l->nparts; i++)
			if (l->parts[i].msg != gone)
				l->parts[k++] = l->parts[i];
		l->nparts = k;
	}
	if (l->nin == LLM_MAX_MSGS) {
		if (l->last_in_key != key)
			l->in_dropped++;	/* once per message */
		l->last_in_key = key;
		return NULL;
	}
	l->last_in_key = key;
	m = &l->in[l->nin++];
	memset(m, 0, sizeof(*m));
	m->key = key;
	return m;
}

/* The system prompt first among the input messages (Responses
 * "instructions", Anthropic "system", Gemini "systemInstruction" may come
 * after the messages). */
static void system_first(struct sp_llm *l)
{
	for (int i = 1; i < l->nin; i++) {
		if (l->in[i].key != KEY_SYSTEM)
			continue;
		struct llm_msg sys = l->in[i];

		memmove(&l->in[1], &l->in[0], i * sizeof(l->in[0]));
		l->in[0] = sys;
		return;
	}
}

/* Which message the request is in now: the last one decides last_is_user. */
static void last_at(struct sp_llm *l, int key)
{
	if (key == l->last_key)
		return;
	l->last_key = key;
	l->last_role = -1;
	l->last_typed = l->last_result = l->last_other = false;
}

static bool is(const char *s, size_t n, const char *want)
{
	return strlen(want) == n && !memcmp(s, want, n);
}

static void in_role(struct sp_llm *l, int key, const char *s, size_t n)
{
	struct llm_msg *m = msg_at(l, key);

	if (m)
		llm_copy(m->role, sizeof(m->role), s, n);
	l->last_role = is(s, n, "user");
}

static void in_text(struct sp_llm *l, int key, const char *role, const char *s, size_t n)
{
	struct llm_msg *m = msg_at(l, key);

	if (!m)
		return;
	if (role && !m->role[0])
		llm_copy(m->role, sizeof(m->role), role, strlen(role));
	m->text_hash = sp_fnv1a(m->text_hash ? m->text_hash : SP_FNV_OFFSET, s, n);
	m->text |= n > 0;
	if (l->o.content)
		text_add(&m->content, l->o.content_max, s, n);
}

/* "{namespace}__{name}" (Claude Code's "mcp__{server}__{tool}"), or name;
 * cut to cap at a character. */
static void full_name(char *out, size_t cap, const char *ns, const char *name)
{
	char full[LLM_NS_MAX + 2 + LLM_FULL_NAME_MAX];
	size_t k = strlen(ns);
	int n;

	if (!k || (!strncmp(name, ns, k) && !strncmp(name + k, "__", 2)))
		n = snprintf(full, sizeof(full), "%s", name);
	else
		n = snprintf(full, sizeof(full), "%s__%s", ns, name);
	llm_copy(out, cap, full, n < (int)sizeof(full) ? (size_t)n : sizeof(full) - 1);
}

/* The item ended: a tool result goes to the results (the last ones kept);
 * a call or result is a part of its message, if that is kept, and when
 * it is the message, the message is the call or the result. */
static void item_end(struct sp_llm *l)
{
	bool whole = l->item.key == l->item.msg * 4096;
	struct llm_msg *m;
	struct llm_result *r;
	struct llm_part *p;

	if (l->item.key < 0 || l->item.kind == LM_TEXT)
		goto out;
	if (l->item.kind == LM_TOOL_RESULT) {
		if (l->item.msg == l->last_key)
			l->last_result = true;
		if (l->nresults == LLM_MAX_RESULTS) {
			/* the oldest goes: it answered a call long done */
			r = &l->results[l->results_at];
			l->results_at = (l->results_at + 1) % LLM_MAX_RESULTS;
			l->results_dropped++;
		} else {
			r = &l->results[(l->results_at + l->nresults++) % LLM_MAX_RESULTS];
		}
		r->key = l->item.key;
		r->is_error = l->item.is_error;
		snprintf(r->id, sizeof(r->id), "%s", l->item.id);
		snprintf(r->name, sizeof(r->name), "%s", l->item.name);
	}
	/* the message may be before a system prompt that came after it */
	m = msg_of(l, l->item.msg);
	if (!m && !(m = msg_at(l, l->item.msg)))
		goto out;
	if (whole) {
		m->tool = l->item.kind;
		if (!m->role[0])
			snprintf(m->role, sizeof(m->role), "%s",
				 m->tool == LM_TOOL_CALL ? "assistant" : "tool");
	}
	/* most calls have none: the table is made for the first */
	if (!l->parts)
		l->parts = malloc(LLM_MAX_PARTS * sizeof(l->parts[0]));
	if (!l->parts || l->nparts == LLM_MAX_PARTS) {
		l->parts_dropped++;
		goto out;
	}
	p = &l->parts[l->nparts++];
	p->msg = l->item.msg;
	p->kind = l->item.kind;
	snprintf(p->id, sizeof(p->id), "%s", l->item.id);
	full_name(p->name, sizeof(p->name), l->item.ns, l->item.name);
out:
	memset(&l->item, 0, sizeof(l->item));
	l->item.key = -1;
}

/* The item a value is in: message [i], or part [j] of it. */
static void item_at(struct sp_llm *l, const struct jwalk *w, const struct llm_path *e)
{
	/* a million messages share a key, harmlessly: no overflow */
	int msg = jw_index(w, 0) & 0xfffff;
	int key = msg * 4096 + (e->key == LK_ARRAY01 ? jw_index(w, 1) % 4095 + 1 : 0);

	if (key == l->item.key)
		return;
	item_end(l);
	l->item.key = key;
	l->item.msg = msg;
}

/* Responses items and Anthropic blocks by type: calls and results; an
 * item not a message is not the user's. */
static void in_type(struct sp_llm *l, const char *s, size_t n)
{
	if (l->item.key == l->item.msg * 4096 && !is(s, n, "message"))
		l->last_typed = true;
	if (is(s, n, "function_call") || is(s, n, "custom_tool_call") || is(s, n, "tool_use"))
		l->item.kind = LM_TOOL_CALL;
	else if (is(s, n, "function_call_output") || is(s, n, "custom_tool_call_output") ||
		 is(s, n, "tool_result"))
		l->item.kind = LM_TOOL_RESULT;
}

static bool is_item_field(int f)
{
	return f == LF_IN_ROLE || f == LF_IN_TEXT || (f >= LF_IN_TYPE && f <= LF_RESULT_ERROR_ANY);
}

static void req_value(void *ctx, struct jwalk *w, const char *p, int type, const char *s,
		      size_t n)
{
	struct sp_llm *l = ctx;
	const struct llm_path *e = llm_find(&l->reg->req, w->hash, p);

	if (!e)
		return;
	if (is_item_field(e->field)) {
		item_at(l, w, e);
		last_at(l, l->item.msg);
	}
	switch (e->field) {
	case LF_MAX_TOKENS:
		if (type == JW_NUM) {
			l->max_tokens = num(s, n);
			l->has_max_tokens = true;
		}
		return;
	case LF_TEMPERATURE:
		if (type == JW_NUM) {
			l->temperature = dbl(s, n);
			l->has_temperature = true;
		}
		return;
	case LF_TOP_P:
		if (type == JW_NUM) {
			l->top_p = dbl(s, n);
			l->has_top_p = true;
		}
		return;
	case LF_STREAM:
		if (type == JW_BOOL)
			l->stream = s[0] == 't';
		return;
	case LF_RESULT_ERROR:
		if (type == JW_BOOL)
			l->item.is_error = s[0] == 't';
		return;
	case LF_RESULT_ERROR_ANY:
		l->item.is_error = type != JW_NULL;
		return;
	default:
		break;
	}
	if (type != JW_STR)
		return;
	switch (e->field) {
	case LF_MODEL:
		s = sp_model_name(s, &n);
		llm_copy(l->req_model, sizeof(l->req_model), s, n);
		break;
	case LF_IN_ROLE:
		in_role(l, l->item.msg, s, n);
		if (is(s, n, "tool"))
			l->item.kind = LM_TOOL_RESULT;
		break;
	case LF_IN_TEXT:
		in_text(l, l->item.msg, NULL, s, n);
		l->last_other |= n > 0;
		break;
	case LF_IN_TYPE:
		in_type(l, s, n);
		break;
	case LF_CALL_ID:
	case LF_RESULT_ID:
		l->item.kind = e->field == LF_CALL_ID ? LM_TOOL_CALL : LM_TOOL_RESULT;
		/* fall through */
	case LF_IN_CALL_ID:
		llm_copy(l->item.id, sizeof(l->item.id), s, n);
		break;
	case LF_CALL_NAME:
	case LF_RESULT_NAME:
		l->item.kind = e->field == LF_CALL_NAME ? LM_TOOL_CALL : LM_TOOL_RESULT;
		/* fall through */
	case LF_IN_CALL_NAME:
		llm_copy(l->item.name, sizeof(l->item.name), s, n);
		break;
	case LF_IN_CALL_NS:
		llm_copy(l->item.ns, sizeof(l->item.ns), s, n);
		break;
	case LF_SYSTEM:
		in_text(l, KEY_SYSTEM, "system", s, n);
		break;
	case LF_PROMPT:
		in_text(l, KEY_PROMPT, "user", s, n);
		last_at(l, KEY_PROMPT);
		l->last_role = 1;
		l->last_other = true;
		break;
	default:
		return;
	}
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

static struct llm_tool *tool_at(struct sp_llm *l, int key)
{
	for (int i = 0; i < l->ntools; i++)
		if (l->tools[i].key == key)
			return &l->tools[i];
	if (l->ntools == LLM_MAX_TOOLS) {
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
	return l->kind != LLM_BODY_JSON || l->reg->api->stream_body;
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

static int tool_key(const struct sp_llm *l, const struct jwalk *w, int key)
{
	switch (key) {
	case LK_ARRAY1:
		return jw_index(w, 1);
	case LK_DELTA:
		return l->cur_tool;
	case LK_RECORD:
		return l->rec_index;
	case LK_RECORD_ARRAY0:
		return (int)(w->records * 100 + jw_index(w, 0));
	case LK_RECORD_ARRAY1:
		return (int)(w->records * 100 + jw_index(w, 1));
	default:
		return jw_index(w, 0);
	}
}

/* Tools the provider runs itself (Anthropic server tools, its MCP
 * connector; Responses MCP calls): the agent gets no call to answer. */
static bool server_tool(const char *s, size_t n)
{
	return is(s, n, "server_tool_use") || is(s, n, "mcp_tool_use") || is(s, n, "mcp_call");
}

static void tool_field(struct sp_llm *l, const struct jwalk *w, const struct llm_path *e,
		       const char *s, size_t n)
{
	struct llm_tool *t;

	/* the type of every block: only these make it a tool (text
	 * blocks, dozens with citations, take no place) */
	if (e->field == LF_TOOL_TYPE && !server_tool(s, n))
		return;
	t = tool_at(l, tool_key(l, w, e->key));
	if (!t)
		return;
	if (n)
		first_chunk(l);
	switch (e->field) {
	case LF_TOOL_ID:
		llm_copy(t->id, sizeof(t->id), s, n);
		break;
	case LF_TOOL_NAME:
		llm_copy(t->name, sizeof(t->name), s, n);
		break;
	case LF_TOOL_NS:
		llm_copy(t->ns, sizeof(t->ns), s, n);
		break;
	case LF_TOOL_TYPE:
		t->server = true;
		break;
	case LF_TOOL_ARGS_FULL:
		/* the whole again (an item done, the response completed):
		 * it replaces the pieces streamed before */
		t->args.len = 0;
		t->args.cut = false;
		/* fall through */
	default:
		text_add(&t->args, LLM_TOOL_ARGS_MAX, s, n);
	}
}

static void add_finish(struct sp_llm *l, const char *s, size_t n)
{
	if (!n || l->nfinish == LLM_MAX_FINISH)
		return;
	/* a stream repeats it in chunk after chunk: once each */
	for (int i = 0; i < l->nfinish; i++)
		if (strlen(l->finish[i]) == n && !memcmp(l->finish[i], s, n))
			return;
	llm_copy(l->finish[l->nfinish++], sizeof(l->finish[0]), s, n);
}

static int64_t *counter(struct sp_llm *l, int field)
{
	switch (field) {
	case LF_IN_TOKENS:
		return &l->in_tok;
	case LF_OUT_TOKENS:
		return &l->out_tok;
	case LF_TOTAL_TOKENS:
		return &l->total_tok;
	case LF_CACHE_READ:
		return &l->cache_read;
	case LF_CACHE_WRITE:
		return &l->cache_write;
	case LF_REASONING:
		return &l->reasoning;
	default:
		return NULL;
	}
}

static void resp_value(void *ctx, struct jwalk *w, const char *p, int type, const char *s,
		       size_t n)
{
	struct sp_llm *l = ctx;
	const struct llm_path *e = llm_find_in(&l->reg->resp, w->hash, p, l->rec_type);
	int64_t *c;

	if (!e)
		return;
	if (type == JW_NUM) {
		if ((c = counter(l, e->field)))
			*c = num(s, n);	/* the last value wins: streams repeat it */
		else if (e->field == LF_REC_INDEX)
			l->rec_index = (int)num(s, n);
		else if (e->field == LF_TOOL_INDEX)
			l->cur_tool = (int)num(s, n);
		return;
	}
	if (type != JW_STR)
		return;
	switch (e->field) {
	case LF_REC_TYPE:
		llm_copy(l->rec_type, sizeof(l->rec_type), s, n);
		break;
	case LF_ID_FIRST:
		if (l->resp_id[0])
			break;
		/* fall through */
	case LF_ID:
		llm_copy(l->resp_id, sizeof(l->resp_id), s, n);
		break;
	case LF_RESP_MODEL:
		s = sp_model_name(s, &n);
		llm_copy(l->resp_model, sizeof(l->resp_model), s, n);
		break;
	case LF_ERR_CODE:
		if (l->err_type[0])
			break;
		/* fall through */
	case LF_ERR_TYPE:
		llm_copy(l->err_type, sizeof(l->err_type), s, n);
		break;
	case LF_ERR_MSG:
		llm_copy(l->err_msg, sizeof(l->err_msg), s, n);
		break;
	case LF_STATUS:
		if (is(s, n, "in_progress") || is(s, n, "queued"))
			break;
		/* fall through */
	case LF_FINISH:
		add_finish(l, s, n);
		break;
	case LF_OUT_ROLE:
		llm_copy(l->out_role, sizeof(l->out_role), s, n);
		break;
	case LF_OUT_TEXT:
		out_text(l, s, n);
		break;
	case LF_OUT_MARK:
		if (n)
			first_chunk(l);
		break;
	case LF_TOOL_ID:
	case LF_TOOL_NAME:
	case LF_TOOL_NS:
	case LF_TOOL_TYPE:
	case LF_TOOL_ARGS:
	case LF_TOOL_ARGS_FULL:
		tool_field(l, w, e, s, n);
		break;
	}
}

/* Tool arguments that are JSON objects, not strings */
static bool resp_want_raw(void *ctx, const char *path)
{
	struct sp_llm *l = ctx;
	const struct llm_path *e = llm_find_in(&l->reg->resp, l->resp.hash, path, l->rec_type);

	return e && e->field == LF_TOOL_ARGS_JSON;
}

static void resp_raw(void *ctx, struct jwalk *w, const char *path, const char *json, size_t n)
{
	struct sp_llm *l = ctx;
	const struct llm_path *e = llm_find_in(&l->reg->resp, w->hash, path, l->rec_type);

	if (e && e->field == LF_TOOL_ARGS_JSON)
		tool_field(l, w, e, json, n);
}

static void resp_record(void *ctx, struct jwalk *w)
{
	struct sp_llm *l = ctx;

	l->rec_type[0] = 0;
	l->rec_index = -1;	/* a record without one is not the last one's */
}

static int resp_walk(struct sp_llm *l)
{
	int err = jw_init(&l->resp, resp_value, resp_record, resp_want_raw, resp_raw, l);

	/* Gemini's stream without alt=sse is one JSON array of responses */
	if (!err)
		jw_array_stream(&l->resp);
	return err;
}

/* A data line of SSE, a line of NDJSON: JSON values, one after another. */
static void on_line(void *ctx, enum sp_sse_field f, const char *s, size_t n)
{
	struct sp_llm *l = ctx;

	if (f != SP_SSE_DATA || is(s, n, "[DONE]"))
		return;
	if (l->resp.failed) {
		/* one bad event does not end the stream */
		jw_free(&l->resp);
		l->resp_init = !resp_walk(l);
		if (!l->resp_init)
			return;
	}
	jw_feed(&l->resp, s, n);
	jw_feed(&l->resp, "\n", 1);
}

/* Decoded body bytes: JSON as it is, SSE and NDJSON a line at a time. */
static void on_decoded(void *ctx, const char *buf, size_t len)
{
	struct sp_llm *l = ctx;

	if (l->lines)
		sp_sse__feed(l->lines, buf, len);
	else if (l->resp_init)
		jw_feed(&l->resp, buf, len);
}

static bool has_token(const char *s, size_t n, const char *tok)
{
	size_t k = strlen(tok);

	for (size_t i = 0; i + k <= n; i++)
		if (!strncasecmp(s + i, tok, k))
			return true;
	return false;
}

static void response_end(struct sp_llm *l)
{
	sp_content__free(l->dec);
	sp_sse__free(l->lines);
	if (l->resp_init)
		jw_free(&l->resp);
	l->dec = NULL;
	l->lines = NULL;
	l->resp_init = false;
}

void sp_llm__response_head(struct sp_llm *l, uint16_t status, const char *ctype, size_t ctype_len,
			   const char *cenc, size_t cenc_len, const char *retry_after, size_t ra_len)
{
	response_end(l);	/* a second head replaces the first */
	l->status = status;
	if (ctype && has_token(ctype, ctype_len, "text/event-stream"))
		l->kind = LLM_BODY_SSE;
	else if (ctype && (has_token(ctype, ctype_len, "ndjson") ||
			   has_token(ctype, ctype_len, "jsonl")))
		l->kind = LLM_BODY_NDJSON;
	else
		l->kind = LLM_BODY_JSON;
	if (retry_after && ra_len)
		llm_copy(l->retry_after, sizeof(l->retry_after), retry_after, ra_len);
	l->resp_init = !resp_walk(l);
	if (!l->resp_init)
		return;
	if (l->kind != LLM_BODY_JSON) {
		l->lines = sp_sse__new(l->kind == LLM_BODY_SSE ? SP_SSE_EVENTS : SP_SSE_NDJSON,
				       LLM_SSE_LINE_MAX, on_line, l);
		if (!l->lines)
			return;
	}
	/* a coding not decoded (or none decodable): the body is not read */
	l->dec = sp_content__new(cenc, cenc_len, SP_CONTENT_MAX_DEFAULT, on_decoded, l);
}

void sp_llm__response_body(struct sp_llm *l, const char *buf, size_t len, uint64_t ts)
{
	if (!l->dec)
		return;
	l->cur_ts = ts;
	sp_content__feed(l->dec, buf, len);
}

void llm_finish(struct sp_llm *l)
{
	if (l->finished)
		return;
	l->finished = true;
	jw_finish(&l->req);
	item_end(l);
	system_first(l);
	for (int i = 0; i < l->ntools; i++) {
		struct llm_tool *t = &l->tools[i];
		char full[LLM_FULL_NAME_MAX];
		size_t k = strlen(t->ns), whole = strlen(t->name) + k + 2;

		full_name(full, sizeof(full), t->ns, t->name);
		/* the API's name follows "{ns}__", unless none was put or it was cut */
		t->bare = strlen(full) == whole ? k + 2 : 0;
		memcpy(t->name, full, sizeof(full));
	}
	if (l->lines)
		sp_sse__finish(l->lines);
	if (l->resp_init)
		jw_finish(&l->resp);
}

/* ---- life cycle ---- */

struct sp_llm *sp_llm__new(enum sp_llm_api api, const char *host, const char *path_model,
			   const struct sp_llm_opts *o)
{
	const struct llm_reg *reg = llm_reg_of(api);
	struct sp_llm *l;

	if (!reg) {
		errno = EINVAL;
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->reg = reg;
	l->o = *o;
	l->stream = -1;
	l->in_tok = l->out_tok = l->total_tok = l->cache_read = l->cache_write = l->reasoning = -1;
	l->last_in_key = -100;
	l->last_key = -100;
	l->last_role = -1;
	l->item.key = -1;
	snprintf(l->host, sizeof(l->host), "%s", host ? host : "");
	if (path_model && *path_model)
		snprintf(l->req_model, sizeof(l->req_model), "%s", path_model);
	if (jw_init(&l->req, req_value, NULL, NULL, NULL, l)) {
		free(l);
		errno = ENOMEM;
		return NULL;
	}
	return l;
}

void sp_llm__free(struct sp_llm *l)
{
	if (!l)
		return;
	jw_free(&l->req);
	response_end(l);
	for (int i = 0; i < l->nin; i++)
		free(l->in[i].content.buf);
	for (int i = 0; i < l->ntools; i++)
		free(l->tools[i].args.buf);
	free(l->out.buf);
	free(l->input_value.buf);
	free(l->parts);
	free(l);
}

bool sp_llm__is_llm(struct sp_llm *l)
{
	return l->req_shape;
}

/* The last input message is the user's own, not a tool result: its role
 * is "user" (or not said, in an API where it may go unsaid: Gemini), and
 * it is not only tool results (Anthropic tool_result blocks, Gemini
 * functionResponse parts). What an embedding call embeds is no message:
 * an agent's retrieval starts no turn. */
bool llm_last_is_user(const struct sp_llm *l)
{
	bool user = l->last_role == 1 || (l->last_role < 0 && !l->last_typed && l->last_key != -100);

	return user && !(l->last_result && !l->last_other) && !l->reg->api->embedding;
}

void sp_llm__tools(struct sp_llm *l, struct sp_tool_view *out)
{
	memset(out, 0, sizeof(*out));
	llm_finish(l);
	for (int i = 0; i < l->ntools && out->ncalls < SP_TOOLS_MAX; i++) {
		const struct llm_tool *t = &l->tools[i];
		struct sp_tool_ref *c = &out->calls[out->ncalls];

		if ((!t->name[0] && !t->id[0]) || t->server)
			continue;
		c->id = t->id;
		c->name = t->name;
		c->args = t->args.buf ? t->args.buf : "";
		c->args_len = t->args.len;
		c->args_cut = t->args.cut;
		c->ts = t->ts;
		out->ncalls++;
	}
	for (int i = 0; i < l->nresults && out->nresults < SP_TOOLS_MAX; i++) {
		const struct llm_result *lr = &l->results[(l->results_at + i) % LLM_MAX_RESULTS];
		struct sp_tool_ref *r = &out->results[out->nresults++];

		r->id = lr->id;
		r->name = lr->name;
		r->is_error = lr->is_error;
	}
	out->last_is_user = llm_last_is_user(l);
	out->messages = l->nin + l->in_dropped;
	out->conversation = llm_conversation(l);
}

/*
 * A conversation's name that stays the same from one turn to the next: its
 * system prompt and first user message (a stateless API resends them every
 * time), hashed; 0 without a user message.
 */
uint64_t llm_conversation(const struct sp_llm *l)
{
	uint64_t h, sys = 0, user = 0;

	for (int i = 0; i < l->nin; i++) {
		const struct llm_msg *m = &l->in[i];

		if (!strcmp(m->role, "system") || !strcmp(m->role, "developer"))
			sys ^= m->text_hash;
		else if (!user && !strcmp(m->role, "user") && m->text_hash)
			user = m->text_hash;
	}
	if (!user)
		return 0;
	h = sp_fnv1a(SP_FNV_OFFSET, &sys, sizeof(sys));
	h = sp_fnv1a(h, &user, sizeof(user));
	return h ? h : 1;
}
