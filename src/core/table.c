/*
 * The table model of table.h and its CSV writer (the XLSX and PDF
 * writers are table_xlsx.c and table_pdf.c). Cells live in one array, row
 * after row, the totals rows (one per currency, say) after the rows.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/money.h"
#include "core/table.h"
#include "core/util.h"

struct table_column {
	char	       *name;
	enum table_type type;
};

struct table {
	char		   *title;
	struct table_column cols[TABLE_COLUMNS_MAX];
	size_t		    ncols;
	struct table_cell  *cells; /* (nrows + ntotals) * ncols */
	size_t		    nrows, ntotals, cap;
	char		   *note; /* table_note_set's, or NULL */
};

static int		  row_append(struct table *);
static struct table_cell *current(struct table *, size_t, enum table_type);
static void		  cell_clear(struct table_cell *);
static int		  csv_cell(
		   struct buf *, const struct table *, size_t, const struct table_cell *);
static void day_iso(int64_t, char *, size_t);

struct table *
table_new(const char *title)
{
	struct table *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return (NULL);
	if ((t->title = strdup(title != NULL ? title : "")) == NULL) {
		free(t);
		return (NULL);
	}
	return (t);
}

static void
cell_clear(struct table_cell *c)
{
	free(c->s);
	memset(c, 0, sizeof(*c));
}

void
table_free(struct table *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < (t->nrows + t->ntotals) * t->ncols; i++)
		free(t->cells[i].s);
	for (i = 0; i < t->ncols; i++)
		free(t->cols[i].name);
	free(t->cells);
	free(t->title);
	free(t->note);
	free(t);
}

int
table_note_set(struct table *t, const char *note)
{
	char *s = NULL;

	if (note != NULL && (s = strndup(note, TABLE_NOTE_MAX)) == NULL)
		return (ERR_NOMEM);
	free(t->note);
	t->note = s;
	return (OK);
}

const char *
table_note(const struct table *t)
{
	return (t->note);
}

int
table_column_add(struct table *t, const char *name, enum table_type type)
{
	if (t->ncols == TABLE_COLUMNS_MAX || t->nrows > 0 || t->ntotals > 0 ||
	    type < TABLE_TEXT || type > TABLE_PERCENT)
		return (ERR_INVALID);
	if ((t->cols[t->ncols].name = strdup(name != NULL ? name : "")) == NULL)
		return (ERR_NOMEM);
	t->cols[t->ncols++].type = type;
	return (OK);
}

size_t
table_columns(const struct table *t)
{
	return (t->ncols);
}

size_t
table_rows(const struct table *t)
{
	return (t->nrows);
}

/* Room for one more row of empty cells at the end of the array. */
static int
row_append(struct table *t)
{
	struct table_cell *c;
	size_t		   cap, n = t->nrows + t->ntotals;

	if (n == t->cap) {
		cap = t->cap > 0 ? t->cap * 2 : 64;
		if (cap > SIZE_MAX / sizeof(*c) / t->ncols ||
		    (c = realloc(t->cells, cap * t->ncols * sizeof(*c))) ==
			NULL)
			return (ERR_NOMEM);
		t->cells = c;
		t->cap = cap;
	}
	memset(&t->cells[n * t->ncols], 0, t->ncols * sizeof(*c));
	return (OK);
}

int
table_row_add(struct table *t)
{
	int rc;

	if (t->ntotals > 0 || t->ncols == 0)
		return (ERR_INVALID);
	if ((rc = row_append(t)) != OK)
		return (rc);
	t->nrows++;
	return (OK);
}

int
table_totals_add(struct table *t)
{
	int rc;

	if (t->ncols == 0)
		return (ERR_INVALID);
	if ((rc = row_append(t)) != OK)
		return (rc);
	t->ntotals++;
	return (OK);
}

/* Cell col of the current row, if it is of type type; cleared. */
static struct table_cell *
current(struct table *t, size_t col, enum table_type type)
{
	struct table_cell *c;

	if (col >= t->ncols || t->cols[col].type != type ||
	    t->nrows + t->ntotals == 0)
		return (NULL);
	c = &t->cells[(t->nrows + t->ntotals - 1) * t->ncols + col];
	cell_clear(c);
	return (c);
}

int
table_set_text(struct table *t, size_t col, const char *s)
{
	struct table_cell *c;
	size_t		   n;

	if ((c = current(t, col, TABLE_TEXT)) == NULL)
		return (ERR_INVALID);
	if (s == NULL)
		return (OK);
	n = strnlen(s, TABLE_CELL_MAX + 1);
	if (n > TABLE_CELL_MAX) {
		/* Back off to the start of a character. */
		n = TABLE_CELL_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80 &&
		    TABLE_CELL_MAX - n < 4)
			n--;
	}
	if ((c->s = strndup(s, n)) == NULL)
		return (ERR_NOMEM);
	c->set = 1;
	return (OK);
}

