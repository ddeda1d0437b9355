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
 *
 * The client's address and User-Agent are personal data, and no erasure
 * can take them out of a hash-chained row. So since migration 0035 a row
 * keeps neither in clear (issue 15), but as text the chain hashes as it
 * is stored:
 *
 *	"sealed:<base64>"	sealed under the data key of the person the
 *				row's client is: a person acting on their own
 *				account (actor_role "self"), a member acting
 *				(only on their own data and their children's),
 *				or, with no one signed in, the person the row
 *				is about (users/<id>: registering, a reset by
 *				link). Bound to "audit_log.<column>:<row id>".
 *				Opened for whoever reads the log until that
 *				person is erased, then unreadable for good.
 *	"index:<hex>"		a keyed blind index (KEY_INDEX) of
 *				"audit_log.<column>:<value>" for everyone else:
 *				staff acting on others' data, keeping their
 *				accountability past their own erasure, and
 *				requests by no one in particular (a stranger's
 *				on a users row too: audit_append_stranger).
 *				Rows from the same address or agent still
 *				match; none names it.
 *
 * Whose key a sealed value is under is read back from the row itself: the
 * person actor_ref names, else the users row it is about
 * (audit_details_json). Rows written before 0035 keep their text as it
 * was hashed, so they keep verifying.
 *
 * Pages (migration 0058). A read of many rows is audited with their ids,
 * {"ids":[...]}: 2 KB a row for a page of 50, written again for every
 * read of the same list (a list kept read, list_cache.c, is answered
 * thousands of times a second). Such changes, AUDIT_PAGE_MIN bytes or
 * more, are kept once in audit_pages, under digest, the hex SHA-256 of
 * the text, as body; the row's changes name it, {"$ids":"<digest>"},
 * and are hashed as stored. So the chain covers the digest, the digest
 * the body: verify_page checks that each page a row names is there and
 * hashes to its name. Readers show the body in the row's place
 * (audit_changes_shown), so the log reads as before.
 *
 * A process may serve while 0058 is pending (a database not migrated
 * yet, an older backup restored): then changes stay in their rows, as
 * before it, and readers read them so (pages_usable).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/keyring.h"
#include "core/log.h"
#include "core/netaddr.h"
#include "core/util.h"
#include "http/http.h"
#include "resource/audit.h"
#include "resource/audit_int.h"
#include "resource/resource.h"
#include "resource/seal.h"
#include "store/store.h"

#define AUDIT_LOCK_KEY	  INT64_C(0x63626175646974) /* "cbaudit" */
#define AUDIT_AGENT_MAX	  256
#define AUDIT_VERIFY_PAGE 500
#define AUDIT_SEALED	  "sealed:"
#define AUDIT_INDEX	  "index:"
/* Pages (see the top): changes that start so, this long or longer. */
#define AUDIT_PAGE_HEAD "{\"ids\":["
#define AUDIT_PAGE_MIN	256
/* A row's changes naming its page: head, 64 hex digits, tail. */
#define AUDIT_REF_HEAD "{\"$ids\":\""
#define AUDIT_REF_TAIL "\"}"
#define AUDIT_REF_LEN  (sizeof(AUDIT_REF_HEAD) - 1 + 64 + 2)
_Static_assert(AUDIT_REF_LEN == 75, "PAGE_BODY_SQL says 75");
/* The body of the page audit_log's row names, NULL when it names none. */
#define PAGE_BODY_SQL                                                          \
	"CASE WHEN length(audit_log.changes) = 75 THEN (SELECT "               \
	"audit_pages.body FROM audit_pages WHERE audit_pages.digest = "        \
	"substr(audit_log.changes, 10, 64) AND audit_log.changes = "           \
	"'{\"$ids\":\"' || audit_pages.digest || '\"}') END"
/* The same page joined to its row (verify_page: body and length). */
#define PAGES_JOIN_SQL                                                         \
	" LEFT JOIN audit_pages ON length(audit_log.changes) = 75 AND "        \
	"audit_pages.digest = substr(audit_log.changes, 10, 64) AND "          \
	"audit_log.changes = '{\"$ids\":\"' || audit_pages.digest || '\"}'"
/* SQLite: the bytes of a row's text fields, as stored (row_bytes). */
#define ROW_BYTES_SQL                                                          \
	"COALESCE(length(CAST(id AS BLOB)), 0) + "                             \
	"COALESCE(length(CAST(actor_ref AS BLOB)), 0) + "                      \
	"COALESCE(length(CAST(actor_role AS BLOB)), 0) + "                     \
	"COALESCE(length(CAST(action AS BLOB)), 0) + "                         \
	"COALESCE(length(CAST(entity_type AS BLOB)), 0) + "                    \
	"COALESCE(length(CAST(entity_id AS BLOB)), 0) + "                      \
	"COALESCE(length(CAST(changes AS BLOB)), 0) + "                        \
	"COALESCE(length(CAST(ip AS BLOB)), 0) + "                             \
	"COALESCE(length(CAST(user_agent AS BLOB)), 0) + "                     \
	"COALESCE(length(CAST(request_id AS BLOB)), 0) + "                     \
	"COALESCE(length(CAST(prev_hash AS BLOB)), 0) + "                      \
	"COALESCE(length(CAST(hash AS BLOB)), 0)"
/* Asked again at most this often while audit_pages is not there. */
#define AUDIT_PAGES_ASK_MS 1000
/* Distinct pages an append remembers having kept (more: kept again,
 * which changes nothing). */
#define AUDIT_PAGES_SEEN 8

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

struct hasher;
static void hash_field(struct hasher *, const char *);
static void hash_int(struct hasher *, int64_t);
static void audit_hash(
    EVP_MD_CTX *, const char *, const struct audit_row *, char[AUDIT_HASH_LEN]);
static void	   agent_clean(const char *, char *, size_t);
static const char *nonempty(const char *);
static int   row_append(struct tx *, const struct principal *, struct request *,
      const char *, const char *, const char *, json_t *, int stranger);
static int   details_keep(struct tx *, const char *owner,
      const struct audit_row *, const char *ip, const char *agent, char **ip_out,
      char **agent_out);
static char *detail_sealed(const unsigned char *key, const char *id,
    const char *column, const char *plain);
static char *detail_index(const char *column, const char *plain);
static int   reader_owner(
      struct tx *, struct audit_reader *, json_t *row, const char **owner);
static json_t *detail_open(struct tx *, struct audit_reader *,
    const char *owner, const char *id, const char *column, const char *v);
static int     verify_page(
	struct store *, int64_t *, char *, int64_t *, int64_t *, const char **);
static struct audit_pending *pending_pack(const struct audit_row *);
static void sha256_hex(const char *, size_t, char out[AUDIT_HASH_LEN]);
static int  page_ref(const char *changes, const char **digest);

/*
 * SHA-256 by OpenSSL's libcrypto, whose code uses the processor's SHA
 * instructions where there are some (four times libsodium's portable
 * code here: the audit writer hashes every row it appends); libsodium's
 * when libcrypto cannot (the row hashed again by it). The same digest
 * either way.
 */
struct hasher {
	EVP_MD_CTX		*evp; /* NULL: s */
	crypto_hash_sha256_state s;
	int			 failed; /* an EVP call failed */
};

static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD	     *sha256_md;

static void
sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static void
hasher_update(struct hasher *h, const unsigned char *p, size_t n)
{
	if (h->evp == NULL)
		crypto_hash_sha256_update(&h->s, p, n);
	else if (!h->failed && EVP_DigestUpdate(h->evp, p, n) != 1)
		h->failed = 1;
}

static void
hash_field(struct hasher *h, const char *s)
{
	unsigned char hdr[9];
	uint64_t      n;
	int	      i;

	if (s == NULL) {
		hdr[0] = 0;
		hasher_update(h, hdr, 1);
		return;
	}
	n = strlen(s);
	hdr[0] = 1;
	for (i = 0; i < 8; i++)
		hdr[1 + i] = (unsigned char)(n >> (56 - 8 * i));
	hasher_update(h, hdr, sizeof(hdr));
	hasher_update(h, (const unsigned char *)s, n);
}

static void
hash_int(struct hasher *h, int64_t v)
{
	char s[24];

	snprintf(s, sizeof(s), "%" PRId64, v);
	hash_field(h, s);
}

static void
hash_row(struct hasher *h, const char *prev_hash, const struct audit_row *r)
{
	hash_field(h, prev_hash);
	hash_int(h, r->seq);
	hash_field(h, r->id);
	hash_int(h, r->at);
	hash_field(h, r->actor_ref);
	hash_field(h, r->actor_role);
	hash_field(h, r->action);
	hash_field(h, r->entity_type);
	hash_field(h, r->entity_id);
	hash_field(h, r->changes);
	hash_field(h, r->ip);
	hash_field(h, r->user_agent);
	hash_field(h, r->request_id);
}

/*
 * The row's hash into out, by ctx when not NULL (a context the caller
 * reuses across the rows it hashes: not one allocated for each), else by
 * a context of its own.
 */
static void
audit_hash(EVP_MD_CTX *ctx, const char *prev_hash, const struct audit_row *r,
    char out[AUDIT_HASH_LEN])
{
	struct hasher h;
	unsigned char d[crypto_hash_sha256_BYTES];
	unsigned int  n = 0;

	memset(&h, 0, sizeof(h));
	(void)pthread_once(&sha256_once, sha256_fetch);
	h.evp = ctx != NULL ? ctx : EVP_MD_CTX_new();
	if (sha256_md != NULL && h.evp != NULL &&
	    EVP_DigestInit_ex(h.evp, sha256_md, NULL) == 1) {
		hash_row(&h, prev_hash, r);
		if (!h.failed && EVP_DigestFinal_ex(h.evp, d, &n) == 1 &&
		    n == sizeof(d)) {
			if (ctx == NULL)
				EVP_MD_CTX_free(h.evp);
			hex_encode(d, sizeof(d), out);
			return;
		}
	}
	if (ctx == NULL)
		EVP_MD_CTX_free(h.evp);
	memset(&h, 0, sizeof(h));
	crypto_hash_sha256_init(&h.s);
	hash_row(&h, prev_hash, r);
	crypto_hash_sha256_final(&h.s, d);
	hex_encode(d, sizeof(d), out);
}

/* The hex SHA-256 of p[0..n), by libcrypto or else libsodium. */
static void
sha256_hex(const char *p, size_t n, char out[AUDIT_HASH_LEN])
{
	unsigned char d[crypto_hash_sha256_BYTES];
	unsigned int  len = 0;

	(void)pthread_once(&sha256_once, sha256_fetch);
	if (sha256_md == NULL ||
	    EVP_Digest(p, n, d, &len, sha256_md, NULL) != 1 || len != sizeof(d))
		crypto_hash_sha256(d, (const unsigned char *)p, n);
	hex_encode(d, sizeof(d), out);
}

/*
 * 1 when changes (as stored) name a page, with *digest pointing at its
 * 64 hex digits inside them; else 0.
 */
static int
page_ref(const char *changes, const char **digest)
{
	size_t hl = strlen(AUDIT_REF_HEAD);

	if (changes == NULL || strlen(changes) != AUDIT_REF_LEN ||
	    strncmp(changes, AUDIT_REF_HEAD, hl) != 0 ||
	    strcmp(changes + hl + 64, AUDIT_REF_TAIL) != 0)
		return (0);
	*digest = changes + hl;
	return (1);
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

/* "sealed:" and plain sealed under key for audit_log.column of row id;
 * malloc'd, NULL when out of memory. */
static char *
detail_sealed(const unsigned char *key, const char *id, const char *column,
    const char *plain)
{
	unsigned char *blob = NULL;
	size_t	       n, len, pre = strlen(AUDIT_SEALED);
	char	      *out = NULL;

	if (seal_field(key, "audit_log", column, id, plain, &blob, &n) != OK)
		return (NULL);
	len = sodium_base64_ENCODED_LEN(
	    n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if ((out = malloc(pre + len)) != NULL) {
		memcpy(out, AUDIT_SEALED, pre);
		sodium_bin2base64(out + pre, len, blob, n,
		    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	}
	free(blob);
	return (out);
}

/* "index:" and the keyed blind index of "audit_log.column:plain";
 * malloc'd, NULL when out of memory. */
static char *
detail_index(const char *column, const char *plain)
{
	char *in, hex[65], *out;

	if (asprintf(&in, "audit_log.%s:%s", column, plain) < 0)
		return (NULL);
	keyring_text_index(in, hex);
	sodium_memzero(in, strlen(in));
	free(in);
	if (asprintf(&out, "%s%s", AUDIT_INDEX, hex) < 0)
		return (NULL);
	return (out);
}

/*
 * The row's ip and agent (either may be NULL) as it keeps them, malloc'd
 * into *ip_out and *agent_out (NULL for none): sealed under owner's key,
 * or indexed when owner is NULL. Owner's key gone (erased): nothing kept.
 */
static int
details_keep(struct tx *tx, const char *owner, const struct audit_row *r,
    const char *ip, const char *agent, char **ip_out, char **agent_out)
{
	unsigned char key[SEAL_KEY_LEN];
	int	      rc;

	*ip_out = *agent_out = NULL;
	if (ip == NULL && agent == NULL)
		return (OK);
	if (owner == NULL) {
		if ((ip != NULL &&
			(*ip_out = detail_index("ip", ip)) == NULL) ||
		    (agent != NULL &&
			(*agent_out = detail_index("user_agent", agent)) ==
			    NULL))
			return (ERR_NOMEM);
		return (OK);
	}
	if ((rc = seal_key_load(tx, owner, key)) == ERR_NOT_FOUND)
		return (OK);
	if (rc != OK)
		return (rc);
	rc = OK;
	if ((ip != NULL &&
		(*ip_out = detail_sealed(key, r->id, "ip", ip)) == NULL) ||
	    (agent != NULL &&
		(*agent_out = detail_sealed(key, r->id, "user_agent", agent)) ==
		    NULL))
		rc = ERR_NOMEM;
	sodium_memzero(key, sizeof(key));
	return (rc);
}

int
audit_append(struct tx *tx, const struct principal *who, struct request *req,
    const char *action, const char *entity_type, const char *entity_id,
    json_t *changes)
{
	return (row_append(
	    tx, who, req, action, entity_type, entity_id, changes, 0));
}

int
audit_append_stranger(struct tx *tx, struct request *req, const char *action,
    const char *entity_type, const char *entity_id, json_t *changes)
{
	return (row_append(
	    tx, NULL, req, action, entity_type, entity_id, changes, 1));
}

static int
row_append(struct tx *tx, const struct principal *who, struct request *req,
    const char *action, const char *entity_type, const char *entity_id,
    json_t *changes, int stranger)
{
	struct audit_pending *p = NULL;
	int		      rc;

	if ((rc = audit_prepare(tx, who, req, action, entity_type, entity_id,
		 changes, stranger, &p)) == OK)
		rc = audit_chain(tx, &p, 1, NULL, NULL);
	free(p);
	return (rc);
}

/* r's strings copied behind a new pending row; NULL when out of memory. */
static struct audit_pending *
pending_pack(const struct audit_row *r)
{
	struct audit_pending *p;
	const char	     *in[] = { r->actor_ref, r->actor_role, r->action,
			  r->entity_type, r->entity_id, r->changes, r->ip, r->user_agent,
			  r->request_id };
	const char	    **to[9];
	size_t i, len = sizeof(*p), n = sizeof(in) / sizeof(in[0]);
	char  *at;

	for (i = 0; i < n; i++)
		if (in[i] != NULL)
			len += strlen(in[i]) + 1;
	if ((p = calloc(1, len)) == NULL)
		return (NULL);
	to[0] = &p->actor_ref;
	to[1] = &p->actor_role;
	to[2] = &p->action;
	to[3] = &p->entity_type;
	to[4] = &p->entity_id;
	to[5] = &p->changes;
	to[6] = &p->ip;
	to[7] = &p->user_agent;
	to[8] = &p->request_id;
	at = (char *)(p + 1);
	for (i = 0; i < n; i++) {
		if (in[i] == NULL)
			continue;
		len = strlen(in[i]) + 1;
		memcpy(at, in[i], len);
		*to[i] = at;
		at += len;
	}
	p->at = r->at;
	strlcpy_cb(p->id, r->id, sizeof(p->id));
	return (p);
}

/* stranger: the client is no one the row names (audit_append_stranger). */
int
audit_prepare(struct tx *tx, const struct principal *who, struct request *req,
    const char *action, const char *entity_type, const char *entity_id,
    json_t *changes, int stranger, struct audit_pending **out)
{
	char *cj;
	int   rc;

	*out = NULL;
	if ((cj = audit_changes_text(changes)) == NULL)
		return (ERR_NOMEM);
	rc = audit_prepare_text(
	    tx, who, req, action, entity_type, entity_id, cj, stranger, out);
	free(cj);
	return (rc);
}

char *
audit_changes_text(json_t *changes)
{
	if (changes == NULL)
		return (strdup("{}"));
	return (json_dumps(changes, JSON_COMPACT | JSON_SORT_KEYS));
}

int
audit_prepare_text(struct tx *tx, const struct principal *who,
    struct request *req, const char *action, const char *entity_type,
    const char *entity_id, const char *changes, int stranger,
    struct audit_pending **out)
{
	struct audit_row r;
	char		 id[UUID_STR_LEN], agent[AUDIT_AGENT_MAX + 1];
	char		*kept_ip = NULL, *kept_agent = NULL;
	const char	*ua, *ip = NULL, *owner = NULL;
	int		 rc = OK, self = 0;

	*out = NULL;
	if (action == NULL || entity_type == NULL || changes == NULL)
		return (ERR_INTERNAL);
	memset(&r, 0, sizeof(r));
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
		self = 1;
	}
	r.action = action;
	r.entity_type = entity_type;
	r.entity_id = nonempty(entity_id);
	r.changes = changes; /* copied by pending_pack */
	if (req != NULL) {
		ip = nonempty(req->ip);
		if ((ua = http_header(req, "User-Agent")) != NULL) {
			agent_clean(ua, agent, sizeof(agent));
			ua = agent;
		}
		r.request_id = nonempty(req->id);
		/* Whose the client's details are (see the top): the row
		 * names them, so a reader finds their key again. */
		if (self ||
		    (who != NULL && !who->is_staff && r.actor_ref != NULL))
			owner = who->user_id;
		else if (who == NULL && !stranger && r.entity_id != NULL &&
		    strcmp(entity_type, "users") == 0)
			owner = r.entity_id;
		if ((rc = details_keep(
			 tx, owner, &r, ip, ua, &kept_ip, &kept_agent)) != OK)
			goto out;
		r.ip = kept_ip;
		r.user_agent = kept_agent;
	}
	if ((*out = pending_pack(&r)) == NULL)
		rc = ERR_NOMEM;
out:
	free(kept_ip);
	free(kept_agent);
	return (rc);
}

/* The chain's lock (PostgreSQL: processes sharing the database append
 * one at a time; SQLite's write transaction has it already). */
static int
chain_lock(struct tx *tx)
{
	struct stmt *st;
	int	     rc;

	if (store_tx_dialect(tx) != STORE_POSTGRES)
		return (OK);
	st = store_prepare(tx, "SELECT pg_advisory_xact_lock(?)");
	store_bind_int64(st, 1, AUDIT_LOCK_KEY);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_ROW ? OK : rc == STORE_DONE ? ERR_DB : rc);
}

int
audit_chain_holds(struct tx *tx, int64_t seq, const char *hash, int *landed)
{
	struct stmt *st;
	const char  *h;
	int	     rc;

	*landed = 0;
	if ((rc = chain_lock(tx)) != OK)
		return (rc);
	st = store_prepare(tx, "SELECT hash FROM audit_log WHERE seq = ?");
	store_bind_int64(st, 1, seq);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		/* A hash covers its row and the chain before it: the same
		 * hash at the same place is the same rows. */
		h = store_col_text(st, 0);
		*landed = h != NULL && strcmp(h, hash) == 0;
		rc = OK;
		break;
	case STORE_DONE:
		rc = OK;
		break;
	}
	store_finalize(st);
	return (rc);
}

/* Rows appended by one INSERT at most (14 values each). */
#define AUDIT_INSERT_ROWS 64

/* A row's place in the chain: its seq, the hash before it, its own. */
struct chain_link {
	int64_t seq;
	char	prev[AUDIT_HASH_LEN];
	char	hash[AUDIT_HASH_LEN];
	char	ref[AUDIT_REF_LEN + 1]; /* "": the row's changes as given */
};

/* A page an append kept (or found kept): its text and its digest. */
struct page_seen {
	const char *body;
	size_t	    len;
	char	    digest[AUDIT_HASH_LEN];
};

/* The INSERTs of 1, 2, 4 ... AUDIT_INSERT_ROWS rows, made once. */
#define AUDIT_INSERT_SIZES 7 /* log2(AUDIT_INSERT_ROWS) + 1 */
static pthread_once_t insert_once = PTHREAD_ONCE_INIT;
static char	     *insert_sql[AUDIT_INSERT_SIZES];

static void
insert_texts(void)
{
	struct buf sql;
	size_t	   k, i;
	int	   s, rc;

	for (s = 0, k = 1; s < AUDIT_INSERT_SIZES; s++, k *= 2) {
		buf_init(&sql, 256 + k * 64); /* the bound: the text fits */
		rc = buf_printf(&sql,
		    "INSERT INTO audit_log (seq, id, at, actor_ref, "
		    "actor_role, action, entity_type, entity_id, changes, "
		    "ip, user_agent, request_id, prev_hash, hash) VALUES ");
		for (i = 0; i < k && rc == OK; i++)
			rc = buf_printf(&sql,
			    "%s(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			    i > 0 ? ", " : "");
		if (rc == OK)
			insert_sql[s] = strdup(sql.data);
		buf_free(&sql);
	}
}

/* rows[0..k) at links[0..k), in one statement (k a power of two). */
static int
chain_insert(struct tx *tx, struct audit_pending *const *rows,
    const struct chain_link *links, size_t k)
{
	struct stmt *st;
	size_t	     i;
	int	     rc, b, s;

	(void)pthread_once(&insert_once, insert_texts);
	for (s = 0; ((size_t)1 << s) < k; s++)
		;
	if (s >= AUDIT_INSERT_SIZES || ((size_t)1 << s) != k ||
	    insert_sql[s] == NULL)
		return (ERR_NOMEM);
	st = store_prepare(tx, insert_sql[s]);
	for (i = 0, b = 1; i < k; i++) {
		store_bind_int64(st, b++, links[i].seq);
		store_bind_text(st, b++, rows[i]->id);
		store_bind_int64(st, b++, rows[i]->at);
		store_bind_text(st, b++, rows[i]->actor_ref);
		store_bind_text(st, b++, rows[i]->actor_role);
		store_bind_text(st, b++, rows[i]->action);
		store_bind_text(st, b++, rows[i]->entity_type);
		store_bind_text(st, b++, rows[i]->entity_id);
		store_bind_text(st, b++,
		    links[i].ref[0] != '\0' ? links[i].ref : rows[i]->changes);
		store_bind_text(st, b++, rows[i]->ip);
		store_bind_text(st, b++, rows[i]->user_agent);
		store_bind_text(st, b++, rows[i]->request_id);
		store_bind_text(st, b++, links[i].prev);
		store_bind_text(st, b++, links[i].hash);
	}
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_DONE)
		return (OK);
	/* Another appender took one of these seqs (a snapshot older than
	 * the lock, e.g. a serializable transaction): retrying the
	 * transaction helps. */
	return (rc == ERR_CONFLICT ? ERR_BUSY : rc);
}

/*
 * Whether audit_pages is there (0058 applied) for the rows appended: kept
 * once seen, for 0058's down keeps it; while not, asked again at most
 * every AUDIT_PAGES_ASK_MS; after an insert into it found it gone (an
 * older database restored under a serving process), not there until
 * asked again AUDIT_PAGES_ASK_MS later (page_keep).
 */
static atomic_int   pages_there;
static atomic_llong pages_asked_ms;

static int
pages_usable(struct tx *tx)
{
	int64_t now = time_mono_ns() / 1000000, at;
	int	there = 0;

	if (atomic_load(&pages_there))
		return (1);
	at = (int64_t)atomic_load(&pages_asked_ms);
	if (at != 0 && now - at < AUDIT_PAGES_ASK_MS)
		return (0);
	atomic_store(&pages_asked_ms, (long long)now);
	if (store_table_exists(tx, "audit_pages", &there) == OK && there)
		atomic_store(&pages_there, 1);
	return (there);
}

int
audit_changes_shown(struct tx *tx, const char **expr)
{
	int there = 0, rc;

	*expr = "audit_log.changes AS changes";
	if ((rc = store_table_exists(tx, "audit_pages", &there)) != OK)
		return (rc);
	if (there)
		*expr =
		    "COALESCE(" PAGE_BODY_SQL ", audit_log.changes) AS changes";
	return (OK);
}

/*
 * A row's changes, when they are a page (see the top), kept in
 * audit_pages unless seen[] says they are already; ref gets the changes
 * that name it. ref "" when they are not a page.
 */
static int
page_keep(struct tx *tx, const char *changes, struct page_seen *seen,
    size_t *nseen, char ref[AUDIT_REF_LEN + 1])
{
	struct page_seen *p = NULL;
	struct stmt	 *st;
	size_t		  len, i;
	int		  rc, gone;

	ref[0] = '\0';
	if (changes == NULL ||
	    strncmp(changes, AUDIT_PAGE_HEAD, strlen(AUDIT_PAGE_HEAD)) != 0 ||
	    (len = strlen(changes)) < AUDIT_PAGE_MIN || !pages_usable(tx))
		return (OK);
	for (i = 0; i < *nseen && i < AUDIT_PAGES_SEEN; i++)
		if (seen[i].len == len &&
		    (seen[i].body == changes ||
			memcmp(seen[i].body, changes, len) == 0)) {
			p = &seen[i];
			break;
		}
	if (p == NULL) {
		p = &seen[*nseen % AUDIT_PAGES_SEEN];
		p->body = changes;
		p->len = len;
		sha256_hex(changes, len, p->digest);
		gone = store_tx_no_table(tx); /* before: not this one's */
		st = store_prepare(tx,
		    "INSERT INTO audit_pages (digest, body) VALUES (?, ?) "
		    "ON CONFLICT (digest) DO NOTHING");
		store_bind_text(st, 1, p->digest);
		store_bind_text(st, 2, changes);
		rc = store_step(st);
		store_finalize(st);
		if (rc != STORE_DONE) {
			p->len = 0; /* not kept */
			if (gone || !store_tx_no_table(tx))
				return (rc == ERR_CONFLICT ? ERR_BUSY : rc);
			/* The table gone meanwhile (an older database
			 * restored): the transaction failed with the
			 * statement and is tried again (ERR_BUSY:
			 * store_run), keeping ids in rows; the table is
			 * asked for again AUDIT_PAGES_ASK_MS on (so a
			 * catalog that says it is there while the INSERT
			 * says not costs a try a second, not a loop). */
			atomic_store(&pages_asked_ms,
			    (long long)(time_mono_ns() / 1000000));
			/* After the time: no asker meanwhile sees the table
			 * not there with the time before. */
			atomic_store(&pages_there, 0);
			return (ERR_BUSY);
		}
		(*nseen)++;
	}
	snprintf(ref, AUDIT_REF_LEN + 1, "%s%s%s", AUDIT_REF_HEAD, p->digest,
	    AUDIT_REF_TAIL);
	return (OK);
}

int
audit_chain(struct tx *tx, struct audit_pending *const *rows, size_t n,
    int64_t *end_seq, char end_hash[AUDIT_HASH_LEN])
{
	struct audit_row   r;
	struct stmt	  *st;
	struct chain_link *links = NULL;
	struct page_seen   seen[AUDIT_PAGES_SEEN];
	EVP_MD_CTX	  *ctx = NULL;
	char		   prev[AUDIT_HASH_LEN];
	const char	  *ph;
	int64_t		   last = 0;
	size_t		   i, k, nseen = 0;
	int		   rc;

	if ((rc = chain_lock(tx)) != OK)
		return (rc);
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
	/* The hashes first (each covers the one before), then the rows in
	 * statements of up to AUDIT_INSERT_ROWS: on PostgreSQL a statement
	 * is a round trip, and a batch of reads' rows was 512 of them. */
	if (rc == OK && n > 0 && (links = calloc(n, sizeof(*links))) == NULL)
		rc = ERR_NOMEM;
	if (n > 1)
		ctx = EVP_MD_CTX_new(); /* NULL: audit_hash makes its own */
	for (i = 0; i < n && rc == OK; i++) {
		memset(&r, 0, sizeof(r));
		r.seq = ++last;
		r.at = rows[i]->at;
		r.id = rows[i]->id;
		r.actor_ref = rows[i]->actor_ref;
		r.actor_role = rows[i]->actor_role;
		r.action = rows[i]->action;
		r.entity_type = rows[i]->entity_type;
		r.entity_id = rows[i]->entity_id;
		if ((rc = page_keep(tx, rows[i]->changes, seen, &nseen,
			 links[i].ref)) != OK)
			break;
		r.changes =
		    links[i].ref[0] != '\0' ? links[i].ref : rows[i]->changes;
		r.ip = rows[i]->ip;
		r.user_agent = rows[i]->user_agent;
		r.request_id = rows[i]->request_id;
		links[i].seq = r.seq;
		memcpy(links[i].prev, prev, AUDIT_HASH_LEN);
		audit_hash(ctx, prev, &r, links[i].hash);
		memcpy(prev, links[i].hash, AUDIT_HASH_LEN);
	}
	EVP_MD_CTX_free(ctx);
	for (i = 0; i < n && rc == OK; i += k) {
		/* A power of two: few statement texts to prepare and keep. */
		for (k = AUDIT_INSERT_ROWS; k > n - i; k /= 2)
			;
		rc = chain_insert(tx, rows + i, links + i, k);
	}
	free(links);
	if (rc == OK && end_seq != NULL) {
		*end_seq = last;
		memcpy(end_hash, prev, AUDIT_HASH_LEN);
	}
	return (rc);
}

/* Reading the client's details back */

int
audit_ip_stored(const char *ip, char *out, size_t len)
{
	struct netaddr a;
	char	       text[NETADDR_TEXT_LEN], *v;

	if (ip == NULL || netaddr_parse(ip, strlen(ip), &a) != OK)
		return (ERR_INVALID);
	/* As the request's address was written: netaddr_text's form. */
	netaddr_text(&a, text, sizeof(text));
	if ((v = detail_index("ip", text)) == NULL)
		return (ERR_NOMEM);
	strlcpy_cb(out, v, len);
	free(v);
	return (OK);
}

void
audit_reader_init(struct audit_reader *rd)
{
	memset(rd, 0, sizeof(*rd));
}

void
audit_reader_wipe(struct audit_reader *rd)
{
	sodium_memzero(rd, sizeof(*rd));
}

/*
 * Whose key row's sealed details are under (see the top): the person its
 * actor_ref names (the last one asked is remembered), else the user it is
 * about; *owner NULL when neither (borrowed from row or rd).
 */
static int
reader_owner(
    struct tx *tx, struct audit_reader *rd, json_t *row, const char **owner)
{
	struct stmt *st;
	const char  *ref, *type;
	int	     rc;

	*owner = NULL;
	if ((ref = json_string_value(json_object_get(row, "actor_ref"))) ==
	    NULL) {
		type = json_string_value(json_object_get(row, "entity_type"));
		if (type != NULL && strcmp(type, "users") == 0)
			*owner = json_string_value(
			    json_object_get(row, "entity_id"));
		return (OK);
	}
	if (strcmp(ref, rd->ref) != 0) {
		strlcpy_cb(rd->ref, ref, sizeof(rd->ref));
		rd->ref_owner[0] = '\0';
		st = store_prepare(
		    tx, "SELECT id FROM users WHERE audit_ref = ?");
		store_bind_text(st, 1, ref);
		if ((rc = store_step(st)) == STORE_ROW)
			strlcpy_cb(rd->ref_owner, store_col_text(st, 0),
			    sizeof(rd->ref_owner));
		store_finalize(st);
		if (rc != STORE_ROW && rc != STORE_DONE) {
			rd->ref[0] = '\0';
			return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
		}
	}
	if (rd->ref_owner[0] != '\0')
		*owner = rd->ref_owner;
	return (OK);
}

/* A sealed value v of row id's column opened under owner's key; null when
 * the key is gone or it does not open. NULL when out of memory. */
static json_t *
detail_open(struct tx *tx, struct audit_reader *rd, const char *owner,
    const char *id, const char *column, const char *v)
{
	unsigned char *blob;
	size_t	       cap, n;
	char	      *plain = NULL;
	json_t	      *out;
	int	       rc;

	if (owner == NULL || id == NULL)
		return (json_null());
	if (strcmp(owner, rd->owner) != 0) {
		sodium_memzero(rd->key, sizeof(rd->key));
		rd->owner[0] = '\0';
		rc = seal_key_load(tx, owner, rd->key);
		rd->have_key = rc == OK;
		/* Remembered when known: found, or gone for good. */
		if (rc == OK || rc == ERR_NOT_FOUND)
			strlcpy_cb(rd->owner, owner, sizeof(rd->owner));
		else
			log_warn("event=audit_key_unreadable status=%s",
			    err_code(rc));
	}
	if (!rd->have_key)
		return (json_null()); /* erased: unreadable for good */
	v += strlen(AUDIT_SEALED);
	cap = strlen(v);
	if ((blob = malloc(cap + 1)) == NULL)
		return (NULL);
	if (sodium_base642bin(blob, cap + 1, v, cap, NULL, &n, NULL,
		sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    seal_open_field(
		rd->key, "audit_log", column, id, blob, n, &plain) != OK) {
		free(blob);
		log_warn(
		    "event=seal_open_failed table=audit_log column=%s", column);
		return (json_null());
	}
	free(blob);
	out = json_string(plain);
	sodium_memzero(plain, strlen(plain));
	free(plain);
	return (out);
}

int
audit_details_json(
    struct tx *tx, struct audit_reader *rd, json_t *row, const char *person)
{
	static const char *const cols[] = { "ip", "user_agent" };
	const char		*v, *owner = NULL, *id;
	json_t			*shown, *index;
	char			 name[32];
	size_t			 i;
	int			 rc, sealed, resolved = 0;

	id = json_string_value(json_object_get(row, "id"));
	for (i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
		v = json_string_value(json_object_get(row, cols[i]));
		index = json_null();
		if (v == NULL)
			shown = json_null();
		else if (strncmp(v, AUDIT_INDEX, strlen(AUDIT_INDEX)) == 0) {
			shown = json_null();
			if (person == NULL)
				index = json_string(v + strlen(AUDIT_INDEX));
		} else {
			sealed =
			    strncmp(v, AUDIT_SEALED, strlen(AUDIT_SEALED)) == 0;
			if ((sealed || person != NULL) && !resolved) {
				if ((rc = reader_owner(tx, rd, row, &owner)) !=
				    OK)
					return (rc);
				resolved = 1;
			}
			if (person != NULL &&
			    (owner == NULL || strcmp(owner, person) != 0))
				shown = json_null(); /* someone else's */
			else if (sealed)
				shown =
				    detail_open(tx, rd, owner, id, cols[i], v);
			else
				shown = json_string(v); /* clear, before 0035 */
		}
		if (shown == NULL || index == NULL) {
			json_decref(shown);
			json_decref(index);
			return (ERR_NOMEM);
		}
		if (json_object_set_new(row, cols[i], shown) != 0) {
			json_decref(index);
			return (ERR_NOMEM);
		}
		snprintf(name, sizeof(name), "%s_index", cols[i]);
		if (person == NULL) {
			if (json_object_set_new(row, name, index) != 0)
				return (ERR_NOMEM);
		} else
			json_decref(index);
	}
	return (OK);
}

/* The bytes of r's text fields and its two hashes as strlen sees them
 * (ROW_BYTES_SQL counts them as stored). */
static int64_t
row_bytes(const struct audit_row *r, const char *prev_hash, const char *hash)
{
	const char *f[] = { r->id, r->actor_ref, r->actor_role, r->action,
		r->entity_type, r->entity_id, r->changes, r->ip, r->user_agent,
		r->request_id, prev_hash, hash };
	int64_t	    n = 0;
	size_t	    i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (f[i] != NULL)
			n += (int64_t)strlen(f[i]);
	return (n);
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
	char		 hash[AUDIT_HASH_LEN], page[AUDIT_HASH_LEN] = "";
	const char	*ph, *h, *digest, *body;
	int64_t		 n = 0;
	int		 rc, step, there = 0, pg, len;
	EVP_MD_CTX	*ctx;
	char		 sql[2048];

	if ((rc = store_tx_begin(db, STORE_TX_READ, &tx)) != OK)
		return (rc);
	ctx = EVP_MD_CTX_new(); /* NULL: audit_hash makes its own */
	/* The page a row names and its length in bytes, while audit_pages
	 * is there; on SQLite, whose text may hold a NUL that would end
	 * what strlen (and so the hash) sees, the row's bytes too. */
	if ((rc = store_table_exists(tx, "audit_pages", &there)) != OK) {
		store_tx_rollback(tx);
		EVP_MD_CTX_free(ctx);
		return (rc);
	}
	pg = store_tx_dialect(tx) == STORE_POSTGRES;
	len = snprintf(sql, sizeof(sql),
	    "SELECT seq, id, at, actor_ref, actor_role, action, entity_type, "
	    "entity_id, changes, ip, user_agent, request_id, prev_hash, hash, "
	    "%s, %s, %s FROM audit_log%s WHERE seq >= ? ORDER BY seq LIMIT ?",
	    there ? "audit_pages.body" : "NULL",
	    !there   ? "NULL"
		: pg ? "octet_length(audit_pages.body)"
		     : "length(CAST(audit_pages.body AS BLOB))",
	    pg ? "NULL" : ROW_BYTES_SQL, there ? PAGES_JOIN_SQL : "");
	if (len < 0 || (size_t)len >= sizeof(sql)) {
		store_tx_rollback(tx);
		EVP_MD_CTX_free(ctx);
		return (ERR_INTERNAL);
	}
	st = store_prepare(tx, sql);
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
		audit_hash(ctx, prev, &r, hash);
		if (h == NULL || strcmp(h, hash) != 0 ||
		    (!store_col_is_null(st, 16) &&
			store_col_int64(st, 16) != row_bytes(&r, ph, h))) {
			*bad = r.seq;
			*why = "row changed";
			break;
		}
		/* The page it names (see the top): there, and its text
		 * what the name says (the last one checked remembered). */
		if (page_ref(r.changes, &digest) &&
		    strncmp(digest, page, 64) != 0) {
			if ((body = store_col_text(st, 14)) == NULL) {
				*bad = r.seq;
				*why = "the page of ids it names is missing";
				break;
			}
			sha256_hex(body, strlen(body), hash);
			if (strncmp(hash, digest, 64) != 0 ||
			    store_col_int64(st, 15) != (int64_t)strlen(body)) {
				*bad = r.seq;
				*why = "the page of ids it names was changed";
				break;
			}
			memcpy(page, hash, AUDIT_HASH_LEN);
		}
		memcpy(prev, h, AUDIT_HASH_LEN);
		(*next_seq)++;
		(*rows)++;
	}
	if (step != STORE_ROW && step != STORE_DONE)
		rc = step;
	else if (*bad == 0 && n < AUDIT_VERIFY_PAGE)
		rc = STORE_DONE; /* the end of the table */
	store_finalize(st);
	store_tx_rollback(tx);
	EVP_MD_CTX_free(ctx);
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
	struct audit_walk w;
	int		  rc;

	memset(&w, 0, sizeof(w));
	w.anchor = anchor;
	rc = audit_walk(db, out, &w);
	if (bad_seq != NULL)
		*bad_seq = w.bad_seq;
	if (rc == OK && head != NULL)
		*head = w.head;
	return (rc);
}

int
audit_walk(struct store *db, FILE *out, struct audit_walk *w)
{
	const struct audit_anchor *anchor = w->anchor;
	char			   prev[AUDIT_HASH_LEN];
	const char		  *why = NULL;
	int64_t			   next = 1, rows = 0, bad = 0;
	int			   rc, stopped = 0;
	char			   h[AUDIT_HASH_LEN];

	memcpy(prev, genesis, sizeof(prev));
	w->rows = w->bad_seq = 0;
	w->complete = 0;
	do {
		rc = verify_page(db, &next, prev, &rows, &bad, &why);
		/* Between pages: a page's transaction is short, the walk
		 * of a large log is not. */
		if (rc == OK && bad == 0 && w->deadline_ms > 0 &&
		    time_mono_ns() / 1000000 >= w->deadline_ms)
			stopped = 1;
	} while (rc == OK && bad == 0 && !stopped);
	w->rows = rows;
	/*
	 * The chain holds together; an anchor recorded outside the database
	 * (seq:hash from an earlier `audit head`) shows whether rows were cut
	 * off its end or the whole log rewritten since. A walk stopped short
	 * checks it only when it got that far.
	 */
	if (bad == 0 && anchor != NULL &&
	    (rc == STORE_DONE || (stopped && anchor->seq <= rows))) {
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
			rc = stopped ? OK : STORE_DONE;
	}
	w->complete = !stopped;
	if (bad != 0) {
		w->bad_seq = bad;
		if (out != NULL)
			fprintf(out,
			    "audit: chain broken at seq %" PRId64 " (%s)\n",
			    bad, why);
		return (ERR_CONFLICT);
	}
	if (rc != STORE_DONE && !(stopped && rc == OK)) {
		if (out != NULL)
			fprintf(out, "audit: cannot read the log: %s\n",
			    err_code(rc));
		return (rc);
	}
	w->head.seq = rows;
	memcpy(w->head.hash, prev, sizeof(w->head.hash));
	if (out != NULL) {
		if (stopped)
			fprintf(out,
			    "audit: stopped at the time limit after %" PRId64
			    " row%s, chain intact so far",
			    rows, rows == 1 ? "" : "s");
		else
			fprintf(out, "audit: %" PRId64 " row%s, chain intact",
			    rows, rows == 1 ? "" : "s");
		if (anchor != NULL && anchor->seq <= rows)
			fprintf(out, ", anchor seq %" PRId64 " matches",
			    anchor->seq);
		else if (anchor != NULL)
			fprintf(out, ", anchor seq %" PRId64 " not reached",
			    anchor->seq);
		fprintf(out, "\n%s: %" PRId64 ":%s\n",
		    stopped ? "checked to" : "head", rows, prev);
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
