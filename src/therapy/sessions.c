/*
 * Therapy sessions: one appointment between a therapist and a client.
 *
 *	scheduled --complete--> completed	(once it has started)
 *	scheduled --cancel----> cancelled	(the client may cancel too)
 *	scheduled --no-show---> no_show		(once it has started)
 *	scheduled --reschedule--> rescheduled, and a new scheduled session
 *				  at the new times whose rescheduled_from_id
 *				  names it (the old row keeps its times)
 *
 * Status changes only through these actions, and they respect time:
 * complete and no-show only from the session's start on (409
 * SESSION_NOT_STARTED before); the client cancels only before the start
 * (409 SESSION_STARTED); the session's therapist or an admin may cancel
 * after it too, with a reason (422 on "reason" without one). A reason,
 * the client's or staff's, is kept in cancel_reason, sealed under the
 * client's key.
 *
 * A therapist never has two sessions that overlap unless one is cancelled
 * or rescheduled: the check runs inside the write transaction after a
 * lock that serialises writers per therapist (therapy_lock; on SQLite
 * BEGIN IMMEDIATE already does).
 *
 * The row belongs to the client (owner client_id): shared notes are
 * sealed under the client's key and seen by the client, their guardians
 * and their practitioners. Sessions are booked by admins or by the
 * therapist, who must be the client's practitioner (an active
 * practitioner_of relationship), so a therapist sees their sessions
 * through that relationship.
 *
 * Private notes are a column, never a field of the resource: no list,
 * read, export or audit record carries them (session_notes.c).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "resource/seal.h"
#include "store/store.h"
#include "therapy/therapy_int.h"

/* One action, run in one write transaction (retried whole when busy). */
struct saction {
	struct request	 *req;
	struct principal *who;
	const char	 *id;
	const char	 *to;	  /* target status */
	enum scope	  update; /* therapy_sessions:update */
	enum scope	  read; /* therapy_sessions:read: sees it; the answer */
	int64_t		  start, end; /* reschedule */
	const char	 *reason;     /* cancel: why, or NULL */
	int		  keyless; /* the client was erased: no reason kept */
	json_t		 *row;	   /* answer */
	char		  new_id[UUID_STR_LEN];
};

static int sessions_before_create(struct resource_ctx *, json_t *);
static int sessions_before_update(struct resource_ctx *, json_t *);
static int session_seen(struct saction *, struct tx *, const struct tsession *);
static int client_keyless(
    struct saction *, struct tx *, const struct tsession *);
static int session_overlap(struct request *, struct tx *, const char *, int64_t,
    int64_t, const char *);
static int times_check(struct request *, int64_t, int64_t);
static int cancel_body(struct request *, const char **reason);
static int action_timely(struct saction *, const struct tsession *, int);
static int reason_write(struct saction *, struct tx *, const struct tsession *);
static void session_action(struct request *, const char *);
static int  action_tx(struct tx *, void *);
static int  reschedule(struct saction *, struct tx *, struct tsession *);

static const char *const statuses[] = { "scheduled", "completed", "cancelled",
	"rescheduled", "no_show", NULL };
static const char *const types[] = { "initial", "regular", "follow_up",
	"emergency", NULL };
static const char *const formats[] = { "video", "audio", "chat", "in_person",
	"hybrid", NULL };

