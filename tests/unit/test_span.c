// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The span model and its pool: a span grows through every size class and
 * stops at the documented bounds; its text behaves exactly like the one
 * flat 16 KiB arena it replaces (checked against a model of that arena);
 * a string never moves; the pool reuses blocks, stays within max_spans
 * and max_bytes, gives memory back after a burst and drops resource
 * references. Prints what a span costs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include "semantics/http_span.h"
#include "semantics/llm.h"
#include "model/resource.h"
#include "model/span.h"
#include "model/span_pool.h"

#define BASE (sp_blk_size[SP_BLK_SPAN] + sp_blk_size[SP_BLK_ATTRS_8] + \
	      sp_blk_size[SP_BLK_TEXT_512])

static const char *const keys[SP_SPAN_MAX_ATTRS + 1] = {
#define K(n) "k" #n
	K(0), K(1), K(2), K(3), K(4), K(5), K(6), K(7), K(8), K(9), K(10), K(11), K(12),
	K(13), K(14), K(15), K(16), K(17), K(18), K(19), K(20), K(21), K(22), K(23), K(24),
	K(25), K(26), K(27), K(28), K(29), K(30), K(31), K(32), K(33), K(34), K(35), K(36),
	K(37), K(38), K(39), K(40), K(41), K(42), K(43), K(44), K(45), K(46), K(47), K(48),
	K(49), K(50), K(51), K(52), K(53), K(54), K(55), K(56), K(57), K(58), K(59), K(60),
	K(61), K(62), K(63), K(64), K(65), K(66), K(67), K(68), K(69), K(70), K(71), K(72),
	K(73), K(74), K(75), K(76), K(77), K(78), K(79), K(80), K(81), K(82), K(83), K(84),
	K(85), K(86), K(87), K(88), K(89), K(90), K(91), K(92), K(93), K(94), K(95), K(96),
#undef K
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11) % n;
}

/* ---- the arena this replaces, written again from the Unicode table ---- */

/* Unicode 15, table 3-7: well-formed UTF-8 byte sequences (lead byte
 * range, second byte range, length; later bytes are 80..BF). */
static const struct {
	uint8_t lo, hi, lo2, hi2, n;
} wf[] = {
	{ 0x00, 0x7f, 0, 0, 1 },       { 0xc2, 0xdf, 0x80, 0xbf, 2 },
	{ 0xe0, 0xe0, 0xa0, 0xbf, 3 }, { 0xe1, 0xec, 0x80, 0xbf, 3 },
	{ 0xed, 0xed, 0x80, 0x9f, 3 }, { 0xee, 0xef, 0x80, 0xbf, 3 },
	{ 0xf0, 0xf0, 0x90, 0xbf, 4 }, { 0xf1, 0xf3, 0x80, 0xbf, 4 },
	{ 0xf4, 0xf4, 0x80, 0x8f, 4 },
};

static size_t wf_len(const uint8_t *p, size_t left)
{
	for (size_t r = 0; r < sizeof(wf) / sizeof(wf[0]); r++) {
		if (p[0] < wf[r].lo || p[0] > wf[r].hi)
			continue;
		if (wf[r].n > left)
			return 0;
		if (wf[r].n > 1 && (p[1] < wf[r].lo2 || p[1] > wf[r].hi2))
			return 0;
		for (size_t i = 2; i < wf[r].n; i++)
			if (p[i] < 0x80 || p[i] > 0xbf)
				return 0;
		return wf[r].n;
	}
	return 0;
}

struct flat {
	size_t used;
	char arena[SP_SPAN_ARENA];
};

/* What the fixed-size span did: copy whole characters while they fit,
 * U+FFFD for each byte that is not UTF-8, always a NUL; NULL when full. */
static const char *flat_strdup(struct flat *f, const char *str, size_t len)
{
	const uint8_t *p = (const uint8_t *)str;
	char *out = f->arena + f->used, *o = out;
	size_t room = SP_SPAN_ARENA - f->used;

	if (!room)
		return NULL;
	for (size_t i = 0; i < len;) {
		size_t n = wf_len(p + i, len - i);
		const void *src = n ? (const void *)(p + i) : "\xef\xbf\xbd";
		size_t w = n ? n : 3;

		if (w > room - 1)
			break;
		memcpy(o, src, w);
		o += w;
		room -= w;
		i += n ? n : 1;
	}
	*o++ = 0;
	f->used += o - out;
	return out;
}

