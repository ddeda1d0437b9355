/*
 * The partners module: its routes and resources, the public branding
 * route, and the helpers its files share. Tables, the seeded features
 * (automatic_access_code, therapy, live_chat) and the built-in roles'
 * permissions come from migration 0005.
 *
 * Partners, features, partner features and partner admins are resources
 * that admins manage (scope all); a partner admin reads their own
 * partner_admins row. A partner is never deleted: PATCH is_active false
 * deactivates it, and in the same transaction every admin of it and
 * every access it granted (after_write). GET /v1/partners/{id} is public:
 * given a name it answers an active partner's branding and the names of
 * the features it has switched on, nothing else; given a UUID, the
 * partner with that id, as admins see it to admins (the branding to
 * anyone else).
 */
#include <ctype.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "partners/partners.h"
#include "partners/partners_int.h"
#include "resource/hooks.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "store/jobs.h"
#include "store/store.h"

static int  partners_init(struct store *);
static void partner_check(json_t *body, json_t *errs);
static int  partners_before_create(struct resource_ctx *, json_t *);
static int  partners_before_update(struct resource_ctx *, json_t *);
static int  partners_after_write(struct resource_ctx *, int, json_t *);
static int  partner_deactivate(struct resource_ctx *, const char *id);
static int  features_before_write(struct resource_ctx *, json_t *);
static int  admins_before_create(struct resource_ctx *, json_t *);
static int  admins_after_write(struct resource_ctx *, int, json_t *);
static int  branding_tx(
     struct tx *, const char *key, const char *id, json_t **out);

/* What the OpenAPI document says of the code routes (struct route's api). */
/* clang-format off */
#define API_CODE_BODY	"{\"type\":\"object\",\"required\":[\"code\"]," \
			"\"properties\":{\"code\":{\"type\":\"string\"," \
			"\"description\":\"6 letters and digits (no 0, O, 1, I or " \
			"L), any case, blanks around ignored\",\"maxLength\":64," \
			"\"pattern\":\"^[ \\t\\n\\r\\f\\u000b]*[" PARTNER_CODE_ALPHABET \
			"abcdefghjkmnpqrstuvwxyz]{6}[ \\t\\n\\r\\f\\u000b]*$\"," \
			"\"examples\":[\"KX7P2M\"]}," \
			"\"partner\":{\"type\":\"string\",\"minLength\":1," \
			"\"maxLength\":256,\"description\":\"the partner's name or " \
			"id: the code must be one of its\"}}," \
			"\"additionalProperties\":false}"
/* clang-format on */
/* clang-format off */
#define API_CODE_PROBLEMS \
	"\"400\":\"INVALID_CODE (not a code), DOES_NOT_EXIST, INACTIVE or " \
	"CODE_EXPIRED\",\"409\":\"ALREADY_APPLIED (by the caller) or " \
	"ALREADY_IN_USE\",\"422\":\"an unknown or bad member\",\"429\":" \
	"\"RATE_LIMITED: too many codes that do not exist (Retry-After)\""
/* clang-format on */

static const char api_validate[] =
    "{\"codes\":{\"409\":[\"ALREADY_APPLIED\",\"ALREADY_IN_USE\"],\"400\":[\"INACTIVE\",\"INVALID_CODE\",\"DOES_NOT_EXIST\",\"CODE_EXPIRED\"]},\"body\":" API_CODE_BODY
    ","
    "\"answers\":{\"200\":{\"description\":\"the code may be redeemed: "
    "what it grants\",\"schema\":{\"type\":\"object\",\"required\":["
    "\"valid\",\"partner_name\",\"feature_live_chat\",\"feature_therapy\","
    "\"therapy_sessions_remaining\"],\"properties\":{\"valid\":{\"const\":"
    "true},\"partner_name\":{\"type\":\"string\"},\"feature_live_chat\":{"
    "\"type\":\"boolean\"},\"feature_therapy\":{\"type\":\"boolean\"},"
    "\"therapy_sessions_remaining\":{\"type\":\"integer\"}}}}},"
    "\"problems\":{" API_CODE_PROBLEMS "}}";
