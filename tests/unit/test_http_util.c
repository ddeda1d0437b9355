/*
 * HTTP pieces: query parsing and percent decoding, content types, request
 * ids, CORS origin lists, problem documents, metrics exposition; then the
 * real server on 127.0.0.1 at a free port, spoken to over plain sockets.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "http/http.h"
#include "http/http_int.h"
#include "resource/resource.h"

/* Pure parsers */

static void
test_query_parse(void **state)
{
	struct arena *a = arena_new(0);

	(void)state;
	assert_string_equal(http_query_parse(a, "a=1&b=2", "b"), "2");
	assert_string_equal(http_query_parse(a, "a=1&a=2", "a"), "1");
	assert_string_equal(
	    http_query_parse(a, "q=hello+world%21", "q"), "hello world!");
	assert_string_equal(http_query_parse(a, "x%20y=z", "x y"), "z");
	assert_string_equal(http_query_parse(a, "flag&b=1", "flag"), "");
	assert_string_equal(http_query_parse(a, "a=&b=1", "a"), "");
	assert_string_equal(http_query_parse(a, "&&a=1&", "a"), "1");
	assert_string_equal(http_query_parse(a, "a=%C3%A9", "a"), "\xc3\xa9");
	assert_null(http_query_parse(a, "a=%zz", "a"));
	assert_null(http_query_parse(a, "a=%4", "a"));
	assert_null(http_query_parse(a, "a=%00", "a"));
	assert_null(http_query_parse(a, "a=%ff", "a"));
	assert_null(http_query_parse(a, "ab=1", "a"));
	assert_null(http_query_parse(a, "", "a"));
	assert_null(http_query_parse(a, NULL, "a"));
	/* A bad key does not hide a later good one. */
	assert_string_equal(http_query_parse(a, "%zz=1&a=2", "a"), "2");
	arena_free(a);
}

static void
test_pct_decode(void **state)
{
	char out[32];

	(void)state;
	assert_int_equal(http_pct_decode(out, "a%2Fb", 5, 0), 3);
	assert_string_equal(out, "a/b");
	assert_int_equal(http_pct_decode(out, "a+b", 3, 0), 3);
	assert_string_equal(out, "a+b");
	assert_int_equal(http_pct_decode(out, "a+b", 3, 1), 3);
	assert_string_equal(out, "a b");
	assert_int_equal(http_pct_decode(out, "%", 1, 0), -1);
	assert_int_equal(http_pct_decode(out, "%a", 2, 0), -1);
	assert_int_equal(http_pct_decode(out, "%g0", 3, 0), -1);
	assert_int_equal(http_pct_decode(out, "%00", 3, 0), -1);
}

