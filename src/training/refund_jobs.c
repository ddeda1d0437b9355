/*
 * Refunds on their way to Stripe and back (issue 16 part 1c, item 5):
 * the refunds carebase makes itself, the training.refund job that sends
 * an approved refund to Stripe, and the webhook events that complete or
 * fail it.
 *
 *	approved  --job: marked processing (its own transaction), then
 *		    POST /v1/refunds outside any transaction with the
 *		    Idempotency-Key "training-refund-<id>", then Stripe's
 *		    refund id recorded (another transaction)-->  processing
 *	processing --Stripe's answer, or its refund event: succeeded-->
 *		    completed (the other, later, does nothing)
 *	processing --Stripe's answer or refund event: failed, canceled; or
 *		    Stripe refused the request (4xx)-->  failed (its amount
 *		    refundable again)
 *	completed --refund event: failed (a refund can fail later)-->  failed
 *
 * A crash at any step leaves the job in the queue (jobs run at least
 * once): run again, it finds the refund processing and sends the same
 * request with the same key, and Stripe answers with the refund it made
 * the first time instead of making another (within the 24 hours Stripe
 * keeps keys; the job's retries end well before). Before that POST a
 * retry first looks through the intent's refunds at Stripe
 * (GET /v1/refunds?payment_intent=, every page, all within
 * stripe_timeout_s) and takes one carrying this refund's id in its
 * metadata and its amount: past the key's life a retry still makes
 * nothing twice (a list that fails or runs out of time leaves it to the
 * key). An event may
 * come before the job has recorded Stripe's id: it finds the refund by
 * metadata[refund_id]. No answer, 409, 429 or 5xx are retried with
 * backoff; without stripe_secret_key the job gives up into failed_jobs
 * (the refund stays processing; `carebase jobs retry ID` once it is
 * set). A refund Stripe answers succeeded (most card refunds) is
 * completed by the job at once; one it answers pending is completed by
 * its webhook. Whichever comes second finds it completed and does
 * nothing.
 *
 * Completion adds what went back (net_refund_minor) to its payment's
 * refunded_minor and moves the booking's payment_status: refunded when
 * the whole payment went back, else partially_refunded (a fee kept is a
 * part not refunded).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "ops/inbox.h"
#include "resource/audit.h"
#include "store/jobs.h"
#include "store/store.h"
#include "training/training_int.h"

/* Refunds a page of Stripe's list: a refund object is under 1 KiB, so a
 * page stays well inside STRIPE_RESPONSE_MAX (100, Stripe's most, would
 * not). */
#define REFUND_PAGE 40

/* A refund as the job and the events need it. */
struct refund_row {
	char	id[UUID_STR_LEN];
	char	booking_id[UUID_STR_LEN];
	char	user_id[UUID_STR_LEN];
	char	txn_id[UUID_STR_LEN]; /* "" for a manual refund */
	char	status[16];
	char	cause[24];
	char	currency[4];
	char	intent[STRIPE_ID_MAX + 1];
	char	stripe_id[STRIPE_ID_MAX + 1]; /* "" until known */
	char	method[8];		      /* "stripe", "manual" */
	int64_t amount, net;
};

/* One run of the job. */
struct send {
	const char	 *id;
	struct refund_row row;
	const char	 *stripe_id; /* what Stripe answered */
	const char	 *stripe_status;
	const char	 *failure; /* Stripe refused: why */
	int		  skip;	   /* nothing to send */
};

static int refund_read(struct tx *, const char *id, struct refund_row *);
static int send_start_tx(struct tx *, void *);
static int send_done_tx(struct tx *, void *);
static int refund_lookup(const struct refund_row *, struct stripe_reply *lr,
    const char **id, const char **status);
static int refund_found(const struct refund_row *, json_t *list,
    const char **id, const char **status);
static int refund_one(
    struct tx *, json_t *obj, struct inbox_result *, struct training_effect *);
static const char *reason_spelled(const char *, char *, size_t);
static int	   refund_move(
	    struct tx *, struct refund_row *, const char *to, const char *why);
