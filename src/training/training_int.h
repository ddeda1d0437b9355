/*
 * Private to src/training. training.c holds the module (routes,
 * resources, jobs), the helpers below and the free seats of a schedule;
 * courses.c training courses and the rule of their type and duration;
 * venues.c venues; trainers.c trainers; materials.c course materials;
 * schedules.c course schedules, their rules and status actions.
 * Part 1b: bookings.c training bookings and their attendees (a hold of
 * seats, then confirmed; the booker's actions and staff's), booking_lists.c
 * their lists; discounts.c
 * discount codes and the price of a booking; inquiries.c booking
 * inquiries (questions that hold seats for a while); requirements.c a
 * booking's special requirements; holds.c what expires
 * holds and what a cancelled schedule does to its bookings, and the
 * references bookings and inquiries are known by.
 * Part 1c: stripe.c the exchange with Stripe (requests, signatures);
 * payments.c payment transactions and the route that starts a payment;
 * stripe_webhook.c POST /v1/webhooks/stripe (an inbox source, events
 * deduplicated by id); payment_events.c what a PaymentIntent's events do
 * to its booking; refunds.c refunds asked for and decided, and the
 * cancellation policy; refund_jobs.c refunds made by carebase, the
 * training.refund job that sends them to Stripe, and their events;
 * refunds_manual.c the refunds of bookings paid offline, paid back by
 * staff; refund_mail.c the mail that tells the booker.
 * Part 2 (issue 17): settings.c settings, their cache and maintenance
 * mode; attendance.c attendance records and what completing a schedule
 * does to its bookings; certificates.c certificates, their public
 * verification and the nightly expiry.
 * Also issue 17 (item 5): notify.c notifications, their preferences and
 * how they are sent; notify_mail.c what each type says and its mail
 * template; notify_jobs.c the reminders before a course and before a
 * certificate expires, each once; notify_sms.c the SMS job.
 * Also issue 17: cert_pdf.c the certificate PDF (cert_text.c its text),
 * made in memory from plain fields (its own headers, cert_pdf.h and
 * cert_pdf_int.h); cert_route.c the route that serves it, made from a
 * certificate, its schedule, course and trainer, and the settings.
 * analytics.c the booking funnel's analytics events (item 7), their
 * funnel and retention.
 *
 * Catalogue writes are staff's (admins); the public reads without a token
 * active courses, active venues and upcoming schedules
 * (RESOURCE_PUBLIC_READ). Members book and ask for themselves.
 */
#ifndef TRAINING_TRAINING_INT_H
#define TRAINING_TRAINING_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/util.h"
#include "resource/resource.h"

struct request;
struct tx;
struct store;
struct job;
struct principal;

#define TRAINING_NAME_MAX 200	/* names, titles, codes */
#define TRAINING_TEXT_MAX 10000 /* descriptions, bio */
/* First-aid courses are taught at most 12 learners to one trainer. */
#define TRAINING_LEARNERS_PER_TRAINER 12

/* A schedule is live, holding its trainer's time and its seats, until it
 * is completed or cancelled. */
#define TRAINING_LIVE "('scheduled', 'confirmed', 'in_progress')"

/*
 * The seats of a schedule taken or held, as SQL expressions over a
 * course_schedules row at the moment now (an SQL expression of Unix
 * milliseconds): a booking's seats while it is confirmed (and after:
 * completed, no_show) or pending with its hold ahead of now; an inquiry's
 * number_of_people while it is pending or responded with its hold ahead.
 */
/* clang-format off */
#define TRAINING_BOOKED_AT(now)						\
	"(SELECT COALESCE(SUM(b.seats), 0) FROM training_bookings b "		\
	"WHERE b.schedule_id = course_schedules.id AND (b.status IN "		\
	"('confirmed', 'completed', 'no_show') OR (b.status = 'pending' "	\
	"AND b.hold_expires_at > " now ")))"
#define TRAINING_INQUIRED_AT(now)					\
	"(SELECT COALESCE(SUM(i.number_of_people), 0) FROM "			\
	"booking_inquiries i WHERE i.schedule_id = course_schedules.id AND "	\
	"i.status IN ('pending', 'responded') AND "				\
	"i.hold_expires_at > " now ")"
/* The free seats of a schedule at now: capacity - confirmed seats - live
 * holds (bookings' and inquiries'). */
