// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The shared pieces every stage leans on: the bounded LRU table, the
 * size-class blocks, request-target paths, /proc parsing, protocol sniffing. */
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <cmocka.h>
#include "decode/protocol.h"
#include "spanprobe.h"
#include "util/blocks.h"
#include "util/procfs.h"
#include "util/selfconn.h"
#include "util/table.h"
#include "util/url.h"

struct entry {
	uint64_t id;
	char pad[40];
};

struct evicted {
	uint64_t ids[16];
	int n;
};

static void on_evict(void *ctx, void *e)
{
	struct evicted *ev = ctx;

	ev->ids[ev->n++ % 16] = ((struct entry *)e)->id;
}

static void test_table_lru_eviction(void **state)
{
	struct evicted ev = {};
	struct sp_table *t = sp_table__new(4, sizeof(struct entry), on_evict, &ev);
	struct entry *e;

	assert_non_null(t);
	for (uint64_t i = 1; i <= 4; i++) {
		e = sp_table__add(t, i, 7);
		assert_non_null(e);
		assert_int_equal(e->id, 0);	/* zeroed */
		e->id = i;
	}
	/* touch 1: 2 is now the least recently used */
	assert_non_null(sp_table__get(t, 1, 7));
	assert_null(sp_table__get(t, 1, 8));	/* both keys count */
	e = sp_table__add(t, 5, 7);
	assert_non_null(e);
	e->id = 5;
	assert_int_equal(ev.n, 1);
	assert_int_equal(ev.ids[0], 2);
	assert_int_equal(sp_table__evictions(t), 1);
	assert_null(sp_table__get(t, 2, 7));
	for (uint64_t i = 1; i <= 5; i++)
		if (i != 2)
			assert_int_equal(((struct entry *)sp_table__get(t, i, 7))->id, i);
	sp_table__free(t);
}

static void test_table_delete_while_iterating(void **state)
{
	struct sp_table *t = sp_table__new(64, sizeof(struct entry), NULL, NULL);
	struct entry *e;
	uint32_t it = 0;
	int seen = 0, left = 0;

	for (uint64_t i = 0; i < 64; i++)
		((struct entry *)sp_table__add(t, i, 0))->id = i;
	while ((e = sp_table__next(t, &it))) {
		seen++;
		if (e->id % 2)
			sp_table__del(t, e);
	}
	assert_int_equal(seen, 64);
	it = 0;
	while ((e = sp_table__next(t, &it))) {
		assert_int_equal(e->id % 2, 0);
		left++;
	}
	assert_int_equal(left, 32);
	sp_table__free(t);
}

/* An eviction callback may delete the victim itself (streams.c's does,
 * through forget): the table must not delete it twice. */
static struct sp_table *self_table;

static void evict_and_delete(void *ctx, void *e)
{
	(*(int *)ctx)++;
	sp_table__del(self_table, e);
}

static void test_table_evict_callback_deletes(void **state)
{
	int evicted = 0;
	struct entry *e;

	self_table = sp_table__new(2, sizeof(struct entry), evict_and_delete, &evicted);
	for (uint64_t i = 1; i <= 5; i++) {
		e = sp_table__add(self_table, i, 0);
		assert_non_null(e);
		e->id = i;
	}
	assert_int_equal(evicted, 3);
	assert_null(sp_table__get(self_table, 3, 0));
	assert_int_equal(((struct entry *)sp_table__get(self_table, 4, 0))->id, 4);
	assert_int_equal(((struct entry *)sp_table__get(self_table, 5, 0))->id, 5);
	sp_table__free(self_table);
}

static void test_blocks_classes_and_bound(void **state)
{
	struct sp_blocks *b = sp_blocks__new(4096, 1024);
	size_t cap, cap2;
	void *p, *q, *r;

	assert_non_null(b);
	p = sp_blocks__get(b, 1, &cap);
	assert_non_null(p);
	assert_int_equal(cap, 64);
	q = sp_blocks__get(b, 65, &cap2);
	assert_int_equal(cap2, 128);
	assert_int_equal(sp_blocks__stats(b)->bytes_in_use, 192);
	memset(q, 'x', 100);
	r = sp_blocks__grow(b, q, &cap2, 1000, 100);
	assert_non_null(r);
	assert_int_equal(cap2, 1024);
	for (int i = 0; i < 100; i++)
		assert_int_equal(((char *)r)[i], 'x');
	assert_int_equal(sp_blocks__stats(b)->bytes_in_use, 64 + 1024);
	/* past the bound: refused, counted, the old block kept */
	assert_null(sp_blocks__grow(b, r, &cap2, 4096, 100));
	assert_int_equal(cap2, 1024);
	assert_int_equal(sp_blocks__stats(b)->refused, 1);
	assert_null(sp_blocks__get(b, 1 << 20, &cap));	/* past the largest class */
	assert_int_equal(cap, 0);
	sp_blocks__put(b, r, cap2);
	sp_blocks__put(b, p, 64);
	sp_blocks__put(b, NULL, 0);
	assert_int_equal(sp_blocks__stats(b)->bytes_in_use, 0);
	assert_int_equal(sp_blocks__stats(b)->bytes_high, 64 + 128 + 1024);
	/* idle bytes are kept up to idle_max per class, then given back */
	assert_true(sp_blocks__stats(b)->bytes_idle <= 64 + 128 + 1024);
	/* reuse: the same block comes back from the free list */
	q = sp_blocks__get(b, 1024, &cap);
	assert_ptr_equal(q, r);
	sp_blocks__put(b, q, cap);
	sp_blocks__free(b);
}