static const struct field session_fields[] = {
	{ "therapist_id", FIELD_UUID,
	    FIELD_REQUIRED | FIELD_CREATE_ONLY | FIELD_FILTER, 0, 0, NULL, NULL,
	    "therapists", 0, "the therapist (a therapists row)" },
	{ "client_id", FIELD_UUID,
	    FIELD_REQUIRED | FIELD_CREATE_ONLY | FIELD_FILTER, 0, 0, NULL, NULL,
	    "users", 0, "the client; owns the row" },
	{ "start_time", FIELD_TIME,
	    FIELD_REQUIRED | FIELD_CREATE_ONLY | FIELD_SORT, 0, 0, NULL, NULL,
	    NULL, 0, "start (UTC); change it with the reschedule action" },
	{ "end_time", FIELD_TIME, FIELD_REQUIRED | FIELD_CREATE_ONLY, 0, 0,
	    NULL, NULL, NULL, 0, "end, after start" },
	{ "status", FIELD_ENUM, FIELD_READONLY | FIELD_FILTER | FIELD_SORT, 0,
	    0, statuses, NULL, NULL, 0,
	    "scheduled, then completed, cancelled, rescheduled or no_show "
	    "through the actions" },
	{ "type", FIELD_ENUM, FIELD_REQUIRED | FIELD_FILTER, 0, 0, types, NULL,
	    NULL, 0, "initial, regular, follow_up or emergency" },
	{ "format", FIELD_ENUM, FIELD_REQUIRED, 0, 0, formats, NULL, NULL, 0,
	    "video, audio, chat, in_person or hybrid" },
	{ "shared_notes", FIELD_TEXT,
	    FIELD_PERSONAL | FIELD_HEALTH | FIELD_NULLABLE, 0,
	    THERAPY_NOTES_MAX, NULL, NULL, NULL, 0,
	    "notes shared with the client (and their guardians)" },
	{ "meta", FIELD_JSON, 0, 0, 0, NULL, "{}", NULL, 0,
	    "additional metadata" },
	{ "rescheduled_from_id", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0,
	    0, NULL, NULL, NULL, 0, "the session this one replaces" },
	{ "cancel_reason", FIELD_TEXT,
	    FIELD_READONLY | FIELD_PERSONAL | FIELD_NULLABLE, 0,
	    THERAPY_REASON_MAX, NULL, NULL, NULL, 0,
	    "why it was cancelled, when the canceller said (required of staff "
	    "after the start); set by the cancel action" },
	{ "created_at", FIELD_TIME, FIELD_READONLY | FIELD_SORT, 0, 0, NULL,
	    NULL, NULL, 0, NULL },
	{ "updated_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
	{ "created_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
	{ "updated_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
};

const struct resource therapy_sessions_resource = {
	.name = "therapy_sessions",
	.path = "/v1/therapy-sessions",
	.table = "therapy_sessions",
	.fields = session_fields,
	.nfields = NELEM(session_fields),
	.owner_column = "client_id",
	.related_kinds = "guardian_of,practitioner_of",
	/* A practitioner sees the sessions they give, not a colleague's.
	 * Their one profile (therapists.user_id is unique) as a value the
	 * planner resolves once, so the list walks the (therapist_id, ...)
	 * index in order. */
	.party_kinds = "practitioner_of",
	.party_where = "therapist_id = (SELECT id FROM therapists WHERE "
		       "user_id = ?)",
	.party_column = "therapist_id",
	.party_of = "SELECT id FROM therapists WHERE user_id = ?",
	.doc =
	    "Appointments between a therapist and a client. Booked by "
	    "admins or by the client's practitioner; a therapist's sessions "
	    "never overlap (409 SESSION_OVERLAP) unless cancelled or "
	    "rescheduled. Status changes through the complete, cancel, no-show "
	    "and reschedule actions: complete and no-show once the session has "
	    "started (409 SESSION_NOT_STARTED), the client's cancel before the "
	    "start (409 SESSION_STARTED), staff's after it with a reason. "
	    "Shared notes are sealed and seen by the "
	    "client and their guardians; private notes have their own route. "
	    "A therapist sees the sessions they give, never a colleague's "
	    "sessions with the same client.",
	.before_create = sessions_before_create,
	.before_update = sessions_before_update,
	.codes =
	    "{\"403\":[\"CONSENT_REQUIRED\",\"DATE_OF_BIRTH_REQUIRED\"],\"409\":[\"SESSION_OVERLAP\"]}",
	/* Its list is of rows and the caller alone: pages kept read; its
	 * scope's indexes end with id (0047). */
	.flags = RESOURCE_LIST_CACHE | RESOURCE_ORDER_INDEXED,
};

static int
times_check(struct request *req, int64_t start, int64_t end)
{
	if (end > start)
		return (OK);
	http_problem_ext(req, ERR_INVALID, NULL,
	    json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "field", "end_time",
		"code", "before_start", "detail", "must be after start_time"),
	    "The session ends before it starts.");
	return (ERR_INVALID);
}

/*
 * Lock the therapist's calendar for this transaction, then look for a
 * live session of theirs that overlaps [start, end).
 */
static int
session_overlap(struct request *req, struct tx *tx, const char *therapist_id,
    int64_t start, int64_t end, const char *except_id)
{
	struct stmt *st;
	int	     rc;

	if ((rc = therapy_lock(tx, therapist_id)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "SELECT id FROM therapy_sessions WHERE "
	    "therapist_id = ? AND status NOT IN ('cancelled', 'rescheduled') "
	    "AND start_time < ? AND end_time > ? AND id <> ? LIMIT 1");
	store_bind_text(st, 1, therapist_id);
	store_bind_int64(st, 2, end);
	store_bind_int64(st, 3, start);
	store_bind_text(st, 4, except_id != NULL ? except_id : "");
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_DONE)
		return (OK);
	if (rc != STORE_ROW)
		return (rc);
	http_problem(req, ERR_CONFLICT, "SESSION_OVERLAP",
	    "The therapist has "
	    "another session at that time.");
	return (ERR_CONFLICT);
}

static int
sessions_before_create(struct resource_ctx *ctx, json_t *body)
{
	const char *tid, *cid;
	char	    tuser[UUID_STR_LEN];
	int64_t	    start = 0, end = 0;
	int	    active = 0, rc;

	tid = json_string_value(json_object_get(body, "therapist_id"));
	cid = json_string_value(json_object_get(body, "client_id"));
	time_parse_iso(
	    json_string_value(json_object_get(body, "start_time")), &start);
	time_parse_iso(
	    json_string_value(json_object_get(body, "end_time")), &end);
	if ((rc = times_check(ctx->req, start, end)) != OK)
		return (rc);
	if ((rc = therapy_therapist_user(ctx->tx, tid, tuser, &active)) != OK)
		return (rc);
	if (ctx->scope != SCOPE_ALL && strcmp(tuser, ctx->who->user_id) != 0) {
		http_problem(ctx->req, ERR_FORBIDDEN, NULL,
		    "A therapist books "
		    "their own sessions only.");
		return (ERR_FORBIDDEN);
	}
	if (!active ||
	    (rc = therapy_related(ctx->tx, tuser, cid, "practitioner_of")) !=
		OK) {
		if (active && rc != ERR_NOT_FOUND)
			return (rc);
		http_problem_ext(ctx->req, ERR_INVALID, NULL,
		    json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "field",
			"therapist_id", "code",
			active ? "not_practitioner" : "inactive", "detail",
			active
			    ? "the therapist is not the client's practitioner "
			      "(no active practitioner_of relationship)"
			    : "the therapist is not active"),
		    "The session is not valid.");
		return (ERR_INVALID);
	}
	if ((rc = therapy_consent(ctx->req, ctx->tx, cid)) != OK)
		return (rc);
	return (session_overlap(ctx->req, ctx->tx, tid, start, end, NULL));
}

/* Below scope all, only the session's own therapist changes it. */
static int
sessions_before_update(struct resource_ctx *ctx, json_t *body)
{
	const char *tid, *cid;
	char	    tuser[UUID_STR_LEN];
	int	    rc;

	tid = json_string_value(json_object_get(ctx->old, "therapist_id"));
	cid = json_string_value(json_object_get(ctx->old, "client_id"));
	if (ctx->scope != SCOPE_ALL) {
		if ((rc = therapy_therapist_user(ctx->tx, tid, tuser, NULL)) !=
		    OK)
			return (rc);
		if (strcmp(tuser, ctx->who->user_id) != 0) {
			http_problem(ctx->req, ERR_FORBIDDEN, NULL,
			    "Only the "
			    "session's therapist or an admin changes it.");
			return (ERR_FORBIDDEN);
		}
	}
	if (json_object_get(body, "shared_notes") != NULL &&
	    !json_is_null(json_object_get(body, "shared_notes")))
		return (therapy_consent(ctx->req, ctx->tx, cid));
	return (OK);
}

/*
 * Does the caller see session s? Their read scope on the declaration
 * decides (the client, the client's guardians, the practitioner who gives
 * it: owner_column, related_kinds, party_where): OK, or ERR_NOT_FOUND, so
 * that a session outside it looks as if it did not exist. Who of those
 * who see it may act is the action's own rule (403).
 */
static int
session_seen(struct saction *a, struct tx *tx, const struct tsession *s)
{
	return (resource_sees(
	    tx, &therapy_sessions_resource, a->who, a->read, s->id));
}

int
therapy_session_load(struct tx *tx, const char *id, struct tsession *s)
{
	struct stmt *st;
	int	     rc;

	memset(s, 0, sizeof(*s));
	st = store_prepare(tx,
	    "SELECT s.id, s.therapist_id, t.user_id, "
	    "s.client_id, s.status, s.type, s.format, s.meta, s.start_time "
	    "FROM "
	    "therapy_sessions s JOIN therapists t ON t.id = s.therapist_id "
	    "WHERE s.id = ?");
	store_bind_text(st, 1, id);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		strlcpy_cb(s->id, store_col_text(st, 0), sizeof(s->id));
		strlcpy_cb(s->therapist_id, store_col_text(st, 1),
		    sizeof(s->therapist_id));
		strlcpy_cb(s->therapist_user, store_col_text(st, 2),
		    sizeof(s->therapist_user));
		strlcpy_cb(
		    s->client_id, store_col_text(st, 3), sizeof(s->client_id));
		strlcpy_cb(s->status, store_col_text(st, 4), sizeof(s->status));
		strlcpy_cb(s->type, store_col_text(st, 5), sizeof(s->type));
		strlcpy_cb(s->format, store_col_text(st, 6), sizeof(s->format));
		s->meta = strdup(store_col_text(st, 7));
		s->start = store_col_int64(st, 8);
		rc = s->meta != NULL ? OK : ERR_NOMEM;
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	}
	store_finalize(st);
	return (rc);
}

