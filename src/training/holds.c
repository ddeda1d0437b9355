/*
 * Holds and how they end. A booking holds its seats while it is pending
 * and its hold_expires_at (now + training_hold_minutes when made) is
 * ahead; an inquiry holds number_of_people seats while it is pending or
 * responded and its hold is ahead. A hold past its time no longer counts
 * in the free seats (training_free_seats counts at the application's
 * now, in ms, as holds are set), and is then ended for good, under the
 * schedule's lock:
 *   - by the recurring job training.expire_holds (every minute);
 *   - by the next booking of the same schedule, in its own transaction,
 *     before it counts (so the one-live-booking index never holds a
 *     booking whose hold is over).
 * An expired booking is cancelled (cancel_reason hold_expired) and the
 * discount code's use it spent is given back; an expired inquiry is
 * expired.
 *
 * A schedule cancelled by staff cancels its live bookings
 * (schedule_cancelled), refunds in full those paid (the refunds approved
 * at once: through Stripe, sent by the training.refund job; paid offline
 * by staff's confirm, manual ones for staff to pay back and mark
 * completed; the bookers told by mail) and expires its inquiries in the
 * same transaction.
 *
 * References: TRAINING_REF_LEN characters of an alphabet without
 * look-alikes (31 symbols, ~49.5 bits), drawn by libsodium, unique by
 * index and drawn again on a collision.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "store/jobs.h"
#include "store/store.h"
#include "training/training_int.h"

#define REF_ALPHABET "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
#define REF_TRIES    8

static int ids_of(
    struct tx *, const char *sql, const char *a, int64_t b, json_t *into);

int
training_reference_ok(const char *s)
{
	size_t i;

	if (s == NULL || strlen(s) != TRAINING_REF_LEN)
		return (0);
	for (i = 0; i < TRAINING_REF_LEN; i++)
		if (strchr(REF_ALPHABET, s[i]) == NULL || s[i] == '\0')
			return (0);
	return (1);
}

int
training_reference_new(
    struct tx *tx, const char *exists_sql, char out[TRAINING_REF_LEN + 1])
{
	const size_t n = sizeof(REF_ALPHABET) - 1;
	struct stmt *st;
	int	     tries, i, rc;

	for (tries = 0; tries < REF_TRIES; tries++) {
		for (i = 0; i < TRAINING_REF_LEN; i++)
			out[i] = REF_ALPHABET[random_uniform((uint32_t)n)];
		out[TRAINING_REF_LEN] = '\0';
		st = store_prepare(tx, exists_sql);
		store_bind_text(st, 1, out);
		rc = store_step(st);
		store_finalize(st);
		if (rc == STORE_DONE)
			return (OK);
		if (rc != STORE_ROW)
			return (rc);
	}
	/* 8 collisions in a row: something else is wrong. */
	log_error("event=training_reference_exhausted tries=%d", tries);
	return (ERR_INTERNAL);
}

/* Append the ids sql finds with a and b bound (b < 0: a only). */
static int
ids_of(struct tx *tx, const char *sql, const char *a, int64_t b, json_t *into)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx, sql);
	store_bind_text(st, 1, a);
	if (b >= 0)
		store_bind_int64(st, 2, b);
	while ((rc = store_step(st)) == STORE_ROW)
		if (json_array_append_new(
			into, json_string(store_col_text(st, 0))) != 0) {
			rc = ERR_NOMEM;
			break;
		}
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

