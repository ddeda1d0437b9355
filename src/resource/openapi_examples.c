/*
 * The examples /docs shows where a route's api text gave none: made from
 * the schema itself (each declared member, its default, the first of an
 * enum, a well-formed UUID, time, date, address, link or time zone, a
 * number in range), so that every operation shows its request body and
 * its success answer.
 * A schema this cannot honour (oneOf, not, if/then, a pattern the made
 * value does not match, a required member it cannot make) gets no example
 * rather than a wrong one: tests/api/test_openapi.py validates every
 * example of the document against the schema it illustrates.
 */
#include <regex.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "core/util.h"
#include "resource/resource_int.h"

#define EXAMPLE_DEPTH 12    /* $ref and nesting followed at most */
#define EXAMPLE_NODES 10000 /* schemas visited for one example at most */

/* One example being made: the document, the schemas visited so far (a
 * budget: a wide schema gives no example rather than a long wait) and
 * the $refs being followed (one met again inside itself is a cycle). */
struct ex {
	json_t	   *doc;
	size_t	    nodes;
	const char *refs[EXAMPLE_DEPTH + 1];
	int	    nrefs;
};

static json_t	  *example_of(struct ex *x, json_t *schema, int depth);
static json_t	  *example_any_of(struct ex *x, json_t *schema, int depth);
static json_t	  *example_ref(struct ex *x, const char *ref, int depth);
static json_t	  *example_all_of(struct ex *x, json_t *schema, int depth);
static json_t	  *example_object(struct ex *x, json_t *schema, int depth);
static json_t	  *example_array(struct ex *x, json_t *schema, int depth);
static json_t	  *example_string(json_t *schema);
static json_t	  *example_number(json_t *schema);
static const char *example_type(json_t *schema);
static int	   pattern_ok(const char *pattern, const char *s);
static void	   media_fill(json_t *doc, json_t *content);

/* The schema at a local reference ("#/components/schemas/x"); borrowed. */
static json_t *
example_ref(struct ex *x, const char *ref, int depth)
{
	json_t	   *at = x->doc, *out;
	char	    part[160];
	const char *p, *e;
	size_t	    n;
	int	    i;

	if (strncmp(ref, "#/", 2) != 0 || x->nrefs >= EXAMPLE_DEPTH)
		return (NULL);
	/* A schema that holds itself ($ref back to one being made) has no
	 * finite example this can make. */
	for (i = 0; i < x->nrefs; i++)
		if (strcmp(x->refs[i], ref) == 0)
			return (NULL);
	for (p = ref + 2; at != NULL && *p != '\0'; p = *e ? e + 1 : e) {
		e = strchr(p, '/');
		if (e == NULL)
			e = p + strlen(p);
		if ((n = (size_t)(e - p)) >= sizeof(part))
			return (NULL);
		memcpy(part, p, n);
		part[n] = '\0';
		at = json_object_get(at, part);
	}
	x->refs[x->nrefs++] = ref;
	out = example_of(x, at, depth + 1);
	x->nrefs--;
	return (out);
}

/* The type a value is made of: the first named that is not "null". */
static const char *
example_type(json_t *schema)
{
	json_t *t = json_object_get(schema, "type"), *v;
	size_t	i;

	if (json_is_string(t))
		return (json_string_value(t));
	json_array_foreach(t, i, v) {
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), "null") != 0)
			return (json_string_value(v));
	}
	if (json_array_size(t) > 0)
		return ("null");
	if (json_object_get(schema, "properties") != NULL)
		return ("object");
	if (json_object_get(schema, "items") != NULL)
		return ("array");
	return (NULL);
}

