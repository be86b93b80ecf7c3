// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "model/procs.h"
#include "util/procfs.h"
#include "util/redact.h"
#include "util/table.h"

struct tomb {
	uint32_t pid;
	uint64_t exit_ns;
};

struct sp_procs {
	struct sp_table *t;
	/* tombstones, oldest first: a ring of cap */
	struct tomb *tombs;
	uint32_t tomb_cap, tomb_head, ntombs;
	void (*evict)(void *ctx, struct sp_proc *p);
	void *ctx;
	sp_proc_read_fn read;
	void *read_ctx;
};

static void on_evict(void *ctx, void *entry)
{
	struct sp_procs *t = ctx;
	struct sp_proc *p = entry;

	if (t->evict)
		t->evict(t->ctx, p);
	sp_resource__put(p->res);
	p->res = NULL;
}

struct sp_procs *sp_procs__new(uint32_t capacity, void (*evict)(void *ctx, struct sp_proc *p),
			       void *ctx, sp_proc_read_fn read, void *read_ctx)
{
	struct sp_procs *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->evict = evict;
	t->ctx = ctx;
	t->read = read ? read : sp_procfs_reader;
	t->read_ctx = read_ctx;
	t->t = sp_table__new(capacity, sizeof(struct sp_proc), on_evict, t);
	/* each holds its resource (3 KiB): a bound in bytes as much as in
	 * entries */
	t->tomb_cap = capacity / 16 > 16 ? capacity / 16 : 16;
	t->tombs = calloc(t->tomb_cap, sizeof(*t->tombs));
	if (!t->t || !t->tombs) {
		sp_table__free(t->t);
		free(t->tombs);
		free(t);
		return NULL;
	}
	return t;
}

void sp_procs__free(struct sp_procs *t)
{
	struct sp_proc *p;
	uint32_t it = 0;

	if (!t)
		return;
	while ((p = sp_table__next(t->t, &it)))
		sp_resource__put(p->res);
	sp_table__free(t->t);
	free(t->tombs);
	free(t);
}

