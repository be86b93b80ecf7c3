/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Finds the TLS libraries and binaries processes use and attaches the TLS
 * uprobes to them: every libssl.so* in the system library directories and
 * in any process's /proc/PID/maps, and every executable that exports
 * SSL_write itself (node links OpenSSL statically). Each distinct file
 * (device + inode) is attached once, system-wide.
 *
 * Attach points are chosen for cost (README "TLS probes"): a uprobe on an
 * instruction the kernel emulates (push, call, nop) costs ~0.4 us; one it
 * must single-step (Debian's SSL_write starts with `sub $0x18,%rsp`) ~4.9
 * us. When SSL_write and SSL_write_ex are thin wrappers that call the
 * same internal function (OpenSSL 1.1/3.x's ssl_write_internal, whose
 * contract is SSL_write_ex's), one probe on that function's emulated
 * first instruction serves both.
 */
#ifndef SP_TLS_ATTACH_H
#define SP_TLS_ATTACH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum sp_tls_contract {
	SP_TLS_INT = 1,		/* int f(SSL *, buf, int num): bytes */
	SP_TLS_EX,		/* int f(SSL *, buf, size_t, size_t *n): > 0, *n */
};

struct sp_tls_point {
	uint64_t off;		/* file offset of the probed instruction */
	uint8_t contract;	/* enum sp_tls_contract */
	uint8_t dir;		/* enum sp_dir */
	bool emulated;		/* the probed instruction is one the kernel emulates */
	char label[32];		/* "SSL_write", "ssl_write_internal" */
};

#define SP_TLS_MAX_POINTS 4

/*
 * The attach points for the TLS functions of the ELF file at path.
 * Returns how many (0 if the file has no SSL_write/SSL_read), or -errno.
 */
int sp_tls_points(const char *path, struct sp_tls_point *pts, int max);

struct spanprobe_bpf;
struct sp_tls_attach;

struct sp_tls_attach *sp_tls_attach__new(struct spanprobe_bpf *skel, uint32_t max_files);
void sp_tls_attach__free(struct sp_tls_attach *a);
/* Attaches to path if it has TLS functions and is new. 1 attached, 0 not
 * TLS or done already, -errno on failure (logged). */
int sp_tls_attach__file(struct sp_tls_attach *a, const char *path);
/* The executable and the libssl mappings of a process. */
void sp_tls_attach__pid(struct sp_tls_attach *a, uint32_t pid);
/* Every process, the system library directories, and node/bun/deno on
 * PATH. */
void sp_tls_attach__all(struct sp_tls_attach *a);
/* Rescans pid's mappings a little later (libraries load after exec). */
void sp_tls_attach__after_exec(struct sp_tls_attach *a, uint32_t pid, uint64_t now);
/* Runs the rescans that are due. */
void sp_tls_attach__tick(struct sp_tls_attach *a, uint64_t now);
uint32_t sp_tls_attach__files(const struct sp_tls_attach *a);

/* Prints the attach points of path, one "PATH 0xOFF LABEL" line each. */
int sp_tls_list_points(const char *path, FILE *out);

#endif
