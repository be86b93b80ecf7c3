/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Events shared by the BPF programs (bpf/) and userspace (userspace/).
 *
 * Every record in the ring buffer starts with a __u32 event type. Fields are
 * fixed width; captured bytes carry an explicit length. Timestamps are
 * CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns); userspace converts them.
 */
#ifndef SPANPROBE_H
#define SPANPROBE_H

#ifndef __VMLINUX_H__	/* BPF objects get the types from vmlinux.h */
#include <linux/types.h>
#endif

#define SP_COMM_LEN		16
#define SP_PATH_LEN		256
#define SP_ARGS_LEN		512
/* One data record carries at most this much payload; a larger call is split
 * into consecutive records (see sp_data_event.seq). A power of two. */
#define SP_CHUNK_MAX		16384
/* Hard ceiling on the per-call capture cap (rodata targ_max_capture). */
#define SP_CAPTURE_CEIL		(4u << 20)
#define SP_MAX_IOV		16

enum sp_event_type {
	SP_EV_DATA = 1,		/* payload bytes of one read/write call */
	SP_EV_CONN,		/* a socket fd and its addresses */
	SP_EV_CONN_CLOSE,	/* close(2) on a socket fd we reported */
	SP_EV_CONN_ERR,		/* a socket call failed (reset) or hit EOF */
	SP_EV_TLS_BIND,		/* an SSL* was tied to a socket fd */
	SP_EV_PROC_FORK,
	SP_EV_PROC_EXEC,
	SP_EV_PROC_EXIT,
	SP_EV_CONNECT_FAIL,	/* a TCP connect failed (refused, unreachable, timed out) */
	SP_EV_FUNC,		/* a --probe/--usdt function entry or return */
	SP_EV_PIPE,		/* a pipe between processes of an agent's tree */
	SP_EV_CIPHER,		/* a TLS socket call no probed TLS function made */
};

enum sp_source {
	SP_SRC_SOCK = 1,	/* plaintext socket syscalls */
	SP_SRC_TLS,		/* plaintext seen at SSL_write/SSL_read */
	SP_SRC_PIPE,		/* a process's stdin reads and stdout writes (pipes) */
};

/* The fd of SP_SRC_PIPE records: one stream per process, its stdin
 * (ingress, fd 0) and its stdout (egress, fd 1) together, the way an MCP
 * server on stdio talks to the agent that spawned it. */
#define SP_FD_STDIO		(-2)

enum sp_dir {
	SP_DIR_EGRESS = 0,	/* the traced process wrote it */
	SP_DIR_INGRESS = 1,	/* the traced process read it */
};

enum sp_role {
	SP_ROLE_UNKNOWN = 0,
	SP_ROLE_CLIENT,		/* connect(2) */
	SP_ROLE_SERVER,		/* accept(2) */
};

/* Which counter in the "counters" per-CPU array. */
enum sp_counter {
	SP_CNT_RB_FULL = 0,	/* a record did not fit in the ring buffer */
	SP_CNT_TRUNC_BYTES,	/* payload bytes past the per-call cap */
	SP_CNT_TRUNC_CALLS,	/* calls that hit the per-call cap */
	SP_CNT_CALL_TABLE_FULL,	/* per-thread in-flight call table full */
	SP_CNT_CONN_TABLE_FULL,	/* per-connection table update failed */
	SP_CNT_IOV_TRUNC,	/* readv/writev past SP_MAX_IOV segments */
	SP_CNT_GO_NOT_TCP,	/* Go crypto/tls calls on a conn not a *net.TCPConn */
	SP_CNT_TLS_UNTIED,	/* rustls reads whose connection is not known: not emitted */
	SP_CNT_MAX,
};

struct sp_addr {
	__u16 family;		/* AF_INET or AF_INET6, 0 if unknown */
	__u16 port;		/* host byte order */
	__u32 pad;
	union {
		__u8 v4[4];
		__u8 v6[16];
	};
};

struct sp_data_event {
	__u32 type;		/* SP_EV_DATA */
	__u32 tgid;
	__u32 tid;
	__s32 fd;		/* socket fd, -1 while unknown for TLS */
	__u64 ts_enter;		/* entry of the read/write call */
	__u64 ts_exit;		/* return of the call */
	__u64 ssl;		/* SSL* for SP_SRC_TLS, 0 for sockets */
	/* Offset of data[0] within this stream direction. BPF advances the
	 * stream counter by the whole call even when bytes were not captured
	 * (cap, full ring buffer), so userspace sees every hole. */
	__u64 seq;
	/* Stream generation: changes when the kernel's state for the stream
	 * was created anew (first sight, or after an LRU eviction), so that
	 * its offsets restart at 0. */
	__u64 gen;
	__u32 call_len;		/* bytes the call moved */
	__u32 len;		/* bytes in data[] */
	__u8 source;		/* enum sp_source */
	__u8 dir;		/* enum sp_dir */
	__u8 pad[6];
	/* followed by len bytes of payload */
};

struct sp_conn_event {
	__u32 type;		/* SP_EV_CONN, SP_EV_CONN_CLOSE, SP_EV_CONN_ERR */
	__u32 tgid;
	__s32 fd;
	__s32 err;		/* SP_EV_CONN_ERR: -errno, or 0 for EOF */
	__u64 ts;
	__u64 ssl;		/* SP_EV_CONN_ERR inside a TLS call, else 0 */
	__u8 role;		/* enum sp_role */
	__u8 dir;		/* SP_EV_CONN_ERR: direction of the failed call */
	__u8 pad[6];
	struct sp_addr local;
	struct sp_addr remote;
};

