/*
 * The chat profile of one person (see chatsync.c): their email (the
 * provider's people id) and first name (the nickname, else the part of
 * the address before the @) as the people module tells them
 * (hooks_contact), whether they have chat access and, when they do, the
 * parts the modules add (hooks_profile_granted, hooks_profile_build: the
 * person's own settings are people's part), and what the sync row
 * remembers (the last digest; the addresses the provider may hold a
 * profile under, opened).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/keyring.h"
#include "core/util.h"
#include "ops/chatsync_int.h"
#include "resource/hooks.h"
#include "resource/seal.h"
#include "store/store.h"

static int profile_identities(
    struct tx *, struct profile *, const unsigned char *key);
static int profile_user(struct tx *, struct profile *);

/* Wipe and free a malloc'd string of personal data; NULL is fine. */
void
chat_secret_free(char *s)
{
	if (s != NULL) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

void
chat_profile_clear(struct profile *p)
{
	chat_secret_free(p->email);
	chat_secret_free(p->nickname);
	chat_secret_free(p->pushed);
	chat_secret_free(p->pending);
	free(p->sealed);
	json_decref(p->data);
	p->email = p->nickname = p->pushed = p->pending = NULL;
	p->sealed = NULL;
	p->sealed_len = 0;
	p->data = NULL;
	p->gone = p->deleted = p->granted = 0;
	p->last_digest[0] = '\0';
}

int
chat_profile_load_tx(struct tx *tx, void *arg)
{
	struct profile *p = arg;
	int		rc;

	chat_profile_clear(p); /* store_run may run this again */
	p->now = time_now_ms();
	if ((p->data = json_object()) == NULL)
		return (ERR_NOMEM);
	if ((rc = profile_user(tx, p)) != OK || p->gone || p->deleted)
		return (rc); /* a deleted account has no chat access */
	if ((rc = hooks_profile_granted(tx, p->user_id, &p->granted)) != OK ||
	    !p->granted)
		return (rc);
	return (hooks_profile_build(tx, p->user_id, p->data));
}

/*
 * An identity column of the sync row opened into *out (NULL when the
 * column is NULL). One that does not open (it cannot be sealed under
 * another key: the row is the user's) is ERR_INVALID.
 */
int
chat_identity_open(const unsigned char *key, const char *user_id,
    struct stmt *st, int col, char **out)
{
	const void *b;
	size_t	    n = 0;

	*out = NULL;
	if (store_col_is_null(st, col))
		return (OK);
	b = store_col_blob(st, col, &n);
	return (seal_open_field(
	    key, "chat_profile_sync", "identity", user_id, b, n, out));
}

/*
 * The last digest and the addresses the provider may hold, opened, and
 * the current one sealed for the row.
 */
static int
profile_identities(struct tx *tx, struct profile *p, const unsigned char *key)
{
	struct stmt *st;
	int	     rc;

	if ((rc = seal_field(key, "chat_profile_sync", "identity", p->user_id,
		 p->email, &p->sealed, &p->sealed_len)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "SELECT digest, pushed_identity, "
	    "pending_identity FROM chat_profile_sync WHERE user_id = ?");
	store_bind_text(st, 1, p->user_id);
	if ((rc = store_step(st)) == STORE_ROW) {
		if (!store_col_is_null(st, 0))
			strlcpy_cb(p->last_digest, store_col_text(st, 0),
			    sizeof(p->last_digest));
		if ((rc = chat_identity_open(
			 key, p->user_id, st, 1, &p->pushed)) == OK)
			rc = chat_identity_open(
			    key, p->user_id, st, 2, &p->pending);
	} else if (rc == STORE_DONE)
		rc = OK;
	store_finalize(st);
	return (rc);
}

/*
 * The person (people's contact hook): their address and first name, and
 * whether they are to be sent at all; then the sync row's identities,
 * opened with their data key.
 */
static int
profile_user(struct tx *tx, struct profile *p)
{
	struct person_contact c;
	unsigned char	      key[SEAL_KEY_LEN];
	const char	     *at;
	int		      rc;

	/* A deleted account's too: its profile is erased at the provider
	 * (it has no chat), under the addresses the row remembers. */
	if ((rc = hooks_contact(tx, p->user_id, 1, &c)) == ERR_NOT_FOUND) {
		p->gone = 1; /* unknown, erased, or the key destroyed */
		return (OK);
	}
	if (rc != OK)
		return (rc);
	p->deleted = c.deleted; /* deleted, not erased (yet) */
	p->unproven = c.unproven;
	p->email = c.email;
	p->nickname = c.first_name;
	c.email = c.first_name = NULL;
	if ((rc = seal_key_load(tx, p->user_id, key)) == ERR_NOT_FOUND) {
		p->gone = 1; /* key destroyed */
		return (OK);
	}
	if (rc == OK)
		rc = profile_identities(tx, p, key);
	sodium_memzero(key, sizeof(key));
	if (rc != OK)
		return (rc);
	if (p->nickname == NULL || p->nickname[0] == '\0') {
		chat_secret_free(p->nickname);
		at = strchr(p->email, '@');
		p->nickname = strndup(p->email,
		    at != NULL ? (size_t)(at - p->email) : strlen(p->email));
		if (p->nickname == NULL)
			return (ERR_NOMEM);
	}
	return (OK);
}

/* Keyed BLAKE2b-256 of the people id and the profile, hex. */
void
chat_profile_digest(const struct profile *p, char out[CHAT_DIGEST_LEN])
{
	unsigned char		 h[32];
	crypto_generichash_state s;
	char			*text;

	text = json_dumps(p->data, JSON_COMPACT | JSON_SORT_KEYS);
	crypto_generichash_init(
	    &s, keyring_key(KEY_INDEX), SEAL_KEY_LEN, sizeof(h));
	crypto_generichash_update(
	    &s, (const unsigned char *)"chat_profile\n", 13);
	crypto_generichash_update(
	    &s, (const unsigned char *)p->email, strlen(p->email) + 1);
	if (text != NULL)
		crypto_generichash_update(
		    &s, (const unsigned char *)text, strlen(text));
	crypto_generichash_final(&s, h, sizeof(h));
	if (text == NULL)
		randombytes_buf(h, sizeof(h)); /* out of memory: never equal */
	hex_encode(h, sizeof(h), out);
	free(text);
}
