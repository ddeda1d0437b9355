/*
 * Therapy bookings as people see them (the rows come from the booking
 * webhook, bookings.c): GET /v1/therapy-bookings and /{id} within the
 * caller's scope of therapy_bookings:read (all: admins; related: the
 * partner a partner admin administers; own: the client), GET
 * /v1/me/therapy-bookings, POST /v1/therapy-bookings/{id}/cancel within
 * therapy_bookings:cancel, and the GDPR export and erasure hook. The
 * sealed client_email is opened for admins and the client only; the
 * sealed time zone and provider for everyone who sees the row. Rows
 * carried over in clear by migration 0011 are sealed here too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "partners/partners_int.h"
#include "people/people.h"
#include "resource/hooks.h"
#include "resource/resource.h"
#include "resource/seal.h"
#include "store/store.h"

/* One read or in-app cancel, run by store_run. */
struct bcancel {
	struct request	 *req;
	struct principal *who;
	enum scope	  scope;
	const char	 *id;
	json_t		 *row;
};

static json_t *time_or_null(struct stmt *, int);
static json_t *text_or_null(struct stmt *, int);
static json_t *field_open(
    struct tx *, struct stmt *, int, const char *, struct bkey *);
static int legacy_column_tx(struct tx *, void *);
static int legacy_batch_tx(struct tx *, void *);
static int scope_of(
    struct tx *, const struct principal *, enum scope, const char **, char *);
static int  sees_email(const struct principal *, enum scope, struct stmt *);
static void list_scoped(struct request *, struct principal *, enum scope);
static int  list_args(struct request *, const char **, const char **, int *,
     const char **, int64_t *);
static int  get_tx(struct tx *, void *);
static int  cancel_tx(struct tx *, void *);
static int  gdpr_export(struct tx *, const char *, json_t *);
static int  gdpr_erase(struct tx *, const char *);

const struct gdpr_hook bookings_gdpr_hook = {
	"therapy_bookings",
	gdpr_export,
	gdpr_erase,
};

/* Rows */

void
bkey_wipe(struct bkey *k)
{
	sodium_memzero(k->key, sizeof(k->key));
	k->state = 0;
	k->owner[0] = '\0';
}

static json_t *
time_or_null(struct stmt *st, int i)
{
	char iso[ISO_TIME_LEN];

	if (store_col_is_null(st, i))
		return (json_null());
	return (json_string(time_format_iso(store_col_int64(st, i), iso)));
}

static json_t *
text_or_null(struct stmt *st, int i)
{
	const char *s = store_col_text(st, i);

	return (s != NULL ? json_string(s) : json_null());
}

/*
 * The sealed field column of the row (column i), or null once erased. A
 * row in clear (legacy_plain, column 19) shows the text as it is.
 */
static json_t *
field_open(
    struct tx *tx, struct stmt *st, int i, const char *column, struct bkey *k)
{
	const char *owner = store_col_text(st, 2);
	const void *blob;
	char	   *plain;
	json_t	   *v;
	size_t	    len;

	if (store_col_is_null(st, i))
		return (json_null());
	if (i != 6 && store_col_int64(st, 19) != 0) {
		blob = store_col_blob(st, i, &len);
		v = json_stringn(blob, len);
		return (v != NULL ? v : json_null());
	}
	if (k->state == 0 || strcmp(k->owner, owner) != 0) {
		bkey_wipe(k);
		strlcpy_cb(k->owner, owner, sizeof(k->owner));
		k->state = seal_key_load(tx, owner, k->key) == OK ? 1 : -1;
	}
	if (k->state != 1)
		return (json_null());
	blob = store_col_blob(st, i, &len);
	if (seal_open_field(k->key, "therapy_bookings", column,
		store_col_text(st, 0), blob, len, &plain) != OK)
		return (json_null());
	v = json_string(plain);
	sodium_memzero(plain, strlen(plain));
	free(plain);
	return (v != NULL ? v : json_null());
}

