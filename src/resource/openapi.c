/*
 * The OpenAPI 3.1 document, built from the registered resources (their
 * five operations, parameters and schemas from the field declarations)
 * and every other registered route (method, path, summary, tagged by its
 * module; public ones with "security": [] or their own scheme, the rest
 * bearerAuth or cookieAuth, the browser's session cookie, whose writes
 * take X-CSRF-Token (src/people/web_session.c); bodies, parameters, answers, component schemas and the
 * webhooks carebase calls from the route's api text, a page of a
 * resource's rows generated from its declaration; without api text a
 * generic JSON answer). The API reference at /docs reads it (src/web,
 * docs/WEB.md). The API
 * tests check every answer against this document
 * (tests/api/openapi_contract.py).
 */
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/jsonw.h"
#include "core/log.h"
#include "core/tz.h"
#include "http/http.h"
#include "resource/hooks.h"
#include "resource/resource.h"
#include "resource/resource_int.h"

#define OPENAPI_VERSION "0.1.0"
/* The ceiling on the document's bytes as served (about 1.3 MB now). */
#define OPENAPI_MAX_BYTES (16 * 1024 * 1024)

/* The members of the document a custom route's api adds to. */
struct doc_parts {
	json_t *paths;
	json_t *schemas;  /* components */
	json_t *schemes;  /* components: securitySchemes */
	json_t *webhooks; /* the calls carebase makes */
};

static json_t *field_schema(const struct field *, int);
static void    enum_olds(const struct field *, json_t *);
static void    answer_nullable(json_t *);
static json_t *row_schema(const struct rdef *, int);
static json_t *problem_schema(void);
static json_t *problem_response(const char *);
static void    csrf_mark(json_t *);
static void    code_join(json_t *, const char *, const char *);
static void    codes_add(json_t *, const char *, const char *);
static void    codes_merge(json_t *, json_t *);
static void    op_problems(json_t *, json_t *, int, int);
static void    list_codes_add(json_t *, const struct resource *);
static void    since_codes_add(json_t *, const struct resource *, int);
static void    write_codes_add(json_t *, const struct rdef *);
static void    row_example(json_t *, json_t *, int);
static json_t *json_response(const char *, json_t *);
static json_t *list_params(const struct rdef *);
static json_t *page_schema(const char *);
static void    route_list(json_t *, json_t *, json_t *, const char *);
static json_t *path_params(const char *);
static int     if_match_needed(const struct rdef *);
static void    param_replace(json_t *, json_t *);
static json_t *op_new(const char *, const char *, const char *);
static void    resource_paths(json_t *, json_t *, const struct rdef *);
static json_t *media_types(json_t *);
static void    answer_close(json_t *);
static json_t *exported_schema(const struct rdef *);
static void    export_schemas(json_t *);
static void    route_answers(json_t *, const struct route *, json_t *);
static void    route_paths(
       const struct doc_parts *, const struct route_table *, size_t);
static int  tag_known(json_t *, const char *);
static int  route_is_resource(const struct route_table *);
static void openapi_get(struct request *);

static const char api_openapi[] =
    "{\"answers\":{\"200\":{\"description\":\"this document\","
    "\"schema\":{\"type\":\"object\",\"required\":[\"openapi\","
    "\"info\",\"paths\",\"components\"],\"properties\":{\"openapi\":{"
    "\"type\":\"string\",\"pattern\":\"^3\\\\.1\\\\.\"},\"info\":{"
    "\"type\":\"object\"},\"servers\":{\"type\":\"array\",\"items\":"
    "{\"type\":\"object\"}},\"tags\":{\"type\":\"array\",\"items\":{"
    "\"type\":\"object\"}},\"paths\":{\"type\":\"object\"},"
    "\"webhooks\":{\"type\":\"object\"},\"security\":{\"type\":"
    "\"array\",\"items\":{\"type\":\"object\"}},\"components\":{"
    "\"type\":\"object\"}}},\"example\":{\"openapi\":\"3.1.0\",\"info\":{"
    "\"title\":\"carebase\",\"version\":\"0.1.0\"},\"paths\":{},"
    "\"components\":{}}},\"304\":{\"description\":\"the document is "
    "unchanged (If-None-Match named its ETag)\"}}}";
const struct route resource_routes[] = {
	{ HTTP_GET, "/v1/openapi.json", openapi_get, ROUTE_PUBLIC,
	    "the OpenAPI 3.1 document of this API", NULL, api_openapi },
};
const size_t resource_nroutes =
    sizeof(resource_routes) / sizeof(resource_routes[0]);

static const struct route_table resource_table = {
	"resource",
	resource_routes,
	sizeof(resource_routes) / sizeof(resource_routes[0]),
};

int
resource_routes_add(void)
{
	return (http_routes_add(&resource_table));
}

/* JSON Schema of a field; creating: hidden inputs become writeOnly. */
static json_t *
field_schema(const struct field *f, int creating)
{
	const char *const *c;
	json_t		  *s, *e, *d;
	const char	  *t = "string";

	s = json_object();
	switch (f->type) {
	case FIELD_UUID:
		json_object_set_new(s, "format", json_string("uuid"));
		break;
	case FIELD_TEXT:
		if (f->min > 0)
			json_object_set_new(
			    s, "minLength", json_integer(f->min));
		json_object_set_new(s, "maxLength",
		    json_integer(f->max > 0 ? f->max : RESOURCE_TEXT_MAX));
		if (f->pattern != NULL)
			json_object_set_new(
			    s, "pattern", json_string(f->pattern));
		if (f->values != NULL) {
			e = json_array();
			for (c = f->values; *c != NULL; c++)
				json_array_append_new(e, json_string(*c));
			if (f->flags & FIELD_NULLABLE)
				json_array_append_new(e, json_null());
			json_object_set_new(s, "enum", e);
		}
		break;
	case FIELD_INT:
		t = "integer";
		if (f->min != 0 || f->max != 0) {
			json_object_set_new(s, "minimum", json_integer(f->min));
			json_object_set_new(s, "maximum", json_integer(f->max));
		}
		break;
	case FIELD_BOOL:
		t = "boolean";
		break;
	case FIELD_TIME:
		json_object_set_new(s, "format", json_string("date-time"));
		break;
	case FIELD_DATE:
		json_object_set_new(s, "format", json_string("date"));
		break;
	case FIELD_ENUM:
		e = json_array();
		for (c = f->choices; c != NULL && *c != NULL; c++)
			json_array_append_new(e, json_string(*c));
		if (f->flags & FIELD_NULLABLE)
			json_array_append_new(e, json_null());
		json_object_set_new(s, "enum", e);
		break;
	case FIELD_JSON:
		t = NULL;
		/* A schema of its own (checked at start-up by
		 * test_openapi.py's validators), with null beside it. */
		if (f->schema != NULL &&
		    (d = json_loads(f->schema, 0, NULL)) != NULL) {
			json_decref(s);
			s = (f->flags & FIELD_NULLABLE)
			    ? json_pack(
				  "{s:[o,{s:s}]}", "anyOf", d, "type", "null")
			    : d;
			break;
		}
		json_object_set_new(s, "type",
		    f->flags & FIELD_NULLABLE
			? json_pack("[sss]", "object", "array", "null")
			: json_pack("[ss]", "object", "array"));
		break;
	case FIELD_TEXT_LIST:
		t = "array";
		json_object_set_new(s, "items",
		    f->pattern != NULL ? json_pack("{s:s,s:s}", "type",
					     "string", "pattern", f->pattern)
				       : json_pack("{s:s}", "type", "string"));
		if (f->min > 0)
			json_object_set_new(
			    s, "minItems", json_integer(f->min));
		if (f->max > 0)
			json_object_set_new(
			    s, "maxItems", json_integer(f->max));
		break;
	case FIELD_EMAIL:
		json_object_set_new(s, "format", json_string("email"));
		break;
	case FIELD_URL:
		/* What resource_url_ok accepts; a stored link it refuses is
		 * answered as null (resource.h). */
		json_object_set_new(s, "format",
		    json_string(f->flags & FIELD_URL_RELATIVE ? "uri-reference"
							      : "uri"));
		json_object_set_new(s, "pattern",
		    json_string(f->flags & FIELD_URL_RELATIVE
			    ? "^([Hh][Tt][Tt][Pp][Ss]?://[^/?#@:]|/([^/]|$))"
			    : "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@:]"));
		json_object_set_new(s, "maxLength",
		    json_integer(f->max > 0 ? f->max : RESOURCE_URL_MAX));
		break;
	case FIELD_URL_MAP:
		t = "object";
		json_object_set_new(s, "propertyNames",
		    json_pack("{s:s}", "pattern", "^[a-z0-9_]{1,32}$"));
		json_object_set_new(s, "additionalProperties",
		    json_pack("{s:s,s:s,s:s}", "type", "string", "format",
			"uri", "pattern", "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@:]"));
		json_object_set_new(s, "maxProperties",
		    json_integer(
			f->max > 0 ? f->max : RESOURCE_LIST_ITEMS_MAX));
		break;
	case FIELD_COLOUR:
		json_object_set_new(s, "format", json_string("colour"));
		json_object_set_new(
		    s, "pattern", json_string("^#[0-9A-Fa-f]{6}$"));
		break;
	case FIELD_TIME_ZONE:
		/* The names of the tzdata compiled in (core/tz.h). */
		json_object_set_new(s, "format", json_string("time-zone"));
		json_object_set_new(s, "pattern",
		    json_string(
			"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$"));
		json_object_set_new(s, "maxLength", json_integer(TZ_NAME_MAX));
		break;
	}
	if (t != NULL)
		json_object_set_new(s, "type",
		    f->flags & FIELD_NULLABLE ? json_pack("[ss]", t, "null")
					      : json_string(t));
	if (f->doc != NULL && f->since != 0)
		json_object_set_new(s, "description",
		    json_sprintf("%s (absent while migration %04d is pending: "
				 "503 FIELD_UNAVAILABLE to a write naming it)",
			f->doc, f->since));
	else if (f->doc != NULL)
		json_object_set_new(s, "description", json_string(f->doc));
	if (f->def != NULL &&
	    (d = json_loads(f->def, JSON_DECODE_ANY, NULL)) != NULL)
		json_object_set_new(s, "default", d);
	if (f->flags & FIELD_READONLY)
		json_object_set_new(s, "readOnly", json_true());
	if (creating && (f->flags & FIELD_HIDDEN))
		json_object_set_new(s, "writeOnly", json_true());
	/* A body takes the deprecated spellings too (validate.c's
	 * field_choice stores the choice they name); a row answers only
	 * the current ones. */
	if (creating && f->type == FIELD_ENUM)
		enum_olds(f, s);
	return (s);
}

