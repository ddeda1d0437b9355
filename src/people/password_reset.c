/*
 * Passwords changed and reset (auth.c has registration and sign-in):
 *
 *	POST /v1/me/password		the current password and a new one
 *	POST /v1/auth/password-reset	{email}: 202 whatever the address
 *	POST /v1/auth/password-reset/confirm	{token, new_password}
 *
 * The reset answers 202 with the same body whether or not the address
 * has an account, and the job people.password_reset does the work, so
 * the answer's timing tells nothing either. The link is config
 * public_url + password_reset_path + token, never built from the
 * request; the token is stored hashed, single use, for
 * password_reset_ttl_s. A new password ends the other sessions (every
 * one, for a reset), forgets the sign-in failures, is audited and is
 * told to the owner by mail. Password hashing runs outside transactions.
 *
 * The address that asked travels to the job sealed under the system key
 * (as the email does) and is kept in the reset's row sealed under the
 * person's data key: theirs to see in their export, unreadable once they
 * are erased. A child's welcome (family.c) carries none: the address
 * that asked is their guardian's, not theirs.
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
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "people/people.h"
#include "people/people_int.h"
#include "resource/audit.h"
#include "resource/hooks.h"
#include "resource/resource.h"
#include "resource/seal.h"
#include "store/jobs.h"
#include "store/store.h"

/* The job payload's sealed requesting address: its binding. */
#define RESET_IP_SEAL "jobs.password_reset.ip"

/*
 * The table as a person's GDPR export and erasure follow it; no route
 * serves it. Exported with its times and the address that asked, opened
 * (never the token's hash), deleted with the person.
 */
static const struct field reset_fields[] = {
	{ "user_id", FIELD_UUID, FIELD_REQUIRED | FIELD_HIDDEN, 0, 0, NULL,
	    NULL, "users", 0, "whose password; owns the row" },
	{ "token_hash", FIELD_TEXT, FIELD_REQUIRED | FIELD_HIDDEN, 0, 0, NULL,
	    NULL, NULL, 0, "SHA-256 of the link's token" },
	{ "ip", FIELD_TEXT, FIELD_NULLABLE | FIELD_PERSONAL, 0, 0, NULL, NULL,
	    NULL, 0, "the address that asked (sealed)" },
	{ "created_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    "asked" },
	{ "expires_at", FIELD_TIME, FIELD_REQUIRED, 0, 0, NULL, NULL, NULL, 0,
	    "the link works until then" },
	{ "used_at", FIELD_TIME, FIELD_NULLABLE, 0, 0, NULL, NULL, NULL, 0,
	    "the link was used" },
	/* The table has no updated_at: its last change stands in. */
	{ "updated_at", FIELD_TIME, FIELD_READONLY | FIELD_HIDDEN, 0, 0, NULL,
	    NULL, NULL, 0, NULL, "COALESCE(used_at, created_at)" },
};

const struct resource password_resets_resource = {
	.name = "password_resets",
	.table = "password_resets",
	.fields = reset_fields,
	.nfields = NELEM(reset_fields),
	.owner_column = "user_id",
	.flags = RESOURCE_NO_ROUTES | RESOURCE_EXPORT_TOP | RESOURCE_ERASE_ROWS,
	.doc = "A user's password reset links, in their export beside their "
	       "account (times and the address that asked).",
};

/* The reset job queued by the request: its payload. */
struct reset_enqueue {
	const char *email;
	const char *ip;
};

static int reset_enqueue_tx(struct tx *, void *);
static int password_set(struct tx *, struct request *, const struct principal *,
    const char *user_id, const char *hash, const char *except,
    const char *reason);
static int change_tx(struct tx *, void *);
static int reset_tx(struct tx *, void *);
static int confirm_read(
    struct store *, const char *hash, char *user_id, char **email);
static int confirm_tx(struct tx *, void *);
static int reset_ip_bind(struct tx *, struct stmt *, int col,
    const char *user_id, const char *id, const char *ip);

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
	if ((rc = people_throttle_forget(tx, index)) != OK)
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
	people_wipe_free(email);
	return (rc);
}