struct sp_proc *sp_procs__get(struct sp_procs *t, uint32_t pid)
{
	return sp_table__get(t->t, pid, 0);
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static bool is_interpreter(const char *exe)
{
	static const char *const names[] = {
		"python", "node", "nodejs", "bun", "deno", "ruby", "perl", "php", "java",
		"bash", "sh", "dash", "zsh", "uv", "npx", "tsx", "ts-node", NULL,
	};
	const char *b = base_name(exe);

	for (const char *const *n = names; *n; n++) {
		size_t l = strlen(*n);

		/* python3, python3.11, node20 ... */
		if (!strncmp(b, *n, l) && (!b[l] || b[l] == '.' || (b[l] >= '0' && b[l] <= '9')))
			return true;
	}
	return false;
}

static bool flag_takes_value(const char *a)
{
	static const char *const flags[] = {
		"-r", "--require", "--import", "--loader", "--experimental-loader",
		"--env-file", "--inspect-port", "--title", "-W", "-X", "--preload", "--cwd",
		NULL,
	};

	for (const char *const *f = flags; *f; f++)
		if (!strcmp(a, *f))
			return true;
	return false;
}

void sp_proc_name(const char *exe, const char *argv, uint32_t argv_len, char *out, size_t cap)
{
	const char *arg1 = NULL;
	size_t l0;

	/* argv[0] as the user typed it: "python3", not "python3.11" */
	snprintf(out, cap, "%s", base_name(argv_len && argv[0] ? argv : exe));
	if (!argv_len || !is_interpreter(exe))
		return;
	l0 = strnlen(argv, argv_len);
	/* skip interpreter flags ("python3 -u agent.py"), not "-c"/"-m" code */
	for (size_t off = l0 + 1; off < argv_len;) {
		const char *a = argv + off;
		size_t l = strnlen(a, argv_len - off);

		if (!strcmp(a, "-c") || !strcmp(a, "-e"))
			return;
		if (!strcmp(a, "-m") && off + l + 1 < argv_len) {
			arg1 = a + l + 1;
			break;
		}
		/* a flag whose value is the next argument: "node -r preload.js
		 * app.js" is app.js */
		if (flag_takes_value(a)) {
			off += l + 1;
			l = strnlen(argv + off, off < argv_len ? argv_len - off : 0);
		}
		if (a[0] != '-') {
			arg1 = a;
			break;
		}
		off += l + 1;
	}
	if (arg1) {
		size_t n = strlen(out);

		snprintf(out + n, cap - n, " %s", base_name(arg1));
	}
}

static bool secret_flag(const char *a)
{
	static const char *const flags[] = {
		"--password", "--passwd", "--token", "--api-key", "--apikey", "--api_key",
		"--secret", "--auth", "-u", "--user", "--proxy-user", "--oauth2-bearer",
		NULL,
	};

	for (const char *const *f = flags; *f; f++)
		if (!strcmp(a, *f))
			return true;
	return false;
}

/* Redacts one argument into out[at..]; returns the new length. */
static size_t redact_arg(const char *a, char *out, size_t at, size_t cap, bool secret)
{
	const char *colon = strchr(a, ':'), *eq = strchr(a, '=');

	if (secret)
		return at + snprintf(out + at, cap - at, "%s", SP_REDACTED);
	/* "Authorization: Bearer x" as a curl -H value */
	if (colon && colon > a && sp_redact_header(a, colon - a))
		return at + snprintf(out + at, cap - at, "%.*s: %s", (int)(colon - a), a,
				     SP_REDACTED);
	/* --token=x, --api-key=x */
	if (eq && a[0] == '-') {
		char flag[64];

		snprintf(flag, sizeof(flag), "%.*s", (int)(eq - a), a);
		if (secret_flag(flag))
			return at + snprintf(out + at, cap - at, "%s=%s", flag, SP_REDACTED);
	}
	/* NAME=value environment-style assignments with a secret-looking name */
	if (eq && eq > a && a[0] != '-' && strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
						    "0123456789_") == (size_t)(eq - a)) {
		char name[64];

		snprintf(name, sizeof(name), "%.*s", (int)(eq - a), a);
		/* the value ends at a blank: "K=v cmd" in a sh -c script */
		if (strcasestr(name, "key") || strcasestr(name, "token") ||
		    strcasestr(name, "secret") || strcasestr(name, "password"))
			return at + snprintf(out + at, cap - at, "%s=%s%s", name, SP_REDACTED,
					     eq + 1 + strcspn(eq + 1, " \t\n"));
	}
	if (strstr(a, "://") || strchr(a, '?'))
		return at + sp_redact_url(a, strlen(a), out + at, cap - at);
	return at + snprintf(out + at, cap - at, "%s", a);
}

void sp_proc_cmdline(const char *argv, uint32_t argv_len, char *out, size_t cap)
{
	bool next_secret = false;
	size_t at = 0;

	out[0] = 0;
	for (size_t off = 0; off < argv_len && at + 1 < cap;) {
		char arg[4096];
		size_t l = strnlen(argv + off, argv_len - off);

		snprintf(arg, sizeof(arg), "%.*s", (int)l, argv + off);
		if (at)
			out[at++] = ' ';
		out[at] = 0;
		at = redact_arg(arg, out, at, cap, next_secret);
		if (at >= cap)
			at = cap - 1;
		next_secret = secret_flag(arg);
		off += l + 1;
	}
	out[at < cap ? at : cap - 1] = 0;
}

/* The process's own OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES: it
 * names itself the way an OTel SDK in it would. */
