/*
 * Failed logins, counted per account ("account:<email index>", known or
 * not, so the answer never tells which) and per client address
 * ("ip:<addr>") in login_failures, in windows of an hour.
 *
 * Each attempt is counted before its password is checked, in one
 * conditional upsert: a row that is locked is not touched (the attempt is
 * refused), any other row counts the attempt and returns its number. The
 * number sets the lock for the next attempt in the same transaction, so
 * parallel attempts are counted exactly and each sees the lock of those
 * before it. A right password then forgets the account's count, never
 * the address's: a right password for one's own account must not buy
 * more guesses at others from the same address.
 *
 * Accounts: after login_backoff_after attempts each next one waits
 * 2^(n-after) seconds (at most 15 minutes); at login_max_failures_hour the
 * account is locked for the rest of the window. Addresses: every attempt,
 * right or wrong, counts; locked for the rest of the window at
 * login_ip_max_failures_hour (no backoff, so a shared address is not
 * slowed by one person's typos).
 */
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/err.h"
#include "people/people_int.h"
#include "store/store.h"

#define SUBJECT_MAX 128

struct reserve {
	const char *account; /* subject */
	const char *ip;	     /* subject */
	int64_t	    now;
	int64_t	    locked_until; /* of the refusing subject */
};

static int reserve_tx(struct tx *, void *);
static int reserve_one(struct tx *, const char *subject, int64_t now,
    int64_t after, int64_t max, int64_t *locked_until);
static int locked_until_get(struct tx *, const char *subject, int64_t *);

static const char *upsert_sql =
    "INSERT INTO login_failures (subject, window_start, failures, "
    "locked_until) "
    "VALUES (?, ?, 1, NULL) "
    "ON CONFLICT (subject) DO UPDATE SET "
    "failures = CASE WHEN login_failures.window_start <= ? THEN 1 "
    "ELSE login_failures.failures + 1 END, "
    "window_start = CASE WHEN login_failures.window_start <= ? "
    "THEN excluded.window_start ELSE login_failures.window_start END, "
    "locked_until = CASE WHEN login_failures.window_start <= ? THEN NULL "
    "ELSE login_failures.locked_until END "
    "WHERE login_failures.window_start <= ? OR "
    "login_failures.locked_until IS NULL OR login_failures.locked_until <= ? "
    "RETURNING window_start, failures";

int64_t
people_throttle_lock(
    int64_t n, int64_t after, int64_t max, int64_t window_start, int64_t now)
{
	int64_t wait_s;

	if (n >= max)
		return (window_start + PEOPLE_WINDOW_MS);
	if (after <= 0 || n < after)
		return (0);
	wait_s =
	    n - after >= 10 ? PEOPLE_BACKOFF_CAP_S : (int64_t)1 << (n - after);
	if (wait_s > PEOPLE_BACKOFF_CAP_S)
		wait_s = PEOPLE_BACKOFF_CAP_S;
	return (now + wait_s * 1000);
}

int
people_retry_after(int64_t until, int64_t now)
{
	int64_t s;

	s = (until - now + 999) / 1000;
	return (s < 1 ? 1 : (int)(s > 86400 ? 86400 : s));
}

int
people_throttle_reserve(struct store *db, const char *email_index,
    const char *ip, int64_t now, int *retry_after_s)
{
	struct reserve r;
	char	       account[SUBJECT_MAX], addr[SUBJECT_MAX];
	int	       rc;

	snprintf(account, sizeof(account), "account:%s", email_index);
	snprintf(addr, sizeof(addr), "ip:%s", ip);
	memset(&r, 0, sizeof(r));
	r.account = account;
	r.ip = addr;
	r.now = now;
	rc = store_run(db, STORE_TX_WRITE, reserve_tx, &r);
	if (rc == ERR_RATE_LIMIT)
		*retry_after_s = people_retry_after(r.locked_until, now);
	return (rc);
}

static int
reserve_tx(struct tx *tx, void *arg)
{
	struct reserve *r = arg;
	int		rc;

	if ((rc = reserve_one(tx, r->account, r->now,
		 config.login_backoff_after, config.login_max_failures_hour,
		 &r->locked_until)) != OK)
		return (rc);
	return (reserve_one(tx, r->ip, r->now, 0,
	    config.login_ip_max_failures_hour, &r->locked_until));
}

static int
reserve_one(struct tx *tx, const char *subject, int64_t now, int64_t after,
    int64_t max, int64_t *locked_until)
{
	struct stmt *st;
	int64_t	     expired = now - PEOPLE_WINDOW_MS, start = 0, n = 0, lock;
	int	     rc, step;

	if ((st = store_prepare(tx, upsert_sql)) == NULL)
		return (ERR_DB);
	store_bind_text(st, 1, subject);
	store_bind_int64(st, 2, now);
	store_bind_int64(st, 3, expired);
	store_bind_int64(st, 4, expired);
	store_bind_int64(st, 5, expired);
	store_bind_int64(st, 6, expired);
	store_bind_int64(st, 7, now);
	if ((step = store_step(st)) == STORE_ROW) {
		start = store_col_int64(st, 0);
		n = store_col_int64(st, 1);
		while ((step = store_step(st)) == STORE_ROW)
			;
	}
	store_finalize(st);
	if (step != STORE_DONE)
		return (step == ERR_BUSY ? ERR_BUSY : ERR_DB);
	if (n == 0) {
		/* The row is locked: nothing was counted. */
		if ((rc = locked_until_get(tx, subject, locked_until)) != OK)
			return (rc);
		return (ERR_RATE_LIMIT);
	}
	if ((lock = people_throttle_lock(n, after, max, start, now)) == 0)
		return (OK);
	if ((st = store_prepare(tx,
		 "UPDATE login_failures SET locked_until = ? "
		 "WHERE subject = ?")) == NULL)
		return (ERR_DB);
	store_bind_int64(st, 1, lock);
	store_bind_text(st, 2, subject);
	step = store_step(st);
	store_finalize(st);
	return (
	    step == STORE_DONE ? OK : (step == ERR_BUSY ? ERR_BUSY : ERR_DB));
}

static int
locked_until_get(struct tx *tx, const char *subject, int64_t *out)
{
	struct stmt *st;
	int	     step;

	if ((st = store_prepare(tx,
		 "SELECT locked_until FROM login_failures "
		 "WHERE subject = ?")) == NULL)
		return (ERR_DB);
	store_bind_text(st, 1, subject);
	if ((step = store_step(st)) == STORE_ROW)
		*out = store_col_int64(st, 0);
	store_finalize(st);
	return (
	    step == STORE_ROW ? OK : (step == ERR_BUSY ? ERR_BUSY : ERR_DB));
}

int
people_throttle_success(struct tx *tx, const char *email_index)
{
	struct stmt *st;
	char	     subject[SUBJECT_MAX];
	int	     step;

	snprintf(subject, sizeof(subject), "account:%s", email_index);
	if ((st = store_prepare(tx,
		 "DELETE FROM login_failures "
		 "WHERE subject = ?")) == NULL)
		return (ERR_DB);
	store_bind_text(st, 1, subject);
	step = store_step(st);
	store_finalize(st);
	return (
	    step == STORE_DONE ? OK : (step == ERR_BUSY ? ERR_BUSY : ERR_DB));
}
