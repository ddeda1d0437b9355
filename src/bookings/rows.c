/*
 * Therapy bookings: what the webhook (webhook.c), the app (app.c) and the
 * jobs share. A booking's writers are serialised per booking code and per
 * user (store_xact_lock; SQLite's write lock already is). Cancelling
 * gives the session back to its access exactly once. Every write is
 * audited ("therapy_bookings.create", ".update", ".cancel").
 *
 * completed_at: the job therapy_bookings.complete (every minute) sets it
 * to end_date_time once that has passed, for bookings not cancelled; a
 * cancelled booking is never completed.
 *
 * Rows carried over in clear by migration 0011 (legacy_plain = 1) are
 * sealed at start-up (bookings_seal_legacy), or by their next update.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "bookings/bookings_int.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "module.h"
#include "resource/audit.h"
#include "resource/hooks.h"
#include "resource/resource.h"
#include "resource/seal.h"
#include "store/jobs.h"
#include "store/migrate.h"
#include "store/store.h"

#define LEGACY_BATCH 100 /* rows sealed per transaction */

struct legacy_batch {
	int64_t sealed; /* this batch */
};

static int legacy_batch_tx(struct tx *, void *);
static int id_cmp(const void *, const void *);
static int complete_batch(struct store *, int64_t, int64_t *);

int
booking_lock(struct tx *tx, const char *kind, const char *value)
{
	char key[128];

	snprintf(key, sizeof(key), "therapy_bookings:%s:%s", kind, value);
	return (store_xact_lock(tx, key));
}

/* The booking with code (or, when code is NULL, with id); ERR_NOT_FOUND. */
int
booking_find(struct tx *tx, const char *code, const char *id, struct booking *b)
{
	struct stmt *st;
	int	     rc;

	memset(b, 0, sizeof(*b));
	st = store_prepare(tx,
	    code != NULL
		? "SELECT id, user_id, "
		  "partner_access_id, booking_code, start_date_time, "
		  "end_date_time, "
		  "rescheduled_from, cancelled_at FROM therapy_bookings WHERE "
		  "booking_code = ?"
		: "SELECT id, user_id, partner_access_id, "
		  "booking_code, start_date_time, end_date_time, "
		  "rescheduled_from, "
		  "cancelled_at FROM therapy_bookings WHERE id = ?");
	store_bind_text(st, 1, code != NULL ? code : id);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		strlcpy_cb(b->id, store_col_text(st, 0), sizeof(b->id));
		strlcpy_cb(
		    b->user_id, store_col_text(st, 1), sizeof(b->user_id));
		if (!store_col_is_null(st, 2))
			strlcpy_cb(b->access_id, store_col_text(st, 2),
			    sizeof(b->access_id));
		strlcpy_cb(b->code, store_col_text(st, 3), sizeof(b->code));
		b->start = store_col_int64(st, 4);
		b->end = store_col_int64(st, 5);
		b->rescheduled_from =
		    store_col_is_null(st, 6) ? -1 : store_col_int64(st, 6);
		b->cancelled = !store_col_is_null(st, 7);
		rc = OK;
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	}
	store_finalize(st);
	return (rc);
}

/*
 * Cancel b and give its session back, exactly once: ERR_CONFLICT when it
 * was cancelled already (the guard holds against concurrent cancels).
 */
