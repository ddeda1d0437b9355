/*
 * How a member's family invitation, or the address of a child's account,
 * is let go (family.c makes them):
 *
 *	POST /v1/me/family/invites/{id}/withdraw	the inviter: 204
 *	POST /v1/auth/family-welcome/refuse	{token}: "this is not me", 204
 *	people.family_expire			the nightly job
 *
 * Withdrawal: the inviter names the family_invites row the invitation's
 * 202 named (their own, of kind invite; else 404, or 409
 * NOT_AN_INVITATION for a child's account). The row is marked withdrawn
 * (it still counts against family_invites_max until family_invite_ttl_s,
 * so inviting and withdrawing mails nobody without bound) and audited
 * family.withdraw with the inviter as actor, alike for every address. If
 * the address had an account and the invitation is still pending, its
 * relationship ends (ended_at, updated_by the inviter), audited
 * relationships.withdraw as the system's act: a record with the inviter
 * as actor would tell their export the address had an account. The
 * invitee sees it ended; the inviter never sees it (relationships.c).
 * Withdrawn again, or after it was answered: 204, nothing changes (an
 * accepted one the inviter ends with /v1/relationships/{id}/end).
 *
 * Refusal: the welcome mail of a child's account made with an address
 * (the password reset job, template family_welcome) names the guardian
 * who made it and carries a second link, public_url +
 * family_refusal_path + a token (stored hashed in the family_invites row
 * with the address's blind index, single use, for family_invite_ttl_s),
 * for an address's owner who is no such child: the address is taken off
 * the account (with its password and reset links; its sessions end, so
 * it has no sign-in until the guardian gives another address), audited
 * users.email_refused without actor, and the guardian is mailed
 * (family_email_refused). The set-password link of the same mail works
 * for password_reset_ttl_s only (30 minutes), as any reset link. A token
 * that is no live one answers 422 INVALID_TOKEN, as the reset's does.
 * The link lives in the guardian's row, so it goes with their erasure.
 *
 * The nightly people.family_expire: an invitation (pending, made by its
 * lead) past family_invite_ttl_s ends (ended_at, no updated_by: nobody
 * answered, so its inviter still does not see it), audited
 * relationships.expire without actor; the pending guardian_of rows get
 * guardians_answer again (a child who came of age decides alone from
 * then on); refusal links past their time are forgotten. In batches of
 * FAMILY_EXPIRE_BATCH rows a transaction.
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
#include "people/gdpr.h"
#include "people/people.h"
#include "people/people_int.h"
#include "resource/audit.h"
#include "resource/hooks.h"
#include "resource/resource.h"
#include "store/jobs.h"
#include "store/migrate.h"
#include "store/store.h"

/* Rows changed in one transaction (the number, and as SQL text). */
#define FAMILY_EXPIRE_BATCH	200
#define FAMILY_EXPIRE_BATCH_SQL "200"
/* The migration the expiry needs (0030's table, 0037's withdrawn_at). */
#define FAMILY_EXPIRE_NEEDS "0037_family_review"

/* A withdrawal, in its write transaction. */
struct withdraw {
	struct request *req;
	const char     *id;
};

/* A refusal, in its write transaction. */
struct refusal {
	struct request *req;
	char		hash[TOKEN_HASH_LEN];
};

/* One batch of the nightly job: how many rows it changed; the
 * guardians_answer walk goes on after `after`, up to `last` once the
 * batch is committed. */
struct expire_batch {
	int64_t now;
	int	n;
	char	after[UUID_STR_LEN];
	char	last[UUID_STR_LEN];
};

static int withdraw_tx(struct tx *, void *);
static int refuse_tx(struct tx *, void *);
static int refuse_release(
    struct tx *, struct request *, const char *, const char *, const char *);
static int expire_tx(struct tx *, void *);
static int answer_tx(struct tx *, void *);
static int refusals_tx(struct tx *, void *);

/* The nightly job's steps, in order, each in batches. */
static int (*const expire_steps[])(
    struct tx *, void *) = { expire_tx, answer_tx, refusals_tx };

/* POST /v1/me/family/invites/{id}/withdraw */
void
people_family_withdraw(struct request *req)
{
	struct withdraw w;
	int		rc;

	w.req = req;
	w.id = http_param(req, "id");
	if (w.id == NULL || !uuid_valid(w.id)) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such invitation.");
		return;
	}
	rc = store_run(req->db, STORE_TX_WRITE, withdraw_tx, &w);
	if (rc == OK)
		http_send(req, 204, "application/json", NULL, 0);
	else if (!req->responded)
		http_problem(req, rc, NULL,
		    rc == ERR_NOT_FOUND ? "No such invitation."
					: "The invitation was not withdrawn.");
}

