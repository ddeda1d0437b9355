/*
 * Notifications (seed 004: notifications; issue 17 item 5): what the
 * training business tells a person of their bookings, certificates and
 * refunds, and the person's preferences for how.
 *
 *	type			made when				priority
 *	booking_confirmed	a booking is confirmed (paid through	high
 *				Stripe, staff's offline confirm, the
 *				booker's own of a free one)
 *	reminder		hours before the start (notify_jobs.c)	high
 *	cancelled		a booking is cancelled, but by its	high
 *				hold running out; it says what the
 *				cancellation refunds
 *	certificate_ready	a certificate is issued			medium
 *	refund_processed	a refund completed, but one through	medium
 *				Stripe its cancelled told of
 *				(notify_mail.c)
 *	certificate_expiring	days before a certificate expires	medium
 *				(notify_jobs.c; urgent on the day)
 *
 * training_notify makes one in the transaction of what it tells of, by
 * the channels the person's preferences allow (notification_preferences,
 * a row per type and channel; none: in-app and email on, SMS off):
 *
 *	in_app	the row shows in their list (show_in_app); off, the row is
 *		still made when another channel is on, as the record of it
 *	email	a mail through the mail queue (hooks_mail: email_log and the
 *		mail.send job) with the type's template (notify_mail.c),
 *		linking to action_url on public_url
 *	sms	the training.notify_sms job (notify_sms.c) to the person's
 *		phone, when it is an E.164 number; a person who asks for SMS
 *		with a phone that is not one is refused (422 PHONE_NOT_E164)
 *
 * Service mail: a person whose account says no to service emails
 * (users.service_emails_permission false, theirs to set with PATCH
 * /v1/me) is mailed no optional notification: the reminders before a
 * course and before a certificate expires (service_mail_optional). What
 * they must be told is mailed whatever that says: a booking confirmed or
 * cancelled, a refund, a certificate ready (and, outside this module, a
 * password reset). The in-app notification is made either way, and SMS
 * follows its own preference.
 *
 * status follows its channels: pending while its mail or SMS is on its
 * way, sent once each went (sent_at), delivered when it went in-app only,
 * failed when one failed for good (the mail's outcome comes from the mail
 * module: hooks_mail_outcome), read once the person read it (PATCH
 * {"status": "read"}, read_at; POST /v1/me/notifications/read-all).
 *
 * Who sees what: a person lists and reads their own, in-app and not
 * expired (GET /v1/me/notifications, GET /v1/notifications), and marks
 * them read; another's answers 404. Admins read every one (staff never
 * mark another's read). A person's notifications and preferences are in
 * their export and deleted with them; title and message are sealed under
 * their key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/config.h"
#include "core/err.h"
#include "core/pages.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "resource/hooks.h"
#include "resource/resource.h"
#include "store/jobs.h"
#include "store/store.h"
#include "training/training_int.h"

#define NOTIFY_TITLE_MAX   200
#define NOTIFY_MESSAGE_MAX 2000
#define NOTIFY_MAIL_PREFIX "training_notify_"

/* The person's own: in their list (in-app), not expired. */
#define NOTIFY_OWN                                                             \
	"user_id = ? AND show_in_app = 1 AND (expires_at IS NULL OR "          \
	"expires_at > unixepoch() * 1000)"

/* A notification's status from its channels, as its columns are now. */
#define NOTIFY_STATUS_SQL                                                      \
	"UPDATE notifications SET status = CASE WHEN read_at IS NOT NULL "     \
	"THEN 'read' WHEN email_status = 'failed' OR sms_status = 'failed' "   \
	"THEN 'failed' WHEN email_status = 'queued' OR sms_status = "          \
	"'queued' THEN 'pending' WHEN email_status = 'sent' OR sms_status = "  \
	"'sent' THEN 'sent' ELSE 'delivered' END, sent_at = CASE WHEN "        \
	"sent_at IS NULL AND (email_status = 'sent' OR sms_status = 'sent') "  \
	"AND COALESCE(email_status, '') <> 'queued' AND "                      \
	"COALESCE(sms_status, '') <> 'queued' THEN ? ELSE sent_at END, "       \
	"updated_at = ? WHERE id = ?"

static int notify_before_update(struct resource_ctx *, json_t *);
static int prefs_before_create(struct resource_ctx *, json_t *);
static int prefs_before_update(struct resource_ctx *, json_t *);
static int sms_check(struct resource_ctx *, const char *user_id);
static int prefs_of(struct tx *, const char *user_id, const char *type,
    int *email, int *sms, int *in_app);
