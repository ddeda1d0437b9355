/*
 * Small pieces with no domain knowledge: clocks, ISO 8601 times, UUIDs,
 * random bytes, hex, safe number parsing.
 */
#ifndef CORE_UTIL_H
#define CORE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define UUID_STR_LEN 37 /* 36 characters and the NUL */
#define ISO_TIME_LEN 32

/* Milliseconds since the epoch, wall clock. */
int64_t time_now_ms(void);
/* Monotonic nanoseconds, for durations. */
int64_t time_mono_ns(void);
/*
 * *ts set to ms from now on clock clk (CLOCK_MONOTONIC, or CLOCK_REALTIME:
 * the clock the condition variable waited on was made with): the deadline
 * of a pthread_cond_timedwait.
 */
struct timespec;
void time_deadline(struct timespec *ts, int clk, int64_t ms);
/*
 * UTC calendar fields of secs since the epoch, without libc's gmtime_r
 * (which takes a process-wide lock on every call). Fills tm_year (since
 * 1900), tm_mon (0-11), tm_mday, tm_hour, tm_min, tm_sec, tm_wday, tm_yday.
 */
struct tm;
void time_utc(int64_t secs, struct tm *out);
/*
 * UK civil time (Europe/London), for dates a UK business reads in its own
 * zone. Computed by the rule in force since 1996 (the Summer Time Act 1972
 * as amended: British Summer Time, UTC+1, from 01:00 UTC on the last
 * Sunday of March to 01:00 UTC on the last Sunday of October), applied to
 * every year, not read from the system's time zone database. Pure.
 *
 * time_london_offset_ms: London's offset from UTC at instant ms (0 or
 * 3600000). time_london_day: the London calendar day of instant ms, as
 * days since 1970-01-01. time_london_day_start: the instant London's day
 * `day` (days since 1970-01-01) begins.
 */
#define TIME_DAY_MS 86400000LL
int64_t time_london_offset_ms(int64_t ms);
int64_t time_london_day(int64_t ms);
int64_t time_london_day_start(int64_t day);
/* "2026-11-22T03:05:36.123Z" into out (ISO_TIME_LEN). */
char *time_format_iso(int64_t ms, char *out);
/*
 * Parse ISO 8601 / RFC 3339 (date, date-time, with Z or offset); 0 = ok.
 * The instant must fall in years 0001 to 9999 UTC (an offset can move a
 * time at either end outside them), so that time_format_iso writes it
 * back in the same form.
 */
#define ISO_TIME_MIN_MS (-62135596800000LL) /* 0001-01-01T00:00:00Z */
#define ISO_TIME_END_MS 253402300800000LL   /* 10000-01-01T00:00:00Z */
int time_parse_iso(const char *s, int64_t *ms);

/* A time-ordered UUIDv7 as 36 lower-case characters into out. */
char *uuid_v7(char *out);
/* 1 if s is a well-formed UUID string. */
int uuid_valid(const char *s);
/* What uuid_valid takes, as a field's pattern (resource.h). */
#define UUID_PATTERN                                                           \
	"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-"        \
	"[0-9A-Fa-f]{12}$"

/*
 * The code point of the UTF-8 character at s (n > 0 bytes left) in *cp;
 * its length, or 0 when it is not well formed (overlong, a surrogate,
 * past U+10FFFF, cut short).
 */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
/*
 * src into dst (size > 0 bytes, NUL included), cut when longer at the
 * start of a character, so that a well-formed src stays well formed.
 */
void utf8_copy(char *dst, size_t size, const char *src);
/* s cut to at most max bytes at the start of a character. */
void utf8_cut(char *s, size_t max);
/*
 * 1 for a code point that shows nothing or changes how text around it
 * shows: the no-break and other Unicode spaces, soft hyphen, zero-width
 * characters and direction marks, line and paragraph separators, the bidi
 * embeddings, overrides and isolates, variation selectors, the byte-order
 * mark and the tags. (C0 and C1 controls are not in it: see text_check.)
 */
int unicode_invisible(uint32_t c);
/*
 * Text a person writes, as UTF-8 (jansson's strings are): TEXT_OK, or
 * TEXT_CONTROL when it holds a control character other than tab, line feed
 * and carriage return (C0, DEL, C1), or TEXT_BLANK when nothing in it
 * shows (only ASCII blanks and unicode_invisible ones).
 */
enum { TEXT_OK = 0, TEXT_BLANK, TEXT_CONTROL };
int text_check(const char *s);

/* Cryptographically secure random bytes (libsodium). */
void random_bytes(void *, size_t);
/* Uniform in [0, upper). */
uint32_t random_uniform(uint32_t upper);

/* Lower-case hex of n bytes into out (2n+1). */
char *hex_encode(const void *, size_t n, char *out);
/* 0 on success; fails on odd length or bad digits. */
int hex_decode(const char *s, void *out, size_t outcap, size_t *outlen);

/* Strict integer parsing: whole string, base 10, in [min, max]; 0 = ok. */
int parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);

/* Bounded copy that always terminates; returns strlen(src). */
size_t strlcpy_cb(char *dst, const char *src, size_t size);

#endif
