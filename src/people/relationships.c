/*
 * Relationships (the seed's Group): a lead and a follower, guardian_of or
 * practitioner_of, with a status and a consent record.
 *
 *	pending  --consent-->  active  --end-->  ended
 *	pending  --end------>  ended
 *
 * Admins create them (pending) through the resource layer. Consent is
 * recorded by the follower, in the app, when they are old enough to give
 * it themselves; otherwise (a child) by an admin recording consent given
 * offline, e.g. a form signed by the guardian. Only active relationships
 * grant related scope (the resource layer checks status = 'active').
 *
 * Both parties see a relationship, so reads are served here rather than
 * by the generic layer, whose own scope names one owner column.
 *
 * Whether a follower is old enough to consent themselves is the
 * digital-consent rule's answer (consent.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "people/gdpr.h"
#include "people/people_int.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "store/store.h"

/* clang-format off */
#define REL_COLUMNS	"id, lead_id, follower_id, kind, status, consent_at, " \
			"consent_by, consent_method, created_at, updated_at, " \
			"ended_at, created_by, updated_by"
/* clang-format on */
#define REL_LIST_MAX 200
#define REL_LIST_DEF 50

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

const struct resource relationships_resource = {
	.name = "relationships",
	.path = "/v1/relationships",
	.table = "relationships",
	.fields = rel_fields,
	.nfields = NELEM(rel_fields),
	.owner_column = NULL,
	.actions = 1 << ACTION_CREATE,
	.doc =
	    "A link between two users: a guardian and their child, a "
	    "practitioner and their client. Admins create them pending; "
	    "consent "
	    "makes them active, and only active relationships let the lead see "
	    "the follower's data. Both parties can read them.",
	.before_create = rel_before_create,
};

/* One relationship, read for an action. */
struct rel {
	char id[UUID_STR_LEN];
	char lead_id[UUID_STR_LEN];
	char follower_id[UUID_STR_LEN];
	char kind[16];
	char status[16];
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

static int     rel_load(struct tx *, const char *, struct rel *);
static json_t *rel_row(struct stmt *);
static int     rel_visible(
	const struct principal *, const struct rel *, enum scope);
static int  rel_action_tx(struct tx *, void *);
static void rel_action(struct request *, int);
static int  rel_read_tx(struct tx *, const char *, json_t **);
static int  user_live(struct tx *, const char *);
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

static json_t *
rel_row(struct stmt *st)
{
	json_t *o;
	int	i;

	if ((o = json_object()) == NULL)
		return (NULL);
	for (i = 0; i < 13; i++) {
		const char *name = store_col_name(st, i);
		size_t	    n = strlen(name);

		if (n > 3 && strcmp(name + n - 3, "_at") == 0)
			json_object_set_new(o, name,
			    people_json_time(store_col_is_null(st, i),
				store_col_int64(st, i)));
		else if (store_col_is_null(st, i))
			json_object_set_new(o, name, json_null());
		else
			json_object_set_new(
			    o, name, json_string(store_col_text(st, i)));
	}
	return (o);
}

static int
rel_load(struct tx *tx, const char *id, struct rel *r)
{
	struct stmt *st;
	int	     rc;

	memset(r, 0, sizeof(*r));
	st = store_prepare(tx,
	    "SELECT id, lead_id, follower_id, kind, status "
	    "FROM relationships WHERE id = ?");
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
		rc = OK;
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	}
	store_finalize(st);
	return (rc);
}

/* Scope all sees every relationship; own, those the caller is part of. */
static int
rel_visible(const struct principal *who, const struct rel *r, enum scope scope)
{
	if (scope == SCOPE_ALL)
		return (1);
	if (scope == SCOPE_NONE)
		return (0);
	return (strcmp(r->lead_id, who->user_id) == 0 ||
	    strcmp(r->follower_id, who->user_id) == 0);
}

static int
rel_read_tx(struct tx *tx, const char *id, json_t **out)
{
	struct stmt *st;
	int	     rc;

	*out = NULL;
	st = store_prepare(tx,
	    "SELECT " REL_COLUMNS " FROM relationships "
	    "WHERE id = ?");
	store_bind_text(st, 1, id);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		rc = (*out = rel_row(st)) != NULL ? OK : ERR_NOMEM;
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	}
	store_finalize(st);
	return (rc);
}

