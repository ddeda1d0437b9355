/*
 * The database front: URL parsing, the connection pool, transactions,
 * store_run's retry loop, the per-connection statement cache and the
 * `?` to $n translation. Everything dialect-specific is behind
 * struct store_ops (sqlite.c, pg.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "store/store.h"
#include "store/store_int.h"

#define DEFAULT_POOL_MAX 8
#define DEFAULT_BUSY_MS	 5000

/* Transactions begun by this process so far (store_tx_serial). */
static _Atomic uint64_t tx_serials;

static int	   pool_get(struct store *, struct conn **);
static void	   pool_put(struct store *, struct conn *);
static void	   conn_reset_stmts(struct conn *);
static uint32_t	   sql_hash(const char *);
static int	   cache_grow(struct conn *);
static void	   backoff_sleep(int attempt);
static const char *skip_dollar_quote(const char *);

int
store_open(const char *url, const struct store_opts *opts, struct store **out,
    const char **errmsg)
{
	struct store *s = NULL;
	struct conn  *c;
	const char   *p;
	int	      rc = ERR_NOMEM, i, inited = 0;

	*out = NULL;
	*errmsg = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto out;
	pthread_mutex_init(&s->mu, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&s->cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	inited = 1;
	if (opts != NULL)
		s->opts = *opts;
	if (s->opts.pool_max <= 0)
		s->opts.pool_max = DEFAULT_POOL_MAX;
	if (s->opts.pool_min < 0)
		s->opts.pool_min = 0;
	if (s->opts.pool_min > s->opts.pool_max)
		s->opts.pool_min = s->opts.pool_max;
	if (s->opts.busy_timeout_ms <= 0)
		s->opts.busy_timeout_ms = DEFAULT_BUSY_MS;

	if (url != NULL && strncmp(url, "sqlite://", 9) == 0) {
		p = url + 9;
		s->dialect = STORE_SQLITE;
		s->ops = &store_sqlite_ops;
		if (strcmp(p, ":memory:") == 0) {
			/* One connection, so every tx sees the same db. */
			s->memory = 1;
			s->opts.pool_max = 1;
			s->target = strdup(":memory:");
		} else if (p[0] == '/' && p[1] != '\0') {
			/* "sqlite:///var/x.db" is var/x.db; "////x" is /x */
			s->target = strdup(p + 1);
		} else {
			*errmsg = "sqlite URL must be sqlite:///path or "
				  "sqlite:////abs/path";
			rc = ERR_CONFIG;
			goto out;
		}
		s->opts.pool_min = 0; /* opened lazily */
	} else if (url != NULL &&
	    (strncmp(url, "postgres://", 11) == 0 ||
		strncmp(url, "postgresql://", 13) == 0)) {
		s->dialect = STORE_POSTGRES;
		s->ops = &store_pg_ops;
		s->target = strdup(url);
	} else {
		*errmsg = "database URL must start with sqlite:// or "
			  "postgres://";
		rc = ERR_CONFIG;
		goto out;
	}
	if (s->target == NULL)
		goto out;

	/* Open one connection now, to fail early; PG opens pool_min. */
	for (i = 0; i < (s->opts.pool_min > 1 ? s->opts.pool_min : 1); i++) {
		if ((rc = s->ops->conn_open(s, &c)) != OK) {
			*errmsg = s->dialect == STORE_SQLITE
			    ? "cannot open the SQLite database"
			    : "cannot connect to PostgreSQL";
			goto out;
		}
		c->next = s->idle;
		s->idle = c;
		s->nopen++;
	}
	*out = s;
	s = NULL;
	rc = OK;
out:
	if (s != NULL) {
		if (inited)
			store_close(s);
		else
			free(s);
	}
	return (rc);
}

void
store_close(struct store *s)
{
	struct conn *c;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	if (s->in_use > 0)
		log_error("event=store_close_busy in_use=%d", s->in_use);
	while ((c = s->idle) != NULL) {
		s->idle = c->next;
		s->nopen--;
		s->ops->conn_close(c);
	}
	pthread_mutex_unlock(&s->mu);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s->target);
	free(s);
}

enum store_dialect
store_dialect(const struct store *s)
{
	return (s->dialect);
}

