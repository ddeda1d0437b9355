/*
 * Reports (seed 002, "Reporting"): a catalogue of report definitions,
 * each a few measures written as SQL with the named date-range
 * parameters :from and :to (inclusive, exclusive; ms). SQL text lives
 * here and only here: a request names a report, never SQL.
 *
 *	GET /v1/reports			the catalogue
 *	GET /v1/reports/{name}?from=&to=&period=day|week|month&format=json|csv
 *
 * Admins only (permission reports:read:all). Every measure answers
 * aggregates, never a row about a person: (group id, group name, day,
 * count) with day = ms / 86400000, and the totals of the range with each
 * subject counted once (a member with accesses from two partners is in
 * both partners' rows and once in the total), the same integer arithmetic on SQLite
 * and PostgreSQL. The days are folded into periods here in C (UTC; a
 * week starts on Monday and is named by that Monday's date; a month is
 * YYYY-MM), so no date function of either dialect is needed. A range is
 * at most REPORT_RANGE_MAX_MS long and an answer at most report_max_rows
 * rows (422 REPORT_TOO_LARGE past it: narrow the range or widen the
 * period) and report_run_max_bytes bytes, JSON or CSV (422
 * RESULT_TOO_LARGE), the bound a queued run keeps its answer in, so the
 * two routes answer or refuse the same reports. CSV cells are quoted as RFC 4180 asks, and a text cell that
 * starts with = + - @ tab or CR gets a leading ' so a spreadsheet does
 * not run it as a formula.
 *
 * A report's measures and totals are read in one transaction with one
 * snapshot (STORE_TX_SNAPSHOT: REPEATABLE READ on PostgreSQL), so the
 * totals agree with the rows under concurrent writes. report_make makes
 * the bytes of an answer, for this route and for the queued runs of
 * report_runs.c alike.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "reports/reports.h"
#include "reports/reports_int.h"
#include "resource/resource.h"
#include "store/jobs.h"
#include "store/store.h"

#define MEASURES_MAX 4
#define BINDS_MAX    8 /* placeholders in one measure */
#define DAY_MS	     86400000LL
#define PERIOD_LEN   48 /* "YYYY-MM-DD" and room the compiler sees */
#define SQL_MAX	     4096

struct measure {
	const char *name; /* column of the answer */
	const char *doc;
	/* SELECT group id, group name, day, count ... :from ... :to */
	const char *sql;
	/*
	 * SELECT count ... :from ... :to: the total over the range, when a
	 * subject can be in more than one row (a member with accesses from
	 * two partners); NULL: the rows part the subjects, so their sum.
	 */
	const char *total;
};

struct report {
	const char    *name;
	const char    *title;
	const char    *doc;
	const char    *group; /* "partner" or "course" */
	struct measure measures[MEASURES_MAX];
};

/* What the OpenAPI document says of the report runs (report_runs.c). */
/* clang-format off */
#define API_RUN	"{\"type\":\"object\",\"required\":[\"id\",\"report\"," \
	"\"from\",\"to\",\"period\",\"format\",\"status\",\"attempts\"]," \
	"\"properties\":{\"id\":{\"type\":\"string\",\"format\":\"uuid\"}," \
	"\"report\":{\"type\":\"string\"},\"from\":{\"type\":\"string\"," \
	"\"format\":\"date-time\"},\"to\":{\"type\":\"string\",\"format\":" \
	"\"date-time\"},\"period\":{\"enum\":[\"day\",\"week\",\"month\"]}," \
	"\"format\":{\"enum\":[\"json\",\"csv\"]},\"status\":{\"enum\":[" \
	"\"queued\",\"running\",\"succeeded\",\"failed\"]},\"attempts\":{" \
	"\"type\":\"integer\"},\"error_code\":{\"type\":[\"string\"," \
	"\"null\"],\"description\":\"REPORT_TOO_LARGE, RESULT_TOO_LARGE, " \
	"REPORT_FAILED, DATABASE_ERROR (retried while queued) or JOB_FAILED\"}," \
	"\"error\":{\"type\":[\"string\",\"null\"]},\"result_bytes\":{" \
	"\"type\":[\"integer\",\"null\"]},\"rows\":{\"type\":[\"integer\"," \
	"\"null\"]},\"requested_by\":{\"type\":[\"string\",\"null\"]}," \
	"\"created_at\":{\"type\":\"string\",\"format\":\"date-time\"}," \
	"\"started_at\":{\"type\":[\"string\",\"null\"],\"format\":" \
	"\"date-time\"},\"finished_at\":{\"type\":[\"string\",\"null\"]," \
	"\"format\":\"date-time\"}}}"
