// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Ring-buffer records in, span trees and OTLP/JSON out: the userspace
 * pipeline driven by synthetic records, as BPF would write them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <yajl/yajl_tree.h>
#include "exporters/exporter.h"
#include "exporters/otlp_json.h"
#include "pipeline.h"
#include "model/span_pool.h"
#include "util/clock.h"
#include "semantics/trace_context.h"

#define MAX_SPANS 64
#define MS 1000000ull

struct got_span {
	char name[128];
	uint8_t trace[16], id[8], parent[8];
	int kind, status;
	uint64_t start, end;
	int64_t status_code, exit_code, port;
	char error_type[64], url[256], service[128];
	bool truncated;
	bool partial;		/* sp_span.trace_partial */
	bool unfinished;	/* spanprobe.span.unfinished */
	char trace_end[16];	/* spanprobe.trace.end */
	int64_t step_mark;	/* test.step, set by an enrichment step */
	char op[32];		/* gen_ai.operation.name */
	char oi_kind[16];	/* openinference.span.kind */
	char tool_id[64];	/* gen_ai.tool.call.id */
	int64_t pid;		/* process.pid */
	int64_t resends;	/* http.request.resend_count */
	bool remote_parent;
	char trace_state[64];
	char conv[40];		/* gen_ai.conversation.id */
	int call;		/* which export() call held it */
};

static struct got_span got[MAX_SPANS];
static int ngot;
static char *json_lines[64];
static int njson;

static int64_t attr_int(const struct sp_span *s, const char *k)
{
	const struct sp_attr *a = sp_span__attr(s, k);

	return a ? a->i : -1;
}

static void attr_str(const struct sp_span *s, const char *k, char *out, size_t cap)
{
	const struct sp_attr *a = sp_span__attr(s, k);

	snprintf(out, cap, "%s", a ? a->s : "");
}

static int capture_export(struct sp_exporter *e, struct sp_span *const *spans, size_t n)
{
	size_t len;

	for (size_t i = 0; i < n; i++) {
		const struct sp_span *s = spans[i];
		struct got_span *g = &got[ngot++];

		assert_true(ngot <= MAX_SPANS);
		snprintf(g->name, sizeof(g->name), "%s", s->name);
		memcpy(g->trace, s->trace_id, 16);
		memcpy(g->id, s->span_id, 8);
		memcpy(g->parent, s->parent_id, 8);
		g->kind = s->kind;
		g->status = s->status;
		g->start = s->start_ns;
		g->end = s->end_ns;
		g->status_code = attr_int(s, "http.response.status_code");
		g->exit_code = attr_int(s, "process.exit.code");
		g->port = attr_int(s, "server.port");
		attr_str(s, "error.type", g->error_type, sizeof(g->error_type));
		attr_str(s, "url.full", g->url, sizeof(g->url));
		g->truncated = sp_span__attr(s, "spanprobe.capture.truncated") != NULL;
		g->partial = s->trace_partial;
		g->unfinished = sp_span__attr(s, "spanprobe.span.unfinished") != NULL;
		attr_str(s, "spanprobe.trace.end", g->trace_end, sizeof(g->trace_end));
		g->step_mark = attr_int(s, "test.step");
		attr_str(s, "gen_ai.operation.name", g->op, sizeof(g->op));
		attr_str(s, "openinference.span.kind", g->oi_kind, sizeof(g->oi_kind));
		attr_str(s, "gen_ai.tool.call.id", g->tool_id, sizeof(g->tool_id));
		g->pid = attr_int(s, "process.pid");
		g->resends = attr_int(s, "http.request.resend_count");
		g->remote_parent = s->remote_parent;
		attr_str(s, "gen_ai.conversation.id", g->conv, sizeof(g->conv));
		snprintf(g->trace_state, sizeof(g->trace_state), "%s",
			 s->trace_state ? s->trace_state : "");
		g->call = njson;
		snprintf(g->service, sizeof(g->service), "%s", s->res->service_name);
	}
	assert_int_equal(sp_otlp_json__encode(spans, n, &json_lines[njson], &len), 0);
	assert_int_equal(strlen(json_lines[njson]), len);
	njson++;
	return 0;
}

static int capture_flush(struct sp_exporter *e)
{
	return 0;
}

static void capture_free(struct sp_exporter *e)
{
	free(e);
}

static uint64_t idle_ns;	/* --trace-idle for the next new_pipeline() */
static bool no_proc;		/* the next new_pipeline() reads no /proc */

/* A /proc with nothing in it: facts come from the records alone. */
static size_t empty_proc(void *ctx, uint32_t pid, const char *what, char *buf, size_t cap)
{
	return 0;
}

/* ao: span assembly's options (NULL: the defaults below); max_procs 0: 64 */
static struct sp_pipeline *new_pipeline_with(bool all, const struct sp_asm_opts *ao,
					     uint32_t max_procs)
{
	struct sp_pipeline_opts o = {
		.asm_opts = { .trace_idle_ns = idle_ns, .flush_interval_ns = 1000 * MS,
			      .max_spans = 64, .batch_max = 16 },
		.max_procs = max_procs ? max_procs : 64, .max_streams = 16, .max_sockets = 16,
		.all = all, .llm = true, .llm_opts = { .content = true, .content_max = 4096 },
		.proc_read = no_proc ? empty_proc : NULL,
	};
	struct sp_pipeline *p;
	struct sp_exporter *e = calloc(1, sizeof(*e));

	if (ao)
		o.asm_opts = *ao;
	p = sp_pipeline__new(&o);
	assert_non_null(p);
	e->name = "capture";
	e->export = capture_export;
	e->flush = capture_flush;
	e->free = capture_free;
	assert_int_equal(sp_pipeline__add_sink(p, e), 0);
	ngot = 0;
	for (int i = 0; i < njson; i++)
		free(json_lines[i]);
	njson = 0;
	return p;
}

static struct sp_pipeline *new_pipeline(bool all)
{
	return new_pipeline_with(all, NULL, 0);
}

static void proc_ev(struct sp_pipeline *p, uint32_t type, uint32_t pid, uint32_t ppid,
		    const char *argv, size_t argv_len, int status, uint64_t ts)
{
	struct sp_proc_event ev = { .type = type, .tgid = pid, .ppid = ppid, .exit_code = status,
				    .ts = ts };

	if (argv) {
		snprintf(ev.filename, sizeof(ev.filename), "/usr/bin/%s", argv);
		memcpy(ev.args, argv, argv_len);
		ev.args_len = argv_len;
	}
	assert_int_equal(sp_pipeline__handle(p, &ev, sizeof(ev)), 0);
}

static void conn_ev(struct sp_pipeline *p, uint32_t pid, int fd, uint8_t role, uint16_t rport,
		    uint16_t lport)
{
	struct sp_conn_event ev = { .type = SP_EV_CONN, .tgid = pid, .fd = fd, .role = role };

	ev.remote.family = ev.local.family = 2;
	ev.remote.port = rport;
	ev.local.port = lport;
	memcpy(ev.remote.v4, "\x7f\0\0\x01", 4);
	memcpy(ev.local.v4, "\x7f\0\0\x01", 4);
	assert_int_equal(sp_pipeline__handle(p, &ev, sizeof(ev)), 0);
}

/* One data record; seq is tracked per (pid, fd/ssl, dir) by the caller. */
static uint64_t cur_gen;	/* the kernel's stream generation to stamp */

static void data_ev(struct sp_pipeline *p, uint32_t pid, int fd, uint64_t ssl, uint8_t dir,
		    uint64_t seq, const char *data, uint64_t t0, uint64_t t1)
{
	size_t len = strlen(data);
	struct sp_data_event *ev = calloc(1, sizeof(*ev) + len);

	ev->type = SP_EV_DATA;
	ev->tgid = pid;
	ev->tid = pid;
	ev->fd = fd;
	ev->ssl = ssl;
	ev->source = ssl ? SP_SRC_TLS : SP_SRC_SOCK;
	ev->dir = dir;
	ev->seq = seq;
	ev->gen = cur_gen;
	ev->len = ev->call_len = len;
	ev->ts_enter = t0;
	ev->ts_exit = t1;
	memcpy(ev + 1, data, len);
	assert_int_equal(sp_pipeline__handle(p, ev, sizeof(*ev) + len), 0);
	free(ev);
}

static const char REQ[] = "GET /delay?ms=300&token=hunter2 HTTP/1.1\r\nHost: 127.0.0.1:8443\r\n"
			  "User-Agent: curl/7.88.1\r\nAuthorization: Bearer hunter2\r\n\r\n";
