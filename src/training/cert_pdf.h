/*
 * The certificate PDF (issue 17): one A4 landscape page that says a learner
 * attended a course and was assessed as competent, made in memory with
 * libharu (libhpdf) and libqrencode, nothing written to disk.
 *
 *	struct cert_pdf_in in = { .provider_name = "...", ... };
 *	struct buf	   pdf;
 *	const char	  *why = NULL;
 *
 *	buf_init(&pdf, CERT_PDF_MAX);
 *	rc = cert_pdf_render(&in, &pdf, &why);
 *	... pdf.data, pdf.len: the PDF; buf_free(&pdf)
 *
 * The page carries the provider's name and logo, the accreditation line
 * only when one is given (never a made-up one), the learner's name, the
 * qualification, the course's dates and hours, the statements of a UK
 * first-aid certificate (attended, assessed as competent, valid for N
 * years from the date of issue), the certificate number, issue and expiry
 * dates, the trainer, and the verification URL as text and as a QR code
 * (error correction M, drawn as vector rectangles with a 4-module quiet
 * zone).
 *
 * A revoked certificate (revoked_date set) says so where it cannot be
 * missed: "REVOKED on <date>: this certificate is not valid" above the
 * provider's name, and REVOKED across the page, large and translucent
 * red, over everything else. A certificate that never expires
 * (validity_years 0, no expiry_date) leaves out the validity sentence and
 * says "Does not expire" for its expiry date.
 *
 * Text: every field is UTF-8, drawn with the embedded TrueType fonts of
 * core/pdf_font.h, config pdf_font and pdf_font_bold (DejaVu Sans by
 * default, which covers Latin, Greek and Cyrillic; a character the font
 * lacks shows as its empty box). Nothing in it is interpreted: it is
 * written as glyphs of a CID font, so "(", "\", "%PDF" are characters
 * like any other. Control characters (line breaks, tabs)
 * and the Unicode spaces show as one space each; the invisible format
 * characters (direction marks and overrides, zero-width characters, the
 * byte-order mark) are left out, so they cannot reorder or hide what is
 * printed; a character beyond U+FFFF (libharu 2.3 maps only the BMP) shows
 * as U+FFFD. A field too wide for its place is drawn smaller, then over
 * more lines (the name and the qualification up to 3, the provider, the
 * accreditation, the number and the trainer 2, the rest 1), down to its
 * place's smallest size; one that still does not fit, or is longer than
 * CERT_PDF_TEXT_MAX bytes, is cut at the start of a character and ends in
 * an ellipsis (U+2026): a long name is printed as far as it goes, never
 * cut inside a character and never the reason there is no certificate.
 * The verification URL is never cut: past its place it is refused.
 *
 * Thread-safe: each call makes and frees its own libharu document (no
 * libharu state is shared); the fonts' settings are fixed once started
 * (serve and worker check them then: pdf_font_check).
 * libharu's errors come to an error handler that records them: a failure
 * is a status, never an abort. The logo is decoded here (libpng's
 * simplified API, which reports errors) and handed to libharu as raw RGB,
 * because libharu 2.3's own PNG reader lets libpng abort the process on a
 * damaged file.
 */
#ifndef TRAINING_CERT_PDF_H
#define TRAINING_CERT_PDF_H

#include <stddef.h>

struct buf;

/* Bytes of a text field printed: 200 characters (training names and
 * titles) of 4 bytes, a trainer's given and family names of 100 each, fit
 * within; a longer one is cut with an ellipsis. */
#define CERT_PDF_TEXT_MAX    1024
#define CERT_PDF_URL_MAX     256	       /* bytes of verify_url */
#define CERT_PDF_LOGO_MAX    (1024 * 1024)     /* bytes of the logo PNG */
#define CERT_PDF_LOGO_PIXELS (2048 * 2048)     /* width x height at most */
#define CERT_PDF_MINUTES_MAX (1000 * 60)       /* of course time */
#define CERT_PDF_YEARS_MAX   10		       /* of validity */
#define CERT_PDF_MAX	     (4 * 1024 * 1024) /* a buf's ceiling for it */

/*
 * What a certificate shows; every string is UTF-8 and borrowed. Dates are
 * YYYY-MM-DD (printed "9 March 2026"). Optional: logo_png (NULL or
 * logo_png_len 0 = none), accreditation (NULL or "" = no line),
 * revoked_date (NULL = not revoked), and expiry_date, which is NULL
 * exactly when validity_years is 0.
 */
struct cert_pdf_in {
	const char	    *provider_name;
	const unsigned char *logo_png;
	size_t		     logo_png_len;
	const char	    *accreditation;
	const char	    *learner_name;
	const char	    *qualification;
	const char	    *course_start;   /* first day of the course */
	const char	    *course_end;     /* last day (may equal start) */
	int		     course_minutes; /* 1..CERT_PDF_MINUTES_MAX */
	const char	    *certificate_number;
	const char	    *issue_date;
	const char	    *expiry_date;
	int		     validity_years; /* 0 (never expires)..YEARS_MAX */
	const char	    *trainer_name;
	const char	    *verify_url;   /* http(s), printable ASCII */
	const char	    *revoked_date; /* the day it was revoked */
	const char	    *statement;	   /* NULL or "": none; a short legal
					    * line the caller words */
};

/*
 * Append the PDF of in to out (its ceiling should allow CERT_PDF_MAX). OK;
 * ERR_INVALID with *why (static: which field and what is wrong) for input
 * out of bounds or that does not fit; ERR_UNAVAILABLE when a font cannot
 * be loaded (logged naming its setting); ERR_TOO_LARGE past out's
 * ceiling; ERR_NOMEM; ERR_INTERNAL when libharu fails (logged with its
 * error codes). On failure out is as it was.
 */
int cert_pdf_render(
    const struct cert_pdf_in *in, struct buf *out, const char **why);
/*
 * Would png (len bytes) be drawn as a logo: a PNG within
 * CERT_PDF_LOGO_MAX bytes and CERT_PDF_LOGO_PIXELS whose header libpng
 * reads? OK, or ERR_INVALID with *why (static). Only its header is read:
 * a file damaged further on is refused when it is drawn.
 */
int cert_pdf_logo_check(const unsigned char *png, size_t len, const char **why);

#endif
