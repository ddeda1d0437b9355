/*
 * The report table writers (src/core/table*.c): CSV byte for byte (the
 * byte-order mark, RFC 4180 quoting, formulas defused), an XLSX of every
 * column type read back cell by cell by openpyxl (tests/unit/
 * table_read.py: values and types, money a number in a currency format,
 * dates dates), and a three-page PDF read back by pdftotext (the header on
 * every page, the totals, Polish and Greek text). The XLSX writer's
 * private directory is gone afterwards, whether it succeeded or not.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/money.h"
#include "core/table.h"
#include "core/util.h"

#define POLISH "Zażółć gęślą jaźń"
#define GREEK  "Καλημέρα κόσμε"
#define MB     (64u * 1024 * 1024)

static void
ok(int rc)
{
	assert_int_equal(rc, OK);
}

/* Days since 1970-01-01 of an ISO date. */
static int64_t
day_of(const char *iso)
{
	int64_t ms;

	assert_int_equal(time_parse_iso(iso, &ms), 0);
	return (ms / TIME_DAY_MS);
}

static int64_t
ms_of(const char *iso)
{
	int64_t ms;

	assert_int_equal(time_parse_iso(iso, &ms), 0);
	return (ms);
}

/* Every column type, three rows and two totals rows (GBP, KWD). */
static struct table *
sample(void)
{
	struct table *t = table_new("Revenue — " POLISH);

	assert_non_null(t);
	ok(table_column_add(t, "course", TABLE_TEXT));
	ok(table_column_add(t, "bookings", TABLE_INT));
	ok(table_column_add(t, "net", TABLE_MONEY));
	ok(table_column_add(t, "start", TABLE_DATE));
	ok(table_column_add(t, "paid_at", TABLE_DATETIME));
	ok(table_column_add(t, "pass_rate", TABLE_PERCENT));
	ok(table_row_add(t));
	ok(table_set_text(t, 0, "=HYPERLINK(\"http://x\")"));
	ok(table_set_int(t, 1, 12));
	ok(table_set_money(t, 2, 123456, "GBP"));
	ok(table_set_date(t, 3, day_of("2026-03-15")));
	ok(table_set_datetime(t, 4, ms_of("2026-03-15T09:30:00Z")));
	ok(table_set_percent(t, 5, 0.875));
	ok(table_row_add(t));
	ok(table_set_text(t, 0, GREEK ", \"quoted\"\nline"));
	ok(table_set_int(t, 1, -3));
	ok(table_set_money(t, 2, -1500, "JPY"));
	ok(table_set_date(t, 3, day_of("1899-12-31")));
	/* paid_at and pass_rate left empty */
	ok(table_row_add(t));
	ok(table_set_text(t, 0, POLISH));
	ok(table_set_money(t, 2, 1250, "KWD"));
	ok(table_totals_add(t));
	ok(table_set_text(t, 0, "Total"));
	ok(table_set_int(t, 1, 9));
	ok(table_set_money(t, 2, 121956, "GBP"));
	ok(table_set_percent(t, 5, 0.5));
	ok(table_totals_add(t));
	ok(table_set_text(t, 0, "Total"));
	ok(table_set_money(t, 2, 1250, "KWD"));
	return (t);
}

static void
test_model_refuses(void **state)
{
	struct table *t = table_new("x");

	(void)state;
	ok(table_column_add(t, "a", TABLE_INT));
	assert_int_equal(table_set_int(t, 0, 1), ERR_INVALID); /* no row */
	ok(table_row_add(t));
	assert_int_equal(table_set_text(t, 0, "1"), ERR_INVALID); /* type */
	assert_int_equal(table_set_int(t, 1, 1), ERR_INVALID);	  /* column */
	assert_int_equal(table_column_add(t, "b", TABLE_INT), ERR_INVALID);
	ok(table_totals_add(t));
	ok(table_totals_add(t)); /* one a currency, say */
	assert_int_equal(table_totals(t), 2);
	assert_int_equal(table_rows(t), 1);
	assert_int_equal(table_row_add(t), ERR_INVALID);
	table_free(t);
	t = table_new("x");
	ok(table_column_add(t, "d", TABLE_DATE));
	ok(table_column_add(t, "p", TABLE_PERCENT));
	ok(table_row_add(t));
	assert_int_equal(table_set_date(t, 0, 3000000), ERR_INVALID);
	assert_int_equal(table_set_percent(t, 1, 0.0 / 0.0), ERR_INVALID);
	table_free(t);
}

