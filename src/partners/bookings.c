/*
 * Therapy bookings (seeds 000 and 002: Therapy Session): appointments
 * booked in the booking system (Simplybook, through Zapier) with an
 * external provider, copied here by POST /v1/webhooks/simplybook, a
 * source of the webhook inbox (ops/inbox.h).
 *
 *	verify	 the token in X-Simplybook-Token, or Authorization: Bearer,
 *		 equals simplybook_webhook_secret (both hashed with BLAKE2b,
 *		 compared with sodium_memcmp); a timestamp (header
 *		 X-Simplybook-Timestamp, else the body's "timestamp": Unix
 *		 seconds or ISO 8601), when sent, is within
 *		 simplybook_timestamp_tolerance_s of now
 *	prepare	 payload {action, booking_code, client_email, user_id?,
 *		 client_timezone, service_name, service_provider_name,
 *		 service_provider_email, start_date_time, end_date_time}
 *		 checked and bounded; other members are ignored
 *	process	 in the write transaction, serialised per booking code and
 *		 per user (store_xact_lock; SQLite's write lock already is):
 *	  NEW_BOOKING	   the user (by user_id, else by the blind index of
 *			   client_email) spends one session of their oldest
 *			   (created_at) active access with therapy and sessions
 *			   left: remaining - 1, redeemed + 1 in one guarded
 *			   UPDATE; none left: 403 NO_THERAPY_SESSIONS_LEFT and
 *			   nothing stored. The same booking_code again: 200
 *			   with "duplicate", nothing spent.
 *	  UPDATED_BOOKING  new times; a new start keeps the old one in
 *			   rescheduled_from; completed_at follows the new end
 *			   (set when it has passed, else cleared)
 *	  CANCELLED_BOOKING cancelled_at set and the session given back,
 *			   once (a second cancel answers 200 and gives nothing)
 *
 * completed_at: the job therapy_bookings.complete (every minute) sets it
 * to end_date_time once that has passed, for bookings not cancelled; a
 * cancelled booking is never completed.
 *
 * bookings_app.c serves the rows to people (who sees which, the in-app
 * cancel, GDPR). client_email is sealed under the user's data key. Every
 * write is audited ("therapy_bookings.create", ".update", ".cancel") and
 * touches the user's chat profile (ops/chatsync.h: therapy counts and
 * times).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

#include "core/config.h"
#include "core/err.h"
#include "core/keyring.h"
#include "core/log.h"
#include "core/mail.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "ops/chatsync.h"
#include "ops/inbox.h"
#include "partners/partners_int.h"
#include "resource/audit.h"
#include "resource/seal.h"
#include "store/jobs.h"
#include "store/store.h"

#define SPEND_TRIES	4	/* accesses tried when another writer wins */

static int	 sb_verify(struct request *, const char *, size_t,
		    struct inbox_result *);
static int	 stamp_parse(const char *, int64_t *);
static int	 stamp_check(struct request *, const char *, size_t,
		    struct inbox_result *);
static int	 sb_prepare(const char *, size_t, json_t **,
		    struct inbox_result *);
static int	 sb_process(struct tx *, const char *, size_t, json_t *,
		    struct inbox_result *);
static void	 err_add(json_t *, const char *, const char *, const char *);
static int	 text_ok(json_t *, size_t, size_t);
static int	 code_ok(const char *);
static int	 tz_ok(const char *);
static void	 time_member(json_t *, json_t *, const char *, json_t *);
static int	 payload_check(json_t *, json_t *, struct inbox_result *);
static int	 user_find(struct tx *, json_t *, char *, struct inbox_result *);
static int	 booking_public(struct tx *, const char *, json_t **);
static int	 spend(struct tx *, const char *, char *, char *, int64_t *,
		    struct inbox_result *);
static int	 booking_insert(struct tx *, json_t *, const char *,
		    const char *, const char *, char *);
static int	 booking_new(struct tx *, json_t *, struct inbox_result *);
static int	 booking_update(struct tx *, json_t *, struct inbox_result *);
static int	 booking_cancelled(struct tx *, json_t *, struct inbox_result *);
static int	 id_cmp(const void *, const void *);
static int	 complete_batch(struct store *, int64_t, int64_t *);

static const char *const actions[] = { "NEW_BOOKING", "UPDATED_BOOKING",
    "CANCELLED_BOOKING", NULL };

static const char *const keep_headers[] = { "X-Simplybook-Timestamp", NULL };

const struct inbox_source simplybook_source = {
	"simplybook", keep_headers, sb_verify, sb_prepare, sb_process,
};

void
bookings_webhook(struct request *req)
{
	inbox_receive(req, &simplybook_source);
}

