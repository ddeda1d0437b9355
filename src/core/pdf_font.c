/* The fonts of the PDFs (pdf_font.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <hpdf.h>

#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/pdf_font.h"

static const char *const settings[] = { "pdf_font", "pdf_font_bold" };

static void	 on_error(HPDF_STATUS, HPDF_STATUS, void *);
static HPDF_Font font_load(HPDF_Doc, enum pdf_font_style);
static int	 font_check(enum pdf_font_style, char *, size_t);

const char *
pdf_font_path(enum pdf_font_style style)
{
	const char *path =
	    style == PDF_FONT_BOLD ? config.pdf_font_bold : config.pdf_font;

	if (path == NULL || path[0] == '\0')
		return (style == PDF_FONT_BOLD ? PDF_FONT_BOLD_DEFAULT
					       : PDF_FONT_DEFAULT);
	return (path);
}

int
pdf_font_check(char *why, size_t size)
{
	int rc;

	if ((rc = font_check(PDF_FONT_REGULAR, why, size)) != OK)
		return (rc);
	return (font_check(PDF_FONT_BOLD, why, size));
}

int
pdf_font_load(HPDF_Doc pdf, HPDF_Font *regular, HPDF_Font *bold)
{
	if (HPDF_UseUTFEncodings(pdf) != HPDF_OK ||
	    (*regular = font_load(pdf, PDF_FONT_REGULAR)) == NULL ||
	    (bold != NULL && (*bold = font_load(pdf, PDF_FONT_BOLD)) == NULL))
		return (ERR_UNAVAILABLE);
	return (OK);
}

/* The style's font in pdf, or NULL (logged). */
static HPDF_Font
font_load(HPDF_Doc pdf, enum pdf_font_style style)
{
	const char *name;
	HPDF_Font   font = NULL;
	char	    q[256];

	if ((name = HPDF_LoadTTFontFromFile(
		 pdf, pdf_font_path(style), HPDF_TRUE)) != NULL)
		font = HPDF_GetFont(pdf, name, "UTF-8");
	if (font == NULL)
		log_msg(LOG_ERROR,
		    "event=pdf_font_unusable setting=%s path=%s error=%#lx",
		    settings[style],
		    log_quote(q, sizeof(q), pdf_font_path(style)),
		    (unsigned long)HPDF_GetError(pdf));
	return (font);
}

/* A check's libharu errors: the first one is kept. */
static void
on_error(HPDF_STATUS error, HPDF_STATUS detail, void *user)
{
	HPDF_STATUS *first = user;

	(void)detail;
	if (*first == 0)
		*first = error;
}

/*
 * The style's file opens, starts as a TrueType font does (libharu is not
 * handed anything else) and loads into a document of its own.
 */
static int
font_check(enum pdf_font_style style, char *why, size_t size)
{
	const char   *path = pdf_font_path(style);
	unsigned char magic[4];
	HPDF_STATUS   error = 0;
	HPDF_Doc      pdf;
	const char   *name = NULL;
	ssize_t	      n;
	int	      fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(why, size,
		    "%s: cannot open the font file %s (%s); install "
		    "fonts-dejavu-core or name a TrueType font",
		    settings[style], path, strerror(errno));
		return (ERR_CONFIG);
	}
	n = read(fd, magic, sizeof(magic));
	close(fd);
	if (n == (ssize_t)sizeof(magic) &&
	    (memcmp(magic, "\0\1\0\0", 4) == 0 ||
		memcmp(magic, "true", 4) == 0) &&
	    (pdf = HPDF_New(on_error, &error)) != NULL) {
		if (HPDF_UseUTFEncodings(pdf) == HPDF_OK &&
		    (name = HPDF_LoadTTFontFromFile(pdf, path, HPDF_TRUE)) !=
			NULL &&
		    HPDF_GetFont(pdf, name, "UTF-8") == NULL)
			name = NULL;
		HPDF_Free(pdf);
	}
	if (name == NULL || error != 0) {
		snprintf(why, size,
		    "%s: %s is not a TrueType font libharu can embed",
		    settings[style], path);
		return (ERR_CONFIG);
	}
	return (OK);
}
