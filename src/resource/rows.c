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

#define ROWS_SQL_MAX  (64 * 1024)
#define ROWS_NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* One column to write: a field's value, a blind index, or a number. */
struct wcol {
	const char	   *name;
	const struct field *f; /* NULL for a number */
	json_t		   *v;
	int		    index; /* write keyring_email_index(v) */
	int64_t		    num;
	const char	   *text; /* for f == NULL and !num */
};

struct wset {
	struct wcol c[RESOURCE_COLS_MAX * 2 + 8];
	int	    n;
};

static int see_mask(
    const struct rdef *, const struct principal *, enum scope, const char *);
static json_t *col_value(struct stmt *, int, const struct field *);
static json_t *plain_value(const struct field *, const char *);
static int     plain_text(const struct field *, json_t *, char **);
static int     key_get(struct tx *, struct keycache *, const char *);
static int     wset_add(
	struct wset *, const char *, const struct field *, json_t *, int);
static int wset_bind(struct stmt *, int, struct wset *, const struct rdef *,
    const unsigned char *, const char *);
static int wset_fields(struct wset *, const struct rdef *, json_t *, int);
static int row_write(struct tx *, const struct rdef *, int, const char *,
    struct wset *, const unsigned char *);
static int wset_num(struct wset *, const char *, int64_t);
static int wset_text(struct wset *, const char *, const char *);
static int stamp(
    struct wset *, const struct rdef *, const struct principal *, int, int64_t);
static void conflict(struct request *, const struct rdef *, json_t *);
static int  audit_write(
     struct resource_ctx *, const char *, const char *, json_t *);

void
keycache_wipe(struct keycache *kc)
{
	if (kc != NULL)
		sodium_memzero(kc, sizeof(*kc));
}

void
resource_etag(const char *id, int64_t updated_at, char out[48])
{
	unsigned char h[16];
	char	      hex[33], s[64];
	int	      n;

	n = snprintf(s, sizeof(s), "%s:%lld", id, (long long)updated_at);
	crypto_generichash(h, sizeof(h), (const unsigned char *)s,
	    (unsigned long long)(n > 0 ? n : 0), NULL, 0);
	hex_encode(h, sizeof(h), hex);
	snprintf(out, 48, "W/\"%s\"", hex);
}

const char *
rows_owner(const struct rdef *rd, json_t *row)
{
	if (rd->owner < 0)
		return (NULL);
	return (
	    json_string_value(json_object_get(row, rd->cols[rd->owner].name)));
}

/* SEE_* bits for a row owned by owner seen through scope vis. */
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
		return (own ? SEE_OWN : 0);
	default:
		return (0);
	}
}

static int
key_get(struct tx *tx, struct keycache *kc, const char *owner)
{
	int rc;

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
		if ((v = json_loads(s, JSON_DECODE_ANY, NULL)) == NULL)
			return (json_null());
		return (v);
	default:
		return (json_string(s));
	}
}

/* Text form of a value: strings as they are (times normalised), the
 * rest as compact JSON. malloc'd. */
static int
plain_text(const struct field *f, json_t *v, char **out)
{
	char	iso[ISO_TIME_LEN];
	int64_t ms;

	*out = NULL;
	if (f->type == FIELD_TIME) {
		if (time_parse_iso(json_string_value(v), &ms) != 0)
			return (ERR_INVALID);
		*out = strdup(time_format_iso(ms, iso));
	} else if (json_is_string(v))
		*out = strdup(json_string_value(v));
	else
		*out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	return (*out != NULL ? OK : ERR_NOMEM);
}

int
rows_decode(struct tx *tx, const struct rdef *rd, struct stmt *st,
    const struct principal *who, enum scope vis, int all, struct keycache *kc,
    json_t **out, int64_t *updated_at)
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
		if ((f->flags & FIELD_PERSONAL) == 0)
			v = col_value(st, (int)i, f);
		else if (store_col_is_null(st, (int)i))
			v = json_null();
		else if ((rc = key_get(tx, kc, owner)) == ERR_NOT_FOUND) {
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
	int	     rc;

	*out = NULL;
	if (cond == SCOPE_NONE || id == NULL || !uuid_valid(id))
		return (ERR_NOT_FOUND);
	if ((st = store_prepare(tx, rd->one[cond])) == NULL)
		return (ERR_DB);
	store_bind_text(st, 1, id);
	scope_bind(st, 2, rd->res, who, cond);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		rc = rows_decode(
		    tx, rd, st, who, vis, all, NULL, out, updated_at);
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	}
	store_finalize(st);
	return (rc);
}