/* The deprecated spellings of enum field f, when it has any: a branch of
 * their own in s, marked deprecated, beside its enum of the values
 * answered. */
static void
enum_olds(const struct field *f, json_t *s)
{
	json_t *olds;

	olds = json_array();
	field_choice_olds(f, olds);
	if (json_array_size(olds) == 0 || json_object_get(s, "enum") == NULL) {
		json_decref(olds);
		return;
	}
	json_object_set_new(s, "anyOf",
	    json_pack("[{s:O},{s:o,s:b}]", "enum", json_object_get(s, "enum"),
		"enum", olds, "deprecated", 1));
	json_object_del(s, "enum");
}

/* A field's schema that also admits null. */
static void
answer_nullable(json_t *s)
{
	json_t *t = json_object_get(s, "type");

	if (json_object_get(s, "enum") != NULL)
		json_array_append_new(json_object_get(s, "enum"), json_null());
	if (json_is_string(t))
		json_object_set_new(s, "type",
		    json_pack("[s,s]", json_string_value(t), "null"));
	else if (json_is_array(t))
		json_array_append_new(t, json_string("null"));
}

/* mode 0: a row as answered; 1: create body; 2: update body. */
static json_t *
row_schema(const struct rdef *rd, int mode)
{
	const struct field *f;
	json_t		   *s, *props, *req, *fs;
	size_t		    i;

	props = json_object();
	req = json_array();
	for (i = 0; i < rd->ncols; i++) {
		f = &rd->cols[i];
		if (mode == 0 && (f->flags & FIELD_HIDDEN))
			continue;
		if (mode != 0 && (f->flags & FIELD_READONLY))
			continue;
		if (mode == 2 && (f->flags & FIELD_CREATE_ONLY))
			continue;
		fs = field_schema(f, mode != 0);
		/* Answered as null though not nullable as input: a personal
		 * field once the owner is erased (the key is gone), a link
		 * the rule refuses now (url.c). */
		if (mode == 0 && !(f->flags & FIELD_NULLABLE) &&
		    ((f->flags & FIELD_PERSONAL) || f->type == FIELD_URL))
			answer_nullable(fs);
		json_object_set_new(props, f->name, fs);
		/* The owner column a caller below scope all leaves out is
		 * theirs (handlers.c): required of staff only. */
		if (mode == 1 && (f->flags & FIELD_REQUIRED) &&
		    !((int)i == rd->owner && !rd->owner_is_id && !rd->custom))
			json_array_append_new(req, json_string(f->name));
		/* rows_decode writes every field a caller sees, null when
		 * NULL or erased: one everyone sees is always there, one
		 * kept from some callers (f->see) only for the others, one
		 * a later migration adds (f->since) only once applied. */
		if (mode == 0 && (f->see == 0 || f->see == SEE_EVERYONE) &&
		    f->since == 0)
			json_array_append_new(req, json_string(f->name));
	}
	if (mode == 0 && rd->res->answered != NULL &&
	    (fs = json_loads(rd->res->answered, 0, NULL)) != NULL) {
		json_object_update(props, fs);
		json_decref(fs);
	}
	/* A row answers its declared fields and no other. */
	s = json_pack("{s:s,s:o,s:b}", "type", "object", "properties", props,
	    "additionalProperties", 0);
	if (mode == 0 && rd->res->doc != NULL)
		json_object_set_new(
		    s, "description", json_string(rd->res->doc));
	if (json_array_size(req) > 0)
		json_object_set_new(s, "required", req);
	else
		json_decref(req);
	return (s);
}

static json_t *
problem_schema(void)
{
	json_t *s;

	s = json_pack(
	    "{s:s,s:s,s:[s,s,s,s],s:{s:{s:s},s:{s:s},"
	    "s:{s:s},s:{s:s},s:{s:s},s:{s:s,s:s},s:{s:s},s:{s:s,s:{s:s,"
	    "s:{s:{s:s},s:{s:s},s:{s:s}}}}}}",
	    "type", "object", "description", "An RFC 9457 problem document.",
	    "required", "type", "title", "status", "code", "properties", "type",
	    "type", "string", "title", "type", "string", "status", "type",
	    "integer", "detail", "type", "string", "instance", "type", "string",
	    "code", "type", "string", "description",
	    "stable machine code, e.g. VALIDATION_FAILED", "request_id", "type",
	    "string", "errors", "type", "array", "items", "type", "object",
	    "properties", "field", "type", "string", "code", "type", "string",
	    "detail", "type", "string");
	/* What a refused registration answers (/docs shows it). */
	json_object_set_new(s, "examples",
	    json_pack("[{s:s,s:s,s:i,s:s,s:s,s:s,s:s,s:[{s:s,s:s,s:s},"
		      "{s:s,s:s,s:s}]}]",
		"type", "https://carebase.dev/problems/validation_failed",
		"title", "Validation Failed", "status", 422, "detail",
		"The body has 2 invalid fields.", "instance",
		"/v1/auth/register", "code", "VALIDATION_FAILED", "request_id",
		"01939d7a-5c1e-7b3a-9f0e-2d4c6b8a1e5f", "errors", "field",
		"email", "code", "invalid_format", "detail",
		"not an email address", "field", "password", "code",
		"too_short", "detail", "at least 12 characters"));
	return (s);
}

/*
 * Add code to the code enum of op's problem answer for status, after
 * op_problems (which writes one for every problem answer it finds).
 */
