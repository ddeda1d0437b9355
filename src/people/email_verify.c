/*
 * Addresses proven and staff invited (issue 19 item 6):
 *
 *	POST /v1/auth/verify-email		{token}: the sign-up link
 *	POST /v1/auth/verify-email/resend	a new link (signed in)
 *	POST /v1/auth/set-password		{token, password}: the
 *						invitation link
 *
 * Registration mails a verification link (email_verify: public_url +
 * /verify-email?token=, core/pages.h) that works once, for
 * email_verify_ttl_s; opening it marks the address verified and sends the
 * welcome. Until then the address gets no mail but that link and the ones
 * that give access (password reset, the invitations): people_mail_gate,
 * which the mail queue asks (hooks_mail_gate). A password set through a
 * mailed link (reset, invitation) proves the address too. Accounts that
 * staff make, and those made before this (migration 0045), count as
 * verified. A new link may be asked for once per email_verify_resend_s
 * (429 RESEND_TOO_SOON with Retry-After); it ends the earlier ones.
 *
 * A staff user made by an admin through POST /v1/users, or by `carebase
 * user add --invite`, gets an invitation (staff_invitation: public_url +
 * /set-password?token=) valid once for staff_invite_ttl_s; the password
 * set through it signs in like any other.
 *
 * A changed sign-in address (PATCH /v1/me, or staff through PATCH
 * /v1/users/{id}) is unproven again, whoever changed it: every open link
 * of the user ends (verification, invitation, password reset), the new
 * address gets a verification link (an invited staff member who has no
 * password yet: a new invitation instead), and the old address, if it
 * was proven, a notice with no link that acts (email_changed). A
 * deactivated or deleted account's links end too, so reactivating it
 * does not bring them back.
 *
 * Only the tokens' SHA-256 is kept (email_tokens), exported and erased
 * with the person.
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
#include "core/mail.h"
#include "core/pages.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "people/people.h"
#include "people/people_int.h"
#include "resource/audit.h"
#include "resource/hooks.h"
#include "resource/resource.h"
#include "store/store.h"

#define PURPOSE_VERIFY	 "verify_email"
#define PURPOSE_PASSWORD "set_password"

static const struct field email_token_fields[] = {
	{ "user_id", FIELD_UUID, FIELD_REQUIRED | FIELD_HIDDEN, 0, 0, NULL,
	    NULL, "users", 0, "whose address; owns the row" },
	{ "purpose", FIELD_TEXT, FIELD_REQUIRED, 0, 0, NULL, NULL, NULL, 0,
	    "verify_email (sign-up) or set_password (a staff invitation)" },
	{ "token_hash", FIELD_TEXT, FIELD_REQUIRED | FIELD_HIDDEN, 0, 0, NULL,
	    NULL, NULL, 0, "SHA-256 of the link's token" },
	{ "created_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    "mailed" },
	{ "expires_at", FIELD_TIME, FIELD_REQUIRED, 0, 0, NULL, NULL, NULL, 0,
	    "the link works until then" },
	{ "used_at", FIELD_TIME, FIELD_NULLABLE, 0, 0, NULL, NULL, NULL, 0,
	    "the link was used (or a newer one replaced it)" },
	{ "updated_at", FIELD_TIME, FIELD_READONLY | FIELD_HIDDEN, 0, 0, NULL,
	    NULL, NULL, 0, NULL, "COALESCE(used_at, created_at)" },
};

const struct resource email_tokens_resource = {
	.name = "email_tokens",
	.table = "email_tokens",
	.fields = email_token_fields,
	.nfields = NELEM(email_token_fields),
	.owner_column = "user_id",
	.flags = RESOURCE_NO_ROUTES | RESOURCE_EXPORT_TOP | RESOURCE_ERASE_ROWS,
	.doc = "A user's address verification and invitation links, in their "
	       "export beside their account (times only).",
};

/* The templates: what each link is for, text and HTML (the layout,
 * ops/mail_job.c, brands and frames them). */