static const char api_assign[] =
    "{\"codes\":{\"409\":[\"ALREADY_APPLIED\",\"ALREADY_IN_USE\"],\"400\":[\"INACTIVE\",\"INVALID_CODE\",\"DOES_NOT_EXIST\",\"CODE_EXPIRED\"]},\"body\":" API_CODE_BODY
    ","
    "\"answers\":{\"200\":{\"description\":\"redeemed: the caller's "
    "partner access\",\"schema\":{\"type\":\"object\",\"properties\":{"
    "\"id\":{\"type\":\"string\",\"format\":\"uuid\"},\"partner_id\":{"
    "\"type\":\"string\",\"format\":\"uuid\"},\"partner_name\":{\"type\":"
    "\"string\"},\"feature_live_chat\":{\"type\":\"boolean\"},"
    "\"feature_therapy\":{\"type\":\"boolean\"},"
    "\"therapy_sessions_remaining\":{\"type\":\"integer\"},"
    "\"therapy_sessions_redeemed\":{\"type\":\"integer\"},\"is_active\":{"
    "\"type\":\"boolean\"},\"activated_at\":{\"type\":[\"string\","
    "\"null\"],\"format\":\"date-time\"},\"created_at\":{\"type\":"
    "\"string\",\"format\":\"date-time\"}}}}},\"problems\":{\"403\":"
    "\"the caller may not redeem codes\"," API_CODE_PROBLEMS "}}";

/* A member of the public branding: as the partner's own (partners). */
#define API_BRANDING(n)                                                        \
	"\"" n "\":{\"$ref\":\"#/components/schemas/"                          \
	"partners/properties/" n "\"}"
/* clang-format off */
#define API_PARTNER_GET							\
	"{\"codes\":{\"401\":[\"UNAUTHORIZED\",\"SESSION_EXPIRED\","	\
	"\"TOKEN_IN_QUERY\"]},"						\
	"\"answers\":{\"200\":{\"description\":\"by id, to admins: the "	\
	"partner (see partners); otherwise its public branding: name, "	\
	"logo_url, logo_alt, website, footer_line1, footer_line2, "		\
	"social_links, brand_colour, features\",\"schema\":{\"anyOf\":["	\
	"{\"$ref\":"								\
	"\"#/components/schemas/partners\"},{\"type\":\"object\","		\
	"\"required\":[\"name\",\"features\"],"				\
	"\"additionalProperties\":false,\"properties\":{"			\
	API_BRANDING("name") "," API_BRANDING("logo_url") ","		\
	API_BRANDING("logo_alt") "," API_BRANDING("website") ","		\
	API_BRANDING("footer_line1") "," API_BRANDING("footer_line2") ","	\
	API_BRANDING("social_links") "," API_BRANDING("brand_colour")	\
	",\"features\":{\"type\":\"array\","					\
	"\"items\":{\"type\":\"string\"}}}}]}},"				\
	"\"304\":{\"description\":\"by id, to admins: If-None-Match named "	\
	"the current ETag\"}},\"parameters\":[{\"name\":\"id\",\"in\":"	\
	"\"path\",\"required\":true,\"description\":\"the partner's id (a "	\
	"UUID) or its name (never a UUID)\",\"schema\":{\"type\":"		\
	"\"string\",\"minLength\":1}}],\"problems\":{\"404\":\"no such "	\
	"partner (by name or to anyone but admins: no such active "		\
	"partner)\",\"401\":\"by id, a token that is not valid (none is "	\
	"needed)\"}}"
/* clang-format on */

