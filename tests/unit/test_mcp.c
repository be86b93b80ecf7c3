// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * MCP from captured bytes: JSON-RPC 2.0 over stdio as the MCP spec
 * (2025-06-18, "Transports" and "Lifecycle") and its SDKs write it,
 * through the stream protocol the capture stage drives (split byte by
 * byte, several messages in one record, holes, cuts, 200 KiB lines, bad
 * lines), the spans made of its exchanges, and MCP over streamable HTTP
 * (JSON and SSE answers) through its body consumer. Inputs are fed from
 * exact-size heap copies so ASan sees any overread.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>
#include "capture/streams.h"
#include "decode/jsonrpc.h"
#include "decode/protocol.h"
#include "model/span.h"
#include "pair/jsonrpc_exchange.h"
#include "semantics/body_sub.h"
#include "semantics/mcp_span.h"
#include "spanprobe.h"
#include "util/blocks.h"

extern const struct sp_proto sp_jsonrpc_proto;

#define MAX_EX	80

/* What an exchange said, copied out of the borrowed one. */
struct got {
	struct sp_rpc_exchange ex;
	char method[64], id[64], tool[128], prompt[128], uri[256], version[32];
	char tp[64], err_msg[128], why[64], args[512], result[512], name[192];
};

static struct got got[MAX_EX];
static int ngot;
static struct sp_resource *res;

static void on_rpc(const struct sp_proto_env *env, const struct sp_stream_id *sid,
		   const struct sp_rpc_exchange *ex)
{
	struct got *g;

	assert_true(ngot < MAX_EX);
	g = &got[ngot++];
	g->ex = *ex;
	snprintf(g->method, sizeof(g->method), "%s", ex->method);
	snprintf(g->id, sizeof(g->id), "%s", ex->id);
	snprintf(g->tool, sizeof(g->tool), "%s", ex->tool);
	snprintf(g->prompt, sizeof(g->prompt), "%s", ex->prompt);
	snprintf(g->uri, sizeof(g->uri), "%s", ex->resource);
	snprintf(g->version, sizeof(g->version), "%s", ex->protocol_version);
	snprintf(g->tp, sizeof(g->tp), "%s", ex->traceparent);
	snprintf(g->err_msg, sizeof(g->err_msg), "%s", ex->err_msg);
	snprintf(g->why, sizeof(g->why), "%s", ex->end_reason);
	snprintf(g->args, sizeof(g->args), "%.*s", (int)ex->args_len, ex->args);
	snprintf(g->result, sizeof(g->result), "%.*s", (int)ex->result_len, ex->result);
	sp_mcp_span_name(ex, g->name, sizeof(g->name));
	/* the strings of ex are gone after the call */
	g->ex.method = g->ex.id = g->ex.tool = g->ex.prompt = g->ex.resource = "";
	g->ex.protocol_version = g->ex.traceparent = g->ex.err_msg = g->ex.end_reason = "";
	g->ex.tracestate = g->ex.session_id = g->ex.jsonrpc_version = "";
	g->ex.args = g->ex.result = "";
	g->ex.args_len = g->ex.result_len = 0;
	g->ex.transport = NULL;
}

/* One stdio stream of an MCP server (SP_ROLE_SERVER: it reads requests
 * on fd 0 = INGRESS and writes answers on fd 1 = EGRESS). */
struct rig {
	struct sp_blocks *blocks;
	struct sp_sem_opts sem;
	struct sp_proto_env env;
	struct sp_stream_id sid;
	struct sp_proto_stats stats;
	void *st;
};

static void rig_init(struct rig *r, bool content)
{
	memset(r, 0, sizeof(*r));
	ngot = 0;
	r->blocks = sp_blocks__new(4u << 20, 1u << 20);
	assert_non_null(r->blocks);
	r->sem.llm_opts.content = content;
	r->sem.llm_opts.content_max = 256;
	r->env = (struct sp_proto_env){ .blocks = r->blocks, .sem = &r->sem,
					.emit_rpc = on_rpc };
	r->sid = (struct sp_stream_id){ .pid = 4242, .fd = 0, .role = SP_ROLE_SERVER };
	r->st = calloc(1, sp_jsonrpc_proto.state_size);
	assert_int_equal(sp_jsonrpc_proto.init(r->st, &r->sid, &r->env, &r->stats), 0);
}

static void rig_fini(struct rig *r)
{
	sp_jsonrpc_proto.fini(r->st);
	free(r->st);
	/* every block came back */
	assert_int_equal(sp_blocks__stats(r->blocks)->bytes_in_use, 0);
	sp_blocks__free(r->blocks);
}

/* Feeds len bytes (strlen if 0) from a heap copy of exactly that size. */
static int feedn(struct rig *r, uint8_t dir, const char *s, size_t len, uint64_t t0,
		 uint64_t t1)
{
	char *copy;
	int rc;

	if (!len)
		len = strlen(s);
	copy = malloc(len);
	memcpy(copy, s, len);
	rc = sp_jsonrpc_proto.feed(r->st, dir, (uint8_t *)copy, len, t0, t1);
	free(copy);
	return rc;
}

static int feed(struct rig *r, uint8_t dir, const char *s, uint64_t t0, uint64_t t1)
{
	return feedn(r, dir, s, 0, t0, t1);
}

