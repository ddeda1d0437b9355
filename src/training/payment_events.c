/*
 * What a PaymentIntent's webhook events do (issue 16 part 1c, item 4),
 * in the webhook's transaction, under a lock on the intent (then the
 * schedule's, then a discount code's: the module's lock order).
 *
 * Every event names its booking: the payment transaction's when the
 * intent is known (made by POST .../payment), else the intent's
 * metadata[booking_id] (an intent whose row was lost to a crash, or made
 * elsewhere), and the row is made then. The booking must exist, agree
 * with the row and the metadata, and cost the intent's amount in its
 * currency: otherwise 422 PAYMENT_MISMATCH, nothing changed. So one
 * PaymentIntent pays at most one booking (its id is unique in
 * payment_transactions, and its row names one booking).
 *
 *	payment_intent.succeeded	the transaction succeeded, then:
 *	    pending, hold ahead			confirmed, paid
 *	    pending, hold passed; or cancelled	confirmed, paid, if the
 *	      when its hold passed		schedule is still bookable with
 *						the seats free (and the code's
 *						use can be taken again)
 *	    otherwise (full, cancelled for	paid, cancelled, and refunded
 *	      another reason, started)		in full at once (late_payment)
 *	    paid already (another intent, or	refunded in full at once
 *	      staff's offline confirm)		(duplicate_payment)
 *	  the booker is told of a refund by mail.
 *	payment_intent.payment_failed	the attempt recorded (failures, code);
 *					the booking stays pending with
 *					payment_status failed: the booker
 *					may try again within the hold
 *	payment_intent.processing	recorded
 *	payment_intent.canceled		recorded (status cancelled)
 *	other payment_intent.*		acknowledged
 * A succeeded transaction never moves back (Stripe's events may come out
 * of order). Each status an event sets is audited
 * (payment_transactions.<status>, a failure with its code): the row
 * keeps the last attempt and counts the failed ones, the log keeps each.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/err.h"
#include "core/util.h"
#include "ops/inbox.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "store/store.h"
#include "training/training_int.h"

/* A PaymentIntent as its event tells it. */
struct intent_ev {
	const char *type;
	const char *intent;
	const char *currency;
	const char *booking; /* metadata[booking_id], or NULL */
	const char *method;  /* payment_method's id, or NULL */
	const char *failure; /* last_payment_error.code, or NULL */
	int64_t	    amount;
};

/* Its payment transaction, when there is one. */
struct txn {
	char	id[UUID_STR_LEN];
	char	booking[UUID_STR_LEN];
	char	status[16];
	int64_t committed, amount;
};

static int ev_parse(json_t *, struct intent_ev *, struct inbox_result *);
static int txn_find(struct tx *, const char *intent, struct txn *);
static int txn_write(struct tx *, const struct intent_ev *,
    const struct training_booking *, struct txn *, const char *status);
static int mismatch(struct inbox_result *, const char *why);
static int succeeded(struct tx *, const struct intent_ev *,
    struct training_booking *, struct txn *, const char **effect);
static int confirm(
    struct tx *, const struct training_booking *, const char *from);
static int revivable(struct tx *, const struct training_booking *, int64_t now);
static int mark_paid(struct tx *, const char *booking_id);

static int
mismatch(struct inbox_result *r, const char *why)
{
	return (inbox_fail(r, ERR_INVALID, "PAYMENT_MISMATCH", "%s", why));
}

static int
ev_parse(json_t *obj, struct intent_ev *e, struct inbox_result *r)
{
	json_t *v;

	e->intent = json_string_value(json_object_get(obj, "id"));
	e->currency = json_string_value(json_object_get(obj, "currency"));
	v = json_object_get(obj, "amount");
	if (!stripe_id_ok(e->intent) || !json_is_integer(v) ||
	    json_integer_value(v) <= 0 || e->currency == NULL ||
	    strlen(e->currency) != 3)
		return (inbox_fail(r, ERR_INVALID, "EVENT_INVALID",
		    "The PaymentIntent lacks an id, amount or currency."));
	e->amount = json_integer_value(v);
	e->booking = json_string_value(
	    json_object_get(json_object_get(obj, "metadata"), "booking_id"));
	v = json_object_get(obj, "payment_method");
	if (json_is_object(v)) /* expanded */
		v = json_object_get(v, "id");
	e->method =
	    stripe_id_ok(json_string_value(v)) ? json_string_value(v) : NULL;
	e->failure = json_string_value(json_object_get(
	    json_object_get(obj, "last_payment_error"), "code"));
	if (e->failure != NULL && !stripe_id_ok(e->failure))
		e->failure = "unknown";
	return (OK);
}

