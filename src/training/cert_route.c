/*
 * GET /v1/certificates/{id}/pdf (issue 17 item 3): a certificate as its
 * PDF (cert_pdf.h), for its holder, the booker who owns the row
 * (certificates:read:own), and for staff who read every certificate
 * (certificates:read:all). To anyone else 404, as for a certificate that
 * does not exist: the row is read within the caller's read scope
 * (resource_load), as GET /v1/certificates/{id} reads it.
 *
 * What the page shows comes from the certificate (holder_name, number,
 * issue and expiry dates, revoked_at), its schedule (the course's first
 * and last London days), its course (name, duration_hours), the
 * schedule's trainer (their name through the accounts module's contact
 * hook, else their trainer_code) and the settings business_name,
 * certificate_logo_png and certificate_accreditation (no line unless
 * set: no accreditation is ever claimed otherwise). Valid for the whole
 * years from issue to expiry (no expiry: never expires). The
 * verification URL is public_url + /v1/certificate-verifications/ + the
 * token, as text and as the QR code.
 *
 * A revoked certificate is still served, marked REVOKED across the page
 * and with the day it was revoked (cert_pdf.h): its holder and staff may
 * need to see what was revoked, and its QR code says revoked too. One
 * whose holder was erased answers 404 CERTIFICATE_NOT_FOUND, as its
 * verification does: the name is gone.
 *
 * Nothing is kept: each PDF is made in memory when asked for (about 30
 * ms, so on the slow pool) and freed once sent; no cache, no file. The
 * ETag is a hash of everything the page shows and of the renderer's
 * version (CERT_PAGE_VERSION), so If-None-Match is answered 304 without
 * making it; Cache-Control private, no-cache (a browser may keep it but
 * asks again each time, so a revocation shows at once). The file is
 * certificate-<number>.pdf (Content-Disposition attachment; letters,
 * digits and '-' only).
 *
 * Every PDF sent is audited (certificates.pdf.read: the caller, the row)
 * in a write transaction after it is made and before it is sent: no
 * record, no PDF. A 304 sends nothing of the person and is not.
 *
 * A name, title or setting too long for its place is drawn smaller, then
 * cut at a character with an ellipsis (cert_pdf.h): it is read here whole
 * (to twice what the page prints, cut only between characters), so the
 * renderer sees that it is long. A logo setting the PDF cannot draw
 * answers 409 CERTIFICATE_NOT_PRINTABLE naming it; fonts that cannot be
 * loaded 503.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "resource/audit.h"
#include "resource/hooks.h"
#include "resource/resource.h"
#include "store/store.h"
#include "training/cert_pdf.h"
#include "training/training_int.h"

/* Change it when the page's layout changes: ETags made before differ. */
#define CERT_PAGE_VERSION "cert-page-4"
#define VERIFY_PATH	  "/v1/certificate-verifications/"
/* Longer than the page prints, so that the renderer cuts a long name
 * where it should, with an ellipsis. */
#define NAME_BYTES (2 * CERT_PDF_TEXT_MAX + 2)

/* One request: what the page shows, read in one transaction. */
struct cert_page {
	struct request	 *req;
	struct principal *who;
	enum scope	  scope;
	const char	 *id;
	char		  learner[NAME_BYTES], qualification[NAME_BYTES];
	char		  trainer[NAME_BYTES], number[NAME_BYTES];
	char	       start[11], end[11], issue[11], expiry[11], revoked[11];
	char	       url[CERT_PDF_URL_MAX + 2], status[16];
	char	       family[24], statement[256];
	char	      *provider, *accreditation; /* malloc'd, or NULL */
	unsigned char *logo;			 /* malloc'd, or NULL */
	size_t	       logo_len;
	int	       minutes, years, has_expiry, is_revoked;
};

static int  page_tx(struct tx *, void *);
static void page_clear(struct cert_page *);
static int  page_row(struct tx *, struct cert_page *);
static int  page_schedule(
     struct tx *, struct cert_page *, const char *, const char *);
