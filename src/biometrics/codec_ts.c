/*
 * The points codec for timestamps (int64 ms) of irregular channels, e.g.
 * the beats of an RR-interval series: see codec.h for the byte format.
 * The predictor order is the one whose residuals need the fewest bits
 * (normally 2, delta of delta); each partition's Rice parameter is chosen
 * by exact cost as for samples.
 */
#include <stdint.h>
#include <string.h>

#include "biometrics/codec.h"
#include "biometrics/codec_int.h"
#include "core/err.h"

#define TS_PLOG	 7
#define TS_KBITS 6

static uint64_t ts_res(const uint64_t *, size_t, int);
static uint64_t ts_rice_cost(const uint64_t *, size_t, unsigned);
static uint64_t ts_rice_choose(const uint64_t *, size_t, uint8_t *);
static int ts_read_rice(const uint8_t *, const uint8_t *, int64_t *, size_t);

size_t
codec_ts_bound(size_t n)
{
	return (1 + 5 + 8 * n);
}

int
codec_ts_encode(
    const int64_t *in, size_t n, uint8_t *out, size_t cap, size_t *outlen)
{
	return (codec_ts_encode_with(CODEC_AUTO, in, n, out, cap, outlen));
}

/* Residual of timestamp i (>= 1) with order min(i, order), zigzagged. */
static uint64_t
ts_res(const uint64_t *u, size_t i, int order)
{
	uint64_t pred = 0;

	if ((size_t)order > i)
		order = (int)i;
	switch (order) {
	case 1:
		pred = u[i - 1];
		break;
	case 2:
		pred = 2 * u[i - 1] - u[i - 2];
		break;
	case 3:
		pred = 3 * u[i - 1] - 3 * u[i - 2] + u[i - 3];
		break;
	}
	return (zz64(u[i] - pred));
}

static uint64_t
ts_rice_cost(const uint64_t *u, size_t m, unsigned k)
{
	uint64_t bits = 0;
	size_t	 i;

	for (i = 0; i < m; i++) {
		uint64_t q = u[i] >> k;

		bits += q < RICE_QESC ? q : RICE_QESC + 64 - 1 - k;
	}
	return (bits + (uint64_t)m * (1 + k));
}

/*
 * Best Rice parameter for m residuals into *kout; returns its exact bits.
 * The parameters near the mean bit width are tried.
 */
static uint64_t
ts_rice_choose(const uint64_t *u, size_t m, uint8_t *kout)
{
	uint64_t best = UINT64_MAX, c, width = 0;
	unsigned k, kw, kbest = 0;
	size_t	 i;

	if (m == 0) {
		*kout = 0;
		return (0);
	}
	for (i = 0; i < m; i++)
		width += u[i] == 0 ? 0 : 64 - (unsigned)__builtin_clzll(u[i]);
	kw = (unsigned)((width + m / 2) / m);
	for (k = kw > 3 ? kw - 3 : 0; k <= kw + 1 && k < 64; k++) {
		c = ts_rice_cost(u, m, k);
		if (c < best) {
			best = c;
			kbest = k;
		}
	}
	*kout = (uint8_t)kbest;
	return (best + TS_KBITS);
}

