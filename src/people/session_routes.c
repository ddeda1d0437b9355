/*
 * A person's auth sessions, listed and ended:
 *
 *	GET    /v1/me/sessions				the caller's live sessions
 *	DELETE /v1/me/sessions/{id}			end one of them
 *	POST   /v1/me/sessions/end-others		end all but this one
 *	GET    /v1/users/{id}/sessions			a user's live sessions
 *	DELETE /v1/users/{id}/sessions/{session_id}	end one of them
 *	POST   /v1/users/{id}/sessions/end-all		end all of them
 *
 * Live means not ended, before its absolute expiry and not idle past its
 * timeout (people_session_live). Each answers the session's id, whether
 * it is the one making the request ("current"), the address, user agent
 * and device fingerprint it signed in from (stored sealed under the
 * user's data key, opened here: sessions.c), when it started, when it was
 * last used (written at most once a step: people_activity_step) and when
 * it ends at the latest; never its token's hash. Newest first, paged by
 * id (?limit, ?cursor; a bad one is 400 INVALID_PARAMETER or
 * INVALID_CURSOR, as a declared list answers: resource_page_query).
 *
 * Access is the declaration's (auth_sessions_resource): auth_sessions:read
 * and :delete, own for everyone as seeded, all for admins; a user outside
 * the caller's scope is answered 404 as a user that does not exist. Ending
 * a session makes its token fail at the next request (the authenticator
 * reads the session every time): 401 SESSION_EXPIRED. end-all never ends
 * the session making the request (an admin ending their own others).
 * Every ending is audited: auth_sessions.end (one) or
 * auth_sessions.end_others (entity the user, with the count).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "people/gdpr.h"
#include "people/people.h"
#include "people/people_int.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "resource/seal.h"
#include "store/store.h"

#define SESSIONS_LIST_MAX 200

/* Live at ?: not ended, before expiry, not idle past the timeout. */
#define LIVE                                                                   \
	"ended_at IS NULL AND expires_at > ? AND last_activity_at + "          \
	"idle_timeout_ms > ?"

/* One list or ending, run in one transaction. */
struct sess_op {
	struct request	       *req;
	const struct principal *who;
	enum scope		scope;	 /* auth_sessions:read or :delete */
	const char	       *user_id; /* whose sessions */
	const char	       *one;	 /* the session to end; NULL: all */
	const char	       *reason;	 /* end_reason */
	struct resource_page	pg;	 /* lists */
	json_t		       *data;	 /* the list, owned */
	int64_t			ended;	 /* sessions ended */
	int64_t			now;
};

static int sess_begin(
    struct request *, struct sess_op *, const char *action, int mine);
static int     sess_access(struct tx *, struct sess_op *);
static json_t *sess_row(
    struct stmt *, const char *current, const unsigned char *key);
static int  list_tx(struct tx *, void *);
static int  end_tx(struct tx *, void *);
static void sess_list(struct request *, int mine);
static void sess_end(struct request *, int mine, int one);

/*
 * The caller's scope for action, and whose sessions the route names: the
 * caller's (mine) or user {id}'s. 403 without the permission at all; 404
 * for an {id} or a session id that is no UUID. Problem set when not OK.
 */
static int
sess_begin(
    struct request *req, struct sess_op *op, const char *action, int mine)
{
	memset(op, 0, sizeof(*op));
	op->req = req;
	op->who = req->caller;
	op->now = time_now_ms();
	op->user_id = mine ? op->who->user_id : http_param(req, "id");
	op->scope = resource_scope(req->db, op->who, "auth_sessions", action);
	if (op->scope == SCOPE_NONE) {
		http_problem(req, ERR_FORBIDDEN, NULL,
		    "You may not %s auth sessions.",
		    strcmp(action, "read") == 0 ? "list" : "end");
		return (ERR_FORBIDDEN);
	}
	if (op->user_id == NULL || !uuid_valid(op->user_id)) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such user.");
		return (ERR_NOT_FOUND);
	}
	return (OK);
}