void
therapy_session_complete(struct request *req)
{
	session_action(req, "completed");
}

void
therapy_session_cancel(struct request *req)
{
	session_action(req, "cancelled");
}

void
therapy_session_no_show(struct request *req)
{
	session_action(req, "no_show");
}

void
therapy_session_reschedule(struct request *req)
{
	session_action(req, "rescheduled");
}

static void
session_action(struct request *req, const char *to)
{
	struct saction a;
	json_t	      *body = req->json;
	const char    *k;
	json_t	      *v;
	int	       rc, resched = strcmp(to, "rescheduled") == 0;

	memset(&a, 0, sizeof(a));
	a.req = req;
	a.to = to;
	a.id = http_param(req, "id");
	a.who = req->caller;
	if (a.id == NULL || !uuid_valid(a.id)) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such row.");
		return;
	}
	if (resched) {
		json_t *errs = json_array();

		if (!json_is_object(body))
			therapy_err(errs, "", "type",
			    "the body must be an "
			    "object with start_time and end_time");
		else {
			json_object_foreach(body, k, v)
				if (strcmp(k, "start_time") != 0 &&
				    strcmp(k, "end_time") != 0)
					therapy_err(errs, k, "unknown_field",
					    "this action takes start_time and "
					    "end_time");
			if (time_parse_iso(json_string_value(json_object_get(
					       body, "start_time")),
				&a.start) != 0)
				therapy_err(errs, "start_time", "required",
				    "an ISO 8601 time is required");
			if (time_parse_iso(json_string_value(json_object_get(
					       body, "end_time")),
				&a.end) != 0)
				therapy_err(errs, "end_time", "required",
				    "an ISO 8601 time is required");
		}
		if (therapy_errs_answer(req, errs, "The new times") != OK ||
		    times_check(req, a.start, a.end) != OK)
			return;
	}
	if (strcmp(to, "cancelled") == 0 && cancel_body(req, &a.reason) != OK)
		return;
	a.update = resource_scope(req->db, a.who, "therapy_sessions", "update");
	a.read = resource_scope(req->db, a.who, "therapy_sessions", "read");
	rc = store_run(req->db, STORE_TX_WRITE, action_tx, &a);
	if (rc == OK)
		http_json(req, resched ? 201 : 200, a.row);
	else {
		json_decref(a.row);
		if (!req->responded)
			http_problem(req, rc, NULL,
			    rc == ERR_NOT_FOUND
				? "No such row."
				: "The session cannot be changed.");
	}
}

