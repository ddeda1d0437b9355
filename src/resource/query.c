/*
 * Lists: GET /v1/<things>?<filter>=...&sort=...&limit=...&cursor=...
 *
 * Filters are exact matches on FIELD_FILTER fields, typed (times take
 * <name>_from and <name>_to, a blind-indexed field is matched through its
 * index); sort is one FIELD_SORT field or created_at, "-" for descending
 * (default -created_at); paging is keyset on (sort column, id) with an
 * opaque, MAC'd cursor that names the sort it belongs to. NULLs sort last
 * in both directions on both dialects. Only whitelisted column names are
 * ever written into SQL; every value is bound.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/keyring.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "resource/list_cache.h"
#include "resource/resource_int.h"
#include "store/store.h"

#define QUERY_SQL_MAX	 (64 * 1024)
#define QUERY_BINDS_MAX	 64
#define QUERY_PARAMS_MAX 32

/* One bound value of a list query. */
struct qbind {
	int	    is_text;
	const char *text; /* in the arena */
	int64_t	    num;
};

struct qlist {
	struct qbind b[QUERY_BINDS_MAX];
	int	     n;
	enum scope   scope; /* the caller's, for field visibility */
	json_t	    *errs;  /* RESOURCE_ID_PAGED: bad parameters, for a 422 */
};

/*
 * May a caller listing at scope filter or sort on f? Only when every row
 * the list can hold shows f to them: otherwise the order of the rows, or
 * the cursor, would tell a value they may not see. The owner column is
 * the exception below scope all when others' rows show it: on the
 * caller's own rows its value is the caller.
 */
static int
field_listable(const struct rdef *rd, const struct field *f, enum scope scope)
{
	int see = f->see != 0 ? f->see : SEE_EVERYONE;

	switch (scope) {
	case SCOPE_ALL:
		return ((see & SEE_ALL) != 0);
	case SCOPE_OWN:
		return ((see & SEE_OWN) != 0);
	default:
		if (rd->owner >= 0 && f == &rd->cols[rd->owner])
			return ((see & SEE_RELATED) != 0);
		return (
		    (see & (SEE_RELATED | SEE_OWN)) == (SEE_RELATED | SEE_OWN));
	}
}

static const char	  *col_sql(struct request *, const struct field *);
static int		   qb_text(struct qlist *, const char *);
static int		   qb_num(struct qlist *, int64_t);
static int		   int_sorted(const struct field *);
static const struct field *col_find(const struct rdef *, const char *);
static int param_check(struct request *, const struct rdef *, const char *,
    struct buf *, struct qlist *);
static int params_walk(
    struct request *, const struct rdef *, struct buf *, struct qlist *);
static int filter_add(struct request *, const struct field *, const char *,
    const char *, int, struct buf *, struct qlist *);
static int bad_param(
    struct request *, struct qlist *, const char *, const char *);
static int     sort_parse(struct request *, const struct rdef *, enum scope,
	const char **, const struct field **, int *);
static int     keyset_add(struct request *, const struct field *, int, json_t *,
	const char *, struct buf *, struct qlist *);
static json_t *sort_value(
    struct stmt *, const struct rdef *, const struct field *);
struct picks;
static int  list_run(struct request *, const struct rdef *, struct principal *,
     enum scope, const char *, const struct buf *, int, struct qlist *, int64_t,
     const struct field *, const char *);
static int  list_pick(struct request *, struct tx *, const struct rdef *,
     const struct principal *, enum scope, struct picks *);
static void list_bind(struct stmt *, const struct rdef *,
    const struct principal *, enum scope, const struct picks *,
    const struct qlist *, int64_t);
static void list_explain(struct request *, struct tx *, const struct rdef *,
    const struct principal *, enum scope, const char *, const struct picks *,
    const struct qlist *, int64_t);
static int  array_add(struct buf *, int, const char *);
static int  list_sql(struct request *, const struct rdef *, const char *,
     enum scope, const struct picks *, const struct buf *, const struct field *,
     int, struct buf *);
static int list_by_id(struct request *, const struct rdef *, struct principal *,
    enum scope, struct buf *, struct qlist *);

/*
 * The ids of the rows of rows that show a health field (*ids a new
 * array, NULL when none does; *one the id when it is the only one).
 */
static int
read_ids(const struct rdef *rd, json_t *rows, json_t **ids, const char **one)
{
	json_t *row;
	size_t	i, k;

	*ids = NULL;
	*one = NULL;
	if (!rd->has_health)
		return (OK);
	if ((*ids = json_array()) == NULL)
		return (ERR_NOMEM);
	for (i = 0; i < json_array_size(rows); i++) {
		row = json_array_get(rows, i);
		for (k = 0; k < rd->ncols; k++)
			if ((rd->cols[k].flags & FIELD_HEALTH) &&
			    json_object_get(row, rd->cols[k].name) != NULL)
				break;
		if (k == rd->ncols)
			continue;
		*one = json_string_value(json_object_get(row, "id"));
		if (json_array_append_new(*ids, json_string(*one)) != 0) {
			json_decref(*ids);
			*ids = NULL;
			return (ERR_NOMEM);
		}
	}
	if (json_array_size(*ids) == 0) {
		json_decref(*ids);
		*ids = NULL;
	}
	return (OK);
}

/*
 * The audit row of a read of ids (read_ids): *changes its changes as the
 * log keeps them (a new string; NULL when there are no ids), *entity the
 * id when it is the only one (borrowed from ids).
 */
static int
ids_audit_text(json_t *ids, char **changes, const char **entity)
{
	json_t *ch;

	*changes = NULL;
	*entity = NULL;
	if (ids == NULL || json_array_size(ids) == 0)
		return (OK);
	if ((ch = json_pack("{s:O}", "ids", ids)) == NULL)
		return (ERR_NOMEM);
	*changes = audit_changes_text(ch);
	json_decref(ch);
	if (*changes == NULL)
		return (ERR_NOMEM);
	if (json_array_size(ids) == 1)
		*entity = json_string_value(json_array_get(ids, 0));
	return (OK);
}

/* That row queued (audit_read_text); none when changes is NULL. */
static int
ids_read_audit(struct tx *tx, const struct rdef *rd,
    const struct principal *who, struct request *req, const char *changes,
    const char *entity)
{
	char action[96];

	if (changes == NULL)
		return (OK);
	snprintf(action, sizeof(action), "%s.read", rd->res->name);
	return (audit_read_text(
	    tx, who, req, action, rd->res->name, entity, changes));
}

