/*
 * GDPR: export and erasure of a person.
 *
 * Export (GET /v1/me/export; admins: GET /v1/users/{id}/export) is one
 * JSON document with what carebase holds about the person: their users
 * row as the users resource declares it (every field but hidden ones,
 * personal fields opened: resource_export_row) with its audit_ref, the
 * rows they own of every other declared resource (resource_export_owned:
 * under "records", or beside "user" for the account's own tables: its
 * auth sessions, password resets (times only) and the mail sent for them
 * or to their current address) and the modules' GDPR hooks' rows, their
 * relationships and the audit records where they are the actor or the
 * entity. Other people's details in those records (an admin's pseudonym,
 * address, agent) are left out. A user deleted (soft) but not erased is
 * still exported to admins. What is too large for the document (a
 * recording's points) is linked (a hook's export_links): each link
 * carries the export's id (export_id, resource_export_id) and serves the
 * session that made the export alone, until it ends (links_expire_at:
 * the session's absolute end; signing out or idling ends it sooner).
 *
 * Erasure (DELETE /v1/me with the current password; admins: POST
 * /v1/users/{id}/erase) runs in one transaction: the modules' erasure
 * hooks run (while the data key is still there: the chat profile sync
 * opens the addresses it must have deleted at the provider), the data key
 * is destroyed (every sealed field becomes unreadable), sessions end,
 * login failure counts and relationships are deleted, what the
 * declarations say is done (resource_erase_owned: personal and
 * FIELD_ERASE fields and blind indexes cleared, among them the users
 * row's and the sessions' address and agent; password resets and the mail
 * log's rows for the person or to their address deleted), the users row
 * loses its password hash and pseudonym and is marked deleted, and an
 * audit record users.erase is appended with the eraser as actor
 * (audit_append records a person erasing themselves as "self", without
 * pseudonym). The person's audit_ref is cleared, so the records they made
 * stay in the chain under a pseudonym nothing links to them any more. A
 * soft-deleted user can still be erased; an erased one (deleted, no
 * audit_ref) cannot. The erasure's last step appends the person's id to
 * the erasure journal (erasures.c), so a backup restored later cannot
 * bring them back.
 *
 * A COMMIT can fail after that line is written (or a retry fail after an
 * attempt wrote it): people_erasures_settle then looks whether the person
 * is erased after all (a COMMIT whose answer was lost may have taken
 * effect). Erased: the line stays and the answer is 204. Not: the line is
 * withdrawn, so no replay makes an erasure that was refused, and the
 * answer is the failure. Not known, or not withdrawn (the journal cannot
 * be written): the line stays, the next start-up completes the erasure,
 * and the answer is 202 saying so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "people/gdpr.h"
#include "people/people.h"
#include "people/people_int.h"
#include "resource/hooks.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "resource/seal.h"
#include "store/migrate.h"
#include "store/store.h"

#define EXPORT_ROWS_MAX 10000 /* per section; "truncated" says when hit */
/*
 * A users row not erased: live, or deleted but still holding its
 * pseudonym. Erasure clears audit_ref and sets deleted_at.
 */
#define NOT_ERASED "(deleted_at IS NULL OR audit_ref IS NOT NULL)"

/* What the OpenAPI document says of the routes (struct route's api). */
/* clang-format off */
#define API_REL_ANSWER							\
	"\"answers\":{\"200\":{\"description\":\"the relationship\","	\
	"\"schema\":{\"$ref\":\"#/components/schemas/relationships\"}}},"	\
	"\"problems\":{\"403\":\"not yours to change\",\"404\":\"no such "	\
	"relationship\",\"409\":\"not in a state that allows it\","	\
	"\"422\":\"UNKNOWN_FIELD or a bad member\"}}"
