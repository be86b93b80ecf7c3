// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The recording format: what is written is read back; damage is named. */
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "capture/record.h"
#include "util/ofile.h"

static char dir[64];
static char path[128];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/sp-test-record-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/rec", dir);
	return 0;
}

static int teardown(void **state)
{
	char p[160];

	unlink(path);
	snprintf(p, sizeof(p), "%s/link", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/target", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/fifo", dir);
	unlink(p);
	return rmdir(dir);
}

static const struct sp_rec_info info = {
	.flags = SP_REC_F_ALL,
	.clock_offset = 1764643200123456789ll,
	.start_ns = 987654321,
	.max_procs = 16384,
	.max_streams = 4096,
	.version = "9.8.7",
	.host = "host-with-a-name",
};

/* Three frames: a ring record, a /proc answer, a tick. */
static void write_three(size_t ring_len)
{
	struct sp_rec_writer *w;
	uint8_t *ring = malloc(ring_len);

	assert_non_null(ring);
	for (size_t i = 0; i < ring_len; i++)
		ring[i] = (uint8_t)(i * 7);
	assert_int_equal(sp_rec_writer__open(&w, path, &info), 0);
	assert_int_equal(sp_rec_writer__frame(w, SP_REC_RING, 111, ring, ring_len), 0);
	assert_int_equal(sp_rec_writer__proc(w, 42, "cmdline", "curl\0-s\0", 8), 0);
	assert_int_equal(sp_rec_writer__frame(w, SP_REC_TICK, 333, NULL, 0), 0);
	assert_int_equal(sp_rec_writer__frames(w), 3);
	assert_int_equal(sp_rec_writer__bytes(w),
			 SP_REC_HEADER_LEN + 3 * SP_REC_FRAME_HDR + ring_len + 8 + 7 + 8);
	assert_int_equal(sp_rec_writer__close(w), 0);
	free(ring);
}

static off_t file_size(void)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static void test_roundtrip(void **state)
{
	struct sp_rec_reader *r;
	struct sp_rec_info got;
	struct sp_rec_frame f;
	const char *what;
	const void *data;
	size_t wl, len, big = 200000;	/* larger than any stdio buffer */
	uint32_t pid;
	struct stat st;

	write_three(big);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, SP_REC_HEADER_LEN + 3 * SP_REC_FRAME_HDR + big + 8 + 7 + 8);

	assert_int_equal(sp_rec_reader__open(&r, path, &got), 0);
	assert_int_equal(got.flags, info.flags);
	assert_true(got.clock_offset == info.clock_offset);
	assert_int_equal(got.start_ns, info.start_ns);
	assert_int_equal(got.max_procs, info.max_procs);
	assert_int_equal(got.max_streams, info.max_streams);
	assert_string_equal(got.version, "9.8.7");
	assert_string_equal(got.host, "host-with-a-name");

	assert_int_equal(sp_rec_reader__next(r, &f), 1);
	assert_int_equal(f.kind, SP_REC_RING);
	assert_int_equal(f.ts, 111);
	assert_int_equal(f.len, big);
	assert_int_equal(f.offset, SP_REC_HEADER_LEN);
	assert_int_equal((uintptr_t)f.data % 8, 0);	/* records are read as structs */
	for (size_t i = 0; i < big; i++)
		if (((const uint8_t *)f.data)[i] != (uint8_t)(i * 7))
			fail_msg("ring byte %zu differs", i);

	assert_int_equal(sp_rec_reader__next(r, &f), 1);
	assert_int_equal(f.kind, SP_REC_PROC);
	assert_int_equal(sp_rec_proc_parse(&f, &pid, &what, &wl, &data, &len), 0);
	assert_int_equal(pid, 42);
	assert_int_equal(wl, 7);
	assert_memory_equal(what, "cmdline", 7);
	assert_int_equal(len, 8);
	assert_memory_equal(data, "curl\0-s\0", 8);

	assert_int_equal(sp_rec_reader__next(r, &f), 1);
	assert_int_equal(f.kind, SP_REC_TICK);
	assert_int_equal(f.ts, 333);
	assert_int_equal(f.len, 0);
	assert_int_equal(sp_rec_proc_parse(&f, &pid, &what, &wl, &data, &len), -EBADMSG);

	assert_int_equal(sp_rec_reader__next(r, &f), 0);
	assert_false(sp_rec_reader__truncated(r));
	assert_int_equal(sp_rec_reader__frames(r), 3);
	sp_rec_reader__free(r);
}

