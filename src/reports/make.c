/*
 * Making a report of the catalogue (reports.c, training_reports.c): each
 * measure's SQL with :from and :to bound (and :from_date and :to_date,
 * London's dates of the range), its rows folded from days into periods
 * here in C (a week starts on Monday and is named by that Monday's date;
 * a month is YYYY-MM), so no date function of either dialect is needed:
 * UTC days for the catalogue's own reports, London's for the training
 * business's (their SQL gives hours, each of which is in one London day,
 * or dates). Then the measures derived from others (a difference of
 * money, a ratio) row by row, the rows sorted by period, group name,
 * group id and currency, with the totals of the range; written as
 * compact JSON, or as a table (core/table.h: the columns, the rows, then
 * the totals rows) in CSV, XLSX or PDF. Money is minor units of the row's
 * currency: in JSON an integer beside its "currency", in a table a money
 * cell (its column named without "_minor": the cell says what it is).
 * Money totals are a sum when the rows are in one currency, else null
 * (each currency's are in "totals_by_currency"). A table never sums two
 * currencies: a report by currency has one "Total" row per currency in
 * its rows (by code; the currency column names it), its money that
 * currency's, its counts that currency's rows' sums; one "Total" row
 * otherwise (and when there are no rows).
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
#include "core/log.h"
#include "core/table.h"
#include "core/util.h"
#include "reports/reports_int.h"
#include "store/migrate.h"
#include "store/store.h"

#define BINDS_MAX  8  /* placeholders in one measure */
#define TERMS_MAX  4  /* measures a derived one is made of */
#define PERIOD_LEN 48 /* "YYYY-MM-DD" and room the compiler sees */
#define SQL_MAX	   4096

/* One run of a report. */
struct run {
	const struct report *rep;
	int64_t		     from, to;
	char		     from_date[11], to_date[11]; /* :from_date, ... */
	enum report_period   period;
	size_t		     nmeasures;
	json_t		    *rows;	 /* array of row objects */
	json_t		    *index;	 /* "period|group id|currency" -> row */
	json_t		    *currencies; /* currency -> its money totals */
	char		     gid[40];	 /* "partner_id" */
	const char	    *partner;	 /* :partner; NULL: every partner */
	int64_t		     min_count;	 /* report_query's */
	/*
	 * min_count over 1: each row's (by its index key) days' counts, key
	 * -> { measure -> { day -> count } }, for withhold; else NULL.
	 */
	json_t *days;
	/*
	 * A partner admin's range ending after a day not over yet: the
	 * period holding that day ("current", its key), whose counts are
	 * withheld, as are the totals (open_rows, withhold).
	 */
	int  open;
	char current[PERIOD_LEN], current_start[PERIOD_LEN];
};

/*
 * How long after its end a day is still taken for not over (report_make):
 * a write stamped a moment before midnight may commit a moment after it,
 * and a day shown as over must not change after. A heuristic, not a
 * bound: one statement is bounded (statement_timeout, 30 s) and 60 s is
 * over that with room, but a redeem's transaction is several statements
 * and may take longer, which would change a day already shown.
 */
#define REPORT_DAY_GRACE_MS (60 * 1000)

/* A placeholder of a measure's SQL. */
enum bind {
	BIND_FROM = 0,
	BIND_TO,
	BIND_FROM_DATE,
	BIND_TO_DATE,
	BIND_PARTNER
};
static const struct {
	const char *name;
	size_t	    len;
} bind_names[] = {
	/* Longest first: ":from_date" is not ":from" and "_date". */
	[BIND_FROM_DATE] = { "from_date", 9 },
	[BIND_TO_DATE] = { "to_date", 7 },
	[BIND_FROM] = { "from", 4 },
	[BIND_TO] = { "to", 2 },
	[BIND_PARTNER] = { "partner", 7 },
};
static const enum bind bind_order[] = { BIND_FROM_DATE, BIND_TO_DATE, BIND_FROM,
	BIND_TO, BIND_PARTNER };

static int  sql_compile(const char *, struct buf *, int *, int *);
static void period_key(int64_t, enum report_period, char *, char *);
static int  bucket_day(const struct run *, struct stmt *, int64_t *);
static void date_ceil(int64_t, char *);
static int  row_add(struct run *, size_t, struct stmt *);
static int  day_add(
     struct run *, const char *, const char *, int64_t, json_int_t);
static int     day_withheld(const struct run *, const char *, const char *);
static json_t *row_new(struct run *, const char *, const char *, const char *,
    const char *, const char *);
static int     derive(const struct measure *, json_t *);
static int     derive_rows(struct run *);
static int     money_totals(struct run *, json_t *);
static void    withhold(struct run *, json_t *, int64_t);
static int     open_rows(struct tx *, struct run *);
static struct stmt *measure_prepare(
    struct tx *, const struct run *, const char *, int *);