static const char RESP[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
static const char RESP500[] = "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n";

static struct got_span *find(const char *name)
{
	for (int i = 0; i < ngot; i++)
		if (!strcmp(got[i].name, name))
			return &got[i];
	fail_msg("no span named %s", name);
	return NULL;
}

static void test_client_tls_exchange(void **state)
{
	struct sp_pipeline *p = new_pipeline(true);
	struct got_span *http, *root;

	proc_ev(p, SP_EV_PROC_EXEC, 100, 1, "curl\0https://x", 15, 0, 10 * MS);
	conn_ev(p, 100, 5, SP_ROLE_CLIENT, 8443, 40000);
	data_ev(p, 100, 5, 0xabc, SP_DIR_EGRESS, 0, REQ, 20 * MS, 21 * MS);
	/* the response in two reads */
	data_ev(p, 100, 5, 0xabc, SP_DIR_INGRESS, 0, "HTTP/1.1 200 OK\r\nContent-Le", 21 * MS,
		320 * MS);
	data_ev(p, 100, 5, 0xabc, SP_DIR_INGRESS, 27, "ngth: 2\r\n\r\nok", 320 * MS, 321 * MS);
	proc_ev(p, SP_EV_PROC_EXIT, 100, 0, NULL, 0, 0, 330 * MS);
	sp_pipeline__shutdown(p, 400 * MS);

	assert_int_equal(ngot, 2);
	http = find("GET /delay");
	root = find("curl");
	assert_int_equal(http->kind, SP_KIND_CLIENT);
	assert_int_equal(http->status_code, 200);
	assert_int_equal(http->port, 8443);
	assert_int_equal(http->end - http->start, 301 * MS);
	assert_string_equal(http->url, "https://127.0.0.1:8443/delay?ms=300&token=REDACTED");
	assert_memory_equal(http->trace, root->trace, 16);
	assert_memory_equal(http->parent, root->id, 8);
	assert_int_equal(root->kind, SP_KIND_INTERNAL);
	assert_int_equal(root->exit_code, 0);
	assert_string_equal(root->service, "curl");
	for (int i = 0; i < njson; i++)
		assert_null(strstr(json_lines[i], "hunter2"));
	sp_pipeline__free(p);
}

static void test_server_exchange_and_500(void **state)
{
	struct sp_pipeline *p = new_pipeline(true);
	struct got_span *srv;

	proc_ev(p, SP_EV_PROC_EXEC, 300, 1, "python3\0srv.py", 15, 0, 1 * MS);
	conn_ev(p, 300, 7, SP_ROLE_SERVER, 50000, 8080);
	data_ev(p, 300, 7, 0, SP_DIR_INGRESS, 0, REQ, 4 * MS, 5 * MS);
	data_ev(p, 300, 7, 0, SP_DIR_EGRESS, 0, RESP500, 6 * MS, 7 * MS);
	sp_pipeline__shutdown(p, 10 * MS);

	srv = find("GET /delay");
	assert_int_equal(srv->kind, SP_KIND_SERVER);
	assert_int_equal(srv->start, srv->end - 2 * MS);
	assert_int_equal(srv->status, SP_STATUS_ERROR);
	assert_string_equal(srv->error_type, "500");
	assert_int_equal(srv->port, 8080);
	sp_pipeline__free(p);
}

static void test_command_tree(void **state)
{
	struct sp_pipeline *p = new_pipeline(false);
	struct got_span *sh, *curl, *http;

	assert_int_equal(sp_pipeline__target(p, 200, 1 * MS), 0);
	proc_ev(p, SP_EV_PROC_EXEC, 200, 1, "sh\0-c\0curl x", 13, 0, 1 * MS);
	proc_ev(p, SP_EV_PROC_FORK, 201, 200, NULL, 0, 0, 2 * MS);
	proc_ev(p, SP_EV_PROC_EXEC, 201, 200, "curl\0x", 7, 0, 3 * MS);
	data_ev(p, 201, 3, 0, SP_DIR_EGRESS, 0, REQ, 4 * MS, 4 * MS);
	data_ev(p, 201, 3, 0, SP_DIR_INGRESS, 0, RESP, 5 * MS, 9 * MS);
	proc_ev(p, SP_EV_PROC_EXIT, 201, 0, NULL, 0, 0, 10 * MS);
	proc_ev(p, SP_EV_PROC_EXIT, 200, 0, NULL, 0, 3 << 8, 11 * MS);
	sp_pipeline__shutdown(p, 20 * MS);

	assert_int_equal(ngot, 3);
	sh = find("sh");
	curl = find("curl");
	http = find("GET /delay");
	assert_memory_equal(curl->trace, sh->trace, 16);
	assert_memory_equal(http->trace, sh->trace, 16);
	assert_memory_equal(curl->parent, sh->id, 8);
	assert_memory_equal(http->parent, curl->id, 8);
	assert_int_equal(sh->exit_code, 3);
	assert_int_equal(sh->status, SP_STATUS_ERROR);
	assert_true(sp_id_is_zero(sh->parent, 8));
	assert_int_equal(http->port, 8443);	/* no socket info: from Host */
	sp_pipeline__free(p);
}

static void test_reset_and_close_fail_pending(void **state)
{
	struct sp_pipeline *p = new_pipeline(true);
	struct sp_conn_event reset = { .type = SP_EV_CONN_ERR, .tgid = 400, .fd = 9,
				       .err = -104, .ts = 50 * MS };
	struct got_span *a, *b;

	proc_ev(p, SP_EV_PROC_EXEC, 400, 1, "agent", 6, 0, 1 * MS);
	data_ev(p, 400, 9, 0, SP_DIR_EGRESS, 0, REQ, 2 * MS, 2 * MS);
	data_ev(p, 400, 9, 0, SP_DIR_INGRESS, 0, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab",
		3 * MS, 3 * MS);
	assert_int_equal(sp_pipeline__handle(p, &reset, sizeof(reset)), 0);
	/* a second connection whose process dies mid-request */
	data_ev(p, 400, 10, 0, SP_DIR_EGRESS, 0, "POST /b HTTP/1.1\r\nContent-Length: 1\r\n\r\nx",
		60 * MS, 60 * MS);
	proc_ev(p, SP_EV_PROC_EXIT, 400, 0, NULL, 0, 9, 70 * MS);
	sp_pipeline__shutdown(p, 80 * MS);

	a = find("GET /delay");
	b = find("POST /b");
	assert_string_equal(a->error_type, "connection_reset");
	assert_int_equal(a->status_code, 200);
	assert_int_equal(a->end, a->start + 48 * MS);
	assert_string_equal(b->error_type, "process_exited");
	assert_int_equal(find("agent")->exit_code, 128 + 9);
	sp_pipeline__free(p);
}

/* Joined mid-stream: the first thing seen is a response to a request
 * before our time. It must not be paired with the next request. */
static void test_mid_stream_join(void **state)
{
	struct sp_pipeline *p = new_pipeline(true);
	struct got_span *srv;

	proc_ev(p, SP_EV_PROC_EXEC, 500, 1, "server", 7, 0, 1 * MS);
	data_ev(p, 500, 4, 0, SP_DIR_EGRESS, 1000, RESP, 2 * MS, 3 * MS);
	data_ev(p, 500, 4, 0, SP_DIR_INGRESS, 5000, REQ, 10 * MS, 11 * MS);
	data_ev(p, 500, 4, 0, SP_DIR_EGRESS, 1000 + strlen(RESP), RESP500, 12 * MS, 13 * MS);
	sp_pipeline__shutdown(p, 20 * MS);

	srv = find("GET /delay");
	assert_int_equal(srv->kind, SP_KIND_SERVER);
	assert_int_equal(srv->status_code, 500);
	assert_int_equal(srv->end - srv->start, 2 * MS);
	assert_int_equal(sp_pipeline__streams_stats(p)->orphan_responses, 1);
	sp_pipeline__free(p);
}

/* Joined mid-stream on a record that merely looks like another protocol
 * (a JSON-RPC body, a TLS-record-like byte run): it does not decide the
 * stream; the next message start does. */
static void test_lookalike_does_not_stick(void **state)
{
	static const char body[] = "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}";
	struct sp_pipeline *p = new_pipeline(true);
	uint64_t seq = 0;

	proc_ev(p, SP_EV_PROC_EXEC, 510, 1, "client", 7, 0, 1 * MS);
	data_ev(p, 510, 4, 0, SP_DIR_INGRESS, 0, body, 2 * MS, 3 * MS);
	data_ev(p, 510, 4, 0, SP_DIR_EGRESS, seq, "\x17\x03\x03\x00\x10", 3 * MS, 3 * MS);
	seq += 5;
	data_ev(p, 510, 4, 0, SP_DIR_EGRESS, seq, REQ, 4 * MS, 5 * MS);
	data_ev(p, 510, 4, 0, SP_DIR_INGRESS, strlen(body), RESP, 6 * MS, 7 * MS);
	sp_pipeline__shutdown(p, 20 * MS);

	assert_int_equal(find("GET /delay")->status_code, 200);
	assert_int_equal(sp_pipeline__streams_stats(p)->exchanges, 1);
	/* a JSON-RPC body without its newline is not MCP's stdio framing:
	 * not taken, not even recognised (the TLS-like run is 3 bytes) */
	assert_int_equal(sp_pipeline__streams_stats(p)->undecoded_streams, 0);
	sp_pipeline__free(p);
}

/* The process read the head and closed: its choice, not an error. */
static void test_client_abandons_body(void **state)
{
	struct sp_pipeline *p = new_pipeline(true);
	struct sp_conn_event close_ev = { .type = SP_EV_CONN_CLOSE, .tgid = 600, .fd = 3,
					  .ts = 90 * MS };
	struct got_span *g;

	proc_ev(p, SP_EV_PROC_EXEC, 600, 1, "python3\0c.py", 13, 0, 1 * MS);
	data_ev(p, 600, 3, 0, SP_DIR_EGRESS, 0, REQ, 2 * MS, 2 * MS);
	data_ev(p, 600, 3, 0, SP_DIR_INGRESS, 0, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
		3 * MS, 5 * MS);
	assert_int_equal(sp_pipeline__handle(p, &close_ev, sizeof(close_ev)), 0);
	sp_pipeline__shutdown(p, 100 * MS);

	g = find("GET /delay");
	assert_int_equal(g->status, SP_STATUS_UNSET);
	assert_int_equal(g->status_code, 200);
	assert_int_equal(g->end, g->start + 3 * MS);
	sp_pipeline__free(p);
}

/* The kernel recreated a stream's state (LRU): offsets restart at 0. */
static void test_kernel_stream_restart(void **state)
{
	struct sp_pipeline *p = new_pipeline(true);

	proc_ev(p, SP_EV_PROC_EXEC, 700, 1, "agent", 6, 0, 1 * MS);
	cur_gen = 1;
	data_ev(p, 700, 3, 0, SP_DIR_EGRESS, 0, REQ, 2 * MS, 2 * MS);
	cur_gen = 2;
	data_ev(p, 700, 3, 0, SP_DIR_EGRESS, 0, "POST /again HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
		5 * MS, 5 * MS);
	data_ev(p, 700, 3, 0, SP_DIR_INGRESS, 0, RESP, 6 * MS, 7 * MS);
	cur_gen = 0;
	sp_pipeline__shutdown(p, 10 * MS);

	assert_string_equal(find("GET /delay")->error_type, "spanprobe_evicted");
	assert_int_equal(find("POST /again")->status_code, 200);
	assert_int_equal(sp_pipeline__streams_stats(p)->stream_restarts, 1);
	sp_pipeline__free(p);
}

static int count_named(const char *name)
{
	int n = 0;

	for (int i = 0; i < ngot; i++)
		n += !strcmp(got[i].name, name);
	return n;
}

/* A 1 MB body in one write, captured up to the cap: the end-of-call hole
 * record keeps the framing, and the next exchange pairs right. */
static void test_request_cut_at_cap(void **state)
{
	struct sp_pipeline *p = new_pipeline(true);
	char head[256], body[101];
	size_t hl;

	snprintf(head, sizeof(head), "POST /big HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n");
	hl = strlen(head);
	memset(body, 'x', 100);
	body[100] = 0;
	strcat(head, body);
	proc_ev(p, SP_EV_PROC_EXEC, 800, 1, "agent", 6, 0, 1 * MS);
	data_ev(p, 800, 3, 0, SP_DIR_EGRESS, 0, head, 2 * MS, 3 * MS);
	data_ev(p, 800, 3, 0, SP_DIR_EGRESS, hl + 1000000, "", 3 * MS, 3 * MS);	/* hole */
	data_ev(p, 800, 3, 0, SP_DIR_INGRESS, 0, RESP, 4 * MS, 5 * MS);
	data_ev(p, 800, 3, 0, SP_DIR_EGRESS, hl + 1000000, "GET /next HTTP/1.1\r\n\r\n", 6 * MS,
		6 * MS);
	data_ev(p, 800, 3, 0, SP_DIR_INGRESS, strlen(RESP), RESP500, 7 * MS, 8 * MS);
	sp_pipeline__shutdown(p, 10 * MS);

	assert_int_equal(find("POST /big")->status_code, 200);
	assert_true(find("POST /big")->truncated);
	assert_int_equal(find("POST /big")->status, SP_STATUS_UNSET);
	assert_int_equal(find("GET /next")->status_code, 500);
	sp_pipeline__free(p);
}

/* A response lost in a hole: the next one pairs by time, and the request
 * left without one says so. */
static void test_lost_response_repairs_by_time(void **state)
{
	struct sp_pipeline *p = new_pipeline(true);

	proc_ev(p, SP_EV_PROC_EXEC, 801, 1, "agent", 6, 0, 1 * MS);
	data_ev(p, 801, 3, 0, SP_DIR_EGRESS, 0, "GET /1 HTTP/1.1\r\n\r\n", 2 * MS, 2 * MS);
	data_ev(p, 801, 3, 0, SP_DIR_EGRESS, 19, "GET /2 HTTP/1.1\r\n\r\n", 10 * MS, 10 * MS);
	/* response 1 (strlen(RESP) bytes) never arrived */
	data_ev(p, 801, 3, 0, SP_DIR_INGRESS, strlen(RESP), RESP500, 11 * MS, 12 * MS);
	sp_pipeline__shutdown(p, 20 * MS);

	assert_string_equal(find("GET /1")->error_type, "spanprobe_response_lost");
	assert_int_equal(find("GET /2")->status_code, 500);
	assert_int_equal(count_named("GET /2"), 1);
	sp_pipeline__free(p);
}

/* A hole in a chunked (streaming) response is our loss, not an error. */
static void test_hole_in_chunked_response(void **state)
{
	struct sp_pipeline *p = new_pipeline(true);
	static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
	struct got_span *g;

	proc_ev(p, SP_EV_PROC_EXEC, 802, 1, "agent", 6, 0, 1 * MS);
	data_ev(p, 802, 3, 0, SP_DIR_EGRESS, 0, REQ, 2 * MS, 2 * MS);
	data_ev(p, 802, 3, 0, SP_DIR_INGRESS, 0, head, 3 * MS, 3 * MS);
	data_ev(p, 802, 3, 0, SP_DIR_INGRESS, strlen(head) + 500, "5\r\nworld\r\n0\r\n\r\n", 9 * MS,
		9 * MS);
	sp_pipeline__shutdown(p, 20 * MS);

	g = find("GET /delay");
	assert_int_equal(g->status_code, 200);
	assert_int_equal(g->status, SP_STATUS_UNSET);
	assert_true(g->truncated);
	sp_pipeline__free(p);
}

/* CONNECT ends at its 2xx; a declined Upgrade leaves HTTP/1 going. */
static void test_connect_and_declined_upgrade(void **state)
{
	struct sp_pipeline *p = new_pipeline(true);
	static const char conn[] = "CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n";
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	static const char up[] = "GET /up HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\n"
				 "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n";
	static const char second[] = "GET /second HTTP/1.1\r\nHost: h\r\n\r\n";
	struct sp_conn_event close_ev = { .type = SP_EV_CONN_CLOSE, .tgid = 803, .fd = 3,
					  .ts = 90 * MS };
	struct got_span *c;

	proc_ev(p, SP_EV_PROC_EXEC, 803, 1, "agent", 6, 0, 1 * MS);
	data_ev(p, 803, 3, 0, SP_DIR_EGRESS, 0, conn, 2 * MS, 2 * MS);
	data_ev(p, 803, 3, 0, SP_DIR_INGRESS, 0, ok, 5 * MS, 5 * MS);
	data_ev(p, 803, 3, 0, SP_DIR_EGRESS, strlen(conn), "\x16\x03\x01\x02\x00\x01", 6 * MS,
		6 * MS);
	assert_int_equal(sp_pipeline__handle(p, &close_ev, sizeof(close_ev)), 0);
	data_ev(p, 803, 4, 0, SP_DIR_EGRESS, 0, up, 10 * MS, 10 * MS);
	data_ev(p, 803, 4, 0, SP_DIR_INGRESS, 0, RESP, 11 * MS, 11 * MS);
	data_ev(p, 803, 4, 0, SP_DIR_EGRESS, strlen(up), second, 12 * MS, 12 * MS);
	data_ev(p, 803, 4, 0, SP_DIR_INGRESS, strlen(RESP), RESP500, 13 * MS, 14 * MS);
	sp_pipeline__shutdown(p, 100 * MS);

	c = find("CONNECT api.example.com:443");
	assert_int_equal(c->status_code, 200);
	assert_int_equal(c->end, c->start + 3 * MS);	/* not the tunnel's life */
	assert_int_equal(find("GET /up")->status_code, 200);
	assert_int_equal(find("GET /second")->status_code, 500);
	sp_pipeline__free(p);
}

/* A client half-closes after its request: the server still answers. */
static void test_server_sees_client_eof(void **state)
{
	struct sp_pipeline *p = new_pipeline(true);
	struct sp_conn_event eof = { .type = SP_EV_CONN_ERR, .tgid = 804, .fd = 5, .err = 0,
				     .ts = 3 * MS, .dir = SP_DIR_INGRESS };
	struct got_span *g;

	proc_ev(p, SP_EV_PROC_EXEC, 804, 1, "server", 7, 0, 1 * MS);
	data_ev(p, 804, 5, 0, SP_DIR_INGRESS, 0, "POST /x HTTP/1.1\r\nContent-Length: 1\r\n\r\nx",
		2 * MS, 2 * MS);
	assert_int_equal(sp_pipeline__handle(p, &eof, sizeof(eof)), 0);
	data_ev(p, 804, 5, 0, SP_DIR_EGRESS, 0, RESP, 4 * MS, 5 * MS);
	sp_pipeline__shutdown(p, 10 * MS);

	g = find("POST /x");
	assert_int_equal(g->kind, SP_KIND_SERVER);
	assert_int_equal(g->status_code, 200);
	assert_int_equal(g->status, SP_STATUS_UNSET);
	sp_pipeline__free(p);
}

/* A call longer than the idle gap does not split the trace. */
static void test_idle_rule_waits_for_calls(void **state)
{
	struct sp_pipeline *p;
	int roots = 0;

	idle_ns = 1000 * MS;
	p = new_pipeline(false);
	idle_ns = 0;
	assert_int_equal(sp_pipeline__target(p, 805, 1 * MS), 0);
	data_ev(p, 805, 3, 0, SP_DIR_EGRESS, 0, REQ, 2 * MS, 2 * MS);
	sp_pipeline__tick(p, 5000 * MS);	/* 5 s into a 40 s call */
	data_ev(p, 805, 3, 0, SP_DIR_INGRESS, 0, RESP, 40000 * MS, 40001 * MS);
	sp_pipeline__tick(p, 60000 * MS);	/* idle now: the trace ends */
	sp_pipeline__shutdown(p, 70000 * MS);

	for (int i = 0; i < ngot; i++)
		roots += sp_id_is_zero(got[i].parent, 8);
	assert_int_equal(roots, 1);
	assert_memory_equal(find("GET /delay")->trace, got[ngot - 1].trace, 16);
	/* nor does it make the trace buffer give up on it */
	for (int i = 0; i < ngot; i++)
		assert_false(got[i].partial);
	assert_int_equal(sp_span_asm__trace_stats(sp_pipeline__asm(p))->traces_completed, 1);
	sp_pipeline__free(p);
}

/* One GET exchange on a connection of its own (fd), from t0 to t1. */
static void exchange(struct sp_pipeline *p, uint32_t pid, int fd, uint64_t t0, uint64_t t1)
{
	data_ev(p, pid, fd, 0, SP_DIR_EGRESS, 0, REQ, t0, t0);
	data_ev(p, pid, fd, 0, SP_DIR_INGRESS, 0, RESP, t1, t1);
}

static const struct sp_trace_buf_stats *tstats(struct sp_pipeline *p)
{
	return sp_span_asm__trace_stats(sp_pipeline__asm(p));
}

/* A child outlives its parent, whose pid a new process then takes (with a
 * child of its own): the old child's end must not count against the new
 * process, whose trace the idle rule would then end under a running child. */
static void test_parent_pid_reused(void **state)
{
	struct sp_pipeline *p;

	idle_ns = 100 * MS;
	p = new_pipeline(true);
	/* A (700) makes a call, so it has a span; its child C (701) gets one */
	proc_ev(p, SP_EV_PROC_EXEC, 700, 1, "agent", 6, 0, 1 * MS);
	exchange(p, 700, 3, 2 * MS, 3 * MS);
	proc_ev(p, SP_EV_PROC_FORK, 701, 700, NULL, 0, 0, 4 * MS);
	proc_ev(p, SP_EV_PROC_EXIT, 700, 0, NULL, 0, 0, 5 * MS);
	/* B takes pid 700, makes a call, and forks D (702) */
	proc_ev(p, SP_EV_PROC_EXEC, 700, 1, "other", 6, 0, 6 * MS);
	exchange(p, 700, 4, 7 * MS, 8 * MS);
	proc_ev(p, SP_EV_PROC_FORK, 702, 700, NULL, 0, 0, 9 * MS);
	proc_ev(p, SP_EV_PROC_EXIT, 701, 0, NULL, 0, 0, 10 * MS);	/* C, not B's */
	sp_pipeline__tick(p, 500 * MS);	/* long idle, but D runs under B */
	sp_pipeline__tick(p, 1600 * MS);	/* past the batch interval */
	for (int i = 0; i < ngot; i++)
		assert_string_equal(got[i].trace_end, "");
	sp_pipeline__shutdown(p, 1700 * MS);
	idle_ns = 0;
	sp_pipeline__free(p);
}

/* Children end first, yet nothing reaches the sink before the root ends;
 * then the whole trace comes in one export() call. */
static void test_trace_leaves_with_its_root(void **state)
{
	struct sp_pipeline *p = new_pipeline(false);

	assert_int_equal(sp_pipeline__target(p, 210, 1 * MS), 0);
	proc_ev(p, SP_EV_PROC_EXEC, 210, 1, "sh\0-c\0curl x", 13, 0, 1 * MS);
	proc_ev(p, SP_EV_PROC_FORK, 211, 210, NULL, 0, 0, 2 * MS);
	proc_ev(p, SP_EV_PROC_EXEC, 211, 210, "curl\0x", 7, 0, 3 * MS);
	exchange(p, 211, 3, 4 * MS, 9 * MS);
	proc_ev(p, SP_EV_PROC_EXIT, 211, 0, NULL, 0, 0, 10 * MS);
	sp_pipeline__tick(p, 2000 * MS);	/* past the batch interval */
	assert_int_equal(ngot, 0);
	assert_int_equal(tstats(p)->spans_held, 2);
	proc_ev(p, SP_EV_PROC_EXIT, 210, 0, NULL, 0, 0, 2100 * MS);
	sp_pipeline__tick(p, 3200 * MS);
	assert_int_equal(njson, 1);
	assert_int_equal(ngot, 3);
	assert_string_equal(got[0].name, "GET /delay");
	assert_string_equal(got[1].name, "curl");
	assert_string_equal(got[2].name, "sh");
	for (int i = 0; i < 3; i++) {
		assert_false(got[i].partial);
		assert_memory_equal(got[i].trace, got[2].trace, 16);
	}
	assert_int_equal(tstats(p)->traces_completed, 1);
	assert_int_equal(tstats(p)->spans_held, 0);
	assert_int_equal(tstats(p)->spans_held_max, 3);
	sp_pipeline__shutdown(p, 4000 * MS);
	assert_int_equal(njson, 1);
	sp_pipeline__free(p);
}

/* Two processes' exchanges interleave: two contiguous trace groups. */
static void test_interleaved_traces_group(void **state)
{
	struct sp_pipeline *p = new_pipeline(true);

	proc_ev(p, SP_EV_PROC_EXEC, 220, 1, "agent", 6, 0, 1 * MS);
	proc_ev(p, SP_EV_PROC_EXEC, 221, 1, "server", 7, 0, 1 * MS);
	exchange(p, 220, 3, 2 * MS, 3 * MS);
	exchange(p, 221, 3, 2 * MS, 4 * MS);
	exchange(p, 220, 4, 5 * MS, 6 * MS);
	exchange(p, 221, 4, 5 * MS, 7 * MS);
	proc_ev(p, SP_EV_PROC_EXIT, 220, 0, NULL, 0, 0, 8 * MS);
	proc_ev(p, SP_EV_PROC_EXIT, 221, 0, NULL, 0, 0, 9 * MS);
	sp_pipeline__shutdown(p, 10 * MS);

	assert_int_equal(njson, 1);
	assert_int_equal(ngot, 6);
	assert_string_equal(got[2].name, "agent");
	assert_string_equal(got[5].name, "server");
	for (int i = 0; i < 3; i++) {
		assert_memory_equal(got[i].trace, got[2].trace, 16);
		assert_memory_equal(got[3 + i].trace, got[5].trace, 16);
	}
	assert_memory_not_equal(got[0].trace, got[3].trace, 16);
	assert_int_equal(tstats(p)->traces_completed, 2);
	sp_pipeline__free(p);
}

/* A trace at max_trace_spans leaves early: every group of it partial. */
static void test_trace_span_bound_marks_partial(void **state)
{
	struct sp_asm_opts ao = { .flush_interval_ns = 1000 * MS, .max_spans = 64,
				  .batch_max = 16, .max_trace_spans = 3 };
	struct sp_pipeline *p = new_pipeline_with(false, &ao, 0);

	assert_int_equal(sp_pipeline__target(p, 230, 1 * MS), 0);
	for (int i = 0; i < 4; i++)
		exchange(p, 230, 3 + i, (2 + 2 * i) * MS, (3 + 2 * i) * MS);
	assert_int_equal(tstats(p)->flushed_trace_spans, 1);
	assert_int_equal(tstats(p)->spans_held, 1);
	proc_ev(p, SP_EV_PROC_EXIT, 230, 0, NULL, 0, 0, 20 * MS);
	sp_pipeline__shutdown(p, 30 * MS);

	assert_int_equal(ngot, 5);
	for (int i = 0; i < 5; i++) {
		assert_true(got[i].partial);
		assert_memory_equal(got[i].trace, got[4].trace, 16);
	}
	assert_true(sp_id_is_zero(got[4].parent, 8));
	assert_int_equal(tstats(p)->traces_completed, 1);
	sp_pipeline__free(p);
}

/* A trace whose root does not end within the age bound leaves as it is;
 * the rest follows, partial too. */
static void test_trace_age_bound(void **state)
{
	struct sp_asm_opts ao = { .flush_interval_ns = 100 * MS, .max_spans = 64,
				  .batch_max = 16, .max_trace_age_ns = 1000 * MS };
	struct sp_pipeline *p = new_pipeline_with(false, &ao, 0);

	assert_int_equal(sp_pipeline__target(p, 240, 1 * MS), 0);
	exchange(p, 240, 3, 2 * MS, 3 * MS);
	sp_pipeline__tick(p, 500 * MS);
	assert_int_equal(ngot, 0);
	sp_pipeline__tick(p, 1004 * MS);
	assert_int_equal(ngot, 1);
	assert_string_equal(got[0].name, "GET /delay");
	assert_true(got[0].partial);
	assert_int_equal(tstats(p)->flushed_age, 1);
	sp_pipeline__shutdown(p, 2000 * MS);
	assert_int_equal(ngot, 2);
	assert_true(got[1].unfinished);
	assert_true(got[1].partial);
	assert_memory_equal(got[0].trace, got[1].trace, 16);
	sp_pipeline__free(p);
}

/* The idle rule ends a root: its trace is complete and leaves, before
 * shutdown; the next exchange is a new trace. */
static void test_idle_rule_completes_trace(void **state)
{
	struct sp_pipeline *p;

	idle_ns = 1000 * MS;
	p = new_pipeline(true);
	idle_ns = 0;
	proc_ev(p, SP_EV_PROC_EXEC, 250, 1, "agent", 6, 0, 1 * MS);
	exchange(p, 250, 3, 2 * MS, 3 * MS);
	sp_pipeline__tick(p, 500 * MS);
	assert_int_equal(ngot, 0);
	sp_pipeline__tick(p, 1200 * MS);
	assert_int_equal(ngot, 2);
	assert_string_equal(got[1].name, "agent");
	assert_string_equal(got[1].trace_end, "idle");
	assert_false(got[1].partial);
	assert_false(got[1].unfinished);
	assert_int_equal(got[1].end, sp_clock_to_unix(3 * MS));	/* its last activity */
	assert_int_equal(sp_pipeline__asm_stats(p)->traces_split, 1);
	assert_int_equal(tstats(p)->traces_completed, 1);
	assert_int_equal(tstats(p)->spans_held, 0);
	exchange(p, 250, 4, 1300 * MS, 1301 * MS);
	sp_pipeline__shutdown(p, 1400 * MS);
	assert_int_equal(ngot, 4);
	assert_memory_not_equal(got[2].trace, got[0].trace, 16);
	assert_memory_equal(got[2].trace, got[3].trace, 16);
	assert_true(got[3].unfinished);
	assert_int_equal(tstats(p)->traces_completed, 2);
	sp_pipeline__free(p);
}

/* Shutdown ends every open span, and every held trace goes out. */
static void test_shutdown_flushes_everything(void **state)
{
	struct sp_pipeline *p = new_pipeline(false);

	assert_int_equal(sp_pipeline__target(p, 260, 1 * MS), 0);
	proc_ev(p, SP_EV_PROC_FORK, 261, 260, NULL, 0, 0, 2 * MS);
	exchange(p, 261, 3, 3 * MS, 4 * MS);
	sp_pipeline__tick(p, 1500 * MS);
	assert_int_equal(ngot, 0);
	sp_pipeline__shutdown(p, 1600 * MS);
	assert_int_equal(njson, 1);
	assert_int_equal(ngot, 3);
	assert_false(got[0].unfinished);	/* the HTTP span */
	assert_true(got[1].unfinished);	/* child first, then the root */
	assert_true(got[2].unfinished);
	assert_true(sp_id_is_zero(got[2].parent, 8));
	assert_memory_equal(got[1].parent, got[2].id, 8);
	for (int i = 0; i < 3; i++)
		assert_false(got[i].partial);
	assert_int_equal(tstats(p)->spans_held, 0);
	sp_pipeline__free(p);
}

struct step_seen {
	int calls;
	size_t n;
	bool root;
};

static void mark_step(void *ctx, struct sp_span **spans, size_t n)
{
	struct step_seen *seen = ctx;

	seen->calls++;
	seen->n = n;
	for (size_t i = 0; i < n; i++) {
		if (sp_id_is_zero(spans[i]->parent_id, 8)) {
			seen->root = true;
			sp_span__set_int(spans[i], "test.step", (int64_t)n);
		}
	}
}

/* An enrichment step sees the whole trace and its changes reach the sink. */
static void test_enrichment_step_sees_trace(void **state)
{
	struct sp_pipeline *p = new_pipeline(false);
	struct step_seen seen = {};

	assert_int_equal(sp_span_asm__add_step(sp_pipeline__asm(p), mark_step, &seen), 0);
	assert_int_equal(sp_pipeline__target(p, 270, 1 * MS), 0);
	proc_ev(p, SP_EV_PROC_FORK, 271, 270, NULL, 0, 0, 2 * MS);
	exchange(p, 271, 3, 3 * MS, 4 * MS);
	proc_ev(p, SP_EV_PROC_EXIT, 271, 0, NULL, 0, 0, 5 * MS);
	assert_int_equal(seen.calls, 0);
	proc_ev(p, SP_EV_PROC_EXIT, 270, 0, NULL, 0, 0, 6 * MS);
	assert_int_equal(seen.calls, 1);
	assert_int_equal(seen.n, 3);
	assert_true(seen.root);
	sp_pipeline__shutdown(p, 10 * MS);
	assert_int_equal(ngot, 3);
	assert_int_equal(got[2].step_mark, 3);
	assert_int_equal(got[0].step_mark, -1);
	sp_pipeline__free(p);
}

/* The span pool bounds open and held spans together: when it runs dry,
 * held traces make room (partial, counted) instead of spans being lost. */
static void test_pool_dry_sheds_held_trace(void **state)
{
	struct sp_asm_opts ao = { .flush_interval_ns = 1000 * MS, .max_spans = 4,
				  .batch_max = 16 };
	struct sp_pipeline *p = new_pipeline_with(false, &ao, 0);

	assert_int_equal(sp_pipeline__target(p, 280, 1 * MS), 0);
	for (int i = 0; i < 5; i++)
		exchange(p, 280, 3 + i, (2 + 2 * i) * MS, (3 + 2 * i) * MS);
	proc_ev(p, SP_EV_PROC_EXIT, 280, 0, NULL, 0, 0, 20 * MS);
	sp_pipeline__shutdown(p, 30 * MS);

	assert_int_equal(sp_pipeline__asm_stats(p)->spans_dropped, 0);
	assert_int_equal(tstats(p)->flushed_total, 1);
	assert_int_equal(ngot, 6);
	assert_int_equal(count_named("GET /delay"), 5);
	for (int i = 0; i < 6; i++)
		assert_true(got[i].partial);
	assert_true(sp_id_is_zero(got[5].parent, 8));
	sp_pipeline__free(p);
}

/* The pool's byte budget bounds held spans too: past three quarters of
 * it, held traces leave, so open spans still have room to grow. */
static void test_pool_bytes_shed_held_traces(void **state)
{
	struct sp_asm_opts ao = { .flush_interval_ns = 1000 * MS, .max_spans = 64,
				  .batch_max = 16, .max_bytes = 16 << 10 };
	struct sp_pipeline *p = new_pipeline_with(false, &ao, 0);
	const struct sp_span_pool_stats *ps = sp_span_asm__pool_stats(sp_pipeline__asm(p));

	assert_int_equal(sp_pipeline__target(p, 285, 1 * MS), 0);
	for (int i = 0; i < 24; i++)
		exchange(p, 285, 3 + i, (2 + 2 * i) * MS, (3 + 2 * i) * MS);
	assert_true(ps->bytes_in_use <= (16 << 10));
	proc_ev(p, SP_EV_PROC_EXIT, 285, 0, NULL, 0, 0, 100 * MS);
	sp_pipeline__shutdown(p, 110 * MS);

	assert_true(tstats(p)->flushed_total >= 1);
	assert_true(tstats(p)->spans_held_max < 24);
	assert_int_equal(sp_pipeline__asm_stats(p)->spans_dropped, 0);
	assert_int_equal(ps->spans_refused, 0);
	assert_int_equal(ps->grows_refused, 0);
	assert_int_equal(ngot, 25);
	sp_pipeline__free(p);
}

/* The process table evicts a process: its span ends at its last activity
 * and its trace leaves complete. */
static void test_proc_eviction_ends_span(void **state)
{
	struct sp_pipeline *p = new_pipeline_with(true, NULL, 2);

	proc_ev(p, SP_EV_PROC_EXEC, 290, 1, "agent", 6, 0, 1 * MS);
	exchange(p, 290, 3, 2 * MS, 3 * MS);
	proc_ev(p, SP_EV_PROC_EXEC, 291, 1, "server", 7, 0, 4 * MS);
	assert_int_equal(tstats(p)->traces_completed, 0);
	proc_ev(p, SP_EV_PROC_EXEC, 292, 1, "curl", 5, 0, 5 * MS);	/* 290 goes */
	assert_int_equal(sp_pipeline__proc_evictions(p), 1);
	assert_int_equal(tstats(p)->traces_completed, 1);
	assert_false(sp_span_asm__has_span(sp_pipeline__asm(p), 290));
	sp_pipeline__shutdown(p, 10 * MS);

	assert_int_equal(ngot, 2);
	assert_string_equal(got[1].name, "agent");
	assert_false(got[1].unfinished);
	assert_int_equal(got[1].end, sp_clock_to_unix(3 * MS));
	sp_pipeline__free(p);
}

/* System-wide: a fork of a process with a (lazy) span joins its trace; a
 * fork of one without stays unseen. */
static void test_fork_under_lazy_root(void **state)
{
	struct sp_pipeline *p = new_pipeline(true);
	struct got_span *root, *child;

	proc_ev(p, SP_EV_PROC_EXEC, 300, 1, "agent", 6, 0, 1 * MS);
	proc_ev(p, SP_EV_PROC_FORK, 305, 300, NULL, 0, 0, 1 * MS);	/* no span yet */
	exchange(p, 300, 3, 2 * MS, 3 * MS);
	assert_true(sp_span_asm__has_span(sp_pipeline__asm(p), 300));
	assert_false(sp_span_asm__has_span(sp_pipeline__asm(p), 305));
	proc_ev(p, SP_EV_PROC_FORK, 301, 300, NULL, 0, 0, 4 * MS);
	proc_ev(p, SP_EV_PROC_EXEC, 301, 300, "tool", 5, 0, 4 * MS);
	assert_true(sp_span_asm__has_span(sp_pipeline__asm(p), 301));
	proc_ev(p, SP_EV_PROC_EXIT, 305, 0, NULL, 0, 0, 5 * MS);
	proc_ev(p, SP_EV_PROC_EXIT, 301, 0, NULL, 0, 1 << 8, 6 * MS);
	proc_ev(p, SP_EV_PROC_EXIT, 300, 0, NULL, 0, 0, 7 * MS);
	sp_pipeline__shutdown(p, 10 * MS);

	assert_int_equal(ngot, 3);
	root = find("agent");
	child = find("tool");
	assert_memory_equal(child->trace, root->trace, 16);
	assert_memory_equal(child->parent, root->id, 8);
	assert_int_equal(child->exit_code, 1);
	assert_int_equal(child->status, SP_STATUS_ERROR);
	sp_pipeline__free(p);
}

/* ---- agents ---- */

static struct got_span *find_pid(const char *name, int64_t pid)
{
	for (int i = 0; i < ngot; i++)
		if (!strcmp(got[i].name, name) && got[i].pid == pid)
			return &got[i];
	fail_msg("no span named %s of pid %lld", name, (long long)pid);
	return NULL;
}

static void fork_exec(struct sp_pipeline *p, uint32_t pid, uint32_t ppid, const char *argv,
		      size_t argv_len, uint64_t ts)
{
	proc_ev(p, SP_EV_PROC_FORK, pid, ppid, NULL, 0, 0, ts);
	proc_ev(p, SP_EV_PROC_EXEC, pid, ppid, argv, argv_len, 0, ts);
}

/* One HTTP/1 exchange with a body each way, on a fresh fd; the process
 * exits 1 ms after if it is curl (exits). */
static void body_exchange_ex(struct sp_pipeline *p, uint32_t pid, int fd, const char *path,
			     const char *req_body, const char *resp_body, uint64_t t0, uint64_t t1,
			     bool exits)
{
	char req[4096], resp[4096];

	snprintf(req, sizeof(req),
		 "POST %s HTTP/1.1\r\nHost: 127.0.0.1:9\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\n\r\n%s", path, strlen(req_body), req_body);
	snprintf(resp, sizeof(resp),
		 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		 strlen(resp_body), resp_body);
	conn_ev(p, pid, fd, SP_ROLE_CLIENT, 9, 40000 + fd);
	data_ev(p, pid, fd, 0, SP_DIR_EGRESS, 0, req, t0, t0);
	data_ev(p, pid, fd, 0, SP_DIR_INGRESS, 0, resp, t1, t1);
	if (exits)
		proc_ev(p, SP_EV_PROC_EXIT, pid, 0, NULL, 0, 0, t1 + 1 * MS);
}

static void body_exchange(struct sp_pipeline *p, uint32_t pid, int fd, const char *path,
			  const char *req_body, const char *resp_body, uint64_t t0, uint64_t t1)
{
	body_exchange_ex(p, pid, fd, path, req_body, resp_body, t0, t1, true);
}

static const char CHAT_REQ[] =
	"{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"list files\"}]}";
static const char CHAT_TOOL_RESP[] =
	"{\"id\":\"c1\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":"
	"{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
	"\"function\":{\"name\":\"run\",\"arguments\":\"{\\\"command\\\":\\\"ls -la\\\"}\"}}]},"
	"\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3}}";
static const char CHAT_REQ2[] =
	"{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"list files\"},"
	"{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
	"\"function\":{\"name\":\"run\",\"arguments\":\"{}\"}}]},"
	"{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"a b\"}]}";
static const char CHAT_RESP[] =
	"{\"id\":\"c2\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":"
	"{\"role\":\"assistant\",\"content\":\"done\"},\"finish_reason\":\"stop\"}],"
	"\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1}}";

/*
 * A shell-script agent, system-wide: its model calls go through curl, so
 * the script is the agent, from its start (a git probe it ran before any
 * call included) to its exit; the commands it runs after the model asked
 * for a tool are under that tool's window; its login shell is not in its
 * trace.
 */
static void test_shell_agent_tree(void **state)
{
	struct sp_pipeline *p;
	struct got_span *agent, *git, *curl1, *chat, *tool, *ls, *fl, *curl2;
	const struct sp_asm_stats *st;

	no_proc = true;
	p = new_pipeline(true);
	no_proc = false;
	/* the login shell made a call of its own first: it has a span */
	proc_ev(p, SP_EV_PROC_EXEC, 500, 1, "bash\0-l", 8, 0, 1 * MS);
	exchange(p, 500, 3, 1 * MS, 2 * MS);
	fork_exec(p, 501, 500, "bash\0agent.sh", 14, 3 * MS);
	/* a probe at start-up, gone before anyone knows 501 is an agent */
	fork_exec(p, 502, 501, "git\0status", 11, 4 * MS);
	proc_ev(p, SP_EV_PROC_EXIT, 502, 0, NULL, 0, 0, 5 * MS);
	fork_exec(p, 503, 501, "curl\0-sd@req.json\0http://127.0.0.1:9/v1/chat/completions",
		  57, 6 * MS);
	body_exchange(p, 503, 4, "/v1/chat/completions", CHAT_REQ, CHAT_TOOL_RESP, 7 * MS,
		      20 * MS);
	fork_exec(p, 504, 501, "ls\0-la", 7, 22 * MS);
	proc_ev(p, SP_EV_PROC_EXIT, 504, 0, NULL, 0, 0, 23 * MS);
	fork_exec(p, 505, 501, "false", 6, 24 * MS);
	proc_ev(p, SP_EV_PROC_EXIT, 505, 0, NULL, 0, 1 << 8, 25 * MS);
	fork_exec(p, 506, 501, "curl\0-sd@req2.json\0http://127.0.0.1:9/v1/chat/completions",
		  58, 26 * MS);
	body_exchange(p, 506, 5, "/v1/chat/completions", CHAT_REQ2, CHAT_RESP, 27 * MS,
		      30 * MS);
	proc_ev(p, SP_EV_PROC_EXIT, 501, 0, NULL, 0, 0, 40 * MS);
	sp_pipeline__shutdown(p, 50 * MS);

	agent = find("invoke_agent agent.sh");
	assert_true(sp_id_is_zero(agent->parent, 8));
	assert_string_equal(agent->op, "invoke_agent");
	assert_string_equal(agent->oi_kind, "AGENT");
	assert_int_equal(agent->start, sp_clock_to_unix(3 * MS));
	assert_int_equal(agent->end, sp_clock_to_unix(40 * MS));
	/* the login shell's own trace is another */
	assert_memory_not_equal(find_pid("bash", 500)->trace, agent->trace, 16);

	git = find("execute_tool git");
	assert_memory_equal(git->parent, agent->id, 8);
	assert_string_equal(git->oi_kind, "TOOL");
	assert_int_equal(git->start, sp_clock_to_unix(4 * MS));
	assert_int_equal(git->end, sp_clock_to_unix(5 * MS));

	curl1 = find_pid("curl", 503);
	curl2 = find_pid("curl", 506);
	assert_memory_equal(curl1->parent, agent->id, 8);
	assert_memory_equal(curl2->parent, agent->id, 8);
	chat = find("chat gpt-4o-mini");
	assert_memory_equal(chat->trace, agent->trace, 16);

	tool = find("execute_tool run");
	assert_memory_equal(tool->parent, agent->id, 8);
	assert_string_equal(tool->tool_id, "call_1");
	assert_string_equal(tool->oi_kind, "TOOL");
	/* from the response that asked to the request that answered */
	assert_int_equal(tool->start, sp_clock_to_unix(20 * MS));
	assert_int_equal(tool->end, sp_clock_to_unix(27 * MS));
	ls = find("ls");
	assert_memory_equal(ls->parent, tool->id, 8);
	fl = find("false");
	assert_memory_equal(fl->parent, tool->id, 8);
	assert_int_equal(fl->status, SP_STATUS_ERROR);
	assert_string_equal(fl->error_type, "1");
	for (int i = 0; i < ngot; i++)
		if (!memcmp(got[i].trace, agent->trace, 16))
			assert_true(got[i].start >= agent->start && got[i].end <= agent->end);
	st = sp_pipeline__asm_stats(p);
	assert_int_equal(st->agents, 1);
	assert_int_equal(st->tool_calls, 1);
	assert_int_equal(st->tool_calls_answered, 1);
	sp_pipeline__free(p);
}

/* An agent started by a launcher that made a call first (npm exec): the
 * agent leaves the launcher's trace with what it did so far. */
static void test_agent_leaves_launcher_trace(void **state)
{
	struct sp_pipeline *p;
	struct got_span *npm, *agent, *get, *chat, *sub, *subchat;

	no_proc = true;
	p = new_pipeline(true);
	no_proc = false;
	proc_ev(p, SP_EV_PROC_EXEC, 600, 1, "npm\0exec\0agent", 15, 0, 1 * MS);
	exchange(p, 600, 3, 1 * MS, 2 * MS);	/* the registry */
	fork_exec(p, 601, 600, "node\0agent.js", 14, 3 * MS);
	exchange(p, 601, 3, 4 * MS, 5 * MS);	/* a plain call: under npm for now */
	/* a shell it started before its first model call (a span already) */
	fork_exec(p, 603, 601, "sh\0-c\0python3 helper.py", 24, 5 * MS);
	body_exchange_ex(p, 601, 4, "/v1/chat/completions", CHAT_REQ, CHAT_RESP, 6 * MS, 8 * MS,
			 false);
	/* the agent runs a sub-agent: python3 making calls of its own */
	fork_exec(p, 602, 601, "python3\0sub.py", 15, 9 * MS);
	body_exchange(p, 602, 5, "/v1/chat/completions", CHAT_REQ, CHAT_RESP, 10 * MS, 11 * MS);
	/* ... which runs a sub-agent of its own later: nested too */
	fork_exec(p, 604, 603, "python3\0helper.py", 18, 12 * MS);
	body_exchange(p, 604, 6, "/v1/chat/completions", CHAT_REQ, CHAT_RESP, 13 * MS, 14 * MS);
	proc_ev(p, SP_EV_PROC_EXIT, 603, 0, NULL, 0, 0, 16 * MS);
	proc_ev(p, SP_EV_PROC_EXIT, 601, 0, NULL, 0, 0, 20 * MS);
	proc_ev(p, SP_EV_PROC_EXIT, 600, 0, NULL, 0, 0, 21 * MS);
	sp_pipeline__shutdown(p, 30 * MS);

	npm = find("npm");
	{
		struct got_span *helper = find("invoke_agent helper.py"), *sh = find_pid("execute_tool sh", 603);

		assert_memory_equal(sh->trace, find("invoke_agent agent.js")->trace, 16);
		assert_memory_equal(helper->parent, sh->id, 8);
		assert_memory_equal(helper->trace, sh->trace, 16);
	}
	agent = find("invoke_agent agent.js");
	sub = find("invoke_agent sub.py");
	assert_true(sp_id_is_zero(agent->parent, 8));
	assert_memory_not_equal(agent->trace, npm->trace, 16);
	assert_int_equal(agent->start, sp_clock_to_unix(3 * MS));
	/* the call it made before it was known moved with it */
	get = NULL;
	for (int i = 0; i < ngot; i++)
		if (!strcmp(got[i].name, "GET /delay") && !memcmp(got[i].parent, agent->id, 8))
			get = &got[i];
	assert_non_null(get);
	assert_memory_equal(get->trace, agent->trace, 16);
	/* a sub-agent nests */
	assert_memory_equal(sub->parent, agent->id, 8);
	assert_memory_equal(sub->trace, agent->trace, 16);
	chat = subchat = NULL;
	for (int i = 0; i < ngot; i++) {
		if (strcmp(got[i].name, "chat gpt-4o-mini"))
			continue;
		if (got[i].start == sp_clock_to_unix(10 * MS))
			subchat = &got[i];
		else
			chat = &got[i];
	}
	assert_non_null(chat);
	assert_non_null(subchat);
	assert_memory_equal(chat->trace, agent->trace, 16);
	assert_memory_equal(subchat->trace, agent->trace, 16);
	assert_int_equal(sp_pipeline__asm_stats(p)->agents_rerooted, 1);
	sp_pipeline__free(p);
}

/* A subshell (fork, no exec) is named after its parent, not "unknown". */
static void test_subshell_named_after_parent(void **state)
{
	struct sp_pipeline *p;

	no_proc = true;
	p = new_pipeline(false);
	no_proc = false;
	assert_int_equal(sp_pipeline__target(p, 700, 1 * MS), 0);
	proc_ev(p, SP_EV_PROC_EXEC, 700, 1, "bash\0run.sh", 12, 0, 1 * MS);
	proc_ev(p, SP_EV_PROC_FORK, 701, 700, NULL, 0, 0, 2 * MS);
	proc_ev(p, SP_EV_PROC_EXIT, 701, 0, NULL, 0, 0, 3 * MS);
	proc_ev(p, SP_EV_PROC_EXIT, 700, 0, NULL, 0, 0, 4 * MS);
	sp_pipeline__shutdown(p, 10 * MS);
	assert_int_equal(ngot, 2);
	assert_memory_equal(find_pid("bash run.sh", 701)->parent, find_pid("bash run.sh", 700)->id,
			    8);
	sp_pipeline__free(p);
}

/* A request repeated after a 429, and once more after a 503: resends 1 and
 * 2; a repeat after a success, or of another path, is no resend. */
static void test_retries_marked(void **state)
{
	static const char r429[] = "HTTP/1.1 429 Slow\r\nContent-Length: 0\r\n\r\n";
	static const char r503[] = "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n";
	static const char rq[] = "GET /api?n=1 HTTP/1.1\r\nHost: h\r\n\r\n";
	static const char rq2[] = "GET /api?n=2 HTTP/1.1\r\nHost: h\r\n\r\n";
	static const char other[] = "GET /other HTTP/1.1\r\nHost: h\r\n\r\n";
	const char *resp[] = { r429, r503, RESP, RESP };
	const char *reqs[] = { rq, rq2, rq, other };
	int64_t want[] = { -1, 1, 2, -1 };
	struct sp_pipeline *p = new_pipeline(true);
	uint64_t out = 0, in = 0;

	proc_ev(p, SP_EV_PROC_EXEC, 810, 1, "client", 7, 0, 1 * MS);
	for (int i = 0; i < 4; i++) {
		data_ev(p, 810, 3, 0, SP_DIR_EGRESS, out, reqs[i], (10 + 10 * i) * MS,
			(10 + 10 * i) * MS);
		data_ev(p, 810, 3, 0, SP_DIR_INGRESS, in, resp[i], (15 + 10 * i) * MS,
			(15 + 10 * i) * MS);
		out += strlen(reqs[i]);
		in += strlen(resp[i]);
	}
	/* a success ends the run of failures: the next is a first attempt */
	data_ev(p, 810, 3, 0, SP_DIR_EGRESS, out, rq, 60 * MS, 60 * MS);
	data_ev(p, 810, 3, 0, SP_DIR_INGRESS, in, RESP, 65 * MS, 65 * MS);
	sp_pipeline__shutdown(p, 100 * MS);
	for (int i = 0, k = 0; i < ngot; i++) {
		if (got[i].kind != SP_KIND_CLIENT)
			continue;
		if (k < 4)
			assert_int_equal(got[i].resends, want[k]);
		else
			assert_int_equal(got[i].resends, -1);
		k++;
	}
	assert_int_equal(sp_pipeline__stats(p)->retries, 2);
	sp_pipeline__free(p);
}

/*
 * A client and the server it calls, both traced on this host: the SERVER
 * span goes under the CLIENT span, with the server's own call made while
 * serving under the SERVER span; either side may complete first.
 */
static void local_pair(bool client_first)
{
	static const char rq2[] = "GET /inner HTTP/1.1\r\nHost: 127.0.0.1:9999\r\n\r\n";
	struct sp_pipeline *p = new_pipeline(true);
	struct got_span *cli = NULL, *srv = NULL, *inner;

	proc_ev(p, SP_EV_PROC_EXEC, 900, 1, "curl\0x", 7, 0, 1 * MS);
	proc_ev(p, SP_EV_PROC_EXEC, 901, 1, "python3\0srv.py", 15, 0, 1 * MS);
	conn_ev(p, 900, 3, SP_ROLE_CLIENT, 8080, 40000);
	conn_ev(p, 901, 4, SP_ROLE_SERVER, 40000, 8080);
	conn_ev(p, 901, 5, SP_ROLE_CLIENT, 9999, 40001);
	data_ev(p, 900, 3, 0, SP_DIR_EGRESS, 0, REQ, 2 * MS, 2 * MS);
	data_ev(p, 901, 4, 0, SP_DIR_INGRESS, 0, REQ, 3 * MS, 3 * MS);
	data_ev(p, 901, 5, 0, SP_DIR_EGRESS, 0, rq2, 4 * MS, 4 * MS);
	data_ev(p, 901, 5, 0, SP_DIR_INGRESS, 0, RESP, 5 * MS, 5 * MS);
	if (client_first)
		data_ev(p, 900, 3, 0, SP_DIR_INGRESS, 0, RESP, 7 * MS, 7 * MS);
	data_ev(p, 901, 4, 0, SP_DIR_EGRESS, 0, RESP, 6 * MS, 6 * MS);
	if (!client_first)
		data_ev(p, 900, 3, 0, SP_DIR_INGRESS, 0, RESP, 7 * MS, 7 * MS);
	proc_ev(p, SP_EV_PROC_EXIT, 900, 0, NULL, 0, 0, 8 * MS);
	sp_pipeline__shutdown(p, 20 * MS);

	for (int i = 0; i < ngot; i++) {
		if (!strcmp(got[i].name, "GET /delay") && got[i].kind == SP_KIND_CLIENT)
			cli = &got[i];
		if (!strcmp(got[i].name, "GET /delay") && got[i].kind == SP_KIND_SERVER)
			srv = &got[i];
	}
	assert_non_null(cli);
	assert_non_null(srv);
	inner = find("GET /inner");
	assert_memory_equal(srv->trace, cli->trace, 16);
	assert_memory_equal(srv->parent, cli->id, 8);
	assert_memory_equal(inner->trace, cli->trace, 16);
	assert_memory_equal(inner->parent, srv->id, 8);
	assert_int_equal(sp_pipeline__stats(p)->local_links, 1);
	sp_pipeline__free(p);
}

static void test_local_client_server(void **state)
{
	local_pair(false);
	local_pair(true);
}

/* A long-lived agent: a call that continues its conversation with a new
 * user message, once the last answer asked for nothing, is a new turn (a
 * new trace, the same conversation id); a repeat of the same request, or
 * another conversation's call (a title generator), is not. */
static void test_agent_turns(void **state)
{
	static const char turn2[] =
		"{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"list files\"},"
		"{\"role\":\"assistant\",\"content\":\"done\"},"
		"{\"role\":\"user\",\"content\":\"now the others\"}]}";
	static const char other[] =
		"{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\",\"content\":\"title\"},"
		"{\"role\":\"user\",\"content\":\"name this chat\"},"
		"{\"role\":\"assistant\",\"content\":\"x\"},{\"role\":\"user\",\"content\":\"y\"}]}";
	struct sp_pipeline *p;
	struct got_span *a[3];
	int n = 0;

	no_proc = true;
	p = new_pipeline(true);
	no_proc = false;
	proc_ev(p, SP_EV_PROC_EXEC, 950, 1, "node\0agent.js", 14, 0, 1 * MS);
	body_exchange_ex(p, 950, 3, "/v1/chat/completions", CHAT_REQ, CHAT_RESP, 2 * MS, 3 * MS,
			 false);
	/* the same request again: no new turn */
	body_exchange_ex(p, 950, 4, "/v1/chat/completions", CHAT_REQ, CHAT_RESP, 4 * MS, 5 * MS,
			 false);
	/* another conversation inside (a title generator): no new turn */
	body_exchange_ex(p, 950, 5, "/v1/chat/completions", other, CHAT_RESP, 6 * MS, 7 * MS,
			 false);
	body_exchange_ex(p, 950, 6, "/v1/chat/completions", turn2, CHAT_RESP, 10 * MS, 12 * MS,
			 false);
	proc_ev(p, SP_EV_PROC_EXIT, 950, 0, NULL, 0, 0, 20 * MS);
	sp_pipeline__shutdown(p, 30 * MS);

	for (int i = 0; i < ngot; i++)
		if (!strcmp(got[i].name, "invoke_agent agent.js") && n < 3)
			a[n++] = &got[i];
	assert_int_equal(n, 2);
	if (a[0]->start > a[1]->start) {
		struct got_span *t = a[0];

		a[0] = a[1];
		a[1] = t;
	}
	assert_memory_not_equal(a[0]->trace, a[1]->trace, 16);
	assert_true(sp_id_is_zero(a[1]->parent, 8));
	assert_int_equal(a[0]->start, sp_clock_to_unix(1 * MS));
	assert_int_equal(a[0]->end, sp_clock_to_unix(7 * MS));
	assert_int_equal(a[1]->start, sp_clock_to_unix(10 * MS));
	assert_int_equal(a[1]->end, sp_clock_to_unix(20 * MS));
	assert_string_equal(a[0]->trace_end, "turn");
	assert_string_equal(a[0]->conv, a[1]->conv);
	assert_int_equal(strlen(a[0]->conv), 16);
	assert_int_equal(sp_pipeline__asm_stats(p)->turns, 1);
	sp_pipeline__free(p);
}

/* A second conversation held inside a tool window (a Task tool running a
 * sub-agent in-process): a nested invoke_agent span under that window,
 * with the sub-agent's model call under it, ending with the window. */
static void test_in_process_sub_agent(void **state)
{
	static const char sub_req[] =
		"{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\",\"content\":\"you research\"},"
		"{\"role\":\"user\",\"content\":\"find the config\"}]}";
	struct sp_pipeline *p;
	struct got_span *tool, *sub = NULL, *subchat = NULL;
	/* an answer asking for a tool that runs an agent */
	static const char task_resp[] =
		"{\"id\":\"c1\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":"
		"{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
		"\"function\":{\"name\":\"Task\",\"arguments\":\"{}\"}}]},"
		"\"finish_reason\":\"tool_calls\"}]}";

	no_proc = true;
	p = new_pipeline(true);
	no_proc = false;
	proc_ev(p, SP_EV_PROC_EXEC, 960, 1, "node\0agent.js", 14, 0, 1 * MS);
	body_exchange_ex(p, 960, 3, "/v1/chat/completions", CHAT_REQ, task_resp, 2 * MS,
			 10 * MS, false);
	body_exchange_ex(p, 960, 4, "/v1/chat/completions", sub_req, CHAT_RESP, 12 * MS, 15 * MS,
			 false);
	body_exchange_ex(p, 960, 5, "/v1/chat/completions", CHAT_REQ2, CHAT_RESP, 20 * MS, 22 * MS,
			 false);
	proc_ev(p, SP_EV_PROC_EXIT, 960, 0, NULL, 0, 0, 30 * MS);
	sp_pipeline__shutdown(p, 40 * MS);

	tool = find("execute_tool Task");
	for (int i = 0; i < ngot; i++) {
		if (!strcmp(got[i].name, "invoke_agent Task"))
			sub = &got[i];
		if (!strcmp(got[i].name, "POST /v1/chat/completions") &&
		    got[i].start == sp_clock_to_unix(12 * MS))
			subchat = &got[i];
	}
	assert_non_null(sub);
	assert_non_null(subchat);
	assert_memory_equal(sub->parent, tool->id, 8);
	assert_memory_equal(subchat->parent, sub->id, 8);
	assert_int_equal(sub->start, sp_clock_to_unix(12 * MS));
	assert_int_equal(sub->end, tool->end);
	assert_int_equal(tool->end, sp_clock_to_unix(20 * MS));
	assert_int_equal(sp_pipeline__asm_stats(p)->sub_agents, 1);
	sp_pipeline__free(p);
}

/* An agent server: a request from elsewhere is the root of the work done
 * for it (its model call under it), not one more child of the server's
 * endless process span. */
static void test_agent_server_request_root(void **state)
{
	struct sp_conn_event ev = { .type = SP_EV_CONN, .tgid = 970, .fd = 7,
				    .role = SP_ROLE_SERVER };
	struct sp_pipeline *p;
	struct got_span *srv = NULL, *chat = NULL;

	no_proc = true;
	p = new_pipeline(true);
	no_proc = false;
	proc_ev(p, SP_EV_PROC_EXEC, 970, 1, "python3\0agent_server.py", 24, 0, 1 * MS);
	/* a model call at start-up makes it an agent */
	body_exchange_ex(p, 970, 3, "/v1/chat/completions", CHAT_REQ, CHAT_RESP, 2 * MS, 3 * MS,
			 false);
	ev.local.family = ev.remote.family = 2;
	ev.local.port = 8000;
	ev.remote.port = 51000;
	memcpy(ev.local.v4, "\x0a\0\0\x01", 4);
	memcpy(ev.remote.v4, "\x0a\0\0\x05", 4);
	assert_int_equal(sp_pipeline__handle(p, &ev, sizeof(ev)), 0);
	data_ev(p, 970, 7, 0, SP_DIR_INGRESS, 0, REQ, 10 * MS, 10 * MS);
	body_exchange_ex(p, 970, 4, "/v1/chat/completions", CHAT_REQ, CHAT_RESP, 11 * MS, 14 * MS,
			 false);
	data_ev(p, 970, 7, 0, SP_DIR_EGRESS, 0, RESP, 15 * MS, 15 * MS);
	/* the request's trace left whole, the process still running */
	sp_pipeline__tick(p, 5000 * MS);
	for (int i = 0; i < ngot; i++)
		if (got[i].kind == SP_KIND_SERVER)
			srv = &got[i];
	assert_non_null(srv);
	assert_true(sp_id_is_zero(srv->parent, 8));
	for (int i = 0; i < ngot; i++)
		if (!strcmp(got[i].name, "POST /v1/chat/completions") &&
		    got[i].start == sp_clock_to_unix(11 * MS))
			chat = &got[i];
	assert_non_null(chat);
	assert_memory_equal(chat->parent, srv->id, 8);
	assert_memory_equal(chat->trace, srv->trace, 16);
	assert_int_equal(sp_pipeline__stats(p)->agent_requests, 1);
	proc_ev(p, SP_EV_PROC_EXIT, 970, 0, NULL, 0, 0, 20 * MS);
	sp_pipeline__shutdown(p, 30 * MS);
	sp_pipeline__free(p);
}

/* Under --, what the command ran and saw end before its first model call
 * (a git probe) is a tool of its own, as it is system-wide. */
static void test_target_agent_probe_is_tool(void **state)
{
	struct sp_pipeline *p;
	struct got_span *agent, *git;

	no_proc = true;
	p = new_pipeline(false);
	no_proc = false;
	assert_int_equal(sp_pipeline__target(p, 980, 1 * MS), 0);
	proc_ev(p, SP_EV_PROC_EXEC, 980, 1, "bash\0agent.sh", 14, 0, 1 * MS);
	fork_exec(p, 981, 980, "git\0status", 11, 2 * MS);
	proc_ev(p, SP_EV_PROC_EXIT, 981, 0, NULL, 0, 0, 3 * MS);
	fork_exec(p, 982, 980, "curl\0-sd@req.json\0http://127.0.0.1:9/v1/chat/completions",
		  57, 4 * MS);
	body_exchange(p, 982, 4, "/v1/chat/completions", CHAT_REQ, CHAT_RESP, 5 * MS, 6 * MS);
	proc_ev(p, SP_EV_PROC_EXIT, 980, 0, NULL, 0, 0, 10 * MS);
	sp_pipeline__shutdown(p, 20 * MS);
	agent = find("invoke_agent agent.sh");
	git = find("execute_tool git");
	assert_memory_equal(git->parent, agent->id, 8);
	assert_string_equal(git->oi_kind, "TOOL");
	assert_string_equal(find_pid("curl", 982)->oi_kind, "");
	sp_pipeline__free(p);
}

/* ---- trace context ---- */

static void test_traceparent_parse(void **state)
{
	static const char ok[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
	struct sp_trace_ctx c;

	assert_true(sp_traceparent_parse(ok, strlen(ok), &c));
	assert_int_equal(c.trace_id[0], 0x4b);
	assert_int_equal(c.span_id[7], 0xb7);
	assert_int_equal(c.flags, 1);
	assert_true(sp_traceparent_parse(" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00 ",
					 57, &c));
	/* a later version may carry more after a dash */
	assert_true(sp_traceparent_parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz",
					 59, &c));
	assert_false(sp_traceparent_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
					  57, &c));
	assert_false(sp_traceparent_parse("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
					  55, &c));
	assert_false(sp_traceparent_parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01",
					  55, &c));
	assert_false(sp_traceparent_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
					  55, &c));
	assert_false(sp_traceparent_parse("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
					  55, &c));
	assert_false(sp_traceparent_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", 52,
					  &c));
	assert_false(sp_traceparent_parse("", 0, &c));
}

