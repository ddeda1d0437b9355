/*
 * Special requirements (seed 004: special_requirements): what a booking's
 * attendees need (dietary, accessibility, medical, language, learning,
 * other), its details sealed under the booker's data key. The booker adds
 * them to a live booking of theirs and changes or removes them; staff see
 * and handle every one (action_completed, staff only, records who:
 * handled_by); the trainer of the schedule sees those shared with them
 * (share_with_trainer), and only those. A new requirement is confidential
 * and not shared unless the booker says otherwise (migration 0021):
 * is_confidential marks it for staff's discretion (not to be passed on
 * beyond those who must act on it) and never decides what the trainer
 * sees; share_with_trainer alone does.
 *
 * Rule of its own: a requirement names a live (pending or confirmed)
 * booking the caller may write (the booker's own, or any for staff): 409
 * BOOKING_CLOSED for a closed one, 422 for one that is not theirs. The row
 * belongs to the booker, whoever wrote it.
 */
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
#define SHARED_TAUGHT							\
	"share_with_trainer = 1 AND booking_id IN "				\
	"(SELECT b.id FROM training_bookings b JOIN course_schedules s ON "	\
	"s.id = b.schedule_id JOIN trainers t ON t.id = s.trainer_id WHERE "	\
	"t.user_id = ?)"
/* clang-format on */

static int requirements_before_create(struct resource_ctx *, json_t *);
static int requirements_before_update(struct resource_ctx *, json_t *);

static const char *const types[] = { "dietary", "accessibility", "medical",
	"language", "learning", "other", NULL };
static const char *const severities[] = { "low", "medium", "high", NULL };

static const struct field requirement_fields[] = {
	{ "booking_id", FIELD_UUID,
	    FIELD_REQUIRED | FIELD_CREATE_ONLY | FIELD_FILTER, 0, 0, NULL, NULL,
	    "training_bookings", 0, "a live booking" },
	{ "user_id", FIELD_UUID, FIELD_READONLY | FIELD_FILTER, 0, 0, NULL,
	    NULL, NULL, 0, "the booker; owns the row" },
	{ "requirement_type", FIELD_ENUM, FIELD_REQUIRED | FIELD_FILTER, 0, 0,
	    types, NULL, NULL, 0,
	    "dietary, accessibility, medical, language, learning or other" },
	{ "details", FIELD_TEXT, FIELD_REQUIRED | FIELD_PERSONAL, 1, 2000, NULL,
	    NULL, NULL, 0, "sealed under the booker's data key" },
	{ "severity", FIELD_ENUM, 0, 0, 0, severities, "\"low\"", NULL, 0,
	    NULL },
	{ "requires_action", FIELD_BOOL, FIELD_FILTER, 0, 0, NULL, "false",
	    NULL, 0, "the business must arrange something" },
	{ "action_completed", FIELD_BOOL, FIELD_STAFF_WRITE | FIELD_FILTER, 0,
	    0, NULL, "false", NULL, 0, "arranged (staff)" },
	{ "handled_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, "who marked it arranged" },
	{ "is_confidential", FIELD_BOOL, 0, 0, 0, NULL, "true", NULL, 0,
	    "to be handled with discretion by staff (default true); what the "
	    "trainer sees is share_with_trainer's alone" },
	{ "share_with_trainer", FIELD_BOOL, 0, 0, 0, NULL, "false", NULL, 0,
	    "the schedule's trainer sees it (default false)" },
	{ "created_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
	{ "updated_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
};

const struct resource special_requirements_resource = {
	.name = "special_requirements",
	.path = "/v1/special-requirements",
	.table = "special_requirements",
	.fields = requirement_fields,
	.nfields = NELEM(requirement_fields),
	.owner_column = "user_id",
	.scope_where = { [SCOPE_RELATED] = SHARED_TAUGHT },
	.doc = "What a training booking's attendees need (seed 004): type, "
	       "details sealed under the booker's key, severity, whether the "
	       "business must act and has. The booker writes those of their "
	       "live bookings; staff all and mark them handled; the trainer "
	       "reads those shared with them (share_with_trainer, false by "
	       "default). New ones are confidential unless said otherwise.",
	.before_create = requirements_before_create,
	.before_update = requirements_before_update,
	.codes = "{\"409\":[\"BOOKING_CLOSED\"]}",
};

static int
requirements_before_create(struct resource_ctx *ctx, json_t *body)
{
	struct stmt *st;
	const char  *bid =
	    json_string_value(json_object_get(body, "booking_id"));
	char owner[UUID_STR_LEN] = "", status[16] = "";
	int  rc;

	st = store_prepare(ctx->tx,
	    "SELECT user_id, status FROM training_bookings WHERE id = ?");
	store_bind_text(st, 1, bid);
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(owner, store_col_text(st, 0), sizeof(owner));
		strlcpy_cb(status, store_col_text(st, 1), sizeof(status));
	}
	store_finalize(st);
	if (rc != STORE_ROW && rc != STORE_DONE)
		return (rc);
	/* The requirement is the booker's: the caller's scope (own: their
	 * bookings; all: staff) must cover a row of theirs. */
	if (rc == STORE_ROW &&
	    (rc = resource_covers(ctx->tx, &special_requirements_resource,
		 ctx->who, ctx->scope, owner)) != OK &&
	    rc != ERR_FORBIDDEN)
		return (rc);
	if (rc != OK)
		return (training_refuse(ctx->req, ERR_INVALID, NULL,
		    "booking_id", "not_found", "names no booking of yours"));
	if (strcmp(status, "pending") != 0 && strcmp(status, "confirmed") != 0)
		return (training_refuse(ctx->req, ERR_CONFLICT,
		    "BOOKING_CLOSED", "booking_id", "closed",
		    "the booking is no longer live"));
	return (json_object_set_new(body, "user_id", json_string(owner)) == 0
		? OK
		: ERR_NOMEM);
}

/* Marking it arranged records who did. */
static int
requirements_before_update(struct resource_ctx *ctx, json_t *body)
{
	if (json_object_get(body, "action_completed") == NULL ||
	    ctx->who == NULL)
		return (OK);
	return (json_object_set_new(body, "handled_by",
		    json_is_true(json_object_get(body, "action_completed"))
			? json_string(ctx->who->user_id)
			: json_null()) == 0
		? OK
		: ERR_NOMEM);
}
