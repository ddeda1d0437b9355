/*
 * The webhook inbox's rows once their request is answered (see inbox.h):
 * retention (inbox_prune, the webhooks.prune job), the GDPR hook (a
 * person's rows in their export, their bodies removed on erasure), and
 * `carebase webhooks` (list, replay, prune).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "ops/inbox.h"
#include "ops/ops_int.h"
#include "resource/hooks.h"
#include "resource/resource.h"
#include "store/jobs.h"
#include "store/store.h"

static int prune_tx(struct tx *, void *);
static int gdpr_export(struct tx *, const char *, json_t *);
static int gdpr_erase(struct tx *, const char *);
static int cli_list(struct store *, int, FILE *);

/* What gdpr_export writes of a row (the export's records.webhook_inbox). */
static const struct gdpr_hook gdpr_hook = {
	.name = "webhook_inbox",
	.export = gdpr_export,
	.erase = gdpr_erase,
	.schema =
	    "{\"type\":\"object\",\"required\":[\"id\",\"source\","
	    "\"received_at\",\"outcome\",\"http_status\"],"
	    "\"properties\":{\"id\":{\"type\":\"string\",\"format\":"
	    "\"uuid\"},\"source\":{\"type\":\"string\","
	    "\"description\":\"the sender, e.g. simplybook\"},"
	    "\"received_at\":{\"type\":\"string\",\"format\":"
	    "\"date-time\"},\"outcome\":{\"enum\":[\"pending\","
	    "\"processed\",\"refused\",\"failed\"]},\"http_status\":{"
	    "\"type\":[\"integer\",\"null\"],\"description\":\"the "
	    "last answer to the sender\"}},\"additionalProperties\":false}",
};

int
inbox_init(void)
{
	int rc;

	if ((rc = hooks_gdpr_register(&gdpr_hook)) != OK && rc != ERR_CONFLICT)
		return (rc);
	return (OK);
}

/* Retention */

struct inbox_prune {
	int64_t before;	 /* received_at cut-off, ms */
	int64_t deleted; /* this batch */
	int64_t failed;
};

