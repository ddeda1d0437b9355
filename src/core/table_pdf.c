/*
 * A table as PDF (table.h), with libharu: A4 landscape, the title and
 * the header row at the top of every page, "Page i of n" at the foot,
 * the totals rows (one per currency, say) last, each on a grey ground. Columns get their natural
 * width (their widest cell) when the page holds them all, else the narrow
 * ones keep theirs and the wide ones share the rest; a cell wider than its
 * column is cut with an ellipsis. Text is drawn in the embedded TrueType
 * font of pdf_font.h, so Polish, Greek and Cyrillic show as written.
 *
 * libharu reports errors through a handler and then refuses further
 * work: the handler notes the first, which is checked once the document
 * is made, so the drawing code needs no check after every call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hpdf.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/pdf_font.h"
#include "core/table.h"

#define MARGIN	   36.0
#define TITLE_SIZE 12.0
#define FONT_SIZE  8.0
#define ROW_H	   13.0
#define PAD	   3.0
#define FOOT	   20.0 /* below the last row: the page number */
#define COL_MIN	   24.0 /* the narrowest a column is made */
#define TEXT_CHARS 512	/* characters of a cell measured and drawn */
#define ELLIPSIS   "\xe2\x80\xa6"

struct pdf {
	HPDF_Doc	    doc;
	HPDF_Font	    font;
	HPDF_STATUS	    err, detail; /* the first error libharu reported */
	const struct table *t;
	size_t		    ncols;
	double		    width[TABLE_COLUMNS_MAX]; /* points */
	struct buf	    text;		      /* one cell, cleaned */
	struct buf	    cut;		      /* one cell, cut */
};

static void HPDF_STDCALL on_error(HPDF_STATUS, HPDF_STATUS, void *);
static double		 text_width(struct pdf *, const char *, double);
static int		 cell_text(struct pdf *, size_t, size_t, const char **);
static int		 widths_fit(struct pdf *, double);
static int		 fit(struct pdf *, const char *, double, const char **);
static int		 row_draw(struct pdf *, HPDF_Page, size_t, double);
static int page_draw(struct pdf *, size_t, size_t, size_t, size_t);
static int save(struct pdf *, struct buf *);

static void HPDF_STDCALL
on_error(HPDF_STATUS err, HPDF_STATUS detail, void *arg)
{
	struct pdf *p = arg;

	if (p->err == 0) {
		p->err = err;
		p->detail = detail;
	}
}

/* The width of UTF-8 s at size points. */
static double
text_width(struct pdf *p, const char *s, double size)
{
	HPDF_TextWidth w;

	w = HPDF_Font_TextWidth(p->font, (const HPDF_BYTE *)s, strlen(s));
	return (w.width * size / 1000.0);
}

/*
 * Row row's (the header: SIZE_MAX) cell col as one line of clean UTF-8
 * into *s (borrowed: p's buffer, until the next call).
 */
static int
cell_text(struct pdf *p, size_t row, size_t col, const char **s)
{
	const struct table_cell *c;
	const char		*text;
	char			 v[96];
	int			 rc;

	if (row == SIZE_MAX)
		text = table_column_name(p->t, col);
	else {
		c = table_cell(p->t, row, col);
		table_cell_format(p->t, col, c, v, sizeof(v), &text);
		if (text == NULL)
			text = v;
	}
	buf_reset(&p->text);
	if ((rc = table_utf8_clean(text, 1, TEXT_CHARS, &p->text)) != OK)
		return (rc);
	*s = p->text.data != NULL ? p->text.data : "";
	return (OK);
}

/* Each column's width: its widest cell, fitted into avail points. */
static int
widths_fit(struct pdf *p, double avail)
{
	const char *s;
	double	    total = 0, fixed = 0, rest, w;
	size_t	    i, j, rows, nwide = 0;
	int	    rc, wide[TABLE_COLUMNS_MAX];

	rows = table_rows(p->t) + table_totals(p->t);
	for (j = 0; j < p->ncols; j++) {
		p->width[j] = COL_MIN;
		for (i = 0; i <= rows; i++) {
			if ((rc = cell_text(
				 p, i == 0 ? SIZE_MAX : i - 1, j, &s)) != OK)
				return (rc);
			w = text_width(p, s, FONT_SIZE) + 2 * PAD;
			if (w > p->width[j])
				p->width[j] = w;
		}
		total += p->width[j];
	}
	if (total <= avail)
		return (OK);
	/* The columns at most a fair share keep their width. */
	for (j = 0; j < p->ncols; j++) {
		wide[j] = p->width[j] > avail / (double)p->ncols;
		if (wide[j])
			nwide++;
		else
			fixed += p->width[j];
	}
	rest = avail - fixed;
	for (j = 0, total = 0; j < p->ncols; j++)
		if (wide[j])
			total += p->width[j];
	for (j = 0; j < p->ncols; j++)
		if (wide[j]) {
			w = rest * p->width[j] / total;
			p->width[j] = w < COL_MIN ? COL_MIN : w;
		}
	return (OK);
}

