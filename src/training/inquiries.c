/*
 * Booking inquiries (seed 004: booking_inquiries): questions a person
 * asks about a schedule before booking, for a number of people, whose
 * seats are held while staff answer: until hold_expires_at (now +
 * training_inquiry_hold_minutes), while the inquiry is pending or
 * responded. Then the job training.expire_holds expires it (holds.c).
 *
 *	pending --respond (staff)--> responded
 *	pending|responded --(booked with inquiry_id)--> converted
 *	pending|responded --(hold passed, or the schedule cancelled)--> expired
 *
 * Made through the resource layer (POST /v1/booking-inquiries, by a
 * signed-in person for themselves); the rules are the hook's, under the
 * schedule's lock as a booking's: the schedule is bookable (409
 * SCHEDULE_NOT_BOOKABLE), has the seats (409 SCHEDULE_FULL) and the
 * person has no other live inquiry of it (409 INQUIRY_EXISTS). Contact
 * fields and questions are sealed under the person's data key.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/config.h"
#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "resource/resource.h"
#include "store/store.h"
#include "training/training_int.h"

#define SEALED_REQ (FIELD_REQUIRED | FIELD_PERSONAL | FIELD_CREATE_ONLY)
#define SEALED_OPT (FIELD_NULLABLE | FIELD_PERSONAL | FIELD_CREATE_ONLY)

struct respond {
	struct request	 *req;
	struct principal *who;
	enum scope	  read;
	const char	 *id;
	json_t		 *row;
};

static int inquiries_before_create(struct resource_ctx *, json_t *);
static int respond_tx(struct tx *, void *);

static const char *const statuses[] = { "pending", "responded", "converted",
	"expired", NULL };

static const struct field inquiry_fields[] = {
	{ "user_id", FIELD_UUID, FIELD_READONLY | FIELD_FILTER, 0, 0, NULL,
	    NULL, NULL, 0, "who asked (the caller); owns the row" },
	{ "schedule_id", FIELD_UUID,
	    FIELD_REQUIRED | FIELD_CREATE_ONLY | FIELD_FILTER, 0, 0, NULL, NULL,
	    "course_schedules", 0,
	    "the course schedule asked about (seed: course_session_id)" },
	{ "inquiry_reference", FIELD_TEXT, FIELD_READONLY | FIELD_FILTER, 0,
	    TRAINING_REF_LEN, NULL, NULL, NULL, 0,
	    "10 characters without look-alikes, random, unique" },
	{ "first_name", FIELD_TEXT, SEALED_REQ, 1, 100, NULL, NULL, NULL, 0,
	    NULL },
	{ "last_name", FIELD_TEXT, SEALED_REQ, 1, 100, NULL, NULL, NULL, 0,
	    NULL },
	{ "email", FIELD_EMAIL, SEALED_REQ, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "phone", FIELD_TEXT, SEALED_OPT, 0, 32, NULL, NULL, NULL, 0, NULL },
	{ "number_of_people", FIELD_INT, FIELD_REQUIRED | FIELD_CREATE_ONLY, 1,
	    TRAINING_ATTENDEES_MAX, NULL, NULL, NULL, 0,
	    "seats held while the inquiry is live" },
	{ "questions", FIELD_TEXT, SEALED_OPT, 0, TRAINING_TEXT_MAX, NULL, NULL,
	    NULL, 0, NULL },
	{ "status", FIELD_ENUM, FIELD_READONLY | FIELD_FILTER, 0, 0, statuses,
	    NULL, NULL, 0,
	    "pending, responded (staff's action), converted (booked) or "
	    "expired" },
	{ "hold_expires_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL,
	    0, "the seats are held until then while pending or responded" },
	{ "responded_at", FIELD_TIME, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, 0, NULL },
	{ "created_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
	{ "updated_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
};

const struct resource booking_inquiries_resource = {
	.name = "booking_inquiries",
	.path = "/v1/booking-inquiries",
	.table = "booking_inquiries",
	.fields = inquiry_fields,
	.nfields = NELEM(inquiry_fields),
	.owner_column = "user_id",
	.actions =
	    (1 << ACTION_LIST) | (1 << ACTION_READ) | (1 << ACTION_CREATE),
	.doc = "Questions about a course schedule before booking (seed 004), "
	       "for a number of people whose seats are held until "
	       "hold_expires_at while staff respond; booking with inquiry_id "
	       "converts it. Contact fields and questions are sealed under "
	       "the asker's data key.",
	.before_create = inquiries_before_create,
	.codes =
	    "{\"409\":[\"HOLD_EXPIRED\",\"INQUIRY_EXISTS\",\"SCHEDULE_FULL\",\"SCHEDULE_NOT_BOOKABLE\"]}",
};

static int
inquiries_before_create(struct resource_ctx *ctx, json_t *body)
{
	struct stmt *st;
	const char  *sid, *uid;
	char	     ref[TRAINING_REF_LEN + 1], iso[ISO_TIME_LEN];
	char	     status[16] = "";
	int64_t start = 0, now = time_now_ms(), free_seats = 0, want, hold = 0;
	int	rc, n = 0;

	sid = json_string_value(json_object_get(body, "schedule_id"));
	uid = json_string_value(json_object_get(body, "user_id"));
	want = json_integer_value(json_object_get(body, "number_of_people"));
	if ((rc = training_lock(ctx->tx, "schedule", sid)) != OK)
		return (rc);
	st = store_prepare(ctx->tx,
	    "SELECT status, start_time FROM course_schedules WHERE id = ?");
	store_bind_text(st, 1, sid);
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(status, store_col_text(st, 0), sizeof(status));
		start = store_col_int64(st, 1);
	}
	store_finalize(st);
	if (rc != STORE_ROW)
		return (rc == STORE_DONE ? ERR_NOT_FOUND : rc);
	if ((strcmp(status, "scheduled") != 0 &&
		strcmp(status, "confirmed") != 0) ||
	    start <= now)
		return (training_refuse(ctx->req, ERR_CONFLICT,
		    "SCHEDULE_NOT_BOOKABLE", "schedule_id", "not_bookable",
		    "the schedule has started, ended or been cancelled"));
	if ((rc = training_holds_expire(ctx->tx, sid, now, &n)) != OK)
		return (rc);
	st = store_prepare(ctx->tx,
	    "SELECT 1 FROM booking_inquiries WHERE schedule_id = ? AND "
	    "user_id = ? AND status IN ('pending', 'responded')");
	store_bind_text(st, 1, sid);
	store_bind_text(st, 2, uid);
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_ROW)
		return (training_refuse(ctx->req, ERR_CONFLICT,
		    "INQUIRY_EXISTS", "schedule_id", "inquired",
		    "you have a live inquiry about this schedule already"));
	if (rc != STORE_DONE)
		return (rc);
	if ((rc = training_free_seats(ctx->tx, sid, now, &free_seats)) != OK)
		return (rc);
	if (want > free_seats)
		return (training_refuse_n(ctx->req, ERR_CONFLICT,
		    "SCHEDULE_FULL", "free_seats",
		    free_seats < 0 ? 0 : free_seats,
		    "the schedule has fewer free seats than people asked for"));
	if ((rc = training_reference_new(ctx->tx,
		 "SELECT 1 FROM booking_inquiries WHERE inquiry_reference = ?",
		 ref)) != OK)
		return (rc);
	if ((rc = training_inquiry_hold_minutes(ctx->tx, &hold)) != OK)
		return (rc);
	json_object_set_new(body, "inquiry_reference", json_string(ref));
	json_object_set_new(body, "status", json_string("pending"));
	json_object_set_new(body, "hold_expires_at",
	    json_string(time_format_iso(now + hold * 60000, iso)));
	return (OK);
}

int
training_inquiry_convert(struct tx *tx, struct request *req, const char *id,
    const char *user_id, const char *schedule_id, int64_t now)
{
	struct stmt *st;
	char	     owner[UUID_STR_LEN] = "", sid[UUID_STR_LEN] = "";
	char	     status[16] = "";
	int64_t	     hold = 0;
	int	     rc;

	st = store_prepare(tx,
	    "SELECT user_id, schedule_id, status, hold_expires_at FROM "
	    "booking_inquiries WHERE id = ?");
	store_bind_text(st, 1, id);
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(owner, store_col_text(st, 0), sizeof(owner));
		strlcpy_cb(sid, store_col_text(st, 1), sizeof(sid));
		strlcpy_cb(status, store_col_text(st, 2), sizeof(status));
		hold = store_col_int64(st, 3);
	}
	store_finalize(st);
	if (rc != STORE_ROW && rc != STORE_DONE)
		return (rc);
	if (rc == STORE_DONE || strcmp(owner, user_id) != 0)
		return (training_refuse(req, ERR_INVALID, NULL, "inquiry_id",
		    "not_found", "names no inquiry of yours"));
	if (strcmp(sid, schedule_id) != 0)
		return (training_refuse(req, ERR_INVALID, NULL, "inquiry_id",
		    "other_schedule", "the inquiry is about another schedule"));
	if ((strcmp(status, "pending") != 0 &&
		strcmp(status, "responded") != 0) ||
	    hold <= now)
		return (training_refuse(req, ERR_CONFLICT, "HOLD_EXPIRED",
		    "inquiry_id", "expired",
		    "the inquiry no longer holds seats"));
	st = store_prepare(tx,
	    "UPDATE booking_inquiries SET status = 'converted', updated_at = ? "
	    "WHERE id = ? AND status = ?");
	store_bind_int64(st, 1, now);
	store_bind_text(st, 2, id);
	store_bind_text(st, 3, status);
	rc = store_step(st);
	rc = rc == STORE_DONE ? (store_changes(st) == 1 ? OK : ERR_BUSY) : rc;
	store_finalize(st);
	if (rc != OK)
		return (rc);
	return (training_audit_move(tx, req, NULL, "booking_inquiries",
	    "convert", id, status, "converted"));
}

/* POST /v1/booking-inquiries/{id}/respond */
void
training_inquiry_respond(struct request *req)
{
	struct respond r;
	int	       rc;

	memset(&r, 0, sizeof(r));
	r.req = req;
	r.who = req->caller;
	r.id = http_param(req, "id");
	if (r.id == NULL || !uuid_valid(r.id)) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such inquiry.");
		return;
	}
	if (resource_scope(req->db, r.who, "booking_inquiries", "respond") !=
	    SCOPE_ALL) {
		http_problem(req, ERR_FORBIDDEN, NULL,
		    "Only staff respond to inquiries.");
		return;
	}
	r.read = SCOPE_ALL;
	rc = store_run(req->db, STORE_TX_WRITE, respond_tx, &r);
	if (rc == OK) {
		http_json(req, 200, r.row);
		return;
	}
	json_decref(r.row);
	if (!req->responded)
		http_problem(req, rc, NULL,
		    rc == ERR_NOT_FOUND ? "No such inquiry."
					: "The inquiry cannot be changed.");
}

