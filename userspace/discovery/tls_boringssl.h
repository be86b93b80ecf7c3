/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * BoringSSL without symbols: the rules that find SSL_write and SSL_read in
 * x86-64 code from facts a new build keeps (tls_boringssl.c says which and
 * why). Split from the ELF side so that unit tests can run the rules on
 * synthetic code.
 */
#ifndef SP_TLS_BORINGSSL_H
#define SP_TLS_BORINGSSL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sp_eh_frame;

/* What the rules read: borrowed views of the code and the strings. */
struct sp_bssl_image {
	const uint8_t *text;	/* the executable section's bytes */
	size_t text_len;
	uint64_t text_addr;	/* its address */
	const uint8_t *rodata;	/* where the file-name strings are */
	size_t rodata_len;
	uint64_t rodata_addr;
	bool abs32;		/* not position-independent: absolute 32-bit
				 * addresses may appear as immediates */
	const struct sp_eh_frame *fdes;	/* may be NULL (none in the file) */
};

enum sp_bssl_start {
	SP_BSSL_START_FDE = 1,	/* an .eh_frame FDE's pc_begin */
	SP_BSSL_START_CALL,	/* the target of direct calls, after padding */
};

struct sp_bssl_fn {
	uint64_t addr;		/* function start */
	uint8_t start;		/* enum sp_bssl_start: how it is proven */
	uint32_t callers;	/* direct calls to it seen in the code */
};

struct sp_bssl_found {
	struct sp_bssl_fn write, read;
	uint64_t put_error;	/* ERR_put_error, as found */
	uint32_t functions;	/* functions that report errors from ssl_lib.cc */
};

/*
 * Runs the rules on img. 0 and *out filled; 1 if img has no BoringSSL
 * (no ssl_lib.cc string: say nothing); -ENOENT (or another -errno) if it
 * has one but a rule failed or was ambiguous, with the reason in why.
 */
int sp_bssl_find(const struct sp_bssl_image *img, struct sp_bssl_found *out, char *why,
		 size_t whylen);

#endif
