/*
 * Recurring jobs (see jobs.h): each registered schedule is a row of
 * job_schedules (upserted at most every JOBS_SYNC_MS; a changed
 * definition starts afresh) with its next run time from its cron
 * expression. jobs_run_once ticks at most every JOBS_TICK_MS: a due
 * schedule enqueues its job and moves on, in one write transaction that
 * takes the due rows (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite has
 * one writer), so of several workers and processes one fires it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "store/jobs.h"
#include "store/store.h"
#include "store/store_int.h"

#define JOBS_MAX_SCHEDULES 64
#define JOBS_TICK_MS	   1000	 /* due schedules checked at most this often */
#define JOBS_SYNC_MS	   60000 /* schedules upserted at most this often */
#define JOBS_NEVER	   INT64_MAX

struct jobs_sched {
	const struct job_schedule *def;
	struct cron		   cron;
};

static pthread_mutex_t	 sched_mu = PTHREAD_MUTEX_INITIALIZER;
static struct jobs_sched jobs_scheds[JOBS_MAX_SCHEDULES];
static size_t		 jobs_nscheds;
static _Atomic int64_t	 jobs_tick_at;
static _Atomic int64_t	 jobs_sync_at = INT64_MIN / 2;

static const struct jobs_sched *jobs_sched_find(const char *);
static int64_t jobs_sched_next(const struct jobs_sched *, int64_t);
static int     jobs_sync_fn(struct tx *, void *);
static int     jobs_fire_fn(struct tx *, void *);

int
jobs_schedule_register(const struct job_schedule *s)
{
	struct cron c;
	int	    rc = OK;

	if (s == NULL || s->name == NULL || s->name[0] == '\0' ||
	    s->kind == NULL)
		return (ERR_INVALID);
	if (cron_parse(s->cron, &c) != OK || cron_next(&c, time_now_ms()) < 0) {
		log_error("event=job_schedule_invalid name=%s", s->name);
		return (ERR_INVALID);
	}
	pthread_mutex_lock(&sched_mu);
	if (jobs_sched_find(s->name) != NULL)
		rc = ERR_CONFLICT;
	else if (jobs_nscheds == JOBS_MAX_SCHEDULES)
		rc = ERR_TOO_LARGE;
	else {
		jobs_scheds[jobs_nscheds].def = s;
		jobs_scheds[jobs_nscheds].cron = c;
		jobs_nscheds++;
	}
	pthread_mutex_unlock(&sched_mu);
	return (rc);
}

static const struct jobs_sched *
jobs_sched_find(const char *name)
{
	size_t i;

	for (i = 0; i < jobs_nscheds; i++)
		if (strcmp(jobs_scheds[i].def->name, name) == 0)
			return (&jobs_scheds[i]);
	return (NULL);
}

static int64_t
jobs_sched_next(const struct jobs_sched *s, int64_t now)
{
	int64_t next = cron_next(&s->cron, now);

	return (next < 0 ? JOBS_NEVER : next);
}

/* Upsert the registered schedules; a changed definition starts afresh. */
static int
jobs_sync_fn(struct tx *tx, void *arg)
{
	struct stmt *st;
	int64_t	     now = time_now_ms();
	size_t	     i;
	int	     rc;

	(void)arg;
	for (i = 0; i < jobs_nscheds; i++) {
		const struct job_schedule *d = jobs_scheds[i].def;

		st = store_prepare(tx,
		    "INSERT INTO job_schedules (name, cron, "
		    "kind, payload, next_run_at) VALUES (?, ?, ?, ?, ?) "
		    "ON CONFLICT (name) DO UPDATE SET cron = excluded.cron, "
		    "kind = excluded.kind, payload = excluded.payload, "
		    "next_run_at = excluded.next_run_at "
		    "WHERE job_schedules.cron <> excluded.cron OR "
		    "job_schedules.kind <> excluded.kind OR "
		    "job_schedules.payload <> excluded.payload");
		store_bind_text(st, 1, d->name);
		store_bind_text(st, 2, d->cron);
		store_bind_text(st, 3, d->kind);
		store_bind_text(st, 4, d->payload != NULL ? d->payload : "{}");
		store_bind_int64(st, 5, jobs_sched_next(&jobs_scheds[i], now));
		rc = store_step(st);
		store_finalize(st);
		if (rc != STORE_DONE)
			return (rc == STORE_ROW ? ERR_DB : rc);
	}
	return (OK);
}

