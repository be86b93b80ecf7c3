// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "decode/jwalk.h"

static struct jwalk *W(void *ctx)
{
	return ctx;
}

uint32_t jw_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

/* The path of the value about to be reported: keys joined by '.', array
 * elements as "[]"; its hash in w->hash. False if it does not fit. */
static bool path_of(struct jwalk *w, char *out, size_t cap)
{
	size_t at = 0;

	for (int i = w->top_array; i < w->depth && i < JW_MAX_DEPTH; i++) {
		const struct jw_frame *f = &w->st[i];
		const char *p = f->is_array ? "[]" : f->key;
		size_t n = f->is_array ? 2 : f->klen;
		bool dot = !f->is_array && at;

		if (at + dot + n >= cap)
			return false;
		if (dot)
			out[at++] = '.';
		memcpy(out + at, p, n);
		at += n;
	}
	out[at] = 0;
	w->hash = jw_hash(out, at);
	return true;
}

/* A value (scalar or container start) is about to be placed in the
 * current container: arrays count their elements. */
static void next_element(struct jwalk *w)
{
	if (w->depth > 0 && w->depth <= JW_MAX_DEPTH && w->st[w->depth - 1].is_array)
		w->st[w->depth - 1].index++;
}

static void end_value(struct jwalk *w)
{
	if (w->depth == (w->top_array ? 1 : 0)) {
		w->records++;
		if (w->on_record)
			w->on_record(w->ctx, w);
	}
}

static int scalar(struct jwalk *w, int type, const char *s, size_t len)
{
	char path[JW_PATH_MAX];

	if (w->raw) {
		switch (type) {
		case JW_STR:
			yajl_gen_string(w->raw, (const unsigned char *)s, len);
			break;
		case JW_NUM:
			yajl_gen_number(w->raw, s, len);
			break;
		case JW_BOOL:
			yajl_gen_bool(w->raw, s[0] == 't');
			break;
		default:
			yajl_gen_null(w->raw);
		}
		return 1;
	}
	next_element(w);
	if (w->depth <= JW_MAX_DEPTH && path_of(w, path, sizeof(path)))
		w->on_value(w->ctx, w, path, type, s, len);
	end_value(w);
	return 1;
}

static int cb_null(void *ctx)
{
	return scalar(W(ctx), JW_NULL, "null", 4);
}

static int cb_bool(void *ctx, int b)
{
	return scalar(W(ctx), JW_BOOL, b ? "true" : "false", b ? 4 : 5);
}

static int cb_number(void *ctx, const char *s, size_t len)
{
	return scalar(W(ctx), JW_NUM, s, len);
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
	return scalar(W(ctx), JW_STR, (const char *)s, len);
}

static int open_container(struct jwalk *w, bool is_array)
{
	if (w->raw) {
		if (is_array)
			yajl_gen_array_open(w->raw);
		else
			yajl_gen_map_open(w->raw);
		w->depth++;
		return 1;
	}
	next_element(w);
	if (w->array_stream && w->depth == 0 && is_array)
		w->top_array = true;
	else if (w->want_raw && w->depth <= JW_MAX_DEPTH) {
		char path[JW_PATH_MAX];

		if (path_of(w, path, sizeof(path)) && w->want_raw(w->ctx, path)) {
			w->raw = yajl_gen_alloc(NULL);
			if (w->raw) {
				memcpy(w->raw_path, path, sizeof(path));
				w->raw_hash = w->hash;
				w->raw_depth = w->depth;
				w->depth++;
				if (is_array)
					yajl_gen_array_open(w->raw);
				else
					yajl_gen_map_open(w->raw);
				return 1;
			}
		}
	}
	if (w->depth < JW_MAX_DEPTH) {
		w->st[w->depth].is_array = is_array;
		w->st[w->depth].index = -1;
		w->st[w->depth].key[0] = 0;
		w->st[w->depth].klen = 0;
	}
	w->depth++;
	return 1;
}

