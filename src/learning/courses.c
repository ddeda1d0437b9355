/*
 * Courses and course sessions, as the caller may see them (the rule is in
 * learning_int.h): read-only resources, listed in id order and read by id
 * or by story uuid; a course is answered with the sessions the caller may
 * see in it. They are written only by the CMS webhook (storyblok.c).
 *
 * Callers with courses:read:all (admins) see every row; everyone else
 * sees what the rule lets them (scope_where of every scope below all).
 * Course sessions go by the courses permissions.
 */
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/util.h"
#include "learning/learning_int.h"
#include "module.h"
#include "resource/resource.h"

/* A course seen by the caller (one ?: the caller). */
/* clang-format off */
#define COURSE_SEEN							\
	"status = 'published' AND " LEARNING_PARTNERS_OK("course_partners",	\
	"course_id", "courses.id", "?")
/* clang-format on */

/* A session seen by the caller, in a course seen (two ?: the caller). */
/* clang-format off */
#define SESSION_SEEN							\
	"status = 'published' AND EXISTS (SELECT 1 FROM courses c WHERE "	\
	"c.id = course_sessions.course_id AND c.status = 'published' AND "	\
	LEARNING_PARTNERS_OK("course_partners", "course_id", "c.id", "?")	\
	") AND " LEARNING_PARTNERS_OK("course_session_partners",		\
	"session_id", "course_sessions.id", "?")
/* clang-format on */

static int course_sessions_add(struct resource_ctx *, json_t *);

static const char *const kinds[] = { "self_guided", "in_person", NULL };
static const char *const statuses[] = { "published", "unpublished", "deleted",
	NULL };

