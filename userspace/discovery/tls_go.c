// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Go's crypto/tls (Go >= 1.17 on x86-64): where to probe, and with which
 * programs of bpf/tls_go.bpf.c (which says how the arguments, the
 * goroutine and the socket are read).
 *
 * A Go binary is one with a .go.buildinfo section (its magic checked);
 * its Go version comes from there, and one older than 1.17 is declined
 * (the probes read the register ABI, amd64's since 1.17). The functions
 * crypto/tls.(*Conn).Write and .Read, and their extents (entry to the next
 * function's entry), come from .gopclntab (gopclntab.h), which stripped
 * binaries keep; where the ELF symbol table names them too, it must agree
 * with the table, or nothing is attached.
 *
 * The points, per function, and the rule that makes each safe:
 *  - every `ret` of the function, found by decoding it linearly from its
 *    entry to its end with Capstone (x86_insn.h): each is an instruction
 *    boundary of that decode by construction. If any byte of either
 *    function fails to decode, or a function has no `ret`, nothing is
 *    attached to the binary (a partial set of returns would leave entries
 *    that never complete, and a guess could land mid-instruction).
 *  - the entry. Go functions begin with the stack check,
 *    `cmp 0x10(%r14),%rsp; jbe morestack` (or `lea -N(%rsp),%r12;
 *    cmp 0x10(%r14),%r12; jbe` for a bigger frame). cmp and lea are
 *    single-stepped by the kernel (~4.9 us); the jbe is a conditional
 *    branch, which it emulates. So the probe goes on the jbe when the
 *    decode shows exactly that shape (the instructions before it write no
 *    register but flags and r12, so RAX/RBX/RCX/R14 still hold the
 *    arguments and g) and no direct branch in the function targets the
 *    jbe or anything before it but the entry (morestack returns to the
 *    entry, which runs the check again: the probe fires again with the
 *    same arguments, which overwrites the same (g, direction) entry).
 *    Otherwise the entry itself, single-stepped, said so in the listing.
 * Return points are listed before the entry, so that attach_file puts
 * them first.
 *
 * The cookie of an entry point is net.(*TCPConn).Close's address minus
 * the probed instruction's (GO_COOKIE_ITAB set), found in the same table;
 * without it (a binary that does not link net's TCPConn) no Conn is a
 * *net.TCPConn and the probes would count every call as skipped: then
 * the binary is declined.
 */
#include <capstone/capstone.h>
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "discovery/elf_sym.h"
#include "discovery/gopclntab.h"
#include "discovery/tls_attach.h"
#include "discovery/x86_insn.h"
#include "util/log.h"
#include "spanprobe.h"
#include "spanprobe.skel.h"

#define GO_COOKIE_ITAB	(1ull << 32)	/* as in bpf/tls_go.bpf.c */
#define PCLN_MAX	(256u << 20)	/* a .gopclntab larger is not believed */
#define FUNC_MAX	(256u << 10)	/* nor a Read or Write larger than this */

static const char WRITE_FN[] = "crypto/tls.(*Conn).Write";
static const char READ_FN[] = "crypto/tls.(*Conn).Read";
static const char CLOSE_FN[] = "net.(*TCPConn).Close";

/* The decode of one function: its returns, and what the entry choice
 * needs. */
struct go_fn {
	uint64_t entry, end;	/* vaddrs */
	uint64_t off;		/* file offset of entry */
	uint64_t rets[SP_TLS_MAX_POINTS];
	int nrets;
	bool too_many;
	int ninsn;
	uint64_t jbe;		/* the stack check's jbe, 0 if the shape differs */
	bool shape_broken;	/* an instruction before the jbe was not cmp/lea r12 */
	uint64_t min_target;	/* lowest direct-branch target inside (entry, jbe] */
};

static int walk_fn(const struct sp_x86_insn *in, void *arg)
{
	struct go_fn *f = arg;

	if (in->kind == SP_X86_RET) {
		if (f->nrets == SP_TLS_MAX_POINTS)
			f->too_many = true;
		else
			f->rets[f->nrets++] = in->addr;
	}
	if (in->has_target && !in->rip_rel && in->target > f->entry && in->target < f->end &&
	    in->target < f->min_target)
		f->min_target = in->target;
	/* the stack check: cmp / lea into r12, then jbe, within 3 */
	if (!f->jbe && !f->shape_broken) {
		if (f->ninsn < 3 && in->id == X86_INS_JBE && in->has_target)
			f->jbe = in->addr;
		else if (f->ninsn >= 2 || !(in->id == X86_INS_CMP ||
					    (in->id == X86_INS_LEA && in->dst == SP_X86_R12)))
			f->shape_broken = true;
	}
	f->ninsn++;
	return 0;
}

/* Finds name, checks it against the ELF symbol if any, decodes it. 0, or
 * -errno with *why set. */
static int go_fn_load(struct sp_elf *e, const struct sp_gopcln *t, const char *name,
		      struct go_fn *f, char *why, size_t wlen)
{
	uint64_t symoff, bad = 0;
	uint8_t *code;
	int err;

	memset(f, 0, sizeof(*f));
	f->min_target = UINT64_MAX;
	err = sp_gopcln__find(t, name, &f->entry, &f->end);
	if (err) {
		snprintf(why, wlen, err == -ENOENT ? "no %s (does not use crypto/tls)" :
			 "its .gopclntab is malformed (looking for %s)", name);
		return err;
	}
	if (f->end - f->entry > FUNC_MAX) {
		snprintf(why, wlen, "%s is %llu bytes long, more than believable", name,
			 (unsigned long long)(f->end - f->entry));
		return -EINVAL;
	}
	if (sp_elf__vaddr_off(e, f->entry, f->end - f->entry, &f->off)) {
		snprintf(why, wlen, "%s (0x%llx) is not in the file's loaded segments", name,
			 (unsigned long long)f->entry);
		return -EINVAL;
	}
	/* the symbol table, when present, must say the same */
	if (!sp_elf__func(e, name, &symoff) && symoff != f->off) {
		snprintf(why, wlen, "%s: the symbol table (0x%llx) and .gopclntab (0x%llx) disagree",
			 name, (unsigned long long)symoff, (unsigned long long)f->off);
		return -EINVAL;
	}
	code = malloc(f->end - f->entry);
	if (!code) {
		snprintf(why, wlen, "out of memory");
		return -ENOMEM;
	}
	err = sp_elf__read(e, f->off, code, f->end - f->entry);
	if (!err)
		err = sp_x86_walk(code, f->end - f->entry, f->entry, walk_fn, f, &bad);
	free(code);
	if (err == -EILSEQ)
		snprintf(why, wlen, "the byte at 0x%llx of %s does not decode: its returns cannot be proven",
			 (unsigned long long)bad, name);
	else if (err)
		snprintf(why, wlen, "cannot read %s: %s", name, strerror(-err));
	else if (!f->nrets || f->too_many)
		snprintf(why, wlen, "%s has %s return instructions", name,
			 f->too_many ? "too many" : "no");
	if (!err && (!f->nrets || f->too_many))
		err = -EINVAL;
	return err;
}

/* The Go version of e into ver: 0, or -errno with *why set. */
/* A section with bytes in the file (not SHT_NOBITS): 0 or -ENOENT. */
static int section(struct sp_elf *e, const char *name, uint64_t *addr, uint64_t *off,
		   uint64_t *size)
{
	struct sp_elf_sec sec;

	if (sp_elf__section(e, name, &sec) || sec.type == SHT_NOBITS)
		return -ENOENT;
	*addr = sec.addr;
	*off = sec.off;
	*size = sec.size;
	return 0;
}

static int go_version(struct sp_elf *e, char *ver, size_t vlen, char *why, size_t wlen)
{
	uint64_t addr, off, size, str, hdr[2] = {};
	uint8_t buf[512], ps = 8;
	int err;

	if (section(e, ".go.buildinfo", &addr, &off, &size))
		return -ENOENT;
	if (size > sizeof(buf))
		size = sizeof(buf);
	if (sp_elf__read(e, off, buf, size))
		return -ENOENT;
	err = sp_gobuild__version(buf, size, ver, vlen, &str, &ps);
	if (err == -EAGAIN) {
		/* Go 1.13-1.17: a pointer to the version's string header */
		if (ps != 8 || sp_elf__vaddr_off(e, str, 16, &off) || sp_elf__read(e, off, hdr, 16) ||
		    hdr[1] == 0 || hdr[1] >= vlen || sp_elf__vaddr_off(e, hdr[0], hdr[1], &off) ||
		    sp_elf__read(e, off, ver, hdr[1]))
			err = -EINVAL;
		else
			ver[hdr[1]] = 0, err = 0;
	}
	if (err)
		snprintf(why, wlen, "its .go.buildinfo does not say which Go built it");
	return err;
}

static void go_point(struct sp_tls_point *p, uint64_t off, uint8_t dir, uint8_t kind,
		     bool emulated, uint64_t cookie, const char *fn, const char *what)
{
	memset(p, 0, sizeof(*p));
	p->off = off;
	p->lib = &sp_tls_go;
	p->contract = SP_TLS_SSIZE;
	p->dir = dir;
	p->kind = kind;
	p->emulated = emulated;
	p->cookie = cookie;
	/* "(*Conn).Write" and what: the package is in the library name */
	snprintf(p->label, sizeof(p->label), "%s%s", fn + strlen("crypto/tls."), what);
}

/* Appends fn's points (returns, then entry) to pts. */
static int go_fn_points(const struct go_fn *f, uint8_t dir, uint64_t close_va, const char *name,
			struct sp_tls_point *pts, int n, int max)
{
	/* the jbe, if it is the only way in past the entry */
	uint64_t at = f->jbe && f->min_target > f->jbe ? f->jbe : f->entry;
	char what[24];

	if (n + f->nrets + 1 > max)
		return -ENOSPC;
	for (int i = 0; i < f->nrets; i++) {
		snprintf(what, sizeof(what), " ret +0x%llx",
			 (unsigned long long)(f->rets[i] - f->entry));
		/* whether a ret is emulated is this kernel's business: listed
		 * as single-stepped, the safe statement (README) */
		go_point(&pts[n++], f->off + (f->rets[i] - f->entry), dir, SP_TLS_RET_INSN, false, 0,
			 name, what);
	}
	snprintf(what, sizeof(what), at == f->entry ? " entry" : " entry +0x%llx (jbe)",
		 (unsigned long long)(at - f->entry));
	go_point(&pts[n++], f->off + (at - f->entry), dir, SP_TLS_ENTRY, at != f->entry,
		 GO_COOKIE_ITAB | (uint32_t)(int32_t)(close_va - at), name, what);
	return n;
}

static int go_points(const char *path, struct sp_elf *e, struct sp_tls_point *pts, int max)
{
	uint64_t addr, off, size, taddr = 0, toff, tsize, close_va, close_end;
	char ver[64] = "", why[256] = "";
	struct go_fn w, r;
	struct sp_gopcln t;
	uint8_t *pcln = NULL;
	int major, minor, n = 0, err;

	err = go_version(e, ver, sizeof(ver), why, sizeof(why));
	if (err == -ENOENT)
		return 0;	/* not a Go binary */
	if (err)
		goto declined;
	if (sp_go_version_parse(ver, &major, &minor)) {
		snprintf(why, sizeof(why), "built by %s, a Go version spanprobe cannot read", ver);
		goto declined;
	}
	if (sp_elf__machine(e) != EM_X86_64) {
		snprintf(why, sizeof(why), "built by %s for a machine other than x86-64", ver);
		goto declined;
	}
	if (major == 1 && minor < 17) {
		snprintf(why, sizeof(why),
			 "built by %s, older than Go 1.17 (crypto/tls is probed in the register ABI)",
			 ver);
		goto declined;
	}
	if (section(e, ".gopclntab", &addr, &off, &size) || size > PCLN_MAX) {
		snprintf(why, sizeof(why), "built by %s, without a readable .gopclntab", ver);
		goto declined;
	}
	section(e, ".text", &taddr, &toff, &tsize);
	pcln = malloc(size);
	if (!pcln || sp_elf__read(e, off, pcln, size)) {
		snprintf(why, sizeof(why), "cannot read its .gopclntab");
		goto declined;
	}
	err = sp_gopcln__init(&t, pcln, size, taddr);
	if (err) {
		snprintf(why, sizeof(why), "built by %s, with a .gopclntab spanprobe cannot read", ver);
		goto declined;
	}
	if (go_fn_load(e, &t, WRITE_FN, &w, why, sizeof(why)) ||
	    go_fn_load(e, &t, READ_FN, &r, why, sizeof(why)))
		goto declined;
	if (sp_gopcln__find(&t, CLOSE_FN, &close_va, &close_end)) {
		snprintf(why, sizeof(why), "no %s: its TLS connections are not TCP connections", CLOSE_FN);
		goto declined;
	}
	n = go_fn_points(&w, SP_DIR_EGRESS, close_va, WRITE_FN, pts, 0, max);
	if (n >= 0)
		n = go_fn_points(&r, SP_DIR_INGRESS, close_va, READ_FN, pts, n, max);
	if (n < 0) {
		snprintf(why, sizeof(why), "more return instructions than %d points", max);
		goto declined;
	}
	sp_dbg("%s: Go %s, crypto/tls found (%d points)", path, ver, n);
	free(pcln);
	return n;
declined:
	free(pcln);
	/* shown by --list-tls-probes, logged by -v, as every library's */
	sp_tls_decline(path, "go", "%s%s%s", ver[0] ? ver : "", ver[0] ? ": " : "", why);
	return 0;
}

static struct bpf_program *go_prog(struct spanprobe_bpf *s, const struct sp_tls_point *pt,
				   bool ret)
{
	if (pt->dir == SP_DIR_EGRESS)
		return ret ? s->progs.go_write_ret : s->progs.go_write_enter;
	return ret ? s->progs.go_read_ret : s->progs.go_read_enter;
}

const struct sp_tls_lib sp_tls_go = {
	.name = "go",
	.lib_prefixes = NULL,	/* statically linked into each binary */
	.points = go_points,
	.prog = go_prog,
};
