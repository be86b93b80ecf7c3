// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <string.h>
#include <strings.h>
#include "util/redact.h"

static bool in_list(const char *const *list, const char *name, size_t len)
{
	for (; *list; list++)
		if (strlen(*list) == len && !strncasecmp(*list, name, len))
			return true;
	return false;
}

bool sp_redact_header(const char *name, size_t len)
{
	static const char *const names[] = {
		"authorization", "proxy-authorization", "x-api-key", "api-key",
		"cookie", "set-cookie", "x-goog-api-key", "x-auth-token",
		"x-amz-security-token", "x-csrf-token", "x-xsrf-token",
		"ocp-apim-subscription-key", "x-access-token", "x-refresh-token",
		NULL,
	};

	if (in_list(names, name, len))
		return true;
	/* catch-all for vendor headers such as "x-foo-api-key", "x-bar-secret" */
	for (size_t i = 0; i + 6 <= len; i++)
		if (!strncasecmp(name + i, "secret", 6))
			return true;
	for (size_t i = 0; i + 7 <= len; i++)
		if (!strncasecmp(name + i, "api-key", 7) || !strncasecmp(name + i, "api_key", 7))
			return true;
	return false;
}

bool sp_redact_query_param(const char *name, size_t len)
{
	static const char *const names[] = {
		"key", "api_key", "apikey", "api-key", "access_token", "refresh_token",
		"id_token", "token", "auth", "password", "passwd", "secret",
		"client_secret", "sig", "signature", "x-goog-signature",
		"x-amz-signature", "x-amz-security-token", "x-amz-credential",
		"awsaccesskeyid", "code",
		NULL,
	};

	return in_list(names, name, len);
}

static size_t put(char *out, size_t cap, size_t at, const char *s, size_t n)
{
	if (at >= cap)
		return at;
	if (n > cap - 1 - at)
		n = cap - 1 - at;
	memcpy(out + at, s, n);
	return at + n;
}

size_t sp_redact_url(const char *url, size_t len, char *out, size_t cap)
{
	const char *end = url + len, *p = url, *q, *frag;
	size_t at = 0;

	if (!cap)
		return 0;
	/* scheme://userinfo@host: keep scheme and host, drop userinfo */
	q = memmem(url, len, "://", 3);
	if (q) {
		const char *auth = q + 3, *auth_end = auth, *at_sign = NULL;

		while (auth_end < end && *auth_end != '/' && *auth_end != '?' && *auth_end != '#')
			auth_end++;
		for (const char *s = auth; s < auth_end; s++)
			if (*s == '@')
				at_sign = s;
		at = put(out, cap, at, url, auth - url);
		p = at_sign ? at_sign + 1 : auth;
	}
	q = memchr(p, '?', end - p);
	frag = memchr(p, '#', end - p);
	if (!q || (frag && frag < q)) {
		at = put(out, cap, at, p, end - p);
		out[at] = 0;
		return at;
	}
	at = put(out, cap, at, p, q + 1 - p);
	p = q + 1;
	if (!frag)
		frag = end;
	while (p < frag) {
		const char *amp = p, *eq;

		/* a value ends at '&'; in a command line (a shell script in
		 * one argument) also at a blank or a quote */
		while (amp < frag && !strchr("& \t\n'\"", *amp))
			amp++;
		eq = memchr(p, '=', amp - p);
		if (eq && sp_redact_query_param(p, eq - p)) {
			at = put(out, cap, at, p, eq + 1 - p);
			at = put(out, cap, at, SP_REDACTED, strlen(SP_REDACTED));
		} else {
			at = put(out, cap, at, p, amp - p);
		}
		if (amp < frag && *amp == '&') {
			at = put(out, cap, at, "&", 1);
			p = amp + 1;
		} else {
			/* the URL ended: the rest is not a query */
			at = put(out, cap, at, amp, end - amp);
			out[at] = 0;
			return at;
		}
	}
	if (frag < end)
		at = put(out, cap, at, frag, end - frag);
	out[at] = 0;
	return at;
}
