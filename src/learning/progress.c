/*
 * Progress: the caller starts, completes or marks incomplete a course
 * session they may see (by its id or its story uuid):
 *
 *	start		progress row made (not completed) if there is none
 *	complete	completed, completed_at kept from the first time
 *	incomplete	not completed, completed_at cleared
 *
 * Each action makes the enrolment in the session's course on the fly and
 * recomputes the enrolment's completion, all in one write transaction
 * under the course's lock (the CMS webhook takes the same lock when it
 * changes a session), so completion is exact under concurrent writes.
 *
 * GET /v1/me/courses lists the caller's enrolments with, for each, the
 * course's sessions the caller may see or has progress in.
 *
 * Progress has one shape wherever it is shown (these answers, and the
 * rows of /v1/course-enrolments and /v1/course-session-progress):
 * "completed" (true or false), "started_at" and "completed_at" (null
 * until then). A session not started yet has completed false and
 * started_at null; there is no separate state word.
 */
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "learning/learning_int.h"
#include "resource/hooks.h"
#include "resource/resource.h"
#include "store/store.h"

enum verb { VERB_START, VERB_COMPLETE, VERB_INCOMPLETE };

struct paction {
	struct request *req;
	const char     *id; /* session id or story uuid */
	const char     *user;
	int		all;
	enum verb	verb;
	json_t	       *out;
};

struct mine {
	const char	    *user;
	int		     all;
	struct resource_page pg;
	json_t		    *out;
};

static void progress_action(struct request *, enum verb);
static int  progress_tx(struct tx *, void *);
static int  enrol(struct tx *, const char *, const char *, int64_t);
static int progress_write(struct tx *, struct paction *, const char *, int64_t);
static int progress_answer(
    struct tx *, struct paction *, const char *, const char *);
static int mine_tx(struct tx *, void *);
static int mine_sessions(struct tx *, struct mine *, const char *, json_t *);

void
learning_session_start(struct request *req)
{
	progress_action(req, VERB_START);
}

void
learning_session_complete(struct request *req)
{
	progress_action(req, VERB_COMPLETE);
}

void
learning_session_incomplete(struct request *req)
{
	progress_action(req, VERB_INCOMPLETE);
}

static void
progress_action(struct request *req, enum verb verb)
{
	struct principal *who;
	struct paction	  a;
	int		  rc;

	memset(&a, 0, sizeof(a));
	a.req = req;
	a.verb = verb;
	who = req->caller;
	a.user = who->user_id;
	a.id = http_param(req, "id");
	if (a.id == NULL || !uuid_valid(a.id)) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such row.");
		return;
	}
	a.all = learning_sees_all(req, who);
	rc = store_run(req->db, STORE_TX_WRITE, progress_tx, &a);
	if (rc == OK) {
		http_json(req, 200, a.out);
		return;
	}
	json_decref(a.out);
	if (!req->responded)
		http_problem(req, rc, NULL,
		    rc == ERR_NOT_FOUND ? "No such "
					  "course session."
					: "The progress cannot be changed.");
}

