/*
 * libFuzzer target for partner access codes: the first byte picks the
 * input: a code as typed (0), the body of validate-code and assign (1),
 * or the partner members of a registration body (2).
 *
 * A code normalises exactly when a plain reference says it should (at
 * most 64 bytes; blanks around it dropped, 6 characters of the alphabet
 * in either case), to the upper-case code, which normalises to itself,
 * as does any spelling of it in lower case with blanks around. A body
 * that passes gives a normalised code and a partner of 1..256 bytes
 * taken from it; one refused has entries exactly when invalid.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/util.h"
#include "partners/partners_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The rule, written plainly: 1 when s is a code. */
static int
ref_valid(const char *s)
{
	size_t n = strlen(s), a = 0, i;

	if (n > PARTNER_CODE_INPUT_MAX)
		return (0);
	while (a < n && isspace((unsigned char)s[a]))
		a++;
	while (n > a && isspace((unsigned char)s[n - 1]))
		n--;
	if (n - a != PARTNER_CODE_LEN)
		return (0);
	for (i = a; i < n; i++)
		if (s[i] == '\0' ||
		    strchr(PARTNER_CODE_ALPHABET,
			toupper((unsigned char)s[i])) == NULL)
			return (0);
	return (1);
}

static void
check_code(const char *code)
{
	char   again[PARTNER_CODE_LEN + 1], spelt[32];
	size_t i;

	if (strlen(code) != PARTNER_CODE_LEN ||
	    strspn(code, PARTNER_CODE_ALPHABET) != PARTNER_CODE_LEN)
		abort();
	if (partner_code_normalise(code, again) != OK ||
	    strcmp(again, code) != 0)
		abort();
	spelt[0] = ' ';
	for (i = 0; i < PARTNER_CODE_LEN; i++)
		spelt[i + 1] = (char)tolower((unsigned char)code[i]);
	strlcpy_cb(spelt + PARTNER_CODE_LEN + 1, "\t\n", 3);
	if (partner_code_normalise(spelt, again) != OK ||
	    strcmp(again, code) != 0)
		abort();
}

static void
typed(const uint8_t *data, size_t size)
{
	char  *s, out[PARTNER_CODE_LEN + 1];
	size_t i, a;
	int    rc;

	if ((s = malloc(size + 1)) == NULL)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	rc = partner_code_normalise(s, out);
	if ((rc == OK) != ref_valid(s) || (rc != OK && rc != ERR_INVALID))
		abort();
	if (rc == OK) {
		check_code(out);
		for (a = 0; isspace((unsigned char)s[a]); a++)
			;
		for (i = 0; i < PARTNER_CODE_LEN; i++)
			if (toupper((unsigned char)s[a + i]) != out[i])
				abort();
	}
	free(s);
}

static void
body(const uint8_t *data, size_t size, int reg)
{
	struct partner_code_input in;
	json_t			 *b, *errs, *v;
	const char		 *key;
	int			  rc;

	if ((b = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL)) ==
	    NULL)
		return;
	errs = json_array();
	rc = reg ? partner_register_body(b, &in, errs)
		 : partner_code_body(b, &in, errs);
	if ((rc == ERR_INVALID) != (json_array_size(errs) > 0))
		abort();
	if (rc == ERR_MALFORMED && !in.bad_code && json_is_object(b))
		abort();
	if (rc != OK && rc != ERR_INVALID && rc != ERR_MALFORMED)
		abort();
	if (rc != OK)
		goto out;
	if (in.bad_code || !json_is_object(b))
		abort();
	if (in.code[0] != '\0')
		check_code(in.code);
	else if (!reg)
		abort(); /* validate and assign need one */
	if (in.partner != NULL &&
	    (strlen(in.partner) < 1 ||
		strlen(in.partner) > PARTNER_NAME_MAX * 4 ||
		in.partner != json_string_value(json_object_get(b, "partner"))))
		abort();
	if (in.partner_id != NULL && (!reg || !uuid_valid(in.partner_id)))
		abort();
	if (!reg)
		json_object_foreach(b, key, v)
			if (strcmp(key, "code") != 0 &&
			    strcmp(key, "partner") != 0)
				abort();
out:
	json_decref(errs);
	json_decref(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return (0);
	switch (data[0] % 3) {
	case 0:
		typed(data + 1, size - 1);
		break;
	default:
		body(data + 1, size - 1, data[0] % 3 == 2);
		break;
	}
	return (0);
}
