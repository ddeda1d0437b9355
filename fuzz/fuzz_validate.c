/*
 * Fuzz resource_validate over a resource with one field of every type and
 * flag (a link accepted must be one resource_url_ok takes), for create and update at every scope, and the list cursor
 * decoder: the first byte picks the mode, the rest is the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/err.h"
#include "http/http.h"
#include "resource/resource.h"
#include "resource/resource_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const choices[] = { "a", "b", NULL };

static const struct field fields[] = {
	{ "u", FIELD_UUID, FIELD_REQUIRED, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "t", FIELD_TEXT, FIELD_NULLABLE, 2, 5, NULL, "\"dflt\"", NULL, 0,
	    NULL },
	{ "i", FIELD_INT, 0, -3, 7, NULL, "1", NULL, 0, NULL },
	{ "b", FIELD_BOOL, FIELD_STAFF_WRITE, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "tm", FIELD_TIME, FIELD_CREATE_ONLY, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
	{ "d", FIELD_DATE, 0, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "e", FIELD_ENUM, 0, 0, 0, choices, NULL, NULL, 0, NULL },
	{ "j", FIELD_JSON, FIELD_NULLABLE, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "l", FIELD_TEXT_LIST, 0, 1, 3, NULL, NULL, NULL, 0, NULL },
	{ "m", FIELD_EMAIL, FIELD_PERSONAL, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "r", FIELD_TEXT, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "w", FIELD_URL, FIELD_URL_RELATIVE | FIELD_NULLABLE, 0, 0, NULL, NULL,
	    NULL, 0, NULL },
	{ "ws", FIELD_URL_MAP, 0, 0, 4, NULL, NULL, NULL, 0, NULL },
};

static const struct resource res = {
	.name = "things",
	.path = "/v1/things",
	.table = "things",
	.fields = fields,
	.nfields = sizeof(fields) / sizeof(fields[0]),
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct request req;
	json_t	      *body, *v;
	char	      *s, id[37];
	int	       mode, rc;

	if (size < 1)
		return (0);
	mode = data[0];
	if ((s = malloc(size)) == NULL)
		return (0);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if (mode & 0x80) {
		if (resource_cursor_decode(s,
			(mode & 1) ? "-created_at" : "title", &v, id) == OK) {
			if (strlen(id) != 36)
				abort();
			json_decref(v);
		}
		free(s);
		return (0);
	}
	memset(&req, 0, sizeof(req));
	req.arena = arena_new(0);
	req.path = "/v1/things";
	if ((body = json_loads(
		 s, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL)) != NULL) {
		rc = resource_validate(
		    &req, &res, body, mode & 1, (enum scope)((mode >> 1) & 3));
		if (rc == ERR_INVALID && (!req.responded || req.status != 422))
			abort();
		/* A link accepted is one the rule takes: http(s), or a path. */
		if (rc == OK && json_is_string(json_object_get(body, "w")) &&
		    !resource_url_ok(
			json_string_value(json_object_get(body, "w")), 1))
			abort();
		json_decref(body);
	}
	arena_free(req.arena);
	free(s);
	return (0);
}
