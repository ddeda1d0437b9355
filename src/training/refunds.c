/*
 * Refunds of training payments (issue 16 part 1c, item 5): asked for,
 * decided by staff, and the cancellation policy. How a refund is sent to
 * Stripe and completed is refund_jobs.c's; how a booking paid offline is
 * refunded by hand, refunds_manual.c's.
 *
 *	pending  --approve (staff)-->  approved --job--> processing -->
 *		   completed | failed			(refund_jobs.c)
 *	pending  --approve (staff)-->  approved --complete (staff)-->
 *		   completed	(manual: paid offline; refunds_manual.c)
 *	pending  --reject (staff)-->  rejected
 *
 * POST /v1/refunds {"booking_id", "amount_minor"?, "reason"?,
 * "policy_override"?, "override_reason"?}: the booker for their own
 * confirmed booking, staff for any paid booking that is not pending. In
 * one write transaction under the booking's lock:
 *   - the booking was paid: through Stripe (a stripe refund of that
 *     payment), or offline by staff's confirm (a manual refund); 409
 *     BOOKING_NOT_PAID for a booking that was not (or cost nothing);
 *   - amount_minor (default: all that is left) is at most what is left of
 *     the payment: paid less the refunds asked for or made and not
 *     rejected or failed (409 REFUND_EXCEEDS_PAYMENT with
 *     refundable_minor), counted by a conditional update of the
 *     payment's refund_committed_minor (a CHECK backs it), or for a
 *     booking paid offline by the sum of its manual refunds under the
 *     booking's lock;
 *   - the cancellation policy, by the time left before the schedule
 *     starts, as the settings say it now (training_refund_terms: config
 *     training_refund_* while not set): in full until refund_full_days
 *     before (calendar days in London: the start's day less today's),
 *     less refund_fee_percent after (rounded half up), none inside
 *     refund_none_hours (409 REFUND_NOT_ALLOWED); staff may set
 *     it aside with policy_override and an override_reason (in full, at
 *     any time). The fee is kept: net_refund_minor goes back.
 * A refund whose approval leaves nothing of the payment, with no other
 * request pending, cancels a confirmed booking (decided at approval,
 * nothing_left; cancels_booking only says what it was when asked): its
 * seats are free from then on. Until then
 * the booking and its seats are as they were, and a rejected request
 * leaves them so (its amount is refundable again). Approval queues the
 * training.refund job in its transaction (not for a manual refund).
 *
 * Staff's cancel of a paid booking, and a schedule cancelled by staff,
 * refund what is left in full at once (training_refund_in_full),
 * rejecting the requests still pending. The booker's own cancel of their
 * confirmed booking goes by the policy (training_refund_on_cancel):
 * refused inside the last none_hours (409 TOO_LATE_TO_CANCEL), else what
 * is left refunded in full or less the fee, approved at once (cause
 * booker_cancelled), their pending requests rejected. A booking paid
 * offline is refunded by a manual refund (refunds_manual.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "resource/seal.h"
#include "store/jobs.h"
#include "store/store.h"
#include "training/training_int.h"

#define STAFF_OWN (SEE_ALL | SEE_OWN)

static const char *const statuses[] = { "pending", "approved", "rejected",
	"processing", "completed", "failed", NULL };
static const char *const causes[] = { "request", "schedule_cancelled",
	"staff_cancelled", "booker_cancelled", "late_payment",
	"duplicate_payment", "payment_mismatch", NULL };
static const char *const policies[] = { "full", "fee", "override", NULL };
static const char *const methods[] = { "stripe", "manual", NULL };

static const struct field refund_fields[] = {
	{ "booking_id", FIELD_UUID, FIELD_READONLY | FIELD_FILTER, 0, 0, NULL,
	    NULL, "training_bookings", 0, "the booking refunded" },
	{ "user_id", FIELD_UUID, FIELD_READONLY | FIELD_FILTER, 0, 0, NULL,
	    NULL, NULL, 0, "the booker; owns the row" },
	{ "payment_transaction_id", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE,
	    0, 0, NULL, NULL, "payment_transactions", 0,
	    "the payment refunded; null for a manual refund (paid offline)" },
	{ "method", FIELD_ENUM, FIELD_READONLY | FIELD_FILTER, 0, 0, methods,
	    NULL, NULL, 0,
	    "stripe (sent to Stripe by the training.refund job) or manual "
	    "(a booking paid offline: staff pay it back and mark it "
	    "completed)" },
	{ "refund_reference", FIELD_TEXT, FIELD_READONLY | FIELD_FILTER, 0,
	    TRAINING_REF_LEN, NULL, NULL, NULL, 0,
	    "10 characters without look-alikes, random, unique" },
	{ "amount_minor", FIELD_INT, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    "the part of the payment refunded (with the fee kept)" },
	{ "processing_fee_minor", FIELD_INT, FIELD_READONLY, 0, 0, NULL, NULL,
	    NULL, 0, "kept by the cancellation policy" },
	{ "net_refund_minor", FIELD_INT, FIELD_READONLY, 0, 0, NULL, NULL, NULL,
	    0, "amount_minor - processing_fee_minor: what goes back",
	    "(refunds.amount_minor - refunds.processing_fee_minor)" },
	{ "currency", FIELD_TEXT, FIELD_READONLY, 0, 3, NULL, NULL, NULL, 0,
	    "the payment's" },
	{ "cause", FIELD_ENUM, FIELD_READONLY | FIELD_FILTER, 0, 0, causes,
	    NULL, NULL, 0,
	    "request (asked for), or made by carebase: schedule_cancelled, "
	    "staff_cancelled, booker_cancelled (the booker cancelled: the "
	    "policy's amount), late_payment, duplicate_payment, "
	    "payment_mismatch (a payment that did not match its booking)" },
	{ "policy", FIELD_ENUM, FIELD_READONLY, 0, 0, policies, NULL, NULL, 0,
	    "full, fee (the policy kept a fee) or override (staff's)" },
	{ "reason", FIELD_TEXT,
	    FIELD_READONLY | FIELD_PERSONAL | FIELD_NULLABLE, 0,
	    TRAINING_REASON_MAX, NULL, NULL, NULL, STAFF_OWN,
	    "why it was asked for" },
	{ "override_reason", FIELD_TEXT,
	    FIELD_READONLY | FIELD_PERSONAL | FIELD_NULLABLE, 0,
	    TRAINING_REASON_MAX, NULL, NULL, NULL, STAFF_OWN,
	    "staff's reason for setting the policy aside" },
	{ "rejection_reason", FIELD_TEXT,
	    FIELD_READONLY | FIELD_PERSONAL | FIELD_NULLABLE, 0,
	    TRAINING_REASON_MAX, NULL, NULL, NULL, STAFF_OWN,
	    "staff's reason for rejecting it" },
	{ "cancels_booking", FIELD_BOOL, FIELD_READONLY, 0, 0, NULL, NULL, NULL,
	    0, "all that was left: approving it cancels the booking" },
	{ "status", FIELD_ENUM, FIELD_READONLY | FIELD_FILTER, 0, 0, statuses,
	    NULL, NULL, 0,
	    "pending (asked for), approved, rejected, processing (sent to "
	    "Stripe), completed or failed" },
	{ "stripe_refund_id", FIELD_TEXT, FIELD_READONLY | FIELD_NULLABLE, 0,
	    STRIPE_ID_MAX, NULL, NULL, NULL, SEE_ALL, NULL },
	{ "failure_reason", FIELD_TEXT, FIELD_READONLY | FIELD_NULLABLE, 0,
	    STRIPE_ID_MAX, NULL, NULL, NULL, 0,
	    "Stripe's (or its status), spelled cancelled where Stripe "
	    "writes canceled" },
	{ "requested_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, SEE_ALL, "who asked (NULL: carebase)" },
	{ "requested_at", FIELD_TIME, FIELD_READONLY | FIELD_SORT, 0, 0, NULL,
	    NULL, NULL, 0, NULL },
	{ "approved_at", FIELD_TIME, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, 0, NULL },
	{ "rejected_at", FIELD_TIME, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, 0, NULL },
	{ "processed_at", FIELD_TIME, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, 0, "sent to Stripe" },
	{ "completed_at", FIELD_TIME, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, 0, NULL },
	{ "failed_at", FIELD_TIME, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, 0, NULL },
	{ "processed_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, SEE_ALL,
	    "the staff member who approved or rejected it" },
	{ "note", FIELD_TEXT, FIELD_READONLY | FIELD_PERSONAL | FIELD_NULLABLE,
	    0, TRAINING_REASON_MAX, NULL, NULL, NULL, STAFF_OWN,
	    "a manual refund: how staff paid it back" },
	{ "completed_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, SEE_ALL,
	    "a manual refund: the staff member who marked it completed" },
};

const struct resource refunds_resource = {
	.name = "refunds",
	.path = "/v1/refunds",
	.table = "refunds",
	.fields = refund_fields,
	.nfields = NELEM(refund_fields),
	.owner_column = "user_id",
	.actions = (1 << ACTION_LIST) | (1 << ACTION_READ),
	.doc = "Refunds of training payments: asked for by the booker or "
	       "staff and decided by staff, or made by carebase when a paid "
	       "booking's schedule or the booking is cancelled by staff, the "
	       "booker cancels it (under the cancellation policy), or a "
	       "payment comes too late, twice or does not match its booking. "
	       "A payment through Stripe is refunded through Stripe (the "
	       "training.refund job; completed by Stripe's answer or "
	       "webhook); a booking paid offline by a manual refund, which "
	       "staff pay back and mark completed with a note.",
	.codes =
	    "{\"409\":[\"BOOKING_NOT_PAID\",\"NOT_REFUNDABLE\",\"REFUND_EXCEEDS_PAYMENT\",\"REFUND_NOT_ALLOWED\"]}",
};

/* One request, through its transaction. */
struct ask {
	struct request	 *req;
	struct principal *who;
	enum scope	  scope, read;
	const char	 *booking_id;
	int64_t		  amount; /* 0: all that is left */
	const char	 *reason, *override_reason;
	int		  override;
	json_t		 *row;
	char		  id[UUID_STR_LEN];
};

