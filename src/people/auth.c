/*
 * Accounts: register, login, logout, password change and password reset.
 *
 * Login refuses unknown accounts, wrong passwords and inactive accounts
 * alike (401 INVALID_CREDENTIALS) after the same argon2id work (a dummy
 * hash stands in for a missing one), and counts every attempt per account
 * and per address first (throttle.c). Password reset answers 202 with the
 * same body whether or not the address has an account; the link is
 * config public_url + password_reset_path + token, never built from the
 * request, and the token is stored hashed, single use, for
 * password_reset_ttl_s. Password hashing runs outside transactions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/keyring.h"
#include "core/log.h"
#include "core/mail.h"
#include "core/util.h"
#include "http/http.h"
#include "people/gdpr.h"
#include "people/people.h"
#include "people/people_int.h"
#include "resource/audit.h"
#include "resource/hooks.h"
#include "resource/resource.h"
#include "store/jobs.h"
#include "store/store.h"

#define TOKEN_INPUT_MAX 128

/* A live account found by its email's blind index. */
struct account {
	char id[37];
	char hash[PASSWORD_HASH_LEN];
	char role[32];
	char audit_ref[37];
	int  is_staff;
	int  usable;	 /* active, with a password: may log in */
	int  resettable; /* active (a password or not): may reset it */
};

static const char *const register_members[] = { "email", "password",
	"first_name", "last_name", "date_of_birth", "country", "locale",
	"signup_language", "accept_terms", "accept_privacy", NULL };

/* Set by another module at start-up (people_set_register_hook). */
static const struct people_register_hook *register_hook;

static int field_error(
    struct request *, const char *field, const char *code, const char *detail);
static const char *body_string(
    struct request *, const char *name, size_t max, int required);
static int  hook_member(const char *);
static int  register_check(struct request *, json_t **fields);
static int  register_tx(struct tx *, void *);
static int  account_find(struct store *, const char *index, struct account *);
static int  login_tx(struct tx *, void *);
static void login_respond(
    struct request *, struct account *, struct people_session *);
static int password_set(struct tx *, struct request *, const struct principal *,
    const char *user_id, const char *hash, const char *except,
    const char *reason);
static int reset_tx(struct tx *, void *);
static int confirm_read(
    struct store *, const char *hash, char *user_id, char **email);
static int  confirm_tx(struct tx *, void *);
static int  change_tx(struct tx *, void *);
static void wipe_free(char *);

/* What the transactions of this file are handed. */
struct auth_op {
	struct request	      *req;
	struct principal      *who;
	const char	      *email;
	const char	      *index;
	char		       user_id[37];
	char		       hash[PASSWORD_HASH_LEN];
	char		       token_hash[TOKEN_HASH_LEN];
	const char	      *link;
	char		      *link_buf; /* owned, when link is ours */
	const char	      *ip;	 /* the requester, for jobs */
	struct account	      *acct;
	struct people_session  session;
	struct people_new_user nu;
	int		       rehash;
	void		      *ext; /* register_hook's state */
};

static int
field_error(struct request *req, const char *field, const char *code,
    const char *detail)
{
	http_problem_ext(req, ERR_INVALID, NULL,
	    json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "field", field, "code",
		code, "detail", detail),
	    "%s: %s", field, detail);
	return (ERR_INVALID);
}

/* A string member of the body, bounded; NULL (problem set) when bad. */
static const char *
body_string(struct request *req, const char *name, size_t max, int required)
{
	json_t *v = json_object_get(req->json, name);

	if (v == NULL && !required)
		return (NULL);
	if (!json_is_string(v) || json_string_length(v) == 0) {
		field_error(req, name, v == NULL ? "required" : "type",
		    "must be a non-empty string");
		return (NULL);
	}
	if (json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		field_error(req, name, "too_long", "is too long or holds NUL");
		return (NULL);
	}
	return (json_string_value(v));
}