int
training_booking_cancel_row(struct tx *tx, const struct principal *who,
    struct request *req, const char *id, const char *from, const char *verb,
    const char *reason, int64_t now)
{
	struct stmt *st;
	json_t	    *extra;
	int	     rc;

	/* The code's use first: only while the booking is unpaid. */
	st = store_prepare(
	    tx, "SELECT payment_status FROM training_bookings WHERE id = ?");
	store_bind_text(st, 1, id);
	rc = store_step(st);
	if (rc == STORE_ROW) /* unpaid: pending, or its last attempt failed */
		rc = strcmp(store_col_text(st, 0), "pending") == 0 ||
			strcmp(store_col_text(st, 0), "failed") == 0
		    ? 1
		    : 0;
	store_finalize(st);
	if (rc == 1)
		rc = training_discount_release(tx, id, now);
	if (rc != OK)
		return (rc == STORE_DONE ? ERR_NOT_FOUND : rc);
	st = store_prepare(tx,
	    "UPDATE training_bookings SET status = 'cancelled', "
	    "cancelled_at = ?, cancel_reason = ?, updated_at = ?, "
	    "updated_by = ? WHERE id = ? AND status = ?");
	store_bind_int64(st, 1, now);
	store_bind_text(st, 2, reason);
	store_bind_int64(st, 3, now);
	store_bind_text(st, 4, who != NULL ? who->user_id : NULL);
	store_bind_text(st, 5, id);
	store_bind_text(st, 6, from);
	rc = store_step(st);
	rc = rc == STORE_DONE ? (store_changes(st) == 1 ? OK : ERR_BUSY) : rc;
	store_finalize(st);
	if (rc != OK ||
	    (rc = training_audit_move(tx, req, who, "training_bookings", verb,
		 id, from, "cancelled")) != OK)
		return (rc);
	/* The funnel's booking_cancelled, every way it happens (analytics.c).
	 * A paid booking's money: its callers refund it (refunds.c). */
	if ((extra = json_pack("{s:s,s:s}", "reason", reason, "from", from)) ==
	    NULL)
		return (ERR_NOMEM);
	rc = training_analytics_booking(tx, TRAINING_EV_CANCELLED, id, extra);
	json_decref(extra);
	/* The booker is told, but of a hold that ran out. */
	if (rc != OK || strcmp(reason, "hold_expired") == 0)
		return (rc);
	return (training_notify_booking(tx, id, "cancelled", 0));
}

int
training_holds_expire(
    struct tx *tx, const char *schedule_id, int64_t now, int *n)
{
	struct stmt *st;
	json_t	    *ids, *v;
	size_t	     i;
	int	     rc;

	if ((ids = json_array()) == NULL)
		return (ERR_NOMEM);
	rc = ids_of(tx,
	    "SELECT id FROM training_bookings WHERE schedule_id = ? AND "
	    "status = 'pending' AND hold_expires_at <= ? ORDER BY id",
	    schedule_id, now, ids);
	json_array_foreach(ids, i, v) {
		if (rc != OK)
			break;
		rc = training_booking_cancel_row(tx, NULL, NULL,
		    json_string_value(v), "pending", "expire", "hold_expired",
		    now);
		*n += rc == OK;
	}
	json_decref(ids);
	if (rc != OK)
		return (rc);
	st = store_prepare(tx,
	    "UPDATE booking_inquiries SET status = 'expired', updated_at = ? "
	    "WHERE schedule_id = ? AND status IN ('pending', 'responded') AND "
	    "hold_expires_at <= ?");
	store_bind_int64(st, 1, now);
	store_bind_text(st, 2, schedule_id);
	store_bind_int64(st, 3, now);
	if ((rc = store_step(st)) == STORE_DONE) {
		*n += (int)store_changes(st);
		rc = OK;
	}
	store_finalize(st);
	return (rc);
}

/* The schedules with a hold passed by now. */
struct due {
	json_t *ids;
	int64_t now;
	int	n;
};

