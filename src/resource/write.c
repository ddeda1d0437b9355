/*
 * Writes: a row of a resource from JSON into the database. Personal
 * fields are sealed under the owner's data key (seal.h), FIELD_BLIND_INDEX
 * fields also write "<name>_index"; created_at/updated_at and
 * created_by/updated_by are stamped; every write appends its audit record
 * (the names of the fields changed, never personal values).
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
#include "core/util.h"
#include "http/http.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "resource/resource_int.h"
#include "resource/seal.h"
#include "store/store.h"

#define WRITE_SQL_MAX  (64 * 1024)
#define WRITE_NELEM(a) (sizeof(a) / sizeof((a)[0]))

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

static int plain_text(const struct field *, json_t *, char **);
static int wset_add(
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
static int consent_check(
    struct resource_ctx *, const struct rdef *, json_t *, const char *);

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

static int
wset_add(struct wset *w, const char *name, const struct field *f, json_t *v,
    int index)
{
	if (w->n == (int)WRITE_NELEM(w->c))
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
		    f->sql != NULL ||
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
			case FIELD_URL_MAP:
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
	buf_init(&b, WRITE_SQL_MAX);
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
	/* A computed updated_at (auth sessions: their last activity) is
	 * not a column to write. */
	if (rd->cols[rd->updated].sql == NULL &&
	    (rc = wset_num(w, "updated_at", now)) != OK)
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
	json_object_foreach(body, name, v) {
		const struct field *f = field_find(rd->res, name);

		if (f == NULL || (f->flags & FIELD_HEALTH) == 0 ||
		    json_is_null(v))
			continue;
		if ((rc = consent_hook(ctx->req, ctx->tx, owner)) == OK)
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
	uint32_t	   pending;
	int		   rc = ERR_NOMEM;

	memset(&kc, 0, sizeof(kc));
	if ((rd = rdef_find(ctx->res)) == NULL)
		return (ERR_INTERNAL);
	/* A field whose migration is pending has no column to write. */
	if ((rc = rdef_pending(ctx->tx, rd, &pending)) != OK ||
	    (rc = rdef_pending_refuse(ctx->req, rd, pending, body)) != OK)
		return (rc);
	rc = ERR_NOMEM;
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
		if ((rc = rows_key_get(ctx->tx, rd, &kc, owner)) ==
		    ERR_NOT_FOUND) {
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
		    (rc = rows_key_get(ctx->tx, rd, &kc, id)) != OK ||
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
	uint32_t	   pending;
	int		   rc = ERR_NOMEM, personal;

	memset(&kc, 0, sizeof(kc));
	if ((rd = rdef_find(ctx->res)) == NULL)
		return (ERR_INTERNAL);
	if ((rc = rdef_pending(ctx->tx, rd, &pending)) != OK ||
	    (rc = rdef_pending_refuse(ctx->req, rd, pending, body)) != OK)
		return (rc);
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
		rc = rows_key_get(ctx->tx, rd, &kc,
		    rd->owner_is_id ? id : rows_owner(rd, old));
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
