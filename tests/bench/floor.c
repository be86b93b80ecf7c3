// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * floor: attach the empty programs of floor.bpf.c at a set of uprobe points
 * and hold them until SIGINT/SIGTERM.
 *
 * Attach points come from
 *   --exported LIB   SSL_write, SSL_read, SSL_write_ex, SSL_read_ex of LIB,
 *                    resolved by libbpf (bpf_uprobe_opts.func_name);
 *   --points FILE    lines "PATH 0xOFFSET [NAME]" ("-" = stdin), the format
 *                    of `spanprobe --list-tls-probes`; OFFSET is a file
 *                    offset, which is what the kernel's uprobe wants;
 *   PATH OFFSET      pairs on the command line.
 * Each point gets one uprobe and one uretprobe, system-wide (pid -1), as
 * spanprobe's are. "floor: ready" on stderr means every point is attached.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "floor.skel.h"

/* A libssl has four exported read/write entry points and spanprobe a few
 * internal ones per library; this bounds a points file gone wrong. */
#define FLOOR_MAX_POINTS	256
#define FLOOR_NAME_LEN		64

struct floor_point {
	char path[PATH_MAX];
	char name[FLOOR_NAME_LEN];	/* for messages; may be "" */
	bool by_name;			/* libbpf resolves name, offset is 0 */
	unsigned long long offset;	/* file offset */
};

static const char *const exported_syms[] = {
	"SSL_write", "SSL_read", "SSL_write_ex", "SSL_read_ex",
};

static struct floor_point points[FLOOR_MAX_POINTS];
static int n_points;
static bool verbose;
/* --uprobes-only: no uretprobes (Go: a uretprobe rewrites the return
 * address on a goroutine stack, which crashes the program) */
static bool uprobes_only;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: floor [-v] [--uprobes-only] [--exported LIB]... [--points FILE]... [PATH OFFSET]...\n"
		"  --exported LIB  attach at SSL_write/SSL_read/SSL_write_ex/SSL_read_ex of LIB\n"
		"  --points FILE   lines \"PATH 0xOFFSET [NAME]\" (FILE - is stdin)\n"
		"  PATH OFFSET     one attach point (OFFSET is a file offset)\n"
		"  --uprobes-only  no uretprobes (Go binaries: each point a uprobe alone)\n"
		"Attaches empty uprobes+uretprobes system-wide, prints \"floor: ready\"\n"
		"on stderr, then waits for SIGINT/SIGTERM.\n");
}

static int libbpf_print_fn(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static int add_point(const char *path, const char *name, bool by_name,
		     unsigned long long offset)
{
	struct floor_point *p;

	if (n_points >= FLOOR_MAX_POINTS) {
		fprintf(stderr, "floor: more than %d attach points, %s not added\n",
			FLOOR_MAX_POINTS, path);
		return -E2BIG;
	}
	if (strlen(path) >= sizeof(p->path) || strlen(name) >= sizeof(p->name)) {
		fprintf(stderr, "floor: attach point name too long: %s %s\n", path, name);
		return -ENAMETOOLONG;
	}
	p = &points[n_points++];
	strcpy(p->path, path);
	strcpy(p->name, name);
	p->by_name = by_name;
	p->offset = offset;
	return 0;
}

static int parse_offset(const char *s, unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	if (errno || end == s || *end)
		return -EINVAL;
	return 0;
}

static int add_exported(const char *lib)
{
	size_t i;
	int err;

	for (i = 0; i < sizeof(exported_syms) / sizeof(exported_syms[0]); i++) {
		err = add_point(lib, exported_syms[i], true, 0);
		if (err)
			return err;
	}
	return 0;
}

/* Lines are "PATH 0xOFFSET [NAME]"; NAME is only for messages. */
static int add_points_file(const char *file)
{
	char line[PATH_MAX + 128], *path, *off, *name, *save;
	unsigned long long offset;
	FILE *f = NULL;
	int err = 0, lineno = 0;

	f = strcmp(file, "-") ? fopen(file, "r") : stdin;
	if (!f) {
		err = -errno;
		fprintf(stderr, "floor: cannot open points file %s: %s\n", file, strerror(-err));
		return err;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		path = strtok_r(line, " \t\r\n", &save);
		if (!path || path[0] == '#')
			continue;
		off = strtok_r(NULL, " \t\r\n", &save);
		name = strtok_r(NULL, " \t\r\n", &save);
		if (!off || parse_offset(off, &offset)) {
			fprintf(stderr, "floor: %s:%d: expected \"PATH 0xOFFSET [NAME]\"\n",
				file, lineno);
			err = -EINVAL;
			goto cleanup;
		}
		/* offset, not name, is what gets attached: the NAME column may be
		 * an internal symbol libbpf cannot resolve in a stripped library */
		if (name && strlen(name) >= FLOOR_NAME_LEN)
			name = NULL;
		err = add_point(path, name ? name : "", false, offset);
		if (err)
			goto cleanup;
	}
	if (ferror(f)) {
		err = -EIO;
		fprintf(stderr, "floor: cannot read points file %s\n", file);
	}
cleanup:
	if (f != stdin)
		fclose(f);
	return err;
}

static struct bpf_link *attach_one(struct bpf_program *prog, const struct floor_point *p,
				   bool retprobe)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = retprobe);

	if (p->by_name)
		opts.func_name = p->name;
	return bpf_program__attach_uprobe_opts(prog, -1, p->path, p->offset, &opts);
}

