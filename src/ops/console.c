/*
 * The admin console's operations, over the functions the command line
 * calls (no second implementation of any of them):
 *
 *	GET  /v1/webhook-inbox			`webhooks list [--failed]`
 *	POST /v1/webhook-inbox/{id}/replay	`webhooks replay ID [--force]`
 *	GET  /v1/failed-jobs			`jobs failed`
 *	POST /v1/failed-jobs/{id}/retry		`jobs retry ID`
 *	POST /v1/audit-log/verify		`audit verify [--anchor=SEQ:HASH]`
 *
 * Admins only: webhook_inbox:read:all and webhook_inbox:replay:all,
 * failed_jobs:read:all and failed_jobs:retry:all (migration 0054),
 * audit_log:read:all. The lists show what the command line shows and
 * never a body or a job's payload (personal data, sealed or not): an
 * inbox row's error and a failed job's error are one line each that
 * their writers keep free of personal data (inbox.h, jobs.c).
 *
 * Every action is audited: a replay as webhook_inbox.replay in the
 * transaction that records its outcome (inbox.c), a retry as
 * failed_jobs.retry in the transaction that queues the job again, and a
 * verification as audit_log.verify in a transaction of its own just
 * after the walk (which reads, a page per transaction, and writes
 * nothing).
 *
 * The audit walk reads every row once, a page at a time (audit.c), in
 * the request, on the slow pool (ROUTE_SLOW): one walk at a time in a
 * process, for audit_verify_max_ms at most, then it answers what it
 * checked ("complete": false). The command line's walk has no limit.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "ops/inbox.h"
#include "ops/ops_int.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "store/jobs.h"
#include "store/store.h"

#define CONSOLE_LIST_MAX   200
#define CONSOLE_FILTER_MAX 64 /* bytes of a source or kind filter */
#define VERIFY_DETAIL_MAX  256

/* A walk of the audit chain is running in this process (ops_audit_verify),
 * begun at verify_began (monotonic ms). */
static atomic_flag     verifying = ATOMIC_FLAG_INIT;
static _Atomic int64_t verify_began;

struct console_audit {
	struct request *req;
	const char     *action;
	const char     *entity_type;
	const char     *entity_id;
	json_t	       *changes; /* borrowed */
};

/*
 * A list of the console's, newest first: its statement binds each filter
 * twice ("(CAST(? AS TEXT) IS NULL OR col = ?)": NULL, not filtered),
 * then the cursor twice and the limit (one row more than a page: there
 * is a next one).
 */
struct console_list {
	const char *sql;
	const char *filters[2];
	int	    nfilters;
	json_t *(*row)(struct stmt *);
	const char *fail; /* the problem's detail when it cannot be read */
};

struct console_retry {
	struct request *req;
	const char     *id; /* the failed_jobs row */
	char		job_id[JOB_ID_LEN];
};

static int  allowed(struct request *, const char *, const char *, const char *);
static int  audited_tx(struct tx *, void *);
static int  retry_tx(struct tx *, void *);
static void verify_answer(struct request *, const struct audit_anchor *);
static json_t	  *inbox_row(struct stmt *);
static json_t	  *failed_job_row(struct stmt *);
static json_t	  *time_json(int64_t);
static const char *text_filter(struct request *, const char *, json_t *);
static void	   list_answer(
	   struct request *, const struct console_list *, json_t *);

/* The caller's role holds resource:action:all, else 403 answered. */
static int
allowed(struct request *req, const char *resource, const char *action,
    const char *detail)
{
	if (resource_scope(req->db, req->caller, resource, action) == SCOPE_ALL)
		return (1);
	http_problem(req, ERR_FORBIDDEN, NULL, "%s", detail);
	return (0);
}

static int
audited_tx(struct tx *tx, void *arg)
{
	struct console_audit *a = arg;

	return (audit_append(tx, a->req->caller, a->req, a->action,
	    a->entity_type, a->entity_id, a->changes));
}

static json_t *
time_json(int64_t ms)
{
	char ts[ISO_TIME_LEN];

	return (json_string(time_format_iso(ms, ts)));
}

