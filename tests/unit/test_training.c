/*
 * Unit tests for the training module's pure checks (src/training): a
 * course's type against its length (UK practice) and currency, the
 * currency code's form and the http(s) URLs of course materials; the
 * check of Stripe-Signature headers (against a header made by Stripe's
 * own library) and the form encoding of requests to Stripe; the refund
 * policy by the time left before a course starts.
 * Table-driven: each course case is JSON in and the "field:code" list of
 * problems out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "training/training_int.h"

/* "field:code,field:code" of errs, in order. */
static void
codes(json_t *errs, char *out, size_t len)
{
	size_t	i;
	json_t *e;

	out[0] = '\0';
	for (i = 0; i < json_array_size(errs); i++) {
		e = json_array_get(errs, i);
		snprintf(out + strlen(out), len - strlen(out), "%s%s:%s",
		    i ? "," : "",
		    json_string_value(json_object_get(e, "field")),
		    json_string_value(json_object_get(e, "code")));
	}
}

static void
test_course_lengths(void **state)
{
	static const struct {
		const char *course;
		const char *want;
	} cases[] = {
		{ "{\"course_type\":\"EFAW\",\"duration_hours\":6,"
		  "\"duration_days\":1}",
		    "" },
		{ "{\"course_type\":\"FAW\",\"duration_hours\":18,"
		  "\"duration_days\":3}",
		    "" },
		{ "{\"course_type\":\"Paediatric\",\"duration_hours\":12,"
		  "\"duration_days\":2}",
		    "" },
		{ "{\"course_type\":\"refresher\",\"duration_hours\":3,"
		  "\"duration_days\":1,\"currency\":\"EUR\"}",
		    "" },
		{ "{\"course_type\":\"requalification\",\"duration_hours\":12,"
		  "\"duration_days\":2}",
		    "" },
		{ "{\"course_type\":\"EFAW\",\"duration_hours\":7,"
		  "\"duration_days\":1}",
		    "duration_hours:course_type_mismatch" },
		{ "{\"course_type\":\"EFAW\",\"duration_hours\":6,"
		  "\"duration_days\":2}",
		    "duration_days:course_type_mismatch" },
		{ "{\"course_type\":\"FAW\",\"duration_hours\":6,"
		  "\"duration_days\":1}",
		    "duration_hours:course_type_mismatch,"
		    "duration_days:course_type_mismatch" },
		{ "{\"course_type\":\"Paediatric\",\"duration_hours\":12,"
		  "\"duration_days\":3}",
		    "duration_days:course_type_mismatch" },
		{ "{\"course_type\":\"refresher\",\"duration_hours\":25,"
		  "\"duration_days\":1}",
		    "duration_hours:too_large" },
		{ "{\"course_type\":\"EFAW\",\"duration_hours\":6,"
		  "\"duration_days\":1,\"currency\":\"gbp\"}",
		    "currency:invalid_format" },
	};
	char   got[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *course = json_loads(cases[i].course, 0, NULL);
		json_t *errs = json_array();

		assert_non_null(course);
		training_course_check(course, errs);
		codes(errs, got, sizeof(got));
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", cases[i].course,
			    got, cases[i].want);
		json_decref(errs);
		json_decref(course);
	}
}

static void
test_money(void **state)
{
	static const struct {
		int64_t	    minor;
		const char *currency, *want;
	} cases[] = {
		{ 7500, "GBP", "75.00 GBP" },
		{ 5, "EUR", "0.05 EUR" },
		{ 0, "USD", "0.00 USD" },
		{ 5000, "JPY", "5000 JPY" },
		{ 12, "KRW", "12 KRW" },
		{ 7, "XPF", "7 XPF" },
		{ 1500, "KWD", "1.500 KWD" },
		{ 20, "BHD", "0.020 BHD" },
		{ 50000, "ISK",
		    "500.00 ISK" }, /* two-decimal in Stripe's API */
		{ -250, "GBP", "-2.50 GBP" },
		{ INT64_MIN, "JPY", "-9223372036854775808 JPY" },
		{ 1234, "XYZ", "12.34 XYZ" },
	};
	char   out[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		training_money_format(
		    cases[i].minor, cases[i].currency, out, sizeof(out));
		assert_string_equal(out, cases[i].want);
	}
	assert_int_equal(training_currency_exponent("JPY"), 0);
	assert_int_equal(training_currency_exponent("OMR"), 3);
	assert_int_equal(training_currency_exponent("GBP"), 2);
	assert_int_equal(training_currency_exponent("PY"), 2); /* not a code */
	assert_int_equal(training_currency_exponent("JPYX"), 2);
	assert_int_equal(training_currency_exponent("PYG"), 0);
	assert_int_equal(training_currency_exponent("YGU"), 2); /* no match */
}

