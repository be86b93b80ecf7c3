/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * JSON-RPC 2.0 messages, and their newline-delimited framing on a byte
 * stream (MCP over stdio: one message per line, UTF-8).
 *
 * A message is walked as it arrives (decode/jwalk.c), never buffered
 * whole: what a span needs (method, id, tool/prompt/resource names, trace
 * context, error, isError) is copied into a struct sp_rpc_msg of fixed
 * size, the rest is walked past, so a 200 KiB tools/list answer costs
 * what a short one does. With content on, a request's params.arguments
 * and a result's text parts are kept too, cut at content_max.
 *
 * The framing decoder (struct sp_jsonrpc, one per direction) takes each
 * message's sp_rpc_msg from the stream's blocks when its line starts and
 * hands it to its callback when the line ends; after a hole it skips to
 * the next newline (the message cut by the hole is lost, counted).
 * The walker itself (jwalk and its yajl handle) lives in a block taken at
 * the first message and kept: no allocation per message.
 */
#ifndef SP_JSONRPC_H
#define SP_JSONRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sp_blocks;
struct jwalk;

#define SP_RPC_METHOD_MAX	64
#define SP_RPC_ID_MAX		64
#define SP_RPC_NAME_MAX		128
#define SP_RPC_URI_MAX		512
#define SP_RPC_TP_MAX		64	/* traceparent: 55 chars */
#define SP_RPC_TS_MAX		256	/* tracestate */
#define SP_RPC_VER_MAX		32
#define SP_RPC_ERRMSG_MAX	256
#define SP_RPC_SESSION_MAX	128

/* What is kept of one message; strings NUL-terminated, "" when absent,
 * cut (at a UTF-8 boundary) past their bound. */
struct sp_rpc_msg {
	struct sp_rpc_msg *next;	/* the pairing stage's list link */
	size_t blk_cap;			/* the block it lives in (sp_blocks) */
	uint64_t start_ns, end_ns;	/* first and last byte (CLOCK_MONOTONIC) */
	uint8_t dir;			/* SP_DIR_*: who wrote it */
	bool has_id, id_is_str;
	bool has_result, has_error;
	bool is_error;			/* result.isError: true */
	bool has_code;
	bool batch;			/* one of the messages of a batch (array) */
	bool content_cut;
	char jsonrpc[8];		/* "2.0" */
	char method[SP_RPC_METHOD_MAX];
	char id[SP_RPC_ID_MAX];		/* the id's text: "7", "abc" */
	char name[SP_RPC_NAME_MAX];	/* params.name: tool or prompt */
	char uri[SP_RPC_URI_MAX];	/* params.uri: resource */
	char version[SP_RPC_VER_MAX];	/* params/result.protocolVersion */
	char traceparent[SP_RPC_TP_MAX];	/* params._meta.traceparent */
	char tracestate[SP_RPC_TS_MAX];
	char cancel_id[SP_RPC_ID_MAX];	/* notifications/cancelled: params.requestId */
	int64_t code;			/* error.code */
	char err_msg[SP_RPC_ERRMSG_MAX];	/* error.message */
	/* content (only when asked): requests: params.arguments as JSON,
	 * credentials redacted; responses: the text parts of result.content
	 * joined by "\n". Owned block, content_cap bytes. */
	char *content;
	uint32_t content_len;
	size_t content_cap;
};

enum sp_rpc_kind {
	SP_RPC_INVALID = 0,	/* not a JSON-RPC 2.0 message */
	SP_RPC_REQUEST,		/* method and id */
	SP_RPC_NOTIFICATION,	/* method, no id */
	SP_RPC_RESPONSE,	/* id and result or error */
};

enum sp_rpc_kind sp_rpc_msg_kind(const struct sp_rpc_msg *m);
/* Do two messages carry the same id (a request and its response)? */
bool sp_rpc_same_id(const struct sp_rpc_msg *a, const struct sp_rpc_msg *b);

/* What to keep beyond the span's fields. */
struct sp_rpc_opts {
	bool content;
	uint32_t content_max;
};

/* Walking one message into m (the HTTP body consumer uses this with a
 * jwalk of its own; the framing decoder below does it for each line).
 * blocks: where content blocks come from (NULL: malloc, freed by
 * sp_rpc_msg_release). */
