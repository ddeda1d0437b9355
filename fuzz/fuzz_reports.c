/*
 * libFuzzer target for report parameters: the input is up to four
 * newline-separated values, from, to, period and format, as a query
 * string would give them (a value not there is not sent).
 *
 * Parameters that pass give 0 <= from < to <= from + REPORT_RANGE_MAX_MS,
 * the times the strings name (written back in ISO 8601, they read the
 * same), the period and format sent (month and json when not). Refused
 * ones give an entry per bad parameter, naming only those four.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/util.h"
#include "reports/reports_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
same_time(const char *s, int64_t ms)
{
	char	iso[ISO_TIME_LEN];
	int64_t again;

	if (time_parse_iso(s, &again) != 0 || again != ms)
		abort();
	time_format_iso(ms, iso);
	if (time_parse_iso(iso, &again) != 0 || again != ms)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct report_args a;
	json_t		  *errs, *e;
	const char	  *field;
	char		  *s, *v[4] = { NULL, NULL, NULL, NULL }, *p;
	size_t		   i, n = 0;
	int		   rc;

	if ((s = malloc(size + 1)) == NULL)
		return (0);
	memcpy(s, data, size);
	s[size] = '\0';
	for (p = s; n < 4 && p != NULL; n++) {
		v[n] = p;
		if ((p = strchr(p, '\n')) != NULL)
			*p++ = '\0';
	}
	errs = json_array();
	rc = report_args_parse(v[0], v[1], v[2], v[3], &a, errs);
	if ((rc == OK) != (json_array_size(errs) == 0) ||
	    (rc != OK && rc != ERR_INVALID))
		abort();
	json_array_foreach(errs, i, e) {
		field = json_string_value(json_object_get(e, "field"));
		if (field == NULL ||
		    (strcmp(field, "from") != 0 && strcmp(field, "to") != 0 &&
			strcmp(field, "period") != 0 &&
			strcmp(field, "format") != 0) ||
		    !json_is_string(json_object_get(e, "detail")))
			abort();
	}
	if (rc == OK) {
		if (a.from < 0 || a.to <= a.from ||
		    a.to - a.from > REPORT_RANGE_MAX_MS)
			abort();
		same_time(v[0], a.from);
		same_time(v[1], a.to);
		if (a.period < REPORT_PERIOD_DAY ||
		    a.period > REPORT_PERIOD_MONTH ||
		    strcmp(v[2] != NULL ? v[2] : "month",
			report_periods[a.period]) != 0)
			abort();
		if (strcmp(v[3] != NULL ? v[3] : "json",
			report_formats[a.format]) != 0)
			abort();
	}
	json_decref(errs);
	free(s);
	return (0);
}