static int measure_run(struct tx *, struct run *, size_t);
static int measure_total(struct tx *, const struct run *, size_t, json_t *);
static int row_cmp(const void *, const void *);
static int rows_sort(struct run *);
static enum table_type column_type(const struct run *, size_t);
static int	       cell_set(
		struct table *, enum table_type, size_t, json_t *, const char *);
static int totals_row(struct table *, const struct run *, json_t *, json_t *);
static json_t *currency_totals(const struct run *, const char *);
static int     key_cmp(const void *, const void *);
static int     currency_rows(struct table *, const struct run *, json_t *);
static int table_of(const struct run *, json_t *, json_t *, struct table **);
static int table_write(
    struct buf *, const struct run *, json_t *, json_t *, int);
static int json_buf_cb(const char *, size_t, void *);
static int json_write(struct buf *, const struct run *, json_t *, json_t *);

/*
 * Replace :from, :to, :from_date, :to_date and :partner (outside quotes) with ?
 * and note which each is (enum bind) in binds. ERR_INTERNAL for any other
 * name: the catalogue is wrong.
 */
static int
sql_compile(const char *sql, struct buf *out, int *binds, int *nbinds)
{
	const char *s;
	int	    quoted = 0, which;
	size_t	    i, n;

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
		which = -1;
		for (i = 0; i < sizeof(bind_order) / sizeof(bind_order[0]) &&
		     which < 0;
		     i++) {
			n = bind_names[bind_order[i]].len;
			if (strncmp(s + 1, bind_names[bind_order[i]].name, n) ==
				0 &&
			    !isalnum((unsigned char)s[n + 1]) &&
			    s[n + 1] != '_')
				which = (int)bind_order[i];
		}
		if (which < 0 || *nbinds == BINDS_MAX)
			return (ERR_INTERNAL);
		binds[(*nbinds)++] = which;
		if (buf_append(out, "?", 1) != OK)
			return (ERR_NOMEM);
		s += 1 + bind_names[which].len;
	}
	return (OK);
}

/*
 * The period of a day (days since 1970-01-01) into out, and its first
 * day into start (each PERIOD_LEN): "2026-07" and "2026-07-01".
 */
static void
period_key(int64_t day, enum report_period period, char *out, char *start)
{
	struct tm tm;

	if (period == REPORT_PERIOD_WEEK)
		day -= (day + 3) % 7; /* 1970-01-01 was a Thursday */
	time_utc(day * 86400, &tm);
	if (period == REPORT_PERIOD_MONTH) {
		snprintf(out, PERIOD_LEN, "%04d-%02d", tm.tm_year + 1900,
		    tm.tm_mon + 1);
		snprintf(start, PERIOD_LEN, "%04d-%02d-01", tm.tm_year + 1900,
		    tm.tm_mon + 1);
	} else {
		snprintf(out, PERIOD_LEN, "%04d-%02d-%02d", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday);
		memcpy(start, out, PERIOD_LEN);
	}
}

/*
 * The day (days since 1970-01-01) of the bucket of the current row of a
 * measure's statement: UTC's, London's of an hour, or a date's.
 */
static int
bucket_day(const struct run *run, struct stmt *st, int64_t *day)
{
	const char *date;
	int64_t	    ms;

	switch (run->rep->bucket) {
	case REPORT_BUCKET_LONDON_HOUR:
		*day = time_london_day(store_col_int64(st, 2) * 3600000);
		return (OK);
	case REPORT_BUCKET_DATE:
		date = store_col_text(st, 2);
		if (date == NULL || strlen(date) != 10 ||
		    time_parse_iso(date, &ms) != 0)
			return (ERR_INTERNAL); /* a date column holds dates */
		*day = ms / TIME_DAY_MS;
		return (OK);
	default:
		*day = store_col_int64(st, 2);
		return (OK);
	}
}

/* London's first date on or after instant ms, "YYYY-MM-DD" into out (11). */
static void
date_ceil(int64_t ms, char *out)
{
	int64_t day = time_london_day(ms);

	if (time_london_day_start(day) < ms)
		day++;
	report_london_date(time_london_day_start(day), out);
}

/* A new row: its keys, every measure 0 (derived ones null). */
static json_t *
row_new(struct run *run, const char *period, const char *start, const char *gid,
    const char *gname, const char *currency)
{
	const struct measure *me;
	json_t		     *row;
	size_t		      i;

	row = json_pack("{s:s,s:o,s:o}", "period", period, run->gid,
	    gid != NULL ? json_string(gid) : json_null(),
	    report_label(run->rep),
	    gname != NULL ? json_string(gname) : json_null());
	if (row == NULL)
		return (NULL);
	if (REPORT_LONDON(run->rep))
		json_object_set_new(row, "period_start", json_string(start));
	if (run->rep->flags & REPORT_CURRENCY)
		json_object_set_new(row, "currency",
		    currency != NULL ? json_string(currency) : json_null());
	for (i = 0; i < run->nmeasures; i++) {
		me = &run->rep->measures[i];
		json_object_set_new(row, me->name,
		    me->of != NULL ? json_null() : json_integer(0));
	}
	return (row);
}

