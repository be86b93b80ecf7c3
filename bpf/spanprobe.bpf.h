/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * State shared by the BPF objects that bpftool links into spanprobe.bpf.o:
 * maps and rodata are defined once in maps.bpf.c and declared extern in the
 * others. Helpers here are inlined into each program.
 */
#ifndef SPANPROBE_BPF_H
#define SPANPROBE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "spanprobe.h"

#ifdef SP_DEFINE_MAPS
#define SP_MAP(name, ...)	struct { __VA_ARGS__ } name SEC(".maps")
#define SP_RODATA(t, name, v)	const volatile t name = v
#define SP_BSS(t, name)		volatile t name
#else
#define SP_MAP(name, ...)	extern struct { __VA_ARGS__ } name SEC(".maps")
#define SP_RODATA(t, name, v)	extern const volatile t name
#define SP_BSS(t, name)		extern volatile t name
#endif

#define AF_UNIX		1
#define AF_INET		2
#define AF_INET6	10
#define S_IFMT		00170000
#define S_IFSOCK	0140000
#define S_IFIFO		0010000
#define SOCK_STREAM	1
#define ECONNRESET	104
#define EPIPE		32
#define ETIMEDOUT	110
#define ECONNABORTED	103
#define EINTR		4
#define EISCONN		106
#define EALREADY	114
#define EINPROGRESS	115
/* kernel-internal: a syscall a signal interrupted, seen at sys_exit before
 * it is restarted (or turned into EINTR) */
#define ERESTARTSYS		512
#define ERESTART_RESTARTBLOCK	516

/* Configuration, set by userspace before load (rodata). */
SP_RODATA(__u32, targ_all, 0);		/* trace every process */
SP_RODATA(__u32, targ_self, 0);		/* spanprobe's own tgid, never traced */
SP_RODATA(__u32, targ_max_capture, 512 * 1024);	/* bytes per call */
SP_RODATA(__u64, targ_wakeup_bytes, 1 << 20);	/* wake userspace past this */
/* Set by userspace when it stops: nothing new is traced, so what the ring
 * buffer holds then is all there is to read (.bss, writable at run time). */
SP_BSS(__u32, sp_stopping);

/* Protocol of a socket, decided from its first bytes. */
enum conn_proto {
	PROTO_UNKNOWN = 0,
	PROTO_HTTP,	/* HTTP/1.x (or the HTTP/2 preface): capture */
	PROTO_TLS,	/* TLS records: ciphertext, never capture */
	PROTO_OTHER,	/* anything else: ignore */
};
#define SNIFF_LIMIT	32	/* unclassified calls before PROTO_OTHER */

struct conn_state {
	__u64 bytes[2];		/* stream offset per enum sp_dir */
	__u64 sk;		/* struct sock *, for inet_sock_set_state */
	__u64 gen;		/* creation time: tells userspace it is new */
	__u64 ssl;		/* the SSL* whose ciphertext this socket carries */
	/* entry of the connect(2) that returned -EINPROGRESS (or -EINTR) on
	 * it, 0 if none: the start of its span should the handshake fail
	 * later (SP_EV_CONNECT_FAIL) */
	__u64 connect_ts;
	__u32 exec_id;		/* task's self_exec_id when created */
	__u8 proto;		/* enum conn_proto */
	__u8 role;		/* enum sp_role */
	__u8 sniffs;
	/* its connect failed later and was reported: the next connect(2) on
	 * it returns that error again (sock_error() in __inet_stream_connect),
	 * which is not a second failure */
	__u8 connect_echo;
};

struct tls_key {
	__u32 tgid;
	__u32 pad;
	__u64 ssl;
};

struct tls_stream {
	__u64 bytes[2];
	__u64 gen;
	__s32 fd;
	__u32 pad;
};

#define TLS_DEPTH 4

/* A TLS read/write in flight on one thread. */
struct tls_call {
	__u64 ssl;
	__u64 buf;
	__u64 out_len;		/* size_t * of the _ex forms, 0 otherwise */
	__u64 sp;		/* stack pointer at entry: pairs entry and return
				 * (RET_SP_ADJ, tls_common.bpf.h) */
	__u64 ts;
	__s32 fd;		/* socket fd seen by a syscall nested in the call */
	__u8 dir;
	__u8 pad[3];
};

