/*
 * libFuzzer target for the CMS (Storyblok) webhook checks: the first
 * byte picks the payload parser (even) or the story check (odd), the
 * rest is the JSON.
 *
 * A payload that passes gives {action, story_id, status} of the allowed
 * values; a story that passes gives a kind, and for a course or session
 * a lower-case uuid and name, slug and partner list within their bounds,
 * the list without duplicates (ignoring case). A refusal is malformed or
 * invalid, with a line of our own words (never the body's) and, when
 * invalid, one well-formed entry per bad field.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/err.h"
#include "core/util.h"
#include "learning/learning_int.h"
#include "ops/inbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static size_t
chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return (n);
}

/* v is a string of min..max characters. */
static void
check_text(json_t *v, size_t min, size_t max)
{
	size_t n;

	if (!json_is_string(v))
		abort();
	n = chars(json_string_value(v));
	if (n < min || n > max)
		abort();
}

static void
check_uuid(json_t *v)
{
	const char *s = json_string_value(v);

	if (s == NULL || !uuid_valid(s) ||
	    strspn(s, "0123456789abcdef-") != strlen(s))
		abort();
}

static void
check_list(json_t *v)
{
	json_t *a, *b;
	size_t	i, j;

	if (!json_is_array(v) || json_array_size(v) > LEARNING_LIST_MAX)
		abort();
	json_array_foreach(v, i, a) {
		check_text(a, 1, LEARNING_ITEM_MAX);
		json_array_foreach(v, j, b)
			if (j < i &&
			    strcasecmp(json_string_value(a),
				json_string_value(b)) == 0)
				abort();
	}
}

static void
check_refusal(const struct inbox_result *r, int rc, const char *const *lines)
{
	json_t *e;
	size_t	i;
	int	ours = 0;

	if (rc != r->rc || (rc != ERR_MALFORMED && rc != ERR_INVALID))
		abort();
	for (i = 0; lines[i] != NULL; i++)
		if (strncmp(r->error, lines[i], strlen(lines[i])) == 0)
			ours = 1;
	if (!ours)
		abort();
	if (rc == ERR_MALFORMED && r->errors != NULL)
		abort();
	if (rc == ERR_INVALID &&
	    (!json_is_array(r->errors) || json_array_size(r->errors) == 0))
		abort();
	json_array_foreach(r->errors, i, e)
		if (!json_is_string(json_object_get(e, "field")) ||
		    !json_is_string(json_object_get(e, "code")) ||
		    !json_is_string(json_object_get(e, "detail")))
			abort();
}

static void
payload(const uint8_t *data, size_t size)
{
	static const char *const lines[] = { "Invalid JSON at line ",
		"The body must be a JSON object.",
		"The webhook payload is not "
		"valid: ",
		NULL };
	struct inbox_result	 r;
	json_t			*w;
	const char		*action, *status;
	json_int_t		 id;
	int			 rc;

	memset(&r, 0, sizeof(r));
	rc = learning_storyblok_payload((const char *)data, size, &w, &r);
	if (rc != OK) {
		if (w != NULL)
			abort();
		check_refusal(&r, rc, lines);
		json_decref(r.errors);
		return;
	}
	action = json_string_value(json_object_get(w, "action"));
	status = json_string_value(json_object_get(w, "status"));
	id = json_integer_value(json_object_get(w, "story_id"));
	if (action == NULL || status == NULL || id < 1 ||
	    id > LEARNING_STORY_ID_MAX)
		abort();
	if (strcmp(action, "published") != 0 && strcmp(action, "moved") != 0 &&
	    strcmp(action, "unpublished") != 0 &&
	    strcmp(action, "deleted") != 0)
		abort();
	if (strcmp(status,
		strcmp(action, "moved") == 0 ? "published" : action) != 0)
		abort();
	json_decref(w);
}

static void
story(const uint8_t *data, size_t size)
{
	static const char *const lines[] = { "The CMS story ", NULL };
	struct inbox_result	 r;
	json_t			*s, *w, *v;
	const char		*kind;
	int			 rc;

	if ((s = json_loadb((const char *)data, size, 0, NULL)) == NULL)
		return;
	/* The payload's story_id: the story's own when it has one, so
	 * that the deeper checks run too. */
	v = json_object_get(s, "id");
	w = json_pack("{s:I}", "story_id",
	    json_is_integer(v) ? json_integer_value(v) : (json_int_t)7);
	memset(&r, 0, sizeof(r));
	rc = learning_storyblok_story(s, w, &r);
	if (rc != OK) {
		check_refusal(&r, rc, lines);
		if (rc != ERR_INVALID || strcmp(r.code, "STORY_INVALID") != 0)
			abort();
		json_decref(r.errors);
		goto out;
	}
	kind = json_string_value(json_object_get(w, "kind"));
	if (kind == NULL)
		abort();
	if (strcmp(kind, "other") == 0)
		goto out;
	if (strcmp(kind, "course") != 0 && strcmp(kind, "session") != 0)
		abort();
	check_text(json_object_get(w, "component"), 1, LEARNING_ITEM_MAX);
	check_uuid(json_object_get(w, "uuid"));
	check_text(json_object_get(w, "name"), 1, LEARNING_NAME_MAX);
	check_text(json_object_get(w, "slug"), 1, LEARNING_NAME_MAX);
	check_list(json_object_get(w, "partners"));
	if (strcmp(kind, "session") == 0)
		check_uuid(json_object_get(w, "course_uuid"));
	else {
		if ((v = json_object_get(w, "description")) != NULL)
			check_text(v, 0, LEARNING_TEXT_MAX);
		check_list(json_object_get(w, "themes"));
	}
out:
	json_decref(w);
	json_decref(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return (0);
	if (data[0] & 1)
		story(data + 1, size - 1);
	else
		payload(data + 1, size - 1);
	return (0);
}
