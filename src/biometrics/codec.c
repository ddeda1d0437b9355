/*
 * The points codec for samples (int32): see codec.h for the byte format.
 *
 * Encoding chooses per block without trying every coder: one pass over the
 * block computes, per partition of 128 residuals, the sum of the zigzagged
 * residuals of each predictor order (which picks the order for Rice) and
 * their bitwise OR for orders 1 and 2 (which gives the exact size of the
 * two bit-packers). The Rice parameter of each partition is then chosen by
 * computing the exact cost of the two or three parameters next to the one
 * the mean suggests. Every candidate's size is known exactly before
 * anything is written, so only the smallest is written.
 */
#include <stdint.h>
#include <string.h>

#include "biometrics/codec.h"
#include "biometrics/codec_int.h"
#include "core/err.h"

#define PACK_PLOG  7
#define RICE_PLOG  7
#define RICE_KBITS 5
#define NPART_MAX  (CODEC_BLOCK_MAX >> 4) /* plog >= 4 */

/* What the analysis found, and the plan to write. */
struct plan {
	size_t	 n;
	size_t	 nres; /* n - 1 residuals */
	int	 constant;
	uint64_t sum[4];	     /* per order, over the block */
	uint64_t psum[4][NPART_MAX]; /* per order and partition */
	uint8_t	 w1[NPART_MAX];	     /* widths for order 1 */
	uint8_t	 w2[NPART_MAX];	     /* and order 2 */
	int	 order;		     /* for Rice */
	uint8_t	 k[NPART_MAX];	     /* Rice parameters */
	uint32_t u[CODEC_BLOCK_MAX]; /* residuals for Rice */
	size_t	 size[6];	     /* payload bytes per codec */
};

static uint32_t pred_res(const int32_t *, size_t, int);
static void	plan_analyse(const int32_t *, size_t, struct plan *);
static void	plan_residuals(const int32_t *, struct plan *, int);
static void part_scan(const uint32_t *, size_t, size_t, uint64_t *, uint32_t *);
static void part_scan128(const uint32_t *, uint64_t *, uint32_t *);
static uint64_t rice_choose(const uint32_t *, size_t, uint64_t, uint8_t *);
static size_t	plan_rice(const int32_t *, struct plan *);
static size_t	pack_size(size_t, size_t, const uint8_t *);
static int write_pack(const int32_t *, size_t, int, const uint8_t *, uint8_t *,
    uint8_t *, size_t *);
static int write_rice(
    const int32_t *, struct plan *, uint8_t *, uint8_t *, size_t *);
static int  read_pack(const uint8_t *, const uint8_t *, int, int32_t *, size_t);
static int  read_rice(const uint8_t *, const uint8_t *, int32_t *, size_t);
static void integrate(int32_t *, size_t, int);

size_t
codec_bound(size_t n)
{
	return (1 + 5 + 4 * n);
}

void
codec_stats(const int32_t *in, size_t n, struct codec_stats *out)
{
	int32_t lo, hi;
	int64_t sum = 0;
	size_t	i;

	if (n == 0) {
		out->min = out->max = 0;
		out->sum = 0;
		return;
	}
	lo = hi = in[0];
	for (i = 0; i < n; i++) {
		lo = in[i] < lo ? in[i] : lo;
		hi = in[i] > hi ? in[i] : hi;
		sum += in[i];
	}
	out->min = lo;
	out->max = hi;
	out->sum = sum;
}

int
codec_peek(const uint8_t *in, size_t len, int *codec, size_t *n)
{
	const uint8_t *body;

	return (
	    head_parse(in, len, codec, n, &body) == -1 ? ERR_MALFORMED : OK);
}

int
codec_encode(
    const int32_t *in, size_t n, uint8_t *out, size_t cap, size_t *outlen)
{
	return (codec_encode_with(CODEC_AUTO, in, n, out, cap, outlen));
}

/* Residual of sample i (>= 1) with order min(i, order), zigzagged. */
static uint32_t
pred_res(const int32_t *x, size_t i, int order)
{
	const uint32_t *u = (const uint32_t *)x;
	uint32_t	pred = 0;

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
	return (zz32(u[i] - pred));
}

