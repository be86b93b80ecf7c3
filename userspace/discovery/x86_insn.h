/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * x86-64 instruction decoding for attach-point proofs, on Capstone
 * (Debian's libcapstone: a full, maintained decoder; a hand-written length
 * decoder is exactly the kind of code that gets one prefix wrong and puts a
 * uprobe in the middle of an instruction).
 *
 * What discovery proves with it: that an address is an instruction boundary
 * reached by decoding linearly from a proven function start (an ELF symbol,
 * an .eh_frame FDE, a .gopclntab entry), where a function's return
 * instructions are, which string or function a function's code refers to
 * (RIP-relative operands, call targets), and which constant it passes in
 * which argument register. Compilers for x86-64 do not put data inside
 * .text functions (jump tables live in .rodata), so a linear sweep over a
 * function's extent decodes its real instructions; one byte that does not
 * decode ends the walk with -EILSEQ, and callers then attach nothing.
 */
#ifndef SP_X86_INSN_H
#define SP_X86_INSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sp_x86_kind {
	SP_X86_OTHER = 0,
	SP_X86_RET,		/* ret, ret imm16 */
	SP_X86_CALL,		/* call rel32 (target set) or indirect */
	SP_X86_JMP,		/* jmp rel (target set) or indirect */
	SP_X86_JCC,		/* conditional jump (target set) */
	SP_X86_TRAP,		/* int3, ud2, hlt: never falls through */
};

/* General-purpose registers by number, whatever the operand width
 * (edi, di and dil are all SP_X86_RDI). */
enum sp_x86_reg {
	SP_X86_NOREG = -1,
	SP_X86_RAX = 0, SP_X86_RCX, SP_X86_RDX, SP_X86_RBX, SP_X86_RSP, SP_X86_RBP,
	SP_X86_RSI, SP_X86_RDI, SP_X86_R8, SP_X86_R9, SP_X86_R10, SP_X86_R11,
	SP_X86_R12, SP_X86_R13, SP_X86_R14, SP_X86_R15,
};

struct sp_x86_insn {
	uint64_t addr;		/* its address (as given to sp_x86_walk) */
	uint8_t size;		/* its length in bytes */
	uint8_t kind;		/* enum sp_x86_kind */
	bool has_target;	/* target is set */
	bool rip_rel;		/* target is a RIP-relative memory operand's address */
	bool has_imm;		/* imm is set: the first immediate operand */
	int8_t dst;		/* enum sp_x86_reg: register written by mov/lea/xor, or NOREG */
	uint16_t id;		/* Capstone's instruction id (X86_INS_*) */
	uint64_t target;	/* a direct branch's target, or a RIP-relative address */
	int64_t imm;
	uint32_t reads;		/* bit (1 << enum sp_x86_reg) per GPR read, implicit ones too */
	uint32_t writes;	/* likewise per GPR written (a call: the registers it clobbers) */
	char mnemonic[16];	/* for -v and test messages */
};

/*
 * Decodes code[0, len) (at address addr) linearly and calls fn for each
 * instruction in order. Returns 0 when every byte decoded (or fn returned
 * 1 to stop early), fn's negative value if it returned one, -EILSEQ when
 * some bytes do not decode (at *bad, if bad is not NULL), -ENOMEM if the
 * decoder could not be opened.
 */
int sp_x86_walk(const uint8_t *code, size_t len, uint64_t addr,
		int (*fn)(const struct sp_x86_insn *in, void *arg), void *arg, uint64_t *bad);

/* Whether addr is an instruction boundary of the linear decode of
 * code[0, len) from addr0 (0 yes, -ENOENT not, -EILSEQ undecodable). */
int sp_x86_is_boundary(const uint8_t *code, size_t len, uint64_t addr0, uint64_t addr);

#endif
