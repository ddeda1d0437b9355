/*
 * Links: the one rule for every FIELD_URL and FIELD_URL_MAP field
 * (resource.h), applied when a value is written (validate.c) and again
 * when a stored one is read (rows.c, and the hand-written readers through
 * resource_url_safe), so a link stored before the rule, or by something
 * other than this layer, is never served for a client to follow.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/log.h"
#include "core/util.h"
#include "resource/resource.h"
#include "resource/resource_int.h"

static int url_char_ok(unsigned char);
static int url_cp_ok(uint32_t);
static int url_text_ok(const char *, size_t);
static int url_name_ok(const char *);

/* An ASCII byte that may stand in a URL as stored: no blank, no control
 * character, none of the characters RFC 3986 never allows. */
static int
url_char_ok(unsigned char c)
{
	return (c > 0x20 && c != 0x7f && strchr("\"<>\\^`{|}", c) == NULL);
}

/* A code point past ASCII (an IRI's) that may stand in a URL: none that
 * is invisible or a blank, so what is shown is what is followed: the C1
 * controls, no-break and other spaces, soft hyphen, zero-width and
 * direction marks, line and paragraph separators, the bidi embeddings,
 * overrides and isolates, and the byte-order mark. */
static int
url_cp_ok(uint32_t c)
{
	return (c > 0x9f && !unicode_invisible(c) &&
	    !(c >= 0xd800 && c <= 0xdfff) && c <= 0x10ffff);
}

/* Every character of s[0..n) may stand in a URL; s is valid UTF-8 in its
 * shortest form. */
static int
url_text_ok(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	uint32_t	     c, min;
	int		     more;

	while (p < end) {
		if (*p < 0x80) {
			if (!url_char_ok(*p++))
				return (0);
			continue;
		}
		if ((*p & 0xe0) == 0xc0)
			c = *p & 0x1f, more = 1, min = 0x80;
		else if ((*p & 0xf0) == 0xe0)
			c = *p & 0x0f, more = 2, min = 0x800;
		else if ((*p & 0xf8) == 0xf0)
			c = *p & 0x07, more = 3, min = 0x10000;
		else
			return (0);
		if (end - ++p < more)
			return (0);
		for (; more > 0; more--, p++) {
			if ((*p & 0xc0) != 0x80)
				return (0);
			c = (c << 6) | (*p & 0x3f);
		}
		if (c < min || !url_cp_ok(c))
			return (0);
	}
	return (1);
}

int
resource_url_ok(const char *s, int relative)
{
	const char *host;
	size_t	    n;

	if (s == NULL || (n = strlen(s)) == 0 || n > RESOURCE_URL_MAX ||
	    !url_text_ok(s, n))
		return (0);
	if (strncasecmp(s, "https://", 8) == 0)
		host = s + 8;
	else if (strncasecmp(s, "http://", 7) == 0)
		host = s + 7;
	else
		/* A path on this site: "/a", never "//host" (another site). */
		return (relative && s[0] == '/' && s[1] != '/');
	/* A host comes first: not empty, not a port alone, and no userinfo
	 * ("https://trusted.example@evil.example/" reads as one site and
	 * goes to another). */
	n = strcspn(host, "/?#");
	return (n > 0 && *host != ':' && memchr(host, '@', n) == NULL);
}

/* A name of a FIELD_URL_MAP: 1 to RESOURCE_URL_NAME_MAX of [a-z0-9_]. */
static int
url_name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > RESOURCE_URL_NAME_MAX)
		return (0);
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
			(s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return (0);
	return (1);
}

const char *
resource_url_safe(const char *s, int relative, const char *table,
    const char *column, const char *id)
{
	if (s == NULL || resource_url_ok(s, relative))
		return (s);
	log_warn("event=url_withheld table=%s column=%s id=%s",
	    table != NULL ? table : "-", column, id != NULL ? id : "-");
	return (NULL);
}

void
url_check(json_t *errs, const struct field *f, json_t *v)
{
	const char *name;
	json_t	   *link;
	int	    relative = (f->flags & FIELD_URL_RELATIVE) != 0;
	int64_t	    max;

	if (f->type == FIELD_URL) {
		max = f->max > 0 ? f->max : RESOURCE_URL_MAX;
		if (!json_is_string(v))
			resource_field_err(
			    errs, f->name, "type", "must be a string");
		else if (json_string_length(v) > (size_t)max)
			resource_field_err(errs, f->name, "too_long",
			    "is longer than the URL may be");
		else if (strlen(json_string_value(v)) !=
			json_string_length(v) ||
		    !resource_url_ok(json_string_value(v), relative))
			resource_field_err(errs, f->name, "invalid_url",
			    relative ? "must be an http or https URL, or a "
				       "path starting with /"
				     : "must be an absolute http or https URL");
		return;
	}
	max = f->max > 0 ? f->max : RESOURCE_LIST_ITEMS_MAX;
	if (!json_is_object(v)) {
		resource_field_err(errs, f->name, "type",
		    "must be an object of names to URLs");
		return;
	}
	if (json_object_size(v) > (size_t)max) {
		resource_field_err(
		    errs, f->name, "too_long", "has too many members");
		return;
	}
	json_object_foreach(v, name, link) {
		if (!url_name_ok(name)) {
			resource_field_err(errs, f->name, "invalid_format",
			    "each name is 1 to 32 of a-z, 0-9 and _");
			return;
		}
		if (!json_is_string(link) ||
		    strlen(json_string_value(link)) !=
			json_string_length(link) ||
		    !resource_url_ok(json_string_value(link), relative)) {
			resource_field_err(errs, f->name, "invalid_url",
			    "each member must be an absolute http or https "
			    "URL");
			return;
		}
	}
}

json_t *
url_withhold(
    json_t *v, const struct field *f, const char *table, const char *id)
{
	const char *name;
	json_t	   *link, *kept;
	int	    relative = (f->flags & FIELD_URL_RELATIVE) != 0;

	if (v == NULL || json_is_null(v))
		return (v);
	if (f->type == FIELD_URL) {
		if (json_is_string(v) &&
		    resource_url_safe(json_string_value(v), relative, table,
			f->name, id) != NULL)
			return (v);
		json_decref(v);
		return (json_null());
	}
	if (f->type != FIELD_URL_MAP)
		return (v);
	if (!json_is_object(v)) {
		json_decref(v);
		return (json_object());
	}
	if ((kept = json_object()) == NULL) {
		json_decref(v);
		return (NULL);
	}
	json_object_foreach(v, name, link) {
		if (url_name_ok(name) && json_is_string(link) &&
		    resource_url_safe(json_string_value(link), relative, table,
			f->name, id) != NULL)
			json_object_set(kept, name, link);
	}
	json_decref(v);
	return (kept);
}
