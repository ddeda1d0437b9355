/*
 * Points in: the parser of a binary batch (format version 1) and the
 * check of every parsed batch, the binary writer, CRC-32C and the time of
 * a regular sample; the JSON and CSV parsers are in points_text.c. The
 * formats are specified in docs/POINTS_FORMAT.md.
 *
 * Every parser fills a struct points_batch and hands it to batch_check,
 * the one place where names, rates, times and duplicates are judged; the
 * parsers themselves only check the syntax and the bounds they need to
 * read and allocate safely. The binary parser walks the channel headers
 * once to check every length against the bytes left, then the checksum,
 * then copies the arrays (memcpy on little-endian hosts).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "biometrics/points.h"
#include "biometrics/points_int.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/util.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define CRC_HW 1
#endif

#define BIN_HEAD 18 /* magic 4, flags 4, seq 8, nchannels 2 */
#define BIN_CHAN 16 /* after the name: rate 4, t0 8, count 4 */
#define BIN_CRC	 4
#define CRC_POLY 0x82f63b78u /* Castagnoli, reflected */

/* points_write_binary_cb's state: the sink and the CRC so far. */
struct sink {
	int (*put)(void *, const void *, size_t);
	void	*arg;
	uint32_t crc;
};

static int batch_check(struct points_batch *, char *, size_t);
static int parse_binary(
    const uint8_t *, size_t, struct points_batch *, char *, size_t);
static int	sink_put(struct sink *, const void *, size_t);
static int	buf_put(void *, const void *, size_t);
static int	put_arrays(const struct points_channel *, struct sink *);
static void	crc_init(void);
static uint32_t crc_sw(uint32_t, const uint8_t *, size_t);
#ifdef CRC_HW
static uint32_t crc_hw(uint32_t, const uint8_t *, size_t);
#endif

static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static uint32_t	      crc_table[8][256];
static int	      crc_have_hw;

static inline uint16_t
rd16(const uint8_t *p)
{
	return ((uint16_t)(p[0] | p[1] << 8));
}

static inline uint32_t
rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24);
}

static inline uint64_t
rd64(const uint8_t *p)
{
	return ((uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32);
}

static inline void
wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void
wr64(uint8_t *p, uint64_t v)
{
	wr32(p, (uint32_t)v);
	wr32(p + 4, (uint32_t)(v >> 32));
}

int
points_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return (rc);
}

int
points_parse(enum points_format fmt, const uint8_t *body, size_t len,
    uint64_t csv_seq, uint32_t csv_rate_mhz, int64_t csv_t0_ms,
    struct points_batch *out, char *err, size_t errlen)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (body == NULL)
		len = 0;
	switch (fmt) {
	case POINTS_BINARY:
		rc = parse_binary(body, len, out, err, errlen);
		break;
	case POINTS_JSON:
		rc = points_parse_json(body, len, out, err, errlen);
		break;
	case POINTS_CSV:
		rc = points_parse_csv(body, len, csv_seq, csv_rate_mhz,
		    csv_t0_ms, out, err, errlen);
		break;
	default:
		rc = points_fail(
		    err, errlen, ERR_INVALID, "unknown points format");
		break;
	}
	if (rc == OK)
		rc = batch_check(out, err, errlen);
	if (rc != OK)
		points_batch_free(out);
	return (rc);
}

void
points_batch_free(struct points_batch *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->nchannels && i < POINTS_CHANNELS_MAX; i++) {
		free(b->ch[i].samples);
		free(b->ch[i].ts_ms);
	}
	memset(b, 0, sizeof(*b));
}

/* 1 if the n bytes at s are a channel name: 1..32 of [a-z0-9_]. */
int
points_name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > POINTS_NAME_MAX)
		return (0);
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
			(s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return (0);
	return (1);
}

/*
 * The values every format must respect, judged in one place: names,
 * duplicates, rates, times (bounded, ascending) and sample counts.
 */
