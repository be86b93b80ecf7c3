/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The sinks a configuration asks for, and the statistics printed at exit. */
#ifndef SP_CLI_SINKS_H
#define SP_CLI_SINKS_H

#include <stdbool.h>
#include <stdint.h>
#include "cli/options.h"

struct sp_pipeline;
struct sp_pipeline_opts;

/*
 * A pipeline (owned by the caller) with the sinks c asks for: the file
 * (-o), the console tree and OTLP, each fed the same spans. Without -o:
 * the tree, plus ./spanprobe-spans.jsonl unless OTLP is on. 0 or -errno,
 * having logged what failed (*out is then NULL).
 */
int sp_sinks_pipeline(struct sp_pipeline **out, const struct sp_pipeline_opts *po,
		      const struct sp_config *c);
/*
 * What was made and every drop, at exit (final) or with -v. kcnt: the
 * kernel's drop counters (enum sp_counter), or NULL when there are none.
 */
void sp_sinks_print_stats(struct sp_pipeline *pl, const uint64_t *kcnt, bool final);
/* The live status line (util/log.h): records per second since the last
 * call at now_ns, spans, traces, drops, TLS files probed. */
void sp_sinks_print_status(struct sp_pipeline *pl, const uint64_t *kcnt, uint32_t tls_files,
			   uint64_t now_ns);

#endif
