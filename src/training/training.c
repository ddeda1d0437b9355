/*
 * The training module: its routes and resources, and the helpers its
 * files share. Tables and the built-in roles' permissions come from
 * migration 0017.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "resource/resource.h"
#include "store/store.h"
#include "training/training.h"
#include "training/training_int.h"

/* clang-format off */
#define API_ACTION(what)						\
	"{\"answers\":{\"200\":{\"description\":\"" what "\",\"schema\":"	\
	"{\"$ref\":\"#/components/schemas/course_schedules\"}}},"		\
	"\"problems\":{\"403\":\"only staff move a schedule's status\","	\
	"\"404\":\"no such schedule\",\"409\":\"INVALID_TRANSITION: the "	\
	"schedule's status does not allow it\"}}"
/* clang-format on */

static const struct route training_routes[] = {
	{ HTTP_POST, "/v1/course-schedules/{id}/confirm",
	    training_schedule_action, 0, "scheduled -> confirmed",
	    &training_transitions[0], API_ACTION("the schedule, confirmed") },
	{ HTTP_POST, "/v1/course-schedules/{id}/start",
	    training_schedule_action, 0, "scheduled|confirmed -> in_progress",
	    &training_transitions[1], API_ACTION("the schedule, in progress") },
	{ HTTP_POST, "/v1/course-schedules/{id}/complete",
	    training_schedule_action, 0, "in_progress -> completed",
	    &training_transitions[2], API_ACTION("the schedule, completed") },
	{ HTTP_POST, "/v1/course-schedules/{id}/cancel",
	    training_schedule_action, 0,
	    "scheduled|confirmed -> cancelled (frees the trainer's time)",
	    &training_transitions[3], API_ACTION("the schedule, cancelled") },
};

static const struct resource *const training_resources[] = {
	&training_courses_resource,
	&venues_resource,
	&trainers_resource,
	&course_materials_resource,
	&course_schedules_resource,
};

const struct module training_module = {
	"training",
	training_routes,
	NELEM(training_routes),
	NULL,
	0,
	NULL,
	0,
	training_resources,
	NELEM(training_resources),
	NULL,
	NULL,
};

int
training_currency_ok(const char *s)
{
	int i;

	if (s == NULL)
		return (0);
	for (i = 0; i < 3; i++)
		if (s[i] < 'A' || s[i] > 'Z')
			return (0);
	return (s[3] == '\0');
}

int
training_lock(struct tx *tx, const char *kind, const char *id)
{
	char key[96];

	snprintf(key, sizeof(key), "training.%s:%s", kind, id);
	return (store_xact_lock(tx, key));
}

int
training_refuse(struct request *req, int rc, const char *code,
    const char *field, const char *fcode, const char *detail)
{
	http_problem_ext(req, rc, code,
	    json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "field", field, "code",
		fcode, "detail", detail),
	    "%s", detail);
	return (rc);
}

json_t *
training_pick(json_t *body, json_t *old, const char *name)
{
	json_t *v;

	if ((v = json_object_get(body, name)) != NULL)
		return (v);
	return (json_object_get(old, name));
}

int
training_schedule_exists(
    struct tx *tx, const char *sql, const char *id, int64_t v)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx, sql);
	store_bind_text(st, 1, id);
	store_bind_int64(st, 2, v);
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_ROW)
		return (OK);
	return (rc == STORE_DONE ? ERR_NOT_FOUND : rc);
}

int
training_free_seats(struct tx *tx, const char *schedule_id, int64_t *out)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx,
	    "SELECT " TRAINING_FREE_SEATS_SQL " FROM course_schedules "
	    "WHERE id = ?");
	store_bind_text(st, 1, schedule_id);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		*out = store_col_int64(st, 0);
		rc = OK;
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	}
	store_finalize(st);
	return (rc);
}
