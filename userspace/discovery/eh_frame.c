// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * .eh_frame records (LSB 5.0 "Exception Frames", DWARF 4 section 7.7 for
 * the encodings): a 4-byte length (0xffffffff: an 8-byte one follows; 0:
 * the terminator), a 4-byte id (0: a CIE; else an FDE, whose CIE lies id
 * bytes before the id field), then the body. Only what locates functions
 * is read: the CIE's 'R' augmentation (the FDE pointer encoding) and the
 * FDE's pc_begin and pc_range.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "discovery/eh_frame.h"

struct sp_eh_frame {
	struct sp_eh_fde *fdes;
	size_t n;
};

#define DW_EH_PE_omit	0xff
#define DW_EH_PE_absptr	0x00
#define DW_EH_PE_uleb128 0x01
#define DW_EH_PE_udata2	0x02
#define DW_EH_PE_udata4	0x03
#define DW_EH_PE_udata8	0x04
#define DW_EH_PE_sleb128 0x09
#define DW_EH_PE_sdata2	0x0a
#define DW_EH_PE_sdata4	0x0b
#define DW_EH_PE_sdata8	0x0c
#define DW_EH_PE_pcrel	0x10
#define DW_EH_PE_indirect 0x80

/* A cursor over [p, end): every read checks, and a failed one sets bad. */
struct cur {
	const uint8_t *p, *end;
	bool bad;
};

static uint64_t rd_n(struct cur *c, size_t n)
{
	uint64_t v = 0;

	if (c->bad || (size_t)(c->end - c->p) < n) {
		c->bad = true;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)c->p[i] << (8 * i);
	c->p += n;
	return v;
}

