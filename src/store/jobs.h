/*
 * The job queue, kept in the database so it survives restarts and stays
 * correct with several carebase processes on one PostgreSQL (claims use
 * FOR UPDATE SKIP LOCKED there; on SQLite one writer at a time).
 *
 * Enqueue inside the caller's transaction, so a job exists exactly when
 * the change that wanted it committed. Workers claim due jobs, run the
 * registered handler outside any transaction, and then either delete the
 * job (success), reschedule it with exponential backoff and jitter, or,
 * after its last attempt, move it to failed_jobs. `carebase jobs retry ID`
 * puts a failed job back in the queue.
 *
 * Jobs run at least once: a handler must tolerate being run again after
 * a crash between its work and the job's completion.
 */
#ifndef STORE_JOBS_H
#define STORE_JOBS_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct tx;

#define JOB_ID_LEN  37
#define JOB_ERR_LEN 512

struct job {
	char	    id[JOB_ID_LEN];
	const char *queue;
	const char *kind;
	const char *payload; /* JSON text, borrowed */
	int	    attempt; /* 1 on the first run */
	int	    max_attempts;
	/*
	 * A handler that fails in a way no retry can mend (the other side
	 * refused the request) sets *give_up = 1: the job goes to
	 * failed_jobs now instead of being retried.
	 */
	int *give_up;
};

/*
 * Run a job. Return OK when done; any other status is a failure whose
 * message the handler writes into err (JOB_ERR_LEN bytes, no personal
 * data: it is stored and logged).
 */
typedef int (*job_handler)(struct store *, const struct job *, char *err);

struct job_kind {
	const char *name; /* "mail.send" */
	job_handler run;
	int	    max_attempts; /* 0 = config job_max_attempts */
};

/* A recurring job on a cron-like schedule. */
struct job_schedule {
	const char *name; /* unique, e.g. "bookings.expire_holds" */
	const char *cron; /* "0 3 * * *": min hour dom month dow */
	const char *kind;
	const char *payload; /* JSON text, NULL = "{}" */
};

/* Registration, before workers start; tables are borrowed. */
int		       jobs_register(const struct job_kind *);
int		       jobs_schedule_register(const struct job_schedule *);
const struct job_kind *jobs_kind(const char *name);

/*
 * Enqueue a job inside tx. run_at_ms 0 = now. queue NULL = "default".
 * id_out (JOB_ID_LEN) may be NULL. ERR_NOT_FOUND for an unknown kind.
 */
int jobs_enqueue(struct tx *, const char *kind, const char *payload,
    const char *queue, int64_t run_at_ms, char *id_out);

/*
 * Claim and run at most one due job; *ran is 1 when one ran. Also
 * enqueues due recurring jobs. worker names the claimer in locked_by.
 */
int jobs_run_once(struct store *, const char *worker, int *ran);

/* Worker threads that call jobs_run_once until stopped. */
struct job_runner;
int jobs_runner_start(struct store *, int threads, struct job_runner **);
/* Finish the jobs in hand, then stop. Accepts NULL. */
void jobs_runner_stop(struct job_runner *);

/*
 * Move failed_jobs row id back into the queue with fresh attempts, in a
 * transaction of its own. ERR_NOT_FOUND when there is no such row, or
 * another retry took it first: a failed job is queued again once.
 */
int jobs_retry_failed(struct store *, const char *failed_id, char *job_id_out);
/* The same inside tx, for a caller that writes more in it (its audit
 * row); job_id_out (JOB_ID_LEN) is set when OK. */
int jobs_retry_failed_tx(struct tx *, const char *failed_id, char *job_id_out);

struct jobs_stats {
	int64_t	 queued; /* waiting, due or not */
	int64_t	 running;
	int64_t	 failed;	  /* rows in failed_jobs */
	int64_t	 oldest_due_ms;	  /* run_at of the oldest due job, or -1 */
	uint64_t succeeded_total; /* this process */
	uint64_t failures_total;  /* this process: failed attempts */
};
/* One read transaction, one statement: the oldest due job is one seek
 * of the index jobs_due (status, run_at). */
int jobs_stats(struct store *, struct jobs_stats *);

/*
 * This process's runs of one job kind: slot i of the kinds registered,
 * in order, then one slot "unknown" for jobs of kinds this process does
 * not know. ERR_NOT_FOUND past the last slot. kind is borrowed.
 */
struct jobs_kind_stats {
	const char *kind;
	uint64_t    succeeded; /* the handler said OK */
	uint64_t    retried;   /* failed, and put back for another attempt */
	uint64_t    failed;    /* failed for good: moved to failed_jobs */
};
int jobs_kind_stats(size_t i, struct jobs_kind_stats *out);

/* Delay before attempt+1: base * 2^(attempt-1), capped, with full jitter
 * over its upper half. Exposed for tests. */
int64_t jobs_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms);

/* Cron expressions: five fields (minute hour day-of-month month
 * day-of-week), each "*", "N", "N-M", "a,b,c", with optional "/step". */
struct cron {
	uint64_t minute; /* bit i set = minute i allowed */
	uint32_t hour;
	uint32_t dom;	/* bits 1..31 */
	uint16_t month; /* bits 1..12 */
	uint8_t	 dow;	/* bits 0..6, Sunday = 0 (7 also Sunday) */
	int	 dom_any, dow_any;
};
int cron_parse(const char *expr, struct cron *out);
/* First minute strictly after after_ms (UTC) that matches; -1 if none within 5 years. */
int64_t cron_next(const struct cron *, int64_t after_ms);

#endif
