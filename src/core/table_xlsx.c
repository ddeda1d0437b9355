/*
 * A table as XLSX (table.h), with libxlsxwriter. The library writes a
 * file and temporary files beside it: both go in a directory of our own
 * (mkdtemp, mode 0700) that is emptied and removed on every path, and
 * the file's bytes are read back into the caller's buffer. Rows are
 * written in order with constant_memory, so a large table costs the
 * library one row of memory, not the whole sheet.
 *
 * Excel's dates are days since 1899-12-30 (for dates from 1900-03-01 on,
 * past its phantom 1900-02-29): a date cell is that count, a date-time
 * that count and the fraction of its day, both in a date format.
 */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xlsxwriter.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/money.h"
#include "core/table.h"
#include "core/util.h"

#define EXCEL_EPOCH_DAYS 25569	  /* 1970-01-01 as an Excel date */
#define EXCEL_FIRST_DAY	 (-25508) /* 1900-03-01, days since 1970 */
#define WIDTH_MIN	 8
#define WIDTH_MAX	 60
#define MONEY_FORMATS	 16 /* currencies with a format of their own */

/* The formats of one workbook. */
struct formats {
	lxw_format *header, *text, *integer, *date, *datetime, *percent;
	lxw_format *text_b, *integer_b, *date_b, *datetime_b, *percent_b;
	struct {
		char	    currency[4];
		lxw_format *f, *b;  /* body, totals (bold) */
	} money[MONEY_FORMATS + 1]; /* the last: no code */
	size_t nmoney;
};

static int	   tmp_dir(char *, size_t);
static void	   tmp_remove(const char *);
static lxw_format *format_new(lxw_workbook *, const char *, int);
static int	   formats_make(lxw_workbook *, struct formats *);
static lxw_format *money_format_of(
    lxw_workbook *, struct formats *, const char *, int);
static double widths_of(const struct table *, size_t);
static int    cell_write(lxw_workbook *, lxw_worksheet *, struct formats *,
       const struct table *, size_t, size_t, struct buf *);
static int    sheet_write(lxw_workbook *, const struct table *);
static int    file_read(const char *, struct buf *);

/* A private directory for the library's files into dir (n bytes). */
static int
tmp_dir(char *dir, size_t n)
{
	const char *base = getenv("TMPDIR");

	if (base == NULL || base[0] != '/')
		base = "/tmp";
	if ((size_t)snprintf(dir, n, "%s/carebase-xlsx.XXXXXX", base) >= n ||
	    mkdtemp(dir) == NULL) {
		log_msg(LOG_ERROR, "event=xlsx_tmpdir_failed");
		return (ERR_INTERNAL);
	}
	return (OK);
}

/* Remove dir and what is in it (files only: the library makes no more). */
static void
tmp_remove(const char *dir)
{
	struct dirent *e;
	DIR	      *d;
	int	       fd;

	if ((d = opendir(dir)) != NULL) {
		fd = dirfd(d);
		while ((e = readdir(d)) != NULL)
			if (strcmp(e->d_name, ".") != 0 &&
			    strcmp(e->d_name, "..") != 0)
				unlinkat(fd, e->d_name, 0);
		closedir(d);
	}
	if (rmdir(dir) != 0)
		log_msg(LOG_WARN, "event=xlsx_tmpdir_left");
}

static lxw_format *
format_new(lxw_workbook *wb, const char *num, int bold)
{
	lxw_format *f;

	if ((f = workbook_add_format(wb)) == NULL)
		return (NULL);
	if (num != NULL)
		format_set_num_format(f, num);
	if (bold)
		format_set_bold(f);
	return (f);
}

static int
formats_make(lxw_workbook *wb, struct formats *fm)
{
	memset(fm, 0, sizeof(*fm));
	fm->header = format_new(wb, NULL, 1);
	fm->text = NULL; /* the default */
	fm->text_b = format_new(wb, NULL, 1);
	fm->integer = format_new(wb, "0", 0);
	fm->integer_b = format_new(wb, "0", 1);
	fm->date = format_new(wb, "yyyy-mm-dd", 0);
	fm->date_b = format_new(wb, "yyyy-mm-dd", 1);
	fm->datetime = format_new(wb, "yyyy-mm-dd hh:mm:ss", 0);
	fm->datetime_b = format_new(wb, "yyyy-mm-dd hh:mm:ss", 1);
	fm->percent = format_new(wb, "0.00%", 0);
	fm->percent_b = format_new(wb, "0.00%", 1);
	if (fm->header == NULL || fm->text_b == NULL || fm->integer == NULL ||
	    fm->integer_b == NULL || fm->date == NULL || fm->date_b == NULL ||
	    fm->datetime == NULL || fm->datetime_b == NULL ||
	    fm->percent == NULL || fm->percent_b == NULL)
		return (ERR_NOMEM);
	return (OK);
}