static const struct field course_fields[] = {
	{ "kind", FIELD_ENUM, FIELD_READONLY | FIELD_FILTER, 0, 0, kinds, NULL,
	    NULL, 0, "self_guided or in_person" },
	{ "storyblok_id", FIELD_INT, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, 0, "the CMS story's id" },
	{ "storyblok_uuid", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, 0,
	    "the CMS story's uuid: GET /v1/courses/{id} takes it too" },
	{ "name", FIELD_TEXT, FIELD_READONLY, 0, LEARNING_NAME_MAX, NULL, NULL,
	    NULL, 0, NULL },
	{ "slug", FIELD_TEXT, FIELD_READONLY, 0, LEARNING_NAME_MAX, NULL, NULL,
	    NULL, 0, "the story's full_slug" },
	{ "status", FIELD_ENUM, FIELD_READONLY | FIELD_FILTER, 0, 0, statuses,
	    NULL, NULL, 0, "published, unpublished or deleted" },
	{ "description", FIELD_TEXT, FIELD_READONLY | FIELD_NULLABLE, 0,
	    LEARNING_TEXT_MAX, NULL, NULL, NULL, 0, NULL },
	{ "live", FIELD_BOOL, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    "a live course (the CMS story's content.live; a course stored "
	    "before the upgrade that brought it counts as live until the CMS "
	    "publishes it again): a public user (no active access of an "
	    "active partner, no partner admin) who starts it has 1-1 chat "
	    "while it is published, live and included for them" },
	{ "themes", FIELD_TEXT_LIST, FIELD_READONLY, 0, LEARNING_LIST_MAX, NULL,
	    NULL, NULL, 0, NULL },
	{ "included_for_partners", FIELD_TEXT_LIST, FIELD_READONLY, 0,
	    LEARNING_LIST_MAX, NULL, NULL, NULL, 0,
	    "partner names as the CMS gives them; \"Public\": everyone" },
	{ "created_at", FIELD_TIME, FIELD_READONLY | FIELD_SORT, 0, 0, NULL,
	    NULL, NULL, 0, NULL },
	{ "updated_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
};

const struct resource courses_resource = {
	.name = "courses",
	.path = "/v1/courses",
	.table = "courses",
	.fields = course_fields,
	.nfields = NELEM(course_fields),
	.scope_where = { [SCOPE_NONE] = COURSE_SEEN,
	    [SCOPE_OWN] = COURSE_SEEN,
	    [SCOPE_RELATED] = COURSE_SEEN },
	.flags = RESOURCE_ID_PAGED,
	.alt_id = "storyblok_uuid",
	.actions = (1 << ACTION_LIST) | (1 << ACTION_READ),
	.doc = "Something to learn (seed: Course), from the CMS. Everyone "
	       "sees the published courses included for them (no partner "
	       "listed, \"Public\", or a partner of which they hold an active "
	       "access); admins every course. One course answers with the "
	       "sessions the caller may see in it. A live course gives the "
	       "public users who start it 1-1 chat when it is included for "
	       "them.",
	.after_read = course_sessions_add,
	.answered = "{\"sessions\":{\"type\":\"array\",\"description\":"
		    "\"GET /v1/courses/{id} only: the course's sessions the "
		    "caller sees\",\"items\":{\"$ref\":\"#/components/"
		    "schemas/course_sessions\"}}}",
	.example =
	    "{\"id\":\"01939d6e-2b4f-7c1a-8e3d-5f6a7b8c9d0e\","
	    "\"kind\":\"self_guided\",\"storyblok_id\":410382921,"
	    "\"storyblok_uuid\":\"8f2c1d7e-4a5b-4c3d-9e8f-1a2b3c4d5e6f\","
	    "\"name\":\"Understanding stress\","
	    "\"slug\":\"courses/understanding-stress\","
	    "\"status\":\"published\",\"description\":\"Six short "
	    "sessions on what stress does and what helps.\","
	    "\"live\":true,\"themes\":[\"stress\",\"sleep\"],"
	    "\"included_for_partners\":[\"Public\"],"
	    "\"created_at\":\"2026-01-12T09:30:00Z\","
	    "\"updated_at\":\"2026-02-03T16:05:12Z\"}",
};

static const struct field session_fields[] = {
	{ "storyblok_id", FIELD_INT, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    "the CMS story's id" },
	{ "storyblok_uuid", FIELD_UUID, FIELD_READONLY, 0, 0, NULL, NULL, NULL,
	    0,
	    "the CMS story's uuid: GET /v1/course-sessions/{id} takes it "
	    "too" },
	{ "course_id", FIELD_UUID, FIELD_READONLY | FIELD_FILTER, 0, 0, NULL,
	    NULL, "courses", 0, "the course" },
	{ "name", FIELD_TEXT, FIELD_READONLY, 0, LEARNING_NAME_MAX, NULL, NULL,
	    NULL, 0, NULL },
	{ "slug", FIELD_TEXT, FIELD_READONLY, 0, LEARNING_NAME_MAX, NULL, NULL,
	    NULL, 0, "the story's full_slug" },
	{ "status", FIELD_ENUM, FIELD_READONLY | FIELD_FILTER, 0, 0, statuses,
	    NULL, NULL, 0, "published, unpublished or deleted" },
	{ "included_for_partners", FIELD_TEXT_LIST, FIELD_READONLY, 0,
	    LEARNING_LIST_MAX, NULL, NULL, NULL, 0,
	    "partner names as the CMS gives them; \"Public\": everyone" },
	{ "created_at", FIELD_TIME, FIELD_READONLY | FIELD_SORT, 0, 0, NULL,
	    NULL, NULL, 0, NULL },
	{ "updated_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
};

const struct resource course_sessions_resource = {
	.name = "course_sessions",
	.path = "/v1/course-sessions",
	.table = "course_sessions",
	.fields = session_fields,
	.nfields = NELEM(session_fields),
	.scope_where = { [SCOPE_NONE] = SESSION_SEEN,
	    [SCOPE_OWN] = SESSION_SEEN,
	    [SCOPE_RELATED] = SESSION_SEEN },
	.flags = RESOURCE_ID_PAGED,
	.alt_id = "storyblok_uuid",
	.permission = "courses",
	.actions = (1 << ACTION_LIST) | (1 << ACTION_READ),
	.doc = "One lesson of a self-guided course (seed: Bloom Session), "
	       "from the CMS. Seen when it and its course are published and "
	       "both are included for the caller; admins see every session. "
	       "Started, completed or marked incomplete by its actions.",
};

/* GET /v1/courses/{id}: the course with the sessions the caller sees. */
static int
course_sessions_add(struct resource_ctx *ctx, json_t *row)
{
	json_t *sessions;

	if ((sessions = json_array()) == NULL ||
	    json_object_set_new(row, "sessions", sessions) != 0)
		return (ERR_NOMEM);
	/* A course's sessions are a few dozen: never near the cap. */
	return (resource_rows(ctx->tx, &course_sessions_resource, ctx->who,
	    ctx->scope, "course_id", ctx->id, sessions, NULL));
}
