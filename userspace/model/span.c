// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "model/span.h"
#include "util/utf8.h"
#include "model/span_pool.h"

void sp_random_id(uint8_t *buf, size_t n)
{
	static uint8_t pool[4096];
	static size_t left;

	do {
		for (size_t i = 0; i < n; i++) {
			if (!left) {
				if (getrandom(pool, sizeof(pool), 0) != sizeof(pool)) {
					/* getrandom(2) cannot fail for < 256 B on a
					 * booted system; fall back rather than abort */
					for (size_t k = 0; k < sizeof(pool); k++)
						pool[k] = (uint8_t)random();
				}
				left = sizeof(pool);
			}
			buf[i] = pool[--left];
		}
	} while (sp_id_is_zero(buf, n));
}

bool sp_id_is_zero(const uint8_t *id, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (id[i])
			return false;
	return true;
}

void sp_id_hex(const uint8_t *id, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[id[i] >> 4];
		out[2 * i + 1] = hex[id[i] & 15];
	}
	out[2 * n] = 0;
}

/* A text block: strings back to back, each NUL-terminated. */
struct sp_text_blk {
	struct sp_text_blk *next;	/* the next newer block */
	uint32_t used;
	uint32_t cls;		/* enum sp_blk_class */
	char data[];
};

#define TEXT_HDR offsetof(struct sp_text_blk, data)

const uint32_t sp_blk_size[SP_BLK__N] = {
	[SP_BLK_ATTRS_8] = 8 * sizeof(struct sp_attr),
	[SP_BLK_ATTRS_16] = 16 * sizeof(struct sp_attr),
	[SP_BLK_ATTRS_32] = 32 * sizeof(struct sp_attr),
	[SP_BLK_ATTRS_64] = 64 * sizeof(struct sp_attr),
	[SP_BLK_ATTRS_96] = 96 * sizeof(struct sp_attr),
	[SP_BLK_EVENTS_2] = 2 * sizeof(struct sp_event),
	[SP_BLK_EVENTS_4] = 4 * sizeof(struct sp_event),
	[SP_BLK_EVENTS_16] = 16 * sizeof(struct sp_event),
	[SP_BLK_TEXT_512] = TEXT_HDR + 512,
	[SP_BLK_TEXT_2K] = TEXT_HDR + 2048,
	[SP_BLK_TEXT_8K] = TEXT_HDR + 8192,
	[SP_BLK_TEXT_16K] = TEXT_HDR + 16384,
	[SP_BLK_SPAN] = sizeof(struct sp_span),
};

static const uint16_t attrs_caps[] = { 8, 16, 32, 64, 96 };
static const uint16_t events_caps[] = { 2, 4, 16 };

_Static_assert(sizeof(attrs_caps) / sizeof(attrs_caps[0]) == SP_BLK_ATTRS_96 - SP_BLK_ATTRS_8 + 1,
	       "a capacity for each attribute class");
_Static_assert(sizeof(events_caps) / sizeof(events_caps[0]) ==
	       SP_BLK_EVENTS_16 - SP_BLK_EVENTS_2 + 1, "a capacity for each event class");
_Static_assert(96 == SP_SPAN_MAX_ATTRS, "the last attribute class holds the bound");
_Static_assert(16 == SP_SPAN_MAX_EVENTS, "the last event class holds the bound");
_Static_assert(16384 == SP_SPAN_ARENA, "one string may take all of a span's text");

static unsigned attrs_cap(uint8_t c)
{
	return c == SP_BLK_NONE ? 0 : attrs_caps[c - SP_BLK_ATTRS_8];
}

static unsigned events_cap(uint8_t c)
{
	return c == SP_BLK_NONE ? 0 : events_caps[c - SP_BLK_EVENTS_2];
}

static size_t text_cap(uint32_t c)
{
	return sp_blk_size[c] - TEXT_HDR;
}

/*
 * A span's pool pointer means something only if the span says so in a
 * word tied to its own address and that pointer: memory that merely
 * looks like a span (calloc'ed, or malloc'ed and never written) does not,
 * and whoever frees a pooled or sp_span__alloc()ed span clears the word
 * first, so a stale copy in reused heap memory cannot pass either.
 */
#define OWNER_MAGIC ((uintptr_t)0x5370616e506f6f6cull)

