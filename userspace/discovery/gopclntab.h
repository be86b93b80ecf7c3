/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Go binaries: the function table (.gopclntab) and the build information
 * (.go.buildinfo). Both are in every Go binary, stripped ones too (the
 * runtime needs the first for stack traces and the second for
 * runtime/debug.ReadBuildInfo), so a function of a Go binary without a
 * symbol table can still be found, with its extent.
 *
 * The layouts, from the Go sources (src/runtime/symtab.go, src/debug/gosym,
 * src/debug/buildinfo) of the versions named:
 *   header magic 0xfffffffa  Go 1.16-1.17: ftab of (entry pc, funcoff)
 *                            pointer-sized pairs, entries absolute
 *   header magic 0xfffffff0  Go 1.18-1.19: textStart in the header, ftab of
 *                            (entryoff, funcoff) uint32 pairs, entryoff
 *                            relative to textStart
 *   header magic 0xfffffff1  Go 1.20 and later: as 1.18 (the magic changed
 *                            with the funcdata encoding, not the ftab)
 * Every ftab has nfunc + 1 entries: the last is the end of the last
 * function, so function i spans [entry(i), entry(i + 1)). A _func record
 * begins with its entry (pc or entryoff) and nameoff, an offset into the
 * funcname table of a NUL-terminated name.
 *
 * Every read is checked against the section's length: the input is a
 * file anyone may have written, and a bad table is an error, never a
 * guess.
 */
#ifndef SP_GOPCLNTAB_H
#define SP_GOPCLNTAB_H

#include <stddef.h>
#include <stdint.h>

enum sp_gopcln_ver {
	SP_GOPCLN_116 = 116,	/* 1.16-1.17 */
	SP_GOPCLN_118 = 118,	/* 1.18-1.19 */
	SP_GOPCLN_120 = 120,	/* 1.20+ */
};

/* A parsed header over a borrowed copy of the section (not owned). */
struct sp_gopcln {
	const uint8_t *data;
	size_t len;
	int ver;		/* enum sp_gopcln_ver */
	uint8_t ptrsize;	/* 4 or 8 */
	uint64_t nfunc;
	uint64_t text_start;	/* 1.18+: entryoff base (vaddr) */
	uint64_t funcname;	/* funcname table offset in data */
	uint64_t ftab;		/* function table offset in data */
};

/*
 * Parses the header of a .gopclntab section held in data[0, len).
 * text_addr: the vaddr to use as textStart when the header's is 0 (a PIE
 * whose textStart is filled in by a load-time relocation): the .text
 * section's address. 0, -EPROTONOSUPPORT for a table older than Go 1.16,
 * -EINVAL for anything else that is not a well-formed table.
 */
int sp_gopcln__init(struct sp_gopcln *t, const uint8_t *data, size_t len, uint64_t text_addr);

/*
 * Function i's name (borrowed from data, NUL-terminated inside it) and
 * extent [*entry, *end) as vaddrs. 0, or -EINVAL (out of range, or a
 * record that points outside the table, or entries out of order).
 */
int sp_gopcln__func(const struct sp_gopcln *t, uint64_t i, const char **name, uint64_t *entry,
		    uint64_t *end);

/* The extent of the function called name: 0, -ENOENT, or -EINVAL (the
 * table is malformed where the walk went). */
int sp_gopcln__find(const struct sp_gopcln *t, const char *name, uint64_t *entry, uint64_t *end);

/*
 * The Go version of a .go.buildinfo section held in data[0, len)
 * ("go1.19.8" into ver, NUL-terminated, at most vlen - 1 characters).
 * 0; or -EAGAIN when the version is not inline (Go 1.13-1.17 store two
 * pointers instead): *str_addr is then the vaddr of the version's Go
 * string header {ptr, len} (ptrsize each, *ptrsize set) for the caller
 * to read from the file; -EINVAL when data is not build information.
 */
int sp_gobuild__version(const uint8_t *data, size_t len, char *ver, size_t vlen,
			uint64_t *str_addr, uint8_t *ptrsize);

/* "go1.19.8" -> major 1, minor 19: 0, or -EINVAL ("devel ...", garbage). */
int sp_go_version_parse(const char *ver, int *major, int *minor);

#endif
