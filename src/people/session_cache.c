/*
 * The authenticator's cache of sessions read: token hash -> what the
 * lookup read of the session, its user and role (struct people_auth),
 * kept session_cache_ttl_ms at most in a table of session_cache_size
 * slots, direct-mapped by the hash (a collision replaces the older
 * entry). A hit spares the request the lookup; what it then decides
 * (idle, expired, ended, active) is decided on the entry as on a row.
 *
 * An entry goes when its session or user changes:
 *
 *   this process  people_session_cache_forget_tx at each change (a
 *                 session ended, a person's role, activity, deletion or
 *                 password changed): at once,
 *                 and again once its transaction commits, as a reader
 *                 between the two may have kept the old row;
 *   PostgreSQL    migration 0050's triggers (0051's for sessions)
 *                 NOTIFY carebase_auth with the user's id ("*":
 *                 everyone, a TRUNCATE too) on the same changes and on a
 *                 session's ending, expiry, idle timeout, person or
 *                 token changed, its last activity moved back or its row
 *                 gone, by whatever process or
 *                 hand; every serving process LISTENs on a connection of
 *                 its own and drops the entries. While that connection
 *                 is down, or its heartbeat (store_listen) is late, the
 *                 cache is not used at all, and it starts empty when it
 *                 is back (what was sent meanwhile is lost);
 *   SQLite        the same triggers add one to auth_changes.n; an entry
 *                 holds the n it was read with and a hit is taken only
 *                 while n is still that (one cheap read a request; a
 *                 read that fails is no hit: the session is read).
 *
 * A session's last activity, written by another process, is not told
 * (since 0051: it is written about once a minute per session in use, and
 * each would have emptied every process's entries of that person). An
 * entry's is then older than the row's, which errs the safe way: last
 * activity only grows, so an entry is never more live than its row, and
 * one that looks idle is not taken (session_find reads the row again).
 * What is lost is a touch or two written sooner than needed. A last
 * activity moved back (by hand: the server only moves it on) is told.
 *
 * A lookup that began before a forget does not keep its row (the
 * generation moved on), so a row read before a change never outlives it
 * in the table. The TTL bounds the rest: an entry is at most that old.
 * Role permissions are not kept here: each request still reads their
 * epoch (resource_perms_check), one round trip on PostgreSQL.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "people/people_int.h"
#include "store/migrate.h"
#include "store/store.h"

#define CACHE_CHANNEL  "carebase_auth"
#define START_RETRY_MS 1000 /* a start that failed is tried again then */
#define NONE	       (-1) /* the end of a chain */

/*
 * A slot is in two chains, of those whose user id and whose session id
 * fall in one bucket (by_user, by_session: nslots buckets each), so a
 * forget walks the entries of that id (and the few that share its
 * bucket), not the table.
 */
struct slot {
	char		   hash[TOKEN_HASH_LEN]; /* "" when empty */
	int64_t		   at;			 /* read then */
	struct people_auth a;
	int32_t		   uprev, unext; /* its user's chain */
	int32_t		   sprev, snext; /* its session's chain */
};

/* start and stop, one at a time (on any threads). */
static pthread_mutex_t	      start_mu = PTHREAD_MUTEX_INITIALIZER;
static int		      settled; /* started, or off for good */
static int		      said;    /* a failed start was logged */
static int64_t		      retry_at;
static struct store_listener *listener;
static atomic_int	      done; /* settled, read without start_mu */

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct slot    *slots;		     /* under cache_mu */
static int32_t	      *by_user, *by_session; /* under cache_mu */
static size_t	       nslots;
static uint64_t	       gen; /* under cache_mu */
static atomic_int      usable;
static atomic_ullong   hits, misses;

static int    table_new(void);
static size_t slot_of(const char *hash);
static size_t bucket_of(const char *id);
static void   link_slot(int32_t i);
static void   unlink_slot(int32_t i);
static void   forget_locked(const char *id);
static void   after_commit(const char *id);
static void   on_note(const char *payload, void *arg);
static void   on_state(int live, void *arg);

/*
 * Called by requests (sessions.c) until it has started: a start that
 * failed for a moment (the migration's check could not be read, the
 * listener's thread not made) is tried again START_RETRY_MS later, and a
 * pending migration 0050 is looked for again as often, so neither keeps
 * the cache off for the life of the process. One caller at a time; the
 * others go on without the cache meanwhile.
 */
