/*
 * Relationships (the seed's Group): a lead and a follower, guardian_of or
 * practitioner_of, with a status and a consent record.
 *
 *	pending  --consent-->  active  --end-->  ended
 *	pending  --end------>  ended   (declined, or withdrawn by an admin)
 *
 * Admins create them (pending) through the resource layer; a member
 * creates guardian_of ones for their own family (family.c): an
 * invitation (pending) or a child's account (active at once, with the
 * guardian's consent). Consent is recorded:
 *   - by the follower, in the app, when they are old enough to give it
 *     themselves: their own consent suffices, whoever else is their
 *     guardian;
 *   - for a follower under the consent age (a child), on a guardian_of
 *     relationship: by a guardian already active for that child (the
 *     other adult accepts the new one, in the app; consent_by is theirs),
 *     or by an admin recording consent given offline (a signed form);
 *   - by an admin, for any relationship (offline consent).
 * Only for a child is there such a step: a follower over the age decides
 * alone, and their other guardians neither see nor answer it.
 * A member's invitation (pending, created_by its lead) can be accepted
 * only while it is open (family_invite_ttl_s); later 409
 * INVITATION_EXPIRED, and the nightly people.family_expire ends it
 * (family_close.c).
 * Only active relationships grant related scope (the resource layer
 * checks status = 'active').
 *
 * Who sees a relationship (scope_where, so lists and reads are the
 * generic layer's): its follower; its lead, except a pending one they
 * made themselves (an invitation by email: whether the address had an
 * account stays unknown to them until the invitee answers); and, for a
 * guardian_of, the child's other active guardians: its active rows, and
 * a pending one (or one ended since) while guardians_answer says the
 * follower is under the consent age (set when it is made, kept right
 * nightly, and the actions ask the age again), which they accept or
 * decline. The consent
 * and end actions are this file's. The follower declines a pending
 * relationship at any age. Ending a pending relationship by its follower
 * or a co-guardian is audited as relationships.decline, any other ending
 * as relationships.end. A person's export holds the relationships they
 * are a party to, not their child's other guardians' (gdpr.c).
 *
 * Whether a follower is old enough to consent themselves is the
 * digital-consent rule's answer (consent.c).
 */
#include <string.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "people/gdpr.h"
#include "people/people_int.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "store/store.h"

/*
 * A row its lead sees: not an invitation of theirs (made by someone
 * else, an admin), or one that was answered: accepted once, or ended by
 * someone else than the inviter (declined). An invitation pending, or
 * ended by its inviter (withdrawn) or by nobody (expired, the nightly
 * job), is not: whether the address had an account is not theirs to
 * learn from it. The export asks the same in C (people_relationships_of).
 */
#define REL_ANSWERED                                                           \
	"created_by IS NULL OR created_by <> lead_id OR consent_at IS NOT "    \
	"NULL OR (status = 'ended' AND updated_by IS NOT NULL AND "            \
	"updated_by <> lead_id)"
/*
 * The rows a party sees: those they follow; those they lead but an
 * invitation of theirs not answered; a guardian, the guardian_of rows of
 * a child they are an active guardian of: the active ones, and the
 * others only while guardians_answer says the child is under the
 * consent age (an older follower's invitations are theirs alone).
 */
#define REL_PARTY                                                              \
	"follower_id = ? OR (lead_id = ? AND (" REL_ANSWERED ")) OR (kind = "  \
	"'guardian_of' AND (status = 'active' OR guardians_answer = 1) AND "   \
	"follower_id IN (SELECT g.follower_id FROM relationships g WHERE "     \
	"g.lead_id = ? AND g.kind = 'guardian_of' AND g.status = 'active'))"

static const char *const kinds[] = { "guardian_of", "practitioner_of", NULL };
static const char *const statuses[] = { "pending", "active", "ended", NULL };
static const char *const methods[] = { "in_app", "signed_form", "email",
	"verbal", NULL };

