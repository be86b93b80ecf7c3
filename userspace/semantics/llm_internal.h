/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Private to the LLM decoder (llm*.c). One file per provider holds tables:
 * which request paths it routes to which API, and which JSON paths (as
 * jwalk reports them, "choices[].delta.content") fill which field of the
 * call, request and response, streamed or not. llm_api.c indexes every
 * table by path hash once (sp_llm_init), so a JSON value costs one probe
 * and, when it is known, one compare. llm.c walks the bodies and fills
 * struct sp_llm; llm_span.c turns it into attributes.
 *
 * Adding a provider: a file like llm_ollama.c, and its name in
 * LLM_PROVIDERS below.
 */
#ifndef SP_LLM_INTERNAL_H
#define SP_LLM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "decode/content.h"
#include "decode/jwalk.h"
#include "decode/sse.h"
#include "semantics/llm.h"

#define LLM_PROVIDERS(X) X(openai) X(anthropic) X(gemini) X(ollama)

#define LLM_MAX_MSGS		16	/* input messages kept (the rest counted) */
#define LLM_MAX_TOOLS		16	/* tool calls kept */
#define LLM_MAX_FINISH		8
#define LLM_TOOL_ARGS_MAX	4096
#define LLM_SSE_LINE_MAX	(1u << 20)	/* one SSE or NDJSON line */

/* What a JSON value fills. The type it must have is the field's. */
enum llm_field {
	LF_NONE,
	/* request */
	LF_MODEL,		/* str */
	LF_MAX_TOKENS,		/* num */
	LF_TEMPERATURE,		/* num */
	LF_TOP_P,		/* num */
	LF_STREAM,		/* bool */
	LF_IN_ROLE,		/* str: the role of input message [i] */
	LF_IN_TEXT,		/* str: (part of) the text of input message [i] */
	LF_SYSTEM,		/* str: system text, a message of its own */
	LF_PROMPT,		/* str: a prompt or input without messages */
	/* response */
	LF_REC_TYPE,		/* str: the "type" of a stream record */
	LF_REC_INDEX,		/* num: the "index" of a stream record */
	LF_ID,			/* str: the last one wins */
	LF_ID_FIRST,		/* str: the first one wins */
	LF_RESP_MODEL,		/* str */
	LF_ERR_TYPE,		/* str */
	LF_ERR_MSG,		/* str */
	LF_ERR_CODE,		/* str: the error type if none is given */
	LF_IN_TOKENS,		/* num; usage: the last value wins (streams repeat it) */
	LF_OUT_TOKENS,
	LF_TOTAL_TOKENS,
	LF_CACHE_READ,
	LF_CACHE_WRITE,
	LF_REASONING,
	LF_TOOL_INDEX,		/* num: the tool call the next stream deltas are for */
	LF_FINISH,		/* str */
	LF_STATUS,		/* str: a finish reason unless still in progress */
	LF_OUT_ROLE,		/* str */
	LF_OUT_TEXT,		/* str: generated text */
	LF_TOOL_ID,		/* str */
	LF_TOOL_NAME,		/* str */
	LF_TOOL_ARGS,		/* str: (a piece of) the arguments */
	LF_TOOL_ARGS_JSON,	/* an object or array: the arguments as JSON text */
};

/* Which tool call a LF_TOOL_* value belongs to. */
enum llm_tool_key {
	LK_ARRAY0,		/* the element of the outermost array on the path */
	LK_ARRAY1,		/* of the second array */
	LK_DELTA,		/* the last LF_TOOL_INDEX */
	LK_RECORD,		/* the record's LF_REC_INDEX */
	LK_RECORD_ARRAY0,	/* the record, and the element of the outermost array */
	LK_RECORD_ARRAY1,	/* the record, and the element of the second array */
};

struct llm_path {
	const char *path;
	uint8_t field;		/* enum llm_field */
	uint8_t key;		/* enum llm_tool_key, for LF_TOOL_* */
	const char *when;	/* only in stream records of this "type" */
};

struct llm_table {
	const struct llm_path *p;
	unsigned n;
};

#define LLM_TABLE(a) { a, sizeof(a) / sizeof((a)[0]) }

enum llm_route_kind {
	LR_SUFFIX = 1,		/* the path ends with s (the longest match wins) */
	LR_DEPLOYMENT_SUFFIX,	/* ... and has an Azure "/deployments/{d}" */
	LR_MODEL_VERB,		/* ".../models/{model}:s" (Gemini) */
};