static const struct mail_template templates[] = {
	{
	    "email_verify",
	    "Confirm your address for {{brand_name}}",
	    "Welcome to {{brand_name}}.\n\n"
	    "To confirm that this address is yours, open this link within "
	    "{{hours}} hours:\n{{link}}\n\n"
	    "Until you do, we send it nothing else. If you did not sign up, "
	    "ignore this message.\n",
	    "<p>Welcome to {{brand_name}}.</p>"
	    "<p>To confirm that this address is yours, open "
	    "<a href=\"{{link}}\">this link</a> within {{hours}} hours.</p>"
	    "<p>Until you do, we send it nothing else. If you did not sign "
	    "up, ignore this message.</p>",
	    "{\"link\":\"/verify-email?token=SAMPLE\","
	    "\"hours\":48}",
	},
	{
	    "welcome",
	    "Welcome to {{brand_name}}",
	    "Hello {{first_name}},\n\n"
	    "Your address is confirmed and your {{brand_name}} account is "
	    "ready.\n\nYour account: {{account_link}}\n"
	    "Your notifications: {{notifications_link}}\n",
	    "<p>Hello {{first_name}},</p>"
	    "<p>Your address is confirmed and your {{brand_name}} account is "
	    "ready.</p><p><a href=\"{{account_link}}\">Your account</a> &middot; "
	    "<a href=\"{{notifications_link}}\">Your notifications</a></p>",
	    "{\"first_name\":\"Sam\","
	    "\"account_link\":\"/account\","
	    "\"notifications_link\":\"/notifications\"}",
	},
	{
	    "staff_invitation",
	    "You are invited to {{brand_name}}",
	    "Hello,\n\n"
	    "An administrator made you a {{brand_name}} account as {{role}}.\n\n"
	    "To choose your password, open this link within {{days}} days:\n"
	    "{{link}}\n\n"
	    "It works once. If you did not expect this, ignore this message.\n",
	    "<p>Hello,</p><p>An administrator made you a {{brand_name}} "
	    "account as {{role}}.</p><p>To choose your password, open "
	    "<a href=\"{{link}}\">this link</a> within {{days}} days.</p>"
	    "<p>It works once. If you did not expect this, ignore this "
	    "message.</p>",
	    "{\"link\":\"/set-password?token=SAMPLE\","
	    "\"role\":\"therapist\",\"days\":7}",
	},
	{
	    /* To the old address of a changed one: no link that acts. */
	    "email_changed",
	    "The email of your {{brand_name}} account was changed",
	    "The sign-in address of your {{brand_name}} account was changed "
	    "at\n{{time}} (UTC) from this address to another one. This "
	    "address gets no\nmore mail about the account.\n\n"
	    "If you made the change, there is nothing to do.\n\n"
	    "If you did not, someone else may be using your account: tell "
	    "{{brand_name}}\nat once, naming this message, so that an "
	    "administrator can give the\naccount its address back and end "
	    "their sessions.\n\nYour account: {{public_url}}/account\n",
	    "<p>The sign-in address of your {{brand_name}} account was "
	    "changed at {{time}} (UTC) from this address to another one. This "
	    "address gets no more mail about the account.</p>"
	    "<p>If you made the change, there is nothing to do.</p>"
	    "<p>If you did not, someone else may be using your account: tell "
	    "{{brand_name}} at once, naming this message, so that an "
	    "administrator can give the account its address back and end "
	    "their sessions.</p>"
	    "<p><a href=\"{{public_url}}/account\">Your account</a></p>",
	    "{\"time\":\"2031-03-04T09:00:00Z\"}",
	},
	{
	    /* A refused registration (EMAIL_TAKEN), to the address's
	     * owner: people_register_notice. */
	    "register_attempt",
	    "Someone tried to sign up to {{brand_name}} with your address",
	    "Someone tried to make a new {{brand_name}} account with this "
	    "address at\n{{time}} (UTC). The address has an account already, "
	    "so none was made.\n\n"
	    "If it was you, sign in instead, or choose a new password with "
	    "\"forgot\npassword\" if you do not remember it: "
	    "{{public_url}}/account\n\n"
	    "If it was not you, there is nothing to do: your account is as it "
	    "was.\nWe send this at most once an hour.\n",
	    "<p>Someone tried to make a new {{brand_name}} account with this "
	    "address at {{time}} (UTC). The address has an account already, "
	    "so none was made.</p>"
	    "<p>If it was you, <a href=\"{{public_url}}/account\">sign in</a> "
	    "instead, or choose a new password with &quot;forgot "
	    "password&quot; if you do not remember it.</p>"
	    "<p>If it was not you, there is nothing to do: your account is as "
	    "it was. We send this at most once an hour.</p>",
	    "{\"time\":\"2031-03-04T09:00:00Z\"}",
	},
};

