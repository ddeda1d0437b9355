/*
 * Reading a recording's points back: GET /v1/recordings/{id}/points (raw,
 * or min/max/mean in ?buckets=N), /channels, /export.csv, /export.edf and
 * /chart.svg. Each takes ?from=&to= (ISO 8601 or ms; the window is
 * [from, to), by default the whole recording) and, where one channel is
 * read, ?channel= (needed when the recording has more than one).
 *
 * Who may read: the recording's user, their guardians and practitioners
 * (recordings:read:related) and admins; anyone else finds no recording
 * (404). The data is read in one read transaction, only from the blocks
 * that overlap the window; then the read is audited in a write
 * transaction of its own (recordings.points.read: format, channel,
 * window and the number of samples, never values) before the answer
 * leaves. Bucketing uses a block's stored min, max and sum without
 * decoding it when the block lies inside one bucket.
 *
 * The CSV and EDF exports are in query_export.c. Answers are built in a
 * malloc'd buffer and handed to the transport
 * (http_send_take); raw answers hold at most BIO_RAW_MAX samples and
 * exports BIO_EXPORT_MAX (422 TOO_MANY_POINTS past them: ask for buckets
 * or a narrower window).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "biometrics/biometrics_int.h"
#include "biometrics/codec.h"
#include "biometrics/points.h"
#include "biometrics/query_int.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "store/store.h"

/* Names of a query's parameters looked at: more than its four own
 * means one is unknown among them. */
#define RQ_PARAMS_MAX 8

static void read_route(struct request *, enum rq_kind);
static int  args_known(struct rq *);
static int  args_parse(struct rq *);
static int  read_tx(struct tx *, void *);
static int  audit_tx(struct tx *, void *);
static int  raw_answer(struct rq *, struct tx *, struct channel_info *);
static int  buckets_fill(
     struct rq *, struct tx *, struct channel_info *, struct points_buckets *);
static int  bucket_block(const struct block *, void *);
static int  buckets_answer(struct rq *, struct tx *, struct channel_info *);
static int  channels_answer(struct rq *);
static int  svg_answer(struct rq *, struct tx *, struct channel_info *);
static void rq_milli(struct rq *, int64_t);
static void rq_rate(struct rq *, uint32_t);
static void rq_jstr(struct rq *, const char *);
static void rq_head(struct rq *, const char *);

void
bio_points_get(struct request *req)
{
	read_route(req, RQ_POINTS);
}

void
bio_channels_get(struct request *req)
{
	read_route(req, RQ_CHANNELS);
}

void
bio_export_csv(struct request *req)
{
	read_route(req, RQ_CSV);
}

void
bio_export_edf(struct request *req)
{
	read_route(req, RQ_EDF);
}

void
bio_chart_svg(struct request *req)
{
	read_route(req, RQ_SVG);
}

static void
read_route(struct request *req, enum rq_kind kind)
{
	struct rq *q;
	char	  *body;
	size_t	   len = 0;
	int	   rc;

	if ((q = calloc(1, sizeof(*q))) == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "Out of memory.");
		return;
	}
	q->req = req;
	q->kind = kind;
	buf_init(&q->out, RQ_OUT_MAX);
	q->who = req->caller;
	if (bio_recording_id(req, &q->id) != OK || args_parse(q) != OK)
		goto out;
	q->scope = resource_scope(req->db, q->who, "recordings", "read");
	if (q->scope == SCOPE_NONE) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such recording.");
		goto out;
	}
	if ((rc = store_run(req->db, STORE_TX_READ, read_tx, q)) == OK)
		/* Read only: the row is queued (audit_read). */
		rc = store_run(req->db, STORE_TX_READ, audit_tx, q);
	if (rc != OK) {
		if (!req->responded)
			http_problem(req, rc, NULL,
			    rc == ERR_NOT_FOUND ? "No such recording."
						: "The points cannot be read.");
		goto out;
	}
	if (kind == RQ_EDF || kind == RQ_CSV)
		http_header_add(req, "Content-Disposition",
		    arena_printf(req->arena,
			"attachment; filename=\"recording-%s.%s\"", q->id,
			kind == RQ_EDF ? "edf" : "csv"));
	body = buf_take(&q->out, &len);
	http_send_take(req, 200, q->ctype, body, len);
out:
	bio_rec_free(&q->rec);
	buf_free(&q->out);
	free(q);
}

