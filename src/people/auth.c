/*
 * Accounts: register, login and logout (password change and reset are
 * password_reset.c).
 *
 * Login refuses unknown accounts, wrong passwords and inactive accounts
 * alike (401 INVALID_CREDENTIALS) after the same argon2id work (a dummy
 * hash stands in for a missing one), and counts every attempt per account
 * and address, per account and per address first, giving it back when
 * the password was right (throttle.c). Password hashing runs outside
 * transactions. A browser's login (X-Carebase-Client: web) is answered
 * without the token, which goes into an HttpOnly cookie instead, and its
 * logout clears the cookies (web_session.c).
 *
 * Registration answers 409 EMAIL_TAKEN for an address that has an
 * account (it signs the person in at once, so it cannot answer alike):
 * that refusal is counted as a failed login is, in the same budgets per
 * (address, client), per address and per client, and past them
 * registration answers 429 with Retry-After as login does. An account
 * made gives its attempt back; a body refused (422) is refused before it
 * is counted; any other refusal after it (a partner code the
 * registration hook turns down, the database) stays counted, on the safe
 * side. The address's owner is told of it (register_attempt, at most
 * once an hour: people_register_notice).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/config.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/keyring.h"
#include "core/mail.h"
#include "core/util.h"
#include "http/http.h"
#include "people/gdpr.h"
#include "people/people.h"
#include "people/people_int.h"
#include "resource/audit.h"
#include "resource/hooks.h"
#include "resource/resource.h"
#include "store/store.h"

static const char *const register_members[] = { "email", "password",
	"first_name", "last_name", "date_of_birth", "country", "locale",
	"signup_language", "accept_terms", "accept_privacy", NULL };

static int  hook_member(const char *);
static int  register_check(struct request *, json_t **fields);
static int  register_tx(struct tx *, void *);
static int  login_tx(struct tx *, void *);
static void login_respond(
    struct request *, struct people_account *, struct people_session *);

int
people_field_error(struct request *req, const char *field, const char *code,
    const char *detail)
{
	http_problem_ext(req, ERR_INVALID, NULL,
	    json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "field", field, "code",
		code, "detail", detail),
	    "%s: %s", field, detail);
	return (ERR_INVALID);
}

/* A string member of the body, bounded; NULL (problem set) when bad. */
const char *
people_body_string(
    struct request *req, const char *name, size_t max, int required)
{
	json_t *v = json_object_get(req->json, name);

	if (v == NULL && !required)
		return (NULL);
	if (!json_is_string(v) || json_string_length(v) == 0) {
		people_field_error(req, name, v == NULL ? "required" : "type",
		    "must be a non-empty string");
		return (NULL);
	}
	if (json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		people_field_error(
		    req, name, "too_long", "is too long or holds NUL");
		return (NULL);
	}
	return (json_string_value(v));
}

