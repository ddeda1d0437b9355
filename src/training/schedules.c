/*
 * Course schedules (seed 004): one dated run of a training course at a
 * venue, taught by a trainer.
 *
 *	scheduled --confirm--> confirmed
 *	scheduled|confirmed --start--> in_progress --complete--> completed
 *	scheduled|confirmed --cancel--> cancelled
 *
 * Completing one moves its confirmed bookings to completed or no_show
 * from their attendance and may issue certificates
 * (training_schedule_completed, attendance.c).
 *
 * Status changes only through these actions (POST .../{id}/<verb>, by
 * staff with course_schedules:update:all), never by PATCH. While a
 * schedule is scheduled or confirmed, PATCH may move it (venue, trainer,
 * times, capacity) under the same rules as a new one; after, it is
 * closed (409 SCHEDULE_CLOSED).
 *
 * The rules, checked in the write transaction after the locks of its
 * course, venue and trainer (training_lock, in that order; on SQLite
 * BEGIN IMMEDIATE already serialises writers), each refused with a
 * problem of its own code and nothing changed:
 *   - ends after it starts (422 VALIDATION_FAILED, end_time);
 *   - an active course at an active venue (422 COURSE_INACTIVE,
 *     VENUE_INACTIVE) and an active, available trainer whose account is
 *     live (422 TRAINER_UNAVAILABLE);
 *   - the trainer's qualification lasts until the schedule ends (422
 *     TRAINER_QUALIFICATION_EXPIRED): it is valid through its expiry
 *     date, a day in London (training_expiry_end);
 *   - capacity at most the venue's capacity, the course's max_capacity
 *     and 12 learners a trainer (422 SCHEDULE_CAPACITY_EXCEEDED, one entry
 *     per limit passed); without a capacity, the least of the three;
 *   - the trainer teaches no other live schedule that overlaps it (409
 *     TRAINER_OVERLAP); PostgreSQL's exclusion constraint and SQLite's
 *     triggers back this up (migration 0017).
 *
 * Anyone, without a token too, reads the upcoming schedules (scheduled or
 * confirmed, starting later, of an active course) with their free seats;
 * staff read every one. A read of one by anyone but staff is the booking
 * funnel's schedule_viewed (analytics.c: kept, then written in a batch).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "store/store.h"
#include "training/training_int.h"

/* clang-format off */
#define SCHEDULE_UPCOMING						\
	"status IN ('scheduled', 'confirmed') AND "				\
	"start_time > unixepoch() * 1000 AND course_id IN "			\
	"(SELECT c.id FROM training_courses c WHERE c.is_active = 1)"
/* clang-format on */

/* What a write asks of a schedule: the schedule as it would be. */
struct plan {
	const char *course_id;
	const char *venue_id;
	const char *trainer_id;
	int64_t	    start, end;
	json_t	   *capacity; /* NULL: not given (a new one: the least) */
	const char *except;   /* the schedule itself, on update */
	int	    moved;    /* trainer or times changed */
	int	    venue_new;
};

/* One status action, run in one write transaction. */
struct saction {
	struct request			 *req;
	struct principal		 *who;
	const char			 *id;
	const struct training_transition *t;
	enum scope			  read;
	json_t				 *row; /* the answer */
};

static int schedules_before_create(struct resource_ctx *, json_t *);
static int schedules_before_update(struct resource_ctx *, json_t *);
static int plan_check(struct resource_ctx *, struct plan *, json_t *);
static int pair_load(struct tx *, const char *, const char *, int *, int64_t *);
static int trainer_check(struct resource_ctx *, const struct plan *);
static int capacity_check(
    struct resource_ctx *, const struct plan *, int64_t, int64_t, json_t *);
static int overlap_check(struct resource_ctx *, const struct plan *);
static int seats_check(struct resource_ctx *, int64_t);
static int action_tx(struct tx *, void *);

static const char *const statuses[] = { "scheduled", "confirmed", "in_progress",
	"completed", "cancelled", NULL };

