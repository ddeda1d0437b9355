/*
 * The training module: its routes, resources and jobs, and the helpers
 * its files share. Tables and the built-in roles' permissions come from
 * migrations 0017 (the catalogue), 0018 (bookings), 0019 (payments and
 * refunds), 0031 (settings), 0032 (attendance and certificates), 0039
 * (the certificate's logo and accreditation settings) and 0040
 * (analytics events).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/money.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "ops/inbox.h"
#include "resource/audit.h"
#include "resource/hooks.h"
#include "resource/resource.h"
#include "store/store.h"
#include "training/training.h"
#include "training/training_int.h"

/* clang-format off */
#define API_ACTION(what)						\
	"{\"codes\":{\"409\":[\"INVALID_TRANSITION\",\"SCHEDULE_NOT_STARTED\"]},\"answers\":{\"200\":{\"description\":\"" what "\",\"schema\":"	\
	"{\"$ref\":\"#/components/schemas/course_schedules\"}}},"		\
	"\"problems\":{\"403\":\"only staff move a schedule's status\","	\
	"\"404\":\"no such schedule\",\"409\":\"INVALID_TRANSITION: the "	\
	"schedule's status does not allow it\"}}"
/* clang-format on */

/* clang-format off */
#define API_BOOKING(what, codes, problems)				\
	"{\"codes\":{\"409\":[" codes "]},\"answers\":{\"200\":{\"description\":\"" what "\",\"schema\":"	\
	"{\"$ref\":\"#/components/schemas/training_bookings\"}}},"		\
	"\"problems\":{\"404\":\"no such booking (or not yours)\","		\
	problems "}}"
#define API_BOOK							\
	"{\"codes\":{\"422\":[\"DISCOUNT_CODE_INVALID\"],\"409\":[\"SCHEDULE_FULL\",\"ALREADY_BOOKED\",\"SCHEDULE_NOT_BOOKABLE\",\"DISCOUNT_CODE_USED_UP\",\"DISCOUNT_CODE_ALREADY_USED\",\"HOLD_EXPIRED\",\"REQUALIFICATION_NOT_ALLOWED\",\"BOOKING_CLOSED_BUFFER\"]},\"body\":{\"type\":\"object\",\"required\":[\"schedule_id\","	\
	"\"attendees\"],\"additionalProperties\":false,\"properties\":{"	\
	"\"schedule_id\":{\"type\":\"string\",\"format\":\"uuid\"},"		\
	"\"attendees\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":12,"	\
	"\"items\":{\"type\":\"object\",\"required\":[\"name\",\"email\"],"	\
	"\"additionalProperties\":false,\"properties\":{\"name\":{\"type\":"	\
	"\"string\"},\"email\":{\"type\":\"string\",\"format\":\"email\"}}}},"\
	"\"discount_code\":{\"type\":[\"string\",\"null\"]},"		\
	"\"inquiry_id\":{\"type\":[\"string\",\"null\"],\"format\":\"uuid\"},"\
	"\"notes\":{\"type\":[\"string\",\"null\"]}}},"			\
	"\"answers\":{\"201\":{\"description\":\"the booking, pending: a "	\
	"hold until hold_expires_at, with its attendees\",\"schema\":"	\
	"{\"$ref\":\"#/components/schemas/training_bookings\"}}},"		\
	"\"problems\":{\"403\":\"you may not book\",\"409\":\"SCHEDULE_FULL, "	\
	"ALREADY_BOOKED, SCHEDULE_NOT_BOOKABLE, DISCOUNT_CODE_USED_UP, "	\
	"DISCOUNT_CODE_ALREADY_USED, HOLD_EXPIRED (the inquiry's)\","		\
	"\"422\":\"VALIDATION_FAILED (a price sent, a bad attendee), "	\
	"DISCOUNT_CODE_INVALID\"}}"
#define PAY_SCHEMA							\
	"{\"type\":\"object\",\"required\":[\"booking_id\","		\
	"\"payment_intent_id\",\"client_secret\",\"amount_minor\","	\
	"\"currency\",\"status\"],\"properties\":{\"booking_id\":"	\
	"{\"type\":\"string\",\"format\":\"uuid\"},\"payment_intent_id\":"\
	"{\"type\":\"string\"},\"client_secret\":{\"type\":\"string\"},"	\
	"\"amount_minor\":{\"type\":\"integer\"},\"currency\":{\"type\":"	\
	"\"string\"},\"status\":{\"type\":\"string\"}}}"