/* One row of BOOKING_COLUMNS; with email, client_email opened (k). */
json_t *
booking_row(struct tx *tx, struct stmt *st, int email, struct bkey *k)
{
	json_t *o;

	o = json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:s,s:s,s:o,s:o,s:o,s:o,"
		      "s:o,s:o,s:o,s:o,s:o,s:s}",
	    "id", store_col_text(st, 0), "action", store_col_text(st, 1),
	    "user_id", store_col_text(st, 2), "partner_access_id",
	    text_or_null(st, 3), "partner_id", text_or_null(st, 4),
	    "partner_name", text_or_null(st, 5), "client_timezone",
	    field_open(tx, st, 7, "client_timezone", k), "booking_code",
	    store_col_text(st, 8), "service_name", store_col_text(st, 9),
	    "service_provider_name",
	    field_open(tx, st, 10, "service_provider_name", k),
	    "service_provider_email",
	    field_open(tx, st, 11, "service_provider_email", k),
	    "start_date_time", time_or_null(st, 12), "end_date_time",
	    time_or_null(st, 13), "rescheduled_from", time_or_null(st, 14),
	    "cancelled_at", time_or_null(st, 15), "completed_at",
	    time_or_null(st, 16), "created_at", time_or_null(st, 17),
	    "updated_at", time_or_null(st, 18), "status",
	    store_col_is_null(st, 15) ? "booked" : "cancelled");
	if (o != NULL && email)
		json_object_set_new(o, "client_email",
		    field_open(tx, st, 6, "client_email", k));
	return (o);
}

/* Reading */

/*
 * The row condition of the caller's scope and the value it binds (val,
 * 37 bytes); ERR_NOT_FOUND for a partner admin without an active partner
 * and for no scope.
 */
static int
scope_of(struct tx *tx, const struct principal *who, enum scope scope,
    const char **cond, char *val)
{
	val[0] = '\0';
	switch (scope) {
	case SCOPE_ALL:
		*cond = "";
		return (OK);
	case SCOPE_RELATED:
		*cond = " AND b.partner_id = ?";
		return (partners_admin_of(tx, who->user_id, val));
	case SCOPE_OWN:
		*cond = " AND b.user_id = ?";
		strlcpy_cb(val, who->user_id, UUID_STR_LEN);
		return (OK);
	default:
		return (ERR_NOT_FOUND);
	}
}

/* The sealed address is for admins and the client only. */
static int
sees_email(const struct principal *who, enum scope scope, struct stmt *st)
{
	return (scope == SCOPE_ALL ||
	    strcmp(who->user_id, store_col_text(st, 2)) == 0);
}

/* ?partner_id= ?user_id= ?status=booked|cancelled ?cursor= ?limit= */
static int
list_args(struct request *req, const char **partner, const char **user,
    int *cancelled, const char **after, int64_t *limit)
{
	const char *v;
	json_t	   *errs = json_array();

	*partner = http_query(req, "partner_id");
	*user = http_query(req, "user_id");
	*after = http_query(req, "cursor");
	*limit = 50;
	*cancelled = -1;
	if (*partner != NULL && !uuid_valid(*partner))
		partners_err(
		    errs, "partner_id", "invalid_format", "must be a UUID");
	if (*user != NULL && !uuid_valid(*user))
		partners_err(
		    errs, "user_id", "invalid_format", "must be a UUID");
	if (*after != NULL && !uuid_valid(*after))
		partners_err(errs, "cursor", "invalid_format",
		    "must be the next_cursor of a previous page");
	if ((v = http_query(req, "limit")) != NULL &&
	    parse_int64(v, 1, BOOKING_LIST_MAX, limit) != 0)
		partners_err(errs, "limit", "out_of_range", "1 to 200");
	if ((v = http_query(req, "status")) != NULL) {
		if (strcmp(v, "booked") == 0)
			*cancelled = 0;
		else if (strcmp(v, "cancelled") == 0)
			*cancelled = 1;
		else
			partners_err(
			    errs, "status", "enum", "booked or cancelled");
	}
	return (partners_errs_answer(req, errs, "The query"));
}

