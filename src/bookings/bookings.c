/*
 * The bookings module (seeds 000 and 002: Therapy Session): therapy
 * sessions booked in the booking system (Simplybook, through Zapier) with
 * an external provider, copied here by its webhook, each spending one
 * therapy session of the client's partner access. Tables and the built-in
 * roles' permissions come from migrations 0008 and 0011.
 *
 * People read the rows through the therapy_bookings resource declared
 * here: admins every row (therapy_bookings:read:all), partner admins the
 * rows of the partner they administer, without the client's address
 * (related), clients their own (own); lists in id order, filters
 * partner_id, user_id and status (booked or cancelled). See
 * bookings_int.h for how the files divide the rest.
 */
#include <jansson.h>

#include "bookings/bookings.h"
#include "bookings/bookings_int.h"
#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "ops/inbox.h"
#include "partners/partners.h"
#include "resource/hooks.h"
#include "resource/resource.h"
#include "store/jobs.h"
#include "store/store.h"

#define SEALED (FIELD_READONLY | FIELD_PERSONAL | FIELD_NULLABLE)

static int bookings_init(struct store *);

/* clang-format off */
/*
 * The notification's members as input.c checks them (payload_check):
 * action and booking_code always, every member but user_id for a
 * NEW_BOOKING, the two times for an UPDATED_BOOKING; members it does not
 * know are ignored.
 */
#define API_SB_TIME							\
	"{\"type\":[\"string\",\"null\"],\"maxLength\":64,"		\
	"\"description\":\"an ISO 8601 date-time (or date), between "	\
	"2000 and 2100\"}"
#define API_SB_TEXT							\
	"{\"type\":[\"string\",\"null\"],\"minLength\":1,"		\
	"\"maxLength\":200}"
#define API_SB_EMAIL							\
	"{\"type\":[\"string\",\"null\"],\"format\":\"email\","		\
	"\"maxLength\":254}"
#define API_SIMPLYBOOK_BODY						\
	"{\"type\":\"object\",\"description\":\"the booking system's "	\
	"notification\",\"required\":[\"action\",\"booking_code\"],"	\
	"\"properties\":{\"action\":{\"enum\":[\"NEW_BOOKING\","		\
	"\"UPDATED_BOOKING\",\"CANCELLED_BOOKING\"]},\"booking_code\":{"	\
	"\"type\":\"string\",\"pattern\":\"^[A-Za-z0-9_-]{1,64}$\"},"	\
	"\"user_id\":{\"type\":[\"string\",\"null\"],\"format\":"	\
	"\"uuid\",\"description\":\"the carebase user, else found by "	\
	"client_email\"},\"client_email\":" API_SB_EMAIL ","		\
	"\"client_timezone\":{\"type\":[\"string\",\"null\"],"		\
	"\"pattern\":\"^[A-Za-z0-9/_+-]{1,64}$\",\"description\":\"an "	\
	"IANA zone name\"},\"service_name\":" API_SB_TEXT ","		\
	"\"service_provider_name\":" API_SB_TEXT ","			\
	"\"service_provider_email\":" API_SB_EMAIL ","			\
	"\"start_date_time\":" API_SB_TIME ",\"end_date_time\":"	\
	API_SB_TIME ",\"timestamp\":{\"type\":[\"integer\",\"string\","	\
	"\"null\"],\"description\":\"Unix seconds or ISO 8601, when no "	\
	"X-Simplybook-Timestamp header comes: further than "		\
	"simplybook_timestamp_tolerance_s from now is refused\"}},\"allOf\":[{\"if\":{"		\
	"\"properties\":{\"action\":{\"const\":\"NEW_BOOKING\"}}},"	\
	"\"then\":{\"required\":[\"client_email\",\"client_timezone\","	\
	"\"service_name\",\"service_provider_name\","			\
	"\"service_provider_email\",\"start_date_time\","		\
	"\"end_date_time\"]}},{\"if\":{\"properties\":{\"action\":{"	\
	"\"const\":\"UPDATED_BOOKING\"}}},\"then\":{\"required\":["	\
	"\"start_date_time\",\"end_date_time\"]}}]}"
#define API_SIMPLYBOOK_EXAMPLE						\
	"{"								\
	"\"action\":\"NEW_BOOKING\",\"booking_code\":\"SB-20260312-7\","	\
	"\"client_email\":\"member@example.org\",\"client_timezone\":"	\
	"\"Europe/London\",\"service_name\":\"Therapy session\","	\
	"\"service_provider_name\":\"Dr Ana Byrne\","			\
	"\"service_provider_email\":\"ana@example.org\","		\
	"\"start_date_time\":\"2026-03-12T10:00:00Z\","			\
	"\"end_date_time\":\"2026-03-12T10:50:00Z\"}"
