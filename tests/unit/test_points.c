/*
 * Unit tests for the points formats (src/biometrics/points.c and
 * points_out.c): binary batches written and parsed back, every refusal of
 * the binary, JSON and CSV parsers (truncation at every byte, every byte
 * changed, bounds, names, order), CRC-32C against known vectors and a
 * bitwise reference, exact sample times, bucketing against a per-sample
 * reference, the SVG chart's escaping and gaps, and EDF+ files read back
 * by a small reader here (annotations and labels too).
 *
 * Two figures are printed (not asserted): bucketing 600,000 samples into
 * 1,000 buckets including the codec decode of their blocks, and binary
 * parse speed.
 */
#include <malloc.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "biometrics/codec.h"
#include "biometrics/points.h"
#include "core/buf.h"
#include "core/err.h"

__extension__ typedef __int128 i128;

static char	err[256];
static uint64_t rng = 0x2545f4914f6cdd1dull;

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

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* --- building raw binary batches by hand -------------------------------- */

struct raw {
	uint8_t b[1 << 16];
	size_t	n;
};

static void
raw_le(struct raw *r, uint64_t v, int bytes)
{
	int i;

	for (i = 0; i < bytes; i++)
		r->b[r->n++] = (uint8_t)(v >> (8 * i));
}

static void
raw_head(struct raw *r, uint64_t seq, uint16_t nch)
{
	r->n = 0;
	memcpy(r->b, "CBP1", 4);
	r->n = 4;
	raw_le(r, 0, 4);
	raw_le(r, seq, 8);
	raw_le(r, nch, 2);
}

/* A channel header; the caller appends count samples (and timestamps). */
static void
raw_chan(struct raw *r, const char *name, size_t nl, uint32_t rate, int64_t t0,
    uint32_t count)
{
	r->b[r->n++] = (uint8_t)nl;
	memcpy(r->b + r->n, name, nl);
	r->n += nl;
	raw_le(r, rate, 4);
	raw_le(r, (uint64_t)t0, 8);
	raw_le(r, count, 4);
}

static void
raw_crc(struct raw *r)
{
	raw_le(r, points_crc32c(0, r->b, r->n), 4);
}

static int
parse(enum points_format f, const void *p, size_t n, struct points_batch *b)
{
	return (points_parse(f, p, n, 7, 0, 0, b, err, sizeof(err)));
}

static int
parse_str(enum points_format f, const char *s, struct points_batch *b)
{
	return (parse(f, s, strlen(s), b));
}

/* The batch must be refused with rc and a reason containing what. */
static void
refused(int got, int rc, const char *what, struct points_batch *b)
{
	if (got != rc || strstr(err, what) == NULL)
		fail_msg(
		    "expected %d \"%s\", got %d \"%s\"", rc, what, got, err);
	assert_int_equal(b->nchannels, 0);
	assert_null(b->ch[0].samples);
}

/* --- CRC-32C ------------------------------------------------------------ */

static uint32_t
crc_bitwise(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	int	 k;

	while (n-- > 0) {
		c ^= *p++;
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
	}
	return (~c);
}

