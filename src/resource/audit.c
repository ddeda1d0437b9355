/*
 * The hash-chained audit log (see audit.h).
 *
 * Each row's hash is the hex SHA-256 of a canonical encoding of the
 * previous row's hash and this row's fields, in this order:
 *
 *	prev_hash seq id at actor_ref actor_role action entity_type
 *	entity_id changes ip user_agent request_id
 *
 * Each field is encoded as one tag byte (0 for NULL, 1 for a value), then
 * for a value its length as 8 bytes big-endian and its bytes; seq and at
 * are written in decimal. No two different rows encode alike, whatever
 * bytes their fields hold. changes is stored as compact JSON with sorted
 * keys and hashed exactly as stored.
 *
 * Appends are serialised: on SQLite the write transaction already is; on
 * PostgreSQL a transaction-scoped advisory lock is taken first, so the
 * last row read is the last row committed. The lock is released by the
 * caller's commit or rollback.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "store/store.h"

#define AUDIT_LOCK_KEY	  INT64_C(0x63626175646974) /* "cbaudit" */
#define AUDIT_AGENT_MAX	  256
#define AUDIT_VERIFY_PAGE 500

static const char genesis[AUDIT_HASH_LEN] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* One row as hashed; every string borrowed. */
struct audit_row {
	int64_t	    seq;
	int64_t	    at;
	const char *id;
	const char *actor_ref;
	const char *actor_role;
	const char *action;
	const char *entity_type;
	const char *entity_id;
	const char *changes;
	const char *ip;
	const char *user_agent;
	const char *request_id;
};

static void hash_field(crypto_hash_sha256_state *, const char *);
static void hash_int(crypto_hash_sha256_state *, int64_t);
static void audit_hash(
    const char *, const struct audit_row *, char[AUDIT_HASH_LEN]);
static void	   agent_clean(const char *, char *, size_t);
static const char *nonempty(const char *);
static int	   verify_page(
	    struct store *, int64_t *, char *, int64_t *, int64_t *, const char **);

static void
hash_field(crypto_hash_sha256_state *h, const char *s)
{
	unsigned char hdr[9];
	uint64_t      n;
	int	      i;

	if (s == NULL) {
		hdr[0] = 0;
		crypto_hash_sha256_update(h, hdr, 1);
		return;
	}
	n = strlen(s);
	hdr[0] = 1;
	for (i = 0; i < 8; i++)
		hdr[1 + i] = (unsigned char)(n >> (56 - 8 * i));
	crypto_hash_sha256_update(h, hdr, sizeof(hdr));
	crypto_hash_sha256_update(h, (const unsigned char *)s, n);
}

static void
hash_int(crypto_hash_sha256_state *h, int64_t v)
{
	char s[24];

	snprintf(s, sizeof(s), "%" PRId64, v);
	hash_field(h, s);
}

static void
audit_hash(
    const char *prev_hash, const struct audit_row *r, char out[AUDIT_HASH_LEN])
{
	crypto_hash_sha256_state h;
	unsigned char		 d[crypto_hash_sha256_BYTES];

	crypto_hash_sha256_init(&h);
	hash_field(&h, prev_hash);
	hash_int(&h, r->seq);
	hash_field(&h, r->id);
	hash_int(&h, r->at);
	hash_field(&h, r->actor_ref);
	hash_field(&h, r->actor_role);
	hash_field(&h, r->action);
	hash_field(&h, r->entity_type);
	hash_field(&h, r->entity_id);
	hash_field(&h, r->changes);
	hash_field(&h, r->ip);
	hash_field(&h, r->user_agent);
	hash_field(&h, r->request_id);
	crypto_hash_sha256_final(&h, d);
	hex_encode(d, sizeof(d), out);
}

/* Printable ASCII only (the column must be valid UTF-8 on PostgreSQL). */
static void
agent_clean(const char *in, char *out, size_t cap)
{
	size_t i;

	for (i = 0; in[i] != '\0' && i + 1 < cap; i++)
		out[i] = in[i] >= 0x20 && in[i] < 0x7f ? in[i] : '?';
	out[i] = '\0';
}

