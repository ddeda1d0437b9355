/*
 * Partner access codes: made, normalised, hashed, checked and redeemed.
 *
 * A code is PARTNER_CODE_LEN characters drawn with libsodium's
 * randombytes_uniform from PARTNER_CODE_ALPHABET (no 0/O/1/I/L), given
 * once to its creator and never stored: code_hash is a keyed BLAKE2b-256
 * (the blind-index key of core/keyring.h) of "partner_access:" and the
 * code in upper case, so the table alone does not let anyone try the
 * 887 million codes offline. Input is case-insensitive.
 *
 * Checking a code answers, in this order:
 *	INVALID_CODE	400	not 6 characters of the alphabet
 *	RATE_LIMITED	429	too many failed look-ups (Retry-After)
 *	DOES_NOT_EXIST	400	no such code (or not the partner named)
 *	ALREADY_APPLIED	409	the caller redeemed it already
 *	ALREADY_IN_USE	409	someone else redeemed it
 *	INACTIVE	400	the access or its partner is not active
 *	CODE_EXPIRED	400	made more than a year ago
 *
 * Guessing: each look-up first counts one failure against the client
 * address ("ip:<its keyed blind index>", never the address in clear)
 * and, when the caller is known, the account ("user:<id>") in
 * partner_code_failures, in one conditional upsert that
 * refuses once the window's limit is reached; a look-up that finds the
 * code gives the failures back in the same transaction. So parallel
 * guesses are counted exactly, and only look-ups of codes that do not
 * exist use up the allowance (10 per account, 30 per address, 15 min).
 *
 * Redeeming is one UPDATE ... WHERE user_id IS NULL (and still active,
 * unexpired, its partner active) whose changed-row count decides: of any
 * number of parallel redemptions of one code exactly one changes the row
 * and the others find it in use, on SQLite and PostgreSQL alike.
 *
 * At registration (people's register hook) a code is checked, and
 * guessing counted, before the account is made; it is redeemed inside
 * the registration transaction, whose failure leaves no user behind.
 * Registering to a partner with the automatic_access_code feature and no
 * code grants an access with live chat and no therapy.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/arena.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/keyring.h"
#include "core/util.h"
#include "http/http.h"
#include "partners/partners_int.h"
#include "resource/hooks.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "store/jobs.h"
#include "store/store.h"

#define SUBJECT_MAX 96

enum outcome {
	CODE_VALID = 0,
	CODE_INVALID,
	CODE_DOES_NOT_EXIST,
	CODE_ALREADY_APPLIED,
	CODE_ALREADY_IN_USE,
	CODE_INACTIVE,
	CODE_EXPIRED,
	CODE_THROTTLED
};

static const struct {
	int	    rc;
	const char *code;
	const char *detail;
} outcomes[] = {
	[CODE_VALID] = { OK, NULL, NULL },
	[CODE_INVALID] = { ERR_MALFORMED, "INVALID_CODE",
	    "A partner access "
	    "code is 6 letters and digits (without 0, O, 1, I or L)." },
	[CODE_DOES_NOT_EXIST] = { ERR_MALFORMED, "DOES_NOT_EXIST",
	    "There is "
	    "no such partner access code." },
	[CODE_ALREADY_APPLIED] = { ERR_CONFLICT, "ALREADY_APPLIED",
	    "You have "
	    "redeemed this partner access code already." },
	[CODE_ALREADY_IN_USE] = { ERR_CONFLICT, "ALREADY_IN_USE",
	    "This "
	    "partner access code has been redeemed by someone else." },
	[CODE_INACTIVE] = { ERR_MALFORMED, "INACTIVE",
	    "This partner access "
	    "code, or its partner, is no longer active." },
	[CODE_EXPIRED] = { ERR_MALFORMED, "CODE_EXPIRED",
	    "This partner access "
	    "code has expired: codes last a year." },
	[CODE_THROTTLED] = { ERR_RATE_LIMIT, NULL,
	    "Too many partner access "
	    "codes that do not exist were tried." },
};

/* A code found by its hash. */
struct found {
	char	id[UUID_STR_LEN];
	char	user_id[UUID_STR_LEN]; /* "" while not redeemed */
	char	partner[PARTNER_NAME_MAX * 4 + 1];
	int	active;
	int	partner_active;
	int64_t created_at;
	int	live_chat;
	int	therapy;
	int64_t remaining;
};