/* Verification */

static int
sb_verify(struct request *req, const char *body, size_t len,
    struct inbox_result *r)
{
	const char	*secret = config.simplybook_webhook_secret;
	const char	*tok, *auth;
	unsigned char	 want[crypto_generichash_BYTES];
	unsigned char	 got[crypto_generichash_BYTES];
	int		 ok;

	if (secret == NULL || secret[0] == '\0')
		return (inbox_fail(r, ERR_UNAVAILABLE, "WEBHOOK_NOT_CONFIGURED",
		    "The booking webhook token is not configured."));
	if ((tok = http_header(req, "X-Simplybook-Token")) == NULL &&
	    (auth = http_header(req, "Authorization")) != NULL &&
	    strncasecmp(auth, "Bearer ", 7) == 0)
		tok = auth + 7;
	if (tok == NULL || tok[0] == '\0')
		return (inbox_fail(r, ERR_UNAUTHORIZED, "TOKEN_MISSING", "Send "
		    "the webhook token in X-Simplybook-Token or Authorization: "
		    "Bearer."));
	/* Hashes of equal length whatever was sent: no length leaks. */
	crypto_generichash(want, sizeof(want), (const unsigned char *)secret,
	    strlen(secret), NULL, 0);
	crypto_generichash(got, sizeof(got), (const unsigned char *)tok,
	    strlen(tok), NULL, 0);
	ok = sodium_memcmp(want, got, sizeof(want)) == 0;
	sodium_memzero(want, sizeof(want));
	sodium_memzero(got, sizeof(got));
	if (!ok)
		return (inbox_fail(r, ERR_UNAUTHORIZED, "TOKEN_INVALID", "The "
		    "webhook token is not valid."));
	return (stamp_check(req, body, len, r));
}

/* Unix seconds (digits only) or ISO 8601 into ms; 0 = ok. */
static int
stamp_parse(const char *s, int64_t *ms)
{
	int64_t	 secs;
	size_t	 i, n = strlen(s);

	for (i = 0; i < n && isdigit((unsigned char)s[i]); i++)
		;
	if (n > 0 && i == n) {
		if (parse_int64(s, 0, BOOKING_TIME_MAX_MS / 1000, &secs) != 0)
			return (-1);
		*ms = secs * 1000;
		return (0);
	}
	return (time_parse_iso(s, ms));
}

/* A timestamp, when sent, must be recent: an old body is not replayed. */
static int
stamp_check(struct request *req, const char *body, size_t len,
    struct inbox_result *r)
{
	const char	*h = http_header(req, "X-Simplybook-Timestamp");
	json_t		*doc = NULL, *v;
	int64_t		 ts = 0, skew, tol;
	int		 bad = 0;

	if (h != NULL)
		bad = stamp_parse(h, &ts) != 0;
	else if (len <= (size_t)config.webhook_body_limit &&
	    (doc = json_loadb(body, len, 0, NULL)) != NULL &&
	    (v = json_object_get(doc, "timestamp")) != NULL &&
	    !json_is_null(v)) {
		if (json_is_integer(v) && json_integer_value(v) >= 0 &&
		    json_integer_value(v) <= BOOKING_TIME_MAX_MS / 1000)
			ts = (int64_t)json_integer_value(v) * 1000;
		else if (!json_is_string(v) ||
		    stamp_parse(json_string_value(v), &ts) != 0)
			bad = 1;
	} else {
		json_decref(doc);
		return (OK);
	}
	json_decref(doc);
	if (bad)
		return (inbox_fail(r, ERR_UNAUTHORIZED, "TIMESTAMP_INVALID",
		    "The timestamp is neither Unix seconds nor ISO 8601."));
	skew = time_now_ms() - ts;
	tol = config.simplybook_timestamp_tolerance_s * 1000;
	if (skew > tol || skew < -tol)
		return (inbox_fail(r, ERR_UNAUTHORIZED, "STALE_TIMESTAMP", "The "
		    "timestamp is more than %lld s from now.",
		    (long long)config.simplybook_timestamp_tolerance_s));
	return (OK);
}

/* Payload */

static void
err_add(json_t *errs, const char *field, const char *code, const char *detail)
{
	json_array_append_new(errs, json_pack("{s:s,s:s,s:s}", "field", field,
	    "code", code, "detail", detail));
}

/* v is a string of min..max code points without control characters. */
static int
text_ok(json_t *v, size_t min, size_t max)
{
	const unsigned char	*s;
	size_t			 n = 0;

	if (!json_is_string(v))
		return (0);
	for (s = (const unsigned char *)json_string_value(v); *s != '\0';
	    s++) {
		if (*s < 0x20 || *s == 0x7f)
			return (0);
		if ((*s & 0xc0) != 0x80)
			n++;
	}
	return (n >= min && n <= max);
}

