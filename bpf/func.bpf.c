// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Function probes (--probe BINARY:SYMBOL) and USDT probes (--usdt
 * BINARY:PROVIDER:NAME): one generic program of each kind, attached once
 * per probe by userspace (userspace/discovery/func_probe.c), which puts
 * the probe's id in the attach cookie. The programs keep no state: each
 * entry, return and USDT hit is one SP_EV_FUNC record, and userspace pairs
 * entries with returns by thread and stack pointer (assemble/func_span.c),
 * which also copes with frames that never return (longjmp, exit).
 *
 * bpf_get_attach_cookie() works for uprobes since Linux 5.15 (BPF links
 * for perf events); libbpf's USDT support keeps the cookie for its own
 * spec id and hands ours back through bpf_usdt_cookie().
 */
/* for RET_SP_ADJ only: how a return's stack pointer relates to its entry's */
#include "tls_common.bpf.h"
#include <bpf/usdt.bpf.h>

/*
 * Whether this entry came through a tail call from a probed function: the
 * caller's uretprobe has already put the trampoline (the first slot of the
 * process's uprobe XOL area) where the return address is, which is how
 * the kernel itself tells a chained return from a frame left by longjmp
 * (kernel/events/uprobes.c prepare_uretprobe). Entry handlers run before
 * their own uretprobe's hijack, so a plain call shows the real address.
 */
static __always_inline bool entry_chained(struct pt_regs *ctx)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	__u64 tramp = BPF_CORE_READ(task, mm, uprobes_state.xol_area, vaddr), ra = 0;

	if (!tramp)
		return false;
#if defined(__TARGET_ARCH_x86)
	/* `call` pushed it: it is at the top of the stack */
	bpf_probe_read_user(&ra, sizeof(ra), (void *)PT_REGS_SP(ctx));
#elif defined(__TARGET_ARCH_arm64)
	ra = PT_REGS_RET(ctx);	/* the link register */
#endif
	return ra == tramp;
}

static __always_inline void func_emit(struct pt_regs *ctx, __u64 probe, __u8 what)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	struct sp_func_event ev = {};

	if (!traced_tgid(tgid) || probe >= SP_FUNC_MAX_PROBES)
		return;
	ev.type = SP_EV_FUNC;
	ev.tgid = tgid;
	ev.tid = (__u32)pid_tgid;
	ev.probe = (__u16)probe;
	ev.what = what;
	ev.ts = bpf_ktime_get_ns();
	ev.sp = PT_REGS_SP(ctx);
	if (what == SP_FUNC_ENTRY) {
		ev.nargs = 2;
		ev.args[0] = PT_REGS_PARM1(ctx);
		ev.args[1] = PT_REGS_PARM2(ctx);
		if (entry_chained(ctx))
			ev.flags = SP_FUNC_F_TAIL;
	} else if (what == SP_FUNC_RETURN) {
		ev.sp -= RET_SP_ADJ;
		ev.ret = (__s64)PT_REGS_RC(ctx);
	} else {
		int n = bpf_usdt_arg_cnt(ctx);

		ev.nargs = n > 0 ? n : 0;
		for (int i = 0; i < SP_FUNC_ARGS; i++) {
			long v;

			if (i >= n || bpf_usdt_arg(ctx, i, &v))
				break;
			ev.args[i] = v;
		}
	}
	rb_emit(&ev, sizeof(ev));
}

SEC("uprobe")
int func_enter(struct pt_regs *ctx)
{
	func_emit(ctx, bpf_get_attach_cookie(ctx), SP_FUNC_ENTRY);
	return 0;
}

SEC("uretprobe")
int func_return(struct pt_regs *ctx)
{
	func_emit(ctx, bpf_get_attach_cookie(ctx), SP_FUNC_RETURN);
	return 0;
}

SEC("usdt")
int func_usdt(struct pt_regs *ctx)
{
	func_emit(ctx, bpf_usdt_cookie(ctx), SP_FUNC_USDT);
	return 0;
}
