/*
 * Courses and course sessions, as the caller may see them (the rule is in
 * learning_int.h): lists with paging, and one course with its sessions or
 * one session, found by id or by story uuid. They are written only by the
 * CMS webhook (storyblok.c); there are no create, update or delete routes.
 */
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "learning/learning_int.h"
#include "resource/resource.h"
#include "store/store.h"

/* clang-format off */
#define COURSE_COLUMNS	"c.id, c.kind, c.storyblok_id, c.storyblok_uuid, "    \
	"c.name, c.slug, c.status, c.description, c.themes, "		      \
	"c.included_for_partners, c.created_at, c.updated_at"
/* clang-format on */
/* clang-format off */
#define SESSION_COLUMNS	"s.id, s.storyblok_id, s.storyblok_uuid, "	      \
	"s.course_id, s.name, s.slug, s.status, s.included_for_partners, "     \
	"s.created_at, s.updated_at"
/* clang-format on */

/* One read of a list or an item. */
struct view {
	struct request *req;
	const char     *id; /* item: id or story uuid */
	const char     *user;
	int		all; /* courses:read:all */
	const char     *after;
	int64_t		limit;
	const char     *kind; /* filters; NULL = any */
	const char     *status;
	const char     *course_id;
	json_t	       *out;
};

static json_t *course_row(struct stmt *);
static json_t *session_row(struct stmt *);
static int     view_begin(struct request *, struct view *, int);
static int     filter_ok(
	struct request *, const char *, const char *, const char *const *);
static int  courses_tx(struct tx *, void *);
static int  course_tx(struct tx *, void *);
static int  sessions_tx(struct tx *, void *);
static int  session_tx(struct tx *, void *);
static int  sessions_of(struct tx *, struct view *, const char *, json_t *);
static void view_answer(struct request *, struct view *, int, const char *);

static const char *const kinds[] = { "self_guided", "in_person", NULL };
static const char *const statuses[] = { "published", "unpublished", "deleted",
	NULL };

static json_t *
course_row(struct stmt *st)
{
	json_t *o;

	o = json_pack("{s:s,s:s,s:o,s:s?,s:s,s:s,s:s,s:s?,s:o,s:o,s:o,s:o}",
	    "id", store_col_text(st, 0), "kind", store_col_text(st, 1),
	    "storyblok_id",
	    store_col_is_null(st, 2) ? json_null()
				     : json_integer(store_col_int64(st, 2)),
	    "storyblok_uuid", store_col_text(st, 3), "name",
	    store_col_text(st, 4), "slug", store_col_text(st, 5), "status",
	    store_col_text(st, 6), "description", store_col_text(st, 7),
	    "themes", learning_json_col(store_col_text(st, 8)),
	    "included_for_partners", learning_json_col(store_col_text(st, 9)),
	    "created_at", learning_time(st, 10), "updated_at",
	    learning_time(st, 11));
	return (o);
}

static json_t *
session_row(struct stmt *st)
{
	return (json_pack("{s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o}", "id",
	    store_col_text(st, 0), "storyblok_id",
	    (json_int_t)store_col_int64(st, 1), "storyblok_uuid",
	    store_col_text(st, 2), "course_id", store_col_text(st, 3), "name",
	    store_col_text(st, 4), "slug", store_col_text(st, 5), "status",
	    store_col_text(st, 6), "included_for_partners",
	    learning_json_col(store_col_text(st, 7)), "created_at",
	    learning_time(st, 8), "updated_at", learning_time(st, 9)));
}

static int
filter_ok(struct request *req, const char *name, const char *v,
    const char *const *choices)
{
	size_t i;

	if (v == NULL)
		return (OK);
	for (i = 0; choices[i] != NULL; i++)
		if (strcmp(v, choices[i]) == 0)
			return (OK);
	http_problem_ext(req, ERR_INVALID, NULL,
	    json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "field", name, "code",
		"enum", "detail", "not one of the allowed values"),
	    "The filter %s is not valid.", name);
	return (ERR_INVALID);
}