static void
crc32c_matches_known_vectors_and_a_bitwise_reference(void **state)
{
	static uint8_t buf[5000];
	uint8_t	       z[32], ff[32];
	size_t	       i, off, n;

	memset(z, 0, sizeof(z));
	memset(ff, 0xff, sizeof(ff));
	/* RFC 3720 B.4 and the classic check value */
	assert_int_equal(points_crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(points_crc32c_sw(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(points_crc32c(0, z, 32), 0x8a9136aau);
	assert_int_equal(points_crc32c(0, ff, 32), 0x62a8ab43u);
	assert_int_equal(points_crc32c(0, NULL, 0), 0);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rnd();
	for (i = 0; i < 300; i++) {
		off = rnd() % 16;
		n = rnd() % (sizeof(buf) - 16);
		assert_int_equal(
		    points_crc32c(0, buf + off, n), crc_bitwise(buf + off, n));
		assert_int_equal(points_crc32c_sw(0, buf + off, n),
		    crc_bitwise(buf + off, n));
		/* chaining */
		assert_int_equal(
		    points_crc32c(points_crc32c(0, buf + off, n / 3),
			buf + off + n / 3, n - n / 3),
		    crc_bitwise(buf + off, n));
	}
}

/* --- binary ------------------------------------------------------------- */

/* A batch of a regular channel and an irregular one with a repeated time. */
static void
sample_batch(struct points_batch *b, int32_t *ecg, size_t n, int32_t *rr,
    int64_t *ts, size_t m)
{
	size_t i;

	memset(b, 0, sizeof(*b));
	b->seq = 0x0102030405060708ull;
	b->nchannels = 2;
	for (i = 0; i < n; i++)
		ecg[i] = (int32_t)(rnd() % 4096) - 2048;
	ecg[0] = INT32_MIN;
	ecg[n - 1] = INT32_MAX;
	snprintf(b->ch[0].name, sizeof(b->ch[0].name), "ecg_ii");
	b->ch[0].t0_ms = 1767225600000; /* 2026-01-01 */
	b->ch[0].rate_mhz = 360000;
	b->ch[0].count = n;
	b->ch[0].samples = ecg;
	for (i = 0; i < m; i++) {
		rr[i] = 800 + (int32_t)(rnd() % 100);
		ts[i] = 1767225600000 + (int64_t)i * 800;
	}
	ts[2] = ts[1]; /* two events in one millisecond */
	snprintf(b->ch[1].name, sizeof(b->ch[1].name), "rr");
	b->ch[1].count = m;
	b->ch[1].samples = rr;
	b->ch[1].ts_ms = ts;
}

static void
same_batch(const struct points_batch *a, const struct points_batch *b)
{
	size_t i;

	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->nchannels, b->nchannels);
	for (i = 0; i < a->nchannels; i++) {
		assert_string_equal(a->ch[i].name, b->ch[i].name);
		assert_int_equal(a->ch[i].rate_mhz, b->ch[i].rate_mhz);
		assert_int_equal(a->ch[i].t0_ms, b->ch[i].t0_ms);
		assert_int_equal(a->ch[i].count, b->ch[i].count);
		assert_memory_equal(
		    a->ch[i].samples, b->ch[i].samples, a->ch[i].count * 4);
		if (a->ch[i].rate_mhz == 0)
			assert_memory_equal(
			    a->ch[i].ts_ms, b->ch[i].ts_ms, a->ch[i].count * 8);
		else
			assert_null(b->ch[i].ts_ms);
	}
}

static void
binary_round_trips_exactly(void **state)
{
	int32_t		    ecg[1000], rr[10];
	int64_t		    ts[10];
	struct points_batch in, out;
	struct buf	    w, w2;

	sample_batch(&in, ecg, 1000, rr, ts, 10);
	buf_init(&w, 1 << 20);
	buf_init(&w2, 1 << 20);
	assert_int_equal(points_write_binary(&in, &w), OK);
	/* 18 + (1+6+16+4000) + (1+2+16+40+80) + 4 */
	assert_int_equal(w.len, 18 + 4023 + 139 + 4);
	assert_memory_equal(w.data,
	    "CBP1\0\0\0\0\x08\x07\x06\x05\x04\x03\x02"
	    "\x01\x02\x00",
	    18);
	assert_int_equal(parse(POINTS_BINARY, w.data, w.len, &out), OK);
	same_batch(&in, &out);
	assert_int_equal(out.total, 1010);
	/* the encoding is canonical: written again, the same bytes */
	assert_int_equal(points_write_binary(&out, &w2), OK);
	assert_int_equal(w2.len, w.len);
	assert_memory_equal(w2.data, w.data, w.len);
	points_batch_free(&out);
	points_batch_free(&out); /* harmless twice */
	buf_free(&w);
	buf_free(&w2);
}

/* A sink that keeps what it is handed, and refuses its fail_at'th piece. */
struct pieces {
	struct buf *b;
	size_t	    calls, fail_at;
};

static int
pieces_put(void *arg, const void *p, size_t n)
{
	struct pieces *c = arg;

	if (++c->calls == c->fail_at)
		return (ERR_TOO_LARGE);
	return (buf_append(c->b, p, n));
}

static void
binary_streams_the_same_bytes_whatever_format_carried_the_batch(void **state)
{
	static const char json[] =
	    "{\"seq\": 3, \"channels\": ["
	    "{\"name\": \"a\", \"t0\": \"2026-01-01T00:00:00.250Z\", \"rate\": "
	    "360, \"samples\": [1, -2, 3]}, {\"name\": \"rr\", \"timestamps\": "
	    "[5, 7], \"samples\": [812, 790]}]}";
	static const char   csv[] = "a,b\r\n1,4\r\n-2,5\r\n";
	int32_t		    ecg[1000], rr[10], a[3] = { 1, -2, 3 };
	int32_t		    beats[2] = { 812, 790 }, b2[2] = { 4, 5 };
	int64_t		    ts[10], rts[2] = { 5, 7 };
	struct points_batch in, out, hand;
	struct pieces	    c;
	struct buf	    w, s;

	sample_batch(&in, ecg, 1000, rr, ts, 10);
	buf_init(&w, 1 << 20);
	buf_init(&s, 1 << 20);
	assert_int_equal(points_write_binary(&in, &w), OK);
	memset(&c, 0, sizeof(c));
	c.b = &s;
	assert_int_equal(points_write_binary_cb(&in, pieces_put, &c), OK);
	assert_true(c.calls > 4);
	assert_int_equal(s.len, w.len);
	assert_memory_equal(s.data, w.data, w.len);
	/* The sink's refusal stops the writer and is its answer. */
	buf_reset(&s);
	memset(&c, 0, sizeof(c));
	c.b = &s;
	c.fail_at = 3;
	assert_int_equal(
	    points_write_binary_cb(&in, pieces_put, &c), ERR_TOO_LARGE);
	assert_int_equal(c.calls, 3);
	/* A batch the encoding cannot carry: nothing is put. */
	memset(&c, 0, sizeof(c));
	c.b = &s;
	in.ch[1].ts_ms = NULL;
	assert_int_equal(
	    points_write_binary_cb(&in, pieces_put, &c), ERR_INVALID);
	assert_int_equal(c.calls, 0);

	/* A JSON batch, written back, is the binary batch of its content:
	 * the route's digest does not depend on the format. */
	memset(&hand, 0, sizeof(hand));
	hand.seq = 3;
	hand.nchannels = 2;
	snprintf(hand.ch[0].name, sizeof(hand.ch[0].name), "a");
	hand.ch[0].t0_ms = 1767225600250;
	hand.ch[0].rate_mhz = 360000;
	hand.ch[0].count = 3;
	hand.ch[0].samples = a;
	snprintf(hand.ch[1].name, sizeof(hand.ch[1].name), "rr");
	hand.ch[1].count = 2;
	hand.ch[1].samples = beats;
	hand.ch[1].ts_ms = rts;
	buf_reset(&w);
	buf_reset(&s);
	assert_int_equal(points_write_binary(&hand, &w), OK);
	assert_int_equal(parse_str(POINTS_JSON, json, &out), OK);
	assert_int_equal(points_write_binary(&out, &s), OK);
	assert_int_equal(s.len, w.len);
	assert_memory_equal(s.data, w.data, w.len);
	points_batch_free(&out);
	/* CSV: seq, rate and t0 come from the query string and are in the
	 * bytes; another t0 gives other bytes. */
	hand.seq = 9;
	hand.ch[0].t0_ms = 1767225600000;
	hand.ch[0].count = 2;
	snprintf(hand.ch[1].name, sizeof(hand.ch[1].name), "b");
	hand.ch[1].t0_ms = 1767225600000;
	hand.ch[1].rate_mhz = 256000;
	hand.ch[1].samples = b2;
	hand.ch[1].ts_ms = NULL;
	hand.ch[0].rate_mhz = 256000;
	buf_reset(&w);
	buf_reset(&s);
	assert_int_equal(points_write_binary(&hand, &w), OK);
	assert_int_equal(
	    points_parse(POINTS_CSV, (const uint8_t *)csv, strlen(csv), 9,
		256000, 1767225600000, &out, err, sizeof(err)),
	    OK);
	assert_int_equal(points_write_binary(&out, &s), OK);
	assert_int_equal(s.len, w.len);
	assert_memory_equal(s.data, w.data, w.len);
	points_batch_free(&out);
	buf_reset(&s);
	assert_int_equal(
	    points_parse(POINTS_CSV, (const uint8_t *)csv, strlen(csv), 9,
		256000, 1767225600001, &out, err, sizeof(err)),
	    OK);
	assert_int_equal(points_write_binary(&out, &s), OK);
	assert_true(s.len == w.len && memcmp(s.data, w.data, w.len) != 0);
	points_batch_free(&out);
	buf_free(&w);
	buf_free(&s);
}

static void
binary_refuses_every_truncation_and_every_changed_byte(void **state)
{
	int32_t		    ecg[40], rr[5];
	int64_t		    ts[5];
	struct points_batch in, out;
	struct buf	    w;
	uint8_t		   *p;
	size_t		    len, i;
	int		    rc;

	sample_batch(&in, ecg, 40, rr, ts, 5);
	buf_init(&w, 1 << 20);
	assert_int_equal(points_write_binary(&in, &w), OK);
	for (len = 0; len < w.len; len++) {
		/* a fresh copy of exactly len bytes, so ASan sees overreads */
		p = malloc(len > 0 ? len : 1);
		memcpy(p, w.data, len);
		rc = parse(POINTS_BINARY, p, len, &out);
		if (rc != ERR_MALFORMED)
			fail_msg("prefix of %zu bytes: %d %s", len, rc, err);
		free(p);
	}
	for (i = 0; i < w.len; i++) {
		p = malloc(w.len);
		memcpy(p, w.data, w.len);
		p[i] ^= (uint8_t)(1 + rnd() % 255);
		rc = parse(POINTS_BINARY, p, w.len, &out);
		if (rc == OK)
			fail_msg("byte %zu changed, still accepted", i);
		assert_int_equal(out.nchannels, 0);
		free(p);
	}
	buf_free(&w);
}

static void
binary_refuses_bad_headers(void **state)
{
	struct points_batch b;
	struct raw	    r;
	int32_t		    x = 5;

	refused(
	    parse(POINTS_BINARY, "CBX1", 4, &b), ERR_MALFORMED, "magic", &b);
	refused(parse(POINTS_BINARY, "{\"seq\":1}", 9, &b), ERR_MALFORMED,
	    "magic", &b);
	refused(parse(POINTS_BINARY, "CBP2xxxxxxxxxxxxxxxxxxxxxx", 26, &b),
	    ERR_MALFORMED, "version 2", &b);
	refused(parse(POINTS_BINARY, "CBP1", 4, &b), ERR_MALFORMED, "truncated",
	    &b);

	raw_head(&r, 1, 1);
	raw_chan(&r, "a", 1, 1000, 0, 1);
	raw_le(&r, 5, 4);
	raw_crc(&r);
	assert_int_equal(parse(POINTS_BINARY, r.b, r.n, &b), OK);
	assert_int_equal(b.ch[0].samples[0], 5);
	points_batch_free(&b);

	r.b[r.n - 1] ^= 0x40; /* the checksum itself */
	refused(parse(POINTS_BINARY, r.b, r.n, &b), ERR_MALFORMED,
	    "checksum mismatch", &b);

	r.n -= 4; /* a byte after the last channel */
	r.b[r.n++] = 0;
	raw_crc(&r);
	refused(parse(POINTS_BINARY, r.b, r.n, &b), ERR_MALFORMED,
	    "trailing bytes after the last channel (1)", &b);

	raw_head(&r, 1, 1);
	r.b[5] = 1; /* a flag v1 does not know */
	raw_chan(&r, "a", 1, 1000, 0, 1);
	raw_le(&r, 5, 4);
	raw_crc(&r);
	refused(parse(POINTS_BINARY, r.b, r.n, &b), ERR_MALFORMED, "flag bytes",
	    &b);

	raw_head(&r, 1, 0);
	raw_crc(&r);
	refused(parse(POINTS_BINARY, r.b, r.n, &b), ERR_INVALID,
	    "at least one channel", &b);

	raw_head(&r, 1, POINTS_CHANNELS_MAX + 1);
	raw_crc(&r);
	refused(parse(POINTS_BINARY, r.b, r.n, &b), ERR_TOO_LARGE,
	    "65 channels", &b);

	/* fewer channels than announced */
	raw_head(&r, 1, 2);
	raw_chan(&r, "a", 1, 1000, 0, 1);
	raw_le(&r, (uint32_t)x, 4);
	raw_crc(&r);
	refused(parse(POINTS_BINARY, r.b, r.n, &b), ERR_MALFORMED,
	    "channel 2 missing", &b);
}

static void
binary_refuses_counts_beyond_the_bytes_or_the_bound(void **state)
{
	struct points_batch b, big;
	struct raw	    r;
	struct buf	    w;
	int32_t		   *s;
	int		    i;

	/* 0xffffffff samples: count * 12 would overflow 32 bits */
	raw_head(&r, 1, 1);
	raw_chan(&r, "rr", 2, 0, 0, 0xffffffffu);
	raw_le(&r, 0, 8);
	raw_crc(&r);
	refused(parse(POINTS_BINARY, r.b, r.n, &b), ERR_TOO_LARGE,
	    "samples in one batch", &b);

	raw_head(&r, 1, 1);
	raw_chan(&r, "a", 1, 1000, 0, POINTS_BATCH_MAX + 1);
	raw_crc(&r);
	refused(parse(POINTS_BINARY, r.b, r.n, &b), ERR_TOO_LARGE,
	    "samples in one batch", &b);

	/* each channel under the bound, the sum over it (a real 16 MB body) */
	memset(&big, 0, sizeof(big));
	assert_non_null(s = calloc(POINTS_BATCH_MAX / 2, sizeof(*s)));
	for (i = 0; i < 3; i++) {
		snprintf(big.ch[i].name, sizeof(big.ch[i].name), "c%d", i);
		big.ch[i].rate_mhz = 1000;
		big.ch[i].count = i < 2 ? POINTS_BATCH_MAX / 2 : 1;
		big.ch[i].samples = s;
	}
	big.nchannels = 3;
	buf_init(&w, 64 << 20);
	assert_int_equal(points_write_binary(&big, &w), OK);
	refused(parse(POINTS_BINARY, w.data, w.len, &b), ERR_TOO_LARGE,
	    "samples in one batch", &b);
	big.nchannels = 2; /* exactly the bound is fine */
	buf_reset(&w);
	assert_int_equal(points_write_binary(&big, &w), OK);
	assert_int_equal(parse(POINTS_BINARY, w.data, w.len, &b), OK);
	assert_int_equal(b.total, POINTS_BATCH_MAX);
	points_batch_free(&b);
	buf_free(&w);
	free(s);

	/* within the bound, beyond the bytes */
	raw_head(&r, 1, 1);
	raw_chan(&r, "a", 1, 1000, 0, 1000);
	raw_le(&r, 1, 4);
	raw_crc(&r);
	refused(parse(POINTS_BINARY, r.b, r.n, &b), ERR_MALFORMED,
	    "needs 4000 bytes of samples, 4 left", &b);

	/* an irregular channel also needs its timestamps */
	raw_head(&r, 1, 1);
	raw_chan(&r, "rr", 2, 0, 0, 2);
	raw_le(&r, 1, 4);
	raw_le(&r, 2, 4);
	raw_le(&r, 100, 8);
	raw_crc(&r);
	refused(parse(POINTS_BINARY, r.b, r.n, &b), ERR_MALFORMED,
	    "samples and timestamps", &b);

	/* a name longer than the bytes */
	raw_head(&r, 1, 1);
	r.b[r.n++] = 200;
	raw_le(&r, 0, 8);
	raw_crc(&r);
	refused(parse(POINTS_BINARY, r.b, r.n, &b), ERR_MALFORMED,
	    "header of channel 1", &b);
}

/* One channel batch with the given header and n samples (+ timestamps). */
static int
one_channel(const char *name, size_t nl, uint32_t rate, int64_t t0,
    const int64_t *ts, uint32_t n, struct points_batch *b)
{
	struct raw r;
	uint32_t   i;

	raw_head(&r, 9, 1);
	raw_chan(&r, name, nl, rate, t0, n);
	for (i = 0; i < n; i++)
		raw_le(&r, i, 4);
	for (i = 0; ts != NULL && i < n; i++)
		raw_le(&r, (uint64_t)ts[i], 8);
	raw_crc(&r);
	return (parse(POINTS_BINARY, r.b, r.n, b));
}

static void
binary_refuses_bad_values(void **state)
{
	static const int64_t asc[] = { 5, 5, 6 }, desc[] = { 5, 7, 6 };
	static const int64_t neg[] = { -1, 0, 1 };
	static const int64_t late[] = { 1, 2, POINTS_TIME_MAX + 1 };
	struct points_batch  b;
	struct raw	     r;
	char		     long_name[40];

	assert_int_equal(one_channel("rr", 2, 0, 0, asc, 3, &b), OK);
	assert_int_equal(b.ch[0].ts_ms[1], 5);
	points_batch_free(&b);
	assert_int_equal(
	    one_channel("a_9", 3, POINTS_RATE_MAX, 0, NULL, 3, &b), OK);
	points_batch_free(&b);
	memset(long_name, 'a', sizeof(long_name));
	assert_int_equal(
	    one_channel(long_name, POINTS_NAME_MAX, 1, 0, NULL, 1, &b), OK);
	assert_int_equal(strlen(b.ch[0].name), POINTS_NAME_MAX);
	points_batch_free(&b);

	refused(one_channel(long_name, POINTS_NAME_MAX + 1, 1, 0, NULL, 1, &b),
	    ERR_INVALID, "a name is", &b);
	refused(one_channel("", 0, 1000, 0, NULL, 1, &b), ERR_INVALID,
	    "a name is", &b);
	refused(one_channel("ECG", 3, 1000, 0, NULL, 1, &b), ERR_INVALID,
	    "a name is", &b);
	refused(one_channel("ec-g", 4, 1000, 0, NULL, 1, &b), ERR_INVALID,
	    "a name is", &b);
	refused(one_channel("e\0g", 3, 1000, 0, NULL, 1, &b), ERR_INVALID,
	    "a name is", &b);
	refused(one_channel("rr", 2, 0, 0, desc, 3, &b), ERR_INVALID,
	    "timestamp 3 (6) is before the one preceding it", &b);
	refused(one_channel("rr", 2, 0, 0, neg, 3, &b), ERR_INVALID,
	    "before 1970", &b);
	refused(one_channel("rr", 2, 0, 0, late, 3, &b), ERR_INVALID,
	    "after 9999", &b);
	refused(one_channel("rr", 2, 0, 5, asc, 3, &b), ERR_INVALID,
	    "t0 must be 0", &b);
	refused(one_channel("a", 1, POINTS_RATE_MAX + 1, 0, NULL, 1, &b),
	    ERR_INVALID, "rate above", &b);
	refused(one_channel("a", 1, 1000, -1, NULL, 1, &b), ERR_INVALID,
	    "between 1970 and 9999", &b);
	/* the last sample of a regular channel after 9999 */
	refused(one_channel("a", 1, 1, POINTS_TIME_MAX - 999999, NULL, 2, &b),
	    ERR_INVALID, "between 1970 and 9999", &b);
	refused(one_channel("a", 1, 1000, 0, NULL, 0, &b), ERR_INVALID,
	    "no samples", &b);

	raw_head(&r, 1, 2);
	raw_chan(&r, "ecg", 3, 1000, 0, 1);
	raw_le(&r, 1, 4);
	raw_chan(&r, "ecg", 3, 1000, 0, 1);
	raw_le(&r, 1, 4);
	raw_crc(&r);
	refused(parse(POINTS_BINARY, r.b, r.n, &b), ERR_INVALID,
	    "channel ecg appears twice", &b);
}

/* --- JSON --------------------------------------------------------------- */

static void
json_batches_parse(void **state)
{
	struct points_batch b;

	assert_int_equal(
	    parse_str(POINTS_JSON,
		"{\"seq\": 42, \"channels\": ["
		"{\"name\": \"ecg\", \"t0\": \"2026-01-01T00:00:00.250Z\", "
		"\"rate\": 360, \"samples\": [1, -2, 2147483647, -2147483648]},"
		"{\"name\": \"rr\", \"timestamps\": [1000, 1000, 1800], "
		"\"samples\": [812, 800, 790]},"
		"{\"name\": \"resp\", \"t0\": 1767225600000, \"rate\": 0.5, "
		"\"samples\": [7]},"
		"{\"name\": \"odd\", \"t0\": 0, \"rate\": 360.125, "
		"\"samples\": [7]}]}",
		&b),
	    OK);
	assert_int_equal(b.seq, 42);
	assert_int_equal(b.nchannels, 4);
	assert_int_equal(b.total, 9);
	assert_string_equal(b.ch[0].name, "ecg");
	assert_int_equal(b.ch[0].t0_ms, 1767225600250);
	assert_int_equal(b.ch[0].rate_mhz, 360000);
	assert_int_equal(b.ch[0].samples[2], INT32_MAX);
	assert_int_equal(b.ch[0].samples[3], INT32_MIN);
	assert_null(b.ch[0].ts_ms);
	assert_int_equal(b.ch[1].rate_mhz, 0);
	assert_int_equal(b.ch[1].ts_ms[2], 1800);
	assert_int_equal(b.ch[1].samples[0], 812);
	assert_int_equal(b.ch[2].rate_mhz, 500);
	assert_int_equal(b.ch[2].t0_ms, 1767225600000);
	assert_int_equal(b.ch[3].rate_mhz, 360125);
	points_batch_free(&b);
}

static void
json_refusals_say_why(void **state)
{
	static const struct {
		const char *body;
		int	    rc;
		const char *why;
	} cases[] = {
		{ "", ERR_MALFORMED, "not JSON" },
		{ "{\"seq\": 1, ", ERR_MALFORMED, "not JSON" },
		{ "[1, 2]", ERR_MALFORMED, "must be a JSON object" },
		{ "{\"seq\": 1, \"seq\": 2, \"channels\": []}", ERR_MALFORMED,
		    "duplicate" },
		{ "{\"seq\": 1, \"channels\": [], \"extra\": 1}", ERR_MALFORMED,
		    "unknown member \"extra\"" },
		{ "{\"channels\": []}", ERR_MALFORMED,
		    "needs seq and channels" },
		{ "{\"seq\": -1, \"channels\": []}", ERR_MALFORMED,
		    "seq must" },
		{ "{\"seq\": \"1\", \"channels\": []}", ERR_MALFORMED,
		    "seq must" },
		{ "{\"seq\": 1, \"channels\": {}}", ERR_MALFORMED,
		    "channels must be an array" },
		{ "{\"seq\": 1, \"channels\": []}", ERR_INVALID,
		    "at least one channel" },
		{ "{\"seq\": 1, \"channels\": [1]}", ERR_MALFORMED,
		    "channel 1 must be an object" },
		{ "{\"seq\": 1, \"channels\": [{\"name\": \"a\", \"t0\": 0, "
		  "\"rate\": 1, \"samples\": [1], \"gain\": 2}]}",
		    ERR_MALFORMED, "unknown member \"gain\"" },
		{ "{\"seq\": 1, \"channels\": [{\"name\": \"a\", \"t0\": 0, "
		  "\"samples\": [1]}]}",
		    ERR_MALFORMED, "t0 and rate" },
		{ "{\"seq\": 1, \"channels\": [{\"name\": \"a\", \"t0\": 0, "
		  "\"rate\": 1, \"timestamps\": [1], \"samples\": [1]}]}",
		    ERR_MALFORMED, "t0 and rate" },
		{ "{\"seq\": 1, \"channels\": [{\"name\": \"A\", \"t0\": 0, "
		  "\"rate\": 1, \"samples\": [1]}]}",
		    ERR_INVALID, "a name is" },
		{ "{\"seq\": 1, \"channels\": [{\"name\": 3, \"t0\": 0, "
		  "\"rate\": 1, \"samples\": [1]}]}",
		    ERR_MALFORMED, "needs a name" },
		{ "{\"seq\": 1, \"channels\": [{\"name\": \"a\", \"t0\": 0, "
		  "\"rate\": 1, \"samples\": [1.5]}]}",
		    ERR_MALFORMED, "sample 1 is not an integer" },
		{ "{\"seq\": 1, \"channels\": [{\"name\": \"a\", \"t0\": 0, "
		  "\"rate\": 1, \"samples\": [1, 2147483648]}]}",
		    ERR_INVALID, "sample 2 (2147483648) is outside int32" },
		{ "{\"seq\": 1, \"channels\": [{\"name\": \"a\", \"t0\": 0, "
		  "\"rate\": 1, \"samples\": []}]}",
		    ERR_INVALID, "no samples" },
		{ "{\"seq\": 1, \"channels\": [{\"name\": \"a\", \"t0\": 0, "
		  "\"rate\": 0.3333, \"samples\": [1]}]}",
		    ERR_INVALID, "not a whole number of millihertz" },
		{ "{\"seq\": 1, \"channels\": [{\"name\": \"a\", \"t0\": 0, "
		  "\"rate\": 0, \"samples\": [1]}]}",
		    ERR_INVALID, "rate must be above 0" },
		{ "{\"seq\": 1, \"channels\": [{\"name\": \"a\", \"t0\": 0, "
		  "\"rate\": 100001, \"samples\": [1]}]}",
		    ERR_INVALID, "at most 100000 Hz" },
		{ "{\"seq\": 1, \"channels\": [{\"name\": \"a\", \"t0\": 0, "
		  "\"rate\": \"360\", \"samples\": [1]}]}",
		    ERR_INVALID, "rate is a number" },
		{ "{\"seq\": 1, \"channels\": [{\"name\": \"a\", \"t0\": "
		  "\"yesterday\", \"rate\": 1, \"samples\": [1]}]}",
		    ERR_INVALID, "t0 is not an ISO 8601 time" },
		{ "{\"seq\": 1, \"channels\": [{\"name\": \"a\", \"t0\": -5, "
		  "\"rate\": 1, \"samples\": [1]}]}",
		    ERR_INVALID, "between 1970 and 9999" },
		{ "{\"seq\": 1, \"channels\": [{\"name\": \"rr\", "
		  "\"timestamps\": [1, 2], \"samples\": [1]}]}",
		    ERR_INVALID, "2 timestamps for 1 samples" },
		{ "{\"seq\": 1, \"channels\": [{\"name\": \"rr\", "
		  "\"timestamps\": [2, 1], \"samples\": [1, 1]}]}",
		    ERR_INVALID, "before the one preceding it" },
		{ "{\"seq\": 1, \"channels\": [{\"name\": \"rr\", "
		  "\"timestamps\": [\"2026-01-01\"], \"samples\": [1]}]}",
		    ERR_MALFORMED, "timestamp 1 is not an integer" },
		{ "{\"seq\": 1, \"channels\": [{\"name\": \"a\", \"t0\": 0, "
		  "\"rate\": 1, \"samples\": [1]}, {\"name\": \"a\", \"t0\": "
		  "0, "
		  "\"rate\": 1, \"samples\": [1]}]}",
		    ERR_INVALID, "channel a appears twice" },
	};
	struct points_batch b;
	size_t		    i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("  json case %zu\n", i);
		refused(parse_str(POINTS_JSON, cases[i].body, &b), cases[i].rc,
		    cases[i].why, &b);
	}
}

static void
json_refuses_too_many_channels(void **state)
{
	struct points_batch b;
	struct buf	    w;
	int		    i;

	buf_init(&w, 1 << 16);
	buf_puts(&w, "{\"seq\": 1, \"channels\": [");
	for (i = 0; i <= POINTS_CHANNELS_MAX; i++)
		buf_printf(&w,
		    "%s{\"name\": \"c%d\", \"t0\": 0, \"rate\": 1, "
		    "\"samples\": [1]}",
		    i ? "," : "", i);
	buf_puts(&w, "]}");
	refused(parse(POINTS_JSON, w.data, w.len, &b), ERR_TOO_LARGE,
	    "65 channels", &b);
	buf_free(&w);
}

/* --- CSV ---------------------------------------------------------------- */

static void
csv_batches_parse(void **state)
{
	struct points_batch b;
	const char	   *irr = "\xef\xbb\xbft,rr,ev,never\r\n"
				  "1000,812,,\r\n1000,,1,\r\n1812,800,,\r\n\r\n";
	const char	   *reg = "fp1,fp2\n-5,7\n2147483647,-2147483648";

	assert_int_equal(points_parse(POINTS_CSV, (const uint8_t *)irr,
			     strlen(irr), 3, 0, 0, &b, err, sizeof(err)),
	    OK);
	assert_int_equal(b.seq, 3);
	assert_int_equal(b.nchannels, 2); /* "never" had no sample */
	assert_string_equal(b.ch[0].name, "rr");
	assert_int_equal(b.ch[0].count, 2);
	assert_int_equal(b.ch[0].rate_mhz, 0);
	assert_int_equal(b.ch[0].ts_ms[1], 1812);
	assert_int_equal(b.ch[0].samples[1], 800);
	assert_string_equal(b.ch[1].name, "ev");
	assert_int_equal(b.ch[1].count, 1);
	assert_int_equal(b.ch[1].ts_ms[0], 1000);
	assert_int_equal(b.total, 3);
	points_batch_free(&b);

	assert_int_equal(
	    points_parse(POINTS_CSV, (const uint8_t *)reg, strlen(reg), 11,
		256000, 1767225600000, &b, err, sizeof(err)),
	    OK);
	assert_int_equal(b.nchannels, 2);
	assert_int_equal(b.ch[0].rate_mhz, 256000);
	assert_int_equal(b.ch[1].t0_ms, 1767225600000);
	assert_int_equal(b.ch[0].samples[0], -5);
	assert_int_equal(b.ch[0].samples[1], INT32_MAX);
	assert_int_equal(b.ch[1].samples[1], INT32_MIN);
	assert_null(b.ch[1].ts_ms);
	points_batch_free(&b);
}

static void
csv_refusals_name_the_line(void **state)
{
	static const struct {
		const char *body;
		uint32_t    rate;
		int	    rc;
		const char *why;
	} cases[] = {
		{ "", 0, ERR_MALFORMED, "empty body" },
		{ "t,a\n", 0, ERR_INVALID, "no samples" },
		{ "a,b\n1,2\n", 0, ERR_MALFORMED, "first column is t" },
		{ "t,a\n1,2\n", 1000, ERR_MALFORMED, "no t column" },
		{ "t\n1\n", 0, ERR_MALFORMED, "names no channel" },
		{ "t,A\n1,2\n", 0, ERR_INVALID, "line 1: column 2: a name" },
		{ "t,a,,b\n", 0, ERR_INVALID, "line 1: column 3: a name" },
		{ "t,a,a\n1,2,3\n", 0, ERR_INVALID, "channel a appears twice" },
		{ "t,a\n1,2\n2,3,4\n", 0, ERR_MALFORMED,
		    "line 3: more cells than the header's 2" },
		{ "t,a,b\n1,2,3\n2,3\n", 0, ERR_MALFORMED,
		    "line 3: 2 cells, the header has 3" },
		{ "t,a\n1,2\n\n2,3\n", 0, ERR_MALFORMED, "line 3 is empty" },
		{ "t,a\n1,x\n", 0, ERR_MALFORMED, "line 2: the cell of a" },
		{ "t,a\n1, 2\n", 0, ERR_MALFORMED, "line 2: the cell of a" },
		{ "t,a\n1,2147483648\n", 0, ERR_INVALID,
		    "line 2: the cell of a is not an int32" },
		{ "t,a\n1,-99999999999999999999\n", 0, ERR_INVALID,
		    "line 2: the cell of a" },
		{ "t,a\n5,1\n4,1\n", 0, ERR_INVALID,
		    "line 3: t 4 is before the previous row's 5" },
		{ "t,a\n-1,1\n", 0, ERR_INVALID, "line 2: t must be ms" },
		{ "t,a\n,1\n", 0, ERR_MALFORMED, "line 2: t must be ms" },
		{ "t,a\n1.5,1\n", 0, ERR_MALFORMED, "line 2: t must be ms" },
		{ "a,b\n1,\n", 1000, ERR_MALFORMED, "line 2: no sample of b" },
		{ "a\n1\n", POINTS_RATE_MAX + 1, ERR_INVALID, "rate above" },
	};
	struct points_batch b;
	size_t		    i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("  csv case %zu\n", i);
		refused(points_parse(POINTS_CSV, (const uint8_t *)cases[i].body,
			    strlen(cases[i].body), 1, cases[i].rate, 0, &b, err,
			    sizeof(err)),
		    cases[i].rc, cases[i].why, &b);
	}
}