static void
wipe_free(char *s)
{
	if (s != NULL) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

/* POST /v1/auth/register */

void
people_set_register_hook(const struct people_register_hook *hook)
{
	register_hook = hook;
}

/* Is key one of the register hook's members? */
static int
hook_member(const char *key)
{
	const char *const *m;

	if (register_hook == NULL || register_hook->members == NULL)
		return (0);
	for (m = register_hook->members; *m != NULL; m++)
		if (strcmp(*m, key) == 0)
			return (1);
	return (0);
}

void
people_auth_register(struct request *req)
{
	struct auth_op op;
	json_t	      *fields = NULL;
	const char    *pw, *why;
	int	       rc;

	memset(&op, 0, sizeof(op));
	if (register_check(req, &fields) != OK)
		goto out;
	pw = json_string_value(json_object_get(req->json, "password"));
	op.req = req;
	op.nu.email = json_string_value(json_object_get(fields, "email"));
	if (people_password_check(pw, strlen(pw), op.nu.email, &why) != OK) {
		field_error(
		    req, "password", why, "the password is not accepted");
		goto out;
	}
	if (register_hook != NULL && register_hook->check(req, &op.ext) != OK)
		goto out;
	op.nu.role = "member";
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
	if ((rc = crypto_password_hash(pw, op.hash)) != OK) {
		http_problem(req, rc, NULL, "the password could not be hashed");
		goto out;
	}
	op.nu.password_hash = op.hash;
	rc = store_run(req->db, STORE_TX_WRITE, register_tx, &op);
	if (rc == ERR_CONFLICT)
		http_problem(
		    req, rc, "EMAIL_TAKEN", "that email cannot be used");
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
	const char *key, *pw;
	json_t	   *v, *t;
	size_t	    i;

	json_object_foreach(req->json, key, v)
	{
		for (i = 0; register_members[i] != NULL; i++)
			if (strcmp(key, register_members[i]) == 0)
				break;
		if (register_members[i] == NULL && !hook_member(key))
			return (field_error(req, key, "unknown_field",
			    "is not accepted at registration"));
	}
	if ((pw = body_string(req, "password", PEOPLE_PASSWORD_BYTES, 1)) ==
	    NULL)
		return (ERR_INVALID);
	if (!json_is_true(json_object_get(req->json, "accept_terms")))
		return (field_error(req, "accept_terms", "required",
		    "the terms of use must be accepted (true)"));
	t = json_object_get(req->json, "accept_privacy");
	if (t != NULL && !json_is_true(t))
		return (field_error(req, "accept_privacy", "required",
		    "the privacy notice must be accepted (true)"));
	if ((*fields = json_deep_copy(req->json)) == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "out of memory");
		return (ERR_NOMEM);
	}
	json_object_del(*fields, "password");
	json_object_del(*fields, "accept_terms");
	json_object_del(*fields, "accept_privacy");
	if (register_hook != NULL && register_hook->members != NULL)
		for (i = 0; register_hook->members[i] != NULL; i++)
			json_object_del(*fields, register_hook->members[i]);
	return (resource_validate(req, &users_resource, *fields, 1, SCOPE_OWN));
}

static int
register_tx(struct tx *tx, void *arg)
{
	struct auth_op *op = arg;
	struct stmt    *st;
	char		index[65];
	int		step;

	keyring_email_index(op->nu.email, index);
	st = store_prepare(tx, "SELECT 1 FROM users WHERE email_index = ?");
	store_bind_text(st, 1, index);
	step = store_step(st);
	store_finalize(st);
	if (step == STORE_ROW)
		return (ERR_CONFLICT);
	if (step != STORE_DONE)
		return (step == ERR_BUSY ? ERR_BUSY : ERR_DB);
	if ((step = people_user_insert(tx, op->req, &op->nu, op->user_id)) !=
		OK ||
	    register_hook == NULL)
		return (step);
	return (register_hook->apply(tx, op->req, op->user_id, op->ext));
}

/* POST /v1/auth/login */