const struct training_transition training_transitions[] = {
	{ "confirm", "confirmed", { "scheduled", NULL } },
	{ "start", "in_progress", { "scheduled", "confirmed", NULL } },
	{ "complete", "completed", { "in_progress", NULL } },
	{ "cancel", "cancelled", { "scheduled", "confirmed", NULL } },
};

static const struct field schedule_fields[] = {
	{ "course_id", FIELD_UUID,
	    FIELD_REQUIRED | FIELD_CREATE_ONLY | FIELD_FILTER, 0, 0, NULL, NULL,
	    "training_courses", 0, "the training course" },
	{ "venue_id", FIELD_UUID, FIELD_REQUIRED | FIELD_FILTER, 0, 0, NULL,
	    NULL, "venues", 0, "where it is taught" },
	{ "trainer_id", FIELD_UUID, FIELD_REQUIRED | FIELD_FILTER, 0, 0, NULL,
	    NULL, "trainers", 0, "who teaches it (a trainers row)" },
	{ "instructor_id", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, SEE_ALL,
	    "the trainer's account (seed: instructor_id), from trainer_id",
	    "SELECT t.user_id FROM trainers t WHERE t.id = "
	    "course_schedules.trainer_id" },
	{ "start_time", FIELD_TIME, FIELD_REQUIRED | FIELD_FILTER | FIELD_SORT,
	    0, 0, NULL, NULL, NULL, 0, "start (UTC)" },
	{ "end_time", FIELD_TIME, FIELD_REQUIRED, 0, 0, NULL, NULL, NULL, 0,
	    "end, after start" },
	{ "status", FIELD_ENUM, FIELD_READONLY | FIELD_FILTER, 0, 0, statuses,
	    NULL, NULL, 0,
	    "scheduled, then confirmed, in_progress, completed or cancelled "
	    "through the actions" },
	{ "capacity", FIELD_INT, 0, 1, 1000, NULL, NULL, NULL, 0,
	    "most learners: at most the venue's capacity, the course's "
	    "max_capacity and 12 a trainer; the least of them when not "
	    "given" },
	{ "free_seats", FIELD_INT, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    "seats still to be booked", TRAINING_FREE_SEATS_SQL },
	{ "created_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
	{ "updated_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
};

const struct resource course_schedules_resource = {
	.name = "course_schedules",
	.path = "/v1/course-schedules",
	.table = "course_schedules",
	.fields = schedule_fields,
	.nfields = NELEM(schedule_fields),
	.scope_where = { [SCOPE_NONE] = SCHEDULE_UPCOMING },
	.flags = RESOURCE_PUBLIC_READ,
	/* Cancelled, never deleted: bookings will refer to them. */
	.actions = (1 << ACTION_LIST) | (1 << ACTION_READ) |
	    (1 << ACTION_CREATE) | (1 << ACTION_UPDATE),
	.doc =
	    "Dated runs of a training course at a venue by a trainer (seed "
	    "004: course_schedules), with their free seats. Anyone reads the "
	    "upcoming ones without a token; admins schedule them. Capacity "
	    "is at most the venue's, the course's max_capacity and 12 a "
	    "trainer (422 SCHEDULE_CAPACITY_EXCEEDED); the trainer is active, "
	    "available (422 TRAINER_UNAVAILABLE) and qualified until the end "
	    "(422 TRAINER_QUALIFICATION_EXPIRED) and teaches no overlapping "
	    "live schedule (409 TRAINER_OVERLAP). Status changes through the "
	    "confirm, start, complete and cancel actions only.",
	.before_create = schedules_before_create,
	.before_update = schedules_before_update,
	/* A visitor's view: the funnel's first step (analytics.c). */
	.after_read = training_analytics_viewed,
	.codes =
	    "{\"409\":[\"SCHEDULE_CAPACITY_EXCEEDED\",\"SCHEDULE_CLOSED\",\"TRAINER_OVERLAP\"],\"422\":[\"COURSE_INACTIVE\",\"SCHEDULE_CAPACITY_EXCEEDED\",\"TRAINER_QUALIFICATION_EXPIRED\",\"TRAINER_UNAVAILABLE\",\"VENUE_INACTIVE\"]}",
};

/* is_active and a number of one row, by a fixed statement. */
static int
pair_load(
    struct tx *tx, const char *sql, const char *id, int *active, int64_t *n)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx, sql);
	store_bind_text(st, 1, id);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		*active = store_col_int64(st, 0) != 0;
		*n = store_col_int64(st, 1);
		rc = OK;
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	}
	store_finalize(st);
	return (rc);
}

