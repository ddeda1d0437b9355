/*
 * Who may act: the request's caller (from the auth hook, once per
 * request) and the scope their role grants, from role permissions named
 * "<resource>:<action>:<scope>".
 *
 * Role permissions are data that admins change, so they are cached and
 * re-read every RESOURCE_PERMS_TTL_MS. The cache is a sorted array of
 * "role\x1fpermission" keys behind a read-write lock; one thread reloads
 * while the others keep reading the old array.
 *
 * A change (PUT /v1/roles/{name}/permissions, `carebase roles set`) adds
 * one to role_permissions_epoch in its transaction (resource_perms_changed,
 * migration 0023). The authenticator reads the epoch in each request's
 * transaction (resource_perms_check); an epoch newer than the one the
 * array was loaded under makes the next resource_scope wait for a reload,
 * so a change made through any process holds for every signed-in session
 * at its next request, not up to the TTL later. The array's epoch is read
 * before the rows, in the same transaction: an array is never newer than
 * its epoch says, at worst reloaded once more. Without the migration
 * (pending) the TTL alone applies.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "resource/resource.h"
#include "resource/resource_int.h"
#include "store/migrate.h"
#include "store/store.h"

#define PERM_KEY_MAX	     256
#define PERM_ROWS_MAX	     100000
#define PERM_EPOCH_MIGRATION "0023_roles_and_mail_log"

static pthread_rwlock_t perm_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t	perm_reload = PTHREAD_MUTEX_INITIALIZER;
static char	      **perm_keys; /* sorted, under perm_lock */
static size_t		perm_n;
static _Atomic int64_t	perm_loaded_at = INT64_MIN;
static _Atomic int	perm_ready;
/* The epoch the array was loaded under (-1: none known), the newest a
 * request has read, and whether the epoch's table is there (0 unknown,
 * 1 yes, -1 not yet). */
static _Atomic int64_t perm_epoch = -1;
static _Atomic int64_t perm_wanted = -1;
static _Atomic int     perm_epoch_table;

static int  perm_cmp(const void *, const void *);
static int  perm_epoch_read(struct tx *, int64_t *);
static int  perm_load(struct store *);
static void perm_fresh(struct store *);
static int  perm_has(const char *, const char *, const char *, const char *);

const char *
action_name(enum action a)
{
	switch (a) {
	case ACTION_LIST:
	case ACTION_READ:
		return ("read");
	case ACTION_CREATE:
		return ("create");
	case ACTION_UPDATE:
		return ("update");
	case ACTION_DELETE:
		return ("delete");
	default:
		return ("none");
	}
}

void
resource_perms_reset(void)
{
	atomic_store(&perm_loaded_at, INT64_MIN);
	atomic_store(&perm_epoch, -1);
	atomic_store(&perm_wanted, -1);
	atomic_store(&perm_epoch_table, 0);
}

static int
perm_epoch_read(struct tx *tx, int64_t *out)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(
	    tx, "SELECT epoch FROM role_permissions_epoch WHERE id = 1");
	if ((rc = store_step(st)) == STORE_ROW) {
		*out = store_col_int64(st, 0);
		rc = OK;
	} else if (rc == STORE_DONE)
		rc = ERR_NOT_FOUND;
	store_finalize(st);
	return (rc);
}

int
resource_perms_check(struct tx *tx)
{
	int64_t epoch = -1, want;
	int	rc;

	/* Nothing loaded under an epoch yet: the first load is fresh. */
	if (atomic_load(&perm_epoch) < 0)
		return (OK);
	/* Its row gone (by hand): the TTL alone, as without the table. */
	if ((rc = perm_epoch_read(tx, &epoch)) != OK)
		return (rc == ERR_NOT_FOUND ? OK : rc);
	want = atomic_load(&perm_wanted);
	while (epoch > want &&
	    !atomic_compare_exchange_weak(&perm_wanted, &want, epoch))
		;
	return (OK);
}

int
resource_perms_changed(struct tx *tx)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx,
	    "UPDATE role_permissions_epoch SET epoch = epoch + 1 WHERE id = 1");
	rc = store_step(st);
	store_finalize(st);
	/* This process re-reads at its next resource_scope in any case. */
	if (rc == STORE_DONE)
		atomic_store(&perm_loaded_at, INT64_MIN);
	return (rc == STORE_DONE ? OK : rc);
}

static int
perm_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

