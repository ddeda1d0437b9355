/*
 * Payments of training bookings through Stripe (issue 16 part 1c, item
 * 4), and the payment transactions that record them.
 *
 * The booker starts paying with POST /v1/training-bookings/{id}/payment:
 *
 *	1. read the booking (their own, pending, its hold ahead, something
 *	   to pay): refused with a problem and nothing changed otherwise;
 *	2. outside any transaction, POST /v1/payment_intents to Stripe for
 *	   the booking's total_minor in its currency (the server's price,
 *	   never the client's), metadata[booking_id] and
 *	   metadata[booking_reference], with the Idempotency-Key
 *	   "training-booking-<id>": a retry, after a lost answer or a crash,
 *	   gets the same PaymentIntent back from Stripe;
 *	3. record the intent (payment_transactions, one row an intent, its
 *	   id unique) in a write transaction, unless a retry did already;
 *	4. answer the intent's client_secret, for Stripe.js to confirm the
 *	   payment in the browser.
 *
 * Stripe unreachable or refusing answers 502 (PAYMENT_PROVIDER_
 * UNAVAILABLE, PAYMENT_PROVIDER_ERROR) and records nothing. The
 * payment's outcome arrives by webhook (stripe_webhook.c,
 * payment_events.c): the booking is confirmed and paid there, not here.
 * Staff's confirm action stays the offline path (invoice, cash).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "store/store.h"
#include "training/training_int.h"

#define STAFF_OWN (SEE_ALL | SEE_OWN)

/* One payment started, through its three steps. */
struct pay {
	struct request	       *req;
	struct principal       *who;
	enum scope		scope;
	const char	       *id;
	struct training_booking b;
	const char	       *intent;
	int			made; /* the row was made now */
};

static int pay_check_tx(struct tx *, void *);
static int pay_record_tx(struct tx *, void *);
static int intent_form(const struct training_booking *, struct buf *);
static int intent_check(
    const struct training_booking *, json_t *doc, const char **why);

static const char *const providers[] = { "stripe", NULL };
static const char *const statuses[] = { "created", "processing", "succeeded",
	"failed", "cancelled", NULL };
static const char *const unapplied[] = { "duplicate", "amount", "currency",
	"booking", NULL };

static const struct field transaction_fields[] = {
	{ "booking_id", FIELD_UUID, FIELD_READONLY | FIELD_FILTER, 0, 0, NULL,
	    NULL, "training_bookings", 0, "the booking it pays" },
	{ "user_id", FIELD_UUID, FIELD_READONLY | FIELD_FILTER, 0, 0, NULL,
	    NULL, NULL, 0, "the booker; owns the row" },
	{ "provider", FIELD_ENUM, FIELD_READONLY, 0, 0, providers, NULL, NULL,
	    0, "stripe" },
	{ "stripe_payment_intent_id", FIELD_TEXT, FIELD_READONLY | FIELD_FILTER,
	    0, STRIPE_ID_MAX, NULL, NULL, NULL, 0,
	    "the PaymentIntent (unique: one pays at most one booking)" },
	{ "amount_minor", FIELD_INT, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    "the booking's total_minor when the intent was made; what Stripe "
	    "took when that was another amount (unapplied_reason)" },
	{ "currency", FIELD_TEXT, FIELD_READONLY, 0, 3, NULL, NULL, NULL, 0,
	    NULL },
	{ "status", FIELD_ENUM, FIELD_READONLY | FIELD_FILTER, 0, 0, statuses,
	    NULL, NULL, 0,
	    "created, processing, succeeded, failed (the last attempt; the "
	    "booker may try again) or cancelled (Stripe's "
	    "payment_intent.canceled), as Stripe's events say" },
	{ "payment_method", FIELD_TEXT,
	    FIELD_READONLY | FIELD_NULLABLE | FIELD_ERASE, 0, STRIPE_ID_MAX,
	    NULL, NULL, NULL, STAFF_OWN,
	    "Stripe's id of the payment method used; cleared when the booker "
	    "is erased" },
	{ "failure_code", FIELD_TEXT, FIELD_READONLY | FIELD_NULLABLE, 0, 72,
	    NULL, NULL, NULL, 0, "Stripe's code of the last failed attempt" },
	{ "failures", FIELD_INT, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    "attempts that failed" },
	{ "succeeded_at", FIELD_TIME, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, 0, NULL },
	{ "refund_committed_minor", FIELD_INT, FIELD_READONLY, 0, 0, NULL, NULL,
	    NULL, 0,
	    "refunds asked for or made and not rejected or failed: never more "
	    "than amount_minor" },
	{ "refunded_minor", FIELD_INT, FIELD_READONLY, 0, 0, NULL, NULL, NULL,
	    0, "what went back: the refunds Stripe completed, less fees" },
	{ "unapplied_reason", FIELD_ENUM, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    unapplied, NULL, NULL, 0,
	    "why a succeeded payment paid no booking and was refunded in "
	    "full: duplicate (the booking was paid already), or amount, "
	    "currency or booking (not those the intent was made for); null "
	    "otherwise" },
};

