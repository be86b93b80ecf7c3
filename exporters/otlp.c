// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * OTLP sink: OTLP/HTTP (protobuf or JSON) and OTLP/gRPC, over libcurl.
 *
 * The main thread encodes each batch it is handed (the span assembler
 * batches like the SDK batch span processor: at most 512 spans or one
 * flush interval) into one request and queues it; a sender thread does all
 * network I/O, so a slow or dead backend never stalls event processing.
 *
 * Nothing is lost on a bad day, within bounds: a request that fails with a
 * connection error, 429, 502, 503 or 504 (gRPC: UNAVAILABLE, RESOURCE_
 * EXHAUSTED, ...) is retried with exponential backoff and jitter, honouring
 * Retry-After; the queue holds at most queue_spans spans, and when it
 * overflows the oldest spans go first (the request being retried included)
 * and are counted. Other 4xx are permanent: logged once, counted. At exit
 * the queue gets flush_timeout_ms to drain.
 */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <yajl/yajl_tree.h>
#include <zlib.h>
#include "exporter.h"
#include "util/log.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "otlp.h"
#include "otlp_json.h"
#include "otlp_proto.h"
#include "util/clock.h"
#include "util/selfconn.h"

#define BACKOFF_MIN_MS	500
#define BACKOFF_MAX_MS	30000
#define RESP_MAX	65536	/* response body kept, for errors and partial_success */

struct item {
	uint8_t *body;		/* the encoded request, uncompressed */
	size_t len;
	uint32_t nspans;
};

struct response {
	long status;
	int grpc_status;	/* -1 if none came */
	char grpc_message[256];
	long retry_after_ms;	/* -1 if none */
	char content_type[64];
	size_t len;
	char body[RESP_MAX];
};

struct otlp {
	struct sp_otlp_config cfg;
	struct sp_exporter *e;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* queue: a ring of requests, bounded in spans */
	struct item *q;
	uint32_t qcap, qhead, qn;
	uint64_t qspans;	/* in the queue and in flight */
	struct item inflight;	/* taken by the sender, owned by it */
	bool drop_inflight;	/* the queue overflowed onto it */
	bool stopping;
	uint64_t deadline_ns;	/* stopping: give up after this */
	/* sender-only */
	CURL *curl;
	struct curl_slist *hdrs;
	struct response resp;
	char errbuf[CURL_ERROR_SIZE];
	unsigned warned_status[6];	/* one log line per status class */
	/* counters (under mu) */
	struct sp_otlp_stats st;
};

/* ---- queue (mu held) ---- */

static void drop_oldest(struct otlp *o)
{
	if (o->inflight.body && !o->drop_inflight) {
		/* the request being retried is the oldest */
		o->drop_inflight = true;
		o->qspans -= o->inflight.nspans;
		o->st.spans_dropped += o->inflight.nspans;
		return;
	}
	if (!o->qn)
		return;
	struct item *it = &o->q[o->qhead];

	o->st.spans_dropped += it->nspans;
	o->qspans -= it->nspans;
	free(it->body);
	it->body = NULL;
	o->qhead = (o->qhead + 1) % o->qcap;
	o->qn--;
}

static int otlp_export_slice(struct sp_exporter *e, struct sp_span *const *spans, size_t n);

/* One request per slice (exporter.h: SP_EXPORT_SLICE). */
static int otlp_export(struct sp_exporter *e, struct sp_span *const *spans, size_t n)
{
	int err = 0, r;

	for (size_t at = 0; at < n; at += SP_EXPORT_SLICE) {
		r = otlp_export_slice(e, spans + at,
				      n - at < SP_EXPORT_SLICE ? n - at : SP_EXPORT_SLICE);
		if (r && !err)
			err = r;
	}
	return err;
}

