// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * JSON-RPC 2.0 on a stream (MCP over stdio): newline-delimited messages
 * per direction (decode/jsonrpc.c), each request paired with the response
 * carrying its id, in whichever direction it went: the client's requests
 * are answered by the server, and the server's own (sampling, roots,
 * elicitation) by the client. Notifications are counted, not spans;
 * notifications/cancelled ends the request it names.
 *
 * Sized by what it holds: the state is a few hundred bytes per stream;
 * each request in flight is one block of the stream's (its struct
 * sp_rpc_msg), at most RPC_INFLIGHT of them, the oldest evicted
 * (counted); each direction's walker is a block taken at its first
 * message.
 */
#include <errno.h>
#include <string.h>
#include "decode/jsonrpc.h"
#include "decode/protocol.h"
#include "pair/jsonrpc_exchange.h"
#include "semantics/trace_context.h"
#include "semantics/body_sub.h"
#include "spanprobe.h"

#define RPC_INFLIGHT	64

struct rpc_stream {
	struct sp_stream_id *sid;
	const struct sp_proto_env *env;
	struct sp_proto_stats *stats;
	struct sp_rpc_opts o;
	struct sp_jsonrpc dec[2];	/* per direction */
	struct sp_jsonrpc_stats jstats;
	struct sp_rpc_msg *head, *tail;	/* requests in flight, oldest first */
	uint8_t n;
	char version[SP_RPC_VER_MAX];	/* MCP's, once initialize answered */
};

bool sp_rpc_parse_traceparent(struct sp_rpc_exchange *ex, const char *s)
{
	struct sp_trace_ctx tc;

	ex->has_trace = sp_traceparent_parse(s, strlen(s), &tc);
	if (!ex->has_trace)
		return false;
	memcpy(ex->trace_id, tc.trace_id, sizeof(ex->trace_id));
	memcpy(ex->parent_span_id, tc.span_id, sizeof(ex->parent_span_id));
	ex->trace_flags = tc.flags;
	return true;
}

void sp_rpc_exchange_of(struct sp_rpc_exchange *ex, const struct sp_rpc_msg *rq,
			const struct sp_rpc_msg *rs)
{
	bool named_tool = !strcmp(rq->method, "tools/call");
	bool named_prompt = !strcmp(rq->method, "prompts/get");

	memset(ex, 0, sizeof(*ex));
	ex->role = rq->dir == SP_DIR_INGRESS ? SP_ROLE_SERVER : SP_ROLE_CLIENT;
	ex->method = rq->method;
	ex->id = rq->id;
	ex->jsonrpc_version = rq->jsonrpc;
	ex->tool = named_tool ? rq->name : "";
	ex->prompt = named_prompt ? rq->name : "";
	ex->resource = rq->uri;
	/* initialize: what the server chose, else what the client asked */
	ex->protocol_version = rs && rs->version[0] ? rs->version :
			       !strcmp(rq->method, "initialize") ? rq->version : "";
	ex->session_id = "";
	ex->traceparent = rq->traceparent;
	ex->tracestate = rq->tracestate;
	if (rq->traceparent[0])
		sp_rpc_parse_traceparent(ex, rq->traceparent);
	ex->start_ns = rq->start_ns;
	ex->end_ns = rs ? rs->end_ns : rq->end_ns;
	ex->err_msg = "";
	ex->args = rq->content ? rq->content : "";
	ex->args_len = rq->content_len;
	ex->result = "";
	ex->content_cut = rq->content_cut;
	ex->end_reason = "";
	if (!rs)
		return;
	ex->answered = true;
	ex->is_error = rs->has_result && rs->is_error;
	ex->has_code = rs->has_error;
	ex->code = rs->code;
	ex->err_msg = rs->err_msg;
	if (named_tool && rs->content) {
		ex->result = rs->content;
		ex->result_len = rs->content_len;
		ex->content_cut |= rs->content_cut;
	}
}

/* ---- the requests in flight ---- */

