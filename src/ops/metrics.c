/*
 * GET /metrics: the Prometheus text format 0.0.4, for an operator's
 * alerts. Who may scrape, first match wins:
 *
 *	the metrics listener (metrics_listen)	anyone who reaches it: it is
 *						meant for a private address
 *	metrics_public = true			anyone
 *	Authorization: Bearer <metrics_token>	a scraper (constant-time
 *						comparison)
 *	a signed-in caller			with metrics:read:all (admins,
 *						as seeded; 403 without)
 *	anyone else				401
 *
 * What is exposed: the HTTP layer's families (http_metrics_render), the
 * process (CPU, memory, file descriptors, start time, from /proc), what
 * was built, the database pool, the job queue (by kind, and the age of
 * the oldest due job: one indexed read at scrape time), mail, webhooks
 * and scheduled backups, and what a module adds (struct module's
 * metrics: the session cache's hits and misses). Counters are this
 * process's since it started; gauges read from the database are the
 * deployment's.
 */
#include <sys/resource.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sodium.h>

#include "core/buf.h"
#include "core/build_info.h"
#include "core/config.h"
#include "core/err.h"
#include "core/mail.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "modules.h"
#include "ops/inbox.h"
#include "ops/ops_int.h"
#include "resource/audit.h"
#include "resource/list_cache.h"
#include "resource/resource.h"
#include "store/backup.h"
#include "store/jobs.h"
#include "store/store.h"

#define METRICS_MAX	(4 * 1024 * 1024)
#define METRICS_PERM	"metrics" /* metrics:read:all, migration 0044 */
#define PROC_STAT_MAX	4096	  /* bytes of /proc/self/stat read */
#define PROC_FDS_MAX	1000000	  /* fds counted at most */
#define STAT_FIELDS_MIN 22	  /* fields after the command's ")" */

static int64_t started_ms; /* for carebase_process_start_time_seconds */

static int metrics_allowed(struct request *);
static int token_equal(const char *, const char *);
static int process_render(struct buf *);
static int store_render(struct buf *, struct store *);
static int jobs_render(struct buf *, struct store *);
static int audit_render(struct buf *);
static int modules_render(struct buf *);

void
ops_metrics_start(void)
{
	started_ms = time_now_ms();
}

/* Two strings compared in time that depends on neither's contents. */
static int
token_equal(const char *a, const char *b)
{
	unsigned char ha[crypto_generichash_BYTES];
	unsigned char hb[crypto_generichash_BYTES];

	crypto_generichash(
	    ha, sizeof(ha), (const unsigned char *)a, strlen(a), NULL, 0);
	crypto_generichash(
	    hb, sizeof(hb), (const unsigned char *)b, strlen(b), NULL, 0);
	return (sodium_memcmp(ha, hb, sizeof(ha)) == 0);
}

/* OK, or the refusal answered on req (see the table at the top). */
static int
metrics_allowed(struct request *req)
{
	const char *h;
	int	    rc;

	if (req->metrics_listener || strcmp(config.metrics_public, "true") == 0)
		return (OK);
	h = http_header(req, "Authorization");
	if (config.metrics_token[0] != '\0' && h != NULL &&
	    strncasecmp(h, "Bearer ", 7) == 0 &&
	    token_equal(h + 7, config.metrics_token))
		return (OK);
	if ((rc = http_authenticate(req)) != OK) {
		if (!req->responded)
			http_problem(req, rc, NULL,
			    "The credentials were not accepted.");
		return (rc);
	}
	if (req->caller == NULL) {
		http_header_add(req, "WWW-Authenticate", "Bearer");
		http_problem(req, ERR_UNAUTHORIZED, NULL,
		    "Authentication is required: send Authorization: Bearer "
		    "<token>, the scrape token (metrics_token) or a staff "
		    "token with metrics:read:all.");
		return (ERR_UNAUTHORIZED);
	}
	if (resource_scope(req->db, req->caller, METRICS_PERM, "read") !=
	    SCOPE_ALL) {
		http_problem(req, ERR_FORBIDDEN, NULL,
		    "Reading the metrics takes metrics:read:all.");
		return (ERR_FORBIDDEN);
	}
	return (OK);
}

/*
 * The process families every Prometheus client library exports, from
 * /proc/self (Linux): left out where it cannot be read.
 */
