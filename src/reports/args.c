/*
 * Report parameters as a request gives them (?from= ?to= ?period=
 * ?format=, or the members of a report run's body), kept pure (no
 * database, no HTTP, no clock) so that the handlers and the fuzz target
 * (fuzz/fuzz_reports.c) run the same code. A refusal names each bad
 * parameter and never quotes the input.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/err.h"
#include "core/util.h"
#include "reports/reports_int.h"
#include "resource/resource.h"

static int name_index(const char *const *, const char *);
static int iso_member(
    const char *, const char *, const char *, int64_t *, json_t *);
static int date_only(const char *);
static int period_boundary(int64_t, int, int);

const char *const report_periods[] = { "day", "week", "month", NULL };
const char *const report_formats[] = { "json", "csv", "xlsx", "pdf", NULL };

const char *
report_content_type(int f)
{
	switch (f) {
	case REPORT_FORMAT_CSV:
		return ("text/csv; charset=utf-8");
	case REPORT_FORMAT_XLSX:
		return (
		    "application/"
		    "vnd.openxmlformats-officedocument.spreadsheetml.sheet");
	case REPORT_FORMAT_PDF:
		return ("application/pdf");
	default:
		return ("application/json");
	}
}

/* The index of s in the NULL-ended names, or -1. */
static int
name_index(const char *const *names, const char *s)
{
	int i;

	for (i = 0; s != NULL && names[i] != NULL; i++)
		if (strcmp(s, names[i]) == 0)
			return (i);
	return (-1);
}

int
report_period_index(const char *s)
{
	return (name_index(report_periods, s));
}

int
report_format_index(const char *s)
{
	return (name_index(report_formats, s));
}

/* An ISO 8601 date or date-time after 1970 into *ms. */
static int
iso_member(const char *field, const char *s, const char *required, int64_t *ms,
    json_t *errs)
{
	if (s == NULL)
		resource_field_err(errs, field, "required", required);
	else if (strlen(s) > ISO_TIME_LEN || time_parse_iso(s, ms) != 0 ||
	    *ms < 0)
		resource_field_err(errs, field, "invalid_format",
		    "an ISO 8601 date "
		    "or date-time after 1970");
	else
		return (OK);
	return (ERR_INVALID);
}

/* 1 when s is a date without a time: "YYYY-MM-DD". */
static int
date_only(const char *s)
{
	return (strlen(s) == 10 && s[4] == '-' && s[7] == '-');
}

int
report_args_parse(const char *from, const char *to, const char *period,
    const char *format, struct report_args *out, json_t *errs)
{
	return (report_args_parse_in(from, to, period, format, 0, out, errs));
}

int
report_args_parse_in(const char *from, const char *to, const char *period,
    const char *format, int london, struct report_args *out, json_t *errs)
{
	int ok;

	memset(out, 0, sizeof(*out));
	out->period = REPORT_PERIOD_MONTH;
	ok = iso_member("from", from,
		 "the start of the range, an ISO 8601 "
		 "date or date-time",
		 &out->from, errs) == OK;
	ok = iso_member("to", to,
		 "the end of the range (exclusive), an ISO "
		 "8601 date or date-time",
		 &out->to, errs) == OK &&
	    ok;
	/* A date is its midnight in UTC as parsed: London's begins at it
	 * in winter, an hour before it in summer. */
	if (ok && london && date_only(from))
		out->from = time_london_day_start(out->from / TIME_DAY_MS);
	if (ok && london && date_only(to))
		out->to = time_london_day_start(out->to / TIME_DAY_MS);
	if (ok && out->from < 0)
		resource_field_err(errs, "from", "invalid_format",
		    "an ISO 8601 date or date-time after 1970");
	else if (ok && out->to <= out->from)
		resource_field_err(
		    errs, "to", "out_of_range", "must be after from");
	else if (ok && out->to - out->from > REPORT_RANGE_MAX_MS)
		resource_field_err(errs, "to", "out_of_range",
		    "the range is at most "
		    "5 years");
	if (period != NULL &&
	    (out->period = name_index(report_periods, period)) < 0) {
		resource_field_err(
		    errs, "period", "enum", "day, week or month");
		out->period = REPORT_PERIOD_MONTH;
	}
	if (format != NULL &&
	    (out->format = name_index(report_formats, format)) < 0) {
		resource_field_err(
		    errs, "format", "enum", "json, csv, xlsx or pdf");
		out->format = REPORT_FORMAT_JSON;
	}
	return (json_array_size(errs) > 0 ? ERR_INVALID : OK);
}

/*
 * 1 when instant ms is where a period begins in the report's days
 * (London's when london, else UTC's): a midnight (day), a Monday's
 * midnight (week), the first of a month's midnight (month).
 */
static int
period_boundary(int64_t ms, int period, int london)
{
	struct tm tm;
	int64_t	  day;

	if (london) {
		day = time_london_day(ms);
		if (time_london_day_start(day) != ms)
			return (0);
	} else {
		if (ms % TIME_DAY_MS != 0)
			return (0);
		day = ms / TIME_DAY_MS;
	}
	if (period == REPORT_PERIOD_WEEK)
		return ((day + 3) % 7 == 0); /* 1970-01-01 was a Thursday */
	if (period == REPORT_PERIOD_MONTH) {
		time_utc(day * 86400, &tm);
		return (tm.tm_mday == 1);
	}
	return (1);
}

int
report_range_aligned(const struct report_args *a, int london, json_t *errs)
{
	static const char *const why[] = {
		[REPORT_PERIOD_DAY] = "a partner admin's range starts and ends "
				      "at a midnight of the report's days",
		[REPORT_PERIOD_WEEK] = "a partner admin's range starts and "
				       "ends at a Monday's midnight of the "
				       "report's days (period week)",
		[REPORT_PERIOD_MONTH] = "a partner admin's range starts and "
					"ends at a month's first midnight of "
					"the report's days (period month)",
	};
	int ok = 1;

	if (!period_boundary(a->from, a->period, london)) {
		resource_field_err(errs, "from", "not_aligned", why[a->period]);
		ok = 0;
	}
	if (!period_boundary(a->to, a->period, london)) {
		resource_field_err(errs, "to", "not_aligned", why[a->period]);
		ok = 0;
	}
	return (ok ? OK : ERR_INVALID);
}

void
report_london_date(int64_t ms, char *out)
{
	struct tm tm;
	char	  tmp[48];

	time_utc(time_london_day(ms) * 86400, &tm);
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02d", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday);
	strlcpy_cb(out, tmp, 11);
}
