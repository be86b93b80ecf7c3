// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <capstone/capstone.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "discovery/x86_insn.h"

static int8_t gpr(x86_reg r)
{
#define R4(n, a, b, c, d) case X86_REG_##a: case X86_REG_##b: case X86_REG_##c: case X86_REG_##d: \
	return SP_X86_##n;
	switch (r) {
	R4(RAX, RAX, EAX, AX, AL)
	R4(RCX, RCX, ECX, CX, CL)
	R4(RDX, RDX, EDX, DX, DL)
	R4(RBX, RBX, EBX, BX, BL)
	R4(RSP, RSP, ESP, SP, SPL)
	R4(RBP, RBP, EBP, BP, BPL)
	R4(RSI, RSI, ESI, SI, SIL)
	R4(RDI, RDI, EDI, DI, DIL)
	R4(R8, R8, R8D, R8W, R8B)
	R4(R9, R9, R9D, R9W, R9B)
	R4(R10, R10, R10D, R10W, R10B)
	R4(R11, R11, R11D, R11W, R11B)
	R4(R12, R12, R12D, R12W, R12B)
	R4(R13, R13, R13D, R13W, R13B)
	R4(R14, R14, R14D, R14W, R14B)
	R4(R15, R15, R15D, R15W, R15B)
	default:
		return SP_X86_NOREG;
	}
#undef R4
}

/* The System V caller-saved GPRs: what any call may leave changed. */
#define CLOBBERED ((1u << SP_X86_RAX) | (1u << SP_X86_RCX) | (1u << SP_X86_RDX) |	\
		   (1u << SP_X86_RSI) | (1u << SP_X86_RDI) | (1u << SP_X86_R8) |	\
		   (1u << SP_X86_R9) | (1u << SP_X86_R10) | (1u << SP_X86_R11))

static void regs_mask(csh h, const cs_insn *ci, struct sp_x86_insn *in)
{
	cs_regs rd, wr;
	uint8_t nrd = 0, nwr = 0;
	int8_t r;

	if (cs_regs_access(h, ci, rd, &nrd, wr, &nwr) != CS_ERR_OK) {
		/* unknown: say it writes everything, so no caller trusts a
		 * value across it */
		in->writes = 0xffff;
		return;
	}
	for (int i = 0; i < nrd; i++)
		if ((r = gpr(rd[i])) != SP_X86_NOREG)
			in->reads |= 1u << r;
	for (int i = 0; i < nwr; i++)
		if ((r = gpr(wr[i])) != SP_X86_NOREG)
			in->writes |= 1u << r;
	/* `xor %eax,%eax` reads nothing that matters */
	if (ci->id == X86_INS_XOR && ci->detail->x86.op_count == 2 &&
	    ci->detail->x86.operands[0].type == X86_OP_REG &&
	    ci->detail->x86.operands[1].type == X86_OP_REG &&
	    ci->detail->x86.operands[0].reg == ci->detail->x86.operands[1].reg &&
	    (r = gpr(ci->detail->x86.operands[0].reg)) != SP_X86_NOREG)
		in->reads &= ~(1u << r);
	if (in->kind == SP_X86_CALL)
		in->writes |= CLOBBERED;
}

static void describe(csh h, const cs_insn *ci, struct sp_x86_insn *in)
{
	const cs_x86 *x = &ci->detail->x86;
	int i;

	memset(in, 0, sizeof(*in));
	in->addr = ci->address;
	in->size = ci->size;
	in->id = ci->id;
	in->dst = SP_X86_NOREG;
	snprintf(in->mnemonic, sizeof(in->mnemonic), "%.15s", ci->mnemonic);
	if (cs_insn_group(h, ci, CS_GRP_RET))
		in->kind = SP_X86_RET;
	else if (cs_insn_group(h, ci, CS_GRP_CALL))
		in->kind = SP_X86_CALL;
	else if (ci->id == X86_INS_JMP || ci->id == X86_INS_LJMP)
		in->kind = SP_X86_JMP;
	else if (cs_insn_group(h, ci, CS_GRP_JUMP))
		in->kind = SP_X86_JCC;
	else if (ci->id == X86_INS_INT3 || ci->id == X86_INS_UD2 || ci->id == X86_INS_HLT)
		in->kind = SP_X86_TRAP;
	for (i = 0; i < x->op_count; i++) {
		const cs_x86_op *op = &x->operands[i];

		if (op->type == X86_OP_IMM && !in->has_imm) {
			in->has_imm = true;
			in->imm = op->imm;
			if (in->kind >= SP_X86_CALL && in->kind <= SP_X86_JCC) {
				in->has_target = true;
				in->target = (uint64_t)op->imm;
			}
		} else if (op->type == X86_OP_MEM && op->mem.base == X86_REG_RIP &&
			   op->mem.index == X86_REG_INVALID && !in->has_target) {
			in->has_target = true;
			in->rip_rel = true;
			in->target = ci->address + ci->size + (uint64_t)op->mem.disp;
		}
	}
	regs_mask(h, ci, in);
	/* Intel operand order: the first operand is the destination */
	if (x->op_count > 0 && x->operands[0].type == X86_OP_REG &&
	    (ci->id == X86_INS_MOV || ci->id == X86_INS_LEA || ci->id == X86_INS_XOR ||
	     ci->id == X86_INS_MOVABS || ci->id == X86_INS_MOVZX || ci->id == X86_INS_MOVSXD))
		in->dst = gpr(x->operands[0].reg);
}

int sp_x86_walk(const uint8_t *code, size_t len, uint64_t addr,
		int (*fn)(const struct sp_x86_insn *in, void *arg), void *arg, uint64_t *bad)
{
	struct sp_x86_insn in;
	cs_insn *ci = NULL;
	int err = 0;
	csh h;

	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
		return -ENOMEM;
	cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
	ci = cs_malloc(h);
	if (!ci) {
		err = -ENOMEM;
		goto out;
	}
	while (len > 0) {
		if (!cs_disasm_iter(h, &code, &len, &addr, ci)) {
			if (bad)
				*bad = addr;
			err = -EILSEQ;
			break;
		}
		describe(h, ci, &in);
		err = fn(&in, arg);
		if (err) {
			err = err > 0 ? 0 : err;
			break;
		}
	}
out:
	if (ci)
		cs_free(ci, 1);
	cs_close(&h);
	return err;
}

struct boundary {
	uint64_t want;
	bool found;
};

static int at_boundary(const struct sp_x86_insn *in, void *arg)
{
	struct boundary *b = arg;

	if (in->addr == b->want)
		b->found = true;
	return in->addr >= b->want;	/* stop once there or past it */
}

int sp_x86_is_boundary(const uint8_t *code, size_t len, uint64_t addr0, uint64_t addr)
{
	struct boundary b = { .want = addr };
	int err;

	if (addr == addr0)
		return 0;
	err = sp_x86_walk(code, len, addr0, at_boundary, &b, NULL);
	if (err)
		return err;
	return b.found ? 0 : -ENOENT;
}
