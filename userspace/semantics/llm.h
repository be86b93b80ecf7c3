/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * LLM calls, understood from the bytes on the wire: which API (by method,
 * path and body shape, never by host alone), model, parameters, messages,
 * usage, finish reasons, tool calls, time to first chunk, provider errors,
 * cost. Fed the request and response bodies of one HTTP exchange as they
 * arrive (decompressing gzip/deflate/br/zstd, reading SSE and NDJSON
 * streams incrementally), so a 2 MiB stream of 10,000 chunks costs no more
 * memory than a short answer, and a body cut short yields what it holds.
 *
 * Files: llm_api.c (routing, the provider registry), llm_<provider>.c (one
 * table of JSON paths per API), llm.c (walking the bodies), llm_span.c
 * (the attributes).
 */
#ifndef SP_LLM_H
#define SP_LLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "model/span.h"

enum sp_llm_api {
	SP_LLM_NONE = 0,
	SP_LLM_OPENAI_CHAT,		/* /v1/chat/completions */
	SP_LLM_OPENAI_COMPLETIONS,	/* /v1/completions */
	SP_LLM_OPENAI_EMBEDDINGS,	/* /v1/embeddings */
	SP_LLM_OPENAI_RESPONSES,	/* /v1/responses */
	SP_LLM_ANTHROPIC_MESSAGES,	/* /v1/messages */
	SP_LLM_GEMINI_GENERATE,		/* :generateContent */
	SP_LLM_GEMINI_STREAM,		/* :streamGenerateContent */
	SP_LLM_GEMINI_EMBED,		/* :embedContent */
	SP_LLM_OLLAMA_CHAT,		/* /api/chat */
	SP_LLM_OLLAMA_GENERATE,		/* /api/generate */
	SP_LLM_OLLAMA_EMBED,		/* /api/embed, /api/embeddings */
	/* APIs registered after these (llm_internal.h) get the values that
	 * follow, in LLM_PROVIDERS order */
};

struct sp_llm_opts {
	bool content;		/* record prompts and completions */
	uint32_t content_max;	/* bytes per message (and for input/output.value) */
};

/* Indexes the providers' tables; done on first use if not called (not
 * thread-safe: call it before decoding threads start, or let one thread
 * make the first use). 0, or -errno after a one-line error (a table is
 * wrong: no LLM decoding). */
int sp_llm_init(void);
/* Forgets the index (the next use builds it again): for fuzzers that run
 * the pipeline in-process again and again. No sp_llm may be live. */
void sp_llm_reset(void);

/* The API a request is for (POST + path; absolute-form targets too), or
 * SP_LLM_NONE. For Gemini the model is in the path, for Azure OpenAI the
 * deployment: copied to model (cap bytes). */
enum sp_llm_api sp_llm_api_of(const char *method, const char *target, char *model, size_t cap);

struct sp_llm;
struct sp_tool_view;

/* Owned: free with sp_llm__free. NULL with errno ENOMEM, or EINVAL for an
 * api sp_llm_api_of does not return. host: the Host header (for the
 * provider). */
struct sp_llm *sp_llm__new(enum sp_llm_api api, const char *host, const char *path_model,
			   const struct sp_llm_opts *o);
void sp_llm__free(struct sp_llm *l);
void sp_llm__request_body(struct sp_llm *l, const char *buf, size_t len);
/* The response head: status and the headers the decoder needs (views,
 * NULL when absent). */
void sp_llm__response_head(struct sp_llm *l, uint16_t status, const char *ctype, size_t ctype_len,
			   const char *cenc, size_t cenc_len, const char *retry_after,
			   size_t ra_len);
/* Response body bytes (after dechunking); ts: when they arrived
 * (CLOCK_MONOTONIC). */
void sp_llm__response_body(struct sp_llm *l, const char *buf, size_t len, uint64_t ts);
/* After the exchange: was it an LLM call (the request body had the API's
 * shape)? If not, no LLM span: nothing is guessed. */
bool sp_llm__is_llm(struct sp_llm *l);
/* "chat gpt-4o-mini" */
void sp_llm__span_name(struct sp_llm *l, char *out, size_t cap);
/* Sets the GenAI and OpenInference attributes, events and status. */
void sp_llm__fill(struct sp_llm *l, struct sp_span *s);
/* After the exchange: the tool calls of the response (names with their
 * namespace: "mcp__filesystem__list_directory") and the tool results of
 * the request (the last SP_TOOLS_MAX: older ones were answered by earlier
 * calls), into *out (semantics/body_sub.h). Strings borrowed from l until
 * sp_llm__free. */
void sp_llm__tools(struct sp_llm *l, struct sp_tool_view *out);

#endif