static int mail_outcome(struct tx *, const char *log_id, const char *status);
static int notify_mail(struct tx *, const struct training_notice *,
    const struct person_contact *, char *log_id);
static const char *priority_of(const char *type);
static int	   service_mail_optional(const char *type);

const char *const training_notify_types[] = { "booking_confirmed", "reminder",
	"cancelled", "certificate_ready", "refund_processed",
	"certificate_expiring", NULL };
static const char *const priorities[] = { "low", "medium", "high", "urgent",
	NULL };
static const char *const statuses[] = { "pending", "sent", "delivered",
	"failed", "read", NULL };
static const char *const channel_statuses[] = { "queued", "sent", "failed",
	NULL };
static const char *const channels[] = { "email", "sms", "in_app", NULL };

#define RO FIELD_READONLY
#define N  FIELD_NULLABLE
#define F  FIELD_FILTER

static const struct field notification_fields[] = {
	{ "user_id", FIELD_UUID, RO | F, 0, 0, NULL, NULL, NULL, 0,
	    "the person it is for; owns the row" },
	{ "type", FIELD_ENUM, RO | F, 0, 0, training_notify_types, NULL, NULL,
	    0,
	    "booking_confirmed, reminder, cancelled, certificate_ready, "
	    "refund_processed or certificate_expiring" },
	{ "title", FIELD_TEXT, RO | FIELD_PERSONAL | N, 0, NOTIFY_TITLE_MAX,
	    NULL, NULL, NULL, 0, "one line, sealed under the person's key" },
	{ "message", FIELD_TEXT, RO | FIELD_PERSONAL | N, 0, NOTIFY_MESSAGE_MAX,
	    NULL, NULL, NULL, 0,
	    "what it tells, sealed under the person's key" },
	{ "priority", FIELD_ENUM, RO | F, 0, 0, priorities, NULL, NULL, 0,
	    "low, medium, high or urgent" },
	{ "send_email", FIELD_BOOL, RO, 0, 0, NULL, NULL, NULL, 0,
	    "it went by mail too (the person's preference)" },
	{ "send_sms", FIELD_BOOL, RO, 0, 0, NULL, NULL, NULL, 0,
	    "it went by SMS too (the person's preference, an E.164 phone)" },
	{ "show_in_app", FIELD_BOOL, RO, 0, 0, NULL, NULL, NULL, 0,
	    "it is in the person's list (the person's preference)" },
	{ "status", FIELD_ENUM, F, 0, 0, statuses, NULL, NULL, 0,
	    "pending (mail or SMS on its way), sent, delivered (in-app "
	    "only), failed (mail or SMS failed for good) or read; the person "
	    "sets read (PATCH {\"status\": \"read\"})" },
	{ "is_read", FIELD_BOOL, RO | F, 0, 0, NULL, NULL, NULL, 0,
	    "read_at is set: ?is_read=false lists the unread",
	    "CASE WHEN notifications.read_at IS NULL THEN 0 ELSE 1 END" },
	{ "email_status", FIELD_ENUM, RO | N, 0, 0, channel_statuses, NULL,
	    NULL, 0, "its mail: queued, sent or failed; null without one" },
	{ "sms_status", FIELD_ENUM, RO | N, 0, 0, channel_statuses, NULL, NULL,
	    0, "its SMS: queued, sent or failed; null without one" },
	{ "sms_error", FIELD_TEXT, RO | N, 0, 0, NULL, NULL, NULL, SEE_ALL,
	    "why its SMS failed (no number in it)" },
	{ "email_log_id", FIELD_TEXT, RO | N | FIELD_HIDDEN, 0, 0, NULL, NULL,
	    NULL, 0, "its mail's email_log row" },
	{ "booking_id", FIELD_UUID, RO | N | F, 0, 0, NULL, NULL,
	    "training_bookings", 0, "the booking it is about" },
	{ "course_id", FIELD_UUID, RO | N | F, 0, 0, NULL, NULL,
	    "training_courses", 0, "the course it is about" },
	{ "certificate_id", FIELD_UUID, RO | N | F, 0, 0, NULL, NULL,
	    "certificates", 0, "the certificate it is about" },
	{ "action_url", FIELD_URL, RO | N | FIELD_URL_RELATIVE, 0, 0, NULL,
	    NULL, NULL, 0,
	    "the web application's page of it (/bookings/{id}, "
	    "/certificates/{id})" },
	{ "expires_at", FIELD_TIME, RO | N, 0, 0, NULL, NULL, NULL, 0,
	    "after it the person's list leaves it out (a reminder: the start)" },
	{ "sent_at", FIELD_TIME, RO | N, 0, 0, NULL, NULL, NULL, 0,
	    "when its mail and SMS had all gone" },
	{ "read_at", FIELD_TIME, RO | N, 0, 0, NULL, NULL, NULL, 0,
	    "when the person read it" },
};

