/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Small reads of /proc/PID files, and wait(2) statuses, in one place. */
#ifndef SP_PROCFS_H
#define SP_PROCFS_H

#include <stddef.h>
#include <stdint.h>

/* Reads /proc/PID/what into buf (NUL-terminated); bytes read, 0 on error. */
size_t sp_procfs_read(uint32_t pid, const char *what, char *buf, size_t cap);
/* The parent pid from /proc/PID/stat: 0, or -errno. */
int sp_procfs_ppid(uint32_t pid, uint32_t *ppid);
/* The shell's convention for a wait(2) status: the exit code, or 128 +
 * the signal that killed it. */
int sp_wait_code(int wstatus);

#endif
