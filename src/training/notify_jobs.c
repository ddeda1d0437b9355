/*
 * Reminders (issue 17 item 5), each sent once however many workers run:
 *
 *	training.send_reminders		every minute: a confirmed booking of
 *					a live schedule is reminded
 *					reminder_hours_before (setting,
 *					[24,2]) hours before its start
 *	training.certificate_reminders	daily: an active certificate's
 *					holder is told certificate_reminder_days
 *					(setting, [90,30,0]) days before its
 *					expiry date (London's days; 0: on
 *					the day)
 *
 * Which reminder is due is the smallest offset whose time has come
 * (training_reminder_due): a booking made 20 hours ahead gets the 24-hour
 * one at once and the 2-hour one later; one made an hour ahead only the
 * 2-hour one, never a late 24-hour one. Each is sent once: the job
 * inserts (kind, booking or certificate, offset) into
 * notification_reminders and makes the notification in the same
 * transaction, and sends nothing when the key is taken (INSERT ... ON
 * CONFLICT DO NOTHING: on PostgreSQL a second worker's insert waits for
 * the first's commit, then finds the key taken; SQLite's writers are
 * serial). A reminder whose notification every channel of the person
 * turned off is still taken: it is not tried again.
 *
 * Candidates are read in one read transaction; each is then decided and
 * made in a write transaction of its own, so a worker holds no lock
 * across many. Candidates are read reminders_page (config) at a time, each page
 * after the last one's (time, id), to the end in one run (at most
 * REMINDERS_PAGES pages): the ones already reminded are skipped by their
 * claim, so a first page of them never hides the ones after it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/config.h"
#include "core/err.h"
#include "core/keyring.h"
#include "core/log.h"
#include "core/util.h"
#include "module.h"
#include "resource/resource.h"
#include "store/jobs.h"
#include "store/store.h"
#include "training/training_int.h"

#define REMINDERS_PAGES	  1000 /* pages a run reads at the most */
#define REMINDER_OFFSETS  5    /* the settings' max_items */
#define HOUR_MS		  3600000LL
#define BOOKING_REMINDER  "booking_reminder"
#define CERTIFICATE_ALERT "certificate_expiring"

static const int64_t hours_default[] = { 24, 2 };
static const int64_t days_default[] = { 90, 30, 0 };

struct candidates {
	int64_t now;
	int64_t clock; /* now in the rows' unit: ms, or London days */
	int64_t offsets[REMINDER_OFFSETS];
	size_t	noffsets;
	json_t *rows; /* [[id, at ms], ...] */
	/* The page's keyset: after (after_at or after_date, after_id); the
	 * rows the page read (some may not be in rows). */
	int64_t after_at;
	char	after_date[11];
	char	after_id[UUID_STR_LEN];
	size_t	read;
};

struct one {
	const char *kind;
	const char *id;
	int64_t	    offset;
	int64_t	    now;
	int	    sent;
};

static int offsets_read(struct tx *, const char *key, const int64_t *def,
    size_t ndef, int64_t lo, int64_t hi, struct candidates *);
static int bookings_due_tx(struct tx *, void *);
static int certificates_due_tx(struct tx *, void *);
static int remind_tx(struct tx *, void *);
static int taken(struct tx *, const struct one *);
static int remind_page(struct store *, const char *kind, int64_t unit,
    const struct candidates *, int *sent, char *err);
static int run(struct store *, const char   *kind,
    int (*due)(struct tx *, void *), int64_t unit, char *err);

int64_t
training_reminder_due(
    int64_t now, int64_t at, const int64_t *offsets, size_t n, int64_t unit)
{
	int64_t due = -1;
	size_t	i;

	if (at < now)
		return (-1);
	for (i = 0; i < n; i++)
		if (offsets[i] >= 0 && at - offsets[i] * unit <= now &&
		    (due < 0 || offsets[i] < due))
			due = offsets[i];
	return (due);
}

int
training_offsets_parse(
    const char *text, int64_t lo, int64_t hi, int64_t *out, size_t max)
{
	json_t *a, *v;
	size_t	i;
	int	n = 0;

	if ((a = json_loads(text, 0, NULL)) == NULL)
		return (-1);
	if (!json_is_array(a) || json_array_size(a) > max)
		n = -1;
	json_array_foreach(a, i, v) {
		if (n < 0)
			break;
		if (!json_is_integer(v) || json_integer_value(v) < lo ||
		    json_integer_value(v) > hi)
			n = -1;
		else
			out[n++] = json_integer_value(v);
	}
	json_decref(a);
	return (n);
}

