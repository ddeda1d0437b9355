/*
 * Unit tests for the therapy module's form checks (src/therapy/forms.c):
 * the field list checked when a form is saved (ids, types, options, the
 * validation rule syntax, scoring) and answers checked against the fields
 * when a response is submitted, with scoring. Table-driven: each case is
 * JSON in and the "field:code" list of problems out.
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

#include "therapy/therapy_int.h"

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

static int
cmp_str(const void *a, const void *b)
{
	return (strcmp(*(const char *const *)a, *(const char *const *)b));
}

/* Do two comma-separated lists hold the same items? */
static int
same_set(const char *a, const char *b)
{
	char   x[1024], y[1024];
	char  *xs[32], *ys[32], *p, *save;
	size_t nx = 0, ny = 0, i;

	snprintf(x, sizeof(x), "%s", a);
	snprintf(y, sizeof(y), "%s", b);
	for (p = strtok_r(x, ",", &save); p != NULL && nx < 32;
	     p = strtok_r(NULL, ",", &save))
		xs[nx++] = p;
	for (p = strtok_r(y, ",", &save); p != NULL && ny < 32;
	     p = strtok_r(NULL, ",", &save))
		ys[ny++] = p;
	if (nx != ny)
		return (0);
	qsort(xs, nx, sizeof(xs[0]), cmp_str);
	qsort(ys, ny, sizeof(ys[0]), cmp_str);
	for (i = 0; i < nx; i++)
		if (strcmp(xs[i], ys[i]) != 0)
			return (0);
	return (1);
}

static json_t *
parse(const char *s)
{
	json_error_t je;
	json_t	    *v;

	if (s == NULL)
		return (NULL);
	v = json_loads(s, 0, &je);
	if (v == NULL)
		fail_msg(
		    "bad test JSON at %d: %s: %s", je.position, je.text, s);
	return (v);
}

struct form_case {
	const char *fields;
	const char *scoring;
	const char *want; /* "" = accepted */
};

