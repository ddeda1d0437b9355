/*
 * Certificates (seed 004: certificates, issue 17 items 2 and 4).
 *
 * One an attendee a schedule (a unique index backs it), issued once the
 * schedule is completed to an attendee whose attendance record is
 * certificate_eligible (attendance.c: present, or late within
 * certificate_late_minutes, and passed): by staff (POST /v1/certificates
 * {attendee_id}), or by the schedule's completion when the setting
 * auto_issue_certificates is on. Refusals: 409 SCHEDULE_NOT_COMPLETED,
 * 409 NOT_ELIGIBLE, 409 CERTIFICATE_EXISTS.
 *
 * issue_date is the completion date, the London day of the schedule's
 * end; expiry_date is issue_date + the course's
 * certification_validity_years (none for 0), the same day and month, 28
 * February for 29 February in a year without it. certificate_number
 * ("RFT-<year>-<10 characters>") and verification_token (32 characters,
 * about 158 bits, from libsodium's generator) are unguessable; the token
 * is printed on the certificate. The course family is the course's type
 * (EFAW, FAW, Paediatric), or, for a requalification or refresher
 * course, the family it requalifies (training_courses.requalifies, FAW
 * when not set).
 *
 * status: active, expired (the nightly training.expire_certificates job,
 * once the expiry date has passed in London; a verification says expired
 * from that day whatever the job has done), revoked (POST
 * /v1/certificates/{id}/revoke {reason}, staff; at once).
 *
 * holder_name is the attendee's name, sealed under the booker's key
 * (user_id): the booker's erasure clears it, and the certificate's
 * verification then answers 404 CERTIFICATE_NOT_FOUND as for a token
 * that never was (the chosen answer: nothing, not an anonymised one).
 *
 * GET /v1/certificate-verifications/{token} (public) answers the
 * certificate number, holder name, course, dates and status, nothing else
 * of the person; its callers are throttled per client address (the
 * HTTP layer's token buckets: 10 at once, then one every 10 s; 429 with
 * Retry-After).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "store/jobs.h"
#include "store/store.h"
#include "training/training_int.h"

#define TOKEN_LEN      32
#define TOKEN_ALPHABET "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

static const char *const statuses[] = { "active", "expired", "revoked", NULL };

static const struct field certificate_fields[] = {
	{ "booking_id", FIELD_UUID, FIELD_READONLY | FIELD_FILTER, 0, 0, NULL,
	    NULL, "training_bookings", 0, NULL },
	{ "schedule_id", FIELD_UUID, FIELD_READONLY | FIELD_FILTER, 0, 0, NULL,
	    NULL, "course_schedules", 0, NULL },
	{ "attendee_id", FIELD_UUID, FIELD_READONLY | FIELD_FILTER, 0, 0, NULL,
	    NULL, "training_booking_attendees", 0, NULL },
	{ "user_id", FIELD_UUID, FIELD_READONLY | FIELD_FILTER, 0, 0, NULL,
	    NULL, NULL, 0, "the booker; owns the row" },
	{ "course_id", FIELD_UUID, FIELD_READONLY | FIELD_FILTER, 0, 0, NULL,
	    NULL, "training_courses", 0, NULL },
	{ "course_family", FIELD_TEXT, FIELD_READONLY | FIELD_FILTER, 0, 0,
	    NULL, NULL, NULL, 0, "EFAW, FAW or Paediatric" },
	{ "holder_name", FIELD_TEXT,
	    FIELD_READONLY | FIELD_PERSONAL | FIELD_NULLABLE, 0, 0, NULL, NULL,
	    NULL, 0, "the attendee's name, sealed under the booker's key" },
	{ "certificate_number", FIELD_TEXT, FIELD_READONLY | FIELD_FILTER, 0, 0,
	    NULL, NULL, NULL, 0, "RFT-<year>-<10 characters>, unique" },
	{ "verification_token", FIELD_TEXT, FIELD_READONLY, 0, 0, NULL, NULL,
	    NULL, 0,
	    "printed on the certificate: GET "
	    "/v1/certificate-verifications/{token}" },
	{ "issue_date", FIELD_DATE, FIELD_READONLY | FIELD_SORT, 0, 0, NULL,
	    NULL, NULL, 0, "the completion date (London)" },
	{ "expiry_date", FIELD_DATE, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, 0,
	    "issue_date + the course's certification_validity_years" },
	{ "status", FIELD_ENUM, FIELD_READONLY | FIELD_FILTER, 0, 0, statuses,
	    NULL, NULL, 0, "active, expired (nightly) or revoked" },
	{ "revocation_reason", FIELD_TEXT, FIELD_READONLY | FIELD_NULLABLE, 0,
	    0, NULL, NULL, NULL, 0, NULL },
	{ "revoked_at", FIELD_TIME, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, 0, NULL },
	{ "created_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
	{ "updated_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
};

const struct resource certificates_resource = {
	.name = "certificates",
	.path = "/v1/certificates",
	.table = "certificates",
	.fields = certificate_fields,
	.nfields = NELEM(certificate_fields),
	.owner_column = "user_id",
	.actions = (1 << ACTION_LIST) | (1 << ACTION_READ),
	.doc = "Course completion certificates (seed 004: certificates), one "
	       "an attendee a schedule, issued to those marked present (or "
	       "late within certificate_late_minutes) who passed: on "
	       "completion when auto_issue_certificates is on, else by staff "
	       "(POST /v1/certificates). Valid for the course's "
	       "certification_validity_years; expired nightly; revoked by "
	       "staff. Bookers read their own.",
	.codes =
	    "{\"409\":[\"BOOKING_NOT_COMPLETED\",\"CERTIFICATE_EXISTS\",\"NOT_ELIGIBLE\",\"REQUALIFICATION_NOT_ALLOWED\",\"SCHEDULE_NOT_COMPLETED\"]}",
};

/* Dates */