/* clang-format on */
#define API_RUN_ADMIN "\"403\":\"not an admin\""

static const char api_run_create[] =
    "{\"body\":{\"type\":\"object\","
    "\"required\":[\"report\",\"from\",\"to\"],\"properties\":{"
    "\"report\":{\"type\":\"string\",\"description\":\"a name from GET "
    "/v1/reports\"},\"from\":{\"type\":\"string\",\"description\":\"ISO "
    "8601 date or date-time, inclusive\"},\"to\":{\"type\":\"string\","
    "\"description\":\"ISO 8601 date or date-time, exclusive; at most 5 "
    "years after from\"},\"period\":{\"enum\":[\"day\",\"week\","
    "\"month\"],\"default\":\"month\"},\"format\":{\"enum\":[\"json\","
    "\"csv\"],\"default\":\"json\"}},\"additionalProperties\":false},"
    "\"answers\":{\"202\":{\"description\":\"queued (Location names the "
    "run)\",\"schema\":" API_RUN "}},\"problems\":{" API_RUN_ADMIN ","
    "\"404\":\"REPORT_NOT_FOUND\",\"422\":\"a member missing, unknown or "
    "bad (VALIDATION_FAILED, one entry each)\",\"429\":\"RUNS_PENDING: "
    "too many runs wait already\"}}";
static const char api_run_list[] =
    "{\"answers\":{\"200\":{\"description\":"
    "\"a page of runs, newest first\",\"schema\":{\"type\":\"object\","
    "\"properties\":{\"data\":{\"type\":\"array\",\"items\":" API_RUN
    "},\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}}},"
    "\"problems\":{" API_RUN_ADMIN ",\"422\":\"a bad limit or cursor\"}}";
static const char api_run_get[] =
    "{\"answers\":{\"200\":{\"description\":"
    "\"the run\",\"schema\":" API_RUN "}},\"problems\":{" API_RUN_ADMIN
    ",\"404\":\"no such run\"}}";
static const char api_run_result[] =
    "{\"answers\":{\"200\":{"
    "\"description\":\"the answer GET /v1/reports/{name} gives for the "
    "run's parameters: application/json or text/csv (its format), with "
    "Content-Disposition\"}},\"problems\":{" API_RUN_ADMIN ",\"404\":"
    "\"no such run\",\"409\":\"RUN_NOT_READY (queued or running) or "
    "RUN_FAILED\"}}";

static const struct route reports_routes[] = {
	{ HTTP_GET, "/v1/reports", reports_list, 0,
	    "the report catalogue (admins)" },
	{ HTTP_GET, "/v1/reports/{name}", reports_run, ROUTE_SLOW,
	    "run a report: from, to (exclusive), period day|week|month, "
	    "format json|csv (admins)" },
	{ HTTP_POST, "/v1/report-runs", report_runs_create, ROUTE_JSON_BODY,
	    "queue a report run: a job makes the report and keeps its answer "
	    "(admins)",
	    NULL, api_run_create },
	{ HTTP_GET, "/v1/report-runs", report_runs_list, 0,
	    "report runs, newest first (limit, cursor; admins)", NULL,
	    api_run_list },
	{ HTTP_GET, "/v1/report-runs/{id}", report_runs_get, 0,
	    "one report run: status, attempts, error (admins)", NULL,
	    api_run_get },
	{ HTTP_GET, "/v1/report-runs/{id}/result", report_runs_result,
	    ROUTE_SLOW,
	    "a report run's answer, CSV or JSON, once it "
	    "succeeded (admins)",
	    NULL, api_run_result },
};

static const struct job_kind reports_jobs[] = {
	{ REPORT_RUN_KIND, report_runs_make_job, 0 },
	{ "report_runs.prune", report_runs_prune_job, 0 },
};

/* report_run_retention_days */
static const struct job_schedule reports_schedules[] = {
	{ "report_runs.prune", "37 * * * *", "report_runs.prune", NULL },
};

const struct module reports_module = {
	.name = "reports",
	.routes = reports_routes,
	.nroutes = NELEM(reports_routes),
	.jobs = reports_jobs,
	.njobs = NELEM(reports_jobs),
	.schedules = reports_schedules,
	.nschedules = NELEM(reports_schedules),
};