int
rows_read_audit(struct tx *tx, const struct rdef *rd,
    const struct principal *who, struct request *req, json_t *rows)
{
	json_t	   *ids;
	const char *one, *entity;
	char	   *changes = NULL;
	int	    rc;

	if ((rc = read_ids(rd, rows, &ids, &one)) == OK &&
	    (rc = ids_audit_text(ids, &changes, &entity)) == OK)
		rc = ids_read_audit(tx, rd, who, req, changes, entity);
	free(changes);
	json_decref(ids);
	return (rc);
}

/* List queries */

/*
 * The key a page of this list is kept under (list_cache.c): resource,
 * scope, caller, role, path and query string, each ended by a NUL. Not
 * made (ERR_NOT_FOUND, b left empty) when the resource's pages are not
 * kept, for a caller not signed in, or a method other than GET.
 */
static int
list_key(struct request *req, const struct rdef *rd,
    const struct principal *who, enum scope scope, struct buf *b)
{
	const char *q = http_query_raw(req);
	int	    rc;

	if (!(rd->res->flags & RESOURCE_LIST_CACHE) ||
	    rd->res->before_list != NULL || who == NULL ||
	    req->method != HTTP_GET)
		return (ERR_NOT_FOUND);
	if ((rc = buf_printf(b, "%s%c%d%c%s%c%s%c%s%c%s", rd->res->name, 0,
		 (int)scope, 0, who->user_id, 0, who->role, 0, req->path, 0,
		 q != NULL ? q : "")) != OK ||
	    (rc = buf_append(b, "", 1)) != OK) {
		buf_truncate(b, 0);
		return (rc);
	}
	return (OK);
}

/*
 * The page kept under key and stamp answered (OK; tx committed), with
 * the audit row of the read it stands for; ERR_NOT_FOUND when none is
 * kept (tx as it was), another status when it could not be (tx rolled
 * back).
 */
static int
list_cached(struct request *req, struct tx *tx, const struct rdef *rd,
    const struct principal *who, const struct buf *key, int64_t stamp)
{
	const char *body, *changes, *entity;
	size_t	    len;
	int	    rc;

	if ((rc = list_cache_get(req, key->data, key->len, stamp, &body, &len,
		 &changes, &entity)) != OK)
		return (rc == ERR_NOMEM ? ERR_NOT_FOUND : rc);
	if ((rc = ids_read_audit(tx, rd, who, req, changes, entity)) != OK) {
		store_tx_rollback(tx);
		return (rc);
	}
	if ((rc = store_tx_commit(tx)) != OK)
		return (rc == ERR_NOT_FOUND ? ERR_DB : rc);
	http_send(req, 200, "application/json", body, len);
	return (OK);
}

static int
qb_text(struct qlist *q, const char *s)
{
	if (q->n == QUERY_BINDS_MAX)
		return (ERR_TOO_LARGE);
	q->b[q->n].is_text = 1;
	q->b[q->n].text = s;
	q->n++;
	return (OK);
}

static int
qb_num(struct qlist *q, int64_t v)
{
	if (q->n == QUERY_BINDS_MAX)
		return (ERR_TOO_LARGE);
	q->b[q->n].is_text = 0;
	q->b[q->n].num = v;
	q->n++;
	return (OK);
}

/* Columns stored as integers. */
static int
int_sorted(const struct field *f)
{
	return (f->type == FIELD_INT || f->type == FIELD_BOOL ||
	    f->type == FIELD_TIME);
}

static const struct field *
col_find(const struct rdef *rd, const char *name)
{
	size_t i;

	for (i = 0; i < rd->ncols; i++)
		if (strcmp(rd->cols[i].name, name) == 0)
			return (&rd->cols[i]);
	return (NULL);
}

/*
 * A parameter refused: 400 INVALID_PARAMETER, or, for an id-paged list
 * (q->errs), an entry of its 422 and on to the next parameter.
 */
static int
bad_param(
    struct request *req, struct qlist *q, const char *name, const char *why)
{
	if (q != NULL && q->errs != NULL) {
		resource_field_err(q->errs, name, "invalid", why);
		return (OK);
	}
	http_problem_ext(req, ERR_MALFORMED, "INVALID_PARAMETER",
	    json_pack("{s:s}", "parameter", name), "%s: %s", name, why);
	return (ERR_MALFORMED);
}

/* The column of f in SQL: its name, or its expression (arena). */
static const char *
col_sql(struct request *req, const struct field *f)
{
	if (f->sql == NULL)
		return (f->name);
	return (arena_printf(req->arena, "(%s)", f->sql));
}

/* One typed filter condition: op is '=', '>' (from, >=) or '<' (to). */
static int
filter_add(struct request *req, const struct field *f, const char *key,
    const char *val, int op, struct buf *sql, struct qlist *q)
{
	char   *idx;
	int64_t v = 0;
	int	rc;

	if (val == NULL)
		return (bad_param(req, q, key, "not a valid value"));
	if (f->flags & FIELD_BLIND_INDEX) {
		if ((idx = arena_alloc(req->arena, 65)) == NULL)
			return (ERR_NOMEM);
		keyring_email_index(val, idx);
		if ((rc = buf_printf(sql, " AND %s_index = ?", f->name)) != OK)
			return (rc);
		return (qb_text(q, idx));
	}
	switch (f->type) {
	case FIELD_INT:
		if (parse_int64(val, INT64_MIN, INT64_MAX, &v) != 0)
			return (bad_param(req, q, key, "must be an integer"));
		break;
	case FIELD_BOOL:
		/* Id-paged lists take JSON's words only, as they always did. */
		if (strcmp(val, "true") == 0 ||
		    (q->errs == NULL && strcmp(val, "1") == 0))
			v = 1;
		else if (strcmp(val, "false") == 0 ||
		    (q->errs == NULL && strcmp(val, "0") == 0))
			v = 0;
		else
			return (
			    bad_param(req, q, key, "must be true or false"));
		break;
	case FIELD_TIME:
		if (time_parse_iso(val, &v) != 0)
			return (
			    bad_param(req, q, key, "must be an ISO 8601 time"));
		break;
	case FIELD_UUID:
		if (!uuid_valid(val))
			return (bad_param(req, q, key, "must be a UUID"));
		break;
	case FIELD_DATE:
		if (!date_valid(val))
			return (bad_param(req, q, key, "must be YYYY-MM-DD"));
		break;
	case FIELD_ENUM:
		/* A deprecated spelling filters on the choice it names. */
		if ((val = field_choice(f, val)) == NULL)
			return (
			    bad_param(req, q, key, "is not one of the values"));
		break;
	default:
		if (utf8_count(val) > RESOURCE_TEXT_MAX)
			return (bad_param(req, q, key, "is too long"));
		break;
	}
	if ((rc = buf_printf(sql, " AND %s %s ?", col_sql(req, f),
		 op == '='	 ? "="
		     : op == '>' ? ">="
				 : "<")) != OK)
		return (rc);
	return (int_sorted(f) ? qb_num(q, v) : qb_text(q, val));
}