/* s cut to width points with an ellipsis, into *out (borrowed). */
static int
fit(struct pdf *p, const char *s, double width, const char **out)
{
	size_t offs[TEXT_CHARS + 1], n = 0, lo, hi, mid, i;
	int    rc;

	*out = s;
	if (text_width(p, s, FONT_SIZE) <= width)
		return (OK);
	for (i = 0; s[i] != '\0' && n < TEXT_CHARS; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			offs[n++] = i;
	/* The most characters k (0..n-1) that fit with the ellipsis. */
	lo = 0;
	hi = n > 0 ? n - 1 : 0;
	while (lo < hi) {
		mid = (lo + hi + 1) / 2;
		buf_reset(&p->cut);
		if ((rc = buf_append(&p->cut, s, offs[mid])) != OK ||
		    (rc = buf_puts(&p->cut, ELLIPSIS)) != OK)
			return (rc);
		if (text_width(p, p->cut.data, FONT_SIZE) <= width)
			lo = mid;
		else
			hi = mid - 1;
	}
	buf_reset(&p->cut);
	if ((rc = buf_append(&p->cut, s, n > 0 ? offs[lo] : 0)) != OK ||
	    (rc = buf_puts(&p->cut, ELLIPSIS)) != OK)
		return (rc);
	*out = p->cut.data;
	return (OK);
}

/* Row row (SIZE_MAX: the header) with its top at y. */
static int
row_draw(struct pdf *p, HPDF_Page page, size_t row, double y)
{
	const char     *s, *shown;
	enum table_type type;
	double		x = MARGIN, w;
	size_t		j;
	int		rc;

	for (j = 0; j < p->ncols; x += p->width[j], j++) {
		if ((rc = cell_text(p, row, j, &s)) != OK ||
		    (rc = fit(p, s, p->width[j] - 2 * PAD, &shown)) != OK)
			return (rc);
		if (shown[0] == '\0')
			continue;
		type = table_column_type(p->t, j);
		w = 0;
		/* Numbers right-aligned, under a right-aligned header. */
		if (type == TABLE_INT || type == TABLE_MONEY ||
		    type == TABLE_PERCENT)
			w = p->width[j] - 2 * PAD -
			    text_width(p, shown, FONT_SIZE);
		HPDF_Page_TextOut(page, (HPDF_REAL)(x + PAD + w),
		    (HPDF_REAL)(y - ROW_H + 3.5), shown);
	}
	return (OK);
}

/* Page no (of pages) with rows [from, to) of the table. */
static int
page_draw(struct pdf *p, size_t no, size_t pages, size_t from, size_t to)
{
	HPDF_Page page;
	double	  top, y, width = 0, pw;
	size_t	  i, j;
	char	  foot[64];
	int	  rc = OK;

	if ((page = HPDF_AddPage(p->doc)) == NULL)
		return (ERR_NOMEM);
	HPDF_Page_SetSize(page, HPDF_PAGE_SIZE_A4, HPDF_PAGE_LANDSCAPE);
	pw = HPDF_Page_GetWidth(page);
	top = HPDF_Page_GetHeight(page) - MARGIN;
	for (j = 0; j < p->ncols; j++)
		width += p->width[j];
	/* The grounds: the header's, the totals rows' on this page. */
	HPDF_Page_SetRGBFill(page, 0.85f, 0.85f, 0.85f);
	HPDF_Page_Rectangle(page, (HPDF_REAL)MARGIN,
	    (HPDF_REAL)(top - 2 * TITLE_SIZE - ROW_H), (HPDF_REAL)width,
	    (HPDF_REAL)ROW_H);
	HPDF_Page_Fill(page);
	HPDF_Page_SetRGBFill(page, 0.92f, 0.92f, 0.92f);
	for (i = from; i < to; i++) {
		if (i < table_rows(p->t))
			continue;
		y = top - 2 * TITLE_SIZE - ROW_H * (double)(i - from + 2);
		HPDF_Page_Rectangle(page, (HPDF_REAL)MARGIN, (HPDF_REAL)y,
		    (HPDF_REAL)width, (HPDF_REAL)ROW_H);
		HPDF_Page_Fill(page);
	}
	HPDF_Page_SetRGBFill(page, 0, 0, 0);
	HPDF_Page_BeginText(page);
	HPDF_Page_SetFontAndSize(page, p->font, (HPDF_REAL)TITLE_SIZE);
	buf_reset(&p->text);
	if ((rc = table_utf8_clean(table_title(p->t), 1, 200, &p->text)) ==
		OK &&
	    p->text.data != NULL)
		HPDF_Page_TextOut(page, (HPDF_REAL)MARGIN,
		    (HPDF_REAL)(top - TITLE_SIZE), p->text.data);
	HPDF_Page_SetFontAndSize(page, p->font, (HPDF_REAL)FONT_SIZE);
	y = top - 2 * TITLE_SIZE;
	if (rc == OK)
		rc = row_draw(p, page, SIZE_MAX, y);
	for (i = from; i < to && rc == OK; i++) {
		y -= ROW_H;
		rc = row_draw(p, page, i, y);
	}
	snprintf(foot, sizeof(foot), "Page %zu of %zu", no, pages);
	HPDF_Page_TextOut(page,
	    (HPDF_REAL)((pw - text_width(p, foot, FONT_SIZE)) / 2),
	    (HPDF_REAL)(MARGIN - FOOT / 2), foot);
	/* The note on a line of its own above the page number, on every
	 * page (a page printed alone is read with it): the rows leave it
	 * room (per_page). */
	buf_reset(&p->text);
	if (rc == OK && table_note(p->t) != NULL &&
	    (rc = table_utf8_clean(
		 table_note(p->t), 1, TABLE_NOTE_MAX, &p->text)) == OK &&
	    p->text.data != NULL)
		HPDF_Page_TextOut(page, (HPDF_REAL)MARGIN,
		    (HPDF_REAL)(MARGIN - FOOT / 2 + ROW_H), p->text.data);
	HPDF_Page_EndText(page);
	return (rc);
}

/* The document's bytes into out. */
static int
save(struct pdf *p, struct buf *out)
{
	HPDF_BYTE   chunk[65536];
	HPDF_UINT32 n;
	HPDF_STATUS st;
	int	    rc;

	if (HPDF_SaveToStream(p->doc) != HPDF_OK)
		return (ERR_INTERNAL);
	if (HPDF_GetStreamSize(p->doc) > out->max - out->len)
		return (ERR_TOO_LARGE);
	do {
		n = sizeof(chunk);
		st = HPDF_ReadFromStream(p->doc, chunk, &n);
		if (n > 0 && (rc = buf_append(out, chunk, n)) != OK)
			return (rc);
	} while (st == HPDF_OK);
	return (st == HPDF_STREAM_EOF ? OK : ERR_INTERNAL);
}

int
table_pdf(const struct table *t, struct buf *out)
{
	struct pdf p;
	double	   room;
	size_t	   per_page, rows, pages, i, from;
	int	   rc;

	memset(&p, 0, sizeof(p));
	p.t = t;
	p.ncols = table_columns(t);
	buf_init(&p.text, (size_t)TEXT_CHARS * 4 + 1);
	buf_init(&p.cut, (size_t)TEXT_CHARS * 4 + 4);
	if ((p.doc = HPDF_New(on_error, &p)) == NULL) {
		rc = ERR_NOMEM;
		goto out;
	}
	HPDF_SetCompressionMode(p.doc, HPDF_COMP_ALL);
	HPDF_SetInfoAttr(p.doc, HPDF_INFO_CREATOR, "carebase");
	if ((rc = pdf_font_load(p.doc, &p.font, NULL)) != OK)
		goto out;
	room = 595.276 - 2 * MARGIN; /* A4's short side, in points */
	if ((rc = widths_fit(&p, 841.89 - 2 * MARGIN)) != OK)
		goto out;
	/* Rows under the title and the header, above the foot. */
	per_page = (size_t)((room - 2 * TITLE_SIZE - FOOT -
				(table_note(t) != NULL ? ROW_H : 0)) /
		       ROW_H) -
	    1;
	rows = table_rows(t) + table_totals(t);
	pages = rows == 0 ? 1 : (rows + per_page - 1) / per_page;
	for (i = 0, from = 0; i < pages && rc == OK; i++, from += per_page)
		rc = page_draw(&p, i + 1, pages, from,
		    from + per_page < rows ? from + per_page : rows);
	if (rc == OK && p.err == 0)
		rc = save(&p, out);
	if (rc == OK && p.err != 0) {
		log_msg(LOG_ERROR, "event=pdf_failed error=%#lx detail=%lu",
		    (unsigned long)p.err, (unsigned long)p.detail);
		rc = ERR_INTERNAL;
	}
out:
	if (p.doc != NULL)
		HPDF_Free(p.doc);
	buf_free(&p.text);
	buf_free(&p.cut);
	return (rc);
}