static json_t *
example_of(struct ex *x, json_t *schema, int depth)
{
	const char *type;
	json_t	   *v, *e;
	size_t	    i;

	if (!json_is_object(schema) || depth > EXAMPLE_DEPTH ||
	    ++x->nodes > EXAMPLE_NODES)
		return (NULL);
	if (json_object_get(schema, "oneOf") != NULL ||
	    json_object_get(schema, "not") != NULL ||
	    json_object_get(schema, "if") != NULL)
		return (NULL);
	if ((v = json_object_get(schema, "const")) != NULL)
		return (json_deep_copy(v));
	if ((v = json_object_get(schema, "enum")) != NULL) {
		json_array_foreach(v, i, e) {
			if (!json_is_null(e))
				return (json_deep_copy(e));
		}
		return (json_array_size(v) > 0 ? json_null() : NULL);
	}
	if ((v = json_object_get(schema, "example")) != NULL)
		return (json_deep_copy(v));
	if (json_array_size(json_object_get(schema, "examples")) > 0)
		return (json_deep_copy(
		    json_array_get(json_object_get(schema, "examples"), 0)));
	/* What the server writes when the member is left out is a value it
	 * takes (a currency, a decimal scale): a made one might match the
	 * schema and still be refused. */
	if ((v = json_object_get(schema, "default")) != NULL &&
	    !json_is_null(v))
		return (json_deep_copy(v));
	if ((v = json_object_get(schema, "$ref")) != NULL)
		return (json_is_string(v)
			? example_ref(x, json_string_value(v), depth)
			: NULL);
	if (json_object_get(schema, "allOf") != NULL)
		return (example_all_of(x, schema, depth));
	/* anyOf beside a type of its own says which members must come
	 * together: the object made with every member it declares has them. */
	type = example_type(schema);
	if (json_object_get(schema, "anyOf") != NULL &&
	    (type == NULL || strcmp(type, "object") != 0))
		return (example_any_of(x, schema, depth));
	if (type == NULL)
		return (json_object()); /* any JSON value */
	if (strcmp(type, "object") == 0)
		return (example_object(x, schema, depth));
	if (strcmp(type, "array") == 0)
		return (example_array(x, schema, depth));
	if (strcmp(type, "string") == 0)
		return (example_string(schema));
	if (strcmp(type, "integer") == 0 || strcmp(type, "number") == 0)
		return (example_number(schema));
	if (strcmp(type, "boolean") == 0)
		return (json_true());
	if (strcmp(type, "null") == 0)
		return (json_null());
	return (NULL);
}

/* A value of schema's first anyOf branch that is one of schema too: made
 * from schema without its anyOf and with the branch's members (a type
 * and an enum of the deprecated spellings beside it, openapi.c's
 * enum_olds). */
static json_t *
example_any_of(struct ex *x, json_t *schema, int depth)
{
	json_t *both, *first, *out;

	first = json_array_get(json_object_get(schema, "anyOf"), 0);
	if (!json_is_object(first) || (both = json_copy(schema)) == NULL)
		return (NULL);
	json_object_del(both, "anyOf");
	json_object_update(both, first);
	out = example_of(x, both, depth + 1);
	json_decref(both);
	return (out);
}

/* Every part's example, their members merged (a row and what a hook adds
 * to it, a problem and its codes), after those of schema's own
 * properties beside its allOf (the GDPR export's): made without its
 * required, which a part may hold, checked once all are merged. */
static json_t *
example_all_of(struct ex *x, json_t *schema, int depth)
{
	json_t	   *out = NULL, *part, *own, *v;
	const char *k;
	size_t	    i;

	if (json_object_get(schema, "properties") != NULL) {
		if ((own = json_copy(schema)) == NULL)
			return (NULL);
		json_object_del(own, "allOf");
		json_object_del(own, "required");
		out = example_of(x, own, depth + 1);
		json_decref(own);
		if (out == NULL)
			return (NULL);
	}
	json_array_foreach(json_object_get(schema, "allOf"), i, part) {
		if ((part = example_of(x, part, depth + 1)) == NULL) {
			json_decref(out);
			return (NULL);
		}
		if (out == NULL)
			out = part;
		else if (json_is_object(out) && json_is_object(part)) {
			json_object_update(out, part);
			json_decref(part);
		} else {
			json_decref(part);
			json_decref(out);
			return (NULL);
		}
	}
	json_array_foreach(json_object_get(schema, "required"), i, v) {
		k = json_string_value(v);
		if (k == NULL || json_object_get(out, k) == NULL) {
			json_decref(out);
			return (NULL);
		}
	}
	return (out);
}

