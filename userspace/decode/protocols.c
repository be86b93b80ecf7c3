// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The protocols the capture stage recognises, tried in this order. */
#include <string.h>
#include "decode/protocol.h"
#include "spanprobe.h"

extern const struct sp_proto sp_http1_proto;	/* pair/http1_exchange.c */
extern const struct sp_proto sp_jsonrpc_proto;	/* pair/jsonrpc_exchange.c */

/* HTTP/2 with prior knowledge (h2c, gRPC without TLS) and after ALPN h2:
 * the client's connection preface (RFC 9113 section 3.4). Recognised, so
 * it is counted as what it is; its decoder comes with HTTP/2 support. */
static bool h2_sniff(const uint8_t *buf, size_t len, uint8_t dir, uint8_t *role)
{
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

	if (len < 16 || memcmp(buf, preface, len < sizeof(preface) - 1 ? len : sizeof(preface) - 1))
		return false;
	*role = dir == SP_DIR_EGRESS ? SP_ROLE_CLIENT : SP_ROLE_SERVER;
	return true;
}

static const struct sp_proto h2_proto = {
	.name = "http2",
	.sniff = h2_sniff,
};

/* JSON-RPC 2.0 with LSP's framing (a Content-Length header before each
 * message). Recognised, to be counted; newline-delimited JSON-RPC (MCP
 * over stdio) is pair/jsonrpc_exchange.c's. */
static bool lsp_sniff(const uint8_t *buf, size_t len, uint8_t dir, uint8_t *role)
{
	static const char lsp[] = "Content-Length: ";

	if (len < sizeof(lsp) - 1 || memcmp(buf, lsp, sizeof(lsp) - 1))
		return false;
	*role = SP_ROLE_UNKNOWN;
	return true;
}

static const struct sp_proto lsp_proto = {
	.name = "lsp",
	.sniff = lsp_sniff,
};

/* A TLS record header (handshake, alert, application data; version 3.x):
 * the kernel side never captures ciphertext on purpose, so seeing one
 * means a socket was classified from a partial first write. Counted. */
static bool tls_sniff(const uint8_t *buf, size_t len, uint8_t dir, uint8_t *role)
{
	if (len < 5 || buf[0] < 0x14 || buf[0] > 0x17 || buf[1] != 3 || buf[2] > 4)
		return false;
	*role = SP_ROLE_UNKNOWN;
	return true;
}

static const struct sp_proto tls_proto = {
	.name = "tls",
	.sniff = tls_sniff,
};

const struct sp_proto *const sp_protocols[] = {
	&sp_http1_proto,
	&h2_proto,
	&sp_jsonrpc_proto,
	&lsp_proto,
	&tls_proto,
	NULL,
};

const struct sp_proto *sp_proto_sniff(const uint8_t *buf, size_t len, uint8_t dir,
				      uint8_t *role)
{
	for (const struct sp_proto *const *p = sp_protocols; *p; p++)
		if ((*p)->sniff(buf, len, dir, role))
			return *p;
	return NULL;
}