static int otlp_export_slice(struct sp_exporter *e, struct sp_span *const *spans, size_t n)
{
	struct otlp *o = e->priv;
	struct item it = { .nspans = n };
	int err;

	if (!n)
		return 0;
	if (n > o->cfg.queue_spans) {
		/* more than the whole queue: the newest go, the oldest are
		 * the overflow */
		pthread_mutex_lock(&o->mu);
		o->st.spans_dropped += n - o->cfg.queue_spans;
		o->st.spans_queued += n - o->cfg.queue_spans;
		pthread_mutex_unlock(&o->mu);
		spans += n - o->cfg.queue_spans;
		n = o->cfg.queue_spans;
		it.nspans = n;
	}
	if (o->cfg.protocol == SP_OTLP_HTTP_JSON)
		err = sp_otlp_json__encode(spans, n, (char **)&it.body, &it.len);
	else
		err = sp_otlp_proto__encode(spans, n, &it.body, &it.len);
	pthread_mutex_lock(&o->mu);
	if (err) {
		o->st.spans_dropped += n;
		pthread_mutex_unlock(&o->mu);
		return err;
	}
	o->st.spans_queued += n;
	/* room in spans and in slots: the oldest make way */
	while ((o->qspans + n > o->cfg.queue_spans || o->qn == o->qcap) &&
	       (o->qn || (o->inflight.body && !o->drop_inflight)))
		drop_oldest(o);
	o->q[(o->qhead + o->qn) % o->qcap] = it;
	o->qn++;
	o->qspans += n;
	pthread_cond_signal(&o->cv);
	pthread_mutex_unlock(&o->mu);
	return 0;
}

/* ---- one HTTP attempt (sender thread, mu not held) ---- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct response *r = arg;
	size_t n = size * nmemb, room = sizeof(r->body) - 1 - r->len;

	memcpy(r->body + r->len, ptr, n < room ? n : room);
	r->len += n < room ? n : room;
	r->body[r->len] = 0;
	return n;
}

/* Headers and, for HTTP/2, trailers (where gRPC puts its status). */
static size_t on_header(char *buf, size_t size, size_t nitems, void *arg)
{
	struct response *r = arg;
	size_t n = size * nitems;
	char line[512];
	char *v;

	snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) - 1 ? n : sizeof(line) - 1),
		 buf);
	line[strcspn(line, "\r\n")] = 0;
	v = strchr(line, ':');
	if (!v)
		return n;
	*v++ = 0;
	while (*v == ' ')
		v++;
	if (!strcasecmp(line, "retry-after")) {
		char *end;
		long s = strtol(v, &end, 10);

		if (end != v && !*end && s >= 0) {
			r->retry_after_ms = s * 1000;
		} else {
			time_t t = curl_getdate(v, NULL);

			if (t > 0)
				r->retry_after_ms = t > time(NULL) ? (t - time(NULL)) * 1000 : 0;
		}
	} else if (!strcasecmp(line, "grpc-status")) {
		r->grpc_status = atoi(v);
	} else if (!strcasecmp(line, "grpc-message")) {
		snprintf(r->grpc_message, sizeof(r->grpc_message), "%s", v);
	} else if (!strcasecmp(line, "content-type")) {
		snprintf(r->content_type, sizeof(r->content_type), "%s", v);
	}
	return n;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct otlp *o = arg;
	bool late;

	/* at exit, a request may not outlive the flush deadline */
	pthread_mutex_lock(&o->mu);
	late = o->stopping && sp_clock_mono_ns() > o->deadline_ns;
	pthread_mutex_unlock(&o->mu);
	return late;
}

/* Connected, request not sent yet: remember our port before the backend
 * (if it is traced) can answer. */
static int on_prereq(void *arg, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
	sp_selfconn_add((uint16_t)local_port);
	return CURL_PREREQFUNC_OK;
}

static int gzip_buf(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
	z_stream z = {};
	size_t cap = compressBound(len) + 32;
	int rc;

	*out = malloc(cap);
	if (!*out)
		return -ENOMEM;
	/* 31 = 15-bit window + gzip header */
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(*out);
		return -ENOMEM;
	}
	z.next_in = (uint8_t *)in;
	z.avail_in = len;
	z.next_out = *out;
	z.avail_out = cap;
	rc = deflate(&z, Z_FINISH);
	*out_len = z.total_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(*out);
		return -EIO;
	}
	return 0;
}

enum outcome {
	SENT,
	RETRY,
	PERMANENT,
};

static bool retryable_grpc(int code)
{
	/* CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED,
	 * OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS: as the OTLP spec lists */
	return code == 1 || code == 4 || code == 8 || code == 10 || code == 11 || code == 14 ||
	       code == 15;
}

