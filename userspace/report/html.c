// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* PLACEHOLDER until the html branch is merged (its html.c replaces this):
 * the data embedded in a bare page, no viewer. */
#include <errno.h>
#include <string.h>
#include "report/html.h"

int sp_report_html(FILE *out, const char *title, const char *data_json, size_t len)
{
	fprintf(out, "<!doctype html><title>%s</title><script type=\"application/json\" "
		"id=\"data\">", title);
	for (size_t i = 0; i < len; i++) {
		if (data_json[i] == '<' && i + 1 < len && data_json[i + 1] == '/')
			fputs("<\\", out);
		else
			fputc(data_json[i], out);
	}
	fputs("</script>\n", out);
	return ferror(out) ? -EIO : 0;
}