/*
 * The TLS calls in flight on one thread, innermost last. More than one
 * when a TLS stack calls back into the application from inside a call:
 * node runs JavaScript from SSL_read (handshake done), which writes the
 * request with SSL_write, on a deeper stack of the same thread.
 */
struct tls_stack {
	__u32 n;
	__u32 pad;
	struct tls_call c[TLS_DEPTH];
};

enum sock_mode {
	SOCK_CAPTURE = 1,	/* plaintext socket: capture the payload */
	SOCK_CIPHER,		/* TLS socket outside a TLS call (node's BIO) */
	SOCK_NESTED,		/* inside SSL_read/SSL_write: ciphertext */
	SOCK_PIPE,		/* stdin/stdout of a process, maybe JSON-RPC (sock.bpf.c) */
};

/* What a process's stdin (fd 0) and stdout (fd 1) carry, if pipes. */
enum stdio_verdict {
	STDIO_UNKNOWN = 0,	/* pipes, not yet sniffed */
	STDIO_JSONRPC,		/* newline-delimited JSON-RPC: capture */
	STDIO_OTHER,		/* not pipes, or something else: ignore */
};

struct stdio_state {
	__u64 bytes[2];		/* stream offset per enum sp_dir */
	__u64 gen;
	__u32 exec_id;		/* the image it was decided for */
	__u8 verdict;		/* enum stdio_verdict */
	__u8 sniffs;
	__u8 pad[2];
};

/* A socket syscall in flight on one thread. */
struct sock_call {
	__u64 buf;		/* buffer, or struct iovec *; connect: struct sockaddr * */
	__u64 ts;
	__u64 ssl;		/* SOCK_NESTED: the enclosing TLS call */
	__s32 fd;
	__u32 vlen;		/* iovec count, 0 for a flat buffer; connect: addrlen */
	__u8 dir;
	__u8 mode;		/* enum sock_mode */
	__u8 pad[6];
};

struct thread_state {
	__s32 last_cipher_fd;	/* last TLS socket this thread read */
	__u32 pad;
};

/*
 * Which of a process's keys the pid-keyed tables may hold, so that the
 * sweep after its exit (userspace/kernel/loader.c) deletes by key instead
 * of walking 65536-entry maps: conns and nonsock hold (tgid, fd) for fds
 * 0..fd_max at most, tls_streams holds (tgid, conn) when PK_TLS is set.
 * Written when such an entry is created, never per call. A plain hash, so
 * an entry is never evicted silently: when it is full, pid_keys_lost says
 * so and the sweep walks the maps as before.
 */
enum { PK_FDS = 1, PK_TLS = 2 };

struct pid_keys {
	__u64 fd_max;		/* highest fd with an entry (or more), when has_fds */
	__u8 has_fds;		/* conns/nonsock may hold (tgid, 0..fd_max) */
	__u8 has_tls;		/* tls_streams may hold (tgid, *) */
	__u8 pad[6];
};

/* A data event with room for one chunk: the per-CPU scratch record. */
struct data_buf {
	struct sp_data_event hdr;
	__u8 data[SP_CHUNK_MAX];
};

SP_MAP(rb, __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 16 << 20););
SP_MAP(traced, __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 65536);
       __type(key, __u32); __type(value, __u8););
SP_MAP(conns, __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 65536);
       __type(key, __u64); __type(value, struct conn_state););
/* fds known not to be inet stream sockets, so reads of files and pipes
 * skip the fd-table walk; apart from conns so their churn never evicts a
 * socket. Value: the task's self_exec_id when checked. */
SP_MAP(nonsock, __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 65536);
       __type(key, __u64); __type(value, __u32););
SP_MAP(socks, __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 65536);
       __type(key, __u64); __type(value, __u64););
SP_MAP(tls_streams, __uint(type, BPF_MAP_TYPE_LRU_HASH);
       __uint(max_entries, 16384); __type(key, struct tls_key);
       __type(value, struct tls_stream););