static json_t *
example_object(struct ex *x, json_t *schema, int depth)
{
	json_t	   *out = json_object(), *req, *v, *p;
	const char *k;
	size_t	    i;

	req = json_object_get(schema, "required");
	json_object_foreach(json_object_get(schema, "properties"), k, p) {
		if ((v = example_of(x, p, depth + 1)) != NULL)
			json_object_set_new(out, k, v);
	}
	/* A required member not declared: of additionalProperties' schema
	 * (a map with names it must hold). */
	json_array_foreach(req, i, v) {
		k = json_string_value(v);
		if (json_object_get(out, k) == NULL &&
		    (p = example_of(x,
			 json_object_get(schema, "additionalProperties"),
			 depth + 1)) != NULL)
			json_object_set_new(out, k, p);
		if (json_object_get(out, k) == NULL) {
			json_decref(out);
			return (NULL);
		}
	}
	if (json_integer_value(json_object_get(schema, "minProperties")) >
	    (json_int_t)json_object_size(out)) {
		json_decref(out);
		return (NULL);
	}
	return (out);
}

static json_t *
example_array(struct ex *x, json_t *schema, int depth)
{
	json_t	  *out = json_array(), *item;
	json_int_t min, n;

	min = json_integer_value(json_object_get(schema, "minItems"));
	if (min > 16) {
		json_decref(out);
		return (NULL);
	}
	if (json_object_get(schema, "maxItems") != NULL &&
	    json_integer_value(json_object_get(schema, "maxItems")) == 0)
		return (out);
	item = example_of(x, json_object_get(schema, "items"), depth + 1);
	if (item == NULL ||
	    (min > 1 && json_is_true(json_object_get(schema, "uniqueItems")))) {
		json_decref(item);
		if (min > 0) {
			json_decref(out);
			return (NULL);
		}
		return (out);
	}
	for (n = 1; n < min; n++)
		json_array_append(out, item);
	json_array_append_new(out, item);
	return (out);
}

static json_t *
example_string(json_t *schema)
{
	static const struct {
		const char *format;
		const char *value;
	} formats[] = {
		{ "uuid", "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b" },
		{ "date-time", "2026-03-12T10:00:00Z" },
		{ "date", "2026-03-12" },
		{ "email", "member@example.org" },
		{ "uri", "https://example.org/" },
		{ "uri-reference", "https://example.org/" },
		{ "time-zone", "Europe/London" },
	};
	const char *format =
	    json_string_value(json_object_get(schema, "format"));
	const char *pattern =
	    json_string_value(json_object_get(schema, "pattern"));
	char	   s[64] = "text";
	json_int_t min, max;
	size_t	   i, n;

	min = json_integer_value(json_object_get(schema, "minLength"));
	max = json_object_get(schema, "maxLength") != NULL
	    ? json_integer_value(json_object_get(schema, "maxLength"))
	    : (json_int_t)sizeof(s) - 1;
	if (min < 0 || max < 0) /* no string has a length under 0 */
		return (NULL);
	for (i = 0; format != NULL && i < sizeof(formats) / sizeof(formats[0]);
	     i++)
		if (strcmp(format, formats[i].format) == 0)
			break;
	if (format != NULL && i < sizeof(formats) / sizeof(formats[0])) {
		strlcpy_cb(s, formats[i].value, sizeof(s));
		n = strlen(s);
		if ((json_int_t)n < min || (json_int_t)n > max)
			return (NULL);
	} else {
		if (min >= (json_int_t)sizeof(s) || max < min)
			return (NULL);
		n = strlen(s);
		while ((json_int_t)n < min)
			s[n++] = 'x';
		if ((json_int_t)n > max)
			n = (size_t)max;
		s[n] = '\0';
	}
	/* A pattern the made text misses may be one of a format's written
	 * out (a list of user ids): the first of their values it takes. */
	for (i = 0; pattern != NULL && !pattern_ok(pattern, s) &&
	     i < sizeof(formats) / sizeof(formats[0]);
	     i++) {
		n = strlen(formats[i].value);
		if ((json_int_t)n >= min && (json_int_t)n <= max)
			strlcpy_cb(s, formats[i].value, sizeof(s));
	}
	if (pattern != NULL && !pattern_ok(pattern, s))
		return (NULL);
	return (json_string(s));
}

