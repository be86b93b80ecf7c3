// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "discovery/func_probe.h"
#include "kernel/loader.h"
#include "spanprobe.h"
#include "util/log.h"

#define MAX_CANDS	8	/* listed in an ambiguity error */
#define MAX_USDT_SHOWN	8	/* listed when a USDT probe is not found */
#define VERSYM_HIDDEN	0x8000	/* .gnu.version: not the default version */
#define NT_STAPSDT	3

/* the code spanprobe's programs read registers and stacks of (as BPF is
 * built for the host: bpf/func.bpf.c) */
#if defined(__x86_64__)
#define MULTIARCH "x86_64-linux-gnu"
#define HOST_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define MULTIARCH "aarch64-linux-gnu"
#define HOST_MACHINE EM_AARCH64
#else
#define MULTIARCH "unknown"
#define HOST_MACHINE EM_NONE
#endif

/* where a library named without a path is looked for, after PATH */
static const char *const lib_dirs[] = {
	"/lib/" MULTIARCH, "/usr/lib/" MULTIARCH, "/lib64", "/usr/lib64", "/lib", "/usr/lib",
	"/usr/local/lib",
};

/* The parts of a value, copied out; 0 or -EINVAL (not logged). */
struct parts {
	char binary[PATH_MAX];
	char a[SP_FUNC_PROBE_NAME_LEN];	/* symbol, or provider */
	char b[SP_FUNC_PROBE_NAME_LEN];	/* =NAME, or the USDT name */
	const char *why;		/* what is wrong, for the error */
};

static int copy_part(char *dst, size_t cap, const char *src, size_t n)
{
	if (!n || n >= cap)
		return -EINVAL;
	memcpy(dst, src, n);
	dst[n] = 0;
	return 0;
}

/*
 * --probe BINARY:SYMBOL[=NAME]: SYMBOL is what follows the last ':' before
 * the first '=' (a path may hold ':', a C or mangled C++ symbol never
 * does). --usdt BINARY:PROVIDER:NAME: the last two ':'.
 */
static int split(const char *arg, bool usdt, struct parts *p)
{
	const char *eq = usdt ? NULL : strchr(arg, '=');
	const char *end = eq ? eq : arg + strlen(arg), *c1 = NULL, *c2 = NULL;

	memset(p, 0, sizeof(*p));
	for (const char *s = arg; s < end; s++) {
		if (*s == ':') {
			c1 = c2;
			c2 = s;
		}
	}
	if (usdt) {
		p->why = "expected BINARY:PROVIDER:NAME";
		if (!c1 || copy_part(p->binary, sizeof(p->binary), arg, c1 - arg) ||
		    copy_part(p->a, sizeof(p->a), c1 + 1, c2 - c1 - 1) ||
		    copy_part(p->b, sizeof(p->b), c2 + 1, end - c2 - 1))
			return -EINVAL;
		return 0;
	}
	p->why = "expected BINARY:SYMBOL, BINARY:SYMBOL=NAME or BINARY:0xADDR";
	if (!c2 || copy_part(p->binary, sizeof(p->binary), arg, c2 - arg) ||
	    copy_part(p->a, sizeof(p->a), c2 + 1, end - c2 - 1))
		return -EINVAL;
	if (eq && copy_part(p->b, sizeof(p->b), eq + 1, strlen(eq + 1)))
		return -EINVAL;
	return 0;
}

static const char *flag_of(bool usdt)
{
	return usdt ? "--usdt" : "--probe";
}

int sp_func_probe_check(const char *arg, bool usdt)
{
	struct parts p;

	if (!split(arg, usdt, &p))
		return 0;
	sp_err("invalid %s '%s': %s (each part given, a name at most %d bytes)", flag_of(usdt),
	       arg, p.why, SP_FUNC_PROBE_NAME_LEN - 1);
	return -EINVAL;
}

