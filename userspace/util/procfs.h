/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Small reads of /proc/PID files, and wait(2) statuses, in one place. */
#ifndef SP_PROCFS_H
#define SP_PROCFS_H

#include <stddef.h>
#include <stdint.h>

/* Reads /proc/PID/what into buf (NUL-terminated); bytes read, 0 on error.
 * what "exe" reads the link's target. */
size_t sp_procfs_read(uint32_t pid, const char *what, char *buf, size_t cap);
/* Where process facts come from: /proc in a live run, a recording in
 * replay. what is "stat", "comm", "cmdline", "environ" or "exe"; contract
 * as sp_procfs_read's. */
typedef size_t (*sp_proc_read_fn)(void *ctx, uint32_t pid, const char *what, char *buf,
				  size_t cap);
/* sp_proc_read_fn over the live /proc (ctx unused). */
size_t sp_procfs_reader(void *ctx, uint32_t pid, const char *what, char *buf, size_t cap);

/* The parent pid from /proc/PID/stat: 0, or -errno. */
int sp_procfs_ppid(uint32_t pid, uint32_t *ppid);
/* The parent pid from the text of a stat file: 0, or -EINVAL. */
int sp_procfs_parse_ppid(const char *stat, uint32_t *ppid);
/* The shell's convention for a wait(2) status: the exit code, or 128 +
 * the signal that killed it. */
int sp_wait_code(int wstatus);

#endif
