/*
 * The audit log (the seed's admin_activity_logs): append-only and
 * hash-chained. Each row's hash is SHA-256 over the previous row's hash
 * and this row's fields in a fixed order, so changing or deleting a row
 * breaks the chain from there on; `carebase audit verify` walks it.
 *
 * Every write by staff and every read of health data is recorded: who (a
 * pseudonym, users.audit_ref, so erasure unlinks a person without breaking
 * the chain), what (action), which row (entity type and id), what changed
 * (field names; values only for fields that are not personal), from where
 * (ip and user agent, sealed or blind-indexed, never in clear; request id)
 * and when. Never the personal data itself.
 */
#ifndef RESOURCE_AUDIT_H
#define RESOURCE_AUDIT_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

struct tx;
struct store;
struct request;
struct principal;

/*
 * Append inside the caller's transaction (so the record exists exactly
 * when the change does). who and req may be NULL (system actions, CLI).
 * changes is borrowed; NULL = {}. Appends are serialised (SQLite: the
 * write transaction; PostgreSQL: an advisory transaction lock).
 */
int audit_append(struct tx *, const struct principal *who, struct request *req,
    const char *action, const char *entity_type, const char *entity_id,
    json_t *changes);
/*
 * The same with no one signed in, for a client who is not the person a
 * users/<id> row is about (whose key audit_append would seal their
 * details under, into that person's export): the address and agent are
 * kept as the keyed blind index, as for requests by no one in particular.
 */
int audit_append_stranger(struct tx *, struct request *req, const char *action,
    const char *entity_type, const char *entity_id, json_t *changes);
/*
 * Record a read (of health data, an export, a document): in a write
 * transaction appended in it, as audit_append; in a read transaction made
 * ready in it and queued for the audit writer of this process, which
 * appends the queued rows in order, in batches, within audit_flush_ms
 * (audit_queue.c). So a read never takes the database's write lock.
 * ERR_UNAVAILABLE when the queue stays full past audit_queue_wait_ms,
 * or when the writer is behind (audit_fail_max failed writes in a row,
 * or a row queued longer than audit_queue_age_ms ago): the caller
 * answers 503 (set on req, with Retry-After) and serves nothing of what
 * it read. A read with a request that finds the queue full waits for
 * room after its transactions end (http_after), not holding a pooled
 * connection the writer may need.
 */
int audit_read(struct tx *, const struct principal *who, struct request *req,
    const char *action, const char *entity_type, const char *entity_id,
    json_t *changes);
/*
 * The same, of changes already made text by audit_changes_text: a read
 * answered again from what a process kept (list_cache.c) audits the rows
 * it names without parsing and serialising them once more.
 */
int audit_read_text(struct tx *, const struct principal *who,
    struct request *req, const char *action, const char *entity_type,
    const char *entity_id, const char *changes);
/* An audit row's changes as the log keeps them (compact, keys sorted;
 * "{}" for NULL): a new string, NULL when out of memory. */
char *audit_changes_text(json_t *changes);
/*
 * A read of many rows keeps their ids once, in audit_pages (migration
 * 0058; audit.c, "Pages"), and its row's changes name them by digest.
 * Readers of the log select *expr as the changes column of audit_log
 * (its own name kept): the page's text in its row's place, the stored
 * changes while 0058 is pending (no table to read them from). A static
 * string; an error when the catalog cannot be read.
 */
int audit_changes_shown(struct tx *, const char **expr);
/*
 * Wait until every row this process queued before the call is in the
 * log (up to db_busy_timeout_ms, then ERR_BUSY): before reading the log.
 * Call it holding no transaction.
 */
int audit_queue_sync(void);
/* Write what is queued and end the audit writer; before the database
 * closes, once nothing reads any more (later reads are refused). */
void audit_queue_stop(void);
/* For metrics: the queue now, and counts since the process started. */
struct audit_queue_stats {
	uint64_t queued;	 /* rows waiting (or being written) */
	uint64_t flush_failures; /* failed writes of a batch */
	uint64_t refused;	 /* reads answered 503 for the queue */
	int	 behind;	 /* 1: audited reads are refused now */
};
void audit_queue_stats(struct audit_queue_stats *out);