int
rows_covers(struct tx *tx, const struct rdef *rd, const struct principal *who,
    enum scope scope, const char *owner)
{
	struct stmt *st;
	int	     rc;

	if (scope == SCOPE_ALL)
		return (OK);
	if (scope == SCOPE_NONE || who == NULL || owner == NULL)
		return (ERR_FORBIDDEN);
	if (strcmp(owner, who->user_id) == 0)
		return (OK);
	if (scope != SCOPE_RELATED || rd->related == NULL)
		return (ERR_FORBIDDEN);
	st = store_prepare(tx, rd->related);
	store_bind_text(st, 1, who->user_id);
	store_bind_text(st, 2, owner);
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_ROW)
		return (OK);
	return (rc == STORE_DONE ? ERR_FORBIDDEN : rc);
}

int
resource_covers(struct tx *tx, const struct resource *res,
    const struct principal *who, enum scope scope, const char *owner)
{
	const struct rdef *rd;

	if ((rd = rdef_find(res)) == NULL)
		return (ERR_INTERNAL);
	return (rows_covers(tx, rd, who, scope, owner));
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
	json_object_foreach(body, name, v)
	{
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

static int
wset_add(struct wset *w, const char *name, const struct field *f, json_t *v,
    int index)
{
	if (w->n == (int)ROWS_NELEM(w->c))
		return (ERR_INTERNAL);
	memset(&w->c[w->n], 0, sizeof(w->c[0]));
	w->c[w->n].name = name;
	w->c[w->n].f = f;
	w->c[w->n].v = v;
	w->c[w->n].index = index;
	w->n++;
	return (OK);
}

/* The members of body that are columns: personal ones only if personal. */
static int
wset_fields(struct wset *w, const struct rdef *rd, json_t *body, int personal)
{
	const struct field *f;
	json_t		   *v;
	size_t		    i;
	int		    rc;

	for (i = 1; i < rd->ncols; i++) {
		f = &rd->cols[i];
		if ((v = json_object_get(body, f->name)) == NULL ||
		    ((f->flags & FIELD_PERSONAL) != 0) != personal)
			continue;
		if ((rc = wset_add(w, f->name, f, v, 0)) != OK)
			return (rc);
		if ((f->flags & FIELD_BLIND_INDEX) &&
		    (rc = wset_add(w, f->name, f, v, 1)) != OK)
			return (rc);
	}
	return (OK);
}

/* Bind w's values from index i on; the next index, or -1. */
static int
wset_bind(struct stmt *st, int i, struct wset *w, const struct rdef *rd,
    const unsigned char *key, const char *row_id)
{
	struct wcol   *c;
	unsigned char *blob;
	char	      *plain, idx[65];
	size_t	       len;
	int64_t	       ms;
	int	       k;

	for (k = 0; k < w->n; k++, i++) {
		c = &w->c[k];
		if (c->f == NULL) {
			if (c->text != NULL)
				store_bind_text(st, i, c->text);
			else
				store_bind_int64(st, i, c->num);
		} else if (json_is_null(c->v))
			store_bind_null(st, i);
		else if (c->index) {
			keyring_email_index(json_string_value(c->v), idx);
			store_bind_text(st, i, idx);
		} else if (c->f->flags & FIELD_PERSONAL) {
			if (key == NULL || plain_text(c->f, c->v, &plain) != OK)
				return (-1);
			if (seal_field(key, rd->res->table, c->f->name, row_id,
				plain, &blob, &len) != OK) {
				sodium_memzero(plain, strlen(plain));
				free(plain);
				return (-1);
			}
			sodium_memzero(plain, strlen(plain));
			free(plain);
			store_bind_blob(st, i, blob, len);
			free(blob);
		} else
			switch (c->f->type) {
			case FIELD_INT:
				store_bind_int64(
				    st, i, json_integer_value(c->v));
				break;
			case FIELD_BOOL:
				store_bind_bool(st, i, json_is_true(c->v));
				break;
			case FIELD_TIME:
				if (time_parse_iso(
					json_string_value(c->v), &ms) != 0)
					return (-1);
				store_bind_int64(st, i, ms);
				break;
			case FIELD_JSON:
			case FIELD_TEXT_LIST:
				if ((plain = json_dumps(c->v, JSON_COMPACT)) ==
				    NULL)
					return (-1);
				store_bind_text(st, i, plain);
				free(plain);
				break;
			default:
				store_bind_text(st, i, json_string_value(c->v));
				break;
			}
	}
	return (i);
}

/* INSERT (insert set) or UPDATE ... WHERE id = ? of w's columns. */
static int
row_write(struct tx *tx, const struct rdef *rd, int insert, const char *id,
    struct wset *w, const unsigned char *key)
{
	struct stmt *st;
	struct buf   b;
	int	     k, i, rc = ERR_NOMEM;

	if (w->n == 0)
		return (OK);
	buf_init(&b, ROWS_SQL_MAX);
	if (insert) {
		if (buf_printf(&b, "INSERT INTO %s (id", rd->res->table) != OK)
			goto out;
		for (k = 0; k < w->n; k++)
			if (buf_printf(&b, ", %s%s", w->c[k].name,
				w->c[k].index ? "_index" : "") != OK)
				goto out;
		if (buf_puts(&b, ") VALUES (?") != OK)
			goto out;
		for (k = 0; k < w->n; k++)
			if (buf_puts(&b, ", ?") != OK)
				goto out;
		if (buf_puts(&b, ")") != OK)
			goto out;
	} else {
		if (buf_printf(&b, "UPDATE %s SET ", rd->res->table) != OK)
			goto out;
		for (k = 0; k < w->n; k++)
			if (buf_printf(&b, "%s%s%s = ?", k ? ", " : "",
				w->c[k].name,
				w->c[k].index ? "_index" : "") != OK)
				goto out;
		if (buf_puts(&b, " WHERE id = ?") != OK)
			goto out;
	}
	rc = ERR_DB;
	if ((st = store_prepare(tx, b.data)) == NULL)
		goto out;
	i = 1;
	if (insert)
		store_bind_text(st, i++, id);
	if ((i = wset_bind(st, i, w, rd, key, id)) < 0)
		rc = ERR_INTERNAL;
	else {
		if (!insert)
			store_bind_text(st, i, id);
		rc = store_step(st);
		if (rc == STORE_DONE)
			rc = insert || store_changes(st) > 0 ? OK
							     : ERR_NOT_FOUND;
	}
	store_finalize(st);
out:
	buf_free(&b);
	return (rc);
}

static int
wset_num(struct wset *w, const char *name, int64_t v)
{
	int rc;

	if ((rc = wset_add(w, name, NULL, NULL, 0)) == OK)
		w->c[w->n - 1].num = v;
	return (rc);
}

static int
wset_text(struct wset *w, const char *name, const char *v)
{
	int rc;

	if ((rc = wset_add(w, name, NULL, NULL, 0)) == OK)
		w->c[w->n - 1].text = v;
	return (rc);
}

/* updated_at/updated_by, and created_* when creating. */
static int
stamp(struct wset *w, const struct rdef *rd, const struct principal *who,
    int creating, int64_t now)
{
	const char *uid = who != NULL ? who->user_id : NULL;
	int	    rc = OK;

	if (creating && (rc = wset_num(w, "created_at", now)) != OK)
		return (rc);
	if ((rc = wset_num(w, "updated_at", now)) != OK)
		return (rc);
	if (uid != NULL && creating && rd->has_created_by &&
	    (rc = wset_text(w, "created_by", uid)) != OK)
		return (rc);
	if (uid != NULL && rd->has_updated_by)
		rc = wset_text(w, "updated_by", uid);
	return (rc);
}

/*
 * 409 naming the unique field the body sets, when there is one, with the
 * code <FIELD>_TAKEN (EMAIL_TAKEN), the same the people module uses.
 */
static void
conflict(struct request *req, const struct rdef *rd, json_t *body)
{
	char   code[64];
	size_t i, j;

	if (req == NULL)
		return;
	for (i = 0; i < rd->ncols; i++)
		if ((rd->cols[i].flags & FIELD_BLIND_INDEX) &&
		    json_is_string(json_object_get(body, rd->cols[i].name))) {
			for (j = 0; rd->cols[i].name[j] != '\0' &&
			     j + 7 < sizeof(code);
			     j++)
				code[j] = (char)toupper(
				    (unsigned char)rd->cols[i].name[j]);
			snprintf(code + j, sizeof(code) - j, "_TAKEN");
			http_problem(req, ERR_CONFLICT, code,
			    "%s is already "
			    "taken.",
			    rd->cols[i].name);
			return;
		}
	http_problem(req, ERR_CONFLICT, NULL,
	    "The %s row conflicts with an "
	    "existing row or a row it refers to.",
	    rd->res->name);
}

static int
audit_write(
    struct resource_ctx *ctx, const char *verb, const char *id, json_t *changes)
{
	char action[96];
	int  rc;

	snprintf(action, sizeof(action), "%s.%s", ctx->res->name, verb);
	rc = audit_append(
	    ctx->tx, ctx->who, ctx->req, action, ctx->res->name, id, changes);
	return (rc);
}

static resource_consent_fn consent_hook;

void
resource_set_consent(resource_consent_fn fn)
{
	consent_hook = fn;
}

/* Refuse health data for an owner who may not have it stored yet. */
static int
consent_check(struct resource_ctx *ctx, const struct rdef *rd, json_t *body,
    const char *owner)
{
	const char *name;
	json_t	   *v;
	int	    rc;

	if (consent_hook == NULL || owner == NULL || !rd->has_health)
		return (OK);
	json_object_foreach(body, name, v)
	{
		const struct field *f = field_find(rd->res, name);

		if (f == NULL || (f->flags & FIELD_HEALTH) == 0 ||
		    json_is_null(v))
			continue;
		if ((rc = consent_hook(ctx->tx, owner)) == OK)
			return (OK);
		if (ctx->req != NULL && !ctx->req->responded)
			http_problem(ctx->req, ERR_FORBIDDEN,
			    "CONSENT_REQUIRED",
			    "Health data of this person cannot be stored until "
			    "the consent it needs is recorded.");
		return (rc == ERR_FORBIDDEN ? ERR_FORBIDDEN : rc);
	}
	return (OK);
}

int
resource_insert(struct resource_ctx *ctx, json_t *body, char *id_out)
{
	const struct rdef *rd;
	struct wset	  *w = NULL, *wp = NULL;
	struct keycache	   kc;
	const char	  *owner = NULL;
	json_t		  *changes = NULL;
	char		   id[UUID_STR_LEN];
	int		   rc = ERR_NOMEM;

	memset(&kc, 0, sizeof(kc));
	if ((rd = rdef_find(ctx->res)) == NULL)
		return (ERR_INTERNAL);
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (wp = calloc(1, sizeof(*wp))) == NULL)
		goto out;
	uuid_v7(id);
	if ((rc = wset_fields(w, rd, body, 0)) != OK ||
	    (rc = stamp(w, rd, ctx->who, 1, time_now_ms())) != OK ||
	    (rc = wset_fields(wp, rd, body, 1)) != OK)
		goto out;
	owner = rd->owner_is_id ? id : rows_owner(rd, body);
	if (!rd->owner_is_id &&
	    (rc = consent_check(ctx, rd, body, owner)) != OK)
		goto out;
	if (!rd->owner_is_id && wp->n > 0) {
		/* The owner's key first: no key, no personal data. */
		if ((rc = key_get(ctx->tx, &kc, owner)) == ERR_NOT_FOUND) {
			if (ctx->req != NULL)
				http_problem(ctx->req, ERR_CONFLICT, NULL,
				    "The owner of this %s row cannot hold "
				    "personal data.",
				    rd->res->name);
			rc = ERR_CONFLICT;
		}
		if (rc != OK)
			goto out;
		memcpy(w->c + w->n, wp->c, (size_t)wp->n * sizeof(w->c[0]));
		w->n += wp->n;
		wp->n = 0;
	}
	if ((rc = row_write(
		 ctx->tx, rd, 1, id, w, kc.state == 1 ? kc.key : NULL)) != OK)
		goto out;
	if (rd->owner_is_id) {
		/* The row owns itself: its key refers to it, so it comes
		 * after the row, and the personal fields after the key. */
		if ((rc = seal_key_create(ctx->tx, id)) != OK ||
		    (rc = key_get(ctx->tx, &kc, id)) != OK ||
		    (rc = row_write(ctx->tx, rd, 0, id, wp, kc.key)) != OK)
			goto out;
	}
	if ((changes = rows_changes(rd, NULL, body)) == NULL) {
		rc = ERR_NOMEM;
		goto out;
	}
	if ((rc = audit_write(ctx, "create", id, changes)) != OK)
		goto out;
	if (id_out != NULL)
		memcpy(id_out, id, UUID_STR_LEN);
out:
	if (rc == ERR_CONFLICT && ctx->req != NULL && !ctx->req->responded)
		conflict(ctx->req, rd, body);
	keycache_wipe(&kc);
	json_decref(changes);
	free(w);
	free(wp);
	(void)owner;
	return (rc);
}

int
resource_update(struct resource_ctx *ctx, const char *id, json_t *body)
{
	const struct rdef *rd;
	struct wset	  *w = NULL;
	struct keycache	   kc;
	json_t		  *old = ctx->old, *loaded = NULL, *changes = NULL;
	int64_t		   now = time_now_ms(), before = 0;
	int		   rc = ERR_NOMEM, personal;

	memset(&kc, 0, sizeof(kc));
	if ((rd = rdef_find(ctx->res)) == NULL)
		return (ERR_INTERNAL);
	if (old == NULL) {
		if ((rc = rows_select(ctx->tx, rd, id, ctx->who, SCOPE_ALL,
			 SCOPE_ALL, 1, &loaded, &before)) != OK)
			return (rc);
		old = loaded;
	} else
		time_parse_iso(
		    json_string_value(json_object_get(old, "updated_at")),
		    &before);
	/* A new ETag for every change, even within one millisecond. */
	if (now <= before)
		now = before + 1;
	if ((rc = consent_check(ctx, rd, body,
		 rd->owner_is_id ? id : rows_owner(rd, old))) != OK)
		goto out;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		goto out;
	if ((rc = wset_fields(w, rd, body, 0)) != OK)
		goto out;
	personal = w->n;
	if ((rc = wset_fields(w, rd, body, 1)) != OK)
		goto out;
	if (w->n > personal) {
		rc = key_get(
		    ctx->tx, &kc, rd->owner_is_id ? id : rows_owner(rd, old));
		if (rc == ERR_NOT_FOUND)
			rc = ERR_CONFLICT;
		if (rc != OK)
			goto out;
	}
	if ((rc = stamp(w, rd, ctx->who, 0, now)) != OK ||
	    (rc = row_write(
		 ctx->tx, rd, 0, id, w, kc.state == 1 ? kc.key : NULL)) != OK)
		goto out;
	if ((changes = rows_changes(rd, old, body)) == NULL) {
		rc = ERR_NOMEM;
		goto out;
	}
	rc = audit_write(ctx, "update", id, changes);
out:
	if (rc == ERR_CONFLICT && ctx->req != NULL && !ctx->req->responded)
		conflict(ctx->req, rd, body);
	keycache_wipe(&kc);
	json_decref(changes);
	json_decref(loaded);
	free(w);
	return (rc);
}

int
rows_delete(struct resource_ctx *ctx, const char *id)
{
	const struct rdef *rd;
	struct wset	  *w = NULL;
	struct stmt	  *st;
	json_t		  *changes;
	char		   sql[256];
	int		   rc = ERR_NOMEM;

	if ((rd = rdef_find(ctx->res)) == NULL)
		return (ERR_INTERNAL);
	if (ctx->res->soft_delete) {
		if ((w = calloc(1, sizeof(*w))) == NULL)
			return (ERR_NOMEM);
		if ((rc = wset_num(w, "deleted_at", time_now_ms())) != OK ||
		    (rd->has_is_active &&
			(rc = wset_num(w, "is_active", 0)) != OK) ||
		    (rc = stamp(w, rd, ctx->who, 0, time_now_ms())) != OK ||
		    (rc = row_write(ctx->tx, rd, 0, id, w, NULL)) != OK)
			goto out;
		changes = json_pack("{s:[s]}", "fields", "deleted_at");
	} else {
		snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE id = ?",
		    ctx->res->table);
		st = store_prepare(ctx->tx, sql);
		store_bind_text(st, 1, id);
		rc = store_step(st);
		store_finalize(st);
		if (rc != STORE_DONE)
			goto out;
		changes = json_pack("{s:[]}", "fields");
	}
	rc = audit_write(ctx, "delete", id, changes);
	json_decref(changes);
out:
	free(w);
	return (rc);
}
