/*
 * The role permissions each process caches (resource/perms.c), on
 * SQLite: a grant written by someone else (another process, the command
 * line) is not seen within the cache's few seconds, unless its epoch
 * moved and a request's transaction read it (resource_perms_check), and
 * then at once. A change made here (resource_perms_changed) is seen here
 * at once too. Without the epoch's migration the cache keeps its TTL.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/log.h"
#include "resource/resource.h"
#include "resource/resource_int.h"
#include "store/migrate.h"
#include "store/store.h"

#include "testdb.h"

static char		dir[] = "/tmp/carebase-perms-XXXXXX";
static struct store    *db;
static struct principal member = { "0190a5c4-0000-7000-8000-0000000000aa",
	"instructor", "", "", 1 };

/* What an instructor (staff) may do with the audit log, as a request
 * would ask. */
static enum scope
audit_scope(void)
{
	return (resource_scope(db, &member, "audit_log", "read"));
}

/* A grant changed behind this process's back, epoch and all. */
static void
grant_elsewhere(int add, int bump)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "%s%s",
	    add ? "INSERT INTO role_permissions (role, permission) VALUES "
		  "('instructor', 'audit_log:read:all');"
		: "DELETE FROM role_permissions WHERE role = 'instructor' AND "
		  "permission = 'audit_log:read:all';",
	    bump ? "UPDATE role_permissions_epoch SET epoch = epoch + 1" : "");
	assert_int_equal(db_exec(db, sql), OK);
}

/* What the authenticator does in each request's transaction. */
static void
request_checks(void)
{
	struct tx *tx;

	assert_int_equal(store_tx_begin(db, STORE_TX_READ, &tx), OK);
	assert_int_equal(resource_perms_check(tx), OK);
	store_tx_rollback(tx);
}

static void
a_change_elsewhere_without_its_epoch_waits_for_the_ttl(void **state)
{
	(void)state;
	resource_perms_reset();
	assert_int_equal(audit_scope(), SCOPE_NONE);
	grant_elsewhere(1, 0);
	request_checks();
	assert_int_equal(audit_scope(), SCOPE_NONE); /* cached still */
	grant_elsewhere(0, 0);
}

static void
a_change_elsewhere_holds_at_the_next_request(void **state)
{
	(void)state;
	resource_perms_reset();
	assert_int_equal(audit_scope(), SCOPE_NONE);
	grant_elsewhere(1, 1);
	/* No request has read the epoch yet: the cache stands. */
	assert_int_equal(audit_scope(), SCOPE_NONE);
	request_checks();
	assert_int_equal(audit_scope(), SCOPE_ALL);
	grant_elsewhere(0, 1);
	request_checks();
	assert_int_equal(audit_scope(), SCOPE_NONE);
	/* Checked again with nothing changed: nothing reloads wrongly. */
	request_checks();
	assert_int_equal(audit_scope(), SCOPE_NONE);
}

static void
a_change_made_here_holds_here_at_once(void **state)
{
	struct tx *tx;

	(void)state;
	resource_perms_reset();
	assert_int_equal(audit_scope(), SCOPE_NONE);
	assert_int_equal(store_tx_begin(db, STORE_TX_WRITE, &tx), OK);
	assert_int_equal(store_exec(tx,
			     "INSERT INTO role_permissions (role, permission) "
			     "VALUES ('instructor', 'audit_log:read:all')"),
	    OK);
	assert_int_equal(resource_perms_changed(tx), OK);
	assert_int_equal(store_tx_commit(tx), OK);
	assert_int_equal(audit_scope(), SCOPE_ALL);
	assert_int_equal(db_count(db,
			     "SELECT epoch FROM role_permissions_epoch "
			     "WHERE id = 1"),
	    3);
	grant_elsewhere(0, 1);
}

static void
without_the_epoch_table_the_ttl_alone_applies(void **state)
{
	(void)state;
	/* Migrations pending: 0023 not applied, its table not there. */
	assert_int_equal(db_exec(db,
			     "DELETE FROM schema_migrations WHERE name = "
			     "'0023_roles_and_mail_log';"
			     "DROP TABLE role_permissions_epoch"),
	    OK);
	resource_perms_reset();
	assert_int_equal(audit_scope(), SCOPE_NONE);
	grant_elsewhere(1, 0);
	request_checks(); /* reads nothing, fails nothing */
	assert_int_equal(audit_scope(), SCOPE_NONE);
}

