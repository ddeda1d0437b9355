/*
 * Per-request arena (h2o, lwan): allocate freely, release everything once.
 * Chunks grow geometrically; the total is capped so one request cannot
 * exhaust memory.
 */
#ifndef CORE_ARENA_H
#define CORE_ARENA_H

#include <stddef.h>

struct arena;

/* cap: most bytes this arena may hand out in total (0 = no cap). */
struct arena *arena_new(size_t cap);
void	      arena_free(struct arena *); /* accepts NULL */
/* Forget every allocation but keep the first chunk for reuse. */
void arena_reset(struct arena *);
/* Zeroed, aligned for any type; NULL past the cap or on OOM. */
void *arena_alloc(struct arena *, size_t);
char *arena_strdup(struct arena *, const char *);
char *arena_strndup(struct arena *, const char *, size_t);
char *arena_printf(struct arena *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
size_t arena_used(const struct arena *);

#endif