void sp_rpc_msg_value(struct sp_rpc_msg *m, const struct sp_rpc_opts *o, struct sp_blocks *b,
		      const struct jwalk *w, const char *path, int type, const char *s,
		      size_t len);
/* A map or array starts at path: is it to be captured as JSON text? (It
 * also marks an empty result {} or error as there: they have no values.) */
bool sp_rpc_msg_want_raw(struct sp_rpc_msg *m, const struct sp_rpc_opts *o, const char *path);
void sp_rpc_msg_raw(struct sp_rpc_msg *m, const struct sp_rpc_opts *o, struct sp_blocks *b,
		    const char *path, const char *json, size_t len);
/* Gives back m's content block (m itself is the caller's). */
void sp_rpc_msg_release(struct sp_rpc_msg *m, struct sp_blocks *b);

/* Copies JSON text to out (cap bytes, NUL-terminated), the string value
 * of every key that names a credential ("api_key", "token", "password",
 * "authorization", ...) replaced by "REDACTED". Returns the length. */
size_t sp_rpc_redact_json(const char *json, size_t len, char *out, size_t cap);

/* ---- newline-delimited framing ---- */

struct sp_jsonrpc;
/* A message ended (its line did). m is owned by the callee: it gives it
 * back with sp_jsonrpc__put (or keeps it, e.g. a request awaiting its
 * response). */
typedef void (*sp_jsonrpc_fn)(void *ctx, struct sp_jsonrpc *d, struct sp_rpc_msg *m);

struct sp_jsonrpc_stats {
	uint64_t messages;
	uint64_t malformed;	/* lines that were not a JSON-RPC 2.0 message */
	uint64_t lost;		/* messages cut by a hole, or by the stream's end */
	uint64_t no_memory;	/* messages not decoded: the budget refused */
};

struct rpc_walk;	/* jsonrpc.c's: the walker and the message being read */

struct sp_jsonrpc {
	uint8_t dir;
	bool in_line;		/* bytes of a line seen since the last newline */
	bool skipping;		/* to the next newline: after a hole, or a bad line */
	struct rpc_walk *w;	/* a block of b, from the first message on */
	size_t w_cap;
	struct sp_blocks *b;
	const struct sp_rpc_opts *o;
	sp_jsonrpc_fn fn;
	void *ctx;
	struct sp_jsonrpc_stats *stats;	/* shared by both directions */
};

/* o and stats outlive d. */
void sp_jsonrpc__init(struct sp_jsonrpc *d, uint8_t dir, struct sp_blocks *b,
		      const struct sp_rpc_opts *o, struct sp_jsonrpc_stats *stats,
		      sp_jsonrpc_fn fn, void *ctx);
/* 0, or -EPROTO when a line in buf was not JSON-RPC (it is skipped). */
int sp_jsonrpc__feed(struct sp_jsonrpc *d, const char *buf, size_t len, uint64_t ts_first,
		     uint64_t ts_last);
/* Bytes were not captured: the message being read is lost, and what
 * follows is skipped up to the next newline. */
void sp_jsonrpc__gap(struct sp_jsonrpc *d);
/* The direction ended: a last line without its newline is a message if
 * it is whole JSON; else it is lost. */
void sp_jsonrpc__eof(struct sp_jsonrpc *d, uint64_t ts);
bool sp_jsonrpc__busy(const struct sp_jsonrpc *d);
/* Gives a message from the callback back to the blocks. */
void sp_jsonrpc__put(struct sp_jsonrpc *d, struct sp_rpc_msg *m);
void sp_jsonrpc__fini(struct sp_jsonrpc *d);

/* Newline-delimited JSON-RPC 2.0: optional whitespace, then '{' with
 * "jsonrpc", "2.0" and "method" (a request or notification) in the first
 * bytes, and the line's newline in them unless they are a full chunk
 * (not LSP's Content-Length framing, not JSON logs, not a JSON body met
 * mid-stream on a socket). *role: the traced process is the server when
 * it read that message (INGRESS), the client when it wrote it. */
bool sp_jsonrpc_sniff(const uint8_t *buf, size_t len, uint8_t dir, uint8_t *role);

#endif
