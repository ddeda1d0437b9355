/*
 * Points out: bucketing for plots, the SVG chart drawn from buckets and
 * the EDF writer. Pure functions over samples already decoded (or block
 * stats already read); src/biometrics/blocks.c does the reading.
 *
 * Bucketing a regular segment does not divide per sample: it finds, per
 * bucket, the range of sample indexes whose exact times fall in it (one
 * 128-bit division a bucket) and folds that range with a tight min, max
 * and sum loop.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "biometrics/points.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/util.h"

__extension__ typedef __int128		i128;
__extension__ typedef unsigned __int128 u128;

/* The chart: 1000 x 300, the plot area inside these edges. */
#define SVG_W	      1000
#define SVG_H	      300
#define PX0	      72.0
#define PX1	      984.0
#define PY0	      30.0
#define PY1	      256.0
#define SVG_TITLE_MAX 200 /* bytes of title shown */
#define SVG_UNIT_MAX  40

#define EDF_DMIN	(-32768)
#define EDF_DMAX	32767
#define EDF_GAP		EDF_DMIN /* a missing sample; no real count */
#define EDF_SIGNALS_MAX 9999	 /* a 4-character field */
#define EDF_FIELD8_MAX	99999999

struct axis {
	double lo, hi, step;
	int    decimals;
};

static uint64_t span_of(const struct points_buckets *);
static i128	floor_div(i128, i128);
static void	fold(struct points_bucket *, const int32_t *, size_t);
static void	add_regular(struct points_buckets *, const int32_t *, size_t,
	int64_t, uint32_t, uint64_t);
static void	add_irregular(
	struct points_buckets *, const int32_t *, size_t, const int64_t *);
static size_t  utf8_len(const uint8_t *, size_t);
static int     xml_text(struct buf *, const char *, size_t);
static void    nice_axis(double, double, struct axis *);
static int64_t time_step(uint64_t);
static void    time_label(int64_t, int64_t, char *, size_t);
static int     svg_axes(
	struct buf *, const struct points_buckets *, const struct axis *);
static int svg_data(struct buf *, const struct points_buckets *, double, double,
    const struct axis *);
static void	edf_field(char *, size_t, const char *);
static int	edf_number(double, char *, size_t);
static uint32_t gcd32(uint32_t, uint32_t);
static int64_t	floor_shift(int64_t, int);
static int	edf_fail(char *, size_t, int, const char *, ...)
    __attribute__((format(printf, 4, 5)));
static void edf_fit(const struct points_edf_signal *, int *, int64_t *);

/* --- buckets ------------------------------------------------------------ */

int
points_buckets_init(
    struct points_buckets *bk, int64_t from_ms, int64_t to_ms, size_t n)
{
	size_t i;

	memset(bk, 0, sizeof(*bk));
	if (n == 0 || n > POINTS_BUCKETS_MAX || to_ms <= from_ms)
		return (ERR_INVALID);
	if ((bk->b = malloc(n * sizeof(*bk->b))) == NULL)
		return (ERR_NOMEM);
	for (i = 0; i < n; i++) {
		bk->b[i].count = bk->b[i].sum = 0;
		bk->b[i].min = INT32_MAX;
		bk->b[i].max = INT32_MIN;
	}
	bk->from_ms = from_ms;
	bk->to_ms = to_ms;
	bk->n = n;
	return (OK);
}

void
points_buckets_free(struct points_buckets *bk)
{
	if (bk == NULL)
		return;
	free(bk->b);
	memset(bk, 0, sizeof(*bk));
}

/* to - from, exact: to > from, so the unsigned difference is right. */
static uint64_t
span_of(const struct points_buckets *bk)
{
	return ((uint64_t)bk->to_ms - (uint64_t)bk->from_ms);
}

/* floor(a / d) for d > 0 (C division truncates toward zero). */
static i128
floor_div(i128 a, i128 d)
{
	i128 q = a / d;

	if (a % d != 0 && a < 0)
		q--;
	return (q);
}

long
points_buckets_covers(
    const struct points_buckets *bk, int64_t t_first_ms, int64_t t_last_ms)
{
	uint64_t d;
	i128	 b;

	if (bk->b == NULL || t_first_ms < bk->from_ms ||
	    t_last_ms < t_first_ms || t_last_ms >= bk->to_ms)
		return (-1);
	d = (uint64_t)t_first_ms - (uint64_t)bk->from_ms;
	b = (i128)((u128)d * bk->n / span_of(bk));
	/* every time below t_last_ms + 1 stays below bucket b's end */
	d = (uint64_t)t_last_ms - (uint64_t)bk->from_ms + 1;
	if ((u128)d * bk->n > (u128)(b + 1) * span_of(bk))
		return (-1);
	return ((long)b);
}