/* One batch: count the failed ones among the oldest, then delete them. */
static int
prune_tx(struct tx *tx, void *arg)
{
	struct inbox_prune *p = arg;
	struct stmt	   *st;
	int		    rc;

	p->deleted = p->failed = 0;
	st = store_prepare(tx,
	    "SELECT count(*), COALESCE(sum(CASE WHEN "
	    "outcome = 'failed' THEN 1 ELSE 0 END), 0) FROM (SELECT outcome "
	    "FROM webhook_inbox WHERE received_at < ? ORDER BY received_at "
	    "LIMIT ?) old");
	store_bind_int64(st, 1, p->before);
	store_bind_int64(st, 2, INBOX_PRUNE_BATCH);
	if ((rc = store_step(st)) == STORE_ROW)
		p->failed = store_col_int64(st, 1);
	store_finalize(st);
	if (rc != STORE_ROW)
		return (rc == STORE_DONE ? ERR_DB : rc);
	st = store_prepare(tx,
	    "DELETE FROM webhook_inbox WHERE id IN (SELECT "
	    "id FROM webhook_inbox WHERE received_at < ? ORDER BY received_at "
	    "LIMIT ?)");
	store_bind_int64(st, 1, p->before);
	store_bind_int64(st, 2, INBOX_PRUNE_BATCH);
	rc = store_step(st);
	p->deleted = store_changes(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

int
inbox_prune(struct store *db, int64_t *deleted, int64_t *failed)
{
	struct inbox_prune p;
	int64_t		   n = 0, nf = 0;
	int		   rc;

	memset(&p, 0, sizeof(p));
	p.before = time_now_ms() -
	    config.webhook_inbox_retention_days * 24LL * 3600 * 1000;
	do {
		if ((rc = store_run(db, STORE_TX_WRITE, prune_tx, &p)) != OK)
			break;
		n += p.deleted;
		nf += p.failed;
	} while (p.deleted == INBOX_PRUNE_BATCH);
	if (n > 0)
		log_info("event=webhook_inbox_pruned deleted=%lld "
			 "failed_unreplayed=%lld retention_days=%lld",
		    (long long)n, (long long)nf,
		    (long long)config.webhook_inbox_retention_days);
	if (deleted != NULL)
		*deleted = n;
	if (failed != NULL)
		*failed = nf;
	return (rc);
}

int
inbox_prune_job(struct store *db, const struct job *job, char *err)
{
	int rc;

	(void)job;
	if ((rc = inbox_prune(db, NULL, NULL)) != OK)
		snprintf(err, JOB_ERR_LEN, "webhooks.prune: %s", err_code(rc));
	return (rc);
}

/* GDPR */

/* The rows tied to the person, without their bodies (their content is
 * in the module's own export, e.g. therapy_bookings): one past the
 * export's bound, which hooks_gdpr_export cuts and reports truncated. */
static int
gdpr_export(struct tx *tx, const char *user_id, json_t *rows)
{
	struct stmt *st;
	char	     ts[ISO_TIME_LEN];
	int	     rc;

	st = store_prepare(tx,
	    "SELECT id, source, received_at, outcome, "
	    "http_status FROM webhook_inbox WHERE user_id = ? OR email_index = "
	    "(SELECT email_index FROM users WHERE id = ?) ORDER BY "
	    "received_at, id LIMIT ?");
	store_bind_text(st, 1, user_id);
	store_bind_text(st, 2, user_id);
	store_bind_int64(st, 3, RESOURCE_EXPORT_MAX + 1);
	while ((rc = store_step(st)) == STORE_ROW)
		json_array_append_new(rows,
		    json_pack("{s:s,s:s,s:s,s:s,s:o}", "id",
			store_col_text(st, 0), "source", store_col_text(st, 1),
			"received_at",
			time_format_iso(store_col_int64(st, 2), ts), "outcome",
			store_col_text(st, 3), "http_status",
			store_col_is_null(st, 4)
			    ? json_null()
			    : json_integer(store_col_int64(st, 4))));
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

/*
 * Runs before the users row is anonymised, so its email_index is still
 * there: rows tied by user id or by the address lose their body and the
 * index; the outcome, times and user id (of an anonymised row) stay.
 */
static int
gdpr_erase(struct tx *tx, const char *user_id)
{
	struct stmt *st;
	int64_t	     now = time_now_ms();
	int	     rc;

	st = store_prepare(tx,
	    "UPDATE webhook_inbox SET body = NULL, "
	    "body_erased_at = COALESCE(body_erased_at, ?), email_index = NULL, "
	    "updated_at = ? WHERE user_id = ? OR email_index = (SELECT "
	    "email_index FROM users WHERE id = ?)");
	store_bind_int64(st, 1, now);
	store_bind_int64(st, 2, now);
	store_bind_text(st, 3, user_id);
	store_bind_text(st, 4, user_id);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

/* Command line */

static int
cli_list(struct store *db, int failed_only, FILE *out)
{
	struct tx   *tx;
	struct stmt *st;
	char	     ts[ISO_TIME_LEN];
	int	     rc, step;

	if ((rc = store_tx_begin(db, STORE_TX_READ, &tx)) != OK)
		return (rc);
	st = store_prepare(tx,
	    failed_only
		? "SELECT id, source, received_at, outcome, http_status, "
		  "attempts, "
		  "signature_ok, body_bytes, error, body_erased_at, body IS "
		  "NULL "
		  "FROM webhook_inbox "
		  "WHERE outcome = 'failed' ORDER BY received_at DESC, id DESC "
		  "LIMIT 1000"
		: "SELECT id, source, received_at, outcome, http_status, "
		  "attempts, "
		  "signature_ok, body_bytes, error, body_erased_at, body IS "
		  "NULL "
		  "FROM webhook_inbox "
		  "ORDER BY received_at DESC, id DESC LIMIT 1000");
	fprintf(out,
	    "id\tsource\treceived_at\toutcome\thttp_status\tattempts"
	    "\tsignature_ok\tbytes\tbody\terror\n");
	while ((step = store_step(st)) == STORE_ROW)
		fprintf(out, "%s\t%s\t%s\t%s\t%lld\t%lld\t%lld\t%lld\t%s\t%s\n",
		    store_col_text(st, 0), store_col_text(st, 1),
		    time_format_iso(store_col_int64(st, 2), ts),
		    store_col_text(st, 3), (long long)store_col_int64(st, 4),
		    (long long)store_col_int64(st, 5),
		    (long long)store_col_int64(st, 6),
		    (long long)store_col_int64(st, 7),
		    !store_col_is_null(st, 9)	       ? "erased"
			: store_col_int64(st, 10) != 0 ? "none"
						       : "kept",
		    store_col_is_null(st, 8) ? "-" : store_col_text(st, 8));
	rc = step == STORE_DONE ? OK : step;
	store_finalize(st);
	store_tx_rollback(tx);
	return (rc);
}

int
inbox_cli(struct store *db, int argc, char **argv, FILE *out)
{
	struct inbox_result r;
	char		    outcome[INBOX_OUTCOME_LEN];
	int64_t		    n, nf;
	int		    rc, force = 0;

	if (argc >= 1 && strcmp(argv[0], "list") == 0 &&
	    (argc == 1 || (argc == 2 && strcmp(argv[1], "--failed") == 0)))
		return (cli_list(db, argc == 2, out));
	if (argc == 1 && strcmp(argv[0], "prune") == 0) {
		if ((rc = inbox_prune(db, &n, &nf)) != OK) {
			fprintf(stderr, "carebase: webhooks prune: %s\n",
			    err_code(rc));
			return (rc);
		}
		fprintf(out,
		    "webhooks: %lld deleted (%lld failed, never "
		    "replayed), older than %lld days\n",
		    (long long)n, (long long)nf,
		    (long long)config.webhook_inbox_retention_days);
		return (OK);
	}
	if (argc == 3 && strcmp(argv[0], "replay") == 0 &&
	    (strcmp(argv[1], "--force") == 0) !=
		(strcmp(argv[2], "--force") == 0)) {
		force = 1;
		if (strcmp(argv[1], "--force") == 0)
			argv[1] = argv[2];
	}
	if ((argc == 2 || force) && strcmp(argv[0], "replay") == 0) {
		rc = inbox_replay(db, NULL, NULL, argv[1], force, outcome, &r);
		if (outcome[0] == '\0')
			fprintf(stderr, "carebase: webhooks replay %s: %s\n",
			    argv[1], r.error);
		else if (rc == OK)
			fprintf(out, "webhooks: %s processed\n", argv[1]);
		else
			fprintf(out, "webhooks: %s %s (%d %s): %s\n", argv[1],
			    outcome, err_http_status(rc),
			    r.code[0] ? r.code : err_code(rc), r.error);
		inbox_result_reset(&r);
		return (rc);
	}
	fprintf(stderr,
	    "usage: carebase webhooks list [--failed] | webhooks "
	    "replay ID [--force] | webhooks prune\n");
	return (ERR_USAGE);
}
