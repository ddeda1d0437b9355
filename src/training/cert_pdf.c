/*
 * The certificate PDF: see cert_pdf.h. The page is laid out on fixed
 * places (points, A4 landscape, origin bottom left); each piece of text is
 * fitted to its place by fit_text (the largest size that fits, over as
 * many lines as the place allows) and refused when it cannot fit.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hpdf.h>
#include <png.h>
#include <qrencode.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "training/cert_pdf.h"

#define PAGE_W	    841.89f
#define PAGE_H	    595.28f
#define TEXT_W	    720.0f /* the centred lines */
#define LEADING	    1.2f   /* line height / font size */
#define FIT_LINES   3	   /* lines a field may take at most */
#define QR_SIZE	    120.0f /* the QR code's side, quiet zone included */
#define QR_QUIET    4	   /* modules of white around it */
#define READ_CHUNK  65536
#define DATE_LEN    10 /* YYYY-MM-DD */
#define DATE_SHOWN  32 /* "30 September 2026" */
#define FIELD_BYTES (CERT_PDF_TEXT_MAX + 1)
#define LINE_BYTES  640 /* a line made of a field and words around it */

/* One render: its document and what libharu's error handler recorded. */
struct ctx {
	HPDF_Doc    pdf;
	HPDF_Page   page;
	HPDF_Font   regular, bold;
	HPDF_STATUS error, detail; /* the first error, 0 = none */
};

/* A line of a fitted field: bytes off..off+len of the text. */
struct line {
	size_t off, len;
	float  width; /* points at the fitted size */
};

struct fit {
	float	    size;
	int	    n;
	struct line lines[FIT_LINES];
};

/* Where and how a field is drawn. */
struct place {
	float x;      /* left edge, or the centre when centred */
	float yc;     /* the vertical middle of the lines */
	float width;  /* available */
	float height; /* available to the lines, from the first's top */
	float max_size, min_size;
	int   max_lines;
	int   centred;
};

/* The fields, for the messages that name them. */
enum field {
	F_PROVIDER,
	F_ACCREDITATION,
	F_LEARNER,
	F_QUALIFICATION,
	F_COURSE_START,
	F_COURSE_END,
	F_COURSE_MINUTES,
	F_NUMBER,
	F_ISSUE,
	F_EXPIRY,
	F_YEARS,
	F_TRAINER,
	F_URL,
	F_LOGO,
	F_COUNT
};

/* What can be wrong with a field. */
enum fault { M_REQUIRED, M_TOO_LONG, M_NOT_UTF8, M_NO_FIT, M_BAD, M_COUNT };

#define MESSAGES(f, bad)                                                       \
	{                                                                      \
		f " is required", f " is too long", f " is not UTF-8",         \
		    f " does not fit on the certificate", f " " bad            \
	}

static const char *const messages[F_COUNT][M_COUNT] = {
	MESSAGES("provider_name", ""),
	MESSAGES("accreditation", ""),
	MESSAGES("learner_name", ""),
	MESSAGES("qualification", ""),
	MESSAGES("course_start", "is not a date (YYYY-MM-DD)"),
	MESSAGES("course_end",
	    "is not a date (YYYY-MM-DD) on or after "
	    "course_start"),
	MESSAGES("course_minutes", "is out of range"),
	MESSAGES("certificate_number", ""),
	MESSAGES("issue_date", "is not a date (YYYY-MM-DD)"),
	MESSAGES("expiry_date",
	    "is not a date (YYYY-MM-DD) after "
	    "issue_date"),
	MESSAGES("validity_years", "is out of range"),
	MESSAGES("trainer_name", ""),
	MESSAGES("verify_url", "is not an http(s) URL of printable ASCII"),
	MESSAGES("logo_png",
	    "is not a PNG image of a size that fits the "
	    "bounds"),
};

