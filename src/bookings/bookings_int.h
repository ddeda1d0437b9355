/*
 * Private to src/bookings: therapy bookings from the booking system
 * (Simplybook), each with an external provider, spending one therapy
 * session of the client's partner access.
 *
 *	bookings.c	the module: routes, jobs, start-up, and the
 *			therapy_bookings resource (how people see the rows)
 *	rows.c		what the webhook, the app and the jobs share: find,
 *			lock, cancel and give back, audit, sealing of rows
 *			left in clear, completion
 *	webhook.c	POST /v1/webhooks/simplybook (an inbox source)
 *	input.c		the webhook's payload and timestamp parsers (pure;
 *			fuzzed)
 *	app.c		the in-app cancel, /v1/me/therapy-bookings, erasure
 *	notify.c	the booking system told of an in-app cancel
 *
 * webhook.c and app.c both stand on rows.c and never call each other.
 */
#ifndef BOOKINGS_BOOKINGS_INT_H
#define BOOKINGS_BOOKINGS_INT_H

#include <stdint.h>

#include <jansson.h>

#include "core/util.h"

struct request;
struct tx;
struct store;
struct job;
struct principal;
struct resource;
struct inbox_result;
struct inbox_source;
struct gdpr_hook;

/*
 * Bounds of the webhook's payload: codes of [A-Za-z0-9_-], names in code
 * points, times between 2000 and 2100 and a booking at most a day long.
 */
#define BOOKING_CODE_MAX      64  /* characters of a booking_code */
#define BOOKING_TEXT_MAX      200 /* code points of a service or provider name */
#define BOOKING_TZ_MAX	      64  /* characters of client_timezone */
#define BOOKING_EMAIL_MAX     254 /* bytes of an address */
#define BOOKING_LENGTH_MAX_MS (24LL * 3600 * 1000)
#define BOOKING_TIME_MIN_MS   946684800000LL  /* 2000-01-01 */
#define BOOKING_TIME_MAX_MS   4102444800000LL /* 2100-01-01 */

/* One booking as the writes see it. */
struct booking {
	char	id[UUID_STR_LEN];
	char	user_id[UUID_STR_LEN];
	char	access_id[UUID_STR_LEN]; /* "" when none */
	char	code[BOOKING_CODE_MAX + 1];
	int64_t start, end, rescheduled_from; /* rescheduled_from -1: none */
	int	cancelled;
};

/* bookings.c */
/*
 * The rows as people see them: admins all, partner admins their
 * partner's (without the client's address), clients their own.
 * client_email, client_timezone, service_provider_name and
 * service_provider_email are sealed under the client's data key, bound to
 * "therapy_bookings.<column>:<id>".
 */
extern const struct resource therapy_bookings_resource;

/* rows.c */
/* The booking with code (or, when code is NULL, with id); ERR_NOT_FOUND. */
int booking_find(
    struct tx *, const char *code, const char *id, struct booking *);
/* Serialise writers of one booking code ("code") or user ("user"). */
int booking_lock(struct tx *, const char *kind, const char *value);
/*
 * Cancel b and give its session back to its access, exactly once:
 * ERR_CONFLICT when it was cancelled already (guarded against concurrent
 * cancels).
 */
int booking_cancel_give_back(struct tx *, const struct booking *);
/* Append an audit record on therapy_bookings row id; takes changes. */
int booking_audit(struct tx *, const struct principal *, struct request *,
    const char *action, const char *id, json_t *changes);
/* The booking as the booking system is answered: no client address. */
int booking_answer(struct tx *, const char *id, json_t **out);
/*
 * Rows carried over in clear by migration 0011 (legacy_plain = 1): seal
 * those columns of row id (nothing when it is not such a row; a person
 * erased meanwhile loses them), and every such row in batches, at
 * start-up.
 */
int booking_seal_legacy_row(struct tx *, const char *id);
int bookings_seal_legacy(struct store *);
/*
 * The therapy_bookings.complete job (every minute): bookings not cancelled
 * whose end has passed get completed_at = their end, at most
 * BOOKING_COMPLETE_BATCH a transaction, and their users' chat profiles
 * are touched (the last and next session times move).
 */
#define BOOKING_COMPLETE_BATCH 500
int bookings_complete_job(struct store *, const struct job *, char *err);

/* webhook.c */
extern const struct inbox_source simplybook_source;
void				 bookings_webhook(struct request *);

/* input.c: the pure parsers of the webhook (no database, no HTTP), shared
 * with the fuzz target. */
/*
 * A webhook timestamp: Unix seconds (digits only, at most
 * BOOKING_TIME_MAX_MS / 1000) or ISO 8601, into *ms; 0, or -1 when it is
 * neither.
 */
int booking_stamp_parse(const char *s, int64_t *ms);
/*
 * The webhook body (the inbox's prepare step): OK with *work (owned)
 * holding the members kept, times as ms; otherwise *work NULL and r set:
 * ERR_MALFORMED (not a JSON object), ERR_INVALID (r->errors, one entry
 * per bad member).
 */
int bookings_payload_parse(
    const char *body, size_t len, json_t **work, struct inbox_result *r);

/* app.c */
extern const struct gdpr_hook bookings_gdpr_hook;
/* POST /v1/therapy-bookings/{id}/cancel */
void bookings_app_cancel(struct request *);
/* GET /v1/me/therapy-bookings */
void bookings_app_mine(struct request *);

/*
 * profile.c: the therapy session times of a person's chat profile
 * (resource/hooks.h), registered by bookings_init.
 */
int bookings_profile_init(void);

/* notify.c */
/*
 * The booking system told of an in-app cancel: with booking_cancel_url
 * set, the cancel queues one BOOKINGS_NOTIFY_KIND job that POSTs a signed
 * {"event": "booking.cancelled", ...} there (see the file's top).
 */
#define BOOKINGS_NOTIFY_KIND	  "therapy_bookings.notify_cancel"
#define BOOKINGS_NOTIFY_QUEUE	  "bookings"
#define BOOKINGS_NOTIFY_ATTEMPTS  10 /* ~17 min with the default backoff */
#define BOOKINGS_NOTIFY_TIMEOUT_S 10 /* connect, and the whole request */
/* 1 when booking_cancel_url is set. */
int bookings_notify_enabled(void);
/*
 * Queue the notice of booking code's cancel (cancelled_at ISO 8601, by
 * "client" or "staff") inside tx; *state (borrowed) is "queued", or
 * "not_configured" when booking_cancel_url is empty (nothing queued).
 */
int bookings_notify_cancel(struct tx *, const char *code,
    const char *cancelled_at, const char *by, const char **state);
int bookings_notify_job(struct store *, const struct job *, char *err);

#endif
