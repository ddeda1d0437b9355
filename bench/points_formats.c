/*
 * The points formats (src/biometrics/points.c, points_out.c) on synthetic
 * batches: CRC-32C, binary / JSON / CSV parse speed, bucketing for plots
 * (alone and with the codec decode of the blocks), SVG and EDF. Thread CPU
 * time (other load on the machine does not count; page faults do), best
 * of ROUNDS. Prints a markdown table; asserts nothing about time.
 *
 * The binary parse is measured twice: "cold" with glibc's default malloc,
 * which hands the 4 MB sample arrays back to the kernel on free so every
 * parse faults fresh pages in, and "warm" after mallopt() keeps freed
 * memory in the process (what a long-running server would configure).
 *
 * build and run:
 *   cc -std=c11 -O2 -D_GNU_SOURCE -Isrc -o build/bench/points_formats \
 *       bench/points_formats.c src/biometrics/points.c \
 *       src/biometrics/points_text.c src/biometrics/points_out.c \
 *       src/biometrics/points_edf.c src/biometrics/codec.c \
 *       src/biometrics/codec_ts.c src/core/buf.c src/core/util.c \
 *       src/core/err.c $(pkg-config --cflags --libs jansson libsodium) \
 *       -lpthread -lm && build/bench/points_formats [ROUNDS]
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "biometrics/codec.h"
#include "biometrics/points.h"
#include "core/buf.h"
#include "core/err.h"

#define T0 1767225600000LL

static int	rounds = 7;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (rng);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static void
die(const char *what, const char *err)
{
	fprintf(stderr, "points_formats: %s: %s\n", what, err);
	exit(1);
}

/* Best time of parsing body rounds times; the batch is freed each time. */
static double
time_parse(enum points_format f, const struct buf *body, uint32_t rate)
{
	struct points_batch b;
	char		    err[256];
	double		    t, best = 1e9;
	int		    r;

	for (r = 0; r < rounds; r++) {
		t = now();
		if (points_parse(f, (const uint8_t *)body->data, body->len, 1,
			rate, T0, &b, err, sizeof(err)) != OK)
			die("parse", err);
		t = now() - t;
		best = t < best ? t : best;
		points_batch_free(&b);
	}
	return (best);
}

/* A batch of nch regular channels of n EEG-like samples each. */
static void
make_batch(struct points_batch *b, int32_t *s, size_t nch, size_t n)
{
	size_t i;

	memset(b, 0, sizeof(*b));
	for (i = 0; i < n; i++)
		s[i] = (int32_t)(rnd() % 4000) - 2000;
	for (i = 0; i < nch; i++) {
		snprintf(b->ch[i].name, sizeof(b->ch[i].name), "eeg%zu", i);
		b->ch[i].rate_mhz = 256000;
		b->ch[i].t0_ms = T0;
		b->ch[i].count = n;
		b->ch[i].samples = s;
	}
	b->nchannels = nch;
	b->seq = 1;
}

static void
bench_crc(void)
{
	struct buf w;
	double	   t, hw = 1e9, sw = 1e9;
	size_t	   i;
	int	   r;

	buf_init(&w, 32 << 20);
	for (i = 0; i < (16u << 20) / 8; i++) {
		uint64_t v = rnd();

		buf_append(&w, &v, 8);
	}
	for (r = 0; r < rounds; r++) {
		t = now();
		(void)points_crc32c(0, w.data, w.len);
		t = now() - t;
		hw = t < hw ? t : hw;
		t = now();
		(void)points_crc32c_sw(0, w.data, w.len);
		t = now() - t;
		sw = t < sw ? t : sw;
	}
	printf("| CRC-32C, 16 MB | %.2f GB/s (SSE4.2 when present) | "
	       "%.2f GB/s (slice-by-8) |\n",
	    (double)w.len / hw / 1e9, (double)w.len / sw / 1e9);
	buf_free(&w);
}