static const struct report catalogue[] = {
	{ "signups_by_partner", "Sign-ups by partner",
	    "Members who signed up (users.created_at) in each period, by the "
	    "partners they hold access from; partner null: none.",
	    "partner",
	    {
		{ "signups",
		    "members who signed up, under each partner "
		    "they hold access from (total: each member once)",
		    "SELECT p.id, p.name, u.created_at / 86400000, "
		    "COUNT(DISTINCT u.id) FROM users u LEFT JOIN "
		    "partner_access "
		    "a ON a.user_id = u.id AND a.deleted_at IS NULL LEFT JOIN "
		    "partners p ON p.id = a.partner_id WHERE u.role = 'member' "
		    "AND u.created_at >= :from AND u.created_at < :to "
		    "GROUP BY p.id, p.name, u.created_at / 86400000",
		    "SELECT COUNT(*) FROM users u WHERE u.role = 'member' AND "
		    "u.created_at >= :from AND u.created_at < :to" },
	    } },
	{ "access_codes_by_partner", "Access codes created and redeemed",
	    "Partner access codes created (created_at) and redeemed "
	    "(activated_at) in each period, by partner.",
	    "partner",
	    {
		{ "created", "codes created",
		    "SELECT p.id, p.name, a.created_at / 86400000, COUNT(*) "
		    "FROM partner_access a JOIN partners p ON p.id = "
		    "a.partner_id WHERE a.code_hash IS NOT NULL AND "
		    "a.created_at >= :from AND a.created_at < :to "
		    "GROUP BY p.id, p.name, a.created_at / 86400000" },
		{ "redeemed", "codes redeemed",
		    "SELECT p.id, p.name, a.activated_at / 86400000, COUNT(*) "
		    "FROM partner_access a JOIN partners p ON p.id = "
		    "a.partner_id WHERE a.code_hash IS NOT NULL AND "
		    "a.user_id IS NOT NULL AND a.activated_at >= :from AND "
		    "a.activated_at < :to "
		    "GROUP BY p.id, p.name, a.activated_at / 86400000" },
	    } },
	{ "course_progress", "Course starts and completions",
	    "Courses started (first progress) and completed, and their "
	    "sessions started and completed, in each period, by course.",
	    "course",
	    {
		{ "started",
		    "users who started the course (total: users "
		    "who started any)",
		    "SELECT c.id, c.name, e.started_at / 86400000, COUNT(*) "
		    "FROM course_enrolments e JOIN courses c ON c.id = "
		    "e.course_id WHERE e.started_at >= :from AND "
		    "e.started_at < :to "
		    "GROUP BY c.id, c.name, e.started_at / 86400000",
		    "SELECT COUNT(DISTINCT e.user_id) FROM course_enrolments e "
		    "WHERE e.started_at >= :from AND e.started_at < :to" },
		{ "completed",
		    "users who completed the course (total: "
		    "users who completed any)",
		    "SELECT c.id, c.name, e.completed_at / 86400000, COUNT(*) "
		    "FROM course_enrolments e JOIN courses c ON c.id = "
		    "e.course_id WHERE e.completed = 1 AND e.completed_at >= "
		    ":from AND e.completed_at < :to "
		    "GROUP BY c.id, c.name, e.completed_at / 86400000",
		    "SELECT COUNT(DISTINCT e.user_id) FROM course_enrolments e "
		    "WHERE e.completed = 1 AND e.completed_at >= :from AND "
		    "e.completed_at < :to" },
		{ "sessions_started", "course sessions started",
		    "SELECT c.id, c.name, sp.started_at / 86400000, COUNT(*) "
		    "FROM course_session_progress sp JOIN course_sessions s ON "
		    "s.id = sp.session_id JOIN courses c ON c.id = s.course_id "
		    "WHERE sp.started_at >= :from AND sp.started_at < :to "
		    "GROUP BY c.id, c.name, sp.started_at / 86400000" },
		{ "sessions_completed", "course sessions completed",
		    "SELECT c.id, c.name, sp.completed_at / 86400000, "
		    "COUNT(*) FROM course_session_progress sp JOIN "
		    "course_sessions s ON s.id = sp.session_id JOIN courses c "
		    "ON c.id = s.course_id WHERE sp.completed = 1 AND "
		    "sp.completed_at >= :from AND sp.completed_at < :to "
		    "GROUP BY c.id, c.name, sp.completed_at / 86400000" },
	    } },
	{ "therapy_bookings_by_partner", "Therapy bookings and cancellations",
	    "Therapy sessions booked (created_at) and cancelled "
	    "(cancelled_at) in each period, by the partner whose access paid "
	    "for them.",
	    "partner",
	    {
		{ "booked", "sessions booked",
		    "SELECT p.id, p.name, b.created_at / 86400000, COUNT(*) "
		    "FROM therapy_bookings b LEFT JOIN partners p ON p.id = "
		    "b.partner_id WHERE b.created_at >= :from AND "
		    "b.created_at < :to "
		    "GROUP BY p.id, p.name, b.created_at / 86400000" },
		{ "cancelled", "sessions cancelled",
		    "SELECT p.id, p.name, b.cancelled_at / 86400000, COUNT(*) "
		    "FROM therapy_bookings b LEFT JOIN partners p ON p.id = "
		    "b.partner_id WHERE b.cancelled_at >= :from AND "
		    "b.cancelled_at < :to "
		    "GROUP BY p.id, p.name, b.cancelled_at / 86400000" },
	    } },
};

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