int
table_set_int(struct table *t, size_t col, int64_t v)
{
	struct table_cell *c;

	if ((c = current(t, col, TABLE_INT)) == NULL)
		return (ERR_INVALID);
	c->i = v;
	c->set = 1;
	return (OK);
}

int
table_set_money(
    struct table *t, size_t col, int64_t minor, const char *currency)
{
	struct table_cell *c;

	if ((c = current(t, col, TABLE_MONEY)) == NULL)
		return (ERR_INVALID);
	c->i = minor;
	if (money_currency_ok(currency))
		memcpy(c->currency, currency, 4);
	c->set = 1;
	return (OK);
}

int
table_set_date(struct table *t, size_t col, int64_t day)
{
	struct table_cell *c;

	if ((c = current(t, col, TABLE_DATE)) == NULL)
		return (ERR_INVALID);
	/* Days of years 0001 to 9999, as time_format_iso writes them. */
	if (day < ISO_TIME_MIN_MS / TIME_DAY_MS ||
	    day >= ISO_TIME_END_MS / TIME_DAY_MS)
		return (ERR_INVALID);
	c->i = day;
	c->set = 1;
	return (OK);
}

int
table_set_datetime(struct table *t, size_t col, int64_t ms)
{
	struct table_cell *c;

	if ((c = current(t, col, TABLE_DATETIME)) == NULL)
		return (ERR_INVALID);
	if (ms < ISO_TIME_MIN_MS || ms >= ISO_TIME_END_MS)
		return (ERR_INVALID);
	c->i = ms;
	c->set = 1;
	return (OK);
}

int
table_set_percent(struct table *t, size_t col, double ratio)
{
	struct table_cell *c;

	if ((c = current(t, col, TABLE_PERCENT)) == NULL)
		return (ERR_INVALID);
	if (!isfinite(ratio))
		return (ERR_INVALID);
	c->f = ratio;
	c->set = 1;
	return (OK);
}

const char *
table_title(const struct table *t)
{
	return (t->title);
}

const char *
table_column_name(const struct table *t, size_t col)
{
	return (col < t->ncols ? t->cols[col].name : NULL);
}

enum table_type
table_column_type(const struct table *t, size_t col)
{
	return (col < t->ncols ? t->cols[col].type : TABLE_TEXT);
}

const struct table_cell *
table_cell(const struct table *t, size_t row, size_t col)
{
	if (col >= t->ncols)
		return (NULL);
	if (row < t->nrows + t->ntotals)
		return (&t->cells[row * t->ncols + col]);
	return (NULL);
}

size_t
table_totals(const struct table *t)
{
	return (t->ntotals);
}

/* "2026-01-31" of a day since 1970-01-01. */
static void
day_iso(int64_t day, char *out, size_t n)
{
	char iso[ISO_TIME_LEN];

	time_format_iso(day * TIME_DAY_MS, iso);
	snprintf(out, n, "%.10s", iso);
}

void
table_cell_format(const struct table *t, size_t col, const struct table_cell *c,
    char *out, size_t n, const char **text)
{
	char iso[ISO_TIME_LEN];

	*text = NULL;
	if (!c->set) {
		snprintf(out, n, "%s", "");
		return;
	}
	switch (table_column_type(t, col)) {
	case TABLE_TEXT:
		*text = c->s;
		break;
	case TABLE_INT:
		snprintf(out, n, "%lld", (long long)c->i);
		break;
	case TABLE_MONEY:
		if (c->currency[0] != '\0')
			money_format(c->i, c->currency, out, n);
		else
			money_decimal(c->i, c->currency, out, n);
		break;
	case TABLE_DATE:
		day_iso(c->i, out, n);
		break;
	case TABLE_DATETIME:
		time_format_iso(c->i, iso);
		snprintf(out, n, "%.10s %.5s UTC", iso, iso + 11);
		break;
	case TABLE_PERCENT:
		snprintf(out, n, "%.2f%%", c->f * 100);
		break;
	}
}

/* --- UTF-8 ----------------------------------------------------------- */