static int  payment_status_sync(struct tx *, const struct refund_row *);
static void token_of(const char *in, char *out, size_t n);

static int
refund_read(struct tx *tx, const char *id, struct refund_row *out)
{
	struct stmt *st;
	char	     key[UUID_STR_LEN];
	int	     rc;

	strlcpy_cb(key, id, sizeof(key)); /* id may be out->id */
	memset(out, 0, sizeof(*out));
	st = store_prepare(tx,
	    "SELECT r.id, r.booking_id, r.user_id, "
	    "COALESCE(r.payment_transaction_id, ''), r.status, r.cause, "
	    "r.currency, COALESCE(p.stripe_payment_intent_id, ''), "
	    "COALESCE(r.stripe_refund_id, ''), r.amount_minor, "
	    "r.amount_minor - r.processing_fee_minor, r.method FROM refunds r "
	    "LEFT JOIN payment_transactions p ON p.id = "
	    "r.payment_transaction_id WHERE r.id = ?");
	store_bind_text(st, 1, key);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		strlcpy_cb(out->id, store_col_text(st, 0), sizeof(out->id));
		strlcpy_cb(out->booking_id, store_col_text(st, 1),
		    sizeof(out->booking_id));
		strlcpy_cb(
		    out->user_id, store_col_text(st, 2), sizeof(out->user_id));
		strlcpy_cb(
		    out->txn_id, store_col_text(st, 3), sizeof(out->txn_id));
		strlcpy_cb(
		    out->status, store_col_text(st, 4), sizeof(out->status));
		strlcpy_cb(
		    out->cause, store_col_text(st, 5), sizeof(out->cause));
		strlcpy_cb(out->currency, store_col_text(st, 6),
		    sizeof(out->currency));
		strlcpy_cb(
		    out->intent, store_col_text(st, 7), sizeof(out->intent));
		strlcpy_cb(out->stripe_id, store_col_text(st, 8),
		    sizeof(out->stripe_id));
		out->amount = store_col_int64(st, 9);
		out->net = store_col_int64(st, 10);
		strlcpy_cb(
		    out->method, store_col_text(st, 11), sizeof(out->method));
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
training_refund_auto(struct tx *tx, const struct principal *who,
    struct request *req, const struct training_booking *b,
    const struct training_payment *p, const char *cause, int64_t fee,
    const char *policy, const char *why, char *id_out)
{
	struct stmt *st;
	json_t	    *changes;
	const char  *by, *currency = p != NULL ? p->currency : b->currency;
	char	     id[UUID_STR_LEN], ref[TRAINING_REF_LEN + 1], pl[96];
	int64_t	     now = time_now_ms(), amount = 0;
	int	     rc;

	if (id_out != NULL)
		id_out[0] = '\0';
	/* What is left of the payment, as it is now under the booking's
	 * lock (taken after the schedule's, as a request's). */
	if ((rc = training_lock(tx, "booking", b->id)) != OK)
		return (rc);
	if ((rc = training_refund_left(
		 tx, b, p != NULL ? p->id : NULL, &amount)) != OK)
		return (rc == ERR_NOT_FOUND && p == NULL ? OK : rc);
	if (amount <= 0 || fee >= amount)
		return (OK);
	if (p != NULL) {
		st = store_prepare(tx,
		    "UPDATE payment_transactions SET refund_committed_minor = "
		    "refund_committed_minor + ?, updated_at = ? WHERE id = ? "
		    "AND refund_committed_minor + ? <= amount_minor");
		store_bind_int64(st, 1, amount);
		store_bind_int64(st, 2, now);
		store_bind_text(st, 3, p->id);
		store_bind_int64(st, 4, amount);
		rc = store_step(st);
		rc = rc == STORE_DONE ? (store_changes(st) == 1 ? OK : ERR_BUSY)
				      : rc;
		store_finalize(st);
		if (rc != OK)
			return (rc);
	}
	if ((rc = training_reference_new(tx,
		 "SELECT 1 FROM refunds WHERE refund_reference = ?", ref)) !=
	    OK)
		return (rc);
	uuid_v7(id);
	by = who != NULL ? who->user_id : NULL;
	st = store_prepare(tx,
	    "INSERT INTO refunds (id, booking_id, user_id, "
	    "payment_transaction_id, method, refund_reference, amount_minor, "
	    "processing_fee_minor, currency, cause, policy, status, "
	    "requested_by, requested_at, approved_at, processed_by, "
	    "created_at, updated_at, created_by, updated_by) VALUES (?, ?, ?, "
	    "?, ?, ?, ?, ?, ?, ?, ?, 'approved', ?, ?, ?, ?, ?, ?, ?, ?)");
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, b->id);
	store_bind_text(st, 3, b->user_id);
	store_bind_text(st, 4, p != NULL ? p->id : NULL);
	store_bind_text(st, 5, p != NULL ? "stripe" : "manual");
	store_bind_text(st, 6, ref);
	store_bind_int64(st, 7, amount);
	store_bind_int64(st, 8, fee);
	store_bind_text(st, 9, currency);
	store_bind_text(st, 10, cause);
	store_bind_text(st, 11, policy);
	store_bind_text(st, 12, by);
	store_bind_int64(st, 13, now);
	store_bind_int64(st, 14, now);
	/* Approved by staff's act, or by the policy (the booker's cancel:
	 * no staff member decided). */
	store_bind_text(
	    st, 15, strcmp(cause, "booker_cancelled") == 0 ? NULL : by);
	store_bind_int64(st, 16, now);
	store_bind_int64(st, 17, now);
	store_bind_text(st, 18, by);
	store_bind_text(st, 19, by);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc);
	if ((changes = json_pack("{s:[s,s,s,s],s:s,s:s,s:s,s:I,s:I}", "fields",
		 "booking_id", "amount_minor", "processing_fee_minor", "status",
		 "cause", cause, "method", p != NULL ? "stripe" : "manual",
		 "status", "approved", "amount_minor", (json_int_t)amount,
		 "processing_fee_minor", (json_int_t)fee)) == NULL)
		return (ERR_NOMEM);
	rc = audit_append(
	    tx, who, req, "refunds.create", "refunds", id, changes);
	json_decref(changes);
	if (rc != OK)
		return (rc);
	/* Through Stripe, by the job; a manual one waits for staff. */
	snprintf(pl, sizeof(pl), "{\"refund_id\":\"%s\"}", id);
	if (p != NULL &&
	    (rc = jobs_enqueue(tx, TRAINING_REFUND_JOB, pl, NULL, 0, NULL)) !=
		OK)
		return (rc);
	log_info("event=training_refund_made refund_id=%s booking_id=%s "
		 "cause=%s method=%s amount_minor=%lld fee_minor=%lld",
	    id, b->id, cause, p != NULL ? "stripe" : "manual",
	    (long long)amount, (long long)fee);
	if (id_out != NULL)
		strlcpy_cb(id_out, id, UUID_STR_LEN);
	return (why != NULL
		? training_refund_tell(tx, b, currency,
		      p != NULL ? p->amount : b->total, amount, why, p == NULL)
		: OK);
}