/* "0x1130" as an address: true, with *addr set. */
static bool parse_addr(const char *s, uint64_t *addr)
{
	char *end;

	if (strncmp(s, "0x", 2) || !s[2])
		return false;
	errno = 0;
	*addr = strtoull(s + 2, &end, 16);
	return !errno && !*end;
}

/* The file named by what: a path as given, else in PATH, else in the
 * system library directories. 0 or -ENOENT. */
static int find_binary(const char *what, char *out)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (strchr(what, '/'))
		return realpath(what, out) ? 0 : -errno;
	for (const char *p = path; p && *p;) {
		size_t n = strcspn(p, ":");

		if (n && snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, what) < (int)sizeof(buf) &&
		    !access(buf, X_OK) && realpath(buf, out))
			return 0;
		p += n + (p[n] == ':');
	}
	for (size_t i = 0; i < sizeof(lib_dirs) / sizeof(lib_dirs[0]); i++) {
		if (snprintf(buf, sizeof(buf), "%s/%s", lib_dirs[i], what) < (int)sizeof(buf) &&
		    !access(buf, R_OK) && realpath(buf, out))
			return 0;
	}
	return -ENOENT;
}

/* An ELF file open for reading, closed by elf_close. */
struct elf_file {
	int fd;
	Elf *elf;
	size_t shstrndx;
};

static void elf_close(struct elf_file *f)
{
	if (f->elf)
		elf_end(f->elf);
	if (f->fd >= 0)
		close(f->fd);
}

static int elf_open(const char *path, struct elf_file *f)
{
	GElf_Ehdr eh;

	f->elf = NULL;
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0)
		return -errno;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	f->elf = elf_begin(f->fd, ELF_C_READ_MMAP, NULL);
	if (!f->elf || elf_kind(f->elf) != ELF_K_ELF || !gelf_getehdr(f->elf, &eh) ||
	    (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) || elf_getshdrstrndx(f->elf, &f->shstrndx))
		return -ENOEXEC;
	return 0;
}

static const char *section_name(struct elf_file *f, const GElf_Shdr *sh)
{
	const char *n = elf_strptr(f->elf, f->shstrndx, sh->sh_name);

	return n ? n : "?";
}

static bool has_section(struct elf_file *f, const char *name)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(f->elf, scn)))
		if (gelf_getshdr(scn, &sh) && !strcmp(section_name(f, &sh), name))
			return true;
	return false;
}

/*
 * What makes a file unsafe or meaningless to probe although its symbols
 * resolve, or NULL: code of another architecture (or 32-bit x86, whose
 * stack and argument rules the programs do not read), and Go, whose
 * runtime moves goroutine stacks and walks them by return address: a
 * uretprobe's trampoline address there makes it throw ("unexpected return
 * pc"), so a --probe could crash the program.
 */
static const char *unsafe_file(struct elf_file *f, bool usdt)
{
	GElf_Ehdr eh;

	if (!gelf_getehdr(f->elf, &eh) || eh.e_machine != HOST_MACHINE ||
	    gelf_getclass(f->elf) != ELFCLASS64)
		return "it is code for another architecture (or 32-bit), whose registers and stack "
		       "spanprobe's probes do not read";
	if (!usdt && (has_section(f, ".go.buildinfo") || has_section(f, ".gopclntab")))
		return "it is a Go program, whose runtime moves stacks and fails on a uretprobe's "
		       "return address (it could crash)";
	return NULL;
}

/* Appends to a message of cap bytes at *len, cutting what does not fit. */
static void append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= cap - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len = *len + n < cap - 1 ? *len + n : cap - 1;
}

/* A function a name (or an address) may mean. */
struct cand {
	uint64_t addr, off, size;
	char section[32];
	char name[SP_FUNC_PROBE_NAME_LEN];	/* without @version */
	bool hidden;		/* a non-default version */
};