/* A filter parameter name: add its condition, or refuse it. */
static int
param_check(struct request *req, const struct rdef *rd, const char *key,
    struct buf *sql, struct qlist *q)
{
	const struct field *f;
	const char	   *val;
	size_t		    i, n;

	val = http_query(req, key);
	if (q->errs != NULL &&
	    (strcmp(key, "limit") == 0 || strcmp(key, "cursor") == 0))
		return (OK); /* page_parse's */
	if (q->errs == NULL &&
	    (strcmp(key, "sort") == 0 || strcmp(key, "limit") == 0 ||
		strcmp(key, "cursor") == 0)) {
		if (val != NULL)
			return (OK);
		if (strcmp(key, "cursor") == 0) {
			http_problem(req, ERR_MALFORMED, "INVALID_CURSOR",
			    "The cursor is not valid for this list and sort.");
			return (ERR_MALFORMED);
		}
		return (bad_param(req, q, key, "not a valid value"));
	}
	for (i = 0; i < rd->ncols; i++) {
		f = &rd->cols[i];
		if ((f->flags & FIELD_FILTER) == 0 || f->type == FIELD_JSON ||
		    f->type == FIELD_TEXT_LIST || f->type == FIELD_URL_MAP ||
		    ((f->flags & FIELD_PERSONAL) &&
			(f->flags & FIELD_BLIND_INDEX) == 0) ||
		    !field_listable(rd, f, q->scope))
			continue;
		n = strlen(f->name);
		if (f->type != FIELD_TIME && strcmp(key, f->name) == 0)
			return (filter_add(req, f, key, val, '=', sql, q));
		if (f->type == FIELD_TIME && strncmp(key, f->name, n) == 0) {
			if (strcmp(key + n, "_from") == 0)
				return (
				    filter_add(req, f, key, val, '>', sql, q));
			if (strcmp(key + n, "_to") == 0)
				return (
				    filter_add(req, f, key, val, '<', sql, q));
		}
	}
	if (q->errs != NULL) {
		resource_field_err(
		    q->errs, key, "unknown", "not a parameter of this list");
		return (OK);
	}
	http_problem_ext(req, ERR_MALFORMED, "UNKNOWN_PARAMETER",
	    json_pack("{s:s}", "parameter", key), "Unknown query parameter: %s",
	    key);
	return (ERR_MALFORMED);
}

/* Every parameter of the query string, each name once. */
static int
params_walk(struct request *req, const struct rdef *rd, struct buf *sql,
    struct qlist *q)
{
	const char *names[QUERY_PARAMS_MAX + 1];
	int	    n, i, rc;

	/* One name more than allowed, to name the first one too many. */
	switch (http_query_names(req, names, QUERY_PARAMS_MAX + 1, &n)) {
	case OK:
	case ERR_TOO_LARGE:
		if (n > QUERY_PARAMS_MAX)
			return (bad_param(req, NULL, names[QUERY_PARAMS_MAX],
			    "too many parameters"));
		break;
	case ERR_MALFORMED:
		http_problem(req, ERR_MALFORMED, "INVALID_PARAMETER",
		    "A query parameter name is not valid.");
		return (ERR_MALFORMED);
	default:
		http_problem(req, ERR_NOMEM, NULL, "Out of memory.");
		return (ERR_NOMEM);
	}
	for (i = 0; i < n; i++)
		if ((rc = param_check(req, rd, names[i], sql, q)) != OK)
			return (rc);
	return (OK);
}

/* The sort asked for, checked: field and direction; "-created_at" by
 * default. */
static int
sort_parse(struct request *req, const struct rdef *rd, enum scope scope,
    const char **spec, const struct field **f, int *desc)
{
	const char *s = http_query(req, "sort");

	if (s == NULL)
		s = "-created_at";
	if (s[0] == '\0')
		return (
		    bad_param(req, NULL, "sort", "names no sortable field"));
	*desc = s[0] == '-';
	*f = col_find(rd, s + (*desc ? 1 : 0));
	if (*f == NULL || ((*f)->flags & FIELD_SORT) == 0 ||
	    ((*f)->flags & (FIELD_PERSONAL | FIELD_HIDDEN)) ||
	    (*f)->type == FIELD_JSON || (*f)->type == FIELD_TEXT_LIST ||
	    (*f)->type == FIELD_URL_MAP || !field_listable(rd, *f, scope))
		return (
		    bad_param(req, NULL, "sort", "names no sortable field"));
	*spec = s;
	return (OK);
}

/* The keyset condition after the cursor's row, nulls last. */
static int
keyset_add(struct request *req, const struct field *f, int desc, json_t *cv,
    const char *cid, struct buf *sql, struct qlist *q)
{
	const char *op = desc ? "<" : ">", *col = col_sql(req, f);
	char	   *id;
	int	    nullable = (f->flags & FIELD_NULLABLE) != 0;
	int	    rc;

	if ((id = arena_strdup(req->arena, cid)) == NULL || col == NULL)
		return (ERR_NOMEM);
	if (json_is_null(cv)) {
		if (!nullable)
			return (ERR_INVALID);
		if ((rc = buf_printf(
			 sql, " AND (%s IS NULL AND id %s ?)", col, op)) != OK)
			return (rc);
		return (qb_text(q, id));
	}
	if (int_sorted(f) != json_is_integer(cv))
		return (ERR_INVALID);
	if ((rc = buf_printf(sql,
		 " AND (%s %s ? OR (%s = ? AND id %s ?)%s%s%s)", col, op, col,
		 op, nullable ? " OR " : "", nullable ? col : "",
		 nullable ? " IS NULL" : "")) != OK)
		return (rc);
	if (int_sorted(f)) {
		if ((rc = qb_num(q, json_integer_value(cv))) != OK ||
		    (rc = qb_num(q, json_integer_value(cv))) != OK)
			return (rc);
	} else {
		if ((rc = qb_text(
			 q, arena_strdup(req->arena, json_string_value(cv)))) !=
			OK ||
		    (rc = qb_text(q, q->b[q->n - 1].text)) != OK)
			return (rc);
	}
	return (qb_text(q, id));
}

/* The sort value of the current row, as a cursor holds it. */
static json_t *
sort_value(struct stmt *st, const struct rdef *rd, const struct field *f)
{
	int i = (int)(f - rd->cols);

	if (store_col_is_null(st, i))
		return (json_null());
	if (int_sorted(f))
		return (json_integer(store_col_int64(st, i)));
	return (json_string(store_col_text(st, i)));
}

