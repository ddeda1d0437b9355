/*
 * Roles and their permissions, read and changed: GET /v1/roles, GET
 * /v1/roles/{name}, PUT /v1/roles/{name}/permissions, GET
 * /v1/permissions, and `carebase roles list | permissions | set`.
 *
 * Roles (roles), the permissions there are (permissions) and each role's
 * grants (role_permissions) are data since migration 0002; roles and
 * permissions themselves come with the migrations, only the grants
 * change here. Reading them takes roles:read:all, changing them
 * roles:update:all (admins, as seeded).
 *
 * A change replaces a role's whole set, in one transaction serialised
 * with every other change (people.roles): each name must be a known
 * permission (422 UNKNOWN_PERMISSION, an entry per unknown name), one
 * the role may hold (422 PERMISSION_NOT_GRANTABLE, an entry per name:
 * roles:*, users:create|update|delete|erase:all for the admin role
 * only, any other ":all" grant for staff roles only, is_staff in roles,
 * catalogues that name no one excepted; resource_perm_grantable), an
 * If-Match given must name the role's current ETag (412), and the admin
 * role always keeps roles:update:all (409 ADMIN_LOCKOUT): with the
 * last-admin rule (an active admin always remains, users.c) someone can
 * always change roles again. A change is audited as roles.update with
 * the names added and removed, and adds one to the permissions' epoch
 * (resource_perms_changed), so every process applies it at its next
 * request: a session already signed in gains or loses the permission at
 * once, whoever made the change and through which process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "people/people.h"
#include "people/people_int.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "store/store.h"

#define ROLE_NAME_MAX	    31	 /* bytes, as struct principal holds it */
#define ROLES_MAX	    1000 /* roles answered */
#define PERMISSION_NAME_MAX 128	 /* bytes of a permission's name */
#define PERMISSIONS_MAX	    2000 /* permissions known, or in one set */
#define ADMIN_ROLE	    "admin"
#define ROLES_UPDATE	    "roles:update:all"

/* One change of a role's set; run whole again when the database is busy. */
struct role_change {
	struct request	       *req; /* NULL on the command line */
	const struct principal *who; /* likewise */
	const char	       *name;
	json_t		       *want;	  /* borrowed: array of names */
	const char	       *if_match; /* NULL: none */
	json_t		       *row;	  /* the role after: owned */
	json_t		       *unknown;  /* indices of want not known */
	json_t		       *refused;  /* [index, PERM_*] not grantable */
	json_t		       *added, *removed;
	int pending; /* migration 0023 not applied (asked: role_set_tx) */
};

static int  role_load(struct tx *, const char *name, json_t **out);
static int  roles_load(struct tx *, json_t **out);
static int  known_load(struct tx *, json_t **out);
static int  role_set_tx(struct tx *, void *);
static int  role_grant(struct tx *, const char *, const char *, int);
static int  roles_caller(struct request *, const char *action);
static int  body_check(struct request *, json_t **want);
static void change_answer(struct request *, struct role_change *, int rc);
static void change_reset(struct role_change *);
static const char *refused_why(int);
static void refused_answer(struct request *, struct role_change *, json_t *);
static int  cli_list(struct store *);
static int  cli_permissions(struct store *);
static int  cli_set(struct store *, int, char **);

/*
 * {"name", "description", "is_staff", "permissions": [names, sorted]} of
 * role name; ERR_NOT_FOUND.
 */
static int
role_load(struct tx *tx, const char *name, json_t **out)
{
	struct stmt *st;
	json_t	    *row = NULL, *perms;
	int	     rc, step;

	*out = NULL;
	if (strlen(name) > ROLE_NAME_MAX)
		return (ERR_NOT_FOUND);
	st = store_prepare(
	    tx, "SELECT description, is_staff FROM roles WHERE name = ?");
	store_bind_text(st, 1, name);
	switch ((step = store_step(st))) {
	case STORE_ROW:
		row = json_pack("{s:s,s:s,s:b,s:[]}", "name", name,
		    "description", store_col_text(st, 0), "is_staff",
		    store_col_int64(st, 1) != 0, "permissions");
		rc = row != NULL ? OK : ERR_NOMEM;
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	default:
		rc = step;
		break;
	}
	store_finalize(st);
	if (rc != OK)
		return (rc);
	perms = json_object_get(row, "permissions");
	st = store_prepare(tx,
	    "SELECT permission FROM role_permissions "
	    "WHERE role = ? ORDER BY permission");
	store_bind_text(st, 1, name);
	while ((step = store_step(st)) == STORE_ROW &&
	    json_array_size(perms) < PERMISSIONS_MAX)
		if (json_array_append_new(
			perms, json_string(store_col_text(st, 0))) != 0) {
			step = ERR_NOMEM;
			break;
		}
	store_finalize(st);
	if (step != STORE_DONE && step != STORE_ROW) {
		json_decref(row);
		return (step);
	}
	*out = row;
	return (OK);
}