/* Random text: ASCII, valid 2-4 byte characters and stray bytes. */
static size_t rand_text(char *buf, size_t max)
{
	static const char *const pieces[] = {
		"a", "Z", " ", "{\"k\":1}", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
		"\xff", "\xc3", "\xe2\x82", "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80",
	};
	size_t want = rnd(4) ? rnd(200) : rnd(6000), n = 0;

	while (n < want && n + 8 < max) {
		const char *pc = pieces[rnd(sizeof(pieces) / sizeof(pieces[0]))];

		memcpy(buf + n, pc, strlen(pc));
		n += strlen(pc);
	}
	return n;
}

struct kept {
	const char *p;
	char *copy;
};

/* Fills s the way the flat arena would have been filled, comparing every
 * result, then checks no string moved. */
static void text_matches_flat(struct sp_span *s)
{
	static char buf[8192];
	struct flat *f = calloc(1, sizeof(*f));
	struct kept kept[600];
	int nkept = 0;

	assert_non_null(f);
	assert_non_null(flat_strdup(f, "x", 1));	/* the name */
	assert_int_equal(sp_span__arena_left(s), SP_SPAN_ARENA - f->used);
	for (int step = 0; step < 600; step++) {
		size_t len = rand_text(buf, sizeof(buf));
		const char *got = sp_span__strdup(s, buf, len);
		const char *want = flat_strdup(f, buf, len);

		if (!want) {
			assert_null(got);
			break;
		}
		assert_non_null(got);
		assert_string_equal(got, want);
		assert_int_equal(sp_span__arena_left(s), SP_SPAN_ARENA - f->used);
		kept[nkept].p = got;
		kept[nkept++].copy = strdup(got);
	}
	assert_int_equal(sp_span__arena_left(s), 0);
	assert_int_equal(f->used, SP_SPAN_ARENA);
	for (int i = 0; i < nkept; i++) {
		assert_string_equal(kept[i].p, kept[i].copy);
		free(kept[i].copy);
	}
	free(f);
}

/* ---- growth and bounds ---- */

static void test_attrs_grow_through_each_class(void **state)
{
	struct sp_span_pool *p = sp_span_pool__new(4, 1 << 20);
	const struct sp_span_pool_stats *st = sp_span_pool__stats(p);
	static const struct {
		unsigned upto;
		enum sp_blk_class cls;
	} steps[] = {
		{ 8, SP_BLK_ATTRS_8 },
		{ 16, SP_BLK_ATTRS_16 },
		{ 32, SP_BLK_ATTRS_32 },
		{ 64, SP_BLK_ATTRS_64 },
		{ 96, SP_BLK_ATTRS_96 },
	};
	struct sp_span *s = sp_span_pool__get(p);
	unsigned n = 0;

	assert_non_null(s);
	sp_span__init(s, "x", 1, SP_KIND_CLIENT, NULL);
	assert_int_equal(st->bytes_in_use, BASE);
	for (unsigned k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		for (; n < steps[k].upto; n++)
			sp_span__set_int(s, keys[n], n * 7);
		assert_int_equal(s->nattrs, n);
		assert_int_equal(st->bytes_in_use, BASE - sp_blk_size[SP_BLK_ATTRS_8] +
							   sp_blk_size[steps[k].cls]);
		/* every value survived each move */
		for (unsigned i = 0; i < n; i++) {
			assert_ptr_equal(s->attrs[i].key, keys[i]);
			assert_int_equal(s->attrs[i].i, i * 7);
		}
	}
	/* the 97th is dropped and counted; an existing key is still set */
	sp_span__set_int(s, keys[96], 1);
	assert_int_equal(s->nattrs, SP_SPAN_MAX_ATTRS);
	assert_int_equal(s->dropped_attrs, 1);
	assert_null(sp_span__attr(s, keys[96]));
	sp_span__set_str(s, keys[5], "five", 4);
	assert_string_equal(sp_span__attr(s, keys[5])->s, "five");
	sp_span__set_bool(s, keys[96], true);
	sp_span__set_double(s, keys[96], 1.5);
	assert_int_equal(s->dropped_attrs, 3);
	assert_int_equal(st->grows_refused, 0);
	sp_span_pool__put(p, s);
	assert_int_equal(st->bytes_in_use, 0);
	sp_span_pool__free(p);
}

