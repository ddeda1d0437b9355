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
 *		 checked and bounded (input.c); other members are ignored
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
 * The rows are served to people by the therapy_bookings resource
 * (bookings.c) and the in-app cancel (app.c). client_email,
 * client_timezone, service_provider_name and service_provider_email are
 * sealed under the user's data key (an update for a person erased
 * meanwhile stores none of them). Every write is audited and touches the
 * user's chat profile (ops/chatsync.h: therapy counts and times).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

#include "bookings/bookings_int.h"
#include "core/config.h"
#include "core/err.h"
#include "core/keyring.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "ops/inbox.h"
#include "resource/hooks.h"
#include "resource/seal.h"
#include "store/store.h"

#define SPEND_TRIES 4 /* accesses tried when another writer wins */

static int sb_prepare(const char *, size_t, json_t **, struct inbox_result *);
static int sb_verify(
    struct request *, const char *, size_t, struct inbox_result *);
static int stamp_check(
    struct request *, const char *, size_t, struct inbox_result *);
static int sb_process(
    struct tx *, const char *, size_t, json_t *, struct inbox_result *);
static int  user_find(struct tx *, json_t *, char *, struct inbox_result *);
static int  user_alive(struct tx *, const char *, int, struct inbox_result *);
static int  spend(struct tx *, const char *, char *, char *, int64_t *,
     struct inbox_result *);
static int  seal_members(struct tx *, json_t *, const char *, const char *,
     const char *const *, size_t, unsigned char **, size_t *);
static void bind_sealed(struct stmt *, int, const unsigned char *, size_t);
static int  booking_insert(
     struct tx *, json_t *, const char *, const char *, const char *, char *);
static int hook_new_booking(struct tx *, json_t *, struct inbox_result *);
static int hook_updated_booking(struct tx *, json_t *, struct inbox_result *);
static int hook_cancelled_booking(struct tx *, json_t *, struct inbox_result *);

static const char *const keep_headers[] = { "X-Simplybook-Timestamp", NULL };

const struct inbox_source simplybook_source = {
	"simplybook",
	keep_headers,
	sb_verify,
	sb_prepare,
	sb_process,
};

void
bookings_webhook(struct request *req)
{
	inbox_receive(req, &simplybook_source);
}

/* Verification */

static int
sb_verify(
    struct request *req, const char *body, size_t len, struct inbox_result *r)
{
	const char   *secret = config.simplybook_webhook_secret;
	const char   *tok, *auth;
	unsigned char want[crypto_generichash_BYTES];
	unsigned char got[crypto_generichash_BYTES];
	int	      ok;

	if (secret == NULL || secret[0] == '\0')
		return (inbox_fail(r, ERR_UNAVAILABLE, "WEBHOOK_NOT_CONFIGURED",
		    "The booking webhook token is not configured."));
	if ((tok = http_header(req, "X-Simplybook-Token")) == NULL &&
	    (auth = http_header(req, "Authorization")) != NULL &&
	    strncasecmp(auth, "Bearer ", 7) == 0)
		tok = auth + 7;
	if (tok == NULL || tok[0] == '\0')
		return (inbox_fail(r, ERR_UNAUTHORIZED, "TOKEN_MISSING",
		    "Send "
		    "the webhook token in X-Simplybook-Token or Authorization: "
		    "Bearer."));
	/* Hashes of equal length whatever was sent: no length leaks. */
	crypto_generichash(want, sizeof(want), (const unsigned char *)secret,
	    strlen(secret), NULL, 0);
	crypto_generichash(
	    got, sizeof(got), (const unsigned char *)tok, strlen(tok), NULL, 0);
	ok = sodium_memcmp(want, got, sizeof(want)) == 0;
	sodium_memzero(want, sizeof(want));
	sodium_memzero(got, sizeof(got));
	if (!ok)
		return (inbox_fail(r, ERR_UNAUTHORIZED, "TOKEN_INVALID",
		    "The "
		    "webhook token is not valid."));
	return (stamp_check(req, body, len, r));
}

/* A timestamp, when sent, must be recent: an old body is not replayed. */
static int
stamp_check(
    struct request *req, const char *body, size_t len, struct inbox_result *r)
{
	const char *h = http_header(req, "X-Simplybook-Timestamp");
	json_t	   *doc = NULL, *v;
	int64_t	    ts = 0, skew, tol;
	int	    bad = 0;

