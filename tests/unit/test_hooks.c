/*
 * The hooks between modules (resource/hooks.h): change listeners run
 * deriving ones first, whatever the order they were registered in; the
 * people of each kind of change; the registration extras; and, on
 * SQLite, what the people module tells of a person (people/chat_profile.c):
 * the contact of a live, deleted, unknown and erased user, whether an
 * address is another live user's, the erasure lock, and its part of the
 * chat profile.
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
#include <sodium.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/keyring.h"
#include "core/log.h"
#include "core/util.h"
#include "module.h"
#include "people/people.h"
#include "people/people_int.h"
#include "resource/hooks.h"
#include "resource/resource.h"
#include "resource/seal.h"
#include "store/migrate.h"
#include "store/store.h"

#include "testdb.h"

#define PASSWORD "a-long-enough-pass-phrase"

static char	     dir[] = "/tmp/carebase-hooks-XXXXXX";
static struct store *db;
static char	     ada[UUID_STR_LEN], bob[UUID_STR_LEN];

/* Change listeners: each appends its letter and the kind to calls. */
static char calls[64];

static void
called(const char *who, enum change kind)
{
	size_t n = strlen(calls);

	if (n + 3 < sizeof(calls))
		snprintf(calls + n, sizeof(calls) - n, "%s%d", who, (int)kind);
}

static int
notify_a(struct tx *tx, enum change kind, const char *id)
{
	(void)tx;
	(void)id;
	called("N", kind);
	return (OK);
}

static int
derive_b(struct tx *tx, enum change kind, const char *id)
{
	(void)tx;
	/* A deriving listener may tell of changes of its own. */
	called("D", kind);
	if (kind == CHANGE_ACCESS)
		return (hooks_changed(NULL, CHANGE_PERSON, id));
	return (OK);
}

static void
deriving_listeners_run_first(void **state)
{
	(void)state;
	/* The notifying one registered first, as a module list may have it. */
	assert_int_equal(hooks_change_listen(notify_a, CHANGE_NOTIFY), OK);
	assert_int_equal(hooks_change_listen(derive_b, CHANGE_DERIVE), OK);
	assert_int_equal(
	    hooks_change_listen(notify_a, CHANGE_DERIVE), ERR_CONFLICT);
	assert_int_equal(
	    hooks_change_listen(derive_b, (enum change_stage)9), ERR_INVALID);

	calls[0] = '\0';
	assert_int_equal(hooks_changed(NULL, CHANGE_PARTNER, "p"), OK);
	assert_string_equal(calls, "D2N2");
	/* Nested: the deriving listener's own change is told in full
	 * (derive, then notify) before the first change's notifying one. */
	calls[0] = '\0';
	assert_int_equal(hooks_changed(NULL, CHANGE_ACCESS, "u"), OK);
	assert_string_equal(calls, "D3D1N1N3");
	calls[0] = '\0';
	assert_int_equal(hooks_changed(NULL, CHANGE_PERSON, NULL), OK);
	assert_string_equal(calls, "");
}

static int
two_members(struct tx *tx, const char *id, json_t *user_ids)
{
	(void)tx;
	(void)id;
	json_array_append_new(user_ids, json_string("m1"));
	json_array_append_new(user_ids, json_string("m2"));
	return (OK);
}

static void
members_of_each_kind(void **state)
{
	json_t *ids = json_array();

	(void)state;
	assert_int_equal(
	    hooks_members_register(CHANGE_ACCESS, two_members), ERR_INVALID);
	assert_int_equal(hooks_members(NULL, CHANGE_PARTNER, "p", ids), OK);
	assert_int_equal(json_array_size(ids), 0); /* none registered */
	assert_int_equal(
	    hooks_members_register(CHANGE_PARTNER, two_members), OK);
	assert_int_equal(hooks_members(NULL, CHANGE_ACCESS, "u", ids), OK);
	assert_int_equal(hooks_members(NULL, CHANGE_PERSON, "v", ids), OK);
	assert_int_equal(
	    hooks_members(NULL, CHANGE_PARTNER_GRANTS, "p", ids), OK);
	assert_int_equal(json_array_size(ids), 4);
	assert_string_equal(json_string_value(json_array_get(ids, 0)), "u");
	assert_string_equal(json_string_value(json_array_get(ids, 1)), "v");
	assert_string_equal(json_string_value(json_array_get(ids, 2)), "m1");
	json_decref(ids);
}

/* Chat access: some part grants it (parts without grants say nothing). */
static int
adds_nothing(struct tx *tx, const char *user_id, json_t *profile)
{
	(void)tx;
	(void)user_id;
	(void)profile;
	return (OK);
}

static int
grants_chatty(struct tx *tx, const char *user_id, int *granted)
{
	(void)tx;
	if (strcmp(user_id, "broken") == 0)
		return (ERR_DB);
	if (strcmp(user_id, "chatty") == 0)
		*granted = 1;
	return (OK);
}

