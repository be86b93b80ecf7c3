// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <nghttp2/nghttp2.h>
#include "decode/http2.h"
#include "util/blocks.h"
#include "util/redact.h"

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define PREFACE_LEN	(sizeof(preface) - 1)
#define TABLE_DEFAULT	4096	/* RFC 9113 6.5.2 SETTINGS_HEADER_TABLE_SIZE */
/* A name no peer sends (header names are lower-case tokens): what the
 * placeholder entries of a joined connection's table are called. */
#define UNKNOWN_NAME	"?"

/* --- the inflaters' memory: from the connection's blocks, counted --- */

/* each allocation keeps its block's capacity in front of it */
#define MEM_HDR	16

static void *mem_malloc(size_t size, void *ud)
{
	struct sp_h2_conn *c = ud;
	size_t cap = size + MEM_HDR;
	uint8_t *b = c->blocks ? sp_blocks__get(c->blocks, cap, &cap) : malloc(cap);

	if (!b)
		return NULL;
	memcpy(b, &cap, sizeof(cap));
	c->inf_bytes += cap;
	return b + MEM_HDR;
}

static void mem_free(void *ptr, void *ud)
{
	struct sp_h2_conn *c = ud;
	uint8_t *b = ptr;
	size_t cap;

	if (!ptr)
		return;
	b -= MEM_HDR;
	memcpy(&cap, b, sizeof(cap));
	c->inf_bytes -= cap;
	if (c->blocks)
		sp_blocks__put(c->blocks, b, cap);
	else
		free(b);
}

static void *mem_calloc(size_t n, size_t size, void *ud)
{
	void *p;

	if (size && n > SIZE_MAX / size)
		return NULL;
	p = mem_malloc(n * size, ud);
	if (p)
		memset(p, 0, n * size);
	return p;
}

static void *mem_realloc(void *ptr, size_t size, void *ud)
{
	size_t cap;
	void *n;

	if (!ptr)
		return mem_malloc(size, ud);
	memcpy(&cap, (uint8_t *)ptr - MEM_HDR, sizeof(cap));
	if (size + MEM_HDR <= cap)
		return ptr;
	n = mem_malloc(size, ud);
	if (!n)
		return NULL;
	memcpy(n, ptr, cap - MEM_HDR);
	mem_free(ptr, ud);
	return n;
}

/* --- HPACK --- */

/*
 * Fills a fresh inflater's dynamic table with placeholders: a connection
 * joined mid-way refers to entries its encoder made before we joined; with
 * the table full of the smallest entries (33 bytes, smaller than any real
 * one) every such index lands on a placeholder, and every later insertion
 * moves them down just as it moves the real ones. 0 or an nghttp2 error.
 */
static int inflater_seed(nghttp2_hd_inflater *inf, uint32_t table)
{
	uint8_t one[4] = { 0x40, 1, UNKNOWN_NAME[0], 0 };	/* literal, indexed */
	unsigned n = table / (32 + 1);

	for (unsigned i = 0; i < n; i++) {
		size_t at = 0;

		for (;;) {
			nghttp2_nv nv;
			int flags = 0;
			ssize_t r = nghttp2_hd_inflate_hd2(inf, &nv, &flags, one + at,
							   sizeof(one) - at, 1);

			if (r < 0)
				return (int)r;
			at += r;
			if (flags & NGHTTP2_HD_INFLATE_FINAL) {
				nghttp2_hd_inflate_end_headers(inf);
				break;
			}
			if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && at == sizeof(one))
				break;
		}
	}
	return 0;
}

static void inflater_drop(struct sp_h2_dec *d)
{
	if (d->inf)	/* nghttp2 1.52 does not take NULL */
		nghttp2_hd_inflate_del(d->inf);
	d->inf = NULL;
}

/* A new inflater for d; seeded when its encoder's past is unknown. */
static int inflater_new(struct sp_h2_dec *d, bool seed)
{
	nghttp2_mem *mem = &d->conn->mem;
	int err;

	inflater_drop(d);
	*mem = (nghttp2_mem){
		.mem_user_data = d->conn, .malloc = mem_malloc, .free = mem_free,
		.calloc = mem_calloc, .realloc = mem_realloc,
	};
	/* nghttp2 keeps the pointer: mem lives in the connection */
	if (nghttp2_hd_inflate_new2(&d->inf, mem))
		return -ENOMEM;
	err = nghttp2_hd_inflate_change_table_size(d->inf, d->table_size);
	if (!err && seed)
		err = inflater_seed(d->inf, d->table_size);
	if (err) {
		inflater_drop(d);
		return -ENOMEM;
	}
	return 0;
}