/* Mail that may go to an address not verified yet (email_changed: the
 * old address, proven before the change cleared the proof). */
static const char *const unverified_ok[] = { "email_verify", "password_reset",
	"family_welcome", "staff_invitation", "email_changed", NULL };

int
people_email_templates_init(void)
{
	size_t i;
	int    rc;

	for (i = 0; i < NELEM(templates); i++)
		if ((rc = mail_template_register(&templates[i])) != OK &&
		    rc != ERR_CONFLICT)
			return (rc);
	hooks_mail_gate_set(people_mail_gate);
	return (OK);
}

int
people_mail_gate(struct tx *tx, const char *to, const char *user_id,
    const char *template, int *allowed)
{
	struct stmt *st;
	char	     index[65];
	size_t	     i;
	int	     step;

	*allowed = 1;
	for (i = 0; unverified_ok[i] != NULL; i++)
		if (strcmp(unverified_ok[i], template) == 0)
			return (OK);
	if (user_id != NULL) {
		st = store_prepare(
		    tx, "SELECT email_verified_at FROM users WHERE id = ?");
		store_bind_text(st, 1, user_id);
	} else {
		keyring_email_index(to, index);
		st = store_prepare(tx,
		    "SELECT email_verified_at FROM users WHERE "
		    "email_index = ? AND deleted_at IS NULL");
		store_bind_text(st, 1, index);
	}
	if ((step = store_step(st)) == STORE_ROW && store_col_is_null(st, 0))
		*allowed = 0;
	store_finalize(st);
	return (step == STORE_ROW || step == STORE_DONE
		? OK
		: (step == ERR_BUSY ? ERR_BUSY : ERR_DB));
}

/* A new token of purpose for user_id, its hash stored, ttl_s long. */
static int
token_insert(struct tx *tx, const char *user_id, const char *purpose,
    int64_t ttl_s, char token[TOKEN_LEN])
{
	struct stmt *st;
	char	     id[UUID_STR_LEN], hash[TOKEN_HASH_LEN];
	int64_t	     now = time_now_ms();
	int	     step;

	/* A new link ends the earlier ones of the same purpose. */
	st = store_prepare(tx,
	    "UPDATE email_tokens SET used_at = ? WHERE user_id = ? AND "
	    "purpose = ? AND used_at IS NULL");
	store_bind_int64(st, 1, now);
	store_bind_text(st, 2, user_id);
	store_bind_text(st, 3, purpose);
	step = store_step(st);
	store_finalize(st);
	if (step != STORE_DONE)
		return (step == ERR_BUSY ? ERR_BUSY : ERR_DB);
	crypto_token_new(token);
	crypto_token_hash(token, hash);
	st = store_prepare(tx,
	    "INSERT INTO email_tokens (id, user_id, purpose, token_hash, "
	    "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)");
	store_bind_text(st, 1, uuid_v7(id));
	store_bind_text(st, 2, user_id);
	store_bind_text(st, 3, purpose);
	store_bind_text(st, 4, hash);
	store_bind_int64(st, 5, now);
	store_bind_int64(st, 6, now + 1000 * ttl_s);
	step = store_step(st);
	store_finalize(st);
	return (
	    step == STORE_DONE ? OK : (step == ERR_BUSY ? ERR_BUSY : ERR_DB));
}

