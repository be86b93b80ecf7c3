// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "util/ofile.h"

int sp_open_private(const char *path)
{
	struct stat st;
	int fd, err;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	/* O_CREAT's mode only applies to a new file. Only a regular file is
	 * made private: `-o /dev/null` or `-o /dev/stdout` as root must not
	 * chmod the device node (a 0600 /dev/null breaks apt and much else) */
	if (fstat(fd, &st)) {
		err = -errno;
		close(fd);
		return err;
	}
	if (S_ISREG(st.st_mode) && fchmod(fd, 0600)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}
