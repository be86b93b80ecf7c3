/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Rust symbol names, as far as TLS discovery needs them: the legacy
 * mangling (`_ZN` + length-prefixed components + `17h<16 hex>E`, rustc's
 * default up to now) turned into the path rustc-demangle prints, without
 * the hash: `_ZN54_$LT$rustls..conn..Reader$u20$as$u20$std..io..Read$GT$4read17h..E`
 * -> `<rustls::conn::Reader as std::io::Read>::read`. The v0 mangling
 * (`_R...`, RFC 2603, -C symbol-mangling-version=v0) is decoded for the
 * paths the rustls names need (crate roots, plain namespaces, inherent and
 * trait impls, backrefs), printed the same way: crate hashes and
 * disambiguators dropped, an inherent impl as its type
 * (`rustls::conn::CommonState::write_tls`). Generic arguments, closures,
 * punycode and LLVM's `.llvm.N` clones are not decoded (-1): such a
 * symbol matches nothing, so nothing is attached on its account.
 */
#ifndef SP_RUST_NAMES_H
#define SP_RUST_NAMES_H

#include <stddef.h>

/* Demangles the Rust symbol sym into out (cap bytes): its length, or -1
 * when sym is not a Rust name this decodes, or does not fit. */
int sp_rust_demangle(const char *sym, char *out, size_t cap);

/* The rustls functions spanprobe probes (bpf/tls_rustls.bpf.c). */
enum sp_rustls_func {
	SP_RUSTLS_SEND,		/* CommonState::send_some_plaintext */
	SP_RUSTLS_TIE,		/* CommonState::write_tls */
	SP_RUSTLS_NOTE,		/* CommonState::take_received_plaintext */
	SP_RUSTLS_READ,		/* <Reader as std::io::Read>::read */
	SP_RUSTLS_NFUNCS,
	/* probed for NOTE when take_received_plaintext is inlined (rustc
	 * 1.95): CommonState::decrypt_incoming */
	SP_RUSTLS_NOTE_ALT = SP_RUSTLS_NFUNCS,
};

/* Which of them the demangled name d is (rustls 0.20 and 0.21 module
 * paths), or -1. */
int sp_rustls_func(const char *d);

#endif
