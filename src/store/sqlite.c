/*
 * The SQLite backend: one sqlite3 handle per pooled connection, used by
 * one thread at a time (SQLITE_OPEN_NOMUTEX), in WAL mode with foreign
 * keys on. Statements are prepared persistent and kept in the
 * connection's cache by store.c.
 */
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/err.h"
#include "core/log.h"
#include "store/store.h"
#include "store/store_int.h"

enum {
	SQ_BEGIN,
	SQ_BEGIN_IMMEDIATE,
	SQ_COMMIT,
	SQ_ROLLBACK,
	SQ_QUERY_ONLY,
	SQ_WRITABLE,
	SQ_MARK,
	SQ_NCTL
};

struct sqlite_conn {
	struct conn   c; /* first */
	sqlite3	     *db;
	sqlite3_stmt *ctl[SQ_NCTL]; /* prepared once: BEGIN, COMMIT, ... */
	sqlite3_stmt *count;	    /* sq_changes_count's */
	int	      query_only;   /* PRAGMA query_only in force */
	/* The transaction's start: rows changed by then, and whether a
	 * script ran since (DDL changes no row). */
	sqlite3_int64 changes0;
	int	      execs;
};

struct sqlite_stmt {
	struct stmt   s; /* first */
	sqlite3_stmt *st;
	int	      done;
	int	      err; /* a bind failed: step fails */
};

#define SCONN(c) ((struct sqlite_conn *)(c))
#define SSTMT(s) ((struct sqlite_stmt *)(s))

static int	    sq_status(sqlite3 *, int rc, const char *what);
static int	    sq_mkdirs(const char *path);
static int	    sq_file_errno(sqlite3 *, int, int *);
static int	    sq_conn_open(struct store *, struct conn **);
static void	    sq_conn_close(struct conn *);
static int	    sq_conn_check(struct conn *);
static int	    sq_begin(struct conn *, int);
static int	    sq_query_only(struct conn *, int);
static int	    sq_commit(struct conn *, int, int *);
static void	    sq_rollback(struct conn *);
static int	    sq_exec(struct conn *, const char *);
static struct stmt *sq_stmt_new(struct conn *, const char *);
static void	    sq_stmt_free(struct stmt *);
static void	    sq_stmt_reset(struct stmt *);
static void	    sq_bind_check(struct stmt *, int, int);
static void	    sq_bind_text(struct stmt *, int, const char *, size_t);
static void	    sq_bind_int64(struct stmt *, int, int64_t);
static void	    sq_bind_double(struct stmt *, int, double);
static void	    sq_bind_blob(struct stmt *, int, const void *, size_t);
static void	    sq_bind_null(struct stmt *, int);
static int	    sq_step(struct stmt *);
static void	    sq_missing(struct conn *, int);
static int64_t	    sq_changes(struct stmt *);
static int	    sq_col_count(struct stmt *);
static const char  *sq_col_name(struct stmt *, int);
static int	    sq_col_is_null(struct stmt *, int);
static const char  *sq_col_text(struct stmt *, int);
static int64_t	    sq_col_int64(struct stmt *, int);
static double	    sq_col_double(struct stmt *, int);
static const void  *sq_col_blob(struct stmt *, int, size_t *);
static int	    sq_backup(
	     struct conn *, const char *, void (*)(int, int, void *), void *);
static void    sq_private(const char *);
static int     sq_restore(struct conn *, const char *, int);
static int64_t sq_counter(sqlite3 *, const char *);
static void    sq_counter_past(sqlite3 *, const char *, int64_t);
static int     sq_tables(sqlite3 *, int64_t *);
static int     sq_checkpoint(struct conn *);
static int     sq_changes_count(struct conn *, int64_t *);

