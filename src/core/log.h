/*
 * Structured logs: one line per event, logfmt (key=value), to stderr.
 * Levels are checked before anything is formatted. Never pass personal
 * data or secrets to these functions.
 */
#ifndef CORE_LOG_H
#define CORE_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

extern int log_threshold;

/* "debug", "info", "warn", "error", "off" -> level; -1 if unknown. */
int  log_level_parse(const char *);
void log_set_level(int);
/*
 * fmt is the rest of the line after "ts=... level=...", e.g.
 * log_msg(LOG_INFO, "event=start port=%d", port). Values that may hold
 * spaces must be quoted by the caller with log_quote().
 */
void log_msg(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * Gather lines below warn in memory and write them every flush_ms from a
 * thread (serve and worker); warn and error lines are written at once.
 * flush_ms <= 0 leaves every line written as it comes. Returns -1 if the
 * thread could not start (lines are then written as they come).
 */
int log_buffer_start(int flush_ms);
/* Write what is buffered and stop the thread. */
void log_buffer_stop(void);
/* Copy s into out (size n) as a logfmt value: quoted, escaped, cut. */
const char *log_quote(char *out, size_t n, const char *s);

#define log_debug(...)                                                         \
	do {                                                                   \
		if (log_threshold <= LOG_DEBUG)                                \
			log_msg(LOG_DEBUG, __VA_ARGS__);                       \
	} while (0)
#define log_info(...)                                                          \
	do {                                                                   \
		if (log_threshold <= LOG_INFO)                                 \
			log_msg(LOG_INFO, __VA_ARGS__);                        \
	} while (0)
#define log_warn(...)                                                          \
	do {                                                                   \
		if (log_threshold <= LOG_WARN)                                 \
			log_msg(LOG_WARN, __VA_ARGS__);                        \
	} while (0)
#define log_error(...)                                                         \
	do {                                                                   \
		if (log_threshold <= LOG_ERROR)                                \
			log_msg(LOG_ERROR, __VA_ARGS__);                       \
	} while (0)

#endif