/* Active, available, a live account, qualified until the end. */
static int
trainer_check(struct resource_ctx *ctx, const struct plan *p)
{
	struct stmt *st;
	char	     expiry[16] = "";
	int64_t	     until = 0;
	int	     rc, ok = 0;

	st = store_prepare(ctx->tx,
	    "SELECT t.is_active = 1 AND t.is_available = 1 AND "
	    "EXISTS (SELECT 1 FROM users u WHERE u.id = t.user_id AND "
	    "u.is_active = 1 AND u.deleted_at IS NULL), "
	    "t.qualification_expiry FROM trainers t WHERE t.id = ?");
	store_bind_text(st, 1, p->trainer_id);
	if ((rc = store_step(st)) == STORE_ROW) {
		ok = store_col_int64(st, 0) != 0;
		strlcpy_cb(expiry, store_col_text(st, 1), sizeof(expiry));
		rc = OK;
	} else if (rc == STORE_DONE)
		rc = ERR_NOT_FOUND;
	store_finalize(st);
	if (rc != OK)
		return (rc);
	if (!ok)
		return (training_refuse(ctx->req, ERR_INVALID,
		    "TRAINER_UNAVAILABLE", "trainer_id", "unavailable",
		    "the trainer is not active or not available"));
	/* Valid through its expiry date in London (training_expiry_end). */
	if (training_expiry_end(expiry, &until) != 0 || p->end > until)
		return (training_refuse(ctx->req, ERR_INVALID,
		    "TRAINER_QUALIFICATION_EXPIRED", "trainer_id", "expired",
		    "the trainer's qualification expires before the "
		    "schedule ends"));
	return (OK);
}

/*
 * Capacity within every limit; a new schedule without one gets the least
 * of them (set in body).
 */
static int
capacity_check(struct resource_ctx *ctx, const struct plan *p,
    int64_t venue_cap, int64_t course_max, json_t *body)
{
	const int64_t trainer_max = TRAINING_LEARNERS_PER_TRAINER;
	json_t	     *errs;
	int64_t	      cap, least;
	char	      detail[128];

	least = venue_cap < course_max ? venue_cap : course_max;
	if (trainer_max < least)
		least = trainer_max;
	if (p->capacity == NULL)
		return (json_object_set_new(
			    body, "capacity", json_integer(least)) == 0
			? OK
			: ERR_NOMEM);
	cap = json_integer_value(p->capacity);
	if (cap <= least)
		return (OK);
	if ((errs = json_array()) == NULL)
		return (ERR_NOMEM);
	if (cap > venue_cap) {
		snprintf(detail, sizeof(detail),
		    "the venue holds %lld learners", (long long)venue_cap);
		resource_field_err(errs, "capacity", "venue_capacity", detail);
	}
	if (cap > course_max) {
		snprintf(detail, sizeof(detail),
		    "the course takes at most %lld learners",
		    (long long)course_max);
		resource_field_err(errs, "capacity", "course_capacity", detail);
	}
	if (cap > trainer_max) {
		snprintf(detail, sizeof(detail),
		    "one trainer teaches at most %lld learners",
		    (long long)trainer_max);
		resource_field_err(errs, "capacity", "trainer_ratio", detail);
	}
	http_problem_ext(ctx->req, ERR_INVALID, "SCHEDULE_CAPACITY_EXCEEDED",
	    json_pack("{s:o}", "errors", errs),
	    "A capacity of %lld is more than the schedule may take (%lld).",
	    (long long)cap, (long long)least);
	return (ERR_INVALID);
}

