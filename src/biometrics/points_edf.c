/*
 * Points out as EDF+ (European Data Format "plus", Kemp and Olivan 2003),
 * continuous (EDF+C): the header, one data record per record duration,
 * each signal's counts fitted into 16 bits (edf_fit: a shift and a move
 * chosen so the channel's range fits), and a last signal, "EDF
 * Annotations", whose annotations say which part of each signal was
 * recorded. Whole data records hold more slots than were recorded (the
 * second before the first sample, the end of the last record, gaps): such
 * a slot is written as EDF_GAP and lies outside every "Recorded"
 * annotation, so no sample in the file claims to be recorded when it was
 * not. The first record starts offset_us after the header's whole second
 * (its time-keeping TAL says so), so every slot's time is exact.
 * Labels follow EDF+'s standard texts ("EEG C3", "ECG II") where the
 * data type and channel name say them (points_edf_label). Pure: the query
 * route reads the samples (blocks.c) and hands them here.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "biometrics/points.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/util.h"

#define EDF_DMIN	(-32768)
#define EDF_DMAX	32767
#define EDF_GAP		EDF_DMIN /* a slot with no sample; no real count */
#define EDF_SIGNALS_MAX 9998	 /* a 4-character field, less the annotations */
#define EDF_FIELD8_MAX	99999999
#define EDF_ANNOTATIONS "EDF Annotations"
#define EDF_RECORDED	"Recorded" /* the text of a recorded span */
#define EDF_TAL_MAX	96	   /* bytes of one TAL, at most */
#define NROWS(a)	(sizeof(a) / sizeof((a)[0]))

__extension__ typedef __int128 i128;

/* One recorded span of a signal: slots [a, b), as ns from the start. */
struct span {
	int64_t a_ns, b_ns;
	size_t	sig;
};

static void	edf_field(char *, size_t, const char *);
static void	edf_code(char *, size_t, const char *);
static int	edf_number(double, char *, size_t);
static int64_t	floor_shift(int64_t, int);
static uint32_t gcd32(uint32_t, uint32_t);
static int	edf_fail(char *, size_t, int, const char *, ...)
    __attribute__((format(printf, 4, 5)));
static void    edf_fit(const struct points_edf_signal *, int *, int64_t *);
static int     edf_electrode(const char *, size_t, char *, size_t);
static int     edf_sensor(const char *, const char *, char *, size_t);
static int64_t slot_ns(uint64_t, uint32_t);
static void    rec_onset(
       const struct points_edf *, uint64_t, uint32_t, char *, size_t);
static void edf_secs(int64_t, char *, size_t);
static int  edf_spans(const struct points_edf *, const uint64_t *, uint64_t,
     struct span **, size_t *, char *, size_t);
static int  span_cmp(const void *, const void *);
static int  edf_tals(const struct points_edf *, char (*)[17], struct span *,
     size_t, struct buf *, size_t **, size_t *);

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

/*
 * A subfield of EDF+'s patient or recording identification into dst (at
 * most cap - 1 characters): printable ASCII without spaces ('_' for a
 * space or anything else), "X" (unknown) when empty.
 */