static void
chat_access_is_any_parts(void **state)
{
	static const struct profile_part silent = { "silent", adds_nothing,
		NULL };
	static const struct profile_part grantor = { "grantor", adds_nothing,
		grants_chatty };
	int				 granted = 1;

	(void)state;
	assert_int_equal(hooks_profile_granted(NULL, "chatty", &granted), OK);
	assert_int_equal(granted, 0); /* no part: nobody */
	assert_int_equal(hooks_profile_register(&silent), OK);
	assert_int_equal(hooks_profile_register(&grantor), OK);
	assert_int_equal(hooks_profile_granted(NULL, "quiet", &granted), OK);
	assert_int_equal(granted, 0);
	assert_int_equal(hooks_profile_granted(NULL, "chatty", &granted), OK);
	assert_int_equal(granted, 1);
	assert_int_equal(
	    hooks_profile_granted(NULL, "broken", &granted), ERR_DB);
}

static const char *const extra_members[] = { "partner_access_code", NULL };

static int
extra_check(struct request *req, void **st)
{
	(void)req;
	(void)st;
	return (OK);
}

static int
extra_apply(struct tx *tx, struct request *req, const char *id, void *st)
{
	(void)tx;
	(void)req;
	(void)id;
	(void)st;
	return (OK);
}

static void
registration_extras(void **state)
{
	static const struct registration_hook h = { extra_members, extra_check,
		extra_apply };

	(void)state;
	assert_null(hooks_registration());
	hooks_registration_set(&h);
	assert_ptr_equal(hooks_registration(), &h);
	hooks_registration_set(NULL);
	assert_null(hooks_registration());
}

static void
no_person_hooks_is_unavailable(void **state)
{
	struct person_contact c;
	int		      held = 1;

	(void)state;
	/* setup has not run people_profile_init for this group. */
	assert_int_equal(hooks_contact(NULL, ada, 0, &c), ERR_UNAVAILABLE);
	assert_null(c.email);
	assert_int_equal(
	    hooks_address_held(NULL, "a@x.test", ada, &held), ERR_UNAVAILABLE);
	assert_int_equal(held, 0);
	assert_int_equal(hooks_person_lock(NULL, ada), ERR_UNAVAILABLE);
}

/* People's answers, on SQLite */

struct ask {
	const char	     *user_id;
	int		      deleted_too;
	struct person_contact c;
	const char	     *email;
	int		      held;
	json_t		     *profile;
};

static int
contact_tx(struct tx *tx, void *arg)
{
	struct ask *a = arg;

	hooks_contact_clear(&a->c);
	return (hooks_contact(tx, a->user_id, a->deleted_too, &a->c));
}

static int
held_tx(struct tx *tx, void *arg)
{
	struct ask *a = arg;

	return (hooks_address_held(tx, a->email, a->user_id, &a->held));
}

static int
profile_tx(struct tx *tx, void *arg)
{
	struct ask *a = arg;

	json_object_clear(a->profile);
	return (hooks_profile_build(tx, a->user_id, a->profile));
}

static int
ask_contact(const char *user_id, int deleted_too, struct ask *a)
{
	hooks_contact_clear(&a->c);
	a->user_id = user_id;
	a->deleted_too = deleted_too;
	return (store_run(db, STORE_TX_READ, contact_tx, a));
}

static int
ask_held(const char *email, const char *user_id)
{
	struct ask a;

	memset(&a, 0, sizeof(a));
	a.email = email;
	a.user_id = user_id;
	assert_int_equal(store_run(db, STORE_TX_READ, held_tx, &a), OK);
	return (a.held);
}

static void
contact_of_a_live_user(void **state)
{
	struct ask a;

	(void)state;
	memset(&a, 0, sizeof(a));
	assert_int_equal(ask_contact(ada, 0, &a), OK);
	assert_int_equal(a.c.deleted, 0);
	assert_string_equal(a.c.email, "ada@example.test");
	assert_string_equal(a.c.first_name, "Ada");
	assert_int_equal(ask_contact(bob, 0, &a), OK);
	assert_string_equal(a.c.email, "bob@example.test");
	assert_null(a.c.first_name); /* none given */
	assert_int_equal(
	    ask_contact("0190a5c4-0000-7000-8000-000000000999", 0, &a),
	    ERR_NOT_FOUND);
	assert_null(a.c.email);
	hooks_contact_clear(&a.c);
}

static void
profile_part_of_people(void **state)
{
	struct ask a;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.user_id = ada;
	a.profile = json_object();
	assert_int_equal(store_run(db, STORE_TX_READ, profile_tx, &a), OK);
	assert_true(json_is_string(json_object_get(a.profile, "signed_up_at")));
	assert_int_equal(
	    json_string_length(json_object_get(a.profile, "signed_up_at")),
	    24); /* 2026-01-02T03:04:05.678Z */
	assert_string_equal(
	    json_string_value(json_object_get(a.profile, "last_active_at")),
	    "");
	assert_true(json_is_string(
	    json_object_get(a.profile, "email_reminders_frequency")));
	assert_true(json_is_boolean(
	    json_object_get(a.profile, "marketing_permission")));
	assert_true(json_is_boolean(
	    json_object_get(a.profile, "service_emails_permission")));
	/* The address is the people id, never a member of the data. */
	assert_null(json_object_get(a.profile, "email"));
	a.user_id = "0190a5c4-0000-7000-8000-000000000999";
	assert_int_equal(store_run(db, STORE_TX_READ, profile_tx, &a), OK);
	assert_int_equal(json_object_size(a.profile), 0);
	json_decref(a.profile);
}