/* The caller, their scope, the item id or the list arguments. */
static int
view_begin(struct request *req, struct view *v, int item)
{
	struct principal *who;

	memset(v, 0, sizeof(*v));
	v->req = req;
	who = req->caller;
	v->user = who->user_id;
	v->all = learning_sees_all(req, who);
	if (item) {
		v->id = http_param(req, "id");
		if (v->id == NULL || !uuid_valid(v->id)) {
			http_problem(req, ERR_NOT_FOUND, NULL, "No such row.");
			return (ERR_NOT_FOUND);
		}
		return (OK);
	}
	v->kind = http_query(req, "kind");
	v->status = http_query(req, "status");
	v->course_id = http_query(req, "course_id");
	if (learning_page_args(req, &v->after, &v->limit) != OK ||
	    filter_ok(req, "kind", v->kind, kinds) != OK ||
	    filter_ok(req, "status", v->status, statuses) != OK)
		return (ERR_INVALID);
	if (v->course_id != NULL && !uuid_valid(v->course_id)) {
		http_problem_ext(req, ERR_INVALID, NULL,
		    json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "field",
			"course_id", "code", "uuid", "detail",
			"a UUID is required"),
		    "The filter course_id is not valid.");
		return (ERR_INVALID);
	}
	return (OK);
}

static void
view_answer(struct request *req, struct view *v, int rc, const char *what)
{
	if (rc == OK) {
		http_json(req, 200, v->out);
		return;
	}
	json_decref(v->out);
	if (rc == ERR_NOT_FOUND)
		http_problem(req, rc, NULL, "No such row.");
	else
		http_problem(req, rc, NULL, "The %s cannot be read.", what);
}

/* Page of rows from st into v->out as {data, next_cursor}. */
static int
page_out(struct view *v, struct stmt *st, json_t *(*row)(struct stmt *))
{
	json_t *data, *last = NULL;
	int	step, n = 0;

	if ((data = json_array()) == NULL)
		return (ERR_NOMEM);
	while ((step = store_step(st)) == STORE_ROW && n < v->limit) {
		json_array_append_new(data, row(st));
		n++;
	}
	if (step != STORE_ROW && step != STORE_DONE) {
		json_decref(data);
		return (step);
	}
	if (step == STORE_ROW && n > 0)
		last =
		    json_object_get(json_array_get(data, (size_t)n - 1), "id");
	v->out = json_pack("{s:o,s:O}", "data", data, "next_cursor",
	    last != NULL ? last : json_null());
	return (v->out != NULL ? OK : ERR_NOMEM);
}

static int
courses_tx(struct tx *tx, void *arg)
{
	struct view *v = arg;
	struct stmt *st;
	int	     rc;

	json_decref(v->out);
	v->out = NULL;
	st = store_prepare(tx,
	    "SELECT " COURSE_COLUMNS " FROM courses c "
	    "WHERE " LEARNING_COURSE_SEEN " AND c.kind = COALESCE(?, c.kind) "
	    "AND c.status = COALESCE(?, c.status) AND c.id > ? ORDER BY c.id "
	    "LIMIT ?");
	store_bind_int64(st, 1, v->all);
	store_bind_text(st, 2, v->user);
	store_bind_text(st, 3, v->kind);
	store_bind_text(st, 4, v->status);
	store_bind_text(st, 5, v->after != NULL ? v->after : "");
	store_bind_int64(st, 6, v->limit + 1);
	rc = page_out(v, st, course_row);
	store_finalize(st);
	return (rc);
}

void
learning_courses_list(struct request *req)
{
	struct view v;

	if (view_begin(req, &v, 0) != OK)
		return;
	view_answer(req, &v, store_run(req->db, STORE_TX_READ, courses_tx, &v),
	    "courses");
}

/* The sessions of course_id the caller may see, into arr. */
static int
sessions_of(struct tx *tx, struct view *v, const char *course_id, json_t *arr)
{
	struct stmt *st;
	int	     step;

	st = store_prepare(tx,
	    "SELECT " SESSION_COLUMNS " FROM "
	    "course_sessions s JOIN courses c ON c.id = s.course_id WHERE "
	    "s.course_id = ? AND " LEARNING_SESSION_SEEN " ORDER BY s.id "
	    "LIMIT 1000");
	store_bind_text(st, 1, course_id);
	store_bind_int64(st, 2, v->all);
	store_bind_text(st, 3, v->user);
	store_bind_text(st, 4, v->user);
	while ((step = store_step(st)) == STORE_ROW)
		json_array_append_new(arr, session_row(st));
	store_finalize(st);
	return (step == STORE_DONE ? OK : step);
}

