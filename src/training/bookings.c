/*
 * Training bookings (seed 004: bookings) and their attendees.
 *
 * A booking is a hold of one seat for each attendee it names (a person:
 * a name and an address, sealed under the booker's data key; 1 to 12),
 * on a schedule that is scheduled or confirmed and has not started:
 *
 *	pending --confirm--> confirmed --complete--> completed
 *	pending|confirmed --cancel--> cancelled    confirmed --no_show--> no_show
 *	  (the booker's confirmed one: the cancellation policy, refunds.c)
 *	pending --(hold expired: holds.c)--> cancelled
 *
 * A new booking is pending with payment_status pending and holds its
 * seats until hold_expires_at (now + the setting booking_hold_minutes,
 * by default config training_hold_minutes). It is paid
 * through Stripe (payments.c, payment_events.c), or by staff's confirm
 * action, the offline path (invoice, cash: payment_status paid); one
 * that costs nothing is confirmed by its booker (payment_status paid, no
 * payment transaction). Staff's cancel of a paid booking refunds it in
 * full; the booker's, under the cancellation policy (refunds.c): through
 * Stripe, or by a manual refund staff pay back when it was paid offline
 * (refunds_manual.c). Status and payment_status move only through the actions
 * (POST /v1/training-bookings/{id}/<verb>), payments and refunds, never
 * by PATCH (422: they are read-only), which changes only notes.
 *
 * The rules, in the booking's one write transaction under the
 * schedule's lock, each refused with a problem of its own code and
 * nothing changed:
 *   - the schedule is bookable (409 SCHEDULE_NOT_BOOKABLE);
 *   - not within booking_buffer_days (a setting) London days of the
 *     start (409 BOOKING_CLOSED_BUFFER);
 *   - a requalification course only for a holder of a certificate of its
 *     family, valid or expired at most a month ago (409
 *     REQUALIFICATION_NOT_ALLOWED, certificates.c);
 *   - one live (pending or confirmed) booking a person a schedule (409
 *     ALREADY_BOOKED; a unique index backs it);
 *   - seats = attendees <= free seats, capacity less confirmed seats and
 *     live holds of bookings and inquiries (409 SCHEDULE_FULL with
 *     free_seats);
 *   - the price is the server's: seats x the course's price_minor, less
 *     the discount code's (discounts.c), never below zero; a price sent
 *     is an unknown or read-only member (422).
 * The booker's own inquiry (inquiry_id) is converted: its seats pass to
 * the booking.
 *
 * Who: members book for themselves (create:own) and list theirs (GET
 * /v1/me/training-bookings). They cancel their own pending booking, and
 * their confirmed one under the cancellation policy (refunds.c: refused
 * inside its last hours, else what was paid through Stripe goes back in
 * full or less its fee, and the seats are free at once). They confirm
 * their own pending one whose total is 0 (confirm:own; a 100% code): it
 * is then paid with no payment transaction, as nothing is owed (409
 * PAYMENT_REQUIRED with total_minor when something is). Staff see
 * and move every booking; instructors see the bookings of the schedules
 * they teach (related), with attendees but without money or notes.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/err.h"
#include "core/mail.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "resource/resource.h"
#include "store/store.h"
#include "training/training_int.h"

#define STAFF_OWN (SEE_ALL | SEE_OWN)
#define NOTES_MAX 2000

/* clang-format off */
/* The rows of the schedules the caller teaches. */
#define TAUGHT								\
	"schedule_id IN (SELECT s.id FROM course_schedules s JOIN trainers "	\
	"t ON t.id = s.trainer_id WHERE t.user_id = ?)"
#define TAUGHT_ATTENDEES						\
	"booking_id IN (SELECT b.id FROM training_bookings b JOIN "		\
	"course_schedules s ON s.id = b.schedule_id JOIN trainers t ON "	\
	"t.id = s.trainer_id WHERE t.user_id = ?)"
/* clang-format on */

/* One booking made, run by store_run. */
struct book {
	struct request	 *req;
	struct principal *who;
	enum scope	  read;
	json_t		 *body; /* validated: schedule_id, notes */
	json_t		 *attendees;
	const char	 *code;	   /* discount_code, or NULL */
	const char	 *inquiry; /* inquiry_id, or NULL */
	json_t		 *row;
	char		  id[UUID_STR_LEN];
};

/* One action on a booking. */
struct move {
	struct request		   *req;
	struct principal	   *who;
	const struct training_move *m;
	enum scope		    scope, read;
	const char		   *id;
	json_t			   *row;
};

