/*
 * What one client may hold, and for how long:
 *
 *   connections	at most max_connections in all and
 *			max_connections_per_client from one client (an IPv4
 *			address, or an IPv6 address's /64); past either the
 *			connection is closed at accept, before a byte is read
 *   time		a request's line and headers must be in within
 *			header_timeout_s of the connection's start or of the
 *			end of its previous request (an idle keep-alive
 *			connection ends then too); its body must then arrive
 *			at min_body_rate bytes a second on average, after a
 *			grace of header_timeout_s. libmicrohttpd's own idle
 *			timeout is reset by every byte, so a client sending a
 *			byte every few seconds would otherwise hold a
 *			connection for ever. A connection past its time is
 *			shut down by the sweeper thread.
 *   body bytes		bodies held in memory, counted from the size each
 *			request announces (or, chunked, as it grows), at most
 *			body_inflight_max in all and body_inflight_per_client
 *			from one client; past either 503 SERVER_BUSY with
 *			Retry-After, before the body is read.
 *
 * Every refusal is counted in metrics (carebase_http_refused_total).
 * The client table and the connection list are under one mutex; the
 * accept callback, the connection notifications, the body accounting and
 * the sweeper take it briefly.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "core/err.h"
#include "core/log.h"
#include "core/netaddr.h"
#include "core/util.h"
#include "http/http.h"
#include "http/http_int.h"

#define SWEEP_NS (250 * 1000 * 1000LL) /* the sweeper's period */

/* One client: its connections and body bytes (open addressing). */
struct client {
	char   key[HTTP_CLIENT_KEY_LEN]; /* "" = free */
	int    conns;
	size_t body;
};

/* One connection (libmicrohttpd's socket context). */
struct conn {
	struct conn *prev, *next; /* the sweeper's list */
	char	     key[HTTP_CLIENT_KEY_LEN];
	int	     fd;
	int	     cut; /* shut down by the sweeper */
	/* Written by the connection's thread without the mutex (the hot
	 * path), read by the sweeper under it (the list keeps c alive). */
	_Atomic int	phase;	    /* enum conn_phase */
	_Atomic int64_t since_ns;   /* of the phase */
	_Atomic size_t	body_got;   /* bytes of the body so far */
	_Atomic size_t	answer_len; /* bytes of the answer queued */
};

/* idle (or a request line trickling in), headers coming, body coming,
 * the handler (no deadline: the slow pool bounds its own wait), the
 * answer going out */
enum conn_phase {
	PHASE_IDLE = 0,
	PHASE_HEAD,
	PHASE_BODY,
	PHASE_BUSY,
	PHASE_ANSWER
};

struct conns {
	pthread_mutex_t mu;
	pthread_cond_t	cv;
	pthread_t	sweeper;
	int		sweeping, stop;
	struct client  *table;
	size_t		cap; /* power of two */
	struct conn    *head;
	int		open;
	size_t		body; /* bytes reserved in all */
};

static uint64_t	      key_hash(const char *);
static struct client *client_find(struct conns *, const char *, int);
static void	      client_drop(struct conns *, struct client *);
static void	     *sweep_main(void *);
static void	      sweep(struct http_server *, int64_t);

int
http_client_key(
    const struct sockaddr *sa, char *ip, size_t iplen, char *key, size_t keylen)
{
	struct netaddr a;

	ip[0] = key[0] = '\0';
	if (sa == NULL || netaddr_from_sockaddr(sa, &a) != OK)
		return (ERR_INVALID);
	netaddr_text(&a, ip, iplen);
	netaddr_key(&a, key, keylen);
	return (OK);
}