static void
code_join(json_t *op, const char *status, const char *code)
{
	json_t *c, *e, *l;

	c = json_object_get(
	    json_object_get(
		json_object_get(json_object_get(op, "responses"), status),
		"content"),
	    "application/problem+json");
	e = json_object_get(
	    json_object_get(
		json_object_get(
		    json_array_get(
			json_object_get(json_object_get(c, "schema"), "allOf"),
			1),
		    "properties"),
		"code"),
	    "enum");
	if (c != NULL && e == NULL) {
		e = json_array();
		json_object_set_new(c, "schema",
		    json_pack("{s:[{s:s},{s:{s:{s:o}}}]}", "allOf", "$ref",
			"#/components/schemas/Problem", "properties", "code",
			"enum", e));
	}
	if (e == NULL)
		return;
	l = json_pack("{s:O}", status, e);
	codes_add(l, status, code);
	json_decref(l);
}

/*
 * A write that takes a session: by cookie it needs X-CSRF-Token, and is
 * refused 403 CSRF_FAILED without it or from another origin.
 */
static void
csrf_mark(json_t *op)
{
	json_t *p, *f, *r = json_object_get(op, "responses");
	int	made = 0;

	if ((p = json_object_get(op, "parameters")) == NULL) {
		p = json_array();
		json_object_set_new(op, "parameters", p);
	}
	json_array_append_new(
	    p, json_pack("{s:s}", "$ref", "#/components/parameters/CsrfToken"));
	if ((f = json_object_get(r, "403")) == NULL) {
		f = problem_response("CSRF_FAILED: by session cookie, without "
				     "the session's X-CSRF-Token or from "
				     "another origin");
		json_object_set_new(r, "403", f);
		made = 1;
	}
	/* After op_problems: the code joins the 403's enum (made here: the
	 * permission check's too; op_problems adds it to one declared). */
	if (made)
		code_join(op, "403", err_code(ERR_FORBIDDEN));
	code_join(op, "403", "CSRF_FAILED");
}

static json_t *
problem_response(const char *what)
{
	return (json_pack("{s:s,s:{s:{s:{s:s}}}}", "description", what,
	    "content", "application/problem+json", "schema", "$ref",
	    "#/components/schemas/Problem"));
}

/*
 * The problems any operation may answer whatever its own, with their
 * codes: the transport's and the dispatcher's, before or around its
 * handler (src/http/request.c, server.c, slow.c: a bad header or path,
 * a body where none is taken or over the limit, credentials, the rate
 * limit, a head over its bound, the bodies or the slow pool full), and
 * the authenticator's (src/people/sessions.c: an expired session, a token
 * sent in the query, the permissions not read), libmicrohttpd's own before
 * any route (src/http/mhd_answers.c: a request it cannot parse, an HTTP
 * version it does not serve), and the gate's (http_gate:
 * MAINTENANCE_MODE, src/training/settings.c).
 * 415 only where a body is taken. The authenticator's (auth 1) only where
 * it runs: an operation with a session's security requirement, or a
 * public one that reads a token when one is sent (a public read of a row,
 * a change the maintenance gate looks at, a route that names
 * UNAUTHORIZED among its own codes); a public route that never looks at a
 * token (/healthz, the document, /docs, login, a webhook) cannot answer
 * them.
 */
static const struct {
	const char *status;
	const char *code;
	const char *why;
	int	    auth;
	int	    writes; /* a write's only (POST, PUT, PATCH, DELETE) */
} shared_problems[] = {
	{ "400", "BAD_HEADER", "a bad header or path, or a body not taken", 0 },
	{ "400", "MALFORMED_PATH", NULL, 0 },	/* src/http/request.c */
	{ "400", "BODY_NOT_ALLOWED", NULL, 0 }, /* src/http/request.c */
	{ "400", "MALFORMED", NULL, 0 }, /* libmicrohttpd's, mhd_answers.c */
	{ "401", "UNAUTHORIZED", "no or bad credentials", 1 },
	{ "401", "SESSION_EXPIRED", NULL, 1 }, /* the authenticator's, */
	{ "401", "TOKEN_IN_QUERY", NULL, 1 },  /* src/people/sessions.c */
	{ "413", "PAYLOAD_TOO_LARGE", "the body is over the limit" },
	{ "413", "TOO_LARGE", NULL }, /* libmicrohttpd's, mhd_answers.c */
	{ "414", "URI_TOO_LONG", "the request line is over its bound" },
	{ "415", "UNSUPPORTED_MEDIA_TYPE", "the body is not application/json" },
	{ "429", "RATE_LIMITED",
	    "too many requests from this client: try again after "
	    "Retry-After" },
	{ "431", "HEADERS_TOO_LARGE",
	    "the request line and headers are over "
	    "their bound" },
	{ "431", "COOKIE_TOO_LARGE", NULL }, /* src/http/cookie.c */
	{ "500", "INTERNAL", "a fault of the server's (nothing is leaked)" },
	{ "503", "SERVER_BUSY",
	    "busy, or under maintenance: try again after Retry-After" },
	{ "503", "MAINTENANCE_MODE", NULL },
	{ "503", "PERMISSIONS_UNAVAILABLE", NULL, 1 },
	/* A write's COMMIT unanswered: it may have been applied, read it
	 * back before trying again (src/http/response.c). Said apart in
	 * the 503's description (COMMIT_OUTCOME_WHY): not to be retried
	 * after Retry-After as the others are. */
	{ "503", "COMMIT_OUTCOME_UNKNOWN", NULL, 0, 1 },
	{ "505", "HTTP_VERSION_NOT_SUPPORTED",
	    "only HTTP/1.0 and HTTP/1.1 are served" }, /* mhd_answers.c */
};

/* Add code to codes' list for status (once). */
static void
codes_add(json_t *codes, const char *status, const char *code)
{
	json_t *l, *c;
	size_t	i;

	if ((l = json_object_get(codes, status)) == NULL) {
		l = json_array();
		json_object_set_new(codes, status, l);
	}
	json_array_foreach(l, i, c) {
		if (strcmp(json_string_value(c), code) == 0)
			return;
	}
	json_array_append_new(l, json_string(code));
}

/* Add the {status: [code]} of more (may be NULL) to codes. */
static void
codes_merge(json_t *codes, json_t *more)
{
	const char *k;
	json_t	   *l, *c;
	size_t	    i;

	json_object_foreach(more, k, l) {
		json_array_foreach(l, i, c) {
			codes_add(codes, k, json_string_value(c));
		}
	}
}

/*
 * Every problem answer of op declares the codes it comes with: the
 * shared ones above, the generic one of its status (err.c: NOT_FOUND
 * for a 404) and the operation's own (codes: {status: [code]}, a status
 * named there declared too). A problem is never a "default" answer: an
 * answer's status must be declared (tests/api/openapi_contract.py).
 * reads_token: a public operation runs the authenticator when a token
 * comes (see shared_problems). writes: the operation is a write (POST,
 * PUT, PATCH, DELETE), which alone commits a change of its caller's.
 */
#define COMMIT_OUTCOME_WHY                                                     \
	"; COMMIT_OUTCOME_UNKNOWN (no Retry-After): the database server "      \
	"stopped answering as the change was committed, so it may have "       \
	"been applied: read it back before trying again"

