/*
 * Cron expressions for recurring jobs: five fields (minute hour
 * day-of-month month day-of-week), each a comma list of "*", "N" or
 * "N-M", any of them with "/step" ("N/step" means N to the field's end).
 * The macros @hourly, @daily (@midnight), @weekly, @monthly and @yearly
 * (@annually) stand for their usual expansions. Times are UTC.
 *
 * Day matching follows Vixie cron: when both day-of-month and day-of-week
 * are restricted (neither field starts with '*'), a day matches if either
 * does; otherwise both must.
 */
#include <stdint.h>
#include <string.h>

#include "core/err.h"
#include "store/jobs.h"

#define CRON_MAX_LEN 256
#define CRON_YEARS   5
#define MS_PER_MIN   60000LL
#define MS_PER_DAY   86400000LL
/* cron_next works between 1970 and about the year 9000. */
#define CRON_MAX_MS (253402300799999LL - 1000LL * MS_PER_DAY * 366)

struct cron_field {
	int min, max;
};

static const struct cron_field cron_fields[5] = { { 0, 59 }, { 0, 23 },
	{ 1, 31 }, { 1, 12 }, { 0, 7 } };

static const struct {
	const char *name;
	const char *expr;
} cron_macros[] = {
	{ "@yearly", "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
	{ "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" },
	{ "@daily", "0 0 * * *" },
	{ "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

static int cron_number(const char **, int *);
static int cron_item(const char **, const struct cron_field *, uint64_t *);
static int cron_list(
    const char *, size_t, const struct cron_field *, uint64_t *);
static int     cron_leap(int64_t);
static int     cron_mdays(int64_t, int);
static int64_t cron_days_from_civil(int64_t, int, int);
static void    cron_civil_from_days(int64_t, int64_t *, int *, int *);
static int     cron_day_ok(const struct cron *, int, int64_t);

/* At most three digits, so no overflow is possible. */
static int
cron_number(const char **sp, int *out)
{
	const char *s = *sp;
	int	    v = 0, n = 0;

	while (*s >= '0' && *s <= '9') {
		if (++n > 3)
			return (ERR_INVALID);
		v = v * 10 + (*s++ - '0');
	}
	if (n == 0)
		return (ERR_INVALID);
	*sp = s;
	*out = v;
	return (OK);
}

/* One item of a list: "*", "N", "N-M", each with an optional "/step". */
static int
cron_item(const char **sp, const struct cron_field *f, uint64_t *bits)
{
	const char *s = *sp;
	int	    lo, hi, step = 1, v, ranged = 0;

	if (*s == '*') {
		lo = f->min;
		hi = f->max;
		s++;
	} else {
		if (cron_number(&s, &lo) != OK)
			return (ERR_INVALID);
		hi = lo;
		if (*s == '-') {
			s++;
			if (cron_number(&s, &hi) != OK)
				return (ERR_INVALID);
			ranged = 1;
		}
	}
	if (*s == '/') {
		s++;
		if (cron_number(&s, &step) != OK || step == 0)
			return (ERR_INVALID);
		if (*(*sp) != '*' && !ranged)
			hi = f->max; /* "N/step" */
	}
	if (lo < f->min || hi > f->max || lo > hi || step > f->max - f->min + 1)
		return (ERR_INVALID);
	for (v = lo; v <= hi; v += step)
		*bits |= (uint64_t)1 << v;
	*sp = s;
	return (OK);
}

static int
cron_list(const char *s, size_t len, const struct cron_field *f, uint64_t *bits)
{
	const char *end = s + len;

	*bits = 0;
	for (;;) {
		if (cron_item(&s, f, bits) != OK)
			return (ERR_INVALID);
		if (s == end)
			return (OK);
		if (*s != ',')
			return (ERR_INVALID);
		s++;
	}
}

int
cron_parse(const char *expr, struct cron *out)
{
	const char *s, *start[5];
	size_t	    len[5], i, n = 0;
	uint64_t    bits[5];

	if (expr == NULL || strnlen(expr, CRON_MAX_LEN + 1) > CRON_MAX_LEN)
		return (ERR_INVALID);
	s = expr;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '@') {
		size_t	    l = strcspn(s, " \t");
		const char *rest = s + l;

		while (*rest == ' ' || *rest == '\t')
			rest++;
		if (*rest != '\0')
			return (ERR_INVALID);
		for (i = 0; i < sizeof(cron_macros) / sizeof(cron_macros[0]);
		     i++)
			if (strlen(cron_macros[i].name) == l &&
			    strncmp(s, cron_macros[i].name, l) == 0)
				return (cron_parse(cron_macros[i].expr, out));
		return (ERR_INVALID);
	}
	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0')
			break;
		if (n == 5)
			return (ERR_INVALID);
		start[n] = s;
		while (*s != '\0' && *s != ' ' && *s != '\t')
			s++;
		len[n] = (size_t)(s - start[n]);
		n++;
	}
	if (n != 5)
		return (ERR_INVALID);
	for (i = 0; i < 5; i++)
		if (cron_list(start[i], len[i], &cron_fields[i], &bits[i]) !=
		    OK)
			return (ERR_INVALID);
	memset(out, 0, sizeof(*out));
	out->minute = bits[0];
	out->hour = (uint32_t)bits[1];
	out->dom = (uint32_t)bits[2];
	out->month = (uint16_t)bits[3];
	if (bits[4] & ((uint64_t)1 << 7))
		bits[4] |= 1; /* 7 is Sunday too */
	out->dow = (uint8_t)(bits[4] & 0x7f);
	out->dom_any = start[2][0] == '*';
	out->dow_any = start[4][0] == '*';
	return (OK);
}

static int
cron_leap(int64_t y)
{
	return ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0);
}