/* --- header blocks --- */

static void head_put(struct sp_h2_dec *d)
{
	struct sp_h2_conn *c = d->conn;

	if (c->blocks)
		sp_blocks__put(c->blocks, d->head, d->head_cap);
	else
		free(d->head);
	d->head = NULL;
	d->head_cap = 0;
}

static void block_begin(struct sp_h2_dec *d, bool push, uint32_t stream_id, bool end_stream)
{
	struct sp_h2_conn *c = d->conn;
	size_t cap = sizeof(*d->head);

	d->in_block = true;
	d->block_bad = !d->inf;
	d->block_push = push;
	d->block_stream = stream_id;
	d->cont_stream = d->stream_id;	/* a PUSH_PROMISE's own, not the promised */
	d->block_end_stream = end_stream;
	d->block_start = d->ts_first;
	if (!d->head)
		d->head = c->blocks ? sp_blocks__get(c->blocks, cap, &cap) : malloc(cap);
	d->head_cap = d->head ? cap : 0;
	if (d->head)
		memset(d->head, 0, offsetof(struct sp_h2_head, hdr));
	else
		c->stats->heads_truncated++;	/* decoded, but nothing kept */
}

static void head_add(struct sp_h2_dec *d, const nghttp2_nv *nv)
{
	struct sp_h2_head *h = d->head;
	const char *value = (const char *)nv->value;
	size_t vlen = nv->valuelen;
	struct sp_h2_hdr *e;

	if (!h)
		return;
	if (nv->namelen == 1 && nv->name[0] == UNKNOWN_NAME[0]) {
		h->incomplete = true;	/* an entry made before we joined */
		return;
	}
	if (sp_redact_header((const char *)nv->name, nv->namelen)) {
		value = SP_REDACTED;
		vlen = strlen(SP_REDACTED);
	}
	if (h->nheaders == SP_H2_MAX_HEADERS ||
	    nv->namelen + vlen > (size_t)(SP_H2_HEAD_MAX - h->len)) {
		h->truncated = true;
		return;
	}
	e = &h->hdr[h->nheaders++];
	e->name_off = h->len;
	e->name_len = nv->namelen;
	memcpy(h->buf + h->len, nv->name, nv->namelen);
	h->len += nv->namelen;
	e->value_off = h->len;
	e->value_len = vlen;
	memcpy(h->buf + h->len, value, vlen);
	h->len += vlen;
}

/* The block's inflater failed: it cannot be trusted again (its table is
 * no longer the encoder's), so it starts over as if joined. */
static void block_fail(struct sp_h2_dec *d)
{
	d->conn->stats->hpack_errors++;
	d->block_bad = true;
	if (d->head)
		d->head->incomplete = true;
	inflater_new(d, true);
}

/* Inflates a fragment of the block; final: its last. */
static void block_inflate(struct sp_h2_dec *d, const uint8_t *in, size_t len, bool final)
{
	while (!d->block_bad) {
		nghttp2_nv nv;
		int flags = 0;
		ssize_t r = nghttp2_hd_inflate_hd2(d->inf, &nv, &flags, in, len, final);

		if (r < 0) {
			block_fail(d);
			return;
		}
		in += r;
		len -= r;
		if (flags & NGHTTP2_HD_INFLATE_EMIT)
			head_add(d, &nv);
		if (flags & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(d->inf);
			return;
		}
		if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && !len)
			return;
	}
}

static void block_end(struct sp_h2_dec *d)
{
	struct sp_h2_conn *c = d->conn;
	struct sp_h2_head *h = d->head;

	block_inflate(d, NULL, 0, true);
	d->in_block = false;
	if (!h)
		return;
	h->stream_id = d->block_stream;
	h->end_stream = d->block_end_stream;
	h->push = d->block_push;
	h->start_ns = d->block_start;
	h->end_ns = d->ts_last;
	if (h->truncated)
		c->stats->heads_truncated++;
	c->cbs->head(c->ctx, d->dir, h);
	head_put(d);
}

