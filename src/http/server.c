/*
 * The libmicrohttpd daemon and the life of one request:
 *
 *   URI log callback	request state made (arena from the thread's cache),
 *			raw target split into path and query
 *   1st access call	headers: id, client address, CORS, rate limit,
 *			route, Content-Length and Content-Type checks
 *   data calls		body appended to a capped buffer (or drained)
 *   last access call	JSON parsed, handler run, response queued; for a
 *			ROUTE_SLOW route the connection is suspended and
 *			the handler runs on the slow pool, which resumes it:
 *			the access call after that queues the response
 *   completed		log line, metrics, state freed (aborts too)
 *
 * A response is never queued on the first call: libmicrohttpd 0.9.75 then
 * drops keep-alive. A body sent to a route that takes none (neither
 * ROUTE_JSON_BODY nor ROUTE_RAW_BODY) is a 400 with code BODY_NOT_ALLOWED.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/netaddr.h"
#include "core/util.h"
#include "http/http.h"
#include "http/http_int.h"
#include "store/store.h"

/*
 * libmicrohttpd's per-connection pool holds the request line and headers
 * and the response head; it is zeroed after every request, so it is kept
 * no larger than the bound needs. Heads over CONFIG_MAX_HEAD_BYTES are
 * answered 431 by hreq_begin, heads over the pool by libmicrohttpd; a head
 * within a few hundred bytes of the pool's size leaves no room for any
 * answer and libmicrohttpd closes the connection.
 */
#define SERVER_MEMORY_LIMIT (CONFIG_MAX_HEAD_BYTES + 8192)
#define SERVER_PEM_MAX	    (1024 * 1024)
#define SERVER_RL_SLOTS	    16384
#define CORS_ALLOW_HEADERS  "Authorization, Content-Type, If-Match, X-Request-Id"
#define CORS_MAX_AGE	    "600"
#define HSTS_VALUE	    "max-age=31536000; includeSubDomains"

struct http_server {
	struct MHD_Daemon      *daemon;
	struct router	       *router;
	struct ratelimit       *rl;
	struct http_server_opts opts; /* strings borrowed */
	char		       *cert; /* PEM, TLS only */
	char		       *key;  /* PEM, wiped on free */
	size_t			keylen;
	size_t			body_limit;
	size_t			large_body_limit; /* ROUTE_LARGE_BODY */
	int			port;
	_Atomic long		active; /* created, not completed */
	/* The slow pool: ROUTE_SLOW handlers, off the event threads. */
	pthread_mutex_t slow_mu;
	pthread_cond_t	slow_cv;
	struct hreq    *slow_head, *slow_tail;
	int		slow_waiting; /* queued, not yet started */
	int		slow_max;     /* queue bound */
	size_t		slow_bytes;   /* bodies of the queued ones */
	int		slow_stop;    /* refuse new, answer queued 503 */
	int		slow_joined;
	int		slow_init; /* mutex and cv made */
	int		nslow;	   /* threads started */
	pthread_t      *slow_thr;
	_Atomic long	slow_refused; /* since the last warn line */
	_Atomic int64_t slow_warned_ns;
};

/* Bodies waiting in the slow queue at most, beyond the first request. */
#define SLOW_QUEUE_BYTES ((size_t)256 * 1024 * 1024)

static const struct route_table *route_tables[HTTP_MAX_TABLES];
static size_t			 nroute_tables;
/* Per table, the routes' parsed api members (null when none). */
static json_t *route_apis[HTTP_MAX_TABLES];

static void *server_uri_log(void *, const char *, struct MHD_Connection *);
static enum MHD_Result server_access(void *, struct MHD_Connection *,
    const char *, const char *, const char *, const char *, size_t *, void **);
static void	       server_completed(
	       void *, struct MHD_Connection *, void **, enum MHD_RequestTerminationCode);
static void server_mhd_log(void *, const char *, va_list)
    __attribute__((format(printf, 2, 0)));
static void hreq_fail(struct hreq *, int, const char *, const char *);
static void hreq_begin(struct hreq *, const char *);
static enum MHD_Result head_add(
    void *, enum MHD_ValueKind, const char *, const char *);