void
people_wipe_free(char *s)
{
	if (s != NULL) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

/* POST /v1/auth/register */

/* Is key one of the registration extras' members (another module's,
 * resource/hooks.h)? */
static int
hook_member(const char *key)
{
	const struct registration_hook *rh = hooks_registration();
	const char *const	       *m;

	if (rh == NULL || rh->members == NULL)
		return (0);
	for (m = rh->members; *m != NULL; m++)
		if (strcmp(*m, key) == 0)
			return (1);
	return (0);
}

void
people_auth_register(struct request *req)
{
	const struct registration_hook *rh;
	struct people_auth_op		op;
	json_t			       *fields = NULL;
	const char		       *pw, *why;
	char				index[65];
	int				rc;

	memset(&op, 0, sizeof(op));
	if (register_check(req, &fields) != OK)
		goto out;
	pw = json_string_value(json_object_get(req->json, "password"));
	op.req = req;
	op.nu.email = json_string_value(json_object_get(fields, "email"));
	if (people_password_check(pw, strlen(pw), op.nu.email, &why) != OK) {
		people_field_error(
		    req, "password", why, "the password is not accepted");
		goto out;
	}
	if ((rh = hooks_registration()) != NULL &&
	    rh->check(req, &op.ext) != OK)
		goto out;
	op.nu.role = "member";
	op.nu.unverified = 1;
	op.nu.first_name =
	    json_string_value(json_object_get(fields, "first_name"));
	op.nu.last_name =
	    json_string_value(json_object_get(fields, "last_name"));
	op.nu.date_of_birth =
	    json_string_value(json_object_get(fields, "date_of_birth"));
	op.nu.country = json_string_value(json_object_get(fields, "country"));
	op.nu.locale = json_string_value(json_object_get(fields, "locale"));
	op.nu.signup_language =
	    json_string_value(json_object_get(fields, "signup_language"));
	/* accept_terms is required (register_check); privacy only if given. */
	op.nu.terms_accepted = 1;
	op.nu.privacy_accepted =
	    json_is_true(json_object_get(req->json, "accept_privacy"));
	/* Counted before the work, as a login is; given back by the
	 * account made (register_tx). */
	op.index = index;
	if (people_throttle_gate(req, op.nu.email, index, &op.ip,
		"refused registrations or failed logins",
		"the account was not created") != OK)
		goto out;
	if ((rc = crypto_password_hash(pw, op.hash)) != OK) {
		http_problem(req, rc, NULL, "the password could not be hashed");
		goto out;
	}
	op.nu.password_hash = op.hash;
	rc = store_run(req->db, STORE_TX_WRITE, register_tx, &op);
	/* (ERR_CONFLICT: another registration of the address won the race.) */
	if ((rc == OK && op.taken) || rc == ERR_CONFLICT)
		http_problem(req, ERR_CONFLICT, "EMAIL_TAKEN",
		    "that email cannot be used");
	else if (rc != OK)
		http_problem(req, rc, NULL, "the account was not created");
	else
		http_json(req, 201,
		    json_pack("{s:s,s:s,s:s}", "id", op.user_id, "email",
			op.nu.email, "role", "member"));
out:
	sodium_memzero(op.hash, sizeof(op.hash));
	json_decref(fields);
}

/* Known members only; the user fields validated as a create. */
static int
register_check(struct request *req, json_t **fields)
{
	const struct registration_hook *rh;
	const char		       *key, *pw;
	json_t			       *v, *t;
	size_t				i;

	json_object_foreach(req->json, key, v) {
		for (i = 0; register_members[i] != NULL; i++)
			if (strcmp(key, register_members[i]) == 0)
				break;
		if (register_members[i] == NULL && !hook_member(key))
			return (people_field_error(req, key, "unknown_field",
			    "is not accepted at registration"));
	}
	if ((pw = people_body_string(
		 req, "password", PEOPLE_PASSWORD_BYTES, 1)) == NULL)
		return (ERR_INVALID);
	if (!json_is_true(json_object_get(req->json, "accept_terms")))
		return (people_field_error(req, "accept_terms", "required",
		    "the terms of use must be accepted (true)"));
	t = json_object_get(req->json, "accept_privacy");
	if (t != NULL && !json_is_true(t))
		return (people_field_error(req, "accept_privacy", "required",
		    "the privacy notice must be accepted (true)"));
	if ((*fields = json_deep_copy(req->json)) == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "out of memory");
		return (ERR_NOMEM);
	}
	json_object_del(*fields, "password");
	json_object_del(*fields, "accept_terms");
	json_object_del(*fields, "accept_privacy");
	if ((rh = hooks_registration()) != NULL && rh->members != NULL)
		for (i = 0; rh->members[i] != NULL; i++)
			json_object_del(*fields, rh->members[i]);
	return (resource_validate(req, &users_resource, *fields, 1, SCOPE_OWN));
}

static int
register_tx(struct tx *tx, void *arg)
{
	struct people_auth_op	       *op = arg;
	const struct registration_hook *rh = hooks_registration();
	struct stmt		       *st;
	char				owner[UUID_STR_LEN];
	int				step, live = 0;

	op->taken = 0;
	st = store_prepare(tx,
	    "SELECT id, CASE WHEN deleted_at IS NULL THEN 1 ELSE 0 END FROM "
	    "users WHERE email_index = ?");
	store_bind_text(st, 1, op->index);
	if ((step = store_step(st)) == STORE_ROW) {
		strlcpy_cb(owner, store_col_text(st, 0), sizeof(owner));
		live = store_col_int64(st, 1) != 0;
	}
	store_finalize(st);
	/* Taken: the refusal stays counted (the transaction commits) and
	 * the owner, if the account is live, is told. */
	if (step == STORE_ROW) {
		op->taken = 1;
		return (live ? people_register_notice(tx, owner) : OK);
	}
	if (step != STORE_DONE)
		return (step == ERR_BUSY ? ERR_BUSY : ERR_DB);
	if ((step = people_user_insert(tx, op->req, &op->nu, op->user_id)) !=
		OK ||
	    (step = people_throttle_success(tx, op->index, op->ip)) != OK)
		return (step);
	/* The address is proven by the link mailed to it (email_verify.c). */
	if ((step = people_verify_send(tx, op->user_id)) != OK &&
	    step != ERR_INVALID && step != ERR_UNAVAILABLE)
		return (step);
	if (rh == NULL)
		return (OK);
	return (rh->apply(tx, op->req, op->user_id, op->ext));
}