/*
 * The format of money in currency: the currency's minor digits, grouped
 * thousands, the code after it: #,##0.00 "GBP". Past MONEY_FORMATS
 * currencies (or with no code), the digits alone.
 */
static lxw_format *
money_format_of(
    lxw_workbook *wb, struct formats *fm, const char *currency, int bold)
{
	char   num[64];
	size_t i;
	int    e = money_exponent(currency);

	for (i = 0; i < fm->nmoney; i++)
		if (strcmp(fm->money[i].currency, currency) == 0)
			return (bold ? fm->money[i].b : fm->money[i].f);
	if (currency[0] == '\0' || fm->nmoney == MONEY_FORMATS) {
		i = MONEY_FORMATS;
		if (fm->money[i].f != NULL)
			return (bold ? fm->money[i].b : fm->money[i].f);
		snprintf(num, sizeof(num), "#,##0%s%.*s", e > 0 ? "." : "", e,
		    "000");
	} else {
		i = fm->nmoney++;
		memcpy(fm->money[i].currency, currency, 4);
		snprintf(num, sizeof(num), "#,##0%s%.*s \"%s\"",
		    e > 0 ? "." : "", e, "000", currency);
	}
	fm->money[i].f = format_new(wb, num, 0);
	fm->money[i].b = format_new(wb, num, 1);
	return (bold ? fm->money[i].b : fm->money[i].f);
}

/* Column col's width in characters: its widest cell, within bounds. */
static double
widths_of(const struct table *t, size_t col)
{
	const struct table_cell *c;
	const char		*text, *p;
	char			 v[96];
	size_t			 i, n, w = 0, rows;

	rows = table_rows(t) + table_totals(t);
	for (i = 0; i <= rows; i++) {
		if (i == 0)
			text = table_column_name(t, col);
		else {
			c = table_cell(t, i - 1, col);
			table_cell_format(t, col, c, v, sizeof(v), &text);
			if (text == NULL)
				text = v;
		}
		for (n = 0, p = text; *p != '\0' && n <= WIDTH_MAX; p++)
			n += ((unsigned char)*p & 0xc0) != 0x80;
		if (n > w)
			w = n;
	}
	w += 2;
	return (w < WIDTH_MIN ? WIDTH_MIN : w > WIDTH_MAX ? WIDTH_MAX : w);
}

/* Row row (0: the header) column col; tmp holds cleaned text. */
static int
cell_write(lxw_workbook *wb, lxw_worksheet *ws, struct formats *fm,
    const struct table *t, size_t row, size_t col, struct buf *tmp)
{
	const struct table_cell *c;
	lxw_format		*f;
	double			 v, unit;
	int64_t			 day, ms;
	char			 iso[ISO_TIME_LEN];
	int			 bold, e, rc;
	lxw_row_t		 r = (lxw_row_t)row;
	lxw_col_t		 k = (lxw_col_t)col;

	buf_reset(tmp);
	if (row == 0) {
		if ((rc = table_utf8_clean(table_column_name(t, col), 0,
			 TABLE_CELL_MAX, tmp)) != OK)
			return (rc);
		return (worksheet_write_string(
			    ws, r, k, tmp->data, fm->header) == LXW_NO_ERROR
			? OK
			: ERR_INTERNAL);
	}
	c = table_cell(t, row - 1, col);
	bold = row - 1 >= table_rows(t); /* a totals row */
	if (!c->set)
		return (OK);
	switch (table_column_type(t, col)) {
	case TABLE_TEXT:
		if ((rc = table_utf8_clean(c->s, 0, TABLE_CELL_MAX, tmp)) != OK)
			return (rc);
		return (worksheet_write_string(ws, r, k, tmp->data,
			    bold ? fm->text_b : fm->text) == LXW_NO_ERROR
			? OK
			: ERR_INTERNAL);
	case TABLE_INT:
		v = (double)c->i;
		f = bold ? fm->integer_b : fm->integer;
		break;
	case TABLE_MONEY:
		e = money_exponent(c->currency);
		unit = e == 0 ? 1 : e == 3 ? 1000 : 100;
		v = (double)c->i / unit;
		if ((f = money_format_of(wb, fm, c->currency, bold)) == NULL)
			return (ERR_NOMEM);
		break;
	case TABLE_DATE:
		if (c->i < EXCEL_FIRST_DAY) {
			/* Excel cannot show it: the date as text. */
			time_format_iso(c->i * TIME_DAY_MS, iso);
			iso[10] = '\0';
			return (
			    worksheet_write_string(ws, r, k, iso,
				bold ? fm->text_b : fm->text) == LXW_NO_ERROR
				? OK
				: ERR_INTERNAL);
		}
		v = (double)(c->i + EXCEL_EPOCH_DAYS);
		f = bold ? fm->date_b : fm->date;
		break;
	case TABLE_DATETIME:
		if (c->i < EXCEL_FIRST_DAY * TIME_DAY_MS) {
			time_format_iso(c->i, iso);
			return (
			    worksheet_write_string(ws, r, k, iso,
				bold ? fm->text_b : fm->text) == LXW_NO_ERROR
				? OK
				: ERR_INTERNAL);
		}
		/* Whole days and the ms of the day apart: exact to the ms. */
		day = c->i / TIME_DAY_MS;
		ms = c->i % TIME_DAY_MS;
		if (ms < 0) {
			ms += TIME_DAY_MS;
			day--;
		}
		v = (double)(day + EXCEL_EPOCH_DAYS) + (double)ms / TIME_DAY_MS;
		f = bold ? fm->datetime_b : fm->datetime;
		break;
	case TABLE_PERCENT:
	default:
		v = c->f;
		f = bold ? fm->percent_b : fm->percent;
		break;
	}
	return (worksheet_write_number(ws, r, k, v, f) == LXW_NO_ERROR
		? OK
		: ERR_INTERNAL);
}

