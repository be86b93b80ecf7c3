/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Output files that hold what spanprobe captured. */
#ifndef SP_OFILE_H
#define SP_OFILE_H

/*
 * Creates (or truncates) path for writing, owner-only (0600 even when it
 * existed with a wider mode), never through a symlink: spanprobe runs as
 * root and writes URLs, command lines and payloads. The fd (O_CLOEXEC),
 * or -errno; nothing is logged.
 */
int sp_open_private(const char *path);

#endif
