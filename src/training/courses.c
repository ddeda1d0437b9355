/*
 * Training courses (seed 004: courses): the in-person courses the
 * business sells, by kind (EFAW, FAW, Paediatric, requalification,
 * refresher), length, price and size. A kind with a set length in UK
 * practice must have it (422 naming the field). Admins write them; anyone,
 * without a token too, reads the active ones.
 *
 * A course's max_capacity never falls below the capacity of one of its
 * live schedules (409 SCHEDULE_CAPACITY_EXCEEDED): the check holds the
 * course's lock, which scheduling takes too.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/money.h"
#include "module.h"
#include "resource/resource.h"
#include "training/training_int.h"

static int courses_before_create(struct resource_ctx *, json_t *);
static int courses_before_update(struct resource_ctx *, json_t *);

static const char *const course_types[] = { "EFAW", "FAW", "Paediatric",
	"requalification", "refresher", NULL };

static const char *const families[] = { "EFAW", "FAW", "Paediatric", NULL };

/* The lengths UK practice sets: hours, over days. */
static const struct {
	const char *type;
	int64_t	    hours, days;
	const char *name;
} lengths[] = {
	{ "EFAW", 6, 1, "an Emergency First Aid at Work course" },
	{ "FAW", 18, 3, "a First Aid at Work course" },
	{ "Paediatric", 12, 2, "a Paediatric First Aid course" },
};