void
people_auth_login(struct request *req)
{
	struct auth_op op;
	struct account a;
	const char    *email, *pw;
	char	       index[65], ra[16];
	int	       retry = 1, rc, ok;

	if ((email = body_string(req, "email", PEOPLE_EMAIL_MAX, 1)) == NULL ||
	    (pw = body_string(req, "password", PEOPLE_PASSWORD_BYTES, 1)) ==
		NULL)
		return;
	keyring_email_index(email, index);
	rc = people_throttle_reserve(req->db, index,
	    req->client_key[0] ? req->client_key : req->ip, time_now_ms(),
	    &retry);
	if (rc == ERR_RATE_LIMIT) {
		snprintf(ra, sizeof(ra), "%d", retry);
		http_header_add(req, "Retry-After", ra);
		http_problem(req, rc, NULL,
		    "too many failed logins; try again "
		    "in %d seconds",
		    retry);
		return;
	}
	if (rc != OK || (rc = account_find(req->db, index, &a)) != OK) {
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
static int
account_find(struct store *db, const char *index, struct account *a)
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
	struct auth_op *op = arg;
	struct stmt    *st;
	int64_t		now = time_now_ms();
	int		rc, step;

	if ((rc = people_throttle_success(tx, op->index)) != OK)
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
login_respond(struct request *req, struct account *a, struct people_session *s)
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
	http_header_add(req, "Cache-Control", "no-store");
	http_json(req, 200,
	    json_pack("{s:s,s:s,s:s,s:I,s:o}", "token", s->token, "token_type",
		"Bearer", "expires_at", time_format_iso(s->expires_at, exp),
		"idle_timeout_s", (json_int_t)(s->idle_timeout_ms / 1000),
		"user", user != NULL ? user : json_pack("{s:s}", "id", a->id)));
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
	else
		http_send(req, 204, "application/json", NULL, 0);
}

/*
 * Set a new hash, end sessions, forget failures, audit, tell the owner.
 * who is the person changing their own password (audit_append records
 * them as "self"), NULL for a reset by link.
 */
static int
password_set(struct tx *tx, struct request *req, const struct principal *who,
    const char *user_id, const char *hash, const char *except,
    const char *reason)
{
	struct stmt *st;
	json_t	    *vars, *changes;
	char	    *email = NULL, index[65], at[ISO_TIME_LEN];
	int	     rc, step;

	st = store_prepare(tx,
	    "UPDATE users SET password_hash = ?, "
	    "updated_at = ? WHERE id = ?");
	store_bind_text(st, 1, hash);
	store_bind_int64(st, 2, time_now_ms());
	store_bind_text(st, 3, user_id);
	step = store_step(st);
	store_finalize(st);
	if (step != STORE_DONE)
		return (step == ERR_BUSY ? ERR_BUSY : ERR_DB);
	if ((rc = people_sessions_end(tx, user_id, except, reason)) != OK ||
	    (rc = people_user_email(tx, user_id, &email)) != OK)
		return (rc);
	keyring_email_index(email, index);
	if ((rc = people_throttle_success(tx, index)) != OK)
		goto out;
	changes =
	    json_pack("{s:[s],s:s}", "fields", "password", "reason", reason);
	rc = audit_append(
	    tx, who, req, "password_change", "users", user_id, changes);
	json_decref(changes);
	if (rc != OK)
		goto out;
	vars =
	    json_pack("{s:s,s:s}", "time", time_format_iso(time_now_ms(), at),
		"public_url", config.public_url);
	rc = hooks_mail(tx, email, user_id, "password_changed", vars, NULL);
	json_decref(vars);
out:
	wipe_free(email);
	return (rc);
}

/* POST /v1/me/password */

void
people_me_password(struct request *req)
{
	struct principal *who;
	struct auth_op	  op;
	const char	 *cur, *pw, *why;
	char		 *email = NULL;
	struct tx	 *tx;
	int		  rc;

	who = req->caller;
	if ((cur = body_string(
		 req, "current_password", PEOPLE_PASSWORD_BYTES, 1)) == NULL ||
	    (pw = body_string(req, "new_password", PEOPLE_PASSWORD_BYTES, 1)) ==
		NULL)
		return;
	if (people_user_verify(req->db, who->user_id, cur) != OK) {
		http_problem(req, ERR_FORBIDDEN, "INVALID_CURRENT_PASSWORD",
		    "the current password is not right");
		return;
	}
	if ((rc = store_tx_begin(req->db, STORE_TX_READ, &tx)) == OK) {
		rc = people_user_email(tx, who->user_id, &email);
		store_tx_rollback(tx);
	}
	if (rc != OK) {
		http_problem(req, rc, NULL, "the password was not changed");
		return;
	}
	rc = people_password_check(pw, strlen(pw), email, &why);
	wipe_free(email);
	if (rc != OK) {
		field_error(
		    req, "new_password", why, "the password is not accepted");
		return;
	}
	memset(&op, 0, sizeof(op));
	op.req = req;
	op.who = who;
	if ((rc = crypto_password_hash(pw, op.hash)) == OK)
		rc = store_run(req->db, STORE_TX_WRITE, change_tx, &op);
	sodium_memzero(op.hash, sizeof(op.hash));
	if (rc != OK)
		http_problem(req, rc, NULL, "the password was not changed");
	else
		http_send(req, 204, "application/json", NULL, 0);
}

static int
change_tx(struct tx *tx, void *arg)
{
	struct auth_op *op = arg;

	return (password_set(tx, op->req, op->who, op->who->user_id, op->hash,
	    op->who->session_id, "password_changed"));
}

/* POST /v1/auth/password-reset */

/*
 * POST /v1/auth/password-reset. Whether the address belongs to an account
 * must not show, in the answer or in its timing: the request only queues a
 * people.password_reset job holding the address, sealed, and answers 202.
 * The job looks the account up and, when there is one that may reset,
 * records the (hashed) token and sends the link.
 */
struct reset_enqueue {
	const char *payload;
};

static int
reset_enqueue_tx(struct tx *tx, void *arg)
{
	struct reset_enqueue *e = arg;

	return (jobs_enqueue(
	    tx, "people.password_reset", e->payload, "mail", 0, NULL));
}

void
people_auth_reset(struct request *req)
{
	struct reset_enqueue e;
	const char	    *email;
	unsigned char	    *sealed = NULL;
	size_t		     n;
	char		    *b64 = NULL, *payload = NULL;
	json_t		    *p = NULL;
	int		     rc;

	if ((email = body_string(req, "email", PEOPLE_EMAIL_MAX, 1)) == NULL)
		return;
	rc = ERR_NOMEM;
	if (keyring_seal_text(
		KEY_SYSTEM, "jobs.password_reset", email, &sealed, &n) != OK ||
	    (b64 = malloc(sodium_base64_ENCODED_LEN(
		 n, sodium_base64_VARIANT_URLSAFE_NO_PADDING))) == NULL)
		goto out;
	sodium_bin2base64(b64,
	    sodium_base64_ENCODED_LEN(
		n, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
	    sealed, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if ((p = json_pack("{s:s,s:s}", "email", b64, "ip", req->ip)) == NULL ||
	    (payload = json_dumps(p, JSON_COMPACT)) == NULL)
		goto out;
	e.payload = payload;
	rc = store_run(req->db, STORE_TX_WRITE, reset_enqueue_tx, &e);
out:
	if (rc != OK)
		log_warn("event=password_reset_failed id=%s rc=%s", req->id,
		    err_code(rc));
	free(sealed);
	free(b64);
	free(payload);
	json_decref(p);
	http_json(req, 202,
	    json_pack("{s:s,s:s}", "status", "accepted", "detail",
		"If an account uses this address, a link to reset its "
		"password is on its way."));
}

/* The people.password_reset job: see people_auth_reset. */
int
people_reset_job(struct store *db, const struct job *job, char *err)
{
	struct auth_op op;
	struct account a;
	json_t	      *p;
	json_error_t   jerr;
	const char    *b64, *ip;
	unsigned char  sealed[PEOPLE_EMAIL_MAX + SEAL_OVERHEAD + 8];
	size_t	       n;
	char	      *email = NULL, token[TOKEN_LEN], index[65];
	int	       rc = ERR_INVALID;

	memset(&op, 0, sizeof(op));
	memset(&a, 0, sizeof(a));
	if ((p = json_loads(job->payload, 0, &jerr)) == NULL ||
	    json_unpack(p, "{s:s,s:s}", "email", &b64, "ip", &ip) != 0 ||
	    sodium_base642bin(sealed, sizeof(sealed), b64, strlen(b64), NULL,
		&n, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    keyring_open_text(
		KEY_SYSTEM, "jobs.password_reset", sealed, n, &email) != OK) {
		snprintf(err, JOB_ERR_LEN,
		    "people.password_reset: malformed "
		    "payload");
		goto out;
	}
	keyring_email_index(email, index);
	if ((rc = account_find(db, index, &a)) != OK) {
		snprintf(err, JOB_ERR_LEN, "people.password_reset: %s",
		    err_code(rc));
		goto out;
	}
	/* Staff-made accounts have no password yet: a reset sets the first. */
	if (!a.resettable)
		goto out; /* nobody to send to: done */
	crypto_token_new(token);
	crypto_token_hash(token, op.token_hash);
	op.link_buf = NULL;
	if (asprintf(&op.link_buf, "%s%s%s", config.public_url,
		config.password_reset_path, token) < 0) {
		op.link_buf = NULL;
		rc = ERR_NOMEM;
		goto out;
	}
	op.link = op.link_buf;
	op.ip = ip;
	op.acct = &a;
	if ((rc = store_run(db, STORE_TX_WRITE, reset_tx, &op)) != OK)
		snprintf(err, JOB_ERR_LEN, "people.password_reset: %s",
		    err_code(rc));
out:
	sodium_memzero(token, sizeof(token));
	sodium_memzero(&a, sizeof(a));
	if (op.link_buf != NULL) {
		sodium_memzero(op.link_buf, strlen(op.link_buf));
		free(op.link_buf);
	}
	if (email != NULL) {
		sodium_memzero(email, strlen(email));
		free(email);
	}
	json_decref(p);
	return (rc);
}

static int
reset_tx(struct tx *tx, void *arg)
{
	struct auth_op *op = arg;
	struct stmt    *st;
	json_t	       *vars;
	char		id[UUID_STR_LEN], *email = NULL;
	int64_t		now = time_now_ms();
	int		rc, step;

	st = store_prepare(tx,
	    "INSERT INTO password_resets (id, user_id, "
	    "token_hash, ip, created_at, expires_at) VALUES (?, ?, ?, ?, ?, "
	    "?)");
	store_bind_text(st, 1, uuid_v7(id));
	store_bind_text(st, 2, op->acct->id);
	store_bind_text(st, 3, op->token_hash);
	store_bind_text(st, 4, op->req != NULL ? op->req->ip : op->ip);
	store_bind_int64(st, 5, now);
	store_bind_int64(st, 6, now + 1000 * config.password_reset_ttl_s);
	step = store_step(st);
	store_finalize(st);
	if (step != STORE_DONE)
		return (step == ERR_BUSY ? ERR_BUSY : ERR_DB);
	if ((rc = people_user_email(tx, op->acct->id, &email)) != OK)
		return (rc);
	vars = json_pack("{s:s,s:I}", "link", op->link, "minutes",
	    (json_int_t)(config.password_reset_ttl_s / 60));
	rc = hooks_mail(tx, email, op->acct->id, "password_reset", vars, NULL);
	json_decref(vars);
	wipe_free(email);
	return (rc);
}

/* POST /v1/auth/password-reset/confirm */

void
people_auth_reset_confirm(struct request *req)
{
	struct auth_op op;
	const char    *token, *pw, *why;
	char	      *email = NULL;
	int	       rc;

	if ((token = body_string(req, "token", TOKEN_INPUT_MAX, 1)) == NULL ||
	    (pw = body_string(req, "new_password", PEOPLE_PASSWORD_BYTES, 1)) ==
		NULL)
		return;
	memset(&op, 0, sizeof(op));
	op.req = req;
	crypto_token_hash(token, op.token_hash);
	if ((rc = confirm_read(req->db, op.token_hash, op.user_id, &email)) !=
	    OK) {
		if (rc == ERR_NOT_FOUND)
			http_problem(req, ERR_INVALID, "INVALID_TOKEN",
			    "the link "
			    "is not valid, was used already or has expired");
		else
			http_problem(
			    req, rc, NULL, "the password was not reset");
		return;
	}
	rc = people_password_check(pw, strlen(pw), email, &why);
	wipe_free(email);
	if (rc != OK) {
		field_error(
		    req, "new_password", why, "the password is not accepted");
		return;
	}
	if ((rc = crypto_password_hash(pw, op.hash)) == OK)
		rc = store_run(req->db, STORE_TX_WRITE, confirm_tx, &op);
	sodium_memzero(op.hash, sizeof(op.hash));
	if (rc == ERR_NOT_FOUND)
		http_problem(req, ERR_INVALID, "INVALID_TOKEN",
		    "the link is not "
		    "valid, was used already or has expired");
	else if (rc != OK)
		http_problem(req, rc, NULL, "the password was not reset");
	else
		http_send(req, 204, "application/json", NULL, 0);
}

/* The user a live reset token is for, and their email. */
static int
confirm_read(struct store *db, const char *hash, char *user_id, char **email)
{
	struct tx   *tx;
	struct stmt *st;
	int	     rc, step;

	if ((rc = store_tx_begin(db, STORE_TX_READ, &tx)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "SELECT p.user_id FROM password_resets p JOIN "
	    "users u ON u.id = p.user_id WHERE p.token_hash = ? AND "
	    "p.used_at IS NULL AND p.expires_at > ? AND u.deleted_at IS NULL "
	    "AND u.is_active = 1");
	store_bind_text(st, 1, hash);
	store_bind_int64(st, 2, time_now_ms());
	if ((step = store_step(st)) == STORE_ROW)
		strlcpy_cb(user_id, store_col_text(st, 0), 37);
	store_finalize(st);
	rc = step == STORE_ROW ? OK
			       : (step == STORE_DONE ? ERR_NOT_FOUND : ERR_DB);
	if (rc == OK)
		rc = people_user_email(tx, user_id, email);
	store_tx_rollback(tx);
	return (rc);
}

/* Use the token exactly once, then every other link of the user too. */
static int
confirm_tx(struct tx *tx, void *arg)
{
	struct auth_op *op = arg;
	struct stmt    *st;
	int64_t		now = time_now_ms(), n;
	int		step;

	st = store_prepare(tx,
	    "UPDATE password_resets SET used_at = ? WHERE "
	    "token_hash = ? AND used_at IS NULL AND expires_at > ?");
	store_bind_int64(st, 1, now);
	store_bind_text(st, 2, op->token_hash);
	store_bind_int64(st, 3, now);
	step = store_step(st);
	n = store_changes(st);
	store_finalize(st);
	if (step != STORE_DONE)
		return (step == ERR_BUSY ? ERR_BUSY : ERR_DB);
	if (n != 1)
		return (ERR_NOT_FOUND);
	st = store_prepare(tx,
	    "UPDATE password_resets SET used_at = ? WHERE "
	    "user_id = ? AND used_at IS NULL");
	store_bind_int64(st, 1, now);
	store_bind_text(st, 2, op->user_id);
	step = store_step(st);
	store_finalize(st);
	if (step != STORE_DONE)
		return (step == ERR_BUSY ? ERR_BUSY : ERR_DB);
	return (password_set(
	    tx, op->req, NULL, op->user_id, op->hash, NULL, "password_reset"));
}
