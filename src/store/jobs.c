/*
 * The job queue (see jobs.h). A claim is one short write transaction that
 * marks a due job 'running' and bumps its attempts; the handler then runs
 * outside any transaction, and a second short transaction deletes the job,
 * puts it back with a backoff, or moves it to failed_jobs. Every change
 * after the claim is fenced on (id, locked_by, attempts), so a worker that
 * overran job_timeout_s and lost its job to another cannot touch it.
 * Recurring jobs (schedules) are schedules.c.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "store/jobs.h"
#include "store/store.h"
#include "store/store_int.h"

#define JOBS_MAX_KINDS	 128
#define JOBS_MAX_PAYLOAD (1024 * 1024)
#define JOBS_MAX_QUEUE	 64

/* A claimed job; strings are malloc'd copies. */
struct claim {
	char	    id[JOB_ID_LEN];
	char	   *queue, *kind, *payload, *last_error;
	int	    attempts, max_attempts;
	int	    found, expired;
	const char *worker;
};

struct finish {
	struct claim *cj;
	int	      ok;
	const char   *err;
};

struct retry {
	const char *failed_id;
	char	   *job_id;
};

struct runner_thread {
	struct job_runner *r;
	pthread_t	   tid;
	char		   name[128];
};

struct job_runner {
	struct store	     *db;
	pthread_mutex_t	      mu;
	pthread_cond_t	      cv;
	int		      stop;
	int		      n;
	struct runner_thread *threads;
};

static int job_insert(struct tx *, const char *, const char *, const char *,
    int64_t, int, char *);
static int jobs_claim_fn(struct tx *, void *);
static int jobs_bury(
    struct tx *, const struct claim *, const char *, const char *);
static int   jobs_finish_fn(struct tx *, void *);
static void  claim_free(struct claim *);
static char *col_dup(struct stmt *, int);
static int   jobs_retry_fn(struct tx *, void *);
static int   jobs_table_there(struct store *, int *);
static void *jobs_runner_main(void *);

static pthread_mutex_t	      jobs_mu = PTHREAD_MUTEX_INITIALIZER;
static const struct job_kind *jobs_kinds[JOBS_MAX_KINDS];
static size_t		      jobs_nkinds;
static _Atomic uint64_t	      jobs_succeeded;
static _Atomic uint64_t	      jobs_failures;
/* By slot of jobs_kinds, the last one for kinds not registered here. */
static struct {
	_Atomic uint64_t succeeded, retried, failed;
} jobs_by_kind[JOBS_MAX_KINDS + 1];

static size_t kind_slot(const char *);

int
jobs_register(const struct job_kind *k)
{
	int rc = OK;

	if (k == NULL || k->name == NULL || k->name[0] == '\0' ||
	    k->run == NULL)
		return (ERR_INVALID);
	pthread_mutex_lock(&jobs_mu);
	if (jobs_kind(k->name) != NULL)
		rc = ERR_CONFLICT;
	else if (jobs_nkinds == JOBS_MAX_KINDS)
		rc = ERR_TOO_LARGE;
	else
		jobs_kinds[jobs_nkinds++] = k;
	pthread_mutex_unlock(&jobs_mu);
	return (rc);
}

const struct job_kind *
jobs_kind(const char *name)
{
	size_t i;

	if (name == NULL)
		return (NULL);
	for (i = 0; i < jobs_nkinds; i++)
		if (strcmp(jobs_kinds[i]->name, name) == 0)
			return (jobs_kinds[i]);
	return (NULL);
}

/* The slot of kind name in jobs_by_kind. */
static size_t
kind_slot(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < jobs_nkinds; i++)
		if (strcmp(jobs_kinds[i]->name, name) == 0)
			return (i);
	return (JOBS_MAX_KINDS);
}

int
jobs_kind_stats(size_t i, struct jobs_kind_stats *out)
{
	size_t n = jobs_nkinds, slot;

	if (i > n)
		return (ERR_NOT_FOUND);
	slot = i < n ? i : JOBS_MAX_KINDS;
	out->kind = i < n ? jobs_kinds[i]->name : "unknown";
	out->succeeded = atomic_load(&jobs_by_kind[slot].succeeded);
	out->retried = atomic_load(&jobs_by_kind[slot].retried);
	out->failed = atomic_load(&jobs_by_kind[slot].failed);
	return (OK);
}

