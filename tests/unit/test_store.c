/*
 * Unit tests for src/store: placeholder translation, then the same store
 * tests on SQLite (a temp folder) and, when CAREBASE_TEST_PG_URL is set,
 * on PostgreSQL (in a private schema that the tests drop and re-create).
 */
#include <sys/stat.h>

#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/util.h"
#include "people/people_int.h"
#include "store/jobs.h"
#include "store/store.h"
#include "store/store_int.h"
#include "testdb.h"

#define PG_SCHEMA "carebase_test_store"

struct backend {
	int  dialect;
	char dir[64];  /* SQLite: temp folder */
	char url[512]; /* PG: URL with search_path */
	int  seq;
};

static struct store *db_open(void **, int pool_max, int busy_ms);
static int	     db_exec(struct store *, const char *);
static int64_t	     db_count(struct store *, const char *);

static struct store *
db_open(void **state, int pool_max, int busy_ms)
{
	struct backend	 *be = *state;
	struct store_opts o = { 1, pool_max, busy_ms, 1 };
	struct store	 *s = NULL;
	const char	 *err;
	char		  url[600];

	if (be->dialect == STORE_SQLITE)
		snprintf(url, sizeof(url), "sqlite:///%s/t%d.db", be->dir,
		    ++be->seq);
	else
		snprintf(url, sizeof(url), "%s", be->url);
	assert_int_equal(store_open(url, &o, &s, &err), OK);
	assert_non_null(s);
	assert_int_equal(store_dialect(s), be->dialect);
	return (s);
}

/* ---- placeholders ---- */

static void
placeholders_skip_strings_comments_and_dollar_quotes(void **state)
{
	static const char *cases[][2] = {
		{ "SELECT ?, ?", "SELECT $1, $2" },
		{ "SELECT '?', ?", "SELECT '?', $1" },
		{ "SELECT 'it''s ?' || ?", "SELECT 'it''s ?' || $1" },
		{ "SELECT \"we?rd\" FROM t WHERE a = ?",
		    "SELECT \"we?rd\" FROM t WHERE a = $1" },
		{ "SELECT \"a\"\"?\" = ?", "SELECT \"a\"\"?\" = $1" },
		{ "-- what?\nSELECT ? -- and ?\n, ?",
		    "-- what?\nSELECT $1 -- and ?\n, $2" },
		{ "/* a ? /* nested ? */ still ? */ ?",
		    "/* a ? /* nested ? */ still ? */ $1" },
		{ "SELECT $$ a ? $$, ?", "SELECT $$ a ? $$, $1" },
		{ "DO $fn$ ? $x$ ? $fn$; SELECT ?",
		    "DO $fn$ ? $x$ ? $fn$; SELECT $1" },
		{ "SELECT E'\\' ?', ?", "SELECT E'\\' ?', $1" },
		{ "SELECT a$b, ? FROM t", "SELECT a$b, $1 FROM t" },
		{ "SELECT $1, ?", "SELECT $1, $1" },
		{ "SELECT 4 / 2 - 1, ?", "SELECT 4 / 2 - 1, $1" },
		{ "SELECT 'open ?", "SELECT 'open ?" },
		{ "SELECT 1", "SELECT 1" },
		{ "", "" },
	};
	char  *out, sql[1024], want[2048];
	size_t i;
	int    n, len = 0, wlen = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		out = store_pg_placeholders(cases[i][0]);
		assert_non_null(out);
		assert_string_equal(out, cases[i][1]);
		free(out);
	}
	/* Many parameters. */
	for (n = 1; n <= 150; n++) {
		len += snprintf(sql + len, sizeof(sql) - (size_t)len, "%s?",
		    n > 1 ? "," : "");
		wlen += snprintf(want + wlen, sizeof(want) - (size_t)wlen,
		    "%s$%d", n > 1 ? "," : "", n);
	}
	out = store_pg_placeholders(sql);
	assert_non_null(out);
	assert_string_equal(out, want);
	free(out);
}

/* The value pg_conn_params gives key, or NULL when it leaves it out. */
static const char *
param_of(const char **keys, const char **vals, const char *key)
{
	size_t i;

	for (i = 0; keys[i] != NULL; i++)
		if (strcmp(keys[i], key) == 0)
			return (vals[i]);
	return (NULL);
}

/*
 * A PostgreSQL connection's TCP and connect defaults (the pool's and the
 * listener's) are only defaults: one the environment gives (or the
 * PGSERVICE service file, which PQconndefaults reads alike) is left out
 * for libpq to take, and the URL comes last so that its own keys win.
 */
static void
connect_defaults_yield_to_the_environment(void **state)
{
	const char *keys[8], *vals[8], *url = "postgres://u@h:5/db";
	char	   *saved = getenv("PGCONNECT_TIMEOUT");
	char	    keep[32] = "";
	size_t	    n;

	(void)state;
	if (saved != NULL)
		snprintf(keep, sizeof(keep), "%s", saved);
	unsetenv("PGCONNECT_TIMEOUT");
	assert_int_equal(pg_conn_params(url, keys, vals, 8), OK);
	assert_string_equal(param_of(keys, vals, "connect_timeout"), "10");
	assert_string_equal(param_of(keys, vals, "tcp_user_timeout"), "30000");
	assert_string_equal(param_of(keys, vals, "keepalives"), "1");
	for (n = 0; keys[n] != NULL; n++)
		;
	assert_int_equal(n, 7);
	assert_string_equal(keys[n - 1], "dbname");
	assert_ptr_equal(vals[n - 1], url);

	setenv("PGCONNECT_TIMEOUT", "3", 1);
	assert_int_equal(pg_conn_params(url, keys, vals, 8), OK);
	assert_null(param_of(keys, vals, "connect_timeout"));
	assert_string_equal(param_of(keys, vals, "tcp_user_timeout"), "30000");
	assert_string_equal(param_of(keys, vals, "dbname"), url);
	/* Too little room: refused, nothing half-written is used. */
	assert_int_equal(pg_conn_params(url, keys, vals, 7), ERR_INVALID);
	if (keep[0] != '\0')
		setenv("PGCONNECT_TIMEOUT", keep, 1);
	else
		unsetenv("PGCONNECT_TIMEOUT");
}