/* Mail template to user_id with a new link of purpose to page. */
static int
link_mail(struct tx *tx, const char *user_id, const char *purpose,
    int64_t ttl_s, enum page page, const char *template, json_t *vars)
{
	char token[TOKEN_LEN], *email = NULL, *link = NULL;
	int  rc;

	/* The address read below stays the account's until the mail is
	 * queued (a change commits before, and this link goes to the new
	 * one, or after, and ends it). */
	if ((rc = people_user_row_lock(tx, user_id, NULL)) != OK ||
	    (rc = token_insert(tx, user_id, purpose, ttl_s, token)) != OK)
		goto out;
	rc = ERR_NOMEM;
	if ((link = pages_link(page, token)) == NULL ||
	    json_object_set_new(vars, "link", json_string(link)) != 0)
		goto out;
	if ((rc = people_user_email(tx, user_id, &email)) != OK)
		goto out;
	rc = hooks_mail(tx, email, user_id, template, vars, NULL);
out:
	sodium_memzero(token, sizeof(token));
	people_wipe_free(link);
	people_wipe_free(email);
	return (rc);
}

int
people_verify_send(struct tx *tx, const char *user_id)
{
	json_t *vars;
	int	rc;

	if ((vars = json_pack("{s:I}", "hours",
		 (json_int_t)(config.email_verify_ttl_s / 3600))) == NULL)
		return (ERR_NOMEM);
	rc = link_mail(tx, user_id, PURPOSE_VERIFY, config.email_verify_ttl_s,
	    PAGE_VERIFY_EMAIL, "email_verify", vars);
	json_decref(vars);
	return (rc);
}

int
people_invite_send(struct tx *tx, const char *user_id, const char *role)
{
	json_t *vars;
	int	rc;

	if ((vars = json_pack("{s:s,s:I}", "role", role, "days",
		 (json_int_t)(config.staff_invite_ttl_s / 86400))) == NULL)
		return (ERR_NOMEM);
	rc = link_mail(tx, user_id, PURPOSE_PASSWORD, config.staff_invite_ttl_s,
	    PAGE_SET_PASSWORD, "staff_invitation", vars);
	json_decref(vars);
	return (rc);
}

int
people_email_verified(struct tx *tx, const char *user_id)
{
	struct stmt *st;
	json_t	    *old, *row;
	int64_t	     now = time_now_ms();
	int	     step, proven, rc;

	st = store_prepare(tx,
	    "UPDATE users SET email_verified_at = ? WHERE id = ? AND "
	    "email_verified_at IS NULL");
	store_bind_int64(st, 1, now);
	store_bind_text(st, 2, user_id);
	step = store_step(st);
	proven = step == STORE_DONE && store_changes(st) > 0;
	store_finalize(st);
	if (step != STORE_DONE)
		return (step == ERR_BUSY ? ERR_BUSY : ERR_DB);
	if (!proven)
		return (OK);
	/* The modules watching the address (the chat sync holds a changed
	 * one back until it is proven) hear of it. */
	old = json_pack("{s:n}", "email_verified_at");
	row = json_pack("{s:I}", "email_verified_at", (json_int_t)now);
	rc = old != NULL && row != NULL
	    ? hooks_fields_changed(tx, user_id, old, row)
	    : ERR_NOMEM;
	json_decref(old);
	json_decref(row);
	return (rc);
}

static int
exec_user(struct tx *tx, const char *sql, int64_t now, const char *user_id)
{
	struct stmt *st;
	int	     step;

	st = store_prepare(tx, sql);
	store_bind_int64(st, 1, now);
	store_bind_text(st, 2, user_id);
	step = store_step(st);
	store_finalize(st);
	return (
	    step == STORE_DONE ? OK : (step == ERR_BUSY ? ERR_BUSY : ERR_DB));
}