static int book_tx(struct tx *, void *);
static int book_rules(struct tx *, struct book *, struct training_price *,
    char *course_type, size_t);
static int move_tx(struct tx *, void *);
static int answer_load(struct tx *, struct request *, struct principal *,
    enum scope, const char *, json_t **);
static int bookings_before_update(struct resource_ctx *, json_t *);
static int bookings_after_read(struct resource_ctx *, json_t *);
static int paid_event(struct tx *, const char *id, const char *method);

static const char *const statuses[] = { "pending", "confirmed", "completed",
	"cancelled", "no_show", NULL };
static const char *const payments[] = { "pending", "paid", "partially_refunded",
	"refunded", "failed", NULL };
static const char *const reasons[] = { "booker", "staff", "hold_expired",
	"schedule_cancelled", NULL };

const struct training_move training_moves[] = {
	{ "confirm", "confirm", "confirmed", { "pending", NULL } },
	{ "cancel", "cancel", "cancelled", { "pending", "confirmed", NULL } },
	{ "complete", "attend", "completed", { "confirmed", NULL } },
	{ "no_show", "attend", "no_show", { "confirmed", NULL } },
};

static const struct field booking_fields[] = {
	{ "user_id", FIELD_UUID, FIELD_READONLY | FIELD_FILTER, 0, 0, NULL,
	    NULL, NULL, 0, "the booker (the caller); owns the row" },
	{ "schedule_id", FIELD_UUID,
	    FIELD_REQUIRED | FIELD_CREATE_ONLY | FIELD_FILTER, 0, 0, NULL, NULL,
	    "course_schedules", 0, "the course schedule booked" },
	{ "booking_reference", FIELD_TEXT, FIELD_READONLY | FIELD_FILTER, 0,
	    TRAINING_REF_LEN, NULL, NULL, NULL, 0,
	    "10 characters without look-alikes, random, unique" },
	{ "status", FIELD_ENUM, FIELD_READONLY | FIELD_FILTER, 0, 0, statuses,
	    NULL, NULL, 0,
	    "pending (a hold), confirmed, completed, cancelled or no_show; "
	    "moved by the actions" },
	{ "payment_status", FIELD_ENUM, FIELD_READONLY | FIELD_FILTER, 0, 0,
	    payments, NULL, NULL, STAFF_OWN,
	    "pending, failed (the last attempt to pay), paid, "
	    "partially_refunded or refunded; moved by payments, refunds and "
	    "staff's confirm (paid offline)" },
	{ "seats", FIELD_INT, FIELD_READONLY, 1, TRAINING_ATTENDEES_MAX, NULL,
	    NULL, NULL, 0, "one an attendee" },
	{ "unit_price_minor", FIELD_INT, FIELD_READONLY, 0, 0, NULL, NULL, NULL,
	    STAFF_OWN, "the course's price a seat when booked" },
	{ "subtotal_minor", FIELD_INT, FIELD_READONLY, 0, 0, NULL, NULL, NULL,
	    STAFF_OWN, "seats x unit_price_minor" },
	{ "discount_code_id", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, "discount_codes", STAFF_OWN, NULL },
	{ "discount_code", FIELD_TEXT, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, STAFF_OWN, "the code used",
	    "SELECT d.code FROM discount_codes d WHERE "
	    "d.id = training_bookings.discount_code_id" },
	{ "discount_minor", FIELD_INT, FIELD_READONLY, 0, 0, NULL, NULL, NULL,
	    STAFF_OWN, "taken off by the code" },
	{ "total_minor", FIELD_INT, FIELD_READONLY, 0, 0, NULL, NULL, NULL,
	    STAFF_OWN, "subtotal_minor - discount_minor, at least 0: due" },
	{ "currency", FIELD_TEXT, FIELD_READONLY, 0, 3, NULL, NULL, NULL,
	    STAFF_OWN, "the course's" },
	{ "hold_expires_at", FIELD_TIME, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, 0,
	    "a pending booking's seats are freed then unless it is paid "
	    "(confirmed)" },
	{ "discount_released_at", FIELD_TIME, FIELD_READONLY | FIELD_NULLABLE,
	    0, 0, NULL, NULL, NULL, SEE_ALL,
	    "when the code's use was given back" },
	{ "inquiry_id", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, "booking_inquiries", STAFF_OWN,
	    "the booker's inquiry it was made from" },
	{ "notes", FIELD_TEXT, FIELD_PERSONAL | FIELD_NULLABLE, 0, NOTES_MAX,
	    NULL, NULL, NULL, STAFF_OWN, "the booker's notes" },
	{ "confirmed_at", FIELD_TIME, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, 0, NULL },
	{ "cancelled_at", FIELD_TIME, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, 0, NULL },
	{ "cancel_reason", FIELD_ENUM, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    reasons, NULL, NULL, 0,
	    "booker, staff, hold_expired or schedule_cancelled" },
	{ "created_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
	{ "updated_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
};

const struct resource training_bookings_resource = {
	.name = "training_bookings",
	.path = "/v1/training-bookings",
	.table = "training_bookings",
	.fields = booking_fields,
	.nfields = NELEM(booking_fields),
	.owner_column = "user_id",
	.scope_where = { [SCOPE_RELATED] = TAUGHT },
	/* Made by POST /v1/training-bookings (bookings.c); cancelled, never
	 * deleted. */
	.actions =
	    (1 << ACTION_LIST) | (1 << ACTION_READ) | (1 << ACTION_UPDATE),
	.doc = "Bookings of course schedules (seed 004): a hold of one seat "
	       "for each named attendee until hold_expires_at unless paid "
	       "(confirmed), priced by the server. Members book and list their "
	       "own, staff every one, instructors those of the schedules they "
	       "teach. Status and payment_status move only through the "
	       "confirm, cancel, complete and no_show actions; PATCH changes "
	       "notes.",
	.before_update = bookings_before_update,
	.after_read = bookings_after_read,
	.answered = "{\"attendees\":{\"type\":\"array\",\"description\":"
		    "\"one booking (read or made) only: its attendees, in "
		    "order\",\"items\":{\"$ref\":\"#/components/schemas/"
		    "training_booking_attendees\"}}}",
	.codes =
	    "{\"409\":[\"ALREADY_BOOKED\",\"BOOKING_CLOSED\",\"BOOKING_CLOSED_BUFFER\",\"PAYMENT_REQUIRED\",\"SCHEDULE_FULL\",\"SCHEDULE_NOT_BOOKABLE\"]}",
};

static const struct field attendee_fields[] = {
	{ "booking_id", FIELD_UUID, FIELD_READONLY | FIELD_FILTER, 0, 0, NULL,
	    NULL, "training_bookings", 0, NULL },
	{ "user_id", FIELD_UUID, FIELD_READONLY | FIELD_FILTER, 0, 0, NULL,
	    NULL, NULL, 0, "the booker; owns the row" },
	{ "position", FIELD_INT, FIELD_READONLY, 1, TRAINING_ATTENDEES_MAX,
	    NULL, NULL, NULL, 0, "1 for the first attendee named" },
	{ "name", FIELD_TEXT, FIELD_READONLY | FIELD_PERSONAL, 1,
	    TRAINING_NAME_MAX, NULL, NULL, NULL, 0, NULL },
	{ "email", FIELD_EMAIL, FIELD_READONLY | FIELD_PERSONAL, 0, 0, NULL,
	    NULL, NULL, 0, NULL },
};

const struct resource training_booking_attendees_resource = {
	.name = "training_booking_attendees",
	.path = "/v1/training-booking-attendees",
	.table = "training_booking_attendees",
	.fields = attendee_fields,
	.nfields = NELEM(attendee_fields),
	.owner_column = "user_id",
	.scope_where = { [SCOPE_RELATED] = TAUGHT_ATTENDEES },
	.actions = (1 << ACTION_LIST) | (1 << ACTION_READ),
	.doc = "The people a training booking names, one seat each, sealed "
	       "under the booker's data key. Written with their booking "
	       "(POST /v1/training-bookings).",
	.codes =
	    "{\"409\":[\"ALREADY_BOOKED\",\"BOOKING_CLOSED\",\"BOOKING_CLOSED_BUFFER\",\"PAYMENT_REQUIRED\",\"SCHEDULE_FULL\",\"SCHEDULE_NOT_BOOKABLE\"]}",
};

void
training_attendees_check(json_t *attendees, json_t *errs)
{
	const char *k, *name, *email, *e2, *p;
	json_t	   *a, *v, *b;
	char	    field[64];
	size_t	    i, j, chars;

	if (!json_is_array(attendees) || json_array_size(attendees) == 0 ||
	    json_array_size(attendees) > TRAINING_ATTENDEES_MAX) {
		resource_field_err(errs, "attendees",
		    json_is_array(attendees) ? "count" : "required",
		    "an array of 1 to 12 attendees, each a name and an email: "
		    "one seat each");
		return;
	}
	json_array_foreach(attendees, i, a) {
		snprintf(field, sizeof(field), "attendees[%zu]", i);
		if (!json_is_object(a)) {
			resource_field_err(errs, field, "type",
			    "must be an object of a name and an email");
			continue;
		}
		json_object_foreach(a, k, v)
			if (strcmp(k, "name") != 0 && strcmp(k, "email") != 0) {
				snprintf(field, sizeof(field),
				    "attendees[%zu].%.16s", i, k);
				resource_field_err(errs, field, "unknown",
				    "not a member of attendees");
			}
		name = json_string_value(json_object_get(a, "name"));
		/* Characters, not bytes (JSON strings are UTF-8): each but
		 * a continuation byte starts one. */
		chars = 0;
		for (p = name; p != NULL && *p != '\0'; p++) {
			if ((unsigned char)*p < 0x20)
				break;
			chars += ((unsigned char)*p & 0xC0) != 0x80;
		}
		snprintf(field, sizeof(field), "attendees[%zu].name", i);
		if (name == NULL || strspn(name, " ") == strlen(name) ||
		    chars > TRAINING_NAME_MAX || *p != '\0')
			resource_field_err(errs, field, "invalid",
			    "a name of 1 to 200 characters");
		email = json_string_value(json_object_get(a, "email"));
		snprintf(field, sizeof(field), "attendees[%zu].email", i);
		if (email == NULL || !mail_address_valid(email)) {
			resource_field_err(
			    errs, field, "invalid_format", "an email address");
			continue;
		}
		for (j = 0; j < i; j++) {
			b = json_array_get(attendees, j);
			e2 = json_string_value(json_object_get(b, "email"));
			if (e2 != NULL && strcasecmp(e2, email) == 0) {
				resource_field_err(errs, field, "duplicate",
				    "an attendee is one person: this address "
				    "is named twice");
				break;
			}
		}
	}
}

/* In the order the booker named them (ids made within a millisecond
 * need not be). At most TRAINING_ATTENDEES_MAX: an insertion sort. */
static void
position_sort(json_t *list)
{
	json_t *a;
	size_t	i, j, n = json_array_size(list);

	for (i = 1; i < n; i++)
		for (j = i; j > 0; j--) {
			if (json_integer_value(json_object_get(
				json_array_get(list, j - 1), "position")) <=
			    json_integer_value(json_object_get(
				json_array_get(list, j), "position")))
				break;
			a = json_incref(json_array_get(list, j));
			json_array_remove(list, j);
			json_array_insert_new(list, j - 1, a);
		}
}

int
training_attendees_add(
    struct tx *tx, const struct principal *who, enum scope scope, json_t *row)
{
	json_t *list;
	int	rc;

	if ((list = json_array()) == NULL)
		return (ERR_NOMEM);
	rc = resource_rows(tx, &training_booking_attendees_resource, who, scope,
	    "booking_id", json_string_value(json_object_get(row, "id")), list,
	    NULL);
	if (rc != OK) {
		json_decref(list);
		return (rc);
	}
	position_sort(list);
	return (
	    json_object_set_new(row, "attendees", list) == 0 ? OK : ERR_NOMEM);
}

static int
bookings_after_read(struct resource_ctx *ctx, json_t *row)
{
	return (training_attendees_add(ctx->tx, ctx->who, ctx->scope, row));
}

static int
answer_load(struct tx *tx, struct request *req, struct principal *who,
    enum scope scope, const char *id, json_t **out)
{
	struct resource_ctx ctx;
	int		    rc;

	json_decref(*out);
	*out = NULL;
	memset(&ctx, 0, sizeof(ctx));
	ctx.req = req;
	ctx.tx = tx;
	ctx.res = &training_bookings_resource;
	ctx.who = who;
	ctx.scope = scope;
	if ((rc = resource_load(&ctx, id, out)) != OK)
		return (rc);
	return (training_attendees_add(tx, who, scope, *out));
}

/* Notes only, while the booking is live. */
static int
bookings_before_update(struct resource_ctx *ctx, json_t *body)
{
	const char *status;

	(void)body;
	status = json_string_value(json_object_get(ctx->old, "status"));
	if (status != NULL &&
	    (strcmp(status, "pending") == 0 ||
		strcmp(status, "confirmed") == 0))
		return (OK);
	http_problem(ctx->req, ERR_CONFLICT, "BOOKING_CLOSED",
	    "A booking that is %s cannot be changed.",
	    status != NULL ? status : "closed");
	return (ERR_CONFLICT);
}

/* Create */

void
training_booking_create(struct request *req)
{
	struct book b;
	json_t	   *errs, *v;
	enum scope  scope;
	char	   *loc;
	int	    rc;

	memset(&b, 0, sizeof(b));
	b.req = req;
	b.who = req->caller;
	scope = resource_scope(req->db, b.who, "training_bookings", "create");
	if (scope == SCOPE_NONE) {
		http_problem(req, ERR_FORBIDDEN, NULL, "You may not book.");
		return;
	}
	b.read = resource_scope(req->db, b.who, "training_bookings", "read");
	if (b.read < SCOPE_OWN)
		b.read = SCOPE_OWN;
	if (!json_is_object(req->json)) {
		http_problem(
		    req, ERR_INVALID, NULL, "A JSON object is needed.");
		return;
	}
	if ((b.body = json_deep_copy(req->json)) == NULL ||
	    (errs = json_array()) == NULL) {
		json_decref(b.body);
		http_problem(req, ERR_NOMEM, NULL, "Out of memory.");
		return;
	}
	b.attendees = json_incref(json_object_get(b.body, "attendees"));
	json_object_del(b.body, "attendees");
	training_attendees_check(b.attendees, errs);
	if ((v = json_object_get(b.body, "discount_code")) != NULL &&
	    !json_is_null(v) &&
	    (!json_is_string(v) || json_string_length(v) > 64))
		resource_field_err(
		    errs, "discount_code", "type", "a discount code, or null");
	b.code = json_string_value(v);
	if ((v = json_object_get(b.body, "inquiry_id")) != NULL &&
	    !json_is_null(v) && !uuid_valid(json_string_value(v)))
		resource_field_err(
		    errs, "inquiry_id", "invalid_format", "an inquiry's id");
	b.inquiry = json_string_value(v);
	/* Borrowed from req->json from here on. */
	if (b.code != NULL)
		b.code = json_string_value(
		    json_object_get(req->json, "discount_code"));
	if (b.inquiry != NULL)
		b.inquiry =
		    json_string_value(json_object_get(req->json, "inquiry_id"));
	json_object_del(b.body, "discount_code");
	json_object_del(b.body, "inquiry_id");
	if ((rc = resource_errs_answer(req, errs, "The booking")) != OK ||
	    (rc = resource_validate(
		 req, &training_bookings_resource, b.body, 1, scope)) != OK)
		goto out;
	rc = store_run(req->db, STORE_TX_WRITE, book_tx, &b);
	if (rc != OK) {
		if (!req->responded)
			http_problem(
			    req, rc, NULL, "The booking could not be made.");
		goto out;
	}
	if ((loc = arena_printf(
		 req->arena, "/v1/training-bookings/%s", b.id)) != NULL)
		http_header_add(req, "Location", loc);
	http_json(req, 201, json_incref(b.row));
out:
	json_decref(b.row);
	json_decref(b.body);
	json_decref(b.attendees);
}

/* The schedule, the person, the inquiry, the seats and the price. */
static int
book_rules(struct tx *tx, struct book *b, struct training_price *p,
    char *course_type, size_t typelen)
{
	struct stmt *st;
	const char  *sid =
	    json_string_value(json_object_get(b->body, "schedule_id"));
	char	status[16] = "";
	int64_t start = 0, now = time_now_ms(), free_seats = 0, buffer = 0;
	char	detail[96], family[24] = "";
	int	rc, n = 0;

	st = store_prepare(tx,
	    "SELECT s.status, s.start_time, c.price_minor, c.currency, "
	    "c.course_type, COALESCE(c.requalifies, 'FAW') FROM "
	    "course_schedules s JOIN training_courses c "
	    "ON c.id = s.course_id WHERE s.id = ?");
	store_bind_text(st, 1, sid);
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(status, store_col_text(st, 0), sizeof(status));
		start = store_col_int64(st, 1);
		p->unit = store_col_int64(st, 2);
		strlcpy_cb(
		    p->currency, store_col_text(st, 3), sizeof(p->currency));
		strlcpy_cb(course_type, store_col_text(st, 4), typelen);
		strlcpy_cb(family, store_col_text(st, 5), sizeof(family));
	}
	store_finalize(st);
	if (rc == STORE_DONE)
		return (training_refuse(b->req, ERR_INVALID, NULL,
		    "schedule_id", "not_found", "names no course schedule"));
	if (rc != STORE_ROW)
		return (rc);
	if ((strcmp(status, "scheduled") != 0 &&
		strcmp(status, "confirmed") != 0) ||
	    start <= now)
		return (training_refuse(b->req, ERR_CONFLICT,
		    "SCHEDULE_NOT_BOOKABLE", "schedule_id", "not_bookable",
		    "the schedule has started, ended or been cancelled"));
	/* booking_buffer_days: London calendar days between now and the
	 * start's day (0: until it starts). */
	if ((rc = training_setting_int(
		 tx, "booking_buffer_days", 0, &buffer)) != OK)
		return (rc);
	if (buffer > 0 &&
	    time_london_day(start) - time_london_day(now) < buffer) {
		snprintf(detail, sizeof(detail),
		    "bookings close %lld day(s) before the course starts",
		    (long long)buffer);
		return (training_refuse(b->req, ERR_CONFLICT,
		    "BOOKING_CLOSED_BUFFER", "schedule_id", "too_late",
		    detail));
	}
	if ((rc = training_requalification_check(
		 tx, b->req, b->attendees, course_type, family)) != OK)
		return (rc);
	/* Holds past their time end here, before anything is counted. */
	if ((rc = training_holds_expire(tx, sid, now, &n)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "SELECT 1 FROM training_bookings WHERE schedule_id = ? AND "
	    "user_id = ? AND status IN ('pending', 'confirmed')");
	store_bind_text(st, 1, sid);
	store_bind_text(st, 2, b->who->user_id);
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_ROW)
		return (training_refuse(b->req, ERR_CONFLICT, "ALREADY_BOOKED",
		    "schedule_id", "booked",
		    "you hold a live booking of this schedule already"));
	if (rc != STORE_DONE)
		return (rc);
	if (b->inquiry != NULL &&
	    (rc = training_inquiry_convert(
		 tx, b->req, b->inquiry, b->who->user_id, sid, now)) != OK)
		return (rc);
	if ((rc = training_free_seats(tx, sid, now, &free_seats)) != OK)
		return (rc);
	p->seats = (int64_t)json_array_size(b->attendees);
	if (p->seats > free_seats)
		return (training_refuse_n(b->req, ERR_CONFLICT, "SCHEDULE_FULL",
		    "free_seats", free_seats < 0 ? 0 : free_seats,
		    "the schedule has fewer free seats than attendees named"));
	p->subtotal = p->seats * p->unit;
	p->total = p->subtotal;
	if (b->code != NULL)
		return (training_discount_spend(
		    tx, b->req, b->code, b->who->user_id, course_type, p));
	return (OK);
}

static int
book_tx(struct tx *tx, void *arg)
{
	struct book	     *b = arg;
	struct resource_ctx   ctx;
	struct training_price p;
	json_t		     *body = NULL, *a, *row;
	const char	     *sid;
	char		      ref[TRAINING_REF_LEN + 1], iso[ISO_TIME_LEN];
	char		      type[32] = "", aid[UUID_STR_LEN];
	size_t		      i;
	int64_t		      hold = 0;
	int		      rc;

	json_decref(b->row);
	b->row = NULL;
	memset(&p, 0, sizeof(p));
	sid = json_string_value(json_object_get(b->body, "schedule_id"));
	if ((rc = training_lock(tx, "schedule", sid)) != OK ||
	    (rc = book_rules(tx, b, &p, type, sizeof(type))) != OK ||
	    (rc = training_hold_minutes(tx, &hold)) != OK ||
	    (rc = training_reference_new(tx,
		 "SELECT 1 FROM training_bookings WHERE booking_reference = ?",
		 ref)) != OK)
		return (rc);
	if ((body = json_deep_copy(b->body)) == NULL)
		return (ERR_NOMEM);
	json_object_set_new(body, "user_id", json_string(b->who->user_id));
	json_object_set_new(body, "booking_reference", json_string(ref));
	json_object_set_new(body, "status", json_string("pending"));
	json_object_set_new(body, "payment_status", json_string("pending"));
	json_object_set_new(body, "seats", json_integer(p.seats));
	json_object_set_new(body, "unit_price_minor", json_integer(p.unit));
	json_object_set_new(body, "subtotal_minor", json_integer(p.subtotal));
	json_object_set_new(body, "discount_minor", json_integer(p.discount));
	json_object_set_new(body, "total_minor", json_integer(p.total));
	json_object_set_new(body, "currency", json_string(p.currency));
	json_object_set_new(body, "hold_expires_at",
	    json_string(time_format_iso(time_now_ms() + hold * 60000, iso)));
	if (p.code_id[0] != '\0')
		json_object_set_new(
		    body, "discount_code_id", json_string(p.code_id));
	if (b->inquiry != NULL)
		json_object_set_new(
		    body, "inquiry_id", json_string(b->inquiry));
	memset(&ctx, 0, sizeof(ctx));
	ctx.req = b->req;
	ctx.tx = tx;
	ctx.res = &training_bookings_resource;
	ctx.who = b->who;
	ctx.scope = SCOPE_ALL;
	rc = resource_insert(&ctx, body, b->id);
	json_decref(body);
	ctx.res = &training_booking_attendees_resource;
	json_array_foreach(b->attendees, i, a) {
		if (rc != OK)
			break;
		if ((row = json_pack("{s:s,s:s,s:I,s:O,s:O}", "booking_id",
			 b->id, "user_id", b->who->user_id, "position",
			 (json_int_t)i + 1, "name", json_object_get(a, "name"),
			 "email", json_object_get(a, "email"))) == NULL)
			return (ERR_NOMEM);
		rc = resource_insert(&ctx, row, aid);
		json_decref(row);
	}
	/* The funnel's hold_created, with the booking (analytics.c). */
	if (rc == OK)
		rc = training_analytics_booking(
		    tx, TRAINING_EV_HOLD, b->id, NULL);
	if (rc != OK)
		return (rc);
	return (answer_load(tx, b->req, b->who, b->read, b->id, &b->row));
}

/* Actions */

/* The funnel's payment_succeeded for a booking confirmed here. */
static int
paid_event(struct tx *tx, const char *id, const char *method)
{
	json_t *extra = json_pack("{s:s}", "method", method);
	int	rc;

	if (extra == NULL)
		return (ERR_NOMEM);
	rc = training_analytics_booking(tx, TRAINING_EV_PAID, id, extra);
	json_decref(extra);
	return (rc);
}

void
training_booking_action(struct request *req)
{
	struct move a;
	int	    rc;

	memset(&a, 0, sizeof(a));
	a.req = req;
	a.who = req->caller;
	a.m = req->route_arg;
	a.id = http_param(req, "id");
	if (a.id == NULL || !uuid_valid(a.id)) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such booking.");
		return;
	}
	a.scope =
	    resource_scope(req->db, a.who, "training_bookings", a.m->perm);
	a.read = resource_scope(req->db, a.who, "training_bookings", "read");
	if (a.scope == SCOPE_NONE || a.scope == SCOPE_RELATED) {
		if (a.read == SCOPE_NONE)
			http_problem(
			    req, ERR_NOT_FOUND, NULL, "No such booking.");
		else
			http_problem(req, ERR_FORBIDDEN, NULL,
			    "Only staff may %s a booking.", a.m->verb);
		return;
	}
	if (a.read < a.scope)
		a.read = a.scope;
	rc = store_run(req->db, STORE_TX_WRITE, move_tx, &a);
	if (rc == OK) {
		http_json(req, 200, a.row);
		return;
	}
	json_decref(a.row);
	if (!req->responded)
		http_problem(req, rc, NULL,
		    rc == ERR_NOT_FOUND ? "No such booking."
					: "The booking cannot be changed.");
}

