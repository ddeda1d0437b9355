/*
 * The certificate PDF (src/training/cert_pdf.c), read back by tools that
 * are not ours (poppler-utils and zbar-tools, which scripts/install-deps
 * installs; a test whose tool is missing skips, saying so):
 *
 * - a certificate for a Polish name, a Greek name and a very long name:
 *   pdftotext gives back every field (the names exactly), and the QR code
 *   in pdftoppm's PNG of the page decodes (zbarimg) to the verification
 *   URL;
 * - no accreditation line when none is given, its text when one is;
 * - a hostile name ("(", ")", "\", "%PDF", line breaks, direction marks)
 *   is printed as text and the PDF stays valid (pdfinfo, one page);
 * - the logo is drawn (pdfimages), a damaged one refused, never an abort;
 *   cert_pdf_logo_check takes what the render takes and refuses the rest;
 * - a revoked certificate says REVOKED and when, its QR code still reads;
 *   one that never expires says so and has no validity sentence;
 * - a name or number too long for its place, or past CERT_PDF_TEXT_MAX
 *   bytes, is printed smaller, then cut at a character with an ellipsis:
 *   pdftotext reads well-formed UTF-8 with its start;
 * - bad fields are refused naming the field; a failure leaves the output
 *   buffer as it was;
 * - renders in threads side by side give the bytes of one alone.
 */
#include <ctype.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <png.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/pdf_font.h"
#include "core/util.h"
#include "training/cert_pdf.h"

#define URL    "https://certs.example.org/verify/NFA-2026-000123?c=7Kq2"
#define POLISH "Zażółć Gęślą Jaźń"
#define GREEK  "Αλέξανδρος Παπαδόπουλος"
#define LONG                                                                   \
	"Maria-Magdalena Alexandra Konstantinopoulou-Wiśniewska de la "       \
	"Cruz y Fernández-Montgomery Ó Súilleabháin Bartholomew "          \
	"Nightingale-Worthington"
#define THREADS 4

static char tmpdir[64];

/* A certificate with every field; the caller changes what it tests. */
static struct cert_pdf_in
sample(void)
{
	struct cert_pdf_in in;

	memset(&in, 0, sizeof(in));
	in.provider_name = "Northern First Aid Training Ltd";
	in.learner_name = POLISH;
	in.qualification = "Emergency First Aid at Work";
	in.course_start = "2026-03-09";
	in.course_end = "2026-03-11";
	in.course_minutes = 18 * 60;
	in.certificate_number = "NFA-2026-000123";
	in.issue_date = "2026-03-11";
	in.expiry_date = "2029-03-10";
	in.validity_years = 3;
	in.trainer_name = GREEK;
	in.verify_url = URL;
	return (in);
}

/*
 * Run argv with stdout to the file out (or /dev/null), stderr to
 * /dev/null (poppler warns of libharu's ToUnicode CMap); its exit status,
 * 127 when it cannot be run.
 */
