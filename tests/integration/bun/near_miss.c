// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A near-miss for BoringSSL discovery (bun_cases.py boringssl_near_miss):
 * no TLS at all, but BoringSSL's ssl_lib.cc file name and an
 * ERR_put_error-like function that code calls the way OPENSSL_PUT_ERROR
 * does, with (ERR_LIB_SSL = 16, 0, reason, file, line). fake_read_impl and
 * fake_read match the ssl_read_impl and SSL_read rules; fake_write reports
 * SSL_write's reasons but one (SSL_R_BAD_LENGTH, 111), so no function
 * matches SSL_write and discovery must decline the whole file. `near_miss
 * run` calls everything and exits 0: it must run unharmed under spanprobe.
 */
#include <stdio.h>
#include <string.h>

static const char file[] = "../../vendor/boringssl/ssl/ssl_lib.cc";
static volatile int sink;

__attribute__((noinline)) void err_put(int lib, int unused, int reason, const char *f, int line)
{
	sink += lib + unused + reason + (int)strlen(f) + line;
}

__attribute__((noinline)) int fake_write(void *ssl, const void *buf, int num)
{
	if (!ssl) {
		err_put(16, 0, 66, file, 950);
		return -1;
	}
	if (!buf) {
		err_put(16, 0, 226, file, 960);
		return -1;
	}
	if (num == 7) {
		err_put(16, 0, 215, file, 975);
		return -1;
	}
	return num;
}

__attribute__((noinline)) int fake_read_impl(void *ssl)
{
	if (!ssl) {
		err_put(16, 0, 226, file, 842);
		return -1;
	}
	if (sink == 12345) {
		err_put(16, 0, 215, file, 875);
		return -1;
	}
	return 1;
}

__attribute__((noinline)) int fake_read(void *ssl, void *buf, int num)
{
	if (sink == 54321) {
		err_put(16, 0, 66, file, 934);
		return -1;
	}
	if (fake_read_impl(ssl) <= 0)
		return -1;
	memset(buf, 'x', (size_t)num);
	return num;
}

int main(int argc, char **argv)
{
	char buf[16];
	int x = 1;

	if (argc < 2 || strcmp(argv[1], "run"))
		return 2;
	/* once before spanprobe has looked at this binary and once after:
	 * the test holds stdin open until the decline is logged, so a loaded
	 * machine's slow discovery thread cannot miss the process */
	for (int round = 0; round < 2; round++) {
		if (fake_write(&x, "hi", 2) != 2 || fake_write(NULL, "hi", 2) != -1 ||
		    fake_write(&x, NULL, 2) != -1 || fake_write(&x, "hi", 7) != -1 ||
		    fake_read(&x, buf, (int)sizeof(buf)) != (int)sizeof(buf) ||
		    fake_read(NULL, buf, 1) != -1)
			return 1;
		while (round == 0 && fgets(buf, sizeof(buf), stdin))
			;
	}
	puts("near_miss ran");
	return 0;
}