/* Sums for orders 0..3 and ORs for orders 1, 2 of samples lo..hi-1 (lo >= 3). */
static void
part_scan(const uint32_t *u, size_t lo, size_t hi, uint64_t *s, uint32_t *o)
{
	size_t j;

	for (j = lo; j < hi; j++) {
		uint32_t d1 = u[j] - u[j - 1];
		uint32_t e1 = u[j - 1] - u[j - 2];
		uint32_t e2 = e1 - (u[j - 2] - u[j - 3]);
		uint32_t r1 = zz32(d1), r2 = zz32(d1 - e1);
		uint32_t r3 = zz32(d1 - e1 - e2);

		s[0] += zz32(u[j]);
		s[1] += r1;
		s[2] += r2;
		s[3] += r3;
		o[0] |= r1;
		o[1] |= r2;
	}
}

/*
 * The same over the 128 samples that follow the 3 at u: a loop the
 * compiler vectorises.
 */
static void
part_scan128(const uint32_t *u, uint64_t *s, uint32_t *o)
{
	uint32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, o1 = 0, o2 = 0;
	uint32_t h0 = 0, h1 = 0, h2 = 0, h3 = 0;
	size_t	 j;

	/* 16-bit halves keep 32-bit lane sums exact over 128 samples. */
	for (j = 0; j < 128; j++) {
		uint32_t d1 = u[j + 3] - u[j + 2];
		uint32_t e1 = u[j + 2] - u[j + 1];
		uint32_t e2 = e1 - (u[j + 1] - u[j]);
		uint32_t r0 = zz32(u[j + 3]), r1 = zz32(d1);
		uint32_t r2 = zz32(d1 - e1), r3 = zz32(d1 - e1 - e2);

		s0 += r0 & 0xffff;
		s1 += r1 & 0xffff;
		s2 += r2 & 0xffff;
		s3 += r3 & 0xffff;
		h0 += r0 >> 16;
		h1 += r1 >> 16;
		h2 += r2 >> 16;
		h3 += r3 >> 16;
		o1 |= r1;
		o2 |= r2;
	}
	s[0] += s0 + ((uint64_t)h0 << 16);
	s[1] += s1 + ((uint64_t)h1 << 16);
	s[2] += s2 + ((uint64_t)h2 << 16);
	s[3] += s3 + ((uint64_t)h3 << 16);
	o[0] |= o1;
	o[1] |= o2;
}

/*
 * One pass: per partition of 128 residuals, the sums for orders 0..3 and
 * the ORs (hence bit widths) for orders 1 and 2.
 */
static void
plan_analyse(const int32_t *x, size_t n, struct plan *pl)
{
	const uint32_t *u = (const uint32_t *)x;
	size_t		t, j, lo, hi;
	int		o;

	memset(pl->sum, 0, sizeof(pl->sum));
	pl->n = n;
	pl->nres = n - 1;
	pl->constant = 1;
	for (t = 0; t * 128 < pl->nres; t++) {
		uint64_t s[4] = { 0, 0, 0, 0 };
		uint32_t ors[2] = { 0, 0 }, r1, r2;

		lo = t * 128 + 1;
		hi = lo + 128 > n ? n : lo + 128;
		for (j = lo; j < hi && j < 3; j++) {
			s[0] += zz32(u[j]);
			r1 = pred_res(x, j, 1);
			r2 = pred_res(x, j, 2);
			s[1] += r1;
			s[2] += r2;
			s[3] += pred_res(x, j, 3);
			ors[0] |= r1;
			ors[1] |= r2;
		}
		if (j == lo && hi - lo == 128)
			part_scan128(u + lo - 3, s, ors);
		else
			part_scan(u, j, hi, s, ors);
		for (o = 0; o < 4; o++) {
			pl->sum[o] += s[o];
			pl->psum[o][t] = s[o];
		}
		pl->w1[t] =
		    ors[0] == 0 ? 0 : (uint8_t)(32 - __builtin_clz(ors[0]));
		pl->w2[t] =
		    ors[1] == 0 ? 0 : (uint8_t)(32 - __builtin_clz(ors[1]));
		if (ors[0] != 0)
			pl->constant = 0;
	}
}

/* Fill pl->u with the residuals of samples 1..n-1 for order. */
static void
plan_residuals(const int32_t *x, struct plan *pl, int order)
{
	const uint32_t *u = (const uint32_t *)x;
	size_t		i, n = pl->n;

	for (i = 1; i < n && i < (size_t)order; i++)
		pl->u[i - 1] = pred_res(x, i, order);
	switch (order) {
	case 0:
		for (; i < n; i++)
			pl->u[i - 1] = zz32(u[i]);
		break;
	case 1:
		for (; i < n; i++)
			pl->u[i - 1] = zz32(u[i] - u[i - 1]);
		break;
	case 2:
		for (; i < n; i++)
			pl->u[i - 1] = zz32(u[i] - 2 * u[i - 1] + u[i - 2]);
		break;
	default:
		for (; i < n; i++)
			pl->u[i - 1] =
			    zz32(u[i] - 3 * u[i - 1] + 3 * u[i - 2] - u[i - 3]);
		break;
	}
}