static void
test_currency(void **state)
{
	(void)state;
	assert_true(training_currency_ok("GBP"));
	assert_true(training_currency_ok("EUR"));
	assert_false(training_currency_ok("gbp"));
	assert_false(training_currency_ok("GB"));
	assert_false(training_currency_ok("GBPX"));
	assert_false(training_currency_ok("G1P"));
	assert_false(training_currency_ok(""));
	assert_false(training_currency_ok(NULL));
}

/*
 * Made by Stripe's library (tests/stripe/sign.mjs):
 * generateTestHeaderString({payload: BODY, secret: SECRET, timestamp:
 * 1700000000}).
 */
#define SIG_BODY   "{\"id\":\"evt_1\"}"
#define SIG_SECRET "whsec_test"
#define SIG_T	   1700000000
#define SIG_V1                                                                 \
	"c89214b5b5da833daed6f0b8c5bb6bd58cea9022bd80ccc78230f3942d632925"
#define SIG_BAD                                                                \
	"c89214b5b5da833daed6f0b8c5bb6bd58cea9022bd80ccc78230f3942d632924"

static void
test_stripe_signature(void **state)
{
	static const struct {
		const char *header;
		int64_t	    now;
		int	    want;
	} cases[] = {
		{ "t=1700000000,v1=" SIG_V1, SIG_T, STRIPE_SIG_OK },
		{ "t=1700000000,v1=" SIG_V1, SIG_T + 300, STRIPE_SIG_OK },
		{ "t=1700000000,v1=" SIG_V1, SIG_T - 300, STRIPE_SIG_OK },
		{ "t=1700000000,v1=" SIG_V1, SIG_T + 301, STRIPE_SIG_STALE },
		{ "t=1700000000,v1=" SIG_V1, SIG_T - 301, STRIPE_SIG_STALE },
		/* Every v1 is tried; order and blanks do not matter. */
		{ "t=1700000000,v1=" SIG_BAD ",v1=" SIG_V1, SIG_T,
		    STRIPE_SIG_OK },
		{ "v1=" SIG_V1 ", t=1700000000, v0=abc", SIG_T, STRIPE_SIG_OK },
		{ "t=1700000000,v1=" SIG_BAD, SIG_T, STRIPE_SIG_MISMATCH },
		{ "t=1700000001,v1=" SIG_V1, SIG_T, STRIPE_SIG_MISMATCH },
		{ "t=1700000000,v1=" SIG_V1 "00", SIG_T, STRIPE_SIG_MISMATCH },
		{ "t=1700000000,v1=", SIG_T, STRIPE_SIG_MISMATCH },
		{ "t=1700000000,v0=" SIG_V1, SIG_T, STRIPE_SIG_MALFORMED },
		{ "v1=" SIG_V1, SIG_T, STRIPE_SIG_MALFORMED },
		{ "t=17x0000000,v1=" SIG_V1, SIG_T, STRIPE_SIG_MALFORMED },
		{ "t=,v1=" SIG_V1, SIG_T, STRIPE_SIG_MALFORMED },
		{ "t=1,t=1700000000,v1=" SIG_V1, SIG_T, STRIPE_SIG_MALFORMED },
		{ "garbage", SIG_T, STRIPE_SIG_MALFORMED },
		{ "", SIG_T, STRIPE_SIG_MISSING },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (stripe_signature_check(cases[i].header, SIG_BODY,
			strlen(SIG_BODY), SIG_SECRET, cases[i].now,
			STRIPE_TOLERANCE_S) != cases[i].want)
			fail_msg("%s at %lld: not %d", cases[i].header,
			    (long long)cases[i].now, cases[i].want);
	assert_int_equal(stripe_signature_check(NULL, SIG_BODY,
			     strlen(SIG_BODY), SIG_SECRET, SIG_T, 300),
	    STRIPE_SIG_MISSING);
	/* Another secret, another body. */
	assert_int_equal(
	    stripe_signature_check("t=1700000000,v1=" SIG_V1, SIG_BODY,
		strlen(SIG_BODY), "whsec_other", SIG_T, 300),
	    STRIPE_SIG_MISMATCH);
	assert_int_equal(
	    stripe_signature_check("t=1700000000,v1=" SIG_V1,
		"{\"id\":\"evt_2\"}", strlen(SIG_BODY), SIG_SECRET, SIG_T, 300),
	    STRIPE_SIG_MISMATCH);
}

static void
test_stripe_form(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(stripe_form_add(&b, "amount", "7500"), OK);
	assert_int_equal(
	    stripe_form_add(&b, "metadata[booking_id]", "a b&c=d/é"), OK);
	assert_string_equal(b.data,
	    "amount=7500&metadata%5Bbooking_id%5D=a%20b%26c%3Dd%2F%C3%A9");
	buf_free(&b);
	assert_true(stripe_id_ok("pi_3MtwBwLkdIwHu7ix28a3tqPa"));
	assert_false(stripe_id_ok("pi_3Mtw/../x"));
	assert_false(stripe_id_ok(""));
	assert_false(stripe_id_ok(NULL));
}

/*
 * The policy by London calendar days (full_days 14, fee 25 percent, none
 * inside 48 hours): times as ISO 8601, now and the schedule's start.
 */
static void
test_refund_policy(void **state)
{
	static const struct {
		const char *now, *start;
		int64_t	    amount;
		int	    override;
		int	    rc;
		int64_t	    fee;
		const char *policy;
	} cases[] = {
		/* 22:13 GMT on the 14th of November */
		{ "2023-11-14T22:13:20Z", "2023-12-14T09:00:00Z", 7500, 0, OK,
		    0, "full" },
		{ "2023-11-14T22:13:20Z", "2023-11-28T22:13:20Z", 7500, 0, OK,
		    0, "full" },
		/* The 28th: 14 days on, though 13 x 24 hours and some */
		{ "2023-11-14T22:13:20Z", "2023-11-28T00:00:00Z", 7500, 0, OK,
		    0, "full" },
		{ "2023-11-14T22:13:20Z", "2023-11-27T23:59:59.999Z", 7500, 0,
		    OK, 1875, "fee" },
		{ "2023-11-14T22:13:20Z", "2023-11-19T22:13:20Z", 7500, 0, OK,
		    1875, "fee" },
		{ "2023-11-14T22:13:20Z", "2023-11-19T22:13:20Z", 7502, 0, OK,
		    1876, "fee" }, /* 1875.5: half up */
		{ "2023-11-14T22:13:20Z", "2023-11-19T22:13:20Z", 7501, 0, OK,
		    1875, "fee" }, /* 1875.25 */
		{ "2023-11-14T22:13:20Z", "2023-11-16T22:13:20Z", 1, 0, OK, 0,
		    "fee" }, /* 48 hours: 0.25, down */
		{ "2023-11-14T22:13:20Z", "2023-11-16T22:13:20Z", 2, 0, OK, 1,
		    "fee" }, /* 0.5: up */
		{ "2023-11-14T22:13:20Z", "2023-11-16T22:13:19.999Z", 7500, 0,
		    ERR_CONFLICT, 0, NULL },
		{ "2023-11-14T22:13:20Z", "2023-11-14T23:13:20Z", 7500, 0,
		    ERR_CONFLICT, 0, NULL },
		{ "2023-11-14T22:13:20Z", "2023-11-09T22:13:20Z", 7500, 0,
		    ERR_CONFLICT, 0, NULL }, /* started */
		{ "2023-11-14T22:13:20Z", "2023-11-14T23:13:20Z", 7500, 1, OK,
		    0, "override" },
		{ "2023-11-14T22:13:20Z", "2023-11-09T22:13:20Z", 7500, 1, OK,
		    0, "override" },
		/* Across the change to summer time (31 March 2030): London's
		 * days, not UTC's. */
		{ "2030-03-20T12:00:00Z", "2030-04-03T00:30:00+01:00", 7500, 0,
		    OK, 0, "full" },
		{ "2030-03-20T12:00:00Z", "2030-04-02T23:30:00+01:00", 7500, 0,
		    OK, 1875, "fee" },
		/* 00:30 BST on the 2nd of July is London's 2nd, UTC's 1st:
		 * 23:30 BST on the 15th is 13 London days on, 14 UTC ones. */
		{ "2030-07-01T23:30:00Z", "2030-07-15T22:30:00Z", 7500, 0, OK,
		    1875, "fee" },
		{ "2030-07-01T23:30:00Z", "2030-07-15T23:15:00Z", 7500, 0, OK,
		    0, "full" },
	};
	const char *policy;
	int64_t	    fee, now, start;
	size_t	    i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fee = -1;
		policy = "unset";
		assert_int_equal(time_parse_iso(cases[i].now, &now), 0);
		assert_int_equal(time_parse_iso(cases[i].start, &start), 0);
		if (training_refund_policy(now, start, cases[i].amount,
			cases[i].override, 14, 25, 48, &fee,
			&policy) != cases[i].rc ||
		    fee != cases[i].fee ||
		    (cases[i].policy == NULL ? policy != NULL
					     : policy == NULL ||
				strcmp(policy, cases[i].policy) != 0))
			fail_msg("case %zu: fee %lld, policy %s", i,
			    (long long)fee, policy != NULL ? policy : "none");
	}
	/* No fee window: the full one ends where none begins; inside the
	 * last hours none, whatever the days say. */
	assert_int_equal(time_parse_iso("2023-11-14T22:13:20Z", &now), 0);
	assert_int_equal(training_refund_policy(now, now + 2 * TIME_DAY_MS, 100,
			     0, 2, 25, 48, &fee, &policy),
	    OK);
	assert_string_equal(policy, "full");
	assert_int_equal(
	    training_refund_policy(now, now + 2 * TIME_DAY_MS - 3600000, 100, 0,
		2, 25, 48, &fee, &policy),
	    ERR_CONFLICT);
}

