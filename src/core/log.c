#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"

int log_threshold = LOG_INFO;

static const char *const log_names[] = { "debug", "info", "warn", "error",
	"off" };

int
log_level_parse(const char *s)
{
	size_t i;

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

/*
 * Buffered mode (log_buffer_start, used by serve and worker): lines below
 * warn are gathered in memory and written by a flusher thread every
 * flush_ms, or sooner when the buffer fills, so a request does not pay a
 * write(2) for its access line. A warn or error line writes what is
 * buffered and then itself at once: order is kept and problems are never
 * held back. A crash loses at most flush_ms of info lines.
 */
#define LOG_BUF_SIZE (64 * 1024)

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t  log_cv;
static pthread_t       log_thr;
static char	      *log_buf;
static size_t	       log_len;
static int	       log_flush_ms;
static int	       log_running, log_stopping;

static void log_write(const char *, size_t);

static void *
log_flusher(void *arg)
{
	struct timespec t;

	pthread_mutex_lock(&log_mu);
	while (!log_stopping) {
		time_deadline(&t, CLOCK_MONOTONIC, log_flush_ms);
		pthread_cond_timedwait(&log_cv, &log_mu, &t);
		if (log_len > 0) {
			log_write(log_buf, log_len);
			log_len = 0;
		}
	}
	pthread_mutex_unlock(&log_mu);
	return (NULL);
}

int
log_buffer_start(int flush_ms)
{
	pthread_condattr_t ca;

	if (flush_ms <= 0 || log_running)
		return (0);
	if ((log_buf = malloc(LOG_BUF_SIZE)) == NULL)
		return (-1);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&log_cv, &ca);
	pthread_condattr_destroy(&ca);
	log_flush_ms = flush_ms;
	log_stopping = 0;
	pthread_mutex_lock(&log_mu);
	log_running = 1;
	pthread_mutex_unlock(&log_mu);
	if (pthread_create(&log_thr, NULL, log_flusher, NULL) != 0) {
		pthread_mutex_lock(&log_mu);
		log_running = 0;
		pthread_mutex_unlock(&log_mu);
		pthread_cond_destroy(&log_cv);
		free(log_buf);
		log_buf = NULL;
		return (-1);
	}
	return (0);
}

void
log_buffer_stop(void)
{
	if (!log_running)
		return;
	pthread_mutex_lock(&log_mu);
	log_stopping = 1;
	pthread_cond_signal(&log_cv);
	pthread_mutex_unlock(&log_mu);
	pthread_join(log_thr, NULL);
	pthread_mutex_lock(&log_mu);
	if (log_len > 0)
		log_write(log_buf, log_len);
	log_len = 0;
	log_running = 0;
	pthread_mutex_unlock(&log_mu);
	pthread_cond_destroy(&log_cv);
	free(log_buf);
	log_buf = NULL;
}

/* Hand a formatted line to stderr, through the buffer when one runs. */
static void
log_emit(int level, const char *line, size_t n)
{
	pthread_mutex_lock(&log_mu);
	if (!log_running) {
		pthread_mutex_unlock(&log_mu);
		log_write(line, n);
		return;
	}
	if (level >= LOG_WARN || log_len + n > LOG_BUF_SIZE) {
		if (log_len > 0)
			log_write(log_buf, log_len);
		log_len = 0;
	}
	if (level >= LOG_WARN || n > LOG_BUF_SIZE)
		log_write(line, n);
	else {
		memcpy(log_buf + log_len, line, n);
		log_len += n;
	}
	pthread_mutex_unlock(&log_mu);
}

static void
log_write(const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(STDERR_FILENO, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

void
log_msg(int level, const char *fmt, ...)
{
	char	line[2048], ts[ISO_TIME_LEN];
	va_list ap;
	int	n;

	if (level < log_threshold || level >= LOG_OFF)
		return;
	n = snprintf(line, sizeof(line), "ts=%s level=%s ",
	    time_format_iso(time_now_ms(), ts), log_names[level]);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	/*
	 * Whole lines only, with write(2) rather than stdio (no FILE lock):
	 * lines from threads never interleave.
	 */
	n = (int)strlen(line);
	line[n++] = '\n';
	log_emit(level, line, (size_t)n);
}

const char *
log_quote(char *out, size_t n, const char *s)
{
	size_t o = 0;

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
