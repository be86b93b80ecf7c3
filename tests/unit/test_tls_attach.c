// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The TLS attach-point choice on this machine's real binaries: the
 * system's libssl.so.3 and node (which links OpenSSL statically; skipped
 * when absent). For every point chosen:
 *  - it is a function start, checked against sources the choice does not
 *    use: the unwind table (.eh_frame_hdr: one entry per function the
 *    compiler emitted) and the symbol tables; or 4 bytes past one, over
 *    an endbr64;
 *  - a point labelled with an exported name is that symbol's address;
 *  - the emulated flag says what the first instruction's bytes are (a
 *    push is emulated by the kernel, anything else single-stepped);
 * and both directions are covered for both contracts (SSL_write and
 * SSL_write_ex callers alike): by the shared internal function, or by
 * both exported functions.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "discovery/tls_attach.h"
#include "spanprobe.h"

#define LIBSSL "/lib/x86_64-linux-gnu/libssl.so.3"

struct starts {
	uint64_t *v;		/* sorted function start addresses */
	size_t n, cap;
};

struct binary {
	int fd;
	Elf *elf;
	struct starts starts;
};

static void starts_add(struct starts *s, uint64_t v)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4096;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		assert_non_null(s->v);
	}
	s->v[s->n++] = v;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static bool is_start(const struct binary *b, uint64_t v)
{
	return bsearch(&v, b->starts.v, b->starts.n, sizeof(v), cmp_u64) != NULL;
}

static Elf_Scn *section(Elf *elf, const char *name, GElf_Shdr *sh)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	assert_int_equal(elf_getshdrstrndx(elf, &shstrndx), 0);
	while ((scn = elf_nextscn(elf, scn))) {
		const char *n;

		if (!gelf_getshdr(scn, sh))
			continue;
		n = elf_strptr(elf, shstrndx, sh->sh_name);
		if (n && !strcmp(n, name))
			return scn;
	}
	return NULL;
}

/* .eh_frame_hdr's binary search table: the initial location of every
 * FDE, as gcc and clang write it (datarel sdata4 pairs). */
static void add_unwind_starts(struct binary *b)
{
	GElf_Shdr sh;
	Elf_Scn *scn = section(b->elf, ".eh_frame_hdr", &sh);
	Elf_Data *d;
	const uint8_t *p;
	uint32_t count;

	assert_non_null(scn);
	d = elf_getdata(scn, NULL);
	assert_non_null(d);
	p = d->d_buf;
	assert_true(d->d_size >= 12);
	assert_int_equal(p[0], 1);	/* version */
	assert_int_equal(p[1], 0x1b);	/* eh_frame_ptr: pcrel sdata4 */
	assert_int_equal(p[2], 0x03);	/* fde_count: udata4 */
	assert_int_equal(p[3], 0x3b);	/* table: datarel sdata4 */
	memcpy(&count, p + 8, 4);
	assert_true(12 + (uint64_t)count * 8 <= d->d_size);
	for (uint32_t i = 0; i < count; i++) {
		int32_t loc;

		memcpy(&loc, p + 12 + i * 8, 4);
		starts_add(&b->starts, sh.sh_addr + (int64_t)loc);
	}
}

static void add_symbol_starts(struct binary *b, Elf64_Word type)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(b->elf, scn))) {
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != type || !sh.sh_entsize)
			continue;
		d = elf_getdata(scn, NULL);
		for (size_t i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;

			if (gelf_getsym(d, i, &sym) && GELF_ST_TYPE(sym.st_info) == STT_FUNC &&
			    sym.st_shndx != SHN_UNDEF && sym.st_value)
				starts_add(&b->starts, sym.st_value);
		}
	}
}

/* Address of the function symbol name (versioned names match), or 0. */
static uint64_t symbol(const struct binary *b, const char *name)
{
	size_t nlen = strlen(name);
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(b->elf, scn))) {
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_DYNSYM && sh.sh_type != SHT_SYMTAB) ||
		    !sh.sh_entsize)
			continue;
		d = elf_getdata(scn, NULL);
		for (size_t i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *n;

			if (!gelf_getsym(d, i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
			    sym.st_shndx == SHN_UNDEF)
				continue;
			n = elf_strptr(b->elf, sh.sh_link, sym.st_name);
			if (n && !strncmp(n, name, nlen) && (!n[nlen] || n[nlen] == '@'))
				return sym.st_value;
		}
	}
	return 0;
}

/* The address of file offset off in an executable section, or 0. */
static uint64_t vaddr(const struct binary *b, uint64_t off)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(b->elf, scn)))
		if (gelf_getshdr(scn, &sh) && (sh.sh_flags & SHF_EXECINSTR) &&
		    sh.sh_type == SHT_PROGBITS && off >= sh.sh_offset &&
		    off < sh.sh_offset + sh.sh_size)
			return off - sh.sh_offset + sh.sh_addr;
	return 0;
}

