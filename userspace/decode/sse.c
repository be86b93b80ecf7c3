// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "decode/sse.h"

struct sp_sse {
	enum sp_sse_framing framing;
	uint32_t max;
	sp_sse_fn fn;
	void *ctx;
	char *buf;		/* a line that spans reads */
	uint32_t len, cap;
	bool skip;		/* the line being read is too long: dropped */
	bool after_cr;		/* SSE: a CR ended the last line; a LF may follow */
	bool first;		/* the first line may start with a BOM */
	bool fields;		/* SSE: fields seen since the last dispatch */
	uint64_t dropped;
};

static void sse_line(struct sp_sse *s, const char *p, size_t n)
{
	static const struct {
		const char *name;
		size_t len;
		enum sp_sse_field f;
	} fields[] = {
		{ "data", 4, SP_SSE_DATA }, { "event", 5, SP_SSE_EVENT },
		{ "id", 2, SP_SSE_ID }, { "retry", 5, SP_SSE_RETRY },
	};
	const char *colon;
	size_t fn;

	if (!n) {
		if (s->fields)
			s->fn(s->ctx, SP_SSE_DISPATCH, "", 0);
		s->fields = false;
		return;
	}
	if (p[0] == ':')
		return;	/* a comment (keep-alive) */
	colon = memchr(p, ':', n);
	fn = colon ? (size_t)(colon - p) : n;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *v = colon ? colon + 1 : p + n;
		size_t vn = p + n - v;

		if (fn != fields[i].len || memcmp(p, fields[i].name, fn))
			continue;
		if (vn && *v == ' ')
			v++, vn--;
		s->fields = true;
		s->fn(s->ctx, fields[i].f, v, vn);
		return;
	}
}

/* A whole line, without its end. */
static void line(struct sp_sse *s, const char *p, size_t n)
{
	if (s->first) {
		s->first = false;
		if (n >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
			p += 3, n -= 3;
	}
	if (s->framing == SP_SSE_EVENTS) {
		sse_line(s, p, n);
		return;
	}
	if (n && p[n - 1] == '\r')
		n--;
	if (n)
		s->fn(s->ctx, SP_SSE_DATA, p, n);
}

static void append(struct sp_sse *s, const char *p, size_t n)
{
	if (s->skip || !n)
		return;
	if (s->len + n > s->max) {
		s->skip = true;
		return;
	}
	if (s->len + n > s->cap) {
		uint32_t cap = s->cap ? s->cap : 4096;
		char *b;

		while (cap < s->len + n)
			cap *= 2;
		if (cap > s->max)
			cap = s->max;
		b = realloc(s->buf, cap);
		if (!b) {
			s->skip = true;
			return;
		}
		s->buf = b;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
}

/* The line p[0, n) ends here: with what came before it, if anything. */
static void line_end(struct sp_sse *s, const char *p, size_t n)
{
	if (s->len || s->skip) {
		append(s, p, n);
		if (s->skip)
			s->dropped++;
		else
			line(s, s->buf, s->len);
		s->len = 0;
		s->skip = false;
	} else if (n > s->max) {
		s->dropped++;
	} else {
		line(s, p, n);
	}
	s->first = false;	/* only the stream's first line, kept or not */
}

/* Where the line starting at p ends (n if not in p[0, n)). */
static size_t eol(const struct sp_sse *s, const char *p, size_t n)
{
	const char *lf = memchr(p, '\n', n), *cr;

	if (s->framing == SP_SSE_NDJSON)
		return lf ? (size_t)(lf - p) : n;
	cr = memchr(p, '\r', lf ? (size_t)(lf - p) : n);
	if (cr)
		return cr - p;
	return lf ? (size_t)(lf - p) : n;
}

void sp_sse__feed(struct sp_sse *s, const char *buf, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t k;

		if (s->after_cr) {
			s->after_cr = false;
			if (buf[i] == '\n') {
				i++;
				continue;
			}
		}
		k = eol(s, buf + i, len - i);
		if (i + k == len) {
			append(s, buf + i, k);
			return;
		}
		line_end(s, buf + i, k);
		s->after_cr = buf[i + k] == '\r';
		i += k + 1;
	}
}

void sp_sse__finish(struct sp_sse *s)
{
	if (s->framing == SP_SSE_NDJSON && (s->len || s->skip))
		line_end(s, "", 0);
	s->len = 0;
	s->skip = false;
}

uint64_t sp_sse__dropped(const struct sp_sse *s)
{
	return s->dropped;
}

struct sp_sse *sp_sse__new(enum sp_sse_framing framing, uint32_t line_max, sp_sse_fn fn,
			   void *ctx)
{
	struct sp_sse *s;

	if (!line_max) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->framing = framing;
	s->max = line_max;
	s->fn = fn;
	s->ctx = ctx;
	s->first = true;
	return s;
}

void sp_sse__free(struct sp_sse *s)
{
	if (!s)
		return;
	free(s->buf);
	free(s);
}
