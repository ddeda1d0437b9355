/*
 * Private to src/partners. partners.c holds the module (routes,
 * resources, init), the partners, features, partner_features and
 * partner_admins resources, the public branding route and the helpers
 * below; access.c the partner_access rows staff create, list and change
 * (and GET /v1/me/partner-access); codes.c the codes themselves: how they
 * are made, normalised and hashed, guess throttling, validate-code,
 * assign and redemption at registration; input.c the pure parsers of
 * what comes from outside (the booking webhook payload, codes and the
 * bodies carrying them, report parameters), which the fuzz targets run.
 */
#ifndef PARTNERS_PARTNERS_INT_H
#define PARTNERS_PARTNERS_INT_H

#include <stdint.h>

#include <jansson.h>

#include "core/crypto.h"
#include "core/fold.h"
#include "core/util.h"
#include "resource/resource.h"

struct request;
struct tx;
struct stmt;
struct principal;
struct resource;

#define PARTNER_NAME_MAX   64	/* code points of a partner's name */
#define PARTNER_URL_MAX	   2048 /* bytes of a logo, website or social URL */
#define PARTNER_SOCIAL_MAX 16	/* members of social_links */
/* Bytes of a name key (partners.name_key) with its NUL. */
#define PARTNER_NAME_KEY_SIZE FOLD_OUT_MAX(PARTNER_NAME_MAX * 4)

/*
 * Codes: PARTNER_CODE_LEN characters drawn uniformly (libsodium's
 * randombytes_uniform) from PARTNER_CODE_ALPHABET, the upper-case letters
 * and digits without the look-alikes 0, O, 1, I and L: 31 symbols, so
 * 31^6 = 887,503,681 codes (29.7 bits). Input is case-insensitive
 * (upper-cased, surrounding blanks dropped) before it is hashed.
 */
#define PARTNER_CODE_LEN       6
#define PARTNER_CODE_ALPHABET  "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
#define PARTNER_CODE_INPUT_MAX 64 /* bytes of a code as typed */
#define PARTNER_CODE_HASH_LEN  65 /* hex of the keyed hash, and NUL */
#define PARTNER_CODE_TTL_MS    (365LL * 24 * 3600 * 1000) /* a year */

/*
 * Guessing: failed look-ups (DOES_NOT_EXIST) per client address and per
 * account within a window; past the limit every look-up is refused (429,
 * Retry-After) until the window ends.
 */
#define PARTNER_GUESS_WINDOW_MS	  (15LL * 60 * 1000)
#define PARTNER_GUESS_MAX_ACCOUNT 10
#define PARTNER_GUESS_MAX_IP	  30

/* therapy_sessions_remaining a creator may set, by their scope. */
#define PARTNER_SESSIONS_MAX_RELATED 6	/* a partner admin */
#define PARTNER_SESSIONS_MAX_ALL     50 /* an admin */

#define PARTNER_LIST_MAX 200

/* partners.c */
extern const struct resource partners_resource;
extern const struct resource features_resource;
extern const struct resource partner_features_resource;
extern const struct resource partner_admins_resource;
void			     partners_public_get(struct request *);
/*
 * The partner user_id administers (an active partner_admins row of an
 * active partner): its id into out (37); ERR_NOT_FOUND without one.
 */
int partners_admin_of(struct tx *, const char *user_id, char *out);
/*
 * The key a partner's name is unique by and found by (partners.name_key):
 * the name under Unicode simple case folding (core/fold.h) into out
 * (PARTNER_NAME_KEY_SIZE). ERR_INVALID for a name that is not UTF-8 or
 * longer than PARTNER_NAME_MAX * 4 bytes (out is then "").
 */
int partners_name_key(const char *name, char *out);
/*
 * A partner by id or by name (without regard to case): id into id_out
 * (37), name into name_out (may be NULL; PARTNER_NAME_MAX * 4 + 1 bytes),
 * *active; ERR_NOT_FOUND.
 */
int partners_find(struct tx *, const char *id_or_name, char *id_out,
    char *name_out, int *active);
/* OK if partner_id has feature switched on (active), else ERR_NOT_FOUND. */
int partners_feature_on(
    struct tx *, const char *partner_id, const char *feature);
/* Append {"field", "code", "detail"} to errs. */
#define partners_err resource_field_err
/* Answer 422 with errs (taken) when it has entries: returns ERR_INVALID;
 * OK (errs freed) when empty. */
#define partners_errs_answer resource_errs_answer

/* access.c */
/* Columns access_row decodes, for "FROM partner_access a JOIN partners p
 * ON p.id = a.partner_id". */
/* clang-format off */
#define ACCESS_COLUMNS	"a.id, a.partner_id, p.name, a.created_by, " \
			"a.user_id, a.feature_live_chat, a.feature_therapy, " \
			"a.therapy_sessions_remaining, " \
			"a.therapy_sessions_redeemed, a.is_active, " \
			"a.activated_at, a.created_at, a.updated_at"
