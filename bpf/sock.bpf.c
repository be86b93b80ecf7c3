// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Plain socket traffic: syscall tracepoints on the read/write family, plus
 * connect/accept/close and sock:inet_sock_set_state for the lifecycle.
 *
 * A socket is classified from its first bytes (PROTO_HTTP, PROTO_TLS,
 * PROTO_OTHER); only PROTO_HTTP payload is captured. Calls made inside an
 * SSL_read/SSL_write move ciphertext: they only tell the TLS probes which fd the
 * SSL* uses, and are never captured.
 *
 * Stdio pipes: a process's reads of fd 0 and writes of fd 1, when that fd is
 * a pipe or a unix socket, are captured only if the first bytes on them look like
 * newline-delimited JSON-RPC (an MCP server on stdio). The verdict is kept
 * per process image, so any other process pays one map lookup per stdin or
 * stdout call, and nothing on any other fd.
 */
#include "spanprobe.bpf.h"

#define MSG_PEEK	2
#define TCP_ESTABLISHED	1
#define TCP_SYN_SENT	2
#define TCP_CLOSE	7

/* The struct socket behind fd in the current task, or NULL if fd is not an
 * inet stream socket. */
static __always_inline struct sock *fd_inet_sock(__s32 fd)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct file **fdarr;
	struct file *f = NULL;
	struct socket *sock;
	struct sock *sk;
	unsigned int max;
	__u16 family;

	if (fd < 0)
		return NULL;
	max = BPF_CORE_READ(task, files, fdt, max_fds);
	if ((unsigned int)fd >= max)
		return NULL;
	fdarr = BPF_CORE_READ(task, files, fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fdarr[fd]) || !f)
		return NULL;
	if ((BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(f, private_data);
	if (!sock || BPF_CORE_READ(sock, type) != SOCK_STREAM)
		return NULL;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return NULL;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return NULL;
	return sk;
}

/* Whether fd of the current task talks to another process: a pipe (or
 * FIFO), or a unix socket (node's libuv gives a child's stdio socketpairs). */
static __always_inline bool fd_is_ipc(__s32 fd)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct file **fdarr;
	struct file *f = NULL;
	struct socket *sock;
	__u16 mode;

	if ((unsigned int)fd >= BPF_CORE_READ(task, files, fdt, max_fds))
		return false;
	fdarr = BPF_CORE_READ(task, files, fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fdarr[fd]) || !f)
		return false;
	mode = BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT;
	if (mode == S_IFIFO)
		return true;
	if (mode != S_IFSOCK)
		return false;
	sock = BPF_CORE_READ(f, private_data);
	return sock && BPF_CORE_READ(sock, sk, __sk_common.skc_family) == AF_UNIX;
}

