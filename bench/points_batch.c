/*
 * Batches and row-per-point loads for bench/points_ingest, made from a
 * real recording tiled to any length (sample i is sample i mod n of the
 * file: ECG MIT-BIH 208, uint16 little-endian).
 *
 *   points_batch batches FILE OUTDIR N NBATCH RATE_MHZ CHANNEL T0_MS
 *	Writes OUTDIR/N.SEQ.cbp (binary, points_write_binary) and
 *	OUTDIR/N.SEQ.json for SEQ 0..NBATCH-1: batch SEQ holds samples
 *	SEQ*N .. SEQ*N+N-1 of one regular channel, its t0 the first
 *	sample's time rounded to the ms (as a device sends it), so the
 *	batches of one recording join one segment.
 *
 *   points_batch naive-sqlite FILE DB RECORDING_ID CHANNEL N RATE_MHZ T0_MS
 *	The naive design: N rows (recording_id, channel, t, value) into
 *	naive_points of the SQLite file DB (made with its index on
 *	(recording_id, channel, t) when missing), one transaction, one
 *	prepared INSERT, the pragmas carebase uses (WAL, synchronous
 *	FULL). Prints "rows=N seconds=S cpu=C" (wall clock and the
 *	process's CPU time, commit included).
 *
 *   points_batch naive-copy FILE RECORDING_ID CHANNEL N RATE_MHZ T0_MS
 *	The same rows as PostgreSQL COPY text on stdout (for psql -c
 *	"COPY naive_points FROM STDIN").
 *
 *   points_batch buckets FILE N NBUCKETS ROUNDS
 *	The downsampling of the query route in process, on the real signal:
 *	N samples at 1 kHz encoded in blocks of CODEC_BLOCK_DEFAULT
 *	(codec_encode, as the store does), then codec_decode of every block
 *	and points_buckets_add into NBUCKETS over the whole span. Prints
 *	the median and the least thread CPU time of ROUNDS runs, with and
 *	without the decode, and the encoded bytes per sample.
 *
 * t is integer ms (floor of the sample's exact time), as carebase keeps
 * times. bench/points_ingest builds and runs this.
 */
#include <sys/resource.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "biometrics/codec.h"
#include "biometrics/points.h"
#include "core/buf.h"
#include "core/err.h"

#define BATCH_BYTES_MAX (256u << 20)

struct source {
	int32_t *x; /* the file's samples */
	size_t	 n;
};

static void	   die(const char *, const char *);
static uint64_t	   arg_u64(const char *, const char *, uint64_t, uint64_t);
static void	   source_load(struct source *, const char *);
static void	   tile(const struct source *, uint64_t, int32_t *, size_t);
static int64_t	   sample_ms(int64_t, uint32_t, uint64_t);
static double	   timeval_s(const struct timeval *);
static const char *rate_hz(uint32_t, char *, size_t);
static void	   file_write(const char *, const struct buf *);
static int	   cmd_batches(int, char **);
static int	   cmd_naive_sqlite(int, char **);
static int	   cmd_naive_copy(int, char **);
static double	   cpu_now(void);
static int	   cmp_double(const void *, const void *);
static int	   cmd_buckets(int, char **);

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "points_batch: %s: %s\n", what, why);
	exit(1);
}

static uint64_t
arg_u64(const char *name, const char *s, uint64_t lo, uint64_t hi)
{
	unsigned long long v;
	char		  *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < lo ||
	    v > hi)
		die(name, "out of range");
	return ((uint64_t)v);
}

static void
source_load(struct source *src, const char *path)
{
	FILE   *f;
	uint8_t b[2];
	size_t	cap = 1 << 16;

	if ((f = fopen(path, "rb")) == NULL)
		die(path, strerror(errno));
	src->n = 0;
	if ((src->x = malloc(cap * sizeof(*src->x))) == NULL)
		die("malloc", "samples");
	while (fread(b, 1, 2, f) == 2) {
		if (src->n == cap) {
			cap *= 2;
			if ((src->x = realloc(src->x, cap * sizeof(*src->x))) ==
			    NULL)
				die("realloc", "samples");
		}
		src->x[src->n++] = (int32_t)(b[0] | (b[1] << 8));
	}
	fclose(f);
	if (src->n == 0)
		die(path, "no samples");
}

/* Samples first .. first+n-1 of the source tiled without end. */
static void
tile(const struct source *src, uint64_t first, int32_t *out, size_t n)
{
	size_t i, j = (size_t)(first % src->n);

	for (i = 0; i < n; i++) {
		out[i] = src->x[j];
		if (++j == src->n)
			j = 0;
	}
}