const struct store_ops store_sqlite_ops = {
	.one_writer = 1,
	.conn_open = sq_conn_open,
	.conn_close = sq_conn_close,
	.conn_check = sq_conn_check,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.exec = sq_exec,
	.stmt_new = sq_stmt_new,
	.stmt_free = sq_stmt_free,
	.stmt_reset = sq_stmt_reset,
	.bind_text = sq_bind_text,
	.bind_int64 = sq_bind_int64,
	.bind_double = sq_bind_double,
	.bind_blob = sq_bind_blob,
	.bind_null = sq_bind_null,
	.step = sq_step,
	.changes = sq_changes,
	.col_count = sq_col_count,
	.col_name = sq_col_name,
	.col_is_null = sq_col_is_null,
	.col_text = sq_col_text,
	.col_int64 = sq_col_int64,
	.col_double = sq_col_double,
	.col_blob = sq_col_blob,
	.backup = sq_backup,
	.restore = sq_restore,
	.changes_count = sq_changes_count,
	.checkpoint = sq_checkpoint,
};

/* Map an SQLite result code to ours, logging what is not routine. */
static int
sq_status(sqlite3 *db, int rc, const char *what)
{
	char q[256];

	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return (OK);
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		log_debug("event=db_busy db=sqlite op=%s", what);
		return (ERR_BUSY);
	case SQLITE_CONSTRAINT:
		log_debug("event=db_conflict db=sqlite op=%s msg=%s", what,
		    log_quote(q, sizeof(q), sqlite3_errmsg(db)));
		return (ERR_CONFLICT);
	default:
		log_error("event=db_error db=sqlite op=%s code=%d msg=%s", what,
		    rc,
		    log_quote(q, sizeof(q),
			db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
		return (ERR_DB);
	}
}

/* Create the folders leading to path (mkdir -p of its dirname). */
static int
sq_mkdirs(const char *path)
{
	char *d, *p;
	int   rc = OK;

	if ((d = strdup(path)) == NULL)
		return (ERR_NOMEM);
	for (p = d + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(d, 0700) == -1 && errno != EEXIST) {
			log_error("event=db_mkdir_failed errno=%d", errno);
			rc = ERR_IO;
			break;
		}
		*p = '/';
	}
	free(d);
	return (rc);
}

int
store_sqlite_version_check(void)
{
	if (sqlite3_libversion_number() >= STORE_SQLITE_MIN)
		return (OK);
	log_error("event=sqlite_too_old version=%s need=%s",
	    sqlite3_libversion(), STORE_SQLITE_MIN_TEXT);
	return (ERR_CONFIG);
}

/*
 * Once, before SQLite initialises: no memory statistics, which would take
 * a process-wide mutex on every allocation SQLite makes.
 */
static void
sq_configure(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int
sq_conn_open(struct store *s, struct conn **out)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct sqlite_conn   *sc;
	int		      flags, rc;

	*out = NULL;
	pthread_once(&once, sq_configure);
	flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	if (s->opts.create || s->memory)
		flags |= SQLITE_OPEN_CREATE;
	if (s->opts.create && !s->memory && (rc = sq_mkdirs(s->target)) != OK)
		return (rc);
	if ((sc = calloc(1, sizeof(*sc))) == NULL)
		return (ERR_NOMEM);
	sc->c.store = s;
	if ((rc = sqlite3_open_v2(s->target, &sc->db, flags, NULL)) !=
	    SQLITE_OK) {
		rc = sq_status(sc->db, rc, "open");
		goto fail;
	}
	sqlite3_extended_result_codes(sc->db, 1);
	sqlite3_busy_timeout(sc->db, s->opts.busy_timeout_ms);
	/*
	 * synchronous=FULL: the WAL is synced at every commit, so what was
	 * acknowledged (a booking, a payment, a batch of points) survives a
	 * power cut or an OS crash; NORMAL may roll the last commits back.
	 */
	/*
	 * secure_delete: erased or deleted content is overwritten in the
	 * file, not left in free pages (Debian's SQLite defaults to it; a
	 * build that does not would keep an erased person's old pages).
	 */
	if ((rc = sqlite3_exec(sc->db,
		 "PRAGMA journal_mode=WAL;"
		 "PRAGMA foreign_keys=ON;PRAGMA synchronous=FULL;"
		 "PRAGMA secure_delete=ON",
		 NULL, NULL, NULL)) != SQLITE_OK) {
		rc = sq_status(sc->db, rc, "pragma");
		goto fail;
	}
	if (!s->memory)
		sq_private(s->target);
	*out = &sc->c;
	return (OK);
fail:
	sqlite3_close_v2(sc->db);
	free(sc);
	return (rc == OK ? ERR_DB : rc);
}

