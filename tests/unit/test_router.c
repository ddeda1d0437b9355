/*
 * Router: static beats parameter (with backtracking), parameters are
 * percent-decoded, 404 against 405 with the allowed set, HEAD served by
 * GET, the trailing-slash and malformed-path policy, and a large table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/log.h"
#include "http/http.h"
#include "http/http_int.h"

static void h_a(struct request *);
static void h_b(struct request *);

static void
h_a(struct request *r)
{
	(void)r;
}
static void
h_b(struct request *r)
{
	(void)r;
}

static const struct route routes[] = {
	{ HTTP_GET, "/", h_a, 0, "root" },
	{ HTTP_GET, "/v1/jobs", h_a, 0, "list" },
	{ HTTP_POST, "/v1/jobs", h_b, ROUTE_JSON_BODY, "create" },
	{ HTTP_GET, "/v1/jobs/stats", h_b, 0, "stats" },
	{ HTTP_GET, "/v1/jobs/{id}", h_a, 0, "get" },
	{ HTTP_DELETE, "/v1/jobs/{id}", h_b, 0, "delete" },
	{ HTTP_POST, "/v1/jobs/{id}/retry", h_a, 0, "retry" },
	{ HTTP_GET, "/v1/users/{user}/notes/{note}", h_a, 0, "note" },
	{ HTTP_PUT, "/v1/users/{uid}/notes/{nid}", h_b, ROUTE_JSON_BODY,
	    "put" },
};
static const struct route_table table = { "test", routes, 9 };

struct fixture {
	struct router *r;
	struct arena  *a;
};

static int
setup(void **state)
{
	static struct fixture	  f;
	const struct route_table *t[] = { &table };

	log_set_level(LOG_OFF);
	assert_int_equal(router_new(t, 1, &f.r), OK);
	f.a = arena_new(0);
	*state = &f;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	router_free(f->r);
	arena_free(f->a);
	return (0);
}

static int
match(void **state, const char *path, int method, struct router_match *m)
{
	struct fixture *f = *state;

	return (router_match(f->r, f->a, path, method, m));
}

static void
test_static_beats_param(void **state)
{
	struct router_match m;

	assert_int_equal(match(state, "/v1/jobs/stats", HTTP_GET, &m), OK);
	assert_string_equal(m.pattern, "/v1/jobs/stats");
	assert_int_equal(m.nparams, 0);
	assert_int_equal(match(state, "/v1/jobs/42", HTTP_GET, &m), OK);
	assert_string_equal(m.pattern, "/v1/jobs/{id}");
	assert_string_equal(m.params[0].name, "id");
	assert_string_equal(m.params[0].value, "42");
	/* Backtracking: "stats" has no child "retry", the param does. */
	assert_int_equal(
	    match(state, "/v1/jobs/stats/retry", HTTP_POST, &m), OK);
	assert_string_equal(m.pattern, "/v1/jobs/{id}/retry");
	assert_string_equal(m.params[0].value, "stats");
	/* DELETE on the static path falls through to the param route. */
	assert_int_equal(match(state, "/v1/jobs/stats", HTTP_DELETE, &m), OK);
	assert_string_equal(m.pattern, "/v1/jobs/{id}");
}

static void
test_params_decoded(void **state)
{
	struct router_match m;

	assert_int_equal(
	    match(state, "/v1/users/a%20b/notes/%C3%A9t%C3%A9", HTTP_GET, &m),
	    OK);
	assert_int_equal(m.nparams, 2);
	assert_string_equal(m.params[0].name, "user");
	assert_string_equal(m.params[0].value, "a b");
	assert_string_equal(m.params[1].name, "note");
	assert_string_equal(m.params[1].value, "\xc3\xa9t\xc3\xa9");
	/* Names are per route, even at the same trie node. */
	assert_int_equal(match(state, "/v1/users/1/notes/2", HTTP_PUT, &m), OK);
	assert_string_equal(m.params[0].name, "uid");
	assert_string_equal(m.params[1].name, "nid");
	/* Static segments compare decoded too. */
	assert_int_equal(match(state, "/v1/%6Aobs", HTTP_GET, &m), OK);
	assert_string_equal(m.pattern, "/v1/jobs");
}

