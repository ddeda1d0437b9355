/*
 * The /docs page: plain HTML rendered from the OpenAPI document
 * (openapi.c), readable without JavaScript or anything fetched from
 * elsewhere, under a Content-Security-Policy that allows nothing else.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "http/http.h"
#include "resource/resource.h"
#include "resource/resource_int.h"

#define DOCS_MAX (8 * 1024 * 1024)

static int     esc(struct buf *, const char *);
static json_t *schema_resolve(json_t *, json_t *);
static int     docs_notes(struct buf *, json_t *);
static int     docs_fields(struct buf *, json_t *, json_t *);
static int     docs_op(
	struct buf *, json_t *, const char *, const char *, json_t *);

static int
esc(struct buf *b, const char *s)
{
	int rc = OK;

	for (; s != NULL && *s != '\0' && rc == OK; s++) {
		switch (*s) {
		case '<':
			rc = buf_puts(b, "&lt;");
			break;
		case '>':
			rc = buf_puts(b, "&gt;");
			break;
		case '&':
			rc = buf_puts(b, "&amp;");
			break;
		case '"':
			rc = buf_puts(b, "&quot;");
			break;
		case '\'':
			rc = buf_puts(b, "&#39;");
			break;
		default:
			rc = buf_append(b, s, 1);
			break;
		}
	}
	return (rc);
}

/* A schema, following one $ref into components.schemas (borrowed). */
static json_t *
schema_resolve(json_t *doc, json_t *s)
{
	const char *ref = json_string_value(json_object_get(s, "$ref"));

	if (ref == NULL || strncmp(ref, "#/components/schemas/", 21) != 0)
		return (s);
	return (json_object_get(
	    json_object_get(json_object_get(doc, "components"), "schemas"),
	    ref + 21));
}

/* The constraints of a property schema, as words. */
static int
docs_notes(struct buf *b, json_t *p)
{
	const char *keys[] = { "format", "minLength", "maxLength", "minimum",
		"maximum", "minItems", "maxItems", "default", NULL };
	json_t	   *v;
	char	   *txt;
	int	    i, rc = OK;

	for (i = 0; keys[i] != NULL && rc == OK; i++) {
		if ((v = json_object_get(p, keys[i])) == NULL)
			continue;
		txt = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		if ((rc = buf_printf(b, "%s: ", keys[i])) == OK)
			rc = esc(b, txt);
		if (rc == OK)
			rc = buf_puts(b, "; ");
		free(txt);
	}
	if (rc == OK && (v = json_object_get(p, "enum")) != NULL) {
		txt = json_dumps(v, JSON_COMPACT);
		if ((rc = buf_puts(b, "one of ")) == OK)
			rc = esc(b, txt);
		if (rc == OK)
			rc = buf_puts(b, "; ");
		free(txt);
	}
	if (rc == OK && json_is_true(json_object_get(p, "readOnly")))
		rc = buf_puts(b, "read-only; ");
	if (rc == OK && json_is_true(json_object_get(p, "writeOnly")))
		rc = buf_puts(b, "write-only; ");
	if (rc == OK)
		rc = esc(
		    b, json_string_value(json_object_get(p, "description")));
	return (rc);
}

static int
docs_fields(struct buf *b, json_t *doc, json_t *schema)
{
	const char *name;
	json_t	   *s, *p, *req, *t;
	char	   *type;
	size_t	    i;
	int	    rc, required;

	s = schema_resolve(doc, schema);
	if (json_object_size(json_object_get(s, "properties")) == 0)
		return (OK);
	req = json_object_get(s, "required");
	if ((rc = buf_puts(b,
		 "<table><tr><th>field</th><th>type</th>"
		 "<th>required</th><th>notes</th></tr>\n")) != OK)
		return (rc);
	json_object_foreach(json_object_get(s, "properties"), name, p) {
		required = 0;
		for (i = 0; i < json_array_size(req); i++)
			if (strcmp(json_string_value(json_array_get(req, i)),
				name) == 0)
				required = 1;
		t = json_object_get(schema_resolve(doc, p), "type");
		type = t != NULL ? json_dumps(t, JSON_ENCODE_ANY) : NULL;
		if ((rc = buf_puts(b, "<tr><td><code>")) != OK ||
		    (rc = esc(b, name)) != OK ||
		    (rc = buf_puts(b, "</code></td><td>")) != OK ||
		    (rc = esc(b, type)) != OK ||
		    (rc = buf_printf(b, "</td><td>%s</td><td>",
			 required ? "yes" : "")) != OK ||
		    (rc = docs_notes(b, p)) != OK ||
		    (rc = buf_puts(b, "</td></tr>\n")) != OK) {
			free(type);
			return (rc);
		}
		free(type);
	}
	return (buf_puts(b, "</table>\n"));
}

