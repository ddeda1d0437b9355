/*
 * libFuzzer target for the points parsers (binary, JSON, CSV batches come
 * from outside). The first byte chooses the format, the CSV rate and
 * whether to overwrite the last four bytes with the right CRC-32C (so
 * that binary inputs get past the checksum and exercise the structure).
 *
 * Whatever parses must keep the parser's promises (at least one channel,
 * every count >= 1, valid unique names, times ascending and inside
 * [0, POINTS_TIME_MAX]), write back to a binary batch that parses to the
 * same batch (and, for binary input, to the same bytes), and bucket
 * exactly like a per-sample reference; the SVG and EDF+ writers run on it
 * (the EDF+ file's annotations read back).
 * Whatever is refused must leave the batch empty with a reason.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "biometrics/points.h"
#include "core/buf.h"
#include "core/err.h"

__extension__ typedef __int128 i128;

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_batch(const struct points_batch *b)
{
	const struct points_channel *c;
	size_t			     i, j, total = 0;

	if (b->nchannels < 1 || b->nchannels > POINTS_CHANNELS_MAX)
		abort();
	for (i = 0; i < b->nchannels; i++) {
		c = &b->ch[i];
		if (c->count < 1 || c->samples == NULL || c->name[0] == '\0' ||
		    strlen(c->name) > POINTS_NAME_MAX ||
		    strspn(c->name, "abcdefghijklmnopqrstuvwxyz0123456789_") !=
			strlen(c->name) ||
		    c->rate_mhz > POINTS_RATE_MAX)
			abort();
		for (j = 0; j < i; j++)
			if (strcmp(b->ch[j].name, c->name) == 0)
				abort();
		if ((c->rate_mhz == 0) != (c->ts_ms != NULL))
			abort();
		for (j = 0; c->ts_ms != NULL && j < c->count; j++)
			if (c->ts_ms[j] < 0 || c->ts_ms[j] > POINTS_TIME_MAX ||
			    (j > 0 && c->ts_ms[j] < c->ts_ms[j - 1]))
				abort();
		if (c->rate_mhz > 0 &&
		    (c->t0_ms < 0 ||
			points_time_us(c->t0_ms, c->rate_mhz, c->count - 1) /
				1000 >
			    POINTS_TIME_MAX))
			abort();
		total += c->count;
	}
	if (total != b->total || total > POINTS_BATCH_MAX)
		abort();
}

static void
same_batch(const struct points_batch *a, const struct points_batch *b)
{
	size_t i;

	if (a->seq != b->seq || a->nchannels != b->nchannels ||
	    a->total != b->total)
		abort();
	for (i = 0; i < a->nchannels; i++)
		if (strcmp(a->ch[i].name, b->ch[i].name) != 0 ||
		    a->ch[i].rate_mhz != b->ch[i].rate_mhz ||
		    a->ch[i].t0_ms != b->ch[i].t0_ms ||
		    a->ch[i].count != b->ch[i].count ||
		    memcmp(a->ch[i].samples, b->ch[i].samples,
			a->ch[i].count * 4) != 0 ||
		    (a->ch[i].ts_ms != NULL &&
			memcmp(a->ch[i].ts_ms, b->ch[i].ts_ms,
			    a->ch[i].count * 8) != 0))
			abort();
}

/* The bucket of time (t - from) = num / den, by the definition. */
static long
ref_bucket(const struct points_buckets *bk, i128 num, i128 den)
{
	i128 span = (i128)bk->to_ms - bk->from_ms;

	if (num < 0 || num >= span * den)
		return (-1);
	return ((long)(num * (i128)bk->n / (span * den)));
}