static int
code_ok(const char *s)
{
	size_t	 n = strlen(s), i;

	if (n == 0 || n > BOOKING_CODE_MAX)
		return (0);
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return (0);
	return (1);
}

/* An IANA zone name: letters, digits, '/', '_', '+', '-'. */
static int
tz_ok(const char *s)
{
	size_t	 n = strlen(s), i;

	if (n == 0 || n > BOOKING_TZ_MAX)
		return (0);
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("/_+-", s[i]) ==
		    NULL)
			return (0);
	return (1);
}

/* An ISO 8601 time member into work as ms, or an error entry. */
static void
time_member(json_t *p, json_t *work, const char *name, json_t *errs)
{
	json_t	*v = json_object_get(p, name);
	int64_t	 ms;

	if (v == NULL || json_is_null(v))
		return;
	if (!json_is_string(v) || time_parse_iso(json_string_value(v), &ms) !=
	    0)
		err_add(errs, name, "invalid_format", "an ISO 8601 date-time");
	else if (ms < BOOKING_TIME_MIN_MS || ms >= BOOKING_TIME_MAX_MS)
		err_add(errs, name, "out_of_range", "between 2000 and 2100");
	else
		json_object_set_new(work, name, json_integer(ms));
}

/*
 * Check p and copy what is kept into work. Required: action and
 * booking_code always; for NEW_BOOKING every member but user_id; for
 * UPDATED_BOOKING the two times. Every member sent is checked.
 */
static int
payload_check(json_t *p, json_t *work, struct inbox_result *r)
{
	static const struct {
		const char	*name;
		size_t		 max;
		int		 email;
	} texts[] = {
		{"service_name", BOOKING_TEXT_MAX, 0},
		{"service_provider_name", BOOKING_TEXT_MAX, 0},
		{"service_provider_email", BOOKING_EMAIL_MAX, 1},
		{"client_email", BOOKING_EMAIL_MAX, 1},
	};
	static const char *const new_needs[] = { "client_email",
	    "client_timezone", "service_name", "service_provider_name",
	    "service_provider_email", "start_date_time", "end_date_time",
	    NULL };
	json_t		*v, *errs = json_array();
	const char	*action = NULL, *s;
	size_t		 i;
	int64_t		 start, end;

	v = json_object_get(p, "action");
	if (json_is_string(v))
		for (i = 0; actions[i] != NULL; i++)
			if (strcmp(json_string_value(v), actions[i]) == 0)
				action = actions[i];
	if (action == NULL)
		err_add(errs, "action", v == NULL ? "required" : "enum", "one of "
		    "NEW_BOOKING, UPDATED_BOOKING, CANCELLED_BOOKING");
	else
		json_object_set_new(work, "action", json_string(action));
	v = json_object_get(p, "booking_code");
	if (v == NULL || json_is_null(v))
		err_add(errs, "booking_code", "required", "the booking's code");
	else if (!json_is_string(v) || !code_ok(json_string_value(v)))
		err_add(errs, "booking_code", "invalid_format", "1 to 64 of "
		    "letters, digits, '-' and '_'");
	else
		json_object_set(work, "booking_code", v);
	v = json_object_get(p, "user_id");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v) || !uuid_valid(json_string_value(v)))
			err_add(errs, "user_id", "invalid_format", "a UUID");
		else
			json_object_set(work, "user_id", v);
	}
	v = json_object_get(p, "client_timezone");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v) || !tz_ok(json_string_value(v)))
			err_add(errs, "client_timezone", "invalid_format",
			    "an IANA time zone name of up to 64 characters");
		else
			json_object_set(work, "client_timezone", v);
	}
	for (i = 0; i < NELEM(texts); i++) {
		v = json_object_get(p, texts[i].name);
		if (v == NULL || json_is_null(v))
			continue;
		if (!text_ok(v, 1, texts[i].max))
			err_add(errs, texts[i].name, "length", texts[i].email ?
			    "an address of up to 254 characters" :
			    "1 to 200 characters, no control characters");
		else if (texts[i].email &&
		    !mail_address_valid(json_string_value(v)))
			err_add(errs, texts[i].name, "invalid_format",
			    "an email address");
		else
			json_object_set(work, texts[i].name, v);
	}
	time_member(p, work, "start_date_time", errs);
	time_member(p, work, "end_date_time", errs);
	if (action != NULL && strcmp(action, "NEW_BOOKING") == 0) {
		for (i = 0; new_needs[i] != NULL; i++)
			if ((v = json_object_get(p, new_needs[i])) == NULL ||
			    json_is_null(v))
				err_add(errs, new_needs[i], "required",
				    "required for NEW_BOOKING");
	} else if (action != NULL && strcmp(action, "UPDATED_BOOKING") == 0) {
		for (i = 0; i < 2; i++) {
			s = i == 0 ? "start_date_time" : "end_date_time";
			if ((v = json_object_get(p, s)) == NULL ||
			    json_is_null(v))
				err_add(errs, s, "required",
				    "required for UPDATED_BOOKING");
		}
	}
	if (json_object_get(work, "start_date_time") != NULL &&
	    json_object_get(work, "end_date_time") != NULL) {
		start = json_integer_value(json_object_get(work,
		    "start_date_time"));
		end = json_integer_value(json_object_get(work,
		    "end_date_time"));
		if (end <= start || end - start > BOOKING_LENGTH_MAX_MS)
			err_add(errs, "end_date_time", "out_of_range", "after "
			    "start_date_time, by at most 24 hours");
	} else if (json_array_size(errs) == 0 &&
	    (json_object_get(work, "start_date_time") !=
	    NULL || json_object_get(work, "end_date_time") != NULL))
		err_add(errs, "end_date_time", "required", "send "
		    "start_date_time and end_date_time together");
	if (json_array_size(errs) > 0) {
		r->errors = errs;
		return (inbox_fail(r, ERR_INVALID, NULL, "The booking payload "
		    "is not valid: %zu field%s.", json_array_size(errs),
		    json_array_size(errs) == 1 ? "" : "s"));
	}
	json_decref(errs);
	return (OK);
}