/* What the symbol tables said about a name besides its candidates. */
struct sym_scan {
	struct cand c[MAX_CANDS];
	int n;			/* candidates kept */
	int more;		/* candidates past MAX_CANDS */
	bool imported;		/* an undefined reference: defined elsewhere */
	bool ifunc;		/* an IFUNC: its value is the resolver's */
	bool unproven;		/* an STT_FUNC without a size, or outside code */
};

static bool name_matches(const char *n, const char *want)
{
	size_t len = strlen(want);

	return !strncmp(n, want, len) && (!n[len] || n[len] == '@');
}

/* The index in .gnu.version of the table at symtab_ndx, or NULL. */
static Elf_Data *versym_of(struct elf_file *f, size_t symtab_ndx)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(f->elf, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_GNU_versym && sh.sh_link == symtab_ndx)
			return elf_getdata(scn, NULL);
	return NULL;
}

/* Whether sym is a proven function start; fills the candidate if so. */
static bool proven_start(struct elf_file *f, const GElf_Sym *sym, struct cand *c)
{
	Elf_Scn *scn = elf_getscn(f->elf, sym->st_shndx);
	GElf_Shdr sh;

	if (!sym->st_size || sym->st_shndx == SHN_UNDEF || sym->st_shndx >= SHN_LORESERVE ||
	    !scn || !gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
	    !(sh.sh_flags & SHF_EXECINSTR) || sym->st_value < sh.sh_addr ||
	    sym->st_value - sh.sh_addr >= sh.sh_size ||
	    sym->st_size > sh.sh_size - (sym->st_value - sh.sh_addr))
		return false;
	c->addr = sym->st_value;
	c->off = sym->st_value - sh.sh_addr + sh.sh_offset;
	c->size = sym->st_size;
	snprintf(c->section, sizeof(c->section), "%s", section_name(f, &sh));
	return true;
}

static void add_cand(struct sym_scan *r, const struct cand *c)
{
	for (int i = 0; i < r->n; i++) {
		if (r->c[i].addr != c->addr)
			continue;
		/* the same function in .dynsym and .symtab: a default
		 * version anywhere makes it one */
		r->c[i].hidden &= c->hidden;
		return;
	}
	if (r->n == MAX_CANDS)
		r->more++;
	else
		r->c[r->n++] = *c;
}

/* Every function named want (or, want NULL, at address addr) in .dynsym
 * and .symtab. */
static void scan_syms(struct elf_file *f, const char *want, uint64_t addr, struct sym_scan *r)
{
	Elf_Scn *scn = NULL;

	memset(r, 0, sizeof(*r));
	while ((scn = elf_nextscn(f->elf, scn))) {
		Elf_Data *data, *versym = NULL;
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_DYNSYM && sh.sh_type != SHT_SYMTAB) ||
		    !sh.sh_entsize || !(data = elf_getdata(scn, NULL)))
			continue;
		if (sh.sh_type == SHT_DYNSYM)
			versym = versym_of(f, elf_ndxscn(scn));
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			int type;
			GElf_Sym sym;
			GElf_Versym vs;
			struct cand c = {};
			const char *n;

			if (!gelf_getsym(data, i, &sym))
				continue;
			n = elf_strptr(f->elf, sh.sh_link, sym.st_name);
			type = GELF_ST_TYPE(sym.st_info);
			if (!n || !*n || (want ? !name_matches(n, want) : sym.st_value != addr))
				continue;
			if (want && sym.st_shndx == SHN_UNDEF) {
				r->imported = true;
				continue;
			}
			if (type == STT_GNU_IFUNC) {
				r->ifunc = true;
				continue;
			}
			if (type != STT_FUNC)
				continue;
			if (!proven_start(f, &sym, &c)) {
				r->unproven = true;
				continue;
			}
			snprintf(c.name, sizeof(c.name), "%.*s", (int)strcspn(n, "@"), n);
			if (versym)
				c.hidden = gelf_getversym(versym, i, &vs) && (vs & VERSYM_HIDDEN);
			else
				c.hidden = strchr(n, '@') && !strstr(n, "@@");
			add_cand(r, &c);
		}
	}
}

