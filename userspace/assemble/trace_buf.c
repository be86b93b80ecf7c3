// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "util/table.h"
#include "assemble/trace_buf.h"

#define DEFAULT_MAX_TRACES	4096
#define DEFAULT_TRACE_SPANS	1024
#define DEFAULT_MAX_AGE_NS	(60 * 1000000000ull)
#define DEFAULT_BATCH_MAX	512

struct link {
	struct link *prev, *next;
};

struct list {
	struct link *head, *tail;
};

/* One trace's held spans; linked into both lists while it holds any. */
struct trace {
	struct sp_span *head, *tail;	/* through sp_span.next, in end order */
	uint32_t n;
	bool partial;		/* a group of it already left early */
	uint64_t first_ns;	/* its oldest held span arrived */
	uint64_t last_ns;	/* its latest activity */
	struct link by_age;	/* oldest first_ns first */
	struct link by_activity;	/* least recently active first */
};

struct sp_trace_buf {
	struct sp_trace_buf_opts o;
	struct sp_exporter *sinks[SP_TRACE_BUF_MAX_SINKS];
	int nsinks;
	struct {
		sp_trace_step_fn fn;
		void *ctx;
	} steps[SP_TRACE_BUF_MAX_STEPS];
	int nsteps;
	sp_span_put_fn put;
	void *put_ctx;
	struct sp_table *traces;
	struct list by_age, by_activity;
	/* groups waiting for the next export: whole groups, back to back */
	struct sp_span **batch;
	size_t nbatch;
	uint64_t last_send;
	uint64_t spans_sent;	/* given back through put, ever */
	struct sp_trace_buf_stats stats;
};

#define trace_of(l, member) \
	((struct trace *)((char *)(l) - offsetof(struct trace, member)))

static void list_append(struct list *L, struct link *l)
{
	l->next = NULL;
	l->prev = L->tail;
	if (L->tail)
		L->tail->next = l;
	else
		L->head = l;
	L->tail = l;
}

static void list_unlink(struct list *L, struct link *l)
{
	if (l->prev)
		l->prev->next = l->next;
	else
		L->head = l->next;
	if (l->next)
		l->next->prev = l->prev;
	else
		L->tail = l->prev;
	l->prev = l->next = NULL;
}

/* Exports the batch to every sink, then gives its spans back. */
static void send_batch(struct sp_trace_buf *b)
{
	if (!b->nbatch)
		return;
	for (int i = 0; i < b->nsinks; i++)
		b->sinks[i]->export(b->sinks[i], b->batch, b->nbatch);
	for (size_t i = 0; i < b->nbatch; i++)
		b->put(b->put_ctx, b->batch[i]);
	b->spans_sent += b->nbatch;
	b->nbatch = 0;
	b->stats.batches++;
}

/* t's held spans leave as one group: steps, then the batch. */
static void emit(struct sp_trace_buf *b, struct trace *t, bool partial)
{
	size_t n = t->n, at;

	if (!n)
		return;
	/* never split a group: start a new batch if it does not fit */
	if (b->nbatch && b->nbatch + n > b->o.batch_max)
		send_batch(b);
	at = b->nbatch;
	for (struct sp_span *s = t->head; s; s = s->next) {
		s->trace_partial = partial;
		b->batch[b->nbatch++] = s;
	}
	for (int i = 0; i < b->nsteps; i++)
		b->steps[i].fn(b->steps[i].ctx, &b->batch[at], n);
	t->head = t->tail = NULL;
	t->n = 0;
	b->stats.spans_held -= n;
	list_unlink(&b->by_age, &t->by_age);
	list_unlink(&b->by_activity, &t->by_activity);
	if (b->nbatch >= b->o.batch_max)
		send_batch(b);
}

/* A bound was hit: what t holds leaves now, and so will the rest of it. */
static void leave_early(struct sp_trace_buf *b, struct trace *t, uint64_t *counter)
{
	(*counter)++;
	t->partial = true;
	emit(b, t, true);
}

