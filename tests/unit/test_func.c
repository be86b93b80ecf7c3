// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Function probes without BPF: SP_EV_FUNC records as bpf/func.bpf.c writes
 * them, through the pipeline, into span trees (assemble/func_span.c); and
 * symbol resolution (discovery/func_probe.c) on the integration tests'
 * target, build/tests/probe_target, checked against nm's view of it.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <elf.h>
#include <unistd.h>
#include "assemble/func_span.h"
#include "discovery/func_probe.h"
#include "exporters/exporter.h"
#include "pipeline.h"
#include "util/clock.h"

#define MS 1000000ull
#define PID 4242
#define MAX_GOT 64

enum { P_OUTER, P_MIDDLE, P_LEAF, P_USDT, P_REC, NPROBES };

struct got_span {
	char name[64];
	size_t name_len;
	uint8_t trace[16], id[8], parent[8];
	int kind;
	uint64_t start, end;	/* Unix ns */
	int64_t ret, tid, nargs, arg0;
	bool has_ret, unfinished;
	char func[64], binary[64];
};

static struct got_span got[MAX_GOT];
static int ngot, nexported;
static char target[PATH_MAX];	/* build/tests/probe_target */

static int64_t attr_int(const struct sp_span *s, const char *k, bool *has)
{
	const struct sp_attr *a = sp_span__attr(s, k);

	if (has)
		*has = a != NULL;
	return a ? a->i : -1;
}

static void attr_str(const struct sp_span *s, const char *k, char *out, size_t cap)
{
	const struct sp_attr *a = sp_span__attr(s, k);

	snprintf(out, cap, "%s", a ? a->s : "");
}

static int capture_export(struct sp_exporter *e, struct sp_span *const *spans, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct sp_span *s = spans[i];
		struct got_span *g;

		nexported++;
		if (ngot == MAX_GOT)
			continue;
		g = &got[ngot++];
		snprintf(g->name, sizeof(g->name), "%s", s->name);
		g->name_len = strlen(s->name);
		memcpy(g->trace, s->trace_id, 16);
		memcpy(g->id, s->span_id, 8);
		memcpy(g->parent, s->parent_id, 8);
		g->kind = s->kind;
		g->start = s->start_ns;
		g->end = s->end_ns;
		g->ret = attr_int(s, "spanprobe.probe.return_value", &g->has_ret);
		g->tid = attr_int(s, "thread.id", NULL);
		g->nargs = attr_int(s, "spanprobe.usdt.args_count", NULL);
		g->arg0 = attr_int(s, sp_span__attr(s, "spanprobe.usdt.arg0") ?
				   "spanprobe.usdt.arg0" : "spanprobe.probe.arg0", NULL);
		g->unfinished = sp_span__attr(s, "spanprobe.span.unfinished") != NULL;
		attr_str(s, "code.function.name", g->func, sizeof(g->func));
		attr_str(s, "spanprobe.probe.binary", g->binary, sizeof(g->binary));
	}
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

static void handle(struct sp_pipeline *p, const void *rec, size_t size)
{
	assert_int_equal(sp_pipeline__handle(p, rec, size), 0);
}

static void define(struct sp_pipeline *p, uint16_t probe, const char *name, const char *symbol,
		   bool usdt)
{
	struct sp_func_def d = { .hdr = { .type = SP_EV_FUNC, .probe = probe,
					  .what = SP_FUNC_DEFINE,
					  .flags = usdt ? SP_FUNC_DEF_USDT : 0 } };

	snprintf(d.name, sizeof(d.name), "%s", name);
	snprintf(d.symbol, sizeof(d.symbol), "%s", usdt ? "prov" : symbol);
	snprintf(d.usdt_name, sizeof(d.usdt_name), "%s", usdt ? symbol : "");
	snprintf(d.binary, sizeof(d.binary), "/opt/app/bin");
	handle(p, &d, sizeof(d));
}