static int
withdraw_tx(struct tx *tx, void *arg)
{
	struct withdraw *w = arg;
	const char	*me = w->req->caller->user_id;
	struct stmt	*st;
	json_t		*p;
	char		 kind[16] = "", rel[UUID_STR_LEN] = "";
	int64_t		 now = time_now_ms();
	int		 rc, withdrawn = 0;

	if ((rc = people_family_ready(tx, w->req)) != OK ||
	    (rc = people_user_lock(tx, me)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "SELECT kind, relationship_id, withdrawn_at FROM family_invites "
	    "WHERE id = ? AND lead_id = ?");
	store_bind_text(st, 1, w->id);
	store_bind_text(st, 2, me);
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(kind, store_col_text(st, 0), sizeof(kind));
		if (!store_col_is_null(st, 1))
			strlcpy_cb(rel, store_col_text(st, 1), sizeof(rel));
		withdrawn = !store_col_is_null(st, 2);
	}
	store_finalize(st);
	if (rc != STORE_ROW)
		return (rc == STORE_DONE ? ERR_NOT_FOUND : rc);
	if (strcmp(kind, "invite") != 0) {
		http_problem(w->req, ERR_CONFLICT, "NOT_AN_INVITATION",
		    "That is a child's account you made, not an invitation: "
		    "end its relationship instead.");
		return (ERR_CONFLICT);
	}
	if (withdrawn)
		return (OK);
	st = store_prepare(
	    tx, "UPDATE family_invites SET withdrawn_at = ? WHERE id = ?");
	store_bind_int64(st, 1, now);
	store_bind_text(st, 2, w->id);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
	if ((p = json_pack("{s:[s]}", "fields", "withdrawn_at")) == NULL)
		return (ERR_NOMEM);
	rc = audit_append(tx, w->req->caller, w->req, "family.withdraw",
	    "family_invites", w->id, p);
	json_decref(p);
	if (rc != OK || rel[0] == '\0')
		return (rc);
	/* Still an invitation of theirs nobody answered: it ends. */
	st = store_prepare(tx,
	    "UPDATE relationships SET status = 'ended', ended_at = ?, "
	    "updated_at = ?, updated_by = lead_id WHERE id = ? AND lead_id = ? "
	    "AND status = 'pending' AND created_by = lead_id");
	store_bind_int64(st, 1, now);
	store_bind_int64(st, 2, now);
	store_bind_text(st, 3, rel);
	store_bind_text(st, 4, me);
	if ((rc = store_step(st)) == STORE_DONE && store_changes(st) == 0)
		rc = OK; /* answered already, or gone */
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc == OK ? OK : rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
	if ((p = json_pack("{s:[s,s],s:s,s:s}", "fields", "status", "ended_at",
		 "status", "ended", "via", "invitation withdrawn")) == NULL)
		return (ERR_NOMEM);
	/* The system's record, as the job's relationships.create is. */
	rc = audit_append(
	    tx, NULL, NULL, "relationships.withdraw", "relationships", rel, p);
	json_decref(p);
	return (rc);
}

/*
 * For the welcome mail of child_id's account, sent to email (the reset
 * job, template family_welcome): the guardian who made it ("guardian")
 * and the "this is not me" link ("refuse_link", its token stored hashed
 * in the family_invites row, "refuse_days") into vars. ERR_NOT_FOUND when
 * no guardian's record of it is left (they were erased): no mail then.
 */
int
people_family_welcome(
    struct tx *tx, const char *child_id, const char *email, json_t *vars)
{
	struct stmt *st;
	char	     id[UUID_STR_LEN] = "", lead[UUID_STR_LEN] = "";
	char	     token[TOKEN_LEN], hash[TOKEN_HASH_LEN], index[65];
	char	     name[256], *link = NULL;
	int64_t	     now = time_now_ms();
	int	     rc;

