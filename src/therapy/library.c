/*
 * Resources (a therapist's worksheets, links, recordings) and their
 * assignments to clients.
 *
 * A resource's owner_id is its therapist's user, so a therapist manages
 * their own through the resource layer (own scope); admins name any
 * therapist_id. Clients do not list resources: GET /v1/resource-library
 * shows them the public ones and those assigned to them.
 *
 * Assignments belong to the client (owner client_id): the client and
 * their guardians and practitioners see them. A therapist assigns their
 * own or public resources to their clients.
 *
 *	assigned --open (by the client)--> viewed --complete--> completed
 *
 * Completing an assignment that was never opened is refused (409).
 *
 * POST /v1/resource-assignments/{id}/open answers the assignment with its
 * resource; when the client opens it, an assigned one becomes viewed.
 */
#include <string.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "store/store.h"
#include "therapy/therapy_int.h"

#define LIBRARY_MAX 200
/* clang-format off */
#define RES_PUBLIC_COLUMNS	"r.id, r.therapist_id, r.title, r.description, " \
				"r.type, r.url, r.is_public, r.tags"
/* clang-format on */

struct aaction {
	struct request	 *req;
	struct principal *who;
	const char	 *id;
	int		  completing;
	enum scope	  update;
	enum scope	  read;
	json_t		 *row;
};

static int     resources_before_create(struct resource_ctx *, json_t *);
static int     assignments_before_create(struct resource_ctx *, json_t *);
static json_t *resource_row(struct stmt *, int);
static int     assignment_tx(struct tx *, void *);
static void    assignment_action(struct request *, int);

static const char *const res_types[] = { "pdf", "video", "audio", "link",
	"image", "text", "other", NULL };
static const char *const assign_statuses[] = { "assigned", "viewed",
	"completed", NULL };