static int
move_tx(struct tx *tx, void *arg)
{
	struct move *a = arg;
	struct stmt *st;
	char	     sid[UUID_STR_LEN] = "", owner[UUID_STR_LEN] = "";
	char	     from[16] = "", sched[16] = "";
	int64_t	     hold = 0, total = 0, start = 0, now = time_now_ms();
	int	     rc, i, allowed = 0, pass;

	json_decref(a->row);
	a->row = NULL;
	/* Read, lock the schedule, read again as it is under the lock. */
	for (pass = 0; pass < 2; pass++) {
		st = store_prepare(tx,
		    "SELECT b.schedule_id, b.user_id, b.status, "
		    "COALESCE(b.hold_expires_at, 0), s.status, b.total_minor, "
		    "s.start_time FROM training_bookings b JOIN course_schedules s ON "
		    "s.id = b.schedule_id WHERE b.id = ?");
		store_bind_text(st, 1, a->id);
		if ((rc = store_step(st)) == STORE_ROW) {
			strlcpy_cb(sid, store_col_text(st, 0), sizeof(sid));
			strlcpy_cb(owner, store_col_text(st, 1), sizeof(owner));
			strlcpy_cb(from, store_col_text(st, 2), sizeof(from));
			hold = store_col_int64(st, 3);
			strlcpy_cb(sched, store_col_text(st, 4), sizeof(sched));
			total = store_col_int64(st, 5);
			start = store_col_int64(st, 6);
			rc = OK;
		} else if (rc == STORE_DONE)
			rc = ERR_NOT_FOUND;
		store_finalize(st);
		if (rc != OK)
			return (rc);
		/* The action's scope (own: the booker; all: staff) covers
		 * the booking, or it does not exist. */
		if ((rc = resource_covers(tx, &training_bookings_resource,
			 a->who, a->scope, owner)) != OK)
			return (rc == ERR_FORBIDDEN ? ERR_NOT_FOUND : rc);
		if (pass == 0 &&
		    (rc = training_lock(tx, "schedule", sid)) != OK)
			return (rc);
	}
	for (i = 0; a->m->from[i] != NULL; i++)
		allowed |= strcmp(from, a->m->from[i]) == 0;
	if (!allowed) {
		http_problem(a->req, ERR_CONFLICT, "INVALID_TRANSITION",
		    "A %s booking cannot be %s%s.", from, a->m->to,
		    a->scope == SCOPE_OWN ? " by its booker" : "");
		return (ERR_CONFLICT);
	}
	/* The booker confirms only what costs nothing: the rest is paid
	 * through Stripe, or offline and confirmed by staff. */
	if (strcmp(a->m->verb, "confirm") == 0 && a->scope == SCOPE_OWN &&
	    total != 0)
		return (training_refuse_n(a->req, ERR_CONFLICT,
		    "PAYMENT_REQUIRED", "total_minor", total,
		    "the booking has something to pay: pay it (POST "
		    "/v1/training-bookings/{id}/payment)"));
	if (strcmp(a->m->verb, "confirm") == 0 && hold <= now) {
		http_problem(a->req, ERR_CONFLICT, "HOLD_EXPIRED",
		    "The booking's hold expired: its seats are free again.");
		return (ERR_CONFLICT);
	}
	/* In progress is not enough: a schedule started early has not. */
	if (strcmp(a->m->perm, "attend") == 0 &&
	    ((strcmp(sched, "in_progress") != 0 &&
		 strcmp(sched, "completed") != 0) ||
		start > now)) {
		http_problem(a->req, ERR_CONFLICT, "SCHEDULE_NOT_STARTED",
		    "Attendance is marked once the schedule is in progress.");
		return (ERR_CONFLICT);
	}
	if (strcmp(a->m->verb, "cancel") == 0) {
		/* The booker's confirmed booking: the cancellation policy
		 * first, which may refuse; what was paid goes back by it.
		 * Staff cancel a paid booking: all of it back (refunds.c).
		 * The refund before the cancel, so that the booker's one
		 * cancelled notification says what comes back
		 * (notify_mail.c). */
		rc = OK;
		if (a->scope == SCOPE_OWN && strcmp(from, "confirmed") == 0)
			rc = training_refund_on_cancel(
			    tx, a->who, a->req, a->id, now);
		else if (strcmp(from, "confirmed") == 0)
			rc = training_refund_in_full(tx, a->who, a->req, a->id,
			    "staff_cancelled", "your booking was cancelled");
		if (rc == OK)
			rc = training_booking_cancel_row(tx, a->who, a->req,
			    a->id, from, "cancel",
			    strcmp(owner, a->who->user_id) == 0 ? "booker"
								: "staff",
			    now);
	} else {
		i = 1;
		if (strcmp(a->m->verb, "confirm") == 0) {
			st = store_prepare(tx,
			    "UPDATE training_bookings SET status = ?, "
			    "payment_status = 'paid', hold_expires_at = NULL, "
			    "confirmed_at = ?, updated_at = ?, updated_by = ? "
			    "WHERE id = ? AND status = ?");
			store_bind_text(st, i++, a->m->to);
			store_bind_int64(st, i++, now);
		} else {
			st = store_prepare(tx,
			    "UPDATE training_bookings SET status = ?, "
			    "updated_at = ?, updated_by = ? WHERE id = ? AND "
			    "status = ?");
			store_bind_text(st, i++, a->m->to);
		}
		store_bind_int64(st, i++, now);
		store_bind_text(st, i++, a->who->user_id);
		store_bind_text(st, i++, a->id);
		store_bind_text(st, i, from);
		rc = store_step(st);
		rc = rc == STORE_DONE ? (store_changes(st) == 1 ? OK : ERR_BUSY)
				      : rc;
		store_finalize(st);
		if (rc == OK)
			rc = training_audit_move(tx, a->req, a->who,
			    "training_bookings", a->m->verb, a->id, from,
			    a->m->to);
		/* Paid: offline (staff's), or nothing to pay; the booker
		 * is told. */
		if (rc == OK && strcmp(a->m->verb, "confirm") == 0 &&
		    (rc = paid_event(
			 tx, a->id, total == 0 ? "free" : "offline")) == OK)
			rc = training_notify_booking(
			    tx, a->id, "booking_confirmed", 0);
	}
	if (rc != OK)
		return (rc);
	return (answer_load(tx, a->req, a->who, a->read, a->id, &a->row));
}
