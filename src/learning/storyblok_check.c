/*
 * The CMS (Storyblok) webhook's checks of what comes from outside: the
 * payload the CMS posts and the story fetched from its API (storyblok.c
 * does the signature, the fetch and the writes). Pure: no database, no
 * network, no clock; fuzz/fuzz_storyblok.c runs both on any bytes.
 *
 * Unknown members are ignored (the CMS adds some over time); the known
 * ones are bounded and typed, and a refusal names every bad field
 * (inbox_result.errors) without quoting the body.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/err.h"
#include "core/util.h"
#include "learning/learning_int.h"
#include "ops/inbox.h"

static void   err_add(json_t *, const char *, const char *, const char *);
static size_t utf8_chars(const char *);
static int    text_ok(json_t *, size_t, size_t);
static int    slug_ok(const char *);
static int    list_check(json_t *, const char *, json_t *, json_t **);
static int    payload_check(json_t *, json_t *, struct inbox_result *);

static const char *const actions[] = { "published", "unpublished", "deleted",
	"moved", NULL };

int
learning_storyblok_payload(
    const char *body, size_t len, json_t **work, struct inbox_result *r)
{
	return (inbox_parse_object(body, len, payload_check, work, r));
}

static void
err_add(json_t *errs, const char *field, const char *code, const char *detail)
{
	json_array_append_new(errs,
	    json_pack("{s:s,s:s,s:s}", "field", field, "code", code, "detail",
		detail));
}

static size_t
utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return (n);
}

/* v is a string of min..max characters. */
static int
text_ok(json_t *v, size_t min, size_t max)
{
	size_t n;

	if (!json_is_string(v))
		return (0);
	n = utf8_chars(json_string_value(v));
	return (n >= min && n <= max);
}

static int
slug_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' &&
		    *s != '/')
			return (0);
	return (1);
}

/*
 * v (may be NULL or null: empty) must be an array of at most
 * LEARNING_LIST_MAX strings of 1..LEARNING_ITEM_MAX characters; *out gets
 * a copy with duplicates (ignoring case) left out.
 */
static int
list_check(json_t *v, const char *field, json_t *errs, json_t **out)
{
	json_t *item, *seen;
	size_t	i, j;
	int	dup;

	*out = json_array();
	if (v == NULL || json_is_null(v))
		return (OK);
	if (!json_is_array(v) || json_array_size(v) > LEARNING_LIST_MAX) {
		err_add(errs, field, "type", "an array of at most 50 strings");
		return (ERR_INVALID);
	}
	json_array_foreach(v, i, item) {
		if (!text_ok(item, 1, LEARNING_ITEM_MAX)) {
			err_add(errs, field, "item",
			    "each item is a string of "
			    "1 to 100 characters");
			return (ERR_INVALID);
		}
		dup = 0;
		json_array_foreach(*out, j, seen)
			if (strcasecmp(json_string_value(seen),
				json_string_value(item)) == 0)
				dup = 1;
		if (!dup)
			json_array_append(*out, item);
	}
	return (OK);
}

static int
payload_check(json_t *p, json_t *work, struct inbox_result *r)
{
	json_t	   *v, *errs = json_array();
	const char *action = NULL;
	size_t	    i;

	v = json_object_get(p, "action");
	if (json_is_string(v))
		for (i = 0; actions[i] != NULL; i++)
			if (strcmp(json_string_value(v), actions[i]) == 0)
				action = actions[i];
	if (action == NULL)
		err_add(errs, "action", v == NULL ? "required" : "enum",
		    "one of published, unpublished, deleted, moved");
	v = json_object_get(p, "story_id");
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > LEARNING_STORY_ID_MAX)
		err_add(errs, "story_id", v == NULL ? "required" : "type",
		    "the story's numeric id, a positive integer");
	v = json_object_get(p, "space_id");
	if (v != NULL && !json_is_null(v) &&
	    (!json_is_integer(v) || json_integer_value(v) < 0 ||
		json_integer_value(v) > LEARNING_STORY_ID_MAX))
		err_add(errs, "space_id", "type", "a non-negative integer");
	v = json_object_get(p, "text");
	if (v != NULL && !json_is_null(v) &&
	    !text_ok(v, 0, LEARNING_CMS_TEXT_MAX))
		err_add(errs, "text", "type",
		    "a string of at most 10000 "
		    "characters");
	v = json_object_get(p, "full_slug");
	if (v != NULL && !json_is_null(v) &&
	    (!text_ok(v, 1, LEARNING_NAME_MAX) ||
		!slug_ok(json_string_value(v))))
		err_add(errs, "full_slug", "format",
		    "1 to 500 of letters, "
		    "digits, '-', '_' and '/'");
	if (json_array_size(errs) > 0) {
		r->errors = errs;
		return (inbox_fail(r, ERR_INVALID, NULL,
		    "The webhook payload "
		    "is not valid: %zu field%s.",
		    json_array_size(errs),
		    json_array_size(errs) == 1 ? "" : "s"));
	}
	json_decref(errs);
	json_object_set_new(work, "action", json_string(action));
	json_object_set(work, "story_id", json_object_get(p, "story_id"));
	json_object_set_new(work, "status",
	    json_string(strcmp(action, "moved") == 0 ? "published" : action));
	return (OK);
}

