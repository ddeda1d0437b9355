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
#include <sys/resource.h>
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
/* A refused request's body up to this is read and dropped (keep-alive
 * kept); a larger one, chunked, or awaited (Expect) closes at once. */
#define SERVER_DRAIN_MAX   (64 * 1024)
#define SERVER_RL_SLOTS	   16384
#define CORS_ALLOW_HEADERS "Authorization, Content-Type, If-Match, X-Request-Id"
#define CORS_MAX_AGE	   "600"
#define HSTS_VALUE	   "max-age=31536000; includeSubDomains"

static void *server_uri_log(void *, const char *, struct MHD_Connection *);
static enum MHD_Result server_access(void *, struct MHD_Connection *,
    const char *, const char *, const char *, const char *, size_t *, void **);
static void	       server_completed(
	       void *, struct MHD_Connection *, void **, enum MHD_RequestTerminationCode);
static void server_mhd_log(void *, const char *, va_list)
    __attribute__((format(printf, 2, 0)));
static void	       hreq_begin(struct hreq *, const char *);
static enum MHD_Result head_add(
    void *, enum MHD_ValueKind, const char *, size_t, const char *, size_t);
static void	       hreq_client(struct hreq *, char *, size_t);
static enum MHD_Result forwarded_add(
    void *, enum MHD_ValueKind, const char *, const char *);
static void	       hreq_body(struct hreq *, const char *, size_t);
static int	       hreq_authenticate(struct request *);
static void	       hreq_admit(struct hreq *);
static void	       hreq_options(struct hreq *);
static enum MHD_Result hreq_queue(struct hreq *);
static int	       rate_exempt(const char *);
static int	       pem_read(const char *, char **, size_t *);
static void	       server_free(struct http_server *);
static void	       limits_default(struct http_server_opts *);

/* Request lifecycle */

static void *
server_uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct http_server	       *srv = cls;
	struct arena		       *a;
	const union MHD_ConnectionInfo *ci;
	struct hreq		       *h;
	const char		       *q;

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
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	h->conn_state = ci != NULL ? ci->socket_context : NULL;
	conn_phase(h, CONN_LINE);
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
		conn_phase(h, CONN_HEAD_DONE);
		/*
		 * A request refused from its headers whose large body (or
		 * any body the client waits to send: Expect: 100-continue)
		 * is still to come is answered now: no "100 Continue", no
		 * byte of the body read, and the connection closed after
		 * the answer. A small body is read and dropped instead, so
		 * the connection stays open and no client sees a reset.
		 */
		if (h->err != 0 && h->body_coming == 2) {
			hreq_dispatch(h);
			return (hreq_queue(h));
		}
		return (MHD_YES);
	}
	if (*upload_data_size != 0) {
		conn_body_got(h, *upload_data_size);
		hreq_body(h, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return (h->close ? MHD_NO : MHD_YES);
	}
	if (h->queued)
		return (MHD_YES);
	conn_phase(h, CONN_BODY_DONE);
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
	conn_body_release(h);
	conn_phase(h, CONN_REQUEST_DONE);
	metrics_inflight(-1);
	http_arena_put(req->arena);
	atomic_fetch_sub(&srv->active, 1);
}

void
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

/* 1 if s[0..n) holds a NUL or another control byte (tab is allowed). */
static int
has_ctl(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') ||
		    s[i] == 0x7f)
			return (1);
	return (0);
}

/*
 * Each header: its size into the head's, and a name or value holding a
 * control byte marks the head bad. A NUL cuts a value short in
 * libmicrohttpd 0.9.75, which measures values with strlen ("secret\0junk"
 * would read as "secret"); it keeps each value where it was read, with
 * the line's CR and LF overwritten by NULs, so after a value's end only
 * one or two NULs may come before the next header's name (the end of
 * the head has two). Anything else there was after a NUL in the value
 * (or the value was folded over lines, which RFC 9112 lets a server
 * refuse). Only for the layout of 0.9.75, the version Debian 12 has.
 */
static enum MHD_Result
head_add(void *arg, enum MHD_ValueKind kind, const char *key, size_t key_size,
    const char *value, size_t value_size)
{
	struct hreq *h = arg;
	ptrdiff_t    gap;

	h->head_bytes += key_size + value_size + 4;
	if (has_ctl(key, key_size) ||
	    (value != NULL && has_ctl(value, value_size)))
		h->bad_header = 1;
#if MHD_VERSION == 0x00097500
	if (h->value_end != NULL) {
		gap = key - h->value_end;
		if (gap < 1 || gap > 2 || h->value_end[gap - 1] != '\0')
			h->bad_header = 1;
	}
	h->value_end = value != NULL ? value + value_size : NULL;
#else
	(void)gap; /* another layout: control bytes are still refused */
#endif
	return (MHD_YES);
}

