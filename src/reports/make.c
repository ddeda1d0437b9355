/*
 * Making a report of the catalogue (reports.c): each measure's SQL with
 * :from and :to bound, its rows folded from days into periods here in C
 * (UTC; a week starts on Monday and is named by that Monday's date; a
 * month is YYYY-MM), so no date function of either dialect is needed,
 * then sorted by period, group name and group id, with the totals of the
 * range; written as compact JSON, or as a table (core/table.h: the
 * columns, the rows, then a "Total" row) in CSV, XLSX or PDF.
 *
 * A report's measures and totals are read in one transaction with one
 * snapshot (STORE_TX_SNAPSHOT: REPEATABLE READ on PostgreSQL), so the
 * totals agree with the rows under concurrent writes. report_make makes
 * the bytes of an answer, for GET /v1/reports/{name} and for the queued
 * runs of report_runs.c alike.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/table.h"
#include "core/util.h"
#include "reports/reports_int.h"
#include "store/store.h"

#define BINDS_MAX  8  /* placeholders in one measure */
#define PERIOD_LEN 48 /* "YYYY-MM-DD" and room the compiler sees */
#define SQL_MAX	   4096

/* One run of a report. */
struct run {
	const struct report *rep;
	int64_t		     from, to;
	enum report_period   period;
	size_t		     nmeasures;
	json_t		    *rows;    /* array of row objects */
	json_t		    *index;   /* "period|group id" -> row */
	char		     gid[40]; /* "partner_id" */
};

static int	    sql_compile(const char *, struct buf *, int *, int *);
static void	    period_key(int64_t, enum report_period, char *);
static int	    row_add(struct run *, size_t, struct stmt *);
static struct stmt *measure_prepare(
    struct tx *, const struct run *, const char *, int *);
static int measure_run(struct tx *, struct run *, size_t);
static int measure_total(struct tx *, const struct run *, size_t, json_t *);
static int row_cmp(const void *, const void *);
static int rows_sort(struct run *);
static int table_of(const struct run *, json_t *, json_t *, struct table **);
static int table_write(
    struct buf *, const struct run *, json_t *, json_t *, int);
static int json_buf_cb(const char *, size_t, void *);
static int json_write(struct buf *, const struct run *, json_t *, json_t *);

/*
 * Replace :from and :to (outside quotes) with ? and note which each is
 * (0 from, 1 to) in binds. ERR_INTERNAL for any other name: the
 * catalogue is wrong.
 */
static int
sql_compile(const char *sql, struct buf *out, int *binds, int *nbinds)
{
	const char *s;
	int	    quoted = 0, which;
	size_t	    n;

	*nbinds = 0;
	for (s = sql; *s != '\0';) {
		if (*s == '\'')
			quoted = !quoted;
		if (quoted || *s != ':' || s[1] == ':' ||
		    (s > sql && s[-1] == ':')) {
			if (buf_append(out, s++, 1) != OK)
				return (ERR_NOMEM);
			continue;
		}
		if (strncmp(s + 1, "from", 4) == 0) {
			which = 0;
			n = 5;
		} else if (strncmp(s + 1, "to", 2) == 0) {
			which = 1;
			n = 3;
		} else
			return (ERR_INTERNAL);
		if (isalnum((unsigned char)s[n]) || s[n] == '_' ||
		    *nbinds == BINDS_MAX)
			return (ERR_INTERNAL);
		binds[(*nbinds)++] = which;
		if (buf_append(out, "?", 1) != OK)
			return (ERR_NOMEM);
		s += n;
	}
	return (OK);
}

/* The period of a day (days since 1970-01-01, UTC) into out (PERIOD_LEN). */
static void
period_key(int64_t day, enum report_period period, char *out)
{
	struct tm tm;

	if (period == REPORT_PERIOD_WEEK)
		day -= (day + 3) % 7; /* 1970-01-01 was a Thursday */
	time_utc(day * 86400, &tm);
	if (period == REPORT_PERIOD_MONTH)
		snprintf(out, PERIOD_LEN, "%04d-%02d", tm.tm_year + 1900,
		    tm.tm_mon + 1);
	else
		snprintf(out, PERIOD_LEN, "%04d-%02d-%02d", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday);
}