static void
list_scoped(struct request *req, struct principal *who, enum scope scope)
{
	struct tx   *tx = NULL;
	struct stmt *st;
	struct bkey  k;
	const char  *partner, *user, *after, *cond;
	json_t	    *data = NULL, *last = NULL;
	char	     sql[2048], val[UUID_STR_LEN];
	int64_t	     limit;
	int	     cancelled, rc, step, n = 0, b = 1;

	memset(&k, 0, sizeof(k));
	if (list_args(req, &partner, &user, &cancelled, &after, &limit) != OK)
		return;
	if ((rc = store_tx_begin(req->db, STORE_TX_READ, &tx)) != OK)
		goto out;
	if ((rc = scope_of(tx, who, scope, &cond, val)) == ERR_NOT_FOUND) {
		rc = ERR_FORBIDDEN;
		http_problem(req, rc, NULL,
		    "You are not an active partner "
		    "admin of an active partner.");
		goto out;
	}
	if (rc != OK)
		goto out;
	snprintf(sql, sizeof(sql),
	    "SELECT " BOOKING_COLUMNS FROM_BOOKINGS
	    " AND b.id > ?%s%s%s%s ORDER BY b.id LIMIT ?",
	    partner != NULL ? " AND b.partner_id = ?" : "",
	    user != NULL ? " AND b.user_id = ?" : "",
	    cancelled == 1	 ? " AND b.cancelled_at IS NOT NULL"
		: cancelled == 0 ? " AND b.cancelled_at IS NULL"
				 : "",
	    cond);
	st = store_prepare(tx, sql);
	store_bind_text(st, b++, after != NULL ? after : "");
	if (partner != NULL)
		store_bind_text(st, b++, partner);
	if (user != NULL)
		store_bind_text(st, b++, user);
	if (cond[0] != '\0')
		store_bind_text(st, b++, val);
	store_bind_int64(st, b, limit + 1);
	data = json_array();
	while ((step = store_step(st)) == STORE_ROW && n < limit) {
		json_array_append_new(
		    data, booking_row(tx, st, sees_email(who, scope, st), &k));
		n++;
	}
	rc = step == STORE_ROW || step == STORE_DONE ? OK : step;
	if (step == STORE_ROW && n > 0)
		last =
		    json_object_get(json_array_get(data, (size_t)n - 1), "id");
	store_finalize(st);
out:
	bkey_wipe(&k);
	store_tx_rollback(tx);
	if (rc != OK) {
		json_decref(data);
		if (!req->responded)
			http_problem(req, rc, NULL,
			    "The therapy bookings "
			    "cannot be read.");
		return;
	}
	http_json(req, 200,
	    json_pack("{s:o,s:O}", "data", data, "next_cursor",
		last != NULL ? last : json_null()));
}

/* GET /v1/therapy-bookings: admins all, partner admins their partner's,
 * others their own. */
void
bookings_list(struct request *req)
{
	struct principal *who;
	enum scope	  scope;

	who = req->caller;
	scope = resource_scope(req->db, who, "therapy_bookings", "read");
	if (scope == SCOPE_NONE) {
		http_problem(req, ERR_FORBIDDEN, NULL,
		    "You may not list "
		    "therapy bookings.");
		return;
	}
	list_scoped(req, who, scope);
}

/* GET /v1/me/therapy-bookings: the caller's own, whatever their role. */
void
bookings_mine(struct request *req)
{
	struct principal *who;

	who = req->caller;
	list_scoped(req, who, SCOPE_OWN);
}