static void
csv_refuses_long_lines_and_wide_headers(void **state)
{
	struct points_batch b;
	struct buf	    w;
	int		    i;

	buf_init(&w, 1 << 16);
	buf_puts(&w, "t,a\n1,");
	for (i = 0; i < POINTS_CSV_LINE_MAX; i++)
		buf_puts(&w, "1");
	buf_puts(&w, "\n");
	refused(points_parse(POINTS_CSV, (const uint8_t *)w.data, w.len, 1, 0,
		    0, &b, err, sizeof(err)),
	    ERR_TOO_LARGE, "line 2 is longer", &b);
	buf_reset(&w);
	buf_puts(&w, "t");
	for (i = 0; i <= POINTS_CHANNELS_MAX; i++)
		buf_printf(&w, ",c%d", i);
	refused(points_parse(POINTS_CSV, (const uint8_t *)w.data, w.len, 1, 0,
		    0, &b, err, sizeof(err)),
	    ERR_TOO_LARGE, "more than 64 channels", &b);
	buf_free(&w);
}

/* --- times -------------------------------------------------------------- */

static void
sample_times_are_exact(void **state)
{
	uint64_t i;
	uint32_t rate;
	int64_t	 t0;
	int	 k;

	assert_int_equal(points_time_us(1000, 1000000, 1), 1001000);
	assert_int_equal(points_time_us(1000, 1000, 1), 2000000);
	assert_int_equal(points_time_us(0, 360000, 360), 1000000);
	assert_int_equal(points_time_us(0, 360000, 1), 2777); /* floor */
	/* 10^9 samples at 360 Hz: exactly 2777777.777... s */
	assert_int_equal(points_time_us(1767225600000, 360000, 1000000000),
	    1767225600000000 + 2777777777777);
	assert_int_equal(points_time_us(5, 0, 99), 5000);
	assert_int_equal(points_time_us(INT64_MAX / 10, 1000, 0), INT64_MAX);
	assert_int_equal(points_time_us(0, 1, UINT64_MAX), INT64_MAX);
	for (k = 0; k < 100000; k++) {
		t0 = (int64_t)(rnd() % (uint64_t)POINTS_TIME_MAX);
		rate = 1 + (uint32_t)(rnd() % POINTS_RATE_MAX);
		i = rnd() % ((uint64_t)rate << 20);
		assert_int_equal(points_time_us(t0, rate, i),
		    (int64_t)((i128)t0 * 1000 + (i128)i * 1000000000 / rate));
	}
}

