/*
 * Private to src/resource: the compiled form of a declared resource and
 * what its files share: resource.c (registration), handlers.c (the five
 * routes every resource gets),
 * scope.c (which rows a scope covers), rows.c (a row read and decoded),
 * write.c (a row written, with its audit record), query.c (lists, the
 * GDPR export), page.c (cursors), validate.c, url.c (links), perms.c,
 * openapi.c and
 * docs.c. Unit tests and fuzz targets include it; modules use resource.h.
 *
 * A struct rdef is built once by resource_register and never changes:
 * its column list (id, the declared fields, created_at and updated_at
 * when not declared) and its SQL strings, so a request builds no SQL
 * except for lists and updates, and then only from whitelisted names.
 */
#ifndef RESOURCE_RESOURCE_INT_H
#define RESOURCE_RESOURCE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "http/http.h"
#include "resource/resource.h"

struct buf;
struct tx;
struct stmt;
struct rsql;

#define RESOURCE_MAX		64 /* registered resources */
#define RESOURCE_COLS_MAX	96 /* columns of one resource */
#define RESOURCE_LIST_DEFAULT	50
#define RESOURCE_LIST_MAX	200
#define RESOURCE_PERMS_TTL_MS	5000 /* role permissions re-read after */
#define RESOURCE_CURSOR_MAX	1024 /* bytes of a cursor */
#define RESOURCE_TEXT_MAX	4096 /* code points of a text without max */
#define RESOURCE_LIST_ITEMS_MAX 1000 /* items of a text list without max */
#define RESOURCE_ETAG_LEN	48
#define RESOURCE_SCHEMA_TTL_MS	1000 /* applied migrations re-read after */
#define RESOURCE_SINCE_MAX	32   /* fields of one resource with since */
#define RESOURCE_MIGRATION_MAX	9999 /* the NNNN of a migration's name */
#define RESOURCE_PATTERNS_MAX	64   /* distinct fields' patterns */

/* Branches of a scope's condition at most: own, related, party. */
#define SCOPE_BRANCHES_MAX 3

struct rdef {
	const struct resource *res;
	struct field	      *cols; /* malloc'd, see above */
	size_t		       ncols;
	int		       owner;	    /* index in cols, -1 = none */
	int		       owner_is_id; /* the row owns itself */
	int		       updated;	    /* index of updated_at */
	int		       has_created_by;
	int		       has_updated_by;
	int		       has_is_active;
	int		       has_health; /* reads are audited */
	int		       has_personal;
	char		      *select;		   /* "SELECT id, ... FROM t" */
	char		      *one[SCOPE_ALL + 1]; /* by scope, id bound 1st */
	char		      *scope[SCOPE_ALL + 1]; /* condition, "" for all */
	char		      *in_scope[SCOPE_ALL + 1]; /* "SELECT 1 ... WHERE
							  id = ? AND <scope>" */
	/* The scope's condition as OR branches, each a list walks by
	 * its own index (resource_scope_branches); bind[] placeholders
	 * each, all the caller. */
	char *branch[SCOPE_ALL + 1][SCOPE_BRANCHES_MAX];
	int   branch_bind[SCOPE_ALL + 1][SCOPE_BRANCHES_MAX];
	/* 1: the rows of the people the caller leads (an IN list on
	 * the owner column), which no one index gives in order. */
	int		   branch_led[SCOPE_ALL + 1][SCOPE_BRANCHES_MAX];
	int		   nbranch[SCOPE_ALL + 1];
	int		   custom;    /* the resource has scope_where */
	char		  *related;   /* "SELECT 1 FROM relationships
						   WHERE lead_id = ? AND
						   follower_id = ? AND ...",
						   NULL without related kinds */
	char		  *item_path; /* "/v1/things/{id}"; NULL
						     without routes */
	int		   address;   /* RESOURCE_OWNED_BY_ADDRESS: index
					   of the blind-indexed column, else
					   -1 */
	struct route	   routes[ACTION_COUNT];
	struct route_table table;
	/* The fields with since (struct field), as indexes in cols: bit k
	 * of a pending mask (schema.c) is since_col[k]. */
	int since_col[RESOURCE_SINCE_MAX];
	int nsince;
	/* select and one[] for each pending mask met but 0 (schema.c),
	 * made when first needed, kept until exit. */
	struct rsql *_Atomic *variants;
};

