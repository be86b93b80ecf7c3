// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * GnuTLS (3.x): where to probe, and with which programs of
 * bpf/tls_gnutls.bpf.c.
 *
 * gnutls_record_send has been `xor; xor; jmp gnutls_record_send2` since
 * GnuTLS 3.6.3 (pad and flags zero): probing send2 alone sees every send,
 * once, and send2 begins with a push, which the kernel emulates (~0.4 us),
 * where send's first xor would be single-stepped. Without send2 (older
 * GnuTLS), send is probed. gnutls_record_recv begins with `sub $8,%rsp`
 * (single-stepped, ~4.9 us) and calls static functions only: it is probed
 * at its start all the same, and says so in --list-tls-probes. Every point
 * is an exported function's symbol address (past an endbr64 when a push
 * follows, as for OpenSSL): a function start by definition.
 */
#include <elf.h>
#include <stdio.h>
#include <string.h>
#include "discovery/elf_sym.h"
#include "discovery/tls_attach.h"
#include "spanprobe.h"
#include "spanprobe.skel.h"

static void add_point(struct sp_elf *e, const char *fn, uint8_t dir, struct sp_tls_point *pts,
		      int *n, int max)
{
	uint8_t code[8];
	uint64_t off, at;
	bool emu = false;

	if (*n >= max || sp_elf__func(e, fn, &off))
		return;
	at = off;
	if (sp_elf__machine(e) == EM_X86_64) {
		if (sp_elf__read(e, off, code, sizeof(code)))
			return;
		at = sp_x86_probe_off(code, off, &emu);
	}
	pts[*n].off = at;
	pts[*n].lib = &sp_tls_gnutls;
	pts[*n].contract = SP_TLS_SSIZE;
	pts[*n].dir = dir;
	pts[*n].emulated = emu;
	snprintf(pts[*n].label, sizeof(pts[*n].label), "%s", fn);
	(*n)++;
}

static int gnutls_points(const char *path, struct sp_elf *e, struct sp_tls_point *pts, int max)
{
	uint64_t off;
	int n = 0;

	/* the receive side decides: a file without it is not GnuTLS */
	if (sp_elf__func(e, "gnutls_record_recv", &off))
		return 0;
	if (!sp_elf__func(e, "gnutls_record_send2", &off))
		add_point(e, "gnutls_record_send2", SP_DIR_EGRESS, pts, &n, max);
	else
		add_point(e, "gnutls_record_send", SP_DIR_EGRESS, pts, &n, max);
	add_point(e, "gnutls_record_recv", SP_DIR_INGRESS, pts, &n, max);
	return n;
}

static struct bpf_program *gnutls_prog(struct spanprobe_bpf *s, const struct sp_tls_point *pt,
				       bool ret)
{
	if (pt->dir == SP_DIR_EGRESS)
		return ret ? s->progs.gnutls_send_exit : s->progs.gnutls_send_enter;
	return ret ? s->progs.gnutls_recv_exit : s->progs.gnutls_recv_enter;
}

static const char *const gnutls_libs[] = { "libgnutls.so", NULL };

const struct sp_tls_lib sp_tls_gnutls = {
	.name = "gnutls",
	.lib_prefixes = gnutls_libs,
	.points = gnutls_points,
	.prog = gnutls_prog,
};