static int
sb_prepare(const char *body, size_t len, json_t **work, struct inbox_result *r)
{
	json_error_t	 jerr;
	json_t		*p, *w;
	int		 rc;

	*work = NULL;
	if ((p = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		/* Position only: jansson's text can quote the body (an
		 * email address), and this line is stored in clear. */
		return (inbox_fail(r, ERR_MALFORMED, NULL, "Invalid JSON at "
		    "line %d, column %d.", jerr.line, jerr.column));
	if (!json_is_object(p)) {
		json_decref(p);
		return (inbox_fail(r, ERR_MALFORMED, NULL, "The body must be a "
		    "JSON object."));
	}
	if ((w = json_object()) == NULL) {
		json_decref(p);
		return (inbox_fail(r, ERR_NOMEM, NULL, "Out of memory."));
	}
	rc = payload_check(p, w, r);
	json_decref(p);
	if (rc != OK) {
		json_decref(w);
		return (rc);
	}
	*work = w;
	return (OK);
}

/* Writes */

int
booking_lock(struct tx *tx, const char *kind, const char *value)
{
	char	 key[128];

	snprintf(key, sizeof(key), "therapy_bookings:%s:%s", kind, value);
	return (store_xact_lock(tx, key));
}

/* The live user the payload names: by user_id, else by client_email. */
static int
user_find(struct tx *tx, json_t *w, char *out, struct inbox_result *r)
{
	struct stmt	*st;
	const char	*uid, *email;
	char		 idx[65];
	int		 rc;

	uid = json_string_value(json_object_get(w, "user_id"));
	email = json_string_value(json_object_get(w, "client_email"));
	if (uid != NULL) {
		st = store_prepare(tx, "SELECT id FROM users WHERE id = ? AND "
		    "deleted_at IS NULL");
		store_bind_text(st, 1, uid);
	} else {
		keyring_email_index(email != NULL ? email : "", idx);
		st = store_prepare(tx, "SELECT id FROM users WHERE "
		    "email_index = ? AND deleted_at IS NULL");
		store_bind_text(st, 1, idx);
	}
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		strlcpy_cb(out, store_col_text(st, 0), UUID_STR_LEN);
		rc = OK;
		break;
	case STORE_DONE:
		rc = inbox_fail(r, ERR_NOT_FOUND, "USER_NOT_FOUND", "No user "
		    "has that %s.", uid != NULL ? "user_id" : "client_email");
		break;
	}
	store_finalize(st);
	return (rc);
}

/* The booking with code (or, when code is NULL, with id); ERR_NOT_FOUND. */
int
booking_find(struct tx *tx, const char *code, const char *id,
    struct booking *b)
{
	struct stmt	*st;
	int		 rc;

	memset(b, 0, sizeof(*b));
	st = store_prepare(tx, code != NULL ? "SELECT id, user_id, "
	    "partner_access_id, booking_code, start_date_time, end_date_time, "
	    "rescheduled_from, cancelled_at FROM therapy_bookings WHERE "
	    "booking_code = ?" : "SELECT id, user_id, partner_access_id, "
	    "booking_code, start_date_time, end_date_time, rescheduled_from, "
	    "cancelled_at FROM therapy_bookings WHERE id = ?");
	store_bind_text(st, 1, code != NULL ? code : id);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		strlcpy_cb(b->id, store_col_text(st, 0), sizeof(b->id));
		strlcpy_cb(b->user_id, store_col_text(st, 1),
		    sizeof(b->user_id));
		if (!store_col_is_null(st, 2))
			strlcpy_cb(b->access_id, store_col_text(st, 2),
			    sizeof(b->access_id));
		strlcpy_cb(b->code, store_col_text(st, 3), sizeof(b->code));
		b->start = store_col_int64(st, 4);
		b->end = store_col_int64(st, 5);
		b->rescheduled_from = store_col_is_null(st, 6) ? -1 :
		    store_col_int64(st, 6);
		b->cancelled = !store_col_is_null(st, 7);
		rc = OK;
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	}
	store_finalize(st);
	return (rc);
}