SP_MAP(tls_calls, __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 16384);
       __type(key, __u32); __type(value, struct tls_stack););
SP_MAP(sock_calls, __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 16384);
       __type(key, __u32); __type(value, struct sock_call););
SP_MAP(threads, __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 16384);
       __type(key, __u32); __type(value, struct thread_state););
/* by tgid: every process that read its stdin or wrote its stdout once */
SP_MAP(stdio, __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 16384);
       __type(key, __u32); __type(value, struct stdio_state););
SP_MAP(scratch, __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 1);
       __type(key, __u32); __type(value, struct data_buf););
SP_MAP(pid_keys, __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 65536);
       __type(key, __u32); __type(value, struct pid_keys););
SP_MAP(pid_keys_lost, __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1);
       __type(key, __u32); __type(value, __u64););
SP_MAP(counters, __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
       __uint(max_entries, SP_CNT_MAX); __type(key, __u32); __type(value, __u64););

static __always_inline void count(__u32 which, __u64 n)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &which);

	if (c)
		*c += n;
}

/* x & m, in a way clang cannot drop when it believes the value is in
 * range already: the verifier needs the bound on the register it indexes
 * with. m must be a constant. */
#define BOUNDED(x, m) ({						\
	__u32 __v = (x);						\
	asm volatile("%[v] &= %[k]" : [v] "+r"(__v) : [k] "i"(m));	\
	__v;								\
})

/* Notes that tgid now has an entry for fd (fd < 0: none) of kind flag in a
 * pid-keyed table (struct pid_keys). */
static __always_inline void pid_keys_note(__u32 tgid, __s32 fd, __u32 flag)
{
	struct pid_keys *pk = bpf_map_lookup_elem(&pid_keys, &tgid);
	struct pid_keys init = {
		.fd_max = fd > 0 ? fd : 0, .has_fds = !!(flag & PK_FDS), .has_tls = !!(flag & PK_TLS),
	};
	__u32 zero = 0;
	__u64 *lost, old;

	if (!pk) {
		if (!bpf_map_update_elem(&pid_keys, &tgid, &init, BPF_NOEXIST))
			return;
		/* another thread of tgid made it first, or the table is full */
		pk = bpf_map_lookup_elem(&pid_keys, &tgid);
		if (!pk) {
			lost = bpf_map_lookup_elem(&pid_keys_lost, &zero);
			if (lost)
				__sync_fetch_and_add(lost, 1);
			return;
		}
	}
	/* byte stores of a constant: two threads racing agree */
	if ((flag & PK_FDS) && !pk->has_fds)
		pk->has_fds = 1;
	if ((flag & PK_TLS) && !pk->has_tls)
		pk->has_tls = 1;
	/* a max that two threads may raise at once, without cmpxchg (BPF
	 * cpu v1): each adds what it read was missing, so the sum is at
	 * least every fd they saw (at worst too high, never too low) */
	old = pk->fd_max;
	if (fd > 0 && (__u64)fd > old)
		__sync_fetch_and_add(&pk->fd_max, (__u64)fd - old);
}

/* The innermost TLS call in flight on tid, or NULL. */
static __always_inline struct tls_call *tls_top(__u32 tid)
{
	struct tls_stack *st = bpf_map_lookup_elem(&tls_calls, &tid);
	__u32 n;

	if (!st)
		return NULL;
	n = st->n;
	if (n == 0 || n > TLS_DEPTH)
		return NULL;
	return &st->c[BOUNDED(n - 1, TLS_DEPTH - 1)];
}

/* Checked first by every program: no work for processes outside the filter. */
static __always_inline bool traced_tgid(__u32 tgid)
{
	if (tgid == targ_self || sp_stopping)
		return false;
	if (targ_all)
		return true;
	return bpf_map_lookup_elem(&traced, &tgid) != NULL;
}

/* Records are written without waking userspace, which polls; a wakeup is
 * forced only when the ring fills past targ_wakeup_bytes. Saves ~1 us per
 * record on the traced thread. */
