/*
 * Cryptography through libsodium: the master key, random tokens, hashes.
 * Secrets are wiped with sodium_memzero and never logged.
 */
#ifndef CORE_CRYPTO_H
#define CORE_CRYPTO_H

#include <stddef.h>

#define MASTER_KEY_LEN 32

/* Call once before any other crypto or random function. */
int crypto_init(void);
/*
 * Load the master key (64 hex characters, optional trailing newline) from
 * path. When the file is missing and generate is set, write a new random
 * key there (mode 0600, parent folder created) and warn; otherwise fail.
 * The file must not be readable by group or others. err gets one line.
 */
int crypto_master_key_load(const char *path, int generate,
    unsigned char key[MASTER_KEY_LEN], char *err, size_t errlen);

/*
 * Sealing personal data: XChaCha20-Poly1305 (IETF AEAD). The sealed form
 * is one byte of version, the 24-byte nonce, then ciphertext and tag.
 * ad binds the value to its place ("users.email:<row id>"), so a sealed
 * value copied to another row or column does not open.
 */
#define SEAL_KEY_LEN  32
#define SEAL_VERSION  1
#define SEAL_OVERHEAD (1 + 24 + 16)

/* out must hold len + SEAL_OVERHEAD bytes. */
void crypto_seal(const unsigned char key[SEAL_KEY_LEN], const char *ad,
    const void *plain, size_t len, unsigned char *out);
/* out must hold len - SEAL_OVERHEAD bytes; ERR_INVALID if it does not open. */
int crypto_open(const unsigned char key[SEAL_KEY_LEN], const char *ad,
    const unsigned char *sealed, size_t len, void *out, size_t *outlen);

/* Derive a purpose key from the master key (BLAKE2b KDF, 8-char context). */
void crypto_derive(const unsigned char master[MASTER_KEY_LEN],
    const char context[8], unsigned long long id,
    unsigned char out[SEAL_KEY_LEN]);

/* Keyed blind index: hex of BLAKE2b-256(key, normalised value), 65 bytes. */
void crypto_blind_index(
    const unsigned char key[SEAL_KEY_LEN], const char *value, char out[65]);

/*
 * Tokens: 32 random bytes as URL-safe base64 without padding (43 chars +
 * NUL) and the hex SHA-256 of the token text (65 bytes), which is what
 * is stored.
 */
#define TOKEN_LEN      44
#define TOKEN_HASH_LEN 65
void crypto_token_new(char token[TOKEN_LEN]);
void crypto_token_hash(const char *token, char hash[TOKEN_HASH_LEN]);

/*
 * Passwords: argon2id through libsodium at OWASP's parameters or above
 * (opslimit 3, memlimit 64 MiB, or stronger when configured). The string
 * form carries its parameters, so crypto_password_needs_rehash can tell.
 */
#define PASSWORD_HASH_LEN 128
/* Set the argon2id cost for new hashes (defaults: 3 passes, 64 MiB). */
void crypto_password_params(unsigned long long opslimit, size_t memlimit);
int  crypto_password_hash(const char *password, char out[PASSWORD_HASH_LEN]);
/* OK when it matches, ERR_UNAUTHORIZED when not. */
int crypto_password_verify(const char *hash, const char *password);
int crypto_password_needs_rehash(const char *hash);
/* Constant-time equality of two equal-length buffers; 1 if equal. */
int crypto_equal(const void *, const void *, size_t);

#endif