/* resource.c */
const struct rdef *rdef_find(const struct resource *);
/* The compiled definitions, in registration order (borrowed). */
const struct rdef *const *rdef_all(size_t *n);

/*
 * Build rd's SELECT ("SELECT id, ... FROM t") and its one-row statements
 * by scope (rd->scope must be made) with the fields of mask pending (bit
 * k: rd->since_col[k]) selected as "NULL AS name", so that every column
 * keeps its place; malloc'd into *select and one[].
 */
int rdef_statements(const struct rdef *, uint32_t pending, char **select,
    char *one[SCOPE_ALL + 1]);

/*
 * schema.c: fields a later migration adds (struct field's since).
 *
 * rdef_pending: into *mask, rd's since fields whose migration the
 * database has not applied (bit k: rd->since_col[k]), the applied ones
 * re-read in tx (schema_migrations) when older than
 * RESOURCE_SCHEMA_TTL_MS: call it before a statement, never while one is
 * being stepped. A store error when they cannot be read. 0 at once for a
 * resource without since fields. The mask a statement was made with is
 * the one its rows are decoded with (rows_decode), never one read again
 * meanwhile by another thread.
 */
int rdef_pending(struct tx *, const struct rdef *, uint32_t *mask);
/* What was last read, never a statement; every since field pending
 * before any read (rdef_pending's, and tests'). */
uint32_t rdef_pending_cached(const struct rdef *);
/*
 * The applied migrations read now in tx, not the cache (what erasure
 * goes by: a column a migration added less than the TTL ago is erased
 * too), and rd's pending mask in such a set.
 */
struct schema_set {
	unsigned char bits[RESOURCE_MIGRATION_MAX / 8 + 1];
};
int	 schema_set_read(struct tx *, struct schema_set *);
uint32_t rdef_pending_in(const struct rdef *, const struct schema_set *);
/* Is col (an index in rd->cols) pending in mask? */
int rdef_col_pending(const struct rdef *, uint32_t mask, size_t col);
/*
 * rd->select and rd->one[scope] for a pending mask: the statements of
 * rdef_statements, made once a mask and kept; rd's own for 0. NULL
 * without memory.
 */
const char *rdef_select(const struct rdef *, uint32_t pending);
const char *rdef_one(const struct rdef *, uint32_t pending, enum scope);
/* Free rd's variants (rdef_free). */
void rdef_variants_free(const struct rdef *);
/*
 * A write naming a field of body pending in mask: 503 FIELD_UNAVAILABLE
 * answered on req (when not NULL), naming the field and its migration,
 * and ERR_UNAVAILABLE; OK when body names none (a field a hook set
 * included: refused, never dropped).
 */
int rdef_pending_refuse(
    struct request *, const struct rdef *, uint32_t mask, json_t *body);
/* Answer 503 FIELD_UNAVAILABLE for column col of rd (a since field): a
 * list filtered or sorted on it, a write naming it. */
void rdef_unavailable(struct request *, const struct rdef *, size_t col);

/* handlers.c: GET <path>, GET <path>/{id}, POST <path>, PATCH and DELETE
 * <path>/{id} (one handler: the method tells). */
void handle_list(struct request *);
void handle_read(struct request *);
void handle_create(struct request *);
void handle_update(struct request *);
/* Answer a refusal: 401 for anonymous callers, else rc's problem. */
void resource_refuse(struct request *, const struct principal *, int rc);

/* rows.c */
/* The data key of the last owner seen, so a list opens each key once. */
struct keycache {
	char	      owner[37];
	unsigned char key[32];
	int	      state; /* 0 none, 1 loaded, -1 gone */
};
void keycache_wipe(struct keycache *);
/* The key rd's personal fields of a row of owner are sealed under, into
 * kc: the owner's data key (cached), ERR_NOT_FOUND once erased; the
 * system key for a RESOURCE_SYSTEM_KEY resource. */
int rows_key_get(
    struct tx *, const struct rdef *, struct keycache *, const char *owner);
/*
 * Decode the current row of st (columns in rd->cols order) into a new
 * object. all: every column (hidden and personal included, for hooks and
 * audit); otherwise only what the caller may see through scope vis.
 * *updated_at (may be NULL) gets updated_at.
 */
