/*
 * Unit tests for src/store/migrate.c: the embedded migrations up, status
 * and down, a failing migration leaving no trace, batches rolled back
 * newest first, and two migrators racing. On SQLite always; on
 * PostgreSQL when CAREBASE_TEST_PG_URL is set (in a private schema).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "store/migrate.h"
#include "store/store.h"
#include "testdb.h"

#define PG_SCHEMA "carebase_test_migrate"

struct backend {
	int  dialect;
	char dir[64];
	char url[512];
	int  seq;
};

static const struct migration good[] = {
	{ "0001_a",
	    "CREATE TABLE t_a (id BIGINT PRIMARY KEY);"
	    "INSERT INTO t_a VALUES (1)",
	    "INSERT INTO t_log (seq, name) SELECT count(*), 'a' FROM t_log;"
	    "DROP TABLE t_a" },
	{ "0002_b", "CREATE TABLE t_b (id BIGINT PRIMARY KEY)",
	    "INSERT INTO t_log (seq, name) SELECT count(*), 'b' FROM t_log;"
	    "DROP TABLE t_b" },
	{ "0003_c", "CREATE TABLE t_c (id BIGINT PRIMARY KEY)",
	    "INSERT INTO t_log (seq, name) SELECT count(*), 'c' FROM t_log;"
	    "DROP TABLE t_c" },
};

static const struct migration bad[] = {
	{ "0001_a", NULL, NULL }, /* filled from good[] */
	{ "0002_b", NULL, NULL },
	{ "0003_c",
	    "CREATE TABLE t_c (id BIGINT PRIMARY KEY);"
	    "INSERT INTO t_c VALUES (1);"
	    "INSERT INTO no_such_table VALUES (1)",
	    "DROP TABLE t_c" },
};

static struct store *db_open(void **);
static int	     db_exec(struct store *, const char *);
static int64_t	     db_count(struct store *, const char *);
static int	     table_exists(struct store *, const char *);

static struct store *
db_open(void **state)
{
	struct backend	 *be = *state;
	struct store_opts o = { 1, 4, 5000, 1 };
	struct store	 *s = NULL;
	const char	 *err;
	char		  url[600];

	if (be->dialect == STORE_SQLITE)
		snprintf(url, sizeof(url), "sqlite:///%s/m%d.db", be->dir,
		    ++be->seq);
	else
		snprintf(url, sizeof(url), "%s", be->url);
	assert_int_equal(store_open(url, &o, &s, &err), OK);
	return (s);
}

/* 1 if a SELECT from the table works (the table exists). */
static int
table_exists(struct store *s, const char *table)
{
	struct tx   *tx;
	struct stmt *st;
	char	     sql[128];
	int	     rc;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	assert_int_equal(store_tx_begin(s, STORE_TX_READ, &tx), OK);
	st = store_prepare(tx, sql);
	rc = store_step(st);
	store_finalize(st);
	store_tx_rollback(tx);
	return (rc == STORE_ROW);
}

static char *
status_text(struct store *s, const struct migration *list, size_t n)
{
	char  *text = NULL;
	size_t len = 0;
	FILE  *fp;

	assert_non_null(fp = open_memstream(&text, &len));
	if (list == NULL)
		assert_int_equal(migrate_status(s, fp), OK);
	else
		assert_int_equal(migrate_status_list(s, list, n, fp), OK);
	fclose(fp);
	return (text);
}

static void
embedded_migrations_are_found_and_sorted(void **state)
{
	const struct migration *m;
	size_t			n, i;

	m = migrations_for(STORE_SQLITE, &n);
	assert_true(n >= 1);
	assert_string_equal(m[0].name, "0001_foundation");
	for (i = 0; i < n; i++) {
		assert_non_null(m[i].up);
		assert_non_null(m[i].down);
		if (i > 0)
			assert_true(strcmp(m[i - 1].name, m[i].name) < 0);
	}
	assert_ptr_equal(migrations_for(STORE_SQLITE, &i), m);
	m = migrations_for(STORE_POSTGRES, &n);
	assert_true(n >= 1);
	assert_string_equal(m[0].name, "0001_foundation");
	assert_null(migrations_for(99, &n));
	assert_int_equal(n, 0);
}