#define API_PAY							\
	"{\"codes\":{\"503\":[\"PAYMENTS_NOT_CONFIGURED\"],\"502\":[\"PAYMENT_PROVIDER_UNAVAILABLE\",\"PAYMENT_PROVIDER_ERROR\"],\"409\":[\"ALREADY_PAID\",\"INVALID_TRANSITION\",\"HOLD_EXPIRED\",\"NOTHING_TO_PAY\"]},\"answers\":{\"200\":{\"description\":\"the booking's "		\
	"PaymentIntent again (a retry): the same intent\",\"schema\":"	\
	PAY_SCHEMA "},\"201\":{\"description\":\"a PaymentIntent made "	\
	"for the booking's total_minor: confirm it with Stripe.js and its "	\
	"client_secret\",\"schema\":" PAY_SCHEMA "}},"			\
	"\"problems\":{\"403\":\"only the booker pays\",\"404\":\"no "	\
	"such booking (or not yours)\",\"409\":\"ALREADY_PAID, "		\
	"INVALID_TRANSITION (not pending), HOLD_EXPIRED, NOTHING_TO_PAY\","	\
	"\"502\":\"PAYMENT_PROVIDER_UNAVAILABLE (Stripe did not answer), "	\
	"PAYMENT_PROVIDER_ERROR (Stripe refused)\",\"503\":"		\
	"\"PAYMENTS_NOT_CONFIGURED\"}}"
#define API_ASK							\
	"{\"codes\":{\"409\":[\"REFUND_EXCEEDS_PAYMENT\",\"REFUND_NOT_ALLOWED\",\"BOOKING_NOT_PAID\",\"NOT_REFUNDABLE\"]},\"body\":{\"type\":\"object\",\"required\":[\"booking_id\"],"	\
	"\"additionalProperties\":false,\"properties\":{\"booking_id\":"	\
	"{\"type\":\"string\",\"format\":\"uuid\"},\"amount_minor\":"	\
	"{\"type\":[\"integer\",\"null\"],\"minimum\":1},\"reason\":"	\
	"{\"type\":[\"string\",\"null\"]},\"policy_override\":{\"type\":"	\
	"[\"boolean\",\"null\"]},\"override_reason\":{\"type\":"		\
	"[\"string\",\"null\"]}}},\"answers\":{\"201\":{\"description\":"	\
	"\"the refund, pending until staff decide\",\"schema\":{\"$ref\":"	\
	"\"#/components/schemas/refunds\"}}},\"problems\":{\"403\":"	\
	"\"you may not ask for refunds\",\"404\":\"no such booking (or "	\
	"not yours)\",\"409\":\"REFUND_EXCEEDS_PAYMENT, "			\
	"REFUND_NOT_ALLOWED (the cancellation policy), BOOKING_NOT_PAID, "	\
	"NOT_REFUNDABLE\",\"422\":\"VALIDATION_FAILED\"}}"
#define API_DECIDE(what)	"{" API_DECIDE_ANSWER(what)
#define API_REJECT							\
	"{\"body\":{\"type\":\"object\",\"additionalProperties\":false,"	\
	"\"properties\":{\"reason\":{\"type\":\"string\",\"minLength\":"	\
	"1,\"maxLength\":2000}}}," API_DECIDE_ANSWER("the refund, rejected")
#define API_DECIDE_ANSWER(what)						\
	"\"codes\":{\"409\":[\"INVALID_TRANSITION\"],\"422\":[\"VALIDATION_FAILED\"]},\"answers\":{\"200\":{\"description\":\"" what "\",\"schema\":"	\
	"{\"$ref\":\"#/components/schemas/refunds\"}}},\"problems\":"	\
	"{\"403\":\"staff only\",\"404\":\"no such refund\",\"409\":"	\
	"\"INVALID_TRANSITION: not pending\"}}"
#define API_COMPLETE							\
	"{\"codes\":{\"409\":[\"NOT_MANUAL\",\"INVALID_TRANSITION\"]},\"body\":{\"type\":\"object\",\"required\":[\"note\"],"		\
	"\"additionalProperties\":false,\"properties\":{\"note\":"	\
	"{\"type\":\"string\",\"minLength\":1}}},\"answers\":{\"200\":"	\
	"{\"description\":\"the refund, completed\",\"schema\":{\"$ref\":"\
	"\"#/components/schemas/refunds\"}}},\"problems\":{\"403\":"	\
	"\"staff only\",\"404\":\"no such refund\",\"409\":\"NOT_MANUAL "	\
	"(Stripe completes a refund through Stripe), INVALID_TRANSITION "	\
	"(not approved)\",\"422\":\"VALIDATION_FAILED (no note)\"}}"
