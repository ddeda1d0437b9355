/*
 * Points out as EDF (European Data Format, 1992): the header, one record
 * per data record duration, each signal's counts fitted into 16 bits
 * (edf_fit: a shift and a move chosen so the channel's range fits), a
 * missing sample written as EDF_GAP. Pure: the query route reads the
 * samples (blocks.c) and hands them here.
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

#define EDF_DMIN	(-32768)
#define EDF_DMAX	32767
#define EDF_GAP		EDF_DMIN /* a missing sample; no real count */
#define EDF_SIGNALS_MAX 9999	 /* a 4-character field */
#define EDF_FIELD8_MAX	99999999

static void	edf_field(char *, size_t, const char *);
static int	edf_number(double, char *, size_t);
static int64_t	floor_shift(int64_t, int);
static uint32_t gcd32(uint32_t, uint32_t);
static int	edf_fail(char *, size_t, int, const char *, ...)
    __attribute__((format(printf, 4, 5)));
static void edf_fit(const struct points_edf_signal *, int *, int64_t *);

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
