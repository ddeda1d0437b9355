/*
 * Discount codes (seed 004: discount_codes) and what a booking costs.
 *
 * A code takes a percentage (1-100) or a fixed amount in minor units of
 * its currency off a booking's subtotal (seats x the course's price),
 * never below zero; it may be limited to a validity window, a number of
 * uses (usage_limit), one course type and a minimum subtotal. A person
 * uses a code once. Admins write codes (the code kept in upper case,
 * unique: 409 DISCOUNT_CODE_TAKEN); usage_count is the server's alone.
 *
 * A use is spent in the booking's own transaction, under the code's lock
 * (training_lock "discount", after the schedule's) and by a conditional
 * UPDATE (usage_count < usage_limit), so concurrent bookings never use a
 * code more than its limit; the table's CHECK is the backstop. It is
 * given back (usage_count down) when the booking's unpaid hold expires or
 * the booking is cancelled before payment.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/money.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "resource/resource.h"
#include "store/store.h"
#include "training/training_int.h"

static int codes_before_create(struct resource_ctx *, json_t *);
static int codes_before_update(struct resource_ctx *, json_t *);
static int code_check(struct resource_ctx *, json_t *row, json_t *body);
static int invalid(struct request *, const char *why, const char *detail);

static const char *const types[] = { "percentage", "fixed", NULL };
static const char *const course_types[] = { "EFAW", "FAW", "Paediatric",
	"requalification", "refresher", NULL };

static const struct field code_fields[] = {
	{ "code", FIELD_TEXT, FIELD_REQUIRED | FIELD_FILTER | FIELD_SORT, 3,
	    TRAINING_CODE_MAX, NULL, NULL, NULL, 0,
	    "what people type: letters, digits, - and _; kept in upper case, "
	    "unique" },
	{ "description", FIELD_TEXT, FIELD_NULLABLE, 0, TRAINING_NAME_MAX, NULL,
	    NULL, NULL, 0, NULL },
	{ "discount_type", FIELD_ENUM, FIELD_REQUIRED, 0, 0, types, NULL, NULL,
	    0, "percentage (of the subtotal) or fixed (minor units)" },
	{ "discount_value", FIELD_INT, FIELD_REQUIRED, 1, 100000000, NULL, NULL,
	    NULL, 0, "1-100 for a percentage; minor units for fixed" },
	{ "currency", FIELD_TEXT, 0, 3, 3, NULL, "\"GBP\"", NULL, 0,
	    "ISO 4217 code of a fixed amount: courses in another currency "
	    "do not take it",
	    .pattern = MONEY_CURRENCY_PATTERN },
	{ "valid_from", FIELD_TIME, FIELD_NULLABLE, 0, 0, NULL, NULL, NULL, 0,
	    "first moment it is accepted; null: at once" },
	{ "valid_until", FIELD_TIME, FIELD_NULLABLE, 0, 0, NULL, NULL, NULL, 0,
	    "moment it stops being accepted; null: never" },
	{ "usage_limit", FIELD_INT, FIELD_NULLABLE, 1, 100000000, NULL, NULL,
	    NULL, 0, "most uses; null: no limit; never below usage_count" },
	{ "usage_count", FIELD_INT, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    "uses spent by live or paid bookings" },
	{ "course_type", FIELD_ENUM, FIELD_NULLABLE, 0, 0, course_types, NULL,
	    NULL, 0, "only bookings of courses of this type; null: any" },
	{ "min_price_minor", FIELD_INT, FIELD_NULLABLE, 0, 100000000, NULL,
	    NULL, NULL, 0, "only subtotals of at least this; null: any" },
	{ "is_active", FIELD_BOOL, FIELD_FILTER, 0, 0, NULL, "true", NULL, 0,
	    NULL },
	{ "created_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
	{ "updated_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
};

const struct resource discount_codes_resource = {
	.name = "discount_codes",
	.path = "/v1/discount-codes",
	.table = "discount_codes",
	.fields = code_fields,
	.nfields = NELEM(code_fields),
	/* Deactivated, never deleted: bookings name them. */
	.actions = (1 << ACTION_LIST) | (1 << ACTION_READ) |
	    (1 << ACTION_CREATE) | (1 << ACTION_UPDATE),
	.doc = "Discount codes (seed 004): a percentage or a fixed amount off "
	       "a training booking, within a validity window, a usage limit, "
	       "an optional course type and minimum price, once a person. "
	       "Admins write them; bookings spend and give back their uses "
	       "(usage_count).",
	.before_create = codes_before_create,
	.before_update = codes_before_update,
	/* A window that ends after it starts. */
	.create_example = "{\"code\":\"SPRING10\",\"discount_type\":"
			  "\"percentage\",\"discount_value\":10,"
			  "\"valid_from\":\"2026-03-01T00:00:00Z\","
			  "\"valid_until\":\"2026-06-01T00:00:00Z\","
			  "\"usage_limit\":100}",
	.codes =
	    "{\"409\":[\"DISCOUNT_CODE_ALREADY_USED\",\"DISCOUNT_CODE_TAKEN\",\"DISCOUNT_CODE_USED_UP\"],\"422\":[\"DISCOUNT_CODE_INVALID\"]}",
};