static const struct report *report_find(const char *);
static size_t		    measures_count(const struct report *);
static json_t		   *columns(const struct report *, const char *);
static int	    sql_compile(const char *, struct buf *, int *, int *);
static void	    period_key(int64_t, enum report_period, char *);
static int	    args(struct request *, struct report_query *);
static int	    row_add(struct run *, size_t, struct stmt *);
static struct stmt *measure_prepare(
    struct tx *, const struct run *, const char *, int *);
static int measure_run(struct tx *, struct run *, size_t);
static int measure_total(struct tx *, const struct run *, size_t, json_t *);
static int row_cmp(const void *, const void *);
static int rows_sort(struct run *);
static int csv_text(struct buf *, const char *);
static int csv_write(struct buf *, const struct run *, json_t *);
static int json_buf_cb(const char *, size_t, void *);
static int json_write(struct buf *, const struct run *, json_t *, json_t *);

/* 401 without a caller, 403 without reports:read:all; OK for admins. */
int
reports_caller_admin(struct request *req, struct principal **out)
{
	struct principal *who;

	who = req->caller;
	if (out != NULL)
		*out = who;
	if (resource_scope(req->db, who, "reports", "read") != SCOPE_ALL) {
		http_problem(req, ERR_FORBIDDEN, NULL,
		    "Reports are for "
		    "admins.");
		return (ERR_FORBIDDEN);
	}
	return (OK);
}

static const struct report *
report_find(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < NELEM(catalogue); i++)
		if (strcmp(catalogue[i].name, name) == 0)
			return (&catalogue[i]);
	return (NULL);
}

int
report_known(const char *name)
{
	return (report_find(name) != NULL);
}

static size_t
measures_count(const struct report *rep)
{
	size_t n = 0;

	while (n < MEASURES_MAX && rep->measures[n].name != NULL)
		n++;
	return (n);
}

/* ["period", "<group>_id", "<group>", measures...] */
static json_t *
columns(const struct report *rep, const char *gid)
{
	json_t *c;
	size_t	i, n = measures_count(rep);

	if ((c = json_pack("[s,s,s]", "period", gid, rep->group)) == NULL)
		return (NULL);
	for (i = 0; i < n; i++)
		json_array_append_new(c, json_string(rep->measures[i].name));
	return (c);
}

/* GET /v1/reports */
void
reports_list(struct request *req)
{
	const struct report *rep;
	json_t		    *data, *ms, *o;
	char		     gid[40];
	size_t		     i, j, n;

	if (reports_caller_admin(req, NULL) != OK)
		return;
	if ((data = json_array()) == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "Out of memory.");
		return;
	}
	for (i = 0; i < NELEM(catalogue); i++) {
		rep = &catalogue[i];
		snprintf(gid, sizeof(gid), "%s_id", rep->group);
		ms = json_array();
		n = measures_count(rep);
		for (j = 0; j < n; j++)
			json_array_append_new(ms,
			    json_pack("{s:s,s:s}", "name",
				rep->measures[j].name, "description",
				rep->measures[j].doc));
		o = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:{s:s,s:s,s:[s,s,s],"
			      "s:[s,s]}}",
		    "name", rep->name, "title", rep->title, "description",
		    rep->doc, "group", rep->group, "measures", ms, "columns",
		    columns(rep, gid), "parameters", "from",
		    "ISO 8601 date or date-time, inclusive (required)", "to",
		    "ISO 8601 date or date-time, exclusive (required); at most "
		    "5 years after from",
		    "period", "day", "week", "month", "format", "json", "csv");
		json_array_append_new(data, o);
	}
	http_json(req, 200, json_pack("{s:o}", "data", data));
}

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