/* GET /v1/therapy-bookings/{id}; cancel below shares the struct. */
static int
get_tx(struct tx *tx, void *arg)
{
	struct bcancel *c = arg;
	struct stmt    *st;
	struct bkey	k;
	const char     *cond;
	char		sql[1024], val[UUID_STR_LEN];
	int		rc;

	json_decref(c->row);
	c->row = NULL;
	if ((rc = scope_of(tx, c->who, c->scope, &cond, val)) != OK)
		return (rc);
	memset(&k, 0, sizeof(k));
	snprintf(sql, sizeof(sql),
	    "SELECT " BOOKING_COLUMNS FROM_BOOKINGS " AND b.id = ?%s", cond);
	st = store_prepare(tx, sql);
	store_bind_text(st, 1, c->id);
	if (cond[0] != '\0')
		store_bind_text(st, 2, val);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		rc = (c->row = booking_row(
			  tx, st, sees_email(c->who, c->scope, st), &k)) != NULL
		    ? OK
		    : ERR_NOMEM;
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	}
	store_finalize(st);
	bkey_wipe(&k);
	return (rc);
}

void
bookings_get(struct request *req)
{
	struct bcancel c;
	int	       rc;

	memset(&c, 0, sizeof(c));
	c.req = req;
	c.id = http_param(req, "id");
	c.who = req->caller;
	c.scope = resource_scope(req->db, c.who, "therapy_bookings", "read");
	if (c.scope == SCOPE_NONE || c.id == NULL || !uuid_valid(c.id)) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such booking.");
		return;
	}
	if ((rc = store_run(req->db, STORE_TX_READ, get_tx, &c)) != OK) {
		json_decref(c.row);
		http_problem(req, rc, NULL,
		    rc == ERR_NOT_FOUND
			? "No such "
			  "booking."
			: "The therapy booking cannot be read.");
		return;
	}
	http_json(req, 200, c.row);
}

/*
 * POST /v1/therapy-bookings/{id}/cancel: the booking as it is now, with
 * "booking_system_notified": "queued" when the same transaction queued
 * the notice to the booking system (bookings_out.c), "not_configured"
 * when booking_cancel_url is empty.
 */

static int
cancel_tx(struct tx *tx, void *arg)
{
	struct bcancel *c = arg;
	struct booking	b;
	const char     *at, *notified;
	int		rc;

	json_decref(c->row);
	c->row = NULL;
	if ((rc = get_tx(tx, c)) != OK)
		return (rc);
	if ((rc = booking_find(tx, NULL, c->id, &b)) != OK ||
	    (rc = booking_lock(tx, "code", b.code)) != OK ||
	    (rc = booking_find(tx, NULL, c->id, &b)) != OK)
		return (rc);
	if (b.cancelled) {
		http_problem(c->req, ERR_CONFLICT, "ALREADY_CANCELLED",
		    "The "
		    "booking is cancelled already.");
		return (ERR_CONFLICT);
	}
	if (b.start <= time_now_ms()) {
		http_problem(c->req, ERR_CONFLICT, "BOOKING_STARTED",
		    "A "
		    "booking is cancelled in the app only before it starts.");
		return (ERR_CONFLICT);
	}
	if ((rc = booking_cancel(tx, &b)) == ERR_CONFLICT) {
		http_problem(c->req, ERR_CONFLICT, "ALREADY_CANCELLED",
		    "The "
		    "booking is cancelled already.");
		return (rc);
	}
	if (rc != OK ||
	    (rc = booking_audit(tx, c->who, c->req, "therapy_bookings.cancel",
		 b.id,
		 json_pack("{s:[s],s:s,s:s}", "fields", "cancelled_at",
		     "source", "app", "partner_access_id", b.access_id))) !=
		OK ||
	    (rc = hooks_changed(tx, CHANGE_PERSON, b.user_id)) != OK ||
	    (rc = get_tx(tx, c)) != OK)
		return (rc);
	/* One notice per cancel: a second cancel stopped above. */
	at = json_string_value(json_object_get(c->row, "cancelled_at"));
	if (at == NULL)
		return (ERR_INTERNAL);
	if ((rc = booking_out_enqueue(tx, b.code, at,
		 strcmp(c->who->user_id, b.user_id) == 0 ? "client" : "staff",
		 &notified)) != OK)
		return (rc);
	return (json_object_set_new(c->row, "booking_system_notified",
		    json_string(notified)) == 0
		? OK
		: ERR_NOMEM);
}

