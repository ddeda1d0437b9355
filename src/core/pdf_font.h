/*
 * The TrueType font the PDFs carebase makes embed for their Unicode text
 * (Polish, Greek, ...): config pdf_font_path, Debian's DejaVu Sans by
 * default. One accessor for every PDF writer (report tables in
 * core/table_pdf.c; certificates), so that they all find it alike.
 */
#ifndef CORE_PDF_FONT_H
#define CORE_PDF_FONT_H

#include <hpdf.h>

#define PDF_FONT_PATH_DEFAULT "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

/* The font's path: config pdf_font_path, or the default (borrowed). */
const char *pdf_font_path(void);
/*
 * Load the font into pdf, embedded, with UTF-8 encoding (it turns on
 * pdf's UTF encodings); NULL when it cannot be (no such file, not a
 * TrueType font; logged once per call).
 */
HPDF_Font pdf_font_load(HPDF_Doc pdf);

#endif
