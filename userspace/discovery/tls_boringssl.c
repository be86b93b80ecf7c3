// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * BoringSSL linked statically without symbols (Bun, and Claude Code, a Bun
 * single-file executable): where SSL_write and SSL_read are, found from
 * facts that survive a new build, and probed with bpf/tls_openssl.bpf.c's
 * SP_TLS_INT programs (BoringSSL's `int SSL_write(SSL *, const void *,
 * int)` and `int SSL_read(SSL *, void *, int)` have OpenSSL's contract;
 * the socket is tied through the syscall nested in the call, as for
 * OpenSSL). With symbols, tls_openssl.c probes them already and this file
 * stays out of the way.
 *
 * The facts (BoringSSL ssl/ssl_lib.cc, oven-sh/boringssl as of 2026):
 *  - OPENSSL_PUT_ERROR(SSL, reason) is ERR_put_error(ERR_LIB_SSL = 16, 0,
 *    reason, __FILE__, __LINE__): at the call, edi = 16, esi = 0, edx = the
 *    reason, rcx = the address of the file name ("../../vendor/boringssl/
 *    ssl/ssl_lib.cc" in Bun), loaded as an immediate (non-PIE) or through
 *    lea (PIE). Reasons are public API constants (include/openssl/ssl.h);
 *    line numbers are not used, they move with every edit.
 *  - ERR_put_error is the one function every such call site calls.
 *  - SSL_write is the one function that reports SSL_R_UNINITIALIZED (226),
 *    SSL_R_SSL_HANDSHAKE_FAILURE (215) and SSL_R_BAD_LENGTH (111) from
 *    ssl_lib.cc, and nothing else but ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED
 *    (66, its QUIC check).
 *  - ssl_read_impl is the one function that reports 226 and 215 but not
 *    111; SSL_read (SSL_peek inlined) is the one function that reports 66
 *    (its QUIC check) and calls ssl_read_impl; where SSL_peek is kept as
 *    well (Chromium), SSL_read is the one of the two that calls all the
 *    other calls and more (pick_read).
 *  - Both read their three arguments (rdi, rsi, edx) before writing them.
 * Any rule that matches no function or more than one declines the file,
 * with the reason (-v, --list-tls-probes).
 *
 * Function starts. The uprobe must be at a proven function start. Bun and
 * Claude Code are built without unwind tables for their C/C++ code: Bun
 * 1.4 has no .eh_frame at all, Claude Code's covers 2 MB of its 125 MB
 * of code and none of BoringSSL. So a start is an FDE's pc_begin where
 * an FDE covers the code (a proof), and otherwise accepted on evidence,
 * not proof (README "TLS probes" lists how it can fail), when all of: the
 * address is 16-byte aligned with int3 padding (0xcc, what clang/lld put
 * between functions, never inside one) just before it; direct
 * `call rel32` instructions elsewhere in the code target it exactly (a
 * call target is a function entry); and Capstone decodes linearly from it
 * to the error-reporting instructions at instruction boundaries without
 * meeting padding. A byte pattern of the prologue is never used: it
 * changes with every compiler and build flag.
 *
 * Cost: the file is mapped, not read; one pass over the code finds the
 * references to the file name and one more the direct calls (about 0.2 s
 * for Claude Code's 125 MB of code, on the discovery thread, once per
 * file identity); only the few functions found are decoded.
 */
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "discovery/eh_frame.h"
#include "discovery/elf_sym.h"
#include "discovery/tls_attach.h"
#include "discovery/tls_boringssl.h"
#include "discovery/x86_insn.h"
#include "util/log.h"
#include "spanprobe.h"
#include "spanprobe.skel.h"

#define ERR_LIB_SSL			16
#define ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED 66	/* 2 | ERR_R_FATAL */
#define SSL_R_BAD_LENGTH		111
#define SSL_R_SSL_HANDSHAKE_FAILURE	215
#define SSL_R_UNINITIALIZED		226

#define MAX_STRS	4		/* ssl_lib.cc file-name strings */
#define MAX_SITES	512		/* references to them */
#define MAX_FUNCS	64		/* functions holding them */
#define MAX_BACK	4		/* start candidates tried per site */
#define MAX_FN_BYTES	(64 * 1024)	/* a function's extent at most */
#define MAX_INSNS	16384		/* instructions decoded per function */
#define MAX_EVENTS	64		/* error reports per function */
#define MAX_CALLS	256		/* direct call targets per function */
#define MAX_FDES	(1u << 20)

#define BIT(r) (1u << (r))
#define ARGS (BIT(SP_X86_RDI) | BIT(SP_X86_RSI) | BIT(SP_X86_RDX))
#define ERR_REGS (BIT(SP_X86_RDI) | BIT(SP_X86_RSI) | BIT(SP_X86_RDX) | BIT(SP_X86_RCX))

struct event {
	uint64_t target;	/* the function called */
	int64_t val[16];	/* register values at the call, where known */
	uint32_t known;
};

struct func {
	uint64_t start, end;
	uint8_t how;		/* enum sp_bssl_start */
	uint32_t callers;
	bool decoded;
	uint32_t live;		/* argument registers read before written */
	struct event ev[MAX_EVENTS];
	uint32_t nev;
	uint64_t calls[MAX_CALLS];
	uint32_t ncalls;
	uint16_t reasons[MAX_EVENTS];	/* ERR_LIB_SSL reasons from ssl_lib.cc */
	uint32_t nreasons;
};

struct find {
	const struct sp_bssl_image *img;
	uint64_t strs[MAX_STRS];
	uint32_t nstrs;
	uint64_t sites[MAX_SITES];
	uint32_t nsites;
	struct func *fn;	/* MAX_FUNCS */
	uint32_t nfn;
	struct sp_x86_insn *ins;	/* MAX_INSNS, scratch */
	size_t nins;
	char *why;
	size_t whylen;
};

static int decline(struct find *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->why, f->whylen, fmt, ap);
	va_end(ap);
	return -ENOENT;
}

static uint32_t load32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* The NUL-terminated strings ending in "ssl_lib.cc" after a '/' or
 * alone: BoringSSL's own (OpenSSL's is ssl_lib.c). */
static void find_strings(struct find *f)
{
	static const char tail[] = "ssl_lib.cc";
	const uint8_t *ro = f->img->rodata, *end = ro + f->img->rodata_len, *p = ro;

	while (f->nstrs < MAX_STRS && p < end &&
	       (p = memmem(p, (size_t)(end - p), tail, sizeof(tail))) != NULL) {
		const uint8_t *s = p;

		if (p == ro || p[-1] == '/' || p[-1] == 0) {
			while (s > ro && s[-1] && p - s < 256)
				s--;
			f->strs[f->nstrs++] = f->img->rodata_addr + (uint64_t)(s - ro);
		}
		p += sizeof(tail);
	}
}

/* Every 4 bytes of code that hold one of the strings' addresses, as an
 * absolute immediate or as a RIP-relative displacement ending there (lea
 * puts its displacement last). A prefilter: decoding proves each later. */
static int add_site(struct find *f, uint64_t at)
{
	for (uint32_t i = 0; i < f->nsites; i++)
		if (f->sites[i] == at)
			return 0;
	if (f->nsites == MAX_SITES)
		return decline(f, "more than %u references to ssl_lib.cc", MAX_SITES);
	f->sites[f->nsites++] = at;
	return 0;
}

static int find_sites(struct find *f)
{
	const uint8_t *t = f->img->text, *end = t + f->img->text_len, *p;
	uint64_t va = f->img->text_addr;
	int err;

	for (uint32_t k = 0; k < f->nstrs; k++) {
		uint64_t s = f->strs[k];
		uint32_t imm = (uint32_t)s;

		/* memchr and memmem, not a loop per byte: 125 MB in ~50 ms */
		if (f->img->abs32 && s <= UINT32_MAX)
			for (p = t; p + 4 <= end && (p = memmem(p, (size_t)(end - p), &imm, 4)); p++)
				if ((err = add_site(f, va + (uint64_t)(p - t))))
					return err;
		/* lea disp32(%rip),%reg: REX.W 8d modrm(mod 00, rm 101) disp32 */
		for (p = t; p + 6 <= end && (p = memchr(p, 0x8d, (size_t)(end - p - 5))); p++) {
			size_t i = (size_t)(p - t) + 2;

			if ((p[1] & 0xc7) != 0x05 ||
			    (uint32_t)(s - (va + i + 4)) != load32(t + i))
				continue;
			if ((err = add_site(f, va + i)))
				return err;
		}
	}
	if (!f->nsites)
		return decline(f, "ssl_lib.cc is never referenced from code");
	return 0;
}

static struct func *func_at(struct find *f, uint64_t start)
{
	for (uint32_t i = 0; i < f->nfn; i++)
		if (f->fn[i].start == start)
			return &f->fn[i];
	return NULL;
}

static struct func *func_add(struct find *f, uint64_t start, uint64_t end, uint8_t how)
{
	struct func *fn = func_at(f, start);

	if (fn || f->nfn == MAX_FUNCS)
		return fn;
	fn = &f->fn[f->nfn++];
	memset(fn, 0, sizeof(*fn));
	fn->start = start;
	fn->end = end;
	fn->how = how;
	return fn;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct cand {
	uint64_t addr, site;
	uint32_t callers;
};

static int cmp_cand(const void *a, const void *b)
{
	return cmp_u64(&((const struct cand *)a)->addr, &((const struct cand *)b)->addr);
}

/* One pass over the code: how many `call rel32` target each candidate. */
static void count_callers(struct find *f, struct cand *c, size_t n)
{
	const uint8_t *t = f->img->text;
	uint64_t va = f->img->text_addr;

	if (!n)
		return;
	qsort(c, n, sizeof(*c), cmp_cand);
	for (const uint8_t *p = t, *end = t + f->img->text_len;
	     p + 5 <= end && (p = memchr(p, 0xe8, (size_t)(end - p - 4))); p++) {
		size_t i = (size_t)(p - t), lo = 0, hi = n;
		uint64_t to = va + i + 5 + (uint64_t)(int64_t)(int32_t)load32(p + 1);

		if (to < c[0].addr || to > c[n - 1].addr)
			continue;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (c[mid].addr < to)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < n && c[lo].addr == to)
			c[lo].callers++;
	}
}

/* The function of each site: its FDE, else the nearest padded, called
 * start before it. */
static int find_funcs(struct find *f)
{
	const uint8_t *t = f->img->text;
	uint64_t va = f->img->text_addr;
	struct cand *c = calloc((size_t)f->nsites * MAX_BACK, sizeof(*c));
	size_t nc = 0;

	if (!c)
		return -ENOMEM;
	for (uint32_t i = 0; i < f->nsites; i++) {
		uint64_t site = f->sites[i], s;
		struct sp_eh_fde fde;
		int k = 0;

		if (!sp_eh_frame__find(f->img->fdes, site, &fde)) {
			func_add(f, fde.start, fde.end, SP_BSSL_START_FDE);
			continue;
		}
		for (s = site & ~15ull; s > va && site - s < MAX_FN_BYTES && k < MAX_BACK; s -= 16) {
			if (t[s - va - 1] != 0xcc)
				continue;
			c[nc++] = (struct cand){ .addr = s, .site = site };
			k++;
		}
	}
	count_callers(f, c, nc);
	/* per site, the nearest candidate that code calls; the walk from it
	 * must then reach the site (decode_func) */
	for (uint32_t i = 0; i < f->nsites; i++) {
		uint64_t site = f->sites[i], best = 0;
		uint32_t callers = 0;

		for (size_t j = 0; j < nc; j++)
			if (c[j].site == site && c[j].callers && c[j].addr > best) {
				best = c[j].addr;
				callers = c[j].callers;
			}
		if (best) {
			struct func *fn = func_add(f, best, 0, SP_BSSL_START_CALL);

			if (fn)
				fn->callers = callers;
		}
	}
	free(c);
	if (!f->nfn)
		return decline(f, "no proven function start (FDE, or called and padded) holds a "
			       "reference to ssl_lib.cc");
	return 0;
}

static int collect(const struct sp_x86_insn *in, void *arg)
{
	struct find *f = arg;

	if (f->nins == MAX_INSNS)
		return -E2BIG;
	/* padding ends a function found by its callers */
	if (in->kind == SP_X86_TRAP && in->size == 1 && !strcmp(in->mnemonic, "int3"))
		return 1;
	f->ins[f->nins++] = *in;
	return 0;
}

static size_t insn_index(const struct find *f, uint64_t addr)
{
	size_t lo = 0, hi = f->nins;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->ins[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < f->nins && f->ins[lo].addr == addr ? lo : SIZE_MAX;
}

struct path {
	size_t i;	/* instruction index */
	uint32_t dec;	/* argument registers read or written on the way */
};

/* Whether some path from the entry reads each argument register before
 * writing it: a function that takes (SSL *, buf, num) does. */
static uint32_t args_live(struct find *f)
{
	struct path stack[256];
	uint8_t *seen = calloc(f->nins ? f->nins : 1, 1);
	uint32_t live = 0, n = 0, steps = 0;

	if (!seen)
		return 0;
	stack[n++] = (struct path){ 0, 0 };
	while (n && steps < 65536) {
		size_t i = stack[--n].i;
		uint32_t dec = stack[n].dec;

		while (i < f->nins && steps++ < 65536) {
			const struct sp_x86_insn *in = &f->ins[i];
			/* three argument registers: 8 decided-states */
			uint8_t st = (uint8_t)(((dec >> SP_X86_RDI) & 1) | ((dec >> SP_X86_RSI) & 1) << 1 |
					       ((dec >> SP_X86_RDX) & 1) << 2);
			uint32_t open = ARGS & ~dec;
			size_t to;

			if (seen[i] & (1u << st))
				break;
			seen[i] |= 1u << st;
			if (in->kind == SP_X86_CALL ||
			    (in->kind == SP_X86_JMP && (!in->has_target || in->rip_rel ||
							insn_index(f, in->target) == SIZE_MAX))) {
				/* a call or tail call passes what is still
				 * unwritten on: a use */
				live |= open;
				break;
			}
			live |= in->reads & open;
			dec |= (in->reads | in->writes) & ARGS;
			if (in->kind == SP_X86_RET || in->kind == SP_X86_TRAP)
				break;
			if (in->kind == SP_X86_JMP) {
				i = insn_index(f, in->target);
				continue;
			}
			if (in->kind == SP_X86_JCC && in->has_target &&
			    (to = insn_index(f, in->target)) != SIZE_MAX && n < 256)
				stack[n++] = (struct path){ to, dec };
			i++;
		}
	}
	free(seen);
	return live;
}

static void add_event(struct func *fn, uint64_t target, const int64_t *val, uint32_t known)
{
	if (fn->nev == MAX_EVENTS)
		return;
	fn->ev[fn->nev].target = target;
	memcpy(fn->ev[fn->nev].val, val, sizeof(fn->ev[0].val));
	fn->ev[fn->nev].known = known;
	fn->nev++;
}

/* The direct call at index c is reached from index j with the error
 * registers untouched: what a jump to j passes to the call. */
static uint64_t entry_call(const struct find *f, size_t j)
{
	for (size_t k = j; k < f->nins && k < j + 16; k++) {
		const struct sp_x86_insn *in = &f->ins[k];

		if (in->kind == SP_X86_CALL)
			return in->has_target && !in->rip_rel ? in->target : 0;
		if (in->kind != SP_X86_OTHER || (in->writes & ERR_REGS))
			return 0;
	}
	return 0;
}

/* Decodes fn and records its calls with the constants in the argument
 * registers at each (along straight-line code and into jumps that reach a
 * call with those registers untouched, as compilers share one call among
 * several error paths). */
static int decode_func(struct find *f, struct func *fn)
{
	const struct sp_bssl_image *img = f->img;
	uint64_t end = fn->end ? fn->end : fn->start + MAX_FN_BYTES, bad = 0;
	int64_t val[16] = { 0 };
	uint32_t known = 0;
	bool reach = true;
	int err;

	if (fn->start < img->text_addr || fn->start >= img->text_addr + img->text_len)
		return -ERANGE;
	if (end > img->text_addr + img->text_len)
		end = img->text_addr + img->text_len;
	f->nins = 0;
	err = sp_x86_walk(img->text + (fn->start - img->text_addr), end - fn->start, fn->start,
			  collect, f, &bad);
	/* an FDE's range must decode to its end; a function found by its
	 * callers ends at padding, or the bound */
	if (err == -EILSEQ && fn->how == SP_BSSL_START_CALL && f->nins)
		err = 0;
	if (err)
		return err;
	if (!fn->end && f->nins)
		fn->end = f->ins[f->nins - 1].addr + f->ins[f->nins - 1].size;
	for (size_t k = 0; k < f->nins; k++) {
		const struct sp_x86_insn *in = &f->ins[k];
		uint64_t to;

		if (!reach)
			known = 0;
		if (in->kind == SP_X86_CALL && in->has_target && !in->rip_rel) {
			add_event(fn, in->target, val, known);
			if (fn->ncalls < MAX_CALLS)
				fn->calls[fn->ncalls++] = in->target;
		} else if ((in->kind == SP_X86_JMP || in->kind == SP_X86_JCC) && in->has_target &&
			   !in->rip_rel) {
			size_t j = insn_index(f, in->target);

			if (j != SIZE_MAX && (to = entry_call(f, j)))
				add_event(fn, to, val, known);
			else if (j == SIZE_MAX && in->kind == SP_X86_JMP && fn->ncalls < MAX_CALLS)
				fn->calls[fn->ncalls++] = in->target;	/* a tail call */
		}
		/* what this instruction leaves in the registers */
		if ((!strcmp(in->mnemonic, "mov") || !strcmp(in->mnemonic, "movabs")) && in->has_imm && in->dst != SP_X86_NOREG &&
		    in->size >= 5) {
			val[in->dst] = in->imm;
			known |= BIT(in->dst);
		} else if (in->dst != SP_X86_NOREG && in->rip_rel && !strcmp(in->mnemonic, "lea")) {
			val[in->dst] = (int64_t)in->target;
			known |= BIT(in->dst);
		} else if (in->dst != SP_X86_NOREG && !strcmp(in->mnemonic, "xor") &&
			   !(in->reads & BIT(in->dst))) {
			val[in->dst] = 0;
			known |= BIT(in->dst);
		} else {
			known &= ~in->writes;
		}
		reach = !(in->kind == SP_X86_RET || in->kind == SP_X86_JMP ||
			  in->kind == SP_X86_TRAP);
	}
	fn->live = args_live(f);
	fn->decoded = true;
	return 0;
}

static bool is_str(const struct find *f, int64_t v)
{
	for (uint32_t i = 0; i < f->nstrs; i++)
		if ((uint64_t)v == f->strs[i])
			return true;
	return false;
}

#define K(r) BIT(SP_X86_##r)

/* An error report from ssl_lib.cc: ERR_put_error(16, 0, reason, file). */
static bool ssl_report(const struct find *f, const struct event *e)
{
	/* esi (the unused function code) is 0 where known: a compiler that
	 * knows rsi is 0 already on that path does not load it again */
	return (e->known & (K(RDI) | K(RDX) | K(RCX))) == (K(RDI) | K(RDX) | K(RCX)) &&
	       e->val[SP_X86_RDI] == ERR_LIB_SSL &&
	       (!(e->known & K(RSI)) || e->val[SP_X86_RSI] == 0) &&
	       is_str(f, e->val[SP_X86_RCX]) && e->val[SP_X86_RDX] > 0 &&
	       e->val[SP_X86_RDX] < 4096;
}

/* ERR_put_error: the one target of every ssl_lib.cc error report. */
static int find_put_error(struct find *f, uint64_t *put)
{
	uint32_t n = 0;

	*put = 0;
	for (uint32_t i = 0; i < f->nfn; i++)
		for (uint32_t k = 0; k < f->fn[i].nev; k++) {
			const struct event *e = &f->fn[i].ev[k];

			if (!ssl_report(f, e))
				continue;
			if (*put && e->target != *put)
				return decline(f, "ssl_lib.cc errors are reported through two "
					       "functions (0x%llx, 0x%llx): which is ERR_put_error "
					       "is ambiguous", (unsigned long long)*put,
					       (unsigned long long)e->target);
			*put = e->target;
			n++;
		}
	if (n < 3)
		return decline(f, "fewer than 3 calls report SSL errors from ssl_lib.cc (%u): "
			       "ERR_put_error not found", n);
	return 0;
}

static bool has_reason(const struct func *fn, int r)
{
	for (uint32_t i = 0; i < fn->nreasons; i++)
		if (fn->reasons[i] == r)
			return true;
	return false;
}

static bool only_reasons(const struct func *fn, const int *set, int n)
{
	for (uint32_t i = 0; i < fn->nreasons; i++) {
		bool in = false;

		for (int k = 0; k < n; k++)
			in |= fn->reasons[i] == set[k];
		if (!in)
			return false;
	}
	return true;
}

static bool calls(const struct func *fn, uint64_t to)
{
	for (uint32_t i = 0; i < fn->ncalls; i++)
		if (fn->calls[i] == to)
			return true;
	return false;
}

/* The one function matching, or a decline naming the rule. */
static int pick(struct find *f, const char *what, struct func **out,
		bool (*match)(const struct func *, const void *), const void *arg)
{
	*out = NULL;
	for (uint32_t i = 0; i < f->nfn; i++) {
		if (!f->fn[i].decoded || !match(&f->fn[i], arg))
			continue;
		if (*out)
			return decline(f, "two functions match %s (0x%llx, 0x%llx): ambiguous", what,
				       (unsigned long long)(*out)->start,
				       (unsigned long long)f->fn[i].start);
		*out = &f->fn[i];
	}
	if (!*out)
		return decline(f, "no function matches %s", what);
	return 0;
}

static bool is_write(const struct func *fn, const void *arg)
{
	static const int ok[] = { SSL_R_UNINITIALIZED, SSL_R_SSL_HANDSHAKE_FAILURE, SSL_R_BAD_LENGTH,
				  ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED };

	(void)arg;
	return has_reason(fn, SSL_R_UNINITIALIZED) && has_reason(fn, SSL_R_SSL_HANDSHAKE_FAILURE) &&
	       has_reason(fn, SSL_R_BAD_LENGTH) && only_reasons(fn, ok, 4);
}

static bool is_read_impl(const struct func *fn, const void *arg)
{
	(void)arg;
	return has_reason(fn, SSL_R_UNINITIALIZED) && has_reason(fn, SSL_R_SSL_HANDSHAKE_FAILURE) &&
	       !has_reason(fn, SSL_R_BAD_LENGTH);
}

static bool is_read(const struct func *fn, const void *arg)
{
	static const int ok[] = { ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED };

	return has_reason(fn, ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED) && only_reasons(fn, ok, 1) &&
	       calls(fn, *(const uint64_t *)arg);
}

/* Every direct call of b is one of a's, and a makes more. */
static bool calls_more(const struct func *a, const struct func *b)
{
	uint32_t distinct = 0;

	for (uint32_t i = 0; i < b->ncalls; i++)
		if (!calls(a, b->calls[i]))
			return false;
	for (uint32_t i = 0; i < a->ncalls; i++)
		distinct += !calls(b, a->calls[i]);
	return distinct > 0;
}

/*
 * SSL_read. Where SSL_peek is kept beside it (Chromium), both report 66
 * and call ssl_read_impl (SSL_read inlines SSL_peek): SSL_read is then
 * the one that does all SSL_peek does and more (it consumes what it
 * copied: ssl->s3->read_buffer.DiscardConsumed()), so its direct calls
 * are a strict superset of SSL_peek's. Both have the same contract, so
 * even a wrong choice here probes a proven start of an (SSL *, buf, num)
 * function; anything else is ambiguous.
 */
static int pick_read(struct find *f, struct func **out, uint64_t read_impl)
{
	struct func *m[2] = { NULL, NULL };
	uint32_t n = 0;

	*out = NULL;
	for (uint32_t i = 0; i < f->nfn; i++) {
		if (!f->fn[i].decoded || !is_read(&f->fn[i], &read_impl))
			continue;
		if (n == 2)
			return decline(f, "three or more functions match SSL_read (report only "
				       "ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED and call ssl_read_impl): "
				       "ambiguous");
		m[n++] = &f->fn[i];
	}
	if (n == 0)
		return decline(f, "no function matches SSL_read (reports only "
			       "ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED and calls ssl_read_impl)");
	if (n == 1 || calls_more(m[0], m[1]))
		*out = m[0];
	else if (calls_more(m[1], m[0]))
		*out = m[1];
	else
		return decline(f, "two functions match SSL_read (0x%llx, 0x%llx) and neither "
			       "does all the other does and more (SSL_read vs SSL_peek): ambiguous",
			       (unsigned long long)m[0]->start, (unsigned long long)m[1]->start);
	return 0;
}

static int check_args(struct find *f, const struct func *fn, const char *name)
{
	if ((fn->live & ARGS) != ARGS)
		return decline(f, "%s candidate at 0x%llx does not read rdi, rsi and rdx before "
			       "writing them (not (SSL *, buf, num))", name,
			       (unsigned long long)fn->start);
	return 0;
}

int sp_bssl_find(const struct sp_bssl_image *img, struct sp_bssl_found *out, char *why,
		 size_t whylen)
{
	struct find f = { .img = img, .why = why, .whylen = whylen };
	struct func *w, *ri, *r;
	uint64_t put;
	int err;

	if (whylen)
		why[0] = 0;
	find_strings(&f);
	if (!f.nstrs)
		return 1;
	f.fn = calloc(MAX_FUNCS, sizeof(*f.fn));
	f.ins = calloc(MAX_INSNS, sizeof(*f.ins));
	if (!f.fn || !f.ins) {
		err = -ENOMEM;
		goto out;
	}
	err = find_sites(&f);
	if (!err)
		err = find_funcs(&f);
	if (err)
		goto out;
	for (uint32_t i = 0; i < f.nfn; i++) {
		struct func *fn = &f.fn[i];
		bool holds = false;

		if (decode_func(&f, fn))
			continue;
		/* the walk must land on each reference of this function */
		for (uint32_t s = 0; s < f.nsites; s++) {
			uint64_t site = f.sites[s];

			if (site < fn->start || site >= fn->end)
				continue;
			for (size_t k = 0; k < f.nins && !holds; k++)
				holds = site > f.ins[k].addr && site < f.ins[k].addr + f.ins[k].size;
		}
		if (!holds)
			fn->decoded = false;	/* not the function of its site */
	}
	err = find_put_error(&f, &put);
	if (err)
		goto out;
	for (uint32_t i = 0; i < f.nfn; i++) {
		struct func *fn = &f.fn[i];

		for (uint32_t k = 0; k < fn->nev && fn->nreasons < MAX_EVENTS; k++)
			if (fn->ev[k].target == put && ssl_report(&f, &fn->ev[k]) &&
			    !has_reason(fn, (int)fn->ev[k].val[SP_X86_RDX]))
				fn->reasons[fn->nreasons++] = (uint16_t)fn->ev[k].val[SP_X86_RDX];
	}
	err = pick(&f, "SSL_write (reports SSL_R_UNINITIALIZED, SSL_R_SSL_HANDSHAKE_FAILURE and "
		   "SSL_R_BAD_LENGTH)", &w, is_write, NULL);
	if (!err)
		err = pick(&f, "ssl_read_impl (reports SSL_R_UNINITIALIZED and "
			   "SSL_R_SSL_HANDSHAKE_FAILURE, not SSL_R_BAD_LENGTH)", &ri, is_read_impl,
			   NULL);
	if (!err)
		err = pick_read(&f, &r, ri->start);
	if (!err)
		err = check_args(&f, w, "SSL_write");
	if (!err)
		err = check_args(&f, r, "SSL_read");
	if (err)
		goto out;
	if (w->start == put || r->start == put || w == r) {
		err = decline(&f, "SSL_write, SSL_read and ERR_put_error are not three functions");
		goto out;
	}
	*out = (struct sp_bssl_found){
		.write = { w->start, w->how, w->callers },
		.read = { r->start, r->how, r->callers },
		.put_error = put,
		.functions = f.nfn,
	};
out:
	free(f.fn);
	free(f.ins);
	return err;
}

/* ---- the ELF side ---- */

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static bool sec_in_file(const struct sp_elf_sec *s, size_t fsize)
{
	return s->type != SHT_NOBITS && s->off <= fsize && s->size <= fsize - s->off;
}

static void add_point(struct sp_tls_point *pt, uint64_t off, bool emu, uint8_t dir,
		      const char *label)
{
	pt->off = off;
	pt->lib = &sp_tls_boringssl;
	pt->contract = SP_TLS_INT;
	pt->dir = dir;
	pt->emulated = emu;
	snprintf(pt->label, sizeof(pt->label), "%s", label);
}

static const char *how_name(uint8_t how)
{
	return how == SP_BSSL_START_FDE ? "FDE" : "called, padded";
}

static int boringssl_points(const char *path, struct sp_elf *e, struct sp_tls_point *pts, int max)
{
	struct sp_elf_sec text, ro, eh;
	struct sp_eh_frame *fdes = NULL;
	struct sp_bssl_image img;
	struct sp_bssl_found got;
	uint8_t *map = MAP_FAILED;
	char why[256];
	double t0 = mono_ms();
	uint64_t off;
	struct stat st;
	int n = 0, r;

	/* with symbols, tls_openssl.c probes SSL_write/SSL_read already */
	if (!sp_elf__func(e, "SSL_write", &off) || !sp_elf__func(e, "SSL_read", &off))
		return 0;
	if (max < 2 || sp_elf__section(e, ".text", &text) || sp_elf__section(e, ".rodata", &ro))
		return 0;
	if (fstat(sp_elf__fd(e), &st) || !sec_in_file(&text, (size_t)st.st_size) ||
	    !sec_in_file(&ro, (size_t)st.st_size))
		return 0;
	/* mapped, not read: only the pages the scans touch come in */
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, sp_elf__fd(e), 0);
	if (map == MAP_FAILED)
		return 0;
	img = (struct sp_bssl_image){
		.text = map + text.off, .text_len = text.size, .text_addr = text.addr,
		.rodata = map + ro.off, .rodata_len = ro.size, .rodata_addr = ro.addr,
		.abs32 = sp_elf__type(e) == ET_EXEC,
	};
	/* cheap before the machine check: is BoringSSL in the file at all */
	if (!memmem(img.rodata, img.rodata_len, "ssl_lib.cc", 11))
		goto out;
	if (sp_elf__machine(e) != EM_X86_64) {
		sp_tls_decline(path, "boringssl", "BoringSSL without symbols is found only in "
			       "x86-64 code");
		goto out;
	}
	if (!sp_elf__section(e, ".eh_frame", &eh) && sec_in_file(&eh, (size_t)st.st_size)) {
		fdes = sp_eh_frame__new(map + eh.off, eh.size, eh.addr, MAX_FDES);
		if (!fdes)
			sp_dbg("%s: .eh_frame unreadable (%s): starts from calls only", path,
			       strerror(errno));
	}
	img.fdes = fdes;
	{
		/* read ahead: the scans go through the code once, in order */
		uint64_t pg = text.off & ~(uint64_t)(sysconf(_SC_PAGESIZE) - 1);

		madvise(map + pg, text.size + (text.off - pg), MADV_SEQUENTIAL);
	}
	r = sp_bssl_find(&img, &got, why, sizeof(why));
	if (r == 1)
		goto out;
	if (r) {
		sp_tls_decline(path, "boringssl", "%s (no symbols; %.0f ms)", why[0] ? why :
			       strerror(-r), mono_ms() - t0);
		goto out;
	}
	{
		uint64_t w_off = got.write.addr - text.addr + text.off;
		uint64_t r_off = got.read.addr - text.addr + text.off;
		uint64_t w_at, r_at;
		bool w_emu, r_emu;

		w_at = sp_x86_probe_off(map + w_off, w_off, &w_emu);
		r_at = sp_x86_probe_off(map + r_off, r_off, &r_emu);
		add_point(&pts[n++], w_at, w_emu, SP_DIR_EGRESS, "SSL_write");
		add_point(&pts[n++], r_at, r_emu, SP_DIR_INGRESS, "SSL_read");
	}
	sp_dbg("%s: BoringSSL without symbols, found in %.0f ms: SSL_write at 0x%llx (start: %s, "
	       "%u callers), SSL_read at 0x%llx (start: %s, %u callers), ERR_put_error 0x%llx, "
	       "%u functions report ssl_lib.cc errors", path, mono_ms() - t0,
	       (unsigned long long)got.write.addr, how_name(got.write.start), got.write.callers,
	       (unsigned long long)got.read.addr, how_name(got.read.start), got.read.callers,
	       (unsigned long long)got.put_error, got.functions);
out:
	sp_eh_frame__free(fdes);
	munmap(map, (size_t)st.st_size);
	return n;
}

static struct bpf_program *boringssl_prog(struct spanprobe_bpf *s, const struct sp_tls_point *pt,
					  bool ret)
{
	/* OpenSSL's int contract: tls_openssl.bpf.c serves it */
	if (pt->dir == SP_DIR_EGRESS)
		return ret ? s->progs.ssl_write_exit : s->progs.ssl_write_enter;
	return ret ? s->progs.ssl_read_exit : s->progs.ssl_read_enter;
}

/* no shared library of its own: Chromium and Bun link it in */
static const char *const boringssl_libs[] = { NULL };

const struct sp_tls_lib sp_tls_boringssl = {
	.name = "boringssl",
	.lib_prefixes = boringssl_libs,
	.points = boringssl_points,
	.prog = boringssl_prog,
};
