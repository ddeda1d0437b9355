/*
 * Forms and form responses.
 *
 * A form's fields are a JSON array of objects:
 *
 *	{"id": "q1", "label": "...", "type": "radio", "required": true,
 *	 "options": ["a", "b"], "validation": "min:1|max:3",
 *	 "help_text": "..."}
 *
 * id: 1 to 64 of [A-Za-z0-9_-], unique in the form; type: text, textarea,
 * select, radio, checkbox, date (YYYY-MM-DD), time (HH:MM or HH:MM:SS),
 * email, number or scale; options: required for select, radio and
 * checkbox (unique non-empty strings), refused for the others.
 *
 * Validation rule syntax: terms separated by "|", each one of
 *
 *	min:N	max:N	N an integer. number and scale: bounds of the value
 *			(a scale without them runs 0 to 10); text, textarea
 *			and email: bounds of the length in characters;
 *			checkbox: bounds of the number of choices.
 *	integer		number: the value must be whole.
 *
 * A rule that does not parse, a term on a type it does not apply to, or
 * min above max is refused when the form is saved.
 *
 * Scoring (optional): {"method": "sum", "items": [field ids], "bands":
 * [{"min": 0, "label": "minimal"}, ...]}. Items are radio or select
 * fields; an item's score is the index of the chosen option (0 for the
 * first); the total is their sum, and the severity the label of the last
 * band whose min the total reaches (bands in ascending order).
 *
 * Responses are checked against the form when submitted (one problem
 * entry per bad field, named "responses.<id>"), scored when the form
 * scores, and sealed under the client's key with their score.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "resource/resource.h"
#include "store/store.h"
#include "therapy/therapy_int.h"

#define FORM_FIELDS_MAX	 200
#define FORM_OPTIONS_MAX 100
#define FORM_ID_MAX	 64
#define FORM_LABEL_MAX	 1000 /* characters (code points) of a label */
#define FORM_ANSWER_MAX	 THERAPY_TEXT_MAX

struct rule {
	int	has_min, has_max, integer;
	int64_t min, max;
};

static int     forms_before_create(struct resource_ctx *, json_t *);
static int     forms_before_update(struct resource_ctx *, json_t *);
static int     responses_before_create(struct resource_ctx *, json_t *);
static int     rule_parse(const char *, struct rule *);
static int     is_choice(const char *);
static int     type_known(const char *);
static int     id_ok(const char *);
static long    option_index(json_t *, const char *);
static int     time_ok(const char *);
static int     date_ok(const char *);
static long    utf8_len(const char *);
static int     label_ok(json_t *);
static void    form_check(json_t *, json_t *, int, json_t *);
static void    answer_check(json_t *, json_t *, json_t *);
static json_t *field_get(json_t *, const char *);

static const char *const form_types[] = { "pre_session", "in_session",
	"post_session", "assessment", "custom", NULL };
static const char *const field_types[] = { "text", "textarea", "select",
	"radio", "checkbox", "date", "time", "email", "number", "scale", NULL };

/*
 * What therapy_form_check takes, for the OpenAPI document: its members,
 * their types and bounds (FORM_FIELDS_MAX, FORM_OPTIONS_MAX, field_types).
 * What a schema does not say (options only for choices, the validation
 * rule's grammar, unique ids) the check answers per member. The examples
 * are ones it takes (test_openapi_examples.py sends them).
 */
