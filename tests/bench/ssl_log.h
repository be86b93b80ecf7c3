/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What tls_client and tls_server say when an OpenSSL call fails: the call,
 * and OpenSSL's reason when it left one (needs _GNU_SOURCE, for the
 * program's name).
 */
#ifndef BENCH_SSL_LOG_H
#define BENCH_SSL_LOG_H

#include <errno.h>
#include <stdio.h>
#include <openssl/err.h>

static inline void log_ssl_error(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	if (!e) {
		fprintf(stderr, "%s: %s failed\n", program_invocation_short_name, what);
		return;
	}
	ERR_error_string_n(e, buf, sizeof(buf));
	fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what, buf);
	ERR_clear_error();
}

#endif /* BENCH_SSL_LOG_H */