/* A pipeline with the test's probes defined and process PID a target. */
static struct sp_pipeline *new_pipeline(void)
{
	struct sp_pipeline_opts o = {
		.asm_opts = { .flush_interval_ns = 1000 * MS, .batch_max = 64 },
		.max_procs = 64, .max_streams = 16, .max_sockets = 16,
	};
	struct sp_exporter *e = calloc(1, sizeof(*e));
	struct sp_proc_event exec = { .type = SP_EV_PROC_EXEC, .tgid = PID, .ppid = 1, .ts = 1 * MS,
				      .filename = "/opt/app/bin", .args = "bin", .args_len = 4 };
	struct sp_pipeline *p = sp_pipeline__new(&o);

	assert_non_null(p);
	assert_non_null(e);
	e->name = "capture";
	e->export = capture_export;
	e->flush = capture_flush;
	e->free = capture_free;
	assert_int_equal(sp_pipeline__add_sink(p, e), 0);
	ngot = nexported = 0;
	assert_int_equal(sp_pipeline__target(p, PID, 1 * MS), 0);
	handle(p, &exec, sizeof(exec));
	define(p, P_OUTER, "outer", "outer", false);
	define(p, P_MIDDLE, "middle", "middle", false);
	define(p, P_LEAF, "leaf_fn", "leaf", false);
	define(p, P_USDT, "prov:hit", "hit", true);
	define(p, P_REC, "recurse", "recurse", false);
	return p;
}

static void func_ev(struct sp_pipeline *p, uint32_t tid, uint16_t probe, uint8_t what,
		    uint64_t sp, uint64_t ts, int64_t ret, uint8_t flags)
{
	struct sp_func_event ev = { .type = SP_EV_FUNC, .tgid = PID, .tid = tid, .probe = probe,
				    .what = what, .flags = flags, .ts = ts, .sp = sp, .ret = ret };

	if (what == SP_FUNC_ENTRY) {
		ev.nargs = 2;
		ev.args[0] = sp;	/* something to recognise the call by */
	} else if (what == SP_FUNC_USDT) {
		ev.nargs = 3;
		ev.args[0] = 77;
	}
	handle(p, &ev, sizeof(ev));
}

static void enter(struct sp_pipeline *p, uint32_t tid, uint16_t probe, uint64_t sp, uint64_t ts)
{
	func_ev(p, tid, probe, SP_FUNC_ENTRY, sp, ts, 0, 0);
}

static void leave(struct sp_pipeline *p, uint32_t tid, uint16_t probe, uint64_t sp, uint64_t ts,
		  int64_t ret)
{
	func_ev(p, tid, probe, SP_FUNC_RETURN, sp, ts, ret, 0);
}

static void end_run(struct sp_pipeline *p, uint64_t ts)
{
	struct sp_proc_event exit_ev = { .type = SP_EV_PROC_EXIT, .tgid = PID, .ts = ts };

	handle(p, &exit_ev, sizeof(exit_ev));
	sp_pipeline__shutdown(p, ts + MS);
}

/* The span named name whose first argument (or USDT arg0) is arg0. */
static struct got_span *find(const char *name, int64_t arg0)
{
	for (int i = 0; i < ngot; i++)
		if (!strcmp(got[i].name, name) && (arg0 < 0 || got[i].arg0 == arg0))
			return &got[i];
	fail_msg("no span %s (arg0 %lld)", name, (long long)arg0);
	return NULL;
}

static void assert_child(const struct got_span *c, const struct got_span *parent)
{
	assert_memory_equal(c->trace, parent->trace, 16);
	assert_memory_equal(c->parent, parent->id, 8);
	assert_true(c->start >= parent->start && c->end <= parent->end);
}

/* outer -> middle -> leaf -> USDT, returned innermost first: a chain of
 * INTERNAL spans under the process span, with the entries' times. */