/*
 * A cancel's optional body: {"reason": text}, 1 to THERAPY_REASON_MAX
 * characters, not only blanks. *reason NULL without one. Answers 422.
 */
static int
cancel_body(struct request *req, const char **reason)
{
	json_t	   *errs, *v;
	const char *k, *r;
	int	    t;

	*reason = NULL;
	if (req->json == NULL)
		return (OK);
	errs = json_array();
	if (!json_is_object(req->json))
		therapy_err(errs, "", "type",
		    "the body is {\"reason\": text}, or none");
	else {
		json_object_foreach(req->json, k, v)
			if (strcmp(k, "reason") != 0)
				therapy_err(errs, k, "unknown_field",
				    "this action takes only a reason");
		if ((v = json_object_get(req->json, "reason")) != NULL &&
		    !json_is_null(v)) {
			r = json_string_value(v);
			if (r == NULL || strlen(r) != json_string_length(v))
				therapy_err(
				    errs, "reason", "type", "must be text");
			else if ((t = text_check(r)) == TEXT_CONTROL)
				therapy_err(errs, "reason", "invalid_format",
				    "must not hold control characters");
			else if (t == TEXT_BLANK)
				therapy_err(errs, "reason", "required",
				    "must not be blank");
			else if (therapy_chars(r) > THERAPY_REASON_MAX)
				therapy_err(errs, "reason", "too_long",
				    "at most 500 characters");
			else
				*reason = r;
		}
	}
	return (therapy_errs_answer(req, errs, "The cancel is not valid"));
}