void
people_me_password(struct request *req)
{
	struct principal     *who;
	struct people_auth_op op;
	const char	     *cur, *pw, *why;
	char		     *email = NULL;
	struct tx	     *tx;
	int		      rc;

	who = req->caller;
	if ((cur = people_body_string(
		 req, "current_password", PEOPLE_PASSWORD_BYTES, 1)) == NULL ||
	    (pw = people_body_string(
		 req, "new_password", PEOPLE_PASSWORD_BYTES, 1)) == NULL)
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
	people_wipe_free(email);
	if (rc != OK) {
		people_field_error(
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
	struct people_auth_op *op = arg;

	return (password_set(tx, op->req, op->who, op->who->user_id, op->hash,
	    op->who->session_id, "password_changed"));
}

int
people_email_seal(const char *context, const char *email, char **b64_out)
{
	unsigned char *sealed = NULL;
	size_t	       n, len;

	*b64_out = NULL;
	if (keyring_seal_text(KEY_SYSTEM, context, email, &sealed, &n) != OK)
		return (ERR_NOMEM);
	len = sodium_base64_ENCODED_LEN(
	    n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if ((*b64_out = malloc(len)) != NULL)
		sodium_bin2base64(*b64_out, len, sealed, n,
		    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	free(sealed);
	return (*b64_out != NULL ? OK : ERR_NOMEM);
}

int
people_email_open(const char *context, const char *b64, char **email_out)
{
	unsigned char sealed[PEOPLE_EMAIL_MAX + SEAL_OVERHEAD + 8];
	size_t	      n;

	*email_out = NULL;
	if (sodium_base642bin(sealed, sizeof(sealed), b64, strlen(b64), NULL,
		&n, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    keyring_open_text(KEY_SYSTEM, context, sealed, n, email_out) != OK)
		return (ERR_INVALID);
	return (OK);
}

int
people_reset_queue(
    struct tx *tx, const char *email, const char *ip, const char *template)
{
	char   *b64 = NULL, *ip64 = NULL, *payload = NULL;
	json_t *p = NULL;
	int	rc;

	/* Neither the email nor the address in clear in the jobs table. */
	if ((rc = people_email_seal("jobs.password_reset", email, &b64)) !=
		OK ||
	    (ip != NULL && ip[0] != '\0' &&
		(rc = people_email_seal(RESET_IP_SEAL, ip, &ip64)) != OK))
		goto out;
	rc = ERR_NOMEM;
	if ((p = json_pack("{s:s,s:s*}", "email", b64, "ip_sealed", ip64)) ==
		NULL ||
	    (template != NULL &&
		json_object_set_new(p, "template", json_string(template)) !=
		    0) ||
	    (payload = json_dumps(p, JSON_COMPACT)) == NULL)
		goto out;
	rc =
	    jobs_enqueue(tx, "people.password_reset", payload, "mail", 0, NULL);
out:
	free(b64);
	free(ip64);
	free(payload);
	json_decref(p);
	return (rc);
}

static int
reset_enqueue_tx(struct tx *tx, void *arg)
{
	struct reset_enqueue *e = arg;

	return (people_reset_queue(tx, e->email, e->ip, NULL));
}

void
people_auth_reset(struct request *req)
{
	struct reset_enqueue e;
	const char	    *email;
	int		     rc;

	if ((email = people_body_string(req, "email", PEOPLE_EMAIL_MAX, 1)) ==
	    NULL)
		return;
	e.email = email;
	e.ip = req->ip;
	rc = store_run(req->db, STORE_TX_WRITE, reset_enqueue_tx, &e);
	if (rc != OK)
		log_warn("event=password_reset_failed id=%s rc=%s", req->id,
		    err_code(rc));
	http_json(req, 202,
	    json_pack("{s:s,s:s}", "status", "accepted", "detail",
		"If an account uses this address, a link to reset its "
		"password is on its way."));
}

/* The people.password_reset job: see people_auth_reset. */
int
people_reset_job(struct store *db, const struct job *job, char *err)
{
	struct people_auth_op op;
	struct people_account a;
	json_t		     *p;
	json_error_t	      jerr;
	const char	     *b64, *ip64 = NULL, *old_ip = NULL;
	const char	     *tmpl = NULL;
	char		     *email = NULL, *ip = NULL, index[65];
	char		      token[TOKEN_LEN];
	int		      rc = ERR_INVALID;

	memset(&op, 0, sizeof(op));
	memset(&a, 0, sizeof(a));
	memset(token, 0, sizeof(token));
	/* tmpl: the welcome of a child's account (family.c), else a
	 * reset asked for. An address in clear ("ip") is a job an older
	 * binary queued: read, never kept. */
	if ((p = json_loads(job->payload, 0, &jerr)) == NULL ||
	    json_unpack(p, "{s:s,s?s,s?s,s?s}", "email", &b64, "ip_sealed",
		&ip64, "ip", &old_ip, "template", &tmpl) != 0 ||
	    (tmpl != NULL && strcmp(tmpl, "family_welcome") != 0) ||
	    people_email_open("jobs.password_reset", b64, &email) != OK ||
	    (ip64 != NULL &&
		people_email_open(RESET_IP_SEAL, ip64, &ip) != OK)) {
		snprintf(err, JOB_ERR_LEN,
		    "people.password_reset: malformed "
		    "payload");
		goto out;
	}
	keyring_email_index(email, index);
	if ((rc = people_account_find(db, index, &a)) != OK) {
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
	op.index = index;
	op.mail_template = tmpl != NULL ? tmpl : "password_reset";
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
	people_wipe_free(ip);
	json_decref(p);
	return (rc);
}

static int
reset_tx(struct tx *tx, void *arg)
{
	struct people_auth_op *op = arg;
	struct stmt	      *st;
	json_t		      *vars;
	char		       id[UUID_STR_LEN], *email = NULL;
	int64_t		       now = time_now_ms();
	int		       rc, step;

	/* The account was found by its address outside this transaction:
	 * the address may have changed since (its links ended then). The
	 * row locked, the link goes to the address it still has, or none
	 * is made. */
	if ((rc = people_user_row_lock(tx, op->acct->id, op->index)) != OK)
		return (rc == ERR_NOT_FOUND ? OK : rc);
	st = store_prepare(tx,
	    "INSERT INTO password_resets (id, user_id, "
	    "token_hash, ip, created_at, expires_at) VALUES (?, ?, ?, ?, ?, "
	    "?)");
	store_bind_text(st, 1, uuid_v7(id));
	store_bind_text(st, 2, op->acct->id);
	store_bind_text(st, 3, op->token_hash);
	if ((rc = reset_ip_bind(tx, st, 4, op->acct->id, id,
		 op->req != NULL ? op->req->ip : op->ip)) != OK) {
		store_finalize(st);
		return (rc);
	}
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
	rc = vars != NULL ? OK : ERR_NOMEM;
	/* A child's welcome also names the guardian who made the account
	 * and lets the address's owner refuse it (family_close.c); with
	 * no guardian's record of it left, no welcome. */
	if (rc == OK && strcmp(op->mail_template, "family_welcome") == 0)
		rc = people_family_welcome(tx, op->acct->id, email, vars);
	if (rc == OK)
		rc = hooks_mail(
		    tx, email, op->acct->id, op->mail_template, vars, NULL);
	else if (rc == ERR_NOT_FOUND)
		rc = OK;
	json_decref(vars);
	people_wipe_free(email);
	return (rc);
}

/*
 * Bind reset id's requesting address at col: sealed under user_id's key,
 * NULL when there is none or the key is gone.
 */
static int
reset_ip_bind(struct tx *tx, struct stmt *st, int col, const char *user_id,
    const char *id, const char *ip)
{
	unsigned char key[SEAL_KEY_LEN], *blob = NULL;
	size_t	      len = 0;
	int	      rc;

	if (ip == NULL || ip[0] == '\0') {
		store_bind_null(st, col);
		return (OK);
	}
	if ((rc = seal_key_load(tx, user_id, key)) == ERR_NOT_FOUND) {
		store_bind_null(st, col);
		return (OK);
	}
	if (rc == OK)
		rc = seal_field(
		    key, "password_resets", "ip", id, ip, &blob, &len);
	sodium_memzero(key, sizeof(key));
	if (rc == OK)
		store_bind_blob(st, col, blob, len);
	free(blob);
	return (rc);
}

void
people_auth_reset_confirm(struct request *req)
{
	struct people_auth_op op;
	const char	     *token, *pw, *why;
	char		     *email = NULL;
	int		      rc;

	if ((token = people_body_string(
		 req, "token", PEOPLE_TOKEN_INPUT_MAX, 1)) == NULL ||
	    (pw = people_body_string(
		 req, "new_password", PEOPLE_PASSWORD_BYTES, 1)) == NULL)
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
	people_wipe_free(email);
	if (rc != OK) {
		people_field_error(
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
	struct people_auth_op *op = arg;
	struct stmt	      *st;
	int64_t		       now = time_now_ms(), n;
	int		       step;

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
	/* The link came to the address: it is proven. */
	if ((step = people_email_verified(tx, op->user_id)) != OK)
		return (step);
	return (password_set(
	    tx, op->req, NULL, op->user_id, op->hash, NULL, "password_reset"));
}
