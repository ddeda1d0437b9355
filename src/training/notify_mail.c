/*
 * What each notification type says (notify.c makes and sends them): its
 * in-app title and message, made here from the booking, certificate or
 * refund it is about, and its mail template, text and HTML, named
 * "training_notify_<type>", whose link is public_url and the page of the
 * web application the notification names (action_url: /bookings/{id},
 * /certificates/{id}, from core/pages.h), framed and branded by the
 * layout every mail has (ops/mail_job.c). Times are London's ("Tuesday 3 March 2031 at
 * 09:00"), money as its currency counts it ("75.00 GBP"). Every template
 * takes first_name, title, message and link, and its type's own facts.
 *
 * A cancellation that refunds is one message, not two: the cancelled
 * notification says how much comes back and how (refund_words), made
 * after the refund in the cancel's transaction (bookings.c, holds.c and
 * the approval in refunds.c make the refund first). A refund through
 * Stripe told so is claimed in notification_reminders (kind
 * CANCEL_REFUND), and its completion makes no refund_processed: Stripe
 * answers most card refunds succeeded within seconds, so the learner had
 * two mails at once saying the same, and one still pending settles at
 * their bank with nothing for them to do. A refund paid back by hand
 * (paid offline) is told as coming and gets its refund_processed when
 * staff mark it paid, days later, as the cancel's message promises. A
 * refund that is no part of a cancellation (staff's partial refund, a
 * request approved, a duplicate or late payment given back) is told by
 * refund_processed when it completes, as before.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/err.h"
#include "core/log.h"
#include "core/mail.h"
#include "core/pages.h"
#include "core/util.h"
#include "module.h"
#include "store/store.h"
#include "training/training_int.h"

#define NOTIFY_FACT_MAX	  200
#define NOTIFY_TITLE_LINE 256
/* A name in a title or message: its first 150 bytes, cut between
 * characters (a name holds 200 characters, up to 800 bytes). */
#define NOTIFY_NAME_SHORT 151
/* notification_reminders' kind of a refund told by a cancelled
 * notification (its offset 0). */
#define CANCEL_REFUND "cancel_refund"

/* clang-format off */
#define HTML_HEAD "<p>Hello {{first_name}},</p><p>{{message}}</p>"
#define HTML_LINK(what) "<p><a href=\"{{link}}\">" what "</a></p>"
/* clang-format on */

