/*
 * Validation of a request body against a resource's fields: every member
 * is checked (not just the first bad one) and each bad field gets one
 * entry {field, code, detail} in the 422 problem's "errors" array.
 *
 * Codes: unknown_field, read_only, not_allowed, required, type,
 * too_short, too_long, too_small, too_large, not_in_choices,
 * invalid_format, invalid_url (url.c), not_found.
 */
#include <ctype.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/log.h"
#include "core/mail.h"
#include "core/tz.h"
#include "core/util.h"
#include "http/http.h"
#include "resource/resource.h"
#include "resource/resource_int.h"
#include "store/store.h"

#define REF_SQL_MAX 160

static int err_add(json_t *, const char *, const char *, const char *, ...)
    __attribute__((format(printf, 4, 5)));
static int	      implicit_name(const char *);
static int	      check_text(json_t *, const struct field *, json_t *);
static int	      check_list(json_t *, const struct field *, json_t *);
static int	      colour_valid(const char *);
static const regex_t *pattern_find(const char *);
static int	      pattern_match(const char *, const char *, int *);
static const char    *pattern_bracket(const char *, size_t *);
static const char    *pattern_syntax_why(const char *);
static int check_refs(struct tx *, const struct resource *, json_t *, json_t *);
static int refs_run(struct tx *, void *);

/* Reference checks run in a transaction of their own. */
struct refs_arg {
	const struct resource *res;
	json_t		      *body;
	json_t		      *errs;
};

static int
err_add(json_t *errs, const char *field, const char *code, const char *fmt, ...)
{
	va_list ap;
	char	detail[256];

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return (json_array_append_new(errs,
	    json_pack("{s:s,s:s,s:s}", "field", field, "code", code, "detail",
		detail)));
}

/* Columns every resource has, set by the server. */
static int
implicit_name(const char *name)
{
	return (strcmp(name, "id") == 0 || strcmp(name, "created_at") == 0 ||
	    strcmp(name, "updated_at") == 0 || strcmp(name, "deleted_at") == 0);
}

/*
 * Deprecated spellings of enum values (README, Deprecated, 2026-12): the
 * API answers "cancelled" everywhere and, until the release after
 * 2026-12, reads the American "canceled" anywhere in an input value as
 * it (status=canceled, cause=schedule_canceled), in filters and bodies.
 */
static const char *const respellings[][2] = {
	{ "canceled", "cancelled" },
	{ "CANCELED", "CANCELLED" },
};

const char *
field_choice(const struct field *f, const char *s)
{
	const char *const *c;
	const char	  *at;
	char		   want[RESOURCE_CHOICE_MAX];
	size_t		   i;
	int		   n;

	for (c = f->choices; c != NULL && *c != NULL; c++)
		if (strcmp(*c, s) == 0)
			return (*c);
	for (i = 0; i < sizeof(respellings) / sizeof(respellings[0]); i++) {
		if ((at = strstr(s, respellings[i][0])) == NULL)
			continue;
		n = snprintf(want, sizeof(want), "%.*s%s%s", (int)(at - s), s,
		    respellings[i][1], at + strlen(respellings[i][0]));
		if (n < 0 || (size_t)n >= sizeof(want))
			continue;
		for (c = f->choices; c != NULL && *c != NULL; c++)
			if (strcmp(*c, want) == 0) {
				log_info("event=deprecated_spelling field=%s "
					 "given=%s read_as=%s",
				    f->name, respellings[i][0],
				    respellings[i][1]);
				return (*c);
			}
	}
	return (NULL);
}

const char *
field_choice_note(const struct field *f)
{
	const char *const *c;
	size_t		   i;

	for (i = 0; i < sizeof(respellings) / sizeof(respellings[0]); i++)
		for (c = f->choices; c != NULL && *c != NULL; c++)
			if (strstr(*c, respellings[i][1]) != NULL)
				return ("exact match; deprecated: \"canceled\" "
					"in a value is read as \"cancelled\" "
					"until the release after 2026-12");
	return (NULL);
}