static void page_trainer(
    struct tx *, struct cert_page *, const char *, const char *);
static int  page_settings(struct tx *, struct cert_page *);
static void page_etag(const struct cert_page *, char *, size_t);
static int  audit_tx(struct tx *, void *);
static void disposition(const char *, char *, size_t);

void
training_certificate_pdf(struct request *req)
{
	struct cert_page   pg;
	struct cert_pdf_in in;
	struct buf	   pdf;
	const char	  *why = NULL, *inm;
	char		   etag[64], cd[160], *data;
	size_t		   len;
	int		   rc;

	memset(&pg, 0, sizeof(pg));
	pg.req = req;
	pg.who = req->caller;
	pg.id = http_param(req, "id");
	pg.scope = resource_scope(req->db, pg.who, "certificates", "read");
	if (pg.id == NULL || !uuid_valid(pg.id) || pg.scope == SCOPE_NONE) {
		http_problem(req, ERR_NOT_FOUND, "CERTIFICATE_NOT_FOUND",
		    "No such certificate.");
		return;
	}
	if ((rc = store_run(req->db, STORE_TX_READ, page_tx, &pg)) != OK) {
		if (rc == ERR_NOT_FOUND)
			http_problem(req, rc, "CERTIFICATE_NOT_FOUND",
			    "No such certificate.");
		else
			http_problem(
			    req, rc, NULL, "The certificate was not read.");
		goto out;
	}
	page_etag(&pg, etag, sizeof(etag));
	if ((inm = http_header(req, "If-None-Match")) != NULL &&
	    resource_if_match(inm, etag) && strcmp(inm, "*") != 0) {
		http_header_add(req, "ETag", etag);
		http_header_add(req, "Cache-Control", "private, no-cache");
		http_send(req, 304, NULL, NULL, 0);
		goto out;
	}

	memset(&in, 0, sizeof(in));
	in.provider_name = pg.provider;
	in.logo_png = pg.logo;
	in.logo_png_len = pg.logo_len;
	in.accreditation = pg.accreditation;
	in.learner_name = pg.learner;
	in.qualification = pg.qualification;
	in.course_start = pg.start;
	in.course_end = pg.end;
	in.course_minutes = pg.minutes;
	in.certificate_number = pg.number;
	in.issue_date = pg.issue;
	in.expiry_date = pg.has_expiry ? pg.expiry : NULL;
	in.validity_years = pg.years;
	in.trainer_name = pg.trainer;
	in.verify_url = pg.url;
	in.revoked_date = pg.is_revoked ? pg.revoked : NULL;
	in.statement = pg.statement;
	buf_init(&pdf, CERT_PDF_MAX);
	if ((rc = cert_pdf_render(&in, &pdf, &why)) != OK) {
		buf_free(&pdf);
		if (rc == ERR_INVALID) {
			log_warn("event=certificate_not_printable "
				 "certificate_id=%s why=\"%s\"",
			    pg.id, why);
			http_problem(req, ERR_CONFLICT,
			    "CERTIFICATE_NOT_PRINTABLE",
			    "The certificate cannot be printed: %s.", why);
		} else
			http_problem(req, rc, NULL,
			    "The certificate's PDF was not made.");
		goto out;
	}
	/* A read transaction: the row is queued (audit_read). */
	if ((rc = store_run(req->db, STORE_TX_READ, audit_tx, &pg)) != OK) {
		buf_free(&pdf);
		http_problem(req, rc, NULL, "The certificate was not read.");
		goto out;
	}
	disposition(pg.number, cd, sizeof(cd));
	http_header_add(req, "Content-Disposition", cd);
	http_header_add(req, "ETag", etag);
	http_header_add(req, "Cache-Control", "private, no-cache");
	data = buf_take(&pdf, &len);
	http_send_take(req, 200, "application/pdf", data, len);
out:
	page_clear(&pg);
}

static void
page_clear(struct cert_page *pg)
{
	free(pg->provider);
	free(pg->accreditation);
	free(pg->logo);
	pg->provider = pg->accreditation = NULL;
	pg->logo = NULL;
	pg->logo_len = 0;
}

