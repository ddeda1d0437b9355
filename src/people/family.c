/*
 * A member's own family (issue 15 item 12): a guardian links their
 * child's account to theirs, without an admin.
 *
 *	POST /v1/me/family/invite	{email}: 202 whatever the address
 *	POST /v1/me/family/children	{first_name, date_of_birth, ...}: 201
 *
 * Only an adult may do either: a caller whose birth date is on record
 * and makes them guardian_min_age (18) or older and over the
 * digital-consent age (consent.c); else 403 DATE_OF_BIRTH_REQUIRED or
 * ADULT_REQUIRED.
 *
 * An invitation names an existing account by its address. The answer is
 * 202 with the same body whether or not the address has an account, and
 * the job people.family_invite does the work (as the password reset
 * does), so neither the answer nor its timing tells. If the address is a
 * live account's (not the caller's), the job makes a pending guardian_of
 * relationship led by the caller (created_by the caller: an invitation),
 * audited relationships.create with no actor (the system's: a record with
 * the inviter as actor would be in their export only when the address has
 * an account), and mails the invitee. The request itself is audited
 * family.invite, the inviter the actor and the family_invites row the
 * entity, alike for every address; the answer names that row (id). The
 * inviter does not see the relationship until it is answered
 * (relationships.c's scope); the invitee accepts it (POST
 * /v1/relationships/{id}/consent) if old enough to consent, and for a
 * child under the age a guardian already active for them accepts it
 * (guardians_answer: only then do they see it); the invitee at any age,
 * or that guardian, may decline it (/end). A staff account's address is
 * never invited (the same 202; nothing is made). An address the caller
 * has an active or pending relationship with already changes nothing,
 * but an invitation of theirs left pending past its time is renewed, and
 * one that ended (declined, or ended later) is opened again: pending,
 * as if new. The job takes the inviter's lock, as the requests do. The
 * inviter withdraws an invitation by the row's id, the nightly job
 * expires it (family_close.c).
 *
 * A child's account is made for a child under the digital-consent age
 * (their birth date and country, else the guardian's country, decide;
 * 422 OVER_CONSENT_AGE otherwise: such a child makes their own account
 * and is invited). The guardian gives consent in the app in the same
 * step: the relationship is active at once, consent_method in_app,
 * consent_by the guardian. With an email, the child is mailed a link to
 * set their password (the password reset's token, template
 * family_welcome, naming the guardian, with a "this is not me" link:
 * family_close.c); without, the account has no sign-in until an address
 * is set. An address in use answers 409 EMAIL_TAKEN, as registration
 * does, and counts against the bound below as an account made would, so
 * the route is no free oracle of which addresses have accounts. A
 * country must be a known ISO 3166-1 code (its consent age decides).
 *
 * Bounds: each invitation and each child's account is a row of
 * family_invites (so is each EMAIL_TAKEN refusal: a 'child' row with no
 * relationship). An invitation is open while younger than
 * family_invite_ttl_s and its relationship (if the address had an
 * account) still pending and not renewed or reopened by a later one of
 * theirs (that one counts instead), or withdrawn (a withdrawal frees no place, so
 * inviting and withdrawing cannot mail anyone without bound); a member
 * holds at most family_invites_max open invitations and children's
 * accounts made within that time, together; past it 429
 * TOO_MANY_INVITATIONS with Retry-After. An invitation to no account
 * counts exactly as one to an account nobody answers, so the bound tells
 * nothing either. Erasure of the member deletes their rows
 * (declared below); erasure of either party deletes the relationship
 * (gdpr.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/config.h"
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
#include "store/store.h"

#define FAMILY_SEAL "jobs.family_invite" /* the job payload's address */

static const char *const invite_kinds[] = { "invite", "child", NULL };

/*
 * The table as a member's GDPR export and erasure follow it; no route
 * serves it. Exported with its kind and time only: which invitation
 * found an account is not the inviter's to learn from it.
 */
