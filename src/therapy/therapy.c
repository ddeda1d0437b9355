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
	"{\"codes\":{\"409\":[\"INVALID_TRANSITION\",\"SESSION_NOT_STARTED\"]},\"answers\":{\"200\":{\"description\":\"" what "\",\"schema\":"	\
	"{\"$ref\":\"#/components/schemas/therapy_sessions\"}}},"		\
	"\"problems\":{\"403\":\"the client may only cancel\",\"404\":"	\
	"\"no such session (or not one you may see)\"," problems "}}"
#define API_CANCEL							\
	"{\"codes\":{\"409\":[\"INVALID_TRANSITION\",\"SESSION_STARTED\"]},\"body\":{\"type\":\"object\",\"additionalProperties\":false,"	\
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
/* A member as the resource declares it. */
#define API_PROP(res, n)	"\"" n "\":{\"$ref\":\"#/components/schemas/" \
				res "/properties/" n "\"}"
#define API_PAGED(name, what)						\
	"{\"codes\":{" RESOURCE_API_PAGE_CODES "},\"parameters\":["	\
	RESOURCE_API_PAGE_PARAMS "],"					\
	"\"answers\":{\"200\":{\"description\":\"" what "\",\"schema\":{"	\
	"\"type\":\"object\",\"required\":[\"data\",\"next_cursor\"],"		\
	"\"properties\":{\"data\":{\"type\":\"array\",\"items\":{\"$ref\":"	\
	"\"#/components/schemas/" name "\"}},\"next_cursor\":{\"type\":["	\
	"\"string\",\"null\"]}}}}},\"problems\":{\"400\":\"INVALID_PARAMETER "	\
	"(limit) or INVALID_CURSOR\"}}"
#define API_PROFILE							\
	"{\"type\":\"object\",\"required\":[\"id\",\"bio\",\"specialties\","	\
	"\"credentials\"],\"additionalProperties\":false,\"properties\":{"	\
	API_PROP("therapists", "id") "," API_PROP("therapists", "bio") ","	\
	API_PROP("therapists", "specialties") ","			\
	API_PROP("therapists", "credentials") "}}"
#define API_LIBRARY_ROW							\
	"{\"type\":\"object\",\"required\":[\"id\",\"therapist_id\",\"title\","	\
	"\"type\",\"is_public\",\"tags\"],\"additionalProperties\":false,"	\
	"\"properties\":{" API_PROP("resources", "id") ","			\
	API_PROP("resources", "therapist_id") ","				\
	API_PROP("resources", "title") ","					\
	API_PROP("resources", "description") ","				\
	API_PROP("resources", "type") "," API_PROP("resources", "url") ","	\
	API_PROP("resources", "is_public") ","				\
	API_PROP("resources", "tags") "}}"
#define API_ASSIGNMENT(what, problems)					\
	"{\"codes\":{\"409\":[\"INVALID_TRANSITION\"]},\"answers\":{\"200\":{\"description\":\"" what "\",\"schema\":{"	\
	"\"$ref\":\"#/components/schemas/resource_assignments\"}}},"		\
	"\"problems\":{\"403\":\"not yours to change\",\"404\":\"no such "	\
	"assignment (or not one you may see)\"" problems "}}"
#define API_NOTES							\
	"{\"type\":\"object\",\"required\":[\"id\",\"private_notes\"],"		\
	"\"additionalProperties\":false,\"properties\":{\"id\":{\"type\":"	\
	"\"string\",\"format\":\"uuid\"},\"private_notes\":{\"type\":["	\
	"\"string\",\"null\"],\"maxLength\":20000}}}"
/* clang-format on */

static const char api_directory_get[] =
    "{\"schemas\":{\"therapist_profile\":" API_PROFILE "},"
    "\"answers\":{\"200\":{\"description\":\"the profile\",\"schema\":{"
    "\"$ref\":\"#/components/schemas/therapist_profile\"}}},"
    "\"problems\":{\"404\":\"no such active therapist\"}}";
static const char api_library[] =
    "{\"codes\":{" RESOURCE_API_PAGE_CODES
    "},\"schemas\":{\"library_resource\":" API_LIBRARY_ROW
    "},\"parameters\":[" RESOURCE_API_PAGE_PARAMS "],"
    "\"answers\":{\"200\":{\"description\":\"public resources and those "
    "assigned to the caller\",\"schema\":{\"type\":\"object\","
    "\"required\":[\"data\",\"next_cursor\"],\"properties\":{\"data\":{"
    "\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/"
    "library_resource\"}},\"next_cursor\":{\"type\":[\"string\","
    "\"null\"]}}}}},\"problems\":{\"400\":\"INVALID_PARAMETER (limit) or "
    "INVALID_CURSOR\"}}";