/* A block cut short (a hole, a frame out of place): what decoded of it is
 * delivered as incomplete, and the table is no longer known. */
static void block_abort(struct sp_h2_dec *d)
{
	if (!d->in_block)
		return;
	d->conn->stats->hpack_errors++;
	d->block_bad = true;	/* end it without inflating more */
	if (d->head)
		d->head->incomplete = true;
	block_end(d);
	inflater_new(d, true);
}

/* --- frames --- */

const char *sp_h2_error_name(uint32_t code)
{
	static const char *const names[] = {
		"NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
		"SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM",
		"CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
		"INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
	};

	return code < sizeof(names) / sizeof(names[0]) ? names[code] : "H2_ERROR";
}

static uint32_t be24(const uint8_t *b)
{
	return (uint32_t)b[0] << 16 | (uint32_t)b[1] << 8 | b[2];
}

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* The frame header fits what a peer in the middle of a connection sends:
 * RFC 9113 section 6's types, their flags, their stream-id rules and
 * fixed lengths. strict (finding frames again, or for the first time): a
 * length past the default SETTINGS_MAX_FRAME_SIZE (16 KiB) is taken for
 * garbage too; a frame that a peer allowed to be bigger is skipped, and
 * framing found again at the next. */
static bool header_sane(const uint8_t *b, bool strict)
{
	static const uint8_t flags[] = {
		[SP_H2_DATA] = 0x09, [SP_H2_HEADERS] = 0x2d, [SP_H2_PRIORITY] = 0,
		[SP_H2_RST_STREAM] = 0, [SP_H2_SETTINGS] = 0x01, [SP_H2_PUSH_PROMISE] = 0x0c,
		[SP_H2_PING] = 0x01, [SP_H2_GOAWAY] = 0, [SP_H2_WINDOW_UPDATE] = 0,
		[SP_H2_CONTINUATION] = 0x04,
	};
	uint32_t len = be24(b), sid = be32(b + 5);
	uint8_t type = b[3];
	bool conn_level = type == SP_H2_SETTINGS || type == SP_H2_PING || type == SP_H2_GOAWAY;

	if (type > SP_H2_CONTINUATION || (b[4] & ~flags[type]) || (sid & 0x80000000u) ||
	    (strict && len > (1u << 14)))
		return false;
	if (conn_level != !sid && type != SP_H2_WINDOW_UPDATE)
		return false;
	switch (type) {
	case SP_H2_SETTINGS:
		return len % 6 == 0 && (!(b[4] & SP_H2_F_ACK) || !len);
	case SP_H2_PING:
		return len == 8;
	case SP_H2_RST_STREAM:
	case SP_H2_WINDOW_UPDATE:
		return len == 4;
	case SP_H2_PRIORITY:
		return len == 5;
	case SP_H2_GOAWAY:
		return len >= 8;
	default:
		return true;
	}
}

bool sp_h2_frame_plausible(const uint8_t *buf, size_t len)
{
	size_t next;

	if (len < 9 || !header_sane(buf, true))
		return false;
	next = 9 + be24(buf);
	/* a second frame header in the same bytes must be sane too */
	if (len >= next + 9)
		return header_sane(buf + next, true);
	return true;
}