int
booking_cancel_give_back(struct tx *tx, const struct booking *b)
{
	struct stmt *st;
	int64_t	     now = time_now_ms(), n;
	int	     rc;

	/* A cancelled booking is never completed (see the top). */
	st = store_prepare(tx,
	    "UPDATE therapy_bookings SET action = "
	    "'CANCELLED_BOOKING', cancelled_at = ?, updated_at = ?, "
	    "completed_at = NULL WHERE id = ? AND cancelled_at IS NULL");
	store_bind_int64(st, 1, now);
	store_bind_int64(st, 2, now);
	store_bind_text(st, 3, b->id);
	rc = store_step(st);
	n = store_changes(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc);
	if (n == 0)
		return (ERR_CONFLICT);
	if (b->access_id[0] == '\0')
		return (OK);
	st = store_prepare(tx,
	    "UPDATE partner_access SET "
	    "therapy_sessions_remaining = therapy_sessions_remaining + 1, "
	    "therapy_sessions_redeemed = therapy_sessions_redeemed - 1, "
	    "updated_at = ? WHERE id = ? AND therapy_sessions_redeemed > 0");
	store_bind_int64(st, 1, now);
	store_bind_text(st, 2, b->access_id);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

/* Appends the record; takes changes. */
int
booking_audit(struct tx *tx, const struct principal *who, struct request *req,
    const char *action, const char *id, json_t *changes)
{
	int rc;

	if (changes == NULL)
		return (ERR_NOMEM);
	rc =
	    audit_append(tx, who, req, action, "therapy_bookings", id, changes);
	json_decref(changes);
	return (rc);
}

/* A booking as the booking system is answered: no client address. */
int
booking_answer(struct tx *tx, const char *id, json_t **out)
{
	return (resource_read(
	    tx, &therapy_bookings_resource, id, SCOPE_RELATED, out));
}

/* Rows carried over in clear by migration 0011 */

int
booking_seal_legacy_row(struct tx *tx, const char *id)
{
	static const char *const cols[] = { "client_timezone",
		"service_provider_name", "service_provider_email" };
	struct stmt		*st;
	unsigned char key[SEAL_KEY_LEN], *sealed[3] = { NULL, NULL, NULL };
	char	     *plain[3] = { NULL, NULL, NULL }, user[UUID_STR_LEN];
	const void   *b;
	size_t	      n, len[3] = { 0, 0, 0 }, i;
	int	      rc, have_key;

	st = store_prepare(tx,
	    "SELECT user_id, client_timezone, "
	    "service_provider_name, service_provider_email FROM "
	    "therapy_bookings WHERE id = ? AND legacy_plain = 1");
	store_bind_text(st, 1, id);
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(user, store_col_text(st, 0), sizeof(user));
		for (i = 0; i < NELEM(cols) && rc == STORE_ROW; i++) {
			if (store_col_is_null(st, (int)i + 1))
				continue;
			b = store_col_blob(st, (int)i + 1, &n);
			if ((plain[i] = malloc(n + 1)) == NULL) {
				rc = ERR_NOMEM;
				break;
			}
			if (n > 0)
				memcpy(plain[i], b, n);
			plain[i][n] = '\0';
		}
	}
	store_finalize(st);
	if (rc == STORE_DONE) {
		rc = OK; /* sealed already, or no such row */
		goto out;
	}
	if (rc != STORE_ROW)
		goto out;
	/* The person erased meanwhile: their details go, unsealed. */
	rc = seal_key_load(tx, user, key);
	if (rc != OK && rc != ERR_NOT_FOUND)
		goto out;
	have_key = rc == OK;
	rc = OK;
	for (i = 0; i < NELEM(cols) && have_key && rc == OK; i++)
		if (plain[i] != NULL)
			rc = seal_field(key, "therapy_bookings", cols[i], id,
			    plain[i], &sealed[i], &len[i]);
	sodium_memzero(key, sizeof(key));
	if (rc != OK)
		goto out;
	st = store_prepare(tx,
	    "UPDATE therapy_bookings SET client_timezone = "
	    "?, service_provider_name = ?, service_provider_email = ?, "
	    "legacy_plain = 0 WHERE id = ? AND legacy_plain = 1");
	for (i = 0; i < NELEM(cols); i++)
		if (sealed[i] != NULL)
			store_bind_blob(st, (int)i + 1, sealed[i], len[i]);
		else
			store_bind_null(st, (int)i + 1);
	store_bind_text(st, 4, id);
	rc = store_step(st);
	store_finalize(st);
	rc = rc == STORE_DONE ? OK : rc;
out:
	for (i = 0; i < NELEM(cols); i++) {
		if (plain[i] != NULL) {
			sodium_memzero(plain[i], strlen(plain[i]));
			free(plain[i]);
		}
		free(sealed[i]);
	}
	return (rc);
}

static int
legacy_batch_tx(struct tx *tx, void *arg)
{
	struct legacy_batch *lb = arg;
	struct stmt	    *st;
	char		     ids[LEGACY_BATCH][UUID_STR_LEN];
	int		     rc, n = 0, i;

	lb->sealed = 0;
	st = store_prepare(tx,
	    "SELECT id FROM therapy_bookings WHERE "
	    "legacy_plain = 1 ORDER BY id LIMIT ?");
	store_bind_int64(st, 1, LEGACY_BATCH);
	while ((rc = store_step(st)) == STORE_ROW && n < LEGACY_BATCH)
		strlcpy_cb(ids[n++], store_col_text(st, 0), UUID_STR_LEN);
	store_finalize(st);
	if (rc != STORE_DONE && rc != STORE_ROW)
		return (rc);
	for (i = 0; i < n; i++)
		if ((rc = booking_seal_legacy_row(tx, ids[i])) != OK)
			return (rc);
	lb->sealed = n;
	return (OK);
}