/* One decision. */
struct decide {
	struct request	 *req;
	struct principal *who;
	enum scope	  read;
	const char	 *id;
	const char	 *verb; /* "approve", "reject" */
	const char	 *reason;
	json_t		 *row;
};

static int ask_check(struct ask *, json_t *body);
static int ask_tx(struct tx *, void *);
static int decide_tx(struct tx *, void *);
static int refund_answer(struct tx *, struct request *, struct principal *,
    enum scope, const char *id, json_t **out);
static int pending_reject(struct tx *, const struct principal *,
    struct request *, const char *booking_id, int by_staff);
static int schedule_start(struct tx *, const char *schedule_id, int64_t *);
static int nothing_left(struct tx *, const struct training_booking *,
    const char *id, const char *txn, int *yes);

int
training_refund_policy(int64_t now, int64_t start, int64_t amount, int override,
    int64_t full_days, int64_t fee_percent, int64_t none_hours, int64_t *fee,
    const char **policy)
{
	*fee = 0;
	if (override) {
		*policy = "override";
		return (OK);
	}
	if (start - now < none_hours * 3600000) {
		*policy = NULL;
		return (ERR_CONFLICT);
	}
	if (time_london_day(start) - time_london_day(now) >= full_days) {
		*policy = "full";
		return (OK);
	}
	*policy = "fee";
	*fee = (amount * fee_percent + 50) / 100;
	return (OK);
}