static int
month_days(int y, int m)
{
	static const int md[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
		31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return (29);
	return (md[m - 1]);
}

int
training_date_add(const char *date, int years, int months, char out[11])
{
	char tmp[48];
	int  y, m, d;

	if (training_date_parse(date, &y, &m, &d) != 0)
		return (-1);
	y += years;
	m += months;
	while (m > 12) {
		m -= 12;
		y++;
	}
	while (m < 1) {
		m += 12;
		y--;
	}
	if (y < 1 || y > 9999)
		return (-1);
	if (d > month_days(y, m))
		d = month_days(y, m);
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02d", y, m, d);
	strlcpy_cb(out, tmp, 11);
	return (0);
}

void
training_london_date(int64_t ms, char out[11])
{
	struct tm tm;
	char	  tmp[48];

	time_utc(time_london_day(ms) * 86400, &tm);
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02d", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday);
	strlcpy_cb(out, tmp, 11);
}

/* Issuing */

struct issue {
	char	schedule_id[UUID_STR_LEN];
	char	booking_id[UUID_STR_LEN];
	char	user_id[UUID_STR_LEN];
	char	course_id[UUID_STR_LEN];
	char	family[24];
	char	schedule_status[16];
	char	booking_status[16];
	int64_t end, years;
	int	eligible;
};

static int
issue_load(struct tx *tx, const char *attendee_id, struct issue *is)
{
	struct stmt *st;
	int	     rc;

	memset(is, 0, sizeof(*is));
	st = store_prepare(tx,
	    "SELECT b.schedule_id, b.id, b.user_id, c.id, CASE WHEN "
	    "c.course_type IN ('EFAW', 'FAW', 'Paediatric') THEN c.course_type "
	    "ELSE COALESCE(c.requalifies, 'FAW') END, s.status, s.end_time, "
	    "c.certification_validity_years, COALESCE((SELECT "
	    "r.certificate_eligible FROM attendance_records r WHERE "
	    "r.attendee_id = a.id AND r.schedule_id = s.id), 0), b.status "
	    "FROM training_booking_attendees a JOIN training_bookings b ON b.id = "
	    "a.booking_id JOIN course_schedules s ON s.id = b.schedule_id JOIN "
	    "training_courses c ON c.id = s.course_id WHERE a.id = ?");
	store_bind_text(st, 1, attendee_id);
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(is->schedule_id, store_col_text(st, 0),
		    sizeof(is->schedule_id));
		strlcpy_cb(is->booking_id, store_col_text(st, 1),
		    sizeof(is->booking_id));
		strlcpy_cb(
		    is->user_id, store_col_text(st, 2), sizeof(is->user_id));
		strlcpy_cb(is->course_id, store_col_text(st, 3),
		    sizeof(is->course_id));
		strlcpy_cb(
		    is->family, store_col_text(st, 4), sizeof(is->family));
		strlcpy_cb(is->schedule_status, store_col_text(st, 5),
		    sizeof(is->schedule_status));
		is->end = store_col_int64(st, 6);
		is->years = store_col_int64(st, 7);
		is->eligible = store_col_int64(st, 8) != 0;
		strlcpy_cb(is->booking_status, store_col_text(st, 9),
		    sizeof(is->booking_status));
		rc = OK;
	} else if (rc == STORE_DONE)
		rc = ERR_NOT_FOUND;
	store_finalize(st);
	return (rc);
}