int
training_code_norm(const char *in, char *out, size_t outlen)
{
	size_t n = 0;

	if (in == NULL || outlen == 0)
		return (0);
	while (*in == ' ')
		in++;
	for (; *in != '\0'; in++) {
		if (*in == ' ') {
			while (*in == ' ')
				in++;
			if (*in != '\0')
				return (0);
			break;
		}
		if (!isalnum((unsigned char)*in) && *in != '-' && *in != '_')
			return (0);
		if (n + 1 >= outlen || n >= TRAINING_CODE_MAX)
			return (0);
		out[n++] = (char)toupper((unsigned char)*in);
	}
	out[n] = '\0';
	return (n >= 3);
}

int64_t
training_discount_of(const char *type, int64_t value, int64_t subtotal)
{
	int64_t d;

	if (subtotal <= 0 || value <= 0 || type == NULL)
		return (0);
	if (strcmp(type, "percentage") == 0)
		d = (subtotal * (value > 100 ? 100 : value) + 50) / 100;
	else if (strcmp(type, "fixed") == 0)
		d = value;
	else
		return (0);
	return (d > subtotal ? subtotal : d);
}

/* The code as it would be: form, currency, percentage, window, limit. */
static int
code_check(struct resource_ctx *ctx, json_t *row, json_t *body)
{
	json_t	   *errs, *v;
	const char *type, *cur;
	char	    norm[TRAINING_CODE_MAX + 1];
	int64_t	    from = 0, until = 0;

	if ((errs = json_array()) == NULL)
		return (ERR_NOMEM);
	if ((v = json_object_get(body, "code")) != NULL) {
		if (!training_code_norm(
			json_string_value(v), norm, sizeof(norm)))
			resource_field_err(errs, "code", "invalid_format",
			    "3 to 32 letters, digits, - or _");
		else
			json_object_set_new(body, "code", json_string(norm));
	}
	cur = json_string_value(json_object_get(row, "currency"));
	if (cur != NULL && !training_currency_ok(cur))
		resource_field_err(errs, "currency", "invalid_format",
		    "must be an ISO 4217 code: three upper-case letters");
	type = json_string_value(json_object_get(row, "discount_type"));
	if (type != NULL && strcmp(type, "percentage") == 0 &&
	    json_integer_value(json_object_get(row, "discount_value")) > 100)
		resource_field_err(errs, "discount_value", "too_large",
		    "a percentage is at most 100");
	if (json_is_string(json_object_get(row, "valid_from")) &&
	    json_is_string(json_object_get(row, "valid_until")) &&
	    time_parse_iso(
		json_string_value(json_object_get(row, "valid_from")), &from) ==
		0 &&
	    time_parse_iso(
		json_string_value(json_object_get(row, "valid_until")),
		&until) == 0 &&
	    until <= from)
		resource_field_err(errs, "valid_until", "before_start",
		    "must be after valid_from");
	if (json_is_integer(v = json_object_get(row, "usage_limit")) &&
	    json_integer_value(v) <
		json_integer_value(json_object_get(row, "usage_count")))
		resource_field_err(errs, "usage_limit", "below_usage",
		    "the code has been used more often already");
	return (resource_errs_answer(ctx->req, errs, "The discount code"));
}

