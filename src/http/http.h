/*
 * HTTP transport: libmicrohttpd with an epoll thread pool, a router with
 * path parameters, JSON in and out (jansson), RFC 9457 problem documents,
 * request ids, one log line per request, metrics, rate limits, CORS and
 * security headers.
 *
 * A handler runs once per request, after the whole body has arrived, on
 * one of the pool's threads. It reads from struct request, allocates from
 * req->arena (freed when the request completes), and sets exactly one
 * response with http_json(), http_problem() or http_send(). A handler
 * that sets none answers 500.
 *
 * Authentication is the dispatcher's, once, for every route: a route not
 * marked ROUTE_PUBLIC runs only for a caller the authenticator (set by
 * http_set_authenticator) accepts, and its handler finds that caller in
 * req->caller, never NULL. Anything else is answered 401 before the
 * handler runs, and, when the request announces a body, before any byte
 * of it is read (with the route's admit check, see struct route).
 */
#ifndef HTTP_HTTP_H
#define HTTP_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct arena;
struct principal; /* the authenticated caller: resource/resource.h */
struct store;
struct tx;

enum http_method {
	HTTP_GET = 0x01,
	HTTP_POST = 0x02,
	HTTP_PUT = 0x04,
	HTTP_PATCH = 0x08,
	HTTP_DELETE = 0x10,
	HTTP_HEAD = 0x20,
	HTTP_OPTIONS = 0x40
};

#define HTTP_MAX_PARAMS	 8
#define HTTP_MAX_HEADERS 16 /* response headers set by handlers */

struct request;
struct http_after;

typedef void (*http_handler)(struct request *);

/* Route flags */
#define ROUTE_JSON_BODY	 0x01 /* body must be application/json and parse */
#define ROUTE_RAW_BODY	 0x02 /* body kept as bytes, any content type */
#define ROUTE_LARGE_BODY 0x04 /* body up to large_body_limit, not body_limit */
/*
 * The handler runs on the slow pool, not on the event thread that reads
 * the connection: password hashing (argon2id, ~0.3 s), large bodies,
 * exports and reports. An event thread serves many connections; a slow
 * handler there would stall every one of them.
 */
#define ROUTE_SLOW 0x08
/*
 * Answers without a bearer token (sign-in, password reset, webhooks with
 * their own credentials, health, the API's documents): the OpenAPI
 * document gives it "security": [], every other route needs bearerAuth
 * and the dispatcher answers 401 for it without a valid token. README.md
 * lists every public route; tests/api/test_routes.py walks the route
 * table (`carebase routes`) to hold both to what the server does.
 */
#define ROUTE_PUBLIC 0x10
/* A small body: at most HTTP_SMALL_BODY_LIMIT (sign-in and the like). */
#define ROUTE_SMALL_BODY      0x20
#define HTTP_SMALL_BODY_LIMIT (16 * 1024)
/*
 * With ROUTE_JSON_BODY: the body may be left out (req->json is then NULL);
 * one that comes is checked as any JSON body (Content-Type, depth,
 * parse). For actions whose body is optional ({"reason"} of a cancel).
 */
#define ROUTE_JSON_OPTIONAL 0x40

struct route {
	int	     method;  /* one enum http_method */
	const char  *pattern; /* "/v1/jobs/{id}/retry" */
	http_handler handler;
	int	     flags;
	const char  *summary; /* one line, for docs */
	const void  *arg;     /* handed to the handler as req->route_arg */
	/*
	 * For the OpenAPI document, may be NULL: JSON text of an object with
	 * any of "body" (a JSON Schema of an application/json body),
	 * "content" ({media type: schema} for bodies of other types),
	 * "answers" ({"200": {"description", "schema"?, "type"?}}: the
	 * success answers, JSON unless type names another media type; or
	 * {"description", "content": {media type: schema}} for an answer
	 * in several), "parameters" (query parameters and request headers
	 * as OpenAPI writes them: [{"name", "in": "query", "schema", ...}],
	 * "in": "header"; "in": "path"
	 * describes a {segment} in place of the generated one), "list" (a
	 * resource's name: the route answers a page of its rows, with its
	 * list's parameters), "schemas" ({name: schema} for the document's
	 * components, for "$ref"), "security" (on a public route: {scheme
	 * name: security scheme}, its own credentials, e.g. a webhook's
	 * signature), "webhooks" ({name: path item}: the calls to another
	 * system the route leads to), "schemes" ({name: security scheme}:
	 * those its webhooks are signed with) and "problems" ({"409": "why"}: problem
	 * documents this route answers besides those its flags imply) and
	 * "codes" ({"409": ["EMAIL_TAKEN", ...]}: the problem codes it
	 * answers with besides the generic one of each status, err.c; a
	 * status named here is declared too). Every operation's problem
	 * answers list their codes (src/resource/openapi.c). "example" is a
	 * request body as sent, and an answer's "example" one as answered
	 * (shown by /docs). "body_required": true on a ROUTE_RAW_BODY
	 * route with "content" whose body must come (a webhook's).
	 * http_routes_add refuses bad text, so a mistake stops start-up.
	 */
	const char *api;
	/*
	 * May be NULL. For a route that takes a body: run from the headers,
	 * after authentication and before any byte of the body is read,
	 * to refuse at once what the handler would refuse anyway (the
	 * target does not exist or is not the caller's to write). Returns
	 * OK, or a status with a problem set on the request (http_problem).
	 * It runs in the request's read transaction, which ends before the
	 * body is read.
	 */
	int (*admit)(struct request *);
};