static __always_inline void sk_addrs(struct sock *sk, struct sp_addr *local,
				     struct sp_addr *remote)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	local->family = remote->family = family;
	local->port = BPF_CORE_READ(sk, __sk_common.skc_num);
	remote->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET) {
		BPF_CORE_READ_INTO(&local->v4, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO(&remote->v4, sk, __sk_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO(&local->v6, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&remote->v6, sk, __sk_common.skc_v6_daddr);
	}
}

static __always_inline void emit_conn(__u32 type, __u32 tgid, __s32 fd, __u8 role,
				      struct sock *sk)
{
	struct sp_conn_event ev = {
		.type = type, .tgid = tgid, .fd = fd, .role = role,
		.ts = bpf_ktime_get_ns(),
	};

	if (sk)
		sk_addrs(sk, &ev.local, &ev.remote);
	rb_emit(&ev, sizeof(ev));
}

/* A nonsock value with this bit: stdin or stdout, and not worth a look
 * as stdio either (not a pipe, or not JSON-RPC): pipe_enter() is skipped. */
#define NONSOCK_QUIET	0x80000000u

/* Looks up fd's state; creates it (and reports the socket) when fd is an
 * inet stream socket seen for the first time. NULL for anything else;
 * then *quiet (may be NULL) says whether the fd is known NONSOCK_QUIET.
 * fresh: connect/accept made it, forget what we knew of the fd. */
static __always_inline struct conn_state *conn_get(__u32 tgid, __s32 fd, __u8 role,
						   bool fresh, bool *quiet)
{
	__u64 key = conn_key(tgid, fd);
	struct conn_state *c, init = { .role = role };
	__u32 exec_id = current_exec_id(), *neg;
	struct sock *sk;

	if (!fresh) {
		c = bpf_map_lookup_elem(&conns, &key);
		if (c && c->exec_id == exec_id)
			return c;
		neg = bpf_map_lookup_elem(&nonsock, &key);
		if (neg && (*neg & ~NONSOCK_QUIET) == exec_id) {
			if (quiet)
				*quiet = *neg & NONSOCK_QUIET;
			return NULL;
		}
	}
	pid_keys_note(tgid, fd, PK_FDS);	/* for the sweep at exit */
	sk = fd_inet_sock(fd);
	if (!sk) {
		bpf_map_delete_elem(&conns, &key);
		bpf_map_update_elem(&nonsock, &key, &exec_id, BPF_ANY);
		return NULL;
	}
	bpf_map_delete_elem(&nonsock, &key);
	init.sk = (__u64)sk;
	init.exec_id = exec_id;
	init.gen = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&conns, &key, &init, BPF_ANY)) {
		count(SP_CNT_CONN_TABLE_FULL, 1);
		return NULL;
	}
	bpf_map_update_elem(&socks, &init.sk, &key, BPF_ANY);
	emit_conn(SP_EV_CONN, tgid, fd, role, sk);
	return bpf_map_lookup_elem(&conns, &key);
}

/* stdin or stdout of tgid carries nothing to capture: its nonsock entry
 * says so, and the next call on it costs no stdio lookup. */
static __always_inline void stdio_quiet(__u32 tgid, __s32 fd)
{
	__u64 key = conn_key(tgid, fd);
	__u32 *neg = bpf_map_lookup_elem(&nonsock, &key);

	if (neg)
		*neg |= NONSOCK_QUIET;
}

/*
 * A read of stdin or a write of stdout by a process that is not a socket's:
 * remembered for its exit when the process's stdio may carry JSON-RPC.
 */
static __always_inline int pipe_enter(__u32 tgid, __u32 tid, __s32 fd, __u64 buf, __u32 vlen,
				      __u8 dir)
{
	struct sock_call call = { .buf = buf, .fd = fd, .vlen = vlen, .dir = dir,
				  .mode = SOCK_PIPE };
	__u32 exec_id;
	struct stdio_state *st, init = {};

	if (!((fd == 0 && dir == SP_DIR_INGRESS) || (fd == 1 && dir == SP_DIR_EGRESS)))
		return 0;
	exec_id = current_exec_id();
	st = bpf_map_lookup_elem(&stdio, &tgid);
	if (!st || st->exec_id != exec_id) {
		init.exec_id = exec_id;
		init.gen = bpf_ktime_get_ns();
		init.verdict = fd_is_ipc(fd) ? STDIO_UNKNOWN : STDIO_OTHER;
		bpf_map_update_elem(&stdio, &tgid, &init, BPF_ANY);
		st = &init;
	}
	if (st->verdict == STDIO_OTHER) {
		stdio_quiet(tgid, fd);
		return 0;
	}
	call.ts = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&sock_calls, &tid, &call, BPF_ANY))
		count(SP_CNT_CALL_TABLE_FULL, 1);
	return 0;
}

static __always_inline int sock_enter(__s32 fd, __u64 buf, __u32 vlen, __u8 dir)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	struct sock_call call = { .buf = buf, .fd = fd, .vlen = vlen, .dir = dir };
	struct tls_call *tls;
	struct conn_state *c;
	bool quiet = false;

	if (!traced_tgid(tgid))
		return 0;
	c = conn_get(tgid, fd, SP_ROLE_UNKNOWN, false, &quiet);
	if (!c)
		return fd <= 1 && !quiet ? pipe_enter(tgid, tid, fd, buf, vlen, dir) : 0;
	tls = tls_top(tid);
	if (tls) {
		/* ciphertext written or read by SSL_write/SSL_read itself */
		if (tls->fd < 0)
			tls->fd = fd;
		c->proto = PROTO_TLS;
		c->ssl = tls->ssl;
		call.mode = SOCK_NESTED;
		call.ssl = tls->ssl;
	} else if (c->proto == PROTO_TLS) {
		if (dir != SP_DIR_INGRESS)
			return 0;
		call.mode = SOCK_CIPHER;
	} else if (c->proto == PROTO_OTHER) {
		return 0;
	} else {
		call.mode = SOCK_CAPTURE;
	}
	call.ts = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&sock_calls, &tid, &call, BPF_ANY))
		count(SP_CNT_CALL_TABLE_FULL, 1);
	return 0;
}