/* The job */

int
training_refund_job(struct store *db, const struct job *job, char *err)
{
	struct stripe_reply sr, lr;
	struct send	    s;
	struct buf	    form;
	json_t		   *pl = NULL;
	char		    idem[64], amount[24];
	int		    rc;

	memset(&s, 0, sizeof(s));
	memset(&sr, 0, sizeof(sr));
	memset(&lr, 0, sizeof(lr));
	buf_init(&form, 2048);
	if ((pl = json_loads(job->payload, 0, NULL)) == NULL ||
	    (s.id = json_string_value(json_object_get(pl, "refund_id"))) ==
		NULL ||
	    !uuid_valid(s.id)) {
		snprintf(err, JOB_ERR_LEN, "%s: malformed payload",
		    TRAINING_REFUND_JOB);
		if (job->give_up != NULL)
			*job->give_up = 1;
		rc = ERR_INVALID;
		goto out;
	}
	if ((rc = store_run(db, STORE_TX_WRITE, send_start_tx, &s)) != OK) {
		snprintf(err, JOB_ERR_LEN, "%s: refund %s: %s",
		    TRAINING_REFUND_JOB, s.id, err_code(rc));
		goto out;
	}
	if (s.skip) {
		rc = OK;
		goto out;
	}
	/* A retry first looks for the refund a lost answer made. */
	if (job->attempt > 1) {
		if ((rc = refund_lookup(
			 &s.row, &lr, &s.stripe_id, &s.stripe_status)) == OK)
			goto record;
		if (rc == ERR_CONFIG) {
			snprintf(err, JOB_ERR_LEN, "%s: refund %s: %s",
			    TRAINING_REFUND_JOB, s.id, lr.error);
			if (job->give_up != NULL)
				*job->give_up = 1;
			goto out;
		}
		/* Not found, or the list failed: the key still holds. */
	}
	snprintf(idem, sizeof(idem), "training-refund-%s", s.id);
	snprintf(amount, sizeof(amount), "%lld", (long long)s.row.net);
	if (stripe_form_add(&form, "payment_intent", s.row.intent) != OK ||
	    stripe_form_add(&form, "amount", amount) != OK ||
	    stripe_form_add(&form, "reason",
		strcmp(s.row.cause, "duplicate_payment") == 0
		    ? "duplicate"
		    : "requested_by_customer") != OK ||
	    stripe_form_add(&form, "metadata[refund_id]", s.id) != OK ||
	    stripe_form_add(&form, "metadata[booking_id]", s.row.booking_id) !=
		OK) {
		rc = ERR_NOMEM;
		snprintf(
		    err, JOB_ERR_LEN, "%s: out of memory", TRAINING_REFUND_JOB);
		goto out;
	}
	rc = stripe_post("/v1/refunds", form.data, idem, &sr);
	if (rc == ERR_UNAVAILABLE || rc == ERR_CONFIG || rc == ERR_NOMEM) {
		snprintf(err, JOB_ERR_LEN, "%s: refund %s: %s",
		    TRAINING_REFUND_JOB, s.id, sr.error);
		if (rc == ERR_CONFIG && job->give_up != NULL)
			*job->give_up = 1;
		goto out;
	}
	if (rc == ERR_BAD_GATEWAY)
		s.failure = sr.code[0] != '\0' ? sr.code : "refused";
	else {
		s.stripe_id = json_string_value(json_object_get(sr.doc, "id"));
		s.stripe_status =
		    json_string_value(json_object_get(sr.doc, "status"));
		if (!stripe_id_ok(s.stripe_id) ||
		    json_integer_value(json_object_get(sr.doc, "amount")) !=
			s.row.net) {
			rc = ERR_BAD_GATEWAY;
			snprintf(err, JOB_ERR_LEN,
			    "%s: refund %s: Stripe's refund is not the one "
			    "asked for",
			    TRAINING_REFUND_JOB, s.id);
			goto out;
		}
	}
record:
	if ((rc = store_run(db, STORE_TX_WRITE, send_done_tx, &s)) != OK) {
		snprintf(err, JOB_ERR_LEN, "%s: refund %s: recording: %s",
		    TRAINING_REFUND_JOB, s.id, err_code(rc));
		goto out;
	}
	if (s.failure != NULL)
		log_warn("event=training_refund_refused refund_id=%s "
			 "error=\"%s\"",
		    s.id, sr.error);
	else
		log_info("event=training_refund_sent refund_id=%s "
			 "stripe_refund_id=%s attempt=%d",
		    s.id, s.stripe_id, job->attempt);
out:
	stripe_reply_free(&sr);
	stripe_reply_free(&lr);
	buf_free(&form);
	json_decref(pl);
	return (rc);
}

