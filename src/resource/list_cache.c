/*
 * The pages of lists each serving process keeps read: the answer to a
 * GET of a list of a resource that says so (RESOURCE_LIST_CACHE), kept
 * under what was asked (resource, scope, caller, role, path and query
 * string) and under what the database was when it was read, in a table
 * of list_cache_size slots direct-mapped by the key's hash (a collision
 * replaces the older page), list_cache_bytes of bodies at most.
 *
 * A page is answered again only while no write has been told since it
 * was read (store.h "Writes told"):
 *
 *   PostgreSQL  every write transaction carebase commits that wrote
 *               anything, in any process, sends NOTIFY carebase_changes
 *               with its COMMIT;
 *               each serving process LISTENs on a connection of its own
 *               (the session cache's URL and heartbeat) and moves its
 *               change clock at each one, as it does at each write of
 *               its own once committed. A page holds the clock read
 *               before its transaction began. While the listener is not
 *               listening, or its heartbeat is late, no page is taken,
 *               and the clock moves when it stops and starts (what was
 *               told meanwhile is lost). Another process's write is
 *               honoured once its notification arrives (milliseconds);
 *   SQLite      the same writes add one to data_changes.n in their
 *               transaction (migration 0057), whatever process makes
 *               them; a page holds the n its read transaction began with
 *               and is taken only in a transaction that reads the same n
 *               (one cheap read a list).
 *
 * The audit writer's appends of read audit rows and the sessions' last
 * activity are the writes not told (STORE_TX_UNMARKED): no kept list is
 * of audit rows or sessions. A change made
 * by hand, outside carebase, is not told: a page is answered for
 * list_cache_ttl_ms at most. A taken page is audited as the read it
 * stands for (the same ids), on the request's own audit row.
 *
 * Pages hold opened personal and health fields: each is wiped when it
 * goes (replaced; too old or read before a write told, at the next list
 * a second later at most, or at once when the bytes are full; too old,
 * by the sweeper once a second even when no list is asked for; at the
 * end of serve; when the cache goes off).
 */
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "resource/list_cache.h"
#include "store/migrate.h"
#include "store/store.h"

#define START_RETRY_MS 1000	  /* a start that failed is tried again */
#define PAGE_MAX       (1u << 20) /* a bigger page is not kept */
#define MIGRATION      "0057_list_cache"

struct page {
	uint64_t hash;
	char	*key; /* NULL: the slot is empty */
	size_t	 keylen;
	char	*body;
	size_t	 len;
	/* The audit row's changes and entity id, each ended by a NUL (both
	 * empty: the page's read is audited by no row). */
	char   *audit;
	size_t	auditlen;
	int64_t stamp;
	int64_t at_ms; /* monotonic, when kept */
};

static pthread_mutex_t	      start_mu = PTHREAD_MUTEX_INITIALIZER;
static int		      settled; /* started, or off for good */
static int		      said;    /* a failed start was logged */
static int64_t		      retry_at;
static struct store_listener *listener;
static atomic_int	      done; /* settled, read without start_mu */

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct page    *pages; /* under cache_mu */
static size_t	       npages;
static size_t	       bytes;	 /* kept bodies and ids, under cache_mu */
static int64_t	       swept_ms; /* under cache_mu */
static atomic_int      usable;
static atomic_ullong   hits, misses, kept, refused;

/*
 * The sweeper: pages past list_cache_ttl_ms wiped every SWEEP_MS even
 * while no list is asked for, so an idle process keeps no page of health
 * data much past its time (a request's sweep alone waited for the next
 * list). Started with the pages, ended by list_cache_stop.
 */
static pthread_mutex_t sweeper_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t  sweeper_cv; /* on the monotonic clock, while on */
static pthread_t       sweeper;
static int	       sweeper_on, sweeper_stop; /* under sweeper_mu */