/* code names one row: 409 DISCOUNT_CODE_TAKEN. */
static int
code_free(struct resource_ctx *ctx, json_t *body)
{
	struct stmt *st;
	const char  *code;
	int	     rc;

	if ((code = json_string_value(json_object_get(body, "code"))) == NULL)
		return (OK);
	st = store_prepare(
	    ctx->tx, "SELECT 1 FROM discount_codes WHERE code = ? AND id <> ?");
	store_bind_text(st, 1, code);
	store_bind_text(st, 2, ctx->id != NULL ? ctx->id : "");
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_DONE)
		return (OK);
	if (rc != STORE_ROW)
		return (rc);
	return (training_refuse(ctx->req, ERR_CONFLICT, "DISCOUNT_CODE_TAKEN",
	    "code", "taken", "another discount code is written so"));
}

static int
codes_before_create(struct resource_ctx *ctx, json_t *body)
{
	int rc;

	if ((rc = code_check(ctx, body, body)) != OK)
		return (rc);
	return (code_free(ctx, body));
}

/* Under the code's lock: usage_count is read as bookings leave it. */
static int
codes_before_update(struct resource_ctx *ctx, json_t *body)
{
	struct stmt *st;
	json_t	    *row;
	int	     rc;

	if ((rc = training_lock(ctx->tx, "discount", ctx->id)) != OK)
		return (rc);
	if ((row = json_deep_copy(ctx->old)) == NULL)
		return (ERR_NOMEM);
	st = store_prepare(
	    ctx->tx, "SELECT usage_count FROM discount_codes WHERE id = ?");
	store_bind_text(st, 1, ctx->id);
	if ((rc = store_step(st)) == STORE_ROW) {
		json_object_set_new(
		    row, "usage_count", json_integer(store_col_int64(st, 0)));
		rc = OK;
	} else if (rc == STORE_DONE)
		rc = ERR_NOT_FOUND;
	store_finalize(st);
	if (rc == OK && json_object_update(row, body) != 0)
		rc = ERR_NOMEM;
	if (rc == OK)
		rc = code_check(ctx, row, body);
	json_decref(row);
	if (rc != OK)
		return (rc);
	return (code_free(ctx, body));
}

static int
invalid(struct request *req, const char *why, const char *detail)
{
	return (training_refuse(req, ERR_INVALID, "DISCOUNT_CODE_INVALID",
	    "discount_code", why, detail));
}

int
training_discount_spend(struct tx *tx, struct request *req, const char *code,
    const char *user_id, const char *course_type, struct training_price *p)
{
	struct stmt *st;
	char	     norm[TRAINING_CODE_MAX + 1], id[UUID_STR_LEN] = "";
	char	     type[16] = "", cur[4] = "", only[32] = "";
	int64_t	     value = 0, from = -1, until = -1, min = -1, now;
	int	     rc, active = 0, spent;

	if (!training_code_norm(code, norm, sizeof(norm)))
		return (invalid(req, "not_found", "no such discount code"));
	st = store_prepare(tx, "SELECT id FROM discount_codes WHERE code = ?");
	store_bind_text(st, 1, norm);
	if ((rc = store_step(st)) == STORE_ROW)
		strlcpy_cb(id, store_col_text(st, 0), sizeof(id));
	store_finalize(st);
	if (rc == STORE_DONE)
		return (invalid(req, "not_found", "no such discount code"));
	if (rc != STORE_ROW)
		return (rc);
	/* Its uses are counted one booking at a time. */
	if ((rc = training_lock(tx, "discount", id)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "SELECT discount_type, discount_value, currency, valid_from, "
	    "valid_until, course_type, min_price_minor, is_active FROM "
	    "discount_codes WHERE id = ?");
	store_bind_text(st, 1, id);
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(type, store_col_text(st, 0), sizeof(type));
		value = store_col_int64(st, 1);
		strlcpy_cb(cur, store_col_text(st, 2), sizeof(cur));
		if (!store_col_is_null(st, 3))
			from = store_col_int64(st, 3);
		if (!store_col_is_null(st, 4))
			until = store_col_int64(st, 4);
		if (!store_col_is_null(st, 5))
			strlcpy_cb(only, store_col_text(st, 5), sizeof(only));
		if (!store_col_is_null(st, 6))
			min = store_col_int64(st, 6);
		active = store_col_int64(st, 7) != 0;
		rc = OK;
	} else if (rc == STORE_DONE)
		rc = ERR_NOT_FOUND;
	store_finalize(st);
	if (rc != OK)
		return (rc);
	now = time_now_ms();
	if (!active)
		return (invalid(req, "inactive", "the code is not active"));
	if (from >= 0 && now < from)
		return (
		    invalid(req, "not_yet_valid", "the code is not valid yet"));
	if (until >= 0 && now >= until)
		return (invalid(req, "expired", "the code is no longer valid"));
	if (only[0] != '\0' &&
	    (course_type == NULL || strcmp(only, course_type) != 0))
		return (invalid(req, "course_type",
		    "the code is for another type of course"));
	if (strcmp(type, "fixed") == 0 && strcmp(cur, p->currency) != 0)
		return (invalid(
		    req, "currency", "the code is for another currency"));
	if (min >= 0 && p->subtotal < min)
		return (invalid(req, "below_minimum",
		    "the booking costs less than the code's minimum"));
	st = store_prepare(tx,
	    "SELECT 1 FROM training_bookings WHERE discount_code_id = ? AND "
	    "user_id = ? AND discount_released_at IS NULL");
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, user_id);
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_ROW)
		return (training_refuse(req, ERR_CONFLICT,
		    "DISCOUNT_CODE_ALREADY_USED", "discount_code", "used",
		    "you have used this code already"));
	if (rc != STORE_DONE)
		return (rc);
	st = store_prepare(tx,
	    "UPDATE discount_codes SET usage_count = usage_count + 1, "
	    "updated_at = ? WHERE id = ? AND (usage_limit IS NULL OR "
	    "usage_count < usage_limit)");
	store_bind_int64(st, 1, now);
	store_bind_text(st, 2, id);
	rc = store_step(st);
	spent = rc == STORE_DONE && store_changes(st) == 1;
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc);
	if (!spent)
		return (training_refuse(req, ERR_CONFLICT,
		    "DISCOUNT_CODE_USED_UP", "discount_code", "used_up",
		    "the code has been used as often as it may be"));
	p->discount = training_discount_of(type, value, p->subtotal);
	p->total = p->subtotal - p->discount;
	strlcpy_cb(p->code_id, id, sizeof(p->code_id));
	return (OK);
}