static void
bench_parse(void)
{
	static int32_t	    s[1 << 20];
	struct points_batch b;
	struct buf	    w;
	double		    cold, warm, t;
	size_t		    i, n;

	make_batch(&b, s, 4, 1 << 20);
	buf_init(&w, 64 << 20);
	if (points_write_binary(&b, &w) != OK)
		die("write", "binary");
	cold = time_parse(POINTS_BINARY, &w, 0);
	mallopt(M_MMAP_THRESHOLD, 256 << 20);
	mallopt(M_TRIM_THRESHOLD, 512 << 20);
	warm = time_parse(POINTS_BINARY, &w, 0);
	printf("| binary parse, 4 x 1 M samples (16.8 MB) | %.0f M samples/s "
	       "warm | %.0f M samples/s cold (fresh pages each time) |\n",
	    4.0 * (1 << 20) / warm / 1e6, 4.0 * (1 << 20) / cold / 1e6);

	make_batch(&b, s, 1, 1000);
	buf_reset(&w);
	points_write_binary(&b, &w);
	t = time_parse(POINTS_BINARY, &w, 0);
	printf("| binary parse, 1 x 1000 samples (one second of a device) | "
	       "%.2f us a batch | %.0f M samples/s |\n",
	    t * 1e6, 1000 / t / 1e6);

	n = 65536;
	make_batch(&b, s, 4, n);
	buf_reset(&w);
	buf_puts(&w, "{\"seq\": 1, \"channels\": [");
	for (i = 0; i < 4; i++) {
		size_t j;

		buf_printf(&w,
		    "%s{\"name\": \"eeg%zu\", \"t0\": %lld, "
		    "\"rate\": 256, \"samples\": [",
		    i ? ", " : "", i, T0);
		for (j = 0; j < n; j++)
			buf_printf(&w, "%s%d", j ? "," : "", s[j]);
		buf_puts(&w, "]}");
	}
	buf_puts(&w, "]}");
	t = time_parse(POINTS_JSON, &w, 0);
	printf("| JSON parse, 4 x 64 k samples (%.1f MB) | %.1f M samples/s | "
	       "%.0f MB/s |\n",
	    (double)w.len / 1e6, 4.0 * n / t / 1e6, (double)w.len / t / 1e6);

	buf_reset(&w);
	buf_puts(&w, "eeg0,eeg1,eeg2,eeg3\r\n");
	for (i = 0; i < n; i++)
		buf_printf(&w, "%d,%d,%d,%d\r\n", s[i], s[(i + 1) % n],
		    s[(i + 2) % n], s[(i + 3) % n]);
	t = time_parse(POINTS_CSV, &w, 256000);
	printf("| CSV parse, 64 k rows x 4 (%.1f MB) | %.1f M samples/s | "
	       "%.0f MB/s |\n",
	    (double)w.len / 1e6, 4.0 * n / t / 1e6, (double)w.len / t / 1e6);
	buf_free(&w);
}