/* Add the current row of a measure's statement to its period's row. */
static int
row_add(struct run *run, size_t m, struct stmt *st)
{
	const char *gid = store_col_text(st, 0);
	const char *gname = store_col_text(st, 1);
	const char *currency = NULL;
	json_t	   *row, *v;
	char	    key[PERIOD_LEN + UUID_STR_LEN + 16];
	char	    period[PERIOD_LEN], start[PERIOD_LEN];
	int64_t	    day;
	int	    rc;

	if ((rc = bucket_day(run, st, &day)) != OK)
		return (rc);
	period_key(day, run->period, period, start);
	if (run->rep->flags & REPORT_CURRENCY)
		currency = store_col_text(st, 4);
	snprintf(key, sizeof(key), "%s|%s|%.8s", period, gid != NULL ? gid : "",
	    currency != NULL ? currency : "");
	if ((row = json_object_get(run->index, key)) == NULL) {
		if (json_array_size(run->rows) >=
		    (size_t)config.report_max_rows)
			return (ERR_TOO_LARGE);
		if ((row = row_new(run, period, start, gid, gname, currency)) ==
		    NULL)
			return (ERR_NOMEM);
		json_object_set(run->index, key, row);
		json_array_append_new(run->rows, row);
	}
	v = json_object_get(row, run->rep->measures[m].name);
	json_integer_set(v, json_integer_value(v) + store_col_int64(st, 3));
	if (run->days != NULL)
		return (day_add(run, key, run->rep->measures[m].name, day,
		    (json_int_t)store_col_int64(st, 3)));
	return (OK);
}

/* Add n to day's count of measure name in the row of key (run->days). */
static int
day_add(struct run *run, const char *key, const char *name, int64_t day,
    json_int_t n)
{
	json_t *per, *dm, *v;
	char	d[24];

	if ((per = json_object_get(run->days, key)) == NULL &&
	    ((per = json_object()) == NULL ||
		json_object_set_new(run->days, key, per) != 0))
		return (ERR_NOMEM);
	if ((dm = json_object_get(per, name)) == NULL &&
	    ((dm = json_object()) == NULL ||
		json_object_set_new(per, name, dm) != 0))
		return (ERR_NOMEM);
	snprintf(d, sizeof(d), "%lld", (long long)day);
	v = json_object_get(dm, d);
	return (json_object_set_new(
		    dm, d, json_integer(json_integer_value(v) + n)) == 0
		? OK
		: ERR_NOMEM);
}

/* 1 if a day of the row of key has a count of measure name withheld. */
static int
day_withheld(const struct run *run, const char *key, const char *name)
{
	const char *d;
	json_t	   *v;
	json_int_t  n;

	json_object_foreach(
	    json_object_get(json_object_get(run->days, key), name), d, v) {
		n = json_integer_value(v);
		if (n > 0 && n < run->min_count)
			return (1);
	}
	return (0);
}

/* sql with its placeholders bound to the run's range; NULL (*rc) on error. */
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
		switch (binds[i]) {
		case BIND_FROM:
			store_bind_int64(st, i + 1, run->from);
			break;
		case BIND_TO:
			store_bind_int64(st, i + 1, run->to);
			break;
		case BIND_FROM_DATE:
			store_bind_text(st, i + 1, run->from_date);
			break;
		case BIND_PARTNER:
			/* Only partner SQL names it, run with a partner. */
			store_bind_text(st, i + 1, run->partner);
			break;
		default:
			store_bind_text(st, i + 1, run->to_date);
			break;
		}
	return (st);
}

