/*
 * Partner access codes: normalisation (case, blanks, the alphabet without
 * 0/O/1/I/L, length), generation (only the alphabet, every symbol drawn,
 * no repeats in a small sample) and the keyed hash (depends on the key,
 * the same for any spelling of one code, never a plain SHA-256).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/keyring.h"
#include "core/util.h"
#include "partners/partners_int.h"

static void
test_normalise(void **state)
{
	static const struct {
		const char *in;
		const char *out; /* NULL: refused */
	} cases[] = {
		{ "ABC234", "ABC234" },
		{ "abc234", "ABC234" },
		{ "  aBc234\t\n", "ABC234" },
		{ "XYZ987", "XYZ987" },
		{ "", NULL },
		{ "ABC23", NULL },
		{ "ABC2345", NULL },
		{ "ABC0EF", NULL },
		{ "ABCOEF", NULL },
		{ "ABC1EF", NULL },
		{ "ABCIEF", NULL },
		{ "ABCLEF", NULL },
		{ "abclef", NULL },
		{ "AB C23", NULL },
		{ "AB-234", NULL },
		{ "\xc3\x84"
		  "BC23",
		    NULL },
		{ "ABC234                                                      "
		  "    "
		  "          ",
		    NULL },
	};
	char   out[PARTNER_CODE_LEN + 1];
	size_t i;

	(void)state;
	assert_int_equal(partner_code_normalise(NULL, out), ERR_INVALID);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = partner_code_normalise(cases[i].in, out);

		if (cases[i].out == NULL) {
			if (rc != ERR_INVALID)
				fail_msg(
				    "case %zu (%s) accepted", i, cases[i].in);
		} else if (rc != OK || strcmp(out, cases[i].out) != 0)
			fail_msg("case %zu (%s) gave %d %s", i, cases[i].in, rc,
			    rc == OK ? out : "-");
	}
}

static void
test_alphabet(void **state)
{
	const char *a = PARTNER_CODE_ALPHABET;
	const char *p;

	(void)state;
	assert_int_equal(strlen(a), 31);
	for (p = "0O1IL"; *p != '\0'; p++)
		assert_null(strchr(a, *p));
}

static void
test_new(void **state)
{
	char   code[PARTNER_CODE_LEN + 1], norm[PARTNER_CODE_LEN + 1];
	char   seen[2000][PARTNER_CODE_LEN + 1];
	int    counts[256] = { 0 };
	size_t i, j, n = sizeof(seen) / sizeof(seen[0]);

	(void)state;
	for (i = 0; i < n; i++) {
		partner_code_new(code);
		assert_int_equal(strlen(code), PARTNER_CODE_LEN);
		assert_int_equal(partner_code_normalise(code, norm), OK);
		assert_string_equal(code, norm);
		for (j = 0; j < PARTNER_CODE_LEN; j++)
			counts[(unsigned char)code[j]]++;
		memcpy(seen[i], code, sizeof(code));
	}
	/* 12,000 draws over 31 symbols: each about 387 times. */
	for (j = 0; j < strlen(PARTNER_CODE_ALPHABET); j++) {
		int c = counts[(unsigned char)PARTNER_CODE_ALPHABET[j]];

		if (c < 250 || c > 550)
			fail_msg("symbol %c drawn %d times",
			    PARTNER_CODE_ALPHABET[j], c);
	}
	/* 2,000 codes from 887 million: a repeat is ~0.2% likely; allow one. */
	for (i = 0, j = 0; i < n; i++) {
		size_t k;

		for (k = i + 1; k < n; k++)
			if (strcmp(seen[i], seen[k]) == 0)
				j++;
	}
	assert_true(j <= 1);
}

static void
test_hash(void **state)
{
	unsigned char master[MASTER_KEY_LEN];
	char	      h1[PARTNER_CODE_HASH_LEN], h2[PARTNER_CODE_HASH_LEN];
	char	      h3[PARTNER_CODE_HASH_LEN], plain[65];
	unsigned char d[crypto_hash_sha256_BYTES];

	(void)state;
	memset(master, 7, sizeof(master));
	keyring_init(master);
	partner_code_hash("ABC234", h1);
	partner_code_hash("ABC234", h2);
	assert_string_equal(h1, h2);
	assert_int_equal(strlen(h1), 64);
	partner_code_hash("ABC235", h3);
	assert_string_not_equal(h1, h3);
	crypto_hash_sha256(d, (const unsigned char *)"ABC234", 6);
	hex_encode(d, sizeof(d), plain);
	assert_string_not_equal(h1, plain);
	/* Another master key: another hash. */
	keyring_wipe();
	memset(master, 8, sizeof(master));
	keyring_init(master);
	partner_code_hash("ABC234", h2);
	assert_string_not_equal(h1, h2);
	keyring_wipe();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalise),
		cmocka_unit_test(test_alphabet),
		cmocka_unit_test(test_new),
		cmocka_unit_test(test_hash),
	};

	if (crypto_init() != OK)
		return (1);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