static void	       hreq_client(struct hreq *, char *, size_t);
static enum MHD_Result forwarded_add(
    void *, enum MHD_ValueKind, const char *, const char *);
static void	       hreq_body(struct hreq *, const char *, size_t);
static void	       hreq_dispatch(struct hreq *);
static void	       hreq_options(struct hreq *);
static enum MHD_Result hreq_queue(struct hreq *);
static int	       rate_exempt(const char *);
static int	       slow_start(struct http_server *, int);
static void	       slow_stop(struct http_server *);
static int	       slow_push(struct http_server *, struct hreq *);
static void	      *slow_main(void *);
static int	       pem_read(const char *, char **, size_t *);
static void	       server_free(struct http_server *);

/* Is v an object whose keys are HTTP statuses from lo to hi? */
static int
api_statuses(json_t *v, int lo, int hi)
{
	const char *k;
	json_t	   *x;
	int64_t	    n;

	if (!json_is_object(v))
		return (0);
	json_object_foreach(v, k, x)
	{
		if (strlen(k) != 3 || parse_int64(k, lo, hi, &n) != 0)
			return (0);
	}
	return (1);
}

/* The route's api text, parsed and checked; NULL (and a log line) when
 * it will not do. */
static json_t *
api_parse(const char *module, const struct route *rt)
{
	json_error_t jerr;
	json_t	    *a, *v, *x;
	const char  *k, *ik, *why = NULL;

	if ((a = json_loads(rt->api, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		log_error("event=route_api_invalid module=%s route=\"%s\" "
			  "error=\"%s at %d:%d\"",
		    module, rt->pattern, jerr.text, jerr.line, jerr.column);
		return (NULL);
	}
	if (!json_is_object(a))
		why = "not an object";
	json_object_foreach(a, k, v)
	{
		if (why != NULL)
			break;
		if (strcmp(k, "body") == 0) {
			if (!json_is_object(v))
				why = "body is not a schema";
		} else if (strcmp(k, "content") == 0) {
			json_object_foreach(v, ik, x)
			{
				if (strchr(ik, '/') == NULL ||
				    !json_is_object(x))
					why = "content is not {type: schema}";
			}
			if (!json_is_object(v))
				why = "content is not {type: schema}";
		} else if (strcmp(k, "answers") == 0) {
			if (!api_statuses(v, 100, 399))
				why = "answers are not {1xx-3xx: answer}";
			json_object_foreach(v, ik, x)
			{
				if (!json_is_string(
					json_object_get(x, "description")))
					why = "an answer has no description";
			}
		} else if (strcmp(k, "problems") == 0) {
			if (!api_statuses(v, 400, 599))
				why = "problems are not {4xx-5xx: why}";
			json_object_foreach(v, ik, x)
			{
				if (!json_is_string(x))
					why = "problems are not {4xx-5xx: why}";
			}
		} else
			why = "an unknown member";
	}
	if (why != NULL) {
		log_error("event=route_api_invalid module=%s route=\"%s\" "
			  "error=\"%s\"",
		    module, rt->pattern, why);
		json_decref(a);
		return (NULL);
	}
	return (a);
}

int
http_routes_add(const struct route_table *t)
{
	json_t *apis, *a;
	size_t	i;

	if (t == NULL || nroute_tables == HTTP_MAX_TABLES)
		return (ERR_CONFIG);
	if ((apis = json_array()) == NULL)
		return (ERR_NOMEM);
	for (i = 0; i < t->nroutes; i++) {
		a = json_null();
		if (t->routes[i].api != NULL &&
		    (a = api_parse(t->module, &t->routes[i])) == NULL) {
			json_decref(apis);
			return (ERR_CONFIG);
		}
		json_array_append_new(apis, a);
	}
	route_apis[nroute_tables] = apis;
	route_tables[nroute_tables++] = t;
	return (OK);
}

json_t *
http_route_api(const struct route_table *t, size_t i)
{
	size_t j;

	for (j = 0; j < nroute_tables; j++)
		if (route_tables[j] == t)
			return (json_is_object(json_array_get(route_apis[j], i))
				? json_array_get(route_apis[j], i)
				: NULL);
	return (NULL);
}

const struct route_table *const *
http_routes(size_t *n)
{
	*n = nroute_tables;
	return (route_tables);
}

/* Request lifecycle */

static void *
server_uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct http_server *srv = cls;
	struct arena	   *a;
	struct hreq	   *h;
	const char	   *q;

	if ((a = http_arena_get()) == NULL)
		return (NULL);
	if ((h = arena_alloc(a, sizeof(*h))) == NULL) {
		http_arena_put(a);
		return (NULL);
	}
	h->start_ns = time_mono_ns();
	h->srv = srv;
	h->mhd = c;
	h->req.arena = a;
	h->req.conn = h;
	h->req.db = srv->opts.db;
	h->req.method_name = "-";
	buf_init(&h->body, srv->body_limit); /* the route's, once known */
	if ((q = strchr(uri, '?')) != NULL) {
		h->req.path = arena_strndup(a, uri, (size_t)(q - uri));
		h->query = arena_strdup(a, q + 1);
	} else
		h->req.path = arena_strdup(a, uri);
	if (h->req.path == NULL)
		h->req.path = "";
	atomic_fetch_add(&srv->active, 1);
	metrics_inflight(1);
	return (h);
}

static enum MHD_Result
server_access(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct hreq *h = *con_cls;

	if (h == NULL)
		return (MHD_NO); /* no memory for the state */
	if (!h->started) {
		h->started = 1;
		hreq_begin(h, method);
		return (MHD_YES);
	}
	if (*upload_data_size != 0) {
		hreq_body(h, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return (MHD_YES);
	}
	if (h->queued)
		return (MHD_YES);
	if (h->slow == 2) /* back from the slow pool */
		return (hreq_queue(h));
	if (h->slow == 1) /* still there (not expected) */
		return (MHD_YES);
	if (h->rt != NULL && (h->flags & ROUTE_SLOW) && h->err == 0 &&
	    !h->options) {
		h->slow = 1;
		MHD_suspend_connection(c);
		if (slow_push(h->srv, h) == OK)
			return (MHD_YES);
		MHD_resume_connection(c);
		h->slow = 0;
		h->retry_after = 1;
		hreq_fail(h, ERR_BUSY, "SERVER_BUSY",
		    h->srv->slow_stop ? "The server is shutting down."
				      : "The server is busy "
					"with slow requests (sign-ins, "
					"uploads, exports); try "
					"again in a moment.");
	}
	hreq_dispatch(h);
	return (hreq_queue(h));
}

/* The slow pool */

static int
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
static void
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

	atomic_fetch_add(&srv->slow_refused, 1);
	last = atomic_load(&srv->slow_warned_ns);
	if (now - last < 1000000000LL ||
	    !atomic_compare_exchange_strong(&srv->slow_warned_ns, &last, now))
		return;
	n = atomic_exchange(&srv->slow_refused, 0);
	log_warn("event=slow_pool_refused reason=%s refused=%ld waiting=%d",
	    stopping ? "stopping" : "full", n, waiting);
}

static int
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
			hreq_fail(h, ERR_BUSY, "SERVER_BUSY",
			    stopping ? "The server is shutting down."
				     : "The request "
				       "waited too long behind other slow "
				       "requests.");
		}
		hreq_dispatch(h);
		h->slow = 2;
		/* libmicrohttpd's lock orders this after the writes above. */
		MHD_resume_connection(h->mhd);
	}
}