/* A text filter of 1 to CONSOLE_FILTER_MAX bytes, or an entry in errs. */
static const char *
text_filter(struct request *req, const char *name, json_t *errs)
{
	const char *v;
	char	    detail[48];

	if ((v = http_query(req, name)) != NULL &&
	    (v[0] == '\0' || strlen(v) > CONSOLE_FILTER_MAX)) {
		snprintf(detail, sizeof(detail), "1 to %d bytes",
		    CONSOLE_FILTER_MAX);
		resource_field_err(errs, name, "out_of_range", detail);
	}
	return (v);
}

/*
 * The page of l's rows answered, or the query's errors (errs, taken) as a
 * 422, or l->fail.
 */
static void
list_answer(struct request *req, const struct console_list *l, json_t *errs)
{
	struct resource_page pg;
	struct tx	    *tx = NULL;
	struct stmt	    *st;
	json_t		    *data = NULL, *row;
	int		     i, nb = 0, rc, step = STORE_DONE;

	resource_page_parse(req, CONSOLE_LIST_MAX, PAGE_ID_DESC, &pg, errs);
	if (resource_errs_answer(req, errs, "The query") != OK)
		return;
	if ((rc = store_tx_begin(req->db, STORE_TX_READ, &tx)) != OK)
		goto out;
	st = store_prepare(tx, l->sql);
	for (i = 0; i < l->nfilters; i++) {
		store_bind_text(st, ++nb, l->filters[i]);
		store_bind_text(st, ++nb, l->filters[i]);
	}
	store_bind_text(st, ++nb, pg.after);
	store_bind_text(st, ++nb, pg.after);
	store_bind_int64(st, ++nb, pg.limit + 1);
	if ((data = json_array()) == NULL)
		rc = ERR_NOMEM;
	while (rc == OK && (step = store_step(st)) == STORE_ROW &&
	    json_array_size(data) <= (size_t)pg.limit)
		if ((row = l->row(st)) == NULL ||
		    json_array_append_new(data, row) != 0)
			rc = ERR_NOMEM;
	if (rc == OK && step != STORE_ROW && step != STORE_DONE)
		rc = step;
	store_finalize(st);
out:
	store_tx_rollback(tx);
	if (rc != OK) {
		json_decref(data);
		http_problem(req, rc, NULL, "%s", l->fail);
		return;
	}
	http_json(req, 200, resource_page_json(&pg, data));
}

#define INBOX_COLUMNS                                                          \
	"id, source, received_at, outcome, http_status, attempts, "            \
	"signature_ok, body_bytes, error, body_erased_at, body IS NULL, "      \
	"processed_at"

static json_t *
inbox_row(struct stmt *st)
{
	json_t *o;

	o = json_pack("{s:s,s:s,s:o,s:s,s:o,s:I,s:b,s:I,s:s,s:o,s:o}", "id",
	    store_col_text(st, 0), "source", store_col_text(st, 1),
	    "received_at", time_json(store_col_int64(st, 2)), "outcome",
	    store_col_text(st, 3), "http_status",
	    store_col_is_null(st, 4) ? json_null()
				     : json_integer(store_col_int64(st, 4)),
	    "attempts", (json_int_t)store_col_int64(st, 5), "signature_ok",
	    store_col_int64(st, 6) != 0, "body_bytes",
	    (json_int_t)store_col_int64(st, 7), "body",
	    !store_col_is_null(st, 9)	       ? "erased"
		: store_col_int64(st, 10) != 0 ? "none"
					       : "kept",
	    "error",
	    store_col_is_null(st, 8) ? json_null()
				     : json_string(store_col_text(st, 8)),
	    "processed_at",
	    store_col_is_null(st, 11) ? json_null()
				      : time_json(store_col_int64(st, 11)));
	return (o);
}