static __always_inline __u8 sniff(__u64 ubuf, __u32 len)
{
	char b[8] = {};

	if (bpf_probe_read_user(b, len < 8 ? (len & 7) : 8, (void *)ubuf))
		return PROTO_UNKNOWN;
	/* TLS record: handshake/alert/ccs/appdata, version 3.x */
	if (b[0] >= 0x14 && b[0] <= 0x17 && b[1] == 0x03 && b[2] <= 0x04)
		return PROTO_TLS;
	if (len < 4)
		return PROTO_UNKNOWN;
#define IS4(s) (b[0] == s[0] && b[1] == s[1] && b[2] == s[2] && b[3] == s[3])
	if (IS4("HTTP") || IS4("GET ") || IS4("POST") || IS4("PUT ") || IS4("HEAD") ||
	    IS4("DELE") || IS4("PATC") || IS4("OPTI") || IS4("CONN") || IS4("TRAC") ||
	    IS4("PRI "))
		return PROTO_HTTP;
#undef IS4
	return PROTO_UNKNOWN;
}

struct iov_ctx {
	__u64 iov;		/* struct iovec * in user memory */
	__u32 vlen;
	__u32 left;		/* bytes of the call not yet emitted */
	__u32 budget;		/* capture budget left for this call */
	__u32 pad;
	__u64 seq;
	struct data_buf *rec;
};

static long emit_iov(__u32 i, void *arg)
{
	struct iov_ctx *c = arg;
	struct iovec v;
	__u32 n;

	if (i >= c->vlen || c->left == 0)
		return 1;
	if (bpf_probe_read_user(&v, sizeof(v), (void *)(c->iov + i * sizeof(v))))
		return 1;
	n = v.iov_len < c->left ? v.iov_len : c->left;
	emit_segment(c->rec, (__u64)v.iov_base, n, c->seq, &c->budget);
	c->seq += n;
	c->left -= n;
	return 0;
}

static __always_inline void report_err(__u32 tgid, struct sock_call *call, long ret)
{
	struct sp_conn_event ev = {
		.type = SP_EV_CONN_ERR, .tgid = tgid, .fd = call->fd, .err = ret,
		.ts = bpf_ktime_get_ns(), .ssl = call->ssl, .dir = call->dir,
	};

	if (ret == 0 ? call->dir == SP_DIR_INGRESS
		     : (ret == -ECONNRESET || ret == -EPIPE || ret == -ETIMEDOUT ||
			ret == -ECONNABORTED))
		rb_emit(&ev, sizeof(ev));
}

/* b (after `{"`) starts with key and its closing quote. */
static __always_inline bool json_key_is(const char *b, const char *key, int n)
{
	for (int i = 0; i < n; i++)
		if (b[i] != key[i])
			return false;
	return b[n] == '"';
}

/* The first bytes a JSON-RPC message starts with, as JSON writers order its
 * keys: {"jsonrpc", or the TypeScript SDK's {"method" / {"result" / ...
 * (it adds jsonrpc last). Userspace decides for good from the whole line. */
static __always_inline __u8 sniff_jsonrpc(__u64 ubuf, __u32 len)
{
	char b[12] = {};

	if (len < sizeof(b) || bpf_probe_read_user(b, sizeof(b), (void *)ubuf))
		return STDIO_UNKNOWN;
	if (b[0] != '{' || b[1] != '"')
		return STDIO_OTHER;
	if (json_key_is(b + 2, "jsonrpc", 7) || json_key_is(b + 2, "method", 6) ||
	    json_key_is(b + 2, "id", 2) || json_key_is(b + 2, "result", 6) ||
	    json_key_is(b + 2, "error", 5) || json_key_is(b + 2, "params", 6))
		return STDIO_JSONRPC;
	return STDIO_OTHER;
}