static const struct mail_template templates[] = {
	{
	    "training_notify_booking_confirmed",
	    "Booking {{reference}} confirmed: {{course}}",
	    "Hello {{first_name}},\n\n{{message}}\n\n"
	    "Booking reference: {{reference}}\nCourse: {{course}}\n"
	    "When: {{when}}\nWhere: {{venue}}\n\n"
	    "Your booking: {{link}}\n",
	    HTML_HEAD
	    "<table><tr><th>Booking reference</th><td>{{reference}}"
	    "</td></tr><tr><th>Course</th><td>{{course}}</td></tr>"
	    "<tr><th>When</th><td>{{when}}</td></tr><tr><th>Where"
	    "</th><td>{{venue}}</td></tr></table>" HTML_LINK("Your booking"),
	    "{\"first_name\":\"Sam\",\"title\":\"Booking confirmed\",\"message\":\"Your booking is confirmed.\","
	    "\"link\":\"/bookings/0190a0b0-0000-7000-8000-000000000001\",\"reference\":\"RFT-2031-0001\",\"course\":\"Emergency First Aid at Work\",\"when\":\"Tuesday 4 March 2031 at 09:00\",\"venue\":\"Leeds Central\"}",
	},
	{
	    "training_notify_reminder",
	    "Reminder: {{course}} starts {{when}}",
	    "Hello {{first_name}},\n\n{{message}}\n\n"
	    "Course: {{course}}\nWhen: {{when}}\nWhere: {{venue}}\n"
	    "Booking reference: {{reference}}\n\n"
	    "Your booking: {{link}}\n",
	    HTML_HEAD
	    "<p>Course: {{course}}<br>When: {{when}}<br>Where: "
	    "{{venue}}<br>Booking reference: {{reference}}</p>" HTML_LINK(
		"Your booking"),
	    "{\"first_name\":\"Sam\",\"title\":\"Booking confirmed\",\"message\":\"Your booking is confirmed.\","
	    "\"link\":\"/bookings/0190a0b0-0000-7000-8000-000000000001\",\"reference\":\"RFT-2031-0001\",\"course\":\"Emergency First Aid at Work\",\"when\":\"Tuesday 4 March 2031 at 09:00\",\"venue\":\"Leeds Central\"}",
	},
	{
	    "training_notify_cancelled",
	    "Booking {{reference}} cancelled: {{course}}",
	    "Hello {{first_name}},\n\n{{message}}\n\n"
	    "Booking reference: {{reference}}\nCourse: {{course}}\n"
	    "When it was to be: {{when}}\n\n"
	    "Your booking: {{link}}\n",
	    HTML_HEAD "<p>Booking reference: {{reference}}<br>Course: "
		      "{{course}}<br>When it was to be: {{when}}</p>" HTML_LINK(
			  "Your booking"),
	    "{\"first_name\":\"Sam\",\"title\":\"Booking confirmed\",\"message\":\"Your booking is confirmed.\","
	    "\"link\":\"/bookings/0190a0b0-0000-7000-8000-000000000001\",\"reference\":\"RFT-2031-0001\",\"course\":\"Emergency First Aid at Work\",\"when\":\"Tuesday 4 March 2031 at 09:00\",\"venue\":\"Leeds Central\"}",
	},
	{
	    "training_notify_certificate_ready",
	    "Your certificate {{certificate_number}} is ready",
	    "Hello {{first_name}},\n\n{{message}}\n\n"
	    "Certificate number: {{certificate_number}}\nCourse: {{course}}\n"
	    "Valid until: {{expiry_date}}\n\n"
	    "Your certificate: {{link}}\n",
	    HTML_HEAD
	    "<p>Certificate number: {{certificate_number}}<br>"
	    "Course: {{course}}<br>Valid until: {{expiry_date}}</p>" HTML_LINK(
		"Your certificate"),
	    "{\"first_name\":\"Sam\",\"title\":\"Booking confirmed\",\"message\":\"Your booking is confirmed.\","
	    "\"link\":\"/certificates/0190a0b0-0000-7000-8000-000000000002\",\"certificate_number\":\"RFT-EFAW-2031-0001\",\"course\":\"Emergency First Aid at Work\",\"expiry_date\":\"4 March 2034\"}",
	},
	{
	    "training_notify_refund_processed",
	    "Refund of {{amount}} processed (booking {{reference}})",
	    "Hello {{first_name}},\n\n{{message}}\n\n"
	    "Amount: {{amount}}\nBooking reference: {{reference}}\n"
	    "Course: {{course}}\n\n"
	    "Your booking: {{link}}\n",
	    HTML_HEAD
	    "<p>Amount: {{amount}}<br>Booking reference: "
	    "{{reference}}<br>Course: {{course}}</p>" HTML_LINK("Your booking"),
	    "{\"first_name\":\"Sam\",\"title\":\"Booking confirmed\",\"message\":\"Your booking is confirmed.\","
	    "\"link\":\"/bookings/0190a0b0-0000-7000-8000-000000000001\",\"reference\":\"RFT-2031-0001\",\"course\":\"Emergency First Aid at Work\",\"when\":\"Tuesday 4 March 2031 at 09:00\",\"venue\":\"Leeds Central\",\"amount\":\"75.00 GBP\"}",
	},
	{
	    "training_notify_certificate_expiring",
	    "{{title}}",
	    "Hello {{first_name}},\n\n{{message}}\n\n"
	    "Certificate number: {{certificate_number}}\nCourse: {{course}}\n"
	    "Expires: {{expiry_date}}\n\n"
	    "Your certificate: {{link}}\n",
	    HTML_HEAD
	    "<p>Certificate number: {{certificate_number}}<br>"
	    "Course: {{course}}<br>Expires: {{expiry_date}}</p>" HTML_LINK(
		"Your certificate"),
	    "{\"first_name\":\"Sam\",\"title\":\"Booking confirmed\",\"message\":\"Your booking is confirmed.\","
	    "\"link\":\"/certificates/0190a0b0-0000-7000-8000-000000000002\",\"certificate_number\":\"RFT-EFAW-2031-0001\",\"course\":\"Emergency First Aid at Work\",\"expiry_date\":\"4 March 2034\"}",
	},
};