/* clang-format off */
#define FORM_FIELDS_SCHEMA "{\"type\":\"array\",\"minItems\":1," \
	"\"maxItems\":200,\"items\":{\"type\":\"object\"," \
	"\"required\":[\"id\",\"label\",\"type\"]," \
	"\"additionalProperties\":false,\"properties\":{" \
	"\"id\":{\"type\":\"string\",\"pattern\":\"^[A-Za-z0-9_-]{1,64}$\"}," \
	"\"label\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":1000}," \
	"\"type\":{\"enum\":[\"text\",\"textarea\",\"select\",\"radio\"," \
	"\"checkbox\",\"date\",\"time\",\"email\",\"number\",\"scale\"]}," \
	"\"required\":{\"type\":\"boolean\"}," \
	"\"options\":{\"type\":[\"array\",\"null\"],\"minItems\":1," \
	"\"maxItems\":100,\"uniqueItems\":true," \
	"\"items\":{\"type\":\"string\",\"minLength\":1}}," \
	"\"validation\":{\"type\":[\"string\",\"null\"]}," \
	"\"help_text\":{\"type\":[\"string\",\"null\"]}}}," \
	"\"example\":[{\"id\":\"mood\",\"label\":\"How is your mood?\"," \
	"\"type\":\"radio\",\"required\":true,\"options\":[\"low\"," \
	"\"steady\",\"good\"]},{\"id\":\"notes\",\"label\":\"Anything " \
	"else?\",\"type\":\"textarea\",\"validation\":\"max:500\"}]}"
#define FORM_SCORING_SCHEMA "{\"type\":\"object\"," \
	"\"required\":[\"method\",\"items\",\"bands\"]," \
	"\"additionalProperties\":false,\"properties\":{" \
	"\"method\":{\"const\":\"sum\"}," \
	"\"items\":{\"type\":\"array\",\"minItems\":1," \
	"\"items\":{\"type\":\"string\"}}," \
	"\"bands\":{\"type\":\"array\",\"items\":{\"type\":\"object\"," \
	"\"required\":[\"min\",\"label\"]," \
	"\"additionalProperties\":false,\"properties\":{" \
	"\"min\":{\"type\":\"integer\"},\"label\":{\"type\":\"string\"," \
	"\"minLength\":1,\"maxLength\":1000}}}}}," \
	"\"example\":{\"method\":\"sum\",\"items\":[\"mood\"]," \
	"\"bands\":[{\"min\":0,\"label\":\"minimal\"}," \
	"{\"min\":2,\"label\":\"high\"}]}}"
/* clang-format on */