#define API_AUDIT_RECORD						\
	"{\"type\":\"object\",\"required\":[\"seq\",\"id\",\"at\","	\
	"\"action\",\"entity_type\",\"changes\"],\"properties\":{"	\
	"\"seq\":{\"type\":\"integer\"},\"id\":{\"type\":\"string\"},"	\
	"\"at\":{\"type\":\"string\",\"format\":\"date-time\"},"	\
	"\"changes\":{\"type\":[\"object\",\"array\",\"string\","	\
	"\"null\"]},\"actor_ref\":{\"type\":[\"string\",\"null\"]},"	\
	"\"actor_role\":{\"type\":[\"string\",\"null\"]},\"action\":{"	\
	"\"type\":\"string\"},\"entity_type\":{\"type\":\"string\"},"	\
	"\"entity_id\":{\"type\":[\"string\",\"null\"]},\"ip\":{"	\
	"\"type\":[\"string\",\"null\"]},\"user_agent\":{\"type\":["	\
	"\"string\",\"null\"]},\"request_id\":{\"type\":[\"string\","	\
	"\"null\"]},\"prev_hash\":{\"type\":[\"string\",\"null\"]},"	\
	"\"hash\":{\"type\":[\"string\",\"null\"]},\"ip_index\":{"	\
	"\"type\":[\"string\",\"null\"],\"description\":\"the log's "	\
	"own view (not an export's): the address's blind index where "	\
	"the address itself is gone (audit_details_json)\"},"		\
	"\"user_agent_index\":{\"type\":[\"string\",\"null\"],"	\
	"\"description\":\"the same for the user agent\"}},"		\
	"\"additionalProperties\":false}"
#define API_QUERY(n, what)						\
	"{\"name\":\"" n "\",\"in\":\"query\",\"description\":\"" what	\
	"\",\"schema\":{\"type\":\"string\"}}"
/* clang-format on */
static const char api_consent[] =
    "{\"codes\":{\"409\":[\"INVITATION_EXPIRED\"],\"403\":[\"CONSENT_REQUIRED\"],\"422\":[\"UNKNOWN_FIELD\"]},\"body\":{\"type\":\"object\",\"properties\":{\"method\":{"
    "\"enum\":[\"in_app\",\"signed_form\",\"email\",\"verbal\"]}},"
    "\"additionalProperties\":false}," API_REL_ANSWER;
static const char api_end[] =
    "{\"codes\":{\"422\":[\"UNKNOWN_FIELD\"]}," API_REL_ANSWER;
static const char api_health_consent[] =
    "{\"answers\":{\"200\":{\"description\":\"whether health data "
    "may be stored now, and why not\",\"schema\":{\"type\":\"object\","
    "\"required\":[\"allowed\",\"reason\"],\"properties\":{"
    "\"allowed\":{\"type\":\"boolean\"},\"reason\":{\"type\":["
    "\"string\",\"null\"]}}}}}}";
/* clang-format off */
static const char api_audit_log[] =
    "{\"schemas\":{\"audit_record\":" API_AUDIT_RECORD "},"
    "\"parameters\":[" API_QUERY("entity_type", "exact match") ","
    API_QUERY("entity_id", "exact match") ","
    API_QUERY("actor_ref", "exact match") ","
    API_QUERY("action", "exact match (either spelling of cancelled)") ","
    API_QUERY("ip", "exact match, on rows that keep a blind index") ","
    API_QUERY("from", "at or after this time") ","
    API_QUERY("to", "before this time") ","
    "{\"name\":\"limit\",\"in\":\"query\",\"schema\":{\"type\":"
    "\"integer\",\"minimum\":1}},"
    API_QUERY("cursor", "next_cursor of the previous page") "],"
    "\"answers\":{\"200\":{\"description\":\"one page of records, "
    "oldest first\",\"schema\":{\"type\":\"object\",\"required\":["
    "\"data\",\"next_cursor\"],\"properties\":{\"data\":{\"type\":"
    "\"array\",\"items\":{\"$ref\":\"#/components/schemas/"
    "audit_record\"}},\"next_cursor\":{\"type\":[\"string\","
    "\"null\"]}}}}},\"problems\":{\"403\":\"admins only\",\"422\":"
    "\"a bad filter, limit or cursor\"}}";
/* clang-format on */

static const struct route access_routes[] = {
	{ HTTP_POST, "/v1/relationships/{id}/consent",
	    people_relationship_consent, ROUTE_RAW_BODY,
	    "Record consent (the adult follower, or an admin for consent "
	    "given offline): pending -> active",
	    NULL, api_consent },
	{ HTTP_POST, "/v1/relationships/{id}/end", people_relationship_end,
	    ROUTE_RAW_BODY, "End a relationship", NULL, api_end },
	{ HTTP_GET, "/v1/me/health-consent", people_health_consent_get, 0,
	    "May your health data be stored now (digital-consent age)?", NULL,
	    api_health_consent },
	{ HTTP_GET, "/v1/audit-log", people_audit_log_list, 0,
	    "Read the audit log (admins; filters entity_type, entity_id, "
	    "actor_ref, action (either spelling of cancelled finds both), "
	    "ip (rows that keep it as a blind index), from, to; limit, "
	    "cursor)",
	    NULL, api_audit_log },
};