static void
test_money(void **state)
{
	char s[32];

	(void)state;
	money_decimal(-5, "GBP", s, sizeof(s));
	assert_string_equal(s, "-0.05");
	money_decimal(1200, "JPY", s, sizeof(s));
	assert_string_equal(s, "1200");
	money_decimal(1250, "KWD", s, sizeof(s));
	assert_string_equal(s, "1.250");
	money_decimal(INT64_MIN, "GBP", s, sizeof(s));
	assert_string_equal(s, "-92233720368547758.08");
	money_format(7500, "GBP", s, sizeof(s));
	assert_string_equal(s, "75.00 GBP");
}

static void
test_csv(void **state)
{
	struct table *t = sample();
	struct buf    b;
	const char   *want =
	    "\xef\xbb\xbf"
	    "course,bookings,net,start,paid_at,pass_rate\r\n"
	    "\"'=HYPERLINK(\"\"http://x\"\")\",12,1234.56,2026-03-15,"
	    "2026-03-15T09:30:00.000Z,87.50%\r\n"
	    "\"" GREEK ", \"\"quoted\"\"\nline\",-3,-1500,1899-12-31,,\r\n"
	    "" POLISH ",,1.250,,,\r\n"
	    "Total,9,1219.56,,,50.00%\r\n"
	    "Total,,1.250,,,\r\n";
	static const char *const defused[] = { "=1+2", "+1", "-1", "@SUM(A1)",
		"\tx", "\rx" };
	size_t			 i;

	(void)state;
	buf_init(&b, MB);
	ok(table_csv(t, &b));
	assert_string_equal(b.data, want);
	table_free(t);
	/* Every character a spreadsheet starts a formula with is defused. */
	for (i = 0; i < sizeof(defused) / sizeof(defused[0]); i++) {
		buf_reset(&b);
		ok(table_csv_text(&b, defused[i]));
		assert_int_equal(b.data[0], '"');
		assert_int_equal(b.data[1], '\'');
		assert_memory_equal(b.data + 2, defused[i], strlen(defused[i]));
	}
	buf_reset(&b);
	ok(table_csv_text(&b, "plain"));
	assert_string_equal(b.data, "plain");
	/* A note: a last row as wide as the others, its first cell. */
	buf_free(&b);
	t = sample();
	buf_init(&b, MB);
	ok(table_note_set(t, "Counts from 1 to 4 are withheld, and =totals"));
	assert_string_equal(
	    table_note(t), "Counts from 1 to 4 are withheld, and =totals");
	ok(table_csv(t, &b));
	assert_non_null(strstr(b.data,
	    "Total,,1.250,,,\r\n"
	    "\"Counts from 1 to 4 are withheld, and =totals\",,,,,\r\n"));
	assert_int_equal(b.data[b.len - 1], '\n');
	ok(table_note_set(t, NULL));
	assert_null(table_note(t));
	buf_free(&b);
	table_free(t);
	/* Past the ceiling: ERR_TOO_LARGE, not a cut file. */
	t = sample();
	buf_init(&b, 40);
	assert_int_equal(table_csv(t, &b), ERR_TOO_LARGE);
	buf_free(&b);
	table_free(t);
}

/* A fresh directory for TMPDIR; 1 if it is empty. */
static int
dir_empty(const char *dir)
{
	struct dirent *e;
	DIR	      *d = opendir(dir);
	int	       n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n +=
		    strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return (n == 0);
}