int
jobs_enqueue(struct tx *tx, const char *kind, const char *payload,
    const char *queue, int64_t run_at_ms, char *id_out)
{
	const struct job_kind *k;
	json_t		      *j;
	json_error_t	       jerr;
	size_t		       len;

	if ((k = jobs_kind(kind)) == NULL)
		return (ERR_NOT_FOUND);
	if (payload == NULL)
		payload = "{}";
	if ((len = strnlen(payload, JOBS_MAX_PAYLOAD + 1)) > JOBS_MAX_PAYLOAD)
		return (ERR_TOO_LARGE);
	if ((j = json_loadb(payload, len, JSON_DECODE_ANY, &jerr)) == NULL)
		return (ERR_INVALID);
	json_decref(j);
	return (job_insert(tx, kind, payload, queue, run_at_ms,
	    k->max_attempts > 0 ? k->max_attempts
				: (int)config.job_max_attempts,
	    id_out));
}

static int
job_insert(struct tx *tx, const char *kind, const char *payload,
    const char *queue, int64_t run_at_ms, int max_attempts, char *id_out)
{
	struct stmt *st;
	char	     id[JOB_ID_LEN];
	int64_t	     now = time_now_ms();
	int	     rc;

	if (queue == NULL)
		queue = "default";
	if (queue[0] == '\0' ||
	    strnlen(queue, JOBS_MAX_QUEUE + 1) > JOBS_MAX_QUEUE)
		return (ERR_INVALID);
	if (max_attempts < 1)
		max_attempts = 1;
	uuid_v7(id);
	st = store_prepare(tx,
	    "INSERT INTO jobs (id, queue, kind, payload, "
	    "status, attempts, max_attempts, run_at, created_at, updated_at) "
	    "VALUES (?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?)");
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, queue);
	store_bind_text(st, 3, kind);
	store_bind_text(st, 4, payload);
	store_bind_int64(st, 5, max_attempts);
	store_bind_int64(st, 6, run_at_ms > 0 ? run_at_ms : now);
	store_bind_int64(st, 7, now);
	store_bind_int64(st, 8, now);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc == STORE_ROW ? ERR_DB : rc);
	if (id_out != NULL)
		memcpy(id_out, id, JOB_ID_LEN);
	return (OK);
}

static char *
col_dup(struct stmt *st, int i)
{
	const char *s = store_col_text(st, i);

	return (strdup(s != NULL ? s : ""));
}

static void
claim_free(struct claim *cj)
{
	free(cj->queue);
	free(cj->kind);
	free(cj->payload);
	free(cj->last_error);
	cj->queue = cj->kind = cj->payload = cj->last_error = NULL;
}

/*
 * Pick the oldest due job, or a running one whose worker went quiet for
 * longer than job_timeout_s, and mark it ours. A stale job that has used
 * its last attempt is buried instead of being run again.
 */
