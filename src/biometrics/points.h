/*
 * Points in and out: the wire formats of a batch of samples sent to
 * POST /v1/recordings/{id}/points, and the pure functions the query side
 * is made of (bucketing for plots, CSV, EDF and SVG). Nothing here touches
 * the database; src/biometrics/blocks.c stores blocks, blocks_read.c
 * reads them.
 *
 * Samples are int32 in the data type's storage units ("counts"); the
 * physical value is offset + scale * count (data_types.scale, .offset).
 *
 * Times: a regular channel segment has t0_ms (integer ms since the Unix
 * epoch, of sample 0) and rate_mhz (sample rate in millihertz, > 0); the
 * time of sample i is t0_ms + i * 1e6 / rate_mhz ms (fractional: use
 * points_time_us). An irregular channel (RR intervals, events) has an
 * explicit ascending int64 timestamp in ms per sample and rate_mhz = 0.
 * Ascending means non-decreasing: two events may share a millisecond.
 * Every time a parser accepts lies in [0, POINTS_TIME_MAX], the last
 * sample of a regular channel included.
 *
 * The binary format (version 1) is specified in docs/POINTS_FORMAT.md;
 * JSON and CSV are there too. Parsers check every length, count and bound
 * and answer ERR_MALFORMED / ERR_INVALID / ERR_TOO_LARGE with a message in
 * err (never reading out of bounds); they are fuzzed (fuzz/fuzz_points.c).
 */
#ifndef BIOMETRICS_POINTS_H
#define BIOMETRICS_POINTS_H

#include <stddef.h>
#include <stdint.h>

struct buf;

#define POINTS_MAGIC	    "CBP1"     /* binary batch, format version 1 */
#define POINTS_CHANNELS_MAX 64	       /* channels in one batch */
#define POINTS_NAME_MAX	    32	       /* bytes in a channel name, [a-z0-9_] */
#define POINTS_BATCH_MAX    (4u << 20) /* samples in one batch, all channels */
#define POINTS_RATE_MAX	    (100000u * 1000u) /* 100 kHz in mHz */
#define POINTS_TIME_MAX	    253402300799999LL /* 9999-12-31T23:59:59.999Z */
#define POINTS_CSV_LINE_MAX 4096	      /* bytes in one CSV line */
#define POINTS_BUCKETS_MAX  10000 /* buckets in one query (the route's) */

/* One channel's samples in one batch. */
struct points_channel {
	char	 name[POINTS_NAME_MAX + 1];
	int64_t	 t0_ms;	   /* regular: time of sample 0 */
	uint32_t rate_mhz; /* > 0 regular; 0 irregular */
	size_t	 count;
	int32_t *samples; /* count values */
	int64_t *ts_ms;	  /* irregular: count ascending times; else NULL */
};

/* A parsed batch. Arrays are owned by the batch: points_batch_free. */
struct points_batch {
	uint64_t	      seq; /* idempotency: per recording */
	size_t		      nchannels;
	struct points_channel ch[POINTS_CHANNELS_MAX];
	size_t		      total; /* samples, all channels */
};

enum points_format {
	POINTS_BINARY = 1, /* application/vnd.carebase.points */
	POINTS_JSON,	   /* application/json */
	POINTS_CSV	   /* text/csv */
};

/*
 * Parse one batch body. For CSV, whose rows carry no sequence number or
 * rate, seq and the per-column rate come from the caller (query string:
 * ?seq=&rate=; rate_mhz 0 means the first column holds times in ms and
 * every channel is irregular). OK, or ERR_MALFORMED (not the format),
 * ERR_INVALID (well formed but a bad value: name, rate, times not
 * ascending, duplicate channel) or ERR_TOO_LARGE (a bound above), with a
 * one-line reason in err. On failure *out is left empty. On success the
 * batch has at least one channel and every channel at least one sample
 * (a CSV column of an irregular batch that got no sample is dropped).
 */
int  points_parse(enum points_format, const uint8_t *body, size_t len,
     uint64_t csv_seq, uint32_t csv_rate_mhz, int64_t csv_t0_ms,
     struct points_batch *out, char *err, size_t errlen);
void points_batch_free(struct points_batch *);

/* Build a binary batch (for tests, benchmarks and clients written in C). */
int points_write_binary(const struct points_batch *, struct buf *out);
/*
 * The same bytes, handed to put piece by piece (the CRC included): put
 * returns OK to go on, anything else stops the writer and is returned.
 * The batch is checked before the first byte (ERR_INVALID: nothing is
 * put). The route digests a JSON or CSV batch this way, so that a batch
 * has one digest whatever format carried it.
 */