static void  start(struct store *);
static void  sweeper_start(void);
static void *sweeper_main(void *);
static void  wipe_all(void);
static void  sweep_locked(int64_t, int64_t, int);
static void  wipe_stale_locked(int64_t, int64_t);
static void  page_wipe(struct page *);
static void  on_note(const char *, void *);
static void  on_state(int, void *);

static int64_t
mono_ms(void)
{
	return (time_mono_ns() / 1000000);
}

/* FNV-1a, 64 bits. */
static uint64_t
key_hash(const char *key, size_t n)
{
	uint64_t h = 14695981039346656037ull;
	size_t	 i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)key[i]) * 1099511628211ull;
	return (h);
}

/*
 * Started by the first lists (list_cache_stamp) until it has: a start
 * that failed for a moment is tried again START_RETRY_MS later, and a
 * pending migration 0057 looked for again as often. One caller at a
 * time; the others go on without the cache meanwhile.
 */
static void
start(struct store *db)
{
	const char *why = NULL;
	size_t	    n = 1;
	int64_t	    now;
	int	    rc;

	if (atomic_load(&done) || pthread_mutex_trylock(&start_mu) != 0)
		return;
	now = mono_ms();
	if (settled || now < retry_at)
		goto out;
	if (config.list_cache_size <= 0 || config.list_cache_ttl_ms <= 0 ||
	    config.list_cache_bytes <= 0) {
		settled = 1;
		goto out;
	}
	if (pages == NULL) {
		while (n < (size_t)config.list_cache_size)
			n <<= 1;
		pthread_mutex_lock(&cache_mu);
		pages = calloc(n, sizeof(*pages));
		npages = pages != NULL ? n : 0;
		pthread_mutex_unlock(&cache_mu);
		if (pages == NULL) {
			log_warn("event=list_cache_off reason=nomem");
			settled = 1;
			goto out;
		}
		sweeper_start();
	}
	if ((rc = migrate_applied(db, MIGRATION)) != OK)
		why = rc == ERR_NOT_FOUND ? "migration_0057_pending"
					  : err_code(rc);
	else if (store_dialect(db) != STORE_POSTGRES) {
		/* On again (0057 undone, then applied): nothing kept from
		 * before, whose count may come round again. */
		wipe_all();
		atomic_store(&usable, 1);
	}
	/* Used once the listener listens (on_state). */
	else if ((rc = store_listen(db, STORE_CHANGES_CHANNEL,
		      config.session_cache_listen_url,
		      (int)config.session_cache_heartbeat_ms, on_note, on_state,
		      db, &listener)) != OK)
		why = err_code(rc);
	if (why == NULL) {
		settled = 1;
		if (said)
			log_info("event=list_cache_on");
	} else {
		if (!said)
			log_warn("event=list_cache_off reason=%s retry_ms=%d",
			    why, START_RETRY_MS);
		said = 1;
		retry_at = now + START_RETRY_MS;
	}
out:
	if (settled)
		atomic_store(&done, 1);
	pthread_mutex_unlock(&start_mu);
}

/* A write told by some process (the payload says nothing more). */
static void
on_note(const char *payload, void *arg)
{
	(void)payload;
	store_changes_bump(arg);
}

/* Listening (live 1) or not: either way what was read before is older
 * than what may since have been told and lost. */
static void
on_state(int live, void *arg)
{
	store_changes_bump(arg);
	atomic_store(&usable, live);
	if (!live)
		wipe_all();
}

void
list_cache_start(struct store *db)
{
	if (!atomic_load(&done))
		start(db);
}

int
list_cache_clock(struct store *db, int64_t *stamp)
{
	*stamp = -1;
	if (store_dialect(db) != STORE_POSTGRES || !atomic_load(&usable))
		return (ERR_UNAVAILABLE);
	*stamp = (int64_t)store_changes_clock(db);
	return (atomic_load(&usable) ? OK : ERR_UNAVAILABLE);
}