static void
open_rejects_bad_urls_and_creates_folders(void **state)
{
	struct store_opts o = { 0, 2, 1000, 0 };
	struct store	 *s = NULL;
	const char	 *err = NULL;
	char		  dir[] = "/tmp/carebase-url-XXXXXX", cwd[512];
	char		  path[600];
	struct stat	  sb;

	assert_int_equal(store_open("mysql://x", &o, &s, &err), ERR_CONFIG);
	assert_null(s);
	assert_non_null(err);
	assert_int_equal(store_open("sqlite://", &o, &s, &err), ERR_CONFIG);

	assert_non_null(mkdtemp(dir));
	/* Without create, a missing file is an error. */
	snprintf(path, sizeof(path), "sqlite:///%s/none.db", dir);
	assert_int_not_equal(store_open(path, &o, &s, &err), OK);
	assert_null(s);
	assert_non_null(err);

	/* "sqlite:///a/b.db" is relative to the working folder. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(dir), 0);
	o.create = 1;
	assert_int_equal(
	    store_open("sqlite:///var/sub/x.db", &o, &s, &err), OK);
	assert_int_equal(store_ping(s), OK);
	store_close(s);
	assert_int_equal(chdir(cwd), 0);
	snprintf(path, sizeof(path), "%s/var/sub/x.db", dir);
	assert_int_equal(stat(path, &sb), 0);

	/* In-memory: every transaction sees the same database. */
	assert_int_equal(store_open("sqlite://:memory:", &o, &s, &err), OK);
	assert_int_equal(db_exec(s,
			     "CREATE TABLE m (x INTEGER);"
			     "INSERT INTO m VALUES (7)"),
	    OK);
	assert_int_equal(db_count(s, "SELECT x FROM m"), 7);
	store_close(s);
	store_close(NULL);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

/* ---- both dialects ---- */

static void
sqlite_connections_use_wal_and_foreign_keys(void **state)
{
	struct backend *be = *state;
	struct store   *s;
	struct tx      *tx;
	struct stmt    *st;

	if (be->dialect != STORE_SQLITE)
		skip();
	s = db_open(state, 4, 2000);
	assert_int_equal(store_tx_begin(s, STORE_TX_READ, &tx), OK);
	st = store_prepare(tx, "PRAGMA journal_mode");
	assert_int_equal(store_step(st), STORE_ROW);
	assert_string_equal(store_col_text(st, 0), "wal");
	store_finalize(st);
	st = store_prepare(tx, "PRAGMA foreign_keys");
	assert_int_equal(store_step(st), STORE_ROW);
	assert_int_equal(store_col_int64(st, 0), 1);
	store_finalize(st);
	/* Durable once committed: FULL (2) syncs the WAL at each commit. */
	st = store_prepare(tx, "PRAGMA synchronous");
	assert_int_equal(store_step(st), STORE_ROW);
	assert_int_equal(store_col_int64(st, 0), 2);
	store_finalize(st);
	store_tx_rollback(tx);
	store_close(s);
}

static void
constraint_violations_are_conflicts(void **state)
{
	struct store *s = db_open(state, 4, 2000);
	struct tx    *tx;
	struct stmt  *st;

	assert_int_equal(
	    db_exec(s,
		"DROP TABLE IF EXISTS child;"
		"DROP TABLE IF EXISTS parent;"
		"CREATE TABLE parent (id BIGINT PRIMARY KEY);"
		"CREATE TABLE child (id BIGINT PRIMARY KEY, "
		"parent_id BIGINT NOT NULL REFERENCES parent (id));"
		"INSERT INTO parent VALUES (1)"),
	    OK);

	/* Foreign key. */
	assert_int_equal(store_tx_begin(s, STORE_TX_WRITE, &tx), OK);
	st = store_prepare(
	    tx, "INSERT INTO child (id, parent_id) VALUES (?, ?)");
	store_bind_int64(st, 1, 1);
	store_bind_int64(st, 2, 99);
	assert_int_equal(store_step(st), ERR_CONFLICT);
	store_finalize(st);
	/* A failed statement fails the transaction on both dialects. */
	assert_int_equal(store_tx_commit(tx), ERR_CONFLICT);

	/* Unique. */
	assert_int_equal(store_tx_begin(s, STORE_TX_WRITE, &tx), OK);
	st = store_prepare(tx, "INSERT INTO parent (id) VALUES (?)");
	store_bind_int64(st, 1, 1);
	assert_int_equal(store_step(st), ERR_CONFLICT);
	store_finalize(st);
	store_tx_rollback(tx);

	/*
	 * Any other error is ERR_DB, at step at the latest (SQLite fails
	 * the prepare, PostgreSQL prepares on first step).
	 */
	assert_int_equal(store_tx_begin(s, STORE_TX_WRITE, &tx), OK);
	st = store_prepare(tx, "SELEKT nonsense");
	assert_int_equal(store_step(st), ERR_DB);
	assert_null(store_col_text(st, 0));
	assert_int_equal(store_col_count(st), 0);
	store_finalize(st);
	assert_int_equal(store_tx_commit(tx), ERR_DB);

	/* A NULL statement is accepted everywhere. */
	st = NULL;
	store_bind_int64(st, 1, 1);
	store_bind_text(st, 1, "x");
	store_bind_blob(st, 1, "x", 1);
	assert_int_equal(store_step(st), ERR_DB);
	assert_int_equal(store_changes(st), 0);
	assert_true(store_col_is_null(st, 0));
	assert_null(store_col_blob(st, 0, NULL));
	store_finalize(st);

	assert_int_equal(db_count(s, "SELECT count(*) FROM child"), 0);
	assert_int_equal(db_count(s, "SELECT count(*) FROM parent"), 1);
	store_close(s);
}

static void
values_round_trip_with_their_types(void **state)
{
	struct backend	   *be = *state;
	struct store	   *s = db_open(state, 4, 2000);
	struct tx	   *tx;
	struct stmt	   *st;
	const unsigned char blob[] = { 0, 1, 0, 255, 'x', 0 };
	const void	   *bp;
	size_t		    blen;

	assert_int_equal(db_exec(s, "DROP TABLE IF EXISTS v"), OK);
	assert_int_equal(db_exec(s,
			     be->dialect == STORE_SQLITE
				 ? "CREATE TABLE v (k BIGINT, t TEXT, i "
				   "BIGINT, d DOUBLE PRECISION, "
				   "b BLOB, n TEXT, f INTEGER)"
				 : "CREATE TABLE v (k BIGINT, t TEXT, i "
				   "BIGINT, d DOUBLE PRECISION, "
				   "b BYTEA, n TEXT, f INTEGER)"),
	    OK);
	assert_int_equal(store_tx_begin(s, STORE_TX_WRITE, &tx), OK);
	st = store_prepare(tx, "INSERT INTO v VALUES (?, ?, ?, ?, ?, ?, ?)");
	store_bind_int64(st, 1, 1);
	store_bind_text(st, 2, "h\xc3\xa9llo 'q' \"d\" ?");
	store_bind_int64(st, 3, INT64_MAX);
	store_bind_double(st, 4, 3.141592653589793);
	store_bind_blob(st, 5, blob, sizeof(blob));
	store_bind_null(st, 6);
	store_bind_bool(st, 7, 42);
	assert_int_equal(store_step(st), STORE_DONE);
	assert_int_equal(store_changes(st), 1);
	store_finalize(st);
	/* Same handle again, new values. */
	st = store_prepare(tx, "INSERT INTO v VALUES (?, ?, ?, ?, ?, ?, ?)");
	store_bind_int64(st, 1, 2);
	store_bind_textn(st, 2, "abcdef", 3);
	store_bind_int64(st, 3, INT64_MIN);
	store_bind_double(st, 4, -1e300);
	store_bind_blob(st, 5, "", 0);
	store_bind_text(st, 6, NULL);
	store_bind_bool(st, 7, 0);
	assert_int_equal(store_step(st), STORE_DONE);
	store_finalize(st);
	assert_int_equal(store_tx_commit(tx), OK);

	assert_int_equal(store_tx_begin(s, STORE_TX_READ, &tx), OK);
	st = store_prepare(tx, "SELECT t, i, d, b, n, f FROM v ORDER BY k");
	assert_int_equal(store_step(st), STORE_ROW);
	assert_int_equal(store_col_count(st), 6);
	assert_string_equal(store_col_name(st, 3), "b");
	assert_null(store_col_name(st, 6));
	assert_string_equal(store_col_text(st, 0), "h\xc3\xa9llo 'q' \"d\" ?");
	assert_true(store_col_int64(st, 1) == INT64_MAX);
	assert_true(store_col_double(st, 2) == 3.141592653589793);
	bp = store_col_blob(st, 3, &blen);
	assert_int_equal(blen, sizeof(blob));
	assert_memory_equal(bp, blob, sizeof(blob));
	assert_true(store_col_is_null(st, 4));
	assert_null(store_col_text(st, 4));
	assert_null(store_col_blob(st, 4, &blen));
	assert_int_equal(blen, 0);
	assert_int_equal(store_col_int64(st, 5), 1);
	assert_int_equal(store_step(st), STORE_ROW);
	assert_string_equal(store_col_text(st, 0), "abc");
	assert_true(store_col_int64(st, 1) == INT64_MIN);
	assert_true(store_col_double(st, 2) == -1e300);
	bp = store_col_blob(st, 3, &blen);
	assert_non_null(bp);
	assert_int_equal(blen, 0);
	assert_true(store_col_is_null(st, 4));
	assert_int_equal(store_col_int64(st, 5), 0);
	assert_int_equal(store_step(st), STORE_DONE);
	assert_int_equal(store_step(st), STORE_DONE); /* stays done */
	store_finalize(st);
	store_tx_rollback(tx);
	store_close(s);
}

/*
 * A read transaction cannot write: PostgreSQL's READ ONLY, SQLite's
 * PRAGMA query_only (a GET handler that slips a write in fails loudly
 * instead of taking the writer lock behind the writers' turn). The same
 * connection writes again in the write transaction after, and reads
 * again after that.
 */
static void
reads_cannot_write(void **state)
{
	struct store *s = db_open(state, 1, 2000);
	struct tx    *tx;
	struct stmt  *st;
	int	      i;

	assert_int_equal(db_exec(s, "DROP TABLE IF EXISTS ro"), OK);
	assert_int_equal(db_exec(s, "CREATE TABLE ro (x INTEGER)"), OK);
	for (i = 0; i < 2; i++) {
		assert_int_equal(store_tx_begin(s, STORE_TX_READ, &tx), OK);
		st = store_prepare(tx, "INSERT INTO ro VALUES (1)");
		assert_int_equal(store_step(st), ERR_DB);
		store_finalize(st);
		store_tx_rollback(tx);
		/* A snapshot read is a read too. */
		assert_int_equal(
		    store_tx_begin(s, STORE_TX_READ | STORE_TX_SNAPSHOT, &tx),
		    OK);
		st = store_prepare(tx, "UPDATE ro SET x = 2");
		assert_int_equal(store_step(st), ERR_DB);
		store_finalize(st);
		store_tx_rollback(tx);
		assert_int_equal(store_tx_begin(s, STORE_TX_WRITE, &tx), OK);
		st = store_prepare(tx, "INSERT INTO ro VALUES (3)");
		assert_int_equal(store_step(st), STORE_DONE);
		store_finalize(st);
		assert_int_equal(store_tx_commit(tx), OK);
	}
	assert_int_equal(db_count(s, "SELECT count(*) FROM ro"), 2);
	assert_int_equal(db_count(s, "SELECT sum(x) FROM ro"), 6);
	store_close(s);
}

/*
 * STORE_TX_CUSTOM_PLANS: a statement run again and again is planned for
 * its values each time. Without it PostgreSQL switches a prepared
 * statement to its generic plan (one for all values) after five runs,
 * as the second transaction shows; pg_prepared_statements counts both
 * kinds for the connection's own statements. SQLite: nothing to see.
 */
static void
custom_plans_are_never_generic(void **state)
{
	struct backend *be = *state;
	struct store   *s;
	struct tx      *tx;
	struct stmt    *st;
	int64_t		generic[2];
	int		i, t,
	    kinds[2] = { STORE_TX_READ | STORE_TX_CUSTOM_PLANS, STORE_TX_READ };

	if (be->dialect != STORE_POSTGRES)
		skip();
	s = db_open(state, 1, 2000);
	assert_int_equal(db_exec(s,
			     "DROP TABLE IF EXISTS cp;"
			     "CREATE TABLE cp (k BIGINT, v BIGINT);"
			     "CREATE INDEX cp_k ON cp (k);"
			     "INSERT INTO cp SELECT g % 100, g FROM "
			     "generate_series(1, 5000) AS g;"
			     "ANALYZE cp"),
	    OK);
	for (t = 0; t < 2; t++) {
		assert_int_equal(store_tx_begin(s, kinds[t], &tx), OK);
		for (i = 0; i < 8; i++) {
			st = store_prepare(
			    tx, "SELECT count(*) FROM cp WHERE k = ?");
			store_bind_int64(st, 1, i);
			assert_int_equal(store_step(st), STORE_ROW);
			assert_int_equal(store_col_int64(st, 0), 50);
			store_finalize(st);
		}
		st = store_prepare(tx,
		    "SELECT generic_plans FROM pg_prepared_statements "
		    "WHERE statement = 'SELECT count(*) FROM cp WHERE k = $1'");
		assert_int_equal(store_step(st), STORE_ROW);
		generic[t] = store_col_int64(st, 0);
		store_finalize(st);
		store_tx_rollback(tx);
	}
	assert_int_equal(generic[0], 0);
	assert_true(generic[1] > 0);
	store_close(s);
}

/*
 * The catalog's answers (store_table_exists, store_column_exists): a table
 * of the current schema and its columns; not an index, a table gone, a
 * column dropped; on PostgreSQL a view, a partitioned table and their
 * columns too (as information_schema says), never a system column, a
 * dropped column under the name PostgreSQL gives it, nor another schema's
 * table. (The privilege conditions are not reached: the tests' role is a
 * superuser.)
 */
static int
has_table(struct tx *tx, const char *name)
{
	int there = -1;

	assert_int_equal(store_table_exists(tx, name, &there), OK);
	return (there);
}

static int
has_column(struct tx *tx, const char *table, const char *column)
{
	int there = -1;

	assert_int_equal(store_column_exists(tx, table, column, &there), OK);
	return (there);
}

static void
the_catalog_names_tables_and_columns(void **state)
{
	struct backend *be = *state;
	struct store   *s;
	struct tx      *tx;
	int		pg = be->dialect == STORE_POSTGRES;

	s = db_open(state, 1, 2000);
	assert_int_equal(db_exec(s,
			     "DROP VIEW IF EXISTS cat_v;"
			     "DROP TABLE IF EXISTS cat_t;"
			     "CREATE TABLE cat_t (a INTEGER, b INTEGER, "
			     "c INTEGER);"
			     "CREATE INDEX cat_i ON cat_t (a);"
			     "CREATE VIEW cat_v AS SELECT a FROM cat_t;"
			     "ALTER TABLE cat_t DROP COLUMN c"),
	    OK);
	if (pg)
		assert_int_equal(
		    db_exec(s,
			"DROP TABLE IF EXISTS cat_p;"
			"CREATE TABLE cat_p (a INTEGER) "
			"PARTITION BY RANGE (a);"
			"DROP SCHEMA IF EXISTS " PG_SCHEMA "_other CASCADE;"
			"CREATE SCHEMA " PG_SCHEMA "_other;"
			"CREATE TABLE " PG_SCHEMA "_other.cat_x (a INTEGER)"),
		    OK);
	assert_int_equal(store_tx_begin(s, STORE_TX_READ, &tx), OK);
	assert_int_equal(has_table(tx, "cat_t"), 1);
	assert_int_equal(has_table(tx, "cat_i"), 0);
	assert_int_equal(has_table(tx, "cat_gone"), 0);
	assert_int_equal(has_table(tx, "cat_x"), 0);
	assert_int_equal(has_column(tx, "cat_t", "a"), 1);
	assert_int_equal(has_column(tx, "cat_t", "b"), 1);
	assert_int_equal(has_column(tx, "cat_t", "c"), 0);
	assert_int_equal(has_column(tx, "cat_t", "z"), 0);
	assert_int_equal(has_column(tx, "cat_gone", "a"), 0);
	assert_int_equal(has_column(tx, "cat_x", "a"), 0);
	if (pg) {
		assert_int_equal(has_table(tx, "cat_v"), 1);
		assert_int_equal(has_column(tx, "cat_v", "a"), 1);
		assert_int_equal(has_column(tx, "cat_t", "ctid"), 0);
		assert_int_equal(
		    has_column(tx, "cat_t", "........pg.dropped.3........"), 0);
		assert_int_equal(has_table(tx, "cat_p"), 1);
		assert_int_equal(has_column(tx, "cat_p", "a"), 1);
	}
	store_tx_rollback(tx);
	if (pg)
		assert_int_equal(
		    db_exec(s, "DROP SCHEMA " PG_SCHEMA "_other CASCADE"), OK);
	store_close(s);
}

/*
 * PG: a transaction's BEGIN (with its SET LOCAL) and a statement's
 * PREPARE go with the statement in one flight, and a read-only
 * transaction's COMMIT is not waited for, so a read of one statement
 * waits for the server once, a transaction that runs nothing not at
 * all; and what went in one flight still holds: the statement ran
 * inside the BEGIN (READ ONLY refuses a write, the custom plans are
 * on), a failed one aborts the transaction, a failed PREPARE is made
 * again next time, and the next transaction on the connection begins
 * after the read's COMMIT (it sees its own BEGIN's settings).
 */
static void
begin_goes_with_the_first_statement(void **state)
{
	struct backend	  *be = *state;
	struct store	  *s;
	struct store_stats a, b;
	struct tx	  *tx;
	struct stmt	  *st;

	if (be->dialect != STORE_POSTGRES)
		skip();
	s = db_open(state, 1, 2000);
	assert_int_equal(db_exec(s,
			     "DROP TABLE IF EXISTS bf;"
			     "CREATE TABLE bf (k BIGINT)"),
	    OK);

	/* First use on this connection: BEGIN, PREPARE, run: one wait;
	 * COMMIT sent, its answer read when the connection is next taken. */
	store_stats(s, &a);
	assert_int_equal(
	    store_tx_begin(s, STORE_TX_READ | STORE_TX_CUSTOM_PLANS, &tx), OK);
	st = store_prepare(tx,
	    "SELECT current_setting('plan_cache_mode'), "
	    "current_setting('transaction_read_only'), ?");
	store_bind_int64(st, 1, 7);
	assert_int_equal(store_step(st), STORE_ROW);
	assert_string_equal(store_col_text(st, 0), "force_custom_plan");
	assert_string_equal(store_col_text(st, 1), "on");
	assert_int_equal(store_col_int64(st, 2), 7);
	store_finalize(st);
	assert_int_equal(store_tx_commit(tx), OK);
	store_stats(s, &b);
	assert_int_equal(b.round_trips - a.round_trips, 1);

	/* Nothing run: nothing sent (counted from after the first begin,
	 * which may have waited for that COMMIT's answer). */
	assert_int_equal(store_tx_begin(s, STORE_TX_WRITE, &tx), OK);
	store_stats(s, &a);
	assert_int_equal(store_tx_commit(tx), OK);
	assert_int_equal(store_tx_begin(s, STORE_TX_READ, &tx), OK);
	store_tx_rollback(tx);
	store_stats(s, &b);
	assert_int_equal(b.round_trips - a.round_trips, 0);

	/* The next transaction is its own: READ WRITE, generic plans. */
	assert_int_equal(store_tx_begin(s, STORE_TX_WRITE, &tx), OK);
	st = store_prepare(tx,
	    "SELECT current_setting('plan_cache_mode'), "
	    "current_setting('transaction_read_only')");
	assert_int_equal(store_step(st), STORE_ROW);
	assert_string_equal(store_col_text(st, 0), "auto");
	assert_string_equal(store_col_text(st, 1), "off");
	store_finalize(st);
	assert_int_equal(store_tx_commit(tx), OK);

	/* READ ONLY came first: the write in the same flight is refused,
	 * and the transaction is spent. */
	assert_int_equal(store_tx_begin(s, STORE_TX_READ, &tx), OK);
	st = store_prepare(tx, "INSERT INTO bf (k) VALUES (1)");
	assert_int_equal(store_step(st), ERR_DB);
	store_finalize(st);
	assert_int_not_equal(store_tx_commit(tx), OK);
	assert_int_equal(db_count(s, "SELECT count(*) FROM bf"), 0);

	/* A PREPARE that fails is not taken as made. */
	assert_int_equal(store_tx_begin(s, STORE_TX_WRITE, &tx), OK);
	st = store_prepare(tx, "SELECT k FROM bf_later");
	assert_int_equal(store_step(st), ERR_DB);
	store_finalize(st);
	store_tx_rollback(tx);
	assert_int_equal(db_exec(s,
			     "CREATE TABLE bf_later (k BIGINT);"
			     "INSERT INTO bf_later VALUES (3)"),
	    OK);
	assert_int_equal(store_tx_begin(s, STORE_TX_WRITE, &tx), OK);
	st = store_prepare(tx, "SELECT k FROM bf_later");
	assert_int_equal(store_step(st), STORE_ROW);
	assert_int_equal(store_col_int64(st, 0), 3);
	store_finalize(st);
	assert_int_equal(store_tx_commit(tx), OK);
	assert_int_equal(db_exec(s, "DROP TABLE bf; DROP TABLE bf_later"), OK);
	store_close(s);
}

static void
statements_are_cached_and_can_be_open_together(void **state)
{
	struct store *s = db_open(state, 4, 2000);
	struct tx    *tx;
	struct stmt  *sel, *upd, *a, *b = NULL;
	int	      i, rows = 0;

	assert_int_equal(
	    db_exec(s,
		"DROP TABLE IF EXISTS c;"
		"CREATE TABLE c (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)"),
	    OK);
	assert_int_equal(store_tx_begin(s, STORE_TX_WRITE, &tx), OK);
	for (i = 1; i <= 20; i++) {
		a = store_prepare(tx, "INSERT INTO c (id, n) VALUES (?, 0)");
		if (i > 1)
			assert_ptr_equal(a, b); /* reused from the cache */
		b = a;
		store_bind_int64(a, 1, i);
		assert_int_equal(store_step(a), STORE_DONE);
		store_finalize(a);
	}
	/* Iterate a SELECT while updating the rows it walks. */
	sel = store_prepare(tx, "SELECT id FROM c ORDER BY id");
	while (store_step(sel) == STORE_ROW) {
		upd = store_prepare(tx, "UPDATE c SET n = n + ? WHERE id = ?");
		store_bind_int64(upd, 1, store_col_int64(sel, 0));
		store_bind_int64(upd, 2, store_col_int64(sel, 0));
		assert_int_equal(store_step(upd), STORE_DONE);
		assert_int_equal(store_changes(upd), 1);
		store_finalize(upd);
		rows++;
	}
	store_finalize(sel);
	assert_int_equal(rows, 20);

	/* The same SQL twice at once gets two handles. */
	a = store_prepare(tx, "SELECT n FROM c WHERE id = ?");
	b = store_prepare(tx, "SELECT n FROM c WHERE id = ?");
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	store_bind_int64(a, 1, 3);
	store_bind_int64(b, 1, 5);
	assert_int_equal(store_step(a), STORE_ROW);
	assert_int_equal(store_step(b), STORE_ROW);
	assert_int_equal(store_col_int64(a, 0), 3);
	assert_int_equal(store_col_int64(b, 0), 5);
	store_finalize(a);
	store_finalize(b);
	assert_int_equal(store_exec(tx,
			     "UPDATE c SET n = 0 WHERE id = 1;"
			     "UPDATE c SET n = 0 WHERE id = 2"),
	    OK);
	assert_int_equal(store_tx_commit(tx), OK);
	assert_int_equal(db_count(s, "SELECT sum(n) FROM c"), 210 - 3);
	/* Prepared in a rolled-back transaction, still usable after. */
	assert_int_equal(db_count(s, "SELECT count(*) FROM c"), 20);
	assert_int_equal(db_count(s, "SELECT count(*) FROM c"), 20);
	store_close(s);
}

static int
busy_then_ok(struct tx *tx, void *arg)
{
	int *calls = arg;

	return (++*calls <= 3 ? ERR_BUSY : OK);
}

static int
conflict_fn(struct tx *tx, void *arg)
{
	int *calls = arg;

	++*calls;
	return (ERR_CONFLICT);
}

struct contender {
	struct store *s;
	int	      kind;
	int	      calls;
	int	      failures;
};

static int
increment_fn(struct tx *tx, void *arg)
{
	struct contender *c = arg;
	struct stmt	 *st;
	int64_t		  n;
	int		  rc;

	c->calls++;
	st = store_prepare(tx, "SELECT n FROM counter WHERE id = 1");
	if ((rc = store_step(st)) != STORE_ROW) {
		store_finalize(st);
		return (rc == STORE_DONE ? ERR_DB : rc);
	}
	n = store_col_int64(st, 0);
	store_finalize(st);
	st = store_prepare(tx, "UPDATE counter SET n = ? WHERE id = 1");
	store_bind_int64(st, 1, n + 1);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

static void *
contend(void *arg)
{
	struct contender *c = arg;
	int		  i;

	for (i = 0; i < 50; i++)
		if (store_run(c->s, c->kind, increment_fn, c) != OK)
			c->failures++;
	return (NULL);
}

static void
store_run_retries_busy_transactions(void **state)
{
	struct backend	*be = *state;
	struct store	*s = db_open(state, 4, 5000);
	struct contender c[2];
	pthread_t	 t[2];
	int		 calls = 0, i;

	assert_int_equal(
	    store_run(s, STORE_TX_WRITE, busy_then_ok, &calls), OK);
	assert_int_equal(calls, 4);
	calls = 0;
	assert_int_equal(
	    store_run(s, STORE_TX_WRITE, conflict_fn, &calls), ERR_CONFLICT);
	assert_int_equal(calls, 1);

	assert_int_equal(
	    db_exec(s,
		"DROP TABLE IF EXISTS counter;"
		"CREATE TABLE counter (id BIGINT PRIMARY KEY, n BIGINT);"
		"INSERT INTO counter VALUES (1, 0)"),
	    OK);
	/*
	 * PostgreSQL: serialization failures, retried by store_run.
	 * SQLite: write transactions take this process's writer turn, so
	 * none is busy (a read transaction that would turn writer, which
	 * failed at once with SQLITE_BUSY, cannot write any more:
	 * reads_cannot_write); busy_then_ok above is the retry.
	 */
	for (i = 0; i < 2; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].s = s;
		c[i].kind = be->dialect == STORE_SQLITE
		    ? STORE_TX_WRITE
		    : STORE_TX_WRITE | STORE_TX_SERIALIZABLE;
		assert_int_equal(
		    pthread_create(&t[i], NULL, contend, &c[i]), 0);
	}
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	print_message("contention: %d + %d attempts for 100 commits\n",
	    c[0].calls, c[1].calls);
	assert_int_equal(c[0].failures + c[1].failures, 0);
	assert_int_equal(db_count(s, "SELECT n FROM counter"), 100);
	store_close(s);
}

/*
 * STORE_TX_SNAPSHOT: a commit by another connection between two reads of
 * one transaction is not seen by the second read. Without the flag,
 * PostgreSQL (READ COMMITTED) sees it, which is why reports ask for it.
 */
static void
snapshot_reads_see_one_state(void **state)
{
	struct backend *be = *state;
	struct store   *s = db_open(state, 3, 2000);
	struct tx      *tx;
	struct stmt    *st;
	int64_t		n[2];
	int i, kinds[2] = { STORE_TX_READ | STORE_TX_SNAPSHOT, STORE_TX_READ };

	assert_int_equal(db_exec(s,
			     "DROP TABLE IF EXISTS snap;"
			     "CREATE TABLE snap (id BIGINT PRIMARY KEY)"),
	    OK);
	for (i = 0; i < 2; i++) {
		assert_int_equal(store_tx_begin(s, kinds[i], &tx), OK);
		st = store_prepare(tx, "SELECT count(*) FROM snap");
		assert_int_equal(store_step(st), STORE_ROW);
		n[0] = store_col_int64(st, 0);
		store_finalize(st);
		assert_int_equal(db_exec(s,
				     i == 0 ? "INSERT INTO snap VALUES "
					      "(1)"
					    : "INSERT INTO snap VALUES (2)"),
		    OK);
		st = store_prepare(tx, "SELECT count(*) FROM snap");
		assert_int_equal(store_step(st), STORE_ROW);
		n[1] = store_col_int64(st, 0);
		store_finalize(st);
		store_tx_rollback(tx);
		if (i == 0)
			assert_int_equal(n[1], n[0]);
		else if (be->dialect == STORE_POSTGRES)
			assert_int_equal(n[1], n[0] + 1);
	}
	assert_int_equal(db_count(s, "SELECT count(*) FROM snap"), 2);
	store_close(s);
}

/* A thread that holds a transaction of s until told to end it. */
struct holder {
	struct store *s;
	int	      kind;
	int	      rc;
	atomic_int    began;
	atomic_int    end;
	pthread_t     t;
};

static void *
holder_main(void *arg)
{
	struct holder *h = arg;
	struct tx     *tx = NULL;

	h->rc = store_tx_begin(h->s, h->kind, &tx);
	h->began = 1;
	while (!h->end)
		usleep(1000);
	if (tx != NULL)
		store_tx_commit(tx);
	return (NULL);
}

static void
hold(struct holder *h, struct store *s, int kind)
{
	memset(h, 0, sizeof(*h));
	h->s = s;
	h->kind = kind;
	assert_int_equal(pthread_create(&h->t, NULL, holder_main, h), 0);
	while (!h->began)
		usleep(1000);
	assert_int_equal(h->rc, OK);
}

static void
release(struct holder *h)
{
	h->end = 1;
	pthread_join(h->t, NULL);
}

static void
pool_exhaustion_is_busy_after_the_timeout(void **state)
{
	struct store	  *s = db_open(state, 2, 200);
	struct holder	   h[2];
	struct tx	  *c = NULL;
	struct store_stats ss;
	int64_t		   t0, ms;

	/* Two other threads hold both connections: this one, holding none,
	 * waits the busy timeout for one. */
	hold(&h[0], s, STORE_TX_READ);
	hold(&h[1], s, STORE_TX_READ);
	t0 = time_mono_ns();
	assert_int_equal(store_tx_begin(s, STORE_TX_READ, &c), ERR_BUSY);
	ms = (time_mono_ns() - t0) / 1000000;
	assert_null(c);
	assert_true(ms >= 190);
	assert_true(ms < 2000);
	store_stats(s, &ss);
	assert_int_equal(ss.open, 2);
	assert_int_equal(ss.in_use, 2);
	assert_true(ss.waits >= 1);
	assert_int_equal(ss.nested, 0);
	release(&h[0]);
	assert_int_equal(store_tx_begin(s, STORE_TX_READ, &c), OK);
	assert_ptr_equal(store_tx_store(c), s);
	assert_int_equal(store_tx_dialect(c), store_dialect(s));
	store_tx_rollback(c);
	release(&h[1]);
	store_tx_rollback(NULL);
	store_stats(s, &ss);
	assert_int_equal(ss.in_use, 0);
	store_close(s);
}

/*
 * One connection a thread: a thread holding a transaction that asks for
 * another gets one only if it is free, and never waits (waiting there is
 * how a pool runs dry); each such ask is counted.
 */
static void
a_thread_holding_a_connection_never_waits_for_another(void **state)
{
	struct store	  *s = db_open(state, 2, 2000);
	struct holder	   h;
	struct tx	  *a = NULL, *b = NULL;
	struct store_stats ss;
	int64_t		   t0, ms;

	assert_int_equal(store_tx_begin(s, STORE_TX_READ, &a), OK);
	/* One is free: taken at once, but counted. */
	assert_int_equal(store_tx_begin(s, STORE_TX_READ, &b), OK);
	store_tx_rollback(b);
	store_stats(s, &ss);
	assert_int_equal(ss.nested, 1);
	/* None is free: refused at once, not after the 2 s timeout. */
	hold(&h, s, STORE_TX_READ);
	t0 = time_mono_ns();
	assert_int_equal(store_tx_begin(s, STORE_TX_WRITE, &b), ERR_BUSY);
	ms = (time_mono_ns() - t0) / 1000000;
	assert_null(b);
	assert_true(ms < 500);
	assert_int_equal(
	    store_run(s, STORE_TX_WRITE, busy_then_ok, &(int){ 0 }), ERR_BUSY);
	store_stats(s, &ss);
	assert_int_equal(ss.nested, 3);
	assert_int_equal(ss.in_use, 2);
	store_tx_rollback(a);
	release(&h);
	/* Holding nothing again, it waits as anyone does. */
	assert_int_equal(
	    store_run(s, STORE_TX_WRITE, busy_then_ok, &(int){ 0 }), OK);
	store_stats(s, &ss);
	assert_int_equal(ss.nested, 3);
	assert_int_equal(ss.in_use, 0);
	store_close(s);
}

/* A writer that records the order in which it got its turn. */
struct turn {
	struct store *s;
	atomic_int   *next;
	int	      order;
	int	      rc;
	pthread_t     t;
};

static void *
turn_main(void *arg)
{
	struct turn *w = arg;
	struct tx   *tx;

	if ((w->rc = store_tx_begin(w->s, STORE_TX_WRITE, &tx)) != OK)
		return (NULL);
	w->order = atomic_fetch_add(w->next, 1);
	w->rc = store_exec(tx, "INSERT INTO turns (n) VALUES (1)");
	if (w->rc == OK)
		w->rc = store_tx_commit(tx);
	else
		store_tx_rollback(tx);
	return (NULL);
}

/* Until s counts n writers that queued for their turn. */
static void
wait_writers(struct store *s, uint64_t n)
{
	struct store_stats ss;
	int		   i;

	for (i = 0; i < 5000; i++) {
		store_stats(s, &ss);
		if (ss.writer_waits >= n)
			return;
		usleep(1000);
	}
	fail_msg("%llu writers never queued", (unsigned long long)n);
}

/*
 * SQLite: the writers of one process take turns, first come first
 * served, each woken as the one before ends (not sleeping in SQLite's
 * busy handler); readers need no turn.
 */
static void
sqlite_writers_take_turns_in_order(void **state)
{
	struct backend	  *be = *state;
	struct store	  *s;
	struct turn	   w[4];
	struct tx	  *tx;
	struct store_stats ss;
	atomic_int	   next;
	int		   i;

	if (be->dialect != STORE_SQLITE)
		skip();
	s = db_open(state, 8, 3000);
	assert_int_equal(db_exec(s, "CREATE TABLE turns (n BIGINT)"), OK);
	atomic_init(&next, 1);
	assert_int_equal(store_tx_begin(s, STORE_TX_WRITE, &tx), OK);
	for (i = 0; i < 4; i++) {
		w[i].s = s;
		w[i].next = &next;
		w[i].order = 0;
		w[i].rc = -1;
		assert_int_equal(
		    pthread_create(&w[i].t, NULL, turn_main, &w[i]), 0);
		wait_writers(s, (uint64_t)i + 1);
	}
	usleep(20000);
	assert_int_equal(atomic_load(&next), 1);
	assert_int_equal(store_tx_commit(tx), OK);
	for (i = 0; i < 4; i++) {
		pthread_join(w[i].t, NULL);
		assert_int_equal(w[i].rc, OK);
		assert_int_equal(w[i].order, i + 1);
	}
	assert_int_equal(db_count(s, "SELECT count(*) FROM turns"), 4);
	store_stats(s, &ss);
	assert_int_equal(ss.writer_waits, 4);
	/* Each release woke the next in line only, not every waiter. */
	assert_int_equal(ss.writer_wakes, 4);
	assert_int_equal(ss.nested, 0);
	store_close(s);
}

/*
 * SQLite: a writer that waits past the busy timeout for its turn leaves
 * the queue (ERR_BUSY), and the one behind it gets the turn when it
 * comes. Another process (a store of its own on the file) does not queue
 * with this one's writers: it meets SQLite's busy timeout.
 */
static void
sqlite_a_writer_past_the_timeout_leaves_the_queue(void **state)
{
	struct backend	  *be = *state;
	struct store	  *s, *other;
	struct store_opts  o = { 0, 2, 200, 0 };
	struct holder	   h;
	struct turn	   w[2];
	struct tx	  *tx = NULL;
	struct store_stats ss;
	atomic_int	   next;
	const char	  *err;
	char		   url[600];
	int64_t		   t0, ms;
	int		   i;

	if (be->dialect != STORE_SQLITE)
		skip();
	s = db_open(state, 4, 1000);
	assert_int_equal(db_exec(s, "CREATE TABLE turns (n BIGINT)"), OK);
	atomic_init(&next, 1);
	hold(&h, s, STORE_TX_WRITE);
	for (i = 0; i < 2; i++) {
		w[i].s = s;
		w[i].next = &next;
		w[i].rc = -1;
		assert_int_equal(
		    pthread_create(&w[i].t, NULL, turn_main, &w[i]), 0);
		wait_writers(s, (uint64_t)i + 1);
		if (i == 0)
			usleep(500000); /* the second times out 500 ms later */
	}
	pthread_join(w[0].t, NULL);
	assert_int_equal(w[0].rc, ERR_BUSY);

	/* Another process, while this one's writer holds the database. */
	snprintf(url, sizeof(url), "sqlite:///%s/t%d.db", be->dir, be->seq);
	assert_int_equal(store_open(url, &o, &other, &err), OK);
	t0 = time_mono_ns();
	assert_int_equal(store_tx_begin(other, STORE_TX_WRITE, &tx), ERR_BUSY);
	ms = (time_mono_ns() - t0) / 1000000;
	assert_null(tx);
	assert_true(ms >= 150);
	store_stats(other, &ss);
	assert_int_equal(ss.writer_waits, 0);
	store_close(other);

	release(&h);
	pthread_join(w[1].t, NULL);
	assert_int_equal(w[1].rc, OK);
	assert_int_equal(db_count(s, "SELECT count(*) FROM turns"), 1);
	/* The queue is empty again: the turn is given at once. */
	t0 = time_mono_ns();
	assert_int_equal(store_tx_begin(s, STORE_TX_WRITE, &tx), OK);
	assert_true((time_mono_ns() - t0) / 1000000 < 100);
	store_tx_rollback(tx);
	store_close(s);
}

/* A checkpoint on its own thread. */
struct checkpointer {
	struct store *s;
	atomic_int    done;
	int	      rc;
	pthread_t     t;
};

static void *
checkpoint_main(void *arg)
{
	struct checkpointer *c = arg;

	c->rc = store_checkpoint(c->s);
	c->done = 1;
	return (NULL);
}

/*
 * SQLite: a checkpoint (after an erasure) takes the writer turn as a
 * write transaction does: behind a writer that holds it, first come first
 * served with the writers queued after it, not past them into SQLite's
 * busy handler (which gives up after a second).
 */
static void
sqlite_a_checkpoint_waits_its_turn(void **state)
{
	struct backend	   *be = *state;
	struct store	   *s;
	struct holder	    h;
	struct checkpointer c;
	struct turn	    w;
	struct store_stats  ss;
	atomic_int	    next;

	if (be->dialect != STORE_SQLITE)
		skip();
	s = db_open(state, 4, 5000);
	assert_int_equal(db_exec(s, "CREATE TABLE turns (n BIGINT)"), OK);
	atomic_init(&next, 1);
	hold(&h, s, STORE_TX_WRITE);
	memset(&c, 0, sizeof(c));
	c.s = s;
	c.rc = -1;
	assert_int_equal(pthread_create(&c.t, NULL, checkpoint_main, &c), 0);
	wait_writers(s, 1); /* the checkpoint queued for the turn */
	w.s = s;
	w.next = &next;
	w.order = 0;
	w.rc = -1;
	assert_int_equal(pthread_create(&w.t, NULL, turn_main, &w), 0);
	wait_writers(s, 2);
	assert_int_equal(atomic_load(&c.done), 0);
	assert_int_equal(atomic_load(&next), 1);
	release(&h);
	pthread_join(c.t, NULL);
	pthread_join(w.t, NULL);
	assert_int_equal(c.rc, OK);
	assert_int_equal(w.rc, OK);
	assert_int_equal(db_count(s, "SELECT count(*) FROM turns"), 1);
	store_stats(s, &ss);
	assert_int_equal(ss.writer_waits, 2);
	assert_int_equal(ss.writer_wakes, 2);
	assert_int_equal(ss.in_use, 0);
	/* Nobody holds the turn once both are done. */
	hold(&h, s, STORE_TX_WRITE);
	release(&h);
	store_stats(s, &ss);
	assert_int_equal(ss.writer_waits, 2);
	store_close(s);
}

struct writer {
	struct store *s;
	atomic_int    stop;
	atomic_int    written;
};

static int
write_one(struct tx *tx, void *arg)
{
	struct writer *w = arg;
	struct stmt   *st;
	int	       rc;

	st = store_prepare(tx, "INSERT INTO b (id, v) VALUES (?, 'later')");
	store_bind_int64(st, 1, 100000 + w->written);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

static void *
writer_main(void *arg)
{
	struct writer *w = arg;

	while (!w->stop)
		if (store_run(w->s, STORE_TX_WRITE, write_one, w) == OK)
			w->written++;
	return (NULL);
}

static void
backup_copies_while_others_write(void **state)
{
	struct backend	 *be = *state;
	struct store	 *s = db_open(state, 4, 5000), *copy;
	struct store_opts o = { 0, 1, 1000, 0 };
	struct writer	  w;
	pthread_t	  t;
	const char	 *err;
	char		  path[600], url[700];
	int		  i;

	if (be->dialect != STORE_SQLITE) {
		assert_int_equal(store_backup(s, "/tmp/nope.db"), ERR_INVALID);
		store_close(s);
		return;
	}
	assert_int_equal(db_exec(s,
			     "CREATE TABLE b (id BIGINT PRIMARY KEY, "
			     "v TEXT NOT NULL)"),
	    OK);
	for (i = 0; i < 20; i++) {
		snprintf(url, sizeof(url),
		    "WITH RECURSIVE r(x) AS (SELECT 1 "
		    "UNION ALL SELECT x + 1 FROM r WHERE x < 100) "
		    "INSERT INTO b SELECT x + %d, 'row' FROM r",
		    i * 100);
		assert_int_equal(db_exec(s, url), OK);
	}
	w.s = s;
	atomic_init(&w.stop, 0);
	atomic_init(&w.written, 0);
	assert_int_equal(pthread_create(&t, NULL, writer_main, &w), 0);
	while (w.written < 5)
		usleep(1000);
	snprintf(path, sizeof(path), "%s/backup.db", be->dir);
	assert_int_equal(store_backup(s, path), OK);
	usleep(20000);
	w.stop = 1;
	pthread_join(t, NULL);
	assert_true(w.written > 5);

	snprintf(url, sizeof(url), "sqlite:///%s", path);
	assert_int_equal(store_open(url, &o, &copy, &err), OK);
	assert_int_equal(
	    db_count(copy, "SELECT count(*) FROM b WHERE v = 'row'"), 2000);
	assert_true(db_count(copy, "SELECT count(*) FROM b") >= 2005);
	assert_int_equal(
	    db_count(copy,
		"SELECT count(*) FROM "
		"pragma_integrity_check WHERE integrity_check = 'ok'"),
	    1);
	store_close(copy);
	snprintf(path, sizeof(path), "%s/backup.db.tmp", be->dir);
	assert_int_not_equal(access(path, F_OK), 0);
	store_close(s);
}

static void
broken_connections_are_replaced(void **state)
{
	struct backend *be = *state;
	struct store   *s, *killer;
	int64_t		pid;
	char		sql[128];

	if (be->dialect != STORE_POSTGRES)
		skip();
	s = db_open(state, 1, 2000);
	killer = db_open(state, 1, 2000);
	pid = db_count(s, "SELECT pg_backend_pid()");
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%lld)",
	    (long long)pid);
	assert_int_equal(db_count(killer, sql), 1);
	usleep(100000);
	/* The first use may fail; the connection is then replaced. */
	(void)store_ping(s);
	assert_int_equal(store_ping(s), OK);
	assert_true(db_count(s, "SELECT pg_backend_pid()") != pid);
	store_close(killer);
	store_close(s);
}