int rows_decode(struct tx *, const struct rdef *, struct stmt *,
    const struct principal *, enum scope vis, int all, uint32_t pending,
    struct keycache *, json_t **out, int64_t *updated_at);
/* Load one row within scope cond (404 outside), seen through vis. */
int rows_select(struct tx *, const struct rdef *, const char *id,
    const struct principal *, enum scope cond, enum scope vis, int all,
    json_t **out, int64_t *updated_at);
/* The owner of a decoded row, or NULL (borrowed). */
const char *rows_owner(const struct rdef *, json_t *row);
/* Lock row id for the rest of the transaction (PostgreSQL). */
int rows_lock(struct tx *, const struct rdef *, const char *id);
/* {"fields": [...], "old": {...}, "new": {...}} for audit. */
json_t *rows_changes(const struct rdef *, json_t *old, json_t *body);

/* write.c */
/* Delete (soft or hard) with audit; the row was checked by the caller. */
int rows_delete(struct resource_ctx *, const char *id);

/* scope.c */
/*
 * The row condition for a scope over res's owner column (malloc'd; ""
 * for all). Every placeholder is the caller (scope_bind binds
 * resource_scope_nbind of them).
 */
char *resource_scope_sql(const struct resource *, enum scope);
int   resource_scope_nbind(const struct resource *, enum scope);
/*
 * Into b: "SELECT follower_id FROM relationships WHERE lead_id = ? ...
 * ORDER BY follower_id LIMIT limit", the people the caller leads in an
 * active relationship of the related kinds that are (party 1) or are not
 * (party 0) party kinds. ERR_NOT_FOUND: the resource has no such kind.
 */
int resource_scope_probe(
    const struct resource *, int party, int limit, struct buf *);
/* The OR branches of a scope's condition (resource_scope_branches). */
int resource_scope_branches(const struct resource *, enum scope,
    char *[SCOPE_BRANCHES_MAX], int[SCOPE_BRANCHES_MAX],
    int[SCOPE_BRANCHES_MAX], int *);
/*
 * The one walk over a comma-separated list of relationship kinds
 * (related_kinds, party_kinds): the next kind at *p, spaces around it
 * trimmed, its length in *n (0 for an empty item); *p moves past it.
 * NULL at the end of the list (or for a NULL list).
 */
const char *resource_kind_next(const char **p, size_t *n);
/* Is kind (n bytes) one of the comma-separated list? */
int resource_kind_in(const char *list, const char *kind, size_t n);
/* Bind the caller for a scope condition from index i; next index. */
int scope_bind(struct stmt *, int i, const struct resource *,
    const struct principal *, enum scope);
/* OK when scope covers a row owned by owner_id, else ERR_FORBIDDEN. */
int rows_covers(struct tx *, const struct rdef *, const struct principal *,
    enum scope, const char *owner_id);
/* May a caller with this scope list and read any row? */
int scope_reads(const struct rdef *, enum scope);
/* May a caller with scope write row id, owned by owner? ERR_FORBIDDEN. */
int rows_writable(struct tx *, const struct rdef *, const struct principal *,
    enum scope, const char *id, const char *owner);

/* query.c */
void query_list(
    struct request *, const struct rdef *, struct principal *, enum scope);
/* "<resource>.read" for rows with a visible health field: ids, or one. */
int rows_read_audit(struct tx *, const struct rdef *, const struct principal *,
    struct request *, json_t *rows);

/* page.c */
/*
 * Cursors: base64url of {"s": sort spec, "v": last sort value, "i": last
 * id} and a keyed MAC. Decode checks the MAC, the shape and that the sort
 * spec is the one asked for: ERR_INVALID otherwise.
 */
int resource_cursor_encode(
    const char *spec, json_t *value, const char *id, char **out);
int resource_cursor_decode(
    const char *cursor, const char *spec, json_t **value, char id[37]);
/* resource_page_args with the bad ones appended to errs, unanswered. */
void page_parse(
    struct request *, int64_t max, struct resource_page *, json_t *errs);

/* validate.c */
/* resource_validate with reference checks inside tx (NULL: none). */
int validate_run(struct request *, struct tx *, const struct resource *,
    json_t *body, int creating, enum scope);
