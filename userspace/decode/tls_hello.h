/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The TLS ClientHello and ServerHello, read from the first bytes of a
 * connection each way (RFC 8446 4.1.2-4.1.3, RFC 6066 SNI, RFC 7301 ALPN):
 * what an encrypted connection says in the clear. Results are views into
 * the caller's buffer, no copies.
 */
#ifndef SP_TLS_HELLO_H
#define SP_TLS_HELLO_H

#include <stddef.h>
#include <stdint.h>

enum sp_tls_verdict {
	SP_TLS_OK = 0,		/* parsed */
	SP_TLS_MORE = -2,	/* a prefix of a valid hello: give more bytes */
	SP_TLS_BAD = -1,	/* not a TLS hello of that kind */
};

#define SP_TLS_MAX_ALPN	8

struct sp_tls_view {
	const uint8_t *p;
	size_t len;
};

struct sp_tls_client_hello {
	struct sp_tls_view sni;			/* host_name, len 0 if none */
	struct sp_tls_view alpn[SP_TLS_MAX_ALPN];
	unsigned nalpn;				/* offered, at most SP_TLS_MAX_ALPN kept */
};

struct sp_tls_server_hello {
	uint16_t version;	/* 0x0304 from supported_versions, else legacy_version */
	/* selected, len 0 if none; TLS 1.2 only: TLS 1.3 sends it in the
	 * EncryptedExtensions, not readable from outside */
	struct sp_tls_view alpn;
	/* the ServerHello ended before its extensions did (they may sit past the
	 * captured prefix): alpn may be missing */
	int truncated;
};

/* buf holds a connection's first client bytes (TLS records). */
int sp_tls_client_hello_parse(const uint8_t *buf, size_t len, struct sp_tls_client_hello *out);
/* buf holds a connection's first server bytes. */
int sp_tls_server_hello_parse(const uint8_t *buf, size_t len, struct sp_tls_server_hello *out);
/* "1.3", "1.2", ... for version, NULL if not a TLS version. */
const char *sp_tls_version_str(uint16_t version);

#endif