static void on_evict(void *ctx, void *entry)
{
	struct sp_trace_buf *b = ctx;
	struct trace *t = entry;

	/* an entry holding nothing only remembers that its trace is partial */
	if (t->n)
		leave_early(b, t, &b->stats.flushed_traces);
}

struct sp_trace_buf *sp_trace_buf__new(const struct sp_trace_buf_opts *opts, sp_span_put_fn put,
				       void *put_ctx)
{
	struct sp_trace_buf *b = calloc(1, sizeof(*b));
	size_t cap;

	if (!b)
		return NULL;
	b->o = *opts;
	if (!b->o.max_traces)
		b->o.max_traces = DEFAULT_MAX_TRACES;
	if (!b->o.max_trace_spans)
		b->o.max_trace_spans = DEFAULT_TRACE_SPANS;
	if (!b->o.max_age_ns)
		b->o.max_age_ns = DEFAULT_MAX_AGE_NS;
	if (!b->o.batch_max)
		b->o.batch_max = DEFAULT_BATCH_MAX;
	b->put = put;
	b->put_ctx = put_ctx;
	/* a lone group may be bigger than a batch */
	cap = b->o.batch_max > b->o.max_trace_spans ? b->o.batch_max : b->o.max_trace_spans;
	b->batch = calloc(cap, sizeof(*b->batch));
	b->traces = sp_table__new(b->o.max_traces, sizeof(struct trace), on_evict, b);
	if (!b->batch || !b->traces)
		goto err_out;
	return b;
err_out:
	sp_trace_buf__free(b);
	errno = ENOMEM;
	return NULL;
}

void sp_trace_buf__free(struct sp_trace_buf *b)
{
	struct trace *t;
	uint32_t it = 0;

	if (!b)
		return;
	while (b->traces && (t = sp_table__next(b->traces, &it))) {
		struct sp_span *s = t->head, *next;

		for (; s; s = next) {
			next = s->next;
			b->put(b->put_ctx, s);
		}
	}
	for (size_t i = 0; i < b->nbatch; i++)
		b->put(b->put_ctx, b->batch[i]);
	for (int i = 0; i < b->nsinks; i++)
		sp_exporter__free(b->sinks[i]);
	sp_table__free(b->traces);
	free(b->batch);
	free(b);
}

int sp_trace_buf__add_sink(struct sp_trace_buf *b, struct sp_exporter *e)
{
	if (b->nsinks == SP_TRACE_BUF_MAX_SINKS)
		return -E2BIG;
	b->sinks[b->nsinks++] = e;
	return 0;
}

struct sp_exporter *sp_trace_buf__sink(const struct sp_trace_buf *b, int i)
{
	return i >= 0 && i < b->nsinks ? b->sinks[i] : NULL;
}

int sp_trace_buf__add_step(struct sp_trace_buf *b, sp_trace_step_fn fn, void *ctx)
{
	if (b->nsteps == SP_TRACE_BUF_MAX_STEPS)
		return -E2BIG;
	b->steps[b->nsteps].fn = fn;
	b->steps[b->nsteps].ctx = ctx;
	b->nsteps++;
	return 0;
}

static void trace_key(const uint8_t id[16], uint64_t *k1, uint64_t *k2)
{
	memcpy(k1, id, 8);
	memcpy(k2, id + 8, 8);
}

static void mark_active(struct sp_trace_buf *b, struct trace *t, uint64_t now)
{
	if (now > t->last_ns)
		t->last_ns = now;
	list_unlink(&b->by_activity, &t->by_activity);
	list_append(&b->by_activity, &t->by_activity);
}