void
points_buckets_add_stats(struct points_buckets *bk, long i, int64_t count,
    int32_t min, int32_t max, int64_t sum)
{
	struct points_bucket *b;

	if (bk->b == NULL || i < 0 || (size_t)i >= bk->n || count <= 0)
		return;
	b = &bk->b[i];
	b->count += count;
	b->sum += sum;
	b->min = min < b->min ? min : b->min;
	b->max = max > b->max ? max : b->max;
}

void
points_buckets_add(struct points_buckets *bk, const int32_t *v, size_t n,
    const int64_t *ts_ms, int64_t t0_ms, uint32_t rate_mhz, uint64_t first)
{
	if (bk->b == NULL || v == NULL || n == 0)
		return;
	if (ts_ms != NULL)
		add_irregular(bk, v, n, ts_ms);
	else if (rate_mhz > 0)
		add_regular(bk, v, n, t0_ms, rate_mhz, first);
}

/* Min, max and sum of n samples into one bucket: the hot loop. Four
 * lanes so the compiler keeps four independent chains. */
static void
fold(struct points_bucket *b, const int32_t *v, size_t n)
{
	int32_t lo[4], hi[4];
	int64_t s[4] = { 0, 0, 0, 0 };
	size_t	i, k;

	for (k = 0; k < 4; k++) {
		lo[k] = b->min;
		hi[k] = b->max;
	}
	for (i = 0; i + 4 <= n; i += 4)
		for (k = 0; k < 4; k++) {
			lo[k] = v[i + k] < lo[k] ? v[i + k] : lo[k];
			hi[k] = v[i + k] > hi[k] ? v[i + k] : hi[k];
			s[k] += v[i + k];
		}
	for (; i < n; i++) {
		lo[0] = v[i] < lo[0] ? v[i] : lo[0];
		hi[0] = v[i] > hi[0] ? v[i] : hi[0];
		s[0] += v[i];
	}
	for (k = 1; k < 4; k++) {
		lo[0] = lo[k] < lo[0] ? lo[k] : lo[0];
		hi[0] = hi[k] > hi[0] ? hi[k] : hi[0];
	}
	b->min = lo[0];
	b->max = hi[0];
	b->sum += s[0] + s[1] + s[2] + s[3];
	b->count += (int64_t)n;
}

/*
 * Sample k (k = first .. first + n - 1) is at (t0 - from) + k * 1e6 / R ms
 * from the start, so its bucket is floor(A(k) * nb / (R * span)) with
 * A(k) = (t0 - from) * R + k * 1e6, and the first k of bucket b is
 * ceil((b * R * span - (t0 - from) * R * nb) / (1e6 * nb)). Magnitudes:
 * 2^64 * 2^32 * 2^17 at most, inside 128 bits.
 */
static void
add_regular(struct points_buckets *bk, const int32_t *v, size_t n,
    int64_t t0_ms, uint32_t rate_mhz, uint64_t first)
{
	const i128 nb = (i128)bk->n, r = rate_mhz, span = span_of(bk);
	const i128 base = ((i128)t0_ms - bk->from_ms) * r;
	const i128 den = r * span, step = (i128)1000000 * nb;
	i128	   k0 = first, k1 = (i128)first + n, b0, b1, b, lo, hi;

	b0 = floor_div((base + k0 * 1000000) * nb, den);
	b1 = floor_div((base + (k1 - 1) * 1000000) * nb, den);
	if (b1 < 0 || b0 >= nb)
		return;
	if (b0 < 0)
		b0 = 0;
	if (b1 >= nb)
		b1 = nb - 1;
	lo = -floor_div(-(b0 * den - base * nb), step);
	for (b = b0; b <= b1; b++) {
		hi = -floor_div(-((b + 1) * den - base * nb), step);
		if (lo < k0)
			lo = k0;
		if (hi > k1)
			hi = k1;
		if (hi > lo)
			fold(&bk->b[b], v + (size_t)(lo - k0),
			    (size_t)(hi - lo));
		lo = hi;
	}
}

static void
add_irregular(
    struct points_buckets *bk, const int32_t *v, size_t n, const int64_t *ts)
{
	struct points_bucket *b;
	uint64_t	      span = span_of(bk), d, i;
	int		      narrow = span <= UINT64_MAX / bk->n;
	size_t		      j;