static const struct field course_fields[] = {
	{ "name", FIELD_TEXT, FIELD_REQUIRED | FIELD_SORT, 1, TRAINING_NAME_MAX,
	    NULL, NULL, NULL, 0, "e.g. Emergency First Aid at Work" },
	{ "description", FIELD_TEXT, FIELD_NULLABLE, 0, TRAINING_TEXT_MAX, NULL,
	    NULL, NULL, 0, NULL },
	{ "course_type", FIELD_ENUM, FIELD_REQUIRED | FIELD_FILTER, 0, 0,
	    course_types, NULL, NULL, 0,
	    "EFAW (6 hours, one day), FAW (18 hours, three days), Paediatric "
	    "(12 hours, two days), requalification or refresher" },
	{ "duration_hours", FIELD_INT, FIELD_REQUIRED, 1, 100, NULL, NULL, NULL,
	    0, "hours of teaching; set by the type for EFAW, FAW, Paediatric" },
	{ "duration_days", FIELD_INT, FIELD_REQUIRED, 1, 30, NULL, NULL, NULL,
	    0, "days the hours are taught over; set by the type as above" },
	{ "price_minor", FIELD_INT, FIELD_REQUIRED | FIELD_SORT, 0, 100000000,
	    NULL, NULL, NULL, 0,
	    "price per learner in minor units (pence for GBP)" },
	{ "currency", FIELD_TEXT, 0, 3, 3, NULL, "\"GBP\"", NULL, 0,
	    "ISO 4217 code, three upper-case letters",
	    .pattern = MONEY_CURRENCY_PATTERN },
	{ "max_capacity", FIELD_INT, FIELD_REQUIRED, 1, 1000, NULL, NULL, NULL,
	    0, "most learners a schedule of the course may take" },
	{ "certification_validity_years", FIELD_INT, 0, 0, 10, NULL, "3", NULL,
	    0, "years the certificate is valid; 0 for none" },
	{ "requalifies", FIELD_ENUM, FIELD_NULLABLE, 0, 0, families, NULL, NULL,
	    0,
	    "a requalification course: the family whose certificate it "
	    "renews, EFAW, FAW or Paediatric (FAW when not set); only holders "
	    "of one valid or expired at most a month ago book it" },
	{ "is_active", FIELD_BOOL, FIELD_FILTER, 0, 0, NULL, "true", NULL, 0,
	    "offered: listed to the public and may be scheduled" },
	{ "created_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
	{ "updated_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
};

const struct resource training_courses_resource = {
	.name = "training_courses",
	.path = "/v1/training-courses",
	.table = "training_courses",
	.fields = course_fields,
	.nfields = NELEM(course_fields),
	.scope_where = { [SCOPE_NONE] = "is_active = 1" },
	.flags = RESOURCE_PUBLIC_READ,
	.doc = "In-person first-aid courses (seed 004: courses): type, length, "
	       "price in minor units and currency, size. EFAW is 6 hours in "
	       "one day, FAW 18 over three days, Paediatric 12 over two (422 "
	       "naming the field otherwise). Anyone reads the active ones "
	       "without a token; admins write them, and max_capacity never "
	       "falls below a live schedule's capacity (409 "
	       "SCHEDULE_CAPACITY_EXCEEDED).",
	.before_create = courses_before_create,
	.before_update = courses_before_update,
	.codes = "{\"409\":[\"SCHEDULE_CAPACITY_EXCEEDED\"]}",
	/* A length its type has (lengths[]). */
	.create_example = "{\"name\":\"Emergency First Aid at Work\","
			  "\"course_type\":\"EFAW\",\"duration_hours\":6,"
			  "\"duration_days\":1,\"price_minor\":9500,"
			  "\"currency\":\"GBP\",\"max_capacity\":12}",
};

void
training_course_check(json_t *course, json_t *errs)
{
	const char *type, *cur;
	json_t	   *h, *d;
	char	    detail[160];
	size_t	    i;

	type = json_string_value(json_object_get(course, "course_type"));
	h = json_object_get(course, "duration_hours");
	d = json_object_get(course, "duration_days");
	for (i = 0; type != NULL && i < NELEM(lengths); i++) {
		if (strcmp(type, lengths[i].type) != 0)
			continue;
		if (json_integer_value(h) != lengths[i].hours) {
			snprintf(detail, sizeof(detail), "%s is %lld hours",
			    lengths[i].name, (long long)lengths[i].hours);
			resource_field_err(errs, "duration_hours",
			    "course_type_mismatch", detail);
		}
		if (json_integer_value(d) != lengths[i].days) {
			snprintf(detail, sizeof(detail),
			    "%s is taught over %lld day%s", lengths[i].name,
			    (long long)lengths[i].days,
			    lengths[i].days == 1 ? "" : "s");
			resource_field_err(errs, "duration_days",
			    "course_type_mismatch", detail);
		}
	}
	if (json_is_integer(h) && json_is_integer(d) &&
	    json_integer_value(h) > json_integer_value(d) * 24)
		resource_field_err(errs, "duration_hours", "too_large",
		    "more hours than the days hold");
	cur = json_string_value(json_object_get(course, "currency"));
	if (cur != NULL && !training_currency_ok(cur))
		resource_field_err(errs, "currency", "invalid_format",
		    "must be an ISO 4217 code: three upper-case letters");
}

static int
courses_before_create(struct resource_ctx *ctx, json_t *body)
{
	json_t *errs = json_array();

	training_course_check(body, errs);
	return (resource_errs_answer(ctx->req, errs, "The course"));
}

/* The course as it would be is checked whole; a smaller max_capacity
 * must still hold every live schedule of the course. */
static int
courses_before_update(struct resource_ctx *ctx, json_t *body)
{
	json_t *row, *errs, *m;
	char	detail[160];
	int	rc;

	if ((row = json_deep_copy(ctx->old)) == NULL ||
	    json_object_update(row, body) != 0 ||
	    (errs = json_array()) == NULL) {
		json_decref(row);
		return (ERR_NOMEM);
	}
	training_course_check(row, errs);
	json_decref(row);
	if ((rc = resource_errs_answer(ctx->req, errs, "The course")) != OK)
		return (rc);
	if ((m = json_object_get(body, "max_capacity")) == NULL)
		return (OK);
	if ((rc = training_lock(ctx->tx, "course", ctx->id)) != OK)
		return (rc);
	rc = training_schedule_exists(ctx->tx,
	    "SELECT 1 FROM course_schedules WHERE course_id = ? AND "
	    "capacity > ? AND status IN " TRAINING_LIVE " LIMIT 1",
	    ctx->id, json_integer_value(m));
	if (rc != OK)
		return (rc == ERR_NOT_FOUND ? OK : rc);
	snprintf(detail, sizeof(detail),
	    "a live schedule of the course takes more than %lld learners",
	    (long long)json_integer_value(m));
	return (training_refuse(ctx->req, ERR_CONFLICT,
	    "SCHEDULE_CAPACITY_EXCEEDED", "max_capacity", "below_schedule",
	    detail));
}