const struct resource notifications_resource = {
	.name = "notifications",
	.path = "/v1/notifications",
	.table = "notifications",
	.fields = notification_fields,
	.nfields = NELEM(notification_fields),
	.owner_column = "user_id",
	.actions =
	    (1 << ACTION_LIST) | (1 << ACTION_READ) | (1 << ACTION_UPDATE),
	.scope_where = { [SCOPE_OWN] = NOTIFY_OWN },
	.flags = RESOURCE_ERASE_ROWS,
	.doc = "What the training business told a person (seed 004): booking "
	       "confirmed, reminders before the start, cancelled, "
	       "certificate ready, refund processed, certificate expiring; "
	       "in-app, by mail and by SMS as the person's preferences say. "
	       "A person lists their own (in-app, not expired) and marks "
	       "them read (PATCH {\"status\": \"read\"}); admins read all.",
	.before_update = notify_before_update,
};

static const struct field preference_fields[] = {
	{ "user_id", FIELD_UUID, FIELD_CREATE_ONLY | F, 0, 0, NULL, NULL,
	    "users", 0, "whose (yours unless staff say)" },
	{ "notification_type", FIELD_ENUM,
	    FIELD_REQUIRED | FIELD_CREATE_ONLY | F, 0, 0, training_notify_types,
	    NULL, NULL, 0, "the notification type" },
	{ "channel", FIELD_ENUM, FIELD_REQUIRED | FIELD_CREATE_ONLY | F, 0, 0,
	    channels, NULL, NULL, 0, "email, sms or in_app" },
	{ "enabled", FIELD_BOOL, FIELD_REQUIRED, 0, 0, NULL, NULL, NULL, 0,
	    "send by that channel; sms needs an E.164 phone on the account" },
	{ "created_by", FIELD_UUID, RO | N, 0, 0, NULL, NULL, NULL, SEE_ALL,
	    NULL },
	{ "updated_by", FIELD_UUID, RO | N, 0, 0, NULL, NULL, NULL, SEE_ALL,
	    NULL },
};

const struct resource notification_preferences_resource = {
	.name = "notification_preferences",
	.path = "/v1/notification-preferences",
	.table = "notification_preferences",
	.fields = preference_fields,
	.nfields = NELEM(preference_fields),
	.owner_column = "user_id",
	.flags = RESOURCE_ERASE_ROWS,
	.doc = "A person's choice of how they are told, one row per "
	       "notification type and channel (email, sms, in_app); without "
	       "one, in-app and email are on and SMS off. Asking for SMS "
	       "needs an E.164 phone number on the account (422 "
	       "PHONE_NOT_E164). Deleting a row goes back to the default.",
	.before_create = prefs_before_create,
	.before_update = prefs_before_update,
	.codes = "{\"422\":[\"PHONE_NOT_E164\"]}",
};

#undef RO
#undef N
#undef F

int
training_e164_ok(const char *s)
{
	size_t n;

	if (s == NULL || s[0] != '+' || s[1] < '1' || s[1] > '9')
		return (0);
	for (n = 1; s[n] != '\0'; n++)
		if (s[n] < '0' || s[n] > '9')
			return (0);
	return (n >= 3 && n <= 16);
}

/* The person marks it read; nothing else of it is theirs to change. */
static int
notify_before_update(struct resource_ctx *ctx, json_t *body)
{
	const char *to = json_string_value(json_object_get(body, "status"));
	char	    iso[ISO_TIME_LEN];

	if (to == NULL)
		return (OK);
	if (strcmp(to, "read") != 0)
		return (training_refuse(ctx->req, ERR_INVALID, NULL, "status",
		    "not_allowed", "a notification is only marked read"));
	/* Read already: it stays as it was read. */
	if (json_is_string(json_object_get(ctx->old, "read_at")))
		return (json_object_del(body, "status") == 0 ? OK : ERR_NOMEM);
	return (json_object_set_new(body, "read_at",
		    json_string(time_format_iso(time_now_ms(), iso))) == 0
		? OK
		: ERR_NOMEM);
}

