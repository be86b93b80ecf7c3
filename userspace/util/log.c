// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "util/log.h"

int sp_log_level = SP_LOG_INFO;

static _Atomic int status_shown;

void sp_status_clear(void)
{
	/* one write(2), so a clear from another thread lands whole */
	if (__atomic_exchange_n(&status_shown, 0, __ATOMIC_ACQ_REL) &&
	    write(STDERR_FILENO, "\r\033[K", 4) < 0)
		return;
}

void sp_status_line(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	line[0] = '\r';
	va_start(ap, fmt);
	n = vsnprintf(line + 1, sizeof(line) - 5, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	n = n + 1 < (int)sizeof(line) - 4 ? n + 1 : (int)sizeof(line) - 5;
	memcpy(line + n, "\033[K", 3);	/* erase what a longer line left */
	if (write(STDERR_FILENO, line, n + 3) == n + 3)
		__atomic_store_n(&status_shown, 1, __ATOMIC_RELEASE);
}

void sp_log(int level, const char *fmt, ...)
{
	static const char *const tag[] = { "error: ", "warning: ", "", "debug: " };
	va_list ap;

	if (level > sp_log_level)
		return;
	sp_status_clear();
	va_start(ap, fmt);
	fprintf(stderr, "spanprobe: %s", tag[level]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int sp_parse_u32(const char *what, const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-' || n < min || n > max) {
		sp_err("invalid %s '%s': expected a whole number from %u to %u", what, v, min, max);
		return -EINVAL;
	}
	*out = n;
	return 0;
}
