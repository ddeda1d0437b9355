/*
 * The examples the OpenAPI document makes from its schemas
 * (resource/openapi_examples.c): a schema it cannot honour gets no example
 * rather than a wrong one or a crash, and a wide or self-holding schema
 * costs a bounded amount of work. Each case is a document with one
 * operation whose request body has the schema.
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

#include "resource/resource_int.h"

/* The example made for a body of schema (JSON text), with components'
 * schemas from components (may be NULL); NULL when none was made. */
static json_t *
made(const char *schema, const char *components)
{
	json_t *doc, *s, *ex;

	s = json_loads(schema, 0, NULL);
	assert_non_null(s);
	doc = json_pack("{s:{s:{s:{s:{},s:{s:{s:{s:o}}}}}}}", "paths", "/x",
	    "post", "responses", "requestBody", "content", "application/json",
	    "schema", s);
	assert_non_null(doc);
	if (components != NULL)
		json_object_set_new(doc, "components",
		    json_pack(
			"{s:o}", "schemas", json_loads(components, 0, NULL)));
	openapi_examples_fill(doc);
	ex = json_object_get(
	    json_object_get(
		json_object_get(
		    json_object_get(
			json_object_get(
			    json_object_get(
				json_object_get(doc, "paths"), "/x"),
			    "post"),
			"requestBody"),
		    "content"),
		"application/json"),
	    "example");
	json_incref(ex);
	json_decref(doc);
	return (ex);
}

static void
type_array_with_a_non_string(void **state)
{
	json_t *ex;

	(void)state;
	/* Not a type name: passed over, not read as a string. */
	ex = made("{\"type\":[1,null,\"string\"]}", NULL);
	assert_non_null(ex);
	assert_string_equal(json_string_value(ex), "text");
	json_decref(ex);
	ex = made("{\"type\":[1]}", NULL);
	json_decref(ex); /* any answer, but no crash */
}

static void
negative_lengths_give_none(void **state)
{
	(void)state;
	assert_null(made("{\"type\":\"string\",\"minLength\":-1}", NULL));
	assert_null(made("{\"type\":\"string\",\"maxLength\":-3}", NULL));
}

static void
integer_bounds(void **state)
{
	json_t *ex;

	(void)state;
	/* exclusiveMinimum at the top of the range: nothing above it. */
	assert_null(made("{\"type\":\"integer\","
			 "\"exclusiveMinimum\":9223372036854775807}",
	    NULL));
	ex = made("{\"type\":\"integer\",\"exclusiveMinimum\":4}", NULL);
	assert_int_equal(json_integer_value(ex), 5);
	json_decref(ex);
	/* exclusiveMaximum honoured: below it, not at it. */
	ex = made("{\"type\":\"integer\",\"exclusiveMaximum\":1}", NULL);
	assert_non_null(ex);
	assert_int_equal(json_integer_value(ex), 0);
	json_decref(ex);
	ex = made("{\"type\":\"integer\",\"minimum\":-5,"
		  "\"exclusiveMaximum\":-2}",
	    NULL);
	assert_int_equal(json_integer_value(ex), -5);
	json_decref(ex);
	assert_null(made("{\"type\":\"integer\",\"minimum\":5,"
			 "\"exclusiveMaximum\":5}",
	    NULL));
	assert_null(made("{\"type\":\"integer\",\"exclusiveMinimum\":3,"
			 "\"maximum\":3}",
	    NULL));
	/* exclusiveMaximum at the bottom of the range: nothing below. */
	assert_null(made("{\"type\":\"integer\","
			 "\"exclusiveMaximum\":-9223372036854775808}",
	    NULL));
	/* A fraction for a bound is one this does not read. */
	assert_null(made("{\"type\":\"number\",\"minimum\":0.5}", NULL));
}