static int
cron_mdays(int64_t y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
		30, 31 };

	return (m == 2 && cron_leap(y) ? 29 : days[m - 1]);
}

/* Days since 1970-01-01 (Howard Hinnant's algorithm); y >= 1. */
static int64_t
cron_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = y / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (era * 146097 + doe - 719468);
}

static void
cron_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = z / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int
cron_day_ok(const struct cron *c, int d, int64_t days)
{
	int wd, dom_ok, dow_ok;

	wd = (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday */
	dom_ok = (c->dom >> d) & 1;
	dow_ok = (c->dow >> wd) & 1;
	if (c->dom_any || c->dow_any)
		return (dom_ok && dow_ok);
	return (dom_ok || dow_ok);
}

int64_t
cron_next(const struct cron *c, int64_t after_ms)
{
	int64_t t, days, y, ylimit, rem;
	int	m, d, h, mi;

	if (after_ms < 0 || after_ms > CRON_MAX_MS)
		return (-1);
	t = after_ms / MS_PER_MIN + 1; /* next whole minute */
	days = t / 1440;
	rem = t % 1440;
	h = (int)(rem / 60);
	mi = (int)(rem % 60);
	cron_civil_from_days(days, &y, &m, &d);
	ylimit = y + CRON_YEARS;

	while (y <= ylimit) {
		if (!((c->month >> m) & 1)) {
			if (++m > 12) {
				m = 1;
				y++;
			}
			d = 1;
			h = mi = 0;
			continue;
		}
		days = cron_days_from_civil(y, m, d);
		if (!cron_day_ok(c, d, days)) {
			if (++d > cron_mdays(y, m)) {
				d = 1;
				if (++m > 12) {
					m = 1;
					y++;
				}
			}
			h = mi = 0;
			continue;
		}
		for (; h < 24; h++, mi = 0) {
			if (!((c->hour >> h) & 1))
				continue;
			for (; mi < 60; mi++)
				if ((c->minute >> mi) & 1)
					return ((days * 1440 + h * 60 + mi) *
					    MS_PER_MIN);
		}
		/* nothing left today */
		if (++d > cron_mdays(y, m)) {
			d = 1;
			if (++m > 12) {
				m = 1;
				y++;
			}
		}
		h = mi = 0;
	}
	return (-1);
}