static void   on_error(HPDF_STATUS, HPDF_STATUS, void *);
static int    font_check(const char *, const char *, const char **);
static int    fonts_get(char *, char *, size_t);
static int    doc_open(struct ctx *, const char *, const char *);
static int    hpdf_failed(const struct ctx *, const char *);
static size_t utf8_next(const unsigned char *, size_t, uint32_t *);
static int    unicode_space(uint32_t);
static int    refuse(enum field, enum fault, const char **);
static int    clean_text(const char *, char *, int, enum field, const char **);
static int    check_date(const char *, enum field, char *, const char **);
static int    check_url(const char *, const char **);
static void   format_minutes(int, char *, size_t);
static int    fit_text(
       struct ctx *, HPDF_Font, const char *, const struct place *, struct fit *);
static int  wrap(const size_t *, const unsigned *, const int *, size_t, float,
     int, struct fit *);
static int  draw_text(struct ctx *, HPDF_Font, const char *,
     const struct place *, enum field, const char **);
static void draw_frame(struct ctx *);
static int  draw_logo(
     struct ctx *, const unsigned char *, size_t, const char **);
static int draw_qr(struct ctx *, const char *, float, float);
static int draw_page(struct ctx *, const struct cert_pdf_in *, const char **);
static int save(struct ctx *, struct buf *);

static pthread_mutex_t fonts_lock = PTHREAD_MUTEX_INITIALIZER;
static char	       font_regular[PATH_MAX], font_bold[PATH_MAX];

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

int
cert_pdf_fonts_load(const char *regular, const char *bold, const char **why)
{
	int rc;

	if ((rc = font_check("certificate_font", regular, why)) != OK ||
	    (rc = font_check("certificate_font_bold", bold, why)) != OK)
		return (rc);
	pthread_mutex_lock(&fonts_lock);
	strlcpy_cb(font_regular, regular, sizeof(font_regular));
	strlcpy_cb(font_bold, bold, sizeof(font_bold));
	pthread_mutex_unlock(&fonts_lock);
	return (OK);
}

/* The file at path is a TrueType font libharu loads and embeds. */
static int
font_check(const char *setting, const char *path, const char **why)
{
	struct ctx    c;
	unsigned char magic[4];
	int	      fd, e;
	ssize_t	      n;

	if (path == NULL || *path == '\0' || strlen(path) >= PATH_MAX) {
		*why = strcmp(setting, "certificate_font") == 0
		    ? "certificate_font: no font file named"
		    : "certificate_font_bold: no font file named";
		return (ERR_CONFIG);
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		e = errno;
		log_error("event=cert_font_missing setting=%s path=\"%s\" "
			  "error=\"%s\"",
		    setting, path, strerror(e));
		*why = strcmp(setting, "certificate_font") == 0
		    ? "certificate_font: cannot open the font file (is "
		      "fonts-dejavu-core installed?)"
		    : "certificate_font_bold: cannot open the font file (is "
		      "fonts-dejavu-core installed?)";
		return (ERR_CONFIG);
	}
	n = read(fd, magic, sizeof(magic));
	close(fd);
	memset(&c, 0, sizeof(c));
	if (n != (ssize_t)sizeof(magic) ||
	    (memcmp(magic, "\0\1\0\0", 4) != 0 &&
		memcmp(magic, "true", 4) != 0) ||
	    doc_open(&c, path, path) != OK) {
		HPDF_Free(c.pdf);
		log_error("event=cert_font_bad setting=%s path=\"%s\" "
			  "hpdf_error=0x%04lx",
		    setting, path, (unsigned long)c.error);
		*why = strcmp(setting, "certificate_font") == 0
		    ? "certificate_font: not a TrueType font libharu can "
		      "embed"
		    : "certificate_font_bold: not a TrueType font libharu can "
		      "embed";
		return (ERR_CONFIG);
	}
	HPDF_Free(c.pdf);
	return (OK);
}