int
people_tokens_end(struct tx *tx, const char *user_id)
{
	int64_t now = time_now_ms();
	int	rc;

	if ((rc = exec_user(tx,
		 "UPDATE email_tokens SET used_at = ? WHERE user_id = ? AND "
		 "used_at IS NULL",
		 now, user_id)) != OK)
		return (rc);
	return (exec_user(tx,
	    "UPDATE password_resets SET used_at = ? WHERE user_id = ? AND "
	    "used_at IS NULL",
	    now, user_id));
}

/* Mail a notice template with the time (now) to an address of user_id. */
static int
notice_mail(
    struct tx *tx, const char *to, const char *user_id, const char *template)
{
	json_t *vars;
	char	at[ISO_TIME_LEN];
	int	rc;

	if ((vars = json_pack(
		 "{s:s}", "time", time_format_iso(time_now_ms(), at))) == NULL)
		return (ERR_NOMEM);
	rc = hooks_mail(tx, to, user_id, template, vars, NULL);
	json_decref(vars);
	return (rc);
}

int
people_email_dropped(struct tx *tx, const char *user_id)
{
	struct stmt *st;
	int	     step;

	st = store_prepare(
	    tx, "UPDATE users SET email_verified_at = NULL WHERE id = ?");
	store_bind_text(st, 1, user_id);
	step = store_step(st);
	store_finalize(st);
	if (step != STORE_DONE)
		return (step == ERR_BUSY ? ERR_BUSY : ERR_DB);
	return (people_tokens_end(tx, user_id));
}

int
people_email_changed(struct tx *tx, const char *user_id, const char *old_email)
{
	struct stmt *st;
	char	     role[64] = "";
	int	     step, rc, was_verified = 0, active = 0, invited = 0;

	st = store_prepare(tx,
	    "SELECT CASE WHEN u.email_verified_at IS NULL THEN 0 ELSE 1 END, "
	    "u.is_active, CASE WHEN u.password_hash IS NULL AND r.is_staff = 1 "
	    "THEN 1 ELSE 0 END, u.role FROM users u "
	    "LEFT JOIN roles r ON r.name = u.role WHERE u.id = ? AND "
	    "u.deleted_at IS NULL");
	store_bind_text(st, 1, user_id);
	if ((step = store_step(st)) == STORE_ROW) {
		was_verified = store_col_int64(st, 0) != 0;
		active = store_col_int64(st, 1) != 0;
		invited = store_col_int64(st, 2) != 0;
		strlcpy_cb(role, store_col_text(st, 3), sizeof(role));
	}
	store_finalize(st);
	if (step != STORE_ROW && step != STORE_DONE)
		return (step == ERR_BUSY ? ERR_BUSY : ERR_DB);
	/* Whoever typed it, the new address proves itself by its link:
	 * a mistyped one must not take the account's mail. Done whatever
	 * the read above found (no role row: still cleared). */
	if ((rc = people_email_dropped(tx, user_id)) != OK || step != STORE_ROW)
		return (rc);
	/* An inactive account's links would not work: none is sent (the
	 * person asks for one once they are active again). */
	if (active) {
		rc = invited ? people_invite_send(tx, user_id, role)
			     : people_verify_send(tx, user_id);
		/* No mail configured, or an address mail refuses: the
		 * change stands all the same (as at registration). */
		if (rc != OK && rc != ERR_INVALID && rc != ERR_UNAVAILABLE)
			return (rc);
	}
	/* The old address hears of it, if it ever was the owner's; one
	 * never proven gets nothing but the link it was sent. */
	if (!was_verified || old_email == NULL)
		return (OK);
	rc = notice_mail(tx, old_email, user_id, "email_changed");
	return (rc == ERR_INVALID || rc == ERR_UNAVAILABLE ? OK : rc);
}