	for (j = 0; j < n; j++) {
		if (ts[j] < bk->from_ms || ts[j] >= bk->to_ms)
			continue;
		d = (uint64_t)ts[j] - (uint64_t)bk->from_ms;
		i = narrow ? d * bk->n / span
			   : (uint64_t)((u128)d * bk->n / span);
		b = &bk->b[i];
		b->count++;
		b->sum += v[j];
		b->min = v[j] < b->min ? v[j] : b->min;
		b->max = v[j] > b->max ? v[j] : b->max;
	}
}

/* --- SVG ---------------------------------------------------------------- */

/* Bytes of the valid UTF-8 sequence at p that XML 1.0 allows, or 0. */
static size_t
utf8_len(const uint8_t *p, size_t n)
{
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		return (n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0);
	if (p[0] >= 0xe0 && p[0] <= 0xef) {
		if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return (0);
		if ((p[0] == 0xe0 && p[1] < 0xa0) || /* overlong */
		    (p[0] == 0xed && p[1] > 0x9f) || /* surrogate */
		    (p[0] == 0xef && p[1] == 0xbf && p[2] >= 0xbe))
			return (0); /* U+FFFE, U+FFFF */
		return (3);
	}
	if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80)
			return (0);
		if ((p[0] == 0xf0 && p[1] < 0x90) ||
		    (p[0] == 0xf4 && p[1] > 0x8f))
			return (0);
		return (4);
	}
	return (0);
}

/*
 * s as XML character data, at most max bytes of it (cut at a character):
 * markup characters escaped, bytes XML cannot carry (controls, invalid
 * UTF-8) shown as '?'.
 */
static int
xml_text(struct buf *out, const char *s, size_t max)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t	       i = 0, n, len;
	const char    *esc;
	char	       c;
	int	       rc = OK;

	n = s == NULL ? 0 : strlen(s);
	while (rc == OK && i < n && i < max) {
		if (p[i] >= 0x80) {
			if ((len = utf8_len(p + i, n - i)) == 0) {
				rc = buf_append(out, "?", 1);
				i++;
			} else if (i + len > max)
				break;
			else {
				rc = buf_append(out, p + i, len);
				i += len;
			}
			continue;
		}
		switch (p[i]) {
		case '&':
			esc = "&amp;";
			break;
		case '<':
			esc = "&lt;";
			break;
		case '>':
			esc = "&gt;";
			break;
		case '"':
			esc = "&quot;";
			break;
		case '\'':
			esc = "&apos;";
			break;
		default:
			esc = NULL;
			break;
		}
		if (esc != NULL)
			rc = buf_puts(out, esc);
		else {
			c = (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' &&
				p[i] != '\r') ||
				p[i] == 0x7f
			    ? '?'
			    : (char)p[i];
			rc = buf_append(out, &c, 1);
		}
		i++;
	}
	return (rc);
}

/* Round limits and a 1, 2 or 5 x 10^k step giving about five ticks. */
static void
nice_axis(double lo, double hi, struct axis *a)
{
	double raw, mag, f;

	if (hi - lo <= 0) {
		f = fabs(lo) > 1 ? fabs(lo) * 0.01 : 1;
		lo -= f;
		hi += f;
	}
	raw = (hi - lo) / 5;
	mag = pow(10, floor(log10(raw)));
	f = raw / mag;
	a->step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
	a->lo = floor(lo / a->step) * a->step;
	a->hi = ceil(hi / a->step) * a->step;
	a->decimals = a->step >= 1 ? 0 : (int)ceil(-log10(a->step) - 1e-9);
	if (a->decimals > 12)
		a->decimals = 12;
}

/* A round step in ms giving at most seven time ticks over span ms. */
static int64_t
time_step(uint64_t span)
{
	static const int64_t steps[] = { 1, 2, 5, 10, 20, 50, 100, 200, 500,
		1000, 2000, 5000, 10000, 15000, 30000, 60000, 120000, 300000,
		600000, 900000, 1800000, 3600000, 7200000, 10800000, 21600000,
		43200000, 86400000, 172800000, 604800000, 2592000000 };
	int64_t		     s = 31536000000; /* 365 days */
	size_t		     i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (span / (uint64_t)steps[i] <= 7)
			return (steps[i]);
	while (span / (uint64_t)s > 7 && s < INT64_MAX / 10)
		s *= span / (uint64_t)s > 35 ? 10 : 2;
	return (s);
}