/*
 * The database and its -wal and -shm are their owner's alone. carebase
 * makes them so (umask 077 in main); one made by an older carebase or by
 * hand, open to group or others, is narrowed here, saying so.
 */
static void
sq_private(const char *path)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	struct stat		 sb;
	char			 p[4096];
	size_t			 i;

	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		if ((size_t)snprintf(p, sizeof(p), "%s%s", path, suffix[i]) >=
		    sizeof(p))
			return;
		if (stat(p, &sb) == -1 || (sb.st_mode & 077) == 0 ||
		    sb.st_uid != geteuid())
			continue;
		if (chmod(p, sb.st_mode & 0700) == 0)
			log_warn("event=db_file_made_private file=%s "
				 "was=%03o now=%03o",
			    p, (unsigned)(sb.st_mode & 0777),
			    (unsigned)(sb.st_mode & 0700));
	}
}

static void
sq_conn_close(struct conn *c)
{
	int i;

	if (c == NULL)
		return;
	store_conn_clear_cache(c);
	for (i = 0; i < SQ_NCTL; i++)
		sqlite3_finalize(SCONN(c)->ctl[i]);
	sqlite3_finalize(SCONN(c)->count);
	sqlite3_close_v2(SCONN(c)->db);
	free(c);
}

static int
sq_conn_check(struct conn *c)
{
	return (OK);
}

/*
 * Transaction control runs on every request: its statements are prepared
 * once per connection instead of parsed by sqlite3_exec each time.
 */
static int
sq_ctl(struct conn *c, int which)
{
	static const char *const sql[SQ_NCTL] = { "BEGIN", "BEGIN IMMEDIATE",
		"COMMIT", "ROLLBACK", "PRAGMA query_only = 1",
		"PRAGMA query_only = 0",
		"UPDATE data_changes SET n = n + 1 WHERE id = 1" };
	struct sqlite_conn	*sc = SCONN(c);
	int			 rc;

	if (sc->ctl[which] == NULL &&
	    (rc = sqlite3_prepare_v3(sc->db, sql[which], -1,
		 SQLITE_PREPARE_PERSISTENT, &sc->ctl[which], NULL)) !=
		SQLITE_OK)
		return (rc);
	rc = sqlite3_step(sc->ctl[which]);
	sqlite3_reset(sc->ctl[which]);
	return (rc == SQLITE_DONE ? SQLITE_OK : rc);
}

/*
 * The count of writes, read on every list of pages kept: prepared once per
 * connection, not through the statement cache (the table not there, as
 * before migration 0057 or after it is undone, fails no transaction; the
 * statement is made again at the next call).
 */
static int
sq_changes_count(struct conn *c, int64_t *out)
{
	struct sqlite_conn *sc = SCONN(c);
	int		    rc;

	*out = -1;
	if (sc->count == NULL &&
	    sqlite3_prepare_v3(sc->db,
		"SELECT n FROM data_changes WHERE id = 1", -1,
		SQLITE_PREPARE_PERSISTENT, &sc->count, NULL) != SQLITE_OK) {
		sqlite3_finalize(sc->count);
		sc->count = NULL;
		return (ERR_UNAVAILABLE);
	}
	if ((rc = sqlite3_step(sc->count)) == SQLITE_ROW)
		*out = sqlite3_column_int64(sc->count, 0);
	sqlite3_reset(sc->count);
	if (rc == SQLITE_ROW)
		return (OK);
	sqlite3_finalize(sc->count);
	sc->count = NULL;
	return (ERR_UNAVAILABLE);
}

