/*
 * The learning module: its routes and resources, and the helpers its
 * files share. Tables and the built-in roles' permissions come from
 * migration 0007.
 *
 * Enrolments and progress are also read-only resources
 * (/v1/course-enrolments, /v1/course-session-progress) owned by their
 * user: a member sees their own and their children's (guardian_of), an
 * admin everyone's, and the GDPR export carries them. They change only
 * through the progress actions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/fold.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "learning/learning.h"
#include "learning/learning_int.h"
#include "module.h"
#include "ops/inbox.h"
#include "resource/hooks.h"
#include "resource/resource.h"
#include "store/jobs.h"
#include "store/migrate.h"
#include "store/store.h"

enum who {
	WHO_ALL,    /* every enrolment of the course; chat touched here */
	WHO_USER,   /* one user's */
	WHO_PARTNER /* the holders of one partner's accesses */
};

/* Start-up folding of partner names stored before migration 0014. */
struct refold {
	int    dry;   /* only count */
	size_t found; /* names not folded */
};

static int learning_init(struct store *);
static int user_cmp(const void *, const void *);
static int recompute(struct tx *, const char *, enum who, const char *);
static int recompute_for(struct tx *, enum who, const char *);
static int learning_changed(struct tx *, enum change, const char *);
static int refold_tx(struct tx *, void *);
static int refold_table(struct tx *, struct refold *, const char *,
    const char *, const char *, json_t *);

/* What the OpenAPI document says of the CMS webhook (struct route's api):
 * the members of its answer, beside inbox_id and outcome. */
/* clang-format off */
/*
 * The CMS's notification as storyblok_check.c's payload_check takes it:
 * the story itself is then read from the CMS, never from the body;
 * members it does not know are ignored.
 */
#define API_STORYBLOK_BODY						\
	"{\"type\":\"object\",\"description\":\"the CMS's notification, "	\
	"signed\",\"required\":[\"action\",\"story_id\"],\"properties\":{"	\
	"\"action\":{\"enum\":[\"published\",\"unpublished\","		\
	"\"deleted\",\"moved\"]},\"story_id\":{\"type\":\"integer\","	\
	"\"minimum\":1,\"maximum\":9007199254740991},\"space_id\":{"	\
	"\"type\":[\"integer\",\"null\"],\"minimum\":0,\"maximum\":"	\
	"9007199254740991},\"text\":{\"type\":[\"string\",\"null\"],"	\
	"\"maxLength\":10000},\"full_slug\":{\"type\":[\"string\","	\
	"\"null\"],\"pattern\":\"^[A-Za-z0-9/_-]{1,500}$\"}}}"
/* What a course or course session made or changed answers (storyblok.c's
 * course_upsert, session_upsert): changed names the fields changed. */
#define API_STORY_MADE							\
	"\"id\":{\"type\":\"string\",\"format\":\"uuid\"},"		\
	"\"storyblok_uuid\":{\"type\":[\"string\",\"null\"]},"		\
	"\"status\":{\"type\":\"string\"},\"created\":{\"type\":"	\
	"\"boolean\"},\"changed\":{\"type\":\"array\",\"items\":{"	\
	"\"type\":\"string\"}}"