static int
sheet_write(lxw_workbook *wb, const struct table *t)
{
	lxw_worksheet	  *ws;
	lxw_doc_properties props;
	struct formats	   fm;
	struct buf	   tmp, title;
	size_t		   i, j, rows, ncols = table_columns(t);
	int		   rc;

	buf_init(&title, 4096);
	if ((rc = table_utf8_clean(table_title(t), 1, 255, &title)) != OK) {
		buf_free(&title);
		return (rc);
	}
	memset(&props, 0, sizeof(props));
	props.title = title.data != NULL ? title.data : "";
	workbook_set_properties(wb, &props);
	buf_free(&title);
	if ((ws = workbook_add_worksheet(wb, "Report")) == NULL ||
	    (rc = formats_make(wb, &fm)) != OK)
		return (ws == NULL ? ERR_INTERNAL : rc);
	for (j = 0; j < ncols; j++)
		if (worksheet_set_column(ws, (lxw_col_t)j, (lxw_col_t)j,
			widths_of(t, j), NULL) != LXW_NO_ERROR)
			return (ERR_INTERNAL);
	worksheet_freeze_panes(ws, 1, 0);
	buf_init(&tmp, (size_t)TABLE_CELL_MAX * 3 + 1);
	rows = table_rows(t) + table_totals(t);
	rc = OK;
	for (i = 0; i <= rows && rc == OK; i++)
		for (j = 0; j < ncols && rc == OK; j++)
			rc = cell_write(wb, ws, &fm, t, i, j, &tmp);
	/* The note a row under the totals, after a blank one. */
	if (rc == OK && table_note(t) != NULL) {
		buf_reset(&tmp);
		if ((rc = table_utf8_clean(
			 table_note(t), 1, TABLE_NOTE_MAX, &tmp)) == OK &&
		    tmp.data != NULL &&
		    worksheet_write_string(ws, (lxw_row_t)(rows + 2), 0,
			tmp.data, fm.text) != LXW_NO_ERROR)
			rc = ERR_INTERNAL;
	}
	buf_free(&tmp);
	return (rc);
}

/* The file at path into out. */
static int
file_read(const char *path, struct buf *out)
{
	char	buf[65536];
	ssize_t n;
	int	fd, rc = OK;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return (ERR_INTERNAL);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if ((rc = buf_append(out, buf, (size_t)n)) != OK)
			break;
	if (n < 0)
		rc = ERR_INTERNAL;
	close(fd);
	return (rc);
}

int
table_xlsx(const struct table *t, struct buf *out)
{
	lxw_workbook_options opt;
	lxw_workbook	    *wb;
	lxw_error	     err;
	char		     dir[256], path[300];
	int		     rc;

	if ((rc = tmp_dir(dir, sizeof(dir))) != OK)
		return (rc);
	snprintf(path, sizeof(path), "%s/table.xlsx", dir);
	memset(&opt, 0, sizeof(opt));
	opt.constant_memory = LXW_TRUE;
	opt.tmpdir = dir;
	if ((wb = workbook_new_opt(path, &opt)) == NULL) {
		tmp_remove(dir);
		return (ERR_NOMEM);
	}
	rc = sheet_write(wb, t);
	/* Closing writes the file and frees the workbook, on every path. */
	if ((err = workbook_close(wb)) != LXW_NO_ERROR && rc == OK) {
		log_msg(LOG_ERROR, "event=xlsx_failed error=%d", (int)err);
		rc = ERR_INTERNAL;
	}
	if (rc == OK)
		rc = file_read(path, out);
	tmp_remove(dir);
	return (rc);
}