/*
 * The action at this time: complete and no-show once the session has
 * started; a client's cancel before it; staff's cancel after it only with
 * a reason (none is asked for, or kept, when the client was erased: there
 * is no key to seal it under); a reschedule before it. staff: the caller
 * is an admin or the session's therapist.
 */
static int
action_timely(struct saction *a, const struct tsession *s, int staff)
{
	char iso[ISO_TIME_LEN];
	int  started = time_now_ms() >= s->start;

	time_format_iso(s->start, iso);
	if (strcmp(a->to, "completed") == 0 || strcmp(a->to, "no_show") == 0) {
		if (started)
			return (OK);
		http_problem(a->req, ERR_CONFLICT, "SESSION_NOT_STARTED",
		    "The session starts at %s: it is marked %s only once it "
		    "has started.",
		    iso,
		    strcmp(a->to, "completed") == 0 ? "completed"
						    : "a no-show");
		return (ERR_CONFLICT);
	}
	if (strcmp(a->to, "rescheduled") == 0 && started) {
		http_problem(a->req, ERR_CONFLICT, "SESSION_STARTED",
		    "The session started at %s: it is not moved; mark it "
		    "completed or a no-show, or cancel it, and book a new one.",
		    iso);
		return (ERR_CONFLICT);
	}
	if (strcmp(a->to, "cancelled") != 0 || !started)
		return (OK);
	if (!staff) {
		http_problem(a->req, ERR_CONFLICT, "SESSION_STARTED",
		    "The session started at %s: a client cancels only before "
		    "the start.",
		    iso);
		return (ERR_CONFLICT);
	}
	if (a->reason != NULL || a->keyless)
		return (OK);
	http_problem_ext(a->req, ERR_INVALID, NULL,
	    json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "field", "reason",
		"code", "required", "detail",
		"a session that has started is cancelled with a reason"),
	    "The session started at %s: say why it is cancelled.", iso);
	return (ERR_INVALID);
}

/* a->keyless: the session's client was erased (their key is gone). */
static int
client_keyless(struct saction *a, struct tx *tx, const struct tsession *s)
{
	unsigned char key[SEAL_KEY_LEN];
	int	      rc;

	rc = seal_key_load(tx, s->client_id, key);
	sodium_memzero(key, sizeof(key));
	a->keyless = rc == ERR_NOT_FOUND;
	return (rc == ERR_NOT_FOUND ? OK : rc);
}

/* The cancel's reason, sealed under the client's key. */
static int
reason_write(struct saction *a, struct tx *tx, const struct tsession *s)
{
	struct stmt  *st;
	unsigned char key[SEAL_KEY_LEN], *blob = NULL;
	size_t	      len = 0;
	int	      rc;

	if ((rc = seal_key_load(tx, s->client_id, key)) == OK)
		rc = seal_field(key, "therapy_sessions", "cancel_reason", s->id,
		    a->reason, &blob, &len);
	sodium_memzero(key, sizeof(key));
	if (rc == ERR_NOT_FOUND) {
		/* Erased meanwhile (action_tx looked first): keep nothing. */
		a->keyless = 1;
		return (OK);
	}
	if (rc != OK)
		return (rc);
	st = store_prepare(
	    tx, "UPDATE therapy_sessions SET cancel_reason = ? WHERE id = ?");
	store_bind_blob(st, 1, blob, len);
	store_bind_text(st, 2, s->id);
	rc = store_step(st);
	store_finalize(st);
	free(blob);
	return (rc == STORE_DONE ? OK : rc);
}

/*
 * Who may: an admin (update scope all) or the session's therapist; the
 * client may cancel. Others who see the session (the client asking for
 * anything else, a guardian) are refused (403); to anyone else it does
 * not exist (404). Then the status, then the time (action_timely).
 */
