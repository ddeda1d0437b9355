/*
 * Therapy bookings as people act on them (the rows come from the booking
 * webhook, webhook.c; people read them through the therapy_bookings
 * resource, bookings.c): POST /v1/therapy-bookings/{id}/cancel within
 * therapy_bookings:cancel, GET /v1/me/therapy-bookings, and the erasure
 * hook (the GDPR export is the resource's, as the client sees the rows).
 */
#include <string.h>

#include <jansson.h>

#include "bookings/bookings_int.h"
#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "resource/hooks.h"
#include "resource/resource.h"
#include "store/store.h"

/* One in-app cancel, run by store_run. */
struct cancel {
	struct request	 *req;
	struct principal *who;
	enum scope	  scope;
	const char	 *id;
	json_t		 *row;
};

static int cancel_tx(struct tx *, void *);
static int cancel_read(struct tx *, struct cancel *);
static int gdpr_erase(struct tx *, const char *);

const struct gdpr_hook bookings_gdpr_hook = {
	"therapy_bookings",
	NULL,
	gdpr_erase,
};

/* GET /v1/me/therapy-bookings: the caller's own, whatever their role. */
void
bookings_app_mine(struct request *req)
{
	resource_list(req, &therapy_bookings_resource, SCOPE_OWN);
}

/*
 * POST /v1/therapy-bookings/{id}/cancel: the booking as it is now, with
 * "booking_system_notified": "queued" when the same transaction queued
 * the notice to the booking system (notify.c), "not_configured" when
 * booking_cancel_url is empty.
 */
void
bookings_app_cancel(struct request *req)
{
	struct cancel c;
	int	      rc;

	memset(&c, 0, sizeof(c));
	c.req = req;
	c.id = http_param(req, "id");
	c.who = req->caller;
	c.scope = resource_scope(req->db, c.who, "therapy_bookings", "cancel");
	if (c.scope == SCOPE_NONE || c.id == NULL || !uuid_valid(c.id)) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such booking.");
		return;
	}
	rc = store_run(req->db, STORE_TX_WRITE, cancel_tx, &c);
	if (rc != OK) {
		json_decref(c.row);
		if (!req->responded)
			http_problem(req, rc, NULL,
			    rc == ERR_NOT_FOUND
				? "No such booking."
				: "The booking could not be cancelled.");
		return;
	}
	http_json(req, 200, c.row);
}

/* The booking as the caller sees it through their cancel scope. */
static int
cancel_read(struct tx *tx, struct cancel *c)
{
	struct resource_ctx ctx;

	json_decref(c->row);
	c->row = NULL;
	memset(&ctx, 0, sizeof(ctx));
	ctx.req = c->req;
	ctx.tx = tx;
	ctx.res = &therapy_bookings_resource;
	ctx.who = c->who;
	ctx.scope = c->scope;
	return (resource_load(&ctx, c->id, &c->row));
}

static int
cancel_tx(struct tx *tx, void *arg)
{
	struct cancel *c = arg;
	struct booking b;
	const char    *at, *notified;
	int	       rc;

	if ((rc = cancel_read(tx, c)) != OK)
		return (rc);
	if ((rc = booking_find(tx, NULL, c->id, &b)) != OK ||
	    (rc = booking_lock(tx, "code", b.code)) != OK ||
	    (rc = booking_find(tx, NULL, c->id, &b)) != OK)
		return (rc);
	if (b.cancelled) {
		http_problem(c->req, ERR_CONFLICT, "ALREADY_CANCELLED",
		    "The booking is cancelled already.");
		return (ERR_CONFLICT);
	}
	if (b.start <= time_now_ms()) {
		http_problem(c->req, ERR_CONFLICT, "BOOKING_STARTED",
		    "A booking is cancelled in the app only before it starts.");
		return (ERR_CONFLICT);
	}
	if ((rc = booking_cancel_give_back(tx, &b)) == ERR_CONFLICT) {
		http_problem(c->req, ERR_CONFLICT, "ALREADY_CANCELLED",
		    "The booking is cancelled already.");
		return (rc);
	}
	if (rc != OK ||
	    (rc = booking_audit(tx, c->who, c->req, "therapy_bookings.cancel",
		 b.id,
		 json_pack("{s:[s],s:s,s:s}", "fields", "cancelled_at",
		     "source", "app", "partner_access_id", b.access_id))) !=
		OK ||
	    (rc = hooks_changed(tx, CHANGE_PERSON, b.user_id)) != OK ||
	    (rc = cancel_read(tx, c)) != OK)
		return (rc);
	/* One notice per cancel: a second cancel stopped above. */
	at = json_string_value(json_object_get(c->row, "cancelled_at"));
	if (at == NULL)
		return (ERR_INTERNAL);
	if ((rc = bookings_notify_cancel(tx, b.code, at,
		 strcmp(c->who->user_id, b.user_id) == 0 ? "client" : "staff",
		 &notified)) != OK)
		return (rc);
	return (json_object_set_new(c->row, "booking_system_notified",
		    json_string(notified)) == 0
		? OK
		: ERR_NOMEM);
}

/*
 * Erasure keeps the bookings (the sessions they spent stay spent, the
 * partner's counts right) without anything that leads to the person: the
 * declaration clears the sealed fields and the address's blind index
 * (resource_erase_owned); what is this module's own is the mark of a row
 * stored in clear before migration 0011, which nothing is left to seal.
 */
static int
gdpr_erase(struct tx *tx, const char *user_id)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx,
	    "UPDATE therapy_bookings SET legacy_plain = 0 WHERE user_id = ?");
	store_bind_text(st, 1, user_id);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}
