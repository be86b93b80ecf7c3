// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Hello parsing over a bounded reader: every length is checked against
 * what is left, so a cut prefix says SP_TLS_MORE and garbage SP_TLS_BAD,
 * never a read past len. Only the first handshake record is read (a
 * ClientHello above 16 KiB, split over records, is out of scope: the
 * capture keeps SP_CIPHER_HELLO_MAX bytes anyway).
 */
#include <string.h>
#include "decode/tls_hello.h"

#define TLS_HANDSHAKE		22
#define HS_CLIENT_HELLO		1
#define HS_SERVER_HELLO		2
#define EXT_SNI			0
#define EXT_ALPN		16
#define EXT_SUPPORTED_VERSIONS	43

struct rd {
	const uint8_t *p;
	size_t left;
	int cut;	/* the input ended, the message did not */
};

static int take(struct rd *r, size_t n, const uint8_t **out)
{
	if (n > r->left) {
		r->cut = 1;
		return -1;
	}
	if (out)
		*out = r->p;
	r->p += n;
	r->left -= n;
	return 0;
}

/* A big-endian integer of n bytes. */
static int be(struct rd *r, size_t n, unsigned *v)
{
	const uint8_t *b;

	if (take(r, n, &b))
		return -1;
	*v = 0;
	for (size_t i = 0; i < n; i++)
		*v = *v << 8 | b[i];
	return 0;
}

#define u8(r, v)	be(r, 1, v)
#define u16(r, v)	be(r, 2, v)
#define u24(r, v)	be(r, 3, v)

/* A sub-reader of n bytes; cut if the input ends inside it. */
static int sub(struct rd *r, size_t n, struct rd *s)
{
	s->cut = 0;
	s->p = r->p;
	if (n > r->left) {
		s->left = r->left;
		r->p += r->left;
		r->left = 0;
		s->cut = r->cut = 1;
		return 0;
	}
	s->left = n;
	r->p += n;
	r->left -= n;
	return 0;
}

/* The handshake message of type want at the start of buf: its body. */
static int handshake(const uint8_t *buf, size_t len, unsigned want, struct rd *body)
{
	struct rd r = { buf, len, 0 }, rec;
	unsigned type, ver, rlen, hs, hlen;

	if (u8(&r, &type) || u16(&r, &ver) || u16(&r, &rlen))
		return SP_TLS_MORE;
	if (type != TLS_HANDSHAKE || (ver >> 8) != 3 || rlen == 0 || rlen > 16384 + 256)
		return SP_TLS_BAD;
	sub(&r, rlen, &rec);
	if (u8(&rec, &hs))
		return SP_TLS_MORE;
	if (hs != want)
		return SP_TLS_BAD;
	if (u24(&rec, &hlen))
		return SP_TLS_MORE;
	if (!rec.cut && hlen > rec.left)
		return SP_TLS_BAD;	/* spans records: not read */
	sub(&rec, hlen, body);
	return SP_TLS_OK;
}

static int parse_alpn_list(struct rd *e, struct sp_tls_client_hello *out)
{
	unsigned n, l;
	struct rd list;
	const uint8_t *p;

	if (u16(e, &n))
		return -1;
	sub(e, n, &list);
	while (list.left) {
		if (u8(&list, &l) || l == 0 || take(&list, l, &p))
			return list.cut ? 0 : -1;
		if (out->nalpn < SP_TLS_MAX_ALPN)
			out->alpn[out->nalpn] = (struct sp_tls_view){ p, l };
		out->nalpn++;
	}
	return 0;
}

static int parse_sni(struct rd *e, struct sp_tls_client_hello *out)
{
	unsigned n, type, l;
	struct rd list;
	const uint8_t *p;

	if (u16(e, &n))
		return -1;
	sub(e, n, &list);
	while (list.left) {
		if (u8(&list, &type) || u16(&list, &l) || take(&list, l, &p))
			return list.cut ? 0 : -1;
		if (type == 0 && !out->sni.len) {
			/* a host name has no NUL and fits DNS */
			if (l == 0 || l > 255 || memchr(p, 0, l))
				return -1;
			out->sni = (struct sp_tls_view){ p, l };
		}
	}
	return 0;
}

