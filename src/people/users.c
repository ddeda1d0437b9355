/*
 * Users: the resource declaration (every field the seeds give a person;
 * names, email, phone, birth date, gender, location and demographics
 * sealed under the user's own data key; email found through its blind
 * index), GET and PATCH /v1/me (the users resource at the caller's id,
 * If-Match honoured, audited as "self"),
 * and the insert used where no resource request exists (register, the
 * command line, the demo seed).
 *
 * password_hash, email_index and audit_ref are columns, never fields.
 * Erasure clears what the flags say (resource_erase_owned): the personal
 * fields, the email's blind index, and country, locale, time_zone and
 * signup_language (FIELD_ERASE).
 * Role and is_active are staff-only (a member's PATCH naming them is
 * refused by the resource layer). A changed email needs the current
 * password, so self-service email changes go through PATCH /v1/me only.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/config.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/keyring.h"
#include "core/util.h"
#include "http/http.h"
#include "people/gdpr.h"
#include "people/people.h"
#include "people/people_int.h"
#include "resource/audit.h"
#include "resource/hooks.h"
#include "resource/resource.h"
#include "resource/seal.h"
#include "store/store.h"

static int  users_before_update(struct resource_ctx *, json_t *);
static int  users_after_write(struct resource_ctx *, int, json_t *);
static int  me_load(struct request *, struct principal *, json_t **);
static void me_respond(struct request *, json_t *);
static int  staff_invite(struct tx *, const char *id, const char *role);
static int  me_email_check(struct request *, struct principal *, json_t *);
static int  me_precondition(struct request *, struct tx *, const char *);
static int  insert_row(
     struct tx *, const struct people_new_user *, const char *id);
static int personal_set(struct tx *, const struct people_new_user *,
    const char *id, const unsigned char *key);
static int bind_sealed(struct stmt *, int, const unsigned char *,
    const char *column, const char *id, const char *plain);

static const char *const roles[] = { "admin", "partner_admin", "therapist",
	"instructor", "member", NULL };
static const char *const frequencies[] = { "never", "daily", "weekly",
	"monthly", NULL };

#define P	  FIELD_PERSONAL
#define N	  FIELD_NULLABLE
#define RO	  FIELD_READONLY
#define STAFF_OWN (SEE_ALL | SEE_OWN)

static const struct field user_fields[] = {
	{ "first_name", FIELD_TEXT, P | N, 1, 100, NULL, NULL, NULL, 0,
	    "given name" },
	{ "last_name", FIELD_TEXT, P | N, 1, 100, NULL, NULL, NULL, 0,
	    "family name" },
	{ "email", FIELD_EMAIL,
	    FIELD_REQUIRED | P | FIELD_BLIND_INDEX | FIELD_FILTER, 3,
	    PEOPLE_EMAIL_MAX, NULL, NULL, NULL, 0,
	    "sign-in address; filter with ?email= (blind index)" },
	{ "phone", FIELD_TEXT, P | N, 3, 32, NULL, NULL, NULL, STAFF_OWN,
	    "telephone number" },
	{ "date_of_birth", FIELD_DATE, P | N, 0, 0, NULL, NULL, NULL, 0,
	    "YYYY-MM-DD; decides whether guardian consent is needed" },
	{ "gender", FIELD_TEXT, P | N, 1, 64, NULL, NULL, NULL, STAFF_OWN,
	    "gender, in the person's own words" },
	{ "location", FIELD_TEXT, P | N, 1, 200, NULL, NULL, NULL, STAFF_OWN,
	    "town or region" },
	{ "demographics", FIELD_JSON, P | N, 0, 0, NULL, NULL, NULL, STAFF_OWN,
	    "other demographic answers, as one object" },
	{ "country", FIELD_TEXT, N | FIELD_FILTER | FIELD_ERASE, 2, 2, NULL,
	    NULL, NULL, 0, "ISO 3166-1 alpha-2" },
	{ "locale", FIELD_TEXT, N | FIELD_ERASE, 2, 35, NULL, NULL, NULL, 0,
	    "BCP 47 language tag for the interface" },
	{ "time_zone", FIELD_TIME_ZONE, N | FIELD_ERASE, 0, 0, NULL, NULL, NULL,
	    0,
	    "IANA time zone name (\"Europe/Berlin\") times are shown in; "
	    "null: the browser's",
	    .since = 53 },
	{ "signup_language", FIELD_TEXT, N | FIELD_CREATE_ONLY | FIELD_ERASE, 2,
	    35, NULL, NULL, NULL, STAFF_OWN,
	    "language the person signed up in" },
	{ "contact_permission", FIELD_BOOL, 0, 0, 0, NULL, "false", NULL,
	    STAFF_OWN, "may be contacted about research and news" },
	{ "service_emails_permission", FIELD_BOOL, 0, 0, 0, NULL, "true", NULL,
	    STAFF_OWN, "may receive service emails" },
	{ "email_reminders_frequency", FIELD_ENUM, 0, 0, 0, frequencies,
	    "\"never\"", NULL, STAFF_OWN, "never, daily, weekly or monthly" },
	{ "terms_accepted_at", FIELD_TIME, RO | N, 0, 0, NULL, NULL, NULL,
	    STAFF_OWN, "when the terms were accepted" },
	{ "terms_version", FIELD_TEXT, RO | N, 0, 0, NULL, NULL, NULL,
	    STAFF_OWN, "which terms" },
	{ "privacy_accepted_at", FIELD_TIME, RO | N, 0, 0, NULL, NULL, NULL,
	    STAFF_OWN, "when the privacy notice was accepted" },
	{ "privacy_version", FIELD_TEXT, RO | N, 0, 0, NULL, NULL, NULL,
	    STAFF_OWN, "which privacy notice" },
	{ "role", FIELD_ENUM, FIELD_STAFF_WRITE | FIELD_FILTER | FIELD_SORT, 0,
	    0, roles, "\"member\"", NULL, 0, "one of the roles; staff only" },
	{ "is_active", FIELD_BOOL, FIELD_STAFF_WRITE | FIELD_FILTER, 0, 0, NULL,
	    "true", NULL, 0, "false ends every session; staff only" },
	{ "last_login_at", FIELD_TIME, RO | N | FIELD_SORT, 0, 0, NULL, NULL,
	    NULL, STAFF_OWN, NULL },
	{ "last_active_at", FIELD_TIME, RO | N | FIELD_SORT, 0, 0, NULL, NULL,
	    NULL, STAFF_OWN, NULL },
	{ "created_at", FIELD_TIME, RO | FIELD_SORT, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
	{ "updated_at", FIELD_TIME, RO | FIELD_SORT, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
	{ "deleted_at", FIELD_TIME, RO | N, 0, 0, NULL, NULL, NULL, SEE_ALL,
	    NULL },
	{ "created_by", FIELD_UUID, RO | N, 0, 0, NULL, NULL, "users", SEE_ALL,
	    NULL },
	{ "updated_by", FIELD_UUID, RO | N, 0, 0, NULL, NULL, "users", SEE_ALL,
	    NULL },
};

const struct resource users_resource = {
	.name = "users",
	.path = "/v1/users",
	.table = "users",
	.fields = user_fields,
	.nfields = sizeof(user_fields) / sizeof(user_fields[0]),
	.owner_column = "id",
	.related_kinds = "guardian_of,practitioner_of",
	.soft_delete = 1,
	.doc = "People with an account. Personal fields are sealed at rest "
	       "under each person's own key; a guardian sees their child, a "
	       "practitioner their clients. Deactivating (is_active false) or "
	       "deleting a user ends their sessions and every link mailed to "
	       "them. A changed (or newly given) email is unproven until the "
	       "link mailed to it is used; the old address, if proven, is "
	       "sent a notice with no link.",
	.before_update = users_before_update,
	.after_write = users_after_write,
	.where = "deleted_at IS NULL",
	.codes =
	    "{\"403\":[\"CURRENT_PASSWORD_REQUIRED\"],\"409\":[\"LAST_ADMIN\"]}",
	/* gdpr.c's user_json. */
	.exported = "{\"audit_ref\":{\"type\":[\"string\",\"null\"],"
		    "\"description\":\"the pseudonym the audit log names "
		    "the person by (null once erased)\"}}",
};