/* Every role, by name, as role_load has it. */
static int
roles_load(struct tx *tx, json_t **out)
{
	struct stmt *st;
	json_t	    *names, *data = NULL, *row, *v;
	size_t	     i;
	int	     rc = OK, step;

	*out = NULL;
	if ((names = json_array()) == NULL)
		return (ERR_NOMEM);
	st = store_prepare(tx, "SELECT name FROM roles ORDER BY name");
	while ((step = store_step(st)) == STORE_ROW &&
	    json_array_size(names) < ROLES_MAX)
		json_array_append_new(
		    names, json_string(store_col_text(st, 0)));
	store_finalize(st);
	if (step != STORE_DONE && step != STORE_ROW)
		rc = step;
	else if ((data = json_array()) == NULL)
		rc = ERR_NOMEM;
	json_array_foreach(names, i, v) {
		if (rc != OK)
			break;
		if ((rc = role_load(tx, json_string_value(v), &row)) == OK &&
		    json_array_append_new(data, row) != 0)
			rc = ERR_NOMEM;
	}
	json_decref(names);
	if (rc != OK) {
		json_decref(data);
		return (rc);
	}
	*out = data;
	return (OK);
}

/* {name: description} of every permission there is. */
static int
known_load(struct tx *tx, json_t **out)
{
	struct stmt *st;
	json_t	    *known;
	int	     step;

	*out = NULL;
	if ((known = json_object()) == NULL)
		return (ERR_NOMEM);
	st = store_prepare(tx, "SELECT name, description FROM permissions");
	while ((step = store_step(st)) == STORE_ROW &&
	    json_object_size(known) < PERMISSIONS_MAX)
		json_object_set_new(known, store_col_text(st, 0),
		    json_string(store_col_text(st, 1)));
	store_finalize(st);
	if (step != STORE_DONE && step != STORE_ROW) {
		json_decref(known);
		return (step);
	}
	*out = known;
	return (OK);
}

/* Grant (add) or revoke (!add) one permission of role. */
static int
role_grant(struct tx *tx, const char *role, const char *perm, int add)
{
	struct stmt *st;
	int	     step;

	st = store_prepare(tx,
	    add ? "INSERT INTO role_permissions (role, permission) "
		  "VALUES (?, ?)"
		: "DELETE FROM role_permissions WHERE role = ? AND "
		  "permission = ?");
	store_bind_text(st, 1, role);
	store_bind_text(st, 2, perm);
	step = store_step(st);
	store_finalize(st);
	return (step == STORE_DONE ? OK : step);
}

static void
change_reset(struct role_change *c)
{
	json_decref(c->row);
	json_decref(c->unknown);
	json_decref(c->refused);
	json_decref(c->added);
	json_decref(c->removed);
	c->row = c->unknown = c->refused = c->added = c->removed = NULL;
}

/*
 * The change, in one transaction: ERR_UNAVAILABLE (migration 0023
 * pending: no epoch to tell the processes), ERR_NOT_FOUND (no such role),
 * ERR_PRECONDITION (If-Match), ERR_INVALID (c->unknown: the indices of
 * unknown names; or c->refused: names the role may not be granted,
 * resource_perm_grantable), ERR_CONFLICT (the admin role would lose
 * roles:update), or OK with c->row the role after. Nothing to change
 * writes nothing.
 */
