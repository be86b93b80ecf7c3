/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * spanprobe report: the spans of OTLP/JSON files (as -o writes them, or an
 * OpenTelemetry Collector's file exporter; plain or gzip) read back, put in
 * trees per trace and summed up. A consumer of the exporters' output, not a
 * pipeline stage: nothing here runs while tracing.
 */
#ifndef SP_REPORT_H
#define SP_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The bound on memory: spans kept in all (beyond: counted, said, dropped),
 * attributes and events kept per span. */
#define SP_REPORT_MAX_SPANS	(1u << 21)
#define SP_REPORT_MAX_ATTRS	256
#define SP_REPORT_MAX_EVENTS	128
#define SP_REPORT_MAX_FILTERS	32
/* a span deeper than this, or in a parent cycle, is cut off as an orphan */
#define SP_REPORT_MAX_DEPTH	256

enum sp_rattr_type { SP_RA_STR, SP_RA_INT, SP_RA_DBL, SP_RA_BOOL, SP_RA_ARR };

struct sp_rattr {
	char *key;
	enum sp_rattr_type t;
	char *s;		/* STR; ARR: n strings, each NUL-terminated */
	unsigned n;
	int64_t i;
	double d;
	bool b;
};

struct sp_rattrs {
	struct sp_rattr *a;
	unsigned n;
};

struct sp_revent {
	char *name;
	uint64_t t;
	struct sp_rattrs attrs;
};

/* one resource, shared by the spans of its resourceSpans entry */
struct sp_rres {
	struct sp_rattrs attrs;
	struct sp_rres *next;
};

/* the colour classes of report_schema.md */
enum sp_rclass { SP_RC_AGENT, SP_RC_LLM, SP_RC_TOOL, SP_RC_HTTP, SP_RC_MCP,
		 SP_RC_PROCESS, SP_RC_OTHER };

struct sp_rtrace;

struct sp_rspan {
	char trace[33], id[17], parent[17];
	char *name;
	int kind;		/* OTLP: 0 unspecified, 1 internal ... 5 consumer */
	int status;		/* 0 unset, 1 ok, 2 error */
	char *status_msg;
	uint64_t start, end;
	struct sp_rattrs attrs;
	struct sp_revent *events;
	unsigned nevents;
	const struct sp_rres *res;
	const char *file;	/* where it was first read */
	unsigned line;
	uint64_t seq;		/* read order: of duplicates the first read is kept */
	/* the model's */
	struct sp_rspan *up;	/* the parent, when found */
	struct sp_rspan **kids;
	unsigned nkids;
	bool orphan;		/* parent set, not found */
	bool selected;		/* passes --filter, --since, --until */
	bool carrier;		/* a process that made an LLM call (curl for a shell
				 * agent): part of the call, not a tool */
	enum sp_rclass cls;
	struct sp_rtrace *tr;
};

struct sp_rtrace {
	char id[33];
	struct sp_rspan **spans;	/* by start time */
	unsigned n;
	struct sp_rspan *root;	/* the first span without a parent, or NULL */
	uint64_t start, end;
	unsigned errors, llm_calls, tool_calls, nselected;
	int64_t in_tok, out_tok;
	double cost;
	uint64_t think_ns, act_ns, other_ns;
};

struct sp_rfilter {
	char *key;		/* "name", "kind", "status" or an attribute key */
	char *value;
	unsigned matched;
};

struct sp_rmodel {
	struct sp_rspan **spans;	/* by trace, then start */
	size_t n, cap;
	struct sp_rtrace *traces;
	size_t ntraces;
	struct sp_rres *res;
	const char **files;
	size_t nfiles;
	/* what reading met */
	uint64_t lines, bad_lines, duplicates, dropped, orphans;
};

struct sp_report_opts {
	const char *trace;		/* a prefix */
	struct sp_rfilter filters[SP_REPORT_MAX_FILTERS];
	int nfilters;
	uint64_t since, until;		/* unix ns; 0: none */
	bool sort_duration;
	unsigned top;
};

/* read.c: every span of path into m. 0 (something was read, or an empty
 * file), or -errno when the file could not be opened; each bad line is
 * said (file:line) and counted. */
int sp_report_read(struct sp_rmodel *m, const char *path);
/* read.c: one line of OTLP/JSON; 0, or -EINVAL after a message naming
 * file:line. */
int sp_report_read_line(struct sp_rmodel *m, const char *line, size_t len,
			const char *file, unsigned lineno);
const struct sp_rattr *sp_rattrs_get(const struct sp_rattrs *a, const char *key);
/* a number attribute (int, double, or a numeric string) */
bool sp_rattrs_num(const struct sp_rattrs *a, const char *key, double *out);
const char *sp_rattrs_str(const struct sp_rattrs *a, const char *key);

/* model.c */
void sp_rmodel_init(struct sp_rmodel *m);
/* De-duplicates, links trees, groups traces, classes spans, applies o's
 * selection. 0 or -ENOMEM. */
int sp_rmodel_build(struct sp_rmodel *m, const struct sp_report_opts *o);
void sp_rmodel_free(struct sp_rmodel *m);
enum sp_rclass sp_rspan_class(const struct sp_rspan *s);
const char *sp_rclass_name(enum sp_rclass c);
const char *sp_rkind_name(int kind);
const char *sp_rstatus_name(int status);
/* 1 when s passes filter f */
bool sp_rfilter_match(const struct sp_rfilter *f, const struct sp_rspan *s);
/* "KEY=VALUE" into f; -EINVAL when there is no '=' */
int sp_rfilter_parse(struct sp_rfilter *f, char *arg);

/* stats.c */
/* nearest-rank: the value at rank ceil(p/100 * n) of the sorted v (n >= 1) */
uint64_t sp_percentile(const uint64_t *sorted, size_t n, double p);
/* think = union(LLM spans); act = union(tool, MCP, subprocess and non-LLM
 * HTTP client spans) minus think; other = wall - think - act. A subprocess
 * that carries an LLM call (curl for a shell agent) is neither a tool nor act. */
void sp_think_act(struct sp_rspan *const *spans, size_t n, uint64_t start, uint64_t end,
		  uint64_t *think, uint64_t *act, uint64_t *other);
/* the per-trace sums (tokens, cost, counts, think/act) */
void sp_rtrace_sum(struct sp_rtrace *t);
/* the operation key of a span: tool name, model, else span name */
const char *sp_rspan_op(const struct sp_rspan *s, char *buf, size_t len);

struct sp_rop {
	char *key;
	uint64_t *d;		/* durations */
	size_t n, cap;
	unsigned errors;
};

struct sp_rops {
	struct sp_rop *op;
	size_t n;
};
/* latency by operation over the selected spans, sorted by key */
int sp_rops_build(const struct sp_rmodel *m, struct sp_rops *ops);
void sp_rops_free(struct sp_rops *ops);

/* error propagation of one trace: what ran after the first failure */
enum sp_rfate { SP_RF_RETRY, SP_RF_FALLBACK, SP_RF_FAILED, SP_RF_PROPAGATED };
struct sp_rprop_step {
	const struct sp_rspan *s;
	enum sp_rfate fate;
};
struct sp_rprop {
	const struct sp_rspan *first;	/* NULL: no error */
	struct sp_rprop_step *steps;
	size_t n;
	int end_status;			/* the root's; -1 when no root */
};
/* the first failing span: the error span that ended first (ties: started
 * first); then, in start order, every later span that is a retry of it
 * (http.request.resend_count > 0, a "retry" event, or its name under the
 * same parent), a fallback (a sibling of the same class, another name, not
 * an error), or failed in turn; and the
 * failing span's ancestors that failed (propagated). */
int sp_rprop_build(const struct sp_rtrace *t, struct sp_rprop *p);
void sp_rprop_free(struct sp_rprop *p);
const char *sp_rfate_name(enum sp_rfate f);

/* text.c, json.c, perfetto.c */
int sp_report_text(FILE *out, const struct sp_rmodel *m, const struct sp_report_opts *o);
int sp_report_json(FILE *out, const struct sp_rmodel *m, const struct sp_report_opts *o);
/* the data document of the HTML page (report_schema): *out malloc'd */
int sp_report_data_json(const struct sp_rmodel *m, char **out, size_t *len);
int sp_report_perfetto(FILE *out, const struct sp_rmodel *m);

#endif