int
conn_init(struct http_server *srv)
{
	struct conns *cs;
	size_t	      want;

	if ((cs = calloc(1, sizeof(*cs))) == NULL)
		return (ERR_NOMEM);
	/* Room for every connection's client and then some: a table never
	 * more than half full probes little. */
	want = 2 * (size_t)srv->opts.max_connections + 16;
	for (cs->cap = 64; cs->cap < want; cs->cap *= 2)
		;
	if ((cs->table = calloc(cs->cap, sizeof(*cs->table))) == NULL) {
		free(cs);
		return (ERR_NOMEM);
	}
	pthread_mutex_init(&cs->mu, NULL);
	pthread_cond_init(&cs->cv, NULL);
	srv->conns = cs;
	if (pthread_create(&cs->sweeper, NULL, sweep_main, srv) != 0) {
		log_error("event=conn_sweeper_failed");
		return (ERR_INTERNAL);
	}
	cs->sweeping = 1;
	return (OK);
}

void
conn_fini(struct http_server *srv)
{
	struct conns *cs = srv->conns;
	struct conn  *c, *next;

	if (cs == NULL)
		return;
	if (cs->sweeping) {
		pthread_mutex_lock(&cs->mu);
		cs->stop = 1;
		pthread_cond_signal(&cs->cv);
		pthread_mutex_unlock(&cs->mu);
		pthread_join(cs->sweeper, NULL);
	}
	for (c = cs->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	pthread_cond_destroy(&cs->cv);
	pthread_mutex_destroy(&cs->mu);
	free(cs->table);
	free(cs);
	srv->conns = NULL;
}

/* FNV-1a: keys are addresses, chosen by no one but the network. */
static uint64_t
key_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (h);
}

/* The client's slot; with add, a free one is claimed (NULL when full). */
static struct client *
client_find(struct conns *cs, const char *key, int add)
{
	size_t i, n;

	if (key[0] == '\0')
		return (NULL); /* no address: not counted per client */
	i = (size_t)key_hash(key) & (cs->cap - 1);
	for (n = 0; n < cs->cap; n++, i = (i + 1) & (cs->cap - 1)) {
		if (cs->table[i].key[0] == '\0') {
			if (!add)
				return (NULL);
			snprintf(cs->table[i].key, sizeof(cs->table[i].key),
			    "%s", key);
			return (&cs->table[i]);
		}
		if (strcmp(cs->table[i].key, key) == 0)
			return (&cs->table[i]);
	}
	return (NULL);
}

/* Free a slot holding nothing, moving back the entries after it that
 * probed past it (deletion without tombstones). */
static void
client_drop(struct conns *cs, struct client *cl)
{
	size_t i = (size_t)(cl - cs->table), j, home;

	if (cl->conns > 0 || cl->body > 0)
		return;
	cl->key[0] = '\0';
	for (j = (i + 1) & (cs->cap - 1); cs->table[j].key[0] != '\0';
	     j = (j + 1) & (cs->cap - 1)) {
		home = (size_t)key_hash(cs->table[j].key) & (cs->cap - 1);
		/* Move j back to i when i lies on its probe path. */
		if ((j > i && (home <= i || home > j)) ||
		    (j < i && home <= i && home > j)) {
			cs->table[i] = cs->table[j];
			cs->table[j].key[0] = '\0';
			i = j;
		}
	}
}

/* MHD_OPTION_APPLY_POLICY: refuse past the connection limits. */
enum MHD_Result
conn_accept(void *cls, const struct sockaddr *sa, socklen_t len)
{
	struct http_server *srv = cls;
	struct conns	   *cs = srv->conns;
	struct client	   *cl;
	char		    ip[64], key[HTTP_CLIENT_KEY_LEN];
	int		    reason = 0;

	(void)len;
	http_client_key(sa, ip, sizeof(ip), key, sizeof(key));
	pthread_mutex_lock(&cs->mu);
	if (cs->open >= srv->opts.max_connections)
		reason = METRIC_REFUSED_CONNECTIONS;
	else if (srv->opts.max_connections_per_client > 0 &&
	    (cl = client_find(cs, key, 0)) != NULL &&
	    cl->conns >= srv->opts.max_connections_per_client)
		reason = METRIC_REFUSED_CONNECTIONS_CLIENT;
	pthread_mutex_unlock(&cs->mu);
	if (reason == 0)
		return (MHD_YES);
	metrics_refused(reason);
	return (MHD_NO);
}

