/*
 * Storage of a recording's points: blocks of one channel in
 * recording_blocks, batch sequence numbers in recording_batches (see
 * biometrics_int.h for the layout and the rule that keeps blocks full).
 * Reading them back is blocks_read.c.
 *
 * Everything runs inside the caller's transaction. The SQL strings are
 * constants, so store_prepare finds each statement in the connection's
 * cache after its first use: an append of a million samples prepares
 * nothing and encodes straight from the parsed batch's arrays, except for
 * the one block it extends.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "biometrics/biometrics_int.h"
#include "biometrics/codec.h"
#include "biometrics/points.h"
#include "core/err.h"
#include "core/util.h"
#include "store/store.h"

/* clang-format off */
#define SQL_TAIL							\
	"SELECT seq, t0_ms, rate_mhz, first_index, t_last_ms, count, "	\
	"payload, timestamps FROM recording_blocks WHERE recording_id = ? " \
	"AND channel = ? ORDER BY seq DESC LIMIT 1"
/* clang-format on */
/* clang-format off */
#define SQL_INSERT							\
	"INSERT INTO recording_blocks (recording_id, channel, seq, t0_ms, " \
	"rate_mhz, first_index, t_first_ms, t_last_ms, count, v_min, v_max, " \
	"v_sum, codec, payload, timestamps) VALUES (?, ?, ?, ?, ?, ?, ?, ?, " \
	"?, ?, ?, ?, ?, ?, ?)"
/* clang-format on */
/* clang-format off */
#define SQL_UPDATE							\
	"UPDATE recording_blocks SET t_last_ms = ?, count = ?, v_min = ?, " \
	"v_max = ?, v_sum = ?, codec = ?, payload = ?, timestamps = ? "	\
	"WHERE recording_id = ? AND channel = ? AND seq = ?"
/* clang-format on */

#define BLOCKS_GROUP 16 /* new blocks one INSERT writes */
#define INSERT_COLS  15
#define INSERT_ROW   "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

/* One block to write. */
struct blkput {
	const char    *recording_id;
	const char    *channel;
	int	       update; /* the tail block, rewritten */
	int64_t	       seq;
	int64_t	       t0_ms;
	uint32_t       rate_mhz;
	uint64_t       first;
	const int32_t *v;
	const int64_t *ts; /* irregular: ms */
	size_t	       n;  /* at most CODEC_BLOCK_DEFAULT */
};

/* One block encoded, ready to bind. */
struct enc {
	struct blkput	   b;
	int64_t		   t_first_ms, t_last_ms;
	struct codec_stats cs;
	size_t		   plen, tlen;
	uint8_t		   out[1 + 5 + 4 * CODEC_BLOCK_DEFAULT];
	uint8_t		   tsout[1 + 5 + 8 * CODEC_BLOCK_DEFAULT];
};

/*
 * Work space of one append: the block being extended, and the new blocks
 * waiting to be written, BLOCKS_GROUP at a time by one INSERT (one round
 * trip on PostgreSQL instead of sixteen).
 */
struct blkbuf {
	int32_t	   v[CODEC_BLOCK_MAX];
	int64_t	   ts[CODEC_BLOCK_MAX];
	struct enc e[BLOCKS_GROUP];
	size_t	   ne;
};

/* A channel's last block, and whether a new batch joins its segment. */
struct tail {
	int	 found;
	int	 join;
	int64_t	 seq;
	int64_t	 t0_ms;
	int64_t	 t_last_ms;
	uint32_t rate_mhz;
	uint64_t first;
	size_t	 count; /* samples decoded into the blkbuf */
};

static pthread_once_t group_once = PTHREAD_ONCE_INIT;
static char
    group_sql[sizeof(SQL_INSERT) + BLOCKS_GROUP * (sizeof(INSERT_ROW) + 2)];

static int  tail_load(struct tx *, const char *, const struct points_channel *,
     struct blkbuf *, struct tail *);
static int  tail_joins(const struct tail *, const struct points_channel *);
static void insert_group_sql(void);
static int  block_encode(struct enc *, const struct blkput *);
static int  bind_row(struct stmt *, int, const struct enc *);
static int  block_update(struct tx *, const struct enc *);
static int  block_add(struct tx *, struct blkbuf *, const struct blkput *);
static int  blocks_flush(struct tx *, struct blkbuf *);

int64_t
blocks_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return ((a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q);
}

/* Batches */