static struct sp_rpc_msg *unlink_req(struct rpc_stream *r, struct sp_rpc_msg *m,
				     struct sp_rpc_msg *prev)
{
	if (prev)
		prev->next = m->next;
	else
		r->head = m->next;
	if (r->tail == m)
		r->tail = prev;
	m->next = NULL;
	r->n--;
	return m;
}

/* The request in flight written in direction dir with id (as m's), taken
 * off the list; NULL if none. */
static struct sp_rpc_msg *take_req(struct rpc_stream *r, uint8_t dir, const struct sp_rpc_msg *m,
				   const char *id)
{
	struct sp_rpc_msg *prev = NULL;

	for (struct sp_rpc_msg *q = r->head; q; prev = q, q = q->next) {
		if (q->dir != dir)
			continue;
		if (id ? !strcmp(q->id, id) : sp_rpc_same_id(q, m))
			return unlink_req(r, q, prev);
	}
	return NULL;
}

static void emit(struct rpc_stream *r, struct sp_rpc_exchange *ex)
{
	ex->pid = r->sid->pid;
	if (!ex->protocol_version[0])
		ex->protocol_version = r->version;
	r->stats->exchanges++;
	if (r->env->emit_rpc)
		r->env->emit_rpc(r->env, r->sid, ex);
}

/* A request ends without its answer: why says how (cut or cancelled). */
static void end_unanswered(struct rpc_stream *r, struct sp_rpc_msg *rq, bool cancelled,
			   const char *why, uint64_t ts)
{
	struct sp_rpc_exchange ex;

	sp_rpc_exchange_of(&ex, rq, NULL);
	ex.cut = !cancelled;
	ex.cancelled = cancelled;
	ex.end_reason = why ? why : "";
	ex.end_ns = ts > rq->end_ns ? ts : rq->end_ns;
	emit(r, &ex);
	sp_jsonrpc__put(&r->dec[rq->dir], rq);
}

static void on_request(struct rpc_stream *r, struct sp_rpc_msg *m)
{
	if (r->n == RPC_INFLIGHT) {
		/* more unanswered than we keep: the oldest goes (its answer,
		 * if it comes, is an orphan) */
		r->stats->requests_dropped++;
		sp_jsonrpc__put(&r->dec[r->head->dir], unlink_req(r, r->head, NULL));
	}
	if (r->tail)
		r->tail->next = m;
	else
		r->head = m;
	r->tail = m;
	r->n++;
}

static void on_response(struct rpc_stream *r, struct sp_rpc_msg *m)
{
	/* the answer goes the other way from its request */
	struct sp_rpc_msg *rq = take_req(r, !m->dir, m, NULL);
	struct sp_rpc_exchange ex;

	if (!rq) {
		r->stats->orphan_responses++;
		return;
	}
	if (!strcmp(rq->method, "initialize") && m->version[0])
		memcpy(r->version, m->version, sizeof(r->version));
	sp_rpc_exchange_of(&ex, rq, m);
	emit(r, &ex);
	sp_jsonrpc__put(&r->dec[rq->dir], rq);
}

static void on_msg(void *ctx, struct sp_jsonrpc *d, struct sp_rpc_msg *m)
{
	struct rpc_stream *r = ctx;
	struct sp_rpc_msg *rq;

	switch (sp_rpc_msg_kind(m)) {
	case SP_RPC_REQUEST:
		on_request(r, m);
		return;		/* kept until answered */
	case SP_RPC_RESPONSE:
		on_response(r, m);
		break;
	case SP_RPC_NOTIFICATION:
		r->stats->notifications++;
		/* sent by the requester, so the same way as its request */
		if (!strcmp(m->method, "notifications/cancelled") && m->cancel_id[0] &&
		    (rq = take_req(r, m->dir, m, m->cancel_id)))
			end_unanswered(r, rq, true, "cancelled", m->end_ns);
		break;
	default:
		r->stats->not_parsed++;
	}
	sp_jsonrpc__put(d, m);
}

/* Ends every request in flight that was written in direction dir (both
 * if dir < 0). */