/* Every cut inside the last frame: two frames, then a clean, counted stop. */
static void test_truncated(void **state)
{
	struct sp_rec_reader *r;
	struct sp_rec_info got;
	struct sp_rec_frame f;
	off_t whole, last;

	write_three(100);
	whole = file_size();
	last = whole - SP_REC_FRAME_HDR;	/* the tick: a header only */
	for (off_t cut = last; cut <= whole; cut++) {
		uint64_t want = cut == whole ? 3 : 2;

		write_three(100);
		assert_int_equal(truncate(path, cut), 0);
		assert_int_equal(sp_rec_reader__open(&r, path, &got), 0);
		for (uint64_t i = 0; i < want; i++)
			assert_int_equal(sp_rec_reader__next(r, &f), 1);
		assert_int_equal(sp_rec_reader__next(r, &f), 0);
		/* at a frame boundary the file is whole, only shorter */
		assert_int_equal(sp_rec_reader__truncated(r), cut > last && cut < whole);
		assert_int_equal(sp_rec_reader__frames(r), want);
		/* and it stays stopped */
		assert_int_equal(sp_rec_reader__next(r, &f), 0);
		sp_rec_reader__free(r);
	}
	/* a cut inside the /proc frame's payload */
	write_three(100);
	assert_int_equal(truncate(path, last - 1), 0);
	assert_int_equal(sp_rec_reader__open(&r, path, &got), 0);
	assert_int_equal(sp_rec_reader__next(r, &f), 1);
	assert_int_equal(sp_rec_reader__next(r, &f), 0);
	assert_true(sp_rec_reader__truncated(r));
	assert_int_equal(sp_rec_reader__frames(r), 1);
	sp_rec_reader__free(r);
	/* a cut inside the ring record's payload */
	write_three(100);
	assert_int_equal(truncate(path, SP_REC_HEADER_LEN + SP_REC_FRAME_HDR + 50), 0);
	assert_int_equal(sp_rec_reader__open(&r, path, &got), 0);
	assert_int_equal(sp_rec_reader__next(r, &f), 0);
	assert_true(sp_rec_reader__truncated(r));
	assert_int_equal(sp_rec_reader__frames(r), 0);
	sp_rec_reader__free(r);
}

static void patch(off_t off, const void *v, size_t n)
{
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, v, n, off), (ssize_t)n);
	close(fd);
}

static void test_bad_magic(void **state)
{
	struct sp_rec_reader *r = (void *)1;
	struct sp_rec_info got;

	write_three(10);
	patch(0, "SPANREX", 7);
	assert_int_equal(sp_rec_reader__open(&r, path, &got), -EINVAL);
	assert_null(r);

	/* an empty file, and one cut inside the header */
	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(sp_rec_reader__open(&r, path, &got), -EINVAL);
	write_three(10);
	assert_int_equal(truncate(path, SP_REC_HEADER_LEN - 1), 0);
	assert_int_equal(sp_rec_reader__open(&r, path, &got), -EINVAL);

	snprintf(path + strlen(path), 8, ".none");
	assert_int_equal(sp_rec_reader__open(&r, path, &got), -ENOENT);
	path[strlen(path) - 5] = 0;
}

