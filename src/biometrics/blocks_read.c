/*
 * Reading a recording's points back from recording_blocks (blocks.c
 * writes them): the channels a recording holds, the blocks of a channel
 * that overlap a window (by time), a block decoded, and the samples of a
 * window in time order however the blocks overlap (each block a sorted
 * run; runs out of order are merged with a heap, equal times in the
 * order of their blocks' seq), and pages of a channel's samples block by
 * block (every sample once, however many). Inside the caller's
 * transaction.
 */
#include <stdlib.h>
#include <string.h>

#include "biometrics/biometrics_int.h"
#include "biometrics/codec.h"
#include "biometrics/points.h"
#include "core/err.h"
#include "core/util.h"
#include "store/store.h"

__extension__ typedef unsigned __int128 u128;

/* clang-format off */
#define SQL_SCAN							\
	"SELECT seq, t0_ms, rate_mhz, first_index, t_first_ms, t_last_ms, " \
	"count, v_min, v_max, v_sum, payload, timestamps FROM "		\
	"recording_blocks WHERE recording_id = ? AND channel = ? AND "	\
	"t_first_ms < ? AND t_last_ms >= ? ORDER BY t_first_ms, seq"
#define SQL_PAGE							\
	"SELECT seq, t0_ms, rate_mhz, first_index, t_first_ms, t_last_ms, " \
	"count, v_min, v_max, v_sum, payload, timestamps FROM "		\
	"recording_blocks WHERE recording_id = ? AND channel = ? AND "	\
	"(t_first_ms, seq) >= (?, ?) ORDER BY t_first_ms, seq LIMIT ?"
/* clang-format on */

/*
 * One block's samples in a series: [at, end), in time order, and the
 * block's seq (the order of equal times across blocks).
 */
struct run {
	size_t	at, end;
	int64_t seq;
};

/* blocks_read's state. */
struct reader {
	struct series *out;
	size_t	       base; /* out->n at the start */
	int64_t	       from_us, to_us;
	size_t	       max;
	int32_t	      *v;
	int64_t	      *t_us;
	struct run    *runs;
	size_t	       nruns, caprun;
	int	       disorder; /* a run starts before the last */
};

/* blocks_read_page's state: a reader that stops before the block that
 * would take the page past max samples (never before its first). */
struct pager {
	struct reader r;
	size_t	      max, taken;
	int64_t	      next_t, next_seq;
	int	      full;
};

static int scan_rows(
    struct stmt *, int (*)(const struct block *, void *), void *);
static void regular_times(int64_t, uint32_t, uint64_t, int64_t *, size_t);
static int  read_block(const struct block *, void *);
static int  page_block(const struct block *, void *);
static int  run_before(
     const struct series *, const struct run *, const struct run *);
static void runs_sift(const struct series *, struct run *, size_t, size_t);
static int  runs_merge(struct series *, size_t, struct run *, size_t);

int
blocks_channels(struct tx *tx, const char *recording_id,
    struct channel_info *out, size_t max, size_t *n)
{
	struct stmt	    *st;
	struct channel_info *c;
	const char	    *name;
	int64_t		     rmin, rmax;
	int		     rc;

