/*
 * Partner access rows as staff and their holders see them: create (the
 * code is made here and answered once), list, read, change, delete, and
 * GET /v1/me/partner-access. Redeeming is in codes.c.
 *
 * Who sees which rows (permissions partner_access:<action>:<scope>):
 *   all	admins: every row, any partner, 0 to 50 therapy sessions;
 *   related	partner admins: the rows of the partner they administer
 *		(an active partner_admins row of an active partner), 0 to 6
 *		therapy sessions; another partner's row answers 404, and
 *		naming another partner on create answers 403;
 *   own	members: the rows they redeemed (read only).
 * Deleted rows (deleted_at) are seen by nobody. Every write is audited
 * without the code.
 *
 * A row is answered with an ETag, a hash of the row as answered, so it
 * changes with every spent or given-back therapy session. PATCH honours
 * If-Match (412 when the row changed) and requires it (428
 * PRECONDITION_REQUIRED) for therapy_sessions_remaining: that is an
 * absolute value, and without it a session the booking webhook spends
 * between the admin's read and write would be lost. The change is a
 * compare-and-set as well: it applies only while remaining and redeemed
 * are what the admin read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "learning/learning.h"
#include "module.h"
#include "partners/partners_int.h"
#include "resource/hooks.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "store/store.h"

#define CODE_TRIES	8 /* fresh codes tried when one is taken */
#define ACCESS_ETAG_LEN 48
/* clang-format off */
#define FROM_ACCESS	" FROM partner_access a JOIN partners p ON " \
			"p.id = a.partner_id WHERE a.deleted_at IS NULL"
/* clang-format on */

/* One request on partner_access rows, run by store_run. */
struct aop {
	struct request	 *req;
	struct principal *who;
	enum scope	  scope;
	const char	 *id;
	json_t		 *body; /* validated input */
	json_t		 *row;	/* answer */
	char		  code[PARTNER_CODE_LEN + 1];
};

static int scope_of(struct tx *, const struct principal *, enum scope,
    const char **cond, char *val);
static int row_in_scope(struct tx *, struct aop *, json_t **);
static int input_check(
    struct request *, json_t *body, int creating, enum scope);
static json_t *time_or_null(struct stmt *, int);
static void    access_etag(const json_t *row, char *out);
static void    answer_row(struct request *, int status, json_t *row);
static int     create_tx(struct tx *, void *);
static int     update_tx(struct tx *, void *);
static int     delete_tx(struct tx *, void *);
static int     read_tx(struct tx *, void *);
static int list_args(struct request *, const char **partner, const char **user,
    int *active, int *redeemed, const char **after, int64_t *limit);

/* The members a create or change may name, validated by the resource
 * layer's validator (this declaration is not registered: the routes
 * are this file's). */
static const struct field access_fields[] = {
	{ "partner_id", FIELD_UUID, FIELD_CREATE_ONLY, 0, 0, NULL, NULL,
	    "partners", 0, "the partner; a partner admin's own by default" },
	{ "feature_live_chat", FIELD_BOOL, 0, 0, 0, NULL, "false", NULL, 0,
	    "grants one-to-one live chat" },
	{ "feature_therapy", FIELD_BOOL, 0, 0, 0, NULL, "false", NULL, 0,
	    "grants therapy sessions" },
	{ "therapy_sessions_remaining", FIELD_INT, 0, 0,
	    PARTNER_SESSIONS_MAX_ALL, NULL, "0", NULL, 0,
	    "0 to 6 (partner admins) or 0 to 50 (admins)" },
	{ "is_active", FIELD_BOOL, 0, 0, 0, NULL, "true", NULL, 0,
	    "false: the code stops working and the grant ends" },
};

static const struct resource access_input = {
	.name = "partner_access",
	.path = "/v1/partner-access",
	.table = "partner_access",
	.fields = access_fields,
	.nfields = NELEM(access_fields),
};