int
training_refund_left(struct tx *tx, const struct training_booking *b,
    const char *txn, int64_t *left)
{
	struct stmt *st;
	int	     rc;

	*left = 0;
	if (txn == NULL || txn[0] == '\0')
		return (training_offline_left(tx, b, left));
	st = store_prepare(tx,
	    "SELECT amount_minor - refund_committed_minor FROM "
	    "payment_transactions WHERE id = ?");
	store_bind_text(st, 1, txn);
	if ((rc = store_step(st)) == STORE_ROW)
		*left = store_col_int64(st, 0);
	store_finalize(st);
	return (rc == STORE_ROW ? OK : rc == STORE_DONE ? ERR_NOT_FOUND : rc);
}

static int
refund_answer(struct tx *tx, struct request *req, struct principal *who,
    enum scope scope, const char *id, json_t **out)
{
	struct resource_ctx ctx;

	json_decref(*out);
	*out = NULL;
	memset(&ctx, 0, sizeof(ctx));
	ctx.req = req;
	ctx.tx = tx;
	ctx.res = &refunds_resource;
	ctx.who = who;
	ctx.scope = scope;
	return (resource_load(&ctx, id, out));
}

/* Ask */

void
training_refund_ask(struct request *req)
{
	struct ask a;
	char	  *loc;
	int	   rc;

	memset(&a, 0, sizeof(a));
	a.req = req;
	a.who = req->caller;
	a.scope = resource_scope(req->db, a.who, "refunds", "create");
	if (a.scope != SCOPE_OWN && a.scope != SCOPE_ALL) {
		http_problem(
		    req, ERR_FORBIDDEN, NULL, "You may not ask for refunds.");
		return;
	}
	a.read = resource_scope(req->db, a.who, "refunds", "read");
	if (a.read < a.scope)
		a.read = a.scope;
	if (ask_check(&a, req->json) != OK)
		return;
	rc = store_run(req->db, STORE_TX_WRITE, ask_tx, &a);
	if (rc != OK) {
		json_decref(a.row);
		if (!req->responded)
			http_problem(req, rc, NULL,
			    rc == ERR_NOT_FOUND ? "No such booking."
						: "The refund could not be "
						  "asked for.");
		return;
	}
	if ((loc = arena_printf(req->arena, "/v1/refunds/%s", a.id)) != NULL)
		http_header_add(req, "Location", loc);
	http_json(req, 201, a.row);
}

