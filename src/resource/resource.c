/*
 * The generic resource layer's registration: a declared resource checked
 * and compiled into a struct rdef (its columns, its SQL strings by scope,
 * its routes), once, at start-up. The routes' handlers are handlers.c.
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
#include "store/migrate.h"
#include "store/store.h"

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

static int ident_ok(const char *);
static int kinds_ok(const char *);
static int binds_ok(const char *, int);
static int since_ok(const struct resource *, const struct field *);
static int where_append(struct buf *, const struct resource *, const char *);

#define SWAP(type, a, b)                                                       \
	do {                                                                   \
		type swap_ = (a);                                              \
		(a) = (b);                                                     \
		(b) = swap_;                                                   \
	} while (0)
static int  rdef_compile(const struct resource *, struct rdef *);
static void rdef_free(struct rdef *);
static int  codes_text_ok(const char *);
static void field_invalid(
    const struct resource *, const char *, const char *, const char *);
static int json_text_check(
    const struct resource *, const char *, const char *, const char *);
static int field_default_check(const struct resource *, const struct field *);

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

/*
 * Does condition sql (NULL: none) hold "?" only as placeholders (none in
 * a quoted string or a comment: the binds are counted by its "?"s), and
 * none at all unless binds (placeholders allowed)?
 */
static int
binds_ok(const char *sql, int binds)
{
	char *t;
	int   ok;

	if (sql == NULL)
		return (1);
	/* The store's own reading of placeholders: what it leaves as "?"
	 * is not one. */
	if ((t = store_pg_placeholders(sql)) == NULL)
		return (0);
	ok = strchr(t, '?') == NULL && (binds || strchr(sql, '?') == NULL);
	free(t);
	return (ok);
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
		while (rd->nbranch[i] > 0)
			free(rd->branch[i][--rd->nbranch[i]]);
		free(rd->one[i]);
		free(rd->in_scope[i]);
		free(rd->scope[i]);
	}
	free(rd->related);
	free(rd->item_path);
	rdef_variants_free(rd);
	free(rd->variants);
	free(rd);
}

/* " AND (where) AND (scope)" for the resource's condition and a scope's. */
static int
where_append(struct buf *b, const struct resource *res, const char *scope)
{
	if (res->where != NULL && buf_printf(b, " AND (%s)", res->where) != OK)
		return (ERR_NOMEM);
	if (scope[0] != '\0' && buf_printf(b, " AND (%s)", scope) != OK)
		return (ERR_NOMEM);
	return (OK);
}

/*
 * May f (with since) be left out while its migration is pending? Not a
 * field a row cannot be without or read without its column: required,
 * with a default (filled in on create), computed, blind-indexed, the
 * owner column or alt_id; and nullable (the rows before it hold NULL).
 */
static int
since_ok(const struct resource *res, const struct field *f)
{
	return (f->since > 0 && f->since <= RESOURCE_MIGRATION_MAX &&
	    (f->flags & FIELD_NULLABLE) &&
	    !(f->flags & (FIELD_REQUIRED | FIELD_BLIND_INDEX)) &&
	    f->def == NULL && f->sql == NULL &&
	    (res->owner_column == NULL ||
		strcmp(f->name, res->owner_column) != 0) &&
	    (res->alt_id == NULL || strcmp(f->name, res->alt_id) != 0));
}