static int
jobs_claim_fn(struct tx *tx, void *arg)
{
	struct claim *cj = arg;
	struct stmt  *st;
	int64_t	      now = time_now_ms();
	int	      rc;

	claim_free(cj);
	cj->found = cj->expired = 0;
	st = store_prepare(tx,
	    store_tx_dialect(tx) == STORE_POSTGRES
		? "SELECT id, queue, kind, payload, attempts, max_attempts, "
		  "last_error "
		  "FROM jobs WHERE (status = 'queued' AND run_at <= ?) OR "
		  "(status = 'running' AND locked_at <= ?) ORDER BY run_at "
		  "LIMIT 1 "
		  "FOR UPDATE SKIP LOCKED"
		: "SELECT id, queue, kind, payload, attempts, max_attempts, "
		  "last_error "
		  "FROM jobs WHERE (status = 'queued' AND run_at <= ?) OR "
		  "(status = 'running' AND locked_at <= ?) ORDER BY run_at "
		  "LIMIT 1");
	store_bind_int64(st, 1, now);
	store_bind_int64(st, 2, now - config.job_timeout_s * 1000);
	rc = store_step(st);
	if (rc == STORE_ROW) {
		strlcpy_cb(cj->id,
		    store_col_text(st, 0) ? store_col_text(st, 0) : "",
		    sizeof(cj->id));
		cj->queue = col_dup(st, 1);
		cj->kind = col_dup(st, 2);
		cj->payload = col_dup(st, 3);
		cj->attempts = (int)store_col_int64(st, 4);
		cj->max_attempts = (int)store_col_int64(st, 5);
		cj->last_error = col_dup(st, 6);
	}
	store_finalize(st);
	if (rc == STORE_DONE)
		return (OK);
	if (rc != STORE_ROW)
		return (rc);
	if (cj->queue == NULL || cj->kind == NULL || cj->payload == NULL ||
	    cj->last_error == NULL)
		return (ERR_NOMEM);
	cj->found = 1;
	if (cj->attempts >= cj->max_attempts) {
		char err[JOB_ERR_LEN];

		snprintf(err, sizeof(err), "timed out after %d attempts%s%s",
		    cj->attempts, cj->last_error[0] ? "; last error: " : "",
		    cj->last_error);
		cj->expired = 1;
		return (jobs_bury(tx, cj, NULL, err));
	}
	cj->attempts++;
	st = store_prepare(tx,
	    "UPDATE jobs SET status = 'running', "
	    "attempts = ?, locked_by = ?, locked_at = ?, updated_at = ? "
	    "WHERE id = ?");
	store_bind_int64(st, 1, cj->attempts);
	store_bind_text(st, 2, cj->worker);
	store_bind_int64(st, 3, now);
	store_bind_int64(st, 4, now);
	store_bind_text(st, 5, cj->id);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc == STORE_ROW ? ERR_DB : rc);
}

/* Move the job to failed_jobs if it is still the one we claimed. */
static int
jobs_bury(
    struct tx *tx, const struct claim *cj, const char *worker, const char *err)
{
	struct stmt *st;
	char	     id[UUID_STR_LEN];
	int64_t	     changed;
	int	     rc;

	st = store_prepare(tx,
	    worker != NULL ? "DELETE FROM jobs WHERE id = ? AND attempts = ? "
			     "AND locked_by = ?"
			   : "DELETE FROM jobs WHERE id = ? AND attempts = ?");
	store_bind_text(st, 1, cj->id);
	store_bind_int64(st, 2, cj->attempts);
	if (worker != NULL)
		store_bind_text(st, 3, worker);
	rc = store_step(st);
	changed = store_changes(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc == STORE_ROW ? ERR_DB : rc);
	if (changed != 1)
		return (OK); /* someone else has it now */
	st = store_prepare(tx,
	    "INSERT INTO failed_jobs (id, job_id, queue, "
	    "kind, payload, error, attempts, failed_at) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
	store_bind_text(st, 1, uuid_v7(id));
	store_bind_text(st, 2, cj->id);
	store_bind_text(st, 3, cj->queue);
	store_bind_text(st, 4, cj->kind);
	store_bind_text(st, 5, cj->payload);
	store_bind_text(st, 6, err);
	store_bind_int64(st, 7, cj->attempts);
	store_bind_int64(st, 8, time_now_ms());
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc == STORE_ROW ? ERR_DB : rc);
}

static int
jobs_finish_fn(struct tx *tx, void *arg)
{
	struct finish *f = arg;
	struct claim  *cj = f->cj;
	struct stmt   *st;
	int64_t	       now = time_now_ms();
	int	       rc;

	if (!f->ok && cj->attempts >= cj->max_attempts)
		return (jobs_bury(tx, cj, cj->worker, f->err));
	if (f->ok) {
		st = store_prepare(tx,
		    "DELETE FROM jobs "
		    "WHERE id = ? AND attempts = ? AND locked_by = ?");
		store_bind_text(st, 1, cj->id);
		store_bind_int64(st, 2, cj->attempts);
		store_bind_text(st, 3, cj->worker);
	} else {
		st = store_prepare(tx,
		    "UPDATE jobs SET status = 'queued', "
		    "run_at = ?, last_error = ?, locked_by = NULL, "
		    "locked_at = NULL, updated_at = ? "
		    "WHERE id = ? AND attempts = ? AND locked_by = ?");
		store_bind_int64(st, 1,
		    now +
			jobs_backoff_ms(cj->attempts,
			    config.job_backoff_base_ms,
			    config.job_backoff_max_ms));
		store_bind_text(st, 2, f->err);
		store_bind_int64(st, 3, now);
		store_bind_text(st, 4, cj->id);
		store_bind_int64(st, 5, cj->attempts);
		store_bind_text(st, 6, cj->worker);
	}
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc == STORE_ROW ? ERR_DB : rc);
}

