// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The recording format of record.h: one writer, one reader. */
#include <byteswap.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "capture/record.h"
#include "util/log.h"
#include "util/ofile.h"

/* big enough that a busy run makes a few write(2)s a second, not thousands */
#define WRITE_BUF	(1u << 20)

struct sp_rec_writer {
	FILE *f;
	int err;
	uint64_t frames;
	uint64_t bytes;
	char path[256];
};

struct sp_rec_reader {
	FILE *f;
	void *buf;		/* the current payload; malloc keeps it aligned */
	size_t cap;
	uint64_t offset;
	uint64_t frames;
	bool truncated;
	char path[256];
};

static void put(uint8_t *h, size_t off, const void *v, size_t n)
{
	memcpy(h + off, v, n);
}

static void get(const uint8_t *h, size_t off, void *v, size_t n)
{
	memcpy(v, h + off, n);
}

static void encode_header(uint8_t h[SP_REC_HEADER_LEN], const struct sp_rec_info *info)
{
	uint16_t version = SP_REC_VERSION, len = SP_REC_HEADER_LEN;

	memset(h, 0, SP_REC_HEADER_LEN);
	put(h, 0, SP_REC_MAGIC, sizeof(SP_REC_MAGIC));
	put(h, 8, &version, 2);
	put(h, 10, &len, 2);
	put(h, 12, &info->flags, 4);
	put(h, 16, &info->clock_offset, 8);
	put(h, 24, &info->start_ns, 8);
	put(h, 32, &info->max_procs, 4);
	put(h, 36, &info->max_streams, 4);
	/* the header is zeroed: the copies stay NUL-padded */
	memcpy(h + 40, info->version, strnlen(info->version, sizeof(info->version) - 1));
	memcpy(h + 72, info->host, strnlen(info->host, sizeof(info->host) - 1));
}

static void writer_fail(struct sp_rec_writer *w, int err)
{
	if (!w->err)
		sp_err("cannot write the recording %s: %s (recording stops here)", w->path,
		       strerror(-err));
	w->err = err;
}

int sp_rec_writer__open(struct sp_rec_writer **out, const char *path,
			const struct sp_rec_info *info)
{
	uint8_t h[SP_REC_HEADER_LEN];
	struct sp_rec_writer *w;
	int fd, err;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	snprintf(w->path, sizeof(w->path), "%s", path);
	fd = sp_open_private(path);
	if (fd < 0) {
		err = fd;
		sp_err("cannot create the recording %s: %s", path, strerror(-err));
		goto err_out;
	}
	w->f = fdopen(fd, "w");
	if (!w->f) {
		err = -errno;
		close(fd);
		goto err_out;
	}
	if (setvbuf(w->f, NULL, _IOFBF, WRITE_BUF)) {
		err = -ENOMEM;
		goto err_out;
	}
	encode_header(h, info);
	if (fwrite(h, 1, sizeof(h), w->f) != sizeof(h)) {
		err = -errno;
		sp_err("cannot write the recording %s: %s", path, strerror(-err));
		goto err_out;
	}
	w->bytes = sizeof(h);
	*out = w;
	return 0;
err_out:
	sp_rec_writer__close(w);
	return err;
}

int sp_rec_writer__frame2(struct sp_rec_writer *w, uint16_t kind, uint64_t ts,
			  const void *a, uint32_t alen, const void *b, uint32_t blen)
{
	uint8_t hdr[SP_REC_FRAME_HDR];
	uint32_t len = alen + blen;
	uint16_t flags = 0;

	if (w->err)
		return w->err;
	if ((uint64_t)alen + blen > SP_REC_MAX_PAYLOAD) {
		/* never write a frame the reader would reject */
		writer_fail(w, -EFBIG);
		return w->err;
	}
	put(hdr, 0, &len, 4);
	put(hdr, 4, &kind, 2);
	put(hdr, 6, &flags, 2);
	put(hdr, 8, &ts, 8);
	errno = 0;
	if (fwrite(hdr, 1, sizeof(hdr), w->f) != sizeof(hdr) ||
	    (alen && fwrite(a, 1, alen, w->f) != alen) ||
	    (blen && fwrite(b, 1, blen, w->f) != blen)) {
		writer_fail(w, errno ? -errno : -EIO);
		return w->err;
	}
	w->frames++;
	w->bytes += sizeof(hdr) + len;
	return 0;
}

int sp_rec_writer__proc(struct sp_rec_writer *w, uint32_t pid, const char *what,
			const void *data, size_t len)
{
	size_t wl = strlen(what);
	struct sp_rec_proc p = { .pid = pid, .what_len = (uint16_t)wl };
	uint8_t head[sizeof(p) + 64];

	if (wl > 64 || len > SP_REC_MAX_PAYLOAD - sizeof(head))
		return -EINVAL;
	memcpy(head, &p, sizeof(p));
	memcpy(head + sizeof(p), what, wl);
	return sp_rec_writer__frame2(w, SP_REC_PROC, 0, head, sizeof(p) + wl, data, len);
}

int sp_rec_writer__flush(struct sp_rec_writer *w)
{
	if (w->err)
		return w->err;
	if (fflush(w->f))
		writer_fail(w, -errno);
	return w->err;
}

uint64_t sp_rec_writer__frames(const struct sp_rec_writer *w)
{
	return w->frames;
}

uint64_t sp_rec_writer__bytes(const struct sp_rec_writer *w)
{
	return w->bytes;
}

int sp_rec_writer__close(struct sp_rec_writer *w)
{
	int err;

	if (!w)
		return 0;
	if (w->f) {
		if (!w->err)
			sp_rec_writer__flush(w);
		if (fclose(w->f) && !w->err)
			writer_fail(w, -errno);
	}
	err = w->err;
	free(w);
	return err;
}

