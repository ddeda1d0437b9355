/*
 * The job queue on SQLite: enqueue follows the caller's transaction,
 * failures back off and end in failed_jobs, failed jobs can be retried,
 * stale claims are reclaimed, runner threads start and stop, and a
 * recurring schedule fires once per slot with two worker processes.
 */
#include <sys/wait.h>

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "store/jobs.h"
#include "store/store.h"

#define MIGRATION "migrations/sqlite/0001_foundation.up.sql"

struct fixture {
	char	      dir[64];
	char	      url[128];
	struct store *db;
};

static pthread_mutex_t rec_mu = PTHREAD_MUTEX_INITIALIZER;
static int	       ok_runs, fail_runs, flaky_fail, last_attempt;
static int64_t	       fail_at[16];

static int     h_ok(struct store *, const struct job *, char *);
static int     h_fail(struct store *, const struct job *, char *);
static int     h_flaky(struct store *, const struct job *, char *);
static int     h_fired(struct store *, const struct job *, char *);
static int     db_open(struct fixture *);
static int     setup(void **);
static int     teardown(void **);
static int64_t count(struct store *, const char *);
static void    exec_sql(struct store *, const char *);
static void    enqueue(struct store *, const char *, char *);
static void    test_backoff(void **);
static void    test_enqueue_follows_tx(void **);
static void    test_failures_back_off_then_fail(void **);
static void    test_retry_failed(void **);
static void    test_stale_reclaimed(void **);
static void    test_runner(void **);
static void    run_two_workers(struct fixture *);
static void    test_schedule_once_per_slot(void **);

static const struct job_kind k_ok = { "test.ok", h_ok, 0 };
static const struct job_kind k_fail = { "test.fail", h_fail, 3 };
static const struct job_kind k_flaky = { "test.flaky", h_flaky, 1 };
static const struct job_kind k_fired = { "test.fired", h_fired, 0 };
/*
 * Yearly, so that a run of the workers that happens to cross a minute (or
 * an hour) boundary cannot make a second slot due; the test makes a slot
 * due by setting next_run_at to 0.
 */
static const struct job_schedule s_fired = { "test.fired_yearly", "0 0 1 1 *",
	"test.fired", "{\"n\":1}" };

static int
h_ok(struct store *db, const struct job *j, char *err)
{
	pthread_mutex_lock(&rec_mu);
	ok_runs++;
	last_attempt = j->attempt;
	pthread_mutex_unlock(&rec_mu);
	return (OK);
}

static int
h_fail(struct store *db, const struct job *j, char *err)
{
	pthread_mutex_lock(&rec_mu);
	if (fail_runs < 16)
		fail_at[fail_runs] = time_now_ms();
	fail_runs++;
	pthread_mutex_unlock(&rec_mu);
	snprintf(err, JOB_ERR_LEN, "boom %d", j->attempt);
	return (ERR_IO);
}

static int
h_flaky(struct store *db, const struct job *j, char *err)
{
	if (flaky_fail) {
		snprintf(err, JOB_ERR_LEN, "flaky");
		return (ERR_UNAVAILABLE);
	}
	return (h_ok(db, j, err));
}

/* Records each run in the database, so other processes' runs count. */
static int
h_fired(struct store *db, const struct job *j, char *err)
{
	struct tx   *tx;
	struct stmt *st;
	int	     rc;

	if ((rc = store_tx_begin(db, STORE_TX_WRITE, &tx)) != OK)
		return (rc);
	st = store_prepare(tx, "INSERT INTO fired (job_id) VALUES (?)");
	store_bind_text(st, 1, j->id);
	rc = store_step(st) == STORE_DONE ? OK : ERR_DB;
	store_finalize(st);
	if (rc == OK)
		return (store_tx_commit(tx));
	store_tx_rollback(tx);
	return (rc);
}

static int
db_open(struct fixture *fx)
{
	struct store_opts o = { 1, 4, 5000, 1 };
	const char	 *emsg = NULL;
	int		  rc;

	rc = store_open(fx->url, &o, &fx->db, &emsg);
	if (rc != OK)
		fprintf(stderr, "store_open: %s\n", emsg ? emsg : "?");
	return (rc);
}

