/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * HTTP/2 frames (RFC 9113) for one direction of one connection, and HPACK
 * (RFC 7541) on libnghttp2's inflater: Huffman and the dynamic table are
 * exactly what a well-kept library should do, and nghttp2 is the one curl
 * and nginx use. The framing is ours because a tracer's needs differ from
 * an endpoint's: bytes come at any split point and with holes, nothing is
 * ever answered, and a connection may be first seen in the middle.
 *
 * Frames are cut incrementally with no copy of DATA (its payload goes to
 * the caller as it arrives, padding stripped); a header block (HEADERS or
 * PUSH_PROMISE and its CONTINUATIONs) is inflated as its fragments come and
 * delivered whole, credentials redacted, as one struct sp_h2_head.
 *
 * A connection joined mid-way (no preface seen; the HPACK dynamic table of
 * its encoder unknown) is decoded from the first sane frame header on. Its
 * inflater is seeded with placeholder entries so that a header naming an
 * entry made before we joined decodes to a placeholder, which is left out
 * (the head is marked incomplete) while every header from the static
 * table or a literal decodes as sent.
 */
#ifndef SP_HTTP2_H
#define SP_HTTP2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <nghttp2/nghttp2.h>

#define SP_H2_HEAD_MAX		7552	/* decoded header bytes kept per block */
#define SP_H2_MAX_HEADERS	64
#define SP_H2_TABLE_MAX		65536	/* dynamic table bytes we agree to keep */

enum sp_h2_type {
	SP_H2_DATA = 0, SP_H2_HEADERS, SP_H2_PRIORITY, SP_H2_RST_STREAM, SP_H2_SETTINGS,
	SP_H2_PUSH_PROMISE, SP_H2_PING, SP_H2_GOAWAY, SP_H2_WINDOW_UPDATE, SP_H2_CONTINUATION,
};

#define SP_H2_F_END_STREAM	0x1
#define SP_H2_F_ACK		0x1
#define SP_H2_F_END_HEADERS	0x4
#define SP_H2_F_PADDED		0x8
#define SP_H2_F_PRIORITY	0x20

/* A decoded header block. Header i is at hdr[i] (views into buf, not
 * NUL-terminated); valid for the callback only. */
struct sp_h2_hdr {
	uint16_t name_off, name_len, value_off, value_len;
};

struct sp_h2_head {
	uint32_t stream_id;
	bool end_stream;	/* the HEADERS frame ended the stream */
	bool push;		/* a PUSH_PROMISE's request head */
	bool truncated;		/* headers past the bounds were not kept */
	bool incomplete;	/* headers referring to table entries made before
				 * we joined (or lost to a hole) are left out */
	uint16_t nheaders;
	uint16_t len;
	uint64_t start_ns, end_ns;
	struct sp_h2_hdr hdr[SP_H2_MAX_HEADERS];
	char buf[SP_H2_HEAD_MAX];
};

/* Value of the first header called name (lower case, as h2 sends them;
 * compared without case anyway), or NULL. */
const char *sp_h2_head__header(const struct sp_h2_head *h, const char *name, size_t *len);

struct sp_h2_cbs {
	/* a header block is complete (head borrowed for the call) */
	void (*head)(void *ctx, uint8_t dir, const struct sp_h2_head *h);
	/* DATA payload (padding stripped), borrowed; end: END_STREAM on it */
	void (*data)(void *ctx, uint8_t dir, uint32_t stream_id, const uint8_t *buf, size_t len,
		     bool end, uint64_t ts);
	void (*rst)(void *ctx, uint8_t dir, uint32_t stream_id, uint32_t code, uint64_t ts);
	void (*goaway)(void *ctx, uint8_t dir, uint32_t last_stream_id, uint32_t code,
		       uint64_t ts);
};

struct sp_h2_stats {
	uint64_t frames;
	uint64_t mid_stream_joins;	/* directions first seen past their start */
	uint64_t resyncs;		/* framing lost (garbage, hole) and found again */
	uint64_t hpack_errors;		/* header blocks that would not inflate */
	uint64_t heads_truncated;
};