static const struct field rel_fields[] = {
	{ "lead_id", FIELD_UUID,
	    FIELD_REQUIRED | FIELD_CREATE_ONLY | FIELD_FILTER, 0, 0, NULL, NULL,
	    "users", 0, "the guardian or practitioner" },
	{ "follower_id", FIELD_UUID,
	    FIELD_REQUIRED | FIELD_CREATE_ONLY | FIELD_FILTER, 0, 0, NULL, NULL,
	    "users", 0, "the child or client" },
	{ "kind", FIELD_ENUM, FIELD_REQUIRED | FIELD_CREATE_ONLY | FIELD_FILTER,
	    0, 0, kinds, NULL, NULL, 0, "guardian_of or practitioner_of" },
	{ "status", FIELD_ENUM, FIELD_READONLY | FIELD_FILTER | FIELD_SORT, 0,
	    0, statuses, NULL, NULL, 0,
	    "pending until consent is recorded, then active; ended" },
	{ "consent_at", FIELD_TIME, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, 0, "when consent was recorded" },
	{ "consent_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, 0, "the user whose consent it is" },
	{ "consent_method", FIELD_ENUM, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    methods, NULL, NULL, 0, "in_app, signed_form, email or verbal" },
	{ "created_at", FIELD_TIME, FIELD_READONLY | FIELD_SORT, 0, 0, NULL,
	    NULL, NULL, 0, NULL },
	{ "updated_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
	{ "ended_at", FIELD_TIME, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, 0, NULL },
	{ "created_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, 0, NULL },
	{ "updated_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, 0, NULL },
};

static int rel_before_create(struct resource_ctx *, json_t *);
static int rel_after_write(struct resource_ctx *, int, json_t *);

const struct resource relationships_resource = {
	.name = "relationships",
	.path = "/v1/relationships",
	.table = "relationships",
	.fields = rel_fields,
	.nfields = NELEM(rel_fields),
	.owner_column = NULL,
	.scope_where = { [SCOPE_OWN] = REL_PARTY, [SCOPE_RELATED] = REL_PARTY },
	.flags = RESOURCE_ID_PAGED,
	.actions =
	    (1 << ACTION_LIST) | (1 << ACTION_READ) | (1 << ACTION_CREATE),
	.doc =
	    "A link between two users: a guardian and their child, a "
	    "practitioner and their client. Admins create them pending, and "
	    "members their own family's (POST /v1/me/family/invite, "
	    "/v1/me/family/children); consent makes them active, and only "
	    "active relationships let the lead see the follower's data. Both "
	    "parties read them (a member's own invitation only once it is "
	    "answered), and so do the child's other active guardians (its "
	    "pending ones only for a child under the consent age).",
	.before_create = rel_before_create,
	.after_write = rel_after_write,
};

/* One relationship, read for an action. */
struct rel {
	char	id[UUID_STR_LEN];
	char	lead_id[UUID_STR_LEN];
	char	follower_id[UUID_STR_LEN];
	char	kind[16];
	char	status[16];
	int	invitation; /* pending, made by its lead (family.c) */
	int64_t created_at;
};

/* A consent or end action, run in one write transaction. */
struct rel_action {
	struct request	 *req;
	struct principal *who;
	const char	 *id;
	const char	 *method;      /* consent: as asked, or NULL */
	enum scope	  read, write; /* found before the transaction */
	int		  ending;
	json_t		 *row; /* the row after, on OK */
};

static int  rel_load(struct tx *, const char *, struct rel *);
static int  rel_action_tx(struct tx *, void *);
static void rel_action(struct request *, int);
static int  user_live(struct tx *, const char *);
static int  co_guardian(struct tx *, const struct rel *, const char *, int *);
static int  choice_valid(const char *const *, const char *);

/* Lead and follower must be live users and two different people. */
static int
rel_before_create(struct resource_ctx *ctx, json_t *body)
{
	const char *lead, *follower;
	json_t	   *errs;
	int	    rc;

	lead = json_string_value(json_object_get(body, "lead_id"));
	follower = json_string_value(json_object_get(body, "follower_id"));
	if ((errs = json_array()) == NULL)
		return (ERR_NOMEM);
	if (lead != NULL && (rc = user_live(ctx->tx, lead)) != OK) {
		if (rc != ERR_NOT_FOUND)
			goto fail;
		json_array_append_new(errs,
		    json_pack("{s:s,s:s,s:s}", "field", "lead_id", "code",
			"not_found", "detail", "no such user"));
	}
	if (follower != NULL && (rc = user_live(ctx->tx, follower)) != OK) {
		if (rc != ERR_NOT_FOUND)
			goto fail;
		json_array_append_new(errs,
		    json_pack("{s:s,s:s,s:s}", "field", "follower_id", "code",
			"not_found", "detail", "no such user"));
	}
	if (lead != NULL && follower != NULL && strcmp(lead, follower) == 0)
		json_array_append_new(errs,
		    json_pack("{s:s,s:s,s:s}", "field", "follower_id", "code",
			"same_as_lead", "detail",
			"a user cannot lead themselves"));
	if (json_array_size(errs) == 0) {
		json_decref(errs);
		return (OK);
	}
	http_problem_ext(ctx->req, ERR_INVALID, NULL,
	    json_pack("{s:o}", "errors", errs),
	    "The relationship is not valid.");
	return (ERR_INVALID);
fail:
	json_decref(errs);
	return (rc);
}

/* A pending guardian_of made by an admin: do the child's guardians
 * answer it? (guardians_answer; the invitations' is family.c's.) */
static int
rel_after_write(struct resource_ctx *ctx, int action, json_t *row)
{
	const char *id = ctx->id != NULL
	    ? ctx->id
	    : json_string_value(json_object_get(row, "id"));

	if (action != ACTION_CREATE || id == NULL)
		return (OK);
	return (people_guardians_answer_set(ctx->tx, id));
}

int
people_guardians_answer_set(struct tx *tx, const char *id)
{
	struct stmt *st;
	char	     follower[UUID_STR_LEN] = "";
	int	     rc, minor = 0;

	st = store_prepare(tx,
	    "SELECT follower_id FROM relationships WHERE id = ? AND "
	    "status = 'pending' AND kind = 'guardian_of'");
	store_bind_text(st, 1, id);
	if ((rc = store_step(st)) == STORE_ROW)
		strlcpy_cb(follower, store_col_text(st, 0), sizeof(follower));
	store_finalize(st);
	if (rc != STORE_ROW)
		return (rc == STORE_DONE ? OK : rc);
	if ((rc = people_is_minor(tx, follower, &minor)) != OK &&
	    rc != ERR_NOT_FOUND)
		return (rc);
	st = store_prepare(
	    tx, "UPDATE relationships SET guardians_answer = ? WHERE id = ?");
	store_bind_int64(st, 1, minor ? 1 : 0);
	store_bind_text(st, 2, id);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
}

static int
user_live(struct tx *tx, const char *id)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx,
	    "SELECT 1 FROM users WHERE id = ? AND "
	    "deleted_at IS NULL");
	store_bind_text(st, 1, id);
	rc = store_step(st);
	rc = rc == STORE_ROW ? OK : rc == STORE_DONE ? ERR_NOT_FOUND : rc;
	store_finalize(st);
	return (rc);
}

static int
choice_valid(const char *const *list, const char *s)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return (1);
	return (0);
}

static int
rel_load(struct tx *tx, const char *id, struct rel *r)
{
	struct stmt *st;
	int	     rc;

	memset(r, 0, sizeof(*r));
	st = store_prepare(tx,
	    "SELECT id, lead_id, follower_id, kind, status, created_by, "
	    "created_at FROM relationships WHERE id = ?");
	store_bind_text(st, 1, id);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		strlcpy_cb(r->id, store_col_text(st, 0), sizeof(r->id));
		strlcpy_cb(
		    r->lead_id, store_col_text(st, 1), sizeof(r->lead_id));
		strlcpy_cb(r->follower_id, store_col_text(st, 2),
		    sizeof(r->follower_id));
		strlcpy_cb(r->kind, store_col_text(st, 3), sizeof(r->kind));
		strlcpy_cb(r->status, store_col_text(st, 4), sizeof(r->status));
		r->invitation = strcmp(r->status, "pending") == 0 &&
		    !store_col_is_null(st, 5) &&
		    strcmp(store_col_text(st, 5), r->lead_id) == 0;
		r->created_at = store_col_int64(st, 6);
		rc = OK;
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	}
	store_finalize(st);
	return (rc);
}