/*
 * Call after a write that may have taken away an admin (demotion,
 * deactivation, deletion, erasure), inside its transaction: refuses with
 * 409 LAST_ADMIN when no active admin would remain. Writers are
 * serialised on one lock so two admins cannot demote each other at once.
 */
int
people_last_admin_guard(struct request *req, struct tx *tx)
{
	struct stmt *st;
	int	     rc;

	if ((rc = store_xact_lock(tx, "people.last_admin")) != OK)
		return (rc);
	st = store_prepare(tx,
	    "SELECT COUNT(*) FROM users WHERE role = "
	    "'admin' AND is_active = 1 AND deleted_at IS NULL");
	if ((rc = store_step(st)) == STORE_ROW)
		rc = store_col_int64(st, 0) > 0 ? OK : ERR_CONFLICT;
	store_finalize(st);
	if (rc == ERR_CONFLICT)
		http_problem(req, rc, "LAST_ADMIN",
		    "This is the last active "
		    "admin: make another admin first.");
	return (rc);
}

/* A person changes their own email through PATCH /v1/me, with password. */
static int
users_before_update(struct resource_ctx *ctx, json_t *body)
{
	if (json_object_get(body, "email") == NULL || ctx->who == NULL ||
	    ctx->id == NULL || strcmp(ctx->id, ctx->who->user_id) != 0 ||
	    (ctx->req->route != NULL && strcmp(ctx->req->route, "/v1/me") == 0))
		return (OK);
	http_problem(ctx->req, ERR_FORBIDDEN, "CURRENT_PASSWORD_REQUIRED",
	    "change your own email with PATCH /v1/me and current_password");
	return (ERR_FORBIDDEN);
}

