/*
 * People: the password rules (length in code points, never truncated,
 * common list, email), the login throttle's arithmetic, the refusal of
 * tokens in query strings, the bearer header parser, the session
 * expiry rule and the CSRF value of a browser's session.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/keyring.h"
#include "people/people_int.h"

#define MIN  60000LL
#define HOUR 3600000LL

struct pw_case {
	const char *pw;
	const char *email;
	int	    rc;
	const char *why;
};

static void
test_password_rules(void **state)
{
	static const struct pw_case cases[] = {
		{ "correct horse battery", "a@b.c", OK, NULL },
		{ "short-pass1", "a@b.c", ERR_INVALID, "too_short" }, /* 11 */
		{ "exactly12chr", "a@b.c", OK, NULL },		      /* 12 */
		/* 12 code points of 2-4 bytes each: long enough. */
		{ "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
		    "a@b.c", OK, NULL },
		{ "\xf0\x9f\x94\x91\xf0\x9f\x94\x91\xf0\x9f\x94\x91", "a@b.c",
		    ERR_INVALID, "too_short" }, /* 3 emoji = 12 bytes */
		{ "\xff\xfe not utf-8 at all", "a@b.c", ERR_INVALID,
		    "not_utf8" },
		{ "\xc0\xafoverlong-slash", "a@b.c", ERR_INVALID, "not_utf8" },
		{ "\xed\xa0\x80surrogate-here", "a@b.c", ERR_INVALID,
		    "not_utf8" },
		{ "ALICE@EXAMPLE.ORG", "alice@example.org", ERR_INVALID,
		    "same_as_email" },
		{ "alice.longname", "Alice.Longname@example.org", ERR_INVALID,
		    "same_as_email" },
		{ "winniethepooh", "a@b.c", ERR_INVALID, "common" },
		{ "WinnieThePooh", "a@b.c", ERR_INVALID, "common" },
	};
	const char *why;
	size_t	    i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = people_password_check(
		    cases[i].pw, strlen(cases[i].pw), cases[i].email, &why);

		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d, want %d (%s)", i, rc,
			    cases[i].rc, why != NULL ? why : "-");
		if (cases[i].why != NULL)
			assert_string_equal(why, cases[i].why);
	}
}

static void
test_password_length_bounds(void **state)
{
	char	    pw[600];
	const char *why;

	(void)state;
	memset(pw, 'x', sizeof(pw));
	pw[0] = 'Q';
	pw[128] = '\0';
	assert_int_equal(people_password_check(pw, 128, NULL, &why), OK);
	pw[128] = 'y';
	pw[129] = '\0';
	assert_int_equal(
	    people_password_check(pw, 129, NULL, &why), ERR_INVALID);
	assert_string_equal(why, "too_long");
	/* A NUL inside is refused, never cut there. */
	memcpy(pw, "good-enough-pw\0tail", 19);
	assert_int_equal(
	    people_password_check(pw, 19, NULL, &why), ERR_INVALID);
	assert_string_equal(why, "contains_nul");
}

static void
test_common_list(void **state)
{
	(void)state;
	assert_int_equal(people_password_common("password"), 1);
	assert_int_equal(people_password_common("PaSsWoRd"), 1);
	assert_int_equal(people_password_common("123456"), 1);
	/* Comment lines of password.lst are not entries. */
	assert_int_equal(people_password_common("#!comment:"), 0);
	assert_int_equal(people_password_common("carebase-demo-2026"), 0);
}

static void
test_utf8_count(void **state)
{
	(void)state;
	assert_int_equal(people_utf8_count("abc", 3), 3);
	assert_int_equal(people_utf8_count("\xc3\xa9", 2), 1);
	assert_int_equal(people_utf8_count("\xe2\x82\xac", 3), 1);
	assert_int_equal(people_utf8_count("\xf0\x9f\x94\x91", 4), 1);
	assert_int_equal(people_utf8_count("\xe2\x82", 2), -1); /* cut */
	assert_int_equal(people_utf8_count("\xf4\x90\x80\x80", 4), -1);
}

