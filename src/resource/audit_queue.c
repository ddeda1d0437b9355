/*
 * The audit writer: reads' rows appended in batches (issue 20, item 2).
 *
 * A read of health data is audited, and it used to write its row in its
 * own transaction: a write transaction, which on SQLite holds the one
 * writer lock for the whole read, so every such list ran one at a time,
 * behind every write. Now a read runs in a read transaction and hands its
 * row, made ready there (id, time, actor, the client's details sealed or
 * indexed: audit_prepare), to this queue; a thread of the process, the
 * audit writer, appends what is queued in one write transaction a batch,
 * in the order queued, AUDIT_FLUSH_MS (config audit_flush_ms) after the
 * first row of a batch came in, AUDIT_BATCH_MAX rows a transaction at
 * most. The chain is the one audit_append extends (audit_chain: on
 * PostgreSQL under the same advisory lock, so processes sharing the
 * database keep one chain).
 *
 * Bounded: at most audit_queue_max rows wait (queued, or being written).
 * A reader that finds it full hurries the writer and waits up to
 * audit_queue_wait_ms for room; then its request fails 503 UNAVAILABLE
 * rather than serve health data that would not be audited. A write's
 * audit row never comes here: audit_read appends in the caller's
 * transaction when that transaction writes, so it exists exactly when
 * the write does.
 *
 * Bounded in time too: while the writer is behind, after audit_fail_max
 * failed writes in a row (the database refuses them) or while the oldest
 * queued row is older than audit_queue_age_ms, every audited read is
 * refused at once, 503 AUDIT_UNAVAILABLE with Retry-After, until a write
 * succeeds. So the rows a crash could lose stay few and recent, and no
 * health data is shown while its audit is not being kept. Failed writes
 * are counted (carebase_audit_flush_failures_total).
 *
 * What a crash loses: the rows of reads served in the last flush
 * interval, and those queued behind a failing writer before it counted
 * as behind (at most audit_fail_max tries or audit_queue_age_ms). A stop
 * (audit_queue_stop, before the database closes) writes everything
 * queued first, retrying a failing write AUDIT_STOP_TRIES times before it
 * gives up and logs event=audit_rows_lost with the count.
 *
 * The writer takes a pooled connection for each batch, like any other
 * writer. A reader that finds the queue full does not wait for room
 * holding its own: with a request, the wait and the push run after the
 * request's transactions have ended (http_after), so a pool of one or
 * two connections all held by waiting readers cannot starve the writer
 * that would make the room. Without a request (none today) it waits
 * holding its connection, and a pool of one ends that wait in 503.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "resource/audit.h"
#include "resource/audit_int.h"
#include "store/store.h"

#define AUDIT_BATCH_MAX	  512  /* rows in one write transaction */
#define AUDIT_BACKOFF_MAX 1000 /* ms between tries of a failing write */
#define AUDIT_STOP_TRIES  10   /* of a failing write once stopping */
/* When the configuration was not loaded (unit tests): its defaults. */
#define AUDIT_FLUSH_MS_DEFAULT	    10
#define AUDIT_QUEUE_MAX_DEFAULT	    4096
#define AUDIT_QUEUE_WAIT_MS_DEFAULT 1000
#define AUDIT_SYNC_MS_DEFAULT	    5000
#define AUDIT_FAIL_MAX_DEFAULT	    3
#define AUDIT_QUEUE_AGE_MS_DEFAULT  5000

/*
 * A batch whose COMMIT went unanswered (the server or the path to it
 * fell silent, store_lost_take: STORE_LOST_COMMIT) may be in the chain
 * all the same: appended again it would fail for ever on its rows' ids
 * (unique), the writer behind and every audited read refused, or with
 * other ids stand twice. So the same rows are tried again (unknown),
 * and the next try first asks whether the chain holds the batch's last
 * row, by its seq and hash (audit_chain_holds): if so it landed, and is
 * dropped from the queue as written; else it is appended.
 */
struct batch {
	struct audit_pending *rows[AUDIT_BATCH_MAX];
	size_t		      n;
	int		      unknown; /* rows[0..n) may have landed as: */
	int64_t		      seq;     /* the last row's seq */
	char		      hash[AUDIT_HASH_LEN]; /* and hash */
	int64_t		      try_seq; /* this try's, if it is unknown */
	char		      try_hash[AUDIT_HASH_LEN];
};

