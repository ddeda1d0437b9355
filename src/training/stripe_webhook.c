/*
 * POST /v1/webhooks/stripe: Stripe's events, a source of the webhook
 * inbox (ops/inbox.h) like the CMS's and the booking system's.
 *
 *	verify	 Stripe-Signature (stripe.c): 401 SIGNATURE_MISSING,
 *		 SIGNATURE_INVALID (no v1 matches, or the header does not
 *		 parse), STALE_TIMESTAMP (t more than 300 s from now); 503
 *		 WEBHOOK_NOT_CONFIGURED without stripe_webhook_secret. Such a
 *		 call leaves only a row of metadata and is never replayed.
 *	prepare	 the event: {"id": "evt_...", "type": "...", "data":
 *		 {"object": {...}}}, checked and bounded (422 otherwise)
 *	process	 in one write transaction with its effect and the inbox's
 *		 outcome, under a lock on the event's id: an event whose id
 *		 is in stripe_events already is answered {"duplicate": true}
 *		 and does nothing; otherwise its effect, then its row.
 *
 * Effects: payment_intent.* (payment_events.c) record the attempt and
 * confirm or refund the booking; refund.* and charge.refund.updated (a
 * Refund), and charge.refunded (a Charge with its refunds), complete or
 * fail refunds (refund_jobs.c). Stripe sends an event again for days
 * until it is answered 2xx, so an event that parses is answered 200
 * whatever it is: one that is not carebase's (another type, an intent of
 * no booking of ours, a refund made elsewhere) is kept with effect
 * "ignored" and its reason; one that is carebase's but does not match
 * (another amount, currency or booking) is kept with its reason, logged,
 * and its money refunded (payment_events.c). Only a body that is not an
 * event (422 EVENT_INVALID) is refused: it is in the inbox for
 * `carebase webhooks replay` once mended.
 *
 * Privacy: the body is kept (sealed) in the inbox, whatever the event
 * did, so every event is tied to the person it is about, for erasure
 * (ops/inbox.h): to the booker of the payment transaction of the intent it
 * names, else of the refund its metadata names, else of the booking its
 * metadata names (r->user_id, in process); and to the first address it
 * carries (receipt_email, billing_details.email, a customer's email, at
 * any depth: r->email_index, in prepare), even when no user has it.
 * Erasing the person removes the bodies of their rows. A body that names
 * a person only by name, or a second address, cannot be tied: the
 * inbox's retention (webhook_inbox_retention_days) bounds it.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/config.h"
#include "core/err.h"
#include "core/keyring.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "ops/inbox.h"
#include "store/store.h"
#include "training/training_int.h"

#define EVENT_TYPE_MAX 128
#define EMAIL_MAX      254 /* bytes of an address (RFC 5321) */
#define EMAIL_DEPTH    6   /* levels of an object searched for one */

static int st_verify(
    struct request *, const char *, size_t, struct inbox_result *);
static int st_prepare(const char *, size_t, json_t **, struct inbox_result *);
static int st_check(json_t *, json_t *, struct inbox_result *);
static const char *email_of(json_t *, int depth);
static int	   st_tie(struct tx *, json_t *obj, struct inbox_result *);
static int	   st_process(
	    struct tx *, const char *, size_t, json_t *, struct inbox_result *);

static const struct inbox_source stripe_source = {
	"stripe",
	NULL, /* no header kept: never the signature */
	st_verify,
	st_prepare,
	st_process,
};

int
training_stripe_init(void)
{
	return (inbox_register(&stripe_source));
}

void
training_stripe_webhook(struct request *req)
{
	inbox_receive(req, &stripe_source);
}

static int
st_verify(
    struct request *req, const char *body, size_t len, struct inbox_result *r)
{
	const char *secret = config.stripe_webhook_secret;

