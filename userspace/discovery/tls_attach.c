// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <bpf/libbpf.h>
#include "discovery/elf_sym.h"
#include "util/log.h"
#include "spanprobe.h"
#include "spanprobe.skel.h"
#include "discovery/tls_attach.h"

#define RESCANS		256	/* pending post-exec rescans at most */

static const uint8_t ENDBR64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };

/* Length of a push-register instruction at p (x86-64), else 0. The kernel
 * emulates these in uprobes (since 6.11) instead of single-stepping. */
static int push_len(const uint8_t *p)
{
	if (p[0] >= 0x50 && p[0] <= 0x57)
		return 1;
	if (p[0] == 0x41 && p[1] >= 0x50 && p[1] <= 0x57)
		return 2;
	return 0;
}

/* Offset to probe for a function at off: past an endbr64 when a push
 * follows (the return address is still at the stack top there). */
static uint64_t probe_off(const uint8_t *code, uint64_t off, bool *emulated)
{
	if (!memcmp(code, ENDBR64, 4) && push_len(code + 4)) {
		*emulated = true;
		return off + 4;
	}
	*emulated = push_len(code) > 0;
	return off;
}

/*
 * If the _ex wrapper is `[endbr64] sub $imm8,%rsp; call T` and the plain
 * function also calls T, returns T's offset (the shared internal
 * function), else 0.
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
	pts[*n].contract = contract;
	pts[*n].dir = dir;
	pts[*n].emulated = emulated;
	snprintf(pts[*n].label, sizeof(pts[*n].label), "%s", label);
	(*n)++;
}

static void pick_dir(struct sp_elf *e, const char *plain, const char *ex, const char *internal,
		     uint8_t dir, struct sp_tls_point *pts, int *n, int max)
{
	uint64_t p_off = 0, x_off = 0, t;
	bool has_p = !sp_elf__func(e, plain, &p_off), has_x = !sp_elf__func(e, ex, &x_off);
	uint8_t code[8];
	bool emu;

	if (has_p && has_x && (t = shared_internal(e, x_off, p_off)) &&
	    !sp_elf__read(e, t, code, sizeof(code))) {
		uint64_t at = probe_off(code, t, &emu);

		if (emu) {
			add_point(pts, n, max, at, SP_TLS_EX, dir, true, internal);
			return;
		}
	}
	if (has_p && !sp_elf__read(e, p_off, code, sizeof(code))) {
		uint64_t at = probe_off(code, p_off, &emu);

		add_point(pts, n, max, at, SP_TLS_INT, dir, emu, plain);
	}
	if (has_x && !sp_elf__read(e, x_off, code, sizeof(code))) {
		uint64_t at = probe_off(code, x_off, &emu);

		add_point(pts, n, max, at, SP_TLS_EX, dir, emu, ex);
	}
}

int sp_tls_points(const char *path, struct sp_tls_point *pts, int max)
{
	struct sp_elf *e = sp_elf__open(path);
	int n = 0;

	if (!e)
		return -errno;
	pick_dir(e, "SSL_write", "SSL_write_ex", "ssl_write_internal", SP_DIR_EGRESS, pts, &n, max);
	pick_dir(e, "SSL_read", "SSL_read_ex", "ssl_read_internal", SP_DIR_INGRESS, pts, &n, max);
	sp_elf__close(e);
	return n;
}

int sp_tls_list_points(const char *path, FILE *out)
{
	struct sp_tls_point pts[SP_TLS_MAX_POINTS];
	int n = sp_tls_points(path, pts, SP_TLS_MAX_POINTS);

	if (n < 0) {
		sp_err("cannot read %s: %s", path, strerror(-n));
		return n;
	}
	if (n == 0) {
		sp_err("%s exports no SSL_write/SSL_read", path);
		return -ENOENT;
	}
	for (int i = 0; i < n; i++)
		fprintf(out, "%s 0x%llx %s%s\n", path, (unsigned long long)pts[i].off,
			pts[i].label, pts[i].emulated ? "" : " (single-stepped)");
	return 0;
}

/* ---- attaching ---- */

struct file_id {
	uint64_t dev, ino;
};

#define NEG_CACHE	4096	/* binaries without TLS remembered */

struct rescan {
	uint32_t pid;
	uint8_t step;
	uint64_t due;
};

