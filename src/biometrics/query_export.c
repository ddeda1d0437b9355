/*
 * The exports of a recording's points (see query.c for the routes, the
 * window and who may read): GET /v1/recordings/{id}/export.csv, one row
 * per time with a column per channel, and /export.edf, every regular
 * channel's samples as EDF+ with annotations that say which slots of its
 * data records were recorded (points_edf.c writes them), from the first
 * sample or the last point before it on every channel's grid, each
 * sample at its recorded time (rq_edf_answer), at most
 * BIO_EXPORT_MAX samples (422 TOO_MANY_POINTS past it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "biometrics/biometrics_int.h"
#include "biometrics/points.h"
#include "biometrics/query_int.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "store/store.h"

__extension__ typedef __int128 i128;

/* Where the window's first sample lies in its segment (origin_block). */
struct origin {
	int64_t t_us;  /* the sample */
	int64_t t0_ms; /* its segment's start */
	int64_t k;     /* its index in the segment */
};

static int     export_channels(struct rq *, struct channel_info **, size_t *);
static int64_t edf_slot(int64_t, int64_t, uint32_t, int64_t *);
static int     origin_block(const struct block *, void *);
static int     edf_anchor(struct rq *, struct tx *, const struct channel_info *,
	int64_t, uint32_t, int64_t *);
static void    t_ms_text(int64_t, char *, size_t);
static uint32_t gcd32(uint32_t, uint32_t);

/* The channels an export reads: ?channel= or every one. */
static int
export_channels(struct rq *q, struct channel_info **first, size_t *n)
{
	int rc;

	if (q->channel == NULL) {
		*first = q->ch;
		*n = q->nch;
		return (rq_window(q, q->ch, q->nch));
	}
	if ((rc = rq_channel_pick(q, first)) != OK)
		return (rc);
	*n = 1;
	return (rq_window(q, *first, 1));
}

int
rq_csv_answer(struct rq *q, struct tx *tx)
{
	struct channel_info *c;
	struct series	     s;
	size_t		     i, n;
	int		     rc = OK;

	memset(&s, 0, sizeof(s));
	if ((rc = export_channels(q, &c, &n)) != OK)
		return (rc);
	rq_str(q, RQ_CSV_HEAD);
	for (i = 0; i < n && rc == OK; i++) {
		rc = blocks_read(tx, q->id, c[i].name, q->from, q->to,
		    BIO_EXPORT_MAX - (size_t)q->points, &s);
		if (rc == ERR_TOO_LARGE)
			rc = rq_too_many(q, BIO_EXPORT_MAX);
		if (rc == OK)
			rc = rq_csv_rows(q, c[i].name, &s);
		series_free(&s);
	}
	q->ctype = "text/csv; charset=utf-8";
	return (rc);
}

int
rq_csv_rows(struct rq *q, const char *channel, const struct series *s)
{
	size_t j;
	int    rc;

	if ((rc = rq_reserve(
		 q, q->out.len + q->wn + s->n * (34 + strlen(channel) + 24))) !=
	    OK)
		return (rc);
	for (j = 0; j < s->n; j++) {
		rq_str(q, channel);
		rq_mem(q, ",", 1);
		rq_tus(q, s->t_us[j]);
		rq_mem(q, ",", 1);
		rq_i64(q, s->v[j]);
		rq_mem(q, ",", 1);
		rq_dbl(q, q->rec.offset + q->rec.scale * s->v[j]);
		rq_mem(q, "\n", 1);
	}
	q->points += (int64_t)s->n;
	return (OK);
}

/*
 * How far a sample's recorded time may lie from its EDF slot's time, in
 * ns: under 1 us. Recorded times are given to the microsecond, floored
 * (points_time_us), and so is the anchor where the slots start (a point
 * of the same exact grid, edf_anchor): a sample of a regular series lies
 * within 1 us of its slot, never on another. One further off is not on
 * the series' grid (a segment that started afresh, after a gap, at its
 * own time, or a channel started apart from the others): EDF+C cannot
 * hold it where it was recorded, and it is not moved there (422
 * EDF_UNSUPPORTED).
 */
#define EDF_SLOT_TOL_NS 1000

/*
 * The EDF slot of a sample at t_us, counting from anchor_us at rate_mhz:
 * the nearest, (t - anchor) * rate rounded half up, exactly; *off_ns is
 * how far (ns, either way) the sample lies from that slot's time.
 */