#define TRAINING_FREE_SEATS_AT(now)					\
	"(course_schedules.capacity - " TRAINING_BOOKED_AT(now) " - "		\
	TRAINING_INQUIRED_AT(now) ")"
/*
 * Holds are set by the application's clock in milliseconds, so a write
 * that takes seats counts them at the application's now, bound
 * (training_free_seats, under the schedule's lock, in its own
 * transaction). The schedules' computed free_seats, shown on reads, has
 * no binds: it reads the database's clock to the second, unixepoch()
 * (SQLite 3.38+; migration 0017 gives PostgreSQL one), and may count a
 * hold for up to a second after it ended. It decides nothing.
 */
#define TRAINING_FREE_SEATS_SQL TRAINING_FREE_SEATS_AT("unixepoch() * 1000")
/* clang-format on */

/* A booking names 1 to this many attendees, one seat each. */
#define TRAINING_ATTENDEES_MAX TRAINING_LEARNERS_PER_TRAINER
/* Characters of a booking or inquiry reference. */
#define TRAINING_REF_LEN  10
#define TRAINING_CODE_MAX 32 /* characters of a discount code */

/* courses.c */
extern const struct resource training_courses_resource;
/*
 * Check a course as it would be (type, hours, days, currency) and append
 * one entry per bad field to errs: EFAW is 6 hours in one day, FAW 18
 * over three days, Paediatric 12 over two (UK practice); requalification
 * and refresher courses have no fixed length. Pure, for unit tests too.
 */
void training_course_check(json_t *course, json_t *errs);

/* venues.c */
extern const struct resource venues_resource;

/* trainers.c */
extern const struct resource trainers_resource;

/* materials.c */
extern const struct resource course_materials_resource;

/* schedules.c */
extern const struct resource course_schedules_resource;
/* POST /v1/course-schedules/{id}/<verb>: the route's arg names the
 * transition. */
void training_schedule_action(struct request *);
struct training_transition {
	const char *verb;    /* "confirm" */
	const char *to;	     /* "confirmed" */
	const char *from[3]; /* NULL-terminated */
};
extern const struct training_transition training_transitions[];

/* training.c: shared helpers */
/* 1 if s is three upper-case letters (an ISO 4217 code's form). Pure. */
int training_currency_ok(const char *s);
/* Digits after the point of an amount in currency as Stripe counts its
 * minor units: 0 (JPY, ...), 3 (KWD, ...) or 2. Pure. */
int training_currency_exponent(const char *currency);
/* minor units of currency as people read them into out: "75.00 GBP",
 * "5000 JPY", "1.500 KWD". Pure. */
void training_money_format(
    int64_t minor, const char *currency, char *out, size_t n);
/*
 * Serialise writers of one row's rules until the transaction ends: kind
 * "course", "venue", "trainer", "schedule" (its seats) or "discount" (a
 * code's uses), "attendance" or "certificate" (an attendee's) and its id (PostgreSQL: an advisory transaction lock;
 * SQLite: the write transaction already does). Taken in that order by
 * whoever takes more than one.
 */
int training_lock(struct tx *, const char *kind, const char *id);
/*
 * Refuse with a problem of status rc and code (NULL: the status's own)
 * whose errors hold one entry {field, fcode, detail}. Returns rc.
 */
int training_refuse(struct request *, int rc, const char *code,
    const char *field, const char *fcode, const char *detail);
/* The member of body named name, else old's (update: the row as it would
 * be); borrowed, NULL when neither has it. */
json_t *training_pick(json_t *body, json_t *old, const char *name);
/*
 * Is there a live schedule for which sql (a fixed statement of the
 * caller's, "SELECT 1 FROM course_schedules WHERE ... = ? AND ... > ?")
 * holds with id and v bound? OK when there is, ERR_NOT_FOUND when not.
 */
int training_schedule_exists(
    struct tx *, const char *sql, const char *id, int64_t v);
/* The free seats of schedule id at now (Unix ms, the application's
 * clock) into *out (TRAINING_FREE_SEATS_AT); ERR_NOT_FOUND. */
int training_free_seats(
    struct tx *, const char *schedule_id, int64_t now, int64_t *out);
/*
 * Dates and days of the business are London's (Europe/London, the UK
 * business's own zone; core/util.h): a qualification_expiry "YYYY-MM-DD"
 * is valid through that day in London, so it ends when London's next day
 * begins (midnight GMT, 23:00 UTC in summer time). Into *end; -1 when
 * date is no date. Pure.
 */