int
people_register_notice(struct tx *tx, const char *owner_id)
{
	struct stmt *st;
	char	     key[64], *to = NULL;
	int	     rc, step;

	/* Two refused registrations at once send one notice; those for
	 * other owners do not wait for it. */
	snprintf(key, sizeof(key), "people.register_notice:%s", owner_id);
	if ((rc = store_xact_lock(tx, key)) != OK)
		return (rc);
	/* Only a live, active owner hears of it (a deactivated account's
	 * mail is not sent). */
	st = store_prepare(tx,
	    "SELECT 1 FROM users WHERE id = ? AND deleted_at IS NULL AND "
	    "is_active = 1 AND NOT EXISTS (SELECT 1 FROM email_log WHERE "
	    "user_id = ? AND template = 'register_attempt' AND "
	    "created_at > ?)");
	store_bind_text(st, 1, owner_id);
	store_bind_text(st, 2, owner_id);
	store_bind_int64(st, 3, time_now_ms() - PEOPLE_REGISTER_NOTICE_MS);
	step = store_step(st);
	store_finalize(st);
	if (step == STORE_DONE)
		return (OK);
	if (step != STORE_ROW)
		return (step == ERR_BUSY ? ERR_BUSY : ERR_DB);
	/* To the address stored, not the one typed (which only folds to
	 * the same index). */
	if ((rc = people_user_email(tx, owner_id, &to)) != OK)
		return (rc == ERR_NOT_FOUND ? OK : rc);
	rc = notice_mail(tx, to, owner_id, "register_attempt");
	people_wipe_free(to);
	return (rc == ERR_INVALID || rc == ERR_UNAVAILABLE ? OK : rc);
}

/*
 * Use a live token of purpose exactly once (every other of the user's of
 * that purpose ends with it): its user into user_id. ERR_NOT_FOUND for
 * one unknown, used, expired, or of a user gone or inactive.
 */
static int
token_use(struct tx *tx, const char *token, const char *purpose,
    char user_id[UUID_STR_LEN])
{
	struct stmt *st;
	char	     hash[TOKEN_HASH_LEN];
	int64_t	     now = time_now_ms();
	int	     step;

	crypto_token_hash(token, hash);
	st = store_prepare(tx,
	    "SELECT t.user_id FROM email_tokens t JOIN users u ON u.id = "
	    "t.user_id WHERE t.token_hash = ? AND t.purpose = ? AND "
	    "t.used_at IS NULL AND t.expires_at > ? AND u.deleted_at IS NULL "
	    "AND u.is_active = 1");
	store_bind_text(st, 1, hash);
	store_bind_text(st, 2, purpose);
	store_bind_int64(st, 3, now);
	if ((step = store_step(st)) == STORE_ROW)
		strlcpy_cb(user_id, store_col_text(st, 0), UUID_STR_LEN);
	store_finalize(st);
	if (step != STORE_ROW)
		return (step == STORE_DONE ? ERR_NOT_FOUND
			: step == ERR_BUSY ? ERR_BUSY
					   : ERR_DB);
	st = store_prepare(tx,
	    "UPDATE email_tokens SET used_at = ? WHERE user_id = ? AND "
	    "purpose = ? AND used_at IS NULL");
	store_bind_int64(st, 1, now);
	store_bind_text(st, 2, user_id);
	store_bind_text(st, 3, purpose);
	step = store_step(st);
	store_finalize(st);
	return (
	    step == STORE_DONE ? OK : (step == ERR_BUSY ? ERR_BUSY : ERR_DB));
}

/* POST /v1/auth/verify-email */

struct verify_op {
	struct request *req;
	const char     *token;
	char		user_id[UUID_STR_LEN];
	char		hash[PASSWORD_HASH_LEN];
};