static void test_nested_calls(void **state)
{
	struct sp_pipeline *p = new_pipeline();
	struct got_span *proc, *outer, *middle, *leaf, *hit;
	const struct sp_func_stats *fs = sp_pipeline__func_stats(p);

	enter(p, PID, P_OUTER, 0x7000, 10 * MS);
	enter(p, PID, P_MIDDLE, 0x6f00, 11 * MS);
	enter(p, PID, P_LEAF, 0x6e00, 12 * MS);
	func_ev(p, PID, P_USDT, SP_FUNC_USDT, 0x6e00, 13 * MS, 0, 0);
	leave(p, PID, P_LEAF, 0x6e00, 14 * MS, 9);
	leave(p, PID, P_MIDDLE, 0x6f00, 15 * MS, 10);
	leave(p, PID, P_OUTER, 0x7000, 16 * MS, -1);
	end_run(p, 20 * MS);

	assert_int_equal(ngot, 5);
	proc = find("bin", -1);
	outer = find("outer", 0x7000);
	middle = find("middle", 0x6f00);
	leaf = find("leaf_fn", 0x6e00);
	hit = find("prov:hit", 77);
	assert_child(outer, proc);
	assert_child(middle, outer);
	assert_child(leaf, middle);
	assert_child(hit, leaf);
	assert_int_equal(outer->kind, SP_KIND_INTERNAL);
	assert_int_equal(hit->kind, SP_KIND_INTERNAL);
	assert_int_equal(leaf->end - leaf->start, 2 * MS);
	assert_int_equal(outer->end - outer->start, 6 * MS);
	assert_int_equal(hit->end, hit->start);
	assert_int_equal(leaf->start - proc->start, 11 * MS);
	assert_true(outer->has_ret && leaf->has_ret);
	assert_int_equal(outer->ret, -1);
	assert_int_equal(leaf->ret, 9);
	assert_string_equal(leaf->func, "leaf");
	assert_string_equal(leaf->binary, "/opt/app/bin");
	assert_int_equal(leaf->tid, PID);
	assert_int_equal(hit->nargs, 3);
	assert_false(hit->has_ret);
	assert_false(outer->unfinished);
	assert_int_equal(fs->calls, 3);
	assert_int_equal(fs->usdt_hits, 1);
	assert_int_equal(fs->unfinished + fs->unmatched + fs->too_deep, 0);
	sp_pipeline__free(p);
}

/* Two threads of one process, interleaved: each its own stack; a USDT hit
 * with no call open hangs under the process span. */
static void test_threads_apart(void **state)
{
	struct sp_pipeline *p = new_pipeline();
	struct got_span *proc, *o1, *o2, *m1, *m2, *hit;

	enter(p, PID, P_OUTER, 0x7000, 10 * MS);
	enter(p, PID + 1, P_OUTER, 0x5000, 11 * MS);
	enter(p, PID + 1, P_MIDDLE, 0x4f00, 12 * MS);
	enter(p, PID, P_MIDDLE, 0x6f00, 13 * MS);
	func_ev(p, PID + 2, P_USDT, SP_FUNC_USDT, 0x3000, 13 * MS, 0, 0);
	leave(p, PID + 1, P_MIDDLE, 0x4f00, 14 * MS, 0);
	leave(p, PID, P_MIDDLE, 0x6f00, 15 * MS, 0);
	leave(p, PID, P_OUTER, 0x7000, 16 * MS, 0);
	leave(p, PID + 1, P_OUTER, 0x5000, 17 * MS, 0);
	end_run(p, 20 * MS);

	proc = find("bin", -1);
	o1 = find("outer", 0x7000);
	o2 = find("outer", 0x5000);
	m1 = find("middle", 0x6f00);
	m2 = find("middle", 0x4f00);
	hit = find("prov:hit", 77);
	assert_child(o1, proc);
	assert_child(o2, proc);
	assert_child(m1, o1);
	assert_child(m2, o2);
	assert_child(hit, proc);
	assert_int_equal(m2->tid, PID + 1);
	assert_int_equal(hit->tid, PID + 2);
	sp_pipeline__free(p);
}

