/*
 * Fields a later migration adds (struct field's since). carebase serves
 * with migrations pending: a database not yet migrated, or one a
 * migration was taken back out of (`carebase migrate down`, a rolling
 * upgrade's older schema). A declared field whose column that migration
 * adds is then no column, and a statement naming it fails (500). So the
 * layer asks which migrations the database has applied and leaves such a
 * field out of what it writes and reads:
 *
 *   - the applied migrations are a bitmap of their numbers (the NNNN of
 *     "NNNN_name" in schema_migrations), read in a request's transaction
 *     at most every RESOURCE_SCHEMA_TTL_MS, so a migration applied or
 *     undone by another process is seen within that; one thread reads
 *     while the others use what was read before;
 *   - a resource's pending mask has a bit for each of its since fields
 *     not applied; its SELECT and one-row statements for a mask but 0
 *     are made when first met and kept (a few: one a schema the process
 *     sees), with the pending columns selected as "NULL AS name", so
 *     every column keeps its place and rows_decode, leaving them out of
 *     the row, reads the others where they always are;
 *   - writes, filters and sorts naming one answer 503 FIELD_UNAVAILABLE
 *     (logged as event=field_unavailable with the migration to apply).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "resource/resource.h"
#include "resource/resource_int.h"
#include "store/store.h"

/* A variant of rd's statements: rdef_statements for one pending mask. */
struct rsql {
	uint32_t     pending;
	char	    *select;
	char	    *one[SCOPE_ALL + 1];
	struct rsql *next;
};

#define APPLIED_BYTES (RESOURCE_MIGRATION_MAX / 8 + 1)

static pthread_rwlock_t schema_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t	schema_reload = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t	variant_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char	schema_applied[APPLIED_BYTES]; /* under the lock */
static _Atomic int64_t	schema_loaded_at = INT64_MIN;

/* The number of a migration's name ("0053_brand_colour" is 53), or 0. */
static int
migration_number(const char *name)
{
	int i, n = 0;

	for (i = 0; i < 4; i++) {
		if (name == NULL || name[i] < '0' || name[i] > '9')
			return (0);
		n = n * 10 + (name[i] - '0');
	}
	return (name[4] == '_' || name[4] == '\0' ? n : 0);
}

/* The applied migrations, read in tx into bits. Without schema_migrations
 * (a database never migrated) none is. */
