/*
 * Internals shared by codec.c (samples) and codec_ts.c (timestamps):
 * bounded varints and the most-significant-bit-first bit writer and reader
 * of the format described in codec.h. Not part of the module's interface.
 */
#ifndef BIOMETRICS_CODEC_INT_H
#define BIOMETRICS_CODEC_INT_H

#include <stddef.h>
#include <stdint.h>

#include "biometrics/codec.h"

#define RICE_QESC 20 /* unary length that marks an escape */

/* Bit writer: pending bits low-aligned in acc; stops (ovf) at end. */
struct bitw {
	uint8_t *p;
	uint8_t *end;
	uint64_t acc;
	unsigned n; /* pending bits, at most 7 between puts */
	int	 ovf;
};

/* Bit reader over [buf, buf + len); reads past the end give zero bits. */
struct bitr {
	const uint8_t *start;
	const uint8_t *p; /* next byte to load */
	const uint8_t *end;
	uint64_t       acc;   /* next bits, most significant first */
	unsigned       avail; /* meaningful bits in acc */
	size_t	       pad;   /* zero bits supplied past the end */
};

static inline uint32_t
zz32(uint32_t r)
{
	return ((r << 1) ^ (0u - (r >> 31)));
}

static inline uint32_t
unzz32(uint32_t u)
{
	return ((u >> 1) ^ (0u - (u & 1)));
}

static inline uint64_t
zz64(uint64_t r)
{
	return ((r << 1) ^ (0 - (r >> 63)));
}

static inline uint64_t
unzz64(uint64_t u)
{
	return ((u >> 1) ^ (0 - (u & 1)));
}

static inline size_t
uvarint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return (n);
}

/* Caller has checked room (uvarint_len). */
static inline uint8_t *
uvarint_put(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return (p);
}

/*
 * Read a uvarint of at most bits (32 or 64) bits from [*p, end); 0 and *p
 * advanced, or -1 when truncated, too long or too wide.
 */
static inline int
uvarint_get(const uint8_t **p, const uint8_t *end, unsigned bits, uint64_t *out)
{
	const uint8_t *q = *p;
	uint64_t       v = 0;
	unsigned       shift = 0;

	for (;;) {
		if (q >= end || shift >= bits)
			return (-1);
		v |= (uint64_t)(*q & 0x7f) << shift;
		if (bits - shift < 7 && (*q & 0x7f) >> (bits - shift) != 0)
			return (-1);
		shift += 7;
		if ((*q++ & 0x80) == 0)
			break;
	}
	*p = q;
	*out = v;
	return (0);
}

/* Codec byte and count; *body where the body starts. 0 or -1. */
static inline int
head_parse(
    const uint8_t *in, size_t len, int *codec, size_t *n, const uint8_t **body)
{
	const uint8_t *p = in + 1;
	uint64_t       v;

	if (len < 2 || uvarint_get(&p, in + len, 32, &v) == -1 ||
	    v > CODEC_BLOCK_MAX)
		return (-1);
	*codec = in[0];
	*n = (size_t)v;
	*body = p;
	return (0);
}

static inline void
bitw_init(struct bitw *w, uint8_t *p, uint8_t *end)
{
	w->p = p;
	w->end = end;
	w->acc = 0;
	w->n = 0;
	w->ovf = 0;
}

/*
 * Append the low nb (<= 56) bits of v. While 8 bytes of room remain the
 * whole accumulator is stored at once (the bytes past the whole ones are
 * rewritten later); near the end bytes go one at a time.
 */
static inline void
bitw_put(struct bitw *w, uint64_t v, unsigned nb)
{
	uint64_t a;

	w->acc = (w->acc << nb) | v;
	w->n += nb;
	if (w->end - w->p >= 8) {
		a = (w->acc << (63 - w->n)) << 1;
		w->p[0] = (uint8_t)(a >> 56);
		w->p[1] = (uint8_t)(a >> 48);
		w->p[2] = (uint8_t)(a >> 40);
		w->p[3] = (uint8_t)(a >> 32);
		w->p[4] = (uint8_t)(a >> 24);
		w->p[5] = (uint8_t)(a >> 16);
		w->p[6] = (uint8_t)(a >> 8);
		w->p[7] = (uint8_t)a;
		w->p += w->n >> 3;
		w->n &= 7;
		return;
	}
	while (w->n >= 8) {
		if (w->p >= w->end) {
			w->ovf = 1;
			w->n = 0;
			return;
		}
		w->n -= 8;
		*w->p++ = (uint8_t)(w->acc >> w->n);
	}
}

