/*
 * One request from its head to its handler, for server.c's callbacks:
 *
 *   hreq_begin		the head: request id, client address (a trusted
 *			proxy's X-Forwarded-For), CORS origin, the bound on
 *			the head and its bytes, rate limit, route, then for
 *			a route not marked public the caller (and the
 *			route's admit check); Content-Length, Content-Type
 *			and the body bytes held
 *   hreq_body		body data appended to a capped buffer, or drained
 *			and dropped after a refusal
 *   hreq_dispatch	JSON parsed, handler run (or the pending problem,
 *			or an OPTIONS answer)
 *
 * A refusal is kept as the request's pending problem (hreq_fail: the
 * first one wins) and answered once the request is in.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <microhttpd.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/netaddr.h"
#include "core/util.h"
#include "http/http.h"
#include "http/http_int.h"
#include "store/store.h"

/* A refused request's body up to this is read and dropped (keep-alive
 * kept); a larger one, chunked, or awaited (Expect) closes at once. */
#define SERVER_DRAIN_MAX   (64 * 1024)
#define CORS_ALLOW_HEADERS "Authorization, Content-Type, If-Match, X-Request-Id"
#define CORS_MAX_AGE	   "600"

static int	       rate_exempt(const char *);
static void	       hreq_client(struct hreq *, char *, size_t);
static enum MHD_Result forwarded_add(
    void *, enum MHD_ValueKind, const char *, const char *);
static int	       has_ctl(const char *, size_t);
static enum MHD_Result head_add(
    void *, enum MHD_ValueKind, const char *, size_t, const char *, size_t);
static int  hreq_authenticate(struct request *);
static void hreq_admit(struct hreq *);
static void hreq_options(struct hreq *);
static void after_run(struct request *);
static int  page_wanted(struct hreq *);

static const struct route *page_fallback; /* http_set_page_fallback */

void
hreq_fail(struct hreq *h, int rc, const char *code, const char *detail)
{
	if (h->err != 0)
		return; /* the first problem wins */
	h->err = rc;
	h->err_code = code;
	h->err_detail = detail;
}

void
http_set_page_fallback(const struct route *rt)
{
	page_fallback = rt;
}

/* A browser asking for a page the router does not know (see
 * http_set_page_fallback): GET or HEAD, Accept naming text/html, and not
 * an API path. */