/* The body: its members, their types and bounds (422, an entry each). */
static int
ask_check(struct ask *a, json_t *body)
{
	static const char *const members[] = { "booking_id", "amount_minor",
		"reason", "policy_override", "override_reason", NULL };
	const char		*k;
	json_t			*v, *errs;
	size_t			 i;

	if (!json_is_object(body)) {
		http_problem(
		    a->req, ERR_INVALID, NULL, "A JSON object is needed.");
		return (ERR_INVALID);
	}
	if ((errs = json_array()) == NULL) {
		http_problem(a->req, ERR_NOMEM, NULL, "Out of memory.");
		return (ERR_NOMEM);
	}
	json_object_foreach(body, k, v) {
		for (i = 0; members[i] != NULL; i++)
			if (strcmp(k, members[i]) == 0)
				break;
		if (members[i] == NULL)
			resource_field_err(errs, "", "unknown_field",
			    "a member the refund does not take");
	}
	a->booking_id = json_string_value(json_object_get(body, "booking_id"));
	if (a->booking_id == NULL || !uuid_valid(a->booking_id))
		resource_field_err(errs, "booking_id",
		    a->booking_id == NULL ? "required" : "invalid_format",
		    "the booking's id");
	v = json_object_get(body, "amount_minor");
	if (v != NULL && !json_is_null(v) &&
	    (!json_is_integer(v) || json_integer_value(v) < 1))
		resource_field_err(errs, "amount_minor", "min",
		    "a positive integer of minor units, or null for all that is "
		    "left");
	a->amount = json_is_integer(v) ? json_integer_value(v) : 0;
	for (i = 0; i < 2; i++) {
		k = i == 0 ? "reason" : "override_reason";
		v = json_object_get(body, k);
		if (v != NULL && !json_is_null(v) &&
		    (!json_is_string(v) || json_string_length(v) == 0 ||
			json_string_length(v) > TRAINING_REASON_MAX * 4 ||
			training_chars(json_string_value(v)) >
			    TRAINING_REASON_MAX))
			resource_field_err(errs, k, "invalid",
			    "text of 1 to 2000 characters, or null");
	}
	a->reason = json_string_value(json_object_get(body, "reason"));
	a->override_reason =
	    json_string_value(json_object_get(body, "override_reason"));
	v = json_object_get(body, "policy_override");
	if (v != NULL && !json_is_null(v) && !json_is_boolean(v))
		resource_field_err(
		    errs, "policy_override", "type", "true or false");
	a->override = json_is_true(v);
	if (a->override && a->scope != SCOPE_ALL)
		resource_field_err(errs, "policy_override", "staff_only",
		    "only staff set the cancellation policy aside");
	else if (a->override && a->override_reason == NULL)
		resource_field_err(errs, "override_reason", "required",
		    "setting the policy aside needs a reason");
	else if (!a->override && a->override_reason != NULL)
		resource_field_err(errs, "override_reason", "not_allowed",
		    "only with policy_override");
	return (resource_errs_answer(a->req, errs, "The refund"));
}

static int
schedule_start(struct tx *tx, const char *schedule_id, int64_t *out)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(
	    tx, "SELECT start_time FROM course_schedules WHERE id = ?");
	store_bind_text(st, 1, schedule_id);
	if ((rc = store_step(st)) == STORE_ROW)
		*out = store_col_int64(st, 0);
	store_finalize(st);
	return (rc == STORE_ROW ? OK : rc == STORE_DONE ? ERR_NOT_FOUND : rc);
}

