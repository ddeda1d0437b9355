/*
 * Private to src/biometrics. biometrics.c holds the module: the data
 * types, exercises and recordings resources, shared helpers and the seed;
 * ingest.c the points ingest and the finish action; query.c the read
 * routes (points, channels, chart) and query_export.c the exports (CSV,
 * EDF); export_links.c the GDPR export's part (a link to each recording's
 * points, and its route); blocks.c stores a recording's points as blocks (recording_blocks)
 * and its batch sequence numbers (recording_batches), blocks_read.c reads
 * them back. codec.h compresses one block; points.h parses batches
 * (points.c, points_text.c) and makes buckets and SVG (points_out.c) and
 * EDF (points_edf.c).
 *
 * A channel is stored as blocks of at most CODEC_BLOCK_DEFAULT samples,
 * numbered by seq from 0. A regular block holds samples first_index ..
 * first_index + count - 1 of a segment that starts at t0_ms with rate_mhz;
 * an irregular block (rate_mhz 0) carries a timestamps payload too. A new
 * batch that continues a channel's last block (same rate, its first sample
 * within half a sample period of the time the segment expects next) joins
 * that segment, its samples taking the segment's times (moved by at most
 * half a period: blocks.c tail_joins): the last block, when short, is
 * decoded, filled up to
 * CODEC_BLOCK_DEFAULT and re-encoded, so blocks stay full however small
 * the batches. Irregular channels do the same when the new times follow
 * the last block's.
 */
#ifndef BIOMETRICS_BIOMETRICS_INT_H
#define BIOMETRICS_BIOMETRICS_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "biometrics/points.h"
#include "resource/resource.h"

struct principal;
struct request;
struct store;
struct tx;

#define BLOCKS_DIGEST_LEN   32	/* BLAKE2b-256 of a batch body */
#define BLOCKS_CHANNELS_MAX 256 /* channels of one recording */

/* One stored block, as a scan hands it out (payloads borrowed). */
struct block {
	int64_t	       seq;
	int64_t	       t0_ms;
	uint32_t       rate_mhz; /* 0: irregular */
	uint64_t       first;	 /* index in its segment (regular) */
	int64_t	       t_first_ms;
	int64_t	       t_last_ms;
	size_t	       count;
	int32_t	       min, max;
	int64_t	       sum;
	const uint8_t *payload;
	size_t	       payload_len;
	const uint8_t *ts; /* irregular: timestamps payload */
	size_t	       ts_len;
};

/* What a recording holds on one channel. */
struct channel_info {
	char	 name[POINTS_NAME_MAX + 1];
	int64_t	 blocks;
	int64_t	 count;
	int64_t	 t_first_ms, t_last_ms;
	uint32_t rate_mhz; /* its one rate; 0 irregular or mixed */
	int	 mixed;	   /* more than one rate */
	int32_t	 min, max;
};

/* Decoded samples of one channel: times in microseconds. */
struct series {
	size_t	 n, cap;
	int64_t *t_us;
	int32_t *v;
};

/* Batches */
enum batch_state {
	BATCH_NEW = 0,	 /* seq not seen: store it */
	BATCH_DUPLICATE, /* seq seen with this digest: already stored */
	BATCH_CONFLICT	 /* seq seen with another digest */
};
int blocks_batch_state(struct tx *, const char *recording_id, int64_t seq,
    const uint8_t digest[BLOCKS_DIGEST_LEN], enum batch_state *out);
int blocks_batch_add(struct tx *, const char *recording_id, int64_t seq,
    const uint8_t digest[BLOCKS_DIGEST_LEN], int64_t points, int64_t now_ms);

/*
 * Append one channel's samples of a batch (see above). Inside the
 * caller's write transaction; every statement is prepared once per
 * connection and reused. OK, ERR_NOMEM or a store error.
 */
int blocks_append(
    struct tx *, const char *recording_id, const struct points_channel *);
/*
 * How many of the batch's channels the recording holds no block of yet
 * (*fresh) and, when there are any, how many channels it holds (*held;
 * else 0): ingest keeps a recording to BLOCKS_CHANNELS_MAX channels.
 */
int blocks_channels_fresh(struct tx *, const char *recording_id,
    const struct points_batch *, size_t *fresh, size_t *held);
/* Delete every block and batch of a recording. */
int blocks_discard(struct tx *, const char *recording_id);

/* The channels a recording holds, by name; *n of at most max. */
int blocks_channels(struct tx *, const char *recording_id,
    struct channel_info *out, size_t max, size_t *n);
/*
 * Call fn for each block of channel with a sample in [from_ms, to_ms)
 * (t_last_ms >= from_ms AND t_first_ms < to_ms), by time. fn returns OK
 * to go on; anything else stops the scan and is returned.
 */