/* --- buckets ------------------------------------------------------------ */

static long
ref_bucket(const struct points_buckets *bk, i128 num, i128 den)
{
	/* time - from = num / den ms, den > 0 */
	i128 span = (i128)bk->to_ms - bk->from_ms, q;

	if (num < 0 || num >= span * den)
		return (-1);
	q = num * (i128)bk->n / (span * den);
	return ((long)q);
}

static void
same_buckets(const struct points_buckets *a, const struct points_buckets *b)
{
	size_t i;

	for (i = 0; i < a->n; i++) {
		assert_int_equal(a->b[i].count, b->b[i].count);
		assert_int_equal(a->b[i].sum, b->b[i].sum);
		if (a->b[i].count > 0) {
			assert_int_equal(a->b[i].min, b->b[i].min);
			assert_int_equal(a->b[i].max, b->b[i].max);
		}
	}
}

static void
buckets_init_refuses_bad_windows(void **state)
{
	struct points_buckets bk;

	assert_int_equal(points_buckets_init(&bk, 0, 10, 0), ERR_INVALID);
	assert_int_equal(
	    points_buckets_init(&bk, 0, 10, POINTS_BUCKETS_MAX + 1),
	    ERR_INVALID);
	assert_int_equal(points_buckets_init(&bk, 10, 10, 1), ERR_INVALID);
	assert_int_equal(points_buckets_init(&bk, 10, 9, 1), ERR_INVALID);
	assert_null(bk.b);
	points_buckets_free(&bk);
	assert_int_equal(
	    points_buckets_init(&bk, INT64_MIN, INT64_MAX, POINTS_BUCKETS_MAX),
	    OK);
	points_buckets_free(&bk);
}