int
training_discount_release(struct tx *tx, const char *booking_id, int64_t now)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx,
	    "UPDATE discount_codes SET usage_count = usage_count - 1, "
	    "updated_at = ? WHERE usage_count > 0 AND id = (SELECT "
	    "b.discount_code_id FROM training_bookings b WHERE b.id = ? AND "
	    "b.discount_released_at IS NULL)");
	store_bind_int64(st, 1, now);
	store_bind_text(st, 2, booking_id);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc);
	st = store_prepare(tx,
	    "UPDATE training_bookings SET discount_released_at = ? WHERE "
	    "id = ? AND discount_code_id IS NOT NULL AND "
	    "discount_released_at IS NULL");
	store_bind_int64(st, 1, now);
	store_bind_text(st, 2, booking_id);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

int
training_discount_retake(
    struct tx *tx, const struct training_booking *b, int64_t now)
{
	struct stmt *st;
	int	     rc;

	if (b->discount_code_id[0] == '\0' || !b->discount_released)
		return (OK);
	if ((rc = training_lock(tx, "discount", b->discount_code_id)) != OK)
		return (rc);
	/* The person's use stands elsewhere: not twice. */
	st = store_prepare(tx,
	    "SELECT 1 FROM training_bookings WHERE discount_code_id = ? AND "
	    "user_id = ? AND discount_released_at IS NULL AND id <> ?");
	store_bind_text(st, 1, b->discount_code_id);
	store_bind_text(st, 2, b->user_id);
	store_bind_text(st, 3, b->id);
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_ROW)
		return (ERR_CONFLICT);
	if (rc != STORE_DONE)
		return (rc);
	st = store_prepare(tx,
	    "UPDATE discount_codes SET usage_count = usage_count + 1, "
	    "updated_at = ? WHERE id = ? AND (usage_limit IS NULL OR "
	    "usage_count < usage_limit)");
	store_bind_int64(st, 1, now);
	store_bind_text(st, 2, b->discount_code_id);
	rc = store_step(st);
	rc = rc == STORE_DONE ? (store_changes(st) == 1 ? OK : ERR_CONFLICT)
			      : rc;
	store_finalize(st);
	if (rc != OK)
		return (rc);
	st = store_prepare(tx,
	    "UPDATE training_bookings SET discount_released_at = NULL WHERE "
	    "id = ?");
	store_bind_text(st, 1, b->id);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}