	*n = 0;
	st = store_prepare(tx,
	    "SELECT channel, count(*), sum(count), "
	    "min(t_first_ms), max(t_last_ms), min(rate_mhz), max(rate_mhz), "
	    "min(v_min), max(v_max) FROM recording_blocks WHERE "
	    "recording_id = ? GROUP BY channel ORDER BY channel");
	store_bind_text(st, 1, recording_id);
	while ((rc = store_step(st)) == STORE_ROW) {
		if (*n == max)
			continue;
		c = &out[(*n)++];
		memset(c, 0, sizeof(*c));
		if ((name = store_col_text(st, 0)) != NULL &&
		    strlen(name) < sizeof(c->name))
			memcpy(c->name, name, strlen(name) + 1);
		c->blocks = store_col_int64(st, 1);
		c->count = store_col_int64(st, 2);
		c->t_first_ms = store_col_int64(st, 3);
		c->t_last_ms = store_col_int64(st, 4);
		rmin = store_col_int64(st, 5);
		rmax = store_col_int64(st, 6);
		c->mixed = rmin != rmax;
		c->rate_mhz = c->mixed ? 0 : (uint32_t)rmin;
		c->min = (int32_t)store_col_int64(st, 7);
		c->max = (int32_t)store_col_int64(st, 8);
	}
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

int
blocks_scan(struct tx *tx, const char *recording_id, const char *channel,
    int64_t from_ms, int64_t to_ms, int (*fn)(const struct block *, void *),
    void *arg)
{
	struct stmt *st;

	st = store_prepare(tx, SQL_SCAN);
	store_bind_text(st, 1, recording_id);
	store_bind_text(st, 2, channel);
	store_bind_int64(st, 3, to_ms);
	store_bind_int64(st, 4, from_ms);
	return (scan_rows(st, fn, arg));
}

/* Each row of st (SQL_SCAN's columns) to fn as a block; finalizes st. */
static int
scan_rows(struct stmt *st, int (*fn)(const struct block *, void *), void *arg)
{
	struct block b;
	uint8_t	    *copy = NULL, *nc;
	size_t	     cap = 0;
	int	     rc;

	while ((rc = store_step(st)) == STORE_ROW) {
		memset(&b, 0, sizeof(b));
		b.seq = store_col_int64(st, 0);
		b.t0_ms = store_col_int64(st, 1);
		b.rate_mhz = (uint32_t)store_col_int64(st, 2);
		b.first = (uint64_t)store_col_int64(st, 3);
		b.t_first_ms = store_col_int64(st, 4);
		b.t_last_ms = store_col_int64(st, 5);
		b.count = (size_t)store_col_int64(st, 6);
		b.min = (int32_t)store_col_int64(st, 7);
		b.max = (int32_t)store_col_int64(st, 8);
		b.sum = store_col_int64(st, 9);
		b.payload = store_col_blob(st, 10, &b.payload_len);
		if (b.payload != NULL && !store_col_is_null(st, 11)) {
			/* A driver may keep one blob a row (PostgreSQL's hex
			 * decoding does): copy the payload first. */
			if (b.payload_len > cap) {
				if ((nc = realloc(copy, b.payload_len)) ==
				    NULL) {
					rc = ERR_NOMEM;
					break;
				}
				copy = nc;
				cap = b.payload_len;
			}
			if (b.payload_len > 0)
				memcpy(copy, b.payload, b.payload_len);
			b.payload = copy;
			b.ts = store_col_blob(st, 11, &b.ts_len);
		}
		if ((rc = fn(&b, arg)) != OK)
			break;
	}
	store_finalize(st);
	free(copy);
	return (rc == STORE_DONE ? OK : rc);
}

/*
 * Times of samples first .. first + n - 1 of a regular segment in us,
 * exactly points_time_us (t0 + floor(k * 1e9 / rate)), stepped with a
 * remainder instead of two divisions a sample.
 */
static void
regular_times(
    int64_t t0_ms, uint32_t rate, uint64_t first, int64_t *t_us, size_t n)
{
	const uint64_t q = 1000000000u / rate, s = 1000000000u % rate;
	uint64_t       r;
	int64_t	       t;
	size_t	       j;

	if (n == 0)
		return;
	t = points_time_us(t0_ms, rate, first);
	r = (uint64_t)((u128)first * 1000000000u % rate);
	for (j = 0; j < n; j++) {
		t_us[j] = t;
		t += (int64_t)q;
		if ((r += s) >= rate) {
			r -= rate;
			t++;
		}
	}
}

int
blocks_decode(const struct block *b, int32_t *v, int64_t *t_us, size_t cap)
{
	size_t n = 0, m = 0, j;

	if (b->payload == NULL ||
	    codec_decode(b->payload, b->payload_len, v, cap, &n) != OK ||
	    n != b->count)
		return (ERR_MALFORMED);
	if (t_us == NULL)
		return (OK);
	if (b->rate_mhz != 0) {
		regular_times(b->t0_ms, b->rate_mhz, b->first, t_us, n);
		return (OK);
	}
	if (b->ts == NULL ||
	    codec_ts_decode(b->ts, b->ts_len, t_us, cap, &m) != OK || m != n)
		return (ERR_MALFORMED);
	for (j = 0; j < n; j++)
		t_us[j] *= 1000;
	return (OK);
}

int
series_reserve(struct series *s, size_t need)
{
	size_t	 cap = s->cap ? s->cap : 4096;
	int64_t *t;
	int32_t *v;

	if (need <= s->cap)
		return (OK);
	while (cap < need)
		cap *= 2;
	if ((t = realloc(s->t_us, cap * sizeof(*t))) == NULL)
		return (ERR_NOMEM);
	s->t_us = t;
	if ((v = realloc(s->v, cap * sizeof(*v))) == NULL)
		return (ERR_NOMEM);
	s->v = v;
	s->cap = cap;
	return (OK);
}

void
series_free(struct series *s)
{
	free(s->t_us);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int
read_block(const struct block *b, void *arg)
{
	struct reader *r = arg;
	struct series *s = r->out;
	struct run    *nr, *last;
	size_t	       j, at = s->n;
	int	       rc;

	if (b->count > CODEC_BLOCK_MAX)
		return (ERR_INTERNAL);
	if (blocks_decode(b, r->v, r->t_us, CODEC_BLOCK_MAX) != OK)
		return (ERR_INTERNAL); /* a stored block that does not decode */
	for (j = 0; j < b->count; j++) {
		if (r->t_us[j] < r->from_us || r->t_us[j] >= r->to_us)
			continue;
		if (s->n == r->max)
			return (ERR_TOO_LARGE);
		if (s->n == s->cap && (rc = series_reserve(s, s->n + 1)) != OK)
			return (rc);
		s->t_us[s->n] = r->t_us[j];
		s->v[s->n++] = r->v[j];
	}
	if (s->n == at)
		return (OK);
	/* Blocks come by first time; they are in order unless one begins
	 * before the last ended (overlapping batches, out-of-order
	 * irregular times), or at the same time with a lower seq. */
	if (r->nruns > 0) {
		last = &r->runs[r->nruns - 1];
		if (s->t_us[at] < s->t_us[at - 1] ||
		    (s->t_us[at] == s->t_us[at - 1] && b->seq < last->seq))
			r->disorder = 1;
	}
	if (r->nruns == r->caprun) {
		if ((nr = reallocarray(r->runs, r->caprun ? r->caprun * 2 : 64,
			 sizeof(*nr))) == NULL)
			return (ERR_NOMEM);
		r->runs = nr;
		r->caprun = r->caprun ? r->caprun * 2 : 64;
	}
	r->runs[r->nruns].at = at;
	r->runs[r->nruns].end = s->n;
	r->runs[r->nruns++].seq = b->seq;
	return (OK);
}

/* Is run a's next sample before run b's: by time, then by block seq. */
static int
run_before(const struct series *s, const struct run *a, const struct run *b)
{
	int64_t ta = s->t_us[a->at], tb = s->t_us[b->at];

	return (ta < tb || (ta == tb && a->seq < b->seq));
}

/* Restore the heap order of h[0 .. n) below i. */
static void
runs_sift(const struct series *s, struct run *h, size_t n, size_t i)
{
	struct run tmp;
	size_t	   c;

	while ((c = 2 * i + 1) < n) {
		if (c + 1 < n && run_before(s, &h[c + 1], &h[c]))
			c++;
		if (!run_before(s, &h[c], &h[i]))
			break;
		tmp = h[i];
		h[i] = h[c];
		h[c] = tmp;
		i = c;
	}
}

/*
 * Merge the runs (each in time order) of s from base on into one, in
 * time order, equal times by block seq: a heap of the runs' next samples.
 */
static int
runs_merge(struct series *s, size_t base, struct run *h, size_t nruns)
{
	size_t	 n = s->n - base, k = 0, i;
	int64_t *t;
	int32_t *v;

	t = malloc(n * sizeof(*t));
	v = malloc(n * sizeof(*v));
	if (t == NULL || v == NULL) {
		free(t);
		free(v);
		return (ERR_NOMEM);
	}
	for (i = nruns / 2; i-- > 0;)
		runs_sift(s, h, nruns, i);
	while (nruns > 0) {
		t[k] = s->t_us[h[0].at];
		v[k++] = s->v[h[0].at];
		if (++h[0].at == h[0].end)
			h[0] = h[--nruns];
		runs_sift(s, h, nruns, 0);
	}
	memcpy(s->t_us + base, t, n * sizeof(*t));
	memcpy(s->v + base, v, n * sizeof(*v));
	free(t);
	free(v);
	return (OK);
}

int
blocks_read(struct tx *tx, const char *recording_id, const char *channel,
    int64_t from_ms, int64_t to_ms, size_t max, struct series *out)
{
	struct reader r;
	int	      rc;

	memset(&r, 0, sizeof(r));
	r.out = out;
	r.base = out->n;
	r.from_us = from_ms * 1000;
	r.to_us = to_ms * 1000;
	r.max = max;
	r.v = malloc(CODEC_BLOCK_MAX * sizeof(*r.v));
	r.t_us = malloc(CODEC_BLOCK_MAX * sizeof(*r.t_us));
	if (r.v == NULL || r.t_us == NULL)
		rc = ERR_NOMEM;
	else
		rc = blocks_scan(
		    tx, recording_id, channel, from_ms, to_ms, read_block, &r);
	if (rc == OK && r.disorder)
		rc = runs_merge(out, r.base, r.runs, r.nruns);
	free(r.v);
	free(r.t_us);
	free(r.runs);
	return (rc);
}

static int
page_block(const struct block *b, void *arg)
{
	struct pager *p = arg;

	if (p->taken > 0 && p->taken + b->count > p->max) {
		p->full = 1;
		p->next_t = b->t_first_ms;
		p->next_seq = b->seq;
		return (ERR_TOO_LARGE); /* stops the scan */
	}
	p->taken += b->count;
	return (read_block(b, &p->r));
}

int
blocks_read_page(struct tx *tx, const char *recording_id, const char *channel,
    int64_t *t_first_ms, int64_t *seq, size_t max, struct series *out,
    int *more)
{
	struct pager p;
	struct stmt *st;
	int	     rc;

	*more = 0;
	memset(&p, 0, sizeof(p));
	p.r.out = out;
	p.r.base = out->n;
	p.r.from_us = INT64_MIN;
	p.r.to_us = INT64_MAX;
	p.r.max = SIZE_MAX;
	p.max = max;
	p.r.v = malloc(CODEC_BLOCK_MAX * sizeof(*p.r.v));
	p.r.t_us = malloc(CODEC_BLOCK_MAX * sizeof(*p.r.t_us));
	if (p.r.v == NULL || p.r.t_us == NULL)
		rc = ERR_NOMEM;
	else {
		/* Every block holds a sample: max + 1 rows fill the page. */
		st = store_prepare(tx, SQL_PAGE);
		store_bind_text(st, 1, recording_id);
		store_bind_text(st, 2, channel);
		store_bind_int64(st, 3, *t_first_ms);
		store_bind_int64(st, 4, *seq);
		store_bind_int64(st, 5,
		    max < (size_t)INT64_MAX ? (int64_t)max + 1 : INT64_MAX);
		rc = scan_rows(st, page_block, &p);
		if (rc == ERR_TOO_LARGE && p.full)
			rc = OK;
	}
	if (rc == OK && p.r.disorder)
		rc = runs_merge(out, p.r.base, p.r.runs, p.r.nruns);
	if (rc == OK && p.full) {
		*more = 1;
		*t_first_ms = p.next_t;
		*seq = p.next_seq;
	}
	free(p.r.v);
	free(p.r.t_us);
	free(p.r.runs);
	return (rc);
}