static void
foundation_goes_up_and_down(void **state)
{
	struct store *s = db_open(state);
	size_t	      n;
	char	     *text;
	int	      applied, reverted;

	migrations_for(store_dialect(s), &n);
	/* Fresh (SQLite): no schema_migrations yet, nothing applied. */
	assert_int_equal(migrate_applied(s, "9999_none"), ERR_NOT_FOUND);
	/* Start clean in case a previous run left things (PostgreSQL). */
	while (migrate_down(s, &reverted) == OK && reverted > 0)
		;
	assert_int_equal(migrate_current(s), ERR_UNAVAILABLE);
	assert_int_equal(migrate_applied(s, "0001_foundation"), ERR_NOT_FOUND);
	text = status_text(s, NULL, 0);
	assert_non_null(strstr(text, "0001_foundation"));
	assert_non_null(strstr(text, "pending"));
	free(text);

	assert_int_equal(migrate_up(s, &applied), OK);
	assert_int_equal(applied, (int)n);
	assert_int_equal(migrate_current(s), OK);
	assert_int_equal(migrate_applied(s, "0001_foundation"), OK);
	assert_int_equal(migrate_applied(s, "0013_chat_identity"), OK);
	assert_int_equal(migrate_applied(s, "9999_none"), ERR_NOT_FOUND);
	assert_true(table_exists(s, "jobs"));
	assert_true(table_exists(s, "email_log"));
	assert_int_equal(
	    db_count(s, "SELECT max(batch) FROM schema_migrations"), 1);
	text = status_text(s, NULL, 0);
	assert_non_null(strstr(text, "0001_foundation"));
	assert_null(strstr(text, "pending"));
	assert_non_null(strstr(text, "Z\n")); /* ISO time */
	free(text);

	assert_int_equal(migrate_up(s, &applied), OK); /* nothing to do */
	assert_int_equal(applied, 0);

	assert_int_equal(migrate_down(s, &reverted), OK);
	assert_int_equal(reverted, (int)n);
	assert_false(table_exists(s, "jobs"));
	assert_int_equal(migrate_current(s), ERR_UNAVAILABLE);
	assert_int_equal(
	    migrate_applied(s, "0013_chat_identity"), ERR_NOT_FOUND);
	assert_int_equal(migrate_down(s, &reverted), OK);
	assert_int_equal(reverted, 0);
	store_close(s);
}

static void
failing_migration_leaves_no_trace(void **state)
{
	struct store	*s = db_open(state);
	struct migration list[3];
	char		*text;
	int		 applied, reverted;

	assert_int_equal(
	    db_exec(s,
		"DROP TABLE IF EXISTS schema_migrations;"
		"DROP TABLE IF EXISTS t_a; DROP TABLE IF EXISTS t_b;"
		"DROP TABLE IF EXISTS t_c; DROP TABLE IF EXISTS t_log;"
		"CREATE TABLE t_log (seq BIGINT, name TEXT)"),
	    OK);
	memcpy(list, bad, sizeof(list));
	list[0] = good[0];
	list[1] = good[1];
	assert_int_not_equal(migrate_up_list(s, list, 3, &applied), OK);
	assert_int_equal(applied, 2);
	assert_true(table_exists(s, "t_a"));
	assert_true(table_exists(s, "t_b"));
	assert_false(table_exists(s, "t_c"));
	assert_int_equal(
	    db_count(s, "SELECT count(*) FROM schema_migrations"), 2);
	assert_int_equal(migrate_current_list(s, list, 3), ERR_UNAVAILABLE);
	text = status_text(s, list, 3);
	assert_non_null(strstr(text, "0003_c"));
	assert_non_null(strstr(text, "pending"));
	free(text);

	/* Fixed, it goes up as batch 2 and comes down alone. */
	assert_int_equal(migrate_up_list(s, good, 3, &applied), OK);
	assert_int_equal(applied, 1);
	assert_int_equal(migrate_current_list(s, good, 3), OK);
	assert_int_equal(db_count(s,
			     "SELECT batch FROM schema_migrations "
			     "WHERE name = '0003_c'"),
	    2);
	assert_int_equal(migrate_down_list(s, good, 3, &reverted), OK);
	assert_int_equal(reverted, 1);
	assert_false(table_exists(s, "t_c"));
	assert_true(table_exists(s, "t_b"));

	/* Batch 1, newest first. */
	assert_int_equal(migrate_down_list(s, good, 3, &reverted), OK);
	assert_int_equal(reverted, 2);
	assert_false(table_exists(s, "t_a"));
	assert_int_equal(
	    db_count(s, "SELECT seq FROM t_log WHERE name = 'c'"), 0);
	assert_int_equal(
	    db_count(s, "SELECT seq FROM t_log WHERE name = 'b'"), 1);
	assert_int_equal(
	    db_count(s, "SELECT seq FROM t_log WHERE name = 'a'"), 2);

	/* A down migration that fails stops and keeps its row. */
	assert_int_equal(migrate_up_list(s, good, 1, &applied), OK);
	assert_int_equal(db_exec(s, "DROP TABLE t_log"), OK);
	assert_int_not_equal(migrate_down_list(s, good, 1, &reverted), OK);
	assert_int_equal(reverted, 0);
	assert_true(table_exists(s, "t_a"));
	assert_int_equal(migrate_current_list(s, good, 1), OK);
	store_close(s);
}