static int
due_tx(struct tx *tx, void *arg)
{
	struct due  *d = arg;
	struct stmt *st;
	int	     rc;

	json_array_clear(d->ids);
	st = store_prepare(tx,
	    "SELECT schedule_id FROM training_bookings WHERE "
	    "status = 'pending' AND hold_expires_at <= ? UNION "
	    "SELECT schedule_id FROM booking_inquiries WHERE "
	    "status IN ('pending', 'responded') AND hold_expires_at <= ? "
	    "ORDER BY 1");
	store_bind_int64(st, 1, d->now);
	store_bind_int64(st, 2, d->now);
	while ((rc = store_step(st)) == STORE_ROW)
		if (json_array_append_new(
			d->ids, json_string(store_col_text(st, 0))) != 0) {
			rc = ERR_NOMEM;
			break;
		}
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

/* One schedule's, under its lock, as a booking of it would. */
struct one {
	const char *schedule_id;
	int64_t	    now;
	int	    n;
};

static int
expire_tx(struct tx *tx, void *arg)
{
	struct one *o = arg;
	int	    rc;

	o->n = 0;
	if ((rc = training_lock(tx, "schedule", o->schedule_id)) != OK)
		return (rc);
	return (training_holds_expire(tx, o->schedule_id, o->now, &o->n));
}

/* Each schedule in a transaction of its own: it holds one schedule's
 * lock at a time, as a booking does, so the two never wait on each
 * other in a circle. */
int
training_expire_job(struct store *db, const struct job *job, char *err)
{
	struct due d;
	struct one o;
	json_t	  *v;
	size_t	   i;
	int	   rc;

	(void)job;
	memset(&d, 0, sizeof(d));
	d.now = time_now_ms();
	if ((d.ids = json_array()) == NULL)
		return (ERR_NOMEM);
	rc = store_run(db, STORE_TX_READ, due_tx, &d);
	json_array_foreach(d.ids, i, v) {
		if (rc != OK)
			break;
		memset(&o, 0, sizeof(o));
		o.schedule_id = json_string_value(v);
		o.now = d.now;
		rc = store_run(db, STORE_TX_WRITE, expire_tx, &o);
		d.n += o.n;
	}
	json_decref(d.ids);
	if (rc != OK) {
		snprintf(err, JOB_ERR_LEN, "expiring holds: %s", err_code(rc));
		return (rc);
	}
	if (d.n > 0)
		log_info("event=training_holds_expired count=%d", d.n);
	return (OK);
}

int
training_schedule_cancelled(struct tx *tx, const struct principal *who,
    struct request *req, const char *schedule_id, int64_t now)
{
	struct stmt *st;
	json_t	    *rows, *r;
	size_t	     i;
	int	     rc;

	if ((rows = json_array()) == NULL)
		return (ERR_NOMEM);
	st = store_prepare(tx,
	    "SELECT id, status FROM training_bookings WHERE schedule_id = ? "
	    "AND status IN ('pending', 'confirmed') ORDER BY id");
	store_bind_text(st, 1, schedule_id);
	while ((rc = store_step(st)) == STORE_ROW)
		if (json_array_append_new(rows,
			json_pack("[ss]", store_col_text(st, 0),
			    store_col_text(st, 1))) != 0) {
			rc = ERR_NOMEM;
			break;
		}
	store_finalize(st);
	rc = rc == STORE_DONE ? OK : rc;
	json_array_foreach(rows, i, r) {
		if (rc != OK)
			break;
		/* Paid: all of it back, at once (by hand when offline);
		 * refunded first, so that the booker's cancelled
		 * notification says what comes back (notify_mail.c). */
		rc = training_refund_in_full(tx, who, req,
		    json_string_value(json_array_get(r, 0)),
		    "schedule_cancelled", "the course was cancelled");
		if (rc == OK)
			rc = training_booking_cancel_row(tx, who, req,
			    json_string_value(json_array_get(r, 0)),
			    json_string_value(json_array_get(r, 1)),
			    "schedule_cancel", "schedule_cancelled", now);
	}
	json_decref(rows);
	if (rc != OK)
		return (rc);
	st = store_prepare(tx,
	    "UPDATE booking_inquiries SET status = 'expired', updated_at = ? "
	    "WHERE schedule_id = ? AND status IN ('pending', 'responded')");
	store_bind_int64(st, 1, now);
	store_bind_text(st, 2, schedule_id);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}
