/*
 * Report runs: a report of the catalogue (reports.c) made by the job
 * queue instead of inside the request, for ranges too long to wait for.
 *
 *	POST /v1/report-runs		{report, from, to, period?, format?}: 202
 *					(format json, csv, xlsx or pdf)
 *	GET  /v1/report-runs		newest first; ?limit= ?cursor=
 *	GET  /v1/report-runs/{id}	the run: status, attempts, error
 *	GET  /v1/report-runs/{id}/result	its answer (409 before it is made)
 *
 * Admins only (reports:read:all), as GET /v1/reports/{name}, whose query
 * the body is checked as, with the same problems. The POST is audited
 * (report_runs.create) and queues a report_runs.make job in the same
 * transaction; at most RUNS_PENDING_MAX runs wait at once (429): a run
 * waits while it is queued or running and its job is in the jobs table.
 *
 * The job (run_jobs.c) marks the run running, makes the report
 * (report_make: rows and totals from one snapshot) and keeps its bytes, at most
 * report_run_max_bytes, with status succeeded: the same bytes GET
 * /v1/reports/{name} answers for the same parameters, served with the
 * same Content-Type and Content-Disposition filename. A report past
 * report_max_rows (REPORT_TOO_LARGE) or past the byte bound
 * (RESULT_TOO_LARGE) fails the run at once: no retry would mend it. A
 * database error is retried by the queue with backoff (status queued
 * again, error the last one); after the last attempt the run is failed
 * (DATABASE_ERROR) and the job goes to failed_jobs. An attempt begins
 * on the run's attempts and ends only if they are still its own and the
 * run still running: a worker that overran job_timeout_s, whose job
 * another took since, changes nothing. A run whose job is in
 * failed_jobs while the run still says queued or running (its own last
 * update failed too, or the job timed out) is shown failed with that
 * error (JOB_FAILED); `carebase jobs retry` runs it again.
 *
 * Results hold counts and money by partner, course, schedule or
 * trainer, never a row about a person. A run made by a report schedule
 * (schedules.c) says so: is_scheduled, schedule_frequency, schedule_id.
 * The hourly report_runs.prune job deletes runs created more than
 * report_run_retention_days ago, results and all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "reports/reports_int.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "store/jobs.h"
#include "store/store.h"

#define RUNS_PENDING_MAX 16 /* runs queued or running at once */
#define RUNS_LIST_MAX	 200

/* Columns run_row decodes, for "FROM report_runs r". */
/* clang-format off */
#define RUN_COLUMNS	"r.id, r.report, r.range_from, r.range_to, " \
			"r.period, r.format, r.status, r.attempts, " \
			"r.error_code, r.error, r.result_bytes, " \
			"r.result_rows, r.requested_by, r.created_at, " \
			"r.started_at, r.finished_at, r.is_scheduled, " \
			"r.schedule_frequency, r.schedule_id, " \
			"CASE WHEN r.status IN " \
			"('queued', 'running') THEN (SELECT f.error FROM " \
			"failed_jobs f WHERE f.job_id = r.job_id ORDER BY " \
			"f.failed_at DESC LIMIT 1) END"
/* clang-format on */
#define COL_SCHEDULED 16 /* is_scheduled, schedule_frequency, schedule_id */
#define COL_BURIED    19 /* failed_jobs' error of a run not finished */

/* POST: what the request asks, and the row made. */
struct run_create {
	const struct report_query *q;
	const struct principal	  *who;
	struct request		  *req;
	json_t			  *run; /* the row, owned */
	char			   id[UUID_STR_LEN];
};

static json_t *time_or_null(struct stmt *, int);
static json_t *text_or_null(struct stmt *, int);
static json_t *int_or_null(struct stmt *, int);
static json_t *run_row(struct stmt *);
static int     run_load(struct tx *, const char *, json_t **);
static int     body_parse(struct request *, struct report_query *);
static int     create_tx(struct tx *, void *);

