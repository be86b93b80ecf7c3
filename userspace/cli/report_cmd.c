// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * spanprobe report FILE...: reads spans back (report/read.c), builds the
 * traces (report/model.c) and prints them (text, --json, --html,
 * --perfetto). No BPF, no root. Exit 1 only when nothing could be read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/commands.h"
#include "cli/options.h"
#include "report/html.h"
#include "report/report.h"
#include "util/log.h"
#include "util/ofile.h"

static FILE *open_out(const char *path)
{
	int fd = sp_open_private(path);
	FILE *f;

	if (fd < 0) {
		sp_err("cannot create %s: %s", path, strerror(-fd));
		return NULL;
	}
	f = fdopen(fd, "w");
	if (!f)
		close(fd);
	return f;
}

static int write_html(const struct sp_rmodel *m, const char *path)
{
	char *data = NULL;
	size_t len;
	FILE *f;
	int err = sp_report_data_json(m, &data, &len);

	if (err)
		return err;
	f = open_out(path);
	if (!f) {
		free(data);
		return -EIO;
	}
	err = sp_report_html(f, "spanprobe report", data, len);
	if (fclose(f) && !err)
		err = -EIO;
	free(data);
	if (err)
		sp_err("writing %s: %s", path, strerror(-err));
	return err;
}

static int write_perfetto(const struct sp_rmodel *m, const char *path)
{
	FILE *f = open_out(path);
	int err;

	if (!f)
		return -EIO;
	err = sp_report_perfetto(f, m);
	if (fclose(f) && !err)
		err = -EIO;
	if (err)
		sp_err("writing %s: %s", path, strerror(-err));
	return err;
}

int sp_report_cmd(int argc, char **argv)
{
	struct sp_report_args a;
	struct sp_rmodel m;
	int err, opened = 0, ret = 1;

	sp_rmodel_init(&m);
	err = sp_report_args_parse(&a, argc, argv);
	if (err) {
		free(a.files);
		return err > 0 ? 0 : 1;
	}
	m.files = (const char **)a.files;
	m.nfiles = a.nfiles;
	for (int i = 0; i < a.nfiles; i++) {
		err = sp_report_read(&m, a.files[i]);
		if (err == -ENOMEM) {
			sp_err("out of memory reading %s", a.files[i]);
			goto cleanup;
		}
		opened += !err;
	}
	if (!opened || (!m.n && m.bad_lines)) {
		sp_err("nothing could be read");
		goto cleanup;
	}
	if (m.dropped)
		sp_warn("%llu spans beyond the first %u not reported", (unsigned long long)m.dropped,
			SP_REPORT_MAX_SPANS);
	if (sp_rmodel_build(&m, &a.o)) {
		sp_err("out of memory");
		goto cleanup;
	}
	if (m.duplicates)
		sp_info("%llu duplicate spans (same trace and span id) reported once",
			(unsigned long long)m.duplicates);
	for (int i = 0; i < a.o.nfilters; i++)
		if (!a.o.filters[i].matched)
			sp_warn("--filter %s=%s matches no span", a.o.filters[i].key,
				a.o.filters[i].value);
	if (a.o.trace) {
		bool any = false;

		for (size_t i = 0; i < m.ntraces && !any; i++)
			any = !strncmp(m.traces[i].id, a.o.trace, strlen(a.o.trace));
		if (!any)
			sp_warn("--trace %s: no trace id starts with it", a.o.trace);
	}
	ret = 0;
	if (a.json)
		err = sp_report_json(stdout, &m, &a.o);
	else
		err = sp_report_text(stdout, &m, &a.o);
	if (err)
		sp_err("report: %s", strerror(-err));
	if (a.html && write_html(&m, a.html))
		ret = 1;
	if (a.perfetto && write_perfetto(&m, a.perfetto))
		ret = 1;
	if (err)
		ret = 1;
cleanup:
	sp_rmodel_free(&m);
	free(a.files);
	return ret;
}
