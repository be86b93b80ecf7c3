// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The protocols the capture stage recognises, tried in this order. */
#include <string.h>
#include "decode/protocol.h"
#include "spanprobe.h"

extern const struct sp_proto sp_http1_proto;	/* pair/http1_exchange.c */

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

/* JSON-RPC 2.0 as MCP and LSP frame it on a byte stream: a JSON object
 * per line, or LSP's Content-Length header. Who is the client is not in
 * the first bytes: a request has a method, which this does not look for
 * yet. Recognised, to be counted; its decoder comes with MCP support. */
static bool jsonrpc_sniff(const uint8_t *buf, size_t len, uint8_t dir, uint8_t *role)
{
	static const char obj[] = "\"jsonrpc\"", lsp[] = "Content-Length: ";
	size_t i = 0;

	if (len >= sizeof(lsp) - 1 && !memcmp(buf, lsp, sizeof(lsp) - 1)) {
		*role = SP_ROLE_UNKNOWN;
		return true;
	}
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
		i++;
	if (i >= len || buf[i] != '{')
		return false;
	if (!memmem(buf + i, len - i < 64 ? len - i : 64, obj, sizeof(obj) - 1))
		return false;
	*role = SP_ROLE_UNKNOWN;
	return true;
}

static const struct sp_proto jsonrpc_proto = {
	.name = "jsonrpc",
	.sniff = jsonrpc_sniff,
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
	&jsonrpc_proto,
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