const struct module people_access_module = {
	.name = "people_access",
	.routes = access_routes,
	.nroutes = NELEM(access_routes),
};

/*
 * One erasure. req and who are NULL when it is replayed from the erasure
 * journal (erasures.c); at is every attempt's time, journalled. The last
 * three are out: the person was an admin, the users row was erased now,
 * an attempt wrote the journal line.
 */
struct erase {
	struct request	       *req;
	const struct principal *who;
	const char	       *user_id;
	int64_t			at;
	int			replay;
	int			was_admin;
	int			erased;
	int			journalled;
	int			migrating; /* a migration held us off */
};

struct export
{
	struct request	 *req;
	struct principal *who;
	const char	 *user_id;
	int		  audited; /* an admin's export: audit it */
	json_t		 *doc;
};

static int user_json(struct tx *, const char *, json_t **, char *, char *);
static int rows_json(struct tx *, const char *, const char *, const char *,
    const char *, json_t *, int *);
static int audit_json(struct tx *, const char *, const char *, json_t *, int *);
static int session_end(struct tx *, const char *, json_t **);
static int export_tx(struct tx *, void *);
static void export_send(
    struct request *, struct principal *, const char *, int);
static int  erase_tx(struct tx *, void *);
static int  erase_in(struct tx *, struct erase *);
static int  exec_id(struct tx *, const char *, const char *, int);
static void erase_send(struct request *, struct principal *, const char *);

json_t *
people_json_time(int null, int64_t ms)
{
	char ts[ISO_TIME_LEN];

	if (null)
		return (json_null());
	return (json_string(time_format_iso(ms, ts)));
}

int
people_body_object(struct request *req, json_t **out)
{
	json_error_t e;

	*out = NULL;
	if (req->body == NULL || req->body_len == 0)
		return (OK);
	if ((*out = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES,
		 &e)) == NULL ||
	    !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		http_problem(req, ERR_MALFORMED, NULL,
		    "The body must be a JSON object.");
		return (ERR_MALFORMED);
	}
	return (OK);
}

/*
 * The users row as the users resource declares it (every field but the
 * hidden ones, personal fields opened) and its audit_ref. audit_ref and
 * email_index go to the caller too (each 65 bytes; "" when NULL).
 */
static int
user_json(struct tx *tx, const char *id, json_t **out, char *audit_ref,
    char *email_index)
{
	struct stmt *st;
	int	     rc;

	*out = NULL;
	audit_ref[0] = email_index[0] = '\0';
	st = store_prepare(tx,
	    "SELECT audit_ref, email_index FROM users WHERE id = ? "
	    "AND " NOT_ERASED);
	store_bind_text(st, 1, id);
	if ((rc = store_step(st)) == STORE_ROW) {
		if (!store_col_is_null(st, 0))
			strlcpy_cb(audit_ref, store_col_text(st, 0), 65);
		if (!store_col_is_null(st, 1))
			strlcpy_cb(email_index, store_col_text(st, 1), 65);
	}
	store_finalize(st);
	if (rc != STORE_ROW)
		return (rc == STORE_DONE ? ERR_NOT_FOUND : rc);
	if ((rc = resource_export_row(tx, &users_resource, id, out)) != OK)
		return (rc);
	if (json_object_set_new(*out, "audit_ref",
		audit_ref[0] != '\0' ? json_string(audit_ref) : json_null()) !=
	    0)
		return (ERR_NOMEM);
	return (OK);
}

/*
 * Rows of sql (one text parameter, bound twice when arg2 is not NULL)
 * into out, column types given by types: 't' text, 'i' integer, 'T' time,
 * 'j' JSON text. *truncated is set past EXPORT_ROWS_MAX.
 */
