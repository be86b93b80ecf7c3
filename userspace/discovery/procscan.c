// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>
#include "discovery/procscan.h"
#include "util/procfs.h"

#define MAX_SCAN	65536

int sp_procscan_all(sp_procscan_fn fn, void *ctx)
{
	uint32_t self = (uint32_t)getpid();
	struct dirent *de;
	DIR *d = opendir("/proc");

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		uint32_t pid = strtoul(de->d_name, NULL, 10);

		if (pid && pid != self)
			fn(ctx, pid);
	}
	closedir(d);
	return 0;
}

int sp_procscan_descendants(const uint32_t *roots, int nroots, sp_procscan_fn fn, void *ctx)
{
	/* static: 640 KiB is too much for a stack, and this runs once */
	static uint32_t pid[MAX_SCAN], ppid[MAX_SCAN];
	static uint8_t in[MAX_SCAN];
	struct dirent *de;
	uint32_t n = 0;
	bool grew = true;
	DIR *d = opendir("/proc");

	if (!d)
		return -errno;
	while ((de = readdir(d)) && n < MAX_SCAN) {
		uint32_t p = strtoul(de->d_name, NULL, 10);

		if (!p || sp_procfs_ppid(p, &ppid[n]))
			continue;	/* not a pid, or gone already */
		pid[n] = p;
		in[n] = 0;
		for (int i = 0; i < nroots; i++)
			if (roots[i] == p)
				in[n] = 1;
		n++;
	}
	closedir(d);
	/* to a fixed point: /proc lists children before parents at times */
	while (grew) {
		grew = false;
		for (uint32_t i = 0; i < n; i++) {
			if (in[i])
				continue;
			for (uint32_t j = 0; j < n; j++) {
				if (in[j] && pid[j] == ppid[i]) {
					in[i] = 1;
					grew = true;
					fn(ctx, pid[i]);
					break;
				}
			}
		}
	}
	return 0;
}