static __always_inline __u64 rb_flags(void)
{
	if (bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA) > targ_wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline void rb_emit(void *rec, __u64 size)
{
	if (bpf_ringbuf_output(&rb, rec, size, rb_flags()))
		count(SP_CNT_RB_FULL, 1);
}

static __always_inline __u64 conn_key(__u32 tgid, __s32 fd)
{
	return ((__u64)tgid << 32) | (__u32)fd;
}

/* Bumped by every exec, which closes CLOEXEC fds without close(2): an fd
 * entry from before the exec is stale. */
static __always_inline __u32 current_exec_id(void)
{
	struct task_struct *task = (void *)bpf_get_current_task();

	return BPF_CORE_READ(task, self_exec_id);
}

/*
 * Payload emission: one call's bytes go out as records of at most
 * SP_CHUNK_MAX, numbered by stream offset. bpf_loop keeps the verifier's
 * work independent of the number of chunks.
 */
struct emit_ctx {
	__u64 ubuf;		/* user address of the next byte */
	__u64 seq;		/* stream offset of the next byte */
	__u32 left;		/* bytes still to capture in this segment */
	__u32 pad;
	struct data_buf *rec;	/* per-CPU scratch, header already filled */
};

static long emit_chunk(__u32 i, void *arg)
{
	struct emit_ctx *c = arg;
	struct data_buf *rec = c->rec;
	__u32 n = c->left;

	if (n == 0)
		return 1;
	if (n > SP_CHUNK_MAX)
		n = SP_CHUNK_MAX;
	/* keep the bound visible to the verifier after clang's rewrites */
	asm volatile("%[n] &= %[mask]" : [n] "+r"(n) : [mask] "i"(2 * SP_CHUNK_MAX - 1));
	if (n > SP_CHUNK_MAX)
		return 1;
	if (bpf_probe_read_user(rec->data, n, (void *)c->ubuf))
		return 1;
	rec->hdr.seq = c->seq;
	rec->hdr.len = n;
	rb_emit(rec, sizeof(rec->hdr) + n);
	c->ubuf += n;
	c->seq += n;
	c->left -= n;
	return 0;
}

/* A record with no payload whose seq is where the stream stands: the bytes
 * before it that no record carried were not captured (cap, sendfile). It
 * lets userspace see a hole at once, not at the next record. */
static __always_inline void emit_hole(struct data_buf *rec, __u64 end_seq)
{
	rec->hdr.seq = end_seq;
	rec->hdr.len = 0;
	rb_emit(rec, sizeof(rec->hdr));
}

/* Emits up to *budget bytes of [ubuf, ubuf+len) at stream offset seq. */
static __always_inline void emit_segment(struct data_buf *rec, __u64 ubuf, __u32 len,
					 __u64 seq, __u32 *budget)
{
	struct emit_ctx c = { .ubuf = ubuf, .seq = seq, .rec = rec };
	__u32 take = len < *budget ? len : *budget;

	if (take < len) {
		count(SP_CNT_TRUNC_BYTES, len - take);
		count(SP_CNT_TRUNC_CALLS, 1);
	}
	c.left = take;
	*budget -= take;
	bpf_loop(SP_CAPTURE_CEIL / SP_CHUNK_MAX, emit_chunk, &c, 0);
	if (take < len)
		emit_hole(rec, seq + len);
}

/* Fills the scratch header for one call; returns NULL if none. */
static __always_inline struct data_buf *data_begin(__u32 tgid, __u32 tid, __s32 fd,
						   __u64 ts_enter, __u64 ssl, __u64 gen,
						   __u32 call_len, __u8 source, __u8 dir)
{
	__u32 zero = 0;
	struct data_buf *rec = bpf_map_lookup_elem(&scratch, &zero);

	if (!rec)
		return NULL;
	rec->hdr.type = SP_EV_DATA;
	rec->hdr.tgid = tgid;
	rec->hdr.tid = tid;
	rec->hdr.fd = fd;
	rec->hdr.ts_enter = ts_enter;
	rec->hdr.ts_exit = bpf_ktime_get_ns();
	rec->hdr.ssl = ssl;
	rec->hdr.gen = gen;
	rec->hdr.call_len = call_len;
	rec->hdr.source = source;
	rec->hdr.dir = dir;
	return rec;
}

#endif /* SPANPROBE_BPF_H */
