/*
 * Report schedules (seed 004: reports.is_scheduled, schedule_frequency):
 * a report of the catalogue made daily, weekly or monthly by the queue,
 * each run over the London period just ended, and mailed to the staff
 * the schedule names when it is done.
 *
 *	GET    /v1/report-schedules		the schedules (declared)
 *	POST   /v1/report-schedules		{report, frequency, recipients,
 *						 period?, format?}
 *	GET    /v1/report-schedules/{id}
 *	DELETE /v1/report-schedules/{id}	no runs after it
 *
 * Staff with report_schedules:*:all (admins; migration 0036), who may
 * read reports themselves (reports:read:all). recipients are user ids,
 * never addresses: each an active user of a staff role that holds
 * reports:read:all (422 otherwise), checked again when a run is mailed.
 * A report not in the catalogue answers 404 REPORT_NOT_FOUND, as POST
 * /v1/report-runs does.
 *
 * The report_schedules.due job (every minute) makes the run of each
 * schedule whose next_run_at has come: over [the period's start,
 * next_run_at), London's day (daily), week from Monday (weekly) or
 * calendar month (monthly) just ended, a report_runs row with
 * is_scheduled, schedule_frequency and schedule_id, and its
 * report_runs.make job; and moves next_run_at on one period (a server
 * that was down makes the periods it missed, one a minute). Exactly
 * once: the due rows are taken FOR UPDATE SKIP LOCKED on PostgreSQL
 * (SQLite has one writer), next_run_at moves by a conditional update
 * (of two workers that read it, one changes it; the other makes
 * nothing), and a unique index on report_runs (schedule_id, range_from)
 * backs it.
 *
 * When the job that makes a scheduled run records its end (run_jobs.c,
 * once: the end is fenced on the run's attempts), report_run_tell
 * queues, in that transaction, a mail to each recipient through the mail
 * job (email_log): a link to GET /v1/report-runs/{id}/result, which
 * needs the recipient's staff sign-in (no file leaves in the mail), or
 * why it failed. The link lasts while the run is kept
 * (report_run_retention_days).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mail.h"
#include "core/pages.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "reports/reports_int.h"
#include "resource/hooks.h"
#include "resource/resource.h"
#include "store/jobs.h"
#include "store/store.h"

#define RECIPIENTS_MAX 20 /* staff one schedule mails */
#define DUE_BATCH      32 /* schedules one transaction makes runs of */
#define DUE_BATCHES    16 /* transactions one job runs at most */
#define MAIL_READY     "report_run_ready"
#define MAIL_FAILED    "report_run_failed"

/* An active user of a staff role that may read reports (as the cache of
 * perms.c would grant it: :all to staff roles only). */
/* clang-format off */
#define MAY_READ_REPORTS						\
	"SELECT 1 FROM users u JOIN roles ro ON ro.name = u.role JOIN "	\
	"role_permissions rp ON rp.role = u.role AND rp.permission = "	\
	"'reports:read:all' WHERE u.id = ? AND ro.is_staff = 1 AND "	\
	"u.is_active = 1 AND u.deleted_at IS NULL"
/* clang-format on */

/* A schedule whose run is due. */
struct due {
	char	id[UUID_STR_LEN];
	char	report[REPORT_NAME_MAX + 1];
	char	period[8], format[8], frequency[8];
	char	created_by[UUID_STR_LEN];
	int64_t next;
};

struct due_batch {
	struct due due[DUE_BATCH];
	size_t	   n;
	size_t	   made; /* runs made */
};

static int     schedules_before_create(struct resource_ctx *, json_t *);
static int     may_read_reports(struct tx *, const char *, int *);
static int64_t month_first(int64_t, int);
static int     due_load(struct tx *, struct due_batch *);
static int     due_make(struct tx *, const struct due *, int *);
static int     due_tx(struct tx *, void *);
static json_t *tell_vars(const struct report_run_end *, const char *);

const char *const report_frequencies[] = { "daily", "weekly", "monthly", NULL };

