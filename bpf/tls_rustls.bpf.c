// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * rustls's TLS plaintext (0.20, 0.21: Rust programs built with symbols;
 * userspace/discovery/tls_rustls.c finds the functions by demangled name).
 * Everything but the arguments, the return values and the connection
 * key is in tls_common.bpf.h.
 *
 * The stream key is the connection's CommonState (every connection has
 * one, it does not move while the connection is used, and it is `self`
 * of the three CommonState functions probed):
 *   CommonState::send_some_plaintext(&mut self, &[u8]) -> usize
 *       egress plaintext: rdi self, rsi buf, rdx len; rax bytes taken.
 *       It only buffers: the socket write comes later, in write_tls.
 *   CommonState::write_tls(&mut self, &mut dyn io::Write) -> io::Result
 *       the tie: the send(2)/write(2) nested in it names the socket for
 *       sure (sock.bpf.c fills the call's fd, as for OpenSSL), and its
 *       return binds (tgid, CommonState) to that fd. The handshake's first
 *       flight goes out through write_tls, so every connection is tied
 *       before its first plaintext moves, whatever thread does it.
 *   CommonState::take_received_plaintext(&mut self, Payload), or where
 *   rustc inlined it (1.95) CommonState::decrypt_incoming(&mut self, ..)
 *       only `self` is read: the connection whose records this thread
 *       decrypted last (rustls_last_cs). decrypt_incoming returns a large
 *       Result through a hidden pointer in rdi, so self is then in rsi:
 *       both are kept, and only one that is a tied connection is used.
 *   <rustls::conn::Reader as std::io::Read>::read(&mut self, &mut [u8])
 *       ingress plaintext. Reader borrows &mut CommonState.received_plaintext
 *       (its first word; its two bools follow at +8, +9: checked in the
 *       code of rustc 1.63 and 1.95), so CommonState = that pointer - k,
 *       where k, the field's offset, is one constant per binary (CommonState
 *       is not generic). k is learnt once per process, from a read that
 *       follows take_received_plaintext on the same thread (rustls decrypts
 *       into the buffer, then the caller reads it), and only when 0 <= k <
 *       4096 and the CommonState it gives is a tied connection; from then on
 *       every read finds its connection by subtraction, never by what the
 *       thread did last, so two connections on one thread never cross.
 *       A read whose CommonState is no tied connection is not emitted
 *       (counted: SP_CNT_TLS_UNTIED, in the exit line).
 *   The return convention of io::Result<usize> differs between compilers
 *   (verified by reading the code): rustc 1.63 returns it through a hidden
 *   pointer (rdi = out, rsi = self, rdx = buf, rcx = len; rax = out at the
 *   return, *out = 0 for Ok, *(out+8) = bytes); rustc 1.95 in registers
 *   (rdi = self, rsi = buf, rdx = len; rax = 0 for Ok, rdx = bytes). The
 *   entry keeps rdi, rsi, rdx; the return tells the two apart by rax
 *   (the out pointer, a stack address, can never be 0 or 1).
 */
#include "tls_common.bpf.h"

struct rustls_last {
	__u64 cs[2];		/* rdi, rsi: one of them is self */
};

/* tid -> the CommonState this thread last decrypted into */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct rustls_last);
} rustls_last_cs SEC(".maps");

struct rustls_off {
	__u64 k;		/* offset of received_plaintext in CommonState */
	__u32 exec_id;		/* the image it was learnt in: an exec relearns */
	__u32 pad;
};

/* tgid -> the offset, once learnt (LRU: an evicted one is learnt again) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct rustls_off);
} rustls_k SEC(".maps");

#define RUSTLS_K_MAX	4096	/* CommonState is well under this in 0.20/0.21 */
#define RUSTLS_LEN_MAX	(1u << 30)

