/*
 * Analytics events (seed 004: analytics_events; issue 17 item 7): the
 * steps of the booking funnel, for staff to read as a list
 * (GET /v1/analytics/events, declared below: filters event_type,
 * user_id, created_at_from and created_at_to, paged) and as counts with
 * conversion ratios (GET /v1/analytics/funnel?from=&to=).
 *
 *	schedule_viewed		GET /v1/course-schedules/{id} by a visitor,
 *				signed in or not (no user then); staff, who
 *				read every schedule, are not visitors
 *	hold_created		a booking made: its seats held (bookings.c)
 *	payment_succeeded	a booking paid: method "stripe" (its
 *				PaymentIntent succeeded, payment_events.c),
 *				"offline" (staff's confirm) or "free" (a total
 *				of 0 confirmed)
 *	booking_cancelled	a booking cancelled, with its reason and the
 *				status it left (holds.c)
 *
 * Each but the first is written in the transaction of the step it
 * records, so an event exists exactly when its step committed. A view is
 * a read, and a write on every read cost the read path too much
 * (docs/BENCHMARKS.md, bench/schedule_views: a GET of a schedule kept a
 * fifth of its answers a second on SQLite, which syncs every commit, its
 * median from under 1 ms to 5-6 ms; a third on PostgreSQL): views are
 * kept in memory by the request (no write, a mutex and a copy) and
 * written in batches by a thread of the serving process, within
 * ANALYTICS_FLUSH_MS of the view or as soon as ANALYTICS_VIEWS_BATCH are
 * waiting, each batch in one transaction, ANALYTICS_INSERT_ROWS rows a
 * statement. What a stop leaves is written before the
 * database closes (the module's stop); a crash loses at most that
 * second's views, and views past ANALYTICS_VIEWS_MAX waiting are dropped
 * and logged (event=analytics_views_dropped): counts, not money.
 *
 * No personal data: event_data holds only the members of data_keys
 * (ids of the catalogue, amounts, counts, codes), checked by the one
 * function that writes a row (a member not in the list is a bug: the
 * write fails). user_id is the person (the booker, or the visitor),
 * cleared on their erasure (FIELD_ERASE); a view waiting in memory whose
 * person is deleted or erased by its write is written without them, under
 * the person's lock (hooks_person_lock), as erasure takes it.
 *
 * Retention: the nightly job training.analytics_retention deletes the
 * events older than the setting analytics_retention_days (365 unless set),
 * a bounded batch a transaction.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "resource/hooks.h"
#include "resource/resource.h"
#include "store/jobs.h"
#include "store/store.h"
#include "training/training_int.h"

#define ANALYTICS_FLUSH_MS    1000  /* a view waits at most this long */
#define ANALYTICS_VIEWS_BATCH 256   /* or this many wake the writer */
#define ANALYTICS_VIEWS_MAX   16384 /* waiting at most; more are dropped */
#define ANALYTICS_DELETE_MAX  1000  /* rows a retention transaction */
#define ANALYTICS_INSERT_ROWS 64    /* views a statement */
#define ANALYTICS_DAY_MS      (24LL * 3600 * 1000)
#define ANALYTICS_DATA_TEXT   64 /* characters of a text member */

static const char *const event_types[] = { TRAINING_EV_VIEWED, TRAINING_EV_HOLD,
	TRAINING_EV_PAID, TRAINING_EV_CANCELLED, NULL };

/* What event_data may hold: nothing of a person. */
static const char *const data_keys[] = { "schedule_id", "course_id", "seats",
	"amount_minor", "currency", "method", "reason", "from", NULL };

/* data_keys as the document says them: each an integer or a text of
 * ANALYTICS_DATA_TEXT characters at most (data_check), nothing else. */
