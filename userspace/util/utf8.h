/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* UTF-8 checks: OTLP strings must be valid UTF-8, and wire bytes are not. */
#ifndef SP_UTF8_H
#define SP_UTF8_H

#include <stddef.h>

/* Length of the valid UTF-8 sequence at p (1-4; left bytes there), or 0
 * if it is not one (bad lead, cut, overlong, surrogate, past U+10FFFF). */
size_t sp_utf8_seq(const unsigned char *p, size_t left);
/* Makes a NUL-terminated string valid UTF-8 in place: each byte that is
 * not part of a valid sequence (a name cut mid-character, a Latin-1 path)
 * becomes '?'. */
void sp_utf8_fix(char *str);

#endif
