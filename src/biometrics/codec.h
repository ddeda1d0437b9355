/*
 * The points codec: lossless compression of one block of one channel's
 * samples (int32, after the data type's scale and offset) and of one block
 * of timestamps (int64 ms, for irregular channels such as RR intervals).
 *
 * The payloads are stored in databases for years: the byte format below is
 * version 1 and is never changed in place. A new format gets new codec
 * bytes; decoders keep reading every old one.
 *
 * Byte format, version 1
 * ----------------------
 *
 * Every block payload is
 *
 *	codec:u8  count:uvarint  body
 *
 * uvarint is unsigned LEB128 (7 bits a byte, least significant group
 * first, high bit set on every byte but the last), at most 5 bytes for a
 * 32-bit value and 10 for a 64-bit one, with no bits set above the value's
 * width. count is the number of samples, 0..CODEC_BLOCK_MAX; a count of 0
 * is only valid with CODEC_RAW / CODEC_TS_RAW (and an empty body). A
 * payload must end exactly where its body ends: trailing bytes are an error.
 *
 * zigzag(v) maps a signed value to unsigned: 0, -1, 1, -2, ... -> 0, 1, 2,
 * 3, ... i.e. (v << 1) ^ (v >> 31) (>> 63 for 64-bit values). zvarint is
 * the uvarint of zigzag(v).
 *
 * Residuals. Arithmetic on samples wraps modulo 2^32 (2^64 for
 * timestamps), so every residual fits the sample width and the decoder
 * recovers the exact value by the same wrapping arithmetic. The
 * prediction of sample i with predictor order p uses order q = min(i, p):
 *
 *	q = 0: pred = 0
 *	q = 1: pred = x[i-1]
 *	q = 2: pred = 2 x[i-1] - x[i-2]
 *	q = 3: pred = 3 x[i-1] - 3 x[i-2] + x[i-3]
 *
 * and its residual is r[i] = zigzag(x[i] - pred), as an unsigned value of
 * the sample width. x[0] is always stored as a zvarint; the residuals of
 * samples 1..count-1 follow in a bit stream.
 *
 * Bit streams are written most significant bit first, bytes filled from
 * their high bit; the last byte is padded with zero bits. Residual j
 * (sample j+1) belongs to partition j >> plog.
 *
 * Sample (int32) codecs:
 *
 *   0x01 CODEC_RAW         body: count x int32 little-endian.
 *   0x02 CODEC_CONST       body: zvarint x0; every sample equals x0.
 *                          count >= 1.
 *   0x03 CODEC_DELTA_PACK  body: zvarint x0, then a bit stream of
 *                          residuals with order 1 in partitions of 128
 *                          (plog 7): each partition is a 6-bit width w
 *                          (0..32) then each residual in w bits.
 *   0x04 CODEC_DOD_PACK    the same with order 2 (delta of delta).
 *   0x05 CODEC_RICE        body: one byte (plog << 4) | p with predictor
 *                          order p in 0..3 and plog in 4..12, zvarint x0,
 *                          then a bit stream: each partition is a 5-bit
 *                          Rice parameter k (0..31) then each residual u
 *                          coded as q = u >> k: if q < 20, q zero bits, a
 *                          one bit and the low k bits of u; otherwise
 *                          (escape) 20 zero bits and u in 32 bits.
 *
 * Timestamp (int64) codecs:
 *
 *   0x81 CODEC_TS_RAW      body: count x int64 little-endian.
 *   0x82 CODEC_TS_RICE     as CODEC_RICE with 64-bit arithmetic, order p
 *                          in 0..3 (normally 2: delta of delta), x0 a
 *                          64-bit zvarint, a 6-bit Rice parameter (0..63)
 *                          and 64-bit escapes (20 zero bits, u in 64 bits).
 *
 * Every other codec byte is invalid. Decoders check every length and
 * field and return ERR_MALFORMED rather than read or write out of bounds.
 */
#ifndef BIOMETRICS_CODEC_H
#define BIOMETRICS_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define CODEC_FORMAT_VERSION 1
#define CODEC_BLOCK_DEFAULT  1024 /* samples per block the store uses */
#define CODEC_BLOCK_MAX	     4096 /* most samples in one block */

enum codec_id {
	CODEC_AUTO = 0x00, /* encoder: choose per block */
	CODEC_RAW = 0x01,
	CODEC_CONST = 0x02,
	CODEC_DELTA_PACK = 0x03,
	CODEC_DOD_PACK = 0x04,
	CODEC_RICE = 0x05,
	CODEC_TS_RAW = 0x81,
	CODEC_TS_RICE = 0x82
};

struct codec_stats {
	int32_t min;
	int32_t max;
	int64_t sum;
};

/* Largest payload for n samples (n <= CODEC_BLOCK_MAX). */
size_t codec_bound(size_t n);
/* Largest payload for n timestamps. */
size_t codec_ts_bound(size_t n);

/*
 * Encode n (<= CODEC_BLOCK_MAX) samples into out (cap bytes, at least
 * codec_bound(n) to be sure of success); the codec giving the smallest
 * payload is chosen. OK, ERR_INVALID (n too large) or ERR_TOO_LARGE (cap).
 */
int codec_encode(
    const int32_t *in, size_t n, uint8_t *out, size_t cap, size_t *outlen);
/*
 * The same with the codec forced (CODEC_AUTO chooses): for tests and
 * benchmarks. ERR_INVALID if that codec cannot hold these samples
 * (CODEC_CONST on samples that differ, any but CODEC_RAW for n = 0).
 */
int codec_encode_with(int codec, const int32_t *in, size_t n, uint8_t *out,
    size_t cap, size_t *outlen);
/*
 * Decode one payload into out (room for cap samples); *n is the count.
 * OK, ERR_MALFORMED (bad or truncated payload, a timestamp codec) or
 * ERR_TOO_LARGE (count > cap).
 */
int codec_decode(
    const uint8_t *in, size_t len, int32_t *out, size_t cap, size_t *n);

/* Timestamps (int64 ms): the same contract with the 0x8x codecs. */
int codec_ts_encode(
    const int64_t *in, size_t n, uint8_t *out, size_t cap, size_t *outlen);
int codec_ts_encode_with(int codec, const int64_t *in, size_t n, uint8_t *out,
    size_t cap, size_t *outlen);
int codec_ts_decode(
    const uint8_t *in, size_t len, int64_t *out, size_t cap, size_t *n);

/* Codec byte and count of a payload without decoding it; OK or ERR_MALFORMED. */
int codec_peek(const uint8_t *in, size_t len, int *codec, size_t *n);

/* Min, max and sum of n samples (n >= 1; all zero for n = 0), for the block index. */
void codec_stats(const int32_t *in, size_t n, struct codec_stats *out);

#endif