static int
ask_tx(struct tx *tx, void *arg)
{
	struct ask		    *a = arg;
	struct training_booking	     b;
	struct training_payment	     p;
	struct training_refund_terms terms;
	struct resource_ctx	     ctx;
	struct stmt		    *st;
	const char		    *policy = NULL;
	json_t			    *body;
	char	ref[TRAINING_REF_LEN + 1], iso[ISO_TIME_LEN];
	int64_t now = time_now_ms(), start = 0, fee = 0, amount, left = 0;
	int	rc, cancels, manual = 0;

	json_decref(a->row);
	a->row = NULL;
	if ((rc = training_booking_load(tx, a->booking_id, &b)) != OK)
		return (rc);
	if (a->scope == SCOPE_OWN && strcmp(b.user_id, a->who->user_id) != 0)
		return (ERR_NOT_FOUND);
	/* Under the booking's lock, as it is now. */
	if ((rc = training_lock(tx, "booking", b.id)) != OK ||
	    (rc = training_booking_load(tx, a->booking_id, &b)) != OK)
		return (rc);
	if (strcmp(b.status, "pending") == 0 ||
	    (a->scope == SCOPE_OWN && strcmp(b.status, "confirmed") != 0))
		return (training_refuse(a->req, ERR_CONFLICT, "NOT_REFUNDABLE",
		    "booking_id", "not_refundable",
		    a->scope == SCOPE_OWN
			? "only a confirmed booking's refund is asked for"
			: "a pending booking has nothing to refund"));
	/* Paid through Stripe, or else offline: a manual refund. */
	if ((rc = training_payment_of(tx, b.id, &p)) == ERR_NOT_FOUND)
		manual = 1;
	else if (rc != OK)
		return (rc);
	if ((rc = training_refund_left(tx, &b, manual ? NULL : p.id, &left)) ==
		ERR_NOT_FOUND &&
	    manual)
		return (
		    training_refuse(a->req, ERR_CONFLICT, "BOOKING_NOT_PAID",
			"booking_id", "not_paid", "the booking was not paid"));
	if (rc != OK)
		return (rc);
	amount = a->amount > 0 ? a->amount : left;
	if (left <= 0 || amount > left)
		return (training_refuse_n(a->req, ERR_CONFLICT,
		    "REFUND_EXCEEDS_PAYMENT", "refundable_minor", left,
		    "the refunds would come to more than was paid"));
	if ((rc = schedule_start(tx, b.schedule_id, &start)) != OK ||
	    (rc = training_refund_terms(tx, &terms)) != OK)
		return (rc);
	if (training_refund_policy(now, start, amount, a->override,
		terms.full_days, terms.fee_percent, terms.none_hours, &fee,
		&policy) != OK)
		return (training_refuse(a->req, ERR_CONFLICT,
		    "REFUND_NOT_ALLOWED", "booking_id", "policy",
		    "no refund inside the cancellation policy's last hours "
		    "before the course starts"));
	if (fee >= amount)
		return (training_refuse(a->req, ERR_CONFLICT,
		    "REFUND_NOT_ALLOWED", "amount_minor", "policy",
		    "the policy's fee would keep all of it"));
	cancels = strcmp(b.status, "confirmed") == 0 && amount == left;
	/* Counted; the guard holds whoever else writes. A manual refund is
	 * counted by its row, under the booking's lock. */
	if (!manual) {
		st = store_prepare(tx,
		    "UPDATE payment_transactions SET refund_committed_minor = "
		    "refund_committed_minor + ?, updated_at = ? WHERE id = ? "
		    "AND refund_committed_minor + ? <= amount_minor");
		store_bind_int64(st, 1, amount);
		store_bind_int64(st, 2, now);
		store_bind_text(st, 3, p.id);
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
	body = json_pack("{s:s,s:s,s:s?,s:s,s:s,s:I,s:I,s:s,s:s,s:s,s:b,s:s,"
			 "s:s,s:s}",
	    "booking_id", b.id, "user_id", b.user_id, "payment_transaction_id",
	    manual ? NULL : p.id, "method", manual ? "manual" : "stripe",
	    "refund_reference", ref, "amount_minor", (json_int_t)amount,
	    "processing_fee_minor", (json_int_t)fee, "currency",
	    manual ? b.currency : p.currency, "cause", "request", "policy",
	    policy, "cancels_booking", cancels, "status", "pending",
	    "requested_by", a->who->user_id, "requested_at",
	    time_format_iso(now, iso));
	if (body == NULL)
		return (ERR_NOMEM);
	if (a->reason != NULL)
		json_object_set_new(body, "reason", json_string(a->reason));
	if (a->override_reason != NULL)
		json_object_set_new(
		    body, "override_reason", json_string(a->override_reason));
	memset(&ctx, 0, sizeof(ctx));
	ctx.req = a->req;
	ctx.tx = tx;
	ctx.res = &refunds_resource;
	ctx.who = a->who;
	ctx.scope = SCOPE_ALL;
	rc = resource_insert(&ctx, body, a->id);
	json_decref(body);
	if (rc != OK)
		return (rc);
	return (refund_answer(tx, a->req, a->who, a->read, a->id, &a->row));
}

/* Decide */

void
training_refund_decide(struct request *req)
{
	struct decide d;
	enum scope    scope;
	json_t	     *v;
	int	      rc;

	memset(&d, 0, sizeof(d));
	d.req = req;
	d.who = req->caller;
	d.verb = req->route_arg;
	d.id = http_param(req, "id");
	if (d.id == NULL || !uuid_valid(d.id)) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such refund.");
		return;
	}
	scope = resource_scope(req->db, d.who, "refunds", "approve");
	d.read = resource_scope(req->db, d.who, "refunds", "read");
	if (scope != SCOPE_ALL) {
		if (d.read == SCOPE_NONE)
			http_problem(
			    req, ERR_NOT_FOUND, NULL, "No such refund.");
		else
			http_problem(req, ERR_FORBIDDEN, NULL,
			    "Only staff %s a refund.", d.verb);
		return;
	}
	d.read = SCOPE_ALL;
	if (req->json != NULL) {
		v = json_object_get(req->json, "reason");
		if (!json_is_object(req->json) ||
		    json_object_size(req->json) > (v != NULL ? 1u : 0u) ||
		    (v != NULL && !json_is_null(v) &&
			(!json_is_string(v) || json_string_length(v) == 0 ||
			    training_chars(json_string_value(v)) >
				TRAINING_REASON_MAX))) {
			training_refuse(req, ERR_INVALID, NULL, "reason",
			    "invalid",
			    "{\"reason\": text of 1 to 2000 "
			    "characters, or null}");
			return;
		}
		d.reason = json_string_value(v);
	}
	rc = store_run(req->db, STORE_TX_WRITE, decide_tx, &d);
	if (rc == OK) {
		http_json(req, 200, d.row);
		return;
	}
	json_decref(d.row);
	if (!req->responded)
		http_problem(req, rc, NULL,
		    rc == ERR_NOT_FOUND ? "No such refund."
					: "The refund cannot be decided.");
}

