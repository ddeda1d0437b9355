/*
 * inbox_replay's refusals before anything runs (src/ops/inbox.c): a body
 * kept truncated is WEBHOOK_BODY_TRUNCATED, and a replay with no system
 * key loaded is 503 SYSTEM_KEY_UNAVAILABLE, not the truncation it was
 * answered as. Neither is reachable over HTTP (serve loads the key before
 * it listens), hence here, over a webhook_inbox table of the columns the
 * replay reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/keyring.h"
#include "ops/inbox.h"
#include "ops/ops_int.h"
#include "store/store.h"
#include "testdb.h"

#define ROW_ID "01900000-0000-7000-8000-000000000001"

struct fixture {
	char	      dir[64];
	char	      url[128];
	struct store *db;
};

static int never_run(
    struct tx *, const char *, size_t, json_t *, struct inbox_result *);

static const struct inbox_source unit_source = { "unit", NULL, NULL, NULL,
	never_run };

static int
never_run(struct tx *tx, const char *body, size_t len, json_t *w,
    struct inbox_result *r)
{
	fail_msg("a refused replay ran its source");
	return (ERR_INTERNAL);
}

static int
setup(void **state)
{
	struct store_opts o = { 1, 2, 5000, 1 };
	struct fixture	 *fx;
	const char	 *emsg = NULL;

	fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/cb_inbox_XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->url, sizeof(fx->url), "sqlite:///%s/inbox.db", fx->dir);
	assert_int_equal(store_open(fx->url, &o, &fx->db, &emsg), OK);
	/* A signed row whose body was kept 10 bytes short (over the limit):
	 * 100 bytes received, 90 + the seal's overhead (41) stored. */
	assert_int_equal(db_exec(fx->db,
			     "CREATE TABLE webhook_inbox (id TEXT PRIMARY KEY, "
			     "source TEXT NOT NULL, signature_ok INTEGER NOT "
			     "NULL, body_bytes INTEGER NOT NULL, body BLOB, "
			     "outcome TEXT NOT NULL);"
			     "INSERT INTO webhook_inbox VALUES ('" ROW_ID
			     "', 'unit', 1, 100, zeroblob(90 + 41), "
			     "'failed')"),
	    OK);
	assert_int_equal(inbox_register(&unit_source), OK);
	*state = fx;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	char		path[128];

	keyring_wipe();
	store_close(fx->db);
	snprintf(path, sizeof(path), "%s/inbox.db", fx->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/inbox.db-wal", fx->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/inbox.db-shm", fx->dir);
	unlink(path);
	rmdir(fx->dir);
	free(fx);
	return (0);
}

static void
test_no_system_key(void **state)
{
	struct fixture	   *fx = *state;
	struct inbox_result r;
	char		    outcome[INBOX_OUTCOME_LEN];

	keyring_wipe();
	assert_int_equal(
	    inbox_replay(fx->db, NULL, NULL, ROW_ID, 0, outcome, &r),
	    ERR_UNAVAILABLE);
	assert_string_equal(r.code, "SYSTEM_KEY_UNAVAILABLE");
	assert_string_equal(outcome, "");
	inbox_result_reset(&r);
}

static void
test_truncated_body(void **state)
{
	struct fixture	   *fx = *state;
	struct inbox_result r;
	unsigned char	    master[MASTER_KEY_LEN];
	char		    outcome[INBOX_OUTCOME_LEN];

	memset(master, 7, sizeof(master));
	keyring_init(master);
	assert_int_equal(
	    inbox_replay(fx->db, NULL, NULL, ROW_ID, 0, outcome, &r),
	    ERR_CONFLICT);
	assert_string_equal(r.code, "WEBHOOK_BODY_TRUNCATED");
	assert_string_equal(outcome, "");
	inbox_result_reset(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_no_system_key, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_truncated_body, setup, teardown),
	};

	if (crypto_init() != OK)
		return (1);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
