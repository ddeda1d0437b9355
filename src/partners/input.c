/*
 * The partners module's parsers of outside input, kept pure (no
 * database, no HTTP, no clock) so that the handlers and the fuzz targets
 * (fuzz/fuzz_bookings.c, fuzz_codes.c) run the same code:
 *
 *	the booking system's webhook payload and its timestamp (bookings.c)
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
#include "ops/inbox.h"
#include "partners/partners_int.h"

static int  text_ok(json_t *, size_t, size_t);
static int  code_ok(const char *);
static int  tz_ok(const char *);
static void time_member(json_t *, json_t *, const char *, json_t *);
static int  payload_check(json_t *, json_t *, struct inbox_result *);
static int  partner_member(json_t *, const char *, const char **, json_t *);

static const char *const actions[] = { "NEW_BOOKING", "UPDATED_BOOKING",
	"CANCELLED_BOOKING", NULL };

/* The booking webhook */

int
booking_stamp_parse(const char *s, int64_t *ms)
{
	int64_t secs;
	size_t	i, n = strlen(s);

	for (i = 0; i < n && isdigit((unsigned char)s[i]); i++)
		;
	if (n > 0 && i == n) {
		if (parse_int64(s, 0, BOOKING_TIME_MAX_MS / 1000, &secs) != 0)
			return (-1);
		*ms = secs * 1000;
		return (0);
	}
	return (time_parse_iso(s, ms));
}

/* v is a string of min..max code points without control characters. */
static int
text_ok(json_t *v, size_t min, size_t max)
{
	const unsigned char *s;
	size_t		     n = 0;

	if (!json_is_string(v))
		return (0);
	for (s = (const unsigned char *)json_string_value(v); *s != '\0'; s++) {
		if (*s < 0x20 || *s == 0x7f)
			return (0);
		if ((*s & 0xc0) != 0x80)
			n++;
	}
	return (n >= min && n <= max);
}

static int
code_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > BOOKING_CODE_MAX)
		return (0);
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return (0);
	return (1);
}

/* An IANA zone name: letters, digits, '/', '_', '+', '-'. */
static int
tz_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > BOOKING_TZ_MAX)
		return (0);
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) &&
		    strchr("/_+-", s[i]) == NULL)
			return (0);
	return (1);
}

/* An ISO 8601 time member into work as ms, or an error entry. */
static void
time_member(json_t *p, json_t *work, const char *name, json_t *errs)
{
	json_t *v = json_object_get(p, name);
	int64_t ms;

	if (v == NULL || json_is_null(v))
		return;
	if (!json_is_string(v) ||
	    time_parse_iso(json_string_value(v), &ms) != 0)
		partners_err(
		    errs, name, "invalid_format", "an ISO 8601 date-time");
	else if (ms < BOOKING_TIME_MIN_MS || ms >= BOOKING_TIME_MAX_MS)
		partners_err(
		    errs, name, "out_of_range", "between 2000 and 2100");
	else
		json_object_set_new(work, name, json_integer(ms));
}

/*
 * Check p and copy what is kept into work. Required: action and
 * booking_code always; for NEW_BOOKING every member but user_id; for
 * UPDATED_BOOKING the two times. Every member sent is checked.
 */