/* The enrolment of user in course_id, made if missing. */
static int
enrol(struct tx *tx, const char *user, const char *course_id, int64_t now)
{
	struct stmt *st;
	char	     id[UUID_STR_LEN];
	int	     rc;

	st = store_prepare(tx,
	    "INSERT INTO course_enrolments (id, user_id, "
	    "course_id, completed, started_at, completed_at, created_at, "
	    "updated_at) VALUES (?, ?, ?, 0, ?, NULL, ?, ?) ON CONFLICT "
	    "(user_id, course_id) DO NOTHING");
	store_bind_text(st, 1, uuid_v7(id));
	store_bind_text(st, 2, user);
	store_bind_text(st, 3, course_id);
	store_bind_int64(st, 4, now);
	store_bind_int64(st, 5, now);
	store_bind_int64(st, 6, now);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

static int
progress_write(
    struct tx *tx, struct paction *a, const char *session_id, int64_t now)
{
	static const char *const sql[] = {
		[VERB_START] =
		    "INSERT INTO course_session_progress (id, "
		    "user_id, session_id, completed, started_at, completed_at, "
		    "created_at, updated_at) VALUES (?, ?, ?, 0, ?, NULL, ?, "
		    "?) "
		    "ON CONFLICT (user_id, session_id) DO NOTHING",
		[VERB_COMPLETE] =
		    "INSERT INTO course_session_progress (id, "
		    "user_id, session_id, completed, started_at, completed_at, "
		    "created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?, ?, ?) "
		    "ON CONFLICT (user_id, session_id) DO UPDATE SET "
		    "completed = 1, completed_at = COALESCE("
		    "course_session_progress.completed_at, "
		    "excluded.completed_at), updated_at = excluded.updated_at",
		[VERB_INCOMPLETE] =
		    "INSERT INTO course_session_progress (id, "
		    "user_id, session_id, completed, started_at, completed_at, "
		    "created_at, updated_at) VALUES (?, ?, ?, 0, ?, NULL, ?, "
		    "?) "
		    "ON CONFLICT (user_id, session_id) DO UPDATE SET "
		    "completed = 0, completed_at = NULL, updated_at = "
		    "excluded.updated_at",
	};
	struct stmt *st;
	char	     id[UUID_STR_LEN];
	int	     i = 1, rc;

	st = store_prepare(tx, sql[a->verb]);
	store_bind_text(st, i++, uuid_v7(id));
	store_bind_text(st, i++, a->user);
	store_bind_text(st, i++, session_id);
	store_bind_int64(st, i++, now);
	if (a->verb == VERB_COMPLETE)
		store_bind_int64(st, i++, now);
	store_bind_int64(st, i++, now);
	store_bind_int64(st, i++, now);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

/* {session_id, course_id, completed, started_at, completed_at, enrolment:
 * {id, course_id, completed, started_at, completed_at}}. */
static int
progress_answer(struct tx *tx, struct paction *a, const char *session_id,
    const char *course_id)
{
	struct stmt *st;
	json_t	    *enrolment = NULL;
	int	     rc;

	st = store_prepare(tx,
	    "SELECT id, completed, started_at, completed_at "
	    "FROM course_enrolments WHERE user_id = ? AND course_id = ?");
	store_bind_text(st, 1, a->user);
	store_bind_text(st, 2, course_id);
	if ((rc = store_step(st)) == STORE_ROW)
		enrolment = json_pack("{s:s,s:s,s:b,s:o,s:o}", "id",
		    store_col_text(st, 0), "course_id", course_id, "completed",
		    store_col_int64(st, 1) != 0, "started_at",
		    learning_time(st, 2), "completed_at", learning_time(st, 3));
	store_finalize(st);
	if (rc != STORE_ROW)
		return (rc == STORE_DONE ? ERR_INTERNAL : rc);
	if (enrolment == NULL)
		return (ERR_NOMEM);
	st = store_prepare(tx,
	    "SELECT completed, started_at, completed_at "
	    "FROM course_session_progress WHERE user_id = ? AND session_id = "
	    "?");
	store_bind_text(st, 1, a->user);
	store_bind_text(st, 2, session_id);
	if ((rc = store_step(st)) == STORE_ROW)
		a->out = json_pack("{s:s,s:s,s:b,s:o,s:o,s:o}", "session_id",
		    session_id, "course_id", course_id, "completed",
		    store_col_int64(st, 0) != 0, "started_at",
		    learning_time(st, 1), "completed_at", learning_time(st, 2),
		    "enrolment", enrolment);
	else
		json_decref(enrolment);
	store_finalize(st);
	if (rc != STORE_ROW)
		return (rc == STORE_DONE ? ERR_INTERNAL : rc);
	return (a->out != NULL ? OK : ERR_NOMEM);
}

static int
progress_tx(struct tx *tx, void *arg)
{
	struct paction *a = arg;
	struct stmt    *st;
	char		session_id[UUID_STR_LEN], course_id[UUID_STR_LEN];
	int64_t		now = time_now_ms();
	int		rc;

	json_decref(a->out);
	a->out = NULL;
	st = store_prepare(tx,
	    "SELECT s.id, s.course_id FROM course_sessions "
	    "s JOIN courses c ON c.id = s.course_id WHERE (s.id = ? OR "
	    "s.storyblok_uuid = ?) AND " LEARNING_SESSION_SEEN);
	store_bind_text(st, 1, a->id);
	store_bind_text(st, 2, a->id);
	store_bind_int64(st, 3, a->all);
	store_bind_text(st, 4, a->user);
	store_bind_text(st, 5, a->user);
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(
		    session_id, store_col_text(st, 0), sizeof(session_id));
		strlcpy_cb(course_id, store_col_text(st, 1), sizeof(course_id));
		rc = OK;
	} else if (rc == STORE_DONE)
		rc = ERR_NOT_FOUND;
	store_finalize(st);
	if (rc != OK)
		return (rc);
	/*
	 * The session may have moved to another course between the read
	 * above and the lock: read it again under the lock.
	 */
	if ((rc = learning_lock_course(tx, course_id)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "SELECT course_id FROM course_sessions WHERE "
	    "id = ?");
	store_bind_text(st, 1, session_id);
	if ((rc = store_step(st)) == STORE_ROW)
		rc = strcmp(store_col_text(st, 0), course_id) == 0
		    ? OK
		    : ERR_BUSY; /* moved meanwhile: run again */
	else if (rc == STORE_DONE)
		rc = ERR_NOT_FOUND;
	store_finalize(st);
	if (rc != OK)
		return (rc);
	if ((rc = enrol(tx, a->user, course_id, now)) != OK ||
	    (rc = progress_write(tx, a, session_id, now)) != OK ||
	    (rc = learning_recompute(tx, course_id, a->user)) != OK ||
	    (rc = progress_answer(tx, a, session_id, course_id)) != OK)
		return (rc);
	return (
	    hooks_changed(tx, CHANGE_PERSON, a->user)); /* its course states */
}

int
learning_progress_apply(
    struct tx *tx, const char *user_id, const char *session, int complete)
{
	struct paction a;
	int	       rc;

	memset(&a, 0, sizeof(a));
	a.id = session;
	a.user = user_id;
	a.verb = complete ? VERB_COMPLETE : VERB_START;
	rc = progress_tx(tx, &a);
	json_decref(a.out);
	return (rc);
}

/* GET /v1/me/courses */

static int
mine_sessions(struct tx *tx, struct mine *m, const char *course_id, json_t *arr)
{
	struct stmt *st;
	json_t	    *o;
	int	     step;

	st = store_prepare(tx,
	    "SELECT s.id, s.storyblok_uuid, s.name, s.slug, "
	    "s.status, pr.completed, pr.started_at, pr.completed_at FROM "
	    "course_sessions s JOIN courses c ON c.id = s.course_id LEFT JOIN "
	    "course_session_progress pr ON pr.session_id = s.id AND "
	    "pr.user_id = ? WHERE s.course_id = ? AND (pr.id IS NOT NULL "
	    "OR " LEARNING_SESSION_SEEN ") ORDER BY s.id LIMIT 1000");
	store_bind_text(st, 1, m->user);
	store_bind_text(st, 2, course_id);
	store_bind_int64(st, 3, m->all);
	store_bind_text(st, 4, m->user);
	store_bind_text(st, 5, m->user);
	while ((step = store_step(st)) == STORE_ROW) {
		/* Not started (no progress row): not completed, and
		 * started_at null. */
		o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:o,s:o}", "id",
		    store_col_text(st, 0), "storyblok_uuid",
		    store_col_text(st, 1), "name", store_col_text(st, 2),
		    "slug", store_col_text(st, 3), "status",
		    store_col_text(st, 4), "completed",
		    !store_col_is_null(st, 5) && store_col_int64(st, 5) != 0,
		    "started_at", learning_time(st, 6), "completed_at",
		    learning_time(st, 7));
		json_array_append_new(arr, o);
	}
	store_finalize(st);
	return (step == STORE_DONE ? OK : step);
}

