/*
 * Personal data at rest: every user has a random 32-byte data key, stored
 * wrapped (sealed under keyring KEY_WRAP, bound to "user_keys:<user id>")
 * in user_keys. Personal fields of rows owned by that user are sealed with
 * it, each bound to "<table>.<column>:<row id>", so a sealed value copied
 * to another row or column does not open. Destroying the key makes every
 * such field unreadable (crypto-shredding).
 */
#ifndef RESOURCE_SEAL_H
#define RESOURCE_SEAL_H

#include <stddef.h>

#include "core/crypto.h"

struct tx;

/* Make and store a data key for user_id inside tx. */
int seal_key_create(struct tx *, const char *user_id);
/* Load and unwrap user_id's key; ERR_NOT_FOUND once destroyed. */
int seal_key_load(
    struct tx *, const char *user_id, unsigned char key[SEAL_KEY_LEN]);
/* Destroy user_id's key (crypto-shred); OK if already gone. */
int seal_key_destroy(struct tx *, const char *user_id);

/* Seal text for table.column of row_id: malloc'd blob in *out. */
int seal_field(const unsigned char key[SEAL_KEY_LEN], const char *table,
    const char *column, const char *row_id, const char *plain,
    unsigned char **out, size_t *outlen);
/* Open it into a malloc'd string; ERR_INVALID if it does not open. */
int seal_open_field(const unsigned char key[SEAL_KEY_LEN], const char *table,
    const char *column, const char *row_id, const void *sealed, size_t len,
    char **out);

#endif