static __always_inline int pipe_exit(__u32 tgid, __u32 tid, struct sock_call *call, long ret)
{
	struct stdio_state *st = bpf_map_lookup_elem(&stdio, &tgid);
	struct data_buf *rec;
	__u32 budget;
	__u64 first, seq;

	if (!st || ret <= 0)
		return 0;
	first = call->buf;
	if (call->vlen) {
		struct iovec v0 = {};

		bpf_probe_read_user(&v0, sizeof(v0), (void *)call->buf);
		first = (__u64)v0.iov_base;
	}
	if (st->verdict == STDIO_UNKNOWN) {
		__u8 v = sniff_jsonrpc(first, (__u32)ret);

		if (v == STDIO_UNKNOWN && ++st->sniffs >= 4)
			v = STDIO_OTHER;
		st->verdict = v;
	}
	if (st->verdict != STDIO_JSONRPC) {
		if (st->verdict == STDIO_OTHER)
			stdio_quiet(tgid, call->fd);
		return 0;
	}
	seq = __sync_fetch_and_add(&st->bytes[call->dir & 1], (__u64)ret);
	rec = data_begin(tgid, tid, SP_FD_STDIO, call->ts, 0, st->gen, (__u32)ret, SP_SRC_PIPE,
			 call->dir);
	if (!rec)
		return 0;
	budget = targ_max_capture;
	if (call->vlen) {
		struct iov_ctx ic = {
			.iov = call->buf, .vlen = call->vlen, .left = (__u32)ret,
			.budget = budget, .seq = seq, .rec = rec,
		};

		bpf_loop(SP_MAX_IOV, emit_iov, &ic, 0);
	} else {
		emit_segment(rec, call->buf, (__u32)ret, seq, &budget);
	}
	return 0;
}

static __always_inline int sock_exit(long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	struct sock_call *cp, call;
	struct conn_state *c;
	struct data_buf *rec;
	__u64 key, first, seq;
	__u32 budget;

	cp = bpf_map_lookup_elem(&sock_calls, &tid);
	if (!cp)
		return 0;
	call = *cp;
	bpf_map_delete_elem(&sock_calls, &tid);
	if (call.mode == SOCK_PIPE)
		return pipe_exit(tgid, tid, &call, ret);
	key = conn_key(tgid, call.fd);
	c = bpf_map_lookup_elem(&conns, &key);
	if (!c)
		return 0;
	if (ret <= 0) {
		if (c->proto != PROTO_OTHER)
			report_err(tgid, &call, ret);
		return 0;
	}
	if (call.mode == SOCK_CIPHER) {
		struct thread_state ts = { .last_cipher_fd = call.fd };

		bpf_map_update_elem(&threads, &tid, &ts, BPF_ANY);
		return 0;
	}
	if (call.mode != SOCK_CAPTURE)
		return 0;

	first = call.buf;
	if (call.vlen) {
		struct iovec v0 = {};

		bpf_probe_read_user(&v0, sizeof(v0), (void *)call.buf);
		first = (__u64)v0.iov_base;
	}
	if (c->proto == PROTO_UNKNOWN) {
		__u8 p = sniff(first, (__u32)ret);

		if (p == PROTO_UNKNOWN && ++c->sniffs >= SNIFF_LIMIT)
			p = PROTO_OTHER;
		c->proto = p;
		if (p != PROTO_HTTP)
			return 0;
	}
	if (c->proto != PROTO_HTTP)
		return 0;

	seq = __sync_fetch_and_add(&c->bytes[call.dir & 1], (__u64)ret);
	rec = data_begin(tgid, tid, call.fd, call.ts, 0, c->gen, (__u32)ret, SP_SRC_SOCK,
			 call.dir);
	if (!rec)
		return 0;
	budget = targ_max_capture;
	if (call.vlen) {
		struct iov_ctx ic = {
			.iov = call.buf, .vlen = call.vlen, .left = (__u32)ret,
			.budget = budget, .seq = seq, .rec = rec,
		};

		if (call.vlen > SP_MAX_IOV)
			count(SP_CNT_IOV_TRUNC, 1);
		bpf_loop(SP_MAX_IOV, emit_iov, &ic, 0);
	} else {
		emit_segment(rec, call.buf, (__u32)ret, seq, &budget);
	}
	return 0;
}