static void
op_problems(json_t *op, json_t *codes, int reads_token, int writes)
{
	const char *k, *why = NULL;
	json_t	   *r, *all, *a, *c, *e, *s;
	char	    st[8];
	size_t	    i;
	int	    body, auth;

	r = json_object_get(op, "responses");
	body = json_object_get(op, "requestBody") != NULL;
	/* A public operation ("security": [] or a webhook's signature
	 * only) runs the authenticator only where it reads a token. */
	s = json_object_get(op, "security");
	auth = reads_token || !json_is_array(s);
	json_array_foreach(s, i, a) {
		if (json_object_get(a, "bearerAuth") != NULL ||
		    json_object_get(a, "cookieAuth") != NULL)
			auth = 1;
	}
	json_array_foreach(json_object_get(codes, "401"), i, a) {
		if (json_is_string(a) &&
		    strcmp(json_string_value(a), "UNAUTHORIZED") == 0)
			auth = 1;
	}
	all = json_object();
	for (i = 0; i < sizeof(shared_problems) / sizeof(shared_problems[0]);
	     i++) {
		k = shared_problems[i].status;
		if (strcmp(k, "415") == 0 && !body)
			continue;
		if (shared_problems[i].auth && !auth)
			continue;
		if (shared_problems[i].writes && !writes)
			continue;
		if (shared_problems[i].why != NULL)
			why = shared_problems[i].why;
		if (json_object_get(r, k) == NULL)
			json_object_set_new(r, k, problem_response(why));
		codes_add(all, k, shared_problems[i].code);
	}
	if (writes && (a = json_object_get(r, "503")) != NULL &&
	    json_is_string(e = json_object_get(a, "description")) &&
	    strstr(json_string_value(e), "COMMIT_OUTCOME_UNKNOWN") == NULL) {
		char d[512];

		snprintf(d, sizeof(d), "%s%s", json_string_value(e),
		    COMMIT_OUTCOME_WHY);
		json_object_set_new(a, "description", json_string(d));
	}
	codes_merge(all, codes);
	json_object_foreach(codes, k, e) {
		if (json_object_get(r, k) == NULL)
			json_object_set_new(
			    r, k, problem_response("see the code"));
	}
	for (i = 1; i < STATUS_COUNT; i++) {
		if (i == ERR_USAGE) /* the command line's */
			continue;
		snprintf(st, sizeof(st), "%d", err_http_status((int)i));
		if (json_object_get(r, st) != NULL)
			codes_add(all, st, err_code((int)i));
	}
	/* A route without api text answers JSON of any shape by default,
	 * but a problem only with a status it declares. */
	if ((a = json_object_get(r, "default")) != NULL) {
		json_object_del(
		    json_object_get(a, "content"), "application/problem+json");
		if (json_object_size(json_object_get(a, "content")) == 0)
			json_object_del(r, "default");
	}
	json_object_foreach(r, k, a) {
		c = json_object_get(
		    json_object_get(a, "content"), "application/problem+json");
		if (c == NULL)
			continue;
		if ((e = json_object_get(all, k)) == NULL) {
			e = json_array();
			json_object_set_new(all, k, e);
		}
		json_object_set_new(c, "schema",
		    json_pack("{s:[{s:s},{s:{s:{s:O}}}]}", "allOf", "$ref",
			"#/components/schemas/Problem", "properties", "code",
			"enum", e));
	}
	json_decref(all);
}

/* The codes a resource's list answers a bad query with (query.c). */
static void
list_codes_add(json_t *codes, const struct resource *res)
{
	if (res->flags & RESOURCE_ID_PAGED) /* a 422 VALIDATION_FAILED */
		return;
	codes_add(codes, "400", "INVALID_PARAMETER");
	codes_add(codes, "400", "INVALID_CURSOR");
	codes_add(codes, "400", "UNKNOWN_PARAMETER");
	since_codes_add(codes, res, FIELD_FILTER | FIELD_SORT);
}

/* 503 FIELD_UNAVAILABLE when a field of res with since (flags: and one
 * of them, 0: any) is used while its migration is pending (schema.c). */
static void
since_codes_add(json_t *codes, const struct resource *res, int flags)
{
	size_t i;

	for (i = 0; i < res->nfields; i++)
		if (res->fields[i].since != 0 &&
		    (flags == 0 || (res->fields[i].flags & flags))) {
			codes_add(codes, "503", "FIELD_UNAVAILABLE");
			return;
		}
}

/* The codes the resource layer writes a row's refusals with (write.c):
 * <FIELD>_TAKEN for a unique personal field, CONSENT_REQUIRED (or
 * DATE_OF_BIRTH_REQUIRED, src/people/consent.c) for health data without
 * the consent it needs. */
static void
write_codes_add(json_t *codes, const struct rdef *rd)
{
	char   code[64];
	size_t i, j;

	for (i = 0; i < rd->ncols; i++) {
		if (rd->cols[i].flags & FIELD_HEALTH) {
			codes_add(codes, "403", "CONSENT_REQUIRED");
			codes_add(codes, "403", "DATE_OF_BIRTH_REQUIRED");
		}
		if (!(rd->cols[i].flags & FIELD_BLIND_INDEX))
			continue;
		for (j = 0; rd->cols[i].name[j] != '\0' && j + 7 < sizeof(code);
		     j++)
			code[j] =
			    (char)toupper((unsigned char)rd->cols[i].name[j]);
		snprintf(code + j, sizeof(code) - j, "_TAKEN");
		codes_add(codes, "409", code);
	}
	since_codes_add(codes, rd->res, 0);
}

/* The resource's example row (res->example) on the JSON answer of
 * responses r with a row (200, 201), or a page of it (a list). */
static void
row_example(json_t *r, json_t *row, int list)
{
	const char *k;
	json_t	   *a, *c;

	json_object_foreach(r, k, a) {
		if (k[0] != '2' ||
		    (c = json_object_get(json_object_get(a, "content"),
			 "application/json")) == NULL)
			continue;
		json_object_set_new(c, "example",
		    list ? json_pack("{s:[O],s:n}", "data", row, "next_cursor")
			 : json_incref(row));
	}
}

/* A JSON response; steals schema. */
static json_t *
json_response(const char *what, json_t *schema)
{
	return (json_pack("{s:s,s:{s:{s:o}}}", "description", what, "content",
	    "application/json", "schema", schema));
}

static json_t *
list_params(const struct rdef *rd)
{
	const struct field *f;
	json_t		   *p, *sorts, *sch;
	char		    name[160];
	size_t		    i;

	sorts = json_array();
	p = json_pack("[{s:s,s:s,s:s,s:{s:s,s:i,s:i,s:i}},"
		      "{s:s,s:s,s:s,s:{s:s}}]",
	    "name", "limit", "in", "query", "description", "rows per page",
	    "schema", "type", "integer", "minimum", 1, "maximum",
	    RESOURCE_LIST_MAX, "default", RESOURCE_LIST_DEFAULT, "name",
	    "cursor", "in", "query", "description",
	    rd->res->flags & RESOURCE_ID_PAGED
		? "next_cursor of the previous page: the id it ended with "
		  "(rows come in id order)"
		: "next_cursor of the previous page",
	    "schema", "type", "string");
	for (i = 0; i < rd->ncols; i++) {
		f = &rd->cols[i];
		if ((f->flags & FIELD_SORT) &&
		    !(f->flags & (FIELD_PERSONAL | FIELD_HIDDEN))) {
			json_array_append_new(sorts, json_string(f->name));
			snprintf(name, sizeof(name), "-%s", f->name);
			json_array_append_new(sorts, json_string(name));
		}
		if ((f->flags & FIELD_FILTER) == 0 || f->type == FIELD_JSON ||
		    f->type == FIELD_TEXT_LIST || f->type == FIELD_URL_MAP ||
		    ((f->flags & FIELD_PERSONAL) &&
			!(f->flags & FIELD_BLIND_INDEX)))
			continue;
		sch = field_schema(f, 0);
		json_object_del(sch, "readOnly");
		json_object_del(sch, "default");
		json_object_set_new(sch, "type",
		    json_string(f->type == FIELD_INT ? "integer"
			    : f->type == FIELD_BOOL  ? "boolean"
						     : "string"));
		if (f->type == FIELD_ENUM && (f->flags & FIELD_NULLABLE))
			json_array_remove(json_object_get(sch, "enum"),
			    json_array_size(json_object_get(sch, "enum")) - 1);
		/* A filter reads the deprecated spellings too (its
		 * description says until when). */
		if (f->type == FIELD_ENUM)
			enum_olds(f, sch);
		if (f->type == FIELD_TIME) {
			snprintf(name, sizeof(name), "%s_from", f->name);
			json_array_append_new(p,
			    json_pack("{s:s,s:s,s:s,s:O}", "name", name, "in",
				"query", "description", "at or after this time",
				"schema", sch));
			snprintf(name, sizeof(name), "%s_to", f->name);
			json_array_append_new(p,
			    json_pack("{s:s,s:s,s:s,s:o}", "name", name, "in",
				"query", "description", "before this time",
				"schema", sch));
		} else
			json_array_append_new(p,
			    json_pack("{s:s,s:s,s:s,s:o}", "name", f->name,
				"in", "query", "description",
				f->type == FIELD_ENUM && field_choice_note(f)
				    ? field_choice_note(f)
				    : "exact match",
				"schema", sch));
	}
	if (rd->res->flags & RESOURCE_ID_PAGED) {
		json_decref(sorts);
		return (p);
	}
	json_array_append_new(p,
	    json_pack("{s:s,s:s,s:s,s:{s:s,s:o,s:s}}", "name", "sort", "in",
		"query", "description",
		"field to sort by, \"-\" for descending", "schema", "type",
		"string", "enum", sorts, "default", "-created_at"));
	return (p);
}