int
blocks_batch_state(struct tx *tx, const char *recording_id, int64_t seq,
    const uint8_t digest[BLOCKS_DIGEST_LEN], enum batch_state *out)
{
	struct stmt *st;
	const void  *d;
	size_t	     len = 0;
	int	     rc;

	*out = BATCH_NEW;
	st = store_prepare(tx,
	    "SELECT digest FROM recording_batches WHERE "
	    "recording_id = ? AND seq = ?");
	store_bind_text(st, 1, recording_id);
	store_bind_int64(st, 2, seq);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		d = store_col_blob(st, 0, &len);
		*out = len == BLOCKS_DIGEST_LEN && d != NULL &&
			memcmp(d, digest, len) == 0
		    ? BATCH_DUPLICATE
		    : BATCH_CONFLICT;
		rc = OK;
		break;
	case STORE_DONE:
		rc = OK;
		break;
	}
	store_finalize(st);
	return (rc);
}

int
blocks_batch_add(struct tx *tx, const char *recording_id, int64_t seq,
    const uint8_t digest[BLOCKS_DIGEST_LEN], int64_t points, int64_t now_ms)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx,
	    "INSERT INTO recording_batches (recording_id, "
	    "seq, digest, points, received_at) VALUES (?, ?, ?, ?, ?)");
	store_bind_text(st, 1, recording_id);
	store_bind_int64(st, 2, seq);
	store_bind_blob(st, 3, digest, BLOCKS_DIGEST_LEN);
	store_bind_int64(st, 4, points);
	store_bind_int64(st, 5, now_ms);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

int
blocks_discard(struct tx *tx, const char *recording_id)
{
	static const char *const sql[] = {
		"DELETE FROM recording_blocks WHERE recording_id = ?",
		"DELETE FROM recording_batches WHERE recording_id = ?",
	};
	struct stmt *st;
	size_t	     i;
	int	     rc;

	for (i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		st = store_prepare(tx, sql[i]);
		store_bind_text(st, 1, recording_id);
		rc = store_step(st);
		store_finalize(st);
		if (rc != STORE_DONE)
			return (rc);
	}
	return (OK);
}

/* Append */

/*
 * Does the batch's channel continue the segment of the last block? A
 * regular one does when it has the segment's rate and its t0 lies within
 * half a sample period, either way, of the time the segment expects its
 * next sample at. It then joins the segment's grid: its samples take the
 * segment's times (blocks_append numbers them on from the last), each
 * moved by the same amount, the distance from its t0, so at most half a
 * period and never onto another sample's time; nothing is dropped. That
 * is what keeps a device's stream one segment when each batch's t0 is
 * its first sample's time rounded to the ms (t0 is whole ms): at up to
 * 1 kHz the rounding is within half a period. Further off (a gap, a
 * restart, a batch sent again, or above 1 kHz a t0 the ms cannot say)
 * the batch starts a segment of its own at its own t0, not moved. An
 * irregular channel continues when its first time is not before the
 * last block's last; its times are its own either way.
 */
static int
tail_joins(const struct tail *t, const struct points_channel *ch)
{
	int64_t expect, diff;

	if (!t->found || t->rate_mhz != ch->rate_mhz)
		return (0);
	if (ch->rate_mhz == 0)
		return (ch->ts_ms[0] >= t->t_last_ms);
	expect = points_time_us(t->t0_ms, t->rate_mhz, t->first + t->count);
	diff = ch->t0_ms * 1000 - expect;
	if (diff < 0)
		diff = -diff;
	/* Within half a sample period: 2 |diff| <= 1e9 / rate_mhz us. */
	return (diff <= 1000000000 &&
	    2 * diff * (int64_t)ch->rate_mhz <= 1000000000);
}

/*
 * Read the channel's last block. When the batch joins its segment and
 * the block is not full, decode it into wb (t->count samples) so it can
 * be extended; a full block is only continued.
 */
static int
tail_load(struct tx *tx, const char *recording_id,
    const struct points_channel *ch, struct blkbuf *wb, struct tail *t)
{
	struct stmt *st;
	const void  *p;
	size_t	     len = 0, n = 0;
	int	     rc;

	memset(t, 0, sizeof(*t));
	st = store_prepare(tx, SQL_TAIL);
	store_bind_text(st, 1, recording_id);
	store_bind_text(st, 2, ch->name);
	if ((rc = store_step(st)) != STORE_ROW) {
		store_finalize(st);
		return (rc == STORE_DONE ? OK : rc);
	}
	t->found = 1;
	t->seq = store_col_int64(st, 0);
	t->t0_ms = store_col_int64(st, 1);
	t->rate_mhz = (uint32_t)store_col_int64(st, 2);
	t->first = (uint64_t)store_col_int64(st, 3);
	t->t_last_ms = store_col_int64(st, 4);
	t->count = (size_t)store_col_int64(st, 5);
	rc = OK;
	if ((t->join = tail_joins(t, ch)) && t->count < CODEC_BLOCK_DEFAULT) {
		p = store_col_blob(st, 6, &len);
		if (p == NULL ||
		    codec_decode(p, len, wb->v, CODEC_BLOCK_MAX, &n) != OK ||
		    n != t->count)
			rc = ERR_MALFORMED;
		if (rc == OK && t->rate_mhz == 0) {
			p = store_col_blob(st, 7, &len);
			if (p == NULL ||
			    codec_ts_decode(
				p, len, wb->ts, CODEC_BLOCK_MAX, &n) != OK ||
			    n != t->count)
				rc = ERR_MALFORMED;
		}
	}
	store_finalize(st);
	return (rc == ERR_MALFORMED ? ERR_INTERNAL : rc);
}