void
people_relationships_list(struct request *req)
{
	struct principal *who;
	struct tx	 *tx = NULL;
	struct stmt	 *st;
	enum scope	  scope;
	const char	 *q[5],
	    *names[5] = { "kind", "status", "lead_id", "follower_id",
		    "cursor" };
	const char *cols[4] = { "kind", "status", "lead_id", "follower_id" };
	char	   *sql;
	json_t	   *data = NULL, *row;
	int64_t	    limit = REL_LIST_DEF;
	int	    i, nb = 0, rc, step, count = 0;

	who = req->caller;
	if ((scope = resource_scope(req->db, who, "relationships", "read")) ==
	    SCOPE_NONE) {
		http_problem(req, ERR_FORBIDDEN, NULL,
		    "You may not read relationships.");
		return;
	}
	for (i = 0; i < 5; i++)
		q[i] = http_query(req, names[i]);
	if ((q[0] != NULL && !choice_valid(kinds, q[0])) ||
	    (q[1] != NULL && !choice_valid(statuses, q[1])) ||
	    (q[2] != NULL && !uuid_valid(q[2])) ||
	    (q[3] != NULL && !uuid_valid(q[3])) ||
	    (q[4] != NULL && !uuid_valid(q[4])) ||
	    (http_query(req, "limit") != NULL &&
		parse_int64(
		    http_query(req, "limit"), 1, REL_LIST_MAX, &limit) != 0)) {
		http_problem(req, ERR_INVALID, NULL,
		    "A filter is not valid: "
		    "kind and status take their values, lead_id, follower_id "
		    "and cursor a UUID, limit 1 to %d.",
		    REL_LIST_MAX);
		return;
	}
	sql = arena_strdup(req->arena,
	    "SELECT " REL_COLUMNS " FROM relationships WHERE 1 = 1");
	if (scope != SCOPE_ALL)
		sql = arena_printf(req->arena,
		    "%s AND (lead_id = ? OR "
		    "follower_id = ?)",
		    sql);
	for (i = 0; i < 4; i++)
		if (q[i] != NULL)
			sql = arena_printf(
			    req->arena, "%s AND %s = ?", sql, cols[i]);
	if (q[4] != NULL)
		sql = arena_printf(req->arena, "%s AND id > ?", sql);
	sql = arena_printf(req->arena, "%s ORDER BY id LIMIT ?", sql);
	if (sql == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "Out of memory.");
		return;
	}
	if ((rc = store_tx_begin(req->db, STORE_TX_READ, &tx)) != OK)
		goto out;
	st = store_prepare(tx, sql);
	if (scope != SCOPE_ALL) {
		store_bind_text(st, ++nb, who->user_id);
		store_bind_text(st, ++nb, who->user_id);
	}
	for (i = 0; i < 5; i++)
		if (q[i] != NULL)
			store_bind_text(st, ++nb, q[i]);
	store_bind_int64(st, ++nb, limit + 1);
	data = json_array();
	while ((step = store_step(st)) == STORE_ROW && count < limit) {
		if ((row = rel_row(st)) == NULL)
			break;
		json_array_append_new(data, row);
		count++;
	}
	rc = step == STORE_ROW || step == STORE_DONE ? OK : step;
	store_finalize(st);
out:
	store_tx_rollback(tx);
	if (rc != OK) {
		json_decref(data);
		http_problem(
		    req, rc, NULL, "The relationships cannot be read.");
		return;
	}
	row = step == STORE_ROW && count > 0
	    ? json_object_get(json_array_get(data, (size_t)count - 1), "id")
	    : NULL;
	http_json(req, 200,
	    json_pack("{s:o,s:O}", "data", data, "next_cursor",
		row != NULL ? row : json_null()));
}