/* partial_success in a 2xx answer: some spans were rejected */
static void read_partial_success(struct otlp *o, const struct item *it)
{
	struct response *r = &o->resp;
	int64_t rejected = 0;
	char msg[256] = "";

	if (o->cfg.protocol == SP_OTLP_HTTP_JSON) {
		const char *rp[] = { "partialSuccess", "rejectedSpans", NULL };
		const char *mp[] = { "partialSuccess", "errorMessage", NULL };
		yajl_val root = r->len ? yajl_tree_parse(r->body, NULL, 0) : NULL;
		yajl_val v;

		if (!root)
			return;
		v = yajl_tree_get(root, rp, yajl_t_any);
		if (v && YAJL_IS_STRING(v) && v->u.string)
			rejected = strtoll(v->u.string, NULL, 10);
		else if (v && YAJL_IS_INTEGER(v))
			rejected = YAJL_GET_INTEGER(v);
		v = yajl_tree_get(root, mp, yajl_t_string);
		if (v && v->u.string)
			snprintf(msg, sizeof(msg), "%s", v->u.string);
		yajl_tree_free(root);
	} else {
		const uint8_t *p = (const uint8_t *)r->body;
		size_t len = r->len;
		Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse *m;

		if (o->cfg.protocol == SP_OTLP_GRPC) {
			if (len < 5 || p[0])	/* a compressed answer: not asked for */
				return;
			p += 5;
			len -= 5;
		}
		m = opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
			NULL, len, p);
		if (!m)
			return;
		if (m->partial_success) {
			rejected = m->partial_success->rejected_spans;
			snprintf(msg, sizeof(msg), "%s", m->partial_success->error_message);
		}
		opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(
			m, NULL);
	}
	if (rejected > 0 || msg[0]) {
		if (rejected > (int64_t)it->nspans)
			rejected = it->nspans;
		sp_warn("OTLP backend accepted the request but rejected %" PRId64 " of %u spans%s%s",
			rejected, it->nspans, msg[0] ? ": " : "", msg);
		pthread_mutex_lock(&o->mu);
		o->st.spans_rejected += rejected;
		pthread_mutex_unlock(&o->mu);
	}
}

static enum outcome send_once(struct otlp *o, const struct item *it, uint64_t *retry_ms)
{
	struct response *r = &o->resp;
	uint8_t *gz = NULL, *frame = NULL;
	const uint8_t *body = it->body;
	size_t len = it->len;
	enum outcome out;
	long timeout = o->cfg.timeout_ms;

	*retry_ms = 0;
	CURLcode rc;