/* How a failed connect ended (sp_connect_fail_event.how). */
enum sp_connect_how {
	SP_CONNECT_RETURNED = 1,	/* connect(2) itself returned the error */
	SP_CONNECT_LATER,		/* non-blocking: the handshake failed later */
	SP_CONNECT_ABANDONED,		/* the process closed it still connecting */
};

/*
 * A TCP connect that failed: refused, unreachable, timed out. Only for
 * AF_INET/AF_INET6 stream sockets (never AF_UNIX: glibc probes nscd's
 * socket from every process).
 */
struct sp_connect_fail_event {
	__u32 type;		/* SP_EV_CONNECT_FAIL */
	__u32 tgid;
	__u32 tid;		/* the thread in connect(2) or close(2); 0 when the
				 * failure came later, in softirq */
	__s32 fd;
	__s32 err;		/* -errno: -ECONNREFUSED, -ETIMEDOUT, -ENETUNREACH... */
	__u8 how;		/* enum sp_connect_how */
	__u8 pad[3];
	__u64 ts_start;		/* connect(2) entry */
	__u64 ts_end;		/* when it failed (or was given up) */
	struct sp_addr remote;	/* where it was going */
};

/*
 * SP_EV_CIPHER: one read/write syscall on a TLS socket (a client's: never
 * one accept(2) made) that no probed TLS function made: a stack spanprobe
 * cannot read (rustls, Java, a stripped binary). Byte counts and times
 * only; the first call each way also carries the first bytes of the
 * ClientHello / ServerHello (SP_CIPHER_F_HELLO), enough for SNI, ALPN and
 * the version. SP_CIPHER_F_PLAIN (no bytes): a probed TLS function moved
 * this connection's bytes after all (OpenSSL's handshake is written by
 * SSL_connect, outside SSL_write): what came before is its handshake.
 */
#define SP_CIPHER_HELLO_MAX	1536
#define SP_CIPHER_F_HELLO	1
#define SP_CIPHER_F_PLAIN	2

struct sp_cipher_event {
	__u32 type;		/* SP_EV_CIPHER */
	__u32 tgid;
	__u32 tid;
	__s32 fd;
	__u64 ts_enter;
	__u64 ts_exit;
	__u64 gen;		/* the connection's (as sp_data_event.gen) */
	__u32 call_len;		/* bytes the call moved */
	__u16 len;		/* bytes in data[] (hello prefix), <= SP_CIPHER_HELLO_MAX */
	__u8 dir;		/* enum sp_dir */
	__u8 flags;		/* SP_CIPHER_F_* */
	/* followed by len bytes */
};

struct sp_tls_bind_event {
	__u32 type;		/* SP_EV_TLS_BIND */
	__u32 tgid;
	__s32 fd;
	__u32 pad;
	__u64 ssl;
};

struct sp_proc_event {
	__u32 type;		/* SP_EV_PROC_FORK, _EXEC, _EXIT */
	__u32 tgid;
	__u32 ppid;		/* parent tgid (fork, exec) */
	__s32 exit_code;	/* exit: wait(2) status */
	__u64 ts;
	char comm[SP_COMM_LEN];
	char filename[SP_PATH_LEN];	/* exec */
	__u32 args_len;			/* exec: bytes in args */
	__u32 pad;
	char args[SP_ARGS_LEN];		/* exec: NUL-separated argv */
};

/*
 * SP_EV_FUNC: a --probe function's entry or return, or a --usdt probe's
 * hit, from the generic programs of bpf/func.bpf.c. The probe id is the
 * attach cookie: an index into the probes userspace attached
 * (userspace/discovery/func_probe.h), which it announces to the pipeline
 * in an SP_FUNC_DEFINE record of its own (assemble/func_span.h) before
 * any of them can fire.
 */
#define SP_FUNC_MAX_PROBES	64	/* --probe and --usdt together */
#define SP_FUNC_ARGS		4

enum sp_func_what {
	SP_FUNC_ENTRY = 1,	/* uprobe on the function's first instruction */
	SP_FUNC_RETURN,		/* uretprobe */
	SP_FUNC_USDT,		/* a USDT probe fired */
	SP_FUNC_DEFINE,		/* userspace only: what a probe id names */
};

/* sp_func_event.flags */
#define SP_FUNC_F_TAIL		1	/* entry: its return address is the uretprobe
					 * trampoline, so a probed function tail-called
					 * it (`jmp`): both their returns come */

struct sp_func_event {
	__u32 type;		/* SP_EV_FUNC */
	__u32 tgid;
	__u32 tid;
	__u16 probe;		/* probe id (< SP_FUNC_MAX_PROBES) */
	__u8 what;		/* enum sp_func_what */
	__u8 flags;		/* SP_FUNC_F_* */
	__u64 ts;
	/* The stack pointer at the function's entry; a return carries its
	 * entry's value (the architecture's offset taken out in BPF), so an
	 * entry and its return have the same sp. USDT: at the probe. */
	__u64 sp;
	__s64 ret;		/* return: the return-value register */
	__u32 nargs;		/* entry: 2; USDT: the probe's argument count */
	__u32 pad;
	__u64 args[SP_FUNC_ARGS];	/* entry: the first two integer arguments;
					 * USDT: its first four arguments */
};

#endif /* SPANPROBE_H */