static uintptr_t owner_word(const struct sp_span *s)
{
	return (uintptr_t)s ^ (uintptr_t)s->pool ^ OWNER_MAGIC;
}

static bool span_known(const struct sp_span *s)
{
	return s->owner == owner_word(s);
}

/* s as raw memory: empty, no blocks, blocks to come from p. */
static void span_raw(struct sp_span *s, struct sp_span_pool *p)
{
	memset(s, 0, sizeof(*s));
	s->name = "";
	s->attrs_cls = SP_BLK_NONE;
	s->events_cls = SP_BLK_NONE;
	s->pool = p;
}

static struct sp_text_blk *text_add(struct sp_span *s, struct sp_text_blk *t, uint32_t cls)
{
	struct sp_text_blk **tail = &s->text;

	while (*tail)
		tail = &(*tail)->next;
	t->next = NULL;
	t->used = 0;
	t->cls = cls;
	*tail = t;
	return t;
}

void sp_span__adopt(struct sp_span *s, struct sp_span_pool *p, void *attrs8, void *text512)
{
	span_raw(s, p);
	s->owner = owner_word(s);
	s->attrs = attrs8;
	s->attrs_cls = SP_BLK_ATTRS_8;
	text_add(s, text512, SP_BLK_TEXT_512);
}

bool sp_span__owned_by(const struct sp_span *s, const struct sp_span_pool *p)
{
	return s->pool == p && span_known(s);
}

void sp_span__disown(struct sp_span *s)
{
	s->owner = 0;
}

/* Empties s; with keep_first, its first text block and an 8-attribute
 * array stay for the next use. */
static void span_empty(struct sp_span *s, bool keep_first)
{
	struct sp_text_blk *t = s->text, *next;

	s->text = NULL;
	if (keep_first && t) {
		next = t->next;
		t->next = NULL;
		t->used = 0;
		s->text = t;
		t = next;
	}
	for (; t; t = next) {
		next = t->next;
		sp_span_pool__blk_put(s->pool, t->cls, t);
	}
	if (!keep_first || s->attrs_cls != SP_BLK_ATTRS_8) {
		if (s->attrs)
			sp_span_pool__blk_put(s->pool, s->attrs_cls, s->attrs);
		s->attrs = NULL;
		s->attrs_cls = SP_BLK_NONE;
	}
	if (s->events)
		sp_span_pool__blk_put(s->pool, s->events_cls, s->events);
	s->events = NULL;
	s->events_cls = SP_BLK_NONE;
	s->nattrs = s->nevents = 0;
	s->arena_used = 0;
	s->name = "";
	s->status_msg = NULL;
}

struct sp_span *sp_span__alloc(void)
{
	struct sp_span *s = malloc(sizeof(*s));

	if (!s)
		return NULL;
	span_raw(s, NULL);
	s->owner = owner_word(s);
	return s;
}

void sp_span__free(struct sp_span *s)
{
	if (!s)
		return;
	sp_span__release(s);
	s->owner = 0;
	free(s);
}

void sp_span__init(struct sp_span *s, const char *name, size_t name_len,
		   enum sp_span_kind kind, struct sp_resource *res)
{
	if (span_known(s)) {
		sp_resource__put(s->res);
		span_empty(s, true);
	} else {
		span_raw(s, NULL);
	}
	memset(s, 0, offsetof(struct sp_span, attrs));
	sp_random_id(s->span_id, sizeof(s->span_id));
	s->kind = kind;
	s->res = sp_resource__get(res);
	sp_span__set_name(s, name, name_len);
}

void sp_span__release(struct sp_span *s)
{
	sp_resource__put(s->res);
	s->res = NULL;
	span_empty(s, false);
}

/*
 * The array arr (used bytes of class *cls, SP_BLK_NONE if none yet) moved
 * to the next class up to last, arr given back; NULL (arr kept) if it is
 * at last already or no block came.
 */
static void *array_grow(struct sp_span *s, void *arr, uint8_t *cls, uint8_t first,
			uint8_t last, size_t used)
{
	uint8_t c = *cls == SP_BLK_NONE ? first : *cls + 1;
	void *a;

	if (c > last)
		return NULL;
	a = sp_span_pool__blk_get(s->pool, c);
	if (!a)
		return NULL;
	if (used)
		memcpy(a, arr, used);
	if (arr)
		sp_span_pool__blk_put(s->pool, *cls, arr);
	*cls = c;
	return a;
}