static void
check_buckets(const struct points_batch *b, size_t nb)
{
	const struct points_channel *c;
	struct points_buckets	     bk, ref;
	struct buf		     svg;
	int64_t			     lo = INT64_MAX, hi = INT64_MIN, t;
	size_t			     i, j;
	long			     k;

	for (i = 0; i < b->nchannels; i++) {
		c = &b->ch[i];
		t = c->ts_ms != NULL ? c->ts_ms[0] : c->t0_ms;
		lo = t < lo ? t : lo;
		t = c->ts_ms != NULL
		    ? c->ts_ms[c->count - 1]
		    : points_time_us(c->t0_ms, c->rate_mhz, c->count - 1) /
			1000;
		hi = t > hi ? t : hi;
	}
	if (points_buckets_init(&bk, lo, hi + 1, nb) != OK ||
	    points_buckets_init(&ref, lo, hi + 1, nb) != OK)
		abort();
	for (i = 0; i < b->nchannels; i++) {
		c = &b->ch[i];
		/* in two pieces, as two blocks */
		j = c->count / 2;
		points_buckets_add(
		    &bk, c->samples, j, c->ts_ms, c->t0_ms, c->rate_mhz, 0);
		points_buckets_add(&bk, c->samples + j, c->count - j,
		    c->ts_ms != NULL ? c->ts_ms + j : NULL, c->t0_ms,
		    c->rate_mhz, j);
		for (j = 0; j < c->count; j++) {
			if (c->ts_ms != NULL)
				k = ref_bucket(&ref, (i128)c->ts_ms[j] - lo, 1);
			else
				k = ref_bucket(&ref,
				    ((i128)c->t0_ms - lo) * c->rate_mhz +
					(i128)j * 1000000,
				    c->rate_mhz);
			if (k < 0)
				abort(); /* the window holds every sample */
			points_buckets_add_stats(&ref, k, 1, c->samples[j],
			    c->samples[j], c->samples[j]);
		}
	}
	for (i = 0; i < nb; i++)
		if (bk.b[i].count != ref.b[i].count ||
		    bk.b[i].sum != ref.b[i].sum ||
		    (bk.b[i].count > 0 &&
			(bk.b[i].min != ref.b[i].min ||
			    bk.b[i].max != ref.b[i].max)))
			abort();
	buf_init(&svg, 8 << 20);
	if (points_svg(&bk, 0.001, -3, b->ch[0].name, "mV", &svg) != OK)
		abort();
	buf_free(&svg);
	points_buckets_free(&bk);
	points_buckets_free(&ref);
}

/* A header field as a number (w bytes, space-padded). */
static long
edf_field_num(const char *p, size_t w)
{
	char buf[16];

	if (w >= sizeof(buf))
		abort();
	memcpy(buf, p, w);
	buf[w] = '\0';
	return (strtol(buf, NULL, 10));
}

/*
 * An EDF+C file as points_edf_write promises it: the annotations signal
 * last, labels one a signal, and in each record's annotations the
 * time-keeping TAL first, then whole TALs ("Recorded", one a run of
 * slots with samples: at least one, at most one a signal here, as no
 * slot is missing), then NULs.
 */
static void
check_edf_plus(const struct buf *out, size_t nsig)
{
	const char *h = out->data;
	long	    ns, nrec, dur, spr, recsz = 0, off = 0, r, i, j;
	long	    tals = 0;
	const char *a, *end, *nul;
	char	    want[32];

	if (out->len < 256 || memcmp(h + 192, "EDF+C", 5) != 0)
		abort();
	ns = edf_field_num(h + 252, 4);
	nrec = edf_field_num(h + 236, 8);
	dur = edf_field_num(h + 244, 8);
	if (ns != (long)nsig + 1 || nrec < 1 || dur < 1 ||
	    out->len < (size_t)(256 * (ns + 1)) ||
	    memcmp(h + 256 + 16 * (ns - 1), "EDF Annotations ", 16) != 0)
		abort();
	for (i = 0; i < ns; i++)
		for (j = 0; j < i; j++)
			if (memcmp(h + 256 + 16 * i, h + 256 + 16 * j, 16) == 0)
				abort();
	for (i = 0; i < ns; i++) {
		spr = edf_field_num(h + 256 + 216 * ns + 8 * i, 8);
		recsz += spr;
		if (i < ns - 1)
			off += spr;
	}
	if (out->len != (size_t)(256 * (ns + 1) + 2 * recsz * nrec))
		abort();
	for (r = 0; r < nrec; r++) {
		a = h + 256 * (ns + 1) + 2 * (r * recsz + off);
		end = a + 2 * (recsz - off);
		snprintf(want, sizeof(want), "+%ld\x14\x14", r * dur);
		if ((size_t)(end - a) < strlen(want) + 1 ||
		    memcmp(a, want, strlen(want) + 1) != 0)
			abort();
		a += strlen(want) + 1;
		while (a < end && *a != '\0') {
			if ((nul = memchr(a, '\0', (size_t)(end - a))) ==
				NULL ||
			    *a != '+' || nul - a < 4 || nul[-1] != 0x14 ||
			    memmem(a, (size_t)(nul - a), "\x14Recorded", 9) ==
				NULL)
				abort();
			tals++;
			a = nul + 1;
		}
		for (; a < end; a++)
			if (*a != '\0')
				abort();
	}
	if (tals < 1 || tals > (long)nsig)
		abort();
}