void
bookings_cancel(struct request *req)
{
	struct bcancel c;
	int	       rc;

	memset(&c, 0, sizeof(c));
	c.req = req;
	c.id = http_param(req, "id");
	c.who = req->caller;
	c.scope = resource_scope(req->db, c.who, "therapy_bookings", "cancel");
	if (c.scope == SCOPE_NONE || c.id == NULL || !uuid_valid(c.id)) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such booking.");
		return;
	}
	rc = store_run(req->db, STORE_TX_WRITE, cancel_tx, &c);
	if (rc != OK) {
		json_decref(c.row);
		if (!req->responded)
			http_problem(req, rc, NULL,
			    rc == ERR_NOT_FOUND ? "No "
						  "such booking."
						: "The booking could not be "
						  "cancelled.");
		return;
	}
	http_json(req, 200, c.row);
}

/* GDPR */

/* The person's bookings as they see them, client_email opened. */
static int
gdpr_export(struct tx *tx, const char *user_id, json_t *rows)
{
	struct stmt *st;
	struct bkey  k;
	int	     rc;

	memset(&k, 0, sizeof(k));
	st = store_prepare(tx,
	    "SELECT " BOOKING_COLUMNS FROM_BOOKINGS
	    " AND b.user_id = ? ORDER BY b.id");
	store_bind_text(st, 1, user_id);
	while ((rc = store_step(st)) == STORE_ROW)
		json_array_append_new(rows, booking_row(tx, st, 1, &k));
	store_finalize(st);
	bkey_wipe(&k);
	return (rc == STORE_DONE ? OK : rc);
}

/*
 * Erasure keeps the bookings (the sessions they spent stay spent, the
 * partner's counts right) without anything that leads to the person:
 * the sealed fields (unreadable already: the key is gone) and the
 * address's blind index go.
 */
static int
gdpr_erase(struct tx *tx, const char *user_id)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx,
	    "UPDATE therapy_bookings SET client_email = "
	    "NULL, client_email_index = NULL, client_timezone = NULL, "
	    "service_provider_name = NULL, service_provider_email = NULL, "
	    "legacy_plain = 0, updated_at = ? WHERE user_id = ?");
	store_bind_int64(st, 1, time_now_ms());
	store_bind_text(st, 2, user_id);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

/* Rows carried over in clear by migration 0011 */

#define LEGACY_BATCH 100 /* rows sealed per transaction */

int
booking_seal_legacy_row(struct tx *tx, const char *id)
{
	static const char *const cols[] = { "client_timezone",
		"service_provider_name", "service_provider_email" };
	struct stmt		*st;
	unsigned char key[SEAL_KEY_LEN], *sealed[3] = { NULL, NULL, NULL };
	char	     *plain[3] = { NULL, NULL, NULL }, user[UUID_STR_LEN];
	const void   *b;
	size_t	      n, len[3] = { 0, 0, 0 }, i;
	int	      rc, have_key;

	st = store_prepare(tx,
	    "SELECT user_id, client_timezone, "
	    "service_provider_name, service_provider_email FROM "
	    "therapy_bookings WHERE id = ? AND legacy_plain = 1");
	store_bind_text(st, 1, id);
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(user, store_col_text(st, 0), sizeof(user));
		for (i = 0; i < NELEM(cols) && rc == STORE_ROW; i++) {
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
		}
	}
	store_finalize(st);
	if (rc == STORE_DONE) {
		rc = OK; /* sealed already, or no such row */
		goto out;
	}
	if (rc != STORE_ROW)
		goto out;
	/* The person erased meanwhile: their details go, unsealed. */
	rc = seal_key_load(tx, user, key);
	if (rc != OK && rc != ERR_NOT_FOUND)
		goto out;
	have_key = rc == OK;
	rc = OK;
	for (i = 0; i < NELEM(cols) && have_key && rc == OK; i++)
		if (plain[i] != NULL)
			rc = seal_field(key, "therapy_bookings", cols[i], id,
			    plain[i], &sealed[i], &len[i]);
	sodium_memzero(key, sizeof(key));
	if (rc != OK)
		goto out;
	st = store_prepare(tx,
	    "UPDATE therapy_bookings SET client_timezone = "
	    "?, service_provider_name = ?, service_provider_email = ?, "
	    "legacy_plain = 0 WHERE id = ? AND legacy_plain = 1");
	for (i = 0; i < NELEM(cols); i++)
		if (sealed[i] != NULL)
			store_bind_blob(st, (int)i + 1, sealed[i], len[i]);
		else
			store_bind_null(st, (int)i + 1);
	store_bind_text(st, 4, id);
	rc = store_step(st);
	store_finalize(st);
	rc = rc == STORE_DONE ? OK : rc;
