/*
 * Unit tests for src/resource/seal.c and src/resource/audit.c on a
 * migrated database: data keys created, loaded and destroyed; a sealed
 * field opens only in its own table, column and row; the audit chain
 * verifies, names a changed row and a missing row, and stays whole under
 * two appending threads. On SQLite always; on PostgreSQL when
 * CAREBASE_TEST_PG_URL is set (in a private schema).
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
#include <jansson.h>
#include <sodium.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/keyring.h"
#include "http/http.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "resource/seal.h"
#include "store/migrate.h"
#include "store/store.h"
#include "testdb.h"

#define PG_SCHEMA "carebase_test_seal_audit"
#define USER_A	  "0190a5c4-0000-7000-8000-00000000000a"
#define USER_B	  "0190a5c4-0000-7000-8000-00000000000b"

struct backend {
	int  dialect;
	char dir[64];
	char url[512];
	int  seq;
};

struct appender {
	struct store *s;
	int	      n;
	int	      rc;
};

static struct store *db_fresh(void **);
static int	     db_exec(struct store *, const char *);
static int	     user_insert(struct tx *, void *);
static int	     append_one(struct tx *, void *);
static void	    *append_many(void *);
static int	     verify(struct store *, int64_t *);

static struct store *
db_fresh(void **state)
{
	struct backend	 *be = *state;
	struct store_opts o = { 1, 4, 10000, 1 };
	struct store	 *s = NULL;
	const char	 *err;
	char		  url[600];
	int		  applied;

	if (be->dialect == STORE_SQLITE)
		snprintf(url, sizeof(url), "sqlite:///%s/s%d.db", be->dir,
		    ++be->seq);
	else
		snprintf(url, sizeof(url), "%s", be->url);
	assert_int_equal(store_open(url, &o, &s, &err), OK);
	if (be->dialect == STORE_POSTGRES)
		assert_int_equal(db_exec(s,
				     "DROP SCHEMA IF EXISTS " PG_SCHEMA
				     " CASCADE; CREATE SCHEMA " PG_SCHEMA),
		    OK);
	assert_int_equal(migrate_up(s, &applied), OK);
	assert_true(applied >= 2);
	return (s);
}

static int
user_insert(struct tx *tx, void *arg)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx,
	    "INSERT INTO users (id, created_at, updated_at) "
	    "VALUES (?, 0, 0)");
	store_bind_text(st, 1, arg);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc);
	return (seal_key_create(tx, arg));
}

static void
key_create_load_destroy(void **state)
{
	struct store  *s = db_fresh(state);
	struct tx     *tx;
	unsigned char  k1[SEAL_KEY_LEN], k2[SEAL_KEY_LEN], kb[SEAL_KEY_LEN];
	unsigned char *sealed = NULL;
	size_t	       n;
	char	      *plain = NULL;

	assert_int_equal(store_run(s, STORE_TX_WRITE, user_insert, USER_A), OK);
	assert_int_equal(store_run(s, STORE_TX_WRITE, user_insert, USER_B), OK);
	assert_int_equal(store_tx_begin(s, STORE_TX_WRITE, &tx), OK);
	assert_int_equal(seal_key_load(tx, USER_A, k1), OK);
	assert_int_equal(seal_key_load(tx, USER_A, k2), OK);
	assert_memory_equal(k1, k2, SEAL_KEY_LEN);
	assert_int_equal(seal_key_load(tx, USER_B, kb), OK);
	assert_memory_not_equal(k1, kb, SEAL_KEY_LEN);

	/* Opens only in its own table, column and row, under its own key. */
	assert_int_equal(
	    seal_field(k1, "users", "first_name", USER_A, "Ada", &sealed, &n),
	    OK);
	assert_int_equal(n, 3 + SEAL_OVERHEAD);
	assert_null(memmem(sealed, n, "Ada", 3));
	assert_int_equal(seal_open_field(k1, "users", "first_name", USER_A,
			     sealed, n, &plain),
	    OK);
	assert_string_equal(plain, "Ada");
	free(plain);
	assert_int_equal(seal_open_field(k1, "users", "last_name", USER_A,
			     sealed, n, &plain),
	    ERR_INVALID);
	assert_null(plain);
	assert_int_equal(seal_open_field(k1, "users", "first_name", USER_B,
			     sealed, n, &plain),
	    ERR_INVALID);
	assert_int_equal(seal_open_field(k1, "therapists", "first_name", USER_A,
			     sealed, n, &plain),
	    ERR_INVALID);
	assert_int_equal(seal_open_field(kb, "users", "first_name", USER_A,
			     sealed, n, &plain),
	    ERR_INVALID);
	sealed[n - 1] ^= 1;
	assert_int_equal(seal_open_field(k1, "users", "first_name", USER_A,
			     sealed, n, &plain),
	    ERR_INVALID);
	assert_int_equal(seal_open_field(k1, "users", "first_name", USER_A,
			     sealed, 5, &plain),
	    ERR_INVALID);
	free(sealed);

	/* Empty text seals and opens. */
	assert_int_equal(
	    seal_field(k1, "users", "phone", USER_A, "", &sealed, &n), OK);
	assert_int_equal(
	    seal_open_field(k1, "users", "phone", USER_A, sealed, n, &plain),
	    OK);
	assert_string_equal(plain, "");
	free(plain);
	free(sealed);

	/* Destroyed: gone for good, and destroying again is fine. */
	assert_int_equal(seal_key_destroy(tx, USER_A), OK);
	assert_int_equal(seal_key_load(tx, USER_A, k2), ERR_NOT_FOUND);
	assert_int_equal(seal_key_destroy(tx, USER_A), OK);
	assert_int_equal(seal_key_load(tx, USER_B, k2), OK);
	assert_int_equal(store_tx_commit(tx), OK);

	/* A wrapped key copied to another user's row does not open. */
	assert_int_equal(
	    db_exec(s,
		"INSERT INTO users (id, created_at, "
		"updated_at) VALUES ('" USER_A
		"', 0, 0) ON CONFLICT DO NOTHING;"
		"INSERT INTO user_keys (user_id, wrapped_key, created_at) "
		"SELECT '" USER_A "', wrapped_key, 0 FROM user_keys "
		"WHERE user_id = '" USER_B "'"),
	    OK);
	assert_int_equal(store_tx_begin(s, STORE_TX_READ, &tx), OK);
	assert_int_equal(seal_key_load(tx, USER_A, k2), ERR_INVALID);
	store_tx_rollback(tx);
	sodium_memzero(k1, sizeof(k1));
	sodium_memzero(kb, sizeof(kb));
	store_close(s);
}