static int64_t
sample_ms(int64_t t0_ms, uint32_t rate_mhz, uint64_t i)
{
	return (points_time_us(t0_ms, rate_mhz, i) / 1000);
}

static double
timeval_s(const struct timeval *tv)
{
	return ((double)tv->tv_sec + (double)tv->tv_usec / 1e6);
}

/* "360" or "0.5" Hz: the shortest exact decimal of rate_mhz / 1000. */
static const char *
rate_hz(uint32_t rate_mhz, char *out, size_t len)
{
	size_t n;

	snprintf(out, len, "%u.%03u", rate_mhz / 1000, rate_mhz % 1000);
	n = strlen(out);
	while (out[n - 1] == '0')
		out[--n] = '\0';
	if (out[n - 1] == '.')
		out[--n] = '\0';
	return (out);
}

static void
file_write(const char *path, const struct buf *b)
{
	FILE *f;

	if ((f = fopen(path, "wb")) == NULL)
		die(path, strerror(errno));
	if (fwrite(b->data, 1, b->len, f) != b->len || fclose(f) != 0)
		die(path, "write failed");
}

static int
cmd_batches(int argc, char **argv)
{
	struct source	    src;
	struct points_batch b;
	struct buf	    w;
	char		    path[4096], hz[32];
	int32_t		   *x;
	uint64_t	    n, nbatch, seq, first, i;
	uint32_t	    rate;
	int64_t		    t0, t;

	if (argc != 9)
		die("usage",
		    "batches FILE OUTDIR N NBATCH RATE_MHZ CHANNEL T0_MS");
	source_load(&src, argv[2]);
	n = arg_u64("N", argv[4], 1, POINTS_BATCH_MAX);
	nbatch = arg_u64("NBATCH", argv[5], 1, 100000);
	rate = (uint32_t)arg_u64("RATE_MHZ", argv[6], 1, POINTS_RATE_MAX);
	if (strlen(argv[7]) == 0 || strlen(argv[7]) > POINTS_NAME_MAX)
		die("CHANNEL", "1 to 32 characters");
	t0 = (int64_t)arg_u64("T0_MS", argv[8], 0, POINTS_TIME_MAX);
	if ((x = malloc(n * sizeof(*x))) == NULL)
		die("malloc", "batch");
	buf_init(&w, BATCH_BYTES_MAX);
	for (seq = 0; seq < nbatch; seq++) {
		first = seq * n;
		tile(&src, first, x, (size_t)n);
		/* the first sample's exact time, rounded to the ms */
		t = (points_time_us(t0, rate, first) - t0 * 1000 + 500) / 1000 +
		    t0;

		memset(&b, 0, sizeof(b));
		b.seq = seq;
		b.nchannels = 1;
		snprintf(b.ch[0].name, sizeof(b.ch[0].name), "%s", argv[7]);
		b.ch[0].t0_ms = t;
		b.ch[0].rate_mhz = rate;
		b.ch[0].count = (size_t)n;
		b.ch[0].samples = x;
		buf_reset(&w);
		if (points_write_binary(&b, &w) != OK)
			die("points_write_binary", "batch too large");
		snprintf(path, sizeof(path), "%s/%llu.%llu.cbp", argv[3],
		    (unsigned long long)n, (unsigned long long)seq);
		file_write(path, &w);

		buf_reset(&w);
		if (buf_printf(&w,
			"{\"seq\": %llu, \"channels\": [{\"name\": "
			"\"%s\", \"t0\": %lld, \"rate\": %s, \"samples\": [",
			(unsigned long long)seq, argv[7], (long long)t,
			rate_hz(rate, hz, sizeof(hz))) != OK)
			die("json", "too large");
		for (i = 0; i < n; i++)
			if (buf_printf(&w, i ? ",%d" : "%d", x[i]) != OK)
				die("json", "too large");
		if (buf_puts(&w, "]}]}") != OK)
			die("json", "too large");
		snprintf(path, sizeof(path), "%s/%llu.%llu.json", argv[3],
		    (unsigned long long)n, (unsigned long long)seq);
		file_write(path, &w);
	}
	buf_free(&w);
	free(x);
	free(src.x);
	return (0);
}