static int
course_tx(struct tx *tx, void *arg)
{
	struct view *v = arg;
	struct stmt *st;
	json_t	    *sessions;
	char	     id[UUID_STR_LEN];
	int	     rc;

	json_decref(v->out);
	v->out = NULL;
	st = store_prepare(tx,
	    "SELECT " COURSE_COLUMNS " FROM courses c "
	    "WHERE (c.id = ? OR c.storyblok_uuid = ?) "
	    "AND " LEARNING_COURSE_SEEN);
	store_bind_text(st, 1, v->id);
	store_bind_text(st, 2, v->id);
	store_bind_int64(st, 3, v->all);
	store_bind_text(st, 4, v->user);
	if ((rc = store_step(st)) == STORE_ROW) {
		v->out = course_row(st);
		strlcpy_cb(id, store_col_text(st, 0), sizeof(id));
		rc = v->out != NULL ? OK : ERR_NOMEM;
	} else if (rc == STORE_DONE)
		rc = ERR_NOT_FOUND;
	store_finalize(st);
	if (rc != OK)
		return (rc);
	if ((sessions = json_array()) == NULL)
		return (ERR_NOMEM);
	json_object_set_new(v->out, "sessions", sessions);
	return (sessions_of(tx, v, id, sessions));
}

void
learning_course_get(struct request *req)
{
	struct view v;

	if (view_begin(req, &v, 1) != OK)
		return;
	view_answer(req, &v, store_run(req->db, STORE_TX_READ, course_tx, &v),
	    "course");
}

static int
sessions_tx(struct tx *tx, void *arg)
{
	struct view *v = arg;
	struct stmt *st;
	int	     rc;

	json_decref(v->out);
	v->out = NULL;
	st = store_prepare(tx,
	    "SELECT " SESSION_COLUMNS " FROM "
	    "course_sessions s JOIN courses c ON c.id = s.course_id "
	    "WHERE " LEARNING_SESSION_SEEN
	    " AND s.course_id = COALESCE(?, s.course_id) "
	    "AND s.status = COALESCE(?, s.status) AND s.id > ? ORDER BY s.id "
	    "LIMIT ?");
	store_bind_int64(st, 1, v->all);
	store_bind_text(st, 2, v->user);
	store_bind_text(st, 3, v->user);
	store_bind_text(st, 4, v->course_id);
	store_bind_text(st, 5, v->status);
	store_bind_text(st, 6, v->after != NULL ? v->after : "");
	store_bind_int64(st, 7, v->limit + 1);
	rc = page_out(v, st, session_row);
	store_finalize(st);
	return (rc);
}

void
learning_sessions_list(struct request *req)
{
	struct view v;

	if (view_begin(req, &v, 0) != OK)
		return;
	if (v.kind != NULL) {
		http_problem(req, ERR_INVALID, NULL,
		    "Course sessions take the "
		    "filters course_id and status.");
		return;
	}
	view_answer(req, &v, store_run(req->db, STORE_TX_READ, sessions_tx, &v),
	    "course sessions");
}

static int
session_tx(struct tx *tx, void *arg)
{
	struct view *v = arg;
	struct stmt *st;
	int	     rc;

	json_decref(v->out);
	v->out = NULL;
	st = store_prepare(tx,
	    "SELECT " SESSION_COLUMNS " FROM "
	    "course_sessions s JOIN courses c ON c.id = s.course_id WHERE "
	    "(s.id = ? OR s.storyblok_uuid = ?) AND " LEARNING_SESSION_SEEN);
	store_bind_text(st, 1, v->id);
	store_bind_text(st, 2, v->id);
	store_bind_int64(st, 3, v->all);
	store_bind_text(st, 4, v->user);
	store_bind_text(st, 5, v->user);
	if ((rc = store_step(st)) == STORE_ROW) {
		v->out = session_row(st);
		rc = v->out != NULL ? OK : ERR_NOMEM;
	} else if (rc == STORE_DONE)
		rc = ERR_NOT_FOUND;
	store_finalize(st);
	return (rc);
}

void
learning_session_get(struct request *req)
{
	struct view v;

	if (view_begin(req, &v, 1) != OK)
		return;
	view_answer(req, &v, store_run(req->db, STORE_TX_READ, session_tx, &v),
	    "course session");
}