static void
test_bad_params(void **state)
{
	struct router_match m;

	assert_int_equal(
	    match(state, "/v1/jobs/a%2Fb", HTTP_GET, &m), ERR_NOT_FOUND);
	assert_int_equal(
	    match(state, "/v1/jobs/a%00b", HTTP_GET, &m), ERR_MALFORMED);
	assert_int_equal(
	    match(state, "/v1/jobs/%zz", HTTP_GET, &m), ERR_MALFORMED);
	assert_int_equal(
	    match(state, "/v1/jobs/%4", HTTP_GET, &m), ERR_MALFORMED);
	assert_int_equal(
	    match(state, "/v1/jobs/%C3%28", HTTP_GET, &m), ERR_MALFORMED);
	assert_int_equal(
	    match(state, "/v1/jobs/\xff", HTTP_GET, &m), ERR_MALFORMED);
}

static void
test_path_normalisation(void **state)
{
	struct router_match m;

	assert_int_equal(
	    match(state, "/v1//jobs", HTTP_GET, &m), ERR_MALFORMED);
	assert_int_equal(match(state, "//", HTTP_GET, &m), ERR_MALFORMED);
	assert_int_equal(
	    match(state, "/v1/jobs/../jobs", HTTP_GET, &m), ERR_MALFORMED);
	assert_int_equal(
	    match(state, "/v1/./jobs", HTTP_GET, &m), ERR_MALFORMED);
	assert_int_equal(
	    match(state, "/v1/%2e%2e/x", HTTP_GET, &m), ERR_MALFORMED);
	assert_int_equal(match(state, "v1/jobs", HTTP_GET, &m), ERR_MALFORMED);
	assert_int_equal(match(state, "", HTTP_GET, &m), ERR_MALFORMED);
	assert_int_equal(match(state, "/", HTTP_GET, &m), OK);
	assert_string_equal(m.pattern, "/");
}

static void
test_trailing_slash_is_404(void **state)
{
	struct router_match m;

	assert_int_equal(
	    match(state, "/v1/jobs/", HTTP_GET, &m), ERR_NOT_FOUND);
	assert_int_equal(
	    match(state, "/v1/jobs/42/", HTTP_GET, &m), ERR_NOT_FOUND);
}

static void
test_404_vs_405(void **state)
{
	struct router_match m;
	char		    allow[96];

	assert_int_equal(
	    match(state, "/v1/nothing", HTTP_GET, &m), ERR_NOT_FOUND);
	assert_int_equal(m.allow, 0);
	assert_int_equal(match(state, "/v1/jobs", HTTP_DELETE, &m), ERR_METHOD);
	assert_int_equal(m.allow, HTTP_GET | HTTP_POST);
	assert_string_equal(http_allow_format(m.allow, allow, sizeof(allow)),
	    "GET, POST, HEAD, OPTIONS");
	assert_int_equal(
	    match(state, "/v1/jobs/7", HTTP_PATCH, &m), ERR_METHOD);
	assert_string_equal(http_allow_format(m.allow, allow, sizeof(allow)),
	    "GET, DELETE, HEAD, OPTIONS");
	assert_int_equal(
	    match(state, "/v1/jobs/7/retry", HTTP_GET, &m), ERR_METHOD);
	assert_string_equal(
	    http_allow_format(m.allow, allow, sizeof(allow)), "POST, OPTIONS");
	/* Unknown method: 405 on a known path. */
	assert_int_equal(match(state, "/v1/jobs", 0, &m), ERR_METHOD);
	assert_int_equal(
	    match(state, "/v1/jobs", HTTP_OPTIONS, &m), ERR_METHOD);
}

static void
test_head_served_by_get(void **state)
{
	struct router_match m;

	assert_int_equal(match(state, "/v1/jobs/stats", HTTP_HEAD, &m), OK);
	assert_ptr_equal(m.route->handler, h_b);
	assert_int_equal(m.route->method, HTTP_GET);
}