/* What the OpenAPI document says of the booking system's webhook (struct
 * route's api): the members of its answer, beside inbox_id and outcome. */
#define API_SIMPLYBOOK							\
	"{\"body_required\":true,\"content\":{\"application/json\":"	\
	API_SIMPLYBOOK_BODY "},\"example\":" API_SIMPLYBOOK_EXAMPLE ","	\
	"\"codes\":{\"503\":[\"WEBHOOK_NOT_CONFIGURED\"],\"409\":[\"BOOKING_CODE_TAKEN\",\"BOOKING_CANCELLED\"],\"404\":[\"USER_NOT_FOUND\",\"BOOKING_NOT_FOUND\"],\"403\":[\"NO_THERAPY_SESSIONS_LEFT\"],\"401\":[\"TOKEN_MISSING\",\"TOKEN_INVALID\",\"TIMESTAMP_INVALID\",\"STALE_TIMESTAMP\"]},\"security\":{\"simplybookToken\":{\"type\":\"apiKey\",\"in\":"	\
	"\"header\",\"name\":\"X-Simplybook-Token\",\"description\":"	\
	"\"the shared secret simplybook_webhook_secret (or as "		\
	"Authorization: Bearer)\"}},\"answers\":{" INBOX_API_ANSWER("applied: the booking as it "	\
	"stands; a NEW_BOOKING says whether it was known already "	\
	"(duplicate) and the sessions left, a CANCELLED_BOOKING whether "	\
	"it was cancelled already",					\
	",\"booking\":{\"$ref\":\"#/components/schemas/"		\
	"therapy_bookings\"},\"duplicate\":{\"type\":"			\
	"\"boolean\"},\"therapy_sessions_remaining\":{\"type\":"		\
	"\"integer\"},\"already_cancelled\":{\"type\":\"boolean\"}") "},"	\
	"\"problems\":{\"400\":\"the body is not JSON\",\"401\":"		\
	"\"TOKEN_MISSING, TOKEN_INVALID, TIMESTAMP_INVALID, "		\
	"STALE_TIMESTAMP\",\"403\":\"NO_THERAPY_SESSIONS_LEFT\",\"404\":"	\
	"\"USER_NOT_FOUND, BOOKING_NOT_FOUND\",\"409\":"			\
	"\"BOOKING_CODE_TAKEN, BOOKING_CANCELLED\",\"413\":\"over "	\
	"webhook_body_limit\",\"422\":\"VALIDATION_FAILED\",\"503\":"	\
	"\"WEBHOOK_NOT_CONFIGURED\"}}"
/* clang-format on */

/* The cancel's answer, and the call it makes to the booking system
 * (notify.c): the document's webhooks. */
/* clang-format off */
#define API_CANCEL_OUT							\
	"{\"post\":{\"operationId\":\"bookingCancelled\",\"summary\":"	\
	"\"an in-app cancel, told to the booking "				\
	"system (booking_cancel_url); a 2xx is success, 404 and other 4xx "	\
	"give up, no connection, 408, 429 and 5xx are retried\","		\
	"\"parameters\":[{\"name\":\"X-Carebase-Timestamp\",\"in\":"	\
	"\"header\",\"required\":true,\"schema\":{\"type\":\"string\","	\
	"\"pattern\":\"^[0-9]+$\"},\"description\":\"unix seconds of this "	\
	"attempt\"},{\"name\":\"X-Carebase-Signature\",\"in\":\"header\","	\
	"\"required\":true,\"schema\":{\"type\":\"string\",\"pattern\":"	\
	"\"^sha256=[0-9a-f]{64}$\"},\"description\":\"hex HMAC-SHA256 of "	\
	"\\\"<timestamp>.<body>\\\" under booking_cancel_secret\"},{"		\
	"\"name\":\"X-Carebase-Delivery\",\"in\":\"header\",\"required\":"	\
	"true,\"schema\":{\"type\":\"string\"},\"description\":\"the same "	\
	"on every attempt of one notice\"}],\"requestBody\":{\"required\":"	\
	"true,\"content\":{\"application/json\":{\"schema\":{\"type\":"	\
	"\"object\",\"required\":[\"event\",\"booking_code\","		\
	"\"cancelled_at\",\"cancelled_by\"],\"additionalProperties\":"	\
	"false,\"properties\":{\"event\":{\"const\":"			\
	"\"booking.cancelled\"},\"booking_code\":{\"type\":\"string\"},"	\
	"\"cancelled_at\":{\"type\":\"string\",\"format\":\"date-time\"},"	\
	"\"cancelled_by\":{\"enum\":[\"client\",\"staff\"]}}},"		\
	"\"example\":{\"event\":\"booking.cancelled\",\"booking_code\":"	\
	"\"SB-1042\",\"cancelled_at\":\"2026-03-11T16:20:00Z\","		\
	"\"cancelled_by\":\"client\"}}}},\"security\":[{"			\
	"\"carebaseSignature\":[]}],\"responses\":{\"2XX\":{"		\
	"\"description\":\"cancelled in the booking system\"}}}}"