static int
process_render(struct buf *b)
{
	struct rlimit	   rl;
	struct dirent	  *de;
	DIR		  *d;
	FILE		  *f;
	char		   stat[PROC_STAT_MAX], line[256];
	const char	  *p;
	unsigned long long utime, stime, start, vsize;
	long long	   rss, btime = -1, fds = 0;
	long   tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	size_t n;
	int    rc = OK;

	if ((f = fopen("/proc/self/stat", "r")) == NULL)
		return (OK);
	n = fread(stat, 1, sizeof(stat) - 1, f);
	fclose(f);
	stat[n] = '\0';
	/* After the command (which may hold blanks and parentheses): state,
	 * then fields 4.. ; utime 14, stime 15, starttime 22, vsize 23,
	 * rss 24 (proc(5)). */
	if ((p = strrchr(stat, ')')) == NULL || tck <= 0 || page <= 0 ||
	    sscanf(p + 2,
		"%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d "
		"%*d %*d %*d %*d %llu %llu %lld",
		&utime, &stime, &start, &vsize, &rss) != 5)
		return (OK);
	if ((f = fopen("/proc/stat", "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "btime %lld", &btime) == 1)
				break;
		fclose(f);
	}
	rc |= buf_printf(b,
	    "# HELP process_cpu_seconds_total User and system CPU time spent "
	    "in seconds.\n"
	    "# TYPE process_cpu_seconds_total counter\n"
	    "process_cpu_seconds_total %.2f\n"
	    "# HELP process_resident_memory_bytes Resident memory size in "
	    "bytes.\n"
	    "# TYPE process_resident_memory_bytes gauge\n"
	    "process_resident_memory_bytes %lld\n"
	    "# HELP process_virtual_memory_bytes Virtual memory size in "
	    "bytes.\n"
	    "# TYPE process_virtual_memory_bytes gauge\n"
	    "process_virtual_memory_bytes %llu\n",
	    (double)(utime + stime) / (double)tck, rss * (long long)page,
	    vsize);
	if (btime >= 0)
		rc |= buf_printf(b,
		    "# HELP process_start_time_seconds Start time of the "
		    "process since unix epoch in seconds.\n"
		    "# TYPE process_start_time_seconds gauge\n"
		    "process_start_time_seconds %.2f\n",
		    (double)btime + (double)start / (double)tck);
	if ((d = opendir("/proc/self/fd")) != NULL) {
		while ((de = readdir(d)) != NULL && fds < PROC_FDS_MAX)
			if (de->d_name[0] != '.')
				fds++;
		closedir(d);
		rc |= buf_printf(b,
		    "# HELP process_open_fds Number of open file "
		    "descriptors.\n"
		    "# TYPE process_open_fds gauge\n"
		    "process_open_fds %lld\n",
		    fds);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		rc |= buf_printf(b,
		    "# HELP process_max_fds Maximum number of open file "
		    "descriptors.\n"
		    "# TYPE process_max_fds gauge\n"
		    "process_max_fds %llu\n",
		    (unsigned long long)rl.rlim_cur);
	return (rc == OK ? OK : ERR_TOO_LARGE);
}

/* The job queue: its depth and oldest due job, and runs by kind. */
static int
jobs_render(struct buf *b, struct store *db)
{
	struct jobs_kind_stats ks;
	struct jobs_stats      js;
	const char	      *outcome[] = { "succeeded", "retried", "failed" };
	uint64_t	       v[3];
	size_t		       i, o;
	int64_t		       age;
	int		       rc;

	rc = buf_puts(b,
	    "# HELP carebase_jobs_runs_total Job runs in this process by kind "
	    "and outcome: succeeded, retried (failed, put back with a "
	    "backoff) or failed (for good: moved to failed_jobs).\n"
	    "# TYPE carebase_jobs_runs_total counter\n");
	for (i = 0; rc == OK && jobs_kind_stats(i, &ks) == OK; i++) {
		v[0] = ks.succeeded;
		v[1] = ks.retried;
		v[2] = ks.failed;
		for (o = 0; o < 3 && rc == OK; o++)
			rc = buf_printf(b,
			    "carebase_jobs_runs_total{kind=\"%s\","
			    "outcome=\"%s\"} %llu\n",
			    ks.kind, outcome[o], (unsigned long long)v[o]);
	}
	if (rc != OK)
		return (rc);
	memset(&js, 0, sizeof(js));
	if (jobs_stats(db, &js) != OK)
		return (buf_puts(b, "# jobs: database unavailable\n"));
	age = js.oldest_due_ms >= 0 ? time_now_ms() - js.oldest_due_ms : 0;
	return (buf_printf(b,
	    "# HELP carebase_jobs_queue_depth Jobs waiting or running.\n"
	    "# TYPE carebase_jobs_queue_depth gauge\n"
	    "carebase_jobs_queue_depth{state=\"queued\"} %lld\n"
	    "carebase_jobs_queue_depth{state=\"running\"} %lld\n"
	    "# HELP carebase_jobs_oldest_due_age_seconds How long the oldest "
	    "job that is due has waited to run (0 when none is due).\n"
	    "# TYPE carebase_jobs_oldest_due_age_seconds gauge\n"
	    "carebase_jobs_oldest_due_age_seconds %.3f\n"
	    "# HELP carebase_jobs_failed Jobs that used all their attempts "
	    "(failed_jobs rows).\n"
	    "# TYPE carebase_jobs_failed gauge\n"
	    "carebase_jobs_failed %lld\n"
	    "# HELP carebase_jobs_succeeded_total Jobs this process ran "
	    "successfully.\n"
	    "# TYPE carebase_jobs_succeeded_total counter\n"
	    "carebase_jobs_succeeded_total %llu\n"
	    "# HELP carebase_jobs_attempt_failures_total Job attempts that "
	    "failed in this process.\n"
	    "# TYPE carebase_jobs_attempt_failures_total counter\n"
	    "carebase_jobs_attempt_failures_total %llu\n",
	    (long long)js.queued, (long long)js.running,
	    (double)(age > 0 ? age : 0) / 1000.0, (long long)js.failed,
	    (unsigned long long)js.succeeded_total,
	    (unsigned long long)js.failures_total));
}

/* Backups, the database pool, mail, webhooks and the job queue. */
static int
store_render(struct buf *b, struct store *db)
{
	struct backup_stats bs;
	struct store_stats  ss;
	uint64_t	    sent, failed;
	int		    rc;

	backup_stats(&bs);
	rc = buf_printf(b,
	    "# HELP carebase_backup_runs_total Scheduled backups this process "
	    "ran (backup_cron).\n"
	    "# TYPE carebase_backup_runs_total counter\n"
	    "carebase_backup_runs_total %llu\n"
	    "# HELP carebase_backup_failures_total Of them, those that "
	    "failed.\n"
	    "# TYPE carebase_backup_failures_total counter\n"
	    "carebase_backup_failures_total %llu\n",
	    (unsigned long long)bs.runs, (unsigned long long)bs.failures);
	if (rc == OK && bs.last_ok_ms >= 0)
		rc = buf_printf(b,
		    "# HELP carebase_backup_last_success_age_seconds Age of "
		    "the newest backup in backup_dir.\n"
		    "# TYPE carebase_backup_last_success_age_seconds gauge\n"
		    "carebase_backup_last_success_age_seconds %lld\n",
		    (long long)((time_now_ms() - bs.last_ok_ms) / 1000));
	if (rc != OK)
		return (rc);
	store_stats(db, &ss);
	mail_stats(&sent, &failed);
	rc = buf_printf(b,
	    "# HELP carebase_db_pool_connections Database connections by "
	    "state.\n"
	    "# TYPE carebase_db_pool_connections gauge\n"
	    "carebase_db_pool_connections{state=\"open\"} %d\n"
	    "carebase_db_pool_connections{state=\"in_use\"} %d\n"
	    "# HELP carebase_db_pool_max_connections Connections the pool "
	    "may open (pool_max).\n"
	    "# TYPE carebase_db_pool_max_connections gauge\n"
	    "carebase_db_pool_max_connections %lld\n"
	    "# HELP carebase_db_pool_waits_total Times a request waited for a "
	    "connection.\n"
	    "# TYPE carebase_db_pool_waits_total counter\n"
	    "carebase_db_pool_waits_total %llu\n"
	    "# HELP carebase_db_writer_waits_total Times a write transaction "
	    "queued behind another of this process (SQLite).\n"
	    "# TYPE carebase_db_writer_waits_total counter\n"
	    "carebase_db_writer_waits_total %llu\n"
	    "# HELP carebase_db_second_connections_total Times a thread "
	    "holding a database connection asked for another (a bug; it is "
	    "not let wait).\n"
	    "# TYPE carebase_db_second_connections_total counter\n"
	    "carebase_db_second_connections_total %llu\n"
	    "# HELP carebase_db_round_trips_total Times a connection waited "
	    "for the database server's answer (PostgreSQL).\n"
	    "# TYPE carebase_db_round_trips_total counter\n"
	    "carebase_db_round_trips_total %llu\n"
	    "# HELP carebase_db_transactions_total Transactions begun (a "
	    "GET's handler reads in its caller's check's on SQLite).\n"
	    "# TYPE carebase_db_transactions_total counter\n"
	    "carebase_db_transactions_total %llu\n"
	    "# HELP carebase_mail_sent_total Mail messages handed to the SMTP "
	    "server.\n"
	    "# TYPE carebase_mail_sent_total counter\n"
	    "carebase_mail_sent_total %llu\n"
	    "# HELP carebase_mail_send_failures_total Mail sends that failed "
	    "(no smtp_url, refused, unreachable); the mail.send job retries "
	    "them.\n"
	    "# TYPE carebase_mail_send_failures_total counter\n"
	    "carebase_mail_send_failures_total %llu\n",
	    ss.open, ss.in_use, (long long)config.pool_max,
	    (unsigned long long)ss.waits, (unsigned long long)ss.writer_waits,
	    (unsigned long long)ss.nested, (unsigned long long)ss.round_trips,
	    (unsigned long long)ss.transactions, (unsigned long long)sent,
	    (unsigned long long)failed);
	if (rc != OK || (rc = inbox_metrics(b)) != OK)
		return (rc);
	return (jobs_render(b, db));
}

/* The audit writer of reads' rows (resource/audit_queue.c). */
static int
audit_render(struct buf *b)
{
	struct audit_queue_stats as;

	audit_queue_stats(&as);
	return (buf_printf(b,
	    "# HELP carebase_audit_queue_rows Audit rows of reads waiting "
	    "to be written.\n"
	    "# TYPE carebase_audit_queue_rows gauge\n"
	    "carebase_audit_queue_rows %llu\n"
	    "# HELP carebase_audit_flush_failures_total Writes of a batch of "
	    "reads' audit rows that failed (each is tried again).\n"
	    "# TYPE carebase_audit_flush_failures_total counter\n"
	    "carebase_audit_flush_failures_total %llu\n"
	    "# HELP carebase_audit_refused_total Audited reads answered 503 "
	    "for the audit queue (full, or its writer behind).\n"
	    "# TYPE carebase_audit_refused_total counter\n"
	    "carebase_audit_refused_total %llu\n"
	    "# HELP carebase_audit_behind 1 while audited reads are refused "
	    "(audit_fail_max failed writes in a row, or a row older than "
	    "audit_queue_age_ms).\n"
	    "# TYPE carebase_audit_behind gauge\n"
	    "carebase_audit_behind %d\n",
	    (unsigned long long)as.queued,
	    (unsigned long long)as.flush_failures,
	    (unsigned long long)as.refused, as.behind));
}

/* The modules' own families (struct module's metrics). */
static int
modules_render(struct buf *b)
{
	const struct module *const *all;
	size_t			    n, i;
	int			    rc = OK;

	all = modules_all(&n);
	for (i = 0; i < n && rc == OK; i++)
		if (all[i]->metrics != NULL)
			rc = all[i]->metrics(b);
	return (rc);
}

void
ops_metrics(struct request *req)
{
	struct buf b;
	char	  *out;
	size_t	   len;
	int	   rc = OK;

	if (metrics_allowed(req) != OK)
		return;
	buf_init(&b, METRICS_MAX);
	rc |= http_metrics_render(&b);
	rc |= process_render(&b);
	rc |= buf_puts(&b,
	    "# HELP carebase_build_info What is running: its version, the "
	    "commit it was built from and the database in use.\n"
	    "# TYPE carebase_build_info gauge\n"
	    "carebase_build_info{version=\"");
	rc |= buf_puts(&b, build_version);
	rc |= buf_puts(&b, "\",commit=\"");
	rc |= buf_puts(&b, build_commit);
	rc |= buf_printf(&b, "\",database=\"%s\"} 1\n",
	    store_dialect(req->db) == STORE_SQLITE ? "sqlite" : "postgres");
	if (rc == OK)
		rc = store_render(&b, req->db);
	if (rc == OK)
		rc = buf_printf(&b,
		    "# HELP carebase_process_start_time_seconds Start time of "
		    "the process (as process_start_time_seconds).\n"
		    "# TYPE carebase_process_start_time_seconds gauge\n"
		    "carebase_process_start_time_seconds %lld\n"
		    "# HELP carebase_webhook_refusals_dropped_total Webhook "
		    "calls refused for their credentials and not recorded "
		    "(their address held webhook_refused_max_per_address "
		    "rows).\n"
		    "# TYPE carebase_webhook_refusals_dropped_total counter\n"
		    "carebase_webhook_refusals_dropped_total %llu\n",
		    (long long)(started_ms / 1000),
		    (unsigned long long)inbox_refusals_dropped());
	if (rc == OK)
		rc = audit_render(&b);
	if (rc == OK)
		rc = list_cache_metrics(&b);
	if (rc == OK)
		rc = modules_render(&b);
	if (rc != OK) {
		buf_free(&b);
		http_problem(
		    req, ERR_INTERNAL, NULL, "metrics could not be rendered");
		return;
	}
	out = buf_take(&b, &len);
	http_send_take(
	    req, 200, "text/plain; version=0.0.4; charset=utf-8", out, len);
}
