/*
 * The TrueType fonts the PDFs carebase makes embed for their Unicode text
 * (Polish, Greek, Cyrillic, ...): config pdf_font and pdf_font_bold,
 * Debian's DejaVu Sans and DejaVu Sans Bold (fonts-dejavu-core) by
 * default. One place for every PDF writer (report tables in
 * core/table_pdf.c, certificates in training/cert_pdf.c), so that they
 * all find and load them alike.
 *
 *	at start-up (serve, worker):
 *	if (pdf_font_check(why, sizeof(why)) != OK)
 *		... stop, printing why (it names the setting)
 *	per PDF:
 *	if (pdf_font_load(doc, &regular, &bold) != OK)
 *		... ERR_UNAVAILABLE (logged)
 *
 * The settings are read from config, which is fixed once started: any
 * thread may load them into its own document.
 */
#ifndef CORE_PDF_FONT_H
#define CORE_PDF_FONT_H

#include <stddef.h>

#include <hpdf.h>

#define PDF_FONT_DEFAULT "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
#define PDF_FONT_BOLD_DEFAULT                                                  \
	"/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

enum pdf_font_style { PDF_FONT_REGULAR, PDF_FONT_BOLD };

/* The style's font file: its setting, or the default when empty
 * (borrowed). */
const char *pdf_font_path(enum pdf_font_style);
/*
 * Both fonts are files libharu loads as TrueType fonts and embeds. OK;
 * ERR_CONFIG with one line in why (size bytes) naming the setting, the
 * file and what is wrong with it.
 */
int pdf_font_check(char *why, size_t size);
/*
 * Turn on pdf's UTF encodings and load the regular font into *regular and,
 * unless bold is NULL, the bold one into *bold: embedded, UTF-8. OK;
 * ERR_UNAVAILABLE when one cannot be loaded (logged with its setting).
 */
int pdf_font_load(HPDF_Doc pdf, HPDF_Font *regular, HPDF_Font *bold);

#endif
