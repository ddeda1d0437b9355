/*
 * A typed table for reports and what writes it: columns with a type, rows
 * of cells, then totals rows (none, one, or one per currency: a money
 * total is never a sum of two currencies); written as CSV (table_csv), XLSX
 * (table_xlsx, libxlsxwriter) or PDF (table_pdf, libharu). The caller
 * fills the table (its totals too: a total is not always a sum) and picks
 * the writer; the JSON of an answer stays the caller's own.
 *
 *	t = table_new("Revenue");
 *	table_column_add(t, "course", TABLE_TEXT);
 *	table_column_add(t, "net", TABLE_MONEY);
 *	table_row_add(t);
 *	table_set_text(t, 0, "First aid at work");
 *	table_set_money(t, 1, 12500, "GBP");
 *	table_totals_add(t);
 *	table_set_text(t, 0, "Total");
 *	...
 *	rc = table_xlsx(t, &b);	(b: a struct buf; its ceiling bounds the file)
 *	table_free(t);
 *
 * Cells are set on the row last added (a row or a totals row); a cell
 * never set is empty in every format. Text is UTF-8; what is not
 * (or is a control character a format cannot hold) is written as U+FFFD
 * in XLSX and PDF and passed as it is in CSV.
 */
#ifndef CORE_TABLE_H
#define CORE_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct table;

enum table_type {
	TABLE_TEXT = 0,
	TABLE_INT,	/* an integer */
	TABLE_MONEY,	/* minor units of an ISO 4217 currency (per cell) */
	TABLE_DATE,	/* a calendar day: days since 1970-01-01 */
	TABLE_DATETIME, /* an instant: ms since the epoch, shown in UTC */
	TABLE_PERCENT	/* a ratio: 0.875 shows as 87.50% */
};

/* Bounds: a table is made by code, not sent by a client. */
#define TABLE_COLUMNS_MAX 64
#define TABLE_CELL_MAX	  32767 /* bytes of one text cell (Excel's bound) */

/* NULL when out of memory. title: the PDF's heading, the XLSX's title. */
struct table *table_new(const char *title);
void	      table_free(struct table *); /* accepts NULL */
/* Before any row: OK, ERR_INVALID past TABLE_COLUMNS_MAX, ERR_NOMEM. */
int    table_column_add(struct table *, const char *name, enum table_type);
size_t table_columns(const struct table *);
size_t table_rows(const struct table *);   /* without the totals */
size_t table_totals(const struct table *); /* totals rows */
/* A new row (cells empty) that the setters then fill, before any totals
 * row: OK, ERR_INVALID, ERR_NOMEM. */
int table_row_add(struct table *);
/* A new totals row, after the rows (and totals rows) added: OK,
 * ERR_INVALID (no columns), ERR_NOMEM. */
int table_totals_add(struct table *);
/*
 * Set cell col of the current row. ERR_INVALID when there is no row, col
 * is not a column or is of another type (money and integer cells take
 * only their own setters); ERR_NOMEM. A text longer than TABLE_CELL_MAX
 * bytes is cut there (on a character boundary when it is UTF-8). A money
 * cell whose currency is not a code (money_currency_ok) shows no code.
 */
int table_set_text(struct table *, size_t col, const char *s);
int table_set_int(struct table *, size_t col, int64_t v);
int table_set_money(
    struct table *, size_t col, int64_t minor, const char *currency);
int table_set_date(struct table *, size_t col, int64_t day);
int table_set_datetime(struct table *, size_t col, int64_t ms);
int table_set_percent(struct table *, size_t col, double ratio);

/*
 * A note under the table (NULL: none, the default), UTF-8, one line of
 * at most TABLE_NOTE_MAX bytes (cut there): what a reader must know to
 * read the cells, e.g. that an empty one is withheld. Each writer puts it
 * after the totals: CSV a last row, the note its first cell, XLSX a row of one cell
 * under the totals' (and a blank row), PDF a line at the foot of each
 * page. OK, ERR_NOMEM.
 */