/* clang-format on */
/* One row of ACCESS_COLUMNS; staff also see who made it and for whom. */
json_t *access_row(struct stmt *, int staff);
/* Read one access (not deleted) into *out; ERR_NOT_FOUND. */
int  access_load(struct tx *, const char *id, int staff, json_t **out);
void partner_access_list(struct request *);
void partner_access_get(struct request *);
void partner_access_create(struct request *);
void partner_access_update(struct request *);
void partner_access_delete(struct request *);
void partner_access_mine(struct request *);

/* codes.c */
/* A new random code (normalised). */
void partner_code_new(char out[PARTNER_CODE_LEN + 1]);
/* The keyed hash stored for a normalised code (hex, 64 + NUL). */
void partner_code_hash(const char *code, char out[PARTNER_CODE_HASH_LEN]);
void partner_access_validate(struct request *);
void partner_access_assign(struct request *);
/* The partners.prune_guesses job: drop guess windows that have ended. */
struct store;
struct job;
int partners_prune_guesses(struct store *, const struct job *, char *err);
/* Registration: the people module's register hook (people.h). */
int partners_register_check(struct request *, void **state);
int partners_register_apply(
    struct tx *, struct request *, const char *user_id, void *state);

/* bookings.c */
/*
 * Therapy bookings from the booking system's webhook (Simplybook). Bounds
 * of the payload: codes of [A-Za-z0-9_-], names in code points, times
 * between 2000 and 2100 and a booking at most a day long.
 */
#define BOOKING_CODE_MAX      64  /* characters of a booking_code */
#define BOOKING_TEXT_MAX      200 /* code points of a service or provider name */
#define BOOKING_TZ_MAX	      64  /* characters of client_timezone */
#define BOOKING_EMAIL_MAX     254 /* bytes of an address */
#define BOOKING_LENGTH_MAX_MS (24LL * 3600 * 1000)
#define BOOKING_TIME_MIN_MS   946684800000LL  /* 2000-01-01 */
#define BOOKING_TIME_MAX_MS   4102444800000LL /* 2100-01-01 */
#define BOOKING_LIST_MAX      200

/*
 * Columns booking_row decodes, for SELECT ... FROM_BOOKINGS. Sealed under
 * the user's data key, bound to "therapy_bookings.<column>:<id>":
 * client_email, client_timezone, service_provider_name and
 * service_provider_email. legacy_plain = 1 marks a row carried over by
 * migration 0011 with the last three still in clear, until
 * bookings_seal_legacy (start-up) or its next update seals them.
 */
/* clang-format off */
#define BOOKING_COLUMNS	"b.id, b.action, b.user_id, b.partner_access_id, " \
			"b.partner_id, p.name, b.client_email, " \
			"b.client_timezone, b.booking_code, b.service_name, " \
			"b.service_provider_name, b.service_provider_email, " \
			"b.start_date_time, b.end_date_time, " \
			"b.rescheduled_from, b.cancelled_at, b.completed_at, " \
			"b.created_at, b.updated_at, b.legacy_plain"
/* clang-format on */
/* clang-format off */
#define FROM_BOOKINGS	" FROM therapy_bookings b LEFT JOIN partners p ON " \
			"p.id = b.partner_id WHERE 1 = 1"
/* clang-format on */

/* One booking as the writes see it. */
struct booking {
	char	id[UUID_STR_LEN];
	char	user_id[UUID_STR_LEN];
	char	access_id[UUID_STR_LEN]; /* "" when none */
	char	code[BOOKING_CODE_MAX + 1];
	int64_t start, end, rescheduled_from; /* rescheduled_from -1: none */
	int	cancelled;
};

struct inbox_source;
struct gdpr_hook;
extern const struct inbox_source simplybook_source;
extern const struct gdpr_hook	 bookings_gdpr_hook;
void				 bookings_webhook(struct request *);
/* The booking with code (or, when code is NULL, with id); ERR_NOT_FOUND. */
int booking_find(
    struct tx *, const char *code, const char *id, struct booking *);
/* Serialise writers of one booking code ("code") or user ("user"). */
int booking_lock(struct tx *, const char *kind, const char *value);
/*
 * Cancel and give the session back, exactly once: ERR_CONFLICT when it
 * was cancelled already (guarded against concurrent cancels).
 */
int booking_cancel(struct tx *, const struct booking *);
/* Append an audit record on therapy_bookings row id; takes changes. */
int booking_audit(struct tx *, const struct principal *, struct request *,
    const char *action, const char *id, json_t *changes);

/*
 * The therapy_bookings.complete job (every minute): bookings not cancelled
 * whose end has passed get completed_at = their end, at most
 * BOOKING_COMPLETE_BATCH a transaction, and their users' chat profiles
 * are touched (the last and next session times move).
 */