/* ?from= ?to= ?period= ?format= (args.c): 422 with an entry per bad one. */
static int
args(struct request *req, struct report_query *q)
{
	struct report_args a;
	json_t		  *errs = json_array();

	if (report_args_parse(http_query(req, "from"), http_query(req, "to"),
		http_query(req, "period"), http_query(req, "format"), &a,
		errs) != OK)
		return (resource_errs_answer(req, errs, "The report query"));
	json_decref(errs);
	q->from = a.from;
	q->to = a.to;
	q->period = a.period;
	q->csv = a.csv;
	return (OK);
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
		json_array_foreach(run->rows, i, row) n +=
		    json_integer_value(json_object_get(row, me->name));
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
	json_array_foreach(run->rows, i, row)
	{
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

/* One text cell: quoted when it must be, defused when it could run. */
static int
csv_text(struct buf *b, const char *s)
{
	const char *p;
	int	    formula, rc;

	formula = strchr("=+-@\t\r", s[0]) != NULL && s[0] != '\0';
	if (!formula && strpbrk(s, ",\"\r\n") == NULL)
		return (buf_puts(b, s));
	if ((rc = buf_puts(b, formula ? "\"'" : "\"")) != OK)
		return (rc);
	for (p = s; *p != '\0'; p++)
		if ((rc = buf_append(b, p, 1)) != OK ||
		    (*p == '"' && (rc = buf_append(b, "\"", 1)) != OK))
			return (rc);
	return (buf_puts(b, "\""));
}

/* Header line, then one line per row; CRLF line ends. */
static int
csv_write(struct buf *b, const struct run *run, json_t *cols)
{
	json_t *row, *c, *v;
	size_t	i, j;
	int	rc = OK;

	json_array_foreach(
	    cols, j, c) if ((rc = buf_puts(b, j > 0 ? "," : "")) != OK ||
	    (rc = csv_text(b, json_string_value(c))) != OK) return (rc);
	if ((rc = buf_puts(b, "\r\n")) != OK)
		return (rc);
	json_array_foreach(run->rows, i, row)
	{
		json_array_foreach(cols, j, c)
		{
			v = json_object_get(row, json_string_value(c));
			if ((rc = buf_puts(b, j > 0 ? "," : "")) != OK)
				return (rc);
			if (json_is_integer(v))
				rc = buf_printf(b, "%lld",
				    (long long)json_integer_value(v));
			else if (json_is_string(v))
				rc = csv_text(b, json_string_value(v));
			if (rc != OK)
				return (rc);
		}
		if ((rc = buf_puts(b, "\r\n")) != OK)
			return (rc);
	}
	return (OK);
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
	run.nmeasures = measures_count(run.rep);
	run.rows = json_array();
	run.index = json_object();
	cols = columns(run.rep, run.gid);
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
	if (q->csv)
		rc = csv_write(&b, &run, cols);
	else
		rc = json_write(&b, &run, cols, totals);
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
	    q->csv ? "csv" : "json");
}

/* GET /v1/reports/{name} */
void
reports_run(struct request *req)
{
	struct report_query q;
	struct report_out   o;
	char		    cd[REPORT_CD_LEN], *v;
	int		    rc;

	memset(&q, 0, sizeof(q));
	if (reports_caller_admin(req, NULL) != OK)
		return;
	q.name = http_param(req, "name");
	if (!report_known(q.name)) {
		http_problem(req, ERR_NOT_FOUND, "REPORT_NOT_FOUND",
		    "No such "
		    "report: GET /v1/reports lists them.");
		return;
	}
	if (args(req, &q) != OK)
		return;
	if ((rc = report_make(
		 req->db, &q, (size_t)config.report_run_max_bytes, &o)) != OK) {
		if (o.too_many_rows)
			http_problem(req, ERR_INVALID, "REPORT_TOO_LARGE",
			    "The "
			    "report has more than %lld rows: narrow the range "
			    "or "
			    "choose a longer period.",
			    (long long)config.report_max_rows);
		else if (rc == ERR_TOO_LARGE)
			http_problem(req, ERR_INVALID, "RESULT_TOO_LARGE",
			    "The "
			    "answer is over %lld bytes (report_run_max_bytes): "
			    "narrow the range or choose a longer period.",
			    (long long)config.report_run_max_bytes);
		else
			http_problem(req, rc, NULL,
			    "The report could not be "
			    "made.");
		return;
	}
	if (q.csv) {
		report_disposition(&q, cd, sizeof(cd));
		if ((v = arena_strdup(req->arena, cd)) != NULL)
			http_header_add(req, "Content-Disposition", v);
	}
	http_send_take(req, 200,
	    q.csv ? "text/csv; charset=utf-8" : "application/json", o.data,
	    o.len);
}