/*
 * A Stripe event as stripe_webhook.c's st_check takes it: the event's id
 * and type, and its data.object (the PaymentIntent, Refund or Charge,
 * whose metadata names carebase's booking or refund); Stripe's other
 * members are kept in the inbox and not read.
 */
#define API_STRIPE_BODY							\
	"{\"type\":\"object\",\"description\":\"a Stripe event\","	\
	"\"required\":[\"id\",\"type\",\"data\"],\"properties\":{"	\
	"\"id\":{\"type\":\"string\",\"pattern\":"			\
	"\"^[A-Za-z0-9_]{1,100}$\"},\"type\":{\"type\":\"string\","	\
	"\"pattern\":\"^[a-z0-9_.]{1,128}$\",\"description\":"		\
	"\"payment_intent.*, refund.* and charge.refunded are applied, "	\
	"any other is ignored\"},\"data\":{\"type\":\"object\","	\
	"\"required\":[\"object\"],\"properties\":{\"object\":{"		\
	"\"type\":\"object\",\"properties\":{\"id\":{\"type\":"		\
	"\"string\"},\"object\":{\"type\":\"string\"},\"metadata\":{"	\
	"\"type\":\"object\",\"properties\":{\"booking_id\":{\"type\":"	\
	"\"string\"},\"refund_id\":{\"type\":\"string\"}}}}}}}}}"
#define API_STRIPE							\
	"{\"codes\":{\"503\":[\"WEBHOOK_NOT_CONFIGURED\"],\"422\":[\"EVENT_INVALID\"],\"401\":[\"SIGNATURE_MISSING\",\"SIGNATURE_INVALID\",\"STALE_TIMESTAMP\"]},\"security\":{\"stripeSignature\":{\"type\":\"apiKey\",\"in\":"	\
	"\"header\",\"name\":\"Stripe-Signature\",\"description\":"	\
	"\"t=<unix seconds>,v1=<hex HMAC-SHA256 of \\\"<t>.<body>\\\" "	\
	"under stripe_webhook_secret>\"}},"					\
	"\"body_required\":true,\"content\":{\"application/json\":"	\
	API_STRIPE_BODY "},\"example\":{\"id\":\"evt_1QdemoA\","	\
	"\"object\":\"event\",\"type\":"					\
	"\"payment_intent.succeeded\",\"data\":{\"object\":{\"id\":"	\
	"\"pi_1QdemoB\",\"object\":\"payment_intent\",\"amount\":"	\
	"7500,\"currency\":\"gbp\",\"status\":\"succeeded\","		\
	"\"metadata\":{\"booking_id\":"					\
	"\"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\"}}}},\"answers\":{"	\
	INBOX_API_ANSWER("every event that parses: applied, ignored (not "	\
	"carebase's: its reason) or a mismatch (its reason; money taken is "	\
	"refunded), or a duplicate of an event applied already (nothing "	\
	"done twice)", ",\"event_id\":{\"type\":"	\
	"\"string\"},\"type\":{\"type\":\"string\"},\"duplicate\":{"	\
	"\"type\":\"boolean\"},\"effect\":{\"type\":\"string\"},"	\
	"\"reason\":{\"type\":\"string\"}") "},"	\
	"\"problems\":{\"401\":\"SIGNATURE_MISSING, SIGNATURE_INVALID, "	\
	"STALE_TIMESTAMP\",\"422\":\"EVENT_INVALID (not an event)\","	\
	"\"503\":\"WEBHOOK_NOT_CONFIGURED\"}}"
#define API_CERT_ISSUE						\
	"{\"codes\":{\"409\":[\"SCHEDULE_NOT_COMPLETED\",\"NOT_ELIGIBLE\",\"CERTIFICATE_EXISTS\",\"BOOKING_NOT_COMPLETED\",\"REQUALIFICATION_NOT_ALLOWED\"]},\"body\":{\"type\":\"object\",\"required\":[\"attendee_id\"],"	\
	"\"additionalProperties\":false,\"properties\":{\"attendee_id\":"	\
	"{\"type\":\"string\",\"format\":\"uuid\"}}},\"answers\":{\"201\":"	\
	"{\"description\":\"the certificate, active\",\"schema\":{\"$ref\":"	\
	"\"#/components/schemas/certificates\"}}},\"problems\":{\"403\":"	\
	"\"staff only\",\"409\":\"SCHEDULE_NOT_COMPLETED, NOT_ELIGIBLE, "	\
	"CERTIFICATE_EXISTS\",\"422\":\"VALIDATION_FAILED\"}}"