int
rdef_statements(const struct rdef *rd, uint32_t pending, char **select,
    char *one[SCOPE_ALL + 1])
{
	const struct resource *res = rd->res;
	struct buf	       b;
	size_t		       i;
	int		       s, rc = ERR_NOMEM;

	*select = NULL;
	for (s = SCOPE_NONE; s <= SCOPE_ALL; s++)
		one[s] = NULL;
	buf_init(&b, 64 * 1024);
	if (buf_puts(&b, "SELECT ") != OK)
		goto out;
	for (i = 0; i < rd->ncols; i++)
		if (buf_puts(&b, i ? ", " : "") != OK ||
		    (rdef_col_pending(rd, pending, i)
			    /* no column yet: in its place all the same */
			    ? buf_printf(&b, "NULL AS %s", rd->cols[i].name)
			    : rd->cols[i].sql != NULL
				/* named: a list of branches orders by name */
				? buf_printf(&b, "(%s) AS %s", rd->cols[i].sql,
				      rd->cols[i].name)
				: buf_puts(&b, rd->cols[i].name)) != OK)
			goto out;
	if (buf_printf(&b, " FROM %s", res->table) != OK ||
	    (*select = strdup(b.data)) == NULL)
		goto out;
	for (s = SCOPE_NONE; s <= SCOPE_ALL; s++) {
		buf_reset(&b);
		if ((res->alt_id == NULL
			    ? buf_printf(&b, "%s WHERE id = ?", *select)
			    : buf_printf(&b, "%s WHERE (id = ? OR %s = ?)",
				  *select, res->alt_id)) != OK ||
		    where_append(&b, res, rd->scope[s]) != OK ||
		    (one[s] = strdup(b.data)) == NULL)
			goto out;
	}
	rc = OK;
out:
	if (rc != OK) {
		free(*select);
		*select = NULL;
		for (s = SCOPE_NONE; s <= SCOPE_ALL; s++) {
			free(one[s]);
			one[s] = NULL;
		}
	}
	buf_free(&b);
	return (rc);
}