/* store_run may run it again: each try starts afresh. */
static int
page_tx(struct tx *tx, void *arg)
{
	struct cert_page *pg = arg;
	int		  rc;

	page_clear(pg);
	if ((rc = page_row(tx, pg)) != OK)
		return (rc);
	return (page_settings(tx, pg));
}

/* The certificate within the caller's scope, then what it names. */
static int
page_row(struct tx *tx, struct cert_page *pg)
{
	struct resource_ctx ctx;
	json_t		   *row = NULL;
	const char	   *name, *expiry, *revoked_at;
	char		    course[UUID_STR_LEN], schedule[UUID_STR_LEN];
	int64_t		    at;
	int		    rc, iy, ey, m, d;

	memset(&ctx, 0, sizeof(ctx));
	ctx.req = pg->req;
	ctx.tx = tx;
	ctx.res = &certificates_resource;
	ctx.who = pg->who;
	ctx.scope = pg->scope;
	if ((rc = resource_load(&ctx, pg->id, &row)) != OK)
		return (rc);
	/* Erased: the name is gone, and so is the certificate. */
	if ((name = json_string_value(json_object_get(row, "holder_name"))) ==
	    NULL) {
		json_decref(row);
		return (ERR_NOT_FOUND);
	}
	utf8_copy(pg->learner, sizeof(pg->learner), name);
	strlcpy_cb(pg->number,
	    json_string_value(json_object_get(row, "certificate_number")),
	    sizeof(pg->number));
	strlcpy_cb(pg->issue,
	    json_string_value(json_object_get(row, "issue_date")),
	    sizeof(pg->issue));
	strlcpy_cb(pg->status,
	    json_string_value(json_object_get(row, "status")),
	    sizeof(pg->status));
	strlcpy_cb(course, json_string_value(json_object_get(row, "course_id")),
	    sizeof(course));
	strlcpy_cb(schedule,
	    json_string_value(json_object_get(row, "schedule_id")),
	    sizeof(schedule));
	snprintf(pg->url, sizeof(pg->url), "%.*s" VERIFY_PATH "%s",
	    (int)(strlen(config.public_url) -
		(config.public_url[0] != '\0' &&
		    config.public_url[strlen(config.public_url) - 1] == '/')),
	    config.public_url,
	    json_string_value(json_object_get(row, "verification_token")));
	/* Valid for the whole years from issue to expiry (29 February to
	 * 28 February is still the years the course gives). */
	pg->years = 0;
	if ((expiry = json_string_value(json_object_get(row, "expiry_date"))) !=
		NULL &&
	    training_date_parse(expiry, &ey, &m, &d) == 0 &&
	    training_date_parse(pg->issue, &iy, &m, &d) == 0) {
		strlcpy_cb(pg->expiry, expiry, sizeof(pg->expiry));
		pg->has_expiry = 1;
		pg->years = ey - iy;
	}
	pg->is_revoked = strcmp(pg->status, "revoked") == 0;
	revoked_at = json_string_value(json_object_get(row, "revoked_at"));
	if (pg->is_revoked) {
		if (revoked_at == NULL || time_parse_iso(revoked_at, &at) != 0)
			at = time_now_ms();
		training_london_date(at, pg->revoked);
	}
	json_decref(row);
	return (page_schedule(tx, pg, schedule, course));
}