static void
server_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct hreq	   *h = *con_cls;
	struct request	   *req;
	char		    qpath[256];
	int64_t		    dur;
	int		    status;

	if (h == NULL)
		return;
	*con_cls = NULL;
	req = &h->req;
	dur = time_mono_ns() - h->start_ns;
	/* A slow request answered while its client left still says how
	 * it ended. */
	status =
	    h->queued || (h->slow == 2 && req->responded) ? req->status : 0;
	if (h->queued)
		metrics_observe(h->route_id, req->method, status, dur);
	if (log_threshold <= LOG_INFO)
		log_msg(LOG_INFO,
		    "event=request id=%s method=%s route=%s "
		    "path=%s status=%d bytes=%zu dur_us=%lld ip=%s%s",
		    req->id[0] ? req->id : "-", req->method_name,
		    h->route_id > 0 ? router_pattern(srv->router, h->route_id)
				    : "-",
		    log_quote(qpath, sizeof(qpath), req->path), status,
		    h->queued ? req->resp_len : 0, (long long)(dur / 1000),
		    req->ip[0] ? req->ip : "-",
		    toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? ""
							       : " aborted=1");
	json_decref(req->json);
	free(req->resp_owned);
	buf_free(&h->body);
	metrics_inflight(-1);
	http_arena_put(req->arena);
	atomic_fetch_sub(&srv->active, 1);
}