int training_expiry_end(const char *date, int64_t *end);
/* Characters (code points) of UTF-8 text. Pure. */
size_t training_chars(const char *s);
/* A problem naming the field with its own code and a number (free_seats
 * and the like) in extra member name. Returns rc. */
int training_refuse_n(struct request *, int rc, const char *code,
    const char *name, int64_t n, const char *detail);
/* A row's status action's common end: the audit record "<entity>.<verb>"
 * with changes {fields: [status], old: {status: from}, new: {status: to}}. */
int training_audit_move(struct tx *, struct request *, const struct principal *,
    const char *entity, const char *verb, const char *id, const char *from,
    const char *to);

/* bookings.c */
extern const struct resource training_bookings_resource;
extern const struct resource training_booking_attendees_resource;
/* POST /v1/training-bookings: a hold of one seat an attendee. */
void training_booking_create(struct request *);
/* POST /v1/training-bookings/{id}/<verb>: the route's arg is a
 * struct training_move. */
void training_booking_action(struct request *);
/* booking_lists.c: GET /v1/me/training-bookings */
void training_bookings_mine(struct request *);
/* GET /v1/course-schedules/{id}/bookings: with their attendees. */
void training_schedule_bookings(struct request *);
struct training_move {
	const char *verb;    /* "confirm" */
	const char *perm;    /* the permission's action: "confirm" */
	const char *to;	     /* "confirmed" */
	const char *from[3]; /* NULL-terminated */
};
extern const struct training_move training_moves[];
/* Add to a booking row its attendees as a caller with scope sees them
 * ("attendees", in the order named). */
int training_attendees_add(
    struct tx *, const struct principal *, enum scope, json_t *row);
/* Attendees of a booking body: an array of 1 to TRAINING_ATTENDEES_MAX
 * objects of a name and an email, no address twice. Appends an entry to
 * errs per fault ("attendees[2].email"). Pure, for unit tests too. */
void training_attendees_check(json_t *attendees, json_t *errs);

/* discounts.c */
extern const struct resource discount_codes_resource;
/* What a booking costs, in minor units of currency. */
struct training_price {
	int64_t unit, seats, subtotal, discount, total;
	char	currency[4];
	char	code_id[UUID_STR_LEN]; /* "" without a code */
};
/* The discount of a code on subtotal: a percentage (rounded half up) or
 * a fixed amount, never more than subtotal. Pure. */
int64_t training_discount_of(const char *type, int64_t value, int64_t subtotal);
/* A code written as people write it ("spring-10 ") as it is kept
 * ("SPRING-10") into out; 0 when it cannot be a code. Pure. */
int training_code_norm(const char *in, char *out, size_t outlen);
/*
 * Spend one use of code on p for user_id's booking of a course of
 * course_type, under the code's lock: p->discount, p->total and
 * p->code_id set. Refused with a problem and nothing changed: 422
 * DISCOUNT_CODE_INVALID (unknown, inactive, outside its window, another
 * course type or currency, below its minimum price), 409
 * DISCOUNT_CODE_USED_UP, 409 DISCOUNT_CODE_ALREADY_USED (by this person).
 */
int training_discount_spend(struct tx *, struct request *, const char *code,
    const char *user_id, const char *course_type, struct training_price *p);
/* Give back the use booking_id spent, once (an unpaid hold expired or
 * was cancelled). */
int training_discount_release(struct tx *, const char *booking_id, int64_t now);
/* Spend again the use a booking gave back (a late payment revives it),
 * under the code's lock: ERR_CONFLICT when the code is used up or the
 * person's use stands on another booking. OK when there is none. */
struct training_booking;
int training_discount_retake(
    struct tx *, const struct training_booking *, int64_t now);

/* inquiries.c */
extern const struct resource booking_inquiries_resource;
/* POST /v1/booking-inquiries/{id}/respond (staff). */
void training_inquiry_respond(struct request *);
/* Turn the caller's live inquiry id on schedule into a booking's: its
 * seats are no longer held by it. Refused with a problem: 422 (not the
 * caller's, another schedule), 409 HOLD_EXPIRED. */
int training_inquiry_convert(struct tx *, struct request *, const char *id,
    const char *user_id, const char *schedule_id, int64_t now);

/* requirements.c */
extern const struct resource special_requirements_resource;