static int
rows_json(struct tx *tx, const char *sql, const char *types, const char *arg,
    const char *arg2, json_t *out, int *truncated)
{
	struct stmt *st;
	json_t	    *o, *v;
	int	     i, step, count = 0;

	st = store_prepare(tx, sql);
	store_bind_text(st, 1, arg);
	if (arg2 != NULL)
		store_bind_text(st, 2, arg2);
	while ((step = store_step(st)) == STORE_ROW) {
		if (++count > EXPORT_ROWS_MAX) {
			*truncated = 1;
			break;
		}
		if ((o = json_object()) == NULL) {
			step = ERR_NOMEM;
			break;
		}
		for (i = 0; types[i] != '\0'; i++) {
			int null = store_col_is_null(st, i);

			if (null && types[i] != 'T')
				v = json_null();
			else if (types[i] == 'i')
				v = json_integer(store_col_int64(st, i));
			else if (types[i] == 'T')
				v = people_json_time(
				    null, store_col_int64(st, i));
			else if (types[i] != 'j' ||
			    (v = json_loads(store_col_text(st, i), 0, NULL)) ==
				NULL)
				v = json_string(store_col_text(st, i));
			json_object_set_new(o, store_col_name(st, i), v);
		}
		json_array_append_new(out, o);
	}
	store_finalize(st);
	return (step == STORE_ROW || step == STORE_DONE ? OK : step);
}

/*
 * Audit records where the person acted (their pseudonym) or was acted on
 * (entity users/<id>). Where someone else acted, who is theirs, not the
 * person's: left out. The address and agent only where they are the
 * person's (audit_details_json), opened.
 */
static int
audit_json(struct tx *tx, const char *audit_ref, const char *user_id,
    json_t *out, int *truncated)
{
	struct audit_reader rd;
	json_t		   *row;
	const char	   *ref, *changes;
	char		    sql[1024];
	size_t		    i;
	int		    rc = OK, n;

	if ((rc = audit_changes_shown(tx, &changes)) != OK)
		return (rc);
	n = snprintf(sql, sizeof(sql),
	    "SELECT seq, id, at, actor_ref, actor_role, action, "
	    "entity_type, entity_id, %s, ip, user_agent, request_id "
	    "FROM audit_log WHERE actor_ref = ? OR (entity_type = 'users' AND "
	    "entity_id = ?) ORDER BY seq",
	    changes);
	if (n < 0 || (size_t)n >= sizeof(sql))
		return (ERR_INTERNAL);
	rc = rows_json(tx, sql, "itTtttttjttt",
	    audit_ref[0] != '\0' ? audit_ref : "-", user_id, out, truncated);
	if (rc != OK)
		return (rc);
	audit_reader_init(&rd);
	json_array_foreach(out, i, row) {
		if ((rc = audit_details_json(tx, &rd, row, user_id)) != OK)
			break;
		ref = json_string_value(json_object_get(row, "actor_ref"));
		if (ref == NULL || strcmp(ref, audit_ref) != 0)
			json_object_set_new(row, "actor_ref", json_null());
	}
	audit_reader_wipe(&rd);
	return (rc);
}

/* When session id ends at the latest (its absolute end), or null. */
static int
session_end(struct tx *tx, const char *id, json_t **out)
{
	struct stmt *st;
	int	     rc;

	*out = json_null();
	st = store_prepare(
	    tx, "SELECT expires_at FROM auth_sessions WHERE id = ?");
	store_bind_text(st, 1, id);
	if ((rc = store_step(st)) == STORE_ROW)
		*out = people_json_time(0, store_col_int64(st, 0));
	store_finalize(st);
	return (rc == STORE_ROW || rc == STORE_DONE ? OK : rc);
}

int
people_export(struct tx *tx, const struct principal *who, struct request *req,
    const char *user_id, int audited, json_t **doc)
{
	json_t *user = NULL, *rels, *audit, *owned, *ends = NULL;
	char	audit_ref[65], email_index[65], ts[ISO_TIME_LEN];
	char	export_id[RESOURCE_EXPORT_ID_LEN + 1];
	int	rc, truncated = 0;

	*doc = NULL;
	if ((rc = user_json(tx, user_id, &user, audit_ref, email_index)) != OK)
		return (rc);
	if ((rc = session_end(tx, who->session_id, &ends)) != OK) {
		json_decref(user);
		return (rc);
	}
	resource_export_id(who, user_id, export_id);
	rels = json_array();
	audit = json_array();
	owned = json_object();
	*doc = json_pack("{s:s,s:s,s:o,s:o,s:o,s:o,s:o}", "exported_at",
	    time_format_iso(time_now_ms(), ts), "export_id", export_id,
	    "links_expire_at", ends, "user", user, "relationships", rels,
	    "audit_log", audit, "records", owned);
	if (*doc == NULL)
		return (ERR_NOMEM);
	if ((rc = people_relationships_of(tx, user_id, rels, &truncated)) !=
		OK ||
	    (rc = audit_json(tx, audit_ref, user_id, audit, &truncated)) !=
		OK ||
	    (rc = resource_export_owned(tx, who, req, user_id, email_index,
		 *doc, owned, &truncated)) != OK ||
	    (rc = hooks_gdpr_export(
		 tx, user_id, export_id, owned, &truncated)) != OK)
		return (rc);
	json_object_set_new(*doc, "truncated", json_boolean(truncated));
	if (audited)
		return (audit_read(
		    tx, who, req, "users.export", "users", user_id, NULL));
	return (OK);
}