struct racer {
	struct store *s;
	int	      rc;
	int	      applied;
};

static void *
race(void *arg)
{
	struct racer *r = arg;

	r->rc = migrate_up_list(r->s, good, 3, &r->applied);
	return (NULL);
}

static void
racing_migrators_apply_each_once(void **state)
{
	struct backend *be = *state;
	struct racer	r[2];
	pthread_t	t[2];
	int		i;

	r[0].s = db_open(state);
	assert_int_equal(
	    db_exec(r[0].s,
		"DROP TABLE IF EXISTS "
		"schema_migrations; DROP TABLE IF EXISTS t_a;"
		"DROP TABLE IF EXISTS t_b; DROP TABLE IF EXISTS t_c"),
	    OK);
	/* Both on the same database, as two processes would be. */
	if (be->dialect == STORE_SQLITE)
		be->seq--;
	r[1].s = db_open(state);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(r[0].rc, OK);
	assert_int_equal(r[1].rc, OK);
	assert_int_equal(r[0].applied + r[1].applied, 3);
	assert_int_equal(
	    db_count(r[0].s, "SELECT count(*) FROM schema_migrations"), 3);
	store_close(r[0].s);
	store_close(r[1].s);
}

/*
 * Only a missing schema_migrations means "not migrated": one that cannot
 * be read (here a column gone; in service, a server gone silent) is a
 * failed read, ERR_DB (/readyz: DATABASE_UNREACHABLE), never "pending"
 * (before: a failed read then a good ping was ERR_UNAVAILABLE).
 */
static void
an_unreadable_ledger_is_no_pending_migration(void **state)
{
	struct store *s = db_open(state);

	assert_int_equal(
	    db_exec(s, "DROP TABLE IF EXISTS schema_migrations"), OK);
	assert_int_equal(migrate_current_list(s, good, 3), ERR_UNAVAILABLE);
	assert_int_equal(
	    db_exec(s, "CREATE TABLE schema_migrations (other TEXT)"), OK);
	assert_int_equal(migrate_current_list(s, good, 3), ERR_DB);
	assert_int_equal(db_exec(s, "DROP TABLE schema_migrations"), OK);
	store_close(s);
}