/* holds.c */
/* A new reference of TRAINING_REF_LEN characters from an alphabet
 * without look-alikes (no 0/O, 1/I/L), from libsodium's generator, that
 * exists_sql ("SELECT 1 FROM t WHERE ref = ?") finds in no row. */
int training_reference_new(
    struct tx *, const char *exists_sql, char out[TRAINING_REF_LEN + 1]);
/* 1 if s has the form of a reference. Pure. */
int training_reference_ok(const char *s);
/* Expire, on schedule_id, the pending bookings and live inquiries whose
 * hold has passed by now (codes given back); *n counts them. The caller
 * holds the schedule's lock. */
int training_holds_expire(
    struct tx *, const char *schedule_id, int64_t now, int *n);
/* The job training.expire_holds: every schedule with a hold passed. */
int training_expire_job(struct store *, const struct job *, char *err);
/* A schedule cancelled by staff (schedules.c, in its transaction, under
 * the schedule's lock): its live bookings cancelled (unpaid ones' codes
 * given back) and its inquiries expired. */
int training_schedule_cancelled(struct tx *, const struct principal *,
    struct request *, const char *schedule_id, int64_t now);
/* A booking cancelled: status, reason, its code's use given back while
 * unpaid; audited as "training_bookings.<verb>". ERR_BUSY when it moved
 * since read. */
int training_booking_cancel_row(struct tx *, const struct principal *,
    struct request *, const char *id, const char *from, const char *verb,
    const char *reason, int64_t now);

/* stripe.c */
#define STRIPE_RESPONSE_MAX (64 * 1024) /* bytes of an answer read */
#define STRIPE_TOLERANCE_S  300		/* a signature's age, either way */
#define STRIPE_ID_MAX	    100		/* bytes of a Stripe object's id */
/* What a request to Stripe came to. */
struct stripe_reply {
	long	http;	    /* the answer's status; 0 without one */
	json_t *doc;	    /* a 2xx answer's object (owned), else NULL */
	char	code[72];   /* Stripe's error code, "" without one */
	char	error[256]; /* why it failed: no key, no personal data */
};
enum stripe_sig {
	STRIPE_SIG_OK = 0,
	STRIPE_SIG_MISSING,   /* no header */
	STRIPE_SIG_MALFORMED, /* no t=, no v1=, t not digits */
	STRIPE_SIG_MISMATCH,  /* no v1 is the body's under the secret */
	STRIPE_SIG_STALE      /* t is more than the tolerance from now */
};
/* 1 when stripe_secret_key is set. */
int stripe_configured(void);
/*
 * Check a Stripe-Signature header against the raw body under secret:
 * STRIPE_SIG_OK when one v1 entry is the hex HMAC-SHA256 of
 * "<t>.<body>" (constant time) and t is within tolerance_s of now_s.
 * Pure, for unit tests and the fuzz target too.
 */
int stripe_signature_check(const char *header, const char *body, size_t len,
    const char *secret, int64_t now_s, int64_t tolerance_s);
/* Append key=value, form-encoded, to b ("&" between pairs). Pure. */
struct buf;
int stripe_form_add(struct buf *b, const char *key, const char *value);
/*
 * POST form to <stripe_api_url><path> with Idempotency-Key idem, or GET
 * path: OK for a 2xx JSON object (r->doc); ERR_UNAVAILABLE for what a
 * retry may mend (no answer, timeout, 409, 429, 5xx); ERR_BAD_GATEWAY
 * when Stripe refused it; ERR_CONFIG without a secret key. Never inside
 * a transaction. stripe_reply_free releases r->doc.
 */
int stripe_post(const char *path, const char *form, const char *idem,
    struct stripe_reply *r);
int stripe_get(const char *path, struct stripe_reply *r);
/* GET path within stripe_timeout_s and before deadline_ms (time_mono_ns()
 * in ms): ERR_UNAVAILABLE at once when it has passed. */
int stripe_get_until(
    const char *path, int64_t deadline_ms, struct stripe_reply *r);
void stripe_reply_free(struct stripe_reply *r);
/* 1 if s is a Stripe id: 1 to STRIPE_ID_MAX of [A-Za-z0-9_]. Pure. */
int stripe_id_ok(const char *s);

