/*
 * The chat profile of one person (see chatsync.c): their own fields from
 * the user row, their email (the provider's people id) and first name
 * (the nickname, else the part of the address before the @) opened with
 * their data key, the parts the modules add (hooks_profile_build), and
 * what the sync row remembers (the last digest; the addresses the
 * provider may hold a profile under, opened).
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
static int     profile_user(struct tx *, struct profile *);
static json_t *iso_or_empty(struct stmt *, int);

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
	p->gone = p->deleted = 0;
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

static json_t *
iso_or_empty(struct stmt *st, int i)
{
	char iso[ISO_TIME_LEN];

	if (store_col_is_null(st, i))
		return (json_string(""));
	return (json_string(time_format_iso(store_col_int64(st, i), iso)));
}

/* The user's own fields, and their email and name opened. */
static int
profile_user(struct tx *tx, struct profile *p)
{
	struct stmt  *st;
	unsigned char key[SEAL_KEY_LEN];
	const void   *b;
	const char   *at;
	size_t	      n = 0;
	int	      rc;

	st = store_prepare(tx,
	    "SELECT email, first_name, created_at, "
	    "last_active_at, email_reminders_frequency, contact_permission, "
	    "service_emails_permission, deleted_at FROM users WHERE id = ?");
	store_bind_text(st, 1, p->user_id);
	if ((rc = store_step(st)) != STORE_ROW) {
		store_finalize(st);
		if (rc != STORE_DONE)
			return (rc);
		p->gone = 1;
		return (OK);
	}
	if (store_col_is_null(st, 0)) {
		store_finalize(st);
		p->gone = 1; /* erased */
		return (OK);
	}
	if (!store_col_is_null(st, 7)) {
		store_finalize(st);
		p->deleted = 1; /* deleted, not erased (yet) */
		return (OK);
	}
	json_object_set_new(p->data, "signed_up_at", iso_or_empty(st, 2));
	json_object_set_new(p->data, "last_active_at", iso_or_empty(st, 3));
	json_object_set_new(p->data, "email_reminders_frequency",
	    json_string(
		store_col_text(st, 4) != NULL ? store_col_text(st, 4) : ""));
	json_object_set_new(p->data, "marketing_permission",
	    json_boolean(store_col_int64(st, 5) != 0));
	json_object_set_new(p->data, "service_emails_permission",
	    json_boolean(store_col_int64(st, 6) != 0));
	if ((rc = seal_key_load(tx, p->user_id, key)) == ERR_NOT_FOUND) {
		store_finalize(st);
		p->gone = 1; /* key destroyed */
		return (OK);
	}
	if (rc == OK) {
		b = store_col_blob(st, 0, &n);
		rc = seal_open_field(
		    key, "users", "email", p->user_id, b, n, &p->email);
	}
	if (rc == OK && !store_col_is_null(st, 1)) {
		b = store_col_blob(st, 1, &n);
		if (seal_open_field(key, "users", "first_name", p->user_id, b,
			n, &p->nickname) != OK)
			p->nickname = NULL;
	}
	store_finalize(st);
	if (rc == OK)
		rc = profile_identities(tx, p, key);
	sodium_memzero(key, sizeof(key));
	if (rc != OK)
		return (rc);
	if (p->nickname == NULL || p->nickname[0] == '\0') {
		free(p->nickname);
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
