/*
 * Partner access rows as staff and their holders see them: the resource
 * /v1/partner-access (list, read, create, change, delete) with its own
 * rules, and GET /v1/me/partner-access. Redeeming is in codes.c.
 *
 * Who sees which rows (permissions partner_access:<action>:<scope>):
 *   all	admins: every row, any partner, 0 to 50 therapy sessions;
 *   related	partner admins: the rows of the partner they administer
 *		(an active partner_admins row of an active partner), 0 to 6
 *		therapy sessions, set when the access is made; another
 *		partner's row answers 404, naming another partner on create
 *		answers 403, and so does their list once they administer no
 *		active partner;
 *   own	members: the rows they redeemed (read only), without who
 *		made them.
 * Deleted rows (deleted_at) are seen by nobody. Every write is audited
 * without the code.
 *
 * A row is answered with an ETag that is a hash of the row as answered
 * (RESOURCE_ETAG_ROW), so it changes with every spent or given-back
 * therapy session. PATCH honours If-Match (412 when the row changed) and
 * requires it, naming the current ETag and with no "*" in it (428
 * PRECONDITION_REQUIRED), for therapy_sessions_remaining
 * (FIELD_IF_MATCH): that is an absolute value, and without it a session
 * the booking webhook spends between the admin's read and write would be
 * lost. The change is made under a lock on the row.
 *
 * On create a fresh code is drawn (one not in use, CODE_TRIES times at
 * most); only its keyed hash is kept, and the answer shows the code this
 * once (its ETag is of the row without it, as GET answers it).
 *
 * GDPR: the rows a person redeemed (owner column user_id) are in their
 * export as the declaration says (src/resource/gdpr.c), never the code's
 * hash. On erasure they stay with the anonymised account: a redeemed code
 * must stay spent, and the partner's allowance counts stay right.
 */
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "partners/partners.h"
#include "partners/partners_int.h"
#include "resource/hooks.h"
#include "resource/resource.h"
#include "store/store.h"

#define CODE_TRIES 8 /* fresh codes tried when one is taken */
#define STAFF	   (SEE_ALL | SEE_RELATED)

static int access_before_create(struct resource_ctx *, json_t *);
static int access_before_update(struct resource_ctx *, json_t *);
static int access_after_write(struct resource_ctx *, int, json_t *);
static int code_draw(struct resource_ctx *, json_t *);
static int forbid(struct resource_ctx *, const char *);
static int invalid(
    struct resource_ctx *, const char *, const char *, const char *);

