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
 *     owner column names the caller. A resource may instead name the rows
 *     of a scope with its own condition (scope_where: "rows of a partner
 *     I administer", "rows where I am either party"). A row outside the
 *     caller's scope answers 404, exactly as a row that does not exist.
 *
 * Lists page by an opaque cursor over any sortable field, or, for
 * RESOURCE_ID_PAGED resources and hand-written lists, in id order with
 * the last id as the cursor (resource_page_args below).
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
	FIELD_ENUM,	 /* one of choices ("canceled" in input: README,
			    Deprecated) */
	FIELD_JSON,	 /* object or array, stored as JSON text */
	FIELD_TEXT_LIST, /* array of strings; min/max: item count */
	FIELD_EMAIL,	 /* text that must be an address */
	FIELD_URL,	 /* a link: resource_url_ok; max: bytes */
	FIELD_URL_MAP,	 /* object of names to links; max: members */
	FIELD_COLOUR,	 /* "#rrggbb" text (either case of hex digit) */
	FIELD_TIME_ZONE	 /* an IANA zone name of tzdata (core/tz.h) */
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
/*
 * Also changed outside this layer (a count a webhook spends): a change of
 * it needs If-Match naming the row's current ETag (412 when no element of
 * the list does) and no "*" anywhere in the list (428
 * PRECONDITION_REQUIRED without If-Match or with a "*" element, even
 * beside the current ETag), and is made under a lock on the row, so
 * nothing written since the caller's read is overwritten.
 */
#define FIELD_IF_MATCH 0x0800
/* Not sealed, yet cleared (NULL) when the row's owner is erased (country,
 * locale); the column accepts NULL. */
#define FIELD_ERASE 0x1000
/* FIELD_URL: a path on this site ("/files/a.pdf") is accepted too, where
 * that is the field's meaning. */
#define FIELD_URL_RELATIVE 0x2000

/*
 * Links. Every field that holds a link a client may render or follow is
 * a FIELD_URL (or a FIELD_URL_MAP of them), so one rule decides what is
 * stored and served: an absolute http or https URL (the scheme in any
 * case) with a host, or, for a FIELD_URL_RELATIVE field, a path starting
 * with one "/"; no blank, control character, backslash or other character
 * RFC 3986 never allows (" < > ^ ` { | }); at most RESOURCE_URL_MAX bytes
 * (or the field's max). So "javascript:", "data:", "vbscript:", "file:",
 * a scheme hidden behind blanks or control characters, and
 * "//elsewhere.example" are refused: 422 VALIDATION_FAILED with an entry
 * whose code is "invalid_url". A FIELD_URL_MAP is an object of names
 * (RESOURCE_URL_NAME_MAX of [a-z0-9_]) to such URLs, at most max members.
 *
 * What was stored before the rule (or outside this layer) is checked
 * again when read: a stored value the rule refuses is answered as null
 * (a map member, left out), and logged (event=url_withheld, the table,
 * column and row id; never the value).
 */
#define RESOURCE_URL_MAX      2048
#define RESOURCE_URL_NAME_MAX 32
/* 1 when s is a link a FIELD_URL field accepts (relative: also a path). */
int resource_url_ok(const char *s, int relative);
/*
 * For readers outside the declared routes: s when resource_url_ok, else
 * NULL (logged as event=url_withheld with table, column and id).
 */
const char *resource_url_safe(const char *s, int relative, const char *table,
    const char *column, const char *id);

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
	/*
	 * A computed column (FIELD_READONLY only): an SQL expression over
	 * the row, without placeholders, read, filtered and sorted on as
	 * this field, e.g. "(SELECT p.name FROM partners p WHERE p.id =
	 * partner_access.partner_id)". Never written; never FIELD_PERSONAL,
	 * FIELD_ERASE or FIELD_BLIND_INDEX (no column to seal, clear or
	 * index): registration refuses them.
	 */
	const char *sql;
	/*
	 * The migration that adds its column (53 for 0053_...), 0 for a
	 * column as old as its table. carebase serves with migrations
	 * pending (not yet applied, or undone), so while the database has
	 * not applied that one the field is no column: left out of every
	 * statement of this layer (SELECT, INSERT, UPDATE, lists, the GDPR
	 * export and erasure), absent from answers (and from the row
	 * schema's required members), and a write naming it, even as null,
	 * answers 503 FIELD_UNAVAILABLE (the log names the migration:
	 * event=field_unavailable), as does a list filtered or sorted on it. Which migrations are applied is read
	 * from schema_migrations in a request's transaction at most every
	 * RESOURCE_SCHEMA_TTL_MS (resource_int.h), so one applied or undone
	 * by another process is seen within that. Registration refuses it on
	 * a field that cannot be left out: FIELD_REQUIRED, with a default,
	 * computed (sql), FIELD_BLIND_INDEX, the owner column or alt_id; and
	 * on one that is not FIELD_NULLABLE (the rows before it hold NULL).
	 */
	int since;
	/*
	 * FIELD_TEXT, and each item of a FIELD_TEXT_LIST: a POSIX extended
	 * regular expression, anchored, that the text must match (422
	 * invalid_format otherwise), e.g. "^[A-Z]{3}$" for a currency. The
	 * OpenAPI document states it as the field's pattern, so write it
	 * in the part of the syntax ECMA-262 reads the same, anchors
	 * binding the whole ("^(a|b)$", never "^a|b$"), ASCII, brackets
	 * for "any" ("[0-9]", not "." nor "[^x]"): registration
	 * refuses any other (field_pattern_why, resource_int.h), and
	 * compiles it once (start fails naming the field).
	 */
	const char *pattern;
	/*
	 * FIELD_JSON: the JSON Schema of the value, as JSON text, for the
	 * OpenAPI document only: the resource's hook checks the value
	 * (e.g. a form's fields, an array of objects whose members it
	 * reads). NULL: any object or array. Registration parses it: text
	 * that is not a JSON object fails the start, naming the field.
	 */
	const char *schema;
	/*
	 * FIELD_TEXT: the values the resource's hook takes (NULL-terminated),
	 * which the document states as the field's enum; validation leaves
	 * them to the hook (a report's name answers 404 REPORT_NOT_FOUND, not
	 * 422). NULL: any text. (FIELD_ENUM's are its choices.)
	 */
	const char *const *values;
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
 * people_health_consent_answer.) Called inside the write transaction
 * before a create or update that sets a FIELD_HEALTH field; a non-OK
 * status refuses the write, answered on the request (when not NULL) by
 * the hook with the code that says what is missing, or else as 403
 * CONSENT_REQUIRED. Set by the people module.
 */