static void
token_new(char out[TOKEN_LEN + 1])
{
	const size_t n = sizeof(TOKEN_ALPHABET) - 1;
	int	     i;

	for (i = 0; i < TOKEN_LEN; i++)
		out[i] = TOKEN_ALPHABET[random_uniform((uint32_t)n)];
	out[TOKEN_LEN] = '\0';
}

int
training_certificate_issue(struct tx *tx, const struct principal *who,
    struct request *req, const char *attendee_id, char *id_out)
{
	struct resource_ctx ctx;
	struct issue	    is;
	struct stmt	   *st;
	json_t		   *att = NULL, *body;
	char		    issued[11], expiry[11], ref[TRAINING_REF_LEN + 1];
	char		    number[40], token[TOKEN_LEN + 1];
	char		    made[UUID_STR_LEN];
	int		    rc;

	/* Staff's issue and a completion's at once: one certificate. */
	if (attendee_id != NULL && uuid_valid(attendee_id) &&
	    (rc = training_lock(tx, "certificate", attendee_id)) != OK)
		return (rc);
	if ((rc = issue_load(tx, attendee_id, &is)) == ERR_NOT_FOUND)
		return (training_refuse(req, ERR_INVALID, NULL, "attendee_id",
		    "not_found", "names no attendee"));
	if (rc != OK)
		return (rc);
	if (strcmp(is.schedule_status, "completed") != 0)
		return (training_refuse(req, ERR_CONFLICT,
		    "SCHEDULE_NOT_COMPLETED", "attendee_id", "not_completed",
		    "certificates are issued once the schedule is completed"));
	/*
	 * Completion moves an attended confirmed booking to completed; a
	 * cancelled or no_show one earns nothing, whatever its records say.
	 */
	if (strcmp(is.booking_status, "completed") != 0)
		return (training_refuse(req, ERR_CONFLICT,
		    "BOOKING_NOT_COMPLETED", "attendee_id", "not_completed",
		    "certificates are issued for completed bookings only"));
	if (!is.eligible)
		return (training_refuse(req, ERR_CONFLICT, "NOT_ELIGIBLE",
		    "attendee_id", "not_eligible",
		    "the attendee was not marked present (or late within the "
		    "setting) with the assessment passed"));
	st = store_prepare(tx,
	    "SELECT 1 FROM certificates WHERE schedule_id = ? AND "
	    "attendee_id = ?");
	store_bind_text(st, 1, is.schedule_id);
	store_bind_text(st, 2, attendee_id);
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_ROW)
		return (training_refuse(req, ERR_CONFLICT, "CERTIFICATE_EXISTS",
		    "attendee_id", "issued",
		    "the attendee has this schedule's certificate already"));
	if (rc != STORE_DONE)
		return (rc);
	if ((rc = resource_read(tx, &training_booking_attendees_resource,
		 attendee_id, SCOPE_ALL, &att)) != OK)
		return (rc);
	training_london_date(is.end, issued);
	if (is.years > 0 &&
	    training_date_add(issued, (int)is.years, 0, expiry) != 0) {
		json_decref(att);
		return (ERR_INTERNAL);
	}
	if ((rc = training_reference_new(tx,
		 "SELECT 1 FROM certificates WHERE certificate_number LIKE "
		 "'%' || ?",
		 ref)) != OK) {
		json_decref(att);
		return (rc);
	}
	snprintf(number, sizeof(number), "RFT-%.4s-%s", issued, ref);
	token_new(token);
	body = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:O,s:s,s:s,s:s,s:s}",
	    "booking_id", is.booking_id, "schedule_id", is.schedule_id,
	    "attendee_id", attendee_id, "user_id", is.user_id, "course_id",
	    is.course_id, "course_family", is.family, "holder_name",
	    json_object_get(att, "name"), "certificate_number", number,
	    "verification_token", token, "issue_date", issued, "status",
	    "active");
	json_decref(att);
	if (body == NULL)
		return (ERR_NOMEM);
	json_object_set_new(body, "expiry_date",
	    is.years > 0 ? json_string(expiry) : json_null());
	memset(&ctx, 0, sizeof(ctx));
	ctx.req = req;
	ctx.tx = tx;
	ctx.res = &certificates_resource;
	ctx.who = (struct principal *)(uintptr_t)who;
	ctx.scope = SCOPE_ALL;
	rc = resource_insert(&ctx, body, made);
	json_decref(body);
	if (rc != OK)
		return (rc);
	if (id_out != NULL)
		memcpy(id_out, made, UUID_STR_LEN);
	return (training_notify_certificate(tx, made, "certificate_ready", 0));
}

