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

/* The answers, for the OpenAPI document (struct route's api). */
static const char api_healthz[] =
    "{\"answers\":{\"200\":{\"description\":\"the process is up\","
    "\"schema\":{\"type\":\"object\",\"required\":[\"status\"],"
    "\"properties\":{\"status\":{\"const\":\"ok\"}}}}}}";
static const char api_readyz[] =
    "{\"codes\":{\"503\":[\"MIGRATIONS_PENDING\",\"DATABASE_UNREACHABLE\"]},\"answers\":{\"200\":{\"description\":\"ready to serve\","
    "\"schema\":{\"type\":\"object\",\"required\":[\"status\"],"
    "\"properties\":{\"status\":{\"const\":\"ready\"}}}}},"
    "\"problems\":{\"503\":\"MIGRATIONS_PENDING or "
    "DATABASE_UNREACHABLE\"}}";
static const char api_metrics[] =
    "{\"security\":{\"metricsToken\":{\"type\":\"http\","
    "\"scheme\":\"bearer\",\"description\":\"the scrape token "
    "(metrics_token), or the bearer token of a staff member whose role "
    "holds metrics:read:all\"}},"
    "\"answers\":{\"200\":{\"description\":\"the Prometheus text "
    "exposition format 0.0.4\",\"type\":\"text/plain; version=0.0.4\","
    "\"schema\":{\"type\":\"string\"}}},"
    "\"problems\":{\"401\":\"no token, or one not accepted\","
    "\"403\":\"a signed-in caller without metrics:read:all\"}}";

static const struct route ops_routes[] = {
	{ HTTP_GET, "/healthz", healthz, ROUTE_PUBLIC, "the process is up",
	    NULL, api_healthz },
	{ HTTP_GET, "/readyz", readyz, ROUTE_PUBLIC,
	    "the database answers and every migration is applied", NULL,
	    api_readyz },
	/* Public to the dispatcher: its credentials are its own (a scrape
	 * token, or none on metrics_listen), checked by ops_metrics. */
	{ HTTP_GET, "/metrics", ops_metrics, ROUTE_PUBLIC,
	    "Prometheus metrics (text format 0.0.4): the scrape token "
	    "(metrics_token) or a staff token with metrics:read:all, none on "
	    "metrics_listen or with metrics_public",
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

	ops_metrics_start();
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