	if (secret == NULL || secret[0] == '\0')
		return (inbox_fail(r, ERR_UNAVAILABLE, "WEBHOOK_NOT_CONFIGURED",
		    "The Stripe webhook secret is not configured."));
	switch (stripe_signature_check(http_header(req, "Stripe-Signature"),
	    body, len, secret, time_now_ms() / 1000, STRIPE_TOLERANCE_S)) {
	case STRIPE_SIG_OK:
		return (OK);
	case STRIPE_SIG_MISSING:
		return (inbox_fail(r, ERR_UNAUTHORIZED, "SIGNATURE_MISSING",
		    "Stripe-Signature is missing."));
	case STRIPE_SIG_STALE:
		return (inbox_fail(r, ERR_UNAUTHORIZED, "STALE_TIMESTAMP",
		    "The signature's timestamp is more than %d s from now.",
		    STRIPE_TOLERANCE_S));
	default:
		return (inbox_fail(r, ERR_UNAUTHORIZED, "SIGNATURE_INVALID",
		    "Stripe-Signature does not verify."));
	}
}

static int
st_prepare(const char *body, size_t len, json_t **work, struct inbox_result *r)
{
	return (inbox_parse_object(body, len, st_check, work, r));
}

/* The event's id, type and object, kept in work. */
static int
st_check(json_t *doc, json_t *work, struct inbox_result *r)
{
	const char *id = json_string_value(json_object_get(doc, "id"));
	const char *type = json_string_value(json_object_get(doc, "type"));
	const char *email;
	json_t *obj = json_object_get(json_object_get(doc, "data"), "object");
	size_t	n;

	/* The address it carries ties the row to its person, even when the
	 * event is refused. */
	if ((email = email_of(obj, 0)) != NULL)
		keyring_email_index(email, r->email_index);
	if (!stripe_id_ok(id))
		return (inbox_fail(r, ERR_INVALID, "EVENT_INVALID",
		    "The event's id is missing or not a Stripe id."));
	if (type == NULL || (n = strlen(type)) == 0 || n > EVENT_TYPE_MAX ||
	    strspn(type, "abcdefghijklmnopqrstuvwxyz0123456789_.") != n)
		return (inbox_fail(r, ERR_INVALID, "EVENT_INVALID",
		    "The event's type is missing or not a Stripe type."));
	if (!json_is_object(obj))
		return (inbox_fail(r, ERR_INVALID, "EVENT_INVALID",
		    "The event has no data.object."));
	if (json_object_set(work, "id", json_object_get(doc, "id")) != 0 ||
	    json_object_set(work, "type", json_object_get(doc, "type")) != 0 ||
	    json_object_set(work, "object", obj) != 0)
		return (inbox_fail(r, ERR_NOMEM, NULL, "Out of memory."));
	return (OK);
}

/* The first address in v: a string member named email, receipt_email or
 * customer_email holding an "@", depth first, at most EMAIL_DEPTH levels
 * down. Borrowed; NULL when there is none. */
static const char *
email_of(json_t *v, int depth)
{
	const char *k, *e;
	json_t	   *m;
	size_t	    i;

	if (depth > EMAIL_DEPTH)
		return (NULL);
	if (json_is_array(v)) {
		json_array_foreach(v, i, m) {
			if ((e = email_of(m, depth + 1)) != NULL)
				return (e);
		}
		return (NULL);
	}
	json_object_foreach(v, k, m) {
		e = json_string_value(m);
		if (e != NULL &&
		    (strcmp(k, "email") == 0 ||
			strcmp(k, "receipt_email") == 0 ||
			strcmp(k, "customer_email") == 0) &&
		    strchr(e, '@') != NULL && strlen(e) <= EMAIL_MAX)
			return (e);
		if ((json_is_object(m) || json_is_array(m)) &&
		    (e = email_of(m, depth + 1)) != NULL)
			return (e);
	}
	return (NULL);
}

/*
 * The person the event is about, whatever it does: the booker of the
 * payment transaction of the intent it names (the object itself, or its
 * payment_intent), else of the refund or the booking its metadata (or a
 * Charge's refunds' metadata) names. Nobody found is no failure.
 */