static void
test_utf8(void **state)
{
	(void)state;
	assert_true(http_utf8_valid("plain", 5));
	assert_true(http_utf8_valid("\xe2\x82\xac", 3));
	assert_true(http_utf8_valid("\xf0\x9f\x98\x80", 4));
	assert_false(http_utf8_valid("\xc0\xaf", 2));	      /* overlong */
	assert_false(http_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
	assert_false(http_utf8_valid("\xe2\x82", 2));	      /* cut */
	assert_false(http_utf8_valid("\xf4\x90\x80\x80", 4)); /* > 10FFFF */
}

static void
test_content_type(void **state)
{
	(void)state;
	assert_true(http_content_type_json("application/json"));
	assert_true(http_content_type_json("Application/JSON"));
	assert_true(http_content_type_json("application/json; charset=utf-8"));
	assert_true(http_content_type_json("application/json;charset=UTF-8"));
	assert_true(http_content_type_json(" application/json "));
	assert_false(http_content_type_json(NULL));
	assert_false(http_content_type_json(""));
	assert_false(http_content_type_json("text/plain"));
	assert_false(http_content_type_json("application/jsonx"));
	assert_false(http_content_type_json("application/json-seq"));
}

static void
test_request_id(void **state)
{
	char long_id[80];

	(void)state;
	assert_true(http_request_id_valid("a"));
	assert_true(http_request_id_valid("req-1.2_3"));
	assert_false(http_request_id_valid(NULL));
	assert_false(http_request_id_valid(""));
	assert_false(http_request_id_valid("has space"));
	assert_false(http_request_id_valid("semi;colon"));
	assert_false(http_request_id_valid("caf\xc3\xa9"));
	memset(long_id, 'x', 64);
	long_id[64] = '\0';
	assert_true(http_request_id_valid(long_id));
	long_id[64] = 'x';
	long_id[65] = '\0';
	assert_false(http_request_id_valid(long_id));
}

static void
test_origin_list(void **state)
{
	const char *list = "https://a.example, https://b.example:8443";

	(void)state;
	assert_true(http_origin_allowed(list, "https://a.example"));
	assert_true(http_origin_allowed(list, "https://b.example:8443"));
	assert_false(http_origin_allowed(list, "https://b.example"));
	assert_false(http_origin_allowed(list, "https://a.example.evil"));
	assert_false(http_origin_allowed(list, ""));
	assert_false(http_origin_allowed(NULL, "https://a.example"));
	assert_false(http_origin_allowed("", "https://a.example"));
}

static void
test_json_depth(void **state)
{
	(void)state;
	assert_int_equal(http_json_depth("{}", 2), 1);
	assert_int_equal(http_json_depth("[[[1]],{\"a\":[]}]", 16), 3);
	assert_int_equal(http_json_depth("{\"a\":\"[[[\\\"[\"}", 14), 1);
}

/* The Cookie parser: one scan over one header or several. */
static int
cookie_in(const char *name, const char *const *hdrs, const char **v, size_t *n,
    struct http_cookie_scan *cs)
{
	int rc = OK;

	memset(cs, 0, sizeof(*cs));
	cs->name = name;
	for (; *hdrs != NULL && rc != ERR_TOO_LARGE; hdrs++)
		rc = http_cookie_scan(cs, *hdrs, strlen(*hdrs));
	*v = cs->value;
	*n = cs->len;
	return (rc);
}

static void
test_cookie_scan(void **state)
{
	static const char *const plain[] = { "a=1; sid=xyz ;b=2", NULL };
	static const char *const quoted[] = { "sid=\"q v\"", NULL };
	static const char *const spaced[] = { " \tsid \t= v1 \t; x", NULL };
	static const char *const two[] = { "a=1", "sid=z", NULL };
	static const char *const same[] = { "sid=z", "x=1; sid=z", NULL };
	static const char *const differ[] = { "sid=z; sid=y", NULL };
	static const char *const prefix[] = { "xsid=1; sidx=2; SID=3", NULL };
	static const char *const novalue[] = { "sid; =sid; sid=", NULL };
	struct http_cookie_scan	 cs;
	const char		*v, *many[3];
	char			*big;
	size_t			 n, i;

	(void)state;
	assert_int_equal(cookie_in("sid", plain, &v, &n, &cs), OK);
	assert_int_equal(n, 3);
	assert_memory_equal(v, "xyz", 3);
	assert_int_equal(cookie_in("sid", quoted, &v, &n, &cs), OK);
	assert_int_equal(n, 3);
	assert_memory_equal(v, "q v", 3);
	assert_int_equal(cookie_in("sid", spaced, &v, &n, &cs), OK);
	assert_int_equal(n, 2);
	assert_memory_equal(v, "v1", 2);
	assert_int_equal(cookie_in("sid", two, &v, &n, &cs), OK);
	assert_memory_equal(v, "z", 1);
	/* The same value twice is one cookie; two values are none. */
	assert_int_equal(cookie_in("sid", same, &v, &n, &cs), OK);
	assert_int_equal(cs.found, 2);
	assert_int_equal(cookie_in("sid", differ, &v, &n, &cs), ERR_CONFLICT);
	/* Names compare exactly. */
	assert_int_equal(cookie_in("sid", prefix, &v, &n, &cs), OK);
	assert_int_equal(cs.found, 0);
	/* A piece without "=" is no cookie; "sid=" is an empty one. */
	assert_int_equal(cookie_in("sid", novalue, &v, &n, &cs), OK);
	assert_int_equal(cs.found, 1);
	assert_int_equal(n, 0);
	/* Bounded: bytes over every header, and pieces. */
	big = malloc(HTTP_COOKIE_MAX_BYTES + 1);
	assert_non_null(big);
	memset(big, 'x', HTTP_COOKIE_MAX_BYTES);
	big[HTTP_COOKIE_MAX_BYTES] = '\0';
	memcpy(big, "sid=1;", 6);
	many[0] = big;
	many[1] = NULL;
	assert_int_equal(cookie_in("sid", many, &v, &n, &cs), OK);
	many[1] = "y=1";
	many[2] = NULL;
	assert_int_equal(cookie_in("sid", many, &v, &n, &cs), ERR_TOO_LARGE);
	for (i = 0; i < HTTP_COOKIE_MAX_PAIRS; i++)
		memcpy(big + 3 * i, "a;;", 3);
	big[3 * HTTP_COOKIE_MAX_PAIRS] = '\0';
	many[1] = NULL;
	/* 2 * MAX pieces ("a", ";" and the empty one after it). */
	assert_int_equal(cookie_in("sid", many, &v, &n, &cs), ERR_TOO_LARGE);
	big[HTTP_COOKIE_MAX_PAIRS * 3 / 2] = '\0';
	assert_int_equal(cookie_in("sid", many, &v, &n, &cs), OK);
	free(big);
}

/* Responses built on a hand-made request */

static void
req_init(struct request *r)
{
	memset(r, 0, sizeof(*r));
	r->arena = arena_new(0);
	r->path = "/v1/things/1";
	snprintf(r->id, sizeof(r->id), "rid-1");
}

static void
test_problem_document(void **state)
{
	struct request r;
	json_t	      *o, *errs;

	(void)state;
	req_init(&r);
	http_problem(&r, ERR_NOT_FOUND, NULL, "no thing %d", 1);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.content_type, "application/problem+json");
	o = json_loadb(r.resp_body, r.resp_len, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "type")),
	    "https://carebase.dev/problems/not_found");
	assert_string_equal(
	    json_string_value(json_object_get(o, "title")), "Not Found");
	assert_int_equal(json_integer_value(json_object_get(o, "status")), 404);
	assert_string_equal(
	    json_string_value(json_object_get(o, "detail")), "no thing 1");
	assert_string_equal(
	    json_string_value(json_object_get(o, "instance")), "/v1/things/1");
	assert_string_equal(
	    json_string_value(json_object_get(o, "code")), "NOT_FOUND");
	assert_string_equal(
	    json_string_value(json_object_get(o, "request_id")), "rid-1");
	json_decref(o);
	arena_free(r.arena);

	req_init(&r);
	errs = json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "field", "email",
	    "code", "required", "detail", "missing");
	http_problem_ext(&r, ERR_INVALID, "VALIDATION_FAILED", errs, "bad");
	assert_int_equal(r.status, 422);
	o = json_loadb(r.resp_body, r.resp_len, 0, NULL);
	assert_string_equal(
	    json_string_value(json_object_get(
		json_array_get(json_object_get(o, "errors"), 0), "field")),
	    "email");
	json_decref(o);
	arena_free(r.arena);

	/* 5xx never carries internals. */
	req_init(&r);
	http_problem_ext(&r, ERR_DB, NULL, json_pack("{s:s}", "sql", "SELECT"),
	    "relation users: secret");
	assert_int_equal(r.status, 500);
	assert_null(strstr(r.resp_body, "secret"));
	assert_null(strstr(r.resp_body, "SELECT"));
	o = json_loadb(r.resp_body, r.resp_len, 0, NULL);
	assert_string_equal(
	    json_string_value(json_object_get(o, "type")), "about:blank");
	assert_string_equal(
	    json_string_value(json_object_get(o, "code")), "INTERNAL");
	json_decref(o);
	arena_free(r.arena);
}