typedef int (*resource_consent_fn)(
    struct request *, struct tx *, const char *owner_id);
void resource_set_consent(resource_consent_fn);

/*
 * Best scope the caller has for action on resource ("read", "create",
 * "update", "delete", or a module's own verb). Role permissions are cached
 * and re-read from role_permissions every few seconds, or at once when
 * resource_perms_check saw them changed, in a transaction of their own:
 * call it before beginning the request's transaction.
 */
enum scope resource_scope(struct store *, const struct principal *,
    const char *resource, const char *action);
/* Forget the cached role permissions: the next resource_scope re-reads. */
void resource_perms_reset(void);
/*
 * Role permissions changed: inside the transaction that changed
 * role_permissions, add one to their epoch (migration 0023), so that
 * every process re-reads them at its next request.
 */
int resource_perms_changed(struct tx *);
/*
 * For the authenticator, in the request's transaction: read the epoch, so
 * that this request's resource_scope waits for role permissions as new
 * as it (a change made by another process, or on the command line).
 */
int resource_perms_check(struct tx *);
/* OK when role_permissions_epoch is there (migration 0023 applied),
 * ERR_UNAVAILABLE when not, else a store error: asked of the catalog. */
int resource_perms_ready(struct tx *);
/*
 * Whether role (is_staff as roles has it) may be granted perm: roles:*,
 * users:create:all, users:update:all, users:delete:all and
 * users:erase:all only by the admin role (PERM_ADMIN_ONLY), and a
 * "...:all" grant only by staff roles (PERM_STAFF_ONLY), catalogues that
 * name no one excepted (data_types, exercises and forms read:all). The
 * cache ignores a grant it refuses, wherever the row came from.
 */
