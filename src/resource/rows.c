/*
 * Rows: one row of a resource between the database and JSON. Columns are
 * in rd->cols order; personal fields are sealed under the owner's data
 * key (seal.h), FIELD_BLIND_INDEX fields also write "<name>_index"; times
 * are BIGINT ms in the database and ISO 8601 in JSON; booleans 0/1.
 *
 * SQL is built only from the compiled column names (whitelisted at
 * registration); every value is bound.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/keyring.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "resource/resource_int.h"
#include "resource/seal.h"
#include "store/store.h"

static void etag_of(const unsigned char *, size_t, char[48]);
static int  see_mask(
     const struct rdef *, const struct principal *, enum scope, const char *);
static json_t *col_value(struct stmt *, int, const struct field *);
static json_t *plain_value(const struct field *, const char *);

void
keycache_wipe(struct keycache *kc)
{
	if (kc != NULL)
		sodium_memzero(kc, sizeof(*kc));
}

/* W/"<hex of a 16-byte BLAKE2b of p>" into out (48 bytes). */
static void
etag_of(const unsigned char *p, size_t n, char out[48])
{
	unsigned char h[16];
	char	      hex[33];

	crypto_generichash(h, sizeof(h), p, n, NULL, 0);
	hex_encode(h, sizeof(h), hex);
	snprintf(out, 48, "W/\"%s\"", hex);
}

void
resource_etag(const char *id, int64_t updated_at, char out[48])
{
	char s[64];
	int  n;

	n = snprintf(s, sizeof(s), "%s:%lld", id, (long long)updated_at);
	etag_of((const unsigned char *)s, n > 0 ? (size_t)n : 0, out);
}

void
resource_etag_row(const json_t *row, char out[48])
{
	char *s;

	s = json_dumps(row, JSON_COMPACT | JSON_SORT_KEYS);
	etag_of((const unsigned char *)(s != NULL ? s : ""),
	    s != NULL ? strlen(s) : 0, out);
	free(s);
}

const char *
rows_owner(const struct rdef *rd, json_t *row)
{
	if (rd->owner < 0)
		return (NULL);
	return (
	    json_string_value(json_object_get(row, rd->cols[rd->owner].name)));
}

/*
 * SEE_* bits for a row owned by owner seen through scope vis. A row seen
 * through scope_where[SCOPE_OWN] is the caller's by that declaration; one
 * seen through scope_where[SCOPE_NONE] (everyone's rows) is seen as
 * through related scope.
 */
static int
see_mask(const struct rdef *rd, const struct principal *who, enum scope vis,
    const char *owner)
{
	int own;

	own = who != NULL && owner != NULL && strcmp(owner, who->user_id) == 0;
	switch (vis) {
	case SCOPE_ALL:
		return (SEE_ALL | (own ? SEE_OWN : 0));
	case SCOPE_RELATED:
		return (own ? SEE_OWN : SEE_RELATED);
	case SCOPE_OWN:
		return (own || rd->res->scope_where[SCOPE_OWN] != NULL ? SEE_OWN
								       : 0);
	default:
		if (rd->res->scope_where[SCOPE_NONE] == NULL)
			return (0);
		return (own ? SEE_OWN : SEE_RELATED);
	}
}

int
rows_key_get(struct tx *tx, const struct rdef *rd, struct keycache *kc,
    const char *owner)
{
	const unsigned char *k;
	int		     rc;

	if (rd->res->flags & RESOURCE_SYSTEM_KEY) {
		/* Not cached under an owner: a user's key never stands in
		 * for it, nor it for a user's. */
		if ((k = keyring_key(KEY_SYSTEM)) == NULL)
			return (ERR_INTERNAL);
		kc->owner[0] = '\0';
		memcpy(kc->key, k, sizeof(kc->key));
		kc->state = 1;
		return (OK);
	}
	if (owner == NULL)
		return (ERR_NOT_FOUND);
	if (kc->state != 0 && strcmp(kc->owner, owner) == 0)
		return (kc->state == 1 ? OK : ERR_NOT_FOUND);
	strlcpy_cb(kc->owner, owner, sizeof(kc->owner));
	rc = seal_key_load(tx, owner, kc->key);
	kc->state = rc == OK ? 1 : -1;
	if (rc != OK && rc != ERR_NOT_FOUND) {
		kc->state = 0;
		return (rc);
	}
	return (rc);
}