	if (h != NULL)
		bad = booking_stamp_parse(h, &ts) != 0;
	else if (len <= (size_t)config.webhook_body_limit &&
	    (doc = json_loadb(body, len, 0, NULL)) != NULL &&
	    (v = json_object_get(doc, "timestamp")) != NULL &&
	    !json_is_null(v)) {
		if (json_is_integer(v) && json_integer_value(v) >= 0 &&
		    json_integer_value(v) <= BOOKING_TIME_MAX_MS / 1000)
			ts = (int64_t)json_integer_value(v) * 1000;
		else if (!json_is_string(v) ||
		    booking_stamp_parse(json_string_value(v), &ts) != 0)
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
		return (inbox_fail(r, ERR_UNAUTHORIZED, "STALE_TIMESTAMP",
		    "The "
		    "timestamp is more than %lld s from now.",
		    (long long)config.simplybook_timestamp_tolerance_s));
	return (OK);
}

/*
 * The payload checks are bookings_payload_parse (input.c, fuzzed). Before
 * them, the address the body names ties its inbox row to a person, even
 * when the payload is refused (inbox.h); the body is small, so it is
 * parsed twice rather than the check taking a key.
 */
static int
sb_prepare(const char *body, size_t len, json_t **work, struct inbox_result *r)
{
	json_t *p, *v;

	if ((p = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL)) != NULL) {
		v = json_object_get(p, "client_email");
		if (json_is_string(v) &&
		    strlen(json_string_value(v)) <= BOOKING_EMAIL_MAX)
			keyring_email_index(
			    json_string_value(v), r->email_index);
		json_decref(p);
	}
	return (bookings_payload_parse(body, len, work, r));
}

/* Writes */

/* The live user the payload names: by user_id, else by client_email. */
static int
user_find(struct tx *tx, json_t *w, char *out, struct inbox_result *r)
{
	struct stmt *st;
	const char  *uid, *email;
	char	     idx[65];
	int	     rc;

	uid = json_string_value(json_object_get(w, "user_id"));
	email = json_string_value(json_object_get(w, "client_email"));
	if (uid != NULL) {
		st = store_prepare(tx,
		    "SELECT id FROM users WHERE id = ? AND "
		    "deleted_at IS NULL");
		store_bind_text(st, 1, uid);
	} else {
		keyring_email_index(email != NULL ? email : "", idx);
		st = store_prepare(tx,
		    "SELECT id FROM users WHERE "
		    "email_index = ? AND deleted_at IS NULL");
		store_bind_text(st, 1, idx);
	}
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		strlcpy_cb(out, store_col_text(st, 0), UUID_STR_LEN);
		rc = OK;
		break;
	case STORE_DONE:
		rc = inbox_fail(r, ERR_NOT_FOUND, "USER_NOT_FOUND",
		    "No user "
		    "has that %s.",
		    uid != NULL ? "user_id" : "client_email");
		break;
	}
	store_finalize(st);
	/*
	 * A user_id naming an erased person ties the inbox row to them, so
	 * its body is dropped like those of their earlier webhooks.
	 */
	if (rc == ERR_NOT_FOUND && uid != NULL && uuid_valid(uid)) {
		st = store_prepare(tx,
		    "SELECT id FROM users WHERE id = ? AND "
		    "deleted_at IS NOT NULL");
		store_bind_text(st, 1, uid);
		if (store_step(st) == STORE_ROW)
			strlcpy_cb(r->user_id, store_col_text(st, 0),
			    sizeof(r->user_id));
		store_finalize(st);
	}
	return (rc);
}

/*
 * After hooks_person_lock: the user was not deleted (live) or not erased
 * (!live) meanwhile. Nothing about an erased person is written.
 */