static const char *const body_members[] = { "from", "to", "period", "format" };

static json_t *
time_or_null(struct stmt *st, int i)
{
	char ts[ISO_TIME_LEN];

	if (store_col_is_null(st, i))
		return (json_null());
	return (json_string(time_format_iso(store_col_int64(st, i), ts)));
}

static json_t *
text_or_null(struct stmt *st, int i)
{
	if (store_col_is_null(st, i))
		return (json_null());
	return (json_string(store_col_text(st, i)));
}

static json_t *
int_or_null(struct stmt *st, int i)
{
	if (store_col_is_null(st, i))
		return (json_null());
	return (json_integer((json_int_t)store_col_int64(st, i)));
}

/* One row of RUN_COLUMNS as the API shows it. */
static json_t *
run_row(struct stmt *st)
{
	const char *status = store_col_text(st, 6);
	json_t	   *code, *error;
	char	    from[ISO_TIME_LEN], to[ISO_TIME_LEN];
	char	    created[ISO_TIME_LEN];

	if (!store_col_is_null(st, COL_BURIED)) {
		status = "failed";
		code = json_string("JOB_FAILED");
		error = json_string(store_col_text(st, COL_BURIED));
	} else {
		code = store_col_is_null(st, 8)
		    ? json_null()
		    : json_string(store_col_text(st, 8));
		error = store_col_is_null(st, 9)
		    ? json_null()
		    : json_string(store_col_text(st, 9));
	}
	return (json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:o,s:o,s:o,s:o,"
			  "s:o,s:s,s:o,s:o,s:b,s:o,s:o}",
	    "id", store_col_text(st, 0), "report", store_col_text(st, 1),
	    "from", time_format_iso(store_col_int64(st, 2), from), "to",
	    time_format_iso(store_col_int64(st, 3), to), "period",
	    store_col_text(st, 4), "format", store_col_text(st, 5), "status",
	    status, "attempts", (json_int_t)store_col_int64(st, 7),
	    "error_code", code, "error", error, "result_bytes",
	    int_or_null(st, 10), "rows", int_or_null(st, 11), "requested_by",
	    store_col_is_null(st, 12) ? json_null()
				      : json_string(store_col_text(st, 12)),
	    "created_at", time_format_iso(store_col_int64(st, 13), created),
	    "started_at", time_or_null(st, 14), "finished_at",
	    time_or_null(st, 15), "is_scheduled",
	    store_col_int64(st, COL_SCHEDULED) != 0, "schedule_frequency",
	    text_or_null(st, COL_SCHEDULED + 1), "schedule_id",
	    text_or_null(st, COL_SCHEDULED + 2)));
}

/* Run id into *out; ERR_NOT_FOUND. */
static int
run_load(struct tx *tx, const char *id, json_t **out)
{
	struct stmt *st;
	int	     rc;

	*out = NULL;
	st = store_prepare(tx,
	    "SELECT " RUN_COLUMNS " FROM report_runs r "
	    "WHERE r.id = ?");
	store_bind_text(st, 1, id);
	if ((rc = store_step(st)) == STORE_ROW)
		rc = (*out = run_row(st)) != NULL ? OK : ERR_NOMEM;
	else if (rc == STORE_DONE)
		rc = ERR_NOT_FOUND;
	store_finalize(st);
	return (rc);
}

/*
 * {report, from, to, period?, format?}: as GET /v1/reports/{name} checks
 * its name and query. Answers and returns non-OK when it is not one.
 */