/*
 * Which branches of a branched list this caller reads (list_pick): a
 * branch of the people the caller leads, or of the rows the caller is a
 * party to, when the caller leads anyone of its kinds; on PostgreSQL
 * those people as one array value (ids[k], a text[] literal, of nids[k]
 * people; nids -1: the relationships subquery), bound to "<owner> =
 * ANY(?)", so that the statement's text is the same whatever their
 * number and each connection prepares it once (an IN list of one
 * placeholder a person made a statement for each count, and churned
 * the statement cache). One person (one[k]: a guardian of one child,
 * the common case) is "<owner> = ?", a second text, which the planner
 * knows to be one value: it walks the owner's index in the list's order
 * where an array of one would read all the person's rows and sort them.
 * And the caller's party value when the resource resolves it (party_of).
 */
#define PICK_IDS_MAX 500
struct picks {
	int	    keep[SCOPE_BRANCHES_MAX];
	const char *ids[SCOPE_BRANCHES_MAX];
	const char *one[SCOPE_BRANCHES_MAX]; /* ids' first */
	int	    nids[SCOPE_BRANCHES_MAX];
	const char *party; /* the party branch binds this, then the rest */
	int	    party_k;
};

/*
 * Bind a list statement: the caller for the scope, the filters' and the
 * cursor's values, and the page's limit + 1; once, or once for each
 * branch of a branched list (list_sql) that pk keeps, in the order they
 * are written.
 */
static void
list_bind(struct stmt *st, const struct rdef *rd, const struct principal *who,
    enum scope scope, const struct picks *pk, const struct qlist *q,
    int64_t limit)
{
	const char *uid = who != NULL ? who->user_id : "";
	int	    i = 1, k, m, nb = pk != NULL ? rd->nbranch[scope] : 1;

	for (k = 0; k < nb; k++) {
		if (pk != NULL && !pk->keep[k])
			continue;
		if (pk == NULL)
			i = scope_bind(st, i, rd->res, who, scope);
		else {
			/* The party's condition: its value, or the caller
			 * for each of party_where's placeholders. */
			m = rd->branch_bind[scope][k] - (k > 0);
			if (k == pk->party_k && pk->party != NULL)
				store_bind_text(st, i++, pk->party);
			else
				for (; m > 0; m--)
					store_bind_text(st, i++, uid);
			/* The people the caller leads: as an array, or
			 * the caller for the subquery. */
			if (k > 0 && pk->nids[k] == 1)
				store_bind_text(st, i++, pk->one[k]);
			else if (k > 0 && pk->nids[k] >= 0)
				store_bind_text(st, i++, pk->ids[k]);
			else if (k > 0)
				store_bind_text(st, i++, uid);
		}
		for (m = 0; m < q->n; m++, i++) {
			if (q->b[m].is_text)
				store_bind_text(st, i, q->b[m].text);
			else
				store_bind_int64(st, i, q->b[m].num);
		}
		store_bind_int64(st, i++, limit + 1);
	}
}

/*
 * The branches this caller reads, looked up in the list's transaction:
 * a branch of led people only when the caller leads someone of its
 * kinds (an index probe of relationships), the party's branch only when
 * the caller has a party value (party_of), bound as a value. A branch
 * nobody is in costs a planner nothing to skip, but its estimate of the
 * rows it might give (from relationships' statistics, lead and kind
 * taken as independent) made PostgreSQL hash-join every session of the
 * table for a therapist who is nobody's guardian.
 */
static int
list_pick(struct request *req, struct tx *tx, const struct rdef *rd,
    const struct principal *who, enum scope scope, struct picks *pk)
{
	const struct resource *res = rd->res;
	struct stmt	      *st;
	struct buf	       b, arr;
	const char	      *uid = who != NULL ? who->user_id : "";
	int		       k, rc, step, n, values;

	memset(pk, 0, sizeof(*pk));
	pk->party_k = -1;
	pk->keep[0] = 1;
	values = store_tx_dialect(tx) == STORE_POSTGRES;
	for (k = 1; k < rd->nbranch[scope]; k++) {
		/* Branches after the own one: the led people's (led), then
		 * the party's (resource_scope_branches). */
		if (!rd->branch_led[scope][k])
			pk->party_k = k;
		pk->nids[k] = -1;
		buf_init(&b, 512);
		rc = resource_scope_probe(res, !rd->branch_led[scope][k],
		    values ? PICK_IDS_MAX + 1 : 1, &b);
		if (rc != OK) {
			buf_free(&b);
			return (rc == ERR_NOT_FOUND ? ERR_INTERNAL : rc);
		}
		st = store_prepare(tx, b.data);
		buf_free(&b);
		store_bind_text(st, 1, uid);
		buf_init(&arr, 64 * 1024);
		rc = buf_puts(&arr, "{");
		for (n = 0; (step = store_step(st)) == STORE_ROW; n++) {
			if (values && n < PICK_IDS_MAX && rc == OK)
				rc = array_add(&arr, n, store_col_text(st, 0));
			if (values && n == 0 && rc == OK &&
			    (pk->one[k] = arena_strdup(
				 req->arena, store_col_text(st, 0))) == NULL)
				rc = ERR_NOMEM;
		}
		store_finalize(st);
		if (rc == OK)
			rc = buf_puts(&arr, "}");
		if (step == STORE_DONE && rc != OK)
			step = rc;
		if (step == STORE_DONE && values && n <= PICK_IDS_MAX &&
		    (pk->ids[k] = arena_strdup(req->arena, arr.data)) == NULL)
			step = ERR_NOMEM;
		buf_free(&arr);
		if (step != STORE_DONE)
			return (step);
		pk->keep[k] = n > 0;
		/* More than PICK_IDS_MAX: the subquery, as one value should
		 * not carry thousands of people. */
		if (values && n <= PICK_IDS_MAX)
			pk->nids[k] = n;
	}
	if (pk->party_k < 0 || !pk->keep[pk->party_k] || res->party_of == NULL)
		return (OK);
	st = store_prepare(tx, res->party_of);
	store_bind_text(st, 1, uid);
	if ((step = store_step(st)) == STORE_ROW && !store_col_is_null(st, 0) &&
	    (pk->party = arena_strdup(req->arena, store_col_text(st, 0))) ==
		NULL)
		step = ERR_NOMEM;
	else if (step == STORE_ROW && pk->party == NULL)
		step = STORE_DONE;
	store_finalize(st);
	if (step != STORE_ROW && step != STORE_DONE)
		return (step);
	pk->keep[pk->party_k] = pk->party != NULL;
	return (OK);
}

/*
 * Element n of a PostgreSQL text[] literal: each in double quotes, a
 * quote or backslash in it escaped.
 */
