/*
 * What a PaymentIntent's webhook events do (issue 16 part 1c, item 4),
 * in the webhook's transaction, under a lock on the intent (then the
 * schedule's, then a discount code's: the module's lock order).
 *
 * An event names its booking: the payment transaction's when the intent
 * is known (made by POST .../payment), else the intent's
 * metadata[booking_id] (an intent whose row was lost to a crash, or made
 * elsewhere), and the row is made then. Stripe sends again, for days,
 * every event not answered 2xx, so every event that parses is answered
 * 200 and kept in stripe_events with what it did and why:
 *
 *	not carebase's: no row for the intent	ignored: no_booking,
 *	  and no booking named, or a booking	  unknown_booking; nothing
 *	  that does not exist (another system	  changed
 *	  sharing the Stripe account)
 *	carebase's, but its amount, currency	payment_intent.succeeded:
 *	  or booking is not that of the booking	  refunded_mismatch (reason
 *	  the intent was made for (the intent	  amount, currency or booking):
 *	  changed at Stripe)			  the payment recorded as
 *						  unapplied, logged, refunded in
 *						  full by the training.refund
 *						  job (cause payment_mismatch),
 *						  the booker told; the booking
 *						  as it was. Other events:
 *						  mismatch, nothing changed
 *
 * So one PaymentIntent pays at most one booking (its id is unique in
 * payment_transactions, and its row names one booking), and money taken
 * that pays no booking is never kept in silence.
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
 *	      staff's offline confirm)		(duplicate_payment; the
 *						payment unapplied: duplicate)
 *	  the booker is told of a refund by mail.
 *	payment_intent.payment_failed	the attempt recorded (failures, code);
 *					the booking stays pending with
 *					payment_status failed: the booker
 *					may try again within the hold
 *	payment_intent.processing	recorded
 *	payment_intent.canceled		recorded (status cancelled)
 *	other payment_intent.*		ignored: unhandled_type
 * A succeeded transaction never moves back (Stripe's events may come out
 * of order): a later event is stale, a mismatched one with its reason.
 * Each status an event sets is audited (payment_transactions.<status>, a
 * failure with its code): the row keeps the last attempt and counts the
 * failed ones, the log keeps each.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/err.h"
#include "core/log.h"
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
	char	    cur[4]; /* currency, upper case */
};

/* Its payment transaction, when there is one. */
struct txn {
	char	id[UUID_STR_LEN];
	char	booking[UUID_STR_LEN];
	char	status[16];
	int64_t committed, amount;
};

static int  ev_parse(json_t *, struct intent_ev *, struct inbox_result *);
static int  txn_find(struct tx *, const char *intent, struct txn *);
static int  txn_write(struct tx *, const struct intent_ev *,
     const struct training_booking *, struct txn *, const char *status);
static void mismatch_log(const struct intent_ev *,
    const struct training_booking *, const char *kind, const char *done);
static const char *mismatch_of(const struct intent_ev *,
    const struct training_booking *, const struct txn *);
static int	   mismatched(struct tx *, const struct intent_ev *,
	    const struct training_booking *, struct txn *, const char *kind);
static int	   succeeded(struct tx *, const struct intent_ev *,
	    struct training_booking *, struct txn *, const char **effect);
static int	   confirm(
	    struct tx *, const struct training_booking *, const char *from);
static int revivable(struct tx *, const struct training_booking *, int64_t now);
static int mark_paid(struct tx *, const char *booking_id);
static int unapplied(struct tx *, const char *txn_id, const char *why);

/*
 * Why the event's intent does not pay its booking b (the transaction's,
 * t, when there is one): "booking" when its metadata names another,
 * "amount" or "currency" when they are not the booking's or the intent's
 * as it was made; NULL when it matches.
 */
static const char *
mismatch_of(const struct intent_ev *e, const struct training_booking *b,
    const struct txn *t)
{
	if (e->booking != NULL && strcmp(e->booking, b->id) != 0)
		return ("booking");
	if (e->amount != b->total ||
	    (t->id[0] != '\0' && t->amount != e->amount))
		return ("amount");
	if (strcasecmp(e->currency, b->currency) != 0)
		return ("currency");
	return (NULL);
}

static int
ev_parse(json_t *obj, struct intent_ev *e, struct inbox_result *r)
{
	json_t *v;
	int	i;

	e->intent = json_string_value(json_object_get(obj, "id"));
	e->currency = json_string_value(json_object_get(obj, "currency"));
	v = json_object_get(obj, "amount");
	if (!stripe_id_ok(e->intent) || !json_is_integer(v) ||
	    json_integer_value(v) <= 0 || e->currency == NULL ||
	    strlen(e->currency) != 3)
		return (inbox_fail(r, ERR_INVALID, "EVENT_INVALID",
		    "The PaymentIntent lacks an id, amount or currency."));
	e->amount = json_integer_value(v);
	for (i = 0; i < 3; i++)
		e->cur[i] = (char)toupper((unsigned char)e->currency[i]);
	e->cur[3] = '\0';
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
		store_bind_text(st, 6, e->cur);
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
    struct inbox_result *r, struct training_effect *out)
{
	struct intent_ev	e;
	struct training_booking b;
	struct txn		t;
	const char	       *status, *booking, *kind;
	struct stmt	       *st;
	int			rc;