#define TABLE_NOTE_MAX 200
int	    table_note_set(struct table *, const char *note);
const char *table_note(const struct table *); /* NULL: none; borrowed */

/*
 * CSV (RFC 4180) into out: the UTF-8 byte-order mark, the header, the
 * rows and the totals, CRLF line ends. A text cell (the header too) is
 * quoted when it holds , " CR or LF, and one that starts with = + - @ tab
 * or CR is quoted with a ' before it, so a spreadsheet does not run it as
 * a formula. Numbers as a spreadsheet reads them: 1234, 12.50 (money, no
 * code: the column names it), 2026-01-31, 2026-01-31T09:00:00.000Z,
 * 87.50%. OK, or ERR_TOO_LARGE past out's ceiling, ERR_NOMEM.
 */
int table_csv(const struct table *, struct buf *out);
/* One CSV text cell as table_csv writes it (quoted, defused). */
int table_csv_text(struct buf *, const char *);
/*
 * XLSX (one sheet) into out: typed cells (numbers as numbers; money as a
 * number in a currency format with the currency's minor digits; dates
 * and date-times as Excel dates, in UTC; percentages as a ratio in a 0.00%
 * format; text as text, never a formula), the header bold and frozen, the
 * totals rows bold, columns as wide as their widest cell (at most 60). A date
 * before 1900-03-01, which Excel cannot show, is written as text.
 * libxlsxwriter writes to a file: it and its temporary files go in a
 * private directory under $TMPDIR (or /tmp), removed before this returns.
 * OK, ERR_TOO_LARGE past out's ceiling, ERR_NOMEM, ERR_INTERNAL (the
 * library failed; logged).
 */
int table_xlsx(const struct table *, struct buf *out);
/*
 * PDF into out: A4 landscape pages, the title and the header row on each,
 * "Page i of n" at the foot, numbers right-aligned, the totals rows last, a
 * cell too wide for its column cut with an ellipsis; text in the TrueType
 * font config pdf_font names (core/pdf_font.h), embedded. OK,
 * ERR_TOO_LARGE, ERR_NOMEM, ERR_UNAVAILABLE (the font cannot be loaded),
 * ERR_INTERNAL (the library failed; logged).
 */
int table_pdf(const struct table *, struct buf *out);

/* For the writers (table_*.c): read a table. */
struct table_cell {
	int	set;	     /* 0: empty */
	int64_t i;	     /* INT, MONEY (minor), DATE (day), DATETIME (ms) */
	double	f;	     /* PERCENT */
	char   *s;	     /* TEXT: owned */
	char	currency[4]; /* MONEY: "" when not a code */
};
const char     *table_title(const struct table *);
const char     *table_column_name(const struct table *, size_t col);
enum table_type table_column_type(const struct table *, size_t col);
/* Row row's cell col, rows from table_rows() on the totals rows; NULL
 * past them (borrowed). */
const struct table_cell *table_cell(
    const struct table *, size_t row, size_t col);
/*
 * A cell as text for a person (PDF) into out (n bytes): money with its
 * code ("12.50 GBP"), dates as 2026-01-31, date-times as 2026-01-31 09:00
 * UTC, percentages as 87.50%; "" when empty. Text is not copied: *text
 * points at it (borrowed) and out is left alone.
 */
void table_cell_format(const struct table *, size_t col,
    const struct table_cell *, char *out, size_t n, const char **text);
/*
 * s as UTF-8 a format can hold into out: a byte that does not begin a
 * well-formed character, and a C0 control (but tab, LF and CR), DEL or a
 * noncharacter U+FFFE/U+FFFF, becomes U+FFFD; with flat, tab, LF and CR
 * become a space too (one line of a PDF). At most max characters.
 */
int table_utf8_clean(const char *s, int flat, size_t max, struct buf *out);

#endif
