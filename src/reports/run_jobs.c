/*
 * The jobs of report runs (report_runs.c has the routes):
 *
 *	report_runs.make	mark the run running, make the report
 *				(report_make) and keep its bytes, or record
 *				why not; a database error is retried by the
 *				queue, a report past its bounds fails at once
 *	report_runs.prune	hourly: runs created more than
 *				report_run_retention_days ago go, results and
 *				all
 *
 * An attempt begins on the run's attempts and ends only if they are
 * still its own and the run still running: a worker that overran
 * job_timeout_s, whose job another took since, changes nothing. The end
 * of a scheduled run (succeeded, or failed for good) is told to its
 * schedule's recipients in the transaction that records it
 * (schedules.c: report_run_tell), so once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "reports/reports_int.h"
#include "store/jobs.h"
#include "store/store.h"

#define RUNS_PRUNE_BATCH 500
#define RUN_ERR_MAX	 512 /* bytes of a run's error */

/* The job: the run's parameters, and how it ended. */
struct run_job {
	const char *id;
	const char *job_id;
	char	    report[REPORT_NAME_MAX + 1];
	int64_t	    from, to;
	int	    period, format;
	int	    found, done;
	int	    taken;   /* another worker began it first */
	int64_t	    attempt; /* the run's attempts once begun */
	int	    stale;   /* the end changed nothing */
	/* a scheduled run's: its schedule (it may be gone) */
	char schedule_id[UUID_STR_LEN];
	char frequency[8];
	/* end */
	const char		*status; /* succeeded, failed or queued */
	const char		*error_code;
	char			 error[RUN_ERR_MAX];
	const struct report_out *out;
};

struct run_prune {
	int64_t before;
	int64_t deleted; /* this batch */
};

static int job_begin_tx(struct tx *, void *);
static int job_end_tx(struct tx *, void *);
static int prune_tx(struct tx *, void *);

/* Read the run's parameters and mark it running (unless it is done). */
static int
job_begin_tx(struct tx *tx, void *arg)
{
	struct run_job *r = arg;
	struct stmt    *st;
	const char     *status;
	int64_t		now = time_now_ms();
	int		rc;

	r->found = r->done = r->taken = 0;
	st = store_prepare(tx,
	    "SELECT report, range_from, range_to, period, "
	    "format, status, attempts, is_scheduled, schedule_id, "
	    "schedule_frequency FROM report_runs WHERE id = ?");
	store_bind_text(st, 1, r->id);
	if ((rc = store_step(st)) == STORE_ROW) {
		r->found = 1;
		strlcpy_cb(r->report, store_col_text(st, 0), sizeof(r->report));
		r->from = store_col_int64(st, 1);
		r->to = store_col_int64(st, 2);
		r->period = report_period_index(store_col_text(st, 3));
		r->format = report_format_index(store_col_text(st, 4));
		status = store_col_text(st, 5);
		r->done = strcmp(status, "succeeded") == 0;
		r->attempt = store_col_int64(st, 6) + 1;
		r->schedule_id[0] = r->frequency[0] = '\0';
		if (store_col_int64(st, 7) != 0 && !store_col_is_null(st, 8)) {
			strlcpy_cb(r->schedule_id, store_col_text(st, 8),
			    sizeof(r->schedule_id));
			strlcpy_cb(r->frequency, store_col_text(st, 9),
			    sizeof(r->frequency));
		}
	}
	store_finalize(st);
	if (rc != STORE_ROW)
		return (rc == STORE_DONE ? OK : rc);
	if (r->done)
		return (OK);
	/* Fenced on the attempts read: of two workers, one begins. */
	st = store_prepare(tx,
	    "UPDATE report_runs SET status = 'running', "
	    "attempts = ?, job_id = ?, started_at = ?, updated_at = ? "
	    "WHERE id = ? AND attempts = ? AND status <> 'succeeded'");
	store_bind_int64(st, 1, r->attempt);
	store_bind_text(st, 2, r->job_id);
	store_bind_int64(st, 3, now);
	store_bind_int64(st, 4, now);
	store_bind_text(st, 5, r->id);
	store_bind_int64(st, 6, r->attempt - 1);
	rc = store_step(st);
	r->taken = store_changes(st) != 1;
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc == STORE_ROW ? ERR_DB : rc);
}