static int
measure_run(struct tx *tx, struct run *run, size_t m)
{
	const struct measure *me = &run->rep->measures[m];
	struct stmt	     *st;
	int		      rc;

	if (me->sql == NULL)
		return (OK); /* derived (derive_rows) */
	/* One partner's: its own SQL or nothing (never every partner's). */
	if (run->partner != NULL && me->partner == NULL)
		return (ERR_INTERNAL);
	if ((st = measure_prepare(tx, run,
		 run->partner != NULL ? me->partner : me->sql, &rc)) == NULL)
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
	const char	     *total;
	struct stmt	     *st;
	json_t		     *row;
	json_int_t	      n = 0;
	size_t		      i;
	int		      rc;

	if (me->of != NULL || me->type == MEASURE_MONEY)
		return (OK); /* money_totals, then derive */
	total = run->partner != NULL ? me->partner_total : me->total;
	if (total == NULL) {
		json_array_foreach(run->rows, i, row)
			n += json_integer_value(json_object_get(row, me->name));
		return (
		    json_object_set_new(totals, me->name, json_integer(n)) == 0
			? OK
			: ERR_NOMEM);
	}
	if ((st = measure_prepare(tx, run, total, &rc)) == NULL)
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

/*
 * Measure me of obj (a row or totals) from the measures it is derived
 * from: "a-b-c", integers, null when one is; "a/b", a ratio, null when b
 * is 0 or null.
 */
static int
derive(const struct measure *me, json_t *obj)
{
	const char *p = me->of, *e;
	json_t	   *v, *terms[TERMS_MAX];
	char	    name[64];
	size_t	    n = 0, len, i;
	int	    ratio = strchr(me->of, '/') != NULL;
	json_int_t  acc;

	while (*p != '\0') {
		e = p + strcspn(p, "-/");
		if ((len = (size_t)(e - p)) == 0 || len >= sizeof(name) ||
		    n == TERMS_MAX)
			return (ERR_INTERNAL); /* the catalogue is wrong */
		memcpy(name, p, len);
		name[len] = '\0';
		if ((terms[n++] = json_object_get(obj, name)) == NULL)
			return (ERR_INTERNAL);
		p = *e != '\0' ? e + 1 : e;
	}
	if (n < 2 || (ratio && n != 2))
		return (ERR_INTERNAL);
	for (i = 0; i < n; i++)
		if (!json_is_integer(terms[i]))
			return (
			    json_object_set_new(obj, me->name, json_null()));
	if (ratio)
		v = json_integer_value(terms[1]) == 0
		    ? json_null()
		    : json_real((double)json_integer_value(terms[0]) /
			  (double)json_integer_value(terms[1]));
	else {
		acc = json_integer_value(terms[0]);
		for (i = 1; i < n; i++)
			acc -= json_integer_value(terms[i]);
		v = json_integer(acc);
	}
	return (json_object_set_new(obj, me->name, v) == 0 ? OK : ERR_NOMEM);
}

/* The derived measures of every row. */
static int
derive_rows(struct run *run)
{
	json_t *row;
	size_t	i, m;
	int	rc;

	json_array_foreach(run->rows, i, row)
		for (m = 0; m < run->nmeasures; m++)
			if (run->rep->measures[m].of != NULL &&
			    (rc = derive(&run->rep->measures[m], row)) != OK)
				return (rc);
	return (OK);
}

/*
 * The money totals: each currency's sums into run->currencies (with the
 * money measures derived from them), and into totals the sums when the
 * rows are in one currency (0 with none), else null; totals' currency
 * says which (null: none or several).
 */
static int
money_totals(struct run *run, json_t *totals)
{
	const struct measure *me;
	const char	     *cur, *key;
	json_t		     *row, *t, *v;
	size_t		      i, m, n;
	int		      rc;

	json_array_foreach(run->rows, i, row) {
		cur = json_string_value(json_object_get(row, "currency"));
		if (cur == NULL)
			cur = "";
		if ((t = json_object_get(run->currencies, cur)) == NULL) {
			if ((t = json_object()) == NULL ||
			    json_object_set_new(run->currencies, cur, t) != 0)
				return (ERR_NOMEM);
		}
		for (m = 0; m < run->nmeasures; m++) {
			me = &run->rep->measures[m];
			if (me->type != MEASURE_MONEY || me->of != NULL)
				continue;
			v = json_object_get(t, me->name);
			json_object_set_new(t, me->name,
			    json_integer(json_integer_value(v) +
				json_integer_value(
				    json_object_get(row, me->name))));
		}
	}
	json_object_foreach(run->currencies, key, t)
		for (m = 0; m < run->nmeasures; m++)
			if (run->rep->measures[m].type == MEASURE_MONEY &&
			    run->rep->measures[m].of != NULL &&
			    (rc = derive(&run->rep->measures[m], t)) != OK)
				return (rc);
	for (m = 0; m < run->nmeasures; m++) {
		me = &run->rep->measures[m];
		if (me->type != MEASURE_MONEY || me->of != NULL)
			continue;
		/* One currency: its sum; none: 0; several: no sum. */
		if ((n = json_object_size(run->currencies)) == 1)
			v = json_incref(json_object_get(
			    json_object_iter_value(
				json_object_iter(run->currencies)),
			    me->name));
		else
			v = n == 0 ? json_integer(0) : json_null();
		json_object_set_new(totals, me->name, v);
	}
	if (!(run->rep->flags & REPORT_CURRENCY))
		return (OK);
	v = json_null();
	if (json_object_size(run->currencies) == 1 &&
	    (key = json_object_iter_key(json_object_iter(run->currencies))) !=
		NULL &&
	    key[0] != '\0')
		v = json_string(key);
	return (
	    json_object_set_new(totals, "currency", v) == 0 ? OK : ERR_NOMEM);
}

/* A row and its sort keys. */
struct sorted {
	json_t	   *row;
	const char *period, *name, *id, *currency;
};

/* By period, then group name (none last), group id and currency. */
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
	if ((c = strcmp(
		 x->id != NULL ? x->id : "", y->id != NULL ? y->id : "")) != 0)
		return (c);
	return (strcmp(x->currency != NULL ? x->currency : "",
	    y->currency != NULL ? y->currency : ""));
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
		v[i].name = json_string_value(
		    json_object_get(row, report_label(run->rep)));
		v[i].id = json_string_value(json_object_get(row, run->gid));
		v[i].currency =
		    json_string_value(json_object_get(row, "currency"));
	}
	qsort(v, n, sizeof(*v), row_cmp);
	json_array_clear(run->rows);
	for (i = 0; i < n; i++)
		json_array_append_new(run->rows, v[i].row);
	free(v);
	return (OK);
}