static void
hreq_fail(struct hreq *h, int rc, const char *code, const char *detail)
{
	if (h->err != 0)
		return; /* the first problem wins */
	h->err = rc;
	h->err_code = code;
	h->err_detail = detail;
}

static int
rate_exempt(const char *path)
{
	return (strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0 ||
	    strcmp(path, "/metrics") == 0);
}

/*
 * Client address into req->ip, and the rate-limit key (IPv6: its /64):
 * the peer's, or, when the peer is a trusted proxy, the one its
 * X-Forwarded-For names (core/netaddr.h). Every X-Forwarded-For header
 * counts, joined in order.
 */
static void
hreq_client(struct hreq *h, char *key, size_t keylen)
{
	const union MHD_ConnectionInfo *ci;
	struct netaddr			peer, client;
	struct buf			xff;

	key[0] = '\0';
	ci =
	    MHD_get_connection_info(h->mhd, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || netaddr_from_sockaddr(ci->client_addr, &peer) != OK)
		return;
	client = peer;
	if (netaddr_is_proxy(&peer)) {
		buf_init(&xff, CONFIG_MAX_HEAD_BYTES);
		MHD_get_connection_values(
		    h->mhd, MHD_HEADER_KIND, forwarded_add, &xff);
		netaddr_client(&peer, xff.data, &client);
		buf_free(&xff);
	}
	netaddr_text(&client, h->req.ip, sizeof(h->req.ip));
	netaddr_key(&client, key, keylen);
}

/* Append an X-Forwarded-For value to the buf at arg, comma first. */
static enum MHD_Result
forwarded_add(
    void *arg, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct buf *b = arg;

	if (value == NULL || strcasecmp(key, "X-Forwarded-For") != 0)
		return (MHD_YES);
	if ((b->len > 0 && buf_append(b, ",", 1) != OK) ||
	    buf_append(b, value, strlen(value)) != OK)
		return (MHD_NO);
	return (MHD_YES);
}

/* Headers are in: decide everything that does not need the body. */
static enum MHD_Result
head_add(void *arg, enum MHD_ValueKind kind, const char *key, const char *value)
{
	size_t *n = arg;

	*n += strlen(key) + (value != NULL ? strlen(value) : 0) + 4;
	return (MHD_YES);
}

