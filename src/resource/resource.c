/*
 * The generic resource layer: registration (a declared resource compiled
 * into a struct rdef: columns, SQL strings, routes) and the five handlers
 * every resource gets. Each handler finds the caller, their scope for
 * the action, then does its work in one transaction.
 *
 * Status for a caller without the permission: anonymous callers get 401;
 * an authenticated caller gets 403 for lists and creates, and 404 for a
 * row they cannot see (exactly as a row that does not exist). A row they
 * can see but not change answers 403.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
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
};

static struct rdef	     *rdefs[RESOURCE_MAX];
static const struct resource *resources[RESOURCE_MAX];
static size_t		      nrdefs;

static const struct field implicit_id = { "id", FIELD_UUID,
	FIELD_READONLY | FIELD_FILTER, 0, 0, NULL, NULL, NULL, 0,
	"identifier (UUIDv7)" };
static const struct field implicit_created = { "created_at", FIELD_TIME,
	FIELD_READONLY | FIELD_SORT | FIELD_FILTER, 0, 0, NULL, NULL, NULL, 0,
	"when the row was created" };
static const struct field implicit_updated = { "updated_at", FIELD_TIME,
	FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	"when the row last changed" };

static int  ident_ok(const char *);
static int  kinds_ok(const char *);
static int  rdef_compile(const struct resource *, struct rdef *);
static void rdef_free(struct rdef *);
static int  begin(struct request *, const struct rdef **, struct principal **);
static enum scope max_scope(enum scope, enum scope);
static void answer_row(struct request *, const struct rdef *, int, json_t *,
    const char *, int64_t);
static void h_list(struct request *);
static void h_read(struct request *);
static void h_create(struct request *);
static void h_update(struct request *);
static void h_delete(struct request *);
static int  create_tx(struct tx *, void *);
static int  update_tx(struct tx *, void *);
static int  read_tx(struct tx *, void *);

/* Registration */

/* A name that may be written into SQL: [a-z_][a-z0-9_]*, bounded. */
static int
ident_ok(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || strlen(s) > 63 ||
	    (s[0] >= '0' && s[0] <= '9'))
		return (0);
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' ||
			(s[i] >= '0' && s[i] <= '9')))
			return (0);
	return (1);
}

static int
kinds_ok(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || *s == '_' || *s == ',' ||
			*s == ' '))
			return (0);
	return (1);
}

static void
rdef_free(struct rdef *rd)
{
	int i;

	if (rd == NULL)
		return;
	free(rd->cols);
	free(rd->select);
	for (i = 0; i <= SCOPE_ALL; i++) {
		free(rd->one[i]);
		free(rd->scope[i]);
	}
	free(rd->related);
	free(rd->item_path);
	free(rd);
}