/* One check (and maybe redemption) of a code, run by store_run. */
struct check {
	struct request	       *req;
	const struct principal *who;	 /* NULL: anonymous */
	const char	       *partner; /* id or name, or NULL */
	char			hash[PARTNER_CODE_HASH_LEN];
	char			subject[2][SUBJECT_MAX];
	int64_t			max[2];
	int			nsubjects;
	int			assign; /* redeem for who */
	/* out */
	int	outcome;
	int64_t retry_ms;
	char	access_id[UUID_STR_LEN];
	json_t *row;
};

/* What registration found in partners_register_check. */
struct reg_state {
	int  automatic;		      /* no code: a grant to make */
	char access_id[UUID_STR_LEN]; /* the code's access */
	char partner_id[UUID_STR_LEN];
};

static int  reserve_one(struct tx *, const char *subject, int64_t max,
     int64_t now, int64_t *locked_until);
static int  guess_reserve(struct tx *, struct check *, int64_t now);
static int  guess_refund(struct tx *, struct check *);
static int  code_find(struct tx *, const char *hash, const char *partner,
     const char *id, struct found *);
static int  code_state(const struct found *, const char *user_id, int64_t now);
static int  redeem(struct tx *, struct request *, const char *access_id,
     const char *user_id, const struct principal *, int *outcome);
static int  check_tx(struct tx *, void *);
static void check_init(
    struct check *, struct request *, const struct principal *);
static int outcome_answer(struct request *, int outcome, int64_t retry_ms);
static int code_args(
    struct request *, char code[PARTNER_CODE_LEN + 1], const char **partner);
static int field_refuse(
    struct request *, const char *field, const char *code, const char *detail);
static int automatic_grant(struct tx *, struct request *,
    const struct reg_state *, const char *user_id);

/* Codes */

void
partner_code_new(char out[PARTNER_CODE_LEN + 1])
{
	size_t i;

	for (i = 0; i < PARTNER_CODE_LEN; i++)
		out[i] = PARTNER_CODE_ALPHABET[randombytes_uniform(
		    (uint32_t)(sizeof(PARTNER_CODE_ALPHABET) - 1))];
	out[PARTNER_CODE_LEN] = '\0';
}

void
partner_code_hash(const char *code, char out[PARTNER_CODE_HASH_LEN])
{
	char in[32];

	snprintf(in, sizeof(in), "partner_access:%s", code);
	crypto_blind_index(keyring_key(KEY_INDEX), in, out);
	sodium_memzero(in, sizeof(in));
}

/* Guessing */

/*
 * Count one failure for subject unless its window holds max already;
 * a window older than PARTNER_GUESS_WINDOW_MS starts again at 1.
 * ERR_RATE_LIMIT (with *locked_until) when refused.
 */
static int
reserve_one(struct tx *tx, const char *subject, int64_t max, int64_t now,
    int64_t *locked_until)
{
	struct stmt *st;
	int64_t	     expired = now - PARTNER_GUESS_WINDOW_MS, n = 0;
	int	     step;

	st = store_prepare(tx,
	    "INSERT INTO partner_code_failures (subject, "
	    "window_start, failures) VALUES (?, ?, 1) ON CONFLICT (subject) "
	    "DO UPDATE SET failures = CASE WHEN "
	    "partner_code_failures.window_start <= ? THEN 1 ELSE "
	    "partner_code_failures.failures + 1 END, window_start = CASE WHEN "
	    "partner_code_failures.window_start <= ? THEN "
	    "excluded.window_start ELSE partner_code_failures.window_start END "
	    "WHERE partner_code_failures.window_start <= ? OR "
	    "partner_code_failures.failures < ? RETURNING failures");
	store_bind_text(st, 1, subject);
	store_bind_int64(st, 2, now);
	store_bind_int64(st, 3, expired);
	store_bind_int64(st, 4, expired);
	store_bind_int64(st, 5, expired);
	store_bind_int64(st, 6, max);
	if ((step = store_step(st)) == STORE_ROW) {
		n = store_col_int64(st, 0);
		while ((step = store_step(st)) == STORE_ROW)
			;
	}
	store_finalize(st);
	if (step != STORE_DONE)
		return (step == ERR_BUSY ? ERR_BUSY : ERR_DB);
	if (n > 0)
		return (OK);
	st = store_prepare(tx,
	    "SELECT window_start FROM partner_code_failures "
	    "WHERE subject = ?");
	store_bind_text(st, 1, subject);
	if ((step = store_step(st)) == STORE_ROW)
		*locked_until =
		    store_col_int64(st, 0) + PARTNER_GUESS_WINDOW_MS;
	store_finalize(st);
	if (step != STORE_ROW)
		return (step == ERR_BUSY ? ERR_BUSY : ERR_DB);
	return (ERR_RATE_LIMIT);
}