static void test_events_grow_and_stop_at_16(void **state)
{
	struct sp_span *s = sp_span__alloc();
	struct sp_event *e;

	assert_non_null(s);
	sp_span__init(s, "x", 1, SP_KIND_CLIENT, NULL);
	for (unsigned i = 0; i < SP_SPAN_MAX_EVENTS; i++) {
		e = sp_span__add_event(s, keys[i], 1000 + i);
		assert_non_null(e);
		/* an event's own attributes: in place, up to 8 */
		for (unsigned k = 0; k <= i % SP_EVENT_MAX_ATTRS; k++)
			e->attrs[e->nattrs++] = (struct sp_attr){ .key = keys[k], .type = SP_ATTR_INT,
								  .i = i * 100 + k };
		assert_int_equal(s->events_cls, i < 2 ? SP_BLK_EVENTS_2 : i < 4 ? SP_BLK_EVENTS_4
									: SP_BLK_EVENTS_16);
	}
	assert_null(sp_span__add_event(s, "17th", 1));
	assert_int_equal(s->nevents, SP_SPAN_MAX_EVENTS);
	assert_int_equal(s->dropped_events, 1);
	for (unsigned i = 0; i < SP_SPAN_MAX_EVENTS; i++) {
		assert_string_equal(s->events[i].name, keys[i]);
		assert_int_equal(s->events[i].time_ns, 1000 + i);
		assert_int_equal(s->events[i].nattrs, i % SP_EVENT_MAX_ATTRS + 1);
		for (unsigned k = 0; k < s->events[i].nattrs; k++)
			assert_int_equal(s->events[i].attrs[k].i, i * 100 + k);
	}
	sp_span__free(s);
}

static void test_text_blocks_grow_and_strings_stay(void **state)
{
	struct sp_span_pool *p = sp_span_pool__new(4, 1 << 20);
	const struct sp_span_pool_stats *st = sp_span_pool__stats(p);
	struct sp_span *s = sp_span_pool__get(p);
	char big[16384];
	const char *a, *b, *c, *d, *tail;
	size_t blocks = sp_blk_size[SP_BLK_TEXT_512];

	memset(big, 'q', sizeof(big));
	sp_span__init(s, "name", 4, SP_KIND_CLIENT, NULL);
	a = sp_span__strdup(s, big, 400);	/* fits the first block */
	assert_int_equal(st->bytes_in_use - sp_blk_size[SP_BLK_SPAN] - sp_blk_size[SP_BLK_ATTRS_8],
			 blocks);
	b = sp_span__strdup(s, big, 1000);	/* the next: 2 KiB */
	blocks += sp_blk_size[SP_BLK_TEXT_2K];
	assert_int_equal(st->bytes_in_use - sp_blk_size[SP_BLK_SPAN] - sp_blk_size[SP_BLK_ATTRS_8],
			 blocks);
	tail = sp_span__strdup(s, "tail", 4);	/* back in the first block's tail */
	assert_int_equal(st->bytes_in_use - sp_blk_size[SP_BLK_SPAN] - sp_blk_size[SP_BLK_ATTRS_8],
			 blocks);
	c = sp_span__strdup(s, big, 3000);	/* 8 KiB */
	blocks += sp_blk_size[SP_BLK_TEXT_8K];
	d = sp_span__strdup(s, big, 9000);	/* 16 KiB, the last class */
	blocks += sp_blk_size[SP_BLK_TEXT_16K];
	assert_int_equal(st->bytes_in_use - sp_blk_size[SP_BLK_SPAN] - sp_blk_size[SP_BLK_ATTRS_8],
			 blocks);
	assert_int_equal(sp_span__arena_left(s), SP_SPAN_ARENA - 5 - 401 - 1001 - 5 - 3001 - 9001);
	/* what is left fits where it is: no block past the 16 KiB one */
	sp_span__set_str(s, "rest", big, sizeof(big));
	assert_int_equal(sp_span__arena_left(s), 0);
	assert_int_equal(st->bytes_in_use - sp_blk_size[SP_BLK_SPAN] - sp_blk_size[SP_BLK_ATTRS_8],
			 blocks);
	assert_int_equal(strlen(sp_span__attr(s, "rest")->s), 16384 - 5 - 401 - 1001 - 5 - 3001 -
								   9001 - 1);
	assert_null(sp_span__strdup(s, "x", 1));
	sp_span__set_str(s, "more", "x", 1);
	assert_int_equal(s->dropped_attrs, 1);
	assert_string_equal(s->name, "name");
	assert_int_equal(strspn(a, "q"), 400);
	assert_int_equal(strlen(a), 400);
	assert_int_equal(strlen(b), 1000);
	assert_int_equal(strlen(c), 3000);
	assert_int_equal(strlen(d), 9000);
	assert_string_equal(tail, "tail");
	sp_span_pool__put(p, s);
	sp_span_pool__free(p);
}

static void test_text_exactly_as_the_flat_arena(void **state)
{
	struct sp_span_pool *p = sp_span_pool__new(4, 1 << 20);

	for (int round = 0; round < 200; round++) {
		struct sp_span *s = round % 2 ? sp_span_pool__get(p) : calloc(1, sizeof(*s));

		sp_span__init(s, "x", 1, SP_KIND_CLIENT, NULL);
		text_matches_flat(s);
		if (round % 2) {
			sp_span_pool__put(p, s);
		} else {
			sp_span__release(s);
			free(s);
		}
	}
	assert_int_equal(sp_span_pool__stats(p)->grows_refused, 0);
	sp_span_pool__free(p);
}