out:
	for (i = 0; i < NELEM(cols); i++) {
		if (plain[i] != NULL) {
			sodium_memzero(plain[i], strlen(plain[i]));
			free(plain[i]);
		}
		free(sealed[i]);
	}
	return (rc);
}

/* Does therapy_bookings have legacy_plain (migration 0011 applied)? */
static int
legacy_column_tx(struct tx *tx, void *arg)
{
	struct stmt *st;
	int	    *has = arg, rc;

	st = store_prepare(tx,
	    store_tx_dialect(tx) == STORE_POSTGRES
		? "SELECT count(*) FROM information_schema.columns WHERE "
		  "table_schema = current_schema() AND table_name = "
		  "'therapy_bookings' AND column_name = 'legacy_plain'"
		: "SELECT count(*) FROM pragma_table_info('therapy_bookings') "
		  "WHERE name = 'legacy_plain'");
	if ((rc = store_step(st)) == STORE_ROW)
		*has = store_col_int64(st, 0) == 1;
	store_finalize(st);
	return (rc == STORE_ROW ? OK : rc == STORE_DONE ? ERR_DB : rc);
}

struct legacy_batch {
	int64_t sealed; /* this batch */
};

static int
legacy_batch_tx(struct tx *tx, void *arg)
{
	struct legacy_batch *lb = arg;
	struct stmt	    *st;
	char		     ids[LEGACY_BATCH][UUID_STR_LEN];
	int		     rc, n = 0, i;

	lb->sealed = 0;
	st = store_prepare(tx,
	    "SELECT id FROM therapy_bookings WHERE "
	    "legacy_plain = 1 ORDER BY id LIMIT ?");
	store_bind_int64(st, 1, LEGACY_BATCH);
	while ((rc = store_step(st)) == STORE_ROW && n < LEGACY_BATCH)
		strlcpy_cb(ids[n++], store_col_text(st, 0), UUID_STR_LEN);
	store_finalize(st);
	if (rc != STORE_DONE && rc != STORE_ROW)
		return (rc);
	for (i = 0; i < n; i++)
		if ((rc = booking_seal_legacy_row(tx, ids[i])) != OK)
			return (rc);
	lb->sealed = n;
	return (OK);
}

int
bookings_seal_legacy(struct store *db)
{
	struct legacy_batch lb;
	int64_t		    total = 0;
	int		    rc, has = 0;

	if ((rc = store_run(db, STORE_TX_READ, legacy_column_tx, &has)) != OK ||
	    !has)
		return (rc);
	do {
		if ((rc = store_run(
			 db, STORE_TX_WRITE, legacy_batch_tx, &lb)) != OK) {
			log_error("event=bookings_seal_failed status=%s",
			    err_code(rc));
			return (rc);
		}
		total += lb.sealed;
	} while (lb.sealed == LEGACY_BATCH);
	if (total > 0)
		log_info("event=bookings_sealed rows=%lld", (long long)total);
	return (OK);
}