/*
 * A connection that cannot be had (its server gone, a new one refused)
 * is a failed statement to the caller, ERR_DB, and the server lost to
 * the thread (the request answers 503, store_lost_take); never
 * ERR_UNAVAILABLE, which callers read as a pending migration: the
 * family expiry job took it for 0037 pending and skipped its night
 * (OK), a role PUT said MIGRATIONS_PENDING. Here the database refuses
 * connections (ALLOW_CONNECTIONS false) and its one is ended.
 */
/* sql outside a transaction block (CREATE DATABASE): an autocommit
 * transaction sends no BEGIN. */
static int
db_exec_alone(struct store *s, const char *sql)
{
	struct tx *tx;
	int	   rc;

	if ((rc = store_tx_begin(
		 s, STORE_TX_READ | STORE_TX_AUTOCOMMIT, &tx)) != OK)
		return (rc);
	rc = store_exec(tx, sql);
	store_tx_rollback(tx);
	return (rc);
}

static void
a_connection_not_had_is_a_failed_statement(void **state)
{
	struct backend	 *be = *state;
	struct store_opts o = { 1, 1, 2000, 0 };
	struct store	 *admin, *s;
	struct tx	 *tx = NULL;
	struct job	  job;
	const char	 *base = getenv("CAREBASE_TEST_PG_URL"), *err, *at, *q;
	char		  url[600], sql[200], why[JOB_ERR_LEN] = "", db[64];
	int64_t		  pid;
	int		  i;

	if (be->dialect != STORE_POSTGRES)
		skip();
	/* base with its database named carebase_unit_gone_<pid>: this
	 * process's own, so runs at once do not drop each other's. */
	snprintf(db, sizeof(db), "carebase_unit_gone_%ld", (long)getpid());
	at = strchr(strstr(base, "://") + 3, '/');
	assert_non_null(at);
	q = strchr(at, '?');
	snprintf(url, sizeof(url), "%.*s/%s%s", (int)(at - base), base, db,
	    q != NULL ? q : "");
	admin = db_open(state, 1, 2000);
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", db);
	(void)db_exec_alone(admin, sql);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
	assert_int_equal(db_exec_alone(admin, sql), OK);
	assert_int_equal(store_open(url, &o, &s, &err), OK);
	pid = db_count(s, "SELECT pg_backend_pid()");
	snprintf(
	    sql, sizeof(sql), "ALTER DATABASE %s ALLOW_CONNECTIONS false", db);
	assert_int_equal(db_exec(admin, sql), OK);
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%lld)",
	    (long long)pid);
	assert_int_equal(db_count(admin, sql), 1);
	/* Gone when the server says so, not after a guessed sleep. */
	snprintf(sql, sizeof(sql),
	    "SELECT count(*) FROM pg_stat_activity WHERE pid = %lld",
	    (long long)pid);
	for (i = 0; i < 500 && db_count(admin, sql) != 0; i++)
		usleep(10000);
	assert_int_equal(db_count(admin, sql), 0);
	/* The first use finds it gone (the pooled one is closed). */
	(void)store_ping(s);
	(void)store_lost_take();
	assert_int_equal(store_tx_begin(s, STORE_TX_READ, &tx), ERR_DB);
	assert_null(tx);
	assert_int_equal(store_lost_take(), STORE_LOST_WAIT);
	/* The nightly job fails (retried), it does not skip the night. */
	memset(&job, 0, sizeof(job));
	assert_int_not_equal(people_family_expire_job(s, &job, why), OK);
	assert_non_null(strstr(why, "people.family_expire"));
	store_close(s);
	snprintf(sql, sizeof(sql), "DROP DATABASE %s", db);
	assert_int_equal(db_exec_alone(admin, sql), OK);
	store_close(admin);
}