/* payments.c */
extern const struct resource payment_transactions_resource;
/* POST /v1/training-bookings/{id}/payment: the booker's PaymentIntent. */
void training_booking_pay(struct request *);
/* A booking as payments and refunds need it (training_booking_load). */
struct training_booking {
	char	id[UUID_STR_LEN];
	char	user_id[UUID_STR_LEN];
	char	schedule_id[UUID_STR_LEN];
	char	status[16];
	char	payment_status[24];
	char	cancel_reason[24];
	char	reference[TRAINING_REF_LEN + 1];
	char	currency[4];
	char	discount_code_id[UUID_STR_LEN]; /* "" without */
	int	discount_released;
	int64_t seats, total, hold;
};
/* Read booking id (ERR_NOT_FOUND). */
int training_booking_load(
    struct tx *, const char *id, struct training_booking *out);
/* A payment transaction: the booking's succeeded one (first by
 * succeeded_at) that paid it (unapplied_reason NULL: not a duplicate nor a
 * mismatch) into out; ERR_NOT_FOUND when it has none. */
struct training_payment {
	char	id[UUID_STR_LEN];
	char	intent[STRIPE_ID_MAX + 1];
	char	currency[4];
	int64_t amount, committed, refunded;
};
int training_payment_of(
    struct tx *, const char *booking_id, struct training_payment *out);

/* stripe_webhook.c: POST /v1/webhooks/stripe and its inbox source. */
void training_stripe_webhook(struct request *);
int  training_stripe_init(void);

/*
 * What a Stripe event did, kept in its stripe_events row and answered:
 * effect ("confirmed", "ignored", ...), and reason, why it was ignored or
 * did not match ("no_booking", "amount", ...), NULL when there is none.
 * Both borrowed (static strings).
 */
struct training_effect {
	const char *effect;
	const char *reason;
};

/* payment_events.c: a PaymentIntent's events, in the webhook's
 * transaction (the event's row is the caller's); *out says what was
 * done. */
struct inbox_result;
int training_intent_event(struct tx *, const char *type, json_t *obj,
    struct inbox_result *, struct training_effect *out);

/* refunds.c */
#define TRAINING_REASON_MAX 2000 /* characters of a refund's reasons */
extern const struct resource refunds_resource;
/* POST /v1/refunds: a refund asked for (pending). */
void training_refund_ask(struct request *);
/* POST /v1/refunds/{id}/approve|reject: the route's arg is the verb. */
void training_refund_decide(struct request *);
/*
 * The cancellation policy for amount asked for at now, of a schedule
 * starting at start: OK with *fee and *policy ("full", "fee" or
 * "override" when override), or ERR_CONFLICT inside none_hours of the
 * start (hours of time, whatever the days say). In full while the start's
 * London day is full_days or more after now's (calendar days in
 * Europe/London: a course on the 20th is refunded in full all of the 6th
 * with 14 days); else a fee of fee_percent of amount, rounded half up.
 * Pure.
 */
int training_refund_policy(int64_t now, int64_t start, int64_t amount,
    int override, int64_t full_days, int64_t fee_percent, int64_t none_hours,
    int64_t *fee, const char **policy);
/*
 * Refund in full what is left of booking_id's payment, its pending
 * requests rejected (processed_by: who): a schedule or a paid booking
 * cancelled by staff. Paid through Stripe: a stripe refund, sent by the
 * training.refund job; paid offline (staff's confirm): a manual refund,
 * approved, for staff to pay back; unpaid or free: nothing. Takes the
 * booking's lock (after the schedule's).
 */
int training_refund_in_full(struct tx *, const struct principal *,
    struct request *, const char *booking_id, const char *cause,
    const char *why);
/*
 * The booker cancels their own confirmed booking (bookings.c, under the
 * schedule's lock, before the row is cancelled): refused inside
 * refund_none_hours (training_refund_terms) of the start, paid or free (409
 * TOO_LATE_TO_CANCEL with cancellable_until, nothing changed); else their
 * pending requests are rejected by carebase (processed_by NULL) and what
 * is left of the payment is refunded under the policy (in full, or less
 * the fee), approved at once (cause booker_cancelled): through Stripe by
 * the training.refund job, or, paid offline, as a manual refund for staff
 * to pay back. A booking costing nothing (or unpaid) owes nothing. Takes
 * the booking's lock.
 */
int training_refund_on_cancel(struct tx *, const struct principal *,
    struct request *, const char *booking_id, int64_t now);