struct sp_tls_attach {
	struct spanprobe_bpf *skel;
	struct file_id *files;
	uint32_t nfiles, max_files, attached;
	struct bpf_link **links;
	uint32_t nlinks, max_links;
	struct rescan rescans[RESCANS];
	uint32_t nrescans;
	bool full_warned;
	struct file_id neg[NEG_CACHE];
	uint32_t neg_next;
};

struct sp_tls_attach *sp_tls_attach__new(struct spanprobe_bpf *skel, uint32_t max_files)
{
	struct sp_tls_attach *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->skel = skel;
	a->max_files = max_files;
	a->max_links = max_files * SP_TLS_MAX_POINTS * 2;
	a->files = calloc(max_files, sizeof(*a->files));
	a->links = calloc(a->max_links, sizeof(*a->links));
	if (!a->files || !a->links) {
		sp_tls_attach__free(a);
		return NULL;
	}
	return a;
}

void sp_tls_attach__free(struct sp_tls_attach *a)
{
	if (!a)
		return;
	for (uint32_t i = 0; a->links && i < a->nlinks; i++)
		bpf_link__destroy(a->links[i]);
	free(a->links);
	free(a->files);
	free(a);
}

uint32_t sp_tls_attach__files(const struct sp_tls_attach *a)
{
	return a->attached;
}

static struct bpf_program *prog_for(struct sp_tls_attach *a, const struct sp_tls_point *pt,
				    bool ret)
{
	struct spanprobe_bpf *s = a->skel;

	if (pt->dir == SP_DIR_EGRESS) {
		if (pt->contract == SP_TLS_EX)
			return ret ? s->progs.ssl_write_ex_exit : s->progs.ssl_write_ex_enter;
		return ret ? s->progs.ssl_write_exit : s->progs.ssl_write_enter;
	}
	if (pt->contract == SP_TLS_EX)
		return ret ? s->progs.ssl_read_ex_exit : s->progs.ssl_read_ex_enter;
	return ret ? s->progs.ssl_read_exit : s->progs.ssl_read_enter;
}

/* Files looked at and found without TLS functions: a small ring, so that
 * every exec of `ls` does not read its ELF again, and so that system-wide
 * churn (containers: new inodes) can never fill the table of attached
 * files. */
static bool seen_plain(struct sp_tls_attach *a, const struct stat *st)
{
	for (uint32_t i = 0; i < NEG_CACHE; i++)
		if (a->neg[i].ino == st->st_ino && a->neg[i].dev == st->st_dev)
			return true;
	return false;
}

static void remember_plain(struct sp_tls_attach *a, const struct stat *st)
{
	a->neg[a->neg_next].dev = st->st_dev;
	a->neg[a->neg_next].ino = st->st_ino;
	a->neg_next = (a->neg_next + 1) % NEG_CACHE;
}

int sp_tls_attach__file(struct sp_tls_attach *a, const char *path)
{
	struct sp_tls_point pts[SP_TLS_MAX_POINTS];
	uint32_t first_link = a->nlinks;
	char fdpath[64];
	struct stat st;
	int n, fd, err = 0;

	/* one open file for the whole attach: a /proc/PID/exe that goes away
	 * half-way cannot leave an entry probe without its return probe */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		goto out;
	for (uint32_t i = 0; i < a->nfiles; i++)
		if (a->files[i].dev == st.st_dev && a->files[i].ino == st.st_ino)
			goto out;
	if (seen_plain(a, &st))
		goto out;
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
	n = sp_tls_points(fdpath, pts, SP_TLS_MAX_POINTS);
	if (n <= 0) {
		remember_plain(a, &st);
		goto out;
	}
	if (a->nfiles == a->max_files || a->nlinks + 2 * n > a->max_links) {
		if (!a->full_warned)
			sp_warn("more than %u TLS binaries attached: not attaching to %s",
				a->max_files, path);
		a->full_warned = true;
		err = -ENOSPC;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		/* the return probe first: an entry probe alone would leave
		 * in-flight entries that nothing removes */
		for (int ret = 1; ret >= 0; ret--) {
			LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = ret);
			struct bpf_link *l;

			l = bpf_program__attach_uprobe_opts(prog_for(a, &pts[i], ret), -1, fdpath,
							     pts[i].off, &opts);
			if (!l) {
				err = -errno;
				sp_err("cannot attach to %s:%s (offset 0x%llx): %s", path,
				       pts[i].label, (unsigned long long)pts[i].off, strerror(-err));
				goto rollback;
			}
			a->links[a->nlinks++] = l;
		}
		sp_dbg("attached %s:%s at 0x%llx%s", path, pts[i].label,
		       (unsigned long long)pts[i].off, pts[i].emulated ? "" : " (single-stepped)");
	}
	a->files[a->nfiles].dev = st.st_dev;
	a->files[a->nfiles].ino = st.st_ino;
	a->nfiles++;
	a->attached++;
	close(fd);
	return 1;