int sp_tls_client_hello_parse(const uint8_t *buf, size_t len, struct sp_tls_client_hello *out)
{
	struct rd b, exts, e;
	unsigned ver, n, type, elen;
	int v;

	memset(out, 0, sizeof(*out));
	v = handshake(buf, len, HS_CLIENT_HELLO, &b);
	if (v)
		return v;
	/* legacy_version, random, session id, cipher suites, compression */
	if (u16(&b, &ver) || take(&b, 32, NULL))
		return SP_TLS_MORE;
	if ((ver >> 8) != 3)
		return SP_TLS_BAD;
	if (u8(&b, &n) || n > 32 || take(&b, n, NULL) || u16(&b, &n) || take(&b, n, NULL) ||
	    u8(&b, &n) || take(&b, n, NULL))
		return b.cut ? SP_TLS_MORE : SP_TLS_BAD;
	if (!b.left)
		return b.cut ? SP_TLS_MORE : SP_TLS_OK;	/* no extensions */
	if (u16(&b, &n))
		return SP_TLS_MORE;
	sub(&b, n, &exts);
	while (exts.left) {
		if (u16(&exts, &type) || u16(&exts, &elen))
			return SP_TLS_MORE;
		sub(&exts, elen, &e);
		if (type == EXT_SNI && parse_sni(&e, out))
			return e.cut ? SP_TLS_MORE : SP_TLS_BAD;
		if (type == EXT_ALPN && parse_alpn_list(&e, out))
			return e.cut ? SP_TLS_MORE : SP_TLS_BAD;
		if (e.cut)
			return SP_TLS_MORE;
	}
	return exts.cut ? SP_TLS_MORE : SP_TLS_OK;
}

int sp_tls_server_hello_parse(const uint8_t *buf, size_t len, struct sp_tls_server_hello *out)
{
	struct rd b, exts, e, list;
	unsigned ver, n, type, elen, l;
	const uint8_t *p;
	int v;

	memset(out, 0, sizeof(*out));
	v = handshake(buf, len, HS_SERVER_HELLO, &b);
	if (v)
		return v;
	if (u16(&b, &ver))
		return SP_TLS_MORE;
	if ((ver >> 8) != 3)
		return SP_TLS_BAD;
	out->version = ver;
	/* random, session id, cipher suite, compression */
	if (take(&b, 32, NULL) || u8(&b, &n) || n > 32 || take(&b, n, NULL) ||
	    take(&b, 3, NULL))
		return b.cut ? SP_TLS_MORE : SP_TLS_BAD;
	if (!b.left)
		return b.cut ? SP_TLS_MORE : SP_TLS_OK;
	if (u16(&b, &n))
		return SP_TLS_MORE;
	sub(&b, n, &exts);
	while (exts.left) {
		if (u16(&exts, &type) || u16(&exts, &elen))
			break;
		sub(&exts, elen, &e);
		if (e.cut)
			break;
		if (type == EXT_SUPPORTED_VERSIONS) {
			if (u16(&e, &ver) || (ver >> 8) != 3)
				return SP_TLS_BAD;
			out->version = ver;
		} else if (type == EXT_ALPN) {
			if (u16(&e, &n) || sub(&e, n, &list) || u8(&list, &l) || l == 0 ||
			    take(&list, l, &p))
				return SP_TLS_BAD;
			out->alpn = (struct sp_tls_view){ p, l };
		}
	}
	if (exts.cut) {
		out->truncated = 1;
		return SP_TLS_MORE;
	}
	return SP_TLS_OK;
}

const char *sp_tls_version_str(uint16_t version)
{
	switch (version) {
	case 0x0304: return "1.3";
	case 0x0303: return "1.2";
	case 0x0302: return "1.1";
	case 0x0301: return "1.0";
	}
	return NULL;
}