/* A tick label in UTC as precise as the step needs. */
static void
time_label(int64_t t, int64_t step, char *out, size_t len)
{
	struct tm tm;
	int64_t	  secs = t / 1000, ms = t % 1000;

	if (ms < 0) {
		ms += 1000;
		secs--;
	}
	time_utc(secs, &tm);
	if (step >= 86400000)
		snprintf(out, len, "%04d-%02d-%02d", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday);
	else if (step >= 60000)
		snprintf(out, len, "%02d:%02d", tm.tm_hour, tm.tm_min);
	else if (step >= 1000)
		snprintf(out, len, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min,
		    tm.tm_sec);
	else
		snprintf(out, len, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min,
		    tm.tm_sec, (int)ms);
}

int
points_svg(const struct points_buckets *bk, double scale, double offset,
    const char *title, const char *unit, struct buf *out)
{
	struct axis ax;
	double	    lo = INFINITY, hi = -INFINITY, a, c;
	size_t	    i, start = out->len;
	int	    rc;

	if (!isfinite(scale) || !isfinite(offset) || bk->b == NULL)
		return (ERR_INVALID);
	for (i = 0; i < bk->n; i++) {
		if (bk->b[i].count == 0)
			continue;
		a = offset + scale * bk->b[i].min;
		c = offset + scale * bk->b[i].max;
		lo = fmin(lo, fmin(a, c));
		hi = fmax(hi, fmax(a, c));
	}
	if (lo > hi) {
		lo = 0;
		hi = 1;
	}
	if (!isfinite(lo) || !isfinite(hi) || !isfinite(hi - lo))
		return (ERR_INVALID);
	nice_axis(lo, hi, &ax);

	rc = buf_printf(out,
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
	    "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
	    "font-family=\"sans-serif\" font-size=\"11\">\n<title>",
	    SVG_W, SVG_H, SVG_W, SVG_H);
	if (rc == OK)
		rc = xml_text(out, title, SVG_TITLE_MAX);
	if (rc == OK)
		rc = buf_printf(out,
		    "</title>\n<rect width=\"%d\" height=\"%d\" "
		    "fill=\"#ffffff\"/>\n<text x=\"%.0f\" y=\"19\" "
		    "font-size=\"13\" font-weight=\"bold\">",
		    SVG_W, SVG_H, PX0);
	if (rc == OK)
		rc = xml_text(out, title, SVG_TITLE_MAX);
	if (rc == OK)
		rc = buf_printf(out,
		    "</text>\n<text transform=\"translate(14,"
		    "%.0f) rotate(-90)\" text-anchor=\"middle\">",
		    (PY0 + PY1) / 2);
	if (rc == OK)
		rc = xml_text(out, unit, SVG_UNIT_MAX);
	if (rc == OK)
		rc = buf_puts(out, "</text>\n");
	if (rc == OK)
		rc = svg_axes(out, bk, &ax);
	if (rc == OK)
		rc = svg_data(out, bk, scale, offset, &ax);
	if (rc == OK)
		rc = buf_puts(out, "</svg>\n");
	if (rc != OK && out->data != NULL) {
		out->len = start;
		out->data[start] = '\0';
	}
	return (rc);
}

/* Grid, ticks and labels of both axes, the frame and the time caption. */
static int
svg_axes(
    struct buf *out, const struct points_buckets *bk, const struct axis *ax)
{
	char	 label[64], from[ISO_TIME_LEN], to[ISO_TIME_LEN];
	uint64_t span = span_of(bk);
	int64_t	 step, t;
	double	 v, y, x;
	int	 k, nt, rc;