/* recurse(2): one probe, three frames, told apart by stack pointer. */
static void test_recursion(void **state)
{
	struct sp_pipeline *p = new_pipeline();
	struct got_span *r0, *r1, *r2;

	enter(p, PID, P_REC, 0x7000, 10 * MS);
	enter(p, PID, P_REC, 0x6fe0, 11 * MS);
	enter(p, PID, P_REC, 0x6fc0, 12 * MS);
	leave(p, PID, P_REC, 0x6fc0, 13 * MS, 0);
	leave(p, PID, P_REC, 0x6fe0, 14 * MS, 1);
	leave(p, PID, P_REC, 0x7000, 15 * MS, 2);
	end_run(p, 20 * MS);

	r0 = find("recurse", 0x7000);
	r1 = find("recurse", 0x6fe0);
	r2 = find("recurse", 0x6fc0);
	assert_child(r1, r0);
	assert_child(r2, r1);
	assert_int_equal(r0->ret, 2);
	assert_int_equal(r2->ret, 0);
	sp_pipeline__free(p);
}

/*
 * outer -> middle, then longjmp out of both: the next entry at outer's
 * depth (not a tail call) ends them, unfinished, at its time; the new
 * call is a sibling, not their child.
 */
static void test_longjmp_ends_frames(void **state)
{
	struct sp_pipeline *p = new_pipeline();
	const struct sp_func_stats *fs = sp_pipeline__func_stats(p);
	struct got_span *proc, *outer, *middle, *leaf;

	enter(p, PID, P_OUTER, 0x7000, 10 * MS);
	enter(p, PID, P_MIDDLE, 0x6f00, 11 * MS);
	enter(p, PID, P_LEAF, 0x7000, 15 * MS);
	leave(p, PID, P_LEAF, 0x7000, 16 * MS, 5);
	end_run(p, 20 * MS);

	proc = find("bin", -1);
	outer = find("outer", 0x7000);
	middle = find("middle", 0x6f00);
	leaf = find("leaf_fn", 0x7000);
	assert_true(outer->unfinished && middle->unfinished);
	assert_false(outer->has_ret);
	assert_int_equal(outer->end - outer->start, 5 * MS);
	assert_child(middle, outer);
	assert_child(outer, proc);
	assert_child(leaf, proc);
	assert_false(leaf->unfinished);
	assert_int_equal(fs->unfinished, 2);
	assert_int_equal(fs->calls, 1);
	sp_pipeline__free(p);
}

/* A return that skips frames (a longjmp out of the inner one into the
 * outer one, which then returns): the skipped frames end unfinished. */
static void test_return_past_open_frames(void **state)
{
	struct sp_pipeline *p = new_pipeline();
	struct got_span *outer, *middle;

	enter(p, PID, P_OUTER, 0x7000, 10 * MS);
	enter(p, PID, P_MIDDLE, 0x6f00, 11 * MS);
	leave(p, PID, P_OUTER, 0x7000, 14 * MS, 3);
	end_run(p, 20 * MS);

	outer = find("outer", 0x7000);
	middle = find("middle", 0x6f00);
	assert_false(outer->unfinished);
	assert_true(middle->unfinished);
	assert_int_equal(middle->end, outer->end);
	assert_child(middle, outer);
	sp_pipeline__free(p);
}

/* outer tail-calls middle (`jmp`): the same stack pointer, the entry
 * flagged; both returns come, the callee's first. */
static void test_tail_call_nests(void **state)
{
	struct sp_pipeline *p = new_pipeline();
	const struct sp_func_stats *fs = sp_pipeline__func_stats(p);
	struct got_span *outer, *middle;

	enter(p, PID, P_OUTER, 0x7000, 10 * MS);
	func_ev(p, PID, P_MIDDLE, SP_FUNC_ENTRY, 0x7000, 11 * MS, 0, SP_FUNC_F_TAIL);
	leave(p, PID, P_MIDDLE, 0x7000, 12 * MS, 4);
	leave(p, PID, P_OUTER, 0x7000, 12 * MS, 4);
	end_run(p, 20 * MS);

	outer = find("outer", 0x7000);
	middle = find("middle", 0x7000);
	assert_child(middle, outer);
	assert_false(outer->unfinished || middle->unfinished);
	assert_int_equal(fs->calls, 2);
	sp_pipeline__free(p);
}