static int
mine_tx(struct tx *tx, void *arg)
{
	struct mine *m = arg;
	struct stmt *st;
	json_t	    *data, *o, *sessions;
	size_t	     i;
	int	     step, rc;

	json_decref(m->out);
	m->out = NULL;
	if ((data = json_array()) == NULL)
		return (ERR_NOMEM);
	st = store_prepare(tx,
	    "SELECT e.id, e.completed, e.started_at, "
	    "e.completed_at, c.id, c.storyblok_uuid, c.name, c.slug, c.status, "
	    "c.live FROM course_enrolments e JOIN courses c ON "
	    "c.id = e.course_id WHERE e.user_id = ? AND e.id > ? ORDER BY "
	    "e.id LIMIT ?");
	store_bind_text(st, 1, m->user);
	store_bind_text(st, 2, m->pg.after);
	store_bind_int64(st, 3, m->pg.limit + 1);
	while ((step = store_step(st)) == STORE_ROW &&
	    json_array_size(data) <= (size_t)m->pg.limit) {
		o = json_pack("{s:s,s:{s:s,s:s?,s:s,s:s,s:s,s:b},s:b,s:o,s:o}",
		    "id", store_col_text(st, 0), "course", "id",
		    store_col_text(st, 4), "storyblok_uuid",
		    store_col_text(st, 5), "name", store_col_text(st, 6),
		    "slug", store_col_text(st, 7), "status",
		    store_col_text(st, 8), "live", store_col_int64(st, 9) != 0,
		    "completed", store_col_int64(st, 1) != 0, "started_at",
		    learning_time(st, 2), "completed_at", learning_time(st, 3));
		json_array_append_new(data, o);
	}
	store_finalize(st);
	if (step != STORE_ROW && step != STORE_DONE) {
		json_decref(data);
		return (step);
	}
	if ((m->out = resource_page_json(&m->pg, data)) == NULL)
		return (ERR_NOMEM);
	data = json_object_get(m->out, "data");
	for (i = 0; i < json_array_size(data); i++) {
		o = json_array_get(data, i);
		if ((sessions = json_array()) == NULL)
			return (ERR_NOMEM);
		json_object_set_new(o, "sessions", sessions);
		if ((rc = mine_sessions(tx, m,
			 json_string_value(json_object_get(
			     json_object_get(o, "course"), "id")),
			 sessions)) != OK)
			return (rc);
	}
	return (OK);
}

void
learning_me_courses(struct request *req)
{
	struct principal *who;
	struct mine	  m;
	int		  rc;

	memset(&m, 0, sizeof(m));
	who = req->caller;
	if (resource_page_query(req, LEARNING_PAGE_MAX, PAGE_ID, &m.pg) != OK)
		return;
	m.user = who->user_id;
	m.all = learning_sees_all(req, who);
	rc = store_run(req->db, STORE_TX_READ, mine_tx, &m);
	if (rc != OK) {
		json_decref(m.out);
		http_problem(req, rc, NULL, "Your courses cannot be read.");
		return;
	}
	http_json(req, 200, m.out);
}
