// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "discovery/elf_sym.h"
#include "util/log.h"
#include "spanprobe.h"
#include "spanprobe.skel.h"
#include "discovery/tls_attach.h"

#define SP_TLS_LIB_REF(lib) &lib,
static const struct sp_tls_lib *const libs[] = { SP_TLS_LIBS(SP_TLS_LIB_REF) };
#define NLIBS (sizeof(libs) / sizeof(libs[0]))

#define RESCANS		256	/* pending post-exec rescans at most */
#define EXEC_QUEUE	1024	/* exec records waiting for the thread at most */
#define NEG_CACHE	4096	/* binaries without TLS remembered */

int sp_tls_points(const char *path, struct sp_tls_point *pts, int max)
{
	struct sp_elf *e = sp_elf__open(path);
	int n = 0;

	if (!e)
		return -errno;
	/* a library's ops set the fields they know; kind and cookie default
	 * to a plain function (SP_TLS_FUNC) without a cookie */
	memset(pts, 0, sizeof(*pts) * (size_t)(max > 0 ? max : 0));
	/* a file may hold more than one library (a runtime that links two) */
	for (size_t i = 0; i < NLIBS && n < max; i++)
		n += libs[i]->points(path, e, pts + n, max - n);
	sp_elf__close(e);
	return n;
}

/* Set while --list-tls-probes runs: declines are then shown, not only
 * logged at debug level. */
static _Thread_local bool listing;
/* The path a decline names: attach_file reads /proc/self/fd/N, the user
 * knows the file by the path it was found at. */
static _Thread_local const char *shown_path;

void sp_tls_decline(const char *path, const char *lib, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (listing)
		sp_warn("%s: %s found but not probed: %s", shown_path ? shown_path : path, lib, why);
	else
		sp_dbg("%s: %s found but not probed: %s", shown_path ? shown_path : path, lib, why);
}

int sp_tls_list_points(const char *path, FILE *out)
{
	struct sp_tls_point pts[SP_TLS_MAX_POINTS];
	int n;

	listing = true;
	n = sp_tls_points(path, pts, SP_TLS_MAX_POINTS);
	listing = false;

	if (n < 0) {
		sp_err("cannot read %s: %s", path, strerror(-n));
		return n;
	}
	if (n == 0) {
		sp_err("%s contains no TLS library spanprobe knows (OpenSSL's SSL_write/SSL_read, "
		       "BoringSSL, GnuTLS, Go's crypto/tls)", path);
		return -ENOENT;
	}
	for (int i = 0; i < n; i++)
		/* "PATH 0xOFF" first, as tests/bench/floor.c --points reads it */
		fprintf(out, "%s 0x%llx %s %s%s\n", path, (unsigned long long)pts[i].off,
			pts[i].label, pts[i].lib->name, pts[i].emulated ? "" : " (single-stepped)");
	return 0;
}

/* ---- attaching ---- */

struct file_id {
	uint64_t dev, ino;
};

struct rescan {
	uint32_t pid;
	uint8_t step;
	uint64_t due;
};

struct exec_rec {
	uint32_t pid;
	uint64_t ts;
};

struct sp_tls_attach {
	struct spanprobe_bpf *skel;

	/* attach state: taken by every attach, whichever thread */
	pthread_mutex_t lock;
	struct file_id *files;
	uint32_t nfiles, max_files;
	struct bpf_link **links;
	uint32_t nlinks, max_links;
	bool full_warned;
	struct file_id neg[NEG_CACHE];
	uint32_t neg_next;
	_Atomic uint32_t attached;

	/* exec queue: the ring-buffer callback produces, the thread consumes */
	pthread_mutex_t qlock;
	pthread_cond_t qcond;	/* on CLOCK_MONOTONIC */
	struct exec_rec queue[EXEC_QUEUE];
	uint32_t qhead, qlen;
	_Atomic uint64_t qdrops;
	_Atomic bool stop;
	bool threaded;		/* the thread runs; else work is done inline */
	pthread_t thread;