static const struct field invite_fields[] = {
	{ "lead_id", FIELD_UUID, FIELD_REQUIRED | FIELD_HIDDEN, 0, 0, NULL,
	    NULL, "users", 0, "who invited; owns the row" },
	{ "kind", FIELD_ENUM, FIELD_REQUIRED, 0, 0, invite_kinds, NULL, NULL, 0,
	    "invite (by email) or child (an account made)" },
	{ "relationship_id", FIELD_UUID, FIELD_NULLABLE | FIELD_HIDDEN, 0, 0,
	    NULL, NULL, NULL, 0, "what it made or renewed, if anything" },
	{ "created_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    "sent" },
	/* The table has no updated_at: rows never change but for the job. */
	{ "updated_at", FIELD_TIME, FIELD_READONLY | FIELD_HIDDEN, 0, 0, NULL,
	    NULL, NULL, 0, NULL, "created_at" },
};

const struct resource family_invites_resource = {
	.name = "family_invites",
	.table = "family_invites",
	.fields = invite_fields,
	.nfields = NELEM(invite_fields),
	.owner_column = "lead_id",
	.flags = RESOURCE_NO_ROUTES | RESOURCE_EXPORT_TOP | RESOURCE_ERASE_ROWS,
	.doc = "A member's family invitations and children's accounts made, "
	       "in their export beside their account (kind and time only).",
};

/* One POST /v1/me/family/... in its write transaction. */
struct family_op {
	struct request *req;
	const char     *email;	 /* invite: the address; child: or NULL */
	const char     *payload; /* invite: the job's, less its id */
	json_t	       *fields;	 /* child: validated users fields */
	json_t	       *answer;	 /* child: the 201 body */
	int		taken;	 /* child: the address is in use (counted) */
	char		id[UUID_STR_LEN]; /* invite: the row made */
};

/* The invitation job's work, in its write transaction. */
struct invite_job {
	const char *invite_id;
	const char *lead_id;
	const char *email;
	const char *invitee; /* the account's id */
};

static int adult_check(struct tx *, struct request *, const char *);
static int bound_check(struct tx *, struct request *, const char *);
static int invite_row(
    struct tx *, const char *, const char *, const char *, char *);
static int invite_tx(struct tx *, void *);
static int child_tx(struct tx *, void *);
static int child_check(struct request *, json_t **);
static int taken_row(struct tx *, struct family_op *);
static int invite_job_tx(struct tx *, void *);
static int lead_load(struct tx *, const char *, struct principal *);

/* Migrations 0030 and 0037 applied: else 503 MIGRATIONS_PENDING (asked
 * of the catalog, as a failed statement would spend the transaction). */
int
people_family_ready(struct tx *tx, struct request *req)
{
	int there, rc;

	/* 0037 adds to 0030's table: its column says both are there. */
	if ((rc = store_column_exists(
		 tx, "family_invites", "withdrawn_at", &there)) != OK)
		return (rc);
	if (there)
		return (OK);
	if (req != NULL)
		http_problem(req, ERR_UNAVAILABLE, "MIGRATIONS_PENDING",
		    "Families cannot be changed until migrations 0030 and "
		    "0037 are applied: run `carebase migrate`.");
	return (ERR_UNAVAILABLE);
}

/* The caller is an adult by a birth date on record: guardian_min_age or
 * older, and over the digital-consent age of their country. */
static int
adult_check(struct tx *tx, struct request *req, const char *user_id)
{
	int rc, minor, known, age;

	if ((rc = people_age_status(tx, user_id, &minor, &known, &age)) != OK)
		return (rc);
	if (!known) {
		http_problem(req, ERR_FORBIDDEN, "DATE_OF_BIRTH_REQUIRED",
		    "Your date of birth is not on record: only an adult "
		    "adds a child. Set date_of_birth first (PATCH /v1/me).");
		return (ERR_FORBIDDEN);
	}
	if (minor || age < config.guardian_min_age) {
		http_problem(req, ERR_FORBIDDEN, "ADULT_REQUIRED",
		    "Only an adult (%lld or older, and over the "
		    "digital-consent age) adds a child.",
		    (long long)config.guardian_min_age);
		return (ERR_FORBIDDEN);
	}
	return (OK);
}

/*
 * Fewer than family_invites_max open (or withdrawn) invitations and
 * children's accounts made or refused (EMAIL_TAKEN) within
 * family_invite_ttl_s; else 429 with Retry-After: when the oldest of them
 * stops counting (an answer may free one sooner). Taken under the
 * member's lock, so parallel requests are counted exactly.
 */
static int
bound_check(struct tx *tx, struct request *req, const char *lead_id)
{
	struct stmt *st;
	int64_t	     now = time_now_ms(), since, n = 0, oldest = now;
	char	     ra[24];
	int	     rc;

	if ((rc = people_user_lock(tx, lead_id)) != OK)
		return (rc);
	since = now - 1000 * config.family_invite_ttl_s;
	st = store_prepare(tx,
	    "SELECT COUNT(*), MIN(f.created_at) FROM family_invites f "
	    "LEFT JOIN relationships r ON r.id = f.relationship_id WHERE "
	    "f.lead_id = ? AND f.created_at > ? AND (f.kind = 'child' OR "
	    "f.relationship_id IS NULL OR f.withdrawn_at IS NOT NULL OR "
	    "(r.status = 'pending' AND NOT EXISTS (SELECT 1 FROM "
	    "family_invites n WHERE n.relationship_id = f.relationship_id "
	    "AND n.created_at > f.created_at)))");
	store_bind_text(st, 1, lead_id);
	store_bind_int64(st, 2, since);
	if ((rc = store_step(st)) == STORE_ROW) {
		n = store_col_int64(st, 0);
		if (!store_col_is_null(st, 1))
			oldest = store_col_int64(st, 1);
		rc = OK;
	}
	store_finalize(st);
	if (rc != OK)
		return (rc == STORE_DONE ? ERR_DB : rc);
	if (n < config.family_invites_max)
		return (OK);
	snprintf(ra, sizeof(ra), "%d",
	    people_retry_after(
		oldest + 1000 * config.family_invite_ttl_s, now));
	http_header_add(req, "Retry-After", ra);
	http_problem(req, ERR_RATE_LIMIT, "TOO_MANY_INVITATIONS",
	    "You have %lld invitations open or children's accounts made "
	    "lately, the most there may be: try again later.",
	    (long long)config.family_invites_max);
	return (ERR_RATE_LIMIT);
}

/* A family_invites row of kind for lead_id; its id into id. */
static int
invite_row(struct tx *tx, const char *lead_id, const char *kind,
    const char *relationship_id, char *id)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx,
	    "INSERT INTO family_invites (id, lead_id, kind, "
	    "relationship_id, created_at) VALUES (?, ?, ?, ?, ?)");
	store_bind_text(st, 1, uuid_v7(id));
	store_bind_text(st, 2, lead_id);
	store_bind_text(st, 3, kind);
	store_bind_text(st, 4, relationship_id);
	store_bind_int64(st, 5, time_now_ms());
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
}

