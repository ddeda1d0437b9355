/*
 * Unit tests for the points codec (src/biometrics/codec.c, codec_ts.c):
 * exact round trips on the real recordings and on edge cases, every codec
 * forced, a random property test, malformed payloads, and the bits per
 * sample the codec must reach on the real ECG and EEG.
 *
 * The recordings are read from $CAREBASE_BIOSIGNALS or the repository's
 * tests/data/biosignals (found from this binary's place,
 * build/<kind>/tests/); a missing recording fails the test that needs it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "biometrics/codec.h"
#include "core/err.h"

#define ECG_FILE "ecg_mitbih208_mlii_360hz.u16le"
#define EEG_FILE "eeg_biosig_4ch_256hz_planar.i16le"
#define HRV_FILE "hrv_rr_intervals_ms.txt"

static const int forced[] = { CODEC_RAW, CODEC_DELTA_PACK, CODEC_DOD_PACK,
	CODEC_RICE };

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (rng);
}

/* The repository's root: three folders above this binary's own. */
static void
repo_root(char *out, size_t n)
{
	ssize_t len;
	int	up;

	len = readlink("/proc/self/exe", out, n - 1);
	assert_true(len > 0 && (size_t)len < n - 1);
	out[len] = '\0';
	for (up = 0; up < 4; up++) {
		char *slash = strrchr(out, '/');

		assert_non_null(slash);
		*slash = '\0';
	}
}

/* The file's bytes; a missing file fails the test. */
static uint8_t *
data_file(const char *name, size_t *len)
{
	const char *dir = getenv("CAREBASE_BIOSIGNALS");
	char	    root[4096], path[4200];
	uint8_t	   *buf;
	FILE	   *f;
	long	    sz;

	if (dir != NULL && *dir != '\0')
		snprintf(path, sizeof(path), "%s/%s", dir, name);
	else {
		repo_root(root, sizeof(root));
		snprintf(path, sizeof(path), "%s/tests/data/biosignals/%s",
		    root, name);
	}
	if ((f = fopen(path, "rb")) == NULL)
		fail_msg("%s not found (the recordings are in "
			 "tests/data/biosignals; CAREBASE_BIOSIGNALS names "
			 "another folder)",
		    path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	sz = ftell(f);
	rewind(f);
	buf = malloc((size_t)sz + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)sz, f), (size_t)sz);
	buf[sz] = 0;
	fclose(f);
	*len = (size_t)sz;
	return (buf);
}

/* Encode with codec (CODEC_AUTO chooses), decode, compare; bytes used. */
static size_t
round_trip(int codec, const int32_t *x, size_t n)
{
	static uint8_t out[8 * CODEC_BLOCK_MAX + 64];
	static int32_t back[CODEC_BLOCK_MAX];
	size_t	       len = 0, m = 0;
	int	       c;

	/* A forced codec may need more than codec_bound(); the choice not. */
	assert_int_equal(
	    codec_encode_with(codec, x, n, out,
		codec == CODEC_AUTO ? codec_bound(n) : sizeof(out), &len),
	    OK);
	if (codec == CODEC_AUTO || codec == CODEC_RAW)
		assert_true(len <= codec_bound(n));
	if (codec != CODEC_AUTO)
		assert_int_equal(out[0], codec);
	assert_int_equal(codec_decode(out, len, back, CODEC_BLOCK_MAX, &m), OK);
	assert_int_equal(m, n);
	if (n > 0)
		assert_memory_equal(back, x, n * sizeof(int32_t));
	assert_int_equal(codec_peek(out, len, &c, &m), OK);
	assert_int_equal(c, out[0]);
	assert_int_equal(m, n);
	return (len);
}

/* Every codec that can hold x, and the automatic choice (the smallest). */
static size_t
round_trip_all(const int32_t *x, size_t n)
{
	size_t best, len, i;

	best = round_trip(CODEC_AUTO, x, n);
	if (n == 0)
		return (best);
	for (i = 0; i < sizeof(forced) / sizeof(forced[0]); i++) {
		len = round_trip(forced[i], x, n);
		assert_true(best <= len);
	}
	return (best);
}

/* A whole channel in blocks of block samples; returns bits per sample. */
static double
channel_bits(const int32_t *x, size_t n, size_t block)
{
	size_t i, cnt, bytes = 0;

	for (i = 0; i < n; i += block) {
		cnt = n - i < block ? n - i : block;
		bytes += round_trip(CODEC_AUTO, x + i, cnt);
	}
	return (8.0 * (double)bytes / (double)n);
}

