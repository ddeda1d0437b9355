/*
 * Private to src/learning. learning.c holds the module (routes, the
 * read-only enrolment and progress resources) and the helpers below;
 * courses.c the course and course session resources; progress.c start,
 * complete, incomplete, completion and /v1/me/courses; storyblok.c the
 * CMS webhook (signature, payload, story fetch, upsert); course_chat.c
 * the job that touches a course's learners' chat profiles after it;
 * chat_profile.c the course states and public users' chat access.
 *
 * Who sees what. Callers with courses:read:all (admins) see every course
 * and session. Everyone else sees a course when it is published and
 * included for them, and a session when it and its course are published
 * and both are included for them. Included for them: the row lists no
 * partner, lists "public", or lists a partner of which they hold an
 * active partner access (partner names compared in lower case).
 *
 * Completion: an enrolment is completed exactly when the course has at
 * least one counted session and the user completed every one of them.
 * The counted sessions of a course for a user are its published sessions
 * included for the user, when the course itself is included for the user
 * (none otherwise): the sessions the user sees in it, by the rule above,
 * except that the course's own status does not count (an unpublished or
 * deleted course keeps its enrolments' state as it was; nobody can make
 * progress in it). completed_at is when the enrolment last became
 * completed, and is cleared when it stops being completed.
 *
 * It is recomputed, under the course's lock and in the transaction of the
 * change, whenever one of its inputs changes: the user's progress
 * (progress.c); a session published, unpublished, deleted or moved, or its
 * partners changed, and a course's partners changed (storyblok.c); the
 * user gaining or losing a partner access, and a partner renamed,
 * deactivated or reactivated (the partners module's CHANGE_ACCESS,
 * CHANGE_PARTNER and CHANGE_PARTNER_GRANTS, resource/hooks.h, which
 * learning.c listens to).
 */
#ifndef LEARNING_LEARNING_INT_H
#define LEARNING_LEARNING_INT_H

#include <stdint.h>

#include <jansson.h>

#include "partners/partners.h"

struct request;
struct tx;
struct principal;
struct resource;
struct stmt;
struct inbox_source;

#define LEARNING_NAME_MAX     500   /* characters of a name or slug */
#define LEARNING_TEXT_MAX     20000 /* characters of a description */
#define LEARNING_LIST_MAX     50    /* partners or themes of one story */
#define LEARNING_ITEM_MAX     100   /* characters of one partner or theme */
#define LEARNING_PAGE_MAX     200   /* rows of one page */
#define LEARNING_CMS_TEXT_MAX 10000 /* characters of a webhook's "text" */
#define LEARNING_STORY_ID_MAX 9007199254740991LL /* 2^53 - 1 */

/*
 * SQL: is the row id of a partner list table (tbl, keyed by col) included
 * for user (an SQL expression: "?" or a column)? The table holds partner
 * name keys (core/fold.h), compared with partners.name_key of the
 * partners of which user holds an active access (PARTNERS_ACTIVE_ACCESS,
 * partners/partners.h).
 */
/* clang-format off */
#define LEARNING_PARTNERS_OK(tbl, col, id, user)			\
	"(NOT EXISTS (SELECT 1 FROM " tbl " lp WHERE lp." col " = " id	\
	") OR EXISTS (SELECT 1 FROM " tbl " lp WHERE lp." col " = " id	\
	" AND (lp.partner_name = 'public' OR lp.partner_name IN (SELECT "	\
	"pt.name_key FROM " PARTNERS_ACTIVE_ACCESS(user) "))))"
/* clang-format on */

/* Course c seen by the caller; binds: sees-all flag (0/1), user id. */
/* clang-format off */
#define LEARNING_COURSE_SEEN						\
	"(? = 1 OR (c.status = 'published' AND "				\
	LEARNING_PARTNERS_OK("course_partners", "course_id", "c.id", "?") "))"
/* clang-format on */

/* Session s of course c seen; binds: sees-all flag, user id, user id. */
/* clang-format off */
#define LEARNING_SESSION_SEEN						\
	"(? = 1 OR (s.status = 'published' AND c.status = 'published' AND "	\
	LEARNING_PARTNERS_OK("course_partners", "course_id", "c.id", "?")	\
	" AND " LEARNING_PARTNERS_OK("course_session_partners",		\
	"session_id", "s.id", "?") "))"