int sp_rec_reader__open(struct sp_rec_reader **out, const char *path, struct sp_rec_info *info)
{
	uint8_t h[SP_REC_HEADER_LEN];
	struct sp_rec_reader *r;
	uint16_t version, hlen;
	size_t n;
	int err;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	snprintf(r->path, sizeof(r->path), "%s", path);
	r->f = fopen(path, "rbe");
	if (!r->f) {
		err = -errno;
		sp_err("cannot open the recording %s: %s", path, strerror(-err));
		goto err_out;
	}
	n = fread(h, 1, sizeof(h), r->f);
	if (n < 8 || memcmp(h, SP_REC_MAGIC, sizeof(SP_REC_MAGIC))) {
		err = -EINVAL;
		sp_err("%s is not a spanprobe recording (made by spanprobe record FILE)", path);
		goto err_out;
	}
	if (n < 12) {
		err = -EINVAL;
		sp_err("the recording %s ends inside its header", path);
		goto err_out;
	}
	get(h, 8, &version, 2);
	get(h, 10, &hlen, 2);
	if (version != SP_REC_VERSION && bswap_16(version) == SP_REC_VERSION) {
		err = -EPROTONOSUPPORT;
		sp_err("the recording %s was made on a host of the other byte order; "
		       "replay it on one like it", path);
		goto err_out;
	}
	if (version != SP_REC_VERSION) {
		err = -EPROTONOSUPPORT;
		sp_err("the recording %s has format version %u; this spanprobe (%s) reads "
		       "version %u only: replay it with the spanprobe that made it", path,
		       version, SPANPROBE_VERSION, SP_REC_VERSION);
		goto err_out;
	}
	if (hlen < SP_REC_HEADER_LEN) {
		err = -EINVAL;
		sp_err("the recording %s has a damaged header (length %u, under %u)", path, hlen,
		       SP_REC_HEADER_LEN);
		goto err_out;
	}
	if (n < SP_REC_HEADER_LEN) {
		err = -EINVAL;
		sp_err("the recording %s ends inside its header (%zu of %u bytes)", path, n, hlen);
		goto err_out;
	}
	memset(info, 0, sizeof(*info));
	get(h, 12, &info->flags, 4);
	get(h, 16, &info->clock_offset, 8);
	get(h, 24, &info->start_ns, 8);
	get(h, 32, &info->max_procs, 4);
	get(h, 36, &info->max_streams, 4);
	memcpy(info->version, h + 40, sizeof(info->version) - 1);
	memcpy(info->host, h + 72, sizeof(info->host) - 1);
	/* a later minor revision may add header fields: skip them */
	if (hlen > SP_REC_HEADER_LEN && fseek(r->f, hlen, SEEK_SET)) {
		err = -errno;
		goto err_out;
	}
	r->offset = hlen;
	*out = r;
	return 0;
err_out:
	sp_rec_reader__free(r);
	return err;
}

int sp_rec_reader__next(struct sp_rec_reader *r, struct sp_rec_frame *f)
{
	uint8_t hdr[SP_REC_FRAME_HDR];
	size_t n;

	n = fread(hdr, 1, sizeof(hdr), r->f);
	if (n < sizeof(hdr)) {
		if (ferror(r->f))
			return -EIO;
		r->truncated = n > 0;
		return 0;
	}
	memset(f, 0, sizeof(*f));
	get(hdr, 0, &f->len, 4);
	get(hdr, 4, &f->kind, 2);
	get(hdr, 6, &f->flags, 2);
	get(hdr, 8, &f->ts, 8);
	f->offset = r->offset;
	if (f->len > SP_REC_MAX_PAYLOAD) {
		sp_err("the recording %s is damaged: frame %" PRIu64 " at offset %" PRIu64
		       " claims %u bytes", r->path, r->frames + 1, r->offset, f->len);
		return -EBADMSG;
	}
	if (f->len > r->cap) {
		size_t cap = f->len < 4096 ? 4096 : f->len;
		void *b = realloc(r->buf, cap);

		if (!b)
			return -ENOMEM;
		r->buf = b;
		r->cap = cap;
	}
	if (f->len && fread(r->buf, 1, f->len, r->f) != f->len) {
		if (ferror(r->f))
			return -EIO;
		r->truncated = true;
		return 0;
	}
	f->data = r->buf;
	r->offset += sizeof(hdr) + f->len;
	r->frames++;
	return 1;
}

bool sp_rec_reader__truncated(const struct sp_rec_reader *r)
{
	return r->truncated;
}

uint64_t sp_rec_reader__frames(const struct sp_rec_reader *r)
{
	return r->frames;
}

void sp_rec_reader__free(struct sp_rec_reader *r)
{
	if (!r)
		return;
	if (r->f)
		fclose(r->f);
	free(r->buf);
	free(r);
}

int sp_rec_proc_parse(const struct sp_rec_frame *f, uint32_t *pid, const char **what,
		      size_t *what_len, const void **data, size_t *len)
{
	struct sp_rec_proc p;

	if (f->kind != SP_REC_PROC || f->len < sizeof(p))
		return -EBADMSG;
	memcpy(&p, f->data, sizeof(p));
	if (f->len - sizeof(p) < p.what_len)
		return -EBADMSG;
	*pid = p.pid;
	*what = (const char *)f->data + sizeof(p);
	*what_len = p.what_len;
	*data = (const char *)f->data + sizeof(p) + p.what_len;
	*len = f->len - sizeof(p) - p.what_len;
	return 0;
}