static pthread_mutex_t q_mu = PTHREAD_MUTEX_INITIALIZER;
/* The writer's: a row came into an empty queue, a hurry, the stop. */
static pthread_cond_t q_work = PTHREAD_COND_INITIALIZER;
/* Readers' and syncs': a batch was written (room, tickets done). */
static pthread_cond_t	     q_done = PTHREAD_COND_INITIALIZER;
static struct audit_pending *q_head, *q_tail; /* under q_mu */
static size_t		     q_n;	      /* waiting, being written too */
static uint64_t		     q_issued, q_written; /* tickets */
static int		     q_started, q_stopping, q_hurry;
static int		     q_fails; /* failed writes in a row */
static uint64_t		     q_fail_total, q_refused_total;
static struct store	    *q_db;
static pthread_t	     q_thread;
static struct batch	     q_batch; /* the writer's */

static int64_t setting(int64_t, int64_t);
static int     queue_push(
	struct store *, struct request *, struct audit_pending *, int);
static int   queue_push_after(struct request *, void *);
static int   behind(void);
static int   refuse(struct request *, int, const char *, int);
static int   flush_tx(struct tx *, void *);
static void *writer_main(void *);

/* A setting, or def when the configuration was not loaded (0). */
static int64_t
setting(int64_t v, int64_t def)
{
	return (v > 0 ? v : def);
}

int
audit_read(struct tx *tx, const struct principal *who, struct request *req,
    const char *action, const char *entity_type, const char *entity_id,
    json_t *changes)
{
	struct audit_pending *p = NULL;
	int		      rc;

	/* A write's transaction keeps its own audit, as audit_append. */
	if (store_tx_writes(tx))
		return (audit_append(
		    tx, who, req, action, entity_type, entity_id, changes));
	if ((rc = audit_prepare(tx, who, req, action, entity_type, entity_id,
		 changes, 0, &p)) != OK)
		return (rc);
	return (queue_push(store_tx_store(tx), req, p, 0));
}

int
audit_read_text(struct tx *tx, const struct principal *who, struct request *req,
    const char *action, const char *entity_type, const char *entity_id,
    const char *changes)
{
	struct audit_pending *p = NULL;
	json_t		     *ch;
	int		      rc;

	if (store_tx_writes(tx)) {
		if ((ch = json_loads(changes, 0, NULL)) == NULL)
			return (ERR_NOMEM);
		rc = audit_append(
		    tx, who, req, action, entity_type, entity_id, ch);
		json_decref(ch);
		return (rc);
	}
	if ((rc = audit_prepare_text(tx, who, req, action, entity_type,
		 entity_id, changes, 0, &p)) != OK)
		return (rc);
	return (queue_push(store_tx_store(tx), req, p, 0));
}

/*
 * The writer is behind (under q_mu): audit_fail_max failed writes in a
 * row, or the oldest row queued longer ago than audit_queue_age_ms.
 */
static int
behind(void)
{
	int64_t age_ns;

	if (q_fails >= setting(config.audit_fail_max, AUDIT_FAIL_MAX_DEFAULT))
		return (1);
	if (q_head == NULL)
		return (0);
	age_ns =
	    setting(config.audit_queue_age_ms, AUDIT_QUEUE_AGE_MS_DEFAULT) *
	    1000000;
	return (time_mono_ns() - q_head->queued_ns > age_ns);
}

/*
 * Answer req (when there is one) 503 with code and Retry-After, over
 * the handler's answer when after (http_after): nothing it read goes.
 */
static int
refuse(struct request *req, int rc, const char *code, int after)
{
	if (req == NULL)
		return (rc);
	if (after)
		http_response_clear(req);
	if (!req->responded) {
		http_problem(req, rc, code,
		    "The audit log is not being written; try again later.");
		http_header_add(req, "Retry-After", "1");
	}
	return (rc);
}

/* The push of a row that found the queue full, the request's
 * transactions ended (http_after). */
static int
queue_push_after(struct request *req, void *arg)
{
	return (queue_push(req->db, req, arg, 1));
}

/*
 * Queue p (taken, freed when refused), starting the writer first. A
 * full queue: a request's read waits after its transactions have ended
 * (http_after; after is 1 there), anything else waits here.
 */
static int
queue_push(
    struct store *db, struct request *req, struct audit_pending *p, int after)
{
	struct timespec ts;
	size_t		queued, max;
	const char     *code = NULL;
	int		rc = OK;