/*
 * The modules watching the person's own fields (resource/hooks.h), and a
 * sign-in address changed for another (the same address in other case is
 * no change: the blind index folds it) made unproven again
 * (people_email_changed). One set on an account that had none (a child's
 * made without) is a change from nothing: proven by its link all the
 * same. One taken off (a refused child's, family_close.c) leaves nothing
 * proven and no link open (people_email_dropped).
 */
int
people_user_changed(
    struct tx *tx, const char *user_id, json_t *old, json_t *row)
{
	const char *was, *now;
	char	    a[65], b[65];
	int	    rc;

	/* What the authenticator keeps of them (role, active) may be old;
	 * activity alone (old NULL) changes none of it. */
	if (old != NULL)
		people_session_cache_forget_tx(tx, user_id);
	if ((rc = hooks_fields_changed(tx, user_id, old, row)) != OK)
		return (rc);
	was = json_string_value(json_object_get(old, "email"));
	now = json_string_value(json_object_get(row, "email"));
	if (now == NULL)
		return (was == NULL ? OK : people_email_dropped(tx, user_id));
	if (was == NULL)
		return (people_email_changed(tx, user_id, NULL));
	keyring_email_index(was, a);
	keyring_email_index(now, b);
	if (strcmp(a, b) == 0)
		return (OK);
	return (people_email_changed(tx, user_id, was));
}