	if ((rc = people_family_ready(tx, NULL)) != OK)
		return (rc == ERR_UNAVAILABLE ? ERR_NOT_FOUND : rc);
	st = store_prepare(tx,
	    "SELECT f.id, f.lead_id FROM family_invites f JOIN relationships "
	    "r ON r.id = f.relationship_id WHERE f.kind = 'child' AND "
	    "r.follower_id = ? AND r.lead_id = f.lead_id ORDER BY f.created_at "
	    "DESC LIMIT 1");
	store_bind_text(st, 1, child_id);
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(id, store_col_text(st, 0), sizeof(id));
		strlcpy_cb(lead, store_col_text(st, 1), sizeof(lead));
	}
	store_finalize(st);
	if (rc != STORE_ROW)
		return (rc == STORE_DONE ? ERR_NOT_FOUND : rc);
	if ((rc = people_family_name(tx, lead, name, sizeof(name))) != OK)
		return (rc);
	crypto_token_new(token);
	crypto_token_hash(token, hash);
	keyring_email_index(email, index);
	st = store_prepare(tx,
	    "UPDATE family_invites SET refusal_hash = ?, refusal_index = ?, "
	    "refusal_expires_at = ? WHERE id = ?");
	store_bind_text(st, 1, hash);
	store_bind_text(st, 2, index);
	store_bind_int64(st, 3, now + 1000 * config.family_invite_ttl_s);
	store_bind_text(st, 4, id);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE) {
		sodium_memzero(token, sizeof(token));
		return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
	}
	if (asprintf(&link, "%s%s%s", config.public_url,
		config.family_refusal_path, token) < 0)
		link = NULL;
	sodium_memzero(token, sizeof(token));
	if (link == NULL)
		return (ERR_NOMEM);
	rc = json_object_set_new(vars, "guardian", json_string(name)) != 0 ||
		json_object_set_new(vars, "refuse_link", json_string(link)) !=
		    0 ||
		json_object_set_new(vars, "refuse_days",
		    json_integer(config.family_invite_ttl_s / 86400)) != 0
	    ? ERR_NOMEM
	    : OK;
	sodium_memzero(link, strlen(link));
	free(link);
	return (rc);
}

/* POST /v1/auth/family-welcome/refuse */
void
people_family_refuse(struct request *req)
{
	struct refusal r;
	const char    *token;
	int	       rc;

	if ((token = people_body_string(
		 req, "token", PEOPLE_TOKEN_INPUT_MAX, 1)) == NULL)
		return;
	r.req = req;
	crypto_token_hash(token, r.hash);
	rc = store_run(req->db, STORE_TX_WRITE, refuse_tx, &r);
	if (rc == OK)
		http_send(req, 204, "application/json", NULL, 0);
	else if (rc == ERR_NOT_FOUND)
		http_problem(req, ERR_INVALID, "INVALID_TOKEN",
		    "the link is not valid, was used already or has expired");
	else if (!req->responded)
		http_problem(req, rc, NULL, "The address was not released.");
}

static int
refuse_tx(struct tx *tx, void *arg)
{
	struct refusal *r = arg;
	struct stmt    *st;
	char		id[UUID_STR_LEN] = "", lead[UUID_STR_LEN] = "";
	char		child[UUID_STR_LEN] = "", index[65] = "";
	int64_t		now = time_now_ms();
	int		rc;

	if ((rc = people_family_ready(tx, r->req)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "SELECT f.id, f.lead_id, f.refusal_index, r.follower_id FROM "
	    "family_invites f LEFT JOIN relationships r ON r.id = "
	    "f.relationship_id WHERE f.refusal_hash = ? AND "
	    "f.refusal_expires_at > ? AND f.refused_at IS NULL");
	store_bind_text(st, 1, r->hash);
	store_bind_int64(st, 2, now);
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(id, store_col_text(st, 0), sizeof(id));
		strlcpy_cb(lead, store_col_text(st, 1), sizeof(lead));
		strlcpy_cb(index, store_col_text(st, 2), sizeof(index));
		if (!store_col_is_null(st, 3))
			strlcpy_cb(child, store_col_text(st, 3), sizeof(child));
	}
	store_finalize(st);
	if (rc != STORE_ROW)
		return (rc == STORE_DONE ? ERR_NOT_FOUND : rc);
	/* Used once; the child's account gone (erased) has no address. */
	st = store_prepare(tx,
	    "UPDATE family_invites SET refused_at = ?, refusal_hash = NULL, "
	    "refusal_index = NULL WHERE id = ? AND refused_at IS NULL");
	store_bind_int64(st, 1, now);
	store_bind_text(st, 2, id);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
	if (child[0] == '\0')
		return (OK);
	return (refuse_release(tx, r->req, lead, child, index));
}

