/*
 * Which rows a scope covers: the row condition of each scope (the
 * resource's scope_where, or the one derived from its owner column and
 * the relationship kinds it accepts), its placeholders bound to the
 * caller, and whether a scope covers a row of a given owner.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "resource/resource.h"
#include "resource/resource_int.h"
#include "store/store.h"

static int kinds_append(struct buf *, const char *, const char *, int, int *);

/*
 * Append "'a', 'b'" for the kinds of list that are (want 1) or are not
 * (want 0) in party; *any set when one was written.
 */
static int
kinds_append(
    struct buf *b, const char *list, const char *party, int want, int *any)
{
	const char *p = list, *k;
	size_t	    n;

	*any = 0;
	while ((k = resource_kind_next(&p, &n)) != NULL) {
		if (n == 0 || resource_kind_in(party, k, n) != want)
			continue;
		if (buf_printf(b, "%s'%.*s'", *any ? ", " : "", (int)n, k) !=
		    OK)
			return (ERR_NOMEM);
		*any = 1;
	}
	return (OK);
}

const char *
resource_kind_next(const char **p, size_t *n)
{
	const char *s = *p, *e;

	if (s == NULL || *s == '\0')
		return (NULL);
	if ((e = strchr(s, ',')) == NULL)
		e = s + strlen(s);
	*p = *e ? e + 1 : e;
	while (s < e && *s == ' ')
		s++;
	*n = (size_t)(e - s);
	while (*n > 0 && s[*n - 1] == ' ')
		(*n)--;
	return (s);
}

int
resource_kind_in(const char *list, const char *kind, size_t n)
{
	const char *p = list, *k;
	size_t	    m;

	while ((k = resource_kind_next(&p, &m)) != NULL)
		if (m == n && strncmp(k, kind, n) == 0)
			return (1);
	return (0);
}

/*
 * The row condition of a scope: the resource's scope_where for it, or
 * the one its owner column gives. related: the caller's own rows, rows of
 * people the caller leads in an active relationship of a kind in
 * related_kinds, except that kinds in party_kinds grant only the rows
 * party_where names the caller a party to (a practitioner sees the
 * sessions they give, not a colleague's).
 */
char *
resource_scope_sql(const struct resource *res, enum scope scope)
{
	struct buf  b;
	const char *oc = res->owner_column;
	size_t	    mark;
	int	    any;

	if (res->scope_where[scope] != NULL)
		return (strdup(res->scope_where[scope]));
	if (scope == SCOPE_ALL)
		return (strdup(""));
	if (scope == SCOPE_NONE || oc == NULL)
		return (strdup("1 = 0"));
	buf_init(&b, 4096);
	if (buf_printf(&b, "%s = ?", oc) != OK)
		goto fail;
	if (scope == SCOPE_OWN)
		return (buf_take(&b, NULL));
	mark = b.len;
	if (buf_printf(&b,
		" OR %s IN (SELECT follower_id FROM relationships "
		"WHERE lead_id = ? AND status = 'active' AND kind IN (",
		oc) != OK ||
	    kinds_append(&b, res->related_kinds, res->party_kinds, 0, &any) !=
		OK ||
	    buf_puts(&b, "))") != OK)
		goto fail;
	if (!any)
		buf_truncate(&b, mark);
	if (res->party_where == NULL)
		return (buf_take(&b, NULL));
	mark = b.len;
	if (buf_printf(&b,
		" OR ((%s) AND %s IN (SELECT follower_id FROM "
		"relationships WHERE lead_id = ? AND status = 'active' AND "
		"kind "
		"IN (",
		res->party_where, oc) != OK ||
	    kinds_append(&b, res->related_kinds, res->party_kinds, 1, &any) !=
		OK ||
	    buf_puts(&b, ")))") != OK)
		goto fail;
	if (!any)
		buf_truncate(&b, mark);
	return (buf_take(&b, NULL));
fail:
	buf_free(&b);
	return (NULL);
}