/*
 * The table type of column j of the answer (report_columns' order):
 * period_start a date, the other keys text, then the measures'.
 */
static enum table_type
column_type(const struct run *run, size_t j)
{
	size_t keys = 3;

	if (REPORT_LONDON(run->rep)) {
		if (j == 1)
			return (TABLE_DATE);
		keys++;
	}
	if (run->rep->flags & REPORT_CURRENCY)
		keys++;
	if (j < keys)
		return (TABLE_TEXT);
	switch (run->rep->measures[j - keys].type) {
	case MEASURE_MONEY:
		return (TABLE_MONEY);
	case MEASURE_RATIO:
		return (TABLE_PERCENT);
	default:
		return (TABLE_INT);
	}
}

/* Cell j of the current row of t from v (null: left empty). */
static int
cell_set(struct table *t, enum table_type type, size_t j, json_t *v,
    const char *currency)
{
	int64_t ms;

	if (json_is_null(v) || v == NULL)
		return (OK);
	switch (type) {
	case TABLE_DATE:
		if (time_parse_iso(json_string_value(v), &ms) != 0)
			return (ERR_INTERNAL);
		return (table_set_date(t, j, ms / TIME_DAY_MS));
	case TABLE_INT:
		return (table_set_int(t, j, json_integer_value(v)));
	case TABLE_MONEY:
		return (table_set_money(t, j, json_integer_value(v),
		    currency != NULL ? currency : ""));
	case TABLE_PERCENT:
		return (table_set_percent(t, j, json_number_value(v)));
	default:
		return (json_is_string(v)
			? table_set_text(t, j, json_string_value(v))
			: OK);
	}
}

/* A totals row of obj (totals, or one currency's), "Total" in the period
 * column and obj's currency in the currency column, if any. */
static int
totals_row(struct table *t, const struct run *run, json_t *cols, json_t *obj)
{
	const char *cur;
	json_t	   *c;
	size_t	    j;
	int	    rc;

	if ((rc = table_totals_add(t)) != OK ||
	    (rc = table_set_text(t, 0, "Total")) != OK)
		return (rc);
	cur = json_string_value(json_object_get(obj, "currency"));
	json_array_foreach(cols, j, c)
		if (j > 0 &&
		    (rc = cell_set(t, column_type(run, j), j,
			 json_object_get(obj, json_string_value(c)), cur)) !=
			OK)
			return (rc);
	return (OK);
}

/*
 * Currency cur's totals (a new object, or NULL): its money sums and the
 * money derived from them (run->currencies), each count the sum of cur's
 * rows (a count whose total is not a sum: null, an empty cell), then the
 * ratios derived from those.
 */
static json_t *
currency_totals(const struct run *run, const char *cur)
{
	const struct measure *me;
	const char	     *row_cur;
	json_t		     *obj, *row;
	json_int_t	      n;
	size_t		      i, m;

	if ((obj = json_deep_copy(json_object_get(run->currencies, cur))) ==
	    NULL)
		return (NULL);
	for (m = 0; m < run->nmeasures; m++) {
		me = &run->rep->measures[m];
		if (me->type != MEASURE_COUNT || me->sql == NULL)
			continue;
		if (me->total != NULL) {
			if (json_object_set_new(obj, me->name, json_null()) !=
			    0)
				goto fail;
			continue;
		}
		n = 0;
		json_array_foreach(run->rows, i, row) {
			row_cur =
			    json_string_value(json_object_get(row, "currency"));
			if (strcmp(row_cur != NULL ? row_cur : "", cur) == 0)
				n += json_integer_value(
				    json_object_get(row, me->name));
		}
		if (json_object_set_new(obj, me->name, json_integer(n)) != 0)
			goto fail;
	}
	if (json_object_set_new(obj, "currency",
		cur[0] != '\0' ? json_string(cur) : json_null()) != 0)
		goto fail;
	for (m = 0; m < run->nmeasures; m++)
		if (run->rep->measures[m].of != NULL &&
		    derive(&run->rep->measures[m], obj) != OK)
			goto fail;
	return (obj);
fail:
	json_decref(obj);
	return (NULL);
}

static int
key_cmp(const void *a, const void *b)
{
	return (strcmp(*(const char *const *)a, *(const char *const *)b));
}