/* A page of rows of the schema at ref. */
static json_t *
page_schema(const char *ref)
{
	return (json_pack("{s:s,s:[s,s],s:{s:{s:s,s:{s:s}},s:{s:[s,s]}},s:b}",
	    "type", "object", "required", "data", "next_cursor", "properties",
	    "data", "type", "array", "items", "$ref", ref, "next_cursor",
	    "type", "string", "null", "additionalProperties", 0));
}

/* A custom route that answers a page of a resource's rows (its api's
 * "list"): the parameters and answer of that resource's own list. */
static void
route_list(json_t *op, json_t *params, json_t *codes, const char *name)
{
	const struct rdef *const *all;
	json_t			 *lp;
	char			  ref[160];
	size_t			  i, n;

	all = rdef_all(&n);
	for (i = 0; i < n; i++)
		if (strcmp(all[i]->res->name, name) == 0)
			break;
	if (i == n)
		return;
	list_codes_add(codes, all[i]->res);
	lp = list_params(all[i]);
	json_array_extend(params, lp);
	json_decref(lp);
	snprintf(ref, sizeof(ref), "#/components/schemas/%s", name);
	json_object_set_new(json_object_get(op, "responses"), "200",
	    json_response("one page of rows", page_schema(ref)));
	json_object_set_new(json_object_get(op, "responses"),
	    all[i]->res->flags & RESOURCE_ID_PAGED ? "422" : "400",
	    problem_response("unknown or bad parameter, bad cursor"));
}

/* Does a change of some field of rd need If-Match (FIELD_IF_MATCH)? */
static int
if_match_needed(const struct rdef *rd)
{
	size_t i;

	for (i = 0; i < rd->ncols; i++)
		if (rd->cols[i].flags & FIELD_IF_MATCH)
			return (1);
	return (0);
}

/*
 * Parameters for the {name} segments of a pattern. An {id} or
 * {session_id} is a row's id, a UUID (uuid_v7): every route that takes
 * one answers anything else 404 (handlers.c and rows.c for a resource's
 * row, each module's handler for its own). A route whose {id} is not
 * one says so in its api text (param_replace: a partner's id or name).
 */
static json_t *
path_params(const char *pattern)
{
	const char *p, *e;
	char	    name[64];
	json_t	   *a = json_array(), *s;

	for (p = pattern; (p = strchr(p, '{')) != NULL; p = e) {
		if ((e = strchr(p, '}')) == NULL)
			break;
		snprintf(name, sizeof(name), "%.*s", (int)(e - p - 1), p + 1);
		s = json_pack("{s:s}", "type", "string");
		if (strcmp(name, "id") == 0 || strcmp(name, "session_id") == 0)
			json_object_set_new(s, "format", json_string("uuid"));
		json_array_append_new(a,
		    json_pack("{s:s,s:s,s:b,s:o}", "name", name, "in", "path",
			"required", 1, "schema", s));
	}
	return (a);
}

/* The path parameter of params named as p is p (the route's own). */
static void
param_replace(json_t *params, json_t *p)
{
	json_t *q;
	size_t	i;

	json_array_foreach(params, i, q) {
		if (json_equal(json_object_get(q, "name"),
			json_object_get(p, "name"))) {
			json_array_set(params, i, p);
			return;
		}
	}
}

static json_t *
op_new(const char *id, const char *summary, const char *tag)
{
	char   oid[160];
	size_t i;

	snprintf(oid, sizeof(oid), "%s", id);
	for (i = 0; oid[i] != '\0'; i++)
		if (!isalnum((unsigned char)oid[i]))
			oid[i] = '_';
	return (json_pack("{s:s,s:s,s:[s],s:{}}", "operationId", oid, "summary",
	    summary ? summary : "", "tags", tag, "responses"));
}

static void
resource_paths(json_t *paths, json_t *schemas, const struct rdef *rd)
{
	const struct resource *res = rd->res;
	const struct route    *rt;
	json_t		      *coll, *item, *op, *r, *sec, *codes, *list_codes;
	json_t		      *example, *v;
	char		       ref[160], refc[160], refu[160], id[160];
	size_t		       i;

	snprintf(ref, sizeof(ref), "#/components/schemas/%s", res->name);
	snprintf(
	    refc, sizeof(refc), "#/components/schemas/%s_create", res->name);
	snprintf(
	    refu, sizeof(refu), "#/components/schemas/%s_update", res->name);
	json_object_set_new(schemas, res->name, row_schema(rd, 0));
	snprintf(id, sizeof(id), "%s_create", res->name);
	json_object_set_new(schemas, id, row_schema(rd, 1));
	snprintf(id, sizeof(id), "%s_update", res->name);
	json_object_set_new(schemas, id, row_schema(rd, 2));
	if ((coll = json_object_get(paths, res->path)) == NULL) {
		coll = json_object();
		json_object_set_new(paths, res->path, coll);
	}
	if ((item = json_object_get(paths, rd->item_path)) == NULL) {
		item = json_object();
		json_object_set_new(
		    item, "parameters", path_params(rd->item_path));
		json_object_set_new(paths, rd->item_path, item);
	}
	sec = json_pack("[{s:[]},{s:[]}]", "bearerAuth", "cookieAuth");
	/* The codes of its hooks (res->codes, checked at registration),
	 * and a list's own besides. */
	if (res->codes == NULL ||
	    (codes = json_loads(res->codes, 0, NULL)) == NULL)
		codes = json_object();
	example =
	    res->example != NULL ? json_loads(res->example, 0, NULL) : NULL;
	list_codes = json_deep_copy(codes);
	list_codes_add(list_codes, res);
	write_codes_add(codes, rd);
	for (i = 0; i < rd->table.nroutes; i++) {
		rt = &rd->routes[i];
		snprintf(id, sizeof(id), "%s_%s", res->name,
		    rt->method == HTTP_GET
			? (rt->pattern == res->path ? "list" : "read")
			: rt->method == HTTP_POST  ? "create"
			: rt->method == HTTP_PATCH ? "update"
						   : "delete");
		op = op_new(id, rt->summary, res->name);
		json_object_set_new(op, "security",
		    rt->flags & ROUTE_PUBLIC ? json_array()
					     : json_deep_copy(sec));
		if (res->doc != NULL)
			json_object_set_new(
			    op, "description", json_string(res->doc));
		r = json_object_get(op, "responses");
		json_object_set_new(r, "401",
		    problem_response(rt->flags & ROUTE_PUBLIC
			    ? "a bearer token that is not valid (none is "
			      "needed)"
			    : "no or bad credentials"));
		/* Health data: the read's audit row could not be queued
		 * (audit_queue.c), and nothing read is served. */
		if (rt->method == HTTP_GET && rd->has_health)
			json_object_set_new(r, "503",
			    problem_response("the audit log is not being "
					     "written (AUDIT_UNAVAILABLE) or "
					     "its queue is full "
					     "(UNAVAILABLE): try again "
					     "after Retry-After"));
		switch (rt->method) {
		case HTTP_GET:
			if (rt->pattern == res->path) {
				json_object_set_new(
				    op, "parameters", list_params(rd));
				json_object_set_new(r, "200",
				    json_response(
					"one page of rows", page_schema(ref)));
				json_object_set_new(r,
				    res->flags & RESOURCE_ID_PAGED ? "422"
								   : "400",
				    problem_response("unknown or bad "
						     "parameter, bad cursor"));
				json_object_set_new(r, "403",
				    problem_response("no permission to list"));
				json_object_set(coll, "get", op);
			} else {
				json_object_set_new(r, "200",
				    json_response("the row (ETag header)",
					json_pack("{s:s}", "$ref", ref)));
				json_object_set_new(r, "304",
				    json_pack("{s:s}", "description",
					"not modified "
					"(If-None-Match)"));
				json_object_set_new(r, "404",
				    problem_response(
					"no such row, or not yours to see"));
				json_object_set(item, "get", op);
			}
			break;
		case HTTP_POST:
			json_object_set_new(op, "requestBody",
			    json_pack("{s:b,s:{s:{s:{s:s}}}}", "required", 1,
				"content", "application/json", "schema", "$ref",
				refc));
			v = json_object_get(op, "requestBody");
			v = json_object_get(
			    json_object_get(v, "content"), "application/json");
			if (res->create_example != NULL)
				json_object_set_new(v, "example",
				    json_loads(res->create_example, 0, NULL));
			json_object_set_new(r, "201",
			    json_response("created (Location and ETag headers)",
				json_pack("{s:s}", "$ref", ref)));
			json_object_set_new(r, "403",
			    problem_response(
				"no permission to create this row"));
			json_object_set_new(r, "404",
			    problem_response("a row or name it refers to is "
					     "not there"));
			json_object_set_new(r, "409",
			    problem_response("a unique value is taken"));
			json_object_set_new(r, "422",
			    problem_response(
				"validation failed: one entry per field"));
			json_object_set(coll, "post", op);
			break;
		case HTTP_PATCH:
			json_object_set_new(op, "parameters",
			    json_pack("[{s:s,s:s,s:s,s:{s:s}}]", "name",
				"If-Match", "in", "header", "description",
				"the ETag last read; 412 when it changed",
				"schema", "type", "string"));
			json_object_set_new(op, "requestBody",
			    json_pack("{s:b,s:{s:{s:{s:s}}}}", "required", 1,
				"content", "application/json", "schema", "$ref",
				refu));
			json_object_set_new(r, "200",
			    json_response("the changed row (ETag header)",
				json_pack("{s:s}", "$ref", ref)));
			json_object_set_new(
			    r, "403", problem_response("not yours to change"));
			json_object_set_new(r, "404",
			    problem_response(
				"no such row, or not yours to see"));
			json_object_set_new(r, "409",
			    problem_response("a unique value is taken, or the "
					     "row's state forbids the change"));
			json_object_set_new(r, "412",
			    problem_response("If-Match does not match"));
			if (if_match_needed(rd))
				json_object_set_new(r, "428",
				    problem_response("a field others change "
						     "too needs If-Match (not "
						     "*)"));
			json_object_set_new(r, "422",
			    problem_response(
				"validation failed: one entry per field"));
			json_object_set(item, "patch", op);
			break;
		default:
			json_object_set_new(r, "204",
			    json_pack("{s:s}", "description",
				res->soft_delete
				    ? "deleted (kept, hidden from lists)"
				    : "deleted"));
			json_object_set_new(
			    r, "403", problem_response("not yours to delete"));
			json_object_set_new(r, "409",
			    problem_response("other rows still need it, or its "
					     "state forbids it"));
			json_object_set_new(r, "404",
			    problem_response(
				"no such row, or not yours to see"));
			json_object_set(item, "delete", op);
			break;
		}
		/* A public read takes a token when one comes (handlers.c's
		 * begin). */
		op_problems(op,
		    rt->method == HTTP_GET && rt->pattern == res->path
			? list_codes
			: codes,
		    1, rt->method != HTTP_GET);
		if (example != NULL)
			row_example(r, example,
			    rt->method == HTTP_GET && rt->pattern == res->path);
		if (rt->method != HTTP_GET && !(rt->flags & ROUTE_PUBLIC))
			csrf_mark(op);
		if (rt->method == HTTP_GET && rd->has_health)
			code_join(op, "503", "AUDIT_UNAVAILABLE");
		json_decref(op);
	}
	json_decref(codes);
	json_decref(list_codes);
	json_decref(example);
	json_decref(sec);
	if (json_object_size(coll) == 0)
		json_object_del(paths, res->path);
	if (json_object_size(item) == 1)
		json_object_del(paths, rd->item_path);
}

