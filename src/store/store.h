/*
 * The database: one API over SQLite and PostgreSQL.
 *
 * SQL is written once with `?` placeholders; the PostgreSQL backend turns
 * them into $1, $2, ... Statements are prepared once per connection and
 * cached. Every statement runs inside a transaction (struct tx), which
 * holds one pooled connection until it is committed or rolled back.
 *
 *	int
 *	count_jobs(struct store *db, int64_t *out)
 *	{
 *		struct tx	*tx;
 *		struct stmt	*st;
 *		int		 rc;
 *
 *		if ((rc = store_tx_begin(db, STORE_TX_READ, &tx)) != OK)
 *			return (rc);
 *		st = store_prepare(tx, "SELECT count(*) FROM jobs WHERE queue = ?");
 *		store_bind_text(st, 1, "default");
 *		if ((rc = store_step(st)) == STORE_ROW) {
 *			*out = store_col_int64(st, 0);
 *			rc = OK;
 *		} else
 *			rc = ERR_DB;
 *		store_finalize(st);
 *		store_tx_rollback(tx);
 *		return (rc);
 *	}
 *
 * Status codes are those of core/err.h. A NULL stmt from store_prepare is
 * accepted by every bind/step/col/finalize call (binds are ignored, step
 * returns ERR_DB), so callers check once, at step.
 */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct tx;
struct stmt;

enum store_dialect { STORE_SQLITE = 1, STORE_POSTGRES };

/* store_step results besides an error code from core/err.h. */
#define STORE_ROW  100
#define STORE_DONE 101

/* Transaction kinds. */
#define STORE_TX_READ	      0x01 /* SQLite: BEGIN; PG: READ ONLY */
#define STORE_TX_WRITE	      0x02 /* SQLite: BEGIN IMMEDIATE; PG: READ WRITE */
#define STORE_TX_SERIALIZABLE 0x04 /* PG: ISOLATION LEVEL SERIALIZABLE */
/*
 * One snapshot for every statement of the transaction (reports whose
 * totals and rows must agree). PG: ISOLATION LEVEL REPEATABLE READ (READ
 * ONLY with STORE_TX_READ); the default READ COMMITTED takes a new
 * snapshot per statement. SQLite: nothing more, as a read transaction in
 * WAL mode already reads one snapshot from its first statement to its end.
 */
#define STORE_TX_SNAPSHOT 0x08
/*
 * Plan every statement of the transaction for its bound values
 * (PostgreSQL: SET LOCAL plan_cache_mode = force_custom_plan), never by
 * the generic plan PostgreSQL otherwise switches a prepared statement
 * to after five runs, which is one plan for all values: for a list
 * scoped to one person, whose rows may be a few or most of the table,
 * the custom plan picks that person's index. SQLite: nothing (it plans
 * a statement once and uses it for every value).
 */
#define STORE_TX_CUSTOM_PLANS 0x10
/*
 * With STORE_TX_READ alone: PG sends no BEGIN (nor COMMIT or ROLLBACK),
 * each statement is its own transaction, so a read of one statement is
 * one round trip (READ ONLY is not enforced: for reads the caller knows).
 * SQLite: as STORE_TX_READ, a BEGIN there costing no round trip.
 */
#define STORE_TX_AUTOCOMMIT 0x20
/*
 * A write no cached read depends on (the audit writer's appends of read
 * audit rows, which go on under every audited read): its commit is not
 * told (store_changes_clock). Any other write's commit is.
 */
#define STORE_TX_UNMARKED 0x40
/*
 * PostgreSQL: no incremental sort in this transaction (SET LOCAL
 * enable_incremental_sort = off). For a list scoped to a person, whose
 * scope's indexes end with every key of the order (migration 0047): an
 * index of the order's first key alone (created_at), walked backwards
 * and sorted within equal keys, looked cheaper to the planner when the
 * heap is in that order, and reads the whole index for a person with few
 * rows. SQLite: nothing.
 */
#define STORE_TX_NO_INCREMENTAL_SORT 0x80

/*
 * Writes told. The commit of every write transaction (any kind but
 * STORE_TX_READ alone, and not STORE_TX_UNMARKED) that wrote anything
 * tells that data may have changed: on PostgreSQL one whose transaction
 * has an id (a row written or locked, DDL) sends a NOTIFY on
 * STORE_CHANGES_CHANNEL with its COMMIT (the same round trip; delivered
 * to every listener once the transaction committed, never for one rolled
 * back), on SQLite one that changed a row or ran a script (store_exec)
 * moves data_changes.n (migration 0057) by one inside the transaction.
 * Once such a commit is in, this process's change clock moves too. A
 * write that changed nothing (a job queue polled empty) tells nothing.
 *
 * What caches reads keeps with each one the clock (PostgreSQL, with a
 * listener on the channel that moves it: store_changes_bump) or the
 * count (SQLite: store_changes_count, which sees every process's writes)
 * read before the read began, and takes it again only while that is
 * still what it is. Writes made by hand, outside carebase, tell nothing.
 */
