/*
 * The webhook inbox (see inbox.h): store every inbound body with its
 * outcome, run a source's handler on it, replay it from the command line.
 *
 * One request:
 *
 *	verify fails			refused (401/503), signature_ok 0,
 *					metadata only, bounded per address
 *					(inbox_refused.c)
 *	body over webhook_body_limit	refused (413), kept truncated
 *	otherwise			stored pending and committed, then
 *					prepare (no transaction), then process
 *					and "processed" in one transaction; on
 *					failure the outcome in a transaction of
 *					its own: nothing the handler did stays
 *
 * Privacy (see inbox.h): the outcome records the user and address index
 * the source tied the body to; the GDPR hook removes the bodies of a
 * person's rows on erasure; inbox_prune deletes rows past retention
 * (both in inbox_rows.c, with `carebase webhooks`).
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/keyring.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "ops/inbox.h"
#include "ops/ops_int.h"
#include "resource/audit.h"
#include "store/store.h"

#define HEADER_VALUE_MAX 256 /* bytes of a kept header value */
#define NOUTCOMES	 3   /* counted_outcome */

/* The inbox row being written: what inbox_store and inbox_record need. */
struct inbox_row {
	char	    id[UUID_STR_LEN];
	const char *source;
	const char *request_id;
	const char *body;
	size_t	    kept;     /* bytes of body stored */
	size_t	    received; /* bytes received */
	int	    signature_ok;
	json_t	   *headers; /* borrowed */
	const char *outcome;
	int	    http_status;
	const char *error;
	int	    replay;	     /* audit the attempt */
	int	    force;	     /* replay: asked to run a processed row */
	const struct principal *who; /* replay: who asked (NULL: the CLI) */
	struct request	       *req; /* replay: the request (NULL: the CLI) */
	const char	       *user_id;     /* NULL: none resolved */
	const char	       *email_index; /* NULL: none named */
	const char	       *client_addr; /* the sender, as seen */
	const char	       *client_key;  /* its limit key */
	int keep_processed; /* a failure: a processed row stays so */
};

/* One run of a handler's process step, for store_run. */
struct inbox_run {
	const struct inbox_source *src;
	const char		  *id;
	const char		  *body;
	size_t			   len;
	json_t			  *work;
	int			   replay;
	int			   force; /* replay: a processed row too */
	int			skipped;  /* replay: found processed, not run */
	const struct principal *who;	  /* as struct inbox_row's */
	struct request	       *req;
	struct inbox_result    *r;
	char			email_index[65]; /* from prepare */
};

static const struct inbox_source *sources[INBOX_SOURCE_MAX];
static size_t			  nsources;

/* Calls received by this process, by source (as sources[]) and outcome. */
static const char *const counted_outcome[] = { "processed", "refused",
	"failed" };
static _Atomic uint64_t	 received[INBOX_SOURCE_MAX][NOUTCOMES];

static const char *outcome_of(int);
static json_t	  *headers_kept(struct request *, const struct inbox_source *);
static int	   store_tx(struct tx *, void *);
static int	   record_tx(struct tx *, void *);
static int	   process_tx(struct tx *, void *);
static int	   replay_claim(struct tx *, struct inbox_run *);
static int	   inbox_run(struct store *, const struct inbox_source *,
	    const struct principal *, struct request *, const char *, const char *,
	    size_t, int, int, struct inbox_result *, char *);
static void	   answer(
	   struct request *, const char *, const char *, struct inbox_result *);
static void refused(struct request *, const struct inbox_source *,
    const struct inbox_row *, struct inbox_result *);
static int  load_tx(struct tx *, void *);
static void counted(const struct inbox_source *, const char *);

int
inbox_register(const struct inbox_source *src)
{
	size_t i;

	if (src == NULL || src->name == NULL || src->process == NULL)
		return (ERR_CONFIG);
	for (i = 0; i < nsources; i++)
		if (sources[i] == src)
			return (OK);
		else if (strcmp(sources[i]->name, src->name) == 0)
			return (ERR_CONFIG);
	if (nsources == INBOX_SOURCE_MAX)
		return (ERR_CONFIG);
	sources[nsources++] = src;
	return (OK);
}

