/*
 * The certificate PDF: see cert_pdf.h. The page is laid out on fixed
 * places (points, A4 landscape, origin bottom left); each piece of text is
 * fitted to its place by cert_text_fit (cert_text.c: the largest size that
 * fits, over as many lines as the place allows). What a person or staff
 * wrote (names, titles, the provider's lines) is cut at a character with
 * an ellipsis when it does not fit even at its place's smallest size; the
 * rest is refused. The fonts are config pdf_font and pdf_font_bold
 * (core/pdf_font.h).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hpdf.h>
#include <png.h>
#include <qrencode.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/pdf_font.h"
#include "training/cert_pdf.h"
#include "training/cert_pdf_int.h"

#define PAGE_W	   841.89f
#define PAGE_H	   595.28f
#define TEXT_W	   720.0f /* the centred lines */
#define QR_SIZE	   120.0f /* the QR code's side, quiet zone included */
#define QR_QUIET   4	  /* modules of white around it */
#define READ_CHUNK 65536

/* One render: its document and what libharu's error handler recorded. */
struct ctx {
	HPDF_Doc    pdf;
	HPDF_Page   page;
	HPDF_Font   regular, bold;
	HPDF_STATUS error, detail; /* the first error, 0 = none */
};

static void on_error(HPDF_STATUS, HPDF_STATUS, void *);
static int  doc_open(struct ctx *);
static int  hpdf_failed(const struct ctx *, const char *);
static int  draw_text(struct ctx *, HPDF_Font, const char *,
     const struct cert_place *, enum cert_field, const char **);
static void draw_frame(struct ctx *);
static int  draw_logo(
     struct ctx *, const unsigned char *, size_t, const char **);
static int draw_qr(struct ctx *, const char *, float, float);
static int draw_revoked(struct ctx *, const char *, const char **);
static int draw_page(struct ctx *, const struct cert_pdf_in *, const char **);
static int save(struct ctx *, struct buf *);

/* libharu's error handler: keep the first error; the caller checks. */
static void
on_error(HPDF_STATUS error, HPDF_STATUS detail, void *user)
{
	struct ctx *c = user;

	if (c->error == 0) {
		c->error = error;
		c->detail = detail;
	}
}

/* A new document in c, UTF-8, with the two fonts embedded. */
static int
doc_open(struct ctx *c)
{
	if ((c->pdf = HPDF_New(on_error, c)) == NULL)
		return (ERR_NOMEM);
	if (HPDF_SetCompressionMode(c->pdf, HPDF_COMP_ALL) != HPDF_OK)
		return (ERR_INTERNAL);
	if (pdf_font_load(c->pdf, &c->regular, &c->bold) != OK)
		return (ERR_UNAVAILABLE);
	if (HPDF_SetCurrentEncoder(c->pdf, "UTF-8") != HPDF_OK)
		return (ERR_INTERNAL);
	return (c->error == 0 ? OK : ERR_INTERNAL);
}

int
cert_pdf_render(const struct cert_pdf_in *in, struct buf *out, const char **why)
{
	struct ctx c;
	size_t	   len0 = out->len;
	int	   rc;

	memset(&c, 0, sizeof(c));
	*why = NULL;
	if ((rc = doc_open(&c)) != OK) {
		if (rc == ERR_UNAVAILABLE)
			*why = "the PDF fonts cannot be loaded (pdf_font, "
			       "pdf_font_bold)";
		else if (rc != ERR_NOMEM)
			rc = hpdf_failed(&c, "fonts");
		goto out;
	}
	if ((rc = draw_page(&c, in, why)) != OK)
		goto out;
	if (c.error != 0) {
		rc = hpdf_failed(&c, "page");
		goto out;
	}
	rc = save(&c, out);
out:
	if (rc != OK) {
		buf_truncate(out, len0);
		if (*why == NULL)
			*why = "the certificate PDF could not be made";
	}
	HPDF_Free(c.pdf);
	return (rc);
}

