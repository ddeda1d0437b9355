/*
 * Private to src/http: the router, the small parsers for outside input
 * (query strings, percent escapes, content types, request ids), the rate
 * limiter and the metrics store. Unit tests and fuzz targets include this
 * header; the rest of the program uses http.h only.
 *
 * Path policy (router_match):
 *  - the path must start with '/'; "/" is the root;
 *  - an empty segment inside the path ("//"), a "." or ".." segment (raw or
 *    percent-encoded), a bad percent escape, a decoded NUL or a segment that
 *    is not UTF-8 once decoded is a 400 (ERR_MALFORMED);
 *  - a trailing slash is significant: "/v1/jobs/" does not match "/v1/jobs"
 *    (404, no redirect);
 *  - a decoded '/' ("%2F") never matches a segment: 404;
 *  - static segments beat parameters, with backtracking: "/a/b/c" tries
 *    "/a/b/..." before "/a/{x}/...".
 *
 * Query policy (http_query_parse): pairs split on '&', key and value
 * percent-decoded with '+' as space; the first pair whose key matches wins;
 * a key with no '=' has the value ""; a pair whose value has a bad escape,
 * a decoded NUL or is not UTF-8 reads as absent (NULL).
 */
#ifndef HTTP_HTTP_INT_H
#define HTTP_HTTP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "http/http.h"

#include "core/buf.h"

struct arena;
struct MHD_Connection;
struct MHD_Daemon;
struct ratelimit;
struct router;

#define HTTP_MAX_SEGMENTS   32 /* path segments */
#define HTTP_MAX_JSON_DEPTH 64 /* nesting of a JSON body */
#define HTTP_MAX_REQUEST_ID 64
#define HTTP_MAX_TABLES	    64 /* http_routes_add calls */
#define HTTP_METHOD_SLOTS   8  /* GET..OPTIONS and "other" */
#define HTTP_CLIENT_KEY_LEN 64 /* "1.2.3.4", "v6:" + a /64 in hex */

/*
 * Transport state of one request; req->conn points here (NULL in a request
 * built by hand, e.g. in a test, and the accessors cope with that).
 */
struct hreq {
	struct request	       req; /* what handlers see */
	struct http_server    *srv;
	struct MHD_Connection *mhd;
	const struct route    *rt;     /* matched route, or NULL */
	const char	      *query;  /* raw, after '?', or NULL */
	const char	      *origin; /* Origin when allowed, or NULL */
	struct buf	       body;
	int64_t		       start_ns;
	int		       started;	    /* headers seen */
	int		       admit_later; /* hreq_dispatch checks */
	int		       err;	    /* pending problem (enum status) */
	const char	      *err_code;    /* NULL = err_code(err) */
	const char	      *err_detail;
	int		       allow; /* methods at this path */
	int		       route_id;
	int		       flags;	/* the route's ROUTE_* */
	int		       options; /* OPTIONS answered here */
	int		       retry_after;
	size_t		       head_bytes; /* request line + headers */
	int		       queued;	   /* response handed to MHD */
	int	     body_coming;	   /* 1 small, 2 large/chunked/Expect */
	int	     bad_header;    /* a NUL or control byte in the head */
	size_t	     drained;	    /* bytes of a refused body dropped */
	int	     close;	    /* drained too much: close */
	const char  *value_end;	    /* head_add's, see there */
	void	    *conn_state;    /* conn.c's, for the connection */
	size_t	     body_reserved; /* bytes counted by conn.c */
	_Atomic int  slow;	    /* 1 on the slow pool, 2 done */
	struct hreq *slow_next;	    /* slow pool queue */
	int64_t	     slow_since_ns; /* queued at */
};

/* server.c, request.c, slow.c, conn.c: one server */
struct http_server {
	struct MHD_Daemon      *daemon;
	struct MHD_Daemon      *metrics_daemon; /* metrics_listen, or NULL */
	int			metrics_port;
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
	struct conns   *conns; /* conn.c */
};

/* Bodies waiting in the slow queue at most, beyond the first request. */
#define SLOW_QUEUE_BYTES ((size_t)256 * 1024 * 1024)