	if (o->cfg.gzip) {
		if (gzip_buf(it->body, it->len, &gz, &len))
			return PERMANENT;
		body = gz;
	}
	if (o->cfg.protocol == SP_OTLP_GRPC) {
		/* gRPC message framing: compressed flag, big-endian length */
		frame = malloc(len + 5);
		if (!frame) {
			free(gz);
			return RETRY;
		}
		frame[0] = o->cfg.gzip;
		frame[1] = len >> 24;
		frame[2] = len >> 16;
		frame[3] = len >> 8;
		frame[4] = len;
		memcpy(frame + 5, body, len);
		body = frame;
		len += 5;
	}
	memset(r, 0, offsetof(struct response, body));
	r->grpc_status = -1;
	r->retry_after_ms = -1;
	r->body[0] = 0;
	pthread_mutex_lock(&o->mu);
	if (o->stopping) {
		/* one clock read: a second one could pass the deadline */
		uint64_t t = sp_clock_mono_ns();
		uint64_t left = o->deadline_ns > t ? (o->deadline_ns - t) / 1000000 : 1;

		if ((long)left < timeout)
			timeout = left ? left : 1;
	}
	pthread_mutex_unlock(&o->mu);
	curl_easy_setopt(o->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(o->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(o->curl, CURLOPT_TIMEOUT_MS, timeout);
	rc = curl_easy_perform(o->curl);
	curl_easy_getinfo(o->curl, CURLINFO_RESPONSE_CODE, &r->status);
	free(gz);
	free(frame);

	*retry_ms = r->retry_after_ms >= 0 ? (uint64_t)r->retry_after_ms : 0;
	if (rc != CURLE_OK) {
		if (!o->st.requests_retried || sp_log_level >= SP_LOG_DEBUG)
			sp_warn("OTLP export to %s failed: %s (will retry)", o->cfg.url,
				o->errbuf[0] ? o->errbuf : curl_easy_strerror(rc));
		return RETRY;
	}
	if (o->cfg.protocol == SP_OTLP_GRPC && r->status == 200) {
		if (r->grpc_status == 0) {
			out = SENT;
		} else if (r->grpc_status < 0 || retryable_grpc(r->grpc_status)) {
			sp_warn("OTLP/gRPC export: status %d %s (will retry)", r->grpc_status,
				r->grpc_message);
			return RETRY;
		} else {
			sp_err("OTLP/gRPC export rejected: status %d %s (dropping %u spans)",
			       r->grpc_status, r->grpc_message, it->nspans);
			return PERMANENT;
		}
	} else if (r->status >= 200 && r->status < 300) {
		out = SENT;
	} else if (r->status == 429 || r->status == 502 || r->status == 503 || r->status == 504) {
		if (!o->warned_status[r->status / 100]++ || sp_log_level >= SP_LOG_DEBUG)
			sp_warn("OTLP backend answered %ld (will retry)", r->status);
		return RETRY;
	} else {
		sp_err("OTLP backend at %s answered %ld: %.200s (dropping %u spans; not retried)",
		       o->cfg.url, r->status, r->len ? r->body : "", it->nspans);
		return PERMANENT;
	}
	read_partial_success(o, it);
	return out;
}

static uint64_t backoff_ms(unsigned attempt)
{
	uint64_t d = BACKOFF_MIN_MS;

	while (attempt-- > 1 && d < BACKOFF_MAX_MS)
		d *= 2;
	if (d > BACKOFF_MAX_MS)
		d = BACKOFF_MAX_MS;
	/* jitter: 50% to 150%, so restarted exporters do not march in step */
	return d / 2 + (uint64_t)random() % (d + 1);
}

static void *sender(void *arg)
{
	struct otlp *o = arg;
	unsigned attempt = 0;

	pthread_mutex_lock(&o->mu);
	for (;;) {
		enum outcome out;
		uint64_t retry_ms, wait;
		struct item it;

		while (!o->inflight.body && !o->qn && !o->stopping)
			pthread_cond_wait(&o->cv, &o->mu);
		if (!o->inflight.body && !o->qn)
			break;	/* stopping, all delivered */
		if (o->stopping && sp_clock_mono_ns() > o->deadline_ns)
			break;
		if (!o->inflight.body) {
			o->inflight = o->q[o->qhead];
			o->q[o->qhead].body = NULL;
			o->qhead = (o->qhead + 1) % o->qcap;
			o->qn--;
			o->drop_inflight = false;
			attempt = 0;
		}
		it = o->inflight;
		pthread_mutex_unlock(&o->mu);

		out = send_once(o, &it, &retry_ms);

		pthread_mutex_lock(&o->mu);
		o->st.requests++;
		if (out == RETRY && !o->drop_inflight) {
			o->st.requests_retried++;
			wait = retry_ms ? retry_ms : backoff_ms(++attempt);
			if (retry_ms && retry_ms > BACKOFF_MAX_MS * 4ull)
				wait = BACKOFF_MAX_MS * 4ull;
			/* sleep, unless the queue drops this one or the exit
			 * flush begins (then one prompt last try) */
			struct timespec until;
			bool was_stopping = o->stopping;

			if (o->stopping) {
				uint64_t t = sp_clock_mono_ns(), left;

				left = o->deadline_ns > t ? (o->deadline_ns - t) / 1000000 : 0;
				if (wait > left)
					wait = left;
			}
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += wait / 1000;
			until.tv_nsec += (wait % 1000) * 1000000;
			if (until.tv_nsec >= 1000000000) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000;
			}
			while (!o->drop_inflight && o->stopping == was_stopping &&
			       pthread_cond_timedwait(&o->cv, &o->mu, &until) != ETIMEDOUT)
				;
			if (!o->drop_inflight)
				continue;	/* try again */
		}
		if (!o->drop_inflight) {
			o->qspans -= it.nspans;
			if (out == SENT)
				o->st.spans_exported += it.nspans;
			else
				o->st.spans_failed += it.nspans;
		} else if (out == SENT) {
			/* dropped by an overflow while on the wire: it made it */
			o->st.spans_dropped -= it.nspans;
			o->st.spans_exported += it.nspans;
		}
		free(o->inflight.body);
		o->inflight.body = NULL;
		o->drop_inflight = false;
	}
	pthread_mutex_unlock(&o->mu);
	return NULL;
}

static int setup_curl(struct otlp *o)
{
	const struct sp_otlp_config *c = &o->cfg;
	char ua[64];

	o->curl = curl_easy_init();
	if (!o->curl)
		return -ENOMEM;
	for (int i = 0; i < c->nheaders; i++)
		o->hdrs = curl_slist_append(o->hdrs, c->headers[i]);
	switch (c->protocol) {
	case SP_OTLP_GRPC:
		o->hdrs = curl_slist_append(o->hdrs, "Content-Type: application/grpc");
		o->hdrs = curl_slist_append(o->hdrs, "TE: trailers");
		if (c->gzip)
			o->hdrs = curl_slist_append(o->hdrs, "grpc-encoding: gzip");
		/* h2c with prior knowledge for http://, ALPN for https:// */
		if (strncmp(c->url, "https", 5)) {
			curl_easy_setopt(o->curl, CURLOPT_HTTP_VERSION,
					 CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
			/* libcurl < 8.0 (Debian 12 has 7.88) breaks a reused
			 * prior-knowledge connection ("Error in the HTTP2
			 * framing layer", curl#10634): one connection per
			 * request, at most one a second */
			if (curl_version_info(CURLVERSION_NOW)->version_num < 0x080000) {
				curl_easy_setopt(o->curl, CURLOPT_FRESH_CONNECT, 1L);
				curl_easy_setopt(o->curl, CURLOPT_FORBID_REUSE, 1L);
			}
		} else {
			curl_easy_setopt(o->curl, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
		}
		break;
	case SP_OTLP_HTTP_JSON:
		o->hdrs = curl_slist_append(o->hdrs, "Content-Type: application/json");
		break;
	default:
		o->hdrs = curl_slist_append(o->hdrs, "Content-Type: application/x-protobuf");
		break;
	}
	if (c->gzip && c->protocol != SP_OTLP_GRPC)
		o->hdrs = curl_slist_append(o->hdrs, "Content-Encoding: gzip");
	o->hdrs = curl_slist_append(o->hdrs, "Expect:");	/* no 100-continue round trip */
	snprintf(ua, sizeof(ua), "spanprobe/%s", SPANPROBE_VERSION);
	curl_easy_setopt(o->curl, CURLOPT_URL, c->url);
	curl_easy_setopt(o->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(o->curl, CURLOPT_HTTPHEADER, o->hdrs);
	curl_easy_setopt(o->curl, CURLOPT_USERAGENT, ua);
	curl_easy_setopt(o->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(o->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(o->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(o->curl, CURLOPT_WRITEDATA, &o->resp);
	curl_easy_setopt(o->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(o->curl, CURLOPT_HEADERDATA, &o->resp);
	curl_easy_setopt(o->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(o->curl, CURLOPT_XFERINFODATA, o);
	curl_easy_setopt(o->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(o->curl, CURLOPT_ERRORBUFFER, o->errbuf);
	curl_easy_setopt(o->curl, CURLOPT_PREREQFUNCTION, on_prereq);
	/* redirects would resend spans to a place nobody configured */
	curl_easy_setopt(o->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(o->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	if (c->ca_file[0])
		curl_easy_setopt(o->curl, CURLOPT_CAINFO, c->ca_file);
	if (c->client_cert[0])
		curl_easy_setopt(o->curl, CURLOPT_SSLCERT, c->client_cert);
	if (c->client_key[0])
		curl_easy_setopt(o->curl, CURLOPT_SSLKEY, c->client_key);
	return 0;
}

static int otlp_flush(struct sp_exporter *e)
{
	struct otlp *o = e->priv;
	uint64_t left;

	if (!o->thread_started)
		return 0;
	pthread_mutex_lock(&o->mu);
	o->stopping = true;
	o->deadline_ns = sp_clock_mono_ns() + (uint64_t)o->cfg.flush_timeout_ms * 1000000;
	left = o->qspans;
	pthread_cond_broadcast(&o->cv);
	pthread_mutex_unlock(&o->mu);
	if (left)
		sp_info("delivering %" PRIu64 " queued spans to %s (at most %u ms)", left,
			o->cfg.url, o->cfg.flush_timeout_ms);
	pthread_join(o->thread, NULL);
	o->thread_started = false;
	/* what the deadline left behind */
	pthread_mutex_lock(&o->mu);
	o->st.spans_dropped += o->qspans;
	o->qspans = 0;
	pthread_mutex_unlock(&o->mu);
	e->stats.spans_exported = o->st.spans_exported;
	e->stats.spans_dropped = o->st.spans_dropped + o->st.spans_failed + o->st.spans_rejected;
	return 0;
}

static void otlp_free(struct sp_exporter *e)
{
	struct otlp *o;

	if (!e)
		return;
	o = e->priv;
	if (o) {
		if (o->thread_started)
			otlp_flush(e);
		for (uint32_t i = 0; o->q && i < o->qn; i++)
			free(o->q[(o->qhead + i) % o->qcap].body);
		free(o->inflight.body);
		free(o->q);
		curl_slist_free_all(o->hdrs);
		if (o->curl)
			curl_easy_cleanup(o->curl);
		pthread_mutex_destroy(&o->mu);
		pthread_cond_destroy(&o->cv);
		free(o);
	}
	free(e);
}

void sp_otlp_exporter__stats(struct sp_exporter *e, struct sp_otlp_stats *out)
{
	struct otlp *o = e->priv;

	pthread_mutex_lock(&o->mu);
	*out = o->st;
	out->spans_queued_now = o->qspans;
	pthread_mutex_unlock(&o->mu);
}

/* The wording is what users (and tests/integration/otlp_cases.py) read. */
static void otlp_log_stats(struct sp_exporter *e, int level, bool final)
{
	struct sp_otlp_stats os;

	sp_otlp_exporter__stats(e, &os);
	sp_log(level,
	       "OTLP: %" PRIu64 " spans exported, %" PRIu64 " requests retried, %" PRIu64
	       " spans dropped (queue full or flush deadline), %" PRIu64
	       " rejected by the backend, %" PRIu64 " in refused requests, %" PRIu64
	       " still queued",
	       os.spans_exported, os.requests_retried, os.spans_dropped, os.spans_rejected,
	       os.spans_failed, final ? 0 : os.spans_queued_now);
}

struct sp_exporter *sp_otlp_exporter__new(const struct sp_otlp_config *cfg)
{
	struct sp_exporter *e = calloc(1, sizeof(*e));
	struct otlp *o = calloc(1, sizeof(*o));
	int err = ENOMEM;

	if (!e || !o)
		goto err_out;
	e->name = "otlp";
	e->export = otlp_export;
	e->flush = otlp_flush;
	e->free = otlp_free;
	e->log_stats = otlp_log_stats;
	e->priv = o;
	o->e = e;
	o->cfg = *cfg;
	pthread_mutex_init(&o->mu, NULL);
	pthread_cond_init(&o->cv, NULL);
	/* a request holds at least one span: that many slots always do */
	o->qcap = cfg->queue_spans < 4096 ? cfg->queue_spans : 4096;
	o->q = calloc(o->qcap, sizeof(*o->q));
	if (!o->q)
		goto err_out;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) || setup_curl(o))
		goto err_out;
	srandom((unsigned)sp_clock_mono_ns());
	err = pthread_create(&o->thread, NULL, sender, o);
	if (err)
		goto err_out;
	o->thread_started = true;
	return e;
err_out:
	sp_err("cannot start the OTLP exporter: %s", strerror(err));
	if (e)
		e->priv = o;
	else
		free(o);
	otlp_free(e);
	errno = err;
	return NULL;
}