/* refund_jobs.c */
/* The cause of a refund carebase makes itself (approved at once). */
#define TRAINING_REFUND_JOB "training.refund"
/*
 * Refund what is left of payment p of booking b (in the payment's
 * currency), less fee (kept by policy: "full" with a fee of 0, or "fee"),
 * approved now, and queue its training.refund job; cause is
 * schedule_cancelled, staff_cancelled, late_payment, duplicate_payment or
 * payment_mismatch (fee 0), or booker_cancelled (the policy's fee;
 * approved by the policy, processed_by NULL). p NULL: b was paid offline,
 * and the refund is a manual one (no job: staff pay it back and mark it
 * completed, refunds_manual.c). With why (a sentence), the booker is told
 * by mail. Nothing when nothing is left or the fee would keep all of it;
 * *id ("" then) may be NULL.
 */
int training_refund_auto(struct tx *, const struct principal *,
    struct request *, const struct training_booking *b,
    const struct training_payment *p, const char *cause, int64_t fee,
    const char *policy, const char *why, char *id);
/* What is left to refund of booking b's payment, as it is now (the
 * caller holds the booking's lock): through Stripe (txn, the payment's
 * id), its amount less the refunds committed against it; paid offline
 * (txn NULL or ""), training_offline_left. ERR_NOT_FOUND: no such
 * payment, or (offline) b was not paid. */
int training_refund_left(struct tx *, const struct training_booking *b,
    const char *txn, int64_t *left);
/* refunds_manual.c: the refunds of a booking paid offline. */
/* POST /v1/refunds/{id}/complete {"note"}: staff paid it back. */
void training_refund_complete(struct request *);
/* What is left to refund of b paid offline (its total less its manual
 * refunds not rejected or failed) into *left; ERR_NOT_FOUND when b was
 * not paid (or costs nothing). The caller holds the booking's lock and
 * found no Stripe payment of b (training_payment_of). */
int training_offline_left(
    struct tx *, const struct training_booking *b, int64_t *left);
/* b's payment_status from its completed manual refunds: refunded when
 * they come to its total, else partially_refunded. */
int training_offline_sync(struct tx *, const char *booking_id);

/* The training.refund job: send an approved refund to Stripe. */
int training_refund_job(struct store *, const struct job *, char *err);
/* A Refund object's event (refund.*, charge.refund.updated) or a
 * charge.refunded's refunds: complete or fail ours. */
int training_refund_event(struct tx *, const char *type, json_t *obj,
    struct inbox_result *, struct training_effect *out);
/* refund_mail.c: the mail template the booker is told with, once. */
int training_refund_mail_init(void);
/* Tell b's booker by mail that amount of the paid (minor units of
 * currency) goes back ("in full" when it is all of it), and why (a
 * sentence); manual: paid offline, paid back by staff. Nobody to tell
 * (erased, or an address that will not do) is not a failure. */
int training_refund_tell(struct tx *, const struct training_booking *b,
    const char *currency, int64_t paid, int64_t amount, const char *why,
    int manual);

/* settings.c: settings (issue 17 item 6) */
extern const struct resource settings_resource;
/*
 * The effective value of setting key (its value, else its default) as
 * text into out, from the process's cache, reloaded first when the
 * settings' epoch read in tx is newer: ERR_NOT_FOUND when there is none.
 */
int training_setting_text(struct tx *, const char *key, char *out, size_t n);
/* The mail's brand from the settings into vars (hooks_mail_brand). */
int training_mail_brand(struct tx *, json_t *vars);
/* The same read as a copy (malloc'd; the caller frees it): for a value
 * of any length, a png_base64 setting's. */
int training_setting_dup(struct tx *, const char *key, char **out);
/* The same read as a number (truncated) or a boolean; def when the
 * setting has no value or none of that type. */
int training_setting_int(
    struct tx *, const char *key, int64_t def, int64_t *out);
int training_setting_bool(struct tx *, const char *key, int def, int *out);
/* booking_hold_minutes and inquiry_hold_minutes, their config keys'
 * values (training_hold_minutes, training_inquiry_hold_minutes) by
 * default. */
int training_hold_minutes(struct tx *, int64_t *out);
int training_inquiry_hold_minutes(struct tx *, int64_t *out);
/*
 * The cancellation policy (refunds.c) as it is now: the settings
 * refund_full_days, refund_fee_percent and refund_none_hours, each its
 * config key's value (training_refund_*) while not set, or when it is
 * outside that key's range (0-365, 0-100, 0-8760: a setting whose rules
 * were loosened).
 */