static void    when_london(int64_t ms, char *out, size_t n);
static int64_t days_until(const char *date, int64_t now);
static int     refund_words(
	struct tx *, const char *booking_id, char *out, size_t n);
static void date_words(const char *date, char *out, size_t n);
static int  booking_facts(struct tx *, const char *booking_id,
     struct training_notice *, char *user_id, char *course_id, int64_t *start,
     char *cancel_reason, json_t *vars);

int
training_notify_mail_init(void)
{
	size_t i;
	int    rc;

	for (i = 0; i < NELEM(templates); i++)
		if ((rc = mail_template_register(&templates[i])) != OK &&
		    rc != ERR_CONFLICT)
			return (rc);
	return (OK);
}

static const char *const weekdays[] = { "Sunday", "Monday", "Tuesday",
	"Wednesday", "Thursday", "Friday", "Saturday" };
static const char *const months[] = { "January", "February", "March", "April",
	"May", "June", "July", "August", "September", "October", "November",
	"December" };

/* "Tuesday 3 March 2031 at 09:00", London's clock. */
static void
when_london(int64_t ms, char *out, size_t n)
{
	struct tm tm;

	time_utc((ms + time_london_offset_ms(ms)) / 1000, &tm);
	snprintf(out, n, "%s %d %s %d at %02d:%02d", weekdays[tm.tm_wday],
	    tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min);
}

/*
 * The time left before a start, as a reminder says it when it is made:
 * minutes under an hour ("45 minutes"); under 10 hours, hours and
 * minutes to the nearest 5 ("1 hour 30 minutes", "2 hours"): the job
 * runs once a minute, so a 2-hour reminder is made a minute or so after
 * its time and still says "2 hours", not "1 hour 59 minutes"; beyond,
 * whole hours ("23 hours" for a booking made 23 hours ahead, which the
 * 24-hour reminder reaches at once). Never "0 minutes".
 */
void
training_left_words(int64_t left_ms, char *out, size_t n)
{
	int64_t mins = left_ms > 0 ? (left_ms + 30000) / 60000 : 0;
	int64_t h, m;

	if (mins < 1)
		mins = 1;
	if (mins < 60) {
		snprintf(out, n, "%lld minute%s", (long long)mins,
		    mins == 1 ? "" : "s");
		return;
	}
	if (mins < 600) {
		mins = (mins + 2) / 5 * 5;
		h = mins / 60;
		m = mins % 60;
		if (m == 0)
			snprintf(out, n, "%lld hour%s", (long long)h,
			    h == 1 ? "" : "s");
		else
			snprintf(out, n, "%lld hour%s %lld minutes",
			    (long long)h, h == 1 ? "" : "s", (long long)m);
		return;
	}
	h = (mins + 30) / 60;
	snprintf(out, n, "%lld hours", (long long)h);
}

/* London days from now's day to date's ("YYYY-MM-DD"); -1 for no date. */
static int64_t
days_until(const char *date, int64_t now)
{
	int64_t at;

	if (date == NULL || date[0] == '\0' || time_parse_iso(date, &at) != 0)
		return (-1);
	/* The date at midnight UTC: at / TIME_DAY_MS is exact. */
	return (at / TIME_DAY_MS - time_london_day(now));
}