/* request.c: one request from its head to its handler */
/* A pending problem for the request (the first one wins). */
void hreq_fail(struct hreq *, int rc, const char *code, const char *detail);
/* The head is in (libmicrohttpd's first access call): every check made
 * from the headers, the route, and for a route not marked public the
 * caller. A refusal is left pending (h->err). */
void hreq_begin(struct hreq *, const char *method);
/* A piece of the body: appended, or drained and dropped after a
 * refusal (h->close set past the bound). */
void hreq_body(struct hreq *, const char *data, size_t len);
/* The whole request is in: parse the body, run the handler (or answer
 * the pending problem). */
void hreq_dispatch(struct hreq *);

/* conn.c: what one client may hold (connections, time, body bytes) */
/* The client address as text, and the key limits count by: the IPv4
 * address, or an IPv6 address's /64 (one host holds a whole /64). */
int http_client_key(
    const struct sockaddr *, char *ip, size_t iplen, char *key, size_t keylen);
int  conn_init(struct http_server *);
void conn_fini(struct http_server *);
/* libmicrohttpd's accept policy and connection notifications. */
enum MHD_Result conn_accept(void *, const struct sockaddr *, socklen_t);
void		conn_notify(void *, struct MHD_Connection *, void **,
	       enum MHD_ConnectionNotificationCode);
/* Where the connection's current request is, for its deadlines. */
enum { CONN_LINE = 1, CONN_HEAD_DONE, CONN_BODY_DONE, CONN_REQUEST_DONE };
void conn_phase(struct hreq *, int);
void conn_body_got(struct hreq *, size_t);
/* The answer is queued: it must leave within header_timeout_s plus its
 * length at min_body_rate (a client reading slowly is cut). */
void conn_answer(struct hreq *, size_t len);
/* Count n more bytes of the request's body as held: ERR_BUSY (counted
 * in metrics) past the total or the client's bound. */
int  conn_body_reserve(struct hreq *, size_t n);
void conn_body_release(struct hreq *);

/* mhd_answers.c: queue an answer (libmicrohttpd's own function). */
enum MHD_Result http_mhd_queue(
    struct MHD_Connection *, unsigned int status, struct MHD_Response *);
/* Where problem types live: PROBLEM_BASE "headers_too_large". */
#define PROBLEM_BASE "https://carebase.dev/problems/"

/* slow.c */
int  slow_start(struct http_server *, int nthreads);
void slow_stop(struct http_server *);
/* Queue a suspended request for the pool: ERR_BUSY when full/stopping. */
int slow_push(struct http_server *, struct hreq *);

/* router.c */
struct router;

struct router_match {
	const struct route *route;    /* NULL unless OK */
	const char	   *pattern;  /* the path's pattern, or NULL */
	int		    route_id; /* metrics index, 0 = unmatched */
	int		    allow;    /* methods at this path, 0 = unknown */
	int		    nparams;
	struct http_param   params[HTTP_MAX_PARAMS];
};

/* Compile route tables; ERR_CONFIG (logged) on a bad or duplicate route. */
int  router_new(const struct route_table *const *, size_t, struct router **out);
void router_free(struct router *);
/*
 * Match a raw (still percent-encoded) path. OK with m->route set,
 * ERR_NOT_FOUND, ERR_METHOD (m->allow says what is allowed) or
 * ERR_MALFORMED for a path the policy above refuses. HEAD is served by a
 * GET route unless a HEAD route exists. Parameter values live in arena.
 */
int router_match(const struct router *, struct arena *, const char *path,
    int method, struct router_match *m);
/* Number of distinct patterns (route ids run 1..n) and one by id; n + 1
 * is the web application's pages ("page", router_page_id). */
int	    router_npatterns(const struct router *);
int	    router_page_id(const struct router *);
const char *router_pattern(const struct router *, int id);
/* "GET, HEAD, POST, OPTIONS" for a method mask, into out. */
char *http_allow_format(int methods, char *out, size_t outlen);
/* enum http_method for a method name, 0 if unknown. */
int http_method_parse(const char *);

/* response.c: pure parsers */
/*
 * Percent-decode src[0..len) into dst (room for len + 1); '+' becomes a
 * space when plus is set. -1 on a bad escape or a decoded NUL, else the
 * decoded length (dst is NUL-terminated).
 */