static int
export_tx(struct tx *tx, void *arg)
{
	struct export *e = arg;

	json_decref(e->doc);
	e->doc = NULL;
	return (
	    people_export(tx, e->who, e->req, e->user_id, e->audited, &e->doc));
}

static void
export_send(
    struct request *req, struct principal *who, const char *id, int audited)
{
	struct export e;
	int rc;

	memset(&e, 0, sizeof(e));
	e.req = req;
	e.who = who;
	e.user_id = id;
	e.audited = audited;
	/* A read: the audit rows of the health records in the export (and
	 * an admin's export itself) are queued (audit_read). */
	rc = store_run(req->db, STORE_TX_READ, export_tx, &e);
	if (rc == OK) {
		http_header_add(req, "Cache-Control", "no-store");
		http_json(req, 200, e.doc);
		return;
	}
	json_decref(e.doc);
	http_problem(req, rc, NULL,
	    rc == ERR_NOT_FOUND ? "No such user."
				: "The export cannot be made.");
}

void
people_me_export(struct request *req)
{
	struct principal *who;

	who = req->caller;
	export_send(req, who, who->user_id, 0);
}

void
people_user_export(struct request *req)
{
	struct principal *who;
	const char	 *id = http_param(req, "id");

	who = req->caller;
	if (resource_scope(req->db, who, "users", "export") != SCOPE_ALL) {
		http_problem(req, ERR_FORBIDDEN, NULL,
		    "You may not export other users' data.");
		return;
	}
	if (id == NULL || !uuid_valid(id)) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such user.");
		return;
	}
	export_send(req, who, id, 1);
}