const struct resource payment_transactions_resource = {
	.name = "payment_transactions",
	.path = "/v1/payment-transactions",
	.table = "payment_transactions",
	.fields = transaction_fields,
	.nfields = NELEM(transaction_fields),
	.owner_column = "user_id",
	.actions = (1 << ACTION_LIST) | (1 << ACTION_READ),
	.doc = "Payments of training bookings through Stripe: one row a "
	       "PaymentIntent, made when the booker starts paying (POST "
	       "/v1/training-bookings/{id}/payment) or when its webhook event "
	       "comes first, and moved by Stripe's webhook events only. The "
	       "booker sees theirs, staff every one.",
};

int
training_booking_load(
    struct tx *tx, const char *id, struct training_booking *out)
{
	struct stmt *st;
	char	     key[UUID_STR_LEN];
	int	     rc;

	strlcpy_cb(key, id, sizeof(key)); /* id may be out->id */
	memset(out, 0, sizeof(*out));
	st = store_prepare(tx,
	    "SELECT id, user_id, schedule_id, status, payment_status, "
	    "COALESCE(cancel_reason, ''), booking_reference, currency, "
	    "COALESCE(discount_code_id, ''), discount_released_at IS NOT NULL, "
	    "seats, total_minor, COALESCE(hold_expires_at, 0) FROM "
	    "training_bookings WHERE id = ?");
	store_bind_text(st, 1, key);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		strlcpy_cb(out->id, store_col_text(st, 0), sizeof(out->id));
		strlcpy_cb(
		    out->user_id, store_col_text(st, 1), sizeof(out->user_id));
		strlcpy_cb(out->schedule_id, store_col_text(st, 2),
		    sizeof(out->schedule_id));
		strlcpy_cb(
		    out->status, store_col_text(st, 3), sizeof(out->status));
		strlcpy_cb(out->payment_status, store_col_text(st, 4),
		    sizeof(out->payment_status));
		strlcpy_cb(out->cancel_reason, store_col_text(st, 5),
		    sizeof(out->cancel_reason));
		strlcpy_cb(out->reference, store_col_text(st, 6),
		    sizeof(out->reference));
		strlcpy_cb(out->currency, store_col_text(st, 7),
		    sizeof(out->currency));
		strlcpy_cb(out->discount_code_id, store_col_text(st, 8),
		    sizeof(out->discount_code_id));
		out->discount_released = store_col_int64(st, 9) != 0;
		out->seats = store_col_int64(st, 10);
		out->total = store_col_int64(st, 11);
		out->hold = store_col_int64(st, 12);
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
training_payment_of(
    struct tx *tx, const char *booking_id, struct training_payment *out)
{
	struct stmt *st;
	int	     rc;

	memset(out, 0, sizeof(*out));
	st = store_prepare(tx,
	    "SELECT id, stripe_payment_intent_id, currency, amount_minor, "
	    "refund_committed_minor, refunded_minor FROM payment_transactions "
	    "WHERE booking_id = ? AND status = 'succeeded' AND "
	    "unapplied_reason IS NULL ORDER BY succeeded_at, id LIMIT 1");
	store_bind_text(st, 1, booking_id);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		strlcpy_cb(out->id, store_col_text(st, 0), sizeof(out->id));
		strlcpy_cb(
		    out->intent, store_col_text(st, 1), sizeof(out->intent));
		strlcpy_cb(out->currency, store_col_text(st, 2),
		    sizeof(out->currency));
		out->amount = store_col_int64(st, 3);
		out->committed = store_col_int64(st, 4);
		out->refunded = store_col_int64(st, 5);
		rc = OK;
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	}
	store_finalize(st);
	return (rc);
}

