/*
 * The database front: URL parsing, the connection pool, transactions and
 * store_run's retry loop (statements are stmt.c). Everything
 * dialect-specific is behind struct store_ops (sqlite.c, pg.c).
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
#define DEFAULT_WAIT_MS	 35000

/* Transactions begun by this process so far (store_tx_serial). */
static _Atomic uint64_t tx_serials;
/* Pooled connections this thread holds (of any store). */
static _Thread_local int conns_held;
/* A wait on the server ran out on this thread, or a COMMIT's did
 * (STORE_LOST_*; store_lost_take). */
static _Thread_local int lost;

static const struct timespec *deadline_of(struct store *, struct timespec *);
static int		      tx_writes(int);
static int  writer_turn(struct store *, const struct timespec *);
static void writer_done(struct store *);
static int  pool_get(struct store *, const struct timespec *, struct conn **);
static void pool_put(struct store *, struct conn *);
static void conn_reset_stmts(struct conn *);
static void backoff_sleep(int attempt);

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
	pthread_mutex_init(&s->wmu, NULL);
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
	if (s->opts.wait_timeout_ms <= 0)
		s->opts.wait_timeout_ms = DEFAULT_WAIT_MS;

	if (url != NULL && strncmp(url, "sqlite://", 9) == 0) {
		p = url + 9;
		s->dialect = STORE_SQLITE;
		s->ops = &store_sqlite_ops;
		if ((rc = store_sqlite_version_check()) != OK) {
			*errmsg =
			    "SQLite " STORE_SQLITE_MIN_TEXT " or later is "
			    "needed (the library linked is older; see "
			    "README, Requirements)";
			goto out;
		}
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
			    : pg_connect_why()[0] != '\0'
			    ? pg_connect_why()
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
	pthread_mutex_destroy(&s->wmu);
	free(s->target);
	free(s);
}

uint64_t
store_changes_clock(struct store *s)
{
	return (atomic_load(&s->changes));
}

void
store_changes_bump(struct store *s)
{
	atomic_fetch_add(&s->changes, 1);
}

int
store_changes_count(struct tx *tx, int64_t *out)
{
	struct conn *c = tx->conn;

	*out = -1;
	if (c->store->ops->changes_count == NULL || tx->failed != OK)
		return (ERR_UNAVAILABLE);
	return (c->store->ops->changes_count(c, out));
}

enum store_dialect
store_dialect(const struct store *s)
{
	return (s->dialect);
}

const char *
store_columns_sql(int dialect)
{
	if (dialect == STORE_SQLITE)
		return ("SELECT m.name, p.name, p.type FROM sqlite_master m, "
			"pragma_table_info(m.name) p WHERE m.type = 'table' "
			"AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, "
			"p.name");
	return ("SELECT table_name, column_name, data_type FROM "
		"information_schema.columns WHERE table_schema = "
		"current_schema() ORDER BY table_name, column_name");
}

/*
 * PostgreSQL: the relations of the current schema, and which of them (and
 * of their columns) this role may use, as information_schema.tables and
 * .columns say (tables, views, foreign and partitioned tables; owned
 * through a role, or some privilege held), read from pg_catalog directly:
 * the information_schema views took 5 to 8 ms to parse (once a connection)
 * and as much to plan at each of its first calls (until PostgreSQL keeps a
 * generic plan), where these take well under one (docs/BENCHMARKS.md,
 * "Where the CPU goes now").
 */
#define PG_RELS_OF_SCHEMA                                                      \
	"pg_catalog.pg_class c, pg_catalog.pg_namespace n WHERE "              \
	"n.oid = c.relnamespace AND n.nspname = current_schema() AND "         \
	"c.relkind IN ('r', 'v', 'f', 'p') AND c.relname = ? AND "             \
	"(pg_catalog.pg_has_role(c.relowner, 'USAGE') OR "
#define PG_TABLE_USABLE                                                        \
	"pg_catalog.has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, "      \
	"DELETE, TRUNCATE, REFERENCES, TRIGGER') OR "                          \
	"pg_catalog.has_any_column_privilege(c.oid, 'SELECT, INSERT, "         \
	"UPDATE, REFERENCES'))"
