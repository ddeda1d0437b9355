/*
 * Personal data at rest (see seal.h). A user's data key is 32 random bytes,
 * stored only wrapped: crypto_seal under the keyring's wrap key, bound to
 * "user_keys:<user id>" so a wrapped key copied to another user's row does
 * not open. Every plaintext copy of a key is wiped before it goes out of
 * scope; callers of seal_key_load wipe theirs.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/keyring.h"
#include "core/config.h"
#include "core/util.h"
#include "resource/list_cache.h"
#include "resource/seal.h"
#include "store/store.h"

#define WRAPPED_LEN (SEAL_KEY_LEN + SEAL_OVERHEAD)
#define AD_MAX	    256

/*
 * Unwrapped data keys, kept briefly so that reading a person's row costs
 * no extra unwrap, and no query after the first of a transaction. Each
 * key is kept with the epoch of user_key_epoch it was loaded under; a
 * destruction adds one to the epoch in its transaction, and a cached key
 * is used only while the epoch read in the caller's transaction is still
 * its own. So an erasure made by any process is seen by every process at
 * its next transaction (on PostgreSQL, at its next statement that reads
 * the epoch); the erasing process also evicts at once. The epoch is read
 * once per transaction (store_tx_serial) and before the key, so a key
 * read just before a destruction is kept under the epoch before it.
 * Without the epoch (its table not made yet: migrations pending) no key
 * is loaded.
 */
#define KEYCACHE_SLOTS	1024
#define KEYCACHE_LOCKS	16
#define KEYCACHE_TTL_MS 10000

struct keyslot {
	const void   *store; /* keys of one database only */
	char	      user_id[UUID_STR_LEN];
	unsigned char key[SEAL_KEY_LEN];
	int64_t	      at;
	int64_t	      epoch;
};

/* The epoch as read in one transaction of this thread. */
struct epoch_memo {
	uint64_t serial; /* 0: none */
	int64_t	 epoch;
};

static struct keyslot  keycache[KEYCACHE_SLOTS];
static pthread_mutex_t keycache_mu[KEYCACHE_LOCKS] = {
	PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER,
};
static _Thread_local struct epoch_memo epoch_memo;

/*
 * PostgreSQL: the epoch as last read by any thread, and the change
 * clock's stamp before it was (list_cache_clock): taken again while the
 * clock has not moved (the epoch moves in carebase's own writes, told to
 * every process) and for list_cache_ttl_ms at most (a change by hand).
 */
static pthread_mutex_t clock_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	const void *store; /* NULL: none */
	int64_t	    stamp, epoch, at_ms;
} clock_memo;

static size_t keycache_slot(const char *);
static int    keycache_get(
       const void *, const char *, int64_t, unsigned char[SEAL_KEY_LEN]);
static void keycache_put(
    const void *, const char *, int64_t, const unsigned char[SEAL_KEY_LEN]);
static void keycache_evict(const char *);
static int  key_epoch(struct tx *, int64_t *);
static int  key_epoch_bump(struct tx *);

static size_t
keycache_slot(const char *user_id)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *user_id != '\0'; user_id++)
		h = (h ^ (unsigned char)*user_id) * 16777619u;
	return (h % KEYCACHE_SLOTS);
}

static int
keycache_get(const void *store, const char *user_id, int64_t epoch,
    unsigned char key[SEAL_KEY_LEN])
{
	size_t		 i = keycache_slot(user_id);
	pthread_mutex_t *mu = &keycache_mu[i % KEYCACHE_LOCKS];
	int		 hit = 0;

	pthread_mutex_lock(mu);
	if (keycache[i].user_id[0] != '\0' && keycache[i].store == store &&
	    strcmp(keycache[i].user_id, user_id) == 0 &&
	    keycache[i].epoch == epoch &&
	    time_now_ms() - keycache[i].at < KEYCACHE_TTL_MS) {
		memcpy(key, keycache[i].key, SEAL_KEY_LEN);
		hit = 1;
	}
	pthread_mutex_unlock(mu);
	return (hit);
}

