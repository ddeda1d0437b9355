/*
 * Inside the audit log: a row made ready to append (audit.c) and the
 * queue of reads' rows that the audit writer appends (audit_queue.c).
 */
#ifndef RESOURCE_AUDIT_INT_H
#define RESOURCE_AUDIT_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/util.h"
#include "resource/audit.h"

struct tx;
struct request;
struct principal;

/*
 * A row with everything but its place in the chain (seq, prev_hash and
 * hash): id and time given when it was made, the client's details sealed
 * or indexed as they are kept. One allocation, its strings inside it.
 */
struct audit_pending {
	struct audit_pending *next;	 /* the queue's */
	uint64_t	      ticket;	 /* the queue's: 1, 2, ... */
	int64_t		      queued_ns; /* the queue's: when (monotonic) */
	int64_t		      at;
	char		      id[UUID_STR_LEN];
	const char	     *actor_ref;
	const char	     *actor_role;
	const char	     *action;
	const char	     *entity_type;
	const char	     *entity_id;
	const char	     *changes;
	const char	     *ip;
	const char	     *user_agent;
	const char	     *request_id;
};

/* Make the row (stranger as audit_append_stranger); tx is read only (a
 * data key for the client's details). *out is the caller's: free(). */
int audit_prepare(struct tx *, const struct principal *who, struct request *req,
    const char *action, const char *entity_type, const char *entity_id,
    json_t *changes, int stranger, struct audit_pending **out);
/* The same of changes as audit_changes_text made them. */
int audit_prepare_text(struct tx *, const struct principal *who,
    struct request *req, const char *action, const char *entity_type,
    const char *entity_id, const char *changes, int stranger,
    struct audit_pending **out);
/* Append rows[0..n) at the chain's end, in order, in tx (a write
 * transaction); serialised as audit_append is. The last row's seq and
 * hash into *end_seq and end_hash unless end_seq is NULL. */
int audit_chain(struct tx *, struct audit_pending *const *rows, size_t n,
    int64_t *end_seq, char end_hash[AUDIT_HASH_LEN]);
/* *landed 1 when the chain's row seq has hash (rows appended by a
 * transaction whose COMMIT went unanswered are there), else 0; under
 * the chain's lock, as audit_chain. */
int audit_chain_holds(struct tx *, int64_t seq, const char *hash, int *landed);

#endif