static const struct field resource_fields[] = {
	{ "therapist_id", FIELD_UUID, FIELD_CREATE_ONLY | FIELD_FILTER, 0, 0,
	    NULL, NULL, "therapists", 0,
	    "the therapist; a therapist's own when not given" },
	{ "owner_id", FIELD_UUID, FIELD_READONLY, 0, 0, NULL, NULL, NULL,
	    SEE_ALL | SEE_OWN, "the therapist's user" },
	{ "title", FIELD_TEXT, FIELD_REQUIRED | FIELD_SORT, 1, 200, NULL, NULL,
	    NULL, 0, "title" },
	{ "description", FIELD_TEXT, FIELD_NULLABLE, 0, THERAPY_TEXT_MAX, NULL,
	    NULL, NULL, 0, "description" },
	{ "type", FIELD_ENUM, FIELD_REQUIRED | FIELD_FILTER, 0, 0, res_types,
	    NULL, NULL, 0, "pdf, video, audio, link, image, text or other" },
	{ "url", FIELD_URL, FIELD_REQUIRED | FIELD_URL_RELATIVE, 0, 0, NULL,
	    NULL, NULL, 0,
	    "where it is: an http(s) URL, or a path on this site (/...)" },
	{ "is_public", FIELD_BOOL, FIELD_FILTER, 0, 0, NULL, "false", NULL, 0,
	    "every client may see it" },
	{ "tags", FIELD_TEXT_LIST, 0, 0, 50, NULL, "[]", NULL, 0,
	    "categorisation tags" },
	{ "meta", FIELD_JSON, 0, 0, 0, NULL, "{}", NULL, 0,
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

const struct resource resources_resource = {
	.name = "resources",
	.path = "/v1/resources",
	.table = "resources",
	.fields = resource_fields,
	.nfields = NELEM(resource_fields),
	.owner_column = "owner_id",
	.doc = "A therapist's resources: documents, links, recordings. "
	       "Clients see public ones and those assigned to them through "
	       "/v1/resource-library.",
	.before_create = resources_before_create,
};

static const struct field assignment_fields[] = {
	{ "resource_id", FIELD_UUID,
	    FIELD_REQUIRED | FIELD_CREATE_ONLY | FIELD_FILTER, 0, 0, NULL, NULL,
	    "resources", 0, "the resource" },
	{ "client_id", FIELD_UUID,
	    FIELD_REQUIRED | FIELD_CREATE_ONLY | FIELD_FILTER, 0, 0, NULL, NULL,
	    "users", 0, "the client" },
	{ "assigned_at", FIELD_TIME, FIELD_READONLY | FIELD_SORT, 0, 0, NULL,
	    NULL, NULL, 0, "when it was assigned" },
	{ "due_date", FIELD_TIME, FIELD_NULLABLE | FIELD_SORT, 0, 0, NULL, NULL,
	    NULL, 0, "when it is due, if ever" },
	{ "status", FIELD_ENUM, FIELD_READONLY | FIELD_FILTER, 0, 0,
	    assign_statuses, NULL, NULL, 0,
	    "assigned, viewed (opened by the client), completed" },
	{ "notes", FIELD_TEXT, FIELD_NULLABLE | FIELD_PERSONAL | FIELD_HEALTH,
	    0, THERAPY_NOTES_MAX, NULL, NULL, NULL, 0,
	    "notes for the client (health data: sealed, reads audited)" },
	{ "viewed_at", FIELD_TIME, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, 0, NULL },
	{ "completed_at", FIELD_TIME, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, 0, NULL },
	{ "meta", FIELD_JSON, 0, 0, 0, NULL, "{}", NULL, 0,
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

const struct resource resource_assignments_resource = {
	.name = "resource_assignments",
	.path = "/v1/resource-assignments",
	.table = "resource_assignments",
	.fields = assignment_fields,
	.nfields = NELEM(assignment_fields),
	.owner_column = "client_id",
	.related_kinds = "guardian_of,practitioner_of",
	/* A practitioner sees what they assigned, not a colleague's (even
	 * of the colleague's public resource). */
	.party_kinds = "practitioner_of",
	.party_where = "created_by = ?",
	.doc = "Resources assigned to clients: assigned, then viewed when "
	       "the client opens it (POST .../open), then completed. A "
	       "therapist assigns their own or public resources to their "
	       "clients (an active practitioner_of relationship) and sees the "
	       "assignments they made.",
	.before_create = assignments_before_create,
};

/* Fill therapist_id and owner_id: a therapist's own, or the one named. */
static int
resources_before_create(struct resource_ctx *ctx, json_t *body)
{
	const char *tid =
	    json_string_value(json_object_get(body, "therapist_id"));
	char mine[UUID_STR_LEN], user[UUID_STR_LEN];
	int  rc;

	if (ctx->scope != SCOPE_ALL) {
		if ((rc = therapy_therapist_of(
			 ctx->tx, ctx->who->user_id, mine)) != OK ||
		    (tid != NULL && strcmp(tid, mine) != 0)) {
			if (rc != OK && rc != ERR_NOT_FOUND)
				return (rc);
			http_problem(ctx->req, ERR_FORBIDDEN, NULL,
			    "A "
			    "therapist creates resources of their own.");
			return (ERR_FORBIDDEN);
		}
		tid = mine;
	} else if (tid == NULL) {
		http_problem_ext(ctx->req, ERR_INVALID, NULL,
		    json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "field",
			"therapist_id", "code", "required", "detail",
			"is required"),
		    "The resource is not valid.");
		return (ERR_INVALID);
	}
	if ((rc = therapy_therapist_user(ctx->tx, tid, user, NULL)) != OK)
		return (rc);
	json_object_set_new(body, "therapist_id", json_string(tid));
	json_object_set_new(body, "owner_id", json_string(user));
	return (OK);
}

/* A therapist assigns their own or public resources. */
static int
assignments_before_create(struct resource_ctx *ctx, json_t *body)
{
	struct stmt *st;
	const char  *rid =
	    json_string_value(json_object_get(body, "resource_id"));
	const char *cid = json_string_value(json_object_get(body, "client_id"));
	char	    iso[ISO_TIME_LEN];
	int	    rc;

	if (ctx->scope != SCOPE_ALL) {
		/* Someone else's private resource looks exactly like one
		 * that does not exist. */
		st = store_prepare(ctx->tx,
		    "SELECT 1 FROM resources WHERE "
		    "id = ? AND (owner_id = ? OR is_public = 1)");
		store_bind_text(st, 1, rid);
		store_bind_text(st, 2, ctx->who->user_id);
		rc = store_step(st);
		store_finalize(st);
		if (rc == STORE_DONE) {
			http_problem_ext(ctx->req, ERR_INVALID, NULL,
			    json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "field",
				"resource_id", "code", "not_found", "detail",
				"names no existing resources row"),
			    "The assignment is not valid.");
			return (ERR_INVALID);
		}
		if (rc != STORE_ROW)
			return (rc);
		/* A guardian who is also a therapist assigns nothing to
		 * their child: only to clients. */
		if ((rc = therapy_related(ctx->tx, ctx->who->user_id, cid,
			 "practitioner_of")) != OK) {
			if (rc != ERR_NOT_FOUND)
				return (rc);
			http_problem(ctx->req, ERR_FORBIDDEN, NULL,
			    "Assign "
			    "resources to your clients only.");
			return (ERR_FORBIDDEN);
		}
	}
	if (json_is_string(json_object_get(body, "notes")) &&
	    (rc = therapy_consent(ctx->req, ctx->tx, cid)) != OK)
		return (rc);
	json_object_set_new(body, "assigned_at",
	    json_string(time_format_iso(time_now_ms(), iso)));
	return (OK);
}

static json_t *
resource_row(struct stmt *st, int i)
{
	json_t *tags = json_loads(store_col_text(st, i + 7), 0, NULL);

	/* A link stored before the rule is served only as it allows. */
	return (json_pack("{s:s,s:s,s:s,s:s?,s:s,s:s?,s:b,s:o}", "id",
	    store_col_text(st, i), "therapist_id", store_col_text(st, i + 1),
	    "title", store_col_text(st, i + 2), "description",
	    store_col_text(st, i + 3), "type", store_col_text(st, i + 4), "url",
	    resource_url_safe(store_col_text(st, i + 5), 1, "resources", "url",
		store_col_text(st, i)),
	    "is_public", store_col_int64(st, i + 6) != 0, "tags",
	    tags ? tags : json_array()));
}

/* Public resources and those assigned to the caller, by id. */
void
therapy_library_list(struct request *req)
{
	struct principal    *who;
	struct tx	    *tx = NULL;
	struct stmt	    *st;
	struct resource_page pg;
	json_t		    *data = NULL;
	int		     rc, step;

	who = req->caller;
	if (resource_page_query(req, LIBRARY_MAX, PAGE_ID, &pg) != OK)
		return;
	if ((rc = store_tx_begin(req->db, STORE_TX_READ, &tx)) != OK)
		goto out;
	st = store_prepare(tx,
	    "SELECT " RES_PUBLIC_COLUMNS " FROM resources r "
	    "WHERE (r.is_public = 1 OR r.id IN (SELECT resource_id FROM "
	    "resource_assignments WHERE client_id = ?)) AND r.id > ? "
	    "ORDER BY r.id LIMIT ?");
	store_bind_text(st, 1, who->user_id);
	store_bind_text(st, 2, pg.after);
	store_bind_int64(st, 3, pg.limit + 1);
	data = json_array();
	while ((step = store_step(st)) == STORE_ROW &&
	    json_array_size(data) <= (size_t)pg.limit)
		json_array_append_new(data, resource_row(st, 0));
	rc = step == STORE_ROW || step == STORE_DONE ? OK : step;
	store_finalize(st);
out:
	store_tx_rollback(tx);
	if (rc != OK) {
		json_decref(data);
		http_problem(req, rc, NULL, "The library cannot be read.");
		return;
	}
	http_json(req, 200, resource_page_json(&pg, data));
}

void
therapy_assignment_open(struct request *req)
{
	assignment_action(req, 0);
}

void
therapy_assignment_complete(struct request *req)
{
	assignment_action(req, 1);
}

static void
assignment_action(struct request *req, int completing)
{
	struct aaction a;
	int	       rc;

	memset(&a, 0, sizeof(a));
	a.req = req;
	a.completing = completing;
	a.id = http_param(req, "id");
	a.who = req->caller;
	if (a.id == NULL || !uuid_valid(a.id)) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such row.");
		return;
	}
	a.update =
	    resource_scope(req->db, a.who, "resource_assignments", "update");
	a.read = resource_scope(req->db, a.who, "resource_assignments", "read");
	rc = store_run(req->db, STORE_TX_WRITE, assignment_tx, &a);
	if (rc == OK)
		http_json(req, 200, a.row);
	else {
		json_decref(a.row);
		if (!req->responded)
			http_problem(req, rc, NULL,
			    rc == ERR_NOT_FOUND ? "No such row."
						: "The assignment cannot be "
						  "changed.");
	}
}

/*
 * open: the client, their guardians and practitioners (read scope), or
 * staff; only the client's opening marks it viewed. complete: the
 * client, the resource's therapist or an admin.
 */
static int
assignment_tx(struct tx *tx, void *arg)
{
	struct aaction	   *a = arg;
	struct resource_ctx ctx;
	struct stmt	   *st;
	char		    client[UUID_STR_LEN], owner[UUID_STR_LEN];
	char		    status[16];
	const char	   *to = NULL;
	json_t		   *resource = NULL, *assignment = NULL, *changes;
	int		    rc, is_client, may, moved = 0;

	json_decref(a->row);
	a->row = NULL;
	st = store_prepare(tx,
	    "SELECT a.client_id, a.status, "
	    "COALESCE(a.created_by, ''), " RES_PUBLIC_COLUMNS
	    " FROM resource_assignments a JOIN resources r "
	    "ON r.id = a.resource_id WHERE a.id = ?");
	store_bind_text(st, 1, a->id);
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(client, store_col_text(st, 0), sizeof(client));
		strlcpy_cb(status, store_col_text(st, 1), sizeof(status));
		strlcpy_cb(owner, store_col_text(st, 2), sizeof(owner));
		resource = resource_row(st, 3);
		rc = OK;
	} else if (rc == STORE_DONE)
		rc = ERR_NOT_FOUND;
	store_finalize(st);
	if (rc != OK)
		return (rc);
	memset(&ctx, 0, sizeof(ctx));
	ctx.req = a->req;
	ctx.tx = tx;
	ctx.res = &resource_assignments_resource;
	ctx.who = a->who;
	ctx.scope = a->read;
	/* Within the caller's read scope, or as if it did not exist. */
	if ((rc = resource_load(&ctx, a->id, &assignment)) != OK)
		goto out;
	json_decref(assignment);
	assignment = NULL;
	is_client = strcmp(client, a->who->user_id) == 0;
	may = is_client || a->update == SCOPE_ALL ||
	    strcmp(owner, a->who->user_id) == 0;
	if (a->completing) {
		if (!may) {
			rc = ERR_FORBIDDEN;
			goto out;
		}
		if (strcmp(status, "viewed") != 0) {
			/* assigned, then viewed (opened), then completed */
			http_problem(a->req, ERR_CONFLICT, "INVALID_TRANSITION",
			    strcmp(status, "completed") == 0
				? "The assignment is already completed."
				: "The assignment must be opened before it is "
				  "completed.");
			rc = ERR_CONFLICT;
			goto out;
		}
		to = "completed";
	} else if (is_client && strcmp(status, "assigned") == 0)
		to = "viewed";
	if (to != NULL) {
		st = store_prepare(tx,
		    strcmp(to, "viewed") == 0
			? "UPDATE resource_assignments SET status = ?, "
			  "viewed_at = ?, "
			  "updated_at = ?, updated_by = ? WHERE id = ? AND "
			  "status = ?"
			: "UPDATE resource_assignments SET status = ?, "
			  "completed_at "
			  "= ?, updated_at = ?, updated_by = ? WHERE id = ? "
			  "AND "
			  "status = ?");
		store_bind_text(st, 1, to);
		store_bind_int64(st, 2, time_now_ms());
		store_bind_int64(st, 3, time_now_ms());
		store_bind_text(st, 4, a->who->user_id);
		store_bind_text(st, 5, a->id);
		/* Guarded on the status read above: of concurrent calls,
		 * one moves it and the rest find it moved (409 / no-op). */
		store_bind_text(st, 6, status);
		if ((rc = store_step(st)) == STORE_DONE)
			moved = store_changes(st) == 1;
		store_finalize(st);
		if (rc != STORE_DONE)
			goto out;
		rc = OK;
		if (!moved && a->completing) {
			http_problem(a->req, ERR_CONFLICT, "INVALID_TRANSITION",
			    "The assignment is already completed.");
			rc = ERR_CONFLICT;
			goto out;
		}
		if (!moved)
			to = NULL; /* opened at the same time: once is enough */
	}
	if (to != NULL) {
		changes =
		    json_pack("{s:[s],s:s}", "fields", "status", "status", to);
		rc = audit_append(tx, a->who, a->req,
		    strcmp(to, "viewed") == 0 ? "resource_assignments.view"
					      : "resource_assignments.complete",
		    "resource_assignments", a->id, changes);
		json_decref(changes);
		if (rc != OK)
			goto out;
	}
	if ((rc = resource_load(&ctx, a->id, &assignment)) != OK)
		goto out;
	a->row = a->completing ? json_incref(assignment)
			       : json_pack("{s:O,s:O}", "assignment",
				     assignment, "resource", resource);
	rc = a->row != NULL ? OK : ERR_NOMEM;
out:
	json_decref(assignment);
	json_decref(resource);
	return (rc);
}
