/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * HTTP content codings (RFC 9110 section 8.4.1), decoded incrementally:
 * encoded bytes go in as they arrive, decoded bytes come out through a
 * callback, a body cut short yields what it held. gzip (and x-gzip),
 * deflate (the zlib wrapper RFC 9110 asks for, or raw as some servers send
 * it), br and zstd. Output is capped (max_out) against compression bombs:
 * past the cap nothing more comes out.
 *
 * Knows nothing of what the bytes mean: the LLM decoder, MCP over HTTP and
 * others share it.
 */
#ifndef SP_CONTENT_H
#define SP_CONTENT_H

#include <stddef.h>
#include <stdint.h>

#define SP_CONTENT_MAX_DEFAULT	(64ull << 20)	/* decoded bytes per body */

struct sp_content;

/* Decoded bytes, borrowed for the call. */
typedef void (*sp_content_fn)(void *ctx, const char *buf, size_t len);

/*
 * A decoder for the Content-Encoding value enc/enc_len (a view; NULL,
 * empty or "identity": bytes pass through as they are, uncapped). max_out:
 * decoded bytes at most, 0 for SP_CONTENT_MAX_DEFAULT. Owned: free with
 * sp_content__free. NULL with errno ENOTSUP for a coding not listed above
 * or a list of several (not decoded, nothing guessed), ENOMEM.
 */
struct sp_content *sp_content__new(const char *enc, size_t enc_len, uint64_t max_out,
				   sp_content_fn fn, void *ctx);
/*
 * Feeds encoded bytes; fn gets what they decode to, in pieces of at most
 * 16 KiB. 0, -E2BIG once max_out bytes have come out (the rest is
 * dropped), -EBADMSG once the input stopped decoding (what came before
 * stands). Both are sticky: later calls return them and decode nothing.
 */
int sp_content__feed(struct sp_content *c, const char *buf, size_t len);
/* 0 if the coded stream ended where it should, -EPIPE if it was cut
 * short, or the sticky error. */
int sp_content__finish(struct sp_content *c);
/* Decoded bytes so far. */
uint64_t sp_content__decoded(const struct sp_content *c);
void sp_content__free(struct sp_content *c);

#endif
