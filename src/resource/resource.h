/*
 * The generic resource layer. A resource is declared once (struct
 * resource: table, fields, permissions, row scope) and from the declaration
 * come its routes:
 *
 *	GET    /v1/<things>		list: filters, sort, limit, cursor
 *	POST   /v1/<things>		create
 *	GET    /v1/<things>/{id}	read, with ETag
 *	PATCH  /v1/<things>/{id}	update, If-Match honoured (412)
 *	DELETE /v1/<things>/{id}	delete (soft when the table has deleted_at)
 *
 * validation with one problem entry per bad field, unknown fields refused,
 * personal fields sealed at rest under the data subject's key, field
 * visibility, audit records, and the OpenAPI 3.1 document.
 *
 * Access is decided here, in one place per resource:
 *   - who may act: the caller's role grants permissions named
 *     "<resource>:<action>:<scope>", scope one of all, related, own;
 *   - which rows: scope all sees every row; related sees rows whose owner
 *     column names the caller or someone the caller leads in an active
 *     relationship of a kind the resource accepts (narrowed, for party
 *     kinds, to the rows the caller is a party to); own sees rows whose
 *     owner column names the caller. A row outside the caller's scope
 *     answers 404, exactly as a row that does not exist.
 */
#ifndef RESOURCE_RESOURCE_H
#define RESOURCE_RESOURCE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "http/http.h"

struct request;
struct tx;
struct store;
struct route;

enum field_type {
	FIELD_UUID = 1,	 /* text, a UUID; with ref, a foreign key */
	FIELD_TEXT,	 /* min/max: length in characters */
	FIELD_INT,	 /* min/max: value */
	FIELD_BOOL,	 /* stored 0/1 */
	FIELD_TIME,	 /* ISO 8601 in JSON, BIGINT ms in the database */
	FIELD_DATE,	 /* "YYYY-MM-DD" text */
	FIELD_ENUM,	 /* one of choices */
	FIELD_JSON,	 /* object or array, stored as JSON text */
	FIELD_TEXT_LIST, /* array of strings; min/max: item count */
	FIELD_EMAIL	 /* text that must be an address */
};

/* Field flags */
#define FIELD_REQUIRED	  0x0001 /* must be given on create */
#define FIELD_READONLY	  0x0002 /* set by the server; refused in input */
#define FIELD_CREATE_ONLY 0x0004 /* may be given on create, never changed */
#define FIELD_PERSONAL	  0x0008 /* sealed at rest under the owner's key */
#define FIELD_HIDDEN	  0x0010 /* never in output (hashes, indexes) */
#define FIELD_FILTER	  0x0020 /* ?name=value filters lists */
#define FIELD_SORT	  0x0040 /* sort=name or sort=-name */
#define FIELD_NULLABLE	  0x0080 /* null accepted */
#define FIELD_HEALTH	  0x0100 /* health data: every read is audited */
#define FIELD_STAFF_WRITE 0x0200 /* only callers with scope all may set it */
#define FIELD_BLIND_INDEX                                                      \
	0x0400 /* PERSONAL email: column <name>_index holds
					   keyring_email_index(value), unique (409) and
					   the only way to filter on it */
#define FIELD_ERASE                                                            \
	0x0800 /* not sealed, yet cleared (NULL) when the row's
					   owner is erased (country, locale); the column
					   accepts NULL */

/* Who may see a field, by the scope through which the caller sees the row. */
#define SEE_ALL	     0x01 /* callers with scope all (staff) */
#define SEE_RELATED  0x02 /* guardians, practitioners of the owner */
#define SEE_OWN	     0x04 /* the owner */
#define SEE_EVERYONE (SEE_ALL | SEE_RELATED | SEE_OWN)

struct field {
	const char	  *name; /* JSON member and column */
	enum field_type	   type;
	int		   flags;
	int64_t		   min, max; /* see enum field_type; 0,0 = none */
	const char *const *choices;  /* FIELD_ENUM, NULL-terminated */
	const char	  *def;	     /* default as JSON text, NULL = none */
	const char	  *ref;	     /* referenced table for FIELD_UUID */
	int		   see;	     /* SEE_* mask; 0 = SEE_EVERYONE */
	const char	  *doc;	     /* one line for the OpenAPI document */
};