/* Enqueue every due schedule this process knows, and move it on. */
static int
jobs_fire_fn(struct tx *tx, void *arg)
{
	const struct jobs_sched *due[JOBS_MAX_SCHEDULES];
	struct stmt		*st;
	int64_t			 now = time_now_ms();
	size_t			 n = 0, i;
	int			 rc, *fired = arg;

	*fired = 0;
	st = store_prepare(tx,
	    store_tx_dialect(tx) == STORE_POSTGRES
		? "SELECT name FROM job_schedules WHERE next_run_at <= ? "
		  "ORDER BY next_run_at LIMIT 256 FOR UPDATE SKIP LOCKED"
		: "SELECT name FROM job_schedules WHERE next_run_at <= ? "
		  "ORDER BY next_run_at LIMIT 256");
	store_bind_int64(st, 1, now);
	while ((rc = store_step(st)) == STORE_ROW) {
		const struct jobs_sched *s;
		const char		*name = store_col_text(st, 0);

		if (name != NULL && (s = jobs_sched_find(name)) != NULL &&
		    n < JOBS_MAX_SCHEDULES)
			due[n++] = s;
	}
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc);
	for (i = 0; i < n; i++) {
		if ((rc = jobs_enqueue(tx, due[i]->def->kind,
			 due[i]->def->payload, NULL, 0, NULL)) != OK) {
			log_error("event=job_schedule_enqueue_failed name=%s "
				  "status=%s",
			    due[i]->def->name, err_code(rc));
			return (rc);
		}
		st = store_prepare(tx,
		    "UPDATE job_schedules SET "
		    "last_run_at = ?, next_run_at = ? WHERE name = ?");
		store_bind_int64(st, 1, now);
		store_bind_int64(st, 2, jobs_sched_next(due[i], now));
		store_bind_text(st, 3, due[i]->def->name);
		rc = store_step(st);
		store_finalize(st);
		if (rc != STORE_DONE)
			return (rc == STORE_ROW ? ERR_DB : rc);
	}
	*fired = (int)n;
	return (OK);
}

/*
 * At most once a second per process: upsert the schedules (once a minute)
 * and fire the due ones. A cheap read comes first so that an idle process
 * takes no write lock.
 */
int
jobs_tick(struct store *db)
{
	struct tx   *tx;
	struct stmt *st;
	int64_t	     now = time_now_ms(), last;
	int	     rc, fired;

	if (jobs_nscheds == 0)
		return (OK);
	last = atomic_load(&jobs_tick_at);
	if (now - last < JOBS_TICK_MS && now >= last)
		return (OK);
	if (!atomic_compare_exchange_strong(&jobs_tick_at, &last, now))
		return (OK); /* another thread of ours has it */
	if (now - atomic_load(&jobs_sync_at) >= JOBS_SYNC_MS) {
		if ((rc = store_run(db, STORE_TX_WRITE, jobs_sync_fn, NULL)) !=
		    OK)
			return (rc);
		atomic_store(&jobs_sync_at, now);
	}
	if ((rc = store_tx_begin(db, STORE_TX_READ, &tx)) != OK)
		return (rc);
	st = store_prepare(
	    tx, "SELECT 1 FROM job_schedules WHERE next_run_at <= ? LIMIT 1");
	store_bind_int64(st, 1, now);
	rc = store_step(st);
	store_finalize(st);
	store_tx_rollback(tx);
	if (rc == STORE_DONE)
		return (OK);
	if (rc != STORE_ROW)
		return (rc);
	if ((rc = store_run(db, STORE_TX_WRITE, jobs_fire_fn, &fired)) != OK)
		return (rc);
	if (fired > 0)
		log_debug("event=job_schedules_fired count=%d", fired);
	return (OK);
}
