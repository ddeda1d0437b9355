/*
 * Failed logins, counted in login_failures in windows of an hour under
 * three subjects:
 *
 *	account:<email index>:ip:<client>	one account from one address
 *	account:<email index>			one account from anywhere
 *	ip:<client>				one address, any account
 *
 * (an account known or not, so the answer never tells which; <client> is
 * the keyed blind index (keyring_text_index) of "ip:" and the address's
 * limit key: IPv4, or an IPv6 /64, after trusted_proxies. The address is
 * personal data: the table never holds it in clear, only compares it).
 *
 * Each attempt is counted before its password is checked, in one
 * conditional upsert per subject, all in one transaction: a row that is
 * locked is not touched (the attempt is refused and nothing is counted),
 * any other row counts the attempt and returns its number, which sets the
 * lock for the next attempt. So parallel attempts are counted exactly and
 * each sees the lock of those before it.
 *
 * Only failures count: a right password gives its attempt back to the
 * account's and the address's counts (so successes never use up a shared
 * address's budget) and forgets the (account, address) count, the one
 * whose backoff its owner may have run into with typos.
 *
 * (account, address): after login_backoff_after failures each next try
 * waits 2^(n-after) seconds (at most 15 minutes), locked for the rest of
 * the window at login_max_failures_hour. Someone guessing from one address
 * slows down only that address: the owner signs in from theirs. Account:
 * locked for the rest of the window at login_account_max_failures_hour,
 * much higher, against guessing from many addresses. Address: locked for
 * the rest of the window at login_ip_max_failures_hour. Neither has a
 * backoff, so a shared address is not slowed by one person's typos.
 */
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/err.h"
#include "core/keyring.h"
#include "core/util.h"
#include "http/http.h"
#include "people/people_int.h"
#include "store/store.h"

#define SUBJECT_MAX 192

struct reserve {
	const char *pair;    /* subject: the account from the address */
	const char *account; /* subject */
	const char *ip;	     /* subject */
	int64_t	    now;
	int64_t	    locked_until; /* of the refusing subject */
};

static void subjects(const char *email_index, const char *client, char *pair,
    char *account, char *ip);
static int  reserve_tx(struct tx *, void *);
static int  reserve_one(struct tx *, const char *subject, int64_t now,
     int64_t after, int64_t max, int64_t *locked_until);
static int  locked_until_get(struct tx *, const char *subject, int64_t *);
static int  give_back(struct tx *, const char *subject, int64_t max);
static int  exec_subject(struct tx *, const char *sql, const char *subject);

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

static void
subjects(const char *email_index, const char *client, char *pair, char *account,
    char *ip)
{
	char key[SUBJECT_MAX], index[65];

	snprintf(key, sizeof(key), "ip:%s", client);
	keyring_text_index(key, index);
	snprintf(pair, SUBJECT_MAX, "account:%s:ip:%s", email_index, index);
	snprintf(account, SUBJECT_MAX, "account:%s", email_index);
	snprintf(ip, SUBJECT_MAX, "ip:%s", index);
}

int
people_throttle_gate(struct request *req, const char *email, char index[65],
    const char **client, const char *what, const char *failed)
{
	char ra[16];
	int  rc, retry = 1;

	keyring_email_index(email, index);
	*client = req->client_key[0] ? req->client_key : req->ip;
	rc = people_throttle_reserve(
	    req->db, index, *client, time_now_ms(), &retry);
	if (rc == ERR_RATE_LIMIT) {
		snprintf(ra, sizeof(ra), "%d", retry);
		http_header_add(req, "Retry-After", ra);
		http_problem(req, rc, NULL,
		    "too many %s; try again in %d seconds", what, retry);
	} else if (rc != OK)
		http_problem(req, rc, NULL, "%s", failed);
	return (rc);
}

int
people_throttle_reserve(struct store *db, const char *email_index,
    const char *client, int64_t now, int *retry_after_s)
{
	struct reserve r;
	char pair[SUBJECT_MAX], account[SUBJECT_MAX], addr[SUBJECT_MAX];
	int  rc;

	subjects(email_index, client, pair, account, addr);
	memset(&r, 0, sizeof(r));
	r.pair = pair;
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

	if ((rc = reserve_one(tx, r->pair, r->now, config.login_backoff_after,
		 config.login_max_failures_hour, &r->locked_until)) != OK ||
	    (rc = reserve_one(tx, r->account, r->now, 0,
		 config.login_account_max_failures_hour, &r->locked_until)) !=
		OK)
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
people_throttle_success(
    struct tx *tx, const char *email_index, const char *client)
{
	char pair[SUBJECT_MAX], account[SUBJECT_MAX], addr[SUBJECT_MAX];
	int  rc;

	subjects(email_index, client, pair, account, addr);
	if ((rc = exec_subject(tx,
		 "DELETE FROM login_failures WHERE subject = ?", pair)) != OK ||
	    (rc = give_back(
		 tx, account, config.login_account_max_failures_hour)) != OK)
		return (rc);
	return (give_back(tx, addr, config.login_ip_max_failures_hour));
}

int
people_throttle_forget(struct tx *tx, const char *email_index)
{
	char subject[SUBJECT_MAX], like[SUBJECT_MAX];
	int  rc;

	snprintf(subject, sizeof(subject), "account:%s", email_index);
	snprintf(like, sizeof(like), "account:%s:%%", email_index);
	if ((rc = exec_subject(tx,
		 "DELETE FROM login_failures WHERE subject = ?", subject)) !=
	    OK)
		return (rc);
	return (exec_subject(
	    tx, "DELETE FROM login_failures WHERE subject LIKE ?", like));
}

/*
 * The attempt counted by the reservation was not a failure: take it off a
 * count of the current window, and lift a lock that it alone reached
 * (these subjects lock only at max).
 */
static int
give_back(struct tx *tx, const char *subject, int64_t max)
{
	struct stmt *st;
	int	     step;

	if ((st = store_prepare(tx,
		 "UPDATE login_failures SET failures = failures - 1, "
		 "locked_until = CASE WHEN failures - 1 >= ? THEN locked_until "
		 "ELSE NULL END WHERE subject = ? AND failures > 0 AND "
		 "window_start > ?")) == NULL)
		return (ERR_DB);
	store_bind_int64(st, 1, max);
	store_bind_text(st, 2, subject);
	store_bind_int64(st, 3, time_now_ms() - PEOPLE_WINDOW_MS);
	step = store_step(st);
	store_finalize(st);
	return (
	    step == STORE_DONE ? OK : (step == ERR_BUSY ? ERR_BUSY : ERR_DB));
}

static int
exec_subject(struct tx *tx, const char *sql, const char *subject)
{
	struct stmt *st;
	int	     step;

	if ((st = store_prepare(tx, sql)) == NULL)
		return (ERR_DB);
	store_bind_text(st, 1, subject);
	step = store_step(st);
	store_finalize(st);
	return (
	    step == STORE_DONE ? OK : (step == ERR_BUSY ? ERR_BUSY : ERR_DB));
}
