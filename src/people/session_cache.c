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
 *   PostgreSQL    migration 0050's triggers NOTIFY carebase_auth with the
 *                 user's id ("*": everyone) on the same changes and on
 *                 any write of a session row (its last activity too, at
 *                 most once a step: a kept row is never taken for idle
 *                 while another process writes its use), by
 *                 whatever process or hand; every serving process LISTENs
 *                 on a connection of its own and drops the entries. While
 *                 that connection is down the cache is not used at all,
 *                 and it starts empty when it is back (what was sent
 *                 meanwhile is lost);
 *   SQLite        the same triggers add one to auth_changes.n; an entry
 *                 holds the n it was read with and a hit is taken only
 *                 while n is still that (one cheap read a request).
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

#include "core/config.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "people/people_int.h"
#include "store/migrate.h"
#include "store/store.h"

#define CACHE_CHANNEL "carebase_auth"

struct slot {
	char		   hash[TOKEN_HASH_LEN]; /* "" when empty */
	int64_t		   at;			 /* read then */
	struct people_auth a;
};

static pthread_mutex_t	      cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct slot	     *slots; /* under cache_mu */
static size_t		      nslots;
static uint64_t		      gen; /* under cache_mu */
static int		      started;
static atomic_int	      usable;
static struct store_listener *listener;

static size_t slot_of(const char *hash);
static void   forget_locked(const char *id);
static void   after_commit(const char *id);
static void   on_note(const char *payload, void *arg);
static void   on_state(int live, void *arg);

void
people_session_cache_start(struct store *db)
{
	size_t n = 1;
	int    rc;

	pthread_mutex_lock(&cache_mu);
	if (started) {
		pthread_mutex_unlock(&cache_mu);
		return;
	}
	started = 1;
	if (config.session_cache_size <= 0 ||
	    config.session_cache_ttl_ms <= 0) {
		pthread_mutex_unlock(&cache_mu);
		return;
	}
	while (n < (size_t)config.session_cache_size)
		n <<= 1;
	if ((slots = calloc(n, sizeof(*slots))) == NULL) {
		log_warn("event=session_cache_off reason=nomem");
		pthread_mutex_unlock(&cache_mu);
		return;
	}
	nslots = n;
	pthread_mutex_unlock(&cache_mu);
	/* Without migration 0050 no change is told: every request reads. */
	if ((rc = migrate_applied(db, "0050_session_cache")) != OK) {
		log_warn("event=session_cache_off reason=%s",
		    rc == ERR_NOT_FOUND ? "migration_0050_pending"
					: err_code(rc));
		return;
	}
	if (store_dialect(db) != STORE_POSTGRES) {
		atomic_store(&usable, 1);
		return;
	}
	/* Used once the listener listens (on_state). */
	if ((rc = store_listen(
		 db, CACHE_CHANNEL, on_note, on_state, NULL, &listener)) != OK)
		log_warn("event=session_cache_off reason=%s", err_code(rc));
}

void
people_session_cache_stop(void)
{
	store_listen_stop(listener);
	listener = NULL;
	atomic_store(&usable, 0);
	pthread_mutex_lock(&cache_mu);
	free(slots);
	slots = NULL;
	nslots = 0;
	pthread_mutex_unlock(&cache_mu);
}

int
people_session_cache_usable(void)
{
	return (atomic_load(&usable));
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

	if (!atomic_load(&usable))
		return;
	pthread_mutex_lock(&cache_mu);
	/* Something was forgotten since this row was read: it may be it. */
	if (slots != NULL && g == gen) {
		s = &slots[slot_of(hash)];
		strlcpy_cb(s->hash, hash, sizeof(s->hash));
		s->at = now;
		s->a = *a;
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

static void
forget_locked(const char *id)
{
	size_t i;
	int    all = id == NULL || id[0] == '\0' || strcmp(id, "*") == 0;

	gen++;
	for (i = 0; i < nslots; i++)
		if (slots[i].hash[0] != '\0' &&
		    (all || strcmp(slots[i].a.user_id, id) == 0 ||
			strcmp(slots[i].a.session_id, id) == 0))
			slots[i].hash[0] = '\0';
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
