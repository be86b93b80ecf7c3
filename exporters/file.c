// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* OTLP/JSON lines: one ExportTraceServiceRequest per line, per batch. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "exporter.h"
#include "util/log.h"
#include "util/ofile.h"
#include "otlp_json.h"

struct file_sink {
	FILE *f;
	bool is_stdout;
	char path[256];
	uint64_t write_errors;	/* batches lost to the file (the rest: encoding) */
};

static int file_export_slice(struct sp_exporter *e, struct sp_span *const *spans, size_t n);

/* One line per slice: a line stays a request's size however big the trace. */
static int file_export(struct sp_exporter *e, struct sp_span *const *spans, size_t n)
{
	int err = 0, r;

	for (size_t at = 0; at < n; at += SP_EXPORT_SLICE) {
		r = file_export_slice(e, spans + at, n - at < SP_EXPORT_SLICE ? n - at : SP_EXPORT_SLICE);
		if (r && !err)
			err = r;
	}
	return err;
}

static int file_export_slice(struct sp_exporter *e, struct sp_span *const *spans, size_t n)
{
	struct file_sink *fs = e->priv;
	size_t len;
	char *buf;
	int err;

	if (!n)
		return 0;
	err = sp_otlp_json__encode(spans, n, &buf, &len);
	if (err) {
		e->stats.errors++;
		e->stats.spans_dropped += n;
		return err;
	}
	errno = 0;	/* a short fwrite need not set it */
	if (fwrite(buf, 1, len, fs->f) != len || fputc('\n', fs->f) == EOF ||
	    fflush(fs->f)) {
		err = errno ? -errno : -EIO;
		fs->write_errors++;
		if (!e->stats.errors++)
			sp_err("cannot write spans to %s: %s", fs->path, strerror(-err));
		e->stats.spans_dropped += n;
	} else {
		e->stats.spans_exported += n;
	}
	free(buf);
	return err;
}

static void file_log_stats(struct sp_exporter *e, int level, bool final)
{
	struct file_sink *fs = e->priv;
	bool lost = e->stats.spans_dropped || e->stats.errors;

	/* says where the spans went; a loss is worth a warning at any level */
	sp_log(lost ? SP_LOG_WARN : level,
	       "file: %" PRIu64 " spans written to %s, %" PRIu64 " write errors, %" PRIu64
	       " spans dropped", e->stats.spans_exported, fs->is_stdout ? "stdout" : fs->path,
	       fs->write_errors, e->stats.spans_dropped);
}

static int file_flush(struct sp_exporter *e)
{
	struct file_sink *fs = e->priv;

	return fflush(fs->f) ? -errno : 0;
}

static void file_free(struct sp_exporter *e)
{
	struct file_sink *fs;

	if (!e)
		return;
	fs = e->priv;
	if (fs && fs->f && !fs->is_stdout)
		fclose(fs->f);
	free(fs);
	free(e);
}

struct sp_exporter *sp_file_exporter__new(const char *path)
{
	struct sp_exporter *e = calloc(1, sizeof(*e));
	struct file_sink *fs = calloc(1, sizeof(*fs));
	int fd, err;

	if (!e || !fs) {
		err = ENOMEM;
		goto err_out;
	}
	e->name = "file";
	e->export = file_export;
	e->flush = file_flush;
	e->free = file_free;
	e->log_stats = file_log_stats;
	e->priv = fs;
	snprintf(fs->path, sizeof(fs->path), "%s", path);
	if (!strcmp(path, "-")) {
		fs->f = stdout;
		fs->is_stdout = true;
		return e;
	}
	/* spans carry URLs and process command lines: owner-only, always;
	 * root writes it: never through a symlink someone planted */
	fd = sp_open_private(path);
	if (fd < 0) {
		err = -fd;
		sp_err("cannot create %s: %s", path, strerror(err));
		goto err_out;
	}
	fs->f = fdopen(fd, "w");
	if (!fs->f) {
		err = errno;
		close(fd);
		goto err_out;
	}
	return e;
err_out:
	if (e)
		e->priv = fs;
	else
		free(fs);
	file_free(e);
	errno = err;
	return NULL;
}