/*
 * A read transaction runs with PRAGMA query_only on: a statement in it
 * that would write (a GET handler's slip) fails loudly (SQLITE_READONLY,
 * logged as a database error) instead of taking the one writer lock
 * unannounced, outside this process's writer turn (store.c), where it
 * would wait behind, or be refused by, the writers that queued for it.
 * The connection keeps the setting until a write transaction turns it
 * off, so a run of reads pays for it once.
 */
static int
sq_begin(struct conn *c, int kind)
{
	int which = SQ_BEGIN_IMMEDIATE, rc;

	if ((kind & STORE_TX_READ) &&
	    !(kind & (STORE_TX_WRITE | STORE_TX_SERIALIZABLE)))
		which = SQ_BEGIN;
	if ((rc = sq_query_only(c, which == SQ_BEGIN)) != OK)
		return (rc);
	SCONN(c)->changes0 = sqlite3_total_changes64(SCONN(c)->db);
	SCONN(c)->execs = 0;
	return (sq_status(SCONN(c)->db, sq_ctl(c, which), "begin"));
}

/* PRAGMA query_only on (1) or off (0), when it is not so already. */
static int
sq_query_only(struct conn *c, int on)
{
	struct sqlite_conn *sc = SCONN(c);
	int		    rc;

	if (sc->query_only == on)
		return (OK);
	rc = sq_status(
	    sc->db, sq_ctl(c, on ? SQ_QUERY_ONLY : SQ_WRITABLE), "query_only");
	if (rc == OK)
		sc->query_only = on;
	return (rc);
}

/*
 * mark: the write is told (store_tx_commit) if it changed a row or ran a
 * script (*told then 1): data_changes.n moves in the transaction
 * (migration 0057). Its table not there (the migration
 * pending or undone) is no failure: the write commits untold, and a
 * reader that counts on the table cannot read it either (no cached list
 * is taken: store_changes_count). It is tried at each commit, so a
 * migration applied by another process is counted from its next write.
 */
static int
sq_commit(struct conn *c, int mark, int *told)
{
	sqlite3 *db = SCONN(c)->db;
	int	 rc;

	*told = mark &&
	    (SCONN(c)->execs ||
		sqlite3_total_changes64(db) != SCONN(c)->changes0);
	/* Its table not there (0057 pending or undone) is expected: the
	 * write goes untold, and no process takes a page (none can read
	 * the count). Anything else fails the commit: a write that cannot
	 * be told is not made. */
	if (*told && (rc = sq_ctl(c, SQ_MARK)) != SQLITE_OK) {
		if (strncmp(sqlite3_errmsg(db), "no such table", 13) != 0) {
			rc = sq_status(db, rc, "commit");
			if (!sqlite3_get_autocommit(db))
				sq_ctl(c, SQ_ROLLBACK);
			*told = 0;
			return (rc != OK ? rc : ERR_DB);
		}
		log_debug("event=db_changes_untold db=sqlite msg=\"%s\"",
		    sqlite3_errmsg(db));
	}
	rc = sq_status(db, sq_ctl(c, SQ_COMMIT), "commit");
	if (rc != OK && !sqlite3_get_autocommit(db))
		sq_ctl(c, SQ_ROLLBACK);
	return (rc);
}

static void
sq_rollback(struct conn *c)
{
	if (!sqlite3_get_autocommit(SCONN(c)->db))
		sq_ctl(c, SQ_ROLLBACK);
}