void
field_choice_olds(const struct field *f, json_t *into)
{
	const char *const *c;
	const char	  *at;
	char		   old[RESOURCE_CHOICE_MAX];
	size_t		   i;
	int		   n;

	for (i = 0; i < sizeof(respellings) / sizeof(respellings[0]); i++)
		for (c = f->choices; c != NULL && *c != NULL; c++) {
			if ((at = strstr(*c, respellings[i][1])) == NULL)
				continue;
			n = snprintf(old, sizeof(old), "%.*s%s%s",
			    (int)(at - *c), *c, respellings[i][0],
			    at + strlen(respellings[i][1]));
			if (n > 0 && (size_t)n < sizeof(old))
				json_array_append_new(into, json_string(old));
		}
}

const struct field *
field_find(const struct resource *res, const char *name)
{
	size_t i;

	for (i = 0; i < res->nfields; i++)
		if (strcmp(res->fields[i].name, name) == 0)
			return (&res->fields[i]);
	return (NULL);
}

size_t
utf8_count(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return (n);
}

int
date_valid(const char *s)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30,
		31 };
	int		 y, m, d, i;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return (0);
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return (0);
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
	    (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return (0);
	if (m == 2 && d == 29 &&
	    !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return (0);
	return (1);
}

/*
 * The fields' patterns, each compiled once, when its resource is
 * registered (field_pattern_compile, before the server answers anything),
 * and only read from then on: no lock. One compiled pattern is shared by
 * every thread: POSIX has regexec thread-safe, and glibc's takes the
 * pattern's own lock around each match (posix/regexec.c), so a regex_t
 * needs no copy per thread. Keyed by text: the fields that declare the
 * same pattern (a currency's) share one. Freed at exit
 * (resource_patterns_free).
 */
static struct pattern {
	char   *text; /* a copy: a refused declaration may not outlive it */
	regex_t re;
} patterns[RESOURCE_PATTERNS_MAX];
static size_t npatterns;

static const regex_t *
pattern_find(const char *text)
{
	size_t i;

	for (i = 0; i < npatterns; i++)
		if (strcmp(patterns[i].text, text) == 0)
			return (&patterns[i].re);
	return (NULL);
}

/* Does s match pattern into *match: OK; ERR_NOMEM when regexec ran out of
 * memory (a 500: the text was not judged), ERR_INTERNAL for a pattern no
 * registration compiled. */
static int
pattern_match(const char *pattern, const char *s, int *match)
{
	const regex_t *re;
	int	       e;

	*match = 0;
	if ((re = pattern_find(pattern)) == NULL) {
		log_error("event=pattern_uncompiled pattern=%s", pattern);
		return (ERR_INTERNAL);
	}
	switch ((e = regexec(re, s, 0, NULL, 0))) {
	case 0:
		*match = 1;
		return (OK);
	case REG_NOMATCH:
		return (OK);
	case REG_ESPACE:
		log_error("event=pattern_nomem pattern=%s", pattern);
		return (ERR_NOMEM);
	default:
		log_error(
		    "event=pattern_failed pattern=%s error=%d", pattern, e);
		return (ERR_INTERNAL);
	}
}

/* The escapes ECMA-262 reads as POSIX does, in a Unicode pattern too
 * (its SyntaxCharacter and "/"): the character itself. */
#define PATTERN_ESCAPES "^$\\.*+?()[]{}|/"

/* Past the bracket expression at p[*i] ("["): 0, or why the readers
 * would part. */
static const char *
pattern_bracket(const char *p, size_t *i)
{
	size_t j = *i + 1;

	/* glibc reads [^x] against bytes (no setlocale: the C locale), so
	 * "é", two bytes, is two of [^x]; ECMA-262 reads one character. */
	if (p[j] == '^')
		return ("a negated bracket [^...] (POSIX: one byte; ECMA-262: "
			"one character)");
	/* A "]" first is a member to POSIX, the end of an empty class to
	 * ECMA-262. */
	if (p[j] == ']')
		return ("a ] first in brackets (POSIX: a member; ECMA-262: the "
			"end): escape it outside brackets or place it later");
	for (; p[j] != ']'; j++) {
		if (p[j] == '\0')
			return ("an unterminated [");
		if (p[j] == '\\')
			return ("a backslash in brackets (POSIX: itself; "
				"ECMA-262: an escape)");
		if (p[j] == '[' &&
		    (p[j + 1] == ':' || p[j + 1] == '=' || p[j + 1] == '.'))
			return ("a POSIX class in brackets ([:x:], [=x=], "
				"[.x.]), which ECMA-262 does not read");
	}
	*i = j;
	return (NULL);
}

/* Why the readers would read p apart (field_pattern_why without the
 * compiling), NULL when they read it alike. */
static const char *
pattern_syntax_why(const char *p)
{
	const char *why;
	size_t	    n = strlen(p), i, j;
	int	    depth = 0, atom = 0;

	if (n < 2 || p[0] != '^' || p[n - 1] != '$')
		return ("not anchored: it must start with ^ and end with $");
	/* glibc's regexec reads bytes (the server never calls setlocale),
	 * ECMA-262 characters: "^é+$" is e-acute's two bytes repeated
	 * together to one, and each repeated to the other. ASCII only. */
	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			return ("a character beyond ASCII (POSIX: its bytes; "
				"ECMA-262: the character): write ASCII only");
	/* Between the anchors: what POSIX ERE and ECMA-262 read alike. */
	for (i = 1; i < n - 1; i++)
		switch (p[i]) {
		case '\\':
			if (p[i + 1] == '\0' ||
			    strchr(PATTERN_ESCAPES, p[i + 1]) == NULL)
				return ("a backslash before a character that "
					"is not a regular expression's own "
					"(\\d, \\w, \\1 differ between POSIX "
					"and ECMA-262)");
			if (++i == n - 1)
				return ("not anchored: its last $ is escaped");
			atom = 1;
			break;
		case '[':
			if ((why = pattern_bracket(p, &i)) != NULL)
				return (why);
			if (i >= n - 1)
				return ("an unterminated [");
			atom = 1;
			break;
		case '^':
		case '$':
			atom = 0; /* an assertion: nothing to repeat */
			break;
		case '.':
			/* Any byte but NUL to glibc, any character but a line
			 * end to ECMA-262 ("a\nb" matches ^a.b$ for one). */
			return ("a . outside brackets (POSIX: any byte; "
				"ECMA-262: any character but a line end): "
				"write a bracket, or \\. for a dot");
		case ']':
		case '}':
			/* Itself to POSIX; a syntax error to ECMA-262 in a
			 * Unicode pattern (new RegExp("^a]$", "u") throws). */
			return ("a ] or } outside brackets and bounds: escape "
				"it (\\], \\})");
		case '(':
			depth++;
			atom = 0;
			break;
		case ')':
			if (depth-- == 0)
				return ("a ) without its (");
			atom = 1;
			break;
		case '|':
			/* "^a|b$" is (^a)|(b$) to both readers: "a..." and
			 * "...b" would pass. */
			if (depth == 0)
				return ("an alternation outside parentheses "
					"(^a|b$ is (^a)|(b$)): write ^(a|b)$");
			atom = 0;
			break;
		case '{':
			/* A bound {m}, {m,} or {m,n}; ECMA-262 reads any other
			 * { as itself, or refuses it (Unicode). */
			for (j = i + 1; p[j] >= '0' && p[j] <= '9'; j++)
				;
			if (j == i + 1)
				return (
				    "a { that is no bound {m,n}: escape it");
			if (p[j] == ',')
				for (j++; p[j] >= '0' && p[j] <= '9'; j++)
					;
			if (p[j] != '}' || j >= n - 1)
				return (
				    "a { that is no bound {m,n}: escape it");
			i = j;
			/* FALLTHROUGH */
		case '*':
		case '+':
		case '?':
			/* ECMA-262 refuses a quantifier with nothing to
			 * repeat (^*, (+, a**) and reads a+? as lazy. */
			if (!atom)
				return ("a quantifier with nothing to repeat");
			atom = 0;
			break;
		default:
			atom = 1;
			break;
		}
	if (depth != 0)
		return ("a ( without its )");
	return (NULL);
}

const char *
field_pattern_why(const char *p)
{
	const char *why;
	regex_t	    re;
	int	    e;

	if ((why = pattern_syntax_why(p)) != NULL)
		return (why);
	if ((e = regcomp(&re, p, REG_EXTENDED | REG_NOSUB)) != 0)
		return (e == REG_ESPACE ? "out of memory compiling it"
					: "it does not compile (POSIX ERE)");
	regfree(&re);
	return (NULL);
}

int
field_pattern_compile(const char *pattern)
{
	char *text;
	int   e;

	/* The syntax only: compiled once, below, where running out of
	 * memory is ERR_NOMEM, not a pattern refused. */
	if (pattern_syntax_why(pattern) != NULL)
		return (ERR_CONFIG);
	if (pattern_find(pattern) != NULL)
		return (OK);
	if (npatterns == RESOURCE_PATTERNS_MAX)
		return (ERR_CONFIG);
	if ((text = strdup(pattern)) == NULL)
		return (ERR_NOMEM);
	if ((e = regcomp(&patterns[npatterns].re, pattern,
		 REG_EXTENDED | REG_NOSUB)) != 0) {
		free(text);
		return (e == REG_ESPACE ? ERR_NOMEM : ERR_CONFIG);
	}
	patterns[npatterns++].text = text;
	return (OK);
}

void
resource_patterns_free(void)
{
	while (npatterns > 0) {
		npatterns--;
		regfree(&patterns[npatterns].re);
		free(patterns[npatterns].text);
		patterns[npatterns].text = NULL;
	}
}

static int
check_text(json_t *errs, const struct field *f, json_t *v)
{
	const char *s = json_string_value(v);
	size_t	    n = utf8_count(s);
	int64_t	    max = f->max > 0 ? f->max : RESOURCE_TEXT_MAX;
	int	    rc, match;

	if (f->min > 0 && n < (size_t)f->min)
		err_add(errs, f->name, "too_short",
		    "must be at least %lld characters", (long long)f->min);
	else if (n > (size_t)max)
		err_add(errs, f->name, "too_long",
		    "must be at most %lld characters", (long long)max);
	else if (f->pattern != NULL) {
		if ((rc = pattern_match(f->pattern, s, &match)) != OK)
			return (rc);
		if (!match)
			err_add(errs, f->name, "invalid_format",
			    "must match %s", f->pattern);
	}
	return (OK);
}

static int
check_list(json_t *errs, const struct field *f, json_t *v)
{
	json_t *item;
	size_t	i, n = json_array_size(v);
	int64_t max = f->max > 0 ? f->max : RESOURCE_LIST_ITEMS_MAX;
	char	name[96];
	int	rc, match;

	/* The count first: no item of a list too long is looked at (a
	 * pattern costs a match each). */
	if (n > (size_t)max) {
		err_add(errs, f->name, "too_long",
		    "must have at most %lld items", (long long)max);
		return (OK);
	}
	json_array_foreach(v, i, item) {
		if (!json_is_string(item)) {
			err_add(errs, f->name, "type",
			    "must be an array of strings");
			return (OK);
		}
		if (utf8_count(json_string_value(item)) > RESOURCE_TEXT_MAX) {
			err_add(errs, f->name, "too_long",
			    "items must be at most %d characters",
			    RESOURCE_TEXT_MAX);
			return (OK);
		}
		if (f->pattern == NULL)
			continue;
		if ((rc = pattern_match(
			 f->pattern, json_string_value(item), &match)) != OK)
			return (rc);
		/* Named by its place, as the hooks that check items name
		 * theirs ("recipients[1]"). */
		if (!match) {
			snprintf(name, sizeof(name), "%s[%zu]", f->name, i);
			err_add(errs, name, "invalid_format", "must match %s",
			    f->pattern);
			return (OK);
		}
	}
	if (f->min > 0 && n < (size_t)f->min)
		err_add(errs, f->name, "too_short",
		    "must have at least %lld items", (long long)f->min);
	return (OK);
}

/* Type and value of one member; appends at most one entry. */
int
field_check(json_t *errs, const struct field *f, json_t *v)
{
	const char *s;
	int64_t	    ms, i;

	if (json_is_null(v)) {
		if ((f->flags & FIELD_NULLABLE) == 0)
			err_add(errs, f->name, "type", "must not be null");
		return (OK);
	}
	switch (f->type) {
	case FIELD_UUID:
		if (!json_is_string(v))
			err_add(errs, f->name, "type", "must be a string");
		else if (!uuid_valid(json_string_value(v)))
			err_add(
			    errs, f->name, "invalid_format", "must be a UUID");
		break;
	case FIELD_TEXT:
		if (!json_is_string(v))
			err_add(errs, f->name, "type", "must be a string");
		else
			return (check_text(errs, f, v));
		break;
	case FIELD_INT:
		if (!json_is_integer(v)) {
			err_add(errs, f->name, "type", "must be an integer");
			break;
		}
		i = json_integer_value(v);
		if ((f->min != 0 || f->max != 0) && i < f->min)
			err_add(errs, f->name, "too_small",
			    "must be at least %lld", (long long)f->min);
		else if ((f->min != 0 || f->max != 0) && i > f->max)
			err_add(errs, f->name, "too_large",
			    "must be at most %lld", (long long)f->max);
		break;
	case FIELD_BOOL:
		if (!json_is_boolean(v))
			err_add(errs, f->name, "type", "must be true or false");
		break;
	case FIELD_TIME:
		if (!json_is_string(v))
			err_add(errs, f->name, "type", "must be a string");
		else if (time_parse_iso(json_string_value(v), &ms) != 0)
			err_add(errs, f->name, "invalid_format",
			    "must be an ISO 8601 date-time");
		break;
	case FIELD_DATE:
		if (!json_is_string(v))
			err_add(errs, f->name, "type", "must be a string");
		else if (!date_valid(json_string_value(v)))
			err_add(errs, f->name, "invalid_format",
			    "must be a date, YYYY-MM-DD");
		break;
	case FIELD_ENUM:
		if (!json_is_string(v)) {
			err_add(errs, f->name, "type", "must be a string");
			break;
		}
		/* A deprecated spelling is stored as the choice it names. */
		if ((s = field_choice(f, json_string_value(v))) == NULL)
			err_add(errs, f->name, "not_in_choices",
			    "must be one of the documented values");
		else if (strcmp(s, json_string_value(v)) != 0)
			json_string_set(v, s);
		break;
	case FIELD_JSON:
		if (!json_is_object(v) && !json_is_array(v))
			err_add(errs, f->name, "type",
			    "must be an object or an array");
		break;
	case FIELD_TEXT_LIST:
		if (!json_is_array(v))
			err_add(errs, f->name, "type",
			    "must be an array of strings");
		else
			return (check_list(errs, f, v));
		break;
	case FIELD_EMAIL:
		if (!json_is_string(v))
			err_add(errs, f->name, "type", "must be a string");
		else if (!mail_address_valid(json_string_value(v)))
			err_add(errs, f->name, "invalid_format",
			    "must be an email address");
		break;
	case FIELD_URL:
	case FIELD_URL_MAP:
		url_check(errs, f, v);
		break;
	case FIELD_COLOUR:
		if (!json_is_string(v))
			err_add(errs, f->name, "type", "must be a string");
		else if (!colour_valid(json_string_value(v)))
			err_add(errs, f->name, "invalid_format",
			    "must be a colour, #rrggbb");
		break;
	case FIELD_TIME_ZONE:
		if (!json_is_string(v))
			err_add(errs, f->name, "type", "must be a string");
		else if (!tz_name_valid(json_string_value(v)))
			err_add(errs, f->name, "invalid_format",
			    "must be an IANA time zone name");
		break;
	}
	return (OK);
}

/* "#" and six hex digits, nothing more. */
static int
colour_valid(const char *s)
{
	size_t i;

	if (s[0] != '#' || strlen(s) != 7)
		return (0);
	for (i = 1; i < 7; i++)
		if (!isxdigit((unsigned char)s[i]))
			return (0);
	return (1);
}

/* References named in body must exist; entries for those that do not. */
static int
check_refs(
    struct tx *tx, const struct resource *res, json_t *body, json_t *errs)
{
	const struct field *f;
	struct stmt	   *st;
	json_t		   *v;
	char		    sql[REF_SQL_MAX];
	size_t		    i;
	int		    rc, n;

	for (i = 0; i < res->nfields; i++) {
		f = &res->fields[i];
		if (f->type != FIELD_UUID || f->ref == NULL ||
		    (v = json_object_get(body, f->name)) == NULL ||
		    !json_is_string(v) || !uuid_valid(json_string_value(v)))
			continue;
		n = snprintf(
		    sql, sizeof(sql), "SELECT 1 FROM %s WHERE id = ?", f->ref);
		if (n < 0 || (size_t)n >= sizeof(sql))
			return (ERR_INTERNAL);
		st = store_prepare(tx, sql);
		store_bind_text(st, 1, json_string_value(v));
		rc = store_step(st);
		store_finalize(st);
		if (rc == STORE_DONE)
			err_add(errs, f->name, "not_found",
			    "names no existing %s row", f->ref);
		else if (rc != STORE_ROW)
			return (rc);
	}
	return (OK);
}

static int
refs_run(struct tx *tx, void *arg)
{
	struct refs_arg *a = arg;

	return (check_refs(tx, a->res, a->body, a->errs));
}

int
resource_validate(struct request *req, const struct resource *res, json_t *body,
    int creating, enum scope scope)
{
	return (validate_run(req, NULL, res, body, creating, scope));
}

int
validate_run(struct request *req, struct tx *tx, const struct resource *res,
    json_t *body, int creating, enum scope scope)
{
	const struct field *f;
	struct refs_arg	    ra;
	const char	   *name;
	json_t		   *errs, *v, *def;
	size_t		    i;
	int		    rc = OK;

	if ((errs = json_array()) == NULL)
		return (ERR_NOMEM);
	if (!json_is_object(body)) {
		err_add(errs, "", "type", "the body must be a JSON object");
		goto answer;
	}
	json_object_foreach(body, name, v) {
		if ((f = field_find(res, name)) == NULL) {
			if (implicit_name(name))
				err_add(errs, name, "read_only",
				    "is set by the server");
			else
				err_add(errs, name, "unknown_field",
				    "is not a field of %s", res->name);
		} else if (f->flags & FIELD_READONLY)
			err_add(
			    errs, name, "read_only", "is set by the server");
		else if ((f->flags & FIELD_CREATE_ONLY) && !creating)
			err_add(errs, name, "read_only",
			    "cannot be changed once set");
		else if ((f->flags & FIELD_STAFF_WRITE) && scope != SCOPE_ALL)
			err_add(errs, name, "not_allowed",
			    "may only be set by staff");
		else if ((rc = field_check(errs, f, v)) != OK) {
			/* Not judged (out of memory matching a pattern): a
			 * 500, never a 422 saying the text does not match. */
			if (req != NULL)
				http_problem(req, rc, NULL,
				    "The body could not be checked.");
			goto out;
		}
	}
	for (i = 0; creating && i < res->nfields; i++) {
		f = &res->fields[i];
		if (f->flags & FIELD_READONLY ||
		    json_object_get(body, f->name) != NULL)
			continue;
		if (f->flags & FIELD_REQUIRED)
			err_add(errs, f->name, "required", "is required");
		else if (f->def != NULL) {
			if ((def = json_loads(f->def, JSON_DECODE_ANY, NULL)) ==
			    NULL) {
				rc = ERR_INTERNAL;
				goto out;
			}
			json_object_set_new(body, f->name, def);
		}
	}
	if (json_array_size(errs) == 0) {
		if (tx != NULL)
			rc = check_refs(tx, res, body, errs);
		else if (req != NULL && req->db != NULL) {
			ra.res = res;
			ra.body = body;
			ra.errs = errs;
			rc = store_run(req->db, STORE_TX_READ, refs_run, &ra);
		}
		if (rc != OK)
			goto out;
	}
answer:
	if (json_array_size(errs) == 0)
		goto out;
	rc = ERR_INVALID;
	if (req != NULL) {
		http_problem_ext(req, ERR_INVALID, NULL,
		    json_pack("{s:O}", "errors", errs),
		    "%zu field%s not valid.", json_array_size(errs),
		    json_array_size(errs) == 1 ? " is" : "s are");
	}
out:
	json_decref(errs);
	return (rc);
}

void
resource_field_err(
    json_t *errs, const char *field, const char *code, const char *detail)
{
	json_array_append_new(errs,
	    json_pack("{s:s,s:s,s:s}", "field", field, "code", code, "detail",
		detail));
}

int
resource_errs_answer(struct request *req, json_t *errs, const char *what)
{
	size_t n = json_array_size(errs);

	if (n == 0) {
		json_decref(errs);
		return (OK);
	}
	http_problem_ext(req, ERR_INVALID, NULL,
	    json_pack("{s:o}", "errors", errs), "%s: %zu field%s not valid.",
	    what, n, n == 1 ? " is" : "s are");
	return (ERR_INVALID);
}