static int
role_set_tx(struct tx *tx, void *arg)
{
	struct role_change *c = arg;
	json_t		   *old = NULL, *known = NULL, *want = NULL, *v;
	json_t		   *changes = NULL;
	const char	   *p;
	char		    etag[48];
	size_t		    i;
	int		    rc, staff, why;

	change_reset(c);
	/* Pending only when the catalog says so: a failed read is a
	 * failure (503 when the server was lost), never "migrate". */
	c->pending = (rc = resource_perms_ready(tx)) == ERR_UNAVAILABLE;
	if (rc != OK || (rc = store_xact_lock(tx, "people.roles")) != OK ||
	    (rc = role_load(tx, c->name, &old)) != OK)
		goto out;
	resource_etag_row(old, etag);
	if (c->if_match != NULL && !resource_if_match(c->if_match, etag)) {
		rc = ERR_PRECONDITION;
		goto out;
	}
	if ((rc = known_load(tx, &known)) != OK)
		goto out;
	rc = ERR_NOMEM;
	if ((c->unknown = json_array()) == NULL ||
	    (c->refused = json_array()) == NULL ||
	    (c->added = json_array()) == NULL ||
	    (c->removed = json_array()) == NULL ||
	    (want = json_object()) == NULL)
		goto out;
	json_array_foreach(c->want, i, v) {
		p = json_string_value(v);
		if (json_object_get(known, p) == NULL)
			json_array_append_new(c->unknown, json_integer((int)i));
		else if (json_object_get(want, p) == NULL)
			json_object_set_new(want, p, json_true());
	}
	if (json_array_size(c->unknown) > 0) {
		rc = ERR_INVALID;
		goto out;
	}
	/* The whole set: a grant held before the rule is refused too. */
	staff = json_is_true(json_object_get(old, "is_staff"));
	json_array_foreach(c->want, i, v) {
		if ((why = resource_perm_grantable(c->name, staff,
			 json_string_value(v))) != PERM_GRANTABLE)
			json_array_append_new(
			    c->refused, json_pack("[i,i]", (int)i, why));
	}
	if (json_array_size(c->refused) > 0) {
		rc = ERR_INVALID;
		goto out;
	}
	/* Added: wanted and not held; removed: held and not wanted. */
	json_array_foreach(json_object_get(old, "permissions"), i, v) {
		p = json_string_value(v);
		if (json_object_get(want, p) != NULL)
			json_object_del(want, p);
		else
			json_array_append(c->removed, v);
	}
	json_object_foreach(want, p, v) {
		json_array_append_new(c->added, json_string(p));
	}
	if (strcmp(c->name, ADMIN_ROLE) == 0)
		json_array_foreach(c->removed, i, v) {
			if (strcmp(json_string_value(v), ROLES_UPDATE) == 0) {
				rc = ERR_CONFLICT;
				goto out;
			}
		}
	if (json_array_size(c->added) == 0 &&
	    json_array_size(c->removed) == 0) {
		c->row = json_incref(old);
		rc = OK;
		goto out;
	}
	rc = OK;
	json_array_foreach(c->removed, i, v) {
		if (rc == OK)
			rc = role_grant(tx, c->name, json_string_value(v), 0);
	}
	json_array_foreach(c->added, i, v) {
		if (rc == OK)
			rc = role_grant(tx, c->name, json_string_value(v), 1);
	}
	if (rc != OK)
		goto out;
	if ((changes = json_pack("{s:[s],s:O,s:O}", "fields", "permissions",
		 "added", c->added, "removed", c->removed)) == NULL) {
		rc = ERR_NOMEM;
		goto out;
	}
	if ((rc = audit_append(tx, c->who, c->req, "roles.update", "roles",
		 c->name, changes)) != OK ||
	    (rc = resource_perms_changed(tx)) != OK)
		goto out;
	rc = role_load(tx, c->name, &c->row);
out:
	json_decref(changes);
	json_decref(want);
	json_decref(known);
	json_decref(old);
	return (rc);
}

/* 403 unless the caller's role grants roles:<action>:all. */
static int
roles_caller(struct request *req, const char *action)
{
	if (resource_scope(req->db, req->caller, "roles", action) == SCOPE_ALL)
		return (OK);
	http_problem(req, ERR_FORBIDDEN, NULL, "You may not %s roles.",
	    strcmp(action, "read") == 0 ? "read" : "change");
	return (ERR_FORBIDDEN);
}

/* GET /v1/roles */
void
people_roles_list(struct request *req)
{
	struct tx *tx;
	json_t	  *data = NULL;
	int	   rc;

	if (roles_caller(req, "read") != OK)
		return;
	if ((rc = http_read_tx(req, &tx)) == OK)
		rc = roles_load(tx, &data);
	if (rc != OK) {
		http_problem(req, rc, NULL, "The roles cannot be read.");
		return;
	}
	http_json(req, 200, json_pack("{s:o}", "data", data));
}