static int
sq_exec(struct conn *c, const char *sql)
{
	sqlite3 *db = SCONN(c)->db;
	char	 q[256];
	int	 rc;

	SCONN(c)->execs = 1;
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	/* A script (a migration) refused by a RAISE says why: shown, not
	 * only a conflict at debug level. */
	if (rc == SQLITE_CONSTRAINT_TRIGGER)
		log_error("event=db_refused db=sqlite op=exec msg=%s",
		    log_quote(q, sizeof(q), sqlite3_errmsg(db)));
	return (sq_status(db, rc, "exec"));
}

static struct stmt *
sq_stmt_new(struct conn *c, const char *sql)
{
	struct sqlite_stmt *ss;
	const char	   *tail = NULL;
	int		    rc;

	if ((ss = calloc(1, sizeof(*ss))) == NULL)
		return (NULL);
	rc = sqlite3_prepare_v3(
	    SCONN(c)->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &ss->st, &tail);
	if (rc != SQLITE_OK) {
		sq_missing(c, rc);
		sq_status(SCONN(c)->db, rc, "prepare");
		goto fail;
	}
	if (ss->st == NULL) {
		log_error("event=db_error db=sqlite op=prepare msg=empty");
		goto fail;
	}
	tail += strspn(tail, " \t\r\n;");
	if (*tail != '\0') {
		log_error("event=db_error db=sqlite op=prepare "
			  "msg=\"several statements; use store_exec\"");
		goto fail;
	}
	return (&ss->s);
fail:
	sqlite3_finalize(ss->st);
	free(ss);
	return (NULL);
}

static void
sq_stmt_free(struct stmt *st)
{
	if (st == NULL)
		return;
	sqlite3_finalize(SSTMT(st)->st);
	free(st->sql);
	free(st);
}

static void
sq_stmt_reset(struct stmt *st)
{
	struct sqlite_stmt *ss = SSTMT(st);

	sqlite3_reset(ss->st);
	sqlite3_clear_bindings(ss->st);
	ss->done = 0;
	ss->err = OK;
}

static void
sq_bind_check(struct stmt *st, int i, int rc)
{
	if (rc == SQLITE_OK)
		return;
	log_error("event=db_error db=sqlite op=bind param=%d code=%d", i, rc);
	SSTMT(st)->err = ERR_DB;
}

static void
sq_bind_text(struct stmt *st, int i, const char *v, size_t n)
{
	sq_bind_check(st, i,
	    sqlite3_bind_text64(
		SSTMT(st)->st, i, v, n, SQLITE_TRANSIENT, SQLITE_UTF8));
}

static void
sq_bind_int64(struct stmt *st, int i, int64_t v)
{
	sq_bind_check(st, i, sqlite3_bind_int64(SSTMT(st)->st, i, v));
}

static void
sq_bind_double(struct stmt *st, int i, double v)
{
	sq_bind_check(st, i, sqlite3_bind_double(SSTMT(st)->st, i, v));
}

static void
sq_bind_blob(struct stmt *st, int i, const void *v, size_t n)
{
	sq_bind_check(st, i,
	    sqlite3_bind_blob64(SSTMT(st)->st, i, v, n, SQLITE_TRANSIENT));
}

static void
sq_bind_null(struct stmt *st, int i)
{
	sq_bind_check(st, i, sqlite3_bind_null(SSTMT(st)->st, i));
}

/*
 * A statement that failed naming a column or a table not there: one a
 * pending migration adds (store_tx_no_column, store_tx_no_table).
 */
static void
sq_missing(struct conn *c, int rc)
{
	const char *msg = sqlite3_errmsg(SCONN(c)->db);

	if ((rc & 0xff) != SQLITE_ERROR || msg == NULL)
		return;
	if (strncmp(msg, "no such column", 14) == 0)
		c->tx.no_column = 1;
	else if (strncmp(msg, "no such table", 13) == 0)
		c->tx.no_table = 1;
}