/*
 * Only the query's own parameters: another is refused as a resource's
 * list refuses it (400 UNKNOWN_PARAMETER naming it), not let be, so that
 * a misspelt ?form= is not a whole recording read without its window.
 */
static int
args_known(struct rq *q)
{
	const char *names[RQ_PARAMS_MAX + 1];
	int	    i, n;

	switch (http_query_names(q->req, names, RQ_PARAMS_MAX + 1, &n)) {
	case OK:
	case ERR_TOO_LARGE:
		break;
	case ERR_MALFORMED:
		http_problem(q->req, ERR_MALFORMED, "INVALID_PARAMETER",
		    "A query parameter name is not valid.");
		return (ERR_MALFORMED);
	default:
		http_problem(q->req, ERR_NOMEM, NULL, "Out of memory.");
		return (ERR_NOMEM);
	}
	for (i = 0; i < n; i++) {
		if (strcmp(names[i], "channel") == 0 ||
		    strcmp(names[i], "from") == 0 ||
		    strcmp(names[i], "to") == 0 ||
		    (strcmp(names[i], "buckets") == 0 &&
			(q->kind == RQ_POINTS || q->kind == RQ_SVG)))
			continue;
		http_problem_ext(q->req, ERR_MALFORMED, "UNKNOWN_PARAMETER",
		    json_pack("{s:s}", "parameter", names[i]),
		    "Unknown query parameter: %s", names[i]);
		return (ERR_MALFORMED);
	}
	return (OK);
}

/* ?channel=, ?from=, ?to=, ?buckets= */
static int
args_parse(struct rq *q)
{
	json_t	   *errs;
	const char *s;
	char	    detail[64];
	int64_t	    n = 0;
	int	    rc;

	if ((rc = args_known(q)) != OK)
		return (rc);
	errs = json_array();

	if ((s = http_query(q->req, "channel")) != NULL) {
		if (!bio_channel_name_ok(s))
			bio_err(errs, "channel", "invalid_format",
			    "a channel "
			    "name: 1 to 32 of a-z, 0-9 and _");
		q->channel = s;
	}
	if ((rc = bio_time_arg(http_query(q->req, "from"), &q->from)) == OK)
		q->has_from = 1;
	else if (rc != ERR_NOT_FOUND)
		bio_err(errs, "from", "invalid_format",
		    "an ISO 8601 time or "
		    "ms since the epoch");
	if ((rc = bio_time_arg(http_query(q->req, "to"), &q->to)) == OK)
		q->has_to = 1;
	else if (rc != ERR_NOT_FOUND)
		bio_err(errs, "to", "invalid_format",
		    "an ISO 8601 time or ms "
		    "since the epoch");
	if (q->has_from && q->has_to && q->to <= q->from)
		bio_err(errs, "to", "before_from",
		    "the window [from, to) is "
		    "empty");
	s = http_query(q->req, "buckets");
	if (s != NULL && (q->kind == RQ_POINTS || q->kind == RQ_SVG)) {
		if (parse_int64(s, 1, BIO_BUCKETS_MAX, &n) != 0) {
			snprintf(detail, sizeof(detail), "1 to %d buckets",
			    BIO_BUCKETS_MAX);
			bio_err(errs, "buckets", "out_of_range", detail);
		}
		q->nbuckets = (long)n;
	} else if (q->kind == RQ_SVG)
		q->nbuckets = BIO_CHART_BUCKETS;
	return (bio_errs_answer(q->req, errs, "The query"));
}