/* {type: schema, ...} as OpenAPI's content: {type: {"schema": ...}}, a
 * copy (answer_close changes it; the route's api is kept). */
static json_t *
media_types(json_t *types)
{
	const char *type;
	json_t	   *v, *c = json_object();

	json_object_foreach(types, type, v) {
		json_object_set_new(
		    c, type, json_pack("{s:o}", "schema", json_deep_copy(v)));
	}
	return (c);
}

/*
 * Close the success answer's schema s of a route's api text, in place (a
 * copy of the text's), so that the contract hook refuses a member the
 * text does not name (tests/api/openapi_contract.py): every object in it
 * that lists properties and says nothing of others (neither
 * additionalProperties nor unevaluatedProperties) gets
 * additionalProperties false. It goes down into properties, items,
 * additionalProperties, the branches of anyOf and oneOf, and the
 * properties of allOf's branches; an allOf's branches themselves are
 * left open (closing one would refuse the members the others name): the
 * object holding the allOf says unevaluatedProperties false itself, which
 * also keeps it from being closed here. One with properties and an allOf
 * that does not is not closed either: additionalProperties false there
 * would refuse every member its branches name (test_openapi's walker
 * finds it open). A $ref is not followed: the components it names are
 * closed where they are made (row_schema, export_schemas) or by their api
 * text. export_tables is left open on purpose (the export's answer
 * closes it by unevaluatedProperties beside its own members), and a GDPR
 * hook's schema is the hook's as declared, not closed here.
 */
static void
answer_close(json_t *s)
{
	const char *k;
	json_t	   *v, *b;
	size_t	    i;

	if (!json_is_object(s))
		return;
	if (json_object_get(s, "properties") != NULL &&
	    json_object_get(s, "allOf") == NULL &&
	    json_object_get(s, "additionalProperties") == NULL &&
	    json_object_get(s, "unevaluatedProperties") == NULL)
		json_object_set_new(s, "additionalProperties", json_false());
	json_object_foreach(json_object_get(s, "properties"), k, v) {
		answer_close(v);
	}
	answer_close(json_object_get(s, "items"));
	answer_close(json_object_get(s, "additionalProperties"));
	json_array_foreach(json_object_get(s, "anyOf"), i, v) {
		answer_close(v);
	}
	json_array_foreach(json_object_get(s, "oneOf"), i, v) {
		answer_close(v);
	}
	json_array_foreach(json_object_get(s, "allOf"), i, b) {
		json_object_foreach(json_object_get(b, "properties"), k, v) {
			answer_close(v);
		}
	}
}

/* The row that owns itself as its export writes it: the row's schema
 * and the members res->exported adds, required. */
static json_t *
exported_schema(const struct rdef *rd)
{
	const char *k;
	json_t	   *s, *more, *v, *req;

	s = row_schema(rd, 0);
	if (rd->res->exported == NULL)
		return (s);
	/* A declaration's text that does not parse is the code's mistake:
	 * said, and the row's schema alone documented. */
	if ((more = json_loads(rd->res->exported, 0, NULL)) == NULL ||
	    !json_is_object(more)) {
		log_error("event=openapi_exported_invalid resource=%s "
			  "detail=\"exported is not a JSON object\"",
		    rd->res->name);
		json_decref(more);
		return (s);
	}
	if ((req = json_object_get(s, "required")) == NULL) {
		req = json_array();
		json_object_set_new(s, "required", req);
	}
	json_object_foreach(more, k, v) {
		size_t	i;
		json_t *r;
		int	had = 0;

		/* A member the row already requires is named once. */
		json_array_foreach(req, i, r) {
			if (json_is_string(r) &&
			    strcmp(json_string_value(r), k) == 0)
				had = 1;
		}
		if (!had)
			json_array_append_new(req, json_string(k));
	}
	json_object_update(json_object_get(s, "properties"), more);
	json_decref(more);
	return (s);
}

/*
 * The parts of the GDPR export's answer (src/people/gdpr.c, whose api
 * text puts them together), as the resource layer and the GDPR hooks
 * write it (query.c's resource_export_owned, gdpr.c's
 * resource_export_row, hooks.c's hooks_gdpr_export):
 *
 *	export_records	the rows of each resource the person owns (an
 *			owner column, not its id), an array of the
 *			resource's row each, and each GDPR hook's export,
 *			an array of its schema's rows; every member always
 *			there (an empty array), no other
 *	export_tables	the same of the RESOURCE_EXPORT_TOP resources,
 *			written beside "user" in the export itself
 *	<name>_exported	the row that owns itself (users) as exported,
 *			every field but the hidden ones, and the members
 *			its res->exported names
 *
 * export_tables says nothing of other members: the export's schema names
 * its own beside it and closes the whole with unevaluatedProperties.
 */
