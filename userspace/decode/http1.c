// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "decode/http1.h"
#include "util/blocks.h"
#include "util/redact.h"

static struct sp_h1 *dec(http_parser *p)
{
	return p->data;
}

static struct sp_h1 *dec_of(struct sp_h1_msg *m)
{
	return (struct sp_h1 *)((char *)m - offsetof(struct sp_h1, msg));
}

static void head_release(struct sp_h1 *d)
{
	struct sp_h1_msg *m = &d->msg;

	if (d->blocks) {
		sp_blocks__put(d->blocks, m->head, m->head_cap);
		sp_blocks__put(d->blocks, m->headers, m->headers_cap);
	} else {
		free(m->head);
		free(m->headers);
	}
	m->head = NULL;
	m->head_cap = 0;
	m->headers = NULL;
	m->headers_cap = 0;
}

/*
 * Grows the buffer *buf of capacity *cap to at least want bytes (at most
 * max, doubling from first), keeping its first keep bytes: from the
 * decoder's blocks, or malloc when it has none. False when it cannot.
 */
static bool buf_reserve(struct sp_h1 *d, void **buf, size_t *cap, size_t want, size_t first,
			size_t max, size_t keep)
{
	size_t c = *cap ? *cap : first;
	void *n;

	if (want <= *cap)
		return true;
	while (c < want)
		c *= 2;
	if (c > max)
		c = max;
	if (c <= *cap || c < want)
		return false;
	if (d->blocks) {
		n = sp_blocks__grow(d->blocks, *buf, cap, c, keep);
	} else {
		n = realloc(*buf, c);
		if (n)
			*cap = c;
	}
	if (!n)
		return false;
	*buf = n;
	return true;
}

/* Room for one more header in the index (SP_H1_MAX_HEADERS at most). */
static bool headers_reserve(struct sp_h1_msg *m)
{
	size_t e = sizeof(*m->headers);

	return buf_reserve(dec_of(m), (void **)&m->headers, &m->headers_cap,
			   (m->nheaders + 1) * e, SP_H1_HEADERS_FIRST * e, SP_H1_MAX_HEADERS * e,
			   m->nheaders * e);
}

/* Room for need bytes of head (SP_H1_HEAD_MAX at most). */
static bool head_reserve(struct sp_h1_msg *m, size_t need)
{
	return buf_reserve(dec_of(m), (void **)&m->head, &m->head_cap, need, SP_H1_HEAD_FIRST,
			   SP_H1_HEAD_MAX, m->head_len);
}

/* Appends to the head copy; a head past SP_H1_HEAD_MAX (or past what
 * memory allows) is cut, not lost. */
static uint16_t head_append(struct sp_h1_msg *m, const char *s, size_t n)
{
	uint16_t at = m->head_len;

	if (n > (size_t)(SP_H1_HEAD_MAX - m->head_len)) {
		n = SP_H1_HEAD_MAX - m->head_len;
		m->head_truncated = true;
	}
	if (!head_reserve(m, m->head_len + n)) {
		n = m->head_cap - m->head_len;
		m->head_truncated = true;
	}
	if (n)
		memcpy(m->head + m->head_len, s, n);
	m->head_len += n;
	return at;
}

/* The value just finished is the last thing in head[]: rewrite it in place
 * if the header carries a credential. */
static void header_done(struct sp_h1_msg *m)
{
	struct sp_h1_header *h;

	if (!m->nheaders)
		return;
	h = &m->headers[m->nheaders - 1];
	if (!sp_redact_header(m->head + h->name_off, h->name_len))
		return;
	m->head_len = h->value_off;
	head_append(m, SP_REDACTED, strlen(SP_REDACTED));
	h->value_len = m->head_len - h->value_off;
}