/* POST /v1/auth/login */

void
people_auth_login(struct request *req)
{
	struct people_auth_op op;
	struct people_account a;
	const char	     *email, *pw, *client;
	char		      index[65];
	int		      rc, ok;

	if ((email = people_body_string(req, "email", PEOPLE_EMAIL_MAX, 1)) ==
		NULL ||
	    (pw = people_body_string(
		 req, "password", PEOPLE_PASSWORD_BYTES, 1)) == NULL)
		return;
	if (people_throttle_gate(req, email, index, &client, "failed logins",
		"login is not available") != OK)
		return;
	if ((rc = people_account_find(req->db, index, &a)) != OK) {
		http_problem(req, rc, NULL, "login is not available");
		return;
	}
	ok = crypto_password_verify(
		 a.usable ? a.hash : people_password_dummy(), pw) == OK &&
	    a.usable;
	if (!ok) {
		http_problem(req, ERR_UNAUTHORIZED, "INVALID_CREDENTIALS",
		    "the email or password is not right");
		return;
	}
	memset(&op, 0, sizeof(op));
	op.req = req;
	op.index = index;
	op.ip = client;
	op.acct = &a;
	if (crypto_password_needs_rehash(a.hash) &&
	    crypto_password_hash(pw, op.hash) == OK)
		op.rehash = 1;
	if ((rc = store_run(req->db, STORE_TX_WRITE, login_tx, &op)) != OK)
		http_problem(req, rc, NULL, "the session was not started");
	else
		login_respond(req, &a, &op.session);
	sodium_memzero(&op, sizeof(op));
	sodium_memzero(&a, sizeof(a));
}

/* An account that is not there reads as one that is not usable. */
int
people_account_find(
    struct store *db, const char *index, struct people_account *a)
{
	struct tx   *tx;
	struct stmt *st;
	const char  *h;
	int	     rc, step;

