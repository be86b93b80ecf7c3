// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * conn_hold: N connections over 127.0.0.1, each stopped mid-request, held
 * open so that a tracer's memory can be read while it tracks them all.
 *
 *   conn_hold N SECONDS
 *
 * A child process listens on an ephemeral 127.0.0.1 port and accepts
 * without ever reading, so no request can finish; the parent opens N
 * connections and writes on each, in one write(), a POST head announcing a
 * 4096-byte body and the first 512 bytes of it. It then prints
 *   holding N connections to 127.0.0.1:PORT
 * on stdout and keeps them until its stdin reaches EOF or SECONDS pass,
 * whichever comes first, then closes them and exits 0 (1 on any failure).
 * Plain HTTP: the connections are what is measured, not TLS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define N_MAX		100000
#define BODY_LEN	4096
#define BODY_SENT	512

/* Room for N sockets plus stdio and the listener; root may raise the hard
 * limit too. */
static int raise_nofile(long n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	if (rl.rlim_cur >= (rlim_t)n + 64)
		return 0;
	rl.rlim_cur = n + 64;
	if (rl.rlim_max < rl.rlim_cur)
		rl.rlim_max = rl.rlim_cur;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	return 0;
}

/* The server side: accepts n connections and never reads from them; ends
 * when the parent dies or after seconds. */
static void serve(int lfd, long n, unsigned int seconds)
{
	long i;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm(seconds + 60);
	for (i = 0; i < n; i++) {
		if (accept4(lfd, NULL, NULL, SOCK_CLOEXEC) < 0) {
			if (errno == EINTR || errno == ECONNABORTED) {
				i--;
				continue;
			}
			fprintf(stderr, "conn_hold: accept: %s\n", strerror(errno));
			_exit(1);
		}
	}
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(addr);
	char req[BODY_SENT + 256], *end;
	struct pollfd in = { .fd = 0, .events = POLLIN };
	int lfd = -1, *fds = NULL, len, err = 1, rc;
	long n, held = 0, seconds;
	pid_t child = -1;

	if (argc != 3) {
		fprintf(stderr, "usage: conn_hold N SECONDS\n");
		return 2;
	}
	n = strtol(argv[1], &end, 10);
	if (*end || n <= 0 || n > N_MAX) {
		fprintf(stderr, "conn_hold: N must be 1..%d, not %s\n", N_MAX, argv[1]);
		return 2;
	}
	seconds = strtol(argv[2], &end, 10);
	if (*end || seconds <= 0 || seconds > 3600) {
		fprintf(stderr, "conn_hold: SECONDS must be 1..3600, not %s\n", argv[2]);
		return 2;
	}
	/* both processes hold n sockets */
	rc = raise_nofile(n);
	if (rc) {
		fprintf(stderr, "conn_hold: cannot raise RLIMIT_NOFILE to %ld: %s (run as root, "
			"or ulimit -n)\n", n + 64, strerror(-rc));
		return 1;
	}
	fds = calloc(n, sizeof(*fds));
	if (!fds) {
		fprintf(stderr, "conn_hold: out of memory\n");
		return 1;
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(lfd, SOMAXCONN) || getsockname(lfd, (struct sockaddr *)&addr, &alen)) {
		fprintf(stderr, "conn_hold: cannot listen on 127.0.0.1: %s\n", strerror(errno));
		goto cleanup;
	}
	child = fork();
	if (child < 0) {
		fprintf(stderr, "conn_hold: fork: %s\n", strerror(errno));
		goto cleanup;
	}
	if (!child)
		serve(lfd, n, seconds);

	len = snprintf(req, sizeof(req),
		       "POST /upload HTTP/1.1\r\n"
		       "Host: 127.0.0.1:%u\r\n"
		       "Content-Type: application/octet-stream\r\n"
		       "Content-Length: %d\r\n"
		       "\r\n", ntohs(addr.sin_port), BODY_LEN);
	memset(req + len, 'x', BODY_SENT);
	len += BODY_SENT;
	for (held = 0; held < n; held++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
			fprintf(stderr, "conn_hold: connection %ld: %s\n", held + 1, strerror(errno));
			if (fd >= 0)
				close(fd);
			goto cleanup;
		}
		fds[held] = fd;
		if (write(fd, req, len) != len) {
			fprintf(stderr, "conn_hold: write on connection %ld: %s\n", held + 1,
				strerror(errno));
			held++;
			goto cleanup;
		}
	}
	printf("holding %ld connections to 127.0.0.1:%u\n", held, ntohs(addr.sin_port));
	fflush(stdout);
	/* until the caller is done measuring: EOF (or anything) on stdin */
	while ((rc = poll(&in, 1, seconds * 1000)) < 0 && errno == EINTR)
		;
	err = 0;

cleanup:
	while (held > 0)
		close(fds[--held]);
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	if (lfd >= 0)
		close(lfd);
	free(fds);
	return err;
}