	pthread_mutex_lock(&q_mu);
	if (!q_started && !q_stopping) {
		if (pthread_create(&q_thread, NULL, writer_main, db) == 0) {
			q_started = 1;
			q_db = db;
		} else
			log_error("event=audit_writer_failed");
	}
	if (!q_started || q_stopping || db != q_db) {
		rc = q_started && db != q_db ? ERR_INTERNAL : ERR_UNAVAILABLE;
		goto out;
	}
	if (behind()) {
		rc = ERR_UNAVAILABLE;
		code = "AUDIT_UNAVAILABLE";
		goto out;
	}
	max = (size_t)setting(config.audit_queue_max, AUDIT_QUEUE_MAX_DEFAULT);
	if (q_n >= max && req != NULL && !after) {
		/* Wait for room once the request's connection is back in
		 * the pool, where the writer may need it. */
		q_hurry = 1;
		pthread_cond_signal(&q_work);
		pthread_mutex_unlock(&q_mu);
		if (http_after(req, queue_push_after, p) == OK)
			return (OK);
		pthread_mutex_lock(&q_mu);
	}
	if (q_n >= max) {
		time_deadline(&ts, CLOCK_REALTIME,
		    config.audit_queue_wait_ms > 0 || config.audit_flush_ms > 0
			? config.audit_queue_wait_ms
			: AUDIT_QUEUE_WAIT_MS_DEFAULT);
		while (q_n >= max && !q_stopping) {
			q_hurry = 1;
			pthread_cond_signal(&q_work);
			if (pthread_cond_timedwait(&q_done, &q_mu, &ts) ==
				ETIMEDOUT &&
			    q_n >= max)
				break;
		}
		if (q_n >= max || q_stopping) {
			rc = ERR_UNAVAILABLE;
			goto out;
		}
		if (behind()) {
			rc = ERR_UNAVAILABLE;
			code = "AUDIT_UNAVAILABLE";
			goto out;
		}
	}
	p->ticket = ++q_issued;
	p->queued_ns = time_mono_ns();
	p->next = NULL;
	if (q_tail != NULL)
		q_tail->next = p;
	else
		q_head = p;
	q_tail = p;
	/* The writer waits for a first row, then for a batch's worth. */
	if (q_n++ == 0 || q_n == AUDIT_BATCH_MAX)
		pthread_cond_signal(&q_work);
	p = NULL;
out:
	queued = q_n;
	if (p != NULL)
		q_refused_total++;
	pthread_mutex_unlock(&q_mu);
	if (p != NULL) {
		free(p);
		log_warn("event=audit_queue_refused status=%s code=%s "
			 "queued=%zu",
		    err_code(rc), code != NULL ? code : err_code(rc), queued);
		if (rc == ERR_UNAVAILABLE)
			return (refuse(req, rc, code, after));
	}
	return (rc);
}

void
audit_queue_stats(struct audit_queue_stats *out)
{
	pthread_mutex_lock(&q_mu);
	out->queued = q_n;
	out->flush_failures = q_fail_total;
	out->refused = q_refused_total;
	out->behind = behind();
	pthread_mutex_unlock(&q_mu);
}

int
audit_queue_sync(void)
{
	struct timespec ts;
	uint64_t	ticket;
	int		rc = OK;

	/* A GET's transaction kept for its handler (store_tx_park) would
	 * hold the connection the writer may need. */
	store_tx_park_end();
	/* Waiting holding one could keep the writer from the connection it
	 * needs (with pool_max 1, until the timeout, the writer failing). */
	if (store_thread_connections() > 0) {
		log_error("event=audit_sync_holding_connection msg=\"the "
			  "audit log was to be read holding a database "
			  "connection\"");
		return (ERR_BUSY);
	}
	pthread_mutex_lock(&q_mu);
	ticket = q_issued;
	if (q_written < ticket) {
		q_hurry = 1;
		pthread_cond_signal(&q_work);
		time_deadline(&ts, CLOCK_REALTIME,
		    setting(config.db_busy_timeout_ms, AUDIT_SYNC_MS_DEFAULT));
		while (q_written < ticket)
			if (pthread_cond_timedwait(&q_done, &q_mu, &ts) ==
				ETIMEDOUT &&
			    q_written < ticket) {
				rc = ERR_BUSY;
				break;
			}
	}
	pthread_mutex_unlock(&q_mu);
	return (rc);
}

void
audit_queue_stop(void)
{
	int started;

	pthread_mutex_lock(&q_mu);
	started = q_started;
	q_stopping = 1;
	pthread_cond_signal(&q_work);
	pthread_cond_broadcast(&q_done); /* readers waiting for room */
	pthread_mutex_unlock(&q_mu);
	if (started)
		pthread_join(q_thread, NULL);
	pthread_mutex_lock(&q_mu);
	q_started = 0;
	q_fails = 0;
	q_db = NULL;
	q_batch.unknown = 0; /* its rows are gone, written or lost */
	pthread_mutex_unlock(&q_mu);
}