#define PG_COLUMN_USABLE                                                       \
	"pg_catalog.has_column_privilege(c.oid, a.attnum, 'SELECT, "           \
	"INSERT, UPDATE, REFERENCES'))"

int
store_table_exists(struct tx *tx, const char *name, int *there)
{
	struct stmt *st;
	int	     step;

	*there = 0;
	st = store_prepare(tx,
	    store_tx_dialect(tx) == STORE_POSTGRES
		? "SELECT count(*) FROM " PG_RELS_OF_SCHEMA PG_TABLE_USABLE
		: "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
		  "AND name = ?");
	store_bind_text(st, 1, name);
	if ((step = store_step(st)) == STORE_ROW)
		*there = store_col_int64(st, 0) > 0;
	store_finalize(st);
	return (step == STORE_ROW ? OK : step == STORE_DONE ? ERR_DB : step);
}

int
store_column_exists(
    struct tx *tx, const char *table, const char *column, int *there)
{
	struct stmt *st;
	int	     step;

	*there = 0;
	st = store_prepare(tx,
	    store_tx_dialect(tx) == STORE_POSTGRES
		? "SELECT count(*) FROM pg_catalog.pg_attribute a, " PG_RELS_OF_SCHEMA
		      PG_COLUMN_USABLE " AND a.attrelid = "
		  "c.oid AND a.attname = ? AND a.attnum > 0 AND NOT "
		  "a.attisdropped"
		: "SELECT count(*) FROM pragma_table_info(?) WHERE name = ?");
	store_bind_text(st, 1, table);
	store_bind_text(st, 2, column);
	if ((step = store_step(st)) == STORE_ROW)
		*there = store_col_int64(st, 0) > 0;
	store_finalize(st);
	return (step == STORE_ROW ? OK : step == STORE_DONE ? ERR_DB : step);
}

void
store_stats(struct store *s, struct store_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&s->mu);
	out->open = s->nopen;
	out->in_use = s->in_use;
	out->waits = s->waits;
	out->nested = s->nested;
	pthread_mutex_unlock(&s->mu);
	out->round_trips = atomic_load(&s->round_trips);
	out->transactions = atomic_load(&s->transactions);
	pthread_mutex_lock(&s->wmu);
	out->writer_waits = s->writer_waits;
	out->writer_wakes = s->writer_wakes;
	pthread_mutex_unlock(&s->wmu);
}

void
store_lost_set(int how)
{
	/* A COMMIT of unknown outcome is not forgotten for a later wait
	 * that ran out in the same request. */
	if (how > lost)
		lost = how;
}

int
store_lost_take(void)
{
	int was = lost;

	lost = 0;
	return (was);
}

int
store_lost_peek(void)
{
	return (lost);
}

void
store_lost_side_write(int before)
{
	/* Its COMMIT is not the request's: whatever the request writes
	 * later is a transaction of its own, which either has its own
	 * mark or was never sent. The server is lost all the same. */
	if (lost == STORE_LOST_COMMIT && before != STORE_LOST_COMMIT)
		lost = STORE_LOST_WAIT;
}

