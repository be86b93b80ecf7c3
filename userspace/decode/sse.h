/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Line framing of streamed bodies, incrementally: bytes go in as they
 * arrive, lines come out as soon as they end. Two framings:
 *
 * - Server-sent events (WHATWG HTML "Server-sent events", 9.2.5/9.2.6):
 *   lines end with CRLF, LF or CR; "field: value" lines are reported one by
 *   one (data, event, id, retry; comments and other fields are not), and a
 *   blank line after some fields ends an event (SP_SSE_DISPATCH). Several
 *   data lines of one event join with "\n": the caller does that if it
 *   needs one string (a JSON parser fed line after line does not).
 * - NDJSON / JSON Lines: every non-empty line is one SP_SSE_DATA.
 *
 * A line is reported from the caller's buffer when it is whole there, else
 * from a buffer of at most line_max bytes (grown as needed, never per
 * line). A longer line is dropped whole and counted. At the end, a last
 * NDJSON line without its newline is reported; an unfinished SSE line or
 * event is not (as the spec says).
 *
 * Knows nothing of what the lines mean: the LLM decoder, MCP over HTTP and
 * others share it.
 */
#ifndef SP_SSE_H
#define SP_SSE_H

#include <stddef.h>
#include <stdint.h>

enum sp_sse_framing {
	SP_SSE_EVENTS,
	SP_SSE_NDJSON,
};

enum sp_sse_field {
	SP_SSE_DATA = 1,
	SP_SSE_EVENT,
	SP_SSE_ID,
	SP_SSE_RETRY,
	SP_SSE_DISPATCH,	/* the event is complete (no value) */
};

struct sp_sse;

/* One field's value (without the "field:" and its one optional space),
 * borrowed for the call. */
typedef void (*sp_sse_fn)(void *ctx, enum sp_sse_field field, const char *s, size_t len);

/* Owned: free with sp_sse__free. NULL with errno ENOMEM or EINVAL (line_max 0). */
struct sp_sse *sp_sse__new(enum sp_sse_framing framing, uint32_t line_max, sp_sse_fn fn,
			   void *ctx);
void sp_sse__feed(struct sp_sse *s, const char *buf, size_t len);
/* The body ended: see above for what is still reported. */
void sp_sse__finish(struct sp_sse *s);
/* Lines dropped for being longer than line_max. */
uint64_t sp_sse__dropped(const struct sp_sse *s);
void sp_sse__free(struct sp_sse *s);

#endif