static void
hreq_begin(struct hreq *h, const char *method)
{
	struct http_server *srv = h->srv;
	struct request	   *req = &h->req;
	struct router_match m;
	const char	   *v;
	char		    key[64];
	unsigned long long  clen = 0;
	int		    rc, retry;

	/*
	 * The head must fit libmicrohttpd's connection pool with room for
	 * the answer's own head: past the bound it is refused here, in
	 * words, rather than left to fail for want of room.
	 */
	h->head_bytes = strlen(method) + strlen(req->path) +
	    (h->query != NULL ? strlen(h->query) + 1 : 0) + 16;
	MHD_get_connection_values(
	    h->mhd, MHD_HEADER_KIND, head_add, &h->head_bytes);
	req->method = http_method_parse(method);
	req->method_name =
	    req->method ? method : arena_strndup(req->arena, method, 16);
	if (req->method_name == NULL)
		req->method_name = "?";
	v = MHD_lookup_connection_value(
	    h->mhd, MHD_HEADER_KIND, "X-Request-Id");
	if (http_request_id_valid(v))
		strlcpy_cb(req->id, v, sizeof(req->id));
	else
		uuid_v7(req->id);
	hreq_client(h, key, sizeof(key));
	strlcpy_cb(req->client_key, key, sizeof(req->client_key));
	v = MHD_lookup_connection_value(h->mhd, MHD_HEADER_KIND, "Origin");
	if (v != NULL && http_origin_allowed(srv->opts.cors_origins, v))
		h->origin = v;

	if (h->head_bytes > CONFIG_MAX_HEAD_BYTES) {
		hreq_fail(h, ERR_HEAD_TOO_LARGE, NULL,
		    "The request line and "
		    "headers are over 24 KiB.");
		return;
	}
	if (srv->rl != NULL && key[0] != '\0' && !rate_exempt(req->path) &&
	    !ratelimit_take(srv->rl, key, time_mono_ns(), &retry)) {
		h->retry_after = retry;
		hreq_fail(h, ERR_RATE_LIMIT, NULL, "Too many requests.");
	}

	rc = router_match(srv->router, req->arena, req->path, req->method, &m);
	h->route_id = m.route_id;
	h->allow = m.allow;
	switch (rc) {
	case OK:
		h->rt = m.route;
		h->flags = m.route->flags;
		req->route = m.pattern;
		req->route_arg = m.route->arg;
		memcpy(req->params, m.params, sizeof(req->params));
		req->nparams = m.nparams;
		break;
	case ERR_METHOD:
		if (req->method == HTTP_OPTIONS)
			h->options = 1;
		else
			hreq_fail(h, ERR_METHOD, NULL,
			    "Method not allowed on this path.");
		break;
	case ERR_MALFORMED:
		hreq_fail(h, ERR_MALFORMED, "MALFORMED_PATH",
		    "The request path is not acceptable.");
		break;
	case ERR_NOMEM:
		hreq_fail(h, ERR_NOMEM, NULL, "");
		break;
	default:
		hreq_fail(h, ERR_NOT_FOUND, NULL, "No such resource.");
		break;
	}
	if (h->err != 0 || h->options)
		return;

	v = MHD_lookup_connection_value(
	    h->mhd, MHD_HEADER_KIND, "Content-Length");
	if (v != NULL)
		clen = strtoull(v, NULL, 10);
	if (h->flags & ROUTE_LARGE_BODY)
		h->body.max = srv->large_body_limit;
	if (clen > h->body.max)
		hreq_fail(h, ERR_TOO_LARGE, NULL,
		    "The request body is over the limit.");
	else if (clen > 0 && !(h->flags & (ROUTE_JSON_BODY | ROUTE_RAW_BODY)))
		hreq_fail(h, ERR_MALFORMED, "BODY_NOT_ALLOWED",
		    "This route takes no request body.");
	else if ((h->flags & ROUTE_JSON_BODY) &&
	    !http_content_type_json(MHD_lookup_connection_value(
		h->mhd, MHD_HEADER_KIND, "Content-Type")))
		hreq_fail(h, ERR_MEDIA_TYPE, NULL,
		    "Content-Type must be application/json.");
	else if (clen > 0 && buf_reserve(&h->body, (size_t)clen) != OK)
		/* The announced size at once (within the limit): a large
		 * batch is not copied again and again as it grows. Pages
		 * are only touched as the body arrives. */
		hreq_fail(h, ERR_NOMEM, NULL, "");
}

static void
hreq_body(struct hreq *h, const char *data, size_t len)
{
	int rc;

	if (h->err != 0 || h->options)
		return; /* drain and ignore */
	if (!(h->flags & (ROUTE_JSON_BODY | ROUTE_RAW_BODY))) {
		hreq_fail(h, ERR_MALFORMED, "BODY_NOT_ALLOWED",
		    "This route takes no request body.");
		return;
	}
	if ((rc = buf_append(&h->body, data, len)) != OK) {
		hreq_fail(h, rc, NULL, "The request body is over the limit.");
		buf_free(&h->body);
	}
}

