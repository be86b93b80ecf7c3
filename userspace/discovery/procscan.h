/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Walks of /proc at start: the processes that were there before us. */
#ifndef SP_PROCSCAN_H
#define SP_PROCSCAN_H

#include <stdint.h>

typedef void (*sp_procscan_fn)(void *ctx, uint32_t pid);

/* Calls fn for every running process but spanprobe itself. 0 or -errno. */
int sp_procscan_all(sp_procscan_fn fn, void *ctx);
/*
 * Calls fn for every running descendant of the nroots processes in roots
 * (not for the roots themselves), parents before children. Bounded: looks
 * at the first 65536 processes of /proc. 0 or -errno.
 */
int sp_procscan_descendants(const uint32_t *roots, int nroots, sp_procscan_fn fn, void *ctx);

#endif