/* 40 nested calls: SP_FUNC_DEPTH are traced, the rest counted; their
 * returns are not "unmatched". */
static void test_depth_bound(void **state)
{
	struct sp_pipeline *p = new_pipeline();
	const struct sp_func_stats *fs = sp_pipeline__func_stats(p);
	int n = SP_FUNC_DEPTH + 8;

	for (int i = 0; i < n; i++)
		enter(p, PID, P_REC, 0x10000 - i * 0x20, (10 + i) * MS);
	for (int i = n - 1; i >= 0; i--)
		leave(p, PID, P_REC, 0x10000 - i * 0x20, (100 + n - i) * MS, i);
	assert_int_equal(fs->calls, SP_FUNC_DEPTH);
	assert_int_equal(fs->too_deep, 8);
	assert_int_equal(fs->unmatched, 0);
	/* a return of nothing open is */
	leave(p, PID, P_REC, 0x10000, 200 * MS, 0);
	assert_int_equal(fs->unmatched, 1);
	end_run(p, 300 * MS);
	assert_int_equal(nexported, SP_FUNC_DEPTH + 1);
	assert_child(find("recurse", 0x10000 - (SP_FUNC_DEPTH - 1) * 0x20),
		     find("recurse", 0x10000 - (SP_FUNC_DEPTH - 2) * 0x20));
	sp_pipeline__free(p);
}

/* The process exits inside a call: it ends there, unfinished, inside the
 * process span (which ends at the same time). */
static void test_exit_ends_open_calls(void **state)
{
	struct sp_pipeline *p = new_pipeline();
	struct got_span *proc, *outer, *middle;

	enter(p, PID, P_OUTER, 0x7000, 10 * MS);
	enter(p, PID, P_MIDDLE, 0x6f00, 11 * MS);
	end_run(p, 30 * MS);

	proc = find("bin", -1);
	outer = find("outer", 0x7000);
	middle = find("middle", 0x6f00);
	assert_true(outer->unfinished && middle->unfinished);
	assert_int_equal(outer->end, proc->end);
	assert_child(outer, proc);
	assert_child(middle, outer);
	assert_int_equal(sp_pipeline__func_stats(p)->unfinished, 2);
	sp_pipeline__free(p);
}

/* A call that execs never returns: it ends at the exec. */
static void test_exec_ends_open_calls(void **state)
{
	struct sp_pipeline *p = new_pipeline();
	struct sp_proc_event exec = { .type = SP_EV_PROC_EXEC, .tgid = PID, .ppid = 1,
				      .ts = 15 * MS, .filename = "/bin/true", .args = "true",
				      .args_len = 5 };
	struct got_span *outer;

	enter(p, PID, P_OUTER, 0x7000, 10 * MS);
	handle(p, &exec, sizeof(exec));
	end_run(p, 30 * MS);

	outer = find("outer", 0x7000);
	assert_true(outer->unfinished);
	assert_int_equal(outer->end - outer->start, 5 * MS);
	assert_child(outer, find("true", -1));
	sp_pipeline__free(p);
}

/* More threads with calls open than the table holds: the least recently
 * active one goes, its call ended; its return is then unmatched. */
static void test_thread_eviction(void **state)
{
	struct sp_pipeline *p = new_pipeline();
	const struct sp_func_stats *fs = sp_pipeline__func_stats(p);

	for (uint32_t i = 0; i <= SP_FUNC_MAX_THREADS; i++)
		enter(p, 100000 + i, P_OUTER, 0x7000, (10 + i) * MS);
	assert_int_equal(fs->thread_evictions, 1);
	assert_int_equal(fs->unfinished, 1);
	leave(p, 100000, P_OUTER, 0x7000, 9000 * MS, 0);
	assert_int_equal(fs->unmatched, 1);
	leave(p, 100001, P_OUTER, 0x7000, 9000 * MS, 0);
	assert_int_equal(fs->calls, 1);
	sp_pipeline__free(p);
}