static int
payload_check(json_t *p, json_t *work, struct inbox_result *r)
{
	static const struct {
		const char *name;
		size_t	    max;
		int	    email;
	} texts[] = {
		{ "service_name", BOOKING_TEXT_MAX, 0 },
		{ "service_provider_name", BOOKING_TEXT_MAX, 0 },
		{ "service_provider_email", BOOKING_EMAIL_MAX, 1 },
		{ "client_email", BOOKING_EMAIL_MAX, 1 },
	};
	static const char *const new_needs[] = { "client_email",
		"client_timezone", "service_name", "service_provider_name",
		"service_provider_email", "start_date_time", "end_date_time",
		NULL };
	json_t			*v, *errs = json_array();
	const char		*action = NULL, *s;
	size_t			 i;
	int64_t			 start, end;

	v = json_object_get(p, "action");
	if (json_is_string(v))
		for (i = 0; actions[i] != NULL; i++)
			if (strcmp(json_string_value(v), actions[i]) == 0)
				action = actions[i];
	if (action == NULL)
		partners_err(errs, "action", v == NULL ? "required" : "enum",
		    "one of "
		    "NEW_BOOKING, UPDATED_BOOKING, CANCELLED_BOOKING");
	else
		json_object_set_new(work, "action", json_string(action));
	v = json_object_get(p, "booking_code");
	if (v == NULL || json_is_null(v))
		partners_err(
		    errs, "booking_code", "required", "the booking's code");
	else if (!json_is_string(v) || !code_ok(json_string_value(v)))
		partners_err(errs, "booking_code", "invalid_format",
		    "1 to 64 of "
		    "letters, digits, '-' and '_'");
	else
		json_object_set(work, "booking_code", v);
	v = json_object_get(p, "user_id");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v) || !uuid_valid(json_string_value(v)))
			partners_err(
			    errs, "user_id", "invalid_format", "a UUID");
		else
			json_object_set(work, "user_id", v);
	}
	v = json_object_get(p, "client_timezone");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v) || !tz_ok(json_string_value(v)))
			partners_err(errs, "client_timezone", "invalid_format",
			    "an IANA time zone name of up to 64 characters");
		else
			json_object_set(work, "client_timezone", v);
	}
	for (i = 0; i < NELEM(texts); i++) {
		v = json_object_get(p, texts[i].name);
		if (v == NULL || json_is_null(v))
			continue;
		if (!text_ok(v, 1, texts[i].max))
			partners_err(errs, texts[i].name, "length",
			    texts[i].email
				? "an address of up to 254 characters"
				: "1 to 200 characters, no control characters");
		else if (texts[i].email &&
		    !mail_address_valid(json_string_value(v)))
			partners_err(errs, texts[i].name, "invalid_format",
			    "an email address");
		else
			json_object_set(work, texts[i].name, v);
	}
	time_member(p, work, "start_date_time", errs);
	time_member(p, work, "end_date_time", errs);
	if (action != NULL && strcmp(action, "NEW_BOOKING") == 0) {
		for (i = 0; new_needs[i] != NULL; i++)
			if ((v = json_object_get(p, new_needs[i])) == NULL ||
			    json_is_null(v))
				partners_err(errs, new_needs[i], "required",
				    "required for NEW_BOOKING");
	} else if (action != NULL && strcmp(action, "UPDATED_BOOKING") == 0) {
		for (i = 0; i < 2; i++) {
			s = i == 0 ? "start_date_time" : "end_date_time";
			if ((v = json_object_get(p, s)) == NULL ||
			    json_is_null(v))
				partners_err(errs, s, "required",
				    "required for UPDATED_BOOKING");
		}
	}
	if (json_object_get(work, "start_date_time") != NULL &&
	    json_object_get(work, "end_date_time") != NULL) {
		start = json_integer_value(
		    json_object_get(work, "start_date_time"));
		end =
		    json_integer_value(json_object_get(work, "end_date_time"));
		if (end <= start || end - start > BOOKING_LENGTH_MAX_MS)
			partners_err(errs, "end_date_time", "out_of_range",
			    "after "
			    "start_date_time, by at most 24 hours");
	} else if (json_array_size(errs) == 0 &&
	    (json_object_get(work, "start_date_time") != NULL ||
		json_object_get(work, "end_date_time") != NULL))
		partners_err(errs, "end_date_time", "required",
		    "send "
		    "start_date_time and end_date_time together");
	if (json_array_size(errs) > 0) {
		r->errors = errs;
		return (inbox_fail(r, ERR_INVALID, NULL,
		    "The booking payload "
		    "is not valid: %zu field%s.",
		    json_array_size(errs),
		    json_array_size(errs) == 1 ? "" : "s"));
	}
	json_decref(errs);
	return (OK);
}

int
bookings_payload_parse(
    const char *body, size_t len, json_t **work, struct inbox_result *r)
{
	return (inbox_parse_object(body, len, payload_check, work, r));
}

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
	json_object_foreach(body, key, v)
	{
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