static const char api_reschedule[] =
    "{\"codes\":{\"409\":[\"INVALID_TRANSITION\",\"SESSION_STARTED\",\"SESSION_OVERLAP\"]},\"body\":{\"type\":\"object\",\"required\":[\"start_time\","
    "\"end_time\"],\"additionalProperties\":false,\"properties\":{"
    "\"start_time\":{\"type\":\"string\",\"format\":\"date-time\"},"
    "\"end_time\":{\"type\":\"string\",\"format\":\"date-time\"}}},"
    "\"answers\":{\"201\":{\"description\":\"the new session at the new "
    "times (rescheduled_from_id names the old one)\",\"schema\":{\"$ref\":"
    "\"#/components/schemas/therapy_sessions\"}}},\"problems\":{\"403\":"
    "\"not yours to reschedule\",\"404\":\"no such session (or not one you "
    "may see)\",\"409\":\"INVALID_TRANSITION, SESSION_STARTED or a "
    "conflict with another session\",\"422\":\"bad times\"}}";
static const char api_notes_get[] =
    "{\"codes\":{\"403\":[\"FORBIDDEN\"]},\"schemas\":{\"private_notes\":" API_NOTES
    "},\"answers\":{\"200\":{"
    "\"description\":\"the notes (Cache-Control: no-store)\",\"schema\":{"
    "\"$ref\":\"#/components/schemas/private_notes\"}}},\"problems\":{"
    "\"404\":\"no such session, or not its therapist or an admin\"}}";
static const char api_notes_put[] =
    "{\"codes\":{\"403\":[\"FORBIDDEN\"]},\"body\":{\"type\":\"object\",\"required\":[\"private_notes\"],"
    "\"additionalProperties\":false,\"properties\":{\"private_notes\":{"
    "\"type\":[\"string\",\"null\"],\"maxLength\":20000}}},\"answers\":{"
    "\"200\":{\"description\":\"the notes as stored\",\"schema\":{\"$ref\":"
    "\"#/components/schemas/private_notes\"}}},\"problems\":{\"404\":\"no "
    "such session, or not its therapist or an admin\",\"422\":\"not "
    "{private_notes: text or null}, or too long\"}}";

static const char api_open[] =
    "{\"answers\":{\"200\":{\"description\":\"the assignment (viewed "
    "when its client opened it) and the resource\",\"schema\":{\"type\":"
    "\"object\",\"required\":[\"assignment\",\"resource\"],"
    "\"properties\":{\"assignment\":{\"$ref\":\"#/components/schemas/"
    "resource_assignments\"},\"resource\":{\"$ref\":\"#/components/"
    "schemas/library_resource\"}}}}},\"problems\":{\"404\":\"no such "
    "assignment (or not one you may see)\"}}";

static const struct route therapy_routes[] = {
	{ HTTP_GET, "/v1/therapist-directory", therapy_directory_list, 0,
	    "active therapists' public profiles", NULL,
	    API_PAGED("therapist_profile", "one page of profiles") },
	{ HTTP_GET, "/v1/therapist-directory/{id}", therapy_directory_get, 0,
	    "one active therapist's public profile", NULL, api_directory_get },
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
	    "session at the new times",
	    NULL, api_reschedule },
	{ HTTP_GET, "/v1/therapy-sessions/{id}/private-notes",
	    therapy_session_notes_get, 0,
	    "the session's private notes: its therapist and admins only", NULL,
	    api_notes_get },
	{ HTTP_PUT, "/v1/therapy-sessions/{id}/private-notes",
	    therapy_session_notes_put, ROUTE_JSON_BODY,
	    "write the session's private notes: its therapist and admins "
	    "only",
	    NULL, api_notes_put },
	{ HTTP_GET, "/v1/resource-library", therapy_library_list, 0,
	    "public resources and those assigned to the caller", NULL,
	    api_library },
	{ HTTP_POST, "/v1/resource-assignments/{id}/open",
	    therapy_assignment_open, 0,
	    "the assigned resource; the client opening it marks it viewed",
	    NULL, api_open },
	{ HTTP_POST, "/v1/resource-assignments/{id}/complete",
	    therapy_assignment_complete, 0, "assigned|viewed -> completed",
	    NULL,
	    API_ASSIGNMENT("the assignment, completed",
		",\"409\":\"INVALID_TRANSITION: not opened yet, or completed\"") },
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