/* Copy the fonts' paths (size bytes each); ERR_CONFIG when none set. */
static int
fonts_get(char *regular, char *bold, size_t size)
{
	int rc = OK;

	pthread_mutex_lock(&fonts_lock);
	if (font_regular[0] == '\0' || font_bold[0] == '\0')
		rc = ERR_CONFIG;
	strlcpy_cb(regular, font_regular, size);
	strlcpy_cb(bold, font_bold, size);
	pthread_mutex_unlock(&fonts_lock);
	return (rc);
}

/* A new document in c, UTF-8, with the two fonts embedded. */
static int
doc_open(struct ctx *c, const char *regular, const char *bold)
{
	const char *name;

	if ((c->pdf = HPDF_New(on_error, c)) == NULL)
		return (ERR_NOMEM);
	if (HPDF_SetCompressionMode(c->pdf, HPDF_COMP_ALL) != HPDF_OK ||
	    HPDF_UseUTFEncodings(c->pdf) != HPDF_OK ||
	    HPDF_SetCurrentEncoder(c->pdf, "UTF-8") != HPDF_OK)
		return (ERR_INTERNAL);
	if ((name = HPDF_LoadTTFontFromFile(c->pdf, regular, HPDF_TRUE)) ==
		NULL ||
	    (c->regular = HPDF_GetFont(c->pdf, name, "UTF-8")) == NULL)
		return (ERR_CONFIG);
	if ((name = HPDF_LoadTTFontFromFile(c->pdf, bold, HPDF_TRUE)) == NULL ||
	    (c->bold = HPDF_GetFont(c->pdf, name, "UTF-8")) == NULL)
		return (ERR_CONFIG);
	return (c->error == 0 ? OK : ERR_CONFIG);
}

int
cert_pdf_render(const struct cert_pdf_in *in, struct buf *out, const char **why)
{
	struct ctx c;
	char	   regular[PATH_MAX], bold[PATH_MAX];
	size_t	   len0 = out->len;
	int	   rc;

	memset(&c, 0, sizeof(c));
	*why = NULL;
	if (fonts_get(regular, bold, sizeof(regular)) != OK) {
		*why = "the certificate fonts are not loaded";
		return (ERR_CONFIG);
	}
	if ((rc = doc_open(&c, regular, bold)) != OK) {
		rc = rc == ERR_NOMEM ? rc : hpdf_failed(&c, "fonts");
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
 * The code point of the UTF-8 character at s (n > 0 bytes left) in *cp;
 * its length, or 0 when it is not well formed (overlong, a surrogate,
 * past U+10FFFF, cut short).
 */
static size_t
utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t	 len, i;

	if (c < 0x80) {
		*cp = c;
		return (1);
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2, min = 0x80, c &= 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, min = 0x800, c &= 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, min = 0x10000, c &= 0x07;
	} else
		return (0);
	if (n < len)
		return (0);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return (0);
	*cp = c;
	return (len);
}

/* 1 for the Unicode spaces among unicode_invisible's code points. */
static int
unicode_space(uint32_t c)
{
	return (c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
	    c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
	    c == 0x3000);
}

/* ERR_INVALID, *why saying which field and what is wrong with it. */
static int
refuse(enum field f, enum fault m, const char **why)
{
	*why = messages[f][m];
	return (ERR_INVALID);
}

/*
 * The text of field s as it is printed, in out (FIELD_BYTES): controls
 * and Unicode spaces as one space, runs of spaces as one, none at either
 * end; invisible format characters left out; past U+FFFF, U+FFFD (never
 * longer than s). OK, or ERR_INVALID for text that is too long, not UTF-8,
 * or (when required) shows nothing. A missing optional field is "".
 */
static int
clean_text(
    const char *s, char *out, int required, enum field f, const char **why)
{
	const unsigned char *p;
	size_t		     n, len, o = 0;
	uint32_t	     cp;
	int		     space = 0;

	out[0] = '\0';
	if (s == NULL)
		s = "";
	if ((n = strlen(s)) > CERT_PDF_TEXT_MAX)
		return (refuse(f, M_TOO_LONG, why));
	for (p = (const unsigned char *)s; n > 0; p += len, n -= len) {
		if ((len = utf8_next(p, n, &cp)) == 0)
			return (refuse(f, M_NOT_UTF8, why));
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == ' ' ||
		    unicode_space(cp)) {
			space = o > 0;
			continue;
		}
		if (unicode_invisible(cp))
			continue;
		if (space)
			out[o++] = ' ';
		space = 0;
		if (cp > 0xffff)
			memcpy(out + o, "\xef\xbf\xbd", 3), o += 3;
		else
			memcpy(out + o, p, len), o += len;
	}
	out[o] = '\0';
	if (required && o == 0)
		return (refuse(f, M_REQUIRED, why));
	return (OK);
}

