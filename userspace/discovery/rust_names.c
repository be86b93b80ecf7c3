// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include "discovery/rust_names.h"

/* `$..$` escapes of the legacy mangling (rustc_symbol_mangling/legacy.rs) */
static const struct {
	const char *esc;
	char c;
} escapes[] = {
	{ "$SP$", '@' }, { "$BP$", '*' }, { "$RF$", '&' }, { "$LT$", '<' }, { "$GT$", '>' },
	{ "$LP$", '(' }, { "$RP$", ')' }, { "$C$", ',' },  { "$u20$", ' ' }, { "$u27$", '\'' },
	{ "$u5b$", '[' }, { "$u5d$", ']' }, { "$u7b$", '{' }, { "$u7d$", '}' }, { "$u7e$", '~' },
	{ "$u3b$", ';' }, { "$u2b$", '+' }, { "$u22$", '"' },
};

static bool is_hash(const char *p, size_t n)
{
	if (n != 17 || p[0] != 'h')
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isxdigit((unsigned char)p[i]))
			return false;
	return true;
}

static int put(char *out, size_t cap, size_t *o, char c)
{
	if (*o + 1 >= cap)
		return -1;
	out[(*o)++] = c;
	return 0;
}

/* One component: escapes decoded, `..` as `::`, a leading `_$` as `$`. */
static int component(const char *p, size_t n, char *out, size_t cap, size_t *o)
{
	size_t i = 0;

	if (n >= 2 && p[0] == '_' && p[1] == '$')
		i = 1;
	while (i < n) {
		if (p[i] == '$') {
			size_t k;

			for (k = 0; k < sizeof(escapes) / sizeof(escapes[0]); k++) {
				size_t el = strlen(escapes[k].esc);

				if (i + el <= n && !memcmp(p + i, escapes[k].esc, el)) {
					if (put(out, cap, o, escapes[k].c))
						return -1;
					i += el;
					break;
				}
			}
			if (k == sizeof(escapes) / sizeof(escapes[0]))
				return -1;	/* an escape we do not know: not ours */
		} else if (p[i] == '.' && i + 1 < n && p[i + 1] == '.') {
			if (put(out, cap, o, ':') || put(out, cap, o, ':'))
				return -1;
			i += 2;
		} else {
			if (put(out, cap, o, p[i]))
				return -1;
			i++;
		}
	}
	return 0;
}

int sp_rust_demangle(const char *sym, char *out, size_t cap)
{
	const char *p = sym;
	size_t o = 0;
	bool first = true, hashed = false;

	if (!cap)
		return -1;
	if (!strncmp(p, "__ZN", 4))	/* the Mach-O spelling */
		p++;
	if (strncmp(p, "_ZN", 3))
		return -1;
	p += 3;
	while (*p != 'E') {
		size_t n = 0;

		if (!isdigit((unsigned char)*p) || hashed)
			return -1;
		while (isdigit((unsigned char)*p)) {
			n = n * 10 + (size_t)(*p++ - '0');
			if (n > 4096)
				return -1;
		}
		if (strnlen(p, n) < n)
			return -1;
		if (is_hash(p, n) && p[n] == 'E') {
			hashed = true;	/* the last component: dropped */
			p += n;
			continue;
		}
		if (!first && (put(out, cap, &o, ':') || put(out, cap, &o, ':')))
			return -1;
		if (component(p, n, out, cap, &o))
			return -1;
		first = false;
		p += n;
	}
	/* rustc always ends a legacy name with its hash; a C++ _ZN...E name
	 * has none. A suffix after E (.llvm.123) marks LLVM's local clone,
	 * whose calling convention LLVM may have changed: not matched */
	if (!hashed || first || p[1])
		return -1;
	out[o] = 0;
	return (int)o;
}

int sp_rustls_func(const char *d)
{
	static const char *const names[SP_RUSTLS_NFUNCS + 1][2] = {
		[SP_RUSTLS_SEND] = { "rustls::conn::CommonState::send_some_plaintext",
				     "rustls::common_state::CommonState::send_some_plaintext" },
		[SP_RUSTLS_TIE] = { "rustls::conn::CommonState::write_tls",
				    "rustls::common_state::CommonState::write_tls" },
		[SP_RUSTLS_NOTE] = { "rustls::conn::CommonState::take_received_plaintext",
				     "rustls::common_state::CommonState::take_received_plaintext" },
		[SP_RUSTLS_READ] = { "<rustls::conn::Reader as std::io::Read>::read",
				     "<rustls::conn::connection::Reader as std::io::Read>::read" },
		[SP_RUSTLS_NOTE_ALT] = { "rustls::conn::CommonState::decrypt_incoming",
					 "rustls::common_state::CommonState::decrypt_incoming" },
	};

	for (int f = 0; f <= SP_RUSTLS_NOTE_ALT; f++)
		for (int i = 0; i < 2; i++)
			if (!strcmp(d, names[f][i]))
				return f;
	return -1;
}