/* "2034-03-03" as "3 March 2034"; as it is when it is no date. */
static void
date_words(const char *date, char *out, size_t n)
{
	int y, m, d;

	if (date == NULL || training_date_parse(date, &y, &m, &d) != 0) {
		snprintf(out, n, "%s", date != NULL ? date : "");
		return;
	}
	snprintf(out, n, "%d %s %d", d, months[m - 1], y);
}

static int
set_fact(json_t *vars, const char *name, const char *value)
{
	return (json_object_set_new(
		    vars, name, json_string(value != NULL ? value : "")) == 0
		? OK
		: ERR_NOMEM);
}

/*
 * A booking's facts into vars (reference, course, when, venue) and n
 * (booking, course); its booker, course, start and cancel reason.
 * ERR_NOT_FOUND.
 */
static int
booking_facts(struct tx *tx, const char *booking_id, struct training_notice *n,
    char *user_id, char *course_id, int64_t *start, char *cancel_reason,
    json_t *vars)
{
	struct stmt *st;
	char	     when[64];
	int	     rc;

	st = store_prepare(tx,
	    "SELECT b.user_id, b.booking_reference, s.start_time, c.id, c.name, "
	    "v.name, COALESCE(b.cancel_reason, '') FROM training_bookings b "
	    "JOIN course_schedules s ON s.id = b.schedule_id JOIN "
	    "training_courses c ON c.id = s.course_id JOIN venues v ON v.id "
	    "= s.venue_id WHERE b.id = ?");
	store_bind_text(st, 1, booking_id);
	if ((rc = store_step(st)) != STORE_ROW) {
		store_finalize(st);
		return (rc == STORE_DONE ? ERR_NOT_FOUND : rc);
	}
	strlcpy_cb(user_id, store_col_text(st, 0), UUID_STR_LEN);
	strlcpy_cb(course_id, store_col_text(st, 3), UUID_STR_LEN);
	strlcpy_cb(cancel_reason, store_col_text(st, 6), 24);
	*start = store_col_int64(st, 2);
	when_london(*start, when, sizeof(when));
	rc = OK;
	if (set_fact(vars, "reference", store_col_text(st, 1)) != OK ||
	    set_fact(vars, "course", store_col_text(st, 4)) != OK ||
	    set_fact(vars, "venue", store_col_text(st, 5)) != OK ||
	    set_fact(vars, "when", when) != OK)
		rc = ERR_NOMEM;
	store_finalize(st);
	n->user_id = user_id;
	n->booking_id = booking_id;
	n->course_id = course_id;
	return (rc);
}

/*
 * What a cancellation refunds, in words for its notification: the
 * booking's refunds approved in this transaction (the cancel's; sent on
 * after it commits). Each through Stripe is claimed as told (see the
 * top). Nothing approved: the old promise to tell them.
 */