/* An outbound request with traceparent: its span joins the caller's trace
 * under the header's span and leaves the trace buffer at once, with its
 * tracestate; a malformed header is ignored and counted. */
static void test_traceparent_joins_trace(void **state)
{
	static const char req[] =
		"GET /delay HTTP/1.1\r\nHost: 127.0.0.1:9\r\n"
		"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
		"tracestate: vendor=abc,other=1\r\n\r\n";
	static const char bad[] = "GET /bad HTTP/1.1\r\nHost: 127.0.0.1:9\r\n"
				  "traceparent: 00-zz-00f067aa0ba902b7-01\r\n\r\n";
	struct sp_pipeline *p = new_pipeline(true);
	struct got_span *s, *b;
	uint8_t want_trace[16], want_parent[8];

	proc_ev(p, SP_EV_PROC_EXEC, 800, 1, "app", 4, 0, 1 * MS);
	data_ev(p, 800, 3, 0, SP_DIR_EGRESS, 0, req, 2 * MS, 2 * MS);
	data_ev(p, 800, 3, 0, SP_DIR_INGRESS, 0, RESP, 3 * MS, 3 * MS);
	/* exported before the process ends: the span is its trace's root here */
	assert_int_equal(ngot, 0);
	sp_pipeline__tick(p, 5000 * MS);
	assert_int_equal(ngot, 1);
	data_ev(p, 800, 3, 0, SP_DIR_EGRESS, strlen(req), bad, 4 * MS, 4 * MS);
	data_ev(p, 800, 3, 0, SP_DIR_INGRESS, strlen(RESP), RESP, 5 * MS, 5 * MS);
	sp_pipeline__shutdown(p, 6000 * MS);

	s = find("GET /delay");
	memcpy(want_trace, "\x4b\xf9\x2f\x35\x77\xb3\x4d\xa6\xa3\xce\x92\x9d\x0e\x0e\x47\x36", 16);
	memcpy(want_parent, "\x00\xf0\x67\xaa\x0b\xa9\x02\xb7", 8);
	assert_memory_equal(s->trace, want_trace, 16);
	assert_memory_equal(s->parent, want_parent, 8);
	assert_true(s->remote_parent);
	assert_string_equal(s->trace_state, "vendor=abc,other=1");
	assert_non_null(strstr(json_lines[0], "\"traceState\":\"vendor=abc,other=1\""));
	assert_non_null(strstr(json_lines[0], "\"flags\":769"));
	b = find("GET /bad");
	assert_false(b->remote_parent);
	assert_memory_equal(b->parent, find("app")->id, 8);
	assert_int_equal(sp_pipeline__stats(p)->trace_context, 1);
	assert_int_equal(sp_pipeline__stats(p)->bad_traceparent, 1);
	sp_pipeline__free(p);
}