static int
rdef_compile(const struct resource *res, struct rdef *rd)
{
	const struct field *f;
	struct buf	    b;
	size_t		    i, n = 0;
	int		    s, rc = ERR_CONFIG, created = 0, updated = 0;

	buf_init(&b, 64 * 1024);
	if (!ident_ok(res->name) || !ident_ok(res->table) ||
	    res->path == NULL || res->path[0] != '/' ||
	    res->nfields + 3 > RESOURCE_COLS_MAX ||
	    (res->owner_column != NULL && !ident_ok(res->owner_column)) ||
	    !kinds_ok(res->related_kinds) || !kinds_ok(res->party_kinds) ||
	    (res->party_kinds != NULL && res->party_where == NULL))
		goto bad;
	rd->res = res;
	if ((rd->cols = calloc(res->nfields + 3, sizeof(*rd->cols))) == NULL)
		goto nomem;
	rd->cols[n++] = implicit_id;
	for (i = 0; i < res->nfields; i++) {
		f = &res->fields[i];
		if (!ident_ok(f->name) ||
		    (f->ref != NULL && !ident_ok(f->ref)) ||
		    (f->type == FIELD_ENUM && f->choices == NULL))
			goto bad;
		if (strcmp(f->name, "id") == 0)
			continue;
		rd->cols[n] = *f;
		if (strcmp(f->name, "created_at") == 0) {
			rd->cols[n].flags |= FIELD_SORT;
			created = 1;
		}
		if (strcmp(f->name, "updated_at") == 0) {
			rd->updated = (int)n;
			updated = 1;
		}
		rd->has_created_by |= strcmp(f->name, "created_by") == 0;
		rd->has_updated_by |= strcmp(f->name, "updated_by") == 0;
		rd->has_is_active |= strcmp(f->name, "is_active") == 0;
		rd->has_health |= (f->flags & FIELD_HEALTH) != 0;
		rd->has_personal |= (f->flags & FIELD_PERSONAL) != 0;
		n++;
	}
	if (!created)
		rd->cols[n++] = implicit_created;
	if (!updated) {
		rd->updated = (int)n;
		rd->cols[n++] = implicit_updated;
	}
	rd->ncols = n;
	rd->owner = -1;
	if (res->owner_column != NULL) {
		rd->owner_is_id = strcmp(res->owner_column, "id") == 0;
		for (i = 0; i < n; i++)
			if (strcmp(rd->cols[i].name, res->owner_column) == 0)
				rd->owner = (int)i;
		if (rd->owner < 0 ||
		    (rd->cols[rd->owner].flags & FIELD_PERSONAL))
			goto bad;
	}
	if (rd->has_personal && rd->owner < 0)
		goto bad; /* personal data needs an owner's key */

	if (buf_puts(&b, "SELECT ") != OK)
		goto nomem;
	for (i = 0; i < n; i++)
		if (buf_printf(&b, "%s%s", i ? ", " : "", rd->cols[i].name) !=
		    OK)
			goto nomem;
	if (buf_printf(&b, " FROM %s", res->table) != OK ||
	    (rd->select = strdup(b.data)) == NULL)
		goto nomem;
	for (s = SCOPE_NONE; s <= SCOPE_ALL; s++) {
		if ((rd->scope[s] = resource_scope_sql(res, s)) == NULL)
			goto nomem;
		buf_reset(&b);
		if (buf_printf(&b, "%s WHERE id = ?", rd->select) != OK ||
		    (res->where != NULL &&
			buf_printf(&b, " AND (%s)", res->where) != OK) ||
		    (rd->scope[s][0] != '\0' &&
			buf_printf(&b, " AND (%s)", rd->scope[s]) != OK) ||
		    (rd->one[s] = strdup(b.data)) == NULL)
			goto nomem;
	}
	if (res->related_kinds != NULL && res->related_kinds[0] != '\0' &&
	    res->owner_column != NULL) {
		/* May the caller write rows this owner owns (create,
		 * update)? Any related kind, party kinds included: the
		 * module's hooks narrow it to the party. */
		const char *p, *e;
		size_t	    len;
		int	    first = 1;

		buf_reset(&b);
		if (buf_puts(&b,
			"SELECT 1 FROM relationships WHERE lead_id = "
			"? AND follower_id = ? AND status = 'active' AND kind "
			"IN (") != OK)
			goto nomem;
		for (p = res->related_kinds; *p != '\0'; p = *e ? e + 1 : e) {
			e = strchr(p, ',');
			if (e == NULL)
				e = p + strlen(p);
			while (p < e && *p == ' ')
				p++;
			len = (size_t)(e - p);
			while (len > 0 && p[len - 1] == ' ')
				len--;
			if (len == 0)
				continue;
			if (buf_printf(&b, "%s'%.*s'", first ? "" : ", ",
				(int)len, p) != OK)
				goto nomem;
			first = 0;
		}
		if (buf_puts(&b, ")") != OK ||
		    (rd->related = strdup(b.data)) == NULL)
			goto nomem;
	}
	if (asprintf(&rd->item_path, "%s/{id}", res->path) < 0) {
		rd->item_path = NULL;
		goto nomem;
	}
	buf_free(&b);
	return (OK);
bad:
	log_error(
	    "event=resource_invalid name=%s", res->name ? res->name : "(null)");
	buf_free(&b);
	return (rc);
nomem:
	buf_free(&b);
	return (ERR_NOMEM);
}