static int
append_one(struct tx *tx, void *arg)
{
	struct principal who;
	json_t		*changes;
	int		*i = arg, rc;

	memset(&who, 0, sizeof(who));
	snprintf(who.audit_ref, sizeof(who.audit_ref), "ref-%d", *i % 7);
	snprintf(who.role, sizeof(who.role), "admin");
	changes =
	    json_pack("{s:[s,s],s:i}", "fields", "role", "is_active", "n", *i);
	rc = audit_append(tx, *i % 3 ? &who : NULL, NULL, "users.update",
	    "users", *i % 5 ? USER_A : NULL, changes);
	json_decref(changes);
	return (rc);
}

static int
verify(struct store *s, int64_t *bad)
{
	char  *text = NULL;
	size_t len = 0;
	FILE  *fp;
	int    rc;

	assert_non_null(fp = open_memstream(&text, &len));
	rc = audit_verify(s, fp, bad);
	fclose(fp);
	if (rc == OK)
		assert_non_null(strstr(text, "chain intact"));
	else
		assert_non_null(strstr(text, "chain broken at seq"));
	free(text);
	return (rc);
}

/* What an attacker with the database owner's rights would do first. */
static void
untrigger(struct store *s)
{
	if (store_dialect(s) == STORE_SQLITE) {
		assert_int_equal(
		    db_exec(s, "DROP TRIGGER audit_log_no_update"), OK);
		assert_int_equal(
		    db_exec(s, "DROP TRIGGER audit_log_no_delete"), OK);
	} else
		assert_int_equal(db_exec(s,
				     "DROP TRIGGER audit_log_append_only "
				     "ON audit_log"),
		    OK);
}

static void
audit_chain_verifies_and_names_tampering(void **state)
{
	struct store *s = db_fresh(state);
	int64_t	      bad = -1;
	int	      i;

	assert_int_equal(verify(s, &bad), OK); /* empty */
	for (i = 0; i < 50; i++)
		assert_int_equal(
		    store_run(s, STORE_TX_WRITE, append_one, &i), OK);
	assert_int_equal(verify(s, &bad), OK);
	assert_int_equal(bad, 0);
	/* The database itself refuses changes and deletions. */
	assert_int_not_equal(db_exec(s,
				 "UPDATE audit_log SET changes = "
				 "'{\"fields\":[\"role\"]}' WHERE seq = 17"),
	    OK);
	assert_int_not_equal(
	    db_exec(s, "DELETE FROM audit_log WHERE seq = 17"), OK);
	untrigger(s);
	assert_int_equal(db_exec(s,
			     "UPDATE audit_log SET changes = "
			     "'{\"fields\":[\"role\"]}' WHERE seq = 17"),
	    OK);
	assert_int_equal(verify(s, &bad), ERR_CONFLICT);
	assert_int_equal(bad, 17);
	store_close(s);
}