static const struct form_case form_cases[] = {
	/* Accepted shapes. */
	{ "[{\"id\":\"q1\",\"label\":\"Name\",\"type\":\"text\"}]", NULL, "" },
	{ "[{\"id\":\"q1\",\"label\":\"Mood\",\"type\":\"scale\","
	  "\"validation\":\"min:1|max:5\",\"required\":true}]",
	    NULL, "" },
	{ "[{\"id\":\"q1\",\"label\":\"n\",\"type\":\"number\","
	  "\"validation\":\"integer|min:-3\"}]",
	    NULL, "" },
	{ "[{\"id\":\"pick\",\"label\":\"p\",\"type\":\"checkbox\","
	  "\"options\":[\"a\",\"b\",\"c\"],\"validation\":\"min:1|max:2\"}]",
	    NULL, "" },
	{ "[{\"id\":\"q-1_A\",\"label\":\"r\",\"type\":\"radio\","
	  "\"options\":[\"x\",\"y\"],\"help_text\":\"choose one\"}]",
	    "{\"method\":\"sum\",\"items\":[\"q-1_A\"],\"bands\":[{\"min\":0,"
	    "\"label\":\"low\"},{\"min\":1,\"label\":\"high\"}]}",
	    "" },
	/* The list itself. */
	{ "{}", NULL, "fields:type" },
	/* Ids: present, well formed, unique. */
	{ "[{\"label\":\"x\",\"type\":\"text\"}]", NULL,
	    "fields[0].id:invalid" },
	{ "[{\"id\":\"a b\",\"label\":\"x\",\"type\":\"text\"}]", NULL,
	    "fields[0].id:invalid" },
	{ "[{\"id\":\"a\",\"label\":\"x\",\"type\":\"text\"},"
	  "{\"id\":\"a\",\"label\":\"y\",\"type\":\"text\"}]",
	    NULL, "fields[1].id:duplicate" },
	/* Types and options. */
	{ "[{\"id\":\"a\",\"label\":\"x\",\"type\":\"colour\"}]", NULL,
	    "fields[0].type:invalid" },
	{ "[{\"id\":\"a\",\"label\":\"x\",\"type\":\"select\"}]", NULL,
	    "fields[0].options:required" },
	{ "[{\"id\":\"a\",\"label\":\"x\",\"type\":\"radio\","
	  "\"options\":[\"y\",\"y\"]}]",
	    NULL, "fields[0].options:invalid" },
	{ "[{\"id\":\"a\",\"label\":\"x\",\"type\":\"text\","
	  "\"options\":[\"y\"]}]",
	    NULL, "fields[0].options:not_allowed" },
	{ "[{\"id\":\"a\",\"label\":\"x\",\"type\":\"text\",\"colour\":1}]",
	    NULL, "fields[0]:unknown_field" },
	/* The rule syntax. */
	{ "[{\"id\":\"a\",\"label\":\"x\",\"type\":\"number\","
	  "\"validation\":\"min:\"}]",
	    NULL, "fields[0].validation:invalid_rule" },
	{ "[{\"id\":\"a\",\"label\":\"x\",\"type\":\"number\","
	  "\"validation\":\"min:3|max:2\"}]",
	    NULL, "fields[0].validation:invalid_rule" },
	{ "[{\"id\":\"a\",\"label\":\"x\",\"type\":\"number\","
	  "\"validation\":\"regex:.*\"}]",
	    NULL, "fields[0].validation:invalid_rule" },
	{ "[{\"id\":\"a\",\"label\":\"x\",\"type\":\"text\","
	  "\"validation\":\"integer\"}]",
	    NULL, "fields[0].validation:invalid_rule" },
	{ "[{\"id\":\"a\",\"label\":\"x\",\"type\":\"date\","
	  "\"validation\":\"min:1\"}]",
	    NULL, "fields[0].validation:invalid_rule" },
	{ "[{\"id\":\"a\",\"label\":\"x\",\"type\":\"number\","
	  "\"validation\":\"min:99999999999999999999\"}]",
	    NULL, "fields[0].validation:invalid_rule" },
	/* Scoring names radio/select items of this form, once each. */
	{ "[{\"id\":\"a\",\"label\":\"x\",\"type\":\"text\"}]",
	    "{\"method\":\"sum\",\"items\":[\"a\"],\"bands\":[{\"min\":0,"
	    "\"label\":\"l\"}]}",
	    "scoring.items[0]:invalid" },
	{ "[{\"id\":\"a\",\"label\":\"x\",\"type\":\"radio\","
	  "\"options\":[\"p\",\"q\"]}]",
	    "{\"method\":\"sum\",\"items\":[\"a\",\"a\"],\"bands\":[{\"min\":0,"
	    "\"label\":\"l\"}]}",
	    "scoring.items[1]:duplicate" },
	{ "[{\"id\":\"a\",\"label\":\"x\",\"type\":\"radio\","
	  "\"options\":[\"p\",\"q\"]}]",
	    "{\"method\":\"median\",\"items\":[\"a\"],\"bands\":[{\"min\":0,"
	    "\"label\":\"l\"}]}",
	    "scoring:invalid" },
	{ "[{\"id\":\"a\",\"label\":\"x\",\"type\":\"radio\","
	  "\"options\":[\"p\",\"q\"]}]",
	    "{\"method\":\"sum\",\"items\":[\"a\"],\"bands\":[{\"min\":1,"
	    "\"label\":\"l\"}]}",
	    "scoring.bands:invalid" },
};

