/*
 * Manual refunds: the refunds of a booking paid offline (issue 16 review,
 * migration 0022). Staff's confirm action is the offline path (invoice,
 * cash, bank transfer): no payment transaction, nothing Stripe can send
 * back. A training business still owes that money back when the booking
 * or its course is cancelled, and must be able to show that it paid it:
 * so the refund is recorded as any other (method manual, no payment
 * transaction), under the same rules (the cancellation policy, never more
 * than was paid), and staff mark it completed once they have paid it
 * back, with a note of how (sealed under the booker's key):
 *
 *	pending --approve (staff)--> approved --complete (staff, note)-->
 *		completed
 *	pending --reject (staff)--> rejected
 *	(none) --schedule cancelled, staff's cancel (in full), booker's
 *		cancel (the policy)--> approved --complete (staff, note)-->
 *		completed
 *
 * A schedule cancelled by staff, and staff's cancel of a confirmed
 * booking, make it approved at once in full (training_refund_in_full:
 * training_refund_auto with no payment), the booker told; the booker's
 * own cancel of their confirmed booking makes it approved at once under
 * the cancellation policy, in full or less the fee (refused inside its
 * last hours: training_refund_on_cancel), their pending requests
 * rejected. No job sends it: nothing goes to Stripe. What
 * a booking paid offline paid is its total_minor; what is left is that
 * less its manual refunds not rejected or failed, read under the booking's
 * lock. Completion moves the booking's payment_status as a Stripe refund's
 * does: refunded when all of it went back, else partially_refunded.
 *
 * POST /v1/refunds/{id}/complete {"note"}: staff (refunds:approve:all);
 * 409 NOT_MANUAL for a refund through Stripe (Stripe completes those), 409
 * INVALID_TRANSITION unless approved, 422 without a note.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "resource/seal.h"
#include "store/store.h"
#include "training/training_int.h"

/* One completion. */
struct complete {
	struct request	 *req;
	struct principal *who;
	const char	 *id;
	const char	 *note;
	json_t		 *row;
};

static int complete_tx(struct tx *, void *);

int
training_offline_left(
    struct tx *tx, const struct training_booking *b, int64_t *left)
{
	struct stmt *st;
	int	     rc;

	*left = 0;
	if (b->total <= 0 ||
	    (strcmp(b->payment_status, "paid") != 0 &&
		strcmp(b->payment_status, "partially_refunded") != 0 &&
		strcmp(b->payment_status, "refunded") != 0))
		return (ERR_NOT_FOUND);
	st = store_prepare(tx,
	    "SELECT COALESCE(SUM(amount_minor), 0) FROM refunds WHERE "
	    "booking_id = ? AND method = 'manual' AND status NOT IN "
	    "('rejected', 'failed')");
	store_bind_text(st, 1, b->id);
	if ((rc = store_step(st)) == STORE_ROW)
		*left = b->total - store_col_int64(st, 0);
	store_finalize(st);
	return (rc == STORE_ROW ? OK : rc == STORE_DONE ? ERR_DB : rc);
}

int
training_offline_sync(struct tx *tx, const char *booking_id)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx,
	    "UPDATE training_bookings SET payment_status = CASE WHEN (SELECT "
	    "COALESCE(SUM(r.amount_minor - r.processing_fee_minor), 0) FROM "
	    "refunds r WHERE r.booking_id = training_bookings.id AND r.method "
	    "= 'manual' AND r.status = 'completed') >= total_minor THEN "
	    "'refunded' ELSE 'partially_refunded' END, updated_at = ? WHERE "
	    "id = ? AND payment_status IN ('paid', 'partially_refunded', "
	    "'refunded')");
	store_bind_int64(st, 1, time_now_ms());
	store_bind_text(st, 2, booking_id);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

void
training_refund_complete(struct request *req)
{
	struct complete c;
	json_t	       *v;
	int		rc;

	memset(&c, 0, sizeof(c));
	c.req = req;
	c.who = req->caller;
	c.id = http_param(req, "id");
	if (c.id == NULL || !uuid_valid(c.id)) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such refund.");
		return;
	}
	if (resource_scope(req->db, c.who, "refunds", "approve") != SCOPE_ALL) {
		if (resource_scope(req->db, c.who, "refunds", "read") ==
		    SCOPE_NONE)
			http_problem(
			    req, ERR_NOT_FOUND, NULL, "No such refund.");
		else
			http_problem(req, ERR_FORBIDDEN, NULL,
			    "Only staff mark a refund paid back.");
		return;
	}
	v = json_object_get(req->json, "note");
	if (!json_is_object(req->json) || json_object_size(req->json) != 1 ||
	    !json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > TRAINING_REASON_MAX * 4 ||
	    training_chars(json_string_value(v)) > TRAINING_REASON_MAX) {
		training_refuse(req, ERR_INVALID, NULL, "note",
		    v == NULL ? "required" : "invalid",
		    "{\"note\": how it was paid back, text of 1 to 2000 "
		    "characters}");
		return;
	}
	c.note = json_string_value(v);
	if ((rc = store_run(req->db, STORE_TX_WRITE, complete_tx, &c)) == OK) {
		http_json(req, 200, c.row);
		return;
	}
	json_decref(c.row);
	if (!req->responded)
		http_problem(req, rc, NULL,
		    rc == ERR_NOT_FOUND ? "No such refund."
					: "The refund cannot be completed.");
}

