/*
 * The CMS (Storyblok) webhook, a source of the webhook inbox (ops/inbox.h).
 *
 *	verify	 header webhook-signature: hex HMAC-SHA1 of the raw body
 *		 under storyblok_webhook_secret, compared in constant time
 *	prepare	 payload {text, action, space_id, story_id, full_slug}
 *		 checked (storyblok_check.c); for published and moved the story is fetched from
 *		 <storyblok_api_url>/cdn/stories/<story_id> (libcurl, with
 *		 timeouts and a size cap) and checked
 *	process	 published/moved: the course (component "Course", live
 *		 when its content.live is true) or course session
 *		 ("session", "session_iba") is upserted by story uuid;
 *		 unpublished/deleted: only the status of the rows with
 *		 that story id changes. Other stories are ignored.
 *
 * A session whose status, course or partners change, and a course whose
 * partners change, has its courses' completion recomputed for every
 * enrolled user in the same transaction, under the courses' locks (taken in sorted order, after the webhook's own lock, so
 * progress writes and webhooks never deadlock). Users with progress in a
 * session that moves to another course are enrolled there (and their
 * chat profiles touched: a new course, maybe a live one). A course that
 * becomes live or stops being live, or a live course published again,
 * unpublished, deleted or with other partners, queues the job
 * learning.course_chat (course_chat.c) in the webhook's transaction: it
 * touches the chat profiles of the course's enrolled users later, a page
 * at a time (a public user's chat access goes with the course,
 * learning/chat_profile.c), so the webhook never touches every learner
 * itself.
 *
 * Every change is audited as a system action ("courses.publish", ...).
 * Unknown payload members are ignored (the CMS adds some over time); the
 * known ones are bounded and typed. Errors never carry the token or the
 * secret.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/fold.h"
#include "core/util.h"
#include "http/http.h"
#include "learning/learning_int.h"
#include "ops/inbox.h"
#include "resource/audit.h"
#include "store/store.h"

#define SIGNATURE_LEN 20 /* SHA-1 */

static int sb_verify(
    struct request *, const char *, size_t, struct inbox_result *);
static int sb_prepare(const char *, size_t, json_t **, struct inbox_result *);
static int sb_process(
    struct tx *, const char *, size_t, json_t *, struct inbox_result *);
static size_t fetch_write(char *, size_t, size_t, void *);
static int    story_fetch(json_int_t, json_t **, struct inbox_result *);
static int    partners_replace(
       struct tx *, const char *, const char *, const char *, json_t *);
static int  lock_courses(struct tx *, const char *, const char *);
static void changed_text(
    json_t *, struct stmt *, int, json_t *, const char *, const char *);
static int partners_changed(json_t *);
static int course_upsert(struct tx *, json_t *, struct inbox_result *);
static int session_upsert(struct tx *, json_t *, struct inbox_result *);
static int enrol_movers(struct tx *, const char *, const char *);
static int status_change(struct tx *, json_t *, struct inbox_result *);
static int audit(
    struct tx *, const char *, const char *, const char *, json_t *, json_t *);

const struct inbox_source storyblok_source = {
	"storyblok",
	NULL,
	sb_verify,
	sb_prepare,
	sb_process,
};

void
learning_storyblok_webhook(struct request *req)
{
	inbox_receive(req, &storyblok_source);
}

/* Verification */

static int
sb_verify(
    struct request *req, const char *body, size_t len, struct inbox_result *r)
{
	const char   *sig = http_header(req, "webhook-signature");
	const char   *secret = config.storyblok_webhook_secret;
	unsigned char want[EVP_MAX_MD_SIZE], got[SIGNATURE_LEN];
	unsigned int  wlen = 0;
	size_t	      glen = 0;
	int	      ok;