#define API_CERT_REVOKE						\
	"{\"codes\":{\"409\":[\"INVALID_TRANSITION\"]},\"body\":{\"type\":\"object\",\"required\":[\"reason\"],"	\
	"\"additionalProperties\":false,\"properties\":{\"reason\":"	\
	"{\"type\":\"string\",\"minLength\":1}}},\"answers\":{\"200\":"	\
	"{\"description\":\"the certificate, revoked\",\"schema\":{\"$ref\":"\
	"\"#/components/schemas/certificates\"}}},\"problems\":{\"403\":"	\
	"\"staff only\",\"404\":\"no such certificate\",\"409\":"	\
	"\"INVALID_TRANSITION: revoked already\",\"422\":"		\
	"\"VALIDATION_FAILED (no reason)\"}}"
#define API_CERT_VERIFY						\
	"{\"codes\":{\"404\":[\"CERTIFICATE_NOT_FOUND\"]},\"answers\":{\"200\":{\"description\":\"the certificate as "	\
	"anyone may verify it\",\"schema\":{\"type\":\"object\","	\
	"\"required\":[\"certificate_number\",\"holder_name\",\"course\","\
	"\"course_family\",\"issue_date\",\"expiry_date\",\"status\"],"	\
	"\"additionalProperties\":false,\"properties\":{"		\
	"\"certificate_number\":{\"type\":\"string\"},\"holder_name\":"	\
	"{\"type\":\"string\"},\"course\":{\"type\":\"string\"},"	\
	"\"course_family\":{\"type\":\"string\"},\"issue_date\":"	\
	"{\"type\":\"string\",\"format\":\"date\"},\"expiry_date\":"	\
	"{\"type\":[\"string\",\"null\"],\"format\":\"date\"},"	\
	"\"status\":{\"type\":\"string\",\"enum\":[\"active\","	\
	"\"expired\",\"revoked\"]},\"revoked_at\":{\"type\":[\"string\","	\
	"\"null\"],\"format\":\"date-time\"}}}}},\"problems\":{\"404\":"	\
	"\"CERTIFICATE_NOT_FOUND (no such token, or its holder was "	\
	"erased)\",\"429\":\"too many verifications from this client\"}}"
#define API_FUNNEL							\
	"{\"parameters\":[{\"name\":\"from\",\"in\":\"query\","	\
	"\"description\":\"start of the period (ISO 8601, included); 30 "	\
	"days before to when not given\",\"schema\":{\"type\":"		\
	"\"string\",\"format\":\"date-time\"}},{\"name\":\"to\","	\
	"\"in\":\"query\",\"description\":\"end of the period (ISO "	\
	"8601, left out); now when not given\",\"schema\":{\"type\":"	\
	"\"string\",\"format\":\"date-time\"}}],\"answers\":{\"200\":"	\
	"{\"description\":\"the events of each step in the period and "	\
	"the ratios between steps (null when there is nothing to divide "	\
	"by)\",\"schema\":{\"type\":\"object\",\"required\":[\"from\","	\
	"\"to\",\"counts\",\"ratios\"],\"properties\":{\"from\":"	\
	"{\"type\":\"string\",\"format\":\"date-time\"},\"to\":{"	\
	"\"type\":\"string\",\"format\":\"date-time\"},\"counts\":{"	\
	"\"type\":\"object\",\"required\":[\"schedule_viewed\","	\
	"\"hold_created\",\"payment_succeeded\",\"booking_cancelled\"],"	\
	"\"additionalProperties\":{\"type\":\"integer\"}},\"ratios\":{"	\
	"\"type\":\"object\",\"required\":[\"hold_per_view\","	\
	"\"payment_per_hold\",\"payment_per_view\","			\
	"\"cancellation_per_hold\"],\"additionalProperties\":{\"type\":"	\
	"[\"number\",\"null\"]}}}}}},\"problems\":{\"403\":"		\
	"\"staff only\",\"422\":\"VALIDATION_FAILED (from or to not a "	\
	"time, from not before to)\"}}"