static void
test_json_compact(void **state)
{
	struct request r;

	(void)state;
	req_init(&r);
	http_json(&r, 201, json_pack("{s:i,s:[i,i]}", "a", 1, "b", 2, 3));
	assert_int_equal(r.status, 201);
	assert_string_equal(r.content_type, "application/json");
	assert_string_equal(r.resp_body, "{\"a\":1,\"b\":[2,3]}");
	/* A second response is ignored. */
	http_json(&r, 200, json_object());
	assert_int_equal(r.status, 201);
	http_header_add(&r, "ETag", "\"v1\"");
	http_header_add(&r, "Bad", "a\r\nInjected: 1");
	assert_int_equal(r.nresp_hdrs, 1);
	assert_null(http_query(&r, "a"));
	assert_null(http_header(&r, "Host"));
	arena_free(r.arena);
}

static void
test_metrics_render(void **state)
{
	static const struct route rs[] = {
		{ HTTP_GET, "/v1/a/{id}", (http_handler)(uintptr_t)1, 0, NULL },
		{ HTTP_GET, "/esc/\"q\"\\x", (http_handler)(uintptr_t)1, 0,
		    NULL },
	};
	static const struct route_table t = { "m", rs, 2 };
	const struct route_table       *tp = &t;
	struct router		       *r;
	struct buf			b;

	(void)state;
	assert_int_equal(router_new(&tp, 1, &r), OK);
	assert_int_equal(metrics_init(r), OK);
	metrics_observe(1, HTTP_GET, 200, 300000);     /* 0.3 ms */
	metrics_observe(1, HTTP_GET, 200, 2000000000); /* 2 s */
	metrics_observe(1, HTTP_POST, 418, 1000);
	metrics_observe(2, HTTP_GET, 404, 1000);
	metrics_observe(0, 0, 404, 1000);
	metrics_inflight(1);
	buf_init(&b, 1 << 20);
	assert_int_equal(http_metrics_render(&b), OK);
	assert_non_null(
	    strstr(b.data, "# TYPE carebase_http_requests_total counter\n"));
	assert_non_null(strstr(b.data,
	    "carebase_http_requests_total{route=\""
	    "/v1/a/{id}\",method=\"GET\",status=\"200\"} 2\n"));
	assert_non_null(strstr(b.data,
	    "carebase_http_requests_total{route=\""
	    "/v1/a/{id}\",method=\"POST\",status=\"4xx\"} 1\n"));
	assert_non_null(strstr(b.data, "route=\"/esc/\\\"q\\\"\\\\x\""));
	assert_non_null(strstr(b.data,
	    "carebase_http_requests_total{route=\""
	    "unmatched\",method=\"other\",status=\"404\"} 1\n"));
	assert_non_null(strstr(b.data,
	    "# TYPE carebase_http_request_duration_seconds histogram\n"));
	assert_non_null(strstr(b.data,
	    "carebase_http_request_duration_seconds"
	    "_bucket{route=\"/v1/a/{id}\",le=\"0.0005\"} 2\n"));
	assert_non_null(strstr(b.data,
	    "carebase_http_request_duration_seconds"
	    "_bucket{route=\"/v1/a/{id}\",le=\"1\"} 2\n"));
	assert_non_null(strstr(b.data,
	    "carebase_http_request_duration_seconds"
	    "_bucket{route=\"/v1/a/{id}\",le=\"5\"} 3\n"));
	assert_non_null(strstr(b.data,
	    "carebase_http_request_duration_seconds"
	    "_bucket{route=\"/v1/a/{id}\",le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(b.data,
	    "carebase_http_request_duration_seconds"
	    "_count{route=\"/v1/a/{id}\"} 3\n"));
	assert_non_null(strstr(b.data,
	    "carebase_http_request_duration_seconds"
	    "_sum{route=\"/v1/a/{id}\"} 2.000301000\n"));
	assert_non_null(strstr(b.data,
	    "# TYPE carebase_http_requests_in_flight"
	    " gauge\ncarebase_http_requests_in_flight 1\n"));
	assert_int_equal(b.data[b.len - 1], '\n');
	metrics_inflight(-1);
	buf_free(&b);
	metrics_fini();
	router_free(r);
}