/* clang-format off */
#define EVENT_DATA_MEMBER "{\"type\":[\"integer\",\"string\"],\"maxLength\":64}"
#define EVENT_DATA_SCHEMA "{\"type\":\"object\",\"additionalProperties\":false," \
	"\"properties\":{\"schedule_id\":" EVENT_DATA_MEMBER ",\"course_id\":" \
	EVENT_DATA_MEMBER ",\"seats\":" EVENT_DATA_MEMBER ",\"amount_minor\":" \
	EVENT_DATA_MEMBER ",\"currency\":" EVENT_DATA_MEMBER ",\"method\":" \
	EVENT_DATA_MEMBER ",\"reason\":" EVENT_DATA_MEMBER ",\"from\":" \
	EVENT_DATA_MEMBER "}}"
/* clang-format on */

/* A view waiting to be written. */
struct view {
	char	schedule_id[UUID_STR_LEN];
	char	course_id[UUID_STR_LEN];
	char	user_id[UUID_STR_LEN]; /* "" for an anonymous visitor */
	int64_t at;
	int	live; /* the person is live: theirs (views_people) */
};

struct batch {
	struct view *v;
	size_t	     n;
};

/* A row to write. */
struct event {
	const char *type;
	const char *user_id; /* NULL: no one */
	json_t	   *data;
	int64_t	    at;
};

struct purge {
	int64_t before;
	int64_t n; /* deleted by the last transaction */
};

static int     data_check(json_t *);
static int     analytics_write(struct tx *, const struct event *, size_t);
static int     views_people(struct tx *, struct batch *);
static int     view_cmp(const void *, const void *);
static int     views_tx(struct tx *, void *);
static void    views_write(struct store *, struct view *, size_t);
static void   *views_main(void *);
static int     funnel_tx(struct tx *, void *);
static json_t *ratio(int64_t, int64_t);
static int     purge_tx(struct tx *, void *);
static int     retention_tx(struct tx *, void *);

static const struct field event_fields[] = {
	{ "event_type", FIELD_ENUM, FIELD_READONLY | FIELD_FILTER, 0, 0,
	    event_types, NULL, NULL, 0,
	    "the funnel's step: schedule_viewed, hold_created, "
	    "payment_succeeded or booking_cancelled" },
	{ "user_id", FIELD_UUID,
	    FIELD_READONLY | FIELD_NULLABLE | FIELD_FILTER | FIELD_ERASE, 0, 0,
	    NULL, NULL, NULL, 0,
	    "the person (the booker, or the visitor): null for an anonymous "
	    "visitor, and once they are erased" },
	{ "event_data", FIELD_JSON, FIELD_READONLY, 0, 0, NULL, "{}", NULL, 0,
	    "what the step was, never of a person: schedule_id, course_id, "
	    "seats, amount_minor, currency, method (stripe, offline, free), "
	    "reason and from (a cancellation's)",
	    .schema = EVENT_DATA_SCHEMA },
	{ "created_at", FIELD_TIME, FIELD_READONLY | FIELD_FILTER | FIELD_SORT,
	    0, 0, NULL, NULL, NULL, 0,
	    "when the step happened (created_at_from, created_at_to)" },
	/* The table has no updated_at: an event never changes. */
	{ "updated_at", FIELD_TIME, FIELD_READONLY | FIELD_HIDDEN, 0, 0, NULL,
	    NULL, NULL, 0, NULL, "created_at" },
};

const struct resource analytics_events_resource = {
	.name = "analytics_events",
	.path = "/v1/analytics/events",
	.table = "analytics_events",
	.fields = event_fields,
	.nfields = NELEM(event_fields),
	.owner_column = "user_id",
	.actions = (1 << ACTION_LIST) | (1 << ACTION_READ),
	.doc = "The booking funnel's events (seed 004: analytics_events): "
	       "schedule_viewed, hold_created, payment_succeeded, "
	       "booking_cancelled, with what the step was and never anything "
	       "of a person (event_data), and who (user_id, null for an "
	       "anonymous visitor and once the person is erased). Staff read "
	       "them; views are written in batches, within a second; events "
	       "older than the setting analytics_retention_days are deleted "
	       "each night. Counts and ratios: GET /v1/analytics/funnel.",
};