static int
cmd_naive_sqlite(int argc, char **argv)
{
	static const char *const setup =
	    "PRAGMA journal_mode=WAL;PRAGMA synchronous=FULL;"
	    "CREATE TABLE IF NOT EXISTS naive_points (recording_id TEXT NOT "
	    "NULL, channel TEXT NOT NULL, t BIGINT NOT NULL, value INTEGER NOT "
	    "NULL);"
	    "CREATE INDEX IF NOT EXISTS naive_points_t ON naive_points "
	    "(recording_id, channel, t)";
	struct source	src;
	struct timespec a, z;
	struct rusage	ra, rz;
	sqlite3	       *db;
	sqlite3_stmt   *st;
	uint64_t	n, i, j;
	uint32_t	rate;
	int64_t		t0;
	const char     *rec = argv[4], *ch = argv[5];

	if (argc != 9)
		die("usage",
		    "naive-sqlite FILE DB RECORDING_ID CHANNEL N "
		    "RATE_MHZ T0_MS");
	source_load(&src, argv[2]);
	n = arg_u64("N", argv[6], 1, 1ull << 34);
	rate = (uint32_t)arg_u64("RATE_MHZ", argv[7], 1, POINTS_RATE_MAX);
	t0 = (int64_t)arg_u64("T0_MS", argv[8], 0, POINTS_TIME_MAX);
	if (sqlite3_open(argv[3], &db) != SQLITE_OK)
		die(argv[3], sqlite3_errmsg(db));
	sqlite3_busy_timeout(db, 30000);
	if (sqlite3_exec(db, setup, NULL, NULL, NULL) != SQLITE_OK)
		die("setup", sqlite3_errmsg(db));
	clock_gettime(CLOCK_MONOTONIC, &a);
	getrusage(RUSAGE_SELF, &ra);
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		die("begin", sqlite3_errmsg(db));
	if (sqlite3_prepare_v2(db,
		"INSERT INTO naive_points (recording_id, "
		"channel, t, value) VALUES (?, ?, ?, ?)",
		-1, &st, NULL) != SQLITE_OK)
		die("prepare", sqlite3_errmsg(db));
	sqlite3_bind_text(st, 1, rec, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ch, -1, SQLITE_STATIC);
	for (i = 0, j = 0; i < n; i++) {
		sqlite3_bind_int64(st, 3, sample_ms(t0, rate, i));
		sqlite3_bind_int(st, 4, src.x[j]);
		if (++j == src.n)
			j = 0;
		if (sqlite3_step(st) != SQLITE_DONE)
			die("insert", sqlite3_errmsg(db));
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		die("commit", sqlite3_errmsg(db));
	clock_gettime(CLOCK_MONOTONIC, &z);
	getrusage(RUSAGE_SELF, &rz);
	sqlite3_close(db);
	printf("rows=%llu seconds=%.4f cpu=%.4f\n", (unsigned long long)n,
	    (double)(z.tv_sec - a.tv_sec) +
		(double)(z.tv_nsec - a.tv_nsec) / 1e9,
	    timeval_s(&rz.ru_utime) + timeval_s(&rz.ru_stime) -
		timeval_s(&ra.ru_utime) - timeval_s(&ra.ru_stime));
	free(src.x);
	return (0);
}

static int
cmd_naive_copy(int argc, char **argv)
{
	struct source src;
	static char   out[1 << 16];
	uint64_t      n, i, j;
	uint32_t      rate;
	int64_t	      t0;
	size_t	      len = 0;
	int	      k;

	if (argc != 8)
		die("usage",
		    "naive-copy FILE RECORDING_ID CHANNEL N RATE_MHZ "
		    "T0_MS");
	source_load(&src, argv[2]);
	n = arg_u64("N", argv[5], 1, 1ull << 34);
	rate = (uint32_t)arg_u64("RATE_MHZ", argv[6], 1, POINTS_RATE_MAX);
	t0 = (int64_t)arg_u64("T0_MS", argv[7], 0, POINTS_TIME_MAX);
	for (i = 0, j = 0; i < n; i++) {
		if (sizeof(out) - len < 256) {
			if (fwrite(out, 1, len, stdout) != len)
				die("stdout", "write failed");
			len = 0;
		}
		k = snprintf(out + len, sizeof(out) - len, "%s\t%s\t%lld\t%d\n",
		    argv[3], argv[4], (long long)sample_ms(t0, rate, i),
		    src.x[j]);
		if (k < 0 || (size_t)k >= sizeof(out) - len)
			die("copy", "row too long");
		len += (size_t)k;
		if (++j == src.n)
			j = 0;
	}
	if (fwrite(out, 1, len, stdout) != len || fflush(stdout) != 0)
		die("stdout", "write failed");
	free(src.x);
	return (0);
}

static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return ((x > y) - (x < y));
}