static json_t *
col_value(struct stmt *st, int i, const struct field *f)
{
	const char *s;
	char	    iso[ISO_TIME_LEN];

	if (store_col_is_null(st, i))
		return (json_null());
	switch (f->type) {
	case FIELD_INT:
		return (json_integer(store_col_int64(st, i)));
	case FIELD_BOOL:
		return (json_boolean(store_col_int64(st, i) != 0));
	case FIELD_TIME:
		return (
		    json_string(time_format_iso(store_col_int64(st, i), iso)));
	case FIELD_JSON:
	case FIELD_TEXT_LIST:
	case FIELD_URL_MAP:
		s = store_col_text(st, i);
		return (plain_value(f, s));
	default:
		s = store_col_text(st, i);
		return (s != NULL ? json_string(s) : json_null());
	}
}

/* The JSON value of a field from its text form (see plain_text). */
static json_t *
plain_value(const struct field *f, const char *s)
{
	json_t *v;

	if (s == NULL)
		return (json_null());
	switch (f->type) {
	case FIELD_INT:
	case FIELD_BOOL:
	case FIELD_JSON:
	case FIELD_TEXT_LIST:
	case FIELD_URL_MAP:
		if ((v = json_loads(s, JSON_DECODE_ANY, NULL)) == NULL)
			return (json_null());
		return (v);
	default:
		return (json_string(s));
	}
}

int
rows_decode(struct tx *tx, const struct rdef *rd, struct stmt *st,
    const struct principal *who, enum scope vis, int all, uint32_t pending,
    struct keycache *kc, json_t **out, int64_t *updated_at)
{
	const struct field *f;
	struct keycache	    local;
	const void	   *blob;
	const char	   *id, *owner = NULL;
	char		   *plain;
	json_t		   *o, *v;
	size_t		    i, len;
	int		    mask, rc = OK;

	*out = NULL;
	if (kc == NULL) {
		memset(&local, 0, sizeof(local));
		kc = &local;
	}
	if ((o = json_object()) == NULL)
		return (ERR_NOMEM);
	id = store_col_text(st, 0);
	if (rd->owner_is_id)
		owner = id;
	else if (rd->owner >= 0)
		owner = store_col_text(st, rd->owner);
	mask = see_mask(rd, who, vis, owner);
	for (i = 0; i < rd->ncols; i++) {
		f = &rd->cols[i];
		if (!all &&
		    ((f->flags & FIELD_HIDDEN) ||
			((f->see ? f->see : SEE_EVERYONE) & mask) == 0))
			continue;
		/* Its migration pending: no column, no member (schema.c). */
		if (pending != 0 && rdef_col_pending(rd, pending, i))
			continue;
		if ((f->flags & FIELD_PERSONAL) == 0)
			v = col_value(st, (int)i, f);
		else if (store_col_is_null(st, (int)i))
			v = json_null();
		else if ((rc = rows_key_get(tx, rd, kc, owner)) ==
		    ERR_NOT_FOUND) {
			v = json_null(); /* erased: the key is gone */
			rc = OK;
		} else if (rc != OK)
			goto out;
		else {
			blob = store_col_blob(st, (int)i, &len);
			if (seal_open_field(kc->key, rd->res->table, f->name,
				id, blob, len, &plain) != OK) {
				log_warn("event=seal_open_failed table=%s "
					 "column=%s",
				    rd->res->table, f->name);
				v = json_null();
			} else {
				v = plain_value(f, plain);
				sodium_memzero(plain, strlen(plain));
				free(plain);
			}
		}
		/* Links are served only as the rule allows (url.c). */
		if (f->type == FIELD_URL || f->type == FIELD_URL_MAP)
			v = url_withhold(v, f, rd->res->table, id);
		if (v == NULL || json_object_set_new(o, f->name, v) != 0) {
			rc = ERR_NOMEM;
			goto out;
		}
	}
	if (updated_at != NULL)
		*updated_at = store_col_int64(st, rd->updated);
	*out = o;
	o = NULL;
out:
	if (kc == &local)
		keycache_wipe(&local);
	json_decref(o);
	return (rc);
}

