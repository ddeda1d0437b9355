/*
 * The booking system's webhook payload and its timestamp, parsed pure (no
 * database, no HTTP, no clock) so that the webhook (webhook.c) and the
 * fuzz target (fuzz/fuzz_bookings.c) run the same code. Every value is
 * bounded; a refusal names each bad field and never quotes the input.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "bookings/bookings_int.h"
#include "core/err.h"
#include "core/mail.h"
#include "core/util.h"
#include "module.h"
#include "ops/inbox.h"
#include "resource/resource.h"

static int  text_ok(json_t *, size_t, size_t);
static int  code_ok(const char *);
static int  tz_ok(const char *);
static void time_member(json_t *, json_t *, const char *, json_t *);
static int  payload_check(json_t *, json_t *, struct inbox_result *);

static const char *const actions[] = { "NEW_BOOKING", "UPDATED_BOOKING",
	"CANCELLED_BOOKING", NULL };

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
		resource_field_err(
		    errs, name, "invalid_format", "an ISO 8601 date-time");
	else if (ms < BOOKING_TIME_MIN_MS || ms >= BOOKING_TIME_MAX_MS)
		resource_field_err(
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
		resource_field_err(errs, "action",
		    v == NULL ? "required" : "enum",
		    "one of "
		    "NEW_BOOKING, UPDATED_BOOKING, CANCELLED_BOOKING");
	else
		json_object_set_new(work, "action", json_string(action));
	v = json_object_get(p, "booking_code");
	if (v == NULL || json_is_null(v))
		resource_field_err(
		    errs, "booking_code", "required", "the booking's code");
	else if (!json_is_string(v) || !code_ok(json_string_value(v)))
		resource_field_err(errs, "booking_code", "invalid_format",
		    "1 to 64 of "
		    "letters, digits, '-' and '_'");
	else
		json_object_set(work, "booking_code", v);
	v = json_object_get(p, "user_id");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v) || !uuid_valid(json_string_value(v)))
			resource_field_err(
			    errs, "user_id", "invalid_format", "a UUID");
		else
			json_object_set(work, "user_id", v);
	}
	v = json_object_get(p, "client_timezone");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v) || !tz_ok(json_string_value(v)))
			resource_field_err(errs, "client_timezone",
			    "invalid_format",
			    "an IANA time zone name of up to 64 characters");
		else
			json_object_set(work, "client_timezone", v);
	}
	for (i = 0; i < NELEM(texts); i++) {
		v = json_object_get(p, texts[i].name);
		if (v == NULL || json_is_null(v))
			continue;
		if (!text_ok(v, 1, texts[i].max))
			resource_field_err(errs, texts[i].name, "length",
			    texts[i].email
				? "an address of up to 254 characters"
				: "1 to 200 characters, no control characters");
		else if (texts[i].email &&
		    !mail_address_valid(json_string_value(v)))
			resource_field_err(errs, texts[i].name,
			    "invalid_format", "an email address");
		else
			json_object_set(work, texts[i].name, v);
	}
	time_member(p, work, "start_date_time", errs);
	time_member(p, work, "end_date_time", errs);
	if (action != NULL && strcmp(action, "NEW_BOOKING") == 0) {
		for (i = 0; new_needs[i] != NULL; i++)
			if ((v = json_object_get(p, new_needs[i])) == NULL ||
			    json_is_null(v))
				resource_field_err(errs, new_needs[i],
				    "required", "required for NEW_BOOKING");
	} else if (action != NULL && strcmp(action, "UPDATED_BOOKING") == 0) {
		for (i = 0; i < 2; i++) {
			s = i == 0 ? "start_date_time" : "end_date_time";
			if ((v = json_object_get(p, s)) == NULL ||
			    json_is_null(v))
				resource_field_err(errs, s, "required",
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
			resource_field_err(errs, "end_date_time",
			    "out_of_range",
			    "after "
			    "start_date_time, by at most 24 hours");
	} else if (json_array_size(errs) == 0 &&
	    (json_object_get(work, "start_date_time") != NULL ||
		json_object_get(work, "end_date_time") != NULL))
		resource_field_err(errs, "end_date_time", "required",
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