static const char *
nonempty(const char *s)
{
	return (s != NULL && s[0] != '\0' ? s : NULL);
}

int
audit_append(struct tx *tx, const struct principal *who, struct request *req,
    const char *action, const char *entity_type, const char *entity_id,
    json_t *changes)
{
	struct audit_row r;
	struct stmt	*st;
	char		 id[UUID_STR_LEN], prev[AUDIT_HASH_LEN];
	char		 hash[AUDIT_HASH_LEN], agent[AUDIT_AGENT_MAX + 1];
	char		*cj = NULL;
	const char	*ua, *ph;
	int64_t		 last = 0;
	int		 rc = ERR_DB;

	if (action == NULL || entity_type == NULL)
		return (ERR_INTERNAL);
	if (store_tx_dialect(tx) == STORE_POSTGRES) {
		st = store_prepare(tx, "SELECT pg_advisory_xact_lock(?)");
		store_bind_int64(st, 1, AUDIT_LOCK_KEY);
		rc = store_step(st);
		store_finalize(st);
		if (rc != STORE_ROW)
			return (rc == STORE_DONE ? ERR_DB : rc);
	}
	memcpy(prev, genesis, sizeof(prev));
	st = store_prepare(tx,
	    "SELECT seq, hash FROM audit_log "
	    "ORDER BY seq DESC LIMIT 1");
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		last = store_col_int64(st, 0);
		ph = store_col_text(st, 1);
		if (ph == NULL || strlen(ph) != AUDIT_HASH_LEN - 1)
			rc = ERR_INTERNAL;
		else {
			memcpy(prev, ph, AUDIT_HASH_LEN);
			rc = OK;
		}
		break;
	case STORE_DONE:
		rc = OK;
		break;
	}
	store_finalize(st);
	if (rc != OK)
		return (rc);

	if (changes == NULL)
		cj = strdup("{}");
	else
		cj = json_dumps(changes, JSON_COMPACT | JSON_SORT_KEYS);
	if (cj == NULL)
		return (ERR_NOMEM);
	memset(&r, 0, sizeof(r));
	r.seq = last + 1;
	r.at = time_now_ms();
	r.id = uuid_v7(id);
	r.actor_ref = who != NULL ? nonempty(who->audit_ref) : NULL;
	r.actor_role = who != NULL ? nonempty(who->role) : NULL;
	/*
	 * A person acting on their own account: a row holding both their
	 * pseudonym and their id would link the pseudonym to them for good,
	 * erasure or not. Such rows say "self" and name no actor.
	 */
	if (who != NULL && entity_type != NULL && entity_id != NULL &&
	    strcmp(entity_type, "users") == 0 &&
	    strcmp(entity_id, who->user_id) == 0) {
		r.actor_ref = NULL;
		r.actor_role = "self";
	}
	r.action = action;
	r.entity_type = entity_type;
	r.entity_id = nonempty(entity_id);
	r.changes = cj;
	if (req != NULL) {
		r.ip = nonempty(req->ip);
		if ((ua = http_header(req, "User-Agent")) != NULL) {
			agent_clean(ua, agent, sizeof(agent));
			r.user_agent = agent;
		}
		r.request_id = nonempty(req->id);
	}
	audit_hash(prev, &r, hash);

	st = store_prepare(tx,
	    "INSERT INTO audit_log (seq, id, at, actor_ref, "
	    "actor_role, action, entity_type, entity_id, changes, ip, "
	    "user_agent, request_id, prev_hash, hash) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	store_bind_int64(st, 1, r.seq);
	store_bind_text(st, 2, r.id);
	store_bind_int64(st, 3, r.at);
	store_bind_text(st, 4, r.actor_ref);
	store_bind_text(st, 5, r.actor_role);
	store_bind_text(st, 6, r.action);
	store_bind_text(st, 7, r.entity_type);
	store_bind_text(st, 8, r.entity_id);
	store_bind_text(st, 9, r.changes);
	store_bind_text(st, 10, r.ip);
	store_bind_text(st, 11, r.user_agent);
	store_bind_text(st, 12, r.request_id);
	store_bind_text(st, 13, prev);
	store_bind_text(st, 14, hash);
	rc = store_step(st);
	store_finalize(st);
	free(cj);
	if (rc == STORE_DONE)
		return (OK);
	/* Another appender took this seq (a snapshot older than the lock,
	 * e.g. a serializable transaction): retrying the transaction helps. */
	return (rc == ERR_CONFLICT ? ERR_BUSY : rc);
}

