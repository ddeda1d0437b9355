/*
 * Attendance records (seed 004: attendance_records, issue 17 item 1):
 * one an attendee of a confirmed booking a schedule (a unique index backs
 * it), marked (POST /v1/attendance-records {attendee_id, status, ...}) and
 * changed (PATCH) by the schedule's trainer (related scope: the schedules
 * they teach) or staff, only once the schedule has started (409
 * SCHEDULE_NOT_STARTED) and while it is not cancelled. booking_id,
 * schedule_id and user_id (the booker, whose key seals trainer_feedback)
 * come from the attendee; marked_by is who marked it last. Once the
 * schedule is completed only staff add or change one (409
 * ATTENDANCE_LOCKED), and not one a certificate rests on (409
 * CERTIFICATE_EXISTS). check_in_time and check_out_time are in order and
 * within a day of the schedule (422).
 *
 * certificate_eligible is the server's, set on every write: present, or
 * late with a check_in_time at most certificate_late_minutes (a setting)
 * after the start, and passed_assessment.
 *
 * Completing a schedule (schedules.c, in its transaction) moves each of
 * its confirmed bookings to completed when one of its attendees was
 * marked present, late or partial, else to no_show; then, with
 * auto_issue_certificates on, issues the certificates of those eligible
 * (certificates.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "resource/resource.h"
#include "store/store.h"
#include "training/training_int.h"

/* clang-format off */
#define TAUGHT_HERE							\
	"schedule_id IN (SELECT s.id FROM course_schedules s JOIN trainers "	\
	"t ON t.id = s.trainer_id WHERE t.user_id = ?)"
/* clang-format on */

static const char *const statuses[] = { "present", "absent", "late", "partial",
	"excused", NULL };

static int attendance_before_create(struct resource_ctx *, json_t *);
static int attendance_before_update(struct resource_ctx *, json_t *);

