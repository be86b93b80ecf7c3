// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "discovery/elf_sym.h"

struct sp_elf {
	int fd;
	Elf *elf;
};

struct sp_elf *sp_elf__open(const char *path)
{
	struct sp_elf *e = calloc(1, sizeof(*e));
	int err;

	if (!e)
		return NULL;
	e->fd = -1;
	if (elf_version(EV_CURRENT) == EV_NONE) {
		err = EINVAL;
		goto err_out;
	}
	e->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (e->fd < 0) {
		err = errno;
		goto err_out;
	}
	e->elf = elf_begin(e->fd, ELF_C_READ_MMAP, NULL);
	if (!e->elf || elf_kind(e->elf) != ELF_K_ELF) {
		err = ENOEXEC;
		goto err_out;
	}
	return e;
err_out:
	sp_elf__close(e);
	errno = err;
	return NULL;
}

void sp_elf__close(struct sp_elf *e)
{
	if (!e)
		return;
	if (e->elf)
		elf_end(e->elf);
	if (e->fd >= 0)
		close(e->fd);
	free(e);
}

static int each_in(struct sp_elf *e, Elf64_Word type,
		   int (*fn)(const char *name, uint64_t off, void *arg), void *arg)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(e->elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != type || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			GElf_Shdr tsh;
			const char *n;
			Elf_Scn *tscn;
			int r;

			if (!gelf_getsym(data, i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
			    sym.st_shndx == SHN_UNDEF || !sym.st_value)
				continue;
			n = elf_strptr(e->elf, sh.sh_link, sym.st_name);
			tscn = elf_getscn(e->elf, sym.st_shndx);
			if (!n || !tscn || !gelf_getshdr(tscn, &tsh))
				continue;
			r = fn(n, sym.st_value - tsh.sh_addr + tsh.sh_offset, arg);
			if (r)
				return r;
		}
	}
	return 0;
}

struct find_name {
	const char *name;
	size_t nlen;
	uint64_t off;
};

/* name, or a versioned name ("SSL_write@@OPENSSL_3.0.0") of it */
static int match_name(const char *n, uint64_t off, void *arg)
{
	struct find_name *f = arg;

	if (strncmp(n, f->name, f->nlen) || (n[f->nlen] && n[f->nlen] != '@'))
		return 0;
	f->off = off;
	return 1;
}

int sp_elf__func(struct sp_elf *e, const char *name, uint64_t *off)
{
	struct find_name f = { .name = name, .nlen = strlen(name) };

	if (each_in(e, SHT_DYNSYM, match_name, &f) != 1 &&
	    each_in(e, SHT_SYMTAB, match_name, &f) != 1)
		return -ENOENT;
	*off = f.off;
	return 0;
}

int sp_elf__each_func(struct sp_elf *e, int (*fn)(const char *name, uint64_t off, void *arg),
		      void *arg)
{
	int r = each_in(e, SHT_SYMTAB, fn, arg);

	return r ? r : each_in(e, SHT_DYNSYM, fn, arg);
}

int sp_elf__section_has(struct sp_elf *e, const char *sect, const void *needle, size_t n,
			uint64_t max_bytes, bool (*ok)(const char *at, size_t left))
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(e->elf, &shstrndx))
		return 0;
	while ((scn = elf_nextscn(e->elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS)
			continue;
		name = elf_strptr(e->elf, shstrndx, sh.sh_name);
		if (!name || strcmp(name, sect))
			continue;
		/* ELF_C_READ_MMAP: the section's bytes are the mapped file */
		d = elf_rawdata(scn, NULL);
		if (!d || !d->d_buf)
			return 0;
		const char *p = d->d_buf, *end = p + (d->d_size < max_bytes ? d->d_size : max_bytes);

		while (p < end && (p = memmem(p, end - p, needle, n))) {
			if (ok(p, end - p))
				return 1;
			p++;
		}
		return 0;
	}
	return 0;
}

int sp_elf__machine(struct sp_elf *e)
{
	GElf_Ehdr eh;

	return gelf_getehdr(e->elf, &eh) ? eh.e_machine : 0;
}

int sp_elf__section(struct sp_elf *e, const char *name, struct sp_elf_sec *sec)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(e->elf, &shstrndx))
		return -ENOENT;
	while ((scn = elf_nextscn(e->elf, scn))) {
		GElf_Shdr sh;
		const char *n;

		if (!gelf_getshdr(scn, &sh))
			continue;
		n = elf_strptr(e->elf, shstrndx, sh.sh_name);
		if (!n || strcmp(n, name))
			continue;
		sec->addr = sh.sh_addr;
		sec->off = sh.sh_offset;
		sec->size = sh.sh_size;
		sec->type = sh.sh_type;
		return 0;
	}
	return -ENOENT;
}

int sp_elf__type(struct sp_elf *e)
{
	GElf_Ehdr eh;

	return gelf_getehdr(e->elf, &eh) ? eh.e_type : 0;
}

int sp_elf__fd(struct sp_elf *e)
{
	return e->fd;
}

int sp_elf__vaddr_off(struct sp_elf *e, uint64_t vaddr, uint64_t n, uint64_t *off)
{
	size_t nph;

	if (elf_getphdrnum(e->elf, &nph))
		return -ENOENT;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(e->elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		/* within the part of the segment the file holds */
		if (vaddr < ph.p_vaddr || vaddr - ph.p_vaddr > ph.p_filesz ||
		    n > ph.p_filesz - (vaddr - ph.p_vaddr))
			continue;
		*off = vaddr - ph.p_vaddr + ph.p_offset;
		return 0;
	}
	return -ENOENT;
}

int sp_elf__read(struct sp_elf *e, uint64_t off, void *buf, size_t n)
{
	ssize_t r = pread(e->fd, buf, n, (off_t)off);

	if (r < 0)
		return -errno;
	return (size_t)r == n ? 0 : -EIO;
}

static const uint8_t ENDBR64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };

/* Length of a push-register instruction at p, else 0. */
static int push_len(const uint8_t *p)
{
	if (p[0] >= 0x50 && p[0] <= 0x57)
		return 1;
	if (p[0] == 0x41 && p[1] >= 0x50 && p[1] <= 0x57)
		return 2;
	return 0;
}

uint64_t sp_x86_probe_off(const uint8_t *code, uint64_t off, bool *emulated)
{
	if (!memcmp(code, ENDBR64, 4) && push_len(code + 4)) {
		*emulated = true;
		return off + 4;
	}
	*emulated = push_len(code) > 0;
	return off;
}