const struct inbox_source *
inbox_source_find(const char *name)
{
	size_t i;

	for (i = 0; i < nsources; i++)
		if (strcmp(sources[i]->name, name) == 0)
			return (sources[i]);
	return (NULL);
}

/* One call received, for carebase_webhooks_received_total. */
static void
counted(const struct inbox_source *src, const char *outcome)
{
	size_t i, o;

	for (o = 0; o < NOUTCOMES; o++)
		if (strcmp(counted_outcome[o], outcome) == 0)
			break;
	for (i = 0; i < nsources && o < NOUTCOMES; i++)
		if (sources[i] == src) {
			atomic_fetch_add(&received[i][o], 1);
			break;
		}
}

int
inbox_metrics(struct buf *b)
{
	size_t i, o;
	int    rc;

	rc = buf_puts(b,
	    "# HELP carebase_webhooks_received_total Inbound webhook calls "
	    "by source and outcome: processed, refused (credentials or body; "
	    "the sender should not retry) or failed (our side or a "
	    "dependency; the sender retries, `carebase webhooks replay` "
	    "may).\n"
	    "# TYPE carebase_webhooks_received_total counter\n");
	for (i = 0; i < nsources && rc == OK; i++)
		for (o = 0; o < NOUTCOMES && rc == OK; o++)
			rc = buf_printf(b,
			    "carebase_webhooks_received_total{source=\"%s\","
			    "outcome=\"%s\"} %llu\n",
			    sources[i]->name, counted_outcome[o],
			    (unsigned long long)atomic_load(&received[i][o]));
	return (rc);
}

/* A 5xx is ours or a dependency's: retry. A 4xx will not get better. */
static const char *
outcome_of(int rc)
{
	if (rc == OK)
		return ("processed");
	return (err_http_status(rc) >= 500 ? "failed" : "refused");
}

static json_t *
headers_kept(struct request *req, const struct inbox_source *src)
{
	static const char *const always[] = { "Content-Type", "User-Agent",
		NULL };
	const char *const	*lists[2] = { always, src->keep_headers };
	const char		*v;
	json_t			*h;
	size_t			 i, j;

	if ((h = json_object()) == NULL)
		return (NULL);
	for (i = 0; i < 2; i++)
		for (j = 0; lists[i] != NULL && lists[i][j] != NULL; j++) {
			if (strcasecmp(lists[i][j], "Authorization") == 0 ||
			    (v = http_header(req, lists[i][j])) == NULL)
				continue;
			json_object_set_new(h, lists[i][j],
			    json_stringn(v, strnlen(v, HEADER_VALUE_MAX)));
		}
	return (h);
}