/* Rows */

static json_t *
time_or_null(struct stmt *st, int i)
{
	char iso[ISO_TIME_LEN];

	if (store_col_is_null(st, i))
		return (json_null());
	return (json_string(time_format_iso(store_col_int64(st, i), iso)));
}

json_t *
access_row(struct stmt *st, int staff)
{
	json_t *o;

	o = json_pack("{s:s,s:s,s:s,s:b,s:b,s:I,s:I,s:b,s:o,s:o}", "id",
	    store_col_text(st, 0), "partner_id", store_col_text(st, 1),
	    "partner_name", store_col_text(st, 2), "feature_live_chat",
	    store_col_int64(st, 5) != 0, "feature_therapy",
	    store_col_int64(st, 6) != 0, "therapy_sessions_remaining",
	    (json_int_t)store_col_int64(st, 7), "therapy_sessions_redeemed",
	    (json_int_t)store_col_int64(st, 8), "is_active",
	    store_col_int64(st, 9) != 0, "activated_at", time_or_null(st, 10),
	    "created_at", time_or_null(st, 11));
	if (o != NULL && staff) {
		json_object_set_new(o, "created_by",
		    store_col_is_null(st, 3)
			? json_null()
			: json_string(store_col_text(st, 3)));
		json_object_set_new(o, "user_id",
		    store_col_is_null(st, 4)
			? json_null()
			: json_string(store_col_text(st, 4)));
		json_object_set_new(o, "updated_at", time_or_null(st, 12));
	}
	return (o);
}

/*
 * The ETag of a row as answered (out: ACCESS_ETAG_LEN): a weak hash of its
 * members, sorted, so any change of the row changes it, even two within
 * one millisecond of updated_at.
 */
static void
access_etag(const json_t *row, char *out)
{
	unsigned char h[16];
	char	      hex[33], *s;

	s = json_dumps(row, JSON_COMPACT | JSON_SORT_KEYS);
	crypto_generichash(h, sizeof(h),
	    (const unsigned char *)(s != NULL ? s : ""),
	    s != NULL ? strlen(s) : 0, NULL, 0);
	free(s);
	hex_encode(h, sizeof(h), hex);
	snprintf(out, ACCESS_ETAG_LEN, "W/\"%s\"", hex);
}

/* Answer row (taken) with its ETag. */
static void
answer_row(struct request *req, int status, json_t *row)
{
	char etag[ACCESS_ETAG_LEN];

	access_etag(row, etag);
	http_header_add(req, "ETag", etag);
	http_json(req, status, row);
}

int
access_load(struct tx *tx, const char *id, int staff, json_t **out)
{
	struct stmt *st;
	int	     rc;

	*out = NULL;
	st = store_prepare(
	    tx, "SELECT " ACCESS_COLUMNS FROM_ACCESS " AND a.id = ?");
	store_bind_text(st, 1, id);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		rc = (*out = access_row(st, staff)) != NULL ? OK : ERR_NOMEM;
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	}
	store_finalize(st);
	return (rc);
}

/*
 * The row condition of the caller's scope and the value it binds (val,
 * 37 bytes). ERR_NOT_FOUND for a partner admin without an active partner
 * and for no scope.
 */
static int
scope_of(struct tx *tx, const struct principal *who, enum scope scope,
    const char **cond, char *val)
{
	val[0] = '\0';
	switch (scope) {
	case SCOPE_ALL:
		*cond = "";
		return (OK);
	case SCOPE_RELATED:
		*cond = " AND a.partner_id = ?";
		return (partners_admin_of(tx, who->user_id, val));
	case SCOPE_OWN:
		*cond = " AND a.user_id = ?";
		strlcpy_cb(val, who->user_id, UUID_STR_LEN);
		return (OK);
	default:
		return (ERR_NOT_FOUND);
	}
}