/*
 * *yes: nothing of booking b's payment is left to refund once approved
 * refund id is counted, and no other request of b is pending: its
 * approval refunds all that was paid. txn: the Stripe payment ("" when
 * paid offline). Under the booking's lock.
 */
static int
nothing_left(struct tx *tx, const struct training_booking *b, const char *id,
    const char *txn, int *yes)
{
	struct stmt *st;
	int64_t	     left = 0;
	int	     rc;

	*yes = 0;
	if ((rc = training_refund_left(tx, b, txn, &left)) != OK)
		return (rc == ERR_NOT_FOUND && txn[0] == '\0' ? OK : rc);
	if (left > 0)
		return (OK);
	st = store_prepare(tx,
	    "SELECT 1 FROM refunds WHERE booking_id = ? AND id <> ? AND "
	    "status = 'pending' LIMIT 1");
	store_bind_text(st, 1, b->id);
	store_bind_text(st, 2, id);
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_DONE)
		*yes = 1;
	return (rc == STORE_ROW || rc == STORE_DONE ? OK : rc);
}

static int
decide_tx(struct tx *tx, void *arg)
{
	struct decide	       *d = arg;
	struct training_booking b;
	struct stmt	       *st;
	unsigned char		key[SEAL_KEY_LEN], *sealed = NULL;
	char			status[16] = "", booking[UUID_STR_LEN] = "";
	char			by[UUID_STR_LEN] = "", txn[UUID_STR_LEN] = "";
	char			method[8] = "";
	char			pl[96];
	size_t			slen = 0;
	int64_t			now = time_now_ms(), amount = 0;
	int			rc, cancels = 0, pass;

	json_decref(d->row);
	d->row = NULL;
	/* Read, lock the schedule then the booking, read again. */
	for (pass = 0; pass < 2; pass++) {
		st = store_prepare(tx,
		    "SELECT status, booking_id, COALESCE(requested_by, ''), "
		    "cancels_booking, amount_minor, "
		    "COALESCE(payment_transaction_id, ''), method FROM refunds "
		    "WHERE id = ?");
		store_bind_text(st, 1, d->id);
		if ((rc = store_step(st)) == STORE_ROW) {
			strlcpy_cb(
			    status, store_col_text(st, 0), sizeof(status));
			strlcpy_cb(
			    booking, store_col_text(st, 1), sizeof(booking));
			strlcpy_cb(by, store_col_text(st, 2), sizeof(by));
			cancels = store_col_int64(st, 3) != 0;
			amount = store_col_int64(st, 4);
			strlcpy_cb(txn, store_col_text(st, 5), sizeof(txn));
			strlcpy_cb(
			    method, store_col_text(st, 6), sizeof(method));
		}
		store_finalize(st);
		if (rc != STORE_ROW)
			return (rc == STORE_DONE ? ERR_NOT_FOUND : rc);
		if ((rc = training_booking_load(tx, booking, &b)) != OK)
			return (rc);
		if (pass == 0 &&
		    ((rc = training_lock(tx, "schedule", b.schedule_id)) !=
			    OK ||
			(rc = training_lock(tx, "booking", b.id)) != OK))
			return (rc);
	}
	if (strcmp(status, "pending") != 0) {
		http_problem(d->req, ERR_CONFLICT, "INVALID_TRANSITION",
		    "A %s refund cannot be %s.", status,
		    strcmp(d->verb, "approve") == 0 ? "approved" : "rejected");
		return (ERR_CONFLICT);
	}
	if (strcmp(d->verb, "reject") == 0) {
		/* Its reason sealed under the booker's key (none once
		 * erased); its amount refundable again. */
		if (d->reason != NULL) {
			if ((rc = seal_key_load(tx, b.user_id, key)) == OK)
				rc = seal_field(key, "refunds",
				    "rejection_reason", d->id, d->reason,
				    &sealed, &slen);
			sodium_memzero(key, sizeof(key));
			if (rc != OK && rc != ERR_NOT_FOUND)
				return (rc);
		}
		st = store_prepare(tx,
		    "UPDATE refunds SET status = 'rejected', rejected_at = ?, "
		    "processed_by = ?, rejection_reason = ?, updated_at = ?, "
		    "updated_by = ? WHERE id = ? AND status = 'pending'");
		store_bind_int64(st, 1, now);
		store_bind_text(st, 2, d->who->user_id);
		if (sealed != NULL)
			store_bind_blob(st, 3, sealed, slen);
		else
			store_bind_null(st, 3);
		store_bind_int64(st, 4, now);
		store_bind_text(st, 5, d->who->user_id);
		store_bind_text(st, 6, d->id);
		rc = store_step(st);
		rc = rc == STORE_DONE ? (store_changes(st) == 1 ? OK : ERR_BUSY)
				      : rc;
		store_finalize(st);
		free(sealed);
		if (rc != OK)
			return (rc);
		/* A manual refund is counted by its row alone. */
		if (txn[0] != '\0') {
			st = store_prepare(tx,
			    "UPDATE payment_transactions SET "
			    "refund_committed_minor = refund_committed_minor - "
			    "?, updated_at = ? WHERE id = ?");
			store_bind_int64(st, 1, amount);
			store_bind_int64(st, 2, now);
			store_bind_text(st, 3, txn);
			rc = store_step(st);
			store_finalize(st);
			if (rc != STORE_DONE)
				return (rc);
		}
		if ((rc = training_audit_move(tx, d->req, d->who, "refunds",
			 "reject", d->id, "pending", "rejected")) != OK)
			return (rc);
		return (
		    refund_answer(tx, d->req, d->who, d->read, d->id, &d->row));
	}
	st = store_prepare(tx,
	    "UPDATE refunds SET status = 'approved', approved_at = ?, "
	    "processed_by = ?, updated_at = ?, updated_by = ? WHERE id = ? "
	    "AND status = 'pending'");
	store_bind_int64(st, 1, now);
	store_bind_text(st, 2, d->who->user_id);
	store_bind_int64(st, 3, now);
	store_bind_text(st, 4, d->who->user_id);
	store_bind_text(st, 5, d->id);
	rc = store_step(st);
	rc = rc == STORE_DONE ? (store_changes(st) == 1 ? OK : ERR_BUSY) : rc;
	store_finalize(st);
	if (rc != OK ||
	    (rc = training_audit_move(tx, d->req, d->who, "refunds", "approve",
		 d->id, "pending", "approved")) != OK)
		return (rc);
	/* All that was left of a confirmed booking: it ends, seats free.
	 * Decided now, not when asked: a request for "all that is left"
	 * beside another pending one is not all once the other is rejected,
	 * and one that was not all becomes all once the others are. */
	if (strcmp(b.status, "confirmed") == 0 &&
	    (rc = nothing_left(tx, &b, d->id, txn, &cancels)) != OK)
		return (rc);
	if (cancels && strcmp(b.status, "confirmed") == 0 &&
	    (rc = training_booking_cancel_row(tx, d->who, d->req, b.id,
		 "confirmed", "cancel",
		 strcmp(by, b.user_id) == 0 ? "booker" : "staff", now)) != OK)
		return (rc);
	/* Through Stripe, by the job; a manual one waits for staff. */
	snprintf(pl, sizeof(pl), "{\"refund_id\":\"%s\"}", d->id);
	if (strcmp(method, "stripe") == 0 &&
	    (rc = jobs_enqueue(tx, TRAINING_REFUND_JOB, pl, NULL, 0, NULL)) !=
		OK)
		return (rc);
	return (refund_answer(tx, d->req, d->who, d->read, d->id, &d->row));
}