static void test_blocks_idle_is_bounded(void **state)
{
	struct sp_blocks *b = sp_blocks__new(1 << 20, 256);
	void *blk[16];
	size_t cap[16];

	for (int i = 0; i < 16; i++)
		blk[i] = sp_blocks__get(b, 64, &cap[i]);
	for (int i = 0; i < 16; i++)
		sp_blocks__put(b, blk[i], cap[i]);
	/* 16 x 64 B freed, at most 256 B kept idle */
	assert_int_equal(sp_blocks__stats(b)->bytes_idle, 256);
	sp_blocks__free(b);
}

static void test_url_path(void **state)
{
	size_t n;

	assert_string_equal(sp_url_path("/v1/chat?x=1", &n), "/v1/chat?x=1");
	assert_int_equal(n, 8);
	assert_string_equal(sp_url_path("http://h:8080/a/b#f", &n), "/a/b#f");
	assert_int_equal(n, 4);
	assert_string_equal(sp_url_path("https://h", &n), "/");
	assert_int_equal(n, 1);
	assert_true(sp_url_is_absolute("http://x/"));
	assert_false(sp_url_is_absolute("/x"));
	assert_string_equal(sp_url_path("*", NULL), "*");
}

static void test_procfs_parse(void **state)
{
	uint32_t ppid = 0;

	assert_int_equal(sp_procfs_parse_ppid("12 (a b) c) S 34 12 12 0", &ppid), 0);
	assert_int_equal(ppid, 34);
	assert_int_equal(sp_procfs_parse_ppid("12 (x", &ppid), -EINVAL);
	assert_int_equal(sp_procfs_parse_ppid("", &ppid), -EINVAL);
	/* the live one: our own parent */
	assert_int_equal(sp_procfs_ppid(getpid(), &ppid), 0);
	assert_int_equal(ppid, (uint32_t)getppid());
	assert_int_equal(sp_wait_code(0), 0);
	assert_int_equal(sp_wait_code(3 << 8), 3);
	assert_int_equal(sp_wait_code(9), 128 + 9);	/* killed by SIGKILL */
}

static const char *sniffed(const char *buf, uint8_t dir, uint8_t *role)
{
	const struct sp_proto *p = sp_proto_sniff((const uint8_t *)buf, strlen(buf), dir, role);

	return p ? p->name : "none";
}

static void test_protocol_sniff(void **state)
{
	static const uint8_t tls[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01 };
	uint8_t role = 0;

	assert_string_equal(sniffed("GET / HTTP/1.1\r\n", SP_DIR_EGRESS, &role), "http1");
	assert_int_equal(role, SP_ROLE_CLIENT);
	assert_string_equal(sniffed("POST /x HTTP/1.1\r\n", SP_DIR_INGRESS, &role), "http1");
	assert_int_equal(role, SP_ROLE_SERVER);
	assert_string_equal(sniffed("HTTP/1.1 200 OK\r\n", SP_DIR_INGRESS, &role), "http1");
	assert_int_equal(role, SP_ROLE_CLIENT);
	assert_string_equal(sniffed("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", SP_DIR_EGRESS, &role),
			    "http2");
	assert_int_equal(role, SP_ROLE_CLIENT);
	assert_string_equal(sniffed("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"}\n",
				    SP_DIR_EGRESS, &role), "jsonrpc");
	assert_string_equal(sniffed("Content-Length: 52\r\n\r\n{", SP_DIR_EGRESS, &role),
			    "lsp");
	assert_string_equal(sp_proto_sniff(tls, sizeof(tls), SP_DIR_EGRESS, &role)->name, "tls");
	assert_string_equal(sniffed("{\"id\":1}", SP_DIR_EGRESS, &role), "none");
	assert_string_equal(sniffed("SSH-2.0-OpenSSH_9.2\r\n", SP_DIR_EGRESS, &role), "none");
	assert_string_equal(sniffed("GE", SP_DIR_EGRESS, &role), "none");
}

extern const struct sp_proto sp_http1_proto;

/* What a connection costs: README "Limits" says 1 KiB of HTTP/1 state
 * (the blocks' 1 KiB class); a change that grows it past that doubles it. */
static void test_http1_state_fits_its_class(void **state)
{
	printf("HTTP/1 state: %zu bytes per connection\n", sp_http1_proto.state_size);
	assert_true(sp_http1_proto.state_size <= 1024);
}

static void test_selfconn_reset(void **state)
{
	sp_selfconn_add(4318);
	assert_true(sp_selfconn_has(4318));
	assert_false(sp_selfconn_has(0));
	sp_selfconn_reset();
	assert_false(sp_selfconn_has(4318));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_lru_eviction),
		cmocka_unit_test(test_table_delete_while_iterating),
		cmocka_unit_test(test_table_evict_callback_deletes),
		cmocka_unit_test(test_blocks_classes_and_bound),
		cmocka_unit_test(test_blocks_idle_is_bounded),
		cmocka_unit_test(test_url_path),
		cmocka_unit_test(test_procfs_parse),
		cmocka_unit_test(test_protocol_sniff),
		cmocka_unit_test(test_http1_state_fits_its_class),
		cmocka_unit_test(test_selfconn_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
