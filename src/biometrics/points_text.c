/*
 * Points in, the text formats (docs/POINTS_FORMAT.md): a JSON batch
 * {"seq", "channels": [{name, rate or rate_hz, t0, samples, t?}]} and a
 * CSV batch (a header of channel names, one row per sample; seq and rate
 * from the query string). Each fills a struct points_batch that
 * points_parse then hands to the one check of every batch (points.c);
 * here only the syntax and the bounds needed to read and allocate safely
 * are checked.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "biometrics/points.h"
#include "biometrics/points_int.h"
#include "core/err.h"
#include "core/util.h"

/* A growable array of one CSV column. */
struct column {
	size_t cap;
};

static int json_channel(
    json_t *, size_t, struct points_batch *, char *, size_t);
static int json_rate(json_t *, const char *, uint32_t *, char *, size_t);
static int csv_header(
    const char *, size_t, int, struct points_batch *, char *, size_t);
static int csv_int(const char *, size_t, int64_t, int64_t, int64_t *);
static int csv_push(
    struct points_channel *, struct column *, int32_t, int64_t, int);

/* --- JSON --------------------------------------------------------------- */

int
points_parse_json(const uint8_t *body, size_t len, struct points_batch *b,
    char *err, size_t errlen)
{
	json_error_t jerr;
	json_t	    *root, *v, *chans = NULL;
	const char  *key;
	size_t	     i;
	int	     rc = ERR_MALFORMED, have_seq = 0;

	root =
	    json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return (points_fail(err, errlen, ERR_MALFORMED,
		    "not JSON: %s (line %d, column %d)", jerr.text, jerr.line,
		    jerr.column));
	if (!json_is_object(root)) {
		points_fail(err, errlen, rc, "the body must be a JSON object");
		goto out;
	}
	json_object_foreach(root, key, v) {
		if (strcmp(key, "seq") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 0) {
				points_fail(err, errlen, rc,
				    "seq must be an integer "
				    ">= 0");
				goto out;
			}
			b->seq = (uint64_t)json_integer_value(v);
			have_seq = 1;
		} else if (strcmp(key, "channels") == 0) {
			if (!json_is_array(v)) {
				points_fail(err, errlen, rc,
				    "channels must be an "
				    "array");
				goto out;
			}
			chans = v;
		} else {
			points_fail(err, errlen, rc,
			    "unknown member \"%.40s\" (a "
			    "batch has seq and channels)",
			    key);
			goto out;
		}
	}
	if (!have_seq || chans == NULL) {
		points_fail(err, errlen, rc, "a batch needs seq and channels");
		goto out;
	}
	if (json_array_size(chans) == 0) {
		rc = points_fail(err, errlen, ERR_INVALID,
		    "a batch has at least one channel");
		goto out;
	}
	if (json_array_size(chans) > POINTS_CHANNELS_MAX) {
		rc = points_fail(err, errlen, ERR_TOO_LARGE,
		    "%zu channels, at most "
		    "%d",
		    json_array_size(chans), POINTS_CHANNELS_MAX);
		goto out;
	}
	json_array_foreach(chans, i, v) {
		if ((rc = json_channel(v, i, b, err, errlen)) != OK)
			goto out;
	}
	rc = OK;
out:
	json_decref(root);
	return (rc);
}