/* What a role may be granted: roles:* and users' role-giving grants by
 * the admin role only, :all by staff roles only, catalogues excepted. */
static void
grants_are_bounded_by_role(void **state)
{
	(void)state;
	assert_int_equal(
	    resource_perm_grantable("admin", 1, "roles:update:all"),
	    PERM_GRANTABLE);
	assert_int_equal(resource_perm_grantable("member", 0, "roles:read:all"),
	    PERM_ADMIN_ONLY);
	assert_int_equal(
	    resource_perm_grantable("therapist", 1, "users:update:all"),
	    PERM_ADMIN_ONLY);
	assert_int_equal(
	    resource_perm_grantable("instructor", 1, "users:create:all"),
	    PERM_ADMIN_ONLY);
	assert_int_equal(
	    resource_perm_grantable("instructor", 1, "audit_log:read:all"),
	    PERM_GRANTABLE);
	/* The console's operations (migration 0054). */
	assert_int_equal(
	    resource_perm_grantable("therapist", 1, "failed_jobs:retry:all"),
	    PERM_ADMIN_ONLY);
	assert_int_equal(resource_perm_grantable(
			     "instructor", 1, "webhook_inbox:replay:all"),
	    PERM_ADMIN_ONLY);
	assert_int_equal(
	    resource_perm_grantable("member", 0, "audit_log:read:all"),
	    PERM_STAFF_ONLY);
	assert_int_equal(resource_perm_grantable("member", 0, "forms:read:all"),
	    PERM_GRANTABLE);
	assert_int_equal(resource_perm_grantable("member", 0, "users:read:own"),
	    PERM_GRANTABLE);
	/* A member whose grant was written by hand gains nothing from it. */
	assert_int_equal(db_exec(db,
			     "INSERT INTO role_permissions (role, permission) "
			     "VALUES ('member', 'audit_log:read:all')"),
	    OK);
	resource_perms_reset();
	assert_int_equal(resource_scope(db,
			     &(struct principal){ "0190a5c4-0000-7000-8000-"
						  "0000000000ab",
				 "member", "", "", 0 },
			     "audit_log", "read"),
	    SCOPE_NONE);
	assert_int_equal(db_exec(db,
			     "DELETE FROM role_permissions WHERE role = "
			     "'member' AND permission = 'audit_log:read:all'"),
	    OK);
}

/* The audit log scope from the array as it is: no reload (db NULL). */
static enum scope
audit_scope_cached(void)
{
	return (resource_scope(NULL, &member, "audit_log", "read"));
}

static void *
revoke_and_check(void *arg)
{
	(void)arg;
	grant_elsewhere(0, 1);
	request_checks();
	return (NULL);
}

/*
 * Two loads side by side, finishing out of order: one in a transaction
 * that read the epoch before a grant was taken away, slower than one
 * that read it after. The older must not put the grant back.
 */