#define IN	SP_DIR_INGRESS
#define OUT	SP_DIR_EGRESS

/* A session as the Python SDK's client and a FastMCP server write it. */
static const char INIT_REQ[] =
	"{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
	"\"2025-06-18\",\"capabilities\":{\"sampling\":{},\"roots\":{\"listChanged\":true}},"
	"\"clientInfo\":{\"name\":\"mcp\",\"version\":\"0.1.0\"}}}\n";
static const char INIT_RESP[] =
	"{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{\"protocolVersion\":\"2025-06-18\","
	"\"capabilities\":{\"experimental\":{},\"prompts\":{\"listChanged\":false},\"tools\":"
	"{\"listChanged\":false}},\"serverInfo\":{\"name\":\"demo\",\"version\":\"1.9.4\"}}}\n";
static const char INITIALIZED[] =
	"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n";
static const char LIST_REQ[] =
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{}}\n";
static const char LIST_RESP[] =
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"echo\",\"description\":"
	"\"Echo\",\"inputSchema\":{\"type\":\"object\",\"properties\":{\"text\":{\"type\":"
	"\"string\"}},\"required\":[\"text\"]}}]}}\n";
static const char CALL_REQ[] =
	"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
	"\"arguments\":{\"text\":\"hi\",\"api_key\":\"sk-secret\"},\"_meta\":{\"traceparent\":"
	"\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\",\"progressToken\":2}}}\n";
/* the TypeScript SDK puts "result" first */
static const char CALL_RESP[] =
	"{\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"hi\"},{\"type\":\"text\","
	"\"text\":\"again\"}],\"isError\":false},\"jsonrpc\":\"2.0\",\"id\":2}\n";
static const char FAIL_REQ[] =
	"{\"jsonrpc\":\"2.0\",\"id\":\"c-3\",\"method\":\"tools/call\",\"params\":{\"name\":"
	"\"fail\",\"arguments\":{}}}\n";
static const char FAIL_RESP[] =
	"{\"jsonrpc\":\"2.0\",\"id\":\"c-3\",\"result\":{\"content\":[{\"type\":\"text\",\"text\":"
	"\"boom\"}],\"isError\":true}}\n";
static const char BAD_REQ[] =
	"{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"nope\"}}\n";
static const char BAD_RESP[] =
	"{\"jsonrpc\":\"2.0\",\"id\":4,\"error\":{\"code\":-32602,\"message\":\"Unknown tool: "
	"nope\"}}\n";
static const char PROMPT_REQ[] =
	"{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"prompts/get\",\"params\":{\"name\":\"review\","
	"\"arguments\":{\"code\":\"x\"}}}\n";
static const char PROMPT_RESP[] =
	"{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"messages\":[]}}\n";
static const char READ_REQ[] =
	"{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"resources/read\",\"params\":{\"uri\":"
	"\"file:///tmp/a.txt\"}}\n";
static const char READ_RESP[] =
	"{\"jsonrpc\":\"2.0\",\"id\":6,\"result\":{\"contents\":[{\"uri\":\"file:///tmp/a.txt\","
	"\"text\":\"A\"}]}}\n";

static struct got *find(const char *id)
{
	for (int i = 0; i < ngot; i++)
		if (!strcmp(got[i].id, id))
			return &got[i];
	fail_msg("no exchange with id %s", id);
	return &got[0];
}

/* A session read line by line, with its times. */
static void test_session(void **state)
{
	struct rig r;
	struct got *g;

	rig_init(&r, false);
	assert_int_equal(feed(&r, IN, INIT_REQ, 10, 11), 0);
	assert_int_equal(feed(&r, OUT, INIT_RESP, 20, 21), 0);
	assert_int_equal(feed(&r, IN, INITIALIZED, 30, 31), 0);
	assert_int_equal(feed(&r, IN, LIST_REQ, 40, 41), 0);
	assert_int_equal(feed(&r, OUT, LIST_RESP, 50, 52), 0);
	assert_int_equal(feed(&r, IN, CALL_REQ, 60, 61), 0);
	assert_true(sp_jsonrpc_proto.busy(r.st));
	assert_int_equal(feed(&r, OUT, CALL_RESP, 70, 75), 0);
	assert_int_equal(feed(&r, IN, FAIL_REQ, 80, 81), 0);
	assert_int_equal(feed(&r, OUT, FAIL_RESP, 90, 91), 0);
	assert_int_equal(feed(&r, IN, BAD_REQ, 100, 101), 0);
	assert_int_equal(feed(&r, OUT, BAD_RESP, 110, 111), 0);
	assert_int_equal(feed(&r, IN, PROMPT_REQ, 120, 121), 0);
	assert_int_equal(feed(&r, OUT, PROMPT_RESP, 130, 131), 0);
	assert_int_equal(feed(&r, IN, READ_REQ, 140, 141), 0);
	assert_int_equal(feed(&r, OUT, READ_RESP, 150, 151), 0);
	assert_false(sp_jsonrpc_proto.busy(r.st));
	assert_int_equal(ngot, 7);
	assert_int_equal(r.stats.exchanges, 7);
	assert_int_equal(r.stats.notifications, 1);

	g = find("0");
	assert_string_equal(g->name, "initialize");
	assert_string_equal(g->version, "2025-06-18");
	assert_int_equal(g->ex.role, SP_ROLE_SERVER);
	assert_int_equal(g->ex.pid, 4242);
	assert_int_equal(g->ex.start_ns, 10);
	assert_int_equal(g->ex.end_ns, 21);
	assert_true(g->ex.answered);

	g = find("1");
	assert_string_equal(g->name, "tools/list");
	assert_string_equal(g->tool, "");
	/* negotiated at initialize, kept for the session */
	assert_string_equal(g->version, "2025-06-18");
	assert_int_equal(g->ex.end_ns, 52);

	g = find("2");
	assert_string_equal(g->name, "tools/call echo");
	assert_string_equal(g->tool, "echo");
	assert_false(g->ex.is_error);
	assert_false(g->ex.has_code);
	assert_true(g->ex.has_trace);
	assert_int_equal(g->ex.trace_id[0], 0x4b);
	assert_int_equal(g->ex.trace_id[15], 0x36);
	assert_int_equal(g->ex.parent_span_id[7], 0xb7);
	assert_int_equal(g->ex.trace_flags, 1);
	/* content is off: none kept */
	assert_string_equal(g->args, "");
	assert_string_equal(g->result, "");

	g = find("c-3");
	assert_string_equal(g->name, "tools/call fail");
	assert_true(g->ex.is_error);

	g = find("4");
	assert_true(g->ex.has_code);
	assert_int_equal(g->ex.code, -32602);
	assert_string_equal(g->err_msg, "Unknown tool: nope");

	g = find("5");
	assert_string_equal(g->name, "prompts/get review");
	assert_string_equal(g->prompt, "review");
	assert_string_equal(g->tool, "");

	g = find("6");
	assert_string_equal(g->name, "resources/read");
	assert_string_equal(g->uri, "file:///tmp/a.txt");
	rig_fini(&r);
}