static int
users_after_write(struct resource_ctx *ctx, int action, json_t *row)
{
	const char  *id = ctx->id;
	struct stmt *st;
	char	     ref[UUID_STR_LEN];
	int	     step;

	const char *was, *now;
	int	    rc;

	if (id == NULL)
		return (OK);
	was = json_string_value(json_object_get(ctx->old, "role"));
	if (action != ACTION_CREATE && was != NULL &&
	    strcmp(was, "admin") == 0 &&
	    (rc = people_last_admin_guard(ctx->req, ctx->tx)) != OK)
		return (rc);
	/* Deleted: the sessions end, and the modules are told (the chat
	 * sync erases the person's chat profile: a deleted account has no
	 * chat). */
	if (action == ACTION_DELETE) {
		if ((rc = people_sessions_end(ctx->tx, id, NULL, "deleted")) !=
			OK ||
		    (rc = people_tokens_end(ctx->tx, id)) != OK)
			return (rc);
		return (hooks_changed(ctx->tx, CHANGE_PERSON, id));
	}
	if (action == ACTION_UPDATE && ctx->old != NULL && row != NULL &&
	    (rc = people_user_changed(ctx->tx, id, ctx->old, row)) != OK)
		return (rc);
	/* Deactivated: the sessions and the mailed links end, so that
	 * reactivating the account brings back neither. */
	if (action == ACTION_UPDATE &&
	    json_is_false(json_object_get(row, "is_active"))) {
		if ((rc = people_tokens_end(ctx->tx, id)) != OK)
			return (rc);
		return (people_sessions_end(ctx->tx, id, NULL, "deactivated"));
	}
	/* A new role brings new permissions and new session timeouts:
	 * the person signs in again. */
	now = json_string_value(json_object_get(row, "role"));
	if (action == ACTION_UPDATE && was != NULL && now != NULL &&
	    strcmp(was, now) != 0)
		return (people_sessions_end(ctx->tx, id, NULL, "role_changed"));
	if (action != ACTION_CREATE)
		return (OK);
	/* Made by staff through POST /v1/users: give it its audit pseudonym;
	 * its address is taken as proven (staff gave it). */
	st = store_prepare(ctx->tx,
	    "UPDATE users SET audit_ref = COALESCE(audit_ref, ?), "
	    "email_verified_at = COALESCE(email_verified_at, ?) WHERE id = ?");
	store_bind_text(st, 1, uuid_v7(ref));
	store_bind_int64(st, 2, time_now_ms());
	store_bind_text(st, 3, id);
	step = store_step(st);
	store_finalize(st);
	if (step != STORE_DONE)
		return (step == ERR_BUSY ? ERR_BUSY : ERR_DB);
	/* A staff member is invited to choose their password. */
	return (staff_invite(ctx->tx, id, now));
}

/* The invitation of a user made through POST /v1/users in a staff role
 * (roles.is_staff), who has no password yet. */
static int
staff_invite(struct tx *tx, const char *id, const char *role)
{
	struct stmt *st;
	int	     step, staff = 0;

	if (role == NULL)
		return (OK);
	st = store_prepare(tx, "SELECT is_staff FROM roles WHERE name = ?");
	store_bind_text(st, 1, role);
	if ((step = store_step(st)) == STORE_ROW)
		staff = store_col_int64(st, 0) != 0;
	store_finalize(st);
	if (step != STORE_ROW && step != STORE_DONE)
		return (step == ERR_BUSY ? ERR_BUSY : ERR_DB);
	return (staff ? people_invite_send(tx, id, role) : OK);
}

void
people_me_get(struct request *req)
{
	struct principal *who;
	json_t		 *me = NULL;

	who = req->caller;
	if (me_load(req, who, &me) != OK)
		return;
	me_respond(req, me);
}

static int
me_load(struct request *req, struct principal *who, json_t **out)
{
	struct resource_ctx ctx;
	int		    rc;

	memset(&ctx, 0, sizeof(ctx));
	ctx.req = req;
	ctx.res = &users_resource;
	ctx.who = who;
	ctx.scope = SCOPE_OWN;
	/* The request's read transaction: nothing else is begun before the
	 * transport ends it. */
	if ((rc = http_read_tx(req, &ctx.tx)) != OK) {
		http_problem(req, rc, NULL, "the database is not available");
		return (rc);
	}
	rc = resource_load(&ctx, who->user_id, out);
	if (rc != OK)
		http_problem(req, rc, NULL, "your account could not be read");
	return (rc);
}

