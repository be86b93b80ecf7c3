// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Failed connects: SP_EV_CONNECT_FAIL records, built by hand as BPF
 * writes them, through the whole pipeline to spans.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include "exporters/exporter.h"
#include "pipeline.h"
#include "semantics/conn_span.h"

#define MS 1000000ull
#define MAX_GOT 16

/* What a test looks at of one exported span: copied, since the span
 * goes back to its pool after export. */
struct got {
	char name[64], status_msg[128];
	int kind, status;
	uint8_t trace[16], id[8], parent[8];
	uint64_t start, end;
	char attrs[1024];	/* "key=value;" for every string, int and bool */
};

static struct got got[MAX_GOT];
static int ngot;

static int record_export(struct sp_exporter *e, struct sp_span *const *spans, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct sp_span *s = spans[i];
		struct got *g = &got[ngot++];
		size_t at = 0;

		assert_true(ngot <= MAX_GOT);
		snprintf(g->name, sizeof(g->name), "%s", s->name);
		snprintf(g->status_msg, sizeof(g->status_msg), "%s", s->status_msg ?: "");
		g->kind = s->kind;
		g->status = s->status;
		memcpy(g->trace, s->trace_id, 16);
		memcpy(g->id, s->span_id, 8);
		memcpy(g->parent, s->parent_id, 8);
		g->start = s->start_ns;
		g->end = s->end_ns;
		g->attrs[0] = 0;
		for (unsigned j = 0; j < s->nattrs && at < sizeof(g->attrs); j++) {
			const struct sp_attr *a = &s->attrs[j];

			if (a->type == SP_ATTR_STR)
				at += snprintf(g->attrs + at, sizeof(g->attrs) - at, "%s=%s;", a->key, a->s);
			else if (a->type == SP_ATTR_INT)
				at += snprintf(g->attrs + at, sizeof(g->attrs) - at, "%s=%lld;", a->key,
					       (long long)a->i);
			else if (a->type == SP_ATTR_BOOL)
				at += snprintf(g->attrs + at, sizeof(g->attrs) - at, "%s=%s;", a->key,
					       a->b ? "true" : "false");
		}
	}
	return 0;
}

static int record_flush(struct sp_exporter *e)
{
	return 0;
}

static void record_free(struct sp_exporter *e)
{
	free(e);
}

static struct sp_pipeline *pipeline(bool all)
{
	struct sp_pipeline_opts o = {
		.asm_opts = { .flush_interval_ns = 1000 * MS, .max_spans = 64, .batch_max = 16 },
		.max_procs = 16, .max_streams = 16, .max_sockets = 16, .all = all,
	};
	struct sp_exporter *e = calloc(1, sizeof(*e));
	struct sp_pipeline *p = sp_pipeline__new(&o);

	assert_non_null(p);
	assert_non_null(e);
	e->name = "record";
	e->export = record_export;
	e->flush = record_flush;
	e->free = record_free;
	assert_int_equal(sp_pipeline__add_sink(p, e), 0);
	ngot = 0;
	return p;
}

static void exec_ev(struct sp_pipeline *p, uint32_t pid, uint32_t ppid, const char *argv0,
		    uint64_t ts)
{
	struct sp_proc_event ev = { .type = SP_EV_PROC_EXEC, .tgid = pid, .ppid = ppid, .ts = ts };

	snprintf(ev.filename, sizeof(ev.filename), "/usr/bin/%s", argv0);
	ev.args_len = snprintf(ev.args, sizeof(ev.args), "%s", argv0) + 1;
	assert_int_equal(sp_pipeline__handle(p, &ev, sizeof(ev)), 0);
}

static void exit_ev(struct sp_pipeline *p, uint32_t pid, uint64_t ts)
{
	struct sp_proc_event ev = { .type = SP_EV_PROC_EXIT, .tgid = pid, .ts = ts };

	assert_int_equal(sp_pipeline__handle(p, &ev, sizeof(ev)), 0);
}

/* An address as BPF fills it: family, host-order port, network-order bytes. */
static struct sp_addr addr(const char *ip, uint16_t port)
{
	struct sp_addr a = { .port = port };

	a.family = strchr(ip, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(a.family, ip, a.v6), 1);
	return a;
}

static void fail_ev(struct sp_pipeline *p, uint32_t pid, int fd, int err, uint8_t how,
		    const char *ip, uint16_t port, uint64_t t0, uint64_t t1)
{
	struct sp_connect_fail_event ev = {
		.type = SP_EV_CONNECT_FAIL, .tgid = pid, .tid = pid, .fd = fd, .err = err,
		.how = how, .ts_start = t0, .ts_end = t1, .remote = addr(ip, port),
	};

	assert_int_equal(sp_pipeline__handle(p, &ev, sizeof(ev)), 0);
}

static struct got *find(const char *name, int nth)
{
	for (int i = 0; i < ngot; i++)
		if (!strcmp(got[i].name, name) && nth-- == 0)
			return &got[i];
	fail_msg("no span %s #%d", name, nth);
	return NULL;
}