/* The spans of those exchanges: names, kinds, attributes, status. */
static const struct sp_attr *attr(const struct sp_span *s, const char *key)
{
	return sp_span__attr(s, key);
}

static struct sp_span *span_of(const struct sp_rpc_exchange *ex, bool client_side)
{
	struct sp_span *s = sp_span__alloc();

	assert_non_null(s);
	sp_span__init(s, "x", 1, SP_KIND_INTERNAL, res);
	sp_mcp_span_fill(s, ex, client_side);
	return s;
}

static void test_spans(void **state)
{
	struct rig r;
	struct sp_span *s, *c;
	struct sp_rpc_exchange ex;

	rig_init(&r, true);
	feed(&r, IN, INIT_REQ, 10, 11);
	feed(&r, OUT, INIT_RESP, 20, 21);
	feed(&r, IN, CALL_REQ, 60, 61);
	feed(&r, OUT, CALL_RESP, 70, 75);
	feed(&r, IN, FAIL_REQ, 80, 81);
	feed(&r, OUT, FAIL_RESP, 90, 91);
	feed(&r, IN, BAD_REQ, 100, 101);
	feed(&r, OUT, BAD_RESP, 110, 111);
	assert_int_equal(ngot, 4);

	/* tools/call echo, content on: arguments redacted, text joined */
	ex = find("2")->ex;
	ex.method = "tools/call";
	ex.tool = "echo";
	ex.id = "2";
	ex.jsonrpc_version = "2.0";
	ex.transport = "pipe";
	ex.protocol_version = find("2")->version;
	ex.args = find("2")->args;
	ex.args_len = strlen(ex.args);
	ex.result = find("2")->result;
	ex.result_len = strlen(ex.result);
	assert_string_equal(ex.args, "{\"text\":\"hi\",\"api_key\":\"REDACTED\"}");
	assert_string_equal(ex.result, "hi\nagain");
	s = span_of(&ex, false);
	assert_int_equal(s->kind, SP_KIND_SERVER);
	assert_string_equal(attr(s, "mcp.method.name")->s, "tools/call");
	assert_string_equal(attr(s, "gen_ai.tool.name")->s, "echo");
	assert_string_equal(attr(s, "gen_ai.operation.name")->s, "execute_tool");
	assert_string_equal(attr(s, "jsonrpc.request.id")->s, "2");
	assert_string_equal(attr(s, "jsonrpc.protocol.version")->s, "2.0");
	assert_string_equal(attr(s, "mcp.protocol.version")->s, "2025-06-18");
	assert_string_equal(attr(s, "network.transport")->s, "pipe");
	assert_string_equal(attr(s, "gen_ai.tool.call.arguments")->s,
			    "{\"text\":\"hi\",\"api_key\":\"REDACTED\"}");
	assert_string_equal(attr(s, "gen_ai.tool.call.result")->s, "hi\nagain");
	assert_null(attr(s, "error.type"));
	assert_int_equal(s->status, SP_STATUS_UNSET);

	/* the pair: the server span a child of the client's, in the trace
	 * the request's traceparent names */
	c = span_of(&ex, true);
	sp_mcp_span_pair(c, s, &ex);
	assert_int_equal(c->kind, SP_KIND_CLIENT);
	assert_int_equal(s->kind, SP_KIND_SERVER);
	assert_int_equal(c->trace_id[0], 0x4b);
	assert_int_equal(c->parent_id[0], 0x00);
	assert_int_equal(c->parent_id[1], 0xf0);
	assert_true(c->remote_parent);
	assert_memory_equal(s->trace_id, c->trace_id, 16);
	assert_memory_equal(s->parent_id, c->span_id, 8);
	sp_span__free(c);
	sp_span__free(s);

	/* isError */
	ex = find("c-3")->ex;
	ex.method = "tools/call";
	ex.tool = "fail";
	s = span_of(&ex, true);
	assert_int_equal(s->kind, SP_KIND_CLIENT);
	assert_string_equal(attr(s, "error.type")->s, "tool_error");
	assert_int_equal(s->status, SP_STATUS_ERROR);
	assert_null(attr(s, "rpc.response.status_code"));
	sp_span__free(s);

	/* a JSON-RPC error */
	ex = find("4")->ex;
	ex.method = "tools/call";
	ex.err_msg = find("4")->err_msg;
	s = span_of(&ex, false);
	assert_string_equal(attr(s, "error.type")->s, "-32602");
	assert_int_equal(attr(s, "rpc.response.status_code")->i, -32602);
	assert_int_equal(s->status, SP_STATUS_ERROR);
	assert_string_equal(s->status_msg, "Unknown tool: nope");
	sp_span__free(s);
	rig_fini(&r);
}