int
resource_register(const struct resource *res)
{
	static const struct {
		int	     method;
		int	     item;
		http_handler fn;
		int	     flags;
		const char  *verb;
	} spec[ACTION_COUNT] = {
		[ACTION_LIST] = { HTTP_GET, 0, h_list, 0, "List" },
		[ACTION_READ] = { HTTP_GET, 1, h_read, 0, "Read one of" },
		[ACTION_CREATE] = { HTTP_POST, 0, h_create, ROUTE_JSON_BODY,
		    "Create one of" },
		[ACTION_UPDATE] = { HTTP_PATCH, 1, h_update, ROUTE_JSON_BODY,
		    "Change one of" },
		[ACTION_DELETE] = { HTTP_DELETE, 1, h_delete, 0,
		    "Delete one of" },
	};
	static char   summaries[RESOURCE_MAX][ACTION_COUNT][96];
	struct rdef  *rd;
	struct route *rt;
	int	      a, nr = 0, rc;

	if (res == NULL || nrdefs == RESOURCE_MAX || rdef_find(res) != NULL)
		return (ERR_CONFIG);
	if ((rd = calloc(1, sizeof(*rd))) == NULL)
		return (ERR_NOMEM);
	if ((rc = rdef_compile(res, rd)) != OK) {
		rdef_free(rd);
		return (rc);
	}
	for (a = 0; a < ACTION_COUNT; a++) {
		if (res->actions != 0 && (res->actions & (1 << a)) == 0)
			continue;
		rt = &rd->routes[nr++];
		snprintf(summaries[nrdefs][a], sizeof(summaries[0][0]), "%s %s",
		    spec[a].verb, res->name);
		rt->method = spec[a].method;
		rt->pattern = spec[a].item ? rd->item_path : res->path;
		rt->handler = spec[a].fn;
		rt->flags = spec[a].flags;
		rt->summary = summaries[nrdefs][a];
		rt->arg = res;
	}
	rd->table.module = res->name;
	rd->table.routes = rd->routes;
	rd->table.nroutes = (size_t)nr;
	if (nr > 0 && (rc = http_routes_add(&rd->table)) != OK) {
		rdef_free(rd);
		return (rc);
	}
	rdefs[nrdefs] = rd;
	resources[nrdefs] = res;
	nrdefs++;
	return (OK);
}

const struct resource *const *
resource_all(size_t *n)
{
	*n = nrdefs;
	return (resources);
}

const struct rdef *const *
rdef_all(size_t *n)
{
	*n = nrdefs;
	return ((const struct rdef *const *)rdefs);
}

const struct rdef *
rdef_find(const struct resource *res)
{
	size_t i;

	for (i = 0; i < nrdefs; i++)
		if (resources[i] == res)
			return (rdefs[i]);
	return (NULL);
}

/* Handlers */