/* Reserve a failure on every subject; on a refusal give back the ones
 * reserved and set CODE_THROTTLED. */
static int
guess_reserve(struct tx *tx, struct check *c, int64_t now)
{
	int64_t until = now;
	int	i, rc;

	for (i = 0; i < c->nsubjects; i++) {
		rc = reserve_one(tx, c->subject[i], c->max[i], now, &until);
		if (rc == ERR_RATE_LIMIT) {
			c->nsubjects = i;
			if ((rc = guess_refund(tx, c)) != OK)
				return (rc);
			c->outcome = CODE_THROTTLED;
			c->retry_ms = until - now;
			return (OK);
		}
		if (rc != OK)
			return (rc);
	}
	return (OK);
}

/* The code exists: what was reserved was not a failure. */
static int
guess_refund(struct tx *tx, struct check *c)
{
	struct stmt *st;
	int	     i, step;

	for (i = 0; i < c->nsubjects; i++) {
		st = store_prepare(tx,
		    "UPDATE partner_code_failures SET "
		    "failures = failures - 1 WHERE subject = ? AND failures > "
		    "0");
		store_bind_text(st, 1, c->subject[i]);
		step = store_step(st);
		store_finalize(st);
		if (step != STORE_DONE)
			return (step == ERR_BUSY ? ERR_BUSY : ERR_DB);
	}
	return (OK);
}

/* The partners.prune_guesses job: forget windows that have ended. */
int
partners_prune_guesses(struct store *db, const struct job *job, char *err)
{
	struct tx   *tx;
	struct stmt *st;
	int	     rc;

	(void)job;
	if ((rc = store_tx_begin(db, STORE_TX_WRITE, &tx)) != OK)
		goto out;
	st = store_prepare(tx,
	    "DELETE FROM partner_code_failures WHERE "
	    "window_start <= ?");
	store_bind_int64(st, 1, time_now_ms() - PARTNER_GUESS_WINDOW_MS);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE) {
		store_tx_rollback(tx);
		rc = rc == ERR_BUSY ? ERR_BUSY : ERR_DB;
		goto out;
	}
	rc = store_tx_commit(tx);
out:
	if (rc != OK)
		snprintf(err, JOB_ERR_LEN, "partners.prune_guesses: %s",
		    err_code(rc));
	return (rc);
}

/* Looking up and redeeming */

/* By hash (and partner, id or name, when not NULL) or by id. */
static int
code_find(struct tx *tx, const char *hash, const char *partner, const char *id,
    struct found *f)
{
	struct stmt *st;
	char	     sql[768], key[PARTNER_NAME_KEY_SIZE];
	int	     rc;

