/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* PLACEHOLDER until the html branch is merged (its html.h replaces this). */
#ifndef SP_REPORT_HTML_H
#define SP_REPORT_HTML_H

#include <stddef.h>
#include <stdio.h>

int sp_report_html(FILE *out, const char *title, const char *data_json, size_t len);

#endif