	rc = buf_puts(out, "<g stroke=\"#e0e0e0\" stroke-width=\"1\">\n");
	nt = (int)floor((ax->hi - ax->lo) / ax->step + 0.5);
	for (k = 0; rc == OK && k <= nt; k++) {
		y = PY1 - (double)k / nt * (PY1 - PY0);
		rc = buf_printf(out,
		    "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" "
		    "y2=\"%.1f\"/>\n",
		    PX0, y, PX1, y);
	}
	step = time_step(span);
	t = bk->from_ms / step * step;
	if (t < bk->from_ms)
		t += step;
	for (; rc == OK && t < bk->to_ms;) {
		x = PX0 +
		    (double)((uint64_t)t - (uint64_t)bk->from_ms) /
			(double)span * (PX1 - PX0);
		rc = buf_printf(out,
		    "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" "
		    "y2=\"%.0f\"/>\n",
		    x, PY0, x, PY1);
		if (__builtin_add_overflow(t, step, &t))
			break;
	}
	if (rc == OK)
		rc = buf_printf(out,
		    "</g>\n<rect x=\"%.0f\" y=\"%.0f\" "
		    "width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
		    "stroke=\"#888888\"/>\n<g text-anchor=\"end\">\n",
		    PX0, PY0, PX1 - PX0, PY1 - PY0);
	for (k = 0; rc == OK && k <= nt; k++) {
		v = ax->lo + k * ax->step;
		if (fabs(v) < ax->step * 1e-9)
			v = 0; /* no "-0" */
		y = PY1 - (double)k / nt * (PY1 - PY0);
		rc =
		    buf_printf(out, "<text x=\"%.0f\" y=\"%.1f\">%.*f</text>\n",
			PX0 - 5, y + 4, ax->decimals, v);
	}
	if (rc == OK)
		rc = buf_puts(out, "</g>\n<g text-anchor=\"middle\">\n");
	t = bk->from_ms / step * step;
	if (t < bk->from_ms)
		t += step;
	for (; rc == OK && t < bk->to_ms;) {
		x = PX0 +
		    (double)((uint64_t)t - (uint64_t)bk->from_ms) /
			(double)span * (PX1 - PX0);
		time_label(t, step, label, sizeof(label));
		rc = buf_printf(out, "<text x=\"%.1f\" y=\"%.0f\">%s</text>\n",
		    x, PY1 + 16, label);
		if (__builtin_add_overflow(t, step, &t))
			break;
	}
	if (rc == OK)
		rc = buf_printf(out,
		    "</g>\n<text x=\"%.0f\" y=\"%d\" "
		    "fill=\"#555555\">UTC, %s to %s</text>\n",
		    PX0, SVG_H - 8, time_format_iso(bk->from_ms, from),
		    time_format_iso(bk->to_ms, to));
	return (rc);
}

/*
 * The min/max band (a polygon per run of non-empty buckets) and the mean
 * (a polyline per run): an empty bucket ends a run, leaving a gap.
 */
static int
svg_data(struct buf *out, const struct points_buckets *bk, double scale,
    double offset, const struct axis *ax)
{
	const struct points_bucket *b;
	const double		    w = (PX1 - PX0) / (double)bk->n;
	const double		    ky = (PY1 - PY0) / (ax->hi - ax->lo);
	size_t			    i, j, e;
	double			    xl, y1, y2;
	int			    rc, any = 0;

	rc = buf_puts(out,
	    "<g fill=\"#9ecae1\" fill-opacity=\"0.8\" "
	    "stroke=\"none\">\n");
	for (i = 0; rc == OK && i < bk->n; i = e) {
		if (bk->b[i].count == 0) {
			e = i + 1;
			continue;
		}
		for (e = i; e < bk->n && bk->b[e].count > 0; e++)
			;
		any = 1;
		rc = buf_puts(out, "<polygon points=\"");
		for (j = i; rc == OK && j < e; j++) {
			b = &bk->b[j];
			xl = PX0 + (double)j * w;
			y1 = PY1 -
			    (offset + scale * (scale < 0 ? b->min : b->max) -
				ax->lo) *
				ky;
			rc = buf_printf(
			    out, "%.1f,%.1f %.1f,%.1f ", xl, y1, xl + w, y1);
		}
		for (j = e; rc == OK && j-- > i;) {
			b = &bk->b[j];
			xl = PX0 + (double)j * w;
			y2 = PY1 -
			    (offset + scale * (scale < 0 ? b->max : b->min) -
				ax->lo) *
				ky;
			rc = buf_printf(
			    out, "%.1f,%.1f %.1f,%.1f ", xl + w, y2, xl, y2);
		}
		if (rc == OK)
			rc = buf_puts(out, "\"/>\n");
	}
	if (rc == OK)
		rc = buf_puts(out,
		    "</g>\n<g fill=\"none\" stroke=\"#08519c\" "
		    "stroke-width=\"1.2\" stroke-linejoin=\"round\">\n");
	for (i = 0; rc == OK && i < bk->n; i = e) {
		if (bk->b[i].count == 0) {
			e = i + 1;
			continue;
		}
		for (e = i; e < bk->n && bk->b[e].count > 0; e++)
			;
		rc = buf_puts(out, "<polyline points=\"");
		for (j = i; rc == OK && j < e; j++) {
			b = &bk->b[j];
			y1 = PY1 -
			    (offset +
				scale * ((double)b->sum / (double)b->count) -
				ax->lo) *
				ky;
			xl = PX0 + (double)j * w;
			if (e - i == 1)
				rc = buf_printf(out, "%.1f,%.1f %.1f,%.1f", xl,
				    y1, xl + w, y1);
			else
				rc = buf_printf(
				    out, "%.1f,%.1f ", xl + w / 2, y1);
		}
		if (rc == OK)
			rc = buf_puts(out, "\"/>\n");
	}
	if (rc == OK)
		rc = buf_puts(out, "</g>\n");
	if (rc == OK && !any)
		rc = buf_printf(out,
		    "<text x=\"%.0f\" y=\"%.0f\" "
		    "text-anchor=\"middle\" fill=\"#888888\">no data</text>\n",
		    (PX0 + PX1) / 2, (PY0 + PY1) / 2);
	return (rc);
}