static int
applied_read(struct tx *tx, unsigned char bits[APPLIED_BYTES])
{
	struct stmt *st;
	int	     rc, there, n;

	memset(bits, 0, APPLIED_BYTES);
	/* Asked of the catalog: a failed statement would spend a
	 * PostgreSQL transaction. */
	if ((rc = store_table_exists(tx, "schema_migrations", &there)) != OK)
		return (rc);
	if (!there)
		return (OK);
	if ((st = store_prepare(tx, "SELECT name FROM schema_migrations")) ==
	    NULL)
		return (ERR_DB);
	while ((rc = store_step(st)) == STORE_ROW)
		if ((n = migration_number(store_col_text(st, 0))) > 0)
			bits[n / 8] |= (unsigned char)(1u << (n % 8));
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

/*
 * Read the applied migrations again when older than the TTL: the first
 * read is waited for, later ones are one thread's while the others use
 * the bitmap read before.
 */
static int
schema_fresh(struct tx *tx)
{
	unsigned char bits[APPLIED_BYTES];
	/* Monotonic: a wall clock stepped back would stop the re-reads
	 * for as long as it stepped. */
	int64_t now = time_mono_ns() / 1000000, at;
	int	rc = OK;

	at = atomic_load(&schema_loaded_at);
	if (at != INT64_MIN && now - at < RESOURCE_SCHEMA_TTL_MS)
		return (OK);
	if (at != INT64_MIN) {
		if (pthread_mutex_trylock(&schema_reload) != 0)
			return (OK);
	} else
		pthread_mutex_lock(&schema_reload);
	at = atomic_load(&schema_loaded_at);
	if (at == INT64_MIN || now - at >= RESOURCE_SCHEMA_TTL_MS) {
		if ((rc = applied_read(tx, bits)) == OK) {
			pthread_rwlock_wrlock(&schema_lock);
			memcpy(schema_applied, bits, sizeof(bits));
			pthread_rwlock_unlock(&schema_lock);
			atomic_store(&schema_loaded_at, now);
		} else if (at != INT64_MIN) {
			/* Others keep using what was read, and it is read
			 * again after the TTL; this request fails, as on
			 * PostgreSQL its transaction is aborted now and a
			 * next statement would fail less clearly. */
			log_warn(
			    "event=schema_read_failed code=%s", err_code(rc));
			atomic_store(&schema_loaded_at, now);
		}
	}
	pthread_mutex_unlock(&schema_reload);
	return (rc);
}

uint32_t
rdef_pending_cached(const struct rdef *rd)
{
	uint32_t mask = 0;
	int	 k, n;

	if (rd->nsince == 0)
		return (0);
	if (atomic_load(&schema_loaded_at) == INT64_MIN)
		return ((uint32_t)((1ull << rd->nsince) - 1));
	pthread_rwlock_rdlock(&schema_lock);
	for (k = 0; k < rd->nsince; k++) {
		n = rd->cols[rd->since_col[k]].since;
		if (!(schema_applied[n / 8] & (1u << (n % 8))))
			mask |= 1u << k;
	}
	pthread_rwlock_unlock(&schema_lock);
	return (mask);
}

int
schema_set_read(struct tx *tx, struct schema_set *set)
{
	return (applied_read(tx, set->bits));
}

uint32_t
rdef_pending_in(const struct rdef *rd, const struct schema_set *set)
{
	uint32_t mask = 0;
	int	 k, n;

	for (k = 0; k < rd->nsince; k++) {
		n = rd->cols[rd->since_col[k]].since;
		if (!(set->bits[n / 8] & (1u << (n % 8))))
			mask |= 1u << k;
	}
	return (mask);
}

int
rdef_pending(struct tx *tx, const struct rdef *rd, uint32_t *mask)
{
	int rc;

	*mask = 0;
	if (rd->nsince == 0)
		return (OK);
	if ((rc = schema_fresh(tx)) != OK)
		return (rc);
	*mask = rdef_pending_cached(rd);
	return (OK);
}

int
rdef_col_pending(const struct rdef *rd, uint32_t mask, size_t col)
{
	int k;

	for (k = 0; mask != 0 && k < rd->nsince; k++)
		if ((size_t)rd->since_col[k] == col)
			return ((mask & (1u << k)) != 0);
	return (0);
}

/* The variant of rd for mask (not 0), made when first asked for. */
static const struct rsql *
variant(const struct rdef *rd, uint32_t mask)
{
	struct rsql *v;
	int	     s;

	for (v = atomic_load(rd->variants); v != NULL; v = v->next)
		if (v->pending == mask)
			return (v);
	pthread_mutex_lock(&variant_lock);
	/* Made by another thread meanwhile? */
	for (v = atomic_load(rd->variants); v != NULL; v = v->next)
		if (v->pending == mask)
			break;
	if (v == NULL && (v = calloc(1, sizeof(*v))) != NULL) {
		v->pending = mask;
		if (rdef_statements(rd, mask, &v->select, v->one) != OK) {
			free(v->select);
			for (s = SCOPE_NONE; s <= SCOPE_ALL; s++)
				free(v->one[s]);
			free(v);
			v = NULL;
		} else {
			v->next = atomic_load(rd->variants);
			atomic_store(rd->variants, v);
			log_info("event=schema_variant resource=%s pending=%#x",
			    rd->res->name, (unsigned)mask);
		}
	}
	pthread_mutex_unlock(&variant_lock);
	return (v);
}

const char *
rdef_select(const struct rdef *rd, uint32_t pending)
{
	const struct rsql *v;

	if (pending == 0)
		return (rd->select);
	return ((v = variant(rd, pending)) != NULL ? v->select : NULL);
}

const char *
rdef_one(const struct rdef *rd, uint32_t pending, enum scope s)
{
	const struct rsql *v;

	if (pending == 0)
		return (rd->one[s]);
	return ((v = variant(rd, pending)) != NULL ? v->one[s] : NULL);
}

void
rdef_variants_free(const struct rdef *rd)
{
	struct rsql *v, *next;
	int	     s;

	if (rd->variants == NULL)
		return;
	for (v = atomic_load(rd->variants); v != NULL; v = next) {
		next = v->next;
		free(v->select);
		for (s = SCOPE_NONE; s <= SCOPE_ALL; s++)
			free(v->one[s]);
		free(v);
	}
	atomic_store(rd->variants, NULL);
}

void
rdef_unavailable(struct request *req, const struct rdef *rd, size_t col)
{
	const struct field *f = &rd->cols[col];
	char		    migration[8];

	snprintf(migration, sizeof(migration), "%04d", f->since);
	/* A 503's detail is never answered (response.c): the code tells
	 * the client, the log the operator which migration to apply. */
	log_warn("event=field_unavailable resource=%s field=%s migration=%s "
		 "msg=\"run carebase migrate\"",
	    rd->res->name, f->name, migration);
	http_problem(req, ERR_UNAVAILABLE, "FIELD_UNAVAILABLE",
	    "%s of %s cannot be used until migration %s is applied.", f->name,
	    rd->res->name, migration);
}

int
rdef_pending_refuse(
    struct request *req, const struct rdef *rd, uint32_t mask, json_t *body)
{
	size_t col;
	int    k;

	for (k = 0; mask != 0 && k < rd->nsince; k++) {
		if (!(mask & (1u << k)))
			continue;
		col = (size_t)rd->since_col[k];
		if (json_object_get(body, rd->cols[col].name) == NULL)
			continue;
		/* A hook's read-only field too: never dropped, as the cache
		 * may be up to a second behind a migration just applied, and
		 * a value the write must keep would be lost (503, retried). */
		if (req != NULL && !req->responded)
			rdef_unavailable(req, rd, col);
		return (ERR_UNAVAILABLE);
	}
	return (OK);
}