static int
rdef_compile(const struct resource *res, struct rdef *rd)
{
	const struct field *f;
	const char	   *why = NULL;
	struct buf	    b;
	size_t		    i, n = 0;
	int s, e = OK, rc = ERR_CONFIG, created = 0, updated = 0;

	buf_init(&b, 64 * 1024);
	if (!ident_ok(res->name) || !ident_ok(res->table) ||
	    (!(res->flags & RESOURCE_NO_ROUTES) &&
		(res->path == NULL || res->path[0] != '/')) ||
	    res->nfields + 3 > RESOURCE_COLS_MAX ||
	    (res->owner_column != NULL && !ident_ok(res->owner_column)) ||
	    !kinds_ok(res->related_kinds) || !kinds_ok(res->party_kinds) ||
	    (res->party_kinds != NULL && res->party_where == NULL) ||
	    ((res->party_of == NULL) != (res->party_column == NULL)) ||
	    (res->party_column != NULL && !ident_ok(res->party_column)) ||
	    (res->party_of != NULL &&
		(res->party_where == NULL || !binds_ok(res->party_of, 1))) ||
	    (res->alt_id != NULL && !ident_ok(res->alt_id)) ||
	    !binds_ok(res->party_where, 1) || !binds_ok(res->where, 0))
		goto bad;
	for (s = SCOPE_NONE; s <= SCOPE_ALL; s++)
		if (!binds_ok(res->scope_where[s], 1))
			goto bad;
	rd->res = res;
	if ((rd->cols = calloc(res->nfields + 3, sizeof(*rd->cols))) == NULL)
		goto nomem;
	rd->cols[n++] = implicit_id;
	for (i = 0; i < res->nfields; i++) {
		f = &res->fields[i];
		if (!ident_ok(f->name) ||
		    (f->ref != NULL && !ident_ok(f->ref)) ||
		    (f->type == FIELD_ENUM && f->choices == NULL) ||
		    ((f->flags & FIELD_URL_RELATIVE) && f->type != FIELD_URL) ||
		    (f->sql != NULL && (f->flags & FIELD_READONLY) == 0) ||
		    /* A computed field has no column to seal, clear or
		     * index, nor binds. */
		    (f->sql != NULL &&
			((f->flags &
			     (FIELD_PERSONAL | FIELD_ERASE |
				 FIELD_BLIND_INDEX)) ||
			    !binds_ok(f->sql, 0))) ||
		    (f->since != 0 && !since_ok(res, f)) ||
		    (f->pattern != NULL && f->type != FIELD_TEXT &&
			f->type != FIELD_TEXT_LIST) ||
		    (f->schema != NULL && f->type != FIELD_JSON) ||
		    (f->values != NULL && f->type != FIELD_TEXT))
			goto bad;
		/* What the document states of the field is checked now, not
		 * found wrong by its readers: a pattern both readers take
		 * alike, compiled once for every request; a schema that
		 * parses. */
		if (f->pattern != NULL &&
		    (e = field_pattern_compile(f->pattern)) != OK) {
			/* Out of memory is no fault of the pattern's. */
			if (e == ERR_NOMEM)
				goto nomem;
			why = field_pattern_why(f->pattern);
			field_invalid(res, f->name, "pattern",
			    why != NULL ? why : "too many patterns");
			goto refused;
		}
		if (f->schema != NULL &&
		    json_text_check(res, f->name, "schema", f->schema) != OK)
			goto refused;
		if (f->def != NULL && (e = field_default_check(res, f)) != OK) {
			if (e == ERR_NOMEM)
				goto nomem;
			goto refused;
		}
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
		if (f->since != 0) {
			if (rd->nsince == RESOURCE_SINCE_MAX)
				goto bad;
			rd->since_col[rd->nsince++] = (int)n;
		}
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
	rd->address = -1;
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
	/* Sealed under a key erasure does not destroy: the rows go. */
	if ((res->flags & RESOURCE_SYSTEM_KEY) &&
	    !(res->flags & RESOURCE_ERASE_ROWS))
		goto bad;
	if (res->flags & RESOURCE_OWNED_BY_ADDRESS) {
		/* Whose by one blind index, beside an owner column. */
		for (i = 0; i < n; i++)
			if (rd->cols[i].flags & FIELD_BLIND_INDEX) {
				if (rd->address >= 0)
					goto bad;
				rd->address = (int)i;
			}
		if (rd->address < 0 || rd->owner < 0)
			goto bad;
	}
	/* Read without a token: only rows everyone may see, and nothing
	 * personal in them. */
	if ((res->flags & RESOURCE_PUBLIC_READ) &&
	    (res->scope_where[SCOPE_NONE] == NULL || rd->has_personal ||
		rd->has_health))
		goto bad;

	if ((rd->variants = calloc(1, sizeof(*rd->variants))) == NULL)
		goto nomem;
	for (s = SCOPE_NONE; s <= SCOPE_ALL; s++) {
		rd->custom |= res->scope_where[s] != NULL;
		if ((rd->scope[s] = resource_scope_sql(res, s)) == NULL ||
		    resource_scope_branches(res, s, rd->branch[s],
			rd->branch_bind[s], rd->branch_led[s],
			&rd->nbranch[s]) != OK)
			goto nomem;
		buf_reset(&b);
		if (buf_printf(&b, "SELECT 1 FROM %s WHERE id = ?",
			res->table) != OK ||
		    where_append(&b, res, rd->scope[s]) != OK ||
		    (rd->in_scope[s] = strdup(b.data)) == NULL)
			goto nomem;
	}
	if (rdef_statements(rd, 0, &rd->select, rd->one) != OK)
		goto nomem;
	if (res->related_kinds != NULL && res->related_kinds[0] != '\0' &&
	    res->owner_column != NULL) {
		/* May the caller write rows this owner owns (create,
		 * update)? Any related kind, party kinds included: the
		 * module's hooks narrow it to the party. */
		const char *p = res->related_kinds, *k;
		size_t	    len;
		int	    first = 1;

		buf_reset(&b);
		if (buf_puts(&b,
			"SELECT 1 FROM relationships WHERE lead_id = "
			"? AND follower_id = ? AND status = 'active' AND kind "
			"IN (") != OK)
			goto nomem;
		while ((k = resource_kind_next(&p, &len)) != NULL) {
			if (len == 0)
				continue;
			if (buf_printf(&b, "%s'%.*s'", first ? "" : ", ",
				(int)len, k) != OK)
				goto nomem;
			first = 0;
		}
		if (buf_puts(&b, ")") != OK ||
		    (rd->related = strdup(b.data)) == NULL)
			goto nomem;
	}
	if (!(res->flags & RESOURCE_NO_ROUTES) &&
	    asprintf(&rd->item_path, "%s/{id}", res->path) < 0) {
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
refused: /* logged, naming the field */
	buf_free(&b);
	return (ERR_CONFIG);
nomem:
	buf_free(&b);
	return (ERR_NOMEM);
}

/* One line for a declaration start refuses: the resource, the field
 * (NULL: the resource's own member), what of it and why. */
static void
field_invalid(const struct resource *res, const char *field, const char *what,
    const char *why)
{
	log_error("event=resource_invalid name=%s%s%s what=%s why=\"%s\"",
	    res->name != NULL ? res->name : "(null)",
	    field != NULL ? " field=" : "", field != NULL ? field : "", what,
	    why);
}

/*
 * Is text, JSON the OpenAPI document embeds (a field's schema, the
 * resource's examples and answered members), a JSON object, read as
 * jansson reads a request's body? ERR_CONFIG, logged naming where, when
 * not: a typo would otherwise make /v1/openapi.json invalid JSON or
 * drop the member silently.
 */
static int
json_text_check(const struct resource *res, const char *field, const char *what,
    const char *text)
{
	json_error_t jerr;
	json_t	    *v;
	char	     why[JSON_ERROR_TEXT_LENGTH + 64];
	int	     ok;

	if ((v = json_loads(text, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		snprintf(why, sizeof(why), "not JSON at column %d: %s",
		    jerr.column, jerr.text);
		field_invalid(res, field, what, why);
		return (ERR_CONFIG);
	}
	ok = json_is_object(v);
	json_decref(v);
	if (!ok) {
		field_invalid(res, field, what, "not a JSON object");
		return (ERR_CONFIG);
	}
	return (OK);
}

/*
 * Is f's default (JSON text too: a create without the field stores it,
 * the document states it) a JSON value that passes f's own checks, as a
 * body's member would? ERR_CONFIG, logged naming the field, when not: a
 * typo would otherwise answer 500 to every create without the field, or
 * store a value no body may send. f's pattern is compiled already.
 */
static int
field_default_check(const struct resource *res, const struct field *f)
{
	json_error_t jerr;
	json_t	    *v, *errs;
	const char  *detail;
	char	     why[JSON_ERROR_TEXT_LENGTH + 64];
	int	     rc;

	if ((v = json_loads(f->def, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
		 &jerr)) == NULL) {
		snprintf(why, sizeof(why), "not JSON at column %d: %s",
		    jerr.column, jerr.text);
		field_invalid(res, f->name, "default", why);
		return (ERR_CONFIG);
	}
	if ((errs = json_array()) == NULL) {
		json_decref(v);
		return (ERR_NOMEM);
	}
	if ((rc = field_check(errs, f, v)) == OK && json_array_size(errs) > 0) {
		detail = json_string_value(
		    json_object_get(json_array_get(errs, 0), "detail"));
		field_invalid(res, f->name, "default",
		    detail != NULL ? detail : "fails the field's checks");
		rc = ERR_CONFIG;
	}
	json_decref(errs);
	json_decref(v);
	return (rc);
}

/* Is text {"4xx": ["CODE", ...], ...} (struct resource's codes)? */
static int
codes_text_ok(const char *text)
{
	const char *k, *c;
	json_t	   *o, *l, *x;
	size_t	    i;
	int	    ok;

	if ((o = json_loads(text, 0, NULL)) == NULL)
		return (0);
	ok = json_is_object(o);
	json_object_foreach(o, k, l) {
		if (strlen(k) != 3 || k[0] < '4' || k[0] > '5' ||
		    !json_is_array(l) || json_array_size(l) == 0)
			ok = 0;
		json_array_foreach(l, i, x) {
			if ((c = json_string_value(x)) == NULL || *c == '\0')
				ok = 0;
			for (; c != NULL && *c != '\0'; c++)
				if (!((*c >= 'A' && *c <= 'Z') ||
					(*c >= '0' && *c <= '9') || *c == '_'))
					ok = 0;
		}
	}
	json_decref(o);
	return (ok);
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
		[ACTION_LIST] = { HTTP_GET, 0, handle_list, 0, "List" },
		[ACTION_READ] = { HTTP_GET, 1, handle_read, 0, "Read one of" },
		[ACTION_CREATE] = { HTTP_POST, 0, handle_create,
		    ROUTE_JSON_BODY, "Create one of" },
		[ACTION_UPDATE] = { HTTP_PATCH, 1, handle_update,
		    ROUTE_JSON_BODY, "Change one of" },
		[ACTION_DELETE] = { HTTP_DELETE, 1, handle_update, 0,
		    "Delete one of" },
	};
	static char   summaries[RESOURCE_MAX][ACTION_COUNT][96];
	struct rdef  *rd;
	struct route *rt;
	int	      a, nr = 0, rc;

	if (res == NULL || nrdefs == RESOURCE_MAX || rdef_find(res) != NULL)
		return (ERR_CONFIG);
	if (res->codes != NULL && !codes_text_ok(res->codes)) {
		log_error(
		    "event=resource_codes_invalid resource=%s", res->name);
		return (ERR_CONFIG);
	}
	/* Pages kept read are of rows and the caller alone: a hook before
	 * the list may read anything else. */
	if ((res->flags & RESOURCE_LIST_CACHE) &&
	    (res->before_list != NULL || (res->flags & RESOURCE_ID_PAGED))) {
		field_invalid(res, NULL, "flags",
		    "RESOURCE_LIST_CACHE with a before_list hook or id paging");
		return (ERR_CONFIG);
	}
	if ((res->example != NULL &&
		json_text_check(res, NULL, "example", res->example) != OK) ||
	    (res->create_example != NULL &&
		json_text_check(
		    res, NULL, "create_example", res->create_example) != OK) ||
	    (res->answered != NULL &&
		json_text_check(res, NULL, "answered", res->answered) != OK))
		return (ERR_CONFIG);
	if ((rd = calloc(1, sizeof(*rd))) == NULL)
		return (ERR_NOMEM);
	if ((rc = rdef_compile(res, rd)) != OK) {
		rdef_free(rd);
		return (rc);
	}
	for (a = 0; a < ACTION_COUNT && !(res->flags & RESOURCE_NO_ROUTES);
	     a++) {
		if (res->actions != 0 && (res->actions & (1 << a)) == 0)
			continue;
		rt = &rd->routes[nr++];
		snprintf(summaries[nrdefs][a], sizeof(summaries[0][0]), "%s %s",
		    spec[a].verb, res->name);
		rt->method = spec[a].method;
		rt->pattern = spec[a].item ? rd->item_path : res->path;
		rt->handler = spec[a].fn;
		rt->flags = spec[a].flags;
		if ((res->flags & RESOURCE_PUBLIC_READ) &&
		    spec[a].method == HTTP_GET)
			rt->flags |= ROUTE_PUBLIC;
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

int
resource_since_check(void)
{
	static const int    dialects[] = { STORE_SQLITE, STORE_POSTGRES };
	const struct field *f;
	size_t		    i, k, d;

	for (i = 0; i < nrdefs; i++)
		for (k = 0; k < (size_t)rdefs[i]->nsince; k++) {
			f = &rdefs[i]->cols[rdefs[i]->since_col[k]];
			for (d = 0; d < 2; d++)
				if (!migration_adds_column(dialects[d],
					f->since, resources[i]->table,
					f->name)) {
					log_error("event=resource_invalid "
						  "name=%s field=%s since=%04d "
						  "why=\"migration %04d (%s) "
						  "does not add %s.%s\"",
					    resources[i]->name, f->name,
					    f->since, f->since,
					    dialects[d] == STORE_SQLITE
						? "sqlite"
						: "postgres",
					    resources[i]->table, f->name);
					return (ERR_CONFIG);
				}
		}
	return (OK);
}

int
resource_rescope(const struct resource *res)
{
	struct rdef *rd = NULL, *fresh;
	size_t	     i;
	int	     s, rc;

	for (i = 0; i < nrdefs; i++)
		if (resources[i] == res)
			rd = rdefs[i];
	if (rd == NULL)
		return (ERR_NOT_FOUND);
	if ((fresh = calloc(1, sizeof(*fresh))) == NULL)
		return (ERR_NOMEM);
	if ((rc = rdef_compile(res, fresh)) != OK) {
		rdef_free(fresh);
		return (rc);
	}
	/* The scopes' statements trade places; the old go with fresh. */
	for (s = SCOPE_NONE; s <= SCOPE_ALL; s++) {
		SWAP(char *, rd->one[s], fresh->one[s]);
		SWAP(char *, rd->in_scope[s], fresh->in_scope[s]);
		SWAP(char *, rd->scope[s], fresh->scope[s]);
		for (i = 0; i < SCOPE_BRANCHES_MAX; i++) {
			SWAP(char *, rd->branch[s][i], fresh->branch[s][i]);
			SWAP(int, rd->branch_bind[s][i],
			    fresh->branch_bind[s][i]);
			SWAP(
			    int, rd->branch_led[s][i], fresh->branch_led[s][i]);
		}
		SWAP(int, rd->nbranch[s], fresh->nbranch[s]);
	}
	rd->custom = fresh->custom;
	/* Statements made for pending masks had the old scopes: made
	 * again when next needed (before serving: none yet). */
	SWAP(char *, rd->select, fresh->select);
	rdef_variants_free(rd);
	rdef_free(fresh);
	return (OK);
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