	if (secret == NULL || secret[0] == '\0')
		return (inbox_fail(r, ERR_UNAVAILABLE, "WEBHOOK_NOT_CONFIGURED",
		    "The CMS webhook secret is not configured."));
	if (sig == NULL || sig[0] == '\0')
		return (inbox_fail(r, ERR_UNAUTHORIZED, "SIGNATURE_MISSING",
		    "The webhook-signature header is missing."));
	if (strlen(sig) != 2 * SIGNATURE_LEN ||
	    hex_decode(sig, got, sizeof(got), &glen) != 0 ||
	    glen != SIGNATURE_LEN ||
	    HMAC(EVP_sha1(), secret, (int)strlen(secret),
		(const unsigned char *)body, len, want, &wlen) == NULL ||
	    wlen != SIGNATURE_LEN)
		ok = 0;
	else
		ok = crypto_equal(want, got, SIGNATURE_LEN);
	sodium_memzero(want, sizeof(want));
	if (!ok)
		return (inbox_fail(r, ERR_UNAUTHORIZED, "SIGNATURE_INVALID",
		    "The webhook-signature does not match the body."));
	return (OK);
}

/* libcurl write callback: append to a capped buffer; a short count
 * makes the transfer fail. */
static size_t
fetch_write(char *data, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	if (buf_append(b, data, size * n) != OK)
		return (0);
	return (size * n);
}

static int
story_fetch(json_int_t story_id, json_t **story, struct inbox_result *r)
{
	CURL		  *c = NULL;
	CURLcode	   cc;
	struct curl_slist *hdrs = NULL;
	struct buf	   b;
	json_error_t	   jerr;
	json_t		  *doc = NULL;
	char		  *token = NULL, *url = NULL;
	const char	  *base = config.storyblok_api_url;
	size_t		   blen = strlen(base), ulen;
	long		   code = 0;
	int		   rc;

	*story = NULL;
	buf_init(&b, (size_t)config.storyblok_story_limit);
	if (config.storyblok_token[0] == '\0' || base[0] == '\0')
		return (inbox_fail(r, ERR_UNAVAILABLE, "CMS_NOT_CONFIGURED",
		    "The CMS API URL or token is not configured."));
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	if ((c = curl_easy_init()) == NULL ||
	    (token = curl_easy_escape(c, config.storyblok_token, 0)) == NULL) {
		rc = inbox_fail(r, ERR_NOMEM, NULL, "Out of memory.");
		goto out;
	}
	ulen = blen + strlen(token) + 64;
	if ((url = malloc(ulen)) == NULL) {
		rc = inbox_fail(r, ERR_NOMEM, NULL, "Out of memory.");
		goto out;
	}
	snprintf(url, ulen, "%.*s/cdn/stories/%lld?token=%s", (int)blen, base,
	    (long long)story_id, token);
	hdrs = curl_slist_append(NULL, "Accept: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "carebase");
	curl_easy_setopt(
	    c, CURLOPT_CONNECTTIMEOUT, (long)config.storyblok_timeout_s);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)config.storyblok_timeout_s);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fetch_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (cc == CURLE_WRITE_ERROR)
		rc = inbox_fail(r, ERR_UNAVAILABLE, "CMS_BAD_RESPONSE",
		    "The "
		    "CMS story is over %lld bytes.",
		    (long long)config.storyblok_story_limit);
	else if (cc != CURLE_OK)
		rc = inbox_fail(r, ERR_UNAVAILABLE, "CMS_UNAVAILABLE",
		    "The "
		    "CMS could not be reached: %s.",
		    curl_easy_strerror(cc));
	else if (code == 404)
		rc = inbox_fail(r, ERR_UNAVAILABLE, "CMS_STORY_NOT_FOUND",
		    "The "
		    "CMS has no published story %lld.",
		    (long long)story_id);
	else if (code != 200)
		rc = inbox_fail(r, ERR_UNAVAILABLE, "CMS_UNAVAILABLE",
		    "The "
		    "CMS answered HTTP %ld.",
		    code);
	else if ((doc = json_loadb(
		      b.data != NULL ? b.data : "", b.len, 0, &jerr)) == NULL ||
	    !json_is_object(json_object_get(doc, "story")))
		rc = inbox_fail(r, ERR_UNAVAILABLE, "CMS_BAD_RESPONSE",
		    "The "
		    "CMS answer holds no story.");
	else {
		*story = json_incref(json_object_get(doc, "story"));
		rc = OK;
	}
out:
	json_decref(doc);
	curl_slist_free_all(hdrs);
	if (url != NULL) {
		sodium_memzero(url, strlen(url)); /* holds the token */
		free(url);
	}
	curl_free(token);
	curl_easy_cleanup(c);
	buf_free(&b);
	return (rc);
}

