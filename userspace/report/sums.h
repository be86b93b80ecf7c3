/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the text and --json reports both print: the sums over the traces shown. */
#ifndef SP_REPORT_SUMS_H
#define SP_REPORT_SUMS_H

#include <yajl/yajl_gen.h>
#include "report/report.h"

struct sp_rmodel_sum {
	const char *model;	/* borrowed from a span */
	unsigned calls;
	int64_t in_tok, out_tok;
	double cost;
};

struct sp_rsums {
	unsigned traces, spans, errors, llm_calls, tool_calls;
	int64_t in_tok, out_tok;
	double cost;
	uint64_t wall_ns, think_ns, act_ns, other_ns;
	struct sp_rops ops;
	const struct sp_rspan **slow;	/* the selected spans, slowest first */
	size_t nslow;
	struct sp_rmodel_sum *models;
	size_t nmodels;
	uint64_t *ttft;			/* time to first chunk, ns, sorted */
	size_t nttft;
};

int sp_rsums_build(const struct sp_rmodel *m, const struct sp_report_opts *o,
		   struct sp_rsums *sm);
void sp_rsums_free(struct sp_rsums *sm);
/* json.c: the members KEY: value of a (strings, numbers, bools, arrays)
 * into the open map of g; perfetto.c's args as well */
void sp_rjson_attr_values(yajl_gen g, const struct sp_rattrs *a);

#endif