/* SMS wanted: the owner's phone must be an E.164 number. */
static int
sms_check(struct resource_ctx *ctx, const char *user_id)
{
	struct person_contact pc;
	int		      rc, ok;

	memset(&pc, 0, sizeof(pc));
	rc = hooks_contact(ctx->tx, user_id, 0, &pc);
	ok = rc == OK && training_e164_ok(pc.phone);
	hooks_contact_clear(&pc);
	if (rc != OK && rc != ERR_NOT_FOUND && rc != ERR_INVALID)
		return (rc);
	if (ok)
		return (OK);
	return (training_refuse(ctx->req, ERR_INVALID, "PHONE_NOT_E164",
	    "channel", "phone_not_e164",
	    "SMS need the account's phone number in E.164 form "
	    "(+447700900123): set it with PATCH /v1/me first"));
}

static int
prefs_before_create(struct resource_ctx *ctx, json_t *body)
{
	const char *ch = json_string_value(json_object_get(body, "channel"));
	const char *uid = json_string_value(json_object_get(body, "user_id"));

	if (ch == NULL || strcmp(ch, "sms") != 0 ||
	    !json_is_true(json_object_get(body, "enabled")))
		return (OK);
	return (sms_check(ctx, uid != NULL ? uid : ctx->who->user_id));
}

static int
prefs_before_update(struct resource_ctx *ctx, json_t *body)
{
	const char *ch =
	    json_string_value(json_object_get(ctx->old, "channel"));
	const char *uid =
	    json_string_value(json_object_get(ctx->old, "user_id"));

	if (ch == NULL || strcmp(ch, "sms") != 0 || uid == NULL ||
	    !json_is_true(json_object_get(body, "enabled")))
		return (OK);
	return (sms_check(ctx, uid));
}

/* The channels the person wants for type: in-app and email unless they
 * said otherwise, SMS only when they said so. */