static int
sb_prepare(const char *body, size_t len, json_t **work, struct inbox_result *r)
{
	json_t *story = NULL, *w;
	int	rc;

	if ((rc = learning_storyblok_payload(body, len, &w, r)) != OK)
		return (rc);
	if (strcmp(json_string_value(json_object_get(w, "status")),
		"published") == 0) {
		if ((rc = story_fetch(
			 json_integer_value(json_object_get(w, "story_id")),
			 &story, r)) == OK)
			rc = learning_storyblok_story(story, w, r);
		json_decref(story);
	}
	if (rc != OK) {
		json_decref(w);
		return (rc);
	}
	*work = w;
	return (OK);
}

/* Writes */

static int
audit(struct tx *tx, const char *action, const char *entity, const char *id,
    json_t *fields, json_t *work)
{
	const char *source = json_string_value(json_object_get(work, "source"));
	json_t	   *changes;
	int	    rc;

	changes = json_pack("{s:O,s:s,s:O,s:O,s:s}", "fields", fields, "status",
	    json_string_value(json_object_get(work, "status")), "action",
	    json_object_get(work, "action"), "story_id",
	    json_object_get(work, "story_id"), "source",
	    source != NULL ? source : "storyblok");
	if (changes == NULL)
		return (ERR_NOMEM);
	rc = audit_append(tx, NULL, NULL, action, entity, id, changes);
	json_decref(changes);
	return (rc);
}

/*
 * Replace the partner rows of id with the names in list as keys
 * (core/fold.h, as partners.name_key): a course is matched to a partner
 * by key, without regard to case, the same on both databases.
 */
static int
partners_replace(struct tx *tx, const char *table, const char *col,
    const char *id, json_t *list)
{
	struct stmt *st;
	json_t	    *v;
	const char  *s;
	char	     sql[160], name[FOLD_OUT_MAX(4 * LEARNING_ITEM_MAX)];
	size_t	     i;
	int	     rc;

	snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE %s = ?", table, col);
	st = store_prepare(tx, sql);
	store_bind_text(st, 1, id);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc);
	snprintf(sql, sizeof(sql),
	    "INSERT INTO %s (%s, partner_name) VALUES "
	    "(?, ?) ON CONFLICT DO NOTHING",
	    table, col);
	json_array_foreach(list, i, v) {
		/* list_check bounded each to LEARNING_ITEM_MAX characters. */
		s = json_string_value(v);
		if (fold_utf8(s, strlen(s), name, sizeof(name)) != OK)
			return (ERR_INVALID);
		st = store_prepare(tx, sql);
		store_bind_text(st, 1, id);
		store_bind_text(st, 2, name);
		rc = store_step(st);
		store_finalize(st);
		if (rc != STORE_DONE)
			return (rc);
	}
	return (OK);
}

/* Lock one or two courses' completion state, in sorted order. */
static int
lock_courses(struct tx *tx, const char *a, const char *b)
{
	int rc;

	if (b == NULL || b[0] == '\0' || strcmp(a, b) == 0)
		return (learning_lock_course(tx, a));
	if (strcmp(a, b) > 0) {
		const char *t = a;

		a = b;
		b = t;
	}
	if ((rc = learning_lock_course(tx, a)) != OK)
		return (rc);
	return (learning_lock_course(tx, b));
}

/* Changed fields: compare text column i of st with work member m. */
static void
changed_text(json_t *fields, struct stmt *st, int i, json_t *work,
    const char *m, const char *field)
{
	const char *old = store_col_text(st, i);
	const char *now = json_string_value(json_object_get(work, m));

	if ((old == NULL) != (now == NULL) ||
	    (old != NULL && strcmp(old, now) != 0))
		json_array_append_new(fields, json_string(field));
}

/* 1 when the changed fields name included_for_partners. */
static int
partners_changed(json_t *fields)
{
	json_t *v;
	size_t	i;

	json_array_foreach(fields, i, v)
		if (strcmp(json_string_value(v), "included_for_partners") == 0)
			return (1);
	return (0);
}