static void
addresses_held_by_live_users(void **state)
{
	struct tx *tx;

	(void)state;
	/* The erasure lock is people's (SQLite: nothing to take). */
	assert_int_equal(store_tx_begin(db, STORE_TX_WRITE, &tx), OK);
	assert_int_equal(hooks_person_lock(tx, ada), OK);
	store_tx_rollback(tx);
	/* Ada's own address is not "another user's"; for Bob it is. */
	assert_false(ask_held("ada@example.test", ada));
	assert_true(ask_held("ada@example.test", bob));
	assert_true(ask_held("ADA@example.test", bob)); /* as the index folds */
	assert_false(ask_held("nobody@example.test", bob));
}

static void
contact_of_deleted_then_erased_user(void **state)
{
	struct ask a;
	char	   sql[160];
	struct tx *tx;

	(void)state;
	memset(&a, 0, sizeof(a));
	snprintf(sql, sizeof(sql),
	    "UPDATE users SET deleted_at = 1 WHERE id = '%s'", bob);
	assert_int_equal(db_exec(db, sql), OK);
	assert_int_equal(ask_contact(bob, 0, &a), OK);
	assert_int_equal(a.c.deleted, 1);
	assert_null(a.c.email); /* not opened unless asked */
	assert_int_equal(ask_contact(bob, 1, &a), OK);
	assert_int_equal(a.c.deleted, 1);
	assert_string_equal(a.c.email, "bob@example.test");
	/* Deleted is not erased: the address is still held. */
	assert_true(ask_held("bob@example.test", ada));

	/* The data key destroyed (as erasure does, before the rest). */
	assert_int_equal(store_tx_begin(db, STORE_TX_WRITE, &tx), OK);
	assert_int_equal(seal_key_destroy(tx, bob), OK);
	assert_int_equal(store_tx_commit(tx), OK);
	assert_int_equal(ask_contact(bob, 1, &a), ERR_NOT_FOUND);
	assert_null(a.c.email);

	/* Then the address and its index cleared: erased. */
	snprintf(sql, sizeof(sql),
	    "UPDATE users SET email = NULL, email_index = NULL WHERE id = "
	    "'%s'",
	    bob);
	assert_int_equal(db_exec(db, sql), OK);
	assert_int_equal(ask_contact(bob, 1, &a), ERR_NOT_FOUND);
	assert_false(ask_held("bob@example.test", ada));
	hooks_contact_clear(&a.c);
}

static int
setup(void **state)
{
	struct store_opts o = { 1, 2, 10000, 1 };
	const char	 *err, *why;
	char		  url[128];
	size_t		  j;
	int		  applied;

	(void)state;
	if (mkdtemp(dir) == NULL)
		return (-1);
	snprintf(url, sizeof(url), "sqlite:///%s/t.db", dir);
	if (store_open(url, &o, &db, &err) != OK ||
	    migrate_up(db, &applied) != OK)
		return (-1);
	for (j = 0; j < people_module.nresources; j++)
		if (resource_register(people_module.resources[j]) != OK)
			return (-1);
	if (people_user_add(db, "ada@example.test", PASSWORD, "member", "Ada",
		"Lovelace", ada, &why) != OK ||
	    people_user_add(db, "bob@example.test", PASSWORD, "member", NULL,
		NULL, bob, &why) != OK)
		return (-1);
	return (people_profile_init() == OK ? 0 : -1);
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	store_close(db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return (system(cmd) != 0);
}

int
main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(deriving_listeners_run_first),
		cmocka_unit_test(members_of_each_kind),
		cmocka_unit_test(registration_extras),
		cmocka_unit_test(no_person_hooks_is_unavailable),
		cmocka_unit_test(chat_access_is_any_parts),
	};
	const struct CMUnitTest people[] = {
		cmocka_unit_test(contact_of_a_live_user),
		cmocka_unit_test(profile_part_of_people),
		cmocka_unit_test(addresses_held_by_live_users),
		cmocka_unit_test(contact_of_deleted_then_erased_user),
	};
	unsigned char master[32];
	int	      rc;

	if (crypto_init() != OK)
		return (1);
	log_set_level(LOG_WARN);
	randombytes_buf(master, sizeof(master));
	keyring_init(master);
	sodium_memzero(master, sizeof(master));
	rc = cmocka_run_group_tests_name("hooks", pure, NULL, NULL);
	if (rc == 0)
		rc = cmocka_run_group_tests_name(
		    "people's hooks", people, setup, teardown);
	keyring_wipe();
	return (rc != 0);
}
