#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "core/util.h"

static int     parse_digits(const char **, int, int *);
static void    put_digits(char *, int, int);
static int64_t floor_div(int64_t, int64_t);
static int64_t days_from_civil(int64_t y, int m, int d);
static int64_t last_sunday(int64_t y, int m);

int64_t
time_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

int64_t
time_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

void
time_deadline(struct timespec *ts, int clk, int64_t ms)
{
	clock_gettime((clockid_t)clk, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

void
time_utc(int64_t secs, struct tm *out)
{
	/* Howard Hinnant's civil_from_days, valid for any proleptic date. */
	int64_t days = secs / 86400, rem = secs % 86400, z, era, doe, yoe;
	int64_t y, doy, mp, d, m;

	if (rem < 0) {
		rem += 86400;
		days -= 1;
	}
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	if (m <= 2)
		y++;
	memset(out, 0, sizeof(*out));
	out->tm_year = (int)(y - 1900);
	out->tm_mon = (int)(m - 1);
	out->tm_mday = (int)d;
	out->tm_hour = (int)(rem / 3600);
	out->tm_min = (int)(rem % 3600 / 60);
	out->tm_sec = (int)(rem % 60);
	out->tm_wday =
	    (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday */
	/* day of the year from 1 January */
	out->tm_yday = (int)(doy >= 306 ? doy - 306
					: doy + 59 +
		    (((y % 4 == 0 && y % 100 != 0) || y % 400 == 0) ? 1 : 0));
}

/* a / d rounded toward minus infinity, for d > 0. */
static int64_t
floor_div(int64_t a, int64_t d)
{
	return (a >= 0 ? a / d : -((-a + d - 1) / d));
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil, time_utc's inverse). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (era * 146097 + doe - 719468);
}

/* The day (since the epoch) of the last Sunday of month m of year y, a
 * month of 31 days (March, October). */
static int64_t
last_sunday(int64_t y, int m)
{
	int64_t last = days_from_civil(y, m, 31);

	/* 1970-01-01 was a Thursday: a day's weekday, Sunday 0, is
	 * (day + 4) mod 7. */
	return (last - ((last + 4) % 7 + 7) % 7);
}

int64_t
time_london_offset_ms(int64_t ms)
{
	struct tm tm;
	int64_t	  y, on, off;

	time_utc(floor_div(ms, 1000), &tm);
	y = (int64_t)tm.tm_year + 1900;
	on = last_sunday(y, 3) * TIME_DAY_MS + 3600000;
	off = last_sunday(y, 10) * TIME_DAY_MS + 3600000;
	return (ms >= on && ms < off ? 3600000 : 0);
}

int64_t
time_london_day(int64_t ms)
{
	return (floor_div(ms + time_london_offset_ms(ms), TIME_DAY_MS));
}

int64_t
time_london_day_start(int64_t day)
{
	int64_t utc = day * TIME_DAY_MS;

	/* London's midnight is UTC's, or 23:00 UTC the day before in summer
	 * time; the clocks change at 01:00 UTC, so the offset an hour before
	 * UTC's midnight is the one in force at London's. */
	return (utc - time_london_offset_ms(utc - 3600000));
}

char *
time_format_iso(int64_t ms, char *out)
{
	time_t	  secs;
	int64_t	  frac;
	struct tm tm;
	char	  tmp[80];

	secs = (time_t)(ms / 1000);
	frac = ms % 1000;
	if (frac < 0) {
		frac += 1000;
		secs -= 1;
	}
	time_utc((int64_t)secs, &tm);
	if (tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
		snprintf(tmp, sizeof(tmp),
		    "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		    (int)frac);
		strlcpy_cb(out, tmp, ISO_TIME_LEN);
		return (out);
	}
	/* The common case without printf: it is on every response. */
	put_digits(out, tm.tm_year + 1900, 4);
	out[4] = '-';
	put_digits(out + 5, tm.tm_mon + 1, 2);
	out[7] = '-';
	put_digits(out + 8, tm.tm_mday, 2);
	out[10] = 'T';
	put_digits(out + 11, tm.tm_hour, 2);
	out[13] = ':';
	put_digits(out + 14, tm.tm_min, 2);
	out[16] = ':';
	put_digits(out + 17, tm.tm_sec, 2);
	out[19] = '.';
	put_digits(out + 20, (int)frac, 3);
	out[23] = 'Z';
	out[24] = '\0';
	return (out);
}

/* v (0 <= v < 10^n) as exactly n decimal digits. */
static void
put_digits(char *p, int v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

static int
parse_digits(const char **sp, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*sp)[i]))
			return (-1);
		v = v * 10 + ((*sp)[i] - '0');
	}
	*sp += n;
	*out = v;
	return (0);
}

int
time_parse_iso(const char *s, int64_t *ms)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30,
		31 };
	struct tm	 tm;
	int		 y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, fdig = 0;
	int		 oh, om, sign, off = 0;
	int64_t		 t;

	if (s == NULL)
		return (-1);
	if (parse_digits(&s, 4, &y) || *s++ != '-' ||
	    parse_digits(&s, 2, &mo) || *s++ != '-' || parse_digits(&s, 2, &d))
		return (-1);
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
		return (-1);
	if (mo == 2 && d == 29 &&
	    !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return (-1);
	if (*s == 'T' || *s == 't' || *s == ' ') {
		s++;
		if (parse_digits(&s, 2, &h) || *s++ != ':' ||
		    parse_digits(&s, 2, &mi))
			return (-1);
		if (*s == ':') {
			s++;
			if (parse_digits(&s, 2, &sec))
				return (-1);
			if (*s == '.') {
				s++;
				while (isdigit((unsigned char)*s)) {
					if (fdig < 3) {
						frac = frac * 10 + (*s - '0');
						fdig++;
					}
					s++;
				}
				if (fdig == 0)
					return (-1);
				while (fdig < 3) {
					frac *= 10;
					fdig++;
				}
			}
		}
		if (h > 23 || mi > 59 || sec > 60)
			return (-1);
		if (*s == 'Z' || *s == 'z')
			s++;
		else if (*s == '+' || *s == '-') {
			sign = (*s == '-') ? -1 : 1;
			s++;
			if (parse_digits(&s, 2, &oh))
				return (-1);
			if (*s == ':')
				s++;
			if (parse_digits(&s, 2, &om) || oh > 23 || om > 59)
				return (-1);
			off = sign * (oh * 60 + om);
		} else
			return (-1);
	}
	if (*s != '\0')
		return (-1);
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = ((int64_t)timegm(&tm) - (int64_t)off * 60) * 1000 + frac;
	if (t < ISO_TIME_MIN_MS || t >= ISO_TIME_END_MS)
		return (-1);
	*ms = t;
	return (0);
}