static int
read_tx(struct tx *tx, void *arg)
{
	struct rq	    *q = arg;
	struct channel_info *c = NULL;
	int		     rc;

	/* A busy retry starts again. */
	buf_reset(&q->out);
	q->wn = 0;
	q->wrc = OK;
	q->points = 0;
	q->read_channel = NULL;
	bio_rec_free(&q->rec);
	if ((rc = bio_rec_load(tx, q->id, &q->rec)) != OK ||
	    (rc = bio_rec_covers(tx, &q->rec, q->who, q->scope)) != OK ||
	    (rc = blocks_channels(
		 tx, q->id, q->ch, BLOCKS_CHANNELS_MAX, &q->nch)) != OK)
		return (rc);
	switch (q->kind) {
	case RQ_POINTS:
		if ((rc = rq_channel_pick(q, &c)) != OK ||
		    (rc = rq_window(q, c, 1)) != OK)
			return (rc);
		q->format = q->nbuckets > 0 ? "buckets" : "raw";
		rc = q->nbuckets > 0 ? buckets_answer(q, tx, c)
				     : raw_answer(q, tx, c);
		break;
	case RQ_SVG:
		if ((rc = rq_channel_pick(q, &c)) != OK ||
		    (rc = rq_window(q, c, 1)) != OK)
			return (rc);
		q->format = "svg";
		rc = svg_answer(q, tx, c);
		break;
	case RQ_CHANNELS:
		q->format = "channels";
		rc = channels_answer(q);
		break;
	case RQ_CSV:
		q->format = "csv";
		rc = rq_csv_answer(q, tx);
		break;
	case RQ_EDF:
		q->format = "edf";
		rc = rq_edf_answer(q, tx);
		break;
	}
	if (rc != OK)
		return (rc);
	rq_flush(q);
	return (q->wrc == ERR_TOO_LARGE ? rq_too_many(q, 0) : q->wrc);
}

static int
audit_tx(struct tx *tx, void *arg)
{
	struct rq *q = arg;
	json_t	  *changes;
	int	   rc;

	changes = json_pack("{s:s,s:s*,s:I,s:I,s:I}", "format", q->format,
	    "channel", q->read_channel, "from", (json_int_t)q->from, "to",
	    (json_int_t)q->to, "points", (json_int_t)q->points);
	if (changes == NULL)
		return (ERR_NOMEM);
	rc = audit_read(tx, q->who, q->req, "recordings.points.read",
	    "recordings", q->id, changes);
	json_decref(changes);
	return (rc);
}

/* The channel asked for, or the recording's only one. */
int
rq_channel_pick(struct rq *q, struct channel_info **out)
{
	struct buf names;
	size_t	   i;

	*out = NULL;
	for (i = 0; i < q->nch; i++)
		if (q->channel == NULL
			? q->nch == 1
			: strcmp(q->ch[i].name, q->channel) == 0) {
			*out = &q->ch[i];
			q->read_channel = q->ch[i].name;
			return (OK);
		}
	if (q->channel != NULL || q->nch == 0) {
		http_problem(q->req, ERR_NOT_FOUND, "CHANNEL_NOT_FOUND",
		    "The "
		    "recording holds no points%s%s.",
		    q->channel ? " on " : "", q->channel ? q->channel : "");
		return (ERR_NOT_FOUND);
	}
	buf_init(&names, 16384);
	for (i = 0; i < q->nch; i++)
		buf_printf(&names, "%s%s", i ? ", " : "", q->ch[i].name);
	http_problem(q->req, ERR_INVALID, "CHANNEL_REQUIRED",
	    "The recording "
	    "has several channels: name one with ?channel= (%s).",
	    names.data != NULL ? names.data : "");
	buf_free(&names);
	return (ERR_INVALID);
}

/* Default the window to the channels' whole time range. */
int
rq_window(struct rq *q, const struct channel_info *c, size_t n)
{
	int64_t lo = INT64_MAX, hi = INT64_MIN;
	size_t	i;

	for (i = 0; i < n; i++) {
		if (c[i].t_first_ms < lo)
			lo = c[i].t_first_ms;
		if (c[i].t_last_ms > hi)
			hi = c[i].t_last_ms;
	}
	if (n == 0)
		lo = hi = 0;
	if (!q->has_from)
		q->from = lo;
	if (!q->has_to)
		q->to = hi + 1;
	if (q->to > q->from)
		return (OK);
	http_problem_ext(q->req, ERR_INVALID, NULL,
	    json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "field",
		q->has_to ? "to" : "from", "code", "before_from", "detail",
		"the window [from, to) is empty"),
	    "The query is not valid.");
	return (ERR_INVALID);
}

int
rq_too_many(struct rq *q, size_t max)
{
	if (max > 0)
		http_problem(q->req, ERR_INVALID, "TOO_MANY_POINTS",
		    "The window "
		    "holds more than %zu samples: ask for buckets=N or a "
		    "narrower window.",
		    max);
	else
		http_problem(q->req, ERR_INVALID, "TOO_MANY_POINTS",
		    "The "
		    "answer would be too large: ask for a narrower window.");
	return (ERR_INVALID);
}

