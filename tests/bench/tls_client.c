// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tls_client: the benchmark's HTTPS/1.1 keep-alive load.
 *
 *   tls_client HOST PORT N
 *
 * One connection, then N sequential requests (N = 1: no warm-up, a process
 * that makes one HTTPS call and exits, as mem.sh runs it): each is one SSL_write of the
 * request and SSL_read until http_parser has the whole response (framed by
 * its Content-Length). The handshake and a short warm-up are not timed.
 * Prints one line on stdout:
 *   requests=N seconds=S req/s=R us/request=U
 * Requests are sequential so that the time per request is a latency: any
 * cost a probe adds on either side of the connection shows up in it in full.
 */
#define _GNU_SOURCE	/* program_invocation_short_name, in ssl_log.h */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <http_parser.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include "ssl_log.h"

/* Enough to get the session, the allocator and the page cache warm without
 * eating into a short run. */
#define WARMUP_MAX	1000
/* A request takes microseconds over loopback: a server that stalls this long
 * has failed, and the run (or mem.sh's loop of one-request clients) must not
 * wait on it forever. */
#define IO_TIMEOUT_S	10

struct resp_state {
	bool complete;
	unsigned int status;
};

static int on_message_complete(http_parser *p)
{
	struct resp_state *st = p->data;

	st->complete = true;
	st->status = p->status_code;
	/* stop here: a byte past the response would be a framing bug to report */
	http_parser_pause(p, 1);
	return 0;
}

static int connect_tcp(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *ai;
	struct timeval io_timeout = { .tv_sec = IO_TIMEOUT_S };
	int fd = -1, one = 1, rc;

	rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		fprintf(stderr, "tls_client: cannot resolve %s:%s: %s\n", host, port,
			gai_strerror(rc));
		return -EINVAL;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		/* SO_SNDTIMEO bounds connect() too */
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &io_timeout, sizeof(io_timeout));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &io_timeout, sizeof(io_timeout));
		if (!connect(fd, ai->ai_addr, ai->ai_addrlen))
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		rc = -errno;
		fprintf(stderr, "tls_client: cannot connect to %s:%s: %s (is tls_server running?)\n",
			host, port, strerror(-rc));
	} else {
		/* one small record each way per request: Nagle would only add delay */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		rc = fd;
	}
	freeaddrinfo(res);
	return rc;
}

/* One request/response exchange: 0 or -errno. */
static int do_request(SSL *ssl, const char *req, int req_len)
{
	static const http_parser_settings settings = {
		.on_message_complete = on_message_complete,
	};
	struct resp_state st = {};
	http_parser parser;
	char buf[16384];
	size_t used;
	int n;

	if (SSL_write(ssl, req, req_len) != req_len) {
		log_ssl_error("SSL_write");
		return -EIO;
	}
	http_parser_init(&parser, HTTP_RESPONSE);
	parser.data = &st;
	while (!st.complete) {
		n = SSL_read(ssl, buf, sizeof(buf));
		if (n <= 0) {
			log_ssl_error("SSL_read (server closed the connection?)");
			return -EIO;
		}
		used = http_parser_execute(&parser, &settings, buf, n);
		if (HTTP_PARSER_ERRNO(&parser) != HPE_OK &&
		    HTTP_PARSER_ERRNO(&parser) != HPE_PAUSED) {
			fprintf(stderr, "tls_client: bad response: %s\n",
				http_errno_description(HTTP_PARSER_ERRNO(&parser)));
			return -EPROTO;
		}
		if (used != (size_t)n) {
			fprintf(stderr, "tls_client: %d unexpected bytes after a response\n",
				n - (int)used);
			return -EPROTO;
		}
	}
	if (st.status != 200) {
		fprintf(stderr, "tls_client: server answered %u, not 200\n", st.status);
		return -EPROTO;
	}
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *host, *port;
	char req[512], *end;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	long i, n, warmup;
	int fd = -1, req_len, err = 0;
	double t0, secs;

	if (argc != 4) {
		fprintf(stderr, "usage: tls_client HOST PORT N\n"
				"  N sequential GET requests over one HTTPS keep-alive connection\n");
		return 2;
	}
	host = argv[1];
	port = argv[2];
	n = strtol(argv[3], &end, 10);
	if (*end || n <= 0) {
		fprintf(stderr, "tls_client: N must be a positive number, not %s\n", argv[3]);
		return 2;
	}
	warmup = n / 20 < WARMUP_MAX ? n / 20 : WARMUP_MAX;

	req_len = snprintf(req, sizeof(req),
			   "GET /bench HTTP/1.1\r\n"
			   "Host: %s:%s\r\n"
			   "User-Agent: spanprobe-bench/1\r\n"
			   "Accept: */*\r\n"
			   "\r\n", host, port);
	if (req_len < 0 || req_len >= (int)sizeof(req)) {
		fprintf(stderr, "tls_client: host name too long: %s\n", host);
		return 2;
	}

	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		log_ssl_error("SSL_CTX_new");
		err = -ENOMEM;
		goto cleanup;
	}
	/* The benchmark's certificate is self-signed and made per run; what is
	 * measured is the data path, not the verification. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);

	fd = connect_tcp(host, port);
	if (fd < 0) {
		err = fd;
		goto cleanup;
	}
	ssl = SSL_new(ctx);
	if (!ssl || SSL_set_fd(ssl, fd) != 1) {
		log_ssl_error("SSL_new");
		err = -ENOMEM;
		goto cleanup;
	}
	SSL_set_tlsext_host_name(ssl, host);
	if (SSL_connect(ssl) != 1) {
		log_ssl_error("SSL_connect");
		err = -EPROTO;
		goto cleanup;
	}

	for (i = 0; i < warmup; i++) {
		err = do_request(ssl, req, req_len);
		if (err)
			goto cleanup;
	}
	t0 = now_s();
	for (i = 0; i < n; i++) {
		err = do_request(ssl, req, req_len);
		if (err)
			goto cleanup;
	}
	secs = now_s() - t0;
	printf("requests=%ld seconds=%.6f req/s=%.1f us/request=%.3f\n", n, secs, n / secs,
	       secs * 1e6 / n);
	SSL_shutdown(ssl);

cleanup:
	SSL_free(ssl);
	if (fd >= 0)
		close(fd);
	SSL_CTX_free(ctx);
	return err ? 1 : 0;
}