static int count(const char *name)
{
	int n = 0;

	for (int i = 0; i < ngot; i++)
		n += !strcmp(got[i].name, name);
	return n;
}

static void assert_attr(const struct got *g, const char *kv)
{
	char want[160];

	snprintf(want, sizeof(want), "%s;", kv);
	if (!strstr(g->attrs, want))
		fail_msg("span %s: no %s in %s", g->name, kv, g->attrs);
}

static void assert_no_attr(const struct got *g, const char *key)
{
	char k[80];

	snprintf(k, sizeof(k), "%s=", key);
	if (strstr(g->attrs, k))
		fail_msg("span %s has %s: %s", g->name, key, g->attrs);
}

/* A blocking connect refused: an ERROR CLIENT span under the process,
 * over the call's time, with where it was going. */
static void test_refused_span(void **state)
{
	struct sp_pipeline *p = pipeline(true);
	struct got *c, *root;

	exec_ev(p, 100, 1, "agent", 1 * MS);
	fail_ev(p, 100, 3, -ECONNREFUSED, SP_CONNECT_RETURNED, "127.0.0.1", 9, 10 * MS, 11 * MS);
	exit_ev(p, 100, 20 * MS);
	sp_pipeline__shutdown(p, 30 * MS);

	assert_int_equal(ngot, 2);
	c = find("connect", 0);
	root = find("agent", 0);
	assert_int_equal(c->kind, SP_KIND_CLIENT);
	assert_int_equal(c->status, SP_STATUS_ERROR);
	assert_string_equal(c->status_msg, "connection refused");
	assert_int_equal(c->end - c->start, 1 * MS);
	assert_memory_equal(c->trace, root->trace, 16);
	assert_memory_equal(c->parent, root->id, 8);
	assert_attr(c, "error.type=ECONNREFUSED");
	assert_attr(c, "server.address=127.0.0.1");
	assert_attr(c, "server.port=9");
	assert_attr(c, "network.peer.address=127.0.0.1");
	assert_attr(c, "network.peer.port=9");
	assert_attr(c, "network.transport=tcp");
	assert_attr(c, "network.type=ipv4");
	assert_no_attr(c, "spanprobe.connect.abandoned");
	assert_int_equal(sp_pipeline__streams_stats(p)->connect_fails, 1);
	sp_pipeline__free(p);
}

/* The errnos and their names, ETIMEDOUT as "timeout"; an abandoned
 * connect says so; IPv6, and IPv4 carried in a v6 socket as ::ffff:. */
static void test_errnos_and_families(void **state)
{
	struct sp_pipeline *p = pipeline(true);
	struct got *g;

	exec_ev(p, 200, 1, "agent", 1 * MS);
	fail_ev(p, 200, 3, -ETIMEDOUT, SP_CONNECT_ABANDONED, "127.0.0.1", 8080, 2 * MS, 502 * MS);
	fail_ev(p, 200, 4, -ENETUNREACH, SP_CONNECT_RETURNED, "2001:db8::1", 443, 600 * MS,
		600 * MS);
	fail_ev(p, 200, 5, -EHOSTUNREACH, SP_CONNECT_LATER, "::ffff:10.1.2.3", 80, 700 * MS,
		703 * MS);
	fail_ev(p, 200, 6, -ETIMEDOUT, SP_CONNECT_LATER, "10.9.9.9", 80, 710 * MS, 800 * MS);
	fail_ev(p, 200, 7, -EDOM, SP_CONNECT_RETURNED, "127.0.0.1", 1, 810 * MS, 810 * MS);
	sp_pipeline__shutdown(p, 900 * MS);

	assert_int_equal(count("connect"), 5);
	g = find("connect", 0);
	assert_attr(g, "error.type=timeout");
	assert_attr(g, "spanprobe.connect.abandoned=true");
	assert_string_equal(g->status_msg,
			    "connect given up by the process before the handshake completed");
	assert_int_equal(g->end - g->start, 500 * MS);
	g = find("connect", 1);
	assert_attr(g, "error.type=ENETUNREACH");
	assert_attr(g, "network.type=ipv6");
	assert_attr(g, "server.address=2001:db8::1");
	assert_attr(g, "network.peer.port=443");
	assert_string_equal(g->status_msg, "network unreachable");
	g = find("connect", 2);
	assert_attr(g, "error.type=EHOSTUNREACH");
	assert_attr(g, "network.type=ipv4");
	assert_attr(g, "server.address=10.1.2.3");
	g = find("connect", 3);
	assert_attr(g, "error.type=timeout");
	assert_string_equal(g->status_msg, "connection timed out");
	assert_no_attr(g, "spanprobe.connect.abandoned");
	g = find("connect", 4);
	assert_attr(g, "error.type=_OTHER");
	assert_string_equal(g->status_msg, "connect failed: errno 33");
	assert_string_equal(sp_conn_error_type(ECONNREFUSED), "ECONNREFUSED");
	assert_string_equal(sp_conn_error_type(ETIMEDOUT), "timeout");
	assert_string_equal(sp_conn_error_type(EDOM), "_OTHER");
	sp_pipeline__free(p);
}