/* Read role_permissions into a new array and swap it in. */
static int
perm_load(struct store *db)
{
	struct tx   *tx = NULL;
	struct stmt *st = NULL;
	char	   **keys = NULL, **old, **nk, *k;
	size_t	     n = 0, cap = 0, oldn, i;
	const char  *role, *perm;
	int64_t	     epoch = -1;
	int	     rc;

	/* Asked of the ledger, so no statement fails while it is pending. */
	if (atomic_load(&perm_epoch_table) <= 0)
		atomic_store(&perm_epoch_table,
		    migrate_applied(db, PERM_EPOCH_MIGRATION) == OK ? 1 : -1);
	if ((rc = store_tx_begin(db, STORE_TX_READ, &tx)) != OK)
		return (rc);
	/* The epoch first: the rows read after it are at least as new. */
	if (atomic_load(&perm_epoch_table) > 0 &&
	    (rc = perm_epoch_read(tx, &epoch)) != OK && rc != ERR_NOT_FOUND)
		goto out;
	st = store_prepare(tx, "SELECT role, permission FROM role_permissions");
	while ((rc = store_step(st)) == STORE_ROW) {
		role = store_col_text(st, 0);
		perm = store_col_text(st, 1);
		if (role == NULL || perm == NULL)
			continue;
		if (n == cap) {
			if (cap >= PERM_ROWS_MAX) {
				rc = ERR_TOO_LARGE;
				goto out;
			}
			cap = cap ? cap * 2 : 64;
			if ((nk = realloc(keys, cap * sizeof(*keys))) == NULL) {
				rc = ERR_NOMEM;
				goto out;
			}
			keys = nk;
		}
		if (asprintf(&k, "%s\x1f%s", role, perm) < 0) {
			rc = ERR_NOMEM;
			goto out;
		}
		keys[n++] = k;
	}
	if (rc != STORE_DONE)
		goto out;
	if (n > 1)
		qsort(keys, n, sizeof(*keys), perm_cmp);
	pthread_rwlock_wrlock(&perm_lock);
	old = perm_keys;
	oldn = perm_n;
	perm_keys = keys;
	perm_n = n;
	atomic_store(&perm_epoch, epoch);
	pthread_rwlock_unlock(&perm_lock);
	keys = old;
	n = oldn;
	rc = OK;
out:
	store_finalize(st);
	store_tx_rollback(tx);
	for (i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	return (rc);
}

/*
 * Reload when stale. The first load, and one a newer epoch asks for, are
 * waited for; others are done by one thread while the others read the
 * previous array.
 */
static void
perm_fresh(struct store *db)
{
	int64_t now = time_now_ms(), at;
	int	rc, behind;

	at = atomic_load(&perm_loaded_at);
	behind = atomic_load(&perm_wanted) > atomic_load(&perm_epoch);
	if (!behind && at != INT64_MIN && now - at < RESOURCE_PERMS_TTL_MS)
		return;
	if (atomic_load(&perm_ready) && !behind) {
		if (pthread_mutex_trylock(&perm_reload) != 0)
			return;
	} else
		pthread_mutex_lock(&perm_reload);
	at = atomic_load(&perm_loaded_at);
	behind = atomic_load(&perm_wanted) > atomic_load(&perm_epoch);
	if (behind || at == INT64_MIN || now - at >= RESOURCE_PERMS_TTL_MS) {
		if ((rc = perm_load(db)) == OK)
			atomic_store(&perm_ready, 1);
		else
			log_error(
			    "event=perms_load_failed code=%s", err_code(rc));
		/* On failure keep serving the old array; try again later. */
		if (rc == OK || atomic_load(&perm_ready))
			atomic_store(&perm_loaded_at, now);
	}
	pthread_mutex_unlock(&perm_reload);
}

static int
perm_has(
    const char *role, const char *res, const char *action, const char *scope)
{
	char key[PERM_KEY_MAX], *kp = key;
	int  n, found;

	n = snprintf(
	    key, sizeof(key), "%s\x1f%s:%s:%s", role, res, action, scope);
	if (n < 0 || (size_t)n >= sizeof(key))
		return (0);
	pthread_rwlock_rdlock(&perm_lock);
	found = perm_n > 0 &&
	    bsearch(&kp, perm_keys, perm_n, sizeof(*perm_keys), perm_cmp) !=
		NULL;
	pthread_rwlock_unlock(&perm_lock);
	return (found);
}

enum scope
resource_scope(struct store *db, const struct principal *who,
    const char *resource, const char *action)
{
	if (who == NULL || who->role[0] == '\0' || resource == NULL ||
	    action == NULL)
		return (SCOPE_NONE);
	if (db != NULL)
		perm_fresh(db);
	if (perm_has(who->role, resource, action, "all"))
		return (SCOPE_ALL);
	if (perm_has(who->role, resource, action, "related"))
		return (SCOPE_RELATED);
	if (perm_has(who->role, resource, action, "own"))
		return (SCOPE_OWN);
	return (SCOPE_NONE);
}
