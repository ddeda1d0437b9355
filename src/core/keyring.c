#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/err.h"
#include "core/keyring.h"

static unsigned char keys[KEY_PURPOSE_COUNT][SEAL_KEY_LEN];
static int	     ready;

void
keyring_init(const unsigned char master[MASTER_KEY_LEN])
{
	crypto_derive(master, "cbwrap__", 1, keys[KEY_WRAP]);
	crypto_derive(master, "cbindex_", 2, keys[KEY_INDEX]);
	crypto_derive(master, "cbsystem", 3, keys[KEY_SYSTEM]);
	ready = 1;
}

const unsigned char *
keyring_key(enum key_purpose p)
{
	if (!ready || p < 0 || p >= KEY_PURPOSE_COUNT)
		return (NULL);
	return (keys[p]);
}

void
keyring_wipe(void)
{
	sodium_memzero(keys, sizeof(keys));
	ready = 0;
}

int
keyring_seal_text(enum key_purpose p, const char *ad, const char *plain,
    unsigned char **out, size_t *outlen)
{
	const unsigned char *k;
	size_t		     n = strlen(plain);

	if ((k = keyring_key(p)) == NULL)
		return (ERR_INTERNAL);
	if ((*out = malloc(n + SEAL_OVERHEAD)) == NULL)
		return (ERR_NOMEM);
	crypto_seal(k, ad, plain, n, *out);
	*outlen = n + SEAL_OVERHEAD;
	return (OK);
}

int
keyring_open_text(enum key_purpose p, const char *ad,
    const unsigned char *sealed, size_t len, char **out)
{
	const unsigned char *k;
	size_t		     n;

	*out = NULL;
	if ((k = keyring_key(p)) == NULL)
		return (ERR_INTERNAL);
	if (sealed == NULL || len < SEAL_OVERHEAD)
		return (ERR_INVALID);
	if ((*out = malloc(len - SEAL_OVERHEAD + 1)) == NULL)
		return (ERR_NOMEM);
	if (crypto_open(k, ad, sealed, len, *out, &n) != OK) {
		free(*out);
		*out = NULL;
		return (ERR_INVALID);
	}
	(*out)[n] = '\0';
	return (OK);
}

void
keyring_email_index(const char *email, char out[65])
{
	char   norm[320] = { 0 };
	size_t i = 0, n;

	while (*email != '\0' && isspace((unsigned char)*email))
		email++;
	for (; email[i] != '\0' && i + 1 < sizeof(norm); i++)
		norm[i] = (char)tolower((unsigned char)email[i]);
	n = i;
	while (n > 0 && isspace((unsigned char)norm[n - 1]))
		n--;
	norm[n] = '\0';
	crypto_blind_index(keys[KEY_INDEX], norm, out);
	sodium_memzero(norm, sizeof(norm));
}

void
keyring_text_index(const char *value, char out[65])
{
	crypto_blind_index(keys[KEY_INDEX], value, out);
}