static const struct field form_fields[] = {
	{ "title", FIELD_TEXT, FIELD_REQUIRED | FIELD_SORT, 1, 200, NULL, NULL,
	    NULL, 0, "form title" },
	{ "description", FIELD_TEXT, FIELD_NULLABLE, 0, THERAPY_TEXT_MAX, NULL,
	    NULL, NULL, 0, "what the form is for" },
	{ "type", FIELD_ENUM, FIELD_REQUIRED | FIELD_FILTER, 0, 0, form_types,
	    NULL, NULL, 0,
	    "pre_session, in_session, post_session, assessment or custom" },
	{ "fields", FIELD_JSON, FIELD_REQUIRED, 0, 0, NULL, NULL, NULL, 0,
	    "array of {id, label, type, required, options, validation, "
	    "help_text}. id: 1-64 of [A-Za-z0-9_-], unique; type: text, "
	    "textarea, select, radio, checkbox, date (YYYY-MM-DD), time "
	    "(HH:MM[:SS]), email, number or scale; options: required for "
	    "select, radio and checkbox, refused for the rest. validation: "
	    "terms separated by '|': 'min:N' and 'max:N' (N an integer: the "
	    "value of a number or scale - a scale without them runs 0 to 10 - "
	    "the length of text, textarea and email, the number of checkbox "
	    "choices) and 'integer' (number only). A rule that does not "
	    "parse, a term on a type it does not apply to, or min above max "
	    "is refused when the form is saved",
	    .schema = FORM_FIELDS_SCHEMA },
	{ "scoring", FIELD_JSON, FIELD_NULLABLE, 0, 0, NULL, NULL, NULL, 0,
	    "{method: sum, items: [ids], bands: [{min, label}]} or null",
	    .schema = FORM_SCORING_SCHEMA },
	{ "is_active", FIELD_BOOL, FIELD_FILTER, 0, 0, NULL, "true", NULL, 0,
	    "takes responses" },
	{ "meta", FIELD_JSON, 0, 0, 0, NULL, "{}", NULL, 0,
	    "additional metadata" },
	{ "created_at", FIELD_TIME, FIELD_READONLY | FIELD_SORT, 0, 0, NULL,
	    NULL, NULL, 0, NULL },
	{ "updated_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
	{ "created_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
	{ "updated_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
};

const struct resource forms_resource = {
	.name = "forms",
	.path = "/v1/forms",
	.table = "forms",
	.fields = form_fields,
	.nfields = NELEM(form_fields),
	.doc = "Forms and assessments with typed fields, checked when saved. "
	       "PHQ-9 and GAD-7 are seeded, with scoring.",
	.before_create = forms_before_create,
	.before_update = forms_before_update,
};

static const struct field response_fields[] = {
	{ "form_id", FIELD_UUID,
	    FIELD_REQUIRED | FIELD_CREATE_ONLY | FIELD_FILTER, 0, 0, NULL, NULL,
	    "forms", 0, "the form answered" },
	{ "session_id", FIELD_UUID,
	    FIELD_NULLABLE | FIELD_CREATE_ONLY | FIELD_FILTER, 0, 0, NULL, NULL,
	    "therapy_sessions", 0,
	    "the client's therapy session it belongs to, if any" },
	{ "client_id", FIELD_UUID,
	    FIELD_REQUIRED | FIELD_CREATE_ONLY | FIELD_FILTER, 0, 0, NULL, NULL,
	    "users", 0, "the client; the caller when not given" },
	{ "responses", FIELD_JSON,
	    FIELD_REQUIRED | FIELD_CREATE_ONLY | FIELD_PERSONAL | FIELD_HEALTH,
	    0, 0, NULL, NULL, NULL, 0, "answers by field id" },
	{ "score", FIELD_JSON,
	    FIELD_READONLY | FIELD_NULLABLE | FIELD_PERSONAL | FIELD_HEALTH, 0,
	    0, NULL, NULL, NULL, 0,
	    "{items, total, max, severity} when the form scores",
	    .schema = "{\"type\":\"object\",\"required\":[\"items\","
		      "\"total\",\"max\",\"severity\"],"
		      "\"additionalProperties\":false,\"properties\":{"
		      "\"items\":{\"type\":\"object\","
		      "\"additionalProperties\":{\"type\":[\"integer\","
		      "\"null\"]}},\"total\":{\"type\":\"integer\"},"
		      "\"max\":{\"type\":\"integer\"},\"severity\":{"
		      "\"type\":[\"string\",\"null\"]}}}" },
	{ "submitted_at", FIELD_TIME, FIELD_READONLY | FIELD_SORT, 0, 0, NULL,
	    NULL, NULL, 0, "when it was submitted" },
	{ "meta", FIELD_JSON, 0, 0, 0, NULL, "{}", NULL, 0,
	    "additional metadata" },
	{ "created_at", FIELD_TIME, FIELD_READONLY | FIELD_SORT, 0, 0, NULL,
	    NULL, NULL, 0, NULL },
	{ "updated_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
	{ "created_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
	{ "updated_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
};

const struct resource form_responses_resource = {
	.name = "form_responses",
	.path = "/v1/form-responses",
	.table = "form_responses",
	.fields = response_fields,
	.nfields = NELEM(response_fields),
	.owner_column = "client_id",
	.related_kinds = "guardian_of,practitioner_of",
	.doc = "A client's answers to a form, checked against its fields, "
	       "scored when the form scores, sealed at rest; every read is "
	       "audited. Clients submit their own; their practitioners and "
	       "guardians read them.",
	.before_create = responses_before_create,
	.codes = "{\"403\":[\"CONSENT_REQUIRED\",\"DATE_OF_BIRTH_REQUIRED\"]}",
};

/* Rules */

static int
rule_parse(const char *s, struct rule *r)
{
	char	    term[64];
	const char *e;
	size_t	    n;

	memset(r, 0, sizeof(*r));
	if (s == NULL || *s == '\0')
		return (0);
	for (;;) {
		e = strchr(s, '|');
		n = e != NULL ? (size_t)(e - s) : strlen(s);
		if (n == 0 || n >= sizeof(term))
			return (-1);
		memcpy(term, s, n);
		term[n] = '\0';
		if (strcmp(term, "integer") == 0)
			r->integer = 1;
		else if (strncmp(term, "min:", 4) == 0 && !r->has_min &&
		    parse_int64(term + 4, INT32_MIN, INT32_MAX, &r->min) == 0)
			r->has_min = 1;
		else if (strncmp(term, "max:", 4) == 0 && !r->has_max &&
		    parse_int64(term + 4, INT32_MIN, INT32_MAX, &r->max) == 0)
			r->has_max = 1;
		else
			return (-1);
		if (e == NULL)
			break;
		s = e + 1;
	}
	if (r->has_min && r->has_max && r->min > r->max)
		return (-1);
	return (0);
}

static int
is_choice(const char *t)
{
	return (strcmp(t, "select") == 0 || strcmp(t, "radio") == 0 ||
	    strcmp(t, "checkbox") == 0);
}

static int
type_known(const char *t)
{
	const char *const *p;

	for (p = field_types; *p != NULL; p++)
		if (strcmp(*p, t) == 0)
			return (1);
	return (0);
}

static int
id_ok(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || strlen(s) > FORM_ID_MAX)
		return (0);
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
			(s[i] >= 'A' && s[i] <= 'Z') ||
			(s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
			s[i] == '-'))
			return (0);
	return (1);
}

static long
option_index(json_t *options, const char *v)
{
	size_t	i;
	json_t *o;

	json_array_foreach(options, i, o)
		if (v != NULL && json_is_string(o) &&
		    strcmp(json_string_value(o), v) == 0)
			return ((long)i);
	return (-1);
}

static json_t *
field_get(json_t *fields, const char *id)
{
	size_t	i;
	json_t *f;

	json_array_foreach(fields, i, f)
		if (strcmp(json_string_value(json_object_get(f, "id"))
			    ? json_string_value(json_object_get(f, "id"))
			    : "",
			id) == 0)
			return (f);
	return (NULL);
}

/* Form checks */

/* A field's or a band's label: a text of 1 to FORM_LABEL_MAX characters,
 * counted as the document's maxLength counts them (code points, not the
 * bytes of their UTF-8). */
static int
label_ok(json_t *v)
{
	return (json_is_string(v) && json_string_length(v) > 0 &&
	    utf8_len(json_string_value(v)) <= FORM_LABEL_MAX);
}

void
therapy_form_check(json_t *fields, json_t *scoring, json_t *errs)
{
	form_check(fields, scoring, 0, errs);
}

/* The checks of a form's fields and scoring; stored: scoring is the
 * row's, not the body's (a PATCH of fields only), so its band labels are
 * checked for shape only: a form stored before labels were bounded may
 * hold "" or a longer one, and the caller did not send them. */
static void
form_check(json_t *fields, json_t *scoring, int stored, json_t *errs)
{
	static const char *const keys[] = { "id", "label", "type", "required",
		"options", "validation", "help_text", NULL };
	const char		*k, *type, *id;
	const char *const	*kp;
	struct rule		 r;
	json_t			*f, *v, *o, *items, *bands, *b;
	char			 name[96];
	size_t			 i, j, m;
	int64_t			 last = INT64_MIN;

	if (!json_is_array(fields) || json_array_size(fields) == 0 ||
	    json_array_size(fields) > FORM_FIELDS_MAX) {
		therapy_err(errs, "fields", "type",
		    "must be an array of 1 to "
		    "200 field objects");
		return;
	}
	json_array_foreach(fields, i, f) {
		snprintf(name, sizeof(name), "fields[%zu]", i);
		if (!json_is_object(f)) {
			therapy_err(errs, name, "type", "must be an object");
			continue;
		}
		json_object_foreach(f, k, v) {
			for (kp = keys; *kp != NULL && strcmp(*kp, k) != 0;
			     kp++)
				;
			if (*kp == NULL) {
				therapy_err(errs, name, "unknown_field",
				    "takes id, label, type, required, options, "
				    "validation and help_text");
				break;
			}
		}
		id = json_string_value(json_object_get(f, "id"));
		type = json_string_value(json_object_get(f, "type"));
		snprintf(name, sizeof(name), "fields[%zu].id", i);
		if (!id_ok(id))
			therapy_err(errs, name, "invalid",
			    "1 to 64 of letters, "
			    "digits, _ and -");
		else
			for (j = 0; j < i; j++)
				if (json_equal(
					json_object_get(
					    json_array_get(fields, j), "id"),
					json_object_get(f, "id")))
					therapy_err(errs, name, "duplicate",
					    "ids must be unique in a form");
		snprintf(name, sizeof(name), "fields[%zu].label", i);
		v = json_object_get(f, "label");
		if (!label_ok(v))
			therapy_err(errs, name, "invalid",
			    "a text of 1 to 1000 characters");
		snprintf(name, sizeof(name), "fields[%zu].type", i);
		if (type == NULL || !type_known(type)) {
			therapy_err(errs, name, "invalid",
			    "one of text, "
			    "textarea, select, radio, checkbox, date, time, "
			    "email, number, scale");
			continue;
		}
		v = json_object_get(f, "required");
		snprintf(name, sizeof(name), "fields[%zu].required", i);
		if (v != NULL && !json_is_boolean(v))
			therapy_err(
			    errs, name, "type", "must be true or false");
		v = json_object_get(f, "help_text");
		snprintf(name, sizeof(name), "fields[%zu].help_text", i);
		if (v != NULL && !json_is_null(v) && !json_is_string(v))
			therapy_err(errs, name, "type", "must be a text");
		o = json_object_get(f, "options");
		snprintf(name, sizeof(name), "fields[%zu].options", i);
		if (is_choice(type)) {
			if (!json_is_array(o) || json_array_size(o) == 0 ||
			    json_array_size(o) > FORM_OPTIONS_MAX)
				therapy_err(errs, name, "required",
				    "a choice "
				    "field needs 1 to 100 options");
			else
				json_array_foreach(o, j, v)
					if (!json_is_string(v) ||
					    json_string_length(v) == 0 ||
					    option_index(
						o, json_string_value(v)) !=
						(long)j) {
						therapy_err(errs, name,
						    "invalid",
						    "options are "
						    "unique non-empty texts");
						break;
					}
		} else if (o != NULL && !json_is_null(o))
			therapy_err(errs, name, "not_allowed",
			    "only select, "
			    "radio and checkbox fields take options");
		v = json_object_get(f, "validation");
		snprintf(name, sizeof(name), "fields[%zu].validation", i);
		if (v == NULL || json_is_null(v))
			continue;
		if (!json_is_string(v) ||
		    rule_parse(json_string_value(v), &r) != 0)
			therapy_err(errs, name, "invalid_rule",
			    "terms min:N, "
			    "max:N, integer separated by |");
		else if ((r.integer && strcmp(type, "number") != 0) ||
		    ((r.has_min || r.has_max) &&
			(strcmp(type, "date") == 0 ||
			    strcmp(type, "time") == 0 ||
			    strcmp(type, "select") == 0 ||
			    strcmp(type, "radio") == 0)))
			therapy_err(errs, name, "invalid_rule",
			    "a term does "
			    "not apply to this type");
	}
	if (scoring == NULL || json_is_null(scoring))
		return;
	items = json_object_get(scoring, "items");
	bands = json_object_get(scoring, "bands");
	if (!json_is_object(scoring) || json_object_size(scoring) != 3 ||
	    !json_is_string(json_object_get(scoring, "method")) ||
	    strcmp(json_string_value(json_object_get(scoring, "method")),
		"sum") != 0 ||
	    !json_is_array(items) || json_array_size(items) == 0 ||
	    !json_is_array(bands)) {
		therapy_err(errs, "scoring", "invalid",
		    "must be {method: sum, "
		    "items: [ids], bands: [{min, label}]}");
		return;
	}
	json_array_foreach(items, i, v) {
		size_t prev;

		for (prev = 0; prev < i; prev++)
			if (json_equal(json_array_get(items, prev), v)) {
				snprintf(name, sizeof(name),
				    "scoring.items[%zu]", i);
				therapy_err(errs, name, "duplicate",
				    "names an "
				    "item already scored");
			}
		f = json_is_string(v) ? field_get(fields, json_string_value(v))
				      : NULL;
		type = json_string_value(json_object_get(f, "type"));
		if (f == NULL || type == NULL ||
		    !(strcmp(type, "radio") == 0 ||
			strcmp(type, "select") == 0)) {
			snprintf(name, sizeof(name), "scoring.items[%zu]", i);
			therapy_err(errs, name, "invalid",
			    "must name a radio "
			    "or select field");
		}
	}
	if (json_array_size(bands) == 0 ||
	    json_integer_value(
		json_object_get(json_array_get(bands, 0), "min")) != 0)
		therapy_err(errs, "scoring.bands", "invalid",
		    "the first band "
		    "must start at 0, so every total has a band");
	json_array_foreach(bands, m, b) {
		snprintf(name, sizeof(name), "scoring.bands[%zu]", m);
		if (!json_is_object(b) || json_object_size(b) != 2 ||
		    !json_is_integer(json_object_get(b, "min")) ||
		    !(stored ? json_is_string(json_object_get(b, "label"))
			     : label_ok(json_object_get(b, "label"))) ||
		    json_integer_value(json_object_get(b, "min")) <= last)
			therapy_err(errs, name, "invalid",
			    "bands are {min, label} with min ascending, "
			    "labels of 1 to 1000 characters");
		else
			last = json_integer_value(json_object_get(b, "min"));
	}
}

static int
forms_before_create(struct resource_ctx *ctx, json_t *body)
{
	json_t *errs = json_array();

	therapy_form_check(json_object_get(body, "fields"),
	    json_object_get(body, "scoring"), errs);
	return (therapy_errs_answer(ctx->req, errs, "The form is not valid"));
}

static int
forms_before_update(struct resource_ctx *ctx, json_t *body)
{
	json_t *fields, *scoring, *errs;
	int	stored;

	fields = json_object_get(body, "fields");
	scoring = json_object_get(body, "scoring");
	if (fields == NULL && scoring == NULL)
		return (OK);
	if ((stored = scoring == NULL))
		scoring = json_object_get(ctx->old, "scoring");
	if (fields == NULL)
		fields = json_object_get(ctx->old, "fields");
	errs = json_array();
	form_check(fields, scoring, stored, errs);
	return (therapy_errs_answer(ctx->req, errs, "The form is not valid"));
}

/* Answers */

static int
date_ok(const char *s)
{
	int		 y, m, d, n = 0;
	static const int days[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30,
		31 };

	if (s == NULL || strlen(s) != 10 ||
	    sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 ||
	    m < 1 || m > 12 || d < 1 || d > days[m - 1])
		return (0);
	if (m == 2 && d == 29 &&
	    !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return (0);
	return (1);
}

static int
time_ok(const char *s)
{
	int    h, m, sec = 0, n = 0;
	size_t len = s != NULL ? strlen(s) : 0;

	if (len == 5)
		return (sscanf(s, "%2d:%2d%n", &h, &m, &n) == 2 && n == 5 &&
		    h >= 0 && h < 24 && m >= 0 && m < 60);
	if (len == 8)
		return (sscanf(s, "%2d:%2d:%2d%n", &h, &m, &sec, &n) == 3 &&
		    n == 8 && h >= 0 && h < 24 && m >= 0 && m < 60 &&
		    sec >= 0 && sec < 60);
	return (0);
}

static long
utf8_len(const char *s)
{
	long n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return (n);
}

/* One answer v (not NULL, not null) to field f; an entry in errs if bad. */
static void
answer_check(json_t *f, json_t *v, json_t *errs)
{
	const char *type = json_string_value(json_object_get(f, "type"));
	const char *s;
	json_t	   *opts = json_object_get(f, "options"), *o;
	struct rule r;
	char	    name[96];
	double	    x;
	long	    n;
	size_t	    i;

	snprintf(name, sizeof(name), "responses.%s",
	    json_string_value(json_object_get(f, "id")));
	rule_parse(json_string_value(json_object_get(f, "validation")), &r);
	/* A scale is bounded on both sides: 0 to 10 where the rule is silent. */
	if (strcmp(type, "scale") == 0) {
		if (!r.has_min) {
			r.has_min = 1;
			r.min = 0;
		}
		if (!r.has_max) {
			r.has_max = 1;
			r.max = r.min > 10 ? r.min : 10;
		}
	}
	if (strcmp(type, "number") == 0 || strcmp(type, "scale") == 0) {
		if (!json_is_number(v)) {
			therapy_err(errs, name, "type", "must be a number");
			return;
		}
		x = json_number_value(v);
		if ((r.integer || strcmp(type, "scale") == 0) &&
		    !json_is_integer(v))
			therapy_err(
			    errs, name, "type", "must be a whole number");
		else if ((r.has_min && x < (double)r.min) ||
		    (r.has_max && x > (double)r.max))
			therapy_err(errs, name, "out_of_range",
			    "is outside the field's range");
		return;
	}
	if (strcmp(type, "checkbox") == 0) {
		if (!json_is_array(v)) {
			therapy_err(
			    errs, name, "type", "must be an array of options");
			return;
		}
		json_array_foreach(v, i, o)
			if (!json_is_string(o) ||
			    option_index(opts, json_string_value(o)) < 0 ||
			    option_index(v, json_string_value(o)) != (long)i) {
				therapy_err(errs, name, "invalid_option",
				    "each choice must be one of the options, "
				    "once");
				return;
			}
		n = (long)json_array_size(v);
		if ((r.has_min && n < r.min) || (r.has_max && n > r.max))
			therapy_err(errs, name, "out_of_range",
			    "has too few or too many choices");
		return;
	}
	if (!json_is_string(v)) {
		therapy_err(errs, name, "type", "must be a text");
		return;
	}
	s = json_string_value(v);
	if (strcmp(type, "select") == 0 || strcmp(type, "radio") == 0) {
		if (option_index(opts, s) < 0)
			therapy_err(errs, name, "invalid_option",
			    "must be one of the options");
		return;
	}
	if (strcmp(type, "date") == 0) {
		if (!date_ok(s))
			therapy_err(
			    errs, name, "invalid_format", "must be YYYY-MM-DD");
		return;
	}
	if (strcmp(type, "time") == 0) {
		if (!time_ok(s))
			therapy_err(errs, name, "invalid_format",
			    "must be HH:MM or HH:MM:SS");
		return;
	}
	n = utf8_len(s);
	if (strcmp(type, "email") == 0 &&
	    (strchr(s, '@') == NULL || s[0] == '@' ||
		strchr(strchr(s, '@') + 1, '.') == NULL ||
		strchr(s, ' ') != NULL))
		therapy_err(
		    errs, name, "invalid_format", "must be an email address");
	else if (n > FORM_ANSWER_MAX || (r.has_min && n < r.min) ||
	    (r.has_max && n > r.max))
		therapy_err(
		    errs, name, "out_of_range", "is too short or too long");
}

void
therapy_answers_check(json_t *fields, json_t *scoring, json_t *answers,
    json_t *errs, json_t **score)
{
	const char *k, *label = NULL;
	json_t	   *f, *v, *items, *b;
	char	    name[96];
	size_t	    i, before = json_array_size(errs);
	long	    total = 0, max = 0, idx;

	*score = NULL;
	if (!json_is_object(answers)) {
		therapy_err(errs, "responses", "type",
		    "must be an object of "
		    "answers by field id");
		return;
	}
	json_object_foreach(answers, k, v)
		if (field_get(fields, k) == NULL) {
			snprintf(name, sizeof(name), "responses.%.64s", k);
			therapy_err(errs, name, "unknown_field",
			    "is not a field of the form");
		}
	json_array_foreach(fields, i, f) {
		v = json_object_get(
		    answers, json_string_value(json_object_get(f, "id")));
		if (v == NULL || json_is_null(v) ||
		    (json_is_string(v) && json_string_length(v) == 0) ||
		    (json_is_array(v) && json_array_size(v) == 0)) {
			if (json_is_true(json_object_get(f, "required"))) {
				snprintf(name, sizeof(name), "responses.%s",
				    json_string_value(
					json_object_get(f, "id")));
				therapy_err(
				    errs, name, "required", "is required");
			}
			continue;
		}
		answer_check(f, v, errs);
	}
	if (json_array_size(errs) != before || scoring == NULL ||
	    json_is_null(scoring))
		return;
	*score = json_object();
	items = json_object();
	json_array_foreach(json_object_get(scoring, "items"), i, v) {
		f = field_get(fields, json_string_value(v));
		idx = option_index(json_object_get(f, "options"),
		    json_string_value(
			json_object_get(answers, json_string_value(v))));
		max += (long)json_array_size(json_object_get(f, "options")) - 1;
		if (idx < 0) {
			json_object_set_new(
			    items, json_string_value(v), json_null());
			continue;
		}
		json_object_set_new(
		    items, json_string_value(v), json_integer(idx));
		total += idx;
	}
	json_array_foreach(json_object_get(scoring, "bands"), i, b)
		if (total >= json_integer_value(json_object_get(b, "min")))
			label = json_string_value(json_object_get(b, "label"));
	json_object_set_new(*score, "items", items);
	json_object_set_new(*score, "total", json_integer(total));
	json_object_set_new(*score, "max", json_integer(max));
	json_object_set_new(*score, "severity",
	    label != NULL ? json_string(label) : json_null());
}

/*
 * The form must take responses; the session, if named, must be the
 * client's; the client may hold health data. Answers are checked and
 * scored here; submitted_at is now.
 */
static int
responses_before_create(struct resource_ctx *ctx, json_t *body)
{
	struct stmt *st;
	const char  *form = json_string_value(json_object_get(body, "form_id"));
	const char  *sess =
	    json_string_value(json_object_get(body, "session_id"));
	const char *client =
	    json_string_value(json_object_get(body, "client_id"));
	json_t *fields = NULL, *scoring = NULL, *score = NULL, *errs;
	char	iso[ISO_TIME_LEN];
	int	rc, active = 0;

	if ((rc = therapy_consent(ctx->req, ctx->tx, client)) != OK)
		return (rc);
	st = store_prepare(ctx->tx,
	    "SELECT fields, scoring, is_active FROM "
	    "forms WHERE id = ?");
	store_bind_text(st, 1, form);
	if ((rc = store_step(st)) == STORE_ROW) {
		fields = json_loads(store_col_text(st, 0), 0, NULL);
		scoring = store_col_is_null(st, 1)
		    ? NULL
		    : json_loads(store_col_text(st, 1), 0, NULL);
		active = store_col_int64(st, 2) != 0;
		rc = OK;
	}
	store_finalize(st);
	if (rc != OK)
		return (rc == STORE_DONE ? ERR_NOT_FOUND : rc);
	errs = json_array();
	if (!active)
		therapy_err(errs, "form_id", "inactive",
		    "the form does not take responses");
	if (sess != NULL) {
		st = store_prepare(ctx->tx,
		    "SELECT 1 FROM therapy_sessions "
		    "WHERE id = ? AND client_id = ?");
		store_bind_text(st, 1, sess);
		store_bind_text(st, 2, client);
		if ((rc = store_step(st)) == STORE_DONE)
			/* Word for word the resource layer's answer for a
			 * row that does not exist: another client's session
			 * must not be told apart from none. */
			therapy_err(errs, "session_id", "not_found",
			    "names no existing therapy_sessions row");
		store_finalize(st);
		if (rc != STORE_ROW && rc != STORE_DONE) {
			json_decref(errs);
			goto out;
		}
	}
	if (active)
		therapy_answers_check(fields, scoring,
		    json_object_get(body, "responses"), errs, &score);
	if ((rc = therapy_errs_answer(
		 ctx->req, errs, "The response is not valid")) != OK)
		goto out;
	if (score != NULL)
		json_object_set_new(body, "score", score);
	score = NULL;
	json_object_set_new(body, "submitted_at",
	    json_string(time_format_iso(time_now_ms(), iso)));
out:
	json_decref(score);
	json_decref(fields);
	json_decref(scoring);
	return (rc);
}