enum scope { SCOPE_NONE = 0, SCOPE_OWN, SCOPE_RELATED, SCOPE_ALL };

enum action {
	ACTION_LIST = 0, /* uses the read permission */
	ACTION_READ,
	ACTION_CREATE,
	ACTION_UPDATE,
	ACTION_DELETE,
	ACTION_COUNT
};

/* The authenticated caller, made by the auth hook for each request. */
struct principal {
	char user_id[37];
	char role[32];
	char audit_ref[37]; /* pseudonym used in audit_log */
	char session_id[37];
	int  is_staff;
};

/*
 * May health data of owner_id be stored now? (The digital-consent rule:
 * people_health_consent.) Called inside the write transaction before a
 * create or update that sets a FIELD_HEALTH field; a non-OK status refuses
 * the write with 403 CONSENT_REQUIRED. Set by the people module.
 */
typedef int (*resource_consent_fn)(struct tx *, const char *owner_id);
void resource_set_consent(resource_consent_fn);

/*
 * Best scope the caller has for action on resource ("read", "create",
 * "update", "delete", or a module's own verb). Role permissions are cached
 * and re-read from role_permissions every few seconds, in a transaction of
 * their own: call it before beginning the request's transaction.
 */
enum scope resource_scope(struct store *, const struct principal *,
    const char *resource, const char *action);
/* Forget the cached role permissions: the next resource_scope re-reads. */
void resource_perms_reset(void);

struct resource;

/* Hooks let a module add the rules that are really its own. */
struct resource_ctx {
	struct request	      *req;
	struct tx	      *tx;
	const struct resource *res;
	struct principal      *who; /* NULL when anonymous */
	enum scope	       scope;
	const char	      *id;  /* row id (update/delete, after create) */
	json_t		      *old; /* current row, decoded (update/delete) */
};

struct resource {
	const char	   *name; /* "users": permissions, audit entity */
	const char	   *path; /* "/v1/users" */
	const char	   *table;
	const struct field *fields;
	size_t		    nfields;
	/* Column naming the user who owns a row ("id" for users,
	 * "client_id" for therapy sessions); NULL = no own/related scope.
	 * PERSONAL fields are sealed under this user's data key. */
	const char *owner_column;
	/* Relationship kinds that grant related scope, e.g.
	 * "guardian_of,practitioner_of". */
	const char *related_kinds;
	/*
	 * Narrowing for kinds in party_kinds (a subset of related_kinds):
	 * a lead of such a kind sees only the rows party_where names them
	 * a party to. party_where is an SQL condition on the row whose
	 * every ? is the caller, e.g. therapy sessions: "therapist_id IN
	 * (SELECT id FROM therapists WHERE user_id = ?)" with party_kinds
	 * "practitioner_of" - a practitioner sees the sessions they give,
	 * not a colleague's with the same client.
	 */
	const char *party_kinds;
	const char *party_where;
	int	    soft_delete; /* table has deleted_at */
	int	    actions;	 /* 1 << ACTION_* served; 0 = all */
	const char *doc;	 /* one paragraph for the docs */
	/*
	 * Optional hooks, run inside the write transaction. body is the
	 * validated input (create: complete with defaults; update: only the
	 * members given). Return OK, or a status with a problem already set
	 * on ctx->req (http_problem) to refuse.
	 */
	int (*before_create)(struct resource_ctx *, json_t *body);
	int (*before_update)(struct resource_ctx *, json_t *body);
	int (*before_delete)(struct resource_ctx *);
	int (*after_write)(struct resource_ctx *, int action, json_t *row);
	/* Extra SQL condition on every read, e.g. "deleted_at IS NULL". */
	const char *where;
};

/* Register a resource's routes (and its OpenAPI paths); borrowed. */
int resource_register(const struct resource *);
/* All registered resources, for the OpenAPI document. */
const struct resource *const *resource_all(size_t *n);