static int
json_channel(
    json_t *o, size_t i, struct points_batch *b, char *err, size_t errlen)
{
	struct points_channel *c = &b->ch[i];
	json_t		      *v, *name = NULL, *t0 = NULL, *rate = NULL;
	json_t		      *samples = NULL, *ts = NULL;
	const char	      *key, *s;
	json_int_t	       x;
	size_t		       j, n, total = 0;

	if (!json_is_object(o))
		return (points_fail(err, errlen, ERR_MALFORMED,
		    "channel %zu must be an object", i + 1));
	json_object_foreach(o, key, v) {
		if (strcmp(key, "name") == 0)
			name = v;
		else if (strcmp(key, "t0") == 0)
			t0 = v;
		else if (strcmp(key, "rate") == 0)
			rate = v;
		else if (strcmp(key, "samples") == 0)
			samples = v;
		else if (strcmp(key, "timestamps") == 0)
			ts = v;
		else
			return (points_fail(err, errlen, ERR_MALFORMED,
			    "channel %zu: "
			    "unknown member \"%.40s\" (a channel has name, "
			    "samples and t0 + rate or timestamps)",
			    i + 1, key));
	}
	if (!json_is_string(name) || !json_is_array(samples))
		return (points_fail(err, errlen, ERR_MALFORMED,
		    "channel %zu needs a "
		    "name (string) and samples (array)",
		    i + 1));
	s = json_string_value(name);
	if (!points_name_ok(s, json_string_length(name)))
		return (points_fail(err, errlen, ERR_INVALID,
		    "channel %zu: a name is "
		    "1 to %d of a-z, 0-9 and _",
		    i + 1, POINTS_NAME_MAX));
	memcpy(c->name, s, json_string_length(name) + 1);
	b->nchannels = i + 1;
	if (ts != NULL ? (t0 != NULL || rate != NULL || !json_is_array(ts))
		       : (t0 == NULL || rate == NULL))
		return (points_fail(err, errlen, ERR_MALFORMED,
		    "channel %s: give "
		    "t0 and rate (regular) or a timestamps array (irregular)",
		    c->name));
	for (j = 0; j < i; j++)
		total += b->ch[j].count;
	n = json_array_size(samples);
	if (n > POINTS_BATCH_MAX - total)
		return (points_fail(err, errlen, ERR_TOO_LARGE,
		    "more than %u samples in one batch", POINTS_BATCH_MAX));
	if (n == 0)
		return (points_fail(err, errlen, ERR_INVALID,
		    "channel %s has no samples", c->name));
	if (ts != NULL && json_array_size(ts) != n)
		return (points_fail(err, errlen, ERR_INVALID,
		    "channel %s: %zu "
		    "timestamps for %zu samples",
		    c->name, json_array_size(ts), n));
	if (rate != NULL) {
		if (json_rate(rate, c->name, &c->rate_mhz, err, errlen) != OK)
			return (ERR_INVALID);
		if (json_is_string(t0)) {
			if (time_parse_iso(json_string_value(t0), &c->t0_ms) !=
			    0)
				return (points_fail(err, errlen, ERR_INVALID,
				    "channel %s: t0 is not an ISO 8601 time",
				    c->name));
		} else if (json_is_integer(t0))
			c->t0_ms = json_integer_value(t0);
		else
			return (points_fail(err, errlen, ERR_MALFORMED,
			    "channel %s: "
			    "t0 is an ISO 8601 string or integer ms",
			    c->name));
	}
	if ((c->samples = malloc(n * sizeof(*c->samples))) == NULL)
		return (points_fail(err, errlen, ERR_NOMEM, "out of memory"));
	c->count = n;
	if (ts != NULL && (c->ts_ms = malloc(n * sizeof(*c->ts_ms))) == NULL)
		return (points_fail(err, errlen, ERR_NOMEM, "out of memory"));
	for (j = 0; j < n; j++) {
		v = json_array_get(samples, j);
		if (!json_is_integer(v))
			return (points_fail(err, errlen, ERR_MALFORMED,
			    "channel %s: "
			    "sample %zu is not an integer",
			    c->name, j + 1));
		x = json_integer_value(v);
		if (x < INT32_MIN || x > INT32_MAX)
			return (points_fail(err, errlen, ERR_INVALID,
			    "channel %s: "
			    "sample %zu (%lld) is outside int32",
			    c->name, j + 1, (long long)x));
		c->samples[j] = (int32_t)x;
		if (ts == NULL)
			continue;
		v = json_array_get(ts, j);
		if (!json_is_integer(v))
			return (points_fail(err, errlen, ERR_MALFORMED,
			    "channel %s: "
			    "timestamp %zu is not an integer (ms)",
			    c->name, j + 1));
		c->ts_ms[j] = json_integer_value(v);
	}
	return (OK);
}

/*
 * A rate in Hz (integer or fraction) to millihertz. A rate that is not a
 * whole number of mHz is refused rather than rounded: rounding would make
 * every later sample's time drift.
 */
static int
json_rate(json_t *v, const char *name, uint32_t *mhz, char *err, size_t errlen)
{
	double hz, m;

	if (json_is_integer(v)) {
		if (json_integer_value(v) <= 0 ||
		    json_integer_value(v) > POINTS_RATE_MAX / 1000)
			return (points_fail(err, errlen, ERR_INVALID,
			    "channel %s: "
			    "rate must be above 0 and at most %u Hz",
			    name, POINTS_RATE_MAX / 1000));
		*mhz = (uint32_t)json_integer_value(v) * 1000;
		return (OK);
	}
	if (!json_is_real(v))
		return (points_fail(err, errlen, ERR_INVALID,
		    "channel %s: rate is "
		    "a number of Hz",
		    name));
	hz = json_real_value(v);
	if (!(hz > 0) || hz > POINTS_RATE_MAX / 1000.0)
		return (points_fail(err, errlen, ERR_INVALID,
		    "channel %s: rate must "
		    "be above 0 and at most %u Hz",
		    name, POINTS_RATE_MAX / 1000));
	m = nearbyint(hz * 1000.0);
	if (m < 1 || fabs(hz * 1000.0 - m) > 1e-6)
		return (points_fail(err, errlen, ERR_INVALID,
		    "channel %s: rate %g Hz "
		    "is not a whole number of millihertz",
		    name, hz));
	*mhz = (uint32_t)m;
	return (OK);
}