int
list_cache_stamp(struct store *db, struct tx *tx, int64_t *stamp)
{
	int rc;

	*stamp = -1;
	/* Never with a transaction held: the start reads in one of its
	 * own. */
	if (tx == NULL && !atomic_load(&done))
		start(db);
	if (!atomic_load(&usable))
		return (ERR_UNAVAILABLE);
	if (store_dialect(db) == STORE_POSTGRES) {
		if (tx != NULL)
			return (ERR_UNAVAILABLE);
		*stamp = (int64_t)store_changes_clock(db);
		/* Read after the clock: a listener lost between the two
		 * moved the clock, and the stamp is an old one. */
		return (atomic_load(&usable) ? OK : ERR_UNAVAILABLE);
	}
	if (tx == NULL)
		return (ERR_UNAVAILABLE);
	if ((rc = store_changes_count(tx, stamp)) != OK) {
		/* The table went (0057 undone): off, and looked for again
		 * as at the start. */
		if (atomic_exchange(&usable, 0)) {
			log_warn("event=list_cache_off reason=no_count");
			wipe_all();
			pthread_mutex_lock(&start_mu);
			settled = 0;
			said = 1;
			retry_at = mono_ms() + START_RETRY_MS;
			atomic_store(&done, 0);
			pthread_mutex_unlock(&start_mu);
		}
		return (ERR_UNAVAILABLE);
	}
	return (OK);
}

/* Every page gone (the cache going off, or on again). */
static void
wipe_all(void)
{
	size_t i;

	pthread_mutex_lock(&cache_mu);
	for (i = 0; i < npages; i++)
		page_wipe(&pages[i]);
	pthread_mutex_unlock(&cache_mu);
}

/*
 * Under cache_mu: every page that can no longer be taken wiped (read
 * under a stamp older than stamp, which only grows, or older than the
 * TTL), at most once a SWEEP_MS unless forced (the bytes are full): a
 * page is not kept past its use, and the byte budget is not spent on
 * them.
 */
#define SWEEP_MS 1000
static void
sweep_locked(int64_t now, int64_t stamp, int force)
{
	if (!force && now - swept_ms < SWEEP_MS)
		return;
	swept_ms = now;
	wipe_stale_locked(now, stamp);
}

/* Under cache_mu: the pages read under a stamp older than stamp, or
 * older than the TTL, wiped (no gate: sweep_locked's and the sweeper's). */
static void
wipe_stale_locked(int64_t now, int64_t stamp)
{
	size_t i;

	for (i = 0; i < npages; i++)
		if (pages[i].key != NULL &&
		    (pages[i].stamp < stamp ||
			now - pages[i].at_ms >=
			    (int64_t)config.list_cache_ttl_ms))
			page_wipe(&pages[i]);
}

static void
sweeper_start(void)
{
	pthread_condattr_t ca;

	pthread_mutex_lock(&sweeper_mu);
	if (!sweeper_on && !sweeper_stop) {
		/* Timed on the monotonic clock: the wall clock set back
		 * does not hold the sweep back. */
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&sweeper_cv, &ca);
		pthread_condattr_destroy(&ca);
		if (pthread_create(&sweeper, NULL, sweeper_main, NULL) == 0)
			sweeper_on = 1;
		else { /* the requests' sweeps still run */
			pthread_cond_destroy(&sweeper_cv);
			log_warn("event=list_cache_sweeper_failed");
		}
	}
	pthread_mutex_unlock(&sweeper_mu);
}

static void *
sweeper_main(void *arg)
{
	struct timespec ts;

	(void)arg;
	pthread_mutex_lock(&sweeper_mu);
	while (!sweeper_stop) {
		time_deadline(&ts, CLOCK_MONOTONIC, SWEEP_MS);
		(void)pthread_cond_timedwait(&sweeper_cv, &sweeper_mu, &ts);
		if (sweeper_stop)
			break;
		/* By age only, and not as a request's sweep: those wipe
		 * the pages read before a write told too, once a second
		 * (swept_ms), which this one leaves to them. */
		pthread_mutex_lock(&cache_mu);
		wipe_stale_locked(mono_ms(), INT64_MIN);
		pthread_mutex_unlock(&cache_mu);
	}
	pthread_mutex_unlock(&sweeper_mu);
	return (NULL);
}