static int
prefs_of(struct tx *tx, const char *user_id, const char *type, int *email,
    int *sms, int *in_app)
{
	struct stmt *st;
	const char  *ch;
	int	     rc, on;

	*email = 1;
	*sms = 0;
	*in_app = 1;
	st = store_prepare(tx,
	    "SELECT channel, enabled FROM notification_preferences WHERE "
	    "user_id = ? AND notification_type = ?");
	store_bind_text(st, 1, user_id);
	store_bind_text(st, 2, type);
	while ((rc = store_step(st)) == STORE_ROW) {
		ch = store_col_text(st, 0);
		on = store_col_int64(st, 1) != 0;
		if (strcmp(ch, "email") == 0)
			*email = on;
		else if (strcmp(ch, "sms") == 0)
			*sms = on;
		else if (strcmp(ch, "in_app") == 0)
			*in_app = on;
	}
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

static const char *
priority_of(const char *type)
{
	if (strcmp(type, "booking_confirmed") == 0 ||
	    strcmp(type, "reminder") == 0 || strcmp(type, "cancelled") == 0)
		return ("high");
	return ("medium");
}

/* A type whose mail a person may decline (service_emails_permission):
 * reminders. The others tell of their money, their booking or their
 * certificate: transactional, always mailed. */
static int
service_mail_optional(const char *type)
{
	return (strcmp(type, "reminder") == 0 ||
	    strcmp(type, "certificate_expiring") == 0);
}

/* The type's mail to pc.email; log_id gets its email_log row. */
static int
notify_mail(struct tx *tx, const struct training_notice *n,
    const struct person_contact *pc, char *log_id)
{
	json_t *vars;
	char template[64], *link = NULL, *notes = NULL;
	int rc;

	snprintf(
	    template, sizeof(template), "%s%s", NOTIFY_MAIL_PREFIX, n->type);
	if ((vars = json_deep_copy(
		 n->vars != NULL ? n->vars : json_object())) == NULL)
		return (ERR_NOMEM);
	if (n->action_url != NULL &&
	    asprintf(&link, "%s%s", config.public_url, n->action_url) < 0)
		link = NULL;
	/* no page of its own: the person's notifications */
	if (link == NULL &&
	    (notes = pages_link(PAGE_NOTIFICATIONS, NULL)) == NULL) {
		json_decref(vars);
		return (ERR_NOMEM);
	}
	if (json_object_set_new(vars, "first_name",
		json_string(
		    pc->first_name != NULL ? pc->first_name : "there")) != 0 ||
	    json_object_set_new(vars, "title", json_string(n->title)) != 0 ||
	    json_object_set_new(vars, "message", json_string(n->message)) !=
		0 ||
	    json_object_set_new(
		vars, "link", json_string(link != NULL ? link : notes)) != 0)
		rc = ERR_NOMEM;
	else
		rc = hooks_mail(
		    tx, pc->email, n->user_id, template, vars, log_id);
	free(link);
	free(notes);
	json_decref(vars);
	return (rc);
}

int
training_notify_ready(struct tx *tx, int *there)
{
	return (store_table_exists(tx, "notification_reminders", there));
}

int
training_notify(struct tx *tx, const struct training_notice *n)
{
	struct resource_ctx   ctx;
	struct person_contact pc;
	json_t		     *body = NULL;
	char		      id[UUID_STR_LEN], log_id[UUID_STR_LEN] = "";
	char		      payload[96], iso[ISO_TIME_LEN];
	int		      email, sms, in_app, rc, there;

	memset(&pc, 0, sizeof(pc));
	/* Migration 0038 pending or undone: what it tells of goes on. */
	if ((rc = training_notify_ready(tx, &there)) != OK)
		return (rc);
	if (!there) {
		log_warn("event=training_notify_skipped type=%s "
			 "reason=migrations_pending",
		    n->type);
		return (OK);
	}
	if ((rc = prefs_of(tx, n->user_id, n->type, &email, &sms, &in_app)) !=
	    OK)
		return (rc);
	/* Someone to tell: not erased, nor deleted. */
	switch ((rc = hooks_contact(tx, n->user_id, 0, &pc))) {
	case OK:
		break;
	case ERR_NOT_FOUND:
	case ERR_INVALID:
	case ERR_UNAVAILABLE:
		hooks_contact_clear(&pc);
		return (OK);
	default:
		return (rc);
	}
	if (pc.deleted) {
		hooks_contact_clear(&pc);
		return (OK);
	}
	if (email && pc.no_service_mail && service_mail_optional(n->type)) {
		log_info("event=training_notify_mail_skipped user_id=%s "
			 "type=%s reason=service_emails_declined",
		    n->user_id, n->type);
		email = 0;
	}
	if (sms && !training_e164_ok(pc.phone)) {
		log_warn("event=training_notify_sms_skipped user_id=%s "
			 "type=%s reason=phone_not_e164",
		    n->user_id, n->type);
		sms = 0;
	}
	if (email && pc.email != NULL) {
		rc = notify_mail(tx, n, &pc, log_id);
		if (rc == ERR_INVALID || rc == ERR_UNAVAILABLE) {
			log_warn("event=training_notify_mail_skipped "
				 "user_id=%s type=%s code=%s",
			    n->user_id, n->type, err_code(rc));
			log_id[0] = '\0';
		} else if (rc != OK) {
			hooks_contact_clear(&pc);
			return (rc);
		}
	}
	hooks_contact_clear(&pc);
	email = log_id[0] != '\0';
	if (!email && !sms && !in_app)
		return (OK); /* every channel off: nothing to keep */
	body = json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:b,s:b,s:s}", "user_id",
	    n->user_id, "type", n->type, "title", n->title, "message",
	    n->message, "priority",
	    n->priority != NULL ? n->priority : priority_of(n->type),
	    "send_email", email, "send_sms", sms, "show_in_app", in_app,
	    "status", email || sms ? "pending" : "delivered");
	if (body == NULL)
		return (ERR_NOMEM);
	if ((email &&
		(json_object_set_new(
		     body, "email_log_id", json_string(log_id)) != 0 ||
		    json_object_set_new(
			body, "email_status", json_string("queued")) != 0)) ||
	    (sms &&
		json_object_set_new(
		    body, "sms_status", json_string("queued")) != 0) ||
	    (n->booking_id != NULL &&
		json_object_set_new(
		    body, "booking_id", json_string(n->booking_id)) != 0) ||
	    (n->course_id != NULL &&
		json_object_set_new(
		    body, "course_id", json_string(n->course_id)) != 0) ||
	    (n->certificate_id != NULL &&
		json_object_set_new(body, "certificate_id",
		    json_string(n->certificate_id)) != 0) ||
	    (n->action_url != NULL &&
		json_object_set_new(
		    body, "action_url", json_string(n->action_url)) != 0) ||
	    (n->expires_at > 0 &&
		json_object_set_new(body, "expires_at",
		    json_string(time_format_iso(n->expires_at, iso))) != 0)) {
		json_decref(body);
		return (ERR_NOMEM);
	}
	memset(&ctx, 0, sizeof(ctx));
	ctx.tx = tx;
	ctx.res = &notifications_resource;
	ctx.scope = SCOPE_ALL;
	rc = resource_insert(&ctx, body, id);
	json_decref(body);
	if (rc != OK)
		return (rc);
	/* The payload names the row only: no number, no text in jobs. */
	snprintf(payload, sizeof(payload), "{\"notification_id\":\"%s\"}", id);
	if (sms &&
	    (rc = jobs_enqueue(
		 tx, TRAINING_NOTIFY_SMS_JOB, payload, NULL, 0, NULL)) != OK)
		return (rc);
	log_info("event=training_notified notification_id=%s type=%s email=%d "
		 "sms=%d in_app=%d",
	    id, n->type, email, sms, in_app);
	return (OK);
}