static const struct field attendance_fields[] = {
	{ "attendee_id", FIELD_UUID,
	    FIELD_REQUIRED | FIELD_CREATE_ONLY | FIELD_FILTER, 0, 0, NULL, NULL,
	    "training_booking_attendees", 0,
	    "the attendee (a training_booking_attendees row)" },
	{ "booking_id", FIELD_UUID, FIELD_READONLY | FIELD_FILTER, 0, 0, NULL,
	    NULL, "training_bookings", 0, "the attendee's booking" },
	{ "schedule_id", FIELD_UUID, FIELD_READONLY | FIELD_FILTER, 0, 0, NULL,
	    NULL, "course_schedules", 0, "the booking's schedule" },
	{ "user_id", FIELD_UUID, FIELD_READONLY | FIELD_FILTER, 0, 0, NULL,
	    NULL, NULL, 0, "the booker; owns the row" },
	{ "marked_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, 0, "who marked it last" },
	{ "status", FIELD_ENUM, FIELD_REQUIRED | FIELD_FILTER, 0, 0, statuses,
	    NULL, NULL, 0, "present, absent, late, partial or excused" },
	{ "check_in_time", FIELD_TIME, FIELD_NULLABLE, 0, 0, NULL, NULL, NULL,
	    0, NULL },
	{ "check_out_time", FIELD_TIME, FIELD_NULLABLE, 0, 0, NULL, NULL, NULL,
	    0, NULL },
	{ "certificate_eligible", FIELD_BOOL, FIELD_READONLY, 0, 0, NULL, NULL,
	    NULL, 0,
	    "the server's: present (or late within certificate_late_minutes "
	    "of the start) and passed_assessment" },
	{ "participation_score", FIELD_INT, FIELD_NULLABLE, 0, 100, NULL, NULL,
	    NULL, 0, "0-100" },
	{ "passed_assessment", FIELD_BOOL, 0, 0, 0, NULL, "false", NULL, 0,
	    NULL },
	{ "trainer_feedback", FIELD_TEXT, FIELD_NULLABLE | FIELD_PERSONAL, 0,
	    TRAINING_TEXT_MAX, NULL, NULL, NULL, 0,
	    "sealed under the booker's key" },
	{ "created_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
	{ "updated_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
};

const struct resource attendance_records_resource = {
	.name = "attendance_records",
	.path = "/v1/attendance-records",
	.table = "attendance_records",
	.fields = attendance_fields,
	.nfields = NELEM(attendance_fields),
	.owner_column = "user_id",
	.scope_where = { [SCOPE_RELATED] = TAUGHT_HERE },
	.actions = (1 << ACTION_LIST) | (1 << ACTION_READ) |
	    (1 << ACTION_CREATE) | (1 << ACTION_UPDATE),
	.doc = "Who attended a course schedule (seed 004: attendance_records): "
	       "one record an attendee of a confirmed booking a schedule (409 "
	       "ATTENDANCE_EXISTS), marked by the schedule's trainer or staff "
	       "once it has started (409 SCHEDULE_NOT_STARTED); once it is "
	       "completed by staff only (409 ATTENDANCE_LOCKED) and not under "
	       "a certificate (409 CERTIFICATE_EXISTS). "
	       "certificate_eligible is the server's. Completing the schedule "
	       "moves its bookings to completed or no_show from it. Bookers "
	       "read their own.",
	.before_create = attendance_before_create,
	.before_update = attendance_before_update,
	.codes =
	    "{\"409\":[\"ATTENDANCE_EXISTS\",\"ATTENDANCE_LOCKED\",\"BOOKING_NOT_CONFIRMED\",\"CERTIFICATE_EXISTS\",\"SCHEDULE_CANCELLED\",\"SCHEDULE_NOT_STARTED\"]}",
};

/* What a record hangs on, read by its attendee. */
struct hang {
	char	booking_id[UUID_STR_LEN];
	char	schedule_id[UUID_STR_LEN];
	char	user_id[UUID_STR_LEN];
	char	booking_status[16];
	char	schedule_status[16];
	int64_t start, end;
};

static int
hang_load(struct tx *tx, const char *attendee_id, struct hang *h)
{
	struct stmt *st;
	int	     rc;

	memset(h, 0, sizeof(*h));
	st = store_prepare(tx,
	    "SELECT b.id, b.schedule_id, b.user_id, b.status, s.status, "
	    "s.start_time, s.end_time FROM training_booking_attendees a JOIN "
	    "training_bookings b ON b.id = a.booking_id JOIN course_schedules "
	    "s ON s.id = b.schedule_id WHERE a.id = ?");
	store_bind_text(st, 1, attendee_id);
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(h->booking_id, store_col_text(st, 0),
		    sizeof(h->booking_id));
		strlcpy_cb(h->schedule_id, store_col_text(st, 1),
		    sizeof(h->schedule_id));
		strlcpy_cb(
		    h->user_id, store_col_text(st, 2), sizeof(h->user_id));
		strlcpy_cb(h->booking_status, store_col_text(st, 3),
		    sizeof(h->booking_status));
		strlcpy_cb(h->schedule_status, store_col_text(st, 4),
		    sizeof(h->schedule_status));
		h->start = store_col_int64(st, 5);
		h->end = store_col_int64(st, 6);
		rc = OK;
	} else if (rc == STORE_DONE)
		rc = ERR_NOT_FOUND;
	store_finalize(st);
	return (rc);
}

/* The schedule has started and is not cancelled. */
static int
hang_open(struct resource_ctx *ctx, const struct hang *h)
{
	if (strcmp(h->schedule_status, "cancelled") == 0)
		return (training_refuse(ctx->req, ERR_CONFLICT,
		    "SCHEDULE_CANCELLED", "attendee_id", "cancelled",
		    "the schedule was cancelled"));
	if (h->start > time_now_ms())
		return (training_refuse(ctx->req, ERR_CONFLICT,
		    "SCHEDULE_NOT_STARTED", "attendee_id", "not_started",
		    "attendance is marked once the schedule has started"));
	return (OK);
}

/*
 * Once the schedule is completed its bookings and certificates follow
 * from the records: trainers change them no more; staff correct one
 * while no certificate (but a revoked one) rests on it.
 */
static int
hang_locked(struct resource_ctx *ctx, const struct hang *h, const char *aid)
{
	struct stmt *st;
	int	     rc;

	if (strcmp(h->schedule_status, "completed") != 0)
		return (OK);
	if (ctx->scope != SCOPE_ALL)
		return (training_refuse(ctx->req, ERR_CONFLICT,
		    "ATTENDANCE_LOCKED", "attendee_id", "locked",
		    "the schedule is completed: staff correct its attendance"));
	st = store_prepare(ctx->tx,
	    "SELECT 1 FROM certificates WHERE schedule_id = ? AND "
	    "attendee_id = ? AND status <> 'revoked'");
	store_bind_text(st, 1, h->schedule_id);
	store_bind_text(st, 2, aid);
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_ROW)
		return (training_refuse(ctx->req, ERR_CONFLICT,
		    "CERTIFICATE_EXISTS", "attendee_id", "certified",
		    "a certificate rests on this attendance: revoke it first"));
	return (rc == STORE_DONE ? OK : rc);
}

/* Check-in and check-out within a day of the schedule, in order. */
static int
times_check(struct resource_ctx *ctx, const struct hang *h, json_t *body)
{
	static const char *const names[] = { "check_in_time",
		"check_out_time" };
	const int64_t		 day = 86400000;
	int64_t			 t[2] = { 0, 0 };
	int			 set[2], i;

	for (i = 0; i < 2; i++) {
		const char *v =
		    json_string_value(training_pick(body, ctx->old, names[i]));

		set[i] = v != NULL && time_parse_iso(v, &t[i]) == 0;
		if (set[i] && (t[i] < h->start - day || t[i] > h->end + day))
			return (training_refuse(ctx->req, ERR_INVALID, NULL,
			    names[i], "out_of_range",
			    "a time within a day of the schedule"));
	}
	if (set[0] && set[1] && t[1] < t[0])
		return (training_refuse(ctx->req, ERR_INVALID, NULL,
		    "check_out_time", "before_check_in",
		    "check-out is not before check-in"));
	return (OK);
}

/* certificate_eligible and marked_by of the record as it would be. */
static int
eligible_set(struct resource_ctx *ctx, const struct hang *h, json_t *body)
{
	const char *status;
	int64_t	    late = 15, in = 0;
	int	    ok = 0, rc;

	status = json_string_value(training_pick(body, ctx->old, "status"));
	if (status != NULL &&
	    json_is_true(training_pick(body, ctx->old, "passed_assessment"))) {
		if (strcmp(status, "present") == 0)
			ok = 1;
		else if (strcmp(status, "late") == 0) {
			if ((rc = training_setting_int(ctx->tx,
				 "certificate_late_minutes", 15, &late)) != OK)
				return (rc);
			ok =
			    time_parse_iso(json_string_value(training_pick(body,
					       ctx->old, "check_in_time")),
				&in) == 0 &&
			    in <= h->start + late * 60000;
		}
	}
	json_object_set_new(body, "certificate_eligible", json_boolean(ok));
	if (ctx->who != NULL)
		json_object_set_new(
		    body, "marked_by", json_string(ctx->who->user_id));
	return (OK);
}

static int
attendance_before_create(struct resource_ctx *ctx, json_t *body)
{
	struct hang  h;
	struct stmt *st;
	const char  *aid =
	    json_string_value(json_object_get(body, "attendee_id"));
	int rc;

	if ((rc = hang_load(ctx->tx, aid, &h)) == ERR_NOT_FOUND)
		return (training_refuse(ctx->req, ERR_INVALID, NULL,
		    "attendee_id", "not_found", "names no attendee"));
	if (rc != OK)
		return (rc);
	if (strcmp(h.booking_status, "confirmed") != 0 &&
	    strcmp(h.booking_status, "completed") != 0 &&
	    strcmp(h.booking_status, "no_show") != 0)
		return (training_refuse(ctx->req, ERR_CONFLICT,
		    "BOOKING_NOT_CONFIRMED", "attendee_id", "not_confirmed",
		    "the attendee's booking is not confirmed"));
	if ((rc = hang_open(ctx, &h)) != OK ||
	    (rc = hang_locked(ctx, &h, aid)) != OK ||
	    (rc = times_check(ctx, &h, body)) != OK)
		return (rc);
	/* Two marks of one attendee at once: the second sees the first. */
	if ((rc = training_lock(ctx->tx, "attendance", aid)) != OK)
		return (rc);
	st = store_prepare(ctx->tx,
	    "SELECT 1 FROM attendance_records WHERE schedule_id = ? AND "
	    "attendee_id = ?");
	store_bind_text(st, 1, h.schedule_id);
	store_bind_text(st, 2, aid);
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_ROW)
		return (training_refuse(ctx->req, ERR_CONFLICT,
		    "ATTENDANCE_EXISTS", "attendee_id", "marked",
		    "the attendee's attendance is marked already: change it"));
	if (rc != STORE_DONE)
		return (rc);
	json_object_set_new(body, "booking_id", json_string(h.booking_id));
	json_object_set_new(body, "schedule_id", json_string(h.schedule_id));
	json_object_set_new(body, "user_id", json_string(h.user_id));
	return (eligible_set(ctx, &h, body));
}

