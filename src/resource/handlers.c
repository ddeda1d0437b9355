/*
 * The five handlers of every resource, registered by resource.c. Each
 * finds the caller, their scope for the action, then does its work in
 * one transaction, run by store_run (retried whole when busy).
 *
 * Status for a caller without the permission: anonymous callers get 401;
 * an authenticated caller gets 403 for lists and creates, and 404 for a
 * row they cannot see (exactly as a row that does not exist). A row they
 * can see but not change answers 403. The list and read of a
 * RESOURCE_PUBLIC_READ resource serve anonymous callers too: a row they
 * cannot see answers them 404.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "resource/resource.h"
#include "resource/resource_int.h"
#include "store/store.h"

/* One write request, run by store_run (retried whole when busy). */
struct op {
	struct request	  *req;
	const struct rdef *rd;
	struct principal  *who;
	int		   action;
	enum scope	   scope; /* for the action */
	enum scope	   vis;	  /* through which the row is seen */
	const char	  *id;
	json_t		  *body;
	json_t		  *row; /* answer, on OK */
	int64_t		   updated;
	char		   new_id[UUID_STR_LEN];
	char		   row_id[UUID_STR_LEN]; /* of row, or the row read */
	char		   etag[RESOURCE_ETAG_LEN]; /* of row */
};

static int  begin(struct request *, const struct resource *,
     const struct rdef **, struct principal **);
static void read_answer(
    struct request *, const struct resource *, const char *);
static const char *perm_of(const struct rdef *);
static enum scope  max_scope(enum scope, enum scope);
static void	   op_answered(struct op *);
static void answer_row(struct request *, const struct rdef *, int, struct op *);
static void ctx_init(struct resource_ctx *, struct op *, struct tx *);
static const char *if_match_field(const struct rdef *, json_t *);
static int	   etag_now(struct tx *, struct op *, int64_t, char *);
static int	   create_tx(struct tx *, void *);
static int	   create_row(struct tx *, struct op *, json_t *);
static int	   update_tx(struct tx *, void *);
static int	   read_tx(struct tx *, void *);

void
resource_refuse(struct request *req, const struct principal *who, int rc)
{
	/* Only a public read has no caller: a row it cannot see is one
	 * that does not exist, for anyone. */
	if (who == NULL && rc != ERR_NOT_FOUND) {
		http_problem(
		    req, ERR_UNAUTHORIZED, NULL, "Authentication is required.");
		return;
	}
	switch (rc) {
	case ERR_NOT_FOUND:
		http_problem(req, rc, NULL, "No such row.");
		break;
	case ERR_FORBIDDEN:
		http_problem(req, rc, NULL, "You may not do this.");
		break;
	case ERR_PRECONDITION:
		http_problem(req, rc, NULL,
		    "The row has changed since it was "
		    "read (If-Match).");
		break;
	default:
		http_problem(req, rc, NULL, "The request could not be done.");
		break;
	}
}

/* The definition and the caller; answers and returns non-OK on failure. */
static int
begin(struct request *req, const struct resource *res, const struct rdef **rd,
    struct principal **who)
{
	int rc;

	if ((*rd = rdef_find(res)) == NULL) {
		http_problem(req, ERR_INTERNAL, NULL, "unregistered resource");
		return (ERR_INTERNAL);
	}
	/* The dispatcher's, never NULL, except on a public read, where a
	 * token is optional: its caller, or NULL without one. */
	if (req->caller == NULL && (rc = http_authenticate(req)) != OK) {
		/* A token that could not be checked (the database failed
		 * or was lost under the session's read) is no token
		 * refused: that failure's answer (503 when the server was
		 * lost: try again), not a 401 that tells the client to
		 * sign in again. */
		if (err_http_status(rc) < 500)
			rc = ERR_UNAUTHORIZED;
		http_problem(req, rc, NULL,
		    rc == ERR_UNAUTHORIZED
			? "The credentials were not accepted."
			: "The credentials could not be checked now.");
		return (rc);
	}
	*who = req->caller;
	return (OK);
}