static int
verify_tx(struct tx *tx, void *arg)
{
	struct verify_op     *op = arg;
	struct person_contact pc;
	json_t		     *vars = NULL;
	char		     *account = NULL, *notes = NULL;
	int		      rc;

	if ((rc = token_use(tx, op->token, PURPOSE_VERIFY, op->user_id)) !=
		OK ||
	    (rc = people_email_verified(tx, op->user_id)) != OK)
		return (rc);
	if ((rc = audit_append(tx, NULL, op->req, "email_verified", "users",
		 op->user_id, NULL)) != OK)
		return (rc);
	memset(&pc, 0, sizeof(pc));
	if ((rc = hooks_contact(tx, op->user_id, 0, &pc)) != OK ||
	    pc.email == NULL) {
		hooks_contact_clear(&pc);
		return (rc == ERR_NOT_FOUND ? OK : rc);
	}
	rc = ERR_NOMEM;
	if ((account = pages_link(PAGE_ACCOUNT, NULL)) != NULL &&
	    (notes = pages_link(PAGE_NOTIFICATIONS, NULL)) != NULL &&
	    (vars = json_pack("{s:s,s:s,s:s}", "first_name",
		 pc.first_name != NULL ? pc.first_name : "there",
		 "account_link", account, "notifications_link", notes)) != NULL)
		rc = hooks_mail(
		    tx, pc.email, op->user_id, "welcome", vars, NULL);
	json_decref(vars);
	free(account);
	free(notes);
	hooks_contact_clear(&pc);
	return (rc);
}

static void
invalid_token(struct request *req)
{
	http_problem(req, ERR_INVALID, "INVALID_TOKEN",
	    "the link is not valid, was used already or has expired");
}

void
people_auth_verify_email(struct request *req)
{
	struct verify_op op;
	int		 rc;

	memset(&op, 0, sizeof(op));
	op.req = req;
	if ((op.token = people_body_string(
		 req, "token", PEOPLE_TOKEN_INPUT_MAX, 1)) == NULL)
		return;
	rc = store_run(req->db, STORE_TX_WRITE, verify_tx, &op);
	if (rc == ERR_NOT_FOUND)
		invalid_token(req);
	else if (rc != OK)
		http_problem(req, rc, NULL, "the address was not verified");
	else
		http_send(req, 204, "application/json", NULL, 0);
}

/* POST /v1/auth/verify-email/resend */

struct resend_op {
	const char *user_id;
	int64_t	    retry_s; /* too soon: seconds to wait */
	int	    verified;
};

static int
resend_tx(struct tx *tx, void *arg)
{
	struct resend_op *op = arg;
	struct stmt	 *st;
	int64_t		  now = time_now_ms(), last = 0;
	int		  step;

	st = store_prepare(tx,
	    "SELECT u.email_verified_at, (SELECT MAX(created_at) FROM "
	    "email_tokens t WHERE t.user_id = u.id AND t.purpose = "
	    "'verify_email') FROM users u WHERE u.id = ?");
	store_bind_text(st, 1, op->user_id);
	if ((step = store_step(st)) == STORE_ROW) {
		op->verified = !store_col_is_null(st, 0);
		last = store_col_is_null(st, 1) ? 0 : store_col_int64(st, 1);
	}
	store_finalize(st);
	if (step != STORE_ROW)
		return (step == STORE_DONE ? ERR_NOT_FOUND
			: step == ERR_BUSY ? ERR_BUSY
					   : ERR_DB);
	if (op->verified)
		return (ERR_CONFLICT);
	if (last > 0 && now - last < 1000 * config.email_verify_resend_s) {
		op->retry_s =
		    (1000 * config.email_verify_resend_s - (now - last) + 999) /
		    1000;
		return (ERR_RATE_LIMIT);
	}
	return (people_verify_send(tx, op->user_id));
}

void
people_auth_verify_resend(struct request *req)
{
	struct principal *who = req->caller;
	struct resend_op  op;
	char		  ra[24];
	int		  rc;

	memset(&op, 0, sizeof(op));
	op.user_id = who->user_id;
	rc = store_run(req->db, STORE_TX_WRITE, resend_tx, &op);
	if (rc == ERR_RATE_LIMIT) {
		snprintf(ra, sizeof(ra), "%lld", (long long)op.retry_s);
		http_header_add(req, "Retry-After", ra);
		http_problem(req, rc, "RESEND_TOO_SOON",
		    "a link was sent less than %lld seconds ago; try again "
		    "in %lld seconds",
		    (long long)config.email_verify_resend_s,
		    (long long)op.retry_s);
	} else if (rc == ERR_CONFLICT)
		http_problem(req, rc, "ALREADY_VERIFIED",
		    "the address is verified already");
	else if (rc != OK)
		http_problem(req, rc, NULL, "no link was sent");
	else
		http_json(req, 202, json_pack("{s:s}", "status", "accepted"));
}