/* The whole request is in: parse the body and run the handler. */
static void
hreq_dispatch(struct hreq *h)
{
	struct request *req = &h->req;
	json_error_t	jerr;

	if (h->err != 0) {
		http_problem(req, h->err, h->err_code, "%s", h->err_detail);
		return;
	}
	if (h->options) {
		hreq_options(h);
		return;
	}
	if (h->body.len > 0) {
		req->body = h->body.data;
		req->body_len = h->body.len;
	}
	if (h->flags & ROUTE_JSON_BODY) {
		if (req->body_len == 0) {
			http_problem(req, ERR_MALFORMED, NULL,
			    "A JSON request body is required.");
			return;
		}
		if (http_json_depth(req->body, req->body_len) >
		    HTTP_MAX_JSON_DEPTH) {
			http_problem(req, ERR_MALFORMED, NULL,
			    "JSON nested deeper than %d levels.",
			    HTTP_MAX_JSON_DEPTH);
			return;
		}
		req->json = json_loadb(
		    req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
		if (req->json == NULL) {
			http_problem(req, ERR_MALFORMED, NULL,
			    "Invalid JSON at line %d, column %d: %s", jerr.line,
			    jerr.column, jerr.text);
			return;
		}
	}
	h->rt->handler(req);
	http_read_tx_end(req);
	if (!req->responded)
		http_problem(
		    req, ERR_INTERNAL, NULL, "handler set no response");
}

void
http_read_tx_end(struct request *req)
{
	if (req->tx != NULL) {
		store_tx_rollback(req->tx);
		req->tx = NULL;
	}
}

int
http_read_tx(struct request *req, struct tx **out)
{
	int rc;

	if (req->tx == NULL &&
	    (rc = store_tx_begin(req->db, STORE_TX_READ, &req->tx)) != OK) {
		req->tx = NULL;
		return (rc);
	}
	*out = req->tx;
	return (OK);
}

/* OPTIONS on a known path: CORS preflight or a plain Allow. */
static void
hreq_options(struct hreq *h)
{
	struct request *req = &h->req;
	char		allow[96];

	http_allow_format(h->allow, allow, sizeof(allow));
	http_send(req, 204, NULL, NULL, 0);
	if (h->origin != NULL &&
	    http_header(req, "Access-Control-Request-Method") != NULL) {
		http_header_add(req, "Access-Control-Allow-Methods", allow);
		http_header_add(
		    req, "Access-Control-Allow-Headers", CORS_ALLOW_HEADERS);
		http_header_add(req, "Access-Control-Max-Age", CORS_MAX_AGE);
	}
}

static enum MHD_Result
hreq_queue(struct hreq *h)
{
	struct request	    *req = &h->req;
	struct MHD_Response *r;
	enum MHD_Result	     ret;
	char		     allow[96], num[16];
	int		     i, cache = 0, problem;

	r = MHD_create_response_from_buffer(
	    req->status == 204 ? 0 : req->resp_len,
	    (void *)(uintptr_t)req->resp_body,
	    req->resp_owned != NULL ? MHD_RESPMEM_MUST_FREE
				    : MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return (MHD_NO);
	req->resp_owned = NULL; /* libmicrohttpd frees it now */
	problem = req->content_type != NULL &&
	    strcmp(req->content_type, "application/problem+json") == 0;
	if (req->content_type != NULL && req->status != 204)
		MHD_add_response_header(r, "Content-Type", req->content_type);
	MHD_add_response_header(r, "X-Request-Id", req->id);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	if (h->srv->cert != NULL)
		MHD_add_response_header(
		    r, "Strict-Transport-Security", HSTS_VALUE);
	if (h->origin != NULL) {
		MHD_add_response_header(
		    r, "Access-Control-Allow-Origin", h->origin);
		MHD_add_response_header(r, "Vary", "Origin");
		MHD_add_response_header(r, "Access-Control-Expose-Headers",
		    "X-Request-Id, Retry-After");
	}
	if (req->status == 405 || h->options)
		MHD_add_response_header(r, "Allow",
		    http_allow_format(h->allow, allow, sizeof(allow)));
	if ((req->status == 429 || req->status == 503) && h->retry_after > 0) {
		snprintf(num, sizeof(num), "%d", h->retry_after);
		MHD_add_response_header(r, "Retry-After", num);
	}
	for (i = 0; i < req->nresp_hdrs; i++) {
		if (strcasecmp(req->resp_hdr_name[i], "Cache-Control") == 0)
			cache = 1;
		MHD_add_response_header(
		    r, req->resp_hdr_name[i], req->resp_hdr_value[i]);
	}
	if (!cache && (problem || strncmp(req->path, "/v1/", 4) == 0))
		MHD_add_response_header(r, "Cache-Control", "no-store");
	ret = MHD_queue_response(h->mhd, (unsigned int)req->status, r);
	MHD_destroy_response(r);
	if (ret == MHD_YES)
		h->queued = 1;
	return (ret);
}

static void
server_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char   msg[256], q[300];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_warn("event=mhd msg=%s", log_quote(q, sizeof(q), msg));
}

/* Start and stop */

static int
pem_read(const char *path, char **out, size_t *lenp)
{
	FILE	   *f = NULL;
	struct stat st;
	char	   *p = NULL;
	int	    rc = ERR_CONFIG;

	if ((f = fopen(path, "r")) == NULL || fstat(fileno(f), &st) != 0 ||
	    st.st_size <= 0 || st.st_size > SERVER_PEM_MAX) {
		log_error("event=tls_file_unreadable file=%s error=\"%s\"",
		    path, errno ? strerror(errno) : "empty or too large");
		goto out;
	}
	if ((p = malloc((size_t)st.st_size + 1)) == NULL ||
	    fread(p, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		log_error("event=tls_file_unreadable file=%s", path);
		goto out;
	}
	p[st.st_size] = '\0';
	if (strstr(p, "-----BEGIN ") == NULL) {
		log_error("event=tls_file_not_pem file=%s", path);
		goto out;
	}
	*out = p;
	*lenp = (size_t)st.st_size;
	p = NULL;
	rc = OK;
out:
	if (p != NULL) {
		sodium_memzero(p, (size_t)st.st_size);
		free(p);
	}
	if (f != NULL)
		fclose(f);
	return (rc);
}

static void
server_free(struct http_server *srv)
{
	if (srv == NULL)
		return;
	slow_stop(srv);
	if (srv->slow_init) {
		pthread_cond_destroy(&srv->slow_cv);
		pthread_mutex_destroy(&srv->slow_mu);
	}
	free(srv->slow_thr);
	router_free(srv->router);
	ratelimit_free(srv->rl);
	free(srv->cert);
	if (srv->key != NULL) {
		sodium_memzero(srv->key, srv->keylen);
		free(srv->key);
	}
	free(srv);
}

int
http_server_start(const struct http_server_opts *o, struct http_server **out)
{
	struct http_server	   *srv;
	struct MHD_OptionItem	    ops[16];
	struct addrinfo		    hints, *ai = NULL;
	struct sockaddr_storage	    ss;
	const union MHD_DaemonInfo *di;
	size_t			    certlen, n = 0;
	unsigned int		    flags, threads;
	char			    portstr[8];
	int			    rc = ERR_NOMEM;

	*out = NULL;
	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return (ERR_NOMEM);
	srv->opts = *o;
	srv->body_limit =
	    o->body_limit ? o->body_limit : CONFIG_MAX_BODY_DEFAULT;
	srv->large_body_limit =
	    o->large_body_limit ? o->large_body_limit : srv->body_limit;
	threads = o->threads > 0 ? (unsigned int)o->threads
				 : (unsigned int)sysconf(_SC_NPROCESSORS_ONLN);
	if (threads < 1)
		threads = 1;
	flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC |
	    MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;

	srv->slow_max = o->slow_queue > 0 ? o->slow_queue : 256;
	if ((rc = slow_start(srv,
		 o->slow_threads > 0 ? o->slow_threads : (int)threads)) != OK)
		goto out;
	if ((rc = router_new(route_tables, nroute_tables, &srv->router)) !=
		OK ||
	    (rc = metrics_init(srv->router)) != OK)
		goto out;
	if (o->rate_limit > 0 &&
	    (srv->rl = ratelimit_new(
		 o->rate_limit, o->rate_burst, SERVER_RL_SLOTS)) == NULL) {
		rc = ERR_NOMEM;
		goto out;
	}
	/* The logger must come first to catch every message. */
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER,
		(intptr_t)server_mhd_log, srv };
	if (o->tls_cert_file != NULL && o->tls_cert_file[0] != '\0') {
		rc = ERR_CONFIG;
		if (o->tls_key_file == NULL || o->tls_key_file[0] == '\0') {
			log_error("event=tls_config error=\"tls_cert set "
				  "without tls_key\"");
			goto out;
		}
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			log_error("event=tls_config error=\"libmicrohttpd "
				  "built without TLS\"");
			goto out;
		}
		if (pem_read(o->tls_cert_file, &srv->cert, &certlen) != OK ||
		    pem_read(o->tls_key_file, &srv->key, &srv->keylen) != OK)
			goto out;
		flags |= MHD_USE_TLS;
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT,
			0, srv->cert };
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0,
			srv->key };
	}
	if (o->listen != NULL && o->listen[0] != '\0') {
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
		snprintf(portstr, sizeof(portstr), "%d", o->port);
		if (getaddrinfo(o->listen, portstr, &hints, &ai) != 0 ||
		    ai->ai_addrlen > sizeof(ss)) {
			log_error("event=listen_invalid address=%s", o->listen);
			rc = ERR_CONFIG;
			goto out;
		}
		memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
		if (ss.ss_family == AF_INET6)
			flags |= MHD_USE_IPv6;
		ops[n++] =
		    (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &ss };
	}
	if (threads > 1)
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE,
			threads, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT,
		o->timeout_s > 0 ? o->timeout_s : 30, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		SERVER_MEMORY_LIMIT, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_LISTEN_BACKLOG_SIZE,
		1024, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED,
		(intptr_t)server_completed, srv };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_URI_LOG_CALLBACK,
		(intptr_t)server_uri_log, srv };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };

	srv->daemon = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL,
	    server_access, srv, MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
	if (srv->daemon == NULL) {
		log_error("event=listen_failed address=%s port=%d%s",
		    o->listen ? o->listen : "*", o->port,
		    srv->cert ? " tls=bad_cert_or_key" : "");
		rc = ERR_IO;
		goto out;
	}
	di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = di != NULL ? di->port : o->port;
	log_info("event=listen port=%d threads=%u tls=%d routes=%d", srv->port,
	    threads, srv->cert != NULL, router_npatterns(srv->router));
	*out = srv;
	srv = NULL;
	rc = OK;