/* POST /v1/me/family/invite */
void
people_family_invite(struct request *req)
{
	struct family_op op;
	const char	*key, *email;
	json_t		*v, *p = NULL;
	char		*b64 = NULL, *payload = NULL;
	int		 rc;

	json_object_foreach(req->json, key, v) {
		if (strcmp(key, "email") == 0)
			continue;
		if (strcmp(key, "kind") == 0 && json_is_string(v) &&
		    strcmp(json_string_value(v), "guardian_of") == 0)
			continue;
		people_field_error(req, key,
		    strcmp(key, "kind") == 0 ? "invalid" : "unknown_field",
		    strcmp(key, "kind") == 0
			? "a member invites only as guardian_of"
			: "is not accepted here");
		return;
	}
	if ((email = people_body_string(req, "email", PEOPLE_EMAIL_MAX, 1)) ==
	    NULL)
		return;
	if (strchr(email, '@') == NULL) {
		people_field_error(req, "email", "format", "is no address");
		return;
	}
	memset(&op, 0, sizeof(op));
	op.req = req;
	rc = ERR_NOMEM;
	if (people_email_seal(FAMILY_SEAL, email, &b64) != OK ||
	    (p = json_pack("{s:s,s:s}", "email", b64, "lead_id",
		 req->caller->user_id)) == NULL ||
	    (payload = json_dumps(p, JSON_COMPACT)) == NULL)
		goto out;
	op.payload = payload;
	rc = store_run(req->db, STORE_TX_WRITE, invite_tx, &op);
out:
	free(b64);
	free(payload);
	json_decref(p);
	if (rc == OK)
		http_json(req, 202,
		    json_pack("{s:s,s:s,s:s}", "status", "accepted", "id",
			op.id, "detail",
			"If an account uses this address, it is invited: "
			"the invitation shows in its relationships, and a "
			"mail tells it. You see the relationship once it is "
			"answered; withdraw it with POST "
			"/v1/me/family/invites/{id}/withdraw."));
	else if (!req->responded)
		http_problem(req, rc, NULL, "The invitation was not sent.");
}