static int
page_wanted(struct hreq *h)
{
	const char *path = h->req.path, *accept;

	if (page_fallback == NULL ||
	    (h->req.method != HTTP_GET && h->req.method != HTTP_HEAD) ||
	    strcmp(path, "/v1") == 0 || strncmp(path, "/v1/", 4) == 0)
		return (0);
	accept = MHD_lookup_connection_value(h->mhd, MHD_HEADER_KIND, "Accept");
	return (accept != NULL && strcasestr(accept, "text/html") != NULL);
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

void
hreq_begin(struct hreq *h, const char *method)
{
	struct http_server *srv = h->srv;
	struct request	   *req = &h->req;
	struct router_match m;
	const char	   *v;
	char		    key[64] = "";
	unsigned long long  clen = 0;
	int		    rc, retry, chunked;

	/* Not this request's: a wait that ran out before it, on this
	 * thread (a problem's 500 is told as 503 after one: response.c). */
	(void)store_lost_take();
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
	/* The metrics listener answers nothing else. */
	if (req->metrics_listener && strcmp(req->path, "/metrics") != 0) {
		hreq_fail(h, ERR_NOT_FOUND, NULL, "No such resource.");
		return;
	}
	if (srv->rl != NULL && key[0] != '\0' && !rate_exempt(req->path) &&
	    !ratelimit_take(srv->rl, key, time_mono_ns(), &retry)) {
		h->retry_after = retry;
		hreq_fail(h, ERR_RATE_LIMIT, NULL, "Too many requests.");
	}

	rc = router_match(srv->router, req->arena, req->path, req->method, &m);
	if (rc == ERR_NOT_FOUND && page_wanted(h)) {
		m.route = page_fallback;
		m.pattern = page_fallback->pattern;
		m.route_id = router_page_id(srv->router);
		m.nparams = 0;
		rc = OK;
	}
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
	/*
	 * A GET or HEAD with no body and no check of a body to come, on a
	 * route the slow pool does not take: checked by hreq_dispatch right
	 * before its handler, on the same thread, so that authentication's
	 * read transaction can be the handler's too (nothing below can
	 * refuse such a request, so the answer is the same).
	 */
	if (!(h->flags & ROUTE_PUBLIC) && !h->body_coming &&
	    (req->method == HTTP_GET || req->method == HTTP_HEAD) &&
	    !(h->flags & (ROUTE_SLOW | ROUTE_JSON_BODY | ROUTE_RAW_BODY)))
		h->admit_later = 1;
	else if (!(h->flags & ROUTE_PUBLIC)) {
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
	    (h->body_coming || !(h->flags & ROUTE_JSON_OPTIONAL)) &&
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

void
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
 * they used ends here, whatever comes next: a request never holds a
 * pooled connection while its handler waits for another (the pool
 * could run dry with every thread holding one and waiting for a
 * second), nor while its body arrives or it waits for the slow pool.
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
	if (rc == OK)
		http_read_tx_keep(req); /* ended unless req->tx_keep */
	else
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

	/* The handler may run on another thread than the head (the slow
	 * pool): what ran out on this one before is not its. */
	(void)store_lost_take();
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
	if ((h->flags & ROUTE_JSON_BODY) &&
	    !(req->body_len == 0 && (h->flags & ROUTE_JSON_OPTIONAL))) {
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
	/* Checked here (hreq_begin put it off): its read transaction is
	 * kept for the handler, which runs next on this thread. */
	if (h->admit_later) {
		h->admit_later = 0;
		req->tx_keep = 1;
		hreq_admit(h);
		req->tx_keep = 0;
		if (h->err != 0) {
			http_problem(
			    req, h->err, h->err_code, "%s", h->err_detail);
			return;
		}
		/* A session's touch that lost the server is not the
		 * handler's (as when it ran with the head). */
		(void)store_lost_take();
	}
	if (http_gate(req) != OK) {
		http_read_tx_end(req);
		if (!req->responded)
			http_problem(req, ERR_UNAVAILABLE, NULL,
			    "The request was refused.");
		return;
	}
	h->rt->handler(req);
	http_read_tx_end(req);
	if (!req->responded)
		http_problem(
		    req, ERR_INTERNAL, NULL, "handler set no response");
	after_run(req);
}

/* One http_after call. */
struct http_after {
	struct http_after *next;
	int (*fn)(struct request *, void *);
	void *arg;
};

int
http_after(struct request *req, int (*fn)(struct request *, void *), void *arg)
{
	struct http_after *a, **tail;

	if ((a = arena_alloc(req->arena, sizeof(*a))) == NULL)
		return (ERR_NOMEM);
	a->next = NULL;
	a->fn = fn;
	a->arg = arg;
	for (tail = &req->after; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = a;
	return (OK);
}

/* The handler's http_after work, every one run (each owns its arg). */
static void
after_run(struct request *req)
{
	struct http_after *a;
	int		   rc;

	while ((a = req->after) != NULL) {
		req->after = a->next;
		if ((rc = a->fn(req, a->arg)) == OK)
			continue;
		if (req->responded && req->status < 400) {
			http_response_clear(req);
			http_problem(req, rc, NULL,
			    "The request could not be completed.");
		}
	}
}

void
http_response_clear(struct request *req)
{
	free(req->resp_owned);
	req->resp_owned = NULL;
	req->status = 0;
	req->content_type = NULL;
	req->resp_body = NULL;
	req->resp_len = 0;
	req->nresp_hdrs = 0;
	req->responded = 0;
}

void
http_read_tx_end(struct request *req)
{
	store_tx_unpark(&req->tx);
	if (req->tx != NULL) {
		store_tx_rollback(req->tx);
		req->tx = NULL;
	}
}

void
http_read_tx_keep(struct request *req)
{
	if (req->tx == NULL)
		return;
	if (!req->tx_keep || store_tx_dialect(req->tx) != STORE_SQLITE) {
		http_read_tx_end(req);
		return;
	}
	store_tx_park(&req->tx);
}

int
http_read_tx_take(struct request *req, struct tx **out)
{
	*out = NULL;
	if (!store_tx_parked(&req->tx))
		return (ERR_NOT_FOUND);
	store_tx_unpark(&req->tx);
	*out = req->tx;
	req->tx = NULL;
	return (OK);
}

int
http_read_tx(struct request *req, struct tx **out)
{
	int rc;

	/* Kept aside (http_read_tx_keep): the caller's again. */
	store_tx_unpark(&req->tx);
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