/* The name the resource's permissions go by. */
static const char *
perm_of(const struct rdef *rd)
{
	return (
	    rd->res->permission != NULL ? rd->res->permission : rd->res->name);
}

static enum scope
max_scope(enum scope a, enum scope b)
{
	return (a > b ? a : b);
}

int
resource_if_match(const char *hv, const char *etag)
{
	const char *p = hv, *e, *tag = etag + 2; /* without W/ */
	size_t	    n, tn = strlen(tag);

	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		if ((e = strchr(p, ',')) == NULL)
			e = p + strlen(p);
		n = (size_t)(e - p);
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (n == 1 && p[0] == '*')
			return (1);
		if (n > 2 && strncmp(p, "W/", 2) == 0) {
			p += 2;
			n -= 2;
		}
		if (n == tn && memcmp(p, tag, n) == 0)
			return (1);
		p = e;
	}
	return (0);
}

/* 1 if an element of the If-Match list hv is "*" (it matches any state). */
static int
if_match_star(const char *hv)
{
	const char *p = hv, *e;
	size_t	    n;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if ((e = strchr(p, ',')) == NULL)
			e = p + strlen(p);
		n = (size_t)(e - p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == 1 && p[0] == '*')
			return (1);
		p = e;
	}
	return (0);
}

/* The id of op->row (its own, whichever id found it) and its ETag. */
static void
op_answered(struct op *op)
{
	const char *id = json_string_value(json_object_get(op->row, "id"));

	if (id != NULL)
		strlcpy_cb(op->row_id, id, sizeof(op->row_id));
	if (op->rd->res->flags & RESOURCE_ETAG_ROW)
		resource_etag_row(op->row, op->etag);
	else
		resource_etag(op->row_id, op->updated, op->etag);
}

static void
answer_row(
    struct request *req, const struct rdef *rd, int status, struct op *op)
{
	char *loc;

	http_header_add(req, "ETag", op->etag);
	if (status == 201 &&
	    (loc = arena_printf(
		 req->arena, "%s/%s", rd->res->path, op->row_id)) != NULL)
		http_header_add(req, "Location", loc);
	http_json(req, status, json_incref(op->row));
}

void
handle_list(struct request *req)
{
	const struct rdef *rd;
	struct principal  *who;
	enum scope	   scope;

	if (begin(req, req->route_arg, &rd, &who) != OK)
		return;
	scope = resource_scope(req->db, who, perm_of(rd), "read");
	if (!scope_reads(rd, scope)) {
		resource_refuse(req, who, ERR_FORBIDDEN);
		return;
	}
	query_list(req, rd, who, scope);
}

static void
ctx_init(struct resource_ctx *ctx, struct op *op, struct tx *tx)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->req = op->req;
	ctx->tx = tx;
	ctx->res = op->rd->res;
	ctx->who = op->who;
	ctx->scope = op->scope;
}

static int
read_tx(struct tx *tx, void *arg)
{
	struct op	   *op = arg;
	struct resource_ctx ctx;
	json_t		   *rows;
	int		    rc;

	json_decref(op->row);
	op->row = NULL;
	if ((rc = rows_select(tx, op->rd, op->id, op->who, op->scope, op->scope,
		 0, &op->row, &op->updated)) != OK)
		return (rc);
	if (op->rd->has_health) {
		rows = json_pack("[O]", op->row);
		rc = rows_read_audit(tx, op->rd, op->who, op->req, rows);
		json_decref(rows);
		if (rc != OK)
			return (rc);
	}
	op_answered(op);
	if (op->rd->res->after_read == NULL)
		return (OK);
	ctx_init(&ctx, op, tx);
	ctx.id = op->row_id;
	return (op->rd->res->after_read(&ctx, op->row));
}

void
handle_read(struct request *req)
{
	read_answer(req, req->route_arg, http_param(req, "id"));
}

void
resource_read_answer(
    struct request *req, const struct resource *res, const char *id)
{
	read_answer(req, res, id);
}