static int
invite_tx(struct tx *tx, void *arg)
{
	struct family_op *op = arg;
	const char	 *me = op->req->caller->user_id;
	json_t		 *p;
	char		 *id = op->id, *payload;
	int		  rc;

	if ((rc = people_family_ready(tx, op->req)) != OK ||
	    (rc = adult_check(tx, op->req, me)) != OK ||
	    (rc = bound_check(tx, op->req, me)) != OK ||
	    (rc = invite_row(tx, me, "invite", NULL, id)) != OK)
		return (rc);
	/* The inviter's one record of it, alike for every address: what
	 * the job makes is the system's (their export must not tell). */
	if ((p = json_pack(
		 "{s:[s],s:s}", "fields", "kind", "kind", "invite")) == NULL)
		return (ERR_NOMEM);
	rc = audit_append(tx, op->req->caller, op->req, "family.invite",
	    "family_invites", id, p);
	json_decref(p);
	if (rc != OK)
		return (rc);
	if ((p = json_loads(op->payload, 0, NULL)) == NULL)
		return (ERR_NOMEM);
	json_object_set_new(p, "invite_id", json_string(id));
	payload = json_dumps(p, JSON_COMPACT);
	json_decref(p);
	if (payload == NULL)
		return (ERR_NOMEM);
	rc = jobs_enqueue(tx, "people.family_invite", payload, "mail", 0, NULL);
	free(payload);
	return (rc);
}

/* The people.family_invite job: see the top of this file. */
int
people_family_invite_job(struct store *db, const struct job *job, char *err)
{
	struct people_account a;
	struct invite_job     j;
	json_t		     *p;
	const char	     *b64;
	char		     *email = NULL, index[65];
	int		      rc = ERR_INVALID;

	memset(&j, 0, sizeof(j));
	memset(&a, 0, sizeof(a));
	if ((p = json_loads(job->payload, 0, NULL)) == NULL ||
	    json_unpack(p, "{s:s,s:s,s:s}", "email", &b64, "lead_id",
		&j.lead_id, "invite_id", &j.invite_id) != 0 ||
	    people_email_open(FAMILY_SEAL, b64, &email) != OK) {
		snprintf(err, JOB_ERR_LEN,
		    "people.family_invite: malformed payload");
		goto out;
	}
	keyring_email_index(email, index);
	if ((rc = people_account_find(db, index, &a)) != OK) {
		snprintf(
		    err, JOB_ERR_LEN, "people.family_invite: %s", err_code(rc));
		goto out;
	}
	/* No account, an inactive one, staff's or the inviter's own:
	 * nothing (the inviter was answered 202 alike). */
	if (a.id[0] == '\0' || !a.resettable || a.is_staff ||
	    strcmp(a.id, j.lead_id) == 0)
		goto out;
	j.email = email;
	j.invitee = a.id;
	if ((rc = store_run(db, STORE_TX_WRITE, invite_job_tx, &j)) != OK)
		snprintf(
		    err, JOB_ERR_LEN, "people.family_invite: %s", err_code(rc));
out:
	people_wipe_free(email);
	json_decref(p);
	return (rc);
}

