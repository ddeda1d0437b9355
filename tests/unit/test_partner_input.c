/*
 * The partners module's parsers of outside input (src/partners/input.c)
 * at their edges: the bodies of validate-code, assign and registration.
 * The booking webhook's are test_booking_input.c, report parameters
 * test_reports.c.
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
		cmocka_unit_test(test_code_body),
		cmocka_unit_test(test_register_body),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