/* The row a->id if the caller's scope covers it, else ERR_NOT_FOUND. */
static int
row_in_scope(struct tx *tx, struct aop *a, json_t **out)
{
	struct stmt *st;
	const char  *cond;
	char	     sql[1024], val[UUID_STR_LEN];
	int	     rc;

	*out = NULL;
	if ((rc = scope_of(tx, a->who, a->scope, &cond, val)) != OK)
		return (rc);
	snprintf(sql, sizeof(sql),
	    "SELECT " ACCESS_COLUMNS FROM_ACCESS " AND a.id = ?%s", cond);
	st = store_prepare(tx, sql);
	store_bind_text(st, 1, a->id);
	if (cond[0] != '\0')
		store_bind_text(st, 2, val);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		rc = (*out = access_row(st, a->scope != SCOPE_OWN)) != NULL
		    ? OK
		    : ERR_NOMEM;
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	}
	store_finalize(st);
	return (rc);
}

/*
 * Validate a create or change (422 with an entry per bad field); below
 * scope all therapy_sessions_remaining stops at 6 and is set on create
 * only.
 */
static int
input_check(struct request *req, json_t *body, int creating, enum scope scope)
{
	json_t *v, *errs;
	int	rc;

	if (!creating && json_is_object(body) && json_object_size(body) == 0) {
		http_problem_ext(req, ERR_INVALID, NULL,
		    json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "field", "",
			"code", "required", "detail",
			"name at least one field to change"),
		    "The change names no field.");
		return (ERR_INVALID);
	}
	if ((rc = resource_validate(
		 req, &access_input, body, creating, scope)) != OK)
		return (rc);
	v = json_object_get(body, "therapy_sessions_remaining");
	if (scope == SCOPE_ALL || v == NULL)
		return (OK);
	errs = json_array();
	if (!creating)
		/* A partner admin sets the allowance once, when making the
		 * access: refilling a spent one is for admins. */
		partners_err(errs, "therapy_sessions_remaining", "staff_only",
		    "only an admin changes the sessions of an existing "
		    "access");
	else if (json_integer_value(v) > PARTNER_SESSIONS_MAX_RELATED)
		partners_err(errs, "therapy_sessions_remaining", "too_large",
		    "must be at most 6 for a partner admin");
	return (partners_errs_answer(req, errs, "The partner access"));
}

/* POST /v1/partner-access */

void
partner_access_create(struct request *req)
{
	struct aop a;
	char	  *loc, etag[ACCESS_ETAG_LEN];
	int	   rc;

	memset(&a, 0, sizeof(a));
	a.req = req;
	a.who = req->caller;
	a.scope = resource_scope(req->db, a.who, "partner_access", "create");
	if (a.scope == SCOPE_NONE || a.scope == SCOPE_OWN) {
		http_problem(req, ERR_FORBIDDEN, NULL,
		    "You may not create "
		    "partner accesses.");
		return;
	}
	if ((a.body = json_deep_copy(req->json)) == NULL)
		a.body = json_object();
	if (input_check(req, a.body, 1, a.scope) != OK)
		goto out;
	rc = store_run(req->db, STORE_TX_WRITE, create_tx, &a);
	if (rc != OK) {
		if (!req->responded)
			http_problem(req, rc, NULL,
			    "The partner access could "
			    "not be created.");
		goto out;
	}
	/* The ETag is of the row without its code, as GET answers it. */
	access_etag(a.row, etag);
	http_header_add(req, "ETag", etag);
	/* The code is shown this once: only its keyed hash is kept. */
	json_object_set_new(a.row, "code", json_string(a.code));
	if ((loc = arena_printf(req->arena, "/v1/partner-access/%s",
		 json_string_value(json_object_get(a.row, "id")))) != NULL)
		http_header_add(req, "Location", loc);
	http_json(req, 201, a.row);
	a.row = NULL;
out:
	sodium_memzero(a.code, sizeof(a.code));
	json_decref(a.row);
	json_decref(a.body);
}