/*
 * Look through every page of the intent's refunds at Stripe (newest first,
 * REFUND_PAGE a page, starting_after the last of the page before, while
 * has_more) for ours, all pages within one request's time
 * (stripe_timeout_s: STRIPE_REQUESTS counts them as one). OK with *id and
 * *status (borrowed from lr->doc); ERR_NOT_FOUND when no page has it;
 * another status when the list failed or ran out of time, then the
 * Idempotency-Key is left to make nothing twice.
 */
static int
refund_lookup(const struct refund_row *row, struct stripe_reply *lr,
    const char **id, const char **status)
{
	json_t	   *data;
	const char *last;
	char	    path[320], after[STRIPE_ID_MAX + 1] = "";
	int64_t	    deadline;
	int	    page, rc;

	deadline = time_mono_ns() / 1000000 + config.stripe_timeout_s * 1000;
	for (page = 1;; page++) {
		stripe_reply_free(lr);
		snprintf(path, sizeof(path),
		    "/v1/refunds?payment_intent=%s&limit=%d%s%s", row->intent,
		    REFUND_PAGE, after[0] != '\0' ? "&starting_after=" : "",
		    after);
		if ((rc = stripe_get_until(path, deadline, lr)) != OK)
			break;
		data = json_object_get(lr->doc, "data");
		if (refund_found(row, data, id, status) == OK)
			return (OK);
		if (!json_is_true(json_object_get(lr->doc, "has_more")))
			return (ERR_NOT_FOUND);
		last = json_string_value(json_object_get(
		    json_array_get(data, json_array_size(data) - 1), "id"));
		if (!stripe_id_ok(last) || strcmp(last, after) == 0) {
			rc = ERR_BAD_GATEWAY; /* a page that does not move on */
			break;
		}
		strlcpy_cb(after, last, sizeof(after));
	}
	log_warn("event=training_refund_lookup_failed refund_id=%s page=%d "
		 "error=\"%s\"",
	    row->id, page,
	    lr->error[0] != '\0' ? lr->error : "the list does not page on");
	return (rc);
}