static int
user_alive(struct tx *tx, const char *user, int live, struct inbox_result *r)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx,
	    live ? "SELECT 1 FROM users WHERE id = ? AND "
		   "deleted_at IS NULL"
		 : "SELECT 1 FROM users WHERE id = ? AND "
		   "(deleted_at IS NULL OR audit_ref IS NOT NULL)");
	store_bind_text(st, 1, user);
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_ROW)
		return (OK);
	if (rc == STORE_DONE)
		return (inbox_fail(r, ERR_NOT_FOUND, "USER_NOT_FOUND",
		    "The "
		    "booking's user no longer exists."));
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
	struct stmt *st;
	int64_t	     n = 0;
	int	     rc, i;

	for (i = 0; i < SPEND_TRIES && n == 0; i++) {
		st = store_prepare(tx,
		    "SELECT a.id, a.partner_id, "
		    "a.therapy_sessions_remaining FROM partner_access a JOIN "
		    "partners p ON p.id = a.partner_id WHERE a.user_id = ? AND "
		    "a.is_active = 1 AND a.deleted_at IS NULL AND "
		    "a.feature_therapy = 1 AND a.therapy_sessions_remaining > "
		    "0 "
		    "AND p.is_active = 1 ORDER BY a.created_at, a.id LIMIT 1");
		store_bind_text(st, 1, user);
		if ((rc = store_step(st)) == STORE_ROW) {
			strlcpy_cb(access, store_col_text(st, 0), UUID_STR_LEN);
			strlcpy_cb(
			    partner, store_col_text(st, 1), UUID_STR_LEN);
			*left = store_col_int64(st, 2) - 1;
		}
		store_finalize(st);
		if (rc == STORE_DONE)
			return (inbox_fail(r, ERR_FORBIDDEN,
			    "NO_THERAPY_SESSIONS_LEFT",
			    "The user has no "
			    "active partner access with therapy sessions "
			    "left."));
		if (rc != STORE_ROW)
			return (rc);
		st = store_prepare(tx,
		    "UPDATE partner_access SET "
		    "therapy_sessions_remaining = therapy_sessions_remaining - "
		    "1, therapy_sessions_redeemed = therapy_sessions_redeemed "
		    "+ "
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

/*
 * Seal the members of w named in cols (n of them) for row id under
 * user's key into sealed[] (NULL where w has none). ERR_NOT_FOUND when
 * the user's key is gone (erased); the caller frees sealed[].
 */
static int
seal_members(struct tx *tx, json_t *w, const char *user, const char *id,
    const char *const *cols, size_t n, unsigned char **sealed, size_t *len)
{
	unsigned char key[SEAL_KEY_LEN];
	const char   *v;
	size_t	      i;
	int	      rc;

	for (i = 0; i < n; i++) {
		sealed[i] = NULL;
		len[i] = 0;
	}
	if ((rc = seal_key_load(tx, user, key)) != OK)
		return (rc);
	for (i = 0; i < n && rc == OK; i++)
		if ((v = json_string_value(json_object_get(w, cols[i]))) !=
		    NULL)
			rc = seal_field(key, "therapy_bookings", cols[i], id, v,
			    &sealed[i], &len[i]);
	sodium_memzero(key, sizeof(key));
	return (rc);
}

static void
bind_sealed(struct stmt *st, int at, const unsigned char *sealed, size_t len)
{
	if (sealed != NULL)
		store_bind_blob(st, at, sealed, len);
	else
		store_bind_null(st, at);
}

static int
booking_insert(struct tx *tx, json_t *w, const char *user, const char *access,
    const char *partner, char *id)
{
	static const char *const sealed_cols[] = { "client_email",
		"client_timezone", "service_provider_name",
		"service_provider_email" };
	static const int	 sealed_at[] = { 5, 7, 10, 11 };
	struct stmt		*st;
	unsigned char		*sealed[NELEM(sealed_cols)];
	const char		*email;
	char			 idx[65];
	size_t			 len[NELEM(sealed_cols)], i;
	int64_t			 now = time_now_ms();
	int			 rc;

	uuid_v7(id);
	if ((rc = seal_members(tx, w, user, id, sealed_cols, NELEM(sealed_cols),
		 sealed, len)) != OK) {
		rc = rc == ERR_NOT_FOUND ? ERR_CONFLICT : rc;
		goto out;
	}
	email = json_string_value(json_object_get(w, "client_email"));
	if (email != NULL)
		keyring_email_index(email, idx);
	st = store_prepare(tx,
	    "INSERT INTO therapy_bookings (id, action, "
	    "user_id, partner_access_id, partner_id, client_email, "
	    "client_email_index, client_timezone, booking_code, service_name, "
	    "service_provider_name, service_provider_email, start_date_time, "
	    "end_date_time, created_at, updated_at) VALUES (?, 'NEW_BOOKING', "
	    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, user);
	store_bind_text(st, 3, access);
	store_bind_text(st, 4, partner);
	for (i = 0; i < NELEM(sealed_cols); i++)
		bind_sealed(st, sealed_at[i], sealed[i], len[i]);
	store_bind_text(st, 6, email != NULL ? idx : NULL);
	store_bind_text(
	    st, 8, json_string_value(json_object_get(w, "booking_code")));
	store_bind_text(
	    st, 9, json_string_value(json_object_get(w, "service_name")));
	store_bind_int64(
	    st, 12, json_integer_value(json_object_get(w, "start_date_time")));
	store_bind_int64(
	    st, 13, json_integer_value(json_object_get(w, "end_date_time")));
	store_bind_int64(st, 14, now);
	store_bind_int64(st, 15, now);
	rc = store_step(st);
	store_finalize(st);
	rc = rc == STORE_DONE ? OK : rc;
out:
	for (i = 0; i < NELEM(sealed_cols); i++)
		free(sealed[i]);
	return (rc);
}

/* NEW_BOOKING */
static int
hook_new_booking(struct tx *tx, json_t *w, struct inbox_result *r)
{
	struct booking b;
	json_t	      *row = NULL, *fields;
	const char    *code =
	    json_string_value(json_object_get(w, "booking_code"));
	char	user[UUID_STR_LEN], access[UUID_STR_LEN];
	char	partner[UUID_STR_LEN], id[UUID_STR_LEN];
	int64_t left = 0;
	int	rc;

	if ((rc = user_find(tx, w, user, r)) != OK)
		return (rc);
	strlcpy_cb(r->user_id, user, sizeof(r->user_id));
	/* One booking at a time per user (the allowance), and none racing
	 * their erasure: still there once the lock is ours? */
	if ((rc = hooks_person_lock(tx, user)) != OK ||
	    (rc = user_alive(tx, user, 1, r)) != OK)
		return (rc);
	switch ((rc = booking_find(tx, code, NULL, &b))) {
	case OK:
		if (strcmp(b.user_id, user) != 0)
			return (inbox_fail(r, ERR_CONFLICT,
			    "BOOKING_CODE_TAKEN",
			    "Another user's booking has that booking_code."));
		/* The same booking again: answered, nothing spent. */
		if ((rc = booking_answer(tx, b.id, &row)) != OK)
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
	    (rc = hooks_changed(tx, CHANGE_PERSON, user)) != OK ||
	    (rc = booking_answer(tx, id, &row)) != OK)
		return (rc);
	r->out = json_pack("{s:b,s:o,s:I}", "duplicate", 0, "booking", row,
	    "therapy_sessions_remaining", (json_int_t)left);
	return (r->out != NULL ? OK : ERR_NOMEM);
}

/* UPDATED_BOOKING */
static int
hook_updated_booking(struct tx *tx, json_t *w, struct inbox_result *r)
{
	static const char *const texts[] = { "client_timezone", "service_name",
		"service_provider_name", "service_provider_email", NULL };
	static const char *const sealed_cols[] = { "client_timezone",
		"service_provider_name", "service_provider_email" };
	static const int	 sealed_at[] = { 4, 6, 7 };
	struct booking		 b;
	struct stmt		*st;
	json_t			*row = NULL, *fields;
	unsigned char		*sealed[NELEM(sealed_cols)];
	size_t			 len[NELEM(sealed_cols)], j;
	const char		*code =
	    json_string_value(json_object_get(w, "booking_code"));
	int64_t start, end, from;
	int	rc, i;

	if ((rc = booking_find(tx, code, NULL, &b)) == ERR_NOT_FOUND)
		return (inbox_fail(r, rc, "BOOKING_NOT_FOUND",
		    "No booking has "
		    "that booking_code."));
	if (rc != OK)
		return (rc);
	strlcpy_cb(r->user_id, b.user_id, sizeof(r->user_id));
	if ((rc = hooks_person_lock(tx, b.user_id)) != OK ||
	    (rc = user_alive(tx, b.user_id, 0, r)) != OK)
		return (rc);
	if (b.cancelled)
		return (inbox_fail(r, ERR_CONFLICT, "BOOKING_CANCELLED",
		    "The "
		    "booking is cancelled."));
	/* Sealed under the client's key; nothing new kept once erased. */
	if ((rc = booking_seal_legacy_row(tx, b.id)) != OK)
		return (rc);
	rc = seal_members(tx, w, b.user_id, b.id, sealed_cols,
	    NELEM(sealed_cols), sealed, len);
	if (rc == ERR_NOT_FOUND)
		rc = OK;
	if (rc != OK)
		goto out;
	start = json_integer_value(json_object_get(w, "start_date_time"));
	end = json_integer_value(json_object_get(w, "end_date_time"));
	/* A new start keeps the old one; the same start again changes
	 * nothing there (a replayed update is harmless). */
	from = start != b.start ? b.start : b.rescheduled_from;
	st = store_prepare(tx,
	    "UPDATE therapy_bookings SET action = "
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
	for (j = 0; j < NELEM(sealed_cols); j++)
		bind_sealed(st, sealed_at[j], sealed[j], len[j]);
	store_bind_text(
	    st, 5, json_string_value(json_object_get(w, "service_name")));
	store_bind_int64(st, 8, time_now_ms());
	store_bind_int64(st, 9, end); /* the new end, passed? */
	store_bind_int64(st, 10, time_now_ms());
	store_bind_int64(st, 11, end);
	store_bind_text(st, 12, b.id);
	rc = store_step(st);
	store_finalize(st);
	rc = rc == STORE_DONE ? OK : rc;
out:
	for (j = 0; j < NELEM(sealed_cols); j++)
		free(sealed[j]);
	if (rc != OK)
		return (rc);
	fields = json_pack("[s,s]", "start_date_time", "end_date_time");
	if (start != b.start)
		json_array_append_new(fields, json_string("rescheduled_from"));
	for (i = 0; texts[i] != NULL; i++)
		if (json_object_get(w, texts[i]) != NULL)
			json_array_append_new(fields, json_string(texts[i]));
	if ((rc = booking_audit(tx, NULL, NULL, "therapy_bookings.update", b.id,
		 json_pack("{s:o,s:s}", "fields", fields, "source",
		     "simplybook"))) != OK ||
	    (rc = hooks_changed(tx, CHANGE_PERSON, b.user_id)) != OK ||
	    (rc = booking_answer(tx, b.id, &row)) != OK)
		return (rc);
	r->out = json_pack("{s:o}", "booking", row);
	return (r->out != NULL ? OK : ERR_NOMEM);
}

/* CANCELLED_BOOKING */
static int
hook_cancelled_booking(struct tx *tx, json_t *w, struct inbox_result *r)
{
	struct booking b;
	json_t	      *row = NULL;
	int	       rc, again = 0;

	if ((rc = booking_find(tx,
		 json_string_value(json_object_get(w, "booking_code")), NULL,
		 &b)) == ERR_NOT_FOUND)
		return (inbox_fail(r, rc, "BOOKING_NOT_FOUND",
		    "No booking has "
		    "that booking_code."));
	if (rc != OK)
		return (rc);
	strlcpy_cb(r->user_id, b.user_id, sizeof(r->user_id));
	if ((rc = hooks_person_lock(tx, b.user_id)) != OK ||
	    (rc = user_alive(tx, b.user_id, 0, r)) != OK)
		return (rc);
	if ((rc = booking_cancel_give_back(tx, &b)) == ERR_CONFLICT)
		again = 1;
	else if (rc != OK ||
	    (rc = booking_audit(tx, NULL, NULL, "therapy_bookings.cancel", b.id,
		 json_pack("{s:[s],s:s,s:s}", "fields", "cancelled_at",
		     "source", "simplybook", "partner_access_id",
		     b.access_id))) != OK ||
	    (rc = hooks_changed(tx, CHANGE_PERSON, b.user_id)) != OK)
		return (rc);
	if ((rc = booking_answer(tx, b.id, &row)) != OK)
		return (rc);
	r->out =
	    json_pack("{s:b,s:o}", "already_cancelled", again, "booking", row);
	return (r->out != NULL ? OK : ERR_NOMEM);
}

static int
sb_process(struct tx *tx, const char *body, size_t len, json_t *w,
    struct inbox_result *r)
{
	const char *action = json_string_value(json_object_get(w, "action"));
	int	    rc;

	if ((rc = booking_lock(tx, "code",
		 json_string_value(json_object_get(w, "booking_code")))) != OK)
		return (rc);
	if (strcmp(action, "NEW_BOOKING") == 0)
		return (hook_new_booking(tx, w, r));
	if (strcmp(action, "UPDATED_BOOKING") == 0)
		return (hook_updated_booking(tx, w, r));
	return (hook_cancelled_booking(tx, w, r));
}
