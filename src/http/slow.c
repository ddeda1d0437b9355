/*
 * The slow pool: handlers of ROUTE_SLOW routes (password hashing, large
 * bodies, exports, reports) run on threads of their own, off the event
 * threads that read connections: one slow handler there would stall
 * every connection of its thread. The connection is suspended while its
 * request waits and runs, and resumed with the answer set. The queue is
 * bounded in requests and in body bytes; past either, 503 SERVER_BUSY
 * with Retry-After.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <microhttpd.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "http/http_int.h"

static void  slow_refused(struct http_server *, int, int);
static void *slow_main(void *);

int
slow_start(struct http_server *srv, int n)
{
	int i;

	pthread_mutex_init(&srv->slow_mu, NULL);
	pthread_cond_init(&srv->slow_cv, NULL);
	srv->slow_init = 1;
	if ((srv->slow_thr = calloc((size_t)n, sizeof(pthread_t))) == NULL)
		return (ERR_NOMEM);
	for (i = 0; i < n; i++) {
		if (pthread_create(&srv->slow_thr[i], NULL, slow_main, srv) !=
		    0) {
			log_error("event=slow_pool_failed threads=%d", i);
			return (ERR_INTERNAL);
		}
		srv->nslow++;
	}
	return (OK);
}

/*
 * From now on new slow requests are refused and queued ones answered 503
 * without running; wait for the handlers already running (a suspended
 * connection must be resumed before the daemon stops). The mutex stays
 * until server_free: event threads may still call slow_push.
 */
void
slow_stop(struct http_server *srv)
{
	int i;

	if (!srv->slow_init || srv->slow_joined)
		return;
	pthread_mutex_lock(&srv->slow_mu);
	srv->slow_stop = 1;
	pthread_cond_broadcast(&srv->slow_cv);
	pthread_mutex_unlock(&srv->slow_mu);
	for (i = 0; i < srv->nslow; i++)
		pthread_join(srv->slow_thr[i], NULL);
	srv->slow_joined = 1;
}

/* A warn line at most once a second however many are refused. */
static void
slow_refused(struct http_server *srv, int stopping, int waiting)
{
	int64_t now = time_mono_ns(), last;
	long	n;

	metrics_slow_refused(
	    stopping ? SLOW_REFUSED_STOPPING : SLOW_REFUSED_FULL);
	atomic_fetch_add(&srv->slow_refused, 1);
	last = atomic_load(&srv->slow_warned_ns);
	if (now - last < 1000000000LL ||
	    !atomic_compare_exchange_strong(&srv->slow_warned_ns, &last, now))
		return;
	n = atomic_exchange(&srv->slow_refused, 0);
	log_warn("event=slow_pool_refused reason=%s refused=%ld waiting=%d",
	    stopping ? "stopping" : "full", n, waiting);
}

int
slow_push(struct http_server *srv, struct hreq *h)
{
	int stopping, waiting;

	pthread_mutex_lock(&srv->slow_mu);
	stopping = srv->slow_stop;
	waiting = srv->slow_waiting;
	if (srv->nslow == 0 || stopping || waiting >= srv->slow_max ||
	    (waiting > 0 && srv->slow_bytes + h->body.cap > SLOW_QUEUE_BYTES)) {
		pthread_mutex_unlock(&srv->slow_mu);
		slow_refused(srv, stopping, waiting);
		return (ERR_BUSY);
	}
	h->slow_next = NULL;
	h->slow_since_ns = time_mono_ns();
	if (srv->slow_tail != NULL)
		srv->slow_tail->slow_next = h;
	else
		srv->slow_head = h;
	srv->slow_tail = h;
	srv->slow_waiting++;
	srv->slow_bytes += h->body.cap;
	metrics_slow_queue(srv->slow_waiting);
	pthread_cond_signal(&srv->slow_cv);
	pthread_mutex_unlock(&srv->slow_mu);
	return (OK);
}

static void *
slow_main(void *arg)
{
	struct http_server *srv = arg;
	struct hreq	   *h;
	int64_t		    waited;
	int		    stopping;

	for (;;) {
		pthread_mutex_lock(&srv->slow_mu);
		while (srv->slow_head == NULL && !srv->slow_stop)
			pthread_cond_wait(&srv->slow_cv, &srv->slow_mu);
		if ((h = srv->slow_head) == NULL) { /* stopping, drained */
			pthread_mutex_unlock(&srv->slow_mu);
			return (NULL);
		}
		if ((srv->slow_head = h->slow_next) == NULL)
			srv->slow_tail = NULL;
		srv->slow_waiting--;
		srv->slow_bytes -= h->body.cap;
		metrics_slow_queue(srv->slow_waiting);
		stopping = srv->slow_stop;
		pthread_mutex_unlock(&srv->slow_mu);
		/*
		 * Not run when the server is stopping, or when it waited
		 * longer than a client waits (libmicrohttpd does not time
		 * out a suspended connection, nor see its client leave).
		 */
		waited = time_mono_ns() - h->slow_since_ns;
		if (stopping ||
		    waited > (int64_t)srv->opts.timeout_s * 1000000000LL) {
			h->retry_after = 1;
			metrics_slow_refused(stopping ? SLOW_REFUSED_STOPPING
						      : SLOW_REFUSED_WAITED);
			hreq_fail(h, ERR_BUSY, "SERVER_BUSY",
			    stopping ? "The server is shutting down."
				     : "The request "
				       "waited too long behind other slow "
				       "requests.");
		}
		metrics_slow_running(1);
		hreq_dispatch(h);
		metrics_slow_running(-1);
		h->slow = 2;
		/* libmicrohttpd's lock orders this after the writes above. */
		MHD_resume_connection(h->mhd);
	}
}