static int
array_add(struct buf *arr, int n, const char *v)
{
	int rc;

	if (v == NULL)
		return (ERR_INTERNAL);
	if ((rc = buf_puts(arr, n > 0 ? ",\"" : "\"")) != OK)
		return (rc);
	for (; *v != '\0' && rc == OK; v++) {
		if (*v == '"' || *v == '\\')
			rc = buf_append(arr, "\\", 1);
		if (rc == OK)
			rc = buf_append(arr, v, 1);
	}
	return (rc == OK ? buf_puts(arr, "\"") : rc);
}

/*
 * The condition of branch k as this caller reads it (picks): the party's
 * value for party_where, the people the caller leads as values.
 * Branches are "<owner> IN (SELECT ...)" (led) or "(<party_where>) AND
 * <owner> IN (SELECT ...)" (party; resource_scope_branches).
 */
static const char *
branch_cond(struct request *req, const struct rdef *rd, enum scope scope,
    const struct picks *pk, int k)
{
	const struct resource *res = rd->res;
	const char	      *cond = rd->branch[scope][k], *party = NULL;
	struct buf	       b;
	char		      *out;
	int		       rc = OK;

	if (k == 0 ||
	    (pk->nids[k] < 0 && (k != pk->party_k || pk->party == NULL)))
		return (cond);
	if (k == pk->party_k) {
		if (pk->party != NULL)
			party = arena_printf(
			    req->arena, "%s = ?", res->party_column);
		else
			party =
			    arena_printf(req->arena, "%s", res->party_where);
		if (party == NULL)
			return (NULL);
	}
	buf_init(&b, 1024);
	if (party != NULL)
		rc = buf_printf(&b, "(%s) AND ", party);
	if (rc == OK && pk->nids[k] < 0)
		/* past "(<party_where>) AND " */
		rc = buf_puts(&b, cond + strlen(res->party_where) + 7);
	else if (rc == OK)
		rc = buf_printf(&b, pk->nids[k] == 1 ? "%s = ?" : "%s = ANY(?)",
		    res->owner_column);
	out = rc == OK ? arena_strdup(req->arena, b.data) : NULL;
	buf_free(&b);
	return (out);
}

/*
 * explain_lists: the plan the database chose for this list, one log line
 * a row of it (SQLite's EXPLAIN QUERY PLAN: id, parent, detail;
 * PostgreSQL's EXPLAIN: one line of its text), under the request's id.
 * For tests and diagnosis (tests/api/test_scope_plans.py); nothing but
 * plan text and the resource's name is logged.
 */
