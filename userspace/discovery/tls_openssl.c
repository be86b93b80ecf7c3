// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * OpenSSL (1.1, 3.x): where to probe, and with which programs of
 * bpf/tls_openssl.bpf.c.
 *
 * On x86-64 the code is read (README "TLS probes"): Debian's SSL_write and
 * SSL_read begin with `sub $0x18,%rsp`, which the kernel single-steps
 * (~4.9 us a trap), but in OpenSSL 1.1 and 3.x both SSL_write and
 * SSL_write_ex are thin wrappers around ssl_write_internal (likewise for
 * read), whose contract is SSL_write_ex's and whose first instruction is
 * a push, which the kernel emulates (~0.4 us). When SSL_write_ex is
 * `[endbr64] sub $n,%rsp; call T`, SSL_write calls the same T, and T
 * begins with a push, T is probed once for both; otherwise the exported
 * functions are, past an endbr64 when a push follows it.
 *
 * On any other machine (arm64) no code is read: the exported functions
 * are probed at their symbol's address, a function start by definition.
 */
#include <elf.h>
#include <stdio.h>
#include <string.h>
#include "discovery/elf_sym.h"
#include "discovery/tls_attach.h"
#include "spanprobe.h"
#include "spanprobe.skel.h"

static const uint8_t ENDBR64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };

/*
 * If the _ex wrapper is `[endbr64] sub $imm8,%rsp; call T` and the plain
 * function also calls T, returns T's offset (the shared internal
 * function; a call target is a function start), else 0.
 */
static uint64_t shared_internal(struct sp_elf *e, uint64_t ex_off, uint64_t plain_off)
{
	uint8_t ex[16], plain[96];
	uint64_t target;
	int32_t rel;
	size_t i = 0;

	if (sp_elf__read(e, ex_off, ex, sizeof(ex)) || sp_elf__read(e, plain_off, plain, sizeof(plain)))
		return 0;
	if (!memcmp(ex, ENDBR64, 4))
		i = 4;
	if (ex[i] != 0x48 || ex[i + 1] != 0x83 || ex[i + 2] != 0xec)
		return 0;
	i += 4;
	if (ex[i] != 0xe8)
		return 0;
	memcpy(&rel, ex + i + 1, 4);
	target = ex_off + i + 5 + (int64_t)rel;
	/* a byte-level scan can hit an e8 inside another instruction; the
	 * target must match exactly, which a stray byte will not do */
	for (size_t k = 0; k + 5 <= sizeof(plain); k++) {
		if (plain[k] != 0xe8)
			continue;
		memcpy(&rel, plain + k + 1, 4);
		if (plain_off + k + 5 + (int64_t)rel == target)
			return target;
	}
	return 0;
}

static void add_point(struct sp_tls_point *pts, int *n, int max, uint64_t off, uint8_t contract,
		      uint8_t dir, bool emulated, const char *label)
{
	if (*n >= max)
		return;
	pts[*n].off = off;
	pts[*n].lib = &sp_tls_openssl;
	pts[*n].contract = contract;
	pts[*n].dir = dir;
	pts[*n].emulated = emulated;
	snprintf(pts[*n].label, sizeof(pts[*n].label), "%s", label);
	(*n)++;
}

/* The exported functions at their symbols' addresses, code unread. */
static void pick_dir_plain(struct sp_elf *e, const char *plain, const char *ex, uint8_t dir,
			   struct sp_tls_point *pts, int *n, int max)
{
	uint64_t off;

	if (!sp_elf__func(e, plain, &off))
		add_point(pts, n, max, off, SP_TLS_INT, dir, false, plain);
	if (!sp_elf__func(e, ex, &off))
		add_point(pts, n, max, off, SP_TLS_EX, dir, false, ex);
}

static void pick_dir_x86(struct sp_elf *e, const char *plain, const char *ex,
			 const char *internal, uint8_t dir, struct sp_tls_point *pts, int *n,
			 int max)
{
	uint64_t p_off = 0, x_off = 0, t;
	bool has_p = !sp_elf__func(e, plain, &p_off), has_x = !sp_elf__func(e, ex, &x_off);
	uint8_t code[8];
	bool emu;

	if (has_p && has_x && (t = shared_internal(e, x_off, p_off)) &&
	    !sp_elf__read(e, t, code, sizeof(code))) {
		uint64_t at = sp_x86_probe_off(code, t, &emu);

		if (emu) {
			add_point(pts, n, max, at, SP_TLS_EX, dir, true, internal);
			return;
		}
	}
	if (has_p && !sp_elf__read(e, p_off, code, sizeof(code))) {
		uint64_t at = sp_x86_probe_off(code, p_off, &emu);

		add_point(pts, n, max, at, SP_TLS_INT, dir, emu, plain);
	}
	if (has_x && !sp_elf__read(e, x_off, code, sizeof(code))) {
		uint64_t at = sp_x86_probe_off(code, x_off, &emu);

		add_point(pts, n, max, at, SP_TLS_EX, dir, emu, ex);
	}
}

static int openssl_points(const char *path, struct sp_elf *e, struct sp_tls_point *pts, int max)
{
	int n = 0;

	if (sp_elf__machine(e) == EM_X86_64) {
		pick_dir_x86(e, "SSL_write", "SSL_write_ex", "ssl_write_internal", SP_DIR_EGRESS,
			     pts, &n, max);
		pick_dir_x86(e, "SSL_read", "SSL_read_ex", "ssl_read_internal", SP_DIR_INGRESS,
			     pts, &n, max);
	} else {
		pick_dir_plain(e, "SSL_write", "SSL_write_ex", SP_DIR_EGRESS, pts, &n, max);
		pick_dir_plain(e, "SSL_read", "SSL_read_ex", SP_DIR_INGRESS, pts, &n, max);
	}
	return n;
}

static struct bpf_program *openssl_prog(struct spanprobe_bpf *s, const struct sp_tls_point *pt,
					bool ret)
{
	if (pt->dir == SP_DIR_EGRESS) {
		if (pt->contract == SP_TLS_EX)
			return ret ? s->progs.ssl_write_ex_exit : s->progs.ssl_write_ex_enter;
		return ret ? s->progs.ssl_write_exit : s->progs.ssl_write_enter;
	}
	if (pt->contract == SP_TLS_EX)
		return ret ? s->progs.ssl_read_ex_exit : s->progs.ssl_read_ex_enter;
	return ret ? s->progs.ssl_read_exit : s->progs.ssl_read_enter;
}

static const char *const openssl_libs[] = { "libssl.so", "libssl-", NULL };

const struct sp_tls_lib sp_tls_openssl = {
	.name = "openssl",
	.lib_prefixes = openssl_libs,
	.points = openssl_points,
	.prog = openssl_prog,
};