/* Insert the row, its body sealed under the system key. */
static int
store_tx(struct tx *tx, void *arg)
{
	struct inbox_row    *w = arg;
	const unsigned char *key = keyring_key(KEY_SYSTEM);
	unsigned char	    *sealed;
	struct stmt	    *st;
	char		     ad[64], *hdrs;
	int64_t		     now = time_now_ms();
	int		     rc;

	if (key == NULL)
		return (ERR_INTERNAL);
	if ((sealed = malloc(w->kept + SEAL_OVERHEAD)) == NULL)
		return (ERR_NOMEM);
	snprintf(ad, sizeof(ad), "webhook_inbox.body:%s", w->id);
	crypto_seal(key, ad, w->body, w->kept, sealed);
	if ((hdrs = json_dumps(w->headers, JSON_COMPACT)) == NULL) {
		free(sealed);
		return (ERR_NOMEM);
	}
	st = store_prepare(tx,
	    "INSERT INTO webhook_inbox (id, source, "
	    "received_at, request_id, headers, body, body_bytes, signature_ok, "
	    "outcome, http_status, error, processed_at, attempts, created_at, "
	    "updated_at, client_addr, client_key) VALUES (?, ?, ?, ?, ?, ?, ?, "
	    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	store_bind_text(st, 1, w->id);
	store_bind_text(st, 2, w->source);
	store_bind_int64(st, 3, now);
	store_bind_text(st, 4, w->request_id);
	store_bind_text(st, 5, hdrs);
	store_bind_blob(st, 6, sealed, w->kept + SEAL_OVERHEAD);
	store_bind_int64(st, 7, (int64_t)w->received);
	store_bind_bool(st, 8, w->signature_ok);
	store_bind_text(st, 9, w->outcome);
	if (w->http_status != 0) {
		store_bind_int64(st, 10, w->http_status);
		store_bind_int64(st, 12, now);
		store_bind_int64(st, 13, 1);
	} else {
		store_bind_null(st, 10);
		store_bind_null(st, 12);
		store_bind_int64(st, 13, 0);
	}
	store_bind_text(st, 11, w->error);
	store_bind_int64(st, 14, now);
	store_bind_int64(st, 15, now);
	store_bind_text(st, 16, w->client_addr);
	store_bind_text(st, 17, w->client_key);
	rc = store_step(st);
	store_finalize(st);
	sodium_memzero(sealed, w->kept + SEAL_OVERHEAD);
	free(sealed);
	free(hdrs);
	return (rc == STORE_DONE ? OK : rc);
}

/*
 * Record an attempt's outcome on an existing row. A replay is an
 * operator's write: audited in the same transaction, with its outcome.
 */
static int
record_tx(struct tx *tx, void *arg)
{
	struct inbox_row *w = arg;
	struct stmt	 *st;
	json_t		 *changes;
	int64_t		  now = time_now_ms();
	int		  rc;

	/* A failure written after its attempt's transaction (the fetch or
	 * process step failed) does not undo a "processed" another replay
	 * committed meanwhile: the row keeps it (its effect is done, and a
	 * replay without force must not run it again); the attempt is
	 * counted, and audited as failed. */
	st = store_prepare(tx,
	    w->keep_processed
		? "UPDATE webhook_inbox SET "
		  "outcome = CASE WHEN outcome = 'processed' THEN outcome "
		  "ELSE ? END, "
		  "http_status = CASE WHEN outcome = 'processed' THEN "
		  "http_status ELSE ? END, "
		  "error = CASE WHEN outcome = 'processed' THEN error "
		  "ELSE ? END, "
		  "processed_at = CASE WHEN outcome = 'processed' THEN "
		  "processed_at ELSE ? END, attempts = attempts + 1, "
		  "updated_at = ?, user_id = COALESCE(?, user_id), "
		  "email_index = CASE WHEN body IS NULL THEN NULL ELSE "
		  "COALESCE(?, email_index) END WHERE id = ?"
		: "UPDATE webhook_inbox SET outcome = ?, "
		  "http_status = ?, error = ?, processed_at = ?, attempts = "
		  "attempts + 1, updated_at = ?, user_id = COALESCE(?, "
		  "user_id), email_index = CASE WHEN body IS NULL THEN NULL "
		  "ELSE COALESCE(?, email_index) END WHERE id = ?");
	store_bind_text(st, 1, w->outcome);
	store_bind_int64(st, 2, w->http_status);
	store_bind_text(st, 3, w->error);
	store_bind_int64(st, 4, now);
	store_bind_int64(st, 5, now);
	store_bind_text(st, 6, w->user_id);
	store_bind_text(st, 7, w->email_index);
	store_bind_text(st, 8, w->id);
	rc = store_step(st);
	rc = rc == STORE_DONE ? (store_changes(st) == 1 ? OK : ERR_NOT_FOUND)
			      : rc;
	store_finalize(st);
	if (rc != OK)
		return (rc);
	/* A body about a person erased already is not kept a moment more. */
	if (w->user_id != NULL) {
		st = store_prepare(tx,
		    "UPDATE webhook_inbox SET body = NULL, "
		    "body_erased_at = ?, email_index = NULL WHERE id = ? AND "
		    "body IS NOT NULL AND user_id IN (SELECT id FROM users "
		    "WHERE deleted_at IS NOT NULL AND audit_ref IS NULL)");
		store_bind_int64(st, 1, now);
		store_bind_text(st, 2, w->id);
		rc = store_step(st);
		store_finalize(st);
		if (rc != STORE_DONE)
			return (rc);
		rc = OK;
	}
	if (!w->replay)
		return (rc);
	if ((changes = json_pack("{s:s,s:i,s:b}", "outcome", w->outcome,
		 "http_status", w->http_status, "force", w->force)) == NULL)
		return (ERR_NOMEM);
	rc = audit_append(tx, w->who, w->req, "webhook_inbox.replay",
	    "webhook_inbox", w->id, changes);
	json_decref(changes);
	return (rc);
}

/*
 * A replay's row, read again in the transaction that runs it, locked on
 * PostgreSQL (SQLite's writer lock is held already): of two replays at
 * once, the second waits for the first's commit and, finding the row
 * processed, runs nothing (run->skipped) unless forced. inbox_replay's
 * earlier look was outside any transaction.
 */
static int
replay_claim(struct tx *tx, struct inbox_run *run)
{
	struct stmt *st;
	int	     rc, processed = 0;

	st = store_prepare(tx,
	    store_tx_dialect(tx) == STORE_POSTGRES
		? "SELECT outcome FROM webhook_inbox WHERE id = ? FOR UPDATE"
		: "SELECT outcome FROM webhook_inbox WHERE id = ?");
	store_bind_text(st, 1, run->id);
	if ((rc = store_step(st)) == STORE_ROW) {
		processed = strcmp(store_col_text(st, 0), "processed") == 0;
		rc = OK;
	}
	store_finalize(st);
	if (rc == STORE_DONE) { /* pruned meanwhile */
		run->skipped = 1;
		return (
		    inbox_fail(run->r, ERR_NOT_FOUND, NULL, "no such webhook"));
	}
	if (rc != OK)
		return (rc);
	if (processed && !run->force) {
		run->skipped = 1;
		return (inbox_fail(run->r, ERR_CONFLICT,
		    "WEBHOOK_ALREADY_PROCESSED",
		    "it was processed already (by another replay just "
		    "now); replay it again with --force"));
	}
	return (OK);
}

/* The handler's process step and "processed", committed together. */
static int
process_tx(struct tx *tx, void *arg)
{
	struct inbox_run *run = arg;
	struct inbox_row  w;
	int		  rc;

	inbox_result_reset(run->r); /* store_run may run this again */
	run->skipped = 0;
	if (run->replay && (rc = replay_claim(tx, run)) != OK) {
		if (run->r->rc == OK)
			run->r->rc = rc;
		return (rc);
	}
	strlcpy_cb(
	    run->r->email_index, run->email_index, sizeof(run->r->email_index));
	if ((rc = run->src->process(
		 tx, run->body, run->len, run->work, run->r)) != OK) {
		if (run->r->rc == OK)
			run->r->rc = rc;
		return (rc);
	}
	memset(&w, 0, sizeof(w));
	strlcpy_cb(w.id, run->id, sizeof(w.id));
	w.outcome = "processed";
	w.http_status = 200;
	w.replay = run->replay;
	w.force = run->force;
	w.who = run->who;
	w.req = run->req;
	w.user_id = run->r->user_id[0] != '\0' ? run->r->user_id : NULL;
	w.email_index =
	    run->r->email_index[0] != '\0' ? run->r->email_index : NULL;
	return (record_tx(tx, &w));
}

/*
 * Prepare, process, and record the outcome of row id. A replay that did
 * not run (another ran it meanwhile), or whose outcome could not be
 * recorded, leaves *outcome as it was ("") and returns the reason.
 */
static int
inbox_run(struct store *db, const struct inbox_source *src,
    const struct principal *who, struct request *req, const char *id,
    const char *body, size_t len, int replay, int force, struct inbox_result *r,
    char *outcome)
{
	struct inbox_run run;
	struct inbox_row w;
	char		 msg[INBOX_ERROR_MAX];
	int		 rc = OK, rc2;

	memset(&run, 0, sizeof(run));
	run.src = src;
	run.id = id;
	run.body = body;
	run.len = len;
	run.replay = replay;
	run.force = force;
	run.who = who;
	run.req = req;
	run.r = r;
	if (src->prepare != NULL &&
	    (rc = src->prepare(body, len, &run.work, r)) != OK && r->rc == OK)
		r->rc = rc;
	strlcpy_cb(run.email_index, r->email_index, sizeof(run.email_index));
	if (rc == OK)
		rc = store_run(db, STORE_TX_WRITE, process_tx, &run);
	json_decref(run.work);
	if (run.skipped) {
		log_info(
		    "event=webhook source=%s inbox_id=%s outcome=- code=%s",
		    src->name, id, r->code[0] ? r->code : err_code(rc));
		return (rc);
	}
	if (rc != OK) {
		if (r->rc != rc) { /* e.g. the commit failed */
			r->rc = rc;
			r->code[0] = r->error[0] = '\0';
		}
		if (r->error[0] == '\0')
			snprintf(
			    r->error, sizeof(r->error), "%s", err_title(rc));
		memset(&w, 0, sizeof(w));
		strlcpy_cb(w.id, id, sizeof(w.id));
		w.outcome = outcome_of(rc);
		w.keep_processed = 1;
		w.http_status = err_http_status(rc);
		w.error = r->error;
		w.replay = replay;
		w.force = force;
		w.who = who;
		w.req = req;
		w.user_id = r->user_id[0] != '\0' ? r->user_id : NULL;
		w.email_index =
		    r->email_index[0] != '\0' ? r->email_index : NULL;
		if ((rc2 = store_run(db, STORE_TX_WRITE, record_tx, &w)) !=
		    OK) {
			log_warn("event=inbox_record_failed inbox_id=%s rc=%s",
			    id, err_code(rc2));
			/* A replay's operator is told so, not shown an outcome
			 * that neither the row nor the audit log holds. (The
			 * sender of a call is answered its failure anyway.) */
			if (replay) {
				snprintf(msg, sizeof(msg),
				    "it ran and %s (%s), but the outcome could "
				    "not be recorded: replay it again",
				    outcome_of(rc),
				    r->code[0] ? r->code : err_code(rc));
				/* A conflict (SQLite reports a trigger's
				 * or a constraint's refusal so) gets a code
				 * of its own: a bare 409 would read as a
				 * conflict of the replay's. */
				return (inbox_fail(r, rc2,
				    rc2 == ERR_CONFLICT
					? "WEBHOOK_OUTCOME_NOT_RECORDED"
					: NULL,
				    "%s", msg));
			}
		}
	}
	strlcpy_cb(outcome, outcome_of(rc), INBOX_OUTCOME_LEN);
	log_info("event=webhook source=%s inbox_id=%s outcome=%s code=%s",
	    src->name, id, outcome,
	    rc == OK	     ? "OK"
		: r->code[0] ? r->code
			     : err_code(rc));
	return (rc);
}

static void
answer(struct request *req, const char *id, const char *outcome,
    struct inbox_result *r)
{
	json_t *extra, *o;

	/* Problems of class 5xx carry no extra members: the id goes here.
	 * No id: nothing was stored. */
	if (id != NULL)
		http_header_add(req, "X-Webhook-Inbox-Id", id);
	if (r->rc == OK) {
		/* The source's members at the top level, as every answer of
		 * the API has them (the points upload's), beside the row's
		 * id and outcome, which win a clash. */
		if ((o = json_pack("{s:s,s:s}", "inbox_id", id, "outcome",
			 outcome)) == NULL ||
		    (json_is_object(r->out) &&
			json_object_update_missing(o, r->out) != 0)) {
			json_decref(o);
			http_problem(req, ERR_NOMEM, NULL, "Out of memory.");
			return;
		}
		http_json(req, 200, o);
		return;
	}
	extra = json_pack("{s:s?,s:s}", "inbox_id", id, "outcome", outcome);
	if (extra != NULL && r->errors != NULL)
		json_object_set(extra, "errors", r->errors);
	http_problem_ext(req, r->rc, r->code[0] ? r->code : NULL, extra, "%s",
	    r->error[0] ? r->error : err_title(r->rc));
}

void
inbox_receive(struct request *req, const struct inbox_source *src)
{
	struct inbox_result r;
	struct inbox_row    w;
	char		    outcome[INBOX_OUTCOME_LEN];
	int		    rc;

	memset(&r, 0, sizeof(r));
	memset(&w, 0, sizeof(w));
	uuid_v7(w.id);
	w.source = src->name;
	w.request_id = req->id;
	w.body = req->body != NULL ? req->body : "";
	w.received = req->body != NULL ? req->body_len : 0;
	w.kept = w.received;
	w.client_addr = req->ip;
	w.client_key = req->client_key;
	if (src->verify == NULL)
		w.signature_ok = 1;
	else if ((rc = src->verify(req, w.body, w.received, &r)) == OK)
		w.signature_ok = 1;
	else if (r.rc == OK)
		r.rc = rc;
	if (w.received > (size_t)config.webhook_body_limit) {
		w.kept = (size_t)config.webhook_body_limit;
		inbox_fail(&r, ERR_TOO_LARGE, NULL,
		    "The body of %zu bytes is "
		    "over the %lld-byte limit for webhooks.",
		    w.received, (long long)config.webhook_body_limit);
	}
	if (r.rc != OK && !w.signature_ok) {
		refused(req, src, &w, &r);
		return;
	}
	if ((w.headers = headers_kept(req, src)) == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "Out of memory.");
		return;
	}
	if (r.rc != OK) {
		/* Refused before anything ran (too large): one row, final
		 * at once, never replayed. */
		w.outcome = "refused";
		w.http_status = err_http_status(r.rc);
		w.error = r.error[0] ? r.error : err_title(r.rc);
		if ((rc = store_run(req->db, STORE_TX_WRITE, store_tx, &w)) !=
		    OK) {
			json_decref(w.headers);
			inbox_result_reset(&r);
			counted(src, "failed");
			http_problem(req, rc, NULL,
			    "The webhook could not be "
			    "stored.");
			return;
		}
		log_info("event=webhook source=%s inbox_id=%s outcome=%s "
			 "code=%s",
		    src->name, w.id, w.outcome,
		    r.code[0] ? r.code : err_code(r.rc));
		counted(src, w.outcome);
		answer(req, w.id, w.outcome, &r);
		json_decref(w.headers);
		inbox_result_reset(&r);
		return;
	}
	w.outcome = "pending";
	rc = store_run(req->db, STORE_TX_WRITE, store_tx, &w);
	json_decref(w.headers);
	if (rc != OK) {
		counted(src, "failed");
		http_problem(req, rc, NULL, "The webhook could not be stored.");
		return;
	}
	inbox_run(
	    req->db, src, NULL, NULL, w.id, w.body, w.kept, 0, 0, &r, outcome);
	counted(src, outcome);
	answer(req, w.id, outcome, &r);
	inbox_result_reset(&r);
}