/* A booking as the booking system is answered: no client email. */
static int
booking_public(struct tx *tx, const char *id, json_t **out)
{
	struct stmt	*st;
	int		 rc;

	*out = NULL;
	st = store_prepare(tx, "SELECT " BOOKING_COLUMNS FROM_BOOKINGS
	    " AND b.id = ?");
	store_bind_text(st, 1, id);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		rc = (*out = booking_row(tx, st, 0, NULL)) != NULL ? OK :
		    ERR_NOMEM;
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	}
	store_finalize(st);
	return (rc);
}

/*
 * Spend one session of user's oldest active access with therapy and
 * sessions left: its id and partner into access and partner, what is
 * left into *left. The UPDATE's guard keeps remaining from going below
 * zero whoever else writes; under the user's lock the first try wins.
 */
static int
spend(struct tx *tx, const char *user, char *access, char *partner,
    int64_t *left, struct inbox_result *r)
{
	struct stmt	*st;
	int64_t		 n = 0;
	int		 rc, i;

	for (i = 0; i < SPEND_TRIES && n == 0; i++) {
		st = store_prepare(tx, "SELECT a.id, a.partner_id, "
		    "a.therapy_sessions_remaining FROM partner_access a JOIN "
		    "partners p ON p.id = a.partner_id WHERE a.user_id = ? AND "
		    "a.is_active = 1 AND a.deleted_at IS NULL AND "
		    "a.feature_therapy = 1 AND a.therapy_sessions_remaining > 0 "
		    "AND p.is_active = 1 ORDER BY a.created_at, a.id LIMIT 1");
		store_bind_text(st, 1, user);
		if ((rc = store_step(st)) == STORE_ROW) {
			strlcpy_cb(access, store_col_text(st, 0),
			    UUID_STR_LEN);
			strlcpy_cb(partner, store_col_text(st, 1),
			    UUID_STR_LEN);
			*left = store_col_int64(st, 2) - 1;
		}
		store_finalize(st);
		if (rc == STORE_DONE)
			return (inbox_fail(r, ERR_FORBIDDEN,
			    "NO_THERAPY_SESSIONS_LEFT", "The user has no "
			    "active partner access with therapy sessions "
			    "left."));
		if (rc != STORE_ROW)
			return (rc);
		st = store_prepare(tx, "UPDATE partner_access SET "
		    "therapy_sessions_remaining = therapy_sessions_remaining - "
		    "1, therapy_sessions_redeemed = therapy_sessions_redeemed + "
		    "1, updated_at = ? WHERE id = ? AND "
		    "therapy_sessions_remaining > 0");
		store_bind_int64(st, 1, time_now_ms());
		store_bind_text(st, 2, access);
		rc = store_step(st);
		n = store_changes(st);
		store_finalize(st);
		if (rc != STORE_DONE)
			return (rc);
	}
	return (n == 1 ? OK : ERR_BUSY);
}