int
rows_select(struct tx *tx, const struct rdef *rd, const char *id,
    const struct principal *who, enum scope cond, enum scope vis, int all,
    json_t **out, int64_t *updated_at)
{
	struct stmt *st;
	const char  *sql;
	uint32_t     pending;
	int	     rc;

	*out = NULL;
	if (!scope_reads(rd, cond) || id == NULL || !uuid_valid(id))
		return (ERR_NOT_FOUND);
	if ((rc = rdef_pending(tx, rd, &pending)) != OK)
		return (rc);
	if ((sql = rdef_one(rd, pending, cond)) == NULL)
		return (ERR_NOMEM);
	if ((st = store_prepare(tx, sql)) == NULL)
		return (ERR_DB);
	store_bind_text(st, 1, id);
	if (rd->res->alt_id != NULL)
		store_bind_text(st, 2, id);
	scope_bind(st, rd->res->alt_id != NULL ? 3 : 2, rd->res, who, cond);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		rc = rows_decode(
		    tx, rd, st, who, vis, all, pending, NULL, out, updated_at);
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	}
	store_finalize(st);
	return (rc);
}

json_t *
rows_changes(const struct rdef *rd, json_t *old, json_t *body)
{
	const struct field *f;
	json_t		   *o, *names, *ov, *nv, *ol = NULL, *nl;
	const char	   *name;
	json_t		   *v;

	o = json_object();
	names = json_array();
	nl = json_object();
	if (old != NULL)
		ol = json_object();
	json_object_foreach(body, name, v) {
		if ((f = field_find(rd->res, name)) == NULL)
			continue;
		ov = old != NULL ? json_object_get(old, name) : NULL;
		if (old != NULL && ov != NULL && json_equal(ov, v))
			continue;
		json_array_append_new(names, json_string(name));
		/* The audit log keeps no personal or health values. */
		if (f->flags & (FIELD_PERSONAL | FIELD_HIDDEN | FIELD_HEALTH))
			continue;
		nv = json_deep_copy(v);
		json_object_set_new(nl, name, nv);
		if (ol != NULL)
			json_object_set_new(ol, name,
			    ov != NULL ? json_deep_copy(ov) : json_null());
	}
	json_object_set_new(o, "fields", names);
	if (ol != NULL)
		json_object_set_new(o, "old", ol);
	json_object_set_new(o, "new", nl);
	return (o);
}

int
resource_load(struct resource_ctx *ctx, const char *id, json_t **out)
{
	const struct rdef *rd;
	json_t		  *rows;
	int		   rc;

	*out = NULL;
	if ((rd = rdef_find(ctx->res)) == NULL)
		return (ERR_INTERNAL);
	if ((rc = rows_select(ctx->tx, rd, id, ctx->who, ctx->scope, ctx->scope,
		 0, out, NULL)) != OK)
		return (rc);
	if (rd->has_health) {
		rows = json_pack("[O]", *out);
		rc = rows_read_audit(ctx->tx, rd, ctx->who, ctx->req, rows);
		json_decref(rows);
		if (rc != OK) {
			json_decref(*out);
			*out = NULL;
		}
	}
	return (rc);
}

int
resource_read(struct tx *tx, const struct resource *res, const char *id,
    enum scope vis, json_t **out)
{
	const struct rdef *rd;

	*out = NULL;
	if ((rd = rdef_find(res)) == NULL)
		return (ERR_INTERNAL);
	return (rows_select(tx, rd, id, NULL, SCOPE_ALL, vis, 0, out, NULL));
}

/*
 * Lock row id until the transaction ends, so that what is read of it and
 * then written is not changed by another writer meanwhile. PostgreSQL
 * only: a write transaction on SQLite holds the database's write lock.
 */
int
rows_lock(struct tx *tx, const struct rdef *rd, const char *id)
{
	struct stmt *st;
	char	     sql[256];
	int	     rc;

	if (store_tx_dialect(tx) != STORE_POSTGRES)
		return (OK);
	if (rd->res->alt_id == NULL)
		snprintf(sql, sizeof(sql),
		    "SELECT 1 FROM %s WHERE id = ? FOR UPDATE", rd->res->table);
	else
		snprintf(sql, sizeof(sql),
		    "SELECT 1 FROM %s WHERE id = ? OR %s = ? FOR UPDATE",
		    rd->res->table, rd->res->alt_id);
	if ((st = store_prepare(tx, sql)) == NULL)
		return (ERR_DB);
	store_bind_text(st, 1, id);
	if (rd->res->alt_id != NULL)
		store_bind_text(st, 2, id);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_ROW || rc == STORE_DONE ? OK : rc);
}