/* A request of the server's own (sampling) goes the other way. */
static void test_server_to_client_request(void **state)
{
	static const char SAMPLE_REQ[] =
		"{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"sampling/createMessage\",\"params\":"
		"{\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":\"hi\"}}],"
		"\"maxTokens\":100}}\n";
	static const char SAMPLE_RESP[] =
		"{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{\"role\":\"assistant\",\"content\":"
		"{\"type\":\"text\",\"text\":\"hello\"},\"model\":\"m\"}}\n";
	struct rig r;

	rig_init(&r, false);
	/* the client's request 0 and the server's request 0 are not mixed up */
	feed(&r, IN, INIT_REQ, 10, 11);
	feed(&r, OUT, SAMPLE_REQ, 12, 13);
	feed(&r, IN, SAMPLE_RESP, 14, 15);
	feed(&r, OUT, INIT_RESP, 20, 21);
	assert_int_equal(ngot, 2);
	assert_string_equal(got[0].method, "sampling/createMessage");
	assert_int_equal(got[0].ex.role, SP_ROLE_CLIENT);
	assert_int_equal(got[0].ex.start_ns, 12);
	assert_int_equal(got[0].ex.end_ns, 15);
	assert_string_equal(got[1].method, "initialize");
	assert_int_equal(got[1].ex.role, SP_ROLE_SERVER);
	assert_int_equal(got[1].ex.end_ns, 21);
	rig_fini(&r);
}