/* The INSERT of BLOCKS_GROUP rows, made once. */
static void
insert_group_sql(void)
{
	size_t i, n;

	n = strlcpy_cb(group_sql, SQL_INSERT, sizeof(group_sql));
	for (i = 1; i < BLOCKS_GROUP && n < sizeof(group_sql); i++)
		n += strlcpy_cb(
		    group_sql + n, ", " INSERT_ROW, sizeof(group_sql) - n);
}

static int
block_encode(struct enc *e, const struct blkput *b)
{
	int rc;

	if (b->n == 0 || b->n > CODEC_BLOCK_DEFAULT ||
	    (b->rate_mhz == 0 && b->ts == NULL))
		return (ERR_INTERNAL);
	e->b = *b;
	e->tlen = 0;
	if ((rc = codec_encode(b->v, b->n, e->out, sizeof(e->out), &e->plen)) !=
	    OK)
		return (rc);
	if (b->rate_mhz == 0) {
		if ((rc = codec_ts_encode(b->ts, b->n, e->tsout,
			 sizeof(e->tsout), &e->tlen)) != OK)
			return (rc);
		e->t_first_ms = b->ts[0];
		e->t_last_ms = b->ts[b->n - 1];
	} else {
		e->t_first_ms = blocks_floor_div(
		    points_time_us(b->t0_ms, b->rate_mhz, b->first), 1000);
		e->t_last_ms = blocks_floor_div(
		    points_time_us(b->t0_ms, b->rate_mhz, b->first + b->n - 1),
		    1000);
	}
	codec_stats(b->v, b->n, &e->cs);
	return (OK);
}

/* The INSERT_COLS values of one row from parameter i; the next i. */
static int
bind_row(struct stmt *st, int i, const struct enc *e)
{
	store_bind_text(st, i++, e->b.recording_id);
	store_bind_text(st, i++, e->b.channel);
	store_bind_int64(st, i++, e->b.seq);
	store_bind_int64(st, i++, e->b.t0_ms);
	store_bind_int64(st, i++, e->b.rate_mhz);
	store_bind_int64(st, i++, (int64_t)e->b.first);
	store_bind_int64(st, i++, e->t_first_ms);
	store_bind_int64(st, i++, e->t_last_ms);
	store_bind_int64(st, i++, (int64_t)e->b.n);
	store_bind_int64(st, i++, e->cs.min);
	store_bind_int64(st, i++, e->cs.max);
	store_bind_int64(st, i++, e->cs.sum);
	store_bind_int64(st, i++, e->out[0]);
	store_bind_blob(st, i++, e->out, e->plen);
	if (e->b.rate_mhz == 0)
		store_bind_blob(st, i++, e->tsout, e->tlen);
	else
		store_bind_null(st, i++);
	return (i);
}

static int
block_update(struct tx *tx, const struct enc *e)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx, SQL_UPDATE);
	store_bind_int64(st, 1, e->t_last_ms);
	store_bind_int64(st, 2, (int64_t)e->b.n);
	store_bind_int64(st, 3, e->cs.min);
	store_bind_int64(st, 4, e->cs.max);
	store_bind_int64(st, 5, e->cs.sum);
	store_bind_int64(st, 6, e->out[0]);
	store_bind_blob(st, 7, e->out, e->plen);
	if (e->b.rate_mhz == 0)
		store_bind_blob(st, 8, e->tsout, e->tlen);
	else
		store_bind_null(st, 8);
	store_bind_text(st, 9, e->b.recording_id);
	store_bind_text(st, 10, e->b.channel);
	store_bind_int64(st, 11, e->b.seq);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

/* Write the waiting blocks: a full group at once, fewer one by one. */
static int
blocks_flush(struct tx *tx, struct blkbuf *wb)
{
	struct stmt *st;
	size_t	     i;
	int	     rc = STORE_DONE, p = 1;

	if (wb->ne == BLOCKS_GROUP) {
		pthread_once(&group_once, insert_group_sql);
		st = store_prepare(tx, group_sql);
		for (i = 0; i < wb->ne; i++)
			p = bind_row(st, p, &wb->e[i]);
		rc = store_step(st);
		store_finalize(st);
	} else
		for (i = 0; i < wb->ne && rc == STORE_DONE; i++) {
			st = store_prepare(tx, SQL_INSERT);
			bind_row(st, 1, &wb->e[i]);
			rc = store_step(st);
			store_finalize(st);
		}
	wb->ne = 0;
	return (rc == STORE_DONE ? OK : rc);
}