static void
hreq_begin(struct hreq *h, const char *method)
{
	struct http_server *srv = h->srv;
	struct request	   *req = &h->req;
	struct router_match m;
	const char	   *v;
	char		    key[64] = "";
	unsigned long long  clen = 0;
	int		    rc, retry, chunked;

	/*
	 * The head must fit libmicrohttpd's connection pool with room for
	 * the answer's own head: past the bound it is refused here, in
	 * words, rather than left to fail for want of room.
	 */
	h->head_bytes = strlen(method) + strlen(req->path) +
	    (h->query != NULL ? strlen(h->query) + 1 : 0) + 16;
	MHD_get_connection_values_n(h->mhd, MHD_HEADER_KIND, head_add, h);
	if (h->value_end != NULL && h->value_end[1] != '\0')
		h->bad_header = 1; /* the last value went on past a NUL */
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
	/*
	 * The body to come, known before anything may refuse the request:
	 * every refusal made from the headers then answers at once when the
	 * body is large, chunked or awaited (Expect), and a small one is
	 * read and dropped under the body's deadline.
	 */
	v = MHD_lookup_connection_value(
	    h->mhd, MHD_HEADER_KIND, "Content-Length");
	if (v != NULL)
		clen = strtoull(v, NULL, 10);
	v = MHD_lookup_connection_value(
	    h->mhd, MHD_HEADER_KIND, "Transfer-Encoding");
	chunked = v != NULL && strcasecmp(v, "identity") != 0;
	h->body_coming = clen > 0 || chunked;
	if (h->body_coming &&
	    (clen > SERVER_DRAIN_MAX || chunked ||
		MHD_lookup_connection_value(
		    h->mhd, MHD_HEADER_KIND, "Expect") != NULL))
		h->body_coming = 2;

	if (h->head_bytes > CONFIG_MAX_HEAD_BYTES) {
		hreq_fail(h, ERR_HEAD_TOO_LARGE, NULL,
		    "The request line and "
		    "headers are over 24 KiB.");
		return;
	}
	if (h->bad_header) {
		metrics_refused(METRIC_REFUSED_BAD_HEADER);
		hreq_fail(h, ERR_MALFORMED, "BAD_HEADER",
		    "A header holds a NUL or another control character, or "
		    "is folded over lines.");
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

	/* Who is calling, before anything else about the request (and
	 * before any byte of a body is held). */
	if (!(h->flags & ROUTE_PUBLIC)) {
		hreq_admit(h);
		if (h->err != 0)
			return;
	}
	if (h->flags & ROUTE_LARGE_BODY)
		h->body.max = srv->large_body_limit;
	else if (h->flags & ROUTE_SMALL_BODY)
		h->body.max = HTTP_SMALL_BODY_LIMIT;
	if (clen > h->body.max)
		hreq_fail(h, ERR_TOO_LARGE, NULL,
		    "The request body is over the limit.");
	else if (h->body_coming &&
	    !(h->flags & (ROUTE_JSON_BODY | ROUTE_RAW_BODY)))
		hreq_fail(h, ERR_MALFORMED, "BODY_NOT_ALLOWED",
		    "This route takes no request body.");
	else if ((h->flags & ROUTE_JSON_BODY) &&
	    !http_content_type_json(MHD_lookup_connection_value(
		h->mhd, MHD_HEADER_KIND, "Content-Type")))
		hreq_fail(h, ERR_MEDIA_TYPE, NULL,
		    "Content-Type must be application/json.");
	/* Counted from what is announced, but for a public route (where
	 * anyone may announce) from what arrives: headers cost nothing. */
	else if (clen > 0 && !(h->flags & ROUTE_PUBLIC) &&
	    conn_body_reserve(h, (size_t)clen) != OK) {
		h->retry_after = 1;
		h->body_coming = 2; /* answered now, no byte read */
		hreq_fail(h, ERR_BUSY, "SERVER_BUSY",
		    "The server holds as many request bodies as it may; "
		    "try again in a moment.");
	} else if (clen > 0 && buf_reserve(&h->body, (size_t)clen) != OK)
		/* The announced size at once (within the limit): a large
		 * batch is not copied again and again as it grows. Pages
		 * are only touched as the body arrives. */
		hreq_fail(h, ERR_NOMEM, NULL, "");
}

static void
hreq_body(struct hreq *h, const char *data, size_t len)
{
	int rc;

	if (h->err != 0 || h->options) {
		/* Drained and dropped, up to a bound; past it the connection
		 * closes (no answer can be queued while a body arrives). */
		h->drained += len;
		if (h->drained > SERVER_DRAIN_MAX)
			h->close = 1;
		return;
	}
	if (!(h->flags & (ROUTE_JSON_BODY | ROUTE_RAW_BODY))) {
		hreq_fail(h, ERR_MALFORMED, "BODY_NOT_ALLOWED",
		    "This route takes no request body.");
		return;
	}
	/* A chunked body is counted as it grows (an announced one was
	 * counted whole from its Content-Length). */
	if (h->body.len + len > h->body_reserved &&
	    h->body.len + len <= h->body.max &&
	    conn_body_reserve(h, h->body.len + len - h->body_reserved) != OK) {
		h->retry_after = 1;
		hreq_fail(h, ERR_BUSY, "SERVER_BUSY",
		    "The server holds as many request bodies as it may; "
		    "try again in a moment.");
		buf_free(&h->body);
		return;
	}
	if ((rc = buf_append(&h->body, data, len)) != OK) {
		hreq_fail(h, rc, NULL, "The request body is over the limit.");
		buf_free(&h->body);
	}
}

/*
 * The caller of a route not marked public: OK with req->caller set, or
 * the refusal answered (401 for none, or what the authenticator said).
 */
static int
hreq_authenticate(struct request *req)
{
	int rc;

	if ((rc = http_authenticate(req)) == OK && req->caller != NULL)
		return (OK);
	if (rc == OK) {
		rc = ERR_UNAUTHORIZED;
		http_header_add(req, "WWW-Authenticate", "Bearer");
		http_problem(req, rc, NULL,
		    "Authentication is required: send "
		    "Authorization: Bearer <token>.");
	} else
		http_problem(
		    req, rc, NULL, "The credentials were not accepted.");
	return (rc);
}

/*
 * From the headers of a request to a route not marked public: the
 * caller, then (when a body is coming) the route's own admit check. A
 * refusal is answered on req (h->err says so). The read transaction
 * they used is kept for the handler only when it runs at once: it ends
 * before a body is read and before a wait on the slow pool.
 */
static void
hreq_admit(struct hreq *h)
{
	struct request *req = &h->req;
	int		rc;

	if ((rc = hreq_authenticate(req)) == OK && h->body_coming &&
	    h->rt->admit != NULL && (rc = h->rt->admit(req)) != OK &&
	    !req->responded)
		http_problem(req, rc, NULL, "The request was refused.");
	if (rc != OK || h->body_coming || (h->flags & ROUTE_SLOW))
		http_read_tx_end(req);
	if (rc != OK)
		hreq_fail(h, rc, NULL, "");
}

/* The whole request is in: parse the body and run the handler. */
void
hreq_dispatch(struct hreq *h)
{
	struct request *req = &h->req;
	json_error_t	jerr;

	if (h->err != 0) {
		/* A refusal answered already (hreq_admit) stands. */
		http_problem(req, h->err, h->err_code, "%s", h->err_detail);
		return;
	}
	if (h->options) {
		hreq_options(h);
		return;
	}
	if (h->rt == NULL) { /* not reached: no route is an error above */
		http_problem(req, ERR_NOT_FOUND, NULL, "No such resource.");
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
	ret = http_mhd_queue(h->mhd, (unsigned int)req->status, r);
	MHD_destroy_response(r);
	if (ret == MHD_YES) {
		h->queued = 1;
		conn_answer(h, req->status == 204 ? 0 : req->resp_len);
	}
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

/*
 * The limits' defaults, and room for the connections allowed among the
 * process's file descriptors (raised to the hard limit when needed; the
 * connections allowed are cut to fit when it cannot be).
 */
static void
limits_default(struct http_server_opts *o)
{
	struct rlimit rl;
	rlim_t	      want;

	if (o->max_connections <= 0)
		o->max_connections = 1000;
	if (o->max_connections_per_client < 0)
		o->max_connections_per_client = 0;
	if (o->header_timeout_s <= 0)
		o->header_timeout_s = 30;
	if (o->body_inflight_max == 0)
		o->body_inflight_max = (size_t)512 * 1024 * 1024;
	if (o->body_inflight_per_client == 0)
		o->body_inflight_per_client = (size_t)96 * 1024 * 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	/* The database, log and other files besides the connections. */
	want = (rlim_t)o->max_connections + 256;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < want && rl.rlim_cur > 512) {
		log_warn("event=max_connections_cut from=%d to=%d "
			 "reason=open_files_limit",
		    o->max_connections, (int)(rl.rlim_cur - 256));
		o->max_connections = (int)(rl.rlim_cur - 256);
	}
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
	conn_fini(srv);
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
	struct http_server		*srv;
	struct MHD_OptionItem		 ops[16];
	struct addrinfo			 hints, *ai = NULL;
	struct sockaddr_storage		 ss;
	const union MHD_DaemonInfo	*di;
	const struct route_table *const *tables;
	size_t				 certlen, n = 0, ntables;
	unsigned int			 flags, threads;
	char				 portstr[8];
	int				 rc = ERR_NOMEM;

	*out = NULL;
	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return (ERR_NOMEM);
	srv->opts = *o;
	limits_default(&srv->opts);
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
	if ((rc = conn_init(srv)) != OK)
		goto out;
	if ((rc = slow_start(srv,
		 o->slow_threads > 0 ? o->slow_threads : (int)threads)) != OK)
		goto out;
	tables = http_routes(&ntables);
	if ((rc = router_new(tables, ntables, &srv->router)) != OK ||
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
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_CONNECTION,
		(intptr_t)conn_notify, srv };
	/* A backstop: conn_accept refuses first, and counts. */
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT,
		(intptr_t)srv->opts.max_connections + 16, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_URI_LOG_CALLBACK,
		(intptr_t)server_uri_log, srv };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };

	srv->daemon = MHD_start_daemon(flags, (uint16_t)o->port, conn_accept,
	    srv, server_access, srv, MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
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