static int
refund_words(struct tx *tx, const char *booking_id, char *out, size_t n)
{
	struct stmt *st;
	json_t	    *told;
	size_t	     i;
	char	     currency[4] = "", money[48], fee_money[48], fee_words[96];
	int64_t	     card = 0, manual = 0, fee = 0, now = time_now_ms();
	int	     rc, there;

	if ((told = json_array()) == NULL)
		return (ERR_NOMEM);
	st = store_prepare(tx,
	    "SELECT id, method, amount_minor - processing_fee_minor, "
	    "processing_fee_minor, currency FROM refunds WHERE booking_id = "
	    "? AND status = 'approved' ORDER BY id");
	store_bind_text(st, 1, booking_id);
	while ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(currency, store_col_text(st, 4), sizeof(currency));
		fee += store_col_int64(st, 3);
		if (strcmp(store_col_text(st, 1), "stripe") == 0) {
			card += store_col_int64(st, 2);
			json_array_append_new(
			    told, json_string(store_col_text(st, 0)));
		} else
			manual += store_col_int64(st, 2);
	}
	store_finalize(st);
	if (rc != STORE_DONE) {
		json_decref(told);
		return (rc);
	}
	out[0] = '\0';
	fee_words[0] = '\0';
	if (fee > 0) {
		training_money_format(
		    fee, currency, fee_money, sizeof(fee_money));
		snprintf(fee_words, sizeof(fee_words),
		    " (a cancellation fee of %s is kept)", fee_money);
	}
	if (card > 0) {
		training_money_format(card, currency, money, sizeof(money));
		snprintf(out, n,
		    " A refund of %s%s is on its way to the card you paid "
		    "with; banks take 5 to 10 days to show it.",
		    money, fee_words);
	} else if (manual > 0) {
		training_money_format(manual, currency, money, sizeof(money));
		snprintf(out, n,
		    " We are paying back %s%s the way you paid us (bank "
		    "transfer or as agreed with you) and will tell you when "
		    "it is done.",
		    money, fee_words);
	} else
		snprintf(out, n,
		    " Anything you paid that is due back to you is refunded; "
		    "we will tell you when it is.");
	/* Claimed as told: its completion tells no more (0038 pending:
	 * there is nothing to claim in, and no notification either). */
	rc = OK;
	if (json_array_size(told) > 0 &&
	    (rc = training_notify_ready(tx, &there)) == OK && there)
		for (i = 0; rc == OK && i < json_array_size(told); i++) {
			st = store_prepare(tx,
			    "INSERT INTO notification_reminders (kind, "
			    "subject_id, offset_before, created_at) VALUES "
			    "(?, ?, 0, ?) ON CONFLICT DO NOTHING");
			store_bind_text(st, 1, CANCEL_REFUND);
			store_bind_text(
			    st, 2, json_string_value(json_array_get(told, i)));
			store_bind_int64(st, 3, now);
			rc = store_step(st);
			rc = rc == STORE_DONE ? OK : rc;
			store_finalize(st);
		}
	json_decref(told);
	return (rc);
}

int
training_notify_booking(
    struct tx *tx, const char *booking_id, const char *type, int64_t hours)
{
	struct training_notice n;
	json_t		      *vars;
	const char	      *ref, *when, *why;
	char	course[NOTIFY_NAME_SHORT], venue[NOTIFY_NAME_SHORT];
	char	user[UUID_STR_LEN], course_id[UUID_STR_LEN];
	char	reason[24], url[64], title[NOTIFY_TITLE_LINE], left[48];
	char	message[NOTIFY_FACT_MAX * 4], refund[320];
	int64_t start = 0;
	int	rc;

	(void)hours;
	memset(&n, 0, sizeof(n));
	if ((vars = json_object()) == NULL)
		return (ERR_NOMEM);
	if ((rc = booking_facts(tx, booking_id, &n, user, course_id, &start,
		 reason, vars)) != OK) {
		json_decref(vars);
		return (rc == ERR_NOT_FOUND ? OK : rc);
	}
	utf8_copy(course, sizeof(course),
	    json_string_value(json_object_get(vars, "course")));
	ref = json_string_value(json_object_get(vars, "reference"));
	when = json_string_value(json_object_get(vars, "when"));
	utf8_copy(venue, sizeof(venue),
	    json_string_value(json_object_get(vars, "venue")));
	n.type = type;
	if (strcmp(type, "booking_confirmed") == 0) {
		snprintf(title, sizeof(title), "Booking confirmed: %s", course);
		snprintf(message, sizeof(message),
		    "Your booking %s for %s on %s at %s is confirmed.", ref,
		    course, when, venue);
	} else if (strcmp(type, "reminder") == 0) {
		/* Worded from the time left now, not from the offset that
		 * made it due: booked 20 hours ahead, the 24-hour reminder
		 * (made at once) says 20 hours. */
		training_left_words(start - time_now_ms(), left, sizeof(left));
		snprintf(title, sizeof(title), "Reminder: %s starts in %s",
		    course, left);
		snprintf(message, sizeof(message),
		    "Your course %s starts on %s at %s (booking %s).", course,
		    when, venue, ref);
		n.expires_at = start;
	} else {
		why = strcmp(reason, "schedule_cancelled") == 0
		    ? " because the course was cancelled"
		    : strcmp(reason, "booker") == 0 ? " as you asked"
		    : strcmp(reason, "staff") == 0  ? " by us"
						    : "";
		if ((rc = refund_words(
			 tx, booking_id, refund, sizeof(refund))) != OK) {
			json_decref(vars);
			return (rc);
		}
		snprintf(title, sizeof(title), "Booking cancelled: %s", course);
		snprintf(message, sizeof(message),
		    "Your booking %s for %s on %s has been cancelled%s.%s", ref,
		    course, when, why, refund);
	}
	snprintf(url, sizeof(url), "%s%s", pages_table()[PAGE_BOOKING].path,
	    booking_id);
	n.title = title;
	n.message = message;
	n.action_url = url;
	n.vars = vars;
	rc = training_notify(tx, &n);
	json_decref(vars);
	return (rc);
}