/*
 * Credentials failed (a 401, or 503 with no secret set): anyone can send
 * this, so nothing it carries is kept (inbox_refused.c). The answer is
 * the refusal whether or not a row was written.
 */
static void
refused(struct request *req, const struct inbox_source *src,
    const struct inbox_row *w, struct inbox_result *r)
{
	struct inbox_refusal f;
	int		     rc;

	memset(&f, 0, sizeof(f));
	strlcpy_cb(f.id, w->id, sizeof(f.id));
	f.source = src->name;
	f.request_id = req->id;
	f.client_addr = req->ip[0] != '\0' ? req->ip : NULL;
	f.client_key = req->client_key;
	f.received = w->received;
	f.http_status = err_http_status(r->rc);
	f.error = r->error[0] ? r->error : err_title(r->rc);
	if ((rc = inbox_refusal_record(req->db, &f)) != OK)
		log_warn("event=inbox_record_failed source=%s rc=%s", src->name,
		    err_code(rc));
	log_info("event=webhook source=%s inbox_id=%s outcome=refused code=%s",
	    src->name, f.stored ? f.id : "-",
	    r->code[0] ? r->code : err_code(r->rc));
	counted(src, "refused");
	answer(req, f.stored ? f.id : NULL, "refused", r);
	inbox_result_reset(r);
}

