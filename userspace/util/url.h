/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Request targets as HTTP/1 and HTTP/2 carry them (RFC 9112 section 3.2). */
#ifndef SP_URL_H
#define SP_URL_H

#include <stdbool.h>
#include <stddef.h>

/* True if target is in absolute-form ("http://host/path", via a proxy). */
bool sp_url_is_absolute(const char *target);
/*
 * The path of a request target, borrowed from target: itself in
 * origin-form, the part after the authority in absolute-form ("/" when
 * that is empty). *len, if not NULL, gets the path's length without the
 * query and fragment.
 */
const char *sp_url_path(const char *target, size_t *len);

#endif