static int
st_tie(struct tx *tx, json_t *obj, struct inbox_result *r)
{
	struct stmt *st;
	json_t	    *v, *meta = json_object_get(obj, "metadata");
	const char  *what = json_string_value(json_object_get(obj, "object"));
	const char  *intent, *refund, *booking;
	int	     rc;

	v = json_object_get(obj, "payment_intent");
	intent =
	    json_string_value(json_is_object(v) ? json_object_get(v, "id") : v);
	if (intent == NULL && what != NULL &&
	    strcmp(what, "payment_intent") == 0)
		intent = json_string_value(json_object_get(obj, "id"));
	refund = json_string_value(json_object_get(meta, "refund_id"));
	if (refund == NULL) { /* a Charge: its first refund's */
		v = json_object_get(json_object_get(obj, "refunds"), "data");
		v = json_object_get(json_array_get(v, 0), "metadata");
		refund = json_string_value(json_object_get(v, "refund_id"));
	}
	booking = json_string_value(json_object_get(meta, "booking_id"));
	st = store_prepare(tx,
	    "SELECT user_id, 1 FROM payment_transactions WHERE "
	    "stripe_payment_intent_id = ? UNION ALL SELECT user_id, 2 FROM "
	    "refunds WHERE id = ? UNION ALL SELECT user_id, 3 FROM "
	    "training_bookings WHERE id = ? ORDER BY 2 LIMIT 1");
	store_bind_text(st, 1, stripe_id_ok(intent) ? intent : "");
	store_bind_text(
	    st, 2, refund != NULL && uuid_valid(refund) ? refund : "");
	store_bind_text(
	    st, 3, booking != NULL && uuid_valid(booking) ? booking : "");
	if ((rc = store_step(st)) == STORE_ROW)
		strlcpy_cb(
		    r->user_id, store_col_text(st, 0), sizeof(r->user_id));
	store_finalize(st);
	return (rc == STORE_ROW || rc == STORE_DONE ? OK : rc);
}

static int
st_process(struct tx *tx, const char *body, size_t len, json_t *w,
    struct inbox_result *r)
{
	struct training_effect out = { "ignored", "unhandled_type" };
	struct stmt	      *st;
	const char	      *id = json_string_value(json_object_get(w, "id"));
	const char *type = json_string_value(json_object_get(w, "type"));
	json_t	   *obj = json_object_get(w, "object");
	int	    rc;

	(void)body;
	(void)len;
	/* One delivery of an event at a time; a second finds the first's
	 * row once the first has committed. */
	if ((rc = training_lock(tx, "stripe_event", id)) != OK)
		return (rc);
	/* Its person, whatever it does (a duplicate's body is kept too). */
	if ((rc = st_tie(tx, obj, r)) != OK)
		return (rc);
	st = store_prepare(
	    tx, "SELECT effect, reason FROM stripe_events WHERE event_id = ?");
	store_bind_text(st, 1, id);
	rc = store_step(st);
	if (rc == STORE_ROW)
		r->out = json_pack("{s:s,s:s,s:b,s:s,s:s*}", "event_id", id,
		    "type", type, "duplicate", 1, "effect",
		    store_col_text(st, 0), "reason",
		    store_col_is_null(st, 1) ? NULL : store_col_text(st, 1));
	store_finalize(st);
	if (rc == STORE_ROW)
		return (r->out != NULL ? OK : ERR_NOMEM);
	if (rc != STORE_DONE)
		return (rc);
	rc = OK;
	if (strncmp(type, "payment_intent.", 15) == 0)
		rc = training_intent_event(tx, type, obj, r, &out);
	else if (strncmp(type, "refund.", 7) == 0 ||
	    strcmp(type, "charge.refund.updated") == 0 ||
	    strcmp(type, "charge.refunded") == 0)
		rc = training_refund_event(tx, type, obj, r, &out);
	if (rc != OK)
		return (rc);
	st = store_prepare(tx,
	    "INSERT INTO stripe_events (event_id, event_type, object_id, "
	    "effect, reason, processed_at) VALUES (?, ?, ?, ?, ?, ?)");
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, type);
	store_bind_text(st, 3,
	    stripe_id_ok(json_string_value(json_object_get(obj, "id")))
		? json_string_value(json_object_get(obj, "id"))
		: NULL);
	store_bind_text(st, 4, out.effect);
	store_bind_text(st, 5, out.reason);
	store_bind_int64(st, 6, time_now_ms());
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc);
	if (strcmp(out.effect, "ignored") == 0)
		log_info("event=stripe_event_ignored event_id=%s type=%s "
			 "reason=%s",
		    id, type, out.reason != NULL ? out.reason : "-");
	r->out = json_pack("{s:s,s:s,s:b,s:s,s:s*}", "event_id", id, "type",
	    type, "duplicate", 0, "effect", out.effect, "reason", out.reason);
	return (r->out != NULL ? OK : ERR_NOMEM);
}