struct training_refund_terms {
	int64_t full_days;   /* in full until that many London days before */
	int64_t fee_percent; /* then less that percentage */
	int64_t none_hours;  /* none inside that many hours of the start */
};
int training_refund_terms(struct tx *, struct training_refund_terms *out);
/*
 * Why value (text, NULL: not set) is no value of type under rules (a
 * JSON object, NULL: none), or NULL when it is one; why rules are not
 * rules, or NULL. Pure, for unit tests too.
 */
const char *training_setting_check(
    const char *type, const char *value, json_t *rules);
const char *training_setting_rules_check(json_t *rules);
/* "YYYY-MM-DD" of a real day into *y, *m, *d; -1 when it is none. Pure. */
int training_date_parse(const char *s, int *y, int *m, int *d);
/* The http gate of maintenance mode (http_set_gate). */
int training_maintenance_gate(struct request *);

/* attendance.c: attendance records (issue 17 item 1) */
extern const struct resource attendance_records_resource;
/*
 * A schedule completed (schedules.c, in its transaction, under the
 * schedule's lock): each confirmed booking moves to completed when one of
 * its attendees was marked present, late or partial, else to no_show
 * (audited as training_bookings.complete / .no_show); then, with
 * auto_issue_certificates on, the eligible get their certificates.
 */
int training_schedule_completed(struct tx *, const struct principal *,
    struct request *, const char *schedule_id, int64_t now);

/* certificates.c: certificates and their verification (items 2, 4) */
extern const struct resource certificates_resource;
/* Issue attendee_id's certificate of its schedule (refused with a
 * problem: SCHEDULE_NOT_COMPLETED, NOT_ELIGIBLE, CERTIFICATE_EXISTS);
 * its id into id_out (UUID_STR_LEN). */
int training_certificate_issue(struct tx *, const struct principal *,
    struct request *, const char *attendee_id, char *id_out);
/* Every eligible attendee of schedule_id without one gets theirs. */
int training_certificates_auto(struct tx *, const struct principal *,
    struct request *, const char *schedule_id);
/* POST /v1/certificates, POST /v1/certificates/{id}/revoke, GET
 * /v1/certificate-verifications/{token} (public, throttled). */
void training_certificate_create(struct request *);
void training_certificate_revoke(struct request *);
void training_certificate_verify(struct request *);
/* cert_route.c: GET /v1/certificates/{id}/pdf (the holder and staff). */
void training_certificate_pdf(struct request *);
int  training_certificates_init(void);
/* The nightly job training.expire_certificates. */
int training_expire_certificates_job(
    struct store *, const struct job *, char *);
/* date + years and months ("YYYY-MM-DD" into out), the day kept or, past
 * the month's end, its last day (2028-02-29 + 3 years: 2031-02-28); -1
 * for no date. Pure. */
int training_date_add(const char *date, int years, int months, char out[11]);
/* The London date of instant ms, "YYYY-MM-DD". Pure. */
void training_london_date(int64_t ms, char out[11]);
/* The requalification rule for a booking naming attendees (the request's
 * array of {name, email}) of a course of course_type that requalifies
 * family: each attendee holds one (matched by email); OK, or 409
 * REQUALIFICATION_NOT_ALLOWED on req naming attendees[i]. Not a
 * requalification course: OK. */
int training_requalification_check(struct tx *, struct request *,
    json_t *attendees, const char *course_type, const char *family);

/* analytics.c: the booking funnel's analytics events (issue 17 item 7) */
#define TRAINING_EV_VIEWED    "schedule_viewed"
#define TRAINING_EV_HOLD      "hold_created"
#define TRAINING_EV_PAID      "payment_succeeded"
#define TRAINING_EV_CANCELLED "booking_cancelled"
/* Days an event is kept when analytics_retention_days is not set. */
#define TRAINING_ANALYTICS_RETENTION_DAYS 365
extern const struct resource analytics_events_resource;
/*
 * In the transaction of the step: an event of type about booking_id
 * (its booker; schedule, course, seats, total and currency), with the
 * members of extra (borrowed, may be NULL: "method", or "reason" and
 * "from") added. Only the members analytics.c allows are ever written.
 */
int training_analytics_booking(
    struct tx *, const char *type, const char *booking_id, json_t *extra);
/* course_schedules' after_read: a visitor's view, kept to be written in
 * a batch (no write here). */
