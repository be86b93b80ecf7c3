// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <string.h>
#include "model/span.h"
#include "semantics/trace_context.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;	/* upper case is invalid in traceparent */
}

static bool hex_bytes(const char *v, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(v[2 * i]), lo = hexval(v[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

bool sp_traceparent_parse(const char *v, size_t len, struct sp_trace_ctx *out)
{
	uint8_t ver;

	/* OWS around a header value is not part of it */
	while (len && (*v == ' ' || *v == '\t'))
		v++, len--;
	while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	/* 00-<32 hex>-<16 hex>-<2 hex> */
	if (len < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-')
		return false;
	if (!hex_bytes(v, &ver, 1) || ver == 0xff)
		return false;
	/* version 00 is exactly 55; a later version may add "-..." */
	if ((ver == 0 && len != 55) || (len > 55 && v[55] != '-'))
		return false;
	if (!hex_bytes(v + 3, out->trace_id, 16) || !hex_bytes(v + 36, out->span_id, 8) ||
	    !hex_bytes(v + 53, &out->flags, 1))
		return false;
	return !sp_id_is_zero(out->trace_id, 16) && !sp_id_is_zero(out->span_id, 8);
}

void sp_trace_ctx_adopt(struct sp_span *s, const struct sp_trace_ctx *c, const char *tracestate)
{
	memcpy(s->trace_id, c->trace_id, sizeof(s->trace_id));
	memcpy(s->parent_id, c->span_id, sizeof(s->parent_id));
	s->remote_parent = true;
	if (tracestate && tracestate[0])
		s->trace_state = sp_span__strdup(s, tracestate, strlen(tracestate));
}