void
store_lost_restore(int before)
{
	lost = before;
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

/* This thread's transaction kept aside (store_tx_park): its owner's slot. */
static _Thread_local struct tx **parked;

void
store_tx_park_end(void)
{
	struct tx **slot = parked;

	parked = NULL;
	if (slot != NULL && *slot != NULL) {
		store_tx_rollback(*slot);
		*slot = NULL;
	}
}

int
store_thread_connections(void)
{
	return (conns_held);
}

void
store_tx_park(struct tx **slot)
{
	if (parked != slot)
		store_tx_park_end();
	parked = slot;
}

void
store_tx_unpark(struct tx **slot)
{
	if (parked == slot)
		parked = NULL;
}

int
store_tx_parked(struct tx **slot)
{
	return (slot != NULL && parked == slot && *slot != NULL);
}

/*
 * Until when this thread may wait for a connection or a writer's turn:
 * the busy timeout from now, in *ts, returned. NULL, no wait at all, for
 * a thread that holds a connection already: such a thread waiting for a
 * second is how the pool runs dry (each of pool_max threads holding one
 * and waiting for another until the timeout). It takes what is free, and
 * is logged and counted.
 */
static const struct timespec *
deadline_of(struct store *s, struct timespec *ts)
{
	/* Kept aside for a taker that began another instead (or a backup,
	 * a restore, a checkpoint): ended, so the thread holds no second
	 * connection. */
	store_tx_park_end();
	if (conns_held > 0) {
		pthread_mutex_lock(&s->mu);
		s->nested++;
		pthread_mutex_unlock(&s->mu);
		log_error("event=db_second_connection held=%d msg=\"a thread "
			  "holding a database connection asked for another; "
			  "it does not wait\"",
		    conns_held);
		return (NULL);
	}
	time_deadline(ts, CLOCK_MONOTONIC, s->opts.busy_timeout_ms);
	return (ts);
}

/*
 * The writer's turn (ops->one_writer): at once when nobody writes and
 * nobody waits, else queued behind the others and handed the turn by
 * writer_done, first come first served, until the deadline (ERR_BUSY; at
 * once without one). Each waiter sleeps on a condition of its own, so a
 * release wakes the next in line only.
 */
static int
writer_turn(struct store *s, const struct timespec *deadline)
{
	struct writer_wait w, *p, *prev;
	pthread_condattr_t ca;
	int		   rc = OK, trc;

	pthread_mutex_lock(&s->wmu);
	if (!s->writing && s->whead == NULL) {
		s->writing = 1;
		pthread_mutex_unlock(&s->wmu);
		return (OK);
	}
	if (deadline == NULL) {
		pthread_mutex_unlock(&s->wmu);
		return (ERR_BUSY);
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w.cv, &ca);
	pthread_condattr_destroy(&ca);
	w.next = NULL;
	w.granted = 0;
	/* w is on this stack only while queued: it leaves the queue (granted
	 * by writer_done, or timed out below) before this returns. */
	if (s->wtail != NULL)
		s->wtail->next = &w;
	else
		/* cppcheck-suppress autoVariables */
		s->whead = &w;
	/* cppcheck-suppress autoVariables */
	s->wtail = &w;
	s->writer_waits++;
	while (!w.granted) {
		trc = pthread_cond_timedwait(&w.cv, &s->wmu, deadline);
		s->writer_wakes++;
		if (trc == ETIMEDOUT && !w.granted) {
			/* Out of the queue, which still holds w. */
			for (prev = NULL, p = s->whead; p != &w; p = p->next)
				prev = p;
			if (prev != NULL)
				prev->next = w.next;
			else
				s->whead = w.next;
			if (s->wtail == &w)
				s->wtail = prev;
			rc = ERR_BUSY;
			break;
		}
	}
	pthread_mutex_unlock(&s->wmu);
	/* Nobody signals w once it is out of the queue (granted or timed
	 * out, both under wmu). */
	pthread_cond_destroy(&w.cv);
	if (rc == ERR_BUSY)
		log_warn("event=db_writer_turn_timeout");
	return (rc);
}

/* End a writer's turn: hand it to the first in the queue, if any, and
 * wake that one alone. */
static void
writer_done(struct store *s)
{
	struct writer_wait *w;

	pthread_mutex_lock(&s->wmu);
	if ((w = s->whead) != NULL) {
		if ((s->whead = w->next) == NULL)
			s->wtail = NULL;
		w->granted = 1; /* s->writing stays set: the turn moves */
		pthread_cond_signal(&w->cv);
	} else
		s->writing = 0;
	pthread_mutex_unlock(&s->wmu);
}

/*
 * Take an idle connection, open a new one below pool_max, or wait until
 * the deadline for one to come back (ERR_BUSY; at once without one).
 */
static int
pool_get(struct store *s, const struct timespec *deadline, struct conn **out)
{
	struct conn *c = NULL;
	int	     rc = OK, waited = 0;

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
		if (deadline == NULL) {
			rc = ERR_BUSY;
			break;
		}
		if (!waited) {
			waited = 1;
			s->waits++;
		}
		if (pthread_cond_timedwait(&s->cv, &s->mu, deadline) ==
			ETIMEDOUT &&
		    s->idle == NULL) {
			rc = ERR_BUSY;
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
	if (c != NULL)
		conns_held++; /* pool_put counts it back */
	if (c != NULL && (rc = s->ops->conn_check(c)) != OK) {
		c->broken = 1;
		pool_put(s, c);
		c = NULL;
	}
	/*
	 * A connection that could not be made or mended is a failed
	 * statement to the caller (ERR_DB), never ERR_UNAVAILABLE, which
	 * some read as a pending migration: the request answers 503 all
	 * the same (store_lost_take).
	 */
	if (rc != OK && rc != ERR_BUSY && rc != ERR_NOMEM) {
		/* A server lost is PostgreSQL's alone: a SQLite file that
		 * cannot be opened (CANTOPEN, permissions) is no reason to
		 * tell the client to try again. */
		if (s->ops == &store_pg_ops)
			store_lost_set(STORE_LOST_WAIT);
		rc = ERR_DB;
	}
	*out = c;
	return (rc);
}

static void
pool_put(struct store *s, struct conn *c)
{
	conns_held--;
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

/* Whether a transaction of this kind writes (SQLite: BEGIN IMMEDIATE). */
static int
tx_writes(int kind)
{
	return (!(kind & STORE_TX_READ) ||
	    (kind & (STORE_TX_WRITE | STORE_TX_SERIALIZABLE)));
}

int
store_tx_begin(struct store *s, int kind, struct tx **out)
{
	const struct timespec *deadline;
	struct timespec	       ts;
	struct conn	      *c;
	int		       rc, writer;

	*out = NULL;
	deadline = deadline_of(s, &ts);
	writer = s->ops->one_writer && tx_writes(kind);
	if (writer && (rc = writer_turn(s, deadline)) != OK)
		return (rc);
	if ((rc = pool_get(s, deadline, &c)) != OK) {
		if (writer)
			writer_done(s);
		return (rc);
	}
	if ((rc = s->ops->begin(c, kind)) != OK) {
		pool_put(s, c);
		if (writer)
			writer_done(s);
		return (rc);
	}
	atomic_fetch_add(&s->transactions, 1);
	c->tx.conn = c;
	c->tx.kind = kind;
	c->tx.failed = OK;
	c->tx.no_column = 0;
	c->tx.no_table = 0;
	c->tx.writer = writer;
	c->tx.serial = atomic_fetch_add(&tx_serials, 1) + 1;
	c->tx.clock0 = atomic_load(&s->changes);
	c->tx.nafter = 0;
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
	struct conn    *c = tx->conn;
	struct store   *s = c->store;
	struct tx_after after[STORE_AFTER_MAX];
	int		rc, writer = tx->writer, nafter = tx->nafter, i;
	int		told = 0;

	conn_reset_stmts(c);
	if (tx->failed != OK) {
		/* PG has aborted the tx already; SQLite follows suit. */
		s->ops->rollback(c);
		rc = tx->failed;
	} else
		rc = s->ops->commit(c,
		    tx_writes(tx->kind) && !(tx->kind & STORE_TX_UNMARKED),
		    &told);
	if (nafter > 0)
		memcpy(after, tx->after, (size_t)nafter * sizeof(after[0]));
	tx->nafter = 0;
	pool_put(s, c); /* tx is the connection's: not read after this */
	if (writer)
		writer_done(s);
	/* Committed, and told: what this process read before is older (a
	 * read stamped with the clock before this moved is not taken
	 * again). */
	if (rc == OK && told)
		atomic_fetch_add(&s->changes, 1);
	for (i = 0; rc == OK && i < nafter; i++)
		after[i].fn(after[i].key);
	return (rc);
}

void
store_tx_after_commit(
    struct tx *tx, void (*fn)(const char *key), const char *key)
{
	struct tx_after *a;
	int		 i;

	/* Asked already (a person's sessions ended twice): once is enough. */
	for (i = 0; i < tx->nafter; i++)
		if (tx->after[i].fn == fn &&
		    strcmp(tx->after[i].key, key != NULL ? key : "") == 0)
			return;
	if (tx->nafter == STORE_AFTER_MAX) {
		/* Full: one of fn's stands for all of its keys. */
		for (i = 0; i < tx->nafter; i++)
			if (tx->after[i].fn == fn) {
				tx->after[i].key[0] = '\0';
				return;
			}
		log_error("event=store_after_commit_full");
		return;
	}
	a = &tx->after[tx->nafter++];
	a->fn = fn;
	strlcpy_cb(a->key, key != NULL ? key : "", sizeof(a->key));
}

void
store_tx_rollback(struct tx *tx)
{
	struct conn  *c;
	struct store *s;
	int	      writer;

	if (tx == NULL)
		return;
	c = tx->conn;
	s = c->store;
	writer = tx->writer;
	tx->nafter = 0;
	conn_reset_stmts(c);
	s->ops->rollback(c);
	pool_put(s, c);
	if (writer)
		writer_done(s);
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

int
store_tx_no_column(const struct tx *tx)
{
	return (tx != NULL && tx->no_column);
}

int
store_tx_no_table(const struct tx *tx)
{
	return (tx != NULL && tx->no_table);
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

uint64_t
store_tx_clock(const struct tx *tx)
{
	return (tx->clock0);
}

int
store_tx_writes(const struct tx *tx)
{
	return (tx_writes(tx->kind));
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
		/* A begin that is busy waited the whole busy timeout (for a
		 * connection, a writer's turn, or another process that
		 * writes): it is not begun again. */
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
store_listen(struct store *s, const char *channel, const char *url,
    int heartbeat_ms, void (*on_note)(const char *payload, void *arg),
    void (*on_state)(int live, void *arg), void *arg,
    struct store_listener **out)
{
	*out = NULL;
	if (s->dialect != STORE_POSTGRES)
		return (ERR_UNAVAILABLE);
	return (pg_listen_start(
	    s, channel, url, heartbeat_ms, on_note, on_state, arg, out));
}

void
store_listen_stop(struct store_listener *l)
{
	pg_listen_stop(l);
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

int
store_backup(struct store *s, const char *path)
{
	return (store_backup_watch(s, path, NULL, NULL));
}

int
store_backup_watch(struct store *s, const char *path,
    void (*progress)(int, int, void *), void   *arg)
{
	struct timespec ts;
	struct conn    *c;
	int		rc, e;

	if (s->ops->backup == NULL || s->memory)
		return (ERR_INVALID);
	if ((rc = pool_get(s, deadline_of(s, &ts), &c)) != OK)
		return (rc);
	rc = s->ops->backup(c, path, progress, arg);
	e = errno; /* why a file failed, for the caller */
	pool_put(s, c);
	errno = e;
	return (rc);
}

int
store_restore(struct store *s, const char *path, int force)
{
	struct timespec ts;
	struct conn    *c;
	int		rc;

	if (s->ops->restore == NULL || s->memory)
		return (ERR_INVALID);
	if ((rc = pool_get(s, deadline_of(s, &ts), &c)) != OK)
		return (rc);
	rc = s->ops->restore(c, path, force);
	pool_put(s, c);
	return (rc);
}

int
store_checkpoint(struct store *s)
{
	const struct timespec *deadline;
	struct timespec	       ts;
	struct conn	      *c;
	int		       rc;

	if (s->ops->checkpoint == NULL || s->memory)
		return (OK);
	/* It writes: it takes the writer turn as a write transaction does,
	 * in line with this process's writers (SQLite's busy handler is
	 * for other processes). */
	deadline = deadline_of(s, &ts);
	if (s->ops->one_writer && (rc = writer_turn(s, deadline)) != OK)
		return (rc);
	if ((rc = pool_get(s, deadline, &c)) == OK) {
		rc = s->ops->checkpoint(c);
		pool_put(s, c);
	}
	if (s->ops->one_writer)
		writer_done(s);
	return (rc);
}