/* *yes = 1 if who is an active guardian of r's follower (not r's lead). */
static int
co_guardian(struct tx *tx, const struct rel *r, const char *who, int *yes)
{
	struct stmt *st;
	int	     rc;

	*yes = 0;
	if (strcmp(r->kind, "guardian_of") != 0 || strcmp(r->lead_id, who) == 0)
		return (OK);
	st = store_prepare(tx,
	    "SELECT 1 FROM relationships WHERE lead_id = ? AND "
	    "follower_id = ? AND kind = 'guardian_of' AND status = 'active'");
	store_bind_text(st, 1, who);
	store_bind_text(st, 2, r->follower_id);
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_ROW)
		*yes = 1;
	return (rc == STORE_ROW || rc == STORE_DONE ? OK : rc);
}

void
people_relationship_consent(struct request *req)
{
	rel_action(req, 0);
}

void
people_relationship_end(struct request *req)
{
	rel_action(req, 1);
}

static void
rel_action(struct request *req, int ending)
{
	struct rel_action a;
	json_t		 *body = NULL, *m;
	int		  rc;

	memset(&a, 0, sizeof(a));
	a.req = req;
	a.ending = ending;
	a.who = req->caller;
	if (people_body_object(req, &body) != OK)
		return;
	a.id = http_param(req, "id");
	if (a.id == NULL || !uuid_valid(a.id)) {
		json_decref(body);
		http_problem(req, ERR_NOT_FOUND, NULL, "No such relationship.");
		return;
	}
	if (body != NULL) {
		const char *key;
		json_t	   *v;

		json_object_foreach(body, key, v) {
			if (!ending && strcmp(key, "method") == 0)
				continue;
			json_decref(body);
			http_problem(req, ERR_INVALID, "UNKNOWN_FIELD",
			    "This action takes %s.",
			    ending ? "no fields" : "only \"method\"");
			return;
		}
		if ((m = json_object_get(body, "method")) != NULL &&
		    (!json_is_string(m) ||
			!choice_valid(methods, json_string_value(m)))) {
			json_decref(body);
			http_problem(req, ERR_INVALID, NULL,
			    "method must be one "
			    "of in_app, signed_form, email, verbal.");
			return;
		}
		a.method = m != NULL
		    ? arena_strdup(req->arena, json_string_value(m))
		    : NULL;
		json_decref(body);
	}
	a.read = resource_scope(req->db, a.who, "relationships", "read");
	a.write = resource_scope(req->db, a.who, "relationships", "update");
	rc = store_run(req->db, STORE_TX_WRITE, rel_action_tx, &a);
	if (rc == OK)
		http_json(req, 200, a.row);
	else if (!req->responded)
		http_problem(req, rc, NULL,
		    rc == ERR_NOT_FOUND ? "No such relationship."
			: rc == ERR_CONFLICT
			? "The relationship is not in a state that allows this."
			: "The relationship cannot be changed.");
}