void
training_booking_pay(struct request *req)
{
	struct stripe_reply sr;
	struct pay	    p;
	struct buf	    form;
	const char	   *why = NULL;
	char		    idem[64];
	int		    rc;

	memset(&p, 0, sizeof(p));
	memset(&sr, 0, sizeof(sr));
	buf_init(&form, 4096);
	p.req = req;
	p.who = req->caller;
	p.id = http_param(req, "id");
	if (p.id == NULL || !uuid_valid(p.id)) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such booking.");
		goto out;
	}
	p.scope = resource_scope(req->db, p.who, "training_bookings", "pay");
	if (p.scope != SCOPE_OWN && p.scope != SCOPE_ALL) {
		if (resource_scope(req->db, p.who, "training_bookings",
			"read") == SCOPE_NONE)
			http_problem(
			    req, ERR_NOT_FOUND, NULL, "No such booking.");
		else
			http_problem(req, ERR_FORBIDDEN, NULL,
			    "Only the booker pays a booking.");
		goto out;
	}
	if ((rc = store_run(req->db, STORE_TX_READ, pay_check_tx, &p)) != OK) {
		if (!req->responded)
			http_problem(req, rc, NULL,
			    rc == ERR_NOT_FOUND
				? "No such booking."
				: "The booking cannot be paid.");
		goto out;
	}
	if (!stripe_configured()) {
		http_problem(req, ERR_UNAVAILABLE, "PAYMENTS_NOT_CONFIGURED",
		    "Payments are not configured (stripe_secret_key).");
		goto out;
	}
	snprintf(idem, sizeof(idem), "training-booking-%s", p.id);
	if (intent_form(&p.b, &form) != OK) {
		http_problem(req, ERR_NOMEM, NULL, "Out of memory.");
		goto out;
	}
	/* Outside any transaction: Stripe may take stripe_timeout_s. */
	rc = stripe_post("/v1/payment_intents", form.data, idem, &sr);
	if (rc == OK && intent_check(&p.b, sr.doc, &why) != OK)
		rc = ERR_BAD_GATEWAY;
	if (rc != OK) {
		log_warn(
		    "event=stripe_intent_failed booking_id=%s error=\"%s\"",
		    p.id, why != NULL ? why : sr.error);
		http_problem(req, ERR_BAD_GATEWAY,
		    rc == ERR_UNAVAILABLE ? "PAYMENT_PROVIDER_UNAVAILABLE"
					  : "PAYMENT_PROVIDER_ERROR",
		    "The payment provider could not start the payment.");
		goto out;
	}
	p.intent = json_string_value(json_object_get(sr.doc, "id"));
	if ((rc = store_run(req->db, STORE_TX_WRITE, pay_record_tx, &p)) !=
	    OK) {
		if (!req->responded)
			http_problem(req, rc, NULL,
			    "The payment could not be recorded.");
		goto out;
	}
	http_json(req, p.made ? 201 : 200,
	    json_pack("{s:s,s:s,s:O,s:I,s:s,s:O}", "booking_id", p.id,
		"payment_intent_id", p.intent, "client_secret",
		json_object_get(sr.doc, "client_secret"), "amount_minor",
		(json_int_t)p.b.total, "currency", p.b.currency, "status",
		json_object_get(sr.doc, "status")));
out:
	stripe_reply_free(&sr);
	buf_free(&form);
}

/* The booker's own pending booking, its hold ahead, something to pay. */
static int
pay_check_tx(struct tx *tx, void *arg)
{
	struct pay *p = arg;
	int	    rc;

	if ((rc = training_booking_load(tx, p->id, &p->b)) != OK)
		return (rc);
	if (p->scope == SCOPE_OWN && strcmp(p->b.user_id, p->who->user_id) != 0)
		return (ERR_NOT_FOUND);
	if (strcmp(p->b.payment_status, "pending") != 0 &&
	    strcmp(p->b.payment_status, "failed") != 0) {
		http_problem(p->req, ERR_CONFLICT, "ALREADY_PAID",
		    "The booking is %s already.", p->b.payment_status);
		return (ERR_CONFLICT);
	}
	if (strcmp(p->b.status, "pending") != 0) {
		http_problem(p->req, ERR_CONFLICT, "INVALID_TRANSITION",
		    "A %s booking cannot be paid.", p->b.status);
		return (ERR_CONFLICT);
	}
	if (p->b.hold <= time_now_ms()) {
		http_problem(p->req, ERR_CONFLICT, "HOLD_EXPIRED",
		    "The booking's hold expired: its seats are free again.");
		return (ERR_CONFLICT);
	}
	if (p->b.total <= 0) {
		http_problem(p->req, ERR_CONFLICT, "NOTHING_TO_PAY",
		    "The booking costs nothing: confirm it (POST "
		    "/v1/training-bookings/{id}/confirm).");
		return (ERR_CONFLICT);
	}
	return (OK);
}