static int
create_tx(struct tx *tx, void *arg)
{
	struct aop  *a = arg;
	struct stmt *st;
	const char  *given;
	json_t	    *changes;
	char	     partner[UUID_STR_LEN], id[UUID_STR_LEN];
	char	     hash[PARTNER_CODE_HASH_LEN];
	int64_t	     now = time_now_ms(), n = 0;
	int	     rc, active, i;

	json_decref(a->row);
	a->row = NULL;
	given = json_string_value(json_object_get(a->body, "partner_id"));
	if (a->scope == SCOPE_RELATED) {
		if ((rc = partners_admin_of(tx, a->who->user_id, partner)) ==
		    ERR_NOT_FOUND) {
			http_problem(a->req, ERR_FORBIDDEN, NULL,
			    "You are not "
			    "an active partner admin of an active partner.");
			return (ERR_FORBIDDEN);
		}
		if (rc != OK)
			return (rc);
		if (given != NULL && strcmp(given, partner) != 0) {
			http_problem(a->req, ERR_FORBIDDEN, NULL,
			    "A partner "
			    "admin creates accesses for their own partner "
			    "only.");
			return (ERR_FORBIDDEN);
		}
	} else {
		if (given == NULL ||
		    (rc = partners_find(tx, given, partner, NULL, &active)) ==
			ERR_NOT_FOUND ||
		    (rc == OK && !active)) {
			http_problem_ext(a->req, ERR_INVALID, NULL,
			    json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "field",
				"partner_id", "code",
				given == NULL ? "required" : "inactive",
				"detail",
				given == NULL ? "name the "
						"partner"
					      : "the partner is not active"),
			    "The partner access is not valid.");
			return (ERR_INVALID);
		}
		if (rc != OK)
			return (rc);
	}
	uuid_v7(id);
	for (i = 0; i < CODE_TRIES && n == 0; i++) {
		partner_code_new(a->code);
		partner_code_hash(a->code, hash);
		st = store_prepare(tx,
		    "INSERT INTO partner_access (id, "
		    "partner_id, created_by, code_hash, feature_live_chat, "
		    "feature_therapy, therapy_sessions_remaining, is_active, "
		    "created_at, updated_at, updated_by) VALUES (?, ?, ?, ?, "
		    "?, ?, ?, ?, ?, ?, ?) ON CONFLICT (code_hash) DO NOTHING");
		store_bind_text(st, 1, id);
		store_bind_text(st, 2, partner);
		store_bind_text(st, 3, a->who->user_id);
		store_bind_text(st, 4, hash);
		store_bind_bool(st, 5,
		    json_is_true(
			json_object_get(a->body, "feature_live_chat")));
		store_bind_bool(st, 6,
		    json_is_true(json_object_get(a->body, "feature_therapy")));
		store_bind_int64(st, 7,
		    json_integer_value(json_object_get(
			a->body, "therapy_sessions_remaining")));
		store_bind_bool(
		    st, 8, json_is_true(json_object_get(a->body, "is_active")));
		store_bind_int64(st, 9, now);
		store_bind_int64(st, 10, now);
		store_bind_text(st, 11, a->who->user_id);
		rc = store_step(st);
		n = store_changes(st);
		store_finalize(st);
		if (rc != STORE_DONE)
			return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
	}
	sodium_memzero(hash, sizeof(hash));
	if (n == 0)
		return (ERR_CONFLICT); /* eight taken codes in a row */
	changes = json_pack("{s:[s,s,s,s,s],s:{s:s,s:O,s:O,s:O,s:O}}", "fields",
	    "partner_id", "feature_live_chat", "feature_therapy",
	    "therapy_sessions_remaining", "is_active", "new", "partner_id",
	    partner, "feature_live_chat",
	    json_object_get(a->body, "feature_live_chat"), "feature_therapy",
	    json_object_get(a->body, "feature_therapy"),
	    "therapy_sessions_remaining",
	    json_object_get(a->body, "therapy_sessions_remaining"), "is_active",
	    json_object_get(a->body, "is_active"));
	rc = audit_append(tx, a->who, a->req, "partner_access.create",
	    "partner_access", id, changes);
	json_decref(changes);
	if (rc != OK)
		return (rc);
	return (access_load(tx, id, 1, &a->row));
}

