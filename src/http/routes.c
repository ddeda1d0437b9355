/*
 * The route tables the modules register, and each route's "api" text
 * (struct route) parsed and checked once, at start-up: a mistake in it
 * stops the server before it serves.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "http/http_int.h"

static const struct route_table *route_tables[HTTP_MAX_TABLES];
static size_t			 nroute_tables;
/* Per table, the routes' parsed api members (null when none). */
static json_t *route_apis[HTTP_MAX_TABLES];

static int     api_statuses(json_t *, int, int);
static int     media_types_ok(json_t *);
static int     codes_ok(json_t *);
static int     param_in_ok(const struct route *, json_t *, json_t *);
static json_t *api_parse(const char *, const struct route *);

/* Is v an object whose keys are HTTP statuses from lo to hi? */
static int
api_statuses(json_t *v, int lo, int hi)
{
	const char *k;
	json_t	   *x;
	int64_t	    n;

	if (!json_is_object(v))
		return (0);
	json_object_foreach(v, k, x) {
		if (strlen(k) != 3 || parse_int64(k, lo, hi, &n) != 0)
			return (0);
	}
	return (1);
}

/* Is v {media type: schema, ...}? */
static int
media_types_ok(json_t *v)
{
	const char *k;
	json_t	   *x;

	if (!json_is_object(v))
		return (0);
	json_object_foreach(v, k, x) {
		if (strchr(k, '/') == NULL || !json_is_object(x))
			return (0);
	}
	return (1);
}

/* Is v a non-empty list of UPPER_SNAKE codes? */
static int
codes_ok(json_t *v)
{
	const char *c;
	json_t	   *x;
	size_t	    i;

	if (!json_is_array(v) || json_array_size(v) == 0)
		return (0);
	json_array_foreach(v, i, x) {
		if ((c = json_string_value(x)) == NULL || *c == '\0')
			return (0);
		for (; *c != '\0'; c++)
			if (!((*c >= 'A' && *c <= 'Z') ||
				(*c >= '0' && *c <= '9') || *c == '_'))
				return (0);
	}
	return (1);
}

/* A parameter in the query or a header, or one that describes a {name}
 * segment of the route's path (the document's own, generated, says
 * less). */
static int
param_in_ok(const struct route *rt, json_t *name, json_t *in)
{
	const char *n = json_string_value(name), *p;
	size_t	    len = strlen(n);

	if (strcmp(json_string_value(in), "query") == 0 ||
	    strcmp(json_string_value(in), "header") == 0)
		return (1);
	if (strcmp(json_string_value(in), "path") != 0)
		return (0);
	for (p = rt->pattern; (p = strchr(p, '{')) != NULL; p++)
		if (strncmp(p + 1, n, len) == 0 && p[len + 1] == '}')
			return (1);
	return (0);
}

/* The route's api text, parsed and checked; NULL (and a log line) when
 * it will not do. */
