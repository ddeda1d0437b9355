/*
 * Settings (seed 004: settings, issue 17 item 6): typed values of the
 * business that admins change through /v1/settings and the code reads
 * where they apply. Migration 0031 makes the table and seeds the keys;
 * 0039 adds the certificate's logo and accreditation line.
 *
 * A value is text read by its value_type: string; number (a decimal,
 * "30", "2.5"); boolean ("true" or "false"); json (JSON text); date
 * ("YYYY-MM-DD", a real day). validation_rules (a JSON object) narrows
 * it: min, max and integer (a number, or each item of a json array),
 * min_length, max_length, enum and format "email", "png_base64", "url"
 * or "colour" (a string; png_base64: a PNG the certificate PDF would
 * draw, in base64; url: an http(s) URL mail can carry, the logo's;
 * colour: "#rrggbb"),
 * min_items and max_items (a json array). A value is at most
 * TRAINING_TEXT_MAX characters, but a png_base64 one (a PNG of up to
 * SETTINGS_PNG_MAX bytes). A write whose value does not read as its
 * type or breaks its rules, or whose rules are not such an object, is
 * refused (422 VALIDATION_FAILED, an entry naming value or
 * validation_rules); a setting that is not editable keeps its value (409
 * SETTING_NOT_EDITABLE). value null means "not set": then default_value
 * holds, or for the settings backed by a config key (booking_hold_minutes
 * by training_hold_minutes, inquiry_hold_minutes by
 * training_inquiry_hold_minutes, refund_* by training_refund_*) the
 * config key's value. key and
 * value_type never change. Every write is audited by the resource layer
 * (settings.create, settings.update with the fields changed).
 *
 * Anyone, without a token too, reads the public ones (is_public); admins
 * read and write every one.
 *
 * Reading: each process caches every setting's effective value with the
 * epoch it was loaded under (settings_epoch, one row). Each read of a
 * setting reads the epoch in the caller's transaction and reloads the
 * cache first when it is newer, so a change made through any process
 * holds at the next request anywhere; each write adds one to the epoch in
 * its own transaction (after_write).
 *
 * Where they apply: booking_buffer_days and booking_hold_minutes
 * (bookings.c), inquiry_hold_minutes (inquiries.c),
 * auto_issue_certificates and certificate_late_minutes (attendance.c,
 * certificates.c), maintenance_mode (the gate below), the cancellation
 * policy's refund_full_days, refund_fee_percent and refund_none_hours
 * (refunds.c, through training_refund_terms: config training_refund_*
 * while not set), business_name, certificate_logo_png and
 * certificate_accreditation (the certificate PDF, cert_route.c),
 * business_name, brand_logo_url and brand_colour (every mail's layout:
 * training_mail_brand, through hooks_mail_brand), the
 * reminders (notify_jobs.c: reminder_hours_before,
 * certificate_reminder_days).
 *
 * Maintenance mode: while maintenance_mode is true every write (POST,
 * PUT, PATCH, DELETE) is refused with 503 MAINTENANCE_MODE and
 * Retry-After (maintenance_retry_after_s), but a staff caller's (a role
 * with is_staff), signing in and out (so staff can come in to end it),
 * and provider webhooks (money already moved is recorded).
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/config.h"
#include "core/err.h"
#include "core/mail.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "resource/resource.h"
#include "store/store.h"
#include "training/cert_pdf.h"
#include "training/training_int.h"

#define SETTINGS_MAX 256 /* settings a process caches */
/* A png_base64 setting (the certificate's logo) holds a PNG of at most
 * this many bytes, in base64: the only values past TRAINING_TEXT_MAX. */
#define SETTINGS_PNG_MAX   (256 * 1024)
#define SETTINGS_VALUE_MAX (4 * ((SETTINGS_PNG_MAX + 2) / 3))

static const char *const value_types[] = { "string", "number", "boolean",
	"json", "date", NULL };
static const char *const categories[] = { "business", "booking", "email",
	"payment", "certificates", "system", NULL };

static int	   settings_before_create(struct resource_ctx *, json_t *);
static int	   settings_before_update(struct resource_ctx *, json_t *);
static int	   settings_after_write(struct resource_ctx *, int, json_t *);
static const char *png_check(const char *);
static const char *url_check(const char *);
static const char *colour_check(const char *);
static int setting_get(struct tx *, const char *, char *, size_t, char **);