static int
setup(void **state)
{
	struct fixture *fx;
	char	       *sql;
	FILE	       *f;
	long		n;

	fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/cb_jobs_XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->url, sizeof(fx->url), "sqlite:///%s/jobs.db", fx->dir);
	assert_int_equal(db_open(fx), OK);
	assert_non_null(f = fopen(MIGRATION, "rb"));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	assert_non_null(sql = calloc(1, (size_t)n + 1));
	assert_int_equal(fread(sql, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	exec_sql(fx->db, sql);
	free(sql);
	exec_sql(fx->db, "CREATE TABLE fired (job_id TEXT NOT NULL)");
	config.job_max_attempts = 5;
	config.job_backoff_base_ms = 1;
	config.job_backoff_max_ms = 2;
	config.job_timeout_s = 300;
	config.job_poll_ms = 20;
	ok_runs = fail_runs = last_attempt = flaky_fail = 0;
	*state = fx;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	char		path[128];

	store_close(fx->db);
	snprintf(path, sizeof(path), "%s/jobs.db", fx->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/jobs.db-wal", fx->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/jobs.db-shm", fx->dir);
	unlink(path);
	rmdir(fx->dir);
	free(fx);
	return (0);
}

static void
exec_sql(struct store *db, const char *sql)
{
	struct tx *tx;

	assert_int_equal(store_tx_begin(db, STORE_TX_WRITE, &tx), OK);
	assert_int_equal(store_exec(tx, sql), OK);
	assert_int_equal(store_tx_commit(tx), OK);
}

static int64_t
count(struct store *db, const char *sql)
{
	struct tx   *tx;
	struct stmt *st;
	int64_t	     n = -1;

	assert_int_equal(store_tx_begin(db, STORE_TX_READ, &tx), OK);
	st = store_prepare(tx, sql);
	if (store_step(st) == STORE_ROW)
		n = store_col_int64(st, 0);
	store_finalize(st);
	store_tx_rollback(tx);
	return (n);
}

static void
enqueue(struct store *db, const char *kind, char *id)
{
	struct tx *tx;

	assert_int_equal(store_tx_begin(db, STORE_TX_WRITE, &tx), OK);
	assert_int_equal(jobs_enqueue(tx, kind, NULL, NULL, 0, id), OK);
	assert_int_equal(store_tx_commit(tx), OK);
}

static void
test_backoff(void **state)
{
	int64_t d;
	int	i;

	(void)state;
	for (i = 0; i < 200; i++) {
		d = jobs_backoff_ms(1, 100, 1000);
		assert_true(d >= 50 && d <= 100);
		d = jobs_backoff_ms(3, 100, 1000);
		assert_true(d >= 200 && d <= 400);
		d = jobs_backoff_ms(5, 100, 1000); /* 1600 capped */
		assert_true(d >= 500 && d <= 1000);
		d = jobs_backoff_ms(1000000, 100, 1000);
		assert_true(d >= 500 && d <= 1000);
		d = jobs_backoff_ms(70, INT64_MAX / 3, INT64_MAX);
		assert_true(d >= INT64_MAX / 2 - 1);
	}
	assert_true(jobs_backoff_ms(0, 10, 20) <= 10);
}

static void
test_enqueue_follows_tx(void **state)
{
	struct fixture	 *fx = *state;
	struct jobs_stats s0, s;
	struct tx	 *tx;
	char		  id[JOB_ID_LEN];
	int		  ran;

	assert_int_equal(jobs_stats(fx->db, &s0), OK);
	assert_int_equal(store_tx_begin(fx->db, STORE_TX_WRITE, &tx), OK);
	assert_int_equal(
	    jobs_enqueue(tx, "test.ok", "{\"a\":1}", NULL, 0, id), OK);
	assert_true(uuid_valid(id));
	assert_int_equal(jobs_enqueue(tx, "no.such.kind", NULL, NULL, 0, NULL),
	    ERR_NOT_FOUND);
	assert_int_equal(
	    jobs_enqueue(tx, "test.ok", "{bad json", NULL, 0, NULL),
	    ERR_INVALID);
	store_tx_rollback(tx);
	assert_int_equal(count(fx->db, "SELECT count(*) FROM jobs"), 0);

	enqueue(fx->db, "test.ok", id);
	enqueue(fx->db, "test.ok", NULL);
	assert_int_equal(
	    count(fx->db,
		"SELECT count(*) FROM jobs WHERE "
		"status = 'queued' AND attempts = 0 AND max_attempts = 5 AND "
		"payload = '{}' AND queue = 'default'"),
	    2);
	assert_int_equal(jobs_stats(fx->db, &s), OK);
	assert_int_equal(s.queued, 2);
	assert_int_equal(s.running, 0);
	assert_int_equal(s.failed, 0);

	assert_int_equal(jobs_run_once(fx->db, "w1", &ran), OK);
	assert_int_equal(ran, 1);
	assert_int_equal(ok_runs, 1);
	assert_int_equal(last_attempt, 1);
	assert_int_equal(jobs_run_once(fx->db, "w1", &ran), OK);
	assert_int_equal(jobs_run_once(fx->db, "w1", &ran), OK);
	assert_int_equal(ran, 0);
	assert_int_equal(ok_runs, 2);
	assert_int_equal(jobs_stats(fx->db, &s), OK);
	assert_int_equal(s.queued, 0);
	assert_int_equal(s.succeeded_total, s0.succeeded_total + 2);

	/* a job due later does not run now */
	assert_int_equal(store_tx_begin(fx->db, STORE_TX_WRITE, &tx), OK);
	assert_int_equal(jobs_enqueue(tx, "test.ok", NULL, "mail",
			     time_now_ms() + 60000, NULL),
	    OK);
	assert_int_equal(store_tx_commit(tx), OK);
	assert_int_equal(jobs_run_once(fx->db, "w1", &ran), OK);
	assert_int_equal(ran, 0);
}

static void
test_failures_back_off_then_fail(void **state)
{
	struct fixture	 *fx = *state;
	struct jobs_stats s0, s;
	struct tx	 *tx;
	struct stmt	 *st;
	char		  id[JOB_ID_LEN];
	int64_t		  deadline;
	int		  ran;

	config.job_backoff_base_ms = 40;
	config.job_backoff_max_ms = 80;
	assert_int_equal(jobs_stats(fx->db, &s0), OK);
	enqueue(fx->db, "test.fail", id);
	assert_int_equal(jobs_run_once(fx->db, "w1", &ran), OK);
	assert_int_equal(ran, 1);
	assert_int_equal(fail_runs, 1);
	/* backed off: at least 20 ms before the next attempt */
	assert_int_equal(jobs_run_once(fx->db, "w1", &ran), OK);
	assert_int_equal(ran, 0);
	assert_int_equal(count(fx->db,
			     "SELECT count(*) FROM jobs WHERE "
			     "status = 'queued' AND attempts = 1 AND "
			     "last_error = 'boom 1' AND "
			     "locked_by IS NULL"),
	    1);

	deadline = time_now_ms() + 5000;
	while (count(fx->db, "SELECT count(*) FROM failed_jobs") == 0 &&
	    time_now_ms() < deadline) {
		assert_int_equal(jobs_run_once(fx->db, "w1", &ran), OK);
		usleep(2000);
	}
	assert_int_equal(fail_runs, 3); /* the kind's max_attempts */
	assert_true(fail_at[1] - fail_at[0] >= 20); /* [20, 40] */
	assert_true(fail_at[2] - fail_at[1] >= 40); /* [40, 80] */
	assert_int_equal(count(fx->db, "SELECT count(*) FROM jobs"), 0);

	assert_int_equal(store_tx_begin(fx->db, STORE_TX_READ, &tx), OK);
	st = store_prepare(tx,
	    "SELECT job_id, kind, queue, error, attempts, "
	    "payload FROM failed_jobs");
	assert_int_equal(store_step(st), STORE_ROW);
	assert_string_equal(store_col_text(st, 0), id);
	assert_string_equal(store_col_text(st, 1), "test.fail");
	assert_string_equal(store_col_text(st, 2), "default");
	assert_string_equal(store_col_text(st, 3), "boom 3");
	assert_int_equal(store_col_int64(st, 4), 3);
	assert_string_equal(store_col_text(st, 5), "{}");
	store_finalize(st);
	store_tx_rollback(tx);

	assert_int_equal(jobs_stats(fx->db, &s), OK);
	assert_int_equal(s.failed, 1);
	assert_int_equal(s.failures_total, s0.failures_total + 3);
}

static void
test_retry_failed(void **state)
{
	struct fixture *fx = *state;
	struct tx      *tx;
	struct stmt    *st;
	char		failed_id[JOB_ID_LEN], job_id[JOB_ID_LEN];
	int		ran;

	flaky_fail = 1;
	enqueue(fx->db, "test.flaky", NULL);
	assert_int_equal(jobs_run_once(fx->db, "w1", &ran), OK);
	assert_int_equal(ran, 1);
	assert_int_equal(count(fx->db,
			     "SELECT count(*) FROM failed_jobs "
			     "WHERE error = 'flaky' AND attempts = 1"),
	    1);

	assert_int_equal(store_tx_begin(fx->db, STORE_TX_READ, &tx), OK);
	st = store_prepare(tx, "SELECT id FROM failed_jobs");
	assert_int_equal(store_step(st), STORE_ROW);
	strlcpy_cb(failed_id, store_col_text(st, 0), sizeof(failed_id));
	store_finalize(st);
	store_tx_rollback(tx);

	assert_int_equal(jobs_retry_failed(fx->db,
			     "00000000-0000-7000-8000-000000000000", job_id),
	    ERR_NOT_FOUND);
	assert_int_equal(
	    jobs_retry_failed(fx->db, "junk", job_id), ERR_NOT_FOUND);
	flaky_fail = 0;
	assert_int_equal(jobs_retry_failed(fx->db, failed_id, job_id), OK);
	assert_int_equal(count(fx->db, "SELECT count(*) FROM failed_jobs"), 0);
	assert_int_equal(
	    count(fx->db,
		"SELECT count(*) FROM jobs WHERE "
		"kind = 'test.flaky' AND attempts = 0 AND status = 'queued'"),
	    1);
	assert_int_equal(jobs_run_once(fx->db, "w1", &ran), OK);
	assert_int_equal(ran, 1);
	assert_int_equal(ok_runs, 1);
	assert_int_equal(count(fx->db, "SELECT count(*) FROM jobs"), 0);
	assert_int_equal(
	    jobs_retry_failed(fx->db, failed_id, job_id), ERR_NOT_FOUND);
}

static void
test_stale_reclaimed(void **state)
{
	struct fixture *fx = *state;
	char		sql[256];
	int		ran;

	config.job_timeout_s = 1;
	enqueue(fx->db, "test.ok", NULL);
	snprintf(sql, sizeof(sql),
	    "UPDATE jobs SET status = 'running', "
	    "attempts = 1, locked_by = 'dead', locked_at = %lld",
	    (long long)(time_now_ms() - 3600000));
	exec_sql(fx->db, sql);
	/* a fresh claim by a live worker is left alone */
	enqueue(fx->db, "test.fail", NULL);
	snprintf(sql, sizeof(sql),
	    "UPDATE jobs SET status = 'running', "
	    "attempts = 1, locked_by = 'alive', locked_at = %lld "
	    "WHERE kind = 'test.fail'",
	    (long long)time_now_ms());
	exec_sql(fx->db, sql);

	assert_int_equal(jobs_run_once(fx->db, "w1", &ran), OK);
	assert_int_equal(ran, 1);
	assert_int_equal(ok_runs, 1);
	assert_int_equal(last_attempt, 2); /* the lost run counted */
	assert_int_equal(jobs_run_once(fx->db, "w1", &ran), OK);
	assert_int_equal(ran, 0);
	assert_int_equal(fail_runs, 0);

	/* a stale job with no attempts left goes to failed_jobs */
	exec_sql(fx->db, "DELETE FROM jobs");
	enqueue(fx->db, "test.ok", NULL);
	snprintf(sql, sizeof(sql),
	    "UPDATE jobs SET status = 'running', "
	    "attempts = 5, locked_by = 'dead', locked_at = %lld, "
	    "last_error = 'segfault'",
	    (long long)(time_now_ms() - 3600000));
	exec_sql(fx->db, sql);
	assert_int_equal(jobs_run_once(fx->db, "w1", &ran), OK);
	assert_int_equal(ok_runs, 1);
	assert_int_equal(count(fx->db, "SELECT count(*) FROM jobs"), 0);
	assert_int_equal(
	    count(fx->db,
		"SELECT count(*) FROM failed_jobs WHERE "
		"error LIKE 'timed out after 5 attempts%segfault'"),
	    1);
}

static void
test_runner(void **state)
{
	struct fixture	  *fx = *state;
	struct job_runner *r;
	int64_t		   deadline, t0;
	int		   i, n;

	config.job_poll_ms = 5000;
	for (i = 0; i < 6; i++)
		enqueue(fx->db, "test.ok", NULL);
	assert_int_equal(jobs_runner_start(fx->db, 2, &r), OK);
	deadline = time_now_ms() + 5000;
	do {
		usleep(5000);
		pthread_mutex_lock(&rec_mu);
		n = ok_runs;
		pthread_mutex_unlock(&rec_mu);
	} while (n < 6 && time_now_ms() < deadline);
	usleep(50000); /* let both threads go idle in a long wait */
	t0 = time_now_ms();
	jobs_runner_stop(r);
	assert_true(time_now_ms() - t0 < 1000); /* woken, not polled */
	assert_int_equal(ok_runs, 6);
	assert_int_equal(count(fx->db, "SELECT count(*) FROM jobs"), 0);
	jobs_runner_stop(NULL);
}

/* Two worker processes, released together, run jobs for a while. */
static void
run_two_workers(struct fixture *fx)
{
	pid_t pid[2];
	int   gate[2], i, status;
	char  c = 'x';

	store_close(fx->db);
	fx->db = NULL;
	assert_int_equal(pipe(gate), 0);
	for (i = 0; i < 2; i++) {
		if ((pid[i] = fork()) == 0) {
			struct store	 *db;
			struct store_opts o = { 1, 4, 5000, 0 };
			const char	 *emsg;
			char		  name[16];
			int64_t		  end;
			int		  ran;

			close(gate[1]);
			if (store_open(fx->url, &o, &db, &emsg) != OK)
				_exit(2);
			if (read(gate[0], &c, 1) != 1)
				_exit(3);
			snprintf(name, sizeof(name), "proc%d", i);
			end = time_now_ms() + 1500;
			while (time_now_ms() < end)
				if (jobs_run_once(db, name, &ran) != OK || !ran)
					usleep(1000);
			store_close(db);
			_exit(0);
		}
		assert_true(pid[i] > 0);
	}
	close(gate[0]);
	assert_int_equal(write(gate[1], "xx", 2), 2);
	close(gate[1]);
	for (i = 0; i < 2; i++) {
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(db_open(fx), OK);
}

static void
test_schedule_once_per_slot(void **state)
{
	struct fixture	   *fx = *state;
	struct job_schedule bad = { "bad", "61 * * * *", "test.fired", NULL };
	char		    sql[256];

	assert_int_equal(jobs_register(&k_fired), OK);
	assert_int_equal(jobs_schedule_register(&s_fired), OK);
	assert_int_equal(jobs_schedule_register(&s_fired), ERR_CONFLICT);
	assert_int_equal(jobs_schedule_register(&bad), ERR_INVALID);
	/* the slot is due now */
	exec_sql(fx->db,
	    "INSERT INTO job_schedules (name, cron, kind, payload, "
	    "next_run_at) VALUES ('test.fired_yearly', '0 0 1 1 *', "
	    "'test.fired', '{\"n\":1}', 0)");

	run_two_workers(fx);
	assert_int_equal(count(fx->db, "SELECT count(*) FROM fired"), 1);
	assert_int_equal(count(fx->db, "SELECT count(*) FROM jobs"), 0);
	snprintf(sql, sizeof(sql),
	    "SELECT count(*) FROM job_schedules WHERE "
	    "last_run_at > 0 AND next_run_at > %lld AND next_run_at %% 60000 = "
	    "0",
	    (long long)time_now_ms());
	assert_int_equal(count(fx->db, sql), 1);

	/* the next slot, again once */
	exec_sql(fx->db, "UPDATE job_schedules SET next_run_at = 0");
	run_two_workers(fx);
	assert_int_equal(count(fx->db, "SELECT count(*) FROM fired"), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff),
		cmocka_unit_test_setup_teardown(
		    test_enqueue_follows_tx, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_failures_back_off_then_fail, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_retry_failed, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_stale_reclaimed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runner, setup, teardown),
		/* last: it registers a schedule for the whole process */
		cmocka_unit_test_setup_teardown(
		    test_schedule_once_per_slot, setup, teardown),
	};
	char err[256];
	int  rc;

	if (config_load(0, NULL, err, sizeof(err)) != OK) {
		fprintf(stderr, "%s\n", err);
		return (1);
	}
	log_set_level(LOG_ERROR);
	if (jobs_register(&k_ok) != OK || jobs_register(&k_fail) != OK ||
	    jobs_register(&k_flaky) != OK ||
	    jobs_register(&k_ok) != ERR_CONFLICT)
		return (1);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	config_free();
	return (rc);
}