/*
 * Identifiers are not secrets, but they must not collide or be guessed in
 * sequence: their 74 random bits come from the system CSPRNG, drawn 4 KiB
 * at a time into a per-thread pool so a request does not pay a getrandom
 * call for its id (carebase never forks, so no two processes share a pool).
 */
static _Thread_local unsigned char uuid_pool[4096];
static _Thread_local size_t	   uuid_pool_off = sizeof(uuid_pool);

char *
uuid_v7(char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char	  b[16];
	uint64_t	  ms = (uint64_t)time_now_ms();
	int		  i, o;

	if (uuid_pool_off + 10 > sizeof(uuid_pool)) {
		randombytes_buf(uuid_pool, sizeof(uuid_pool));
		uuid_pool_off = 0;
	}
	memcpy(b + 6, uuid_pool + uuid_pool_off, 10);
	sodium_memzero(uuid_pool + uuid_pool_off, 10);
	uuid_pool_off += 10;
	b[0] = (unsigned char)(ms >> 40);
	b[1] = (unsigned char)(ms >> 32);
	b[2] = (unsigned char)(ms >> 24);
	b[3] = (unsigned char)(ms >> 16);
	b[4] = (unsigned char)(ms >> 8);
	b[5] = (unsigned char)ms;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x70);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	for (i = 0, o = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 0x0f];
	}
	out[o] = '\0';
	return (out);
}

int
uuid_valid(const char *s)
{
	int i;

	if (s == NULL)
		return (0);
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return (0);
		} else if (!isxdigit((unsigned char)s[i]))
			return (0);
	}
	return (s[36] == '\0');
}

void
random_bytes(void *p, size_t n)
{
	randombytes_buf(p, n);
}

uint32_t
random_uniform(uint32_t upper)
{
	return (randombytes_uniform(upper));
}

char *
hex_encode(const void *p, size_t n, char *out)
{
	static const char    digits[] = "0123456789abcdef";
	const unsigned char *b = p;
	size_t		     i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
	return (out);
}

int
hex_decode(const char *s, void *out, size_t outcap, size_t *outlen)
{
	size_t bin_len;

	if (sodium_hex2bin(out, outcap, s, strlen(s), NULL, &bin_len, NULL) !=
	    0)
		return (-1);
	if (bin_len * 2 != strlen(s))
		return (-1);
	if (outlen != NULL)
		*outlen = bin_len;
	return (0);
}

int
parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char	 *end;
	long long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return (-1);
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return (-1);
	*out = v;
	return (0);
}

size_t
strlcpy_cb(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size > 0) {
		size_t c = n >= size ? size - 1 : n;

		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return (n);
}

size_t
utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t	 len, i;

	if (c < 0x80) {
		*cp = c;
		return (1);
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		c &= 0x07;
		min = 0x10000;
	} else
		return (0);
	if (n < len)
		return (0);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return (0);
	*cp = c;
	return (len);
}

int
unicode_invisible(uint32_t c)
{
	return (c == 0xa0 || c == 0xad || c == 0x34f || c == 0x61c ||
	    c == 0x115f || c == 0x1160 || c == 0x1680 || c == 0x180e ||
	    (c >= 0x2000 && c <= 0x200f) || (c >= 0x2028 && c <= 0x202f) ||
	    (c >= 0x205f && c <= 0x206f) || c == 0x3000 || c == 0x3164 ||
	    (c >= 0xfe00 && c <= 0xfe0f) || c == 0xfeff || c == 0xffa0 ||
	    (c >= 0xfff0 && c <= 0xfffb) || (c >= 0xe0000 && c <= 0xe0fff));
}

int
text_check(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t	     c;
	int		     shown = 0, more;

	while (*p != '\0') {
		c = *p;
		more = c < 0x80 ? 0 : c < 0xe0 ? 1 : c < 0xf0 ? 2 : 3;
		if (more > 0)
			c &= 0x3f >> more;
		for (p++; more > 0 && (*p & 0xc0) == 0x80; more--, p++)
			c = (c << 6) | (*p & 0x3f);
		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') ||
		    (c >= 0x7f && c <= 0x9f))
			return (TEXT_CONTROL);
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r' &&
		    !unicode_invisible(c))
			shown = 1;
	}
	return (shown ? TEXT_OK : TEXT_BLANK);
}

void
utf8_copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size) {
		/* Back to the start of the character the cut falls in. */
		n = size - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void
utf8_cut(char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return;
	/* Back to the start of a character. */
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	s[max] = '\0';
}