/* GET /v1/webhook-inbox: newest first; source, outcome, limit, cursor. */
void
ops_inbox_list(struct request *req)
{
	static const char *const outcomes[] = { "pending", "processed",
		"refused", "failed" };
	struct console_list	 l = {
		     /* Ids are time-ordered (v7): newest first by id. */
		     "SELECT " INBOX_COLUMNS " FROM webhook_inbox "
		     "WHERE (CAST(? AS TEXT) IS NULL OR source = ?) AND "
		     "(CAST(? AS TEXT) IS NULL OR outcome = ?) "
		     "AND (? = '' OR id < ?) ORDER BY id DESC LIMIT ?",
		     { NULL, NULL }, 2, inbox_row,
		     "The webhook inbox cannot be read."
	};
	const char *outcome;
	json_t	   *errs;
	int	    i, known = 0;

	if (!allowed(req, "webhook_inbox", "read",
		"You may not read the webhook inbox."))
		return;
	if ((errs = json_array()) == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "Out of memory.");
		return;
	}
	l.filters[0] = text_filter(req, "source", errs);
	if ((outcome = http_query(req, "outcome")) != NULL) {
		for (i = 0; i < (int)(sizeof(outcomes) / sizeof(outcomes[0]));
		     i++)
			known |= strcmp(outcome, outcomes[i]) == 0;
		if (!known)
			resource_field_err(errs, "outcome", "invalid_choice",
			    "pending, processed, refused or failed");
	}
	l.filters[1] = outcome;
	list_answer(req, &l, errs);
}

/*
 * POST /v1/webhook-inbox/{id}/replay {"force": bool}: the new outcome,
 * 200 whatever it is (the replay ran and its outcome is recorded); a
 * problem when it did not run (another replay processed it meanwhile:
 * 409), or ran but its outcome could not be recorded.
 */
void
ops_inbox_replay(struct request *req)
{
	struct inbox_result r;
	const char	   *id = http_param(req, "id"), *key;
	char		    outcome[INBOX_OUTCOME_LEN];
	json_t		   *errs, *v, *force = NULL;
	int		    rc;

	if (!allowed(
		req, "webhook_inbox", "replay", "You may not replay webhooks."))
		return;
	if ((errs = json_array()) == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "Out of memory.");
		return;
	}
	if (req->json != NULL && !json_is_object(req->json))
		resource_field_err(errs, "", "invalid_type", "an object");
	else if (req->json != NULL) {
		json_object_foreach(req->json, key, v) {
			if (strcmp(key, "force") != 0)
				resource_field_err(
				    errs, key, "unknown_field", "not a member");
			else if (!json_is_boolean(v))
				resource_field_err(
				    errs, key, "invalid_type", "true or false");
			else
				force = v;
		}
	}
	if (resource_errs_answer(req, errs, "The body") != OK)
		return;
	rc = inbox_replay(req->db, req->caller, req, id,
	    force != NULL && json_is_true(force), outcome, &r);
	if (outcome[0] == '\0') {
		/* It did not run: the row is unknown, or may not be run. */
		if (strcmp(r.code, "WEBHOOK_ALREADY_PROCESSED") == 0)
			http_problem(req, rc, r.code,
			    "It was processed already; replay it with "
			    "\"force\": true to run it again.");
		else
			http_problem(req, rc, r.code[0] ? r.code : NULL, "%s",
			    rc == ERR_NOT_FOUND ? "No such webhook." : r.error);
	} else
		http_json(req, 200,
		    json_pack("{s:s,s:s,s:i,s:o,s:o}", "id", id, "outcome",
			outcome, "http_status",
			rc == OK ? 200 : err_http_status(rc), "code",
			rc == OK
			    ? json_null()
			    : json_string(r.code[0] ? r.code : err_code(rc)),
			"error",
			rc == OK ? json_null() : json_string(r.error)));
	inbox_result_reset(&r);
}

static json_t *
failed_job_row(struct stmt *st)
{
	return (json_pack("{s:s,s:s,s:s,s:s,s:I,s:o,s:s}", "id",
	    store_col_text(st, 0), "job_id", store_col_text(st, 1), "kind",
	    store_col_text(st, 2), "queue", store_col_text(st, 3), "attempts",
	    (json_int_t)store_col_int64(st, 4), "failed_at",
	    time_json(store_col_int64(st, 5)), "error", store_col_text(st, 6)));
}

/* GET /v1/failed-jobs: newest first; kind, limit, cursor. */
void
ops_failed_jobs_list(struct request *req)
{
	struct console_list l = {
		/* Ids are time-ordered (v7): newest first by id. */
		"SELECT id, job_id, kind, queue, attempts, failed_at, error "
		"FROM failed_jobs WHERE (CAST(? AS TEXT) IS NULL OR kind = ?) "
		"AND (? = '' OR id < ?) ORDER BY id DESC LIMIT ?",
		{ NULL, NULL }, 1, failed_job_row,
		"The failed jobs cannot be read."
	};
	json_t *errs;

	if (!allowed(req, "failed_jobs", "read",
		"You may not read the failed jobs."))
		return;
	if ((errs = json_array()) == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "Out of memory.");
		return;
	}
	l.filters[0] = text_filter(req, "kind", errs);
	list_answer(req, &l, errs);
}

