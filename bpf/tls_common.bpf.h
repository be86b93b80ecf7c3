/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What every TLS library's probes share: the per-thread stack of TLS calls
 * in flight, and the stream/record path that turns one call's plaintext
 * into SP_EV_DATA records (and ties the session to its socket).
 *
 * The contract for a library's file (bpf/tls_<lib>.bpf.c, one per library):
 *   entry probe:  tls_call_push(ctx, dir, conn, buf, out_len)
 *                 conn    the library's per-session pointer (SSL *, ...):
 *                         the stream is keyed by (tgid, conn)
 *                 buf     the plaintext buffer
 *                 out_len a user pointer the library writes the byte count
 *                         to before it returns, or 0
 *   return probe: tls_call_pop(ctx, &call) finds the entry this return
 *                 belongs to (0, or -1: not ours); the library then turns
 *                 its return convention into a byte count and calls
 *                 tls_emit(&call, len) when len > 0.
 * The library's file reads the arguments (PT_REGS_PARMn for a C ABI) and
 * knows nothing else; everything below is library-neutral.
 */
#ifndef SP_TLS_COMMON_BPF_H
#define SP_TLS_COMMON_BPF_H

#include "spanprobe.bpf.h"

/*
 * Stack pointer at a return probe minus the stack pointer at the matching
 * entry probe: how a return is paired with its entry.
 *  - x86-64: `call` pushed the 8-byte return address, and the entry probe
 *    runs with it on the stack top (spanprobe probes a function's first
 *    instruction, or the one after an endbr64, which does not touch the
 *    stack); `ret` pops it, so at the return probe SP = entry SP + 8.
 *  - arm64: `bl` leaves the return address in the link register (x30) and
 *    does not touch SP; the function restores SP before `ret`, and the
 *    kernel's uretprobe trampoline is entered by that `ret`, so at the
 *    return probe SP = entry SP.
 * Any other architecture needs its own reasoning here, not a guess.
 */
#if defined(__TARGET_ARCH_x86)
#define RET_SP_ADJ 8
#elif defined(__TARGET_ARCH_arm64)
#define RET_SP_ADJ 0
#else
#error "tls_common.bpf.h: RET_SP_ADJ (entry vs return stack pointer) is only worked out for x86 and arm64; build with -D__TARGET_ARCH_x86 or -D__TARGET_ARCH_arm64"
#endif

/* Pushes a call on the thread's TLS stack. Always returns 0 (a probe's
 * return value). */
static __always_inline int tls_call_push(struct pt_regs *ctx, __u8 dir, __u64 conn, __u64 buf,
					 __u64 out_len)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	struct tls_stack *st, fresh = {};
	__u64 sp = PT_REGS_SP(ctx);
	struct tls_call *c;
	__u32 n;

	if (!traced_tgid(tgid))
		return 0;
	st = bpf_map_lookup_elem(&tls_calls, &tid);
	if (!st) {
		if (bpf_map_update_elem(&tls_calls, &tid, &fresh, BPF_ANY)) {
			count(SP_CNT_CALL_TABLE_FULL, 1);
			return 0;
		}
		st = bpf_map_lookup_elem(&tls_calls, &tid);
		if (!st)
			return 0;
	}
	n = st->n;
	if (n > TLS_DEPTH)
		n = 0;
	/* entries at or below our stack pointer are not our callers: calls
	 * that never returned through their probe (longjmp, a lost probe).
	 * The stack grows down on both x86 and arm64. */
	for (int i = 0; i < TLS_DEPTH; i++) {
		if (n == 0 || st->c[BOUNDED(n - 1, TLS_DEPTH - 1)].sp > sp)
			break;
		n--;
	}
	if (n > 0) {
		c = &st->c[BOUNDED(n - 1, TLS_DEPTH - 1)];
		/* the library calling itself (OpenSSL's SSL_write ->
		 * SSL_write_ex in some versions): the outer call reports
		 * these bytes */
		if (c->ssl == conn && c->dir == dir) {
			st->n = n;
			return 0;
		}
	}
	if (n == TLS_DEPTH) {
		count(SP_CNT_CALL_TABLE_FULL, 1);
		st->n = n;
		return 0;
	}
	c = &st->c[BOUNDED(n, TLS_DEPTH - 1)];
	c->ssl = conn;
	c->buf = buf;
	c->out_len = out_len;
	c->sp = sp;
	c->ts = bpf_ktime_get_ns();
	c->fd = -1;
	c->dir = dir;
	st->n = n + 1;
	return 0;
}