/* A qualification is valid through its expiry date in London. */
static void
test_expiry_end(void **state)
{
	static const struct {
		const char *date, *end;
	} cases[] = {
		{ "2031-07-15", "2031-07-15T23:00:00Z" }, /* summer time */
		{ "2031-01-15", "2031-01-16T00:00:00Z" },
		{ "2026-03-28", "2026-03-29T00:00:00Z" }, /* changes at 01:00 */
		{ "2026-03-29", "2026-03-29T23:00:00Z" },
		{ "2026-10-24", "2026-10-24T23:00:00Z" },
		{ "2026-10-25", "2026-10-26T00:00:00Z" },
	};
	int64_t end, want;
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(training_expiry_end(cases[i].date, &end), 0);
		assert_int_equal(time_parse_iso(cases[i].end, &want), 0);
		if (end != want)
			fail_msg(
			    "%s ends at %lld", cases[i].date, (long long)end);
	}
	assert_int_equal(training_expiry_end("2031-02-30", &end), -1);
	assert_int_equal(training_expiry_end("2031-07-15T10:00:00Z", &end), -1);
	assert_int_equal(training_expiry_end(NULL, &end), -1);
}

/* Certificates' expiry and the requalification month: the day kept,
 * or the month's last. */
static void
test_date_add(void **state)
{
	static const struct {
		const char *from;
		int	    years, months;
		const char *to;
	} cases[] = {
		{ "2024-02-29", 3, 0, "2027-02-28" },
		{ "2024-02-29", 4, 0, "2028-02-29" },
		{ "2025-03-01", 3, 0, "2028-03-01" },
		{ "2026-12-04", 3, 0, "2029-12-04" },
		{ "2027-03-31", 0, -1, "2027-02-28" },
		{ "2028-03-31", 0, -1, "2028-02-29" },
		{ "2027-01-15", 0, -1, "2026-12-15" },
		{ "2026-12-31", 0, 2, "2027-02-28" },
	};
	char   out[11];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(training_date_add(cases[i].from,
				     cases[i].years, cases[i].months, out),
		    0);
		assert_string_equal(out, cases[i].to);
	}
	assert_int_equal(training_date_add("2027-02-29", 1, 0, out), -1);
	assert_int_equal(training_date_add("2027-13-01", 1, 0, out), -1);
	assert_int_equal(training_date_add(NULL, 1, 0, out), -1);
}