/* Code points of UTF-8 s. */
size_t utf8_count(const char *s);
/* 1 if s is "YYYY-MM-DD" and a real date. */
int date_valid(const char *s);
/* The field named name in res (declared fields only), or NULL. */
const struct field *field_find(const struct resource *, const char *name);
/* The checks of one member v of a body against its field f (type and
 * value; not read-only rules nor references): at most one entry to errs.
 * A deprecated spelling of an enum value is replaced in v by the choice
 * it names (field_choice). OK, or an error when v could not be judged:
 * ERR_NOMEM (matching f's pattern ran out of memory), ERR_INTERNAL (f's
 * pattern was never compiled: f's resource is not registered). For unit
 * tests too. */
int field_check(json_t *errs, const struct field *f, json_t *v);
/*
 * Why pattern may not be a field's (struct field's pattern), NULL when it
 * may (static text). The server matches it as a POSIX ERE and the
 * document's readers as an ECMA-262 one, so it must mean the same to
 * both, and the whole text: ^ first and $ last with no | outside
 * parentheses ("^a|b$" is (^a)|(b$), which "xb" matches); a backslash
 * only before one of ^$\.*+?()[]{}|/ (\d is a digit to ECMA-262, a d to
 * glibc; \1 a back-reference); ASCII only and no . outside brackets nor
 * [^...] (glibc, never told a locale, reads bytes; ECMA-262 characters,
 * its . no line end); in brackets no backslash, no ] first, no [:x:]
 * [=x=] [.x.]; { only in a bound {m,n}, no ] or } outside (new
 * RegExp(p, "u") refuses them: \] \}); no quantifier with nothing to
 * repeat (^*, (+, a**); and it compiles.
 */
const char *field_pattern_why(const char *pattern);
/* Compile pattern once for the fields that declare it (resource_register,
 * before serving): OK; ERR_CONFIG (field_pattern_why says why, or more
 * than RESOURCE_PATTERNS_MAX), ERR_NOMEM (regcomp ran out of memory: no
 * fault of the pattern's). */
int field_pattern_compile(const char *pattern);
/*
 * The choice of enum field f that input s names (borrowed from f), or
 * NULL: s itself, or the choice a deprecated spelling in s stands for
 * ("canceled" for "cancelled", README, Deprecated; logged as
 * event=deprecated_spelling).
 */
#define RESOURCE_CHOICE_MAX 64 /* bytes of an enum value, respelled */
const char *field_choice(const struct field *f, const char *s);
/* What a filter on enum field f says of the deprecated spellings it
 * reads, or NULL when it reads none (static). */
const char *field_choice_note(const struct field *f);
/* Append to into each deprecated spelling field_choice reads as one of
 * f's choices ("canceled" for "cancelled"): what a filter takes. */
void field_choice_olds(const struct field *f, json_t *into);

/* url.c */
/* The FIELD_URL / FIELD_URL_MAP checks of v: at most one entry to errs. */
void url_check(json_t *errs, const struct field *f, json_t *v);
/* A stored value of f as it may be served (taken): a link the rule
 * refuses becomes null, a map member it refuses is left out (logged with
 * table and id). Other fields' values are returned as they are. */
json_t *url_withhold(
    json_t *v, const struct field *f, const char *table, const char *id);

/* gdpr.c */
/*
 * " WHERE (<owner> = ? OR <field>_index = ?)" for the rows of rd that are
 * a person's (the second only for RESOURCE_OWNED_BY_ADDRESS and an
 * address index) into b; gdpr_owned_bind binds them from index i and
 * returns the next index.
 */
int gdpr_owned_where(
    const struct rdef *, const char *address_index, struct buf *b);
int gdpr_owned_bind(struct stmt *, int i, const struct rdef *,
    const char *user_id, const char *address_index);

/* openapi_examples.c: an example on every JSON request body and success
 * answer of doc's operations that has none, made from its schema (none
 * where the schema is past what it can honour). */
void openapi_examples_fill(json_t *doc);

/* perms.c */
/* "read" for ACTION_LIST and ACTION_READ, "create", "update", "delete". */
const char *action_name(enum action);
/*
 * Read the role permissions in tx and swap them in as the cache: OK; or
 * ERR_CONFLICT, kept out, when the cache holds those of a newer epoch
 * (role_permissions_epoch) than tx read; or a store error. Loads run
 * side by side (resource_perms_check, the TTL); unit tests call it to
 * order them.
 */
int resource_perms_load_tx(struct tx *);

#endif