/* Pops the call this return belongs to into *call: 0, or -1 when the
 * thread has no matching entry (probes attached mid-call, or not ours). */
static __always_inline int tls_call_pop(struct pt_regs *ctx, struct tls_call *call)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 ret_sp = PT_REGS_SP(ctx);
	struct tls_stack *stk;
	struct tls_call *c = NULL;
	__u32 n;

	stk = bpf_map_lookup_elem(&tls_calls, &tid);
	if (!stk)
		return -1;
	/* the return of a call we saw enter: find that call; any entered
	 * after it never returned through a probe */
	n = stk->n;
	if (n > TLS_DEPTH)
		n = TLS_DEPTH;
	for (int i = 0; i < TLS_DEPTH; i++) {
		if (n == 0)
			return -1;
		c = &stk->c[BOUNDED(n - 1, TLS_DEPTH - 1)];
		n--;
		if (ret_sp == c->sp + RET_SP_ADJ)
			break;
		if (i == TLS_DEPTH - 1)
			return -1;
	}
	*call = *c;
	stk->n = n;
	return 0;
}

/* The stream of (tgid, conn), created on first use (*created set); NULL
 * when the table cannot take it (counted). */
static __always_inline struct tls_stream *tls_stream_get(struct tls_key *key, bool *created)
{
	struct tls_stream *st, fresh = { .fd = -1, .gen = bpf_ktime_get_ns() };

	*created = false;
	st = bpf_map_lookup_elem(&tls_streams, key);
	if (st)
		return st;
	*created = !bpf_map_update_elem(&tls_streams, key, &fresh, BPF_NOEXIST);
	st = bpf_map_lookup_elem(&tls_streams, key);
	if (!st)
		count(SP_CNT_CONN_TABLE_FULL, 1);
	return st;
}

/* Ties the stream to its socket, once known: the fd of the syscall nested
 * in the call, or (memory BIO, node) the TLS socket this thread read last
 * before a read. True when the socket's conns entry now names the session
 * (closing the socket, or the sweep after exit, finds it from there). */
static __always_inline bool tls_bind(struct tls_stream *st, const struct tls_call *call,
				     __u32 tgid, __u32 tid)
{
	/* The syscall nested in the call names the socket for sure. A
	 * different one than we knew means the session pointer was freed and
	 * reused for a new connection: a new stream. */
	if (call->fd >= 0 && st->fd >= 0 && call->fd != st->fd) {
		st->bytes[0] = st->bytes[1] = 0;
		st->gen = bpf_ktime_get_ns();
		st->fd = -1;
	}
	if (st->fd < 0) {
		__s32 fd = call->fd;

		if (fd < 0 && call->dir == SP_DIR_INGRESS) {
			struct thread_state *ts = bpf_map_lookup_elem(&threads, &tid);

			if (ts)
				fd = ts->last_cipher_fd;
		}
		if (fd < 0)
			return false;

		struct sp_tls_bind_event ev = {
			.type = SP_EV_TLS_BIND, .tgid = tgid, .fd = fd, .ssl = call->ssl,
		};
		__u64 ck = conn_key(tgid, fd);
		struct conn_state *c = bpf_map_lookup_elem(&conns, &ck);

		st->fd = fd;
		rb_emit(&ev, sizeof(ev));
		/* so that closing the socket ends the session too */
		if (!c)
			return false;
		c->ssl = call->ssl;
	}
	return true;
}

/* Emits len plaintext bytes of a finished call at the stream's offset. */
static __always_inline int tls_emit(const struct tls_call *call, __u64 len)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	struct tls_key key = { .tgid = tgid, .ssl = call->ssl };
	struct tls_stream *st;
	struct data_buf *rec;
	bool created;
	__u32 budget;
	__u64 seq;

	if (len == 0)
		return 0;
	st = tls_stream_get(&key, &created);
	if (!st)
		return 0;
	/* a session its socket's entry does not name (node's first write,
	 * before any read names the socket): only a walk of tls_streams
	 * finds it after the process exits */
	if (!tls_bind(st, call, tgid, tid) && created)
		pid_keys_note(tgid, -1, PK_TLS);
	seq = __sync_fetch_and_add(&st->bytes[call->dir & 1], len);
	rec = data_begin(tgid, tid, st->fd, call->ts, call->ssl, st->gen, (__u32)len, SP_SRC_TLS,
			 call->dir);
	if (!rec)
		return 0;
	budget = targ_max_capture;
	emit_segment(rec, call->buf, (__u32)len, seq, &budget);
	return 0;
}

#endif /* SP_TLS_COMMON_BPF_H */