int points_write_binary_cb(const struct points_batch *,
    int (*put)(void *arg, const void *p, size_t n), void *arg);

/*
 * CRC-32C (Castagnoli), the binary format's checksum, zlib-style: start
 * with crc = 0 and chain, crc32c(crc32c(0, a), b) = crc32c(0, a || b).
 * Uses the SSE4.2 instruction when the CPU has it; points_crc32c_sw is the
 * portable slice-by-8 path (for tests and benchmarks).
 */
uint32_t points_crc32c(uint32_t crc, const void *p, size_t n);
uint32_t points_crc32c_sw(uint32_t crc, const void *p, size_t n);

/* Time of sample i of a regular segment, in microseconds, rounded down
 * (exact integer arithmetic; saturates at the int64 range). */
int64_t points_time_us(int64_t t0_ms, uint32_t rate_mhz, uint64_t i);

/*
 * Downsampling for plots: [from_ms, to_ms) cut into n equal buckets; each
 * gets count, min, max and sum of the samples whose time falls in it.
 * Feed blocks in any order; a block whose stored stats lie wholly inside
 * one bucket is added without decoding (points_buckets_covers).
 *
 * The bucket of a sample at time t (ms; a regular sample's exact rational
 * time t0 + i * 1e6 / rate_mhz) is floor((t - from) * n / (to - from)),
 * computed exactly in 128-bit integers. min and max of a bucket mean
 * something only when its count is above 0. init: ERR_INVALID when n is 0
 * or above POINTS_BUCKETS_MAX or to <= from, ERR_NOMEM.
 */
struct points_bucket {
	int64_t count;
	int64_t sum;
	int32_t min, max;
};

struct points_buckets {
	int64_t		      from_ms, to_ms;
	size_t		      n;
	struct points_bucket *b; /* n buckets */
};

int points_buckets_init(
    struct points_buckets *, int64_t from_ms, int64_t to_ms, size_t n);
void points_buckets_free(struct points_buckets *);
/* Bucket index holding both t_first_ms and t_last_ms, or -1. t_last_ms may
 * be the floor of a fractional time: the answer holds for every time in
 * [t_first_ms, t_last_ms + 1). */
long points_buckets_covers(
    const struct points_buckets *, int64_t t_first_ms, int64_t t_last_ms);
/* Add precomputed stats of a block wholly inside bucket i (ignored when i
 * is out of range or count <= 0). */
void points_buckets_add_stats(struct points_buckets *, long i, int64_t count,
    int32_t min, int32_t max, int64_t sum);
/* Add decoded samples: regular (ts_ms NULL: t0_ms, rate_mhz, first index
 * first) or irregular (ts_ms given). Samples outside [from, to) are
 * ignored. */
void points_buckets_add(struct points_buckets *, const int32_t *v, size_t n,
    const int64_t *ts_ms, int64_t t0_ms, uint32_t rate_mhz, uint64_t first);

/*
 * An SVG line chart of one channel from its buckets (min/max band and mean
 * line), physical units on the y axis, UTC times on the x axis, a title.
 * Text is escaped. OK, ERR_NOMEM, ERR_TOO_LARGE (out's ceiling) or
 * ERR_INVALID (scale or offset not finite).
 */
int points_svg(const struct points_buckets *, double scale, double offset,
    const char *title, const char *unit, struct buf *out);