static void
ecg_round_trips_and_stays_under_5_5_bits(void **state)
{
	uint8_t *buf;
	int32_t *x;
	size_t	 len, n, i;
	double	 bits;

	buf = data_file(ECG_FILE, &len);
	n = len / 2;
	assert_int_equal(n, 108000);
	x = malloc(n * sizeof(*x));
	for (i = 0; i < n; i++)
		x[i] = buf[2 * i] | buf[2 * i + 1] << 8;
	bits = channel_bits(x, n, CODEC_BLOCK_DEFAULT);
	print_message("ECG: %.3f bits/sample\n", bits);
	assert_true(bits <= 5.5);
	/* Other block sizes, and every codec on some blocks. */
	(void)channel_bits(x, n, 1);
	(void)channel_bits(x, n, 333);
	(void)channel_bits(x, n, CODEC_BLOCK_MAX);
	for (i = 0; i + CODEC_BLOCK_DEFAULT <= n; i += 10 * CODEC_BLOCK_DEFAULT)
		(void)round_trip_all(x + i, CODEC_BLOCK_DEFAULT);
	free(x);
	free(buf);
}

static void
eeg_channels_round_trip_and_stay_under_11_8_bits(void **state)
{
	uint8_t *buf;
	int32_t *x;
	size_t	 len, per, ch, i, o;
	double	 bits, total = 0;

	buf = data_file(EEG_FILE, &len);
	per = len / 2 / 4;
	assert_int_equal(per, 97419);
	x = malloc(per * sizeof(*x));
	for (ch = 0; ch < 4; ch++) {
		for (i = 0; i < per; i++) {
			o = 2 * (ch * per + i);
			x[i] = (int16_t)(uint16_t)(buf[o] | buf[o + 1] << 8);
		}
		bits = channel_bits(x, per, CODEC_BLOCK_DEFAULT);
		print_message("EEG channel %zu: %.3f bits/sample\n", ch, bits);
		assert_true(bits <= 11.8);
		total += bits;
		(void)channel_bits(x, per, 1000);
		for (i = 0; i + 700 <= per; i += 20000)
			(void)round_trip_all(x + i, 700);
	}
	print_message("EEG mean: %.3f bits/sample\n", total / 4);
	assert_true(total / 4 <= 11.8);
	free(x);
	free(buf);
}