static int
sq_step(struct stmt *st)
{
	struct sqlite_stmt *ss = SSTMT(st);
	int		    rc;

	if (ss->err != OK)
		return (ss->err);
	if (ss->done)
		return (STORE_DONE);
	switch ((rc = sqlite3_step(ss->st))) {
	case SQLITE_ROW:
		return (STORE_ROW);
	case SQLITE_DONE:
		ss->done = 1;
		return (STORE_DONE);
	default:
		/* A statement kept prepared whose table or column went
		 * (prepared again by the step, which fails so). */
		sq_missing(st->conn, rc);
		ss->err = sq_status(SCONN(st->conn)->db, rc, "step");
		return (ss->err);
	}
}

static int64_t
sq_changes(struct stmt *st)
{
	return (sqlite3_changes64(SCONN(st->conn)->db));
}

static int
sq_col_count(struct stmt *st)
{
	return (sqlite3_column_count(SSTMT(st)->st));
}

static const char *
sq_col_name(struct stmt *st, int i)
{
	return (sqlite3_column_name(SSTMT(st)->st, i));
}

static int
sq_col_is_null(struct stmt *st, int i)
{
	return (sqlite3_column_type(SSTMT(st)->st, i) == SQLITE_NULL);
}

static const char *
sq_col_text(struct stmt *st, int i)
{
	return ((const char *)sqlite3_column_text(SSTMT(st)->st, i));
}

static int64_t
sq_col_int64(struct stmt *st, int i)
{
	return (sqlite3_column_int64(SSTMT(st)->st, i));
}

static double
sq_col_double(struct stmt *st, int i)
{
	return (sqlite3_column_double(SSTMT(st)->st, i));
}

static const void *
sq_col_blob(struct stmt *st, int i, size_t *len)
{
	sqlite3_stmt *s = SSTMT(st)->st;
	const void   *p;

	if (sqlite3_column_type(s, i) == SQLITE_NULL)
		return (NULL);
	p = sqlite3_column_blob(s, i);
	if (len != NULL)
		*len = (size_t)sqlite3_column_bytes(s, i);
	return (p != NULL ? p : "");
}

/* A write into the copy that failed for the file's sake (the disk full,
 * an I/O error): *rc ERR_IO and the system's errno returned, so that the
 * message says "No space left on device", not INTERNAL. 0 otherwise. */
static int
sq_file_errno(sqlite3 *db, int src, int *rc)
{
	if ((src & 0xff) == SQLITE_FULL) {
		*rc = ERR_IO;
		return (ENOSPC); /* SQLite keeps no errno for a full disk */
	}
	if ((src & 0xff) == SQLITE_IOERR) {
		*rc = ERR_IO;
		return (db != NULL && sqlite3_system_errno(db) != 0
			? sqlite3_system_errno(db)
			: EIO);
	}
	return (0);
}

#define BACKUP_STEP_PAGES 1024 /* pages copied between progress reports */

/*
 * Copy the database into path.tmp with the online backup API, then rename
 * it over path. The source connection holds one read transaction from
 * the start to the end (in WAL mode it blocks no writer), so the copy is
 * that one snapshot whatever others commit meanwhile, and is made in
 * steps of BACKUP_STEP_PAGES, reported to progress (pages left, pages in
 * all) when given.
 */