static void test_malformed_records(void **state)
{
	struct sp_pipeline *p = new_pipeline(true);
	struct sp_data_event ev = { .type = SP_EV_DATA, .len = 1000 };
	uint32_t bogus = 99;

	assert_int_equal(sp_pipeline__handle(p, &ev, sizeof(ev)), -EINVAL);
	assert_int_equal(sp_pipeline__handle(p, &bogus, sizeof(bogus)), -EINVAL);
	assert_int_equal(sp_pipeline__handle(p, &bogus, 2), -EINVAL);
	assert_int_equal(sp_pipeline__stats(p)->bad_records, 3);
	sp_pipeline__shutdown(p, 1);
	sp_pipeline__free(p);
}

/* OTLP/JSON: the encoding rules of the spec, on the tree above */
static void test_otlp_json_rules(void **state)
{
	const char *rs_path[] = { "resourceSpans", NULL };
	yajl_val root, rss;
	char err[256];

	test_command_tree(state);
	assert_int_equal(njson, 1);
	root = yajl_tree_parse(json_lines[0], err, sizeof(err));
	assert_non_null(root);
	rss = yajl_tree_get(root, rs_path, yajl_t_array);
	assert_non_null(rss);
	/* two processes: two resources, each with its spans */
	assert_int_equal(YAJL_GET_ARRAY(rss)->len, 2);
	for (size_t r = 0; r < YAJL_GET_ARRAY(rss)->len; r++) {
		yajl_val rs = YAJL_GET_ARRAY(rss)->values[r];
		const char *sp_path[] = { "scopeSpans", NULL };
		yajl_val ss = yajl_tree_get(rs, sp_path, yajl_t_array);
		yajl_val scope0 = YAJL_GET_ARRAY(ss)->values[0];
		const char *spans_path[] = { "spans", NULL };
		const char *scope_name[] = { "scope", "name", NULL };
		yajl_val spans = yajl_tree_get(scope0, spans_path, yajl_t_array);

		assert_string_equal(YAJL_GET_STRING(yajl_tree_get(scope0, scope_name, yajl_t_string)),
				    "spanprobe");
		for (size_t i = 0; i < YAJL_GET_ARRAY(spans)->len; i++) {
			yajl_val s = YAJL_GET_ARRAY(spans)->values[i];
			const char *tid[] = { "traceId", NULL }, *sid[] = { "spanId", NULL };
			const char *kind[] = { "kind", NULL }, *st[] = { "startTimeUnixNano", NULL };
			const char *code[] = { "status", "code", NULL };
			const char *tr = YAJL_GET_STRING(yajl_tree_get(s, tid, yajl_t_string));
			const char *sp = YAJL_GET_STRING(yajl_tree_get(s, sid, yajl_t_string));

			assert_int_equal(strlen(tr), 32);
			assert_int_equal(strlen(sp), 16);
			assert_int_equal(strspn(tr, "0123456789abcdef"), 32);
			/* enums as integers, 64-bit integers as strings */
			assert_true(YAJL_IS_INTEGER(yajl_tree_get(s, kind, yajl_t_any)));
			assert_true(YAJL_IS_STRING(yajl_tree_get(s, st, yajl_t_any)));
			assert_true(YAJL_IS_INTEGER(yajl_tree_get(s, code, yajl_t_any)));
		}
	}
	assert_non_null(strstr(json_lines[0], "{\"key\":\"process.exit.code\",\"value\":{\"intValue\":\"3\"}}"));
	assert_non_null(strstr(json_lines[0], "{\"key\":\"telemetry.sdk.name\",\"value\":{\"stringValue\":\"spanprobe\"}}"));
	yajl_tree_free(root);
}

