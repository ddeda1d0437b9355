/*
 * The points codec on the real recordings (bench/points builds and runs
 * this): per file and channel, bits per sample for carebase's codec, for
 * plain delta + zigzag + bit-packing (CODEC_DELTA_PACK forced) and for
 * zstd -19 on the raw little-endian samples, and encode / decode M
 * samples/s per core (thread CPU time, so other load on the machine does
 * not count; median of ROUNDS runs). Prints a markdown
 * table; asserts nothing about time.
 *
 * usage: points_codec DATA_DIR [BLOCK [ROUNDS]]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "biometrics/codec.h"

struct series {
	const char *name;
	int32_t	   *x; /* samples, or NULL for timestamps */
	int64_t	   *ts;
	size_t	    n;
	int	    width; /* bytes per raw sample for zstd */
};

static size_t	block = CODEC_BLOCK_DEFAULT;
static int	rounds = 7;
static uint8_t *payload;
static size_t  *lens;

static double
now(void)
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

static uint8_t *
slurp(const char *dir, const char *name, size_t *len)
{
	char	 path[4096];
	FILE	*f;
	uint8_t *buf;
	long	 sz;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(
		    stderr, "points_codec: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	rewind(f);
	if ((buf = malloc((size_t)sz + 1)) == NULL ||
	    fread(buf, 1, (size_t)sz, f) != (size_t)sz)
		exit(1);
	buf[sz] = 0;
	fclose(f);
	*len = (size_t)sz;
	return (buf);
}

/* Encode the whole series in blocks; returns payload bytes. */
static size_t
encode_all(const struct series *s, int codec)
{
	size_t i, b = 0, total = 0, cnt, bound;

	bound = s->x ? codec_bound(block) : codec_ts_bound(block);
	for (i = 0; i < s->n; i += block, b++) {
		cnt = s->n - i < block ? s->n - i : block;
		if (s->x != NULL
			? codec_encode_with(codec, s->x + i, cnt,
			      payload + b * bound, bound, &lens[b]) != 0
			: codec_ts_encode(s->ts + i, cnt, payload + b * bound,
			      bound, &lens[b]) != 0) {
			fprintf(stderr, "points_codec: encode failed\n");
			exit(1);
		}
		total += lens[b];
	}
	return (total);
}

static void
decode_all(const struct series *s, void *out)
{
	size_t i, b = 0, bound, n;
	int    rc;

	bound = s->x ? codec_bound(block) : codec_ts_bound(block);
	for (i = 0; i < s->n; i += block, b++) {
		rc = s->x != NULL ? codec_decode(payload + b * bound, lens[b],
					(int32_t *)out + i, block, &n)
				  : codec_ts_decode(payload + b * bound,
					lens[b], (int64_t *)out + i, block, &n);
		if (rc != 0) {
			fprintf(stderr, "points_codec: decode failed\n");
			exit(1);
		}
	}
}

/* Median M samples/s of encode (dec 0) or decode (dec 1). */
static double
speed(const struct series *s, int dec, void *out)
{
	double r[64], t0, t;
	int    k, reps, j;

	for (k = 0; k < rounds && k < 64; k++) {
		reps = 0;
		t0 = now();
		do {
			for (j = 0; j < 10; j++) {
				if (dec)
					decode_all(s, out);
				else
					encode_all(s, CODEC_AUTO);
			}
			reps += 10;
		} while ((t = now() - t0) < 0.2);
		r[k] = (double)s->n * reps / t / 1e6;
	}
	qsort(r, (size_t)k, sizeof(double), cmp_double);
	return (r[k / 2]);
}

static double
zstd_bits(const struct series *s)
{
	char   path[] = "/tmp/points_codec.XXXXXX", cmd[256];
	FILE  *f, *p;
	size_t i;
	int    fd, b;
	long   bytes = -1;

	if ((fd = mkstemp(path)) == -1 || (f = fdopen(fd, "wb")) == NULL)
		return (-1);
	for (i = 0; i < s->n; i++) {
		uint64_t v =
		    s->x ? (uint64_t)(uint32_t)s->x[i] : (uint64_t)s->ts[i];

		for (b = 0; b < s->width; b++)
			fputc((int)(v >> (8 * b)) & 0xff, f);
	}
	fclose(f);
	snprintf(cmd, sizeof(cmd), "zstd -q -19 -c < %s | wc -c", path);
	if ((p = popen(cmd, "r")) != NULL) {
		if (fscanf(p, "%ld", &bytes) != 1)
			bytes = -1;
		pclose(p);
	}
	unlink(path);
	return (bytes <= 0 ? -1 : 8.0 * (double)bytes / (double)s->n);
}

static void
report(const struct series *s)
{
	double ours, pack, zs, enc, dec;
	void  *out;
	size_t i;

	out = malloc(s->n * 8);
	ours = 8.0 * (double)encode_all(s, CODEC_AUTO) / (double)s->n;
	decode_all(s, out);
	for (i = 0; i < s->n; i++)
		if (s->x ? ((int32_t *)out)[i] != s->x[i]
			 : ((int64_t *)out)[i] != s->ts[i]) {
			fprintf(stderr,
			    "points_codec: %s: round trip differs "
			    "at %zu\n",
			    s->name, i);
			exit(1);
		}
	pack = s->x
	    ? 8.0 * (double)encode_all(s, CODEC_DELTA_PACK) / (double)s->n
	    : -1;
	zs = zstd_bits(s);
	enc = speed(s, 0, out);
	dec = speed(s, 1, out);
	printf("| %s | %zu | %.2f | ", s->name, s->n, ours);
	if (pack >= 0)
		printf("%.2f | ", pack);
	else
		printf("- | ");
	if (zs >= 0)
		printf("%.2f (%d-bit raw) | ", zs, 8 * s->width);
	else
		printf("(no zstd) | ");
	printf("%.0f | %.0f |\n", enc, dec);
	fflush(stdout);
	free(out);
}

int
main(int argc, char *argv[])
{
	struct series s;
	uint8_t	     *buf;
	char	     *line, *save, name[64];
	int32_t	     *rr;
	int64_t	     *ts;
	size_t	      len, i, n, ch, per;

	if (argc < 2) {
		fprintf(
		    stderr, "usage: points_codec DATA_DIR [BLOCK [ROUNDS]]\n");
		return (2);
	}
	if (argc > 2)
		block = (size_t)strtoul(argv[2], NULL, 10);
	if (argc > 3)
		rounds = atoi(argv[3]);
	if (block < 1 || block > CODEC_BLOCK_MAX || rounds < 1)
		return (2);
	payload = malloc(200000 / block * 2 * codec_ts_bound(block) +
	    codec_ts_bound(block) * 2);
	lens = calloc(200000 / block + 2, sizeof(size_t));

	printf("block %zu samples, %d rounds; speeds are M samples/s per core "
	       "(thread CPU time)\n\n",
	    block, rounds);
	printf(
	    "| series | samples | carebase bits/sample | delta+bit-pack "
	    "bits/sample | zstd -19 bits/sample | encode M/s | decode M/s |\n");
	printf("|---|---:|---:|---:|---:|---:|---:|\n");

	buf = slurp(argv[1], "ecg_mitbih208_mlii_360hz.u16le", &len);
	n = len / 2;
	memset(&s, 0, sizeof(s));
	s.x = malloc(n * sizeof(int32_t));
	for (i = 0; i < n; i++)
		s.x[i] = buf[2 * i] | buf[2 * i + 1] << 8;
	s.name = "ECG 360 Hz (MIT-BIH 208)";
	s.n = n;
	s.width = 2;
	report(&s);
	free(s.x);
	free(buf);

	buf = slurp(argv[1], "eeg_biosig_4ch_256hz_planar.i16le", &len);
	per = len / 2 / 4;
	for (ch = 0; ch < 4; ch++) {
		s.x = malloc(per * sizeof(int32_t));
		for (i = 0; i < per; i++) {
			size_t o = 2 * (ch * per + i);

			s.x[i] = (int16_t)(uint16_t)(buf[o] | buf[o + 1] << 8);
		}
		snprintf(name, sizeof(name), "EEG 256 Hz channel %zu", ch);
		s.name = name;
		s.n = per;
		report(&s);
		free(s.x);
	}
	free(buf);

	buf = slurp(argv[1], "hrv_rr_intervals_ms.txt", &len);
	rr = malloc(len * sizeof(int32_t));
	ts = malloc(len * sizeof(int64_t));
	n = 0;
	for (line = strtok_r((char *)buf, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		rr[n] = (int32_t)strtol(line, NULL, 10);
		/* Beat times from 2026-01-01T00:00:00Z. */
		ts[n] = (n == 0 ? 1767225600000LL : ts[n - 1]) + rr[n];
		n++;
	}
	s.x = rr;
	s.ts = NULL;
	s.n = n;
	s.width = 4;
	s.name = "HRV RR intervals (ms)";
	report(&s);
	s.x = NULL;
	s.ts = ts;
	s.width = 8;
	s.name = "HRV beat timestamps (int64 ms)";
	report(&s);
	free(rr);
	free(ts);
	free(buf);
	free(payload);
	free(lens);
	return (0);
}