	memset(f, 0, sizeof(*f));
	/* A partner named by name is compared by its key. */
	if (partner != NULL && partners_name_key(partner, key) != OK)
		return (ERR_NOT_FOUND);
	snprintf(sql, sizeof(sql),
	    "SELECT a.id, a.user_id, a.is_active, "
	    "a.created_at, p.is_active, p.name, a.feature_live_chat, "
	    "a.feature_therapy, a.therapy_sessions_remaining FROM "
	    "partner_access a JOIN partners p ON p.id = a.partner_id WHERE "
	    "a.deleted_at IS NULL AND %s%s",
	    id != NULL ? "a.id = ?" : "a.code_hash = ?",
	    partner != NULL ? " AND (p.id = ? OR "
			      "p.name_key = ?)"
			    : "");
	st = store_prepare(tx, sql);
	store_bind_text(st, 1, id != NULL ? id : hash);
	if (partner != NULL) {
		store_bind_text(st, 2, partner);
		store_bind_text(st, 3, key);
	}
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		strlcpy_cb(f->id, store_col_text(st, 0), sizeof(f->id));
		if (!store_col_is_null(st, 1))
			strlcpy_cb(f->user_id, store_col_text(st, 1),
			    sizeof(f->user_id));
		f->active = store_col_int64(st, 2) != 0;
		f->created_at = store_col_int64(st, 3);
		f->partner_active = store_col_int64(st, 4) != 0;
		strlcpy_cb(
		    f->partner, store_col_text(st, 5), sizeof(f->partner));
		f->live_chat = store_col_int64(st, 6) != 0;
		f->therapy = store_col_int64(st, 7) != 0;
		f->remaining = store_col_int64(st, 8);
		rc = OK;
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	}
	store_finalize(st);
	return (rc);
}

/* May user_id (NULL: anyone) redeem f at now? */
static int
code_state(const struct found *f, const char *user_id, int64_t now)
{
	if (f->user_id[0] != '\0')
		return (user_id != NULL && strcmp(f->user_id, user_id) == 0
			? CODE_ALREADY_APPLIED
			: CODE_ALREADY_IN_USE);
	if (!f->active || !f->partner_active)
		return (CODE_INACTIVE);
	if (now - f->created_at > PARTNER_CODE_TTL_MS)
		return (CODE_EXPIRED);
	return (CODE_VALID);
}

/*
 * Give access_id to user_id if nobody has it and it may still be
 * redeemed; *outcome says why not. who (NULL at registration) is the
 * actor of the audit record.
 */
