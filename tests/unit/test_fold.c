/* Unit tests for src/core/fold.c: Unicode simple case folding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/fold.h"

static void
code_points_fold_to_their_simple_folding(void **state)
{
	static const struct {
		uint32_t cp, want;
	} cases[] = {
		{ 'A', 'a' }, { 'Z', 'z' }, { 'a', 'a' }, { '@', '@' },
		{ '[', '[' }, { 0x00C4, 0x00E4 }, /* Ä */
		{ 0x00D6, 0x00F6 },		  /* Ö */
		{ 0x00D7, 0x00D7 },		  /* × is no letter */
		{ 0x00DE, 0x00FE },		  /* Þ */
		{ 0x00DF, 0x00DF }, /* ß has a full folding only */
		{ 0x00B5, 0x03BC }, /* micro sign: Greek mu */
		{ 0x0100, 0x0101 }, { 0x012E, 0x012F }, { 0x0101, 0x0101 },
		{ 0x0130, 0x0130 }, /* İ: full and Turkic foldings only */
		{ 0x0139, 0x013A }, { 0x0141, 0x0142 }, /* Ł */
		{ 0x0152, 0x0153 },			/* Œ */
		{ 0x0178, 0x00FF },			/* Ÿ */
		{ 0x017D, 0x017E },			/* Ž */
		{ 0x017F, 's' },			/* long s */
		{ 0x0391, 0x03B1 },			/* Α */
		{ 0x03A3, 0x03C3 }, { 0x03C2, 0x03C3 }, /* Σ and final ς */
		{ 0x03A9, 0x03C9 }, { 0x0386, 0x03AC }, /* Ά */
		{ 0x0410, 0x0430 }, { 0x042F, 0x044F }, /* А, Я */
		{ 0x0401, 0x0451 },			/* Ё */
		{ 0x0404, 0x0454 },			/* Є */
		{ 0x0460, 0x0461 }, { 0x04C0, 0x04CF }, /* Ӏ */
		{ 0x0531, 0x0561 },			/* Armenian */
		{ 0x1E9E, 0x00DF },			/* capital sharp s */
		{ 0x1EA0, 0x1EA1 },			/* Vietnamese Ạ */
		{ 0x2126, 0x03C9 },			/* Ohm sign */
		{ 0x212A, 'k' },			/* Kelvin sign */
		{ 0x212B, 0x00E5 },			/* Ångström sign */
		{ 0xFF21, 0xFF41 },			/* fullwidth A */
		{ 0x4E2D, 0x4E2D },			/* 中 */
		{ 0x1F600, 0x1F600 },
		{ 0x10400, 0x10400 }, /* Deseret: outside the covered blocks */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (fold_cp(cases[i].cp) != cases[i].want)
			fail_msg("U+%04X folds to U+%04X, not U+%04X",
			    (unsigned)cases[i].cp,
			    (unsigned)fold_cp(cases[i].cp),
			    (unsigned)cases[i].want);
}

static void
folded_keys_match_without_regard_to_case(void **state)
{
	static const struct {
		const char *a, *b;
		int	    same;
	} cases[] = {
		{ "Ärzte ohne Grenzen", "ärzte ohne grenzen", 1 },
		{ "ÄRZTE OHNE GRENZEN", "ärzte ohne grenzen", 1 },
		{ "Bloom", "BLOOM", 1 },
		{ "ΣΟΦΙΑ", "σοφια", 1 },
		{ "Москва", "МОСКВА", 1 },
		{ "Łódź", "ŁÓDŹ", 1 },
		{ "Straße", "STRASSE", 0 }, /* full folding is not done */
		{ "STRAẞE", "straße", 1 },
		{ "Ärzte", "A\xcc\x88rzte", 0 }, /* no normalisation */
		{ "Bloom", "Bloom ", 0 },
	};
	char   fa[64], fb[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(
		    fold_utf8(cases[i].a, strlen(cases[i].a), fa, sizeof(fa)),
		    OK);
		assert_int_equal(
		    fold_utf8(cases[i].b, strlen(cases[i].b), fb, sizeof(fb)),
		    OK);
		if ((strcmp(fa, fb) == 0) != cases[i].same)
			fail_msg("case %zu: \"%s\" / \"%s\"", i, fa, fb);
	}
	assert_int_equal(
	    fold_utf8("ÄRZTE", strlen("ÄRZTE"), fa, sizeof(fa)), OK);
	assert_string_equal(fa, "ärzte");
	assert_int_equal(fold_utf8("", 0, fa, sizeof(fa)), OK);
	assert_string_equal(fa, "");
}

static void
bad_utf8_and_small_buffers_are_refused(void **state)
{
	static const char *const bad[] = {
		"\x80",		    /* continuation first */
		"\xc0\xaf",	    /* overlong '/' */
		"\xe0\x80\xaf",	    /* overlong */
		"\xed\xa0\x80",	    /* surrogate U+D800 */
		"\xf4\x90\x80\x80", /* past U+10FFFF */
		"\xc3",		    /* truncated */
		"ab\xe2\x82",	    /* truncated at the end */
		"\xff",
	};
	char   out[32], big[FOLD_OUT_MAX(4)];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(out, 'x', sizeof(out));
		if (fold_utf8(bad[i], strlen(bad[i]), out, sizeof(out)) !=
			ERR_INVALID ||
		    out[0] != '\0')
			fail_msg("bad case %zu accepted", i);
	}
	/* A NUL inside the text is refused, not cut at. */
	assert_int_equal(fold_utf8("a\0b", 3, out, sizeof(out)), ERR_INVALID);
	/* "ABC" needs 4 bytes with the NUL. */
	assert_int_equal(fold_utf8("ABC", 3, out, 3), ERR_TOO_LARGE);
	assert_string_equal(out, "");
	assert_int_equal(fold_utf8("ABC", 3, out, 4), OK);
	assert_string_equal(out, "abc");
	assert_int_equal(fold_utf8("ABC", 3, out, 0), ERR_TOO_LARGE);
	/* Ⱥ Ⱦ (2 bytes each) fold to 3 bytes each: FOLD_OUT_MAX is enough. */
	assert_int_equal(
	    fold_utf8("\xc8\xba\xc8\xbe", 4, big, sizeof(big)), OK);
	assert_string_equal(big, "\xe2\xb1\xa5\xe2\xb1\xa6");
	assert_int_equal(
	    fold_utf8("\xc8\xba\xc8\xbe", 4, big, 6), ERR_TOO_LARGE);
	/* 4-byte code points pass through. */
	assert_int_equal(
	    fold_utf8("\xf0\x9f\x98\x80", 4, out, sizeof(out)), OK);
	assert_string_equal(out, "\xf0\x9f\x98\x80");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(code_points_fold_to_their_simple_folding),
		cmocka_unit_test(folded_keys_match_without_regard_to_case),
		cmocka_unit_test(bad_utf8_and_small_buffers_are_refused),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