/* A frame header is complete: decide its phases. */
static void frame_begin(struct sp_h2_dec *d)
{
	struct sp_h2_conn *c = d->conn;
	const uint8_t *b = d->hdr;

	c->stats->frames++;
	d->len = be24(b);
	d->type = b[3];
	d->flags = b[4];
	d->stream_id = be32(b + 5) & 0x7fffffffu;
	d->left = d->len;
	d->pad = 0;
	d->fixed_len = 0;
	d->fixed_want = 0;
	if (d->in_block && (d->type != SP_H2_CONTINUATION || d->stream_id != d->cont_stream))
		block_abort(d);	/* RFC 9113 6.10: nothing may come between */
	if (d->type > SP_H2_CONTINUATION)
		d->flags = 0;	/* an extension frame: its flags mean nothing here */
	switch (d->type) {
	case SP_H2_HEADERS:
		d->fixed_want = d->flags & SP_H2_F_PRIORITY ? 5 : 0;
		break;
	case SP_H2_PUSH_PROMISE:
		d->fixed_want = 4;
		break;
	case SP_H2_PRIORITY:
		d->fixed_want = 5;
		break;
	case SP_H2_RST_STREAM:
	case SP_H2_WINDOW_UPDATE:
		d->fixed_want = 4;
		break;
	case SP_H2_PING:
	case SP_H2_GOAWAY:
		d->fixed_want = 8;
		break;
	case SP_H2_SETTINGS:
		d->fixed_want = 6;	/* one setting at a time */
		break;
	}
	if (d->fixed_want > d->left)
		d->fixed_want = d->left;	/* malformed: take what is there */
	d->body_left = d->left - d->fixed_want;
	if ((d->type == SP_H2_DATA || d->type == SP_H2_HEADERS || d->type == SP_H2_PUSH_PROMISE) &&
	    (d->flags & SP_H2_F_PADDED) && d->left)
		d->phase = SP_H2P_PADLEN;
	else
		d->phase = d->fixed_want ? SP_H2P_FIXED : SP_H2P_BODY;
	if (d->type == SP_H2_HEADERS && d->phase != SP_H2P_PADLEN && !d->fixed_want)
		block_begin(d, false, d->stream_id, d->flags & SP_H2_F_END_STREAM);
}

/* The fixed fields of a frame are in d->fixed. */
static void fixed_done(struct sp_h2_dec *d)
{
	struct sp_h2_conn *c = d->conn;
	const uint8_t *f = d->fixed;

	switch (d->type) {
	case SP_H2_HEADERS:
		block_begin(d, false, d->stream_id, d->flags & SP_H2_F_END_STREAM);
		break;
	case SP_H2_PUSH_PROMISE:
		block_begin(d, true, be32(f) & 0x7fffffffu, false);
		break;
	case SP_H2_RST_STREAM:
		if (d->fixed_len == 4 && c->cbs->rst)
			c->cbs->rst(c->ctx, d->dir, d->stream_id, be32(f), d->ts_last);
		break;
	case SP_H2_GOAWAY:
		if (d->fixed_len == 8 && c->cbs->goaway)
			c->cbs->goaway(c->ctx, d->dir, be32(f) & 0x7fffffffu, be32(f + 4),
				       d->ts_last);
		break;
	case SP_H2_SETTINGS:
		/* this side's SETTINGS_HEADER_TABLE_SIZE bounds the table
		 * of the encoder writing to it: the other direction's */
		if (d->fixed_len == 6 && f[0] == 0 && f[1] == 1) {
			struct sp_h2_dec *o = &c->dir[!d->dir];
			uint32_t v = be32(f + 2);

			o->table_size = v > SP_H2_TABLE_MAX ? SP_H2_TABLE_MAX : v;
			if (o->inf && !o->in_block)
				nghttp2_hd_inflate_change_table_size(o->inf, o->table_size);
		}
		if (d->body_left >= 6) {
			/* the next setting */
			d->fixed_len = 0;
			d->body_left -= 6;
			d->phase = SP_H2P_FIXED;
			return;
		}
		break;
	}
	d->phase = SP_H2P_BODY;
}

static void frame_end(struct sp_h2_dec *d)
{
	struct sp_h2_conn *c = d->conn;

	d->phase = SP_H2P_HEADER;
	d->hdr_len = 0;
	if (d->type == SP_H2_DATA && (d->flags & SP_H2_F_END_STREAM) && c->cbs->data)
		c->cbs->data(c->ctx, d->dir, d->stream_id, NULL, 0, true, d->ts_last);
}

static void body_bytes(struct sp_h2_dec *d, const uint8_t *p, size_t n)
{
	struct sp_h2_conn *c = d->conn;

	switch (d->type) {
	case SP_H2_DATA:
		if (n && c->cbs->data)
			c->cbs->data(c->ctx, d->dir, d->stream_id, p, n, false, d->ts_last);
		break;
	case SP_H2_HEADERS:
	case SP_H2_PUSH_PROMISE:
	case SP_H2_CONTINUATION:
		if (d->in_block && n)
			block_inflate(d, p, n, false);
		break;
	}
}