/*
 * Ours among a page of an intent's refunds: the id we sent in its
 * metadata and the amount we asked for (net_refund_minor). One with our
 * id and another amount is not ours (made by hand, copying the metadata):
 * logged, passed over.
 */
static int
refund_found(const struct refund_row *row, json_t *list, const char **id,
    const char **status)
{
	json_t	   *r;
	const char *mine, *rid;
	size_t	    i;

	json_array_foreach(list, i, r) {
		mine = json_string_value(json_object_get(
		    json_object_get(r, "metadata"), "refund_id"));
		rid = json_string_value(json_object_get(r, "id"));
		if (mine == NULL || strcmp(mine, row->id) != 0 ||
		    !stripe_id_ok(rid))
			continue;
		if (json_integer_value(json_object_get(r, "amount")) !=
		    row->net) {
			log_warn("event=training_refund_lookup_mismatch "
				 "refund_id=%s stripe_refund_id=%s",
			    row->id, rid);
			continue;
		}
		*id = rid;
		*status = json_string_value(json_object_get(r, "status"));
		return (OK);
	}
	return (ERR_NOT_FOUND);
}

/* Approved becomes processing; anything but processing is not sent. */
static int
send_start_tx(struct tx *tx, void *arg)
{
	struct send *s = arg;
	struct stmt *st;
	int64_t	     now = time_now_ms();
	int	     rc;

	s->skip = 0;
	if ((rc = refund_read(tx, s->id, &s->row)) != OK)
		return (rc);
	if (strcmp(s->row.method, "stripe") != 0) {
		s->skip = 1; /* paid back by staff, never sent */
		return (OK);
	}
	if (strcmp(s->row.status, "approved") == 0) {
		st = store_prepare(tx,
		    "UPDATE refunds SET status = 'processing', processed_at = "
		    "?, updated_at = ? WHERE id = ? AND status = 'approved'");
		store_bind_int64(st, 1, now);
		store_bind_int64(st, 2, now);
		store_bind_text(st, 3, s->id);
		rc = store_step(st);
		store_finalize(st);
		if (rc != STORE_DONE)
			return (rc);
		return (training_audit_move(tx, NULL, NULL, "refunds",
		    "process", s->id, "approved", "processing"));
	}
	/* Sent and known already, or not to be sent (any more). */
	s->skip = strcmp(s->row.status, "processing") != 0 ||
	    s->row.stripe_id[0] != '\0';
	return (OK);
}