/*
 * The statement_timeout a connection gets (pg_session): 6/7 of
 * db_wait_timeout_ms below 35 s, so the server cancels a slow statement
 * before carebase's wait runs out; 30 s from 35 s up.
 */
static void
statement_timeout_stays_below_the_wait(void **state)
{
	(void)state;
	assert_int_equal(pg_statement_timeout(100), 86);
	assert_int_equal(pg_statement_timeout(34986), 29988);
	assert_int_equal(pg_statement_timeout(34999), 30000);
	assert_int_equal(pg_statement_timeout(35000), 30000);
	assert_int_equal(pg_statement_timeout(3600000), 30000);
	assert_true(pg_statement_timeout(1) >= 1);
}

/* ---- groups ---- */

/* ---- after commit ---- */

static char	  after_seen[16][64];
static atomic_int after_n;

static void
after_note(const char *key)
{
	int i = atomic_fetch_add(&after_n, 1);

	if (i < 16)
		strlcpy_cb(after_seen[i], key, sizeof(after_seen[i]));
}

static void
after_commit_runs_only_once_committed(void **state)
{
	struct store *s = db_open(state, 2, 2000);
	struct tx    *tx;
	char	      key[8];
	int	      i;

	/* Rolled back: nothing. */
	atomic_store(&after_n, 0);
	assert_int_equal(store_tx_begin(s, STORE_TX_WRITE, &tx), OK);
	store_tx_after_commit(tx, after_note, "gone");
	store_tx_rollback(tx);
	assert_int_equal(atomic_load(&after_n), 0);
	/* Committed: each key once, in order, after the commit. */
	assert_int_equal(store_tx_begin(s, STORE_TX_WRITE, &tx), OK);
	store_tx_after_commit(tx, after_note, "a");
	store_tx_after_commit(tx, after_note, "b");
	store_tx_after_commit(tx, after_note, "a");
	assert_int_equal(atomic_load(&after_n), 0);
	assert_int_equal(store_tx_commit(tx), OK);
	assert_int_equal(atomic_load(&after_n), 2);
	assert_string_equal(after_seen[0], "a");
	assert_string_equal(after_seen[1], "b");
	/* The connection's next transaction starts with none. */
	atomic_store(&after_n, 0);
	assert_int_equal(store_tx_begin(s, STORE_TX_READ, &tx), OK);
	assert_int_equal(store_tx_commit(tx), OK);
	assert_int_equal(atomic_load(&after_n), 0);
	/* Past the bound, one stands for all (""). */
	assert_int_equal(store_tx_begin(s, STORE_TX_WRITE, &tx), OK);
	for (i = 0; i < 12; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		store_tx_after_commit(tx, after_note, key);
	}
	assert_int_equal(store_tx_commit(tx), OK);
	assert_int_equal(atomic_load(&after_n), 8);
	assert_string_equal(after_seen[0], "");
	/* A commit that fails runs nothing. */
	atomic_store(&after_n, 0);
	assert_int_equal(store_tx_begin(s, STORE_TX_WRITE, &tx), OK);
	store_tx_after_commit(tx, after_note, "failed");
	assert_int_not_equal(store_exec(tx, "SELECT * FROM no_such_table"), OK);
	assert_int_not_equal(store_tx_commit(tx), OK);
	assert_int_equal(atomic_load(&after_n), 0);
	store_close(s);
}