/* Add the current row of a measure's statement to its period's row. */
static int
row_add(struct run *run, size_t m, struct stmt *st)
{
	const char *gid = store_col_text(st, 0);
	const char *gname = store_col_text(st, 1);
	json_t	   *row, *v;
	char	    key[PERIOD_LEN + UUID_STR_LEN + 2];
	char	    period[PERIOD_LEN];
	size_t	    i;

	period_key(store_col_int64(st, 2), run->period, period);
	snprintf(key, sizeof(key), "%s|%s", period, gid != NULL ? gid : "");
	if ((row = json_object_get(run->index, key)) == NULL) {
		if (json_array_size(run->rows) >=
		    (size_t)config.report_max_rows)
			return (ERR_TOO_LARGE);
		row = json_pack("{s:s,s:o,s:o}", "period", period, run->gid,
		    gid != NULL ? json_string(gid) : json_null(),
		    run->rep->group,
		    gname != NULL ? json_string(gname) : json_null());
		if (row == NULL)
			return (ERR_NOMEM);
		for (i = 0; i < run->nmeasures; i++)
			json_object_set_new(
			    row, run->rep->measures[i].name, json_integer(0));
		json_object_set(run->index, key, row);
		json_array_append_new(run->rows, row);
	}
	v = json_object_get(row, run->rep->measures[m].name);
	json_integer_set(v, json_integer_value(v) + store_col_int64(st, 3));
	return (OK);
}

/* sql with :from and :to bound to the run's range; NULL (*rc) on error. */
static struct stmt *
measure_prepare(struct tx *tx, const struct run *run, const char *text, int *rc)
{
	struct stmt *st;
	struct buf   sql;
	int	     binds[BINDS_MAX], nbinds, i;

	buf_init(&sql, SQL_MAX);
	if ((*rc = sql_compile(text, &sql, binds, &nbinds)) != OK) {
		buf_free(&sql);
		return (NULL);
	}
	/* A statement that does not prepare is a database error, not an
	 * empty answer. */
	if ((st = store_prepare(tx, sql.data)) == NULL)
		*rc = ERR_DB;
	buf_free(&sql);
	for (i = 0; i < nbinds; i++)
		store_bind_int64(
		    st, i + 1, binds[i] == 0 ? run->from : run->to);
	return (st);
}

