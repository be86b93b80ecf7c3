/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Finds the TLS libraries and binaries processes use and attaches the TLS
 * uprobes to them: the shared libraries of every known TLS library
 * (struct sp_tls_lib) in the system library directories and in any
 * process's /proc/PID/maps, and every executable that contains one itself
 * (node links OpenSSL statically). Each distinct file (device + inode) is
 * attached once, system-wide.
 *
 * This file is the generic part: which files to look at, file identity,
 * post-exec rescans, attaching what a library's ops chose. Each TLS library
 * is one pair of files, bpf/tls_<lib>.bpf.c (its programs) and
 * userspace/discovery/tls_<lib>.c (its detection and attach-point choice,
 * behind struct sp_tls_lib), plus one line in tls_attach.c's registry.
 *
 * Threading. sp_tls_attach__new starts a discovery thread, which does all
 * exec-time work: sp_tls_attach__after_exec (called from the ring-buffer
 * callback) only puts the pid in a bounded queue (a full queue is counted,
 * sp_tls_attach__queue_drops) and wakes the thread, which reads
 * /proc/PID/exe and /proc/PID/maps, parses the ELF files and attaches at
 * once, then again 30 ms, 300 ms and 3 s later (libraries loaded after
 * exec). The record stream is never stalled by ELF parsing, and an exec'd
 * image is attached one thread wakeup after its record is read, as soon
 * as before. sp_tls_attach__file/__pid/__all may be called from any thread
 * (the caller's at start): a mutex serialises every attach, so a file is
 * never attached twice. sp_tls_attach__free stops and joins the thread
 * before it destroys a link; call it before the skeleton is destroyed.
 *
 * Attach points are chosen for cost (README "TLS probes"): a uprobe on an
 * instruction the kernel emulates (push, call, nop) costs ~0.4 us; one it
 * must single-step ~4.9 us. Each library's file says how it chooses.
 */
#ifndef SP_TLS_ATTACH_H
#define SP_TLS_ATTACH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Argument contracts of the probed functions. A library's programs serve
 * one or more; the numbers are shared so that the list output reads the
 * same for every library. */
enum sp_tls_contract {
	SP_TLS_INT = 1,		/* int f(conn, buf, int num): bytes */
	SP_TLS_EX,		/* int f(conn, buf, size_t, size_t *n): > 0, *n */
	SP_TLS_SSIZE,		/* ssize_t f(conn, buf, size_t): bytes (GnuTLS) */
	SP_TLS_RUST_SEND,	/* usize f(&mut CommonState, buf, len): bytes (rustls) */
	SP_TLS_RUST_READ,	/* io::Result<usize> <Reader as Read>::read (rustls) */
	SP_TLS_RUST_TIE,	/* f(&mut CommonState, ...): names the socket (rustls) */
	SP_TLS_RUST_NOTE,	/* f(&mut CommonState, ...): the thread's connection (rustls) */
};

struct sp_tls_lib;

/* How a point is probed. */
enum sp_tls_kind {
	SP_TLS_FUNC = 0,	/* a function start: uprobe + uretprobe */
	/* Go (no uretprobe: it rewrites the return address on a goroutine
	 * stack the runtime may move): */
	SP_TLS_ENTRY,		/* the call's entry: a uprobe alone */
	SP_TLS_RET_INSN,	/* a return instruction of the function: a uprobe */
};

struct sp_tls_point {
	uint64_t off;		/* file offset of the probed instruction */
	const struct sp_tls_lib *lib;	/* who chose it (borrowed, static) */
	uint8_t contract;	/* enum sp_tls_contract */
	uint8_t dir;		/* enum sp_dir */
	bool emulated;		/* the probed instruction is one the kernel emulates */
	uint8_t kind;		/* enum sp_tls_kind */
	uint64_t cookie;	/* the link's BPF cookie (bpf_get_attach_cookie) */
	char label[48];		/* "SSL_write", "ssl_write_internal" */
};

/* a Go binary has an entry and every return of two functions (15 in Go
 * 1.19's crypto/tls) */
#define SP_TLS_MAX_POINTS 48

struct sp_elf;
struct spanprobe_bpf;
struct bpf_program;

/*
 * One TLS library's part of discovery: a static const table of these is
 * the registry (tls_attach.c).
 */
struct sp_tls_lib {
	const char *name;		/* "openssl": in --list-tls-probes */
	/* file-name prefixes of its shared libraries, NULL-terminated
	 * ("libssl.so"); executables are read whatever their name */
	const char *const *lib_prefixes;
	/* The attach points of the library's functions in the ELF file e
	 * (opened from path): how many were written to pts (at most max, 0
	 * if the library is not in the file). Must choose only proven
	 * function starts; when unsure, return 0. */
	int (*points)(const char *path, struct sp_elf *e, struct sp_tls_point *pts, int max);
	/* The program for pt's contract and direction: entry, or return
	 * (SP_TLS_FUNC); for the other kinds ret is kind == SP_TLS_RET_INSN. */
	struct bpf_program *(*prog)(struct spanprobe_bpf *skel, const struct sp_tls_point *pt,
				    bool ret);
};

/* The registry: every TLS library, tried in this order. A new library is
 * its pair of files and one entry here. */
#define SP_TLS_LIBS(X)		\
	X(sp_tls_openssl)	\
	X(sp_tls_gnutls)	\
	X(sp_tls_boringssl)	\
	X(sp_tls_go)	\
	X(sp_tls_rustls)

#define SP_TLS_LIB_DECLARE(lib) extern const struct sp_tls_lib lib;
SP_TLS_LIBS(SP_TLS_LIB_DECLARE)

/*
 * The attach points for the TLS functions of the ELF file at path, every
 * library's. Returns how many (0 if the file has none), or -errno.
 */
int sp_tls_points(const char *path, struct sp_tls_point *pts, int max);

/*
 * A library's points() found its library in path but will not probe it:
 * why, for the user (shown by --list-tls-probes, else in -v). For any
 * library whose discovery can decline.
 */
void sp_tls_decline(const char *path, const char *lib, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct sp_tls_attach;

/* Starts the discovery thread too. NULL with errno set. */
struct sp_tls_attach *sp_tls_attach__new(struct spanprobe_bpf *skel, uint32_t max_files);
/* Stops and joins the thread, then detaches everything. NULL is fine. */
void sp_tls_attach__free(struct sp_tls_attach *a);
/* Attaches to path if it has TLS functions and is new. 1 attached, 0 not
 * TLS or done already, -errno on failure (logged). Synchronous. */
int sp_tls_attach__file(struct sp_tls_attach *a, const char *path);
/* The executable and the TLS-library mappings of a process. Synchronous. */
void sp_tls_attach__pid(struct sp_tls_attach *a, uint32_t pid);
/* Every process, the system library directories, and node/bun/deno/claude on
 * PATH. Synchronous: done when it returns. */
void sp_tls_attach__all(struct sp_tls_attach *a);
/* pid has exec'd (now: when its record was seen, sp_clock_mono_ns):
 * queues it for the discovery thread, which attaches its new image at
 * once and rescans its mappings 30 ms, 300 ms and 3 s later. Never
 * blocks on more than the queue's lock. */
void sp_tls_attach__after_exec(struct sp_tls_attach *a, uint32_t pid, uint64_t now);
/* Kept for callers written before the thread: the thread runs the
 * rescans, so this does nothing (unless the thread could not start, when
 * it runs them here as before). */
void sp_tls_attach__tick(struct sp_tls_attach *a, uint64_t now);
/* Files attached so far; safe from any thread. */
uint32_t sp_tls_attach__files(const struct sp_tls_attach *a);
/* Exec records dropped because the discovery queue was full. */
uint64_t sp_tls_attach__queue_drops(const struct sp_tls_attach *a);

/* Prints the attach points of path, one "PATH 0xOFF LABEL LIB" line each
 * (" (single-stepped)" after a point the kernel must single-step). */
int sp_tls_list_points(const char *path, FILE *out);

#endif
