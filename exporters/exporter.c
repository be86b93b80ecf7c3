// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <inttypes.h>
#include "exporter.h"
#include "util/log.h"

void sp_exporter__log_stats(struct sp_exporter *e, int level, bool final)
{
	if (e->log_stats) {
		e->log_stats(e, level, final);
		return;
	}
	/* a sink without its own line: silent unless something was lost */
	if (e->stats.spans_dropped || e->stats.errors)
		sp_warn("%s sink: %" PRIu64 " spans exported, %" PRIu64 " dropped, %" PRIu64
			" errors", e->name, e->stats.spans_exported, e->stats.spans_dropped,
			e->stats.errors);
}