/*
 * Who may do what:
 *   consent: an admin (relationships:update:all), recording consent given
 *	offline (method signed_form unless told); or the follower, in the
 *	app, unless they are too young to consent; for such a child's
 *	guardian_of, a guardian already active for them, in the app. An
 *	invitation past family_invite_ttl_s cannot be accepted (409
 *	INVITATION_EXPIRED). consent_by names whose consent it is: the
 *	co-guardian who accepted; else the lead for a child's guardian_of,
 *	the follower otherwise.
 *   end: an admin, the lead, or the follower (a child cannot end their
 *	guardian's active relationship: an admin does; a pending one they
 *	decline at any age); a co-guardian declines a pending guardian_of
 *	of their child under the consent age (an older one decides alone).
 * A relationship the caller does not see answers 404.
 */
static int
rel_action_tx(struct tx *tx, void *arg)
{
	struct rel_action  *a = arg;
	struct request	   *req = a->req;
	struct resource_ctx ctx;
	struct stmt	   *st;
	struct rel	    r;
	json_t		   *seen;
	enum scope	    read = a->read, write = a->write;
	const char	   *method, *by;
	json_t		   *changes;
	int64_t		    now = time_now_ms();
	int		    rc, minor = 0, is_follower, is_lead, is_co = 0;
	int		    pending;
	const char	   *action;

	/* Seen as the declaration says: every relationship for a caller
	 * who reads or changes them all, else those they are a party to. */
	memset(&ctx, 0, sizeof(ctx));
	ctx.req = req;
	ctx.tx = tx;
	ctx.res = &relationships_resource;
	ctx.who = a->who;
	ctx.scope =
	    read == SCOPE_ALL || write == SCOPE_ALL ? SCOPE_ALL : SCOPE_OWN;
	if ((rc = resource_load(&ctx, a->id, &seen)) != OK)
		return (rc);
	json_decref(seen);
	if ((rc = rel_load(tx, a->id, &r)) != OK)
		return (rc);
	is_follower = strcmp(r.follower_id, a->who->user_id) == 0;
	is_lead = strcmp(r.lead_id, a->who->user_id) == 0;
	pending = strcmp(r.status, "pending") == 0;
	if (a->ending ? strcmp(r.status, "ended") == 0
		      : strcmp(r.status, "pending") != 0)
		return (ERR_CONFLICT);
	if ((rc = people_is_minor(tx, r.follower_id, &minor)) != OK &&
	    rc != ERR_NOT_FOUND)
		return (rc);
	if ((rc = co_guardian(tx, &r, a->who->user_id, &is_co)) != OK)
		return (rc);

	if (a->ending) {
		if (write != SCOPE_ALL && !is_lead &&
		    !(is_follower &&
			(pending ||
			    !(minor && strcmp(r.kind, "guardian_of") == 0))) &&
		    !(is_co && pending && minor)) {
			http_problem(req, ERR_FORBIDDEN, NULL,
			    "Only an admin "
			    "or a party to the relationship can end it.");
			return (ERR_FORBIDDEN);
		}
		st = store_prepare(tx,
		    "UPDATE relationships SET status = "
		    "'ended', ended_at = ?, updated_at = ?, updated_by = ? "
		    "WHERE id = ? AND status <> 'ended'");
		store_bind_int64(st, 1, now);
		store_bind_int64(st, 2, now);
		store_bind_text(st, 3, a->who->user_id);
		store_bind_text(st, 4, r.id);
		changes = json_pack("{s:[s,s],s:s}", "fields", "status",
		    "ended_at", "status", "ended");
		action = pending && (is_follower || is_co) && !is_lead
		    ? "relationships.decline"
		    : "relationships.end";
	} else {
		by = minor && strcmp(r.kind, "guardian_of") == 0
		    ? r.lead_id
		    : r.follower_id;
		if (write == SCOPE_ALL && !is_follower && !is_co)
			method = a->method != NULL ? a->method : "signed_form";
		else if (is_follower && !minor)
			method = "in_app";
		else if (is_co && minor) {
			method = "in_app";
			by = a->who->user_id;
		} else {
			http_problem(req, ERR_FORBIDDEN, "CONSENT_REQUIRED",
			    is_follower ? "You are under the digital-consent "
					  "age: your guardian accepts in the "
					  "app, or an admin records their "
					  "consent."
				: is_co ? "The follower is old enough to "
					  "consent: they accept it themselves."
					: "Only the follower, their "
					  "guardian or an admin can record "
					  "consent.");
			return (ERR_FORBIDDEN);
		}
		if (r.invitation &&
		    r.created_at + 1000 * config.family_invite_ttl_s < now) {
			http_problem(req, ERR_CONFLICT, "INVITATION_EXPIRED",
			    "The invitation is no longer open: the guardian "
			    "sends a new one.");
			return (ERR_CONFLICT);
		}
		action = "relationships.consent";
		st = store_prepare(tx,
		    "UPDATE relationships SET status = "
		    "'active', consent_at = ?, consent_by = ?, consent_method "
		    "= "
		    "?, updated_at = ?, updated_by = ? WHERE id = ? AND "
		    "status = 'pending'");
		store_bind_int64(st, 1, now);
		store_bind_text(st, 2, by);
		store_bind_text(st, 3, method);
		store_bind_int64(st, 4, now);
		store_bind_text(st, 5, a->who->user_id);
		store_bind_text(st, 6, r.id);
		changes = json_pack("{s:[s,s,s,s],s:s,s:s}", "fields", "status",
		    "consent_at", "consent_by", "consent_method", "status",
		    "active", "consent_method", method);
	}
	rc = store_step(st);
	if (rc == STORE_DONE && store_changes(st) != 1)
		rc = ERR_CONFLICT;
	store_finalize(st);
	if (rc != STORE_DONE && rc != OK) {
		json_decref(changes);
		return (rc);
	}
	rc = audit_append(
	    tx, a->who, req, action, "relationships", r.id, changes);
	json_decref(changes);
	if (rc != OK)
		return (rc);
	json_decref(a->row);
	return (resource_read(
	    tx, &relationships_resource, r.id, SCOPE_ALL, &a->row));
}