/*
 * Best Rice parameter for m residuals whose sum is sum into *kout; returns
 * its exact bits (escapes included). For a geometric source the best k is
 * near log2(mean): the costs of that k and its two neighbours are computed
 * in one pass.
 */
static uint64_t
rice_choose(const uint32_t *u, size_t m, uint64_t sum, uint8_t *kout)
{
	uint64_t c[3] = { 0, 0, 0 }, best;
	uint32_t a0 = 0, a1 = 0, a2 = 0;
	unsigned k0 = 0, kb, e0, e1, e2, i;
	size_t	 j;

	while (k0 < 31 && ((uint64_t)m << (k0 + 1)) <= sum)
		k0++;
	kb = k0 == 0 ? 0 : k0 == 31 ? 29 : k0 - 1;
	/* Escaped residual: RICE_QESC + 32 bits in place of q + 1 + k. */
	e0 = RICE_QESC + 32 - 1 - kb;
	e1 = e0 - 1;
	e2 = e0 - 2;
	if (m == 128) {
		for (j = 0; j < 128; j++) {
			uint32_t q0 = u[j] >> kb, q1 = q0 >> 1;
			uint32_t q2 = q0 >> 2;

			a0 += q0 < RICE_QESC ? q0 : e0;
			a1 += q1 < RICE_QESC ? q1 : e1;
			a2 += q2 < RICE_QESC ? q2 : e2;
		}
		c[0] = a0;
		c[1] = a1;
		c[2] = a2;
	} else {
		for (j = 0; j < m; j++) {
			uint32_t q0 = u[j] >> kb, q1 = q0 >> 1;
			uint32_t q2 = q0 >> 2;

			c[0] += q0 < RICE_QESC ? q0 : e0;
			c[1] += q1 < RICE_QESC ? q1 : e1;
			c[2] += q2 < RICE_QESC ? q2 : e2;
		}
	}
	best = UINT64_MAX;
	for (i = 0; i < 3; i++) {
		c[i] += (uint64_t)m * (1 + kb + i);
		if (c[i] < best) {
			best = c[i];
			*kout = (uint8_t)(kb + i);
		}
	}
	return (best + RICE_KBITS);
}

/* Choose the order and parameters; returns the payload size. */
static size_t
plan_rice(const int32_t *x, struct plan *pl)
{
	uint64_t bits = 0;
	size_t	 t, m, np = 128;
	int	 o;

	pl->order = 0;
	for (o = 1; o < 4; o++)
		if (pl->sum[o] < pl->sum[pl->order])
			pl->order = o;
	plan_residuals(x, pl, pl->order);
	for (t = 0; t * np < pl->nres; t++) {
		m = pl->nres - t * np < np ? pl->nres - t * np : np;
		bits += rice_choose(
		    pl->u + t * np, m, pl->psum[pl->order][t], &pl->k[t]);
	}
	return (1 + uvarint_len(pl->n) + 1 + uvarint_len(zz32((uint32_t)x[0])) +
	    (size_t)((bits + 7) / 8));
}

static size_t
pack_size(size_t n, size_t x0len, const uint8_t *w)
{
	uint64_t bits = 0;
	size_t	 t, m, nres = n - 1;

	for (t = 0; t * 128 < nres; t++) {
		m = nres - t * 128 < 128 ? nres - t * 128 : 128;
		bits += 6 + (uint64_t)m * w[t];
	}
	return (1 + uvarint_len(n) + x0len + (size_t)((bits + 7) / 8));
}