/* The London day of an instant: BST moves late evenings a day on. */
static void
test_london_date(void **state)
{
	int64_t ms;
	char	out[11];

	(void)state;
	assert_int_equal(time_parse_iso("2031-07-15T23:30:00Z", &ms), 0);
	training_london_date(ms, out);
	assert_string_equal(out, "2031-07-16");
	assert_int_equal(time_parse_iso("2024-02-29T23:30:00Z", &ms), 0);
	training_london_date(ms, out);
	assert_string_equal(out, "2024-02-29");
}

/* Settings' values by their type and rules. */
static void
test_setting_check(void **state)
{
	json_t *num = json_pack(
		   "{s:b,s:i,s:i}", "integer", 1, "min", 0, "max", 365),
	       *list = json_pack("{s:i,s:b,s:i,s:i}", "max_items", 2, "integer",
		   1, "min", 1, "max", 720),
	       *str = json_pack(
		   "{s:[s,s],s:i}", "enum", "GBP", "EUR", "max_length", 3),
	       *bad = json_pack("{s:b}", "shiny", 1),
	       *png = json_pack("{s:s}", "format", "png_base64");

	(void)state;
	assert_null(training_setting_check("number", "30", num));
	assert_null(training_setting_check("number", NULL, num));
	assert_non_null(training_setting_check("number", "1.5", num));
	assert_non_null(training_setting_check("number", "366", num));
	assert_non_null(training_setting_check("number", "thirty", num));
	assert_non_null(training_setting_check("number", "", NULL));
	assert_null(training_setting_check("boolean", "false", NULL));
	assert_non_null(training_setting_check("boolean", "yes", NULL));
	assert_null(training_setting_check("date", "2028-02-29", NULL));
	assert_non_null(training_setting_check("date", "2027-02-29", NULL));
	assert_null(training_setting_check("json", "[72, 24]", list));
	assert_non_null(training_setting_check("json", "[1,2,3]", list));
	assert_non_null(training_setting_check("json", "[0]", list));
	assert_non_null(training_setting_check("json", "[1,", list));
	assert_null(training_setting_check("string", "GBP", str));
	assert_non_null(training_setting_check("string", "USD", str));
	assert_null(training_setting_rules_check(num));
	assert_null(training_setting_rules_check(NULL));
	assert_non_null(training_setting_rules_check(bad));
	/* A PNG in base64 (a 1 x 1 one), and what is not one. */
	assert_null(training_setting_rules_check(png));
	assert_null(training_setting_check("string",
	    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9"
	    "QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
	    png));
	assert_non_null(training_setting_check("string", "not base64!", png));
	assert_non_null(training_setting_check(
	    "string", "R0lGODlhAQABAAAAACw=", png)); /* GIF89a... */
	assert_non_null(training_setting_check(
	    "string", "iVBORw0KGgoAAAANSUhEUgAA", png)); /* cut short */
	json_decref(png);
	json_decref(num);
	json_decref(list);
	json_decref(str);
	json_decref(bad);
}

