// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * OpenSSL's TLS plaintext: uprobes and uretprobes on its read/write
 * functions. Everything but reading the arguments and the return value is
 * in tls_common.bpf.h.
 *
 * Two argument contracts are probed:
 *   int SSL_write(SSL *, const void *buf, int num)        -> bytes, or <= 0
 *   int SSL_write_ex(SSL *, const void *buf, size_t num, size_t *written)
 *                                                         -> 1, *written bytes
 * (and the read twins). OpenSSL's internal ssl_{read,write}_internal share
 * the _ex contract with "> 0 on success", so userspace may attach the _ex
 * programs there instead (see userspace/discovery/tls_openssl.c for why).
 */
#include "tls_common.bpf.h"

static __always_inline int ssl_exit(struct pt_regs *ctx, bool ex)
{
	struct tls_call call;
	size_t n = 0;
	int ret;

	if (tls_call_pop(ctx, &call))
		return 0;
	ret = (int)PT_REGS_RC(ctx);
	if (ret <= 0)
		return 0;
	if (!ex)
		return tls_emit(&call, ret);
	if (bpf_probe_read_user(&n, sizeof(n), (void *)call.out_len))
		return 0;
	return tls_emit(&call, n);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_enter, void *ssl, const void *buf)
{
	return tls_call_push(ctx, SP_DIR_EGRESS, (__u64)ssl, (__u64)buf, 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_write_exit)
{
	return ssl_exit(ctx, false);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_enter, void *ssl, void *buf)
{
	return tls_call_push(ctx, SP_DIR_INGRESS, (__u64)ssl, (__u64)buf, 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_exit)
{
	return ssl_exit(ctx, false);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_ex_enter, void *ssl, const void *buf, size_t num, size_t *written)
{
	return tls_call_push(ctx, SP_DIR_EGRESS, (__u64)ssl, (__u64)buf, (__u64)written);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_write_ex_exit)
{
	return ssl_exit(ctx, true);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_ex_enter, void *ssl, void *buf, size_t num, size_t *readbytes)
{
	return tls_call_push(ctx, SP_DIR_INGRESS, (__u64)ssl, (__u64)buf, (__u64)readbytes);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_ex_exit)
{
	return ssl_exit(ctx, true);
}