/* Replay */

struct inbox_load {
	const char    *id;
	char	       source[64];
	char	       outcome[INBOX_OUTCOME_LEN];
	int	       signature_ok;
	int	       erased; /* the body went with its person */
	int64_t	       received;
	unsigned char *sealed;
	size_t	       len;
};

static int
load_tx(struct tx *tx, void *arg)
{
	struct inbox_load *l = arg;
	struct stmt	  *st;
	const void	  *b;
	int		   rc;

	free(l->sealed);
	l->sealed = NULL;
	st = store_prepare(tx,
	    "SELECT source, signature_ok, body_bytes, body, "
	    "outcome, body IS NULL FROM webhook_inbox WHERE id = ?");
	store_bind_text(st, 1, l->id);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		strlcpy_cb(l->source, store_col_text(st, 0), sizeof(l->source));
		l->signature_ok = store_col_int64(st, 1) != 0;
		l->received = store_col_int64(st, 2);
		strlcpy_cb(
		    l->outcome, store_col_text(st, 4), sizeof(l->outcome));
		l->erased = store_col_int64(st, 5) != 0;
		l->len = 0;
		b = l->erased ? NULL : store_col_blob(st, 3, &l->len);
		if ((l->sealed = malloc(l->len + 1)) == NULL) {
			rc = ERR_NOMEM;
			break;
		}
		if (l->len > 0)
			memcpy(l->sealed, b, l->len);
		rc = OK;
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	}
	store_finalize(st);
	return (rc);
}

