/*
 * The partners module's parsers of outside input, kept pure (no
 * database, no HTTP, no clock) so that the handlers and the fuzz targets
 * (fuzz/fuzz_codes.c) run the same code:
 *
 *	partner access codes as typed, and the bodies that carry them:
 *	    validate-code and assign, and registration's partner fields
 *	    (codes.c)
 *
 * Every value is bounded; a refusal names each bad field and never
 * quotes the input.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/mail.h"
#include "core/util.h"
#include "module.h"
#include "partners/partners_int.h"

static int partner_member(json_t *, const char *, const char **, json_t *);

/* Access codes */

int
partner_code_normalise(const char *in, char out[PARTNER_CODE_LEN + 1])
{
	size_t start = 0, n, i;
	int    c;

	if (in == NULL || (n = strlen(in)) > PARTNER_CODE_INPUT_MAX)
		return (ERR_INVALID);
	while (start < n && isspace((unsigned char)in[start]))
		start++;
	while (n > start && isspace((unsigned char)in[n - 1]))
		n--;
	if (n - start != PARTNER_CODE_LEN)
		return (ERR_INVALID);
	for (i = 0; i < PARTNER_CODE_LEN; i++) {
		c = toupper((unsigned char)in[start + i]);
		if (c == '\0' || strchr(PARTNER_CODE_ALPHABET, c) == NULL)
			return (ERR_INVALID);
		out[i] = (char)c;
	}
	out[PARTNER_CODE_LEN] = '\0';
	return (OK);
}

/* v, when not NULL, a partner's name or id: 1..PARTNER_NAME_MAX * 4 bytes. */
static int
partner_member(json_t *v, const char *field, const char **out, json_t *errs)
{
	if (v == NULL)
		return (OK);
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > PARTNER_NAME_MAX * 4) {
		partners_err(errs, field, "type", "the partner's name or id");
		return (ERR_INVALID);
	}
	*out = json_string_value(v);
	return (OK);
}

int
partner_code_body(json_t *body, struct partner_code_input *in, json_t *errs)
{
	const char *key;
	json_t	   *v;
	int	    unknown = 0;

	memset(in, 0, sizeof(*in));
	if (!json_is_object(body))
		return (ERR_MALFORMED);
	json_object_foreach(body, key, v) {
		if (strcmp(key, "partner") == 0)
			partner_member(v, "partner", &in->partner, errs);
		else if (strcmp(key, "code") != 0)
			unknown = 1;
	}
	/* One entry, whatever the members: the caller's keys are never
	 * quoted back (the route is public). */
	if (unknown)
		partners_err(errs, "", "unknown_field",
		    "the body holds code "
		    "and partner only");
	if (json_array_size(errs) > 0)
		return (ERR_INVALID);
	if (partner_code_normalise(
		json_string_value(json_object_get(body, "code")), in->code) !=
	    OK) {
		in->bad_code = 1;
		return (ERR_MALFORMED);
	}
	return (OK);
}

int
partner_register_body(json_t *body, struct partner_code_input *in, json_t *errs)
{
	json_t *cv, *iv;

	memset(in, 0, sizeof(*in));
	if (!json_is_object(body))
		return (ERR_MALFORMED);
	cv = json_object_get(body, "partner_access_code");
	iv = json_object_get(body, "partner_id");
	if (iv != NULL) {
		if (!json_is_string(iv) || !uuid_valid(json_string_value(iv)))
			partners_err(errs, "partner_id", "invalid_format",
			    "must be a UUID");
		else
			in->partner_id = json_string_value(iv);
	}
	partner_member(
	    json_object_get(body, "partner"), "partner", &in->partner, errs);
	if (json_array_size(errs) > 0)
		return (ERR_INVALID);
	if (cv == NULL || json_is_null(cv))
		return (OK);
	if (partner_code_normalise(json_string_value(cv), in->code) != OK) {
		in->bad_code = 1;
		return (ERR_MALFORMED);
	}
	return (OK);
}
