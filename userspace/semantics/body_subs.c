// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The body consumers, in the order they are asked: one line each. */
#include <stdio.h>
#include <string.h>
#include "decode/jsonrpc.h"
#include "semantics/body_sub.h"
#include "semantics/mcp_span.h"

/* ---- LLM API calls (semantics/llm*.c) ---- */

static void *llm_open(const struct sp_sem_opts *o, const struct sp_head_view *req)
{
	char model[128], url[2048], host[256];
	enum sp_llm_api api;
	const char *h;
	size_t hl = 0;

	if (!o || !o->llm)
		return NULL;
	snprintf(url, sizeof(url), "%.*s", (int)req->target_len, req->target);
	api = sp_llm_api_of(req->method, url, model, sizeof(model));
	if (api == SP_LLM_NONE)
		return NULL;
	h = req->header(req->msg, "host", &hl);
	snprintf(host, sizeof(host), "%.*s", h ? (int)hl : 0, h ? h : "");
	return sp_llm__new(api, host, model, &o->llm_opts);
}

static void llm_request_body(void *st, const char *buf, size_t len, uint64_t ts)
{
	sp_llm__request_body(st, buf, len);
}

static void llm_response_head(void *st, const struct sp_head_view *resp)
{
	size_t ctl = 0, cel = 0, ral = 0;
	const char *ct = resp->header(resp->msg, "content-type", &ctl);
	const char *ce = resp->header(resp->msg, "content-encoding", &cel);
	const char *ra = resp->header(resp->msg, "retry-after", &ral);

	sp_llm__response_head(st, resp->status, ct, ctl, ce, cel, ra, ral);
}

static void llm_response_body(void *st, const char *buf, size_t len, uint64_t ts)
{
	sp_llm__response_body(st, buf, len, ts);
}

static bool llm_is_call(void *st)
{
	return sp_llm__is_llm(st);
}

static void llm_span_name(void *st, char *out, size_t cap)
{
	sp_llm__span_name(st, out, cap);
}

static void llm_fill(void *st, struct sp_span *s)
{
	sp_llm__fill(st, s);
}

static void llm_tools(void *st, struct sp_tool_view *out)
{
	sp_llm__tools(st, out);
}

static void llm_free(void *st)
{
	sp_llm__free(st);
}

static const struct sp_body_sub llm_sub = {
	.name = "llm",
	.model_calls = true,
	.open = llm_open,
	.request_body = llm_request_body,
	.response_head = llm_response_head,
	.response_body = llm_response_body,
	.is_call = llm_is_call,
	.span_name = llm_span_name,
	.fill = llm_fill,
	.tools = llm_tools,
	.free = llm_free,
};

/* ---- MCP over streamable HTTP (semantics/mcp_http.c) ---- */

/* A POST that says it is MCP: its session or protocol headers, or the
 * Accept both JSON and SSE the spec asks clients to send. The body
 * decides (is_call): a JSON-RPC request, or no span. */
static void *mcp_open(const struct sp_sem_opts *o, const struct sp_head_view *req)
{
	struct sp_rpc_opts ro = {};
	size_t sl = 0, vl = 0, al = 0;
	const char *sess, *ver, *acc;

	if (!o || !req->method || strcmp(req->method, "POST"))
		return NULL;
	sess = req->header(req->msg, "mcp-session-id", &sl);
	ver = req->header(req->msg, "mcp-protocol-version", &vl);
	acc = req->header(req->msg, "accept", &al);
	if (!sess && !ver && !(acc && memmem(acc, al, "text/event-stream", 17) &&
			       memmem(acc, al, "application/json", 16)))
		return NULL;
	ro.content = o->llm_opts.content;
	ro.content_max = o->llm_opts.content_max;
	return sp_mcp_http__new(sess, sl, ver, vl, &ro);
}

static void mcp_request_body(void *st, const char *buf, size_t len, uint64_t ts)
{
	sp_mcp_http__request_body(st, buf, len);
}

static void mcp_response_head(void *st, const struct sp_head_view *resp)
{
	size_t ctl = 0, cel = 0, sl = 0;
	const char *ct = resp->header(resp->msg, "content-type", &ctl);
	const char *ce = resp->header(resp->msg, "content-encoding", &cel);
	const char *sess = resp->header(resp->msg, "mcp-session-id", &sl);

	sp_mcp_http__response_head(st, resp->status, ct, ctl, ce, cel, sess, sl);
}

static void mcp_response_body(void *st, const char *buf, size_t len, uint64_t ts)
{
	sp_mcp_http__response_body(st, buf, len, ts);
}

static bool mcp_is_call(void *st)
{
	return sp_mcp_http__is_call(st);
}

static void mcp_span_name(void *st, char *out, size_t cap)
{
	sp_mcp_http__span_name(st, out, cap);
}

static void mcp_fill(void *st, struct sp_span *s)
{
	sp_mcp_http__fill(st, s);
}

static void mcp_free(void *st)
{
	sp_mcp_http__free(st);
}

static const struct sp_body_sub mcp_sub = {
	.name = "mcp",
	.open = mcp_open,
	.request_body = mcp_request_body,
	.response_head = mcp_response_head,
	.response_body = mcp_response_body,
	.is_call = mcp_is_call,
	.span_name = mcp_span_name,
	.fill = mcp_fill,
	.free = mcp_free,
};

static const struct sp_body_sub *const subs[] = {
	&llm_sub,
	&mcp_sub,
	NULL,
};

const struct sp_body_sub *sp_body_sub_open(const struct sp_sem_opts *o,
					   const struct sp_head_view *req, void **st)
{
	for (const struct sp_body_sub *const *s = subs; *s; s++) {
		if ((*st = (*s)->open(o, req)))
			return *s;
	}
	return NULL;
}