int
inbox_replay(struct store *db, const struct principal *who, struct request *req,
    const char *id, int force, char *outcome, struct inbox_result *r)
{
	const struct inbox_source *src;
	struct inbox_load	   l;
	const unsigned char	  *key = keyring_key(KEY_SYSTEM);
	char			   ad[64], *body = NULL;
	size_t			   len = 0;
	int			   rc;

	memset(r, 0, sizeof(*r));
	strlcpy_cb(outcome, "", INBOX_OUTCOME_LEN);
	if (id == NULL || !uuid_valid(id))
		return (inbox_fail(r, ERR_NOT_FOUND, NULL, "no such webhook"));
	memset(&l, 0, sizeof(l));
	l.id = id;
	if ((rc = store_run(db, STORE_TX_READ, load_tx, &l)) != OK) {
		free(l.sealed);
		return (inbox_fail(r, rc, NULL, "%s",
		    rc == ERR_NOT_FOUND ? "no such webhook"
					: "the webhook could not be read"));
	}
	if ((src = inbox_source_find(l.source)) == NULL)
		rc = inbox_fail(r, ERR_CONFIG, NULL,
		    "no handler for source "
		    "%s",
		    l.source);
	else if (!l.signature_ok)
		rc = inbox_fail(r, ERR_FORBIDDEN, "WEBHOOK_SIGNATURE_FAILED",
		    "its signature did not "
		    "verify: it is never processed");
	else if (l.erased)
		rc = inbox_fail(r, ERR_CONFLICT, "WEBHOOK_BODY_ERASED",
		    "its body was erased with "
		    "the person it concerned and cannot be replayed");
	else if (!force && strcmp(l.outcome, "processed") == 0)
		rc = inbox_fail(r, ERR_CONFLICT, "WEBHOOK_ALREADY_PROCESSED",
		    "it was processed "
		    "already; replay it again with --force");
	else if (key == NULL)
		rc = inbox_fail(r, ERR_UNAVAILABLE, "SYSTEM_KEY_UNAVAILABLE",
		    "the system key is not loaded: the body cannot be "
		    "opened");
	else if (l.len < SEAL_OVERHEAD ||
	    (int64_t)(l.len - SEAL_OVERHEAD) != l.received)
		rc = inbox_fail(r, ERR_CONFLICT, "WEBHOOK_BODY_TRUNCATED",
		    "its body was kept "
		    "truncated (over the size limit) and cannot be replayed");
	else if ((body = malloc(l.len - SEAL_OVERHEAD + 1)) == NULL)
		rc = inbox_fail(r, ERR_NOMEM, NULL, "out of memory");
	else {
		snprintf(ad, sizeof(ad), "webhook_inbox.body:%s", id);
		if (crypto_open(key, ad, l.sealed, l.len, body, &len) != OK)
			rc = inbox_fail(r, ERR_CONFIG, NULL,
			    "the body does not "
			    "open: another master key?");
		else {
			body[len] = '\0';
			rc = inbox_run(db, src, who, req, id, body, len, 1,
			    force, r, outcome);
		}
	}
	if (body != NULL) {
		sodium_memzero(body, len);
		free(body);
	}
	free(l.sealed);
	return (rc);
}