struct http_param {
	const char *name;
	const char *value; /* percent-decoded, in the arena */
};

struct request {
	struct arena *arena;
	int	      method;
	const char   *method_name;
	const char   *path;	 /* without the query string */
	const char   *route;	 /* matched pattern, or NULL */
	const void   *route_arg; /* the matched route's arg */
	char	      id[65]; /* request id (1..64), echoed as X-Request-Id */
	char	      ip[64]; /* client address */
	char	      client_key[64]; /* the client for limits: the IPv4
					   address, or an IPv6 address's /64
					   (one host holds a whole /64) */
	struct http_param params[HTTP_MAX_PARAMS];
	int		  nparams;
	const char	 *body; /* NUL-terminated; NULL if none */
	size_t		  body_len;
	json_t		 *json; /* parsed body for ROUTE_JSON_BODY, owned */
	struct store	 *db;	/* borrowed from the server */
	/*
	 * The request's read transaction, begun on first use by
	 * http_read_tx: authentication's, ended when it returns, and the
	 * route's admit check's, ended before the body is read. Never open
	 * when a handler begins: see http_read_tx.
	 */
	struct tx *tx;
	/* 1: authentication may keep its read transaction for the handler
	 * (http_read_tx_keep): set by the dispatcher for a request with no
	 * body whose caller is checked right before its handler runs. */
	int tx_keep;
	/*
	 * The caller, set by the dispatcher before the handler runs: never
	 * NULL for a route not marked ROUTE_PUBLIC. On a public route it
	 * is NULL until http_authenticate() is called (optional sign-in).
	 */
	struct principal *caller;
	int		  auth_rc; /* what the authenticator answered */
	/* 1: it came on the metrics listener (http_server_opts'
	 * metrics_listen), which serves /metrics only. */
	int   metrics_listener;
	int   auth_ran; /* 1 once it has run */
	void *conn;	/* transport's connection, opaque */

	/* response, set by the handler */
	int	    status;
	const char *content_type;
	const char *resp_body; /* in the arena or static */
	size_t	    resp_len;
	const char *resp_hdr_name[HTTP_MAX_HEADERS];
	const char *resp_hdr_value[HTTP_MAX_HEADERS];
	int	    nresp_hdrs;
	int	    responded;
	char	   *resp_owned;	  /* http_send_take: freed by the transport */
	struct http_after *after; /* http_after's, in order (arena) */
};

/*
 * Run fn(req, arg) once the handler has returned and every transaction
 * of the request has ended, before the response goes out (in order of
 * the calls, each once): work that may wait and must not hold a pooled
 * connection while it does, as a read whose audit row finds the audit
 * queue full waits for room (resource/audit_queue.c), where the writer
 * that makes room needs a connection. When fn returns anything but OK
 * the handler's response does not go: fn sets the answer instead
 * (http_response_clear, then a problem), or the dispatcher answers the
 * status's problem. ERR_NOMEM when it cannot be kept (fn is not run).
 */
int http_after(
    struct request *, int (*fn)(struct request *, void *), void *arg);
/* Forget the response set so far (status, body, headers), for another. */
void http_response_clear(struct request *);

