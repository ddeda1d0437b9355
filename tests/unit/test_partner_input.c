/*
 * The partners module's parsers of outside input (src/partners/input.c)
 * at their edges: the booking webhook payload and timestamp, the bodies
 * of validate-code, assign and registration.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/err.h"
#include "core/util.h"
#include "ops/inbox.h"
#include "partners/partners_int.h"

/* The field of the only error entry, or NULL. */
static const char *
only_field(json_t *errs)
{
	if (json_array_size(errs) != 1)
		return (NULL);
	return (json_string_value(
	    json_object_get(json_array_get(errs, 0), "field")));
}

static void
test_booking_payload(void **state)
{
	static const char *const ok_new =
	    "{\"action\":\"NEW_BOOKING\","
	    "\"booking_code\":\"AB-12_x\",\"client_email\":\"a@b.org\","
	    "\"client_timezone\":\"Europe/London\",\"service_name\":\"Talk\","
	    "\"service_provider_name\":\"Dr "
	    "\xc3\xa9\",\"service_provider_email\":"
	    "\"t@b.org\",\"start_date_time\":\"2026-01-02T10:00:00Z\","
	    "\"end_date_time\":\"2026-01-02T11:00:00+00:00\",\"extra\":[1]}";
	static const struct {
		const char *body;
		int	    rc;
		const char *field; /* the one bad field, when invalid */
	} cases[] = {
		{ "{\"action\":\"CANCELLED_BOOKING\",\"booking_code\":\"x\"}",
		    OK, NULL },
		{ "[1]", ERR_MALFORMED, NULL },
		{ "{\"action\":", ERR_MALFORMED, NULL },
		{ "{\"a\":1,\"a\":2}", ERR_MALFORMED, NULL },
		{ "{\"action\":\"NOPE\",\"booking_code\":\"x\"}", ERR_INVALID,
		    "action" },
		{ "{\"action\":\"CANCELLED_BOOKING\",\"booking_code\":\"a b\"}",
		    ERR_INVALID, "booking_code" },
		{ "{\"action\":\"CANCELLED_BOOKING\",\"booking_code\":\"x\","
		  "\"user_id\":\"nope\"}",
		    ERR_INVALID, "user_id" },
		{ "{\"action\":\"CANCELLED_BOOKING\",\"booking_code\":\"x\","
		  "\"service_name\":\"a\\nb\"}",
		    ERR_INVALID, "service_name" },
		{ "{\"action\":\"CANCELLED_BOOKING\",\"booking_code\":\"x\","
		  "\"client_email\":\"not-an-address\"}",
		    ERR_INVALID, "client_email" },
		{ "{\"action\":\"CANCELLED_BOOKING\",\"booking_code\":\"x\","
		  "\"client_timezone\":\"Europe/London;\"}",
		    ERR_INVALID, "client_timezone" },
		{ "{\"action\":\"UPDATED_BOOKING\",\"booking_code\":\"x\","
		  "\"start_date_time\":\"2026-01-02T10:00:00Z\"}",
		    ERR_INVALID, "end_date_time" },
		{ "{\"action\":\"UPDATED_BOOKING\",\"booking_code\":\"x\","
		  "\"start_date_time\":\"2026-01-02T10:00:00Z\","
		  "\"end_date_time\":\"2026-01-03T10:00:00.001Z\"}",
		    ERR_INVALID, "end_date_time" },
		{ "{\"action\":\"UPDATED_BOOKING\",\"booking_code\":\"x\","
		  "\"start_date_time\":\"2026-01-02T10:00:00Z\","
		  "\"end_date_time\":\"2026-01-03T10:00:00Z\"}",
		    OK, NULL },
		{ "{\"action\":\"UPDATED_BOOKING\",\"booking_code\":\"x\","
		  "\"start_date_time\":\"1999-12-31T23:00:00Z\","
		  "\"end_date_time\":\"2000-01-01T00:00:00Z\"}",
		    ERR_INVALID, "start_date_time" },
	};
	struct inbox_result r;
	json_t		   *w;
	char		    code[BOOKING_CODE_MAX + 2], body[160];
	size_t		    i;
	int		    rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&r, 0, sizeof(r));
		rc = bookings_payload_parse(
		    cases[i].body, strlen(cases[i].body), &w, &r);
		if (rc != cases[i].rc)
			fail_msg("case %zu gave %d", i, rc);
		if (rc == OK)
			assert_non_null(w);
		else {
			assert_null(w);
			assert_true(r.error[0] != '\0');
		}
		if (cases[i].field != NULL &&
		    (only_field(r.errors) == NULL ||
			strcmp(only_field(r.errors), cases[i].field) != 0))
			fail_msg("case %zu: errors %s", i,
			    json_dumps(r.errors, JSON_COMPACT));
		json_decref(r.errors);
		json_decref(w);
	}
	/* A whole new booking, times kept as ms, unknown members dropped. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(
	    bookings_payload_parse(ok_new, strlen(ok_new), &w, &r), OK);
	assert_int_equal(
	    json_integer_value(json_object_get(w, "start_date_time")),
	    1767348000000LL);
	assert_int_equal(
	    json_integer_value(json_object_get(w, "end_date_time")),
	    1767351600000LL);
	assert_null(json_object_get(w, "extra"));
	json_decref(w);
	/* A new booking needs every member but user_id: each one named. */
	memset(&r, 0, sizeof(r));
	snprintf(body, sizeof(body),
	    "{\"action\":\"NEW_BOOKING\","
	    "\"booking_code\":\"x\"}");
	assert_int_equal(
	    bookings_payload_parse(body, strlen(body), &w, &r), ERR_INVALID);
	assert_int_equal(json_array_size(r.errors), 7);
	json_decref(r.errors);
	/* A booking code of 64 characters, then 65. */
	for (i = 64; i <= 65; i++) {
		memset(code, 'c', i);
		code[i] = '\0';
		snprintf(body, sizeof(body),
		    "{\"action\":\"CANCELLED_BOOKING\","
		    "\"booking_code\":\"%s\"}",
		    code);
		memset(&r, 0, sizeof(r));
		rc = bookings_payload_parse(body, strlen(body), &w, &r);
		assert_int_equal(rc, i == 64 ? OK : ERR_INVALID);
		json_decref(r.errors);
		json_decref(w);
	}
}

