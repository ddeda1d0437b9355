/*
 * Trainers (seed 004): a user with the instructor role who teaches
 * courses, with their first-aid teaching qualification and its expiry.
 * Admins write them; an instructor reads their own profile. The row
 * belongs to the trainer (owner user_id): it is in their GDPR export, and
 * their bio and qualification number are cleared when they are erased.
 *
 * A trainer's qualification never expires before the end of one of their
 * live schedules (409 TRAINER_QUALIFICATION_EXPIRED when it would): the
 * check holds the trainer's lock, which scheduling takes too. The expiry
 * is a date in London: valid through that day (training_expiry_end).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/money.h"
#include "core/util.h"
#include "module.h"
#include "resource/resource.h"
#include "store/store.h"
#include "training/training_int.h"

#define STAFF_OWN (SEE_ALL | SEE_OWN)

static int trainers_before_create(struct resource_ctx *, json_t *);
static int trainers_before_update(struct resource_ctx *, json_t *);
static int code_free(struct resource_ctx *, json_t *);
static int currency_check(struct resource_ctx *, json_t *);

static const struct field trainer_fields[] = {
	{ "user_id", FIELD_UUID,
	    FIELD_REQUIRED | FIELD_CREATE_ONLY | FIELD_FILTER, 0, 0, NULL, NULL,
	    "users", 0, "the trainer's account (role instructor); one each" },
	{ "trainer_code", FIELD_TEXT,
	    FIELD_REQUIRED | FIELD_FILTER | FIELD_SORT, 1, 32, NULL, NULL, NULL,
	    0, "the business's code for the trainer, unique" },
	{ "qualification_number", FIELD_TEXT, FIELD_NULLABLE | FIELD_ERASE, 0,
	    64, NULL, NULL, NULL, STAFF_OWN,
	    "their teaching qualification's number" },
	{ "qualification_expiry", FIELD_DATE, FIELD_REQUIRED | FIELD_SORT, 0, 0,
	    NULL, NULL, NULL, 0,
	    "the last day the qualification is valid: they teach no schedule "
	    "that ends after it" },
	{ "specializations", FIELD_TEXT_LIST, 0, 0, 50, NULL, "[]", NULL, 0,
	    "e.g. [\"EFAW\", \"Paediatric\"]" },
	{ "bio", FIELD_TEXT, FIELD_NULLABLE | FIELD_ERASE, 0, TRAINING_TEXT_MAX,
	    NULL, NULL, NULL, 0, NULL },
	{ "hourly_rate_minor", FIELD_INT, FIELD_NULLABLE, 0, 10000000, NULL,
	    NULL, NULL, STAFF_OWN, "pay an hour in minor units of currency" },
	{ "currency", FIELD_TEXT, 0, 3, 3, NULL, "\"GBP\"", NULL, STAFF_OWN,
	    "ISO 4217 code of hourly_rate_minor",
	    .pattern = MONEY_CURRENCY_PATTERN },
	{ "is_active", FIELD_BOOL, FIELD_FILTER, 0, 0, NULL, "true", NULL, 0,
	    "works for the business" },
	{ "is_available", FIELD_BOOL, FIELD_FILTER, 0, 0, NULL, "true", NULL, 0,
	    "takes new schedules" },
	{ "can_travel", FIELD_BOOL, 0, 0, 0, NULL, "false", NULL, 0,
	    "teaches away from their base" },
	{ "max_travel_miles", FIELD_INT, FIELD_NULLABLE, 0, 1000, NULL, NULL,
	    NULL, 0, NULL },
	{ "created_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
	{ "updated_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
};

const struct resource trainers_resource = {
	.name = "trainers",
	.path = "/v1/trainers",
	.table = "trainers",
	.fields = trainer_fields,
	.nfields = NELEM(trainer_fields),
	.owner_column = "user_id",
	.doc = "Trainers (seed 004): users with the instructor role who teach "
	       "courses, with their qualification's expiry. Admins write them "
	       "(409 TRAINER_CODE_TAKEN for a code in use); an instructor "
	       "reads their own. The qualification never expires before one "
	       "of their live schedules ends (409 "
	       "TRAINER_QUALIFICATION_EXPIRED).",
	.before_create = trainers_before_create,
	.before_update = trainers_before_update,
	.codes =
	    "{\"409\":[\"TRAINER_CODE_TAKEN\",\"TRAINER_QUALIFICATION_EXPIRED\"]}",
};

static int
currency_check(struct resource_ctx *ctx, json_t *body)
{
	const char *c = json_string_value(json_object_get(body, "currency"));

	if (c == NULL || training_currency_ok(c))
		return (OK);
	return (training_refuse(ctx->req, ERR_INVALID, NULL, "currency",
	    "invalid_format",
	    "must be an ISO 4217 code: three upper-case letters"));
}

/* trainer_code names one trainer: 409 TRAINER_CODE_TAKEN. */
static int
code_free(struct resource_ctx *ctx, json_t *body)
{
	struct stmt *st;
	const char  *code;
	int	     rc;

	code = json_string_value(json_object_get(body, "trainer_code"));
	if (code == NULL)
		return (OK);
	st = store_prepare(ctx->tx,
	    "SELECT 1 FROM trainers WHERE trainer_code = ? AND id <> ?");
	store_bind_text(st, 1, code);
	store_bind_text(st, 2, ctx->id != NULL ? ctx->id : "");
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_DONE)
		return (OK);
	if (rc != STORE_ROW)
		return (rc);
	return (training_refuse(ctx->req, ERR_CONFLICT, "TRAINER_CODE_TAKEN",
	    "trainer_code", "taken", "another trainer has this code"));
}