static int
batch_check(struct points_batch *b, char *err, size_t errlen)
{
	struct points_channel *c;
	int64_t		       last;
	size_t		       i, j, total = 0;

	if (b->nchannels == 0)
		return (points_fail(err, errlen, ERR_INVALID,
		    "a batch has at least one channel"));
	if (b->nchannels > POINTS_CHANNELS_MAX)
		return (points_fail(err, errlen, ERR_TOO_LARGE,
		    "more than %d channels", POINTS_CHANNELS_MAX));
	for (i = 0; i < b->nchannels; i++) {
		c = &b->ch[i];
		if (!points_name_ok(c->name, strlen(c->name)))
			return (points_fail(err, errlen, ERR_INVALID,
			    "channel %zu: "
			    "a name is 1 to %d of a-z, 0-9 and _",
			    i + 1, POINTS_NAME_MAX));
		for (j = 0; j < i; j++)
			if (strcmp(b->ch[j].name, c->name) == 0)
				return (points_fail(err, errlen, ERR_INVALID,
				    "channel %s appears twice", c->name));
		if (c->count == 0)
			return (points_fail(err, errlen, ERR_INVALID,
			    "channel %s has no samples", c->name));
		if (c->count > POINTS_BATCH_MAX - total)
			return (points_fail(err, errlen, ERR_TOO_LARGE,
			    "more than %u "
			    "samples in one batch",
			    POINTS_BATCH_MAX));
		total += c->count;
		if (c->rate_mhz > POINTS_RATE_MAX)
			return (points_fail(err, errlen, ERR_INVALID,
			    "channel %s: "
			    "rate above %u Hz",
			    c->name, POINTS_RATE_MAX / 1000));
		if (c->rate_mhz > 0) {
			if (c->ts_ms != NULL)
				return (points_fail(err, errlen, ERR_INVALID,
				    "channel %s: timestamps with a rate",
				    c->name));
			if (c->t0_ms < 0 || c->t0_ms > POINTS_TIME_MAX ||
			    points_time_us(
				c->t0_ms, c->rate_mhz, c->count - 1) /
				    1000 >
				POINTS_TIME_MAX)
				return (points_fail(err, errlen, ERR_INVALID,
				    "channel %s: times must lie between "
				    "1970 and 9999",
				    c->name));
			continue;
		}
		if (c->ts_ms == NULL)
			return (points_fail(err, errlen, ERR_INVALID,
			    "channel %s: "
			    "an irregular channel needs timestamps",
			    c->name));
		if (c->t0_ms != 0)
			return (points_fail(err, errlen, ERR_INVALID,
			    "channel %s: "
			    "t0 must be 0 on an irregular channel",
			    c->name));
		last = 0;
		for (j = 0; j < c->count; j++) {
			if (c->ts_ms[j] < last)
				break;
			last = c->ts_ms[j];
		}
		if (j < c->count)
			return (points_fail(err, errlen, ERR_INVALID,
			    "channel %s: "
			    "timestamp %zu (%lld) is %s",
			    c->name, j + 1, (long long)c->ts_ms[j],
			    c->ts_ms[j] < 0 ? "before 1970"
					    : "before the one preceding it"));
		if (last > POINTS_TIME_MAX)
			return (points_fail(err, errlen, ERR_INVALID,
			    "channel %s: "
			    "timestamp %lld is after 9999",
			    c->name, (long long)last));
	}
	b->total = total;
	return (OK);
}

/* --- binary format version 1 ------------------------------------------ */