out:
	if (ai != NULL)
		freeaddrinfo(ai);
	server_free(srv);
	return (rc);
}

int
http_server_port(const struct http_server *srv)
{
	return (srv->port);
}

void
http_server_stop(struct http_server *srv, int timeout_s)
{
	struct timespec nap = { 0, 5 * 1000 * 1000 };
	MHD_socket	fd;
	int64_t		deadline;

	if (srv == NULL)
		return;
	/* Stop accepting; pending connections in the backlog are refused. */
	fd = MHD_quiesce_daemon(srv->daemon);
	if (fd != MHD_INVALID_SOCKET)
		shutdown(fd, SHUT_RDWR);
	deadline = time_mono_ns() + (int64_t)timeout_s * 1000000000;
	while (atomic_load(&srv->active) > 0 && time_mono_ns() < deadline)
		nanosleep(&nap, NULL);
	if (atomic_load(&srv->active) > 0)
		log_warn("event=shutdown_timeout in_flight=%ld",
		    atomic_load(&srv->active));
	/* Queued slow requests get 503; running ones finish (their
	 * connections are suspended: the daemon cannot stop before). */
	slow_stop(srv);
	if (time_mono_ns() > deadline)
		log_warn("event=shutdown_slow_handlers_late ms=%lld",
		    (long long)((time_mono_ns() - deadline) / 1000000));
	/* A moment for the answers of resumed requests to go out. */
	deadline = time_mono_ns() + 1000000000LL;
	while (atomic_load(&srv->active) > 0 && time_mono_ns() < deadline)
		nanosleep(&nap, NULL);
	MHD_stop_daemon(srv->daemon);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	metrics_fini();
	server_free(srv);
}
