// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * rustls (0.20, 0.21) in a Rust binary built with symbols: where to
 * probe, and with which programs of bpf/tls_rustls.bpf.c (whose header
 * says what each probe reads and how a connection is tied to its socket).
 *
 * The functions are found by their demangled names (rust_names.h: the
 * legacy and v0 manglings), never by bytes: in 0.20 `rustls::conn::CommonState::`,
 * in 0.21 `rustls::common_state::CommonState::` {send_some_plaintext,
 * write_tls, take_received_plaintext}, and `<rustls::conn::Reader as
 * std::io::Read>::read` (0.21: `rustls::conn::connection::Reader` too).
 * None is generic, so each is one symbol in rustls's own code; a name
 * LLVM suffixed (`.llvm.N`, a clone whose convention it may have changed)
 * is not taken. All four must be there exactly once, or nothing is
 * probed: a half-probed connection would give spans with one direction.
 * Checked on Debian's rustls 0.20.8 with rustc 1.63 and 1.95: none is
 * inlined (Writer::write and ConnectionCommon::read_tls are, or are
 * generic, which is why they are not used).
 *
 * rustls 0.22 and later moved the plaintext buffer out of CommonState
 * (send_some_plaintext is gone); a binary with those symbols is reported
 * and not probed. A stripped binary (Codex CLI) has no names: rustls is
 * recognised from the source paths its panic locations carry
 * ("rustls-0.23.x/src/..." in .rodata), reported, and not probed (README
 * "TLS probes": finding the functions without names is not proven safe).
 * Every point is a symbol's address (past an endbr64 when a push
 * follows): a function start by definition.
 */
#include <ctype.h>
#include <elf.h>
#include <stdio.h>
#include <string.h>
#include "discovery/elf_sym.h"
#include "discovery/rust_names.h"
#include "discovery/tls_attach.h"
#include "spanprobe.h"
#include "spanprobe.skel.h"

#define F_NUM SP_RUSTLS_NFUNCS

static const struct {
	const char *label;
	uint8_t contract, dir;
} funcs[F_NUM + 1] = {
	[SP_RUSTLS_SEND] = { "send_some_plaintext", SP_TLS_RUST_SEND, SP_DIR_EGRESS },
	[SP_RUSTLS_TIE] = { "write_tls", SP_TLS_RUST_TIE, SP_DIR_EGRESS },
	[SP_RUSTLS_NOTE] = { "take_received_plaintext", SP_TLS_RUST_NOTE, SP_DIR_INGRESS },
	[SP_RUSTLS_READ] = { "Reader::read", SP_TLS_RUST_READ, SP_DIR_INGRESS },
	[SP_RUSTLS_NOTE_ALT] = { "decrypt_incoming", SP_TLS_RUST_NOTE, SP_DIR_INGRESS },
};

struct scan {
	uint64_t off[F_NUM + 1];
	int hits[F_NUM + 1];
	bool rustls;		/* any rustls:: symbol at all */
};

static int scan_sym(const char *name, uint64_t off, void *arg)
{
	struct scan *s = arg;
	char d[512];
	int f;

	if (name[0] != '_' || sp_rust_demangle(name, d, sizeof(d)) < 0)
		return 0;
	if (!strncmp(d, "rustls::", 8) || !strncmp(d, "<rustls::", 9))
		s->rustls = true;
	f = sp_rustls_func(d);
	if (f < 0)
		return 0;
	/* the same function twice (two rustls versions linked in): which
	 * Reader belongs to which CommonState is not known; see below */
	if (s->hits[f]++ == 0)
		s->off[f] = off;
	return 0;
}

/* "rustls-0.N.M/src/": the crate's source path, as its panic locations
 * name it (".cargo/registry/src/index.crates.io-.../rustls-0.23.27/src/conn.rs") */
static bool crate_path(const char *at, size_t left)
{
	size_t i = 9;	/* past "rustls-0." */
	int dots = 0;

	while (i < left && i < 40 && (isdigit((unsigned char)at[i]) || at[i] == '.'))
		dots += at[i++] == '.';
	return dots == 1 && i + 5 <= left && !memcmp(at + i, "/src/", 5) &&
	       isdigit((unsigned char)at[9]);
}

static int rustls_points(const char *path, struct sp_elf *e, struct sp_tls_point *pts, int max)
{
	struct scan s = {};
	bool alt;
	int n = 0;

	sp_elf__each_func(e, scan_sym, &s);
	alt = s.hits[SP_RUSTLS_NOTE] == 0;
	if (alt) {
		s.hits[SP_RUSTLS_NOTE] = s.hits[SP_RUSTLS_NOTE_ALT];
		s.off[SP_RUSTLS_NOTE] = s.off[SP_RUSTLS_NOTE_ALT];
	}
	for (int f = 0; f < F_NUM; f++) {
		if (s.hits[f] == 1)
			continue;
		if (s.hits[f] > 1)
			sp_tls_decline(path, "rustls", "%s %d times (two rustls versions?), see "
				       "README \"TLS probes\"", funcs[f].label, s.hits[f]);
		else if (s.rustls)
			sp_tls_decline(path, "rustls", "no %s (rustls 0.22 or later, or inlined), "
				       "see README \"TLS probes\"", funcs[f].label);
		else if (sp_elf__section_has(e, ".rodata", "rustls-0.", 9, 1ull << 30, crate_path))
			sp_tls_decline(path, "rustls", "no symbols (found by its source paths, "
				       "rustls-0.N.M/src/), see README \"TLS probes\"");
		return 0;
	}
	if (max < F_NUM)
		return 0;
	for (int f = 0; f < F_NUM; f++) {
		uint8_t code[8];
		bool emu = false;
		uint64_t at = s.off[f];

		if (sp_elf__machine(e) == EM_X86_64) {
			if (sp_elf__read(e, at, code, sizeof(code)))
				return 0;
			at = sp_x86_probe_off(code, at, &emu);
		} else {
			/* the return conventions were read on x86-64 only */
			sp_tls_decline(path, "rustls", "its calls are read on x86-64 only");
			return 0;
		}
		pts[n].off = at;
		pts[n].lib = &sp_tls_rustls;
		pts[n].contract = funcs[f].contract;
		pts[n].dir = funcs[f].dir;
		pts[n].emulated = emu;
		snprintf(pts[n].label, sizeof(pts[n].label), "%s",
			 funcs[f == SP_RUSTLS_NOTE && alt ? SP_RUSTLS_NOTE_ALT : f].label);
		n++;
	}
	return n;
}

static struct bpf_program *rustls_prog(struct spanprobe_bpf *s, const struct sp_tls_point *pt,
				       bool ret)
{
	switch (pt->contract) {
	case SP_TLS_RUST_SEND:
		return ret ? s->progs.rustls_send_exit : s->progs.rustls_send_enter;
	case SP_TLS_RUST_TIE:
		return ret ? s->progs.rustls_tie_exit : s->progs.rustls_tie_enter;
	case SP_TLS_RUST_NOTE:
		return ret ? s->progs.rustls_note_exit : s->progs.rustls_note_enter;
	default:
		return ret ? s->progs.rustls_read_exit : s->progs.rustls_read_enter;
	}
}

/* rustls is never a shared library of its own: executables only */
static const char *const rustls_libs[] = { NULL };

const struct sp_tls_lib sp_tls_rustls = {
	.name = "rustls",
	.lib_prefixes = rustls_libs,
	.points = rustls_points,
	.prog = rustls_prog,
};