static void
list_explain(struct request *req, struct tx *tx, const struct rdef *rd,
    const struct principal *who, enum scope scope, const char *sqltext,
    const struct picks *pk, const struct qlist *q, int64_t limit)
{
	static const char *const names[] = { "none", "own", "related", "all" };
	struct stmt		*st;
	char			*sql, quoted[1024];
	const char		*c;
	uint32_t		 h = 2166136261u;
	int			 pg = store_tx_dialect(tx) == STORE_POSTGRES;

	/* The statement's text as a number (FNV-1a), so that a test sees
	 * which lists share one prepared statement. */
	for (c = sqltext; *c != '\0'; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	log_info("event=list_statement request_id=%s resource=%s scope=%s "
		 "text=%08x",
	    req->id, rd->res->name, names[scope], (unsigned)h);
	if (asprintf(&sql, "%s%s", pg ? "EXPLAIN " : "EXPLAIN QUERY PLAN ",
		sqltext) < 0)
		return;
	if ((st = store_prepare(tx, sql)) != NULL) {
		list_bind(st, rd, who, scope, pk, q, limit);
		while (store_step(st) == STORE_ROW) {
			if (pg)
				log_info("event=list_plan request_id=%s "
					 "resource=%s scope=%s line=%s",
				    req->id, rd->res->name, names[scope],
				    log_quote(quoted, sizeof(quoted),
					store_col_text(st, 0)));
			else
				log_info("event=list_plan request_id=%s "
					 "resource=%s scope=%s id=%lld "
					 "parent=%lld line=%s",
				    req->id, rd->res->name, names[scope],
				    (long long)store_col_int64(st, 0),
				    (long long)store_col_int64(st, 1),
				    log_quote(quoted, sizeof(quoted),
					store_col_text(st, 3)));
		}
	}
	store_finalize(st);
	free(sql);
}

/*
 * The list statement from its filters and cursor condition (tail: " AND
 * ..."), ordered by sf, LIMIT ?. A scope of one branch: "<select> WHERE
 * <where> AND <scope><tail> ORDER BY ... LIMIT ?". A scope of several
 * (resource_scope_branches): each branch its own page, by its own index,
 * "SELECT * FROM (<select> WHERE <where> AND <branch><tail> ORDER BY ...
 * LIMIT ?) AS bK" joined by UNION ALL and ordered again by name; a row
 * more than one branch covers comes twice, side by side, and list_run
 * keeps one. The branch of the people the caller leads orders by an
 * expression of a number column ("+col"), which keeps the planner from
 * walking the whole order index over everyone's rows to find theirs: it
 * reads them by the owner column's index and sorts them.
 */
static int
list_sql(struct request *req, const struct rdef *rd, const char *select,
    enum scope scope, const struct picks *pk, const struct buf *tail,
    const struct field *sf, int desc, struct buf *sql)
{
	const char *dir = desc ? "DESC" : "ASC", *col, *ord, *cond;
	int	    k, nb = pk != NULL ? rd->nbranch[scope] : 1, rc, first = 1;

	if ((col = col_sql(req, sf)) == NULL)
		return (ERR_NOMEM);
	if (pk != NULL && (rc = buf_puts(sql, "SELECT * FROM (")) != OK)
		return (rc);
	for (k = 0; k < nb; k++) {
		if (pk != NULL && !pk->keep[k])
			continue;
		cond = pk != NULL ? branch_cond(req, rd, scope, pk, k)
				  : rd->scope[scope];
		if (cond == NULL)
			return (ERR_NOMEM);
		/* Led people named by values: the planner knows how many
		 * rows they have and walks the owner index itself. */
		ord = pk != NULL && rd->branch_led[scope][k] &&
			pk->nids[k] < 0 && int_sorted(sf) && sf->sql == NULL
		    ? arena_printf(req->arena, "+%s", col)
		    : col;
		if (ord == NULL)
			return (ERR_NOMEM);
		if ((pk != NULL &&
			(rc = buf_printf(sql, "%sSELECT * FROM (",
			     first ? "" : " UNION ALL ")) != OK) ||
		    (rc = buf_printf(sql, "%s WHERE 1 = 1", select)) != OK ||
		    (rd->res->where != NULL &&
			(rc = buf_printf(sql, " AND (%s)", rd->res->where)) !=
			    OK) ||
		    (cond[0] != '\0' &&
			(rc = buf_printf(sql, " AND (%s)", cond)) != OK) ||
		    (tail->len > 0 && (rc = buf_puts(sql, tail->data)) != OK) ||
		    (rc = ((sf->flags & FIELD_NULLABLE)
			     ? buf_printf(sql,
				   " ORDER BY (%s IS NULL), %s %s, id %s", col,
				   ord, dir, dir)
			     : buf_printf(sql, " ORDER BY %s %s, id %s", ord,
				   dir, dir))) != OK ||
		    (rc = buf_puts(sql, " LIMIT ?")) != OK ||
		    (pk != NULL && (rc = buf_printf(sql, ") AS b%d", k)) != OK))
			return (rc);
		first = 0;
	}
	if (pk == NULL)
		return (OK);
	if ((rc = buf_puts(sql, ") AS u")) != OK)
		return (rc);
	if (sf->flags & FIELD_NULLABLE)
		return (buf_printf(sql, " ORDER BY (%s IS NULL), %s %s, id %s",
		    sf->name, sf->name, dir, dir));
	return (buf_printf(sql, " ORDER BY %s %s, id %s", sf->name, dir, dir));
}

/*
 * A list filtered or sorted (sf; NULL: id-paged) on a field whose
 * migration is pending: 503 FIELD_UNAVAILABLE, as a write naming it
 * (param_check let through only the filterable fields).
 */
static int
pending_params(struct request *req, const struct rdef *rd, uint32_t pending,
    const struct field *sf)
{
	const struct field *f;
	char		    key[80];
	size_t		    col;
	int		    k, used;

	for (k = 0; pending != 0 && k < rd->nsince; k++) {
		if (!(pending & (1u << k)))
			continue;
		col = (size_t)rd->since_col[k];
		f = &rd->cols[col];
		used = f == sf || http_query(req, f->name) != NULL;
		if (!used && f->type == FIELD_TIME) {
			snprintf(key, sizeof(key), "%s_from", f->name);
			used = http_query(req, key) != NULL;
			snprintf(key, sizeof(key), "%s_to", f->name);
			used |= http_query(req, key) != NULL;
		}
		if (used) {
			rdef_unavailable(req, rd, col);
			return (ERR_UNAVAILABLE);
		}
	}
	return (OK);
}

static int
list_run(struct request *req, const struct rdef *rd, struct principal *who,
    enum scope scope, const char *sqltext, const struct buf *tail, int desc,
    struct qlist *q, int64_t limit, const struct field *sf, const char *spec)
{
	struct tx	   *tx = NULL;
	struct stmt	   *st;
	struct keycache	    kc;
	struct resource_ctx ctx;
	struct picks	    picks, *pk = NULL;
	struct buf	    sql, key;
	json_t		   *data = NULL, *row, *last = NULL, *ids = NULL;
	const char	   *one, *entity = NULL;
	char		   *changes = NULL;
	char		   *cur = NULL, lastid[UUID_STR_LEN];
	char		    previd[UUID_STR_LEN];
	const char	   *select;
	int64_t		    n = 0;
	uint32_t	    pending;
	int64_t		    stamp = -1;
	int		    rc, more = 0, kind, stamped = 0;

	memset(&kc, 0, sizeof(kc));
	buf_init(&sql, QUERY_SQL_MAX);
	buf_init(&key, 512);
	/* A page kept read (list_cache.c): PostgreSQL's clock is read before
	 * the transaction begins, SQLite's count as its first statement. */
	if (sqltext == NULL && list_key(req, rd, who, scope, &key) == OK)
		stamped = list_cache_stamp(req->db, NULL, &stamp) == OK;
	/*
	 * A read transaction, health data or not: its audit row is queued
	 * for the audit writer (audit_read). A branched list runs more
	 * than one statement (the people the caller leads and the party
	 * value, list_pick, then the page): one snapshot for all of them
	 * (PostgreSQL's REPEATABLE READ; READ COMMITTED would read each
	 * at its own, and a write between could show a page that no
	 * state of the database held). The page's statement is planned
	 * for its values each time (STORE_TX_CUSTOM_PLANS): a generic
	 * plan, which PostgreSQL switches to after five runs of a
	 * prepared statement, is one plan for every caller, and may walk
	 * a whole order index for the caller whose rows are few.
	 */
	kind = STORE_TX_READ | STORE_TX_CUSTOM_PLANS;
	/* A person's scope, whose indexes give the page in order. */
	if ((rd->res->flags & RESOURCE_ORDER_INDEXED) &&
	    (scope == SCOPE_OWN || scope == SCOPE_RELATED))
		kind |= STORE_TX_NO_INCREMENTAL_SORT;
	if (sqltext == NULL &&
	    (rd->nbranch[scope] > 1 || rd->res->before_list != NULL))
		kind |= STORE_TX_SNAPSHOT;
	/* On SQLite the caller's check's read transaction, when it was
	 * kept for this request (http_read_tx_keep): a snapshot as any. */
	if (http_read_tx_take(req, &tx) != OK &&
	    (rc = store_tx_begin(req->db, kind, &tx)) != OK)
		goto out;
	if (key.len > 0 && store_dialect(req->db) != STORE_POSTGRES)
		stamped = list_cache_stamp(req->db, tx, &stamp) == OK;
	if (stamped) {
		/* Answered, or failed: tx is over either way. */
		if ((rc = list_cached(req, tx, rd, who, &key, stamp)) !=
		    ERR_NOT_FOUND) {
			tx = NULL;
			goto out;
		}
	}
	/* Fields whose migration is pending: selected as NULL, and not to
	 * be filtered or sorted on (schema.c). */
	if ((rc = rdef_pending(tx, rd, &pending)) != OK ||
	    (rc = pending_params(req, rd, pending, sf)) != OK)
		goto out;
	rc = ERR_NOMEM;
	if ((select = rdef_select(rd, pending)) == NULL)
		goto out;
	if (rd->res->before_list != NULL) {
		memset(&ctx, 0, sizeof(ctx));
		ctx.req = req;
		ctx.tx = tx;
		ctx.res = rd->res;
		ctx.who = who;
		ctx.scope = scope;
		if ((rc = rd->res->before_list(&ctx)) != OK)
			goto out;
	}
	/* No statement given: the list's own, of the branches this caller
	 * reads (a scope of several) or of its one condition. */
	if (sqltext == NULL) {
		if (rd->nbranch[scope] > 1) {
			pk = &picks;
			if ((rc = list_pick(req, tx, rd, who, scope, pk)) != OK)
				goto out;
		}
		if ((rc = list_sql(req, rd, select, scope, pk, tail, sf, desc,
			 &sql)) != OK)
			goto out;
	} else if ((rc = buf_printf(&sql, "%s%s", select, sqltext)) != OK)
		goto out;
	sqltext = sql.data;
	rc = ERR_NOMEM;
	if ((data = json_array()) == NULL)
		goto out;
	if (config.explain_lists)
		list_explain(req, tx, rd, who, scope, sqltext, pk, q, limit);
	st = store_prepare(tx, sqltext);
	list_bind(st, rd, who, scope, pk, q, limit);
	n = 0;
	previd[0] = '\0';
	while ((rc = store_step(st)) == STORE_ROW) {
		/* Covered by two branches: the same row twice in a row. */
		if (pk != NULL && strcmp(store_col_text(st, 0), previd) == 0)
			continue;
		strlcpy_cb(previd, store_col_text(st, 0), sizeof(previd));
		if (n == limit) {
			more = 1;
			break;
		}
		if ((rc = rows_decode(tx, rd, st, who, scope, 0, pending, &kc,
			 &row, NULL)) != OK)
			break;
		json_array_append_new(data, row);
		if (sf != NULL) {
			json_decref(last);
			last = sort_value(st, rd, sf);
		}
		strlcpy_cb(lastid, store_col_text(st, 0), sizeof(lastid));
		n++;
	}
	store_finalize(st);
	if (rc != STORE_ROW && rc != STORE_DONE)
		goto out;
	if ((rc = read_ids(rd, data, &ids, &one)) != OK ||
	    (rc = ids_audit_text(ids, &changes, &entity)) != OK ||
	    (rc = ids_read_audit(tx, rd, who, req, changes, entity)) != OK)
		goto out;
	/* Id-paged (no spec): the cursor is the last id as it is. */
	if (more && spec == NULL && (cur = strdup(lastid)) == NULL) {
		rc = ERR_NOMEM;
		goto out;
	}
	if (more && spec != NULL &&
	    (rc = resource_cursor_encode(spec, last, lastid, &cur)) != OK)
		goto out;
	if ((rc = store_tx_commit(tx)) != OK) {
		tx = NULL;
		goto out;
	}
	tx = NULL;
	http_json(req, 200,
	    json_pack("{s:O,s:s?}", "data", data, "next_cursor", cur));
	if (stamped && req->status == 200 && req->resp_body != NULL)
		list_cache_put(key.data, key.len, stamp, req->resp_body,
		    req->resp_len, changes, entity);
	rc = OK;
out:
	store_tx_rollback(tx);
	keycache_wipe(&kc);
	buf_free(&sql);
	buf_free(&key);
	free(changes);
	json_decref(ids);
	json_decref(data);
	json_decref(last);
	free(cur);
	return (rc);
}

/*
 * A RESOURCE_ID_PAGED list: the filters and the page asked for, every bad
 * or unknown parameter an entry of one 422, then the rows in id order
 * after the cursor.
 */
static int
list_by_id(struct request *req, const struct rdef *rd, struct principal *who,
    enum scope scope, struct buf *sql, struct qlist *q)
{
	struct resource_page pg;
	json_t		    *errs;
	int		     rc;

	if ((q->errs = json_array()) == NULL)
		return (ERR_NOMEM);
	rc = params_walk(req, rd, sql, q);
	errs = q->errs;
	q->errs = NULL;
	if (rc != OK) {
		json_decref(errs);
		return (rc);
	}
	page_parse(req, RESOURCE_LIST_MAX, &pg, errs);
	if ((rc = resource_errs_answer(req, errs, "The query")) != OK)
		return (rc);
	if ((rc = buf_puts(sql, " AND id > ? ORDER BY id LIMIT ?")) != OK ||
	    (rc = qb_text(q, pg.after)) != OK)
		return (rc);
	return (list_run(
	    req, rd, who, scope, sql->data, NULL, 0, q, pg.limit, NULL, NULL));
}

void
resource_list(struct request *req, const struct resource *res, enum scope scope)
{
	const struct rdef *rd;

	if ((rd = rdef_find(res)) == NULL) {
		http_problem(req, ERR_INTERNAL, NULL, "unregistered resource");
		return;
	}
	if (!scope_reads(rd, scope)) {
		resource_refuse(req, req->caller, ERR_FORBIDDEN);
		return;
	}
	query_list(req, rd, req->caller, scope);
}

void
query_list(struct request *req, const struct rdef *rd, struct principal *who,
    enum scope scope)
{
	const struct field *sf;
	struct qlist	   *q;
	struct buf	    sql, tail;
	const char	   *spec, *s;
	json_t		   *cv = NULL;
	char		    cid[UUID_STR_LEN];
	int64_t		    limit = RESOURCE_LIST_DEFAULT;
	int		    desc, rc;

	buf_init(&sql, QUERY_SQL_MAX);
	buf_init(&tail, QUERY_SQL_MAX);
	if ((q = arena_alloc(req->arena, sizeof(*q))) == NULL) {
		rc = ERR_NOMEM;
		goto out;
	}
	memset(q, 0, sizeof(*q));
	q->scope = scope;
	if (rd->res->flags & RESOURCE_ID_PAGED) {
		/* After the SELECT, which list_run puts first: the one of
		 * the migrations its transaction finds applied. */
		if ((rc = buf_puts(&sql, " WHERE 1 = 1")) != OK ||
		    (rd->res->where != NULL &&
			(rc = buf_printf(&sql, " AND (%s)", rd->res->where)) !=
			    OK) ||
		    (rd->scope[scope][0] != '\0' &&
			(rc = buf_printf(
			     &sql, " AND (%s)", rd->scope[scope])) != OK))
			goto out;
		rc = list_by_id(req, rd, who, scope, &sql, q);
		goto out;
	}
	/* The filters and cursor: once, or once a branch. */
	if ((rc = params_walk(req, rd, &tail, q)) != OK ||
	    (rc = sort_parse(req, rd, scope, &spec, &sf, &desc)) != OK)
		goto out;
	if ((s = http_query(req, "limit")) != NULL &&
	    parse_int64(s, 1, RESOURCE_LIST_MAX, &limit) != 0) {
		resource_page_bad_limit(req, RESOURCE_LIST_MAX);
		rc = ERR_MALFORMED;
		goto out;
	}
	if ((s = http_query(req, "cursor")) != NULL) {
		if (resource_cursor_decode(s, spec, &cv, cid) != OK ||
		    keyset_add(req, sf, desc, cv, cid, &tail, q) != OK) {
			resource_page_bad_cursor(req);
			rc = ERR_MALFORMED;
			goto out;
		}
	}
	rc = list_run(
	    req, rd, who, scope, NULL, &tail, desc, q, limit, sf, spec);
out:
	if (rc != OK && !req->responded)
		http_problem(req, rc, NULL, "The list could not be read.");
	json_decref(cv);
	buf_free(&tail);
	buf_free(&sql);
}

/*
 * GDPR export: every row of every resource that is the person's (its
 * owner column names user_id, or its blind index is address_index:
 * gdpr_owned_where; the users row itself excepted: the people module
 * writes it), every declared field but the FIELD_HIDDEN ones (staff-only
 * ones too), personal ones opened, under "<resource name>" in into (in
 * top for RESOURCE_EXPORT_TOP). At most RESOURCE_EXPORT_MAX rows a
 * resource; *truncated set when cut. Reads of health fields are audited
 * as reads by who. A resource whose table is not there (its migration
 * pending or undone) has none.
 */
int
resource_export_owned(struct tx *tx, const struct principal *who,
    struct request *req, const char *user_id, const char *address_index,
    json_t *top, json_t *into, int *truncated)
{
	const struct rdef *const *all;
	const struct rdef	 *rd;
	struct keycache		  kc;
	struct principal	  owner;
	struct stmt		 *st;
	struct buf		  b;
	json_t			 *rows, *row;
	const char		 *select;
	size_t			  i, k, n, got;
	uint32_t		  pending;
	int			  rc = OK, there;

	memset(&owner, 0, sizeof(owner));
	strlcpy_cb(owner.user_id, user_id, sizeof(owner.user_id));
	strlcpy_cb(owner.role, "member", sizeof(owner.role));
	memset(&kc, 0, sizeof(kc));
	buf_init(&b, 64 * 1024);
	all = rdef_all(&n);
	for (i = 0; i < n && rc == OK; i++) {
		rd = all[i];
		if (rd->res->owner_column == NULL || rd->owner_is_id)
			continue;
		buf_reset(&b);
		if ((rc = rdef_pending(tx, rd, &pending)) != OK)
			break;
		if ((select = rdef_select(rd, pending)) == NULL ||
		    buf_puts(&b, select) != OK ||
		    gdpr_owned_where(rd, address_index, &b) != OK ||
		    buf_printf(&b, "%s%s%s ORDER BY id LIMIT %d",
			rd->res->where ? " AND (" : "",
			rd->res->where ? rd->res->where : "",
			rd->res->where ? ")" : "",
			RESOURCE_EXPORT_MAX + 1) != OK) {
			rc = ERR_NOMEM;
			break;
		}
		if ((rows = json_array()) == NULL) {
			rc = ERR_NOMEM;
			break;
		}
		json_object_set_new(
		    (rd->res->flags & RESOURCE_EXPORT_TOP) ? top : into,
		    rd->res->name, rows);
		/* Its migration pending or undone: none (the catalog asked,
		 * as a failed statement would spend the transaction). */
		if ((rc = store_table_exists(tx, rd->res->table, &there)) != OK)
			break;
		if (!there)
			continue;
		if ((st = store_prepare(tx, b.data)) == NULL) {
			rc = ERR_DB;
			break;
		}
		gdpr_owned_bind(st, 1, rd, user_id, address_index);
		got = 0;
		while ((rc = store_step(st)) == STORE_ROW) {
			if (++got > RESOURCE_EXPORT_MAX) {
				*truncated = 1;
				continue;
			}
			/* Every column, personal ones opened (staff-only ones
			 * too: the person's data all the same); then the
			 * hidden ones go, as resource_export_row. */
			if ((rc = rows_decode(tx, rd, st, &owner, SCOPE_ALL, 1,
				 pending, &kc, &row, NULL)) != OK)
				break;
			for (k = 0; k < rd->ncols; k++)
				if (rd->cols[k].flags & FIELD_HIDDEN)
					json_object_del(row, rd->cols[k].name);
			json_array_append_new(rows, row);
		}
		store_finalize(st);
		if (rc == STORE_DONE)
			rc = OK;
		if (rc == OK)
			rc = rows_read_audit(tx, rd, who, req, rows);
	}
	keycache_wipe(&kc);
	buf_free(&b);
	return (rc);
}

int
resource_rows(struct tx *tx, const struct resource *res,
    const struct principal *who, enum scope scope, const char *column,
    const char *value, json_t *out, int *truncated)
{
	const struct rdef  *rd;
	const struct field *f = NULL;
	struct keycache	    kc;
	struct stmt	   *st;
	struct buf	    b;
	json_t		   *row;
	const char	   *select;
	size_t		    got = 0;
	uint32_t	    pending;
	int		    rc, i;

	if ((rd = rdef_find(res)) == NULL || rd->has_health ||
	    (column != NULL && (f = col_find(rd, column)) == NULL) ||
	    !scope_reads(rd, scope))
		return (ERR_INTERNAL);
	if ((rc = rdef_pending(tx, rd, &pending)) != OK)
		return (rc);
	/* By a field whose migration is pending: no column to ask. */
	if (f != NULL && rdef_col_pending(rd, pending, (size_t)(f - rd->cols)))
		return (ERR_UNAVAILABLE);
	if ((select = rdef_select(rd, pending)) == NULL)
		return (ERR_NOMEM);
	memset(&kc, 0, sizeof(kc));
	buf_init(&b, QUERY_SQL_MAX);
	if (buf_printf(&b, "%s WHERE 1 = 1", select) != OK ||
	    (res->where != NULL &&
		buf_printf(&b, " AND (%s)", res->where) != OK) ||
	    (rd->scope[scope][0] != '\0' &&
		buf_printf(&b, " AND (%s)", rd->scope[scope]) != OK) ||
	    (f != NULL &&
		buf_printf(&b, f->sql != NULL ? " AND (%s) = ?" : " AND %s = ?",
		    f->sql != NULL ? f->sql : f->name) != OK) ||
	    buf_printf(&b, " ORDER BY id LIMIT %d", RESOURCE_EXPORT_MAX + 1) !=
		OK) {
		buf_free(&b);
		return (ERR_NOMEM);
	}
	if ((st = store_prepare(tx, b.data)) == NULL) {
		buf_free(&b);
		return (ERR_DB);
	}
	i = scope_bind(st, 1, res, who, scope);
	if (f != NULL)
		store_bind_text(st, i, value);
	while ((rc = store_step(st)) == STORE_ROW) {
		/* One row more than the cap: there were more. */
		if (++got > RESOURCE_EXPORT_MAX) {
			if (truncated != NULL)
				*truncated = 1;
			continue;
		}
		if ((rc = rows_decode(tx, rd, st, who, scope, 0, pending, &kc,
			 &row, NULL)) != OK)
			break;
		json_array_append_new(out, row);
	}
	store_finalize(st);
	keycache_wipe(&kc);
	buf_free(&b);
	return (rc == STORE_DONE ? OK : rc);
}
