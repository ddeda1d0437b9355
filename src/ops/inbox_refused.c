/*
 * Webhook calls refused for their credentials: a missing or wrong token
 * or signature, or no secret configured (the default). Anyone can make
 * them, so nothing they carry is kept: one inbox row of metadata (time,
 * source, bytes received, status and reason, the client address), no
 * body and no headers, outcome refused and signature_ok 0, never
 * replayed. One client address (its limit key: IPv4, or an IPv6 /64)
 * keeps at most webhook_refused_max_per_address such rows at a time
 * (rows go with webhook_inbox_retention_days); past that a call is
 * answered all the same and only counted: the metric
 * carebase_webhook_refusals_dropped_total, and a warning at most once a
 * minute.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "ops/ops_int.h"
#include "store/store.h"

#define DROP_WARN_MS 60000 /* a warning about drops at most this often */

static _Atomic uint64_t dropped;
static _Atomic int64_t	drop_warned_ms;

static int  refusal_tx(struct tx *, void *);
static void drop_count(const struct inbox_refusal *);

int
inbox_refusal_record(struct store *db, struct inbox_refusal *f)
{
	int rc;

	if (f->client_key == NULL || f->client_key[0] == '\0')
		f->client_key = "unknown";
	if ((rc = store_run(db, STORE_TX_WRITE, refusal_tx, f)) == OK &&
	    !f->stored)
		drop_count(f);
	return (rc);
}

uint64_t
inbox_refusals_dropped(void)
{
	return (atomic_load(&dropped));
}

/* Count the address's rows (at most the bound) and add one below it. */
static int
refusal_tx(struct tx *tx, void *arg)
{
	struct inbox_refusal *f = arg;
	struct stmt	     *st;
	char		      lock[96];
	int64_t		      now = time_now_ms(), n = 0;
	int		      rc;

	f->stored = 0;
	if (config.webhook_refused_max_per_address == 0)
		return (OK);
	snprintf(lock, sizeof(lock), "ops.inbox_refused:%s", f->client_key);
	if ((rc = store_xact_lock(tx, lock)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "SELECT count(*) FROM (SELECT 1 FROM webhook_inbox "
	    "WHERE client_key = ? AND signature_ok = 0 LIMIT ?) kept");
	store_bind_text(st, 1, f->client_key);
	store_bind_int64(st, 2, config.webhook_refused_max_per_address);
	if ((rc = store_step(st)) == STORE_ROW)
		n = store_col_int64(st, 0);
	store_finalize(st);
	if (rc != STORE_ROW)
		return (rc == STORE_DONE ? ERR_DB : rc);
	if (n >= config.webhook_refused_max_per_address)
		return (OK);
	st = store_prepare(tx,
	    "INSERT INTO webhook_inbox (id, source, "
	    "received_at, request_id, headers, body, body_bytes, signature_ok, "
	    "outcome, http_status, error, processed_at, attempts, created_at, "
	    "updated_at, client_addr, client_key) VALUES (?, ?, ?, ?, '{}', "
	    "NULL, ?, 0, 'refused', ?, ?, ?, 1, ?, ?, ?, ?)");
	store_bind_text(st, 1, f->id);
	store_bind_text(st, 2, f->source);
	store_bind_int64(st, 3, now);
	store_bind_text(st, 4, f->request_id);
	store_bind_int64(st, 5, (int64_t)f->received);
	store_bind_int64(st, 6, f->http_status);
	store_bind_text(st, 7, f->error);
	store_bind_int64(st, 8, now);
	store_bind_int64(st, 9, now);
	store_bind_int64(st, 10, now);
	store_bind_text(st, 11, f->client_addr);
	store_bind_text(st, 12, f->client_key);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc);
	f->stored = 1;
	return (OK);
}

static void
drop_count(const struct inbox_refusal *f)
{
	uint64_t n = atomic_fetch_add(&dropped, 1) + 1;
	int64_t	 now = time_now_ms(), last = atomic_load(&drop_warned_ms);

	if (now - last < DROP_WARN_MS ||
	    !atomic_compare_exchange_strong(&drop_warned_ms, &last, now))
		return;
	log_warn("event=webhook_refusals_dropped source=%s client=%s "
		 "dropped_total=%llu max_per_address=%lld msg=\"refused calls "
		 "from this address are counted, not stored\"",
	    f->source, f->client_addr != NULL ? f->client_addr : "-",
	    (unsigned long long)n,
	    (long long)config.webhook_refused_max_per_address);
}
