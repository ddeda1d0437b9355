#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "ops/inbox.h"
#include "ops/ops.h"
#include "ops/ops_int.h"
#include "resource/hooks.h"
#include "store/backup.h"
#include "store/jobs.h"
#include "store/migrate.h"
#include "store/store.h"

#define METRICS_MAX (4 * 1024 * 1024)

static void healthz(struct request *);
static void readyz(struct request *);
static void metrics(struct request *);
static int  metrics_store(struct buf *, struct store *);

static int64_t started_ms; /* for carebase_process_start_time_seconds */

/* The answers, for the OpenAPI document (struct route's api). */
static const char api_healthz[] =
    "{\"answers\":{\"200\":{\"description\":\"the process is up\","
    "\"schema\":{\"type\":\"object\",\"required\":[\"status\"],"
    "\"properties\":{\"status\":{\"const\":\"ok\"}}}}}}";
static const char api_readyz[] =
    "{\"answers\":{\"200\":{\"description\":\"ready to serve\","
    "\"schema\":{\"type\":\"object\",\"required\":[\"status\"],"
    "\"properties\":{\"status\":{\"const\":\"ready\"}}}}},"
    "\"problems\":{\"503\":\"MIGRATIONS_PENDING or "
    "DATABASE_UNREACHABLE\"}}";
static const char api_metrics[] =
    "{\"answers\":{\"200\":{\"description\":\"the Prometheus text "
    "exposition format 0.0.4\",\"type\":\"text/plain\",\"schema\":{"
    "\"type\":\"string\"}}}}";

static const struct route ops_routes[] = {
	{ HTTP_GET, "/healthz", healthz, ROUTE_PUBLIC, "the process is up",
	    NULL, api_healthz },
	{ HTTP_GET, "/readyz", readyz, ROUTE_PUBLIC,
	    "the database answers and every migration is applied", NULL,
	    api_readyz },
	{ HTTP_GET, "/metrics", metrics, ROUTE_PUBLIC, "Prometheus metrics",
	    NULL, api_metrics },
};

static const struct job_kind ops_jobs[] = {
	{ "mail.send", mail_job_run, 0 },
	{ "webhooks.prune", inbox_prune_job, 0 },
	{ "backup.run", backup_job, 0 }, /* scheduled by backup_cron */
};

/* The webhook inbox's retention (webhook_inbox_retention_days). */
static const struct job_schedule ops_schedules[] = {
	{ "webhooks.prune", "41 * * * *", "webhooks.prune", NULL },
};

static int
ops_init(struct store *db)
{
	int rc;

	started_ms = time_now_ms();
	hooks_mail_set(ops_mail_enqueue); /* the others' mail, through hooks */
	if ((rc = mail_templates_init()) != OK && rc != ERR_CONFLICT)
		return (rc);
	return (inbox_init());
}

static const struct resource *const ops_resources[] = {
	&email_log_resource,
};

const struct module ops_module = {
	"ops",
	ops_routes,
	NELEM(ops_routes),
	ops_jobs,
	NELEM(ops_jobs),
	ops_schedules,
	NELEM(ops_schedules),
	ops_resources,
	NELEM(ops_resources),
	ops_init,
	NULL,
};

static void
healthz(struct request *req)
{
	http_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

static void
readyz(struct request *req)
{
	switch (migrate_current(req->db)) {
	case OK:
		http_json(req, 200, json_pack("{s:s}", "status", "ready"));
		break;
	case ERR_UNAVAILABLE:
		http_problem(req, ERR_UNAVAILABLE, "MIGRATIONS_PENDING",
		    "migrations are pending: run `carebase migrate`");
		break;
	default:
		http_problem(req, ERR_UNAVAILABLE, "DATABASE_UNREACHABLE",
		    "the database cannot be read");
		break;
	}
}

static int
metrics_store(struct buf *b, struct store *db)
{
	struct backup_stats bs;
	struct jobs_stats   js;
	struct store_stats  ss;
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
	rc = buf_printf(b,
	    "# HELP carebase_db_pool_connections Database connections by "
	    "state.\n"
	    "# TYPE carebase_db_pool_connections gauge\n"
	    "carebase_db_pool_connections{state=\"open\"} %d\n"
	    "carebase_db_pool_connections{state=\"in_use\"} %d\n"
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
	    "carebase_db_second_connections_total %llu\n",
	    ss.open, ss.in_use, (unsigned long long)ss.waits,
	    (unsigned long long)ss.writer_waits, (unsigned long long)ss.nested);
	if (rc != OK)
		return (rc);
	memset(&js, 0, sizeof(js));
	if (jobs_stats(db, &js) != OK)
		return (buf_puts(b, "# jobs: database unavailable\n"));
	return (buf_printf(b,
	    "# HELP carebase_jobs_queue_depth Jobs waiting or running.\n"
	    "# TYPE carebase_jobs_queue_depth gauge\n"
	    "carebase_jobs_queue_depth{state=\"queued\"} %lld\n"
	    "carebase_jobs_queue_depth{state=\"running\"} %lld\n"
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
	    (long long)js.queued, (long long)js.running, (long long)js.failed,
	    (unsigned long long)js.succeeded_total,
	    (unsigned long long)js.failures_total));
}

static void
metrics(struct request *req)
{
	struct buf b;
	char	  *out;
	size_t	   len;

	buf_init(&b, METRICS_MAX);
	if (http_metrics_render(&b) != OK || metrics_store(&b, req->db) != OK ||
	    buf_printf(&b,
		"# HELP carebase_process_start_time_seconds Start time of the "
		"process.\n"
		"# TYPE carebase_process_start_time_seconds gauge\n"
		"carebase_process_start_time_seconds %lld\n"
		"# HELP carebase_webhook_refusals_dropped_total Webhook calls "
		"refused for their credentials and not recorded (their address "
		"held webhook_refused_max_per_address rows).\n"
		"# TYPE carebase_webhook_refusals_dropped_total counter\n"
		"carebase_webhook_refusals_dropped_total %llu\n",
		(long long)(started_ms / 1000),
		(unsigned long long)inbox_refusals_dropped()) != OK) {
		buf_free(&b);
		http_problem(
		    req, ERR_INTERNAL, NULL, "metrics could not be rendered");
		return;
	}
	out = buf_take(&b, &len);
	http_send(
	    req, 200, "text/plain; version=0.0.4; charset=utf-8", out, len);
	free(out);
}