static void
test_booking_stamp(void **state)
{
	int64_t ms = -1;

	(void)state;
	assert_int_equal(booking_stamp_parse("1767348000", &ms), 0);
	assert_int_equal(ms, 1767348000000LL);
	assert_int_equal(booking_stamp_parse("0", &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(booking_stamp_parse("4102444800", &ms), 0);
	assert_int_not_equal(booking_stamp_parse("4102444801", &ms), 0);
	assert_int_not_equal(
	    booking_stamp_parse("99999999999999999999999", &ms), 0);
	assert_int_equal(booking_stamp_parse("2026-01-02T10:00:00Z", &ms), 0);
	assert_int_equal(ms, 1767348000000LL);
	assert_int_not_equal(booking_stamp_parse("", &ms), 0);
	assert_int_not_equal(booking_stamp_parse("-5", &ms), 0);
	assert_int_not_equal(booking_stamp_parse("12a", &ms), 0);
}

static void
test_code_body(void **state)
{
	static const struct {
		const char *body;
		int	    rc;
		int	    bad_code;
	} cases[] = {
		{ "{\"code\":\" abc234 \"}", OK, 0 },
		{ "{\"code\":\"abc234\",\"partner\":\"Bloom\"}", OK, 0 },
		{ "{\"code\":\"abc23\"}", ERR_MALFORMED, 1 },
		{ "{}", ERR_MALFORMED, 1 },
		{ "{\"code\":6}", ERR_MALFORMED, 1 },
		{ "[\"abc234\"]", ERR_MALFORMED, 0 },
		{ "\"abc234\"", ERR_MALFORMED, 0 },
		{ "{\"code\":\"abc234\",\"partner\":\"\"}", ERR_INVALID, 0 },
		{ "{\"code\":\"abc234\",\"partner\":7}", ERR_INVALID, 0 },
		{ "{\"code\":\"abc234\",\"other\":1}", ERR_INVALID, 0 },
		/* members are judged before the code */
		{ "{\"code\":\"0\",\"other\":1}", ERR_INVALID, 0 },
	};
	struct partner_code_input in;
	json_t			 *b, *errs;
	char			  long_name[PARTNER_NAME_MAX * 4 + 2], *dump;
	size_t			  i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		b = json_loads(cases[i].body, JSON_DECODE_ANY, NULL);
		assert_non_null(b);
		errs = json_array();
		if (partner_code_body(b, &in, errs) != cases[i].rc ||
		    in.bad_code != cases[i].bad_code ||
		    (json_array_size(errs) > 0) != (cases[i].rc == ERR_INVALID))
			fail_msg("case %zu (%s)", i, cases[i].body);
		if (cases[i].rc == OK)
			assert_string_equal(in.code, "ABC234");
		json_decref(errs);
		json_decref(b);
	}
	/* Unknown members: one entry, naming none of them. */
	b = json_pack(
	    "{s:s,s:i,s:i}", "code", "ABC234", "<b>evil</b>", 1, "other", 2);
	errs = json_array();
	assert_int_equal(partner_code_body(b, &in, errs), ERR_INVALID);
	assert_int_equal(json_array_size(errs), 1);
	dump = json_dumps(errs, 0);
	assert_non_null(dump);
	assert_null(strstr(dump, "evil"));
	assert_null(strstr(dump, "other"));
	assert_non_null(strstr(dump, "unknown_field"));
	free(dump);
	json_decref(errs);
	json_decref(b);
	/* A partner of 256 bytes, then 257. */
	for (i = PARTNER_NAME_MAX * 4; i <= PARTNER_NAME_MAX * 4 + 1; i++) {
		memset(long_name, 'p', i);
		long_name[i] = '\0';
		b = json_pack(
		    "{s:s,s:s}", "code", "ABC234", "partner", long_name);
		errs = json_array();
		assert_int_equal(partner_code_body(b, &in, errs),
		    i == PARTNER_NAME_MAX * 4 ? OK : ERR_INVALID);
		json_decref(errs);
		json_decref(b);
	}
}

static void
test_register_body(void **state)
{
	static const struct {
		const char *body;
		int	    rc;
		int	    nerrs;
	} cases[] = {
		{ "{\"email\":\"a@b.org\"}", OK, 0 },
		{ "{\"partner_access_code\":null}", OK, 0 },
		{ "{\"partner_access_code\":\"xyz987\",\"partner\":\"Bloom\"}",
		    OK, 0 },
		{ "{\"partner_id\":\"0190f2a4-1111-7000-8000-000000000001\"}",
		    OK, 0 },
		{ "{\"partner_access_code\":\"xyz98\"}", ERR_MALFORMED, 0 },
		{ "{\"partner_access_code\":false}", ERR_MALFORMED, 0 },
		{ "{\"partner_id\":\"nope\"}", ERR_INVALID, 1 },
		/* every bad member is named, and before the code */
		{ "{\"partner_id\":1,\"partner\":\"\",\"partner_access_code\":"
		  "\"0\"}",
		    ERR_INVALID, 2 },
	};
	struct partner_code_input in;
	json_t			 *b, *errs;
	size_t			  i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		b = json_loads(cases[i].body, 0, NULL);
		assert_non_null(b);
		errs = json_array();
		if (partner_register_body(b, &in, errs) != cases[i].rc ||
		    json_array_size(errs) != (size_t)cases[i].nerrs)
			fail_msg("case %zu (%s)", i, cases[i].body);
		json_decref(errs);
		json_decref(b);
	}
	b = json_loads("{\"partner_access_code\":\" xyz987\"}", 0, NULL);
	errs = json_array();
	assert_int_equal(partner_register_body(b, &in, errs), OK);
	assert_string_equal(in.code, "XYZ987");
	assert_null(in.partner);
	assert_null(in.partner_id);
	json_decref(errs);
	json_decref(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_booking_payload),
		cmocka_unit_test(test_booking_stamp),
		cmocka_unit_test(test_code_body),
		cmocka_unit_test(test_register_body),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