int
jobs_run_once(struct store *db, const char *worker, int *ran)
{
	const struct job_kind *k;
	struct claim	       cj;
	struct finish	       f;
	struct job	       job;
	char	err[JOB_ERR_LEN], qkind[128], qerr[JOB_ERR_LEN + 8];
	int64_t t0, dur_ms;
	int	rc, hrc, give_up = 0;

	*ran = 0;
	if ((rc = jobs_tick(db)) != OK)
		log_warn("event=job_schedules_failed status=%s", err_code(rc));
	memset(&cj, 0, sizeof(cj));
	cj.worker = worker != NULL ? worker : "worker";
	if ((rc = store_run(db, STORE_TX_WRITE, jobs_claim_fn, &cj)) != OK)
		goto out;
	if (!cj.found)
		goto out;
	*ran = 1;
	log_quote(qkind, sizeof(qkind), cj.kind);
	if (cj.expired) {
		atomic_fetch_add(&jobs_failures, 1);
		atomic_fetch_add(&jobs_by_kind[kind_slot(cj.kind)].failed, 1);
		log_warn("event=job id=%s kind=%s attempt=%d status=timed_out",
		    cj.id, qkind, cj.attempts);
		goto out;
	}

	memset(&job, 0, sizeof(job));
	memcpy(job.id, cj.id, sizeof(job.id));
	job.queue = cj.queue;
	job.kind = cj.kind;
	job.payload = cj.payload;
	job.attempt = cj.attempts;
	job.max_attempts = cj.max_attempts;
	job.give_up = &give_up;
	memset(err, 0, sizeof(err));
	t0 = time_mono_ns();
	if ((k = jobs_kind(cj.kind)) == NULL) {
		hrc = ERR_NOT_FOUND;
		snprintf(err, sizeof(err),
		    "job kind \"%.100s\" is not "
		    "registered in this process",
		    cj.kind);
	} else if ((hrc = k->run(db, &job, err)) != OK && err[0] == '\0')
		snprintf(err, sizeof(err), "handler failed: %s", err_code(hrc));
	err[sizeof(err) - 1] = '\0';
	dur_ms = (time_mono_ns() - t0) / 1000000;
	if (hrc != OK && give_up)
		cj.max_attempts = cj.attempts; /* no retry: buried below */

	f.cj = &cj;
	f.ok = hrc == OK;
	f.err = err;
	rc = store_run(db, STORE_TX_WRITE, jobs_finish_fn, &f);
	if (hrc == OK) {
		atomic_fetch_add(&jobs_succeeded, 1);
		atomic_fetch_add(
		    &jobs_by_kind[kind_slot(cj.kind)].succeeded, 1);
		log_info("event=job id=%s kind=%s attempt=%d status=ok "
			 "dur_ms=%lld",
		    cj.id, qkind, cj.attempts, (long long)dur_ms);
	} else {
		atomic_fetch_add(&jobs_failures, 1);
		if (cj.attempts >= cj.max_attempts)
			atomic_fetch_add(
			    &jobs_by_kind[kind_slot(cj.kind)].failed, 1);
		else
			atomic_fetch_add(
			    &jobs_by_kind[kind_slot(cj.kind)].retried, 1);
		log_quote(qerr, sizeof(qerr), err);
		log_warn("event=job id=%s kind=%s attempt=%d status=%s "
			 "dur_ms=%lld error=%s",
		    cj.id, qkind, cj.attempts,
		    cj.attempts >= cj.max_attempts ? "failed" : "retry",
		    (long long)dur_ms, qerr);
	}
	if (rc != OK)
		log_error("event=job_finish_failed id=%s status=%s", cj.id,
		    err_code(rc));
out:
	claim_free(&cj);
	return (rc);
}

