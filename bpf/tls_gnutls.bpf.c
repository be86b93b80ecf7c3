// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * GnuTLS's TLS plaintext (wget, git over https, apt, curl-gnutls):
 * uprobes and uretprobes on its record functions. Everything but reading
 * the arguments and the return value is in tls_common.bpf.h.
 *
 *   ssize_t gnutls_record_send2(gnutls_session_t, const void *data,
 *                               size_t size, size_t pad, unsigned flags)
 *   ssize_t gnutls_record_send(gnutls_session_t, const void *data, size_t)
 *   ssize_t gnutls_record_recv(gnutls_session_t, void *data, size_t)
 *                                                    -> bytes, or <= 0
 * (userspace/discovery/tls_gnutls.c says which are probed: send is a tail
 * call into send2 since GnuTLS 3.6.3). The session pointer keys the stream;
 * the socket is learnt from the send(2)/recv(2) GnuTLS makes inside the
 * call, as for OpenSSL.
 */
#include "tls_common.bpf.h"

static __always_inline int record_exit(struct pt_regs *ctx)
{
	struct tls_call call;
	long ret;

	if (tls_call_pop(ctx, &call))
		return 0;
	ret = (long)PT_REGS_RC(ctx);
	if (ret <= 0)
		return 0;
	return tls_emit(&call, ret);
}

SEC("uprobe")
int BPF_KPROBE(gnutls_send_enter, void *session, const void *data)
{
	return tls_call_push(ctx, SP_DIR_EGRESS, (__u64)session, (__u64)data, 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(gnutls_send_exit)
{
	return record_exit(ctx);
}

SEC("uprobe")
int BPF_KPROBE(gnutls_recv_enter, void *session, void *data)
{
	return tls_call_push(ctx, SP_DIR_INGRESS, (__u64)session, (__u64)data, 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(gnutls_recv_exit)
{
	return record_exit(ctx);
}