/* ---- LISTEN ---- */

struct heard {
	atomic_int live;
	atomic_int notes;
	char	   last[64];
};

static void
heard_note(const char *payload, void *arg)
{
	struct heard *h = arg;

	strlcpy_cb(h->last, payload, sizeof(h->last));
	atomic_fetch_add(&h->notes, 1);
}

static void
heard_state(int live, void *arg)
{
	struct heard *h = arg;

	atomic_store(&h->live, live);
}

static int
wait_for(atomic_int *v, int want)
{
	int i;

	for (i = 0; i < 500 && atomic_load(v) < want; i++)
		usleep(10000);
	return (atomic_load(v) >= want);
}

static void
listeners_hear_notifications_sent_at_commit(void **state)
{
	struct store	      *s = db_open(state, 2, 2000);
	struct store_listener *l = NULL;
	struct heard	       h;
	struct tx	      *tx;

	memset(&h, 0, sizeof(h));
	if (store_dialect(s) != STORE_POSTGRES) {
		assert_int_equal(store_listen(s, "carebase_test", NULL, 300,
				     heard_note, heard_state, &h, &l),
		    ERR_UNAVAILABLE);
		assert_null(l);
		store_close(s);
		return;
	}
	assert_int_equal(store_listen(s, "carebase_test", NULL, 300, heard_note,
			     heard_state, &h, &l),
	    OK);
	assert_true(wait_for(&h.live, 1));
	/* Heartbeats every 300 ms come back (still live) and are not
	 * notifications of the channel. */
	usleep(1000000);
	assert_int_equal(atomic_load(&h.live), 1);
	assert_int_equal(atomic_load(&h.notes), 0);
	/* Rolled back: never sent. Committed: heard. */
	assert_int_equal(store_tx_begin(s, STORE_TX_WRITE, &tx), OK);
	assert_int_equal(
	    store_exec(tx, "SELECT pg_notify('carebase_test', 'no')"), OK);
	store_tx_rollback(tx);
	assert_int_equal(store_tx_begin(s, STORE_TX_WRITE, &tx), OK);
	assert_int_equal(
	    store_exec(tx, "SELECT pg_notify('carebase_test', 'user-1')"), OK);
	assert_int_equal(atomic_load(&h.notes), 0);
	assert_int_equal(store_tx_commit(tx), OK);
	assert_true(wait_for(&h.notes, 1));
	assert_int_equal(atomic_load(&h.notes), 1);
	assert_string_equal(h.last, "user-1");
	store_listen_stop(l);
	assert_int_equal(atomic_load(&h.live), 0);
	store_close(s);
}