/*
 * Record how the attempt ended, if the run is still the one this attempt
 * began: nothing when the run is gone, or when another worker took it
 * since (this one overran job_timeout_s) and began or ended it again.
 */
static int
job_end_tx(struct tx *tx, void *arg)
{
	struct run_job	     *r = arg;
	struct report_run_end e;
	struct stmt	     *st;
	int64_t		      now = time_now_ms();
	int		      rc, ok = strcmp(r->status, "succeeded") == 0;

	if (strcmp(r->status, "queued") == 0) {
		st = store_prepare(tx,
		    "UPDATE report_runs SET status = "
		    "'queued', error_code = ?, error = ?, updated_at = ? "
		    "WHERE id = ? AND attempts = ? AND status = 'running'");
		store_bind_text(st, 1, r->error_code);
		store_bind_text(st, 2, r->error);
		store_bind_int64(st, 3, now);
		store_bind_text(st, 4, r->id);
		store_bind_int64(st, 5, r->attempt);
	} else {
		st = store_prepare(tx,
		    "UPDATE report_runs SET status = ?, "
		    "error_code = ?, error = ?, result = ?, result_bytes = ?, "
		    "result_rows = ?, finished_at = ?, updated_at = ? "
		    "WHERE id = ? AND attempts = ? AND status = 'running'");
		store_bind_text(st, 1, r->status);
		store_bind_text(st, 2, ok ? NULL : r->error_code);
		store_bind_text(st, 3, ok ? NULL : r->error);
		if (ok) {
			store_bind_blob(st, 4, r->out->data, r->out->len);
			store_bind_int64(st, 5, (int64_t)r->out->len);
			store_bind_int64(st, 6, (int64_t)r->out->rows);
		} else {
			store_bind_null(st, 4);
			store_bind_null(st, 5);
			store_bind_null(st, 6);
		}
		store_bind_int64(st, 7, now);
		store_bind_int64(st, 8, now);
		store_bind_text(st, 9, r->id);
		store_bind_int64(st, 10, r->attempt);
	}
	rc = store_step(st);
	r->stale = store_changes(st) != 1;
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc == STORE_ROW ? ERR_DB : rc);
	if (r->stale || r->schedule_id[0] == '\0' ||
	    strcmp(r->status, "queued") == 0)
		return (OK);
	memset(&e, 0, sizeof(e));
	e.run_id = r->id;
	e.report = r->report;
	e.schedule_id = r->schedule_id;
	e.frequency = r->frequency;
	e.from = r->from;
	e.to = r->to;
	e.format = r->format;
	e.succeeded = ok;
	e.rows = ok ? r->out->rows : 0;
	e.error_code = r->error_code;
	return (report_run_tell(tx, &e));
}