/* End to end: the real server on 127.0.0.1, spoken to over sockets */

struct resp {
	int    status;
	char   head[4096];
	char   body[8192];
	size_t blen;
};

static void h_hello(struct request *);
static void h_echo(struct request *);
static void h_item(struct request *);
static void h_none(struct request *);
static void h_boom(struct request *);
static void h_slow(struct request *);
static void h_metrics(struct request *);
static void h_mine(struct request *);
static int  admit_mine(struct request *);

static void
h_hello(struct request *r)
{
	const char *q = http_query(r, "name");

	http_json(r, 200, json_pack("{s:s}", "hello", q ? q : "world"));
}

static void
h_echo(struct request *r)
{
	http_json(r, 200, json_incref(r->json));
}

static void
h_item(struct request *r)
{
	http_json(r, 200, json_pack("{s:s}", "id", http_param(r, "id")));
}

static void
h_none(struct request *r)
{
	(void)r;
}

static void
h_boom(struct request *r)
{
	http_problem(r, ERR_DB, NULL, "secret table exploded");
}

static void
h_slow(struct request *r)
{
	struct timespec ts = { 0, 400 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	http_json(r, 200, json_pack("{s:b}", "slow", 1));
}

static void
h_metrics(struct request *r)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	http_metrics_render(&b);
	http_send(r, 200, "text/plain; version=0.0.4", b.data, b.len);
	buf_free(&b);
}

/* The caller's user id, for a route the dispatcher guards. */
static void
h_mine(struct request *r)
{
	http_json(r, 200, json_pack("{s:s}", "caller", r->caller->user_id));
}

/* Refuses from the headers what "X-Deny: 1" marks. */
static int
admit_mine(struct request *r)
{
	if (http_header(r, "X-Deny") == NULL)
		return (OK);
	http_problem(r, ERR_NOT_FOUND, NULL, "No such thing.");
	return (ERR_NOT_FOUND);
}

#define P ROUTE_PUBLIC
static const struct route e2e_routes[] = {
	{ HTTP_GET, "/v1/t/hello", h_hello, P, NULL },
	{ HTTP_POST, "/v1/t/echo", h_echo, ROUTE_JSON_BODY | P, NULL },
	{ HTTP_GET, "/v1/t/items/{id}", h_item, P, NULL },
	{ HTTP_GET, "/v1/t/none", h_none, P, NULL },
	{ HTTP_GET, "/v1/t/boom", h_boom, P, NULL },
	{ HTTP_GET, "/v1/t/slow", h_slow, P, NULL },
	{ HTTP_GET, "/metrics", h_metrics, P, NULL },
	{ HTTP_GET, "/healthz", h_hello, P, NULL },
	{ HTTP_GET, "/v1/t/mine", h_mine, 0, NULL },
	{ HTTP_POST, "/v1/t/mine", h_mine, ROUTE_JSON_BODY, NULL, NULL, NULL,
	    admit_mine },
};
#undef P
static const struct route_table e2e_table = { "e2e", e2e_routes,
	sizeof(e2e_routes) / sizeof(e2e_routes[0]) };