enum { PERM_GRANTABLE = 0, PERM_ADMIN_ONLY, PERM_STAFF_ONLY };
int resource_perm_grantable(const char *role, int is_staff, const char *perm);

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
	json_t *body; /* the validated input (after_write of a create) */
};

/* Resource flags */
/*
 * Lists in id order: ?cursor= is the last id of the page before and
 * next_cursor the last id of this one; no sort; a bad or unknown
 * parameter answers 422 with an entry per parameter (as
 * resource_page_args). For the lists written before the layer had
 * cursors, whose clients keep ids as cursors.
 */
#define RESOURCE_ID_PAGED 0x01
/*
 * The ETag is a hash of the row as answered, not of its updated_at: it
 * changes with any change, even two within a millisecond or one made
 * outside this layer without touching updated_at.
 */
#define RESOURCE_ETAG_ROW 0x02
/*
 * Its list and read need no token (ROUTE_PUBLIC): a caller without one
 * sees the rows of scope_where[SCOPE_NONE], which the resource must
 * declare, as a signed-in caller without the read permission does (a row
 * outside them answers 404); a caller who sends a token is served as
 * themselves, and a token that is not valid answers 401. Its writes need
 * a token as any other route. Not for resources with personal or health
 * fields (registration refuses them): the public catalogue of a business
 * (courses, venues, dated runs with free seats).
 */
#define RESOURCE_PUBLIC_READ 0x04
/*
 * Declared for its data, served by no route (and absent from the OpenAPI
 * document; path may be NULL): a table a person's GDPR export and
 * erasure follow from its fields, written by its module's own code (auth
 * sessions, password resets; a module's own routes may still read it, as
 * /v1/me/sessions does auth sessions).
 */
#define RESOURCE_NO_ROUTES 0x08
/*
 * In a person's export its rows stand at the top of the document under
 * the resource's name, beside "user", not among "records": the account's
 * own data (its auth sessions, the mail sent to the person).
 */
#define RESOURCE_EXPORT_TOP 0x10
/*
 * Its personal fields are sealed under the system key, not the owner's
 * data key: rows that may be no user's (mail to an address). Destroying
 * a person's key leaves them readable, so registration requires
 * RESOURCE_ERASE_ROWS with it.
 */
#define RESOURCE_SYSTEM_KEY 0x20
/* A person's erasure deletes the rows they own, instead of clearing
 * their fields. */
#define RESOURCE_ERASE_ROWS 0x40
/*
 * A row is also the person's when the blind index of its (one)
 * FIELD_BLIND_INDEX field is that of the person's own address, whatever
 * its owner column says (NULL: mail sent to the address before anyone
 * knew whose it was): exported and erased with theirs.
 */
#define RESOURCE_OWNED_BY_ADDRESS 0x80
/*
 * Pages of its lists are kept read by each serving process and answered
 * again while no write is told (src/resource/list_cache.c): only for a
 * resource whose list is a function of the database's rows and the
 * caller alone (no condition, field or hook reads the clock, and no
 * before_list hook), and never of audit rows (their writer's appends
 * are not told).
 */
#define RESOURCE_LIST_CACHE 0x100
/*
 * Every index its lists scoped to a person read ends with every key of
 * their order (the owner's or party's column, the sort column, id:
 * migration 0047): such a list runs with incremental sort off
 * (STORE_TX_NO_INCREMENTAL_SORT), so that PostgreSQL reads that index
 * rather than walk an index of the sort column alone backwards. Not for
 * a resource whose owner index stops at the sort column: without
 * incremental sort it would read and sort all of the person's rows.
 */