static void test_a_name_can_take_it_all(void **state)
{
	char big[20000];
	struct sp_span *s = sp_span__alloc();

	memset(big, 'n', sizeof(big));
	sp_span__init(s, big, sizeof(big), SP_KIND_CLIENT, NULL);
	assert_int_equal(strlen(s->name), SP_SPAN_ARENA - 1);
	assert_int_equal(sp_span__arena_left(s), 0);
	sp_span__set_str(s, "k", "v", 1);
	assert_int_equal(s->dropped_attrs, 1);
	sp_span__set_status(s, SP_STATUS_ERROR, "m");
	assert_null(s->status_msg);
	/* the same span again: empty, all of its text back */
	sp_span__init(s, "y", 1, SP_KIND_SERVER, NULL);
	assert_string_equal(s->name, "y");
	assert_int_equal(sp_span__arena_left(s), SP_SPAN_ARENA - 2);
	assert_int_equal(s->nattrs, 0);
	assert_int_equal(s->dropped_attrs, 0);
	sp_span__free(s);
}

static void test_str_array_back_to_back_across_blocks(void **state)
{
	const char *v[] = { "stop", "length", "tool_calls", "\xff" };
	char filler[600];
	struct sp_span *s = sp_span__alloc();
	const struct sp_attr *a;
	const char *q;

	memset(filler, 'f', sizeof(filler));
	sp_span__init(s, "x", 1, SP_KIND_CLIENT, NULL);
	/* the first block keeps 8 bytes: the array goes to the next, whole */
	sp_span__strdup(s, filler, 512 - 2 - 1 - 8);
	sp_span__set_str_array(s, "a", v, 4);
	a = sp_span__attr(s, "a");
	assert_non_null(a);
	assert_int_equal(a->type, SP_ATTR_STR_ARRAY);
	assert_int_equal(a->n, 4);
	q = a->s;
	for (int i = 0; i < 3; i++, q += strlen(q) + 1)
		assert_string_equal(q, v[i]);
	assert_string_equal(q, "\xef\xbf\xbd");
	assert_int_equal(sp_span__arena_left(s), SP_SPAN_ARENA - 2 - 502 - 5 - 7 - 11 - 4);
	sp_span__set_str_array(s, "none", v, 0);
	assert_int_equal(s->dropped_attrs, 1);
	sp_span__free(s);
}

static void test_str_array_cut_like_the_flat_arena(void **state)
{
	char big[16384];
	const char *v[] = { "alpha", "beta", "gamma" };
	struct sp_span *s = sp_span__alloc();
	const struct sp_attr *a;

	memset(big, 'b', sizeof(big));
	sp_span__init(s, "x", 1, SP_KIND_CLIENT, NULL);
	/* 8 bytes left: "alpha" and the NUL, then "b" cut to nothing but "" */
	sp_span__strdup(s, big, SP_SPAN_ARENA - 2 - 8 - 1);
	assert_int_equal(sp_span__arena_left(s), 8);
	sp_span__set_str_array(s, "a", v, 3);
	a = sp_span__attr(s, "a");
	assert_non_null(a);
	assert_int_equal(a->n, 2);
	assert_string_equal(a->s, "alpha");
	assert_string_equal(a->s + 6, "b");
	assert_int_equal(sp_span__arena_left(s), 0);
	sp_span__set_str_array(s, "b", v, 3);
	assert_int_equal(s->dropped_attrs, 1);
	sp_span__free(s);
}

static void test_utf8_repair(void **state)
{
	struct sp_span *s = sp_span__alloc();
	char fixed[] = "ok \xc3\xa9 \xff \xe2\x82 \xed\xa0\x80 \xf0\x9f\x98\x80";

	sp_span__init(s, "GET /\xff", 6, SP_KIND_CLIENT, NULL);
	assert_string_equal(s->name, "GET /\xef\xbf\xbd");
	sp_span__set_str(s, "k", "a\xff\xfe" "b\x01", 5);
	assert_string_equal(sp_span__attr(s, "k")->s, "a\xef\xbf\xbd\xef\xbf\xbd" "b\x01");
	/* a character cut by the caller's length is not half copied */
	sp_span__set_str(s, "cut", "\xe2\x82\xac", 2);
	assert_string_equal(sp_span__attr(s, "cut")->s, "\xef\xbf\xbd\xef\xbf\xbd");
	/* overlong and surrogate forms, and above U+10FFFF */
	sp_span__set_str(s, "bad", "\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80", 9);
	assert_int_equal(strlen(sp_span__attr(s, "bad")->s), 9 * 3);
	sp_span__set_str(s, "good", "\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf", 8);
	assert_string_equal(sp_span__attr(s, "good")->s, "\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf");
	sp_utf8_fix(fixed);
	assert_string_equal(fixed, "ok \xc3\xa9 ? ?? ??? \xf0\x9f\x98\x80");
	sp_span__free(s);
}

