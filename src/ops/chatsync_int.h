/*
 * Private to the chat profile sync of src/ops (see chatsync.c for how
 * the sync works and how its files divide it).
 */
#ifndef OPS_CHATSYNC_INT_H
#define OPS_CHATSYNC_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct job;
struct stmt;
struct store;
struct tx;

#define CHAT_SYNC_KIND	   "chat.profile_sync"
#define CHAT_FORGET_KIND   "chat.profile_delete"
#define CHAT_FORGET_AD	   "jobs.chat_profile_delete:"
#define CHAT_PEOPLE_ID_MAX 320 /* bytes of an address, as people's */
#define CHAT_SYNC_QUEUE	   "chat"
#define CHAT_SYNC_ATTEMPTS 10 /* ~17 min with the default backoff */
#define CHAT_DIGEST_LEN	   65

/* What the job read; strings malloc'd (personal ones wiped on free). */
struct profile {
	const char    *user_id;
	int64_t	       now;
	int	       gone;	 /* erased or unknown: not sent */
	int	       deleted;	 /* deleted, not erased: not sent, erased */
	int	       granted;	 /* chat access: sent; else erased */
	int	       unproven; /* the address not proven (since a change) */
	char	      *email;	 /* the people id */
	char	      *nickname;
	char	      *pushed;	/* pushed_identity opened; NULL: none */
	char	      *pending; /* pending_identity opened, or NULL */
	unsigned char *sealed;	/* email sealed as the row's identity */
	size_t	       sealed_len;
	json_t	      *data;
	char	       last_digest[CHAT_DIGEST_LEN]; /* "" = never pushed */
};

/* chatsync.c */
/* 1 when chat_sync_url is set. */
int chatsync_enabled(void);
/* Mark user_id's sync row (if any) for a recheck: its job is to look at
 * it again (chatsync.c's start-up, with the sync on). Nothing without
 * the column (migration 0024 pending). */
int chat_recheck_mark(struct tx *, const char *user_id);
/* Queue a chat.profile_sync job for user_id chat_sync_delay_ms ahead;
 * its id into job_id (JOB_ID_LEN). */
int chat_enqueue(struct tx *, const char *user_id, char *job_id);

/* chatsync_profile.c */
/* Read the profile of p->user_id (store_run's fn; arg a struct profile):
 * p->gone or p->deleted when it is not to be sent; p->granted when the
 * person has chat access (p->data is built only then). */
int chat_profile_load_tx(struct tx *, void *);
/* Free what the profile holds (personal strings wiped); p is reusable. */
void chat_profile_clear(struct profile *);
/* Keyed BLAKE2b-256 of the people id and the profile, hex. */
void chat_profile_digest(const struct profile *, char out[CHAT_DIGEST_LEN]);
/*
 * An identity column of the sync row opened into *out (NULL when the
 * column is NULL); one that does not open is ERR_INVALID.
 */
int chat_identity_open(const unsigned char *key, const char *user_id,
    struct stmt *, int col, char **out);
/* Wipe and free a malloc'd string of personal data; NULL is fine. */
void chat_secret_free(char *);

/* chatsync_http.c */
/*
 * Push the profile (PUT people/data/<email>; a 404 makes the person
 * first). OK on success; else err says why (without the address) and
 * *give_up is set when no retry would mend it.
 */
int chat_push(const struct profile *, char *err, int *give_up);
/* Delete the profile under people_id at the provider: OK when it went
 * or was not there (404); as chat_push otherwise (a 409 gives up). */
int chat_forget(
    const char *kind, const char *people_id, char *err, int *give_up);

/* chatsync_jobs.c */
/* The chat.profile_sync job. */
int chatsync_run(struct store *, const struct job *, char *err);

/* chatsync_forget.c */
/* The chat.profile_delete job. */
int chatforget_run(struct store *, const struct job *, char *err);
/*
 * chat_forget, unless another user who is not erased holds the address
 * now: the profile there is theirs, so the delete is done without a
 * request (*held set).
 */
int chat_forget_unless_held(struct store *, const char *kind,
    const char *user_id, const char *people_id, char *err, int *give_up,
    int *held);
/* Queue a chat.profile_delete job for people_id inside tx. */
int chat_forget_enqueue(
    struct tx *, const char *user_id, const char *people_id);
/* Export and erasure of the sync row (resource/hooks.h). */
struct gdpr_hook;
extern const struct gdpr_hook chat_gdpr_hook;

#endif