/* The scheme the call is signed with (notify.c's out_sign): the relay
 * checks it, with X-Carebase-Timestamp against replays. */
#define API_CANCEL_SCHEME						\
	"\"schemes\":{\"carebaseSignature\":{\"type\":\"apiKey\","	\
	"\"in\":\"header\",\"name\":\"X-Carebase-Signature\","		\
	"\"description\":\"what carebase signs its calls with: "		\
	"sha256=<hex HMAC-SHA256 of \\\"<X-Carebase-Timestamp>.<body>\\\" "	\
	"under booking_cancel_secret>; the receiver recomputes it over "	\
	"the raw body and refuses an old timestamp\"}},"
#define API_CANCEL							\
	"{\"codes\":{\"409\":[\"ALREADY_CANCELLED\",\"BOOKING_STARTED\"]},\"webhooks\":{\"bookingCancelled\":" API_CANCEL_OUT "}," API_CANCEL_SCHEME	\
	"\"answers\":{\"200\":{\"description\":\"the booking, cancelled\","	\
	"\"schema\":{\"allOf\":[{\"$ref\":"					\
	"\"#/components/schemas/therapy_bookings\"},{\"type\":\"object\","	\
	"\"required\":[\"booking_system_notified\"],\"properties\":{"	\
	"\"booking_system_notified\":{\"enum\":[\"queued\","		\
	"\"not_configured\"]}}}]}}},\"problems\":{\"404\":\"no such "	\
	"booking, or not yours\",\"409\":\"ALREADY_CANCELLED or "		\
	"BOOKING_STARTED\"}}"
/* clang-format on */

static const struct route bookings_routes[] = {
	{ HTTP_POST, "/v1/webhooks/simplybook", bookings_webhook,
	    ROUTE_RAW_BODY | ROUTE_PUBLIC,
	    "booking system: NEW_BOOKING, UPDATED_BOOKING or "
	    "CANCELLED_BOOKING; token in X-Simplybook-Token or Authorization: "
	    "Bearer",
	    NULL, API_SIMPLYBOOK },
	{ HTTP_POST, "/v1/therapy-bookings/{id}/cancel", bookings_app_cancel, 0,
	    "cancel your booking before it starts, once; the session is "
	    "given back and the booking system told (booking_cancel_url)",
	    NULL, API_CANCEL },
	{ HTTP_GET, "/v1/me/therapy-bookings", bookings_app_mine, 0,
	    "the caller's therapy bookings", NULL,
	    "{\"list\":\"therapy_bookings\"}" },
};

static const struct job_kind bookings_jobs[] = {
	{ "therapy_bookings.complete", bookings_complete_job, 0 },
	{ BOOKINGS_NOTIFY_KIND, bookings_notify_job, BOOKINGS_NOTIFY_ATTEMPTS },
};

static const struct job_schedule bookings_schedules[] = {
	{ "therapy_bookings.complete", "* * * * *", "therapy_bookings.complete",
	    NULL },
};

static const char *const actions[] = { "NEW_BOOKING", "UPDATED_BOOKING",
	"CANCELLED_BOOKING", NULL };
static const char *const statuses[] = { "booked", "cancelled", NULL };