/* The offsets a setting names, its default when it names none that do. */
static int
offsets_read(struct tx *tx, const char *key, const int64_t *def, size_t ndef,
    int64_t lo, int64_t hi, struct candidates *c)
{
	char text[256];
	int  rc, n = -1;

	if ((rc = training_setting_text(tx, key, text, sizeof(text))) == OK)
		n = training_offsets_parse(
		    text, lo, hi, c->offsets, REMINDER_OFFSETS);
	else if (rc != ERR_NOT_FOUND)
		return (rc);
	if (n < 0) {
		if (rc == OK)
			log_warn("event=training_reminder_setting_invalid "
				 "key=%s",
			    key);
		memcpy(c->offsets, def, ndef * sizeof(def[0]));
		n = (int)ndef;
	}
	c->noffsets = (size_t)n;
	return (OK);
}

static int64_t
offsets_max(const struct candidates *c)
{
	int64_t m = -1;
	size_t	i;

	for (i = 0; i < c->noffsets; i++)
		if (c->offsets[i] > m)
			m = c->offsets[i];
	return (m);
}

/* Confirmed bookings of live schedules starting within the largest
 * offset: [id, start]. */
static int
bookings_due_tx(struct tx *tx, void *arg)
{
	struct candidates *c = arg;
	struct stmt	  *st;
	int64_t		   most;
	int		   rc, there;

	json_array_clear(c->rows);
	c->read = 0;
	c->clock = c->now;
	if ((rc = training_notify_ready(tx, &there)) != OK || !there)
		return (rc);
	if ((rc = offsets_read(tx, "reminder_hours_before", hours_default,
		 NELEM(hours_default), 1, 720, c)) != OK)
		return (rc);
	if ((most = offsets_max(c)) < 0)
		return (OK);
	st = store_prepare(tx,
	    "SELECT b.id, s.start_time FROM training_bookings b JOIN "
	    "course_schedules s ON s.id = b.schedule_id WHERE b.status = "
	    "'confirmed' AND s.status IN ('scheduled', 'confirmed') AND "
	    "s.start_time > ? AND s.start_time <= ? AND (s.start_time > ? "
	    "OR (s.start_time = ? AND b.id > ?)) ORDER BY s.start_time, "
	    "b.id LIMIT ?");
	store_bind_int64(st, 1, c->now);
	store_bind_int64(st, 2, c->now + most * HOUR_MS);
	store_bind_int64(st, 3, c->after_at);
	store_bind_int64(st, 4, c->after_at);
	store_bind_text(st, 5, c->after_id);
	store_bind_int64(st, 6, config.reminders_page);
	while ((rc = store_step(st)) == STORE_ROW) {
		c->read++;
		c->after_at = store_col_int64(st, 1);
		strlcpy_cb(
		    c->after_id, store_col_text(st, 0), sizeof(c->after_id));
		json_array_append_new(c->rows,
		    json_pack("[s,I]", store_col_text(st, 0),
			(json_int_t)store_col_int64(st, 1)));
	}
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

/* Active certificates expiring within the largest offset (London days
 * from today, today included): [id, the expiry day], days since
 * 1970-01-01, against today's London day. */
static int
certificates_due_tx(struct tx *tx, void *arg)
{
	struct candidates *c = arg;
	struct stmt	  *st;
	char		   today[11], last[11];
	int64_t		   most, day;
	int		   rc, there;

	json_array_clear(c->rows);
	c->read = 0;
	c->clock = time_london_day(c->now);
	if ((rc = training_notify_ready(tx, &there)) != OK || !there)
		return (rc);
	if ((rc = offsets_read(tx, "certificate_reminder_days", days_default,
		 NELEM(days_default), 0, 365, c)) != OK)
		return (rc);
	if ((most = offsets_max(c)) < 0)
		return (OK);
	/* From today's London date to the one `most` days on (midday of
	 * that day is surely in it, whatever the clocks did). */
	training_london_date(c->now, today);
	training_london_date(
	    time_london_day_start(c->clock + most) + TIME_DAY_MS / 2, last);
	st = store_prepare(tx,
	    "SELECT id, expiry_date FROM certificates WHERE status = 'active' "
	    "AND expiry_date IS NOT NULL AND expiry_date >= ? AND expiry_date "
	    "<= ? AND (expiry_date > ? OR (expiry_date = ? AND id > ?)) "
	    "ORDER BY expiry_date, id LIMIT ?");
	store_bind_text(st, 1, today);
	store_bind_text(st, 2, last);
	store_bind_text(st, 3, c->after_date);
	store_bind_text(st, 4, c->after_date);
	store_bind_text(st, 5, c->after_id);
	store_bind_int64(st, 6, config.reminders_page);
	while ((rc = store_step(st)) == STORE_ROW) {
		c->read++;
		strlcpy_cb(c->after_date, store_col_text(st, 1),
		    sizeof(c->after_date));
		strlcpy_cb(
		    c->after_id, store_col_text(st, 0), sizeof(c->after_id));
		/* Its date at midnight UTC: day / TIME_DAY_MS is exact. */
		if (time_parse_iso(store_col_text(st, 1), &day) != 0)
			continue;
		json_array_append_new(c->rows,
		    json_pack("[s,I]", store_col_text(st, 0),
			(json_int_t)(day / TIME_DAY_MS)));
	}
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

/* Take (kind, id, offset): 1 when this transaction took it, 0 when it
 * was taken already. */
static int
taken(struct tx *tx, const struct one *o)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx,
	    "INSERT INTO notification_reminders (kind, subject_id, "
	    "offset_before, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO "
	    "NOTHING");
	store_bind_text(st, 1, o->kind);
	store_bind_text(st, 2, o->id);
	store_bind_int64(st, 3, o->offset);
	store_bind_int64(st, 4, o->now);
	rc = store_step(st);
	rc = rc == STORE_DONE ? (store_changes(st) == 1 ? 1 : 0) : rc;
	store_finalize(st);
	return (rc);
}