static void
buckets_place_samples_exactly(void **state)
{
	struct points_buckets bk;
	static const int32_t  v[] = { 10, 20, 30, 40, 50 };
	static const int64_t  ts[] = { -1, 0, 333, 334, 1000 };
	size_t		      i, n;

	/* [0, 1000) in 3: edges at 333.33 and 666.67 */
	assert_int_equal(points_buckets_init(&bk, 0, 1000, 3), OK);
	points_buckets_add(&bk, v, 5, ts, 0, 0, 0);
	assert_int_equal(bk.b[0].count, 2); /* 0 and 333 */
	assert_int_equal(bk.b[0].sum, 50);
	assert_int_equal(bk.b[0].min, 20);
	assert_int_equal(bk.b[0].max, 30);
	assert_int_equal(bk.b[1].count, 1); /* 334 */
	assert_int_equal(bk.b[2].count, 0); /* -1 and 1000 are outside */
	points_buckets_free(&bk);

	/* 3 Hz from t0 = 0: samples at 0, 333.33, 666.67, 1000 ms */
	assert_int_equal(points_buckets_init(&bk, 0, 1000, 3), OK);
	points_buckets_add(&bk, v, 4, NULL, 0, 3000, 0);
	assert_int_equal(bk.b[0].count, 1);
	assert_int_equal(bk.b[1].count, 1); /* 333.33 is bucket 1 exactly */
	assert_int_equal(bk.b[2].count, 1);
	assert_int_equal(bk.b[2].sum, 30);
	/* the same segment fed from index 2 on */
	points_buckets_add(&bk, v + 2, 2, NULL, 0, 3000, 2);
	assert_int_equal(bk.b[2].count, 2);
	assert_int_equal(bk.b[2].max, 30);

	/* covers */
	assert_int_equal(points_buckets_covers(&bk, 0, 332), 0);
	assert_int_equal(points_buckets_covers(&bk, 0, 333), -1); /* 333.x */
	assert_int_equal(points_buckets_covers(&bk, 334, 665), 1);
	assert_int_equal(points_buckets_covers(&bk, 667, 999), 2);
	assert_int_equal(points_buckets_covers(&bk, 667, 1000), -1);
	assert_int_equal(points_buckets_covers(&bk, -1, 5), -1);
	assert_int_equal(points_buckets_covers(&bk, 5, 4), -1);
	points_buckets_add_stats(&bk, 1, 10, -7, 90, 100);
	assert_int_equal(bk.b[1].count, 11);
	assert_int_equal(bk.b[1].min, -7);
	assert_int_equal(bk.b[1].max, 90);
	assert_int_equal(bk.b[1].sum, 120);
	points_buckets_add_stats(&bk, 3, 10, 0, 0, 0); /* ignored */
	points_buckets_add_stats(&bk, -1, 10, 0, 0, 0);
	points_buckets_free(&bk);

	/* extreme windows and indexes do not overflow */
	assert_int_equal(points_buckets_init(&bk, INT64_MIN, INT64_MAX, 7), OK);
	points_buckets_add(&bk, v, 5, ts, 0, 0, 0);
	points_buckets_add(&bk, v, 5, NULL, 0, 1000, 0);
	points_buckets_add(&bk, v, 5, NULL, POINTS_TIME_MAX, 1,
	    UINT64_MAX / 2); /* 9e24 ms: after the window */
	points_buckets_add(&bk, v, 5, NULL, -POINTS_TIME_MAX, 1,
	    UINT64_MAX - 10); /* index + n wraps 64 bits */
	assert_int_equal(bk.b[3].count, 10);
	assert_int_equal(bk.b[3].sum, 150 + 150);
	for (n = 0, i = 0; i < 7; i++)
		n += (size_t)bk.b[i].count;
	assert_int_equal(n, 10);
	points_buckets_free(&bk);
}

static void
random_regular_segments_bucket_like_the_reference(void **state)
{
	static int32_t	      v[3000];
	struct points_buckets bk, ref;
	int64_t		      t0, from, to;
	uint32_t	      rate;
	uint64_t	      first;
	size_t		      n, nb, j, cut;
	long		      b;
	int		      k;

	for (k = 0; k < 2000; k++) {
		rate = 1 + (uint32_t)(rnd() % (k % 2 ? 1000000 : 10000));
		t0 = (int64_t)(rnd() % 100000);
		first = rnd() % 1000;
		n = 1 + rnd() % 3000;
		from = (int64_t)(rnd() % 200000) - 50000;
		to = from + 1 + (int64_t)(rnd() % 300000);
		nb = 1 + rnd() % 500;
		for (j = 0; j < n; j++)
			v[j] = (int32_t)rnd();
		assert_int_equal(points_buckets_init(&bk, from, to, nb), OK);
		assert_int_equal(points_buckets_init(&ref, from, to, nb), OK);
		/* fed in two pieces, as two blocks */
		cut = rnd() % n;
		points_buckets_add(&bk, v, cut, NULL, t0, rate, first);
		points_buckets_add(
		    &bk, v + cut, n - cut, NULL, t0, rate, first + cut);
		for (j = 0; j < n; j++) {
			/* t - from = ((t0 - from) * rate + k * 1e6) / rate */
			b = ref_bucket(&ref,
			    ((i128)t0 - from) * rate +
				(i128)(first + j) * 1000000,
			    rate);
			if (b >= 0)
				points_buckets_add_stats(
				    &ref, b, 1, v[j], v[j], v[j]);
		}
		same_buckets(&bk, &ref);
		points_buckets_free(&bk);
		points_buckets_free(&ref);
	}
}

static void
bucketing_600k_samples_with_decode(void **state)
{
	const size_t	      n = 600000, blk = CODEC_BLOCK_DEFAULT;
	static int32_t	      x[600000], dec[CODEC_BLOCK_MAX];
	static uint8_t	      pay[600][8 * CODEC_BLOCK_DEFAULT + 16];
	size_t		      len[600], nblk = 0, i, m, total;
	struct points_buckets bk;
	double		      t, best = 1e9;
	int64_t		      t0 = 1767225600000, sum;
	int		      round;

	/* 10 minutes at 1 kHz, an ECG-like wave with noise */
	for (i = 0; i < n; i++)
		x[i] = (int32_t)(1000 * ((i % 800) < 40 ? 1 : 0) +
		    (int32_t)(i % 360) - (int32_t)(rnd() % 16));
	for (i = 0; i < n; i += blk, nblk++)
		assert_int_equal(codec_encode(x + i, n - i < blk ? n - i : blk,
				     pay[nblk], sizeof(pay[0]), &len[nblk]),
		    OK);
	for (round = 0; round < 7; round++) {
		t = now();
		assert_int_equal(
		    points_buckets_init(&bk, t0, t0 + 600000, 1000), OK);
		for (i = 0; i < nblk; i++) {
			assert_int_equal(codec_decode(pay[i], len[i], dec,
					     CODEC_BLOCK_MAX, &m),
			    OK);
			points_buckets_add(
			    &bk, dec, m, NULL, t0, 1000000, i * blk);
		}
		t = now() - t;
		best = t < best ? t : best;
		total = 0;
		sum = 0;
		for (i = 0; i < 1000; i++) {
			assert_int_equal(bk.b[i].count, 600);
			total += (size_t)bk.b[i].count;
			sum += bk.b[i].sum;
		}
		assert_int_equal(total, n);
		points_buckets_free(&bk);
	}
	for (i = 0; i < n; i++)
		sum -= x[i];
	assert_int_equal(sum, 0);
	print_message(
	    "  figure: 600,000 samples (%zu blocks) decoded and "
	    "bucketed into 1,000 buckets in %.2f ms (%.2f ns/sample, best of "
	    "7)\n",
	    nblk, best * 1e3, best * 1e9 / (double)n);
}

static void
binary_parse_speed(void **state)
{
	static int32_t	    s[POINTS_BATCH_MAX / 4];
	struct points_batch in, out;
	struct buf	    w;
	double		    t, best = 1e9, bc = 1e9, bs = 1e9, cold = 1e9;
	size_t		    i;
	int		    round;

	memset(&in, 0, sizeof(in));
	for (i = 0; i < 4; i++) {
		snprintf(in.ch[i].name, sizeof(in.ch[i].name), "eeg%zu", i);
		in.ch[i].rate_mhz = 256000;
		in.ch[i].t0_ms = 1767225600000;
		in.ch[i].count = POINTS_BATCH_MAX / 4;
		in.ch[i].samples = s;
	}
	in.nchannels = 4;
	for (i = 0; i < POINTS_BATCH_MAX / 4; i++)
		s[i] = (int32_t)(rnd() % 65536) - 32768;
	buf_init(&w, 64 << 20);
	assert_int_equal(points_write_binary(&in, &w), OK);
	for (round = 0; round < 10; round++) {
		if (round == 5) {
			/* keep freed memory in the process from here on */
			cold = best;
			best = 1e9;
			mallopt(M_MMAP_THRESHOLD, 256 << 20);
			mallopt(M_TRIM_THRESHOLD, 512 << 20);
		}
		t = now();
		assert_int_equal(parse(POINTS_BINARY, w.data, w.len, &out), OK);
		t = now() - t;
		best = t < best ? t : best;
		points_batch_free(&out);
		t = now();
		(void)points_crc32c(0, w.data, w.len);
		t = now() - t;
		bc = t < bc ? t : bc;
		t = now();
		(void)points_crc32c_sw(0, w.data, w.len);
		t = now() - t;
		bs = t < bs ? t : bs;
	}
	print_message(
	    "  figure: binary parse %.0f M samples/s warm, %.0f M "
	    "samples/s with fresh pages (%zu samples, %.1f MB); CRC-32C %.2f "
	    "GB/s (slice-by-8 %.2f GB/s)\n",
	    POINTS_BATCH_MAX / best / 1e6, POINTS_BATCH_MAX / cold / 1e6,
	    (size_t)POINTS_BATCH_MAX, (double)w.len / 1e6,
	    (double)w.len / bc / 1e9, (double)w.len / bs / 1e9);
	buf_free(&w);
}

/* --- SVG ---------------------------------------------------------------- */

static size_t
count_of(const char *hay, const char *needle)
{
	size_t n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay++;
	}
	return (n);
}

