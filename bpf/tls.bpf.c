// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * TLS plaintext: uprobes and uretprobes on OpenSSL's read/write functions.
 *
 * Two argument contracts are probed:
 *   int SSL_write(SSL *, const void *buf, int num)        -> bytes, or <= 0
 *   int SSL_write_ex(SSL *, const void *buf, size_t num, size_t *written)
 *                                                         -> 1, *written bytes
 * (and the read twins). OpenSSL's internal ssl_{read,write}_internal share
 * the _ex contract with "> 0 on success", so userspace may attach the _ex
 * programs there instead (see userspace/discovery/tls_attach.c for why).
 *
 * The socket under an SSL* is learnt from the syscall nested in the call
 * (sock.bpf.c writes tls_call.fd); for TLS stacks that use a memory BIO
 * (node), from the last TLS socket the thread read before SSL_read.
 */
#include "spanprobe.bpf.h"

static __always_inline int tls_enter(struct pt_regs *ctx, __u8 dir, bool ex)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	struct tls_stack *st, fresh = {};
	__u64 sp = PT_REGS_SP(ctx), ssl = PT_REGS_PARM1(ctx);
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
	 * that never returned through their probe (longjmp, a lost probe) */
	for (int i = 0; i < TLS_DEPTH; i++) {
		if (n == 0 || st->c[BOUNDED(n - 1, TLS_DEPTH - 1)].sp > sp)
			break;
		n--;
	}
	if (n > 0) {
		c = &st->c[BOUNDED(n - 1, TLS_DEPTH - 1)];
		/* OpenSSL calling itself (SSL_write -> SSL_write_ex in some
		 * versions): the outer call reports these bytes */
		if (c->ssl == ssl && c->dir == dir) {
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
	c->ssl = ssl;
	c->buf = PT_REGS_PARM2(ctx);
	c->out_len = ex ? PT_REGS_PARM4(ctx) : 0;
	c->sp = sp;
	c->ts = bpf_ktime_get_ns();
	c->fd = -1;
	c->dir = dir;
	st->n = n + 1;
	return 0;
}

static __always_inline int tls_exit(struct pt_regs *ctx, bool ex)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	struct tls_key key = { .tgid = tgid };
	struct tls_stream *st, fresh = { .fd = -1, .gen = bpf_ktime_get_ns() };
	struct tls_stack *stk;
	struct tls_call *c = NULL, call;
	struct data_buf *rec;
	__u32 n;
	__u64 len, seq;
	__u32 budget;
	int ret;

	stk = bpf_map_lookup_elem(&tls_calls, &tid);
	if (!stk)
		return 0;
	/* the return of a call we saw enter pops its return address: find
	 * that call; any entered after it never returned through a probe */
	n = stk->n;
	if (n > TLS_DEPTH)
		n = TLS_DEPTH;
	for (int i = 0; i < TLS_DEPTH; i++) {
		if (n == 0)
			return 0;
		c = &stk->c[BOUNDED(n - 1, TLS_DEPTH - 1)];
		n--;
		if (PT_REGS_SP(ctx) == c->sp + 8)
			break;
		if (i == TLS_DEPTH - 1)
			return 0;
	}
	call = *c;
	stk->n = n;

	ret = (int)PT_REGS_RC(ctx);
	if (ret <= 0)
		return 0;
	if (ex) {
		size_t n = 0;

		if (bpf_probe_read_user(&n, sizeof(n), (void *)call.out_len))
			return 0;
		len = n;
	} else {
		len = ret;
	}
	if (len == 0)
		return 0;

	key.ssl = call.ssl;
	st = bpf_map_lookup_elem(&tls_streams, &key);
	if (!st) {
		bpf_map_update_elem(&tls_streams, &key, &fresh, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&tls_streams, &key);
		if (!st) {
			count(SP_CNT_CONN_TABLE_FULL, 1);
			return 0;
		}
	}
	/* The syscall nested in the call names the socket for sure. A
	 * different one than we knew means the SSL* address was freed and
	 * reused for a new connection: a new stream. */
	if (call.fd >= 0 && st->fd >= 0 && call.fd != st->fd) {
		st->bytes[0] = st->bytes[1] = 0;
		st->gen = bpf_ktime_get_ns();
		st->fd = -1;
	}
	if (st->fd < 0) {
		__s32 fd = call.fd;

		if (fd < 0 && call.dir == SP_DIR_INGRESS) {
			struct thread_state *ts = bpf_map_lookup_elem(&threads, &tid);

			if (ts)
				fd = ts->last_cipher_fd;
		}
		if (fd >= 0) {
			struct sp_tls_bind_event ev = {
				.type = SP_EV_TLS_BIND, .tgid = tgid, .fd = fd, .ssl = call.ssl,
			};
			__u64 ck = conn_key(tgid, fd);
			struct conn_state *c = bpf_map_lookup_elem(&conns, &ck);

			st->fd = fd;
			/* so that closing the socket ends the session too */
			if (c)
				c->ssl = call.ssl;
			rb_emit(&ev, sizeof(ev));
		}
	}

	seq = __sync_fetch_and_add(&st->bytes[call.dir & 1], len);
	rec = data_begin(tgid, tid, st->fd, call.ts, call.ssl, st->gen, (__u32)len, SP_SRC_TLS,
			 call.dir);
	if (!rec)
		return 0;
	budget = targ_max_capture;
	emit_segment(rec, call.buf, (__u32)len, seq, &budget);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_enter)
{
	return tls_enter(ctx, SP_DIR_EGRESS, false);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_write_exit)
{
	return tls_exit(ctx, false);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_enter)
{
	return tls_enter(ctx, SP_DIR_INGRESS, false);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_exit)
{
	return tls_exit(ctx, false);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_ex_enter)
{
	return tls_enter(ctx, SP_DIR_EGRESS, true);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_write_ex_exit)
{
	return tls_exit(ctx, true);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_ex_enter)
{
	return tls_enter(ctx, SP_DIR_INGRESS, true);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_ex_exit)
{
	return tls_exit(ctx, true);
}