#define API_STORYBLOK							\
	"{\"body_required\":true,\"content\":{\"application/json\":"	\
	API_STORYBLOK_BODY "},\"example\":{\"text\":\"The user "	\
	"Ana published the Story Understanding stress\",\"action\":"	\
	"\"published\",\"space_id\":100,\"story_id\":4242,"		\
	"\"full_slug\":\"courses/understanding-stress\"},"		\
	"\"codes\":{\"503\":[\"WEBHOOK_NOT_CONFIGURED\",\"CMS_NOT_CONFIGURED\",\"CMS_UNAVAILABLE\",\"CMS_BAD_RESPONSE\",\"CMS_STORY_NOT_FOUND\"],\"409\":[\"COURSE_NOT_KNOWN\"],\"401\":[\"SIGNATURE_MISSING\",\"SIGNATURE_INVALID\"],\"422\":[\"STORY_INVALID\"]},\"security\":{\"storyblokSignature\":{\"type\":\"apiKey\","	\
	"\"in\":\"header\",\"name\":\"webhook-signature\","		\
	"\"description\":\"the hex HMAC-SHA1 of the body under "		\
	"storyblok_webhook_secret\"}},\"answers\":{" INBOX_API_ANSWER("applied: the course or course "	\
	"session made or changed (created, changed: its fields), the "	\
	"stories a status change touched, or a component ignored",	\
	",\"course\":{\"type\":\"object\",\"required\":[\"id\","	\
	"\"storyblok_uuid\",\"status\",\"created\",\"changed\"],"	\
	"\"properties\":{" API_STORY_MADE "}},\"course_session\":{"	\
	"\"type\":\"object\",\"required\":[\"id\",\"storyblok_uuid\","	\
	"\"course_id\",\"status\",\"created\",\"changed\"],"	\
	"\"properties\":{\"course_id\":{\"type\":\"string\","	\
	"\"format\":\"uuid\"}," API_STORY_MADE "}},\"action\":{"	\
	"\"type\":\"string\"},\"status\":{\"type\":\"string\"},"	\
	"\"courses\":{\"type\":\"array\",\"description\":\"the "	\
	"courses the status change touched\",\"items\":{\"type\":"	\
	"\"string\",\"format\":\"uuid\"}},\"course_sessions\":{"	\
	"\"type\":\"array\",\"description\":\"the course sessions "	\
	"it touched\",\"items\":{\"type\":\"string\",\"format\":"	\
	"\"uuid\"}},\"ignored\":{\"type\":"				\
	"\"boolean\"},\"component\":{\"type\":\"string\","		\
	"\"description\":\"an ignored story's content type (its "	\
	"content.component), neither a course nor a session\"}") "},"	\
	"\"problems\":{\"400\":"						\
	"\"the body is not JSON\",\"401\":\"SIGNATURE_MISSING, "		\
	"SIGNATURE_INVALID\",\"409\":\"COURSE_NOT_KNOWN\",\"413\":"	\
	"\"over webhook_body_limit\",\"422\":\"STORY_INVALID, "		\
	"VALIDATION_FAILED\",\"503\":\"WEBHOOK_NOT_CONFIGURED, "		\
	"CMS_NOT_CONFIGURED, CMS_UNAVAILABLE, CMS_BAD_RESPONSE, "	\
	"CMS_STORY_NOT_FOUND\"}}"
/* clang-format on */

/*
 * Progress, one shape in every answer that shows it (progress.c): the
 * declared rows of course_enrolments and course_session_progress, the
 * course session actions and /v1/me/courses. The first two are the
 * resources' own schemas; these are the others'.
 */
/* clang-format off */
#define API_PROGRESS_PROPS						\
	"\"completed\":{\"type\":\"boolean\"},\"started_at\":{\"type\":"	\
	"[\"string\",\"null\"],\"format\":\"date-time\",\"description\":"	\
	"\"null: not started\"},\"completed_at\":{\"type\":[\"string\","	\
	"\"null\"],\"format\":\"date-time\"}"
#define API_PROGRESS_REQUIRED						\
	"\"completed\",\"started_at\",\"completed_at\""
#define API_UUID "{\"type\":\"string\",\"format\":\"uuid\"}"
#define API_PROGRESS(what)						\
	"{\"answers\":{\"200\":{\"description\":\"" what ": the "		\
	"session's progress and the course's enrolment\",\"schema\":{"	\
	"\"type\":\"object\",\"required\":[\"session_id\",\"course_id\","	\
	API_PROGRESS_REQUIRED ",\"enrolment\"],\"properties\":{"		\
	"\"session_id\":" API_UUID ",\"course_id\":" API_UUID ","	\
	API_PROGRESS_PROPS ",\"enrolment\":{\"type\":\"object\","	\
	"\"required\":[\"id\",\"course_id\"," API_PROGRESS_REQUIRED "],"	\
	"\"properties\":{\"id\":" API_UUID ",\"course_id\":" API_UUID	\
	"," API_PROGRESS_PROPS "}}}}}},\"problems\":{\"404\":\"no such "	\
	"course session, or not one you may see\"}}"