int
training_certificates_auto(struct tx *tx, const struct principal *who,
    struct request *req, const char *schedule_id)
{
	struct stmt *st;
	json_t	    *ids;
	size_t	     i;
	char	     id[UUID_STR_LEN];
	int	     rc;

	if ((ids = json_array()) == NULL)
		return (ERR_NOMEM);
	st = store_prepare(tx,
	    "SELECT r.attendee_id FROM attendance_records r JOIN "
	    "training_bookings b ON b.id = r.booking_id WHERE "
	    "r.schedule_id = ? AND r.certificate_eligible = 1 AND "
	    "b.status = 'completed' AND NOT EXISTS "
	    "(SELECT 1 FROM certificates c WHERE c.schedule_id = r.schedule_id "
	    "AND c.attendee_id = r.attendee_id) ORDER BY r.attendee_id");
	store_bind_text(st, 1, schedule_id);
	while ((rc = store_step(st)) == STORE_ROW)
		json_array_append_new(ids, json_string(store_col_text(st, 0)));
	store_finalize(st);
	rc = rc == STORE_DONE ? OK : rc;
	for (i = 0; rc == OK && i < json_array_size(ids); i++)
		rc = training_certificate_issue(tx, who, req,
		    json_string_value(json_array_get(ids, i)), id);
	json_decref(ids);
	return (rc);
}

/* The routes */

struct cert_op {
	struct request	 *req;
	struct principal *who;
	const char	 *attendee_id;
	const char	 *id;
	const char	 *reason;
	char		  new_id[UUID_STR_LEN];
	json_t		 *row;
};

static int
answer_load(struct tx *tx, struct cert_op *op, const char *id)
{
	struct resource_ctx ctx;

	json_decref(op->row);
	op->row = NULL;
	memset(&ctx, 0, sizeof(ctx));
	ctx.req = op->req;
	ctx.tx = tx;
	ctx.res = &certificates_resource;
	ctx.who = op->who;
	ctx.scope = SCOPE_ALL;
	return (resource_load(&ctx, id, &op->row));
}

static int
issue_tx(struct tx *tx, void *arg)
{
	struct cert_op *op = arg;
	int		rc;

	if ((rc = training_certificate_issue(
		 tx, op->who, op->req, op->attendee_id, op->new_id)) != OK)
		return (rc);
	return (answer_load(tx, op, op->new_id));
}