/* POST /v1/auth/set-password */

static int
set_password_tx(struct tx *tx, void *arg)
{
	struct verify_op *op = arg;
	struct stmt	 *st;
	json_t		 *changes;
	int		  rc, step;

	if ((rc = token_use(tx, op->token, PURPOSE_PASSWORD, op->user_id)) !=
	    OK)
		return (rc);
	st = store_prepare(tx,
	    "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?");
	store_bind_text(st, 1, op->hash);
	store_bind_int64(st, 2, time_now_ms());
	store_bind_text(st, 3, op->user_id);
	step = store_step(st);
	store_finalize(st);
	if (step != STORE_DONE)
		return (step == ERR_BUSY ? ERR_BUSY : ERR_DB);
	if ((rc = people_email_verified(tx, op->user_id)) != OK)
		return (rc);
	changes = json_pack(
	    "{s:[s],s:s}", "fields", "password", "reason", "invitation");
	rc = audit_append(tx, NULL, op->req, "password_change", "users",
	    op->user_id, changes);
	json_decref(changes);
	return (rc);
}

/* The user of a live invitation token and their email, read first so
 * the password is checked against the address before it is hashed. */
static int
invitation_email(struct store *db, const char *token, char **email)
{
	struct tx   *tx;
	struct stmt *st;
	char	     hash[TOKEN_HASH_LEN], user_id[UUID_STR_LEN];
	int	     rc, step;

	crypto_token_hash(token, hash);
	if ((rc = store_tx_begin(db, STORE_TX_READ, &tx)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "SELECT user_id FROM email_tokens WHERE token_hash = ? AND "
	    "purpose = 'set_password' AND used_at IS NULL AND expires_at > ?");
	store_bind_text(st, 1, hash);
	store_bind_int64(st, 2, time_now_ms());
	if ((step = store_step(st)) == STORE_ROW)
		strlcpy_cb(user_id, store_col_text(st, 0), sizeof(user_id));
	store_finalize(st);
	rc = step == STORE_ROW ? OK
			       : (step == STORE_DONE ? ERR_NOT_FOUND : ERR_DB);
	if (rc == OK)
		rc = people_user_email(tx, user_id, email);
	store_tx_rollback(tx);
	return (rc);
}

void
people_auth_set_password(struct request *req)
{
	struct verify_op op;
	const char	*pw, *why;
	char		*email = NULL;
	int		 rc;

	memset(&op, 0, sizeof(op));
	op.req = req;
	if ((op.token = people_body_string(
		 req, "token", PEOPLE_TOKEN_INPUT_MAX, 1)) == NULL ||
	    (pw = people_body_string(
		 req, "password", PEOPLE_PASSWORD_BYTES, 1)) == NULL)
		return;
	if ((rc = invitation_email(req->db, op.token, &email)) != OK) {
		if (rc == ERR_NOT_FOUND)
			invalid_token(req);
		else
			http_problem(req, rc, NULL, "the password was not set");
		return;
	}
	rc = people_password_check(pw, strlen(pw), email, &why);
	people_wipe_free(email);
	if (rc != OK) {
		people_field_error(
		    req, "password", why, "the password is not accepted");
		return;
	}
	if ((rc = crypto_password_hash(pw, op.hash)) == OK)
		rc = store_run(req->db, STORE_TX_WRITE, set_password_tx, &op);
	sodium_memzero(op.hash, sizeof(op.hash));
	if (rc == ERR_NOT_FOUND)
		invalid_token(req);
	else if (rc != OK)
		http_problem(req, rc, NULL, "the password was not set");
	else
		http_send(req, 204, "application/json", NULL, 0);
}