/*
 * A person's relationships for their export: those they follow and those
 * they lead, but an invitation of theirs not answered (as they see them:
 * REL_ANSWERED). Not their child's other guardians' rows, which they see
 * in the app to answer them but which are not theirs. Asked by column,
 * not through scope_where, so an export works with migration 0037
 * pending.
 */
int
people_relationships_of(
    struct tx *tx, const char *user_id, json_t *out, int *truncated)
{
	struct principal who;
	json_t		*led, *row;
	const char	*status, *by, *upd;
	size_t		 i;
	int		 rc, answered;

	memset(&who, 0, sizeof(who));
	strlcpy_cb(who.user_id, user_id, sizeof(who.user_id));
	if ((rc = resource_rows(tx, &relationships_resource, &who, SCOPE_ALL,
		 "follower_id", user_id, out, truncated)) != OK)
		return (rc);
	if ((led = json_array()) == NULL)
		return (ERR_NOMEM);
	rc = resource_rows(tx, &relationships_resource, &who, SCOPE_ALL,
	    "lead_id", user_id, led, truncated);
	json_array_foreach(led, i, row) {
		if (rc != OK)
			break;
		/* REL_ANSWERED */
		status = json_string_value(json_object_get(row, "status"));
		by = json_string_value(json_object_get(row, "created_by"));
		upd = json_string_value(json_object_get(row, "updated_by"));
		answered = by == NULL || strcmp(by, user_id) != 0 ||
		    !json_is_null(json_object_get(row, "consent_at")) ||
		    (status != NULL && strcmp(status, "ended") == 0 &&
			upd != NULL && strcmp(upd, user_id) != 0);
		if (!answered)
			continue;
		if (json_array_append(out, row) != 0)
			rc = ERR_NOMEM;
	}
	json_decref(led);
	return (rc);
}
