// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The protocols the capture stage recognises, tried in this order. */
#include <string.h>
#include "decode/protocol.h"
#include "spanprobe.h"

extern const struct sp_proto sp_http1_proto;	/* pair/http1_exchange.c */
extern const struct sp_proto sp_jsonrpc_proto;	/* pair/jsonrpc_exchange.c */
/* pair/h2_exchange.c: the preface (h2c prior knowledge, ALPN h2), or a
 * sane frame header on a connection joined mid-way */
extern const struct sp_proto sp_http2_proto;

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
	&sp_http2_proto,
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