int
training_notify_certificate(
    struct tx *tx, const char *certificate_id, const char *type, int64_t days)
{
	struct training_notice n;
	struct stmt	      *st;
	json_t		      *vars;
	char		       user[UUID_STR_LEN], course_id[UUID_STR_LEN];
	char		       number[48], course[NOTIFY_NAME_SHORT];
	char		       family[24], expiry[11] = "", expiry_words[40];
	char		       url[64], title[NOTIFY_TITLE_LINE];
	char		       message[NOTIFY_FACT_MAX * 4];
	int64_t		       end, left;
	int		       rc;

	memset(&n, 0, sizeof(n));
	st = store_prepare(tx,
	    "SELECT c.user_id, c.certificate_number, c.course_id, "
	    "c.course_family, COALESCE(c.expiry_date, ''), t.name FROM "
	    "certificates c JOIN training_courses t ON t.id = c.course_id "
	    "WHERE c.id = ?");
	store_bind_text(st, 1, certificate_id);
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(user, store_col_text(st, 0), sizeof(user));
		strlcpy_cb(number, store_col_text(st, 1), sizeof(number));
		strlcpy_cb(course_id, store_col_text(st, 2), sizeof(course_id));
		strlcpy_cb(family, store_col_text(st, 3), sizeof(family));
		strlcpy_cb(expiry, store_col_text(st, 4), sizeof(expiry));
		utf8_copy(course, sizeof(course), store_col_text(st, 5));
	}
	store_finalize(st);
	if (rc != STORE_ROW)
		return (rc == STORE_DONE ? OK : rc);
	date_words(expiry[0] != '\0' ? expiry : NULL, expiry_words,
	    sizeof(expiry_words));
	if (strcmp(type, "certificate_ready") == 0) {
		snprintf(title, sizeof(title), "Your certificate is ready: %s",
		    course);
		snprintf(message, sizeof(message),
		    "Certificate %s for %s has been issued%s%s.", number,
		    course, expiry[0] != '\0' ? ", valid until " : "",
		    expiry_words);
	} else {
		/* The days left today, not the offset that made it due: the
		 * 30-day reminder made on day 29 (the job missed a day, or
		 * the certificate was issued with 29 days to run) says 29. */
		if ((left = days_until(expiry, time_now_ms())) >= 0)
			days = left;
		if (days > 1)
			snprintf(title, sizeof(title),
			    "Your %s certificate expires in %lld days", family,
			    (long long)days);
		else if (days == 1)
			snprintf(title, sizeof(title),
			    "Your %s certificate expires tomorrow", family);
		else
			snprintf(title, sizeof(title),
			    "Your %s certificate expires today", family);
		snprintf(message, sizeof(message),
		    "Certificate %s for %s expires on %s. Book a "
		    "requalification course to stay certified.",
		    number, course, expiry_words);
		n.priority = days == 0 ? "urgent" : days <= 30 ? "high" : NULL;
		if (training_expiry_end(expiry, &end) == 0)
			n.expires_at = end;
	}
	if ((vars = json_pack("{s:s,s:s,s:s}", "certificate_number", number,
		 "course", course, "expiry_date",
		 expiry[0] != '\0' ? expiry_words : "no expiry")) == NULL)
		return (ERR_NOMEM);
	snprintf(url, sizeof(url), "%s%s", pages_table()[PAGE_CERTIFICATE].path,
	    certificate_id);
	n.user_id = user;
	n.type = type;
	n.title = title;
	n.message = message;
	n.course_id = course_id;
	n.certificate_id = certificate_id;
	n.action_url = url;
	n.vars = vars;
	rc = training_notify(tx, &n);
	json_decref(vars);
	return (rc);
}