static int
course_upsert(struct tx *tx, json_t *w, struct inbox_result *r)
{
	struct stmt *st;
	json_t	    *fields = json_array();
	char	     id[UUID_STR_LEN], *themes, *partners;
	int64_t	     now = time_now_ms();
	int	     rc, created = 0, was_live = 0, status_changed = 0;
	int	     live = json_is_true(json_object_get(w, "live"));

	themes = json_dumps(json_object_get(w, "themes"), JSON_COMPACT);
	partners = json_dumps(json_object_get(w, "partners"), JSON_COMPACT);
	json_object_set_new(w, "themes_text", json_string(themes));
	json_object_set_new(w, "partners_text", json_string(partners));
	free(themes);
	free(partners);
	st = store_prepare(tx,
	    "SELECT id, name, slug, status, description, "
	    "themes, included_for_partners, storyblok_id, live FROM courses "
	    "WHERE storyblok_uuid = ?");
	store_bind_text(st, 1, json_string_value(json_object_get(w, "uuid")));
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(id, store_col_text(st, 0), sizeof(id));
		changed_text(fields, st, 1, w, "name", "name");
		changed_text(fields, st, 2, w, "slug", "slug");
		changed_text(fields, st, 3, w, "status", "status");
		changed_text(fields, st, 4, w, "description", "description");
		changed_text(fields, st, 5, w, "themes_text", "themes");
		changed_text(
		    fields, st, 6, w, "partners_text", "included_for_partners");
		if (store_col_int64(st, 7) !=
		    json_integer_value(json_object_get(w, "story_id")))
			json_array_append_new(
			    fields, json_string("storyblok_id"));
		was_live = store_col_int64(st, 8) != 0;
		if (was_live != live)
			json_array_append_new(fields, json_string("live"));
		status_changed =
		    strcmp(store_col_text(st, 3),
			json_string_value(json_object_get(w, "status"))) != 0;
		rc = OK;
	} else if (rc == STORE_DONE) {
		uuid_v7(id);
		created = 1;
		rc = OK;
	}
	store_finalize(st);
	if (rc != OK)
		goto out;
	st = store_prepare(tx,
	    created
		? "INSERT INTO courses (storyblok_id, name, slug, status, "
		  "description, themes, included_for_partners, live, "
		  "updated_at, created_at, storyblok_uuid, kind, id) VALUES "
		  "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'self_guided', ?)"
		: "UPDATE courses SET storyblok_id = ?, name = ?, slug = ?, "
		  "status = ?, description = ?, themes = ?, "
		  "included_for_partners = ?, live = ?, updated_at = ? WHERE "
		  "id = ?");
	store_bind_int64(
	    st, 1, json_integer_value(json_object_get(w, "story_id")));
	store_bind_text(st, 2, json_string_value(json_object_get(w, "name")));
	store_bind_text(st, 3, json_string_value(json_object_get(w, "slug")));
	store_bind_text(st, 4, json_string_value(json_object_get(w, "status")));
	store_bind_text(
	    st, 5, json_string_value(json_object_get(w, "description")));
	store_bind_text(
	    st, 6, json_string_value(json_object_get(w, "themes_text")));
	store_bind_text(
	    st, 7, json_string_value(json_object_get(w, "partners_text")));
	store_bind_int64(st, 8, live);
	store_bind_int64(st, 9, now);
	if (created) {
		store_bind_int64(st, 10, now);
		store_bind_text(
		    st, 11, json_string_value(json_object_get(w, "uuid")));
		store_bind_text(st, 12, id);
	} else
		store_bind_text(st, 10, id);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		goto out;
	if ((rc = partners_replace(tx, "course_partners", "course_id", id,
		 json_object_get(w, "partners"))) != OK)
		goto out;
	/* Whom the course is included for changes what counts for its
	 * enrolments' completion. */
	if (!created && partners_changed(fields) &&
	    ((rc = learning_lock_course(tx, id)) != OK ||
		(rc = learning_recompute(tx, id, NULL)) != OK))
		goto out;
	/* A public learner's chat access goes with a live, published course
	 * included for them: its learners are looked at later, in pages
	 * (course_chat.c). */
	if (!created &&
	    (was_live != live ||
		(live && (status_changed || partners_changed(fields)))) &&
	    (rc = learning_touch_course(tx, id)) != OK)
		goto out;
	if ((created || json_array_size(fields) > 0) &&
	    (rc = audit(tx, created ? "courses.create" : "courses.publish",
		 "courses", id, fields, w)) != OK)
		goto out;
	r->out = json_pack("{s:{s:s,s:O,s:O,s:b,s:O}}", "course", "id", id,
	    "storyblok_uuid", json_object_get(w, "uuid"), "status",
	    json_object_get(w, "status"), "created", created, "changed",
	    fields);
	rc = r->out != NULL ? OK : ERR_NOMEM;
