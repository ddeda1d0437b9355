/*
 * The pages of lists each serving process keeps read (list_cache.c), of
 * the resources that say so (RESOURCE_LIST_CACHE).
 */
#ifndef RESOURCE_LIST_CACHE_H
#define RESOURCE_LIST_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct store;
struct tx;
struct request;

/*
 * What a page was read under: the change clock (PostgreSQL, before the
 * list's transaction begins: tx NULL) or the count of writes (SQLite, as
 * the first statement of the list's read transaction tx, after a call
 * with tx NULL, which starts the cache). OK with *stamp
 * set when a page may be kept and taken; ERR_UNAVAILABLE when not (the
 * cache off, not started yet, its listener not listening, migration 0057
 * pending), and the list is read as without the cache.
 */
int list_cache_stamp(struct store *, struct tx *, int64_t *stamp);

/*
 * Started (a request's first call, before it holds a transaction: the
 * start reads in one of its own), or tried again when a start failed a
 * while ago.
 */
void list_cache_start(struct store *);

/*
 * PostgreSQL: the change clock (OK, *stamp) while its listener listens,
 * never starting anything: what a process keeps of a row that only
 * carebase's told writes change (the permissions' epoch, the keys'
 * epoch) is taken again while the clock is still what it was when the
 * row was read, for list_cache_ttl_ms at most. ERR_UNAVAILABLE on SQLite,
 * before the start, with the cache off, or the listener not listening.
 */
int list_cache_clock(struct store *, int64_t *stamp);

/*
 * The page kept under key and stamp, not older than list_cache_ttl_ms:
 * OK with its body copied into req's arena (*body, *len) and the audit
 * row its read stands for (*changes as audit_changes_text made it,
 * *entity its entity id; NULL when none), ERR_NOT_FOUND when none is.
 */
int list_cache_get(struct request *, const char *key, size_t keylen,
    int64_t stamp, const char **body, size_t *len, const char **changes,
    const char **entity);

/* Keep a page read under stamp, with its audit row's changes text and
 * entity id (copied; either may be NULL). */
void list_cache_put(const char *key, size_t keylen, int64_t stamp,
    const char *body, size_t len, const char *changes, const char *entity);

/* At the end of serve: the listener stopped, every page wiped. */
void list_cache_stop(void);

/* GET /metrics: carebase_list_cache_*. */
int list_cache_metrics(struct buf *);

#endif