/* --- EDF ---------------------------------------------------------------- */

/*
 * s into a w-byte field: printable ASCII, space-padded, cut at w. The
 * micro sign (U+00B5, or Greek mu U+03BC) becomes 'u' as in "uV"; any
 * other byte outside ASCII becomes '_'.
 */
static void
edf_field(char *dst, size_t w, const char *s)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t	       i = 0;

	while (p != NULL && *p != '\0' && i < w) {
		if ((p[0] == 0xc2 && p[1] == 0xb5) ||
		    (p[0] == 0xce && p[1] == 0xbc)) {
			dst[i++] = 'u';
			p += 2;
		} else {
			dst[i++] = *p >= 0x20 && *p < 0x7f ? (char)*p : '_';
			p++;
		}
	}
	for (; i < w; i++)
		dst[i] = ' ';
}

/* v in at most 8 characters, as many decimals as fit, no exponent. */
static int
edf_number(double v, char *out, size_t len)
{
	int   dec, n;
	char *e;

	for (dec = 7; dec >= 0; dec--) {
		n = snprintf(out, len, "%.*f", dec, v);
		if (n < 0 || n > 8)
			continue;
		if (strchr(out, '.') != NULL) {
			for (e = out + n; e[-1] == '0'; e--)
				;
			if (e[-1] == '.')
				e--;
			*e = '\0';
		}
		if (strcmp(out, "-0") == 0)
			memmove(out, out + 1, 2);
		return (OK);
	}
	return (ERR_INVALID);
}

/* floor(c / 2^k), whatever >> does with negative values. */
static int64_t
floor_shift(int64_t c, int k)
{
	return (c >= 0 ? c >> k : -((-c + ((int64_t)1 << k) - 1) >> k));
}

static uint32_t
gcd32(uint32_t a, uint32_t b)
{
	uint32_t t;

	while (b != 0) {
		t = a % b;
		a = b;
		b = t;
	}
	return (a);
}

int
points_edf_write(const struct points_edf *e, struct buf *out)
{
	return (points_edf_write_err(e, out, NULL, 0));
}

/* A refusal with its reason in err (which may be NULL). */
static int
edf_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return (rc);
}

/*
 * How signal s's counts become digital values: d = floor(count / 2^shift)
 * - move, every d in -32767..32767 (EDF_GAP is kept for missing slots).
 */
static void
edf_fit(const struct points_edf_signal *s, int *shift, int64_t *move)
{
	int64_t lo = INT64_MAX, hi = INT64_MIN, l, h;
	size_t	j;
	int	k;

	if (s->count_min <= s->count_max) {
		lo = s->count_min;
		hi = s->count_max;
	}
	for (j = 0; j < s->nsamples; j++) {
		if (s->missing != NULL && s->missing[j])
			continue;
		lo = s->samples[j] < lo ? s->samples[j] : lo;
		hi = s->samples[j] > hi ? s->samples[j] : hi;
	}
	if (lo > hi)
		lo = hi = 0;
	for (k = 0; floor_shift(hi, k) - floor_shift(lo, k) >
	     EDF_DMAX - (EDF_DMIN + 1);
	     k++)
		;
	l = floor_shift(lo, k);
	h = floor_shift(hi, k);
	*shift = k;
	if (l < EDF_DMIN + 1)
		*move = l - (EDF_DMIN + 1);
	else if (h > EDF_DMAX)
		*move = h - EDF_DMAX;
	else
		*move = 0;
}