static int
sqlite_setup(void **state)
{
	struct backend *be = calloc(1, sizeof(*be));

	be->dialect = STORE_SQLITE;
	snprintf(be->dir, sizeof(be->dir), "/tmp/carebase-store-XXXXXX");
	if (mkdtemp(be->dir) == NULL)
		return (-1);
	*state = be;
	return (0);
}

static int
pg_setup(void **state)
{
	struct backend	 *be = calloc(1, sizeof(*be));
	struct store_opts o = { 1, 1, 2000, 0 };
	struct store	 *s;
	const char	 *base = getenv("CAREBASE_TEST_PG_URL"), *err;

	be->dialect = STORE_POSTGRES;
	if (store_open(base, &o, &s, &err) != OK) {
		fprintf(stderr, "cannot open %s: %s\n", base, err);
		return (-1);
	}
	db_exec(s,
	    "DROP SCHEMA IF EXISTS " PG_SCHEMA " CASCADE;"
	    "CREATE SCHEMA " PG_SCHEMA);
	store_close(s);
	snprintf(be->url, sizeof(be->url),
	    "%s%soptions=-csearch_path%%3D" PG_SCHEMA, base,
	    strchr(base, '?') != NULL ? "&" : "?");
	*state = be;
	return (0);
}

static int
group_teardown(void **state)
{
	struct backend *be = *state;
	char		cmd[128];

	if (be->dialect == STORE_SQLITE) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", be->dir);
		if (system(cmd) != 0)
			return (-1);
	}
	free(be);
	return (0);
}