#define RESOURCE_ORDER_INDEXED 0x200

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
	 * every ? is the caller (a ? only as a placeholder, as in
	 * scope_where), e.g. therapy sessions: "therapist_id IN
	 * (SELECT id FROM therapists WHERE user_id = ?)" with party_kinds
	 * "practitioner_of" - a practitioner sees the sessions they give,
	 * not a colleague's with the same client.
	 */
	const char *party_kinds;
	const char *party_where;
	/*
	 * Optional, with party_where: the caller's one party value as a
	 * query (its ? the caller; therapy sessions: the caller's therapist
	 * profile id) and the column party_where compares it with. A list
	 * resolves it once, before its statement, and reads the party's rows
	 * by "party_column = <value>": a planner that knows the value
	 * estimates the rows it has, and a caller who has none (not a
	 * therapist) reads no party branch at all.
	 */
	const char *party_column;
	const char *party_of;
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
	/* Extra SQL condition on every read, e.g. "deleted_at IS NULL";
	 * no placeholders. */
	const char *where;
	/*
	 * The rows of a scope, instead of those owner_column and
	 * related_kinds name: an SQL condition on the row whose every ? is
	 * the caller's user id, e.g. relationships, own: "lead_id = ? OR
	 * follower_id = ?". Lists, reads, updates and deletes of a caller
	 * with that scope see and change only these rows. A resource with
	 * any of them never makes its creator the owner of a new row; the
	 * row made must be one the creator's scope names (403 otherwise).
	 * scope_where[SCOPE_NONE] is what callers without the read
	 * permission may list and read (published courses, for everyone;
	 * with RESOURCE_PUBLIC_READ, for callers without a token too).
	 * The binds are counted by the condition's "?"s: a "?" may stand
	 * only as a placeholder, never in a quoted string or a comment
	 * (registration refuses that, as a placeholder in where or in a
	 * computed field's sql).
	 */
	const char *scope_where[SCOPE_ALL + 1];
	int	    flags; /* RESOURCE_* */
	/* A second unique column the item routes also find a row by
	 * (GET /v1/courses/{id} takes the course's id or its story uuid). */
	const char *alt_id;
	/* The resource whose permissions it goes by (NULL: its own name):
	 * course sessions are read with courses:read. */
	const char *permission;
	/*
	 * More hooks: before_list runs in the list's transaction (ctx->id
	 * and ctx->old NULL) and may refuse it; after_read adds to a row
	 * read by GET /{id} before it is answered (not part of its ETag).
	 */
	int (*before_list)(struct resource_ctx *);
	int (*after_read)(struct resource_ctx *, json_t *row);
	/*
	 * For the OpenAPI document, may be NULL: JSON text of an object
	 * {"409": ["INVALID_TRANSITION", ...]}, the problem codes its hooks
	 * answer besides the resource layer's own (each operation's problem
	 * answers declare their codes: src/resource/openapi.c).
	 */
	const char *codes;
	/* For the OpenAPI document, may be NULL: JSON text of a row as
	 * answered, shown as the example of its list, read and create
	 * answers (/docs). */
	const char *example;
	/* For the OpenAPI document, may be NULL: JSON text of a create body
	 * the server takes, shown as the create operation's example where
	 * the one made from the schema (openapi_examples.c) would break a
	 * rule between members (an end before its start). */
	const char *create_example;
	/* For the OpenAPI document, may be NULL: JSON text {name: schema}
	 * of the members its hooks add to a row as answered (after_write,
	 * after_read), never required: a row declares what it answers and
	 * no other member (src/resource/openapi.c). */
	const char *answered;
	/* For the OpenAPI document, may be NULL: JSON text {name: schema}
	 * of the members the GDPR export adds to the row that owns itself
	 * (owner_column "id": the person's own row, resource_export_row's
	 * caller), always there: the document's <name>_exported. */
	const char *exported;
};

/* Register a resource's routes (and its OpenAPI paths); borrowed. Its
 * JSON texts (example, create_example, answered, a field's schema and
 * default, the latter checked as a body's member would be) are parsed
 * and its fields' patterns compiled here: ERR_CONFIG, logged naming the
 * resource and the field, when one is wrong. */
int resource_register(const struct resource *);
/* Free what registration compiled for the fields' patterns (at exit,
 * once no request is being answered). */