static void
me_respond(struct request *req, json_t *me)
{
	char	    etag[48];
	int64_t	    ms = 0;
	const char *at = json_string_value(json_object_get(me, "updated_at"));
	const char *id = json_string_value(json_object_get(me, "id"));

	if (at != NULL && id != NULL && time_parse_iso(at, &ms) == 0) {
		resource_etag(id, ms, etag);
		http_header_add(req, "ETag", etag);
	}
	http_header_add(req, "Cache-Control", "no-store");
	http_json(req, 200, me);
}

/* One attempt of PATCH /v1/me, run by store_run (retried when busy). */
struct me_patch {
	struct resource_ctx ctx;
	json_t		   *body;
	const char	   *index; /* of a new email given, else NULL */
	const char	   *ip;
};

/*
 * A new address refused as taken: its live owner is told, as a refused
 * registration tells them (the attempt stays counted against the address
 * and the client, people_throttle_reserve).
 */
static int
me_taken_tx(struct tx *tx, void *arg)
{
	struct me_patch *m = arg;
	struct stmt	*st;
	char		 owner[UUID_STR_LEN];
	int		 step;

	st = store_prepare(tx,
	    "SELECT id FROM users WHERE email_index = ? AND "
	    "deleted_at IS NULL");
	store_bind_text(st, 1, m->index);
	if ((step = store_step(st)) == STORE_ROW)
		strlcpy_cb(owner, store_col_text(st, 0), sizeof(owner));
	store_finalize(st);
	if (step != STORE_ROW)
		return (step == STORE_DONE ? OK
			: step == ERR_BUSY ? ERR_BUSY
					   : ERR_DB);
	return (people_register_notice(tx, owner));
}

static int
me_patch_tx(struct tx *tx, void *arg)
{
	struct me_patch *m = arg;
	json_t		*was = NULL, *now = NULL;
	const char	*id = m->ctx.who->user_id;
	int		 rc;

	m->ctx.tx = tx;
	/* The row before and after, for the change hooks (chat profile). */
	if ((rc = me_precondition(m->ctx.req, tx, id)) == OK &&
	    (rc = resource_load(&m->ctx, id, &was)) == OK &&
	    (rc = resource_update(&m->ctx, id, m->body)) == OK &&
	    (rc = resource_load(&m->ctx, id, &now)) == OK &&
	    (rc = people_user_changed(tx, id, was, now)) == OK &&
	    m->index != NULL)
		/* Taken: no probe was refused; the attempt is given back. */
		rc = people_throttle_success(tx, m->index, m->ip);
	json_decref(was);
	json_decref(now);
	/* An attempt that answered (a field refused) is not tried again. */
	if (rc == ERR_BUSY && m->ctx.req->responded)
		rc = ERR_DB;
	return (rc);
}