/* s is a date YYYY-MM-DD; shown ("9 March 2026", DATE_SHOWN) in out. */
static int
check_date(const char *s, enum field f, char *out, const char **why)
{
	static const char *const months[] = { "January", "February", "March",
		"April", "May", "June", "July", "August", "September",
		"October", "November", "December" };
	static const int days[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30,
		31 };
	int		 y = 0, m = 0, d = 0, i;

	if (s == NULL || *s == '\0')
		return (refuse(f, M_REQUIRED, why));
	if (strlen(s) != DATE_LEN || s[4] != '-' || s[7] != '-')
		return (refuse(f, M_BAD, why));
	for (i = 0; i < DATE_LEN; i++) {
		if (i == 4 || i == 7)
			continue;
		if (s[i] < '0' || s[i] > '9')
			return (refuse(f, M_BAD, why));
		if (i < 4)
			y = y * 10 + (s[i] - '0');
		else if (i < 7)
			m = m * 10 + (s[i] - '0');
		else
			d = d * 10 + (s[i] - '0');
	}
	if (y < 1900 || m < 1 || m > 12 || d < 1 || d > days[m - 1] ||
	    (m == 2 && d == 29 &&
		!(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))))
		return (refuse(f, M_BAD, why));
	snprintf(out, DATE_SHOWN, "%d %s %d", d, months[m - 1], y);
	return (OK);
}

/* An http(s) URL of printable ASCII, no blanks, within the bound. */
static int
check_url(const char *s, const char **why)
{
	const char *p;

	if (s == NULL || *s == '\0')
		return (refuse(F_URL, M_REQUIRED, why));
	if (strlen(s) > CERT_PDF_URL_MAX)
		return (refuse(F_URL, M_TOO_LONG, why));
	if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0)
		return (refuse(F_URL, M_BAD, why));
	for (p = s; *p != '\0'; p++)
		if (*p <= ' ' || *p > '~')
			return (refuse(F_URL, M_BAD, why));
	return (OK);
}

/* "18 hours", "1 hour 30 minutes", "45 minutes". */
static void
format_minutes(int minutes, char *out, size_t size)
{
	int h = minutes / 60, m = minutes % 60;

	if (h > 0 && m > 0)
		snprintf(out, size, "%d hour%s %d minute%s", h,
		    h == 1 ? "" : "s", m, m == 1 ? "" : "s");
	else if (h > 0)
		snprintf(out, size, "%d hour%s", h, h == 1 ? "" : "s");
	else
		snprintf(out, size, "%d minute%s", m, m == 1 ? "" : "s");
}

/*
 * The largest size, in half points from the place's largest down to its
 * smallest, at which text fits its width and height over at most its
 * lines, and the lines; ERR_INVALID when none does. Widths are the font's own (1/1000 of
 * the size a character), as libharu adds them when it draws.
 */