#define BOOKING_COMPLETE_BATCH 500
int bookings_complete_job(struct store *, const struct job *, char *err);

/* bookings_app.c */
/* The last row owner's data key, so a list opens each key once. */
struct bkey {
	char	      owner[UUID_STR_LEN];
	unsigned char key[SEAL_KEY_LEN];
	int	      state; /* 0 none, 1 loaded, -1 gone */
};
/* Wipe the key held; call before k goes out of scope. */
void bkey_wipe(struct bkey *k);
/*
 * One row of BOOKING_COLUMNS, its sealed fields opened with the owner's
 * key (k caches it across rows); client_email only with email. A field
 * that does not open (the person is erased) is null.
 */
json_t *booking_row(struct tx *, struct stmt *, int email, struct bkey *k);
/*
 * Seal the columns of row id left in clear by migration 0011 (nothing
 * when it is not such a row); a person erased meanwhile loses them.
 */
int booking_seal_legacy_row(struct tx *, const char *id);
/* Every such row, in batches; at start-up (partners_init). */
struct store;
int  bookings_seal_legacy(struct store *);
void bookings_list(struct request *);
void bookings_get(struct request *);
void bookings_cancel(struct request *);
void bookings_mine(struct request *);

/* bookings_out.c */
/*
 * The booking system told of an in-app cancel: with booking_cancel_url
 * set, the cancel queues one BOOKING_OUT_KIND job that POSTs a signed
 * {"event": "booking.cancelled", ...} there (see the file's top).
 */
#define BOOKING_OUT_KIND      "therapy_bookings.notify_cancel"
#define BOOKING_OUT_QUEUE     "bookings"
#define BOOKING_OUT_ATTEMPTS  10 /* ~17 min with the default backoff */
#define BOOKING_OUT_TIMEOUT_S 10 /* connect, and the whole request */
/* 1 when booking_cancel_url is set. */
int booking_out_enabled(void);
/*
 * Queue the notice of booking code's cancel (cancelled_at ISO 8601, by
 * "client" or "staff") inside tx; *state (borrowed) is "queued", or
 * "not_configured" when booking_cancel_url is empty (nothing queued).
 */
int booking_out_enqueue(struct tx *, const char *code, const char *cancelled_at,
    const char *by, const char **state);
int booking_out_job(struct store *, const struct job *, char *err);

/* input.c: the pure parsers of outside input (no database, no HTTP), shared
 * by the handlers and the fuzz targets. */
struct inbox_result;
/*
 * A booking webhook timestamp: Unix seconds (digits only, at most
 * BOOKING_TIME_MAX_MS / 1000) or ISO 8601, into *ms; 0, or -1 when it is
 * neither.
 */
int booking_stamp_parse(const char *s, int64_t *ms);
/*
 * The booking webhook body (the inbox's prepare step): OK with *work
 * (owned) holding the members kept, times as ms; otherwise *work NULL
 * and r set: ERR_MALFORMED (not a JSON object), ERR_INVALID (r->errors,
 * one entry per bad member).
 */
int bookings_payload_parse(
    const char *body, size_t len, json_t **work, struct inbox_result *r);
/*
 * Normalise a code as typed: blanks around it dropped, upper-cased; OK
 * when the rest is PARTNER_CODE_LEN characters of the alphabet (out gets
 * them), ERR_INVALID otherwise.
 */
int partner_code_normalise(const char *in, char out[PARTNER_CODE_LEN + 1]);
/* A code and the partner it is for, as a request body gives them. */
struct partner_code_input {
	char	    code[PARTNER_CODE_LEN + 1]; /* "": none sent */
	const char *partner;	/* a name or id (borrowed), or NULL */
	const char *partner_id; /* a UUID (borrowed), or NULL */
	int	    bad_code;	/* refused: the code is not one */
};
/*
 * The body of validate-code and assign, {"code", "partner"?}: OK;
 * ERR_INVALID with an entry in errs per bad or unknown member;
 * ERR_MALFORMED when the body is not an object, or with bad_code set
 * when the code is missing or not one (400 INVALID_CODE).
 */
int partner_code_body(json_t *body, struct partner_code_input *, json_t *errs);
/*
 * The partner members of a registration body: partner_access_code
 * (null: none), partner_id (a UUID), partner (a name or id). As
 * partner_code_body, but unknown members are not this parser's to judge.
 */
int partner_register_body(
    json_t *body, struct partner_code_input *, json_t *errs);

/*
 * The parts of a person's chat profile (resource/hooks.h), registered by
 * partners_init: chat_profile.c partners, features and session counts,
 * and a partner's members; bookings_profile.c the therapy session times.
 */
int partners_profile_init(void);
int bookings_profile_init(void);

#endif