int
points_edf_write_err(
    const struct points_edf *e, struct buf *out, char *err, size_t errlen)
{
	const struct points_edf_signal *s;
	struct tm			tm;
	char			       *h = NULL, num[32], pf[80];
	uint8_t			       *rec = NULL;
	uint64_t			spr[EDF_SIGNALS_MAX], recsum = 0, nrec;
	uint64_t			bytes, dur_ms;
	uint32_t			d, gr = 1000;
	int				shift[EDF_SIGNALS_MAX];
	int64_t				move[EDF_SIGNALS_MAX], secs, c;
	uint64_t			idx;
	size_t				ns = e->nsignals, hlen, i, j, r, o;
	size_t				start = out->len;
	int				rc = ERR_INVALID;
	double				g, pmin, pmax;

	/* At least one record: readers (EDFlib) refuse a file without. */
	if (ns == 0 || e->signals == NULL)
		return (edf_fail(err, errlen, ERR_INVALID, "no signal"));
	if (ns > EDF_SIGNALS_MAX)
		return (edf_fail(err, errlen, ERR_INVALID,
		    "%zu signals, at "
		    "most %d",
		    ns, EDF_SIGNALS_MAX));
	if (e->duration_ms <= 0)
		return (edf_fail(err, errlen, ERR_INVALID, "an empty window"));
	if (e->start_ms % 1000 != 0)
		return (edf_fail(err, errlen, ERR_INVALID,
		    "the start is not "
		    "a whole second"));
	secs = e->start_ms / 1000;
	time_utc(secs, &tm);
	if (tm.tm_year + 1900 < 1985 || tm.tm_year + 1900 > 2084)
		return (edf_fail(err, errlen, ERR_INVALID,
		    "the start, in %d, "
		    "lies outside 1985-2084, the years EDF's two-digit dates "
		    "hold",
		    tm.tm_year + 1900));
	/* A record length holding whole samples of every signal. */
	for (i = 0; i < ns; i++) {
		s = &e->signals[i];
		if (s->rate_mhz == 0)
			return (edf_fail(err, errlen, ERR_INVALID,
			    "signal %zu "
			    "is not regularly sampled",
			    i + 1));
		if (!isfinite(s->scale) || s->scale == 0 ||
		    !isfinite(s->offset))
			return (edf_fail(err, errlen, ERR_INVALID,
			    "signal %zu "
			    "has a scale of 0 or a scale or offset that is not "
			    "finite",
			    i + 1));
		if (s->nsamples > 0 && s->samples == NULL)
			return (edf_fail(err, errlen, ERR_INVALID,
			    "signal %zu "
			    "has no samples",
			    i + 1));
		gr = gcd32(gr, s->rate_mhz);
	}
	/* lcm over signals of 1000 / gcd(rate, 1000) = 1000 / gcd(1000,
	 * every rate): a divisor of 1000, 1 for whole Hz */
	d = gr > 0 ? 1000 / gr : 1000;
	for (i = 0; i < ns; i++) {
		spr[i] = (uint64_t)e->signals[i].rate_mhz * d / 1000;
		if (spr[i] > EDF_FIELD8_MAX)
			return (edf_fail(err, errlen, ERR_TOO_LARGE,
			    "signal "
			    "%zu has more samples a record than EDF holds",
			    i + 1));
		recsum += spr[i];
	}
	dur_ms = (uint64_t)d * 1000;
	nrec = ((uint64_t)e->duration_ms + dur_ms - 1) / dur_ms;
	if (nrec > EDF_FIELD8_MAX)
		return (edf_fail(err, errlen, ERR_TOO_LARGE,
		    "more data "
		    "records than EDF holds"));
	hlen = 256 * (ns + 1);
	if (recsum > (UINT64_MAX / 2 - hlen) / (nrec > 0 ? nrec : 1))
		return (edf_fail(err, errlen, ERR_TOO_LARGE, "too large"));
	bytes = hlen + nrec * recsum * 2;
	if (bytes > out->max || out->len > out->max - bytes)
		return (edf_fail(err, errlen, ERR_TOO_LARGE,
		    "the file would "
		    "be larger than %zu bytes",
		    out->max));

	if ((h = malloc(hlen)) == NULL ||
	    (rec = malloc(recsum * 2 > 0 ? recsum * 2 : 1)) == NULL) {
		rc = edf_fail(err, errlen, ERR_NOMEM, "out of memory");
		goto out;
	}
	edf_field(h, 8, "0");
	edf_field(h + 8, 80, e->patient);
	edf_field(h + 88, 80, e->recording);
	snprintf(num, sizeof(num), "%02d.%02d.%02d", tm.tm_mday, tm.tm_mon + 1,
	    tm.tm_year % 100);
	edf_field(h + 168, 8, num);
	snprintf(num, sizeof(num), "%02d.%02d.%02d", tm.tm_hour, tm.tm_min,
	    tm.tm_sec);
	edf_field(h + 176, 8, num);
	snprintf(num, sizeof(num), "%zu", hlen);
	edf_field(h + 184, 8, num);
	edf_field(h + 192, 44, "");
	snprintf(num, sizeof(num), "%llu", (unsigned long long)nrec);
	edf_field(h + 236, 8, num);
	snprintf(num, sizeof(num), "%u", d);
	edf_field(h + 244, 8, num);
	snprintf(num, sizeof(num), "%zu", ns);
	edf_field(h + 252, 4, num);

	o = 256;
	for (i = 0; i < ns; i++)
		edf_field(h + o + 16 * i, 16, e->signals[i].label);
	o += 16 * ns;
	for (i = 0; i < ns; i++)
		edf_field(h + o + 80 * i, 80, "");
	o += 80 * ns;
	for (i = 0; i < ns; i++)
		edf_field(h + o + 8 * i, 8, e->signals[i].unit);
	o += 8 * ns;
	for (i = 0; i < ns; i++)
		edf_fit(&e->signals[i], &shift[i], &move[i]);
	/* Digital d stands for count 2^shift * (d + move). */
	for (i = 0; i < ns; i++) {
		s = &e->signals[i];
		g = s->scale * (double)((int64_t)1 << shift[i]);
		pmin = s->offset + g * (double)(EDF_DMIN + move[i]);
		pmax = s->offset + g * (double)(EDF_DMAX + move[i]);
		if (edf_number(pmin, num, sizeof(num)) != OK) {
			rc = edf_fail(err, errlen, ERR_INVALID,
			    "the physical "
			    "range of signal %zu (%g to %g) does not fit EDF's "
			    "8-character fields",
			    i + 1, pmin, pmax);
			goto out;
		}
		edf_field(h + o + 8 * i, 8, num);
		if (edf_number(pmax, num, sizeof(num)) != OK) {
			rc = edf_fail(err, errlen, ERR_INVALID,
			    "the physical "
			    "range of signal %zu (%g to %g) does not fit EDF's "
			    "8-character fields",
			    i + 1, pmin, pmax);
			goto out;
		}
		edf_field(h + o + 8 * ns + 8 * i, 8, num);
	}
	o += 16 * ns;
	for (i = 0; i < ns; i++) {
		snprintf(num, sizeof(num), "%d", EDF_DMIN);
		edf_field(h + o + 8 * i, 8, num);
		snprintf(num, sizeof(num), "%d", EDF_DMAX);
		edf_field(h + o + 8 * ns + 8 * i, 8, num);
	}
	o += 16 * ns;
	for (i = 0; i < ns; i++) {
		if (shift[i] > 0)
			snprintf(pf, sizeof(pf),
			    "counts/%lld (floor) to fit "
			    "16 bits",
			    (long long)1 << shift[i]);
		else
			pf[0] = '\0';
		edf_field(h + o + 80 * i, 80, pf);
	}
	o += 80 * ns;
	for (i = 0; i < ns; i++) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)spr[i]);
		edf_field(h + o + 8 * i, 8, num);
	}
	o += 8 * ns;
	for (i = 0; i < ns; i++)
		edf_field(h + o + 32 * i, 32, "");
	if ((rc = buf_append(out, h, hlen)) != OK)
		goto out;

	/* Data records: per signal, spr samples as int16 little-endian. */
	for (r = 0; r < nrec; r++) {
		o = 0;
		for (i = 0; i < ns; i++) {
			s = &e->signals[i];
			for (j = 0; j < spr[i]; j++, o += 2) {
				idx = r * spr[i] + j;
				if (idx < s->nsamples &&
				    (s->missing == NULL || !s->missing[idx]))
					c = floor_shift(
						s->samples[idx], shift[i]) -
					    move[i];
				else
					c = EDF_GAP;
				rec[o] = (uint8_t)((uint16_t)c & 0xff);
				rec[o + 1] = (uint8_t)((uint16_t)c >> 8);
			}
		}
		if ((rc = buf_append(out, rec, o)) != OK)
			goto out;
	}
	rc = OK;
out:
	if (rc != OK && out->data != NULL && out->len > start) {
		out->len = start;
		out->data[start] = '\0';
	}
	if (rc == ERR_NOMEM || rc == ERR_TOO_LARGE)
		edf_fail(err, errlen, rc, "the file does not fit in memory");
	free(h);
	free(rec);
	return (rc);
}