/* Bytes str[0..len) takes once repaired (a bad byte becomes 3), counted
 * up to cap only. */
static size_t utf8_fixed_len(const unsigned char *p, size_t len, size_t cap)
{
	size_t out = 0;

	for (size_t i = 0; i < len && out < cap;) {
		size_t n = sp_utf8_seq(p + i, len - i);

		out += n ? n : 3;
		i += n ? n : 1;
	}
	return out;
}

/* Writes str, repaired and NUL-terminated, into out, cut at a character
 * boundary to fit room (>= 1) bytes; returns the bytes written. */
static size_t text_copy(char *out, size_t room, const char *str, size_t len)
{
	const unsigned char *p = (const unsigned char *)str;
	char *o = out;

	room--;		/* the NUL */
	for (size_t i = 0; i < len;) {
		size_t n = sp_utf8_seq(p + i, len - i);

		if (n == 0) {
			/* U+FFFD for a byte that is not UTF-8 */
			if (room < 3)
				break;
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			room -= 3;
			i++;
			continue;
		}
		if (room < n)
			break;
		memcpy(o, p + i, n);
		o += n;
		room -= n;
		i += n;
	}
	*o++ = 0;
	return o - out;
}

/*
 * A text block with want contiguous bytes free: the first that has them,
 * else a new one, one class up from the last (so there are few), but no
 * bigger than what the span may still take needs: a block that holds
 * all of that is the last one the span gets.
 */
static struct sp_text_blk *text_room(struct sp_span *s, size_t want)
{
	size_t left = SP_SPAN_ARENA - s->arena_used;
	struct sp_text_blk *t, *last = NULL;
	uint32_t c, fit;

	for (t = s->text; t; last = t, t = t->next)
		if (text_cap(t->cls) - t->used >= want)
			return t;
	c = last ? last->cls + 1 : SP_BLK_TEXT_512;
	for (fit = SP_BLK_TEXT_512; fit < c && text_cap(fit) < left; fit++)
		;
	if (fit < c)
		c = fit;
	while (c <= SP_BLK_TEXT_16K && text_cap(c) < want)
		c++;
	if (c > SP_BLK_TEXT_16K)
		return NULL;
	t = sp_span_pool__blk_get(s->pool, c);
	return t ? text_add(s, t, c) : NULL;
}

/* Takes the bytes written at the end of t. */
static void text_took(struct sp_span *s, struct sp_text_blk *t, size_t n)
{
	t->used += n;
	s->arena_used += n;
}

const char *sp_span__strdup(struct sp_span *s, const char *str, size_t len)
{
	size_t left = SP_SPAN_ARENA - s->arena_used, want;
	struct sp_text_blk *t;
	char *out;

	if (left < 1)
		return NULL;
	want = utf8_fixed_len((const unsigned char *)str, len, left) + 1;
	if (want > left)
		want = left;
	t = text_room(s, want);
	if (!t)
		return NULL;
	out = t->data + t->used;
	text_took(s, t, text_copy(out, want, str, len));
	return out;
}

void sp_span__set_name(struct sp_span *s, const char *name, size_t len)
{
	const char *n = sp_span__strdup(s, name, len);

	s->name = n ? n : "";
}

/* Slot for key: the existing attribute (last write wins) or a new one. */
static struct sp_attr *attr_slot(struct sp_span *s, const char *key)
{
	for (unsigned i = 0; i < s->nattrs; i++)
		if (!strcmp(s->attrs[i].key, key))
			return &s->attrs[i];
	if (s->nattrs == attrs_cap(s->attrs_cls)) {
		struct sp_attr *a = array_grow(s, s->attrs, &s->attrs_cls, SP_BLK_ATTRS_8,
					       SP_BLK_ATTRS_96, s->nattrs * sizeof(*a));

		if (!a) {
			s->dropped_attrs++;
			return NULL;
		}
		s->attrs = a;
	}
	s->attrs[s->nattrs].key = key;
	return &s->attrs[s->nattrs++];
}

void sp_span__set_str(struct sp_span *s, const char *key, const char *val, size_t len)
{
	const char *v = sp_span__strdup(s, val, len);
	struct sp_attr *a;

	if (!v) {
		s->dropped_attrs++;
		return;
	}
	a = attr_slot(s, key);
	if (a) {
		a->type = SP_ATTR_STR;
		a->s = v;
	}
}