static const struct field access_fields[] = {
	{ "partner_id", FIELD_UUID, FIELD_CREATE_ONLY | FIELD_FILTER, 0, 0,
	    NULL, NULL, NULL, 0,
	    "the partner; a partner admin's own by default" },
	{ "partner_name", FIELD_TEXT, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    "the partner's name",
	    "SELECT p.name FROM partners p WHERE "
	    "p.id = partner_access.partner_id" },
	{ "created_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, STAFF, "who made the access" },
	{ "user_id", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE | FIELD_FILTER,
	    0, 0, NULL, NULL, NULL, STAFF, "who redeemed it; null until then" },
	{ "code_hash", FIELD_TEXT,
	    FIELD_READONLY | FIELD_HIDDEN | FIELD_NULLABLE, 0, 0, NULL, NULL,
	    NULL, SEE_ALL, NULL },
	{ "feature_live_chat", FIELD_BOOL, 0, 0, 0, NULL, "false", NULL, 0,
	    "grants one-to-one live chat" },
	{ "feature_therapy", FIELD_BOOL, 0, 0, 0, NULL, "false", NULL, 0,
	    "grants therapy sessions" },
	{ "therapy_sessions_remaining", FIELD_INT, FIELD_IF_MATCH, 0,
	    PARTNER_SESSIONS_MAX_ALL, NULL, "0", NULL, 0,
	    "0 to 6 (partner admins, on create only) or 0 to 50 (admins); "
	    "a change needs If-Match" },
	{ "therapy_sessions_redeemed", FIELD_INT, FIELD_READONLY, 0, 0, NULL,
	    NULL, NULL, 0, "sessions spent by bookings" },
	{ "is_active", FIELD_BOOL, FIELD_FILTER, 0, 0, NULL, "true", NULL, 0,
	    "false: the code stops working and the grant ends" },
	{ "activated_at", FIELD_TIME, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, 0, "when it was redeemed" },
	{ "deactivated_at", FIELD_TIME, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, STAFF,
	    "when it was last switched off (is_active false); null while "
	    "active",
	    .since = 56 },
	{ "redeemed", FIELD_BOOL, FIELD_READONLY | FIELD_HIDDEN | FIELD_FILTER,
	    0, 0, NULL, NULL, NULL, 0, "redeemed by someone (a filter)",
	    "CASE WHEN user_id IS NULL THEN 0 ELSE 1 END" },
	{ "created_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
	{ "updated_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL,
	    STAFF, NULL },
	{ "updated_by", FIELD_UUID,
	    FIELD_READONLY | FIELD_HIDDEN | FIELD_NULLABLE, 0, 0, NULL, NULL,
	    NULL, SEE_ALL, NULL },
};

const struct resource partner_access_resource = {
	.name = "partner_access",
	.path = "/v1/partner-access",
	.table = "partner_access",
	.fields = access_fields,
	.nfields = NELEM(access_fields),
	.owner_column = "user_id",
	.scope_where = { [SCOPE_RELATED] =
			     "partner_id IN (" PARTNERS_ADMINISTERED ")",
	    [SCOPE_OWN] = "user_id = ?" },
	.soft_delete = 1,
	.where = "deleted_at IS NULL",
	.flags = RESOURCE_ID_PAGED | RESOURCE_ETAG_ROW,
	.doc = "One grant of features (live chat, therapy sessions) to one "
	       "user by a partner, redeemed with a code shown once, when the "
	       "access is made. Admins manage every partner's; partner admins "
	       "their partner's; members read the ones they redeemed. "
	       "therapy_sessions_remaining changes only with If-Match (428 "
	       "without): bookings spend sessions meanwhile.",
	.before_create = access_before_create,
	.before_update = access_before_update,
	.after_write = access_after_write,
	.before_list = partners_admin_check,
	.answered = "{\"code\":{\"type\":\"string\",\"description\":"
		    "\"the access code, answered once: by the create that "
		    "made it (access_after_write)\"}}",
};

/* 403 with why. */
static int
forbid(struct resource_ctx *ctx, const char *why)
{
	http_problem(ctx->req, ERR_FORBIDDEN, NULL, "%s", why);
	return (ERR_FORBIDDEN);
}

/* 422 with one entry. */
static int
invalid(struct resource_ctx *ctx, const char *field, const char *code,
    const char *detail)
{
	http_problem_ext(ctx->req, ERR_INVALID, NULL,
	    json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "field", field, "code",
		code, "detail", detail),
	    "The partner access is not valid.");
	return (ERR_INVALID);
}

/*
 * A partner admin makes accesses for their own partner, with at most 6
 * sessions; an admin names an active partner. Then the code.
 */
static int
access_before_create(struct resource_ctx *ctx, json_t *body)
{
	const char *given;
	char	    partner[UUID_STR_LEN];
	int	    rc, active;

	given = json_string_value(json_object_get(body, "partner_id"));
	if (ctx->scope != SCOPE_ALL) {
		if (json_integer_value(
			json_object_get(body, "therapy_sessions_remaining")) >
		    PARTNER_SESSIONS_MAX_RELATED)
			return (invalid(ctx, "therapy_sessions_remaining",
			    "too_large",
			    "must be at most 6 for a partner admin"));
		if ((rc = partners_admin_of(
			 ctx->tx, ctx->who->user_id, partner)) == ERR_NOT_FOUND)
			return (forbid(ctx,
			    "You are not an active partner "
			    "admin of an active partner."));
		if (rc != OK)
			return (rc);
		if (given != NULL && strcmp(given, partner) != 0)
			return (forbid(ctx,
			    "A partner admin creates accesses "
			    "for their own partner only."));
		if (json_object_set_new(
			body, "partner_id", json_string(partner)) != 0)
			return (ERR_NOMEM);
	} else {
		if (given == NULL)
			return (invalid(
			    ctx, "partner_id", "required", "name the partner"));
		rc = partners_find(ctx->tx, given, partner, NULL, &active);
		if (rc == ERR_NOT_FOUND || (rc == OK && !active))
			return (invalid(ctx, "partner_id", "inactive",
			    "the partner is not active"));
		if (rc != OK)
			return (rc);
	}
	return (code_draw(ctx, body));
}

/*
 * A code not in use: its keyed hash into body's code_hash (kept), the
 * code into body's "code" (not a field: answered once by after_write).
 */
static int
code_draw(struct resource_ctx *ctx, json_t *body)
{
	struct stmt *st;
	char	     code[PARTNER_CODE_LEN + 1], hash[PARTNER_CODE_HASH_LEN];
	int	     i, rc = ERR_CONFLICT;

	for (i = 0; i < CODE_TRIES && rc == ERR_CONFLICT; i++) {
		partner_code_new(code);
		partner_code_hash(code, hash);
		st = store_prepare(ctx->tx,
		    "SELECT 1 FROM partner_access WHERE code_hash = ?");
		store_bind_text(st, 1, hash);
		rc = store_step(st);
		store_finalize(st);
		rc = rc == STORE_ROW   ? ERR_CONFLICT
		    : rc == STORE_DONE ? OK
				       : rc;
	}
	if (rc == OK &&
	    (json_object_set_new(body, "code_hash", json_string(hash)) != 0 ||
		json_object_set_new(body, "code", json_string(code)) != 0))
		rc = ERR_NOMEM;
	sodium_memzero(code, sizeof(code));
	sodium_memzero(hash, sizeof(hash));
	return (rc);
}

/*
 * A change names a field; below scope all it leaves the sessions alone:
 * refilling a spent allowance is for admins. Switching the access off
 * notes when (deactivated_at), switching it on clears that: a partner's
 * reports count an access for the time it was active, so that switching
 * one off does not change a past period's count (reports.c's MEMBER_OF).
 */
static int
access_before_update(struct resource_ctx *ctx, json_t *body)
{
	json_t *now, *was;
	char	iso[ISO_TIME_LEN];

	if (json_object_size(body) == 0)
		return (invalid(
		    ctx, "", "required", "name at least one field to change"));
	if (ctx->scope != SCOPE_ALL &&
	    json_object_get(body, "therapy_sessions_remaining") != NULL)
		return (invalid(ctx, "therapy_sessions_remaining", "staff_only",
		    "only an admin changes the sessions of an existing "
		    "access"));
	now = json_object_get(body, "is_active");
	was = json_object_get(ctx->old, "is_active");
	if (json_is_boolean(now) && json_is_boolean(was) &&
	    json_is_true(now) != json_is_true(was) &&
	    json_object_set_new(body, "deactivated_at",
		json_is_true(now)
		    ? json_null()
		    : json_string(time_format_iso(time_now_ms(), iso))) != 0)
		return (ERR_NOMEM);
	return (OK);
}

/*
 * Create: the answer shows the code. Change, delete: the holder's courses
 * (partner courses follow their accesses) and chat profile follow.
 */
static int
access_after_write(struct resource_ctx *ctx, int action, json_t *row)
{
	const char *user;

	if (action == ACTION_CREATE)
		return (json_object_set(row, "code",
			    json_object_get(ctx->body, "code")) == 0
			? OK
			: ERR_NOMEM);
	user = json_string_value(json_object_get(ctx->old, "user_id"));
	return (hooks_changed(ctx->tx, CHANGE_ACCESS, user));
}

int
partners_admin_check(struct resource_ctx *ctx)
{
	char partner[UUID_STR_LEN];
	int  rc;

	if (ctx->scope != SCOPE_RELATED)
		return (OK);
	if ((rc = partners_admin_of(ctx->tx, ctx->who->user_id, partner)) ==
	    ERR_NOT_FOUND) {
		http_problem(ctx->req, ERR_FORBIDDEN, NULL,
		    "You are not an active partner admin of an active "
		    "partner.");
		return (ERR_FORBIDDEN);
	}
	return (rc);
}

/* GET /v1/me/partner-access: the caller's own, whatever their role. */
void
partner_access_mine(struct request *req)
{
	resource_list(req, &partner_access_resource, SCOPE_OWN);
}