static int
booking_insert(struct tx *tx, json_t *w, const char *user, const char *access,
    const char *partner, char *id)
{
	static const char *const texts[] = { "client_timezone",
	    "booking_code", "service_name", "service_provider_name",
	    "service_provider_email", NULL };
	struct stmt	*st;
	unsigned char	 key[SEAL_KEY_LEN], *sealed = NULL;
	const char	*email;
	char		 idx[65];
	size_t		 len = 0;
	int64_t		 now = time_now_ms();
	int		 rc, i;

	uuid_v7(id);
	email = json_string_value(json_object_get(w, "client_email"));
	if (email != NULL) {
		if ((rc = seal_key_load(tx, user, key)) != OK)
			return (rc == ERR_NOT_FOUND ? ERR_CONFLICT : rc);
		rc = seal_field(key, "therapy_bookings", "client_email", id,
		    email, &sealed, &len);
		sodium_memzero(key, sizeof(key));
		if (rc != OK)
			return (rc);
		keyring_email_index(email, idx);
	}
	st = store_prepare(tx, "INSERT INTO therapy_bookings (id, action, "
	    "user_id, partner_access_id, partner_id, client_email, "
	    "client_email_index, client_timezone, booking_code, service_name, "
	    "service_provider_name, service_provider_email, start_date_time, "
	    "end_date_time, created_at, updated_at) VALUES (?, 'NEW_BOOKING', "
	    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, user);
	store_bind_text(st, 3, access);
	store_bind_text(st, 4, partner);
	if (sealed != NULL) {
		store_bind_blob(st, 5, sealed, len);
		store_bind_text(st, 6, idx);
	} else {
		store_bind_null(st, 5);
		store_bind_null(st, 6);
	}
	for (i = 0; texts[i] != NULL; i++)
		store_bind_text(st, 7 + i, json_string_value(json_object_get(w,
		    texts[i])));
	store_bind_int64(st, 12, json_integer_value(json_object_get(w,
	    "start_date_time")));
	store_bind_int64(st, 13, json_integer_value(json_object_get(w,
	    "end_date_time")));
	store_bind_int64(st, 14, now);
	store_bind_int64(st, 15, now);
	rc = store_step(st);
	store_finalize(st);
	free(sealed);
	return (rc == STORE_DONE ? OK : rc);
}

static int
booking_new(struct tx *tx, json_t *w, struct inbox_result *r)
{
	struct booking	 b;
	json_t		*row = NULL, *fields;
	const char	*code = json_string_value(json_object_get(w,
			    "booking_code"));
	char		 user[UUID_STR_LEN], access[UUID_STR_LEN];
	char		 partner[UUID_STR_LEN], id[UUID_STR_LEN];
	int64_t		 left = 0;
	int		 rc;

	if ((rc = user_find(tx, w, user, r)) != OK ||
	    (rc = booking_lock(tx, "user", user)) != OK)
		return (rc);
	switch ((rc = booking_find(tx, code, NULL, &b))) {
	case OK:
		if (strcmp(b.user_id, user) != 0)
			return (inbox_fail(r, ERR_CONFLICT, "BOOKING_CODE_TAKEN",
			    "Another user's booking has that booking_code."));
		/* The same booking again: answered, nothing spent. */
		if ((rc = booking_public(tx, b.id, &row)) != OK)
			return (rc);
		r->out = json_pack("{s:b,s:o}", "duplicate", 1, "booking", row);
		return (r->out != NULL ? OK : ERR_NOMEM);
	case ERR_NOT_FOUND:
		break;
	default:
		return (rc);
	}
	if ((rc = spend(tx, user, access, partner, &left, r)) != OK ||
	    (rc = booking_insert(tx, w, user, access, partner, id)) != OK)
		return (rc);
	fields = json_pack("[s,s,s,s,s,s,s,s,s,s]", "user_id",
	    "partner_access_id", "partner_id", "client_email",
	    "client_timezone", "booking_code", "service_name",
	    "service_provider_name", "start_date_time", "end_date_time");
	if ((rc = booking_audit(tx, NULL, NULL, "therapy_bookings.create", id,
	    json_pack("{s:o,s:s,s:s,s:I}", "fields", fields, "source",
	    "simplybook", "partner_access_id", access,
	    "therapy_sessions_remaining", (json_int_t)left))) != OK ||
	    (rc = chat_profile_touch(tx, user)) != OK ||
	    (rc = booking_public(tx, id, &row)) != OK)
		return (rc);
	r->out = json_pack("{s:b,s:o,s:I}", "duplicate", 0, "booking", row,
	    "therapy_sessions_remaining", (json_int_t)left);
	return (r->out != NULL ? OK : ERR_NOMEM);
}