static int
txn_find(struct tx *tx, const char *intent, struct txn *t)
{
	struct stmt *st;
	int	     rc;

	memset(t, 0, sizeof(*t));
	st = store_prepare(tx,
	    "SELECT id, booking_id, status, refund_committed_minor, "
	    "amount_minor FROM payment_transactions WHERE "
	    "stripe_payment_intent_id = ?");
	store_bind_text(st, 1, intent);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		strlcpy_cb(t->id, store_col_text(st, 0), sizeof(t->id));
		strlcpy_cb(
		    t->booking, store_col_text(st, 1), sizeof(t->booking));
		strlcpy_cb(t->status, store_col_text(st, 2), sizeof(t->status));
		t->committed = store_col_int64(st, 3);
		t->amount = store_col_int64(st, 4);
		rc = OK;
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	}
	store_finalize(st);
	return (rc);
}

/* The transaction as the event says (made when there is none). */
static int
txn_write(struct tx *tx, const struct intent_ev *e,
    const struct training_booking *b, struct txn *t, const char *status)
{
	struct stmt *st;
	json_t	    *changes;
	char	     action[64];
	int64_t	     now = time_now_ms();
	int	     failed = strcmp(status, "failed") == 0;
	int	     rc;

	if (t->id[0] == '\0') {
		uuid_v7(t->id);
		strlcpy_cb(t->booking, b->id, sizeof(t->booking));
		t->amount = e->amount;
		st = store_prepare(tx,
		    "INSERT INTO payment_transactions (id, booking_id, "
		    "user_id, stripe_payment_intent_id, amount_minor, "
		    "currency, status, created_at, updated_at) VALUES (?, ?, "
		    "?, ?, ?, ?, 'created', ?, ?)");
		store_bind_text(st, 1, t->id);
		store_bind_text(st, 2, b->id);
		store_bind_text(st, 3, b->user_id);
		store_bind_text(st, 4, e->intent);
		store_bind_int64(st, 5, e->amount);
		store_bind_text(st, 6, b->currency);
		store_bind_int64(st, 7, now);
		store_bind_int64(st, 8, now);
		rc = store_step(st);
		store_finalize(st);
		if (rc != STORE_DONE)
			return (rc);
	}
	st = store_prepare(tx,
	    "UPDATE payment_transactions SET status = ?, payment_method = "
	    "COALESCE(?, payment_method), failure_code = CASE WHEN ? = 1 "
	    "THEN ? ELSE failure_code END, failures = failures + ?, "
	    "succeeded_at = CASE WHEN ? = 'succeeded' THEN ? ELSE "
	    "succeeded_at END, updated_at = ? WHERE id = ?");
	store_bind_text(st, 1, status);
	store_bind_text(st, 2, e->method);
	store_bind_int64(st, 3, failed);
	store_bind_text(st, 4, e->failure);
	store_bind_int64(st, 5, failed);
	store_bind_text(st, 6, status);
	store_bind_int64(st, 7, now);
	store_bind_int64(st, 8, now);
	store_bind_text(st, 9, t->id);
	rc = store_step(st);
	store_finalize(st);
	strlcpy_cb(t->status, status, sizeof(t->status));
	if (rc != STORE_DONE)
		return (rc);
	/* Every attempt in the audit log, the failed ones with their code. */
	snprintf(action, sizeof(action), "payment_transactions.%s", status);
	if ((changes = json_pack("{s:[s],s:{s:s},s:s?}", "fields", "status",
		 "new", "status", status, "failure_code",
		 failed ? e->failure : NULL)) == NULL)
		return (ERR_NOMEM);
	rc = audit_append(
	    tx, NULL, NULL, action, "payment_transactions", t->id, changes);
	json_decref(changes);
	return (rc);
}

