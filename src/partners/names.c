/*
 * Partner names: unique, and found, without regard to case. The key a
 * name goes by (partners.name_key) is the name under Unicode simple case
 * folding (core/fold.h), made here in C, so SQLite and PostgreSQL agree;
 * a name another partner holds answers 409 NAME_TAKEN (and the unique
 * index refuses a second one made at the same time). Partners from
 * before migration 0014 get their key at start-up.
 */
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/fold.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "partners/partners_int.h"
#include "resource/resource.h"
#include "store/migrate.h"
#include "store/store.h"

static int name_taken(struct tx *, const char *, const char *);
static int name_keys_batch_tx(struct tx *, void *);

int
partners_name_key(const char *name, char *out)
{
	size_t len = strlen(name);

	out[0] = '\0';
	if (len > PARTNER_NAME_MAX * 4)
		return (ERR_INVALID);
	return (fold_utf8(name, len, out, PARTNER_NAME_KEY_SIZE) == OK
		? OK
		: ERR_INVALID);
}

/* ERR_CONFLICT when another partner has the name key. */
static int
name_taken(struct tx *tx, const char *key, const char *id)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx,
	    "SELECT 1 FROM partners WHERE name_key = ? AND "
	    "id <> ?");
	store_bind_text(st, 1, key);
	store_bind_text(st, 2, id != NULL ? id : "");
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_DONE)
		return (OK);
	return (rc == STORE_ROW ? ERR_CONFLICT : rc);
}

/*
 * A body naming the partner's name gets its key (name_key), and 409
 * NAME_TAKEN when another partner has that key. The unique index on
 * name_key refuses a second one made at the same time.
 */
int
partners_name_key_set(struct resource_ctx *ctx, json_t *body)
{
	const char *name;
	char	    key[PARTNER_NAME_KEY_SIZE];
	int	    rc;

	if ((name = json_string_value(json_object_get(body, "name"))) == NULL)
		return (OK);
	if (partners_name_key(name, key) != OK) {
		http_problem_ext(ctx->req, ERR_INVALID, NULL,
		    json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "field", "name",
			"code", "invalid_format", "detail",
			"must be UTF-8 text of at most "
			"64 characters"),
		    "The partner is not valid.");
		return (ERR_INVALID);
	}
	if ((rc = name_taken(ctx->tx, key, ctx->id)) == ERR_CONFLICT)
		http_problem(ctx->req, rc, "NAME_TAKEN",
		    "Another partner has "
		    "that name.");
	if (rc != OK)
		return (rc);
	return (json_object_set_new(body, "name_key", json_string(key)) == 0
		? OK
		: ERR_NOMEM);
}

/*
 * Start-up: partners from before migration 0014 (name_key NULL) get their
 * key, a batch per transaction. A partner whose key another already holds
 * (names that SQLite's lower() told apart) keeps NULL, is found by id
 * only, and is logged so that an admin renames it.
 */
#define NAME_KEY_BATCH 100

struct name_key_batch {
	char after[UUID_STR_LEN]; /* last id seen */
	int  seen, filled;
};

static int
name_keys_batch_tx(struct tx *tx, void *arg)
{
	struct name_key_batch *b = arg;
	struct stmt	      *st;
	char		       ids[NAME_KEY_BATCH][UUID_STR_LEN];
	char		       keys[NAME_KEY_BATCH][PARTNER_NAME_KEY_SIZE];
	int		       rc = OK, n = 0, i;
	int64_t		       changed;

	b->seen = b->filled = 0;
	st = store_prepare(tx,
	    "SELECT id, name FROM partners WHERE name_key "
	    "IS NULL AND id > ? ORDER BY id LIMIT ?");
	store_bind_text(st, 1, b->after);
	store_bind_int64(st, 2, NAME_KEY_BATCH);
	while (n < NAME_KEY_BATCH && (rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(ids[n], store_col_text(st, 0), UUID_STR_LEN);
		if (partners_name_key(store_col_text(st, 1), keys[n]) != OK)
			keys[n][0] = '\0';
		n++;
	}
	store_finalize(st);
	if (n < NAME_KEY_BATCH && rc != STORE_DONE)
		return (rc);
	for (i = 0; i < n; i++) {
		if (keys[i][0] == '\0') {
			log_warn(
			    "event=partner_name_key_invalid id=%s", ids[i]);
			continue;
		}
		st = store_prepare(tx,
		    "UPDATE partners SET name_key = ? WHERE "
		    "id = ? AND name_key IS NULL AND NOT EXISTS (SELECT 1 FROM "
		    "partners o WHERE o.name_key = ?)");
		store_bind_text(st, 1, keys[i]);
		store_bind_text(st, 2, ids[i]);
		store_bind_text(st, 3, keys[i]);
		rc = store_step(st);
		changed = store_changes(st);
		store_finalize(st);
		/* Another server filled the same key first: try again. */
		if (rc == ERR_CONFLICT)
			return (ERR_BUSY);
		if (rc != STORE_DONE)
			return (rc);
		if (changed == 1)
			b->filled++;
		else
			log_warn("event=partner_name_key_taken id=%s", ids[i]);
	}
	b->seen = n;
	if (n > 0)
		strlcpy_cb(b->after, ids[n - 1], UUID_STR_LEN);
	return (OK);
}

int
partners_name_keys_fill(struct store *db)
{
	struct name_key_batch b;
	int64_t		      total = 0;
	int		      rc;

	/* name_key comes with migration 0014: nothing to fill before. */
	if ((rc = migrate_applied(db, "0014_partner_name_key")) != OK)
		return (rc == ERR_NOT_FOUND ? OK : rc);
	memset(&b, 0, sizeof(b));
	do {
		if ((rc = store_run(
			 db, STORE_TX_WRITE, name_keys_batch_tx, &b)) != OK) {
			log_error("event=partner_name_keys_failed status=%s",
			    err_code(rc));
			return (rc);
		}
		total += b.filled;
	} while (b.seen == NAME_KEY_BATCH);
	if (total > 0)
		log_info("event=partner_name_keys rows=%lld", (long long)total);
	return (OK);
}