static int
cmd_buckets(int argc, char **argv)
{
	enum { BLK = CODEC_BLOCK_DEFAULT };
	struct source	      src;
	struct points_buckets bk;
	static int32_t	      dec[CODEC_BLOCK_MAX];
	int32_t		     *x;
	uint8_t		     *pay;
	size_t		     *len, cap, nblk, i, m, bytes = 0;
	uint64_t	      n, nb, rounds, r;
	double		     *full, *add, t;
	int64_t		      total;
	const int64_t	      t0 = 1772359200000LL;

	if (argc != 6)
		die("usage", "buckets FILE N NBUCKETS ROUNDS");
	source_load(&src, argv[2]);
	n = arg_u64("N", argv[3], 1, 1ull << 30);
	nb = arg_u64("NBUCKETS", argv[4], 1, POINTS_BUCKETS_MAX);
	rounds = arg_u64("ROUNDS", argv[5], 1, 1000);
	nblk = (size_t)((n + BLK - 1) / BLK);
	cap = codec_bound(BLK);
	if ((x = malloc(n * sizeof(*x))) == NULL ||
	    (pay = malloc(nblk * cap)) == NULL ||
	    (len = calloc(nblk, sizeof(*len))) == NULL ||
	    (full = calloc(rounds, sizeof(*full))) == NULL ||
	    (add = calloc(rounds, sizeof(*add))) == NULL)
		die("malloc", "buckets");
	tile(&src, 0, x, (size_t)n);
	for (i = 0; i < nblk; i++) {
		m = n - i * BLK < BLK ? (size_t)(n - i * BLK) : BLK;
		if (codec_encode(x + i * BLK, m, pay + i * cap, cap, &len[i]) !=
		    OK)
			die("codec_encode", "block");
		bytes += len[i];
	}
	for (r = 0; r < rounds; r++) {
		if (points_buckets_init(&bk, t0, t0 + (int64_t)n, (size_t)nb) !=
		    OK)
			die("points_buckets_init", "failed");
		t = cpu_now();
		for (i = 0; i < nblk; i++) {
			if (codec_decode(pay + i * cap, len[i], dec,
				CODEC_BLOCK_MAX, &m) != OK)
				die("codec_decode", "block");
			points_buckets_add(
			    &bk, dec, m, NULL, t0, 1000000, (uint64_t)i * BLK);
		}
		full[r] = cpu_now() - t;
		for (i = 0, total = 0; i < bk.n; i++)
			total += bk.b[i].count;
		if (total != (int64_t)n)
			die("buckets", "a sample was lost");
		points_buckets_free(&bk);

		if (points_buckets_init(&bk, t0, t0 + (int64_t)n, (size_t)nb) !=
		    OK)
			die("points_buckets_init", "failed");
		t = cpu_now();
		for (i = 0; i < nblk; i++)
			points_buckets_add(&bk, x + i * BLK,
			    n - i * BLK < BLK ? (size_t)(n - i * BLK) : BLK,
			    NULL, t0, 1000000, (uint64_t)i * BLK);
		add[r] = cpu_now() - t;
		points_buckets_free(&bk);
	}
	qsort(full, (size_t)rounds, sizeof(*full), cmp_double);
	qsort(add, (size_t)rounds, sizeof(*add), cmp_double);
	printf("blocks=%zu bytes_per_sample=%.3f decode_buckets_ms=%.3f "
	       "decode_buckets_best_ms=%.3f buckets_ms=%.3f "
	       "buckets_best_ms=%.3f\n",
	    nblk, (double)bytes / (double)n, full[rounds / 2] * 1e3,
	    full[0] * 1e3, add[rounds / 2] * 1e3, add[0] * 1e3);
	free(add);
	free(full);
	free(len);
	free(pay);
	free(x);
	free(src.x);
	return (0);
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "batches") == 0)
		return (cmd_batches(argc, argv));
	if (argc >= 2 && strcmp(argv[1], "naive-sqlite") == 0)
		return (cmd_naive_sqlite(argc, argv));
	if (argc >= 2 && strcmp(argv[1], "naive-copy") == 0)
		return (cmd_naive_copy(argc, argv));
	if (argc >= 2 && strcmp(argv[1], "buckets") == 0)
		return (cmd_buckets(argc, argv));
	fprintf(stderr,
	    "usage: points_batch batches | naive-sqlite | "
	    "naive-copy | buckets ... (see bench/points_batch.c)\n");
	return (2);
}
