/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The HTML waterfall page of `spanprobe report --html`: one self-contained
 * file (inline CSS and JS, no network) with the report's data embedded. */
#ifndef SP_REPORT_HTML_H
#define SP_REPORT_HTML_H

#include <stddef.h>
#include <stdio.h>

/* Writes one self-contained HTML page to out: the waterfall viewer with the data embedded.
 * data_json is one JSON document (its schema: the comment at the top of waterfall.js),
 * already serialised by the report engine;
 * html.c escapes it for embedding inside a <script type="application/json"> element
 * (at least "</" -> "<\/" and U+2028/2029). Returns 0 or -errno. */
int sp_report_html(FILE *out, const char *title, const char *data_json, size_t len);

#endif