static int
booking_update(struct tx *tx, json_t *w, struct inbox_result *r)
{
	static const char *const texts[] = { "client_timezone",
	    "service_name", "service_provider_name", "service_provider_email",
	    NULL };
	struct booking	 b;
	struct stmt	*st;
	json_t		*row = NULL, *fields;
	const char	*code = json_string_value(json_object_get(w,
			    "booking_code"));
	int64_t		 start, end, from;
	int		 rc, i;

	if ((rc = booking_find(tx, code, NULL, &b)) == ERR_NOT_FOUND)
		return (inbox_fail(r, rc, "BOOKING_NOT_FOUND", "No booking has "
		    "that booking_code."));
	if (rc != OK)
		return (rc);
	if (b.cancelled)
		return (inbox_fail(r, ERR_CONFLICT, "BOOKING_CANCELLED", "The "
		    "booking is cancelled."));
	start = json_integer_value(json_object_get(w, "start_date_time"));
	end = json_integer_value(json_object_get(w, "end_date_time"));
	/* A new start keeps the old one; the same start again changes
	 * nothing there (a replayed update is harmless). */
	from = start != b.start ? b.start : b.rescheduled_from;
	st = store_prepare(tx, "UPDATE therapy_bookings SET action = "
	    "'UPDATED_BOOKING', start_date_time = ?, end_date_time = ?, "
	    "rescheduled_from = ?, client_timezone = COALESCE(?, "
	    "client_timezone), service_name = COALESCE(?, service_name), "
	    "service_provider_name = COALESCE(?, service_provider_name), "
	    "service_provider_email = COALESCE(?, service_provider_email), "
	    "updated_at = ?, completed_at = CASE WHEN CAST(? AS BIGINT) <= ? "
	    "THEN CAST(? AS BIGINT) ELSE NULL END WHERE id = ?");
	store_bind_int64(st, 1, start);
	store_bind_int64(st, 2, end);
	if (from >= 0)
		store_bind_int64(st, 3, from);
	else
		store_bind_null(st, 3);
	for (i = 0; texts[i] != NULL; i++)
		store_bind_text(st, 4 + i, json_string_value(json_object_get(w,
		    texts[i])));
	store_bind_int64(st, 8, time_now_ms());
	store_bind_int64(st, 9, end);		/* the new end, passed? */
	store_bind_int64(st, 10, time_now_ms());
	store_bind_int64(st, 11, end);
	store_bind_text(st, 12, b.id);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc);
	fields = json_pack("[s,s]", "start_date_time", "end_date_time");
	if (start != b.start)
		json_array_append_new(fields, json_string("rescheduled_from"));
	for (i = 0; texts[i] != NULL; i++)
		if (json_object_get(w, texts[i]) != NULL)
			json_array_append_new(fields, json_string(texts[i]));
	if ((rc = booking_audit(tx, NULL, NULL, "therapy_bookings.update", b.id,
	    json_pack("{s:o,s:s}", "fields", fields, "source", "simplybook")))
	    != OK || (rc = chat_profile_touch(tx, b.user_id)) != OK ||
	    (rc = booking_public(tx, b.id, &row)) != OK)
		return (rc);
	r->out = json_pack("{s:o}", "booking", row);
	return (r->out != NULL ? OK : ERR_NOMEM);
}

/*
 * Cancel b and give its session back, exactly once: ERR_CONFLICT when it
 * was cancelled already (the guard holds against concurrent cancels).
 */