/* The user exists and the caller's scope covers them; else 404. */
static int
sess_access(struct tx *tx, struct sess_op *op)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx, "SELECT 1 FROM users WHERE id = ?");
	store_bind_text(st, 1, op->user_id);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_ROW)
		return (rc == STORE_DONE ? ERR_NOT_FOUND : rc);
	rc = resource_covers(
	    tx, &auth_sessions_resource, op->who, op->scope, op->user_id);
	return (rc == ERR_FORBIDDEN ? ERR_NOT_FOUND : rc);
}

/* key: the user's, to open the details with; NULL once erased. */
static json_t *
sess_row(struct stmt *st, const char *current, const unsigned char *key)
{
	json_t	   *o;
	const char *names[] = { "ip", "user_agent", "device_fingerprint" };
	const char *id = store_col_text(st, 0);
	int	    i;

	o = json_pack("{s:s,s:b,s:o,s:o,s:o}", "id", store_col_text(st, 0),
	    "current", strcmp(store_col_text(st, 0), current) == 0,
	    "created_at", people_json_time(0, store_col_int64(st, 4)),
	    "last_activity_at", people_json_time(0, store_col_int64(st, 5)),
	    "expires_at", people_json_time(0, store_col_int64(st, 6)));
	for (i = 0; o != NULL && i < PEOPLE_SESSION_DETAILS; i++)
		json_object_set_new(
		    o, names[i], people_session_detail(key, st, 1 + i, i, id));
	return (o);
}

static int
list_tx(struct tx *tx, void *arg)
{
	struct sess_op *op = arg;
	struct stmt    *st;
	json_t	       *row;
	unsigned char	key[SEAL_KEY_LEN];
	int		rc, step, after = op->pg.after[0] != '\0', i = 0;
	int		have_key;

	json_decref(op->data);
	op->data = NULL;
	if ((rc = sess_access(tx, op)) != OK)
		return (rc);
	/* Every row is the user's: one key opens them all. */
	rc = seal_key_load(tx, op->user_id, key);
	if (rc != OK && rc != ERR_NOT_FOUND)
		return (rc);
	have_key = rc == OK;
	if ((op->data = json_array()) == NULL) {
		sodium_memzero(key, sizeof(key));
		return (ERR_NOMEM);
	}
	st = store_prepare(tx,
	    after ? "SELECT id, ip, user_agent, device_fingerprint, "
		    "created_at, last_activity_at, expires_at FROM "
		    "auth_sessions WHERE user_id = ? AND " LIVE
		    " AND id < ? ORDER BY id DESC LIMIT ?"
		  : "SELECT id, ip, user_agent, device_fingerprint, "
		    "created_at, last_activity_at, expires_at FROM "
		    "auth_sessions WHERE user_id = ? AND " LIVE
		    " ORDER BY id DESC LIMIT ?");
	store_bind_text(st, ++i, op->user_id);
	store_bind_int64(st, ++i, op->now);
	store_bind_int64(st, ++i, op->now);
	if (after)
		store_bind_text(st, ++i, op->pg.after);
	store_bind_int64(st, ++i, op->pg.limit + 1);
	while ((step = store_step(st)) == STORE_ROW &&
	    json_array_size(op->data) <= (size_t)op->pg.limit) {
		if ((row = sess_row(st, op->who->session_id,
			 have_key ? key : NULL)) == NULL ||
		    json_array_append_new(op->data, row) != 0) {
			step = ERR_NOMEM;
			break;
		}
	}
	store_finalize(st);
	sodium_memzero(key, sizeof(key));
	return (step == STORE_ROW || step == STORE_DONE ? OK : step);
}