struct lock_case {
	int64_t n, after, max;
	int64_t want_s; /* seconds after now; -1 = end of window */
};

static void
test_throttle_lock(void **state)
{
	static const struct lock_case cases[] = {
		{ 1, 5, 100, 0 },
		{ 4, 5, 100, 0 },
		{ 5, 5, 100, 1 },
		{ 6, 5, 100, 2 },
		{ 7, 5, 100, 4 },
		{ 14, 5, 100, 512 },
		{ 15, 5, 100, 900 },
		{ 60, 5, 100, 900 },
		{ 99, 5, 100, 900 },
		{ 100, 5, 100, -1 },
		{ 250, 5, 100, -1 },
		/* Addresses: no backoff, only the hourly limit. */
		{ 999, 0, 1000, 0 },
		{ 1000, 0, 1000, -1 },
	};
	int64_t now = 10 * HOUR + 17 * MIN, start = 10 * HOUR, got, want;
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = people_throttle_lock(
		    cases[i].n, cases[i].after, cases[i].max, start, now);
		want = cases[i].want_s == 0 ? 0
		    : cases[i].want_s < 0   ? start + HOUR
					    : now + cases[i].want_s * 1000;
		if (got != want)
			fail_msg("case %zu (n=%lld): got %lld want %lld", i,
			    (long long)cases[i].n, (long long)got,
			    (long long)want);
	}
	assert_int_equal(people_retry_after(now + 1, now), 1);
	assert_int_equal(people_retry_after(now + 1000, now), 1);
	assert_int_equal(people_retry_after(now + 1001, now), 2);
	assert_int_equal(people_retry_after(now - 5, now), 1);
	assert_int_equal(people_retry_after(start + HOUR, now), 43 * 60);
}

static void
test_query_tokens(void **state)
{
	static const char tok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJK-_0123";
	size_t		  n = strlen(tok);

	(void)state;
	assert_int_equal(n, TOKEN_LEN - 1);
	assert_int_equal(people_query_has_token(NULL, tok, n), 0);
	assert_int_equal(people_query_has_token("", tok, n), 0);
	assert_int_equal(
	    people_query_has_token("limit=5&sort=-created_at", tok, n), 0);
	assert_int_equal(people_query_has_token("access_token=x", NULL, 0), 1);
	assert_int_equal(people_query_has_token("a=1&TOKEN=x", NULL, 0), 1);
	assert_int_equal(people_query_has_token("auth", NULL, 0), 1);
	assert_int_equal(
	    people_query_has_token("a=1&api_key=&b=2", NULL, 0), 1);
	assert_int_equal(people_query_has_token("q=Bearer%20abc", NULL, 0), 1);
	assert_int_equal(people_query_has_token("q=bearer+abc", NULL, 0), 1);
	/* Any value carrying the header's own token, whatever its key. */
	assert_int_equal(people_query_has_token("x=abcdefghijklmnopqrstuvwxyz"
						"ABCDEFGHIJK-_0123",
			     tok, n),
	    1);
	assert_int_equal(
	    people_query_has_token("x=abcdefghijklmnopqrstuvwxyz", tok, n), 0);
	assert_int_equal(
	    people_query_has_token("tokens=1&sessions=2", NULL, 0), 0);
}

/* Bound to the session, the same in every process of the deployment (the
 * same master key), another's for another session or another key. */