int
booking_cancel(struct tx *tx, const struct booking *b)
{
	struct stmt	*st;
	int64_t		 now = time_now_ms(), n;
	int		 rc;

	st = store_prepare(tx, "UPDATE therapy_bookings SET action = "
	    "'CANCELLED_BOOKING', cancelled_at = ?, updated_at = ? WHERE id = ? "
	    "AND cancelled_at IS NULL");
	store_bind_int64(st, 1, now);
	store_bind_int64(st, 2, now);
	store_bind_text(st, 3, b->id);
	rc = store_step(st);
	n = store_changes(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc);
	if (n == 0)
		return (ERR_CONFLICT);
	if (b->access_id[0] == '\0')
		return (OK);
	st = store_prepare(tx, "UPDATE partner_access SET "
	    "therapy_sessions_remaining = therapy_sessions_remaining + 1, "
	    "therapy_sessions_redeemed = therapy_sessions_redeemed - 1, "
	    "updated_at = ? WHERE id = ? AND therapy_sessions_redeemed > 0");
	store_bind_int64(st, 1, now);
	store_bind_text(st, 2, b->access_id);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

static int
booking_cancelled(struct tx *tx, json_t *w, struct inbox_result *r)
{
	struct booking	 b;
	json_t		*row = NULL;
	int		 rc, again = 0;

	if ((rc = booking_find(tx, json_string_value(json_object_get(w,
	    "booking_code")), NULL, &b)) == ERR_NOT_FOUND)
		return (inbox_fail(r, rc, "BOOKING_NOT_FOUND", "No booking has "
		    "that booking_code."));
	if (rc != OK)
		return (rc);
	if ((rc = booking_cancel(tx, &b)) == ERR_CONFLICT)
		again = 1;
	else if (rc != OK ||
	    (rc = booking_audit(tx, NULL, NULL, "therapy_bookings.cancel", b.id,
	    json_pack("{s:[s],s:s,s:s}", "fields", "cancelled_at", "source",
	    "simplybook", "partner_access_id", b.access_id))) != OK ||
	    (rc = chat_profile_touch(tx, b.user_id)) != OK)
		return (rc);
	if ((rc = booking_public(tx, b.id, &row)) != OK)
		return (rc);
	r->out = json_pack("{s:b,s:o}", "already_cancelled", again, "booking",
	    row);
	return (r->out != NULL ? OK : ERR_NOMEM);
}

static int
sb_process(struct tx *tx, const char *body, size_t len, json_t *w,
    struct inbox_result *r)
{
	const char	*action = json_string_value(json_object_get(w,
			    "action"));
	int		 rc;

	if ((rc = booking_lock(tx, "code", json_string_value(json_object_get(w,
	    "booking_code")))) != OK)
		return (rc);
	if (strcmp(action, "NEW_BOOKING") == 0)
		return (booking_new(tx, w, r));
	if (strcmp(action, "UPDATED_BOOKING") == 0)
		return (booking_update(tx, w, r));
	return (booking_cancelled(tx, w, r));
}

/* Appends the record; takes changes. */
int
booking_audit(struct tx *tx, const struct principal *who, struct request *req,
    const char *action, const char *id, json_t *changes)
{
	int	 rc;

	if (changes == NULL)
		return (ERR_NOMEM);
	rc = audit_append(tx, who, req, action, "therapy_bookings", id,
	    changes);
	json_decref(changes);
	return (rc);
}

/* The therapy_bookings.complete job. */

static int
id_cmp(const void *a, const void *b)
{
	const char	*x = *(const char *const *)a;
	const char	*y = *(const char *const *)b;

	return (strcmp(x != NULL ? x : "", y != NULL ? y : ""));
}

/* One batch: complete, touch the users; *n how many were completed. */
static int
complete_batch(struct store *db, int64_t now, int64_t *n)
{
	struct tx	*tx;
	struct stmt	*st;
	json_t		*users;
	const char	**v;
	size_t		 i;
	int		 rc;

	*n = 0;
	if ((users = json_array()) == NULL)
		return (ERR_NOMEM);
	if ((rc = store_tx_begin(db, STORE_TX_WRITE, &tx)) != OK) {
		json_decref(users);
		return (rc);
	}
	/* The users in id order: chat_profile_touch takes row locks. */
	st = store_prepare(tx, "UPDATE therapy_bookings SET completed_at = "
	    "end_date_time, updated_at = ? WHERE id IN (SELECT id FROM "
	    "therapy_bookings WHERE completed_at IS NULL AND cancelled_at IS "
	    "NULL AND end_date_time <= ? ORDER BY end_date_time, id LIMIT ?) "
	    "RETURNING user_id");
	store_bind_int64(st, 1, now);
	store_bind_int64(st, 2, now);
	store_bind_int64(st, 3, BOOKING_COMPLETE_BATCH);
	while ((rc = store_step(st)) == STORE_ROW) {
		(*n)++;
		json_array_append_new(users, json_string(store_col_text(st,
		    0)));
	}
	store_finalize(st);
	if (rc == STORE_DONE && (v = calloc(json_array_size(users) + 1,
	    sizeof(*v))) == NULL)
		rc = ERR_NOMEM;
	else if (rc == STORE_DONE) {
		rc = OK;
		for (i = 0; i < json_array_size(users); i++)
			v[i] = json_string_value(json_array_get(users, i));
		qsort(v, json_array_size(users), sizeof(*v), id_cmp);
		for (i = 0; i < json_array_size(users) && rc == OK; i++)
			if (v[i] != NULL && (i == 0 || v[i - 1] == NULL ||
			    strcmp(v[i], v[i - 1]) != 0))
				rc = chat_profile_touch(tx, v[i]);
		free(v);
	}
	json_decref(users);
	if (rc != OK) {
		store_tx_rollback(tx);
		return (rc == ERR_BUSY || rc == ERR_NOMEM ? rc : ERR_DB);
	}
	return (store_tx_commit(tx));
}

int
bookings_complete_job(struct store *db, const struct job *job, char *err)
{
	int64_t	 now = time_now_ms(), n, total = 0;
	int	 rc;

	(void)job;
	do {
		rc = complete_batch(db, now, &n);
		total += n;
	} while (rc == OK && n == BOOKING_COMPLETE_BATCH);
	if (rc != OK)
		snprintf(err, JOB_ERR_LEN, "therapy_bookings.complete: %s",
		    err_code(rc));
	else if (total > 0)
		log_info("event=bookings_completed count=%lld",
		    (long long)total);
	return (rc);
}