static void
page_wipe(struct page *p)
{
	if (p->key == NULL)
		return;
	bytes -= p->len + p->auditlen;
	sodium_memzero(p->body, p->len);
	free(p->body);
	sodium_memzero(p->audit, p->auditlen);
	free(p->audit);
	free(p->key);
	memset(p, 0, sizeof(*p));
}

int
list_cache_get(struct request *req, const char *key, size_t keylen,
    int64_t stamp, const char **body, size_t *len, const char **changes,
    const char **entity)
{
	struct page *p;
	char	    *copy = NULL, *audit = NULL;
	uint64_t     h = key_hash(key, keylen);
	int64_t	     now = mono_ms();
	int	     rc = ERR_NOT_FOUND;

	*body = NULL;
	*len = 0;
	*changes = NULL;
	*entity = NULL;
	pthread_mutex_lock(&cache_mu);
	if (npages == 0 || !atomic_load(&usable))
		goto out;
	sweep_locked(now, stamp, 0);
	p = &pages[h & (npages - 1)];
	if (p->key == NULL || p->hash != h || p->keylen != keylen ||
	    memcmp(p->key, key, keylen) != 0)
		goto out;
	/* Read under a newer stamp than this reader's (its snapshot
	 * older): not this reader's, still another's. */
	if (p->stamp > stamp)
		goto out;
	if (p->stamp != stamp ||
	    now - p->at_ms >= (int64_t)config.list_cache_ttl_ms) {
		page_wipe(p);
		goto out;
	}
	rc = ERR_NOMEM;
	if ((copy = arena_alloc(req->arena, p->len + 1)) == NULL ||
	    (audit = arena_alloc(req->arena, p->auditlen)) == NULL)
		goto out;
	memcpy(copy, p->body, p->len);
	copy[p->len] = '\0';
	*len = p->len;
	memcpy(audit, p->audit, p->auditlen);
	rc = OK;
out:
	pthread_mutex_unlock(&cache_mu);
	if (rc == OK) {
		*body = copy;
		if (audit[0] != '\0') {
			*changes = audit;
			audit += strlen(audit) + 1;
			if (audit[0] != '\0')
				*entity = audit;
		}
		atomic_fetch_add(&hits, 1);
	} else
		atomic_fetch_add(&misses, 1);
	return (rc);
}

void
list_cache_put(const char *key, size_t keylen, int64_t stamp, const char *body,
    size_t len, const char *changes, const char *entity)
{
	struct page np, *p;
	size_t	    clen, elen;
	uint64_t    h = key_hash(key, keylen);

	if (len > PAGE_MAX || !atomic_load(&usable))
		return;
	memset(&np, 0, sizeof(np));
	clen = changes != NULL ? strlen(changes) : 0;
	elen = changes != NULL && entity != NULL ? strlen(entity) : 0;
	np.hash = h;
	np.keylen = keylen;
	np.len = len;
	np.auditlen = clen + elen + 2;
	np.stamp = stamp;
	np.at_ms = mono_ms();
	if ((np.key = malloc(keylen)) == NULL ||
	    (np.body = malloc(len > 0 ? len : 1)) == NULL ||
	    (np.audit = malloc(np.auditlen)) == NULL)
		goto fail;
	memcpy(np.key, key, keylen);
	memcpy(np.body, body, len);
	if (clen > 0)
		memcpy(np.audit, changes, clen);
	np.audit[clen] = '\0';
	if (elen > 0)
		memcpy(np.audit + clen + 1, entity, elen);
	np.audit[clen + 1 + elen] = '\0';
	pthread_mutex_lock(&cache_mu);
	/* Off meanwhile (wipe_all ran): nothing kept after it. */
	if (npages == 0 || !atomic_load(&usable)) {
		pthread_mutex_unlock(&cache_mu);
		goto fail;
	}
	p = &pages[h & (npages - 1)];
	page_wipe(p);
	sweep_locked(np.at_ms, stamp,
	    bytes + len + np.auditlen > (size_t)config.list_cache_bytes);
	if (bytes + len + np.auditlen > (size_t)config.list_cache_bytes) {
		pthread_mutex_unlock(&cache_mu);
		atomic_fetch_add(&refused, 1);
		goto fail;
	}
	*p = np;
	bytes += len + np.auditlen;
	pthread_mutex_unlock(&cache_mu);
	atomic_fetch_add(&kept, 1);
	return;
fail:
	if (np.body != NULL)
		sodium_memzero(np.body, len);
	free(np.body);
	free(np.key);
	if (np.audit != NULL)
		sodium_memzero(np.audit, np.auditlen);
	free(np.audit);
}