static int
docs_op(struct buf *b, json_t *doc, const char *path, const char *method,
    json_t *op)
{
	const char *code;
	json_t	   *p, *r, *body;
	char	    m[16];
	size_t	    i;
	int	    rc;

	for (i = 0; method[i] != '\0' && i + 1 < sizeof(m); i++)
		m[i] = (char)toupper((unsigned char)method[i]);
	m[i] = '\0';
	if ((rc = buf_printf(b, "<section><h3><code>%s ", m)) != OK ||
	    (rc = esc(b, path)) != OK ||
	    (rc = buf_puts(b, "</code></h3>\n<p>")) != OK ||
	    (rc = esc(b, json_string_value(json_object_get(op, "summary")))) !=
		OK ||
	    (rc = buf_puts(b, "</p>\n")) != OK)
		return (rc);
	if (json_array_size(json_object_get(op, "parameters")) > 0) {
		if ((rc = buf_puts(b,
			 "<h4>Parameters</h4><table><tr><th>name"
			 "</th><th>in</th><th>notes</th></tr>\n")) != OK)
			return (rc);
		json_array_foreach(json_object_get(op, "parameters"), i, p) {
			if ((rc = buf_puts(b, "<tr><td><code>")) != OK ||
			    (rc = esc(b,
				 json_string_value(
				     json_object_get(p, "name")))) != OK ||
			    (rc = buf_puts(b, "</code></td><td>")) != OK ||
			    (rc = esc(b,
				 json_string_value(
				     json_object_get(p, "in")))) != OK ||
			    (rc = buf_puts(b, "</td><td>")) != OK ||
			    (rc = esc(b,
				 json_string_value(json_object_get(
				     p, "description")))) != OK ||
			    (rc = buf_puts(b, " ")) != OK ||
			    (rc = docs_notes(
				 b, json_object_get(p, "schema"))) != OK ||
			    (rc = buf_puts(b, "</td></tr>\n")) != OK)
				return (rc);
		}
		if ((rc = buf_puts(b, "</table>\n")) != OK)
			return (rc);
	}
	body = json_object_get(
	    json_object_get(
		json_object_get(json_object_get(op, "requestBody"), "content"),
		"application/json"),
	    "schema");
	if (body != NULL &&
	    ((rc = buf_puts(b, "<h4>Body</h4>\n")) != OK ||
		(rc = docs_fields(b, doc, body)) != OK))
		return (rc);
	if ((rc = buf_puts(b, "<h4>Answers</h4><ul>\n")) != OK)
		return (rc);
	json_object_foreach(json_object_get(op, "responses"), code, r) {
		if ((rc = buf_puts(b, "<li><code>")) != OK ||
		    (rc = esc(b, code)) != OK ||
		    (rc = buf_puts(b, "</code> ")) != OK ||
		    (rc = esc(b,
			 json_string_value(
			     json_object_get(r, "description")))) != OK ||
		    (rc = buf_puts(b, "</li>\n")) != OK)
			return (rc);
	}
	return (buf_puts(b, "</ul></section>\n"));
}

void
openapi_docs_get(struct request *req)
{
	const char *path, *method, *name;
	json_t	   *doc, *item, *op, *schemas, *s;
	struct buf  b;
	char	   *out;
	size_t	    len;
	int	    rc;

	if ((doc = resource_openapi()) == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "no document");
		return;
	}
	buf_init(&b, DOCS_MAX);
	rc = buf_puts(&b,
	    "<!doctype html>\n<html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\"><meta name=\"viewport\" content=\""
	    "width=device-width\"><title>carebase API</title><style>"
	    "body{font-family:sans-serif;max-width:60em;margin:auto;"
	    "padding:1em;line-height:1.4}table{border-collapse:collapse}"
	    "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;"
	    "vertical-align:top}section{border-top:1px solid #ddd}"
	    "</style></head><body>\n<h1>carebase API</h1>\n<p>");
	if (rc == OK)
		rc = esc(&b,
		    json_string_value(json_object_get(
			json_object_get(doc, "info"), "description")));
	if (rc == OK)
		rc = buf_puts(&b,
		    "</p>\n<p>Machine-readable: <a href=\""
		    "/v1/openapi.json\">/v1/openapi.json</a> (OpenAPI 3.1). "
		    "Authenticate with <code>Authorization: Bearer "
		    "&lt;token&gt;</code>.</p>\n<h2>Operations</h2>\n");
	json_object_foreach(json_object_get(doc, "paths"), path, item) {
		json_object_foreach(item, method, op) {
			if (rc == OK && strcmp(method, "parameters") != 0)
				rc = docs_op(&b, doc, path, method, op);
		}
	}
	if (rc == OK)
		rc = buf_puts(&b, "<h2>Schemas</h2>\n");
	schemas =
	    json_object_get(json_object_get(doc, "components"), "schemas");
	json_object_foreach(schemas, name, s) {
		if (rc == OK && (rc = buf_puts(&b, "<section><h3>")) == OK &&
		    (rc = esc(&b, name)) == OK &&
		    (rc = buf_puts(&b, "</h3>\n<p>")) == OK &&
		    (rc = esc(&b,
			 json_string_value(
			     json_object_get(s, "description")))) == OK &&
		    (rc = buf_puts(&b, "</p>\n")) == OK &&
		    (rc = docs_fields(&b, doc, s)) == OK)
			rc = buf_puts(&b, "</section>\n");
	}
	if (rc == OK)
		rc = buf_puts(&b, "</body></html>\n");
	json_decref(doc);
	if (rc != OK) {
		buf_free(&b);
		http_problem(req, rc, NULL, "the page could not be made");
		return;
	}
	out = buf_take(&b, &len);
	http_header_add(req, "Content-Security-Policy",
	    "default-src 'none'; style-src 'unsafe-inline'");
	http_send(req, 200, "text/html; charset=utf-8", out, len);
	free(out);
}
