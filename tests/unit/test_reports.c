/*
 * Report parameters (src/reports/args.c) at their edges: required
 * members, the five-year bound, periods and formats, and inputs that
 * only look like times.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/err.h"
#include "reports/reports_int.h"

static void
test_report_args(void **state)
{
	static const struct {
		const char *from, *to, *period, *format;
		int	    nerrs;
		const char *field; /* of the first error */
	} cases[] = {
		{ "2026-01-01", "2026-02-01", NULL, NULL, 0, NULL },
		{ "2026-01-01", "2031-01-01", "day", "csv", 0, NULL },
		{ "2026-01-01", "2026-02-01", NULL, "xlsx", 0, NULL },
		{ "2026-01-01", "2026-02-01", NULL, "pdf", 0, NULL },
		{ "2026-01-01", "2026-02-01", NULL, "XLSX", 1, "format" },
		{ "2026-01-01", "2032-01-06", NULL, NULL, 1, "to" },
		{ NULL, NULL, NULL, NULL, 2, "from" },
		{ "2026-02-01", "2026-02-01", NULL, NULL, 1, "to" },
		{ "1969-12-31", "2026-02-01", NULL, NULL, 1, "from" },
		{ "2026-01-01", "2026-02-01", "year", "xml", 2, "period" },
		{ "2026-01-01T00:00:00.000000000000000000000000Z", "2026-02-01",
		    NULL, NULL, 1, "from" },
		{ "9999-12-31T20:00:00-23:00", "2026-02-01", NULL, NULL, 1,
		    "from" },
	};
	struct report_args a;
	json_t		  *errs;
	size_t		   i;
	int		   rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		errs = json_array();
		rc = report_args_parse(cases[i].from, cases[i].to,
		    cases[i].period, cases[i].format, &a, errs);
		if (json_array_size(errs) != (size_t)cases[i].nerrs ||
		    (rc == OK) != (cases[i].nerrs == 0))
			fail_msg(
			    "case %zu: %s", i, json_dumps(errs, JSON_COMPACT));
		if (cases[i].field != NULL)
			assert_string_equal(
			    json_string_value(json_object_get(
				json_array_get(errs, 0), "field")),
			    cases[i].field);
		json_decref(errs);
	}
	errs = json_array();
	assert_int_equal(report_args_parse("2026-01-01", "2026-01-08T00:00:00Z",
			     "week", "csv", &a, errs),
	    OK);
	assert_int_equal(a.from, 1767225600000LL);
	assert_int_equal(a.to, 1767225600000LL + 7 * 86400000LL);
	assert_int_equal(a.period, REPORT_PERIOD_WEEK);
	assert_int_equal(a.format, REPORT_FORMAT_CSV);
	assert_int_equal(report_args_parse("2026-01-01", "2026-01-08", NULL,
			     "json", &a, errs),
	    OK);
	assert_int_equal(a.period, REPORT_PERIOD_MONTH);
	assert_int_equal(a.format, REPORT_FORMAT_JSON);
	json_decref(errs);
}

static void
test_period_index(void **state)
{
	(void)state;
	assert_int_equal(report_period_index("day"), REPORT_PERIOD_DAY);
	assert_int_equal(report_period_index("week"), REPORT_PERIOD_WEEK);
	assert_int_equal(report_period_index("month"), REPORT_PERIOD_MONTH);
	assert_int_equal(report_period_index("year"), -1);
	assert_int_equal(report_period_index(NULL), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report_args),
		cmocka_unit_test(test_period_index),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