/* Log libharu's error codes (no personal data in them). */
static int
hpdf_failed(const struct ctx *c, const char *step)
{
	if (c->error == HPDF_FAILD_TO_ALLOC_MEM)
		return (ERR_NOMEM);
	log_error("event=cert_pdf_failed step=%s hpdf_error=0x%04lx "
		  "hpdf_detail=%lu",
	    step, (unsigned long)c->error, (unsigned long)c->detail);
	return (ERR_INTERNAL);
}

/*
 * Fit text to its place and draw it there, the last line ending in an
 * ellipsis when it was cut; ERR_INVALID naming field when it cannot fit.
 */
static int
draw_text(struct ctx *c, HPDF_Font font, const char *text,
    const struct cert_place *pl, enum cert_field f, const char **why)
{
	struct cert_fit fit;
	char		line[CERT_LINE_BYTES + sizeof(CERT_ELLIPSIS)];
	float		height, y, x;
	int		i, rc;

	rc = cert_text_fit(font, text, pl, &fit);
	if (c->error != 0)
		return (hpdf_failed(c, "measure"));
	if (rc != OK)
		return (cert_text_refuse(f, M_NO_FIT, why));
	height = fit.size * (1 + CERT_LEADING * (float)(fit.n - 1));
	HPDF_Page_BeginText(c->page);
	HPDF_Page_SetFontAndSize(c->page, font, fit.size);
	for (i = 0; i < fit.n; i++) {
		memcpy(line, text + fit.lines[i].off, fit.lines[i].len);
		line[fit.lines[i].len] = '\0';
		if (fit.cut && i == fit.n - 1)
			memcpy(line + fit.lines[i].len, CERT_ELLIPSIS,
			    sizeof(CERT_ELLIPSIS));
		y = pl->yc + height / 2 - 0.8f * fit.size -
		    (float)i * CERT_LEADING * fit.size;
		x = pl->centred ? pl->x - fit.lines[i].width / 2 : pl->x;
		HPDF_Page_TextOut(c->page, x, y, line);
	}
	HPDF_Page_EndText(c->page);
	return (c->error == 0 ? OK : hpdf_failed(c, "text"));
}

/* A double rule around the page. */
static void
draw_frame(struct ctx *c)
{
	HPDF_Page_SetRGBStroke(c->page, 0.09f, 0.31f, 0.40f);
	HPDF_Page_SetLineWidth(c->page, 2.5f);
	HPDF_Page_Rectangle(c->page, 18, 18, PAGE_W - 36, PAGE_H - 36);
	HPDF_Page_Stroke(c->page);
	HPDF_Page_SetLineWidth(c->page, 0.75f);
	HPDF_Page_Rectangle(c->page, 26, 26, PAGE_W - 52, PAGE_H - 52);
	HPDF_Page_Stroke(c->page);
}

/*
 * The logo at the top left, within 130 x 70 points, its proportions kept.
 * Decoded by libpng's simplified API (which returns its errors) onto
 * white, then given to libharu as raw RGB.
 */
static int
draw_logo(struct ctx *c, const unsigned char *png, size_t len, const char **why)
{
	png_image      im;
	png_color      white = { 255, 255, 255 };
	unsigned char *rgb = NULL;
	HPDF_Image     img;
	float	       w, h, scale;
	int	       rc = OK;

	if (len > CERT_PDF_LOGO_MAX)
		return (cert_text_refuse(F_LOGO, M_TOO_LONG, why));
	memset(&im, 0, sizeof(im));
	im.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_memory(&im, png, len))
		return (cert_text_refuse(F_LOGO, M_BAD, why));
	if (im.width == 0 || im.height == 0 ||
	    (uint64_t)im.width * im.height > CERT_PDF_LOGO_PIXELS) {
		png_image_free(&im);
		return (cert_text_refuse(F_LOGO, M_BAD, why));
	}
	im.format = PNG_FORMAT_RGB;
	if ((rgb = malloc(PNG_IMAGE_SIZE(im))) == NULL) {
		png_image_free(&im);
		return (ERR_NOMEM);
	}
	if (!png_image_finish_read(&im, &white, rgb, 0, NULL)) {
		png_image_free(&im);
		rc = cert_text_refuse(F_LOGO, M_BAD, why);
		goto out;
	}
	img = HPDF_LoadRawImageFromMem(
	    c->pdf, rgb, im.width, im.height, HPDF_CS_DEVICE_RGB, 8);
	if (img == NULL || c->error != 0) {
		rc = hpdf_failed(c, "logo");
		goto out;
	}
	w = (float)im.width;
	h = (float)im.height;
	scale = 130 / w < 70 / h ? 130 / w : 70 / h;
	HPDF_Page_DrawImage(
	    c->page, img, 50, PAGE_H - 50 - h * scale, w * scale, h * scale);