void
people_session_cache_start(struct store *db)
{
	const char *why = NULL;
	int64_t	    now;
	int	    rc;

	if (atomic_load(&done) || pthread_mutex_trylock(&start_mu) != 0)
		return;
	now = time_mono_ns() / 1000000;
	if (settled || now < retry_at)
		goto out;
	if (config.session_cache_size <= 0 ||
	    config.session_cache_ttl_ms <= 0) {
		settled = 1;
		goto out;
	}
	if ((rc = table_new()) != OK) {
		log_warn("event=session_cache_off reason=nomem");
		settled = 1;
		goto out;
	}
	/* Without migration 0050 no change is told: every request reads. */
	if ((rc = migrate_applied(db, "0050_session_cache")) != OK)
		why = rc == ERR_NOT_FOUND ? "migration_0050_pending"
					  : err_code(rc);
	else if (store_dialect(db) != STORE_POSTGRES)
		atomic_store(&usable, 1);
	/* Used once the listener listens (on_state). */
	else if ((rc = store_listen(db, CACHE_CHANNEL,
		      config.session_cache_listen_url,
		      (int)config.session_cache_heartbeat_ms, on_note, on_state,
		      NULL, &listener)) != OK)
		why = err_code(rc);
	if (why == NULL) {
		settled = 1;
		if (said)
			log_info("event=session_cache_on");
	} else {
		if (!said)
			log_warn(
			    "event=session_cache_off reason=%s retry_ms=%d",
			    why, START_RETRY_MS);
		said = 1;
		retry_at = now + START_RETRY_MS;
	}
out:
	if (settled)
		atomic_store(&done, 1);
	pthread_mutex_unlock(&start_mu);
}

/* The table, made once (under start_mu). */
static int
table_new(void)
{
	size_t n = 1, i;

	if (slots != NULL)
		return (OK);
	while (n < (size_t)config.session_cache_size)
		n <<= 1;
	pthread_mutex_lock(&cache_mu);
	slots = calloc(n, sizeof(*slots));
	by_user = malloc(n * sizeof(*by_user));
	by_session = malloc(n * sizeof(*by_session));
	if (slots == NULL || by_user == NULL || by_session == NULL) {
		free(slots);
		free(by_user);
		free(by_session);
		slots = NULL;
		by_user = by_session = NULL;
		pthread_mutex_unlock(&cache_mu);
		return (ERR_NOMEM);
	}
	for (i = 0; i < n; i++)
		by_user[i] = by_session[i] = NONE;
	nslots = n;
	pthread_mutex_unlock(&cache_mu);
	return (OK);
}

/*
 * At the end of serve, on its thread, perhaps while a request's start
 * runs on another: the start is waited for (start_mu), none begins
 * after, and the listener is stopped before the table goes (its
 * on_state takes cache_mu: never held while joining it).
 */
void
people_session_cache_stop(void)
{
	struct store_listener *l;

	pthread_mutex_lock(&start_mu);
	settled = 1;
	atomic_store(&done, 1);
	l = listener;
	listener = NULL;
	store_listen_stop(l);
	pthread_mutex_unlock(&start_mu);
	atomic_store(&usable, 0);
	pthread_mutex_lock(&cache_mu);
	free(slots);
	free(by_user);
	free(by_session);
	slots = NULL;
	by_user = by_session = NULL;
	nslots = 0;
	pthread_mutex_unlock(&cache_mu);
}

int
people_session_cache_usable(void)
{
	return (atomic_load(&usable));
}

void
people_session_cache_counted(int hit)
{
	if (hit)
		atomic_fetch_add(&hits, 1);
	else if (atomic_load(&usable))
		atomic_fetch_add(&misses, 1);
}

int
people_session_cache_metrics(struct buf *b)
{
	return (buf_printf(b,
	    "# HELP carebase_session_cache_hits_total Requests whose session "
	    "this process took from its cache of sessions read.\n"
	    "# TYPE carebase_session_cache_hits_total counter\n"
	    "carebase_session_cache_hits_total %llu\n"
	    "# HELP carebase_session_cache_misses_total Requests whose "
	    "session was read while the cache was in use.\n"
	    "# TYPE carebase_session_cache_misses_total counter\n"
	    "carebase_session_cache_misses_total %llu\n"
	    "# HELP carebase_session_cache_usable 1 while the cache of "
	    "sessions read is in use (on PostgreSQL: its listener "
	    "listening).\n"
	    "# TYPE carebase_session_cache_usable gauge\n"
	    "carebase_session_cache_usable %d\n",
	    (unsigned long long)atomic_load(&hits),
	    (unsigned long long)atomic_load(&misses), atomic_load(&usable)));
}

uint64_t
people_session_cache_gen(void)
{
	uint64_t g;

	pthread_mutex_lock(&cache_mu);
	g = gen;
	pthread_mutex_unlock(&cache_mu);
	return (g);
}

/* The hash is SHA-256 in hex: its first eight digits are as good as any. */
static size_t
slot_of(const char *hash)
{
	uint32_t v = 0;
	int	 i, c;

	for (i = 0; i < 8 && hash[i] != '\0'; i++) {
		c = hash[i];
		v = (v << 4) |
		    (uint32_t)(c >= 'a' ? c - 'a' + 10
					: (c >= 'A' ? c - 'A' + 10 : c - '0'));
	}
	return ((size_t)v & (nslots - 1));
}

/* An id's bucket (FNV-1a): UUIDs v7 share their leading digits (time). */
static size_t
bucket_of(const char *id)
{
	uint32_t h = 2166136261u;

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return ((size_t)h & (nslots - 1));
}

