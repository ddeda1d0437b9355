/* The font of the PDFs (pdf_font.h). */
#include <stdio.h>

#include <hpdf.h>

#include "core/config.h"
#include "core/log.h"
#include "core/pdf_font.h"

const char *
pdf_font_path(void)
{
	if (config.pdf_font_path == NULL || config.pdf_font_path[0] == '\0')
		return (PDF_FONT_PATH_DEFAULT);
	return (config.pdf_font_path);
}

HPDF_Font
pdf_font_load(HPDF_Doc pdf)
{
	const char *name;
	HPDF_Font   font = NULL;
	char	    q[256];

	if (HPDF_UseUTFEncodings(pdf) == HPDF_OK &&
	    (name = HPDF_LoadTTFontFromFile(pdf, pdf_font_path(), HPDF_TRUE)) !=
		NULL)
		font = HPDF_GetFont(pdf, name, "UTF-8");
	if (font == NULL)
		log_msg(LOG_ERROR, "event=pdf_font_unusable path=%s error=%#lx",
		    log_quote(q, sizeof(q), pdf_font_path()),
		    (unsigned long)HPDF_GetError(pdf));
	return (font);
}