/* In full, at once */

/* Reject booking_id's pending requests, their amounts refundable again:
 * carebase decides instead. by_staff: who is the staff member whose act
 * this is (processed_by); else it is carebase's, by the policy (the
 * booker's own cancel: processed_by NULL, who only in the audit). */
static int
pending_reject(struct tx *tx, const struct principal *who, struct request *req,
    const char *booking_id, int by_staff)
{
	struct stmt *st;
	json_t	    *ids, *v;
	size_t	     i;
	int64_t	     now = time_now_ms();
	int	     rc;

	if ((ids = json_array()) == NULL)
		return (ERR_NOMEM);
	st = store_prepare(tx,
	    "SELECT id FROM refunds WHERE booking_id = ? AND status = "
	    "'pending' ORDER BY id");
	store_bind_text(st, 1, booking_id);
	while ((rc = store_step(st)) == STORE_ROW)
		json_array_append_new(ids, json_string(store_col_text(st, 0)));
	store_finalize(st);
	rc = rc == STORE_DONE ? OK : rc;
	json_array_foreach(ids, i, v) {
		if (rc != OK)
			break;
		st = store_prepare(tx,
		    "UPDATE payment_transactions SET refund_committed_minor = "
		    "refund_committed_minor - (SELECT amount_minor FROM "
		    "refunds WHERE id = ?), updated_at = ? WHERE id = (SELECT "
		    "payment_transaction_id FROM refunds WHERE id = ?)");
		store_bind_text(st, 1, json_string_value(v));
		store_bind_int64(st, 2, now);
		store_bind_text(st, 3, json_string_value(v));
		rc = store_step(st);
		store_finalize(st);
		if (rc != STORE_DONE)
			break;
		st = store_prepare(tx,
		    "UPDATE refunds SET status = 'rejected', rejected_at = ?, "
		    "processed_by = ?, updated_at = ? WHERE id = ? AND status = "
		    "'pending'");
		store_bind_int64(st, 1, now);
		store_bind_text(
		    st, 2, by_staff && who != NULL ? who->user_id : NULL);
		store_bind_int64(st, 3, now);
		store_bind_text(st, 4, json_string_value(v));
		rc = store_step(st);
		store_finalize(st);
		if (rc != STORE_DONE)
			break;
		rc = training_audit_move(tx, req, who, "refunds", "reject",
		    json_string_value(v), "pending", "rejected");
	}
	json_decref(ids);
	return (rc);
}