static const struct route partners_routes[] = {
	{ HTTP_GET, "/v1/partners/{id}", partners_public_get, ROUTE_PUBLIC,
	    "a partner: {id} a UUID reads it by id (admins: the partner as "
	    "declared; anyone else: its public branding), anything else is a "
	    "name (anyone: the active partner's public branding and features)",
	    NULL, API_PARTNER_GET },
	{ HTTP_POST, "/v1/partner-access/validate-code",
	    partner_access_validate,
	    ROUTE_JSON_BODY | ROUTE_SMALL_BODY | ROUTE_PUBLIC,
	    "check a code (public): the features it grants, or why not", NULL,
	    api_validate },
	{ HTTP_POST, "/v1/partner-access/assign", partner_access_assign,
	    ROUTE_JSON_BODY, "redeem a code for the caller", NULL, api_assign },
	{ HTTP_GET, "/v1/me/partner-access", partner_access_mine, 0,
	    "the caller's partner accesses", NULL,
	    "{\"list\":\"partner_access\"}" },
};

static const struct job_kind partners_jobs[] = {
	{ "partners.prune_guesses", partners_prune_guesses, 0 },
};

static const struct job_schedule partners_schedules[] = {
	{ "partners.prune_guesses", "23 * * * *", "partners.prune_guesses",
	    NULL },
};

static const char *const register_members[] = { "partner_access_code",
	"partner_id", "partner", NULL };

static const struct registration_hook register_hook = {
	register_members,
	partners_register_check,
	partners_register_apply,
};