static void
keycache_put(const void *store, const char *user_id, int64_t epoch,
    const unsigned char key[SEAL_KEY_LEN])
{
	size_t		 i = keycache_slot(user_id);
	pthread_mutex_t *mu = &keycache_mu[i % KEYCACHE_LOCKS];

	if (strlen(user_id) >= UUID_STR_LEN)
		return;
	pthread_mutex_lock(mu);
	keycache[i].store = store;
	strlcpy_cb(keycache[i].user_id, user_id, UUID_STR_LEN);
	memcpy(keycache[i].key, key, SEAL_KEY_LEN);
	keycache[i].at = time_now_ms();
	keycache[i].epoch = epoch;
	pthread_mutex_unlock(mu);
}

static void
keycache_evict(const char *user_id)
{
	size_t		 i = keycache_slot(user_id);
	pthread_mutex_t *mu = &keycache_mu[i % KEYCACHE_LOCKS];

	pthread_mutex_lock(mu);
	if (strcmp(keycache[i].user_id, user_id) == 0)
		sodium_memzero(&keycache[i], sizeof(keycache[i]));
	pthread_mutex_unlock(mu);
}

/* The epoch in tx, read once per transaction. */
static int
key_epoch(struct tx *tx, int64_t *out)
{
	struct stmt  *st;
	struct store *db = store_tx_store(tx);
	uint64_t      serial = store_tx_serial(tx);
	int64_t	      stamp = -1, now = time_mono_ns() / 1000000;
	int	      rc, clocked;

	if (epoch_memo.serial == serial) {
		*out = epoch_memo.epoch;
		return (OK);
	}
	/* Not in a transaction that writes: it may be the one to move it. */
	clocked = !store_tx_writes(tx) && list_cache_clock(db, &stamp) == OK;
	if (clocked) {
		pthread_mutex_lock(&clock_mu);
		/* And no write told since this transaction began: its
		 * snapshot (REPEATABLE READ: taken once) may be older than
		 * the memo's, and a key it still sees gone for the newer. */
		rc = clock_memo.store == (const void *)db &&
		    clock_memo.stamp == stamp &&
		    stamp == (int64_t)store_tx_clock(tx) &&
		    now - clock_memo.at_ms < config.list_cache_ttl_ms;
		*out = clock_memo.epoch;
		pthread_mutex_unlock(&clock_mu);
		if (rc) {
			epoch_memo.serial = serial;
			epoch_memo.epoch = *out;
			return (OK);
		}
	}
	st = store_prepare(tx, "SELECT epoch FROM user_key_epoch WHERE id = 1");
	if ((rc = store_step(st)) == STORE_ROW) {
		*out = store_col_int64(st, 0);
		epoch_memo.serial = serial;
		epoch_memo.epoch = *out;
		if (clocked) {
			/* Under the clock as the transaction began: its
			 * snapshot may be older than the clock now. */
			pthread_mutex_lock(&clock_mu);
			clock_memo.store = db;
			clock_memo.stamp = (int64_t)store_tx_clock(tx);
			clock_memo.epoch = *out;
			clock_memo.at_ms = now;
			pthread_mutex_unlock(&clock_mu);
		}
		rc = OK;
	} else if (rc == STORE_DONE)
		rc = ERR_NOT_FOUND;
	store_finalize(st);
	return (rc);
}

