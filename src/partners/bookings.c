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
 * completed_at: the job therapy_bookings.complete (every minute) sets it
 * to end_date_time once that has passed, for bookings not cancelled; a
 * cancelled booking is never completed.
 *
 * bookings_app.c serves the rows to people (who sees which, the in-app
 * cancel, GDPR). client_email, client_timezone, service_provider_name
 * and service_provider_email are sealed under the user's data key (an
 * update for a person erased meanwhile stores none of them). Every
 * write is audited ("therapy_bookings.create", ".update", ".cancel") and
 * touches the user's chat profile (ops/chatsync.h: therapy counts and
 * times).
 */
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
#include "ops/inbox.h"
#include "partners/partners_int.h"
#include "people/people.h"
#include "resource/hooks.h"
#include "resource/audit.h"
#include "resource/seal.h"
#include "store/jobs.h"
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
static int  booking_public(struct tx *, const char *, json_t **);
static int  spend(struct tx *, const char *, char *, char *, int64_t *,
     struct inbox_result *);
static int  seal_members(struct tx *, json_t *, const char *, const char *,
     const char *const *, size_t, unsigned char **, size_t *);
static void bind_sealed(struct stmt *, int, const unsigned char *, size_t);
static int  booking_insert(
     struct tx *, json_t *, const char *, const char *, const char *, char *);
static int booking_new(struct tx *, json_t *, struct inbox_result *);
static int booking_update(struct tx *, json_t *, struct inbox_result *);
static int booking_cancelled(struct tx *, json_t *, struct inbox_result *);
static int id_cmp(const void *, const void *);
static int complete_batch(struct store *, int64_t, int64_t *);

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

int
booking_lock(struct tx *tx, const char *kind, const char *value)
{
	char key[128];

	snprintf(key, sizeof(key), "therapy_bookings:%s:%s", kind, value);
	return (store_xact_lock(tx, key));
}

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
 * After people_user_lock: the user was not deleted (live) or not erased
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

/* The booking with code (or, when code is NULL, with id); ERR_NOT_FOUND. */
int
booking_find(struct tx *tx, const char *code, const char *id, struct booking *b)
{
	struct stmt *st;
	int	     rc;

	memset(b, 0, sizeof(*b));
	st = store_prepare(tx,
	    code != NULL
		? "SELECT id, user_id, "
		  "partner_access_id, booking_code, start_date_time, "
		  "end_date_time, "
		  "rescheduled_from, cancelled_at FROM therapy_bookings WHERE "
		  "booking_code = ?"
		: "SELECT id, user_id, partner_access_id, "
		  "booking_code, start_date_time, end_date_time, "
		  "rescheduled_from, "
		  "cancelled_at FROM therapy_bookings WHERE id = ?");
	store_bind_text(st, 1, code != NULL ? code : id);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		strlcpy_cb(b->id, store_col_text(st, 0), sizeof(b->id));
		strlcpy_cb(
		    b->user_id, store_col_text(st, 1), sizeof(b->user_id));
		if (!store_col_is_null(st, 2))
			strlcpy_cb(b->access_id, store_col_text(st, 2),
			    sizeof(b->access_id));
		strlcpy_cb(b->code, store_col_text(st, 3), sizeof(b->code));
		b->start = store_col_int64(st, 4);
		b->end = store_col_int64(st, 5);
		b->rescheduled_from =
		    store_col_is_null(st, 6) ? -1 : store_col_int64(st, 6);
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
	struct stmt *st;
	struct bkey  k;
	int	     rc;

	*out = NULL;
	memset(&k, 0, sizeof(k));
	st = store_prepare(
	    tx, "SELECT " BOOKING_COLUMNS FROM_BOOKINGS " AND b.id = ?");
	store_bind_text(st, 1, id);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		rc = (*out = booking_row(tx, st, 0, &k)) != NULL ? OK
								 : ERR_NOMEM;
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	}
	store_finalize(st);
	bkey_wipe(&k);
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