#define API_MY_NOTIFICATIONS						\
	"{\"codes\":{\"400\":[\"INVALID_PARAMETER\",\"INVALID_CURSOR\"]},\"parameters\":[{\"name\":\"is_read\",\"in\":\"query\","	\
	"\"schema\":{\"type\":\"boolean\"},\"description\":\"false: "	\
	"the unread\"},{\"name\":\"type\",\"in\":\"query\",\"schema\":"	\
	"{\"type\":\"string\"}},{\"name\":\"sort\",\"in\":\"query\","	\
	"\"schema\":{\"type\":\"string\"},\"description\":\"-created_at: "	\
	"newest first\"},{\"name\":\"limit\",\"in\":\"query\",\"schema\":"	\
	"{\"type\":\"integer\",\"minimum\":1,\"maximum\":200}},{\"name\":"	\
	"\"cursor\",\"in\":\"query\",\"schema\":{\"type\":\"string\"}}],"	\
	"\"answers\":{\"200\":{\"description\":\"your notifications in "	\
	"the app, not expired\",\"schema\":{\"type\":\"object\","		\
	"\"required\":[\"data\",\"next_cursor\"],\"properties\":{"	\
	"\"data\":{\"type\":\"array\",\"items\":{\"$ref\":"		\
	"\"#/components/schemas/notifications\"}},\"next_cursor\":{"	\
	"\"type\":[\"string\",\"null\"]}}}}},\"problems\":{\"400\":"	\
	"\"INVALID_PARAMETER, INVALID_CURSOR\"}}"
#define API_READ_ALL							\
	"{\"answers\":{\"200\":{\"description\":\"how many were marked "	\
	"read\",\"schema\":{\"type\":\"object\",\"required\":"		\
	"[\"marked\"],\"properties\":{\"marked\":{\"type\":"		\
	"\"integer\",\"minimum\":0}}}}},\"problems\":{\"403\":\"you "	\
	"may not mark notifications read\"}}"
#define API_CERT_PDF							\
	"{\"codes\":{\"409\":[\"CERTIFICATE_NOT_PRINTABLE\"],\"404\":[\"CERTIFICATE_NOT_FOUND\"]},\"answers\":{\"200\":{\"description\":\"the certificate, A4 "	\
	"landscape, made now (revoked: marked REVOKED), with ETag, "	\
	"Cache-Control private and Content-Disposition attachment\","	\
	"\"type\":\"application/pdf\",\"schema\":{\"type\":\"string\","	\
	"\"contentMediaType\":\"application/pdf\"}},\"304\":{"		\
	"\"description\":\"If-None-Match named the current ETag\"}},"	\
	"\"problems\":{\"404\":\"CERTIFICATE_NOT_FOUND: no such "	\
	"certificate, not yours, or its holder was erased\",\"409\":"	\
	"\"CERTIFICATE_NOT_PRINTABLE: a setting it shows cannot be "	\
	"drawn (the detail names it); a name too long is cut, with an "	\
	"ellipsis\","							\
	"\"503\":\"the PDF fonts cannot be loaded, or the slow pool is "	\
	"full (Retry-After)\"}}"
/* clang-format on */