/*
 * Check the rows after *next_seq - 1, one page, in a transaction of its
 * own. *next_seq, prev and *rows advance; *bad and *why are set at the
 * first broken row. Returns OK for more to read, STORE_DONE at the end of
 * the table, or an error.
 */
static int
verify_page(struct store *db, int64_t *next_seq, char *prev, int64_t *rows,
    int64_t *bad, const char **why)
{
	struct tx	*tx = NULL;
	struct stmt	*st;
	struct audit_row r;
	char		 hash[AUDIT_HASH_LEN];
	const char	*ph, *h;
	int64_t		 n = 0;
	int		 rc, step;

	if ((rc = store_tx_begin(db, STORE_TX_READ, &tx)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "SELECT seq, id, at, actor_ref, actor_role, "
	    "action, entity_type, entity_id, changes, ip, user_agent, "
	    "request_id, prev_hash, hash FROM audit_log WHERE seq >= ? "
	    "ORDER BY seq LIMIT ?");
	store_bind_int64(st, 1, *next_seq);
	store_bind_int64(st, 2, AUDIT_VERIFY_PAGE);
	while ((step = store_step(st)) == STORE_ROW) {
		n++;
		r.seq = store_col_int64(st, 0);
		r.id = store_col_text(st, 1);
		r.at = store_col_int64(st, 2);
		r.actor_ref = store_col_text(st, 3);
		r.actor_role = store_col_text(st, 4);
		r.action = store_col_text(st, 5);
		r.entity_type = store_col_text(st, 6);
		r.entity_id = store_col_text(st, 7);
		r.changes = store_col_text(st, 8);
		r.ip = store_col_text(st, 9);
		r.user_agent = store_col_text(st, 10);
		r.request_id = store_col_text(st, 11);
		ph = store_col_text(st, 12);
		h = store_col_text(st, 13);
		if (r.seq != *next_seq) {
			*bad = *next_seq;
			*why = "row missing";
			break;
		}
		if (ph == NULL || strcmp(ph, prev) != 0) {
			*bad = r.seq;
			*why = "link to the previous row is wrong";
			break;
		}
		audit_hash(prev, &r, hash);
		if (h == NULL || strcmp(h, hash) != 0) {
			*bad = r.seq;
			*why = "row changed";
			break;
		}
		memcpy(prev, hash, AUDIT_HASH_LEN);
		(*next_seq)++;
		(*rows)++;
	}
	if (step != STORE_ROW && step != STORE_DONE)
		rc = step;
	else if (*bad == 0 && n < AUDIT_VERIFY_PAGE)
		rc = STORE_DONE; /* the end of the table */
	store_finalize(st);
	store_tx_rollback(tx);
	return (rc);
}

int
audit_verify(struct store *db, FILE *out, int64_t *bad_seq)
{
	return (audit_verify_anchor(db, out, bad_seq, NULL, NULL));
}

int
audit_verify_anchor(struct store *db, FILE *out, int64_t *bad_seq,
    const struct audit_anchor *anchor, struct audit_anchor *head)
{
	char	    prev[AUDIT_HASH_LEN];
	const char *why = NULL;
	int64_t	    next = 1, rows = 0, bad = 0;
	int	    rc;
	char	    h[AUDIT_HASH_LEN];

	memcpy(prev, genesis, sizeof(prev));
	if (bad_seq != NULL)
		*bad_seq = 0;
	do {
		rc = verify_page(db, &next, prev, &rows, &bad, &why);
	} while (rc == OK && bad == 0);
	/*
	 * The chain holds together; an anchor recorded outside the database
	 * (seq:hash from an earlier `audit head`) shows whether rows were cut
	 * off its end or the whole log rewritten since.
	 */
	if (bad == 0 && rc == STORE_DONE && anchor != NULL) {
		if (anchor->seq > rows) {
			bad = rows + 1;
			why = "log truncated: the anchor's row is gone";
		} else if ((rc = audit_hash_at(db, anchor->seq, h)) != OK)
			;
		else if (strcmp(h, anchor->hash) != 0) {
			bad = anchor->seq;
			why = "row differs from the anchor: the log was "
			      "rewritten";
		}
		if (rc == OK)
			rc = STORE_DONE;
	}
	if (bad != 0) {
		if (bad_seq != NULL)
			*bad_seq = bad;
		if (out != NULL)
			fprintf(out,
			    "audit: chain broken at seq %" PRId64 " (%s)\n",
			    bad, why);
		return (ERR_CONFLICT);
	}
	if (rc != STORE_DONE) {
		if (out != NULL)
			fprintf(out, "audit: cannot read the log: %s\n",
			    err_code(rc));
		return (rc);
	}
	if (head != NULL) {
		head->seq = rows;
		memcpy(head->hash, prev, sizeof(head->hash));
	}
	if (out != NULL) {
		fprintf(out, "audit: %" PRId64 " row%s, chain intact", rows,
		    rows == 1 ? "" : "s");
		if (anchor != NULL)
			fprintf(out, ", anchor seq %" PRId64 " matches",
			    anchor->seq);
		fprintf(out, "\nhead: %" PRId64 ":%s\n", rows, prev);
	}
	return (OK);
}

int
audit_hash_at(struct store *db, int64_t seq, char out[AUDIT_HASH_LEN])
{
	struct tx   *tx = NULL;
	struct stmt *st;
	int	     rc;

	if ((rc = store_tx_begin(db, STORE_TX_READ, &tx)) != OK)
		return (rc);
	st = store_prepare(tx, "SELECT hash FROM audit_log WHERE seq = ?");
	store_bind_int64(st, 1, seq);
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(out, store_col_text(st, 0), AUDIT_HASH_LEN);
		rc = OK;
	} else if (rc == STORE_DONE)
		rc = ERR_NOT_FOUND;
	store_finalize(st);
	store_tx_rollback(tx);
	return (rc);
}