/* A JSON string, escaped (names and units come from admins). */
static void
rq_jstr(struct rq *q, const char *v)
{
	json_t *j = json_string(v != NULL ? v : "");
	char   *t = j != NULL ? json_dumps(j, JSON_ENCODE_ANY) : NULL;

	if (t == NULL && q->wrc == OK)
		q->wrc = ERR_NOMEM;
	else if (t != NULL)
		rq_str(q, t);
	free(t);
	json_decref(j);
}

/* The members every points answer starts with. */
static void
rq_head(struct rq *q, const char *channel)
{
	rq_str(q, "{\"recording_id\":\"");
	rq_str(q, q->id);
	rq_str(q, "\",\"channel\":\"");
	rq_str(q, channel); /* [a-z0-9_] */
	rq_str(q, "\",\"data_type\":");
	rq_jstr(q, q->rec.data_type);
	rq_str(q, ",\"unit\":");
	rq_jstr(q, q->rec.unit);
	/* Decimal text in the JSON number grammar (bio_decimal). */
	rq_str(q, ",\"scale\":");
	rq_str(q, q->rec.scale_text);
	rq_str(q, ",\"offset\":");
	rq_str(q, q->rec.offset_text);
	rq_str(q, ",\"from\":");
	rq_i64(q, q->from);
	rq_str(q, ",\"to\":");
	rq_i64(q, q->to);
}

static int
raw_answer(struct rq *q, struct tx *tx, struct channel_info *c)
{
	struct series s;
	size_t	      i;
	int	      rc;

	memset(&s, 0, sizeof(s));
	/* Sized once: at most the channel's samples, at most the bound. */
	if ((rc = series_reserve(&s,
		 (size_t)c->count < BIO_RAW_MAX ? (size_t)c->count + 1
						: BIO_RAW_MAX + 1)) != OK)
		goto out;
	rc = blocks_read(tx, q->id, c->name, q->from, q->to, BIO_RAW_MAX, &s);
	if (rc == ERR_TOO_LARGE)
		rc = rq_too_many(q, BIO_RAW_MAX);
	if (rc != OK)
		goto out;
	q->points = (int64_t)s.n;
	if ((rc = rq_reserve(q, 512 + s.n * 34)) != OK)
		goto out;
	rq_head(q, c->name);
	rq_str(q, ",\"count\":");
	rq_i64(q, (int64_t)s.n);
	rq_str(q, ",\"rate\":");
	if (c->rate_mhz != 0)
		rq_rate(q, c->rate_mhz);
	else
		rq_str(q, "null");
	rq_str(q, ",\"t0\":");
	if (s.n > 0)
		rq_tus(q, s.t_us[0]);
	else
		rq_str(q, "null");
	rq_str(q, ",\"t\":[");
	for (i = 0; i < s.n; i++) {
		if (i > 0)
			rq_mem(q, ",", 1);
		rq_tus(q, s.t_us[i]);
	}
	rq_str(q, "],\"v\":[");
	for (i = 0; i < s.n; i++) {
		if (i > 0)
			rq_mem(q, ",", 1);
		rq_i64(q, s.v[i]);
	}
	rq_str(q, "]}");
	q->ctype = "application/json";
out:
	series_free(&s);
	return (rc);
}

/* Buckets */

struct bfill {
	struct points_buckets *b;
	int32_t		       v[CODEC_BLOCK_MAX];
	int64_t		       ts[CODEC_BLOCK_MAX];
};

static int
bucket_block(const struct block *blk, void *arg)
{
	struct bfill *f = arg;
	size_t	      n = 0, m = 0;
	long	      i;

	if ((i = points_buckets_covers(
		 f->b, blk->t_first_ms, blk->t_last_ms)) >= 0) {
		/* Inside one bucket: its stored stats, nothing decoded. */
		points_buckets_add_stats(
		    f->b, i, (int64_t)blk->count, blk->min, blk->max, blk->sum);
		return (OK);
	}
	if (blk->payload == NULL ||
	    codec_decode(blk->payload, blk->payload_len, f->v, CODEC_BLOCK_MAX,
		&n) != OK ||
	    n != blk->count)
		return (ERR_INTERNAL);
	if (blk->rate_mhz == 0 &&
	    (blk->ts == NULL ||
		codec_ts_decode(
		    blk->ts, blk->ts_len, f->ts, CODEC_BLOCK_MAX, &m) != OK ||
		m != n))
		return (ERR_INTERNAL);
	points_buckets_add(f->b, f->v, n, blk->rate_mhz == 0 ? f->ts : NULL,
	    blk->t0_ms, blk->rate_mhz, blk->first);
	return (OK);
}