static void
svg_escapes_text_and_leaves_gaps(void **state)
{
	struct points_buckets bk;
	struct buf	      w;
	int32_t		      v[10];
	size_t		      i;

	for (i = 0; i < 10; i++)
		v[i] = (int32_t)i * 100;
	assert_int_equal(
	    points_buckets_init(&bk, 1767225600000, 1767225610000, 10), OK);
	/* 1 Hz: buckets 0-3 and 6-9 get a sample, 4 and 5 stay empty */
	points_buckets_add(&bk, v, 4, NULL, 1767225600000, 1000, 0);
	points_buckets_add(&bk, v + 6, 4, NULL, 1767225600000, 1000, 6);
	buf_init(&w, 1 << 20);
	assert_int_equal(points_svg(&bk, 0.005, -1,
			     "<script>alert(1)</script>"
			     " & \"ECG\" 'II' \x01 \xff \xc3\xa9t\xc3\xa9",
			     "\xc2\xb5V<", &w),
	    OK);
	assert_true(strncmp(w.data, "<?xml version=\"1.0\"", 19) == 0);
	assert_non_null(strstr(w.data,
	    "<svg xmlns=\"http://www.w3.org/2000/"
	    "svg\" version=\"1.1\" width=\"1000\" height=\"300\""));
	assert_null(strstr(w.data, "<script"));
	assert_null(strstr(w.data, "href"));
	assert_non_null(strstr(w.data,
	    "&lt;script&gt;alert(1)&lt;/script&gt;"
	    " &amp; &quot;ECG&quot; &apos;II&apos; ? ? \xc3\xa9t\xc3\xa9"));
	assert_non_null(strstr(w.data, ">\xc2\xb5V&lt;</text>"));
	assert_int_equal(count_of(w.data, "<polygon"), 2);
	assert_int_equal(count_of(w.data, "<polyline"), 2);
	assert_non_null(strstr(w.data, ">00:00:00</text>"));
	assert_non_null(strstr(w.data,
	    "UTC, 2026-01-01T00:00:00.000Z to "
	    "2026-01-01T00:00:10.000Z"));
	assert_null(strstr(w.data, "no data"));
	assert_null(strstr(w.data, "nan"));
	assert_true(w.len > 7 && strcmp(w.data + w.len - 7, "</svg>\n") == 0);
	print_message("  svg: %zu bytes\n", w.len);

	buf_reset(&w);
	points_buckets_free(&bk);
	assert_int_equal(points_buckets_init(&bk, 0, 10, 5), OK);
	assert_int_equal(points_svg(&bk, 1, 0, NULL, NULL, &w), OK);
	assert_non_null(strstr(w.data, "no data"));
	assert_int_equal(count_of(w.data, "<polygon"), 0);
	buf_reset(&w);
	assert_int_equal(
	    points_svg(&bk, INFINITY, 0, "t", "u", &w), ERR_INVALID);
	/* a ceiling too low leaves the buffer as it was */
	w.max = 100;
	v[0] = 5;
	points_buckets_add(&bk, v, 1, NULL, 0, 1000, 0);
	assert_int_equal(points_svg(&bk, 1, 0, "t", "u", &w), ERR_TOO_LARGE);
	assert_int_equal(w.len, 0);
	buf_free(&w);
	points_buckets_free(&bk);
}

/* --- EDF+: written, then read back by the small reader below ------------ */

#define EDF_IN_SIGNALS 8
#define EDF_IN_TALS    4096

struct edf_tal {
	double onset, duration;
	char   text[64];
};

struct edf_in {
	char	       version[9], patient[81], recording[81];
	char	       date[9], time[9], reserved[45];
	long	       hbytes, nrec, ns;
	double	       dur;
	char	       label[EDF_IN_SIGNALS][17], unit[EDF_IN_SIGNALS][9];
	char	       prefilter[EDF_IN_SIGNALS][81];
	double	       pmin[EDF_IN_SIGNALS], pmax[EDF_IN_SIGNALS];
	long	       dmin[EDF_IN_SIGNALS], dmax[EDF_IN_SIGNALS];
	long	       spr[EDF_IN_SIGNALS];
	const uint8_t *data;
	size_t	       datalen;
	/* The annotations (but the records' time-keeping TALs), in file
	 * order. */
	struct edf_tal tal[EDF_IN_TALS];
	size_t	       ntal;
};

/* A field: w bytes, trailing spaces dropped. */
static void
edf_str(const char *p, size_t w, char *out)
{
	memcpy(out, p, w);
	out[w] = '\0';
	while (w > 0 && out[w - 1] == ' ')
		out[--w] = '\0';
}

static double
edf_num(const char *p, size_t w)
{
	char   tmp[81], *end;
	double v;

	edf_str(p, w, tmp);
	v = strtod(tmp, &end);
	assert_true(end != tmp && *end == '\0');
	return (v);
}

/*
 * The annotations of record r (n bytes at p), as EDF+ writes them: the
 * time-keeping TAL "+<r * dur>\x14\x14\0" first, then TALs
 * "+onset[\x15duration]\x14text\x14\0", then NULs only.
 */
static void
edf_tals_read(struct edf_in *e, long r, const uint8_t *p, size_t n)
{
	char		tal[256], want[32], *x, *y;
	size_t		at = 0, len, first = 1;
	struct edf_tal *t;

	while (at < n && p[at] != 0) {
		len = strnlen((const char *)p + at, n - at);
		assert_true(at + len < n); /* NUL-terminated inside */
		assert_true(len < sizeof(tal));
		memcpy(tal, p + at, len + 1);
		assert_true(len >= 3 && tal[0] == '+' && tal[len - 1] == 0x14);
		if (first) {
			snprintf(want, sizeof(want), "+%ld\x14\x14",
			    (long)(r * e->dur));
			assert_string_equal(tal, want);
			first = 0;
		} else {
			assert_true(e->ntal < EDF_IN_TALS);
			t = &e->tal[e->ntal++];
			t->onset = strtod(tal + 1, &x);
			t->duration = -1;
			if (*x == 0x15)
				t->duration = strtod(x + 1, &x);
			assert_true(*x == 0x14);
			y = strchr(x + 1, 0x14);
			assert_non_null(y);
			assert_true(y == tal + len - 1); /* one text a TAL */
			*y = '\0';
			snprintf(t->text, sizeof(t->text), "%s", x + 1);
		}
		at += len + 1;
	}
	assert_false(first);
	for (; at < n; at++)
		assert_int_equal(p[at], 0);
}

static void
edf_read(const uint8_t *f, size_t len, struct edf_in *e)
{
	const char *h = (const char *)f, *p;
	long	    i, ns, r, recsz = 0, off = 0;
	size_t	    i_ = 0;

	memset(e, 0, sizeof(*e));
	assert_true(len >= 256);
	for (i_ = 0; i_ < 256; i_++)
		assert_true(f[i_] >= 0x20 && f[i_] < 0x7f);
	edf_str(h, 8, e->version);
	edf_str(h + 8, 80, e->patient);
	edf_str(h + 88, 80, e->recording);
	edf_str(h + 168, 8, e->date);
	edf_str(h + 176, 8, e->time);
	e->hbytes = (long)edf_num(h + 184, 8);
	edf_str(h + 192, 44, e->reserved);
	e->nrec = (long)edf_num(h + 236, 8);
	e->dur = edf_num(h + 244, 8);
	e->ns = ns = (long)edf_num(h + 252, 4);
	assert_true(ns >= 2 && ns <= EDF_IN_SIGNALS);
	assert_int_equal(e->hbytes, 256 * (ns + 1));
	assert_true(len >= (size_t)e->hbytes);
	p = h + 256;
	for (i = 0; i < ns; i++)
		edf_str(p + 16 * i, 16, e->label[i]);
	p += 16 * ns + 80 * ns;
	for (i = 0; i < ns; i++)
		edf_str(p + 8 * i, 8, e->unit[i]);
	p += 8 * ns;
	for (i = 0; i < ns; i++)
		e->pmin[i] = edf_num(p + 8 * i, 8);
	p += 8 * ns;
	for (i = 0; i < ns; i++)
		e->pmax[i] = edf_num(p + 8 * i, 8);
	p += 8 * ns;
	for (i = 0; i < ns; i++)
		e->dmin[i] = (long)edf_num(p + 8 * i, 8);
	p += 8 * ns;
	for (i = 0; i < ns; i++)
		e->dmax[i] = (long)edf_num(p + 8 * i, 8);
	p += 8 * ns;
	for (i = 0; i < ns; i++)
		edf_str(p + 80 * i, 80, e->prefilter[i]);
	p += 80 * ns;
	for (i = 0; i < ns; i++)
		e->spr[i] = (long)edf_num(p + 8 * i, 8);
	p += 8 * ns + 32 * ns;
	assert_true(p == h + e->hbytes);
	e->data = f + e->hbytes;
	e->datalen = len - (size_t)e->hbytes;
	/* EDF+C: the annotations signal last, as EDF+ describes it. */
	assert_string_equal(e->reserved, "EDF+C");
	assert_string_equal(e->label[ns - 1], "EDF Annotations");
	assert_string_equal(e->unit[ns - 1], "");
	assert_true(e->pmin[ns - 1] == -1 && e->pmax[ns - 1] == 1);
	assert_int_equal(e->dmin[ns - 1], -32768);
	assert_int_equal(e->dmax[ns - 1], 32767);
	for (i = 0; i < ns; i++)
		recsz += e->spr[i];
	for (i = 0; i < ns - 1; i++)
		off += e->spr[i];
	assert_int_equal(e->datalen, (size_t)(2 * recsz * e->nrec));
	for (r = 0; r < e->nrec; r++)
		edf_tals_read(e, r, e->data + 2 * (r * recsz + off),
		    (size_t)(2 * e->spr[ns - 1]));
}

/* Digital sample j of signal s, as a reader walks the records. */
static long
edf_digital(const struct edf_in *e, long s, long j)
{
	long	       recsz = 0, off = 0, i, r = j / e->spr[s];
	const uint8_t *q;

	for (i = 0; i < e->ns; i++)
		recsz += e->spr[i];
	for (i = 0; i < s; i++)
		off += e->spr[i];
	q = e->data + 2 * (r * recsz + off + j % e->spr[s]);
	assert_true(q + 2 <= e->data + e->datalen);
	return ((long)(int16_t)(uint16_t)(q[0] | q[1] << 8));
}

static double
edf_physical(const struct edf_in *e, long s, long d)
{
	return (e->pmin[s] +
	    (double)(d - e->dmin[s]) * (e->pmax[s] - e->pmin[s]) /
		(double)(e->dmax[s] - e->dmin[s]));
}

/* Annotation k is text from onset for duration (seconds, to 1 ns). */
static void
assert_tal(const struct edf_in *e, size_t k, double onset, double duration,
    const char *text)
{
	assert_true(k < e->ntal);
	if (fabs(e->tal[k].onset - onset) > 1e-9 ||
	    fabs(e->tal[k].duration - duration) > 1e-9 ||
	    strcmp(e->tal[k].text, text) != 0)
		fail_msg("annotation %zu: +%.9f %.9f %s, wanted +%.9f %.9f %s",
		    k, e->tal[k].onset, e->tal[k].duration, e->tal[k].text,
		    onset, duration, text);
}

