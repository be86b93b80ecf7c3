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
	/* Input items, messages or parts of them, that are tool calls (the
	 * model's, echoed back) or tool results: */
	LF_IN_TYPE,		/* str: the item's "type", which says which */
	LF_IN_CALL_ID,		/* str: the call id (a call's, or the one a result answers) */
	LF_IN_CALL_NAME,	/* str: the tool */
	LF_IN_CALL_NS,		/* str: its namespace */
	LF_CALL_ID,		/* str: a call's id, */
	LF_CALL_NAME,		/* str: ... and tool: the path says it is a call */
	LF_RESULT_ID,		/* str: a result's call id, */
	LF_RESULT_NAME,		/* str: ... and tool: the path says it is a result */
	LF_RESULT_ERROR,	/* bool: the API marks the result an error */
	LF_RESULT_ERROR_ANY,	/* any: its presence marks the result an error */
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
	LF_OUT_MARK,		/* str: output not kept (reasoning): only its time */
	LF_TOOL_ID,		/* str */
	LF_TOOL_NAME,		/* str */
	LF_TOOL_NS,		/* str: the namespace of the tool (Codex: "mcp__{server}") */
	LF_TOOL_TYPE,		/* str: the block's or item's type: the provider's own
				 * tools (web search, MCP connectors) run on its side */
	LF_TOOL_ARGS,		/* str: (a piece of) the arguments */
	LF_TOOL_ARGS_FULL,	/* str: all of the arguments, again (replaces the pieces) */
	LF_TOOL_ARGS_JSON,	/* an object or array: the arguments as JSON text */
};

/* Which tool call a LF_TOOL_* value belongs to (and which tool result
 * a LF_RESULT_* one). */
enum llm_tool_key {
	LK_ARRAY0,		/* the element of the outermost array on the path */
	LK_ARRAY1,		/* of the second array */
	LK_ARRAY01,		/* of the outermost and the second array (a part of a message) */
	LK_DELTA,		/* the last LF_TOOL_INDEX */
	LK_RECORD,		/* the record's LF_REC_INDEX */
	LK_RECORD_ARRAY0,	/* the record, and the element of the outermost array */
	LK_RECORD_ARRAY1,	/* the record, and the element of the second array */
};

struct llm_path {
	const char *path;
	uint8_t field;		/* enum llm_field */
	uint8_t key;		/* enum llm_tool_key, for LF_TOOL_* */
	const char *when;	/* only in stream records of this "type" (a path
				 * may be listed once for each) */
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

/* The entry for path in records of type rec (NULL: outside a stream
 * record, or any), or NULL. */
static inline const struct llm_path *llm_find_in(const struct llm_index *ix, uint32_t hash,
						 const char *path, const char *rec)
{
	for (unsigned i = hash & (LLM_SLOTS - 1); ix->e[i]; i = (i + 1) & (LLM_SLOTS - 1)) {
		const struct llm_path *e = ix->e[i];

		if (ix->hash[i] == hash && !strcmp(e->path, path) &&
		    (!rec || !e->when || !strcmp(e->when, rec)))
			return e;
	}
	return NULL;
}

static inline const struct llm_path *llm_find(const struct llm_index *ix, uint32_t hash,
					      const char *path)
{
	return llm_find_in(ix, hash, path, NULL);
}

/* ---- one call (llm.c) ---- */

/* A bounded text: up to cap bytes kept, the rest counted as cut. */
struct llm_text {
	char *buf;
	uint32_t len;
	bool cut;
};

#define LLM_ID_MAX	96
#define LLM_NAME_MAX	96
#define LLM_NS_MAX	64
/* "{namespace}__{name}" */
#define LLM_FULL_NAME_MAX	(LLM_NS_MAX + 2 + LLM_NAME_MAX)

enum llm_msg_tool { LM_TEXT, LM_TOOL_CALL, LM_TOOL_RESULT };

struct llm_msg {
	char role[16];
	int key;		/* which JSON element it came from */
	/* the message is one tool call or result (Responses items, Chat and
	 * Ollama "tool" messages): its content is the call's arguments, or
	 * the result, not text */
	uint8_t tool;		/* enum llm_msg_tool */
	bool text;		/* it had text */
	/* FNV-1a of all its text, content recorded or not: what names a
	 * conversation (sp_tool_view.conversation) */
	uint64_t text_hash;
	struct llm_text content;
};

/* A tool call or result in an input message (the message itself, or a
 * part of it: Anthropic tool_use and tool_result blocks, Gemini parts,
 * Chat tool_calls). */
struct llm_part {
	int msg;		/* the key of its message */
	uint8_t kind;		/* LM_TOOL_CALL, LM_TOOL_RESULT */
	char id[LLM_ID_MAX];
	char name[LLM_FULL_NAME_MAX];
};

#define LLM_MAX_PARTS	24	/* in the input messages kept */

struct llm_tool {
	int key;
	char id[LLM_ID_MAX];
	/* as the API names it; from llm_finish on "{ns}__{name}", the
	 * API's name at name + bare */
	char name[LLM_FULL_NAME_MAX];
	uint8_t bare;
	char ns[LLM_NS_MAX];		/* its namespace, if any */
	bool server;			/* the provider runs it: no result comes back */
	struct llm_text args;
	uint64_t ts;
};

/* A tool result the request sends back. */
struct llm_result {
	int key;
	char id[LLM_ID_MAX];
	char name[LLM_NAME_MAX];
	bool is_error;
};

#define LLM_MAX_RESULTS	16	/* the last ones kept: the older are answered already */

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
	/* the tool call or result the request is in (an item, a message or
	 * a part of one), kept whole until the next begins: its fields come
	 * in any order */
	struct {
		int key;	/* -1: none */
		int msg;	/* the message it is in */
		uint8_t kind;	/* enum llm_msg_tool */
		bool is_error;
		char id[LLM_ID_MAX], name[LLM_NAME_MAX], ns[LLM_NS_MAX];
	} item;
	struct llm_part *parts;	/* LLM_MAX_PARTS, owned; made for the first */
	int nparts, parts_dropped;
	struct llm_result results[LLM_MAX_RESULTS];	/* a ring: the oldest at results_at */
	int nresults, results_at, results_dropped;
	/* the last input message, however many there are */
	int last_key;
	int8_t last_role;	/* -1: not said, 1: user, 0: another */
	bool last_typed;	/* an item of another type than "message" */
	bool last_result, last_other;	/* it holds a tool result, other content */

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
/* After llm_finish: the request's last input message is the user's own. */
bool llm_last_is_user(const struct sp_llm *l);
uint64_t llm_conversation(const struct sp_llm *l);

#endif