/* ---- spans not from a pool ---- */

static void fill_some(struct sp_span *s)
{
	char big[5000];

	memset(big, 'z', sizeof(big));
	for (unsigned i = 0; i < 40; i++)
		sp_span__set_int(s, keys[i], i);
	for (unsigned i = 0; i < 5; i++)
		sp_span__add_event(s, "e", i);
	sp_span__set_str(s, "big", big, sizeof(big));
	sp_span__set_status(s, SP_STATUS_ERROR, "boom");
	assert_int_equal(s->nattrs, 41);
	assert_int_equal(s->nevents, 5);
	assert_string_equal(s->status_msg, "boom");
}

static void test_spans_from_any_memory(void **state)
{
	struct sp_resource *r = sp_resource__new();
	struct sp_span *heap = malloc(sizeof(*heap)), *zero = calloc(1, sizeof(*zero));
	struct sp_span *own = sp_span__alloc(), stack;

	/* never initialised: taken as raw memory (ASan finds any leak or
	 * stray free of what looked like blocks) */
	memset(heap, 0xa5, sizeof(*heap));
	memset(&stack, 0x5a, sizeof(stack));
	for (int round = 0; round < 3; round++) {
		struct sp_span *all[] = { heap, zero, own, &stack };

		for (int i = 0; i < 4; i++) {
			sp_span__init(all[i], "n", 1, SP_KIND_CLIENT, r);
			fill_some(all[i]);
		}
		assert_int_equal(r->refs, 5);
		for (int i = 0; i < 4; i++) {
			sp_span__release(all[i]);
			assert_int_equal(all[i]->nattrs, 0);
			assert_null(all[i]->res);
		}
		assert_int_equal(r->refs, 1);
	}
	/* one of sp_span__alloc's may be set up again without a release */
	sp_span__init(own, "a", 1, SP_KIND_CLIENT, r);
	fill_some(own);
	sp_span__init(own, "b", 1, SP_KIND_CLIENT, r);
	assert_int_equal(r->refs, 2);
	assert_int_equal(own->nattrs, 0);
	sp_span__free(own);
	sp_span__free(NULL);
	assert_int_equal(r->refs, 1);
	free(heap);
	free(zero);
	sp_resource__put(r);
}

/* ---- the pool ---- */

/* One of a few shapes, so every class is taken and given back. */
static void fill_shape(struct sp_span *s, unsigned shape)
{
	static char text[6000];
	unsigned nattrs = (unsigned[]){ 3, 15, 30, 60, 96 }[shape % 5];

	if (!text[0])
		memset(text, 't', sizeof(text) - 1);
	for (unsigned i = 0; i < nattrs; i++)
		sp_span__set_str(s, keys[i], text, shape % 7 == 3 ? 300 : 20);
	for (unsigned i = 0; i < shape % 6; i++)
		sp_span__add_event(s, "e", i);
}

static void test_pool_reuses_without_growing(void **state)
{
	struct sp_span_pool *p = sp_span_pool__new(256, 64 << 20);
	const struct sp_span_pool_stats *st = sp_span_pool__stats(p);
	struct sp_resource *r = sp_resource__new();
	struct sp_span *ring[64] = { 0 };
	size_t held = 0, hw = 0;

	for (unsigned i = 0; i < 100000; i++) {
		struct sp_span **slot = &ring[i % 64];

		sp_span_pool__put(p, *slot);
		*slot = sp_span_pool__get(p);
		assert_non_null(*slot);
		sp_span__init(*slot, "GET /", 5, SP_KIND_CLIENT, r);
		fill_shape(*slot, i);	/* periodic: a steady state */
		if (i == 5000) {
			held = st->bytes_held;
			hw = st->bytes_high_water;
		}
	}
	/* warmed up: the free lists serve everything from then on */
	assert_int_equal(st->bytes_held, held);
	assert_int_equal(st->bytes_high_water, hw);
	assert_int_equal(st->spans_in_use, 64);
	assert_int_equal(st->spans_refused + st->grows_refused, 0);
	for (int i = 0; i < 64; i++)
		sp_span_pool__put(p, ring[i]);
	assert_int_equal(st->spans_in_use, 0);
	assert_int_equal(st->bytes_in_use, 0);
	assert_int_equal(r->refs, 1);
	printf("pool: %u spans in flight, %zu bytes held after 100000 get/put\n",
	       st->spans_high_water, st->bytes_held);
	sp_span_pool__free(p);
	sp_resource__put(r);
}