/* No other live schedule of the trainer's overlaps [start, end). */
static int
overlap_check(struct resource_ctx *ctx, const struct plan *p)
{
	struct stmt *st;
	char	     other[UUID_STR_LEN] = "";
	int	     rc;

	st = store_prepare(ctx->tx,
	    "SELECT id FROM course_schedules WHERE "
	    "trainer_id = ? AND status <> 'cancelled' AND start_time < ? AND "
	    "end_time > ? AND id <> ? LIMIT 1");
	store_bind_text(st, 1, p->trainer_id);
	store_bind_int64(st, 2, p->end);
	store_bind_int64(st, 3, p->start);
	store_bind_text(st, 4, p->except != NULL ? p->except : "");
	if ((rc = store_step(st)) == STORE_ROW)
		strlcpy_cb(other, store_col_text(st, 0), sizeof(other));
	store_finalize(st);
	if (rc == STORE_DONE)
		return (OK);
	if (rc != STORE_ROW)
		return (rc);
	http_problem_ext(ctx->req, ERR_CONFLICT, "TRAINER_OVERLAP",
	    json_pack("{s:s,s:[{s:s,s:s,s:s}]}", "conflicts_with", other,
		"errors", "field", "trainer_id", "code", "overlap", "detail",
		"the trainer teaches another schedule at that time"),
	    "The trainer teaches another schedule at that time.");
	return (ERR_CONFLICT);
}

/* Every rule, in the order the header gives, under the three locks. */
static int
plan_check(struct resource_ctx *ctx, struct plan *p, json_t *body)
{
	int64_t course_max = 0, venue_cap = 0;
	int	rc, active = 0;

	if (p->end <= p->start)
		return (training_refuse(ctx->req, ERR_INVALID, NULL, "end_time",
		    "before_start", "must be after start_time"));
	if ((rc = training_lock(ctx->tx, "course", p->course_id)) != OK ||
	    (rc = training_lock(ctx->tx, "venue", p->venue_id)) != OK ||
	    (rc = training_lock(ctx->tx, "trainer", p->trainer_id)) != OK)
		return (rc);
	if ((rc = pair_load(ctx->tx,
		 "SELECT is_active, max_capacity FROM training_courses "
		 "WHERE id = ?",
		 p->course_id, &active, &course_max)) != OK)
		return (rc);
	if (!active && p->except == NULL)
		return (
		    training_refuse(ctx->req, ERR_INVALID, "COURSE_INACTIVE",
			"course_id", "inactive", "the course is not active"));
	if ((rc = pair_load(ctx->tx,
		 "SELECT is_active, capacity FROM venues WHERE id = ?",
		 p->venue_id, &active, &venue_cap)) != OK)
		return (rc);
	if (!active && p->venue_new)
		return (training_refuse(ctx->req, ERR_INVALID, "VENUE_INACTIVE",
		    "venue_id", "inactive", "the venue is not active"));
	if (p->moved && (rc = trainer_check(ctx, p)) != OK)
		return (rc);
	if ((rc = capacity_check(ctx, p, venue_cap, course_max, body)) != OK)
		return (rc);
	return (p->moved ? overlap_check(ctx, p) : OK);
}

static int
schedules_before_create(struct resource_ctx *ctx, json_t *body)
{
	struct plan p;

	memset(&p, 0, sizeof(p));
	p.course_id = json_string_value(json_object_get(body, "course_id"));
	p.venue_id = json_string_value(json_object_get(body, "venue_id"));
	p.trainer_id = json_string_value(json_object_get(body, "trainer_id"));
	time_parse_iso(
	    json_string_value(json_object_get(body, "start_time")), &p.start);
	time_parse_iso(
	    json_string_value(json_object_get(body, "end_time")), &p.end);
	p.capacity = json_object_get(body, "capacity");
	p.moved = p.venue_new = 1;
	return (plan_check(ctx, &p, body));
}