/* Stripe's answer recorded: its id, or the refund failed. */
static int
send_done_tx(struct tx *tx, void *arg)
{
	struct send	 *s = arg;
	struct refund_row row;
	struct stmt	 *st;
	int		  rc;

	if ((rc = training_lock(tx, "booking", s->row.booking_id)) != OK ||
	    (rc = refund_read(tx, s->id, &row)) != OK)
		return (rc);
	if (s->failure != NULL)
		return (strcmp(row.status, "processing") == 0
			? refund_move(tx, &row, "failed", s->failure)
			: OK);
	st = store_prepare(tx,
	    "UPDATE refunds SET stripe_refund_id = ?, updated_at = ? WHERE id "
	    "= ? AND stripe_refund_id IS NULL");
	store_bind_text(st, 1, s->stripe_id);
	store_bind_int64(st, 2, time_now_ms());
	store_bind_text(st, 3, s->id);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc);
	/* Stripe's answer may end it at once: succeeded completes it (its
	 * webhook then finds it completed and does nothing), failed or
	 * canceled fails it; pending waits for the webhook. */
	if (s->stripe_status == NULL || strcmp(row.status, "processing") != 0)
		return (OK);
	if (strcmp(s->stripe_status, "succeeded") == 0)
		return (refund_move(tx, &row, "completed", NULL));
	if (strcmp(s->stripe_status, "failed") == 0 ||
	    strcmp(s->stripe_status, "canceled") == 0)
		return (refund_move(tx, &row, "failed", s->stripe_status));
	return (OK);
}

/* Events */

int
training_refund_event(struct tx *tx, const char *type, json_t *obj,
    struct inbox_result *r, struct training_effect *out)
{
	struct training_effect one;
	json_t		      *list, *v;
	size_t		       i;
	int		       rc;

	out->effect = "ignored";
	out->reason = "unknown_refund";
	if (strcmp(type, "charge.refunded") != 0)
		return (refund_one(tx, obj, r, out));
	/* A Charge: each of its refunds, as their own events would; the
	 * event says what the last one that was ours did. */
	list = json_object_get(json_object_get(obj, "refunds"), "data");
	json_array_foreach(list, i, v) {
		one.effect = "ignored";
		one.reason = "unknown_refund";
		if ((rc = refund_one(tx, v, r, &one)) != OK)
			return (rc);
		if (strcmp(one.effect, "ignored") != 0)
			*out = one;
	}
	return (OK);
}

static void
token_of(const char *in, char *out, size_t n)
{
	strlcpy_cb(out, in != NULL && stripe_id_ok(in) ? in : "unknown", n);
}

static int
refund_one(struct tx *tx, json_t *obj, struct inbox_result *r,
    struct training_effect *out)
{
	struct refund_row row;
	struct stmt	 *st;
	json_t		 *v;
	const char	 *id, *status, *mine, *cur, *intent, *kind = NULL;
	char		  why[STRIPE_ID_MAX + 1];
	int		  rc;