out:
	json_decref(fields);
	return (rc);
}

/*
 * Users with progress in session_id but no enrolment in course_id (it
 * moved there) are enrolled, from their first start in it.
 */
static int
enrol_movers(struct tx *tx, const char *session_id, const char *course_id)
{
	struct stmt *st;
	json_t	    *users, *u;
	char	     id[UUID_STR_LEN];
	int64_t	     now = time_now_ms();
	size_t	     i;
	int	     rc;

	if ((users = json_array()) == NULL)
		return (ERR_NOMEM);
	st = store_prepare(tx,
	    "SELECT user_id, started_at FROM "
	    "course_session_progress WHERE session_id = ? AND user_id NOT IN "
	    "(SELECT user_id FROM course_enrolments WHERE course_id = ?)");
	store_bind_text(st, 1, session_id);
	store_bind_text(st, 2, course_id);
	while ((rc = store_step(st)) == STORE_ROW)
		json_array_append_new(users,
		    json_pack("[s,I]", store_col_text(st, 0),
			(json_int_t)store_col_int64(st, 1)));
	store_finalize(st);
	if (rc != STORE_DONE) {
		json_decref(users);
		return (rc);
	}
	rc = OK;
	json_array_foreach(users, i, u) {
		st = store_prepare(tx,
		    "INSERT INTO course_enrolments (id, "
		    "user_id, course_id, completed, started_at, completed_at, "
		    "created_at, updated_at) VALUES (?, ?, ?, 0, ?, NULL, ?, "
		    "?) "
		    "ON CONFLICT (user_id, course_id) DO NOTHING");
		store_bind_text(st, 1, uuid_v7(id));
		store_bind_text(st, 2, json_string_value(json_array_get(u, 0)));
		store_bind_text(st, 3, course_id);
		store_bind_int64(
		    st, 4, json_integer_value(json_array_get(u, 1)));
		store_bind_int64(st, 5, now);
		store_bind_int64(st, 6, now);
		rc = store_step(st);
		store_finalize(st);
		if (rc != STORE_DONE)
			break;
		rc = OK;
		/* Their profiles show the course (and it may be live). */
		json_array_set(users, i, json_array_get(u, 0));
	}
	if (rc == OK)
		rc = learning_touch_users(tx, users);
	json_decref(users);
	return (rc);
}