static int
respond_tx(struct tx *tx, void *arg)
{
	struct respond	   *r = arg;
	struct resource_ctx ctx;
	struct stmt	   *st;
	int64_t		    now = time_now_ms();
	int		    rc;

	json_decref(r->row);
	r->row = NULL;
	st = store_prepare(tx,
	    "UPDATE booking_inquiries SET status = 'responded', "
	    "responded_at = ?, updated_at = ?, updated_by = ? WHERE id = ? "
	    "AND status = 'pending'");
	store_bind_int64(st, 1, now);
	store_bind_int64(st, 2, now);
	store_bind_text(st, 3, r->who->user_id);
	store_bind_text(st, 4, r->id);
	rc = store_step(st);
	rc = rc == STORE_DONE ? (store_changes(st) == 1 ? OK : ERR_CONFLICT)
			      : rc;
	store_finalize(st);
	if (rc == ERR_CONFLICT) {
		/* Missing, or no longer pending. */
		if (training_schedule_exists(tx,
			"SELECT 1 FROM booking_inquiries WHERE id = ? AND "
			"number_of_people > ?",
			r->id, 0) == ERR_NOT_FOUND)
			return (ERR_NOT_FOUND);
		http_problem(r->req, ERR_CONFLICT, "INVALID_TRANSITION",
		    "Only a pending inquiry is responded to.");
		return (ERR_CONFLICT);
	}
	if (rc != OK ||
	    (rc = training_audit_move(tx, r->req, r->who, "booking_inquiries",
		 "respond", r->id, "pending", "responded")) != OK)
		return (rc);
	memset(&ctx, 0, sizeof(ctx));
	ctx.req = r->req;
	ctx.tx = tx;
	ctx.res = &booking_inquiries_resource;
	ctx.who = r->who;
	ctx.scope = r->read;
	return (resource_load(&ctx, r->id, &r->row));
}
