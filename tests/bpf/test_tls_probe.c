// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * BPF test, in the way of the kernel's selftests/bpf prog_tests: this
 * binary defines OpenSSL's four read/write functions itself (noinline,
 * fake bodies), attaches spanprobe's real OpenSSL programs to itself
 * through the real attach code (sp_tls_attach__file: the OpenSSL ops pick
 * the points, the generic code attaches them), calls them in a traced
 * child and checks the ring-buffer records: payload, length, direction,
 * session pointer, stream offsets, and nothing for a failed call.
 *
 * A second case copies this binary to a new file (a new inode, so nothing
 * is attached to it yet), execs it, and lets the discovery thread attach
 * it from sp_tls_attach__after_exec alone, as for any exec record.
 *
 * Needs root. Prints "SKIP" and exits 0 when BPF cannot load, unless
 * SPANPROBE_REQUIRE_BPF=1, when that is a failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "discovery/tls_attach.h"
#include "kernel/loader.h"
#include "util/log.h"
#include "spanprobe.h"
#include "spanprobe.skel.h"

#define noinline __attribute__((noinline, used))

#define SSL_PTR		((void *)0x5e55100)	/* a made-up SSL *, never dereferenced */
#define REQUEST		"GET /selftest HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
#define RESPONSE	"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
#define REQUEST2	"POST /ex HTTP/1.1\r\n\r\n"
#define RESPONSE2	"HTTP/1.1 204 No Content\r\n\r\n"

/* The fake TLS library: OpenSSL's contracts, no crypto. The asm keeps each
 * a real function the compiler neither folds nor inlines. */
noinline int SSL_write(void *ssl, const void *buf, int num)
{
	asm volatile("" ::: "memory");
	return num > 0 ? num : -1;
}

noinline int SSL_read(void *ssl, void *buf, int num)
{
	int n = (int)strlen(RESPONSE);

	asm volatile("" ::: "memory");
	if (num < n)
		return -1;
	memcpy(buf, RESPONSE, n);
	return n;
}

noinline int SSL_write_ex(void *ssl, const void *buf, size_t num, size_t *written)
{
	asm volatile("" ::: "memory");
	*written = num;
	return 1;
}

noinline int SSL_read_ex(void *ssl, void *buf, size_t num, size_t *readbytes)
{
	size_t n = strlen(RESPONSE2);

	asm volatile("" ::: "memory");
	if (num < n)
		return 0;
	memcpy(buf, RESPONSE2, n);
	*readbytes = n;
	return 1;
}

/* What the traced child does once told to. Requests are written from the
 * stack, as real callers' buffers are in memory the process has touched:
 * BPF cannot fault in a page (a forked child's .rodata may be unmapped). */
static void tls_calls(void)
{
	char buf[256], req[128];
	size_t n;

	snprintf(req, sizeof(req), "%s", REQUEST);
	SSL_write(SSL_PTR, req, strlen(req));
	SSL_write(SSL_PTR, req, 0);		/* fails: no record */
	SSL_read(SSL_PTR, buf, sizeof(buf));
	snprintf(req, sizeof(req), "%s", REQUEST2);
	SSL_write_ex(SSL_PTR, req, strlen(req), &n);
	SSL_read_ex(SSL_PTR, buf, sizeof(buf), &n);
	SSL_read_ex(SSL_PTR, buf, 1, &n);	/* fails: no record */
}

#define CHECK(cond, ...)							\
	({									\
		bool __ok = (cond);						\
		if (!__ok) {							\
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);				\
			fputc('\n', stderr);					\
		}								\
		!__ok;								\
	})

struct seen {
	uint32_t tgid;		/* the child whose records count */
	int n;
	struct {
		uint8_t dir;
		uint64_t ssl, seq;
		uint32_t call_len, len;
		char data[128];
	} rec[16];
};