static int64_t
edf_slot(int64_t t_us, int64_t anchor_us, uint32_t rate_mhz, int64_t *off_ns)
{
	i128 a = ((i128)t_us - (i128)anchor_us) * rate_mhz + 500000000;
	i128 q = a / 1000000000, d;

	if (a % 1000000000 != 0 && a < 0)
		q--;
	/* (t - anchor) - q / rate, in ns: times rate, it is in ns * mHz. */
	d = ((i128)t_us - (i128)anchor_us) * rate_mhz * 1000 -
	    q * (i128)1000000000000;
	if (d < 0)
		d = -d;
	d = d / rate_mhz;
	*off_ns = d > INT64_MAX ? INT64_MAX : (int64_t)d;
	return ((int64_t)q);
}

/* Stops a scan at the block looked for (blocks_scan returns it). */
#define ORIGIN_FOUND ERR_CONFLICT

/* The block of the segment that holds o->t_us (on its grid, within
 * EDF_SLOT_TOL_NS), and the sample's index in it. */
static int
origin_block(const struct block *b, void *arg)
{
	struct origin *o = arg;
	int64_t	       k, off;

	if (b->rate_mhz == 0 || b->count == 0)
		return (OK);
	k = edf_slot(o->t_us, b->t0_ms * 1000, b->rate_mhz, &off);
	if (off >= EDF_SLOT_TOL_NS || k < (int64_t)b->first ||
	    k >= (int64_t)(b->first + b->count))
		return (OK);
	o->t0_ms = b->t0_ms;
	o->k = k;
	return (ORIGIN_FOUND);
}

/*
 * The time EDF's slots count from, in us, into *anchor: a point on the
 * grid of every channel, at or before the window's first sample
 * (first_us, of channel e). Channels sampled on one clock from one start
 * (sent together) meet on each other's grids every common period, 1 /
 * the gcd of their rates (g, mHz: 0.25 s for 256 and 100 Hz; a sample
 * period for one rate), from their segment's start: the anchor is the
 * last such meeting at or before the first sample, the start of
 * first_us's segment stepped by whole common periods. For one channel, or
 * channels of one rate, it is the first sample itself. Slot k of a
 * channel at rate r lies k / r after it, and each of the channel's
 * samples within 1 us of its slot (both are the same exact grid floored
 * to the us); the caller refuses, saying why, a sample that is not.
 */
