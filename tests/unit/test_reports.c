/*
 * Report parameters (src/reports/args.c) at their edges: required
 * members, the five-year bound, periods and formats, inputs that only
 * look like times, and a London report's dates (London's midnight). And
 * the training reports' SQL (src/reports/training_reports.c) on a
 * migrated SQLite database: every range is read through an index, never
 * a scan of a table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "reports/reports_int.h"
#include "store/migrate.h"
#include "store/store.h"

#include "testdb.h"

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

/* A date is London's midnight in a London report; a date-time stays. */
static void
test_report_args_in_london(void **state)
{
	struct report_args a;
	json_t		  *errs = json_array();
	char		   date[11];

	(void)state;
	/* Summer: London's 2026-06-01 begins at 23:00 UTC the day before. */
	assert_int_equal(report_args_parse_in("2026-06-01", "2026-07-01", NULL,
			     NULL, 1, &a, errs),
	    OK);
	assert_int_equal(a.from, 1780268400000LL); /* 2026-05-31T23:00Z */
	assert_int_equal(a.to, 1782860400000LL);   /* 2026-06-30T23:00Z */
	/* Winter: it is UTC's. */
	assert_int_equal(report_args_parse_in("2026-01-01", "2026-02-01", NULL,
			     NULL, 1, &a, errs),
	    OK);
	assert_int_equal(a.from, 1767225600000LL);
	/* A date-time is the instant it names; not London: UTC's midnight. */
	assert_int_equal(report_args_parse_in("2026-06-01T00:00:00Z",
			     "2026-07-01", NULL, NULL, 1, &a, errs),
	    OK);
	assert_int_equal(a.from, 1780272000000LL);
	assert_int_equal(report_args_parse_in("2026-06-01", "2026-07-01", NULL,
			     NULL, 0, &a, errs),
	    OK);
	assert_int_equal(a.from, 1780272000000LL);
	assert_int_equal(json_array_size(errs), 0);
	/* London's midnight may come before a date-time that is after
	 * UTC's: refused, not an empty range. */
	assert_int_equal(report_args_parse_in("2026-06-01T23:30:00Z",
			     "2026-06-02", NULL, NULL, 1, &a, errs),
	    ERR_INVALID);
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(errs, 0), "field")),
	    "to");
	json_decref(errs);
	report_london_date(1780268400000LL, date);
	assert_string_equal(date, "2026-06-01");
	report_london_date(1780268400000LL - 1, date);
	assert_string_equal(date, "2026-05-31");
}

/* The codes of errs' entries, "from,to" (into out, n bytes). */
static void
err_fields(json_t *errs, char *out, size_t n)
{
	json_t *e;
	size_t	i, len = 0;

	out[0] = '\0';
	json_array_foreach(errs, i, e) {
		snprintf(out + len, n - len, "%s%s", i > 0 ? "," : "",
		    json_string_value(json_object_get(e, "field")));
		len = strlen(out);
	}
}

/*
 * A partner admin's range is whole periods (report_range_aligned): from
 * and to at a midnight (day), a Monday's (week), the 1st's (month), in
 * UTC or London's days; each end that is not is named.
 */
static void
test_report_range_aligned(void **state)
{
	static const struct {
		const char *from, *to;
		int	    period, london, ok;
		const char *fields;
	} cases[] = {
		{ "2025-01-01", "2025-03-01", REPORT_PERIOD_MONTH, 0, 1, "" },
		{ "2025-01-01", "2025-01-31", REPORT_PERIOD_MONTH, 0, 0, "to" },
		{ "2025-01-02", "2025-02-28", REPORT_PERIOD_MONTH, 0, 0,
		    "from,to" },
		{ "2024-12-30", "2025-01-06", REPORT_PERIOD_WEEK, 0, 1, "" },
		{ "2025-01-01", "2025-01-06", REPORT_PERIOD_WEEK, 0, 0,
		    "from" },
		{ "2025-01-06", "2025-01-07", REPORT_PERIOD_DAY, 0, 1, "" },
		{ "2025-01-06T00:00:01Z", "2025-01-07", REPORT_PERIOD_DAY, 0, 0,
		    "from" },
		/* London's June begins at 23:00 UTC the day before. */
		{ "2026-06-01", "2026-07-01", REPORT_PERIOD_MONTH, 1, 1, "" },
		{ "2026-06-01T00:00:00Z", "2026-07-01", REPORT_PERIOD_MONTH, 1,
		    0, "from" },
		{ "2026-05-31T23:00:00Z", "2026-06-02", REPORT_PERIOD_DAY, 1, 1,
		    "" },
	};
	struct report_args a;
	json_t		  *errs;
	char		   got[64];
	size_t		   i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		errs = json_array();
		assert_int_equal(
		    report_args_parse_in(cases[i].from, cases[i].to, NULL, NULL,
			cases[i].london, &a, errs),
		    OK);
		a.period = cases[i].period;
		assert_int_equal(
		    report_range_aligned(&a, cases[i].london, errs),
		    cases[i].ok ? OK : ERR_INVALID);
		err_fields(errs, got, sizeof(got));
		assert_string_equal(got, cases[i].fields);
		json_decref(errs);
	}
}

/*
 * A report schedule's periods, in London: the next boundary strictly
 * after an instant (the next midnight, Monday's, the first of the
 * month's), and where the period ending at a boundary starts, across the
 * clocks' changes and the year's end.
 */