static int
fit_text(struct ctx *c, HPDF_Font font, const char *text,
    const struct place *pl, struct fit *f)
{
	size_t	       offs[LINE_BYTES + 1], n = 0, len, at = 0, total;
	unsigned       widths[LINE_BYTES];
	int	       spaces[LINE_BYTES], half;
	uint32_t       cp;
	HPDF_TextWidth tw;

	total = strlen(text);
	if (total > LINE_BYTES)
		return (ERR_INVALID);
	while (at < total) {
		len = utf8_next(
		    (const unsigned char *)text + at, total - at, &cp);
		if (len == 0)
			return (ERR_INVALID);
		tw = HPDF_Font_TextWidth(
		    font, (const HPDF_BYTE *)text + at, (HPDF_UINT)len);
		offs[n] = at;
		widths[n] = tw.width;
		spaces[n] = cp == ' ';
		n++;
		at += len;
	}
	offs[n] = total;
	if (c->error != 0)
		return (hpdf_failed(c, "measure"));
	for (half = (int)(pl->max_size * 2); half >= (int)(pl->min_size * 2);
	     half--) {
		f->size = (float)half / 2;
		if (wrap(offs, widths, spaces, n, pl->width * 1000 / f->size,
			pl->max_lines, f) == OK &&
		    f->size * (1 + LEADING * (float)(f->n - 1)) <= pl->height)
			return (OK);
	}
	return (ERR_INVALID);
}

/*
 * Break n characters (offsets offs, n + 1 of them; widths; which are
 * spaces) into lines of at most limit thousandths of the size each,
 * at a space when one is on the line, else between characters: OK
 * within max_lines, else ERR_INVALID.
 */
static int
wrap(const size_t *offs, const unsigned *widths, const int *spaces, size_t n,
    float limit, int max_lines, struct fit *f)
{
	size_t start = 0, i, end, next, brk, k;
	float  sum, wsum;

	f->n = 0;
	while (start < n) {
		if (f->n == max_lines)
			return (ERR_INVALID);
		sum = 0;
		brk = 0;
		for (i = start; i < n && sum + (float)widths[i] <= limit; i++) {
			if (spaces[i] && i > start)
				brk = i;
			sum += (float)widths[i];
		}
		if (i == n)
			end = next = n;
		else if (spaces[i])
			end = i, next = i + 1;
		else if (brk > start)
			end = brk, next = brk + 1;
		else if (i > start)
			end = next = i;
		else
			return (ERR_INVALID); /* one character too wide */
		for (wsum = 0, k = start; k < end; k++)
			wsum += (float)widths[k];
		f->lines[f->n].off = offs[start];
		f->lines[f->n].len = offs[end] - offs[start];
		f->lines[f->n].width = wsum * f->size / 1000;
		f->n++;
		start = next;
	}
	return (OK);
}

/*
 * Fit text to its place and draw it there; ERR_INVALID naming field when
 * it cannot fit.
 */