/* GET /v1/partner-access/{id} */

static int
read_tx(struct tx *tx, void *arg)
{
	struct aop *a = arg;

	json_decref(a->row);
	return (row_in_scope(tx, a, &a->row));
}

void
partner_access_get(struct request *req)
{
	struct aop a;
	int	   rc;

	memset(&a, 0, sizeof(a));
	a.req = req;
	a.id = http_param(req, "id");
	a.who = req->caller;
	a.scope = resource_scope(req->db, a.who, "partner_access", "read");
	if (a.scope == SCOPE_NONE || a.id == NULL || !uuid_valid(a.id)) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such row.");
		return;
	}
	if ((rc = store_run(req->db, STORE_TX_READ, read_tx, &a)) != OK) {
		json_decref(a.row);
		http_problem(req, rc, NULL,
		    rc == ERR_NOT_FOUND ? "No such "
					  "row."
					: "The partner access cannot be read.");
		return;
	}
	answer_row(req, 200, a.row);
}

/* PATCH /v1/partner-access/{id} */

void
partner_access_update(struct request *req)
{
	struct aop  a;
	const char *im;
	int	    rc;

	memset(&a, 0, sizeof(a));
	a.req = req;
	a.id = http_param(req, "id");
	a.who = req->caller;
	a.scope = resource_scope(req->db, a.who, "partner_access", "update");
	if (a.scope == SCOPE_NONE || a.scope == SCOPE_OWN) {
		http_problem(req, ERR_FORBIDDEN, NULL,
		    "You may not change "
		    "partner accesses.");
		return;
	}
	if (a.id == NULL || !uuid_valid(a.id)) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such row.");
		return;
	}
	if ((a.body = json_deep_copy(req->json)) == NULL)
		a.body = json_object();
	if (input_check(req, a.body, 0, a.scope) != OK)
		goto out;
	/* "*" matches any state: it would overwrite a spend all the same. */
	if (json_object_get(a.body, "therapy_sessions_remaining") != NULL &&
	    ((im = http_header(req, "If-Match")) == NULL ||
		(im += strspn(im, " \t"))[0] == '*')) {
		http_problem(req, ERR_PRECONDITION_REQUIRED, NULL,
		    "Changing "
		    "therapy_sessions_remaining needs If-Match with the ETag "
		    "of the access as last read (not *), so that no session "
		    "spent since is overwritten.");
		goto out;
	}
	rc = store_run(req->db, STORE_TX_WRITE, update_tx, &a);
	if (rc != OK) {
		if (!req->responded)
			http_problem(req, rc, NULL,
			    rc == ERR_NOT_FOUND ? "No "
						  "such row."
				: rc == ERR_PRECONDITION
				? "The "
				  "partner access has changed since it was "
				  "read "
				  "(If-Match): read it again."
				: "The partner access "
				  "could not be changed.");
		goto out;
	}
	answer_row(req, 200, a.row);
	a.row = NULL;
out:
	json_decref(a.row);
	json_decref(a.body);
}