int
resource_scope_probe(
    const struct resource *res, int party, int limit, struct buf *b)
{
	int any, rc;

	if ((rc = buf_puts(b,
		 "SELECT follower_id FROM relationships WHERE lead_id = ? AND "
		 "status = 'active' AND kind IN (")) != OK ||
	    (rc = kinds_append(
		 b, res->related_kinds, res->party_kinds, party, &any)) != OK)
		return (rc);
	return (any ? buf_printf(b, ") ORDER BY follower_id LIMIT %d", limit)
		    : ERR_NOT_FOUND);
}

/*
 * The scope as branches whose OR is resource_scope_sql's condition, each
 * one a planner can answer from an index on its own (the owner column;
 * the followers of the caller's relationships; the party's rows), so a
 * list walks each branch's index in order and stops at its page instead
 * of reading and sorting every row the OR might cover. One branch (the
 * whole condition) for a scope_where, all, own and none. *n branches
 * into out (malloc'd, each with nbind[k] placeholders, all the caller;
 * led[k] set for the rows of the people the caller leads).
 */
int
resource_scope_branches(const struct resource *res, enum scope scope,
    char *out[SCOPE_BRANCHES_MAX], int nbind[SCOPE_BRANCHES_MAX],
    int led[SCOPE_BRANCHES_MAX], int *n)
{
	struct buf  b;
	const char *oc = res->owner_column, *p;
	int	    any, k;

	*n = 0;
	memset(led, 0, SCOPE_BRANCHES_MAX * sizeof(led[0]));
	if (res->scope_where[scope] != NULL || scope != SCOPE_RELATED ||
	    oc == NULL) {
		if ((out[0] = resource_scope_sql(res, scope)) == NULL)
			return (ERR_NOMEM);
		nbind[0] = resource_scope_nbind(res, scope);
		*n = 1;
		return (OK);
	}
	buf_init(&b, 4096);
	if (buf_printf(&b, "%s = ?", oc) != OK)
		goto fail;
	nbind[*n] = 1;
	out[(*n)++] = buf_take(&b, NULL);
	buf_init(&b, 4096);
	if (buf_printf(&b,
		"%s IN (SELECT follower_id FROM relationships "
		"WHERE lead_id = ? AND status = 'active' AND kind IN (",
		oc) != OK ||
	    kinds_append(&b, res->related_kinds, res->party_kinds, 0, &any) !=
		OK ||
	    buf_puts(&b, "))") != OK)
		goto fail;
	if (any) {
		led[*n] = 1;
		nbind[*n] = 1;
		out[(*n)++] = buf_take(&b, NULL);
		buf_init(&b, 4096);
	}
	if (res->party_where == NULL) {
		buf_free(&b);
		return (OK);
	}
	buf_reset(&b);
	if (buf_printf(&b,
		"(%s) AND %s IN (SELECT follower_id FROM relationships "
		"WHERE lead_id = ? AND status = 'active' AND kind IN (",
		res->party_where, oc) != OK ||
	    kinds_append(&b, res->related_kinds, res->party_kinds, 1, &any) !=
		OK ||
	    buf_puts(&b, "))") != OK)
		goto fail;
	if (!any) {
		buf_free(&b);
		return (OK);
	}
	for (k = 1, p = res->party_where; *p != '\0'; p++)
		k += *p == '?';
	nbind[*n] = k;
	out[(*n)++] = buf_take(&b, NULL);
	return (OK);
fail:
	buf_free(&b);
	while (*n > 0)
		free(out[--(*n)]);
	return (ERR_NOMEM);
}

/* How many placeholders resource_scope_sql(res, scope) holds: its "?"s,
 * each a placeholder (registration refuses any other, binds_ok). */
int
resource_scope_nbind(const struct resource *res, enum scope scope)
{
	const char *p, *k;
	int	    n = 1, other = 0, party = 0;
	size_t	    len;

	if (res->scope_where[scope] != NULL) {
		for (n = 0, p = res->scope_where[scope]; *p != '\0'; p++)
			n += *p == '?';
		return (n);
	}
	if (scope == SCOPE_NONE || scope == SCOPE_ALL ||
	    res->owner_column == NULL)
		return (0);
	if (scope == SCOPE_OWN)
		return (1);
	p = res->related_kinds;
	while ((k = resource_kind_next(&p, &len)) != NULL) {
		if (len == 0)
			continue;
		if (resource_kind_in(res->party_kinds, k, len))
			party = 1;
		else
			other = 1;
	}
	n += other;
	if (party && res->party_where != NULL) {
		n++;
		for (p = res->party_where; *p != '\0'; p++)
			if (*p == '?')
				n++;
	}
	return (n);
}