static void fail_pending(struct rpc_stream *r, int dir, const char *why, uint64_t ts)
{
	struct sp_rpc_msg *prev = NULL, *q = r->head;

	while (q) {
		struct sp_rpc_msg *next = q->next;

		if (dir < 0 || q->dir == dir)
			end_unanswered(r, unlink_req(r, q, prev), false, why, ts);
		else
			prev = q;
		q = next;
	}
}

static void sync_stats(struct rpc_stream *r, struct sp_jsonrpc_stats *before)
{
	r->stats->not_parsed += r->jstats.malformed - before->malformed;
	r->stats->messages_lost += r->jstats.lost - before->lost;
}

static bool rpc_sniff(const uint8_t *buf, size_t len, uint8_t dir, uint8_t *role)
{
	return sp_jsonrpc_sniff(buf, len, dir, role);
}

static int rpc_init(void *st, struct sp_stream_id *sid, const struct sp_proto_env *env,
		    struct sp_proto_stats *stats)
{
	struct rpc_stream *r = st;

	memset(r, 0, sizeof(*r));
	r->sid = sid;
	r->env = env;
	r->stats = stats;
	if (env->sem) {
		r->o.content = env->sem->llm_opts.content;
		r->o.content_max = env->sem->llm_opts.content_max;
	}
	if (!r->o.content_max)
		r->o.content = false;
	for (int i = 0; i < 2; i++)
		sp_jsonrpc__init(&r->dec[i], i, env->blocks, &r->o, &r->jstats, on_msg, r);
	return 0;
}

static int rpc_feed(void *st, uint8_t dir, const uint8_t *buf, size_t len, uint64_t ts_first,
		    uint64_t ts_last)
{
	struct rpc_stream *r = st;
	struct sp_jsonrpc_stats before = r->jstats;
	int rc = sp_jsonrpc__feed(&r->dec[dir], (const char *)buf, len, ts_first, ts_last);

	sync_stats(r, &before);
	return rc;
}

static void rpc_gap(void *st, uint8_t dir, uint64_t n, uint64_t ts)
{
	struct rpc_stream *r = st;
	struct sp_jsonrpc_stats before = r->jstats;

	sp_jsonrpc__gap(&r->dec[dir]);
	sync_stats(r, &before);
}

static void rpc_end(void *st, enum sp_stream_end how, const char *why, uint64_t ts)
{
	struct rpc_stream *r = st;
	struct sp_jsonrpc_stats before = r->jstats;

	if (how == SP_END_PEER_EOF) {
		/* what we read ended: requests we sent get no answer; those we
		 * read may still be answered */
		sp_jsonrpc__eof(&r->dec[SP_DIR_INGRESS], ts);
		fail_pending(r, SP_DIR_EGRESS, why, ts);
	} else {
		sp_jsonrpc__eof(&r->dec[SP_DIR_INGRESS], ts);
		sp_jsonrpc__eof(&r->dec[SP_DIR_EGRESS], ts);
		fail_pending(r, -1, why, ts);
	}
	sync_stats(r, &before);
}

static bool rpc_busy(const void *st)
{
	const struct rpc_stream *r = st;

	return r->n || sp_jsonrpc__busy(&r->dec[0]) || sp_jsonrpc__busy(&r->dec[1]);
}

static void rpc_fini(void *st)
{
	struct rpc_stream *r = st;

	while (r->head) {
		struct sp_rpc_msg *m = unlink_req(r, r->head, NULL);

		sp_jsonrpc__put(&r->dec[m->dir], m);
	}
	sp_jsonrpc__fini(&r->dec[0]);
	sp_jsonrpc__fini(&r->dec[1]);
}

const struct sp_proto sp_jsonrpc_proto = {
	.name = "jsonrpc",
	.sniff = rpc_sniff,
	.state_size = sizeof(struct rpc_stream),
	.init = rpc_init,
	.feed = rpc_feed,
	.gap = rpc_gap,
	.end = rpc_end,
	.busy = rpc_busy,
	.fini = rpc_fini,
};