	memset(a, 0, sizeof(*a));
	if ((rc = store_tx_begin(db, STORE_TX_READ, &tx)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "SELECT u.id, u.password_hash, u.is_active, "
	    "u.role, u.audit_ref, r.is_staff FROM users u JOIN roles r ON "
	    "r.name = u.role WHERE u.email_index = ? AND u.deleted_at IS NULL");
	store_bind_text(st, 1, index);
	if ((step = store_step(st)) == STORE_ROW) {
		strlcpy_cb(a->id, store_col_text(st, 0), sizeof(a->id));
		h = store_col_text(st, 1);
		a->resettable = store_col_int64(st, 2) != 0;
		a->usable =
		    a->resettable && h != NULL && strlen(h) < sizeof(a->hash);
		if (h != NULL)
			strlcpy_cb(a->hash, h, sizeof(a->hash));
		strlcpy_cb(a->role, store_col_text(st, 3), sizeof(a->role));
		if (store_col_text(st, 4) != NULL)
			strlcpy_cb(a->audit_ref, store_col_text(st, 4),
			    sizeof(a->audit_ref));
		a->is_staff = store_col_int64(st, 5) != 0;
	}
	rc = step == STORE_ROW || step == STORE_DONE ? OK : ERR_DB;
	store_finalize(st);
	store_tx_rollback(tx);
	return (rc);
}

static int
login_tx(struct tx *tx, void *arg)
{
	struct people_auth_op *op = arg;
	struct stmt	      *st;
	int64_t		       now = time_now_ms();
	int		       rc, step;

	if ((rc = people_throttle_success(tx, op->index, op->ip)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "UPDATE users SET last_login_at = ?, "
	    "last_active_at = ? WHERE id = ?");
	store_bind_int64(st, 1, now);
	store_bind_int64(st, 2, now);
	store_bind_text(st, 3, op->acct->id);
	step = store_step(st);
	store_finalize(st);
	if (step == STORE_DONE &&
	    (rc = people_user_changed(tx, op->acct->id, NULL, NULL)) != OK)
		return (rc);
	if (step == STORE_DONE && op->rehash) {
		/* The parameters rose since this hash was made. */
		st = store_prepare(tx,
		    "UPDATE users SET password_hash = ? "
		    "WHERE id = ?");
		store_bind_text(st, 1, op->hash);
		store_bind_text(st, 2, op->acct->id);
		step = store_step(st);
		store_finalize(st);
	}
	if (step != STORE_DONE)
		return (step == ERR_BUSY ? ERR_BUSY : ERR_DB);
	return (people_session_start(
	    tx, op->req, op->acct->id, op->acct->is_staff, &op->session));
}

static void
login_respond(
    struct request *req, struct people_account *a, struct people_session *s)
{
	struct principal    who;
	struct resource_ctx ctx;
	json_t		   *user = NULL;
	char		    exp[ISO_TIME_LEN];

	memset(&who, 0, sizeof(who));
	memcpy(who.user_id, a->id, sizeof(who.user_id));
	strlcpy_cb(who.role, a->role, sizeof(who.role));
	memcpy(who.audit_ref, a->audit_ref, sizeof(who.audit_ref));
	memcpy(who.session_id, s->id, sizeof(who.session_id));
	who.is_staff = a->is_staff;
	memset(&ctx, 0, sizeof(ctx));
	ctx.req = req;
	ctx.res = &users_resource;
	ctx.who = &who;
	ctx.scope = SCOPE_OWN;
	if (store_tx_begin(req->db, STORE_TX_READ, &ctx.tx) == OK) {
		if (resource_load(&ctx, a->id, &user) != OK)
			user = NULL;
		store_tx_rollback(ctx.tx);
	}
	if (user == NULL)
		user = json_pack("{s:s}", "id", a->id);
	http_header_add(req, "Cache-Control", "no-store");
	/* The browser (X-Carebase-Client: web) keeps the token in an
	 * HttpOnly cookie that no script reads: not in the body. */
	if (!people_web_client(req))
		http_json(req, 200,
		    json_pack("{s:s,s:s,s:s,s:I,s:o}", "token", s->token,
			"token_type", "Bearer", "expires_at",
			time_format_iso(s->expires_at, exp), "idle_timeout_s",
			(json_int_t)(s->idle_timeout_ms / 1000), "user", user));
	else if (people_web_cookies_set(req, s->token, s->id,
		     (s->expires_at - s->created_at) / 1000, 1) != OK) {
		json_decref(user);
		http_problem(req, ERR_UNAVAILABLE, NULL,
		    "the session cookie cannot be made");
	} else
		http_json(req, 200,
		    json_pack("{s:s,s:I,s:o}", "expires_at",
			time_format_iso(s->expires_at, exp), "idle_timeout_s",
			(json_int_t)(s->idle_timeout_ms / 1000), "user", user));
}

/* POST /v1/auth/logout */

void
people_auth_logout(struct request *req)
{
	struct principal *who;
	struct tx	 *tx;
	int		  rc;

	who = req->caller;
	if ((rc = store_tx_begin(req->db, STORE_TX_WRITE, &tx)) == OK) {
		if ((rc = people_session_end(tx, who->session_id, "logout")) ==
		    OK)
			rc = store_tx_commit(tx);
		else
			store_tx_rollback(tx);
	}
	if (rc != OK)
		http_problem(req, rc, NULL, "the session was not ended");
	else {
		if (people_web_by_cookie(req))
			people_web_cookies_clear(req);
		http_send(req, 204, "application/json", NULL, 0);
	}
}

/* POST /v1/me/password */

/* POST /v1/auth/password-reset */

/*
 * POST /v1/auth/password-reset. Whether the address belongs to an account
 * must not show, in the answer or in its timing: the request only queues a
 * people.password_reset job holding the address, sealed, and answers 202.
 * The job looks the account up and, when there is one that may reset,
 * records the (hashed) token and sends the link.
 */

/* POST /v1/auth/password-reset/confirm */
