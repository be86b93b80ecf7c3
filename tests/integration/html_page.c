// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* html_page DATA.json OUT.html [TITLE]: the waterfall page of the report
 * data in DATA.json, as `spanprobe report --html` writes it (html_cases.py). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "report/html.h"

int main(int argc, char **argv)
{
	FILE *in = NULL, *out = NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	int err = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: %s DATA.json OUT.html [TITLE]\n", argv[0]);
		return 2;
	}
	in = fopen(argv[1], "rb");
	if (!in) {
		err = -errno;
		fprintf(stderr, "html_page: cannot open %s: %s\n", argv[1], strerror(-err));
		goto cleanup;
	}
	do {
		if (len == cap) {
			char *p = realloc(buf, cap = cap ? 2 * cap : 1 << 16);

			if (!p) {
				err = -ENOMEM;
				goto cleanup;
			}
			buf = p;
		}
		n = fread(buf + len, 1, cap - len, in);
		len += n;
	} while (n);
	if (ferror(in)) {
		err = -EIO;
		fprintf(stderr, "html_page: cannot read %s\n", argv[1]);
		goto cleanup;
	}
	out = fopen(argv[2], "w");
	if (!out) {
		err = -errno;
		fprintf(stderr, "html_page: cannot create %s: %s\n", argv[2], strerror(-err));
		goto cleanup;
	}
	err = sp_report_html(out, argc > 3 ? argv[3] : NULL, buf, len);
	if (err)
		fprintf(stderr, "html_page: cannot write %s: %s\n", argv[2], strerror(-err));
cleanup:
	if (out && fclose(out) && !err)
		err = -errno;
	if (in)
		fclose(in);
	free(buf);
	return err ? 1 : 0;
}
