/*
 * The certificate's text (cert_pdf_int.h): its fields checked and cleaned
 * as they are printed, and each piece fitted to its place.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <hpdf.h>

#include "core/err.h"
#include "core/util.h"
#include "training/cert_pdf.h"
#include "training/cert_pdf_int.h"

#define DATE_LEN 10 /* YYYY-MM-DD */

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
	MESSAGES("revoked_date", "is not a date (YYYY-MM-DD)"),
};

static int unicode_space(uint32_t);
static int wrap(const size_t *, const unsigned *, const int *, size_t, float,
    int, struct cert_fit *, size_t *);
static int cut(HPDF_Font, const size_t *, const unsigned *, const int *, size_t,
    const struct cert_place *, struct cert_fit *);

/* 1 for the Unicode spaces among unicode_invisible's code points. */
static int
unicode_space(uint32_t c)
{
	return (c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
	    c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
	    c == 0x3000);
}

/* ERR_INVALID, *why saying which field and what is wrong with it. */
int
cert_text_refuse(enum cert_field f, enum cert_fault m, const char **why)
{
	*why = messages[f][m];
	return (ERR_INVALID);
}

/*
 * The text of field s as it is printed, in out (CERT_FIELD_BYTES): controls
 * and Unicode spaces as one space, runs of spaces as one, none at either
 * end; invisible format characters left out; past U+FFFF, U+FFFD (never
 * longer than s). Past CERT_PDF_TEXT_MAX bytes it is cut at the start of
 * a character and ends in CERT_ELLIPSIS: a name is printed as far as it
 * goes rather than not at all. OK, or ERR_INVALID for text that is not
 * UTF-8 or (when required) shows nothing. A missing optional field is "".
 */
int
cert_text_clean(
    const char *s, char *out, int required, enum cert_field f, const char **why)
{
	const unsigned char *p;
	size_t		     n, len, o = 0;
	uint32_t	     cp;
	int		     space = 0, cut_off = 0;

	out[0] = '\0';
	if (s == NULL)
		s = "";
	if ((n = strlen(s)) > CERT_PDF_TEXT_MAX) {
		/* Room for the ellipsis; never inside a character. */
		n = CERT_PDF_TEXT_MAX - (sizeof(CERT_ELLIPSIS) - 1);
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		cut_off = 1;
	}
	for (p = (const unsigned char *)s; n > 0; p += len, n -= len) {
		if ((len = utf8_decode(p, n, &cp)) == 0)
			return (cert_text_refuse(f, M_NOT_UTF8, why));
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
		return (cert_text_refuse(f, M_REQUIRED, why));
	if (cut_off) {
		memcpy(out + o, CERT_ELLIPSIS, sizeof(CERT_ELLIPSIS));
		o += sizeof(CERT_ELLIPSIS) - 1;
	}
	return (OK);
}

/* s is a date YYYY-MM-DD; shown ("9 March 2026", CERT_DATE_SHOWN) in out. */
int
cert_text_date(const char *s, enum cert_field f, char *out, const char **why)
{
	static const char *const months[] = { "January", "February", "March",
		"April", "May", "June", "July", "August", "September",
		"October", "November", "December" };
	static const int days[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30,
		31 };
	int		 y = 0, m = 0, d = 0, i;

	if (s == NULL || *s == '\0')
		return (cert_text_refuse(f, M_REQUIRED, why));
	if (strlen(s) != DATE_LEN || s[4] != '-' || s[7] != '-')
		return (cert_text_refuse(f, M_BAD, why));
	for (i = 0; i < DATE_LEN; i++) {
		if (i == 4 || i == 7)
			continue;
		if (s[i] < '0' || s[i] > '9')
			return (cert_text_refuse(f, M_BAD, why));
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
		return (cert_text_refuse(f, M_BAD, why));
	snprintf(out, CERT_DATE_SHOWN, "%d %s %d", d, months[m - 1], y);
	return (OK);
}

/* An http(s) URL of printable ASCII, no blanks, within the bound. */
int
cert_text_url(const char *s, const char **why)
{
	const char *p;

	if (s == NULL || *s == '\0')
		return (cert_text_refuse(F_URL, M_REQUIRED, why));
	if (strlen(s) > CERT_PDF_URL_MAX)
		return (cert_text_refuse(F_URL, M_TOO_LONG, why));
	if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0)
		return (cert_text_refuse(F_URL, M_BAD, why));
	for (p = s; *p != '\0'; p++)
		if (*p <= ' ' || *p > '~')
			return (cert_text_refuse(F_URL, M_BAD, why));
	return (OK);
}

/* "18 hours", "1 hour 30 minutes", "45 minutes". */
void
cert_text_minutes(int minutes, char *out, size_t size)
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
 * lines, and the lines; when none does, cut (a place that may cut) or
 * ERR_INVALID. Widths are the font's own (1/1000 of the size a
 * character), as libharu adds them when it draws.
 */