void resource_patterns_free(void);
/* Each registered field a later migration adds (.since) names a migration
 * whose up script adds that column to the resource's table, on SQLite and
 * PostgreSQL: OK, or ERR_CONFIG logged with the field (main.c, once the
 * modules are registered, so a wrong number fails at start). */
int resource_since_check(void);
/* Compile res's scopes again from its scope_where, as a module changed
 * them at start (before serving: not safe beside requests). */
int resource_rescope(const struct resource *);
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
 * Read row id of res whatever anyone's scope, as a caller who is not its
 * owner sees it through vis (SEE_OWN fields left out below SCOPE_ALL):
 * for answers to systems, e.g. a webhook answered without the client's
 * address. ERR_NOT_FOUND.
 */
int resource_read(struct tx *, const struct resource *, const char *id,
    enum scope vis, json_t **out);
/*
 * Answer res's list as a caller with scope sees it, filters and paging
 * as GET <path>: /v1/me/<things> lists SCOPE_OWN whatever the caller's
 * permission.
 */
void resource_list(struct request *, const struct resource *, enum scope);
/*
 * Answer row id of res as GET <path>/{id} does (the caller's read scope,
 * 404 outside it, ETag and 304, health reads audited), for a module's
 * own route that serves a declared row: GET /v1/partners/{id} by id.
 */
void resource_read_answer(
    struct request *, const struct resource *, const char *id);
/*
 * Write: insert or update columns from body (sealing personal fields under
 * the owner's data key; when owner_column is "id" the row owns itself and
 * resource_insert creates its data key first). Sets created_at/updated_at,
 * created_by/updated_by when the table has them, and appends the audit
 * record (field names changed, never personal values).
 */
int resource_insert(struct resource_ctx *, json_t *body, char *id_out);
/*
 * Make a row of res inside tx as POST <path> makes it for a caller with
 * scope all, but for no one: validation (references included),
 * before_create, the insert, after_write; no actor in the audit record,
 * no created_by. For rows made outside a request (the demo seed), which so
 * obey the rules the API's do. A refusal is only its status (there is no
 * request to answer on). id_out (37) and row_out (the row as answered,
 * owned) may be NULL.
 */
int resource_create(struct tx *, const struct resource *, json_t *body,
    char *id_out, json_t **row_out);
int resource_update(struct resource_ctx *, const char *id, json_t *body);
/*
 * For hand-written routes: OK when scope (the caller's for some action
 * on res) covers a row of res owned by owner_id: all; the caller's own;
 * with related scope, a person the caller leads in a relationship of a
 * kind res accepts. ERR_FORBIDDEN otherwise (answer it as 404 where a
 * row must not be told from a missing one), or the database's status.
 * ERR_INTERNAL for a resource not registered, and where the owner alone
 * cannot tell: res has a scope_where for that scope, or the scope is
 * related and res has party kinds (party_where is a condition on the
 * row). Those read the row within the scope instead (resource_load).
 */
int resource_covers(struct tx *, const struct resource *,
    const struct principal *, enum scope, const char *owner_id);
/*
 * For hand-written routes that must tell a row the caller sees (403 for
 * what they may not do to it) from one they do not (404): OK when a
 * caller with scope sees row id of res, as resource_load finds it (the
 * declaration's owner column, related kinds and party_where, or its
 * scope_where, and where), ERR_NOT_FOUND otherwise, or the database's
 * status. Nothing of the row is read or opened, so nothing is audited.
 * ERR_INTERNAL for a resource not registered.
 */
int resource_sees(struct tx *, const struct resource *,
    const struct principal *, enum scope, const char *id);
/* ETag of a row: weak hash of its updated_at and id. */
void resource_etag(const char *id, int64_t updated_at, char out[48]);
/* ETag of a row as answered (RESOURCE_ETAG_ROW): weak hash of its
 * members, sorted. */
void resource_etag_row(const json_t *row, char out[48]);
/* 1 if an If-Match (or If-None-Match) header value hv names etag, weak
 * or strong, or is "*". */
int resource_if_match(const char *hv, const char *etag);

