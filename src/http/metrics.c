/*
 * HTTP metrics: request counters by route, method and status, a latency
 * histogram per route and an in-flight gauge. Counters are relaxed atomics
 * in an array sized once at start-up, so the hot path takes no lock; the
 * lock only orders start-up, shutdown and rendering.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "http/http.h"
#include "http/http_int.h"

static const int status_codes[] = { 200, 201, 202, 204, 206, 301, 302, 303, 304,
	307, 308, 400, 401, 403, 404, 405, 406, 409, 410, 412, 413, 414, 415,
	422, 429, 431, 500, 501, 502, 503, 504 };
#define NCODES	(int)(sizeof(status_codes) / sizeof(status_codes[0]))
#define NSTATUS (NCODES + 5) /* then "1xx".."5xx" for the rest */

static const double bucket_le[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
	0.05, 0.1, 0.25, 0.5, 1, 2.5, 5 };
#define NBUCKETS (int)(sizeof(bucket_le) / sizeof(bucket_le[0]))

static const char *const method_label[HTTP_METHOD_SLOTS] = { "GET", "POST",
	"PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "other" };

struct route_metrics {
	_Atomic uint64_t count[HTTP_METHOD_SLOTS][NSTATUS];
	_Atomic uint64_t bucket[NBUCKETS]; /* not cumulative */
	_Atomic uint64_t sum_ns;
	_Atomic uint64_t n;
};

static pthread_mutex_t	     metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static struct route_metrics *metrics; /* [0] = unmatched */
static char		   **metrics_names;
static int		     metrics_nroutes;
static _Atomic long	     metrics_in_flight;
static _Atomic uint64_t	     metrics_refusals[METRIC_REFUSED_MAX];
static _Atomic long	     metrics_open_connections;
static _Atomic long	     metrics_body_held;
static _Atomic int	     metrics_slow_waiting, metrics_slow_busy;
static _Atomic uint64_t	     metrics_slow_refusals[3]; /* SLOW_REFUSED_* */

/* carebase_http_refused_total's reason label, by METRIC_REFUSED_*. */
static const char *const refused_label[METRIC_REFUSED_MAX] = {
	[METRIC_REFUSED_CONNECTIONS] = "connections",
	[METRIC_REFUSED_CONNECTIONS_CLIENT] = "connections_per_client",
	[METRIC_REFUSED_BODY_BYTES] = "body_bytes",
	[METRIC_REFUSED_BODY_BYTES_CLIENT] = "body_bytes_per_client",
	[METRIC_REFUSED_IDLE] = "idle_timeout",
	[METRIC_REFUSED_HEAD_TIMEOUT] = "header_timeout",
	[METRIC_REFUSED_BODY_SLOW] = "body_too_slow",
	[METRIC_REFUSED_ANSWER_SLOW] = "answer_too_slow",
	[METRIC_REFUSED_BAD_HEADER] = "bad_header",
	[METRIC_REFUSED_TRANSPORT] = "unparsable_request",
};

static int status_slot(int);
static int method_index(int);
static int label_put(struct buf *, const char *);
static int status_label(int, char *, size_t);

int
metrics_init(const struct router *r)
{
	/* [0] unmatched, the patterns, then the pages (router_page_id) */
	int n = router_npatterns(r) + 2, i, rc = ERR_NOMEM;

	metrics_fini();
	pthread_mutex_lock(&metrics_lock);
	if ((metrics = calloc((size_t)n, sizeof(*metrics))) == NULL ||
	    (metrics_names = calloc((size_t)n, sizeof(char *))) == NULL)
		goto out;
	metrics_nroutes = n;
	for (i = 0; i < n; i++)
		if ((metrics_names[i] = strdup(router_pattern(r, i))) == NULL)
			goto out;
	rc = OK;
out:
	pthread_mutex_unlock(&metrics_lock);
	if (rc != OK)
		metrics_fini();
	return (rc);
}

void
metrics_fini(void)
{
	int i;

	pthread_mutex_lock(&metrics_lock);
	for (i = 0; metrics_names != NULL && i < metrics_nroutes; i++)
		free(metrics_names[i]);
	free(metrics_names);
	free(metrics);
	metrics_names = NULL;
	metrics = NULL;
	metrics_nroutes = 0;
	pthread_mutex_unlock(&metrics_lock);
}

void
metrics_inflight(int delta)
{
	atomic_fetch_add_explicit(
	    &metrics_in_flight, delta, memory_order_relaxed);
}

static int
status_slot(int status)
{
	int i;

	for (i = 0; i < NCODES; i++)
		if (status_codes[i] == status)
			return (i);
	if (status >= 100 && status < 600)
		return (NCODES + status / 100 - 1);
	return (NCODES + 4);
}

static int
status_label(int slot, char *out, size_t n)
{
	if (slot < NCODES)
		return (snprintf(out, n, "%d", status_codes[slot]));
	return (snprintf(out, n, "%dxx", slot - NCODES + 1));
}

static int
method_index(int method)
{
	int i;

	for (i = 0; i < HTTP_METHOD_SLOTS - 1; i++)
		if (method == (1 << i))
			return (i);
	return (HTTP_METHOD_SLOTS - 1);
}

void
metrics_observe(int route_id, int method, int status, int64_t dur_ns)
{
	struct route_metrics *m;
	double		      secs;
	int		      b;

	/* Set before the server starts and freed after it stops. */
	if (metrics == NULL || route_id < 0 || route_id >= metrics_nroutes)
		return;
	m = &metrics[route_id];
	if (dur_ns < 0)
		dur_ns = 0;
	atomic_fetch_add_explicit(
	    &m->count[method_index(method)][status_slot(status)], 1,
	    memory_order_relaxed);
	secs = (double)dur_ns / 1e9;
	for (b = 0; b < NBUCKETS && secs > bucket_le[b]; b++)
		;
	if (b < NBUCKETS)
		atomic_fetch_add_explicit(
		    &m->bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(
	    &m->sum_ns, (uint64_t)dur_ns, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->n, 1, memory_order_relaxed);
}

/* A label value, escaped per the text format 0.0.4. */
static int
label_put(struct buf *b, const char *s)
{
	int rc = OK;

	for (; *s != '\0' && rc == OK; s++) {
		if (*s == '\\')
			rc = buf_append(b, "\\\\", 2);
		else if (*s == '"')
			rc = buf_append(b, "\\\"", 2);
		else if (*s == '\n')
			rc = buf_append(b, "\\n", 2);
		else
			rc = buf_append(b, s, 1);
	}
	return (rc);
}

void
metrics_refused(int reason)
{
	if (reason > 0 && reason < METRIC_REFUSED_MAX)
		atomic_fetch_add_explicit(
		    &metrics_refusals[reason], 1, memory_order_relaxed);
}

void
metrics_connections(int delta)
{
	atomic_fetch_add_explicit(
	    &metrics_open_connections, delta, memory_order_relaxed);
}

void
metrics_body_bytes(long delta)
{
	atomic_fetch_add_explicit(
	    &metrics_body_held, delta, memory_order_relaxed);
}

void
metrics_slow_queue(int waiting)
{
	atomic_store_explicit(
	    &metrics_slow_waiting, waiting, memory_order_relaxed);
}

void
metrics_slow_running(int delta)
{
	atomic_fetch_add_explicit(
	    &metrics_slow_busy, delta, memory_order_relaxed);
}

void
metrics_slow_refused(int reason)
{
	if (reason >= 0 && reason <= SLOW_REFUSED_WAITED)
		atomic_fetch_add_explicit(
		    &metrics_slow_refusals[reason], 1, memory_order_relaxed);
}

int
http_metrics_render(struct buf *b)
{
	struct route_metrics *m;
	uint64_t	      v, cum, n, sum;
	char		      st[8];
	int		      r, i, j, rc = OK;

	pthread_mutex_lock(&metrics_lock);
	rc |= buf_puts(b,
	    "# HELP carebase_http_requests_total HTTP requests "
	    "by route pattern, method and status.\n"
	    "# TYPE carebase_http_requests_total counter\n");
	for (r = 0; metrics != NULL && r < metrics_nroutes; r++) {
		m = &metrics[r];
		for (i = 0; i < HTTP_METHOD_SLOTS; i++)
			for (j = 0; j < NSTATUS; j++) {
				v = atomic_load_explicit(
				    &m->count[i][j], memory_order_relaxed);
				if (v == 0)
					continue;
				status_label(j, st, sizeof(st));
				rc |= buf_puts(
				    b, "carebase_http_requests_total{route=\"");
				rc |= label_put(b, metrics_names[r]);
				rc |= buf_printf(b,
				    "\",method=\"%s\","
				    "status=\"%s\"} %llu\n",
				    method_label[i], st, (unsigned long long)v);
			}
	}
	rc |= buf_puts(b,
	    "# HELP carebase_http_request_duration_seconds "
	    "Time from request line to response sent.\n"
	    "# TYPE carebase_http_request_duration_seconds histogram\n");
	for (r = 0; metrics != NULL && r < metrics_nroutes; r++) {
		m = &metrics[r];
		n = atomic_load_explicit(&m->n, memory_order_relaxed);
		if (n == 0)
			continue;
		sum = atomic_load_explicit(&m->sum_ns, memory_order_relaxed);
		for (cum = 0, i = 0; i < NBUCKETS; i++) {
			cum += atomic_load_explicit(
			    &m->bucket[i], memory_order_relaxed);
			rc |= buf_puts(b,
			    "carebase_http_request_duration_"
			    "seconds_bucket{route=\"");
			rc |= label_put(b, metrics_names[r]);
			rc |= buf_printf(b, "\",le=\"%g\"} %llu\n",
			    bucket_le[i], (unsigned long long)cum);
		}
		if (cum > n)
			n = cum;
		rc |= buf_puts(b,
		    "carebase_http_request_duration_seconds_"
		    "bucket{route=\"");
		rc |= label_put(b, metrics_names[r]);
		rc |= buf_printf(
		    b, "\",le=\"+Inf\"} %llu\n", (unsigned long long)n);
		rc |= buf_puts(b,
		    "carebase_http_request_duration_seconds_sum"
		    "{route=\"");
		rc |= label_put(b, metrics_names[r]);
		rc |= buf_printf(b, "\"} %.9f\n", (double)sum / 1e9);
		rc |= buf_puts(b,
		    "carebase_http_request_duration_seconds_"
		    "count{route=\"");
		rc |= label_put(b, metrics_names[r]);
		rc |= buf_printf(b, "\"} %llu\n", (unsigned long long)n);
	}
	rc |= buf_printf(b,
	    "# HELP carebase_http_requests_in_flight Requests "
	    "accepted and not yet completed.\n"
	    "# TYPE carebase_http_requests_in_flight gauge\n"
	    "carebase_http_requests_in_flight %ld\n",
	    atomic_load_explicit(&metrics_in_flight, memory_order_relaxed));
	rc |= buf_puts(b,
	    "# HELP carebase_http_refused_total Connections and requests "
	    "refused or cut by the server's limits, by reason.\n"
	    "# TYPE carebase_http_refused_total counter\n");
	for (i = 1; i < METRIC_REFUSED_MAX; i++)
		rc |= buf_printf(b,
		    "carebase_http_refused_total{reason=\"%s\"} %llu\n",
		    refused_label[i],
		    (unsigned long long)atomic_load_explicit(
			&metrics_refusals[i], memory_order_relaxed));
	rc |= buf_printf(b,
	    "# HELP carebase_http_connections_open Connections open now.\n"
	    "# TYPE carebase_http_connections_open gauge\n"
	    "carebase_http_connections_open %ld\n"
	    "# HELP carebase_http_body_bytes_held Bytes of request bodies "
	    "held (announced or received) now.\n"
	    "# TYPE carebase_http_body_bytes_held gauge\n"
	    "carebase_http_body_bytes_held %ld\n",
	    atomic_load_explicit(
		&metrics_open_connections, memory_order_relaxed),
	    atomic_load_explicit(&metrics_body_held, memory_order_relaxed));
	rc |= buf_printf(b,
	    "# HELP carebase_http_slow_queue_length Slow requests (sign-ins, "
	    "uploads, exports, reports) waiting for a slow-pool thread.\n"
	    "# TYPE carebase_http_slow_queue_length gauge\n"
	    "carebase_http_slow_queue_length %d\n"
	    "# HELP carebase_http_slow_running Slow requests being handled "
	    "now.\n"
	    "# TYPE carebase_http_slow_running gauge\n"
	    "carebase_http_slow_running %d\n"
	    "# HELP carebase_http_slow_refused_total Slow requests answered "
	    "503 SERVER_BUSY: the queue was full (slow_queue), the server "
	    "was stopping, or one waited longer than request_timeout_s.\n"
	    "# TYPE carebase_http_slow_refused_total counter\n"
	    "carebase_http_slow_refused_total{reason=\"full\"} %llu\n"
	    "carebase_http_slow_refused_total{reason=\"stopping\"} %llu\n"
	    "carebase_http_slow_refused_total{reason=\"waited_too_long\"} "
	    "%llu\n",
	    atomic_load_explicit(&metrics_slow_waiting, memory_order_relaxed),
	    atomic_load_explicit(&metrics_slow_busy, memory_order_relaxed),
	    (unsigned long long)atomic_load_explicit(
		&metrics_slow_refusals[0], memory_order_relaxed),
	    (unsigned long long)atomic_load_explicit(
		&metrics_slow_refusals[1], memory_order_relaxed),
	    (unsigned long long)atomic_load_explicit(
		&metrics_slow_refusals[2], memory_order_relaxed));
	pthread_mutex_unlock(&metrics_lock);
	return (rc == OK ? OK : ERR_TOO_LARGE);
}
