/*
 * Unit tests for the training module's pure checks (src/training): a
 * course's type against its length (UK practice) and currency, the
 * currency code's form and the http(s) URLs of course materials.
 * Table-driven: each course case is JSON in and the "field:code" list of
 * problems out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "training/training_int.h"

/* "field:code,field:code" of errs, in order. */
static void
codes(json_t *errs, char *out, size_t len)
{
	size_t	i;
	json_t *e;

	out[0] = '\0';
	for (i = 0; i < json_array_size(errs); i++) {
		e = json_array_get(errs, i);
		snprintf(out + strlen(out), len - strlen(out), "%s%s:%s",
		    i ? "," : "",
		    json_string_value(json_object_get(e, "field")),
		    json_string_value(json_object_get(e, "code")));
	}
}

static void
test_course_lengths(void **state)
{
	static const struct {
		const char *course;
		const char *want;
	} cases[] = {
		{ "{\"course_type\":\"EFAW\",\"duration_hours\":6,"
		  "\"duration_days\":1}",
		    "" },
		{ "{\"course_type\":\"FAW\",\"duration_hours\":18,"
		  "\"duration_days\":3}",
		    "" },
		{ "{\"course_type\":\"Paediatric\",\"duration_hours\":12,"
		  "\"duration_days\":2}",
		    "" },
		{ "{\"course_type\":\"refresher\",\"duration_hours\":3,"
		  "\"duration_days\":1,\"currency\":\"EUR\"}",
		    "" },
		{ "{\"course_type\":\"requalification\",\"duration_hours\":12,"
		  "\"duration_days\":2}",
		    "" },
		{ "{\"course_type\":\"EFAW\",\"duration_hours\":7,"
		  "\"duration_days\":1}",
		    "duration_hours:course_type_mismatch" },
		{ "{\"course_type\":\"EFAW\",\"duration_hours\":6,"
		  "\"duration_days\":2}",
		    "duration_days:course_type_mismatch" },
		{ "{\"course_type\":\"FAW\",\"duration_hours\":6,"
		  "\"duration_days\":1}",
		    "duration_hours:course_type_mismatch,"
		    "duration_days:course_type_mismatch" },
		{ "{\"course_type\":\"Paediatric\",\"duration_hours\":12,"
		  "\"duration_days\":3}",
		    "duration_days:course_type_mismatch" },
		{ "{\"course_type\":\"refresher\",\"duration_hours\":25,"
		  "\"duration_days\":1}",
		    "duration_hours:too_large" },
		{ "{\"course_type\":\"EFAW\",\"duration_hours\":6,"
		  "\"duration_days\":1,\"currency\":\"gbp\"}",
		    "currency:invalid_format" },
	};
	char   got[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *course = json_loads(cases[i].course, 0, NULL);
		json_t *errs = json_array();

		assert_non_null(course);
		training_course_check(course, errs);
		codes(errs, got, sizeof(got));
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", cases[i].course,
			    got, cases[i].want);
		json_decref(errs);
		json_decref(course);
	}
}

static void
test_currency(void **state)
{
	(void)state;
	assert_true(training_currency_ok("GBP"));
	assert_true(training_currency_ok("EUR"));
	assert_false(training_currency_ok("gbp"));
	assert_false(training_currency_ok("GB"));
	assert_false(training_currency_ok("GBPX"));
	assert_false(training_currency_ok("G1P"));
	assert_false(training_currency_ok(""));
	assert_false(training_currency_ok(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_course_lengths),
		cmocka_unit_test(test_currency),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
