// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tls_server: the benchmark's HTTPS/1.1 keep-alive server.
 *
 *   tls_server [-p PORT] CERT KEY
 *
 * Listens on 127.0.0.1 (PORT 0 or none: an ephemeral port) and prints the
 * port on stdout. Each connection gets a thread that loops over requests:
 * SSL_read, parse with http_parser, answer every GET with the same small 200
 * response in one SSL_write. The exported SSL_read/SSL_write are called on
 * purpose: they are what spanprobe and the floor attach to, so one request
 * costs this process exactly one SSL_read hit and one SSL_write hit.
 */
#define _GNU_SOURCE	/* accept4; program_invocation_short_name, in ssl_log.h */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>
#include <http_parser.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include "ssl_log.h"

/* The benchmark uses one connection at a time; the cap only keeps a stray
 * client loop from growing threads without bound. */
#define MAX_CONNS	64

static const char resp_ok[] =
	"HTTP/1.1 200 OK\r\n"
	"Content-Type: text/plain\r\n"
	"Content-Length: 13\r\n"
	"\r\n"
	"hello, bench\n";

static const char resp_bad_method[] =
	"HTTP/1.1 405 Method Not Allowed\r\n"
	"Allow: GET\r\n"
	"Content-Length: 0\r\n"
	"\r\n";

static int n_conns;	/* guarded by conns_lock */
static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;

struct conn {
	SSL *ssl;
	int fd;
	bool closing;	/* the client asked for Connection: close */
};

static int on_message_complete(http_parser *p)
{
	struct conn *c = p->data;
	const char *resp = p->method == HTTP_GET ? resp_ok : resp_bad_method;
	int len = p->method == HTTP_GET ? (int)sizeof(resp_ok) - 1
					: (int)sizeof(resp_bad_method) - 1;

	/* SSL_MODE_AUTO_RETRY and a blocking socket: one call writes it all */
	if (SSL_write(c->ssl, resp, len) != len) {
		log_ssl_error("SSL_write");
		return -1;
	}
	if (!http_should_keep_alive(p))
		c->closing = true;
	return 0;
}

static void *conn_thread(void *arg)
{
	static const http_parser_settings settings = {
		.on_message_complete = on_message_complete,
	};
	struct conn *c = arg;
	http_parser parser;
	char buf[16384];
	int n;

	if (SSL_accept(c->ssl) != 1) {
		log_ssl_error("SSL_accept");
		goto cleanup;
	}
	http_parser_init(&parser, HTTP_REQUEST);
	parser.data = c;
	while (!c->closing) {
		n = SSL_read(c->ssl, buf, sizeof(buf));
		if (n <= 0) {
			int e = SSL_get_error(c->ssl, n);

			/* a client that just closes the TCP connection is normal here */
			if (e != SSL_ERROR_ZERO_RETURN && e != SSL_ERROR_SYSCALL)
				log_ssl_error("SSL_read");
			break;
		}
		if (http_parser_execute(&parser, &settings, buf, n) != (size_t)n ||
		    HTTP_PARSER_ERRNO(&parser) != HPE_OK) {
			fprintf(stderr, "tls_server: bad request: %s\n",
				http_errno_description(HTTP_PARSER_ERRNO(&parser)));
			break;
		}
	}
	SSL_shutdown(c->ssl);
cleanup:
	SSL_free(c->ssl);
	close(c->fd);
	free(c);
	pthread_mutex_lock(&conns_lock);
	n_conns--;
	pthread_mutex_unlock(&conns_lock);
	return NULL;
}

static int start_conn(SSL_CTX *ctx, int fd)
{
	struct conn *c = NULL;
	pthread_t tid;
	int one = 1, err;

	pthread_mutex_lock(&conns_lock);
	if (n_conns >= MAX_CONNS) {
		pthread_mutex_unlock(&conns_lock);
		fprintf(stderr, "tls_server: %d connections open, refusing one\n", MAX_CONNS);
		close(fd);
		return -EBUSY;
	}
	n_conns++;
	pthread_mutex_unlock(&conns_lock);

	/* one small record each way per request: Nagle would only add delay */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = calloc(1, sizeof(*c));
	if (!c) {
		err = -ENOMEM;
		goto err_out;
	}
	c->fd = fd;
	c->ssl = SSL_new(ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
		log_ssl_error("SSL_new");
		err = -ENOMEM;
		goto err_out;
	}
	err = -pthread_create(&tid, NULL, conn_thread, c);
	if (err) {
		fprintf(stderr, "tls_server: cannot start a thread: %s\n", strerror(-err));
		goto err_out;
	}
	pthread_detach(tid);
	return 0;

err_out:
	if (c)
		SSL_free(c->ssl);
	free(c);
	close(fd);
	pthread_mutex_lock(&conns_lock);
	n_conns--;
	pthread_mutex_unlock(&conns_lock);
	return err;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: tls_server [-p PORT] CERT KEY\n"
		   "  Serves HTTPS/1.1 on 127.0.0.1:PORT (default: ephemeral) and prints\n"
		   "  the port on stdout.\n");
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t addr_len = sizeof(addr);
	const char *cert, *key;
	SSL_CTX *ctx = NULL;
	int lfd = -1, fd, opt, port = 0, one = 1, err = 0;

	while ((opt = getopt(argc, argv, "p:h")) != -1) {
		switch (opt) {
		case 'p':
			port = atoi(optarg);
			if (port < 0 || port > 65535) {
				fprintf(stderr, "tls_server: bad port %s\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	cert = argv[optind];
	key = argv[optind + 1];

	/* a client gone mid-write must not kill the server */
	signal(SIGPIPE, SIG_IGN);

	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		log_ssl_error("SSL_CTX_new");
		err = -ENOMEM;
		goto cleanup;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		log_ssl_error(cert);
		err = -EINVAL;
		goto cleanup;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		log_ssl_error(key);
		err = -EINVAL;
		goto cleanup;
	}

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0) {
		err = -errno;
		fprintf(stderr, "tls_server: socket: %s\n", strerror(-err));
		goto cleanup;
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = htons(port);
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 16) ||
	    getsockname(lfd, (struct sockaddr *)&addr, &addr_len)) {
		err = -errno;
		fprintf(stderr, "tls_server: cannot listen on 127.0.0.1:%d: %s\n", port,
			strerror(-err));
		goto cleanup;
	}
	printf("%d\n", ntohs(addr.sin_port));
	fflush(stdout);

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			err = -errno;
			fprintf(stderr, "tls_server: accept: %s\n", strerror(-err));
			goto cleanup;
		}
		start_conn(ctx, fd);
	}

cleanup:
	if (lfd >= 0)
		close(lfd);
	SSL_CTX_free(ctx);
	return err ? 1 : 0;
}