/* Encode a new block; write the group when it is full. */
static int
block_add(struct tx *tx, struct blkbuf *wb, const struct blkput *b)
{
	int rc;

	if ((rc = block_encode(&wb->e[wb->ne], b)) != OK)
		return (rc);
	if (++wb->ne == BLOCKS_GROUP)
		return (blocks_flush(tx, wb));
	return (OK);
}

int
blocks_append(
    struct tx *tx, const char *recording_id, const struct points_channel *ch)
{
	struct blkbuf *wb;
	struct blkput  b;
	struct tail    t;
	size_t	       i = 0, k;
	int	       rc;

	if (ch->count == 0)
		return (OK);
	if (ch->samples == NULL || (ch->rate_mhz == 0 && ch->ts_ms == NULL))
		return (ERR_INVALID);
	if ((wb = malloc(sizeof(*wb))) == NULL)
		return (ERR_NOMEM);
	wb->ne = 0;
	if ((rc = tail_load(tx, recording_id, ch, wb, &t)) != OK)
		goto out;
	memset(&b, 0, sizeof(b));
	b.recording_id = recording_id;
	b.channel = ch->name;
	b.rate_mhz = ch->rate_mhz;
	b.seq = t.found ? t.seq + 1 : 0;
	b.t0_ms = ch->t0_ms;
	if (t.join && ch->rate_mhz != 0) {
		/* The segment goes on: its start time and numbering. */
		b.t0_ms = t.t0_ms;
		b.first = t.first + t.count;
	}
	if (t.join && t.count < CODEC_BLOCK_DEFAULT) {
		k = CODEC_BLOCK_DEFAULT - t.count;
		if (k > ch->count)
			k = ch->count;
		memcpy(wb->v + t.count, ch->samples, k * sizeof(*wb->v));
		if (ch->rate_mhz == 0)
			memcpy(
			    wb->ts + t.count, ch->ts_ms, k * sizeof(*wb->ts));
		b.update = 1;
		b.seq = t.seq;
		b.first = t.first;
		b.v = wb->v;
		b.ts = wb->ts;
		b.n = t.count + k;
		if ((rc = block_encode(&wb->e[0], &b)) != OK ||
		    (rc = block_update(tx, &wb->e[0])) != OK)
			goto out;
		b.update = 0;
		b.seq = t.seq + 1;
		b.first = t.first + t.count + k;
		i = k;
	}
	while (i < ch->count) {
		b.n = ch->count - i;
		if (b.n > CODEC_BLOCK_DEFAULT)
			b.n = CODEC_BLOCK_DEFAULT;
		b.v = ch->samples + i;
		b.ts = NULL;
		if (ch->rate_mhz == 0) {
			b.ts = ch->ts_ms + i;
			b.t0_ms = ch->ts_ms[i];
			b.first = 0;
		}
		if ((rc = block_add(tx, wb, &b)) != OK)
			goto out;
		b.seq++;
		if (ch->rate_mhz != 0)
			b.first += b.n;
		i += b.n;
	}
	rc = blocks_flush(tx, wb);
out:
	free(wb);
	return (rc);
}

int
blocks_channels_fresh(struct tx *tx, const char *recording_id,
    const struct points_batch *b, size_t *fresh, size_t *held)
{
	struct stmt *st;
	size_t	     i;
	int	     rc = OK;

	*fresh = *held = 0;
	for (i = 0; i < b->nchannels && rc == OK; i++) {
		st = store_prepare(tx,
		    "SELECT 1 FROM recording_blocks WHERE "
		    "recording_id = ? AND channel = ? LIMIT 1");
		store_bind_text(st, 1, recording_id);
		store_bind_text(st, 2, b->ch[i].name);
		switch ((rc = store_step(st))) {
		case STORE_ROW:
			rc = OK;
			break;
		case STORE_DONE:
			(*fresh)++;
			rc = OK;
			break;
		}
		store_finalize(st);
	}
	if (rc != OK || *fresh == 0)
		return (rc);
	st = store_prepare(tx,
	    "SELECT count(DISTINCT channel) FROM "
	    "recording_blocks WHERE recording_id = ?");
	store_bind_text(st, 1, recording_id);
	if ((rc = store_step(st)) == STORE_ROW) {
		*held = (size_t)store_col_int64(st, 0);
		rc = OK;
	}
	store_finalize(st);
	return (rc);
}