static int
complete_tx(struct tx *tx, void *arg)
{
	struct complete	   *c = arg;
	struct resource_ctx ctx;
	struct stmt	   *st;
	unsigned char	    key[SEAL_KEY_LEN], *sealed = NULL;
	char		    status[16] = "", method[8] = "";
	char		    booking[UUID_STR_LEN] = "", user[UUID_STR_LEN] = "";
	size_t		    slen = 0;
	int64_t		    now = time_now_ms();
	int		    rc, pass;

	json_decref(c->row);
	c->row = NULL;
	/* Read, lock the booking, read again as it is under the lock. */
	for (pass = 0; pass < 2; pass++) {
		st = store_prepare(tx,
		    "SELECT status, method, booking_id, user_id FROM refunds "
		    "WHERE id = ?");
		store_bind_text(st, 1, c->id);
		if ((rc = store_step(st)) == STORE_ROW) {
			strlcpy_cb(
			    status, store_col_text(st, 0), sizeof(status));
			strlcpy_cb(
			    method, store_col_text(st, 1), sizeof(method));
			strlcpy_cb(
			    booking, store_col_text(st, 2), sizeof(booking));
			strlcpy_cb(user, store_col_text(st, 3), sizeof(user));
		}
		store_finalize(st);
		if (rc != STORE_ROW)
			return (rc == STORE_DONE ? ERR_NOT_FOUND : rc);
		if (pass == 0 &&
		    (rc = training_lock(tx, "booking", booking)) != OK)
			return (rc);
	}
	if (strcmp(method, "manual") != 0) {
		http_problem(c->req, ERR_CONFLICT, "NOT_MANUAL",
		    "A refund through Stripe is completed by Stripe.");
		return (ERR_CONFLICT);
	}
	if (strcmp(status, "approved") != 0) {
		http_problem(c->req, ERR_CONFLICT, "INVALID_TRANSITION",
		    "A %s refund cannot be completed: approve it first.",
		    status);
		return (ERR_CONFLICT);
	}
	/* The note sealed under the booker's key (none once erased). */
	if ((rc = seal_key_load(tx, user, key)) == OK)
		rc = seal_field(
		    key, "refunds", "note", c->id, c->note, &sealed, &slen);
	sodium_memzero(key, sizeof(key));
	if (rc != OK && rc != ERR_NOT_FOUND)
		return (rc);
	st = store_prepare(tx,
	    "UPDATE refunds SET status = 'completed', completed_at = ?, "
	    "completed_by = ?, note = ?, updated_at = ?, updated_by = ? WHERE "
	    "id = ? AND status = 'approved'");
	store_bind_int64(st, 1, now);
	store_bind_text(st, 2, c->who->user_id);
	if (sealed != NULL)
		store_bind_blob(st, 3, sealed, slen);
	else
		store_bind_null(st, 3);
	store_bind_int64(st, 4, now);
	store_bind_text(st, 5, c->who->user_id);
	store_bind_text(st, 6, c->id);
	rc = store_step(st);
	rc = rc == STORE_DONE ? (store_changes(st) == 1 ? OK : ERR_BUSY) : rc;
	store_finalize(st);
	free(sealed);
	if (rc != OK ||
	    (rc = training_audit_move(tx, c->req, c->who, "refunds", "complete",
		 c->id, "approved", "completed")) != OK ||
	    (rc = training_offline_sync(tx, booking)) != OK ||
	    (rc = training_notify_refund(tx, c->id)) != OK)
		return (rc);
	log_info("event=training_refund_completed refund_id=%s method=manual",
	    c->id);
	memset(&ctx, 0, sizeof(ctx));
	ctx.req = c->req;
	ctx.tx = tx;
	ctx.res = &refunds_resource;
	ctx.who = c->who;
	ctx.scope = SCOPE_ALL;
	return (resource_load(&ctx, c->id, &c->row));
}