static int
buckets_fill(struct rq *q, struct tx *tx, struct channel_info *c,
    struct points_buckets *b)
{
	struct bfill *f;
	size_t	      i;
	int	      rc;

	if ((rc = points_buckets_init(
		 b, q->from, q->to, (size_t)q->nbuckets)) != OK) {
		if (rc == ERR_INVALID)
			http_problem_ext(q->req, rc, NULL,
			    json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "field",
				"buckets", "code", "out_of_range", "detail",
				"more buckets than the window can hold"),
			    "The query is not valid.");
		return (rc);
	}
	if ((f = malloc(sizeof(*f))) == NULL)
		return (ERR_NOMEM);
	f->b = b;
	rc = blocks_scan(tx, q->id, c->name, q->from, q->to, bucket_block, f);
	free(f);
	for (i = 0; rc == OK && i < b->n; i++)
		q->points += b->b[i].count;
	return (rc);
}

static int
buckets_answer(struct rq *q, struct tx *tx, struct channel_info *c)
{
	struct points_buckets b;
	int64_t		      span = (q->to - q->from) * 1000;
	size_t		      i, n;
	int		      rc;

	memset(&b, 0, sizeof(b));
	if ((rc = buckets_fill(q, tx, c, &b)) != OK)
		goto out;
	n = b.n;
	rq_head(q, c->name);
	rq_str(q, ",\"buckets\":");
	rq_i64(q, (int64_t)n);
	rq_str(q, ",\"bucket_ms\":");
	rq_dbl(q, (double)(q->to - q->from) / (double)n);
	rq_str(q, ",\"t\":[");
	for (i = 0; i < n; i++) {
		if (i > 0)
			rq_mem(q, ",", 1);
		rq_tus(q,
		    q->from * 1000 + span / (int64_t)n * (int64_t)i +
			span % (int64_t)n * (int64_t)i / (int64_t)n);
	}
	rq_str(q, "],\"count\":[");
	for (i = 0; i < n; i++) {
		if (i > 0)
			rq_mem(q, ",", 1);
		rq_i64(q, b.b[i].count);
	}
	rq_str(q, "],\"min\":[");
	for (i = 0; i < n; i++) {
		if (i > 0)
			rq_mem(q, ",", 1);
		if (b.b[i].count > 0)
			rq_i64(q, b.b[i].min);
		else
			rq_str(q, "null");
	}
	rq_str(q, "],\"max\":[");
	for (i = 0; i < n; i++) {
		if (i > 0)
			rq_mem(q, ",", 1);
		if (b.b[i].count > 0)
			rq_i64(q, b.b[i].max);
		else
			rq_str(q, "null");
	}
	rq_str(q, "],\"mean\":[");
	for (i = 0; i < n; i++) {
		if (i > 0)
			rq_mem(q, ",", 1);
		if (b.b[i].count > 0)
			rq_dbl(q, (double)b.b[i].sum / (double)b.b[i].count);
		else
			rq_str(q, "null");
	}
	rq_str(q, "]}");
	q->ctype = "application/json";
out:
	points_buckets_free(&b);
	return (rc);
}

static int
svg_answer(struct rq *q, struct tx *tx, struct channel_info *c)
{
	struct points_buckets b;
	char		      title[160];
	int		      rc;

	memset(&b, 0, sizeof(b));
	if ((rc = buckets_fill(q, tx, c, &b)) != OK)
		goto out;
	snprintf(title, sizeof(title), "%s %s", q->rec.data_type, c->name);
	rq_flush(q);
	if ((rc = points_svg(&b, q->rec.scale, q->rec.offset, title,
		 q->rec.unit, &q->out)) == ERR_TOO_LARGE)
		rc = rq_too_many(q, 0);
	q->ctype = "image/svg+xml";
out:
	points_buckets_free(&b);
	return (rc);
}

/* Channels */