static int
sqlite_setup(void **state)
{
	struct backend *be = calloc(1, sizeof(*be));

	be->dialect = STORE_SQLITE;
	snprintf(be->dir, sizeof(be->dir), "/tmp/carebase-migrate-XXXXXX");
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
	if (store_open(base, &o, &s, &err) != OK)
		return (-1);
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

/* A resource field's .since is checked against the migration's SQL. */
static void
a_migration_is_read_for_the_columns_it_adds(void **state)
{
	(void)state;
	assert_true(migration_sql_adds_column(
	    "ALTER TABLE users ADD COLUMN time_zone TEXT;", "users",
	    "time_zone"));
	assert_true(migration_sql_adds_column(
	    "-- a comment: alter table x add y\n"
	    "alter  table\n IF EXISTS ONLY \"users\"\tadd column if not "
	    "exists \"time_zone\" text",
	    "users", "time_zone"));
	assert_true(migration_sql_adds_column(
	    "ALTER TABLE users ADD time_zone TEXT", "users", "time_zone"));
	/* Another table, another column, only in a comment, a prefix. */
	assert_false(migration_sql_adds_column(
	    "ALTER TABLE partners ADD COLUMN time_zone TEXT", "users",
	    "time_zone"));
	assert_false(migration_sql_adds_column(
	    "ALTER TABLE users ADD COLUMN time_zones TEXT", "users",
	    "time_zone"));
	assert_false(migration_sql_adds_column(
	    "-- ALTER TABLE users ADD COLUMN time_zone TEXT\nSELECT 1", "users",
	    "time_zone"));
	assert_false(migration_sql_adds_column(
	    "ALTER TABLE users DROP COLUMN time_zone", "users", "time_zone"));
	assert_false(migration_sql_adds_column("ALTER", "users", "time_zone"));
	assert_false(migration_sql_adds_column("", "users", "time_zone"));
	/* A quoted identifier is its text as written ("" one "): PostgreSQL
	 * tells "Users" from users. */
	assert_false(migration_sql_adds_column(
	    "ALTER TABLE \"Users\" ADD time_zone TEXT", "users", "time_zone"));
	assert_true(migration_sql_adds_column(
	    "ALTER TABLE \"users\" ADD \"time_zone\" TEXT", "users",
	    "time_zone"));
	assert_false(migration_sql_adds_column(
	    "ALTER TABLE \"users\"\"\" ADD time_zone TEXT", "users",
	    "time_zone"));
	assert_true(migration_sql_adds_column(
	    "ALTER TABLE \"a\"\"b\" ADD time_zone TEXT", "a\"b", "time_zone"));
}

/* What is not a statement's words: strings, comments, dollar bodies. */
static void
a_migration_is_read_past_strings_comments_and_bodies(void **state)
{
	(void)state;
	/* '...' strings ('' inside), E'...' with \' inside. */
	assert_false(migration_sql_adds_column(
	    "SELECT 'ALTER TABLE users ADD COLUMN time_zone TEXT'", "users",
	    "time_zone"));
	assert_false(migration_sql_adds_column(
	    "SELECT 'it''s ALTER TABLE users ADD time_zone x'", "users",
	    "time_zone"));
	assert_false(migration_sql_adds_column(
	    "SELECT E'it\\'s ALTER TABLE users ADD time_zone x'", "users",
	    "time_zone"));
	/* A string ends where it ends: the statement after it counts. */
	assert_true(migration_sql_adds_column(
	    "INSERT INTO t VALUES ('a''b', E'c\\'d');\n"
	    "ALTER TABLE users ADD COLUMN time_zone TEXT",
	    "users", "time_zone"));
	/* A default naming another ADD is not an action. */
	assert_false(migration_sql_adds_column(
	    "ALTER TABLE users ADD COLUMN note TEXT DEFAULT ', ADD time_zone'",
	    "users", "time_zone"));
	/* Comments: --, slash-star (nested, as PostgreSQL reads them). */
	assert_false(migration_sql_adds_column(
	    "/* ALTER TABLE users ADD COLUMN time_zone TEXT */ SELECT 1",
	    "users", "time_zone"));
	assert_false(migration_sql_adds_column(
	    "/* a /* b */ ALTER TABLE users ADD time_zone TEXT */", "users",
	    "time_zone"));
	assert_true(migration_sql_adds_column(
	    "ALTER /* x */ TABLE -- y\n users /* z */ ADD /**/ time_zone TEXT",
	    "users", "time_zone"));
	/* $$ and $tag$ bodies (a function's), not $1. */
	assert_false(migration_sql_adds_column(
	    "CREATE FUNCTION f() RETURNS void AS $$ ALTER TABLE users ADD "
	    "time_zone TEXT; $$ LANGUAGE sql",
	    "users", "time_zone"));
	assert_false(migration_sql_adds_column(
	    "DO $body$ BEGIN ALTER TABLE users ADD time_zone TEXT; END "
	    "$body$",
	    "users", "time_zone"));
	assert_true(migration_sql_adds_column(
	    "DO $a$ SELECT $$x$$ $a$; ALTER TABLE users ADD time_zone TEXT",
	    "users", "time_zone"));
	assert_true(migration_sql_adds_column(
	    "PREPARE p AS SELECT $1; ALTER TABLE users ADD time_zone TEXT",
	    "users", "time_zone"));
}

/* Tables named with their schema; every ADD of an ALTER with several. */
static void
a_migration_is_read_for_every_add_of_a_qualified_table(void **state)
{
	char col[128], sql[256]; /* 127 bytes: migrate.c's longest name */

	(void)state;
	assert_true(migration_sql_adds_column(
	    "ALTER TABLE public.users ADD COLUMN time_zone TEXT", "users",
	    "time_zone"));
	assert_true(migration_sql_adds_column(
	    "ALTER TABLE IF EXISTS ONLY \"main\" . \"users\" ADD time_zone "
	    "TEXT",
	    "users", "time_zone"));
	assert_false(migration_sql_adds_column(
	    "ALTER TABLE users.partners ADD COLUMN time_zone TEXT", "users",
	    "time_zone"));
	assert_true(migration_sql_adds_column(
	    "ALTER TABLE users ADD COLUMN a NUMERIC(10, 2) DEFAULT 0, "
	    "ADD CONSTRAINT c CHECK (a IN (1, 2)), DROP COLUMN z, "
	    "ADD b TEXT, ADD COLUMN IF NOT EXISTS time_zone TEXT;",
	    "users", "time_zone"));
	assert_true(migration_sql_adds_column(
	    "ALTER TABLE users ADD a TEXT, ADD time_zone TEXT", "users", "a"));
	/* ADD CONSTRAINT time_zone is no column; a statement ends at ;. */
	assert_false(migration_sql_adds_column(
	    "ALTER TABLE users ADD CONSTRAINT time_zone UNIQUE (x)", "users",
	    "time_zone"));
	assert_false(migration_sql_adds_column(
	    "ALTER TABLE users ADD a TEXT; SELECT 1, ADD time_zone", "users",
	    "time_zone"));
	assert_false(migration_sql_adds_column(
	    "ALTER TABLE partners ADD a TEXT, ADD time_zone TEXT", "users",
	    "time_zone"));
	/* The longest name the reader holds (127 bytes) is read whole; one
	 * a byte longer is none, not its first 127 bytes (which would name
	 * the 127-byte column). */
	memset(col, 'c', sizeof(col) - 1);
	col[sizeof(col) - 1] = '\0';
	snprintf(sql, sizeof(sql), "ALTER TABLE users ADD %s TEXT", col);
	assert_true(migration_sql_adds_column(sql, "users", col));
	snprintf(sql, sizeof(sql), "ALTER TABLE users ADD \"%s\" TEXT", col);
	assert_true(migration_sql_adds_column(sql, "users", col));
	snprintf(sql, sizeof(sql), "ALTER TABLE users ADD %sc TEXT", col);
	assert_false(migration_sql_adds_column(sql, "users", col));
	snprintf(sql, sizeof(sql), "ALTER TABLE users ADD \"%sc\" TEXT", col);
	assert_false(migration_sql_adds_column(sql, "users", col));
	/* The embedded ones: 0056 adds partner_access.deactivated_at. */
	assert_true(migration_adds_column(
	    STORE_POSTGRES, 56, "partner_access", "deactivated_at"));
	assert_true(migration_adds_column(
	    STORE_SQLITE, 56, "partner_access", "deactivated_at"));
}

static void
embedded_since_columns_are_found(void **state)
{
	(void)state;
	/* The embedded ones: 0053 adds users.time_zone on both. */
	assert_true(
	    migration_adds_column(STORE_SQLITE, 53, "users", "time_zone"));
	assert_true(migration_adds_column(
	    STORE_POSTGRES, 53, "partners", "brand_colour"));
	assert_false(
	    migration_adds_column(STORE_SQLITE, 52, "users", "time_zone"));
	assert_false(
	    migration_adds_column(STORE_POSTGRES, 53, "users", "brand_colour"));
	assert_false(
	    migration_adds_column(STORE_SQLITE, 9999, "users", "time_zone"));
}

int
main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(embedded_migrations_are_found_and_sorted),
		cmocka_unit_test(a_migration_is_read_for_the_columns_it_adds),
		cmocka_unit_test(
		    a_migration_is_read_past_strings_comments_and_bodies),
		cmocka_unit_test(
		    a_migration_is_read_for_every_add_of_a_qualified_table),
		cmocka_unit_test(embedded_since_columns_are_found),
	};
	const struct CMUnitTest db[] = {
		cmocka_unit_test(foundation_goes_up_and_down),
		cmocka_unit_test(failing_migration_leaves_no_trace),
		cmocka_unit_test(racing_migrators_apply_each_once),
		cmocka_unit_test(an_unreadable_ledger_is_no_pending_migration),
	};
	int rc;

	rc = cmocka_run_group_tests_name("migrate", pure, NULL, NULL);
	rc += cmocka_run_group_tests_name(
	    "migrate_sqlite", db, sqlite_setup, group_teardown);
	if (getenv("CAREBASE_TEST_PG_URL") != NULL)
		rc += cmocka_run_group_tests_name(
		    "migrate_postgres", db, pg_setup, group_teardown);
	else
		printf(
		    "migrate_postgres: skipped (set CAREBASE_TEST_PG_URL)\n");
	return (rc != 0);
}
