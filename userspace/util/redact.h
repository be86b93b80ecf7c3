/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Credentials never leave the machine. Header values and URL parts that
 * carry secrets are replaced by SP_REDACTED before any span is built.
 */
#ifndef SP_REDACT_H
#define SP_REDACT_H

#include <stdbool.h>
#include <stddef.h>

#define SP_REDACTED "REDACTED"

/* True if a header of this name carries a credential (case-insensitive). */
bool sp_redact_header(const char *name, size_t len);
/* True if a query parameter of this name carries a credential. */
bool sp_redact_query_param(const char *name, size_t len);
/*
 * Copies url to out (capacity cap, always NUL-terminated), dropping any
 * userinfo ("user:pass@") and replacing secret query values by REDACTED.
 * Returns the length written.
 */
size_t sp_redact_url(const char *url, size_t len, char *out, size_t cap);

#endif
