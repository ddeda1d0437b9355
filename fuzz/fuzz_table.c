/*
 * libFuzzer target for the report table writers (src/core/table*.c): the
 * input makes a table (the first byte: how many columns, 1 to 8; one byte
 * each: its type; then for each cell a byte that says empty or set and
 * the bytes of its value: a text up to a NUL, eight bytes of an integer,
 * money with three bytes of currency, a day, an instant or a ratio), with
 * a totals row when the first byte's high bit is set.
 *
 * The CSV starts with the byte-order mark and the header and has one
 * CRLF-ended line per row (a row's text may hold CRLF only quoted); the
 * XLSX is made (a zip: "PK") and leaves no file behind; any text,
 * cleaned for XLSX and PDF, is valid UTF-8 (jansson takes it).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/table.h"
#include "core/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct in {
	const uint8_t *p;
	size_t	       n;
};

static int64_t
take64(struct in *in)
{
	uint64_t v = 0;
	size_t	 i;

	for (i = 0; i < 8 && in->n > 0; i++, in->p++, in->n--)
		v = v << 8 | *in->p;
	return ((int64_t)v);
}

static uint8_t
take8(struct in *in)
{
	uint8_t v = 0;

	if (in->n > 0) {
		v = *in->p++;
		in->n--;
	}
	return (v);
}

/* A text up to a NUL or the end, into s (NUL-terminated; cap bytes). */
static void
take_text(struct in *in, char *s, size_t cap)
{
	size_t i = 0;

	while (in->n > 0 && *in->p != 0) {
		if (i < cap - 1)
			s[i++] = (char)*in->p;
		in->p++;
		in->n--;
	}
	s[i] = '\0';
	take8(in);
}

static void
cell(struct table *t, size_t col, struct in *in)
{
	char	s[256], cur[4];
	int64_t v;
	int	rc = OK;

	if ((take8(in) & 1) == 0)
		return;
	switch (table_column_type(t, col)) {
	case TABLE_TEXT:
		take_text(in, s, sizeof(s));
		rc = table_set_text(t, col, s);
		break;
	case TABLE_INT:
		rc = table_set_int(t, col, take64(in));
		break;
	case TABLE_MONEY:
		cur[0] = (char)take8(in);
		cur[1] = (char)take8(in);
		cur[2] = (char)take8(in);
		cur[3] = '\0';
		rc = table_set_money(t, col, take64(in), cur);
		break;
	case TABLE_DATE:
		v = take64(in) % (4000LL * 366);
		rc = table_set_date(t, col, v);
		break;
	case TABLE_DATETIME:
		v = take64(in) % (4000LL * 366 * TIME_DAY_MS);
		rc = table_set_datetime(t, col, v);
		break;
	case TABLE_PERCENT:
		rc = table_set_percent(t, col, (double)take64(in) / 1e6);
		break;
	}
	if (rc != OK && rc != ERR_INVALID)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in     in = { data, size };
	struct table *t;
	struct buf    b, clean;
	json_t	     *j;
	uint8_t	      head = take8(&in);
	size_t	      ncols = (size_t)(head & 7) + 1, i, rows = 0;
	char	      s[256];

	if ((t = table_new("fuzz")) == NULL)
		return (0);
	for (i = 0; i < ncols; i++)
		if (table_column_add(
			t, "c", (enum table_type)(take8(&in) % 6)) != OK)
			abort();
	while (in.n > 0 && rows < 200) {
		if (take8(&in) == 0xff && (head & 0x80) != 0) {
			if (table_totals_add(t) != OK)
				abort();
		} else if (table_row_add(t) != OK)
			abort();
		else
			rows++;
		for (i = 0; i < ncols; i++)
			cell(t, i, &in);
		if (table_totals(t) > 0)
			break;
	}
	buf_init(&b, 1 << 24);
	if (table_csv(t, &b) != OK || memcmp(b.data, "\xef\xbb\xbf", 3) != 0 ||
	    b.len < 5 || memcmp(b.data + b.len - 2, "\r\n", 2) != 0)
		abort();
	buf_reset(&b);
	if (table_xlsx(t, &b) != OK || memcmp(b.data, "PK", 2) != 0)
		abort();
	buf_free(&b);
	/* Any bytes, cleaned, are UTF-8. */
	in.p = data;
	in.n = size;
	take_text(&in, s, sizeof(s));
	buf_init(&clean, 4096);
	if (table_utf8_clean(s, (int)(size & 1), 256, &clean) != OK)
		abort();
	if (clean.len > 0) {
		if ((j = json_stringn(clean.data, clean.len)) == NULL)
			abort();
		json_decref(j);
	}
	buf_free(&clean);
	table_free(t);
	return (0);
}