int main(int argc, char **argv)
{
	struct bpf_link **links = NULL;
	struct floor_bpf *skel = NULL;
	int i, n_links = 0, err = 0, sig;
	sigset_t set;

	for (i = 1; i < argc; i++) {
		unsigned long long offset;

		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "-v")) {
			verbose = true;
		} else if (!strcmp(argv[i], "--uprobes-only")) {
			uprobes_only = true;
		} else if (!strcmp(argv[i], "--exported") && i + 1 < argc) {
			err = add_exported(argv[++i]);
		} else if (!strcmp(argv[i], "--points") && i + 1 < argc) {
			err = add_points_file(argv[++i]);
		} else if (argv[i][0] != '-' && i + 1 < argc &&
			   !parse_offset(argv[i + 1], &offset)) {
			err = add_point(argv[i], "", false, offset);
			i++;
		} else {
			usage(stderr);
			return 2;
		}
		if (err)
			return 1;
	}
	if (!n_points) {
		fprintf(stderr, "floor: no attach points given\n");
		usage(stderr);
		return 2;
	}

	/* Block the stop signals before anything is attached, so one that
	 * arrives early is waited for by sigwait() rather than lost. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);

	libbpf_set_print(libbpf_print_fn);

	skel = floor_bpf__open_and_load();
	if (!skel) {
		err = -errno;
		fprintf(stderr, "floor: cannot load BPF programs: %s (run as root)\n",
			strerror(-err));
		goto cleanup;
	}

	links = calloc(2 * n_points, sizeof(*links));
	if (!links) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (i = 0; i < n_points; i++) {
		const struct floor_point *p = &points[i];
		int r;

		for (r = 0; r < (uprobes_only ? 1 : 2); r++) {
			struct bpf_program *prog = r ? skel->progs.floor_exit
						     : skel->progs.floor_enter;

			links[n_links] = attach_one(prog, p, r);
			if (!links[n_links]) {
				err = -errno;
				fprintf(stderr, "floor: cannot attach %s to %s:",
					r ? "uretprobe" : "uprobe", p->path);
				if (p->by_name)
					fprintf(stderr, "%s", p->name);
				else
					fprintf(stderr, "0x%llx%s%s", p->offset,
						p->name[0] ? " " : "", p->name);
				fprintf(stderr, ": %s (run as root; check the %s)\n",
					strerror(-err), p->by_name ? "symbol" : "file and offset");
				goto cleanup;
			}
			n_links++;
		}
		if (verbose)
			fprintf(stderr, "floor: attached %s %s 0x%llx\n", p->path, p->name,
				p->offset);
	}
	fprintf(stderr, "floor: %d uprobes + %d uretprobes attached\n", n_points,
		uprobes_only ? 0 : n_points);
	fprintf(stderr, "floor: ready\n");

	if (sigwait(&set, &sig))
		err = -EINTR;

cleanup:
	for (i = 0; i < n_links; i++)
		bpf_link__destroy(links[i]);
	free(links);
	floor_bpf__destroy(skel);
	return err ? 1 : 0;
}
