// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <brotli/decode.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>
#include "decode/content.h"

enum coding { C_IDENTITY, C_GZIP, C_DEFLATE, C_BR, C_ZSTD };

struct sp_content {
	enum coding coding;
	sp_content_fn fn;
	void *ctx;
	uint64_t max, decoded;
	int err;		/* sticky: -E2BIG or -EBADMSG */
	bool done;		/* the coded stream ended */
	bool member_end;	/* gzip: a member ended; another may follow */
	bool fed;
	/* deflate: the first two bytes say zlib wrapper or raw */
	uint8_t head[2];
	uint8_t nhead;
	bool z_init;
	z_stream z;
	BrotliDecoderState *br;
	ZSTD_DStream *zs;
	bool zs_open;		/* zstd: inside a frame */
	uint8_t out[16384];
};

/* The one coding named in a Content-Encoding list, identity left out. */
static int coding_of(const char *s, size_t n, enum coding *out)
{
	static const struct {
		const char *name;
		enum coding c;
	} names[] = {
		{ "identity", C_IDENTITY }, { "gzip", C_GZIP }, { "x-gzip", C_GZIP },
		{ "deflate", C_DEFLATE }, { "br", C_BR }, { "zstd", C_ZSTD },
	};
	int found = 0;

	*out = C_IDENTITY;
	for (size_t i = 0; s && i < n;) {
		size_t b, e;
		bool known = false;

		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
			i++;
		b = i;
		while (i < n && s[i] != ',' && s[i] != ' ' && s[i] != '\t' && s[i] != ';')
			i++;
		e = i;
		while (i < n && s[i] != ',')	/* parameters, if any */
			i++;
		if (b == e)
			continue;
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
			if (strlen(names[k].name) == e - b && !strncasecmp(s + b, names[k].name, e - b)) {
				known = true;
				if (names[k].c != C_IDENTITY) {
					*out = names[k].c;
					found++;
				}
			}
		}
		/* an unknown coding, or codings stacked: not decoded */
		if (!known || found > 1)
			return -ENOTSUP;
	}
	return 0;
}

/* Hands decoded bytes on, up to the cap; false once the cap is reached. */
static bool emit(struct sp_content *c, const uint8_t *buf, size_t n)
{
	bool more = true;

	if (c->decoded + n > c->max) {
		n = c->max - c->decoded;
		c->err = -E2BIG;
		more = false;
	}
	c->decoded += n;
	if (n)
		c->fn(c->ctx, (const char *)buf, n);
	return more;
}

static int feed_zlib(struct sp_content *c, const uint8_t *in, size_t len)
{
	c->z.next_in = (uint8_t *)in;
	c->z.avail_in = len;
	while (!c->done) {
		int rc;

		if (c->member_end) {
			/* gzip members may follow each other (RFC 1952 2.2);
			 * anything else after the end is ignored */
			if (!c->z.avail_in)
				return 0;
			if (c->z.next_in[0] != 0x1f) {
				c->done = true;
				return 0;
			}
			inflateReset(&c->z);
			c->member_end = false;
		}
		c->z.next_out = c->out;
		c->z.avail_out = sizeof(c->out);
		rc = inflate(&c->z, Z_NO_FLUSH);
		if (!emit(c, c->out, sizeof(c->out) - c->z.avail_out))
			return c->err;
		if (rc == Z_STREAM_END) {
			if (c->coding == C_GZIP)
				c->member_end = true;
			else
				c->done = true;
			continue;
		}
		if (rc == Z_BUF_ERROR || (rc == Z_OK && !c->z.avail_in && c->z.avail_out))
			return 0;	/* all input taken, all output given */
		if (rc != Z_OK) {
			c->err = -EBADMSG;
			return c->err;
		}
	}
	return 0;
}

/* "deflate" should carry the zlib wrapper (RFC 9110 8.4.1.2) but is
 * sometimes sent raw: the wrapper's two bytes are a multiple of 31 with
 * method 8 (RFC 1950 2.2), which raw data almost never is. */
static int feed_deflate(struct sp_content *c, const uint8_t *in, size_t len)
{
	if (!c->z_init) {
		int bits, err;

		while (c->nhead < 2 && len) {
			c->head[c->nhead++] = *in++;
			len--;
		}
		if (c->nhead < 2)
			return 0;
		bits = (c->head[0] & 0x0f) == 8 && (c->head[0] >> 4) <= 7 &&
		       ((c->head[0] << 8) | c->head[1]) % 31 == 0 ? 15 : -15;
		if (inflateInit2(&c->z, bits) != Z_OK) {
			c->err = -EBADMSG;
			return c->err;
		}
		c->z_init = true;
		err = feed_zlib(c, c->head, 2);
		if (err || !len)
			return err;
	}
	return feed_zlib(c, in, len);
}

