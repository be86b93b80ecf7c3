/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Body consumers: semantics that need an exchange's bodies (the LLM
 * decoder now; MCP over HTTP and others next) subscribe to them instead of
 * living in the stream layer. At a request's head the pairing stage asks
 * each consumer, in the order of semantics/body_subs.c, whether the
 * request is for it; the first that says yes gets that exchange's bodies
 * as they arrive and, once it is done, makes a span of its own under the
 * exchange's span. Protocol-neutral: HTTP/1 and HTTP/2 heads look the same
 * through struct sp_head_view.
 */
#ifndef SP_BODY_SUB_H
#define SP_BODY_SUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "semantics/llm.h"

struct sp_span;

/* A message head as consumers see it; strings borrowed for the call. */
struct sp_head_view {
	const char *method;		/* requests: "POST" */
	const char *target;		/* requests: as sent, not redacted */
	size_t target_len;
	uint16_t status;		/* responses */
	/* the first header called name (case-insensitive), or NULL */
	const char *(*header)(const void *msg, const char *name, size_t *len);
	const void *msg;
};

/*
 * What an agent needs of one model call: the tool calls the response asks
 * for, and the tool results the request sends back (which close the tool
 * windows of earlier calls). Protocol- and provider-neutral; strings are
 * borrowed from the consumer's state until it is freed.
 */
#define SP_TOOLS_MAX 16
struct sp_tool_ref {
	const char *id;		/* call id ("" if the API gives none) */
	const char *name;	/* tool name ("" if the result does not say) */
	const char *args;	/* calls: the arguments as JSON text (maybe cut),
				 * NULL for results */
	uint32_t args_len;
	bool args_cut;
	bool is_error;		/* results: the API marks the result an error */
	uint64_t ts;		/* calls: when the call was seen (CLOCK_MONOTONIC) */
};

struct sp_tool_view {
	struct sp_tool_ref calls[SP_TOOLS_MAX];		/* the response asks for these */
	int ncalls;
	struct sp_tool_ref results[SP_TOOLS_MAX];	/* the request answers these */
	int nresults;
	/* the request's last input message is the user's own (not a tool
	 * result): a new turn of the conversation starts here */
	bool last_is_user;
	uint32_t messages;	/* input messages the request carries */
	/* names the conversation across turns (a hash of its system prompt
	 * and first user message), 0 if unknown */
	uint64_t conversation;
};

/* Which consumers run, and how (from the CLI). */
struct sp_sem_opts {
	bool llm;			/* decode LLM API calls */
	struct sp_llm_opts llm_opts;
};

struct sp_body_sub {
	const char *name;
	/* its calls are model calls: the process making them is an agent */
	bool model_calls;
	/* The consumer's state for this request, or NULL if it is not one
	 * of its own (or memory ran out). */
	void *(*open)(const struct sp_sem_opts *o, const struct sp_head_view *req);
	void (*request_body)(void *st, const char *buf, size_t len, uint64_t ts);
	void (*response_head)(void *st, const struct sp_head_view *resp);
	void (*response_body)(void *st, const char *buf, size_t len, uint64_t ts);
	/* After the exchange: is there a span to make (nothing is guessed)? */
	bool (*is_call)(void *st);
	void (*span_name)(void *st, char *out, size_t cap);
	/* Fills the consumer's span (a child of the exchange's span). */
	void (*fill)(void *st, struct sp_span *s);
	/* Tool calls and results of the call, after the exchange (NULL: the
	 * consumer has none). Fills *out; borrowed strings (above). */
	void (*tools)(void *st, struct sp_tool_view *out);
	void (*free)(void *st);
};

/* The consumer whose open() takes req, and its state in *st; NULL if none. */
const struct sp_body_sub *sp_body_sub_open(const struct sp_sem_opts *o,
					   const struct sp_head_view *req, void **st);

#endif