static void test_json_escapes_and_bad_utf8(void **state)
{
	struct sp_resource *r = sp_resource__new();
	struct sp_span *s = calloc(1, sizeof(*s));
	char *out;
	size_t len;

	snprintf(r->service_name, sizeof(r->service_name), "svc");
	sp_span__init(s, "GET /\"q\"\n", 9, SP_KIND_CLIENT, r);
	sp_span__set_str(s, "k", "a\xff\xfe" "b\x01", 5);
	sp_span__set_double(s, "d", 1.0 / 0.0);
	assert_int_equal(sp_otlp_json__encode(&s, 1, &out, &len), 0);
	assert_non_null(strstr(out, "\"GET /\\\"q\\\"\\n\""));
	assert_non_null(strstr(out, "a\xef\xbf\xbd\xef\xbf\xbd" "b\\u0001"));
	assert_non_null(strstr(out, "\"doubleValue\":\"Infinity\""));
	free(out);
	sp_span__release(s);
	free(s);
	sp_resource__put(r);
}

static int teardown(void **state)
{
	for (int i = 0; i < njson; i++)
		free(json_lines[i]);
	njson = 0;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_tls_exchange),
		cmocka_unit_test(test_server_exchange_and_500),
		cmocka_unit_test(test_command_tree),
		cmocka_unit_test(test_reset_and_close_fail_pending),
		cmocka_unit_test(test_mid_stream_join),
		cmocka_unit_test(test_lookalike_does_not_stick),
		cmocka_unit_test(test_parent_pid_reused),
		cmocka_unit_test(test_client_abandons_body),
		cmocka_unit_test(test_kernel_stream_restart),
		cmocka_unit_test(test_request_cut_at_cap),
		cmocka_unit_test(test_lost_response_repairs_by_time),
		cmocka_unit_test(test_hole_in_chunked_response),
		cmocka_unit_test(test_connect_and_declined_upgrade),
		cmocka_unit_test(test_server_sees_client_eof),
		cmocka_unit_test(test_idle_rule_waits_for_calls),
		cmocka_unit_test(test_trace_leaves_with_its_root),
		cmocka_unit_test(test_interleaved_traces_group),
		cmocka_unit_test(test_trace_span_bound_marks_partial),
		cmocka_unit_test(test_trace_age_bound),
		cmocka_unit_test(test_idle_rule_completes_trace),
		cmocka_unit_test(test_shutdown_flushes_everything),
		cmocka_unit_test(test_enrichment_step_sees_trace),
		cmocka_unit_test(test_pool_dry_sheds_held_trace),
		cmocka_unit_test(test_pool_bytes_shed_held_traces),
		cmocka_unit_test(test_proc_eviction_ends_span),
		cmocka_unit_test(test_fork_under_lazy_root),
		cmocka_unit_test(test_shell_agent_tree),
		cmocka_unit_test(test_agent_leaves_launcher_trace),
		cmocka_unit_test(test_subshell_named_after_parent),
		cmocka_unit_test(test_retries_marked),
		cmocka_unit_test(test_local_client_server),
		cmocka_unit_test(test_agent_turns),
		cmocka_unit_test(test_in_process_sub_agent),
		cmocka_unit_test(test_agent_server_request_root),
		cmocka_unit_test(test_target_agent_probe_is_tool),
		cmocka_unit_test(test_traceparent_parse),
		cmocka_unit_test(test_traceparent_joins_trace),
		cmocka_unit_test(test_malformed_records),
		cmocka_unit_test(test_otlp_json_rules),
		cmocka_unit_test(test_json_escapes_and_bad_utf8),
	};

	return cmocka_run_group_tests_name("pipeline", tests, NULL, teardown);
}