/* The retry and its audit row, committed together (store_run). */
static int
retry_tx(struct tx *tx, void *arg)
{
	struct console_retry *rt = arg;
	json_t		     *changes;
	int		      rc;

	if ((rc = jobs_retry_failed_tx(tx, rt->id, rt->job_id)) != OK)
		return (rc);
	if ((changes = json_pack("{s:s}", "job_id", rt->job_id)) == NULL)
		return (ERR_NOMEM);
	rc = audit_append(tx, rt->req->caller, rt->req, "failed_jobs.retry",
	    "failed_jobs", rt->id, changes);
	json_decref(changes);
	return (rc);
}

/*
 * POST /v1/failed-jobs/{id}/retry: 202 with the new job's id. Of two
 * retries at once one queues the job; the other answers 404, the row
 * being gone (jobs_retry_failed_tx).
 */
void
ops_failed_job_retry(struct request *req)
{
	struct console_retry rt;
	int		     rc;

	if (!allowed(
		req, "failed_jobs", "retry", "You may not retry failed jobs."))
		return;
	memset(&rt, 0, sizeof(rt));
	rt.req = req;
	rt.id = http_param(req, "id");
	if (rt.id == NULL || !uuid_valid(rt.id)) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such failed job.");
		return;
	}
	if ((rc = store_run(req->db, STORE_TX_WRITE, retry_tx, &rt)) != OK) {
		http_problem(req, rc, NULL, "%s",
		    rc == ERR_NOT_FOUND ? "No such failed job."
					: "The job cannot be queued again.");
		return;
	}
	log_info("event=job_retry failed_id=%s id=%s", rt.id, rt.job_id);
	http_json(
	    req, 202, json_pack("{s:s,s:s}", "id", rt.id, "job_id", rt.job_id));
}

/*
 * POST /v1/audit-log/verify {"anchor": "SEQ:HASH"} (the body optional):
 * audit_walk's verdict, its first line as the detail. One walk at a time
 * in this process: each holds a slow-pool thread (the one sign-ins hash
 * passwords on) while it reads the whole log, so another meanwhile
 * answers 409 VERIFY_IN_PROGRESS; and the walk stops past
 * audit_verify_max_ms with what it checked ("complete": false).
 */
void
ops_audit_verify(struct request *req)
{
	struct audit_anchor anchor;
	const char	   *key;
	json_t		   *errs, *v;
	int64_t		    left;
	char		    retry[24];
	int		    have = 0;

	if (!allowed(
		req, "audit_log", "read", "You may not verify the audit log."))
		return;
	if ((errs = json_array()) == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "Out of memory.");
		return;
	}
	if (req->json != NULL && !json_is_object(req->json))
		resource_field_err(errs, "", "invalid_type", "an object");
	else if (req->json != NULL) {
		json_object_foreach(req->json, key, v) {
			if (strcmp(key, "anchor") != 0)
				resource_field_err(
				    errs, key, "unknown_field", "not a member");
			else if (!json_is_string(v) ||
			    audit_anchor_parse(json_string_value(v), &anchor) !=
				OK)
				resource_field_err(errs, key, "invalid_format",
				    "SEQ:HASH, as `carebase audit head` "
				    "prints it");
			else
				have = 1;
		}
	}
	if (resource_errs_answer(req, errs, "The body") != OK)
		return;
	/* Retry-After: the running walk ends by its time limit at the latest
	 * (seconds rounded up, 1 at least: its audit row and answer follow). */
	left = atomic_load(&verify_began) + config.audit_verify_max_ms -
	    time_mono_ns() / 1000000;
	snprintf(retry, sizeof(retry), "%" PRId64,
	    left > 1000 ? (left + 999) / 1000 : 1);
	if (atomic_flag_test_and_set(&verifying)) {
		http_header_add(req, "Retry-After", retry);
		http_problem(req, ERR_CONFLICT, "VERIFY_IN_PROGRESS",
		    "The audit log is being verified already: try again "
		    "once that check has answered.");
		return;
	}
	atomic_store(&verify_began, time_mono_ns() / 1000000);
	verify_answer(req, have ? &anchor : NULL);
	atomic_flag_clear(&verifying);
}