/* Pad to a byte with zero bits and write what is pending; 0 or -1 (room). */
static inline int
bitw_flush(struct bitw *w)
{
	if (w->n > 0 && !w->ovf) {
		if (w->p >= w->end)
			return (-1);
		*w->p++ = (uint8_t)(w->acc << (8 - w->n));
		w->n = 0;
	}
	return (w->ovf ? -1 : 0);
}

/* Rice code u with k (the low escbits bits of u are written on escape). */
static inline void
bitw_rice(struct bitw *w, uint64_t u, unsigned k, unsigned escbits)
{
	uint64_t q = u >> k;

	if (q >= RICE_QESC) {
		bitw_put(w, 0, RICE_QESC);
		if (escbits > 32)
			bitw_put(w, u >> 32, escbits - 32);
		bitw_put(w, u & 0xffffffffu, 32);
		return;
	}
	if (k <= 32) /* q + 1 + k <= 52 */
		bitw_put(w, (1ull << k) | (u & ((1ull << k) - 1)),
		    (unsigned)q + 1 + k);
	else {
		bitw_put(w, 1, (unsigned)q + 1);
		bitw_put(w, (u >> 32) & ((1ull << (k - 32)) - 1), k - 32);
		bitw_put(w, u & 0xffffffffu, 32);
	}
}

static inline void
bitr_init(struct bitr *r, const uint8_t *buf, size_t len)
{
	r->start = buf;
	r->p = buf;
	r->end = buf + len;
	r->acc = 0;
	r->avail = 0;
	r->pad = 0;
}

/*
 * At least 56 bits in acc. While 8 bytes remain, one big-endian load
 * (the bits it repeats are the same bits); near the end a byte at a time,
 * then zero bytes, counted in pad.
 */
static inline void
bitr_refill(struct bitr *r)
{
	const uint8_t *b = r->p;

	if (r->end - r->p >= 8) {
		r->acc |= ((uint64_t)b[0] << 56 | (uint64_t)b[1] << 48 |
			      (uint64_t)b[2] << 40 | (uint64_t)b[3] << 32 |
			      (uint64_t)b[4] << 24 | (uint64_t)b[5] << 16 |
			      (uint64_t)b[6] << 8 | (uint64_t)b[7]) >>
		    r->avail;
		r->p += (63 - r->avail) >> 3;
		r->avail |= 56;
		return;
	}
	while (r->avail <= 56) {
		if (r->p < r->end)
			r->acc |= (uint64_t)*r->p++ << (56 - r->avail);
		else
			r->pad += 8;
		r->avail += 8;
	}
}

/* nb (1..32) bits. */
static inline uint32_t
bitr_get(struct bitr *r, unsigned nb)
{
	uint32_t v;

	bitr_refill(r);
	v = (uint32_t)(r->acc >> (64 - nb));
	r->acc <<= nb;
	r->avail -= nb;
	return (v);
}

static inline uint64_t
bitr_rice(struct bitr *r, unsigned k, unsigned escbits)
{
	uint64_t u;
	unsigned q;

	bitr_refill(r);
	q = r->acc == 0 ? 64 : (unsigned)__builtin_clzll(r->acc);
	if (q >= RICE_QESC) {
		r->acc <<= RICE_QESC;
		r->avail -= RICE_QESC;
		if (escbits > 32) {
			u = (uint64_t)bitr_get(r, escbits - 32) << 32;
			return (u | bitr_get(r, 32));
		}
		return (bitr_get(r, 32));
	}
	if (k == 0) {
		r->acc <<= q + 1;
		r->avail -= q + 1;
		return (q);
	}
	if (k <= 32) { /* q + 1 + k <= 52 < 56 */
		u = (uint64_t)q << k | ((r->acc << (q + 1)) >> (64 - k));
		r->acc <<= q + 1 + k;
		r->avail -= q + 1 + k;
		return (u);
	}
	r->acc <<= q + 1;
	r->avail -= q + 1;
	u = (uint64_t)bitr_get(r, k - 32) << 32;
	u |= bitr_get(r, 32);
	return ((uint64_t)q << k | u);
}

/* 0 if no read went past the end; *bytes the whole bytes used. */
static inline int
bitr_done(const struct bitr *r, size_t *bytes)
{
	size_t used = (size_t)(r->p - r->start) * 8 + r->pad - r->avail;

	if (used > (size_t)(r->end - r->start) * 8)
		return (-1);
	*bytes = (used + 7) >> 3;
	return (0);
}

#endif
