/*
 * Auth sessions (the seed's admin_sessions): an opaque bearer token of 256
 * random bits given once to the client; only its SHA-256 is stored, with
 * the client's address, user agent and device fingerprint (personal data:
 * sealed under the user's data key, bound to "auth_sessions.<column>:<id>",
 * so erasure leaves nothing readable), the time of the last activity, an
 * idle timeout and an absolute expiry, both from config by whether the
 * user's role is staff. Nothing decides on the stored address: login
 * throttling counts the request's own (throttle.c).
 *
 * Rows carried over in clear by migration 0033 (legacy_plain = 1) are
 * sealed at start-up (people_sessions_seal_legacy). So are rows an older
 * binary writes during a rolling upgrade: since migration 0035 the column
 * defaults to 1, and this binary writes 0 with every row it makes. The
 * binary of migrations 0033 and 0034 names no legacy_plain either but
 * seals its details: a value that opens under the person's key is kept.
 *
 * The authenticator accepts "Authorization: Bearer <token>" and, for a
 * request without that header, the browser's carebase_session cookie,
 * which also needs the CSRF check on writes (web_session.c). A token
 * in the query string leaks into logs and histories, so a request that
 * carries one is refused outright (TOKEN_IN_QUERY) even with a good header.
 * Last activity is written at most once a step per session, so most reads
 * stay reads; the step scales with the idle timeout (people_activity_step),
 * so a session in use every few seconds never reads as idle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "people/people.h"
#include "people/people_int.h"
#include "resource/list_cache.h"
#include "resource/resource.h"
#include "resource/seal.h"
#include "store/migrate.h"
#include "store/store.h"

#define LEGACY_BATCH	   100	/* rows sealed per transaction */
#define LEGACY_WAIT_ROUNDS 1000 /* batches waited for at most */

/*
 * The table as a person's GDPR export and erasure follow it; no route
 * serves it (sign-in writes it, the authenticator reads it). Exported
 * without the token's hash or the idle timeout, the address, agent and
 * device opened (FIELD_PERSONAL); erasure clears them and destroys the
 * key they were sealed under, after ending the sessions.
 */