/* Keeps the default version when the others are older versions of it. */
static void drop_hidden(struct sym_scan *r)
{
	int shown = 0;

	for (int i = 0; i < r->n; i++)
		shown += !r->c[i].hidden;
	if (!shown || shown == r->n)
		return;
	for (int i = 0, j = 0; i < r->n; i++)
		if (!r->c[i].hidden)
			r->c[j++] = r->c[i];
	r->n = shown;
}

/*
 * Where to probe the function c: on x86-64 past an endbr64 when a push
 * follows, as the TLS probes do (discovery/tls_openssl.c), since the
 * kernel emulates a push (~0.4 us a trap) where it may single-step the
 * endbr64, which changes neither the stack nor a register: the return
 * address is still at the stack top, and the call is the same call.
 * Elsewhere, and otherwise, the symbol's own address.
 */
static uint64_t entry_off(struct elf_file *f, const struct cand *c)
{
#if defined(__x86_64__)
	static const uint8_t endbr64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };
	uint8_t b[6];

	if (c->size >= sizeof(b) && pread(f->fd, b, sizeof(b), (off_t)c->off) == sizeof(b) &&
	    !memcmp(b, endbr64, 4) &&
	    ((b[4] >= 0x50 && b[4] <= 0x57) || (b[4] == 0x41 && b[5] >= 0x50 && b[5] <= 0x57)))
		return c->off + 4;
#endif
	return c->off;
}

static int resolve_func(const char *arg, struct elf_file *f, const struct parts *p,
			struct sp_func_probe *out)
{
	bool by_addr = parse_addr(p->a, &out->addr);
	struct sym_scan r;
	char list[MAX_CANDS * 96];
	size_t len = 0;

	scan_syms(f, by_addr ? NULL : p->a, out->addr, &r);
	drop_hidden(&r);
	/* memcpy@GLIBC_2.2.5 is a plain function, memcpy@@GLIBC_2.14 (what
	 * programs call) an IFUNC: the old version is not what is meant */
	if (r.ifunc && r.n && r.c[0].hidden)
		r.n = r.more = 0;
	if (r.n == 1) {
		out->addr = r.c[0].addr;
		out->off = entry_off(f, &r.c[0]);
		snprintf(out->symbol, sizeof(out->symbol), "%s", r.c[0].name);
		snprintf(out->name, sizeof(out->name), "%s", p->b[0] ? p->b : r.c[0].name);
		return 0;
	}
	if (r.n > 1) {
		list[0] = 0;
		for (int i = 0; i < r.n; i++)
			append(list, sizeof(list), &len, "%sat 0x%llx in %s%s", i ? ", " : "",
			       (unsigned long long)r.c[i].addr, r.c[i].section,
			       r.c[i].hidden ? " (an old version)" : "");
		if (r.more)
			append(list, sizeof(list), &len, ", %d more", r.more);
		sp_err("cannot probe %s: %d symbols named %s (%s): name one by address as %s:0x%llx",
		       arg, r.n + r.more, p->a, list, p->binary, (unsigned long long)r.c[0].addr);
		return -ENOTUNIQ;
	}
	if (by_addr)
		sp_err("cannot probe %s: 0x%llx is not the start of a function in %s (a symbol of "
		       "type FUNC with a size; nm %s lists them)", arg,
		       (unsigned long long)out->addr, out->binary, out->binary);
	else if (r.ifunc)
		sp_err("cannot probe %s: %s is an IFUNC, whose address is its resolver's: probe the "
		       "implementation it picks instead (nm %s | grep %s lists them if the file "
		       "has local symbols)", arg, p->a, out->binary, p->a);
	else if (r.unproven)
		sp_err("cannot probe %s: %s has no size or lies outside the code, so it is not a "
		       "proven function start: not probed", arg, p->a);
	else if (r.imported)
		sp_err("cannot probe %s: %s is not defined in %s, only called from it: probe the "
		       "library that defines it (ldd %s lists them)", arg, p->a, out->binary,
		       out->binary);
	else
		sp_err("cannot probe %s: symbol not found (nm -D %s lists its symbols; nm %s its "
		       "local ones, unless stripped)", arg, out->binary, out->binary);
	return -ENOENT;
}