static struct http_server *
e2e_start(int rate, int burst)
{
	static int		added;
	struct http_server     *srv;
	struct http_server_opts o;

	if (!added) {
		assert_int_equal(http_routes_add(&e2e_table), OK);
		added = 1;
	}
	memset(&o, 0, sizeof(o));
	o.listen = "127.0.0.1";
	o.threads = 2;
	o.body_limit = 1024;
	o.timeout_s = 5;
	o.cors_origins = "https://app.example, https://admin.example";
	o.rate_limit = rate;
	o.rate_burst = burst;
	assert_int_equal(http_server_start(&o, &srv), OK);
	assert_true(http_server_port(srv) > 0);
	return (srv);
}

static int
e2e_connect(struct http_server *srv)
{
	struct sockaddr_in sin;
	struct timeval	   tv = { 5, 0 };
	int		   fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)http_server_port(srv));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return (fd);
}

/* A header's value (case-insensitive name) from r->head, or NULL. */
static const char *
hdr(struct resp *r, const char *name, char *out, size_t n)
{
	char	    pat[128];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\r\n%s: ", name);
	if ((p = strcasestr(r->head, pat)) == NULL)
		return (NULL);
	p += strlen(pat);
	e = strstr(p, "\r\n");
	snprintf(out, n, "%.*s", (int)(e - p), p);
	return (out);
}

/* Send one request and read one response; 0 on success. */
static int
roundtrip(int fd, const char *req, size_t reqlen, int head, struct resp *r)
{
	char	buf[16384], v[32];
	size_t	have = 0, hl, clen;
	ssize_t n;
	char   *end;

	memset(r, 0, sizeof(*r));
	if (reqlen == SIZE_MAX)
		reqlen = strlen(req);
	if (reqlen > 0 &&
	    send(fd, req, reqlen, MSG_NOSIGNAL) != (ssize_t)reqlen)
		return (-1);
	for (;;) {
		buf[have] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			break;
		if ((n = recv(fd, buf + have, sizeof(buf) - have - 1, 0)) <= 0)
			return (-1);
		have += (size_t)n;
	}
	hl = (size_t)(end - buf) + 2;
	snprintf(r->head, sizeof(r->head), "%.*s", (int)hl, buf);
	r->status = atoi(buf + 9);
	clen =
	    hdr(r, "Content-Length", v, sizeof(v)) ? strtoul(v, NULL, 10) : 0;
	if (head)
		clen = 0;
	have -= hl + 2;
	memmove(buf, end + 4, have);
	while (have < clen) {
		if ((n = recv(fd, buf + have, sizeof(buf) - have - 1, 0)) <= 0)
			return (-1);
		have += (size_t)n;
	}
	memcpy(
	    r->body, buf, clen < sizeof(r->body) ? clen : sizeof(r->body) - 1);
	r->blen = clen;
	return (0);
}

static void
get(int fd, const char *target, const char *extra, struct resp *r)
{
	char req[2048];
	int  n;

	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n%s\r\n",
	    target, extra ? extra : "");
	assert_int_equal(roundtrip(fd, req, (size_t)n, 0, r), 0);
}

static void
post(int fd, const char *target, const char *ctype, const char *body,
    struct resp *r)
{
	char req[8192];
	int  n;

	n = snprintf(req, sizeof(req),
	    "POST %s HTTP/1.1\r\nHost: t\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n%s",
	    target, ctype, strlen(body), body);
	assert_int_equal(roundtrip(fd, req, (size_t)n, 0, r), 0);
}

static void
assert_problem(struct resp *r, int status, const char *code)
{
	char	v[128];
	json_t *o;

	assert_int_equal(r->status, status);
	assert_string_equal(
	    hdr(r, "Content-Type", v, sizeof(v)), "application/problem+json");
	assert_string_equal(hdr(r, "Cache-Control", v, sizeof(v)), "no-store");
	o = json_loadb(r->body, r->blen, 0, NULL);
	assert_non_null(o);
	assert_string_equal(
	    json_string_value(json_object_get(o, "code")), code);
	assert_int_equal(
	    json_integer_value(json_object_get(o, "status")), status);
	assert_non_null(json_object_get(o, "request_id"));
	json_decref(o);
}

