/*
 * Password rules: 12 to 128 characters counted as Unicode code points of
 * valid UTF-8, never truncated, any character allowed, refused when in the
 * common-password list (Debian's john-data password.lst, compiled in) or
 * equal to the email address or its local part, case-insensitively.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/crypto.h"
#include "core/embedded.h"
#include "core/err.h"
#include "core/log.h"
#include "people/people_int.h"

#define COMMON_LIST_PATH "/usr/share/john/password.lst"
#define COMMON_COMMENT	 "#!comment:"
#define COMMON_SLOTS	 16384 /* power of two, > 2x the list */
#define COMMON_MAX_LEN	 64    /* longer entries are not kept */

static void	common_build(void);
static void	common_add(const char *, size_t);
static uint32_t common_hash(const char *, size_t);
static void	lower_ascii(char *, const char *, size_t);
static int	equal_nocase(const char *, size_t, const char *, size_t);
static void	dummy_build(void);

static char	     *common_set[COMMON_SLOTS];
static pthread_once_t common_once = PTHREAD_ONCE_INIT;
static char	      dummy_hash[PASSWORD_HASH_LEN];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

int
people_password_check(
    const char *pw, size_t len, const char *email, const char **why)
{
	const char *at;
	long	    n;

	*why = NULL;
	if (memchr(pw, '\0', len) != NULL) {
		*why = "contains_nul";
		return (ERR_INVALID);
	}
	if ((n = people_utf8_count(pw, len)) < 0)
		*why = "not_utf8";
	else if (n < PEOPLE_PASSWORD_MIN)
		*why = "too_short";
	else if (n > PEOPLE_PASSWORD_MAX)
		*why = "too_long";
	else if (people_password_common(pw))
		*why = "common";
	else if (email != NULL &&
	    (equal_nocase(pw, len, email, strlen(email)) ||
		((at = strchr(email, '@')) != NULL &&
		    equal_nocase(pw, len, email, (size_t)(at - email)))))
		*why = "same_as_email";
	return (*why == NULL ? OK : ERR_INVALID);
}

/* Strict UTF-8 (no overlongs, surrogates or values past U+10FFFF). */
long
people_utf8_count(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t		     i = 0, k, need;
	uint32_t	     cp, min;
	long		     n = 0;

	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			n++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0) {
			need = 1, cp = p[i] & 0x1f, min = 0x80;
		} else if ((p[i] & 0xf0) == 0xe0) {
			need = 2, cp = p[i] & 0x0f, min = 0x800;
		} else if ((p[i] & 0xf8) == 0xf0) {
			need = 3, cp = p[i] & 0x07, min = 0x10000;
		} else
			return (-1);
		if (len - i <= need)
			return (-1);
		for (k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return (-1);
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return (-1);
		i += need + 1;
		n++;
	}
	return (n);
}

int
people_password_common(const char *pw)
{
	char	 low[COMMON_MAX_LEN + 1];
	size_t	 len = strlen(pw);
	uint32_t h;

	pthread_once(&common_once, common_build);
	if (len == 0 || len > COMMON_MAX_LEN)
		return (0);
	lower_ascii(low, pw, len);
	for (h = common_hash(low, len) & (COMMON_SLOTS - 1);
	     common_set[h] != NULL; h = (h + 1) & (COMMON_SLOTS - 1))
		if (strcmp(common_set[h], low) == 0)
			return (1);
	return (0);
}

const char *
people_password_dummy(void)
{
	pthread_once(&dummy_once, dummy_build);
	return (dummy_hash);
}

static void
dummy_build(void)
{
	char	pw[33];
	uint8_t raw[16];

	/* A random password nobody knows, hashed at today's parameters. */
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(pw, sizeof(pw), raw, sizeof(raw));
	if (crypto_password_hash(pw, dummy_hash) != OK)
		log_error("event=dummy_hash_failed");
	sodium_memzero(pw, sizeof(pw));
}

static void
common_build(void)
{
	const struct embedded_file *f;
	const char		   *p, *end, *nl;
	size_t			    clen = strlen(COMMON_COMMENT);

	if ((f = embedded_find(COMMON_LIST_PATH)) == NULL) {
		log_warn(
		    "event=common_passwords_missing path=%s", COMMON_LIST_PATH);
		return;
	}
	for (p = f->data, end = f->data + f->len; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if ((size_t)(nl - p) >= clen &&
		    memcmp(p, COMMON_COMMENT, clen) == 0)
			continue;
		common_add(p,
		    (size_t)(nl > p && nl[-1] == '\r' ? nl - p - 1 : nl - p));
	}
}

static void
common_add(const char *s, size_t len)
{
	char	     *low;
	uint32_t      h;
	static size_t used;

	if (len == 0 || len > COMMON_MAX_LEN || used >= COMMON_SLOTS / 2)
		return;
	if ((low = malloc(len + 1)) == NULL)
		return;
	lower_ascii(low, s, len);
	for (h = common_hash(low, len) & (COMMON_SLOTS - 1);
	     common_set[h] != NULL; h = (h + 1) & (COMMON_SLOTS - 1))
		if (strcmp(common_set[h], low) == 0) {
			free(low);
			return;
		}
	common_set[h] = low;
	used++;
}

/* FNV-1a */
static uint32_t
common_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	size_t	 i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return (h);
}

static void
lower_ascii(char *dst, const char *src, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		dst[i] = (src[i] >= 'A' && src[i] <= 'Z') ? (char)(src[i] + 32)
							  : src[i];
	dst[len] = '\0';
}

static int
equal_nocase(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i;
	char   x, y;

	if (alen != blen || alen == 0)
		return (0);
	for (i = 0; i < alen; i++) {
		x = (a[i] >= 'A' && a[i] <= 'Z') ? (char)(a[i] + 32) : a[i];
		y = (b[i] >= 'A' && b[i] <= 'Z') ? (char)(b[i] + 32) : b[i];
		if (x != y)
			return (0);
	}
	return (1);
}