static void
test_method_parse(void **state)
{
	(void)state;
	assert_int_equal(http_method_parse("GET"), HTTP_GET);
	assert_int_equal(http_method_parse("OPTIONS"), HTTP_OPTIONS);
	assert_int_equal(http_method_parse("get"), 0);
	assert_int_equal(http_method_parse("TRACE"), 0);
}

static void
test_bad_tables_refused(void **state)
{
	static const struct route dup[] = {
		{ HTTP_GET, "/a/{x}", h_a, 0, NULL },
		{ HTTP_GET, "/a/{y}", h_b, 0, NULL },
	};
	static const struct route bad1[] = { { HTTP_GET, "/a//b", h_a, 0,
	    NULL } };
	static const struct route bad2[] = { { HTTP_GET, "/a/", h_a, 0,
	    NULL } };
	static const struct route bad3[] = { { HTTP_GET, "/a/x{y}", h_a, 0,
	    NULL } };
	static const struct route bad4[] = { { HTTP_GET | HTTP_POST, "/a", h_a,
	    0, NULL } };
	static const struct route_table t1 = { "t", dup, 2 },
					t2 = { "t", bad1, 1 },
					t3 = { "t", bad2, 1 },
					t4 = { "t", bad3, 1 },
					t5 = { "t", bad4, 1 };
	const struct route_table *tabs[] = { &t1, &t2, &t3, &t4, &t5 };
	struct router		 *r;
	size_t			  i;

	(void)state;
	for (i = 0; i < 5; i++) {
		assert_int_equal(router_new(&tabs[i], 1, &r), ERR_CONFIG);
		assert_null(r);
	}
}

/* A route's api text is parsed when its table is added; bad text stops
 * start-up, good text is handed to the OpenAPI document. */
static void
test_route_api_checked(void **state)
{
	static const char *const bad[] = {
		"{\"body\":",		      /* not JSON */
		"[]",			      /* not an object */
		"{\"body\":[]}",	      /* not a schema */
		"{\"content\":{\"csv\":{}}}", /* not a media type */
		"{\"answers\":{\"404\":{\"description\":\"x\"}}}",
		"{\"answers\":{\"200\":{}}}",	  /* no description */
		"{\"problems\":{\"200\":\"x\"}}", /* not a problem status */
		"{\"problems\":{\"409\":1}}",
		"{\"answer\":{}}",	     /* unknown member */
		"{\"body\":{},\"body\":{}}", /* duplicate member */
		/* a bad member after good ones */
		("{\"body\":{},\"content\":{\"a/"
		 "b\":{}},\"problems\":{\"409\":1}}"),
		"{\"answers\":{\"200\":{\"description\":\"x\"}},\"what\":1}",
		/* security only on a public route (rt[0] is not), each
		 * scheme with a type */
		"{\"security\":{\"sig\":{\"type\":\"apiKey\"}}}",
		"{\"list\":1}",		     /* not a resource's name */
		"{\"schemas\":{\"a\":1}}",   /* not a schema */
		"{\"webhooks\":{\"a\":[]}}", /* not a path item */
		/* a path parameter of a segment the path does not have */
		("{\"parameters\":[{\"name\":\"id\",\"in\":\"path\","
		 "\"schema\":{}}]}"),
		/* nor in the query nor a header (a cookie is a scheme's) */
		("{\"parameters\":[{\"name\":\"id\",\"in\":\"cookie\","
		 "\"schema\":{}}]}"),
	};
	static const char *const bad_public[] = {
		"{\"security\":{}}",
		"{\"security\":{\"sig\":{\"in\":\"header\"}}}",
	};
	static struct route rt[1];
	static struct route ok[2];
	static struct route pr[1];
	struct route_table  t = { "t", rt, 1 }, good = { "good", ok, 2 };
	struct route_table  pub = { "pub", pr, 1 };
	json_t		   *a;
	size_t		    i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(rt, 0, sizeof(rt));
		rt[0].method = HTTP_GET;
		rt[0].pattern = "/x";
		rt[0].handler = h_a;
		rt[0].api = bad[i];
		if (http_routes_add(&t) != ERR_CONFIG)
			fail_msg("api %zu (%s) accepted", i, bad[i]);
	}
	for (i = 0; i < sizeof(bad_public) / sizeof(bad_public[0]); i++) {
		memset(rt, 0, sizeof(rt));
		rt[0].method = HTTP_POST;
		rt[0].pattern = "/x";
		rt[0].handler = h_a;
		rt[0].flags = ROUTE_PUBLIC;
		rt[0].api = bad_public[i];
		if (http_routes_add(&t) != ERR_CONFIG)
			fail_msg(
			    "public api %zu (%s) accepted", i, bad_public[i]);
	}
	memset(pr, 0, sizeof(pr));
	pr[0].method = HTTP_POST;
	pr[0].pattern = "/x/{id}";
	pr[0].handler = h_a;
	pr[0].flags = ROUTE_PUBLIC;
	pr[0].api =
	    "{\"security\":{\"sig\":{\"type\":\"apiKey\",\"in\":"
	    "\"header\",\"name\":\"X-Sig\"}},\"parameters\":[{\"name\":"
	    "\"id\",\"in\":\"path\",\"schema\":{}},{\"name\":\"X-Client\","
	    "\"in\":\"header\",\"schema\":{}}],\"list\":\"r\","
	    "\"schemas\":{\"s\":{}},\"webhooks\":{\"w\":{}}}";
	assert_int_equal(http_routes_add(&pub), OK);
	assert_non_null(http_route_api(&pub, 0));
	ok[0].method = HTTP_POST;
	ok[0].pattern = "/ok";
	ok[0].handler = h_a;
	ok[0].api =
	    "{\"body\":{\"type\":\"object\"},\"content\":{"
	    "\"text/csv\":{\"type\":\"string\"}},\"answers\":{\"201\":{"
	    "\"description\":\"made\"}},\"problems\":{\"409\":\"taken\"}}";
	ok[1].method = HTTP_GET;
	ok[1].pattern = "/ok";
	ok[1].handler = h_b;
	assert_int_equal(http_routes_add(&good), OK);
	a = http_route_api(&good, 0);
	assert_non_null(a);
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(a, "problems"), "409")),
	    "taken");
	assert_null(http_route_api(&good, 1));
	assert_null(http_route_api(&t, 0));
}