int
codec_encode_with(int codec, const int32_t *in, size_t n, uint8_t *out,
    size_t cap, size_t *outlen)
{
	struct plan pl;
	uint8_t	   *p = out, *end = out + cap;
	size_t	    x0len, best;
	int	    c, rc;

	if (n > CODEC_BLOCK_MAX ||
	    (n == 0 && codec != CODEC_AUTO && codec != CODEC_RAW))
		return (ERR_INVALID);
	if (n == 0)
		codec = CODEC_RAW;
	else {
		plan_analyse(in, n, &pl);
		x0len = uvarint_len(zz32((uint32_t)in[0]));
		memset(pl.size, 0xff, sizeof(pl.size));
		pl.size[CODEC_RAW] = 1 + uvarint_len(n) + 4 * n;
		if (pl.constant)
			pl.size[CODEC_CONST] = 1 + uvarint_len(n) + x0len;
		pl.size[CODEC_DELTA_PACK] = pack_size(n, x0len, pl.w1);
		pl.size[CODEC_DOD_PACK] = pack_size(n, x0len, pl.w2);
		if (codec == CODEC_AUTO || codec == CODEC_RICE)
			pl.size[CODEC_RICE] = plan_rice(in, &pl);
		if (codec == CODEC_AUTO) {
			best = pl.size[CODEC_RAW];
			codec = CODEC_RAW;
			for (c = CODEC_CONST; c <= CODEC_RICE; c++)
				if (pl.size[c] < best) {
					best = pl.size[c];
					codec = c;
				}
		}
	}
	if (codec == CODEC_CONST && (n == 0 || !pl.constant))
		return (ERR_INVALID);
	if (codec < CODEC_RAW || codec > CODEC_RICE)
		return (ERR_INVALID);
	if (cap < 1 + uvarint_len(n))
		return (ERR_TOO_LARGE);
	*p++ = (uint8_t)codec;
	p = uvarint_put(p, n);
	switch (codec) {
	case CODEC_RAW:
		if ((size_t)(end - p) < 4 * n)
			return (ERR_TOO_LARGE);
		for (size_t i = 0; i < n; i++, p += 4) {
			uint32_t v = (uint32_t)in[i];

			p[0] = (uint8_t)v;
			p[1] = (uint8_t)(v >> 8);
			p[2] = (uint8_t)(v >> 16);
			p[3] = (uint8_t)(v >> 24);
		}
		rc = OK;
		break;
	case CODEC_CONST:
		if ((size_t)(end - p) < x0len)
			return (ERR_TOO_LARGE);
		p = uvarint_put(p, zz32((uint32_t)in[0]));
		rc = OK;
		break;
	case CODEC_DELTA_PACK:
	case CODEC_DOD_PACK:
		rc = write_pack(in, n, codec == CODEC_DELTA_PACK ? 1 : 2,
		    codec == CODEC_DELTA_PACK ? pl.w1 : pl.w2, p, end, &x0len);
		p += x0len;
		break;
	default:
		rc = write_rice(in, &pl, p, end, &x0len);
		p += x0len;
		break;
	}
	if (rc == OK)
		*outlen = (size_t)(p - out);
	return (rc);
}

/* Body of a bit-packer: x0, then widths and residuals; *len the bytes. */
static int
write_pack(const int32_t *x, size_t n, int order, const uint8_t *w, uint8_t *p,
    uint8_t *end, size_t *len)
{
	struct bitw bw;
	uint8_t	   *start = p;
	size_t	    i, t;

	if ((size_t)(end - p) < 5)
		return (ERR_TOO_LARGE);
	p = uvarint_put(p, zz32((uint32_t)x[0]));
	bitw_init(&bw, p, end);
	for (i = 1; i < n; i++) {
		t = (i - 1) >> PACK_PLOG;
		if (((i - 1) & 127) == 0)
			bitw_put(&bw, w[t], 6);
		bitw_put(&bw, pred_res(x, i, order), w[t]);
	}
	if (bitw_flush(&bw) == -1)
		return (ERR_TOO_LARGE);
	*len = (size_t)(bw.p - start);
	return (OK);
}

static int
write_rice(
    const int32_t *x, struct plan *pl, uint8_t *p, uint8_t *end, size_t *len)
{
	struct bitw bw;
	uint8_t	   *start = p;
	size_t	    j, t, m, np = (size_t)1 << RICE_PLOG;

	if ((size_t)(end - p) < 6)
		return (ERR_TOO_LARGE);
	*p++ = (uint8_t)(RICE_PLOG << 4 | pl->order);
	p = uvarint_put(p, zz32((uint32_t)x[0]));
	bitw_init(&bw, p, end);
	for (t = 0; t * np < pl->nres; t++) {
		const uint32_t *u = pl->u + t * np;
		unsigned	k = pl->k[t];

		m = pl->nres - t * np < np ? pl->nres - t * np : np;
		bitw_put(&bw, k, RICE_KBITS);
		for (j = 0; j < m; j++)
			bitw_rice(&bw, u[j], k, 32);
	}
	if (bitw_flush(&bw) == -1)
		return (ERR_TOO_LARGE);
	*len = (size_t)(bw.p - start);
	return (OK);
}

