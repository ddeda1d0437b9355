#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"

static int mkdir_parent(const char *);

int
crypto_init(void)
{
	return (sodium_init() < 0 ? ERR_INTERNAL : OK);
}

static int
mkdir_parent(const char *path)
{
	char  dir[4096];
	char *slash;

	if (strlcpy_cb(dir, path, sizeof(dir)) >= sizeof(dir))
		return (-1);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return (0);
	*slash = '\0';
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return (-1);
	return (0);
}

int
crypto_master_key_load(const char *path, int generate,
    unsigned char key[MASTER_KEY_LEN], char *err, size_t errlen)
{
	char	    hex[2 * MASTER_KEY_LEN + 2];
	struct stat sb;
	ssize_t	    n;
	size_t	    len;
	int	    fd, rc = ERR_CONFIG;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno != ENOENT || !generate) {
			snprintf(err, errlen,
			    "master key: cannot read %s: %s%s", path,
			    strerror(errno),
			    errno == ENOENT ? " (required in production)" : "");
			return (ERR_CONFIG);
		}
		random_bytes(key, MASTER_KEY_LEN);
		hex_encode(key, MASTER_KEY_LEN, hex);
		hex[2 * MASTER_KEY_LEN] = '\n';
		if (mkdir_parent(path) == -1 ||
		    (fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			 0600)) == -1 ||
		    write(fd, hex, 2 * MASTER_KEY_LEN + 1) !=
			2 * MASTER_KEY_LEN + 1 ||
		    fsync(fd) == -1) {
			snprintf(err, errlen, "master key: cannot write %s: %s",
			    path, strerror(errno));
			if (fd != -1)
				close(fd);
			sodium_memzero(hex, sizeof(hex));
			sodium_memzero(key, MASTER_KEY_LEN);
			return (ERR_CONFIG);
		}
		close(fd);
		sodium_memzero(hex, sizeof(hex));
		log_warn("event=master_key_generated path=%s "
			 "msg=\"development only: back this file up; losing it "
			 "makes personal data unreadable\"",
		    path);
		return (OK);
	}
	if (fstat(fd, &sb) == -1 || (sb.st_mode & 077) != 0) {
		snprintf(err, errlen,
		    "master key: %s must be readable by its "
		    "owner only (chmod 600)",
		    path);
		goto out;
	}
	n = read(fd, hex, sizeof(hex) - 1);
	if (n < 2 * MASTER_KEY_LEN) {
		snprintf(err, errlen,
		    "master key: %s must hold 64 hex characters", path);
		goto out;
	}
	hex[n] = '\0';
	if (hex[n - 1] == '\n')
		hex[n - 1] = '\0';
	if (hex_decode(hex, key, MASTER_KEY_LEN, &len) != 0 ||
	    len != MASTER_KEY_LEN) {
		snprintf(err, errlen,
		    "master key: %s must hold 64 hex characters", path);
		goto out;
	}
	rc = OK;
out:
	sodium_memzero(hex, sizeof(hex));
	if (rc != OK)
		sodium_memzero(key, MASTER_KEY_LEN);
	close(fd);
	return (rc);
}

/* OWASP (2023): argon2id, m=19 MiB t=2 minimum; by default t=3, m=64 MiB. */
static unsigned long long pw_opslimit = 3;
static size_t		  pw_memlimit = 64 * 1024 * 1024;

void
crypto_password_params(unsigned long long opslimit, size_t memlimit)
{
	pw_opslimit = opslimit;
	pw_memlimit = memlimit;
}

void
crypto_seal(const unsigned char key[SEAL_KEY_LEN], const char *ad,
    const void *plain, size_t len, unsigned char *out)
{
	unsigned long long clen;

	out[0] = SEAL_VERSION;
	randombytes_buf(out + 1, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + 25, &clen, plain, len,
	    (const unsigned char *)ad, ad != NULL ? strlen(ad) : 0, NULL,
	    out + 1, key);
}

int
crypto_open(const unsigned char key[SEAL_KEY_LEN], const char *ad,
    const unsigned char *sealed, size_t len, void *out, size_t *outlen)
{
	unsigned long long plen;

	if (len < SEAL_OVERHEAD || sealed[0] != SEAL_VERSION)
		return (ERR_INVALID);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &plen, NULL,
		sealed + 25, len - 25, (const unsigned char *)ad,
		ad != NULL ? strlen(ad) : 0, sealed + 1, key) != 0)
		return (ERR_INVALID);
	if (outlen != NULL)
		*outlen = (size_t)plen;
	return (OK);
}

void
crypto_derive(const unsigned char master[MASTER_KEY_LEN], const char context[8],
    unsigned long long id, unsigned char out[SEAL_KEY_LEN])
{
	crypto_kdf_derive_from_key(out, SEAL_KEY_LEN, id, context, master);
}

void
crypto_blind_index(
    const unsigned char key[SEAL_KEY_LEN], const char *value, char out[65])
{
	unsigned char h[32];

	crypto_generichash(h, sizeof(h), (const unsigned char *)value,
	    strlen(value), key, SEAL_KEY_LEN);
	hex_encode(h, sizeof(h), out);
}

void
crypto_token_new(char token[TOKEN_LEN])
{
	unsigned char b[32];

	randombytes_buf(b, sizeof(b));
	sodium_bin2base64(token, TOKEN_LEN, b, sizeof(b),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(b, sizeof(b));
}

void
crypto_token_hash(const char *token, char hash[TOKEN_HASH_LEN])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
	hex_encode(h, sizeof(h), hash);
}

int
crypto_password_hash(const char *password, char out[PASSWORD_HASH_LEN])
{
	if (crypto_pwhash_str_alg(out, password, strlen(password), pw_opslimit,
		pw_memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0)
		return (ERR_NOMEM);
	return (OK);
}

int
crypto_password_verify(const char *hash, const char *password)
{
	if (crypto_pwhash_str_verify(hash, password, strlen(password)) != 0)
		return (ERR_UNAUTHORIZED);
	return (OK);
}

int
crypto_password_needs_rehash(const char *hash)
{
	return (crypto_pwhash_str_needs_rehash(
		    hash, pw_opslimit, pw_memlimit) != 0);
}

int
crypto_equal(const void *a, const void *b, size_t n)
{
	return (sodium_memcmp(a, b, n) == 0);
}
