/*
 * libFuzzer target for the certificate PDF (src/training/cert_pdf.c): the
 * input, split at NUL bytes, is the learner's name, the qualification, the
 * provider's name, the accreditation, the trainer's name, the certificate
 * number, and the rest is the logo's PNG bytes (none when empty).
 *
 * Whatever the text and the logo, the render either makes a PDF (it
 * starts "%PDF-" and ends with "%%EOF") or refuses the input with
 * ERR_INVALID and a reason, leaving the output as it was; it never
 * crashes, aborts (libpng on a damaged logo) or fails otherwise.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/pdf_font.h"
#include "training/cert_pdf.h"

#define FIELDS 6

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	   fonts;
	struct cert_pdf_in in;
	struct buf	   pdf;
	const char	  *why = NULL, *field[FIELDS];
	char		  *copy, line[512];
	size_t		   at = 0, i, len;
	int		   rc;

	if (!fonts) {
		/* The default fonts (config pdf_font, pdf_font_bold). */
		if (pdf_font_check(line, sizeof(line)) != OK)
			abort();
		fonts = 1;
	}
	if ((copy = malloc(size + 1)) == NULL)
		return (0);
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (i = 0; i < FIELDS; i++) {
		field[i] = copy + at;
		len = strlen(copy + at);
		at += at + len < size ? len + 1 : len;
	}
	memset(&in, 0, sizeof(in));
	in.learner_name = field[0];
	in.qualification = field[1];
	in.provider_name = field[2];
	in.accreditation = field[3];
	in.trainer_name = field[4];
	in.certificate_number = field[5];
	in.logo_png = (const unsigned char *)copy + at;
	in.logo_png_len = size - at;
	in.course_start = "2026-03-09";
	in.course_end = "2026-03-11";
	in.course_minutes = 18 * 60;
	in.issue_date = "2026-03-11";
	in.expiry_date = "2029-03-10";
	in.validity_years = 3;
	in.verify_url = "https://certs.example.org/verify/NFA-2026-000123";

	buf_init(&pdf, CERT_PDF_MAX);
	buf_puts(&pdf, "x");
	rc = cert_pdf_render(&in, &pdf, &why);
	if (rc == OK) {
		if (pdf.len < 16 || memcmp(pdf.data, "x%PDF-", 6) != 0 ||
		    memmem(pdf.data + pdf.len - 8, 8, "%%EOF", 5) == NULL)
			abort();
	} else if (rc != ERR_INVALID || why == NULL || pdf.len != 1)
		abort();
	buf_free(&pdf);
	free(copy);
	return (0);
}