rollback:
	/* all of this file's probes or none; a later exec tries again */
	while (a->nlinks > first_link)
		bpf_link__destroy(a->links[--a->nlinks]);
out:
	close(fd);
	return err;
}

static bool looks_like_libssl(const char *path)
{
	const char *b = strrchr(path, '/');

	b = b ? b + 1 : path;
	return !strncmp(b, "libssl.so", 9) || !strncmp(b, "libssl-", 7);
}

void sp_tls_attach__pid(struct sp_tls_attach *a, uint32_t pid)
{
	char path[64], line[4096], file[4200];
	FILE *f;

	/* through /proc/PID/root, so a process in another mount namespace
	 * (a container) gets its own copy of the library */
	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	sp_tls_attach__file(a, path);
	snprintf(path, sizeof(path), "/proc/%u/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, '/');

		if (!p)
			continue;
		p[strcspn(p, "\n")] = 0;
		if (!looks_like_libssl(p) || strstr(p, " (deleted)"))
			continue;
		snprintf(file, sizeof(file), "/proc/%u/root%s", pid, p);
		sp_tls_attach__file(a, file);
	}
	fclose(f);
}

void sp_tls_attach__all(struct sp_tls_attach *a)
{
	static const char *const dirs[] = {
		"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
		"/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib",
		"/usr/local/lib", NULL,
	};
	struct dirent *de;
	char path[512];
	DIR *d;

	for (const char *const *dir = dirs; *dir; dir++) {
		d = opendir(*dir);
		if (!d)
			continue;
		while ((de = readdir(d))) {
			if (!looks_like_libssl(de->d_name))
				continue;
			snprintf(path, sizeof(path), "%s/%s", *dir, de->d_name);
			sp_tls_attach__file(a, path);
		}
		closedir(d);
	}
	/* Runtimes that link a TLS library statically, found on PATH: a
	 * process started later is probed from its first instruction, with
	 * no race against the exec-time attach (node writes its first
	 * request ~50 ms after exec). */
	static const char *const runtimes[] = { "node", "nodejs", "bun", "deno", NULL };
	const char *env = getenv("PATH");
	char pathdirs[4096];

	snprintf(pathdirs, sizeof(pathdirs), "%s:/usr/local/bin:/usr/bin", env ? env : "");
	for (char *save = NULL, *dir = strtok_r(pathdirs, ":", &save); dir;
	     dir = strtok_r(NULL, ":", &save))
		for (const char *const *r = runtimes; *r; r++) {
			snprintf(path, sizeof(path), "%s/%s", dir, *r);
			sp_tls_attach__file(a, path);
		}
	d = opendir("/proc");
	if (!d)
		return;
	while ((de = readdir(d))) {
		uint32_t pid = strtoul(de->d_name, NULL, 10);

		if (pid)
			sp_tls_attach__pid(a, pid);
	}
	closedir(d);
}

void sp_tls_attach__after_exec(struct sp_tls_attach *a, uint32_t pid, uint64_t now)
{
	/* the new image itself now: node must be probed before it runs */
	sp_tls_attach__pid(a, pid);
	if (a->nrescans == RESCANS)
		return;		/* the system libraries are attached anyway */
	a->rescans[a->nrescans++] = (struct rescan){ .pid = pid, .due = now + 30000000ull };
}

void sp_tls_attach__tick(struct sp_tls_attach *a, uint64_t now)
{
	/* 30 ms, 300 ms, 3 s after exec: dlopen'ed libssl copies */
	for (uint32_t i = 0; i < a->nrescans;) {
		struct rescan *r = &a->rescans[i];

		if (r->due > now) {
			i++;
			continue;
		}
		sp_tls_attach__pid(a, r->pid);
		if (++r->step < 3) {
			r->due = now + (r->step == 1 ? 300000000ull : 3000000000ull);
			i++;
		} else {
			*r = a->rescans[--a->nrescans];
		}
	}
}