void
people_me_patch(struct request *req)
{
	struct principal *who;
	struct me_patch	  m;
	json_t		 *body = req->json, *me = NULL;
	const char	 *email;
	char		  index[65];
	int		  rc;

	who = req->caller;
	if (!json_is_object(body)) {
		http_problem(
		    req, ERR_MALFORMED, NULL, "the body must be an object");
		return;
	}
	if (me_email_check(req, who, body) != OK)
		return;
	if (resource_validate(req, &users_resource, body, 0, SCOPE_OWN) != OK)
		return;
	memset(&m, 0, sizeof(m));
	m.ctx.req = req;
	m.ctx.res = &users_resource;
	m.ctx.who = who;
	m.ctx.scope = SCOPE_OWN;
	m.ctx.id = who->user_id;
	m.body = body;
	/* A new address is a probe of whether it is taken (409): counted
	 * as a registration is, before the work (auth.c), so that the
	 * answer cannot be asked for without bound. */
	if ((email = json_string_value(json_object_get(body, "email"))) !=
	    NULL) {
		m.index = index;
		if (people_throttle_gate(req, email, index, &m.ip,
			"refused addresses or failed logins",
			"your account was not changed") != OK)
			return;
	}
	/* A concurrent writer of the row (a chat profile job, a session)
	 * makes PostgreSQL refuse the attempt (40001): it is run again. */
	rc = store_run(req->db, STORE_TX_WRITE, me_patch_tx, &m);
	/* Taken: its owner is told (once an hour); the answer stands
	 * whether or not the notice could be queued. */
	if (rc == ERR_CONFLICT && m.index != NULL)
		(void)store_run(req->db, STORE_TX_WRITE, me_taken_tx, &m);
	if (req->responded)
		return;
	if (rc == ERR_PRECONDITION)
		http_problem(req, rc, NULL,
		    "your account changed since you "
		    "read it (If-Match)");
	else if (rc == ERR_CONFLICT)
		http_problem(
		    req, rc, "EMAIL_TAKEN", "that email cannot be used");
	else if (rc != OK)
		http_problem(req, rc, NULL, "your account was not changed");
	else {
		http_read_tx_end(req); /* read what was just written */
		if (me_load(req, who, &me) == OK)
			me_respond(req, me);
	}
}

/* If-Match, when given, must name the ETag of the row as it is now. */
static int
me_precondition(struct request *req, struct tx *tx, const char *id)
{
	struct stmt *st;
	const char  *im;
	char	     etag[48];
	int	     rc, step;

	if ((im = http_header(req, "If-Match")) == NULL)
		return (OK);
	st = store_prepare(tx,
	    "SELECT updated_at FROM users WHERE id = ? AND "
	    "deleted_at IS NULL");
	store_bind_text(st, 1, id);
	if ((step = store_step(st)) == STORE_ROW) {
		resource_etag(id, store_col_int64(st, 0), etag);
		rc = resource_if_match(im, etag) ? OK : ERR_PRECONDITION;
	} else
		rc = step == STORE_DONE ? ERR_NOT_FOUND : ERR_DB;
	store_finalize(st);
	return (rc);
}

/*
 * current_password is not a field: take it out of the body. A changed
 * email needs it, right.
 */
static int
me_email_check(struct request *req, struct principal *who, json_t *body)
{
	json_t *cur = json_object_get(body, "current_password");
	char   *pw = NULL;
	int	rc = OK;

	if (cur != NULL &&
	    (!json_is_string(cur) ||
		json_string_length(cur) > PEOPLE_PASSWORD_BYTES)) {
		http_problem(req, ERR_INVALID, NULL,
		    "current_password must be a string");
		return (ERR_INVALID);
	}
	if (cur != NULL && (pw = strdup(json_string_value(cur))) == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "out of memory");
		return (ERR_NOMEM);
	}
	json_object_del(body, "current_password");
	if (json_object_get(body, "email") == NULL)
		goto out;
	if (pw == NULL) {
		http_problem(req, ERR_FORBIDDEN, "CURRENT_PASSWORD_REQUIRED",
		    "changing the email needs current_password");
		rc = ERR_FORBIDDEN;
	} else if (people_user_verify(req->db, who->user_id, pw) != OK) {
		http_problem(req, ERR_FORBIDDEN, "INVALID_CURRENT_PASSWORD",
		    "the current password is not right");
		rc = ERR_FORBIDDEN;
	}
out:
	if (pw != NULL) {
		sodium_memzero(pw, strlen(pw));
		free(pw);
	}
	return (rc);
}