/* Records of a probe never defined, and malformed ones. */
static void test_unknown_and_malformed(void **state)
{
	struct sp_pipeline *p = new_pipeline();
	struct sp_func_event ev = { .type = SP_EV_FUNC, .tgid = PID, .tid = PID, .probe = 9,
				    .what = SP_FUNC_ENTRY, .sp = 0x7000, .ts = 10 * MS };
	struct sp_func_def d = { .hdr = { .type = SP_EV_FUNC, .probe = 1, .what = SP_FUNC_DEFINE } };

	handle(p, &ev, sizeof(ev));
	assert_int_equal(sp_pipeline__func_stats(p)->unknown_probe, 1);
	assert_int_equal(sp_pipeline__handle(p, &ev, sizeof(ev) - 1), -EINVAL);
	ev.probe = SP_FUNC_MAX_PROBES;
	assert_int_equal(sp_pipeline__handle(p, &ev, sizeof(ev)), -EINVAL);
	ev.probe = P_OUTER;
	ev.what = 99;
	assert_int_equal(sp_pipeline__handle(p, &ev, sizeof(ev)), -EINVAL);
	/* a definition cut short, and one whose strings fill their fields */
	assert_int_equal(sp_pipeline__handle(p, &d, sizeof(d) - 1), -EINVAL);
	memset(d.name, 'x', sizeof(d.name));
	handle(p, &d, sizeof(d));
	enter(p, PID, 1, 0x7000, 10 * MS);
	leave(p, PID, 1, 0x7000, 11 * MS, 0);
	end_run(p, 20 * MS);
	assert_int_equal(ngot, 2);
	assert_int_equal(find("bin", -1) == &got[0] ? got[1].name_len : got[0].name_len,
			 SP_FUNC_NAME_LEN - 1);
	sp_pipeline__free(p);
}

/* ---- resolution, on probe_target ---- */

/* nm's addresses of the function symbols named name in target: count. */
static int nm_addrs(const char *name, uint64_t *out, int max)
{
	char cmd[PATH_MAX + 32], line[512], type, sym[256];
	unsigned long long addr;
	FILE *f;
	int n = 0;

	snprintf(cmd, sizeof(cmd), "nm '%s'", target);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx %c %255s", &addr, &type, sym) == 3 &&
		    (type == 't' || type == 'T') && !strcmp(sym, name) && n < max)
			out[n++] = addr;
	assert_int_equal(pclose(f), 0);
	return n;
}

static int resolve(const char *what, bool usdt, struct sp_func_probe *out)
{
	char arg[PATH_MAX + 160];

	snprintf(arg, sizeof(arg), "%s:%s", target, what);
	return sp_func_probe_resolve(arg, usdt, out);
}

static void test_resolve_unique(void **state)
{
	struct sp_func_probe fp;
	uint64_t addr[2];
	char real[PATH_MAX];

	assert_int_equal(nm_addrs("outer", addr, 2), 1);
	assert_int_equal(resolve("outer", false, &fp), 0);
	assert_int_equal(fp.addr, addr[0]);
	assert_true(fp.off > 0);
	assert_string_equal(fp.symbol, "outer");
	assert_string_equal(fp.name, "outer");
	assert_non_null(realpath(target, real));
	assert_string_equal(fp.binary, real);
	assert_int_equal(resolve("leaf=my leaf", false, &fp), 0);
	assert_string_equal(fp.symbol, "leaf");
	assert_string_equal(fp.name, "my leaf");
}