/* Placeholders of resource_scope_sql: each is bound to the caller. */
int
scope_bind(struct stmt *st, int i, const struct resource *res,
    const struct principal *who, enum scope scope)
{
	const char *uid = who != NULL ? who->user_id : "";
	int	    n;

	for (n = resource_scope_nbind(res, scope); n > 0; n--)
		store_bind_text(st, i++, uid);
	return (i);
}

int
rows_covers(struct tx *tx, const struct rdef *rd, const struct principal *who,
    enum scope scope, const char *owner)
{
	struct stmt *st;
	int	     rc;

	if (scope == SCOPE_ALL)
		return (OK);
	if (scope == SCOPE_NONE || who == NULL || owner == NULL)
		return (ERR_FORBIDDEN);
	if (strcmp(owner, who->user_id) == 0)
		return (OK);
	if (scope != SCOPE_RELATED || rd->related == NULL)
		return (ERR_FORBIDDEN);
	st = store_prepare(tx, rd->related);
	store_bind_text(st, 1, who->user_id);
	store_bind_text(st, 2, owner);
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_ROW)
		return (OK);
	return (rc == STORE_DONE ? ERR_FORBIDDEN : rc);
}

int
resource_covers(struct tx *tx, const struct resource *res,
    const struct principal *who, enum scope scope, const char *owner)
{
	const struct rdef *rd;

	if ((rd = rdef_find(res)) == NULL)
		return (ERR_INTERNAL);
	/* Rows named by a condition on the row, not by their owner: the
	 * owner alone cannot tell. */
	if (res->scope_where[scope] != NULL ||
	    (scope == SCOPE_RELATED && res->party_kinds != NULL &&
		res->party_kinds[0] != '\0'))
		return (ERR_INTERNAL);
	return (rows_covers(tx, rd, who, scope, owner));
}

int
resource_sees(struct tx *tx, const struct resource *res,
    const struct principal *who, enum scope scope, const char *id)
{
	const struct rdef *rd;
	struct stmt	  *st;
	int		   rc;

	if ((rd = rdef_find(res)) == NULL)
		return (ERR_INTERNAL);
	if (!scope_reads(rd, scope) || id == NULL)
		return (ERR_NOT_FOUND);
	if ((st = store_prepare(tx, rd->in_scope[scope])) == NULL)
		return (ERR_DB);
	store_bind_text(st, 1, id);
	scope_bind(st, 2, res, who, scope);
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_ROW)
		return (OK);
	return (rc == STORE_DONE ? ERR_NOT_FOUND : rc);
}

/* A caller with scope may list and read some rows. */
int
scope_reads(const struct rdef *rd, enum scope scope)
{
	return (
	    scope != SCOPE_NONE || rd->res->scope_where[SCOPE_NONE] != NULL);
}

/*
 * May a caller with scope write the row id (update, delete; a row just
 * created)? With the resource's own scope conditions, when the row meets
 * the condition of that scope; otherwise when the scope covers its owner
 * (rows_covers). OK, ERR_FORBIDDEN, or the database's status.
 */
int
rows_writable(struct tx *tx, const struct rdef *rd, const struct principal *who,
    enum scope scope, const char *id, const char *owner)
{
	struct stmt *st;
	int	     rc;

	if (!rd->custom)
		return (rows_covers(tx, rd, who, scope, owner));
	if (scope == SCOPE_NONE)
		return (ERR_FORBIDDEN);
	if ((st = store_prepare(tx, rd->in_scope[scope])) == NULL)
		return (ERR_DB);
	store_bind_text(st, 1, id);
	scope_bind(st, 2, rd->res, who, scope);
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_ROW)
		return (OK);
	return (rc == STORE_DONE ? ERR_FORBIDDEN : rc);
}