static int
redeem(struct tx *tx, struct request *req, const char *access_id,
    const char *user_id, const struct principal *who, int *outcome)
{
	struct stmt *st;
	struct found f;
	json_t	    *changes;
	int64_t	     now = time_now_ms(), n;
	int	     rc;

	st = store_prepare(tx,
	    "UPDATE partner_access SET user_id = ?, "
	    "activated_at = ?, updated_at = ?, updated_by = ? WHERE id = ? AND "
	    "user_id IS NULL AND is_active = 1 AND deleted_at IS NULL AND "
	    "created_at >= ? AND partner_id IN (SELECT id FROM partners WHERE "
	    "is_active = 1)");
	store_bind_text(st, 1, user_id);
	store_bind_int64(st, 2, now);
	store_bind_int64(st, 3, now);
	store_bind_text(st, 4, user_id);
	store_bind_text(st, 5, access_id);
	store_bind_int64(st, 6, now - PARTNER_CODE_TTL_MS);
	rc = store_step(st);
	n = store_changes(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
	if (n != 1) {
		/* Someone was first, or it changed since it was checked. */
		if ((rc = code_find(tx, NULL, NULL, access_id, &f)) ==
		    ERR_NOT_FOUND) {
			*outcome = CODE_DOES_NOT_EXIST;
			return (OK);
		}
		if (rc != OK)
			return (rc);
		*outcome = code_state(&f, user_id, now);
		if (*outcome == CODE_VALID)
			*outcome = CODE_ALREADY_IN_USE;
		return (OK);
	}
	*outcome = CODE_VALID;
	changes = json_pack("{s:[s,s],s:s}", "fields", "user_id",
	    "activated_at", "via",
	    req != NULL && req->route != NULL &&
		    strcmp(req->route, "/v1/auth/register") == 0
		? "registration"
		: "assign");
	rc = audit_append(tx, who, req, "partner_access.assign",
	    "partner_access", access_id, changes);
	json_decref(changes);
	if (rc == OK)
		rc = hooks_changed(tx, CHANGE_ACCESS, user_id);
	return (rc);
}

int
partner_access_redeem(struct tx *tx, const char *access_id, const char *user_id)
{
	int outcome, rc;

	if ((rc = redeem(tx, NULL, access_id, user_id, NULL, &outcome)) != OK)
		return (rc);
	return (outcome == CODE_VALID ? OK : ERR_CONFLICT);
}

static int
check_tx(struct tx *tx, void *arg)
{
	struct check *c = arg;
	struct found  f;
	int64_t	      now = time_now_ms();
	int	      rc, nsubjects = c->nsubjects;

	json_decref(c->row);
	c->row = NULL;
	c->outcome = CODE_VALID;
	rc = guess_reserve(tx, c, now);
	c->nsubjects = nsubjects; /* the same on a busy retry */
	if (rc != OK || c->outcome != CODE_VALID)
		return (rc);
	if ((rc = code_find(tx, c->hash, c->partner, NULL, &f)) ==
	    ERR_NOT_FOUND) {
		c->outcome = CODE_DOES_NOT_EXIST;
		return (OK);
	}
	if (rc != OK || (rc = guess_refund(tx, c)) != OK)
		return (rc);
	strlcpy_cb(c->access_id, f.id, sizeof(c->access_id));
	c->outcome =
	    code_state(&f, c->who != NULL ? c->who->user_id : NULL, now);
	if (c->outcome != CODE_VALID)
		return (OK);
	if (!c->assign) {
		c->row = json_pack("{s:b,s:s,s:b,s:b,s:I}", "valid", 1,
		    "partner_name", f.partner, "feature_live_chat", f.live_chat,
		    "feature_therapy", f.therapy, "therapy_sessions_remaining",
		    (json_int_t)f.remaining);
		return (c->row != NULL ? OK : ERR_NOMEM);
	}
	if ((rc = redeem(tx, c->req, f.id, c->who->user_id, c->who,
		 &c->outcome)) != OK ||
	    c->outcome != CODE_VALID)
		return (rc);
	return (resource_read(
	    tx, &partner_access_resource, f.id, SCOPE_OWN, &c->row));
}

/* The subjects guessing is counted against: the address, the account. */
static void
check_init(struct check *c, struct request *req, const struct principal *who)
{
	char key[SUBJECT_MAX], index[65];

	memset(c, 0, sizeof(*c));
	c->req = req;
	c->who = who;
	/* Per client (an IPv6 host's whole /64), not per address: a host
	 * must not skip the limit by walking its /64. The address is
	 * personal data: the table holds its keyed blind index, as login
	 * throttling does (people/throttle.c), never the address. */
	snprintf(key, sizeof(key), "ip:%s",
	    req->client_key[0] ? req->client_key : req->ip);
	keyring_text_index(key, index);
	sodium_memzero(key, sizeof(key));
	snprintf(c->subject[0], SUBJECT_MAX, "ip:%s", index);
	c->max[0] = PARTNER_GUESS_MAX_IP;
	c->nsubjects = 1;
	if (who != NULL) {
		snprintf(c->subject[1], SUBJECT_MAX, "user:%s", who->user_id);
		c->max[1] = PARTNER_GUESS_MAX_ACCOUNT;
		c->nsubjects = 2;
	}
}

/* Answer a refusal; returns the status answered. */
static int
outcome_answer(struct request *req, int outcome, int64_t retry_ms)
{
	char ra[24];

	if (outcome == CODE_THROTTLED) {
		snprintf(ra, sizeof(ra), "%lld",
		    (long long)(retry_ms < 1000 ? 1 : (retry_ms + 999) / 1000));
		http_header_add(req, "Retry-After", ra);
	}
	http_problem(req, outcomes[outcome].rc, outcomes[outcome].code, "%s",
	    outcomes[outcome].detail);
	return (outcomes[outcome].rc);
}

/*
 * {"code", "partner"?} (input.c): unknown members 422; a code that is
 * missing or not of the alphabet 400 INVALID_CODE.
 */
static int
code_args(
    struct request *req, char code[PARTNER_CODE_LEN + 1], const char **partner)
{
	struct partner_code_input in;
	json_t			 *errs = json_array();
	int			  rc;

	*partner = NULL;
	rc = partner_code_body(req->json, &in, errs);
	if (rc == ERR_INVALID)
		return (partners_errs_answer(req, errs, "The request"));
	json_decref(errs);
	if (rc == ERR_MALFORMED && in.bad_code)
		return (outcome_answer(req, CODE_INVALID, 0));
	if (rc != OK) {
		http_problem(req, rc, NULL,
		    "The body must be an object with "
		    "code (and partner).");
		return (rc);
	}
	memcpy(code, in.code, sizeof(in.code));
	sodium_memzero(in.code, sizeof(in.code));
	*partner = in.partner;
	return (OK);
}

/* POST /v1/partner-access/validate-code (public) */

void
partner_access_validate(struct request *req)
{
	struct principal *who = NULL;
	struct check	  c;
	const char	 *partner;
	char		  code[PARTNER_CODE_LEN + 1];
	int		  rc;

	/* Public: a signed-in caller is counted as themselves. */
	if ((rc = http_authenticate(req)) != OK) {
		http_problem(req, rc, NULL, "The credentials are not valid.");
		return;
	}
	who = req->caller;
	if (code_args(req, code, &partner) != OK)
		return;
	check_init(&c, req, who);
	c.partner = partner;
	partner_code_hash(code, c.hash);
	sodium_memzero(code, sizeof(code));
	rc = store_run(req->db, STORE_TX_WRITE, check_tx, &c);
	if (rc != OK)
		http_problem(req, rc, NULL, "The code could not be checked.");
	else if (c.outcome != CODE_VALID)
		outcome_answer(req, c.outcome, c.retry_ms);
	else {
		http_json(req, 200, c.row);
		c.row = NULL;
	}
	json_decref(c.row);
}

/* POST /v1/partner-access/assign */

void
partner_access_assign(struct request *req)
{
	struct principal *who;
	struct check	  c;
	const char	 *partner;
	char		  code[PARTNER_CODE_LEN + 1];
	int		  rc;

	who = req->caller;
	if (resource_scope(req->db, who, "partner_access", "assign") ==
	    SCOPE_NONE) {
		http_problem(req, ERR_FORBIDDEN, NULL,
		    "You may not redeem "
		    "partner access codes.");
		return;
	}
	if (code_args(req, code, &partner) != OK)
		return;
	check_init(&c, req, who);
	c.partner = partner;
	c.assign = 1;
	partner_code_hash(code, c.hash);
	sodium_memzero(code, sizeof(code));
	rc = store_run(req->db, STORE_TX_WRITE, check_tx, &c);
	if (rc != OK)
		http_problem(req, rc, NULL, "The code could not be redeemed.");
	else if (c.outcome != CODE_VALID)
		outcome_answer(req, c.outcome, c.retry_ms);
	else {
		http_json(req, 200, c.row);
		c.row = NULL;
	}
	json_decref(c.row);
}

/* Registration (people's register hook) */

static int
field_refuse(struct request *req, const char *field, const char *code,
    const char *detail)
{
	json_t *errs = json_array();

	partners_err(errs, field, code, detail);
	return (partners_errs_answer(req, errs, "The registration"));
}

int
partners_register_check(struct request *req, void **state)
{
	struct partner_code_input in;
	struct reg_state	 *s;
	struct check		  c;
	struct tx		 *tx = NULL;
	json_t			 *errs;
	const char		 *iv, *nv;
	char			  id[UUID_STR_LEN], other[UUID_STR_LEN];
	int			  rc, active = 0, other_active, cv;

	*state = NULL;
	errs = json_array();
	rc = partner_register_body(req->json, &in, errs);
	if (rc == ERR_INVALID)
		return (partners_errs_answer(req, errs, "The registration"));
	json_decref(errs);
	if (rc == ERR_MALFORMED && in.bad_code)
		return (outcome_answer(req, CODE_INVALID, 0));
	if (rc != OK) {
		http_problem(req, rc, NULL, "The body must be an object.");
		return (rc);
	}
	iv = in.partner_id;
	nv = in.partner;
	cv = in.code[0] != '\0';
	if (!cv && iv == NULL && nv == NULL)
		return (OK);
	if ((s = arena_alloc(req->arena, sizeof(*s))) == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "out of memory");
		return (ERR_NOMEM);
	}
	if (iv != NULL || nv != NULL) {
		if ((rc = store_tx_begin(req->db, STORE_TX_READ, &tx)) != OK)
			goto fail;
		rc = partners_find(tx, iv != NULL ? iv : nv, id, NULL, &active);
		if (rc == OK && iv != NULL && nv != NULL &&
		    (rc = partners_find(tx, nv, other, NULL, &other_active)) ==
			OK &&
		    strcmp(id, other) != 0) {
			store_tx_rollback(tx);
			return (field_refuse(req, "partner", "mismatch",
			    "partner and partner_id name different partners"));
		}
		if (rc == ERR_NOT_FOUND) {
			store_tx_rollback(tx);
			return (field_refuse(req,
			    iv != NULL ? "partner_id" : "partner", "not_found",
			    "there is no such "
			    "partner"));
		}
		if (rc == OK && !active) {
			store_tx_rollback(tx);
			return (outcome_answer(req, CODE_INACTIVE, 0));
		}
		if (rc == OK && !cv &&
		    (rc = partners_feature_on(
			 tx, id, "automatic_access_code")) == ERR_NOT_FOUND) {
			store_tx_rollback(tx);
			return (
			    field_refuse(req, "partner_access_code", "required",
				"this partner grants access with a "
				"code"));
		}
		store_tx_rollback(tx);
		if (rc != OK)
			goto fail;
		strlcpy_cb(s->partner_id, id, sizeof(s->partner_id));
	}
	if (!cv) {
		s->automatic = 1;
		*state = s;
		return (OK);
	}
	check_init(&c, req, NULL);
	c.partner = s->partner_id[0] != '\0' ? s->partner_id : NULL;
	partner_code_hash(in.code, c.hash);
	sodium_memzero(in.code, sizeof(in.code));
	rc = store_run(req->db, STORE_TX_WRITE, check_tx, &c);
	json_decref(c.row);
	if (rc != OK)
		goto fail;
	if (c.outcome != CODE_VALID)
		return (outcome_answer(req, c.outcome, c.retry_ms));
	strlcpy_cb(s->access_id, c.access_id, sizeof(s->access_id));
	*state = s;
	return (OK);
fail:
	http_problem(req, rc, NULL, "The partner access could not be checked.");
	return (rc);
}