static int
run(const char *out, char *const argv[])
{
	pid_t pid;
	int   st;

	fflush(NULL);
	if ((pid = fork()) == 0) {
		if (freopen(out != NULL ? out : "/dev/null", "w", stdout) ==
			NULL ||
		    freopen("/dev/null", "w", stderr) == NULL)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return (-1);
	return (WEXITSTATUS(st));
}

/* Skip the test when tool is not installed. */
static void
need(const char *tool)
{
	char  name[64];
	char *argv[] = { (char *)"sh", (char *)"-c",
		(char *)"command -v \"$0\"", name, NULL };

	snprintf(name, sizeof(name), "%s", tool);

	if (run(NULL, argv) != 0) {
		print_message(
		    "%s is not installed (scripts/install-deps)\n", tool);
		skip();
	}
}

/* The whole file at path, NUL-terminated (free it). */
static char *
slurp(const char *path)
{
	FILE  *f = fopen(path, "rb");
	char  *s;
	long   n;
	size_t got;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	s = malloc((size_t)n + 1);
	assert_non_null(s);
	got = fread(s, 1, (size_t)n, f);
	fclose(f);
	s[got] = '\0';
	return (s);
}

/* Runs of blanks (line breaks too) as one space, in place. */
static char *
squeeze(char *s)
{
	char *r = s, *w = s;
	int   blank = 0;

	for (; *r != '\0'; r++) {
		if (isspace((unsigned char)*r) || *r == '\f') {
			blank = 1;
			continue;
		}
		if (blank && w != s)
			*w++ = ' ';
		blank = 0;
		*w++ = *r;
	}
	*w = '\0';
	return (s);
}

/* Render in, which must succeed, to the file name (under tmpdir). */
static void
render_to(
    const struct cert_pdf_in *in, const char *name, char *path, size_t size)
{
	struct buf  pdf;
	const char *why = NULL;
	FILE	   *f;

	buf_init(&pdf, CERT_PDF_MAX);
	assert_int_equal(cert_pdf_render(in, &pdf, &why), OK);
	assert_null(why);
	assert_memory_equal(pdf.data, "%PDF-", 5);
	snprintf(path, size, "%s/%s.pdf", tmpdir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(pdf.data, 1, pdf.len, f), pdf.len);
	fclose(f);
	buf_free(&pdf);
}

/* pdftotext's text of the PDF at path, blanks squeezed (free it). */
static char *
text_of(char *path)
{
	char  out[160];
	char *argv[] = { (char *)"pdftotext", path, out, NULL };

	snprintf(out, sizeof(out), "%s.txt", path);
	assert_int_equal(run(NULL, argv), 0);
	return (squeeze(slurp(out)));
}

/* The QR code on the page, as zbarimg reads it from a 150 dpi PNG. */
static char *
qr_of(char *path)
{
	char  prefix[160], png[180], out[180];
	char *ppm[] = { (char *)"pdftoppm", (char *)"-png", (char *)"-r",
		(char *)"150", path, prefix, NULL };
	char *zbar[] = { (char *)"zbarimg", (char *)"--raw", (char *)"-q", png,
		NULL };
	char *s;

	snprintf(prefix, sizeof(prefix), "%s.page", path);
	snprintf(png, sizeof(png), "%s-1.png", prefix);
	snprintf(out, sizeof(out), "%s.qr", path);
	assert_int_equal(run(NULL, ppm), 0);
	assert_int_equal(run(out, zbar), 0);
	s = slurp(out);
	s[strcspn(s, "\n")] = '\0';
	return (s);
}

static void
assert_has(const char *text, const char *want)
{
	char *w = squeeze(strdup(want));

	if (strstr(text, w) == NULL)
		fail_msg("\"%s\" is not in the PDF's text: %s", w, text);
	free(w);
}

/*
 * The fonts are config pdf_font and pdf_font_bold (core/pdf_font.h): one
 * that cannot be loaded refuses the render (out as it was), and the
 * start-up check names the setting.
 */
static void
test_fonts_missing(void **state)
{
	struct cert_pdf_in in = sample();
	struct buf	   pdf;
	const char	  *why = NULL;
	char		   line[512];

	(void)state;
	buf_init(&pdf, CERT_PDF_MAX);
	assert_int_equal(buf_append(&pdf, "kept", 4), OK);
	config.pdf_font_bold = "/nonexistent/DejaVuSans-Bold.ttf";
	assert_int_equal(cert_pdf_render(&in, &pdf, &why), ERR_UNAVAILABLE);
	assert_non_null(strstr(why, "pdf_font"));
	assert_int_equal(pdf.len, 4);
	assert_int_equal(pdf_font_check(line, sizeof(line)), ERR_CONFIG);
	assert_non_null(strstr(line, "pdf_font_bold: cannot open"));
	assert_non_null(strstr(line, "/nonexistent/DejaVuSans-Bold.ttf"));
	config.pdf_font_bold = NULL;
	config.pdf_font = "/etc/hostname";
	assert_int_equal(pdf_font_check(line, sizeof(line)), ERR_CONFIG);
	assert_non_null(strstr(line, "pdf_font: /etc/hostname is not a "));
	assert_int_equal(cert_pdf_render(&in, &pdf, &why), ERR_UNAVAILABLE);
	config.pdf_font = NULL;
	/* The defaults: Debian's DejaVu Sans. */
	assert_int_equal(pdf_font_check(line, sizeof(line)), OK);
	assert_int_equal(cert_pdf_render(&in, &pdf, &why), OK);
	assert_memory_equal(pdf.data, "kept%PDF-", 9);
	buf_free(&pdf);
}

/* Every field read back, names exactly, and the QR code. */
static void
check_fields(const struct cert_pdf_in *in, const char *name)
{
	char path[128], *text, *qr;
	char hours_line[] = "Course dates: 9 March 2026 to 11 March 2026 "
			    "(18 hours of training)";
	const char *const want[] = { in->provider_name, in->learner_name,
		in->qualification, in->certificate_number, in->trainer_name,
		"Certificate of Competence", "This is to certify that",
		"attended the course and was assessed as competent in",
		hours_line,
		"This certificate is valid for 3 years from the date of issue.",
		"Date of issue: 11 March 2026", "Expiry date: 10 March 2029",
		"Verify this certificate at " URL };
	size_t		  i;

	need("pdftotext");
	need("pdftoppm");
	need("zbarimg");
	render_to(in, name, path, sizeof(path));
	text = text_of(path);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_has(text, want[i]);
	free(text);
	qr = qr_of(path);
	assert_string_equal(qr, URL);
	free(qr);
}

static void
test_polish_name(void **state)
{
	struct cert_pdf_in in = sample();

	(void)state;
	check_fields(&in, "polish");
}

static void
test_greek_name(void **state)
{
	struct cert_pdf_in in = sample();

	(void)state;
	in.learner_name = GREEK;
	in.trainer_name = POLISH;
	check_fields(&in, "greek");
}

static void
test_long_name(void **state)
{
	struct cert_pdf_in in = sample();

	(void)state;
	in.learner_name = LONG;
	in.qualification = "Level 3 Award in First Aid at Work (RQF) with "
			   "Paediatric First Aid, Catastrophic Bleeding and "
			   "Automated External Defibrillator Requalification";
	check_fields(&in, "long");
}

/* 1 when s is well-formed UTF-8 throughout. */
static int
utf8_whole(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t		     n = strlen(s), len;
	uint32_t	     cp;

	for (; n > 0; p += len, n -= len)
		if ((len = utf8_decode(p, n, &cp)) == 0)
			return (0);
	return (1);
}

/*
 * Names of two-byte capitals too wide for their places even at the
 * smallest size (the learner's 300, the trainer's 201 characters), and a
 * learner's name past CERT_PDF_TEXT_MAX bytes: printed, each cut at a
 * character and ending in an ellipsis, the text well-formed UTF-8.
 */
static void
test_cut_with_ellipsis(void **state)
{
	struct cert_pdf_in in = sample();
	char		   learner[300 * 2 + 1], trainer[201 * 2 + 1];
	char   big[CERT_PDF_TEXT_MAX + 4], number[CERT_PDF_TEXT_MAX + 1];
	char   path[128], *text;
	size_t i;
	int    pass;

	(void)state;
	need("pdftotext");
	for (i = 0; i < 300; i++)
		memcpy(learner + 2 * i, i % 2 ? "\xc5\x83" : "\xce\x9c", 2);
	learner[600] = '\0'; /* "ΜŃΜŃ..." */
	/* 100 Ω, a space, then 100 more */
	for (i = 0; i < 100; i++)
		memcpy(trainer + 2 * i, "\xce\xa9", 2);
	trainer[200] = ' ';
	for (i = 0; i < 100; i++)
		memcpy(trainer + 201 + 2 * i, "\xce\xa9", 2);
	trainer[401] = '\0';
	/* Past the bound: two-byte letters, the cut falling inside one. */
	for (i = 0; i < CERT_PDF_TEXT_MAX + 2; i += 2)
		memcpy(big + i, "\xc5\x81", 2); /* Ł */
	big[i] = '\0';
	memset(number, 'W', sizeof(number) - 1);
	number[sizeof(number) - 1] = '\0';
	for (pass = 0; pass < 2; pass++) {
		in = sample();
		in.learner_name = pass == 0 ? learner : big;
		in.trainer_name = trainer;
		in.certificate_number = number;
		render_to(
		    &in, pass == 0 ? "cut" : "cut-big", path, sizeof(path));
		text = text_of(path);
		/* slurp and squeeze keep the bytes: check them. */
		assert_true(utf8_whole(text));
		assert_has(text,
		    pass == 0 ? "\xce\x9c\xc5\x83\xce\x9c\xc5\x83"
			      : "\xc5\x81\xc5\x81\xc5\x81\xc5\x81");
		assert_has(text, "Trainer: \xce\xa9\xce\xa9\xce\xa9");
		assert_has(text, "WWWWWWWWWW");
		assert_has(text, "\xe2\x80\xa6");
		assert_null(strstr(text, "\xef\xbf\xbd"));
		free(text);
	}
}

static void
test_accreditation_only_when_set(void **state)
{
	struct cert_pdf_in in = sample();
	char		   path[128], *text, *p;

	(void)state;
	need("pdftotext");
	render_to(&in, "plain", path, sizeof(path));
	text = text_of(path);
	for (p = text; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	assert_null(strstr(text, "accredit"));
	assert_null(strstr(text, "approved"));
	assert_null(strstr(text, "centre"));
	free(text);

	in.accreditation = "Approved centre of Example Awarding Body, "
			   "number 12345";
	render_to(&in, "accredited", path, sizeof(path));
	text = text_of(path);
	assert_has(text, in.accreditation);
	free(text);
}

static void
test_hostile_name(void **state)
{
	struct cert_pdf_in in = sample();
	char		   path[128], info[160], *text, *s, *p;
	char		  *argv[] = { (char *)"pdfinfo", path, NULL };

	(void)state;
	need("pdftotext");
	need("pdfinfo");
	in.learner_name = "O'Brien (x) \\ %PDF-1.7 %%EOF\n"
			  "endobj\r\n\t>> /JavaScript \xe2\x80\x8f"
			  "\xe2\x80\xae"
			  "Evil) \xe2\x81\xa6";
	in.trainer_name = "(\\)\\\\(";
	render_to(&in, "hostile", path, sizeof(path));
	snprintf(info, sizeof(info), "%s.info", path);
	assert_int_equal(run(info, argv), 0);
	s = slurp(info);
	assert_non_null(p = strstr(s, "\nPages:"));
	assert_int_equal(strtol(p + 7, NULL, 10), 1);
	free(s);
	text = text_of(path);
	/* Breaks as spaces, the direction marks left out. */
	assert_has(
	    text, "O'Brien (x) \\ %PDF-1.7 %%EOF endobj >> /JavaScript Evil)");
	assert_has(text, "Trainer: (\\)\\\\(");
	free(text);
}

/* A 40 x 20 PNG, red, half transparent (free it). */
static void *
make_png(size_t *len)
{
	png_image	 im;
	unsigned char	 px[40 * 20 * 4];
	void		*mem;
	png_alloc_size_t n = 0;
	size_t		 i;

	for (i = 0; i < sizeof(px); i += 4)
		px[i] = 200, px[i + 1] = 0, px[i + 2] = 0, px[i + 3] = 128;
	memset(&im, 0, sizeof(im));
	im.version = PNG_IMAGE_VERSION;
	im.width = 40;
	im.height = 20;
	im.format = PNG_FORMAT_RGBA;
	assert_true(png_image_write_to_memory(&im, NULL, &n, 0, px, 0, NULL));
	mem = malloc(n);
	assert_non_null(mem);
	assert_true(png_image_write_to_memory(&im, mem, &n, 0, px, 0, NULL));
	*len = n;
	return (mem);
}

static void
test_logo(void **state)
{
	struct cert_pdf_in in = sample();
	struct buf	   pdf;
	char		   path[128], list[160], *s;
	char *argv[] = { (char *)"pdfimages", (char *)"-list", path, NULL };
	unsigned char *png;
	const char    *why = NULL;
	size_t	       len;

	(void)state;
	need("pdfimages");
	png = make_png(&len);
	in.logo_png = png;
	in.logo_png_len = len;
	render_to(&in, "logo", path, sizeof(path));
	snprintf(list, sizeof(list), "%s.images", path);
	assert_int_equal(run(list, argv), 0);
	s = slurp(list);
	/* "   1     0 image      40    20  rgb     3   8  ..." */
	assert_non_null(strstr(s, "image      40    20  rgb"));
	free(s);

	/* Damaged: cut short, then a byte changed in its header. */
	buf_init(&pdf, CERT_PDF_MAX);
	buf_puts(&pdf, "kept");
	in.logo_png_len = len / 2;
	assert_int_equal(cert_pdf_render(&in, &pdf, &why), ERR_INVALID);
	assert_non_null(strstr(why, "logo_png"));
	png[20] ^= 0xff;
	in.logo_png_len = len;
	assert_int_equal(cert_pdf_render(&in, &pdf, &why), ERR_INVALID);
	in.logo_png = (const unsigned char *)"not a png at all";
	in.logo_png_len = 16;
	assert_int_equal(cert_pdf_render(&in, &pdf, &why), ERR_INVALID);
	assert_string_equal(pdf.data, "kept");
	buf_free(&pdf);
	free(png);
}

/* What the render takes as a logo, the check takes; not the rest. */
static void
test_logo_check(void **state)
{
	unsigned char *png;
	const char    *why = NULL;
	size_t	       len;

	(void)state;
	png = make_png(&len);
	assert_int_equal(cert_pdf_logo_check(png, len, &why), OK);
	assert_null(why);
	assert_int_equal(cert_pdf_logo_check(png, 20, &why), ERR_INVALID);
	assert_non_null(strstr(why, "logo_png"));
	assert_int_equal(cert_pdf_logo_check(png, 0, &why), ERR_INVALID);
	assert_int_equal(
	    cert_pdf_logo_check(png, CERT_PDF_LOGO_MAX + 1, &why), ERR_INVALID);
	assert_non_null(strstr(why, "logo_png is too long"));
	assert_int_equal(cert_pdf_logo_check((const unsigned char *)"GIF89a, "
								    "not a PNG",
			     16, &why),
	    ERR_INVALID);
	free(png);
}

/*
 * Revoked: the line that says so and when, above everything, and the
 * word across the page; the QR code still reads. Not revoked: no such
 * word anywhere.
 */
static void
test_revoked(void **state)
{
	struct cert_pdf_in in = sample();
	char		   path[128], *text, *qr;

	(void)state;
	need("pdftotext");
	need("pdftoppm");
	need("zbarimg");
	render_to(&in, "valid", path, sizeof(path));
	text = text_of(path);
	assert_null(strstr(text, "REVOKED"));
	assert_null(strstr(text, "not valid"));
	free(text);
	in.revoked_date = "2026-05-12";
	render_to(&in, "revoked", path, sizeof(path));
	text = text_of(path);
	assert_has(
	    text, "REVOKED on 12 May 2026: this certificate is not valid");
	assert_has(text, POLISH);
	free(text);
	/* The word across the page as well as the line: in the content's
	 * order (-raw), as its rotated letters are not a line of the page. */
	{
		char  out[160];
		char *argv[] = { (char *)"pdftotext", (char *)"-raw", path, out,
			NULL };

		snprintf(out, sizeof(out), "%s.raw", path);
		assert_int_equal(run(NULL, argv), 0);
		text = squeeze(slurp(out));
		assert_non_null(
		    strstr(text, "this certificate is not valid REVOKED"));
		free(text);
	}
	qr = qr_of(path);
	assert_string_equal(qr, URL);
	free(qr);
}

/* validity 0 and no expiry date: "Does not expire", no validity line. */
static void
test_never_expires(void **state)
{
	struct cert_pdf_in in = sample();
	char		   path[128], *text;

	(void)state;
	need("pdftotext");
	in.validity_years = 0;
	in.expiry_date = NULL;
	render_to(&in, "forever", path, sizeof(path));
	text = text_of(path);
	assert_has(text, "Expiry date: Does not expire");
	assert_null(strstr(text, "valid for"));
	assert_has(text, "Date of issue: 11 March 2026");
	free(text);
}

/* Each case: one field changed, the message it must be refused with. */
static void
test_refusals(void **state)
{
	struct cert_pdf_in in;
	struct buf	   pdf;
	const char	  *why;
	char big[CERT_PDF_TEXT_MAX + 2], url[CERT_PDF_URL_MAX + 1];
	int  i;

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(url, "https://", 8);
	memset(url + 8, 'W', sizeof(url) - 9);
	url[sizeof(url) - 1] = '\0';
	buf_init(&pdf, CERT_PDF_MAX);
	buf_puts(&pdf, "kept");
	for (i = 0;; i++) {
		const char *want;

		in = sample();
		switch (i) {
		case 0:
			in.learner_name = "Zaż\xf3\xb3";
			want = "learner_name is not UTF-8";
			break;
		case 1:
			in.learner_name = big; /* cut: test_cut_with_ellipsis */
			in.verify_url = "https://x/\x7f";
			want = "verify_url is not an http(s) URL";
			break;
		case 2:
			in.learner_name = " \xe2\x80\x8f\n\xe2\x80\xae ";
			want = "learner_name is required";
			break;
		case 3:
			in.qualification = NULL;
			want = "qualification is required";
			break;
		case 4:
			in.course_start = "2026-02-30";
			want = "course_start is not a date (YYYY-MM-DD)";
			break;
		case 5:
			in.course_end = "2026-03-08";
			want = "course_end is not a date";
			break;
		case 6:
			in.expiry_date = "2026-03-11";
			want = "expiry_date is not a date";
			break;
		case 7:
			in.verify_url = "javascript:alert(1)";
			want = "verify_url is not an http(s) URL";
			break;
		case 8:
			in.verify_url = "https://example.org/a b";
			want = "verify_url is not an http(s) URL";
			break;
		case 9:
			in.course_minutes = 0;
			want = "course_minutes is out of range";
			break;
		case 10:
			in.validity_years = CERT_PDF_YEARS_MAX + 1;
			want = "validity_years is out of range";
			break;
		case 12:
			in.validity_years = 0; /* an expiry date given */
			want = "validity_years is out of range";
			break;
		case 13:
			in.expiry_date = NULL; /* valid for 3 years */
			want = "expiry_date is required";
			break;
		case 14:
			in.revoked_date = "2026-13-01";
			want = "revoked_date is not a date";
			break;
		case 15:
			in.validity_years = -1;
			want = "validity_years is out of range";
			break;
		case 11:
			/* The URL is never cut: past its place, refused. */
			in.verify_url = url;
			want = "verify_url does not fit on the certificate";
			break;
		default:
			want = NULL;
		}
		if (want == NULL)
			break;
		why = NULL;
		assert_int_equal(cert_pdf_render(&in, &pdf, &why), ERR_INVALID);
		assert_non_null(why);
		if (strncmp(why, want, strlen(want)) != 0)
			fail_msg("case %d: \"%s\", not \"%s\"", i, why, want);
	}
	assert_string_equal(pdf.data, "kept");
	buf_free(&pdf);

	/* A ceiling too low for the PDF. */
	in = sample();
	buf_init(&pdf, 1000);
	assert_int_equal(cert_pdf_render(&in, &pdf, &why), ERR_TOO_LARGE);
	assert_int_equal(pdf.len, 0);
	buf_free(&pdf);
}

struct job {
	struct buf pdf;
	int	   rc;
};

static void *
render_job(void *arg)
{
	struct job	  *j = arg;
	struct cert_pdf_in in = sample();
	const char	  *why;

	j->rc = cert_pdf_render(&in, &j->pdf, &why);
	return (NULL);
}

static void
test_threads(void **state)
{
	struct job	   jobs[THREADS];
	pthread_t	   th[THREADS];
	struct cert_pdf_in in = sample();
	struct buf	   one;
	const char	  *why;
	int		   i;

	(void)state;
	buf_init(&one, CERT_PDF_MAX);
	assert_int_equal(cert_pdf_render(&in, &one, &why), OK);
	for (i = 0; i < THREADS; i++) {
		buf_init(&jobs[i].pdf, CERT_PDF_MAX);
		assert_int_equal(
		    pthread_create(&th[i], NULL, render_job, &jobs[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(jobs[i].rc, OK);
		assert_int_equal(jobs[i].pdf.len, one.len);
		assert_memory_equal(jobs[i].pdf.data, one.data, one.len);
		buf_free(&jobs[i].pdf);
	}
	buf_free(&one);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/carebase-cert.XXXXXX");
	return (mkdtemp(tmpdir) == NULL ? -1 : 0);
}

static int
teardown(void **state)
{
	char *const argv[] = { (char *)"rm", (char *)"-rf", tmpdir, NULL };

	(void)state;
	return (getenv("KEEP") ? 0 : run(NULL, argv));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fonts_missing),
		cmocka_unit_test(test_polish_name),
		cmocka_unit_test(test_greek_name),
		cmocka_unit_test(test_long_name),
		cmocka_unit_test(test_cut_with_ellipsis),
		cmocka_unit_test(test_accreditation_only_when_set),
		cmocka_unit_test(test_hostile_name),
		cmocka_unit_test(test_logo),
		cmocka_unit_test(test_logo_check),
		cmocka_unit_test(test_revoked),
		cmocka_unit_test(test_never_expires),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_threads),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
