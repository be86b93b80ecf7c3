// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Processes: fork, exec and exit, so that userspace knows the process tree
 * and the filter follows a traced command's descendants without a race
 * (the child is added to "traced" before it can run).
 *
 * Raw tracepoints: they need no tracefs and hand us the task_structs.
 */
#include "spanprobe.bpf.h"

static __always_inline struct sp_proc_event *proc_begin(__u32 type, __u32 tgid)
{
	struct sp_proc_event *ev = bpf_ringbuf_reserve(&rb, sizeof(*ev), 0);

	if (!ev) {
		count(SP_CNT_RB_FULL, 1);
		return NULL;
	}
	ev->type = type;
	ev->tgid = tgid;
	ev->ts = bpf_ktime_get_ns();
	ev->ppid = 0;
	ev->exit_code = 0;
	ev->args_len = 0;
	ev->filename[0] = 0;
	return ev;
}

/* Proc records are rare and userspace wants exec promptly (to attach to a
 * new binary before it runs TLS code), so they wake it up. */
static __always_inline void proc_submit(struct sp_proc_event *ev)
{
	bpf_ringbuf_submit(ev, BPF_RB_FORCE_WAKEUP);
}

SEC("raw_tracepoint/sched_process_fork")
int sched_process_fork(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *parent = (void *)ctx->args[0];
	struct task_struct *child = (void *)ctx->args[1];
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	struct sp_proc_event *ev;
	__u8 one = 1;

	if (ctgid == ptgid || !traced_tgid(ptgid))
		return 0;	/* a new thread, or not ours */
	if (!targ_all && bpf_map_update_elem(&traced, &ctgid, &one, BPF_ANY))
		count(SP_CNT_CONN_TABLE_FULL, 1);
	ev = proc_begin(SP_EV_PROC_FORK, ctgid);
	if (!ev)
		return 0;
	ev->ppid = ptgid;
	BPF_CORE_READ_STR_INTO(&ev->comm, child, comm);
	proc_submit(ev);
	return 0;
}

SEC("raw_tracepoint/sched_process_exec")
int sched_process_exec(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (void *)ctx->args[0];
	struct linux_binprm *bprm = (void *)ctx->args[2];
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct sp_proc_event *ev;
	unsigned long start, end;
	long n;

	if (!traced_tgid(tgid))
		return 0;
	ev = proc_begin(SP_EV_PROC_EXEC, tgid);
	if (!ev)
		return 0;
	ev->ppid = BPF_CORE_READ(task, real_parent, tgid);
	BPF_CORE_READ_STR_INTO(&ev->comm, task, comm);
	bpf_probe_read_kernel_str(ev->filename, sizeof(ev->filename),
				  BPF_CORE_READ(bprm, filename));
	/* the new image's argv: current is the exec'ing task */
	start = BPF_CORE_READ(task, mm, arg_start);
	end = BPF_CORE_READ(task, mm, arg_end);
	n = end - start;
	if (n > SP_ARGS_LEN)
		n = SP_ARGS_LEN;
	if (n > 0 && n <= SP_ARGS_LEN && !bpf_probe_read_user(ev->args, n, (void *)start))
		ev->args_len = n;
	proc_submit(ev);
	return 0;
}

SEC("raw_tracepoint/sched_process_exit")
int sched_process_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (void *)ctx->args[0];
	__u32 tgid = BPF_CORE_READ(task, tgid), tid = BPF_CORE_READ(task, pid);
	struct sp_proc_event *ev;

	/* a thread that dies inside SSL_read or read(2) never returns: its
	 * in-flight entries go now, before its tid is reused */
	bpf_map_delete_elem(&tls_calls, &tid);
	bpf_map_delete_elem(&sock_calls, &tid);
	bpf_map_delete_elem(&threads, &tid);
	/* the process ends with its leader thread */
	if (tid != tgid)
		return 0;
	bpf_map_delete_elem(&stdio, &tgid);
	if (!traced_tgid(tgid))
		return 0;
	if (!targ_all)
		bpf_map_delete_elem(&traced, &tgid);
	ev = proc_begin(SP_EV_PROC_EXIT, tgid);
	if (!ev)
		return 0;
	ev->exit_code = BPF_CORE_READ(task, exit_code);
	BPF_CORE_READ_STR_INTO(&ev->comm, task, comm);
	proc_submit(ev);
	return 0;
}