int
training_notify_refund(struct tx *tx, const char *refund_id)
{
	struct training_notice n;
	struct stmt	      *st;
	json_t		      *vars;
	const char	      *ref;
	char		       course[NOTIFY_NAME_SHORT];
	char		       booking[UUID_STR_LEN], user[UUID_STR_LEN];
	char		       course_id[UUID_STR_LEN], reason[24];
	char		       currency[4], money[48], url[64];
	char		       title[NOTIFY_TITLE_LINE];
	char		       message[NOTIFY_FACT_MAX * 4];
	int64_t		       net = 0, start;
	int		       rc, there;

	memset(&n, 0, sizeof(n));
	/* Told already by its cancellation's notification (see the top). */
	if ((rc = training_notify_ready(tx, &there)) != OK)
		return (rc);
	if (there) {
		st = store_prepare(tx,
		    "SELECT 1 FROM notification_reminders r JOIN refunds f ON "
		    "f.id = r.subject_id WHERE r.kind = ? AND r.subject_id = ? "
		    "AND f.method = 'stripe'");
		store_bind_text(st, 1, CANCEL_REFUND);
		store_bind_text(st, 2, refund_id);
		rc = store_step(st);
		store_finalize(st);
		if (rc == STORE_ROW) {
			log_info("event=training_notify_skipped "
				 "type=refund_processed refund_id=%s "
				 "reason=told_with_cancellation",
			    refund_id);
			return (OK);
		}
		if (rc != STORE_DONE)
			return (rc);
	}
	st = store_prepare(tx,
	    "SELECT booking_id, amount_minor - processing_fee_minor, currency "
	    "FROM refunds WHERE id = ?");
	store_bind_text(st, 1, refund_id);
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(booking, store_col_text(st, 0), sizeof(booking));
		net = store_col_int64(st, 1);
		strlcpy_cb(currency, store_col_text(st, 2), sizeof(currency));
	}
	store_finalize(st);
	if (rc != STORE_ROW)
		return (rc == STORE_DONE ? OK : rc);
	if ((vars = json_object()) == NULL)
		return (ERR_NOMEM);
	if ((rc = booking_facts(tx, booking, &n, user, course_id, &start,
		 reason, vars)) != OK) {
		json_decref(vars);
		return (rc == ERR_NOT_FOUND ? OK : rc);
	}
	training_money_format(net, currency, money, sizeof(money));
	utf8_copy(course, sizeof(course),
	    json_string_value(json_object_get(vars, "course")));
	ref = json_string_value(json_object_get(vars, "reference"));
	if (set_fact(vars, "amount", money) != OK) {
		json_decref(vars);
		return (ERR_NOMEM);
	}
	snprintf(title, sizeof(title), "Refund processed: %s", money);
	snprintf(message, sizeof(message),
	    "A refund of %s for booking %s (%s) has been processed; "
	    "banks take a few days to show it.",
	    money, ref, course);
	snprintf(url, sizeof(url), "%s%s", pages_table()[PAGE_BOOKING].path,
	    booking);
	n.type = "refund_processed";
	n.title = title;
	n.message = message;
	n.action_url = url;
	n.vars = vars;
	rc = training_notify(tx, &n);
	json_decref(vars);
	return (rc);
}