/* Writing an event */

static int
data_check(json_t *data)
{
	const char *k;
	json_t	   *v;
	size_t	    i;
	int	    known;

	if (!json_is_object(data))
		return (ERR_INTERNAL);
	json_object_foreach(data, k, v) {
		known = 0;
		for (i = 0; data_keys[i] != NULL; i++)
			known |= strcmp(k, data_keys[i]) == 0;
		if (!known ||
		    !(json_is_integer(v) ||
			(json_is_string(v) &&
			    json_string_length(v) <= ANALYTICS_DATA_TEXT))) {
			log_error("event=analytics_data_refused key=%s", k);
			return (ERR_INTERNAL);
		}
	}
	return (OK);
}

/*
 * The one writer of events: n rows (1 or ANALYTICS_INSERT_ROWS, so two
 * statements only are ever cached) in one statement, each event_data
 * checked against data_keys first.
 */
static int
analytics_write(struct tx *tx, const struct event *ev, size_t n)
{
	struct stmt *st;
	struct buf   sql;
	char	     id[UUID_STR_LEN], *text;
	size_t	     i;
	int	     rc = OK;

	for (i = 0; i < n && rc == OK; i++)
		rc = data_check(ev[i].data);
	if (rc != OK)
		return (rc);
	buf_init(&sql, 4096);
	rc = buf_puts(&sql,
	    "INSERT INTO analytics_events (id, event_type, user_id, "
	    "event_data, created_at) VALUES (?, ?, ?, ?, ?)");
	for (i = 1; i < n && rc == OK; i++)
		rc = buf_puts(&sql, ", (?, ?, ?, ?, ?)");
	if (rc != OK || (st = store_prepare(tx, sql.data)) == NULL) {
		buf_free(&sql);
		return (rc != OK ? rc : ERR_DB);
	}
	buf_free(&sql);
	for (i = 0; i < n; i++) {
		if ((text = json_dumps(
			 ev[i].data, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
			store_finalize(st);
			return (ERR_NOMEM);
		}
		store_bind_text(st, (int)i * 5 + 1, uuid_v7(id));
		store_bind_text(st, (int)i * 5 + 2, ev[i].type);
		store_bind_text(st, (int)i * 5 + 3,
		    ev[i].user_id != NULL && ev[i].user_id[0] != '\0'
			? ev[i].user_id
			: NULL);
		store_bind_text(st, (int)i * 5 + 4, text); /* copied */
		store_bind_int64(st, (int)i * 5 + 5, ev[i].at);
		free(text);
	}
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

int
training_analytics_booking(
    struct tx *tx, const char *type, const char *booking_id, json_t *extra)
{
	struct stmt *st;
	struct event ev;
	json_t	    *data = NULL;
	char	     user[UUID_STR_LEN] = "";
	int	     rc;

	st = store_prepare(tx,
	    "SELECT b.user_id, b.schedule_id, s.course_id, b.seats, "
	    "b.total_minor, b.currency FROM training_bookings b JOIN "
	    "course_schedules s ON s.id = b.schedule_id WHERE b.id = ?");
	store_bind_text(st, 1, booking_id);
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(user, store_col_text(st, 0), sizeof(user));
		data = json_pack("{s:s,s:s,s:I,s:I,s:s}", "schedule_id",
		    store_col_text(st, 1), "course_id", store_col_text(st, 2),
		    "seats", (json_int_t)store_col_int64(st, 3), "amount_minor",
		    (json_int_t)store_col_int64(st, 4), "currency",
		    store_col_text(st, 5));
		rc = data != NULL ? OK : ERR_NOMEM;
	} else if (rc == STORE_DONE)
		rc = ERR_NOT_FOUND;
	store_finalize(st);
	if (rc == OK && extra != NULL && json_object_update(data, extra) != 0)
		rc = ERR_NOMEM;
	if (rc == OK) {
		ev.type = type;
		ev.user_id = user;
		ev.data = data;
		ev.at = time_now_ms();
		rc = analytics_write(tx, &ev, 1);
	}
	json_decref(data);
	return (rc);
}

/* Views, in batches */

static pthread_mutex_t views_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t  views_cv = PTHREAD_COND_INITIALIZER;
static struct view     views_in[ANALYTICS_VIEWS_MAX];  /* under views_mu */
static struct view     views_out[ANALYTICS_VIEWS_MAX]; /* the writer's */
static size_t	       views_n;
static uint64_t	       views_dropped;
static int	       views_started, views_stopping;
static pthread_t       views_thread;

int
training_analytics_viewed(struct resource_ctx *ctx, json_t *row)
{
	const char  *sid = json_string_value(json_object_get(row, "id"));
	const char  *cid = json_string_value(json_object_get(row, "course_id"));
	struct view *v;

	/* Staff read every schedule to run them: not the funnel's. */
	if (ctx->scope == SCOPE_ALL || ctx->req == NULL || sid == NULL ||
	    cid == NULL)
		return (OK);
	pthread_mutex_lock(&views_mu);
	if (!views_started && !views_stopping) {
		if (pthread_create(
			&views_thread, NULL, views_main, ctx->req->db) == 0)
			views_started = 1;
		else
			log_error("event=analytics_writer_failed");
	}
	if (!views_started || views_n == ANALYTICS_VIEWS_MAX)
		views_dropped++;
	else {
		v = &views_in[views_n++];
		strlcpy_cb(v->schedule_id, sid, sizeof(v->schedule_id));
		strlcpy_cb(v->course_id, cid, sizeof(v->course_id));
		strlcpy_cb(v->user_id,
		    ctx->who != NULL ? ctx->who->user_id : "",
		    sizeof(v->user_id));
		v->at = time_now_ms();
		if (views_n == ANALYTICS_VIEWS_BATCH)
			pthread_cond_signal(&views_cv);
	}
	pthread_mutex_unlock(&views_mu);
	return (OK);
}

/* By person, so each person's lock is taken once, in one order. */
static int
view_cmp(const void *a, const void *b)
{
	return (strcmp(((const struct view *)a)->user_id,
	    ((const struct view *)b)->user_id));
}

/* Each person once, in order, under their lock: live, or no one. */
static int
views_people(struct tx *tx, struct batch *b)
{
	struct stmt *st;
	struct view *v;
	size_t	     i;
	int	     rc, live = 0;

	for (i = 0; i < b->n; i++) {
		v = &b->v[i];
		if (v->user_id[0] == '\0' ||
		    (i > 0 && strcmp(v->user_id, b->v[i - 1].user_id) == 0)) {
			v->live = v->user_id[0] != '\0' && live;
			continue;
		}
		rc = hooks_person_lock(tx, v->user_id);
		if (rc != OK && rc != ERR_UNAVAILABLE)
			return (rc);
		st = store_prepare(tx,
		    "SELECT 1 FROM users WHERE id = ? AND deleted_at IS NULL");
		store_bind_text(st, 1, v->user_id);
		rc = store_step(st);
		store_finalize(st);
		if (rc != STORE_ROW && rc != STORE_DONE)
			return (rc);
		v->live = live = rc == STORE_ROW;
	}
	return (OK);
}

static int
views_tx(struct tx *tx, void *arg)
{
	struct batch *b = arg;
	struct event  ev[ANALYTICS_INSERT_ROWS];
	size_t	      i, k, n;
	int	      rc;

	if ((rc = views_people(tx, b)) != OK)
		return (rc);
	for (i = 0; i < b->n && rc == OK; i += n) {
		/* Whole statements of ANALYTICS_INSERT_ROWS, the rest one
		 * by one. */
		n = b->n - i >= ANALYTICS_INSERT_ROWS ? ANALYTICS_INSERT_ROWS
						      : 1;
		for (k = 0; k < n; k++) {
			struct view *v = &b->v[i + k];

			ev[k].type = TRAINING_EV_VIEWED;
			ev[k].user_id = v->live ? v->user_id : NULL;
			ev[k].at = v->at;
			ev[k].data = json_pack("{s:s,s:s}", "schedule_id",
			    v->schedule_id, "course_id", v->course_id);
			if (ev[k].data == NULL)
				rc = ERR_NOMEM;
		}
		if (rc == OK)
			rc = analytics_write(tx, ev, n);
		for (k = 0; k < n; k++)
			json_decref(ev[k].data);
	}
	return (rc);
}

static void
views_write(struct store *db, struct view *v, size_t n)
{
	struct batch b = { v, n };
	int	     rc;

	qsort(v, n, sizeof(*v), view_cmp);
	if ((rc = store_run(db, STORE_TX_WRITE, views_tx, &b)) != OK)
		log_error("event=analytics_views_lost count=%zu rc=%s", n,
		    err_code(rc));
}

static void *
views_main(void *arg)
{
	struct store   *db = arg;
	struct timespec ts;
	uint64_t	dropped;
	size_t		n;

	pthread_mutex_lock(&views_mu);
	for (;;) {
		if (views_n < ANALYTICS_VIEWS_BATCH && !views_stopping) {
			time_deadline(&ts, CLOCK_REALTIME, ANALYTICS_FLUSH_MS);
			(void)pthread_cond_timedwait(&views_cv, &views_mu, &ts);
		}
		n = views_n;
		memcpy(views_out, views_in, n * sizeof(*views_in));
		views_n = 0;
		dropped = views_dropped;
		views_dropped = 0;
		if (n == 0 && views_stopping)
			break;
		pthread_mutex_unlock(&views_mu);
		if (dropped > 0)
			log_warn("event=analytics_views_dropped count=%llu",
			    (unsigned long long)dropped);
		if (n > 0)
			views_write(db, views_out, n);
		pthread_mutex_lock(&views_mu);
	}
	pthread_mutex_unlock(&views_mu);
	return (NULL);
}

void
training_analytics_stop(void)
{
	int started;

	pthread_mutex_lock(&views_mu);
	started = views_started;
	views_stopping = 1;
	pthread_cond_signal(&views_cv);
	pthread_mutex_unlock(&views_mu);
	if (started)
		pthread_join(views_thread, NULL);
	pthread_mutex_lock(&views_mu);
	views_started = 0;
	pthread_mutex_unlock(&views_mu);
}

/* The funnel */

struct funnel {
	int64_t from, to;
	int64_t count[4]; /* by event_types */
};

static int
funnel_tx(struct tx *tx, void *arg)
{
	struct funnel *f = arg;
	struct stmt   *st;
	const char    *t;
	size_t	       i;
	int	       rc;

	memset(f->count, 0, sizeof(f->count));
	st = store_prepare(tx,
	    "SELECT event_type, COUNT(*) FROM analytics_events WHERE "
	    "created_at >= ? AND created_at < ? GROUP BY event_type");
	store_bind_int64(st, 1, f->from);
	store_bind_int64(st, 2, f->to);
	while ((rc = store_step(st)) == STORE_ROW) {
		t = store_col_text(st, 0);
		for (i = 0; event_types[i] != NULL; i++)
			if (t != NULL && strcmp(t, event_types[i]) == 0)
				f->count[i] = store_col_int64(st, 1);
	}
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

/* a / b rounded to four places; null when there is nothing to divide by. */
static json_t *
ratio(int64_t a, int64_t b)
{
	if (b <= 0)
		return (json_null());
	return (json_real(round((double)a * 10000.0 / (double)b) / 10000.0));
}

void
training_analytics_funnel(struct request *req)
{
	struct funnel f;
	const char   *from = http_query(req, "from");
	const char   *to = http_query(req, "to");
	json_t	     *errs, *counts, *ratios;
	char	      iso[2][ISO_TIME_LEN];
	size_t	      i;
	int	      rc;

	if (resource_scope(req->db, req->caller, "analytics_events", "read") !=
	    SCOPE_ALL) {
		http_problem(
		    req, ERR_FORBIDDEN, NULL, "Only staff read the analytics.");
		return;
	}
	if ((errs = json_array()) == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "Out of memory.");
		return;
	}
	memset(&f, 0, sizeof(f));
	f.to = time_now_ms();
	if (to != NULL && time_parse_iso(to, &f.to) != 0)
		resource_field_err(
		    errs, "to", "invalid_format", "an ISO 8601 time");
	f.from = f.to - 30 * ANALYTICS_DAY_MS;
	if (from != NULL && time_parse_iso(from, &f.from) != 0)
		resource_field_err(
		    errs, "from", "invalid_format", "an ISO 8601 time");
	else if (f.from >= f.to)
		resource_field_err(errs, "from", "too_late", "before to");
	if (resource_errs_answer(req, errs, "The period") != OK)
		return;
	if ((rc = store_run(req->db, STORE_TX_READ, funnel_tx, &f)) != OK) {
		http_problem(req, rc, NULL, "The funnel could not be read.");
		return;
	}
	counts = json_object();
	for (i = 0; event_types[i] != NULL; i++)
		json_object_set_new(
		    counts, event_types[i], json_integer(f.count[i]));
	ratios = json_pack("{s:o,s:o,s:o,s:o}", "hold_per_view",
	    ratio(f.count[1], f.count[0]), "payment_per_hold",
	    ratio(f.count[2], f.count[1]), "payment_per_view",
	    ratio(f.count[2], f.count[0]), "cancellation_per_hold",
	    ratio(f.count[3], f.count[1]));
	http_json(req, 200,
	    json_pack("{s:s,s:s,s:o,s:o}", "from",
		time_format_iso(f.from, iso[0]), "to",
		time_format_iso(f.to, iso[1]), "counts", counts, "ratios",
		ratios));
}

/* Retention */

static int
retention_tx(struct tx *tx, void *arg)
{
	int64_t *days = arg;

	return (training_setting_int(tx, "analytics_retention_days",
	    TRAINING_ANALYTICS_RETENTION_DAYS, days));
}

static int
purge_tx(struct tx *tx, void *arg)
{
	struct purge *p = arg;
	struct stmt  *st;
	int	      rc;

	st = store_prepare(tx,
	    "DELETE FROM analytics_events WHERE id IN (SELECT id FROM "
	    "analytics_events WHERE created_at < ? ORDER BY created_at "
	    "LIMIT ?)");
	store_bind_int64(st, 1, p->before);
	store_bind_int64(st, 2, ANALYTICS_DELETE_MAX);
	if ((rc = store_step(st)) == STORE_DONE) {
		p->n = store_changes(st);
		rc = OK;
	}
	store_finalize(st);
	return (rc);
}

int
training_analytics_retention_job(
    struct store *db, const struct job *job, char *err)
{
	struct purge p;
	int64_t	     days = TRAINING_ANALYTICS_RETENTION_DAYS, total = 0;
	int	     rc;

	(void)job;
	if ((rc = store_run(db, STORE_TX_READ, retention_tx, &days)) != OK)
		goto bad;
	if (days < 1)
		days = 1;
	memset(&p, 0, sizeof(p));
	p.before = time_now_ms() - days * ANALYTICS_DAY_MS;
	/* A bounded batch a transaction: writers wait for none long. */
	do {
		if ((rc = store_run(db, STORE_TX_WRITE, purge_tx, &p)) != OK)
			goto bad;
		total += p.n;
	} while (p.n == ANALYTICS_DELETE_MAX);
	if (total > 0)
		log_info("event=analytics_events_deleted count=%lld days=%lld",
		    (long long)total, (long long)days);
	return (OK);
bad:
	snprintf(err, JOB_ERR_LEN, "analytics retention: %s", err_code(rc));
	return (rc);
}
