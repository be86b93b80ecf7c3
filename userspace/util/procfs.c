// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "util/procfs.h"

size_t sp_procfs_read(uint32_t pid, const char *what, char *buf, size_t cap)
{
	char path[64];
	ssize_t n;
	int fd;

	if (!cap)
		return 0;
	buf[0] = 0;
	snprintf(path, sizeof(path), "/proc/%u/%s", pid, what);
	if (!strcmp(what, "exe")) {
		n = readlink(path, buf, cap - 1);
		if (n < 0)
			n = 0;
		buf[n] = 0;
		return n;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		n = 0;
	buf[n] = 0;
	return n;
}

size_t sp_procfs_reader(void *ctx, uint32_t pid, const char *what, char *buf, size_t cap)
{
	return sp_procfs_read(pid, what, buf, cap);
}

int sp_procfs_parse_ppid(const char *stat, uint32_t *ppid)
{
	/* "pid (comm) state ppid ...": comm may hold spaces and ')' */
	const char *s = strrchr(stat, ')');

	if (!s || sscanf(s + 1, " %*c %u", ppid) != 1)
		return -EINVAL;
	return 0;
}

int sp_procfs_ppid(uint32_t pid, uint32_t *ppid)
{
	char buf[512];

	if (!sp_procfs_read(pid, "stat", buf, sizeof(buf)))
		return -ENOENT;
	return sp_procfs_parse_ppid(buf, ppid);
}

int sp_wait_code(int wstatus)
{
	return WIFSIGNALED(wstatus) ? 128 + WTERMSIG(wstatus) : WEXITSTATUS(wstatus);
}