static int
action_tx(struct tx *tx, void *arg)
{
	struct saction	   *a = arg;
	struct resource_ctx ctx;
	struct tsession	    s;
	struct stmt	   *st;
	json_t		   *changes;
	char		    verb[64];
	int		    rc, is_client;

	json_decref(a->row);
	a->row = NULL;
	a->new_id[0] = '\0';
	if ((rc = therapy_session_load(tx, a->id, &s)) != OK)
		return (rc);
	if ((rc = session_seen(a, tx, &s)) != OK)
		goto out;
	is_client = strcmp(s.client_id, a->who->user_id) == 0;
	if (a->update != SCOPE_ALL &&
	    !(is_client && strcmp(a->to, "cancelled") == 0) &&
	    strcmp(s.therapist_user, a->who->user_id) != 0) {
		rc = ERR_FORBIDDEN;
		goto out;
	}
	if (strcmp(s.status, "scheduled") != 0) {
		http_problem(a->req, ERR_CONFLICT, "INVALID_TRANSITION",
		    "A %s "
		    "session cannot become %s.",
		    s.status, a->to);
		rc = ERR_CONFLICT;
		goto out;
	}
	if (strcmp(a->to, "cancelled") == 0 &&
	    (rc = client_keyless(a, tx, &s)) != OK)
		goto out;
	if ((rc = action_timely(a, &s, a->update == SCOPE_ALL || !is_client)) !=
	    OK)
		goto out;
	/* The old session leaves the calendar before its replacement
	 * enters it (the database refuses overlapping live sessions). */
	st = store_prepare(tx,
	    "UPDATE therapy_sessions SET status = ?, "
	    "updated_at = ?, updated_by = ? WHERE id = ? AND status = "
	    "'scheduled'");
	store_bind_text(st, 1, a->to);
	store_bind_int64(st, 2, time_now_ms());
	store_bind_text(st, 3, a->who->user_id);
	store_bind_text(st, 4, s.id);
	rc = store_step(st);
	rc = rc == STORE_DONE ? (store_changes(st) == 1 ? OK : ERR_CONFLICT)
			      : rc;
	store_finalize(st);
	if (rc != OK)
		goto out;
	if (strcmp(a->to, "rescheduled") == 0 &&
	    (rc = reschedule(a, tx, &s)) != OK)
		goto out;
	if (a->reason != NULL && !a->keyless &&
	    (rc = reason_write(a, tx, &s)) != OK)
		goto out;
	snprintf(verb, sizeof(verb), "therapy_sessions.%s", a->to);
	/* Field names, never the reason's text. */
	changes = json_pack("{s:[s,s*],s:s,s:s*}", "fields", "status",
	    a->reason != NULL && !a->keyless ? "cancel_reason" : NULL, "status",
	    a->to, "new_session_id", a->new_id[0] ? a->new_id : NULL);
	rc = audit_append(
	    tx, a->who, a->req, verb, "therapy_sessions", s.id, changes);
	json_decref(changes);
	if (rc != OK)
		goto out;
	memset(&ctx, 0, sizeof(ctx));
	ctx.req = a->req;
	ctx.tx = tx;
	ctx.res = &therapy_sessions_resource;
	ctx.who = a->who;
	/* The answer shows what the caller may see of it, no more. */
	ctx.scope = a->read;
	rc = resource_load(&ctx, a->new_id[0] ? a->new_id : s.id, &a->row);
out:
	free(s.meta);
	return (rc);
}

/* Book the same session at the new times, linked to the old one. */
static int
reschedule(struct saction *a, struct tx *tx, struct tsession *s)
{
	struct resource_ctx ctx;
	char		    iso[2][ISO_TIME_LEN];
	json_t		   *body;
	int		    rc;

	body = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:s}", "therapist_id",
	    s->therapist_id, "client_id", s->client_id, "start_time",
	    time_format_iso(a->start, iso[0]), "end_time",
	    time_format_iso(a->end, iso[1]), "type", s->type, "format",
	    s->format, "meta", json_loads(s->meta, 0, NULL),
	    "rescheduled_from_id", s->id);
	if (body == NULL)
		return (ERR_NOMEM);
	memset(&ctx, 0, sizeof(ctx));
	ctx.req = a->req;
	ctx.tx = tx;
	ctx.res = &therapy_sessions_resource;
	ctx.who = a->who;
	ctx.scope = a->update;
	/* The new booking obeys every booking rule: an active therapist
	 * who is still the client's practitioner, consent, no overlap (the
	 * old session already left the calendar). */
	if ((rc = sessions_before_create(&ctx, body)) == OK)
		rc = resource_insert(&ctx, body, a->new_id);
	json_decref(body);
	return (rc);
}