/* Run sql with id bound to its nparams parameters. */
static int
exec_id(struct tx *tx, const char *sql, const char *id, int nparams)
{
	struct stmt *st;
	int	     rc, i;

	st = store_prepare(tx, sql);
	for (i = 1; i <= nparams; i++)
		store_bind_text(st, i, id);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

int
people_user_lock(struct tx *tx, const char *user_id)
{
	char key[80];

	snprintf(key, sizeof(key), "people.user:%s", user_id);
	return (store_xact_lock(tx, key));
}

int
people_erase(struct tx *tx, const struct principal *who, struct request *req,
    const char *user_id)
{
	struct erase e;

	memset(&e, 0, sizeof(e));
	e.req = req;
	e.who = who;
	e.user_id = user_id;
	e.at = time_now_ms();
	return (erase_in(tx, &e));
}

/*
 * Erase e->user_id inside tx: the modules' hooks, the data key, sessions
 * ended, relationships; what the declarations say (personal and
 * FIELD_ERASE fields, blind indexes, the rows of password resets and
 * mail); then the account itself, audited. Journalled last, unless
 * replayed from the journal.
 */
static int
erase_in(struct tx *tx, struct erase *e)
{
	struct stmt *st;
	char	     email_index[65] = "";
	json_t	    *changes = NULL, *fields = NULL;
	int64_t	     now = e->at;
	int	     rc, was_admin = 0;

	/* No migration until it ends (resource_erase_owned goes by the
	 * applied ones), taken before touching any table, a read too: a
	 * migration waiting for a table touched here would deadlock with
	 * it. One being applied for long: 503, nothing done (erase_send). */
	if ((rc = migrate_lock_shared(tx)) != OK) {
		e->migrating = rc == ERR_UNAVAILABLE;
		return (rc);
	}
	if ((rc = people_user_lock(tx, e->user_id)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "SELECT email_index, role FROM users WHERE id = ? "
	    "AND " NOT_ERASED);
	store_bind_text(st, 1, e->user_id);
	if ((rc = store_step(st)) == STORE_ROW && !store_col_is_null(st, 0))
		strlcpy_cb(
		    email_index, store_col_text(st, 0), sizeof(email_index));
	if (rc == STORE_ROW)
		was_admin = strcmp(store_col_text(st, 1), "admin") == 0;
	store_finalize(st);
	/* Replayed: a key left beside an erased row goes too. */
	if (rc == STORE_DONE && e->replay)
		return (seal_key_destroy(tx, e->user_id));
	if (rc != STORE_ROW)
		return (rc == STORE_DONE ? ERR_NOT_FOUND : rc);
	e->was_admin = was_admin;
	e->erased = 1;

	/* The hooks first: one may need the key (the chat profile's
	 * addresses, to delete it at the provider). */
	if ((rc = hooks_gdpr_erase(tx, e->user_id)) != OK ||
	    (rc = seal_key_destroy(tx, e->user_id)) != OK ||
	    (rc = people_sessions_end(tx, e->user_id, NULL, "erased")) != OK ||
	    (rc = exec_id(tx,
		 "DELETE FROM relationships WHERE lead_id = ? OR "
		 "follower_id = ?",
		 e->user_id, 2)) != OK)
		return (rc);
	if (email_index[0] != '\0' &&
	    (rc = people_throttle_forget(tx, email_index)) != OK)
		return (rc);
	/* What the declarations say (personal and FIELD_ERASE fields, blind
	 * indexes, the rows erasure deletes: found by the person's id or
	 * their address), then the account itself. */
	if ((fields = json_array()) == NULL)
		return (ERR_NOMEM);
	if ((rc = resource_erase_owned(tx, e->user_id, email_index, fields)) !=
	    OK)
		goto out;
	st = store_prepare(tx,
	    "UPDATE users SET password_hash = NULL, "
	    "audit_ref = NULL, is_active = 0, deleted_at = ?, updated_at = ?, "
	    "updated_by = ? WHERE id = ?");
	store_bind_int64(st, 1, now);
	store_bind_int64(st, 2, now);
	store_bind_text(st, 3, e->who != NULL ? e->who->user_id : NULL);
	store_bind_text(st, 4, e->user_id);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		goto out;
	/* A replay completes an erasure made already, admin or not. */
	if (was_admin && !e->replay &&
	    (rc = people_last_admin_guard(e->req, tx)) != OK)
		goto out;
	if (json_array_append_new(fields, json_string("password_hash")) != 0 ||
	    json_array_append_new(fields, json_string("is_active")) != 0 ||
	    json_array_append_new(fields, json_string("deleted_at")) != 0 ||
	    (changes = json_pack(
		 "{s:O,s:b}", "fields", fields, "key_destroyed", 1)) == NULL ||
	    (e->replay &&
		json_object_set_new(changes, "replayed", json_true()) != 0)) {
		rc = ERR_NOMEM;
		goto out;
	}
	rc = audit_append(
	    tx, e->who, e->req, "users.erase", "users", e->user_id, changes);
	/* Last, so that a failure rolls everything back: no erasure commits
	 * unjournalled. One whose COMMIT fails after this is settled by
	 * people_erasures_settle. Each attempt writes the same line. */
	if (rc == OK && !e->replay &&
	    (rc = people_erasures_append(e->user_id, now)) == OK)
		e->journalled = 1;
out:
	json_decref(fields);
	json_decref(changes);
	return (rc);
}

int
people_erase_replayed(
    struct store *db, const char *user_id, int *erased, int *was_admin)
{
	struct erase e;
	int	     rc;

	memset(&e, 0, sizeof(e));
	e.user_id = user_id;
	e.replay = 1;
	e.at = time_now_ms();
	rc = store_run(db, STORE_TX_WRITE, erase_tx, &e);
	*erased = rc == OK && e.erased;
	*was_admin = e.was_admin;
	return (rc);
}

static int
erase_tx(struct tx *tx, void *arg)
{
	return (erase_in(tx, arg));
}

static void
erase_send(struct request *req, struct principal *who, const char *id)
{
	struct erase e;
	char	     retry[16];
	int	     rc, outcome = PEOPLE_ERASE_UNKNOWN;

	memset(&e, 0, sizeof(e));
	e.req = req;
	e.who = who;
	e.user_id = id;
	e.at = time_now_ms(); /* one line, whichever attempt commits */
	rc = store_run(req->db, STORE_TX_WRITE, erase_tx, &e);
	if (rc != OK && e.journalled)
		outcome = people_erasures_settle(req->db, id, e.at, rc);
	if (rc == OK || (e.journalled && outcome == PEOPLE_ERASE_MADE)) {
		/* SQLite: the erased rows' old pages leave the -wal file
		 * (best effort; PostgreSQL has nothing to do). The
		 * request's read snapshot would hold the checkpoint back. */
		http_read_tx_end(req);
		(void)store_checkpoint(req->db);
		http_send(req, 204, NULL, NULL, 0);
	} else if (e.journalled && outcome != PEOPLE_ERASE_WITHDRAWN)
		/* Accepted: the journal holds it, a replay completes it. */
		http_json(req, 202,
		    json_pack("{s:s,s:s}", "status", "pending", "detail",
			"The erasure did not complete now. It is recorded "
			"in the erasure journal and will be completed when "
			"carebase next starts."));
	else if (e.migrating) {
		/* A migration outlasted migrate_lock_shared's wait. */
		snprintf(retry, sizeof(retry), "%d",
		    (MIGRATE_LOCK_WAIT_MS + 999) / 1000);
		http_header_add(req, "Retry-After", retry);
		http_problem(req, ERR_UNAVAILABLE, "MIGRATIONS_PENDING",
		    "A migration is being applied; nothing changed: ask "
		    "again in a moment.");
	} else if (e.journalled && outcome == PEOPLE_ERASE_WITHDRAWN &&
	    store_lost_peek() == STORE_LOST_COMMIT) {
		/* The COMMIT's answer never came, but the person is not
		 * erased (settle looked, under their lock): nothing was
		 * applied, so not COMMIT_OUTCOME_UNKNOWN, which says read it
		 * back first. Try again. */
		(void)store_lost_take();
		http_problem(req, ERR_UNAVAILABLE, NULL,
		    "The erasure did not complete; nothing changed: ask "
		    "again.");
	} else
		http_problem(req, rc, NULL,
		    rc == ERR_NOT_FOUND
			? "No such user."
			: "The erasure failed; nothing changed.");
}

void
people_me_erase(struct request *req)
{
	struct principal *who;
	json_t		 *body = NULL, *pw = NULL;
	const char	 *key;
	json_t		 *v;
	int		  rc = ERR_INTERNAL;

	who = req->caller;
	if (req->json != NULL)
		body = json_incref(req->json);
	else if (people_body_object(req, &body) != OK)
		return;
	if (body != NULL)
		json_object_foreach(body, key, v)
			if (strcmp(key, "password") != 0) {
				json_decref(body);
				http_problem(req, ERR_INVALID, "UNKNOWN_FIELD",
				    "Only \"password\" is taken here.");
				return;
			}
	if (body == NULL ||
	    !json_is_string(pw = json_object_get(body, "password"))) {
		json_decref(body);
		http_problem_ext(req, ERR_INVALID, NULL,
		    json_pack("{s:[{s:s,"
			      "s:s,s:s}]}",
			"errors", "field", "password", "code", "required",
			"detail", "your current password"),
		    "Erasing your account needs your current password.");
		return;
	}
	/* argon2id is slow: checked before the write transaction starts. */
	rc = people_user_verify(req->db, who->user_id, json_string_value(pw));
	json_decref(body);
	if (rc == ERR_UNAUTHORIZED) {
		http_problem(req, ERR_FORBIDDEN, "WRONG_PASSWORD",
		    "The password is not right.");
		return;
	}
	if (rc != OK) {
		http_problem(req, rc, NULL, "The password cannot be checked.");
		return;
	}
	erase_send(req, who, who->user_id);
}

void
people_user_erase(struct request *req)
{
	struct principal *who;
	const char	 *id = http_param(req, "id");

	who = req->caller;
	if (resource_scope(req->db, who, "users", "erase") != SCOPE_ALL) {
		http_problem(
		    req, ERR_FORBIDDEN, NULL, "You may not erase users.");
		return;
	}
	if (id == NULL || !uuid_valid(id)) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such user.");
		return;
	}
	erase_send(req, who, id);
}