static void
test_form_fields(void **state)
{
	size_t	i;
	json_t *fields, *scoring, *errs;
	char	got[1024];
	int	bad = 0;

	(void)state;
	for (i = 0; i < sizeof(form_cases) / sizeof(form_cases[0]); i++) {
		fields = parse(form_cases[i].fields);
		scoring = parse(form_cases[i].scoring);
		errs = json_array();
		therapy_form_check(fields, scoring, errs);
		codes(errs, got, sizeof(got));
		if (strcmp(got, form_cases[i].want) != 0) {
			print_error("case %zu (%s): want \"%s\", got \"%s\"\n",
			    i, form_cases[i].fields, form_cases[i].want, got);
			bad++;
		}
		json_decref(fields);
		json_decref(scoring);
		json_decref(errs);
	}
	assert_int_equal(bad, 0);
}

static const char *const answer_fields =
    "[{\"id\":\"name\",\"label\":\"n\",\"type\":\"text\",\"required\":true,"
    "\"validation\":\"min:2|max:5\"},"
    "{\"id\":\"notes\",\"label\":\"t\",\"type\":\"textarea\"},"
    "{\"id\":\"pick\",\"label\":\"p\",\"type\":\"select\","
    "\"options\":[\"a\",\"b\"]},"
    "{\"id\":\"many\",\"label\":\"m\",\"type\":\"checkbox\","
    "\"options\":[\"x\",\"y\",\"z\"],\"validation\":\"max:2\"},"
    "{\"id\":\"day\",\"label\":\"d\",\"type\":\"date\"},"
    "{\"id\":\"at\",\"label\":\"a\",\"type\":\"time\"},"
    "{\"id\":\"mail\",\"label\":\"e\",\"type\":\"email\"},"
    "{\"id\":\"n\",\"label\":\"n\",\"type\":\"number\","
    "\"validation\":\"integer|min:0|max:10\"},"
    "{\"id\":\"mood\",\"label\":\"s\",\"type\":\"scale\"},"
    "{\"id\":\"r\",\"label\":\"r\",\"type\":\"radio\","
    "\"options\":[\"lo\",\"mid\",\"hi\"]}]";

struct answer_case {
	const char *answers;
	const char *want;
};

static const struct answer_case answer_cases[] = {
	{ "{\"name\":\"Ann\"}", "" },
	{ "{\"name\":\"Ann\",\"notes\":\"ok\",\"pick\":\"b\",\"many\":[\"x\","
	  "\"z\"],\"day\":\"2026-02-28\",\"at\":\"09:30\",\"mail\":"
	  "\"a@example.org\",\"n\":10,\"mood\":0,\"r\":\"hi\"}",
	    "" },
	{ "{}", "responses.name:required" },
	{ "{\"name\":\"A\"}", "responses.name:out_of_range" },
	{ "{\"name\":\"Annabel\"}", "responses.name:out_of_range" },
	{ "{\"name\":7}", "responses.name:type" },
	{ "{\"name\":\"Ann\",\"pick\":\"c\"}",
	    "responses.pick:invalid_option" },
	{ "{\"name\":\"Ann\",\"many\":[\"x\",\"y\",\"z\"]}",
	    "responses.many:out_of_range" },
	{ "{\"name\":\"Ann\",\"many\":[\"q\"]}",
	    "responses.many:invalid_option" },
	{ "{\"name\":\"Ann\",\"day\":\"2026-02-30\"}",
	    "responses.day:invalid_format" },
	{ "{\"name\":\"Ann\",\"at\":\"25:00\"}",
	    "responses.at:invalid_format" },
	{ "{\"name\":\"Ann\",\"mail\":\"not-an-address\"}",
	    "responses.mail:invalid_format" },
	{ "{\"name\":\"Ann\",\"n\":2.5}", "responses.n:type" },
	{ "{\"name\":\"Ann\",\"n\":11}", "responses.n:out_of_range" },
	{ "{\"name\":\"Ann\",\"mood\":11}", "responses.mood:out_of_range" },
	{ "{\"name\":\"Ann\",\"mood\":-1}", "responses.mood:out_of_range" },
	{ "{\"name\":\"Ann\",\"extra\":1}", "responses.extra:unknown_field" },
	/* One entry per bad field, all of them. */
	{ "{\"pick\":\"c\",\"n\":-1}",
	    "responses.name:required,responses.pick:invalid_option,"
	    "responses.n:out_of_range" },
};