/* Write data to dir/name; the path into path. */
static void
file_put(const char *dir, const char *name, const struct buf *b, char *path,
    size_t n)
{
	FILE *f;

	snprintf(path, n, "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(b->data, 1, b->len, f), b->len);
	fclose(f);
}

/* The output of a command (NUL-terminated, malloc'd); its status 0. */
static char *
run(const char *cmd)
{
	struct buf b;
	char	   chunk[4096];
	size_t	   n;
	FILE	  *p;

	buf_init(&b, MB);
	assert_non_null(p = popen(cmd, "r"));
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		ok(buf_append(&b, chunk, n));
	if (pclose(p) != 0)
		fail_msg("%s failed: %s", cmd, b.data != NULL ? b.data : "");
	return (buf_take(&b, &n));
}

/* Row r, column c of the reader's answer. */
static json_t *
at(json_t *doc, size_t r, size_t c)
{
	json_t *v =
	    json_array_get(json_array_get(json_object_get(doc, "rows"), r), c);

	if (v == NULL)
		fail_msg("no cell %zu,%zu", r, c);
	return (v);
}

static const char *
str(json_t *cell, const char *key)
{
	const char *s = json_string_value(json_object_get(cell, key));

	return (s != NULL ? s : "(null)");
}

static void
is_number(json_t *cell, double v, const char *fmt)
{
	assert_string_equal(str(cell, "t"), "n");
	if (!json_is_number(json_object_get(cell, "v")) ||
	    json_number_value(json_object_get(cell, "v")) != v)
		fail_msg("%s is not %g", json_dumps(cell, 0), v);
	assert_string_equal(str(cell, "fmt"), fmt);
}

static void
is_date(json_t *cell, const char *iso, const char *fmt)
{
	assert_true(json_is_true(json_object_get(cell, "date")));
	assert_string_equal(str(cell, "t"), "d");
	assert_string_equal(str(cell, "v"), iso);
	assert_string_equal(str(cell, "fmt"), fmt);
}

static void
is_text(json_t *cell, const char *s)
{
	assert_string_equal(str(cell, "t"), "s");
	assert_string_equal(str(cell, "v"), s);
}

static void
is_empty(json_t *cell)
{
	assert_true(json_is_null(json_object_get(cell, "v")));
}

static void
test_xlsx_read_back(void **state)
{
	struct table *t = sample();
	struct buf    b;
	json_t	     *doc, *c;
	char	      dir[] = "/tmp/carebase-test-table.XXXXXX", path[256];
	char	      cmd[512], *out;
	size_t	      j;

	(void)state;
	assert_non_null(mkdtemp(dir));
	setenv("TMPDIR", dir, 1);
	buf_init(&b, MB);
	ok(table_xlsx(t, &b));
	assert_true(dir_empty(dir)); /* the writer's files are gone */
	assert_memory_equal(b.data, "PK\x03\x04", 4);
	file_put(dir, "t.xlsx", &b, path, sizeof(path));
	snprintf(cmd, sizeof(cmd),
	    "/usr/bin/python3 tests/unit/table_read.py %s", path);
	out = run(cmd);
	assert_non_null(doc = json_loads(out, 0, NULL));
	free(out);
	assert_string_equal(
	    json_string_value(json_object_get(doc, "freeze")), "A2");
	assert_string_equal(json_string_value(json_object_get(doc, "title")),
	    "Revenue — " POLISH);
	/* The header: text, bold. */
	for (j = 0; j < 6; j++) {
		c = at(doc, 0, j);
		assert_string_equal(str(c, "t"), "s");
		assert_true(json_is_true(json_object_get(c, "bold")));
	}
	is_text(at(doc, 0, 5), "pass_rate");
	/* A text that looks like a formula stays text. */
	is_text(at(doc, 1, 0), "=HYPERLINK(\"http://x\")");
	is_number(at(doc, 1, 1), 12, "0");
	is_number(at(doc, 1, 2), 1234.56, "#,##0.00 \"GBP\"");
	is_date(at(doc, 1, 3), "2026-03-15T00:00:00", "yyyy-mm-dd");
	is_date(at(doc, 1, 4), "2026-03-15T09:30:00", "yyyy-mm-dd hh:mm:ss");
	is_number(at(doc, 1, 5), 0.875, "0.00%");
	assert_false(json_is_true(json_object_get(at(doc, 1, 1), "bold")));
	is_text(at(doc, 2, 0), GREEK ", \"quoted\"\nline");
	is_number(at(doc, 2, 1), -3, "0");
	is_number(at(doc, 2, 2), -1500, "#,##0 \"JPY\"");
	is_text(at(doc, 2, 3), "1899-12-31"); /* before Excel's dates */
	is_empty(at(doc, 2, 4));
	is_empty(at(doc, 2, 5));
	is_text(at(doc, 3, 0), POLISH);
	is_number(at(doc, 3, 2), 1.25, "#,##0.000 \"KWD\"");
	/* The totals: bold, typed. */
	is_text(at(doc, 4, 0), "Total");
	is_number(at(doc, 4, 2), 1219.56, "#,##0.00 \"GBP\"");
	is_number(at(doc, 4, 5), 0.5, "0.00%");
	assert_true(json_is_true(json_object_get(at(doc, 4, 2), "bold")));
	/* The second totals row, in its own currency's format, bold. */
	is_text(at(doc, 5, 0), "Total");
	is_number(at(doc, 5, 2), 1.25, "#,##0.000 \"KWD\"");
	assert_true(json_is_true(json_object_get(at(doc, 5, 2), "bold")));
	/* Columns as wide as their widest cell. */
	assert_true(json_number_value(json_object_get(
			json_object_get(doc, "widths"), "A")) > 20);
	json_decref(doc);
	unlink(path);
	/* Past the ceiling: ERR_TOO_LARGE, and nothing left behind. */
	buf_free(&b);
	buf_init(&b, 100);
	assert_int_equal(table_xlsx(t, &b), ERR_TOO_LARGE);
	assert_true(dir_empty(dir));
	buf_free(&b);
	table_free(t);
	rmdir(dir);
	unsetenv("TMPDIR");
}

/* The number of times needle is in s. */
static int
count(const char *s, const char *needle)
{
	int n = 0;

	for (; (s = strstr(s, needle)) != NULL; s += strlen(needle))
		n++;
	return (n);
}

static void
test_pdf_read_back(void **state)
{
	struct table *t = table_new("Attendance " GREEK);
	struct buf    b;
	char	      dir[] = "/tmp/carebase-test-pdf.XXXXXX", path[256];
	char	      cmd[512], *out, *all, *page, *next, want[32], name[32];
	int	      i, pages = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	ok(table_column_add(t, "trainee_name", TABLE_TEXT));
	ok(table_column_add(t, "sessions", TABLE_INT));
	ok(table_column_add(t, "fee", TABLE_MONEY));
	ok(table_column_add(t, "passed_on", TABLE_DATE));
	/* Three pages of 35 rows: 80 rows and two totals rows. */
	for (i = 0; i < 80; i++) {
		ok(table_row_add(t));
		snprintf(name, sizeof(name), "row%03d", i);
		ok(table_set_text(t, 0,
		    i == 7	 ? POLISH
			: i == 8 ? GREEK
				 : name));
		ok(table_set_int(t, 1, i));
		ok(table_set_money(t, 2, 1000 + i, "PLN"));
		ok(table_set_date(t, 3, day_of("2026-01-01") + i));
	}
	ok(table_totals_add(t));
	ok(table_set_text(t, 0, "Grand total"));
	ok(table_set_int(t, 1, 3160));
	ok(table_set_money(t, 2, 83160, "PLN"));
	ok(table_totals_add(t));
	ok(table_set_text(t, 0, "Grand total EUR"));
	ok(table_set_money(t, 2, 500, "EUR"));
	buf_init(&b, MB);
	ok(table_pdf(t, &b));
	assert_memory_equal(b.data, "%PDF-", 5);
	file_put(dir, "t.pdf", &b, path, sizeof(path));
	/* (libharu 2.3's ToUnicode maps draw a warning from poppler that
	 * changes nothing it reads: not shown.) */
	snprintf(cmd, sizeof(cmd), "pdftotext -layout %s - 2>/dev/null", path);
	out = run(cmd);
	assert_non_null(all = strdup(out));
	/* pdftotext ends each page with a form feed. */
	for (page = out; (next = strchr(page, '\f')) != NULL; page = next + 1) {
		*next = '\0';
		pages++;
		if (count(page, "trainee_name") != 1 ||
		    count(page, "passed_on") != 1 ||
		    count(page, "Attendance " GREEK) != 1)
			fail_msg(
			    "page %d without its header:\n%s", pages, page);
		snprintf(want, sizeof(want), "Page %d of 3", pages);
		if (strstr(page, want) == NULL)
			fail_msg("page %d without '%s'", pages, want);
	}
	assert_int_equal(pages, 3);
	assert_non_null(strstr(all, POLISH));
	assert_non_null(strstr(all, GREEK));
	assert_non_null(strstr(all, "row079"));
	/* The totals on the last page, after the last row. */
	assert_non_null(page = strchr(strchr(all, '\f') + 1, '\f'));
	assert_non_null(next = strstr(page, "row079"));
	assert_non_null(next = strstr(next, "Grand total"));
	assert_non_null(next = strstr(next, "831.60 PLN"));
	assert_non_null(next = strstr(next, "Grand total EUR"));
	assert_non_null(strstr(next, "5.00 EUR"));
	assert_non_null(strstr(all, "2026-03-21")); /* row 79's date */
	free(all);
	free(out);
	unlink(path);
	rmdir(dir);
	buf_free(&b);
	/* No font, no PDF: ERR_UNAVAILABLE. */
	config.pdf_font = "/nonexistent/font.ttf";
	buf_init(&b, MB);
	assert_int_equal(table_pdf(t, &b), ERR_UNAVAILABLE);
	config.pdf_font = NULL;
	buf_free(&b);
	table_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_refuses),
		cmocka_unit_test(test_money),
		cmocka_unit_test(test_csv),
		cmocka_unit_test(test_xlsx_read_back),
		cmocka_unit_test(test_pdf_read_back),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
