// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * One MCP call over streamable HTTP, from its bodies: the request body is
 * walked into a struct sp_rpc_msg (decode/jsonrpc.c), and so is every
 * JSON-RPC message of the response (one JSON value, or the data of each
 * SSE event) until the one that answers the request's id. Bounded like
 * the LLM decoder: the walk keeps fields, not bodies; an SSE data line is
 * buffered up to MCP_SSE_LINE_MAX (past that it is dropped, counted by
 * decode/sse.c, and the answer is unknown).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "decode/content.h"
#include "decode/jsonrpc.h"
#include "decode/jwalk.h"
#include "decode/sse.h"
#include "model/span.h"
#include "pair/jsonrpc_exchange.h"
#include "semantics/mcp_span.h"

#define MCP_SSE_LINE_MAX	(256u << 10)

/* A body's walker and the message it is reading. */
struct mcp_walk {
	struct jwalk w;
	bool init;
	bool done;		/* the message wanted was found */
	struct sp_rpc_msg msg;
	struct sp_mcp_http *m;
	bool is_resp;
};

struct sp_mcp_http {
	struct sp_rpc_opts o;
	struct mcp_walk req, resp;
	uint16_t status;
	bool sse;
	struct sp_sse *lines;
	struct sp_content *dec;
	char session[SP_RPC_SESSION_MAX];
	char version[SP_RPC_VER_MAX];	/* the MCP-Protocol-Version header */
};

static void copy(char *dst, size_t cap, const char *s, size_t n)
{
	if (!s)
		n = 0;
	if (n >= cap)
		n = cap - 1;
	if (n)
		memcpy(dst, s, n);
	dst[n] = 0;
}

static void on_value(void *ctx, struct jwalk *w, const char *path, int type, const char *s,
		     size_t len)
{
	struct mcp_walk *mw = ctx;

	if (!mw->done)
		sp_rpc_msg_value(&mw->msg, &mw->m->o, NULL, w, path, type, s, len);
}

static bool want_raw(void *ctx, const char *path)
{
	struct mcp_walk *mw = ctx;

	return !mw->done && sp_rpc_msg_want_raw(&mw->msg, &mw->m->o, path);
}

static void on_raw(void *ctx, struct jwalk *w, const char *path, const char *json, size_t len)
{
	struct mcp_walk *mw = ctx;

	if (!mw->done)
		sp_rpc_msg_raw(&mw->msg, &mw->m->o, NULL, path, json, len);
}

/* A message ended: the request's first request, the response's answer to
 * it, are kept; any other (a notification, the server's own request) is
 * forgotten and the walk goes on. */
static void on_record(void *ctx, struct jwalk *w)
{
	struct mcp_walk *mw = ctx;
	enum sp_rpc_kind k;

	if (mw->done)
		return;
	k = sp_rpc_msg_kind(&mw->msg);
	if (mw->is_resp ? k == SP_RPC_RESPONSE && sp_rpc_same_id(&mw->msg, &mw->m->req.msg)
			: k == SP_RPC_REQUEST) {
		mw->done = true;
		return;
	}
	sp_rpc_msg_release(&mw->msg, NULL);
	memset(&mw->msg, 0, sizeof(mw->msg));
}

static int walk_init(struct sp_mcp_http *m, struct mcp_walk *mw, bool is_resp)
{
	mw->m = m;
	mw->is_resp = is_resp;
	if (jw_init(&mw->w, on_value, on_record, want_raw, on_raw, mw))
		return -ENOMEM;
	/* a batch: each element is a message of its own */
	jw_array_stream(&mw->w);
	mw->init = true;
	return 0;
}

static void walk_free(struct mcp_walk *mw)
{
	if (mw->init)
		jw_free(&mw->w);
	mw->init = false;
	sp_rpc_msg_release(&mw->msg, NULL);
}

struct sp_mcp_http *sp_mcp_http__new(const char *session, size_t session_len,
				     const char *version, size_t version_len,
				     const struct sp_rpc_opts *o)
{
	struct sp_mcp_http *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->o = *o;
	if (!m->o.content_max)
		m->o.content = false;
	copy(m->session, sizeof(m->session), session, session_len);
	copy(m->version, sizeof(m->version), version, version_len);
	if (walk_init(m, &m->req, false)) {
		sp_mcp_http__free(m);
		errno = ENOMEM;
		return NULL;
	}
	return m;
}