static const struct field schedule_fields[] = {
	{ "report", FIELD_TEXT, FIELD_REQUIRED | FIELD_FILTER, 1,
	    REPORT_NAME_MAX, NULL, NULL, NULL, 0,
	    "a report's name: GET /v1/reports lists them",
	    .values = report_names },
	{ "frequency", FIELD_ENUM, FIELD_REQUIRED | FIELD_FILTER, 0, 0,
	    report_frequencies, NULL, NULL, 0,
	    "daily (London's day before), weekly (the week from Monday "
	    "before) or monthly (the calendar month before)" },
	{ "period", FIELD_ENUM, 0, 0, 0, report_periods, "\"month\"", NULL, 0,
	    "the rows' period, as GET /v1/reports/{name}'s" },
	{ "format", FIELD_ENUM, 0, 0, 0, report_formats, "\"json\"", NULL, 0,
	    "json, csv, xlsx or pdf, as GET /v1/reports/{name}'s" },
	{ "recipients", FIELD_TEXT_LIST, FIELD_REQUIRED, 1, RECIPIENTS_MAX,
	    NULL, NULL, NULL, 0,
	    "user ids of active staff who may read reports, mailed a link "
	    "when each run is done (never addresses)",
	    .pattern = UUID_PATTERN },
	{ "next_run_at", FIELD_TIME, FIELD_READONLY | FIELD_SORT, 0, 0, NULL,
	    NULL, NULL, 0,
	    "when the next run is made: the end of the period it covers "
	    "(London's midnight)" },
	{ "last_run_id", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, 0,
	    "the latest run made (GET /v1/report-runs/{id})" },
	{ "last_run_at", FIELD_TIME, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, 0, "when it was made" },
	{ "created_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, 0, "who made the schedule: its runs' requested_by" },
	{ "updated_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, 0, NULL },
};

const struct resource report_schedules_resource = {
	.name = "report_schedules",
	.path = "/v1/report-schedules",
	.table = "report_schedules",
	.fields = schedule_fields,
	.nfields = NELEM(schedule_fields),
	.actions = (1 << ACTION_LIST) | (1 << ACTION_READ) |
	    (1 << ACTION_CREATE) | (1 << ACTION_DELETE),
	.doc = "Reports made on a schedule (seed 004: is_scheduled, "
	       "schedule_frequency): daily, weekly or monthly over London's "
	       "period just ended, each run a report run (is_scheduled) "
	       "mailed to the staff named in recipients (user ids) with a "
	       "link to its result, which needs their sign-in. Staff who may "
	       "read reports make, list and delete them; a report not in the "
	       "catalogue answers 404 REPORT_NOT_FOUND, a recipient who is "
	       "not active staff who may read reports 422.",
	.before_create = schedules_before_create,
	.codes = "{\"404\":[\"REPORT_NOT_FOUND\"]}",
};

static const struct mail_template ready_template = {
	MAIL_READY,
	"Report ready: {{title}}, {{first_day}} to {{last_day}}",
	"Hello {{first_name}},\n\n"
	"The {{frequency}} report \"{{title}}\" for {{first_day}} to "
	"{{last_day}}\n(London) is ready: {{rows}} rows, {{format}}.\n\n"
	"Open it signed in to {{brand_name}} as yourself (it is for staff "
	"only):\n{{link}}\n\n"
	"It is kept for {{retention_days}} days.\n",
	"<p>Hello {{first_name}},</p><p>The {{frequency}} report "
	"&quot;{{title}}&quot; for {{first_day}} to {{last_day}} (London) is "
	"ready: {{rows}} rows, {{format}}.</p><p><a href=\"{{link}}\">Open "
	"it</a> signed in to {{brand_name}} as yourself (it is for staff "
	"only). It is kept for {{retention_days}} days.</p>",
	"{\"first_name\":\"Sam\",\"title\":\"Bookings\",\"first_day\":"
	"\"2031-03-03\",\"last_day\":\"2031-03-09\",\"frequency\":"
	"\"weekly\",\"format\":\"csv\",\"rows\":\"42\",\"link\":"
	"\"/reports/runs/0190a0b0-0000-7000-8000-000000000003\","
	"\"retention_days\":\"30\",\"error_code\":\"-\"}",
};

static const struct mail_template failed_template = {
	MAIL_FAILED,
	"Report failed: {{title}}, {{first_day}} to {{last_day}}",
	"Hello {{first_name}},\n\n"
	"The {{frequency}} report \"{{title}}\" for {{first_day}} to "
	"{{last_day}}\n(London) could not be made ({{error_code}}).\n\n"
	"What is known of the run, for staff signed in:\n{{link}}\n",
	"<p>Hello {{first_name}},</p><p>The {{frequency}} report "
	"&quot;{{title}}&quot; for {{first_day}} to {{last_day}} (London) "
	"could not be made ({{error_code}}).</p><p><a href=\"{{link}}\">What "
	"is known of the run</a>, for staff signed in.</p>",
	"{\"first_name\":\"Sam\",\"title\":\"Bookings\",\"first_day\":"
	"\"2031-03-03\",\"last_day\":\"2031-03-09\",\"frequency\":"
	"\"weekly\",\"format\":\"csv\",\"rows\":\"0\",\"link\":"
	"\"/reports/runs/0190a0b0-0000-7000-8000-000000000003\","
	"\"retention_days\":\"30\",\"error_code\":\"TOO_LARGE\"}",
};

int
report_schedules_init(struct store *db)
{
	int rc;

	(void)db;
	report_names_fill();
	if ((rc = mail_template_register(&ready_template)) != OK &&
	    rc != ERR_CONFLICT)
		return (rc);
	rc = mail_template_register(&failed_template);
	return (rc == ERR_CONFLICT ? OK : rc);
}

/* *ok: user_id is an active user of a staff role with reports:read:all. */
static int
may_read_reports(struct tx *tx, const char *user_id, int *ok)
{
	struct stmt *st;
	int	     rc;

	*ok = 0;
	st = store_prepare(tx, MAY_READ_REPORTS);
	store_bind_text(st, 1, user_id);
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_ROW)
		*ok = 1;
	return (rc == STORE_ROW || rc == STORE_DONE ? OK : rc);
}

static int
schedules_before_create(struct resource_ctx *ctx, json_t *body)
{
	const char *report, *id, *other;
	json_t	   *list, *v, *errs;
	char	    field[48], next[ISO_TIME_LEN];
	size_t	    i, j;
	int	    ok, rc, freq;

	report = json_string_value(json_object_get(body, "report"));
	if (!report_known(report)) {
		http_problem(ctx->req, ERR_NOT_FOUND, "REPORT_NOT_FOUND",
		    "No such report: GET /v1/reports lists them.");
		return (ERR_NOT_FOUND);
	}
	/* Who schedules a report may read it. */
	if ((rc = may_read_reports(ctx->tx, ctx->who->user_id, &ok)) != OK)
		return (rc);
	if (!ok) {
		http_problem(ctx->req, ERR_FORBIDDEN, NULL,
		    "Reports are scheduled by staff who may read them.");
		return (ERR_FORBIDDEN);
	}
	if ((errs = json_array()) == NULL)
		return (ERR_NOMEM);
	list = json_object_get(body, "recipients");
	json_array_foreach(list, i, v) {
		snprintf(field, sizeof(field), "recipients[%zu]", i);
		id = json_string_value(v);
		if (!uuid_valid(id)) {
			resource_field_err(errs, field, "invalid_format",
			    "a user id (a UUID)");
			continue;
		}
		for (j = 0; j < i; j++)
			if ((other = json_string_value(
				 json_array_get(list, j))) != NULL &&
			    strcmp(other, id) == 0)
				break;
		if (j < i) {
			resource_field_err(
			    errs, field, "duplicate", "each recipient once");
			continue;
		}
		if ((rc = may_read_reports(ctx->tx, id, &ok)) != OK) {
			json_decref(errs);
			return (rc);
		}
		if (!ok)
			resource_field_err(errs, field, "not_staff",
			    "names no active staff user who may read reports");
	}
	if ((rc = resource_errs_answer(ctx->req, errs, "The schedule")) != OK)
		return (rc);
	freq = report_frequency_index(
	    json_string_value(json_object_get(body, "frequency")));
	/* As the body holds a time: ISO 8601. */
	time_format_iso(
	    report_schedule_next(freq < 0 ? 0 : freq, time_now_ms()), next);
	return (json_object_set_new(body, "next_run_at", json_string(next)) == 0
		? OK
		: ERR_NOMEM);
}

/* Periods, in London */

int
report_frequency_index(const char *s)
{
	int i;

	for (i = 0; s != NULL && report_frequencies[i] != NULL; i++)
		if (strcmp(s, report_frequencies[i]) == 0)
			return (i);
	return (-1);
}

/*
 * The first day of the month delta months from day's (days since
 * 1970-01-01), by the civil-from-days rule (H. Hinnant's
 * days_from_civil).
 */
static int64_t
month_first(int64_t day, int delta)
{
	struct tm tm;
	int64_t	  y, m, era, yoe, doy, doe;

	time_utc(day * 86400, &tm);
	y = tm.tm_year + 1900;
	m = tm.tm_mon + delta; /* 0-based, may leave 0-11 */
	y += m >= 0 ? m / 12 : -((11 - m) / 12);
	m = ((m % 12) + 12) % 12 + 1;
	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5; /* day 1 of month m */
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (era * 146097 + doe - 719468);
}

int64_t
report_schedule_next(int freq, int64_t ms)
{
	int64_t day = time_london_day(ms);

	switch (freq) {
	case 1: /* weekly: Monday's; 1970-01-01 was a Thursday */
		return (time_london_day_start(day - (day + 3) % 7 + 7));
	case 2: /* monthly */
		return (time_london_day_start(month_first(day, 1)));
	default:
		return (time_london_day_start(day + 1));
	}
}

int64_t
report_schedule_start(int freq, int64_t b)
{
	int64_t day = time_london_day(b);

	switch (freq) {
	case 1:
		return (time_london_day_start(day - 7));
	case 2:
		return (time_london_day_start(month_first(day, -1)));
	default:
		return (time_london_day_start(day - 1));
	}
}

/* The due job */

/* The schedules due now, taken (PostgreSQL: locked; skipped if taken). */
static int
due_load(struct tx *tx, struct due_batch *b)
{
	struct stmt *st;
	struct due  *d;
	int	     rc;

	b->n = 0;
	st = store_prepare(tx,
	    store_tx_dialect(tx) == STORE_POSTGRES
		? "SELECT id, report, period, format, frequency, "
		  "next_run_at, created_by FROM report_schedules WHERE "
		  "next_run_at <= ? ORDER BY next_run_at LIMIT ? FOR UPDATE "
		  "SKIP LOCKED"
		: "SELECT id, report, period, format, frequency, "
		  "next_run_at, created_by FROM report_schedules WHERE "
		  "next_run_at <= ? ORDER BY next_run_at LIMIT ?");
	store_bind_int64(st, 1, time_now_ms());
	store_bind_int64(st, 2, DUE_BATCH);
	while ((rc = store_step(st)) == STORE_ROW && b->n < DUE_BATCH) {
		d = &b->due[b->n++];
		memset(d, 0, sizeof(*d));
		strlcpy_cb(d->id, store_col_text(st, 0), sizeof(d->id));
		strlcpy_cb(d->report, store_col_text(st, 1), sizeof(d->report));
		strlcpy_cb(d->period, store_col_text(st, 2), sizeof(d->period));
		strlcpy_cb(d->format, store_col_text(st, 3), sizeof(d->format));
		strlcpy_cb(
		    d->frequency, store_col_text(st, 4), sizeof(d->frequency));
		d->next = store_col_int64(st, 5);
		if (!store_col_is_null(st, 6))
			strlcpy_cb(d->created_by, store_col_text(st, 6),
			    sizeof(d->created_by));
	}
	store_finalize(st);
	return (rc == STORE_ROW || rc == STORE_DONE ? OK : rc);
}

/*
 * The run of schedule d over the period ending at d->next, once: moved
 * on by a conditional update, so a worker that read the same next_run_at
 * makes nothing (*made 0).
 */
static int
due_make(struct tx *tx, const struct due *d, int *made)
{
	struct stmt *st;
	char	     run_id[UUID_STR_LEN], job_id[JOB_ID_LEN], payload[64];
	int64_t	     now = time_now_ms(), from, next;
	int	     freq = report_frequency_index(d->frequency), rc;

	*made = 0;
	if (freq < 0)
		return (ERR_INTERNAL); /* the CHECK forbids it */
	from = report_schedule_start(freq, d->next);
	next = report_schedule_next(freq, d->next);
	uuid_v7(run_id);
	st = store_prepare(tx,
	    "UPDATE report_schedules SET next_run_at = ?, "
	    "last_run_id = ?, last_run_at = ?, updated_at = ? WHERE id = ? AND "
	    "next_run_at = ?");
	store_bind_int64(st, 1, next);
	store_bind_text(st, 2, run_id);
	store_bind_int64(st, 3, now);
	store_bind_int64(st, 4, now);
	store_bind_text(st, 5, d->id);
	store_bind_int64(st, 6, d->next);
	rc = store_step(st);
	*made = store_changes(st) == 1;
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc == STORE_ROW ? ERR_DB : rc);
	if (!*made)
		return (OK);
	snprintf(payload, sizeof(payload), "{\"run_id\":\"%s\"}", run_id);
	if ((rc = jobs_enqueue(
		 tx, REPORT_RUN_KIND, payload, NULL, 0, job_id)) != OK)
		return (rc);
	/* requested_by: the schedule's maker, while their account is. */
	st = store_prepare(tx,
	    "INSERT INTO report_runs (id, report, range_from, "
	    "range_to, period, format, status, attempts, job_id, "
	    "requested_by, is_scheduled, schedule_frequency, schedule_id, "
	    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'queued', 0, "
	    "?, (SELECT id FROM users WHERE id = ?), 1, ?, ?, ?, ?)");
	store_bind_text(st, 1, run_id);
	store_bind_text(st, 2, d->report);
	store_bind_int64(st, 3, from);
	store_bind_int64(st, 4, d->next);
	store_bind_text(st, 5, d->period);
	store_bind_text(st, 6, d->format);
	store_bind_text(st, 7, job_id);
	store_bind_text(st, 8, d->created_by[0] != '\0' ? d->created_by : NULL);
	store_bind_text(st, 9, d->frequency);
	store_bind_text(st, 10, d->id);
	store_bind_int64(st, 11, now);
	store_bind_int64(st, 12, now);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc == STORE_ROW ? ERR_DB : rc);
	log_info("event=report_schedule_run schedule=%s run=%s report=%s "
		 "from=%lld to=%lld",
	    d->id, run_id, d->report, (long long)from, (long long)d->next);
	return (OK);
}