static int
end_tx(struct tx *tx, void *arg)
{
	struct sess_op *op = arg;
	struct stmt    *st;
	json_t	       *changes;
	int		rc, step;

	op->ended = 0;
	if ((rc = sess_access(tx, op)) != OK)
		return (rc);
	st = store_prepare(tx,
	    op->one != NULL
		? "UPDATE auth_sessions SET ended_at = ?, "
		  "end_reason = ? WHERE user_id = ? AND " LIVE " AND id = ?"
		: "UPDATE auth_sessions SET ended_at = ?, "
		  "end_reason = ? WHERE user_id = ? AND " LIVE " AND id <> ?");
	store_bind_int64(st, 1, op->now);
	store_bind_text(st, 2, op->reason);
	store_bind_text(st, 3, op->user_id);
	store_bind_int64(st, 4, op->now);
	store_bind_int64(st, 5, op->now);
	/* One: that one; all: all but the session making the request. */
	store_bind_text(st, 6, op->one != NULL ? op->one : op->who->session_id);
	step = store_step(st);
	op->ended = store_changes(st);
	store_finalize(st);
	if (step != STORE_DONE)
		return (step);
	people_session_cache_forget_tx(tx, op->user_id);
	if (op->one != NULL && op->ended == 0)
		return (ERR_NOT_FOUND);
	if (op->ended == 0)
		return (OK); /* nothing ended, nothing to record */
	changes = op->one != NULL
	    ? json_pack(
		  "{s:s,s:s}", "user_id", op->user_id, "reason", op->reason)
	    : json_pack("{s:I,s:s}", "ended", (json_int_t)op->ended, "reason",
		  op->reason);
	if (changes == NULL)
		return (ERR_NOMEM);
	rc = op->one != NULL
	    ? audit_append(tx, op->who, op->req, "auth_sessions.end",
		  "auth_sessions", op->one, changes)
	    : audit_append(tx, op->who, op->req, "auth_sessions.end_others",
		  "users", op->user_id, changes);
	json_decref(changes);
	return (rc);
}

static void
sess_list(struct request *req, int mine)
{
	struct sess_op op;
	int	       rc;

	if (sess_begin(req, &op, "read", mine) != OK ||
	    resource_page_query(req, SESSIONS_LIST_MAX, PAGE_ID_DESC, &op.pg) !=
		OK)
		return;
	if ((rc = store_run(req->db, STORE_TX_READ, list_tx, &op)) != OK) {
		json_decref(op.data);
		http_problem(req, rc, NULL,
		    rc == ERR_NOT_FOUND ? "No such user."
					: "The sessions cannot be read.");
		return;
	}
	http_json(req, 200, resource_page_json(&op.pg, op.data));
}

/* End session {id} (mine) or {session_id} (a user's), or all others. */
static void
sess_end(struct request *req, int mine, int one)
{
	struct sess_op op;
	int	       rc;

	if (sess_begin(req, &op, "delete", mine) != OK)
		return;
	if (one) {
		op.one = http_param(req, mine ? "id" : "session_id");
		if (op.one == NULL || !uuid_valid(op.one)) {
			http_problem(
			    req, ERR_NOT_FOUND, NULL, "No such session.");
			return;
		}
	}
	op.reason = strcmp(op.user_id, op.who->user_id) == 0 ? "ended_by_user"
							     : "ended_by_staff";
	http_read_tx_end(req);
	if ((rc = store_run(req->db, STORE_TX_WRITE, end_tx, &op)) != OK) {
		http_problem(req, rc, NULL,
		    rc != ERR_NOT_FOUND ? "The sessions were not ended."
			: one		? "No such live session."
					: "No such user.");
		return;
	}
	if (one)
		http_send(req, 204, "application/json", NULL, 0);
	else
		http_json(req, 200,
		    json_pack("{s:I}", "ended", (json_int_t)op.ended));
}

void
people_my_sessions_list(struct request *req)
{
	sess_list(req, 1);
}

void
people_my_session_end(struct request *req)
{
	sess_end(req, 1, 1);
}

void
people_my_sessions_end_others(struct request *req)
{
	sess_end(req, 1, 0);
}

void
people_user_sessions_list(struct request *req)
{
	sess_list(req, 0);
}

void
people_user_session_end(struct request *req)
{
	sess_end(req, 0, 1);
}

void
people_user_sessions_end_all(struct request *req)
{
	sess_end(req, 0, 0);
}
