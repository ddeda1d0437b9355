/*
 * libFuzzer target for the booking system's webhook (Simplybook): the
 * first byte picks the payload parser (even) or the timestamp parser
 * (odd), the rest is the input.
 *
 * A payload that passes keeps only members within their bounds: an
 * action of the three, a booking code of 1..64 of [A-Za-z0-9_-], a UUID
 * user_id, a time zone name, names of 1..200 code points without control
 * characters, valid addresses, times in [2000, 2100) sent together with
 * the end after the start by at most a day, and what its action needs.
 * A refusal is our own words, with an entry per field when invalid. A
 * timestamp of digits is whole seconds within the bound.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bookings/bookings_int.h"
#include "core/err.h"
#include "core/mail.h"
#include "core/util.h"
#include "ops/inbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A string of 1..max code points, none a control character. */
static void
check_text(json_t *v, size_t max)
{
	const unsigned char *s;
	size_t		     n = 0;

	if (v == NULL)
		return;
	if (!json_is_string(v))
		abort();
	for (s = (const unsigned char *)json_string_value(v); *s != '\0'; s++) {
		if (*s < 0x20 || *s == 0x7f)
			abort();
		if ((*s & 0xc0) != 0x80)
			n++;
	}
	if (n < 1 || n > max)
		abort();
}

static void
check_chars(json_t *v, size_t max, const char *extra)
{
	const char *s;
	size_t	    i, n;

	if (v == NULL)
		return;
	if ((s = json_string_value(v)) == NULL || (n = strlen(s)) < 1 ||
	    n > max)
		abort();
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) &&
		    strchr(extra, s[i]) == NULL)
			abort();
}

static int64_t
check_time(json_t *v)
{
	if (v == NULL)
		return (-1);
	if (!json_is_integer(v) ||
	    json_integer_value(v) < BOOKING_TIME_MIN_MS ||
	    json_integer_value(v) >= BOOKING_TIME_MAX_MS)
		abort();
	return (json_integer_value(v));
}

static void
payload(const uint8_t *data, size_t size)
{
	static const char *const needs[] = { "client_email", "client_timezone",
		"service_name", "service_provider_name",
		"service_provider_email", "start_date_time", "end_date_time",
		NULL };
	struct inbox_result	 r;
	json_t			*w, *e;
	const char		*action, *s;
	int64_t			 start, end;
	size_t			 i;
	int			 rc;

	memset(&r, 0, sizeof(r));
	rc = bookings_payload_parse((const char *)data, size, &w, &r);
	if (rc != OK) {
		if (w != NULL || rc != r.rc ||
		    (strncmp(r.error,
			 "Invalid JSON "
			 "at line ",
			 21) != 0 &&
			strcmp(r.error,
			    "The body must be a "
			    "JSON object.") != 0 &&
			strncmp(r.error,
			    "The booking "
			    "payload is not valid: ",
			    32) != 0))
			abort();
		if (rc == ERR_MALFORMED && r.errors != NULL)
			abort();
		if (rc == ERR_INVALID && json_array_size(r.errors) == 0)
			abort();
		if (rc != ERR_MALFORMED && rc != ERR_INVALID)
			abort();
		json_array_foreach(r.errors, i, e)
			if (!json_is_string(json_object_get(e, "field")) ||
			    !json_is_string(json_object_get(e, "code")) ||
			    !json_is_string(json_object_get(e, "detail")))
				abort();
		json_decref(r.errors);
		return;
	}
	if ((action = json_string_value(json_object_get(w, "action"))) ==
		NULL ||
	    (strcmp(action, "NEW_BOOKING") != 0 &&
		strcmp(action, "UPDATED_BOOKING") != 0 &&
		strcmp(action, "CANCELLED_BOOKING") != 0))
		abort();
	if (json_object_get(w, "booking_code") == NULL)
		abort();
	check_chars(json_object_get(w, "booking_code"), BOOKING_CODE_MAX, "-_");
	check_chars(
	    json_object_get(w, "client_timezone"), BOOKING_TZ_MAX, "/_+-");
	if ((s = json_string_value(json_object_get(w, "user_id"))) != NULL &&
	    !uuid_valid(s))
		abort();
	check_text(json_object_get(w, "service_name"), BOOKING_TEXT_MAX);
	check_text(
	    json_object_get(w, "service_provider_name"), BOOKING_TEXT_MAX);
	for (i = 0; i < 2; i++) {
		e = json_object_get(
		    w, i == 0 ? "client_email" : "service_provider_email");
		check_text(e, BOOKING_EMAIL_MAX);
		if (e != NULL && !mail_address_valid(json_string_value(e)))
			abort();
	}
	start = check_time(json_object_get(w, "start_date_time"));
	end = check_time(json_object_get(w, "end_date_time"));
	if ((start < 0) != (end < 0))
		abort();
	if (start >= 0 && (end <= start || end - start > BOOKING_LENGTH_MAX_MS))
		abort();
	if (strcmp(action, "NEW_BOOKING") == 0)
		for (i = 0; needs[i] != NULL; i++)
			if (json_object_get(w, needs[i]) == NULL)
				abort();
	if (strcmp(action, "UPDATED_BOOKING") == 0 && start < 0)
		abort();
	json_decref(w);
}

static void
stamp(const uint8_t *data, size_t size)
{
	char   *s;
	int64_t ms;

	if ((s = malloc(size + 1)) == NULL)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	if (booking_stamp_parse(s, &ms) == 0 && size > 0 &&
	    strspn(s, "0123456789") == size &&
	    (ms % 1000 != 0 || ms < 0 || ms > BOOKING_TIME_MAX_MS))
		abort();
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return (0);
	if (data[0] & 1)
		stamp(data + 1, size - 1);
	else
		payload(data + 1, size - 1);
	return (0);
}