static int
body_parse(struct request *req, struct report_query *q)
{
	struct report_args a;
	const char	  *key, *v[NELEM(body_members)];
	json_t		  *val, *errs, *report;
	size_t		   i;

	memset(v, 0, sizeof(v));
	memset(&a, 0, sizeof(a));
	if (!json_is_object(req->json)) {
		http_problem(req, ERR_MALFORMED, NULL,
		    "The body must be a "
		    "JSON object.");
		return (ERR_MALFORMED);
	}
	report = json_object_get(req->json, "report");
	if (json_is_string(report) &&
	    !report_known(json_string_value(report))) {
		http_problem(req, ERR_NOT_FOUND, "REPORT_NOT_FOUND",
		    "No such "
		    "report: GET /v1/reports lists them.");
		return (ERR_NOT_FOUND);
	}
	if ((errs = json_array()) == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "Out of memory.");
		return (ERR_NOMEM);
	}
	if (report == NULL)
		resource_field_err(errs, "report", "required",
		    "the name of a report: "
		    "GET /v1/reports lists them");
	json_object_foreach(req->json, key, val) {
		if (strcmp(key, "report") == 0) {
			if (!json_is_string(val))
				resource_field_err(errs, key, "type",
				    "a report "
				    "name, a string");
			continue;
		}
		for (i = 0; i < NELEM(body_members); i++)
			if (strcmp(key, body_members[i]) == 0)
				break;
		if (i == NELEM(body_members))
			resource_field_err(errs, key, "unknown_field",
			    "the body "
			    "holds report, from, to, period and format only");
		else if (!json_is_string(val))
			resource_field_err(errs, key, "type", "a string");
		else
			v[i] = json_string_value(val);
	}
	if (json_array_size(errs) == 0)
		report_args_parse_in(v[0], v[1], v[2], v[3],
		    REPORT_LONDON(report_find(json_string_value(report))), &a,
		    errs);
	if (resource_errs_answer(req, errs, "The report run") != OK)
		return (ERR_INVALID);
	q->name = json_string_value(report);
	q->from = a.from;
	q->to = a.to;
	q->period = a.period;
	q->format = a.format;
	return (OK);
}

static int
create_tx(struct tx *tx, void *arg)
{
	struct run_create *c = arg;
	struct stmt	  *st;
	json_t		  *changes;
	char		   job_id[JOB_ID_LEN], payload[64];
	char		   from[ISO_TIME_LEN], to[ISO_TIME_LEN];
	int64_t		   now = time_now_ms(), pending = 0;
	int		   rc;

	json_decref(c->run);
	c->run = NULL;
	/* One count at a time, so concurrent requests cannot pass the cap. */
	if ((rc = store_xact_lock(tx, "report_runs.create")) != OK)
		return (rc);
	/* A run counts while its job is in the queue to make it. */
	st = store_prepare(tx,
	    "SELECT count(*) FROM report_runs r WHERE "
	    "r.status IN ('queued', 'running') AND EXISTS (SELECT 1 FROM "
	    "jobs j WHERE j.id = r.job_id)");
	if ((rc = store_step(st)) == STORE_ROW)
		pending = store_col_int64(st, 0);
	store_finalize(st);
	if (rc != STORE_ROW)
		return (rc == STORE_DONE ? ERR_DB : rc);
	if (pending >= RUNS_PENDING_MAX)
		return (ERR_RATE_LIMIT);
	uuid_v7(c->id);
	snprintf(payload, sizeof(payload), "{\"run_id\":\"%s\"}", c->id);
	if ((rc = jobs_enqueue(
		 tx, REPORT_RUN_KIND, payload, NULL, 0, job_id)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "INSERT INTO report_runs (id, report, "
	    "range_from, range_to, period, format, status, attempts, job_id, "
	    "requested_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, "
	    "'queued', 0, ?, ?, ?, ?)");
	store_bind_text(st, 1, c->id);
	store_bind_text(st, 2, c->q->name);
	store_bind_int64(st, 3, c->q->from);
	store_bind_int64(st, 4, c->q->to);
	store_bind_text(st, 5, report_periods[c->q->period]);
	store_bind_text(st, 6, report_formats[c->q->format]);
	store_bind_text(st, 7, job_id);
	store_bind_text(st, 8, c->who->user_id);
	store_bind_int64(st, 9, now);
	store_bind_int64(st, 10, now);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc == STORE_ROW ? ERR_DB : rc);
	changes = json_pack("{s:s,s:s,s:s,s:s,s:s}", "report", c->q->name,
	    "from", time_format_iso(c->q->from, from), "to",
	    time_format_iso(c->q->to, to), "period",
	    report_periods[c->q->period], "format",
	    report_formats[c->q->format]);
	if (changes == NULL)
		return (ERR_NOMEM);
	rc = audit_append(tx, c->who, c->req, "report_runs.create",
	    "report_runs", c->id, changes);
	json_decref(changes);
	if (rc != OK)
		return (rc);
	return (run_load(tx, c->id, &c->run));
}