/*
 * EDF+ (European Data Format "plus", continuous: EDF+C) writer for
 * regular channels. Signals are written as 16-bit digital values with the
 * physical range of the data type (scale/offset), then one "EDF
 * Annotations" signal.
 *
 * samples[0] of every signal is at start_ms + offset_us: start_ms, the
 * header's start, must be a whole second (the header holds seconds;
 * ERR_INVALID otherwise), and offset_us (0 to 999,999) is how far after it
 * the first data record starts, written as that record's time-keeping TAL
 * ("+0.25\x14\x14"), EDF+'s way to a start finer than a second; record r
 * starts at offset_us + r * its duration. So slot k of a signal lies
 * exactly k / rate after start_ms + offset_us, and a caller puts the
 * first sample there rather than moving it to a whole second. Data
 * records last 1 s when every rate is a whole number of Hz, else the
 * smallest whole number of seconds (at most 1000) that holds a whole
 * number of samples of every signal. There are as many as cover
 * duration_ms from start_ms and every slot of every signal (nsamples):
 * the last sample is never cut off.
 *
 * The records hold every slot of their time, recorded or not: a slot with
 * no sample (flagged in missing, past nsamples, before the first sample,
 * after the last) is written as -32768, and the annotations say which
 * slots hold samples: one TAL "Recorded" (onset and duration in seconds
 * from the start) for each run of slots with samples, when every signal
 * was recorded over the same runs; otherwise "Recorded@@<label>" for each
 * run of each signal (EDF+'s link of an annotation to one signal). Each
 * record's annotations start with its time-keeping TAL, as EDF+ asks.
 * More than POINTS_EDF_SPANS_MAX runs in all is ERR_INVALID.
 *
 * Digital range -32768..32767, and -32768 is reserved for a slot with no
 * sample: real counts are written in -32767..32767. Counts that fit are
 * written as they are, or moved by a constant when their span fits but
 * their place does not (the physical range in the header moves with them,
 * so a reader's linear map still gives offset + scale * count); a channel
 * whose counts span more than 65535 values is divided by the smallest
 * power of two that makes them fit (stated in the header's prefiltering
 * field). count_min and count_max widen the range the counts are fitted
 * into (count_min > count_max: the samples' own).
 *
 * Labels: points_edf_label of the data type (kind) and each channel's
 * name; a label another signal has already gets "~<its number>" at its
 * end instead. The patient field is "<patient> X X X" and the recording
 * field "Startdate DD-MMM-YYYY <recording> X X" (EDF+'s subfields, X for
 * what is not known).
 *
 * OK, ERR_INVALID (no signal, an irregular one, duration_ms <= 0, a start
 * that is not a whole second or lies outside 1985-2084, offset_us outside
 * 0..999,999, a scale of 0 or
 * not finite, a physical range that no 8-character field holds, too many
 * runs), ERR_TOO_LARGE (a field overflows, or out's ceiling) or
 * ERR_NOMEM. On failure out is left as it was and, with
 * points_edf_write_err, err holds a one-line reason.
 */
#define POINTS_EDF_LABEL_LEN 16	   /* the label field */
#define POINTS_EDF_SPANS_MAX 65536 /* recorded runs in one file */

struct points_edf_signal {
	const char    *channel;	      /* carebase's channel name */
	const char    *unit;	      /* physical dimension, e.g. "uV" */
	double	       scale, offset; /* physical = offset + scale * count */
	int32_t	       count_min, count_max; /* counts seen */
	uint32_t       rate_mhz;
	const int32_t *samples; /* nsamples counts, from start + offset */
	size_t	       nsamples;
	const uint8_t *missing; /* nsamples flags: 1, no sample in
					   that slot; NULL: none missing */
};

struct points_edf {
	const char *patient;	 /* pseudonymous id, never a name */
	const char *recording;	 /* the recording's id */
	const char *kind;	 /* the data type's name ("EEG"), or NULL */
	int64_t	    start_ms;	 /* a whole second */
	int64_t	    offset_us;	 /* the first record's start after it */
	int64_t	    duration_ms; /* from start_ms */
	size_t	    nsignals;
	const struct points_edf_signal *signals;
};

int points_edf_write(const struct points_edf *, struct buf *out);
int points_edf_write_err(
    const struct points_edf *, struct buf *out, char *err, size_t errlen);

/*
 * The EDF+ label of a channel of a data type, at most 16 characters:
 * EDF+'s signal type for the data type's name (EEG, ECG, EOG, EMG, ERG,
 * MEG, MCG, EP, Resp, Temp, SaO2 for SpO2, Light, Sound, Event; any other
 * name of at most 8 characters as it is; a longer one, or none, leaves
 * the type out), a space, and the sensor: a 10-20 / 10-10 electrode in
 * its standard case for EEG ("fp1" -> "EEG Fp1", "c3_a2" -> "EEG C3-A2"),
 * a lead for ECG ("ii" -> "ECG II", "avf" -> "ECG aVF", "v2" -> "ECG
 * V2"), otherwise the channel's name as it is ("mlii" -> "ECG mlii"); a
 * channel named as its data type ("spo2" of SpO2) is the type alone
 * ("SaO2"). Cut at 16 characters.
 */
int points_edf_label(
    const char *kind, const char *channel, char out[POINTS_EDF_LABEL_LEN + 1]);

#endif