static void
hrv_intervals_and_timestamps_round_trip(void **state)
{
	uint8_t *buf, out[1 + 5 + 8 * CODEC_BLOCK_MAX];
	char	*line, *save;
	int32_t *rr;
	int64_t *ts, back[CODEC_BLOCK_MAX];
	size_t	 len, n = 0, i, cnt, m, bytes = 0, olen;

	buf = data_file(HRV_FILE, &len);
	rr = malloc(len * sizeof(*rr));
	ts = malloc(len * sizeof(*ts));
	for (line = strtok_r((char *)buf, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		rr[n] = (int32_t)strtol(line, NULL, 10);
		ts[n] = (n == 0 ? 1767225600000LL : ts[n - 1]) + rr[n];
		n++;
	}
	assert_int_equal(n, 8021);
	print_message("RR intervals: %.3f bits/sample\n",
	    channel_bits(rr, n, CODEC_BLOCK_DEFAULT));
	for (i = 0; i < n; i += CODEC_BLOCK_DEFAULT) {
		cnt = n - i < CODEC_BLOCK_DEFAULT ? n - i : CODEC_BLOCK_DEFAULT;
		assert_int_equal(codec_ts_encode(ts + i, cnt, out,
				     codec_ts_bound(cnt), &olen),
		    OK);
		assert_int_equal(out[0], CODEC_TS_RICE);
		assert_int_equal(
		    codec_ts_decode(out, olen, back, CODEC_BLOCK_MAX, &m), OK);
		assert_int_equal(m, cnt);
		assert_memory_equal(back, ts + i, cnt * sizeof(int64_t));
		bytes += olen;
	}
	print_message("beat timestamps: %.3f bits/sample\n",
	    8.0 * (double)bytes / (double)n);
	/* Timestamps cost about what the intervals do, far below 64 bits. */
	assert_true(8.0 * (double)bytes / (double)n < 12);
	free(rr);
	free(ts);
	free(buf);
}

static void
edge_cases_round_trip_with_every_codec(void **state)
{
	static int32_t x[CODEC_BLOCK_MAX];
	size_t	       i, n,
	    lens[] = { 1, 2, 3, 4, 127, 128, 129, 130, 255, 257, 1000, 1023,
		    1024, 1025, CODEC_BLOCK_MAX };
	size_t li;

	(void)round_trip(CODEC_AUTO, x, 0);
	(void)round_trip(CODEC_RAW, x, 0);
	for (li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
		n = lens[li];
		for (i = 0; i < n; i++) /* constant */
			x[i] = -7;
		assert_true(round_trip_all(x, n) <= 4);
		(void)round_trip(CODEC_CONST, x, n);
		for (i = 0; i < n; i++) /* extremes alternating */
			x[i] = i % 2 ? INT32_MAX : INT32_MIN;
		(void)round_trip_all(x, n);
		for (i = 0; i < n; i++) /* full-range random */
			x[i] = (int32_t)(uint32_t)rnd();
		assert_true(round_trip_all(x, n) <= codec_bound(n));
		for (i = 0; i < n; i++) /* random walk */
			x[i] =
			    (i ? x[i - 1] : 0) + (int32_t)(rnd() % 201) - 100;
		(void)round_trip_all(x, n);
		for (i = 0; i < n; i++) /* steps */
			x[i] = (int32_t)(i / 50) * 100000 - 3;
		(void)round_trip_all(x, n);
		for (i = 0; i < n; i++) /* a ramp wrapping past INT32_MAX */
			x[i] = (int32_t)(uint32_t)(2147483000u + 97u * i);
		(void)round_trip_all(x, n);
	}
}

static void
const_codec_refuses_samples_that_differ(void **state)
{
	int32_t x[2] = { 1, 2 };
	uint8_t out[64];
	size_t	len;

	assert_int_equal(
	    codec_encode_with(CODEC_CONST, x, 2, out, sizeof(out), &len),
	    ERR_INVALID);
	assert_int_equal(
	    codec_encode_with(CODEC_RICE, x, 0, out, sizeof(out), &len),
	    ERR_INVALID);
	assert_int_equal(
	    codec_encode_with(0x7f, x, 2, out, sizeof(out), &len), ERR_INVALID);
	assert_int_equal(
	    codec_encode(x, CODEC_BLOCK_MAX + 1, out, sizeof(out), &len),
	    ERR_INVALID);
	assert_int_equal(
	    codec_encode_with(CODEC_RAW, x, 2, out, 5, &len), ERR_TOO_LARGE);
}

static void
random_blocks_round_trip(void **state)
{
	static int32_t x[CODEC_BLOCK_MAX];
	size_t	       i, n;
	int	       iter, kind, shift;

	for (iter = 0; iter < 10000; iter++) {
		n = (size_t)(rnd() %
		    (iter % 10 == 0 ? CODEC_BLOCK_MAX + 1 : 300));
		kind = (int)(rnd() % 5);
		shift = (int)(rnd() % 32);
		for (i = 0; i < n; i++) {
			uint32_t r = (uint32_t)rnd() >> shift;
			int32_t	 s = (int32_t)(r >> 1) * (r & 1 ? -1 : 1);

			switch (kind) {
			case 0: /* noise of random width */
				x[i] = s;
				break;
			case 1: /* random walk */
				x[i] = (int32_t)((uint32_t)(i ? x[i - 1] : 0) +
				    (uint32_t)s);
				break;
			case 2: /* walk of a walk */
				x[i] =
				    (int32_t)(i < 2 ? (uint32_t)s
						    : 2u * (uint32_t)x[i - 1] -
						(uint32_t)x[i - 2] +
						(uint32_t)(s >> 8));
				break;
			case 3: /* rare spikes on a flat line */
				x[i] = rnd() % 50 == 0 ? s : 1000;
				break;
			default: /* sine-like ECG-ish values */
				x[i] = (int32_t)(1000 +
				    (int32_t)(i % 64) *
					((int32_t)(i % 128) < 64 ? 3 : -3) +
				    s % 4);
				break;
			}
		}
		if (iter % 50 == 0)
			(void)round_trip_all(x, n);
		else
			(void)round_trip(CODEC_AUTO, x, n);
	}
}

static void
random_timestamps_round_trip(void **state)
{
	static int64_t t[CODEC_BLOCK_MAX], back[CODEC_BLOCK_MAX];
	static uint8_t out[12 * CODEC_BLOCK_MAX + 64];
	size_t	       i, n, len, m;
	int	       iter, c;

	for (iter = 0; iter < 2000; iter++) {
		n = (size_t)(rnd() % 1500);
		for (i = 0; i < n; i++) {
			switch (iter % 4) {
			case 0:
				t[i] = (int64_t)rnd();
				break;
			case 1:
				t[i] = i % 2 ? INT64_MAX : INT64_MIN;
				break;
			default:
				t[i] = (i ? t[i - 1] : 1767225600000LL) + 800 +
				    (int64_t)(rnd() %
					(iter % 4 == 2 ? 40 : 4000000));
				break;
			}
		}
		c = iter % 3 == 0   ? CODEC_TS_RAW
		    : iter % 3 == 1 ? CODEC_TS_RICE
				    : CODEC_AUTO;
		if (n == 0 && c == CODEC_TS_RICE)
			c = CODEC_AUTO;
		assert_int_equal(
		    codec_ts_encode_with(c, t, n, out,
			c == CODEC_TS_RICE ? sizeof(out) : codec_ts_bound(n),
			&len),
		    OK);
		if (c != CODEC_TS_RICE)
			assert_true(len <= codec_ts_bound(n));
		assert_int_equal(
		    codec_ts_decode(out, len, back, CODEC_BLOCK_MAX, &m), OK);
		assert_int_equal(m, n);
		if (n > 0)
			assert_memory_equal(back, t, n * sizeof(int64_t));
	}
}

/*
 * Every truncation of valid payloads fails cleanly, and random byte flips
 * either fail or decode to exactly count samples (ASan checks the rest).
 */
static void
truncated_and_corrupted_payloads_are_refused(void **state)
{
	static int32_t x[1500], back[CODEC_BLOCK_MAX];
	static int64_t tb[CODEC_BLOCK_MAX];
	static uint8_t out[1 + 5 + 8 * 1500], bad[1 + 5 + 8 * 1500];
	size_t	       i, n = 1500, len, cut, m;
	int	       ci, iter, rc;

	for (i = 0; i < n; i++)
		x[i] = (int32_t)(1000 + (i % 90) * 7 - (int32_t)(rnd() % 9));
	for (ci = 0; ci < 5; ci++) {
		static const int codecs[] = { CODEC_AUTO, CODEC_RAW,
			CODEC_DELTA_PACK, CODEC_DOD_PACK, CODEC_RICE };

		assert_int_equal(codec_encode_with(codecs[ci], x, n, out,
				     codec_bound(n), &len),
		    OK);
		for (cut = 0; cut < len; cut++) {
			memcpy(bad, out, cut); /* exact-size copy */
			rc = codec_decode(bad, cut, back, CODEC_BLOCK_MAX, &m);
			assert_int_not_equal(rc, OK);
		}
		/* A payload with a byte more is refused too. */
		out[len] = 0;
		assert_int_equal(
		    codec_decode(out, len + 1, back, CODEC_BLOCK_MAX, &m),
		    ERR_MALFORMED);
		/* Too small an output buffer. */
		assert_int_equal(
		    codec_decode(out, len, back, n - 1, &m), ERR_TOO_LARGE);
		for (iter = 0; iter < 3000; iter++) {
			memcpy(bad, out, len);
			bad[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
			if (iter % 3 == 0)
				bad[rnd() % len] = (uint8_t)rnd();
			rc = codec_decode(bad, len, back, CODEC_BLOCK_MAX, &m);
			if (rc == OK)
				assert_true(m <= CODEC_BLOCK_MAX);
			(void)codec_ts_decode(
			    bad, len, tb, CODEC_BLOCK_MAX, &m);
		}
	}
	/* Codec bytes that do not exist, and counts over the maximum. */
	bad[0] = 0x06;
	bad[1] = 1;
	assert_int_equal(
	    codec_decode(bad, 6, back, CODEC_BLOCK_MAX, &m), ERR_MALFORMED);
	bad[0] = CODEC_RAW;
	bad[1] = 0x81;
	bad[2] = 0x20; /* 4097 */
	assert_int_equal(
	    codec_decode(bad, 3, back, CODEC_BLOCK_MAX, &m), ERR_MALFORMED);
	bad[0] = CODEC_TS_RICE;
	assert_int_equal(
	    codec_decode(bad, 3, back, CODEC_BLOCK_MAX, &m), ERR_MALFORMED);
}

static void
stats_give_min_max_and_sum(void **state)
{
	int32_t		   x[] = { 5, -3, INT32_MAX, INT32_MIN, 7 };
	struct codec_stats st;

	codec_stats(x, 5, &st);
	assert_int_equal(st.min, INT32_MIN);
	assert_int_equal(st.max, INT32_MAX);
	assert_int_equal(st.sum, 8);
	codec_stats(x, 0, &st);
	assert_int_equal(st.min, 0);
	assert_int_equal(st.max, 0);
	assert_int_equal(st.sum, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ecg_round_trips_and_stays_under_5_5_bits),
		cmocka_unit_test(
		    eeg_channels_round_trip_and_stay_under_11_8_bits),
		cmocka_unit_test(hrv_intervals_and_timestamps_round_trip),
		cmocka_unit_test(edge_cases_round_trip_with_every_codec),
		cmocka_unit_test(const_codec_refuses_samples_that_differ),
		cmocka_unit_test(random_blocks_round_trip),
		cmocka_unit_test(random_timestamps_round_trip),
		cmocka_unit_test(truncated_and_corrupted_payloads_are_refused),
		cmocka_unit_test(stats_give_min_max_and_sum),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
