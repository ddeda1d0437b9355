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

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"

#include "core/buf.h"

struct arena;
struct MHD_Connection;

#define HTTP_MAX_SEGMENTS   32 /* path segments */
#define HTTP_MAX_JSON_DEPTH 64 /* nesting of a JSON body */
#define HTTP_MAX_REQUEST_ID 64
#define HTTP_MAX_TABLES	    64 /* http_routes_add calls */
#define HTTP_METHOD_SLOTS   8  /* GET..OPTIONS and "other" */

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
	int		       started;	 /* headers seen */
	int		       err;	 /* pending problem (enum status) */
	const char	      *err_code; /* NULL = err_code(err) */
	const char	      *err_detail;
	int		       allow; /* methods at this path */
	int		       route_id;
	int		       flags;	/* the route's ROUTE_* */
	int		       options; /* OPTIONS answered here */
	int		       retry_after;
	size_t		       head_bytes;    /* request line + headers */
	int		       queued;	      /* response handed to MHD */
	int		       body_coming;   /* 1 small, 2 large/chunked/Expect */
	_Atomic int	       slow;	      /* 1 on the slow pool, 2 done */
	struct hreq	      *slow_next;     /* slow pool queue */
	int64_t		       slow_since_ns; /* queued at */
};

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
/* Number of distinct patterns (route ids run 1..n) and one by id. */
int	    router_npatterns(const struct router *);
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

#endif