static uint64_t rd_uleb(struct cur *c, bool sign)
{
	uint64_t v = 0;
	unsigned shift = 0;
	uint8_t b;

	do {
		if (c->bad || c->p >= c->end || shift >= 64) {
			c->bad = true;
			return 0;
		}
		b = *c->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	if (sign && shift < 64 && (b & 0x40))
		v |= ~0ull << shift;
	return v;
}

/* A pointer in encoding enc; at is its address (for pcrel). Indirect and
 * base-relative encodings other than pcrel are not readable here. */
static uint64_t rd_ptr(struct cur *c, uint8_t enc, uint64_t at)
{
	uint64_t v;

	if (enc & DW_EH_PE_indirect || (enc & 0x70 & ~DW_EH_PE_pcrel)) {
		c->bad = true;
		return 0;
	}
	switch (enc & 0x0f) {
	case DW_EH_PE_absptr: case DW_EH_PE_udata8: case DW_EH_PE_sdata8:
		v = rd_n(c, 8);
		break;
	case DW_EH_PE_udata4:
		v = rd_n(c, 4);
		break;
	case DW_EH_PE_sdata4:
		v = (uint64_t)(int64_t)(int32_t)rd_n(c, 4);
		break;
	case DW_EH_PE_udata2:
		v = rd_n(c, 2);
		break;
	case DW_EH_PE_sdata2:
		v = (uint64_t)(int64_t)(int16_t)rd_n(c, 2);
		break;
	case DW_EH_PE_uleb128:
		v = rd_uleb(c, false);
		break;
	case DW_EH_PE_sleb128:
		v = rd_uleb(c, true);
		break;
	default:
		c->bad = true;
		return 0;
	}
	if (enc & DW_EH_PE_pcrel)
		v += at;
	return v;
}

/* A record's body [*body, *end) at off, and its id; the next record's
 * offset. 0 ok, 1 terminator, -EINVAL. */
static int record(const uint8_t *sec, size_t len, size_t off, size_t *body, size_t *end,
		  uint32_t *id, size_t *id_off)
{
	struct cur c = { sec + off, sec + len, false };
	uint64_t rlen = rd_n(&c, 4);

	if (c.bad)
		return -EINVAL;
	if (rlen == 0)
		return 1;
	if (rlen == 0xffffffffu)
		rlen = rd_n(&c, 8);
	*id_off = (size_t)(c.p - sec);
	if (c.bad || rlen < 4 || rlen > (uint64_t)(c.end - c.p))
		return -EINVAL;
	*end = *id_off + (size_t)rlen;
	*id = (uint32_t)rd_n(&c, 4);
	*body = (size_t)(c.p - sec);
	return 0;
}

/* The FDE pointer encoding of the CIE at off: 0 or -EINVAL. */
static int cie_encoding(const uint8_t *sec, size_t len, size_t off, uint8_t *enc)
{
	size_t body, end, id_off;
	struct cur c;
	const char *aug;
	uint32_t id;
	uint8_t ver;

	if (record(sec, len, off, &body, &end, &id, &id_off) || id != 0)
		return -EINVAL;
	c = (struct cur){ sec + body, sec + end, false };
	ver = (uint8_t)rd_n(&c, 1);
	if (c.bad || (ver != 1 && ver != 3 && ver != 4))
		return -EINVAL;
	aug = (const char *)c.p;
	if (!memchr(aug, 0, (size_t)(c.end - c.p)))
		return -EINVAL;
	c.p += strlen(aug) + 1;
	if (ver == 4)
		rd_n(&c, 2);	/* address size, segment size */
	rd_uleb(&c, false);	/* code alignment */
	rd_uleb(&c, true);	/* data alignment */
	if (ver == 1)
		rd_n(&c, 1);
	else
		rd_uleb(&c, false);	/* return address register */
	*enc = DW_EH_PE_absptr;
	if (aug[0] != 'z')
		return c.bad || aug[0] ? -EINVAL : 0;	/* no augmentation data */
	rd_uleb(&c, false);	/* augmentation data length */
	for (const char *a = aug + 1; *a && !c.bad; a++) {
		switch (*a) {
		case 'R':
			*enc = (uint8_t)rd_n(&c, 1);
			break;
		case 'L':
			rd_n(&c, 1);
			break;
		case 'P': {
			uint8_t penc = (uint8_t)rd_n(&c, 1);

			/* the personality pointer is often indirect: skip
			 * its bytes without resolving it */
			rd_ptr(&c, penc & ~(DW_EH_PE_indirect | 0x70), 0);
			break;
		}
		case 'S': case 'B':
			break;
		default:
			/* 'R' comes before the letters the LSB leaves open */
			return -EINVAL;
		}
	}
	return c.bad ? -EINVAL : 0;
}

static int by_start(const void *a, const void *b)
{
	const struct sp_eh_fde *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

struct sp_eh_frame *sp_eh_frame__new(const uint8_t *sec, size_t len, uint64_t addr, size_t max)
{
	struct sp_eh_frame *f = calloc(1, sizeof(*f));
	size_t off = 0, cap = 0, last_cie = SIZE_MAX;
	uint8_t enc = 0;
	int err = 0;

	if (!f)
		return NULL;
	while (off < len) {
		size_t body, end, id_off, cie_off;
		uint64_t start, range;
		struct cur c;
		uint32_t id;
		int r = record(sec, len, off, &body, &end, &id, &id_off);

		if (r == 1)
			break;
		if (r) {
			err = EINVAL;
			goto err_out;
		}
		off = end;
		if (id == 0)
			continue;	/* a CIE: read when an FDE names it */
		if (id > id_off) {
			err = EINVAL;
			goto err_out;
		}
		cie_off = id_off - id;
		if (cie_off != last_cie) {
			if (cie_encoding(sec, len, cie_off, &enc)) {
				err = EINVAL;
				goto err_out;
			}
			last_cie = cie_off;
		}
		c = (struct cur){ sec + body, sec + end, false };
		start = rd_ptr(&c, enc, addr + body);
		range = rd_ptr(&c, enc & 0x0f, 0);
		if (c.bad) {
			err = EINVAL;
			goto err_out;
		}
		/* an FDE of a discarded section: the linker left it at 0 */
		if (!range || !start || start + range < start)
			continue;
		if (f->n == max) {
			err = E2BIG;
			goto err_out;
		}
		if (f->n == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct sp_eh_fde *nf;

			if (ncap > max)
				ncap = max;
			nf = realloc(f->fdes, ncap * sizeof(*nf));
			if (!nf) {
				err = ENOMEM;
				goto err_out;
			}
			f->fdes = nf;
			cap = ncap;
		}
		f->fdes[f->n++] = (struct sp_eh_fde){ start, start + range };
	}
	if (f->n)	/* qsort of a NULL array is undefined, even for 0 */
		qsort(f->fdes, f->n, sizeof(*f->fdes), by_start);
	return f;
err_out:
	sp_eh_frame__free(f);
	errno = err;
	return NULL;
}

void sp_eh_frame__free(struct sp_eh_frame *f)
{
	if (!f)
		return;
	free(f->fdes);
	free(f);
}

size_t sp_eh_frame__count(const struct sp_eh_frame *f)
{
	return f ? f->n : 0;
}

int sp_eh_frame__find(const struct sp_eh_frame *f, uint64_t pc, struct sp_eh_fde *fde)
{
	size_t lo = 0, hi;

	if (!f)
		return -ENOENT;
	hi = f->n;
	/* the last FDE starting at or before pc */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->fdes[mid].start <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* FDEs do not nest in compiler output; walk back a few in case a
	 * hand-written one does */
	for (size_t i = lo, k = 0; i > 0 && k < 8; i--, k++) {
		const struct sp_eh_fde *d = &f->fdes[i - 1];

		if (pc < d->end) {
			*fde = *d;
			return 0;
		}
	}
	return -ENOENT;
}