int
jobs_runner_start(struct store *db, int threads, struct job_runner **out)
{
	struct job_runner *r;
	pthread_condattr_t ca;
	char		   host[64];
	int		   i, rc = ERR_NOMEM;

	*out = NULL;
	if (threads < 1 || threads > 256)
		return (ERR_INVALID);
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return (ERR_NOMEM);
	if ((r->threads = calloc((size_t)threads, sizeof(*r->threads))) ==
	    NULL) {
		free(r);
		return (ERR_NOMEM);
	}
	r->db = db;
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (gethostname(host, sizeof(host)) != 0)
		strlcpy_cb(host, "host", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	for (i = 0; i < threads; i++) {
		r->threads[i].r = r;
		snprintf(r->threads[i].name, sizeof(r->threads[i].name),
		    "%s:%ld:%d", host, (long)getpid(), i);
		if (pthread_create(&r->threads[i].tid, NULL, jobs_runner_main,
			&r->threads[i]) != 0) {
			rc = ERR_INTERNAL;
			goto fail;
		}
		r->n++;
	}
	*out = r;
	log_info("event=job_runner_start threads=%d", threads);
	return (OK);
fail:
	jobs_runner_stop(r);
	return (rc);
}

#define JOBS_SCHEMA_WAIT_MS 3000 /* between looks for the jobs table */

/* *there: 1 when the database has the jobs table (migrated). */
static int
jobs_table_there(struct store *db, int *there)
{
	struct tx *tx;
	int	   rc;

	*there = 0;
	if ((rc = store_tx_begin(db, STORE_TX_READ, &tx)) != OK)
		return (rc);
	rc = store_table_exists(tx, "jobs", there);
	store_tx_rollback(tx);
	return (rc);
}

static void *
jobs_runner_main(void *arg)
{
	struct runner_thread *t = arg;
	struct job_runner    *r = t->r;
	struct timespec	      ts;
	int64_t		      wait_ms;
	int		      ran, stop, there = 0;

	for (;;) {
		pthread_mutex_lock(&r->mu);
		stop = r->stop;
		pthread_mutex_unlock(&r->mu);
		if (stop)
			break;
		wait_ms = config.job_poll_ms;
		/* Migrations pending (serve warned once): no queue to read
		 * yet. Asked of the catalog, so nothing fails and nothing is
		 * logged but at debug level, every few seconds, till then. */
		if (!there &&
		    (jobs_table_there(r->db, &there) != OK || !there)) {
			log_debug("event=job_runner_waiting msg=\"no jobs "
				  "table: migrations pending\"");
			wait_ms = JOBS_SCHEMA_WAIT_MS;
		} else if (jobs_run_once(r->db, t->name, &ran) == OK && ran)
			continue;
		time_deadline(&ts, CLOCK_MONOTONIC, wait_ms);
		pthread_mutex_lock(&r->mu);
		if (!r->stop)
			pthread_cond_timedwait(&r->cv, &r->mu, &ts);
		pthread_mutex_unlock(&r->mu);
	}
	return (NULL);
}

void
jobs_runner_stop(struct job_runner *r)
{
	int i;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = 1;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	for (i = 0; i < r->n; i++)
		pthread_join(r->threads[i].tid, NULL);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r->threads);
	free(r);
}

static int
jobs_retry_fn(struct tx *tx, void *arg)
{
	struct retry *rt = arg;

	return (jobs_retry_failed_tx(tx, rt->failed_id, rt->job_id));
}

/*
 * The failed row is claimed first, by deleting it: of two retries at
 * once (a double click, two admins) the second deletes nothing, answers
 * ERR_NOT_FOUND and queues nothing, where reading it first queued the
 * job twice (a mail sent twice). On PostgreSQL the second DELETE waits
 * for the first's commit, then finds the row gone; on SQLite the writer
 * lock runs them one after the other.
 */
