// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "discovery/gopclntab.h"

/* Little-endian reads (the only byte order spanprobe's targets have),
 * bounds checked: false when [off, off + n) is not inside the table. */
static bool rd(const uint8_t *d, size_t len, uint64_t off, unsigned n, uint64_t *v)
{
	uint64_t x = 0;

	if (off > len || n > len - off)
		return false;
	for (unsigned i = 0; i < n; i++)
		x |= (uint64_t)d[off + i] << (8 * i);
	*v = x;
	return true;
}

int sp_gopcln__init(struct sp_gopcln *t, const uint8_t *d, size_t len, uint64_t text_addr)
{
	uint64_t magic, w[8];
	unsigned ps, nw;

	memset(t, 0, sizeof(*t));
	if (!rd(d, len, 0, 4, &magic) || len < 8)
		return -EINVAL;
	switch ((uint32_t)magic) {
	case 0xfffffffa:
		t->ver = SP_GOPCLN_116;
		nw = 7;	/* nfunc nfiles funcname cu filetab pctab pcln */
		break;
	case 0xfffffff0:
		t->ver = SP_GOPCLN_118;
		nw = 8;	/* nfunc nfiles textStart funcname cu filetab pctab pcln */
		break;
	case 0xfffffff1:
		t->ver = SP_GOPCLN_120;
		nw = 8;
		break;
	case 0xfffffffb:	/* Go 1.2-1.15 */
		return -EPROTONOSUPPORT;
	default:
		return -EINVAL;
	}
	/* pad, pad, pc quantum (1 on x86, 4 on arm), pointer size */
	ps = d[7];
	if (d[4] || d[5] || (ps != 4 && ps != 8) || !d[6])
		return -EINVAL;
	for (unsigned i = 0; i < nw; i++)
		if (!rd(d, len, 8 + (uint64_t)i * ps, ps, &w[i]))
			return -EINVAL;
	t->data = d;
	t->len = len;
	t->ptrsize = ps;
	t->nfunc = w[0];
	if (t->ver == SP_GOPCLN_116) {
		t->funcname = w[2];
		t->ftab = w[6];
	} else {
		t->text_start = w[2] ? w[2] : text_addr;
		t->funcname = w[3];
		t->ftab = w[7];
	}
	/* the whole ftab, nfunc + 1 entries of two words, inside the table */
	uint64_t esz = t->ver == SP_GOPCLN_116 ? 2ull * ps : 8;

	if (t->funcname >= len || t->ftab >= len || t->nfunc == 0 ||
	    t->nfunc >= (len - t->ftab) / esz)
		return -EINVAL;
	return 0;
}

/* Entry pc and _func offset (from ftab) of ftab entry i (0..nfunc). */
static int ftab_at(const struct sp_gopcln *t, uint64_t i, uint64_t *pc, uint64_t *funcoff)
{
	if (t->ver == SP_GOPCLN_116) {
		uint64_t at = t->ftab + i * 2 * t->ptrsize;

		if (!rd(t->data, t->len, at, t->ptrsize, pc) ||
		    !rd(t->data, t->len, at + t->ptrsize, t->ptrsize, funcoff))
			return -EINVAL;
		return 0;
	}
	uint64_t eoff, at = t->ftab + i * 8;

	if (!rd(t->data, t->len, at, 4, &eoff) || !rd(t->data, t->len, at + 4, 4, funcoff))
		return -EINVAL;
	*pc = t->text_start + eoff;
	return 0;
}

int sp_gopcln__func(const struct sp_gopcln *t, uint64_t i, const char **name, uint64_t *entry,
		    uint64_t *end)
{
	uint64_t pc, next, foff, fentry, nameoff, noff, unused;
	const char *n;

	if (i >= t->nfunc || ftab_at(t, i, &pc, &foff) || ftab_at(t, i + 1, &next, &unused))
		return -EINVAL;
	if (next <= pc)
		return -EINVAL;
	/* the _func record: entry (pc or entryoff), then int32 nameoff */
	foff += t->ftab;
	if (t->ver == SP_GOPCLN_116) {
		if (!rd(t->data, t->len, foff, t->ptrsize, &fentry) ||
		    !rd(t->data, t->len, foff + t->ptrsize, 4, &nameoff))
			return -EINVAL;
	} else {
		if (!rd(t->data, t->len, foff, 4, &fentry) ||
		    !rd(t->data, t->len, foff + 4, 4, &nameoff))
			return -EINVAL;
		fentry += t->text_start;
	}
	/* the record must agree with the ftab that points at it */
	if (fentry != pc || (int32_t)nameoff < 0)
		return -EINVAL;
	noff = t->funcname + nameoff;
	if (noff >= t->len)
		return -EINVAL;
	n = (const char *)t->data + noff;
	if (!memchr(n, 0, t->len - noff))
		return -EINVAL;
	*name = n;
	*entry = pc;
	*end = next;
	return 0;
}

int sp_gopcln__find(const struct sp_gopcln *t, const char *name, uint64_t *entry, uint64_t *end)
{
	for (uint64_t i = 0; i < t->nfunc; i++) {
		const char *n;
		uint64_t a, b;
		int err = sp_gopcln__func(t, i, &n, &a, &b);

		if (err)
			return err;
		if (!strcmp(n, name)) {
			*entry = a;
			*end = b;
			return 0;
		}
	}
	return -ENOENT;
}

static const char BUILDINFO_MAGIC[] = "\xff Go buildinf:";	/* 14 bytes */

int sp_gobuild__version(const uint8_t *d, size_t len, char *ver, size_t vlen, uint64_t *str_addr,
			uint8_t *ptrsize)
{
	uint64_t n = 0, at = 32;
	unsigned shift = 0;
	uint8_t ps, flags;

	/* 16-byte header: magic, pointer size, flags; 32 bytes of it since
	 * Go 1.18 (src/debug/buildinfo/buildinfo.go) */
	if (len < 32 || memcmp(d, BUILDINFO_MAGIC, 14))
		return -EINVAL;
	ps = d[14];
	flags = d[15];
	if (ps != 4 && ps != 8)
		return -EINVAL;
	*ptrsize = ps;
	if (!(flags & 2)) {
		/* Go 1.13-1.17: a pointer to runtime.buildVersion, a string
		 * header, at offset 16 */
		uint64_t p;

		if (!rd(d, len, 16, ps, &p))
			return -EINVAL;
		*str_addr = p;
		return -EAGAIN;
	}
	/* Go 1.18+: the version inline, a uvarint length then the bytes */
	for (;;) {
		if (at >= len || shift > 28)
			return -EINVAL;
		n |= (uint64_t)(d[at] & 0x7f) << shift;
		shift += 7;
		if (!(d[at++] & 0x80))
			break;
	}
	if (n == 0 || n > len - at || n >= vlen)
		return -EINVAL;
	memcpy(ver, d + at, n);
	ver[n] = 0;
	return 0;
}

int sp_go_version_parse(const char *ver, int *major, int *minor)
{
	char *end;
	long a, b;

	if (strncmp(ver, "go", 2))
		return -EINVAL;
	a = strtol(ver + 2, &end, 10);
	if (end == ver + 2 || *end != '.')
		return -EINVAL;
	ver = end + 1;
	b = strtol(ver, &end, 10);
	if (end == ver || a < 1 || a > 100 || b < 0 || b > 1000)
		return -EINVAL;
	*major = (int)a;
	*minor = (int)b;
	return 0;
}