void
store_pool_stats(struct store *s, int *open, int *in_use, uint64_t *waits)
{
	pthread_mutex_lock(&s->mu);
	if (open != NULL)
		*open = s->nopen;
	if (in_use != NULL)
		*in_use = s->in_use;
	if (waits != NULL)
		*waits = s->waits;
	pthread_mutex_unlock(&s->mu);
}

int
store_ping(struct store *s)
{
	struct tx   *tx;
	struct stmt *st;
	int	     rc;

	if ((rc = store_tx_begin(s, STORE_TX_READ, &tx)) != OK)
		return (rc);
	st = store_prepare(tx, "SELECT 1");
	rc = store_step(st) == STORE_ROW ? OK : ERR_DB;
	store_finalize(st);
	store_tx_rollback(tx);
	return (rc);
}

/*
 * Take an idle connection, open a new one below pool_max, or wait up to
 * the busy timeout for one to come back.
 */
static int
pool_get(struct store *s, struct conn **out)
{
	struct conn    *c = NULL;
	struct timespec deadline;
	int		rc = OK, waited = 0;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += s->opts.busy_timeout_ms / 1000;
	deadline.tv_nsec += (long)(s->opts.busy_timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}

	pthread_mutex_lock(&s->mu);
	for (;;) {
		if ((c = s->idle) != NULL) {
			s->idle = c->next;
			c->next = NULL;
			s->in_use++;
			break;
		}
		if (s->nopen < s->opts.pool_max) {
			s->nopen++; /* reserve the slot */
			s->in_use++;
			pthread_mutex_unlock(&s->mu);
			rc = s->ops->conn_open(s, &c);
			pthread_mutex_lock(&s->mu);
			if (rc != OK) {
				s->nopen--;
				s->in_use--;
				pthread_cond_signal(&s->cv);
				c = NULL;
			}
			break;
		}
		if (!waited) {
			waited = 1;
			s->waits++;
		}
		if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) ==
			ETIMEDOUT &&
		    s->idle == NULL) {
			rc = ERR_BUSY;
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
	if (c != NULL && (rc = s->ops->conn_check(c)) != OK) {
		c->broken = 1;
		pool_put(s, c);
		c = NULL;
	}
	*out = c;
	return (rc);
}

static void
pool_put(struct store *s, struct conn *c)
{
	pthread_mutex_lock(&s->mu);
	s->in_use--;
	if (c->broken) {
		s->nopen--;
		pthread_mutex_unlock(&s->mu);
		s->ops->conn_close(c);
		pthread_mutex_lock(&s->mu);
	} else {
		c->next = s->idle;
		s->idle = c;
	}
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

int
store_tx_begin(struct store *s, int kind, struct tx **out)
{
	struct conn *c;
	int	     rc;

	*out = NULL;
	if ((rc = pool_get(s, &c)) != OK)
		return (rc);
	if ((rc = s->ops->begin(c, kind)) != OK) {
		pool_put(s, c);
		return (rc);
	}
	c->tx.conn = c;
	c->tx.kind = kind;
	c->tx.failed = OK;
	c->tx.serial = atomic_fetch_add(&tx_serials, 1) + 1;
	*out = &c->tx;
	return (OK);
}

/*
 * A statement still open at the end of its transaction is a caller bug;
 * reset it so the connection goes back clean.
 */
static void
conn_reset_stmts(struct conn *c)
{
	struct stmt *st, *nx;
	size_t	     i;

	for (i = 0; i < c->nbuckets; i++)
		for (st = c->buckets[i]; st != NULL; st = nx) {
			nx = st->hnext;
			if (st->busy) {
				log_warn("event=store_stmt_not_finalized");
				c->store->ops->stmt_reset(st);
				st->busy = 0;
			}
		}
}

int
store_tx_commit(struct tx *tx)
{
	struct conn  *c = tx->conn;
	struct store *s = c->store;
	int	      rc;

	conn_reset_stmts(c);
	if (tx->failed != OK) {
		/* PG has aborted the tx already; SQLite follows suit. */
		s->ops->rollback(c);
		rc = tx->failed;
	} else
		rc = s->ops->commit(c);
	pool_put(s, c);
	return (rc);
}

void
store_tx_rollback(struct tx *tx)
{
	struct conn *c;

	if (tx == NULL)
		return;
	c = tx->conn;
	conn_reset_stmts(c);
	c->store->ops->rollback(c);
	pool_put(c->store, c);
}

int
store_xact_lock(struct tx *tx, const char *key)
{
	struct stmt *st;
	int	     rc;

	if (store_tx_dialect(tx) != STORE_POSTGRES)
		return (OK);
	if ((st = store_prepare(tx,
		 "SELECT pg_advisory_xact_lock("
		 "hashtext(?))")) == NULL)
		return (ERR_DB);
	store_bind_text(st, 1, key);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_ROW || rc == STORE_DONE ? OK : rc);
}