/* Slot i, filled, at the head of its two chains. */
static void
link_slot(int32_t i)
{
	struct slot *s = &slots[i];
	int32_t	    *hu = &by_user[bucket_of(s->a.user_id)];
	int32_t	    *hs = &by_session[bucket_of(s->a.session_id)];

	s->uprev = NONE;
	s->unext = *hu;
	if (*hu != NONE)
		slots[*hu].uprev = i;
	*hu = i;
	s->sprev = NONE;
	s->snext = *hs;
	if (*hs != NONE)
		slots[*hs].sprev = i;
	*hs = i;
}

/* Slot i out of its chains, and empty. */
static void
unlink_slot(int32_t i)
{
	struct slot *s = &slots[i];

	if (s->uprev != NONE)
		slots[s->uprev].unext = s->unext;
	else
		by_user[bucket_of(s->a.user_id)] = s->unext;
	if (s->unext != NONE)
		slots[s->unext].uprev = s->uprev;
	if (s->sprev != NONE)
		slots[s->sprev].snext = s->snext;
	else
		by_session[bucket_of(s->a.session_id)] = s->snext;
	if (s->snext != NONE)
		slots[s->snext].sprev = s->sprev;
	s->hash[0] = '\0';
}

int
people_session_cache_get(const char *hash, int64_t now, struct people_auth *out)
{
	struct slot *s;
	int	     rc = ERR_NOT_FOUND;

	if (!atomic_load(&usable))
		return (ERR_NOT_FOUND);
	pthread_mutex_lock(&cache_mu);
	if (slots != NULL) {
		s = &slots[slot_of(hash)];
		if (strcmp(s->hash, hash) == 0 && now >= s->at &&
		    now - s->at < config.session_cache_ttl_ms) {
			*out = s->a;
			rc = OK;
		}
	}
	pthread_mutex_unlock(&cache_mu);
	return (rc);
}

void
people_session_cache_put(
    const char *hash, const struct people_auth *a, uint64_t g, int64_t now)
{
	struct slot *s;
	int32_t	     i;

	if (!atomic_load(&usable))
		return;
	pthread_mutex_lock(&cache_mu);
	/* Something was forgotten since this row was read: it may be it. */
	if (slots != NULL && g == gen) {
		i = (int32_t)slot_of(hash);
		s = &slots[i];
		if (s->hash[0] != '\0')
			unlink_slot(i);
		strlcpy_cb(s->hash, hash, sizeof(s->hash));
		s->at = now;
		s->a = *a;
		link_slot(i);
	}
	pthread_mutex_unlock(&cache_mu);
}

void
people_session_cache_touched(const char *hash, int64_t at)
{
	struct slot *s;

	pthread_mutex_lock(&cache_mu);
	if (slots != NULL) {
		s = &slots[slot_of(hash)];
		if (strcmp(s->hash, hash) == 0 && s->a.last_activity_at < at)
			s->a.last_activity_at = at;
	}
	pthread_mutex_unlock(&cache_mu);
}

/* The entries of id (a user's or a session's), or all: O(that id's). */
static void
forget_locked(const char *id)
{
	size_t	i;
	int32_t j, next;

	gen++;
	if (slots == NULL)
		return;
	if (id == NULL || id[0] == '\0' || strcmp(id, "*") == 0) {
		for (i = 0; i < nslots; i++) {
			slots[i].hash[0] = '\0';
			by_user[i] = by_session[i] = NONE;
		}
		return;
	}
	for (j = by_user[bucket_of(id)]; j != NONE; j = next) {
		next = slots[j].unext;
		if (strcmp(slots[j].a.user_id, id) == 0)
			unlink_slot(j);
	}
	for (j = by_session[bucket_of(id)]; j != NONE; j = next) {
		next = slots[j].snext;
		if (strcmp(slots[j].a.session_id, id) == 0)
			unlink_slot(j);
	}
}

void
people_session_cache_forget(const char *id)
{
	pthread_mutex_lock(&cache_mu);
	forget_locked(id);
	pthread_mutex_unlock(&cache_mu);
}

static void
after_commit(const char *id)
{
	people_session_cache_forget(id);
}

void
people_session_cache_forget_tx(struct tx *tx, const char *id)
{
	people_session_cache_forget(id);
	store_tx_after_commit(tx, after_commit, id);
}

/* On the listener's thread. */
static void
on_note(const char *payload, void *arg)
{
	(void)arg;
	people_session_cache_forget(payload);
}

/* Down: nothing is taken from the table, as changes would go unheard.
 * Up again: it starts empty, as those sent meanwhile are lost. */
static void
on_state(int live, void *arg)
{
	(void)arg;
	pthread_mutex_lock(&cache_mu);
	if (!live)
		atomic_store(&usable, 0);
	forget_locked(NULL);
	if (live && slots != NULL)
		atomic_store(&usable, 1);
	pthread_mutex_unlock(&cache_mu);
}
