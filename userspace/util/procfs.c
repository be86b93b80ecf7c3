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

int sp_procfs_ppid(uint32_t pid, uint32_t *ppid)
{
	char buf[512];
	const char *s;

	/* "pid (comm) state ppid ...": comm may hold spaces and ')' */
	if (!sp_procfs_read(pid, "stat", buf, sizeof(buf)))
		return -ENOENT;
	s = strrchr(buf, ')');
	if (!s || sscanf(s + 2, "%*c %u", ppid) != 1)
		return -EINVAL;
	return 0;
}

int sp_wait_code(int wstatus)
{
	return WIFSIGNALED(wstatus) ? 128 + WTERMSIG(wstatus) : WEXITSTATUS(wstatus);
}