static int
session_upsert(struct tx *tx, json_t *w, struct inbox_result *r)
{
	struct stmt *st;
	json_t	    *fields = json_array();
	const char  *course_uuid;
	char	     id[UUID_STR_LEN], course_id[UUID_STR_LEN];
	char	     old_course[UUID_STR_LEN] = "", *partners;
	int64_t	     now = time_now_ms();
	int	     rc, created = 0;

	course_uuid = json_string_value(json_object_get(w, "course_uuid"));
	partners = json_dumps(json_object_get(w, "partners"), JSON_COMPACT);
	json_object_set_new(w, "partners_text", json_string(partners));
	free(partners);
	st = store_prepare(tx,
	    "SELECT id FROM courses WHERE storyblok_uuid = "
	    "?");
	store_bind_text(st, 1, course_uuid);
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(course_id, store_col_text(st, 0), sizeof(course_id));
		rc = OK;
	} else if (rc == STORE_DONE)
		rc = inbox_fail(r, ERR_CONFLICT, "COURSE_NOT_KNOWN",
		    "The "
		    "session's course (story %s) is not known yet: publish the "
		    "course, then replay this webhook.",
		    course_uuid);
	store_finalize(st);
	if (rc != OK)
		goto out;
	st = store_prepare(tx,
	    "SELECT id, course_id, name, slug, status, "
	    "included_for_partners, storyblok_id FROM course_sessions WHERE "
	    "storyblok_uuid = ?");
	store_bind_text(st, 1, json_string_value(json_object_get(w, "uuid")));
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(id, store_col_text(st, 0), sizeof(id));
		strlcpy_cb(
		    old_course, store_col_text(st, 1), sizeof(old_course));
		if (strcmp(old_course, course_id) != 0)
			json_array_append_new(fields, json_string("course_id"));
		changed_text(fields, st, 2, w, "name", "name");
		changed_text(fields, st, 3, w, "slug", "slug");
		changed_text(fields, st, 4, w, "status", "status");
		changed_text(
		    fields, st, 5, w, "partners_text", "included_for_partners");
		if (store_col_int64(st, 6) !=
		    json_integer_value(json_object_get(w, "story_id")))
			json_array_append_new(
			    fields, json_string("storyblok_id"));
		rc = OK;
	} else if (rc == STORE_DONE) {
		uuid_v7(id);
		created = 1;
		rc = OK;
	}
	store_finalize(st);
	if (rc != OK || (rc = lock_courses(tx, course_id, old_course)) != OK)
		goto out;
	st = store_prepare(tx,
	    created
		? "INSERT INTO course_sessions (storyblok_id, course_id, name, "
		  "slug, "
		  "status, included_for_partners, updated_at, created_at, "
		  "storyblok_uuid, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
		: "UPDATE course_sessions SET storyblok_id = ?, course_id = ?, "
		  "name = ?, slug = ?, status = ?, included_for_partners = ?, "
		  "updated_at = ? WHERE id = ?");
	store_bind_int64(
	    st, 1, json_integer_value(json_object_get(w, "story_id")));
	store_bind_text(st, 2, course_id);
	store_bind_text(st, 3, json_string_value(json_object_get(w, "name")));
	store_bind_text(st, 4, json_string_value(json_object_get(w, "slug")));
	store_bind_text(st, 5, json_string_value(json_object_get(w, "status")));
	store_bind_text(
	    st, 6, json_string_value(json_object_get(w, "partners_text")));
	store_bind_int64(st, 7, now);
	if (created) {
		store_bind_int64(st, 8, now);
		store_bind_text(
		    st, 9, json_string_value(json_object_get(w, "uuid")));
		store_bind_text(st, 10, id);
	} else
		store_bind_text(st, 8, id);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		goto out;
	if ((rc = partners_replace(tx, "course_session_partners", "session_id",
		 id, json_object_get(w, "partners"))) != OK)
		goto out;
	if (old_course[0] != '\0' && strcmp(old_course, course_id) != 0 &&
	    ((rc = enrol_movers(tx, id, course_id)) != OK ||
		(rc = learning_recompute(tx, old_course, NULL)) != OK))
		goto out;
	if ((created || json_array_size(fields) > 0) &&
	    ((rc = learning_recompute(tx, course_id, NULL)) != OK ||
		(rc = audit(tx,
		     created ? "course_sessions.create"
			     : "course_sessions.publish",
		     "course_sessions", id, fields, w)) != OK))
		goto out;
	r->out = json_pack("{s:{s:s,s:O,s:s,s:O,s:b,s:O}}", "course_session",
	    "id", id, "storyblok_uuid", json_object_get(w, "uuid"), "course_id",
	    course_id, "status", json_object_get(w, "status"), "created",
	    created, "changed", fields);
	rc = r->out != NULL ? OK : ERR_NOMEM;
out:
	json_decref(fields);
	return (rc);
}