static const struct field partner_fields[] = {
	{ "name", FIELD_TEXT, FIELD_REQUIRED | FIELD_FILTER | FIELD_SORT, 1,
	    PARTNER_NAME_MAX, NULL, NULL, NULL, 0,
	    "unique without regard to case (Unicode simple case folding), "
	    "never a UUID; GET /v1/partners/{id} by name finds it" },
	/* The name folded (partners_name_key), set by the hooks: unique. */
	{ "name_key", FIELD_TEXT, FIELD_READONLY | FIELD_HIDDEN, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
	{ "is_active", FIELD_BOOL, FIELD_FILTER, 0, 0, NULL, "true", NULL, 0,
	    "false deactivates the partner, its admins and its accesses" },
	{ "logo_url", FIELD_URL, FIELD_NULLABLE, 0, PARTNER_URL_MAX, NULL, NULL,
	    NULL, 0, "http(s) URL of the logo" },
	{ "logo_alt", FIELD_TEXT, FIELD_NULLABLE, 0, 200, NULL, NULL, NULL, 0,
	    "text alternative of the logo" },
	{ "website", FIELD_URL, FIELD_NULLABLE, 0, PARTNER_URL_MAX, NULL, NULL,
	    NULL, 0, "http(s) URL of the partner's website" },
	{ "footer_line1", FIELD_TEXT, FIELD_NULLABLE, 0, 500, NULL, NULL, NULL,
	    0, "first footer line" },
	{ "footer_line2", FIELD_TEXT, FIELD_NULLABLE, 0, 500, NULL, NULL, NULL,
	    0, "second footer line" },
	{ "brand_colour", FIELD_COLOUR, FIELD_NULLABLE, 0, 0, NULL, NULL, NULL,
	    0,
	    "#rrggbb: the band and buttons of the partner's public page; "
	    "null: the site's own colours",
	    .since = 53 },
	{ "social_links", FIELD_URL_MAP, 0, 0, PARTNER_SOCIAL_MAX, NULL, "{}",
	    NULL, 0,
	    "object of network name ([a-z0-9_], up to 32) to http(s) URL, "
	    "at most 16" },
	{ "created_at", FIELD_TIME, FIELD_READONLY | FIELD_SORT, 0, 0, NULL,
	    NULL, NULL, 0, NULL },
	{ "updated_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
	{ "created_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
	{ "updated_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
};

const struct resource partners_resource = {
	.name = "partners",
	.path = "/v1/partners",
	.table = "partners",
	.fields = partner_fields,
	.nfields = NELEM(partner_fields),
	.actions =
	    (1 << ACTION_LIST) | (1 << ACTION_CREATE) | (1 << ACTION_UPDATE),
	.doc =
	    "Partner organisations that grant their members extra "
	    "features, with their branding. Admins manage them; a partner is "
	    "never deleted: is_active false deactivates it with its admins "
	    "and accesses (made active again, it does not reactivate them). "
	    "GET /v1/partners/{id} reads one by id (admins) or, given a name, "
	    "is the public branding.",
	.before_create = partners_before_create,
	.before_update = partners_before_update,
	.after_write = partners_after_write,
	/* 503: deactivating waits for migration 0056 (partner_deactivate). */
	.codes = "{\"409\":[\"NAME_TAKEN\"],\"503\":[\"MIGRATIONS_PENDING\"]}",
};

static const struct field feature_fields[] = {
	{ "name", FIELD_TEXT, FIELD_REQUIRED | FIELD_FILTER | FIELD_SORT, 1, 64,
	    NULL, NULL, NULL, 0, "unique; lower case letters, digits and _" },
	{ "description", FIELD_TEXT, 0, 0, 500, NULL, "\"\"", NULL, 0,
	    "what the feature gives" },
	{ "created_at", FIELD_TIME, FIELD_READONLY | FIELD_SORT, 0, 0, NULL,
	    NULL, NULL, 0, NULL },
	{ "updated_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
	{ "created_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
	{ "updated_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
};

const struct resource features_resource = {
	.name = "features",
	.path = "/v1/features",
	.table = "features",
	.fields = feature_fields,
	.nfields = NELEM(feature_fields),
	.doc = "Features a partner may switch on (automatic_access_code, "
	       "therapy and live_chat are seeded).",
	.before_create = features_before_write,
	.before_update = features_before_write,
};

static const struct field partner_feature_fields[] = {
	{ "partner_id", FIELD_UUID,
	    FIELD_REQUIRED | FIELD_CREATE_ONLY | FIELD_FILTER, 0, 0, NULL, NULL,
	    "partners", 0, "the partner" },
	{ "feature_id", FIELD_UUID,
	    FIELD_REQUIRED | FIELD_CREATE_ONLY | FIELD_FILTER, 0, 0, NULL, NULL,
	    "features", 0, "the feature" },
	{ "is_active", FIELD_BOOL, FIELD_FILTER, 0, 0, NULL, "true", NULL, 0,
	    "switched on" },
	{ "created_at", FIELD_TIME, FIELD_READONLY | FIELD_SORT, 0, 0, NULL,
	    NULL, NULL, 0, NULL },
	{ "updated_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
	{ "created_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
	{ "updated_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
};

const struct resource partner_features_resource = {
	.name = "partner_features",
	.path = "/v1/partner-features",
	.table = "partner_features",
	.fields = partner_feature_fields,
	.nfields = NELEM(partner_feature_fields),
	.doc = "A feature switched on for a partner; one row per partner and "
	       "feature (409 for a second).",
};

static const struct field partner_admin_fields[] = {
	{ "user_id", FIELD_UUID,
	    FIELD_REQUIRED | FIELD_CREATE_ONLY | FIELD_FILTER, 0, 0, NULL, NULL,
	    "users", 0, "a user with role partner_admin; one partner each" },
	{ "partner_id", FIELD_UUID,
	    FIELD_REQUIRED | FIELD_CREATE_ONLY | FIELD_FILTER, 0, 0, NULL, NULL,
	    "partners", 0, "the partner" },
	{ "is_active", FIELD_BOOL, FIELD_FILTER, 0, 0, NULL, "true", NULL, 0,
	    "an inactive partner admin can do nothing for the partner" },
	{ "created_at", FIELD_TIME, FIELD_READONLY | FIELD_SORT, 0, 0, NULL,
	    NULL, NULL, 0, NULL },
	{ "updated_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
	{ "created_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
	{ "updated_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
};

const struct resource partner_admins_resource = {
	.name = "partner_admins",
	.path = "/v1/partner-admins",
	.table = "partner_admins",
	.fields = partner_admin_fields,
	.nfields = NELEM(partner_admin_fields),
	.owner_column = "user_id",
	.doc = "Users (role partner_admin) who administer a partner: they "
	       "create and manage that partner's accesses, and no other's.",
	.before_create = admins_before_create,
	.after_write = admins_after_write,
};

static const struct resource *const partners_resources[] = {
	&partners_resource,
	&features_resource,
	&partner_features_resource,
	&partner_admins_resource,
	&partner_access_resource,
};

const struct module partners_module = {
	"partners",
	partners_routes,
	NELEM(partners_routes),
	partners_jobs,
	NELEM(partners_jobs),
	partners_schedules,
	NELEM(partners_schedules),
	partners_resources,
	NELEM(partners_resources),
	partners_init,
	partners_seed,
};

static int
partners_init(struct store *db)
{
	int rc;

	hooks_registration_set(&register_hook);
	if ((rc = partners_profile_init()) != OK)
		return (rc);
	/* Partners from before migration 0014 get their name key now. */
	return (partners_name_keys_fill(db));
}

/* Shared helpers */

int
partners_admin_of(struct tx *tx, const char *user_id, char *out)
{
	struct stmt *st;
	int	     rc;

	/* One at most (partner_admins.user_id is unique); ordered all the
	 * same, so that the answer never depends on the plan. */
	st = store_prepare(
	    tx, PARTNERS_ADMINISTERED " ORDER BY pa.partner_id LIMIT 1");
	store_bind_text(st, 1, user_id);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		strlcpy_cb(out, store_col_text(st, 0), UUID_STR_LEN);
		rc = OK;
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	}
	store_finalize(st);
	return (rc);
}

int
partners_find(struct tx *tx, const char *id_or_name, char *id_out,
    char *name_out, int *active)
{
	struct stmt *st;
	char	     key[PARTNER_NAME_KEY_SIZE];
	int	     rc;

	if (uuid_valid(id_or_name)) {
		st = store_prepare(tx,
		    "SELECT id, name, is_active FROM "
		    "partners WHERE id = ?");
		store_bind_text(st, 1, id_or_name);
	} else {
		if (partners_name_key(id_or_name, key) != OK)
			return (ERR_NOT_FOUND);
		st = store_prepare(tx,
		    "SELECT id, name, is_active FROM "
		    "partners WHERE name_key = ?");
		store_bind_text(st, 1, key);
	}
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		strlcpy_cb(id_out, store_col_text(st, 0), UUID_STR_LEN);
		if (name_out != NULL)
			strlcpy_cb(name_out, store_col_text(st, 1),
			    PARTNER_NAME_MAX * 4 + 1);
		*active = store_col_int64(st, 2) != 0;
		rc = OK;
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	}
	store_finalize(st);
	return (rc);
}

int
partners_feature_on(struct tx *tx, const char *partner_id, const char *feature)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx,
	    "SELECT 1 FROM partner_features pf JOIN "
	    "features f ON f.id = pf.feature_id WHERE pf.partner_id = ? AND "
	    "f.name = ? AND pf.is_active = 1");
	store_bind_text(st, 1, partner_id);
	store_bind_text(st, 2, feature);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_ROW ? OK : rc == STORE_DONE ? ERR_NOT_FOUND : rc);
}

/* Partners */

/* What the field declarations cannot say: the name's form (links are
 * FIELD_URL and FIELD_URL_MAP fields, checked by the declaration). */
static void
partner_check(json_t *body, json_t *errs)
{
	const char *s;
	size_t	    i, n;

	if ((s = json_string_value(json_object_get(body, "name"))) != NULL) {
		n = strlen(s);
		for (i = 0; i < n; i++)
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f ||
			    s[i] == '/')
				break;
		if (i < n || n == 0 || isspace((unsigned char)s[0]) ||
		    isspace((unsigned char)s[n - 1]))
			partners_err(errs, "name", "invalid_format",
			    "no "
			    "control characters, no '/', no blanks around it");
		/* GET /v1/partners/{id} takes a UUID for an id. */
		else if (uuid_valid(s))
			partners_err(errs, "name", "invalid_format",
			    "a name that reads as a UUID would be taken for "
			    "the id of a partner");
	}
}

static int
partners_before_create(struct resource_ctx *ctx, json_t *body)
{
	json_t *errs = json_array();
	int	rc;

	partner_check(body, errs);
	if ((rc = partners_errs_answer(ctx->req, errs, "The partner")) != OK)
		return (rc);
	return (partners_name_key_set(ctx, body));
}

static int
partners_before_update(struct resource_ctx *ctx, json_t *body)
{
	json_t *errs = json_array();
	int	rc;

	partner_check(body, errs);
	if ((rc = partners_errs_answer(ctx->req, errs, "The partner")) != OK)
		return (rc);
	return (partners_name_key_set(ctx, body));
}

/*
 * Deactivating a partner deactivates its admins and its accesses. Its
 * members' chat profiles change with that, and with its name.
 */
static int
partners_after_write(struct resource_ctx *ctx, int action, json_t *row)
{
	const char *name, *was;
	int	    renamed;

	if (action != ACTION_UPDATE || ctx->id == NULL)
		return (OK);
	name = json_string_value(json_object_get(row, "name"));
	was = json_string_value(json_object_get(ctx->old, "name"));
	renamed = name != NULL && was != NULL && strcmp(name, was) != 0;
	if (!json_is_false(json_object_get(row, "is_active")) ||
	    !json_is_true(json_object_get(ctx->old, "is_active"))) {
		/* Renamed or reactivated: course inclusion goes by name and
		 * by the partner being active. */
		if (!renamed &&
		    json_equal(json_object_get(row, "is_active"),
			json_object_get(ctx->old, "is_active")))
			return (OK);
		return (hooks_changed(ctx->tx,
		    renamed ? CHANGE_PARTNER : CHANGE_PARTNER_GRANTS, ctx->id));
	}
	return (partner_deactivate(ctx, ctx->id));
}

/*
 * An active partner admin is not a public user (PARTNERS_PUBLIC_USER):
 * made one, no longer one (deactivated, deleted) or one again, the
 * person's chat access on live courses may change; the change listeners
 * are told.
 */
static int
admins_after_write(struct resource_ctx *ctx, int action, json_t *row)
{
	const char *user;

	if (action == ACTION_UPDATE &&
	    json_equal(json_object_get(row, "is_active"),
		json_object_get(ctx->old, "is_active")))
		return (OK);
	user = json_string_value(json_object_get(
	    action == ACTION_DELETE ? ctx->old : row, "user_id"));
	return (hooks_changed(ctx->tx, CHANGE_PERSON, user));
}

/* The active admins of partner id, in user id order (to tell of each
 * once they are deactivated). */
static int
partner_admin_users(struct tx *tx, const char *id, json_t *users)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx,
	    "SELECT DISTINCT user_id FROM partner_admins WHERE partner_id = ? "
	    "AND is_active = 1 ORDER BY user_id");
	store_bind_text(st, 1, id);
	while ((rc = store_step(st)) == STORE_ROW)
		if (json_array_append_new(
			users, json_string(store_col_text(st, 0))) != 0) {
			rc = ERR_NOMEM;
			break;
		}
	store_finalize(st);
	return (rc == STORE_DONE  ? OK
		: rc == ERR_NOMEM ? ERR_NOMEM
		: rc == ERR_BUSY  ? ERR_BUSY
				  : ERR_DB);
}

static int
partner_deactivate(struct resource_ctx *ctx, const char *id)
{
	static const char *const sql[] = {
		"UPDATE partner_admins SET is_active = 0, updated_at = ?, "
		"updated_by = ? WHERE partner_id = ? AND is_active = 1",
		/* deactivated_at: a partner's reports count an access for
		 * the time it was active (0056). */
		"UPDATE partner_access SET is_active = 0, updated_at = ?, "
		"updated_by = ?, deactivated_at = ? WHERE partner_id = ? AND "
		"is_active = 1",
	};
	struct stmt *st;
	json_t	    *changes;
	json_t	    *admins;
	int64_t	     n[2], now = time_now_ms();
	int	     i, rc, there;
	size_t	     k;

	/* 0056 pending (a rolling upgrade, or undone): the statement would
	 * fail (500); it waits instead, told as the family routes tell it.
	 * Asked of the catalog: a failed statement would spend a PostgreSQL
	 * transaction. */
	if ((rc = store_column_exists(
		 ctx->tx, "partner_access", "deactivated_at", &there)) != OK)
		return (rc);
	if (!there) {
		if (ctx->req != NULL && !ctx->req->responded)
			http_problem(ctx->req, ERR_UNAVAILABLE,
			    "MIGRATIONS_PENDING",
			    "A partner cannot be deactivated until migration "
			    "0056 is applied: run `carebase migrate`.");
		return (ERR_UNAVAILABLE);
	}
	if ((admins = json_array()) == NULL)
		return (ERR_NOMEM);
	if ((rc = partner_admin_users(ctx->tx, id, admins)) != OK) {
		json_decref(admins);
		return (rc);
	}
	for (i = 0; i < 2; i++) {
		st = store_prepare(ctx->tx, sql[i]);
		store_bind_int64(st, 1, now);
		store_bind_text(
		    st, 2, ctx->who != NULL ? ctx->who->user_id : NULL);
		if (i == 1)
			store_bind_int64(st, 3, now);
		store_bind_text(st, i == 1 ? 4 : 3, id);
		rc = store_step(st);
		n[i] = store_changes(st);
		store_finalize(st);
		if (rc != STORE_DONE) {
			json_decref(admins);
			return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
		}
	}
	changes = json_pack("{s:I,s:I}", "partner_admins_deactivated",
	    (json_int_t)n[0], "partner_access_deactivated", (json_int_t)n[1]);
	rc = audit_append(ctx->tx, ctx->who, ctx->req, "partners.deactivate",
	    "partners", id, changes);
	json_decref(changes);
	if (rc == OK)
		rc = hooks_changed(ctx->tx, CHANGE_PARTNER, id);
	/* Its admins deactivated: public users again, unless they have an
	 * access. */
	for (k = 0; rc == OK && k < json_array_size(admins); k++)
		rc = hooks_changed(ctx->tx, CHANGE_PERSON,
		    json_string_value(json_array_get(admins, k)));
	json_decref(admins);
	return (rc);
}

/*
 * GET /v1/partners/{id}: public. {id} a UUID is the partner's id: callers
 * with partners:read:all (admins) read the partner as declared, with its
 * ETag, active or not; anyone else its public branding while it is
 * active. Anything else is a name (found without regard to case): the
 * active partner's public branding, whoever asks. Names never read as a
 * UUID (partner_check), so the two never meet.
 */

/*
 * The branding of the active partner whose name key is key, or whose id
 * is id (one of them NULL), as the declaration reads it: links the rule
 * of resource_url_ok refuses are left out.
 */
static int
branding_tx(struct tx *tx, const char *key, const char *by_id, json_t **out)
{
	static const char *const shown[] = { "name", "logo_url", "logo_alt",
		"website", "footer_line1", "footer_line2", "social_links",
		"brand_colour", NULL };
	struct stmt		*st;
	json_t			*row = NULL, *features;
	char			 id[UUID_STR_LEN];
	size_t			 i;
	int			 rc;

	*out = NULL;
	st = store_prepare(tx,
	    key != NULL ? "SELECT id FROM partners WHERE name_key = ? AND "
			  "is_active = 1"
			: "SELECT id FROM partners WHERE id = ? AND "
			  "is_active = 1");
	store_bind_text(st, 1, key != NULL ? key : by_id);
	if ((rc = store_step(st)) == STORE_ROW)
		strlcpy_cb(id, store_col_text(st, 0), sizeof(id));
	store_finalize(st);
	if (rc != STORE_ROW)
		return (rc == STORE_DONE ? ERR_NOT_FOUND : rc);
	if ((rc = resource_read(tx, &partners_resource, id, SCOPE_ALL, &row)) !=
	    OK)
		return (rc);
	if ((*out = json_object()) == NULL) {
		json_decref(row);
		return (ERR_NOMEM);
	}
	for (i = 0; shown[i] != NULL; i++)
		json_object_set(*out, shown[i], json_object_get(row, shown[i]));
	json_decref(row);
	st = store_prepare(tx,
	    "SELECT f.name FROM partner_features pf JOIN "
	    "features f ON f.id = pf.feature_id WHERE pf.partner_id = ? AND "
	    "pf.is_active = 1 ORDER BY f.name");
	store_bind_text(st, 1, id);
	features = json_array();
	while ((rc = store_step(st)) == STORE_ROW)
		json_array_append_new(
		    features, json_string(store_col_text(st, 0)));
	store_finalize(st);
	json_object_set_new(*out, "features", features);
	return (rc == STORE_DONE ? OK : rc);
}

void
partners_public_get(struct request *req)
{
	struct tx  *tx = NULL;
	const char *ref = http_param(req, "id");
	json_t	   *out = NULL;
	char	    key[PARTNER_NAME_KEY_SIZE];
	int	    rc, by_id = ref != NULL && uuid_valid(ref);

	if (ref == NULL || (!by_id && partners_name_key(ref, key) != OK)) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such partner.");
		return;
	}
	/* By id, a token is used when sent (one not valid answers 401, as
	 * on any public read of a row; by name it is never looked at):
	 * admins read the partner itself. */
	if (by_id && (rc = http_authenticate(req)) != OK) {
		/* A session that could not be read (the database failed or
		 * was lost) is no token refused: that failure's answer, as
		 * handlers.c's begin() gives it, not a 401 to sign in. */
		if (err_http_status(rc) < 500)
			rc = ERR_UNAUTHORIZED;
		if (!req->responded)
			http_problem(req, rc, NULL,
			    rc == ERR_UNAUTHORIZED
				? "The credentials were not accepted."
				: "The credentials could not be checked now.");
		return;
	}
	if (by_id && req->caller != NULL &&
	    resource_scope(req->db, req->caller, "partners", "read") ==
		SCOPE_ALL) {
		resource_read_answer(req, &partners_resource, ref);
		return;
	}
	if ((rc = store_tx_begin(req->db, STORE_TX_READ, &tx)) == OK)
		rc = branding_tx(
		    tx, by_id ? NULL : key, by_id ? ref : NULL, &out);
	store_tx_rollback(tx);
	if (rc != OK) {
		json_decref(out);
		http_problem(req, rc, NULL,
		    rc == ERR_NOT_FOUND ? "No such partner."
					: "The partner cannot be read.");
		return;
	}
	http_json(req, 200, out);
}

/* Features */

static int
features_before_write(struct resource_ctx *ctx, json_t *body)
{
	const char *s;
	size_t	    i;

	if ((s = json_string_value(json_object_get(body, "name"))) == NULL)
		return (OK);
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
			(s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			break;
	if (s[i] == '\0')
		return (OK);
	http_problem_ext(ctx->req, ERR_INVALID, NULL,
	    json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "field", "name", "code",
		"invalid_format", "detail", "lower case letters, digits and _"),
	    "The feature is not valid.");
	return (ERR_INVALID);
}

/* Partner admins */

/* The user must have the partner_admin role (and not be erased). */
static int
admins_before_create(struct resource_ctx *ctx, json_t *body)
{
	struct stmt *st;
	int	     rc, ok = 0;

	st = store_prepare(ctx->tx,
	    "SELECT role FROM users WHERE id = ? AND "
	    "deleted_at IS NULL");
	store_bind_text(
	    st, 1, json_string_value(json_object_get(body, "user_id")));
	if ((rc = store_step(st)) == STORE_ROW)
		ok = strcmp(store_col_text(st, 0), "partner_admin") == 0;
	store_finalize(st);
	if (rc != STORE_ROW && rc != STORE_DONE)
		return (rc);
	if (ok)
		return (OK);
	http_problem_ext(ctx->req, ERR_INVALID, NULL,
	    json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "field", "user_id",
		"code", "not_partner_admin", "detail",
		"the user must have the role "
		"partner_admin"),
	    "The partner admin is not valid.");
	return (ERR_INVALID);
}