static int
attendance_before_update(struct resource_ctx *ctx, json_t *body)
{
	struct hang h;
	const char *aid;
	int	    rc;

	if (json_object_size(body) == 0)
		return (OK);
	aid = json_string_value(json_object_get(ctx->old, "attendee_id"));
	if ((rc = hang_load(ctx->tx, aid, &h)) != OK)
		return (rc);
	/* A certificate issued at once is seen: one attendee at a time. */
	if ((rc = training_lock(ctx->tx, "certificate", aid)) != OK)
		return (rc);
	if ((rc = hang_open(ctx, &h)) != OK ||
	    (rc = hang_locked(ctx, &h, aid)) != OK ||
	    (rc = times_check(ctx, &h, body)) != OK)
		return (rc);
	return (eligible_set(ctx, &h, body));
}

/* Completing a schedule */

struct moved {
	char id[UUID_STR_LEN];
	int  attended;
};

int
training_schedule_completed(struct tx *tx, const struct principal *who,
    struct request *req, const char *schedule_id, int64_t now)
{
	struct stmt  *st;
	struct moved *m = NULL, *grown;
	size_t	      n = 0, cap = 0, i;
	int	      rc, on = 1;

	st = store_prepare(tx,
	    "SELECT b.id, EXISTS (SELECT 1 FROM attendance_records r WHERE "
	    "r.booking_id = b.id AND r.status IN ('present', 'late', "
	    "'partial')) FROM training_bookings b WHERE b.schedule_id = ? AND "
	    "b.status = 'confirmed' ORDER BY b.id");
	store_bind_text(st, 1, schedule_id);
	while ((rc = store_step(st)) == STORE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((grown = realloc(m, cap * sizeof(*m))) == NULL) {
				rc = ERR_NOMEM;
				break;
			}
			m = grown;
		}
		strlcpy_cb(m[n].id, store_col_text(st, 0), sizeof(m[n].id));
		m[n].attended = store_col_int64(st, 1) != 0;
		n++;
	}
	store_finalize(st);
	rc = rc == STORE_DONE ? OK : rc;
	for (i = 0; rc == OK && i < n; i++) {
		const char *to = m[i].attended ? "completed" : "no_show";

		st = store_prepare(tx,
		    "UPDATE training_bookings SET status = ?, updated_at = ?, "
		    "updated_by = ? WHERE id = ? AND status = 'confirmed'");
		store_bind_text(st, 1, to);
		store_bind_int64(st, 2, now);
		if (who != NULL)
			store_bind_text(st, 3, who->user_id);
		else
			store_bind_null(st, 3);
		store_bind_text(st, 4, m[i].id);
		rc = store_step(st) == STORE_DONE ? OK : ERR_INTERNAL;
		store_finalize(st);
		if (rc == OK)
			rc = training_audit_move(tx, req, who,
			    "training_bookings",
			    m[i].attended ? "complete" : "no_show", m[i].id,
			    "confirmed", to);
	}
	free(m);
	if (rc != OK)
		return (rc);
	if ((rc = training_setting_bool(
		 tx, "auto_issue_certificates", 1, &on)) != OK ||
	    !on)
		return (rc);
	return (training_certificates_auto(tx, who, req, schedule_id));
}