static const struct field auth_session_fields[] = {
	{ "user_id", FIELD_UUID, FIELD_REQUIRED | FIELD_HIDDEN, 0, 0, NULL,
	    NULL, "users", 0, "the user signed in; owns the row" },
	{ "token_hash", FIELD_TEXT, FIELD_REQUIRED | FIELD_HIDDEN, 0, 0, NULL,
	    NULL, NULL, 0, "SHA-256 of the bearer token" },
	{ "ip", FIELD_TEXT, FIELD_NULLABLE | FIELD_PERSONAL, 0, 0, NULL, NULL,
	    NULL, 0, "the client's address" },
	{ "user_agent", FIELD_TEXT, FIELD_NULLABLE | FIELD_PERSONAL, 0, 0, NULL,
	    NULL, NULL, 0, "the client's User-Agent" },
	{ "device_fingerprint", FIELD_TEXT, FIELD_NULLABLE | FIELD_PERSONAL, 0,
	    0, NULL, NULL, NULL, 0, "the device fingerprint the client sent" },
	{ "created_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    "signed in" },
	{ "last_activity_at", FIELD_TIME, FIELD_REQUIRED, 0, 0, NULL, NULL,
	    NULL, 0, "last used (written at most once a step)" },
	{ "idle_timeout_ms", FIELD_INT, FIELD_REQUIRED | FIELD_HIDDEN, 1, 0,
	    NULL, NULL, NULL, 0, "idle this long, it ends" },
	{ "expires_at", FIELD_TIME, FIELD_REQUIRED, 0, 0, NULL, NULL, NULL, 0,
	    "ends then whatever its use" },
	{ "ended_at", FIELD_TIME, FIELD_NULLABLE, 0, 0, NULL, NULL, NULL, 0,
	    "signed out, ended or expired" },
	{ "end_reason", FIELD_TEXT, FIELD_NULLABLE, 0, 0, NULL, NULL, NULL, 0,
	    "why it ended" },
	/* The table has no updated_at: its last activity stands in. */
	{ "updated_at", FIELD_TIME, FIELD_READONLY | FIELD_HIDDEN, 0, 0, NULL,
	    NULL, NULL, 0, NULL, "last_activity_at" },
};

const struct resource auth_sessions_resource = {
	.name = "auth_sessions",
	.table = "auth_sessions",
	.fields = auth_session_fields,
	.nfields = NELEM(auth_session_fields),
	.owner_column = "user_id",
	.flags = RESOURCE_NO_ROUTES | RESOURCE_EXPORT_TOP,
	.doc = "A user's signed-in sessions, in their export beside their "
	       "account.",
};

/* The sealed columns, by people_session_detail's which. */
static const char *const detail_cols[PEOPLE_SESSION_DETAILS] = { "ip",
	"user_agent", "device_fingerprint" };

struct legacy_batch {
	int64_t seen;	 /* rows taken this batch */
	int64_t sealed;	 /* of them sealed */
	int64_t cleared; /* of them cleared (their user's key gone) */
	int64_t kept;	 /* of them sealed already (an older binary's) */
	int	wait;	 /* PostgreSQL: wait for rows another holds */
};

/* Query keys that name a credential, whatever their value. */
static const char *const token_keys[] = { "access_token", "token", "auth",
	"auth_token", "authorization", "bearer", "session_token", "api_key",
	"apikey", "jwt", "id_token", "refresh_token", NULL };

static int session_find(struct request *, const char *hash, int64_t now,
    struct people_auth *, int *hit, uint64_t *gen);
static int session_usable(const struct people_auth *, int64_t now);
static int changes_read(struct request *, int64_t *n);
static int session_lookup(
    struct request *, const char *hash, struct people_auth *);
static void lookup_from_row(struct stmt *, struct people_auth *);
static int  session_touch(
     struct store *, const struct people_auth *, int64_t now, int64_t every);
static int	   query_key_is_token(const char *key, size_t len);
static const char *header_bounded(struct request *, const char *, size_t max);
static int refuse(struct request *, const char *code, const char *detail);
static int details_write(struct tx *, const char *sql, const char *user_id,
    const char *id, const char *const plain[PEOPLE_SESSION_DETAILS],
    int *sealed, int64_t *changed);
static int legacy_row(struct tx *, const char *id, struct legacy_batch *);
static int legacy_batch_tx(struct tx *, void *);

int
people_session_start(struct tx *tx, struct request *req, const char *user_id,
    int is_staff, struct people_session *out)
{
	struct stmt *st;
	const char  *plain[PEOPLE_SESSION_DETAILS] = { NULL, NULL, NULL };
	char	     hash[TOKEN_HASH_LEN];
	int64_t	     now = time_now_ms(), changed;
	int	     step, sealed;

	memset(out, 0, sizeof(*out));
	uuid_v7(out->id);
	crypto_token_new(out->token);
	crypto_token_hash(out->token, hash);
	out->created_at = now;
	out->idle_timeout_ms = 1000 *
	    (is_staff ? config.session_idle_staff_s
		      : config.session_idle_member_s);
	out->expires_at = now +
	    1000 *
		(is_staff ? config.session_absolute_staff_s
			  : config.session_absolute_member_s);
	/* legacy_plain said outright: its default (0035) is an older
	 * binary's, whose rows are in clear. */
	if ((st = store_prepare(tx,
		 "INSERT INTO auth_sessions (id, user_id, "
		 "token_hash, legacy_plain, created_at, last_activity_at, "
		 "idle_timeout_ms, expires_at) VALUES (?, ?, ?, 0, ?, ?, ?, "
		 "?)")) == NULL)
		return (ERR_DB);
	store_bind_text(st, 1, out->id);
	store_bind_text(st, 2, user_id);
	store_bind_text(st, 3, hash);
	store_bind_int64(st, 4, now);
	store_bind_int64(st, 5, now);
	store_bind_int64(st, 6, out->idle_timeout_ms);
	store_bind_int64(st, 7, out->expires_at);
	step = store_step(st);
	store_finalize(st);
	if (step != STORE_DONE)
		return (step == ERR_BUSY ? ERR_BUSY : ERR_DB);
	if (req == NULL)
		return (OK);
	/* Then the client's details, sealed. */
	plain[0] = req->ip[0] != '\0' ? req->ip : NULL;
	plain[1] = header_bounded(req, "User-Agent", PEOPLE_AGENT_MAX);
	plain[2] =
	    header_bounded(req, "X-Device-Fingerprint", PEOPLE_FINGERPRINT_MAX);
	return (details_write(tx,
	    "UPDATE auth_sessions SET ip = ?, user_agent = ?, "
	    "device_fingerprint = ? WHERE id = ?",
	    user_id, out->id, plain, &sealed, &changed));
}

/*
 * Seal plain[] (NULL: none) under user_id's key for session id and run
 * sql (binding the three, then id); *changed rows it changed. The user's
 * key gone (erased): NULLs are written, *sealed 0.
 */
static int
details_write(struct tx *tx, const char *sql, const char *user_id,
    const char *id, const char *const plain[PEOPLE_SESSION_DETAILS],
    int *sealed, int64_t *changed)
{
	struct stmt   *st;
	unsigned char  key[SEAL_KEY_LEN];
	unsigned char *blob[PEOPLE_SESSION_DETAILS] = { NULL, NULL, NULL };
	size_t	       len[PEOPLE_SESSION_DETAILS] = { 0, 0, 0 }, i;
	int	       rc, have_key;

	*sealed = 0;
	*changed = 0;
	rc = seal_key_load(tx, user_id, key);
	if (rc != OK && rc != ERR_NOT_FOUND)
		return (rc);
	have_key = rc == OK;
	rc = OK;
	for (i = 0; i < PEOPLE_SESSION_DETAILS && have_key && rc == OK; i++)
		if (plain[i] != NULL)
			rc = seal_field(key, "auth_sessions", detail_cols[i],
			    id, plain[i], &blob[i], &len[i]);
	sodium_memzero(key, sizeof(key));
	if (rc == OK && (st = store_prepare(tx, sql)) == NULL)
		rc = ERR_DB;
	if (rc == OK) {
		for (i = 0; i < PEOPLE_SESSION_DETAILS; i++)
			if (blob[i] != NULL)
				store_bind_blob(
				    st, (int)i + 1, blob[i], len[i]);
			else
				store_bind_null(st, (int)i + 1);
		store_bind_text(st, PEOPLE_SESSION_DETAILS + 1, id);
		rc = store_step(st);
		*changed = store_changes(st);
		store_finalize(st);
		rc = rc == STORE_DONE ? OK
				      : (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
	}
	for (i = 0; i < PEOPLE_SESSION_DETAILS; i++)
		free(blob[i]);
	*sealed = rc == OK && have_key;
	return (rc);
}

json_t *
people_session_detail(const unsigned char *key, struct stmt *st, int col,
    int which, const char *id)
{
	const void *b;
	json_t	   *v;
	char	   *plain;
	size_t	    n;

	if (key == NULL || store_col_is_null(st, col))
		return (json_null());
	b = store_col_blob(st, col, &n);
	if (seal_open_field(key, "auth_sessions", detail_cols[which], id, b, n,
		&plain) != OK) {
		log_warn("event=seal_open_failed table=auth_sessions "
			 "column=%s",
		    detail_cols[which]);
		return (json_null());
	}
	v = json_string(plain);
	sodium_memzero(plain, strlen(plain));
	free(plain);
	return (v != NULL ? v : json_null());
}

/* Rows carried over in clear by migration 0033 */

/*
 * Session id's details sealed if still in clear, counted in *lb. A row
 * an older binary wrote during a rolling upgrade (migration 0035 on, its
 * INSERT not naming legacy_plain) has its details sealed already: a value
 * that opens under the person's key is kept as it is, only those that do
 * not are taken as clear text (a sealed value sealed again would open to
 * the first blob, not the text).
 */
static int
legacy_row(struct tx *tx, const char *id, struct legacy_batch *lb)
{
	struct stmt  *st;
	const void   *b;
	unsigned char key[SEAL_KEY_LEN];
	char	     *plain[PEOPLE_SESSION_DETAILS] = { NULL, NULL, NULL };
	char	     *opened;
	size_t	      len[PEOPLE_SESSION_DETAILS] = { 0, 0, 0 };
	const char   *view[PEOPLE_SESSION_DETAILS];
	char	      user[UUID_STR_LEN];
	size_t	      n, i, present = 0, open = 0;
	int64_t	      changed = 0;
	int	      rc, r, sealed = 0, have_key = 0;

	st = store_prepare(tx,
	    "SELECT user_id, ip, user_agent, "
	    "device_fingerprint FROM auth_sessions WHERE id = ? AND "
	    "legacy_plain = 1");
	store_bind_text(st, 1, id);
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(user, store_col_text(st, 0), sizeof(user));
		for (i = 0; i < PEOPLE_SESSION_DETAILS && rc == STORE_ROW;
		     i++) {
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
			len[i] = n;
			present++;
		}
	}
	store_finalize(st);
	if (rc == STORE_ROW && present > 0) {
		rc = seal_key_load(tx, user, key);
		if (rc == OK)
			have_key = 1;
		rc = rc == OK || rc == ERR_NOT_FOUND ? STORE_ROW : rc;
	}
	/* Those that open were sealed already: their text stands in. */
	for (i = 0; i < PEOPLE_SESSION_DETAILS && have_key && rc == STORE_ROW;
	     i++) {
		if (plain[i] == NULL)
			continue;
		/* Only a value that does not open is clear text: out of
		 * memory is not an answer (a sealed value sealed again). */
		if ((r = seal_open_field(key, "auth_sessions", detail_cols[i],
			 id, plain[i], len[i], &opened)) == ERR_NOMEM) {
			rc = ERR_NOMEM;
			break;
		}
		if (r != OK)
			continue;
		sodium_memzero(plain[i], len[i]);
		free(plain[i]);
		plain[i] = opened;
		len[i] = strlen(opened);
		open++;
	}
	if (have_key)
		sodium_memzero(key, sizeof(key));
	if (rc == STORE_DONE)
		rc = OK; /* sealed already, or no such row */
	else if (rc == STORE_ROW && present > 0 && open == present) {
		/* All sealed already (an older binary's row): kept as is. */
		if ((st = store_prepare(tx,
			 "UPDATE auth_sessions SET legacy_plain = 0 WHERE id "
			 "= ? AND legacy_plain = 1")) == NULL)
			rc = ERR_DB;
		else {
			store_bind_text(st, 1, id);
			rc = store_step(st);
			changed = store_changes(st);
			store_finalize(st);
			rc = rc == STORE_DONE
			    ? OK
			    : (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
			if (rc == OK && changed == 1)
				lb->kept++;
		}
	} else if (rc == STORE_ROW) {
		/* Sealed; the person erased meanwhile, they go unsealed. */
		for (i = 0; i < PEOPLE_SESSION_DETAILS; i++)
			view[i] = plain[i];
		rc = details_write(tx,
		    "UPDATE auth_sessions SET ip = ?, user_agent = ?, "
		    "device_fingerprint = ?, legacy_plain = 0 WHERE id = ? "
		    "AND legacy_plain = 1",
		    user, id, view, &sealed, &changed);
		if (rc == OK && changed == 1) {
			lb->sealed += sealed;
			lb->cleared += !sealed;
		}
	} else if (rc != ERR_NOMEM)
		rc = rc == ERR_BUSY ? ERR_BUSY : ERR_DB;
	for (i = 0; i < PEOPLE_SESSION_DETAILS; i++)
		if (plain[i] != NULL) {
			sodium_memzero(plain[i], len[i]);
			free(plain[i]);
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

	lb->seen = lb->sealed = lb->cleared = lb->kept = 0;
	/*
	 * Each row sealed leaves the set: the next batch starts over. On
	 * PostgreSQL several processes starting at once each lock the rows
	 * they take and pass over those another holds, so they share the
	 * work out instead of queueing on the same rows and redoing them
	 * (SQLite has one writer at a time already).
	 */
	/* The wait is bounded per statement: a row held longer (an idle
	 * transaction of an older binary) ends the pass, not the start. */
	if (lb->wait && store_tx_dialect(tx) == STORE_POSTGRES &&
	    (rc = store_exec(tx, "SET LOCAL lock_timeout = '5s'")) != OK)
		return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
	st = store_prepare(tx,
	    store_tx_dialect(tx) != STORE_POSTGRES
		? "SELECT id FROM auth_sessions WHERE legacy_plain = 1 "
		  "ORDER BY id LIMIT ?"
		: lb->wait
		? "SELECT id FROM auth_sessions WHERE legacy_plain = 1 "
		  "ORDER BY id LIMIT ? FOR UPDATE"
		: "SELECT id FROM auth_sessions WHERE legacy_plain = 1 "
		  "ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED");
	store_bind_int64(st, 1, LEGACY_BATCH);
	while ((rc = store_step(st)) == STORE_ROW && n < LEGACY_BATCH)
		strlcpy_cb(ids[n++], store_col_text(st, 0), UUID_STR_LEN);
	store_finalize(st);
	if (rc != STORE_DONE && rc != STORE_ROW)
		return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
	for (i = 0; i < n; i++)
		if ((rc = legacy_row(tx, ids[i], lb)) != OK)
			return (rc);
	lb->seen = n;
	return (OK);
}

int
people_sessions_seal_legacy(struct store *db)
{
	struct legacy_batch lb;
	int64_t		    total = 0, cleared = 0, kept = 0;
	int		    rc, rounds = 0;

	/* legacy_plain comes with migration 0033: nothing to seal before. */
	if ((rc = migrate_applied(db, "0033_sessions_sealed")) != OK)
		return (rc == ERR_NOT_FOUND ? OK : rc);
	memset(&lb, 0, sizeof(lb));
	/*
	 * Fewer than a batch ends the first pass: the rest, if any, another
	 * process holds. It may yet roll back (or crash), so a second pass
	 * waits for those rows rather than leave them in clear, until none
	 * is left; bounded, so a row that will not leave cannot hold the
	 * start for ever.
	 */
	for (;;) {
		if ((rc = store_run(
			 db, STORE_TX_WRITE, legacy_batch_tx, &lb)) != OK &&
		    lb.wait && rc == ERR_DB) {
			/* A row held past lock_timeout (or the statement's
			 * timeout): left for the next start, said. */
			log_warn("event=sessions_seal_unfinished rounds=%d "
				 "status=%s",
			    rounds, err_code(rc));
			break;
		}
		if (rc != OK) {
			log_error("event=sessions_seal_failed status=%s",
			    err_code(rc));
			return (rc);
		}
		total += lb.sealed;
		cleared += lb.cleared;
		kept += lb.kept;
		if (!lb.wait && lb.seen < LEGACY_BATCH)
			lb.wait = 1;
		else if (lb.wait && lb.seen == 0)
			break;
		else if (lb.wait && ++rounds >= LEGACY_WAIT_ROUNDS) {
			log_warn(
			    "event=sessions_seal_unfinished rounds=%d", rounds);
			break;
		}
	}
	if (total > 0 || cleared > 0 || kept > 0)
		log_info("event=sessions_sealed rows=%lld cleared=%lld "
			 "kept=%lld",
		    (long long)total, (long long)cleared, (long long)kept);
	return (OK);
}

int
people_authenticate(struct request *req, struct principal **out)
{
	struct principal  *p;
	struct people_auth lk;
	struct tx	  *tx;
	const char	  *auth, *tok = NULL;
	char		   token[TOKEN_LEN], hash[TOKEN_HASH_LEN];
	size_t		   len = 0;
	int64_t		   now, step;
	uint64_t	   gen = 0;
	int		   rc, hit, lost;

	*out = NULL;
	auth = http_header(req, "Authorization");
	if (auth != NULL && people_bearer_parse(auth, &tok, &len) != OK)
		return (refuse(req, "UNAUTHORIZED",
		    "the Authorization header must be \"Bearer <token>\""));
	if (auth == NULL && (rc = people_cookie_token(req, &tok, &len)) != OK)
		return (rc);
	if (people_query_has_token(http_query_raw(req), tok, len))
		return (refuse(req, "TOKEN_IN_QUERY",
		    "credentials are accepted "
		    "in the Authorization header only, never in the URL"));
	if (tok == NULL)
		return (OK);
	memcpy(token, tok, len);
	token[len] = '\0';
	crypto_token_hash(token, hash);
	sodium_memzero(token, sizeof(token));
	now = time_now_ms();
	/*
	 * PostgreSQL: what authentication reads is a statement or two, each
	 * at its own snapshot as READ COMMITTED would read them anyway;
	 * without BEGIN and ROLLBACK they are a round trip each (one for a
	 * session kept read: the permissions' epoch).
	 */
	/* Started by a request that holds no connection yet: it reads
	 * whether migration 0050 is in, in a transaction of its own. */
	if (req->tx == NULL) {
		people_session_cache_start(req->db);
		/* Its listener's clock spares the permissions' epoch. */
		list_cache_start(req->db);
	}
	if (req->tx == NULL && store_dialect(req->db) == STORE_POSTGRES &&
	    (rc = store_tx_begin(req->db, STORE_TX_READ | STORE_TX_AUTOCOMMIT,
		 &req->tx)) != OK) {
		req->tx = NULL;
		return (rc);
	}
	if ((rc = session_find(req, hash, now, &lk, &hit, &gen)) ==
	    ERR_NOT_FOUND)
		return (refuse(req, "UNAUTHORIZED", "the token is not valid"));
	if (rc != OK)
		return (rc);
	if (people_session_live(now, lk.last_activity_at, lk.idle_timeout_ms,
		lk.expires_at, lk.ended_at) != OK)
		return (refuse(req, "SESSION_EXPIRED",
		    "the session has ended; log in again"));
	if (!lk.is_active || lk.deleted)
		return (
		    refuse(req, "UNAUTHORIZED", "the account is not active"));
	if (auth == NULL && (rc = people_csrf_check(req, lk.session_id)) != OK)
		return (rc);
	/* Role permissions changed since this process read them: it reads
	 * them again before deciding what this request may do. */
	if ((rc = http_read_tx(req, &tx)) != OK)
		return (rc);
	if ((rc = resource_perms_check(tx)) != OK) {
		/* The database server lost under the epoch's read: said as
		 * every read that met it says it. */
		if (store_lost_peek() != 0) {
			http_header_add(req, "Retry-After", "1");
			http_problem(req, ERR_UNAVAILABLE, NULL,
			    "The database cannot be reached now; try again.");
			return (ERR_UNAVAILABLE);
		}
		/* Fail closed: no request is decided on grants older than
		 * the epoch it read. */
		http_header_add(req, "Retry-After", "1");
		http_problem(req, ERR_UNAVAILABLE, "PERMISSIONS_UNAVAILABLE",
		    "The role permissions cannot be read now; try again.");
		return (ERR_UNAVAILABLE);
	}
	/* Kept once the request may go on with it, grants read. */
	if (!hit && session_usable(&lk, now))
		people_session_cache_put(hash, &lk, gen, now);
	step = people_activity_step(lk.idle_timeout_ms);
	if (now - lk.last_activity_at >= step) {
		/* The lookup's read transaction ends before the touch's
		 * write begins: never two pooled connections at once.
		 * Without a touch it goes on (http_authenticate keeps it
		 * for the handler or ends it). */
		http_read_tx_end(req);
		/* The touch's COMMIT unanswered is not the request's: a
		 * read, or a write that later fails, is no change of unknown
		 * outcome (store_lost_side_write). */
		lost = store_lost_peek();
		if (session_touch(req->db, &lk, now, step) == OK)
			people_session_cache_touched(hash, now);
		store_lost_side_write(lost);
	}
	if ((p = arena_alloc(req->arena, sizeof(*p))) == NULL)
		return (ERR_NOMEM);
	memcpy(p->user_id, lk.user_id, sizeof(p->user_id));
	memcpy(p->role, lk.role, sizeof(p->role));
	memcpy(p->audit_ref, lk.audit_ref, sizeof(p->audit_ref));
	memcpy(p->session_id, lk.session_id, sizeof(p->session_id));
	p->is_staff = lk.is_staff;
	*out = p;
	return (OK);
}

static int
refuse(struct request *req, const char *code, const char *detail)
{
	people_web_refused(req); /* a cookie's: cleared */
	http_header_add(req, "WWW-Authenticate", "Bearer");
	http_problem(req, ERR_UNAUTHORIZED, code, "%s", detail);
	return (ERR_UNAUTHORIZED);
}

/*
 * The session of token hash: from the cache (*hit 1) when its entry is
 * there, still usable and, on SQLite, read under the auth_changes counter
 * that is now; else read, *gen the cache's generation before the read
 * (people_session_cache_put keeps it only if nothing was forgotten since).
 */
static int
session_find(struct request *req, const char *hash, int64_t now,
    struct people_auth *a, int *hit, uint64_t *gen)
{
	int64_t n = -1;

	*hit = 0;
	if (people_session_cache_get(hash, now, a) == OK &&
	    session_usable(a, now)) {
		if (store_dialect(req->db) == STORE_POSTGRES) {
			*hit = 1;
			people_session_cache_counted(1);
			return (OK);
		}
		/* A counter that cannot be read says nothing: the entry is
		 * not taken, the session is read (which fails alike if the
		 * database does). */
		if (changes_read(req, &n) == OK && n == a->changes) {
			*hit = 1;
			people_session_cache_counted(1);
			return (OK);
		}
	}
	people_session_cache_counted(0);
	*gen = people_session_cache_gen();
	return (session_lookup(req, hash, a));
}

static int
session_usable(const struct people_auth *a, int64_t now)
{
	return (people_session_live(now, a->last_activity_at,
		    a->idle_timeout_ms, a->expires_at, a->ended_at) == OK &&
	    a->is_active && !a->deleted);
}

/* SQLite: the auth_changes counter (migration 0050). */
static int
changes_read(struct request *req, int64_t *n)
{
	struct tx   *tx;
	struct stmt *st;
	int	     rc;

	if ((rc = http_read_tx(req, &tx)) != OK)
		return (rc);
	st = store_prepare(tx, "SELECT n FROM auth_changes WHERE id = 1");
	if ((rc = store_step(st)) == STORE_ROW) {
		*n = store_col_int64(st, 0);
		rc = OK;
	} else
		rc = rc == ERR_BUSY ? ERR_BUSY : ERR_DB;
	store_finalize(st);
	return (rc);
}

/*
 * In the request's read transaction (http_read_tx): one statement, the
 * session with its user and role (and on SQLite, when the cache is used,
 * the auth_changes counter in the same snapshot).
 */
static int
session_lookup(struct request *req, const char *hash, struct people_auth *lk)
{
	struct tx   *tx;
	struct stmt *st;
	int	     rc, step;

	if ((rc = http_read_tx(req, &tx)) != OK)
		return (rc);
	st = store_prepare(tx,
	    store_tx_dialect(tx) == STORE_SQLITE &&
		    people_session_cache_usable()
		? "SELECT s.id, s.user_id, u.role, u.audit_ref, "
		  "s.last_activity_at, s.idle_timeout_ms, s.expires_at, "
		  "s.ended_at, u.is_active, u.deleted_at, r.is_staff, "
		  "(SELECT n FROM auth_changes WHERE id = 1) FROM "
		  "auth_sessions s JOIN users u ON u.id = s.user_id JOIN "
		  "roles r ON r.name = u.role WHERE s.token_hash = ?"
		: "SELECT s.id, s.user_id, u.role, u.audit_ref, "
		  "s.last_activity_at, s.idle_timeout_ms, s.expires_at, "
		  "s.ended_at, u.is_active, u.deleted_at, r.is_staff, 0 FROM "
		  "auth_sessions s JOIN users u ON u.id = s.user_id JOIN "
		  "roles r ON r.name = u.role WHERE s.token_hash = ?");
	store_bind_text(st, 1, hash);
	switch ((step = store_step(st))) {
	case STORE_ROW:
		lookup_from_row(st, lk);
		rc = OK;
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	default:
		rc = step == ERR_BUSY ? ERR_BUSY : ERR_DB;
		break;
	}
	store_finalize(st);
	return (rc);
}

static void
lookup_from_row(struct stmt *st, struct people_auth *lk)
{
	const char *s;

	memset(lk, 0, sizeof(*lk));
	strlcpy_cb(
	    lk->session_id, store_col_text(st, 0), sizeof(lk->session_id));
	strlcpy_cb(lk->user_id, store_col_text(st, 1), sizeof(lk->user_id));
	strlcpy_cb(lk->role, store_col_text(st, 2), sizeof(lk->role));
	if ((s = store_col_text(st, 3)) != NULL)
		strlcpy_cb(lk->audit_ref, s, sizeof(lk->audit_ref));
	lk->last_activity_at = store_col_int64(st, 4);
	lk->idle_timeout_ms = store_col_int64(st, 5);
	lk->expires_at = store_col_int64(st, 6);
	lk->ended_at = store_col_is_null(st, 7) ? 0 : store_col_int64(st, 7);
	lk->is_active = store_col_int64(st, 8) != 0;
	lk->deleted = !store_col_is_null(st, 9);
	lk->is_staff = store_col_int64(st, 10) != 0;
	lk->changes = store_col_is_null(st, 11) ? 0 : store_col_int64(st, 11);
}

/* Best effort: a failure here must not fail the request. Written when the
 * last write is at least every ms old. */
static int
session_touch(
    struct store *db, const struct people_auth *lk, int64_t now, int64_t every)
{
	struct tx   *tx;
	struct stmt *st;
	int64_t	     n = 0;
	int	     rc, step;

	/* Not told to the lists kept read (store.h): none is of sessions,
	 * and a touch a minute of every session in use would empty them
	 * in every process. */
	if ((rc = store_tx_begin(
		 db, STORE_TX_WRITE | STORE_TX_UNMARKED, &tx)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "UPDATE auth_sessions SET last_activity_at = ? "
	    "WHERE id = ? AND last_activity_at < ?");
	store_bind_int64(st, 1, now);
	store_bind_text(st, 2, lk->session_id);
	store_bind_int64(st, 3, now - every);
	step = store_step(st);
	store_finalize(st);
	if (step == STORE_DONE) {
		/* Others hear of it when the last was long enough ago. */
		st = store_prepare(tx,
		    "UPDATE users SET last_active_at = ? "
		    "WHERE id = ? AND (last_active_at IS NULL OR "
		    "last_active_at < ?)");
		store_bind_int64(st, 1, now);
		store_bind_text(st, 2, lk->user_id);
		store_bind_int64(st, 3, now - PEOPLE_ACTIVITY_NOTIFY_MS);
		step = store_step(st);
		n = store_changes(st);
		store_finalize(st);
		if (step == STORE_DONE && n == 1 &&
		    people_user_changed(tx, lk->user_id, NULL, NULL) != OK)
			step = ERR_DB;
	}
	if (step == STORE_DONE && n == 0) {
		st = store_prepare(tx,
		    "UPDATE users SET last_active_at = ? "
		    "WHERE id = ?");
		store_bind_int64(st, 1, now);
		store_bind_text(st, 2, lk->user_id);
		step = store_step(st);
		store_finalize(st);
	}
	if (step != STORE_DONE) {
		store_tx_rollback(tx);
		return (ERR_DB);
	}
	return (store_tx_commit(tx));
}

int
people_session_end(struct tx *tx, const char *session_id, const char *reason)
{
	struct stmt *st;
	int	     step;

	if ((st = store_prepare(tx,
		 "UPDATE auth_sessions SET ended_at = ?, "
		 "end_reason = ? WHERE id = ? AND ended_at IS NULL")) == NULL)
		return (ERR_DB);
	store_bind_int64(st, 1, time_now_ms());
	store_bind_text(st, 2, reason);
	store_bind_text(st, 3, session_id);
	step = store_step(st);
	store_finalize(st);
	people_session_cache_forget_tx(tx, session_id);
	return (
	    step == STORE_DONE ? OK : (step == ERR_BUSY ? ERR_BUSY : ERR_DB));
}

int
people_sessions_end(struct tx *tx, const char *user_id,
    const char *except_session_id, const char *reason)
{
	struct stmt *st;
	int	     step;

	if ((st = store_prepare(tx,
		 "UPDATE auth_sessions SET ended_at = ?, "
		 "end_reason = ? WHERE user_id = ? AND ended_at IS NULL "
		 "AND id <> ?")) == NULL)
		return (ERR_DB);
	store_bind_int64(st, 1, time_now_ms());
	store_bind_text(st, 2, reason);
	store_bind_text(st, 3, user_id);
	store_bind_text(
	    st, 4, except_session_id != NULL ? except_session_id : "");
	step = store_step(st);
	store_finalize(st);
	people_session_cache_forget_tx(tx, user_id);
	return (
	    step == STORE_DONE ? OK : (step == ERR_BUSY ? ERR_BUSY : ERR_DB));
}

int
people_session_live(int64_t now, int64_t last_activity_at,
    int64_t idle_timeout_ms, int64_t expires_at, int64_t ended_at)
{
	if (ended_at != 0 || now >= expires_at ||
	    now - last_activity_at >= idle_timeout_ms)
		return (ERR_UNAUTHORIZED);
	return (OK);
}

int64_t
people_activity_step(int64_t idle_timeout_ms)
{
	int64_t step = idle_timeout_ms / 60;

	if (step < PEOPLE_ACTIVITY_STEP_MIN_MS)
		return (PEOPLE_ACTIVITY_STEP_MIN_MS);
	return (step > PEOPLE_ACTIVITY_STEP_MAX_MS ? PEOPLE_ACTIVITY_STEP_MAX_MS
						   : step);
}

int
people_bearer_parse(const char *header, const char **tok, size_t *len)
{
	const char *p;
	size_t	    n;

	if (strncasecmp(header, "Bearer ", 7) != 0)
		return (ERR_MALFORMED);
	for (p = header + 7; *p == ' '; p++)
		;
	n = strspn(p,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_");
	if (n != TOKEN_LEN - 1 || p[n] != '\0')
		return (ERR_MALFORMED);
	*tok = p;
	*len = n;
	return (OK);
}

int
people_query_has_token(const char *query, const char *bearer, size_t bearer_len)
{
	const char *p, *amp, *eq;
	size_t	    klen, vlen;

	if (query == NULL)
		return (0);
	for (p = query; *p != '\0'; p = *amp == '\0' ? amp : amp + 1) {
		amp = p + strcspn(p, "&");
		eq = memchr(p, '=', (size_t)(amp - p));
		klen = (size_t)((eq != NULL ? eq : amp) - p);
		if (query_key_is_token(p, klen))
			return (1);
		if (eq == NULL)
			continue;
		vlen = (size_t)(amp - eq - 1);
		if (vlen >= 6 && (strncasecmp(eq + 1, "Bearer", 6) == 0))
			return (1);
		/* The token alphabet needs no escaping, so compare raw. */
		if (bearer != NULL && vlen >= bearer_len && bearer_len > 0 &&
		    memmem(eq + 1, vlen, bearer, bearer_len) != NULL)
			return (1);
	}
	return (0);
}

static int
query_key_is_token(const char *key, size_t len)
{
	size_t i;

	for (i = 0; token_keys[i] != NULL; i++)
		if (strlen(token_keys[i]) == len &&
		    strncasecmp(key, token_keys[i], len) == 0)
			return (1);
	return (0);
}

static const char *
header_bounded(struct request *req, const char *name, size_t max)
{
	const char *v;
	size_t	    n;

	if ((v = http_header(req, name)) == NULL)
		return (NULL);
	/* Cut to the bound, back to a character boundary; not UTF-8: none. */
	if ((n = strlen(v)) > max) {
		for (n = max; n > 0 && ((unsigned char)v[n] & 0xc0) == 0x80;
		     n--)
			;
		v = arena_strndup(req->arena, v, n);
	}
	return (v != NULL && people_utf8_count(v, n) >= 0 ? v : NULL);
}