static int
booking_new(struct tx *tx, json_t *w, struct inbox_result *r)
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
	if ((rc = people_user_lock(tx, user)) != OK ||
	    (rc = user_alive(tx, user, 1, r)) != OK)
		return (rc);
	switch ((rc = booking_find(tx, code, NULL, &b))) {
	case OK:
		if (strcmp(b.user_id, user) != 0)
			return (inbox_fail(r, ERR_CONFLICT,
			    "BOOKING_CODE_TAKEN",
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
	    (rc = hooks_changed(tx, CHANGE_PERSON, user)) != OK ||
	    (rc = booking_public(tx, id, &row)) != OK)
		return (rc);
	r->out = json_pack("{s:b,s:o,s:I}", "duplicate", 0, "booking", row,
	    "therapy_sessions_remaining", (json_int_t)left);
	return (r->out != NULL ? OK : ERR_NOMEM);
}

static int
booking_update(struct tx *tx, json_t *w, struct inbox_result *r)
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
	if ((rc = people_user_lock(tx, b.user_id)) != OK ||
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
	struct stmt *st;
	int64_t	     now = time_now_ms(), n;
	int	     rc;

	/* A cancelled booking is never completed (see the top). */
	st = store_prepare(tx,
	    "UPDATE therapy_bookings SET action = "
	    "'CANCELLED_BOOKING', cancelled_at = ?, updated_at = ?, "
	    "completed_at = NULL WHERE id = ? AND cancelled_at IS NULL");
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
	st = store_prepare(tx,
	    "UPDATE partner_access SET "
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
	if ((rc = people_user_lock(tx, b.user_id)) != OK ||
	    (rc = user_alive(tx, b.user_id, 0, r)) != OK)
		return (rc);
	if ((rc = booking_cancel(tx, &b)) == ERR_CONFLICT)
		again = 1;
	else if (rc != OK ||
	    (rc = booking_audit(tx, NULL, NULL, "therapy_bookings.cancel", b.id,
		 json_pack("{s:[s],s:s,s:s}", "fields", "cancelled_at",
		     "source", "simplybook", "partner_access_id",
		     b.access_id))) != OK ||
	    (rc = hooks_changed(tx, CHANGE_PERSON, b.user_id)) != OK)
		return (rc);
	if ((rc = booking_public(tx, b.id, &row)) != OK)
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
	int rc;

	if (changes == NULL)
		return (ERR_NOMEM);
	rc =
	    audit_append(tx, who, req, action, "therapy_bookings", id, changes);
	json_decref(changes);
	return (rc);
}

/* The therapy_bookings.complete job. */

static int
id_cmp(const void *a, const void *b)
{
	const char *x = *(const char *const *)a;
	const char *y = *(const char *const *)b;

	return (strcmp(x != NULL ? x : "", y != NULL ? y : ""));
}

/* One batch: complete, touch the users; *n how many were completed. */
static int
complete_batch(struct store *db, int64_t now, int64_t *n)
{
	struct tx   *tx;
	struct stmt *st;
	json_t	    *users;
	const char **v;
	size_t	     i;
	int	     rc;

	*n = 0;
	if ((users = json_array()) == NULL)
		return (ERR_NOMEM);
	if ((rc = store_tx_begin(db, STORE_TX_WRITE, &tx)) != OK) {
		json_decref(users);
		return (rc);
	}
	/* The users in id order: change listeners take row locks. */
	/*
	 * The guards again outside the subquery: on PostgreSQL a row changed
	 * by a concurrent reschedule or cancel is re-checked against the
	 * outer WHERE only (READ COMMITTED does not re-run the LIMIT query).
	 */
	st = store_prepare(tx,
	    "UPDATE therapy_bookings SET completed_at = "
	    "end_date_time, updated_at = ? WHERE id IN (SELECT id FROM "
	    "therapy_bookings WHERE completed_at IS NULL AND cancelled_at IS "
	    "NULL AND end_date_time <= ? ORDER BY end_date_time, id LIMIT ?) "
	    "AND completed_at IS NULL AND cancelled_at IS NULL AND "
	    "end_date_time <= ? RETURNING user_id");
	store_bind_int64(st, 1, now);
	store_bind_int64(st, 2, now);
	store_bind_int64(st, 3, BOOKING_COMPLETE_BATCH);
	store_bind_int64(st, 4, now);
	while ((rc = store_step(st)) == STORE_ROW) {
		(*n)++;
		json_array_append_new(
		    users, json_string(store_col_text(st, 0)));
	}
	store_finalize(st);
	if (rc == STORE_DONE &&
	    (v = calloc(json_array_size(users) + 1, sizeof(*v))) == NULL)
		rc = ERR_NOMEM;
	else if (rc == STORE_DONE) {
		rc = OK;
		for (i = 0; i < json_array_size(users); i++)
			v[i] = json_string_value(json_array_get(users, i));
		qsort(v, json_array_size(users), sizeof(*v), id_cmp);
		for (i = 0; i < json_array_size(users) && rc == OK; i++)
			if (v[i] != NULL &&
			    (i == 0 || v[i - 1] == NULL ||
				strcmp(v[i], v[i - 1]) != 0))
				rc = hooks_changed(tx, CHANGE_PERSON, v[i]);
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
	int64_t now = time_now_ms(), n, total = 0;
	int	rc;

	(void)job;
	do {
		rc = complete_batch(db, now, &n);
		total += n;
	} while (rc == OK && n == BOOKING_COMPLETE_BATCH);
	if (rc != OK)
		snprintf(err, JOB_ERR_LEN, "therapy_bookings.complete: %s",
		    err_code(rc));
	else if (total > 0)
		log_info(
		    "event=bookings_completed count=%lld", (long long)total);
	return (rc);
}