enum store_dialect
store_tx_dialect(const struct tx *tx)
{
	return (tx->conn->store->dialect);
}

struct store *
store_tx_store(const struct tx *tx)
{
	return (tx->conn->store);
}

uint64_t
store_tx_serial(const struct tx *tx)
{
	return (tx->serial);
}

/* 1-20 ms growing with the attempt, jittered. */
static void
backoff_sleep(int attempt)
{
	static _Thread_local uint64_t seed;
	struct timespec		      ts;
	int			      cap, ms;

	if (seed == 0)
		seed = (uint64_t)time_mono_ns() ^ (uint64_t)(uintptr_t)&ts;
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	cap = 2 + attempt * 2;
	if (cap > 20)
		cap = 20;
	ms = 1 + (int)(seed % (uint64_t)cap);
	ts.tv_sec = 0;
	ts.tv_nsec = (long)ms * 1000000L;
	nanosleep(&ts, NULL);
}

int
store_run(struct store *s, int kind, int (*fn)(struct tx *, void *), void *arg)
{
	struct tx *tx;
	int	   rc = ERR_BUSY, attempt;
	int64_t	   deadline;

	/* Retry busy transactions for as long as a busy connection would
	 * wait (busy_timeout_ms), at least STORE_RUN_TRIES times. */
	deadline = time_mono_ns() +
	    (int64_t)(s->opts.busy_timeout_ms > 0 ? s->opts.busy_timeout_ms
						  : 0) *
		1000000;
	for (attempt = 0;
	     attempt < STORE_RUN_TRIES || time_mono_ns() < deadline;
	     attempt++) {
		if (attempt > 0)
			backoff_sleep(attempt);
		if ((rc = store_tx_begin(s, kind, &tx)) != OK)
			return (rc);
		if ((rc = fn(tx, arg)) != OK) {
			store_tx_rollback(tx);
			if (rc == ERR_BUSY)
				continue;
			return (rc);
		}
		if ((rc = store_tx_commit(tx)) != ERR_BUSY)
			return (rc);
	}
	log_warn("event=store_run_gave_up tries=%d", attempt);
	return (rc);
}

int
store_exec(struct tx *tx, const char *sql)
{
	int rc;

	if (tx->failed != OK)
		return (tx->failed);
	if ((rc = tx->conn->store->ops->exec(tx->conn, sql)) != OK)
		tx->failed = rc;
	return (rc);
}

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

#define OPS(st) ((st)->conn->store->ops)

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

int
store_backup(struct store *s, const char *path)
{
	struct conn *c;
	int	     rc;

	if (s->ops->backup == NULL)
		return (ERR_INVALID);
	if ((rc = pool_get(s, &c)) != OK)
		return (rc);
	rc = s->ops->backup(c, path);
	pool_put(s, c);
	return (rc);
}

int
store_restore(struct store *s, const char *path, int force)
{
	struct conn *c;
	int	     rc;

	if (s->ops->restore == NULL || s->memory)
		return (ERR_INVALID);
	if ((rc = pool_get(s, &c)) != OK)
		return (rc);
	rc = s->ops->restore(c, path, force);
	pool_put(s, c);
	return (rc);
}

int
store_checkpoint(struct store *s)
{
	struct conn *c;
	int	     rc;

	if (s->ops->checkpoint == NULL || s->memory)
		return (OK);
	if ((rc = pool_get(s, &c)) != OK)
		return (rc);
	rc = s->ops->checkpoint(c);
	pool_put(s, c);
	return (rc);
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

#define IDENT_CHAR(ch)                                                         \
	((ch) == '_' || (ch) == '$' || ((ch) >= 'a' && (ch) <= 'z') ||         \
	    ((ch) >= 'A' && (ch) <= 'Z') || ((ch) >= '0' && (ch) <= '9') ||    \
	    (unsigned char)(ch) >= 0x80)

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