static void test_versions(void **state)
{
	struct sp_rec_reader *r;
	struct sp_rec_info got;
	struct sp_rec_frame f;
	uint16_t v2 = SP_REC_VERSION + 1, swapped = SP_REC_VERSION << 8, hlen;
	uint8_t *buf;
	off_t n;
	FILE *fp;

	write_three(10);
	patch(8, &v2, 2);
	assert_int_equal(sp_rec_reader__open(&r, path, &got), -EPROTONOSUPPORT);
	write_three(10);
	patch(8, &swapped, 2);
	assert_int_equal(sp_rec_reader__open(&r, path, &got), -EPROTONOSUPPORT);

	/* a longer header (a later revision's fields) is skipped */
	write_three(10);
	n = file_size();
	buf = malloc(n + 24);
	fp = fopen(path, "rb");
	assert_int_equal(fread(buf, 1, n, fp), (size_t)n);
	fclose(fp);
	memmove(buf + SP_REC_HEADER_LEN + 24, buf + SP_REC_HEADER_LEN, n - SP_REC_HEADER_LEN);
	memset(buf + SP_REC_HEADER_LEN, 0xee, 24);
	hlen = SP_REC_HEADER_LEN + 24;
	memcpy(buf + 10, &hlen, 2);
	fp = fopen(path, "wb");
	assert_int_equal(fwrite(buf, 1, n + 24, fp), (size_t)n + 24);
	fclose(fp);
	free(buf);
	assert_int_equal(sp_rec_reader__open(&r, path, &got), 0);
	assert_int_equal(sp_rec_reader__next(r, &f), 1);
	assert_int_equal(f.kind, SP_REC_RING);
	assert_int_equal(f.offset, hlen);
	assert_int_equal(sp_rec_reader__next(r, &f), 1);
	assert_int_equal(sp_rec_reader__next(r, &f), 1);
	assert_int_equal(sp_rec_reader__next(r, &f), 0);
	assert_false(sp_rec_reader__truncated(r));
	sp_rec_reader__free(r);

	/* a header_len under v1's is damage */
	write_three(10);
	hlen = SP_REC_HEADER_LEN - 8;
	patch(10, &hlen, 2);
	assert_int_equal(sp_rec_reader__open(&r, path, &got), -EINVAL);
}

static void test_oversized_frame(void **state)
{
	struct sp_rec_reader *r;
	struct sp_rec_writer *w;
	struct sp_rec_info got;
	struct sp_rec_frame f;
	uint32_t huge = SP_REC_MAX_PAYLOAD + 1;

	write_three(10);
	patch(SP_REC_HEADER_LEN, &huge, 4);
	assert_int_equal(sp_rec_reader__open(&r, path, &got), 0);
	assert_int_equal(sp_rec_reader__next(r, &f), -EBADMSG);
	sp_rec_reader__free(r);

	/* the writer never makes one */
	assert_int_equal(sp_rec_writer__open(&w, path, &info), 0);
	assert_int_equal(sp_rec_writer__frame2(w, SP_REC_RING, 1, path, SP_REC_MAX_PAYLOAD, path,
					       1), -EFBIG);
	assert_int_equal(sp_rec_writer__frame(w, SP_REC_TICK, 1, NULL, 0), -EFBIG);
	assert_int_equal(sp_rec_writer__close(w), -EFBIG);
}

static void test_private_file(void **state)
{
	char link[160], target[160];
	struct stat st;
	int fd, reader;

	snprintf(target, sizeof(target), "%s/target", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	fd = open(target, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "old", 3), 3);
	close(fd);
	assert_int_equal(chmod(target, 0644), 0);
	assert_int_equal(symlink(target, link), 0);

	/* never through a symlink */
	assert_int_equal(sp_open_private(link), -ELOOP);
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(st.st_size, 3);

	/* an existing file is truncated and made owner-only */
	fd = sp_open_private(target);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);

	/* a device or FIFO (-o /dev/null, -o /dev/stdout) keeps its mode:
	 * making /dev/null 0600 as root would break every other user */
	snprintf(target, sizeof(target), "%s/fifo", dir);
	assert_int_equal(mkfifo(target, 0644), 0);
	assert_int_equal(chmod(target, 0644), 0);
	reader = open(target, O_RDWR | O_NONBLOCK);	/* so the open does not block */
	assert_true(reader >= 0);
	fd = sp_open_private(target);
	assert_true(fd >= 0);
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	close(fd);
	close(reader);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_bad_magic),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_oversized_frame),
		cmocka_unit_test(test_private_file),
	};

	return cmocka_run_group_tests_name("record", tests, setup, teardown);
}