void
resource_refuse(struct request *req, const struct principal *who, int rc)
{
	if (who == NULL) {
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
begin(struct request *req, const struct rdef **rd, struct principal **who)
{
	if ((*rd = rdef_find(req->route_arg)) == NULL) {
		http_problem(req, ERR_INTERNAL, NULL, "unregistered resource");
		return (ERR_INTERNAL);
	}
	*who = req->caller; /* the dispatcher's: never NULL here */
	return (OK);
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

static void
answer_row(struct request *req, const struct rdef *rd, int status, json_t *row,
    const char *id, int64_t updated)
{
	char etag[RESOURCE_ETAG_LEN], *loc;

	resource_etag(id, updated, etag);
	http_header_add(req, "ETag", etag);
	if (status == 201 &&
	    (loc = arena_printf(req->arena, "%s/%s", rd->res->path, id)) !=
		NULL)
		http_header_add(req, "Location", loc);
	http_json(req, status, json_incref(row));
}

static void
h_list(struct request *req)
{
	const struct rdef *rd;
	struct principal  *who;
	enum scope	   scope;

	if (begin(req, &rd, &who) != OK)
		return;
	scope = resource_scope(req->db, who, rd->res->name, "read");
	if (scope == SCOPE_NONE) {
		resource_refuse(req, who, ERR_FORBIDDEN);
		return;
	}
	query_list(req, rd, who, scope);
}

static int
read_tx(struct tx *tx, void *arg)
{
	struct op *op = arg;
	json_t	  *rows;
	int	   rc;

	json_decref(op->row);
	op->row = NULL;
	if ((rc = rows_select(tx, op->rd, op->id, op->who, op->scope, op->scope,
		 0, &op->row, &op->updated)) != OK)
		return (rc);
	if (op->rd->has_health) {
		rows = json_pack("[O]", op->row);
		rc = rows_read_audit(tx, op->rd, op->who, op->req, rows);
		json_decref(rows);
	}
	return (rc);
}

static void
h_read(struct request *req)
{
	const struct rdef *rd;
	struct op	   op;
	const char	  *inm;
	char		   etag[RESOURCE_ETAG_LEN];
	int		   rc;

	memset(&op, 0, sizeof(op));
	if (begin(req, &rd, &op.who) != OK)
		return;
	op.req = req;
	op.rd = rd;
	op.id = http_param(req, "id");
	op.scope = resource_scope(req->db, op.who, rd->res->name, "read");
	if (op.scope == SCOPE_NONE) {
		resource_refuse(req, op.who, ERR_NOT_FOUND);
		return;
	}
	rc = store_run(req->db, rd->has_health ? STORE_TX_WRITE : STORE_TX_READ,
	    read_tx, &op);
	if (rc != OK) {
		resource_refuse(req, op.who, rc);
		goto out;
	}
	resource_etag(op.id, op.updated, etag);
	if ((inm = http_header(req, "If-None-Match")) != NULL &&
	    resource_if_match(inm, etag) && strcmp(inm, "*") != 0) {
		http_header_add(req, "ETag", etag);
		http_send(req, 304, NULL, NULL, 0);
		goto out;
	}
	answer_row(req, rd, 200, op.row, op.id, op.updated);
out:
	json_decref(op.row);
}

static int
create_tx(struct tx *tx, void *arg)
{
	struct op	   *op = arg;
	struct resource_ctx ctx;
	const struct rdef  *rd = op->rd;
	const struct field *of = rd->owner >= 0 ? &rd->cols[rd->owner] : NULL;
	json_t		   *body = op->body;
	int		    rc;

	json_decref(op->row);
	op->row = NULL;
	/* Callers below scope all create rows of their own by default. */
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
	if (rd->owner_is_id ? op->scope != SCOPE_ALL
			    : rows_covers(tx, rd, op->who, op->scope,
				  rows_owner(rd, body)) != OK) {
		http_problem(op->req, ERR_FORBIDDEN, NULL,
		    "You may only "
		    "create %s rows of your own.",
		    rd->res->name);
		return (ERR_FORBIDDEN);
	}
	memset(&ctx, 0, sizeof(ctx));
	ctx.req = op->req;
	ctx.tx = tx;
	ctx.res = rd->res;
	ctx.who = op->who;
	ctx.scope = op->scope;
	if (rd->res->before_create != NULL &&
	    (rc = rd->res->before_create(&ctx, body)) != OK)
		return (rc);
	if ((rc = resource_insert(&ctx, body, op->new_id)) != OK)
		return (rc);
	ctx.id = op->new_id;
	if ((rc = rows_select(tx, rd, op->new_id, op->who, SCOPE_ALL, op->vis,
		 0, &op->row, &op->updated)) != OK)
		return (rc);
	if (rd->res->after_write != NULL &&
	    (rc = rd->res->after_write(&ctx, ACTION_CREATE, op->row)) != OK)
		return (rc);
	return (OK);
}

static void
h_create(struct request *req)
{
	const struct rdef *rd;
	struct op	   op;
	int		   rc;

	memset(&op, 0, sizeof(op));
	if (begin(req, &rd, &op.who) != OK)
		return;
	op.req = req;
	op.rd = rd;
	op.scope = resource_scope(req->db, op.who, rd->res->name, "create");
	if (op.scope == SCOPE_NONE) {
		resource_refuse(req, op.who, ERR_FORBIDDEN);
		return;
	}
	op.vis = max_scope(
	    op.scope, resource_scope(req->db, op.who, rd->res->name, "read"));
	/* Defaults and the owner are filled in a copy: the same on a
	 * busy retry. */
	if ((op.body = json_deep_copy(req->json)) == NULL)
		op.body = json_object();
	rc = store_run(req->db, STORE_TX_WRITE, create_tx, &op);
	if (rc != OK)
		http_problem(req, rc, NULL, "The row could not be created.");
	else
		answer_row(req, rd, 201, op.row, op.new_id, op.updated);
	json_decref(op.body);
	json_decref(op.row);
}

static int
update_tx(struct tx *tx, void *arg)
{
	struct op	   *op = arg;
	struct resource_ctx ctx;
	const struct rdef  *rd = op->rd;
	const char	   *im;
	char		    etag[RESOURCE_ETAG_LEN];
	json_t		   *old = NULL;
	int64_t		    upd;
	int		    rc;

	json_decref(op->row);
	op->row = NULL;
	if ((rc = rows_select(tx, rd, op->id, op->who, op->vis, op->vis, 1,
		 &old, &upd)) != OK) {
		resource_refuse(op->req, op->who, rc);
		return (rc);
	}
	memset(&ctx, 0, sizeof(ctx));
	ctx.req = op->req;
	ctx.tx = tx;
	ctx.res = rd->res;
	ctx.who = op->who;
	ctx.scope = op->scope;
	ctx.id = op->id;
	ctx.old = old;
	resource_etag(op->id, upd, etag);
	if ((im = http_header(op->req, "If-Match")) != NULL &&
	    !resource_if_match(im, etag)) {
		rc = ERR_PRECONDITION;
		resource_refuse(op->req, op->who, rc);
		goto out;
	}
	if ((rc = rows_covers(tx, rd, op->who, op->scope,
		 rd->owner_is_id ? op->id : rows_owner(rd, old))) != OK) {
		resource_refuse(op->req, op->who, rc);
		goto out;
	}
	if (op->action == ACTION_DELETE) {
		if ((rd->res->before_delete != NULL &&
			(rc = rd->res->before_delete(&ctx)) != OK) ||
		    (rc = rows_delete(&ctx, op->id)) != OK)
			goto out;
		if (rd->res->after_write != NULL)
			rc = rd->res->after_write(&ctx, ACTION_DELETE, old);
		goto out;
	}
	if ((rc = validate_run(op->req, tx, rd->res, op->body, 0, op->scope)) !=
	    OK)
		goto out;
	if ((rd->res->before_update != NULL &&
		(rc = rd->res->before_update(&ctx, op->body)) != OK) ||
	    (rc = resource_update(&ctx, op->id, op->body)) != OK)
		goto out;
	if ((rc = rows_select(tx, rd, op->id, op->who, SCOPE_ALL, op->vis, 0,
		 &op->row, &op->updated)) != OK)
		goto out;
	if (rd->res->after_write != NULL)
		rc = rd->res->after_write(&ctx, ACTION_UPDATE, op->row);
out:
	json_decref(old);
	return (rc);
}

static void
h_update(struct request *req)
{
	const struct rdef *rd;
	struct op	   op;
	enum scope	   rs;
	int		   rc;

	memset(&op, 0, sizeof(op));
	if (begin(req, &rd, &op.who) != OK)
		return;
	op.req = req;
	op.rd = rd;
	op.id = http_param(req, "id");
	op.action = req->method == HTTP_DELETE ? ACTION_DELETE : ACTION_UPDATE;
	op.scope = resource_scope(
	    req->db, op.who, rd->res->name, action_name(op.action));
	rs = resource_scope(req->db, op.who, rd->res->name, "read");
	op.vis = max_scope(op.scope, rs);
	if (op.vis == SCOPE_NONE || op.id == NULL || !uuid_valid(op.id)) {
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
	if (rc != OK)
		http_problem(req, rc, NULL, "The row could not be changed.");
	else if (op.action == ACTION_DELETE)
		http_send(req, 204, NULL, NULL, 0);
	else
		answer_row(req, rd, 200, op.row, op.id, op.updated);
out:
	json_decref(op.body);
	json_decref(op.row);
}

static void
h_delete(struct request *req)
{
	h_update(req);
}