/* Looks for provider:name in the file's .note.stapsdt; 0 or -ENOENT
 * after an error listing the probes it has. */
static int resolve_usdt(const char *arg, struct elf_file *f, const struct parts *p)
{
	int cls = gelf_getclass(f->elf), seen = 0;
	size_t addrs = cls == ELFCLASS32 ? 12 : 24;	/* pc, base, semaphore */
	char list[1024];
	size_t len = 0;
	Elf_Scn *scn = NULL;

	list[0] = 0;
	while ((scn = elf_nextscn(f->elf, scn))) {
		size_t off = 0, name_off, desc_off;
		GElf_Nhdr nh;
		Elf_Data *data;
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE ||
		    strcmp(section_name(f, &sh), ".note.stapsdt") || !(data = elf_getdata(scn, NULL)))
			continue;
		while ((off = gelf_getnote(data, off, &nh, &name_off, &desc_off))) {
			const char *desc = (const char *)data->d_buf + desc_off, *prov, *name;

			if (nh.n_type != NT_STAPSDT || nh.n_namesz != 8 ||
			    memcmp((const char *)data->d_buf + name_off, "stapsdt", 8) ||
			    nh.n_descsz <= addrs)
				continue;
			prov = desc + addrs;
			name = memchr(prov, 0, nh.n_descsz - addrs);
			if (!name++ || !memchr(name, 0, desc + nh.n_descsz - name))
				continue;
			if (!strcmp(prov, p->a) && !strcmp(name, p->b))
				return 0;
			if (seen++ < MAX_USDT_SHOWN)
				append(list, sizeof(list), &len, "%s%s:%s", len ? ", " : "", prov,
				       name);
		}
	}
	if (!seen)
		sp_err("cannot probe %s: %s has no USDT probes (no .note.stapsdt section)", arg,
		       p->binary);
	else
		sp_err("cannot probe %s: no USDT probe %s:%s in %s; it has %s%s", arg, p->a, p->b,
		       p->binary, list, seen > MAX_USDT_SHOWN ? ", ..." : "");
	return -ENOENT;
}

int sp_func_probe_resolve(const char *arg, bool usdt, struct sp_func_probe *out)
{
	struct elf_file f = { .fd = -1 };
	const char *why;
	struct parts p;
	struct stat st;
	int err;

	memset(out, 0, sizeof(*out));
	out->arg = arg;
	out->usdt = usdt;
	err = sp_func_probe_check(arg, usdt);
	if (err)
		return err;
	split(arg, usdt, &p);
	err = find_binary(p.binary, out->binary);
	if (err) {
		sp_err("cannot probe %s: %s: %s%s", arg, p.binary, strerror(-err),
		       strchr(p.binary, '/') ? "" : " (not in PATH nor in the system library "
		       "directories: give its path)");
		return err;
	}
	if (stat(out->binary, &st) || !S_ISREG(st.st_mode)) {
		sp_err("cannot probe %s: %s is not a regular file", arg, out->binary);
		return -EINVAL;
	}
	out->dev = st.st_dev;
	out->ino = st.st_ino;
	err = elf_open(out->binary, &f);
	if (err == -ENOEXEC)
		sp_err("cannot probe %s: %s is not an ELF executable or library (a script? probe "
		       "its interpreter's binary)", arg, out->binary);
	else if (err)
		sp_err("cannot probe %s: cannot read %s: %s", arg, out->binary, strerror(-err));
	if (err)
		goto out;
	why = unsafe_file(&f, usdt);
	if (why) {
		sp_err("cannot probe %s: %s: not probed", arg, why);
		err = -ENOTSUP;
		goto out;
	}
	if (usdt) {
		err = resolve_usdt(arg, &f, &p);
		snprintf(out->symbol, sizeof(out->symbol), "%s", p.a);
		snprintf(out->usdt_name, sizeof(out->usdt_name), "%s", p.b);
		/* a long pair is cut: the attributes keep both whole */
		if (snprintf(out->name, sizeof(out->name), "%s:%s", p.a, p.b) >= (int)sizeof(out->name))
			sp_dbg("%s: span name cut to %zu bytes", arg, sizeof(out->name) - 1);
	} else {
		err = resolve_func(arg, &f, &p, out);
	}
out:
	elf_close(&f);
	return err;
}

