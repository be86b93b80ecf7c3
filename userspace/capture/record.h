/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Recordings: the raw ring-buffer records of a run and every other input
 * the userspace pipeline took, so that `spanprobe replay` can run the same
 * pipeline on them later, with no BPF and no privilege, and get the same
 * spans (only span and trace ids, which are random, differ).
 *
 * A recording holds captured payload as it crossed the wire: prompts,
 * bodies, cookies, Authorization headers, API keys. It is created 0600.
 *
 * Format, version 1. Every integer is in the recording host's byte order
 * (little-endian on x86-64 and arm64; a reader on a host of the other
 * order says so and stops). The ring records inside are the structs of
 * include/spanprobe.h as that spanprobe version wrote them.
 *
 *   file header, header_len bytes:
 *     off  0  u8   magic[8]        "SPANREC\0"
 *     off  8  u16  version         1
 *     off 10  u16  header_len      bytes before the first frame (144 in v1;
 *                                  a reader skips what it does not know)
 *     off 12  u32  flags           bit 0: the run traced every process
 *     off 16  i64  clock_offset    Unix ns - CLOCK_MONOTONIC ns at start
 *     off 24  u64  start_ns        CLOCK_MONOTONIC at start
 *     off 32  u32  max_procs       the run's --max-processes
 *     off 36  u32  max_streams     the run's --max-connections
 *     off 40  char version[32]     spanprobe's version, NUL-padded
 *     off 72  char host[72]        gethostname(), NUL-padded
 *
 *   then frames, back to back, until the end of the file:
 *     u32 len     payload bytes (at most SP_REC_MAX_PAYLOAD)
 *     u16 kind    enum sp_rec_kind
 *     u16 flags   0
 *     u64 ts      CLOCK_MONOTONIC ns (see each kind)
 *     u8  payload[len]
 *
 * Frames are written in the order things happened to the pipeline, and a
 * pipeline call's frame after the call: the process facts it read from
 * /proc (SP_REC_PROC) come before it. A file cut short (spanprobe killed,
 * disk full) ends inside a frame; the reader stops there and says so.
 */
#ifndef SP_RECORD_H
#define SP_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SP_REC_MAGIC		"SPANREC"	/* and its NUL: 8 bytes */
#define SP_REC_VERSION		1
#define SP_REC_HEADER_LEN	144
#define SP_REC_FRAME_HDR	16
/* a ring record is at most the capture cap (4 MiB) plus its header */
#define SP_REC_MAX_PAYLOAD	(16u << 20)

#define SP_REC_F_ALL		(1u << 0)

enum sp_rec_kind {
	SP_REC_RING = 1,	/* one ring-buffer record, its bytes as read; ts:
				 * when userspace read it */
	SP_REC_TARGET,		/* sp_pipeline__target(): u32 pid; ts: its ts */
	SP_REC_SNAPSHOT,	/* sp_pipeline__snapshot(): u32 pid; ts: its ts */
	SP_REC_TICK,		/* sp_pipeline__tick(): no payload; ts: now */
	SP_REC_SHUTDOWN,	/* sp_pipeline__shutdown(): no payload; ts: now */
	SP_REC_CLOCK,		/* sp_clock_sync(): i64 the new offset; ts: when */
	SP_REC_PROC,		/* one /proc read: u32 pid, u16 name length, u16
				 * 0, the name ("stat", "comm", "cmdline",
				 * "environ", "exe"), then the bytes read */
	SP_REC_COUNTERS,	/* at exit: the kernel's drop counters, u64 each
				 * in enum sp_counter order */
	SP_REC_KIND_MAX,
};

struct sp_rec_info {
	uint32_t flags;		/* SP_REC_F_* */
	int64_t clock_offset;
	uint64_t start_ns;
	uint32_t max_procs;
	uint32_t max_streams;
	char version[32];
	char host[72];
};

struct sp_rec_frame {
	uint16_t kind;
	uint16_t flags;
	uint64_t ts;
	uint32_t len;
	const void *data;	/* borrowed until the next __next; 8-aligned */
	uint64_t offset;	/* of the frame in the file */
};

/* The fixed part of a SP_REC_PROC payload, before the name. */
struct sp_rec_proc {
	uint32_t pid;
	uint16_t what_len;
	uint16_t zero;
};

struct sp_rec_writer;

/*
 * Creates path (0600, never through a symlink, truncating what was there)
 * and writes the header. 0 or -errno, having logged what failed.
 */
int sp_rec_writer__open(struct sp_rec_writer **out, const char *path,
			const struct sp_rec_info *info);
/*
 * Appends one frame whose payload is a (alen bytes) then b (blen). Buffered:
 * no system call per frame. 0, or -errno; the first write error is logged
 * once and every later call returns it.
 */
int sp_rec_writer__frame2(struct sp_rec_writer *w, uint16_t kind, uint64_t ts,
			  const void *a, uint32_t alen, const void *b, uint32_t blen);
static inline int sp_rec_writer__frame(struct sp_rec_writer *w, uint16_t kind, uint64_t ts,
				       const void *p, uint32_t len)
{
	return sp_rec_writer__frame2(w, kind, ts, p, len, NULL, 0);
}
/* A SP_REC_PROC frame for what sp_procfs_read(pid, what) returned. */
int sp_rec_writer__proc(struct sp_rec_writer *w, uint32_t pid, const char *what,
			const void *data, size_t len);
/* Writes out what is buffered: 0 or -errno. */
int sp_rec_writer__flush(struct sp_rec_writer *w);
uint64_t sp_rec_writer__frames(const struct sp_rec_writer *w);
uint64_t sp_rec_writer__bytes(const struct sp_rec_writer *w);
/* Flushes, closes and frees (NULL is fine): 0, or the first write error. */
int sp_rec_writer__close(struct sp_rec_writer *w);

struct sp_rec_reader;

/*
 * Opens a recording and reads its header into info. 0 or -errno, having
 * logged why: -ENOENT and friends from open, -EINVAL when path is not a
 * recording (magic), -EPROTONOSUPPORT for a format version this spanprobe
 * does not read or another byte order.
 */
int sp_rec_reader__open(struct sp_rec_reader **out, const char *path, struct sp_rec_info *info);
/*
 * The next frame: 1, 0 at the end of the file, or -errno (a read error, or
 * -EBADMSG for a length past SP_REC_MAX_PAYLOAD). A file that ends inside
 * a frame also returns 0, with __truncated() true.
 */
int sp_rec_reader__next(struct sp_rec_reader *r, struct sp_rec_frame *f);
bool sp_rec_reader__truncated(const struct sp_rec_reader *r);
uint64_t sp_rec_reader__frames(const struct sp_rec_reader *r);
void sp_rec_reader__free(struct sp_rec_reader *r);

/* Splits a SP_REC_PROC payload: 0, or -EBADMSG when it does not hold one. */
int sp_rec_proc_parse(const struct sp_rec_frame *f, uint32_t *pid, const char **what,
		      size_t *what_len, const void **data, size_t *len);

#endif