static void
anyof_beside_a_type(void **state)
{
	json_t *ex;

	(void)state;
	/* A body's enum with its deprecated spellings (openapi.c's
	 * enum_olds): the first branch's value, not a made string. */
	ex = made("{\"type\":\"string\",\"anyOf\":[{\"enum\":[\"cancelled\"]},"
		  "{\"enum\":[\"canceled\"],\"deprecated\":true}]}",
	    NULL);
	assert_non_null(ex);
	assert_string_equal(json_string_value(ex), "cancelled");
	json_decref(ex);
}

static void
a_ref_cycle_is_not_followed(void **state)
{
	json_t *ex;

	(void)state;
	/* Optional members that hold the schema again: left out. */
	ex = made("{\"$ref\":\"#/components/schemas/node\"}",
	    "{\"node\":{\"type\":\"object\",\"properties\":{"
	    "\"name\":{\"type\":\"string\"},"
	    "\"a\":{\"$ref\":\"#/components/schemas/node\"},"
	    "\"b\":{\"$ref\":\"#/components/schemas/node\"},"
	    "\"c\":{\"$ref\":\"#/components/schemas/node\"},"
	    "\"d\":{\"$ref\":\"#/components/schemas/node\"}}}}");
	assert_non_null(ex);
	assert_int_equal(json_object_size(ex), 1);
	assert_string_equal(
	    json_string_value(json_object_get(ex, "name")), "text");
	json_decref(ex);
	/* A required one: no finite example. */
	assert_null(made("{\"$ref\":\"#/components/schemas/node\"}",
	    "{\"node\":{\"type\":\"object\",\"required\":[\"next\"],"
	    "\"properties\":{\"next\":{\"$ref\":"
	    "\"#/components/schemas/node\"}}}}"));
}

static void
a_wide_schema_stops_at_the_budget(void **state)
{
	char	comps[8192], part[64];
	size_t	n = 0;
	int	level, i;
	json_t *ex;

	(void)state;
	/* Five levels of twelve members each, no cycle: 12^5 leaves. */
	n += (size_t)snprintf(comps + n, sizeof(comps) - n, "{");
	for (level = 0; level < 5; level++) {
		n += (size_t)snprintf(comps + n, sizeof(comps) - n,
		    "%s\"l%d\":{\"type\":\"object\",\"properties\":{",
		    level ? "," : "", level);
		for (i = 0; i < 12; i++) {
			if (level == 4)
				snprintf(part, sizeof(part),
				    "{\"type\":\"integer\"}");
			else
				snprintf(part, sizeof(part),
				    "{\"$ref\":\"#/components/schemas/l%d\"}",
				    level + 1);
			n += (size_t)snprintf(comps + n, sizeof(comps) - n,
			    "%s\"m%d\":%s", i ? "," : "", i, part);
		}
		n += (size_t)snprintf(comps + n, sizeof(comps) - n, "}}");
	}
	n += (size_t)snprintf(comps + n, sizeof(comps) - n, "}");
	assert_true(n < sizeof(comps));
	ex = made("{\"$ref\":\"#/components/schemas/l0\"}", comps);
	/* Past the budget the members not made are left out (none is
	 * required): far fewer than 12^5 leaves. */
	if (ex != NULL) {
		char *s = json_dumps(ex, JSON_COMPACT);

		assert_non_null(s);
		assert_true(strlen(s) < 400000);
		free(s);
	}
	json_decref(ex);
	/* The budget is per example: a small one beside it is made. */
	ex = made("{\"$ref\":\"#/components/schemas/l4\"}", comps);
	assert_non_null(ex);
	assert_int_equal(json_object_size(ex), 12);
	json_decref(ex);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(type_array_with_a_non_string),
		cmocka_unit_test(negative_lengths_give_none),
		cmocka_unit_test(integer_bounds),
		cmocka_unit_test(anyof_beside_a_type),
		cmocka_unit_test(a_ref_cycle_is_not_followed),
		cmocka_unit_test(a_wide_schema_stops_at_the_budget),
	};

	return (
	    cmocka_run_group_tests_name("openapi_examples", tests, NULL, NULL));
}