out:
	free(rgb);
	return (rc);
}

int
cert_pdf_logo_check(const unsigned char *png, size_t len, const char **why)
{
	png_image im;

	*why = NULL;
	if (len > CERT_PDF_LOGO_MAX)
		return (cert_text_refuse(F_LOGO, M_TOO_LONG, why));
	memset(&im, 0, sizeof(im));
	im.version = PNG_IMAGE_VERSION;
	if (len == 0 || !png_image_begin_read_from_memory(&im, png, len))
		return (cert_text_refuse(F_LOGO, M_BAD, why));
	png_image_free(&im);
	if (im.width == 0 || im.height == 0 ||
	    (uint64_t)im.width * im.height > CERT_PDF_LOGO_PIXELS)
		return (cert_text_refuse(F_LOGO, M_BAD, why));
	return (OK);
}

/*
 * The QR code of url (error correction M) as black rectangles, one per run
 * of dark modules in a row, in a QR_SIZE square whose lower left corner
 * is (x, y), a quiet zone of QR_QUIET modules inside it.
 */
static int
draw_qr(struct ctx *c, const char *url, float x, float y)
{
	QRcode *qr;
	float	mod;
	int	row, col, run, w;

	if ((qr = QRcode_encodeString(url, 0, QR_ECLEVEL_M, QR_MODE_8, 1)) ==
	    NULL) {
		log_error("event=cert_pdf_failed step=qr error=\"%s\"",
		    strerror(errno));
		return (errno == ENOMEM ? ERR_NOMEM : ERR_INTERNAL);
	}
	w = qr->width;
	mod = QR_SIZE / (float)(w + 2 * QR_QUIET);
	HPDF_Page_SetRGBFill(c->page, 0, 0, 0);
	for (row = 0; row < w; row++)
		for (col = 0; col < w; col += run) {
			for (run = 0; col + run < w &&
			     (qr->data[row * w + col + run] & 1);
			     run++)
				;
			if (run == 0) {
				run = 1;
				continue;
			}
			HPDF_Page_Rectangle(c->page,
			    x + (float)(QR_QUIET + col) * mod,
			    y + QR_SIZE - (float)(QR_QUIET + row + 1) * mod,
			    (float)run * mod, mod);
		}
	HPDF_Page_Fill(c->page);
	QRcode_free(qr);
	return (c->error == 0 ? OK : hpdf_failed(c, "qr"));
}