static void
check_edf(const struct points_batch *b)
{
	struct points_edf_signal sig[POINTS_CHANNELS_MAX];
	struct points_edf	 e;
	struct buf		 out;
	size_t			 i;
	int			 rc;

	memset(&e, 0, sizeof(e));
	memset(sig, 0, sizeof(sig));
	for (i = 0; i < b->nchannels; i++) {
		if (b->ch[i].rate_mhz == 0)
			continue;
		sig[e.nsignals].channel = b->ch[i].name;
		sig[e.nsignals].unit = "uV";
		sig[e.nsignals].scale = 0.5;
		sig[e.nsignals].rate_mhz = b->ch[i].rate_mhz;
		sig[e.nsignals].samples = b->ch[i].samples;
		sig[e.nsignals].nsamples = b->ch[i].count;
		if (e.nsignals == 0) /* the whole second it falls in */
			e.start_ms = b->ch[i].t0_ms -
			    ((b->ch[i].t0_ms % 1000) + 1000) % 1000;
		e.nsignals++;
	}
	if (e.nsignals == 0)
		return;
	e.patient = "p";
	e.recording = "r";
	e.kind = "EEG";
	e.duration_ms = 2000;
	e.signals = sig;
	buf_init(&out, 1 << 20);
	rc = points_edf_write(&e, &out);
	if (rc != OK && rc != ERR_INVALID && rc != ERR_TOO_LARGE)
		abort();
	if (rc != OK && out.len != 0)
		abort();
	if (rc == OK)
		check_edf_plus(&out, e.nsignals);
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t rates[] = { 0, 1000, 360000, 500 };
	struct points_batch   b, back;
	struct buf	      w;
	uint8_t		     *copy;
	char		      err[256];
	enum points_format    fmt;
	uint32_t	      crc;
	int		      sel, rc;

	if (size < 1)
		return (0);
	sel = data[0];
	data++;
	size--;
	fmt = sel % 3 == 0 ? POINTS_BINARY
	    : sel % 3 == 1 ? POINTS_JSON
			   : POINTS_CSV;
	if ((copy = malloc(size > 0 ? size : 1)) == NULL)
		return (0);
	memcpy(copy, data, size);
	if (fmt == POINTS_BINARY && (sel & 0x80) && size >= 4) {
		crc = points_crc32c(0, copy, size - 4);
		copy[size - 4] = (uint8_t)crc;
		copy[size - 3] = (uint8_t)(crc >> 8);
		copy[size - 2] = (uint8_t)(crc >> 16);
		copy[size - 1] = (uint8_t)(crc >> 24);
	}
	err[0] = '\0';
	rc = points_parse(fmt, copy, size, 5, rates[(sel >> 2) & 3],
	    1767225600000, &b, err, sizeof(err));
	if (rc != OK) {
		if (b.nchannels != 0 || b.total != 0 || err[0] == '\0')
			abort();
		free(copy);
		return (0);
	}
	check_batch(&b);
	buf_init(&w, 64 << 20);
	if (points_write_binary(&b, &w) != OK)
		abort();
	if (fmt == POINTS_BINARY &&
	    (w.len != size || memcmp(w.data, copy, size) != 0))
		abort();
	if (points_parse(POINTS_BINARY, (const uint8_t *)w.data, w.len, 0, 0, 0,
		&back, err, sizeof(err)) != OK)
		abort();
	same_batch(&b, &back);
	points_batch_free(&back);
	buf_free(&w);
	check_buckets(&b, 1 + (size_t)(sel >> 4));
	check_edf(&b);
	points_batch_free(&b);
	free(copy);
	return (0);
}