static void
bench_buckets(void)
{
	enum { N = 600000, BLK = CODEC_BLOCK_DEFAULT };
	static int32_t	      x[N], dec[CODEC_BLOCK_MAX];
	static int64_t	      ts[N];
	static uint8_t	      pay[N / BLK + 1][4 * BLK + 16];
	struct points_buckets bk;
	struct buf	      svg;
	size_t		      len[N / BLK + 1], nblk = 0, i, m;
	double		      t, add = 1e9, full = 1e9, irr = 1e9, sv = 1e9;
	int		      r;

	for (i = 0; i < N; i++) {
		x[i] = (int32_t)(1000 * ((i % 800) < 40) + (int32_t)(i % 360) -
		    (int32_t)(rnd() % 16));
		ts[i] = T0 + (int64_t)i;
	}
	for (i = 0; i < N; i += BLK, nblk++)
		if (codec_encode(x + i, N - i < BLK ? N - i : BLK, pay[nblk],
			sizeof(pay[0]), &len[nblk]) != OK)
			die("encode", "block");
	buf_init(&svg, 8 << 20);
	for (r = 0; r < rounds; r++) {
		points_buckets_init(&bk, T0, T0 + N, 1000);
		t = now();
		for (i = 0; i < nblk; i++)
			points_buckets_add(&bk, x + i * BLK,
			    i + 1 < nblk ? BLK : N - i * BLK, NULL, T0, 1000000,
			    i * BLK);
		t = now() - t;
		add = t < add ? t : add;
		points_buckets_free(&bk);

		points_buckets_init(&bk, T0, T0 + N, 1000);
		t = now();
		for (i = 0; i < nblk; i++) {
			if (codec_decode(
				pay[i], len[i], dec, CODEC_BLOCK_MAX, &m) != OK)
				die("decode", "block");
			points_buckets_add(
			    &bk, dec, m, NULL, T0, 1000000, i * BLK);
		}
		t = now() - t;
		full = t < full ? t : full;

		buf_reset(&svg);
		t = now();
		if (points_svg(&bk, 0.005, 0, "ECG lead II", "mV", &svg) != OK)
			die("svg", "chart");
		t = now() - t;
		sv = t < sv ? t : sv;
		points_buckets_free(&bk);

		points_buckets_init(&bk, T0, T0 + N, 1000);
		t = now();
		points_buckets_add(&bk, x, N, ts, 0, 0, 0);
		t = now() - t;
		irr = t < irr ? t : irr;
		points_buckets_free(&bk);
	}
	printf("| buckets: 600 k regular samples into 1000 | %.2f ms | %.2f "
	       "ns/sample |\n",
	    add * 1e3, add * 1e9 / N);
	printf("| buckets with codec_decode of %zu blocks | %.2f ms | %.2f "
	       "ns/sample |\n",
	    nblk, full * 1e3, full * 1e9 / N);
	printf("| buckets: 600 k irregular samples into 1000 | %.2f ms | "
	       "%.2f ns/sample |\n",
	    irr * 1e3, irr * 1e9 / N);
	printf("| SVG chart of 1000 buckets | %.2f ms | %zu bytes |\n",
	    sv * 1e3, svg.len);
	buf_free(&svg);
}

static void
bench_edf(void)
{
	enum { N = 600000 };
	static int32_t		 x[N];
	struct points_edf_signal sig;
	struct points_edf	 e;
	struct buf		 out;
	double			 t, best = 1e9;
	size_t			 i;
	int			 r;

	for (i = 0; i < N; i++)
		x[i] = (int32_t)(rnd() % 4096) - 2048;
	memset(&sig, 0, sizeof(sig));
	sig.channel = "ii";
	sig.unit = "mV";
	sig.scale = 0.005;
	sig.rate_mhz = 1000000;
	sig.samples = x;
	sig.nsamples = N;
	sig.count_min = -2048;
	sig.count_max = 2047;
	memset(&e, 0, sizeof(e));
	e.patient = "X";
	e.recording = "bench";
	e.kind = "ECG";
	e.start_ms = T0;
	e.duration_ms = N;
	e.nsignals = 1;
	e.signals = &sig;
	buf_init(&out, 64 << 20);
	for (r = 0; r < rounds; r++) {
		buf_reset(&out);
		t = now();
		if (points_edf_write(&e, &out) != OK)
			die("edf", "write");
		t = now() - t;
		best = t < best ? t : best;
	}
	printf("| EDF, 10 min at 1 kHz | %.2f ms | %.0f M samples/s |\n",
	    best * 1e3, N / best / 1e6);
	buf_free(&out);
}

int
main(int argc, char **argv)
{
	if (argc > 1 && (rounds = (int)strtol(argv[1], NULL, 10)) < 1)
		rounds = 1;
	printf("| points formats (best of %d, thread CPU time) | | |\n"
	       "|---|---|---|\n",
	    rounds);
	bench_crc();
	bench_parse();
	bench_buckets();
	bench_edf();
	return (0);
}