int
codec_decode(const uint8_t *in, size_t len, int32_t *out, size_t cap, size_t *n)
{
	const uint8_t *p, *end = in + len;
	uint64_t       v;
	size_t	       cnt, i;
	int	       codec, rc;

	if (head_parse(in, len, &codec, &cnt, &p) == -1)
		return (ERR_MALFORMED);
	if (cnt > cap)
		return (ERR_TOO_LARGE);
	if (cnt == 0 && codec != CODEC_RAW)
		return (ERR_MALFORMED);
	switch (codec) {
	case CODEC_RAW:
		if ((size_t)(end - p) != 4 * cnt)
			return (ERR_MALFORMED);
		for (i = 0; i < cnt; i++, p += 4)
			out[i] =
			    (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 |
				(uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
		break;
	case CODEC_CONST:
		if (uvarint_get(&p, end, 32, &v) == -1 || p != end)
			return (ERR_MALFORMED);
		for (i = 0; i < cnt; i++)
			out[i] = (int32_t)unzz32((uint32_t)v);
		break;
	case CODEC_DELTA_PACK:
	case CODEC_DOD_PACK:
		if ((rc = read_pack(p, end, codec == CODEC_DELTA_PACK ? 1 : 2,
			 out, cnt)) != OK)
			return (rc);
		break;
	case CODEC_RICE:
		if ((rc = read_rice(p, end, out, cnt)) != OK)
			return (rc);
		break;
	default:
		return (ERR_MALFORMED);
	}
	*n = cnt;
	return (OK);
}

static int
read_pack(
    const uint8_t *p, const uint8_t *end, int order, int32_t *out, size_t n)
{
	struct bitr br;
	uint64_t    v;
	size_t	    i, used;
	unsigned    w = 0;

	if (uvarint_get(&p, end, 32, &v) == -1)
		return (ERR_MALFORMED);
	out[0] = (int32_t)(uint32_t)v;
	bitr_init(&br, p, (size_t)(end - p));
	for (i = 1; i < n; i++) {
		if (((i - 1) & 127) == 0) {
			w = bitr_get(&br, 6);
			if (w > 32)
				return (ERR_MALFORMED);
		}
		out[i] = w == 0 ? 0 : (int32_t)bitr_get(&br, w);
	}
	if (bitr_done(&br, &used) == -1 || used != (size_t)(end - p))
		return (ERR_MALFORMED);
	integrate(out, n, order);
	return (OK);
}

static int
read_rice(const uint8_t *p, const uint8_t *end, int32_t *out, size_t n)
{
	struct bitr br;
	uint64_t    v;
	size_t	    i, used, np;
	unsigned    k = 0;
	int	    order, plog;

	if (p >= end)
		return (ERR_MALFORMED);
	order = *p & 0x0f;
	plog = *p++ >> 4;
	if (order > 3 || plog < 4 || plog > 12)
		return (ERR_MALFORMED);
	np = (size_t)1 << plog;
	if (uvarint_get(&p, end, 32, &v) == -1)
		return (ERR_MALFORMED);
	out[0] = (int32_t)(uint32_t)v;
	bitr_init(&br, p, (size_t)(end - p));
	for (i = 1; i < n; i++) {
		if (((i - 1) & (np - 1)) == 0)
			k = bitr_get(&br, RICE_KBITS);
		out[i] = (int32_t)(uint32_t)bitr_rice(&br, k, 32);
	}
	if (bitr_done(&br, &used) == -1 || used != (size_t)(end - p))
		return (ERR_MALFORMED);
	integrate(out, n, order);
	return (OK);
}

/*
 * x[0] holds zigzag(x0) and x[i] the zigzagged residual of sample i:
 * rebuild the samples in place, wrapping modulo 2^32.
 */
static void
integrate(int32_t *x, size_t n, int order)
{
	uint32_t *u = (uint32_t *)x;
	size_t	  i;

	u[0] = unzz32(u[0]);
	for (i = 1; i < n && i < (size_t)order; i++) {
		switch (i) {
		case 1:
			u[1] = u[0] + unzz32(u[1]);
			break;
		case 2:
			u[2] = 2 * u[1] - u[0] + unzz32(u[2]);
			break;
		}
	}
	switch (order) {
	case 0:
		for (; i < n; i++)
			u[i] = unzz32(u[i]);
		break;
	case 1:
		for (; i < n; i++)
			u[i] = u[i - 1] + unzz32(u[i]);
		break;
	case 2:
		for (; i < n; i++)
			u[i] = 2 * u[i - 1] - u[i - 2] + unzz32(u[i]);
		break;
	default:
		for (; i < n; i++)
			u[i] = 3 * u[i - 1] - 3 * u[i - 2] + u[i - 3] +
			    unzz32(u[i]);
		break;
	}
}