struct llm_route {
	uint8_t kind;		/* enum llm_route_kind */
	const char *s;
};

#define LLM_MAX_ROUTES	4
#define LLM_MAX_TABLES	3

struct llm_api {
	enum sp_llm_api id;	/* its name in llm.h, if it has one; else 0 */
	const char *name;	/* for messages */
	const char *operation;	/* gen_ai.operation.name */
	bool embedding;
	bool stream_default;	/* streams unless the request says otherwise */
	bool stream_body;	/* its body is a stream whatever the content type */
	struct llm_route routes[LLM_MAX_ROUTES];
	struct llm_table req[LLM_MAX_TABLES], resp[LLM_MAX_TABLES];
};

struct llm_provider {
	const char *otel, *oi;	/* gen_ai.provider.name, llm.provider: by API shape */
	const struct llm_api *apis;
	unsigned napis;
};

#define LLM_DECLARE(name) extern const struct llm_provider llm_##name;
LLM_PROVIDERS(LLM_DECLARE)
#undef LLM_DECLARE

/* ---- the registry (llm_api.c) ---- */

#define LLM_SLOTS	128	/* per API and direction: at most half used */

/* Open addressing by path hash. */
struct llm_index {
	uint32_t hash[LLM_SLOTS];
	const struct llm_path *e[LLM_SLOTS];
};

struct llm_reg {
	const struct llm_api *api;
	const struct llm_provider *prov;
	struct llm_index req, resp;
};

/* The registered API id, or NULL. Builds the registry on first use. */
const struct llm_reg *llm_reg_of(enum sp_llm_api id);

static inline const struct llm_path *llm_find(const struct llm_index *ix, uint32_t hash,
					      const char *path)
{
	for (unsigned i = hash & (LLM_SLOTS - 1); ix->e[i]; i = (i + 1) & (LLM_SLOTS - 1))
		if (ix->hash[i] == hash && !strcmp(ix->e[i]->path, path))
			return ix->e[i];
	return NULL;
}

/* ---- one call (llm.c) ---- */

/* A bounded text: up to cap bytes kept, the rest counted as cut. */
struct llm_text {
	char *buf;
	uint32_t len;
	bool cut;
};

struct llm_msg {
	char role[16];
	int key;		/* which JSON element it came from */
	struct llm_text content;
};

struct llm_tool {
	int key;
	char id[96];
	char name[96];
	struct llm_text args;
	uint64_t ts;
};

enum llm_body { LLM_BODY_JSON, LLM_BODY_SSE, LLM_BODY_NDJSON };

struct sp_llm {
	const struct llm_reg *reg;
	struct sp_llm_opts o;
	char host[128];
	bool finished;

	/* request */
	struct jwalk req;
	bool req_shape;		/* the body had the API's shape */
	char req_model[128];
	int64_t max_tokens;
	double temperature, top_p;
	bool has_max_tokens, has_temperature, has_top_p;
	int stream;		/* -1: not said */
	struct llm_msg in[LLM_MAX_MSGS];
	int nin, in_dropped, last_in_key;
	struct llm_text input_value;

	/* response */
	uint16_t status;
	enum llm_body kind;
	struct sp_content *dec;	/* NULL: a coding not decoded, the body is ignored */
	struct sp_sse *lines;	/* SSE and NDJSON bodies */
	struct jwalk resp;
	bool resp_init;
	uint64_t cur_ts;
	char rec_type[48];	/* "type" of the current stream record */
	int rec_index;		/* "index" of the current stream record */
	int cur_tool;		/* OpenAI stream: delta.tool_calls[].index */

	char resp_model[128], resp_id[128];
	char finish[LLM_MAX_FINISH][32];
	int nfinish;
	int64_t in_tok, out_tok, total_tok, cache_read, cache_write, reasoning;
	char out_role[16];
	struct llm_text out;
	struct llm_tool tools[LLM_MAX_TOOLS];
	int ntools, tools_dropped;
	uint64_t first_chunk_ts;
	char err_type[64], err_msg[256];
	char retry_after[32];
};

/* s[0, n) into dst as a string, cut to fit at a character boundary. */
void llm_copy(char *dst, size_t cap, const char *s, size_t n);
/* Ends both walks (a body cut short yields what it held); once. */
void llm_finish(struct sp_llm *l);

#endif
