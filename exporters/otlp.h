/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The OTLP sink (exporters/otlp.c): OTLP/HTTP protobuf or JSON, OTLP/gRPC. */
#ifndef SP_OTLP_H
#define SP_OTLP_H

#include <stdint.h>
#include "exporter.h"
#include "otlp_config.h"

struct sp_otlp_stats {
	uint64_t spans_queued;		/* handed to the exporter */
	uint64_t spans_exported;	/* accepted by the backend */
	uint64_t spans_rejected;	/* refused in a partial_success */
	uint64_t spans_failed;		/* in requests refused for good */
	uint64_t spans_dropped;		/* queue overflow, flush deadline */
	uint64_t requests;		/* attempts */
	uint64_t requests_retried;
	uint64_t spans_queued_now;
};

/* Starts the sender thread. NULL with errno set (and a logged error). */
struct sp_exporter *sp_otlp_exporter__new(const struct sp_otlp_config *cfg);
void sp_otlp_exporter__stats(struct sp_exporter *e, struct sp_otlp_stats *out);

#endif