#define STORE_CHANGES_CHANNEL "carebase_changes"
uint64_t store_changes_clock(struct store *);
/* Move the clock: a change told by another process, or a listener that
 * stopped or started listening (what was told meanwhile is lost). */
void store_changes_bump(struct store *);
/*
 * SQLite: data_changes.n as tx reads it; as the first statement of a
 * read transaction, the count its snapshot holds. ERR_UNAVAILABLE when
 * it cannot be read (its table not there: migration 0057 pending or
 * undone), which leaves tx as it was; and on PostgreSQL, which counts by
 * its clock and a listener instead.
 */
int store_changes_count(struct tx *, int64_t *out);

struct store_opts {
	int pool_min;	     /* PostgreSQL: connections opened at start */
	int pool_max;	     /* most connections (SQLite and PG) */
	int busy_timeout_ms; /* SQLite busy timeout; PG pool wait */
	int create;	     /* SQLite: create the file and folder if missing */
	int wait_timeout_ms; /* PG: a statement's answer at most */
};

/*
 * Open "sqlite:///relative/path", "sqlite:////absolute/path",
 * "sqlite://:memory:" (tests), or "postgres://user:pw@host:port/db?...".
 * SQLite connections get WAL, foreign_keys=ON, the busy timeout and
 * synchronous=FULL (durable once committed). On failure *errmsg (static or NULL) says why without
 * the URL's password.
 */
int  store_open(const char *url, const struct store_opts *, struct store **out,
     const char **errmsg);
void store_close(struct store *); /* accepts NULL */
enum store_dialect store_dialect(const struct store *);
/* For metrics: the pool now, and counts since the store was opened. */
struct store_stats {
	int	 open;	       /* connections open (or being opened) */
	int	 in_use;       /* held by a transaction */
	uint64_t waits;	       /* times a caller waited for a connection */
	uint64_t writer_waits; /* SQLite: write transactions that queued */
	uint64_t writer_wakes; /* SQLite: times a queued one was woken */
	uint64_t nested;       /* asked for by a thread holding one (a bug) */
	uint64_t round_trips;  /* PG: times a connection waited for an answer */
	uint64_t transactions; /* begun */
};
void store_stats(struct store *, struct store_stats *out);
/* 0 if a trivial query succeeds. */
int store_ping(struct store *);
/*
 * Whether the database server was lost to this thread since the last
 * call, which clears it: 0 not; STORE_LOST_WAIT when a wait on it ran
 * out (PostgreSQL's silence, db_wait_timeout_ms: the connection dropped)
 * or a connection could not be made or mended; STORE_LOST_COMMIT when
 * that wait was a write's COMMIT, which the server may have applied all
 * the same. The caller saw a failed statement (ERR_DB), which a handler
 * would answer 500; the http layer asks this to answer 503 UNAVAILABLE
 * instead, which says to try again, or for STORE_LOST_COMMIT 503
 * COMMIT_OUTCOME_UNKNOWN, which says to read the change back first.
 */
#define STORE_LOST_WAIT	  1
#define STORE_LOST_COMMIT 2
int store_lost_take(void);
/* The mark as it stands, not cleared. */
int store_lost_peek(void);
/*
 * After a side write the request did not ask for (the session's touch of
 * last_activity), before its store_lost_peek: a STORE_LOST_COMMIT raised
 * by it is STORE_LOST_WAIT, as COMMIT_OUTCOME_UNKNOWN says the request's
 * own change may have been applied, which a read has none of and a write
 * failing later never sent.
 */
void store_lost_side_write(int before);

/*
 * Begin a transaction on a pooled connection. Waits up to the busy
 * timeout for a free connection (ERR_BUSY past it). On SQLite a write
 * transaction (any kind but STORE_TX_READ alone) first waits, within the
 * same time, for its turn behind this process's other writers, first come
 * first served and woken as soon as the one before ends; it holds the
 * turn to its commit or rollback, so only other processes meet SQLite's
 * busy timeout.
 *
 * One connection a thread: a thread that holds a transaction (of any
 * store) and begins another never waits, neither for a connection nor
 * for a writer's turn. It gets ERR_BUSY at once when none is free, and
 * is logged (event=db_second_connection) and counted as the bug it is:
 * waiting there is how a pool runs dry, every thread holding one
 * connection and waiting for a second.
 */