/* clang-format on */

/* learning.c */
extern const struct resource course_enrolments_resource;
extern const struct resource course_session_progress_resource;
/* 1 when the caller sees every course (courses:read:all). */
int learning_sees_all(struct request *, const struct principal *);
/* Serialise writers per key inside tx (PostgreSQL advisory transaction
 * lock; SQLite's write transaction already does). */
int learning_lock(struct tx *, const char *key);
/* Lock a course's completion state ("learning:course:<id>"). */
int learning_lock_course(struct tx *, const char *course_id);
/*
 * Recompute completed/completed_at of the enrolments in course_id (of
 * user_id only, when not NULL); the caller holds the course's lock.
 */
int learning_recompute(struct tx *, const char *course_id, const char *user_id);
/* Tell the change listeners (CHANGE_PERSON) of each user of ids (a JSON
 * array of user ids), in id order (lock order), each once. */
int learning_touch_users(struct tx *, json_t *ids);
/* course_chat.c: the same for every user enrolled in course_id,
 * later, in pages of course_chat_page users (config) a run (the job
 * learning.course_chat, queued inside tx). */
#define LEARNING_CHAT_KIND "learning.course_chat"
int learning_touch_course(struct tx *, const char *course_id);
/* The job learning.course_chat. */
struct store;
struct job;
int learning_course_chat_run(struct store *, const struct job *, char *err);
/* A JSON array from a text column holding one (never NULL unless OOM). */
json_t *learning_json_col(const char *text);
/* ISO time or JSON null for a nullable ms column. */
json_t *learning_time(struct stmt *, int col);

/* courses.c */
extern const struct resource courses_resource;
extern const struct resource course_sessions_resource;

/* progress.c */
void learning_session_start(struct request *);
void learning_session_complete(struct request *);
void learning_session_incomplete(struct request *);
void learning_me_courses(struct request *);
/*
 * user_id starts (complete 0) or completes session (its id or story uuid,
 * one they may see) as the progress actions do, with no request: the
 * enrolment made, its completion recomputed. For the demo seed.
 */
int learning_progress_apply(
    struct tx *, const char *user_id, const char *session, int complete);

/* storyblok.c */
extern const struct inbox_source storyblok_source;
void				 learning_storyblok_webhook(struct request *);
/*
 * Apply a story as the webhook does once it has fetched and checked it:
 * work as learning_storyblok_story makes it, with "status" "published"
 * (its "source", when set, is what the audit record names instead of
 * "storyblok"). *out (owned) as the webhook answers. For the demo seed.
 */
int learning_story_apply(struct tx *, json_t *work, json_t **out);

/* seed.c: a demo course for `carebase seed` */
struct store;
struct seed_accounts;
int learning_seed(struct store *, struct seed_accounts *);

/* storyblok_check.c: pure checks of what the CMS sends (no database, no
 * network), shared by the webhook and fuzz/fuzz_storyblok.c. */
struct inbox_result;
/*
 * The webhook body {action, story_id, space_id?, text?, full_slug?}:
 * OK with *work (owned) {action, story_id, status}, status "published"
 * for published and moved, else the action; otherwise *work NULL and r
 * set: ERR_MALFORMED (not a JSON object), ERR_INVALID (r->errors, one
 * entry per bad member).
 */
int learning_storyblok_payload(
    const char *body, size_t len, json_t **work, struct inbox_result *r);
/*
 * A fetched story against work (from learning_storyblok_payload): OK
 * with work given kind ("course", "session" or "other") and component,
 * and for a course or session uuid (lower case), name, slug, partners
 * (deduplicated ignoring case), for a session course_uuid, for a course
 * live (a boolean), description and themes; ERR_INVALID STORY_INVALID
 * with r->errors.
 */
int learning_storyblok_story(
    json_t *story, json_t *work, struct inbox_result *r);

/* chat_profile.c: the course states of a person's chat profile
 * (resource/hooks.h), registered by learning_init. */
int learning_profile_init(void);

#endif