static void
audit_names_the_missing_row(void **state)
{
	struct store *s = db_fresh(state);
	int64_t	      bad = -1;
	int	      i;

	for (i = 0; i < 10; i++)
		assert_int_equal(
		    store_run(s, STORE_TX_WRITE, append_one, &i), OK);
	untrigger(s);
	assert_int_equal(db_exec(s, "DELETE FROM audit_log WHERE seq = 5"), OK);
	assert_int_equal(verify(s, &bad), ERR_CONFLICT);
	assert_int_equal(bad, 5);
	/* A rewritten link is caught too. */
	s = (store_close(s), db_fresh(state));
	for (i = 0; i < 3; i++)
		assert_int_equal(
		    store_run(s, STORE_TX_WRITE, append_one, &i), OK);
	untrigger(s);
	assert_int_equal(db_exec(s,
			     "UPDATE audit_log SET prev_hash = hash "
			     "WHERE seq = 3"),
	    OK);
	assert_int_equal(verify(s, &bad), ERR_CONFLICT);
	assert_int_equal(bad, 3);
	store_close(s);
}

static void *
append_many(void *arg)
{
	struct appender *a = arg;
	int		 i;

	for (i = 0; i < a->n && a->rc == OK; i++)
		a->rc = store_run(a->s, STORE_TX_WRITE, append_one, &i);
	return (NULL);
}

static void
audit_concurrent_appends_keep_the_chain(void **state)
{
	struct store   *s = db_fresh(state);
	struct appender a[2];
	pthread_t	t[2];
	struct tx      *tx;
	struct stmt    *st;
	int64_t		bad = -1;
	int		i;

	for (i = 0; i < 2; i++) {
		a[i].s = s;
		a[i].n = 100;
		a[i].rc = OK;
		assert_int_equal(
		    pthread_create(&t[i], NULL, append_many, &a[i]), 0);
	}
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(a[0].rc, OK);
	assert_int_equal(a[1].rc, OK);
	assert_int_equal(verify(s, &bad), OK);
	assert_int_equal(store_tx_begin(s, STORE_TX_READ, &tx), OK);
	st = store_prepare(tx, "SELECT count(*), max(seq) FROM audit_log");
	assert_int_equal(store_step(st), STORE_ROW);
	assert_int_equal(store_col_int64(st, 0), 200);
	assert_int_equal(store_col_int64(st, 1), 200);
	store_finalize(st);
	store_tx_rollback(tx);
	store_close(s);
}

static int
sqlite_setup(void **state)
{
	struct backend *be = calloc(1, sizeof(*be));

	be->dialect = STORE_SQLITE;
	snprintf(be->dir, sizeof(be->dir), "/tmp/carebase-seal-XXXXXX");
	if (mkdtemp(be->dir) == NULL)
		return (-1);
	*state = be;
	return (0);
}

static int
pg_setup(void **state)
{
	struct backend *be = calloc(1, sizeof(*be));
	const char     *base = getenv("CAREBASE_TEST_PG_URL");

	be->dialect = STORE_POSTGRES;
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
	const struct CMUnitTest db[] = {
		cmocka_unit_test(key_create_load_destroy),
		cmocka_unit_test(audit_chain_verifies_and_names_tampering),
		cmocka_unit_test(audit_names_the_missing_row),
		cmocka_unit_test(audit_concurrent_appends_keep_the_chain),
	};
	unsigned char master[MASTER_KEY_LEN];
	int	      rc;

	if (crypto_init() != OK)
		return (1);
	memset(master, 0x5a, sizeof(master));
	keyring_init(master);
	sodium_memzero(master, sizeof(master));
	rc = cmocka_run_group_tests_name(
	    "seal_audit_sqlite", db, sqlite_setup, group_teardown);
	if (getenv("CAREBASE_TEST_PG_URL") != NULL)
		rc += cmocka_run_group_tests_name(
		    "seal_audit_postgres", db, pg_setup, group_teardown);
	else
		printf("seal_audit_postgres: skipped (set "
		       "CAREBASE_TEST_PG_URL)\n");
	keyring_wipe();
	return (rc != 0);
}