static void
read_answer(struct request *req, const struct resource *res, const char *id)
{
	const struct rdef *rd;
	struct op	   op;
	const char	  *inm;
	int		   rc;

	memset(&op, 0, sizeof(op));
	if (begin(req, res, &rd, &op.who) != OK)
		return;
	op.req = req;
	op.rd = rd;
	op.id = id;
	op.scope = resource_scope(req->db, op.who, perm_of(rd), "read");
	if (!scope_reads(rd, op.scope)) {
		resource_refuse(req, op.who, ERR_NOT_FOUND);
		return;
	}
	/* Health data too: its audit row is queued (audit_read). */
	rc = store_run(req->db, STORE_TX_READ, read_tx, &op);
	if (rc != OK) {
		if (!req->responded)
			resource_refuse(req, op.who, rc);
		goto out;
	}
	if ((inm = http_header(req, "If-None-Match")) != NULL &&
	    resource_if_match(inm, op.etag) && strcmp(inm, "*") != 0) {
		http_header_add(req, "ETag", op.etag);
		http_send(req, 304, NULL, NULL, 0);
		goto out;
	}
	answer_row(req, rd, 200, &op);
out:
	json_decref(op.row);
}

/* Hooks add to the body: each try (store_run retries) gets a new copy. */
static int
create_tx(struct tx *tx, void *arg)
{
	struct op *op = arg;
	json_t	  *body;
	int	   rc;

	json_decref(op->row);
	op->row = NULL;
	if ((body = json_deep_copy(op->body)) == NULL)
		return (ERR_NOMEM);
	rc = create_row(tx, op, body);
	json_decref(body);
	return (rc);
}

static int
create_row(struct tx *tx, struct op *op, json_t *body)
{
	struct resource_ctx ctx;
	const struct rdef  *rd = op->rd;
	const struct field *of = rd->owner >= 0 ? &rd->cols[rd->owner] : NULL;
	int		    rc;

	/* Callers below scope all create rows of their own by default;
	 * rows of a resource with its own scope conditions are no one's. */
	if (rd->custom)
		of = NULL;
	if (of != NULL && !rd->owner_is_id && op->who != NULL &&
	    json_object_get(body, of->name) == NULL &&
	    (op->scope != SCOPE_ALL || (of->flags & FIELD_READONLY)) &&
	    (of->flags & FIELD_READONLY) == 0)
		json_object_set_new(
		    body, of->name, json_string(op->who->user_id));
	if ((rc = validate_run(op->req, tx, rd->res, body, 1, op->scope)) != OK)
		return (rc);
	if (of != NULL && !rd->owner_is_id && op->who != NULL &&
	    (of->flags & FIELD_READONLY))
		json_object_set_new(
		    body, of->name, json_string(op->who->user_id));
	if (!rd->custom &&
	    (rd->owner_is_id ? op->scope != SCOPE_ALL
			     : rows_covers(tx, rd, op->who, op->scope,
				   rows_owner(rd, body)) != OK)) {
		http_problem(op->req, ERR_FORBIDDEN, NULL,
		    "You may only "
		    "create %s rows of your own.",
		    rd->res->name);
		return (ERR_FORBIDDEN);
	}
	ctx_init(&ctx, op, tx);
	ctx.body = body;
	if (rd->res->before_create != NULL &&
	    (rc = rd->res->before_create(&ctx, body)) != OK)
		return (rc);
	if ((rc = resource_insert(&ctx, body, op->new_id)) != OK)
		return (rc);
	ctx.id = op->new_id;
	if (rd->custom &&
	    (rc = rows_writable(
		 tx, rd, op->who, op->scope, op->new_id, NULL)) != OK) {
		if (rc == ERR_FORBIDDEN)
			http_problem(op->req, rc, NULL,
			    "You may only create %s rows within your scope.",
			    rd->res->name);
		return (rc);
	}
	if ((rc = rows_select(tx, rd, op->new_id, op->who, SCOPE_ALL, op->vis,
		 0, &op->row, &op->updated)) != OK)
		return (rc);
	op_answered(op);
	if (rd->res->after_write != NULL &&
	    (rc = rd->res->after_write(&ctx, ACTION_CREATE, op->row)) != OK)
		return (rc);
	return (OK);
}