/* GET /v1/roles/{name}, with its ETag */
void
people_role_get(struct request *req)
{
	struct tx *tx;
	json_t	  *row = NULL;
	char	   etag[48];
	int	   rc;

	if (roles_caller(req, "read") != OK)
		return;
	if ((rc = http_read_tx(req, &tx)) == OK)
		rc = role_load(tx, http_param(req, "name"), &row);
	if (rc != OK) {
		http_problem(req, rc, NULL,
		    rc == ERR_NOT_FOUND ? "No such role."
					: "The role cannot be read.");
		return;
	}
	resource_etag_row(row, etag);
	http_header_add(req, "ETag", etag);
	http_json(req, 200, row);
}

/* GET /v1/permissions: every permission a role may be granted. */
void
people_permissions_list(struct request *req)
{
	struct tx   *tx;
	struct stmt *st;
	json_t	    *data;
	int	     rc, step = STORE_DONE;

	if (roles_caller(req, "read") != OK)
		return;
	if ((rc = http_read_tx(req, &tx)) != OK) {
		http_problem(req, rc, NULL, "The permissions cannot be read.");
		return;
	}
	data = json_array();
	st = store_prepare(tx,
	    "SELECT name, description FROM permissions "
	    "ORDER BY name");
	while (data != NULL && (step = store_step(st)) == STORE_ROW &&
	    json_array_size(data) < PERMISSIONS_MAX)
		json_array_append_new(data,
		    json_pack("{s:s,s:s}", "name", store_col_text(st, 0),
			"description", store_col_text(st, 1)));
	store_finalize(st);
	if (data == NULL || (step != STORE_DONE && step != STORE_ROW)) {
		json_decref(data);
		http_problem(req, data == NULL ? ERR_NOMEM : step, NULL,
		    "The permissions cannot be read.");
		return;
	}
	http_json(req, 200, json_pack("{s:o}", "data", data));
}

/*
 * The body of a PUT: {"permissions": [names]} and nothing else, each name
 * a string of 1 to PERMISSION_NAME_MAX bytes, at most PERMISSIONS_MAX of
 * them; 422 VALIDATION_FAILED with an entry per fault otherwise. *want
 * is borrowed from the body.
 */
static int
body_check(struct request *req, json_t **want)
{
	json_t	   *errs, *v;
	const char *k;
	char	    field[48], detail[64];
	size_t	    i, n;

	if ((errs = json_array()) == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "Out of memory.");
		return (ERR_NOMEM);
	}
	json_object_foreach(req->json, k, v) {
		if (strcmp(k, "permissions") != 0)
			resource_field_err(
			    errs, k, "unknown", "not a member of this body");
	}
	*want = json_object_get(req->json, "permissions");
	if (!json_is_object(req->json))
		resource_field_err(
		    errs, "", "type", "the body is {\"permissions\": [names]}");
	else if (*want == NULL)
		resource_field_err(errs, "permissions", "required",
		    "the role's whole set of permissions");
	else if (!json_is_array(*want))
		resource_field_err(errs, "permissions", "type",
		    "an array of permission names");
	else if (json_array_size(*want) > PERMISSIONS_MAX) {
		snprintf(detail, sizeof(detail), "at most %d names",
		    PERMISSIONS_MAX);
		resource_field_err(errs, "permissions", "too_many", detail);
	} else
		json_array_foreach(*want, i, v) {
			n = json_is_string(v) ? json_string_length(v) : 0;
			if (n > 0 && n <= PERMISSION_NAME_MAX &&
			    strlen(json_string_value(v)) == n)
				continue;
			snprintf(field, sizeof(field), "permissions[%zu]", i);
			snprintf(detail, sizeof(detail),
			    "a permission's name (1 to %d bytes)",
			    PERMISSION_NAME_MAX);
			resource_field_err(errs, field, "type", detail);
		}
	return (resource_errs_answer(req, errs, "The permissions"));
}

/* Why role may not be granted perm (PERM_*), for people. */
static const char *
refused_why(int why)
{
	return (why == PERM_ADMIN_ONLY
		? "only the admin role may be granted it: it decides who may "
		  "do what"
		: "only a staff role may be granted a permission over "
		  "everyone's rows");
}