static void env_otel(struct sp_procs *t, uint32_t pid, struct sp_resource *r, char *service,
		     size_t cap)
{
	static char env[65536];
	static const char svc[] = "OTEL_SERVICE_NAME=", attrs[] = "OTEL_RESOURCE_ATTRIBUTES=";
	size_t n = t->read(t->read_ctx, pid, "environ", env, sizeof(env));
	const char *bad;

	service[0] = 0;
	for (size_t off = 0; off < n;) {
		const char *e = env + off;
		size_t l = strnlen(e, n - off);

		if (l > sizeof(svc) - 1 && !memcmp(e, svc, sizeof(svc) - 1))
			snprintf(service, cap, "%s", e + sizeof(svc) - 1);
		else if (l > sizeof(attrs) - 1 && !memcmp(e, attrs, sizeof(attrs) - 1))
			sp_res_kv_parse(&r->extra, e + sizeof(attrs) - 1, &bad);
		off += l + 1;
	}
}

static void fill_resource(struct sp_procs *t, struct sp_proc *p, const char *exe,
			  const char *argv, uint32_t argv_len)
{
	struct sp_resource *r = sp_resource__new();
	char service[128];

	if (!r)
		return;
	r->pid = p->pid;
	snprintf(r->exe_path, sizeof(r->exe_path), "%s", exe);
	snprintf(r->exe_name, sizeof(r->exe_name), "%s", base_name(exe));
	sp_proc_cmdline(argv, argv_len, r->command_line, sizeof(r->command_line));
	env_otel(t, p->pid, r, service, sizeof(service));
	sp_resource__finish(r, service);
	sp_proc_name(exe, argv, argv_len, p->name, sizeof(p->name));
	sp_resource__put(p->res);
	p->res = r;
}

void sp_procs__exec(struct sp_procs *t, struct sp_proc *p, const char *filename,
		    const char *args, uint32_t args_len)
{
	char exe[256];

	/* the exec record says it all but the environment and the resolved
	 * executable, and those are read from /proc now, once: waiting until
	 * a span needs them loses a short-lived process's own
	 * OTEL_SERVICE_NAME (curl is gone before its exchange is decoded) */
	if (!t->read(t->read_ctx, p->pid, "exe", exe, sizeof(exe)))
		snprintf(exe, sizeof(exe), "%s", filename);	/* gone already */
	fill_resource(t, p, exe, args, args_len);
	p->facts_known = true;
}

/* Forgets what p was: its pid is a new process's now. */
static void proc_reset(struct sp_proc *p, uint32_t pid, uint32_t ppid, uint64_t now)
{
	sp_resource__put(p->res);
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->ppid = ppid;
	p->start_ns = now;
}

struct sp_proc *sp_procs__fork(struct sp_procs *t, uint32_t pid, uint32_t ppid, uint64_t now)
{
	struct sp_proc *p = sp_table__get(t->t, pid, 0), *parent;

	if (!p)
		p = sp_table__add(t->t, pid, 0);
	if (!p)
		return NULL;
	proc_reset(p, pid, ppid, now);
	/* looked up after the add, which may have evicted it */
	parent = sp_table__get(t->t, ppid, 0);
	if (parent && parent->facts_known && !parent->exited) {
		memcpy(p->comm, parent->comm, sizeof(p->comm));
		memcpy(p->name, parent->name, sizeof(p->name));
		p->res = sp_resource__get(parent->res);
		p->facts_known = true;
	}
	return p;
}

struct sp_proc *sp_procs__add(struct sp_procs *t, uint32_t pid, uint32_t ppid, uint64_t now)
{
	struct sp_proc *p = sp_table__add(t->t, pid, 0);

	if (!p)
		return NULL;
	p->pid = pid;
	p->ppid = ppid;
	p->start_ns = now;
	return p;
}

struct sp_proc *sp_procs__get_or_add(struct sp_procs *t, uint32_t pid, uint32_t ppid,
				     uint64_t now)
{
	struct sp_proc *p = sp_table__get(t->t, pid, 0);

	if (p)
		return p;
	/* what it is is read when a span first needs it */
	return sp_procs__add(t, pid, ppid, now);
}

/* Everything from /proc: a process that started before us, or one whose
 * exec we did not see. */
