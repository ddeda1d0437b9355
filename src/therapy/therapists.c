/*
 * Therapists: a user with a therapist profile. Admins create them (the
 * user must have the therapist role); a therapist reads and edits their
 * own profile, but not is_active (staff only). Clients see active
 * therapists' public fields (id, bio, specialties, credentials) through
 * the directory, never calendar integration or meta.
 */
#include <string.h>

/* The directory lists only therapists whose account is live: not
 * deactivated, not erased. */
/* clang-format off */
#define LIVE_ACCOUNT	"user_id IN (SELECT id FROM users WHERE is_active = 1 " \
			"AND deleted_at IS NULL)"
/* clang-format on */

#include <jansson.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "resource/resource.h"
#include "store/store.h"
#include "therapy/therapy_int.h"

#define DIRECTORY_MAX  200
#define PUBLIC_COLUMNS "id, bio, specialties, credentials"
#define STAFF_OWN      (SEE_ALL | SEE_OWN)

static int     therapists_before_create(struct resource_ctx *, json_t *);
static int     therapists_before_update(struct resource_ctx *, json_t *);
static int     calendar_check(struct request *, json_t *);
static json_t *public_row(struct stmt *);

static const struct field therapist_fields[] = {
	{ "user_id", FIELD_UUID,
	    FIELD_REQUIRED | FIELD_CREATE_ONLY | FIELD_FILTER, 0, 0, NULL, NULL,
	    "users", 0, "the therapist's account (role therapist)" },
	{ "bio", FIELD_TEXT, FIELD_REQUIRED, 1, THERAPY_TEXT_MAX, NULL, NULL,
	    NULL, 0, "professional biography" },
	{ "specialties", FIELD_TEXT_LIST, 0, 0, 50, NULL, "[]", NULL, 0,
	    "areas of specialisation" },
	{ "credentials", FIELD_TEXT_LIST, 0, 0, 50, NULL, "[]", NULL, 0,
	    "professional credentials and certifications" },
	{ "is_active", FIELD_BOOL, FIELD_STAFF_WRITE | FIELD_FILTER, 0, 0, NULL,
	    "true", NULL, 0, "takes sessions; staff only" },
	{ "calendar_integration", FIELD_JSON, FIELD_NULLABLE, 0, 0, NULL, NULL,
	    NULL, STAFF_OWN,
	    "{\"provider\": \"google\", \"calendar_id\": \"...\"} or null" },
	{ "meta", FIELD_JSON, 0, 0, 0, NULL, "{}", NULL, STAFF_OWN,
	    "additional metadata" },
	{ "created_at", FIELD_TIME, FIELD_READONLY | FIELD_SORT, 0, 0, NULL,
	    NULL, NULL, 0, NULL },
	{ "updated_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
	{ "created_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
	{ "updated_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
};

const struct resource therapists_resource = {
	.name = "therapists",
	.path = "/v1/therapists",
	.table = "therapists",
	.fields = therapist_fields,
	.nfields = NELEM(therapist_fields),
	.owner_column = "user_id",
	.doc = "Therapist profiles. Admins create them for users with the "
	       "therapist role; a therapist edits their own (not is_active). "
	       "Clients use /v1/therapist-directory, which shows active "
	       "therapists' public fields only.",
	.before_create = therapists_before_create,
	.before_update = therapists_before_update,
};

static int
calendar_check(struct request *req, json_t *body)
{
	json_t	   *c = json_object_get(body, "calendar_integration"), *errs;
	const char *k;
	json_t	   *v;

	if (c == NULL || json_is_null(c))
		return (OK);
	errs = json_array();
	if (!json_is_object(c) ||
	    !json_is_string(json_object_get(c, "provider")) ||
	    !json_is_string(json_object_get(c, "calendar_id")))
		therapy_err(errs, "calendar_integration", "invalid",
		    "must be {\"provider\": string, \"calendar_id\": string}");
	else
		json_object_foreach(c, k, v)
			if (strcmp(k, "provider") != 0 &&
			    strcmp(k, "calendar_id") != 0) {
				therapy_err(errs, "calendar_integration",
				    "unknown_field",
				    "takes only provider and "
				    "calendar_id");
				break;
			}
	return (therapy_errs_answer(req, errs, "The therapist is not valid"));
}

/* The user must be live and have the therapist role. */
static int
therapists_before_create(struct resource_ctx *ctx, json_t *body)
{
	struct stmt *st;
	const char  *uid = json_string_value(json_object_get(body, "user_id"));
	int	     rc;

	if ((rc = calendar_check(ctx->req, body)) != OK)
		return (rc);
	st = store_prepare(ctx->tx,
	    "SELECT 1 FROM users WHERE id = ? AND "
	    "role = 'therapist' AND deleted_at IS NULL");
	store_bind_text(st, 1, uid);
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_ROW)
		return (OK);
	if (rc != STORE_DONE)
		return (rc);
	http_problem_ext(ctx->req, ERR_INVALID, NULL,
	    json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "field", "user_id",
		"code", "not_therapist", "detail",
		"names no live user with the therapist "
		"role"),
	    "The therapist is not valid.");
	return (ERR_INVALID);
}

static int
therapists_before_update(struct resource_ctx *ctx, json_t *body)
{
	return (calendar_check(ctx->req, body));
}

static json_t *
public_row(struct stmt *st)
{
	json_t *s = json_loads(store_col_text(st, 2), 0, NULL);
	json_t *c = json_loads(store_col_text(st, 3), 0, NULL);

	return (json_pack("{s:s,s:s,s:o,s:o}", "id", store_col_text(st, 0),
	    "bio", store_col_text(st, 1), "specialties", s ? s : json_array(),
	    "credentials", c ? c : json_array()));
}

/* Any signed-in user: active therapists, public fields, paged by id. */
void
therapy_directory_list(struct request *req)
{
	struct tx	    *tx = NULL;
	struct stmt	    *st;
	struct resource_page pg;
	json_t		    *data = NULL;
	int		     rc, step;

	if (resource_page_query(req, DIRECTORY_MAX, PAGE_ID, &pg) != OK)
		return;
	if ((rc = store_tx_begin(req->db, STORE_TX_READ, &tx)) != OK)
		goto out;
	st = store_prepare(tx,
	    "SELECT " PUBLIC_COLUMNS " FROM therapists "
	    "WHERE is_active = 1 AND " LIVE_ACCOUNT " AND id > ? ORDER BY id "
	    "LIMIT ?");
	store_bind_text(st, 1, pg.after);
	store_bind_int64(st, 2, pg.limit + 1);
	data = json_array();
	while ((step = store_step(st)) == STORE_ROW &&
	    json_array_size(data) <= (size_t)pg.limit)
		json_array_append_new(data, public_row(st));
	rc = step == STORE_ROW || step == STORE_DONE ? OK : step;
	store_finalize(st);
out:
	store_tx_rollback(tx);
	if (rc != OK) {
		json_decref(data);
		http_problem(req, rc, NULL, "The directory cannot be read.");
		return;
	}
	http_json(req, 200, resource_page_json(&pg, data));
}

void
therapy_directory_get(struct request *req)
{
	struct tx   *tx = NULL;
	struct stmt *st;
	const char  *id = http_param(req, "id");
	json_t	    *row = NULL;
	int	     rc;

	if (id == NULL || !uuid_valid(id)) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such therapist.");
		return;
	}
	if ((rc = store_tx_begin(req->db, STORE_TX_READ, &tx)) != OK)
		goto out;
	st = store_prepare(tx,
	    "SELECT " PUBLIC_COLUMNS " FROM therapists "
	    "WHERE id = ? AND is_active = 1 AND " LIVE_ACCOUNT);
	store_bind_text(st, 1, id);
	rc = store_step(st);
	if (rc == STORE_ROW) {
		row = public_row(st);
		rc = OK;
	} else if (rc == STORE_DONE)
		rc = ERR_NOT_FOUND;
	store_finalize(st);
out:
	store_tx_rollback(tx);
	if (rc != OK)
		http_problem(req, rc, NULL,
		    rc == ERR_NOT_FOUND ? "No such therapist."
					: "The directory cannot be read.");
	else
		http_json(req, 200, row);
}