int
bookings_seal_legacy(struct store *db)
{
	struct legacy_batch lb;
	int64_t		    total = 0;
	int		    rc;

	/* legacy_plain comes with migration 0011: nothing to seal before. */
	if ((rc = migrate_applied(db, "0011_bookings_sealed")) != OK)
		return (rc == ERR_NOT_FOUND ? OK : rc);
	do {
		if ((rc = store_run(
			 db, STORE_TX_WRITE, legacy_batch_tx, &lb)) != OK) {
			log_error("event=bookings_seal_failed status=%s",
			    err_code(rc));
			return (rc);
		}
		total += lb.sealed;
	} while (lb.sealed == LEGACY_BATCH);
	if (total > 0)
		log_info("event=bookings_sealed rows=%lld", (long long)total);
	return (OK);
}

/* The therapy_bookings.complete job. */

static int
id_cmp(const void *a, const void *b)
{
	const char *x = *(const char *const *)a;
	const char *y = *(const char *const *)b;

	return (strcmp(x != NULL ? x : "", y != NULL ? y : ""));
}

/* One batch: complete, touch the users; *n how many were completed. */
static int
complete_batch(struct store *db, int64_t now, int64_t *n)
{
	struct tx   *tx;
	struct stmt *st;
	json_t	    *users;
	const char **v;
	size_t	     i;
	int	     rc;

	*n = 0;
	if ((users = json_array()) == NULL)
		return (ERR_NOMEM);
	if ((rc = store_tx_begin(db, STORE_TX_WRITE, &tx)) != OK) {
		json_decref(users);
		return (rc);
	}
	/* The users in id order: change listeners take row locks. */
	/*
	 * The guards again outside the subquery: on PostgreSQL a row changed
	 * by a concurrent reschedule or cancel is re-checked against the
	 * outer WHERE only (READ COMMITTED does not re-run the LIMIT query).
	 */
	st = store_prepare(tx,
	    "UPDATE therapy_bookings SET completed_at = "
	    "end_date_time, updated_at = ? WHERE id IN (SELECT id FROM "
	    "therapy_bookings WHERE completed_at IS NULL AND cancelled_at IS "
	    "NULL AND end_date_time <= ? ORDER BY end_date_time, id LIMIT ?) "
	    "AND completed_at IS NULL AND cancelled_at IS NULL AND "
	    "end_date_time <= ? RETURNING user_id");
	store_bind_int64(st, 1, now);
	store_bind_int64(st, 2, now);
	store_bind_int64(st, 3, BOOKING_COMPLETE_BATCH);
	store_bind_int64(st, 4, now);
	while ((rc = store_step(st)) == STORE_ROW) {
		(*n)++;
		json_array_append_new(
		    users, json_string(store_col_text(st, 0)));
	}
	store_finalize(st);
	if (rc == STORE_DONE &&
	    (v = calloc(json_array_size(users) + 1, sizeof(*v))) == NULL)
		rc = ERR_NOMEM;
	else if (rc == STORE_DONE) {
		rc = OK;
		for (i = 0; i < json_array_size(users); i++)
			v[i] = json_string_value(json_array_get(users, i));
		qsort(v, json_array_size(users), sizeof(*v), id_cmp);
		for (i = 0; i < json_array_size(users) && rc == OK; i++)
			if (v[i] != NULL &&
			    (i == 0 || v[i - 1] == NULL ||
				strcmp(v[i], v[i - 1]) != 0))
				rc = hooks_changed(tx, CHANGE_PERSON, v[i]);
		free(v);
	}
	json_decref(users);
	if (rc != OK) {
		store_tx_rollback(tx);
		return (rc == ERR_BUSY || rc == ERR_NOMEM ? rc : ERR_DB);
	}
	return (store_tx_commit(tx));
}

int
bookings_complete_job(struct store *db, const struct job *job, char *err)
{
	int64_t now = time_now_ms(), n, total = 0;
	int	rc;

	(void)job;
	do {
		rc = complete_batch(db, now, &n);
		total += n;
	} while (rc == OK && n == BOOKING_COMPLETE_BATCH);
	if (rc != OK)
		snprintf(err, JOB_ERR_LEN, "therapy_bookings.complete: %s",
		    err_code(rc));
	else if (total > 0)
		log_info(
		    "event=bookings_completed count=%lld", (long long)total);
	return (rc);
}