static void
an_older_load_does_not_replace_a_newer_one(void **state)
{
	struct tx   *older;
	struct stmt *st;
	pthread_t    t;

	(void)state;
	grant_elsewhere(1, 1);
	resource_perms_reset();
	request_checks();
	assert_int_equal(audit_scope(), SCOPE_ALL);
	/* A request's snapshot, taken with the grant in. */
	assert_int_equal(store_tx_begin(db, STORE_TX_READ, &older), OK);
	st = store_prepare(
	    older, "SELECT epoch FROM role_permissions_epoch WHERE id = 1");
	assert_int_equal(store_step(st), STORE_ROW);
	store_finalize(st);
	/* Taken away; a newer request (another thread) loads that. */
	assert_int_equal(pthread_create(&t, NULL, revoke_and_check, NULL), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(audit_scope_cached(), SCOPE_NONE);
	/* The slower load finishes last: kept out. */
	assert_int_equal(resource_perms_load_tx(older), ERR_CONFLICT);
	store_tx_rollback(older);
	assert_int_equal(audit_scope_cached(), SCOPE_NONE);
	request_checks();
	assert_int_equal(audit_scope(), SCOPE_NONE);
}

/* The epoch went back (a backup restored, 0023 undone and applied
 * again): the TTL's load, kept out at first, is taken all the same. */
static void
an_epoch_gone_back_is_followed_at_the_ttl(void **state)
{
	struct tx *tx;

	(void)state;
	resource_perms_reset();
	request_checks();
	assert_int_equal(audit_scope(), SCOPE_NONE);
	assert_true(db_count(db,
			"SELECT epoch FROM role_permissions_epoch WHERE "
			"id = 1") > 1);
	/* resource_perms_changed lets the next resource_scope reload (as
	 * the TTL would), the epoch then set back below the array's. */
	assert_int_equal(store_tx_begin(db, STORE_TX_WRITE, &tx), OK);
	assert_int_equal(resource_perms_changed(tx), OK);
	assert_int_equal(store_exec(tx,
			     "UPDATE role_permissions_epoch SET epoch = 1; "
			     "INSERT INTO role_permissions (role, permission) "
			     "VALUES ('instructor', 'audit_log:read:all')"),
	    OK);
	assert_int_equal(store_tx_commit(tx), OK);
	assert_int_equal(audit_scope(), SCOPE_ALL);
	/* And the epoch moves on from there as before. */
	grant_elsewhere(0, 1);
	request_checks();
	assert_int_equal(audit_scope(), SCOPE_NONE);
}

/* How many lines of what fn logs (to stderr) hold what. */
static int
logged(void (*fn)(void), const char *what)
{
	char  path[64], line[1024];
	FILE *f;
	int   fd, saved, n = 0;

	snprintf(path, sizeof(path), "%s/log", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	assert_non_null(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, what) != NULL;
	fclose(f);
	return (n);
}

static void
reload_twice(void)
{
	resource_perms_reset();
	(void)audit_scope();
	resource_perms_reset();
	(void)audit_scope();
}

static void
reload_at_a_new_epoch(void)
{
	grant_elsewhere(0, 1);
	request_checks();
	(void)audit_scope();
}

/* A grant that grants nothing is warned of once, not at every reload;
 * again when the grants change (a new epoch). */
static void
a_refused_grant_is_warned_of_once(void **state)
{
	(void)state;
	assert_int_equal(db_exec(db,
			     "INSERT INTO role_permissions (role, permission) "
			     "VALUES ('member', 'audit_log:read:all')"),
	    OK);
	log_set_level(LOG_WARN);
	assert_int_equal(logged(reload_twice, "event=perms_not_grantable"), 1);
	assert_int_equal(
	    logged(reload_at_a_new_epoch, "event=perms_not_grantable"), 1);
	log_set_level(LOG_ERROR);
	assert_int_equal(db_exec(db,
			     "DELETE FROM role_permissions WHERE role = "
			     "'member' AND permission = 'audit_log:read:all'"),
	    OK);
}

static int
setup(void **state)
{
	struct store_opts o = { 1, 2, 10000, 1 };
	const char	 *err;
	char		  url[128];
	int		  applied;

	(void)state;
	if (mkdtemp(dir) == NULL)
		return (-1);
	snprintf(url, sizeof(url), "sqlite:///%s/t.db", dir);
	if (store_open(url, &o, &db, &err) != OK ||
	    migrate_up(db, &applied) != OK)
		return (-1);
	/* The epochs below count from 0: migrations that change grants bump
	 * it (0055), as a running server must be told. */
	if (db_exec(db, "UPDATE role_permissions_epoch SET epoch = 0") != OK)
		return (-1);
	return (0);
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	store_close(db);
	resource_perms_reset();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return (system(cmd) != 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    a_change_elsewhere_without_its_epoch_waits_for_the_ttl),
		cmocka_unit_test(a_change_elsewhere_holds_at_the_next_request),
		cmocka_unit_test(a_change_made_here_holds_here_at_once),
		cmocka_unit_test(grants_are_bounded_by_role),
		cmocka_unit_test(an_older_load_does_not_replace_a_newer_one),
		cmocka_unit_test(an_epoch_gone_back_is_followed_at_the_ttl),
		cmocka_unit_test(a_refused_grant_is_warned_of_once),
		cmocka_unit_test(without_the_epoch_table_the_ttl_alone_applies),
	};

	log_set_level(LOG_ERROR);
	return (cmocka_run_group_tests_name("perms", tests, setup, teardown));
}