/* One totals row per currency of the rows, by code. */
static int
currency_rows(struct table *t, const struct run *run, json_t *cols)
{
	const char **keys;
	const char  *key;
	json_t	    *v, *obj;
	size_t	     i = 0, n = json_object_size(run->currencies);
	int	     rc = OK;

	if ((keys = calloc(n, sizeof(*keys))) == NULL)
		return (ERR_NOMEM);
	json_object_foreach(run->currencies, key, v)
		keys[i++] = key;
	qsort(keys, n, sizeof(*keys), key_cmp);
	for (i = 0; i < n && rc == OK; i++) {
		if ((obj = currency_totals(run, keys[i])) == NULL) {
			rc = ERR_NOMEM;
			break;
		}
		rc = totals_row(t, run, cols, obj);
		json_decref(obj);
	}
	free(keys);
	return (rc);
}

/*
 * The run as a table: period, group id, group name (and currency) as
 * text, the measures as integers, money or percentages (a money column
 * named without "_minor"); the totals rows last, "Total" in the period
 * column: one per currency of a report by currency, never a sum of two.
 */
static int
table_of(
    const struct run *run, json_t *cols, json_t *totals, struct table **out)
{
	struct table   *t;
	enum table_type type;
	json_t	       *row, *c;
	const char     *name, *cur;
	char		head[64], note[TABLE_NOTE_MAX];
	size_t		i, j, n;
	int		rc = OK;

	if ((t = table_new(run->rep->title)) == NULL)
		return (ERR_NOMEM);
	/* A partner admin's file says what its empty cells are (withhold),
	 * as the JSON's withheld_below does. */
	if (run->min_count > 1 && !run->open)
		snprintf(note, sizeof(note),
		    "Counts from 1 to %lld are withheld (empty cells), and so "
		    "is a week's or month's count with such a day in it and "
		    "a total with one.",
		    (long long)(run->min_count - 1));
	else if (run->min_count > 1) /* shorter: one line of a PDF page */
		snprintf(note, sizeof(note),
		    "Counts from 1 to %lld are withheld (empty cells), as is a "
		    "week, month or total with one, and every count of a day "
		    "not over yet, with its week or month and the total.",
		    (long long)(run->min_count - 1));
	else if (run->open)
		snprintf(note, sizeof(note),
		    "Every count of a day not over yet is withheld (empty "
		    "cells), with its week or month and the total.");
	if ((run->min_count > 1 || run->open) &&
	    (rc = table_note_set(t, note)) != OK)
		goto out;
	json_array_foreach(cols, j, c) {
		name = json_string_value(c);
		type = column_type(run, j);
		n = strlen(name);
		if (type == TABLE_MONEY && n > 6 && n - 6 < sizeof(head) &&
		    strcmp(name + n - 6, "_minor") == 0) {
			memcpy(head, name, n - 6);
			head[n - 6] = '\0';
			name = head;
		}
		if ((rc = table_column_add(t, name, type)) != OK)
			goto out;
	}
	json_array_foreach(run->rows, i, row) {
		if ((rc = table_row_add(t)) != OK)
			goto out;
		cur = json_string_value(json_object_get(row, "currency"));
		json_array_foreach(cols, j, c)
			if ((rc = cell_set(t, column_type(run, j), j,
				 json_object_get(row, json_string_value(c)),
				 cur)) != OK)
				goto out;
	}
	if ((run->rep->flags & REPORT_CURRENCY) &&
	    json_object_size(run->currencies) > 0)
		rc = currency_rows(t, run, cols);
	else
		rc = totals_row(t, run, cols, totals);
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

/*
 * A day not over yet is withheld from a partner admin (withhold), and so
 * is the week or month holding it and the total: asked again and again,
 * its count would tell when each member joined, to the asking's
 * precision, whatever its size. Its row must then tell nothing either:
 * the period holding now has its row whether or not anything happened in
 * it yet (its group the partner: the reports open to partner admins are
 * by partner), and the periods after it have none (nothing normally
 * happens in them; a clock a moment ahead elsewhere could). A report by
 * another group or by currency keeps no row of the current period.
 */
static int
open_rows(struct tx *tx, struct run *run)
{
	struct stmt *st;
	json_t	    *row, *kept;
	const char  *period, *key;
	void	    *tmp;
	char	     k[PERIOD_LEN + UUID_STR_LEN + 16];
	size_t	     i;
	int	     rc, add;

	if ((kept = json_array()) == NULL)
		return (ERR_NOMEM);
	add = run->partner != NULL && strcmp(run->rep->group, "partner") == 0 &&
	    !(run->rep->flags & REPORT_CURRENCY) &&
	    strcmp(run->current_start, "") != 0;
	json_array_foreach(run->rows, i, row) {
		period = json_string_value(json_object_get(row, "period"));
		if (period != NULL &&
		    (strcmp(period, run->current) < 0 ||
			(add && strcmp(period, run->current) == 0)) &&
		    json_array_append(kept, row) != 0) {
			json_decref(kept);
			return (ERR_NOMEM);
		}
	}
	json_array_clear(run->rows);
	rc = json_array_extend(run->rows, kept) == 0 ? OK : ERR_NOMEM;
	json_decref(kept);
	if (rc != OK)
		return (rc);
	/* The index keeps the rows kept only (withhold walks it). */
	json_object_foreach_safe(run->index, tmp, key, row) {
		period = json_string_value(json_object_get(row, "period"));
		if (period == NULL || strcmp(period, run->current) > 0 ||
		    (!add && strcmp(period, run->current) == 0))
			json_object_del(run->index, key);
	}
	snprintf(k, sizeof(k), "%s|%s|", run->current, run->partner);
	if (!add || json_object_get(run->index, k) != NULL)
		return (OK);
	/* No row of it yet: one, named as the partner's rows are. */
	if ((st = store_prepare(
		 tx, "SELECT name FROM partners WHERE id = ?")) == NULL)
		return (ERR_DB);
	store_bind_text(st, 1, run->partner);
	if ((rc = store_step(st)) == STORE_ROW) {
		rc = OK;
		if (json_array_size(run->rows) >=
		    (size_t)config.report_max_rows)
			rc = ERR_TOO_LARGE;
		else if ((row = row_new(run, run->current, run->current_start,
			      run->partner, store_col_text(st, 0), NULL)) ==
		    NULL)
			rc = ERR_NOMEM;
		else {
			json_object_set(run->index, k, row);
			json_array_append_new(run->rows, row);
		}
	} else if (rc == STORE_DONE)
		rc = OK; /* no such partner: no row of it */
	store_finalize(st);
	return (rc);
}

/*
 * Small counts name people (three people of an employer started a trauma
 * course on Tuesday): each count measure's cells over 0 and under min
 * become null, and so does its total when it is under min or when a cell
 * of its column was withheld, so that no withheld cell is the total less
 * the cells shown. Withheld at the finest level, the day: a week's or a
 * month's cell is withheld when a day of it is, though its own count is
 * min or over, so that it is never a day's withheld count plus the days
 * shown (a month of 7 beside its days of 6 and 1). With a partner
 * admin's range of whole periods (reports.c's args) every count shown is
 * then a sum of days' counts that are shown too, whatever the period or
 * range asked (the totals of the reports open to partner admins are
 * their cells' sums). Money and ratios are not withheld: the reports
 * open to partners have none. A withheld row keeps its period and group:
 * a partner admin's group is their own partner, which tells them nothing
 * (and a null, withheld, is told from a 0 by design).
 */
static void
withhold(struct run *run, json_t *totals, int64_t min)
{
	const struct measure *me;
	const char	     *key;
	json_t		     *row, *v;
	json_int_t	      n;
	size_t		      m;
	int		      any;

	for (m = 0; m < run->nmeasures; m++) {
		me = &run->rep->measures[m];
		if (me->type != MEASURE_COUNT || me->of != NULL)
			continue;
		any = 0;
		json_object_foreach(run->index, key, row) {
			v = json_object_get(row, me->name);
			n = json_is_integer(v) ? json_integer_value(v) : 0;
			/* The period holding now: a day of it is not over
			 * (open_rows). */
			if ((n > 0 && n < min) ||
			    day_withheld(run, key, me->name) ||
			    (run->open &&
				strcmp(json_string_value(
					   json_object_get(row, "period")),
				    run->current) == 0)) {
				json_object_set_new(row, me->name, json_null());
				any = 1;
			}
		}
		v = json_object_get(totals, me->name);
		n = json_is_integer(v) ? json_integer_value(v) : 0;
		if (any || run->open || (n > 0 && n < min))
			json_object_set_new(totals, me->name, json_null());
	}
}

/* The JSON answer, compact, as http_json would write it. */
static int
json_write(struct buf *b, const struct run *run, json_t *cols, json_t *totals)
{
	struct json_sink js;
	json_t		*v;
	char		 from[ISO_TIME_LEN], to[ISO_TIME_LEN];
	char		 key[PERIOD_LEN], start[PERIOD_LEN];

	time_format_iso(run->from, from);
	time_format_iso(run->to, to);
	v = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:O,s:O,s:O}", "report",
	    run->rep->name, "title", run->rep->title, "from", from, "to", to,
	    "time_zone", REPORT_LONDON(run->rep) ? "Europe/London" : "UTC",
	    "period", report_periods[run->period], "columns", cols, "rows",
	    run->rows, "totals", totals);
	if (v == NULL)
		return (ERR_NOMEM);
	if (run->min_count > 1 &&
	    json_object_set_new(
		v, "withheld_below", json_integer(run->min_count)) != 0) {
		json_decref(v);
		return (ERR_NOMEM);
	}
	/* A partner admin's range reaching a day not over yet: the period
	 * whose counts (and the totals) are null for that, not for small
	 * counts, named as rows name it; the range's first when all of it
	 * is after the edge. */
	if (run->open) {
		if (run->current_start[0] != '\0')
			memcpy(key, run->current, sizeof(key));
		else
			period_key(REPORT_LONDON(run->rep)
				? time_london_day(run->from)
				: run->from / TIME_DAY_MS,
			    run->period, key, start);
		if (json_object_set_new(v, "open_period", json_string(key)) !=
		    0) {
			json_decref(v);
			return (ERR_NOMEM);
		}
	}
	if ((run->rep->flags & REPORT_CURRENCY) &&
	    json_object_set(v, "totals_by_currency", run->currencies) != 0) {
		json_decref(v);
		return (ERR_NOMEM);
	}
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
	int64_t	   edge;
	int	   rc, no_column;

	memset(out, 0, sizeof(*out));
	memset(&run, 0, sizeof(run));
	if ((run.rep = report_find(q->name)) == NULL)
		return (ERR_NOT_FOUND);
	buf_init(&b, max);
	run.from = q->from;
	run.to = q->to;
	date_ceil(run.from, run.from_date);
	date_ceil(run.to, run.to_date);
	run.period = (enum report_period)q->period;
	run.partner = q->partner;
	run.min_count = q->min_count;
	if (run.min_count > 1 && (run.days = json_object()) == NULL) {
		rc = ERR_NOMEM;
		goto out;
	}
	/* Read before the snapshot; a day is over REPORT_DAY_GRACE_MS after
	 * its end (a write stamped before midnight may commit after it). */
	edge = time_now_ms() - REPORT_DAY_GRACE_MS;
	if (q->partner_admin && run.to > edge) {
		run.open = 1;
		period_key(REPORT_LONDON(run.rep) ? time_london_day(edge)
						  : edge / TIME_DAY_MS,
		    run.period, run.current, run.current_start);
		/* The period holding edge is not in the range: no row. */
		if (edge < run.from)
			run.current_start[0] = '\0';
	}
	snprintf(run.gid, sizeof(run.gid), "%s_id", run.rep->group);
	run.nmeasures = report_measures(run.rep);
	run.rows = json_array();
	run.index = json_object();
	run.currencies = json_object();
	cols = report_columns(run.rep, run.gid);
	totals = json_object();
	if (run.rows == NULL || run.index == NULL || run.currencies == NULL ||
	    cols == NULL || totals == NULL) {
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
	/* A column its SQL names not there (partner_access.deactivated_at
	 * while 0056 is pending: a rolling upgrade, or undone) is told apart
	 * below, once the snapshot is let go. */
	no_column = rc != OK && store_tx_no_column(tx);
	if (rc == OK && run.open)
		rc = open_rows(tx, &run);
	store_tx_rollback(tx);
	/* It waits for the migration (503) only when one is pending: with
	 * every one applied the column is a fault of the report's SQL or of
	 * the schema (renamed by hand) that no waiting mends (500). A ledger
	 * that cannot be read keeps the failure's own answer. */
	if (no_column) {
		switch (migrate_current(db)) {
		case ERR_UNAVAILABLE:
			log_warn("event=report_unavailable report=%s "
				 "msg=\"a column it reads is missing: run "
				 "carebase migrate\"",
			    run.rep->name);
			out->migrations_pending = 1;
			rc = ERR_UNAVAILABLE;
			break;
		case OK:
			log_error("event=report_failed report=%s "
				  "msg=\"a column it reads is missing with "
				  "every migration applied\"",
			    run.rep->name);
			rc = ERR_INTERNAL;
			break;
		default:
			break;
		}
	}
	if (rc == ERR_TOO_LARGE)
		out->too_many_rows = 1;
	if (rc != OK || (rc = derive_rows(&run)) != OK ||
	    (rc = money_totals(&run, totals)) != OK)
		goto out;
	for (m = 0; m < run.nmeasures && rc == OK; m++)
		if (run.rep->measures[m].of != NULL)
			rc = derive(&run.rep->measures[m], totals);
	if (rc != OK || (rc = rows_sort(&run)) != OK)
		goto out;
	if (q->min_count > 1 || run.open)
		withhold(&run, totals, run.min_count);
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
	json_decref(run.currencies);
	json_decref(run.days);
	return (rc);
}

void
report_disposition(const struct report_query *q, char *out, size_t len)
{
	const struct report *rep = report_find(q->name);
	char		     from[ISO_TIME_LEN], to[ISO_TIME_LEN];

	/* The dates the range is named by, in the report's days. */
	if (rep != NULL && REPORT_LONDON(rep)) {
		report_london_date(q->from, from);
		report_london_date(q->to, to);
	} else {
		time_format_iso(q->from, from);
		time_format_iso(q->to, to);
	}
	snprintf(out, len, "attachment; filename=\"%s_%.10s_%.10s_%s.%s\"",
	    q->name, from, to, report_periods[q->period],
	    report_formats[q->format]);
}
