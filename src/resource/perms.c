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
 * its epoch says, at worst reloaded once more. Loads run side by side
 * (requests behind the epoch, the TTL): one that read an older epoch
 * than the array in is kept out, so grants never go back to older ones;
 * the TTL's, kept out, reads the epoch again and, when it went back
 * (0023 undone, a backup restored), forgets the array's and reloads.
 * Without the migration (pending) the TTL alone applies.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "resource/list_cache.h"
#include "resource/resource.h"
#include "resource/resource_int.h"
#include "store/store.h"

#define PERM_KEY_MAX   256
#define PERM_ROWS_MAX  100000
#define PERM_EPOCH_TAB "role_permissions_epoch"
#define PERM_ADMIN     "admin"

static pthread_rwlock_t perm_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t	perm_reload = PTHREAD_MUTEX_INITIALIZER;
static char	      **perm_keys; /* sorted, under perm_lock */
static size_t		perm_n;
static _Atomic int64_t	perm_loaded_at = INT64_MIN;
static _Atomic int	perm_ready;
/* The epoch the array was loaded under (-1: none known), and whether the
 * epoch's table is there (1 yes, -1 no, 0 unknown: ask the catalog). */
static _Atomic int64_t perm_epoch = -1;
static _Atomic int     perm_epoch_table;
/* The refused grants last warned of (a sum of their hashes, with the
 * epoch): each reload finds them again, warned of once. */
static _Atomic uint64_t perm_dropped_seen;

/*
 * Granted only to the admin role: what decides who may do what. roles:*
 * (reading and changing every role's grants), users:create:all and
 * users:update:all (a user made with, or given, any role: the admin one
 * too, FIELD_STAFF_WRITE), users:delete:all and users:erase:all
 * (deactivating or erasing anyone, the admins too); the console's
 * operations (console.c, migration 0054), webhook_inbox:read|replay:all
 * and failed_jobs:read|retry:all: running a stored webhook or a failed
 * job again (a payment's, a mail's) is the operator's act, as on the
 * command line.
 */
static const char *const perm_admin_only[] = {
	"users:create:all",
	"users:update:all",
	"users:delete:all",
	"users:erase:all",
	"webhook_inbox:read:all",
	"webhook_inbox:replay:all",
	"failed_jobs:read:all",
	"failed_jobs:retry:all",
};
#define PERM_ADMIN_PREFIX "roles:"
/*
 * The :all grants a role that is not staff (roles.is_staff = 0) may
 * hold: catalogues that name no one, seeded for members (0003, 0004).
 * Every other :all grant reaches everyone's rows, their sealed fields
 * too, and is for staff roles only.
 */
static const char *const perm_public_all[] = {
	"data_types:read:all",
	"exercises:read:all",
	"forms:read:all",
};

static int	perm_cmp(const void *, const void *);
static int	perm_epoch_read(struct tx *, int64_t *);
static int	perm_table(struct tx *, int *);
static uint64_t perm_hash(const char *, const char *);
static int	perm_epoch_now(struct store *, int64_t *);
static int	perm_load(struct store *);
static void	perm_fresh(struct store *);
static int perm_has(const char *, const char *, const char *, const char *);

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

int
resource_perm_grantable(const char *role, int is_staff, const char *perm)
{
	size_t i, n;

	if (strcmp(role, PERM_ADMIN) == 0)
		return (PERM_GRANTABLE);
	if (strncmp(perm, PERM_ADMIN_PREFIX, strlen(PERM_ADMIN_PREFIX)) == 0)
		return (PERM_ADMIN_ONLY);
	for (i = 0; i < sizeof(perm_admin_only) / sizeof(*perm_admin_only); i++)
		if (strcmp(perm, perm_admin_only[i]) == 0)
			return (PERM_ADMIN_ONLY);
	n = strlen(perm);
	if (is_staff || n < 4 || strcmp(perm + n - 4, ":all") != 0)
		return (PERM_GRANTABLE);
	for (i = 0; i < sizeof(perm_public_all) / sizeof(*perm_public_all); i++)
		if (strcmp(perm, perm_public_all[i]) == 0)
			return (PERM_GRANTABLE);
	return (PERM_STAFF_ONLY);
}

