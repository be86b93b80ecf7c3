/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where --probe BINARY:SYMBOL[=NAME] and --usdt BINARY:PROVIDER:NAME
 * attach: the file (a path, or a name looked up in PATH and the system
 * library directories), the function's file offset, the USDT probe's
 * note. Resolved before anything is loaded, so a wrong name is a one-line
 * error that says what to do, not a half-started run.
 *
 * The uprobe-safety rule: a function is probed only at a proven function
 * start, the st_value of an STT_FUNC symbol with a nonzero size inside an
 * executable section. A name that two such symbols carry at different
 * addresses (two static functions of one name in different files, two
 * versions of a library function with no default) is refused with the
 * candidates listed; BINARY:0xADDR then names one by its address, which
 * must itself be such a symbol's. A USDT probe is placed where its
 * .note.stapsdt says, by libbpf: a site the compiler emitted for probing.
 *
 * Each distinct probe (file by device and inode, plus offset or USDT
 * name) is attached once, system-wide; the BPF side traces only what the
 * pid filter lets through (-p, COMMAND), like every other probe.
 */
#ifndef SP_FUNC_PROBE_H
#define SP_FUNC_PROBE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SP_FUNC_PROBE_NAME_LEN	128

/* One --probe or --usdt value as given (borrowed from argv). */
struct sp_probe_arg {
	const char *arg;
	bool usdt;
};

/* A resolved probe. Its id (index) is the BPF attach cookie. */
struct sp_func_probe {
	const char *arg;		/* as given (borrowed) */
	bool usdt;
	char binary[PATH_MAX];		/* the file, resolved (realpath) */
	char symbol[SP_FUNC_PROBE_NAME_LEN];	/* function: its symbol; USDT: the provider */
	char usdt_name[SP_FUNC_PROBE_NAME_LEN];	/* USDT: the probe's name */
	char name[SP_FUNC_PROBE_NAME_LEN];	/* the span name: =NAME, the symbol,
						 * or PROVIDER:NAME */
	uint64_t addr;			/* function: the symbol's value (st_value) */
	uint64_t off;			/* function: the file offset probed: the
					 * symbol's, or past an endbr64 a push
					 * follows (x86-64) */
	dev_t dev;
	ino_t ino;
};

/* Checks the form of a --probe (usdt false) or --usdt value, touching no
 * file: 0, or -EINVAL after a one-line error. */
int sp_func_probe_check(const char *arg, bool usdt);

/*
 * Resolves one value into *out: 0, or -errno after a one-line error that
 * names the probe, what is wrong and what to do ("cannot probe /x/y:foo:
 * symbol not found (nm -D /x/y lists its symbols)").
 */
int sp_func_probe_resolve(const char *arg, bool usdt, struct sp_func_probe *out);

struct sp_func_probes;
struct sp_loader;

/* Resolves all n values (a probe given twice is kept once, with a
 * warning). NULL with errno set, after the error. */
struct sp_func_probes *sp_func_probes__new(const struct sp_probe_arg *args, int n);
void sp_func_probes__free(struct sp_func_probes *fp);
int sp_func_probes__count(const struct sp_func_probes *fp);
/* Probe id's resolution (borrowed), or NULL. */
const struct sp_func_probe *sp_func_probes__get(const struct sp_func_probes *fp, int id);
/* Attaches every probe, with its id as the cookie: 0, or -errno after a
 * one-line error. */
int sp_func_probes__attach(const struct sp_func_probes *fp, struct sp_loader *l);

#endif