	id = json_string_value(json_object_get(obj, "id"));
	status = json_string_value(json_object_get(obj, "status"));
	cur = json_string_value(json_object_get(obj, "currency"));
	v = json_object_get(obj, "payment_intent");
	intent =
	    json_string_value(json_is_object(v) ? json_object_get(v, "id") : v);
	mine = json_string_value(
	    json_object_get(json_object_get(obj, "metadata"), "refund_id"));
	if (!stripe_id_ok(id) || status == NULL ||
	    !json_is_integer(json_object_get(obj, "amount")))
		return (inbox_fail(r, ERR_INVALID, "EVENT_INVALID",
		    "The refund lacks an id, status or amount."));
	/* Ours by Stripe's id, else by the id we sent in its metadata. */
	st = store_prepare(tx,
	    "SELECT id FROM refunds WHERE "
	    "stripe_refund_id = ? UNION SELECT id FROM "
	    "refunds WHERE id = ?");
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, mine != NULL && uuid_valid(mine) ? mine : "");
	rc = store_step(st);
	if (rc == STORE_ROW)
		strlcpy_cb(row.id, store_col_text(st, 0), sizeof(row.id));
	store_finalize(st);
	if (rc == STORE_DONE)
		return (OK); /* made elsewhere (the dashboard): not ours */
	if (rc != STORE_ROW)
		return (rc);
	if ((rc = refund_read(tx, row.id, &row)) != OK ||
	    (rc = training_lock(tx, "booking", row.booking_id)) != OK ||
	    (rc = refund_read(tx, row.id, &row)) != OK)
		return (rc);
	strlcpy_cb(r->user_id, row.user_id, sizeof(r->user_id));
	if (strcmp(row.method, "stripe") != 0 ||
	    strcmp(row.status, "pending") == 0 ||
	    strcmp(row.status, "rejected") == 0)
		kind = "not_sent";
	else if (json_integer_value(json_object_get(obj, "amount")) != row.net)
		kind = "amount";
	else if (cur != NULL && strcasecmp(cur, row.currency) != 0)
		kind = "currency";
	else if (intent != NULL && strcmp(intent, row.intent) != 0)
		kind = "payment_intent";
	else if (row.stripe_id[0] != '\0' && strcmp(row.stripe_id, id) != 0)
		kind = "refund_id";
	if (kind != NULL) {
		/* Not the refund carebase asked for: kept and logged, ours
		 * left as it is (Stripe would send it again for days). */
		out->effect = "mismatch";
		out->reason = kind;
		log_warn("event=training_refund_mismatch refund_id=%s "
			 "stripe_refund_id=%s mismatch=%s",
		    row.id, id, kind);
		return (OK);
	}
	if (row.stripe_id[0] == '\0') {
		st = store_prepare(tx,
		    "UPDATE refunds SET stripe_refund_id = ?, updated_at = ? "
		    "WHERE id = ?");
		store_bind_text(st, 1, id);
		store_bind_int64(st, 2, time_now_ms());
		store_bind_text(st, 3, row.id);
		rc = store_step(st);
		store_finalize(st);
		if (rc != STORE_DONE)
			return (rc);
	}
	out->effect = "recorded";
	out->reason = NULL;
	if (strcmp(status, "succeeded") == 0) {
		if (strcmp(row.status, "completed") == 0) {
			out->reason = "completed_already";
			return (OK);
		}
		out->effect = "refund_completed";
		return (refund_move(tx, &row, "completed", NULL));
	}
	if (strcmp(status, "failed") == 0 || strcmp(status, "canceled") == 0) {
		if (strcmp(row.status, "failed") == 0) {
			out->reason = "failed_already";
			return (OK);
		}
		token_of(
		    json_string_value(json_object_get(obj, "failure_reason")),
		    why, sizeof(why));
		out->effect = "refund_failed";
		return (refund_move(tx, &row, "failed",
		    strcmp(why, "unknown") != 0 ? why : status));
	}
	return (OK);
}

/*
 * Stripe's reason as refunds.failure_reason keeps it: in the API's one
 * spelling, "cancelled" (migration 0026), where Stripe writes "canceled"
 * (its status canceled, its reason expired_or_canceled_card); into buf
 * when it changes.
 */
static const char *
reason_spelled(const char *why, char *buf, size_t n)
{
	const char *p = why != NULL ? strstr(why, "canceled") : NULL;

	if (p == NULL)
		return (why);
	snprintf(buf, n, "%.*scancelled%s", (int)(p - why), why, p + 8);
	return (buf);
}