/* MHD_OPTION_NOTIFY_CONNECTION: count the connection, list it. */
void
conn_notify(void *cls, struct MHD_Connection *mc, void **ctx,
    enum MHD_ConnectionNotificationCode code)
{
	struct http_server	       *srv = cls;
	struct conns		       *cs = srv->conns;
	const union MHD_ConnectionInfo *ci;
	struct client		       *cl;
	struct conn		       *c = *ctx;
	char				ip[64];

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		if ((c = calloc(1, sizeof(*c))) == NULL)
			return; /* not counted, not timed: rare and harmless */
		ci = MHD_get_connection_info(
		    mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		http_client_key(ci != NULL ? ci->client_addr : NULL, ip,
		    sizeof(ip), c->key, sizeof(c->key));
		ci = MHD_get_connection_info(
		    mc, MHD_CONNECTION_INFO_CONNECTION_FD);
		c->fd = ci != NULL ? ci->connect_fd : -1;
		c->since_ns = time_mono_ns();
		pthread_mutex_lock(&cs->mu);
		if ((cl = client_find(cs, c->key, 1)) != NULL)
			cl->conns++;
		cs->open++;
		c->next = cs->head;
		if (cs->head != NULL)
			cs->head->prev = c;
		cs->head = c;
		pthread_mutex_unlock(&cs->mu);
		metrics_connections(1);
		*ctx = c;
		return;
	}
	if (c == NULL)
		return;
	pthread_mutex_lock(&cs->mu);
	if ((cl = client_find(cs, c->key, 0)) != NULL) {
		cl->conns--;
		client_drop(cs, cl);
	}
	cs->open--;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		cs->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&cs->mu);
	metrics_connections(-1);
	free(c);
	*ctx = NULL;
}

void
conn_phase(struct hreq *h, int phase)
{
	struct conn *c = h->conn_state;

	if (c == NULL)
		return;
	switch (phase) {
	case CONN_LINE:
		c->phase = PHASE_HEAD;
		break;
	case CONN_HEAD_DONE:
		c->body_got = 0;
		c->since_ns = time_mono_ns();
		c->phase = h->body_coming ? PHASE_BODY : PHASE_BUSY;
		break;
	case CONN_BODY_DONE:
		c->phase = PHASE_BUSY;
		break;
	case CONN_REQUEST_DONE:
		/* The time first: the sweeper reads the phase, then it. */
		c->since_ns = time_mono_ns();
		c->phase = PHASE_IDLE;
		break;
	}
}

void
conn_answer(struct hreq *h, size_t len)
{
	struct conn *c = h->conn_state;

	if (c == NULL)
		return;
	c->answer_len = len;
	c->since_ns = time_mono_ns();
	c->phase = PHASE_ANSWER;
}

void
conn_body_got(struct hreq *h, size_t n)
{
	struct conn *c = h->conn_state;

	if (c != NULL)
		atomic_fetch_add(&c->body_got, n);
}

int
conn_body_reserve(struct hreq *h, size_t n)
{
	struct http_server *srv = h->srv;
	struct conns	   *cs = srv->conns;
	struct client	   *cl;
	int		    reason = 0;

	if (n == 0)
		return (OK);
	pthread_mutex_lock(&cs->mu);
	cl = client_find(cs, h->req.client_key, 1);
	if (cs->body + n > srv->opts.body_inflight_max)
		reason = METRIC_REFUSED_BODY_BYTES;
	else if ((cl == NULL && h->req.client_key[0] != '\0') ||
	    (cl != NULL && cl->body + n > srv->opts.body_inflight_per_client))
		reason = METRIC_REFUSED_BODY_BYTES_CLIENT;
	else {
		cs->body += n;
		if (cl != NULL)
			cl->body += n;
		h->body_reserved += n;
	}
	if (cl != NULL)
		client_drop(cs, cl);
	pthread_mutex_unlock(&cs->mu);
	if (reason == 0) {
		metrics_body_bytes((long)n);
		return (OK);
	}
	metrics_refused(reason);
	return (ERR_BUSY);
}