/* 422 PERMISSION_NOT_GRANTABLE, an entry per name refused. */
static void
refused_answer(struct request *req, struct role_change *c, json_t *errs)
{
	json_t *v;
	char	field[48], detail[256];
	size_t	i, k;
	int	why;

	json_array_foreach(c->refused, i, v) {
		k = (size_t)json_integer_value(json_array_get(v, 0));
		why = (int)json_integer_value(json_array_get(v, 1));
		snprintf(field, sizeof(field), "permissions[%zu]", k);
		snprintf(detail, sizeof(detail), "%.128s: %s",
		    json_string_value(json_array_get(c->want, k)),
		    refused_why(why));
		resource_field_err(errs, field,
		    why == PERM_ADMIN_ONLY ? "admin_only" : "staff_only",
		    detail);
	}
	http_problem_ext(req, ERR_INVALID, "PERMISSION_NOT_GRANTABLE",
	    json_pack("{s:o}", "errors", errs),
	    "The role %s may not be granted %zu of the permissions.", c->name,
	    json_array_size(c->refused));
}

/* Answer the change's outcome. */
static void
change_answer(struct request *req, struct role_change *c, int rc)
{
	json_t *errs, *v;
	char	etag[48], field[48], detail[192];
	size_t	i, k;

	switch (rc) {
	case OK:
		resource_etag_row(c->row, etag);
		http_header_add(req, "ETag", etag);
		http_json(req, 200, json_incref(c->row));
		return;
	case ERR_NOT_FOUND:
		http_problem(req, rc, NULL, "No such role.");
		return;
	case ERR_PRECONDITION:
		http_problem(req, rc, NULL,
		    "The role changed since it was read (If-Match): read it "
		    "again.");
		return;
	case ERR_CONFLICT:
		http_problem(req, rc, "ADMIN_LOCKOUT",
		    "The admin role keeps %s: without it no admin could "
		    "change roles again.",
		    ROLES_UPDATE);
		return;
	case ERR_UNAVAILABLE:
		if (!c->pending)
			break;
		http_problem(req, rc, "MIGRATIONS_PENDING",
		    "Roles cannot be changed until migration 0023 is applied: "
		    "run `carebase migrate`.");
		return;
	case ERR_INVALID:
		if ((errs = json_array()) == NULL)
			break;
		if (json_array_size(c->refused) > 0) {
			refused_answer(req, c, errs);
			return;
		}
		json_array_foreach(c->unknown, i, v) {
			k = (size_t)json_integer_value(v);
			snprintf(field, sizeof(field), "permissions[%zu]", k);
			snprintf(detail, sizeof(detail),
			    "no permission is named \"%.128s\" "
			    "(GET /v1/permissions lists them)",
			    json_string_value(json_array_get(c->want, k)));
			resource_field_err(
			    errs, field, "unknown_permission", detail);
		}
		http_problem_ext(req, rc, "UNKNOWN_PERMISSION",
		    json_pack("{s:o}", "errors", errs),
		    "%zu of the names are no permission.",
		    json_array_size(c->unknown));
		return;
	}
	http_problem(req, rc, NULL, "The role's permissions were not changed.");
}

/* PUT /v1/roles/{name}/permissions {"permissions": [names]} */
void
people_role_permissions_put(struct request *req)
{
	struct role_change c;
	json_t		  *want;
	int		   rc;

	if (roles_caller(req, "update") != OK || body_check(req, &want) != OK)
		return;
	memset(&c, 0, sizeof(c));
	c.req = req;
	c.who = req->caller;
	c.name = http_param(req, "name");
	c.want = want;
	c.if_match = http_header(req, "If-Match");
	/* The write sees what the request's reads saw at least. */
	http_read_tx_end(req);
	rc = store_run(req->db, STORE_TX_WRITE, role_set_tx, &c);
	change_answer(req, &c, rc);
	change_reset(&c);
}

/* The command line */

int
people_cli_roles(struct store *db, int argc, char **argv)
{
	if (argc == 1 && strcmp(argv[0], "list") == 0)
		return (cli_list(db));
	if (argc == 1 && strcmp(argv[0], "permissions") == 0)
		return (cli_permissions(db));
	if (argc >= 3 && strcmp(argv[0], "set") == 0)
		return (cli_set(db, argc - 1, argv + 1));
	fprintf(stderr,
	    "usage: carebase roles list\n"
	    "       carebase roles permissions\n"
	    "       carebase roles set ROLE PERMISSION... | roles set ROLE "
	    "--none\n");
	return (ERR_USAGE);
}