void
training_certificate_create(struct request *req)
{
	struct cert_op op;
	json_t	      *errs;
	int	       rc;

	memset(&op, 0, sizeof(op));
	op.req = req;
	op.who = req->caller;
	if (resource_scope(req->db, op.who, "certificates", "create") !=
	    SCOPE_ALL) {
		http_problem(
		    req, ERR_FORBIDDEN, NULL, "Only staff issue certificates.");
		return;
	}
	op.attendee_id =
	    json_string_value(json_object_get(req->json, "attendee_id"));
	if ((errs = json_array()) == NULL)
		return;
	if (op.attendee_id == NULL || !uuid_valid(op.attendee_id))
		resource_field_err(
		    errs, "attendee_id", "required", "an attendee's id");
	if (json_object_size(req->json) != 1)
		resource_field_err(
		    errs, "body", "unknown", "attendee_id is the only member");
	if (resource_errs_answer(req, errs, "The certificate") != OK)
		return;
	rc = store_run(req->db, STORE_TX_WRITE, issue_tx, &op);
	if (rc == OK)
		http_json(req, 201, op.row);
	else {
		json_decref(op.row);
		if (!req->responded)
			http_problem(
			    req, rc, NULL, "The certificate was not issued.");
	}
}

static int
revoke_tx(struct tx *tx, void *arg)
{
	struct cert_op *op = arg;
	struct stmt    *st;
	char		from[16] = "";
	int		rc;

	st = store_prepare(tx, "SELECT status FROM certificates WHERE id = ?");
	store_bind_text(st, 1, op->id);
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(from, store_col_text(st, 0), sizeof(from));
		rc = OK;
	} else if (rc == STORE_DONE)
		rc = ERR_NOT_FOUND;
	store_finalize(st);
	if (rc != OK)
		return (rc);
	if (strcmp(from, "revoked") == 0) {
		http_problem(op->req, ERR_CONFLICT, "INVALID_TRANSITION",
		    "The certificate is revoked already.");
		return (ERR_CONFLICT);
	}
	st = store_prepare(tx,
	    "UPDATE certificates SET status = 'revoked', revocation_reason = "
	    "?, revoked_at = ?, updated_at = ?, updated_by = ? WHERE id = ? "
	    "AND status = ?");
	store_bind_text(st, 1, op->reason);
	store_bind_int64(st, 2, time_now_ms());
	store_bind_int64(st, 3, time_now_ms());
	store_bind_text(st, 4, op->who->user_id);
	store_bind_text(st, 5, op->id);
	store_bind_text(st, 6, from);
	rc = store_step(st);
	rc = rc == STORE_DONE ? (store_changes(st) == 1 ? OK : ERR_BUSY) : rc;
	store_finalize(st);
	if (rc != OK ||
	    (rc = training_audit_move(tx, op->req, op->who, "certificates",
		 "revoke", op->id, from, "revoked")) != OK)
		return (rc);
	return (answer_load(tx, op, op->id));
}

void
training_certificate_revoke(struct request *req)
{
	struct cert_op op;
	int	       rc;

	memset(&op, 0, sizeof(op));
	op.req = req;
	op.who = req->caller;
	op.id = http_param(req, "id");
	if (op.id == NULL || !uuid_valid(op.id)) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such certificate.");
		return;
	}
	if (resource_scope(req->db, op.who, "certificates", "revoke") !=
	    SCOPE_ALL) {
		http_problem(req, ERR_FORBIDDEN, NULL,
		    "Only staff revoke certificates.");
		return;
	}
	op.reason = json_string_value(json_object_get(req->json, "reason"));
	if (op.reason == NULL || op.reason[0] == '\0' ||
	    training_chars(op.reason) > TRAINING_REASON_MAX ||
	    json_object_size(req->json) != 1) {
		training_refuse(req, ERR_INVALID, NULL, "reason", "required",
		    "a reason, 1-2000 characters, is the only member");
		return;
	}
	rc = store_run(req->db, STORE_TX_WRITE, revoke_tx, &op);
	if (rc == OK)
		http_json(req, 200, op.row);
	else {
		json_decref(op.row);
		if (!req->responded)
			http_problem(req, rc, NULL,
			    rc == ERR_NOT_FOUND ? "No such certificate."
						: "The certificate was not "
						  "revoked.");
	}
}

/* Public verification */

static struct ratelimit *verify_limit;

struct verify {
	const char *token;
	json_t	   *answer;
};

