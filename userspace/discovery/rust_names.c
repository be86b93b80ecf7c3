// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
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

/* ---- v0 (RFC 2603) ---- */

struct v0 {
	const char *s;		/* the symbol past "_R" */
	size_t n, pos;
	char *out;
	size_t cap, o;
	int depth;
};

static int v0_puts(struct v0 *v, const char *p, size_t n)
{
	if (v->o + n >= v->cap)
		return -1;
	memcpy(v->out + v->o, p, n);
	v->o += n;
	return 0;
}

/* base62-number: "_" is 0, else digits [0-9a-zA-Z] then "_", value + 1 */
static int v0_base62(struct v0 *v, uint64_t *val)
{
	uint64_t x = 0;

	if (v->pos < v->n && v->s[v->pos] == '_') {
		v->pos++;
		*val = 0;
		return 0;
	}
	while (v->pos < v->n && v->s[v->pos] != '_') {
		char c = v->s[v->pos++];
		int d;

		if (isdigit((unsigned char)c))
			d = c - '0';
		else if (islower((unsigned char)c))
			d = 10 + c - 'a';
		else if (isupper((unsigned char)c))
			d = 36 + c - 'A';
		else
			return -1;
		if (x > (UINT64_MAX - 61) / 62)
			return -1;
		x = x * 62 + (uint64_t)d;
	}
	if (v->pos >= v->n)
		return -1;
	v->pos++;
	*val = x + 1;
	return 0;
}

static int v0_disambiguator(struct v0 *v)
{
	uint64_t skip;

	if (v->pos < v->n && v->s[v->pos] == 's') {
		v->pos++;
		return v0_base62(v, &skip);
	}
	return 0;
}

/* identifier: [disambiguator] decimal ["_"] bytes (punycode "u": refused) */
static int v0_ident(struct v0 *v, bool print)
{
	size_t len = 0;

	if (v0_disambiguator(v) || v->pos >= v->n || v->s[v->pos] == 'u')
		return -1;
	if (!isdigit((unsigned char)v->s[v->pos]))
		return -1;
	while (v->pos < v->n && isdigit((unsigned char)v->s[v->pos])) {
		len = len * 10 + (size_t)(v->s[v->pos++] - '0');
		if (len > 4096)
			return -1;
	}
	if (v->pos < v->n && v->s[v->pos] == '_')
		v->pos++;
	if (len > v->n - v->pos)
		return -1;
	if (print && v0_puts(v, v->s + v->pos, len))
		return -1;
	v->pos += len;
	return 0;
}

static int v0_path(struct v0 *v);

/* An impl-path: parsed, not printed (rustc-demangle does not print it). */
static int v0_skip_path(struct v0 *v)
{
	size_t o = v->o;
	int r = v0_path(v);

	v->o = o;
	return r;
}

/* A backref: parses the path (or type) at an earlier position, then goes
 * on after the reference. */
static int v0_backref(struct v0 *v, int (*what)(struct v0 *))
{
	uint64_t at;
	size_t back;
	int r;

	if (v0_base62(v, &at) || at >= v->pos - 1)
		return -1;	/* must point backwards, before this B */
	back = v->pos;
	v->pos = (size_t)at;
	r = what(v);
	v->pos = back;
	return r;
}

/* The types an impl's self type is here: paths, & and &mut of them. */
static int v0_type(struct v0 *v)
{
	char c;

	if (v->pos >= v->n)
		return -1;
	c = v->s[v->pos];
	if (c == 'R' || c == 'Q') {
		v->pos++;
		if (v->pos < v->n && v->s[v->pos] == 'L') {	/* a lifetime: not printed */
			uint64_t lt;

			v->pos++;
			if (v0_base62(v, &lt))
				return -1;
		}
		if (v0_puts(v, c == 'R' ? "&" : "&mut ", c == 'R' ? 1 : 5))
			return -1;
		return v0_type(v);
	}
	if (c == 'B') {
		v->pos++;
		return v0_backref(v, v0_type);
	}
	if (c == 'C' || c == 'M' || c == 'X' || c == 'Y' || c == 'N')
		return v0_path(v);
	return -1;	/* generics, basic types, ...: not a name we match */
}

static int v0_path(struct v0 *v)
{
	char c;
	int r = -1;

	if (v->pos >= v->n || ++v->depth > 64)
		return -1;
	c = v->s[v->pos++];
	switch (c) {
	case 'C':	/* crate root: its name, without the hash */
		r = v0_ident(v, true);
		break;
	case 'M':	/* inherent impl: printed as the type, as legacy names read */
		r = v0_disambiguator(v) || v0_skip_path(v) ? -1 : v0_type(v);
		break;
	case 'X':	/* <Type as Trait> */
	case 'Y':
		if (c == 'X' && (v0_disambiguator(v) || v0_skip_path(v)))
			break;
		if (v0_puts(v, "<", 1) || v0_type(v) || v0_puts(v, " as ", 4) || v0_path(v) ||
		    v0_puts(v, ">", 1))
			break;
		r = 0;
		break;
	case 'N': {	/* a namespace: only the plain ones (lowercase) */
		char ns = v->pos < v->n ? v->s[v->pos++] : 0;

		if (!islower((unsigned char)ns) || v0_path(v) || v0_puts(v, "::", 2))
			break;
		r = v0_ident(v, true);
		break;
	}
	case 'B':
		r = v0_backref(v, v0_path);
		break;
	default:	/* I (generic args) and the rest: not matched */
		break;
	}
	v->depth--;
	return r;
}

static int v0_demangle(const char *sym, char *out, size_t cap)
{
	struct v0 v = { .s = sym, .n = strlen(sym), .out = out, .cap = cap };
	const char *dot = strchr(sym, '.');

	/* a suffix (.llvm.N): LLVM's local clone, not matched (see below) */
	if (dot)
		return -1;
	if (v0_path(&v))
		return -1;
	/* an instantiating crate may follow (generic code); nothing else */
	if (v.pos < v.n) {
		size_t o = v.o;

		if (v.s[v.pos] != 'C' || v0_path(&v) || v.pos != v.n)
			return -1;
		v.o = o;
	}
	out[v.o] = 0;
	return (int)v.o;
}

int sp_rust_demangle(const char *sym, char *out, size_t cap)
{
	const char *p = sym;
	size_t o = 0;
	bool first = true, hashed = false;

	if (!cap)
		return -1;
	if (!strncmp(p, "__ZN", 4) || !strncmp(p, "__R", 3))	/* the Mach-O spelling */
		p++;
	if (p[0] == '_' && p[1] == 'R' && isupper((unsigned char)p[2]))
		return v0_demangle(p + 2, out, cap);
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