long http_pct_decode(char *dst, const char *src, size_t len, int plus);
/* 1 if s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
int http_utf8_valid(const char *s, size_t len);
/* The value of name in a raw query string (see policy), or NULL. */
const char *http_query_parse(struct arena *, const char *qs, const char *name);
/* 1 if a Content-Type header value is application/json (any parameters). */
int http_content_type_json(const char *);
/* 1 if s is an acceptable incoming X-Request-Id: 1..64 of [A-Za-z0-9._-]. */
int http_request_id_valid(const char *);
/* 1 if origin appears exactly in the comma-separated list. */
int http_origin_allowed(const char *list, const char *origin);
/* Deepest nesting of arrays/objects in a JSON text (strings skipped). */
int http_json_depth(const char *, size_t);
/*
 * One pass of the Cookie parser (cookie.c, http_cookie): the cookie
 * called name looked for over one Cookie header or several, in turn.
 * Zero it and set name, then scan each header: OK, ERR_CONFLICT once
 * name came with two values, ERR_TOO_LARGE past HTTP_COOKIE_MAX_BYTES
 * in all or HTTP_COOKIE_MAX_PAIRS pieces (the scan stops there).
 */
struct http_cookie_scan {
	const char *name;  /* wanted, NUL-terminated */
	const char *value; /* its first value (borrowed from a header) */
	size_t	    len;
	int	    found;     /* times name came */
	int	    conflict;  /* it came with two values */
	int	    too_large; /* past a bound */
	int	    pairs;     /* pieces seen in all */
	size_t	    bytes;     /* header bytes seen in all */
};
int http_cookie_scan(struct http_cookie_scan *, const char *s, size_t n);

/* A per-thread scratch buffer for serialising (borrowed, reset). */
struct buf *http_scratch(void);
/* A spare arena from this thread's cache, and back (NULL is ignored). */
struct arena *http_arena_get(void);
void	      http_arena_put(struct arena *);

/* ratelimit.c */
struct ratelimit;

/* rate per second, burst tokens, about slots entries (bounded). */
struct ratelimit *ratelimit_new(double rate, double burst, size_t slots);
void		  ratelimit_free(struct ratelimit *);
/*
 * Take a token for key at now_ns (monotonic; injectable for tests).
 * 1 = allowed; 0 = refused and *retry_s (>= 1) says when to come back.
 */
int ratelimit_take(
    struct ratelimit *, const char *key, int64_t now_ns, int *retry_s);
/* Entries in use, and the most there can be. */
size_t ratelimit_count(struct ratelimit *);
size_t ratelimit_capacity(const struct ratelimit *);

/* metrics.c */
/* Size the store for route ids 0..npatterns (0 = "unmatched"). */
int  metrics_init(const struct router *);
void metrics_fini(void);
void metrics_inflight(int delta);
/* One finished request: route id, enum http_method, status, duration. */
void metrics_observe(int route_id, int method, int status, int64_t dur_ns);
/* Refusals by the server's limits (carebase_http_refused_total). */
enum {
	METRIC_REFUSED_CONNECTIONS = 1,
	METRIC_REFUSED_CONNECTIONS_CLIENT,
	METRIC_REFUSED_BODY_BYTES,
	METRIC_REFUSED_BODY_BYTES_CLIENT,
	METRIC_REFUSED_IDLE,
	METRIC_REFUSED_HEAD_TIMEOUT,
	METRIC_REFUSED_BODY_SLOW,
	METRIC_REFUSED_ANSWER_SLOW,
	METRIC_REFUSED_BAD_HEADER,
	METRIC_REFUSED_TRANSPORT, /* answered by libmicrohttpd itself */
	METRIC_REFUSED_MAX
};
void metrics_refused(int reason);
void metrics_connections(int delta);
void metrics_body_bytes(long delta);
/* The slow pool: requests queued now (set under its lock), handlers
 * running now, and refusals by reason. */
enum { SLOW_REFUSED_FULL, SLOW_REFUSED_STOPPING, SLOW_REFUSED_WAITED };
void metrics_slow_queue(int waiting);
void metrics_slow_running(int delta);
void metrics_slow_refused(int reason);

#endif