int
people_family_name(struct tx *tx, const char *user_id, char *out, size_t n)
{
	json_t	   *row = NULL;
	const char *first, *last;
	int	    rc;

	if ((rc = resource_read(
		 tx, &users_resource, user_id, SCOPE_ALL, &row)) != OK)
		return (rc);
	first = json_string_value(json_object_get(row, "first_name"));
	last = json_string_value(json_object_get(row, "last_name"));
	snprintf(out, n, "%s%s%s", first != NULL ? first : "",
	    first != NULL && last != NULL ? " " : "", last != NULL ? last : "");
	json_decref(row);
	if (out[0] == '\0')
		strlcpy_cb(out, "A carebase member", n);
	return (OK);
}

/* The inviter as the actor of the audit record; ERR_NOT_FOUND. */
static int
lead_load(struct tx *tx, const char *id, struct principal *who)
{
	struct stmt *st;
	int	     rc;

	memset(who, 0, sizeof(*who));
	st = store_prepare(tx,
	    "SELECT role, audit_ref FROM users WHERE id = ? AND "
	    "deleted_at IS NULL");
	store_bind_text(st, 1, id);
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(who->user_id, id, sizeof(who->user_id));
		strlcpy_cb(who->role, store_col_text(st, 0), sizeof(who->role));
		if (!store_col_is_null(st, 1))
			strlcpy_cb(who->audit_ref, store_col_text(st, 1),
			    sizeof(who->audit_ref));
		rc = OK;
	} else if (rc == STORE_DONE)
		rc = ERR_NOT_FOUND;
	store_finalize(st);
	return (rc);
}