/* A mail of ours went, or failed for good: the notification says so. */
static int
mail_outcome(struct tx *tx, const char *log_id, const char *status)
{
	struct stmt *st;
	char	     id[UUID_STR_LEN] = "";
	int64_t	     now = time_now_ms();
	int	     rc, there;

	/* Every mail's outcome comes here: with 0038 pending there is no
	 * notification to tell, and no statement may fail. */
	if ((rc = training_notify_ready(tx, &there)) != OK || !there)
		return (rc);
	st = store_prepare(tx,
	    "SELECT id FROM notifications WHERE email_log_id = ? AND "
	    "email_status = 'queued'");
	store_bind_text(st, 1, log_id);
	if ((rc = store_step(st)) == STORE_ROW)
		strlcpy_cb(id, store_col_text(st, 0), sizeof(id));
	store_finalize(st);
	if (rc != STORE_ROW)
		return (rc == STORE_DONE ? OK : rc);
	st = store_prepare(tx,
	    "UPDATE notifications SET email_status = ?, updated_at = ? WHERE "
	    "id = ?");
	store_bind_text(st, 1, status);
	store_bind_int64(st, 2, now);
	store_bind_text(st, 3, id);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc);
	return (training_notify_status(tx, id));
}

int
training_notify_status(struct tx *tx, const char *id)
{
	struct stmt *st;
	int64_t	     now = time_now_ms();
	int	     rc;

	st = store_prepare(tx, NOTIFY_STATUS_SQL);
	store_bind_int64(st, 1, now);
	store_bind_int64(st, 2, now);
	store_bind_text(st, 3, id);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

int
training_notify_init(void)
{
	int rc;

	if ((rc = training_notify_mail_init()) != OK)
		return (rc);
	rc = hooks_mail_outcome_listen(mail_outcome);
	return (rc == ERR_CONFLICT ? OK : rc);
}

void
training_notifications_mine(struct request *req)
{
	resource_list(req, &notifications_resource, SCOPE_OWN);
}

struct read_all {
	const char *user_id;
	int64_t	    n;
};

static int
read_all_tx(struct tx *tx, void *arg)
{
	struct read_all *r = arg;
	struct stmt	*st;
	int64_t		 now = time_now_ms();
	int		 rc;

	st = store_prepare(tx,
	    "UPDATE notifications SET status = 'read', read_at = ?, "
	    "updated_at = ? WHERE " NOTIFY_OWN " AND read_at IS NULL");
	store_bind_int64(st, 1, now);
	store_bind_int64(st, 2, now);
	store_bind_text(st, 3, r->user_id);
	rc = store_step(st);
	r->n = rc == STORE_DONE ? store_changes(st) : 0;
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

void
training_notifications_read_all(struct request *req)
{
	struct read_all r;
	int		rc;

	if (resource_scope(req->db, req->caller, "notifications", "update") ==
	    SCOPE_NONE) {
		http_problem(req, ERR_FORBIDDEN, NULL,
		    "You may not mark notifications read.");
		return;
	}
	r.user_id = req->caller->user_id;
	r.n = 0;
	if ((rc = store_run(req->db, STORE_TX_WRITE, read_all_tx, &r)) != OK) {
		http_problem(req, rc, NULL,
		    "The notifications could not be marked read.");
		return;
	}
	http_json(req, 200, json_pack("{s:I}", "marked", (json_int_t)r.n));
}