/*
 * The address of blind index `index` off child's account (if it still has
 * it): with its password and reset links, its sessions ended, the
 * watchers of its fields told (people_user_changed: nothing left proven,
 * every mailed link ended), audited, and the guardian (lead) mailed.
 */
static int
refuse_release(struct tx *tx, struct request *req, const char *lead,
    const char *child, const char *index)
{
	struct stmt *st;
	json_t	    *old = NULL, *row = NULL, *p;
	char	    *email = NULL, name[256];
	int64_t	     now = time_now_ms();
	int	     rc;

	/* As erasure takes it: a write about the child waits for it. */
	if ((rc = people_user_lock(tx, child)) != OK)
		return (rc);
	if ((rc = resource_read(tx, &users_resource, child, SCOPE_ALL, &old)) !=
	    OK)
		return (rc == ERR_NOT_FOUND ? OK : rc);
	st = store_prepare(tx,
	    "UPDATE users SET email = NULL, email_index = NULL, "
	    "password_hash = NULL, updated_at = ? WHERE id = ? AND "
	    "email_index = ? AND deleted_at IS NULL");
	store_bind_int64(st, 1, now);
	store_bind_text(st, 2, child);
	store_bind_text(st, 3, index);
	if ((rc = store_step(st)) == STORE_DONE && store_changes(st) == 0)
		rc = OK; /* the account has another address now: not this */
	store_finalize(st);
	if (rc != STORE_DONE) {
		json_decref(old);
		return (rc == OK ? OK : rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
	}
	st = store_prepare(tx, "DELETE FROM password_resets WHERE user_id = ?");
	store_bind_text(st, 1, child);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE) {
		json_decref(old);
		return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
	}
	if ((rc = people_sessions_end(tx, child, NULL, "email_refused")) !=
		OK ||
	    (rc = resource_read(tx, &users_resource, child, SCOPE_ALL, &row)) !=
		OK ||
	    (rc = people_user_changed(tx, child, old, row)) != OK)
		goto out;
	if ((p = json_pack("{s:[s],s:s}", "fields", "email", "via",
		 "the address's owner refused it")) == NULL) {
		rc = ERR_NOMEM;
		goto out;
	}
	/* Whoever refused is not the child: their details stay out of the
	 * child's name (and export), indexed. */
	rc = audit_append_stranger(
	    tx, req, "users.email_refused", "users", child, p);
	json_decref(p);
	if (rc != OK)
		goto out;
	/* The guardian is told, by the child's name they gave. */
	if ((rc = people_user_email(tx, lead, &email)) != OK) {
		rc = rc == ERR_NOT_FOUND ? OK : rc;
		goto out;
	}
	if ((rc = people_family_name(tx, child, name, sizeof(name))) != OK ||
	    (p = json_pack("{s:s,s:s}", "child", name, "public_url",
		 config.public_url)) == NULL) {
		rc = rc != OK ? rc : ERR_NOMEM;
		goto out;
	}
	rc = hooks_mail(tx, email, lead, "family_email_refused", p, NULL);
	json_decref(p);
out:
	people_wipe_free(email);
	json_decref(old);
	json_decref(row);
	return (rc);
}

/* The people.family_expire job: see the top of this file. */
int
people_family_expire_job(struct store *db, const struct job *job, char *err)
{
	struct expire_batch b;
	size_t		    i;
	int		    expired = 0, rc;

	(void)job;
	/* Asked, never read from a failure: a database that could not be
	 * read fails the night (retried), it does not skip it. */
	switch ((rc = migrate_applied(db, FAMILY_EXPIRE_NEEDS))) {
	case OK:
		break;
	case ERR_NOT_FOUND:
		log_info(
		    "event=family_expire_skipped reason=migrations_pending "
		    "needs=%s",
		    FAMILY_EXPIRE_NEEDS);
		return (OK);
	default:
		snprintf(
		    err, JOB_ERR_LEN, "people.family_expire: %s", err_code(rc));
		return (rc);
	}
	for (i = 0; i < NELEM(expire_steps); i++) {
		memset(&b, 0, sizeof(b));
		b.now = time_now_ms();
		do {
			if ((rc = store_run(db, STORE_TX_WRITE, expire_steps[i],
				 &b)) != OK) {
				snprintf(err, JOB_ERR_LEN,
				    "people.family_expire: %s", err_code(rc));
				return (rc);
			}
			if (i == 0)
				expired += b.n;
			strlcpy_cb(b.after, b.last, sizeof(b.after));
		} while (b.n == FAMILY_EXPIRE_BATCH);
	}
	if (expired > 0)
		log_info("event=family_invitations_expired count=%d", expired);
	return (OK);
}

