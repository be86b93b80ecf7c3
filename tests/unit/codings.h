/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Unit-test helper: a body compressed as a server would send it. */
#ifndef SP_TEST_CODINGS_H
#define SP_TEST_CODINGS_H

#include <string.h>
#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>

/* enc: a Content-Encoding name, or "rawdeflate" (deflate without the zlib
 * wrapper, as some servers send it). The compressed length. */
static inline size_t compress_with(const char *enc, const char *in, size_t len, uint8_t *out,
				   size_t cap)
{
	z_stream z = {};
	int bits;

	if (!strcmp(enc, "br")) {
		size_t n = cap;

		assert_true(BrotliEncoderCompress(5, 22, BROTLI_MODE_TEXT, len, (const uint8_t *)in,
						  &n, out));
		return n;
	}
	if (!strcmp(enc, "zstd")) {
		size_t n = ZSTD_compress(out, cap, in, len, 3);

		assert_false(ZSTD_isError(n));
		return n;
	}
	/* gzip: 31; deflate as RFC 9110 says (zlib): 15; raw deflate: -15 */
	bits = !strcmp(enc, "gzip") || !strcmp(enc, "x-gzip") ? 31 : !strcmp(enc, "deflate") ? 15 : -15;
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (uint8_t *)in;
	z.avail_in = len;
	z.next_out = out;
	z.avail_out = cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	deflateEnd(&z);
	return z.total_out;
}

#endif