/* One line a role: name, is_staff, its permissions joined by commas. */
static int
cli_list(struct store *db)
{
	struct tx *tx;
	json_t	  *data = NULL, *row, *v;
	size_t	   i, k;
	int	   rc;

	if ((rc = store_tx_begin(db, STORE_TX_READ, &tx)) != OK)
		return (rc);
	rc = roles_load(tx, &data);
	store_tx_rollback(tx);
	if (rc != OK) {
		fprintf(stderr, "carebase: roles list: %s\n", err_code(rc));
		return (rc);
	}
	printf("role\tis_staff\tpermissions\n");
	json_array_foreach(data, i, row) {
		printf("%s\t%s\t",
		    json_string_value(json_object_get(row, "name")),
		    json_is_true(json_object_get(row, "is_staff")) ? "true"
								   : "false");
		json_array_foreach(json_object_get(row, "permissions"), k, v) {
			printf("%s%s", k > 0 ? "," : "", json_string_value(v));
		}
		printf("\n");
	}
	json_decref(data);
	return (OK);
}

static int
cli_permissions(struct store *db)
{
	struct tx   *tx;
	struct stmt *st;
	int	     rc, step;

	if ((rc = store_tx_begin(db, STORE_TX_READ, &tx)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "SELECT name, description FROM permissions "
	    "ORDER BY name");
	printf("permission\tdescription\n");
	while ((step = store_step(st)) == STORE_ROW)
		printf(
		    "%s\t%s\n", store_col_text(st, 0), store_col_text(st, 1));
	store_finalize(st);
	store_tx_rollback(tx);
	return (step == STORE_DONE ? OK : ERR_DB);
}

/* roles set ROLE PERMISSION... | roles set ROLE --none */
static int
cli_set(struct store *db, int argc, char **argv)
{
	struct role_change c;
	json_t		  *want, *v;
	size_t		   i;
	int rc, none = argc == 2 && strcmp(argv[1], "--none") == 0;

	if ((want = json_array()) == NULL)
		return (ERR_NOMEM);
	for (i = 1; !none && i < (size_t)argc; i++)
		json_array_append_new(want, json_string(argv[i]));
	memset(&c, 0, sizeof(c));
	c.name = argv[0];
	c.want = want;
	rc = store_run(db, STORE_TX_WRITE, role_set_tx, &c);
	switch (rc) {
	case OK:
		printf("%s: %zu permissions (%zu added, %zu removed)\n", c.name,
		    json_array_size(json_object_get(c.row, "permissions")),
		    json_array_size(c.added), json_array_size(c.removed));
		break;
	case ERR_NOT_FOUND:
		fprintf(stderr, "carebase: roles set: no role is named %s\n",
		    c.name);
		break;
	case ERR_CONFLICT:
		fprintf(stderr,
		    "carebase: roles set: the admin role keeps %s: without "
		    "it no admin could change roles again\n",
		    ROLES_UPDATE);
		break;
	case ERR_UNAVAILABLE:
		if (!c.pending)
			goto failed;
		fprintf(stderr,
		    "carebase: roles set: migrations are pending (0023): run "
		    "carebase migrate\n");
		break;
	case ERR_INVALID:
		json_array_foreach(c.refused, i, v) {
			fprintf(stderr,
			    "carebase: roles set: PERMISSION_NOT_GRANTABLE: "
			    "%s may not be granted %s: %s\n",
			    c.name,
			    json_string_value(json_array_get(want,
				(size_t)json_integer_value(
				    json_array_get(v, 0)))),
			    refused_why(
				(int)json_integer_value(json_array_get(v, 1))));
		}
		json_array_foreach(c.unknown, i, v) {
			fprintf(stderr,
			    "carebase: roles set: no permission is named %s "
			    "(`carebase roles permissions` lists them)\n",
			    json_string_value(json_array_get(
				want, (size_t)json_integer_value(v))));
		}
		break;
	default:
failed:
		fprintf(stderr, "carebase: roles set: %s\n", err_code(rc));
		break;
	}
	change_reset(&c);
	json_decref(want);
	return (rc);
}
