/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A sink for finished spans. The trace buffer (userspace/assemble/) hands
 * every sink the same batch; spans are borrowed for the call (a sink that
 * needs them later copies what it needs).
 *
 * A batch holds whole trace groups: the spans of one trace that leave
 * together are contiguous in the batch, and a trace's spans never straddle
 * two batches except when a bound flushed it early (a trace too big or too
 * old to hold; sp_span.trace_partial is set on the spans of such a group,
 * and later spans of that trace arrive in later groups).
 *
 * A group may hold more spans than a request or a line should (the trace
 * buffer holds up to 1024 per trace): sinks that encode split a batch into
 * slices of at most SP_EXPORT_SLICE spans (OTEL_BSP_MAX_EXPORT_BATCH_SIZE's
 * default), so requests stay within what backends accept (gRPC's 4 MiB).
 */
#define SP_EXPORT_SLICE	512
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
	/* Optional: logs the sink's own statistics at level (final: at exit).
	 * Without it, the caller logs stats below when they show a loss. */
	void (*log_stats)(struct sp_exporter *e, int level, bool final);
	struct sp_exporter_stats stats;
	void *priv;
};

/* OTLP/JSON lines to path ("-" for stdout), created 0600. */
struct sp_exporter *sp_file_exporter__new(const char *path);
/* A human-readable tree of each trace group, to out (borrowed: the caller
 * closes it after __free). Colour when color is true and NO_COLOR is unset
 * or empty (https://no-color.org). */
struct sp_exporter *sp_console_exporter__new(FILE *out, bool color);

/* Logs e's statistics at level: through e->log_stats when the sink has
 * one, else one generic warning, and only when spans were lost. */
void sp_exporter__log_stats(struct sp_exporter *e, int level, bool final);

static inline void sp_exporter__free(struct sp_exporter *e)
{
	if (e)
		e->free(e);
}

#endif
