/*
 * Inside the store: what store.c shares with its two backends
 * (sqlite.c and pg.c). Not for use outside src/store/.
 *
 * store.c owns the pool, transactions and the per-connection statement
 * cache; a backend owns its connections and statements, which embed the
 * generic struct conn and struct stmt as their first member.
 */
#ifndef STORE_STORE_INT_H
#define STORE_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define STORE_STMT_CACHE_MAX 256 /* cached statements per connection */
#define STORE_ADDR_SLOTS     128 /* power of two */
#define STORE_RUN_TRIES	     10
#define STORE_PG_MAX_PARAMS  65535
#define STORE_AFTER_MAX	     8 /* store_tx_after_commit calls a tx keeps */
#define STORE_AFTER_KEY_MAX  64

struct conn;

/* What store_tx_after_commit was asked to run once the commit is in. */
struct tx_after {
	void (*fn)(const char *key);
	char key[STORE_AFTER_KEY_MAX]; /* "" when it stands for all */
};

struct tx {
	struct conn *conn;
	int	     kind;
	int	     failed; /* first failed statement's status */
	/* A statement failed naming a column not there (store_tx_no_column). */
	int no_column;
	/* One failed naming a table not there (store_tx_no_table). */
	int		no_table;
	int		writer; /* holds the store's writer turn (one_writer) */
	uint64_t	serial; /* store_tx_serial */
	uint64_t	clock0; /* the change clock at its begin */
	struct tx_after after[STORE_AFTER_MAX];
	int		nafter;
};

struct conn {
	struct store *store;
	struct conn  *next;    /* idle list */
	struct stmt **buckets; /* statement cache, chained */
	size_t	      nbuckets;
	size_t	      nstmts;
	/*
	 * Most SQL is a string literal, passed again and again at the same
	 * address: a direct-mapped table from that address to the cached
	 * statement skips hashing the text (still compared in full).
	 */
	struct stmt *byaddr[STORE_ADDR_SLOTS];
	unsigned     nextid; /* PG statement names s<N> */
	struct tx    tx;
	int	     broken; /* close instead of pooling */
};

struct stmt {
	struct conn *conn;
	struct stmt *hnext; /* bucket chain */
	char	    *sql;   /* cache key (as the caller wrote it) */
	const char  *addr;  /* where the caller's text was, last time */
	uint32_t     hash;
	int	     busy;   /* handed out, not yet finalized */
	int	     cached; /* 0: freed at finalize */
};

struct store_ops {
	/*
	 * The database lets one writer in at a time (SQLite): write
	 * transactions of this process queue for their turn in store.c,
	 * so that only other processes meet the database's busy timeout.
	 */
	int one_writer;
	int (*conn_open)(struct store *, struct conn **);
	void (*conn_close)(struct conn *);
	/* 0 if usable; may reconnect (and then empties the cache). */
	int (*conn_check)(struct conn *);
	int (*begin)(struct conn *, int kind);
	/* mark: tell the write if it changed anything (*told then 1;
	 * store_tx_commit, STORE_TX_UNMARKED). */
	int (*commit)(struct conn *, int mark, int *told);
	void (*rollback)(struct conn *);
	int (*exec)(struct conn *, const char *sql);

	struct stmt *(*stmt_new)(struct conn *, const char *sql);
	void (*stmt_free)(struct stmt *);
	void (*stmt_reset)(struct stmt *);
	void (*bind_text)(struct stmt *, int, const char *, size_t);
	void (*bind_int64)(struct stmt *, int, int64_t);
	void (*bind_double)(struct stmt *, int, double);
	void (*bind_blob)(struct stmt *, int, const void *, size_t);
	void (*bind_null)(struct stmt *, int);
	int (*step)(struct stmt *);
	int64_t (*changes)(struct stmt *);
	int (*col_count)(struct stmt *);
	const char *(*col_name)(struct stmt *, int);
	int (*col_is_null)(struct stmt *, int);
	const char *(*col_text)(struct stmt *, int);
	int64_t (*col_int64)(struct stmt *, int);
	double (*col_double)(struct stmt *, int);
	const void *(*col_blob)(struct stmt *, int, size_t *);
	/* SQLite only; NULL for PostgreSQL. */
	int (*backup)(struct conn *, const char			*path,
	    void (*progress)(int left, int total, void *), void *arg);
	/* SQLite only: path's content into this database; NULL for PG. */
	int (*restore)(struct conn *, const char *path, int force);
	/* SQLite only: the count of writes (data_changes, migration 0057)
	 * by a statement prepared once per connection; NULL for PG. */
	int (*changes_count)(struct conn *, int64_t *out);
	/* SQLite only (WAL checkpoint, truncating); NULL for PostgreSQL. */
	int (*checkpoint)(struct conn *);
};

