/*
 * A growable byte buffer with a ceiling (curl's dynbuf): appends past the
 * ceiling fail with ERR_TOO_LARGE and leave the buffer as it was.
 * The data is always NUL-terminated for convenience.
 */
#ifndef CORE_BUF_H
#define CORE_BUF_H

#include <stddef.h>

struct buf {
	char  *data;
	size_t len;
	size_t cap; /* allocated */
	size_t max; /* ceiling on len */
};

void buf_init(struct buf *, size_t max);
void buf_free(struct buf *);  /* accepts an initialised, empty buf */
void buf_reset(struct buf *); /* len = 0, keep memory */
void buf_truncate(struct buf *, size_t len); /* shorten to len */
int  buf_append(struct buf *, const void *, size_t);
/* Room for extra more bytes (within max) without growing again. */
int buf_reserve(struct buf *, size_t extra);
int buf_puts(struct buf *, const char *);
int buf_printf(struct buf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
/* Hand the data to the caller (free() it); the buf is empty afterwards. */
char *buf_take(struct buf *, size_t *lenp);

#endif