static json_t *
api_parse(const char *module, const struct route *rt)
{
	json_error_t jerr;
	json_t	    *a, *v, *x;
	const char  *k, *ik, *why = NULL;
	size_t	     i;

	if ((a = json_loads(rt->api, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		log_error("event=route_api_invalid module=%s route=\"%s\" "
			  "error=\"%s at %d:%d\"",
		    module, rt->pattern, jerr.text, jerr.line, jerr.column);
		return (NULL);
	}
	if (!json_is_object(a))
		why = "not an object";
	json_object_foreach(a, k, v) {
		if (why != NULL)
			break;
		if (strcmp(k, "body") == 0) {
			if (!json_is_object(v))
				why = "body is not a schema";
		} else if (strcmp(k, "content") == 0) {
			if (!media_types_ok(v))
				why = "content is not {type: schema}";
		} else if (strcmp(k, "answers") == 0) {
			if (!api_statuses(v, 100, 399))
				why = "answers are not {1xx-3xx: answer}";
			json_object_foreach(v, ik, x) {
				if (!json_is_string(
					json_object_get(x, "description")))
					why = "an answer has no description";
				if (json_object_get(x, "content") != NULL &&
				    !media_types_ok(
					json_object_get(x, "content")))
					why = "an answer's content is not "
					      "{type: schema}";
			}
		} else if (strcmp(k, "parameters") == 0) {
			if (!json_is_array(v))
				why = "parameters are not a list";
			json_array_foreach(v, i, x) {
				if (!json_is_string(
					json_object_get(x, "name")) ||
				    !json_is_string(json_object_get(x, "in")) ||
				    !json_is_object(
					json_object_get(x, "schema")))
					why = "a parameter is not {name, in, "
					      "schema}";
				else if (!param_in_ok(rt,
					     json_object_get(x, "name"),
					     json_object_get(x, "in")))
					why =
					    "a parameter is not in the query, "
					    "a header or a {segment} of the path";
			}
		} else if (strcmp(k, "list") == 0) {
			/* A resource's name: the route answers a page of its
			 * rows, as its list does (resource_list). */
			if (!json_is_string(v))
				why = "list is not a resource's name";
		} else if (strcmp(k, "security") == 0) {
			/* {scheme name: OpenAPI security scheme}: any one
			 * of them admits a public route (a webhook's
			 * signature). */
			if (!(rt->flags & ROUTE_PUBLIC) || !json_is_object(v) ||
			    json_object_size(v) == 0)
				why = "security is not {name: scheme} on a "
				      "public route";
			json_object_foreach(v, ik, x) {
				if (!json_is_string(json_object_get(x, "type")))
					why = "a security scheme has no type";
			}
		} else if (strcmp(k, "schemas") == 0) {
			/* {name: schema}: the document's components, for
			 * "$ref" from this route's api and others'. */
			if (!json_is_object(v))
				why = "schemas are not {name: schema}";
			json_object_foreach(v, ik, x) {
				if (!json_is_object(x) ||
				    strchr(ik, '/') != NULL)
					why = "schemas are not {name: schema}";
			}
		} else if (strcmp(k, "webhooks") == 0) {
			/* {name: path item}: the calls this route makes to
			 * another system (the document's webhooks). */
			if (!json_is_object(v))
				why = "webhooks are not {name: path item}";
			json_object_foreach(v, ik, x) {
				if (!json_is_object(x))
					why = "webhooks are not {name: path "
					      "item}";
			}
		} else if (strcmp(k, "schemes") == 0) {
			/* {name: OpenAPI security scheme}: the ones its
			 * webhooks are signed with (the route's own are
			 * "security"). */
			if (!json_is_object(v) || json_object_size(v) == 0)
				why = "schemes are not {name: scheme}";
			json_object_foreach(v, ik, x) {
				if (!json_is_string(json_object_get(x, "type")))
					why = "a security scheme has no type";
			}
		} else if (strcmp(k, "problems") == 0) {
			if (!api_statuses(v, 400, 599))
				why = "problems are not {4xx-5xx: why}";
			json_object_foreach(v, ik, x) {
				if (!json_is_string(x))
					why = "problems are not {4xx-5xx: why}";
			}
		} else if (strcmp(k, "body_required") == 0) {
			/* a ROUTE_RAW_BODY route whose body must come (a
			 * webhook's): requestBody.required */
			if (!json_is_boolean(v) ||
			    !(rt->flags & ROUTE_RAW_BODY) ||
			    json_object_get(a, "content") == NULL)
				why = "body_required is not true on a raw "
				      "body route with content";
		} else if (strcmp(k, "example") == 0) {
			/* a request body as sent, for /docs */
			if (!json_is_object(v))
				why = "example is not an object";
		} else if (strcmp(k, "codes") == 0) {
			/* {status: [CODE, ...]}: the problem codes the route
			 * answers with, besides each status's own (err.c). */
			if (!api_statuses(v, 400, 599))
				why = "codes are not {4xx-5xx: [code]}";
			json_object_foreach(v, ik, x) {
				if (!codes_ok(x))
					why = "codes are not {4xx-5xx: [code]}";
			}
		} else
			why = "an unknown member";
	}
	if (why != NULL) {
		log_error("event=route_api_invalid module=%s route=\"%s\" "
			  "error=\"%s\"",
		    module, rt->pattern, why);
		json_decref(a);
		return (NULL);
	}
	return (a);
}

int
http_routes_add(const struct route_table *t)
{
	json_t *apis, *a;
	size_t	i;

	if (t == NULL || nroute_tables == HTTP_MAX_TABLES)
		return (ERR_CONFIG);
	if ((apis = json_array()) == NULL)
		return (ERR_NOMEM);
	for (i = 0; i < t->nroutes; i++) {
		a = json_null();
		if (t->routes[i].api != NULL &&
		    (a = api_parse(t->module, &t->routes[i])) == NULL) {
			json_decref(apis);
			return (ERR_CONFIG);
		}
		json_array_append_new(apis, a);
	}
	route_apis[nroute_tables] = apis;
	route_tables[nroute_tables++] = t;
	return (OK);
}

json_t *
http_route_api(const struct route_table *t, size_t i)
{
	size_t j;

	for (j = 0; j < nroute_tables; j++)
		if (route_tables[j] == t)
			return (json_is_object(json_array_get(route_apis[j], i))
				? json_array_get(route_apis[j], i)
				: NULL);
	return (NULL);
}

const struct route_table *const *
http_routes(size_t *n)
{
	*n = nroute_tables;
	return (route_tables);
}