static const struct field setting_fields[] = {
	{ "key", FIELD_TEXT,
	    FIELD_REQUIRED | FIELD_CREATE_ONLY | FIELD_FILTER | FIELD_SORT, 1,
	    64, NULL, NULL, NULL, 0,
	    "unique name, [a-z0-9_]: booking_buffer_days" },
	{ "value", FIELD_TEXT, FIELD_NULLABLE, 0, SETTINGS_VALUE_MAX, NULL,
	    "null", NULL, 0,
	    "the value as text, read by value_type; null: default_value (or "
	    "the config key behind it) holds. At most 10,000 characters, but "
	    "for a setting of format png_base64 (a PNG of up to 256 KiB)" },
	{ "value_type", FIELD_ENUM, FIELD_REQUIRED | FIELD_CREATE_ONLY, 0, 0,
	    value_types, NULL, NULL, 0,
	    "string, number, boolean (true/false), json or date (YYYY-MM-DD)" },
	{ "category", FIELD_ENUM, FIELD_REQUIRED | FIELD_FILTER, 0, 0,
	    categories, NULL, NULL, 0,
	    "business, booking, email, payment, certificates or system" },
	{ "display_name", FIELD_TEXT, FIELD_REQUIRED, 1, TRAINING_NAME_MAX,
	    NULL, NULL, NULL, 0, NULL },
	{ "description", FIELD_TEXT, FIELD_NULLABLE, 0, TRAINING_TEXT_MAX, NULL,
	    NULL, NULL, 0, NULL },
	{ "is_public", FIELD_BOOL, FIELD_FILTER, 0, 0, NULL, "false", NULL, 0,
	    "read by anyone, without a token too" },
	{ "is_editable", FIELD_BOOL, FIELD_CREATE_ONLY, 0, 0, NULL, "true",
	    NULL, 0, "false: its value never changes (409)" },
	{ "requires_restart", FIELD_BOOL, 0, 0, 0, NULL, "false", NULL, 0,
	    "a change takes effect when carebase restarts" },
	{ "validation_rules", FIELD_JSON, FIELD_NULLABLE, 0, 0, NULL, NULL,
	    NULL, 0,
	    "an object of min, max, integer, min_length, max_length, enum, "
	    "format (\"email\"), min_items, max_items" },
	{ "default_value", FIELD_TEXT, FIELD_NULLABLE, 0, TRAINING_TEXT_MAX,
	    NULL, NULL, NULL, 0, "the value while value is null" },
	{ "created_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
	{ "updated_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, "who changed it last" },
};

const struct resource settings_resource = {
	.name = "settings",
	.path = "/v1/settings",
	.table = "settings",
	.fields = setting_fields,
	.nfields = NELEM(setting_fields),
	.scope_where = { [SCOPE_NONE] = "is_public = 1" },
	.flags = RESOURCE_PUBLIC_READ | RESOURCE_ETAG_ROW,
	.actions = (1 << ACTION_LIST) | (1 << ACTION_READ) |
	    (1 << ACTION_CREATE) | (1 << ACTION_UPDATE),
	.doc =
	    "Settings of the business (seed 004: settings): typed values "
	    "(value_type string, number, boolean, json, date) validated on "
	    "every write against their type and validation_rules (422), "
	    "audited. Anyone reads the public ones without a token; admins "
	    "read and change every one. booking_buffer_days, "
	    "booking_hold_minutes, inquiry_hold_minutes, the cancellation "
	    "policy (refund_full_days, refund_fee_percent, "
	    "refund_none_hours), auto_issue_certificates, "
	    "certificate_late_minutes and maintenance_mode (writes refused "
	    "with 503 and Retry-After, staff excepted) apply at once in every "
	    "process.",
	.before_create = settings_before_create,
	.before_update = settings_before_update,
	.after_write = settings_after_write,
	.codes = "{\"409\":[\"SETTING_NOT_EDITABLE\"]}",
};

/* Checking values */

static int
rule_num(json_t *rules, const char *name, double *out)
{
	json_t *v = json_object_get(rules, name);

	if (v == NULL || !json_is_number(v))
		return (0);
	*out = json_number_value(v);
	return (1);
}

/* A number against min, max and integer; NULL when it holds. */
static const char *
number_check(double d, json_t *rules)
{
	double lim;

	if (json_is_true(json_object_get(rules, "integer")) &&
	    d != (double)(long long)d)
		return ("must be a whole number");
	if (rule_num(rules, "min", &lim) && d < lim)
		return ("is below the setting's min");
	if (rule_num(rules, "max", &lim) && d > lim)
		return ("is above the setting's max");
	return (NULL);
}

/* A decimal number, whole text: "30", "-2.5"; not strtod's "0x10",
 * "1e1", "inf" nor blanks. */
static int
number_parse(const char *s, double *out)
{
	const char *p = s;
	char	   *end;

	if (*p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return (-1);
	while (isdigit((unsigned char)*p))
		p++;
	if (*p == '.' && isdigit((unsigned char)p[1]))
		for (p++; isdigit((unsigned char)*p);)
			p++;
	if (*p != '\0')
		return (-1);
	*out = strtod(s, &end);
	return (*end == '\0' ? 0 : -1);
}

int
training_date_parse(const char *s, int *y, int *m, int *d)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30,
		31 };
	int		 i;

	if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return (-1);
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
			return (-1);
	*y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
	    (s[3] - '0');
	*m = (s[5] - '0') * 10 + (s[6] - '0');
	*d = (s[8] - '0') * 10 + (s[9] - '0');
	if (*m < 1 || *m > 12 || *d < 1 || *d > mdays[*m - 1])
		return (-1);
	if (*m == 2 && *d == 29 &&
	    !((*y % 4 == 0 && *y % 100 != 0) || *y % 400 == 0))
		return (-1);
	return (0);
}

const char *
training_setting_check(const char *type, const char *value, json_t *rules)
{
	json_t	   *doc, *v, *item;
	const char *why = NULL;
	double	    d, lim;
	size_t	    i, n;
	int	    y, m, day, found;

	if (value == NULL)
		return (NULL);
	if (strcmp(type, "number") == 0) {
		if (number_parse(value, &d) != 0)
			return ("must be a number");
		if (json_is_true(json_object_get(rules, "integer")) &&
		    strchr(value, '.') != NULL)
			return ("must be a whole number, digits only");
		return (number_check(d, rules));
	}
	if (strcmp(type, "boolean") == 0)
		return (
		    strcmp(value, "true") == 0 || strcmp(value, "false") == 0
			? NULL
			: "must be true or false");
	if (strcmp(type, "date") == 0)
		return (training_date_parse(value, &y, &m, &day) == 0
			? NULL
			: "must be a date, YYYY-MM-DD");
	if (strcmp(type, "json") == 0) {
		if ((doc = json_loads(value, JSON_DECODE_ANY, NULL)) == NULL)
			return ("must be JSON text");
		if (json_is_array(doc)) {
			n = json_array_size(doc);
			if (rule_num(rules, "min_items", &lim) &&
			    (double)n < lim)
				why = "has fewer items than min_items";
			else if (rule_num(rules, "max_items", &lim) &&
			    (double)n > lim)
				why = "has more items than max_items";
			json_array_foreach(doc, i, item) {
				if (why != NULL)
					break;
				if ((json_object_get(rules, "min") != NULL ||
					json_object_get(rules, "max") != NULL ||
					json_object_get(rules, "integer") !=
					    NULL) &&
				    !json_is_number(item))
					why = "must hold numbers";
				else if (json_is_number(item))
					why = number_check(
					    json_number_value(item), rules);
			}
		} else if (json_object_get(rules, "min_items") != NULL ||
		    json_object_get(rules, "max_items") != NULL)
			why = "must be a JSON array";
		json_decref(doc);
		return (why);
	}
	/* string */
	n = training_chars(value);
	if (rule_num(rules, "min_length", &lim) && (double)n < lim)
		return ("is shorter than min_length");
	if (rule_num(rules, "max_length", &lim) && (double)n > lim)
		return ("is longer than max_length");
	if ((v = json_object_get(rules, "enum")) != NULL) {
		found = 0;
		json_array_foreach(v, i, item)
			found |= json_is_string(item) &&
			    strcmp(json_string_value(item), value) == 0;
		if (!found)
			return ("is not one of the setting's enum");
	}
	if ((v = json_object_get(rules, "format")) != NULL &&
	    strcmp(json_string_value(v), "email") == 0 &&
	    !mail_address_valid(value))
		return ("must be an email address");
	if (v != NULL && strcmp(json_string_value(v), "png_base64") == 0)
		return (png_check(value));
	if (v != NULL && strcmp(json_string_value(v), "url") == 0)
		return (url_check(value));
	if (v != NULL && strcmp(json_string_value(v), "colour") == 0)
		return (colour_check(value));
	return (NULL);
}

/*
 * Why value is not an absolute http(s) URL that mail can carry as it is
 * (the logo's): printable ASCII without space, quotes, '<', '>' or '\\',
 * a host after the scheme. NULL when it is one.
 */
static const char *
url_check(const char *value)
{
	const char *p;

	if (strncmp(value, "https://", 8) != 0 &&
	    strncmp(value, "http://", 7) != 0)
		return ("must be an http or https URL");
	p = value + (value[4] == 's' ? 8 : 7);
	if (*p == '\0' || *p == '/')
		return ("must name a host");
	for (p = value; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    strchr("\"'<>\\`", *p) != NULL)
			return ("must be a URL without spaces or quotes");
	return (NULL);
}

/* Why value is not a colour "#rrggbb"; NULL when it is one. */
static const char *
colour_check(const char *value)
{
	size_t i;

	if (strlen(value) != 7 || value[0] != '#')
		return ("must be a colour, #rrggbb");
	for (i = 1; i < 7; i++)
		if (!isxdigit((unsigned char)value[i]))
			return ("must be a colour, #rrggbb");
	return (NULL);
}

/*
 * The brand of every mail (hooks_mail_brand): business_name,
 * brand_logo_url ("" while not set) and brand_colour.
 */
int
training_mail_brand(struct tx *tx, json_t *vars)
{
	char name[1024], logo[2048];
	char colour[16];
	int  rc;

	if ((rc = training_setting_text(
		 tx, "business_name", name, sizeof(name))) == ERR_NOT_FOUND)
		strlcpy_cb(name, "carebase", sizeof(name));
	else if (rc != OK)
		return (rc);
	if ((rc = training_setting_text(
		 tx, "brand_logo_url", logo, sizeof(logo))) == ERR_NOT_FOUND)
		logo[0] = '\0';
	else if (rc != OK)
		return (rc);
	if ((rc = training_setting_text(tx, "brand_colour", colour,
		 sizeof(colour))) == ERR_NOT_FOUND ||
	    (rc == OK && colour_check(colour) != NULL))
		strlcpy_cb(colour, "#2b6cb0", sizeof(colour));
	else if (rc != OK)
		return (rc);
	if (json_object_set_new(vars, "brand_name", json_string(name)) != 0 ||
	    json_object_set_new(vars, "brand_logo_url", json_string(logo)) !=
		0 ||
	    json_object_set_new(vars, "brand_colour", json_string(colour)) != 0)
		return (ERR_NOMEM);
	return (OK);
}

/*
 * Why value is not a PNG of at most SETTINGS_PNG_MAX bytes in base64
 * (RFC 4648, padded, no blanks) that the certificate would draw, or NULL.
 */
static const char *
png_check(const char *value)
{
	unsigned char *png;
	const char    *why = NULL;
	size_t	       n = strlen(value), len = 0;

	if (n > SETTINGS_VALUE_MAX)
		return ("is a PNG of more than 256 KiB");
	if ((png = malloc(n / 4 * 3 + 3)) == NULL)
		return ("could not be checked");
	if (sodium_base642bin(png, n / 4 * 3 + 3, value, n, NULL, &len, NULL,
		sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    len == 0)
		why = "must be base64 (RFC 4648, padded, no blanks)";
	else if (cert_pdf_logo_check(png, len, &why) != OK)
		why = "must be a PNG image of at most 2048 x 2048 pixels";
	free(png);
	return (why);
}

const char *
training_setting_rules_check(json_t *rules)
{
	const char *k;
	json_t	   *v, *item;
	size_t	    i;

	if (rules == NULL || json_is_null(rules))
		return (NULL);
	if (!json_is_object(rules))
		return ("must be an object");
	json_object_foreach(rules, k, v) {
		if (strcmp(k, "min") == 0 || strcmp(k, "max") == 0 ||
		    strcmp(k, "min_length") == 0 ||
		    strcmp(k, "max_length") == 0 ||
		    strcmp(k, "min_items") == 0 ||
		    strcmp(k, "max_items") == 0) {
			if (!json_is_number(v))
				return ("min, max and the lengths are numbers");
		} else if (strcmp(k, "integer") == 0) {
			if (!json_is_boolean(v))
				return ("integer is true or false");
		} else if (strcmp(k, "enum") == 0) {
			if (!json_is_array(v) || json_array_size(v) == 0)
				return ("enum is an array of strings");
			json_array_foreach(v, i, item)
				if (!json_is_string(item))
					return ("enum is an array of strings");
		} else if (strcmp(k, "format") == 0) {
			if (!json_is_string(v) ||
			    (strcmp(json_string_value(v), "email") != 0 &&
				strcmp(json_string_value(v), "png_base64") !=
				    0 &&
				strcmp(json_string_value(v), "url") != 0 &&
				strcmp(json_string_value(v), "colour") != 0))
				return ("format is \"email\", \"png_base64\", "
					"\"url\" or \"colour\"");
		} else
			return ("names a rule that is not known");
	}
	return (NULL);
}

/* The setting as it would be: its rules, then its value and default. */
static int
setting_validate(struct resource_ctx *ctx, json_t *body)
{
	json_t	   *errs, *rules;
	const char *type, *why, *k, *value;
	size_t	    i;
	int	    png;

	if ((errs = json_array()) == NULL)
		return (ERR_NOMEM);
	type = json_string_value(training_pick(body, ctx->old, "value_type"));
	rules = training_pick(body, ctx->old, "validation_rules");
	if (json_is_null(rules))
		rules = NULL;
	if ((k = json_string_value(json_object_get(body, "key"))) != NULL)
		for (i = 0; k[i] != '\0'; i++)
			if (!islower((unsigned char)k[i]) &&
			    !isdigit((unsigned char)k[i]) && k[i] != '_') {
				resource_field_err(errs, "key",
				    "invalid_format",
				    "letters a-z, digits and _ only");
				break;
			}
	png = json_is_string(json_object_get(rules, "format")) &&
	    strcmp(json_string_value(json_object_get(rules, "format")),
		"png_base64") == 0;
	value = json_string_value(training_pick(body, ctx->old, "value"));
	if ((why = training_setting_rules_check(rules)) != NULL)
		resource_field_err(errs, "validation_rules", "invalid", why);
	else if (png && type != NULL && strcmp(type, "string") != 0)
		resource_field_err(errs, "validation_rules", "invalid",
		    "format png_base64 is for a string");
	else if (!png && value != NULL &&
	    training_chars(value) > TRAINING_TEXT_MAX)
		resource_field_err(errs, "value", "too_long",
		    "at most 10000 characters (but for a png_base64 setting)");
	else if (type != NULL) {
		why = training_setting_check(type,
		    json_string_value(training_pick(body, ctx->old, "value")),
		    rules);
		if (why != NULL)
			resource_field_err(errs, "value", "invalid", why);
		why = training_setting_check(type,
		    json_string_value(
			training_pick(body, ctx->old, "default_value")),
		    rules);
		if (why != NULL)
			resource_field_err(
			    errs, "default_value", "invalid", why);
	}
	return (resource_errs_answer(ctx->req, errs, "The setting"));
}

static int
settings_before_create(struct resource_ctx *ctx, json_t *body)
{
	return (setting_validate(ctx, body));
}

/*
 * The settings the migrations seed (their ids begin so) are read by the
 * code, which relies on their rules: those rules are not edited.
 */
#define SETTINGS_BUILTIN_ID "5e771a65-0000-4000-8000-"

static int
settings_before_update(struct resource_ctx *ctx, json_t *body)
{
	json_t	   *v = json_object_get(body, "value");
	json_t	   *rules = json_object_get(body, "validation_rules");
	const char *id = json_string_value(json_object_get(ctx->old, "id"));

	if (rules != NULL && id != NULL &&
	    strncmp(id, SETTINGS_BUILTIN_ID, strlen(SETTINGS_BUILTIN_ID)) ==
		0 &&
	    !json_equal(rules, json_object_get(ctx->old, "validation_rules")))
		return (training_refuse(ctx->req, ERR_INVALID, NULL,
		    "validation_rules", "fixed",
		    "a built-in setting keeps its built-in rules"));

	if (v != NULL &&
	    !json_is_true(json_object_get(ctx->old, "is_editable")) &&
	    !json_equal(v, json_object_get(ctx->old, "value"))) {
		http_problem(ctx->req, ERR_CONFLICT, "SETTING_NOT_EDITABLE",
		    "The setting %s is not editable.",
		    json_string_value(json_object_get(ctx->old, "key")));
		return (ERR_CONFLICT);
	}
	return (setting_validate(ctx, body));
}

static int
settings_after_write(struct resource_ctx *ctx, int action, json_t *row)
{
	struct stmt *st;
	int	     rc;

	(void)action;
	(void)row;
	st = store_prepare(ctx->tx,
	    "UPDATE settings_epoch SET epoch = epoch + 1 WHERE id = 1");
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

/* The cache */

struct cached {
	char *key;
	char *value; /* effective: value, else default_value; NULL: none */
};

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct cached   cache[SETTINGS_MAX];
static size_t	       cache_n;
static int64_t	       cache_epoch = -1;

static void
cache_clear(void)
{
	size_t i;

	for (i = 0; i < cache_n; i++) {
		free(cache[i].key);
		free(cache[i].value);
	}
	cache_n = 0;
	cache_epoch = -1;
}

/* Under cache_mu: the rows, read after the epoch in the same tx. */
static int
cache_load(struct tx *tx, int64_t epoch)
{
	struct stmt *st;
	const char  *v;
	int	     rc;

	cache_clear();
	st = store_prepare(tx,
	    "SELECT key, COALESCE(value, default_value) FROM settings "
	    "ORDER BY key");
	while ((rc = store_step(st)) == STORE_ROW && cache_n < SETTINGS_MAX) {
		v = store_col_text(st, 1);
		cache[cache_n].key = strdup(store_col_text(st, 0));
		cache[cache_n].value = v != NULL ? strdup(v) : NULL;
		if (cache[cache_n].key == NULL ||
		    (v != NULL && cache[cache_n].value == NULL)) {
			free(cache[cache_n].key);
			free(cache[cache_n].value);
			rc = ERR_NOMEM;
			break;
		}
		cache_n++;
	}
	store_finalize(st);
	if (rc != STORE_DONE && rc != STORE_ROW) {
		cache_clear();
		return (rc);
	}
	cache_epoch = epoch;
	return (OK);
}

int
training_setting_text(struct tx *tx, const char *key, char *out, size_t n)
{
	return (setting_get(tx, key, out, n, NULL));
}

int
training_setting_dup(struct tx *tx, const char *key, char **out)
{
	return (setting_get(tx, key, NULL, 0, out));
}

/* Setting key's effective value into out (n bytes), or into *dup (a copy,
 * malloc'd) when out is NULL. */
static int
setting_get(struct tx *tx, const char *key, char *out, size_t n, char **dup)
{
	struct stmt *st;
	int64_t	     epoch = -1;
	size_t	     i;
	int	     rc;

	if (out != NULL)
		out[0] = '\0';
	else
		*dup = NULL;
	st = store_prepare(tx, "SELECT epoch FROM settings_epoch WHERE id = 1");
	if ((rc = store_step(st)) == STORE_ROW) {
		epoch = store_col_int64(st, 0);
		rc = OK;
	} else if (rc == STORE_DONE)
		rc = ERR_NOT_FOUND;
	store_finalize(st);
	if (rc != OK)
		return (rc);
	pthread_mutex_lock(&cache_mu);
	if (epoch != cache_epoch)
		rc = cache_load(tx, epoch);
	if (rc == OK) {
		rc = ERR_NOT_FOUND;
		for (i = 0; i < cache_n; i++)
			if (strcmp(cache[i].key, key) == 0) {
				if (cache[i].value != NULL && out != NULL) {
					strlcpy_cb(out, cache[i].value, n);
					rc = OK;
				} else if (cache[i].value != NULL)
					rc = (*dup = strdup(cache[i].value)) !=
						NULL
					    ? OK
					    : ERR_NOMEM;
				break;
			}
	}
	pthread_mutex_unlock(&cache_mu);
	return (rc);
}

/* Bounds a read keeps to whatever a row says (written before its rules
 * held, or by hand): the settings the booking rules rest on. */
static const struct {
	const char *key;
	int64_t	    min, max;
} int_bounds[] = {
	{ "booking_hold_minutes", 1, 1440 },
	{ "certificate_late_minutes", 0, 240 },
	{ "booking_buffer_days", 0, 365 },
};

int
training_setting_int(struct tx *tx, const char *key, int64_t def, int64_t *out)
{
	char   text[64];
	double d;
	size_t i;
	int    rc;

	*out = def;
	if ((rc = training_setting_text(tx, key, text, sizeof(text))) ==
	    ERR_NOT_FOUND)
		return (OK);
	if (rc != OK)
		return (rc);
	if (number_parse(text, &d) == 0 && d > -1e15 && d < 1e15)
		*out = (int64_t)d;
	for (i = 0; i < NELEM(int_bounds); i++)
		if (strcmp(key, int_bounds[i].key) == 0) {
			if (*out < int_bounds[i].min)
				*out = int_bounds[i].min;
			if (*out > int_bounds[i].max)
				*out = int_bounds[i].max;
		}
	return (OK);
}

int
training_setting_bool(struct tx *tx, const char *key, int def, int *out)
{
	char text[16];
	int  rc;

	*out = def;
	if ((rc = training_setting_text(tx, key, text, sizeof(text))) ==
	    ERR_NOT_FOUND)
		return (OK);
	if (rc != OK)
		return (rc);
	if (strcmp(text, "true") == 0)
		*out = 1;
	else if (strcmp(text, "false") == 0)
		*out = 0;
	return (OK);
}

int
training_hold_minutes(struct tx *tx, int64_t *out)
{
	return (training_setting_int(
	    tx, "booking_hold_minutes", config.training_hold_minutes, out));
}

int
training_inquiry_hold_minutes(struct tx *tx, int64_t *out)
{
	return (training_setting_int(tx, "inquiry_hold_minutes",
	    config.training_inquiry_hold_minutes, out));
}

/* Setting key as an integer in min..max; def when not set or outside. */
static int
setting_int_within(struct tx *tx, const char *key, int64_t def, int64_t min,
    int64_t max, int64_t *out)
{
	int rc;

	if ((rc = training_setting_int(tx, key, def, out)) != OK)
		return (rc);
	if (*out < min || *out > max)
		*out = def;
	return (OK);
}

int
training_refund_terms(struct tx *tx, struct training_refund_terms *t)
{
	int rc;

	if ((rc = setting_int_within(tx, "refund_full_days",
		 config.training_refund_full_days, 0, 365, &t->full_days)) !=
		OK ||
	    (rc = setting_int_within(tx, "refund_fee_percent",
		 config.training_refund_fee_percent, 0, 100,
		 &t->fee_percent)) != OK)
		return (rc);
	return (setting_int_within(tx, "refund_none_hours",
	    config.training_refund_none_hours, 0, 8760, &t->none_hours));
}

/* Maintenance mode */

int
training_maintenance_gate(struct request *req)
{
	struct tx *tx;
	int64_t	   retry = 600;
	int	   rc, on = 0;
	char	   hv[24];

	if (!http_gate_sees(req->method, req->path))
		return (OK);
	/* A token that is not good (ended, expired, unknown) was answered
	 * 401 by the authenticator: the handler must not then run, or a
	 * registration or a reset mail would be made while the client is
	 * told it was refused. */
	if (req->caller == NULL && http_authenticate(req) != OK &&
	    req->responded)
		return (ERR_UNAUTHORIZED);
	if (req->caller != NULL && req->caller->is_staff)
		return (OK);
	if ((rc = http_read_tx(req, &tx)) != OK)
		return (OK); /* the handler meets the database's trouble */
	rc = training_setting_bool(tx, "maintenance_mode", 0, &on);
	if (rc == OK && on)
		rc = training_setting_int(
		    tx, "maintenance_retry_after_s", 600, &retry);
	http_read_tx_end(req);
	if (rc != OK || !on)
		return (OK);
	snprintf(hv, sizeof(hv), "%lld", (long long)retry);
	http_header_add(req, "Retry-After", hv);
	http_problem(req, ERR_UNAVAILABLE, "MAINTENANCE_MODE",
	    "carebase is in maintenance: changes are refused for now; try "
	    "again later.");
	return (ERR_UNAVAILABLE);
}