void sp_span__set_str_array(struct sp_span *s, const char *key, const char *const *v, size_t n)
{
	size_t left = SP_SPAN_ARENA - s->arena_used, want = 0, room;
	struct sp_text_blk *t = NULL;
	struct sp_attr *a;
	char *first, *o;
	size_t k;

	/* back to back in one block, as readers walk them: room for all of
	 * them first, cut like a single string to what the span has left */
	if (n > UINT16_MAX)
		n = UINT16_MAX;
	for (k = 0; k < n && want < left; k++)
		want += utf8_fixed_len((const unsigned char *)v[k], strlen(v[k]), left) + 1;
	if (want > left)
		want = left;
	if (want)
		t = text_room(s, want);
	if (!t) {
		s->dropped_attrs++;
		return;
	}
	first = o = t->data + t->used;
	for (k = 0, room = want; k < n && room >= 1; k++) {
		size_t w = text_copy(o, room, v[k], strlen(v[k]));

		o += w;
		room -= w;
	}
	text_took(s, t, o - first);
	a = attr_slot(s, key);
	if (a) {
		a->type = SP_ATTR_STR_ARRAY;
		a->s = first;
		a->n = k;
	}
}

void sp_span__set_arena_str(struct sp_span *s, const char *key, const char *arena_str)
{
	struct sp_attr *a;

	if (!arena_str) {
		s->dropped_attrs++;
		return;
	}
	a = attr_slot(s, key);
	if (a) {
		a->type = SP_ATTR_STR;
		a->s = arena_str;
	}
}

size_t sp_span__arena_left(const struct sp_span *s)
{
	return SP_SPAN_ARENA - s->arena_used;
}

void sp_span__set_int(struct sp_span *s, const char *key, int64_t v)
{
	struct sp_attr *a = attr_slot(s, key);

	if (a) {
		a->type = SP_ATTR_INT;
		a->i = v;
	}
}

void sp_span__set_double(struct sp_span *s, const char *key, double v)
{
	struct sp_attr *a = attr_slot(s, key);

	if (a) {
		a->type = SP_ATTR_DOUBLE;
		a->d = v;
	}
}

void sp_span__set_bool(struct sp_span *s, const char *key, bool v)
{
	struct sp_attr *a = attr_slot(s, key);

	if (a) {
		a->type = SP_ATTR_BOOL;
		a->b = v;
	}
}

void sp_span__set_status(struct sp_span *s, enum sp_status_code code, const char *msg)
{
	s->status = code;
	s->status_msg = msg ? sp_span__strdup(s, msg, strlen(msg)) : NULL;
}

const struct sp_attr *sp_span__attr(const struct sp_span *s, const char *key)
{
	for (unsigned i = 0; i < s->nattrs; i++)
		if (!strcmp(s->attrs[i].key, key))
			return &s->attrs[i];
	return NULL;
}

struct sp_event *sp_span__add_event(struct sp_span *s, const char *name, uint64_t time_ns)
{
	struct sp_event *e;

	if (s->nevents == events_cap(s->events_cls)) {
		e = array_grow(s, s->events, &s->events_cls, SP_BLK_EVENTS_2, SP_BLK_EVENTS_16,
			       s->nevents * sizeof(*e));
		if (!e) {
			s->dropped_events++;
			return NULL;
		}
		s->events = e;
	}
	e = &s->events[s->nevents++];
	e->name = name;
	e->time_ns = time_ns;
	e->nattrs = 0;
	return e;
}

size_t sp_resource_span_attrs(const struct sp_resource *r, struct sp_attr *out, size_t max)
{
	struct sp_res_attr ra[SP_RES_MAX_ATTRS];
	size_t n = sp_resource__attrs(r, ra, max < SP_RES_MAX_ATTRS ? max : SP_RES_MAX_ATTRS);

	for (size_t i = 0; i < n; i++) {
		out[i].key = ra[i].key;
		out[i].type = ra[i].s ? SP_ATTR_STR : SP_ATTR_INT;
		if (ra[i].s)
			out[i].s = ra[i].s;
		else
			out[i].i = ra[i].i;
	}
	return n;
}