static int
update_tx(struct tx *tx, void *arg)
{
	static const char *const cols[] = { "feature_live_chat",
		"feature_therapy", "therapy_sessions_remaining", "is_active",
		NULL };
	struct aop		*a = arg;
	struct stmt		*st;
	const char		*im;
	json_t *old = NULL, *changes = NULL, *fields, *was, *now_v, *v;
	char	sql[512], etag[ACCESS_ETAG_LEN];
	size_t	len;
	int64_t changed;
	int	rc, i, n, cas;

	json_decref(a->row);
	a->row = NULL;
	if ((rc = row_in_scope(tx, a, &old)) != OK)
		return (rc);
	access_etag(old, etag);
	if ((im = http_header(a->req, "If-Match")) != NULL &&
	    !resource_if_match(im, etag)) {
		rc = ERR_PRECONDITION;
		goto out;
	}
	/* Sessions are set only while they are what was read. */
	cas = json_object_get(a->body, "therapy_sessions_remaining") != NULL;
	len = (size_t)snprintf(sql, sizeof(sql),
	    "UPDATE partner_access SET "
	    "updated_at = ?, updated_by = ?");
	for (i = 0; cols[i] != NULL; i++)
		if (json_object_get(a->body, cols[i]) != NULL)
			len += (size_t)snprintf(
			    sql + len, sizeof(sql) - len, ", %s = ?", cols[i]);
	snprintf(sql + len, sizeof(sql) - len, " WHERE id = ?%s",
	    cas ? " AND therapy_sessions_remaining = ? AND "
		  "therapy_sessions_redeemed = ?"
		: "");
	st = store_prepare(tx, sql);
	store_bind_int64(st, 1, time_now_ms());
	store_bind_text(st, 2, a->who->user_id);
	for (i = 0, n = 3; cols[i] != NULL; i++) {
		if ((v = json_object_get(a->body, cols[i])) == NULL)
			continue;
		if (json_is_integer(v))
			store_bind_int64(st, n++, json_integer_value(v));
		else
			store_bind_bool(st, n++, json_is_true(v));
	}
	store_bind_text(st, n++, a->id);
	if (cas) {
		store_bind_int64(st, n++,
		    json_integer_value(
			json_object_get(old, "therapy_sessions_remaining")));
		store_bind_int64(st, n,
		    json_integer_value(
			json_object_get(old, "therapy_sessions_redeemed")));
	}
	rc = store_step(st);
	changed = store_changes(st);
	store_finalize(st);
	if (rc != STORE_DONE) {
		rc = rc == ERR_BUSY ? ERR_BUSY : ERR_DB;
		goto out;
	}
	if (changed != 1) {
		/* A session was spent or given back since the read above. */
		rc = ERR_PRECONDITION;
		goto out;
	}
	changes = json_pack("{s:[],s:{},s:{}}", "fields", "old", "new");
	fields = json_object_get(changes, "fields");
	was = json_object_get(changes, "old");
	now_v = json_object_get(changes, "new");
	for (i = 0; cols[i] != NULL; i++) {
		if ((v = json_object_get(a->body, cols[i])) == NULL)
			continue;
		json_array_append_new(fields, json_string(cols[i]));
		json_object_set(was, cols[i], json_object_get(old, cols[i]));
		json_object_set(now_v, cols[i], v);
	}
	if ((rc = audit_append(tx, a->who, a->req, "partner_access.update",
		 "partner_access", a->id, changes)) != OK)
		goto out;
	if ((rc = row_in_scope(tx, a, &a->row)) != OK)
		goto out;
	if ((rc = learning_access_changed(
		 tx, json_string_value(json_object_get(old, "user_id")))) != OK)
		goto out;
	rc = hooks_changed(tx, CHANGE_PERSON, json_string_value(json_object_get(old, "user_id")));
out:
	json_decref(changes);
	json_decref(old);
	return (rc);
}

/* DELETE /v1/partner-access/{id}: soft; the code stops working. */