void
conn_body_release(struct hreq *h)
{
	struct conns  *cs = h->srv->conns;
	struct client *cl;
	size_t	       n = h->body_reserved;

	if (n == 0 || cs == NULL)
		return;
	pthread_mutex_lock(&cs->mu);
	cs->body -= n;
	if ((cl = client_find(cs, h->req.client_key, 0)) != NULL) {
		cl->body -= n < cl->body ? n : cl->body;
		client_drop(cs, cl);
	}
	pthread_mutex_unlock(&cs->mu);
	h->body_reserved = 0;
	metrics_body_bytes(-(long)n);
}

static void *
sweep_main(void *arg)
{
	struct http_server *srv = arg;
	struct conns	   *cs = srv->conns;
	struct timespec	    ts;

	pthread_mutex_lock(&cs->mu);
	while (!cs->stop) {
		time_deadline(&ts, CLOCK_REALTIME, SWEEP_NS / 1000000);
		pthread_cond_timedwait(&cs->cv, &cs->mu, &ts);
		if (!cs->stop)
			sweep(srv, time_mono_ns());
	}
	pthread_mutex_unlock(&cs->mu);
	return (NULL);
}

/*
 * Under the mutex: shut down every connection past its time. shutdown()
 * is safe beside libmicrohttpd's thread, which then reads the end of the
 * stream and closes the connection itself (the fd stays its own).
 */
static void
sweep(struct http_server *srv, int64_t now)
{
	static const struct linger abort_now = { 1, 0 };
	struct conns		  *cs = srv->conns;
	struct conn		  *c;
	int64_t			   head_ns, elapsed, grace_ns;
	double			   due;
	int			   reason;

	head_ns = (int64_t)srv->opts.header_timeout_s * 1000000000LL;
	grace_ns = head_ns;
	for (c = cs->head; c != NULL; c = c->next) {
		if (c->cut || c->fd < 0)
			continue;
		elapsed = now - c->since_ns;
		reason = 0;
		if (c->phase == PHASE_IDLE && elapsed > head_ns)
			reason = METRIC_REFUSED_IDLE;
		else if (c->phase == PHASE_HEAD && elapsed > head_ns)
			reason = METRIC_REFUSED_HEAD_TIMEOUT;
		else if (c->phase == PHASE_BODY && elapsed > grace_ns &&
		    srv->opts.min_body_rate > 0) {
			due = (double)(elapsed - grace_ns) / 1e9 *
			    (double)srv->opts.min_body_rate;
			if ((double)c->body_got < due)
				reason = METRIC_REFUSED_BODY_SLOW;
		} else if (c->phase == PHASE_ANSWER &&
		    srv->opts.min_body_rate > 0 &&
		    (double)(elapsed - grace_ns) / 1e9 *
			    (double)srv->opts.min_body_rate >
			(double)c->answer_len)
			reason = METRIC_REFUSED_ANSWER_SLOW;
		if (reason == 0)
			continue;
		c->cut = 1;
		/* An abort, not a close: what is still queued for a client
		 * that does not read is dropped (RST when libmicrohttpd
		 * closes the socket it then finds shut). */
		(void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &abort_now,
		    sizeof(abort_now));
		shutdown(c->fd, SHUT_RDWR);
		metrics_refused(reason);
		/* Idle keep-alive connections end here as a matter of
		 * course: only a request under way is worth a line. */
		if (reason != METRIC_REFUSED_IDLE)
			log_warn("event=request_cut reason=%s client=%s",
			    reason == METRIC_REFUSED_BODY_SLOW ? "body_too_slow"
				: reason == METRIC_REFUSED_ANSWER_SLOW
				? "answer_too_slow"
				: "head_timeout",
			    c->key);
	}
}