static void test_pool_max_spans(void **state)
{
	struct sp_span_pool *p = sp_span_pool__new(3, 1 << 20);
	const struct sp_span_pool_stats *st = sp_span_pool__stats(p);
	struct sp_span *s[4];

	for (int i = 0; i < 3; i++)
		assert_non_null(s[i] = sp_span_pool__get(p));
	assert_null(sp_span_pool__get(p));
	assert_int_equal(st->spans_refused, 1);
	assert_int_equal(st->spans_in_use, 3);
	sp_span_pool__put(p, s[1]);
	assert_non_null(s[3] = sp_span_pool__get(p));
	assert_int_equal(st->spans_refused, 1);
	assert_int_equal(st->spans_high_water, 3);
	sp_span_pool__free(p);	/* with spans still in use */
	assert_null(sp_span_pool__new(0, 1));
	assert_null(sp_span_pool__new(1, 0));
	sp_span_pool__free(NULL);
}

static void test_pool_max_bytes(void **state)
{
	struct sp_span_pool *p = sp_span_pool__new(100, 2 * BASE + 10);
	const struct sp_span_pool_stats *st = sp_span_pool__stats(p);
	struct sp_span *a = sp_span_pool__get(p), *b = sp_span_pool__get(p);
	char big[600];

	assert_non_null(a);
	assert_non_null(b);
	assert_null(sp_span_pool__get(p));
	assert_int_equal(st->spans_refused, 1);
	sp_span__init(a, "a", 1, SP_KIND_CLIENT, NULL);
	for (unsigned i = 0; i < 9; i++)
		sp_span__set_int(a, keys[i], i);
	/* no bytes for the 16-attribute array: the 9th is dropped */
	assert_int_equal(a->nattrs, 8);
	assert_int_equal(a->dropped_attrs, 1);
	assert_int_equal(st->grows_refused, 1);
	memset(big, 'b', sizeof(big));
	sp_span__set_str(a, "big", big, sizeof(big));
	assert_int_equal(a->dropped_attrs, 2);
	assert_null(sp_span__add_event(a, "e", 1));
	assert_int_equal(a->dropped_events, 1);
	assert_int_equal(st->grows_refused, 3);
	/* what still fits is still taken */
	sp_span__set_int(a, keys[3], 33);
	assert_int_equal(sp_span__attr(a, keys[3])->i, 33);
	assert_true(st->bytes_high_water <= 2 * BASE + 10);
	sp_span_pool__put(p, a);
	sp_span_pool__put(p, b);
	sp_span_pool__free(p);
}

static void test_pool_takes_bytes_from_other_caches(void **state)
{
	size_t max = BASE + sp_blk_size[SP_BLK_TEXT_8K] + 64;
	struct sp_span_pool *p = sp_span_pool__new(100, max);
	const struct sp_span_pool_stats *st = sp_span_pool__stats(p);
	struct sp_span *s = sp_span_pool__get(p);
	char big[5000];

	memset(big, 'b', sizeof(big));
	sp_span__init(s, "a", 1, SP_KIND_CLIENT, NULL);
	sp_span__set_str(s, "big", big, sizeof(big));
	assert_int_equal(st->bytes_held, max - 64);
	sp_span_pool__put(p, s);
	/* the cached 8 KiB block makes way for a 16-attribute array */
	s = sp_span_pool__get(p);
	sp_span__init(s, "b", 1, SP_KIND_CLIENT, NULL);
	for (unsigned i = 0; i < 9; i++)
		sp_span__set_int(s, keys[i], i);
	assert_int_equal(s->nattrs, 9);
	assert_int_equal(st->grows_refused, 0);
	assert_int_equal(st->bytes_released, sp_blk_size[SP_BLK_TEXT_8K]);
	assert_true(st->bytes_high_water <= max);
	sp_span_pool__put(p, s);
	sp_span_pool__free(p);
}