int
partners_register_apply(
    struct tx *tx, struct request *req, const char *user_id, void *state)
{
	const struct reg_state *s = state;
	int			rc, outcome = CODE_VALID;

	if (s == NULL)
		return (OK);
	if (s->automatic)
		return (automatic_grant(tx, req, s, user_id));
	if ((rc = redeem(tx, req, s->access_id, user_id, NULL, &outcome)) != OK)
		return (rc);
	if (outcome != CODE_VALID)
		return (outcome_answer(req, outcome, 0));
	return (OK);
}

/* Live chat on, therapy off, for a partner with automatic_access_code. */
static int
automatic_grant(struct tx *tx, struct request *req, const struct reg_state *s,
    const char *user_id)
{
	struct stmt *st;
	json_t	    *changes;
	char	     id[UUID_STR_LEN], ignored[UUID_STR_LEN];
	int64_t	     now = time_now_ms();
	int	     rc, active = 0;

	/* Checked before the transaction: still so? */
	rc = partners_find(tx, s->partner_id, ignored, NULL, &active);
	if (rc == OK && active)
		rc = partners_feature_on(
		    tx, s->partner_id, "automatic_access_code");
	if (rc == ERR_NOT_FOUND || (rc == OK && !active))
		return (outcome_answer(req, CODE_INACTIVE, 0));
	if (rc != OK)
		return (rc);
	st = store_prepare(tx,
	    "INSERT INTO partner_access (id, partner_id, "
	    "user_id, feature_live_chat, feature_therapy, "
	    "therapy_sessions_remaining, is_active, activated_at, created_at, "
	    "updated_at, updated_by) VALUES (?, ?, ?, 1, 0, 0, 1, ?, ?, ?, ?)");
	store_bind_text(st, 1, uuid_v7(id));
	store_bind_text(st, 2, s->partner_id);
	store_bind_text(st, 3, user_id);
	store_bind_int64(st, 4, now);
	store_bind_int64(st, 5, now);
	store_bind_int64(st, 6, now);
	store_bind_text(st, 7, user_id);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
	changes = json_pack("{s:[s,s,s],s:s}", "fields", "partner_id",
	    "user_id", "feature_live_chat", "via", "automatic_access_code");
	rc = audit_append(tx, NULL, req, "partner_access.create",
	    "partner_access", id, changes);
	json_decref(changes);
	if (rc == OK)
		rc = hooks_changed(tx, CHANGE_ACCESS, user_id);
	return (rc);
}