static int
sq_backup(struct conn *c, const char *path, void (*progress)(int, int, void *),
    void *arg)
{
	sqlite3	       *dst = NULL, *db = SCONN(c)->db;
	sqlite3_backup *b;
	struct timespec ts = { 0, 5 * 1000000L };
	char	       *tmp = NULL, *jour;
	int		rc = ERR_NOMEM, src, waited = 0, snap = 0, syserr = 0;

	if (asprintf(&tmp, "%s.tmp", path) == -1) {
		tmp = NULL;
		goto out;
	}
	unlink(tmp);
	if ((src = sqlite3_exec(db, "BEGIN; SELECT count(*) FROM sqlite_master",
		 NULL, NULL, NULL)) != SQLITE_OK) {
		rc = sq_status(db, src, "backup_snapshot");
		goto out;
	}
	snap = 1;
	if ((src = sqlite3_open_v2(tmp, &dst,
		 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL)) !=
	    SQLITE_OK) {
		rc = sq_status(dst, src, "backup_open");
		goto out;
	}
	if ((b = sqlite3_backup_init(dst, "main", db, "main")) == NULL) {
		rc = sq_status(dst, sqlite3_errcode(dst), "backup_init");
		rc = rc == OK ? ERR_DB : rc;
		goto out;
	}
	for (;;) {
		src = sqlite3_backup_step(b, BACKUP_STEP_PAGES);
		if (src == SQLITE_OK) {
			if (progress != NULL)
				progress(sqlite3_backup_remaining(b),
				    sqlite3_backup_pagecount(b), arg);
			continue;
		}
		if ((src != SQLITE_BUSY && src != SQLITE_LOCKED) ||
		    waited >= c->store->opts.busy_timeout_ms)
			break;
		nanosleep(&ts, NULL);
		waited += 5;
	}
	if (src == SQLITE_DONE && progress != NULL)
		progress(0, sqlite3_backup_pagecount(b), arg);
	sqlite3_backup_finish(b);
	if (src != SQLITE_DONE) {
		rc = sq_status(dst, src, "backup_step");
		rc = rc == OK ? ERR_DB : rc;
		syserr = sq_file_errno(dst, src, &rc);
		goto out;
	}
	if ((src = sqlite3_close(dst)) != SQLITE_OK) {
		rc = sq_status(dst, src, "backup_close");
		syserr = sq_file_errno(dst, src, &rc);
		goto out;
	}
	dst = NULL;
	if (rename(tmp, path) == -1) {
		log_error("event=db_backup_rename_failed errno=%d", errno);
		rc = ERR_IO;
		goto out;
	}
	rc = OK;
out:
	if (snap)
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close_v2(dst);
	if (rc != OK && tmp != NULL) {
		unlink(tmp);
		/* and the journal of the copy, which a failed step leaves */
		if ((jour = sqlite3_mprintf("%s-journal", tmp)) != NULL)
			unlink(jour);
		sqlite3_free(jour);
	}
	free(tmp);
	if (syserr != 0)
		errno = syserr; /* for the caller's message: ENOSPC, ... */
	return (rc);
}

/* Tables in db's main schema into *n. */
static int
sq_tables(sqlite3 *db, int64_t *n)
{
	sqlite3_stmt *st = NULL;
	int	      rc;

	*n = 0;
	if ((rc = sqlite3_prepare_v2(db,
		 "SELECT count(*) FROM sqlite_master WHERE type = 'table'", -1,
		 &st, NULL)) != SQLITE_OK)
		return (rc);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*n = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return (rc);
}

/*
 * Copy the database at path into this one with the online backup API in
 * one step: the connection's database (and its -wal) ends up holding
 * exactly path's pages. path is opened read-only and must hold tables.
 */