struct store {
	enum store_dialect	dialect;
	const struct store_ops *ops;
	char		       *target; /* SQLite file or URI; PG conninfo */
	int			memory; /* SQLite :memory: */
	struct store_opts	opts;

	pthread_mutex_t mu;
	pthread_cond_t	cv;
	struct conn    *idle;
	int		nopen; /* open or being opened */
	int		in_use;
	uint64_t	waits;
	uint64_t	nested; /* asked for by a thread holding one */
	/* PG: times a connection waited for the server's answer. */
	_Atomic uint64_t round_trips;
	_Atomic uint64_t transactions; /* begun */
	/* The change clock (store_changes_clock). */
	_Atomic uint64_t changes;

	/* The writer turn (ops->one_writer): first come, first served. */
	pthread_mutex_t	    wmu;
	int		    writing;
	struct writer_wait *whead, *wtail;
	uint64_t	    writer_waits;
	uint64_t	    writer_wakes; /* waiters woken (one a turn) */
};

/* A write transaction waiting for its turn (on its thread's stack). */
struct writer_wait {
	struct writer_wait *next;
	pthread_cond_t	    cv; /* signalled when granted: this one alone */
	int		    granted;
};

extern const struct store_ops store_sqlite_ops;
/* Why PostgreSQL refused the last connection: libpq's words, which name
 * the host and the user, never the password. Borrowed. */
const char		     *pg_connect_why(void);
extern const struct store_ops store_pg_ops;
/* The keys and values a PostgreSQL connection to url is made with: TCP
 * and connect timeouts by default, where neither url, the environment
 * nor the PGSERVICE service file gives them; n entries each at least 8,
 * NULL-terminated. Values borrowed (static or url). */
int pg_conn_params(
    const char *url, const char **keys, const char **vals, size_t n);
/* The statement_timeout (ms) PostgreSQL connections get for a
 * db_wait_timeout_ms of wait_ms: below it, by a margin (pg.c). */
int pg_statement_timeout(int wait_ms);
/* A wait on the server ran out on this thread, or a connection could
 * not be had (STORE_LOST_WAIT), or a COMMIT's answer never came
 * (STORE_LOST_COMMIT): store_lost_take. */
void store_lost_set(int how);
/* The mark set back to before (store_lost_peek): a connection mended
 * after a loss that came to nothing. */
void store_lost_restore(int before);

/*
 * The oldest SQLite library carebase runs on: 3.38.0, for unixepoch()
 * (the schedules' computed free_seats and the public list of upcoming
 * schedules read "now" with it; migration 0017 gives PostgreSQL one) and
 * RETURNING (3.35). store_open refuses an older one with one clear line
 * instead of failing later, statement by statement.
 */
#define STORE_SQLITE_MIN      3038000
#define STORE_SQLITE_MIN_TEXT "3.38.0"
/* OK when the SQLite library linked is at least STORE_SQLITE_MIN; else
 * ERR_CONFIG, logged with the version found. */
int store_sqlite_version_check(void);

/* store_pg_placeholders, also counting the parameters into *nparams. */
char *store_pg_translate(const char *sql, int *nparams);

/* Free every cached statement of a connection (none may be busy). */
void store_conn_clear_cache(struct conn *);

/* schedules.c: enqueue the due schedules' jobs (at most every tick;
 * OK at once with none registered). jobs_run_once calls it. */
int jobs_tick(struct store *);

/* pg.c: store_listen's thread for PostgreSQL. */
int  pg_listen_start(struct store *, const char *channel, const char *url,
     int heartbeat_ms, void (*on_note)(const char *payload, void *arg),
     void (*on_state)(int live, void *arg), void *arg,
     struct store_listener **out);
void pg_listen_stop(struct store_listener *);

#endif