static int
parse_binary(const uint8_t *p, size_t len, struct points_batch *b, char *err,
    size_t errlen)
{
	size_t		       at[POINTS_CHANNELS_MAX];
	struct points_channel *c;
	size_t		       off, end, nch, i, nl, count, w, total = 0;
	uint32_t	       rate, want;

	if (len < 4 || memcmp(p, "CBP", 3) != 0)
		return (points_fail(err, errlen, ERR_MALFORMED,
		    "not a points batch (no CBP1 magic)"));
	if (p[3] != '1')
		return (points_fail(err, errlen, ERR_MALFORMED,
		    "points format version %c is not supported (this server "
		    "reads CBP1)",
		    p[3] >= 0x21 && p[3] < 0x7f ? p[3] : '?'));
	if (len < BIN_HEAD + BIN_CRC)
		return (points_fail(err, errlen, ERR_MALFORMED,
		    "truncated: %zu bytes, a batch has at least %d", len,
		    BIN_HEAD + BIN_CRC));
	if (rd32(p + 4) != 0)
		return (points_fail(err, errlen, ERR_MALFORMED,
		    "flag bytes 4-7 must be 0 in version 1"));
	b->seq = rd64(p + 8);
	nch = rd16(p + 16);
	if (nch == 0)
		return (points_fail(err, errlen, ERR_INVALID,
		    "a batch has at least one channel"));
	if (nch > POINTS_CHANNELS_MAX)
		return (points_fail(err, errlen, ERR_TOO_LARGE,
		    "%zu channels, at most %d", nch, POINTS_CHANNELS_MAX));

	/* Pass 1: every length against the bytes left, nothing copied. */
	end = len - BIN_CRC;
	off = BIN_HEAD;
	for (i = 0; i < nch; i++) {
		if (off >= end)
			return (points_fail(err, errlen, ERR_MALFORMED,
			    "truncated: channel %zu missing", i + 1));
		nl = p[off];
		if (end - off - 1 < nl + BIN_CHAN)
			return (points_fail(err, errlen, ERR_MALFORMED,
			    "truncated: header of channel %zu", i + 1));
		at[i] = off;
		off += 1 + nl;
		rate = rd32(p + off);
		count = rd32(p + off + 12);
		off += BIN_CHAN;
		if (count > POINTS_BATCH_MAX - total)
			return (points_fail(err, errlen, ERR_TOO_LARGE,
			    "more than %u samples in one batch",
			    POINTS_BATCH_MAX));
		total += count;
		w = rate == 0 ? 4 + 8 : 4;
		if ((end - off) / w < count)
			return (points_fail(err, errlen, ERR_MALFORMED,
			    "truncated: channel %zu needs %zu bytes of "
			    "samples%s, %zu left",
			    i + 1, count * w,
			    rate == 0 ? " and timestamps" : "", end - off));
		off += count * w;
	}
	if (off != end)
		return (points_fail(err, errlen, ERR_MALFORMED,
		    "trailing bytes after the last channel (%zu)", end - off));
	want = rd32(p + end);
	if (points_crc32c(0, p, end) != want)
		return (points_fail(
		    err, errlen, ERR_MALFORMED, "checksum mismatch"));

	/* Pass 2: copy. Values are judged by batch_check. */
	for (i = 0; i < nch; i++) {
		c = &b->ch[i];
		off = at[i];
		nl = p[off];
		if (!points_name_ok((const char *)p + off + 1, nl))
			return (points_fail(err, errlen, ERR_INVALID,
			    "channel %zu: "
			    "a name is 1 to %d of a-z, 0-9 and _",
			    i + 1, POINTS_NAME_MAX));
		memcpy(c->name, p + off + 1, nl);
		c->name[nl] = '\0';
		off += 1 + nl;
		c->rate_mhz = rd32(p + off);
		c->t0_ms = (int64_t)rd64(p + off + 4);
		c->count = rd32(p + off + 12);
		off += BIN_CHAN;
		b->nchannels = i + 1;
		if (c->count == 0)
			continue; /* batch_check says why */
		if ((c->samples = malloc(c->count * 4)) == NULL)
			return (points_fail(
			    err, errlen, ERR_NOMEM, "out of memory"));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		memcpy(c->samples, p + off, c->count * 4);
#else
		for (w = 0; w < c->count; w++)
			c->samples[w] = (int32_t)rd32(p + off + 4 * w);
#endif
		off += c->count * 4;
		if (c->rate_mhz != 0)
			continue;
		if ((c->ts_ms = malloc(c->count * 8)) == NULL)
			return (points_fail(
			    err, errlen, ERR_NOMEM, "out of memory"));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		memcpy(c->ts_ms, p + off, c->count * 8);
#else
		for (w = 0; w < c->count; w++)
			c->ts_ms[w] = (int64_t)rd64(p + off + 8 * w);
#endif
	}
	return (OK);
}

static int
sink_put(struct sink *k, const void *p, size_t n)
{
	k->crc = points_crc32c(k->crc, p, n);
	return (k->put(k->arg, p, n));
}

static int
buf_put(void *arg, const void *p, size_t n)
{
	return (buf_append(arg, p, n));
}

int
points_write_binary(const struct points_batch *b, struct buf *out)
{
	size_t start = out->len;
	int    rc;

	if ((rc = points_write_binary_cb(b, buf_put, out)) != OK &&
	    out->data != NULL) {
		out->len = start;
		out->data[start] = '\0';
	}
	return (rc);
}

int
points_write_binary_cb(const struct points_batch *b,
    int (*put)(void *, const void *, size_t), void *arg)
{
	const struct points_channel *c;
	struct sink		     k;
	uint8_t h[BIN_HEAD + 1 + POINTS_NAME_MAX + BIN_CHAN];
	size_t	i, nl;
	int	rc;

	if (b->nchannels > POINTS_CHANNELS_MAX)
		return (ERR_INVALID);
	for (i = 0; i < b->nchannels; i++) {
		c = &b->ch[i];
		if (strnlen(c->name, sizeof(c->name)) > POINTS_NAME_MAX ||
		    c->count > UINT32_MAX ||
		    (c->count > 0 && c->samples == NULL) ||
		    (c->rate_mhz == 0 && c->count > 0 && c->ts_ms == NULL))
			return (ERR_INVALID);
	}
	k.put = put;
	k.arg = arg;
	k.crc = 0;
	memcpy(h, POINTS_MAGIC, 4);
	wr32(h + 4, 0);
	wr64(h + 8, b->seq);
	h[16] = (uint8_t)b->nchannels;
	h[17] = 0;
	if ((rc = sink_put(&k, h, BIN_HEAD)) != OK)
		return (rc);
	for (i = 0; i < b->nchannels; i++) {
		c = &b->ch[i];
		nl = strnlen(c->name, sizeof(c->name));
		h[0] = (uint8_t)nl;
		memcpy(h + 1, c->name, nl);
		wr32(h + 1 + nl, c->rate_mhz);
		wr64(h + 1 + nl + 4, (uint64_t)c->t0_ms);
		wr32(h + 1 + nl + 12, (uint32_t)c->count);
		if ((rc = sink_put(&k, h, 1 + nl + BIN_CHAN)) != OK ||
		    (rc = put_arrays(c, &k)) != OK)
			return (rc);
	}
	wr32(h, k.crc);
	return (k.put(k.arg, h, BIN_CRC));
}