/*
 * Rows of integers under a header of channel names, comma separated, LF or
 * CRLF, no quoting (no name or value needs it). With rate_mhz 0 the first
 * column is t (ms) and an empty cell is no sample; otherwise every cell of
 * every row holds a sample and the rows are sample 0, 1, ... from t0.
 */
/* --- CSV ---------------------------------------------------------------- */

int
points_parse_csv(const uint8_t *body, size_t len, uint64_t seq,
    uint32_t rate_mhz, int64_t t0_ms, struct points_batch *b, char *err,
    size_t errlen)
{
	struct column col[POINTS_CHANNELS_MAX];
	const char   *p = (const char *)body, *end = p + len, *nl, *cell;
	const char   *ce;
	size_t	      line = 0, ll, i, k, ncol, skip = rate_mhz == 0;
	int64_t	      t = 0, prev = INT64_MIN, x;
	int	      rc;

	b->seq = seq;
	memset(col, 0, sizeof(col));
	if (rate_mhz > POINTS_RATE_MAX)
		return (points_fail(err, errlen, ERR_INVALID,
		    "rate above %u Hz", POINTS_RATE_MAX / 1000));
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3; /* a UTF-8 byte order mark, as spreadsheets write */
	while (p < end) {
		line++;
		nl = memchr(p, '\n', (size_t)(end - p));
		ll = (size_t)((nl != NULL ? nl : end) - p);
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		if (ll > POINTS_CSV_LINE_MAX)
			return (points_fail(err, errlen, ERR_TOO_LARGE,
			    "line %zu is "
			    "longer than %d bytes",
			    line, POINTS_CSV_LINE_MAX));
		if (ll == 0) {
			/* Blank lines may only end the body. */
			for (ce = p; ce < end && (*ce == '\r' || *ce == '\n');
			     ce++)
				;
			if (ce == end)
				break;
			return (points_fail(err, errlen, ERR_MALFORMED,
			    "line %zu is empty", line));
		}
		if (line == 1) {
			if ((rc = csv_header(
				 p, ll, rate_mhz == 0, b, err, errlen)) != OK)
				return (rc);
			p = nl != NULL ? nl + 1 : end;
			continue;
		}
		ncol = b->nchannels + skip;
		cell = p;
		for (k = 0; k < ncol; k++) {
			ce = memchr(cell, ',', (size_t)(p + ll - cell));
			if (ce == NULL)
				ce = p + ll;
			if (k + 1 < ncol && ce == p + ll)
				return (points_fail(err, errlen, ERR_MALFORMED,
				    "line "
				    "%zu: %zu cells, the header has %zu",
				    line, k + 1, ncol));
			if (k == 0 && skip) {
				rc = csv_int(cell, (size_t)(ce - cell), 0,
				    POINTS_TIME_MAX, &t);
				if (rc != 0)
					return (points_fail(err, errlen,
					    rc == -2 ? ERR_INVALID
						     : ERR_MALFORMED,
					    "line "
					    "%zu: t must be ms since 1970 (an "
					    "integer up to year 9999)",
					    line));
				if (t < prev)
					return (points_fail(err, errlen,
					    ERR_INVALID,
					    "line %zu: t %lld is before the "
					    "previous row's %lld",
					    line, (long long)t,
					    (long long)prev));
				prev = t;
			} else if (ce == cell && skip)
				; /* no sample of this channel here */
			else {
				i = k - skip;
				rc = csv_int(cell, (size_t)(ce - cell),
				    INT32_MIN, INT32_MAX, &x);
				if (ce == cell)
					return (points_fail(err, errlen,
					    ERR_MALFORMED,
					    "line %zu: no sample of %s (a "
					    "channel with a rate has one in "
					    "every row)",
					    line, b->ch[i].name));
				if (rc != 0)
					return (points_fail(err, errlen,
					    rc == -2 ? ERR_INVALID
						     : ERR_MALFORMED,
					    "line "
					    "%zu: the cell of %s is not an "
					    "int32",
					    line, b->ch[i].name));
				if (b->total >= POINTS_BATCH_MAX)
					return (points_fail(err, errlen,
					    ERR_TOO_LARGE,
					    "more than %u "
					    "samples in one batch",
					    POINTS_BATCH_MAX));
				if (csv_push(&b->ch[i], &col[i], (int32_t)x, t,
					skip) != OK)
					return (points_fail(err, errlen,
					    ERR_NOMEM, "out of memory"));
				b->total++;
			}
			cell = ce + 1;
		}
		if (cell <= p + ll)
			return (points_fail(err, errlen, ERR_MALFORMED,
			    "line %zu: "
			    "more cells than the header's %zu",
			    line, ncol));
		p = nl != NULL ? nl + 1 : end;
	}
	if (line == 0)
		return (points_fail(err, errlen, ERR_MALFORMED,
		    "empty body: a CSV "
		    "batch starts with a header row"));
	if (b->total == 0)
		return (points_fail(err, errlen, ERR_INVALID, "no samples"));
	if (rate_mhz > 0) {
		for (i = 0; i < b->nchannels; i++) {
			b->ch[i].rate_mhz = rate_mhz;
			b->ch[i].t0_ms = t0_ms;
		}
		return (OK);
	}
	/* Drop the columns that got no sample. */
	for (i = k = 0; i < b->nchannels; i++) {
		if (b->ch[i].count == 0)
			continue;
		if (k != i) {
			b->ch[k] = b->ch[i];
			memset(&b->ch[i], 0, sizeof(b->ch[i]));
		}
		k++;
	}
	b->nchannels = k;
	return (OK);
}