/*
 * The pieces the generic handlers are made of, for modules that write
 * their own routes (e.g. /v1/me is the users resource at the caller's id):
 */
/* Validate body against res for create (all required present, defaults
 * filled) or update (only given members); unknown members refused. On
 * failure a 422 problem with one entry per bad field is set on req. */
int resource_validate(struct request *, const struct resource *, json_t *body,
    int creating, enum scope);
/* For modules' own checks: append {"field", "code", "detail"} to errs;
 * answer 422 with errs (taken) when it has entries (ERR_INVALID), else
 * free it and return OK. */
void resource_field_err(
    json_t *errs, const char *field, const char *code, const char *detail);
int resource_errs_answer(struct request *, json_t *errs, const char *what);
/* Read one row within scope into *out (decoded, visible fields only). */
int resource_load(struct resource_ctx *, const char *id, json_t **out);
/*
 * Write: insert or update columns from body (sealing personal fields under
 * the owner's data key; when owner_column is "id" the row owns itself and
 * resource_insert creates its data key first). Sets created_at/updated_at,
 * created_by/updated_by when the table has them, and appends the audit
 * record (field names changed, never personal values).
 */
int resource_insert(struct resource_ctx *, json_t *body, char *id_out);
int resource_update(struct resource_ctx *, const char *id, json_t *body);
/*
 * For hand-written routes: OK when scope (the caller's for some action
 * on res) covers a row of res owned by owner_id: all; the caller's own;
 * with related scope, a person the caller leads in a relationship of a
 * kind res accepts. ERR_FORBIDDEN otherwise (answer it as 404 where a
 * row must not be told from a missing one), ERR_INTERNAL for a resource
 * not registered, or the database's status.
 */
int resource_covers(struct tx *, const struct resource *,
    const struct principal *, enum scope, const char *owner_id);
/* ETag of a row: weak hash of its updated_at and id. */
void resource_etag(const char *id, int64_t updated_at, char out[48]);
/* 1 if an If-Match (or If-None-Match) header value hv names etag, weak
 * or strong, or is "*". */
int resource_if_match(const char *hv, const char *etag);

/*
 * GDPR export: into gets one array per resource whose owner column names
 * user_id (the users resource excepted), each row as its owner sees it
 * (staff-only fields left out), at most RESOURCE_EXPORT_MAX rows each
 * (*truncated set when more). Health reads are audited as reads by who:
 * tx must be a write transaction.
 */
#define RESOURCE_EXPORT_MAX 10000
int resource_export_owned(struct tx *, const struct principal *who,
    struct request *, const char *user_id, json_t *into, int *truncated);

/*
 * GDPR from the declarations (gdpr.c), so that a field declared personal
 * is exported and erased with nothing else to change.
 *
 * resource_export_row: row id of res as its owner may have it exported:
 * every declared field but FIELD_HIDDEN ones (staff-only ones too),
 * personal fields opened (null once the key is gone), whatever res->where
 * says (a soft-deleted row too). ERR_NOT_FOUND.
 *
 * resource_erase_owned: in the rows of every registered resource whose
 * owner column names user_id, set to NULL the FIELD_ERASE fields and the
 * blind index (<name>_index) of each FIELD_BLIND_INDEX field; in a row
 * that owns itself (owner column "id": the person's users row) its
 * FIELD_PERSONAL fields too. Personal fields of the rows the person owns
 * elsewhere are sealed under their data key: the caller destroys it
 * (seal_key_destroy) and they become unreadable. cleared (may be NULL)
 * gets the names of the fields cleared in the row that owns itself.
 */
int resource_export_row(
    struct tx *, const struct resource *, const char *id, json_t **out);
int resource_erase_owned(struct tx *, const char *user_id, json_t *cleared);

/* The OpenAPI 3.1 document for every registered resource and route. */
json_t *resource_openapi(void);

/* Routes of the resource layer itself: /v1/openapi.json and /docs. */
extern const struct route resource_routes[];
extern const size_t	  resource_nroutes;
/* Add resource_routes to the router (once, before http_server_start). */
int resource_routes_add(void);

#endif