int
report_runs_make_job(struct store *db, const struct job *job, char *err)
{
	struct report_query q;
	struct report_out   o;
	struct run_job	    r;
	json_t		   *pl;
	json_error_t	    jerr;
	const char	   *id = NULL;
	int		    rc, rc2, retry = 0;

	memset(&r, 0, sizeof(r));
	memset(&o, 0, sizeof(o));
	if ((pl = json_loads(job->payload, 0, &jerr)) == NULL ||
	    json_unpack(pl, "{s:s}", "run_id", &id) != 0 || !uuid_valid(id)) {
		snprintf(
		    err, JOB_ERR_LEN, "%s: malformed payload", REPORT_RUN_KIND);
		if (job->give_up != NULL)
			*job->give_up = 1;
		json_decref(pl);
		return (ERR_INVALID);
	}
	r.id = id;
	r.job_id = job->id;
	if ((rc = store_run(db, STORE_TX_WRITE, job_begin_tx, &r)) != OK) {
		snprintf(err, JOB_ERR_LEN, "%s: the run could not be read: %s",
		    REPORT_RUN_KIND, err_code(rc));
		goto out;
	}
	if (!r.found || r.done || r.taken) {
		log_info("event=report_run id=%s status=%s", id,
		    !r.found	 ? "gone"
			: r.done ? "made_already"
				 : "taken");
		goto out;
	}
	memset(&q, 0, sizeof(q));
	q.name = r.report;
	q.from = r.from;
	q.to = r.to;
	q.period = r.period;
	q.format = r.format;
	r.out = &o;
	if (r.period < 0 || r.format < 0)
		rc = ERR_INTERNAL; /* the CHECK constraints forbid it */
	else
		rc = report_make(
		    db, &q, (size_t)config.report_run_max_bytes, &o);
	if (rc == OK)
		r.status = "succeeded";
	else if (o.too_many_rows) {
		r.status = "failed";
		r.error_code = "REPORT_TOO_LARGE";
		snprintf(r.error, sizeof(r.error),
		    "the report has more than "
		    "%lld rows (report_max_rows): narrow the range or choose a "
		    "longer period",
		    (long long)config.report_max_rows);
	} else if (rc == ERR_TOO_LARGE) {
		r.status = "failed";
		r.error_code = "RESULT_TOO_LARGE";
		snprintf(r.error, sizeof(r.error),
		    "the result is over %lld "
		    "bytes (report_run_max_bytes): narrow the range or choose "
		    "a "
		    "longer period",
		    (long long)config.report_run_max_bytes);
	} else if (rc == ERR_NOT_FOUND || rc == ERR_INTERNAL) {
		r.status = "failed";
		r.error_code = "REPORT_FAILED";
		snprintf(r.error, sizeof(r.error),
		    "the report could not be "
		    "made: %s",
		    err_code(rc));
	} else {
		/* The database: the queue retries with backoff. */
		retry = 1;
		r.status =
		    job->attempt >= job->max_attempts ? "failed" : "queued";
		r.error_code = "DATABASE_ERROR";
		snprintf(r.error, sizeof(r.error),
		    "attempt %d of %d: the "
		    "report could not be read: %s",
		    job->attempt, job->max_attempts, err_code(rc));
	}
	if ((rc2 = store_run(db, STORE_TX_WRITE, job_end_tx, &r)) != OK &&
	    !retry) {
		/* Made or failed, but not recorded: run again. */
		rc = rc2;
		snprintf(err, JOB_ERR_LEN,
		    "%s: the run could not be updated: "
		    "%s",
		    REPORT_RUN_KIND, err_code(rc2));
		goto out;
	}
	if (rc2 == OK && r.stale) {
		/* Another worker has the run: its outcome stands. */
		log_warn("event=report_run id=%s report=%s status=stale "
			 "attempt=%lld outcome=%s",
		    id, r.report, (long long)r.attempt, r.status);
		rc = OK;
		goto out;
	}
	if (retry) {
		snprintf(
		    err, JOB_ERR_LEN, "%s: %.400s", REPORT_RUN_KIND, r.error);
		goto out;
	}
	log_info("event=report_run id=%s report=%s status=%s code=%s bytes=%zu "
		 "rows=%zu",
	    id, r.report, r.status, r.error_code != NULL ? r.error_code : "-",
	    o.len, o.rows);
	rc = OK;
out:
	free(o.data);
	json_decref(pl);
	return (rc);
}

/* Retention */

static int
prune_tx(struct tx *tx, void *arg)
{
	struct run_prune *p = arg;
	struct stmt	 *st;
	int		  rc;

	st = store_prepare(tx,
	    "DELETE FROM report_runs WHERE id IN (SELECT "
	    "id FROM report_runs WHERE created_at < ? ORDER BY created_at "
	    "LIMIT ?)");
	store_bind_int64(st, 1, p->before);
	store_bind_int64(st, 2, RUNS_PRUNE_BATCH);
	rc = store_step(st);
	p->deleted = store_changes(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc == STORE_ROW ? ERR_DB : rc);
}

/* The report_runs.prune job: runs past report_run_retention_days go. */
int
report_runs_prune_job(struct store *db, const struct job *job, char *err)
{
	struct run_prune p;
	int64_t		 n = 0;
	int		 rc;

	(void)job;
	memset(&p, 0, sizeof(p));
	p.before = time_now_ms() -
	    config.report_run_retention_days * 24LL * 3600 * 1000;
	do {
		if ((rc = store_run(db, STORE_TX_WRITE, prune_tx, &p)) != OK)
			break;
		n += p.deleted;
	} while (p.deleted == RUNS_PRUNE_BATCH);
	if (n > 0)
		log_info("event=report_runs_pruned deleted=%lld "
			 "retention_days=%lld",
		    (long long)n, (long long)config.report_run_retention_days);
	if (rc != OK)
		snprintf(
		    err, JOB_ERR_LEN, "report_runs.prune: %s", err_code(rc));
	return (rc);
}