/* The walk, its audit row and the answer (ops_audit_verify's). */
static void
verify_answer(struct request *req, const struct audit_anchor *anchor)
{
	struct console_audit a;
	struct audit_walk    w;
	const char	    *s;
	json_t		    *ans, *changes;
	char		    *out = NULL, detail[VERIFY_DETAIL_MAX], seq[24];
	char		     head_text[24 + AUDIT_HASH_LEN];
	char		     anchor_text[24 + AUDIT_HASH_LEN] = "";
	size_t		     outlen = 0, n;
	int		     rc, ok;
	FILE		    *f;

	/* The reads this process has served are in the chain it walks. */
	if ((rc = audit_queue_sync()) != OK) {
		http_problem(req, rc, NULL, "The audit log is being written.");
		return;
	}
	/* The walk's verdict, as the command line prints it. */
	if ((f = open_memstream(&out, &outlen)) == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "Out of memory.");
		return;
	}
	memset(&w, 0, sizeof(w));
	w.anchor = anchor;
	/* Monotonic: a clock step neither stretches nor cuts the walk. */
	w.deadline_ms = time_mono_ns() / 1000000 + config.audit_verify_max_ms;
	rc = audit_walk(req->db, f, &w);
	fclose(f);
	detail[0] = '\0';
	if (out != NULL) {
		/* The verdict is the first line, "audit: ...". */
		s = strncmp(out, "audit: ", 7) == 0 ? out + 7 : out;
		n = strcspn(s, "\n");
		snprintf(detail, sizeof(detail), "%.*s", (int)n, s);
	}
	free(out);
	if (rc != OK && rc != ERR_CONFLICT) {
		http_problem(req, rc, NULL, "The audit log cannot be read.");
		return;
	}
	/* ok: the whole chain checked and intact, nothing less. */
	ok = rc == OK && w.complete;
	snprintf(seq, sizeof(seq), "%" PRId64, w.bad_seq);
	snprintf(head_text, sizeof(head_text), "%" PRId64 ":%s", w.head.seq,
	    w.head.hash);
	if (anchor != NULL)
		snprintf(anchor_text, sizeof(anchor_text), "%" PRId64 ":%s",
		    anchor->seq, anchor->hash);
	/* The row says what was checked, as the answer does: how many rows,
	 * how far, against which anchor. */
	changes = json_pack("{s:b,s:b,s:I,s:o,s:o,s:o}", "ok", ok, "complete",
	    w.complete != 0, "rows", (json_int_t)w.rows, "checked_to",
	    rc == OK ? json_string(head_text) : json_null(), "anchor",
	    anchor != NULL ? json_string(anchor_text) : json_null(),
	    "first_broken_seq",
	    rc == OK ? json_null() : json_integer(w.bad_seq));
	if (changes == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "Out of memory.");
		return;
	}
	a = (struct console_audit){ req, "audit_log.verify", "audit_log",
		rc == OK ? NULL : seq, changes };
	/* head is an anchor for a later check only when the walk reached
	 * the end: a walk stopped at its limit short of the caller's anchor
	 * would hand back one behind it, and a truncation between the two
	 * would never be seen. How far it got is checked_to. */
	ans = json_pack("{s:b,s:b,s:I,s:o,s:o,s:o,s:s}", "ok", ok, "complete",
	    w.complete != 0, "rows", (json_int_t)w.rows, "head",
	    ok ? json_string(head_text) : json_null(), "checked_to",
	    rc == OK ? json_string(head_text) : json_null(), "first_broken_seq",
	    rc == OK ? json_null() : json_integer(w.bad_seq), "detail", detail);
	rc = store_run(req->db, STORE_TX_WRITE, audited_tx, &a);
	json_decref(changes);
	if (rc != OK) {
		json_decref(ans);
		http_problem(
		    req, rc, NULL, "The audit log could not record the check.");
		return;
	}
	http_json(req, 200, ans);
}