static void
edf_reads_back_exactly(void **state)
{
	static int32_t		 ecg[3600], big[2560];
	struct points_edf_signal sig[2];
	struct points_edf	 e;
	static struct edf_in	 in;
	struct buf		 w;
	long			 j, d;
	size_t			 i;

	for (i = 0; i < 3600; i++)
		ecg[i] = (int32_t)(rnd() % 65535) - 32767;
	ecg[0] = -32767; /* -32768 is the gap's */
	ecg[1] = 32767;
	for (i = 0; i < 2560; i++)
		big[i] = (int32_t)(rnd() % 2000000) - 1000000;
	memset(sig, 0, sizeof(sig));
	sig[0].channel = "ecg";
	sig[0].unit = "mV";
	sig[0].scale = 0.005;
	sig[0].offset = -1;
	sig[0].rate_mhz = 360000;
	sig[0].samples = ecg;
	sig[0].nsamples = 3600; /* 10 s of 11 */
	sig[0].count_min = -32767;
	sig[0].count_max = 32767;
	sig[1].channel = "eeg_fp1";
	sig[1].unit = "\xc2\xb5V";
	sig[1].scale = 0.5;
	sig[1].offset = 0;
	sig[1].rate_mhz = 256000;
	sig[1].samples = big;
	sig[1].nsamples = 2560;
	sig[1].count_min = -1000000; /* needs 21 bits: / 32 */
	sig[1].count_max = 999999;
	memset(&e, 0, sizeof(e));
	e.patient = "P-7f3a";
	e.recording = "0190a1b2";
	e.start_ms = 1767268245000; /* 2026-01-01 11:50:45 */
	e.duration_ms = 10500;
	e.nsignals = 2;
	e.signals = sig;
	buf_init(&w, 1 << 22);
	assert_int_equal(points_edf_write(&e, &w), OK);
	edf_read((const uint8_t *)w.data, w.len, &in);
	assert_string_equal(in.version, "0");
	/* EDF+'s subfields: code sex birthdate name; Startdate, admin code,
	 * technician, equipment. */
	assert_string_equal(in.patient, "P-7f3a X X X");
	assert_string_equal(in.recording, "Startdate 01-JAN-2026 0190a1b2 X X");
	assert_string_equal(in.date, "01.01.26");
	assert_string_equal(in.time, "11.50.45");
	assert_int_equal(in.nrec, 11);
	assert_true(in.dur == 1.0);
	assert_int_equal(in.ns, 3);
	assert_string_equal(in.label[0], "ecg"); /* no data type: the name */
	assert_string_equal(in.label[1], "eeg_fp1");
	assert_string_equal(in.unit[0], "mV");
	assert_string_equal(in.unit[1], "uV"); /* micro sign in ASCII */
	assert_int_equal(in.spr[0], 360);
	assert_int_equal(in.spr[1], 256);
	assert_int_equal(in.dmin[0], -32768);
	assert_int_equal(in.dmax[0], 32767);
	assert_string_equal(in.prefilter[0], "");
	assert_string_equal(in.prefilter[1],
	    "counts/32 (floor) to fit 16 "
	    "bits");
	assert_string_equal(in.prefilter[2], "");
	assert_int_equal(w.len, 256 * 4 + 11 * (360 + 256 + in.spr[2]) * 2);
	/* Both signals recorded over the first 10 s of the 11 written: one
	 * annotation says so. */
	assert_int_equal(in.ntal, 1);
	assert_tal(&in, 0, 0, 10, "Recorded");
	for (j = 0; j < 11 * 360; j++) {
		d = edf_digital(&in, 0, j);
		if (j >= 3600) {
			assert_int_equal(d, -32768); /* missing */
			continue;
		}
		assert_int_equal(d, ecg[j]);
		assert_true(fabs(edf_physical(&in, 0, d) -
				(-1 + 0.005 * ecg[j])) < 1e-9);
	}
	for (j = 0; j < 2560; j++) {
		d = edf_digital(&in, 1, j);
		assert_int_equal(d, (long)floor(big[j] / 32.0));
		assert_true(
		    fabs(edf_physical(&in, 1, d) - 0.5 * 32 * d) < 1e-9);
		/* within one step of the original physical value */
		assert_true(0.5 * big[j] - edf_physical(&in, 1, d) >= 0 &&
		    0.5 * big[j] - edf_physical(&in, 1, d) < 16);
	}
	buf_free(&w);
}

static void
edf_keeps_the_lowest_value_for_gaps_and_says_why_it_refuses(void **state)
{
	static int32_t		 a[600], full[600];
	static uint8_t		 miss[600];
	struct points_edf_signal sig[2];
	struct points_edf	 e;
	static struct edf_in	 in;
	struct buf		 w;
	char			 why[256];
	long			 j, d;

	for (j = 0; j < 600; j++) {
		a[j] = (int32_t)(rnd() % 65535) - 32768; /* to 32766 */
		full[j] = (int32_t)(rnd() % 65536) - 32768;
		miss[j] = j < 128 || (j >= 300 && j < 310);
	}
	a[200] = -32768; /* a real count at the gap's value */
	a[201] = 32766;
	full[200] = -32768; /* the whole int16 range */
	full[201] = 32767;
	memset(sig, 0, sizeof(sig));
	sig[0].channel = "fp1";
	sig[0].unit = "uV";
	sig[0].scale = 0.5;
	sig[0].offset = 3;
	sig[0].rate_mhz = 256000;
	sig[0].samples = a;
	sig[0].missing = miss;
	sig[0].nsamples = 600;
	sig[0].count_min = 1; /* above max: the samples' own range */
	sig[1].channel = "fp2";
	sig[1].unit = "uV";
	sig[1].scale = 0.5;
	sig[1].rate_mhz = 256000;
	sig[1].samples = full;
	sig[1].nsamples = 600;
	sig[1].count_min = 1;
	memset(&e, 0, sizeof(e));
	e.patient = "p";
	e.recording = "r";
	e.kind = "EEG";
	e.start_ms = 1767268245000;
	e.duration_ms = 3000;
	e.nsignals = 2;
	e.signals = sig;
	buf_init(&w, 1 << 20);
	assert_int_equal(points_edf_write_err(&e, &w, why, sizeof(why)), OK);
	edf_read((const uint8_t *)w.data, w.len, &in);
	assert_int_equal(in.nrec, 3);
	assert_string_equal(in.label[0], "EEG Fp1");
	assert_string_equal(in.label[1], "EEG Fp2");
	assert_int_equal(in.dmin[0], -32768);
	assert_int_equal(in.dmax[0], 32767);
	/* The signals were recorded over different spans: each says its
	 * own, linked to its label, by onset. Fp1 from slot 128 to 300 and
	 * from 310 to 600, Fp2 from 0 to 600; none of them past 600 of the
	 * 768 slots the records hold. */
	assert_int_equal(in.ntal, 3);
	assert_tal(&in, 0, 0, 600 / 256.0, "Recorded@@EEG Fp2");
	assert_tal(&in, 1, 128 / 256.0, 172 / 256.0, "Recorded@@EEG Fp1");
	assert_tal(&in, 2, 310 / 256.0, 290 / 256.0, "Recorded@@EEG Fp1");
	/* Counts -32768..32766 move up by one: exact, and -32768 is left
	 * to the missing slots (flagged, and past the samples). */
	assert_string_equal(in.prefilter[0], "");
	for (j = 0; j < 768; j++) {
		d = edf_digital(&in, 0, j);
		if (j >= 600 || miss[j]) {
			assert_int_equal(d, -32768);
			continue;
		}
		assert_int_equal(d, a[j] + 1);
		assert_true(
		    fabs(edf_physical(&in, 0, d) - (3 + 0.5 * a[j])) < 1e-9);
	}
	/* 65536 values and a gap do not fit 16 bits: halved. */
	assert_string_equal(in.prefilter[1],
	    "counts/2 (floor) to fit 16 "
	    "bits");
	for (j = 0; j < 768; j++) {
		d = edf_digital(&in, 1, j);
		if (j >= 600) {
			assert_int_equal(d, -32768);
			continue;
		}
		assert_int_equal(d, (long)floor(full[j] / 2.0));
		assert_true(d > -32768);
		assert_true(fabs(edf_physical(&in, 1, d) - 0.5 * 2 * d) < 1e-9);
	}
	/* Refusals say why. */
	buf_reset(&w);
	e.start_ms = 1767268245500;
	assert_int_equal(
	    points_edf_write_err(&e, &w, why, sizeof(why)), ERR_INVALID);
	assert_non_null(strstr(why, "whole second"));
	e.start_ms = 473385599000; /* 1984-12-31T23:59:59Z */
	assert_int_equal(
	    points_edf_write_err(&e, &w, why, sizeof(why)), ERR_INVALID);
	assert_non_null(strstr(why, "1984"));
	e.start_ms = 1767268245000;
	sig[1].scale = 1e9;
	assert_int_equal(
	    points_edf_write_err(&e, &w, why, sizeof(why)), ERR_INVALID);
	assert_non_null(strstr(why, "8-character"));
	assert_int_equal(w.len, 0);
	sig[1].scale = 0.5;
	sig[1].rate_mhz = 0;
	assert_int_equal(
	    points_edf_write_err(&e, &w, why, sizeof(why)), ERR_INVALID);
	assert_non_null(strstr(why, "signal 2 is not regularly sampled"));
	buf_free(&w);
}