/*
 * Walk the chain from the first row. OK when whole; ERR_CONFLICT when a
 * row's hash or link is wrong, with *bad_seq set to the first broken row.
 * Prints progress and the verdict to out when not NULL.
 */
int audit_verify(struct store *, FILE *out, int64_t *bad_seq);

/*
 * Anchors. A hash chain alone cannot show rows cut off its end, nor a log
 * rewritten whole by someone who holds the database: record the head
 * (seq:hash, `carebase audit head`, also logged hourly as event=audit_anchor)
 * somewhere else, and verify against it later: the row at that seq must
 * still be there with that hash.
 */
#define AUDIT_HASH_LEN 65
struct audit_anchor {
	int64_t seq; /* 0: empty log */
	char	hash[AUDIT_HASH_LEN];
};
/* audit_verify, then the anchor's row checked (may be NULL); *head (may be
 * NULL) gets the verified head. Prints "head: seq:hash" to out. */
int audit_verify_anchor(struct store *, FILE *out, int64_t *bad_seq,
    const struct audit_anchor *anchor, struct audit_anchor *head);

/*
 * The same walk with a time limit (the console's, in a request): past
 * deadline_ms (time_mono_ns() / 1000000; 0: none), checked between
 * pages, it stops with what it checked (complete 0). OK when intact (so far, when
 * stopped: the anchor is checked if its row was reached); ERR_CONFLICT
 * when broken. rows counts the rows
 * whose link and hash held, whatever the verdict (with an anchor that
 * differs, every row walked: the chain holds, rewritten whole).
 */
struct audit_walk {
	const struct audit_anchor *anchor;	/* in; may be NULL */
	int64_t			   deadline_ms; /* in */
	int64_t			   rows;	/* out */
	int64_t			   bad_seq;	/* out: 0 when none */
	int			   complete;	/* out */
	struct audit_anchor	   head;	/* out: the last row checked */
};
int audit_walk(struct store *, FILE *out, struct audit_walk *);
/* The last row's seq and hash (the genesis hash and 0 when empty). */
int audit_head(struct store *, struct audit_anchor *);
int audit_hash_at(struct store *, int64_t seq, char out[AUDIT_HASH_LEN]);
/* "seq:hash" -> anchor; ERR_INVALID when malformed. */
int audit_anchor_parse(const char *, struct audit_anchor *);

/*
 * The client's address and agent of rows read back (GET /v1/audit-log, a
 * person's export). A row keeps them sealed under the key of the person
 * they are theirs, or as a keyed blind index, or, written before
 * migration 0035, in clear (audit.c says which when). audit_details_json
 * rewrites row's "ip" and "user_agent" (as stored; the row holds "id",
 * "actor_ref", "entity_type" and "entity_id" too, as stored) into what is
 * shown: sealed values opened (null once their person is erased), blind
 * indexes null with "ip_index" and "user_agent_index" beside (null for
 * the other kinds), text from before as it is. With person (a user id:
 * their export) only what is that person's is shown, sealed or from
 * before, the rest null, and no index.
 *
 * A reader remembers the last key it loaded across rows; wipe it after.
 */
struct audit_reader {
	char	      owner[37];     /* whose key is held, "" none */
	char	      ref[65];	     /* the last actor_ref looked up */
	char	      ref_owner[37]; /* its user, "" none (erased) */
	unsigned char key[32];	     /* SEAL_KEY_LEN */
	int	      have_key;
};
/*
 * The blind index an address is kept under in rows where it is indexed
 * ("index:<hex>", into out of AUDIT_IP_STORED_LEN), to find them by it
 * (GET /v1/audit-log?ip=); ERR_INVALID when ip is not an address.
 */
#define AUDIT_IP_STORED_LEN 72
int  audit_ip_stored(const char *ip, char *out, size_t len);
void audit_reader_init(struct audit_reader *);
void audit_reader_wipe(struct audit_reader *);
int  audit_details_json(
     struct tx *, struct audit_reader *, json_t *row, const char *person);

#endif