static int
measure_run(struct tx *tx, struct run *run, size_t m)
{
	struct stmt *st;
	int	     rc;

	if ((st = measure_prepare(tx, run, run->rep->measures[m].sql, &rc)) ==
	    NULL)
		return (rc);
	while ((rc = store_step(st)) == STORE_ROW)
		if ((rc = row_add(run, m, st)) != OK)
			break;
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

/* Measure m's total over the range into totals. */
static int
measure_total(struct tx *tx, const struct run *run, size_t m, json_t *totals)
{
	const struct measure *me = &run->rep->measures[m];
	struct stmt	     *st;
	json_t		     *row;
	json_int_t	      n = 0;
	size_t		      i;
	int		      rc;

	if (me->total == NULL) {
		json_array_foreach(run->rows, i, row)
			n += json_integer_value(json_object_get(row, me->name));
		return (
		    json_object_set_new(totals, me->name, json_integer(n)) == 0
			? OK
			: ERR_NOMEM);
	}
	if ((st = measure_prepare(tx, run, me->total, &rc)) == NULL)
		return (rc);
	if ((rc = store_step(st)) == STORE_ROW) {
		n = (json_int_t)store_col_int64(st, 0);
		rc = OK;
	} else if (rc == STORE_DONE)
		rc = ERR_INTERNAL; /* an aggregate has a row */
	store_finalize(st);
	if (rc != OK)
		return (rc);
	return (json_object_set_new(totals, me->name, json_integer(n)) == 0
		? OK
		: ERR_NOMEM);
}

/* A row and its sort keys. */
struct sorted {
	json_t	   *row;
	const char *period, *name, *id;
};

/* By period, then group name (none last), then group id. */
static int
row_cmp(const void *a, const void *b)
{
	const struct sorted *x = a, *y = b;
	int		     c;

	if ((c = strcmp(x->period, y->period)) != 0)
		return (c);
	if (x->name == NULL || y->name == NULL) {
		if ((c = (x->name == NULL) - (y->name == NULL)) != 0)
			return (c);
	} else if ((c = strcmp(x->name, y->name)) != 0)
		return (c);
	return (strcmp(x->id != NULL ? x->id : "", y->id != NULL ? y->id : ""));
}

static int
rows_sort(struct run *run)
{
	struct sorted *v;
	json_t	      *row;
	size_t	       i, n = json_array_size(run->rows);

	if (n < 2)
		return (OK);
	if ((v = calloc(n, sizeof(*v))) == NULL)
		return (ERR_NOMEM);
	json_array_foreach(run->rows, i, row) {
		v[i].row = json_incref(row);
		v[i].period = json_string_value(json_object_get(row, "period"));
		v[i].name =
		    json_string_value(json_object_get(row, run->rep->group));
		v[i].id = json_string_value(json_object_get(row, run->gid));
	}
	qsort(v, n, sizeof(*v), row_cmp);
	json_array_clear(run->rows);
	for (i = 0; i < n; i++)
		json_array_append_new(run->rows, v[i].row);
	free(v);
	return (OK);
}

/*
 * The run as a table: period, group id and group name as text, the
 * measures as integers; the totals last, "Total" in the period column.
 */
static int
table_of(
    const struct run *run, json_t *cols, json_t *totals, struct table **out)
{
	struct table *t;
	json_t	     *row, *c, *v;
	size_t	      i, j;
	int	      rc = OK;

	if ((t = table_new(run->rep->title)) == NULL)
		return (ERR_NOMEM);
	json_array_foreach(cols, j, c)
		if ((rc = table_column_add(t, json_string_value(c),
			 j < 3 ? TABLE_TEXT : TABLE_INT)) != OK)
			goto out;
	json_array_foreach(run->rows, i, row) {
		if ((rc = table_row_add(t)) != OK)
			goto out;
		json_array_foreach(cols, j, c) {
			v = json_object_get(row, json_string_value(c));
			if (json_is_integer(v))
				rc = table_set_int(t, j, json_integer_value(v));
			else if (json_is_string(v))
				rc = table_set_text(t, j, json_string_value(v));
			if (rc != OK)
				goto out;
		}
	}
	if ((rc = table_totals_add(t)) != OK ||
	    (rc = table_set_text(t, 0, "Total")) != OK)
		goto out;
	json_array_foreach(cols, j, c) {
		v = json_object_get(totals, json_string_value(c));
		if (j >= 3 && json_is_integer(v) &&
		    (rc = table_set_int(t, j, json_integer_value(v))) != OK)
			goto out;
	}
out:
	if (rc != OK)
		table_free(t);
	else
		*out = t;
	return (rc);
}

/* The run as CSV, XLSX or PDF (enum report_format). */
static int
table_write(struct buf *b, const struct run *run, json_t *cols, json_t *totals,
    int format)
{
	struct table *t;
	int	      rc;

	if ((rc = table_of(run, cols, totals, &t)) != OK)
		return (rc);
	if (format == REPORT_FORMAT_XLSX)
		rc = table_xlsx(t, b);
	else if (format == REPORT_FORMAT_PDF)
		rc = table_pdf(t, b);
	else
		rc = table_csv(t, b);
	table_free(t);
	return (rc);
}

/* json_dump_callback into a struct json_sink. */
struct json_sink {
	struct buf *b;
	int	    rc;
};

static int
json_buf_cb(const char *p, size_t len, void *arg)
{
	struct json_sink *js = arg;

	if (js->rc == OK)
		js->rc = buf_append(js->b, p, len);
	return (js->rc == OK ? 0 : -1);
}

/* The JSON answer, compact, as http_json would write it. */
static int
json_write(struct buf *b, const struct run *run, json_t *cols, json_t *totals)
{
	struct json_sink js;
	json_t		*v;
	char		 from[ISO_TIME_LEN], to[ISO_TIME_LEN];

	time_format_iso(run->from, from);
	time_format_iso(run->to, to);
	v = json_pack("{s:s,s:s,s:s,s:s,s:s,s:O,s:O,s:O}", "report",
	    run->rep->name, "title", run->rep->title, "from", from, "to", to,
	    "period", report_periods[run->period], "columns", cols, "rows",
	    run->rows, "totals", totals);
	if (v == NULL)
		return (ERR_NOMEM);
	js.b = b;
	js.rc = OK;
	if (json_dump_callback(v, json_buf_cb, &js, JSON_COMPACT) != 0 &&
	    js.rc == OK)
		js.rc = ERR_NOMEM;
	json_decref(v);
	return (js.rc);
}

int
report_make(struct store *db, const struct report_query *q, size_t max,
    struct report_out *out)
{
	struct run run;
	struct tx *tx = NULL;
	struct buf b;
	json_t	  *cols = NULL, *totals = NULL;
	size_t	   m;
	int	   rc;

	memset(out, 0, sizeof(*out));
	memset(&run, 0, sizeof(run));
	if ((run.rep = report_find(q->name)) == NULL)
		return (ERR_NOT_FOUND);
	buf_init(&b, max);
	run.from = q->from;
	run.to = q->to;
	run.period = (enum report_period)q->period;
	snprintf(run.gid, sizeof(run.gid), "%s_id", run.rep->group);
	run.nmeasures = report_measures(run.rep);
	run.rows = json_array();
	run.index = json_object();
	cols = report_columns(run.rep, run.gid);
	totals = json_object();
	if (run.rows == NULL || run.index == NULL || cols == NULL ||
	    totals == NULL) {
		rc = ERR_NOMEM;
		goto out;
	}
	/* The rows and the totals from one snapshot. */
	if ((rc = store_tx_begin(db, STORE_TX_READ | STORE_TX_SNAPSHOT, &tx)) !=
	    OK)
		goto out;
	for (m = 0; m < run.nmeasures && rc == OK; m++)
		rc = measure_run(tx, &run, m);
	for (m = 0; m < run.nmeasures && rc == OK; m++)
		rc = measure_total(tx, &run, m, totals);
	store_tx_rollback(tx);
	if (rc == ERR_TOO_LARGE)
		out->too_many_rows = 1;
	if (rc != OK || (rc = rows_sort(&run)) != OK)
		goto out;
	out->rows = json_array_size(run.rows);
	if (q->format == REPORT_FORMAT_JSON)
		rc = json_write(&b, &run, cols, totals);
	else
		rc = table_write(&b, &run, cols, totals, q->format);
	if (rc == OK)
		out->data = buf_take(&b, &out->len);
out:
	buf_free(&b);
	json_decref(cols);
	json_decref(totals);
	json_decref(run.rows);
	json_decref(run.index);
	return (rc);
}

void
report_disposition(const struct report_query *q, char *out, size_t len)
{
	char from[ISO_TIME_LEN], to[ISO_TIME_LEN];

	time_format_iso(q->from, from);
	time_format_iso(q->to, to);
	snprintf(out, len, "attachment; filename=\"%s_%.10s_%.10s_%s.%s\"",
	    q->name, from, to, report_periods[q->period],
	    report_formats[q->format]);
}