/* Requalified */

/* The email certificate cert's attendee was named with, malloc'd in *out
 * (NULL: none, or shredded). */
static int
cert_email(struct tx *tx, const char *attendee_id, char **out)
{
	json_t	   *att = NULL;
	const char *mail;
	int	    rc;

	*out = NULL;
	if ((rc = resource_read(tx, &training_booking_attendees_resource,
		 attendee_id, SCOPE_ALL, &att)) != OK)
		return (rc == ERR_NOMEM ? rc : OK);
	mail = json_string_value(json_object_get(att, "email"));
	if (mail != NULL && (*out = strdup(mail)) == NULL)
		rc = ERR_NOMEM;
	json_decref(att);
	return (rc);
}

/* Whether certificate cert_id's holder has requalified: a later active
 * certificate of its family names the same attendee email. */
static int
superseded(struct tx *tx, const char *cert_id, int *yes)
{
	struct stmt *st;
	json_t	    *later;
	char	     family[24] = "", issued[11] = "", att[UUID_STR_LEN] = "";
	char   user[UUID_STR_LEN] = "", index[65] = "", *mail = NULL, *other;
	size_t i;
	int    rc;

	*yes = 0;
	st = store_prepare(tx,
	    "SELECT course_family, issue_date, attendee_id, user_id FROM "
	    "certificates WHERE id = ?");
	store_bind_text(st, 1, cert_id);
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(family, store_col_text(st, 0), sizeof(family));
		strlcpy_cb(issued, store_col_text(st, 1), sizeof(issued));
		strlcpy_cb(att, store_col_text(st, 2), sizeof(att));
		strlcpy_cb(user, store_col_text(st, 3), sizeof(user));
		rc = OK;
	}
	store_finalize(st);
	if (rc != OK)
		return (rc == STORE_DONE ? OK : rc);
	if ((rc = cert_email(tx, att, &mail)) != OK || mail == NULL)
		return (rc);
	/* The same person: named by the same email on a later certificate
	 * of the family, booked by the same booker or by themselves (their
	 * account's address). */
	keyring_email_index(mail, index);
	if ((later = json_array()) == NULL) {
		free(mail);
		return (ERR_NOMEM);
	}
	st = store_prepare(tx,
	    "SELECT attendee_id FROM certificates WHERE course_family = ? "
	    "AND status = 'active' AND id <> ? AND issue_date > ? AND "
	    "(user_id = ? OR user_id IN (SELECT id FROM users WHERE "
	    "email_index = ?)) ORDER BY issue_date DESC, id");
	store_bind_text(st, 1, family);
	store_bind_text(st, 2, cert_id);
	store_bind_text(st, 3, issued);
	store_bind_text(st, 4, user);
	store_bind_text(st, 5, index);
	while ((rc = store_step(st)) == STORE_ROW)
		json_array_append_new(
		    later, json_string(store_col_text(st, 0)));
	store_finalize(st);
	rc = rc == STORE_DONE ? OK : rc;
	for (i = 0; rc == OK && !*yes && i < json_array_size(later); i++) {
		rc = cert_email(
		    tx, json_string_value(json_array_get(later, i)), &other);
		*yes =
		    rc == OK && other != NULL && strcasecmp(other, mail) == 0;
		free(other);
	}
	json_decref(later);
	free(mail);
	return (rc);
}