static int
key_epoch_bump(struct tx *tx)
{
	struct stmt *st;
	int	     rc;

	epoch_memo.serial = 0;
	st = store_prepare(
	    tx, "UPDATE user_key_epoch SET epoch = epoch + 1 WHERE id = 1");
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

static int key_ad(char *, size_t, const char *);
static int field_ad(char *, size_t, const char *, const char *, const char *);

static int
key_ad(char *out, size_t n, const char *user_id)
{
	int len;

	len = snprintf(out, n, "user_keys:%s", user_id);
	return (len < 0 || (size_t)len >= n ? ERR_INVALID : OK);
}

static int
field_ad(char *out, size_t n, const char *table, const char *column,
    const char *row_id)
{
	int len;

	len = snprintf(out, n, "%s.%s:%s", table, column, row_id);
	return (len < 0 || (size_t)len >= n ? ERR_INVALID : OK);
}

int
seal_key_create(struct tx *tx, const char *user_id)
{
	unsigned char	     key[SEAL_KEY_LEN], wrapped[WRAPPED_LEN];
	const unsigned char *wrap;
	char		     ad[AD_MAX];
	struct stmt	    *st;
	int		     rc;

	if ((wrap = keyring_key(KEY_WRAP)) == NULL)
		return (ERR_INTERNAL);
	if ((rc = key_ad(ad, sizeof(ad), user_id)) != OK)
		return (rc);
	keycache_evict(user_id);
	randombytes_buf(key, sizeof(key));
	crypto_seal(wrap, ad, key, sizeof(key), wrapped);
	sodium_memzero(key, sizeof(key));
	st = store_prepare(tx,
	    "INSERT INTO user_keys (user_id, wrapped_key, "
	    "created_at) VALUES (?, ?, ?)");
	store_bind_text(st, 1, user_id);
	store_bind_blob(st, 2, wrapped, sizeof(wrapped));
	store_bind_int64(st, 3, time_now_ms());
	rc = store_step(st);
	rc = rc == STORE_DONE ? OK : rc;
	store_finalize(st);
	return (rc);
}

int
seal_key_load(
    struct tx *tx, const char *user_id, unsigned char key[SEAL_KEY_LEN])
{
	const unsigned char *wrap, *b;
	char		     ad[AD_MAX];
	struct stmt	    *st;
	size_t		     n, klen = 0;
	int64_t		     epoch = 0;
	int		     rc;

	/* The epoch first: a key read after it is kept under it. */
	if ((rc = key_epoch(tx, &epoch)) != OK)
		return (rc);
	if (keycache_get(store_tx_store(tx), user_id, epoch, key))
		return (OK);
	if ((wrap = keyring_key(KEY_WRAP)) == NULL)
		return (ERR_INTERNAL);
	if ((rc = key_ad(ad, sizeof(ad), user_id)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "SELECT wrapped_key FROM user_keys "
	    "WHERE user_id = ?");
	store_bind_text(st, 1, user_id);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		b = store_col_blob(st, 0, &n);
		if (b == NULL || n != WRAPPED_LEN ||
		    crypto_open(wrap, ad, b, n, key, &klen) != OK ||
		    klen != SEAL_KEY_LEN) {
			sodium_memzero(key, SEAL_KEY_LEN);
			rc = ERR_INVALID;
		} else {
			keycache_put(store_tx_store(tx), user_id, epoch, key);
			rc = OK;
		}
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	}
	store_finalize(st);
	return (rc);
}

int
seal_key_destroy(struct tx *tx, const char *user_id)
{
	struct stmt *st;
	int	     rc;

	keycache_evict(user_id);
	st = store_prepare(tx, "DELETE FROM user_keys WHERE user_id = ?");
	store_bind_text(st, 1, user_id);
	rc = store_step(st);
	rc = rc == STORE_DONE ? OK : rc;
	store_finalize(st);
	/* Every process's cached keys are stale once this commits. */
	return (rc == OK ? key_epoch_bump(tx) : rc);
}

int
seal_field(const unsigned char key[SEAL_KEY_LEN], const char *table,
    const char *column, const char *row_id, const char *plain,
    unsigned char **out, size_t *outlen)
{
	char   ad[AD_MAX];
	size_t n;
	int    rc;

	*out = NULL;
	*outlen = 0;
	if ((rc = field_ad(ad, sizeof(ad), table, column, row_id)) != OK)
		return (rc);
	n = strlen(plain);
	if ((*out = malloc(n + SEAL_OVERHEAD)) == NULL)
		return (ERR_NOMEM);
	crypto_seal(key, ad, plain, n, *out);
	*outlen = n + SEAL_OVERHEAD;
	return (OK);
}

int
seal_open_field(const unsigned char key[SEAL_KEY_LEN], const char *table,
    const char *column, const char *row_id, const void *sealed, size_t len,
    char **out)
{
	char   ad[AD_MAX];
	size_t n = 0;
	int    rc;

	*out = NULL;
	if ((rc = field_ad(ad, sizeof(ad), table, column, row_id)) != OK)
		return (rc);
	if (sealed == NULL || len < SEAL_OVERHEAD)
		return (ERR_INVALID);
	if ((*out = malloc(len - SEAL_OVERHEAD + 1)) == NULL)
		return (ERR_NOMEM);
	if (crypto_open(key, ad, sealed, len, *out, &n) != OK) {
		free(*out);
		*out = NULL;
		return (ERR_INVALID);
	}
	(*out)[n] = '\0';
	return (OK);
}