/* POST /v1/report-runs */
void
report_runs_create(struct request *req)
{
	struct report_query q;
	struct run_create   c;
	struct principal   *who;
	char		   *loc;
	int		    rc;

	memset(&q, 0, sizeof(q));
	memset(&c, 0, sizeof(c));
	if (reports_caller_admin(req, &who) != OK || body_parse(req, &q) != OK)
		return;
	c.q = &q;
	c.who = who;
	c.req = req;
	rc = store_run(req->db, STORE_TX_WRITE, create_tx, &c);
	if (rc == ERR_RATE_LIMIT) {
		http_problem(req, rc, "RUNS_PENDING",
		    "%d report runs are "
		    "waiting already: try again when one is done.",
		    RUNS_PENDING_MAX);
		json_decref(c.run);
		return;
	}
	if (rc != OK) {
		json_decref(c.run);
		http_problem(req, rc, NULL,
		    "The report run could not be "
		    "queued.");
		return;
	}
	if ((loc = arena_printf(req->arena, "/v1/report-runs/%s", c.id)) !=
	    NULL)
		http_header_add(req, "Location", loc);
	http_json(req, 202, c.run);
}

/* GET /v1/report-runs: newest first, ?cursor= ?limit=. */
void
report_runs_list(struct request *req)
{
	struct resource_page pg;
	struct tx	    *tx = NULL;
	struct stmt	    *st;
	json_t		    *data = NULL, *row;
	int		     rc, step = STORE_DONE;

	if (reports_caller_admin(req, NULL) != OK ||
	    resource_page_query(req, RUNS_LIST_MAX, PAGE_ID_DESC, &pg) != OK)
		return;
	if ((rc = store_tx_begin(req->db, STORE_TX_READ, &tx)) != OK)
		goto out;
	st = store_prepare(tx,
	    pg.after[0] != '\0'
		? "SELECT " RUN_COLUMNS " FROM "
		  "report_runs r WHERE r.id < ? ORDER BY r.id DESC LIMIT ?"
		: "SELECT " RUN_COLUMNS
		  " FROM report_runs r ORDER BY r.id DESC "
		  "LIMIT ?");
	if (pg.after[0] != '\0')
		store_bind_text(st, 1, pg.after);
	store_bind_int64(st, pg.after[0] != '\0' ? 2 : 1, pg.limit + 1);
	data = json_array();
	while (data != NULL && (step = store_step(st)) == STORE_ROW &&
	    json_array_size(data) <= (size_t)pg.limit)
		if ((row = run_row(st)) == NULL ||
		    json_array_append_new(data, row) != 0) {
			rc = ERR_NOMEM;
			break;
		}
	if (rc == OK && data != NULL && step != STORE_ROW && step != STORE_DONE)
		rc = step;
	store_finalize(st);
out:
	if (rc != OK || data == NULL) {
		store_tx_rollback(tx);
		json_decref(data);
		http_problem(req, rc != OK ? rc : ERR_NOMEM, NULL,
		    "The report "
		    "runs cannot be read.");
		return;
	}
	http_json(req, 200, resource_page_json(&pg, data));
	store_tx_rollback(tx);
}

