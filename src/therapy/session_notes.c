/*
 * Private notes of therapy sessions: a column of therapy_sessions, never
 * a field of the resource, so no list, read, export or audit record
 * carries them. They are read and written only through
 * /v1/therapy-sessions/{id}/private-notes, by the session's therapist and
 * admins (therapy_sessions:private_notes:all), sealed under the client's
 * key; every read and write is audited without the text.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "resource/seal.h"
#include "store/store.h"
#include "therapy/therapy_int.h"

/* One read or write, run in one transaction (retried whole when busy). */
struct naction {
	struct request	 *req;
	struct principal *who;
	const char	 *id;
	enum scope	  notes; /* therapy_sessions:private_notes */
	enum scope	  read;	 /* therapy_sessions:read: sees the session */
	const char	 *text;	 /* to write */
	int		  text_null;
	json_t		 *row; /* answer */
};

static int notes_access(struct naction *, struct tx *, struct tsession *);
static int notes_get_tx(struct tx *, void *);
static int notes_put_tx(struct tx *, void *);

/*
 * The session's therapist, or an admin; 403 for the others who see the
 * session (the client, their guardians: the read scope on the declaration
 * decides, as for every other session action); anyone else: no such
 * session.
 */
static int
notes_access(struct naction *a, struct tx *tx, struct tsession *s)
{
	int rc;

	if ((rc = therapy_session_load(tx, a->id, s)) != OK ||
	    (rc = resource_sees(
		 tx, &therapy_sessions_resource, a->who, a->read, s->id)) != OK)
		return (rc);
	if (a->notes == SCOPE_ALL ||
	    strcmp(s->therapist_user, a->who->user_id) == 0)
		return (OK);
	return (ERR_FORBIDDEN);
}

static int
notes_get_tx(struct tx *tx, void *arg)
{
	struct naction *a = arg;
	struct tsession s;
	struct stmt    *st = NULL;
	unsigned char	key[SEAL_KEY_LEN];
	const void     *blob;
	char	       *plain = NULL;
	size_t		len;
	int		rc;

	json_decref(a->row);
	a->row = NULL;
	if ((rc = notes_access(a, tx, &s)) != OK)
		goto out;
	st = store_prepare(tx,
	    "SELECT private_notes FROM therapy_sessions "
	    "WHERE id = ?");
	store_bind_text(st, 1, s.id);
	if ((rc = store_step(st)) != STORE_ROW) {
		rc = rc == STORE_DONE ? ERR_NOT_FOUND : rc;
		goto out;
	}
	rc = OK;
	if (!store_col_is_null(st, 0)) {
		blob = store_col_blob(st, 0, &len);
		if ((rc = seal_key_load(tx, s.client_id, key)) == OK)
			rc = seal_open_field(key, "therapy_sessions",
			    "private_notes", s.id, blob, len, &plain);
		sodium_memzero(key, sizeof(key));
		if (rc == ERR_NOT_FOUND)
			rc = OK; /* the client was erased */
		if (rc != OK)
			goto out;
	}
	if ((rc = audit_read(tx, a->who, a->req,
		 "therapy_sessions.private_notes.read", "therapy_sessions",
		 s.id, NULL)) != OK)
		goto out;
	a->row = json_pack("{s:s,s:s?}", "id", s.id, "private_notes", plain);
	rc = a->row != NULL ? OK : ERR_NOMEM;
out:
	if (plain != NULL) {
		sodium_memzero(plain, strlen(plain));
		free(plain);
	}
	store_finalize(st);
	free(s.meta);
	return (rc);
}