int training_analytics_viewed(struct resource_ctx *, json_t *row);
/* The module's stop: the views waiting are written, the writer ends. */
void training_analytics_stop(void);
/* GET /v1/analytics/funnel; the nightly training.analytics_retention. */
void training_analytics_funnel(struct request *);
int  training_analytics_retention_job(
     struct store *, const struct job *, char *);

/*
 * notify.c: notifications (issue 17 item 5). A notification is made for
 * one person about a booking, a certificate or a refund, inside the
 * transaction of what it tells of, by the channels the person's
 * preferences allow (notification_preferences; none: in-app and email,
 * no SMS): a notifications row (in their in-app list unless in-app is
 * off), a mail through the mail queue (a template per type, email_log)
 * and an SMS through the training.notify_sms job. Nobody to tell (erased,
 * deleted) or no channel left: nothing, OK.
 */
#define TRAINING_NOTIFY_SMS_JOB "training.notify_sms"
extern const struct resource notifications_resource;
extern const struct resource notification_preferences_resource;
/* The notification types, NULL-terminated. */
extern const char *const training_notify_types[];
/* What a notification tells of. */
struct training_notice {
	const char *user_id;
	const char *type;	    /* one of training_notify_types */
	const char *priority;	    /* low, medium, high, urgent */
	const char *title;	    /* a line */
	const char *message;	    /* a sentence or two */
	const char *booking_id;	    /* what it is about; NULL: none */
	const char *course_id;	    /* NULL: none */
	const char *certificate_id; /* NULL: none */
	const char *action_url;	    /* a page of the web application */
	int64_t	    expires_at;	    /* 0: never */
	json_t	   *vars; /* the type's mail template's own variables */
};
int training_notify(struct tx *, const struct training_notice *);
/*
 * The notifications of booking_id's booker: type booking_confirmed,
 * cancelled or reminder (worded from the time left now, not from hours,
 * the offset that made it due).
 */
int training_notify_booking(
    struct tx *, const char *booking_id, const char *type, int64_t hours);
/* certificate_ready, or certificate_expiring (worded from the London days
 * left now; days, the offset that made it due, when it has no date). */
int training_notify_certificate(
    struct tx *, const char *certificate_id, const char *type, int64_t days);
/* refund_processed: the refund completed. */
int training_notify_refund(struct tx *, const char *refund_id);
/* GET /v1/me/notifications, POST /v1/me/notifications/read-all. */
void training_notifications_mine(struct request *);
void training_notifications_read_all(struct request *);
/* The mail templates and the mail outcome listener. */
int training_notify_init(void);
/* *there 1 when migration 0038's tables are there (the catalog asked):
 * with it pending or undone nothing is notified and nothing fails. */
int training_notify_ready(struct tx *, int *there);
/* Notification id's status again from its channels (and read_at). */
int training_notify_status(struct tx *, const char *id);
/* notify_mail.c: the mail template of each type. */
int training_notify_mail_init(void);
/* left_ms before a start in words for a reminder ("45 minutes", "1 hour
 * 30 minutes", "23 hours"). Pure. */
void training_left_words(int64_t left_ms, char *out, size_t n);
/* 1 if s is an E.164 telephone number: "+", then 2 to 15 digits, the
 * first not 0. Pure. */
int training_e164_ok(const char *s);

/* notify_jobs.c: reminders before a course starts and before a
 * certificate expires, each sent once (notification_reminders). */
/*
 * The reminder due at now of something at `at` (the same unit: ms, or
 * days) among offsets (each unit long, any order, n of them): the
 * smallest offset whose time (at - offset * unit) has come, or -1 when
 * none has or at is past. Pure.
 */
int64_t training_reminder_due(
    int64_t now, int64_t at, const int64_t *offsets, size_t n, int64_t unit);
/* Offsets from a setting's JSON array text (integers lo..hi, at most max
 * of them) into out; the number read, or -1 when it is no such array.
 * Pure. */
int training_offsets_parse(
    const char *text, int64_t lo, int64_t hi, int64_t *out, size_t max);
int training_reminders_job(struct store *, const struct job *, char *);
int training_certificate_reminders_job(
    struct store *, const struct job *, char *);

/* notify_sms.c: the training.notify_sms job (sms_url, sms_token). */
int training_notify_sms_job(struct store *, const struct job *, char *);

/* seed.c: the catalogue's demo data for `carebase seed` */
struct seed_accounts;
int training_seed(struct store *, struct seed_accounts *);

#endif
