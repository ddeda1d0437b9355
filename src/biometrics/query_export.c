/*
 * The exports of a recording's points (see query.c for the routes, the
 * window and who may read): GET /v1/recordings/{id}/export.csv, one row
 * per time with a column per channel, and /export.edf, every regular
 * channel's samples as EDF+ with annotations that say which slots of its
 * data records were recorded (points_edf.c writes them), at most
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

static int     export_channels(struct rq *, struct channel_info **, size_t *);
static int64_t edf_slot(int64_t, int64_t, uint32_t);

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
 * The EDF slot of a sample at t_us, counting from start_ms at rate_mhz:
 * the nearest, (t - start) * rate rounded half up, exactly.
 */
static int64_t
edf_slot(int64_t t_us, int64_t start_ms, uint32_t rate_mhz)
{
	i128 a = ((i128)t_us - (i128)start_ms * 1000) * rate_mhz + 500000000;
	i128 q = a / 1000000000;

	if (a % 1000000000 != 0 && a < 0)
		q--;
	return ((int64_t)q);
}

/*
 * EDF numbers samples from a whole second (its header holds seconds):
 * the second the window starts in. Each sample goes to its nearest slot
 * from there; the slots no sample lands in (before the first, after a
 * gap) are marked missing and written as EDF's reserved gap value.
 */
int
rq_edf_answer(struct rq *q, struct tx *tx)
{
	struct points_edf_signal *sig = NULL;
	struct points_edf	  edf;
	struct channel_info	 *c, *reg[BLOCKS_CHANNELS_MAX];
	struct channel_info	  win[BLOCKS_CHANNELS_MAX];
	struct series		  s;
	int32_t			**dense = NULL;
	uint8_t			**missing = NULL;
	char			  why[256];
	size_t			  i, j, n, nreg = 0, total = 0;
	int64_t			  idx, nd, start;
	int			  rc;

	memset(&s, 0, sizeof(s));
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
	start = blocks_floor_div(q->from, 1000) * 1000;
	sig = calloc(nreg, sizeof(*sig));
	dense = calloc(nreg, sizeof(*dense));
	missing = calloc(nreg, sizeof(*missing));
	if (sig == NULL || dense == NULL || missing == NULL) {
		rc = ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < nreg; i++) {
		rc = blocks_read(tx, q->id, reg[i]->name, q->from, q->to,
		    BIO_EXPORT_MAX - total, &s);
		if (rc == ERR_TOO_LARGE)
			rc = rq_too_many(q, BIO_EXPORT_MAX);
		if (rc != OK)
			goto out;
		nd = 0;
		for (j = 0; j < s.n; j++) {
			idx = edf_slot(s.t_us[j], start, reg[i]->rate_mhz);
			if (idx + 1 > nd)
				nd = idx + 1;
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
		for (j = 0; j < s.n; j++) {
			if (s.v[j] < sig[i].count_min)
				sig[i].count_min = s.v[j];
			if (s.v[j] > sig[i].count_max)
				sig[i].count_max = s.v[j];
			/* In time order: of two in one slot, the later. */
			idx = edf_slot(s.t_us[j], start, reg[i]->rate_mhz);
			if (idx >= 0 && idx < nd && dense[i] != NULL) {
				dense[i][idx] = s.v[j];
				missing[i][idx] = 0;
			}
		}
		q->points += (int64_t)s.n;
		series_free(&s);
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
	series_free(&s);
	for (i = 0; dense != NULL && i < nreg; i++)
		free(dense[i]);
	for (i = 0; missing != NULL && i < nreg; i++)
		free(missing[i]);
	free(dense);
	free(missing);
	free(sig);
	return (rc);
}
