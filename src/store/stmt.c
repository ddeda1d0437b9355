/*
 * Statements: the per-connection statement cache (prepared once per
 * connection, found again by the address of the caller's SQL text or by
 * its hash), binding, stepping and the column getters (every one
 * accepts NULL), and the `?` to $n translation for PostgreSQL.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/util.h"
#include "store/store.h"
#include "store/store_int.h"

#define OPS(st) ((st)->conn->store->ops)
#define IDENT_CHAR(ch)                                                         \
	((ch) == '_' || (ch) == '$' || ((ch) >= 'a' && (ch) <= 'z') ||         \
	    ((ch) >= 'A' && (ch) <= 'Z') || ((ch) >= '0' && (ch) <= '9') ||    \
	    (unsigned char)(ch) >= 0x80)

static uint32_t	   sql_hash(const char *);
static int	   cache_grow(struct conn *);
static const char *skip_dollar_quote(const char *);

/* FNV-1a */
static uint32_t
sql_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return (h);
}

static int
cache_grow(struct conn *c)
{
	struct stmt **nb, *st, *nx;
	size_t	      n, i;

	n = c->nbuckets == 0 ? 32 : c->nbuckets * 2;
	if ((nb = calloc(n, sizeof(*nb))) == NULL)
		return (ERR_NOMEM);
	for (i = 0; i < c->nbuckets; i++)
		for (st = c->buckets[i]; st != NULL; st = nx) {
			nx = st->hnext;
			st->hnext = nb[st->hash & (n - 1)];
			nb[st->hash & (n - 1)] = st;
		}
	free(c->buckets);
	c->buckets = nb;
	c->nbuckets = n;
	return (OK);
}

void
store_conn_clear_cache(struct conn *c)
{
	struct stmt *st, *nx;
	size_t	     i;

	for (i = 0; i < c->nbuckets; i++) {
		for (st = c->buckets[i]; st != NULL; st = nx) {
			nx = st->hnext;
			c->store->ops->stmt_free(st);
		}
		c->buckets[i] = NULL;
	}
	free(c->buckets);
	c->buckets = NULL;
	c->nbuckets = 0;
	c->nstmts = 0;
	memset(c->byaddr, 0, sizeof(c->byaddr));
}

struct stmt *
store_prepare(struct tx *tx, const char *sql)
{
	struct conn *c = tx->conn;
	struct stmt *st;
	size_t	     slot = ((uintptr_t)sql >> 3) & (STORE_ADDR_SLOTS - 1);
	uint32_t     h;

	if ((st = c->byaddr[slot]) != NULL && st->addr == sql && !st->busy &&
	    strcmp(st->sql, sql) == 0) {
		st->busy = 1;
		return (st);
	}
	h = sql_hash(sql);
	if (c->nbuckets > 0)
		for (st = c->buckets[h & (c->nbuckets - 1)]; st != NULL;
		     st = st->hnext)
			if (!st->busy && st->hash == h &&
			    strcmp(st->sql, sql) == 0) {
				st->busy = 1;
				st->addr = sql;
				c->byaddr[slot] = st;
				return (st);
			}
	if ((st = c->store->ops->stmt_new(c, sql)) == NULL) {
		tx->failed = tx->failed != OK ? tx->failed : ERR_DB;
		return (NULL);
	}
	st->conn = c;
	st->hash = h;
	st->busy = 1;
	if ((st->sql = strdup(sql)) == NULL) {
		c->store->ops->stmt_free(st);
		tx->failed = tx->failed != OK ? tx->failed : ERR_NOMEM;
		return (NULL);
	}
	if (c->nstmts < STORE_STMT_CACHE_MAX &&
	    (c->nstmts < c->nbuckets || cache_grow(c) == OK)) {
		st->cached = 1;
		st->addr = sql;
		c->byaddr[slot] = st;
		st->hnext = c->buckets[h & (c->nbuckets - 1)];
		c->buckets[h & (c->nbuckets - 1)] = st;
		c->nstmts++;
	}
	return (st);
}

void
store_finalize(struct stmt *st)
{
	if (st == NULL)
		return;
	if (!st->cached) {
		st->conn->store->ops->stmt_free(st);
		return;
	}
	st->conn->store->ops->stmt_reset(st);
	st->busy = 0;
}

void
store_bind_text(struct stmt *st, int i, const char *v)
{
	if (st == NULL)
		return;
	if (v == NULL)
		OPS(st)->bind_null(st, i);
	else
		OPS(st)->bind_text(st, i, v, strlen(v));
}

void
store_bind_textn(struct stmt *st, int i, const char *v, size_t n)
{
	if (st == NULL)
		return;
	if (v == NULL)
		OPS(st)->bind_null(st, i);
	else
		OPS(st)->bind_text(st, i, v, n);
}

void
store_bind_int64(struct stmt *st, int i, int64_t v)
{
	if (st != NULL)
		OPS(st)->bind_int64(st, i, v);
}

void
store_bind_double(struct stmt *st, int i, double v)
{
	if (st != NULL)
		OPS(st)->bind_double(st, i, v);
}

void
store_bind_blob(struct stmt *st, int i, const void *v, size_t n)
{
	if (st == NULL)
		return;
	if (v == NULL)
		OPS(st)->bind_null(st, i);
	else
		OPS(st)->bind_blob(st, i, v, n);
}

void
store_bind_null(struct stmt *st, int i)
{
	if (st != NULL)
		OPS(st)->bind_null(st, i);
}