	/* post-exec rescans: the thread's own (the caller's when !threaded) */
	struct rescan rescans[RESCANS];
	uint32_t nrescans;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

uint32_t sp_tls_attach__files(const struct sp_tls_attach *a)
{
	return atomic_load(&a->attached);
}

uint64_t sp_tls_attach__queue_drops(const struct sp_tls_attach *a)
{
	return atomic_load(&a->qdrops);
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

/* sp_tls_attach__file with a->lock held. */
static int attach_file(struct sp_tls_attach *a, const char *path)
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
	shown_path = path;
	n = sp_tls_points(fdpath, pts, SP_TLS_MAX_POINTS);
	shown_path = NULL;
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
		bool func = pts[i].kind == SP_TLS_FUNC;

		/* the return probe first: an entry probe alone would leave
		 * in-flight entries that nothing removes (a library lists a
		 * function's return instructions before its entry) */
		for (int ret = func; ret >= 0; ret--) {
			LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = ret && func,
				    .bpf_cookie = pts[i].cookie);
			struct bpf_program *prog =
				pts[i].lib->prog(a->skel, &pts[i],
						 func ? ret : pts[i].kind == SP_TLS_RET_INSN);
			struct bpf_link *l;

			l = bpf_program__attach_uprobe_opts(prog, -1, fdpath, pts[i].off, &opts);
			if (!l) {
				err = -errno;
				sp_err("cannot attach to %s:%s (%s, offset 0x%llx): %s", path,
				       pts[i].label, pts[i].lib->name,
				       (unsigned long long)pts[i].off, strerror(-err));
				goto rollback;
			}
			a->links[a->nlinks++] = l;
		}
		sp_dbg("attached %s:%s (%s) at 0x%llx%s", path, pts[i].label, pts[i].lib->name,
		       (unsigned long long)pts[i].off, pts[i].emulated ? "" : " (single-stepped)");
	}
	a->files[a->nfiles].dev = st.st_dev;
	a->files[a->nfiles].ino = st.st_ino;
	a->nfiles++;
	atomic_fetch_add(&a->attached, 1);
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

int sp_tls_attach__file(struct sp_tls_attach *a, const char *path)
{
	int r;

	pthread_mutex_lock(&a->lock);
	r = attach_file(a, path);
	pthread_mutex_unlock(&a->lock);
	return r;
}