static void
test_csrf_value(void **state)
{
	unsigned char master[MASTER_KEY_LEN];
	char	      a[TOKEN_LEN], b[TOKEN_LEN], c[TOKEN_LEN];
	const char   *s1 = "01900000-0000-7000-8000-000000000001";
	const char   *s2 = "01900000-0000-7000-8000-000000000002";

	(void)state;
	keyring_wipe();
	assert_int_equal(people_csrf_value(s1, a), ERR_UNAVAILABLE);
	memset(master, 7, sizeof(master));
	keyring_init(master);
	assert_int_equal(people_csrf_value(s1, a), OK);
	assert_int_equal(strlen(a), TOKEN_LEN - 1);
	assert_int_equal(
	    strspn(a,
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		"0123456789-_"),
	    TOKEN_LEN - 1);
	assert_int_equal(people_csrf_value(s1, b), OK);
	assert_string_equal(a, b);
	assert_int_equal(people_csrf_value(s2, c), OK);
	assert_string_not_equal(a, c);
	master[0] = 8;
	keyring_init(master);
	assert_int_equal(people_csrf_value(s1, c), OK);
	assert_string_not_equal(a, c);
	keyring_wipe();
}

static void
test_bearer_parse(void **state)
{
	const char *t = NULL;
	size_t	    n = 0;

	(void)state;
	assert_int_equal(
	    people_bearer_parse("Bearer "
				"abcdefghijklmnopqrstuvwxyzABCDEFGHIJK-_0123",
		&t, &n),
	    OK);
	assert_int_equal(n, TOKEN_LEN - 1);
	assert_int_equal(
	    people_bearer_parse("bearer "
				"abcdefghijklmnopqrstuvwxyzABCDEFGHIJK-_0123",
		&t, &n),
	    OK);
	assert_int_equal(
	    people_bearer_parse("Basic dXNlcjpwYXNz", &t, &n), ERR_MALFORMED);
	assert_int_equal(people_bearer_parse("Bearer", &t, &n), ERR_MALFORMED);
	assert_int_equal(
	    people_bearer_parse("Bearer short", &t, &n), ERR_MALFORMED);
	assert_int_equal(
	    people_bearer_parse("Bearer "
				"abcdefghijklmnopqrstuvwxyzABCDEFGHIJK-_0123 x",
		&t, &n),
	    ERR_MALFORMED);
	assert_int_equal(
	    people_bearer_parse("Bearer "
				"abcdefghijklmnopqrstuvwxyzABCDEFGHIJK-_012=",
		&t, &n),
	    ERR_MALFORMED);
}

struct live_case {
	int64_t now, last, idle, expires, ended;
	int	rc;
};

static void
test_session_live(void **state)
{
	static const struct live_case cases[] = {
		{ 1000, 1000, 30 * MIN, 12 * HOUR, 0, OK },
		{ 30 * MIN, 1, 30 * MIN, 12 * HOUR, 0, OK },
		{ 30 * MIN + 1, 1, 30 * MIN, 12 * HOUR, 0, ERR_UNAUTHORIZED },
		{ 12 * HOUR - 1, 12 * HOUR - 2, 30 * MIN, 12 * HOUR, 0, OK },
		{ 12 * HOUR, 12 * HOUR - 1, 30 * MIN, 12 * HOUR, 0,
		    ERR_UNAUTHORIZED },
		{ 5000, 4000, 30 * MIN, 12 * HOUR, 4500, ERR_UNAUTHORIZED },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (people_session_live(cases[i].now, cases[i].last,
			cases[i].idle, cases[i].expires,
			cases[i].ended) != cases[i].rc)
			fail_msg("session case %zu", i);
}

static void
test_activity_step(void **state)
{
	(void)state;
	/* idle / 60, from 1 s to a minute. */
	assert_int_equal(people_activity_step(60 * 1000), 1000);
	assert_int_equal(people_activity_step(1000), 1000);
	assert_int_equal(people_activity_step(30 * MIN), 30000);
	assert_int_equal(people_activity_step(7 * 24 * HOUR), 60000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_password_rules),
		cmocka_unit_test(test_activity_step),
		cmocka_unit_test(test_password_length_bounds),
		cmocka_unit_test(test_common_list),
		cmocka_unit_test(test_utf8_count),
		cmocka_unit_test(test_throttle_lock),
		cmocka_unit_test(test_query_tokens),
		cmocka_unit_test(test_bearer_parse),
		cmocka_unit_test(test_csrf_value),
		cmocka_unit_test(test_session_live),
	};

	if (crypto_init() != OK)
		return (1);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
