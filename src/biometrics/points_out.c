/*
 * Points out: bucketing for plots and the SVG chart drawn from buckets
 * (the EDF writer is points_edf.c). Pure functions over samples already
 * decoded (or block stats already read); src/biometrics/blocks.c does the
 * reading.
 *
 * Bucketing a regular segment does not divide per sample: it finds, per
 * bucket, the range of sample indexes whose exact times fall in it (one
 * 128-bit division a bucket) and folds that range with a tight min, max
 * and sum loop.
 */
#include <math.h>
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