static void
test_many_routes(void **state)
{
	static struct route	  many[600];
	static char		  pats[600][48];
	struct route_table	  t = { "many", many, 600 };
	const struct route_table *tp = &t;
	struct router		 *r;
	struct router_match	  m;
	struct arena		 *a = arena_new(0);
	char			  path[64];
	int			  i;

	(void)state;
	for (i = 0; i < 600; i++) {
		snprintf(
		    pats[i], sizeof(pats[i]), "/v1/r%d/{id}/s%d", i / 3, i % 3);
		many[i] = (struct route){ HTTP_GET, pats[i], h_a, 0, NULL };
	}
	assert_int_equal(router_new(&tp, 1, &r), OK);
	assert_int_equal(router_npatterns(r), 600);
	for (i = 0; i < 600; i++) {
		snprintf(
		    path, sizeof(path), "/v1/r%d/x%d/s%d", i / 3, i, i % 3);
		assert_int_equal(router_match(r, a, path, HTTP_GET, &m), OK);
		assert_ptr_equal(m.route, &many[i]);
		assert_string_equal(m.pattern, pats[i]);
		assert_string_equal(router_pattern(r, m.route_id), pats[i]);
		arena_reset(a);
	}
	assert_int_equal(
	    router_match(r, a, "/v1/r200/x/s0", HTTP_GET, &m), ERR_NOT_FOUND);
	router_free(r);
	arena_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_static_beats_param),
		cmocka_unit_test(test_params_decoded),
		cmocka_unit_test(test_bad_params),
		cmocka_unit_test(test_path_normalisation),
		cmocka_unit_test(test_trailing_slash_is_404),
		cmocka_unit_test(test_404_vs_405),
		cmocka_unit_test(test_head_served_by_get),
		cmocka_unit_test(test_method_parse),
		cmocka_unit_test(test_bad_tables_refused),
		cmocka_unit_test(test_route_api_checked),
		cmocka_unit_test(test_many_routes),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