static void test_pool_gives_a_burst_back(void **state)
{
	struct sp_span_pool *p = sp_span_pool__new(2000, 64 << 20);
	const struct sp_span_pool_stats *st = sp_span_pool__stats(p);
	static struct sp_span *s[1000];
	char big[5000];
	size_t burst;

	memset(big, 'b', sizeof(big));
	for (int i = 0; i < 1000; i++) {
		s[i] = sp_span_pool__get(p);
		sp_span__init(s[i], "x", 1, SP_KIND_CLIENT, NULL);
		sp_span__set_str(s[i], "big", big, sizeof(big));
	}
	for (int i = 0; i < 1000; i++)
		sp_span_pool__put(p, s[i]);
	burst = st->bytes_held;
	assert_true(burst >= 1000 * (BASE + sp_blk_size[SP_BLK_TEXT_8K]));
	/* kept within the minute, and through the window that needed it ... */
	sp_span_pool__tick(p);
	assert_int_equal(st->bytes_held, burst);
	s[0] = sp_span_pool__get(p);
	sp_span_pool__trim(p);
	assert_int_equal(st->bytes_held, burst);
	/* ... and given back after a window that did not */
	sp_span_pool__trim(p);
	assert_int_equal(st->bytes_held, BASE);
	assert_int_equal(st->bytes_released, burst - BASE);
	sp_span_pool__put(p, s[0]);
	sp_span_pool__free(p);
}

static void test_pool_resource_references(void **state)
{
	struct sp_span_pool *p = sp_span_pool__new(8, 1 << 20), *q = sp_span_pool__new(8, 1 << 20);
	struct sp_resource *r1 = sp_resource__new(), *r2 = sp_resource__new();
	struct sp_span *a = sp_span_pool__get(p), *b = sp_span_pool__get(p);
	struct sp_span *own = sp_span__alloc();

	sp_span__init(a, "a", 1, SP_KIND_CLIENT, r1);
	sp_span__init(b, "b", 1, SP_KIND_CLIENT, r1);
	assert_int_equal(r1->refs, 3);
	/* set up again: the old reference goes, the new one is taken */
	sp_span__init(a, "a", 1, SP_KIND_CLIENT, r2);
	assert_int_equal(r1->refs, 2);
	assert_int_equal(r2->refs, 2);
	sp_span_pool__put(p, a);
	assert_int_equal(r2->refs, 1);
	/* not p's: left alone */
	sp_span__init(own, "o", 1, SP_KIND_CLIENT, r2);
	sp_span_pool__put(p, own);
	sp_span_pool__put(q, b);
	assert_int_equal(sp_span_pool__stats(p)->spans_in_use, 1);
	assert_int_equal(r2->refs, 2);
	assert_string_equal(own->name, "o");
	sp_span__free(own);
	/* a pool freed with a span in use drops that span's reference */
	sp_span_pool__free(p);
	assert_int_equal(r1->refs, 1);
	sp_span_pool__free(q);
	sp_resource__put(r1);
	sp_resource__put(r2);
}

/* ---- what a span costs ---- */

static void http_exchange(struct sp_span *s)
{
	struct sp_sockinfo sock = { .pid = 42, .fd = 7, .role = SP_ROLE_CLIENT };
	struct sp_http_req rq = { .method = "POST", .target = "/v1/chat/completions",
				  .host = "api.openai.com", .user_agent = "OpenAI/Python 1.54.3",
				  .http_minor = 1, .body_len = 2000 };
	struct sp_http_resp rs = { .status = 200, .http_minor = 1, .body_len = 600 };
	struct sp_http_exchange ex = { .pid = 42, .role = SP_ROLE_CLIENT, .tls = true, .req = &rq,
				       .resp = &rs, .sock = &sock };

	sock.local.family = sock.remote.family = AF_INET;
	sock.local.port = 51234;
	sock.remote.port = 443;
	inet_pton(AF_INET, "10.0.0.5", sock.local.v4);
	inet_pton(AF_INET, "162.159.140.245", sock.remote.v4);
	sp_http_span_fill(s, &ex);
}

static void llm_exchange(struct sp_span *s, char *req, size_t cap)
{
	static const char resp[] =
		"{\"id\":\"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT\",\"object\":\"chat.completion\","
		"\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"message\":{"
		"\"role\":\"assistant\",\"content\":\"Paris: sunny, 21 C, light wind from the west. "
		"Lyon: cloudy, 18 C. Marseille: sunny, 24 C.\",\"tool_calls\":[{\"id\":\"call_1\","
		"\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":"
		"\"{\\\"city\\\":\\\"Nice\\\"}\"}}]},\"finish_reason\":\"tool_calls\"}],\"usage\":{"
		"\"prompt_tokens\":812,\"completion_tokens\":64,\"total_tokens\":876}}";
	struct sp_llm_opts o = { .content = true, .content_max = 4096 };
	struct sp_llm *l = sp_llm__new(SP_LLM_OPENAI_CHAT, "api.openai.com", "", &o);
	int n = snprintf(req, cap, "{\"model\":\"gpt-4o-mini\",\"max_tokens\":512,\"messages\":["
				   "{\"role\":\"system\",\"content\":\"");

	/* a 2 KiB system prompt and six turns of 300 bytes */
	for (int i = 0; i < 2048; i++)
		req[n++] = 'a' + i % 26;
	n += snprintf(req + n, cap - n, "\"}");
	for (int t = 0; t < 6; t++) {
		n += snprintf(req + n, cap - n, ",{\"role\":\"%s\",\"content\":\"",
			      t % 2 ? "assistant" : "user");
		for (int i = 0; i < 300; i++)
			req[n++] = 'A' + (i + t) % 26;
		n += snprintf(req + n, cap - n, "\"}");
	}
	n += snprintf(req + n, cap - n, "]}");
	assert_non_null(l);
	sp_llm__request_body(l, req, n);
	sp_llm__response_head(l, 200, "application/json", 16, NULL, 0, NULL, 0);
	sp_llm__response_body(l, resp, sizeof(resp) - 1, 1000);
	assert_true(sp_llm__is_llm(l));
	sp_llm__fill(l, s);
	sp_llm__free(l);
}

