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

const struct sp_proto *const sp_protocols[] = {
	&sp_http1_proto,
	&h2_proto,
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