SEC("uprobe")
int BPF_KPROBE(rustls_send_enter, void *cs, const void *buf)
{
	return tls_call_push(ctx, SP_DIR_EGRESS, (__u64)cs, (__u64)buf, 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(rustls_send_exit)
{
	struct tls_call call;
	__u64 n;

	if (tls_call_pop(ctx, &call))
		return 0;
	n = PT_REGS_RC(ctx);
	if (n == 0 || n > RUSTLS_LEN_MAX)
		return 0;
	return tls_emit(&call, n);
}

SEC("uprobe")
int BPF_KPROBE(rustls_tie_enter, void *cs)
{
	return tls_call_push(ctx, SP_DIR_EGRESS, (__u64)cs, 0, 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(rustls_tie_exit)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	struct tls_stream *st;
	struct tls_call call;
	struct tls_key key;
	bool created;

	if (tls_call_pop(ctx, &call) || call.fd < 0)
		return 0;
	key.tgid = tgid;
	key.pad = 0;
	key.ssl = call.ssl;
	st = tls_stream_get(&key, &created);
	if (!st)
		return 0;
	if (!tls_bind(st, &call, tgid, tid) && created)
		pid_keys_note(tgid, -1, PK_TLS);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(rustls_note_enter, void *a0, void *a1)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct rustls_last v = { .cs = { (__u64)a0, (__u64)a1 } };

	if (!traced_tgid(pid_tgid >> 32))
		return 0;
	bpf_map_update_elem(&rustls_last_cs, &tid, &v, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(rustls_note_exit)
{
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(rustls_read_enter, void *a0, void *a1, void *a2)
{
	/* which of these is self and which the buffer is known at the
	 * return (see the header) */
	return tls_call_push(ctx, SP_DIR_INGRESS, (__u64)a0, (__u64)a1, (__u64)a2);
}

/* The CommonState behind the Reader at user address self, or 0. */
static __always_inline __u64 reader_conn(__u32 tgid, __u32 tid, __u64 self)
{
	struct tls_key key = { .tgid = tgid };
	struct rustls_off *k, nk = { .exec_id = current_exec_id() };
	struct rustls_last *last;
	__u64 r = 0, d;

	if (bpf_probe_read_user(&r, sizeof(r), (void *)self) || !r)
		return 0;
	k = bpf_map_lookup_elem(&rustls_k, &tgid);
	if (k && k->exec_id == nk.exec_id) {
		key.ssl = r - k->k;
		return bpf_map_lookup_elem(&tls_streams, &key) ? key.ssl : 0;
	}
	last = bpf_map_lookup_elem(&rustls_last_cs, &tid);
	if (!last)
		return 0;
	for (int i = 0; i < 2; i++) {
		d = r - last->cs[i];
		key.ssl = last->cs[i];
		if (d >= RUSTLS_K_MAX || !bpf_map_lookup_elem(&tls_streams, &key))
			continue;
		nk.k = d;
		bpf_map_update_elem(&rustls_k, &tgid, &nk, BPF_ANY);
		return key.ssl;
	}
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(rustls_read_exit)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	/* rdx at the return: the count when Ok comes back in registers.
	 * Read first, so that clang cannot fold it into an offset ctx
	 * access the verifier refuses */
	__u64 rax = PT_REGS_RC(ctx), rdx = PT_REGS_PARM3(ctx), self, buf, n = 0, res[2];
	struct tls_call call;

	asm volatile("" : "+r"(rdx));

	if (tls_call_pop(ctx, &call))
		return 0;
	if (rax == call.ssl) {
		/* returned through the hidden out pointer (rustc 1.63) */
		if (bpf_probe_read_user(res, sizeof(res), (void *)rax) || res[0] != 0)
			return 0;
		n = res[1];
		self = call.buf;
		buf = call.out_len;
	} else if (rax == 0) {
		/* Ok in registers (rustc 1.95): the count in rdx */
		n = rdx;
		self = call.ssl;
		buf = call.buf;
	} else {
		return 0;
	}
	if (n == 0 || n > RUSTLS_LEN_MAX)
		return 0;
	call.ssl = reader_conn(tgid, tid, self);
	if (!call.ssl) {
		count(SP_CNT_TLS_UNTIED, 1);
		return 0;
	}
	call.buf = buf;
	call.out_len = 0;
	return tls_emit(&call, n);
}
