/*
 * Private to the certificate PDF (cert_pdf.h). cert_pdf.c makes the
 * document and draws the page; cert_text.c checks and cleans its fields
 * as they are printed and fits each piece of text to its place (the
 * largest size that fits, over as many lines as the place allows; at
 * the smallest, a field that may be cut is cut at a character with an
 * ellipsis), pure but for libharu's measuring of a font's widths.
 */
#ifndef TRAINING_CERT_PDF_INT_H
#define TRAINING_CERT_PDF_INT_H

#include <stddef.h>

#include <hpdf.h>

#include "training/cert_pdf.h"

#define CERT_LEADING	 1.2f /* line height / font size */
#define CERT_FIT_LINES	 3    /* lines a field may take at most */
#define CERT_DATE_SHOWN	 32   /* "30 September 2026" */
#define CERT_FIELD_BYTES (CERT_PDF_TEXT_MAX + 1)
/* A line made of a field and words around it. */
#define CERT_LINE_BYTES (CERT_PDF_TEXT_MAX + 64)
#define CERT_ELLIPSIS	"\xe2\x80\xa6" /* U+2026, where a field is cut */

/* A line of a fitted field: bytes off..off+len of the text. */
struct cert_line {
	size_t off, len;
	float  width; /* points at the fitted size */
};

struct cert_fit {
	float		 size;
	int		 n;
	int		 cut; /* the last line ends in CERT_ELLIPSIS */
	struct cert_line lines[CERT_FIT_LINES]; /* widths with it */
};

/* Where and how a field is drawn. */
struct cert_place {
	float x;      /* left edge, or the centre when centred */
	float yc;     /* the vertical middle of the lines */
	float width;  /* available */
	float height; /* available to the lines, from the first's top */
	float max_size, min_size;
	int   max_lines;
	int   centred;
	int   cut; /* 1: what does not fit at min_size is cut, not refused */
};

/* The fields, for the messages that name them. */
enum cert_field {
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
	F_REVOKED,
	F_COUNT
};

/* What can be wrong with a field. */
enum cert_fault {
	M_REQUIRED,
	M_TOO_LONG,
	M_NOT_UTF8,
	M_NO_FIT,
	M_BAD,
	M_COUNT
};

/* ERR_INVALID, *why (static) saying which field and what is wrong. */
int cert_text_refuse(enum cert_field, enum cert_fault, const char **why);
/*
 * Field s as it is printed, in out (CERT_FIELD_BYTES); "" for a missing
 * optional one. OK, or ERR_INVALID (cert_text_refuse).
 */
int cert_text_clean(
    const char *s, char *out, int required, enum cert_field, const char **why);
/* s is a date YYYY-MM-DD, shown in out (CERT_DATE_SHOWN); or ERR_INVALID. */
int cert_text_date(const char *s, enum cert_field, char *out, const char **why);
/* s is an http(s) URL of printable ASCII within bounds; or ERR_INVALID. */
int cert_text_url(const char *s, const char **why);
/* "18 hours", "1 hour 30 minutes", "45 minutes" into out. */
void cert_text_minutes(int minutes, char *out, size_t size);
/*
 * Fit text in font to its place: the size and the lines in *f. Text that
 * does not fit at the place's smallest size is, when the place may cut
 * it, cut at the start of a character with CERT_ELLIPSIS after (f->cut),
 * on as many lines as the place's height allows; else ERR_INVALID. The
 * caller checks its document for libharu errors from measuring.
 */
int cert_text_fit(HPDF_Font font, const char *text, const struct cert_place *,
    struct cert_fit *f);

#endif