/* A channel's samples, then its timestamps if irregular, little-endian. */
static int
put_arrays(const struct points_channel *c, struct sink *k)
{
	int rc = OK;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (c->count > 0)
		rc = sink_put(k, c->samples, c->count * 4);
	if (rc == OK && c->count > 0 && c->rate_mhz == 0)
		rc = sink_put(k, c->ts_ms, c->count * 8);
#else
	uint8_t tmp[8];
	size_t j;

	for (j = 0; rc == OK && j < c->count; j++) {
		wr32(tmp, (uint32_t)c->samples[j]);
		rc = sink_put(k, tmp, 4);
	}
	for (j = 0; rc == OK && c->rate_mhz == 0 && j < c->count; j++) {
		wr64(tmp, (uint64_t)c->ts_ms[j]);
		rc = sink_put(k, tmp, 8);
	}
#endif
	return (rc);
}

/* --- CRC-32C ------------------------------------------------------------ */

static void
crc_init(void)
{
	uint32_t c;
	int	 i, k;

	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ CRC_POLY : c >> 1;
		crc_table[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (k = 1; k < 8; k++)
			crc_table[k][i] = (crc_table[k - 1][i] >> 8) ^
			    crc_table[0][crc_table[k - 1][i] & 0xff];
#ifdef CRC_HW
	crc_have_hw = __builtin_cpu_supports("sse4.2");
#endif
}

/* Slice-by-8: eight table look-ups per 8 bytes, no data dependency chain
 * longer than one step. crc is the raw (pre-inverted) register. */
static uint32_t
crc_sw(uint32_t crc, const uint8_t *p, size_t n)
{
	uint32_t lo, hi;

	while (n > 0 && ((uintptr_t)p & 7) != 0) {
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
		n--;
	}
	while (n >= 8) {
		lo = rd32(p) ^ crc;
		hi = rd32(p + 4);
		crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
		    crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
		    crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
		    crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
		p += 8;
		n -= 8;
	}
	while (n-- > 0)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
	return (crc);
}

#ifdef CRC_HW
/* The SSE4.2 crc32 instruction, 8 bytes a step (about 3 cycles each). */
__attribute__((target("sse4.2"))) static uint32_t
crc_hw(uint32_t crc, const uint8_t *p, size_t n)
{
	uint64_t c = crc, v;

	while (n > 0 && ((uintptr_t)p & 7) != 0) {
		c = _mm_crc32_u8((uint32_t)c, *p++);
		n--;
	}
	while (n >= 8) {
		memcpy(&v, p, 8);
		c = _mm_crc32_u64(c, v);
		p += 8;
		n -= 8;
	}
	while (n-- > 0)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return ((uint32_t)c);
}
#endif

uint32_t
points_crc32c(uint32_t crc, const void *p, size_t n)
{
	pthread_once(&crc_once, crc_init);
#ifdef CRC_HW
	if (crc_have_hw)
		return (~crc_hw(~crc, p, n));
#endif
	return (~crc_sw(~crc, p, n));
}

uint32_t
points_crc32c_sw(uint32_t crc, const void *p, size_t n)
{
	pthread_once(&crc_once, crc_init);
	return (~crc_sw(~crc, p, n));
}

/* --- times -------------------------------------------------------------- */

int64_t
points_time_us(int64_t t0_ms, uint32_t rate_mhz, uint64_t i)
{
	uint64_t q, r, off;
	int64_t	 base, t;

	if (__builtin_mul_overflow(t0_ms, 1000, &base))
		return (t0_ms < 0 ? INT64_MIN : INT64_MAX);
	if (rate_mhz == 0)
		return (base);
	/* i * 1e9 / rate = q * 1e9 + r * 1e9 / rate with i = q * rate + r,
	 * r < rate < 2^32, so r * 1e9 < 2^62: no product overflows. */
	q = i / rate_mhz;
	r = i % rate_mhz;
	if (q > (uint64_t)INT64_MAX / 1000000000u)
		return (INT64_MAX);
	off = q * 1000000000u + r * 1000000000u / rate_mhz;
	if (off > (uint64_t)INT64_MAX ||
	    __builtin_add_overflow(base, (int64_t)off, &t))
		return (INT64_MAX);
	return (t);
}