void
store_bind_bool(struct stmt *st, int i, int v)
{
	if (st != NULL)
		OPS(st)->bind_int64(st, i, v ? 1 : 0);
}

int
store_step(struct stmt *st)
{
	struct tx *tx;
	int	   rc;

	if (st == NULL)
		return (ERR_DB);
	tx = &st->conn->tx;
	if (tx->failed != OK)
		return (tx->failed);
	rc = OPS(st)->step(st);
	if (rc != STORE_ROW && rc != STORE_DONE)
		tx->failed = rc;
	return (rc);
}

int64_t
store_changes(struct stmt *st)
{
	return (st == NULL ? 0 : OPS(st)->changes(st));
}

int
store_col_count(struct stmt *st)
{
	return (st == NULL ? 0 : OPS(st)->col_count(st));
}

const char *
store_col_name(struct stmt *st, int i)
{
	if (st == NULL || i < 0 || i >= OPS(st)->col_count(st))
		return (NULL);
	return (OPS(st)->col_name(st, i));
}

int
store_col_is_null(struct stmt *st, int i)
{
	if (st == NULL || i < 0 || i >= OPS(st)->col_count(st))
		return (1);
	return (OPS(st)->col_is_null(st, i));
}

const char *
store_col_text(struct stmt *st, int i)
{
	if (st == NULL || i < 0 || i >= OPS(st)->col_count(st))
		return (NULL);
	return (OPS(st)->col_text(st, i));
}

int64_t
store_col_int64(struct stmt *st, int i)
{
	if (st == NULL || i < 0 || i >= OPS(st)->col_count(st))
		return (0);
	return (OPS(st)->col_int64(st, i));
}

double
store_col_double(struct stmt *st, int i)
{
	if (st == NULL || i < 0 || i >= OPS(st)->col_count(st))
		return (0);
	return (OPS(st)->col_double(st, i));
}

const void *
store_col_blob(struct stmt *st, int i, size_t *len)
{
	if (len != NULL)
		*len = 0;
	if (st == NULL || i < 0 || i >= OPS(st)->col_count(st))
		return (NULL);
	return (OPS(st)->col_blob(st, i, len));
}

/*
 * Dollar quote at p ("$$" or "$tag$")? Return the first character after
 * the closing quote (or the end of the string), or NULL if p does not
 * open one.
 */
static const char *
skip_dollar_quote(const char *p)
{
	const char *q = p + 1, *end;
	size_t	    taglen;

	if (*q == '_' || (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
	    (unsigned char)*q >= 0x80)
		while (*q == '_' || (*q >= 'a' && *q <= 'z') ||
		    (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
		    (unsigned char)*q >= 0x80)
			q++;
	if (*q != '$')
		return (NULL);
	taglen = (size_t)(q - p) + 1; /* "$tag$" */
	for (end = q + 1; *end != '\0'; end++)
		if (*end == '$' && strncmp(end, p, taglen) == 0)
			return (end + taglen);
	return (end);
}

char *
store_pg_placeholders(const char *sql)
{
	int n;

	return (store_pg_translate(sql, &n));
}

char *
store_pg_translate(const char *sql, int *nparams)
{
	const char *p, *q;
	char	   *out, *o;
	size_t	    len, nq = 0;
	int	    n = 0, depth, backslash;

	len = strlen(sql);
	for (p = sql; *p != '\0'; p++)
		if (*p == '?')
			nq++;
	*nparams = 0;
	if ((out = malloc(len + nq * 5 + 1)) == NULL)
		return (NULL);
	o = out;
	for (p = sql; *p != '\0';) {
		switch (*p) {
		case '\'':
			/* E'..' strings take backslash escapes. */
			backslash = p > sql && (p[-1] == 'E' || p[-1] == 'e') &&
			    (p - 1 == sql || !IDENT_CHAR(p[-2]));
			for (q = p + 1; *q != '\0'; q++) {
				if (backslash && *q == '\\' && q[1] != '\0')
					q++;
				else if (*q == '\'' && q[1] == '\'')
					q++;
				else if (*q == '\'')
					break;
			}
			q = *q == '\0' ? q : q + 1;
			break;
		case '"':
			for (q = p + 1; *q != '\0'; q++) {
				if (*q == '"' && q[1] == '"')
					q++;
				else if (*q == '"')
					break;
			}
			q = *q == '\0' ? q : q + 1;
			break;
		case '-':
			if (p[1] != '-')
				goto plain;
			for (q = p; *q != '\0' && *q != '\n'; q++)
				;
			break;
		case '/':
			if (p[1] != '*')
				goto plain;
			/* Block comments nest in PostgreSQL. */
			for (depth = 1, q = p + 2; *q != '\0' && depth > 0;) {
				if (q[0] == '/' && q[1] == '*') {
					depth++;
					q += 2;
				} else if (q[0] == '*' && q[1] == '/') {
					depth--;
					q += 2;
				} else
					q++;
			}
			break;
		case '$':
			if ((p > sql && IDENT_CHAR(p[-1])) ||
			    (q = skip_dollar_quote(p)) == NULL)
				goto plain;
			break;
		case '?':
			if (++n > STORE_PG_MAX_PARAMS) {
				free(out);
				return (NULL);
			}
			o += snprintf(o, 7, "$%d", n);
			p++;
			continue;
		default:
plain:
			*o++ = *p++;
			continue;
		}
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		p = q;
	}
	*o = '\0';
	*nparams = n;
	return (out);
}