/* GET /v1/report-runs/{id} */
void
report_runs_get(struct request *req)
{
	struct tx  *tx;
	const char *id = http_param(req, "id");
	json_t	   *run = NULL;
	int	    rc;

	if (reports_caller_admin(req, NULL) != OK)
		return;
	if (id == NULL || !uuid_valid(id))
		rc = ERR_NOT_FOUND;
	else if ((rc = store_tx_begin(req->db, STORE_TX_READ, &tx)) == OK) {
		rc = run_load(tx, id, &run);
		store_tx_rollback(tx);
	}
	if (rc != OK) {
		http_problem(req, rc, NULL,
		    rc == ERR_NOT_FOUND ? "No such "
					  "report run."
					: "The report run cannot be read.");
		return;
	}
	http_json(req, 200, run);
}

/* GET /v1/report-runs/{id}/result */
void
report_runs_result(struct request *req)
{
	struct report_query q;
	struct tx	   *tx = NULL;
	struct stmt	   *st = NULL;
	const char	   *id = http_param(req, "id"), *status, *err;
	const void	   *blob;
	char		    name[REPORT_NAME_MAX + 1], cd[REPORT_CD_LEN];
	char		   *data = NULL, *v;
	size_t		    len = 0;
	int		    rc;

	memset(&q, 0, sizeof(q));
	if (reports_caller_admin(req, NULL) != OK)
		return;
	if (id == NULL || !uuid_valid(id)) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such report run.");
		return;
	}
	if ((rc = store_tx_begin(req->db, STORE_TX_READ, &tx)) != OK)
		goto out;
	st = store_prepare(tx,
	    "SELECT " RUN_COLUMNS ", r.result FROM "
	    "report_runs r WHERE r.id = ?");
	store_bind_text(st, 1, id);
	if ((rc = store_step(st)) != STORE_ROW) {
		rc = rc == STORE_DONE ? ERR_NOT_FOUND : rc;
		goto out;
	}
	rc = OK;
	status = store_col_text(st, 6);
	err = store_col_text(st, 9);
	if (!store_col_is_null(st, COL_BURIED)) {
		status = "failed";
		err = store_col_text(st, COL_BURIED);
	}
	if (strcmp(status, "queued") == 0 || strcmp(status, "running") == 0) {
		http_problem(req, ERR_CONFLICT, "RUN_NOT_READY",
		    "The run is "
		    "%s: GET /v1/report-runs/%s says when it is done.",
		    status, id);
		goto out;
	}
	if (strcmp(status, "succeeded") != 0) {
		http_problem(req, ERR_CONFLICT, "RUN_FAILED",
		    "The run failed: "
		    "%s",
		    err != NULL ? err : "no reason recorded");
		goto out;
	}
	blob = store_col_blob(st, COL_BURIED + 1, &len);
	if (strlcpy_cb(name, store_col_text(st, 1), sizeof(name)) >=
		sizeof(name) ||
	    (q.period = report_period_index(store_col_text(st, 4))) < 0 ||
	    (q.format = report_format_index(store_col_text(st, 5))) < 0) {
		rc = ERR_INTERNAL;
		goto out;
	}
	q.name = name;
	q.from = store_col_int64(st, 2);
	q.to = store_col_int64(st, 3);
	if ((data = malloc(len > 0 ? len : 1)) == NULL) {
		rc = ERR_NOMEM;
		goto out;
	}
	if (len > 0)
		memcpy(data, blob, len);
	report_disposition(&q, cd, sizeof(cd));
	if ((v = arena_strdup(req->arena, cd)) != NULL)
		http_header_add(req, "Content-Disposition", v);
	http_send_take(req, 200, report_content_type(q.format), data, len);
	data = NULL;
out:
	store_finalize(st);
	store_tx_rollback(tx);
	free(data);
	if (rc != OK && !req->responded)
		http_problem(req, rc, NULL,
		    rc == ERR_NOT_FOUND ? "No such "
					  "report run."
					: "The report run cannot be read.");
}