int
people_user_verify(struct store *db, const char *user_id, const char *password)
{
	struct tx *tx;
	char	   hash[PASSWORD_HASH_LEN];
	int	   rc;

	if ((rc = store_tx_begin(db, STORE_TX_READ, &tx)) != OK)
		return (rc);
	rc = people_user_hash(tx, user_id, hash);
	store_tx_rollback(tx);
	if (rc != OK) {
		(void)crypto_password_verify(people_password_dummy(), password);
		return (ERR_UNAUTHORIZED);
	}
	return (crypto_password_verify(hash, password));
}

int
people_user_hash(
    struct tx *tx, const char *user_id, char out[PASSWORD_HASH_LEN])
{
	struct stmt *st;
	const char  *h;
	int	     rc = ERR_NOT_FOUND, step;

	st = store_prepare(tx,
	    "SELECT password_hash FROM users WHERE id = ? "
	    "AND deleted_at IS NULL AND is_active = 1");
	store_bind_text(st, 1, user_id);
	if ((step = store_step(st)) == STORE_ROW &&
	    (h = store_col_text(st, 0)) != NULL &&
	    strlen(h) < PASSWORD_HASH_LEN) {
		memcpy(out, h, strlen(h) + 1);
		rc = OK;
	} else if (step != STORE_ROW && step != STORE_DONE)
		rc = ERR_DB;
	store_finalize(st);
	return (rc);
}

int
people_user_row_lock(
    struct tx *tx, const char *user_id, const char *email_index)
{
	struct stmt *st;
	int	     step;

	if (store_tx_dialect(tx) == STORE_POSTGRES) {
		st = store_prepare(
		    tx, "SELECT 1 FROM users WHERE id = ? FOR UPDATE");
		store_bind_text(st, 1, user_id);
		step = store_step(st);
		store_finalize(st);
		if (step != STORE_ROW && step != STORE_DONE)
			return (step == ERR_BUSY ? ERR_BUSY : ERR_DB);
	}
	if (email_index == NULL)
		return (OK);
	st = store_prepare(tx,
	    "SELECT 1 FROM users WHERE id = ? AND email_index = ? AND "
	    "deleted_at IS NULL");
	store_bind_text(st, 1, user_id);
	store_bind_text(st, 2, email_index);
	step = store_step(st);
	store_finalize(st);
	return (step == STORE_ROW    ? OK
		: step == STORE_DONE ? ERR_NOT_FOUND
		: step == ERR_BUSY   ? ERR_BUSY
				     : ERR_DB);
}

int
people_user_email(struct tx *tx, const char *user_id, char **out)
{
	struct stmt  *st;
	unsigned char key[SEAL_KEY_LEN];
	const void   *b;
	size_t	      n = 0;
	int	      rc, step;

	*out = NULL;
	st = store_prepare(tx, "SELECT email FROM users WHERE id = ?");
	store_bind_text(st, 1, user_id);
	if ((step = store_step(st)) != STORE_ROW || store_col_is_null(st, 0)) {
		store_finalize(st);
		return (step == STORE_ROW || step == STORE_DONE ? ERR_NOT_FOUND
								: ERR_DB);
	}
	b = store_col_blob(st, 0, &n);
	if ((rc = seal_key_load(tx, user_id, key)) == OK)
		rc = seal_open_field(key, "users", "email", user_id, b, n, out);
	sodium_memzero(key, sizeof(key));
	store_finalize(st);
	return (rc);
}

int
people_user_insert(struct tx *tx, struct request *req,
    const struct people_new_user *u, char id_out[37])
{
	unsigned char key[SEAL_KEY_LEN];
	json_t	     *changes;
	int	      rc;

	uuid_v7(id_out);
	/* The row first: the data key refers to it. */
	if ((rc = insert_row(tx, u, id_out)) != OK ||
	    (rc = seal_key_create(tx, id_out)) != OK ||
	    (rc = seal_key_load(tx, id_out, key)) != OK)
		return (rc);
	rc = personal_set(tx, u, id_out, key);
	sodium_memzero(key, sizeof(key));
	if (rc != OK)
		return (rc);
	changes = json_pack("{s:[s,s,s],s:s}", "fields", "email", "role",
	    "password", "role", u->role);
	/* Made by a signed-in person (a guardian, for their child): theirs. */
	rc = audit_append(tx, req != NULL ? req->caller : NULL, req, "create",
	    "users", id_out, changes);
	json_decref(changes);
	return (rc);
}

