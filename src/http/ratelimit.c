/*
 * Per-client token buckets in a fixed-size, set-associative table: a key
 * hashes to one set of RL_WAYS entries, and each set is guarded by one of
 * RL_STRIPES locks. A new key takes an empty entry, else an idle one (its
 * bucket has refilled, so forgetting it loses nothing), else the entry seen
 * least recently. Memory is fixed at creation whatever the number of keys.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "http/http_int.h"

#define RL_WAYS	   8
#define RL_STRIPES 64
#define RL_KEY_MAX 48

struct rl_entry {
	uint64_t hash; /* 0 = empty */
	int64_t	 last_ns;
	double	 tokens;
	char	 key[RL_KEY_MAX];
};

struct ratelimit {
	double		 rate; /* tokens per second */
	double		 burst;
	size_t		 nsets;
	struct rl_entry *entries; /* nsets * RL_WAYS */
	pthread_mutex_t	 locks[RL_STRIPES];
};

static uint64_t rl_hash(const char *);

/* FNV-1a, never 0. */
static uint64_t
rl_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return (h == 0 ? 1 : h);
}

struct ratelimit *
ratelimit_new(double rate, double burst, size_t slots)
{
	struct ratelimit *rl;
	int		  i;

	if (rate <= 0)
		return (NULL);
	if (burst < 1)
		burst = rate < 1 ? 1 : rate;
	if ((rl = calloc(1, sizeof(*rl))) == NULL)
		return (NULL);
	rl->rate = rate;
	rl->burst = burst;
	rl->nsets = slots / RL_WAYS;
	if (rl->nsets < 1)
		rl->nsets = 1;
	if ((rl->entries = calloc(rl->nsets * RL_WAYS, sizeof(*rl->entries))) ==
	    NULL) {
		free(rl);
		return (NULL);
	}
	for (i = 0; i < RL_STRIPES; i++)
		pthread_mutex_init(&rl->locks[i], NULL);
	return (rl);
}

void
ratelimit_free(struct ratelimit *rl)
{
	int i;

	if (rl == NULL)
		return;
	for (i = 0; i < RL_STRIPES; i++)
		pthread_mutex_destroy(&rl->locks[i]);
	free(rl->entries);
	free(rl);
}

int
ratelimit_take(
    struct ratelimit *rl, const char *key, int64_t now_ns, int *retry_s)
{
	struct rl_entry *set, *e = NULL, *victim = NULL;
	uint64_t	 h = rl_hash(key);
	size_t		 s = (size_t)(h % rl->nsets);
	pthread_mutex_t *lock = &rl->locks[s % RL_STRIPES];
	double		 wait;
	int		 i, ok;

	set = &rl->entries[s * RL_WAYS];
	pthread_mutex_lock(lock);
	for (i = 0; i < RL_WAYS; i++) {
		if (set[i].hash == h &&
		    strncmp(set[i].key, key, RL_KEY_MAX - 1) == 0) {
			e = &set[i];
			break;
		}
		if (victim == NULL || set[i].hash == 0 ||
		    (victim->hash != 0 && set[i].last_ns < victim->last_ns))
			victim = &set[i];
	}
	if (e == NULL) {
		/* Empty, idle (same as full) or least recently seen. */
		e = victim;
		e->hash = h;
		e->tokens = rl->burst;
		e->last_ns = now_ns;
		strncpy(e->key, key, RL_KEY_MAX - 1);
		e->key[RL_KEY_MAX - 1] = '\0';
	} else if (now_ns > e->last_ns) {
		e->tokens += (double)(now_ns - e->last_ns) * rl->rate / 1e9;
		if (e->tokens > rl->burst)
			e->tokens = rl->burst;
		e->last_ns = now_ns;
	}
	if (e->tokens >= 1.0) {
		e->tokens -= 1.0;
		ok = 1;
	} else {
		wait = ceil((1.0 - e->tokens) / rl->rate);
		*retry_s = wait < 1 ? 1 : wait > 86400 ? 86400 : (int)wait;
		ok = 0;
	}
	pthread_mutex_unlock(lock);
	return (ok);
}

size_t
ratelimit_count(struct ratelimit *rl)
{
	size_t s, i, n = 0;

	for (s = 0; s < rl->nsets; s++) {
		pthread_mutex_lock(&rl->locks[s % RL_STRIPES]);
		for (i = 0; i < RL_WAYS; i++)
			if (rl->entries[s * RL_WAYS + i].hash != 0)
				n++;
		pthread_mutex_unlock(&rl->locks[s % RL_STRIPES]);
	}
	return (n);
}

size_t
ratelimit_capacity(const struct ratelimit *rl)
{
	return (rl->nsets * RL_WAYS);
}

struct ratelimit *
http_ratelimit_new(double rate, double burst, size_t slots)
{
	return (ratelimit_new(rate, burst, slots));
}

int
http_ratelimit_take(struct ratelimit *rl, const char *key, int *retry_s)
{
	if (rl == NULL || key == NULL || key[0] == '\0')
		return (1);
	return (ratelimit_take(rl, key, time_mono_ns(), retry_s));
}