/* A phone number for SMS: "+", 2 to 15 digits, the first not 0. */
static void
test_e164(void **state)
{
	static const char *const good[] = { "+447700900123", "+12025550143",
		"+49", "+999999999999999", NULL };
	static const char *const bad[] = { "447700900123", "+0447700900123",
		"+44 7700 900123", "07700 900123", "+4", "+",
		"+9999999999999999", "+44-7700", "+44770090012x", "", NULL };
	size_t			 i;

	(void)state;
	for (i = 0; good[i] != NULL; i++)
		assert_true(training_e164_ok(good[i]));
	for (i = 0; bad[i] != NULL; i++)
		assert_false(training_e164_ok(bad[i]));
	assert_false(training_e164_ok(NULL));
}

/* The reminder due: the smallest offset whose time has come, none once
 * the moment has passed; the offsets in any order. */
static void
test_reminder_due(void **state)
{
	static const int64_t hours[] = { 24, 2 };
	static const int64_t rev[] = { 2, 24 };
	static const int64_t days[] = { 90, 30, 0 };
	const int64_t	     h = 3600000, start = 1000 * h;

	(void)state;
	assert_int_equal(
	    training_reminder_due(start - 30 * h, start, hours, 2, h), -1);
	assert_int_equal(
	    training_reminder_due(start - 24 * h, start, hours, 2, h), 24);
	assert_int_equal(
	    training_reminder_due(start - 23 * h, start, rev, 2, h), 24);
	assert_int_equal(
	    training_reminder_due(start - 2 * h, start, hours, 2, h), 2);
	/* Booked an hour ahead: the 2-hour one only, never a late 24. */
	assert_int_equal(training_reminder_due(start - h, start, rev, 2, h), 2);
	assert_int_equal(
	    training_reminder_due(start + 1, start, hours, 2, h), -1);
	assert_int_equal(training_reminder_due(0, 0, hours, 0, h), -1);
	/* Days: 120, 90, 45, 30, 29 and 0 days before; the day after. */
	assert_int_equal(training_reminder_due(100, 220, days, 3, 1), -1);
	assert_int_equal(training_reminder_due(100, 190, days, 3, 1), 90);
	assert_int_equal(training_reminder_due(100, 145, days, 3, 1), 90);
	assert_int_equal(training_reminder_due(100, 130, days, 3, 1), 30);
	assert_int_equal(training_reminder_due(100, 129, days, 3, 1), 30);
	assert_int_equal(training_reminder_due(100, 100, days, 3, 1), 0);
	assert_int_equal(training_reminder_due(101, 100, days, 3, 1), -1);
}

