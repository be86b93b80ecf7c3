/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * HTTP/1.x decoder for one direction of one connection.
 *
 * The grammar is http_parser's (Debian libhttp-parser-dev, the parser node
 * used for a decade): incremental, no allocation, handles Content-Length,
 * chunked, pipelining and bodies that end at close. This layer adds what a
 * tracer needs on top: timestamps per message, a bounded copy of the head,
 * credential redaction before anything else sees a header, recovery from
 * holes in the captured stream, and resync after garbage.
 */
#ifndef SP_HTTP1_H
#define SP_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <http_parser.h>

#define SP_H1_HEAD_MAX		8192	/* request/status line + headers kept */
#define SP_H1_HEAD_FIRST	256	/* the head buffer starts this big, grows x2 */
#define SP_H1_HEADERS_FIRST	16	/* header index entries at first, grows x2 */
#define SP_H1_MAX_HEADERS	64

struct sp_h1_header {
	uint16_t name_off, name_len;
	uint16_t value_off, value_len;
};

/* One message. Strings are views into head[] (not NUL-terminated). The
 * head buffer is taken when a message begins and given back when it has
 * been delivered, so an idle connection holds none. */
struct sp_h1_msg {
	bool is_request;
	bool head_truncated;	/* head longer than SP_H1_HEAD_MAX */
	bool body_truncated;	/* bytes of the body were not captured */
	bool incomplete;	/* ended by close/EOF/hole before its end */
	bool upgrade;
	uint8_t http_major, http_minor;
	uint16_t status;	/* responses */
	char method[16];	/* requests */
	uint16_t url_off, url_len;
	uint16_t nheaders;
	uint16_t head_len;
	uint64_t body_len;	/* body bytes seen (decoded from chunks) */
	uint64_t start_ns;	/* first byte (CLOCK_MONOTONIC) */
	uint64_t end_ns;	/* last byte, or when it was cut short */
	uint64_t last_data_ns;	/* when its last captured byte came */
	/* headers_cap entries and head_cap bytes, from the decoder's blocks,
	 * for the message in progress (fields from here on survive a new
	 * message's reset) */
	struct sp_h1_header *headers;
	size_t headers_cap;	/* in bytes */
	char *head;
	size_t head_cap;
};

struct sp_blocks;

struct sp_h1;

/* Called for each finished message; msg is borrowed for the call only. */
typedef void (*sp_h1_msg_fn)(void *ctx, struct sp_h1 *d, const struct sp_h1_msg *msg);
/* Asked at a response's head: true if the request was HEAD (no body). */
typedef bool (*sp_h1_nobody_fn)(void *ctx, struct sp_h1 *d);

/* A message's head is complete (msg borrowed for the call). */
typedef void (*sp_h1_head_fn)(void *ctx, struct sp_h1 *d, const struct sp_h1_msg *msg);
/* Body bytes (dechunked), borrowed for the call; ts: when they arrived. */
typedef void (*sp_h1_body_fn)(void *ctx, struct sp_h1 *d, const char *buf, size_t len,
			      uint64_t ts);

enum sp_h1_state {
	SP_H1_IDLE = 0,		/* between messages */
	SP_H1_IN_MSG,
	SP_H1_DESYNC,		/* lost framing: skip to a message start */
	SP_H1_UPGRADED,		/* 101/CONNECT: no longer HTTP/1 */
};

struct sp_h1 {
	http_parser parser;
	enum sp_h1_state state;
	bool is_request;
	bool in_value;		/* last header callback was a value */
	bool in_body;
	bool skipping;		/* feeding a hole's placeholder byte */
	bool head_gone;		/* this message's head was given back early */
	sp_h1_msg_fn on_msg;
	sp_h1_nobody_fn nobody;
	sp_h1_head_fn on_head;		/* optional */
	sp_h1_body_fn on_body;		/* optional */
	void *ctx;
	uint64_t ts_first, ts_last;	/* of the chunk being fed */
	uint64_t last_data_ns;		/* ts_last of the last bytes fed */
	uint64_t desyncs;		/* framing losses, for stats */
	struct sp_blocks *blocks;	/* head buffers; NULL: malloc */
	struct sp_h1_msg msg;
};

/* d may be uninitialised memory (a decoder in use must be __fini'd first). */
void sp_h1__init(struct sp_h1 *d, bool is_request, sp_h1_msg_fn on_msg,
		 sp_h1_nobody_fn nobody, void *ctx);
/*
 * Head buffers come from blocks (borrowed; it must outlive d) instead of
 * malloc, and are given back as soon as the head callback (sp_h1__watch's
 * on_head) has returned: a message then spends its body holding no head,
 * and is delivered at its end without one (head NULL, no headers, no url;
 * what the caller needs of the head it takes in on_head). A message cut
 * before its head was complete still has what it had. Call right after
 * __init.
 */
void sp_h1__use_blocks(struct sp_h1 *d, struct sp_blocks *blocks);
/* Gives back the head buffer of a message in progress (the decoder may be
 * initialised again after). */
void sp_h1__fini(struct sp_h1 *d);
/* Also report heads and body bytes as they come (either may be NULL). */
void sp_h1__watch(struct sp_h1 *d, sp_h1_head_fn on_head, sp_h1_body_fn on_body);
/*
 * Feeds len captured bytes. ts_first is when the first of them was
 * sent/received, ts_last the last. Returns 0, or -EPROTO when the bytes were
 * not HTTP (the decoder then skips ahead to the next message start).
 */
int sp_h1__feed(struct sp_h1 *d, const char *buf, size_t len, uint64_t ts_first,
		uint64_t ts_last);
/* n bytes of the stream were lost (capture cap, full ring buffer). */
void sp_h1__gap(struct sp_h1 *d, uint64_t n, uint64_t ts);
/* The connection broke (reset, dead process): a message in progress is
 * delivered with msg->incomplete set, and the framing is dropped. */
void sp_h1__cut(struct sp_h1 *d, uint64_t ts);
/* The connection left HTTP/1 (101 Switching Protocols, CONNECT 2xx): ignore
 * the rest of this direction. */
void sp_h1__upgraded(struct sp_h1 *d);
/* The stream ended. A body that ends at close finishes; returns true if a
 * message was cut short (it is delivered with msg->incomplete set). */
bool sp_h1__eof(struct sp_h1 *d, uint64_t ts);
/* True if a message has started and not finished. */
bool sp_h1__busy(const struct sp_h1 *d);

/* Value of the first header called name (case-insensitive), or NULL. */
const char *sp_h1_msg__header(const struct sp_h1_msg *m, const char *name, size_t *len);
/* True if buf starts like a request (is_request) or a response. */
bool sp_h1_looks_like_start(const char *buf, size_t len, bool is_request);

#endif