static void binary_open(struct binary *b, const char *path)
{
	memset(b, 0, sizeof(*b));
	assert_int_not_equal(elf_version(EV_CURRENT), EV_NONE);
	b->fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(b->fd >= 0);
	b->elf = elf_begin(b->fd, ELF_C_READ_MMAP, NULL);
	assert_non_null(b->elf);
	add_unwind_starts(b);
	add_symbol_starts(b, SHT_DYNSYM);
	add_symbol_starts(b, SHT_SYMTAB);
	qsort(b->starts.v, b->starts.n, sizeof(uint64_t), cmp_u64);
}

static void binary_close(struct binary *b)
{
	elf_end(b->elf);
	close(b->fd);
	free(b->starts.v);
}

static bool is_push(const uint8_t *p)
{
	return (p[0] >= 0x50 && p[0] <= 0x57) || (p[0] == 0x41 && p[1] >= 0x50 && p[1] <= 0x57);
}

static void check_binary(const char *path)
{
	static const uint8_t endbr64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };
	static const char *const exported[][2] = { { "SSL_write", "SSL_write_ex" },
						    { "SSL_read", "SSL_read_ex" } };
	struct sp_tls_point pts[SP_TLS_MAX_POINTS];
	/* per direction: contracts covered */
	bool has_int[2] = {}, has_ex[2] = {}, internal[2] = {};
	struct binary b;
	int n;

	binary_open(&b, path);
	n = sp_tls_points(path, pts, SP_TLS_MAX_POINTS);
	print_message("%s: %d points, %zu function starts known\n", path, n, b.starts.n);
	assert_true(n >= 2);
	for (int i = 0; i < n; i++) {
		uint64_t v = vaddr(&b, pts[i].off);
		uint8_t code[8], before[4];
		bool at_start, past_endbr;

		print_message("  0x%llx %s %s%s\n", (unsigned long long)pts[i].off, pts[i].label,
			      pts[i].lib->name, pts[i].emulated ? "" : " (single-stepped)");
		assert_string_equal(pts[i].lib->name, "openssl");
		assert_true(pts[i].dir == SP_DIR_EGRESS || pts[i].dir == SP_DIR_INGRESS);
		assert_int_not_equal(v, 0);
		assert_int_equal(pread(b.fd, code, sizeof(code), pts[i].off), sizeof(code));
		assert_int_equal(pread(b.fd, before, 4, pts[i].off - 4), 4);
		at_start = is_start(&b, v);
		past_endbr = is_start(&b, v - 4) && !memcmp(before, endbr64, 4);
		if (!at_start && !past_endbr)
			fail_msg("%s: %s at 0x%llx is not a function start", path, pts[i].label,
				 (unsigned long long)pts[i].off);
		assert_int_equal(pts[i].emulated, is_push(code));
		/* an exported name is that symbol, to the byte */
		for (int d = 0; d < 2; d++)
			for (int k = 0; k < 2; k++)
				if (!strcmp(pts[i].label, exported[d][k])) {
					uint64_t s = symbol(&b, exported[d][k]);

					assert_true(s == v || (past_endbr && s == v - 4));
					assert_int_equal(pts[i].contract,
							 k ? SP_TLS_EX : SP_TLS_INT);
					assert_int_equal(pts[i].dir,
							 d ? SP_DIR_INGRESS : SP_DIR_EGRESS);
				}
		if (pts[i].contract == SP_TLS_INT)
			has_int[pts[i].dir & 1] = true;
		else
			has_ex[pts[i].dir & 1] = true;
		if (strstr(pts[i].label, "_internal")) {
			/* only where the code was read and found shared: an
			 * emulated first instruction, the _ex contract */
			assert_true(pts[i].emulated);
			assert_int_equal(pts[i].contract, SP_TLS_EX);
			internal[pts[i].dir & 1] = true;
		}
	}
	for (int d = 0; d < 2; d++) {
		if (internal[d])
			continue;	/* one probe serves both contracts */
		assert_true(has_int[d]);
		assert_true(has_ex[d]);
	}
	binary_close(&b);
}

static void test_libssl(void **state)
{
	if (access(LIBSSL, R_OK)) {
		print_message("skip: %s not found\n", LIBSSL);
		skip();
	}
	check_binary(LIBSSL);
}

static void test_node(void **state)
{
	char path[4096] = "";
	FILE *f = popen("command -v node", "r");

	if (f) {
		if (!fgets(path, sizeof(path), f))
			path[0] = 0;
		pclose(f);
	}
	path[strcspn(path, "\n")] = 0;
	if (!path[0] || access(path, R_OK)) {
		print_message("skip: node not found on PATH\n");
		skip();
	}
	check_binary(path);
}

/* A file without TLS functions has no points; a missing one is an error. */
static void test_not_tls(void **state)
{
	struct sp_tls_point pts[SP_TLS_MAX_POINTS];

	assert_int_equal(sp_tls_points("/proc/self/exe", pts, SP_TLS_MAX_POINTS), 0);
	assert_int_equal(sp_tls_points("/nonexistent/libssl.so.3", pts, SP_TLS_MAX_POINTS),
			 -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_libssl),
		cmocka_unit_test(test_node),
		cmocka_unit_test(test_not_tls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