/* The user must be live and have the instructor role. */
static int
trainers_before_create(struct resource_ctx *ctx, json_t *body)
{
	struct stmt *st;
	const char  *uid = json_string_value(json_object_get(body, "user_id"));
	int	     rc;

	if ((rc = currency_check(ctx, body)) != OK ||
	    (rc = code_free(ctx, body)) != OK)
		return (rc);
	st = store_prepare(ctx->tx,
	    "SELECT 1 FROM users WHERE id = ? AND "
	    "role = 'instructor' AND deleted_at IS NULL");
	store_bind_text(st, 1, uid);
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_ROW)
		return (OK);
	if (rc != STORE_DONE)
		return (rc);
	return (training_refuse(ctx->req, ERR_INVALID, NULL, "user_id",
	    "not_instructor", "names no live user with the instructor role"));
}

/* A new expiry must outlast every live schedule of the trainer's. */
static int
trainers_before_update(struct resource_ctx *ctx, json_t *body)
{
	const char *exp;
	int64_t	    until;
	char	    detail[160];
	int	    rc;

	if ((rc = currency_check(ctx, body)) != OK ||
	    (rc = code_free(ctx, body)) != OK)
		return (rc);
	exp = json_string_value(json_object_get(body, "qualification_expiry"));
	if (exp == NULL || training_expiry_end(exp, &until) != 0)
		return (OK);
	if ((rc = training_lock(ctx->tx, "trainer", ctx->id)) != OK)
		return (rc);
	rc = training_schedule_exists(ctx->tx,
	    "SELECT 1 FROM course_schedules WHERE trainer_id = ? AND "
	    "end_time > ? AND status IN " TRAINING_LIVE " LIMIT 1",
	    ctx->id, until);
	if (rc != OK)
		return (rc == ERR_NOT_FOUND ? OK : rc);
	snprintf(detail, sizeof(detail),
	    "a live schedule of the trainer's ends after %s: move it to "
	    "another trainer first",
	    exp);
	return (training_refuse(ctx->req, ERR_CONFLICT,
	    "TRAINER_QUALIFICATION_EXPIRED", "qualification_expiry",
	    "schedules_after", detail));
}