struct sp_blocks;
struct nghttp2_hd_inflater;

enum sp_h2_phase {
	SP_H2P_PREFACE = 0,	/* a client's first bytes: maybe the preface */
	SP_H2P_HEADER,		/* reading a 9-byte frame header */
	SP_H2P_PADLEN,		/* the pad length byte */
	SP_H2P_FIXED,		/* priority fields, promised stream id */
	SP_H2P_BODY,		/* the payload proper */
	SP_H2P_PAD,		/* padding */
	SP_H2P_LOST,		/* no framing: look for a sane frame header */
};

/* One direction of a connection. */
struct sp_h2_dec {
	uint8_t dir;
	enum sp_h2_phase phase;
	bool joined;		/* joined mid-way: table seeded with placeholders */
	bool in_block;		/* a header block wants CONTINUATION */
	bool block_bad;		/* this block will not inflate: skip to its end */
	bool block_push;
	bool block_end_stream;
	uint8_t hdr[9];
	uint8_t hdr_len;
	uint8_t type, flags;
	uint8_t fixed[8];	/* priority (5) / promised id (4) / control fields */
	uint8_t fixed_len, fixed_want;
	uint32_t len, stream_id, left;	/* frame length, id, bytes of it still due */
	uint32_t pad, body_left;
	uint32_t block_stream;	/* the stream the block's head is for */
	uint32_t cont_stream;	/* the stream its CONTINUATIONs come on */
	uint32_t table_size;	/* the decoder side's SETTINGS_HEADER_TABLE_SIZE */
	uint64_t block_start;
	uint64_t ts_first, ts_last;	/* of the bytes being fed */
	struct nghttp2_hd_inflater *inf;
	struct sp_h2_head *head;	/* the block being decoded (blocks), or NULL */
	size_t head_cap;
	struct sp_h2_conn *conn;
};

/* Both directions, and what they share. */
struct sp_h2_conn {
	struct sp_h2_dec dir[2];
	struct sp_blocks *blocks;	/* NULL: malloc */
	const struct sp_h2_cbs *cbs;
	void *ctx;
	struct sp_h2_stats *stats;
	uint64_t inf_bytes;		/* held by the two inflaters */
	nghttp2_mem mem;		/* nghttp2 keeps a pointer to it */
};

/*
 * client_dir: the direction the client writes (its first bytes may be the
 * preface). blocks (borrowed, may be NULL) gives head buffers and the
 * inflaters' memory, so they count in the per-connection budget. stats is
 * borrowed. 0 or -ENOMEM.
 */
int sp_h2_conn__init(struct sp_h2_conn *c, uint8_t client_dir, struct sp_blocks *blocks,
		     const struct sp_h2_cbs *cbs, void *ctx, struct sp_h2_stats *stats);
void sp_h2_conn__fini(struct sp_h2_conn *c);
/* 0, or -EPROTO when bytes had to be skipped to find a frame again (they
 * are counted; the frames after them are decoded). */
int sp_h2_conn__feed(struct sp_h2_conn *c, uint8_t dir, const uint8_t *buf, size_t len,
		     uint64_t ts_first, uint64_t ts_last);
/* n bytes of direction dir were not captured: its framing (and, inside a
 * header block, its HPACK state) is lost and found again. */
void sp_h2_conn__gap(struct sp_h2_conn *c, uint8_t dir, uint64_t n, uint64_t ts);

/* True if buf starts with a frame header that is sane for a connection
 * in progress (a known type, flags and stream id that fit it, a length
 * below what any peer sends), and if the buffer holds more, the frame
 * after it is too. */
bool sp_h2_frame_plausible(const uint8_t *buf, size_t len);
/* "CANCEL", "INTERNAL_ERROR", ... (RFC 9113 section 7); "H2_ERROR" for others. */
const char *sp_h2_error_name(uint32_t code);

#endif