static int on_record(void *ctx, void *data, size_t size)
{
	const struct sp_data_event *e = data;
	struct seen *s = ctx;

	if (size < sizeof(*e) || e->type != SP_EV_DATA || e->source != SP_SRC_TLS ||
	    e->tgid != s->tgid || s->n == 16)
		return 0;
	s->rec[s->n].dir = e->dir;
	s->rec[s->n].ssl = e->ssl;
	s->rec[s->n].seq = e->seq;
	s->rec[s->n].call_len = e->call_len;
	s->rec[s->n].len = e->len;
	snprintf(s->rec[s->n].data, sizeof(s->rec[0].data), "%.*s",
		 (int)(e->len < size - sizeof(*e) ? e->len : size - sizeof(*e)),
		 (const char *)(e + 1));
	s->n++;
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Polls until want records or 2 s. */
static void collect(struct sp_loader *l, struct seen *s, int want)
{
	uint64_t end = now_ns() + 2000000000ull;

	while (s->n < want && now_ns() < end)
		sp_loader__poll(l, 20);
	sp_loader__poll(l, 50);		/* and anything extra */
}

static int check_records(const struct seen *s)
{
	static const struct {
		uint8_t dir;
		uint64_t seq;
		const char *data;
	} want[] = {
		{ SP_DIR_EGRESS, 0, REQUEST },
		{ SP_DIR_INGRESS, 0, RESPONSE },
		{ SP_DIR_EGRESS, sizeof(REQUEST) - 1, REQUEST2 },
		{ SP_DIR_INGRESS, sizeof(RESPONSE) - 1, RESPONSE2 },
	};
	int bad = 0;

	if (CHECK(s->n == 4, "%d TLS records from pid %u, want 4", s->n, s->tgid)) {
		for (int i = 0; i < s->n; i++)
			fprintf(stderr, "  record %d: dir %u seq %llu len %u \"%s\"\n", i,
				s->rec[i].dir, (unsigned long long)s->rec[i].seq, s->rec[i].len,
				s->rec[i].data);
		return 1;
	}
	for (int i = 0; i < 4; i++) {
		size_t len = strlen(want[i].data);

		bad |= CHECK(s->rec[i].dir == want[i].dir, "record %d: dir %u", i, s->rec[i].dir);
		bad |= CHECK(s->rec[i].ssl == (uint64_t)SSL_PTR, "record %d: ssl 0x%llx", i,
			     (unsigned long long)s->rec[i].ssl);
		bad |= CHECK(s->rec[i].seq == want[i].seq, "record %d: seq %llu", i,
			     (unsigned long long)s->rec[i].seq);
		bad |= CHECK(s->rec[i].call_len == len && s->rec[i].len == len,
			     "record %d: call_len %u len %u, want %zu", i, s->rec[i].call_len,
			     s->rec[i].len, len);
		bad |= CHECK(!strcmp(s->rec[i].data, want[i].data), "record %d: payload \"%s\"", i,
			     s->rec[i].data);
	}
	return bad;
}

/* A child that waits for a byte on fd go, then makes the TLS calls. */
static pid_t fork_child(int *go)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(p[1]);
		if (read(p[0], &c, 1) == 1)
			tls_calls();
		_exit(0);
	}
	close(p[0]);
	*go = p[1];
	return pid;
}