static void test_resolve_twins(void **state)
{
	struct sp_func_probe fp;
	uint64_t addr[4];
	char by_addr[40];

	/* two static functions named twin: refused, each reachable by address */
	assert_int_equal(nm_addrs("twin", addr, 4), 2);
	assert_int_equal(resolve("twin", false, &fp), -ENOTUNIQ);
	for (int i = 0; i < 2; i++) {
		snprintf(by_addr, sizeof(by_addr), "0x%llx=twin%d", (unsigned long long)addr[i], i);
		assert_int_equal(resolve(by_addr, false, &fp), 0);
		assert_int_equal(fp.addr, addr[i]);
		assert_string_equal(fp.symbol, "twin");
	}
	/* an address inside a function is no function start */
	snprintf(by_addr, sizeof(by_addr), "0x%llx", (unsigned long long)addr[0] + 1);
	assert_int_equal(resolve(by_addr, false, &fp), -ENOENT);
}

static void test_resolve_errors(void **state)
{
	struct sp_func_probe fp;

	assert_int_equal(resolve("no_such_function", false, &fp), -ENOENT);
	assert_int_equal(resolve("printf", false, &fp), -ENOENT);	/* imported only */
	assert_int_equal(sp_func_probe_resolve("/no/such/file:main", false, &fp), -ENOENT);
	assert_int_equal(sp_func_probe_resolve("/etc/passwd:main", false, &fp), -ENOEXEC);
	assert_int_equal(sp_func_probe_check("no-colon", false), -EINVAL);
	assert_int_equal(sp_func_probe_check("/bin/x:", false), -EINVAL);
	assert_int_equal(sp_func_probe_check("/bin/x:f=", false), -EINVAL);
	assert_int_equal(sp_func_probe_check("/bin/x:f=a name", false), 0);
	assert_int_equal(sp_func_probe_check("/bin/x:prov", true), -EINVAL);
	assert_int_equal(sp_func_probe_check("/bin/x::n", true), -EINVAL);
	assert_int_equal(sp_func_probe_check("/a:b/x:prov:n", true), 0);
}

static void test_resolve_usdt(void **state)
{
	struct sp_func_probe fp;

	assert_int_equal(resolve("spanprobe_test:leaf_hit", true, &fp), 0);
	assert_string_equal(fp.symbol, "spanprobe_test");
	assert_string_equal(fp.usdt_name, "leaf_hit");
	assert_string_equal(fp.name, "spanprobe_test:leaf_hit");
	assert_int_equal(resolve("spanprobe_test:nope", true, &fp), -ENOENT);
	assert_int_equal(resolve("other:leaf_hit", true, &fp), -ENOENT);
}

/* A copy of target with patch applied at the first match of find (or at
 * offset at when find is NULL), written to a temporary file: its path. */
static void patched_copy(const char *find, size_t at, const void *patch, size_t n, char *out)
{
	FILE *f = fopen(target, "rb");
	char *buf, *hit;
	long len;
	int fd;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	rewind(f);
	buf = malloc(len);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, len, f), len);
	fclose(f);
	hit = find ? memmem(buf, len, find, strlen(find) + 1) : buf + at;
	assert_non_null(hit);
	memcpy(hit, patch, n);
	strcpy(out, "/tmp/spanprobe-test-func-XXXXXX");
	fd = mkstemp(out);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), len);
	close(fd);
	free(buf);
}

/* Files whose symbols resolve but that must not be probed: 32-bit x86
 * (e_machine EM_386), and a Go program (a .gopclntab section: a uretprobe
 * would break its stack walks). */
static void test_unsafe_files(void **state)
{
	static const char gopcln[] = ".gopclntab";
	uint16_t em386 = 3;
	char path[64], arg[128];
	struct sp_func_probe fp;

	patched_copy(NULL, offsetof(Elf64_Ehdr, e_machine), &em386, sizeof(em386), path);
	snprintf(arg, sizeof(arg), "%s:outer", path);
	assert_int_equal(sp_func_probe_resolve(arg, false, &fp), -ENOTSUP);
	unlink(path);
	/* a section renamed in the section-name table */
	patched_copy(".note.gnu.build-id", 0, gopcln, sizeof(gopcln), path);
	snprintf(arg, sizeof(arg), "%s:outer", path);
	assert_int_equal(sp_func_probe_resolve(arg, false, &fp), -ENOTSUP);
	/* a USDT probe sets no uretprobe: fine in Go */
	snprintf(arg, sizeof(arg), "%s:spanprobe_test:done", path);
	assert_int_equal(sp_func_probe_resolve(arg, true, &fp), 0);
	unlink(path);
}

