/*
 * libFuzzer target for the points codec: the decoders parse block payloads
 * uploaded from outside. Arbitrary bytes are decoded as samples and as
 * timestamps; whatever decodes is encoded again (chosen codec and each
 * forced one) and must round-trip exactly. The same bytes read as samples
 * must round-trip too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "biometrics/codec.h"
#include "core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static uint8_t out[12 * CODEC_BLOCK_MAX + 64];
static int32_t x[CODEC_BLOCK_MAX], back[CODEC_BLOCK_MAX];
static int64_t t[CODEC_BLOCK_MAX], tback[CODEC_BLOCK_MAX];

static void
samples_round_trip(const int32_t *in, size_t n)
{
	static const int codecs[] = { CODEC_AUTO, CODEC_RAW, CODEC_CONST,
		CODEC_DELTA_PACK, CODEC_DOD_PACK, CODEC_RICE };
	size_t		 len, m, i;
	int		 rc;

	for (i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
		rc = codec_encode_with(codecs[i], in, n, out,
		    codecs[i] == CODEC_AUTO ? codec_bound(n) : sizeof(out),
		    &len);
		if (rc == ERR_INVALID)
			continue;
		if (rc != OK)
			abort();
		if (codec_decode(out, len, back, CODEC_BLOCK_MAX, &m) != OK ||
		    m != n || (n > 0 && memcmp(back, in, n * sizeof(*in)) != 0))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n, len, m;

	if (codec_decode(data, size, x, CODEC_BLOCK_MAX, &n) == OK)
		samples_round_trip(x, n);
	if (codec_ts_decode(data, size, t, CODEC_BLOCK_MAX, &n) == OK) {
		if (codec_ts_encode(t, n, out, codec_ts_bound(n), &len) != OK ||
		    codec_ts_decode(out, len, tback, CODEC_BLOCK_MAX, &m) !=
			OK ||
		    m != n || (n > 0 && memcmp(t, tback, n * sizeof(*t)) != 0))
			abort();
	}
	n = size / 4 > CODEC_BLOCK_MAX ? CODEC_BLOCK_MAX : size / 4;
	memcpy(x, data, n * 4);
	samples_round_trip(x, n);
	return (0);
}