static const struct route training_routes[] = {
	{ HTTP_POST, "/v1/course-schedules/{id}/confirm",
	    training_schedule_action, 0, "scheduled -> confirmed",
	    &training_transitions[0], API_ACTION("the schedule, confirmed") },
	{ HTTP_POST, "/v1/course-schedules/{id}/start",
	    training_schedule_action, 0, "scheduled|confirmed -> in_progress",
	    &training_transitions[1], API_ACTION("the schedule, in progress") },
	{ HTTP_POST, "/v1/course-schedules/{id}/complete",
	    training_schedule_action, 0,
	    "in_progress -> completed: confirmed bookings move to completed or "
	    "no_show from their attendance; with auto_issue_certificates on, "
	    "the eligible get their certificates",
	    &training_transitions[2], API_ACTION("the schedule, completed") },
	{ HTTP_POST, "/v1/course-schedules/{id}/cancel",
	    training_schedule_action, 0,
	    "scheduled|confirmed -> cancelled (frees the trainer's time)",
	    &training_transitions[3], API_ACTION("the schedule, cancelled") },
	{ HTTP_POST, "/v1/training-bookings", training_booking_create,
	    ROUTE_JSON_BODY,
	    "book a schedule for 1-12 named attendees: a hold of their seats "
	    "until paid (confirmed), priced by the server",
	    NULL, API_BOOK },
	{ HTTP_POST, "/v1/training-bookings/{id}/confirm",
	    training_booking_action, 0,
	    "pending -> confirmed, payment_status paid (staff: the offline "
	    "path, a booking paid by invoice or in cash; the booker: one "
	    "whose total is 0, with no payment transaction)",
	    &training_moves[0],
	    API_BOOKING("the booking, confirmed",
		"\"INVALID_TRANSITION\",\"HOLD_EXPIRED\",\"PAYMENT_REQUIRED\"",
		"\"403\":\"staff and the booker only\",\"409\":"
		"\"INVALID_TRANSITION, HOLD_EXPIRED, PAYMENT_REQUIRED (the "
		"booker's: the total is not 0)\"") },
	{ HTTP_POST, "/v1/training-bookings/{id}/cancel",
	    training_booking_action, 0,
	    "pending|confirmed -> cancelled; an unpaid booking's discount "
	    "code use is given back; a paid booking is refunded in full when "
	    "staff cancel it, under the cancellation policy when its booker "
	    "does (in full, less the fee, or refused inside its last hours): "
	    "through Stripe, or by hand when it was paid offline",
	    &training_moves[1],
	    API_BOOKING("the booking, cancelled",
		"\"INVALID_TRANSITION\",\"TOO_LATE_TO_CANCEL\"",
		"\"409\":\"INVALID_TRANSITION, TOO_LATE_TO_CANCEL (the "
		"booker's confirmed booking inside the policy's last hours: "
		"cancellable_until)\"") },
	{ HTTP_POST, "/v1/training-bookings/{id}/complete",
	    training_booking_action, 0,
	    "confirmed -> completed (staff, once the schedule has started)",
	    &training_moves[2],
	    API_BOOKING("the booking, completed",
		"\"INVALID_TRANSITION\",\"SCHEDULE_NOT_STARTED\"",
		"\"403\":\"staff only\",\"409\":\"INVALID_TRANSITION, "
		"SCHEDULE_NOT_STARTED\"") },
	{ HTTP_POST, "/v1/training-bookings/{id}/no_show",
	    training_booking_action, 0,
	    "confirmed -> no_show (staff, once the schedule has started)",
	    &training_moves[3],
	    API_BOOKING("the booking, marked no-show",
		"\"INVALID_TRANSITION\",\"SCHEDULE_NOT_STARTED\"",
		"\"403\":\"staff only\",\"409\":\"INVALID_TRANSITION, "
		"SCHEDULE_NOT_STARTED\"") },
	{ HTTP_POST, "/v1/training-bookings/{id}/payment", training_booking_pay,
	    0,
	    "start paying your pending booking through Stripe: a PaymentIntent "
	    "for its total (the same one again on a retry)",
	    NULL, API_PAY },
	{ HTTP_POST, "/v1/webhooks/stripe", training_stripe_webhook,
	    ROUTE_RAW_BODY | ROUTE_PUBLIC,
	    "Stripe: payment_intent.*, refund.*, charge.refunded; signed in "
	    "Stripe-Signature",
	    NULL, API_STRIPE },
	{ HTTP_POST, "/v1/refunds", training_refund_ask, ROUTE_JSON_BODY,
	    "ask for a refund of a paid booking, through Stripe or, paid "
	    "offline, a manual one (the booker: their confirmed one; staff: "
	    "any, and may set the policy aside)",
	    NULL, API_ASK },
	{ HTTP_POST, "/v1/refunds/{id}/approve", training_refund_decide, 0,
	    "pending -> approved (staff): sent to Stripe by the "
	    "training.refund job (a manual one waits for staff to pay it "
	    "back); all that was left cancels the booking",
	    "approve", API_DECIDE("the refund, approved") },
	{ HTTP_POST, "/v1/refunds/{id}/complete", training_refund_complete,
	    ROUTE_JSON_BODY,
	    "approved -> completed (staff): a manual refund (a booking paid "
	    "offline) paid back, with a {\"note\"} of how",
	    NULL, API_COMPLETE },
	{ HTTP_POST, "/v1/refunds/{id}/reject", training_refund_decide,
	    ROUTE_JSON_BODY,
	    "pending -> rejected (staff), with an optional {\"reason\"}: the "
	    "booking stays as it was",
	    "reject", API_REJECT },
	{ HTTP_GET, "/v1/me/training-bookings", training_bookings_mine, 0,
	    "the caller's training bookings", NULL,
	    "{\"list\":\"training_bookings\"}" },
	{ HTTP_GET, "/v1/course-schedules/{id}/bookings",
	    training_schedule_bookings, 0,
	    "the bookings of a schedule with their attendees, as the caller "
	    "sees them (staff: all; an instructor: of schedules they teach)",
	    NULL,
	    "{\"answers\":{\"200\":{\"description\":\"the bookings, each "
	    "with its attendees; truncated when there were more than one "
	    "answer holds\",\"schema\":{\"type\":\"object\",\"required\":["
	    "\"data\",\"truncated\"],\"properties\":{\"data\":{\"type\":"
	    "\"array\",\"items\":{\"allOf\":[{\"$ref\":\"#/components/"
	    "schemas/training_bookings\"},{\"type\":\"object\",\"required\":"
	    "[\"attendees\"],\"properties\":{\"attendees\":{\"type\":"
	    "\"array\",\"items\":{\"$ref\":\"#/components/schemas/"
	    "training_booking_attendees\"}}}}]}},\"truncated\":{\"type\":"
	    "\"boolean\"}}}}},\"problems\":{\"404\":\"no such schedule, or "
	    "not yours to see\"}}" },
	{ HTTP_POST, "/v1/booking-inquiries/{id}/respond",
	    training_inquiry_respond, 0,
	    "pending -> responded (staff); the seats stay held until "
	    "hold_expires_at",
	    NULL,
	    "{\"codes\":{\"409\":[\"INVALID_TRANSITION\"]},"
	    "\"answers\":{\"200\":{\"description\":\"the inquiry, "
	    "responded\",\"schema\":{\"$ref\":\"#/components/schemas/"
	    "booking_inquiries\"}}},\"problems\":{\"403\":\"staff only\","
	    "\"404\":\"no such inquiry\",\"409\":\"INVALID_TRANSITION\"}}" },
	{ HTTP_POST, "/v1/certificates", training_certificate_create,
	    ROUTE_JSON_BODY,
	    "issue an attendee's certificate of a completed schedule (staff): "
	    "marked present, or late within certificate_late_minutes, and "
	    "passed",
	    NULL, API_CERT_ISSUE },
	{ HTTP_POST, "/v1/certificates/{id}/revoke",
	    training_certificate_revoke, ROUTE_JSON_BODY,
	    "active|expired -> revoked (staff), with a {\"reason\"}: its "
	    "verification says so at once",
	    NULL, API_CERT_REVOKE },
	{ HTTP_GET, "/v1/me/notifications", training_notifications_mine, 0,
	    "the caller's notifications in the app, not expired (filters "
	    "is_read, type, status; sort=-created_at for newest first)",
	    NULL, API_MY_NOTIFICATIONS },
	{ HTTP_POST, "/v1/me/notifications/read-all",
	    training_notifications_read_all, 0,
	    "mark every notification of the caller's list read", NULL,
	    API_READ_ALL },
	{ HTTP_GET, "/v1/certificates/{id}/pdf", training_certificate_pdf,
	    ROUTE_SLOW,
	    "a certificate as a PDF to print (its holder, and staff who read "
	    "every certificate): made now, never kept; a revoked one marked "
	    "REVOKED",
	    NULL, API_CERT_PDF },
	{ HTTP_GET, "/v1/certificate-verifications/{token}",
	    training_certificate_verify, ROUTE_PUBLIC,
	    "verify a certificate by the token printed on it: holder name, "
	    "course, dates and status, nothing else (throttled per client)",
	    NULL, API_CERT_VERIFY },
	{ HTTP_GET, "/v1/analytics/funnel", training_analytics_funnel,
	    ROUTE_SLOW,
	    "the booking funnel of a period (staff): events of each step "
	    "(schedule_viewed, hold_created, payment_succeeded, "
	    "booking_cancelled) and the ratios between them",
	    NULL, API_FUNNEL },
};