int blocks_scan(struct tx *, const char *recording_id, const char *channel,
    int64_t from_ms, int64_t to_ms, int (*fn)(const struct block *, void *),
    void *arg);
/*
 * Decode a block: its samples into v and, when ts is not NULL, the time
 * of each in microseconds (cap entries each, at least CODEC_BLOCK_MAX).
 * OK or ERR_MALFORMED (a payload that does not decode or disagrees with
 * the row).
 */
int blocks_decode(const struct block *, int32_t *v, int64_t *t_us, size_t cap);
/*
 * The samples of channel in [from_ms, to_ms), appended to out in time
 * order (equal times in the order of their blocks' seq, and in a block
 * as stored), however the blocks overlap; ERR_TOO_LARGE when there would
 * be more than max.
 */
int blocks_read(struct tx *, const char *recording_id, const char *channel,
    int64_t from_ms, int64_t to_ms, size_t max, struct series *out);
/*
 * A page of channel's samples, block by block, for reading every sample
 * once however many there are: the samples of the blocks from
 * (*t_first_ms, *seq) on, in that order, appended to out in time order
 * (as blocks_read), as long as they come to at most max (the first block
 * whatever its size). *more is 1 when blocks are left, and *t_first_ms,
 * *seq then name the first of them (the next page's start); 0 when the
 * channel is done. A channel's first page starts at (0, 0).
 */
int blocks_read_page(struct tx *, const char *recording_id, const char *channel,
    int64_t *t_first_ms, int64_t *seq, size_t max, struct series *out,
    int *more);
/* Room for need samples (at least; grows by doubling). */
int  series_reserve(struct series *, size_t need);
void series_free(struct series *);

/* floor(a / b) for b > 0. */
int64_t blocks_floor_div(int64_t a, int64_t b);

/* biometrics.c: the module, resources, finish and ingest */
extern const struct resource data_types_resource;
extern const struct resource exercises_resource;
extern const struct resource recordings_resource;

/* A recording with its data type, as the points routes see it. */
struct bio_rec {
	char	 id[37];
	char	 user_id[37];
	char	 status[16];
	char	 data_type[64]; /* its name */
	char	 unit[64];
	char	 scale_text[40]; /* decimal text, a JSON number */
	char	 offset_text[40];
	double	 scale, offset;
	uint32_t rate_mhz; /* nominal; 0 irregular */
	json_t	*channels; /* names, owned */
};

/* OK with ERR_NOT_FOUND for no such recording. */
int  bio_rec_load(struct tx *, const char *id, struct bio_rec *);
void bio_rec_free(struct bio_rec *);
/* OK when scope covers the recording for who, else ERR_NOT_FOUND. */
int bio_rec_covers(
    struct tx *, const struct bio_rec *, const struct principal *, enum scope);
/* Serialise writers of one recording (PostgreSQL: advisory lock). */
int bio_lock(struct tx *, const char *recording_id);
/* The {id} parameter, a UUID; answers 404 and returns non-OK without. */
int bio_recording_id(struct request *, const char **id);
/* A decimal in the JSON number grammar (finite); out may be NULL. */
int bio_decimal(const char *, double *out);
/* 1 if s is a channel name: 1 to 32 of [a-z0-9_]. */
int bio_channel_name_ok(const char *);
/* A time argument: ISO 8601 or integer ms; ERR_NOT_FOUND when NULL. */
int bio_time_arg(const char *, int64_t *ms);
/* Append {"field", "code", "detail"} to errs. */
#define bio_err resource_field_err
/* Answer 422 with errs (taken) when it has entries: ERR_INVALID; OK
 * (errs freed) when empty. */
#define bio_errs_answer resource_errs_answer
/* people_health_consent_answer: 403 CONSENT_REQUIRED or
 * DATE_OF_BIRTH_REQUIRED. */
int bio_consent(struct request *, struct tx *, const char *user_id);
/* Demo data for `carebase seed`. */
struct seed_accounts;
int bio_seed(struct store *, struct seed_accounts *);

/* ingest.c: POST .../points and POST .../finish */
void bio_points_post(struct request *);
int  bio_points_admit(struct request *);
void bio_finish(struct request *);

/* query.c: the read routes; every read of points is audited */
#define BIO_RAW_MAX	  (1u << 20) /* samples in one raw answer */
#define BIO_EXPORT_MAX	  (4u << 20) /* samples in one export */
#define BIO_BUCKETS_MAX	  POINTS_BUCKETS_MAX
#define BIO_CHART_BUCKETS 1000 /* chart.svg default */
void bio_points_get(struct request *);
void bio_channels_get(struct request *);
void bio_export_csv(struct request *);
void bio_export_edf(struct request *);
void bio_chart_svg(struct request *);

/* export_links.c: the GDPR export's links to a recording's points */
struct gdpr_hook;
extern const struct gdpr_hook bio_gdpr_hook;
void			      bio_export_points(struct request *);

#endif