/*
 * Paging for lists written by hand (and RESOURCE_ID_PAGED resources), by
 * a key of their rows: ?cursor= is the key of the last row of the page
 * before, ?limit= 1 to max (default RESOURCE_PAGE_DEFAULT). In id order
 * (PAGE_ID) the list binds "id > ?" to after ("" on the first page) and
 * "LIMIT ?" to limit + 1, appends what it reads to a data array while it
 * holds at most limit rows... and one more, which resource_page_json
 * drops: it tells of a next page.
 *
 *	while ((step = store_step(st)) == STORE_ROW &&
 *	    json_array_size(data) <= pg.limit)
 *		json_array_append_new(data, thing_row(st));
 *	...
 *	http_json(req, 200, resource_page_json(&pg, data));
 *
 * Newest first by id (PAGE_ID_DESC), "id < ?" bound to after, and left
 * out on the first page (after ""). Newest first by an integer sequence
 * (PAGE_SEQ_DESC: each row has an integer "seq"), "seq < ?" bound to
 * after_seq, left out on the first page (0); the cursor is the decimal
 * sequence number, and next_cursor that of the page's last row as a
 * string.
 */
#define RESOURCE_PAGE_DEFAULT 50
enum page_key {
	PAGE_ID = 0,   /* id, oldest first */
	PAGE_ID_DESC,  /* id, newest first */
	PAGE_SEQ_DESC, /* "seq", newest first */
};
struct resource_page {
	const char   *after;	 /* borrowed from the query; "" for none */
	int64_t	      after_seq; /* PAGE_SEQ_DESC: 0 for none */
	int64_t	      limit;
	enum page_key key;
};
/* Parse the two in id order; answers 422 VALIDATION_FAILED (an entry per
 * bad one) and returns ERR_INVALID when one is bad. */
int resource_page_args(struct request *, int64_t max, struct resource_page *);
/* The same for a list keyed by key. */
int resource_page_args_by(
    struct request *, int64_t max, enum page_key key, struct resource_page *);
/* The same for a list that checks parameters of its own: the bad ones'
 * entries appended to errs, unanswered (resource_errs_answer answers). */
void resource_page_parse(struct request *, int64_t max, enum page_key key,
    struct resource_page *, json_t *errs);
/*
 * The same answered as a declared list answers a bad page (resource_list):
 * 400 INVALID_PARAMETER (parameter "limit") or 400 INVALID_CURSOR, and
 * ERR_MALFORMED. For the lists that take no parameter of their own: any
 * other parameter is refused, 400 UNKNOWN_PARAMETER.
 */
int resource_page_query(
    struct request *, int64_t max, enum page_key key, struct resource_page *);
/*
 * For the api text of a route that answers through resource_page_query:
 * its two parameters and its 400 codes, as OpenAPI says them.
 */
#define RESOURCE_API_PAGE_PARAMS                                               \
	"{\"name\":\"limit\",\"in\":\"query\",\"description\":\"rows a page, " \
	"at most the list's bound\",\"schema\":{"                              \
	"\"type\":\"integer\",\"minimum\":1}},{\"name\":\"cursor\",\"in\":"    \
	"\"query\",\"description\":\"next_cursor of the previous page\","      \
	"\"schema\":{\"type\":\"string\"}}"
#define RESOURCE_API_PAGE_CODES                                                \
	"\"400\":[\"INVALID_PARAMETER\",\"INVALID_CURSOR\",\"UNKNOWN_PARAMETER\"]"
/* Those two answers, shared with resource_list. */
void resource_page_bad_limit(struct request *, int64_t max);
void resource_page_bad_cursor(struct request *);
/* {"data": data (taken), "next_cursor": the key of the page's last row
 * when data held a row more than limit, else null}; NULL without memory. */
json_t *resource_page_json(const struct resource_page *, json_t *data);