void
people_relationship_get(struct request *req)
{
	struct principal *who;
	struct tx	 *tx = NULL;
	struct rel	  r;
	enum scope	  scope;
	const char	 *id = http_param(req, "id");
	json_t		 *row = NULL;
	int		  rc;

	who = req->caller;
	scope = resource_scope(req->db, who, "relationships", "read");
	if (id == NULL || !uuid_valid(id)) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such relationship.");
		return;
	}
	if ((rc = store_tx_begin(req->db, STORE_TX_READ, &tx)) != OK)
		goto out;
	if ((rc = rel_load(tx, id, &r)) != OK)
		goto out;
	if (!rel_visible(who, &r, scope)) {
		rc = ERR_NOT_FOUND;
		goto out;
	}
	rc = rel_read_tx(tx, id, &row);
out:
	store_tx_rollback(tx);
	if (rc != OK)
		http_problem(req, rc, NULL,
		    rc == ERR_NOT_FOUND ? "No such relationship."
					: "The relationship cannot be read.");
	else
		http_json(req, 200, row);
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

		json_object_foreach(body, key, v)
		{
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
 *	app, unless they are too young to consent (then an admin records
 *	their guardian's). consent_by names whose consent it is: the lead
 *	for a child's guardian_of, the follower otherwise.
 *   end: an admin, the lead, or the follower (a child cannot end their
 *	guardian's relationship: an admin does).
 * A relationship the caller is not part of answers 404.
 */
static int
rel_action_tx(struct tx *tx, void *arg)
{
	struct rel_action *a = arg;
	struct request	  *req = a->req;
	struct stmt	  *st;
	struct rel	   r;
	enum scope	   read = a->read, write = a->write;
	const char	  *method, *by;
	json_t		  *changes;
	int64_t		   now = time_now_ms();
	int		   rc, minor = 0, is_follower, is_lead;

	if ((rc = rel_load(tx, a->id, &r)) != OK)
		return (rc);
	is_follower = strcmp(r.follower_id, a->who->user_id) == 0;
	is_lead = strcmp(r.lead_id, a->who->user_id) == 0;
	if (write != SCOPE_ALL && !rel_visible(a->who, &r, read) &&
	    !is_follower && !is_lead)
		return (ERR_NOT_FOUND);
	if (a->ending ? strcmp(r.status, "ended") == 0
		      : strcmp(r.status, "pending") != 0)
		return (ERR_CONFLICT);
	if ((rc = people_is_minor(tx, r.follower_id, &minor)) != OK &&
	    rc != ERR_NOT_FOUND)
		return (rc);

	if (a->ending) {
		if (write != SCOPE_ALL && !is_lead &&
		    !(is_follower &&
			!(minor && strcmp(r.kind, "guardian_of") == 0))) {
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
	} else {
		if (write == SCOPE_ALL && !is_follower)
			method = a->method != NULL ? a->method : "signed_form";
		else if (is_follower && !minor)
			method = "in_app";
		else {
			http_problem(req, ERR_FORBIDDEN, "CONSENT_REQUIRED",
			    is_follower ? "You are under the digital-consent "
					  "age: an admin records your "
					  "guardian's consent."
					: "Only the follower or an admin can "
					  "record consent.");
			return (ERR_FORBIDDEN);
		}
		by = minor && strcmp(r.kind, "guardian_of") == 0
		    ? r.lead_id
		    : r.follower_id;
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
	rc = audit_append(tx, a->who, req,
	    a->ending ? "relationships.end" : "relationships.consent",
	    "relationships", r.id, changes);
	json_decref(changes);
	if (rc != OK)
		return (rc);
	json_decref(a->row);
	return (rel_read_tx(tx, r.id, &a->row));
}

int
people_relationships_of(struct tx *tx, const char *user_id, json_t *out)
{
	struct stmt *st;
	json_t	    *row;
	int	     step;

	st = store_prepare(tx,
	    "SELECT " REL_COLUMNS " FROM relationships "
	    "WHERE lead_id = ? OR follower_id = ? ORDER BY id");
	store_bind_text(st, 1, user_id);
	store_bind_text(st, 2, user_id);
	while ((step = store_step(st)) == STORE_ROW)
		if ((row = rel_row(st)) == NULL ||
		    json_array_append_new(out, row) != 0) {
			step = ERR_NOMEM;
			break;
		}
	store_finalize(st);
	return (step == STORE_DONE ? OK : step);
}