/*
 * A capacity never falls below the seats booked or held (409
 * SCHEDULE_CAPACITY_EXCEEDED), read under the schedule's lock as
 * bookings take them. Taken after the course's, venue's and trainer's
 * locks would be (plan_check): it takes none of them.
 */
static int
seats_check(struct resource_ctx *ctx, int64_t cap)
{
	int64_t free_seats = 0, old_cap;
	char	detail[128];
	int	rc;

	if ((rc = training_lock(ctx->tx, "schedule", ctx->id)) != OK ||
	    (rc = training_free_seats(
		 ctx->tx, ctx->id, time_now_ms(), &free_seats)) != OK)
		return (rc);
	old_cap = json_integer_value(json_object_get(ctx->old, "capacity"));
	if (cap >= old_cap - free_seats)
		return (OK);
	snprintf(detail, sizeof(detail), "%lld seats are booked or held",
	    (long long)(old_cap - free_seats));
	return (training_refuse(ctx->req, ERR_CONFLICT,
	    "SCHEDULE_CAPACITY_EXCEEDED", "capacity", "below_booked", detail));
}

/* A scheduled or confirmed schedule, as it would be, by the same rules. */
static int
schedules_before_update(struct resource_ctx *ctx, json_t *body)
{
	struct plan p;
	const char *status, *venue, *trainer;
	int	    rc;

	if (json_object_size(body) == 0)
		return (OK);
	status = json_string_value(json_object_get(ctx->old, "status"));
	if (status == NULL ||
	    (strcmp(status, "scheduled") != 0 &&
		strcmp(status, "confirmed") != 0)) {
		http_problem(ctx->req, ERR_CONFLICT, "SCHEDULE_CLOSED",
		    "A schedule that is %s cannot be changed.",
		    status != NULL ? status : "closed");
		return (ERR_CONFLICT);
	}
	memset(&p, 0, sizeof(p));
	p.except = ctx->id;
	p.course_id = json_string_value(json_object_get(ctx->old, "course_id"));
	venue = json_string_value(json_object_get(ctx->old, "venue_id"));
	trainer = json_string_value(json_object_get(ctx->old, "trainer_id"));
	p.venue_id =
	    json_string_value(training_pick(body, ctx->old, "venue_id"));
	p.trainer_id =
	    json_string_value(training_pick(body, ctx->old, "trainer_id"));
	time_parse_iso(
	    json_string_value(training_pick(body, ctx->old, "start_time")),
	    &p.start);
	time_parse_iso(
	    json_string_value(training_pick(body, ctx->old, "end_time")),
	    &p.end);
	p.capacity = training_pick(body, ctx->old, "capacity");
	p.venue_new = venue == NULL || p.venue_id == NULL ||
	    strcmp(venue, p.venue_id) != 0;
	p.moved = trainer == NULL || p.trainer_id == NULL ||
	    strcmp(trainer, p.trainer_id) != 0 ||
	    json_object_get(body, "start_time") != NULL ||
	    json_object_get(body, "end_time") != NULL;
	if ((rc = plan_check(ctx, &p, body)) != OK ||
	    json_object_get(body, "capacity") == NULL)
		return (rc);
	return (seats_check(ctx, json_integer_value(p.capacity)));
}

/* Status actions */

void
training_schedule_action(struct request *req)
{
	struct saction a;
	int	       rc;

	memset(&a, 0, sizeof(a));
	a.req = req;
	a.who = req->caller;
	a.t = req->route_arg;
	a.id = http_param(req, "id");
	if (a.id == NULL || !uuid_valid(a.id)) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such schedule.");
		return;
	}
	if (resource_scope(req->db, a.who, "course_schedules", "update") !=
	    SCOPE_ALL) {
		http_problem(req, ERR_FORBIDDEN, NULL,
		    "Only staff move a schedule's status.");
		return;
	}
	a.read = resource_scope(req->db, a.who, "course_schedules", "read");
	rc = store_run(req->db, STORE_TX_WRITE, action_tx, &a);
	if (rc == OK) {
		http_json(req, 200, a.row);
		return;
	}
	json_decref(a.row);
	if (!req->responded)
		http_problem(req, rc, NULL,
		    rc == ERR_NOT_FOUND ? "No such schedule."
					: "The schedule cannot be changed.");
}