/* A batch of invitations past their time: ended, each audited. */
static int
expire_tx(struct tx *tx, void *arg)
{
	struct expire_batch *b = arg;
	struct stmt	    *st;
	json_t		    *ids, *p, *v;
	size_t		     i;
	int		     rc;

	b->n = 0;
	if ((rc = people_family_ready(tx, NULL)) != OK)
		return (rc);
	if ((ids = json_array()) == NULL)
		return (ERR_NOMEM);
	st = store_prepare(tx,
	    "SELECT id FROM relationships WHERE status = 'pending' AND kind = "
	    "'guardian_of' AND created_by = lead_id AND created_at < ? ORDER "
	    "BY id LIMIT " FAMILY_EXPIRE_BATCH_SQL);
	store_bind_int64(st, 1, b->now - 1000 * config.family_invite_ttl_s);
	while ((rc = store_step(st)) == STORE_ROW)
		json_array_append_new(ids, json_string(store_col_text(st, 0)));
	store_finalize(st);
	if (rc != STORE_DONE) {
		json_decref(ids);
		return (rc);
	}
	json_array_foreach(ids, i, v) {
		st = store_prepare(tx,
		    "UPDATE relationships SET status = 'ended', ended_at = ?, "
		    "updated_at = ?, updated_by = NULL WHERE id = ? AND status "
		    "= 'pending'");
		store_bind_int64(st, 1, b->now);
		store_bind_int64(st, 2, b->now);
		store_bind_text(st, 3, json_string_value(v));
		rc = store_step(st);
		store_finalize(st);
		if (rc != STORE_DONE) {
			rc = rc == ERR_BUSY ? ERR_BUSY : ERR_DB;
			break;
		}
		if ((p = json_pack("{s:[s,s],s:s,s:s}", "fields", "status",
			 "ended_at", "status", "ended", "via",
			 "invitation expired")) == NULL) {
			rc = ERR_NOMEM;
			break;
		}
		rc = audit_append(tx, NULL, NULL, "relationships.expire",
		    "relationships", json_string_value(v), p);
		json_decref(p);
		if (rc != OK)
			break;
		b->n++;
	}
	json_decref(ids);
	return (rc == STORE_DONE ? OK : rc);
}

/* A batch of pending guardian_of rows: guardians_answer asked again. */
static int
answer_tx(struct tx *tx, void *arg)
{
	struct expire_batch *b = arg;
	struct stmt	    *st;
	json_t		    *ids, *v;
	size_t		     i;
	int		     rc;

	b->n = 0;
	if ((rc = people_family_ready(tx, NULL)) != OK)
		return (rc);
	if ((ids = json_array()) == NULL)
		return (ERR_NOMEM);
	st = store_prepare(tx,
	    "SELECT id FROM relationships WHERE status = 'pending' AND kind = "
	    "'guardian_of' AND id > ? ORDER BY id LIMIT " FAMILY_EXPIRE_BATCH_SQL);
	store_bind_text(st, 1, b->after);
	while ((rc = store_step(st)) == STORE_ROW)
		json_array_append_new(ids, json_string(store_col_text(st, 0)));
	store_finalize(st);
	if (rc != STORE_DONE) {
		json_decref(ids);
		return (rc);
	}
	rc = OK;
	json_array_foreach(ids, i, v) {
		if ((rc = people_guardians_answer_set(
			 tx, json_string_value(v))) != OK)
			break;
		strlcpy_cb(b->last, json_string_value(v), sizeof(b->last));
		b->n++;
	}
	json_decref(ids);
	return (rc);
}

/* Refusal links past their time: their hash and address index go. */
static int
refusals_tx(struct tx *tx, void *arg)
{
	struct expire_batch *b = arg;
	struct stmt	    *st;
	int		     rc;

	b->n = 0;
	if ((rc = people_family_ready(tx, NULL)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "UPDATE family_invites SET refusal_hash = NULL, refusal_index = "
	    "NULL WHERE refusal_hash IS NOT NULL AND refusal_expires_at <= ?");
	store_bind_int64(st, 1, b->now);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
}