int
cert_text_fit(HPDF_Font font, const char *text, const struct cert_place *pl,
    struct cert_fit *f)
{
	size_t	 offs[CERT_LINE_BYTES + 1], n = 0, len, at = 0, total, rest;
	unsigned widths[CERT_LINE_BYTES];
	int	 spaces[CERT_LINE_BYTES], half;
	uint32_t cp;
	HPDF_TextWidth tw;

	total = strlen(text);
	if (total > CERT_LINE_BYTES)
		return (ERR_INVALID);
	while (at < total) {
		len = utf8_decode(
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
	f->cut = 0;
	for (half = (int)(pl->max_size * 2); half >= (int)(pl->min_size * 2);
	     half--) {
		f->size = (float)half / 2;
		if (wrap(offs, widths, spaces, n, pl->width * 1000 / f->size,
			pl->max_lines, f, &rest) == OK &&
		    f->size * (1 + CERT_LEADING * (float)(f->n - 1)) <=
			pl->height)
			return (OK);
	}
	if (!pl->cut)
		return (ERR_INVALID);
	return (cut(font, offs, widths, spaces, n, pl, f));
}

/*
 * At the place's smallest size, as many lines as its height holds: all
 * but the last wrapped as wrap does, the last the characters that fit
 * before CERT_ELLIPSIS (none at its end a space). ERR_INVALID only when
 * not even a line of the ellipsis fits.
 */
static int
cut(HPDF_Font font, const size_t *offs, const unsigned *widths,
    const int *spaces, size_t n, const struct cert_place *pl,
    struct cert_fit *f)
{
	HPDF_TextWidth tw;
	size_t	       start = 0, i, end;
	float	       limit, sum, dots;
	int	       lines;

	f->size = pl->min_size;
	f->cut = 1;
	for (lines = pl->max_lines; lines > 1 &&
	     f->size * (1 + CERT_LEADING * (float)(lines - 1)) > pl->height;
	     lines--)
		;
	tw = HPDF_Font_TextWidth(font, (const HPDF_BYTE *)CERT_ELLIPSIS,
	    (HPDF_UINT)(sizeof(CERT_ELLIPSIS) - 1));
	dots = (float)tw.width;
	limit = pl->width * 1000 / f->size;
	if (lines < 1 || f->size > pl->height || dots > limit ||
	    lines > CERT_FIT_LINES)
		return (ERR_INVALID);
	f->n = 0;
	/* The text does not fit in lines: some is left after lines - 1. */
	if (lines > 1)
		(void)wrap(
		    offs, widths, spaces, n, limit, lines - 1, f, &start);
	if (start < n && spaces[start])
		start++;
	for (sum = 0, i = start;
	     i < n && sum + (float)widths[i] + dots <= limit; i++)
		sum += (float)widths[i];
	for (end = i; end > start && spaces[end - 1]; end--)
		sum -= (float)widths[end - 1];
	f->lines[f->n].off = offs[start];
	f->lines[f->n].len = offs[end] - offs[start];
	f->lines[f->n].width = (sum + dots) * f->size / 1000;
	f->n++;
	return (OK);
}

/*
 * Break n characters (offsets offs, n + 1 of them; widths; which are
 * spaces) into lines of at most limit thousandths of the size each,
 * at a space when one is on the line, else between characters: OK
 * within max_lines, else ERR_INVALID. *rest: the first character on no
 * line (n when all are).
 */
static int
wrap(const size_t *offs, const unsigned *widths, const int *spaces, size_t n,
    float limit, int max_lines, struct cert_fit *f, size_t *rest)
{
	size_t start = 0, i, end, next, brk, k;
	float  sum, wsum;

	f->n = 0;
	*rest = 0;
	while (start < n) {
		*rest = start;
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
	*rest = n;
	return (OK);
}