int
main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(
		    placeholders_skip_strings_comments_and_dollar_quotes),
		cmocka_unit_test(open_rejects_bad_urls_and_creates_folders),
		cmocka_unit_test(connect_defaults_yield_to_the_environment),
	};
	const struct CMUnitTest db[] = {
		cmocka_unit_test(sqlite_connections_use_wal_and_foreign_keys),
		cmocka_unit_test(constraint_violations_are_conflicts),
		cmocka_unit_test(values_round_trip_with_their_types),
		cmocka_unit_test(reads_cannot_write),
		cmocka_unit_test(custom_plans_are_never_generic),
		cmocka_unit_test(the_catalog_names_tables_and_columns),
		cmocka_unit_test(begin_goes_with_the_first_statement),
		cmocka_unit_test(
		    statements_are_cached_and_can_be_open_together),
		cmocka_unit_test(store_run_retries_busy_transactions),
		cmocka_unit_test(snapshot_reads_see_one_state),
		cmocka_unit_test(pool_exhaustion_is_busy_after_the_timeout),
		cmocka_unit_test(
		    a_thread_holding_a_connection_never_waits_for_another),
		cmocka_unit_test(sqlite_writers_take_turns_in_order),
		cmocka_unit_test(
		    sqlite_a_writer_past_the_timeout_leaves_the_queue),
		cmocka_unit_test(sqlite_a_checkpoint_waits_its_turn),
		cmocka_unit_test(backup_copies_while_others_write),
		cmocka_unit_test(broken_connections_are_replaced),
		cmocka_unit_test(a_connection_not_had_is_a_failed_statement),
		cmocka_unit_test(statement_timeout_stays_below_the_wait),
		cmocka_unit_test(after_commit_runs_only_once_committed),
		cmocka_unit_test(listeners_hear_notifications_sent_at_commit),
	};
	int rc;

	rc = cmocka_run_group_tests_name("store", pure, NULL, NULL);
	rc += cmocka_run_group_tests_name(
	    "store_sqlite", db, sqlite_setup, group_teardown);
	if (getenv("CAREBASE_TEST_PG_URL") != NULL)
		rc += cmocka_run_group_tests_name(
		    "store_postgres", db, pg_setup, group_teardown);
	else
		printf("store_postgres: skipped (set CAREBASE_TEST_PG_URL)\n");
	return (rc != 0);
}
