// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The page is waterfall.html with @TITLE@, @CSS@, @DATA@ and @JS@ filled in
 * (waterfall.css, the escaped data, waterfall.js); the three files reach this
 * object as C strings generated at build time (build/gen/report_assets.h).
 */
#include <errno.h>
#include <string.h>
#include "report/html.h"
#include "report_assets.h"	/* build/gen: waterfall_html, waterfall_css, waterfall_js */

static int put(FILE *out, const char *p, size_t n)
{
	errno = 0;
	if (n && fwrite(p, 1, n, out) != n)
		return errno ? -errno : -EIO;
	return 0;
}

static int puts_n(FILE *out, const char *s)
{
	return put(out, s, strlen(s));
}

/* Text for <title> and the page's heading. */
static int put_text(FILE *out, const char *s)
{
	int err = 0;

	for (; *s && !err; s++) {
		switch (*s) {
		case '&': err = puts_n(out, "&amp;"); break;
		case '<': err = puts_n(out, "&lt;"); break;
		case '>': err = puts_n(out, "&gt;"); break;
		case '"': err = puts_n(out, "&quot;"); break;
		case '\'': err = puts_n(out, "&#39;"); break;
		default: err = put(out, s, 1);
		}
	}
	return err;
}

/*
 * The data inside <script type="application/json">, which the HTML parser
 * ends at the first "</script" and treats "<!--" specially (the "script data
 * escaped" states of the HTML standard, 13.2.5): every '<' becomes \u003c,
 * which JSON allows only inside a string, the one place a '<' can be in
 * valid JSON. U+2028 and U+2029 (E2 80 A8/A9) become \u2028/\u2029 so the
 * text stays a valid JavaScript string literal too, and NUL (which the HTML
 * parser turns into U+FFFD) \u0000.
 */
static int put_json(FILE *out, const char *s, size_t len)
{
	size_t i, from = 0;
	int err = 0;

	for (i = 0; i < len && !err; i++) {
		const char *esc = NULL;
		size_t skip = 1;

		if (s[i] == '<')
			esc = "\\u003c";
		else if (s[i] == '\0')
			esc = "\\u0000";
		else if ((unsigned char)s[i] == 0xe2 && i + 2 < len &&
			 (unsigned char)s[i + 1] == 0x80 &&
			 ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9)) {
			esc = (unsigned char)s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029";
			skip = 3;
		}
		if (!esc)
			continue;
		err = put(out, s + from, i - from);
		if (!err)
			err = puts_n(out, esc);
		i += skip - 1;
		from = i + 1;
	}
	if (!err)
		err = put(out, s + from, len - from);
	return err;
}

int sp_report_html(FILE *out, const char *title, const char *data_json, size_t len)
{
	const char *t = waterfall_html, *at;
	int err = 0;

	if (!out || (!data_json && len))
		return -EINVAL;
	if (!title || !*title)
		title = "spanprobe report";
	while (!err && (at = strchr(t, '@'))) {
		err = put(out, t, at - t);
		if (err)
			break;
		if (!strncmp(at, "@TITLE@", 7))
			err = put_text(out, title), t = at + 7;
		else if (!strncmp(at, "@CSS@", 5))
			err = puts_n(out, waterfall_css), t = at + 5;
		else if (!strncmp(at, "@DATA@", 6))
			err = put_json(out, data_json ? data_json : "", len), t = at + 6;
		else if (!strncmp(at, "@JS@", 4))
			err = puts_n(out, waterfall_js), t = at + 4;
		else
			err = put(out, at, 1), t = at + 1;
	}
	if (!err)
		err = puts_n(out, t);
	errno = 0;
	if (!err && fflush(out))
		err = errno ? -errno : -EIO;
	return err;
}