int
learning_storyblok_story(json_t *story, json_t *work, struct inbox_result *r)
{
	json_t	   *errs = json_array(), *content, *v, *list = NULL;
	const char *comp = NULL, *kind = "other";
	char	    uuid[UUID_STR_LEN];
	size_t	    i;

	content = json_object_get(story, "content");
	v = json_object_get(story, "uuid");
	if (!json_is_string(v) || !uuid_valid(json_string_value(v)))
		err_add(errs, "story.uuid", "uuid", "the story's uuid");
	else {
		strlcpy_cb(uuid, json_string_value(v), sizeof(uuid));
		for (i = 0; uuid[i] != '\0'; i++)
			uuid[i] = (char)tolower((unsigned char)uuid[i]);
		json_object_set_new(work, "uuid", json_string(uuid));
	}
	v = json_object_get(story, "id");
	if (!json_is_integer(v) ||
	    json_integer_value(v) !=
		json_integer_value(json_object_get(work, "story_id")))
		err_add(errs, "story.id", "mismatch",
		    "the story's id is the "
		    "payload's story_id");
	if (!json_is_object(content) ||
	    !text_ok(
		json_object_get(content, "component"), 1, LEARNING_ITEM_MAX))
		err_add(errs, "story.content.component", "required",
		    "the story's content type");
	else {
		comp = json_string_value(json_object_get(content, "component"));
		if (strcasecmp(comp, "course") == 0)
			kind = "course";
		else if (strcmp(comp, "session") == 0 ||
		    strcmp(comp, "session_iba") == 0)
			kind = "session";
		json_object_set_new(work, "component", json_string(comp));
	}
	json_object_set_new(work, "kind", json_string(kind));
	if (strcmp(kind, "other") == 0 || json_array_size(errs) > 0)
		goto done;
	v = json_object_get(content, "name");
	if (!text_ok(v, 1, LEARNING_NAME_MAX))
		v = json_object_get(story, "name");
	if (!text_ok(v, 1, LEARNING_NAME_MAX))
		err_add(errs, "story.name", "length",
		    "a name of 1 to 500 "
		    "characters");
	else
		json_object_set(work, "name", v);
	v = json_object_get(story, "full_slug");
	if (!text_ok(v, 1, LEARNING_NAME_MAX))
		err_add(errs, "story.full_slug", "length",
		    "a slug of 1 to 500 "
		    "characters");
	else
		json_object_set(work, "slug", v);
	if (list_check(json_object_get(content, "included_for_partners"),
		"story.content.included_for_partners", errs, &list) == OK)
		json_object_set(work, "partners", list);
	json_decref(list);
	if (strcmp(kind, "session") == 0) {
		v = json_object_get(content, "course");
		if (!json_is_string(v) || !uuid_valid(json_string_value(v)))
			err_add(errs, "story.content.course", "uuid",
			    "the "
			    "uuid of the session's course story");
		else {
			strlcpy_cb(uuid, json_string_value(v), sizeof(uuid));
			for (i = 0; uuid[i] != '\0'; i++)
				uuid[i] = (char)tolower((unsigned char)uuid[i]);
			json_object_set_new(
			    work, "course_uuid", json_string(uuid));
		}
		goto done;
	}
	/* A course: live (content.live, a boolean; left out or null: not
	 * live), plain-text description (rich text is not kept), themes
	 * from content.themes or else the story's tags. */
	v = json_object_get(content, "live");
	if (v != NULL && !json_is_null(v) && !json_is_boolean(v))
		err_add(errs, "story.content.live", "type", "true or false");
	else
		json_object_set_new(
		    work, "live", json_boolean(json_is_true(v)));
	v = json_object_get(content, "description");
	if (json_is_string(v)) {
		if (!text_ok(v, 0, LEARNING_TEXT_MAX))
			err_add(errs, "story.content.description", "length",
			    "at most 20000 characters");
		else
			json_object_set(work, "description", v);
	}
	v = json_object_get(content, "themes");
	if (v == NULL || json_is_null(v))
		v = json_object_get(story, "tag_list");
	if (list_check(v, "story.content.themes", errs, &list) == OK)
		json_object_set(work, "themes", list);
	json_decref(list);
done:
	if (json_array_size(errs) > 0) {
		r->errors = errs;
		return (inbox_fail(r, ERR_INVALID, "STORY_INVALID",
		    "The CMS "
		    "story %lld is not a valid %s: %zu field%s.",
		    (long long)json_integer_value(
			json_object_get(work, "story_id")),
		    kind, json_array_size(errs),
		    json_array_size(errs) == 1 ? "" : "s"));
	}
	json_decref(errs);
	return (OK);
}