static void
edf_code(char *dst, size_t cap, const char *s)
{
	size_t i = 0;

	for (; s != NULL && s[i] != '\0' && i + 1 < cap; i++)
		dst[i] = s[i] > 0x20 && s[i] < 0x7f ? s[i] : '_';
	if (i == 0 && cap > 1)
		dst[i++] = 'X';
	dst[i] = '\0';
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

/*
 * The 10-20 / 10-10 electrode a lower-case name (n bytes) spells, in its
 * standard case ("fp1" -> "Fp1", "cz" -> "Cz", "af3" -> "AF3"): OK, or
 * ERR_NOT_FOUND for a name that is not one.
 */
static int
edf_electrode(const char *s, size_t n, char *out, size_t cap)
{
	static const char *const rows[][2] = { { "fp", "Fp" }, { "af", "AF" },
		{ "ft", "FT" }, { "fc", "FC" }, { "tp", "TP" }, { "cp", "CP" },
		{ "po", "PO" }, { "n", "N" }, { "f", "F" }, { "t", "T" },
		{ "c", "C" }, { "p", "P" }, { "o", "O" }, { "i", "I" },
		{ "a", "A" }, { "m", "M" } };
	const char		*x;
	size_t			 i, k;

	for (i = 0; i < NROWS(rows); i++) {
		k = strlen(rows[i][0]);
		if (n <= k || strncmp(s, rows[i][0], k) != 0)
			continue;
		x = s + k; /* the place: z (the midline), 1-9 or 10 */
		if (!((n - k == 1 && (*x == 'z' || (*x >= '1' && *x <= '9'))) ||
			(n - k == 2 && x[0] == '1' && x[1] == '0')))
			continue;
		if (strlen(rows[i][1]) + (n - k) + 1 > cap)
			return (ERR_TOO_LARGE);
		snprintf(out, cap, "%s%.*s", rows[i][1], (int)(n - k), x);
		return (OK);
	}
	return (ERR_NOT_FOUND);
}

/*
 * The sensor part of a label for channel under type: an EEG electrode or
 * a derivation of two ("c3_a2" -> "C3-A2"), an ECG lead ("avf" -> "aVF"),
 * or ERR_NOT_FOUND (the channel's name is kept).
 */
static int
edf_sensor(const char *type, const char *ch, char *out, size_t cap)
{
	static const char *const leads[][2] = { { "i", "I" }, { "ii", "II" },
		{ "iii", "III" }, { "avr", "aVR" }, { "avl", "aVL" },
		{ "avf", "aVF" } };
	const char		*us;
	char			 a[8], b[8];
	size_t			 i;

	if (strcmp(type, "EEG") == 0) {
		if ((us = strchr(ch, '_')) == NULL)
			return (edf_electrode(ch, strlen(ch), out, cap));
		if (strchr(us + 1, '_') != NULL ||
		    edf_electrode(ch, (size_t)(us - ch), a, sizeof(a)) != OK ||
		    edf_electrode(us + 1, strlen(us + 1), b, sizeof(b)) != OK)
			return (ERR_NOT_FOUND);
		snprintf(out, cap, "%s-%s", a, b);
		return (OK);
	}
	if (strcmp(type, "ECG") == 0) {
		for (i = 0; i < NROWS(leads); i++)
			if (strcmp(ch, leads[i][0]) == 0) {
				snprintf(out, cap, "%s", leads[i][1]);
				return (OK);
			}
		if (ch[0] == 'v' && ch[1] >= '1' && ch[1] <= '9' &&
		    ch[2] == '\0') {
			snprintf(out, cap, "V%c", ch[1]);
			return (OK);
		}
	}
	return (ERR_NOT_FOUND);
}

int
points_edf_label(
    const char *kind, const char *channel, char out[POINTS_EDF_LABEL_LEN + 1])
{
	/* EDF+'s standard signal types, by the data type's name. */
	static const char *const types[][2] = { { "eeg", "EEG" },
		{ "ecg", "ECG" }, { "ekg", "ECG" }, { "eog", "EOG" },
		{ "erg", "ERG" }, { "emg", "EMG" }, { "meg", "MEG" },
		{ "mcg", "MCG" }, { "ep", "EP" }, { "temp", "Temp" },
		{ "temperature", "Temp" }, { "resp", "Resp" },
		{ "respiration", "Resp" }, { "sao2", "SaO2" },
		{ "spo2", "SaO2" }, { "light", "Light" }, { "sound", "Sound" },
		{ "event", "Event" } };
	char   type[16] = "", sensor[40], ch[POINTS_NAME_MAX + 1], full[64];
	size_t i;

	edf_code(ch, sizeof(ch), channel);
	for (i = 0; kind != NULL && i < NROWS(types); i++)
		if (strcasecmp(kind, types[i][0]) == 0)
			snprintf(type, sizeof(type), "%s", types[i][1]);
	/* Another data type names the signal as it is, when short. */
	if (type[0] == '\0' && kind != NULL && kind[0] != '\0' &&
	    strlen(kind) <= 8)
		edf_code(type, sizeof(type), kind);
	if (type[0] == '\0') {
		strlcpy_cb(out, ch, POINTS_EDF_LABEL_LEN + 1);
		return (OK);
	}
	/* A channel named as its type ("spo2" of SpO2): the type alone. */
	if (strcasecmp(ch, type) == 0 ||
	    (kind != NULL && strcasecmp(ch, kind) == 0)) {
		strlcpy_cb(out, type, POINTS_EDF_LABEL_LEN + 1);
		return (OK);
	}
	if (edf_sensor(type, ch, sensor, sizeof(sensor)) != OK)
		snprintf(sensor, sizeof(sensor), "%s", ch);
	snprintf(full, sizeof(full), "%s %s", type, sensor);
	strlcpy_cb(out, full, POINTS_EDF_LABEL_LEN + 1); /* cut at 16 */
	return (OK);
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

/* The time of slot k at rate_mhz from the file's start, in ns (nearest). */
static int64_t
slot_ns(uint64_t k, uint32_t rate_mhz)
{
	return ((int64_t)(((i128)k * 2000000000000 + rate_mhz) /
	    ((i128)rate_mhz * 2)));
}

/*
 * Record r's onset (records d s long), in seconds from the header's
 * start: r * d + offset_us, exactly ("12", "0.25", "3.000125").
 */
static void
rec_onset(
    const struct points_edf *e, uint64_t r, uint32_t d, char *out, size_t len)
{
	int   n;
	char *x;

	n = snprintf(out, len, "%llu.%06lld", (unsigned long long)r * d,
	    (long long)e->offset_us);
	if (n <= 0 || (size_t)n >= len)
		return;
	for (x = out + n; x[-1] == '0'; x--)
		;
	if (x[-1] == '.')
		x--;
	*x = '\0';
}

/* ns >= 0 as seconds, "12" or "380.54296875": no exponent, no padding. */
static void
edf_secs(int64_t ns, char *out, size_t len)
{
	int   n;
	char *e;

	n = snprintf(out, len, "%lld.%09lld", (long long)(ns / 1000000000),
	    (long long)(ns % 1000000000));
	if (n <= 0 || (size_t)n >= len)
		return;
	for (e = out + n; e[-1] == '0'; e--)
		;
	if (e[-1] == '.')
		e--;
	*e = '\0';
}

/*
 * Each signal's recorded spans: the runs of slots that hold a sample,
 * among the nrec * spr[i] the file has, as times from its start. At most
 * POINTS_EDF_SPANS_MAX in all (ERR_INVALID past it: a channel with more
 * gaps than that is for CSV).
 */
static int
edf_spans(const struct points_edf *e, const uint64_t *spr, uint64_t nrec,
    struct span **out, size_t *n, char *err, size_t errlen)
{
	const struct points_edf_signal *s;
	struct span		       *sp = NULL, *ns;
	size_t				cap = 0, i;
	uint64_t			j, a, end;

	*out = NULL;
	*n = 0;
	for (i = 0; i < e->nsignals; i++) {
		s = &e->signals[i];
		end = nrec * spr[i];
		if (s->nsamples < end)
			end = s->nsamples;
		for (j = 0; j < end;) {
			if (s->missing != NULL && s->missing[j]) {
				j++;
				continue;
			}
			for (a = j;
			     j < end && (s->missing == NULL || !s->missing[j]);
			     j++)
				;
			if (*n == POINTS_EDF_SPANS_MAX) {
				free(sp);
				return (edf_fail(err, errlen, ERR_INVALID,
				    "the samples fall in more than %d "
				    "separate spans (export them as CSV)",
				    POINTS_EDF_SPANS_MAX));
			}
			if (*n == cap) {
				cap = cap ? cap * 2 : 16;
				if ((ns = reallocarray(sp, cap, sizeof(*sp))) ==
				    NULL) {
					free(sp);
					return (edf_fail(err, errlen, ERR_NOMEM,
					    "out of memory"));
				}
				sp = ns;
			}
			sp[*n].a_ns =
			    e->offset_us * 1000 + slot_ns(a, s->rate_mhz);
			sp[*n].b_ns =
			    e->offset_us * 1000 + slot_ns(j, s->rate_mhz);
			sp[(*n)++].sig = i;
		}
	}
	*out = sp;
	return (OK);
}

/* By onset, then by signal. */
static int
span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	if (x->a_ns != y->a_ns)
		return (x->a_ns < y->a_ns ? -1 : 1);
	return (x->sig < y->sig ? -1 : x->sig > y->sig);
}

/*
 * The TALs (time-stamped annotation lists) of the recorded spans into
 * tals, each "+onset\x15duration\x14text\x14\0", their ends in (*ends)[]
 * (*ntals of them). One "Recorded" a span when every signal was recorded
 * over the same spans; otherwise "Recorded@@<label>" a span of each signal
 * (EDF+'s way to link an annotation to one signal), by onset.
 */
static int
edf_tals(const struct points_edf *e, char (*labels)[17], struct span *sp,
    size_t nsp, struct buf *tals, size_t **ends, size_t *ntals)
{
	char	on[32], du[32], lab[17];
	size_t	i, k, per0 = 0, at, len;
	int	shared = 1, rc = OK;
	size_t *cnt;

	*ends = NULL;
	*ntals = 0;
	/* Spans come by signal: shared when each signal's list is the
	 * first's. */
	if ((cnt = calloc(e->nsignals, sizeof(*cnt))) == NULL)
		return (ERR_NOMEM);
	for (i = 0; i < nsp; i++)
		cnt[sp[i].sig]++;
	per0 = cnt[0];
	for (i = 1; i < e->nsignals && shared; i++)
		shared = cnt[i] == per0;
	for (k = 0, at = 0; shared && k < nsp; k++) {
		if (sp[k].sig == 0)
			continue;
		/* The j-th span of signal sig is sp[base(sig) + j]. */
		at = k - per0 * sp[k].sig;
		shared = sp[k].a_ns == sp[at].a_ns && sp[k].b_ns == sp[at].b_ns;
	}
	free(cnt);
	if (!shared)
		qsort(sp, nsp, sizeof(*sp), span_cmp);
	if ((*ends = calloc(nsp > 0 ? nsp : 1, sizeof(**ends))) == NULL)
		return (ERR_NOMEM);
	for (k = 0; k < nsp && rc == OK; k++) {
		if (shared && sp[k].sig != 0)
			break;
		edf_secs(sp[k].a_ns, on, sizeof(on));
		edf_secs(sp[k].b_ns - sp[k].a_ns, du, sizeof(du));
		if (shared)
			rc = buf_printf(
			    tals, "+%s\x15%s\x14" EDF_RECORDED "\x14", on, du);
		else {
			/* The label as the header has it, less its padding. */
			snprintf(lab, sizeof(lab), "%s", labels[sp[k].sig]);
			for (len = strlen(lab); len > 0 && lab[len - 1] == ' ';)
				lab[--len] = '\0';
			rc = buf_printf(tals,
			    "+%s\x15%s\x14" EDF_RECORDED "@@%s\x14", on, du,
			    lab);
		}
		/* A TAL ends with a NUL. */
		if (rc == OK)
			rc = buf_append(tals, "", 1);
		(*ends)[(*ntals)++] = tals->len;
	}
	return (rc);
}

int
points_edf_write_err(
    const struct points_edf *e, struct buf *out, char *err, size_t errlen)
{
	static const char *const mon[] = { "JAN", "FEB", "MAR", "APR", "MAY",
		"JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC" };
	const struct points_edf_signal *s;
	struct tm			tm;
	struct span		       *sp = NULL;
	struct buf			tals;
	char			       *h = NULL, num[32], pf[80], code[48];
	char				on[32];
	char			       *ident = NULL;
	char(*labels)[17] = NULL;
	uint8_t	 *rec = NULL;
	uint64_t *spr = NULL, recsum = 0, nrec, bytes, dur_ms, tk, talmax = 0;
	uint64_t  abytes;
	uint32_t  d, gr = 1000;
	int	 *shift = NULL;
	int64_t	 *move = NULL, secs, c;
	uint64_t  idx;
	size_t	  ns = e->nsignals, nt, hlen, i, j, r, o, nsp = 0, ntals = 0;
	size_t	  t = 0, used, prev, *ends = NULL;
	size_t	  start = out->len;
	int	  rc = ERR_INVALID;
	double	  g, pmin, pmax;

	buf_init(&tals, (size_t)POINTS_EDF_SPANS_MAX * EDF_TAL_MAX);
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
	if (e->offset_us < 0 || e->offset_us >= 1000000)
		return (edf_fail(err, errlen, ERR_INVALID,
		    "the first record's offset is not within its second"));
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
	spr = calloc(ns, sizeof(*spr));
	shift = calloc(ns, sizeof(*shift));
	move = calloc(ns, sizeof(*move));
	labels = calloc(ns, sizeof(*labels));
	if (spr == NULL || shift == NULL || move == NULL || labels == NULL) {
		rc = edf_fail(err, errlen, ERR_NOMEM, "out of memory");
		goto out;
	}
	/* lcm over signals of 1000 / gcd(rate, 1000) = 1000 / gcd(1000,
	 * every rate): a divisor of 1000, 1 for whole Hz */
	d = gr > 0 ? 1000 / gr : 1000;
	for (i = 0; i < ns; i++) {
		spr[i] = (uint64_t)e->signals[i].rate_mhz * d / 1000;
		if (spr[i] > EDF_FIELD8_MAX) {
			rc = edf_fail(err, errlen, ERR_TOO_LARGE,
			    "signal %zu has more samples a record than EDF "
			    "holds",
			    i + 1);
			goto out;
		}
		recsum += spr[i];
	}
	dur_ms = (uint64_t)d * 1000;
	/* Records from offset_us on, enough to reach duration_ms from the
	 * start and to hold every slot of every signal; at least one. */
	nrec = 1;
	if ((uint64_t)e->duration_ms * 1000 > (uint64_t)e->offset_us)
		nrec = ((uint64_t)e->duration_ms * 1000 -
			   (uint64_t)e->offset_us + dur_ms * 1000 - 1) /
		    (dur_ms * 1000);
	for (i = 0; i < ns; i++)
		if (spr[i] > 0 &&
		    (e->signals[i].nsamples + spr[i] - 1) / spr[i] > nrec)
			nrec = (e->signals[i].nsamples + spr[i] - 1) / spr[i];
	if (nrec == 0)
		nrec = 1;
	if (nrec > EDF_FIELD8_MAX) {
		rc = edf_fail(err, errlen, ERR_TOO_LARGE,
		    "more data records than EDF holds");
		goto out;
	}
	/* Labels: EDF+'s standard texts, each one once. */
	for (i = 0; i < ns; i++) {
		points_edf_label(e->kind, e->signals[i].channel, labels[i]);
		for (j = 0; j <= i; j++)
			if (strcasecmp(labels[i],
				j < i ? labels[j] : EDF_ANNOTATIONS) == 0) {
				/* "~<its number>" at its end: no channel
				 * name holds a '~'. */
				snprintf(num, sizeof(num), "~%zu", i + 1);
				o = strlen(labels[i]);
				if (o > POINTS_EDF_LABEL_LEN - strlen(num))
					o = POINTS_EDF_LABEL_LEN - strlen(num);
				snprintf(
				    labels[i] + o, strlen(num) + 1, "%s", num);
				break;
			}
	}
	/* What was recorded, as annotations; the record's share of them
	 * comes after its time-keeping TAL ("+<onset>\x14\x14\0"). */
	if ((rc = edf_spans(e, spr, nrec, &sp, &nsp, err, errlen)) != OK)
		goto out;
	if ((rc = edf_tals(e, labels, sp, nsp, &tals, &ends, &ntals)) != OK) {
		rc = edf_fail(err, errlen, rc, "out of memory");
		goto out;
	}
	for (i = 0, prev = 0; i < ntals; prev = ends[i++])
		if (ends[i] - prev > talmax)
			talmax = ends[i] - prev;
	/* The last record's onset is the longest. */
	rec_onset(e, nrec - 1, d, on, sizeof(on));
	tk = strlen(on) + 4; /* "+", "\x14\x14", NUL */
	/* Every record room for its TAL and the next one whole: greedy
	 * filling then places all of them in nrec records. */
	abytes = tk + (ntals > 0 ? talmax + (tals.len + nrec - 1) / nrec : 0);
	abytes += abytes % 2;
	recsum += abytes / 2;
	nt = ns + 1;
	hlen = 256 * (nt + 1);
	if (recsum > (UINT64_MAX / 2 - hlen) / nrec) {
		rc = edf_fail(err, errlen, ERR_TOO_LARGE, "too large");
		goto out;
	}
	bytes = hlen + nrec * recsum * 2;
	if (bytes > out->max || out->len > out->max - bytes) {
		rc = edf_fail(err, errlen, ERR_TOO_LARGE,
		    "the file would be larger than %zu bytes", out->max);
		goto out;
	}

	if ((h = malloc(hlen)) == NULL || (ident = malloc(128)) == NULL ||
	    (rec = malloc(recsum * 2 > 0 ? recsum * 2 : 1)) == NULL) {
		rc = edf_fail(err, errlen, ERR_NOMEM, "out of memory");
		goto out;
	}
	edf_field(h, 8, "0");
	/* EDF+: "code sex birthdate name", and "Startdate dd-MMM-yyyy
	 * admincode technician equipment", X where not known. */
	edf_code(code, sizeof(code), e->patient);
	snprintf(ident, 128, "%s X X X", code);
	edf_field(h + 8, 80, ident);
	edf_code(code, sizeof(code), e->recording);
	snprintf(ident, 128, "Startdate %02d-%s-%04d %s X X", tm.tm_mday,
	    mon[tm.tm_mon], tm.tm_year + 1900, code);
	edf_field(h + 88, 80, ident);
	snprintf(num, sizeof(num), "%02d.%02d.%02d", tm.tm_mday, tm.tm_mon + 1,
	    tm.tm_year % 100);
	edf_field(h + 168, 8, num);
	snprintf(num, sizeof(num), "%02d.%02d.%02d", tm.tm_hour, tm.tm_min,
	    tm.tm_sec);
	edf_field(h + 176, 8, num);
	snprintf(num, sizeof(num), "%zu", hlen);
	edf_field(h + 184, 8, num);
	edf_field(h + 192, 44, "EDF+C");
	snprintf(num, sizeof(num), "%llu", (unsigned long long)nrec);
	edf_field(h + 236, 8, num);
	snprintf(num, sizeof(num), "%u", d);
	edf_field(h + 244, 8, num);
	snprintf(num, sizeof(num), "%zu", nt);
	edf_field(h + 252, 4, num);

	/* Per-signal fields, the annotations signal last in each. */
	o = 256;
	for (i = 0; i < nt; i++)
		edf_field(
		    h + o + 16 * i, 16, i < ns ? labels[i] : EDF_ANNOTATIONS);
	o += 16 * nt;
	for (i = 0; i < nt; i++)
		edf_field(h + o + 80 * i, 80, "");
	o += 80 * nt;
	for (i = 0; i < nt; i++)
		edf_field(h + o + 8 * i, 8, i < ns ? e->signals[i].unit : "");
	o += 8 * nt;
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
		edf_field(h + o + 8 * nt + 8 * i, 8, num);
	}
	/* The annotations' ranges, as EDF+ asks: physical -1..1. */
	edf_field(h + o + 8 * ns, 8, "-1");
	edf_field(h + o + 8 * nt + 8 * ns, 8, "1");
	o += 16 * nt;
	for (i = 0; i < nt; i++) {
		snprintf(num, sizeof(num), "%d", EDF_DMIN);
		edf_field(h + o + 8 * i, 8, num);
		snprintf(num, sizeof(num), "%d", EDF_DMAX);
		edf_field(h + o + 8 * nt + 8 * i, 8, num);
	}
	o += 16 * nt;
	for (i = 0; i < nt; i++) {
		if (i < ns && shift[i] > 0)
			snprintf(pf, sizeof(pf),
			    "counts/%lld (floor) to fit "
			    "16 bits",
			    (long long)1 << shift[i]);
		else
			pf[0] = '\0';
		edf_field(h + o + 80 * i, 80, pf);
	}
	o += 80 * nt;
	for (i = 0; i < nt; i++) {
		snprintf(num, sizeof(num), "%llu",
		    (unsigned long long)(i < ns ? spr[i] : abytes / 2));
		edf_field(h + o + 8 * i, 8, num);
	}
	o += 8 * nt;
	for (i = 0; i < nt; i++)
		edf_field(h + o + 32 * i, 32, "");
	if ((rc = buf_append(out, h, hlen)) != OK)
		goto out;

	/* Data records: per signal, spr samples as int16 little-endian;
	 * then the annotations: the record's onset, then TALs while the
	 * next fits, then NULs. */
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
		memset(rec + o, 0, abytes);
		rec_onset(e, r, d, on, sizeof(on));
		snprintf((char *)rec + o, abytes, "+%s\x14\x14", on);
		used = strlen((char *)rec + o) + 1;
		for (; t < ntals; t++) {
			prev = t > 0 ? ends[t - 1] : 0;
			if (used + ends[t] - prev > abytes)
				break;
			memcpy(
			    rec + o + used, tals.data + prev, ends[t] - prev);
			used += ends[t] - prev;
		}
		if ((rc = buf_append(out, rec, o + abytes)) != OK)
			goto out;
	}
	rc = t == ntals ? OK : ERR_INTERNAL;
out:
	if (rc != OK && out->data != NULL && out->len > start) {
		out->len = start;
		out->data[start] = '\0';
	}
	if (rc == ERR_NOMEM || rc == ERR_TOO_LARGE)
		edf_fail(err, errlen, rc, "the file does not fit in memory");
	buf_free(&tals);
	free(ends);
	free(sp);
	free(h);
	free(ident);
	free(rec);
	free(spr);
	free(shift);
	free(move);
	free(labels);
	return (rc);
}