/* The PaymentIntent asked for: the server's amount, in lower case. */
static int
intent_form(const struct training_booking *b, struct buf *form)
{
	char amount[24], cur[4], desc[64];
	int  i;

	snprintf(amount, sizeof(amount), "%lld", (long long)b->total);
	for (i = 0; i < 3; i++)
		cur[i] = (char)tolower((unsigned char)b->currency[i]);
	cur[3] = '\0';
	snprintf(desc, sizeof(desc), "Training booking %s", b->reference);
	if (stripe_form_add(form, "amount", amount) != OK ||
	    stripe_form_add(form, "currency", cur) != OK ||
	    stripe_form_add(
		form, "automatic_payment_methods[enabled]", "true") != OK ||
	    stripe_form_add(form, "description", desc) != OK ||
	    stripe_form_add(form, "metadata[booking_id]", b->id) != OK ||
	    stripe_form_add(
		form, "metadata[booking_reference]", b->reference) != OK)
		return (ERR_NOMEM);
	return (OK);
}

/* Stripe's answer is the intent asked for: an id, a client secret, the
 * amount, currency and booking. */
static int
intent_check(const struct training_booking *b, json_t *doc, const char **why)
{
	const char *id = json_string_value(json_object_get(doc, "id"));
	const char *cur = json_string_value(json_object_get(doc, "currency"));
	json_t	   *meta = json_object_get(doc, "metadata");

	*why = "Stripe's PaymentIntent is not the one asked for";
	if (!stripe_id_ok(id) ||
	    !json_is_string(json_object_get(doc, "client_secret")) ||
	    !json_is_string(json_object_get(doc, "status")) ||
	    json_integer_value(json_object_get(doc, "amount")) != b->total ||
	    cur == NULL || strcasecmp(cur, b->currency) != 0 ||
	    strcmp(
		json_string_value(json_object_get(meta, "booking_id")) != NULL
		    ? json_string_value(json_object_get(meta, "booking_id"))
		    : "",
		b->id) != 0)
		return (ERR_BAD_GATEWAY);
	*why = NULL;
	return (OK);
}

/* Record the intent once; a retry finds it. */
static int
pay_record_tx(struct tx *tx, void *arg)
{
	struct pay  *p = arg;
	struct stmt *st;
	json_t	    *changes;
	char	     id[UUID_STR_LEN];
	int64_t	     now = time_now_ms();
	int	     rc;

	p->made = 0;
	if ((rc = training_lock(tx, "intent", p->intent)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "SELECT booking_id FROM payment_transactions WHERE "
	    "stripe_payment_intent_id = ?");
	store_bind_text(st, 1, p->intent);
	rc = store_step(st);
	if (rc == STORE_ROW)
		rc = strcmp(store_col_text(st, 0), p->id) == 0 ? OK
							       : ERR_INTERNAL;
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc);
	uuid_v7(id);
	st = store_prepare(tx,
	    "INSERT INTO payment_transactions (id, booking_id, user_id, "
	    "stripe_payment_intent_id, amount_minor, currency, status, "
	    "created_at, updated_at, created_by, updated_by) VALUES (?, ?, "
	    "?, ?, ?, ?, 'created', ?, ?, ?, ?)");
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, p->id);
	store_bind_text(st, 3, p->b.user_id);
	store_bind_text(st, 4, p->intent);
	store_bind_int64(st, 5, p->b.total);
	store_bind_text(st, 6, p->b.currency);
	store_bind_int64(st, 7, now);
	store_bind_int64(st, 8, now);
	store_bind_text(st, 9, p->who->user_id);
	store_bind_text(st, 10, p->who->user_id);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc);
	if ((changes = json_pack("{s:[s,s,s,s],s:s}", "fields", "booking_id",
		 "stripe_payment_intent_id", "amount_minor", "currency",
		 "booking_id", p->id)) == NULL)
		return (ERR_NOMEM);
	rc = audit_append(tx, p->who, p->req, "payment_transactions.create",
	    "payment_transactions", id, changes);
	json_decref(changes);
	p->made = rc == OK;
	return (rc);
}
