// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "model/span.h"

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

void sp_span__init(struct sp_span *s, const char *name, size_t name_len,
		   enum sp_span_kind kind, struct sp_resource *res)
{
	memset(s, 0, offsetof(struct sp_span, attrs));
	s->arena_used = 0;
	sp_random_id(s->span_id, sizeof(s->span_id));
	s->kind = kind;
	s->res = sp_resource__get(res);
	sp_span__set_name(s, name, name_len);
}

void sp_span__release(struct sp_span *s)
{
	sp_resource__put(s->res);
	s->res = NULL;
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t left)
{
	size_t n;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0 && p[0] >= 0xc2)
		n = 2;
	else if ((p[0] & 0xf0) == 0xe0)
		n = 3;
	else if ((p[0] & 0xf8) == 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if (n == 3 && ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0)))
		return 0;	/* overlong, surrogate */
	if (n == 4 && ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90)))
		return 0;
	return n;
}

void sp_utf8_fix(char *str)
{
	unsigned char *p = (unsigned char *)str;
	size_t len = strlen(str);

	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq(p + i, len - i);

		if (n) {
			i += n;
		} else {
			p[i++] = '?';
		}
	}
}

const char *sp_span__strdup(struct sp_span *s, const char *str, size_t len)
{
	const unsigned char *p = (const unsigned char *)str;
	char *out = s->arena + s->arena_used, *o = out;
	size_t room = SP_SPAN_ARENA - s->arena_used;

	if (room < 1)
		return NULL;
	room--;		/* the NUL */
	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq(p + i, len - i);

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
	s->arena_used += o - out;
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
	if (s->nattrs == SP_SPAN_MAX_ATTRS) {
		s->dropped_attrs++;
		return NULL;
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
	const char *first = NULL;
	struct sp_attr *a;
	size_t k;

	/* consecutive in the arena: each strdup lands right after the last */
	for (k = 0; k < n && k < UINT16_MAX; k++) {
		const char *c = sp_span__strdup(s, v[k], strlen(v[k]));

		if (!c)
			break;
		if (!first)
			first = c;
	}
	if (!first) {
		s->dropped_attrs++;
		return;
	}
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

	if (s->nevents == SP_SPAN_MAX_EVENTS) {
		s->dropped_events++;
		return NULL;
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
