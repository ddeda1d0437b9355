/*
 * The therapy module: its routes and resources, and the helpers its
 * files share. Tables and the PHQ-9 and GAD-7 forms come from migration
 * 0003; the built-in roles' permissions too.
 */
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "people/people.h"
#include "resource/resource.h"
#include "store/store.h"
#include "therapy/therapy.h"
#include "therapy/therapy_int.h"

/* What the OpenAPI document says of the session actions (struct route's
 * api; checked at start-up). */
/* clang-format off */
#define API_SESSION_ACTION(what, problems)				\
	"{\"answers\":{\"200\":{\"description\":\"" what "\",\"schema\":"	\
	"{\"$ref\":\"#/components/schemas/therapy_sessions\"}}},"		\
	"\"problems\":{\"403\":\"the client may only cancel\",\"404\":"	\
	"\"no such session (or not one you may see)\"," problems "}}"
#define API_CANCEL							\
	"{\"body\":{\"type\":\"object\",\"additionalProperties\":false,"	\
	"\"properties\":{\"reason\":{\"type\":\"string\",\"minLength\":1,"	\
	"\"maxLength\":500,\"description\":\"why; required of staff once "	\
	"the session has started\"}}},"					\
	"\"answers\":{\"200\":{\"description\":\"the session, cancelled\","	\
	"\"schema\":{\"$ref\":\"#/components/schemas/therapy_sessions\"}}},"\
	"\"problems\":{\"403\":\"not yours to cancel\",\"404\":\"no such "	\
	"session (or not one you may see)\",\"409\":\"INVALID_TRANSITION: "	\
	"not scheduled; SESSION_STARTED: a client cancels only before the "	\
	"start\",\"422\":\"a bad body, or no reason from staff after the "	\
	"start\"}}"
/* clang-format on */

static const struct route therapy_routes[] = {
	{ HTTP_GET, "/v1/therapist-directory", therapy_directory_list, 0,
	    "active therapists' public profiles" },
	{ HTTP_GET, "/v1/therapist-directory/{id}", therapy_directory_get, 0,
	    "one active therapist's public profile" },
	{ HTTP_POST, "/v1/therapy-sessions/{id}/complete",
	    therapy_session_complete, 0,
	    "scheduled -> completed, once the session has started", NULL,
	    API_SESSION_ACTION("the session, completed",
		"\"409\":\"INVALID_TRANSITION: not scheduled; "
		"SESSION_NOT_STARTED: before its start\"") },
	{ HTTP_POST, "/v1/therapy-sessions/{id}/cancel", therapy_session_cancel,
	    ROUTE_JSON_BODY | ROUTE_JSON_OPTIONAL | ROUTE_SMALL_BODY,
	    "scheduled -> cancelled: the client before the start; its "
	    "therapist or an admin also after it, with a reason",
	    NULL, API_CANCEL },
	{ HTTP_POST, "/v1/therapy-sessions/{id}/no-show",
	    therapy_session_no_show, 0,
	    "scheduled -> no_show, once the session has started", NULL,
	    API_SESSION_ACTION("the session, a no-show",
		"\"409\":\"INVALID_TRANSITION: not scheduled; "
		"SESSION_NOT_STARTED: before its start\"") },
	{ HTTP_POST, "/v1/therapy-sessions/{id}/reschedule",
	    therapy_session_reschedule, ROUTE_JSON_BODY,
	    "scheduled -> rescheduled, before the start, booking a new "
	    "session at the new times" },
	{ HTTP_GET, "/v1/therapy-sessions/{id}/private-notes",
	    therapy_session_notes_get, 0,
	    "the session's private notes: its therapist and admins only" },
	{ HTTP_PUT, "/v1/therapy-sessions/{id}/private-notes",
	    therapy_session_notes_put, ROUTE_JSON_BODY,
	    "write the session's private notes: its therapist and admins "
	    "only" },
	{ HTTP_GET, "/v1/resource-library", therapy_library_list, 0,
	    "public resources and those assigned to the caller" },
	{ HTTP_POST, "/v1/resource-assignments/{id}/open",
	    therapy_assignment_open, 0,
	    "the assigned resource; the client opening it marks it viewed" },
	{ HTTP_POST, "/v1/resource-assignments/{id}/complete",
	    therapy_assignment_complete, 0, "assigned|viewed -> completed" },
};

static const struct resource *const therapy_resources[] = {
	&therapists_resource,
	&therapy_sessions_resource,
	&forms_resource,
	&form_responses_resource,
	&resources_resource,
	&resource_assignments_resource,
};

const struct module therapy_module = {
	"therapy",
	therapy_routes,
	NELEM(therapy_routes),
	NULL,
	0,
	NULL,
	0,
	therapy_resources,
	NELEM(therapy_resources),
	NULL,
	therapy_seed,
};

int
therapy_therapist_of(struct tx *tx, const char *user_id, char *out)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx, "SELECT id FROM therapists WHERE user_id = ?");
	store_bind_text(st, 1, user_id);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		strlcpy_cb(out, store_col_text(st, 0), UUID_STR_LEN);
		rc = OK;
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	}
	store_finalize(st);
	return (rc);
}

int
therapy_therapist_user(
    struct tx *tx, const char *therapist_id, char *user_out, int *active)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx,
	    "SELECT user_id, is_active FROM therapists "
	    "WHERE id = ?");
	store_bind_text(st, 1, therapist_id);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		strlcpy_cb(user_out, store_col_text(st, 0), UUID_STR_LEN);
		if (active != NULL)
			*active = store_col_int64(st, 1) != 0;
		rc = OK;
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	}
	store_finalize(st);
	return (rc);
}

int
therapy_related(
    struct tx *tx, const char *lead, const char *follower, const char *kind)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx,
	    "SELECT 1 FROM relationships WHERE lead_id = ? "
	    "AND follower_id = ? AND kind = ? AND status = 'active'");
	store_bind_text(st, 1, lead);
	store_bind_text(st, 2, follower);
	store_bind_text(st, 3, kind);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_ROW ? OK : rc == STORE_DONE ? ERR_NOT_FOUND : rc);
}

int
therapy_consent(struct request *req, struct tx *tx, const char *user_id)
{
	return (people_health_consent_answer(req, tx, user_id));
}

size_t
therapy_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return (n);
}

int
therapy_lock(struct tx *tx, const char *key)
{
	return (store_xact_lock(tx, key));
}