/* A path parameter by name, or NULL (borrowed). */
const char *http_param(const struct request *, const char *name);
/* A query string argument, percent-decoded, or NULL (borrowed). */
const char *http_query(const struct request *, const char *name);
/* A request header (case-insensitive), or NULL (borrowed). */
const char *http_header(const struct request *, const char *name);
/*
 * The value of cookie name among the request's Cookie headers, not
 * decoded (its double quotes taken off), into *value (borrowed) and
 * *len. ERR_NOT_FOUND when it is not there, ERR_CONFLICT when it comes
 * twice with two values, ERR_TOO_LARGE when the Cookie headers are over
 * HTTP_COOKIE_MAX_BYTES or HTTP_COOKIE_MAX_PAIRS pieces (src/http/cookie.c).
 */
#define HTTP_COOKIE_MAX_BYTES (8 * 1024)
#define HTTP_COOKIE_MAX_PAIRS 200
int http_cookie(
    const struct request *, const char *name, const char **value, size_t *len);
/* The raw query string, after '?' and still percent-encoded, or NULL
 * (borrowed): for checks over every argument, e.g. credentials in URLs. */
const char *http_query_raw(const struct request *);
/*
 * The names of the query string's arguments, percent-decoded ('+' as a
 * space), each once, in order of first appearance, into names[0..*n)
 * (arena strings). ERR_MALFORMED for a name with a bad escape, a NUL or
 * not UTF-8; ERR_TOO_LARGE for more than max names.
 */
int http_query_names(struct request *, const char **names, int max, int *n);

/*
 * The authenticator: from the request's headers, set *out to the caller
 * (arena-allocated) for valid credentials, NULL for none. Returns OK, or
 * a status to answer as is (e.g. ERR_UNAUTHORIZED for an expired token),
 * with a problem already set on the request or not. It may read in the
 * request's read transaction (http_read_tx), and ends it before it begins
 * any other transaction. Set once, at start-up.
 */
typedef int (*http_auth_fn)(struct request *, struct principal **out);
void http_set_authenticator(http_auth_fn);
/*
 * The gate: run by the dispatcher before every handler, once the body
 * is in (a public route's caller may not be known yet: it may call
 * http_authenticate). Returns OK to go on, or a status with a problem
 * set on the request, which is then answered and the handler not run
 * (maintenance mode refuses writes: src/training/settings.c). It may
 * read in the request's read transaction; it is ended when it returns.
 * Set once, at start-up; none by default.
 */
typedef int (*http_gate_fn)(struct request *);
void http_set_gate(http_gate_fn);
int  http_gate(struct request *);
/*
 * 1 if a gate is to look at a request of method to path: a change (not
 * GET, HEAD or OPTIONS) but signing in and out and the webhooks (their
 * senders are not people). The maintenance gate decides by it, and the
 * OpenAPI document declares the authenticator's 401 where it does (the
 * gate signs the caller in).
 */
int http_gate_sees(int method, const char *path);
/*
 * The page fallback: the route that answers a GET or HEAD no route
 * matches when it asks for a page (its Accept names text/html) and its
 * path is not under /v1/, whose missing things stay JSON 404s. A
 * single-page application knows its page paths in the browser: the
 * server answers each with the application (src/web). Public; no path
 * parameters. Set once, at start-up; none by default.
 */
void http_set_page_fallback(const struct route *);
/*
 * Run the authenticator once for this request (later calls answer what
 * the first did) and set req->caller. The dispatcher calls it for every
 * route not marked ROUTE_PUBLIC; a public route that serves signed-in
 * callers differently calls it itself. The request's read transaction
 * has ended when it returns. Returns the authenticator's status; OK with
 * req->caller NULL is an anonymous request.
 */
int http_authenticate(struct request *);

/*
 * The request's read transaction, begun on first call, for the
 * authenticator and a route's admit check; the dispatcher ends it before
 * the handler runs. A transaction holds a pooled connection: whoever
 * begins this one ends it (http_read_tx_end) before beginning any other
 * transaction, as a thread holding one connection while it waits for a
 * second can leave the pool with none (every thread holding one and
 * waiting). The transport ends it anyway once the handler returns.
 */
int http_read_tx(struct request *, struct tx **out);
/* End it now (accepts a request without one). */
void http_read_tx_end(struct request *);
/*
 * Done with it for now: on SQLite, when req->tx_keep says the handler
 * comes next on this thread, kept aside for it (store_tx_park: ended by
 * any other transaction this thread begins first), else ended. A GET
 * then reads in the snapshot its caller was checked in, and pays one
 * BEGIN and one ROLLBACK, not two.
 */
void http_read_tx_keep(struct request *);
/*
 * The transaction kept aside for the handler, taken over (OK, *out the
 * caller's to commit or roll back); ERR_NOT_FOUND when none is, and the
 * caller begins its own.
 */