int
table_utf8_clean(const char *s, int flat, size_t max, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t	     c;
	size_t		     len, i, chars = 0;
	int		     rc;

	while (*p != '\0' && chars < max) {
		chars++;
		if (*p < 0x80) {
			if ((*p == '\t' || *p == '\n' || *p == '\r') && flat)
				rc = buf_append(out, " ", 1);
			else if ((*p < 0x20 && *p != '\t' && *p != '\n' &&
				     *p != '\r') ||
			    *p == 0x7f)
				rc = buf_puts(out, "\xef\xbf\xbd");
			else
				rc = buf_append(out, p, 1);
			p++;
			if (rc != OK)
				return (rc);
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf) {
			len = 2;
			c = *p & 0x1f;
		} else if (*p >= 0xe0 && *p <= 0xef) {
			len = 3;
			c = *p & 0x0f;
		} else if (*p >= 0xf0 && *p <= 0xf4) {
			len = 4;
			c = *p & 0x07;
		} else
			len = 0;
		for (i = 1; i < len; i++) {
			if ((p[i] & 0xc0) != 0x80) {
				len = 0;
				break;
			}
			c = (c << 6) | (p[i] & 0x3f);
		}
		/* Overlong forms, surrogates, past U+10FFFF, U+FFFE/F. */
		if (len == 0 || (len == 3 && c < 0x800) ||
		    (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
		    (c >= 0xd800 && c <= 0xdfff) || c == 0xfffe ||
		    c == 0xffff || (c >= 0x80 && c <= 0x9f)) {
			if ((rc = buf_puts(out, "\xef\xbf\xbd")) != OK)
				return (rc);
			/* Skip the lead byte and its continuation bytes. */
			p++;
			while ((*p & 0xc0) == 0x80)
				p++;
			continue;
		}
		if ((rc = buf_append(out, p, len)) != OK)
			return (rc);
		p += len;
	}
	return (OK);
}

/* --- CSV ------------------------------------------------------------- */

int
table_csv_text(struct buf *b, const char *s)
{
	const char *p;
	int	    formula, rc;

	formula = strchr("=+-@\t\r", s[0]) != NULL && s[0] != '\0';
	if (!formula && strpbrk(s, ",\"\r\n") == NULL)
		return (buf_puts(b, s));
	if ((rc = buf_puts(b, formula ? "\"'" : "\"")) != OK)
		return (rc);
	for (p = s; *p != '\0'; p++)
		if ((rc = buf_append(b, p, 1)) != OK ||
		    (*p == '"' && (rc = buf_append(b, "\"", 1)) != OK))
			return (rc);
	return (buf_puts(b, "\""));
}

/* One cell of column col. */
static int
csv_cell(struct buf *b, const struct table *t, size_t col,
    const struct table_cell *c)
{
	char v[ISO_TIME_LEN + 16];

	if (!c->set)
		return (OK);
	switch (t->cols[col].type) {
	case TABLE_TEXT:
		return (table_csv_text(b, c->s));
	case TABLE_INT:
		return (buf_printf(b, "%lld", (long long)c->i));
	case TABLE_MONEY:
		money_decimal(c->i, c->currency, v, sizeof(v));
		return (buf_puts(b, v));
	case TABLE_DATE:
		day_iso(c->i, v, sizeof(v));
		return (buf_puts(b, v));
	case TABLE_DATETIME:
		return (buf_puts(b, time_format_iso(c->i, v)));
	case TABLE_PERCENT:
		return (buf_printf(b, "%.2f%%", c->f * 100));
	}
	return (OK);
}

int
table_csv(const struct table *t, struct buf *b)
{
	const struct table_cell *c;
	size_t			 i, j, n;
	int			 rc;

	if ((rc = buf_puts(b, "\xef\xbb\xbf")) != OK)
		return (rc);
	for (j = 0; j < t->ncols; j++)
		if ((rc = buf_puts(b, j > 0 ? "," : "")) != OK ||
		    (rc = table_csv_text(b, t->cols[j].name)) != OK)
			return (rc);
	if ((rc = buf_puts(b, "\r\n")) != OK)
		return (rc);
	n = t->nrows + t->ntotals;
	for (i = 0; i < n; i++) {
		for (j = 0; j < t->ncols; j++) {
			c = table_cell(t, i, j);
			if ((rc = buf_puts(b, j > 0 ? "," : "")) != OK ||
			    (rc = csv_cell(b, t, j, c)) != OK)
				return (rc);
		}
		if ((rc = buf_puts(b, "\r\n")) != OK)
			return (rc);
	}
	/* The note a last row of its own, as wide as the others (a reader
	 * may want every row's cells counted alike). */
	if (t->note == NULL)
		return (OK);
	if ((rc = table_csv_text(b, t->note)) != OK)
		return (rc);
	for (j = 1; j < t->ncols; j++)
		if ((rc = buf_puts(b, ",")) != OK)
			return (rc);
	return (buf_puts(b, "\r\n"));
}
