// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <string.h>
#include "util/url.h"

bool sp_url_is_absolute(const char *target)
{
	return strstr(target, "://") != NULL;
}

const char *sp_url_path(const char *target, size_t *len)
{
	const char *scheme_end = strstr(target, "://"), *path = target;

	if (scheme_end) {
		path = strchr(scheme_end + 3, '/');
		if (!path)
			path = "/";
	}
	if (len)
		*len = strcspn(path, "?#");
	return path;
}