int
training_intent_event(struct tx *tx, const char *type, json_t *obj,
    struct inbox_result *r, const char **effect)
{
	struct intent_ev	e;
	struct training_booking b;
	struct txn		t;
	const char	       *status, *booking;
	struct stmt	       *st;
	int			rc;

	*effect = "ignored";
	memset(&e, 0, sizeof(e));
	e.type = type;
	if (strcmp(type, "payment_intent.succeeded") == 0)
		status = "succeeded";
	else if (strcmp(type, "payment_intent.payment_failed") == 0)
		status = "failed";
	else if (strcmp(type, "payment_intent.processing") == 0)
		status = "processing";
	else if (strcmp(type, "payment_intent.canceled") == 0)
		status = "cancelled";
	else
		return (OK);
	if ((rc = ev_parse(obj, &e, r)) != OK)
		return (rc);
	if ((rc = training_lock(tx, "intent", e.intent)) != OK)
		return (rc);
	if ((rc = txn_find(tx, e.intent, &t)) != OK && rc != ERR_NOT_FOUND)
		return (rc);
	if (rc == OK && e.booking != NULL && strcmp(e.booking, t.booking) != 0)
		return (mismatch(r,
		    "The PaymentIntent pays another booking than its "
		    "metadata names."));
	booking = rc == OK ? t.booking : e.booking;
	if (booking == NULL || !uuid_valid(booking))
		return (mismatch(r, "The PaymentIntent names no booking."));
	if ((rc = training_booking_load(tx, booking, &b)) == ERR_NOT_FOUND)
		return (mismatch(r, "The PaymentIntent names no booking."));
	if (rc != OK)
		return (rc);
	strlcpy_cb(r->user_id, b.user_id, sizeof(r->user_id));
	if (e.amount != b.total || strcasecmp(e.currency, b.currency) != 0 ||
	    (t.id[0] != '\0' && t.amount != e.amount))
		return (mismatch(r,
		    "The PaymentIntent's amount or currency is not the "
		    "booking's."));
	if (strcmp(t.status, "succeeded") == 0) {
		*effect = "stale"; /* done already: never moved back */
		return (OK);
	}
	if (strcmp(status, "succeeded") == 0)
		return (succeeded(tx, &e, &b, &t, effect));
	if ((rc = txn_write(tx, &e, &b, &t, status)) != OK)
		return (rc);
	*effect = "recorded";
	if (strcmp(status, "failed") != 0)
		return (OK);
	/* The booking waits for another attempt within its hold. */
	st = store_prepare(tx,
	    "UPDATE training_bookings SET payment_status = 'failed', "
	    "updated_at = ? WHERE id = ? AND status = 'pending' AND "
	    "payment_status = 'pending'");
	store_bind_int64(st, 1, time_now_ms());
	store_bind_text(st, 2, b.id);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

/* The money came: confirm the booking, or give it back. */
static int
succeeded(struct tx *tx, const struct intent_ev *e, struct training_booking *b,
    struct txn *t, const char **effect)
{
	struct training_payment p;
	const char	       *why;
	int64_t			now = time_now_ms();
	int			rc;