static int close_container(struct jwalk *w, bool is_array)
{
	w->depth--;
	if (w->raw) {
		if (is_array)
			yajl_gen_array_close(w->raw);
		else
			yajl_gen_map_close(w->raw);
		if (w->depth == w->raw_depth) {
			const unsigned char *buf;
			size_t len;

			w->hash = w->raw_hash;
			if (yajl_gen_get_buf(w->raw, &buf, &len) == yajl_gen_status_ok && w->on_raw)
				w->on_raw(w->ctx, w, w->raw_path, (const char *)buf,
					  len < JW_RAW_MAX ? len : JW_RAW_MAX);
			yajl_gen_free(w->raw);
			w->raw = NULL;
			end_value(w);
		}
		return 1;
	}
	end_value(w);
	if (w->depth == 0)
		w->top_array = false;
	return 1;
}

static int cb_start_map(void *ctx)
{
	return open_container(W(ctx), false);
}

static int cb_end_map(void *ctx)
{
	return close_container(W(ctx), false);
}

static int cb_start_array(void *ctx)
{
	return open_container(W(ctx), true);
}

static int cb_end_array(void *ctx)
{
	return close_container(W(ctx), true);
}

static int cb_map_key(void *ctx, const unsigned char *key, size_t len)
{
	struct jwalk *w = W(ctx);

	if (w->raw) {
		yajl_gen_string(w->raw, key, len);
		return 1;
	}
	if (w->depth > 0 && w->depth <= JW_MAX_DEPTH) {
		struct jw_frame *f = &w->st[w->depth - 1];

		if (len >= sizeof(f->key))
			len = sizeof(f->key) - 1;
		memcpy(f->key, key, len);
		f->key[len] = 0;
		f->klen = len;
	}
	return 1;
}

static const yajl_callbacks callbacks = {
	.yajl_null = cb_null,
	.yajl_boolean = cb_bool,
	.yajl_number = cb_number,
	.yajl_string = cb_string,
	.yajl_start_map = cb_start_map,
	.yajl_map_key = cb_map_key,
	.yajl_end_map = cb_end_map,
	.yajl_start_array = cb_start_array,
	.yajl_end_array = cb_end_array,
};

int jw_init(struct jwalk *w, jw_value_fn on_value, jw_record_fn on_record,
	    jw_want_raw_fn want_raw, jw_raw_fn on_raw, void *ctx)
{
	memset(w, 0, sizeof(*w));
	w->on_value = on_value;
	w->on_record = on_record;
	w->want_raw = want_raw;
	w->on_raw = on_raw;
	w->ctx = ctx;
	w->h = yajl_alloc(&callbacks, NULL, w);
	if (!w->h)
		return -ENOMEM;
	/* NDJSON and SSE data lines: value after value */
	yajl_config(w->h, yajl_allow_multiple_values, 1);
	/* a body cut at the capture cap still yields what it holds */
	yajl_config(w->h, yajl_allow_partial_values, 1);
	return 0;
}

void jw_free(struct jwalk *w)
{
	if (w->raw)
		yajl_gen_free(w->raw);
	if (w->h)
		yajl_free(w->h);
	w->raw = NULL;
	w->h = NULL;
}

bool jw_feed(struct jwalk *w, const char *buf, size_t len)
{
	if (w->failed || !w->h)
		return false;
	if (yajl_parse(w->h, (const unsigned char *)buf, len) != yajl_status_ok)
		w->failed = true;
	return !w->failed;
}

void jw_finish(struct jwalk *w)
{
	if (!w->failed && w->h)
		yajl_complete_parse(w->h);
}

void jw_array_stream(struct jwalk *w)
{
	w->array_stream = true;
}

int jw_index(const struct jwalk *w, int n)
{
	for (int i = w->top_array; i < w->depth && i < JW_MAX_DEPTH; i++)
		if (w->st[i].is_array && n-- == 0)
			return w->st[i].index;
	return -1;
}