#define API_MY_COURSES							\
	"{\"codes\":{" RESOURCE_API_PAGE_CODES "},\"parameters\":["	\
	RESOURCE_API_PAGE_PARAMS "],\"answers\":{\"200\":{\"description\":\"your enrolments, each "	\
	"with the course's sessions you may see or have progress in\","	\
	"\"schema\":{\"type\":\"object\",\"required\":[\"data\","	\
	"\"next_cursor\"],\"properties\":{\"next_cursor\":{\"type\":"	\
	"[\"string\",\"null\"]},\"data\":{\"type\":\"array\",\"items\":{"	\
	"\"type\":\"object\",\"required\":[\"id\",\"course\","		\
	API_PROGRESS_REQUIRED ",\"sessions\"],\"properties\":{\"id\":"	\
	API_UUID ",\"course\":{\"type\":\"object\",\"required\":[\"id\","	\
	"\"storyblok_uuid\",\"name\",\"slug\",\"status\",\"live\"],"	\
	"\"properties\":{\"id\":" API_UUID ",\"storyblok_uuid\":{"	\
	"\"type\":[\"string\",\"null\"]},\"name\":{\"type\":"		\
	"\"string\"},\"slug\":{\"type\":\"string\"},\"status\":{"	\
	"\"type\":\"string\",\"description\":\"the CMS's\"},\"live\":{"	\
	"\"type\":\"boolean\",\"description\":\"a live course (the "	\
	"CMS story's content.live)\"}}}," API_PROGRESS_PROPS		\
	",\"sessions\":{\"type\":\"array\","					\
	"\"items\":{\"type\":\"object\",\"required\":[\"id\","		\
	"\"name\",\"slug\",\"status\"," API_PROGRESS_REQUIRED "],"	\
	"\"properties\":{\"id\":" API_UUID ",\"storyblok_uuid\":{"	\
	"\"type\":\"string\"},\"name\":{\"type\":\"string\"},"		\
	"\"slug\":{\"type\":\"string\"},\"status\":{\"type\":"		\
	"\"string\",\"description\":\"the session's own status in the "	\
	"CMS (published...), not progress\"}," API_PROGRESS_PROPS	\
	"}}}}}}}}}}}"
/* clang-format on */

static const struct route learning_routes[] = {
	{ HTTP_POST, "/v1/webhooks/storyblok", learning_storyblok_webhook,
	    ROUTE_RAW_BODY | ROUTE_PUBLIC,
	    "CMS story published, unpublished, deleted or "
	    "moved: header webhook-signature is the hex HMAC-SHA1 of the "
	    "body",
	    NULL, API_STORYBLOK },
	{ HTTP_POST, "/v1/course-sessions/{id}/start", learning_session_start,
	    0, "start a course session (enrols you in its course)", NULL,
	    API_PROGRESS("started") },
	{ HTTP_POST, "/v1/course-sessions/{id}/complete",
	    learning_session_complete, 0, "mark a course session completed",
	    NULL, API_PROGRESS("completed") },
	{ HTTP_POST, "/v1/course-sessions/{id}/incomplete",
	    learning_session_incomplete, 0,
	    "mark a course session not completed", NULL,
	    API_PROGRESS("marked not completed") },
	{ HTTP_GET, "/v1/me/courses", learning_me_courses, 0,
	    "your courses, each with completed, started_at and completed_at, "
	    "and so each of its sessions (limit, cursor)",
	    NULL, API_MY_COURSES },
};