int
resource_create(struct tx *tx, const struct resource *res, json_t *body,
    char *id_out, json_t **row_out)
{
	struct op op;
	json_t	 *copy;
	int	  rc;

	if (row_out != NULL)
		*row_out = NULL;
	memset(&op, 0, sizeof(op));
	if ((op.rd = rdef_find(res)) == NULL)
		return (ERR_INTERNAL);
	op.scope = op.vis = SCOPE_ALL;
	if ((copy = json_deep_copy(body)) == NULL)
		return (ERR_NOMEM);
	rc = create_row(tx, &op, copy);
	json_decref(copy);
	if (rc == OK && id_out != NULL)
		memcpy(id_out, op.new_id, UUID_STR_LEN);
	if (rc == OK && row_out != NULL)
		*row_out = op.row;
	else
		json_decref(op.row);
	return (rc);
}

void
handle_create(struct request *req)
{
	const struct rdef *rd;
	struct op	   op;
	int		   rc;

	memset(&op, 0, sizeof(op));
	if (begin(req, req->route_arg, &rd, &op.who) != OK)
		return;
	op.req = req;
	op.rd = rd;
	op.scope = resource_scope(req->db, op.who, perm_of(rd), "create");
	if (op.scope == SCOPE_NONE) {
		resource_refuse(req, op.who, ERR_FORBIDDEN);
		return;
	}
	op.vis = max_scope(
	    op.scope, resource_scope(req->db, op.who, perm_of(rd), "read"));
	if ((op.body = json_deep_copy(req->json)) == NULL)
		op.body = json_object();
	rc = store_run(req->db, STORE_TX_WRITE, create_tx, &op);
	if (rc != OK)
		http_problem(req, rc, NULL, "The row could not be created.");
	else
		answer_row(req, rd, 201, &op);
	json_decref(op.body);
	json_decref(op.row);
}

/* The first FIELD_IF_MATCH field body changes, or NULL. */
static const char *
if_match_field(const struct rdef *rd, json_t *body)
{
	size_t i;

	for (i = 0; i < rd->ncols; i++)
		if ((rd->cols[i].flags & FIELD_IF_MATCH) &&
		    json_object_get(body, rd->cols[i].name) != NULL)
			return (rd->cols[i].name);
	return (NULL);
}

/* The ETag the caller read row id with, as it is now in tx. */
static int
etag_now(struct tx *tx, struct op *op, int64_t updated, char *etag)
{
	json_t *seen;
	int	rc;

	if ((op->rd->res->flags & RESOURCE_ETAG_ROW) == 0) {
		resource_etag(op->row_id, updated, etag);
		return (OK);
	}
	if ((rc = rows_select(tx, op->rd, op->row_id, op->who, op->vis, op->vis,
		 0, &seen, NULL)) != OK)
		return (rc);
	resource_etag_row(seen, etag);
	json_decref(seen);
	return (OK);
}

