/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A sink for finished spans. Span assembly hands every sink the same batch;
 * spans are borrowed for the call (a sink that needs them later copies
 * what it needs).
 */
#ifndef SP_EXPORTER_H
#define SP_EXPORTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include "model/span.h"

struct sp_exporter_stats {
	uint64_t spans_exported;
	uint64_t spans_dropped;
	uint64_t errors;
};

struct sp_exporter {
	const char *name;
	/* 0 or -errno; a failed batch is counted in stats, never retried here */
	int (*export)(struct sp_exporter *e, struct sp_span *const *spans, size_t n);
	/* called at exit, after the last export */
	int (*flush)(struct sp_exporter *e);
	void (*free)(struct sp_exporter *e);
	struct sp_exporter_stats stats;
	void *priv;
};

/* OTLP/JSON lines to path ("-" for stdout), created 0600. */
struct sp_exporter *sp_file_exporter__new(const char *path);
/* A human-readable tree of each finished trace, to out. */
struct sp_exporter *sp_console_exporter__new(FILE *out, bool color);

static inline void sp_exporter__free(struct sp_exporter *e)
{
	if (e)
		e->free(e);
}

#endif
