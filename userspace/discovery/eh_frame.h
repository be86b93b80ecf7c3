/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Function extents from an ELF file's .eh_frame (the LSB's exception-frame
 * format: CIE and FDE records, DWARF pointer encodings). An FDE's pc_begin
 * is where the compiler says a function (or a cold part of one) begins: a
 * proven function start for attach-point choice when there is no symbol.
 *
 * The parser is bounded and trusts nothing: every length is checked
 * against the section, unknown pointer encodings end the parse of that
 * record with an error rather than a guess, and at most max FDEs are kept.
 * The table is sorted once, so a lookup is a binary search (cheaper than
 * reading .eh_frame_hdr for the few lookups discovery makes).
 */
#ifndef SP_EH_FRAME_H
#define SP_EH_FRAME_H

#include <stddef.h>
#include <stdint.h>

struct sp_eh_fde {
	uint64_t start, end;	/* [pc_begin, pc_begin + pc_range) */
};

struct sp_eh_frame;

/*
 * Parses sec[0, len), the bytes of an .eh_frame section loaded at address
 * addr, keeping at most max FDEs. Owned by the caller (sp_eh_frame__free);
 * NULL with errno set: EINVAL for a malformed section (a record running
 * past the end, a CIE pointer to nowhere, an encoding it cannot read),
 * E2BIG for more than max FDEs, ENOMEM. The bytes are not kept.
 */
struct sp_eh_frame *sp_eh_frame__new(const uint8_t *sec, size_t len, uint64_t addr, size_t max);
void sp_eh_frame__free(struct sp_eh_frame *f);
/* How many FDEs. */
size_t sp_eh_frame__count(const struct sp_eh_frame *f);
/* The FDE whose range holds pc (the innermost start when ranges nest):
 * 0 and *fde set, or -ENOENT. */
int sp_eh_frame__find(const struct sp_eh_frame *f, uint64_t pc, struct sp_eh_fde *fde);

#endif
