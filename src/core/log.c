#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/util.h"

int	log_threshold = LOG_INFO;

static const char *const log_names[] = {"debug", "info", "warn", "error", "off"};

int
log_level_parse(const char *s)
{
	size_t	 i;

	for (i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++)
		if (strcmp(s, log_names[i]) == 0)
			return ((int)i);
	return (-1);
}

void
log_set_level(int level)
{
	log_threshold = level;
}

void
log_msg(int level, const char *fmt, ...)
{
	char		 line[2048];
	struct timespec	 now;
	struct tm	 tm;
	va_list		 ap;
	int		 n;

	if (level < log_threshold || level >= LOG_OFF)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	time_utc((int64_t)now.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
	    "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, now.tv_nsec / 1000000, log_names[level]);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	/* One write per line so lines from threads do not interleave. */
	n = (int)strlen(line);
	line[n++] = '\n';
	fwrite(line, 1, (size_t)n, stderr);
}

const char *
log_quote(char *out, size_t n, const char *s)
{
	size_t	 o = 0;

	if (n < 3) {
		if (n > 0)
			out[0] = '\0';
		return (out);
	}
	out[o++] = '"';
	for (; s != NULL && *s != '\0' && o + 3 < n; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f)
			out[o++] = '?';
		else
			out[o++] = (char)c;
	}
	out[o++] = '"';
	out[o] = '\0';
	return (out);
}