/* Check every field, then draw the page. */
static int
draw_page(struct ctx *c, const struct cert_pdf_in *in, const char **why)
{
	char provider[CERT_FIELD_BYTES], accreditation[CERT_FIELD_BYTES];
	char learner[CERT_FIELD_BYTES], qualification[CERT_FIELD_BYTES];
	char number[CERT_FIELD_BYTES], trainer[CERT_FIELD_BYTES];
	char start[CERT_DATE_SHOWN], end[CERT_DATE_SHOWN],
	    issue[CERT_DATE_SHOWN];
	char expiry[CERT_DATE_SHOWN], revoked[CERT_DATE_SHOWN], hours[64];
	char line[CERT_LINE_BYTES + 1];
	struct cert_place pl;
	int		  rc;

	if ((rc = cert_text_clean(
		 in->provider_name, provider, 1, F_PROVIDER, why)) != OK ||
	    (rc = cert_text_clean(in->accreditation, accreditation, 0,
		 F_ACCREDITATION, why)) != OK ||
	    (rc = cert_text_clean(
		 in->learner_name, learner, 1, F_LEARNER, why)) != OK ||
	    (rc = cert_text_clean(in->qualification, qualification, 1,
		 F_QUALIFICATION, why)) != OK ||
	    (rc = cert_text_date(
		 in->course_start, F_COURSE_START, start, why)) != OK ||
	    (rc = cert_text_date(in->course_end, F_COURSE_END, end, why)) !=
		OK ||
	    (rc = cert_text_clean(
		 in->certificate_number, number, 1, F_NUMBER, why)) != OK ||
	    (rc = cert_text_date(in->issue_date, F_ISSUE, issue, why)) != OK ||
	    (rc = cert_text_clean(
		 in->trainer_name, trainer, 1, F_TRAINER, why)) != OK ||
	    (rc = cert_text_url(in->verify_url, why)) != OK)
		return (rc);
	/* No expiry exactly when valid for 0 years: one that never ends. */
	if (in->validity_years == 0 && in->expiry_date == NULL)
		snprintf(expiry, sizeof(expiry), "Does not expire");
	else if ((rc = cert_text_date(
		      in->expiry_date, F_EXPIRY, expiry, why)) != OK)
		return (rc);
	if (in->revoked_date != NULL &&
	    (rc = cert_text_date(in->revoked_date, F_REVOKED, revoked, why)) !=
		OK)
		return (rc);
	/* Dates as YYYY-MM-DD compare as strings. */
	if (strcmp(in->course_end, in->course_start) < 0)
		return (cert_text_refuse(F_COURSE_END, M_BAD, why));
	if (in->expiry_date != NULL &&
	    strcmp(in->expiry_date, in->issue_date) <= 0)
		return (cert_text_refuse(F_EXPIRY, M_BAD, why));
	if (in->course_minutes < 1 || in->course_minutes > CERT_PDF_MINUTES_MAX)
		return (cert_text_refuse(F_COURSE_MINUTES, M_BAD, why));
	if (in->validity_years < 0 || in->validity_years > CERT_PDF_YEARS_MAX ||
	    (in->validity_years == 0) != (in->expiry_date == NULL))
		return (cert_text_refuse(F_YEARS, M_BAD, why));

	if ((c->page = HPDF_AddPage(c->pdf)) == NULL ||
	    HPDF_Page_SetSize(
		c->page, HPDF_PAGE_SIZE_A4, HPDF_PAGE_LANDSCAPE) != HPDF_OK)
		return (hpdf_failed(c, "page"));
	draw_frame(c);
	if (in->logo_png != NULL && in->logo_png_len > 0 &&
	    (rc = draw_logo(c, in->logo_png, in->logo_png_len, why)) != OK)
		return (rc);

	HPDF_Page_SetRGBFill(c->page, 0.09f, 0.31f, 0.40f);
	pl = (struct cert_place){ PAGE_W / 2, 530, 440, 32, 20, 8, 2, 1, 1 };
	if ((rc = draw_text(c, c->bold, provider, &pl, F_PROVIDER, why)) != OK)
		return (rc);
	HPDF_Page_SetRGBFill(c->page, 0.2f, 0.2f, 0.2f);
	pl = (struct cert_place){ PAGE_W / 2, 500, 440, 20, 9, 6, 2, 1, 1 };
	if (accreditation[0] != '\0' &&
	    (rc = draw_text(c, c->regular, accreditation, &pl, F_ACCREDITATION,
		 why)) != OK)
		return (rc);
	HPDF_Page_SetRGBFill(c->page, 0.09f, 0.31f, 0.40f);
	pl = (struct cert_place){ PAGE_W / 2, 462, TEXT_W, 30, 30, 30, 1, 1 };
	if ((rc = draw_text(c, c->bold, "Certificate of Competence", &pl,
		 F_PROVIDER, why)) != OK)
		return (rc);

	HPDF_Page_SetRGBFill(c->page, 0.1f, 0.1f, 0.1f);
	pl = (struct cert_place){ PAGE_W / 2, 430, TEXT_W, 13, 13, 13, 1, 1 };
	if ((rc = draw_text(c, c->regular, "This is to certify that", &pl,
		 F_LEARNER, why)) != OK)
		return (rc);
	pl = (struct cert_place){ PAGE_W / 2, 392, TEXT_W, 58, 30, 8, 3, 1, 1 };
	if ((rc = draw_text(c, c->bold, learner, &pl, F_LEARNER, why)) != OK)
		return (rc);
	pl = (struct cert_place){ PAGE_W / 2, 350, TEXT_W, 13, 13, 13, 1, 1 };
	if ((rc = draw_text(c, c->regular,
		 "attended the course and was assessed as competent in", &pl,
		 F_QUALIFICATION, why)) != OK)
		return (rc);
	pl = (struct cert_place){ PAGE_W / 2, 317, TEXT_W, 48, 22, 8, 3, 1, 1 };
	if ((rc = draw_text(
		 c, c->bold, qualification, &pl, F_QUALIFICATION, why)) != OK)
		return (rc);

	cert_text_minutes(in->course_minutes, hours, sizeof(hours));
	if (strcmp(in->course_start, in->course_end) == 0)
		snprintf(line, sizeof(line), "Course date: %s (%s of training)",
		    start, hours);
	else
		snprintf(line, sizeof(line),
		    "Course dates: %s to %s (%s of training)", start, end,
		    hours);
	pl = (struct cert_place){ PAGE_W / 2, 274, TEXT_W, 11, 11, 11, 1, 1 };
	if ((rc = draw_text(c, c->regular, line, &pl, F_COURSE_START, why)) !=
	    OK)
		return (rc);
	snprintf(line, sizeof(line),
	    "This certificate is valid for %d year%s from the date of issue.",
	    in->validity_years, in->validity_years == 1 ? "" : "s");
	pl.yc = 254;
	if (in->validity_years > 0 &&
	    (rc = draw_text(c, c->regular, line, &pl, F_YEARS, why)) != OK)
		return (rc);
	pl = (struct cert_place){ PAGE_W / 2, 234, TEXT_W, 22, 9, 6, 2, 1, 1 };
	if (in->statement != NULL && in->statement[0] != '\0' &&
	    (rc = draw_text(c, c->regular, in->statement, &pl, F_YEARS, why)) !=
		OK)
		return (rc);

	{
		static const char *const     labels[] = { "Certificate number:",
			    "Date of issue:", "Expiry date:", "Trainer:" };
		static const enum cert_field fields[] = { F_NUMBER, F_ISSUE,
			F_EXPIRY, F_TRAINER };
		const char *values[] = { number, issue, expiry, trainer };
		size_t	    i;

		for (i = 0; i < 4; i++) {
			pl = (struct cert_place){ 60, 205 - 28 * (float)i, 135,
				11, 11, 11, 1, 0 };
			if ((rc = draw_text(c, c->bold, labels[i], &pl,
				 fields[i], why)) != OK)
				return (rc);
			pl = (struct cert_place){ 200, 205 - 28 * (float)i, 440,
				26, 11, 6, 2, 0, 1 };
			if ((rc = draw_text(c, c->regular, values[i], &pl,
				 fields[i], why)) != OK)
				return (rc);
		}
	}
	snprintf(line, sizeof(line), "Verify this certificate at %s",
	    in->verify_url);
	pl = (struct cert_place){ 60, 88, 580, 10, 10, 5, 1, 0 };
	if ((rc = draw_text(c, c->regular, line, &pl, F_URL, why)) != OK)
		return (rc);
	if ((rc = draw_qr(c, in->verify_url, PAGE_W - 60 - QR_SIZE, 85)) != OK)
		return (rc);
	HPDF_Page_SetRGBFill(c->page, 0.1f, 0.1f, 0.1f);
	pl = (struct cert_place){ PAGE_W - 60 - QR_SIZE / 2, 76, QR_SIZE, 8, 8,
		8, 1, 1 };
	if ((rc = draw_text(
		 c, c->regular, "Scan to verify", &pl, F_URL, why)) != OK)
		return (rc);
	return (in->revoked_date != NULL ? draw_revoked(c, revoked, why) : OK);
}