/* The file name is a shared library of a TLS library we know. */
static bool looks_like_tls_lib(const char *path)
{
	const char *b = strrchr(path, '/');

	b = b ? b + 1 : path;
	for (size_t i = 0; i < NLIBS; i++)
		for (const char *const *p = libs[i]->lib_prefixes; p && *p; p++)
			if (!strncmp(b, *p, strlen(*p)))
				return true;
	return false;
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
	while (fgets(line, sizeof(line), f) && !atomic_load(&a->stop)) {
		char *p = strchr(line, '/');

		if (!p)
			continue;
		p[strcspn(p, "\n")] = 0;
		if (!looks_like_tls_lib(p) || strstr(p, " (deleted)"))
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
			if (!looks_like_tls_lib(de->d_name))
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
	static const char *const runtimes[] = { "node", "nodejs", "bun", "deno", "claude", NULL };
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

/* ---- after exec: the discovery thread ---- */

/* Returns when the new rescan is due, UINT64_MAX if none was added. */
static uint64_t rescan_add(struct sp_tls_attach *a, uint32_t pid, uint64_t exec_ts)
{
	if (a->nrescans == RESCANS)
		return UINT64_MAX;	/* the system libraries are attached anyway */
	a->rescans[a->nrescans++] = (struct rescan){ .pid = pid, .due = exec_ts + 30000000ull };
	return exec_ts + 30000000ull;
}

/* Runs the rescans due at now; returns when the next one is due (or
 * UINT64_MAX). */
static uint64_t rescans_run(struct sp_tls_attach *a, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	/* 30 ms, 300 ms, 3 s after exec: dlopen'ed libssl copies */
	for (uint32_t i = 0; i < a->nrescans && !atomic_load(&a->stop);) {
		struct rescan *r = &a->rescans[i];

		if (r->due > now) {
			if (r->due < next)
				next = r->due;
			i++;
			continue;
		}
		sp_tls_attach__pid(a, r->pid);
		if (++r->step < 3) {
			r->due = now + (r->step == 1 ? 300000000ull : 3000000000ull);
			if (r->due < next)
				next = r->due;
			i++;
		} else {
			*r = a->rescans[--a->nrescans];
		}
	}
	return next;
}

static void *discovery_main(void *arg)
{
	struct sp_tls_attach *a = arg;
	uint64_t next = UINT64_MAX, due;

	pthread_mutex_lock(&a->qlock);
	while (!atomic_load(&a->stop)) {
		if (a->qlen) {
			/* execs first: a new image must be probed before it
			 * runs its TLS code; rescans can wait a little */
			struct exec_rec r = a->queue[a->qhead];

			a->qhead = (a->qhead + 1) % EXEC_QUEUE;
			a->qlen--;
			pthread_mutex_unlock(&a->qlock);
			sp_tls_attach__pid(a, r.pid);
			due = rescan_add(a, r.pid, r.ts);
			if (due < next)
				next = due;
			pthread_mutex_lock(&a->qlock);
			continue;
		}
		if (next <= mono_ns()) {
			pthread_mutex_unlock(&a->qlock);
			next = rescans_run(a, mono_ns());
			pthread_mutex_lock(&a->qlock);
			continue;
		}
		if (next == UINT64_MAX) {
			pthread_cond_wait(&a->qcond, &a->qlock);
		} else {
			struct timespec ts = {
				.tv_sec = next / 1000000000ull, .tv_nsec = next % 1000000000ull,
			};

			pthread_cond_timedwait(&a->qcond, &a->qlock, &ts);
		}
	}
	pthread_mutex_unlock(&a->qlock);
	return NULL;
}

void sp_tls_attach__after_exec(struct sp_tls_attach *a, uint32_t pid, uint64_t now)
{
	bool dropped = false;

	if (!a->threaded) {
		/* no thread (it could not start): the old inline way */
		sp_tls_attach__pid(a, pid);
		rescan_add(a, pid, now);
		return;
	}
	pthread_mutex_lock(&a->qlock);
	if (a->qlen == EXEC_QUEUE) {
		dropped = true;
	} else {
		a->queue[(a->qhead + a->qlen) % EXEC_QUEUE] = (struct exec_rec){ pid, now };
		a->qlen++;
		pthread_cond_signal(&a->qcond);
	}
	pthread_mutex_unlock(&a->qlock);
	/* the system libraries and runtimes are attached already: what is
	 * lost is a library loaded from elsewhere, or a new binary */
	if (dropped && atomic_fetch_add(&a->qdrops, 1) == 0)
		sp_warn("TLS discovery is %u execs behind: skipping pid %u (counted)",
			EXEC_QUEUE, pid);
}

void sp_tls_attach__tick(struct sp_tls_attach *a, uint64_t now)
{
	if (!a->threaded)
		rescans_run(a, now);
}

struct sp_tls_attach *sp_tls_attach__new(struct spanprobe_bpf *skel, uint32_t max_files)
{
	struct sp_tls_attach *a = calloc(1, sizeof(*a));
	pthread_condattr_t ca;
	int err;

	if (!a)
		return NULL;
	a->skel = skel;
	a->max_files = max_files;
	a->max_links = max_files * SP_TLS_MAX_POINTS * 2;
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_init(&a->qlock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->qcond, &ca);
	pthread_condattr_destroy(&ca);
	a->files = calloc(max_files, sizeof(*a->files));
	a->links = calloc(a->max_links, sizeof(*a->links));
	if (!a->files || !a->links) {
		sp_tls_attach__free(a);
		errno = ENOMEM;
		return NULL;
	}
	err = pthread_create(&a->thread, NULL, discovery_main, a);
	if (err)
		sp_warn("cannot start the TLS discovery thread (%s): attaching after exec inline",
			strerror(err));
	else
		a->threaded = true;
	return a;
}

void sp_tls_attach__free(struct sp_tls_attach *a)
{
	if (!a)
		return;
	if (a->threaded) {
		pthread_mutex_lock(&a->qlock);
		atomic_store(&a->stop, true);
		pthread_cond_signal(&a->qcond);
		pthread_mutex_unlock(&a->qlock);
		pthread_join(a->thread, NULL);
	}
	for (uint32_t i = 0; a->links && i < a->nlinks; i++)
		bpf_link__destroy(a->links[i]);
	free(a->links);
	free(a->files);
	pthread_cond_destroy(&a->qcond);
	pthread_mutex_destroy(&a->qlock);
	pthread_mutex_destroy(&a->lock);
	free(a);
}
