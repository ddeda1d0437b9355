/*
 * Private to the points parsers: points.c (binary, the check of every
 * batch) and points_text.c (JSON, CSV).
 */
#ifndef BIOMETRICS_POINTS_INT_H
#define BIOMETRICS_POINTS_INT_H

#include <stddef.h>
#include <stdint.h>

struct points_batch;

/* Write the formatted reason into err (errlen; either may be 0/NULL)
 * and return rc. */
int points_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* 1 if s (n bytes) is a channel name: 1..POINTS_NAME_MAX of [a-z0-9_]. */
int points_name_ok(const char *s, size_t n);
/* The JSON and CSV parsers (points_text.c); see points_parse. */
int points_parse_json(const uint8_t *body, size_t len, struct points_batch *out,
    char *err, size_t errlen);
int points_parse_csv(const uint8_t *body, size_t len, uint64_t seq,
    uint32_t rate_mhz, int64_t t0_ms, struct points_batch *out, char *err,
    size_t errlen);

#endif