static void
test_schedule_periods(void **state)
{
	static const struct {
		const char *freq;
		int64_t	    now, next, start;
	} cases[] = {
		/* 12:00 UTC on 14 July: London's 15th begins 23:00 UTC. */
		{ "daily", 1784030400000LL, 1784070000000LL, 1783983600000LL },
		/* At a boundary: the next one. */
		{ "daily", 1784070000000LL, 1784156400000LL, 1784070000000LL },
		{ "daily", 1796385600000LL, 1796428800000LL, 1796342400000LL },
		/* 28 March: GMT's midnight, then the 29th of 23 hours. */
		{ "daily", 1774699200000LL, 1774742400000LL, 1774656000000LL },
		{ "daily", 1774742400000LL, 1774825200000LL, 1774742400000LL },
		/* Thursday 16 July: Monday 20th, from Monday 13th. */
		{ "weekly", 1784203200000LL, 1784502000000LL, 1783897200000LL },
		/* 00:30 on Monday 20th in London: the next Monday. */
		{ "weekly", 1784503800000LL, 1785106800000LL, 1784502000000LL },
		/* December: 1 January, from 1 December. */
		{ "monthly", 1797336000000LL, 1798761600000LL,
		    1796083200000LL },
		/* October: 1 November (GMT), from 1 October (BST). */
		{ "monthly", 1792065600000LL, 1793491200000LL,
		    1790809200000LL },
		/* March: 1 April (BST), from 1 March (GMT). */
		{ "monthly", 1773144000000LL, 1774998000000LL,
		    1772323200000LL },
	};
	size_t i;
	int    f;

	(void)state;
	assert_int_equal(report_frequency_index("hourly"), -1);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f = report_frequency_index(cases[i].freq);
		assert_true(f >= 0);
		if (report_schedule_next(f, cases[i].now) != cases[i].next)
			fail_msg("case %zu: next %lld", i,
			    (long long)report_schedule_next(f, cases[i].now));
		if (report_schedule_start(f, cases[i].next) != cases[i].start)
			fail_msg("case %zu: start %lld", i,
			    (long long)report_schedule_start(f, cases[i].next));
	}
}

/* sql with :from, :to, :from_date and :to_date as ?, for EXPLAIN. */
static char *
placeholders(const char *sql, int *n)
{
	static const char *const names[] = { ":from_date", ":to_date", ":from",
		":to" };
	struct buf		 b;
	const char		*s = sql;
	size_t			 i, len;

	buf_init(&b, 1 << 16);
	*n = 0;
	while (*s != '\0') {
		for (i = 0; i < 4; i++) {
			len = strlen(names[i]);
			if (strncmp(s, names[i], len) == 0)
				break;
		}
		if (i < 4) {
			assert_int_equal(buf_append(&b, "?", 1), OK);
			s += strlen(names[i]);
			(*n)++;
		} else
			assert_int_equal(buf_append(&b, s++, 1), OK);
	}
	return (buf_take(&b, &len));
}

/*
 * Every SQL of the training reports, as SQLite plans it on the migrated
 * schema (no statistics: the planner's own guesses): no table is
 * scanned, each is searched through an index.
 */
static void
test_training_reports_use_indexes(void **state)
{
	struct store_opts o = { 1, 2, 10000, 1 };
	struct store	 *db;
	struct tx	 *tx;
	struct stmt	 *st;
	const char	 *err, *sql, *detail;
	char		  dir[] = "/tmp/carebase-reports-XXXXXX", url[128];
	char		 *q, *explain, path[128];
	size_t		  r, m, plans = 0;
	int		  applied, n, i, rc;

	(void)state;
	log_set_level(LOG_WARN);
	assert_non_null(mkdtemp(dir));
	snprintf(url, sizeof(url), "sqlite:///%s/t.db", dir);
	assert_int_equal(store_open(url, &o, &db, &err), OK);
	assert_int_equal(migrate_up(db, &applied), OK);
	assert_int_equal(store_tx_begin(db, STORE_TX_READ, &tx), OK);
	for (r = 0; r < training_reports_n; r++)
		for (m = 0; m < report_measures(&training_reports[r]); m++) {
			if ((sql = training_reports[r].measures[m].sql) == NULL)
				continue;
			q = placeholders(sql, &n);
			assert_true(
			    asprintf(&explain, "EXPLAIN QUERY PLAN %s", q) > 0);
			st = store_prepare(tx, explain);
			assert_non_null(st);
			for (i = 1; i <= n; i++)
				store_bind_int64(st, i, 0);
			while ((rc = store_step(st)) == STORE_ROW) {
				detail = store_col_text(st, 3);
				if (strncmp(detail, "SCAN", 4) == 0)
					fail_msg("%s.%s scans: %s\n%s",
					    training_reports[r].name,
					    training_reports[r]
						.measures[m]
						.name,
					    detail, q);
				plans++;
			}
			assert_int_equal(rc, STORE_DONE);
			store_finalize(st);
			free(explain);
			free(q);
		}
	store_tx_rollback(tx);
	assert_true(plans > 20);
	store_close(db);
	snprintf(path, sizeof(path), "%s/t.db", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/t.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/t.db-shm", dir);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report_args),
		cmocka_unit_test(test_period_index),
		cmocka_unit_test(test_report_args_in_london),
		cmocka_unit_test(test_report_range_aligned),
		cmocka_unit_test(test_schedule_periods),
		cmocka_unit_test(test_training_reports_use_indexes),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