static int
verify_tx(struct tx *tx, void *arg)
{
	struct verify *v = arg;
	struct stmt   *st;
	json_t	      *row = NULL;
	char	       id[UUID_STR_LEN] = "", course[TRAINING_NAME_MAX * 4 + 1];
	char	       today[11];
	const char    *status, *expiry, *name;
	int	       rc;

	st = store_prepare(tx,
	    "SELECT c.id, t.name FROM certificates c JOIN training_courses t "
	    "ON t.id = c.course_id WHERE c.verification_token = ?");
	store_bind_text(st, 1, v->token);
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(id, store_col_text(st, 0), sizeof(id));
		strlcpy_cb(course, store_col_text(st, 1), sizeof(course));
		rc = OK;
	} else if (rc == STORE_DONE)
		rc = ERR_NOT_FOUND;
	store_finalize(st);
	if (rc != OK)
		return (rc);
	if ((rc = resource_read(
		 tx, &certificates_resource, id, SCOPE_ALL, &row)) != OK)
		return (rc);
	name = json_string_value(json_object_get(row, "holder_name"));
	if (name == NULL) { /* erased */
		json_decref(row);
		return (ERR_NOT_FOUND);
	}
	status = json_string_value(json_object_get(row, "status"));
	expiry = json_string_value(json_object_get(row, "expiry_date"));
	training_london_date(time_now_ms(), today);
	if (strcmp(status, "active") == 0 && expiry != NULL &&
	    strcmp(expiry, today) < 0)
		status = "expired";
	v->answer = json_pack("{s:O,s:s,s:s,s:O,s:O,s:O,s:s,s:O}",
	    "certificate_number", json_object_get(row, "certificate_number"),
	    "holder_name", name, "course", course, "course_family",
	    json_object_get(row, "course_family"), "issue_date",
	    json_object_get(row, "issue_date"), "expiry_date",
	    json_object_get(row, "expiry_date"), "status", status, "revoked_at",
	    json_object_get(row, "revoked_at"));
	json_decref(row);
	return (v->answer != NULL ? OK : ERR_NOMEM);
}

void
training_certificate_verify(struct request *req)
{
	struct verify v;
	char	      hv[16];
	int	      rc, retry = 1;

	memset(&v, 0, sizeof(v));
	if (!http_ratelimit_take(verify_limit, req->client_key, &retry)) {
		snprintf(hv, sizeof(hv), "%d", retry);
		http_header_add(req, "Retry-After", hv);
		http_problem(req, ERR_RATE_LIMIT, NULL,
		    "Too many verifications: try again later.");
		return;
	}
	v.token = http_param(req, "token");
	if (v.token == NULL || strlen(v.token) != TOKEN_LEN ||
	    strspn(v.token, TOKEN_ALPHABET) != TOKEN_LEN) {
		http_problem(req, ERR_NOT_FOUND, "CERTIFICATE_NOT_FOUND",
		    "No certificate has that token.");
		return;
	}
	rc = store_run(req->db, STORE_TX_READ, verify_tx, &v);
	if (rc == OK) {
		http_json(req, 200, v.answer);
		return;
	}
	json_decref(v.answer);
	if (rc == ERR_NOT_FOUND)
		http_problem(req, rc, "CERTIFICATE_NOT_FOUND",
		    "No certificate has that token.");
	else
		http_problem(req, rc, NULL, "The certificate was not read.");
}

int
training_certificates_init(void)
{
	/* 10 at once, then one every 10 seconds, per client. */
	if (verify_limit == NULL &&
	    (verify_limit = http_ratelimit_new(0.1, 10, 4096)) == NULL)
		return (ERR_NOMEM);
	return (OK);
}

/* The nightly job */

struct expire {
	int64_t now;
	int	n;
};

static int
expire_tx(struct tx *tx, void *arg)
{
	struct expire *e = arg;
	struct stmt   *st;
	char	       today[11];
	int	       rc;

	training_london_date(e->now, today);
	st = store_prepare(tx,
	    "UPDATE certificates SET status = 'expired', updated_at = ? WHERE "
	    "status = 'active' AND expiry_date IS NOT NULL AND expiry_date < "
	    "?");
	store_bind_int64(st, 1, e->now);
	store_bind_text(st, 2, today);
	if ((rc = store_step(st)) == STORE_DONE) {
		e->n = (int)store_changes(st);
		rc = OK;
	}
	store_finalize(st);
	return (rc);
}