/* The course's days, length and name, and the schedule's trainer. */
static int
page_schedule(struct tx *tx, struct cert_page *pg, const char *schedule,
    const char *course)
{
	struct stmt *st;
	char	     user[UUID_STR_LEN] = "", code[TRAINING_NAME_MAX + 1] = "";
	int	     rc;

	st = store_prepare(tx,
	    "SELECT s.start_time, s.end_time, c.name, c.duration_hours, "
	    "t.user_id, t.trainer_code, CASE WHEN c.course_type IN ('EFAW', "
	    "'FAW', 'Paediatric') THEN c.course_type ELSE "
	    "COALESCE(c.requalifies, '') END FROM course_schedules s JOIN "
	    "training_courses c ON c.id = ? LEFT JOIN trainers t ON t.id = "
	    "s.trainer_id WHERE s.id = ?");
	store_bind_text(st, 1, course);
	store_bind_text(st, 2, schedule);
	if ((rc = store_step(st)) == STORE_ROW) {
		training_london_date(store_col_int64(st, 0), pg->start);
		training_london_date(store_col_int64(st, 1), pg->end);
		utf8_copy(pg->qualification, sizeof(pg->qualification),
		    store_col_text(st, 2));
		pg->minutes = (int)store_col_int64(st, 3) * 60;
		strlcpy_cb(
		    pg->family, store_col_text(st, 6), sizeof(pg->family));
		if (!store_col_is_null(st, 4)) {
			strlcpy_cb(user, store_col_text(st, 4), sizeof(user));
			strlcpy_cb(code, store_col_text(st, 5), sizeof(code));
		}
		rc = OK;
	} else if (rc == STORE_DONE)
		rc = ERR_INTERNAL; /* the references hold it */
	store_finalize(st);
	if (rc == OK)
		page_trainer(tx, pg, user, code);
	return (rc);
}

/*
 * The trainer as the accounts module knows them, first and last names;
 * their trainer_code when it knows no name (an account made without one,
 * or erased).
 */
static void
page_trainer(
    struct tx *tx, struct cert_page *pg, const char *user, const char *code)
{
	struct person_contact pc;
	size_t		      n;

	memset(&pc, 0, sizeof(pc));
	utf8_copy(pg->trainer, sizeof(pg->trainer), code);
	if (user[0] == '\0' || hooks_contact(tx, user, 1, &pc) != OK)
		return;
	/* Cut, if at all, between characters: the renderer cuts the rest. */
	if (pc.first_name != NULL || pc.last_name != NULL)
		utf8_copy(pg->trainer, sizeof(pg->trainer),
		    pc.first_name != NULL ? pc.first_name : pc.last_name);
	if (pc.first_name != NULL && pc.last_name != NULL &&
	    (n = strlen(pg->trainer)) + 2 < sizeof(pg->trainer)) {
		pg->trainer[n] = ' ';
		utf8_copy(pg->trainer + n + 1, sizeof(pg->trainer) - n - 1,
		    pc.last_name);
	}
	hooks_contact_clear(&pc);
}

/*
 * The UK first-aid statements, short: compliance with the Health and
 * Safety (First-Aid) Regulations 1981 (workplace courses) or the EYFS
 * (paediatric) only when a setting says the business may claim it
 * (certificate_hse_statement, certificate_eyfs_statement: false unless
 * an admin sets them, like the accreditation); the HSE's advice of an
 * annual refresher on every certificate that expires.
 */
static void
statement_add(struct cert_page *pg, const char *text)
{
	size_t n = strlen(pg->statement);

	snprintf(pg->statement + n, sizeof(pg->statement) - n, "%s%s",
	    n > 0 ? " " : "", text);
}

static int
page_statement(struct tx *tx, struct cert_page *pg)
{
	int rc, hse = 0, eyfs = 0;

	pg->statement[0] = '\0';
	if ((rc = training_setting_bool(
		 tx, "certificate_hse_statement", 0, &hse)) != OK ||
	    (rc = training_setting_bool(
		 tx, "certificate_eyfs_statement", 0, &eyfs)) != OK)
		return (rc);
	if (hse &&
	    (strcmp(pg->family, "EFAW") == 0 || strcmp(pg->family, "FAW") == 0))
		statement_add(pg,
		    "This course meets the requirements of the Health and "
		    "Safety (First-Aid) Regulations 1981.");
	if (eyfs && strcmp(pg->family, "Paediatric") == 0)
		statement_add(pg,
		    "This course meets the paediatric first aid requirements "
		    "of the EYFS statutory framework.");
	if (pg->has_expiry)
		statement_add(
		    pg, "The HSE recommends annual refresher training.");
	return (OK);
}

