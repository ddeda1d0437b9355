/*
 * Venues (seed 004): where courses are taught, with how many learners a
 * room holds. Admins write them; anyone, without a token too, reads the
 * active ones. A venue's capacity never falls below the capacity of one
 * of its live schedules (409 SCHEDULE_CAPACITY_EXCEEDED): the check holds
 * the venue's lock, which scheduling takes too.
 */
#include <stdio.h>

#include <jansson.h>

#include "core/err.h"
#include "module.h"
#include "resource/resource.h"
#include "training/training_int.h"

static int venues_before_update(struct resource_ctx *, json_t *);

static const struct field venue_fields[] = {
	{ "name", FIELD_TEXT, FIELD_REQUIRED | FIELD_SORT, 1, TRAINING_NAME_MAX,
	    NULL, NULL, NULL, 0, "e.g. Leeds City Centre Training Venue" },
	{ "address_line1", FIELD_TEXT, FIELD_REQUIRED, 1, TRAINING_NAME_MAX,
	    NULL, NULL, NULL, 0, NULL },
	{ "address_line2", FIELD_TEXT, FIELD_NULLABLE, 0, TRAINING_NAME_MAX,
	    NULL, NULL, NULL, 0, NULL },
	{ "city", FIELD_TEXT, FIELD_REQUIRED | FIELD_FILTER | FIELD_SORT, 1,
	    TRAINING_NAME_MAX, NULL, NULL, NULL, 0, NULL },
	{ "postcode", FIELD_TEXT, FIELD_REQUIRED, 1, 16, NULL, NULL, NULL, 0,
	    NULL },
	{ "capacity", FIELD_INT, FIELD_REQUIRED, 1, 1000, NULL, NULL, NULL, 0,
	    "most learners the venue holds; caps its schedules" },
	{ "facilities", FIELD_TEXT_LIST, 0, 0, 50, NULL, "[]", NULL, 0,
	    "e.g. [\"projector\", \"step-free access\"]" },
	{ "parking_info", FIELD_TEXT, FIELD_NULLABLE, 0, TRAINING_TEXT_MAX,
	    NULL, NULL, NULL, 0, NULL },
	{ "is_active", FIELD_BOOL, FIELD_FILTER, 0, 0, NULL, "true", NULL, 0,
	    "in use: listed to the public and may be scheduled" },
	{ "created_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
	{ "updated_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
};

const struct resource venues_resource = {
	.name = "venues",
	.path = "/v1/venues",
	.table = "venues",
	.fields = venue_fields,
	.nfields = NELEM(venue_fields),
	.scope_where = { [SCOPE_NONE] = "is_active = 1" },
	.flags = RESOURCE_PUBLIC_READ,
	.doc = "Training venues (seed 004): address, capacity, facilities, "
	       "parking. Anyone reads the active ones without a token; admins "
	       "write them, and a venue's capacity never falls below a live "
	       "schedule's there (409 SCHEDULE_CAPACITY_EXCEEDED).",
	.before_update = venues_before_update,
	.codes = "{\"409\":[\"SCHEDULE_CAPACITY_EXCEEDED\"]}",
};

static int
venues_before_update(struct resource_ctx *ctx, json_t *body)
{
	json_t *c;
	char	detail[160];
	int	rc;

	if ((c = json_object_get(body, "capacity")) == NULL)
		return (OK);
	if ((rc = training_lock(ctx->tx, "venue", ctx->id)) != OK)
		return (rc);
	rc = training_schedule_exists(ctx->tx,
	    "SELECT 1 FROM course_schedules WHERE venue_id = ? AND "
	    "capacity > ? AND status IN " TRAINING_LIVE " LIMIT 1",
	    ctx->id, json_integer_value(c));
	if (rc != OK)
		return (rc == ERR_NOT_FOUND ? OK : rc);
	snprintf(detail, sizeof(detail),
	    "a live schedule at the venue takes more than %lld learners",
	    (long long)json_integer_value(c));
	return (training_refuse(ctx->req, ERR_CONFLICT,
	    "SCHEDULE_CAPACITY_EXCEEDED", "capacity", "below_schedule",
	    detail));
}