static void
test_server_end_to_end(void **state)
{
	struct http_server *srv = e2e_start(0, 0);
	struct resp	    r;
	char		    v[256], big[3000];
	int		    fd, fd2;

	(void)state;
	fd = e2e_connect(srv);

	/* 200 JSON, security headers, fresh request id. */
	get(fd, "/v1/t/hello?name=a+b", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"hello\":\"a b\"}");
	assert_string_equal(
	    hdr(&r, "Content-Type", v, sizeof(v)), "application/json");
	assert_string_equal(
	    hdr(&r, "X-Content-Type-Options", v, sizeof(v)), "nosniff");
	assert_string_equal(hdr(&r, "X-Frame-Options", v, sizeof(v)), "DENY");
	assert_string_equal(
	    hdr(&r, "Referrer-Policy", v, sizeof(v)), "no-referrer");
	assert_string_equal(hdr(&r, "Cache-Control", v, sizeof(v)), "no-store");
	assert_int_equal(strlen(hdr(&r, "X-Request-Id", v, sizeof(v))), 36);
	assert_null(hdr(&r, "Access-Control-Allow-Origin", v, sizeof(v)));
	assert_null(hdr(&r, "Strict-Transport-Security", v, sizeof(v)));

	/* Keep-alive: same socket; an incoming id is echoed, a bad one not. */
	get(fd, "/v1/t/items/a%20b", "X-Request-Id: my-req.1\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"id\":\"a b\"}");
	assert_string_equal(hdr(&r, "X-Request-Id", v, sizeof(v)), "my-req.1");
	get(fd, "/v1/t/hello", "X-Request-Id: bad!id\r\n", &r);
	assert_string_not_equal(
	    hdr(&r, "X-Request-Id", v, sizeof(v)), "bad!id");

	/* 404, 405 with Allow, malformed path. */
	get(fd, "/v1/nope", NULL, &r);
	assert_problem(&r, 404, "NOT_FOUND");
	assert_non_null(strstr(r.body, "\"instance\":\"/v1/nope\""));
	assert_int_equal(roundtrip(fd,
			     "DELETE /v1/t/hello HTTP/1.1\r\n"
			     "Host: t\r\n\r\n",
			     SIZE_MAX, 0, &r),
	    0);
	assert_problem(&r, 405, "METHOD_NOT_ALLOWED");
	assert_string_equal(
	    hdr(&r, "Allow", v, sizeof(v)), "GET, HEAD, OPTIONS");
	get(fd, "/v1/t/items/..", NULL, &r);
	assert_int_equal(r.status, 400);

	/* Bodies: 413, 415, 400 malformed, duplicates, body not allowed. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	post(fd, "/v1/t/echo", "application/json", big, &r);
	assert_problem(&r, 413, "PAYLOAD_TOO_LARGE");
	post(fd, "/v1/t/echo", "text/plain", "{}", &r);
	assert_problem(&r, 415, "UNSUPPORTED_MEDIA_TYPE");
	post(fd, "/v1/t/echo", "application/json; charset=utf-8",
	    "{\"a\":\n  [1,}", &r);
	assert_problem(&r, 400, "MALFORMED_REQUEST");
	assert_non_null(strstr(r.body, "line 2"));
	post(fd, "/v1/t/echo", "application/json", "", &r);
	assert_problem(&r, 400, "MALFORMED_REQUEST");
	post(fd, "/v1/t/echo", "application/json", "{\"a\":1,\"a\":2}", &r);
	assert_problem(&r, 400, "MALFORMED_REQUEST");
	post(fd, "/v1/t/echo", "Application/JSON", "{\"a\":[1,2]}", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"a\":[1,2]}");
	assert_int_equal(roundtrip(fd,
			     "GET /v1/t/hello HTTP/1.1\r\nHost: t\r\n"
			     "Content-Length: 2\r\n\r\n{}",
			     SIZE_MAX, 0, &r),
	    0);
	assert_problem(&r, 400, "BODY_NOT_ALLOWED");

	/* HEAD through GET, no body. */
	assert_int_equal(roundtrip(fd,
			     "HEAD /v1/t/hello HTTP/1.1\r\n"
			     "Host: t\r\n\r\n",
			     SIZE_MAX, 1, &r),
	    0);
	assert_int_equal(r.status, 200);
	assert_string_equal(hdr(&r, "Content-Length", v, sizeof(v)), "17");

	/* 500s: no response set, and no leak of internals. */
	get(fd, "/v1/t/none", NULL, &r);
	assert_problem(&r, 500, "INTERNAL");
	get(fd, "/v1/t/boom", NULL, &r);
	assert_problem(&r, 500, "INTERNAL");
	assert_null(strstr(r.body, "secret"));

	/* CORS: exact origins only; preflight; plain OPTIONS. */
	get(fd, "/v1/t/hello", "Origin: https://app.example\r\n", &r);
	assert_string_equal(
	    hdr(&r, "Access-Control-Allow-Origin", v, sizeof(v)),
	    "https://app.example");
	assert_string_equal(hdr(&r, "Vary", v, sizeof(v)), "Origin");
	get(fd, "/v1/t/hello", "Origin: https://evil.example\r\n", &r);
	assert_null(hdr(&r, "Access-Control-Allow-Origin", v, sizeof(v)));
	assert_null(hdr(&r, "Vary", v, sizeof(v)));
	assert_int_equal(
	    roundtrip(fd,
		"OPTIONS /v1/t/echo HTTP/1.1\r\nHost: t"
		"\r\nOrigin: "
		"https://admin.example\r\nAccess-Control-Request-Method:"
		" POST\r\n\r\n",
		SIZE_MAX, 0, &r),
	    0);
	assert_int_equal(r.status, 204);
	assert_string_equal(
	    hdr(&r, "Access-Control-Allow-Origin", v, sizeof(v)),
	    "https://admin.example");
	assert_string_equal(
	    hdr(&r, "Access-Control-Allow-Methods", v, sizeof(v)),
	    "POST, OPTIONS");
	assert_non_null(
	    strstr(hdr(&r, "Access-Control-Allow-Headers", v, sizeof(v)),
		"Authorization"));
	assert_non_null(hdr(&r, "Access-Control-Max-Age", v, sizeof(v)));
	assert_int_equal(roundtrip(fd,
			     "OPTIONS /v1/t/echo HTTP/1.1\r\n"
			     "Host: t\r\n\r\n",
			     SIZE_MAX, 0, &r),
	    0);
	assert_int_equal(r.status, 204);
	assert_string_equal(hdr(&r, "Allow", v, sizeof(v)), "POST, OPTIONS");
	assert_null(hdr(&r, "Access-Control-Allow-Origin", v, sizeof(v)));

	/* Metrics saw the traffic. */
	get(fd, "/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body,
	    "carebase_http_requests_total{route="
	    "\"/v1/t/hello\",method=\"GET\",status=\"200\"}"));
	assert_non_null(strstr(r.body, "route=\"unmatched\""));
	assert_null(hdr(&r, "Cache-Control", v, sizeof(v)));
	close(fd);

	/* Still serving on a new connection. */
	fd2 = e2e_connect(srv);
	get(fd2, "/v1/t/items/7", NULL, &r);
	assert_int_equal(r.status, 200);
	close(fd2);
	http_server_stop(srv, 2);
}

