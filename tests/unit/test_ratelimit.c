/*
 * Rate limiter: a burst then refusal with Retry-After, refill over time on
 * an injected clock, keys kept apart, and a fixed bound on entries however
 * many clients there are.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "http/http_int.h"

#define SEC 1000000000LL

static void
test_burst_then_refuse(void **state)
{
	struct ratelimit *rl = ratelimit_new(2, 5, 1024);
	int		  i, retry = 0;

	(void)state;
	assert_non_null(rl);
	for (i = 0; i < 5; i++)
		assert_int_equal(
		    ratelimit_take(rl, "10.0.0.1", 100 * SEC, &retry), 1);
	assert_int_equal(ratelimit_take(rl, "10.0.0.1", 100 * SEC, &retry), 0);
	assert_int_equal(retry, 1);
	/* Another client has its own bucket. */
	assert_int_equal(ratelimit_take(rl, "10.0.0.2", 100 * SEC, &retry), 1);
	ratelimit_free(rl);
}

static void
test_refill_over_time(void **state)
{
	struct ratelimit *rl = ratelimit_new(1, 2, 1024);
	int		  retry = 0;
	int64_t		  t = 50 * SEC;

	(void)state;
	assert_int_equal(ratelimit_take(rl, "a", t, &retry), 1);
	assert_int_equal(ratelimit_take(rl, "a", t, &retry), 1);
	assert_int_equal(ratelimit_take(rl, "a", t, &retry), 0);
	assert_int_equal(ratelimit_take(rl, "a", t + SEC / 2, &retry), 0);
	assert_int_equal(retry, 1);
	assert_int_equal(ratelimit_take(rl, "a", t + SEC, &retry), 1);
	assert_int_equal(ratelimit_take(rl, "a", t + SEC, &retry), 0);
	/* A long pause refills to the burst, not beyond. */
	t += 100 * SEC;
	assert_int_equal(ratelimit_take(rl, "a", t, &retry), 1);
	assert_int_equal(ratelimit_take(rl, "a", t, &retry), 1);
	assert_int_equal(ratelimit_take(rl, "a", t, &retry), 0);
	ratelimit_free(rl);
}

static void
test_retry_after_whole_seconds(void **state)
{
	struct ratelimit *rl = ratelimit_new(0.1, 1, 64);
	int		  retry = 0;

	(void)state;
	assert_int_equal(ratelimit_take(rl, "slow", SEC, &retry), 1);
	assert_int_equal(ratelimit_take(rl, "slow", SEC, &retry), 0);
	assert_int_equal(retry, 10);
	ratelimit_free(rl);
}

static void
test_eviction_bound(void **state)
{
	struct ratelimit *rl = ratelimit_new(10, 10, 256);
	char		  ip[32];
	int		  i, retry;

	(void)state;
	assert_int_equal(ratelimit_capacity(rl), 256);
	for (i = 0; i < 100000; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", (i >> 16) & 255,
		    (i >> 8) & 255, i & 255);
		assert_int_equal(ratelimit_take(rl, ip, SEC + i, &retry), 1);
	}
	assert_true(ratelimit_count(rl) <= ratelimit_capacity(rl));
	assert_true(ratelimit_count(rl) > 128);
	ratelimit_free(rl);
}

static void
test_off_and_free_null(void **state)
{
	(void)state;
	assert_null(ratelimit_new(0, 10, 64));
	ratelimit_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_refuse),
		cmocka_unit_test(test_refill_over_time),
		cmocka_unit_test(test_retry_after_whole_seconds),
		cmocka_unit_test(test_eviction_bound),
		cmocka_unit_test(test_off_and_free_null),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