static int
edf_anchor(struct rq *q, struct tx *tx, const struct channel_info *e,
    int64_t first_us, uint32_t g, int64_t *anchor)
{
	struct origin o;
	int	      rc;

	*anchor = first_us;
	memset(&o, 0, sizeof(o));
	o.t_us = first_us;
	rc = blocks_scan(tx, q->id, e->name, q->from, q->to, origin_block, &o);
	if (rc != ORIGIN_FOUND)
		return (rc); /* OK: not found (it was read from these blocks) */
	if (g == 0 || e->rate_mhz % g != 0)
		return (OK);
	*anchor = points_time_us(
	    o.t0_ms, g, (uint64_t)(o.k / (int64_t)(e->rate_mhz / g)));
	return (OK);
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

/* A time in us as CSV's t_ms gives it ("1772359205010.000"). */
static void
t_ms_text(int64_t t_us, char *out, size_t len)
{
	int64_t ms = blocks_floor_div(t_us, 1000);

	snprintf(out, len, "t_ms %lld.%03lld", (long long)ms,
	    (long long)(t_us - ms * 1000));
}

/*
 * EDF's slots start at the anchor (edf_anchor: the window's first sample,
 * or the last point before it that every channel's grid shares): the
 * header holds its second, and the first data record's time-keeping TAL
 * the rest (points_edf offset_us), so no sample is moved to a whole
 * second. Each sample goes to its slot, which lies within EDF_SLOT_TOL_NS
 * of its recorded time; a sample further off is refused (422
 * EDF_UNSUPPORTED), saying whether its channel was recorded apart (a
 * segment off the grid of the channel's first sample) or the channels
 * are offset from each other (each on a grid of its own, which EDF+C's
 * one start cannot hold). Two samples of a channel in one slot (batches
 * whose times overlap) are refused too (422 EDF_OVERLAPPING_SAMPLES): a
 * signal holds one value a slot, and neither is dropped in silence. The
 * slots no sample lands in (before a channel's first, in a gap, after its
 * last) are marked missing and written as EDF's reserved gap value. The
 * records cover the window and every slot that holds a sample.
 */
int
rq_edf_answer(struct rq *q, struct tx *tx)
{
	struct points_edf_signal *sig = NULL;
	struct points_edf	  edf;
	struct channel_info	 *c, *reg[BLOCKS_CHANNELS_MAX];
	struct channel_info	  win[BLOCKS_CHANNELS_MAX];
	struct series		 *ser = NULL;
	int32_t			**dense = NULL;
	uint8_t			**missing = NULL;
	char			  why[256], at[40];
	size_t			  i, j, n, nreg = 0, total = 0;
	size_t			  e = 0;
	int64_t			  idx, nd, start, anchor = INT64_MAX, off, own;
	uint32_t		  g = 0;
	int			  rc;

	if ((rc = export_channels(q, &c, &n)) != OK)
		return (rc);
	for (i = 0; i < n; i++) {
		if (c[i].mixed) {
			http_problem(q->req, ERR_INVALID, "MIXED_RATES",
			    "Channel "
			    "%s changes its sample rate: EDF holds one rate a "
			    "signal (export it as CSV).",
			    c[i].name);
			return (ERR_INVALID);
		}
		if (c[i].rate_mhz != 0)
			reg[nreg++] = &c[i];
	}
	if (nreg == 0) {
		http_problem(q->req, ERR_INVALID, "NO_REGULAR_CHANNELS",
		    "EDF "
		    "holds regularly sampled channels only: %s.",
		    n == 0 ? "the recording holds no points"
			   : "export irregular "
			     "channels as CSV");
		return (ERR_INVALID);
	}
	if (nreg < n) {
		/* The default window spans the regular channels only. */
		for (i = 0; i < nreg; i++)
			win[i] = *reg[i];
		if ((rc = rq_window(q, win, nreg)) != OK)
			return (rc);
	}
	sig = calloc(nreg, sizeof(*sig));
	ser = calloc(nreg, sizeof(*ser));
	dense = calloc(nreg, sizeof(*dense));
	missing = calloc(nreg, sizeof(*missing));
	if (sig == NULL || ser == NULL || dense == NULL || missing == NULL) {
		rc = ERR_NOMEM;
		goto out;
	}
	/* Every channel's samples first: the slots start at the first. */
	for (i = 0; i < nreg; i++) {
		rc = blocks_read(tx, q->id, reg[i]->name, q->from, q->to,
		    BIO_EXPORT_MAX - total, &ser[i]);
		if (rc == ERR_TOO_LARGE)
			rc = rq_too_many(q, BIO_EXPORT_MAX);
		if (rc != OK)
			goto out;
		total += ser[i].n;
		if (ser[i].n > 0 && ser[i].t_us[0] < anchor) {
			anchor = ser[i].t_us[0];
			e = i;
		}
		g = gcd32(g, reg[i]->rate_mhz);
	}
	if (anchor == INT64_MAX)
		anchor = q->from * 1000; /* no sample: the window's start */
	else if ((rc = edf_anchor(q, tx, reg[e], anchor, g, &anchor)) != OK)
		goto out;
	start = blocks_floor_div(anchor, 1000000) * 1000;
	total = 0;
	for (i = 0; i < nreg; i++) {
		nd = 0;
		for (j = 0; j < ser[i].n; j++) {
			idx = edf_slot(
			    ser[i].t_us[j], anchor, reg[i]->rate_mhz, &off);
			if (off < EDF_SLOT_TOL_NS) {
				if (idx + 1 > nd)
					nd = idx + 1;
				continue;
			}
			t_ms_text(ser[i].t_us[j], at, sizeof(at));
			/* On the grid of its channel's first sample: the
			 * channels are offset from each other. */
			edf_slot(ser[i].t_us[j], ser[i].t_us[0],
			    reg[i]->rate_mhz, &own);
			if (own < EDF_SLOT_TOL_NS)
				http_problem(q->req, ERR_INVALID,
				    "EDF_UNSUPPORTED",
				    "The window cannot be written as EDF: "
				    "channel %s's samples lie %lld ns off the "
				    "grid channel %s's start on (from its "
				    "sample at %s; the channels were not "
				    "sampled from one start on one clock), and "
				    "EDF+C starts every signal at one time: "
				    "export each channel on its own "
				    "(?channel=%s), or as CSV.",
				    reg[i]->name, (long long)off, reg[e]->name,
				    at, reg[i]->name);
			else
				http_problem(q->req, ERR_INVALID,
				    "EDF_UNSUPPORTED",
				    "The window cannot be written as EDF: "
				    "channel %s's sample at %s lies %lld ns "
				    "off the regular grid its first sample "
				    "starts (a segment recorded apart): "
				    "export it as CSV, or each part in a "
				    "window of its own.",
				    reg[i]->name, at, (long long)own);
			rc = ERR_INVALID;
			goto out;
		}
		if ((size_t)nd > BIO_EXPORT_MAX - total) {
			rc = rq_too_many(q, BIO_EXPORT_MAX);
			goto out;
		}
		total += (size_t)nd;
		if (nd > 0 &&
		    ((dense[i] = calloc((size_t)nd, sizeof(**dense))) == NULL ||
			(missing[i] = malloc((size_t)nd)) == NULL)) {
			rc = ERR_NOMEM;
			goto out;
		}
		if (nd > 0)
			memset(missing[i], 1, (size_t)nd);
		sig[i].count_min = INT32_MAX;
		sig[i].count_max = INT32_MIN;
		for (j = 0; j < ser[i].n; j++) {
			if (ser[i].v[j] < sig[i].count_min)
				sig[i].count_min = ser[i].v[j];
			if (ser[i].v[j] > sig[i].count_max)
				sig[i].count_max = ser[i].v[j];
			idx = edf_slot(
			    ser[i].t_us[j], anchor, reg[i]->rate_mhz, &off);
			if (idx < 0 || idx >= nd || dense[i] == NULL)
				continue;
			if (!missing[i][idx]) {
				/* A slot holds one value: keep neither over
				 * the other. */
				t_ms_text(ser[i].t_us[j], at, sizeof(at));
				http_problem(q->req, ERR_INVALID,
				    "EDF_OVERLAPPING_SAMPLES",
				    "The window cannot be written as EDF: "
				    "channel %s holds two samples at %s "
				    "(batches whose times overlap), and an EDF "
				    "signal holds one value a sample time: "
				    "export it as CSV, which lists both, or a "
				    "window without the overlap.",
				    reg[i]->name, at);
				rc = ERR_INVALID;
				goto out;
			}
			dense[i][idx] = ser[i].v[j];
			missing[i][idx] = 0;
		}
		q->points += (int64_t)ser[i].n;
		sig[i].channel = reg[i]->name;
		sig[i].unit = q->rec.unit;
		sig[i].scale = q->rec.scale;
		sig[i].offset = q->rec.offset;
		sig[i].rate_mhz = reg[i]->rate_mhz;
		sig[i].samples = dense[i];
		sig[i].missing = missing[i];
		sig[i].nsamples = (size_t)nd;
	}
	memset(&edf, 0, sizeof(edf));
	edf.patient = q->rec.user_id; /* pseudonymous: an id, never a name */
	edf.recording = q->id;
	edf.kind = q->rec.data_type;
	edf.start_ms = start;
	edf.offset_us = anchor - start * 1000;
	edf.duration_ms = q->to - start;
	edf.nsignals = nreg;
	edf.signals = sig;
	rq_flush(q);
	why[0] = '\0';
	rc = points_edf_write_err(&edf, &q->out, why, sizeof(why));
	if (rc == ERR_TOO_LARGE)
		rc = rq_too_many(q, 0);
	else if (rc == ERR_INVALID) {
		http_problem(q->req, ERR_INVALID, "EDF_UNSUPPORTED",
		    "The "
		    "window cannot be written as EDF: %s.",
		    why);
		rc = ERR_INVALID;
	}
	q->ctype = "application/octet-stream";
out:
	for (i = 0; ser != NULL && i < nreg; i++)
		series_free(&ser[i]);
	for (i = 0; dense != NULL && i < nreg; i++)
		free(dense[i]);
	for (i = 0; missing != NULL && i < nreg; i++)
		free(missing[i]);
	free(ser);
	free(dense);
	free(missing);
	free(sig);
	return (rc);
}