static int
due_tx(struct tx *tx, void *arg)
{
	struct due_batch *b = arg;
	size_t		  i;
	int		  rc, made;

	b->made = 0;
	if ((rc = due_load(tx, b)) != OK)
		return (rc);
	for (i = 0; i < b->n; i++) {
		if ((rc = due_make(tx, &b->due[i], &made)) != OK)
			return (rc);
		b->made += (size_t)made;
	}
	return (OK);
}

/* The report_schedules.due job: the runs of the schedules due. */
int
report_schedules_due_job(struct store *db, const struct job *job, char *err)
{
	struct due_batch *b;
	int		  i, rc = OK;

	(void)job;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return (ERR_NOMEM);
	for (i = 0; i < DUE_BATCHES; i++) {
		if ((rc = store_run(db, STORE_TX_WRITE, due_tx, b)) != OK)
			break;
		if (b->n < DUE_BATCH)
			break;
	}
	free(b);
	if (rc != OK)
		snprintf(
		    err, JOB_ERR_LEN, "report_schedules.due: %s", err_code(rc));
	return (rc);
}

/* The mail of a scheduled run done */

/* The variables of the mail of run e to a recipient called first_name. */
static json_t *
tell_vars(const struct report_run_end *e, const char *first_name)
{
	const struct report *rep = report_find(e->report);
	char		     first[11], last[11], link[1024], rows[32];
	const char	    *page = pages_table()[PAGE_REPORT_RUN].path;
	char		     days[32];

	report_london_date(e->from, first);
	report_london_date(e->to - 1, last); /* to is exclusive */
	/* the run's page (core/pages.h): its result, or what went wrong */
	snprintf(
	    link, sizeof(link), "%s%s%s", config.public_url, page, e->run_id);
	snprintf(rows, sizeof(rows), "%zu", e->rows);
	snprintf(days, sizeof(days), "%lld",
	    (long long)config.report_run_retention_days);
	return (json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
	    "first_name", first_name != NULL ? first_name : "there", "title",
	    rep != NULL ? rep->title : e->report, "first_day", first,
	    "last_day", last, "frequency",
	    e->frequency != NULL ? e->frequency : "scheduled", "format",
	    e->format >= 0 ? report_formats[e->format] : "-", "rows", rows,
	    "link", link, "retention_days", days, "error_code",
	    e->error_code != NULL ? e->error_code : "-"));
}