	/* The seats are counted under the schedule's lock, as a booking's. */
	if ((rc = training_lock(tx, "schedule", b->schedule_id)) != OK ||
	    (rc = training_booking_load(tx, b->id, b)) != OK ||
	    (rc = txn_write(tx, e, b, t, "succeeded")) != OK)
		return (rc);
	memset(&p, 0, sizeof(p));
	strlcpy_cb(p.id, t->id, sizeof(p.id));
	strlcpy_cb(p.intent, e->intent, sizeof(p.intent));
	strlcpy_cb(p.currency, b->currency, sizeof(p.currency));
	p.amount = e->amount;
	p.committed = t->committed;
	if (strcmp(b->payment_status, "pending") != 0 &&
	    strcmp(b->payment_status, "failed") != 0) {
		*effect = "refunded_duplicate";
		return (training_refund_auto(tx, NULL, NULL, b, &p,
		    "duplicate_payment", "the booking had been paid already",
		    NULL));
	}
	if (strcmp(b->status, "pending") == 0 && b->hold > now) {
		*effect = "confirmed";
		return (confirm(tx, b, "pending"));
	}
	if ((strcmp(b->status, "pending") == 0 ||
		(strcmp(b->status, "cancelled") == 0 &&
		    strcmp(b->cancel_reason, "hold_expired") == 0))) {
		switch ((rc = revivable(tx, b, now))) {
		case OK:
			*effect = "confirmed_late";
			return (confirm(tx, b, b->status));
		case ERR_CONFLICT:
			break;
		default:
			return (rc);
		}
	}
	/* Too late: the booking ends, the money goes back. */
	if (strcmp(b->status, "pending") == 0 &&
	    (rc = training_booking_cancel_row(tx, NULL, NULL, b->id, "pending",
		 "expire", "hold_expired", now)) != OK)
		return (rc);
	why = strcmp(b->cancel_reason, "schedule_cancelled") == 0 ||
		strcmp(b->cancel_reason, "booker") == 0 ||
		strcmp(b->cancel_reason, "staff") == 0
	    ? "the booking had been cancelled when it arrived"
	    : "it arrived after the seats your booking held were released, "
	      "and the course is now full";
	if ((rc = mark_paid(tx, b->id)) != OK)
		return (rc);
	*effect = "refunded_late";
	return (training_refund_auto(
	    tx, NULL, NULL, b, &p, "late_payment", why, NULL));
}

/* Paid: the money is held until its refund completes. */
static int
mark_paid(struct tx *tx, const char *booking_id)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx,
	    "UPDATE training_bookings SET payment_status = 'paid', "
	    "updated_at = ? WHERE id = ?");
	store_bind_int64(st, 1, time_now_ms());
	store_bind_text(st, 2, booking_id);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

/*
 * May a booking whose hold passed take its seats again now? The schedule
 * is bookable, its seats are free (an expired hold counts for nothing),
 * the person holds no other live booking of it, and a code's use given
 * back can be taken again (taken then). ERR_CONFLICT when not.
 */
static int
revivable(struct tx *tx, const struct training_booking *b, int64_t now)
{
	struct stmt *st;
	int64_t	     free_seats = 0;
	int	     rc;

	st = store_prepare(tx,
	    "SELECT 1 FROM course_schedules WHERE id = ? AND status IN "
	    "('scheduled', 'confirmed') AND start_time > ?");
	store_bind_text(st, 1, b->schedule_id);
	store_bind_int64(st, 2, now);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_ROW)
		return (rc == STORE_DONE ? ERR_CONFLICT : rc);
	if ((rc = training_free_seats(tx, b->schedule_id, &free_seats)) != OK)
		return (rc);
	if (free_seats < b->seats)
		return (ERR_CONFLICT);
	st = store_prepare(tx,
	    "SELECT 1 FROM training_bookings WHERE schedule_id = ? AND "
	    "user_id = ? AND status IN ('pending', 'confirmed') AND id <> ?");
	store_bind_text(st, 1, b->schedule_id);
	store_bind_text(st, 2, b->user_id);
	store_bind_text(st, 3, b->id);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc == STORE_ROW ? ERR_CONFLICT : rc);
	return (training_discount_retake(tx, b, now));
}

static int
confirm(struct tx *tx, const struct training_booking *b, const char *from)
{
	struct stmt *st;
	int64_t	     now = time_now_ms();
	int	     rc;

	st = store_prepare(tx,
	    "UPDATE training_bookings SET status = 'confirmed', "
	    "payment_status = 'paid', hold_expires_at = NULL, confirmed_at = "
	    "?, cancelled_at = NULL, cancel_reason = NULL, updated_at = ?, "
	    "updated_by = NULL WHERE id = ? AND status = ?");
	store_bind_int64(st, 1, now);
	store_bind_int64(st, 2, now);
	store_bind_text(st, 3, b->id);
	store_bind_text(st, 4, from);
	rc = store_step(st);
	rc = rc == STORE_DONE ? (store_changes(st) == 1 ? OK : ERR_BUSY) : rc;
	store_finalize(st);
	if (rc != OK)
		return (rc);
	return (training_audit_move(tx, NULL, NULL, "training_bookings", "pay",
	    b->id, from, "confirmed"));
}