/* Split at every byte, and all in one record: the same exchanges. */
static void test_split_and_joined(void **state)
{
	char all[4096];
	struct rig r;
	size_t n;

	snprintf(all, sizeof(all), "%s%s%s%s", INIT_REQ, INITIALIZED, LIST_REQ, CALL_REQ);
	rig_init(&r, true);
	n = strlen(all);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(feedn(&r, IN, all + i, 1, i, i), 0);
	snprintf(all, sizeof(all), "%s%s%s", INIT_RESP, LIST_RESP, CALL_RESP);
	assert_int_equal(feed(&r, OUT, all, 5000, 5001), 0);
	assert_int_equal(ngot, 3);
	assert_string_equal(got[0].method, "initialize");
	/* the first byte of the request, the last of the answer */
	assert_int_equal(got[0].ex.start_ns, 0);
	assert_int_equal(got[0].ex.end_ns, 5001);
	assert_int_equal(got[1].ex.start_ns, strlen(INIT_REQ) + strlen(INITIALIZED));
	assert_string_equal(got[2].name, "tools/call echo");
	assert_string_equal(got[2].args, "{\"text\":\"hi\",\"api_key\":\"REDACTED\"}");
	assert_string_equal(got[2].result, "hi\nagain");
	assert_string_equal(got[2].tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
	assert_int_equal(r.stats.notifications, 1);
	rig_fini(&r);
}

/* A hole mid-message loses that message only: the next line is read. */
static void test_hole(void **state)
{
	struct rig r;

	rig_init(&r, false);
	feed(&r, IN, INIT_REQ, 10, 11);
	feedn(&r, IN, LIST_REQ, 20, 20, 20);
	sp_jsonrpc_proto.gap(r.st, IN, 7, 21);
	/* the rest of that line, then the next message */
	feed(&r, IN, LIST_REQ + 27, 22, 22);
	feed(&r, IN, CALL_REQ, 30, 31);
	/* a hole between lines: what follows it is not a line start */
	sp_jsonrpc_proto.gap(r.st, IN, 100, 32);
	feed(&r, IN, "\"x\":1}\n", 33, 33);
	feed(&r, IN, FAIL_REQ, 34, 35);
	feed(&r, OUT, INIT_RESP, 40, 41);
	feed(&r, OUT, LIST_RESP, 42, 43);	/* its request was lost */
	feed(&r, OUT, CALL_RESP, 44, 45);
	feed(&r, OUT, FAIL_RESP, 46, 47);
	assert_int_equal(ngot, 3);
	assert_string_equal(got[0].method, "initialize");
	assert_string_equal(got[1].name, "tools/call echo");
	assert_string_equal(got[2].name, "tools/call fail");
	assert_int_equal(r.stats.messages_lost, 1);
	assert_int_equal(r.stats.orphan_responses, 1);
	rig_fini(&r);
}

/* The stream ends with requests in flight: they end, cut, with why. */
static void test_cut(void **state)
{
	struct rig r;

	rig_init(&r, false);
	feed(&r, IN, INIT_REQ, 10, 11);
	feed(&r, OUT, INIT_RESP, 20, 21);
	feed(&r, IN, CALL_REQ, 30, 31);
	feed(&r, IN, LIST_REQ, 32, 33);
	/* half an answer */
	feedn(&r, OUT, CALL_RESP, 30, 40, 40);
	/* the agent closed the server's stdin: the server may still answer */
	sp_jsonrpc_proto.end(r.st, SP_END_PEER_EOF, "connection_closed", 50);
	assert_int_equal(ngot, 1);
	r.sid.end_reason = "process_exit";
	sp_jsonrpc_proto.end(r.st, SP_END_CUT, "process_exit", 60);
	assert_int_equal(ngot, 3);
	assert_string_equal(got[1].name, "tools/call echo");
	assert_true(got[1].ex.cut);
	assert_false(got[1].ex.answered);
	assert_string_equal(got[1].why, "process_exit");
	assert_int_equal(got[1].ex.start_ns, 30);
	assert_int_equal(got[1].ex.end_ns, 60);
	assert_string_equal(got[2].name, "tools/list");
	assert_int_equal(r.stats.messages_lost, 1);
	assert_false(sp_jsonrpc_proto.busy(r.st));
	rig_fini(&r);
}

/* notifications/cancelled ends the request it names. */
static void test_cancelled(void **state)
{
	static const char CANCEL[] =
		"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":"
		"{\"requestId\":2,\"reason\":\"user\"}}\n";
	struct rig r;
	struct sp_span *s;

	rig_init(&r, false);
	feed(&r, IN, CALL_REQ, 10, 11);
	feed(&r, IN, CANCEL, 20, 21);
	assert_int_equal(ngot, 1);
	assert_true(got[0].ex.cancelled);
	assert_int_equal(got[0].ex.end_ns, 21);
	s = span_of(&got[0].ex, false);
	assert_string_equal(attr(s, "error.type")->s, "cancelled");
	sp_span__free(s);
	/* a late answer is an orphan */
	feed(&r, OUT, CALL_RESP, 30, 31);
	assert_int_equal(ngot, 1);
	assert_int_equal(r.stats.orphan_responses, 1);
	rig_fini(&r);
}

/* A 200 KiB tools/list answer in 16 KiB records: walked, not kept. */
static void test_big_line(void **state)
{
	size_t cap = 220 * 1024, at = 0;
	char *big = malloc(cap);
	struct rig r;
	uint64_t high;

	at += snprintf(big + at, cap - at, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[");
	for (int i = 0; at < 200 * 1024; i++)
		at += snprintf(big + at, cap - at,
			       "%s{\"name\":\"tool_%d\",\"description\":\"%0120d\",\"inputSchema\":"
			       "{\"type\":\"object\"}}", i ? "," : "", i, i);
	at += snprintf(big + at, cap - at, "]}}\n");
	rig_init(&r, true);
	feed(&r, IN, LIST_REQ, 10, 11);
	for (size_t off = 0; off < at; off += SP_CHUNK_MAX)
		assert_int_equal(feedn(&r, OUT, big + off,
				       at - off < SP_CHUNK_MAX ? at - off : SP_CHUNK_MAX, 20, 30),
				 0);
	assert_int_equal(ngot, 1);
	assert_string_equal(got[0].name, "tools/list");
	high = sp_blocks__stats(r.blocks)->bytes_high;
	printf("200 KiB line: %llu bytes of blocks at most\n", (unsigned long long)high);
	assert_true(high <= 16 * 1024);
	rig_fini(&r);
	free(big);
}

/* Bad lines are skipped and counted; the next good one is read. */
static void test_malformed(void **state)
{
	struct rig r;

	rig_init(&r, false);
	assert_int_equal(feed(&r, IN, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":}\n", 1, 1), -EPROTO);
	assert_int_equal(feed(&r, IN, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"\n", 2, 2),
			 -EPROTO);
	assert_int_equal(feed(&r, IN, "INFO starting server\n", 3, 3), -EPROTO);
	assert_int_equal(feed(&r, IN, "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"x\"}\n", 4, 4),
			 -EPROTO);
	assert_int_equal(feed(&r, IN, "[1,2]\n\n  \r\n", 5, 5), -EPROTO);
	assert_int_equal(feed(&r, IN, LIST_REQ, 6, 6), 0);
	assert_int_equal(feed(&r, OUT, LIST_RESP, 7, 7), 0);
	assert_int_equal(ngot, 1);
	assert_int_equal(r.stats.not_parsed, 5);
	rig_fini(&r);
}

/* More than 64 unanswered requests: the oldest go, counted. */
static void test_inflight_bound(void **state)
{
	char line[128];
	struct rig r;

	rig_init(&r, false);
	for (int i = 0; i < 70; i++) {
		snprintf(line, sizeof(line),
			 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"ping\"}\n", i);
		feed(&r, IN, line, i, i);
	}
	assert_int_equal(r.stats.requests_dropped, 6);
	feed(&r, OUT, "{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{}}\n", 100, 100);
	feed(&r, OUT, "{\"jsonrpc\":\"2.0\",\"id\":69,\"result\":{}}\n", 101, 101);
	assert_int_equal(ngot, 1);
	assert_string_equal(got[0].name, "ping");
	assert_int_equal(r.stats.orphan_responses, 1);
	rig_fini(&r);
}

/* What a stream costs: small, whatever it carries; each request in
 * flight is one message block (2 KiB class), at most 64 of them. */
static void test_state_size(void **state)
{
	printf("JSON-RPC state: %zu bytes per stream, %zu per message kept\n",
	       sp_jsonrpc_proto.state_size, sizeof(struct sp_rpc_msg));
	assert_true(sp_jsonrpc_proto.state_size <= 512);
	assert_true(sizeof(struct sp_rpc_msg) <= 2048);
}

static void test_sniff(void **state)
{
	uint8_t role = 0;

	assert_true(sp_jsonrpc_sniff((const uint8_t *)INIT_REQ, strlen(INIT_REQ), IN, &role));
	assert_int_equal(role, SP_ROLE_SERVER);
	assert_true(sp_jsonrpc_sniff((const uint8_t *)INIT_REQ, strlen(INIT_REQ), OUT, &role));
	assert_int_equal(role, SP_ROLE_CLIENT);
	assert_true(sp_jsonrpc_sniff((const uint8_t *)"  \n{\"jsonrpc\": \"2.0\", \"method\": "
				     "\"notifications/message\"}\n", 57, OUT, &role));
	assert_int_equal(role, SP_ROLE_CLIENT);
	/* an answer first: a JSON body more likely than a session */
	assert_false(sp_jsonrpc_sniff((const uint8_t *)INIT_RESP, strlen(INIT_RESP), OUT, &role));
	/* LSP's framing, JSON logs, a body without its newline */
	assert_false(sp_jsonrpc_sniff((const uint8_t *)"Content-Length: 52\r\n\r\n{\"jsonrpc\"",
				      32, IN, &role));
	assert_false(sp_jsonrpc_sniff((const uint8_t *)"{\"level\":\"info\",\"msg\":\"x\"}\n", 28,
				      OUT, &role));
	assert_false(sp_jsonrpc_sniff((const uint8_t *)"{\"jsonrpc\":\"2.0\",\"id\":3}", 24, IN,
				      &role));
	assert_string_equal(sp_proto_sniff((const uint8_t *)LIST_REQ, strlen(LIST_REQ), IN,
					   &role)->name, "jsonrpc");
}

static void test_traceparent(void **state)
{
	struct sp_rpc_exchange ex = {};

	assert_true(sp_rpc_parse_traceparent(
		&ex, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
	assert_int_equal(ex.trace_id[0], 0x0a);
	assert_int_equal(ex.parent_span_id[7], 0x31);
	assert_false(sp_rpc_parse_traceparent(
		&ex, "00-00000000000000000000000000000000-b7ad6b7169203331-01"));
	assert_false(ex.has_trace);
	assert_false(sp_rpc_parse_traceparent(&ex, "00-0af7651916cd43dd8448eb211c80319c-b7ad"));
	assert_false(sp_rpc_parse_traceparent(
		&ex, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333X-01"));
}

static void test_redact_json(void **state)
{
	static const char in[] = "{\"q\":\"token\",\"password\": \"p\\\"w\",\"n\":{\"token\":\"t\"},"
				 "\"Authorization\":\"Bearer x\",\"key\":5}";
	char out[256];

	sp_rpc_redact_json(in, strlen(in), out, sizeof(out));
	assert_string_equal(out, "{\"q\":\"token\",\"password\": \"REDACTED\",\"n\":{\"token\":"
				 "\"REDACTED\"},\"Authorization\":\"REDACTED\",\"key\":5}");
	/* cut to the room given, always terminated */
	assert_int_equal(sp_rpc_redact_json(in, strlen(in), out, 8), 7);
	assert_int_equal(strlen(out), 7);
}


/* ---- MCP over streamable HTTP ---- */

struct hdrs {
	const char *kv[12];	/* name, value, ... NULL */
};

static const char *hdr(const void *msg, const char *name, size_t *len)
{
	const struct hdrs *h = msg;

	for (int i = 0; h->kv[i]; i += 2)
		if (!strcasecmp(h->kv[i], name)) {
			*len = strlen(h->kv[i + 1]);
			return h->kv[i + 1];
		}
	return NULL;
}

/* One POST through the consumers, the body in pieces of `step` bytes;
 * the consumer's span (made a child as the pipeline does) in *out. */
static const struct sp_body_sub *http_call(const struct hdrs *rqh, const char *req,
					   const struct hdrs *rsh, uint16_t status,
					   const char *resp, size_t step, bool content,
					   struct sp_span **out, char *name, size_t cap)
{
	struct sp_sem_opts o = { .llm = true,
				 .llm_opts = { .content = content, .content_max = 256 } };
	struct sp_head_view qv = { .method = "POST", .target = "/mcp", .target_len = 4,
				   .header = hdr, .msg = rqh };
	struct sp_head_view sv = { .status = status, .header = hdr, .msg = rsh };
	const struct sp_body_sub *sub;
	void *st = NULL;
	size_t n = strlen(resp);

	*out = NULL;
	sub = sp_body_sub_open(&o, &qv, &st);
	if (!sub)
		return NULL;
	sub->request_body(st, req, strlen(req), 1);
	sub->response_head(st, &sv);
	for (size_t i = 0; i < n; i += step) {
		size_t k = n - i < step ? n - i : step;
		char *piece = malloc(k);

		memcpy(piece, resp + i, k);
		sub->response_body(st, piece, k, 2);
		free(piece);
	}
	if (sub->is_call(st)) {
		*out = sp_span__alloc();
		sp_span__init(*out, "x", 1, SP_KIND_CLIENT, res);
		sub->span_name(st, name, cap);
		sub->fill(st, *out);
	}
	sub->free(st);
	return sub;
}

static const struct hdrs MCP_REQ_HDRS = { { "Accept", "application/json, text/event-stream",
					    "Content-Type", "application/json",
					    "Mcp-Session-Id", "a1b2c3",
					    "MCP-Protocol-Version", "2025-06-18", NULL } };

static void test_http_json(void **state)
{
	static const struct hdrs rsh = { { "Content-Type", "application/json", NULL } };
	const struct sp_body_sub *sub;
	struct sp_span *s;
	char name[128];

	sub = http_call(&MCP_REQ_HDRS, CALL_REQ, &rsh, 200, CALL_RESP, 7, true, &s, name,
			sizeof(name));
	assert_non_null(sub);
	assert_string_equal(sub->name, "mcp");
	assert_non_null(s);
	assert_string_equal(name, "tools/call echo");
	assert_int_equal(s->kind, SP_KIND_CLIENT);
	assert_string_equal(attr(s, "mcp.session.id")->s, "a1b2c3");
	assert_string_equal(attr(s, "mcp.protocol.version")->s, "2025-06-18");
	assert_string_equal(attr(s, "network.transport")->s, "tcp");
	assert_string_equal(attr(s, "gen_ai.tool.name")->s, "echo");
	assert_string_equal(attr(s, "jsonrpc.request.id")->s, "2");
	assert_string_equal(attr(s, "gen_ai.tool.call.result")->s, "hi\nagain");
	assert_string_equal(attr(s, "gen_ai.tool.call.arguments")->s,
			    "{\"text\":\"hi\",\"api_key\":\"REDACTED\"}");
	assert_int_equal(s->status, SP_STATUS_UNSET);
	sp_span__free(s);

	/* a JSON-RPC error answer */
	sub = http_call(&MCP_REQ_HDRS, BAD_REQ, &rsh, 200, BAD_RESP, 1, false, &s, name,
			sizeof(name));
	assert_string_equal(name, "tools/call nope");
	assert_string_equal(attr(s, "error.type")->s, "-32602");
	assert_int_equal(attr(s, "rpc.response.status_code")->i, -32602);
	sp_span__free(s);

	/* initialize: the server assigns the session in its answer */
	{
		static const struct hdrs init_rqh = { { "Accept",
			"application/json, text/event-stream", NULL } };
		static const struct hdrs init_rsh = { { "Content-Type",
			"application/json; charset=utf-8", "Mcp-Session-Id", "s-9", NULL } };

		http_call(&init_rqh, INIT_REQ, &init_rsh, 200, INIT_RESP, 1000, false, &s, name,
			  sizeof(name));
		assert_string_equal(name, "initialize");
		assert_string_equal(attr(s, "mcp.session.id")->s, "s-9");
		assert_string_equal(attr(s, "mcp.protocol.version")->s, "2025-06-18");
		sp_span__free(s);
	}

	/* a notification POSTed (202, no body): no span */
	assert_non_null(http_call(&MCP_REQ_HDRS, INITIALIZED, &rsh, 202, "", 1, false, &s,
				  name, sizeof(name)));
	assert_null(s);
	/* not MCP's headers: not this consumer's */
	{
		static const struct hdrs plain = { { "Content-Type", "application/json", NULL } };

		assert_null(http_call(&plain, CALL_REQ, &rsh, 200, CALL_RESP, 7, false, &s, name,
				      sizeof(name)));
	}
}

static void test_http_sse(void **state)
{
	static const struct hdrs rsh = { { "Content-Type", "text/event-stream",
					   "Cache-Control", "no-cache", NULL } };
	/* progress, a server request (sampling) with the same id, then the
	 * answer, the way the Python SDK's server streams them */
	static const char sse[] =
		"event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":"
		"\"notifications/progress\",\"params\":{\"progressToken\":2,\"progress\":0.5}}"
		"\r\n\r\n"
		"event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":2,\"method\":"
		"\"sampling/createMessage\",\"params\":{}}\r\n\r\n"
		"event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"content\":"
		"[{\"type\":\"text\",\"text\":\"boom\"}],\"isError\":true}}\r\n\r\n";
	struct sp_span *s;
	char name[128];

	for (size_t step = 1; step < sizeof(sse); step += 37) {
		assert_non_null(http_call(&MCP_REQ_HDRS, CALL_REQ, &rsh, 200, sse, step, true, &s,
					  name, sizeof(name)));
		assert_non_null(s);
		assert_string_equal(name, "tools/call echo");
		assert_string_equal(attr(s, "error.type")->s, "tool_error");
		assert_string_equal(attr(s, "gen_ai.tool.call.result")->s, "boom");
		assert_int_equal(s->status, SP_STATUS_ERROR);
		sp_span__free(s);
	}
	/* a batch: the span is its first request's */
	{
		static const char batch[] = "[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"},"
			"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"},"
			"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}]";
		static const struct hdrs jsh = { { "Content-Type", "application/json", NULL } };

		http_call(&MCP_REQ_HDRS, batch, &jsh, 200, "[" "{\"jsonrpc\":\"2.0\",\"id\":2,"
			  "\"result\":{}},{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":"
			  "-32601,\"message\":\"no\"}}]", 3, false, &s, name, sizeof(name));
		assert_string_equal(name, "tools/list");
		assert_string_equal(attr(s, "error.type")->s, "-32601");
		sp_span__free(s);
	}
}


/* ---- through the capture stage ---- */

static struct got streams_got[4];
static int streams_ngot;
static char streams_transport[4][8];

static void on_streams_rpc(void *ctx, const struct sp_rpc_exchange *ex)
{
	assert_true(streams_ngot < 4);
	streams_got[streams_ngot].ex = *ex;
	snprintf(streams_got[streams_ngot].method, 64, "%s", ex->method);
	snprintf(streams_transport[streams_ngot], 8, "%s", ex->transport ? ex->transport : "");
	streams_ngot++;
}

static void on_streams_http(void *ctx, const struct sp_http_exchange *ex)
{
	fail_msg("no HTTP here");
}

static void stream_rec(struct sp_streams *s, uint32_t pid, uint8_t dir, uint64_t *seq,
		       const char *data, uint64_t t0, uint64_t t1)
{
	size_t len = strlen(data);
	struct sp_data_event *ev = calloc(1, sizeof(*ev) + len);

	ev->type = SP_EV_DATA;
	ev->tgid = ev->tid = pid;
	/* fd 0 and 1 as one stream, as the kernel side reports them */
	ev->fd = SP_FD_STDIO;
	ev->source = SP_SRC_PIPE;
	ev->dir = dir;
	ev->seq = *seq;
	ev->gen = 1;
	ev->len = ev->call_len = len;
	ev->ts_enter = t0;
	ev->ts_exit = t1;
	memcpy(ev + 1, data, len);
	sp_streams__data(s, ev, (const uint8_t *)(ev + 1));
	*seq += len;
	free(ev);
}

/* The stdio capture: one stream of the server (its fd 0 and 1 as one, as
 * the kernel side reports them); exchanges come out of the setter's
 * callback, on a pipe. A process exit cuts what is in flight. */
static void test_through_streams(void **state)
{
	struct sp_sem_opts sem = {};
	struct sp_streams *s = sp_streams__new(16, 16, &sem, on_streams_http, NULL);
	uint64_t in = 0, out = 0;

	assert_non_null(s);
	streams_ngot = 0;
	/* none until set: nothing breaks */
	stream_rec(s, 77, IN, &in, PROMPT_REQ, 1, 2);
	stream_rec(s, 77, OUT, &out, PROMPT_RESP, 3, 4);
	sp_streams__set_rpc_emit(s, on_streams_rpc, NULL);
	stream_rec(s, 77, IN, &in, LIST_REQ, 10, 11);
	stream_rec(s, 77, OUT, &out, LIST_RESP, 20, 21);
	stream_rec(s, 77, IN, &in, CALL_REQ, 30, 31);
	assert_true(sp_streams__pid_busy(s, 77));
	sp_streams__proc_exit(s, 77, 40);
	assert_int_equal(streams_ngot, 2);
	assert_string_equal(streams_got[0].method, "tools/list");
	assert_int_equal(streams_got[0].ex.pid, 77);
	assert_int_equal(streams_got[0].ex.role, SP_ROLE_SERVER);
	assert_string_equal(streams_transport[0], "pipe");
	assert_string_equal(streams_got[1].method, "tools/call");
	assert_true(streams_got[1].ex.cut);
	assert_int_equal(streams_got[1].ex.end_ns, 40);
	assert_int_equal(sp_streams__stats(s)->exchanges, 3);
	in = 0;
	stream_rec(s, 78, IN, &in, INITIALIZED, 50, 51);
	assert_int_equal(sp_streams__stats(s)->rpc_notifications, 1);
	sp_streams__free(s);
}

static int setup(void **state)
{
	res = sp_resource__new();
	return res ? 0 : -1;
}

static int teardown(void **state)
{
	sp_resource__put(res);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session),
		cmocka_unit_test(test_spans),
		cmocka_unit_test(test_server_to_client_request),
		cmocka_unit_test(test_split_and_joined),
		cmocka_unit_test(test_hole),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_cancelled),
		cmocka_unit_test(test_big_line),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_inflight_bound),
		cmocka_unit_test(test_state_size),
		cmocka_unit_test(test_sniff),
		cmocka_unit_test(test_traceparent),
		cmocka_unit_test(test_redact_json),
		cmocka_unit_test(test_http_json),
		cmocka_unit_test(test_http_sse),
		cmocka_unit_test(test_through_streams),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
