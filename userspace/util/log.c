// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include "util/log.h"

int sp_log_level = SP_LOG_INFO;

void sp_log(int level, const char *fmt, ...)
{
	static const char *const tag[] = { "error: ", "warning: ", "", "debug: " };
	va_list ap;

	if (level > sp_log_level)
		return;
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