static void
export_schemas(json_t *schemas)
{
	const struct rdef *const      *all;
	const struct gdpr_hook *const *hooks;
	json_t			      *rec, *rec_req, *top, *top_req, *s;
	char			       ref[160], name[160];
	size_t			       i, n;

	rec = json_object();
	rec_req = json_array();
	top = json_object();
	top_req = json_array();
	all = rdef_all(&n);
	for (i = 0; i < n; i++) {
		if (all[i]->res->owner_column == NULL)
			continue;
		if (all[i]->owner_is_id) {
			snprintf(name, sizeof(name), "%s_exported",
			    all[i]->res->name);
			json_object_set_new(
			    schemas, name, exported_schema(all[i]));
			continue;
		}
		snprintf(ref, sizeof(ref), "#/components/schemas/%s",
		    all[i]->res->name);
		s = json_pack(
		    "{s:s,s:{s:s}}", "type", "array", "items", "$ref", ref);
		if (all[i]->res->flags & RESOURCE_EXPORT_TOP) {
			json_object_set_new(top, all[i]->res->name, s);
			json_array_append_new(
			    top_req, json_string(all[i]->res->name));
		} else {
			json_object_set_new(rec, all[i]->res->name, s);
			json_array_append_new(
			    rec_req, json_string(all[i]->res->name));
		}
	}
	hooks = hooks_gdpr_all(&n);
	for (i = 0; i < n; i++) {
		if (hooks[i]->export == NULL && hooks[i]->export_links == NULL)
			continue;
		/* Checked a JSON object at registration. */
		if ((s = json_loads(hooks[i]->schema, 0, NULL)) == NULL)
			continue;
		json_object_set_new(rec, hooks[i]->name,
		    json_pack("{s:s,s:o}", "type", "array", "items", s));
		json_array_append_new(rec_req, json_string(hooks[i]->name));
	}
	json_object_set_new(schemas, "export_records",
	    json_pack("{s:s,s:s,s:o,s:o,s:b}", "type", "object", "description",
		"the rows the person owns, by resource, and each module's "
		"own (its GDPR hook's)",
		"required", rec_req, "properties", rec, "additionalProperties",
		0));
	json_object_set_new(schemas, "export_tables",
	    json_pack("{s:s,s:s,s:o,s:o}", "type", "object", "description",
		"the account's own tables (its auth sessions, password "
		"resets, the mail sent for it), beside user in the export",
		"required", top_req, "properties", top));
}

/* The answers a custom route's flags imply, and its own (api). */
static void
route_answers(json_t *r, const struct route *rt, json_t *api)
{
	const char *k, *type;
	json_t	   *v, *a;

	json_object_foreach(json_object_get(api, "answers"), k, v) {
		a = json_pack(
		    "{s:O}", "description", json_object_get(v, "description"));
		type = json_string_value(json_object_get(v, "type"));
		/* "content": {media type: schema, ...}: an answer in several
		 * formats. */
		if (json_object_get(v, "content") != NULL)
			json_object_set_new(a, "content",
			    media_types(json_object_get(v, "content")));
		else if (json_object_get(v, "schema") != NULL)
			json_object_set_new(a, "content",
			    json_pack("{s:{s:o}}",
				type != NULL ? type : "application/json",
				"schema",
				json_deep_copy(json_object_get(v, "schema"))));
		if (k[0] == '2')
			answer_close(json_object_get(
			    json_object_get(json_object_get(a, "content"),
				"application/json"),
			    "schema"));
		if (json_object_get(v, "example") != NULL &&
		    json_object_get(a, "content") != NULL)
			json_object_set(
			    json_object_get(json_object_get(a, "content"),
				type != NULL ? type : "application/json"),
			    "example", json_object_get(v, "example"));
		json_object_set_new(r, k, a);
	}
	if (!(rt->flags & ROUTE_PUBLIC))
		json_object_set_new(r, "401",
		    problem_response(
			"no or bad bearer token or session cookie"));
	if (rt->flags & ROUTE_JSON_BODY) {
		json_object_set_new(
		    r, "400", problem_response("the body is not JSON"));
		json_object_set_new(
		    r, "413", problem_response("the body is over the limit"));
		json_object_set_new(r, "415",
		    problem_response("the body is not application/json"));
	}
	if (rt->flags & ROUTE_SLOW)
		json_object_set_new(r, "503",
		    problem_response(
			"the slow pool is full: try again after Retry-After"));
	json_object_set_new(r, "429",
	    problem_response("too many requests from "
			     "this client: try again after Retry-After"));
	json_object_foreach(json_object_get(api, "problems"), k, v) {
		json_object_set_new(
		    r, k, problem_response(json_string_value(v)));
	}
	if (json_object_get(api, "answers") != NULL ||
	    json_object_get(api, "list") != NULL)
		json_object_set_new(
		    r, "default", problem_response("another problem"));
	else
		json_object_set_new(r, "default",
		    json_pack("{s:s,s:{s:{s:{}},"
			      "s:{s:{s:s}}}}",
			"description",
			"a JSON answer, or a "
			"problem document",
			"content", "application/json", "schema",
			"application/problem+json", "schema", "$ref",
			"#/components/schemas/Problem"));
}

static void
route_paths(const struct doc_parts *d, const struct route_table *t, size_t k)
{
	static const char *const methods[] = { "get", "post", "put", "patch",
		"delete", "head", "options" };
	const struct route	*rt = &t->routes[k];
	const char		*m = NULL, *type;
	json_t			*item, *op, *pp, *api, *content, *v, *codes;
	char			 id[320];
	size_t			 i;

	for (i = 0; i < 7; i++)
		if (rt->method == (1 << i))
			m = methods[i];
	if (m == NULL || rt->method == HTTP_HEAD || rt->method == HTTP_OPTIONS)
		return;
	if ((item = json_object_get(d->paths, rt->pattern)) == NULL) {
		item = json_object();
		json_object_set_new(d->paths, rt->pattern, item);
	}
	if (json_object_get(item, m) != NULL)
		return;
	api = http_route_api(t, k);
	snprintf(id, sizeof(id), "%s%s", m, rt->pattern);
	op = op_new(id, rt->summary, t->module);
	if (rt->flags & ROUTE_PUBLIC)
		json_object_set_new(op, "security", json_array());
	/* A public route's own credentials (a webhook's signature): one of
	 * the schemes, each in the document's securitySchemes. */
	json_object_foreach(json_object_get(api, "security"), type, v) {
		json_array_append_new(
		    json_object_get(op, "security"), json_pack("{s:[]}", type));
		json_object_set(d->schemes, type, v);
	}
	json_object_foreach(json_object_get(api, "webhooks"), type, v) {
		json_object_set(d->webhooks, type, v);
	}
	/* "schemes": those its webhooks are signed with (not the route's
	 * own: a webhook's operation names it in its security). */
	json_object_foreach(json_object_get(api, "schemes"), type, v) {
		json_object_set(d->schemes, type, v);
	}
	json_object_foreach(json_object_get(api, "schemas"), type, v) {
		json_object_set(d->schemas, type, v);
	}
	pp = path_params(rt->pattern);
	/* "parameters": the route's query parameters, as OpenAPI says them,
	 * and what it says of a {segment} of its path (in place of ours). */
	json_array_foreach(json_object_get(api, "parameters"), i, v) {
		if (strcmp(json_string_value(json_object_get(v, "in")),
			"path") == 0)
			param_replace(pp, v);
		else
			json_array_append(pp, v);
	}
	codes = json_object();
	codes_merge(codes, json_object_get(api, "codes"));
	if (json_is_string(json_object_get(api, "list")))
		route_list(op, pp, codes,
		    json_string_value(json_object_get(api, "list")));
	if (json_array_size(pp) > 0)
		json_object_set_new(op, "parameters", pp);
	else
		json_decref(pp);
	content = json_object();
	if ((v = json_object_get(api, "body")) != NULL)
		json_object_set_new(content, "application/json",
		    json_pack("{s:O}", "schema", v));
	else if (rt->flags & ROUTE_JSON_BODY)
		json_object_set_new(content, "application/json",
		    json_pack("{s:{s:s}}", "schema", "type", "object"));
	json_object_foreach(json_object_get(api, "content"), type, v) {
		json_object_set_new(
		    content, type, json_pack("{s:O}", "schema", v));
	}
	if ((v = json_object_get(api, "example")) != NULL &&
	    json_object_get(content, "application/json") != NULL)
		json_object_set(
		    json_object_get(content, "application/json"), "example", v);
	/* A raw body (a webhook's) says so itself: body_required. */
	if (json_object_size(content) > 0)
		json_object_set_new(op, "requestBody",
		    json_pack("{s:b,s:o}", "required",
			((rt->flags & ROUTE_JSON_BODY) != 0 &&
			    !(rt->flags & ROUTE_JSON_OPTIONAL)) ||
			    json_is_true(json_object_get(api, "body_required")),
			"content", content));
	else
		json_decref(content);
	route_answers(json_object_get(op, "responses"), rt, api);
	/* The maintenance gate signs in the caller of what it sees: a
	 * token that is not valid is then 401 whatever the route. */
	op_problems(op, codes, http_gate_sees(rt->method, rt->pattern),
	    (rt->method & (HTTP_POST | HTTP_PUT | HTTP_PATCH | HTTP_DELETE)) !=
		0);
	json_decref(codes);
	if (rt->method != HTTP_GET && !(rt->flags & ROUTE_PUBLIC))
		csrf_mark(op);
	json_object_set_new(item, m, op);
}