int
jobs_retry_failed_tx(struct tx *tx, const char *failed_id, char *job_id_out)
{
	const struct job_kind *k;
	struct stmt	      *st;
	char		      *queue = NULL, *kind = NULL, *payload = NULL;
	int		       rc;

	if (failed_id == NULL || !uuid_valid(failed_id))
		return (ERR_NOT_FOUND);
	st = store_prepare(tx,
	    "DELETE FROM failed_jobs WHERE id = ? "
	    "RETURNING queue, kind, payload");
	store_bind_text(st, 1, failed_id);
	rc = store_step(st);
	if (rc == STORE_ROW) {
		queue = col_dup(st, 0);
		kind = col_dup(st, 1);
		payload = col_dup(st, 2);
		/* One row at most (id is the key): the statement ends. */
		if (store_step(st) != STORE_DONE)
			rc = ERR_DB;
	}
	store_finalize(st);
	if (rc != STORE_ROW) {
		rc = rc == STORE_DONE ? ERR_NOT_FOUND : rc;
		goto out;
	}
	rc = ERR_NOMEM;
	if (queue == NULL || kind == NULL || payload == NULL)
		goto out;
	k = jobs_kind(kind);
	rc = job_insert(tx, kind, payload, queue, 0,
	    k != NULL && k->max_attempts > 0 ? k->max_attempts
					     : (int)config.job_max_attempts,
	    job_id_out);
out:
	free(queue);
	free(kind);
	free(payload);
	return (rc);
}

int
jobs_retry_failed(struct store *db, const char *failed_id, char *job_id_out)
{
	struct retry rt;
	char	     id[JOB_ID_LEN];
	int	     rc;

	if (failed_id == NULL || !uuid_valid(failed_id))
		return (ERR_NOT_FOUND);
	rt.failed_id = failed_id;
	rt.job_id = id;
	if ((rc = store_run(db, STORE_TX_WRITE, jobs_retry_fn, &rt)) != OK)
		return (rc);
	if (job_id_out != NULL)
		memcpy(job_id_out, id, JOB_ID_LEN);
	log_info("event=job_retry failed_id=%s id=%s", failed_id, id);
	return (OK);
}

int
jobs_stats(struct store *db, struct jobs_stats *out)
{
	struct tx   *tx;
	struct stmt *st;
	int	     rc;

	memset(out, 0, sizeof(*out));
	out->succeeded_total = atomic_load(&jobs_succeeded);
	out->failures_total = atomic_load(&jobs_failures);
	if ((rc = store_tx_begin(db, STORE_TX_READ, &tx)) != OK)
		return (rc);
	out->oldest_due_ms = -1;
	st = store_prepare(tx,
	    "SELECT "
	    "(SELECT count(*) FROM jobs WHERE status = 'queued'), "
	    "(SELECT count(*) FROM jobs WHERE status = 'running'), "
	    "(SELECT count(*) FROM failed_jobs), "
	    "(SELECT min(run_at) FROM jobs WHERE status = 'queued' AND "
	    "run_at <= ?)");
	store_bind_int64(st, 1, time_now_ms());
	if ((rc = store_step(st)) == STORE_ROW) {
		out->queued = store_col_int64(st, 0);
		out->running = store_col_int64(st, 1);
		out->failed = store_col_int64(st, 2);
		if (!store_col_is_null(st, 3))
			out->oldest_due_ms = store_col_int64(st, 3);
		rc = OK;
	} else if (rc == STORE_DONE)
		rc = ERR_DB;
	store_finalize(st);
	store_tx_rollback(tx);
	return (rc);
}

int64_t
jobs_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms)
{
	int64_t	 d, lo;
	uint64_t span, r;
	int	 i;

	if (base_ms <= 0 || max_ms <= 0)
		return (0);
	if (attempt < 1)
		attempt = 1;
	d = base_ms < max_ms ? base_ms : max_ms;
	for (i = 1; i < attempt && d < max_ms; i++)
		d = d > max_ms / 2 ? max_ms : d * 2;
	lo = d / 2;
	span = (uint64_t)(d - lo); /* pick in [lo, d] */
	if (span < UINT32_MAX)
		r = random_uniform((uint32_t)span + 1);
	else {
		random_bytes(&r, sizeof(r));
		r %= span + 1;
	}
	return (lo + (int64_t)r);
}