static void
test_answers(void **state)
{
	size_t	i;
	json_t *fields, *answers, *errs, *score;
	char	got[1024];

	(void)state;
	fields = parse(answer_fields);
	for (i = 0; i < sizeof(answer_cases) / sizeof(answer_cases[0]); i++) {
		answers = parse(answer_cases[i].answers);
		errs = json_array();
		score = NULL;
		therapy_answers_check(fields, NULL, answers, errs, &score);
		codes(errs, got, sizeof(got));
		/* The order of entries follows the answers object: compare
		 * as sets. */
		if (!same_set(got, answer_cases[i].want))
			fail_msg("case %zu (%s): want \"%s\", got \"%s\"", i,
			    answer_cases[i].answers, answer_cases[i].want, got);
		json_decref(answers);
		json_decref(errs);
		json_decref(score);
	}
	json_decref(fields);
}

/* PHQ-9 style scoring: the band edges land on the right labels. */
static void
test_scoring_bands(void **state)
{
	static const char *const opts[] = { "0", "1", "2", "3" };
	static const struct {
		int	    total;
		const char *band;
	} edges[] = {
		{ 0, "minimal" },
		{ 4, "minimal" },
		{ 5, "mild" },
		{ 9, "mild" },
		{ 10, "moderate" },
		{ 14, "moderate" },
		{ 15, "moderately_severe" },
		{ 19, "moderately_severe" },
		{ 20, "severe" },
		{ 27, "severe" },
	};
	json_t *fields, *scoring, *answers, *errs, *score, *items;
	char	id[8];
	size_t	i, q;
	int	left;

	(void)state;
	fields = json_array();
	items = json_array();
	for (q = 1; q <= 9; q++) {
		snprintf(id, sizeof(id), "q%zu", q);
		json_array_append_new(fields,
		    json_pack("{s:s,s:s,s:s,s:b,s:[s,s,"
			      "s,s]}",
			"id", id, "label", id, "type", "radio", "required", 1,
			"options", opts[0], opts[1], opts[2], opts[3]));
		json_array_append_new(items, json_string(id));
	}
	scoring = json_pack("{s:s,s:o,s:[{s:i,s:s},{s:i,s:s},{s:i,s:s},"
			    "{s:i,s:s},{s:i,s:s}]}",
	    "method", "sum", "items", items, "bands", "min", 0, "label",
	    "minimal", "min", 5, "label", "mild", "min", 10, "label",
	    "moderate", "min", 15, "label", "moderately_severe", "min", 20,
	    "label", "severe");
	errs = json_array();
	therapy_form_check(fields, scoring, errs);
	assert_int_equal(json_array_size(errs), 0);
	for (i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
		answers = json_object();
		left = edges[i].total;
		for (q = 1; q <= 9; q++) {
			int s = left > 3 ? 3 : left;

			left -= s;
			snprintf(id, sizeof(id), "q%zu", q);
			json_object_set_new(answers, id, json_string(opts[s]));
		}
		score = NULL;
		therapy_answers_check(fields, scoring, answers, errs, &score);
		assert_int_equal(json_array_size(errs), 0);
		assert_non_null(score);
		assert_int_equal(
		    json_integer_value(json_object_get(score, "total")),
		    edges[i].total);
		assert_int_equal(
		    json_integer_value(json_object_get(score, "max")), 27);
		assert_string_equal(
		    json_string_value(json_object_get(score, "severity")),
		    edges[i].band);
		json_decref(score);
		json_decref(answers);
	}
	json_decref(errs);
	json_decref(fields);
	json_decref(scoring);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_form_fields),
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_scoring_bands),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