int
therapy_session_notes_store(struct tx *tx, struct request *req,
    const struct principal *who, const struct tsession *s, const char *text)
{
	struct stmt  *st;
	unsigned char key[SEAL_KEY_LEN], *blob = NULL;
	size_t	      len = 0;
	json_t	     *changes;
	int	      rc;

	if (text != NULL) {
		if ((rc = therapy_consent(req, tx, s->client_id)) != OK)
			goto out;
		if ((rc = seal_key_load(tx, s->client_id, key)) == OK)
			rc = seal_field(key, "therapy_sessions",
			    "private_notes", s->id, text, &blob, &len);
		sodium_memzero(key, sizeof(key));
		if (rc == ERR_NOT_FOUND) {
			http_problem(req, ERR_CONFLICT, NULL,
			    "The client "
			    "cannot hold personal data.");
			rc = ERR_CONFLICT;
		}
		if (rc != OK)
			goto out;
	}
	st = store_prepare(tx,
	    "UPDATE therapy_sessions SET private_notes = ?, "
	    "updated_at = ?, updated_by = ? WHERE id = ?");
	if (blob != NULL)
		store_bind_blob(st, 1, blob, len);
	else
		store_bind_null(st, 1);
	store_bind_int64(st, 2, time_now_ms());
	if (who != NULL)
		store_bind_text(st, 3, who->user_id);
	else
		store_bind_null(st, 3);
	store_bind_text(st, 4, s->id);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		goto out;
	changes = json_pack("{s:[s]}", "fields", "private_notes");
	rc = audit_append(tx, who, req, "therapy_sessions.private_notes.write",
	    "therapy_sessions", s->id, changes);
	json_decref(changes);
out:
	free(blob);
	return (rc);
}

static int
notes_put_tx(struct tx *tx, void *arg)
{
	struct naction *a = arg;
	struct tsession s;
	int		rc;

	json_decref(a->row);
	a->row = NULL;
	memset(&s, 0, sizeof(s));
	if ((rc = notes_access(a, tx, &s)) == OK &&
	    (rc = therapy_session_notes_store(tx, a->req, a->who, &s,
		 a->text_null ? NULL : a->text)) == OK &&
	    (a->row = json_pack("{s:s,s:s?}", "id", s.id, "private_notes",
		 a->text_null ? NULL : a->text)) == NULL)
		rc = ERR_NOMEM;
	free(s.meta);
	return (rc);
}

void
therapy_session_notes_get(struct request *req)
{
	struct naction a;
	int	       rc;

	memset(&a, 0, sizeof(a));
	a.req = req;
	a.id = http_param(req, "id");
	a.who = req->caller;
	if (a.id == NULL || !uuid_valid(a.id)) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such row.");
		return;
	}
	a.notes =
	    resource_scope(req->db, a.who, "therapy_sessions", "private_notes");
	a.read = resource_scope(req->db, a.who, "therapy_sessions", "read");
	rc = store_run(req->db, STORE_TX_READ, notes_get_tx, &a);
	if (rc != OK) {
		json_decref(a.row);
		if (!req->responded)
			http_problem(req, rc, NULL,
			    rc == ERR_NOT_FOUND ? "No such row."
						: "The notes cannot be read.");
		return;
	}
	http_header_add(req, "Cache-Control", "no-store");
	http_json(req, 200, a.row);
}

void
therapy_session_notes_put(struct request *req)
{
	struct naction a;
	json_t	      *body = req->json, *t;
	int	       rc;

	memset(&a, 0, sizeof(a));
	a.req = req;
	a.id = http_param(req, "id");
	a.who = req->caller;
	if (a.id == NULL || !uuid_valid(a.id)) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such row.");
		return;
	}
	t = json_object_get(body, "private_notes");
	if (!json_is_object(body) || json_object_size(body) != 1 || t == NULL ||
	    !(json_is_null(t) ||
		(json_is_string(t) &&
		    json_string_length(t) == strlen(json_string_value(t))))) {
		http_problem_ext(req, ERR_INVALID, NULL,
		    json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "field",
			"private_notes", "code", "type", "detail",
			"the body is {\"private_notes\": "
			"text or null}"),
		    "The notes are not valid.");
		return;
	}
	if (json_is_string(t) &&
	    therapy_chars(json_string_value(t)) > THERAPY_NOTES_MAX) {
		http_problem_ext(req, ERR_INVALID, NULL,
		    json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "field",
			"private_notes", "code", "too_long", "detail",
			"at most 20000 characters"),
		    "The notes are not valid.");
		return;
	}
	a.text_null = json_is_null(t);
	a.text = json_string_value(t);
	a.notes =
	    resource_scope(req->db, a.who, "therapy_sessions", "private_notes");
	a.read = resource_scope(req->db, a.who, "therapy_sessions", "read");
	rc = store_run(req->db, STORE_TX_WRITE, notes_put_tx, &a);
	if (rc != OK) {
		json_decref(a.row);
		if (!req->responded)
			http_problem(req, rc, NULL,
			    rc == ERR_NOT_FOUND
				? "No such row."
				: "The notes cannot be written.");
		return;
	}
	http_header_add(req, "Cache-Control", "no-store");
	http_json(req, 200, a.row);
}