static json_t *
example_number(json_t *schema)
{
	json_t	  *lo = json_object_get(schema, "minimum");
	json_t	  *hi = json_object_get(schema, "maximum");
	json_t	  *xlo = json_object_get(schema, "exclusiveMinimum");
	json_t	  *xhi = json_object_get(schema, "exclusiveMaximum");
	json_int_t v = 1;

	/* Bounds this does not read (a fraction, a step) give no example
	 * rather than one out of them. */
	if (json_object_get(schema, "multipleOf") != NULL ||
	    (lo != NULL && !json_is_integer(lo)) ||
	    (hi != NULL && !json_is_integer(hi)) ||
	    (xlo != NULL && !json_is_integer(xlo)) ||
	    (xhi != NULL && !json_is_integer(xhi)))
		return (NULL);
	if (lo != NULL)
		v = json_integer_value(lo);
	if (xlo != NULL) {
		if (json_integer_value(xlo) == INT64_MAX)
			return (NULL);
		if (lo == NULL || v <= json_integer_value(xlo))
			v = json_integer_value(xlo) + 1;
	}
	if (hi != NULL && v > json_integer_value(hi))
		v = json_integer_value(hi);
	if (xhi != NULL && v >= json_integer_value(xhi)) {
		if (json_integer_value(xhi) == INT64_MIN)
			return (NULL);
		v = json_integer_value(xhi) - 1;
	}
	/* Clamped under a maximum below the minimum: none fits. */
	if ((lo != NULL && v < json_integer_value(lo)) ||
	    (xlo != NULL && v <= json_integer_value(xlo)))
		return (NULL);
	return (json_integer(v));
}

/* Does s match pattern (the document's patterns are simple enough for
 * POSIX extended expressions; one that does not compile gives no
 * example)? */
static int
pattern_ok(const char *pattern, const char *s)
{
	regex_t re;
	int	ok;

	if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
		return (0);
	ok = regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	return (ok);
}

/* An example on each JSON media type of content that has none. */
static void
media_fill(json_t *doc, json_t *content)
{
	const char *type;
	json_t	   *media, *ex;
	struct ex   x;

	json_object_foreach(content, type, media) {
		if (json_object_get(media, "example") != NULL ||
		    json_object_get(media, "examples") != NULL ||
		    (strcmp(type, "application/json") != 0 &&
			strstr(type, "+json") == NULL))
			continue;
		memset(&x, 0, sizeof(x));
		x.doc = doc;
		if ((ex = example_of(
			 &x, json_object_get(media, "schema"), 0)) != NULL)
			json_object_set_new(media, "example", ex);
	}
}

void
openapi_examples_fill(json_t *doc)
{
	const char *path, *method, *status;
	json_t	   *item, *op, *answer;

	json_object_foreach(json_object_get(doc, "paths"), path, item) {
		json_object_foreach(item, method, op) {
			if (!json_is_object(json_object_get(op, "responses")))
				continue;
			media_fill(doc,
			    json_object_get(
				json_object_get(op, "requestBody"), "content"));
			json_object_foreach(
			    json_object_get(op, "responses"), status, answer) {
				if (status[0] == '2')
					media_fill(doc,
					    json_object_get(answer, "content"));
			}
		}
	}
}
