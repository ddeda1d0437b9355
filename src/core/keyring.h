/*
 * The keys carebase derives from its master key, held for the life of the
 * process. Purpose keys are derived with libsodium's KDF, so the master
 * key itself is used for nothing else and can be wiped after start-up.
 *
 *	KEY_WRAP	wraps each user's data key (users' personal fields)
 *	KEY_INDEX	keyed blind indexes (find a user by email; count
 *			failed logins by client address)
 *	KEY_SYSTEM	seals personal data that belongs to no one user yet
 *			(email_log recipients and template variables)
 */
#ifndef CORE_KEYRING_H
#define CORE_KEYRING_H

#include "core/crypto.h"

enum key_purpose { KEY_WRAP = 0, KEY_INDEX, KEY_SYSTEM, KEY_PURPOSE_COUNT };

/* Derive every purpose key from master; call once at start-up. */
void keyring_init(const unsigned char master[MASTER_KEY_LEN]);
/* Borrowed; valid until keyring_wipe. NULL before keyring_init. */
const unsigned char *keyring_key(enum key_purpose);
void		     keyring_wipe(void);

/*
 * Seal text under a purpose key with ad binding it to its place
 * ("email_log.recipient:<id>"). Returns a malloc'd blob of
 * strlen(plain) + SEAL_OVERHEAD bytes in *out.
 */
int keyring_seal_text(enum key_purpose, const char *ad, const char *plain,
    unsigned char **out, size_t *outlen);
/* Open it again into a malloc'd NUL-terminated string. */
int keyring_open_text(enum key_purpose, const char *ad,
    const unsigned char *sealed, size_t len, char **out);
/* Blind index of a normalised (lower-cased, trimmed) email: 65 bytes hex. */
void keyring_email_index(const char *email, char out[65]);
/* Blind index of value as it is (a client address's "ip:<limit key>",
 * login throttling): 65 bytes hex. */
void keyring_text_index(const char *value, char out[65]);

#endif
