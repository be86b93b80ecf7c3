// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "decode/jsonrpc.h"
#include "decode/jwalk.h"
#include "spanprobe.h"
#include "util/blocks.h"
#include "util/redact.h"

/* The walker and the message being read; a block of the stream's. */
struct rpc_walk {
	struct jwalk w;
	struct sp_jsonrpc *d;
	struct sp_rpc_msg *m;	/* NULL between lines, or when refused */
	bool done;		/* the line's value is complete */
};

/* Back from n to the start of a UTF-8 character. */
static size_t char_boundary(const char *s, size_t n)
{
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

static void copy(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		n = char_boundary(s, cap - 1);
	memcpy(dst, s, n);
	dst[n] = 0;
}

static bool is(const char *path, const char *want)
{
	return !strcmp(path, want);
}

enum sp_rpc_kind sp_rpc_msg_kind(const struct sp_rpc_msg *m)
{
	if (strcmp(m->jsonrpc, "2.0"))
		return SP_RPC_INVALID;
	if (m->method[0])
		return m->has_id ? SP_RPC_REQUEST : SP_RPC_NOTIFICATION;
	if (m->has_result || m->has_error)
		return SP_RPC_RESPONSE;
	return SP_RPC_INVALID;
}

bool sp_rpc_same_id(const struct sp_rpc_msg *a, const struct sp_rpc_msg *b)
{
	return a->has_id && b->has_id && a->id_is_str == b->id_is_str && !strcmp(a->id, b->id);
}

/* Content goes in a block of its own, taken at its first byte. */
static char *content_room(struct sp_rpc_msg *m, const struct sp_rpc_opts *o, struct sp_blocks *b)
{
	if (m->content || m->content_cut)
		return m->content;
	if (b) {
		m->content = sp_blocks__get(b, (size_t)o->content_max + 1, &m->content_cap);
	} else {
		m->content = malloc((size_t)o->content_max + 1);
		m->content_cap = m->content ? (size_t)o->content_max + 1 : 0;
	}
	if (!m->content) {
		m->content_cut = true;
		return NULL;
	}
	m->content[0] = 0;
	return m->content;
}

static void content_add(struct sp_rpc_msg *m, const struct sp_rpc_opts *o, struct sp_blocks *b,
			const char *s, size_t n)
{
	size_t room;

	if (!content_room(m, o, b))
		return;
	room = o->content_max - m->content_len;
	if (m->content_len && room) {
		/* text parts are joined by a newline */
		m->content[m->content_len++] = '\n';
		room--;
	}
	if (n > room) {
		n = char_boundary(s, room);
		m->content_cut = true;
	}
	memcpy(m->content + m->content_len, s, n);
	m->content_len += n;
	m->content[m->content_len] = 0;
}

void sp_rpc_msg_release(struct sp_rpc_msg *m, struct sp_blocks *b)
{
	if (b)
		sp_blocks__put(b, m->content, m->content_cap);
	else
		free(m->content);
	m->content = NULL;
	m->content_cap = 0;
	m->content_len = 0;
}

void sp_rpc_msg_value(struct sp_rpc_msg *m, const struct sp_rpc_opts *o, struct sp_blocks *b,
		      const struct jwalk *w, const char *path, int type, const char *s,
		      size_t len)
{
	/* every message is a map of a few keys: most paths are deep in
	 * params or result and match none of these */
	switch (path[0]) {
	case 'j':
		if (is(path, "jsonrpc") && type == JW_STR)
			copy(m->jsonrpc, sizeof(m->jsonrpc), s, len);
		return;
	case 'm':
		if (is(path, "method") && type == JW_STR)
			copy(m->method, sizeof(m->method), s, len);
		return;
	case 'i':
		if (is(path, "id") && (type == JW_STR || type == JW_NUM)) {
			copy(m->id, sizeof(m->id), s, len);
			m->has_id = true;
			m->id_is_str = type == JW_STR;
		}
		return;
	case 'e':
		if (strncmp(path, "error", 5) || (path[5] && path[5] != '.'))
			return;
		m->has_error = true;
		if (is(path, "error.code") && type == JW_NUM) {
			char num[24];

			copy(num, sizeof(num), s, len);
			m->code = strtoll(num, NULL, 10);
			m->has_code = true;
		} else if (is(path, "error.message") && type == JW_STR) {
			copy(m->err_msg, sizeof(m->err_msg), s, len);
		}
		return;
	case 'r':
		if (strncmp(path, "result", 6) || (path[6] && path[6] != '.'))
			return;
		m->has_result = true;
		if (is(path, "result.isError") && type == JW_BOOL)
			m->is_error = s[0] == 't';
		else if (is(path, "result.protocolVersion") && type == JW_STR)
			copy(m->version, sizeof(m->version), s, len);
		else if (o->content && type == JW_STR && is(path, "result.content[].text"))
			content_add(m, o, b, s, len);
		return;
	case 'p':
		break;
	default:
		return;
	}
	if (strncmp(path, "params.", 7))
		return;
	path += 7;
	if (type == JW_STR && is(path, "name"))
		copy(m->name, sizeof(m->name), s, len);
	else if (type == JW_STR && is(path, "uri"))
		copy(m->uri, sizeof(m->uri), s, len);
	else if (type == JW_STR && is(path, "protocolVersion"))
		copy(m->version, sizeof(m->version), s, len);
	else if (type == JW_STR && is(path, "_meta.traceparent"))
		copy(m->traceparent, sizeof(m->traceparent), s, len);
	else if (type == JW_STR && is(path, "_meta.tracestate"))
		copy(m->tracestate, sizeof(m->tracestate), s, len);
	else if ((type == JW_STR || type == JW_NUM) && is(path, "requestId"))
		copy(m->cancel_id, sizeof(m->cancel_id), s, len);
}

bool sp_rpc_msg_want_raw(struct sp_rpc_msg *m, const struct sp_rpc_opts *o, const char *path)
{
	/* an empty result ({} for ping) has no values to say it is there */
	if (is(path, "result"))
		m->has_result = true;
	else if (is(path, "error"))
		m->has_error = true;
	return o->content && is(path, "params.arguments");
}

void sp_rpc_msg_raw(struct sp_rpc_msg *m, const struct sp_rpc_opts *o, struct sp_blocks *b,
		    const char *path, const char *json, size_t len)
{
	size_t n;

	if (!is(path, "params.arguments") || !content_room(m, o, b))
		return;
	n = sp_rpc_redact_json(json, len, m->content, (size_t)o->content_max + 1);
	m->content_len = n;
	m->content_cut = n < len && n == o->content_max;
}

/* ---- credentials in JSON text ---- */

/* The end of the JSON string starting at s[0] == '"' (its closing quote),
 * or len. */
static size_t string_end(const char *s, size_t len)
{
	size_t i = 1;

	while (i < len && s[i] != '"')
		i += s[i] == '\\' ? 2 : 1;
	return i < len ? i : len;
}

static void put(char *out, size_t cap, size_t *at, const char *s, size_t n)
{
	if (*at + n + 1 > cap)
		n = cap - 1 - *at;
	memcpy(out + *at, s, n);
	*at += n;
}

size_t sp_rpc_redact_json(const char *json, size_t len, char *out, size_t cap)
{
	size_t i = 0, at = 0;
	bool secret = false;	/* the last key names a credential */

	if (!cap)
		return 0;
	while (i < len && at + 1 < cap) {
		size_t e, j;

		if (json[i] != '"') {
			put(out, cap, &at, json + i, 1);
			i++;
			continue;
		}
		e = string_end(json + i, len - i);
		j = i + e + 1;
		while (j < len && (json[j] == ' ' || json[j] == '\t'))
			j++;
		if (j < len && json[j] == ':') {
			/* a key */
			secret = sp_redact_query_param(json + i + 1, e ? e - 1 : 0) ||
				 sp_redact_header(json + i + 1, e ? e - 1 : 0);
			put(out, cap, &at, json + i, j - i);
			i = j;
			continue;
		}
		if (secret)
			put(out, cap, &at, "\"" SP_REDACTED "\"", sizeof(SP_REDACTED) + 1);
		else
			put(out, cap, &at, json + i, e + 1 <= len - i ? e + 1 : len - i);
		secret = false;
		i += e + 1;
	}
	out[at] = 0;
	return at;
}

/* ---- framing ---- */

static struct rpc_walk *RW(void *ctx)
{
	return ctx;
}

static void on_value(void *ctx, struct jwalk *w, const char *path, int type, const char *s,
		     size_t len)
{
	struct rpc_walk *rw = RW(ctx);

	if (rw->m && !rw->done)
		sp_rpc_msg_value(rw->m, rw->d->o, rw->d->b, w, path, type, s, len);
}

static void on_record(void *ctx, struct jwalk *w)
{
	RW(ctx)->done = true;
}

static bool want_raw(void *ctx, const char *path)
{
	struct rpc_walk *rw = RW(ctx);

	return rw->m && !rw->done && sp_rpc_msg_want_raw(rw->m, rw->d->o, path);
}

static void on_raw(void *ctx, struct jwalk *w, const char *path, const char *json, size_t len)
{
	struct rpc_walk *rw = RW(ctx);

	if (rw->m && !rw->done)
		sp_rpc_msg_raw(rw->m, rw->d->o, rw->d->b, path, json, len);
}

void sp_jsonrpc__init(struct sp_jsonrpc *d, uint8_t dir, struct sp_blocks *b,
		      const struct sp_rpc_opts *o, struct sp_jsonrpc_stats *stats,
		      sp_jsonrpc_fn fn, void *ctx)
{
	memset(d, 0, sizeof(*d));
	d->dir = dir;
	d->b = b;
	d->o = o;
	d->stats = stats;
	d->fn = fn;
	d->ctx = ctx;
}

void sp_jsonrpc__put(struct sp_jsonrpc *d, struct sp_rpc_msg *m)
{
	if (!m)
		return;
	sp_rpc_msg_release(m, d->b);
	sp_blocks__put(d->b, m, m->blk_cap);
}

/* The walker, ready for a new value: kept across lines, made anew after
 * a line it could not read (yajl has no reset). */
static int walk_ready(struct sp_jsonrpc *d, bool fresh)
{
	struct rpc_walk *rw = d->w;

	if (!rw) {
		rw = sp_blocks__get(d->b, sizeof(*rw), &d->w_cap);
		if (!rw)
			return -ENOMEM;
		memset(rw, 0, sizeof(*rw));
		fresh = true;
	} else if (fresh) {
		jw_free(&rw->w);
	}
	if (fresh && jw_init(&rw->w, on_value, on_record, want_raw, on_raw, rw)) {
		sp_blocks__put(d->b, rw, d->w_cap);
		d->w = NULL;
		return -ENOMEM;
	}
	rw->d = d;
	d->w = rw;
	return 0;
}

static void msg_begin(struct sp_jsonrpc *d, uint64_t ts)
{
	struct sp_rpc_msg *m;
	size_t cap = 0;

	d->in_line = true;
	if (walk_ready(d, false) ||
	    !(m = sp_blocks__get(d->b, sizeof(*m), &cap))) {
		/* not read: the rest of the line is skipped */
		d->stats->no_memory++;
		d->skipping = true;
		return;
	}
	memset(m, 0, sizeof(*m));
	m->blk_cap = cap;
	m->start_ns = ts;
	m->dir = d->dir;
	d->w->m = m;
	d->w->done = false;
}

/* Drops the message being read; the walker starts afresh. */
static void msg_drop(struct sp_jsonrpc *d)
{
	if (!d->w)
		return;
	sp_jsonrpc__put(d, d->w->m);
	d->w->m = NULL;
	d->w->done = false;
	walk_ready(d, true);
}

/* The line ended: a complete JSON-RPC message goes to the callback. */
static int msg_end(struct sp_jsonrpc *d, uint64_t ts)
{
	struct rpc_walk *rw = d->w;
	struct sp_rpc_msg *m = rw ? rw->m : NULL;

	d->in_line = false;
	if (!m)
		return 0;
	if (!rw->done || sp_rpc_msg_kind(m) == SP_RPC_INVALID) {
		d->stats->malformed++;
		msg_drop(d);
		return -EPROTO;
	}
	rw->m = NULL;
	rw->done = false;
	m->end_ns = ts;
	d->stats->messages++;
	d->fn(d->ctx, d, m);
	return 0;
}

static bool space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

int sp_jsonrpc__feed(struct sp_jsonrpc *d, const char *buf, size_t len, uint64_t ts_first,
		     uint64_t ts_last)
{
	int rc = 0;

	while (len) {
		const char *nl = memchr(buf, '\n', len);
		size_t seg = nl ? (size_t)(nl - buf) : len;

		if (d->skipping) {
			if (!nl)
				return rc;
			d->skipping = false;
			d->in_line = false;
			goto next;
		}
		if (!d->in_line || !d->w || !d->w->m) {
			/* between messages: blank space, or a new one */
			size_t i = 0;

			while (i < seg && space(buf[i]))
				i++;
			if (i == seg)
				goto next;
			if (buf[i] != '{') {
				/* not a message (a log line on stdout) */
				d->stats->malformed++;
				rc = -EPROTO;
				d->skipping = !nl;
				goto next;
			}
			msg_begin(d, ts_first);
			if (d->skipping)
				continue;
			buf += i;
			len -= i;
			seg -= i;
		}
		if (!jw_feed(&d->w->w, buf, seg)) {
			d->stats->malformed++;
			rc = -EPROTO;
			msg_drop(d);
			d->in_line = false;
			d->skipping = !nl;
			goto next;
		}
		if (nl && msg_end(d, ts_last))
			rc = -EPROTO;
next:
		if (!nl)
			return rc;
		len -= seg + 1;
		buf = nl + 1;
	}
	return rc;
}

void sp_jsonrpc__gap(struct sp_jsonrpc *d)
{
	if (d->w && d->w->m)
		d->stats->lost++;
	msg_drop(d);
	/* the hole may have ended mid-line: what follows is not a start */
	d->in_line = false;
	d->skipping = true;
}

void sp_jsonrpc__eof(struct sp_jsonrpc *d, uint64_t ts)
{
	if (d->skipping || !d->w || !d->w->m) {
		d->skipping = false;
		d->in_line = false;
		return;
	}
	/* a last line without its newline: a message if its JSON is whole */
	if (d->w->done) {
		msg_end(d, ts);
		return;
	}
	d->stats->lost++;
	msg_drop(d);
	d->in_line = false;
}

bool sp_jsonrpc__busy(const struct sp_jsonrpc *d)
{
	return d->w && d->w->m;
}

void sp_jsonrpc__fini(struct sp_jsonrpc *d)
{
	if (!d->w)
		return;
	sp_jsonrpc__put(d, d->w->m);
	jw_free(&d->w->w);
	sp_blocks__put(d->b, d->w, d->w_cap);
	d->w = NULL;
}

bool sp_jsonrpc_sniff(const uint8_t *buf, size_t len, uint8_t dir, uint8_t *role)
{
	static const char key[] = "\"jsonrpc\"", ver[] = "\"2.0\"", method[] = "\"method\"";
	size_t i = 0, n;

	while (i < len && (space(buf[i]) || buf[i] == '\n'))
		i++;
	if (i >= len || buf[i] != '{')
		return false;
	buf += i;
	len -= i;
	/* "jsonrpc" comes first or near it in every implementation seen,
	 * but after "result" of any size in some (TypeScript SDK): the
	 * version is looked for in the first record only */
	n = len < 4096 ? len : 4096;
	if (!memmem(buf, n, key, sizeof(key) - 1) || !memmem(buf, n, ver, sizeof(ver) - 1))
		return false;
	/* a line: its newline is in the record (one write per message, in
	 * every SDK), or the record is a full chunk of a longer one. A JSON
	 * body met mid-stream on a socket has none, and must not decide the
	 * stream for good */
	if (!memchr(buf, '\n', len) && len + i < SP_CHUNK_MAX)
		return false;
	/* an MCP session starts with a request (initialize) or, joined
	 * later, goes on with requests and notifications: an answer first is
	 * more likely a JSON body met mid-stream than a session. The side
	 * that writes the first request is the client */
	if (!memmem(buf, n, method, sizeof(method) - 1))
		return false;
	*role = dir == SP_DIR_INGRESS ? SP_ROLE_SERVER : SP_ROLE_CLIENT;
	return true;
}
