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
    "{\"codes\":{\"401\":[\"UNAUTHORIZED\",\"SESSION_EXPIRED\","
    "\"TOKEN_IN_QUERY\"]},\"security\":{\"metricsToken\":{\"type\":\"http\","
    "\"scheme\":\"bearer\",\"description\":\"the scrape token "
    "(metrics_token), or the bearer token of a staff member whose role "
    "holds metrics:read:all\"}},"
    "\"answers\":{\"200\":{\"description\":\"the Prometheus text "
    "exposition format 0.0.4\",\"type\":\"text/plain; version=0.0.4\","
    "\"schema\":{\"type\":\"string\"}}},"
    "\"problems\":{\"401\":\"no token, or one not accepted\","
    "\"403\":\"a signed-in caller without metrics:read:all\"}}";

/* The console's operations (console.c). */
/* clang-format off */
#define API_QUERY(n, schema, what)					\
	"{\"name\":\"" n "\",\"in\":\"query\",\"description\":\"" what	\
	"\",\"schema\":" schema "}"
#define API_PAGE_PARAMS							\
	"{\"name\":\"limit\",\"in\":\"query\",\"schema\":{\"type\":"	\
	"\"integer\",\"minimum\":1,\"maximum\":200}},"			\
	API_QUERY("cursor", "{\"type\":\"string\"}",			\
	    "next_cursor of the previous page")
#define API_NULLABLE(t) "{\"type\":[\"" t "\",\"null\"]}"
#define API_PAGE_OF(what, item)						\
	"\"answers\":{\"200\":{\"description\":\"" what "\",\"schema\":"\
	"{\"type\":\"object\",\"required\":[\"data\",\"next_cursor\"],"	\
	"\"properties\":{\"data\":{\"type\":\"array\",\"items\":" item	\
	"},\"next_cursor\":" API_NULLABLE("string") "}}}}"
#define API_OUTCOME							\
	"{\"enum\":[\"pending\",\"processed\",\"refused\",\"failed\"]}"
#define API_INBOX_ROW							\
	"{\"type\":\"object\",\"required\":[\"id\",\"source\","	\
	"\"received_at\",\"outcome\",\"http_status\",\"attempts\","	\
	"\"signature_ok\",\"body_bytes\",\"body\",\"error\","		\
	"\"processed_at\"],\"properties\":{\"id\":{\"type\":\"string\","\
	"\"format\":\"uuid\"},\"source\":{\"type\":\"string\"},"	\
	"\"received_at\":{\"type\":\"string\",\"format\":\"date-time\"},"\
	"\"outcome\":" API_OUTCOME ",\"http_status\":"			\
	API_NULLABLE("integer") ",\"attempts\":{\"type\":\"integer\"},"	\
	"\"signature_ok\":{\"type\":\"boolean\"},\"body_bytes\":{"	\
	"\"type\":\"integer\"},\"body\":{\"enum\":[\"kept\",\"erased\","	\
	"\"none\"],\"description\":\"kept, erased with the person it "	\
	"concerned, or none (a refused call's metadata only); never "	\
	"shown\"},\"error\":" API_NULLABLE("string") ",\"processed_at\":"\
	"{\"type\":[\"string\",\"null\"],\"format\":\"date-time\"}}}"
#define API_FAILED_JOB							\
	"{\"type\":\"object\",\"required\":[\"id\",\"job_id\",\"kind\","\
	"\"queue\",\"attempts\",\"failed_at\",\"error\"],\"properties\":{"\
	"\"id\":{\"type\":\"string\",\"format\":\"uuid\"},\"job_id\":{"	\
	"\"type\":\"string\"},\"kind\":{\"type\":\"string\"},\"queue\":{"\
	"\"type\":\"string\"},\"attempts\":{\"type\":\"integer\"},"	\
	"\"failed_at\":{\"type\":\"string\",\"format\":\"date-time\"},"	\
	"\"error\":{\"type\":\"string\"}}}"
/* clang-format on */
static const char api_inbox_list[] = "{\"parameters\":[" API_QUERY("source",
    "{\"type\":\"string\"}",
    "exact match (storyblok, booking)") "," API_QUERY("outcome", API_OUTCOME,
    "exact match; failed: the ones to replay") "," API_PAGE_PARAMS
					       "]," API_PAGE_OF(
						   "a page of inbound webhooks, newest "
						   "first, without their bodies",
						   API_INBOX_ROW) ",\"problems\":{"
								  "\"403\":\"not an admin\",\"422\":\"a bad filter, limit or "
								  "cursor\"}}";