/*
 * At the end of serve, on its thread: the start is waited for, none
 * begins after, the listener stops before the pages go (its on_state
 * is not called after store_listen_stop returns).
 */
void
list_cache_stop(void)
{
	struct store_listener *l;
	size_t		       i;
	int		       on;

	/* The sweeper first (it takes cache_mu), none started after. */
	pthread_mutex_lock(&sweeper_mu);
	sweeper_stop = 1;
	on = sweeper_on;
	sweeper_on = 0;
	if (on)
		pthread_cond_signal(&sweeper_cv);
	pthread_mutex_unlock(&sweeper_mu);
	if (on) {
		pthread_join(sweeper, NULL);
		pthread_cond_destroy(&sweeper_cv);
	}
	pthread_mutex_lock(&start_mu);
	settled = 1;
	atomic_store(&done, 1);
	l = listener;
	listener = NULL;
	store_listen_stop(l);
	pthread_mutex_unlock(&start_mu);
	atomic_store(&usable, 0);
	pthread_mutex_lock(&cache_mu);
	for (i = 0; i < npages; i++)
		page_wipe(&pages[i]);
	free(pages);
	pages = NULL;
	npages = 0;
	pthread_mutex_unlock(&cache_mu);
}

int
list_cache_metrics(struct buf *b)
{
	size_t n;

	pthread_mutex_lock(&cache_mu);
	n = bytes;
	pthread_mutex_unlock(&cache_mu);
	return (buf_printf(b,
	    "# HELP carebase_list_cache_hits_total List pages this process "
	    "answered from the pages it keeps read.\n"
	    "# TYPE carebase_list_cache_hits_total counter\n"
	    "carebase_list_cache_hits_total %llu\n"
	    "# HELP carebase_list_cache_misses_total List pages of a kept "
	    "resource read from the database while the cache was in use.\n"
	    "# TYPE carebase_list_cache_misses_total counter\n"
	    "carebase_list_cache_misses_total %llu\n"
	    "# HELP carebase_list_cache_kept_total List pages kept.\n"
	    "# TYPE carebase_list_cache_kept_total counter\n"
	    "carebase_list_cache_kept_total %llu\n"
	    "# HELP carebase_list_cache_full_total List pages not kept, "
	    "list_cache_bytes reached.\n"
	    "# TYPE carebase_list_cache_full_total counter\n"
	    "carebase_list_cache_full_total %llu\n"
	    "# HELP carebase_list_cache_bytes Bytes of the pages kept.\n"
	    "# TYPE carebase_list_cache_bytes gauge\n"
	    "carebase_list_cache_bytes %llu\n"
	    "# HELP carebase_list_cache_usable 1 while list pages are kept "
	    "and taken (on PostgreSQL: its listener listening).\n"
	    "# TYPE carebase_list_cache_usable gauge\n"
	    "carebase_list_cache_usable %d\n",
	    (unsigned long long)atomic_load(&hits),
	    (unsigned long long)atomic_load(&misses),
	    (unsigned long long)atomic_load(&kept),
	    (unsigned long long)atomic_load(&refused), (unsigned long long)n,
	    atomic_load(&usable)));
}