void sp_mcp_http__free(struct sp_mcp_http *m)
{
	if (!m)
		return;
	walk_free(&m->req);
	walk_free(&m->resp);
	sp_sse__free(m->lines);
	sp_content__free(m->dec);
	free(m);
}

void sp_mcp_http__request_body(struct sp_mcp_http *m, const char *buf, size_t len)
{
	if (!m->req.done)
		jw_feed(&m->req.w, buf, len);
}

/* An SSE event's data: a JSON-RPC message (data lines join with "\n"). */
static void on_line(void *ctx, enum sp_sse_field f, const char *s, size_t n)
{
	struct sp_mcp_http *m = ctx;

	if (f != SP_SSE_DATA || m->resp.done)
		return;
	if (m->resp.w.failed) {
		/* one bad event does not end the stream */
		walk_free(&m->resp);
		memset(&m->resp.msg, 0, sizeof(m->resp.msg));
		if (walk_init(m, &m->resp, true))
			return;
	}
	jw_feed(&m->resp.w, s, n);
	jw_feed(&m->resp.w, "\n", 1);
}

static void on_decoded(void *ctx, const char *buf, size_t len)
{
	struct sp_mcp_http *m = ctx;

	if (m->resp.done)
		return;
	if (m->lines)
		sp_sse__feed(m->lines, buf, len);
	else
		jw_feed(&m->resp.w, buf, len);
}

static bool ctype_is(const char *ct, size_t n, const char *want)
{
	size_t k = strlen(want);

	while (n && (*ct == ' ' || *ct == '\t')) {
		ct++;
		n--;
	}
	return n >= k && !strncasecmp(ct, want, k) && (n == k || ct[k] == ';' || ct[k] == ' ');
}

void sp_mcp_http__response_head(struct sp_mcp_http *m, uint16_t status, const char *ctype,
				size_t ctype_len, const char *cenc, size_t cenc_len,
				const char *session, size_t session_len)
{
	m->status = status;
	if (session && session_len && !m->session[0])
		copy(m->session, sizeof(m->session), session, session_len);
	if (!m->req.done || !ctype || m->resp.init)
		return;
	m->sse = ctype_is(ctype, ctype_len, "text/event-stream");
	if (!m->sse && !ctype_is(ctype, ctype_len, "application/json"))
		return;
	if (walk_init(m, &m->resp, true))
		return;
	if (m->sse && !(m->lines = sp_sse__new(SP_SSE_EVENTS, MCP_SSE_LINE_MAX, on_line, m)))
		return;
	/* a coding not decoded: the body is not read */
	m->dec = sp_content__new(cenc, cenc_len, 0, on_decoded, m);
}

void sp_mcp_http__response_body(struct sp_mcp_http *m, const char *buf, size_t len, uint64_t ts)
{
	if (m->dec && !m->resp.done)
		sp_content__feed(m->dec, buf, len);
}

bool sp_mcp_http__is_call(struct sp_mcp_http *m)
{
	return m->req.done;
}

/* The exchange as the stdio one: same names, same attributes. */
static void exchange(struct sp_mcp_http *m, struct sp_rpc_exchange *ex)
{
	sp_rpc_exchange_of(ex, &m->req.msg, m->resp.done ? &m->resp.msg : NULL);
	ex->transport = "tcp";
	ex->session_id = m->session;
	if (!ex->protocol_version[0])
		ex->protocol_version = m->version;
	/* no JSON-RPC answer read (a 202, a body not decoded): the HTTP span
	 * says how it went; no MCP error is made up */
	if (!m->resp.done)
		ex->answered = true;
}

void sp_mcp_http__span_name(struct sp_mcp_http *m, char *out, size_t cap)
{
	struct sp_rpc_exchange ex;

	exchange(m, &ex);
	sp_mcp_span_name(&ex, out, cap);
}

void sp_mcp_http__fill(struct sp_mcp_http *m, struct sp_span *s)
{
	struct sp_rpc_exchange ex;

	exchange(m, &ex);
	sp_mcp_span_fill(s, &ex, s->kind != SP_KIND_SERVER);
	if (!m->resp.done && m->status >= 400) {
		char code[8];

		snprintf(code, sizeof(code), "%u", m->status);
		sp_span__set_str(s, "error.type", code, strlen(code));
		sp_span__set_status(s, SP_STATUS_ERROR, NULL);
	}
}