int http_read_tx_take(struct request *, struct tx **out);

/* Respond with a JSON value; steals the reference to body. */
void http_json(struct request *, int status, json_t *body);
/* Respond with bytes (copied into the arena unless static is set). */
void http_send(struct request *, int status, const char *content_type,
    const void *body, size_t len);
/* Respond with bytes that outlive the request (the binary's own: an
 * embedded file), not copied. content_type may be NULL (a 304). */
void http_send_static(struct request *, int status, const char *content_type,
    const char *body, size_t len);
/* Respond with malloc'd bytes, taken (freed by the transport): for large
 * bodies such as exports, which are not copied into the arena. */
void http_send_take(struct request *, int status, const char *content_type,
    char *body, size_t len);
/*
 * Respond with an RFC 9457 problem document: type, title, status, detail,
 * instance (the path), code (stable machine code) and request_id.
 * rc is a core/err.h status; code overrides err_code(rc) when not NULL.
 * A NULL request (a rule run outside one: resource_create) is let be.
 */
void http_problem(struct request *, int rc, const char *code, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));
/* Same, with extra members (e.g. "errors": [...]) merged in; steals extra. */
void http_problem_ext(struct request *, int rc, const char *code, json_t *extra,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Add a response header (name and value copied into the arena). */
void http_header_add(struct request *, const char *name, const char *value);

/*
 * Token buckets per key (the client's address: req->client_key) for a
 * route's own throttling, as the server's own rate limit (ratelimit.c):
 * rate tokens a second, burst at once, about slots keys. take: 1 allowed;
 * 0 refused, *retry_s (>= 1) says when to come back. A NULL limiter or
 * an empty key is never refused.
 */
struct ratelimit;
struct ratelimit *http_ratelimit_new(double rate, double burst, size_t slots);
int http_ratelimit_take(struct ratelimit *, const char *key, int *retry_s);

/* A set of routes from one module. */
struct route_table {
	const char	   *module;
	const struct route *routes;
	size_t		    nroutes;
};

struct http_server_opts {
	const char *listen;
	int	    port; /* 0 = pick a free port */
	int	    threads;
	size_t	    body_limit;
	size_t	    large_body_limit; /* ROUTE_LARGE_BODY; 0 = body_limit */
	int	    timeout_s;
	const char *tls_cert_file; /* NULL or "" = plain HTTP */
	const char *tls_key_file;
	const char *cors_origins; /* comma-separated */
	int	    rate_limit;	  /* per second per IP, 0 = off */
	int	    rate_burst;
	int	    slow_threads; /* ROUTE_SLOW handlers; 0 = threads */
	int	    slow_queue;	  /* waiting slow requests; past it 503 */
	/* What one client may hold (http/conn.c); 0 = the default. */
	int    max_connections;		   /* in all */
	int    max_connections_per_client; /* 0 = no bound */
	int    header_timeout_s;	   /* line and headers */
	int    min_body_rate;		   /* bytes/s, 0 = no bound */
	size_t body_inflight_max;	   /* bytes of bodies held */
	size_t body_inflight_per_client;
	int    log_ip; /* enum netaddr_log: the request line's ip= */
	/* "host:port" of a second listener, plain HTTP, answering only
	 * /metrics (req->metrics_listener set); NULL or "" = none. */
	const char   *metrics_listen;
	struct store *db;
};

struct http_server;

/*
 * Register routes before http_server_start; tables are borrowed. Each
 * route's api text is parsed here: ERR_CONFIG (and a log line naming the
 * route) when it is not what struct route says.
 */
int				 http_routes_add(const struct route_table *);
const struct route_table *const *http_routes(size_t *n);
/* Route i of table t's parsed api object, or NULL (borrowed). */
json_t *http_route_api(const struct route_table *t, size_t i);
int	http_server_start(
	const struct http_server_opts *, struct http_server **out);
/* The port actually bound (when opts.port was 0). */
int http_server_port(const struct http_server *);
/* The metrics listener's port, or 0 when there is none. */
int http_server_metrics_port(const struct http_server *);
/*
 * Stop accepting connections, let requests already accepted finish (up to
 * timeout_s), then stop. Safe to call from the main thread after a signal.
 */
void http_server_stop(struct http_server *, int timeout_s);

/* Prometheus text exposition of HTTP metrics appended to the buffer. */
struct buf;
int http_metrics_render(struct buf *);

#endif
