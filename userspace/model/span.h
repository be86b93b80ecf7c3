/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The span model every stage agrees on: ids, name, kind, times, status,
 * typed attributes and events. A span is a small header that grows in
 * steps: its attributes and its events are arrays of a size class (8, 16,
 * 32, 64, 96 attributes; 2, 4, 16 events), moved up a class when full;
 * its strings live in a chain of text blocks (512 B, 2, 8, 16 KiB) where
 * a string, once written, never moves. The bounds are those of the old
 * fixed-size span: SP_SPAN_MAX_ATTRS attributes, SP_SPAN_MAX_EVENTS
 * events, SP_SPAN_ARENA bytes of text; what does not fit is cut and
 * counted in dropped_attrs/dropped_events, never grown past them.
 *
 * Blocks come from the span's pool (model/span_pool.h) or, for a span not
 * from a pool, from malloc.
 */
#ifndef SP_SPAN_H
#define SP_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "model/resource.h"
#include "util/utf8.h"

#define SP_SPAN_MAX_ATTRS	96
#define SP_SPAN_MAX_EVENTS	16
#define SP_EVENT_MAX_ATTRS	8
#define SP_SPAN_ARENA		16384

enum sp_span_kind {
	SP_KIND_INTERNAL = 1,
	SP_KIND_SERVER = 2,
	SP_KIND_CLIENT = 3,
};

enum sp_status_code {
	SP_STATUS_UNSET = 0,
	SP_STATUS_OK = 1,
	SP_STATUS_ERROR = 2,
};

enum sp_attr_type {
	SP_ATTR_STR = 1,
	SP_ATTR_INT,
	SP_ATTR_DOUBLE,
	SP_ATTR_BOOL,
	SP_ATTR_STR_ARRAY,	/* n NUL-terminated strings, back to back */
};

struct sp_attr {
	const char *key;	/* static, or in the span's arena */
	uint8_t type;		/* enum sp_attr_type */
	uint16_t n;		/* SP_ATTR_STR_ARRAY: how many strings at s */
	union {
		const char *s;	/* NUL-terminated, valid UTF-8, in the arena */
		int64_t i;
		double d;
		bool b;
	};
};

struct sp_event {
	const char *name;
	uint64_t time_ns;	/* Unix ns */
	uint8_t nattrs;
	struct sp_attr attrs[SP_EVENT_MAX_ATTRS];
};

struct sp_span_pool;
struct sp_text_blk;

struct sp_span {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t parent_id[8];	/* all zero for a root span */
	uint8_t kind;		/* enum sp_span_kind */
	uint8_t status;		/* enum sp_status_code */
	bool trace_partial;	/* its trace left the trace buffer in pieces */
	/* parent_id is another process's span, from a W3C traceparent: the
	 * span is its trace's root here (the trace buffer sends it whole) */
	bool remote_parent;
	const char *name;
	const char *trace_state;	/* W3C tracestate, in the arena; NULL if none */
	const char *status_msg;	/* NULL if none */
	uint64_t start_ns;	/* Unix ns */
	uint64_t end_ns;
	struct sp_resource *res;	/* owned reference */
	uint16_t nattrs, nevents;
	uint32_t dropped_attrs, dropped_events;
	struct sp_span *next;	/* list link for whoever holds the span */
	/* nattrs and nevents of them; the arrays move when they grow, so a
	 * pointer into them lasts until the next attribute or event is added */
	struct sp_attr *attrs;
	struct sp_event *events;
	/* the rest is span.c's and span_pool.c's bookkeeping */
	uint32_t arena_used;	/* text bytes taken, NULs included: <= SP_SPAN_ARENA */
	uint8_t attrs_cls, events_cls;	/* enum sp_blk_class of the arrays */
	struct sp_text_blk *text;	/* the text blocks, oldest first */
	struct sp_span_pool *pool;	/* where blocks come from; NULL: malloc */
	uintptr_t owner;	/* proves pool is valid: see span_known() */
	struct sp_span *pool_prev, *pool_next;	/* the pool's spans in use */
};

/* The resource's attributes as span attributes (see sp_resource__attrs). */
size_t sp_resource_span_attrs(const struct sp_resource *r, struct sp_attr *out, size_t max);
/* Fills buf with random bytes, never all zero (buffered getrandom). */
void sp_random_id(uint8_t *buf, size_t n);
bool sp_id_is_zero(const uint8_t *id, size_t n);
/* Lowercase hex of id into out (2n+1 bytes). */
void sp_id_hex(const uint8_t *id, size_t n, char *out);

/*
 * A span not from a pool, for tests and one-off use: owned, empty until
 * sp_span__init(); NULL if out of memory. sp_span__free() releases and
 * frees it (accepts NULL).
 */
struct sp_span *sp_span__alloc(void);
void sp_span__free(struct sp_span *s);
/*
 * Resets s to an empty span with a fresh span id. Takes a reference on res.
 * s is one from sp_span_pool__get() or sp_span__alloc() (reset in place,
 * keeping its first blocks), or zeroed memory (calloc, = {}), which is
 * taken as raw: it then gets its blocks from malloc, and must be
 * sp_span__release()d before it is initialised again or freed. Memory
 * that was never written is not allowed (its first field is read).
 */
void sp_span__init(struct sp_span *s, const char *name, size_t name_len,
		   enum sp_span_kind kind, struct sp_resource *res);
/* Drops the span's resource reference and gives all its blocks back (to
 * its pool, or to malloc): s is then empty, with no attributes. */
void sp_span__release(struct sp_span *s);

/* Copies a string into the span's text (invalid UTF-8 replaced), cut to the
 * room left; NULL if no room is left or no block could be had. The copy
 * never moves. */
const char *sp_span__strdup(struct sp_span *s, const char *str, size_t len);
void sp_span__set_name(struct sp_span *s, const char *name, size_t len);
void sp_span__set_str(struct sp_span *s, const char *key, const char *val, size_t len);
/* A string already in this span's text (from __strdup): no copy. */
void sp_span__set_arena_str(struct sp_span *s, const char *key, const char *arena_str);
/* Bytes of text this span may still take (of SP_SPAN_ARENA). */
size_t sp_span__arena_left(const struct sp_span *s);
void sp_span__set_int(struct sp_span *s, const char *key, int64_t v);
/* An array of n strings (each NUL-terminated). */
void sp_span__set_str_array(struct sp_span *s, const char *key, const char *const *v, size_t n);
void sp_span__set_double(struct sp_span *s, const char *key, double v);
void sp_span__set_bool(struct sp_span *s, const char *key, bool v);
void sp_span__set_status(struct sp_span *s, enum sp_status_code code, const char *msg);
const struct sp_attr *sp_span__attr(const struct sp_span *s, const char *key);
/* Adds an event; returns it so the caller can add attributes (up to
 * SP_EVENT_MAX_ATTRS, in place), or NULL. Valid until the next event. */
struct sp_event *sp_span__add_event(struct sp_span *s, const char *name, uint64_t time_ns);

#endif