/* unpublished, deleted: the status of the rows with this story id. */
static int
status_change(struct tx *tx, json_t *w, struct inbox_result *r)
{
	struct stmt *st;
	json_t	    *courses = json_array(), *sessions = json_array();
	json_t	    *live = json_array();
	json_t	    *fields = json_pack("[s]", "status"), *v;
	char	     verb[64];
	const char  *status = json_string_value(json_object_get(w, "status"));
	json_int_t   story_id =
	    json_integer_value(json_object_get(w, "story_id"));
	int64_t now = time_now_ms();
	size_t	i;
	int	rc;

	/* [id, course_id] of each row whose status changes */
	st = store_prepare(tx,
	    "SELECT id, live FROM courses WHERE "
	    "storyblok_id = ? AND status <> ? ORDER BY id");
	store_bind_int64(st, 1, story_id);
	store_bind_text(st, 2, status);
	while ((rc = store_step(st)) == STORE_ROW) {
		json_array_append_new(
		    courses, json_string(store_col_text(st, 0)));
		if (store_col_int64(st, 1) != 0)
			json_array_append_new(
			    live, json_string(store_col_text(st, 0)));
	}
	store_finalize(st);
	if (rc != STORE_DONE)
		goto out;
	st = store_prepare(tx,
	    "SELECT id, course_id FROM course_sessions "
	    "WHERE storyblok_id = ? AND status <> ? ORDER BY course_id, id");
	store_bind_int64(st, 1, story_id);
	store_bind_text(st, 2, status);
	while ((rc = store_step(st)) == STORE_ROW)
		json_array_append_new(sessions,
		    json_pack(
			"[s,s]", store_col_text(st, 0), store_col_text(st, 1)));
	store_finalize(st);
	if (rc != STORE_DONE)
		goto out;
	rc = OK;
	json_array_foreach(courses, i, v) {
		st = store_prepare(tx,
		    "UPDATE courses SET status = ?, "
		    "updated_at = ? WHERE id = ?");
		store_bind_text(st, 1, status);
		store_bind_int64(st, 2, now);
		store_bind_text(st, 3, json_string_value(v));
		rc = store_step(st);
		store_finalize(st);
		snprintf(verb, sizeof(verb), "courses.%s", status);
		if (rc != STORE_DONE ||
		    (rc = audit(tx, verb, "courses", json_string_value(v),
			 fields, w)) != OK)
			goto out;
	}
	/* Sorted by course: the locks are taken in order. */
	json_array_foreach(sessions, i, v) {
		const char *sid = json_string_value(json_array_get(v, 0));
		const char *cid = json_string_value(json_array_get(v, 1));

		if ((rc = learning_lock_course(tx, cid)) != OK)
			goto out;
		st = store_prepare(tx,
		    "UPDATE course_sessions SET status = ?, "
		    "updated_at = ? WHERE id = ?");
		store_bind_text(st, 1, status);
		store_bind_int64(st, 2, now);
		store_bind_text(st, 3, sid);
		rc = store_step(st);
		store_finalize(st);
		snprintf(verb, sizeof(verb), "course_sessions.%s", status);
		if (rc != STORE_DONE ||
		    (rc = learning_recompute(tx, cid, NULL)) != OK ||
		    (rc = audit(tx, verb, "course_sessions", sid, fields, w)) !=
			OK)
			goto out;
		json_array_set_new(sessions, i, json_string(sid));
	}
	/* A live course unpublished or deleted takes its public learners'
	 * chat access: they are looked at later (course_chat.c). */
	json_array_foreach(live, i, v)
		if ((rc = learning_touch_course(tx, json_string_value(v))) !=
		    OK)
			goto out;
	r->out = json_pack("{s:O,s:O,s:O,s:O}", "action",
	    json_object_get(w, "action"), "status",
	    json_object_get(w, "status"), "courses", courses, "course_sessions",
	    sessions);
	rc = r->out != NULL ? OK : ERR_NOMEM;
out:
	json_decref(courses);
	json_decref(sessions);
	json_decref(live);
	json_decref(fields);
	return (rc);
}

int
learning_story_apply(struct tx *tx, json_t *work, json_t **out)
{
	struct inbox_result r;
	int		    rc;

	memset(&r, 0, sizeof(r));
	rc = sb_process(tx, NULL, 0, work, &r);
	*out = r.out;
	json_decref(r.errors);
	return (rc);
}

static int
sb_process(struct tx *tx, const char *body, size_t len, json_t *w,
    struct inbox_result *r)
{
	const char *kind;
	int	    rc;

	/* One CMS webhook at a time; course locks after this one. */
	if ((rc = learning_lock(tx, "learning:cms")) != OK)
		return (rc);
	if (strcmp(json_string_value(json_object_get(w, "status")),
		"published") != 0)
		return (status_change(tx, w, r));
	kind = json_string_value(json_object_get(w, "kind"));
	if (strcmp(kind, "course") == 0)
		return (course_upsert(tx, w, r));
	if (strcmp(kind, "session") == 0)
		return (session_upsert(tx, w, r));
	r->out = json_pack("{s:b,s:O}", "ignored", 1, "component",
	    json_object_get(w, "component"));
	return (r->out != NULL ? OK : ERR_NOMEM);
}