static const struct field booking_fields[] = {
	{ "action", FIELD_ENUM, FIELD_READONLY, 0, 0, actions, NULL, NULL, 0,
	    "the booking system's last word on it" },
	{ "user_id", FIELD_UUID, FIELD_READONLY | FIELD_FILTER, 0, 0, NULL,
	    NULL, NULL, 0, "the client; owns the row" },
	{ "partner_access_id", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0,
	    0, NULL, NULL, NULL, 0, "the access whose session it spent" },
	{ "partner_id", FIELD_UUID,
	    FIELD_READONLY | FIELD_NULLABLE | FIELD_FILTER, 0, 0, NULL, NULL,
	    NULL, 0, "the partner of that access" },
	{ "partner_name", FIELD_TEXT, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, 0, "the partner's name",
	    "SELECT p.name FROM partners p WHERE "
	    "p.id = therapy_bookings.partner_id" },
	{ "client_email", FIELD_EMAIL, SEALED | FIELD_BLIND_INDEX, 0, 0, NULL,
	    NULL, NULL, SEE_ALL | SEE_OWN,
	    "the address the booking was made with (admins and the client)" },
	{ "client_timezone", FIELD_TEXT, SEALED, 0, BOOKING_TZ_MAX, NULL, NULL,
	    NULL, 0, NULL },
	{ "booking_code", FIELD_TEXT, FIELD_READONLY, 0, BOOKING_CODE_MAX, NULL,
	    NULL, NULL, 0, "the booking system's code" },
	{ "service_name", FIELD_TEXT, FIELD_READONLY, 0, BOOKING_TEXT_MAX, NULL,
	    NULL, NULL, 0, NULL },
	{ "service_provider_name", FIELD_TEXT, SEALED, 0, BOOKING_TEXT_MAX,
	    NULL, NULL, NULL, 0, "the therapist" },
	{ "service_provider_email", FIELD_EMAIL, SEALED, 0, 0, NULL, NULL, NULL,
	    0, NULL },
	{ "start_date_time", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL,
	    0, NULL },
	{ "end_date_time", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL,
	    0, NULL },
	{ "rescheduled_from", FIELD_TIME, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, 0, "the start before the last reschedule" },
	{ "cancelled_at", FIELD_TIME, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, 0, NULL },
	{ "completed_at", FIELD_TIME, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, 0,
	    "set once its end has passed, unless cancelled" },
	{ "created_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
	{ "updated_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
	{ "status", FIELD_ENUM, FIELD_READONLY | FIELD_FILTER, 0, 0, statuses,
	    NULL, NULL, 0, "booked, or cancelled",
	    "CASE WHEN cancelled_at IS NULL THEN 'booked' ELSE 'cancelled' "
	    "END" },
};

const struct resource therapy_bookings_resource = {
	.name = "therapy_bookings",
	.path = "/v1/therapy-bookings",
	.table = "therapy_bookings",
	.fields = booking_fields,
	.nfields = NELEM(booking_fields),
	.owner_column = "user_id",
	.scope_where = { [SCOPE_RELATED] =
			     "partner_id IN (" PARTNERS_ADMINISTERED ")" },
	.flags = RESOURCE_ID_PAGED,
	.actions = (1 << ACTION_LIST) | (1 << ACTION_READ),
	.doc = "Therapy sessions booked in the booking system with an external "
	       "provider, each spending a session of the client's partner "
	       "access. Admins see every booking, partner admins their "
	       "partner's (without the client's address), clients their own. "
	       "The client cancels in the app: POST "
	       "/v1/therapy-bookings/{id}/cancel.",
	.before_list = partners_admin_check,
	/* POST .../cancel answers the row with it (API_CANCEL): a row
	 * schema declares every member a row is answered with. */
	.answered =
	    "{\"booking_system_notified\":{\"enum\":[\"queued\","
	    "\"not_configured\"],\"description\":\"POST "
	    "/v1/therapy-bookings/{id}/cancel only: whether the booking "
	    "system is told\"}}",
};

static const struct resource *const bookings_resources[] = {
	&therapy_bookings_resource,
};

const struct module bookings_module = {
	"bookings",
	bookings_routes,
	NELEM(bookings_routes),
	bookings_jobs,
	NELEM(bookings_jobs),
	bookings_schedules,
	NELEM(bookings_schedules),
	bookings_resources,
	NELEM(bookings_resources),
	bookings_init,
	NULL,
};

/*
 * Erasure clears what leads to the person; rows migration 0011 carried
 * over in clear are sealed now; the webhook's handler is known to
 * `carebase webhooks replay`.
 */
static int
bookings_init(struct store *db)
{
	int rc;

	if ((rc = hooks_gdpr_register(&bookings_gdpr_hook)) != OK &&
	    rc != ERR_CONFLICT)
		return (rc);
	if ((rc = bookings_profile_init()) != OK)
		return (rc);
	if ((rc = bookings_seal_legacy(db)) != OK)
		return (rc);
	return (inbox_register(&simplybook_source));
}