static int
channels_answer(struct rq *q)
{
	struct channel_info *c;
	size_t		     i;

	rq_str(q, "{\"recording_id\":\"");
	rq_str(q, q->id);
	rq_str(q, "\",\"data_type\":");
	rq_jstr(q, q->rec.data_type);
	rq_str(q, ",\"unit\":");
	rq_jstr(q, q->rec.unit);
	rq_str(q, ",\"scale\":");
	rq_str(q, q->rec.scale_text);
	rq_str(q, ",\"offset\":");
	rq_str(q, q->rec.offset_text);
	rq_str(q, ",\"channels\":[");
	for (i = 0; i < q->nch; i++) {
		c = &q->ch[i];
		rq_str(q, i > 0 ? ",{\"name\":\"" : "{\"name\":\"");
		rq_str(q, c->name);
		rq_str(q, "\",\"count\":");
		rq_i64(q, c->count);
		rq_str(q, ",\"blocks\":");
		rq_i64(q, c->blocks);
		rq_str(q, ",\"from\":");
		rq_i64(q, c->t_first_ms);
		rq_str(q, ",\"to\":");
		rq_i64(q, c->t_last_ms + 1);
		rq_str(q, ",\"rate\":");
		if (c->rate_mhz != 0)
			rq_rate(q, c->rate_mhz);
		else
			rq_str(q, "null");
		rq_str(q, ",\"regular\":");
		rq_str(q, c->rate_mhz != 0 ? "true" : "false");
		rq_str(q, ",\"min\":");
		rq_i64(q, c->min);
		rq_str(q, ",\"max\":");
		rq_i64(q, c->max);
		rq_str(q, "}");
	}
	rq_str(q, "]}");
	q->ctype = "application/json";
	return (OK);
}

/* The answer's write buffer */

/*
 * Room for at least n bytes in the answer at once: growing by doubling
 * would copy and touch about twice the final size of a large answer.
 */
int
rq_reserve(struct rq *q, size_t n)
{
	char *p;

	if (n > q->out.max)
		n = q->out.max;
	if (n + 1 <= q->out.cap)
		return (OK);
	if ((p = realloc(q->out.data, n + 1)) == NULL)
		return (ERR_NOMEM);
	if (q->out.data == NULL)
		p[0] = '\0';
	q->out.data = p;
	q->out.cap = n + 1;
	return (OK);
}

void
rq_flush(struct rq *q)
{
	if (q->wn > 0 && q->wrc == OK)
		q->wrc = buf_append(&q->out, q->w, q->wn);
	q->wn = 0;
}

void
rq_mem(struct rq *q, const char *p, size_t n)
{
	if (q->wn + n > sizeof(q->w)) {
		rq_flush(q);
		if (n > sizeof(q->w)) {
			if (q->wrc == OK)
				q->wrc = buf_append(&q->out, p, n);
			return;
		}
	}
	memcpy(q->w + q->wn, p, n);
	q->wn += n;
}

void
rq_str(struct rq *q, const char *s)
{
	rq_mem(q, s, strlen(s));
}

void
rq_i64(struct rq *q, int64_t v)
{
	char	 t[24];
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	size_t	 i = sizeof(t);

	do {
		t[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		t[--i] = '-';
	rq_mem(q, t + i, sizeof(t) - i);
}

/* A value in thousandths (us as ms, mHz as Hz): 1234567 -> 1234.567. */
static void
rq_milli(struct rq *q, int64_t v)
{
	char	 f[4];
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	unsigned frac = (unsigned)(u % 1000);
	size_t	 n = 3;

	if (v < 0)
		rq_mem(q, "-", 1);
	rq_i64(q, (int64_t)(u / 1000));
	if (frac == 0)
		return;
	f[0] = '.';
	f[1] = (char)('0' + frac / 100);
	f[2] = (char)('0' + frac / 10 % 10);
	f[3] = (char)('0' + frac % 10);
	while (f[n] == '0')
		n--;
	rq_mem(q, f, n + 1);
}

void
rq_tus(struct rq *q, int64_t t_us)
{
	rq_milli(q, t_us);
}

static void
rq_rate(struct rq *q, uint32_t rate_mhz)
{
	rq_milli(q, rate_mhz);
}

void
rq_dbl(struct rq *q, double d)
{
	char t[40];
	int  n;

	if (!isfinite(d)) {
		rq_str(q, "null");
		return;
	}
	n = snprintf(t, sizeof(t), "%.12g", d);
	if (n > 0 && (size_t)n < sizeof(t))
		rq_mem(q, t, (size_t)n);
}