static void
test_server_rate_limit(void **state)
{
	struct http_server *srv = e2e_start(1, 2);
	struct resp	    r;
	char		    v[32];
	int		    fd, i;

	(void)state;
	fd = e2e_connect(srv);
	get(fd, "/v1/t/hello", NULL, &r);
	assert_int_equal(r.status, 200);
	get(fd, "/v1/t/hello", NULL, &r);
	assert_int_equal(r.status, 200);
	get(fd, "/v1/t/hello", NULL, &r);
	assert_problem(&r, 429, "RATE_LIMITED");
	assert_true(atoi(hdr(&r, "Retry-After", v, sizeof(v))) >= 1);
	for (i = 0; i < 5; i++) {
		get(fd, "/healthz", NULL, &r);
		assert_int_equal(r.status, 200);
	}
	close(fd);
	http_server_stop(srv, 2);
}

static void
test_server_tls_bad_files(void **state)
{
	struct http_server     *srv = NULL;
	struct http_server_opts o;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.listen = "127.0.0.1";
	o.tls_cert_file = "/nonexistent/cert.pem";
	o.tls_key_file = "/nonexistent/key.pem";
	assert_int_equal(http_server_start(&o, &srv), ERR_CONFIG);
	assert_null(srv);
	o.tls_cert_file = "/etc/hostname"; /* not PEM */
	assert_int_equal(http_server_start(&o, &srv), ERR_CONFIG);
	o.tls_key_file = NULL;
	assert_int_equal(http_server_start(&o, &srv), ERR_CONFIG);
	http_server_stop(NULL, 0);
}

struct slow_client {
	struct http_server *srv;
	int		    fd;
	struct resp	    r;
	int		    rc;
};

static void *
slow_client_run(void *arg)
{
	struct slow_client *c = arg;
	const char	   *req = "GET /v1/t/slow HTTP/1.1\r\nHost: t\r\n\r\n";

	c->rc = roundtrip(c->fd, req, strlen(req), 0, &c->r);
	return (NULL);
}

static void
test_server_graceful_stop(void **state)
{
	struct slow_client c;
	struct timespec	   ts = { 0, 100 * 1000 * 1000 };
	pthread_t	   t;
	int		   port;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.srv = e2e_start(0, 0);
	port = http_server_port(c.srv);
	c.fd = e2e_connect(c.srv);
	pthread_create(&t, NULL, slow_client_run, &c);
	nanosleep(&ts, NULL); /* the handler is now sleeping */
	http_server_stop(c.srv, 5);
	pthread_join(t, NULL);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.r.status, 200);
	assert_string_equal(c.r.body, "{\"slow\":true}");
	close(c.fd);
	(void)port;
}