static void
edf_records_hold_whole_samples_and_refuse_bad_input(void **state)
{
	static int32_t		 a[10], b[25];
	struct points_edf_signal sig[2];
	struct points_edf	 e;
	static struct edf_in	 in;
	struct buf		 w;

	memset(sig, 0, sizeof(sig));
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	sig[0].channel = "resp";
	sig[0].scale = 1;
	sig[0].rate_mhz = 500; /* 0.5 Hz */
	sig[0].samples = a;
	sig[0].nsamples = 10;
	sig[1].channel = "x";
	sig[1].scale = 1;
	sig[1].rate_mhz = 1250; /* 1.25 Hz */
	sig[1].samples = b;
	sig[1].nsamples = 25;
	memset(&e, 0, sizeof(e));
	e.patient = "p";
	e.recording = "r";
	e.kind = "Resp";
	e.start_ms = 1767225600000;
	e.duration_ms = 20000;
	e.nsignals = 2;
	e.signals = sig;
	buf_init(&w, 1 << 20);
	assert_int_equal(points_edf_write(&e, &w), OK);
	edf_read((const uint8_t *)w.data, w.len, &in);
	assert_true(in.dur == 4.0); /* lcm(2, 4) */
	assert_int_equal(in.spr[0], 2);
	assert_int_equal(in.spr[1], 5);
	assert_int_equal(in.nrec, 5);
	assert_true(in.pmin[0] == -32768 && in.pmax[0] == 32767);
	assert_string_equal(in.label[0], "Resp"); /* named as its type */
	assert_string_equal(in.label[1], "Resp x");
	assert_int_equal(in.ntal, 1);
	assert_tal(&in, 0, 0, 20, "Recorded"); /* 10 / 0.5 = 25 / 1.25 s */

	buf_reset(&w);
	e.start_ms = 473385599000; /* 1984-12-31T23:59:59Z */
	assert_int_equal(points_edf_write(&e, &w), ERR_INVALID);
	e.start_ms = 3629145600000; /* 2085-01-01 */
	assert_int_equal(points_edf_write(&e, &w), ERR_INVALID);
	e.start_ms = 473385600000; /* 1985-01-01 */
	assert_int_equal(points_edf_write(&e, &w), OK);
	edf_read((const uint8_t *)w.data, w.len, &in);
	assert_string_equal(in.date, "01.01.85");
	assert_string_equal(in.recording, "Startdate 01-JAN-1985 r X X");
	buf_reset(&w);
	sig[1].rate_mhz = 0;
	assert_int_equal(points_edf_write(&e, &w), ERR_INVALID);
	sig[1].rate_mhz = 1000;
	sig[1].scale = 0;
	assert_int_equal(points_edf_write(&e, &w), ERR_INVALID);
	sig[1].scale = 1e9; /* range beyond 8 characters */
	assert_int_equal(points_edf_write(&e, &w), ERR_INVALID);
	sig[1].scale = 1;
	w.max = 1100; /* header fits, data not */
	assert_int_equal(points_edf_write(&e, &w), ERR_TOO_LARGE);
	assert_int_equal(w.len, 0);
	w.max = 1 << 20;
	e.duration_ms = 0;
	assert_int_equal(points_edf_write(&e, &w), ERR_INVALID);
	/* A window shorter than the samples: the records reach the last
	 * (25 at 1 Hz, 13 records of 2 s), never cut it off. */
	e.duration_ms = 1;
	assert_int_equal(points_edf_write(&e, &w), OK);
	edf_read((const uint8_t *)w.data, w.len, &in);
	assert_int_equal(in.nrec, 13);
	assert_int_equal(edf_digital(&in, 1, 24), b[24]);
	buf_reset(&w);
	sig[0].nsamples = 1;
	sig[1].nsamples = 2; /* 0.5 and 1 Hz: one record of 2 s */
	assert_int_equal(points_edf_write(&e, &w), OK);
	edf_read((const uint8_t *)w.data, w.len, &in);
	assert_true(in.dur == 2.0);
	assert_int_equal(in.nrec, 1);
	assert_int_equal(in.spr[1], 2);
	assert_int_equal(edf_digital(&in, 1, 1), 0);
	assert_int_equal(w.len, 256 * 4 + 2 * (1 + 2 + in.spr[2]));
	/* The one record holds one sample of resp and two of x, the same
	 * 2 s: one annotation. */
	assert_int_equal(in.ntal, 1);
	assert_tal(&in, 0, 0, 2, "Recorded");
	buf_reset(&w);
	e.nsignals = 0;
	assert_int_equal(points_edf_write(&e, &w), ERR_INVALID);
	buf_free(&w);
}

/* EDF+'s standard labels from a data type and a channel name. */
static void
edf_labels_are_edf_plus_standard_texts(void **state)
{
	static const char *const cases[][3] = {
		{ "EEG", "c3", "EEG C3" },
		{ "EEG", "cz", "EEG Cz" },
		{ "EEG", "fp1", "EEG Fp1" },
		{ "EEG", "fpz", "EEG Fpz" },
		{ "EEG", "af3", "EEG AF3" },
		{ "EEG", "t10", "EEG T10" },
		{ "EEG", "poz", "EEG POz" },
		{ "eeg", "c3_a2", "EEG C3-A2" },
		{ "EEG", "fpz_cz", "EEG Fpz-Cz" },
		{ "EEG", "c3_x", "EEG c3_x" }, /* not two electrodes */
		{ "EEG", "c11", "EEG c11" },   /* no such place */
		{ "EEG", "ref", "EEG ref" },
		{ "ECG", "ii", "ECG II" },
		{ "ECG", "iii", "ECG III" },
		{ "ECG", "avf", "ECG aVF" },
		{ "ECG", "v1", "ECG V1" },
		{ "ECG", "mlii", "ECG mlii" }, /* not a standard lead */
		{ "EKG", "i", "ECG I" },
		{ "SpO2", "spo2", "SaO2" }, /* named as its type */
		{ "SpO2", "finger", "SaO2 finger" },
		{ "Resp", "resp", "Resp" },
		{ "PPG", "red", "PPG red" }, /* no standard type */
		{ "EMG", "chin", "EMG chin" },
		{ "Skin conductance", "palm", "palm" }, /* too long a type */
		{ NULL, "c3", "c3" },
		{ "EEG", "a_very_long_channel_name_indeed",
		    "EEG a_very_long_" },
	};
	char   out[POINTS_EDF_LABEL_LEN + 1];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(
		    points_edf_label(cases[i][0], cases[i][1], out), OK);
		if (strcmp(out, cases[i][2]) != 0)
			fail_msg("%s %s: \"%s\", wanted \"%s\"",
			    cases[i][0] ? cases[i][0] : "(none)", cases[i][1],
			    out, cases[i][2]);
	}
}

/*
 * Labels stay one a signal (two long names cut to the same 16, a name
 * that would read "EDF Annotations"), and many gaps make many annotations,
 * spread over the records that hold them; past POINTS_EDF_SPANS_MAX the
 * file is refused, saying why.
 */
static void
edf_labels_stay_unique_and_many_gaps_are_all_annotated(void **state)
{
	static int32_t		 v[30 * 256];
	static uint8_t		 miss[30 * 256];
	static uint8_t		 many[2 * POINTS_EDF_SPANS_MAX + 2];
	static int32_t		 zeros[2 * POINTS_EDF_SPANS_MAX + 2];
	struct points_edf_signal sig[3];
	struct points_edf	 e;
	static struct edf_in	 in;
	struct buf		 w;
	char			 why[256];
	size_t			 j, k;

	for (j = 0; j < 30 * 256; j++) {
		v[j] = (int32_t)(j % 1000);
		miss[j] = j % 7 == 3; /* 1097 gaps: 1098 runs */
	}
	memset(sig, 0, sizeof(sig));
	for (j = 0; j < 3; j++) {
		sig[j].unit = "uV";
		sig[j].scale = 1;
		sig[j].rate_mhz = 256000;
		sig[j].samples = v;
		sig[j].nsamples = 30 * 256;
		sig[j].missing = miss;
	}
	sig[0].channel = "temporal_left_anterior";
	sig[1].channel = "temporal_left_anterior_b";
	sig[2].channel = "annotations";
	memset(&e, 0, sizeof(e));
	e.patient = "p";
	e.recording = "r";
	e.kind = "EDF";
	e.start_ms = 1767225600000;
	e.duration_ms = 30000;
	e.nsignals = 3;
	e.signals = sig;
	buf_init(&w, 1 << 24);
	assert_int_equal(points_edf_write_err(&e, &w, why, sizeof(why)), OK);
	edf_read((const uint8_t *)w.data, w.len, &in);
	assert_string_equal(in.label[0], "EDF temporal_lef");
	assert_string_equal(in.label[1], "EDF temporal_l~2");
	assert_string_equal(in.label[2], "EDF annotation~3");
	/* Every signal the same runs: one "Recorded" a run, all of them
	 * there, in order, whatever records they went into. */
	assert_int_equal(in.ntal, 1098);
	for (k = 0, j = 0; j < 30 * 256; k++) {
		size_t a;

		while (miss[j])
			j++;
		for (a = j; j < 30 * 256 && !miss[j]; j++)
			;
		assert_tal(&in, k, a / 256.0, (j - a) / 256.0, "Recorded");
	}
	/* More runs than a file holds: refused, saying why. */
	for (j = 0; j < sizeof(many); j++)
		many[j] = j % 2;
	sig[0].samples = zeros;
	sig[0].missing = many;
	sig[0].nsamples = sizeof(many);
	e.nsignals = 1;
	e.duration_ms = (int64_t)sizeof(many) * 1000 / 256 + 1;
	buf_reset(&w);
	assert_int_equal(
	    points_edf_write_err(&e, &w, why, sizeof(why)), ERR_INVALID);
	assert_non_null(strstr(why, "CSV"));
	assert_int_equal(w.len, 0);
	buf_free(&w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    crc32c_matches_known_vectors_and_a_bitwise_reference),
		cmocka_unit_test(binary_round_trips_exactly),
		cmocka_unit_test(
		    binary_streams_the_same_bytes_whatever_format_carried_the_batch),
		cmocka_unit_test(
		    binary_refuses_every_truncation_and_every_changed_byte),
		cmocka_unit_test(binary_refuses_bad_headers),
		cmocka_unit_test(
		    binary_refuses_counts_beyond_the_bytes_or_the_bound),
		cmocka_unit_test(binary_refuses_bad_values),
		cmocka_unit_test(json_batches_parse),
		cmocka_unit_test(json_refusals_say_why),
		cmocka_unit_test(json_refuses_too_many_channels),
		cmocka_unit_test(csv_batches_parse),
		cmocka_unit_test(csv_refusals_name_the_line),
		cmocka_unit_test(csv_refuses_long_lines_and_wide_headers),
		cmocka_unit_test(sample_times_are_exact),
		cmocka_unit_test(buckets_init_refuses_bad_windows),
		cmocka_unit_test(buckets_place_samples_exactly),
		cmocka_unit_test(
		    random_regular_segments_bucket_like_the_reference),
		cmocka_unit_test(bucketing_600k_samples_with_decode),
		cmocka_unit_test(binary_parse_speed),
		cmocka_unit_test(svg_escapes_text_and_leaves_gaps),
		cmocka_unit_test(edf_reads_back_exactly),
		cmocka_unit_test(
		    edf_keeps_the_lowest_value_for_gaps_and_says_why_it_refuses),
		cmocka_unit_test(
		    edf_records_hold_whole_samples_and_refuse_bad_input),
		cmocka_unit_test(edf_labels_are_edf_plus_standard_texts),
		cmocka_unit_test(
		    edf_labels_stay_unique_and_many_gaps_are_all_annotated),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