int
codec_ts_encode_with(int codec, const int64_t *in, size_t n, uint8_t *out,
    size_t cap, size_t *outlen)
{
	const uint64_t *x = (const uint64_t *)in;
	uint64_t	res[CODEC_BLOCK_MAX], width[4] = { 0, 0, 0, 0 }, bits;
	uint8_t		k[CODEC_BLOCK_MAX >> TS_PLOG];
	uint8_t	       *p = out, *end = out + cap;
	struct bitw	bw;
	size_t		i, t, m, rawlen, ricelen, np = (size_t)1 << TS_PLOG;
	int		o, order = 0;

	if (n > CODEC_BLOCK_MAX ||
	    (codec != CODEC_AUTO && codec != CODEC_TS_RAW &&
		codec != CODEC_TS_RICE) ||
	    (n == 0 && codec == CODEC_TS_RICE))
		return (ERR_INVALID);
	rawlen = 1 + uvarint_len(n) + 8 * n;
	ricelen = SIZE_MAX;
	if (n > 0 && codec != CODEC_TS_RAW) {
		for (i = 1; i < n; i++)
			for (o = 0; o < 4; o++) {
				uint64_t r = ts_res(x, i, o);

				width[o] += r == 0
				    ? 0
				    : (uint64_t)(64 - __builtin_clzll(r));
			}
		for (o = 1; o < 4; o++)
			if (width[o] < width[order])
				order = o;
		for (i = 1; i < n; i++)
			res[i - 1] = ts_res(x, i, order);
		bits = 0;
		for (t = 0; t * np < n - 1; t++) {
			m = n - 1 - t * np < np ? n - 1 - t * np : np;
			bits += ts_rice_choose(res + t * np, m, &k[t]);
		}
		ricelen = 1 + uvarint_len(n) + 1 + uvarint_len(zz64(x[0])) +
		    (size_t)((bits + 7) / 8);
	}
	if (codec == CODEC_AUTO)
		codec = ricelen < rawlen ? CODEC_TS_RICE : CODEC_TS_RAW;
	if (cap < (codec == CODEC_TS_RAW ? rawlen : ricelen))
		return (ERR_TOO_LARGE);
	*p++ = (uint8_t)codec;
	p = uvarint_put(p, n);
	if (codec == CODEC_TS_RAW) {
		for (i = 0; i < n; i++)
			for (t = 0; t < 8; t++)
				*p++ = (uint8_t)(x[i] >> (8 * t));
		*outlen = (size_t)(p - out);
		return (OK);
	}
	*p++ = (uint8_t)(TS_PLOG << 4 | order);
	p = uvarint_put(p, zz64(x[0]));
	bitw_init(&bw, p, end);
	for (t = 0; t * np < n - 1; t++) {
		m = n - 1 - t * np < np ? n - 1 - t * np : np;
		bitw_put(&bw, k[t], TS_KBITS);
		for (i = 0; i < m; i++)
			bitw_rice(&bw, res[t * np + i], k[t], 64);
	}
	if (bitw_flush(&bw) == -1)
		return (ERR_TOO_LARGE);
	*outlen = (size_t)(bw.p - out);
	return (OK);
}

int
codec_ts_decode(
    const uint8_t *in, size_t len, int64_t *out, size_t cap, size_t *n)
{
	const uint8_t *p, *end = in + len;
	size_t	       cnt, i, t;
	int	       codec, rc;

	if (head_parse(in, len, &codec, &cnt, &p) == -1)
		return (ERR_MALFORMED);
	if (cnt > cap)
		return (ERR_TOO_LARGE);
	switch (codec) {
	case CODEC_TS_RAW:
		if ((size_t)(end - p) != 8 * cnt)
			return (ERR_MALFORMED);
		for (i = 0; i < cnt; i++) {
			uint64_t v = 0;

			for (t = 0; t < 8; t++)
				v |= (uint64_t)*p++ << (8 * t);
			out[i] = (int64_t)v;
		}
		break;
	case CODEC_TS_RICE:
		if (cnt == 0)
			return (ERR_MALFORMED);
		if ((rc = ts_read_rice(p, end, out, cnt)) != OK)
			return (rc);
		break;
	default:
		return (ERR_MALFORMED);
	}
	*n = cnt;
	return (OK);
}

static int
ts_read_rice(const uint8_t *p, const uint8_t *end, int64_t *out, size_t n)
{
	struct bitr br;
	uint64_t   *u = (uint64_t *)out, v, pred;
	size_t	    i, used, np;
	unsigned    k = 0;
	int	    order, plog, o;

	if (p >= end)
		return (ERR_MALFORMED);
	order = *p & 0x0f;
	plog = *p++ >> 4;
	if (order > 3 || plog < 4 || plog > 12)
		return (ERR_MALFORMED);
	np = (size_t)1 << plog;
	if (uvarint_get(&p, end, 64, &v) == -1)
		return (ERR_MALFORMED);
	u[0] = unzz64(v);
	bitr_init(&br, p, (size_t)(end - p));
	for (i = 1; i < n; i++) {
		if (((i - 1) & (np - 1)) == 0)
			k = bitr_get(&br, TS_KBITS);
		v = unzz64(bitr_rice(&br, k, 64));
		o = (size_t)order > i ? (int)i : order;
		pred = o == 0 ? 0
		    : o == 1  ? u[i - 1]
		    : o == 2  ? 2 * u[i - 1] - u[i - 2]
			      : 3 * u[i - 1] - 3 * u[i - 2] + u[i - 3];
		u[i] = pred + v;
	}
	if (bitr_done(&br, &used) == -1 || used != (size_t)(end - p))
		return (ERR_MALFORMED);
	return (OK);
}