void sp_trace_buf__add(struct sp_trace_buf *b, struct sp_span *s, uint64_t now)
{
	/* a span under a remote parent is as far up as this host sees */
	bool root = sp_id_is_zero(s->parent_id, sizeof(s->parent_id)) || s->remote_parent;
	struct trace *t, lone = {};
	uint64_t k1, k2;

	trace_key(s->trace_id, &k1, &k2);
	t = sp_table__get(b->traces, k1, k2);
	if (!t)
		t = sp_table__add(b->traces, k1, k2);
	s->next = NULL;
	if (!t) {
		/* no memory for the entry: the span leaves alone, now */
		lone.head = lone.tail = s;
		lone.n = 1;
		b->stats.spans_held++;
		list_append(&b->by_age, &lone.by_age);
		list_append(&b->by_activity, &lone.by_activity);
		emit(b, &lone, !root);
		return;
	}
	if (t->tail)
		t->tail->next = s;
	else
		t->head = s;
	t->tail = s;
	if (!t->n++) {
		t->first_ns = t->last_ns = now;
		list_append(&b->by_age, &t->by_age);
		list_append(&b->by_activity, &t->by_activity);
	} else {
		mark_active(b, t, now);
	}
	if (++b->stats.spans_held > b->stats.spans_held_max)
		b->stats.spans_held_max = b->stats.spans_held;
	if (root) {
		/* a root ends last: the trace is complete */
		b->stats.traces_completed++;
		emit(b, t, t->partial);
		sp_table__del(b->traces, t);
	} else if (t->n >= b->o.max_trace_spans) {
		leave_early(b, t, &b->stats.flushed_trace_spans);
	}
	while (b->o.max_spans && b->stats.spans_held > b->o.max_spans && b->by_activity.head)
		leave_early(b, trace_of(b->by_activity.head, by_activity), &b->stats.flushed_total);
}

void sp_trace_buf__touch(struct sp_trace_buf *b, const uint8_t trace_id[16], uint64_t now)
{
	struct trace *t;
	uint64_t k1, k2;

	trace_key(trace_id, &k1, &k2);
	t = sp_table__get(b->traces, k1, k2);
	if (t && t->n)
		mark_active(b, t, now);
}

static bool id_in(const uint8_t (*ids)[8], size_t n, const uint8_t id[8])
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(ids[i], id, 8))
			return true;
	return false;
}

size_t sp_trace_buf__move(struct sp_trace_buf *b, const uint8_t from[16], const uint8_t to[16],
			  const uint8_t root_id[8], uint64_t now,
			  void (*fn)(void *ctx, struct sp_span *s), void *ctx)
{
	uint8_t (*ids)[8];
	struct trace *t;
	size_t nids = 1, moved = 0;
	uint64_t k1, k2;
	bool more = true;

	/* within one trace nothing moves: the subtree is there already */
	if (!memcmp(from, to, 16))
		return 0;
	trace_key(from, &k1, &k2);
	t = sp_table__get(b->traces, k1, k2);
	if (!t || !t->n)
		return 0;
	ids = malloc((t->n + 1) * sizeof(*ids));
	if (!ids)
		return 0;
	memcpy(ids[0], root_id, 8);
	/* children end before their parents, so the list is in no order a
	 * single pass could follow: repeat until the subtree stops growing */
	while (more) {
		struct sp_span **pp = &t->head, *s, *prev = NULL;

		more = false;
		while ((s = *pp)) {
			if (!id_in(ids, nids, s->parent_id)) {
				prev = s;
				pp = &s->next;
				continue;
			}
			*pp = s->next;
			if (t->tail == s)
				t->tail = prev;
			t->n--;
			b->stats.spans_held--;
			memcpy(ids[nids++], s->span_id, 8);
			memcpy(s->trace_id, to, 16);
			s->next = NULL;
			if (fn)
				fn(ctx, s);
			/* re-added: the new trace holds it until its root ends */
			sp_trace_buf__add(b, s, now);
			/* the add may have emitted or evicted t */
			t = sp_table__get(b->traces, k1, k2);
			moved++;
			more = true;
			if (!t || !t->n)
				goto out;
			break;
		}
	}
out:
	/* moved empty (not emitted: emit unlinks) */
	if (t && !t->n && (t->by_age.prev || b->by_age.head == &t->by_age)) {
		list_unlink(&b->by_age, &t->by_age);
		list_unlink(&b->by_activity, &t->by_activity);
	}
	free(ids);
	return moved;
}