static int
csv_header(const char *p, size_t ll, int with_t, struct points_batch *b,
    char *err, size_t errlen)
{
	const char *cell = p, *ce, *end = p + ll;
	size_t	    k, n;

	for (k = 0; cell <= end; k++, cell = ce + 1) {
		if ((ce = memchr(cell, ',', (size_t)(end - cell))) == NULL)
			ce = end;
		n = (size_t)(ce - cell);
		if (k == 0 && with_t) {
			if (n != 1 || cell[0] != 't')
				return (points_fail(err, errlen, ERR_MALFORMED,
				    "line 1: without a rate the first column "
				    "is t (ms since 1970)"));
			continue;
		}
		if (k == 0 && n == 1 && cell[0] == 't')
			return (points_fail(err, errlen, ERR_MALFORMED,
			    "line 1: with "
			    "a rate the header names channels only (no t "
			    "column)"));
		if (b->nchannels == POINTS_CHANNELS_MAX)
			return (points_fail(err, errlen, ERR_TOO_LARGE,
			    "more than %d "
			    "channels",
			    POINTS_CHANNELS_MAX));
		if (!points_name_ok(cell, n))
			return (points_fail(err, errlen, ERR_INVALID,
			    "line 1: column "
			    "%zu: a name is 1 to %d of a-z, 0-9 and _",
			    k + 1, POINTS_NAME_MAX));
		memcpy(b->ch[b->nchannels].name, cell, n);
		b->ch[b->nchannels].name[n] = '\0';
		b->nchannels++;
	}
	if (b->nchannels == 0)
		return (points_fail(err, errlen, ERR_MALFORMED,
		    "line 1: the header names no channel"));
	return (OK);
}

/* An optional '-' and 1..19 digits in [min, max]: 0, -1 (syntax), -2 (range). */
static int
csv_int(const char *s, size_t n, int64_t min, int64_t max, int64_t *out)
{
	uint64_t v = 0;
	size_t	 i = 0;
	int64_t	 x;

	if (n > 0 && s[0] == '-')
		i = 1;
	if (i == n)
		return (-1);
	if (n - i > 19)
		return (-2);
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		v = v * 10 + (uint64_t)(s[i] - '0'); /* < 10^19 < 2^64 */
	}
	if (s[0] == '-') {
		if (v > (uint64_t)INT64_MAX + 1)
			return (-2);
		x = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > (uint64_t)INT64_MAX)
			return (-2);
		x = (int64_t)v;
	}
	if (x < min || x > max)
		return (-2);
	*out = x;
	return (0);
}

static int
csv_push(struct points_channel *c, struct column *col, int32_t x, int64_t t,
    int irregular)
{
	size_t	 ncap;
	int32_t *s;
	int64_t *ts;

	if (c->count == col->cap) {
		ncap = col->cap == 0 ? 1024 : col->cap * 2;
		if ((s = realloc(c->samples, ncap * sizeof(*s))) == NULL)
			return (ERR_NOMEM);
		c->samples = s;
		if (irregular) {
			if ((ts = realloc(c->ts_ms, ncap * sizeof(*ts))) ==
			    NULL)
				return (ERR_NOMEM);
			c->ts_ms = ts;
		}
		col->cap = ncap;
	}
	c->samples[c->count] = x;
	if (irregular)
		c->ts_ms[c->count] = t;
	c->count++;
	return (OK);
}