int
training_expire_certificates_job(
    struct store *db, const struct job *job, char *err)
{
	struct expire e;
	int	      rc;

	(void)job;
	e.now = time_now_ms();
	e.n = 0;
	if ((rc = store_run(db, STORE_TX_WRITE, expire_tx, &e)) != OK) {
		snprintf(err, JOB_ERR_LEN, "expiring certificates: %s",
		    err_code(rc));
		return (rc);
	}
	if (e.n > 0)
		log_info("event=training_certificates_expired count=%d", e.n);
	return (OK);
}

/* Requalification */

/* Which of emails (null once matched) names attendee_id, a certificate's
 * attendee: its index in *at, else json_array_size(emails). */
static int
holder_match(struct tx *tx, const char *attendee_id, json_t *emails, size_t *at)
{
	json_t	   *att = NULL;
	const char *mail;
	size_t	    i;
	int	    rc;

	*at = json_array_size(emails);
	/* A shredded holder's attendee row opens to nothing: no match. */
	if ((rc = resource_read(tx, &training_booking_attendees_resource,
		 attendee_id, SCOPE_ALL, &att)) != OK)
		return (rc == ERR_NOMEM ? rc : OK);
	mail = json_string_value(json_object_get(att, "email"));
	for (i = 0; mail != NULL && i < json_array_size(emails); i++) {
		const char *e = json_string_value(json_array_get(emails, i));

		if (e != NULL && strcasecmp(e, mail) == 0) {
			*at = i;
			break;
		}
	}
	json_decref(att);
	return (OK);
}

int
training_requalification_check(struct tx *tx, struct request *req,
    json_t *attendees, const char *course_type, const char *family)
{
	struct stmt *st;
	json_t	    *certs, *left;
	char	     today[11], since[11], field[32];
	size_t	     i, j, at;
	int	     rc;

	if (strcmp(course_type, "requalification") != 0)
		return (OK);
	/* Valid, or expired at most a month ago (a calendar month in
	 * London: expired 2031-03-31 still counts all of 2031-04-30). */
	training_london_date(time_now_ms(), today);
	if (training_date_add(today, 0, -1, since) != 0)
		return (ERR_INTERNAL);
	/*
	 * Every attendee named needs one, matched by the email their
	 * certificate's attendee was named with (sealed: compared opened),
	 * whoever booked either: a holder cannot bring others along, and
	 * one certified on an employer's booking requalifies on their own.
	 */
	if ((certs = json_array()) == NULL)
		return (ERR_NOMEM);
	st = store_prepare(tx,
	    "SELECT attendee_id FROM certificates WHERE course_family = ? AND "
	    "status <> 'revoked' AND (expiry_date IS NULL OR expiry_date >= "
	    "?) ORDER BY issue_date DESC, id");
	store_bind_text(st, 1, family);
	store_bind_text(st, 2, since);
	while ((rc = store_step(st)) == STORE_ROW)
		json_array_append_new(
		    certs, json_string(store_col_text(st, 0)));
	store_finalize(st);
	rc = rc == STORE_DONE ? OK : rc;
	/* The emails still to match, by the attendee's index. */
	left = json_array();
	for (i = 0; left != NULL && i < json_array_size(attendees); i++)
		json_array_append(left,
		    json_object_get(json_array_get(attendees, i), "email"));
	if (left == NULL)
		rc = ERR_NOMEM;
	for (j = 0; rc == OK && j < json_array_size(certs); j++) {
		rc = holder_match(
		    tx, json_string_value(json_array_get(certs, j)), left, &at);
		if (rc == OK && at < json_array_size(left))
			json_array_set_new(left, at, json_null());
	}
	json_decref(certs);
	for (i = 0; rc == OK && i < json_array_size(left); i++)
		if (!json_is_null(json_array_get(left, i)))
			break;
	if (rc != OK || i == json_array_size(left)) {
		json_decref(left);
		return (rc);
	}
	json_decref(left);
	snprintf(field, sizeof(field), "attendees[%zu]", i);
	return (training_refuse(req, ERR_CONFLICT,
	    "REQUALIFICATION_NOT_ALLOWED", field, "no_certificate",
	    "a requalification course is booked for holders of a certificate "
	    "of its family that is valid or expired at most a month ago"));
}