struct sp_func_probes {
	int n;
	struct sp_func_probe p[SP_FUNC_MAX_PROBES];
};

static bool same_probe(const struct sp_func_probe *a, const struct sp_func_probe *b)
{
	if (a->dev != b->dev || a->ino != b->ino || a->usdt != b->usdt)
		return false;
	if (a->usdt)
		return !strcmp(a->symbol, b->symbol) && !strcmp(a->usdt_name, b->usdt_name);
	return a->off == b->off;
}

struct sp_func_probes *sp_func_probes__new(const struct sp_probe_arg *args, int n)
{
	struct sp_func_probes *fp = calloc(1, sizeof(*fp));
	int err = -EINVAL;

	if (!fp)
		return NULL;
	if (n > SP_FUNC_MAX_PROBES) {
		sp_err("at most %d --probe and --usdt options", SP_FUNC_MAX_PROBES);
		goto err_out;
	}
	for (int i = 0; i < n; i++) {
		struct sp_func_probe *p = &fp->p[fp->n];
		bool dup = false;

		err = sp_func_probe_resolve(args[i].arg, args[i].usdt, p);
		if (err)
			goto err_out;
		for (int j = 0; j < fp->n && !dup; j++) {
			dup = same_probe(&fp->p[j], p);
			if (dup)
				sp_warn("%s %s is %s again: probed once", flag_of(p->usdt), p->arg,
					fp->p[j].arg);
		}
		if (!dup)
			fp->n++;
	}
	return fp;
err_out:
	sp_func_probes__free(fp);
	errno = -err;
	return NULL;
}

void sp_func_probes__free(struct sp_func_probes *fp)
{
	free(fp);
}

int sp_func_probes__count(const struct sp_func_probes *fp)
{
	return fp ? fp->n : 0;
}

const struct sp_func_probe *sp_func_probes__get(const struct sp_func_probes *fp, int id)
{
	return fp && id >= 0 && id < fp->n ? &fp->p[id] : NULL;
}

int sp_func_probes__attach(const struct sp_func_probes *fp, struct sp_loader *l)
{
	for (int i = 0; fp && i < fp->n; i++) {
		const struct sp_func_probe *p = &fp->p[i];
		int err;

		if (p->usdt)
			err = sp_loader__attach_usdt(l, p->binary, p->symbol, p->usdt_name, i);
		else
			err = sp_loader__attach_func(l, p->binary, p->off, i);
		if (err) {
			sp_err("cannot attach %s %s: %s%s", flag_of(p->usdt), p->arg, strerror(-err),
			       err == -EPERM || err == -EACCES ? " (run as root)" :
			       " (run with -v for libbpf's view)");
			return err;
		}
		sp_dbg("%s %s: attached to %s%s%s at 0x%llx", flag_of(p->usdt), p->arg, p->binary,
		       p->usdt ? "" : ":", p->usdt ? "" : p->symbol, (unsigned long long)p->off);
	}
	return 0;
}