/* x86-64: a function that begins `endbr64; push` is probed at the push,
 * which the kernel emulates; one whose endbr64 no push follows, at the
 * endbr64. */
static void test_past_endbr64(void **state)
{
#if defined(__x86_64__)
	static const uint8_t endbr_push[5] = { 0xf3, 0x0f, 0x1e, 0xfa, 0x55 };
	static const uint8_t endbr_lea[5] = { 0xf3, 0x0f, 0x1e, 0xfa, 0x8d };
	struct sp_func_probe fp;
	char path[64], arg[128];
	uint64_t off;

	assert_int_equal(resolve("outer", false, &fp), 0);
	off = fp.off;
	patched_copy(NULL, off, endbr_push, sizeof(endbr_push), path);
	snprintf(arg, sizeof(arg), "%s:outer", path);
	assert_int_equal(sp_func_probe_resolve(arg, false, &fp), 0);
	assert_int_equal(fp.off, off + 4);
	unlink(path);
	patched_copy(NULL, off, endbr_lea, sizeof(endbr_lea), path);
	snprintf(arg, sizeof(arg), "%s:outer", path);
	assert_int_equal(sp_func_probe_resolve(arg, false, &fp), 0);
	assert_int_equal(fp.off, off);
	unlink(path);
#else
	skip();
#endif
}

/* The same function twice (by name and by address) is probed once. */
static void test_probes_once(void **state)
{
	char a[PATH_MAX + 16], b[PATH_MAX + 32], c[PATH_MAX + 32];
	struct sp_probe_arg args[3] = { { a, false }, { b, false }, { c, true } };
	struct sp_func_probes *fps;
	uint64_t addr;

	assert_int_equal(nm_addrs("middle", &addr, 1), 1);
	snprintf(a, sizeof(a), "%s:middle", target);
	snprintf(b, sizeof(b), "%s:0x%llx", target, (unsigned long long)addr);
	snprintf(c, sizeof(c), "%s:spanprobe_test:done", target);
	fps = sp_func_probes__new(args, 3);
	assert_non_null(fps);
	assert_int_equal(sp_func_probes__count(fps), 2);
	assert_true(sp_func_probes__get(fps, 1)->usdt);
	assert_null(sp_func_probes__get(fps, 2));
	sp_func_probes__free(fps);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nested_calls),
		cmocka_unit_test(test_threads_apart),
		cmocka_unit_test(test_recursion),
		cmocka_unit_test(test_longjmp_ends_frames),
		cmocka_unit_test(test_return_past_open_frames),
		cmocka_unit_test(test_tail_call_nests),
		cmocka_unit_test(test_depth_bound),
		cmocka_unit_test(test_exit_ends_open_calls),
		cmocka_unit_test(test_exec_ends_open_calls),
		cmocka_unit_test(test_thread_eviction),
		cmocka_unit_test(test_unknown_and_malformed),
		cmocka_unit_test(test_resolve_unique),
		cmocka_unit_test(test_resolve_twins),
		cmocka_unit_test(test_resolve_errors),
		cmocka_unit_test(test_resolve_usdt),
		cmocka_unit_test(test_unsafe_files),
		cmocka_unit_test(test_past_endbr64),
		cmocka_unit_test(test_probes_once),
	};
	char self[PATH_MAX];

	/* the Makefile builds it beside this binary */
	snprintf(self, sizeof(self), "%s", argv[0]);
	snprintf(target, sizeof(target), "%s/probe_target", dirname(self));
	return cmocka_run_group_tests_name("func", tests, NULL, NULL);
}