/* A non-blocking connect was reported as a socket when it started; its
 * later failure is a connect span, and what was known of the socket is
 * forgotten: it never went to port 7, so an exchange later seen on the
 * fd (with no socket record: one from before our time) does not say so. */
static void test_nonblocking_forgets_socket(void **state)
{
	struct sp_pipeline *p = pipeline(true);
	struct sp_conn_event conn = { .type = SP_EV_CONN, .tgid = 300, .fd = 5,
				      .role = SP_ROLE_CLIENT, .remote = addr("127.0.0.1", 7),
				      .local = addr("127.0.0.1", 40000) };
	static const char req[] = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n";
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	struct {
		struct sp_data_event h;
		char b[64];
	} d = { .h = { .type = SP_EV_DATA, .tgid = 300, .tid = 300, .fd = 5, .gen = 1,
		       .source = SP_SRC_SOCK } };
	struct got *g;

	exec_ev(p, 300, 1, "agent", 1 * MS);
	assert_int_equal(sp_pipeline__handle(p, &conn, sizeof(conn)), 0);
	fail_ev(p, 300, 5, -ECONNREFUSED, SP_CONNECT_LATER, "127.0.0.1", 7, 2 * MS, 3 * MS);
	d.h.dir = SP_DIR_EGRESS;
	d.h.len = d.h.call_len = strlen(req);
	d.h.ts_enter = d.h.ts_exit = 10 * MS;
	memcpy(d.b, req, d.h.len);
	assert_int_equal(sp_pipeline__handle(p, &d, sizeof(d.h) + d.h.len), 0);
	d.h.dir = SP_DIR_INGRESS;
	d.h.len = d.h.call_len = strlen(resp);
	d.h.ts_enter = d.h.ts_exit = 12 * MS;
	memcpy(d.b, resp, d.h.len);
	assert_int_equal(sp_pipeline__handle(p, &d, sizeof(d.h) + d.h.len), 0);
	sp_pipeline__shutdown(p, 20 * MS);

	assert_int_equal(count("connect"), 1);
	g = find("connect", 0);
	assert_attr(g, "server.port=7");
	assert_attr(g, "error.type=ECONNREFUSED");
	g = find("GET /x", 0);
	assert_attr(g, "server.port=80");	/* from Host */
	assert_no_attr(g, "network.peer.port");
	assert_no_attr(g, "error.type");
	assert_int_equal(sp_pipeline__streams_stats(p)->connect_fails, 1);
	sp_pipeline__free(p);
}

/* `-- CMD` (not system-wide): a child's failed connect lands under the
 * child's span in the command's trace. */
static void test_command_tree(void **state)
{
	struct sp_pipeline *p = pipeline(false);
	struct sp_proc_event fork = { .type = SP_EV_PROC_FORK, .tgid = 401, .ppid = 400,
				      .ts = 2 * MS };
	struct got *sh, *curl, *c;

	assert_int_equal(sp_pipeline__target(p, 400, 1 * MS), 0);
	exec_ev(p, 400, 1, "sh", 1 * MS);
	assert_int_equal(sp_pipeline__handle(p, &fork, sizeof(fork)), 0);
	exec_ev(p, 401, 400, "curl", 3 * MS);
	fail_ev(p, 401, 3, -ECONNREFUSED, SP_CONNECT_RETURNED, "127.0.0.1", 9, 4 * MS, 5 * MS);
	exit_ev(p, 401, 6 * MS);
	exit_ev(p, 400, 7 * MS);
	sp_pipeline__shutdown(p, 10 * MS);

	assert_int_equal(ngot, 3);
	sh = find("sh", 0);
	curl = find("curl", 0);
	c = find("connect", 0);
	assert_memory_equal(c->trace, sh->trace, 16);
	assert_memory_equal(c->parent, curl->id, 8);
	assert_memory_equal(curl->parent, sh->id, 8);
	sp_pipeline__free(p);
}

/* A cut record is refused and counted, never read past its end. */
static void test_short_record(void **state)
{
	struct sp_pipeline *p = pipeline(true);
	struct sp_connect_fail_event ev = { .type = SP_EV_CONNECT_FAIL, .tgid = 1 };

	assert_int_equal(sp_pipeline__handle(p, &ev, sizeof(ev) - 1), -EINVAL);
	assert_int_equal(sp_pipeline__stats(p)->bad_records, 1);
	assert_int_equal(sp_pipeline__streams_stats(p)->connect_fails, 0);
	sp_pipeline__shutdown(p, 1 * MS);
	assert_int_equal(ngot, 0);
	sp_pipeline__free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused_span),
		cmocka_unit_test(test_errnos_and_families),
		cmocka_unit_test(test_nonblocking_forgets_socket),
		cmocka_unit_test(test_command_tree),
		cmocka_unit_test(test_short_record),
	};

	return cmocka_run_group_tests_name("connect", tests, NULL, NULL);
}