/* ---- read/write family ---- */

SEC("tracepoint/syscalls/sys_enter_write")
int sys_enter_write(struct trace_event_raw_sys_enter *ctx)
{
	return sock_enter(ctx->args[0], ctx->args[1], 0, SP_DIR_EGRESS);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int sys_enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	return sock_enter(ctx->args[0], ctx->args[1], 0, SP_DIR_EGRESS);
}

SEC("tracepoint/syscalls/sys_enter_writev")
int sys_enter_writev(struct trace_event_raw_sys_enter *ctx)
{
	return sock_enter(ctx->args[0], ctx->args[1], ctx->args[2], SP_DIR_EGRESS);
}

static __always_inline int msg_enter(struct trace_event_raw_sys_enter *ctx, __u8 dir)
{
	struct user_msghdr msg = {};

	if (bpf_probe_read_user(&msg, sizeof(msg), (void *)ctx->args[1]))
		return 0;
	return sock_enter(ctx->args[0], (__u64)msg.msg_iov, msg.msg_iovlen ?: 1, dir);
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int sys_enter_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	return msg_enter(ctx, SP_DIR_EGRESS);
}

SEC("tracepoint/syscalls/sys_enter_read")
int sys_enter_read(struct trace_event_raw_sys_enter *ctx)
{
	return sock_enter(ctx->args[0], ctx->args[1], 0, SP_DIR_INGRESS);
}

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int sys_enter_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	/* a peek reads the same bytes again later */
	if (ctx->args[3] & MSG_PEEK)
		return 0;
	return sock_enter(ctx->args[0], ctx->args[1], 0, SP_DIR_INGRESS);
}

SEC("tracepoint/syscalls/sys_enter_readv")
int sys_enter_readv(struct trace_event_raw_sys_enter *ctx)
{
	return sock_enter(ctx->args[0], ctx->args[1], ctx->args[2], SP_DIR_INGRESS);
}

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int sys_enter_recvmsg(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[2] & MSG_PEEK)
		return 0;
	return msg_enter(ctx, SP_DIR_INGRESS);
}

/*
 * sendfile(2) moves file bytes to a socket without passing them through
 * user memory: nothing to capture, but the stream offset must move, or a
 * body sent this way would swallow the next message. A hole record says
 * so (the decoder keeps Content-Length framing across it).
 */
SEC("tracepoint/syscalls/sys_enter_sendfile64")
int sys_enter_sendfile64(struct trace_event_raw_sys_enter *ctx)
{
	return sock_enter(ctx->args[0], 0, 0, SP_DIR_EGRESS);
}