/*
 * Move a refund to completed or failed (why: Stripe's reason, spelled
 * as the API spells it), with its payment's sums: a failed refund's
 * amount is refundable again; one that fails after it completed is no
 * longer refunded either.
 */
static int
refund_move(
    struct tx *tx, struct refund_row *row, const char *to, const char *why)
{
	struct stmt *st;
	char	     spelled[STRIPE_ID_MAX + 8];
	int64_t	     now = time_now_ms();
	int	     done = strcmp(to, "completed") == 0;
	int	     was_done = strcmp(row->status, "completed") == 0;
	int	     was_failed = strcmp(row->status, "failed") == 0;
	int	     rc;

	st = store_prepare(tx,
	    done ? "UPDATE refunds SET status = 'completed', completed_at = ?, "
		   "updated_at = ? WHERE id = ? AND status = ?"
		 : "UPDATE refunds SET status = 'failed', failed_at = ?, "
		   "updated_at = ?, failure_reason = ? WHERE id = ? AND "
		   "status = ?");
	store_bind_int64(st, 1, now);
	store_bind_int64(st, 2, now);
	if (done) {
		store_bind_text(st, 3, row->id);
		store_bind_text(st, 4, row->status);
	} else {
		store_bind_text(
		    st, 3, reason_spelled(why, spelled, sizeof(spelled)));
		store_bind_text(st, 4, row->id);
		store_bind_text(st, 5, row->status);
	}
	rc = store_step(st);
	rc = rc == STORE_DONE ? (store_changes(st) == 1 ? OK : ERR_BUSY) : rc;
	store_finalize(st);
	if (rc != OK)
		return (rc);
	/* committed (amounts): back when failing, again when a failed one
	 * completes after all; refunded (what went back): up when completing,
	 * down when a completed one fails. */
	st = store_prepare(tx,
	    "UPDATE payment_transactions SET refund_committed_minor = "
	    "refund_committed_minor + ?, refunded_minor = refunded_minor + ?, "
	    "updated_at = ? WHERE id = ?");
	store_bind_int64(
	    st, 1, done ? (was_failed ? row->amount : 0) : -row->amount);
	store_bind_int64(st, 2, done ? row->net : (was_done ? -row->net : 0));
	store_bind_int64(st, 3, now);
	store_bind_text(st, 4, row->txn_id);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc);
	if ((rc = training_audit_move(tx, NULL, NULL, "refunds",
		 done ? "complete" : "fail", row->id, row->status, to)) != OK)
		return (rc);
	log_info("event=training_refund_%s refund_id=%s", to, row->id);
	strlcpy_cb(row->status, to, sizeof(row->status));
	if ((rc = payment_status_sync(tx, row)) != OK)
		return (rc);
	/* Completed (once: a failed one completing after all too). */
	if (done && !was_done)
		return (training_notify_refund(tx, row->id));
	return (OK);
}

/*
 * A paid booking's payment_status from the refunded sum of the payment
 * txn_id that paid it. A refund of a payment that paid no booking
 * (duplicate_payment, payment_mismatch) leaves it: the booking was paid by
 * another, or not at all.
 */
static int
payment_status_sync(struct tx *tx, const struct refund_row *row)
{
	struct stmt *st;
	int	     rc;

	if (strcmp(row->cause, "duplicate_payment") == 0 ||
	    strcmp(row->cause, "payment_mismatch") == 0)
		return (OK);
	st = store_prepare(tx,
	    "UPDATE training_bookings SET payment_status = (SELECT CASE WHEN "
	    "p.refunded_minor = 0 THEN 'paid' WHEN p.refunded_minor >= "
	    "p.amount_minor THEN 'refunded' ELSE 'partially_refunded' END FROM "
	    "payment_transactions p WHERE p.id = ?), updated_at = ? WHERE id = "
	    "? AND payment_status IN ('paid', 'partially_refunded', "
	    "'refunded')");
	store_bind_text(st, 1, row->txn_id);
	store_bind_int64(st, 2, time_now_ms());
	store_bind_text(st, 3, row->booking_id);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}