int store_tx_begin(struct store *, int kind, struct tx **out);
/*
 * A read transaction kept aside on this thread (*slot, its owner's) for
 * whoever takes it next, instead of ending it: the next store_tx_begin
 * on the thread first rolls it back and empties *slot, so keeping one
 * never holds a second connection. One at a time a thread (keeping
 * another ends the one kept before). The owner unparks it before using
 * or ending it itself, and before *slot goes away.
 */
void store_tx_park(struct tx **slot);
void store_tx_unpark(struct tx **slot);
/* 1 when *slot is the transaction kept aside on this thread. */
int store_tx_parked(struct tx **slot);
/* End the transaction kept aside on this thread, if any: before a wait
 * that another thread's transaction ends (audit_queue_sync). */
void store_tx_park_end(void);
/* Connections this thread holds (0 outside any transaction). */
int store_thread_connections(void);
/* Commit and give the connection back; ERR_BUSY on a serialization
 * failure or SQLite busy (the tx is over either way). */
int store_tx_commit(struct tx *);
/* Roll back and give the connection back. Accepts NULL. */
void		   store_tx_rollback(struct tx *);
enum store_dialect store_tx_dialect(const struct tx *);
/*
 * 1 if a statement of tx failed because a column it names is not there
 * (SQLite "no such column", PostgreSQL 42703 undefined_column): a
 * migration adding it is pending (a rolling upgrade, or undone), which a
 * caller can tell as 503 MIGRATIONS_PENDING rather than 500. That
 * statement's status stays ERR_DB; 0 for NULL.
 */
int store_tx_no_column(const struct tx *);
/* The same of a table (SQLite "no such table", PostgreSQL 42P01
 * undefined_table). */
int store_tx_no_table(const struct tx *);
/*
 * Serialise writers on key until this transaction ends: a PostgreSQL
 * advisory transaction lock on hashtext(key). On SQLite a write
 * transaction (BEGIN IMMEDIATE) already has the database to itself.
 */
int	      store_xact_lock(struct tx *, const char *key);
struct store *store_tx_store(const struct tx *);
/*
 * A number no other transaction of this process had (from 1 up): what a
 * caller keys something it learnt once per transaction by, as the tx
 * pointer itself is reused with its connection.
 */
uint64_t store_tx_serial(const struct tx *);
/*
 * The change clock (store_changes_clock) when tx began, before any of
 * its reads: what it reads is at least as new as that. A row read in tx
 * is kept under this, never under the clock read later (a write told
 * between its snapshot and then would be taken as seen).
 */
uint64_t store_tx_clock(const struct tx *);
/* 1 when the transaction was begun as one that writes (any kind but
 * STORE_TX_READ alone), 0 for a read transaction. */
int store_tx_writes(const struct tx *);
/*
 * Call fn(key) once this transaction has committed (not when it rolls
 * back or its commit fails), on the committing thread, after the
 * connection went back: what a process caches of rows the transaction
 * changed is dropped when the change can be read, not before (a reader
 * between the two would cache the old row again). key is copied (63
 * bytes at most; NULL or "" stands for all). Past 8 keys in one
 * transaction, one of fn's is called with "" instead: the callee takes
 * that as everything.
 */
void store_tx_after_commit(
    struct tx *, void (*fn)(const char *key), const char *key);

/*
 * Run fn inside a transaction, retrying the whole transaction (at least
 * 10 times, and for as long as the busy timeout, with a short random
 * backoff) when fn or the commit returns ERR_BUSY: SQLite busy/locked,
 * PostgreSQL 40001 serialization failure and 40P01 deadlock. A begin that
 * is busy has waited the busy timeout already (see store_tx_begin) and
 * is returned as it is. fn returns OK to commit, anything else to roll
 * back.
 */
int store_run(
    struct store *, int kind, int (*fn)(struct tx *, void *), void *arg);

/*
 * PostgreSQL: a thread on a connection of its own (to url, NULL or "" the
 * store's) LISTENs on channel and calls on_note(payload) for each
 * notification, on_state(1) once it listens (logged as
 * event=db_listen_ready) and on_state(0) when the connection is lost
 * (notifications sent meanwhile are lost with it: a caller drops what it
 * cached); it connects again every second until stopped. Every
 * heartbeat_ms it notifies itself on channel (payload
 * "carebase-heartbeat", never passed to on_note): one not back within
 * heartbeat_ms counts as a loss, so a connection gone silent is found.
 * Both callbacks run on the listener's thread. ERR_UNAVAILABLE on SQLite
 * (nothing is started).
 */
