// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Go's crypto/tls: the plaintext of (*tls.Conn).Write and (*tls.Conn).Read,
 * read in Go's register ABI (ABIInternal, Go >= 1.17 on amd64):
 *
 *   func (c *Conn) Write(b []byte) (int, error)
 *   func (c *Conn) Read(b []byte) (int, error)
 *     entry:   RAX = c, RBX = b.ptr, RCX = b.len    R14 = the current g
 *     return:  RAX = n, RBX/RCX = the error interface (itab, data)
 * (checked with gdb on Go 1.19's crypto/tls: README "TLS probes").
 *
 * No uretprobe: a uretprobe replaces the return address on the stack, and
 * Go moves goroutine stacks (and walks them, for GC and tracebacks), which
 * crashes the program. userspace/discovery/tls_go.c puts one uprobe at the
 * entry and one at every `ret` of each function, proven instruction
 * boundaries; the entry's state waits for the return keyed by (tgid, g,
 * direction): a goroutine that blocks in Read parks and may resume on
 * another thread, so the thread id (and its stack pointer, which moves
 * with the stack) cannot pair them; the g pointer stays. A call that never
 * returns through a `ret` (a panic) leaves an entry that the goroutine's
 * next call overwrites, or the LRU evicts.
 *
 * The socket. The fd is read from the *tls.Conn itself, at entry, not from
 * a nested syscall: a goroutine's read(2) may run on another thread than
 * the one that entered Read, and a Read served from crypto/tls's buffer
 * makes no syscall at all. The path, stable since Go 1.12 (checked on
 * 1.19 against the DWARF layout and with gdb):
 *   tls.Conn.conn            net.Conn interface at offset 0: {itab, data}
 *   data: *net.TCPConn       net.TCPConn{conn{fd *netFD}}: fd at offset 0
 *   netFD.pfd                internal/poll.FD at offset 0: fdMutex
 *                            {state uint64; rsema, wsema uint32}, then
 *                            Sysfd int at offset 16
 * Only when the interface holds a *net.TCPConn: its itab's first method
 * (fun[0], at offset 24: inter, _type, hash, pad before it) must be
 * net.(*TCPConn).Close, whose address relative to the probed instruction
 * userspace passes in the link's cookie (so a PIE's load address does not
 * matter). A Conn over anything else (net.Pipe, a wrapper type) is
 * skipped and counted (SP_CNT_GO_NOT_TCP): its fd, if any, is not where
 * we would read it, and guessing could cross two connections. Each
 * *tls.Conn has its own fd, so connections of one process never mix
 * whichever goroutine or thread runs them.
 */
#include "tls_common.bpf.h"

#define GO_COOKIE_ITAB	(1ull << 32)	/* low 32 bits: Close - probe address */

#define GO_ITAB_FUN0	24
#define GO_PFD_SYSFD	16

#if defined(__TARGET_ARCH_x86)
#define GO_ARG0(x)	((x)->ax)
#define GO_ARG1(x)	((x)->bx)
#define GO_ARG2(x)	((x)->cx)
#define GO_G(x)		((x)->r14)
#else
/* userspace attaches to x86-64 Go binaries only (tls_go.c); these read
 * arm64's ABIInternal (X0.. args, X28 = g) so the file builds there */
#define GO_ARG0(x)	((x)->regs[0])
#define GO_ARG1(x)	((x)->regs[1])
#define GO_ARG2(x)	((x)->regs[2])
#define GO_G(x)		((x)->regs[28])
#endif

struct go_key {
	__u32 tgid;
	__u32 dir;
	__u64 g;
};

struct go_call {
	struct tls_call call;
	__u64 len;		/* b.len: a result above it is not believed */
};

/* Calls in flight, one per (goroutine, direction): at most as many as
 * goroutines in Read or Write at once; least recently used evicted. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct go_key);
	__type(value, struct go_call);
} go_calls SEC(".maps");

/* The fd of the *net.TCPConn under the *tls.Conn c, or -1 (counted). */
static __always_inline __s32 go_conn_fd(struct pt_regs *ctx, __u64 c)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u64 iface[2], fun0, nfd;
	__s64 sysfd;

	if (!(cookie & GO_COOKIE_ITAB) ||
	    bpf_probe_read_user(iface, sizeof(iface), (void *)c) || !iface[0] ||
	    bpf_probe_read_user(&fun0, sizeof(fun0), (void *)(iface[0] + GO_ITAB_FUN0)) ||
	    fun0 != PT_REGS_IP(ctx) + (__s64)(__s32)cookie)
		goto other;
	if (bpf_probe_read_user(&nfd, sizeof(nfd), (void *)iface[1]) ||
	    bpf_probe_read_user(&sysfd, sizeof(sysfd), (void *)(nfd + GO_PFD_SYSFD)) ||
	    sysfd < 0 || sysfd > 0x7fffffff)
		goto other;
	return (__s32)sysfd;
other:
	count(SP_CNT_GO_NOT_TCP, 1);
	return -1;
}

static __always_inline int go_enter(struct pt_regs *ctx, __u8 dir)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct go_key key = { .tgid = tgid, .dir = dir, .g = GO_G(ctx) };
	struct go_call v = {};
	__u64 c = GO_ARG0(ctx);
	__s32 fd;

	if (!traced_tgid(tgid))
		return 0;
	fd = go_conn_fd(ctx, c);
	if (fd < 0) {
		/* not ours to report; an older entry of this goroutine is
		 * stale now */
		bpf_map_delete_elem(&go_calls, &key);
		return 0;
	}
	v.call.ssl = c;
	v.call.buf = GO_ARG1(ctx);
	v.call.ts = bpf_ktime_get_ns();
	v.call.fd = fd;
	v.call.dir = dir;
	v.len = GO_ARG2(ctx);
	if (bpf_map_update_elem(&go_calls, &key, &v, BPF_ANY))
		count(SP_CNT_CALL_TABLE_FULL, 1);
	return 0;
}

static __always_inline int go_exit(struct pt_regs *ctx, __u8 dir)
{
	struct go_key key = {
		.tgid = bpf_get_current_pid_tgid() >> 32, .dir = dir, .g = GO_G(ctx),
	};
	struct go_call *v = bpf_map_lookup_elem(&go_calls, &key);
	struct tls_call call;
	__s64 n = (__s64)GO_ARG0(ctx);
	__u64 len;

	if (!v)
		return 0;
	call = v->call;
	len = v->len;
	bpf_map_delete_elem(&go_calls, &key);
	if (n <= 0)
		return 0;
	if ((__u64)n > len)
		n = len;
	return tls_emit(&call, n);
}

SEC("uprobe")
int go_write_enter(struct pt_regs *ctx)
{
	return go_enter(ctx, SP_DIR_EGRESS);
}

SEC("uprobe")
int go_write_ret(struct pt_regs *ctx)
{
	return go_exit(ctx, SP_DIR_EGRESS);
}

SEC("uprobe")
int go_read_enter(struct pt_regs *ctx)
{
	return go_enter(ctx, SP_DIR_INGRESS);
}

SEC("uprobe")
int go_read_ret(struct pt_regs *ctx)
{
	return go_exit(ctx, SP_DIR_INGRESS);
}