static int
flush_tx(struct tx *tx, void *arg)
{
	struct batch *b = arg;
	int	      rc, landed = 0;

	b->try_seq = 0;
	if (b->unknown &&
	    ((rc = audit_chain_holds(tx, b->seq, b->hash, &landed)) != OK ||
		landed)) {
		if (landed)
			log_warn("event=audit_batch_landed rows=%zu seq=%lld",
			    b->n, (long long)b->seq);
		return (rc);
	}
	return (audit_chain(tx, b->rows, b->n, &b->try_seq, b->try_hash));
}

static void *
writer_main(void *arg)
{
	struct store	     *db = arg;
	struct audit_pending *p;
	struct timespec	      ts;
	int64_t		      wait_ms;
	size_t		      k;
	int		      rc;

	pthread_mutex_lock(&q_mu);
	for (;;) {
		while (q_head == NULL && !q_stopping)
			pthread_cond_wait(&q_work, &q_mu);
		if (q_head == NULL)
			break; /* stopping, all written */
		/* Gather for a flush interval: readers meanwhile join the
		 * batch. A hurry, the stop or a full batch (rows come
		 * faster than one a flush interval takes: waiting more
		 * would only fill the queue) cuts it short. */
		time_deadline(&ts, CLOCK_REALTIME,
		    setting(config.audit_flush_ms, AUDIT_FLUSH_MS_DEFAULT));
		while (!q_hurry && !q_stopping && q_n < AUDIT_BATCH_MAX)
			if (pthread_cond_timedwait(&q_work, &q_mu, &ts) ==
			    ETIMEDOUT)
				break;
		q_hurry = 0;
		/* After an unknown outcome the same rows again, no more:
		 * they are what may have landed (still the queue's head). */
		for (k = q_batch.unknown ? q_batch.n : AUDIT_BATCH_MAX,
		    q_batch.n = 0, p = q_head;
		     p != NULL && q_batch.n < k; p = p->next)
			q_batch.rows[q_batch.n++] = p;
		pthread_mutex_unlock(&q_mu);

		(void)store_lost_take(); /* not this try's */
		rc = store_run(
		    db, STORE_TX_WRITE | STORE_TX_UNMARKED, flush_tx, &q_batch);
		if (rc == OK)
			q_batch.unknown = 0;
		else if (store_lost_take() == STORE_LOST_COMMIT &&
		    q_batch.try_seq > 0) {
			/* This try's rows may have landed: they are the
			 * ones to look for next (any earlier did not). */
			q_batch.unknown = 1;
			q_batch.seq = q_batch.try_seq;
			memcpy(q_batch.hash, q_batch.try_hash,
			    sizeof(q_batch.hash));
		}

		pthread_mutex_lock(&q_mu);
		if (rc == OK) {
			q_fails = 0;
			for (k = 0; k < q_batch.n; k++) {
				p = q_head;
				if ((q_head = p->next) == NULL)
					q_tail = NULL;
				q_written = p->ticket;
				free(p);
			}
			q_n -= q_batch.n;
			pthread_cond_broadcast(&q_done);
			continue;
		}
		q_fails++;
		q_fail_total++;
		log_error("event=audit_flush_failed status=%s rows=%zu "
			  "queued=%zu tries=%d",
		    err_code(rc), q_batch.n, q_n, q_fails);
		if (q_stopping && q_fails >= AUDIT_STOP_TRIES) {
			log_error("event=audit_rows_lost count=%zu", q_n);
			while ((p = q_head) != NULL) {
				q_head = p->next;
				free(p);
			}
			q_tail = NULL;
			q_n = 0;
			q_written = q_issued;
			pthread_cond_broadcast(&q_done);
			break;
		}
		/* Rows stay queued, in order; readers meet a writer behind
		 * or a full queue (503) rather than go unaudited. */
		wait_ms = setting(config.audit_flush_ms, AUDIT_FLUSH_MS_DEFAULT)
		    << (q_fails < 8 ? q_fails : 8);
		time_deadline(&ts, CLOCK_REALTIME,
		    wait_ms < AUDIT_BACKOFF_MAX ? wait_ms : AUDIT_BACKOFF_MAX);
		(void)pthread_cond_timedwait(&q_work, &q_mu, &ts);
	}
	pthread_mutex_unlock(&q_mu);
	return (NULL);
}