static const struct job_kind training_jobs[] = {
	{ "training.expire_holds", training_expire_job, 0 },
	{ TRAINING_REFUND_JOB, training_refund_job, 0 },
	{ "training.expire_certificates", training_expire_certificates_job, 0 },
	{ "training.analytics_retention", training_analytics_retention_job, 0 },
	{ "training.send_reminders", training_reminders_job, 0 },
	{ "training.certificate_reminders", training_certificate_reminders_job,
	    0 },
	{ TRAINING_NOTIFY_SMS_JOB, training_notify_sms_job, 0 },
};

static const struct job_schedule training_schedules[] = {
	{ "training.expire_holds", "* * * * *", "training.expire_holds", NULL },
	/* Nightly: certificates whose expiry date has passed in London. */
	{ "training.expire_certificates", "15 0 * * *",
	    "training.expire_certificates", NULL },
	/* Nightly: analytics events past analytics_retention_days. */
	{ "training.analytics_retention", "30 0 * * *",
	    "training.analytics_retention", NULL },
	/* Every minute: the bookings whose reminder has come. */
	{ "training.send_reminders", "* * * * *", "training.send_reminders",
	    NULL },
	/* Every morning (08:00 UTC): certificates expiring in 90, 30, 0
	 * days. */
	{ "training.certificate_reminders", "0 8 * * *",
	    "training.certificate_reminders", NULL },
};