static int
sq_restore(struct conn *c, const char *path, int force)
{
	sqlite3	       *src = NULL, *dst = SCONN(c)->db;
	sqlite3_backup *b;
	struct timespec ts = { 0, 5 * 1000000L };
	int64_t		n = 0, before, before_data;
	int		rc, src_rc, waited = 0;

	/* It writes: the connection's last transaction may have been a
	 * read's (query_only). */
	if ((rc = sq_query_only(c, 0)) != OK)
		return (rc);
	if ((src_rc = sqlite3_open_v2(
		 path, &src, SQLITE_OPEN_READONLY, NULL)) != SQLITE_OK ||
	    (src_rc = sq_tables(src, &n)) != SQLITE_OK || n == 0) {
		log_error("event=db_restore_source_unusable code=%d", src_rc);
		rc = ERR_INVALID;
		goto out;
	}
	if ((src_rc = sq_tables(dst, &n)) != SQLITE_OK) {
		rc = sq_status(dst, src_rc, "restore_tables");
		goto out;
	}
	if (n > 0 && !force) {
		rc = ERR_CONFLICT;
		goto out;
	}
	before = sq_counter(dst, "auth_changes");
	before_data = sq_counter(dst, "data_changes");
	if ((b = sqlite3_backup_init(dst, "main", src, "main")) == NULL) {
		rc = sq_status(dst, sqlite3_errcode(dst), "restore_init");
		rc = rc == OK ? ERR_DB : rc;
		goto out;
	}
	for (;;) {
		src_rc = sqlite3_backup_step(b, -1);
		if ((src_rc != SQLITE_BUSY && src_rc != SQLITE_LOCKED) ||
		    waited >= c->store->opts.busy_timeout_ms)
			break;
		nanosleep(&ts, NULL);
		waited += 5;
	}
	sqlite3_backup_finish(b);
	rc =
	    src_rc == SQLITE_DONE ? OK : sq_status(dst, src_rc, "restore_step");
	rc = rc == OK && src_rc != SQLITE_DONE ? ERR_DB : rc;
	if (rc == OK) {
		sq_counter_past(dst, "auth_changes", before);
		sq_counter_past(dst, "data_changes", before_data);
	}
out:
	sqlite3_close_v2(src);
	return (rc);
}

/*
 * Serving processes keep the sessions they read while auth_changes.n
 * (migration 0050) is what they read it with (people/session_cache.c),
 * and pages of lists while data_changes.n (0057) is (list_cache.c). A
 * restore brings back the copy's n, which one of them may hold for rows
 * the copy has not: n is set past both, so none is taken. -1 when there
 * is none to read (no such table yet). table is one of those two.
 */
static int64_t
sq_counter(sqlite3 *db, const char *table)
{
	sqlite3_stmt *st;
	char	      sql[96];
	int64_t	      n = -1;

	snprintf(sql, sizeof(sql), "SELECT n FROM %s WHERE id = 1", table);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return (-1);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return (n);
}

static void
sq_counter_past(sqlite3 *db, const char *table, int64_t before)
{
	sqlite3_stmt *st;
	char	      sql[96];
	int	      rc;

	/* Far past both: a process's write between the read of before and
	 * the restore's lock moved n on, perhaps more than once. */
	snprintf(sql, sizeof(sql),
	    "UPDATE %s SET n = max(n, ?) + 4294967296 WHERE id = 1", table);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return; /* a copy older than its migration: nothing keeps */
	sqlite3_bind_int64(st, 1, before);
	if ((rc = sqlite3_step(st)) != SQLITE_DONE)
		log_warn(
		    "event=db_restore_counter table=%s code=%d", table, rc);
	sqlite3_finalize(st);
}

#define CHECKPOINT_WAIT_MS 1000 /* most a checkpoint waits for others */

/*
 * Checkpoint the WAL and truncate it to nothing. TRUNCATE waits (through
 * the busy handler) for writers and for readers of older snapshots: the
 * wait is cut to CHECKPOINT_WAIT_MS, then the busy timeout is put back.
 */
static int
sq_checkpoint(struct conn *c)
{
	sqlite3 *db = SCONN(c)->db;
	int	 rc, frames = 0, done = 0, wait;

	if ((rc = sq_query_only(c, 0)) != OK)
		return (rc);
	wait = c->store->opts.busy_timeout_ms;
	sqlite3_busy_timeout(
	    db, wait < CHECKPOINT_WAIT_MS ? wait : CHECKPOINT_WAIT_MS);
	rc = sqlite3_wal_checkpoint_v2(
	    db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &frames, &done);
	sqlite3_busy_timeout(db, wait);
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
		log_warn(
		    "event=db_checkpoint_busy frames=%d done=%d", frames, done);
		return (ERR_BUSY);
	}
	return (rc == SQLITE_OK ? OK : sq_status(db, rc, "checkpoint"));
}