static void body_done(struct sp_h2_dec *d)
{
	bool hdrs = d->type == SP_H2_HEADERS || d->type == SP_H2_PUSH_PROMISE ||
		    d->type == SP_H2_CONTINUATION;

	if (hdrs && d->in_block && (d->flags & SP_H2_F_END_HEADERS))
		block_end(d);
	d->phase = d->pad ? SP_H2P_PAD : SP_H2P_HEADER;
}

/* The first frame of a direction tells whether we saw its connection
 * start: a client's preface, a server's first SETTINGS. Else it is joined
 * (unless the other direction did start fresh: then a frame of its
 * start, or before it, was only not captured). */
static int first_frame(struct sp_h2_dec *d, bool fresh)
{
	struct sp_h2_dec *o = &d->conn->dir[!d->dir];

	if (d->inf)
		return 0;
	if (!fresh && o->inf && !o->joined)
		fresh = true;
	d->joined = !fresh;
	if (d->joined)
		d->conn->stats->mid_stream_joins++;
	return inflater_new(d, d->joined);
}

int sp_h2_conn__init(struct sp_h2_conn *c, uint8_t client_dir, struct sp_blocks *blocks,
		     const struct sp_h2_cbs *cbs, void *ctx, struct sp_h2_stats *stats)
{
	memset(c, 0, sizeof(*c));
	c->blocks = blocks;
	c->cbs = cbs;
	c->ctx = ctx;
	c->stats = stats;
	for (int i = 0; i < 2; i++) {
		struct sp_h2_dec *d = &c->dir[i];

		d->dir = i;
		d->conn = c;
		d->table_size = TABLE_DEFAULT;
		d->phase = i == client_dir ? SP_H2P_PREFACE : SP_H2P_HEADER;
	}
	return 0;
}

void sp_h2_conn__fini(struct sp_h2_conn *c)
{
	for (int i = 0; i < 2; i++) {
		inflater_drop(&c->dir[i]);
		head_put(&c->dir[i]);
		c->dir[i].in_block = false;
	}
}

/* Skips to the first sane frame header in buf; what was skipped is
 * returned (all of it if none). */
static size_t resync(struct sp_h2_dec *d, const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i + 9 <= len; i++)
		if (sp_h2_frame_plausible(buf + i, len - i)) {
			d->phase = SP_H2P_HEADER;
			d->hdr_len = 0;
			d->conn->stats->resyncs++;
			return i;
		}
	return len;
}