static int feed_br(struct sp_content *c, const uint8_t *in, size_t len)
{
	size_t avail_in = len;

	while (!c->done) {
		uint8_t *o = c->out;
		size_t avail_out = sizeof(c->out);
		BrotliDecoderResult rc =
			BrotliDecoderDecompressStream(c->br, &avail_in, &in, &avail_out, &o, NULL);

		if (!emit(c, c->out, sizeof(c->out) - avail_out))
			return c->err;
		if (rc == BROTLI_DECODER_RESULT_SUCCESS)
			c->done = true;
		else if (rc == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT)
			return 0;
		else if (rc != BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) {
			c->err = -EBADMSG;
			return c->err;
		}
	}
	return 0;
}

static int feed_zstd(struct sp_content *c, const uint8_t *buf, size_t len)
{
	ZSTD_inBuffer in = { buf, len, 0 };

	for (;;) {
		ZSTD_outBuffer o = { c->out, sizeof(c->out), 0 };
		size_t rc = ZSTD_decompressStream(c->zs, &o, &in);

		if (ZSTD_isError(rc)) {
			c->err = -EBADMSG;
			return c->err;
		}
		if (!emit(c, c->out, o.pos))
			return c->err;
		/* 0: a frame ended and is flushed; frames may follow */
		c->zs_open = rc != 0;
		if (in.pos == in.size && o.pos < o.size)
			return 0;
	}
}

struct sp_content *sp_content__new(const char *enc, size_t enc_len, uint64_t max_out,
				   sp_content_fn fn, void *ctx)
{
	struct sp_content *c;
	enum coding coding;
	int err = coding_of(enc, enc ? enc_len : 0, &coding);

	if (err) {
		errno = -err;
		return NULL;
	}
	/* identity needs no output buffer */
	c = calloc(1, coding == C_IDENTITY ? offsetof(struct sp_content, out) : sizeof(*c));
	if (!c)
		return NULL;
	c->coding = coding;
	c->fn = fn;
	c->ctx = ctx;
	c->max = max_out ? max_out : SP_CONTENT_MAX_DEFAULT;
	if (coding == C_GZIP) {
		if (inflateInit2(&c->z, 15 + 16) != Z_OK)
			goto err_out;
		c->z_init = true;
	} else if (coding == C_BR && !(c->br = BrotliDecoderCreateInstance(NULL, NULL, NULL))) {
		goto err_out;
	} else if (coding == C_ZSTD && !(c->zs = ZSTD_createDStream())) {
		goto err_out;
	}
	return c;
err_out:
	sp_content__free(c);
	errno = ENOMEM;
	return NULL;
}

int sp_content__feed(struct sp_content *c, const char *buf, size_t len)
{
	const uint8_t *in = (const uint8_t *)buf;

	if (c->err)
		return c->err;
	if (!len)
		return 0;
	c->fed = true;
	switch (c->coding) {
	case C_IDENTITY:
		c->decoded += len;
		c->fn(c->ctx, buf, len);
		return 0;
	case C_GZIP:
		return feed_zlib(c, in, len);
	case C_DEFLATE:
		return feed_deflate(c, in, len);
	case C_BR:
		return feed_br(c, in, len);
	case C_ZSTD:
		return feed_zstd(c, in, len);
	}
	return 0;
}

int sp_content__finish(struct sp_content *c)
{
	if (c->err)
		return c->err;
	switch (c->coding) {
	case C_IDENTITY:
		return 0;
	case C_ZSTD:
		return c->fed && !c->zs_open ? 0 : -EPIPE;
	case C_GZIP:
		return c->done || c->member_end ? 0 : -EPIPE;
	default:
		return c->done ? 0 : -EPIPE;
	}
}

uint64_t sp_content__decoded(const struct sp_content *c)
{
	return c->decoded;
}

void sp_content__free(struct sp_content *c)
{
	if (!c)
		return;
	if (c->z_init)
		inflateEnd(&c->z);
	if (c->br)
		BrotliDecoderDestroyInstance(c->br);
	if (c->zs)
		ZSTD_freeDStream(c->zs);
	free(c);
}