int
report_run_tell(struct tx *tx, const struct report_run_end *e)
{
	struct person_contact pc;
	struct stmt	     *st;
	json_t		     *list = NULL, *v, *vars;
	json_error_t	      jerr;
	const char	     *id;
	size_t		      i;
	int		      rc, ok, sent = 0;

	if (e->schedule_id == NULL)
		return (OK);
	st = store_prepare(
	    tx, "SELECT recipients FROM report_schedules WHERE id = ?");
	store_bind_text(st, 1, e->schedule_id);
	if ((rc = store_step(st)) == STORE_ROW)
		list = json_loads(store_col_text(st, 0), 0, &jerr);
	store_finalize(st);
	if (rc == STORE_DONE) {
		log_info("event=report_run_untold run=%s schedule=%s "
			 "reason=schedule_deleted",
		    e->run_id, e->schedule_id);
		return (OK);
	}
	if (rc != STORE_ROW)
		return (rc);
	rc = OK;
	json_array_foreach(list, i, v) {
		if (i == RECIPIENTS_MAX || (id = json_string_value(v)) == NULL)
			break;
		/* Still staff who may read reports, or not told. */
		if ((rc = may_read_reports(tx, id, &ok)) != OK)
			break;
		memset(&pc, 0, sizeof(pc));
		if (!ok || hooks_contact(tx, id, 0, &pc) != OK ||
		    pc.email == NULL) {
			hooks_contact_clear(&pc);
			log_info("event=report_run_recipient_skipped run=%s "
				 "user=%s",
			    e->run_id, id);
			continue;
		}
		if ((vars = tell_vars(e, pc.first_name)) == NULL)
			rc = ERR_NOMEM;
		else
			rc = hooks_mail(tx, pc.email, id,
			    e->succeeded ? MAIL_READY : MAIL_FAILED, vars,
			    NULL);
		json_decref(vars);
		hooks_contact_clear(&pc);
		if (rc == ERR_INVALID || rc == ERR_UNAVAILABLE) {
			log_warn("event=report_run_mail_skipped run=%s user=%s "
				 "code=%s",
			    e->run_id, id, err_code(rc));
			rc = OK;
			continue;
		}
		if (rc != OK)
			break;
		sent++;
	}
	json_decref(list);
	if (rc == OK)
		log_info("event=report_run_told run=%s schedule=%s mails=%d",
		    e->run_id, e->schedule_id, sent);
	return (rc);
}