static int on_message_begin(http_parser *p)
{
	struct sp_h1 *d = dec(p);
	struct sp_h1_msg *m = &d->msg;

	/* a message cut without delivery (parser reset) left its buffer */
	memset(m, 0, offsetof(struct sp_h1_msg, headers));
	m->is_request = d->is_request;
	m->start_ns = d->ts_first;
	d->state = SP_H1_IN_MSG;
	d->in_value = false;
	d->in_body = false;
	d->head_gone = false;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct sp_h1_msg *m = &dec(p)->msg;
	uint16_t off;

	if (dec(p)->head_gone)
		return 0;
	off = head_append(m, at, len);

	if (!m->url_len)
		m->url_off = off;
	m->url_len = m->head_len - m->url_off;
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct sp_h1 *d = dec(p);
	struct sp_h1_msg *m = &d->msg;
	struct sp_h1_header *h;

	if (d->head_gone)
		return 0;	/* chunked trailers, after the head went */
	if (d->in_value || !m->nheaders) {
		if (m->nheaders)
			header_done(m);
		if (m->nheaders == SP_H1_MAX_HEADERS || !headers_reserve(m)) {
			/* the last kept header has its value, so the
			 * rest are parsed, not kept */
			m->head_truncated = true;
			d->in_value = false;
			return 0;
		}
		h = &m->headers[m->nheaders++];
		memset(h, 0, sizeof(*h));
		h->name_off = m->head_len;
		d->in_value = false;
	}
	h = &m->headers[m->nheaders - 1];
	if (h->value_len || h->value_off)
		return 0;	/* headers past the limit: parse, do not keep */
	head_append(m, at, len);
	h->name_len = m->head_len - h->name_off;
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct sp_h1 *d = dec(p);
	struct sp_h1_msg *m = &d->msg;
	struct sp_h1_header *h;

	if (d->head_gone || !m->nheaders)
		return 0;
	h = &m->headers[m->nheaders - 1];
	if (!d->in_value) {
		if (h->value_off || h->value_len)
			return 0;	/* past the limit */
		h->value_off = m->head_len;
		d->in_value = true;
	}
	head_append(m, at, len);
	h->value_len = m->head_len - h->value_off;
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct sp_h1 *d = dec(p);
	struct sp_h1_msg *m = &d->msg;

	header_done(m);
	m->http_major = p->http_major;
	m->http_minor = p->http_minor;
	if (d->is_request) {
		strncpy(m->method, http_method_str(p->method), sizeof(m->method) - 1);
	} else {
		m->status = p->status_code;
	}
	if (d->on_head)
		d->on_head(d->ctx, d, m);
	if (d->blocks) {
		/* the caller took what it needs of the head */
		head_release(d);
		m->nheaders = 0;
		m->url_off = m->url_len = 0;
		m->head_len = 0;
		d->head_gone = true;
	}
	if (!d->is_request && d->nobody && d->nobody(d->ctx, d))
		return 1;	/* response to HEAD: no body follows */
	d->in_body = true;
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct sp_h1 *d = dec(p);

	d->msg.body_len += len;
	if (d->on_body && !d->skipping)
		d->on_body(d->ctx, d, at, len, d->ts_last);
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct sp_h1 *d = dec(p);

	d->msg.end_ns = d->ts_last;
	d->msg.last_data_ns = d->ts_last;
	d->msg.upgrade = p->upgrade;
	d->state = SP_H1_IDLE;
	d->in_body = false;
	d->on_msg(d->ctx, d, &d->msg);
	head_release(d);
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

static void parser_reset(struct sp_h1 *d)
{
	http_parser_init(&d->parser, d->is_request ? HTTP_REQUEST : HTTP_RESPONSE);
	d->parser.data = d;
	d->state = SP_H1_IDLE;
	d->in_body = false;
}

void sp_h1__init(struct sp_h1 *d, bool is_request, sp_h1_msg_fn on_msg,
		 sp_h1_nobody_fn nobody, void *ctx)
{
	memset(d, 0, offsetof(struct sp_h1, msg));
	d->msg.head = NULL;	/* a decoder being reused: __fini it first */
	d->msg.head_cap = 0;
	d->msg.headers = NULL;
	d->msg.headers_cap = 0;
	d->is_request = is_request;
	d->on_msg = on_msg;
	d->nobody = nobody;
	d->ctx = ctx;
	parser_reset(d);
}

void sp_h1__use_blocks(struct sp_h1 *d, struct sp_blocks *blocks)
{
	d->blocks = blocks;
}

void sp_h1__fini(struct sp_h1 *d)
{
	head_release(d);
}

void sp_h1__watch(struct sp_h1 *d, sp_h1_head_fn on_head, sp_h1_body_fn on_body)
{
	d->on_head = on_head;
	d->on_body = on_body;
}

bool sp_h1_looks_like_start(const char *buf, size_t len, bool is_request)
{
	static const char *const methods[] = {
		"GET ", "POST ", "PUT ", "HEAD ", "DELETE ", "PATCH ", "OPTIONS ",
		"CONNECT ", "TRACE ", NULL,
	};

	if (!is_request)
		return len >= 7 && !memcmp(buf, "HTTP/1.", 7);
	for (const char *const *m = methods; *m; m++) {
		size_t n = strlen(*m);

		if (len >= n && !memcmp(buf, *m, n))
			return true;
	}
	return false;
}

/* Delivers the message in progress as cut short and drops the framing. */
static void cut_message(struct sp_h1 *d, uint64_t ts)
{
	if (d->state == SP_H1_IN_MSG) {
		d->msg.incomplete = true;
		d->msg.end_ns = ts;
		d->msg.last_data_ns = d->last_data_ns;
		d->state = SP_H1_IDLE;
		d->on_msg(d->ctx, d, &d->msg);
	}
	head_release(d);
}

static void desync(struct sp_h1 *d, uint64_t ts)
{
	cut_message(d, ts);
	d->desyncs++;
	d->state = SP_H1_DESYNC;
}

int sp_h1__feed(struct sp_h1 *d, const char *buf, size_t len, uint64_t ts_first,
		uint64_t ts_last)
{
	size_t n;

	if (!len || d->state == SP_H1_UPGRADED)
		return 0;
	if (d->state == SP_H1_DESYNC ||
	    (d->state == SP_H1_IDLE && HTTP_PARSER_ERRNO(&d->parser) != HPE_OK)) {
		if (!sp_h1_looks_like_start(buf, len, d->is_request))
			return -EPROTO;
		parser_reset(d);
	}
	d->ts_first = ts_first;
	d->ts_last = ts_last;
	d->last_data_ns = ts_last;
	n = http_parser_execute(&d->parser, &settings, buf, len);
	if (d->parser.upgrade) {
		/* http_parser stops at an Upgrade or CONNECT message. Only the
		 * answer tells whether the protocol changes (101, CONNECT 2xx:
		 * the stream layer calls sp_h1__upgraded); a declined offer
		 * (h2c upgrade answered 200) goes on as HTTP/1 */
		if (!d->is_request) {
			d->state = SP_H1_UPGRADED;
			return 0;
		}
		parser_reset(d);
		return n < len ? sp_h1__feed(d, buf + n, len - n, ts_first, ts_last) : 0;
	}
	if (HTTP_PARSER_ERRNO(&d->parser) != HPE_OK) {
		/* Garbage, or bytes after a "Connection: close" message. Keep
		 * what parsed, then retry from here if a message starts here. */
		desync(d, ts_last);
		if (n < len && n > 0)
			return sp_h1__feed(d, buf + n, len - n, ts_first, ts_last) ? -EPROTO : 0;
		return -EPROTO;
	}
	return 0;
}

void sp_h1__gap(struct sp_h1 *d, uint64_t n, uint64_t ts)
{
	static const char zero;
	http_parser *p = &d->parser;

	if (d->state == SP_H1_UPGRADED || d->state == SP_H1_DESYNC || !n)
		return;
	/* A hole inside a Content-Length body (up to its very end) keeps the
	 * framing: skip the missing bytes in the parser and mark the body as
	 * not all captured. http_parser keeps the bytes still due in
	 * content_length; it must stay >= 1 in the body state, so the last
	 * missing byte goes through the parser as a placeholder.
	 * This is the one place that writes http_parser's state, and it must:
	 * http_parser 2.9 (Debian 12) has no call to skip body bytes, and
	 * feeding n placeholder bytes would cost O(n) for a hole of megabytes.
	 * content_length and flags are public fields of struct http_parser
	 * (http_parser.h), and only they are touched. */
	if (d->state == SP_H1_IN_MSG && d->in_body && !(p->flags & F_CHUNKED) &&
	    p->content_length != ULLONG_MAX && n <= p->content_length) {
		d->msg.body_truncated = true;
		d->msg.body_len += n - 1;
		p->content_length -= n - 1;
		d->ts_last = ts;
		d->skipping = true;	/* not a real byte: keep it from watchers */
		http_parser_execute(p, &settings, &zero, 1);
		d->skipping = false;
		return;
	}
	if (d->state == SP_H1_IN_MSG)
		d->msg.body_truncated = true;
	desync(d, ts);
}

void sp_h1__cut(struct sp_h1 *d, uint64_t ts)
{
	cut_message(d, ts);
	if (d->state != SP_H1_UPGRADED)
		d->state = SP_H1_DESYNC;
}

void sp_h1__upgraded(struct sp_h1 *d)
{
	d->state = SP_H1_UPGRADED;
}

bool sp_h1__eof(struct sp_h1 *d, uint64_t ts)
{
	if (d->state != SP_H1_IN_MSG)
		return false;
	d->ts_last = ts;
	/* a response without length ends here: http_parser completes it */
	http_parser_execute(&d->parser, &settings, NULL, 0);
	if (d->state != SP_H1_IN_MSG)
		return false;
	cut_message(d, ts);
	return true;
}

bool sp_h1__busy(const struct sp_h1 *d)
{
	return d->state == SP_H1_IN_MSG;
}

const char *sp_h1_msg__header(const struct sp_h1_msg *m, const char *name, size_t *len)
{
	size_t nl = strlen(name);

	for (unsigned i = 0; i < m->nheaders; i++) {
		const struct sp_h1_header *h = &m->headers[i];

		if (h->name_len == nl && !strncasecmp(m->head + h->name_off, name, nl)) {
			*len = h->value_len;
			return m->head + h->value_off;
		}
	}
	return NULL;
}