static int
invite_job_tx(struct tx *tx, void *arg)
{
	struct invite_job *j = arg;
	struct principal   lead;
	struct stmt	  *st;
	json_t		  *changes, *vars;
	char		   rel[UUID_STR_LEN] = "", status[16] = "", by[37] = "";
	char		   name[256];
	int64_t		   now = time_now_ms(), made = 0;
	int		   rc;

	/* The inviter's lock, as their requests take it: their invitations
	 * are made and counted one at a time, never two jobs at once. */
	if ((rc = people_user_lock(tx, j->lead_id)) != OK)
		return (rc);
	/* The inviter erased (their rows with them) or gone, or the
	 * invitation withdrawn before this ran: nothing. */
	if ((rc = lead_load(tx, j->lead_id, &lead)) != OK)
		return (rc == ERR_NOT_FOUND ? OK : rc);
	st = store_prepare(tx,
	    "SELECT 1 FROM family_invites WHERE id = ? AND "
	    "withdrawn_at IS NULL");
	store_bind_text(st, 1, j->invite_id);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_ROW)
		return (rc == STORE_DONE ? OK : rc);
	st = store_prepare(tx,
	    "SELECT id, status, created_by, created_at FROM "
	    "relationships WHERE lead_id = ? AND follower_id = ? AND kind = "
	    "'guardian_of'");
	store_bind_text(st, 1, j->lead_id);
	store_bind_text(st, 2, j->invitee);
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(rel, store_col_text(st, 0), sizeof(rel));
		strlcpy_cb(status, store_col_text(st, 1), sizeof(status));
		if (!store_col_is_null(st, 2))
			strlcpy_cb(by, store_col_text(st, 2), sizeof(by));
		made = store_col_int64(st, 3);
	}
	store_finalize(st);
	if (rc != STORE_ROW && rc != STORE_DONE)
		return (rc);
	if (rel[0] == '\0') {
		st = store_prepare(tx,
		    "INSERT INTO relationships (id, lead_id, "
		    "follower_id, kind, status, created_at, updated_at, "
		    "created_by, updated_by) VALUES (?, ?, ?, 'guardian_of', "
		    "'pending', ?, ?, ?, ?)");
		store_bind_text(st, 1, uuid_v7(rel));
		store_bind_text(st, 2, j->lead_id);
		store_bind_text(st, 3, j->invitee);
		store_bind_int64(st, 4, now);
		store_bind_int64(st, 5, now);
		store_bind_text(st, 6, j->lead_id);
		store_bind_text(st, 7, j->lead_id);
		changes = json_pack("{s:[s,s,s,s],s:s,s:s,s:s}", "fields",
		    "lead_id", "follower_id", "kind", "status", "kind",
		    "guardian_of", "status", "pending", "via", "invitation");
	} else if (strcmp(status, "pending") == 0 &&
	    strcmp(by, j->lead_id) == 0 &&
	    made + 1000 * config.family_invite_ttl_s < now) {
		/* Their own invitation, past its time: open again. */
		st = store_prepare(tx,
		    "UPDATE relationships SET created_at = ?, "
		    "updated_at = ?, updated_by = ? WHERE id = ? AND status = "
		    "'pending'");
		store_bind_int64(st, 1, now);
		store_bind_int64(st, 2, now);
		store_bind_text(st, 3, j->lead_id);
		store_bind_text(st, 4, rel);
		changes = json_pack("{s:[s],s:s}", "fields", "created_at",
		    "via", "invitation renewed");
	} else if (strcmp(status, "ended") == 0) {
		/* Declined, or ended later: a new invitation, in the row
		 * the pair has (one per lead, follower and kind). */
		st = store_prepare(tx,
		    "UPDATE relationships SET status = 'pending', "
		    "consent_at = NULL, consent_by = NULL, consent_method = "
		    "NULL, ended_at = NULL, created_at = ?, updated_at = ?, "
		    "created_by = ?, updated_by = ? WHERE id = ? AND status = "
		    "'ended'");
		store_bind_int64(st, 1, now);
		store_bind_int64(st, 2, now);
		store_bind_text(st, 3, j->lead_id);
		store_bind_text(st, 4, j->lead_id);
		store_bind_text(st, 5, rel);
		changes = json_pack("{s:[s,s,s,s,s,s],s:s,s:s}", "fields",
		    "status", "consent_at", "consent_by", "consent_method",
		    "ended_at", "created_at", "status", "pending", "via",
		    "invitation reopened");
	} else
		return (OK); /* related already: nothing changes */
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE) {
		json_decref(changes);
		return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
	}
	/* The invitee's other guardians answer it only for a child. */
	if ((rc = people_guardians_answer_set(tx, rel)) != OK) {
		json_decref(changes);
		return (rc);
	}
	/* The system's act, not the inviter's: a record with them as actor
	 * would be in their export only when the address has an account. */
	rc = audit_append(tx, NULL, NULL, "relationships.create",
	    "relationships", rel, changes);
	json_decref(changes);
	if (rc != OK)
		return (rc);
	st = store_prepare(tx,
	    "UPDATE family_invites SET relationship_id = ? "
	    "WHERE id = ?");
	store_bind_text(st, 1, rel);
	store_bind_text(st, 2, j->invite_id);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
	/* The invitee is told who asks, by the name on their account. */
	if ((rc = people_family_name(tx, j->lead_id, name, sizeof(name))) != OK)
		return (rc);
	vars = json_pack("{s:s,s:s,s:I}", "inviter", name, "public_url",
	    config.public_url, "days",
	    (json_int_t)(config.family_invite_ttl_s / 86400));
	rc = hooks_mail(
	    tx, j->email, j->invitee, "family_invitation", vars, NULL);
	json_decref(vars);
	return (rc);
}

