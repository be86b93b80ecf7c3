/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * An incremental JSON walker over yajl: bytes go in as they arrive, and
 * every scalar comes out with its path ("choices[].delta.content") and the
 * indexes of the arrays on the way. Several values in a row (NDJSON, SSE
 * data lines) are one stream. A subtree can be asked for as JSON text
 * (tool-call arguments that are objects). Memory is bounded: paths deeper
 * than JW_MAX_DEPTH, or longer than JW_PATH_MAX, are walked but not
 * reported. Each reported path comes with its hash (jw_hash), so a caller
 * can find it in a table with one probe instead of a string compare per
 * known path.
 *
 * A body cut short, or bytes that are not JSON, stop the walk; what was
 * reported until then stands.
 */
#ifndef SP_JWALK_H
#define SP_JWALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#define JW_MAX_DEPTH	16
#define JW_KEY_MAX	40
#define JW_RAW_MAX	8192	/* captured subtree text at most */
#define JW_PATH_MAX	256	/* a path, with its NUL */

enum jw_type {
	JW_STR = 1,
	JW_NUM,		/* s/len is the number's text */
	JW_BOOL,	/* s is "true" or "false" */
	JW_NULL,
};

struct jwalk;

/* A scalar at path; s/len borrowed for the call. */
typedef void (*jw_value_fn)(void *ctx, struct jwalk *w, const char *path, int type,
			    const char *s, size_t len);
/* A top-level value ended (one record of a stream). */
typedef void (*jw_record_fn)(void *ctx, struct jwalk *w);
/* Should the map or array starting at path be captured as JSON text? */
typedef bool (*jw_want_raw_fn)(void *ctx, const char *path);
/* The captured text of that subtree. */
typedef void (*jw_raw_fn)(void *ctx, struct jwalk *w, const char *path, const char *json,
			  size_t len);

struct jw_frame {
	bool is_array;
	int32_t index;		/* arrays: the current element */
	uint8_t klen;
	char key[JW_KEY_MAX];	/* maps: the current key */
};

struct jwalk {
	yajl_handle h;
	bool failed;
	int depth;
	struct jw_frame st[JW_MAX_DEPTH];
	jw_value_fn on_value;
	jw_record_fn on_record;
	jw_want_raw_fn want_raw;
	jw_raw_fn on_raw;
	void *ctx;
	/* jw_hash of the path of the current callback (value, want_raw, raw) */
	uint32_t hash;
	/* a top-level array is a stream of records (jw_array_stream) */
	bool array_stream, top_array;
	/* subtree capture */
	yajl_gen raw;
	int raw_depth;		/* depth at which the capture began */
	uint32_t raw_hash;
	char raw_path[JW_PATH_MAX];
	uint64_t records;
};

/* 0, or -ENOMEM. */
int jw_init(struct jwalk *w, jw_value_fn on_value, jw_record_fn on_record,
	    jw_want_raw_fn want_raw, jw_raw_fn on_raw, void *ctx);
void jw_free(struct jwalk *w);
/* Feeds bytes; false once the input stopped being JSON. */
bool jw_feed(struct jwalk *w, const char *buf, size_t len);
/* Ends the stream (a last number with no delimiter gets reported). */
void jw_finish(struct jwalk *w);
/* From now on, a top-level array is read as a stream of values: each
 * element is a record of its own, reported without the "[]." in front,
 * and jw_index does not count that array (a Gemini stream without
 * alt=sse is one JSON array of responses). */
void jw_array_stream(struct jwalk *w);
/* FNV-1a of s[0, n): the hash that comes with each path. */
uint32_t jw_hash(const char *s, size_t n);
/* Index of the n-th array on the path, counted from the top (0 = the
 * outermost), or -1. */
int jw_index(const struct jwalk *w, int n);

#endif