/* The provider, its accreditation line and logo, as the settings say. */
static int
page_settings(struct tx *tx, struct cert_page *pg)
{
	char  *b64 = NULL;
	size_t n;
	int    rc;

	if ((rc = page_statement(tx, pg)) != OK)
		return (rc);

	if ((rc = training_setting_dup(tx, "business_name", &pg->provider)) !=
		OK &&
	    rc != ERR_NOT_FOUND)
		return (rc);
	if ((rc = training_setting_dup(
		 tx, "certificate_accreditation", &pg->accreditation)) != OK &&
	    rc != ERR_NOT_FOUND)
		return (rc);
	if ((rc = training_setting_dup(tx, "certificate_logo_png", &b64)) ==
	    ERR_NOT_FOUND)
		return (OK);
	if (rc != OK)
		return (rc);
	n = strlen(b64);
	if ((pg->logo = malloc(n / 4 * 3 + 3)) == NULL) {
		free(b64);
		return (ERR_NOMEM);
	}
	/* Checked when it was set (png_base64); should it not read now, the
	 * certificate goes without rather than not at all. */
	if (sodium_base642bin(pg->logo, n / 4 * 3 + 3, b64, n, NULL,
		&pg->logo_len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
		log_warn("event=certificate_logo_unreadable");
		free(pg->logo);
		pg->logo = NULL;
		pg->logo_len = 0;
	}
	free(b64);
	return (OK);
}

/* A weak ETag: a hash of everything the page shows. */
static void
page_etag(const struct cert_page *pg, char *out, size_t size)
{
	crypto_generichash_state h;
	unsigned char		 d[16];
	char			 hex[33], num[32];
	const char *const	 parts[] = { CERT_PAGE_VERSION, pg->provider,
		       pg->accreditation, pg->learner, pg->qualification, pg->start,
		       pg->end, pg->number, pg->issue,
		       pg->has_expiry ? pg->expiry : "", pg->trainer, pg->url,
		       pg->is_revoked ? pg->revoked : "", pg->statement };
	size_t			 i;

	crypto_generichash_init(&h, NULL, 0, sizeof(d));
	for (i = 0; i < NELEM(parts); i++)
		crypto_generichash_update(&h,
		    (const unsigned char *)(parts[i] != NULL ? parts[i] : ""),
		    strlen(parts[i] != NULL ? parts[i] : "") + 1);
	snprintf(num, sizeof(num), "%d %d", pg->minutes, pg->years);
	crypto_generichash_update(
	    &h, (const unsigned char *)num, strlen(num) + 1);
	if (pg->logo != NULL)
		crypto_generichash_update(&h, pg->logo, pg->logo_len);
	crypto_generichash_final(&h, d, sizeof(d));
	sodium_bin2hex(hex, sizeof(hex), d, sizeof(d));
	snprintf(out, size, "W/\"%s\"", hex);
}

static int
audit_tx(struct tx *tx, void *arg)
{
	struct cert_page *pg = arg;
	json_t		 *changes;
	int		  rc;

	if ((changes = json_pack("{s:s}", "status", pg->status)) == NULL)
		return (ERR_NOMEM);
	rc = audit_read(tx, pg->who, pg->req, "certificates.pdf.read",
	    "certificates", pg->id, changes);
	json_decref(changes);
	return (rc);
}

/* attachment; filename="certificate-<number>.pdf", the number's letters,
 * digits and '-' kept, anything else '_'. */
static void
disposition(const char *number, char *out, size_t size)
{
	char   safe[64];
	size_t i;

	for (i = 0; number[i] != '\0' && i < sizeof(safe) - 1; i++)
		safe[i] = (number[i] >= 'A' && number[i] <= 'Z') ||
			(number[i] >= 'a' && number[i] <= 'z') ||
			(number[i] >= '0' && number[i] <= '9') ||
			number[i] == '-'
		    ? number[i]
		    : '_';
	safe[i] = '\0';
	snprintf(
	    out, size, "attachment; filename=\"certificate-%s.pdf\"", safe);
}