static const struct field enrolment_fields[] = {
	{ "user_id", FIELD_UUID, FIELD_READONLY | FIELD_FILTER, 0, 0, NULL,
	    NULL, "users", 0, "the learner; owns the row" },
	{ "course_id", FIELD_UUID, FIELD_READONLY | FIELD_FILTER, 0, 0, NULL,
	    NULL, "courses", 0, "the course" },
	{ "completed", FIELD_BOOL, FIELD_READONLY | FIELD_FILTER, 0, 0, NULL,
	    NULL, NULL, 0,
	    "every published session of the course included "
	    "for the user completed (at least one)" },
	{ "started_at", FIELD_TIME, FIELD_READONLY | FIELD_SORT, 0, 0, NULL,
	    NULL, NULL, 0, "first progress in the course" },
	{ "completed_at", FIELD_TIME,
	    FIELD_READONLY | FIELD_NULLABLE | FIELD_SORT, 0, 0, NULL, NULL,
	    NULL, 0, "when it became completed" },
	{ "created_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
	{ "updated_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
};

const struct resource course_enrolments_resource = {
	.name = "course_enrolments",
	.path = "/v1/course-enrolments",
	.table = "course_enrolments",
	.fields = enrolment_fields,
	.nfields = NELEM(enrolment_fields),
	.owner_column = "user_id",
	.related_kinds = "guardian_of",
	.actions = (1 << ACTION_LIST) | (1 << ACTION_READ),
	.doc =
	    "A user's enrolment in a course (seed: CourseUser), made when "
	    "they first start, complete or mark incomplete one of its "
	    "sessions; completed exactly when every published session of the "
	    "course included for the user (at least one) is completed, in a "
	    "course included for them. Changed by the course session actions "
	    "and recomputed when the CMS or the user's partner accesses "
	    "change what is included.",
};

static const struct field progress_fields[] = {
	{ "user_id", FIELD_UUID, FIELD_READONLY | FIELD_FILTER, 0, 0, NULL,
	    NULL, "users", 0, "the learner; owns the row" },
	{ "session_id", FIELD_UUID, FIELD_READONLY | FIELD_FILTER, 0, 0, NULL,
	    NULL, "course_sessions", 0, "the course session" },
	{ "completed", FIELD_BOOL, FIELD_READONLY | FIELD_FILTER, 0, 0, NULL,
	    NULL, NULL, 0, "marked completed" },
	{ "started_at", FIELD_TIME, FIELD_READONLY | FIELD_SORT, 0, 0, NULL,
	    NULL, NULL, 0, "first started" },
	{ "completed_at", FIELD_TIME,
	    FIELD_READONLY | FIELD_NULLABLE | FIELD_SORT, 0, 0, NULL, NULL,
	    NULL, 0, "when marked completed" },
	{ "created_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
	{ "updated_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
};

const struct resource course_session_progress_resource = {
	.name = "course_session_progress",
	.path = "/v1/course-session-progress",
	.table = "course_session_progress",
	.fields = progress_fields,
	.nfields = NELEM(progress_fields),
	.owner_column = "user_id",
	.related_kinds = "guardian_of",
	.actions = (1 << ACTION_LIST) | (1 << ACTION_READ),
	.doc = "A user's progress in one course session (seed: SessionUser). "
	       "Changed only by POST /v1/course-sessions/{id}/start, /complete "
	       "and /incomplete.",
};

static const struct resource *const learning_resources[] = {
	&courses_resource,
	&course_sessions_resource,
	&course_enrolments_resource,
	&course_session_progress_resource,
};

static const struct job_kind learning_jobs[] = {
	{ LEARNING_CHAT_KIND, learning_course_chat_run, 0 },
};

const struct module learning_module = {
	"learning",
	learning_routes,
	NELEM(learning_routes),
	learning_jobs,
	NELEM(learning_jobs),
	NULL,
	0,
	learning_resources,
	NELEM(learning_resources),
	learning_init,
	learning_seed,
};

/*
 * The CMS webhook's handler is known to `carebase webhooks replay`; the
 * course states are a part of the chat profile (chat_profile.c);
 * completions follow partner accesses (learning_changed); partner
 * names of course and session lists stored before they were kept folded
 * (migration 0014) are folded now.
 */
static int
learning_init(struct store *db)
{
	struct refold rf;
	int	      rc;

	if ((rc = inbox_register(&storyblok_source)) != OK ||
	    (rc = learning_profile_init()) != OK)
		return (rc);
	if ((rc = hooks_change_listen(learning_changed, CHANGE_DERIVE)) != OK &&
	    rc != ERR_CONFLICT)
		return (rc);
	/*
	 * Only once migrations 0007 (the lists) and 0014 (partners.name_key,
	 * which matching reads) are in: every command starts the modules
	 * before `migrate` applies anything, and a database at 0013 must
	 * still migrate.
	 */
	if ((rc = migrate_applied(db, "0007_learning")) != OK ||
	    (rc = migrate_applied(db, "0014_partner_name_key")) != OK)
		return (rc == ERR_NOT_FOUND ? OK : rc);
	/* A read first: nothing to fold is the rule, and no write lock. */
	memset(&rf, 0, sizeof(rf));
	rf.dry = 1;
	if ((rc = store_run(db, STORE_TX_READ, refold_tx, &rf)) != OK ||
	    rf.found == 0)
		return (rc);
	rf.dry = 0;
	if ((rc = store_run(db, STORE_TX_WRITE, refold_tx, &rf)) != OK)
		log_error(
		    "event=learning_refold_failed status=%s", err_code(rc));
	return (rc);
}

/*
 * Every partner name of table (rows keyed by col) that is not its own
 * folding is replaced by it; the courses whose lists changed (course_of
 * maps a key to its course) are appended to courses.
 */
static int
refold_table(struct tx *tx, struct refold *rf, const char *table,
    const char *col, const char *course_of, json_t *courses)
{
	struct stmt *st;
	json_t	    *rows, *r;
	const char  *name;
	char	     sql[256], key[FOLD_OUT_MAX(4 * LEARNING_ITEM_MAX)];
	size_t	     i;
	int64_t	     gone;
	int	     rc;

	if ((rows = json_array()) == NULL)
		return (ERR_NOMEM);
	snprintf(sql, sizeof(sql), "SELECT %s, partner_name, %s FROM %s", col,
	    course_of, table);
	st = store_prepare(tx, sql);
	while ((rc = store_step(st)) == STORE_ROW) {
		name = store_col_text(st, 1);
		if (name == NULL ||
		    fold_utf8(name, strlen(name), key, sizeof(key)) != OK ||
		    strcmp(key, name) == 0)
			continue;
		if (json_array_append_new(rows,
			json_pack("[s, s, s, s*]", store_col_text(st, 0), name,
			    key, store_col_text(st, 2))) != 0) {
			rc = ERR_NOMEM;
			break;
		}
	}
	store_finalize(st);
	if (rc != STORE_DONE || rf->dry) {
		rf->found += json_array_size(rows);
		json_decref(rows);
		return (rc == STORE_DONE ? OK : rc);
	}
	rc = OK;
	json_array_foreach(rows, i, r) {
		snprintf(sql, sizeof(sql),
		    "DELETE FROM %s WHERE %s = ? AND "
		    "partner_name = ?",
		    table, col);
		st = store_prepare(tx, sql);
		store_bind_text(st, 1, json_string_value(json_array_get(r, 0)));
		store_bind_text(st, 2, json_string_value(json_array_get(r, 1)));
		rc = store_step(st);
		gone = rc == STORE_DONE ? store_changes(st) : 0;
		store_finalize(st);
		if (rc != STORE_DONE)
			break;
		rc = OK;
		/* A webhook replaced the list since it was read: it stands. */
		if (gone != 1)
			continue;
		snprintf(sql, sizeof(sql),
		    "INSERT INTO %s (%s, partner_name) "
		    "VALUES (?, ?) ON CONFLICT DO NOTHING",
		    table, col);
		st = store_prepare(tx, sql);
		store_bind_text(st, 1, json_string_value(json_array_get(r, 0)));
		store_bind_text(st, 2, json_string_value(json_array_get(r, 2)));
		rc = store_step(st);
		store_finalize(st);
		if (rc != STORE_DONE)
			break;
		rc = OK;
		if (json_is_string(json_array_get(r, 3)))
			json_array_append(courses, json_array_get(r, 3));
	}
	if (rc == OK && json_array_size(rows) > 0)
		log_info(
		    "event=learning_partner_names_folded table=%s rows=%zu",
		    table, json_array_size(rows));
	json_decref(rows);
	return (rc);
}

static int
refold_tx(struct tx *tx, void *arg)
{
	struct refold *rf = arg;
	json_t	      *courses;
	const char   **v;
	size_t	       i, n;
	int	       rc;

	rf->found = 0;
	/* Webhooks replace these lists under this lock (storyblok.c). */
	if (!rf->dry && (rc = learning_lock(tx, "learning:cms")) != OK)
		return (rc);
	if ((courses = json_array()) == NULL)
		return (ERR_NOMEM);
	if ((rc = refold_table(tx, rf, "course_partners", "course_id",
		 "course_id", courses)) != OK ||
	    (rc = refold_table(tx, rf, "course_session_partners", "session_id",
		 "(SELECT course_id FROM "
		 "course_sessions cs WHERE cs.id = session_id)",
		 courses)) != OK ||
	    rf->dry || (n = json_array_size(courses)) == 0) {
		json_decref(courses);
		return (rc);
	}
	/* Access to those courses may have changed: their completions. */
	if ((v = calloc(n, sizeof(*v))) == NULL) {
		json_decref(courses);
		return (ERR_NOMEM);
	}
	for (i = 0; i < n; i++)
		v[i] = json_string_value(json_array_get(courses, i));
	qsort(v, n, sizeof(*v), user_cmp);
	for (i = 0; i < n && rc == OK; i++)
		if (i == 0 || strcmp(v[i], v[i - 1]) != 0)
			if ((rc = learning_lock_course(tx, v[i])) == OK)
				rc = learning_recompute(tx, v[i], NULL);
	free(v);
	json_decref(courses);
	return (rc);
}

int
learning_sees_all(struct request *req, const struct principal *who)
{
	return (resource_scope(req->db, who, "courses", "read") == SCOPE_ALL);
}

int
learning_lock(struct tx *tx, const char *key)
{
	struct stmt *st;
	int	     rc;

	if (store_tx_dialect(tx) != STORE_POSTGRES)
		return (OK); /* BEGIN IMMEDIATE: one writer at a time */
	st = store_prepare(tx, "SELECT pg_advisory_xact_lock(hashtext(?))");
	store_bind_text(st, 1, key);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_ROW || rc == STORE_DONE ? OK : rc);
}

int
learning_lock_course(struct tx *tx, const char *course_id)
{
	char key[64];

	snprintf(key, sizeof(key), "learning:course:%s", course_id);
	return (learning_lock(tx, key));
}

/*
 * Only enrolments whose state changes are written: completed flips,
 * completed_at is set when it becomes completed and cleared when it
 * stops being completed. ALL_DONE is the rule of learning_int.h for the
 * enrolment's user and course.
 */
/* clang-format off */
#define COUNTED(s)							\
	"(" s ".course_id = course_enrolments.course_id AND " s ".status = "	\
	"'published' AND " LEARNING_PARTNERS_OK("course_session_partners",	\
	"session_id", s ".id", "course_enrolments.user_id") ")"
/* clang-format on */
/* clang-format off */
#define ALL_DONE							\
	"(" LEARNING_PARTNERS_OK("course_partners", "course_id",		\
	"course_enrolments.course_id", "course_enrolments.user_id")	\
	" AND EXISTS (SELECT 1 FROM course_sessions s WHERE " COUNTED("s")	\
	") AND NOT EXISTS (SELECT 1 FROM course_sessions s WHERE "		\
	COUNTED("s") " AND NOT EXISTS (SELECT 1 FROM "			\
	"course_session_progress pr WHERE pr.session_id = s.id AND "	\
	"pr.user_id = course_enrolments.user_id AND pr.completed = 1)))"
/* clang-format on */
/* clang-format off */
#define RECOMPUTE							\
	"UPDATE course_enrolments SET completed = 1 - completed, "		\
	"completed_at = CASE WHEN completed = 0 THEN CAST(? AS BIGINT) "	\
	"ELSE NULL END, updated_at = ? WHERE course_id = ? AND "		\
	"completed <> CASE WHEN " ALL_DONE " THEN 1 ELSE 0 END"
/* clang-format on */
/* The users who hold a (not deleted) access of a partner. */
/* clang-format off */
#define HOLDERS								\
	"(SELECT user_id FROM partner_access WHERE partner_id = ? AND "	\
	"user_id IS NOT NULL AND deleted_at IS NULL)"
/* clang-format on */

static int
recompute(struct tx *tx, const char *course_id, enum who who, const char *arg)
{
	static const char *const sql[] = {
		[WHO_ALL] = RECOMPUTE " RETURNING user_id",
		[WHO_USER] = RECOMPUTE " AND user_id = ?",
		[WHO_PARTNER] = RECOMPUTE " AND user_id IN " HOLDERS,
	};
	struct stmt *st;
	json_t	    *changed;
	int64_t	     now = time_now_ms();
	int	     rc;

	if ((changed = json_array()) == NULL)
		return (ERR_NOMEM);
	st = store_prepare(tx, sql[who]);
	store_bind_int64(st, 1, now);
	store_bind_int64(st, 2, now);
	store_bind_text(st, 3, course_id);
	if (who != WHO_ALL)
		store_bind_text(st, 4, arg);
	while ((rc = store_step(st)) == STORE_ROW)
		json_array_append_new(
		    changed, json_string(store_col_text(st, 0)));
	store_finalize(st);
	/* Their chat profiles show the course's state (the others' callers
	 * touch the users they changed). */
	if (rc == STORE_DONE)
		rc = learning_touch_users(tx, changed);
	json_decref(changed);
	return (rc);
}

int
learning_recompute(struct tx *tx, const char *course_id, const char *user_id)
{
	return (recompute(
	    tx, course_id, user_id != NULL ? WHO_USER : WHO_ALL, user_id));
}

/*
 * The enrolments of user (or of the holders of partner's accesses): their
 * courses locked in id order (as every other taker of two course locks
 * does), each recomputed for those users only.
 */
static int
recompute_for(struct tx *tx, enum who who, const char *arg)
{
	struct stmt *st;
	json_t	    *courses, *v;
	size_t	     i;
	int	     rc;

	if ((courses = json_array()) == NULL)
		return (ERR_NOMEM);
	st = store_prepare(tx,
	    who == WHO_USER
		? "SELECT course_id FROM "
		  "course_enrolments WHERE user_id = ? ORDER BY course_id"
		: "SELECT DISTINCT course_id FROM course_enrolments WHERE "
		  "user_id "
		  "IN " HOLDERS " ORDER BY course_id");
	store_bind_text(st, 1, arg);
	while ((rc = store_step(st)) == STORE_ROW)
		if (json_array_append_new(
			courses, json_string(store_col_text(st, 0))) != 0) {
			rc = ERR_NOMEM;
			break;
		}
	store_finalize(st);
	if (rc != STORE_DONE) {
		json_decref(courses);
		return (rc);
	}
	rc = OK;
	json_array_foreach(courses, i, v)
		if ((rc = learning_lock_course(tx, json_string_value(v))) !=
			OK ||
		    (rc = recompute(tx, json_string_value(v), who, arg)) != OK)
			break;
	json_decref(courses);
	return (rc);
}

/*
 * The change listener (a deriving one: before the chat profile's): a
 * user gained or lost a partner access (made, redeemed, changed,
 * deleted), or a partner was renamed, deactivated or reactivated (what
 * its accesses include goes by its name and its being active). Other
 * changes, this module's own CHANGE_PERSON among them, change no input
 * of completion.
 */
static int
learning_changed(struct tx *tx, enum change kind, const char *id)
{
	switch (kind) {
	case CHANGE_ACCESS:
		return (recompute_for(tx, WHO_USER, id));
	case CHANGE_PARTNER:
	case CHANGE_PARTNER_GRANTS:
		return (recompute_for(tx, WHO_PARTNER, id));
	default:
		return (OK);
	}
}

static int
user_cmp(const void *a, const void *b)
{
	return (strcmp(*(const char *const *)a, *(const char *const *)b));
}

int
learning_touch_users(struct tx *tx, json_t *ids)
{
	const char **v;
	size_t	     i, n = json_array_size(ids);
	int	     rc = OK;

	if (n == 0)
		return (OK);
	if ((v = calloc(n, sizeof(*v))) == NULL)
		return (ERR_NOMEM);
	for (i = 0; i < n; i++)
		if ((v[i] = json_string_value(json_array_get(ids, i))) == NULL)
			v[i] = "";
	qsort(v, n, sizeof(*v), user_cmp);
	for (i = 0; i < n && rc == OK; i++)
		if (v[i][0] != '\0' && (i == 0 || strcmp(v[i], v[i - 1]) != 0))
			rc = hooks_changed(tx, CHANGE_PERSON, v[i]);
	free(v);
	return (rc);
}

json_t *
learning_json_col(const char *text)
{
	json_t *v = text != NULL ? json_loads(text, 0, NULL) : NULL;

	if (json_is_array(v))
		return (v);
	json_decref(v);
	return (json_array());
}

json_t *
learning_time(struct stmt *st, int col)
{
	char iso[ISO_TIME_LEN];

	if (store_col_is_null(st, col))
		return (json_null());
	return (json_string(time_format_iso(store_col_int64(st, col), iso)));
}