static const char api_inbox_replay[] =
    "{\"codes\":{\"409\":[\"WEBHOOK_ALREADY_PROCESSED\","
    "\"WEBHOOK_BODY_ERASED\",\"WEBHOOK_BODY_TRUNCATED\","
    "\"WEBHOOK_OUTCOME_NOT_RECORDED\"],\"403\":["
    "\"WEBHOOK_SIGNATURE_FAILED\"],\"503\":[\"SYSTEM_KEY_UNAVAILABLE\"]},\"body\":{\"type\":\"object\","
    "\"properties\":{\"force\":{\"type\":\"boolean\",\"default\":false,"
    "\"description\":\"run a row processed already again\"}},"
    "\"additionalProperties\":false},\"answers\":{\"200\":{"
    "\"description\":\"the replay ran: its outcome (refused or failed "
    "with the handler's code and error)\",\"schema\":{\"type\":"
    "\"object\",\"required\":[\"id\",\"outcome\",\"http_status\","
    "\"code\",\"error\"],\"properties\":{\"id\":{\"type\":\"string\","
    "\"format\":\"uuid\"},\"outcome\":{\"enum\":[\"processed\","
    "\"refused\",\"failed\"]},\"http_status\":{\"type\":\"integer\"},"
    "\"code\":" API_NULLABLE("string") ",\"error\":" API_NULLABLE(
	"string") "}}}},\"problems\":{\"403\":\"not an admin, "
		  "or WEBHOOK_SIGNATURE_FAILED: its signature did not verify\","
		  "\"404\":\"no such webhook\",\"409\":\"WEBHOOK_ALREADY_PROCESSED "
		  "(without force; also when another replay processed it "
		  "meanwhile), WEBHOOK_BODY_ERASED, WEBHOOK_BODY_TRUNCATED, "
		  "or WEBHOOK_OUTCOME_NOT_RECORDED (it ran, but the database "
		  "refused its outcome: replay it again)\","
		  "\"422\":\"a bad body\",\"503\":\"SYSTEM_KEY_UNAVAILABLE: the "
		  "key that seals stored bodies is not loaded; or the slow pool "
		  "is full (Retry-After)\"}}";
static const char api_failed_jobs[] = "{\"parameters\":[" API_QUERY("kind",
    "{\"type\":\"string\"}",
    "exact match (mail.send, ...)") "," API_PAGE_PARAMS "]," API_PAGE_OF("a page of failed jobs, newest first, without their "
									 "payloads",
    API_FAILED_JOB) ",\"problems\":{\"403\":\"not an "
		    "admin\",\"422\":\"a bad filter, limit or cursor\"}}";
static const char api_failed_job_retry[] =
    "{\"answers\":{\"202\":{\"description\":\"queued again with fresh "
    "attempts\",\"schema\":{\"type\":\"object\",\"required\":[\"id\","
    "\"job_id\"],\"properties\":{\"id\":{\"type\":\"string\","
    "\"format\":\"uuid\"},\"job_id\":{\"type\":\"string\","
    "\"description\":\"the new job\"}}}}},\"problems\":{\"403\":\"not "
    "an admin\",\"404\":\"no such failed job\"}}";
static const char api_audit_verify[] =
    "{\"codes\":{\"409\":[\"VERIFY_IN_PROGRESS\"]},\"body\":{\"type\":"
    "\"object\",\"properties\":{\"anchor\":{\"type\":\"string\","
    "\"description\":\"SEQ:HASH from an earlier check or `carebase audit "
    "head`: that row must still be there with that hash\"}},"
    "\"additionalProperties\":false},\"answers\":{\"200\":{"
    "\"description\":\"the chain walked from its first row, for "
    "audit_verify_max_ms at most\",\"schema\":{\"type\":\"object\","
    "\"required\":[\"ok\",\"complete\",\"rows\",\"head\","
    "\"checked_to\",\"first_broken_seq\",\"detail\"],\"properties\":{\"ok\":{\"type\":"
    "\"boolean\",\"description\":\"the whole chain checked and "
    "intact\"},\"complete\":{\"type\":\"boolean\",\"description\":"
    "\"false: the walk stopped at its time limit (audit_verify_max_ms) "
    "with the chain intact so far; `carebase audit verify` walks it "
    "all\"},\"rows\":{\"type\":\"integer\",\"description\":\"rows "
    "whose link and hash held (with an anchor that differs, every row "
    "walked: the chain holds, rewritten)\"},\"head\":{\"type\":["
    "\"string\",\"null\"],\"description\":\"SEQ:HASH of the last row, "
    "an anchor for a later check; null unless ok (broken, or stopped "
    "at the time limit)\"},\"checked_to\":{\"type\":[\"string\","
    "\"null\"],\"description\":\"SEQ:HASH of the last row checked, "
    "however far the walk got; null when broken\"},"
    "\"first_broken_seq\":" API_NULLABLE(
	"integer") ",\"detail\":{\"type\":\"string\"}}}}},"
		   "\"problems\":{\"403\":\"not an admin\",\"409\":"
		   "\"VERIFY_IN_PROGRESS: another check is walking the log in "
		   "this process (Retry-After: the seconds left of its time "
		   "limit)\",\"422\":\"a bad anchor\"}}";

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
	{ HTTP_GET, "/v1/webhook-inbox", ops_inbox_list, 0,
	    "inbound webhooks and their outcomes, newest first, without "
	    "bodies (admins; source, outcome, limit, cursor)",
	    NULL, api_inbox_list },
	{ HTTP_POST, "/v1/webhook-inbox/{id}/replay", ops_inbox_replay,
	    ROUTE_JSON_BODY | ROUTE_JSON_OPTIONAL | ROUTE_SLOW,
	    "run a stored webhook again (admins; force for one processed "
	    "already), as `carebase webhooks replay`",
	    NULL, api_inbox_replay },
	{ HTTP_GET, "/v1/failed-jobs", ops_failed_jobs_list, 0,
	    "jobs that gave up, newest first, without payloads (admins; "
	    "kind, limit, cursor)",
	    NULL, api_failed_jobs },
	{ HTTP_POST, "/v1/failed-jobs/{id}/retry", ops_failed_job_retry, 0,
	    "queue a failed job again (admins), as `carebase jobs retry`", NULL,
	    api_failed_job_retry },
	{ HTTP_POST, "/v1/audit-log/verify", ops_audit_verify,
	    ROUTE_JSON_BODY | ROUTE_JSON_OPTIONAL | ROUTE_SLOW,
	    "walk the audit log's hash chain (admins; an anchor optional), "
	    "as `carebase audit verify`",
	    NULL, api_audit_verify },
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