/* One reminder: still due (the booking confirmed, the certificate
 * active), taken by no one else, then made. */
static int
remind_tx(struct tx *tx, void *arg)
{
	struct one  *o = arg;
	struct stmt *st;
	int	     rc, rc2 = 0;

	o->sent = 0;
	st = store_prepare(tx,
	    strcmp(o->kind, BOOKING_REMINDER) == 0
		? "SELECT 1 FROM training_bookings WHERE id = ? AND status = "
		  "'confirmed'"
		: "SELECT 1 FROM certificates WHERE id = ? AND status = "
		  "'active'");
	store_bind_text(st, 1, o->id);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_ROW)
		return (rc == STORE_DONE ? OK : rc);
	/* Requalified since: the old one expiring is no news. */
	if (strcmp(o->kind, BOOKING_REMINDER) != 0 &&
	    ((rc = superseded(tx, o->id, &rc2)) != OK || rc2))
		return (rc);
	if ((rc = taken(tx, o)) != 1)
		return (rc == 0 ? OK : rc);
	o->sent = 1;
	if (strcmp(o->kind, BOOKING_REMINDER) == 0)
		return (
		    training_notify_booking(tx, o->id, "reminder", o->offset));
	return (training_notify_certificate(
	    tx, o->id, "certificate_expiring", o->offset));
}

static int
run(struct store *db, const char *kind, int (*due)(struct tx *, void *),
    int64_t unit, char *err)
{
	struct candidates c;
	int		  rc = OK, sent = 0, page;

	memset(&c, 0, sizeof(c));
	c.now = time_now_ms();
	if ((c.rows = json_array()) == NULL)
		return (ERR_NOMEM);
	for (page = 0; rc == OK && page < REMINDERS_PAGES; page++) {
		if ((rc = store_run(db, STORE_TX_READ, due, &c)) != OK) {
			snprintf(err, JOB_ERR_LEN, "%s reminders: reading: %s",
			    kind, err_code(rc));
			break;
		}
		if ((rc = remind_page(db, kind, unit, &c, &sent, err)) != OK ||
		    c.read < (size_t)config.reminders_page)
			break;
	}
	json_decref(c.rows);
	if (sent > 0)
		log_info(
		    "event=training_reminders kind=%s sent=%d", kind, sent);
	return (rc);
}

/* The reminders of one page of candidates c; *sent counts those made. */
static int
remind_page(struct store *db, const char *kind, int64_t unit,
    const struct candidates *c, int *sent, char *err)
{
	struct one o;
	json_t	  *row;
	size_t	   i;
	int	   rc = OK;

	json_array_foreach(c->rows, i, row) {
		memset(&o, 0, sizeof(o));
		o.kind = kind;
		o.id = json_string_value(json_array_get(row, 0));
		o.now = c->now;
		o.offset = training_reminder_due(c->clock,
		    json_integer_value(json_array_get(row, 1)), c->offsets,
		    c->noffsets, unit);
		if (o.id == NULL || o.offset < 0)
			continue;
		if ((rc = store_run(db, STORE_TX_WRITE, remind_tx, &o)) != OK) {
			snprintf(err, JOB_ERR_LEN, "%s reminder %s: %s", kind,
			    o.id, err_code(rc));
			break;
		}
		*sent += o.sent;
	}
	return (rc);
}

int
training_reminders_job(struct store *db, const struct job *job, char *err)
{
	(void)job;
	return (run(db, BOOKING_REMINDER, bookings_due_tx, HOUR_MS, err));
}

int
training_certificate_reminders_job(
    struct store *db, const struct job *job, char *err)
{
	(void)job;
	return (run(db, CERTIFICATE_ALERT, certificates_due_tx, 1, err));
}