static void facts_from_proc(struct sp_procs *t, struct sp_proc *p)
{
	char buf[4096], exe[256];
	size_t n;

	if (!p->ppid && t->read(t->read_ctx, p->pid, "stat", buf, sizeof(buf)))
		sp_procfs_parse_ppid(buf, &p->ppid);
	t->read(t->read_ctx, p->pid, "comm", p->comm, sizeof(p->comm));
	p->comm[strcspn(p->comm, "\n")] = 0;
	if (!t->read(t->read_ctx, p->pid, "exe", exe, sizeof(exe)))
		snprintf(exe, sizeof(exe), "%s", p->comm[0] ? p->comm : "unknown");
	n = t->read(t->read_ctx, p->pid, "cmdline", buf, sizeof(buf));
	fill_resource(t, p, exe, buf, n);
}

void sp_procs__ensure(struct sp_procs *t, struct sp_proc *p)
{
	if (!p->facts_known)
		facts_from_proc(t, p);
	p->facts_known = true;
}

void sp_procs__exit(struct sp_procs *t, struct sp_proc *p, int wstatus, uint64_t ts)
{
	p->exited = true;
	p->exit_status = wstatus;
	p->exit_ns = ts;
}

void sp_procs__del(struct sp_procs *t, struct sp_proc *p)
{
	sp_resource__put(p->res);
	p->res = NULL;
	sp_table__del(t->t, p);
}

static void tomb_drop(struct sp_procs *t)
{
	struct tomb *tb = &t->tombs[t->tomb_head];
	struct sp_proc *p = sp_table__get(t->t, tb->pid, 0);

	/* still that tombstone, not a new process with its pid */
	if (p && p->exited && p->exit_ns == tb->exit_ns)
		sp_procs__del(t, p);
	t->tomb_head = (t->tomb_head + 1) % t->tomb_cap;
	t->ntombs--;
}

void sp_procs__retire(struct sp_procs *t, struct sp_proc *p)
{
	struct tomb tb = { .pid = p->pid, .exit_ns = p->exit_ns };

	if (t->ntombs == t->tomb_cap)
		tomb_drop(t);	/* p survives: the oldest is another */
	t->tombs[(t->tomb_head + t->ntombs) % t->tomb_cap] = tb;
	t->ntombs++;
}

void sp_procs__tick(struct sp_procs *t, uint64_t now)
{
	while (t->ntombs && now > t->tombs[t->tomb_head].exit_ns &&
	       now - t->tombs[t->tomb_head].exit_ns >= SP_PROC_TOMB_NS)
		tomb_drop(t);
}

const char *sp_proc_agent_name(const struct sp_proc *p)
{
	const char *sp = strchr(p->name, ' ');

	/* sp_proc_name: "python3 agent.py", or the executable alone */
	return sp ? sp + 1 : p->name;
}

bool sp_proc_is_http_cli(const struct sp_proc *p)
{
	static const char *const names[] = {
		"curl", "wget", "wget2", "http", "https", "httpie", "xh", "xhs", "aria2c",
		"lwp-request", NULL,
	};
	const char *exe = p->res ? p->res->exe_name : p->comm;

	for (const char *const *n = names; *n; n++)
		if (!strcmp(exe, *n))
			return true;
	return false;
}

bool sp_proc_is_launcher(const struct sp_proc *p)
{
	static const char *const names[] = {
		"sh", "bash", "dash", "zsh", "env", "npx", "npm", "pnpm", "yarn", "bunx", "uv",
		"uvx", "pipx", "bwrap", "timeout", "nice", "sudo", "setsid", "stdbuf", "nohup",
		"node npx-cli.js", "node npm-cli.js", "node npm", "node npx", NULL,
	};

	for (const char *const *n = names; *n; n++)
		if (!strcmp(p->name, *n) || (p->res && !strchr(*n, ' ') &&
					     !strcmp(p->res->exe_name, *n)))
			return true;
	return false;
}

struct sp_proc *sp_procs__next(struct sp_procs *t, uint32_t *it)
{
	return sp_table__next(t->t, it);
}

uint64_t sp_procs__evictions(const struct sp_procs *t)
{
	return sp_table__evictions(t->t);
}