static void test_bytes_per_span(void **state)
{
	struct sp_span_pool *p = sp_span_pool__new(4, 1 << 20);
	const struct sp_span_pool_stats *st = sp_span_pool__stats(p);
	struct sp_resource *r = sp_resource__new();
	struct sp_span *s = sp_span_pool__get(p);
	static char req[8192];
	size_t http, llm, full;

	sp_span__init(s, "POST /v1/chat/completions", 25, SP_KIND_CLIENT, r);
	http_exchange(s);
	http = st->bytes_in_use;
	printf("span header %zu bytes, first blocks %zu\n", sizeof(struct sp_span),
	       BASE - sizeof(struct sp_span));
	printf("typical HTTP span: %u attributes, %u text bytes: %zu bytes (pool blocks)\n",
	       s->nattrs, s->arena_used, http);
	assert_true(s->nattrs >= 12);
	assert_true(http <= 1600);

	llm_exchange(s, req, sizeof(req));
	llm = st->bytes_in_use;
	printf("LLM span (2 KiB system prompt, 6 turns, a tool call): %u attributes, %u events, "
	       "%u text bytes: %zu bytes\n", s->nattrs, s->nevents, s->arena_used, llm);
	assert_true(s->nattrs > 32);
	assert_true(s->arena_used > 4096);
	assert_true(llm < 16384);
	sp_span_pool__put(p, s);

	/* the most one span can take: every bound reached */
	s = sp_span_pool__get(p);
	sp_span__init(s, "x", 1, SP_KIND_CLIENT, r);
	for (unsigned i = 0; i < SP_SPAN_MAX_ATTRS; i++)
		sp_span__set_str(s, keys[i], req, 100);
	for (unsigned i = 0; i < SP_SPAN_MAX_EVENTS; i++)
		sp_span__add_event(s, "e", i);
	sp_span__set_str(s, "rest", req, sizeof(req));
	sp_span__set_str(s, "rest2", req, sizeof(req));
	assert_int_equal(sp_span__arena_left(s), 0);
	full = st->bytes_in_use;
	printf("full span (96 attributes, 16 events, 16 KiB text): %zu bytes\n", full);
	/* the last block no bigger than the 6.5 KiB then left needed */
	assert_int_equal(full, sizeof(struct sp_span) + sp_blk_size[SP_BLK_ATTRS_96] +
				       sp_blk_size[SP_BLK_EVENTS_16] + sp_blk_size[SP_BLK_TEXT_512] +
				       sp_blk_size[SP_BLK_TEXT_2K] + 2 * sp_blk_size[SP_BLK_TEXT_8K]);
	sp_span_pool__put(p, s);
	sp_span_pool__free(p);
	sp_resource__put(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attrs_grow_through_each_class),
		cmocka_unit_test(test_events_grow_and_stop_at_16),
		cmocka_unit_test(test_text_blocks_grow_and_strings_stay),
		cmocka_unit_test(test_text_exactly_as_the_flat_arena),
		cmocka_unit_test(test_a_name_can_take_it_all),
		cmocka_unit_test(test_str_array_back_to_back_across_blocks),
		cmocka_unit_test(test_str_array_cut_like_the_flat_arena),
		cmocka_unit_test(test_utf8_repair),
		cmocka_unit_test(test_spans_from_any_memory),
		cmocka_unit_test(test_pool_reuses_without_growing),
		cmocka_unit_test(test_pool_max_spans),
		cmocka_unit_test(test_pool_max_bytes),
		cmocka_unit_test(test_pool_takes_bytes_from_other_caches),
		cmocka_unit_test(test_pool_gives_a_burst_back),
		cmocka_unit_test(test_pool_resource_references),
		cmocka_unit_test(test_bytes_per_span),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
