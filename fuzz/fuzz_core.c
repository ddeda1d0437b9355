/*
 * libFuzzer target for the core parsers of outside input: ISO 8601 times
 * (query strings, JSON fields), integers (query strings, config), UUIDs
 * (paths), hex, configuration values as they come from the
 * environment, and case folding (partner names from paths and bodies):
 * what folds, folds again to itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/err.h"
#include "core/fold.h"
#include "core/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	     *s, *f1, *f2, err[256], iso[ISO_TIME_LEN];
	unsigned char bin[64];
	int64_t	      v;
	size_t	      n;

	if (size > 4096 || (s = malloc(size + 1)) == NULL)
		return (0);
	memcpy(s, data, size);
	s[size] = '\0';
	if (time_parse_iso(s, &v) == 0)
		time_format_iso(v, iso);
	(void)parse_int64(s, INT64_MIN, INT64_MAX, &v);
	(void)uuid_valid(s);
	(void)hex_decode(s, bin, sizeof(bin), &n);
	f1 = malloc(FOLD_OUT_MAX(size));
	f2 = malloc(FOLD_OUT_MAX(FOLD_OUT_MAX(size)));
	if (f1 != NULL && f2 != NULL &&
	    fold_utf8((const char *)data, size, f1, FOLD_OUT_MAX(size)) == OK &&
	    (fold_utf8(f1, strlen(f1), f2, FOLD_OUT_MAX(FOLD_OUT_MAX(size))) !=
		    OK ||
		strcmp(f1, f2) != 0))
		abort();
	free(f1);
	free(f2);
	if (size > 0) {
		static const char *keys[] = { "CAREBASE_PORT",
			"CAREBASE_LOG_LEVEL", "DATABASE_URL",
			"CAREBASE_SMTP_TLS", "CAREBASE_BODY_LIMIT" };
		const char	  *k = keys[data[0] % 5];

		setenv(k, s + 1, 1);
		(void)config_load(0, NULL, err, sizeof(err));
		unsetenv(k);
		config_free();
	}
	free(s);
	return (0);
}