int
audit_head(struct store *db, struct audit_anchor *head)
{
	struct tx   *tx = NULL;
	struct stmt *st;
	int	     rc;

	memset(head, 0, sizeof(*head));
	memcpy(head->hash, genesis, sizeof(head->hash));
	if ((rc = store_tx_begin(db, STORE_TX_READ, &tx)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "SELECT seq, hash FROM audit_log ORDER BY seq "
	    "DESC LIMIT 1");
	if ((rc = store_step(st)) == STORE_ROW) {
		head->seq = store_col_int64(st, 0);
		strlcpy_cb(
		    head->hash, store_col_text(st, 1), sizeof(head->hash));
		rc = OK;
	} else if (rc == STORE_DONE)
		rc = OK;
	store_finalize(st);
	store_tx_rollback(tx);
	return (rc);
}

int
audit_anchor_parse(const char *s, struct audit_anchor *a)
{
	const char *colon;
	char	    num[24];
	size_t	    n;

	memset(a, 0, sizeof(*a));
	if (s == NULL || (colon = strchr(s, ':')) == NULL ||
	    (n = (size_t)(colon - s)) == 0 || n >= sizeof(num) ||
	    strlen(colon + 1) != AUDIT_HASH_LEN - 1)
		return (ERR_INVALID);
	memcpy(num, s, n);
	num[n] = '\0';
	if (parse_int64(num, 1, INT64_MAX, &a->seq) != OK)
		return (ERR_INVALID);
	for (n = 0; colon[1 + n] != '\0'; n++)
		if (!strchr("0123456789abcdef", colon[1 + n]))
			return (ERR_INVALID);
	memcpy(a->hash, colon + 1, AUDIT_HASH_LEN);
	return (OK);
}