/* Is name a tag of tags already? */
static int
tag_known(json_t *tags, const char *name)
{
	json_t *t;
	size_t	i;

	json_array_foreach(tags, i, t) {
		if (strcmp(json_string_value(json_object_get(t, "name")),
			name) == 0)
			return (1);
	}
	return (0);
}

static int
route_is_resource(const struct route_table *t)
{
	const struct rdef *const *all;
	size_t			  i, n;

	all = rdef_all(&n);
	for (i = 0; i < n; i++)
		if (&all[i]->table == t)
			return (1);
	return (0);
}

json_t *
resource_openapi(void)
{
	const struct rdef *const	*all;
	const struct route_table *const *tables;
	struct doc_parts		 d;
	json_t				*doc, *paths, *schemas, *tags, *schemes;
	json_t				*webhooks;
	const char			*url;
	size_t				 i, j, n, nt;

	url = config.public_url != NULL && config.public_url[0] != '\0'
	    ? config.public_url
	    : "/";
	paths = json_object();
	schemas = json_object();
	tags = json_array();
	webhooks = json_object();
	schemes = json_pack("{s:{s:s,s:s},s:{s:s,s:s,s:s,s:s}}", "bearerAuth",
	    "type", "http", "scheme", "bearer", "cookieAuth", "type", "apiKey",
	    "in", "cookie", "name", "carebase_session", "description",
	    "the browser's session (POST /v1/auth/login with "
	    "X-Carebase-Client: web); a change made with it needs X-CSRF-Token, "
	    "and the Authorization header wins when both come");
	json_object_set_new(schemas, "Problem", problem_schema());
	export_schemas(schemas);
	all = rdef_all(&n);
	for (i = 0; i < n; i++) {
		if (all[i]->res->flags & RESOURCE_NO_ROUTES) {
			/* data only: no route of its own, but a module's
			 * route may answer its rows ("list", a $ref) */
			json_object_set_new(
			    schemas, all[i]->res->name, row_schema(all[i], 0));
			continue;
		}
		resource_paths(paths, schemas, all[i]);
		json_array_append_new(tags,
		    json_pack("{s:s,s:s}", "name", all[i]->res->name,
			"description",
			all[i]->res->doc ? all[i]->res->doc : ""));
	}
	d.paths = paths;
	d.schemas = schemas;
	d.schemes = schemes;
	d.webhooks = webhooks;
	tables = http_routes(&nt);
	for (i = 0; i < nt; i++) {
		if (route_is_resource(tables[i]))
			continue;
		if (!tag_known(tags, tables[i]->module))
			json_array_append_new(tags,
			    json_pack("{s:s,s:s}", "name", tables[i]->module,
				"description",
				"the routes of "
				"this module besides its resources"));
		for (j = 0; j < tables[i]->nroutes; j++)
			route_paths(&d, tables[i], j);
	}
	doc = json_pack("{s:s,s:{s:s,s:s,s:s},s:[{s:s}],s:o,s:o,s:o,"
			"s:[{s:[]},{s:[]}],s:{s:o,s:o,s:o}}",
	    "openapi", "3.1.0", "info", "title", "carebase", "version",
	    OPENAPI_VERSION, "description",
	    "The carebase API: accounts, relationships, "
	    "courses, therapy, training and biometrics. Errors are RFC 9457 "
	    "problem documents. OPTIONS is answered alike on every path "
	    "served, so no operation lists it: 204 without credentials, "
	    "Allow naming the path's methods; from an origin in "
	    "cors_origins with Access-Control-Request-Method, the CORS "
	    "preflight besides (Access-Control-Allow-Methods, "
	    "Access-Control-Allow-Headers, Access-Control-Max-Age). A path "
	    "not served answers it 404.",
	    "servers", "url", url, "tags", tags, "paths", paths, "webhooks",
	    webhooks, "security", "bearerAuth", "cookieAuth", "components",
	    "schemas", schemas, "securitySchemes", schemes, "parameters",
	    json_pack("{s:{s:s,s:s,s:b,s:s,s:{s:s}}}", "CsrfToken", "name",
		"X-CSRF-Token", "in", "header", "required", 0, "description",
		"with the session cookie (cookieAuth): the session's CSRF value, "
		"from the carebase_csrf cookie or GET /v1/auth/csrf; 403 "
		"CSRF_FAILED without it (not needed with a bearer token)",
		"schema", "type", "string"));
	openapi_examples_fill(doc);
	return (doc);
}

/*
 * The document as served: built once, on the first GET (it is over a
 * megabyte, and its examples compile a regex per pattern), then the same
 * bytes for every request with their ETag. Nothing in it changes while
 * the process runs: the routes, the resources and config.public_url (the
 * servers' url, never the request's Host) are read at start-up. A build
 * that failed (out of memory) is tried again by the next GET, under the
 * lock; once built, the bytes are read without it (served_ready).
 */
static pthread_mutex_t served_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int      served_ready;
static char	      *served_body; /* NULL until built */
static size_t	       served_len;
static char	       served_etag[4 + 2 * 16 + 1]; /* W/"hex" */

static void
served_build(void)
{
	unsigned char h[16];
	char	      hex[2 * sizeof(h) + 1];
	struct buf    b;
	json_t	     *doc;

	if ((doc = resource_openapi()) == NULL)
		return;
	buf_init(&b, OPENAPI_MAX_BYTES);
	if (jsonw_compact(&b, doc) == OK && b.len > 0 &&
	    crypto_generichash(h, sizeof(h), (const unsigned char *)b.data,
		b.len, NULL, 0) == 0) {
		sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
		snprintf(served_etag, sizeof(served_etag), "W/\"%s\"", hex);
		served_body = buf_take(&b, &served_len);
	}
	buf_free(&b);
	json_decref(doc);
}

static void
openapi_get(struct request *req)
{
	const char *inm;

	if (!atomic_load(&served_ready)) {
		pthread_mutex_lock(&served_lock);
		if (served_body == NULL)
			served_build();
		if (served_body != NULL)
			atomic_store(&served_ready, 1);
		pthread_mutex_unlock(&served_lock);
		if (served_body == NULL) {
			http_problem(req, ERR_NOMEM, NULL, "no document");
			return;
		}
	}
	http_header_add(req, "ETag", served_etag);
	http_header_add(req, "Cache-Control", "no-cache");
	if ((inm = http_header(req, "If-None-Match")) != NULL &&
	    resource_if_match(inm, served_etag)) {
		http_send_static(req, 304, NULL, NULL, 0);
		return;
	}
	http_send_static(req, 200, "application/json", served_body, served_len);
}