bool sp_trace_buf__graft(struct sp_trace_buf *b, const uint8_t from[16], const uint8_t span_id[8],
			 const uint8_t to[16], const uint8_t new_parent[8], uint64_t now)
{
	struct sp_span *s, *prev = NULL;
	struct trace *t;
	uint64_t k1, k2;

	trace_key(from, &k1, &k2);
	t = sp_table__get(b->traces, k1, k2);
	for (s = t ? t->head : NULL; s && memcmp(s->span_id, span_id, 8); s = s->next)
		prev = s;
	if (!s)
		return false;
	if (!memcmp(from, to, 16)) {
		/* same trace (a process calling itself): only the parent */
		memcpy(s->parent_id, new_parent, 8);
		return true;
	}
	if (prev)
		prev->next = s->next;
	else
		t->head = s->next;
	if (t->tail == s)
		t->tail = prev;
	t->n--;
	b->stats.spans_held--;
	if (!t->n) {
		list_unlink(&b->by_age, &t->by_age);
		list_unlink(&b->by_activity, &t->by_activity);
	}
	memcpy(s->trace_id, to, 16);
	memcpy(s->parent_id, new_parent, 8);
	s->next = NULL;
	sp_trace_buf__add(b, s, now);
	sp_trace_buf__move(b, from, to, span_id, now, NULL, NULL);
	return true;
}

void sp_trace_buf__visit(struct sp_trace_buf *b, const uint8_t tid[16],
			 void (*fn)(void *ctx, struct sp_span *s), void *ctx)
{
	struct trace *t;
	uint64_t k1, k2;

	trace_key(tid, &k1, &k2);
	t = sp_table__get(b->traces, k1, k2);
	for (struct sp_span *s = t ? t->head : NULL; s; s = s->next)
		fn(ctx, s);
}

size_t sp_trace_buf__adopt(struct sp_trace_buf *b, const uint8_t tid[16],
			   const uint8_t parent_id[8], const uint8_t new_parent[8], uint64_t start,
			   uint64_t end)
{
	struct trace *t;
	uint64_t k1, k2;
	size_t n = 0;

	trace_key(tid, &k1, &k2);
	t = sp_table__get(b->traces, k1, k2);
	for (struct sp_span *s = t ? t->head : NULL; s; s = s->next) {
		/* another request the process served is no work done for
		 * this one, even inside its window */
		if (memcmp(s->parent_id, parent_id, 8) || s->start_ns < start || s->end_ns > end ||
		    !memcmp(s->span_id, new_parent, 8) || s->kind == SP_KIND_SERVER)
			continue;
		memcpy(s->parent_id, new_parent, 8);
		n++;
	}
	return n;
}

static bool waited(uint64_t now, uint64_t since, uint64_t limit)
{
	return now > since && now - since >= limit;
}

void sp_trace_buf__tick(struct sp_trace_buf *b, uint64_t now)
{
	struct trace *t;

	while (b->by_age.head) {
		t = trace_of(b->by_age.head, by_age);
		if (!waited(now, t->first_ns, b->o.max_age_ns))
			break;
		leave_early(b, t, &b->stats.flushed_age);
	}
	while (b->o.quiet_ns && b->by_activity.head) {
		t = trace_of(b->by_activity.head, by_activity);
		if (!waited(now, t->last_ns, b->o.quiet_ns))
			break;
		leave_early(b, t, &b->stats.flushed_quiet);
	}
	if (now - b->last_send >= b->o.flush_interval_ns) {
		send_batch(b);
		b->last_send = now;
	}
}

size_t sp_trace_buf__shed(struct sp_trace_buf *b)
{
	uint64_t sent = b->spans_sent;

	if (!b->nbatch && b->by_activity.head)
		leave_early(b, trace_of(b->by_activity.head, by_activity), &b->stats.flushed_total);
	send_batch(b);
	return b->spans_sent - sent;
}

void sp_trace_buf__flush_all(struct sp_trace_buf *b)
{
	while (b->by_age.head)
		leave_early(b, trace_of(b->by_age.head, by_age), &b->stats.flushed_shutdown);
	send_batch(b);
	for (int i = 0; i < b->nsinks; i++)
		b->sinks[i]->flush(b->sinks[i]);
}

const struct sp_trace_buf_stats *sp_trace_buf__stats(const struct sp_trace_buf *b)
{
	return &b->stats;
}