static int
insert_row(struct tx *tx, const struct people_new_user *u, const char *id)
{
	struct stmt *st;
	char	     index[65], ref[UUID_STR_LEN];
	int64_t	     now = time_now_ms();
	int	     step;

	if (u->email != NULL)
		keyring_email_index(u->email, index);
	st = store_prepare(tx,
	    "INSERT INTO users (id, role, email_index, "
	    "password_hash, country, locale, signup_language, "
	    "terms_accepted_at, terms_version, privacy_accepted_at, "
	    "privacy_version, audit_ref, created_at, updated_at, created_by, "
	    "email_verified_at) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, u->role);
	store_bind_text(st, 3, u->email != NULL ? index : NULL);
	store_bind_text(st, 4, u->password_hash);
	store_bind_text(st, 5, u->country);
	store_bind_text(st, 6, u->locale);
	store_bind_text(st, 7, u->signup_language);
	/* Each acceptance is stamped only when it was given. */
	if (u->terms_accepted) {
		store_bind_int64(st, 8, now);
		store_bind_text(st, 9, config.terms_version);
	} else {
		store_bind_null(st, 8);
		store_bind_null(st, 9);
	}
	if (u->privacy_accepted) {
		store_bind_int64(st, 10, now);
		store_bind_text(st, 11, config.privacy_version);
	} else {
		store_bind_null(st, 10);
		store_bind_null(st, 11);
	}
	store_bind_text(st, 12, uuid_v7(ref));
	store_bind_int64(st, 13, now);
	store_bind_int64(st, 14, now);
	store_bind_text(st, 15, u->created_by);
	/* Made by staff, a guardian or the command line: taken as proven. */
	if (u->unverified)
		store_bind_null(st, 16);
	else
		store_bind_int64(st, 16, now);
	step = store_step(st);
	store_finalize(st);
	if (step == STORE_DONE)
		return (OK);
	return (step == ERR_CONFLICT || step == ERR_BUSY ? step : ERR_DB);
}

static int
personal_set(struct tx *tx, const struct people_new_user *u, const char *id,
    const unsigned char *key)
{
	struct stmt *st;
	int	     step;

	st = store_prepare(tx,
	    "UPDATE users SET email = ?, first_name = ?, "
	    "last_name = ?, date_of_birth = ? WHERE id = ?");
	if (bind_sealed(st, 1, key, "email", id, u->email) != OK ||
	    bind_sealed(st, 2, key, "first_name", id, u->first_name) != OK ||
	    bind_sealed(st, 3, key, "last_name", id, u->last_name) != OK ||
	    bind_sealed(st, 4, key, "date_of_birth", id, u->date_of_birth) !=
		OK) {
		store_finalize(st);
		return (ERR_NOMEM);
	}
	store_bind_text(st, 5, id);
	step = store_step(st);
	store_finalize(st);
	return (
	    step == STORE_DONE ? OK : (step == ERR_BUSY ? ERR_BUSY : ERR_DB));
}

/* Seal plain (NULL binds NULL) under key for users.column of id. */
static int
bind_sealed(struct stmt *st, int i, const unsigned char *key,
    const char *column, const char *id, const char *plain)
{
	unsigned char *b = NULL;
	size_t	       n = 0;
	int	       rc;

	if (plain == NULL) {
		store_bind_null(st, i);
		return (OK);
	}
	if ((rc = seal_field(key, "users", column, id, plain, &b, &n)) != OK)
		return (rc);
	store_bind_blob(st, i, b, n);
	free(b);
	return (OK);
}