/* "Bearer good" is user u1; "Bearer bad" is refused; none is anonymous. */
static int
fake_auth(struct request *r, struct principal **out)
{
	static struct principal u1 = { .user_id = "u1", .role = "member" };
	const char	       *a = http_header(r, "Authorization");

	*out = NULL;
	if (a == NULL)
		return (OK);
	if (strcmp(a, "Bearer good") == 0) {
		*out = &u1;
		return (OK);
	}
	http_problem(r, ERR_UNAUTHORIZED, "BAD_TOKEN", "not a good token");
	return (ERR_UNAUTHORIZED);
}

/*
 * The dispatcher authenticates every route not marked public before its
 * handler runs, and, for a request with a body, from the headers alone:
 * a refused upload is answered without "100 Continue" and without
 * reading the body.
 */
static void
test_server_dispatcher_auth(void **state)
{
	struct http_server *srv;
	struct resp	    r;
	char		    v[256], req[512];
	int		    fd, n;

	(void)state;
	srv = e2e_start(0, 0);
	fd = e2e_connect(srv);
	/* No authenticator at all: the guarded route still refuses. */
	get(fd, "/v1/t/mine", NULL, &r);
	assert_problem(&r, 401, "UNAUTHORIZED");
	http_set_authenticator(fake_auth);
	get(fd, "/v1/t/mine", NULL, &r);
	assert_problem(&r, 401, "UNAUTHORIZED");
	assert_string_equal(
	    hdr(&r, "WWW-Authenticate", v, sizeof(v)), "Bearer");
	get(fd, "/v1/t/mine", "Authorization: Bearer bad\r\n", &r);
	assert_problem(&r, 401, "BAD_TOKEN");
	get(fd, "/v1/t/mine", "Authorization: Bearer good\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"caller\":\"u1\"}");
	/* Public routes answer anyone, whatever the token. */
	get(fd, "/v1/t/hello", NULL, &r);
	assert_int_equal(r.status, 200);
	get(fd, "/v1/t/hello", "Authorization: Bearer bad\r\n", &r);
	assert_int_equal(r.status, 200);
	/* A small body without a caller: read, dropped, keep-alive kept. */
	post(fd, "/v1/t/mine", "application/json", "{\"a\":1}", &r);
	assert_problem(&r, 401, "UNAUTHORIZED");
	assert_null(hdr(&r, "Connection", v, sizeof(v)));
	get(fd, "/v1/t/mine", "Authorization: Bearer good\r\n", &r);
	assert_int_equal(r.status, 200);
	close(fd);
	/* A large body awaited with Expect: the answer comes first, no
	 * 100 Continue, and the connection closes. */
	fd = e2e_connect(srv);
	n = snprintf(req, sizeof(req),
	    "POST /v1/t/mine HTTP/1.1\r\nHost: t\r\n"
	    "Content-Type: application/json\r\nContent-Length: 900\r\n"
	    "Expect: 100-continue\r\n\r\n");
	assert_int_equal(roundtrip(fd, req, (size_t)n, 0, &r), 0);
	assert_problem(&r, 401, "UNAUTHORIZED");
	assert_string_equal(hdr(&r, "Connection", v, sizeof(v)), "close");
	close(fd);
	/* The admit check runs from the headers too, after the caller. */
	fd = e2e_connect(srv);
	n = snprintf(req, sizeof(req),
	    "POST /v1/t/mine HTTP/1.1\r\nHost: t\r\n"
	    "Authorization: Bearer good\r\nX-Deny: 1\r\n"
	    "Content-Type: application/json\r\nContent-Length: 900\r\n"
	    "Expect: 100-continue\r\n\r\n");
	assert_int_equal(roundtrip(fd, req, (size_t)n, 0, &r), 0);
	assert_problem(&r, 404, "NOT_FOUND");
	close(fd);
	fd = e2e_connect(srv);
	post(fd, "/v1/t/mine", "application/json", "{\"a\":1}", &r);
	assert_problem(&r, 401, "UNAUTHORIZED");
	close(fd);
	http_set_authenticator(NULL);
	http_server_stop(srv, 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_parse),
		cmocka_unit_test(test_pct_decode),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_content_type),
		cmocka_unit_test(test_request_id),
		cmocka_unit_test(test_origin_list),
		cmocka_unit_test(test_json_depth),
		cmocka_unit_test(test_cookie_scan),
		cmocka_unit_test(test_problem_document),
		cmocka_unit_test(test_json_compact),
		cmocka_unit_test(test_metrics_render),
		cmocka_unit_test(test_server_end_to_end),
		cmocka_unit_test(test_server_rate_limit),
		cmocka_unit_test(test_server_graceful_stop),
		cmocka_unit_test(test_server_dispatcher_auth),
		cmocka_unit_test(test_server_tls_bad_files),
	};

	log_set_level(LOG_OFF);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