/* POST /v1/me/family/children */
void
people_family_child(struct request *req)
{
	struct family_op op;
	int		 rc;

	memset(&op, 0, sizeof(op));
	op.req = req;
	if (child_check(req, &op.fields) != OK) {
		/* Refused by the users resource's rules: the copy is made. */
		json_decref(op.fields);
		return;
	}
	op.email = json_string_value(json_object_get(op.fields, "email"));
	rc = store_run(req->db, STORE_TX_WRITE, child_tx, &op);
	if (rc == OK && op.taken)
		http_problem(req, ERR_CONFLICT, "EMAIL_TAKEN",
		    "That email cannot be used: if the child has an account, "
		    "invite it (POST /v1/me/family/invite). Each such refusal "
		    "counts as a child's account made (family_invites_max).");
	else if (rc == OK)
		http_json(req, 201, op.answer);
	else {
		json_decref(op.answer);
		if (rc == ERR_CONFLICT && !req->responded)
			http_problem(req, rc, "EMAIL_TAKEN",
			    "That email cannot be used: if the child has an "
			    "account, invite it (POST /v1/me/family/invite).");
		else if (!req->responded)
			http_problem(
			    req, rc, NULL, "The account was not created.");
	}
	json_decref(op.fields);
}

/* The members a child's account takes, validated as the users resource
 * says; first_name and date_of_birth required. */
static int
child_check(struct request *req, json_t **fields)
{
	static const char *const members[] = { "first_name", "last_name",
		"date_of_birth", "country", "locale", "email", NULL };
	const char		*key;
	json_t			*v;
	size_t			 i;
	int			 rc;

	json_object_foreach(req->json, key, v) {
		for (i = 0; members[i] != NULL; i++)
			if (strcmp(key, members[i]) == 0)
				break;
		if (members[i] == NULL)
			return (people_field_error(
			    req, key, "unknown_field", "is not accepted here"));
	}
	if (!json_is_string(json_object_get(req->json, "first_name")))
		return (people_field_error(
		    req, "first_name", "required", "the child's given name"));
	if (!json_is_string(json_object_get(req->json, "date_of_birth")))
		return (people_field_error(req, "date_of_birth", "required",
		    "the child's birth date, YYYY-MM-DD"));
	if ((*fields = json_deep_copy(req->json)) == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "out of memory");
		return (ERR_NOMEM);
	}
	if ((rc = resource_validate(
		 req, &users_resource, *fields, 0, SCOPE_OWN)) != OK)
		return (rc);
	/* The country decides the consent age: a code that is none would
	 * stand for the default age. */
	v = json_object_get(*fields, "country");
	if (json_is_string(v) && !people_country_known(json_string_value(v)))
		return (people_field_error(req, "country", "invalid",
		    "is no ISO 3166-1 alpha-2 country code"));
	return (OK);
}

/*
 * The address of a child's account is in use: the refusal is counted as
 * an account made (a 'child' row with no relationship, audited), and the
 * transaction commits so that it stays counted; 409 EMAIL_TAKEN follows.
 */
static int
taken_row(struct tx *tx, struct family_op *op)
{
	json_t *p;
	char	id[UUID_STR_LEN];
	int	rc;

	if ((rc = invite_row(
		 tx, op->req->caller->user_id, "child", NULL, id)) != OK)
		return (rc);
	if ((p = json_pack("{s:[s],s:s,s:s}", "fields", "kind", "kind", "child",
		 "refused", "EMAIL_TAKEN")) == NULL)
		return (ERR_NOMEM);
	rc = audit_append(tx, op->req->caller, op->req, "family.email_taken",
	    "family_invites", id, p);
	json_decref(p);
	if (rc == OK)
		op->taken = 1;
	return (rc);
}