static int release(pid_t pid, int go)
{
	int status = 0;

	if (write(go, "g", 1) != 1)
		return -1;
	close(go);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Case 1: this binary, attached through sp_tls_attach__file. */
static int test_attach_file(struct sp_loader *l, struct sp_tls_attach *a, struct seen *s)
{
	struct sp_tls_point pts[SP_TLS_MAX_POINTS];
	int n, go = -1, err = 1;
	uint64_t t0;
	pid_t pid;

	n = sp_tls_points("/proc/self/exe", pts, SP_TLS_MAX_POINTS);
	if (CHECK(n == 4, "%d attach points in this binary, want 4", n))
		return 1;
	t0 = now_ns();
	if (CHECK(sp_tls_attach__file(a, "/proc/self/exe") == 1, "attach to /proc/self/exe"))
		return 1;
	printf("test_tls_probe: attaching this binary inline: %.1f ms\n", (now_ns() - t0) / 1e6);
	CHECK(sp_tls_attach__file(a, "/proc/self/exe") == 0, "a second attach is a no-op");
	pid = fork_child(&go);
	if (CHECK(pid > 0, "fork: %s", strerror(errno)))
		return 1;
	s->tgid = pid;
	if (CHECK(!sp_loader__trace_pid(l, pid), "trace pid %d", pid))
		goto cleanup;
	if (CHECK(!release(pid, go), "child %d failed", pid))
		goto cleanup;
	go = -1;
	collect(l, s, 4);
	err = check_records(s);
cleanup:
	if (go >= 0) {
		kill(pid, SIGKILL);
		close(go);
		waitpid(pid, NULL, 0);
	}
	return err;
}

/* Case 2: a new file, exec'd, attached by the discovery thread. */
static int test_after_exec(struct sp_loader *l, struct sp_tls_attach *a, struct seen *s,
			   const char *self)
{
	char copy[] = "/tmp/spanprobe-tls-selftest-XXXXXX", cmd[4200];
	uint32_t before = sp_tls_attach__files(a);
	int p[2] = { -1, -1 }, err = 1, fd;
	uint64_t end, t0;
	pid_t pid = -1;

	fd = mkstemp(copy);
	if (CHECK(fd >= 0, "mkstemp: %s", strerror(errno)))
		return 1;
	close(fd);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod 700 '%s'", self, copy, copy);
	if (CHECK(system(cmd) == 0, "%s", cmd))
		goto cleanup;
	if (CHECK(!pipe(p), "pipe"))
		goto cleanup;
	pid = fork();
	if (pid == 0) {
		dup2(p[0], 0);
		close(p[0]);
		close(p[1]);
		execl(copy, copy, "--child", (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	p[0] = -1;
	if (CHECK(pid > 0, "fork"))
		goto cleanup;
	s->tgid = pid;
	s->n = 0;
	if (CHECK(!sp_loader__trace_pid(l, pid), "trace pid %d", pid))
		goto cleanup;
	/* the exec record comes after the exec: wait for it to be done */
	for (end = now_ns() + 2000000000ull; now_ns() < end; usleep(1000)) {
		char exe[64], target[4096];
		ssize_t n;

		snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
		n = readlink(exe, target, sizeof(target) - 1);
		if (n > 0 && (target[n] = 0, !strcmp(target, copy)))
			break;
	}
	/* what the exec record does; the new image is a new inode: only the
	 * thread can attach it */
	t0 = now_ns();
	sp_tls_attach__after_exec(a, pid, t0);
	for (end = t0 + 2000000000ull; sp_tls_attach__files(a) == before && now_ns() < end;)
		usleep(100);
	printf("test_tls_probe: exec record to attached: %.1f ms\n", (now_ns() - t0) / 1e6);
	/* the copy, and libssl too when the scan found it mapped already (the
	 * child's ld.so races the scan): at least the new image */
	if (CHECK(sp_tls_attach__files(a) >= before + 1, "the discovery thread attached %u files",
		  sp_tls_attach__files(a) - before))
		goto cleanup;
	if (CHECK(write(p[1], "g", 1) == 1, "release the child"))
		goto cleanup;
	close(p[1]);
	p[1] = -1;
	waitpid(pid, NULL, 0);
	pid = -1;
	collect(l, s, 4);
	err = check_records(s);
cleanup:
	if (p[1] >= 0)
		close(p[1]);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	unlink(copy);
	return err;
}

int main(int argc, char **argv)
{
	const char *req = getenv("SPANPROBE_REQUIRE_BPF");
	bool require = req && !strcmp(req, "1");
	struct sp_loader_opts o = { .max_capture = 4096, .ringbuf_bytes = 1 << 20 };
	struct sp_tls_attach *a = NULL;
	struct sp_loader *l = NULL;
	struct seen s = {};
	char self[4096];
	ssize_t n;
	int err = 1;

	if (argc == 2 && !strcmp(argv[1], "--child")) {
		char c;

		/* the exec'd copy: wait for the word, then call */
		if (read(0, &c, 1) == 1)
			tls_calls();
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return 1;
	self[n] = 0;
	o.on_record = on_record;
	o.ctx = &s;
	setvbuf(stdout, NULL, _IONBF, 0);
	if (sp_loader__open(&l, &o)) {
		printf("%s test_tls_probe: BPF cannot load here\n", require ? "FAIL" : "SKIP");
		return require ? 1 : 0;
	}
	a = sp_tls_attach__new(sp_loader__skel(l), 16);
	if (CHECK(a, "sp_tls_attach__new: %s", strerror(errno)))
		goto cleanup;
	if (test_attach_file(l, a, &s)) {
		printf("FAIL test_tls_probe: attach_file\n");
		goto cleanup;
	}
	printf("PASS test_tls_probe: attach_file\n");
	if (test_after_exec(l, a, &s, self)) {
		printf("FAIL test_tls_probe: after_exec\n");
		goto cleanup;
	}
	printf("PASS test_tls_probe: after_exec\n");
	err = 0;
cleanup:
	/* the thread is joined before the skeleton goes */
	sp_tls_attach__free(a);
	sp_loader__free(l);
	return err;
}