static int
update_tx(struct tx *tx, void *arg)
{
	struct op	   *op = arg;
	struct resource_ctx ctx;
	const struct rdef  *rd = op->rd;
	const char	   *im, *locked = NULL;
	char		    etag[RESOURCE_ETAG_LEN];
	json_t		   *old = NULL, *body = NULL;
	int64_t		    upd;
	int		    rc;

	json_decref(op->row);
	op->row = NULL;
	/* Hooks add to the body: each try gets a new copy. */
	if (op->action == ACTION_UPDATE &&
	    (body = json_deep_copy(op->body)) == NULL)
		return (ERR_NOMEM);
	/* A field others change too: read it under a lock on the row. */
	if (body != NULL && (locked = if_match_field(rd, body)) != NULL &&
	    (rc = rows_lock(tx, rd, op->id)) != OK)
		goto out;
	if ((rc = rows_select(tx, rd, op->id, op->who, op->vis, op->vis, 1,
		 &old, &upd)) != OK) {
		resource_refuse(op->req, op->who, rc);
		goto out;
	}
	strlcpy_cb(op->row_id, json_string_value(json_object_get(old, "id")),
	    sizeof(op->row_id));
	ctx_init(&ctx, op, tx);
	ctx.id = op->row_id;
	ctx.old = old;
	ctx.body = body;
	if ((rc = etag_now(tx, op, upd, etag)) != OK)
		goto out;
	if ((im = http_header(op->req, "If-Match")) != NULL &&
	    !resource_if_match(im, etag)) {
		rc = ERR_PRECONDITION;
		resource_refuse(op->req, op->who, rc);
		goto out;
	}
	if ((rc = rows_writable(tx, rd, op->who, op->scope, op->row_id,
		 rd->owner_is_id ? op->row_id : rows_owner(rd, old))) != OK) {
		resource_refuse(op->req, op->who, rc);
		goto out;
	}
	if (op->action == ACTION_DELETE) {
		if ((rd->res->before_delete != NULL &&
			(rc = rd->res->before_delete(&ctx)) != OK) ||
		    (rc = rows_delete(&ctx, op->row_id)) != OK)
			goto out;
		if (rd->res->after_write != NULL)
			rc = rd->res->after_write(&ctx, ACTION_DELETE, old);
		goto out;
	}
	if ((rc = validate_run(op->req, tx, rd->res, body, 0, op->scope)) !=
		OK ||
	    (rd->res->before_update != NULL &&
		(rc = rd->res->before_update(&ctx, body)) != OK))
		goto out;
	/* "*" matches any state, wherever it stands in the list: it would
	 * overwrite a change all the same. Without it the list matched the
	 * current ETag above (412 otherwise). */
	if (locked != NULL && (im == NULL || if_match_star(im))) {
		rc = ERR_PRECONDITION_REQUIRED;
		http_problem(op->req, rc, NULL,
		    "Changing %s needs If-Match with the ETag of the row as "
		    "last read (not *), so that no change made since is "
		    "overwritten.",
		    locked);
		goto out;
	}
	if ((rc = resource_update(&ctx, op->row_id, body)) != OK)
		goto out;
	if ((rc = rows_select(tx, rd, op->row_id, op->who, SCOPE_ALL, op->vis,
		 0, &op->row, &op->updated)) != OK)
		goto out;
	op_answered(op);
	if (rd->res->after_write != NULL)
		rc = rd->res->after_write(&ctx, ACTION_UPDATE, op->row);
out:
	json_decref(old);
	json_decref(body);
	return (rc);
}

void
handle_update(struct request *req)
{
	const struct rdef *rd;
	struct op	   op;
	enum scope	   rs;
	int		   rc;

	memset(&op, 0, sizeof(op));
	if (begin(req, req->route_arg, &rd, &op.who) != OK)
		return;
	op.req = req;
	op.rd = rd;
	op.id = http_param(req, "id");
	op.action = req->method == HTTP_DELETE ? ACTION_DELETE : ACTION_UPDATE;
	op.scope = resource_scope(
	    req->db, op.who, perm_of(rd), action_name(op.action));
	rs = resource_scope(req->db, op.who, perm_of(rd), "read");
	op.vis = max_scope(op.scope, rs);
	if (!scope_reads(rd, op.vis) || op.id == NULL || !uuid_valid(op.id)) {
		resource_refuse(req, op.who, ERR_NOT_FOUND);
		return;
	}
	if (op.action == ACTION_UPDATE) {
		if ((op.body = json_deep_copy(req->json)) == NULL)
			op.body = json_object();
		if (!json_is_object(req->json)) {
			validate_run(
			    req, NULL, rd->res, req->json, 0, op.scope);
			goto out;
		}
	}
	rc = store_run(req->db, STORE_TX_WRITE, update_tx, &op);
	if (rc != OK) {
		if (!req->responded)
			http_problem(
			    req, rc, NULL, "The row could not be changed.");
	} else if (op.action == ACTION_DELETE)
		http_send(req, 204, NULL, NULL, 0);
	else
		answer_row(req, rd, 200, &op);
out:
	json_decref(op.body);
	json_decref(op.row);
}