/*
 * GDPR export: into gets one array per resource whose owner column names
 * user_id (the users resource excepted) or, for RESOURCE_OWNED_BY_ADDRESS
 * resources, whose blind index is address_index (the person's own
 * address's; "" or NULL: none), each row with every declared field but
 * the FIELD_HIDDEN ones (staff-only ones too: they are the person's data
 * all the same), personal fields opened, as resource_export_row; rows
 * res->where leaves out are left out. RESOURCE_EXPORT_TOP resources'
 * arrays go into top instead (the export document itself). At most
 * RESOURCE_EXPORT_MAX rows each (*truncated set when more). Health reads
 * are audited as reads by who: tx must be a write transaction.
 */
#define RESOURCE_EXPORT_MAX 10000
int resource_export_owned(struct tx *, const struct principal *who,
    struct request *, const char *user_id, const char *address_index,
    json_t *top, json_t *into, int *truncated);

/*
 * The rows of res a caller with scope sees whose column (a declared
 * field; NULL: every row) equals value, as they see them, in id order,
 * at most RESOURCE_EXPORT_MAX, appended to out: the children of a row (a
 * course's sessions), the GDPR export of a resource whose scope_where
 * says whose a row is. *truncated is set to 1 when there were more (left
 * as it is otherwise; NULL: the caller takes a cut list). Not for
 * resources with health fields (their reads are audited): ERR_INTERNAL.
 */
int resource_rows(struct tx *, const struct resource *,
    const struct principal *, enum scope, const char *column, const char *value,
    json_t *out, int *truncated);

/*
 * GDPR from the declarations (gdpr.c), so that a field declared personal
 * is exported and erased with nothing else to change.
 *
 * resource_export_row: row id of res as its owner may have it exported:
 * every declared field but FIELD_HIDDEN ones (staff-only ones too),
 * personal fields opened (null once the key is gone), whatever res->where
 * says (a soft-deleted row too). ERR_NOT_FOUND.
 *
 * resource_erase_owned: the rows of every RESOURCE_ERASE_ROWS resource
 * the person owns (as resource_export_owned: by user_id, or by
 * address_index) are deleted; in the rows of every other registered
 * resource they own (soft-deleted ones too), set to NULL the
 * FIELD_ERASE fields, the blind index (<name>_index) of each
 * FIELD_BLIND_INDEX field and the FIELD_PERSONAL fields: all of them in
 * a row that owns itself (owner column "id": the person's users row),
 * the FIELD_NULLABLE ones elsewhere (a nullable field's column takes
 * NULL); updated_at of those rows is stamped. A personal field declared
 * not nullable (form_responses.responses) stays as it is, sealed under
 * the person's data key: the caller destroys the key (seal_key_destroy)
 * and it becomes unreadable. cleared (may be NULL) gets the names of the
 * fields cleared in the row that owns itself. A resource whose table is
 * not there (its migration pending or undone: the catalog says) is
 * skipped: nothing of the person's is in it.
 */
int resource_export_row(
    struct tx *, const struct resource *, const char *id, json_t **out);
/*
 * The id of a GDPR export of user_id's data made through who's session
 * (who->session_id): a keyed MAC of both, RESOURCE_EXPORT_ID_LEN hex
 * characters. The links an export holds to what is too large for the
 * document (a recording's points) carry it; resource_export_owns says 1
 * when it is the id of an export of user_id made through who's session,
 * 0 otherwise (no session, another one, another person, not an id). So a
 * link works for the session that made the export alone, while that
 * session lasts: signed out, idle or past its time, the link ends with it.
 */
#define RESOURCE_EXPORT_ID_LEN 32
void resource_export_id(const struct principal *who, const char *user_id,
    char out[RESOURCE_EXPORT_ID_LEN + 1]);
int  resource_export_owns(
     const struct principal *who, const char *user_id, const char *export_id);
int resource_erase_owned(struct tx *, const char *user_id,
    const char *address_index, json_t *cleared);

/* The OpenAPI 3.1 document for every registered resource and route. */
json_t *resource_openapi(void);

/* Routes of the resource layer itself: /v1/openapi.json and /docs. */
extern const struct route resource_routes[];
extern const size_t	  resource_nroutes;
/* Add resource_routes to the router (once, before http_server_start). */
int resource_routes_add(void);

#endif