static int
draw_text(struct ctx *c, HPDF_Font font, const char *text,
    const struct place *pl, enum field f, const char **why)
{
	struct fit fit;
	char	   line[LINE_BYTES + 1];
	float	   height, y, x;
	int	   i, rc;

	if ((rc = fit_text(c, font, text, pl, &fit)) != OK)
		return (rc == ERR_INVALID ? refuse(f, M_NO_FIT, why) : rc);
	height = fit.size * (1 + LEADING * (float)(fit.n - 1));
	HPDF_Page_BeginText(c->page);
	HPDF_Page_SetFontAndSize(c->page, font, fit.size);
	for (i = 0; i < fit.n; i++) {
		memcpy(line, text + fit.lines[i].off, fit.lines[i].len);
		line[fit.lines[i].len] = '\0';
		y = pl->yc + height / 2 - 0.8f * fit.size -
		    (float)i * LEADING * fit.size;
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
		return (refuse(F_LOGO, M_TOO_LONG, why));
	memset(&im, 0, sizeof(im));
	im.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_memory(&im, png, len))
		return (refuse(F_LOGO, M_BAD, why));
	if (im.width == 0 || im.height == 0 ||
	    (uint64_t)im.width * im.height > CERT_PDF_LOGO_PIXELS) {
		png_image_free(&im);
		return (refuse(F_LOGO, M_BAD, why));
	}
	im.format = PNG_FORMAT_RGB;
	if ((rgb = malloc(PNG_IMAGE_SIZE(im))) == NULL) {
		png_image_free(&im);
		return (ERR_NOMEM);
	}
	if (!png_image_finish_read(&im, &white, rgb, 0, NULL)) {
		png_image_free(&im);
		rc = refuse(F_LOGO, M_BAD, why);
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
	char	     provider[FIELD_BYTES], accreditation[FIELD_BYTES];
	char	     learner[FIELD_BYTES], qualification[FIELD_BYTES];
	char	     number[FIELD_BYTES], trainer[FIELD_BYTES];
	char	     start[DATE_SHOWN], end[DATE_SHOWN], issue[DATE_SHOWN];
	char	     expiry[DATE_SHOWN], hours[64], line[LINE_BYTES + 1];
	struct place pl;
	int	     rc;

	if ((rc = clean_text(
		 in->provider_name, provider, 1, F_PROVIDER, why)) != OK ||
	    (rc = clean_text(in->accreditation, accreditation, 0,
		 F_ACCREDITATION, why)) != OK ||
	    (rc = clean_text(in->learner_name, learner, 1, F_LEARNER, why)) !=
		OK ||
	    (rc = clean_text(in->qualification, qualification, 1,
		 F_QUALIFICATION, why)) != OK ||
	    (rc = check_date(in->course_start, F_COURSE_START, start, why)) !=
		OK ||
	    (rc = check_date(in->course_end, F_COURSE_END, end, why)) != OK ||
	    (rc = clean_text(
		 in->certificate_number, number, 1, F_NUMBER, why)) != OK ||
	    (rc = check_date(in->issue_date, F_ISSUE, issue, why)) != OK ||
	    (rc = check_date(in->expiry_date, F_EXPIRY, expiry, why)) != OK ||
	    (rc = clean_text(in->trainer_name, trainer, 1, F_TRAINER, why)) !=
		OK ||
	    (rc = check_url(in->verify_url, why)) != OK)
		return (rc);
	/* Dates as YYYY-MM-DD compare as strings. */
	if (strcmp(in->course_end, in->course_start) < 0)
		return (refuse(F_COURSE_END, M_BAD, why));
	if (strcmp(in->expiry_date, in->issue_date) <= 0)
		return (refuse(F_EXPIRY, M_BAD, why));
	if (in->course_minutes < 1 || in->course_minutes > CERT_PDF_MINUTES_MAX)
		return (refuse(F_COURSE_MINUTES, M_BAD, why));
	if (in->validity_years < 1 || in->validity_years > CERT_PDF_YEARS_MAX)
		return (refuse(F_YEARS, M_BAD, why));

	if ((c->page = HPDF_AddPage(c->pdf)) == NULL ||
	    HPDF_Page_SetSize(
		c->page, HPDF_PAGE_SIZE_A4, HPDF_PAGE_LANDSCAPE) != HPDF_OK)
		return (hpdf_failed(c, "page"));
	draw_frame(c);
	if (in->logo_png != NULL && in->logo_png_len > 0 &&
	    (rc = draw_logo(c, in->logo_png, in->logo_png_len, why)) != OK)
		return (rc);

	HPDF_Page_SetRGBFill(c->page, 0.09f, 0.31f, 0.40f);
	pl = (struct place){ PAGE_W / 2, 530, 440, 32, 20, 8, 2, 1 };
	if ((rc = draw_text(c, c->bold, provider, &pl, F_PROVIDER, why)) != OK)
		return (rc);
	HPDF_Page_SetRGBFill(c->page, 0.2f, 0.2f, 0.2f);
	pl = (struct place){ PAGE_W / 2, 500, 440, 20, 9, 6, 2, 1 };
	if (accreditation[0] != '\0' &&
	    (rc = draw_text(c, c->regular, accreditation, &pl, F_ACCREDITATION,
		 why)) != OK)
		return (rc);
	HPDF_Page_SetRGBFill(c->page, 0.09f, 0.31f, 0.40f);
	pl = (struct place){ PAGE_W / 2, 462, TEXT_W, 30, 30, 30, 1, 1 };
	if ((rc = draw_text(c, c->bold, "Certificate of Competence", &pl,
		 F_PROVIDER, why)) != OK)
		return (rc);

	HPDF_Page_SetRGBFill(c->page, 0.1f, 0.1f, 0.1f);
	pl = (struct place){ PAGE_W / 2, 430, TEXT_W, 13, 13, 13, 1, 1 };
	if ((rc = draw_text(c, c->regular, "This is to certify that", &pl,
		 F_LEARNER, why)) != OK)
		return (rc);
	pl = (struct place){ PAGE_W / 2, 392, TEXT_W, 58, 30, 8, 3, 1 };
	if ((rc = draw_text(c, c->bold, learner, &pl, F_LEARNER, why)) != OK)
		return (rc);
	pl = (struct place){ PAGE_W / 2, 350, TEXT_W, 13, 13, 13, 1, 1 };
	if ((rc = draw_text(c, c->regular,
		 "attended the course and was assessed as competent in", &pl,
		 F_QUALIFICATION, why)) != OK)
		return (rc);
	pl = (struct place){ PAGE_W / 2, 317, TEXT_W, 48, 22, 8, 3, 1 };
	if ((rc = draw_text(
		 c, c->bold, qualification, &pl, F_QUALIFICATION, why)) != OK)
		return (rc);

	format_minutes(in->course_minutes, hours, sizeof(hours));
	if (strcmp(in->course_start, in->course_end) == 0)
		snprintf(line, sizeof(line), "Course date: %s (%s of training)",
		    start, hours);
	else
		snprintf(line, sizeof(line),
		    "Course dates: %s to %s (%s of training)", start, end,
		    hours);
	pl = (struct place){ PAGE_W / 2, 274, TEXT_W, 11, 11, 11, 1, 1 };
	if ((rc = draw_text(c, c->regular, line, &pl, F_COURSE_START, why)) !=
	    OK)
		return (rc);
	snprintf(line, sizeof(line),
	    "This certificate is valid for %d year%s from the date of issue.",
	    in->validity_years, in->validity_years == 1 ? "" : "s");
	pl.yc = 254;
	if ((rc = draw_text(c, c->regular, line, &pl, F_YEARS, why)) != OK)
		return (rc);

	{
		static const char *const labels[] = { "Certificate number:",
			"Date of issue:", "Expiry date:", "Trainer:" };
		static const enum field	 fields[] = { F_NUMBER, F_ISSUE,
			 F_EXPIRY, F_TRAINER };
		const char *values[] = { number, issue, expiry, trainer };
		size_t	    i;

		for (i = 0; i < 4; i++) {
			pl = (struct place){ 60, 205 - 28 * (float)i, 135, 11,
				11, 11, 1, 0 };
			if ((rc = draw_text(c, c->bold, labels[i], &pl,
				 fields[i], why)) != OK)
				return (rc);
			pl = (struct place){ 200, 205 - 28 * (float)i, 440, 26,
				11, 6, 2, 0 };
			if ((rc = draw_text(c, c->regular, values[i], &pl,
				 fields[i], why)) != OK)
				return (rc);
		}
	}
	snprintf(line, sizeof(line), "Verify this certificate at %s",
	    in->verify_url);
	pl = (struct place){ 60, 88, 580, 10, 10, 5, 1, 0 };
	if ((rc = draw_text(c, c->regular, line, &pl, F_URL, why)) != OK)
		return (rc);
	if ((rc = draw_qr(c, in->verify_url, PAGE_W - 60 - QR_SIZE, 85)) != OK)
		return (rc);
	HPDF_Page_SetRGBFill(c->page, 0.1f, 0.1f, 0.1f);
	pl = (struct place){ PAGE_W - 60 - QR_SIZE / 2, 76, QR_SIZE, 8, 8, 8, 1,
		1 };
	return (draw_text(c, c->regular, "Scan to verify", &pl, F_URL, why));
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