SEC("tracepoint/syscalls/sys_exit_sendfile64")
int sys_exit_sendfile64(struct trace_event_raw_sys_exit *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	struct sock_call *cp = bpf_map_lookup_elem(&sock_calls, &tid);
	struct conn_state *c;
	struct data_buf *rec;
	__u64 key, seq;
	__s32 fd;

	if (!cp)
		return 0;
	fd = cp->fd;
	bpf_map_delete_elem(&sock_calls, &tid);
	key = conn_key(tgid, fd);
	c = bpf_map_lookup_elem(&conns, &key);
	if (!c || c->proto != PROTO_HTTP || ctx->ret <= 0)
		return 0;
	seq = __sync_fetch_and_add(&c->bytes[SP_DIR_EGRESS], (__u64)ctx->ret);
	rec = data_begin(tgid, tid, fd, 0, 0, c->gen, (__u32)ctx->ret, SP_SRC_SOCK, SP_DIR_EGRESS);
	if (rec)
		emit_hole(rec, seq + ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_write")
int sys_exit_write(struct trace_event_raw_sys_exit *ctx) { return sock_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_sendto")
int sys_exit_sendto(struct trace_event_raw_sys_exit *ctx) { return sock_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_writev")
int sys_exit_writev(struct trace_event_raw_sys_exit *ctx) { return sock_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_sendmsg")
int sys_exit_sendmsg(struct trace_event_raw_sys_exit *ctx) { return sock_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_read")
int sys_exit_read(struct trace_event_raw_sys_exit *ctx) { return sock_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_recvfrom")
int sys_exit_recvfrom(struct trace_event_raw_sys_exit *ctx) { return sock_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_readv")
int sys_exit_readv(struct trace_event_raw_sys_exit *ctx) { return sock_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_recvmsg")
int sys_exit_recvmsg(struct trace_event_raw_sys_exit *ctx) { return sock_exit(ctx->ret); }

/* ---- lifecycle ---- */

/*
 * Failed connects (SP_EV_CONNECT_FAIL), AF_INET/AF_INET6 stream sockets
 * only (never AF_UNIX: glibc probes nscd's socket from every process).
 * Three ways to fail, each reported once:
 *  - connect(2) returns the error (blocking, or no route at all):
 *    sys_exit_connect, with the address from the caller's sockaddr;
 *  - a non-blocking connect (-EINPROGRESS) whose handshake fails later
 *    (RST, ICMP, SYN retries exhausted): inet_sock_set_state SYN_SENT ->
 *    CLOSE, errno from sk->sk_err;
 *  - the process gives up (its own timeout) and closes a socket still in
 *    SYN_SENT: close(2), reported as ETIMEDOUT.
 * Whoever deletes the socket's socks entry reports it: a map delete
 * succeeds for one caller only, so the softirq and the syscall paths
 * never both do.
 */
static __always_inline void emit_connect_fail(__u32 tgid, __u32 tid, __s32 fd, __s32 err,
					      __u8 how, __u64 start, const struct sp_addr *remote)
{
	struct sp_connect_fail_event ev = {
		.type = SP_EV_CONNECT_FAIL, .tgid = tgid, .tid = tid, .fd = fd, .err = err,
		.how = how, .ts_start = start, .ts_end = bpf_ktime_get_ns(), .remote = *remote,
	};

	rb_emit(&ev, sizeof(ev));
}

/* The destination a connect(2) was given; false unless AF_INET/AF_INET6. */
static __always_inline bool user_sockaddr(__u64 uaddr, __u32 len, struct sp_addr *a)
{
	struct sockaddr_in6 sa = {};	/* sockaddr_in is a prefix of it */

	/* the kernel wants at least this much (inet_stream_connect,
	 * SIN6_LEN_RFC2133 for v6) and fails the call with EINVAL before */
	if (len < sizeof(struct sockaddr_in))
		return false;
	if (bpf_probe_read_user(&sa, 24, (void *)uaddr))
		return false;
	a->family = sa.sin6_family;
	a->port = bpf_ntohs(sa.sin6_port);
	if (sa.sin6_family == AF_INET) {
		__builtin_memcpy(a->v4, &((struct sockaddr_in *)&sa)->sin_addr, 4);
		return true;
	}
	if (sa.sin6_family == AF_INET6 && len >= 24) {
		__builtin_memcpy(a->v6, &sa.sin6_addr, 16);
		return true;
	}
	return false;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int sys_enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sock_call call = {
		.fd = ctx->args[0], .buf = ctx->args[1], .vlen = ctx->args[2],
		.ts = bpf_ktime_get_ns(),
	};
	__u32 tid = (__u32)pid_tgid;

	if (!traced_tgid(pid_tgid >> 32))
		return 0;
	bpf_map_update_elem(&sock_calls, &tid, &call, BPF_ANY);
	return 0;
}

/* connect(2) returned -EINPROGRESS (or was interrupted: -EINTR, or one of
 * the -ERESTART* codes a signal leaves at sys_exit before the call is
 * restarted; the handshake goes on in the background, connect(2)): follow
 * the socket, and keep when it started. */
static __always_inline void connect_pending(__u32 tgid, __u32 tid, struct sock_call *call)
{
	struct conn_state *c = conn_get(tgid, call->fd, SP_ROLE_CLIENT, true, NULL);
	struct sp_addr remote = {};
	struct sock *sk;
	int err;

	if (!c)
		return;
	c->connect_ts = call->ts;
	/* On loopback the peer's RST comes while connect(2) still holds the
	 * socket lock: tcp_v4_rcv queues it to the backlog, and release_sock()
	 * at the end of inet_stream_connect() runs tcp_reset() before the call
	 * returns -EINPROGRESS (6.x). Its SYN_SENT -> CLOSE went by while the
	 * socket was not in socks yet, so look now. */
	sk = (struct sock *)c->sk;
	if (BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_CLOSE)
		return;
	err = BPF_CORE_READ(sk, sk_err);
	if (!err || bpf_map_delete_elem(&socks, &c->sk))
		return;		/* no network error, or inet_sock_set_state had it */
	c->connect_echo = 1;
	if (user_sockaddr(call->buf, call->vlen, &remote))
		emit_connect_fail(tgid, tid, call->fd, -err, SP_CONNECT_LATER, call->ts, &remote);
}

/* connect(2) itself failed. */
static __always_inline void connect_returned(__u32 tgid, __u32 tid, struct sock_call *call,
					     long ret)
{
	struct sock *sk = fd_inet_sock(call->fd);
	__u64 key = conn_key(tgid, call->fd);
	struct sp_addr remote = {};
	struct conn_state *c;

	if (!sk)
		return;		/* not an inet stream socket (AF_UNIX, UDP) */
	c = bpf_map_lookup_elem(&conns, &key);
	if (c && c->sk == (__u64)sk && c->connect_echo) {
		/* a non-blocking connect's failure, already reported, said
		 * again to a connect(2) that checks on it */
		c->connect_echo = 0;
		return;
	}
	if (user_sockaddr(call->buf, call->vlen, &remote))
		emit_connect_fail(tgid, tid, call->fd, ret, SP_CONNECT_RETURNED, call->ts, &remote);
}

SEC("tracepoint/syscalls/sys_exit_connect")
int sys_exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	struct sock_call *cp, call;
	long ret = ctx->ret;

	cp = bpf_map_lookup_elem(&sock_calls, &tid);
	if (!cp)
		return 0;
	call = *cp;
	bpf_map_delete_elem(&sock_calls, &tid);
	if (ret == 0)
		conn_get(tgid, call.fd, SP_ROLE_CLIENT, true, NULL);
	else if (ret == -EINPROGRESS || ret == -EINTR ||
		 (ret <= -ERESTARTSYS && ret >= -ERESTART_RESTARTBLOCK))
		connect_pending(tgid, tid, &call);
	/* -EALREADY, -EISCONN: asked again while connecting or connected,
	 * not a failure */
	else if (ret != -EALREADY && ret != -EISCONN)
		connect_returned(tgid, tid, &call, ret);
	return 0;
}

static __always_inline int accept_exit(long ret)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (ret < 0 || !traced_tgid(tgid))
		return 0;
	conn_get(tgid, ret, SP_ROLE_SERVER, true, NULL);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int sys_exit_accept4(struct trace_event_raw_sys_exit *ctx) { return accept_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_accept")
int sys_exit_accept(struct trace_event_raw_sys_exit *ctx) { return accept_exit(ctx->ret); }

/* The fd stops being what we knew: at close, and when dup2/dup3 put
 * another file in its place. */
static __always_inline int forget_fd(__s32 fd, bool report)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 key = conn_key(tgid, fd);
	struct conn_state *c;
	struct sock *sk;

	if (!traced_tgid(tgid))
		return 0;
	bpf_map_delete_elem(&nonsock, &key);
	c = bpf_map_lookup_elem(&conns, &key);
	if (!c)
		return 0;
	/* the process gives up on a connect still in the handshake: its own
	 * timeout (Python's create_connection(timeout=...) closes it) */
	sk = (struct sock *)c->sk;
	if (!bpf_map_delete_elem(&socks, &c->sk) && c->connect_ts &&
	    BPF_CORE_READ(sk, __sk_common.skc_state) == TCP_SYN_SENT) {
		struct sp_addr local, remote;

		sk_addrs(sk, &local, &remote);
		emit_connect_fail(tgid, (__u32)bpf_get_current_pid_tgid(), fd, -ETIMEDOUT,
				  SP_CONNECT_ABANDONED, c->connect_ts, &remote);
	}
	if (c->ssl) {
		/* its TLS session ends with it: a new SSL* at the same
		 * address is a new session */
		struct tls_key tk = { .tgid = tgid, .ssl = c->ssl };

		bpf_map_delete_elem(&tls_streams, &tk);
	}
	if (report && (c->proto == PROTO_HTTP || c->proto == PROTO_TLS))
		emit_conn(SP_EV_CONN_CLOSE, tgid, fd, c->role, NULL);
	bpf_map_delete_elem(&conns, &key);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_close")
int sys_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	return forget_fd(ctx->args[0], true);
}

SEC("tracepoint/syscalls/sys_enter_dup2")
int sys_enter_dup2(struct trace_event_raw_sys_enter *ctx)
{
	return forget_fd(ctx->args[1], true);
}

SEC("tracepoint/syscalls/sys_enter_dup3")
int sys_enter_dup3(struct trace_event_raw_sys_enter *ctx)
{
	return forget_fd(ctx->args[1], true);
}

/*
 * A tracked TCP socket that drops from ESTABLISHED straight to CLOSE was
 * reset; one that drops from SYN_SENT never connected: its connect failed.
 * This runs in softirq context, so the owner is found through the socks
 * map rather than the current task. A socket closed by its owner has left
 * socks at close(2), before the kernel resets it.
 */
SEC("tracepoint/sock/inet_sock_set_state")
int inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 sk = (__u64)ctx->skaddr;
	struct sock *skp = (struct sock *)ctx->skaddr;
	struct sp_conn_event ev = { .type = SP_EV_CONN_ERR, .err = -ECONNRESET };
	struct sp_addr local, remote;
	struct conn_state *c;
	__u64 *key, k;
	int err;

	if (ctx->newstate != TCP_CLOSE ||
	    (ctx->oldstate != TCP_ESTABLISHED && ctx->oldstate != TCP_SYN_SENT))
		return 0;
	key = bpf_map_lookup_elem(&socks, &sk);
	if (!key)
		return 0;
	k = *key;
	if (bpf_map_delete_elem(&socks, &sk))
		return 0;	/* close(2) or connect's exit had it */
	if (ctx->oldstate == TCP_ESTABLISHED) {
		ev.tgid = k >> 32;
		ev.fd = (__s32)k;
		ev.ts = bpf_ktime_get_ns();
		ev.dir = SP_DIR_INGRESS;
		rb_emit(&ev, sizeof(ev));
		return 0;
	}
	/*
	 * The handshake failed. The kernel sets sk_err before tcp_done()
	 * moves the socket to CLOSE: tcp_reset() ECONNREFUSED in SYN_SENT,
	 * tcp_write_err() ETIMEDOUT (or sk_err_soft, e.g. EHOSTUNREACH from
	 * ICMP) when the SYN retries run out, tcp_v4_err()/tcp_v6_err() the
	 * ICMP error; through tcp_done_with_error() since 6.10, by hand
	 * before. No sk_err: nothing failed on the network, the socket was
	 * closed by an exiting process (no close(2)); no span for it.
	 */
	err = BPF_CORE_READ(skp, sk_err);
	if (!err)
		return 0;
	c = bpf_map_lookup_elem(&conns, &k);
	if (!c || c->sk != sk)
		return 0;
	c->connect_echo = 1;
	/* tcp_done() keeps the destination (only a failure inside
	 * tcp_v4_connect() clears inet_dport, and that one connect(2)
	 * returns itself) */
	sk_addrs(skp, &local, &remote);
	emit_connect_fail(k >> 32, 0, (__s32)k, -err, SP_CONNECT_LATER,
			  c->connect_ts ?: c->gen, &remote);
	return 0;
}