/*
 * A revoked certificate: a line in red above the provider's name, then
 * REVOKED across the page from lower left to upper right, large and
 * translucent red over everything drawn, so that no part of the page can
 * pass for a valid certificate.
 */
static int
draw_revoked(struct ctx *c, const char *date, const char **why)
{
	static const char word[] = "REVOKED";
	const float	  size = 120, a = atanf(PAGE_H / PAGE_W);
	struct cert_place pl;
	HPDF_ExtGState	  gs;
	char		  line[CERT_LINE_BYTES + 1];
	float		  w, x, y;
	int		  rc;

	HPDF_Page_SetRGBFill(c->page, 0.75f, 0.05f, 0.05f);
	snprintf(line, sizeof(line),
	    "REVOKED on %s: this certificate is not valid", date);
	pl = (struct cert_place){ PAGE_W / 2, 556, 560, 13, 13, 13, 1, 1 };
	if ((rc = draw_text(c, c->bold, line, &pl, F_REVOKED, why)) != OK)
		return (rc);
	if ((gs = HPDF_CreateExtGState(c->pdf)) == NULL ||
	    HPDF_ExtGState_SetAlphaFill(gs, 0.3f) != HPDF_OK)
		return (hpdf_failed(c, "revoked"));
	HPDF_Page_GSave(c->page);
	HPDF_Page_SetExtGState(c->page, gs);
	HPDF_Page_SetRGBFill(c->page, 0.75f, 0.05f, 0.05f);
	HPDF_Page_BeginText(c->page);
	HPDF_Page_SetFontAndSize(c->page, c->bold, size);
	w = HPDF_Page_TextWidth(c->page, word);
	/* The word's middle (its width's half, a third of the size up) on
	 * the page's centre, along the rotated baseline. */
	x = PAGE_W / 2 - w / 2 * cosf(a) + size / 3 * sinf(a);
	y = PAGE_H / 2 - w / 2 * sinf(a) - size / 3 * cosf(a);
	HPDF_Page_SetTextMatrix(
	    c->page, cosf(a), sinf(a), -sinf(a), cosf(a), x, y);
	HPDF_Page_ShowText(c->page, word);
	HPDF_Page_EndText(c->page);
	HPDF_Page_GRestore(c->page);
	return (c->error == 0 ? OK : hpdf_failed(c, "revoked"));
}

/* The document, saved to libharu's memory stream, appended to out. */
static int
save(struct ctx *c, struct buf *out)
{
	unsigned char chunk[READ_CHUNK];
	HPDF_UINT32   size, done = 0, n;
	HPDF_STATUS   st;
	int	      rc;

	if (HPDF_SaveToStream(c->pdf) != HPDF_OK || c->error != 0)
		return (hpdf_failed(c, "save"));
	size = HPDF_GetStreamSize(c->pdf);
	if ((rc = buf_reserve(out, size)) != OK)
		return (rc);
	while (done < size) {
		n = sizeof(chunk);
		st = HPDF_ReadFromStream(c->pdf, chunk, &n);
		if ((st != HPDF_OK && st != HPDF_STREAM_EOF) || n == 0)
			break;
		if ((rc = buf_append(out, chunk, n)) != OK)
			return (rc);
		done += n;
		if (st == HPDF_STREAM_EOF)
			break;
	}
	if (done != size) {
		c->error = c->error != 0 ? c->error : HPDF_STREAM_EOF;
		return (hpdf_failed(c, "read"));
	}
	return (OK);
}