struct store_listener;
int store_listen(struct store *, const char *channel, const char *url,
    int heartbeat_ms, void (*on_note)(const char *payload, void *arg),
    void (*on_state)(int live, void *arg), void *arg,
    struct store_listener **out);
/* Stop the thread and close its connection. Accepts NULL. */
void store_listen_stop(struct store_listener *);

/* Run SQL with no parameters and no rows; may hold several statements. */
int store_exec(struct tx *, const char *sql);

/* Prepare (or take from the connection's cache) one statement. */
struct stmt *store_prepare(struct tx *, const char *sql);
/* Parameters are 1-based. Text and blobs are copied. */
void store_bind_text(struct stmt *, int i, const char *); /* NULL binds NULL */
void store_bind_textn(struct stmt *, int i, const char *, size_t);
void store_bind_int64(struct stmt *, int i, int64_t);
void store_bind_double(struct stmt *, int i, double);
void store_bind_blob(struct stmt *, int i, const void *, size_t);
void store_bind_null(struct stmt *, int i);
/* Booleans are stored as integers 0/1 on both dialects. */
void store_bind_bool(struct stmt *, int i, int);
/*
 * Execute on the first call, then advance: STORE_ROW, STORE_DONE, or an
 * error: ERR_CONFLICT (unique/foreign key/check violation), ERR_BUSY
 * (retryable), ERR_DB (anything else; details are logged, not returned).
 */
int store_step(struct stmt *);
/* Rows changed by the last INSERT/UPDATE/DELETE step. */
int64_t store_changes(struct stmt *);
/* Columns are 0-based; values are borrowed until the next step/finalize. */
int	    store_col_count(struct stmt *);
const char *store_col_name(struct stmt *, int i);
int	    store_col_is_null(struct stmt *, int i);
const char *store_col_text(struct stmt *, int i); /* NULL for NULL */
int64_t	    store_col_int64(struct stmt *, int i);
double	    store_col_double(struct stmt *, int i);
const void *store_col_blob(struct stmt *, int i, size_t *len);
/* Reset for reuse with new binds; the statement stays cached. Accepts NULL. */
void store_finalize(struct stmt *);

/* Translate `?` placeholders to $n, skipping quoted strings and comments.
 * Exposed for tests. Returns a malloc'd string or NULL. */
char *store_pg_placeholders(const char *sql);

/*
 * The catalog query of every table column of the database (the dialect's
 * schema, SQLite's own tables left out): rows (table, column, declared
 * type) ordered by table and column. For `carebase schema`; modules ask
 * migrate_applied (store/migrate.h) what the schema holds, never this.
 */
const char *store_columns_sql(int dialect);
/*
 * Whether the table name is in the database's schema, asked of the
 * dialect's catalog (sqlite_master; information_schema.tables in the
 * current schema), so that no statement fails while it is missing (a
 * failed statement would end a PostgreSQL transaction): *there 1 or 0,
 * and OK, or a store error.
 */
int store_table_exists(struct tx *, const char *name, int *there);
/* The same for a column of a table (pragma_table_info;
 * information_schema.columns): *there 0 when either is missing. */
int store_column_exists(
    struct tx *, const char *table, const char *column, int *there);

/*
 * SQLite only: write a consistent copy of the database to path with the
 * online backup API while others keep writing. ERR_INVALID on PostgreSQL.
 */
int store_backup(struct store *, const char *path);
/* The same, calling progress(pages left, pages in all, arg) as it goes
 * (the copy is one snapshot all the same); progress may be NULL. */
int store_backup_watch(struct store *, const char	*path,
    void (*progress)(int left, int total, void *), void *arg);
/*
 * SQLite only: replace the database's content with the copy at path (a
 * file `store_backup` wrote) with the online backup API. ERR_CONFLICT
 * when the database holds any table and force is 0; ERR_INVALID when
 * path is not an SQLite database, and on PostgreSQL. Nothing else may
 * use the database meanwhile (stop every carebase process first).
 */
int store_restore(struct store *, const char *path, int force);

/*
 * SQLite: copy the write-ahead log into the database file and truncate it
 * (PRAGMA wal_checkpoint(TRUNCATE)), so that pages which held erased data
 * do not linger in the -wal file. It takes this process's writer turn
 * as a write transaction does (in line, up to the busy timeout), then
 * waits at most a second (CHECKPOINT_WAIT_MS, sqlite.c) for readers and
 * other processes' writers, then gives up (ERR_BUSY; it is best effort).
 * It holds the writer turn all that while: after each erasure (which
 * runs it) this process's writers may wait behind it up to that second.
 * Run it outside any transaction.
 * PostgreSQL: nothing to do, OK.
 */
int store_checkpoint(struct store *);

#endif