static int
child_tx(struct tx *tx, void *arg)
{
	struct family_op      *op = arg;
	struct request	      *req = op->req;
	struct people_new_user nu;
	struct stmt	      *st;
	const char	      *me = req->caller->user_id;
	json_t		      *changes, *user = NULL, *rel = NULL;
	char		       child[UUID_STR_LEN], rid[UUID_STR_LEN];
	char		       fid[UUID_STR_LEN], country[8] = "", index[65];
	int64_t		       now = time_now_ms();
	int		       rc, minor;

	json_decref(op->answer);
	op->answer = NULL;
	op->taken = 0;
	if ((rc = people_family_ready(tx, req)) != OK ||
	    (rc = adult_check(tx, req, me)) != OK ||
	    (rc = bound_check(tx, req, me)) != OK)
		return (rc);
	memset(&nu, 0, sizeof(nu));
	nu.country = json_string_value(json_object_get(op->fields, "country"));
	if (nu.country == NULL) {
		/* The child lives where their guardian does, unless told. */
		st =
		    store_prepare(tx, "SELECT country FROM users WHERE id = ?");
		store_bind_text(st, 1, me);
		if ((rc = store_step(st)) == STORE_ROW &&
		    !store_col_is_null(st, 0))
			strlcpy_cb(
			    country, store_col_text(st, 0), sizeof(country));
		store_finalize(st);
		if (rc != STORE_ROW && rc != STORE_DONE)
			return (rc);
		nu.country = people_country_known(country) ? country : NULL;
	}
	nu.date_of_birth =
	    json_string_value(json_object_get(op->fields, "date_of_birth"));
	if (people_dob_minor(nu.date_of_birth, nu.country, &minor) != OK)
		return (people_field_error(
		    req, "date_of_birth", "invalid", "is not a past date"));
	if (!minor) {
		http_problem(req, ERR_INVALID, "OVER_CONSENT_AGE",
		    "The child is old enough to consent themselves: they "
		    "make their own account, and you invite it (POST "
		    "/v1/me/family/invite with its email).");
		return (ERR_INVALID);
	}
	if (op->email != NULL) {
		keyring_email_index(op->email, index);
		st = store_prepare(
		    tx, "SELECT 1 FROM users WHERE email_index = ?");
		store_bind_text(st, 1, index);
		rc = store_step(st);
		store_finalize(st);
		if (rc == STORE_ROW)
			return (taken_row(tx, op));
		if (rc != STORE_DONE)
			return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
	}
	nu.email = op->email;
	nu.role = "member";
	nu.first_name =
	    json_string_value(json_object_get(op->fields, "first_name"));
	nu.last_name =
	    json_string_value(json_object_get(op->fields, "last_name"));
	nu.locale = json_string_value(json_object_get(op->fields, "locale"));
	nu.created_by = me;
	if ((rc = people_user_insert(tx, req, &nu, child)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "INSERT INTO relationships (id, lead_id, follower_id, "
	    "kind, status, consent_at, consent_by, consent_method, "
	    "created_at, updated_at, created_by, updated_by) VALUES (?, ?, ?, "
	    "'guardian_of', 'active', ?, ?, 'in_app', ?, ?, ?, ?)");
	store_bind_text(st, 1, uuid_v7(rid));
	store_bind_text(st, 2, me);
	store_bind_text(st, 3, child);
	store_bind_int64(st, 4, now);
	store_bind_text(st, 5, me);
	store_bind_int64(st, 6, now);
	store_bind_int64(st, 7, now);
	store_bind_text(st, 8, me);
	store_bind_text(st, 9, me);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
	changes = json_pack("{s:[s,s,s,s,s,s,s],s:s,s:s,s:s,s:s}", "fields",
	    "lead_id", "follower_id", "kind", "status", "consent_at",
	    "consent_by", "consent_method", "kind", "guardian_of", "status",
	    "active", "consent_method", "in_app", "via", "child_account");
	rc = audit_append(tx, req->caller, req, "relationships.create",
	    "relationships", rid, changes);
	json_decref(changes);
	if (rc != OK || (rc = invite_row(tx, me, "child", rid, fid)) != OK)
		return (rc);
	if (op->email != NULL &&
	    (rc = people_reset_queue(tx, op->email, NULL, "family_welcome")) !=
		OK)
		return (rc);
	if ((rc = resource_read(
		 tx, &users_resource, child, SCOPE_RELATED, &user)) != OK ||
	    (rc = resource_read(
		 tx, &relationships_resource, rid, SCOPE_ALL, &rel)) != OK) {
		json_decref(user);
		return (rc);
	}
	op->answer = json_pack("{s:o,s:o}", "user", user, "relationship", rel);
	return (op->answer != NULL ? OK : ERR_NOMEM);
}