int
training_refund_in_full(struct tx *tx, const struct principal *who,
    struct request *req, const char *booking_id, const char *cause,
    const char *why)
{
	struct training_booking b;
	struct training_payment p;
	int64_t			left = 0;
	int			rc;

	if ((rc = training_lock(tx, "booking", booking_id)) != OK ||
	    (rc = training_booking_load(tx, booking_id, &b)) != OK)
		return (rc);
	if ((rc = training_payment_of(tx, b.id, &p)) == OK) {
		if ((rc = pending_reject(tx, who, req, b.id, 1)) != OK)
			return (rc);
		return (training_refund_auto(
		    tx, who, req, &b, &p, cause, 0, "full", why, NULL));
	}
	if (rc != ERR_NOT_FOUND)
		return (rc);
	/* Paid offline: a manual refund, for staff to pay back. */
	if ((rc = training_offline_left(tx, &b, &left)) == ERR_NOT_FOUND)
		return (OK); /* unpaid, or free */
	if (rc != OK || (rc = pending_reject(tx, who, req, b.id, 1)) != OK)
		return (rc);
	return (training_refund_auto(
	    tx, who, req, &b, NULL, cause, 0, "full", why, NULL));
}

int
training_refund_on_cancel(struct tx *tx, const struct principal *who,
    struct request *req, const char *booking_id, int64_t now)
{
	struct training_booking	     b;
	struct training_payment	     p;
	const char		    *policy = NULL;
	struct training_refund_terms terms;
	char			     iso[ISO_TIME_LEN], until[64];
	int64_t			     start = 0, fee = 0, hours, left = 0;
	int			     rc, offline;

	if ((rc = training_lock(tx, "booking", booking_id)) != OK ||
	    (rc = training_booking_load(tx, booking_id, &b)) != OK ||
	    (rc = schedule_start(tx, b.schedule_id, &start)) != OK ||
	    (rc = training_refund_terms(tx, &terms)) != OK)
		return (rc);
	hours = terms.none_hours;
	if (training_refund_policy(now, start, 0, 0, terms.full_days,
		terms.fee_percent, hours, &fee, &policy) != OK) {
		if (hours == 0)
			snprintf(
			    until, sizeof(until), "until the course starts");
		else
			snprintf(until, sizeof(until),
			    "up to %lld hour%s before the course starts",
			    (long long)hours, hours == 1 ? "" : "s");
		http_problem_ext(req, ERR_CONFLICT, "TOO_LATE_TO_CANCEL",
		    json_pack("{s:s}", "cancellable_until",
			time_format_iso(start - hours * 3600000, iso)),
		    "A booking is cancelled by its booker %s; after that, ask "
		    "staff.",
		    until);
		return (ERR_CONFLICT);
	}
	if ((rc = training_payment_of(tx, b.id, &p)) != OK &&
	    rc != ERR_NOT_FOUND)
		return (rc);
	/* Paid offline: a manual refund under the same policy; unpaid or
	 * free: nothing owed. */
	offline = rc == ERR_NOT_FOUND;
	if (offline &&
	    (rc = training_offline_left(tx, &b, &left)) == ERR_NOT_FOUND)
		return (OK);
	if (rc != OK || (rc = pending_reject(tx, who, req, b.id, 0)) != OK)
		return (rc);
	if ((rc = training_refund_left(tx, &b, offline ? NULL : p.id, &left)) !=
	    OK)
		return (rc);
	/* What is left once the requests gave way, under the policy. */
	if ((rc = training_refund_policy(now, start, left, 0, terms.full_days,
		 terms.fee_percent, hours, &fee, &policy)) != OK)
		return (rc);
	return (training_refund_auto(tx, who, req, &b, offline ? NULL : &p,
	    "booker_cancelled", fee, policy, NULL, NULL));
}