	out->effect = "ignored";
	out->reason = NULL;
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
	else {
		out->reason = "unhandled_type";
		return (OK);
	}
	if ((rc = ev_parse(obj, &e, r)) != OK)
		return (rc);
	if ((rc = training_lock(tx, "intent", e.intent)) != OK)
		return (rc);
	if ((rc = txn_find(tx, e.intent, &t)) != OK && rc != ERR_NOT_FOUND)
		return (rc);
	/* Not carebase's: no row, and no booking of ours named. */
	booking = rc == OK ? t.booking : e.booking;
	if (booking == NULL) {
		out->reason = "no_booking";
		return (OK);
	}
	if (!uuid_valid(booking) ||
	    (rc = training_booking_load(tx, booking, &b)) == ERR_NOT_FOUND) {
		out->reason = "unknown_booking";
		return (OK);
	}
	if (rc != OK)
		return (rc);
	strlcpy_cb(r->user_id, b.user_id, sizeof(r->user_id));
	kind = mismatch_of(&e, &b, &t);
	if (strcmp(t.status, "succeeded") == 0) {
		out->effect = "stale"; /* done already: never moved back */
		out->reason = kind;
		if (kind != NULL)
			mismatch_log(&e, &b, kind, "stale");
		return (OK);
	}
	if (kind != NULL) {
		out->reason = kind;
		if (strcmp(status, "succeeded") != 0) {
			/* No money taken: nothing to give back. */
			out->effect = "mismatch";
			mismatch_log(&e, &b, kind, "ignored");
			return (OK);
		}
		out->effect = "refunded_mismatch";
		return (mismatched(tx, &e, &b, &t, kind));
	}
	if (strcmp(status, "succeeded") == 0)
		return (succeeded(tx, &e, &b, &t, &out->effect));
	if ((rc = txn_write(tx, &e, &b, &t, status)) != OK)
		return (rc);
	out->effect = "recorded";
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

/* One line for the operator: ids and amounts, never personal data. */
static void
mismatch_log(const struct intent_ev *e, const struct training_booking *b,
    const char *kind, const char *done)
{
	log_warn("event=training_payment_mismatch payment_intent=%s "
		 "booking_id=%s mismatch=%s type=%s amount_minor=%lld "
		 "currency=%s booking_total_minor=%lld booking_currency=%s "
		 "done=%s",
	    e->intent, b->id, kind, e->type, (long long)e->amount, e->cur,
	    (long long)b->total, b->currency, done);
}

/*
 * Money taken that does not pay its booking: the transaction records what
 * Stripe took (amount, currency) as unapplied, with why; the booking is
 * left as it was, and all of it goes back at once (payment_mismatch), the
 * booker told.
 */
static int
mismatched(struct tx *tx, const struct intent_ev *e,
    const struct training_booking *b, struct txn *t, const char *kind)
{
	struct training_payment p;
	struct stmt	       *st;
	json_t		       *changes;
	int			rc;

	if ((rc = txn_write(tx, e, b, t, "succeeded")) != OK)
		return (rc);
	st = store_prepare(tx,
	    "UPDATE payment_transactions SET amount_minor = ?, currency = ?, "
	    "unapplied_reason = ?, updated_at = ? WHERE id = ?");
	store_bind_int64(st, 1, e->amount);
	store_bind_text(st, 2, e->cur);
	store_bind_text(st, 3, kind);
	store_bind_int64(st, 4, time_now_ms());
	store_bind_text(st, 5, t->id);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc);
	if ((changes = json_pack("{s:[s,s,s],s:{s:I,s:s,s:s}}", "fields",
		 "amount_minor", "currency", "unapplied_reason", "new",
		 "amount_minor", (json_int_t)e->amount, "currency", e->cur,
		 "unapplied_reason", kind)) == NULL)
		return (ERR_NOMEM);
	rc = audit_append(tx, NULL, NULL, "payment_transactions.unapplied",
	    "payment_transactions", t->id, changes);
	json_decref(changes);
	if (rc != OK)
		return (rc);
	mismatch_log(e, b, kind, "refunded");
	memset(&p, 0, sizeof(p));
	strlcpy_cb(p.id, t->id, sizeof(p.id));
	strlcpy_cb(p.intent, e->intent, sizeof(p.intent));
	strlcpy_cb(p.currency, e->cur, sizeof(p.currency));
	p.amount = e->amount;
	p.committed = t->committed;
	return (training_refund_auto(tx, NULL, NULL, b, &p, "payment_mismatch",
	    0, "full", "it did not match your booking, so it has not paid it",
	    NULL));
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
		if ((rc = unapplied(tx, t->id, "duplicate")) != OK)
			return (rc);
		return (training_refund_auto(tx, NULL, NULL, b, &p,
		    "duplicate_payment", 0, "full",
		    "the booking had been paid already", NULL));
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
	    tx, NULL, NULL, b, &p, "late_payment", 0, "full", why, NULL));
}

/* A payment that paid no booking, and why. */
static int
unapplied(struct tx *tx, const char *txn_id, const char *why)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx,
	    "UPDATE payment_transactions SET unapplied_reason = ?, updated_at "
	    "= ? WHERE id = ?");
	store_bind_text(st, 1, why);
	store_bind_int64(st, 2, time_now_ms());
	store_bind_text(st, 3, txn_id);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
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
	if ((rc = training_free_seats(tx, b->schedule_id, now, &free_seats)) !=
	    OK)
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
	json_t	    *extra;
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
	if (rc != OK ||
	    (rc = training_audit_move(tx, NULL, NULL, "training_bookings",
		 "pay", b->id, from, "confirmed")) != OK)
		return (rc);
	/* The funnel's payment_succeeded (analytics.c); the booker is told. */
	if ((extra = json_pack("{s:s}", "method", "stripe")) == NULL)
		return (ERR_NOMEM);
	rc = training_analytics_booking(tx, TRAINING_EV_PAID, b->id, extra);
	json_decref(extra);
	if (rc != OK)
		return (rc);
	return (training_notify_booking(tx, b->id, "booking_confirmed", 0));
}