void
partner_access_delete(struct request *req)
{
	struct aop a;
	int	   rc;

	memset(&a, 0, sizeof(a));
	a.req = req;
	a.id = http_param(req, "id");
	a.who = req->caller;
	a.scope = resource_scope(req->db, a.who, "partner_access", "delete");
	if (a.scope == SCOPE_NONE || a.scope == SCOPE_OWN) {
		http_problem(req, ERR_FORBIDDEN, NULL,
		    "You may not delete "
		    "partner accesses.");
		return;
	}
	if (a.id == NULL || !uuid_valid(a.id)) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such row.");
		return;
	}
	rc = store_run(req->db, STORE_TX_WRITE, delete_tx, &a);
	json_decref(a.row);
	if (rc != OK)
		http_problem(req, rc, NULL,
		    rc == ERR_NOT_FOUND
			? "No such "
			  "row."
			: "The partner access could not be deleted.");
	else
		http_send(req, 204, "application/json", NULL, 0);
}

static int
delete_tx(struct tx *tx, void *arg)
{
	struct aop  *a = arg;
	struct stmt *st;
	json_t	    *changes;
	int64_t	     now = time_now_ms();
	int	     rc;

	json_decref(a->row);
	a->row = NULL;
	if ((rc = row_in_scope(tx, a, &a->row)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "UPDATE partner_access SET deleted_at = ?, "
	    "is_active = 0, updated_at = ?, updated_by = ? WHERE id = ?");
	store_bind_int64(st, 1, now);
	store_bind_int64(st, 2, now);
	store_bind_text(st, 3, a->who->user_id);
	store_bind_text(st, 4, a->id);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
	changes = json_pack("{s:[s,s]}", "fields", "deleted_at", "is_active");
	rc = audit_append(tx, a->who, a->req, "partner_access.delete",
	    "partner_access", a->id, changes);
	json_decref(changes);
	if (rc == OK)
		rc = learning_access_changed(
		    tx, json_string_value(json_object_get(a->row, "user_id")));
	if (rc == OK)
		rc = hooks_changed(tx, CHANGE_PERSON, json_string_value(json_object_get(a->row, "user_id")));
	return (rc);
}

/* GET /v1/partner-access */

/* ?partner_id= ?user_id= ?is_active= ?redeemed= ?cursor= ?limit= */
static int
list_args(struct request *req, const char **partner, const char **user,
    int *active, int *redeemed, const char **after, int64_t *limit)
{
	static const char *const flags[] = { "is_active", "redeemed" };
	const char		*v, *l;
	json_t			*errs = json_array();
	int			*out[2], i;

	out[0] = active;
	out[1] = redeemed;
	*partner = http_query(req, "partner_id");
	*user = http_query(req, "user_id");
	*after = http_query(req, "cursor");
	*limit = 50;
	if (*partner != NULL && !uuid_valid(*partner))
		partners_err(
		    errs, "partner_id", "invalid_format", "must be a UUID");
	if (*user != NULL && !uuid_valid(*user))
		partners_err(
		    errs, "user_id", "invalid_format", "must be a UUID");
	if (*after != NULL && !uuid_valid(*after))
		partners_err(errs, "cursor", "invalid_format",
		    "must be the next_cursor of a previous page");
	if ((l = http_query(req, "limit")) != NULL &&
	    parse_int64(l, 1, PARTNER_LIST_MAX, limit) != 0)
		partners_err(errs, "limit", "out_of_range", "1 to 200");
	for (i = 0; i < 2; i++) {
		*out[i] = -1;
		if ((v = http_query(req, flags[i])) == NULL)
			continue;
		if (strcmp(v, "true") == 0)
			*out[i] = 1;
		else if (strcmp(v, "false") == 0)
			*out[i] = 0;
		else
			partners_err(
			    errs, flags[i], "type", "must be true or false");
	}
	return (partners_errs_answer(req, errs, "The query"));
}

void
partner_access_list(struct request *req)
{
	struct principal *who;
	struct tx	 *tx = NULL;
	struct stmt	 *st;
	enum scope	  scope;
	const char	 *partner, *user, *after, *cond;
	json_t		 *data = NULL, *last = NULL;
	char		  sql[2048], val[UUID_STR_LEN];
	int64_t		  limit;
	int		  active, redeemed, rc, step, n = 0, b = 1;

	who = req->caller;
	scope = resource_scope(req->db, who, "partner_access", "read");
	if (scope == SCOPE_NONE) {
		http_problem(req, ERR_FORBIDDEN, NULL,
		    "You may not list "
		    "partner accesses.");
		return;
	}
	if (list_args(
		req, &partner, &user, &active, &redeemed, &after, &limit) != OK)
		return;
	if ((rc = store_tx_begin(req->db, STORE_TX_READ, &tx)) != OK)
		goto out;
	if ((rc = scope_of(tx, who, scope, &cond, val)) == ERR_NOT_FOUND) {
		rc = ERR_FORBIDDEN;
		http_problem(req, rc, NULL,
		    "You are not an active partner "
		    "admin of an active partner.");
		goto out;
	}
	if (rc != OK)
		goto out;
	snprintf(sql, sizeof(sql),
	    "SELECT " ACCESS_COLUMNS FROM_ACCESS
	    " AND a.id > ?%s%s%s%s%s ORDER BY a.id LIMIT ?",
	    partner != NULL ? " AND a.partner_id = ?" : "",
	    user != NULL ? " AND a.user_id = ?" : "",
	    active >= 0 ? " AND a.is_active = ?" : "",
	    redeemed == 1	? " AND a.user_id IS NOT NULL"
		: redeemed == 0 ? " AND a.user_id IS NULL"
				: "",
	    cond);
	st = store_prepare(tx, sql);
	store_bind_text(st, b++, after != NULL ? after : "");
	if (partner != NULL)
		store_bind_text(st, b++, partner);
	if (user != NULL)
		store_bind_text(st, b++, user);
	if (active >= 0)
		store_bind_bool(st, b++, active);
	if (cond[0] != '\0')
		store_bind_text(st, b++, val);
	store_bind_int64(st, b, limit + 1);
	data = json_array();
	while ((step = store_step(st)) == STORE_ROW && n < limit) {
		json_array_append_new(data, access_row(st, scope != SCOPE_OWN));
		n++;
	}
	rc = step == STORE_ROW || step == STORE_DONE ? OK : step;
	if (step == STORE_ROW && n > 0)
		last =
		    json_object_get(json_array_get(data, (size_t)n - 1), "id");
	store_finalize(st);
out:
	store_tx_rollback(tx);
	if (rc != OK) {
		json_decref(data);
		if (!req->responded)
			http_problem(req, rc, NULL,
			    "The partner accesses "
			    "cannot be read.");
		return;
	}
	http_json(req, 200,
	    json_pack("{s:o,s:O}", "data", data, "next_cursor",
		last != NULL ? last : json_null()));
}

/* GET /v1/me/partner-access: the caller's own, oldest first. */

void
partner_access_mine(struct request *req)
{
	struct principal *who;
	struct tx	 *tx = NULL;
	struct stmt	 *st;
	json_t		 *data = NULL;
	int		  rc, step;

	who = req->caller;
	if ((rc = store_tx_begin(req->db, STORE_TX_READ, &tx)) != OK)
		goto out;
	st = store_prepare(tx,
	    "SELECT " ACCESS_COLUMNS FROM_ACCESS
	    " AND a.user_id = ? ORDER BY a.activated_at, a.id LIMIT ?");
	store_bind_text(st, 1, who->user_id);
	store_bind_int64(st, 2, PARTNER_LIST_MAX);
	data = json_array();
	while ((step = store_step(st)) == STORE_ROW)
		json_array_append_new(data, access_row(st, 0));
	rc = step == STORE_DONE ? OK : step;
	store_finalize(st);
out:
	store_tx_rollback(tx);
	if (rc != OK) {
		json_decref(data);
		http_problem(req, rc, NULL,
		    "Your partner accesses cannot be "
		    "read.");
		return;
	}
	http_json(req, 200, json_pack("{s:o}", "data", data));
}