static int
action_tx(struct tx *tx, void *arg)
{
	struct saction	   *a = arg;
	struct resource_ctx ctx;
	struct stmt	   *st;
	json_t		   *changes;
	char		    from[16] = "", verb[64];
	int64_t		    before = 0, start = 0, now;
	int		    rc, i, allowed = 0;

	json_decref(a->row);
	a->row = NULL;
	/* Its seats: no booking slips in while it is cancelled. */
	if ((rc = training_lock(tx, "schedule", a->id)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "SELECT status, updated_at, start_time FROM course_schedules "
	    "WHERE id = ?");
	store_bind_text(st, 1, a->id);
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(from, store_col_text(st, 0), sizeof(from));
		before = store_col_int64(st, 1);
		start = store_col_int64(st, 2);
		rc = OK;
	} else if (rc == STORE_DONE)
		rc = ERR_NOT_FOUND;
	store_finalize(st);
	if (rc != OK)
		return (rc);
	for (i = 0; a->t->from[i] != NULL; i++)
		allowed |= strcmp(from, a->t->from[i]) == 0;
	if (!allowed) {
		http_problem(a->req, ERR_CONFLICT, "INVALID_TRANSITION",
		    "A %s schedule cannot %s.", from, a->t->verb);
		return (ERR_CONFLICT);
	}
	/* Started and completed from its start only, as attendance is
	 * marked (attendance.c): completion issues certificates. */
	if ((strcmp(a->t->to, "in_progress") == 0 ||
		strcmp(a->t->to, "completed") == 0) &&
	    start > time_now_ms()) {
		http_problem(a->req, ERR_CONFLICT, "SCHEDULE_NOT_STARTED",
		    "The schedule starts later: it cannot %s before.",
		    a->t->verb);
		return (ERR_CONFLICT);
	}
	/* A new ETag for every change, even within one millisecond. */
	if ((now = time_now_ms()) <= before)
		now = before + 1;
	st = store_prepare(tx,
	    "UPDATE course_schedules SET status = ?, "
	    "updated_at = ?, updated_by = ? WHERE id = ? AND status = ?");
	store_bind_text(st, 1, a->t->to);
	store_bind_int64(st, 2, now);
	store_bind_text(st, 3, a->who->user_id);
	store_bind_text(st, 4, a->id);
	store_bind_text(st, 5, from);
	rc = store_step(st);
	/* Changed since read (PostgreSQL): the whole transaction again. */
	rc = rc == STORE_DONE ? (store_changes(st) == 1 ? OK : ERR_BUSY) : rc;
	store_finalize(st);
	if (rc != OK)
		return (rc);
	snprintf(verb, sizeof(verb), "course_schedules.%s", a->t->verb);
	changes = json_pack("{s:[s],s:{s:s},s:{s:s}}", "fields", "status",
	    "old", "status", from, "new", "status", a->t->to);
	rc = audit_append(
	    tx, a->who, a->req, verb, "course_schedules", a->id, changes);
	json_decref(changes);
	if (rc != OK)
		return (rc);
	if (strcmp(a->t->to, "cancelled") == 0 &&
	    (rc = training_schedule_cancelled(
		 tx, a->who, a->req, a->id, now)) != OK)
		return (rc);
	if (strcmp(a->t->to, "completed") == 0 &&
	    (rc = training_schedule_completed(
		 tx, a->who, a->req, a->id, now)) != OK)
		return (rc);
	memset(&ctx, 0, sizeof(ctx));
	ctx.req = a->req;
	ctx.tx = tx;
	ctx.res = &course_schedules_resource;
	ctx.who = a->who;
	ctx.scope = a->read;
	return (resource_load(&ctx, a->id, &a->row));
}