static const struct resource *const training_resources[] = {
	&training_courses_resource,
	&venues_resource,
	&trainers_resource,
	&course_materials_resource,
	&course_schedules_resource,
	&discount_codes_resource,
	&booking_inquiries_resource,
	&training_bookings_resource,
	&training_booking_attendees_resource,
	&special_requirements_resource,
	&payment_transactions_resource,
	&refunds_resource,
	&settings_resource,
	&attendance_records_resource,
	&certificates_resource,
	&analytics_events_resource,
	&notifications_resource,
	&notification_preferences_resource,
};

/* The Stripe webhook's inbox source, the refund mail and the
 * notifications' mail. */
static int
training_init(struct store *db)
{
	int rc;

	(void)db;
	http_set_gate(training_maintenance_gate);
	hooks_mail_brand_set(training_mail_brand);
	if ((rc = training_certificates_init()) != OK)
		return (rc);
	if ((rc = training_stripe_init()) != OK)
		return (rc);
	if ((rc = training_notify_init()) != OK)
		return (rc);
	return (training_refund_mail_init());
}

const struct module training_module = {
	"training",
	training_routes,
	NELEM(training_routes),
	training_jobs,
	NELEM(training_jobs),
	training_schedules,
	NELEM(training_schedules),
	training_resources,
	NELEM(training_resources),
	training_init,
	training_seed,
	training_analytics_stop,
};

int
training_currency_ok(const char *s)
{
	return (money_currency_ok(s));
}

size_t
training_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return (n);
}

/* Amounts are kept and sent to Stripe in the currency's minor unit as
 * Stripe counts it: core/money.c. */
int
training_currency_exponent(const char *currency)
{
	return (money_exponent(currency));
}

void
training_money_format(int64_t minor, const char *currency, char *out, size_t n)
{
	money_format(minor, currency, out, n);
}

int
training_lock(struct tx *tx, const char *kind, const char *id)
{
	char key[96];

	snprintf(key, sizeof(key), "training.%s:%s", kind, id);
	return (store_xact_lock(tx, key));
}

int
training_refuse(struct request *req, int rc, const char *code,
    const char *field, const char *fcode, const char *detail)
{
	http_problem_ext(req, rc, code,
	    json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "field", field, "code",
		fcode, "detail", detail),
	    "%s", detail);
	return (rc);
}

json_t *
training_pick(json_t *body, json_t *old, const char *name)
{
	json_t *v;

	if ((v = json_object_get(body, name)) != NULL)
		return (v);
	return (json_object_get(old, name));
}

int
training_schedule_exists(
    struct tx *tx, const char *sql, const char *id, int64_t v)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx, sql);
	store_bind_text(st, 1, id);
	store_bind_int64(st, 2, v);
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_ROW)
		return (OK);
	return (rc == STORE_DONE ? ERR_NOT_FOUND : rc);
}

int
training_free_seats(
    struct tx *tx, const char *schedule_id, int64_t now, int64_t *out)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx,
	    "SELECT " TRAINING_FREE_SEATS_AT("?") " FROM course_schedules "
						  "WHERE id = ?");
	store_bind_int64(st, 1, now);
	store_bind_int64(st, 2, now);
	store_bind_text(st, 3, schedule_id);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		*out = store_col_int64(st, 0);
		rc = OK;
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	}
	store_finalize(st);
	return (rc);
}

int
training_expiry_end(const char *date, int64_t *end)
{
	int64_t day;

	if (date == NULL || strlen(date) != 10 ||
	    time_parse_iso(date, &day) != 0)
		return (-1);
	/* Midnight UTC of the date: day / TIME_DAY_MS is exact. */
	*end = time_london_day_start(day / TIME_DAY_MS + 1);
	return (0);
}

int
training_refuse_n(struct request *req, int rc, const char *code,
    const char *name, int64_t n, const char *detail)
{
	http_problem_ext(req, rc, code, json_pack("{s:I}", name, (json_int_t)n),
	    "%s", detail);
	return (rc);
}

int
training_audit_move(struct tx *tx, struct request *req,
    const struct principal *who, const char *entity, const char *verb,
    const char *id, const char *from, const char *to)
{
	json_t *changes;
	char	action[96];
	int	rc;

	snprintf(action, sizeof(action), "%s.%s", entity, verb);
	if ((changes = json_pack("{s:[s],s:{s:s},s:{s:s}}", "fields", "status",
		 "old", "status", from, "new", "status", to)) == NULL)
		return (ERR_NOMEM);
	rc = audit_append(tx, who, req, action, entity, id, changes);
	json_decref(changes);
	return (rc);
}
