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
#include "core/util.h"
#include "resource/seal.h"
#include "store/store.h"

#define WRAPPED_LEN (SEAL_KEY_LEN + SEAL_OVERHEAD)
#define AD_MAX	    256

/*
 * Unwrapped data keys, kept briefly so that reading a person's row costs
 * no extra query and unwrap. seal_key_destroy evicts at once, so in the
 * process that erases a person their data is unreadable immediately; in
 * another process a cached key lives at most KEYCACHE_TTL_MS more.
 */
#define KEYCACHE_SLOTS	1024
#define KEYCACHE_LOCKS	16
#define KEYCACHE_TTL_MS 10000

struct keyslot {
	const void   *store; /* keys of one database only */
	char	      user_id[UUID_STR_LEN];
	unsigned char key[SEAL_KEY_LEN];
	int64_t	      at;
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

static size_t
keycache_slot(const char *user_id)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *user_id != '\0'; user_id++)
		h = (h ^ (unsigned char)*user_id) * 16777619u;
	return (h % KEYCACHE_SLOTS);
}

static int
keycache_get(
    const void *store, const char *user_id, unsigned char key[SEAL_KEY_LEN])
{
	size_t		 i = keycache_slot(user_id);
	pthread_mutex_t *mu = &keycache_mu[i % KEYCACHE_LOCKS];
	int		 hit = 0;

	pthread_mutex_lock(mu);
	if (keycache[i].user_id[0] != '\0' && keycache[i].store == store &&
	    strcmp(keycache[i].user_id, user_id) == 0 &&
	    time_now_ms() - keycache[i].at < KEYCACHE_TTL_MS) {
		memcpy(key, keycache[i].key, SEAL_KEY_LEN);
		hit = 1;
	}
	pthread_mutex_unlock(mu);
	return (hit);
}

static void
keycache_put(const void *store, const char *user_id,
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
	int		     rc;

	if (keycache_get(store_tx_store(tx), user_id, key))
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
			keycache_put(store_tx_store(tx), user_id, key);
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
	return (rc);
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