int sp_h2_conn__feed(struct sp_h2_conn *c, uint8_t dir, const uint8_t *buf, size_t len,
		     uint64_t ts_first, uint64_t ts_last)
{
	struct sp_h2_dec *d = &c->dir[dir & 1];
	int err = 0;

	d->ts_first = ts_first;
	d->ts_last = ts_last;
	while (len) {
		size_t n;

		switch (d->phase) {
		case SP_H2P_PREFACE:
			n = PREFACE_LEN - d->hdr_len;
			if (n > len)
				n = len;
			if (memcmp(buf, preface + d->hdr_len, n)) {
				/* not the preface: frames straight away
				 * (after an Upgrade, or we missed it) */
				if (d->hdr_len) {
					d->phase = SP_H2P_LOST;
					d->hdr_len = 0;
					err = -EPROTO;
				} else {
					d->phase = SP_H2P_HEADER;
				}
				continue;
			}
			d->hdr_len += n;
			buf += n;
			len -= n;
			if (d->hdr_len == PREFACE_LEN) {
				d->hdr_len = 0;
				d->phase = SP_H2P_HEADER;
				if (first_frame(d, true))
					return -ENOMEM;
			}
			break;
		case SP_H2P_HEADER:
			if (!d->inf && !d->hdr_len && len >= 9 && !header_sane(buf, true)) {
				/* a direction's first bytes are not a frame:
				 * look for one from here (nothing consumed) */
				d->phase = SP_H2P_LOST;
				break;
			}
			n = 9 - d->hdr_len;
			if (n > len)
				n = len;
			memcpy(d->hdr + d->hdr_len, buf, n);
			d->hdr_len += n;
			buf += n;
			len -= n;
			if (d->hdr_len < 9)
				break;
			if (!d->inf) {
				/* a direction's first frame */
				if (!header_sane(d->hdr, true)) {
					d->phase = SP_H2P_LOST;
					d->hdr_len = 0;
					err = -EPROTO;
					break;
				}
				if (first_frame(d, d->hdr[3] == SP_H2_SETTINGS && !(d->hdr[4] & 1)))
					return -ENOMEM;
			}
			if (!header_sane(d->hdr, false) && d->hdr[3] <= SP_H2_CONTINUATION) {
				/* a known type that breaks its rules: framing is lost */
				block_abort(d);
				d->phase = SP_H2P_LOST;
				d->hdr_len = 0;
				err = -EPROTO;
				break;
			}
			frame_begin(d);
			if (!d->left)
				goto frame_done;
			break;
		case SP_H2P_PADLEN:
			d->pad = buf[0];
			buf++;
			len--;
			d->left--;
			if (d->fixed_want > d->left)
				d->fixed_want = d->left;
			if (d->pad > d->left - d->fixed_want)
				d->pad = d->left - d->fixed_want;	/* malformed */
			d->body_left = d->left - d->fixed_want - d->pad;
			d->phase = d->fixed_want ? SP_H2P_FIXED : SP_H2P_BODY;
			if (d->type == SP_H2_HEADERS && !d->fixed_want)
				block_begin(d, false, d->stream_id, d->flags & SP_H2_F_END_STREAM);
			if (!d->left)
				goto frame_done;
			break;
		case SP_H2P_FIXED:
			n = d->fixed_want - d->fixed_len;
			if (n > len)
				n = len;
			memcpy(d->fixed + d->fixed_len, buf, n);
			d->fixed_len += n;
			buf += n;
			len -= n;
			d->left -= n;
			if (d->fixed_len < d->fixed_want)
				break;
			fixed_done(d);
			if (!d->left)
				goto frame_done;
			break;
		case SP_H2P_BODY:
			n = d->body_left < len ? d->body_left : len;
			body_bytes(d, buf, n);
			buf += n;
			len -= n;
			d->left -= n;
			d->body_left -= n;
			if (d->body_left)
				break;
			body_done(d);
			if (!d->left)
				goto frame_done;
			break;
		case SP_H2P_PAD:
			n = d->left < len ? d->left : len;
			buf += n;
			len -= n;
			d->left -= n;
			if (!d->left)
				goto frame_done;
			break;
		case SP_H2P_LOST:
			n = resync(d, buf, len);
			if (n)
				err = -EPROTO;
			buf += n;
			len -= n;
			break;
		}
		continue;
frame_done:
		/* a frame with nothing (left) in it ends here */
		if (d->phase == SP_H2P_FIXED)
			fixed_done(d);
		if (d->phase == SP_H2P_BODY || d->phase == SP_H2P_PADLEN)
			body_done(d);
		frame_end(d);
	}
	return err;
}

void sp_h2_conn__gap(struct sp_h2_conn *c, uint8_t dir, uint64_t n, uint64_t ts)
{
	struct sp_h2_dec *d = &c->dir[dir & 1];

	if (!n)
		return;
	d->ts_last = ts;
	/* a hole inside a DATA payload keeps the framing: skip it */
	if (d->phase == SP_H2P_BODY && d->type == SP_H2_DATA && n <= d->body_left) {
		d->body_left -= n;
		d->left -= n;
		if (!d->body_left)
			body_done(d);
		if (!d->left)
			frame_end(d);
		return;
	}
	if (d->phase == SP_H2P_PAD && n <= d->left) {
		d->left -= n;
		if (!d->left)
			frame_end(d);
		return;
	}
	/* a header block (or whatever else) lost: the encoder's table may
	 * have changed in what we missed */
	block_abort(d);
	if (d->inf && !d->joined) {
		d->joined = true;
		inflater_new(d, true);
	}
	d->phase = SP_H2P_LOST;
	d->hdr_len = 0;
}

const char *sp_h2_head__header(const struct sp_h2_head *h, const char *name, size_t *len)
{
	size_t nl = strlen(name);

	for (unsigned i = 0; i < h->nheaders; i++) {
		const struct sp_h2_hdr *e = &h->hdr[i];

		if (e->name_len == nl && !strncasecmp(h->buf + e->name_off, name, nl)) {
			*len = e->value_len;
			return h->buf + e->value_off;
		}
	}
	return NULL;
}