void
resource_perms_reset(void)
{
	atomic_store(&perm_loaded_at, INT64_MIN);
	atomic_store(&perm_epoch, -1);
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

/* Whether the epoch's table is there: as known, else asked of the
 * catalog (no statement fails while it is missing). */
static int
perm_table(struct tx *tx, int *there)
{
	int known = atomic_load(&perm_epoch_table), rc;

	if (known != 0) {
		*there = known > 0;
		return (OK);
	}
	if ((rc = store_table_exists(tx, PERM_EPOCH_TAB, there)) != OK)
		return (rc);
	atomic_store(&perm_epoch_table, *there ? 1 : -1);
	return (OK);
}

int
resource_perms_ready(struct tx *tx)
{
	int there, rc;

	if ((rc = store_table_exists(tx, PERM_EPOCH_TAB, &there)) != OK)
		return (rc);
	return (there ? OK : ERR_UNAVAILABLE);
}

/*
 * PostgreSQL: the change clock's stamp before the epoch was last read and
 * found no newer than the grants (list_cache_clock), and when: while the
 * clock has not moved since (the epoch moves in carebase's own writes,
 * told to every process) and for list_cache_ttl_ms at most (a change by
 * hand), a request reads no epoch, a round trip spared.
 */
static _Atomic int64_t perm_stamp = -1;
static _Atomic int64_t perm_stamp_at;

int
resource_perms_check(struct tx *tx)
{
	int64_t epoch = -1, stamp = -1, now = time_mono_ns() / 1000000;
	int	there, rc, clocked;

	clocked = list_cache_clock(store_tx_store(tx), &stamp) == OK;
	if (clocked && stamp == atomic_load(&perm_stamp) &&
	    stamp == (int64_t)store_tx_clock(tx) &&
	    now - atomic_load(&perm_stamp_at) < config.list_cache_ttl_ms)
		return (OK);
	if ((rc = perm_table(tx, &there)) != OK)
		return (ERR_UNAVAILABLE);
	/* Migration 0023 pending (or undone): the TTL alone. */
	if (!there)
		return (OK);
	/* Its row gone (by hand): the TTL alone, as without the table. */
	if ((rc = perm_epoch_read(tx, &epoch)) == ERR_NOT_FOUND)
		return (OK);
	if (rc != OK) {
		/* The table went since it was seen (a migration undone by
		 * another process): the catalog is asked again at the next
		 * request; this one's transaction may be spent (PostgreSQL). */
		atomic_store(&perm_epoch_table, 0);
		log_warn("event=perms_epoch_unreadable code=%s", err_code(rc));
		return (ERR_UNAVAILABLE);
	}
	if (epoch <= atomic_load(&perm_epoch)) {
		if (clocked) {
			/* The time first: a reader that sees the new stamp
			 * sees a time at least this old. */
			atomic_store(&perm_stamp_at, now);
			atomic_store(&perm_stamp, (int64_t)store_tx_clock(tx));
		}
		return (OK);
	}
	/* Behind: read them again in this request's transaction, as new as
	 * the epoch it read. No lock is held while reading, and a failure
	 * refuses the request rather than decide it on stale grants. */
	if ((rc = resource_perms_load_tx(tx)) != OK && rc != ERR_CONFLICT) {
		log_error(
		    "event=perms_load_failed behind=1 code=%s", err_code(rc));
		return (ERR_UNAVAILABLE);
	}
	/* ERR_CONFLICT: kept out, an array of a newer epoch is in. */
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

/* FNV-1a of "role\x1fpermission". */
static uint64_t
perm_hash(const char *role, const char *perm)
{
	uint64_t    h = 14695981039346656037ULL;
	const char *p;

	for (p = role; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ 0x1f) * 1099511628211ULL;
	for (p = perm; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return (h);
}

/*
 * Read role_permissions in tx into a new array and swap it in, unless
 * the array in was loaded under a newer epoch (ERR_CONFLICT: loads run
 * side by side, from requests behind the epoch and from the TTL, and a
 * slower one that read an older epoch must not put back older grants).
 * A grant resource_perm_grantable refuses (made by hand, or before the
 * rule) grants nothing.
 */
int
resource_perms_load_tx(struct tx *tx)
{
	struct stmt *st = NULL;
	char	   **keys = NULL, **old, **nk, *k;
	size_t	     n = 0, cap = 0, oldn, i, dropped = 0;
	const char  *role, *perm;
	int64_t	     epoch = -1;
	uint64_t     dropped_sum = 0;
	int	     rc, there;

	if ((rc = perm_table(tx, &there)) != OK)
		return (rc);
	/* The epoch first: the rows read after it are at least as new. */
	if (there && (rc = perm_epoch_read(tx, &epoch)) != OK &&
	    rc != ERR_NOT_FOUND) {
		atomic_store(&perm_epoch_table, 0);
		return (rc);
	}
	st = store_prepare(tx,
	    "SELECT rp.role, rp.permission, r.is_staff FROM role_permissions "
	    "rp JOIN roles r ON r.name = rp.role");
	while ((rc = store_step(st)) == STORE_ROW) {
		role = store_col_text(st, 0);
		perm = store_col_text(st, 1);
		if (role == NULL || perm == NULL)
			continue;
		if (resource_perm_grantable(role, store_col_int64(st, 2) != 0,
			perm) != PERM_GRANTABLE) {
			dropped++;
			dropped_sum += perm_hash(role, perm);
			continue;
		}
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
	if (dropped > 0 &&
	    atomic_exchange(
		&perm_dropped_seen, dropped_sum ^ (uint64_t)epoch) !=
		(dropped_sum ^ (uint64_t)epoch))
		log_warn("event=perms_not_grantable grants=%zu epoch=%lld "
			 "msg=\"grants no role but admin (or no role but "
			 "staff) may hold are ignored\"",
		    dropped, (long long)epoch);
	if (n > 1)
		qsort(keys, n, sizeof(*keys), perm_cmp);
	pthread_rwlock_wrlock(&perm_lock);
	if (epoch < atomic_load(&perm_epoch)) {
		/* Read under an older epoch than the array's: a slower
		 * load than the one that swapped that in. Kept out. */
		pthread_rwlock_unlock(&perm_lock);
		rc = ERR_CONFLICT;
		goto out;
	}
	old = perm_keys;
	oldn = perm_n;
	perm_keys = keys;
	perm_n = n;
	atomic_store(&perm_epoch, epoch);
	pthread_rwlock_unlock(&perm_lock);
	atomic_store(&perm_loaded_at, time_now_ms());
	atomic_store(&perm_ready, 1);
	keys = old;
	n = oldn;
	rc = OK;
out:
	store_finalize(st);
	for (i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	return (rc);
}

/* The same in a transaction of its own, the catalog asked again: a
 * migration made since (up or down, by any process) is seen. */
static int
perm_load(struct store *db)
{
	struct tx *tx = NULL;
	int64_t	   seen, now;
	int	   rc;

	atomic_store(&perm_epoch_table, 0);
	if ((rc = store_tx_begin(db, STORE_TX_READ, &tx)) != OK)
		return (rc);
	rc = resource_perms_load_tx(tx);
	store_tx_rollback(tx);
	if (rc != ERR_CONFLICT)
		return (rc);
	/* Kept out: another load swapped in an array of a newer epoch, or
	 * the epoch went back (0023 undone and applied again, its table
	 * dropped, a backup restored). The epoch read now, after the load
	 * kept out, is at least as new as that array's unless it went
	 * back; then the array's epoch is forgotten and loaded again. */
	seen = atomic_load(&perm_epoch);
	if ((rc = perm_epoch_now(db, &now)) != OK)
		return (rc);
	if (now >= seen)
		return (OK);
	log_warn("event=perms_epoch_back epoch=%lld was=%lld", (long long)now,
	    (long long)seen);
	pthread_rwlock_wrlock(&perm_lock);
	if (atomic_load(&perm_epoch) == seen)
		atomic_store(&perm_epoch, -1);
	pthread_rwlock_unlock(&perm_lock);
	if ((rc = store_tx_begin(db, STORE_TX_READ, &tx)) != OK)
		return (rc);
	rc = resource_perms_load_tx(tx);
	store_tx_rollback(tx);
	return (rc == ERR_CONFLICT ? OK : rc);
}

/* The epoch in the database now, in a transaction of its own: -1
 * without its table or row. */
static int
perm_epoch_now(struct store *db, int64_t *epoch)
{
	struct tx *tx = NULL;
	int	   rc, there;

	*epoch = -1;
	if ((rc = store_tx_begin(db, STORE_TX_READ, &tx)) != OK)
		return (rc);
	if ((rc = store_table_exists(tx, PERM_EPOCH_TAB, &there)) == OK &&
	    there && (rc = perm_epoch_read(tx, epoch)) == ERR_NOT_FOUND)
		rc = OK;
	store_tx_rollback(tx);
	return (rc);
}

/*
 * Reload every RESOURCE_PERMS_TTL_MS: the first load is waited for;
 * later ones are done by one thread while the others read the previous
 * array. One an epoch asks for is the authenticator's
 * (resource_perms_check), in the request's own transaction.
 */
static void
perm_fresh(struct store *db)
{
	int64_t now = time_now_ms(), at;
	int	rc;

	at = atomic_load(&perm_loaded_at);
	if (at != INT64_MIN && now - at < RESOURCE_PERMS_TTL_MS)
		return;
	if (atomic_load(&perm_ready)) {
		if (pthread_mutex_trylock(&perm_reload) != 0)
			return;
	} else
		pthread_mutex_lock(&perm_reload);
	at = atomic_load(&perm_loaded_at);
	if (at == INT64_MIN || now - at >= RESOURCE_PERMS_TTL_MS) {
		if ((rc = perm_load(db)) != OK) {
			log_error(
			    "event=perms_load_failed code=%s", err_code(rc));
			/* Keep serving the array (as new as the epoch the
			 * requests read); try again after the TTL. */
			if (atomic_load(&perm_ready))
				atomic_store(&perm_loaded_at, now);
		}
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