static void
test_left_words(void **state)
{
	const int64_t m = 60000;
	char	      out[48];

	(void)state;
	training_left_words(20 * 60 * m - 40000, out, sizeof(out));
	assert_string_equal(out, "20 hours");
	training_left_words(23 * 60 * m - 5 * m, out, sizeof(out));
	assert_string_equal(out, "23 hours");
	training_left_words(2 * 60 * m - 50000, out, sizeof(out));
	assert_string_equal(out, "2 hours");
	training_left_words(90 * m - 20000, out, sizeof(out));
	assert_string_equal(out, "1 hour 30 minutes");
	training_left_words(60 * m, out, sizeof(out));
	assert_string_equal(out, "1 hour");
	training_left_words(45 * m - 10000, out, sizeof(out));
	assert_string_equal(out, "45 minutes");
	training_left_words(61000, out, sizeof(out));
	assert_string_equal(out, "1 minute");
	training_left_words(0, out, sizeof(out));
	assert_string_equal(out, "1 minute");
}

static void
test_offsets_parse(void **state)
{
	int64_t out[5];

	(void)state;
	assert_int_equal(training_offsets_parse("[24,2]", 1, 720, out, 5), 2);
	assert_true(out[0] == 24 && out[1] == 2);
	assert_int_equal(training_offsets_parse("[]", 1, 720, out, 5), 0);
	assert_int_equal(
	    training_offsets_parse("[90,30,0]", 0, 365, out, 5), 3);
	assert_int_equal(training_offsets_parse("[0]", 1, 720, out, 5), -1);
	assert_int_equal(training_offsets_parse("[721]", 1, 720, out, 5), -1);
	assert_int_equal(training_offsets_parse("[1.5]", 1, 720, out, 5), -1);
	assert_int_equal(
	    training_offsets_parse("[\"24\"]", 1, 720, out, 5), -1);
	assert_int_equal(
	    training_offsets_parse("[1,2,3,4,5,6]", 1, 720, out, 5), -1);
	assert_int_equal(training_offsets_parse("{}", 1, 720, out, 5), -1);
	assert_int_equal(training_offsets_parse("[1,", 1, 720, out, 5), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_course_lengths),
		cmocka_unit_test(test_currency),
		cmocka_unit_test(test_money),
		cmocka_unit_test(test_stripe_signature),
		cmocka_unit_test(test_stripe_form),
		cmocka_unit_test(test_refund_policy),
		cmocka_unit_test(test_expiry_end),
		cmocka_unit_test(test_date_add),
		cmocka_unit_test(test_london_date),
		cmocka_unit_test(test_setting_check),
		cmocka_unit_test(test_e164),
		cmocka_unit_test(test_reminder_due),
		cmocka_unit_test(test_offsets_parse),
		cmocka_unit_test(test_left_words),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
