/*
 * GDPR from the declarations (resource.h): a person's own row for their
 * export, and what their erasure clears, derived from the field flags
 * alone. The rows they own elsewhere are exported by
 * resource_export_owned (query.c); their personal fields are sealed under
 * the person's data key, which erasure destroys, and cleared where the
 * column takes NULL. Erasure stamps updated_at of the rows it changes.
 *
 *	FIELD_PERSONAL		exported opened; cleared (NULL) on erasure
 *				in the row that owns itself and, where it is
 *				FIELD_NULLABLE, in every row the person owns;
 *				a non-nullable one (form_responses.responses)
 *				stays sealed, unreadable once the key is gone
 *	FIELD_BLIND_INDEX	<name>_index cleared on erasure (the index key
 *				is not the person's: it would still find them)
 *	FIELD_ERASE		not sealed, but cleared on erasure
 *	FIELD_HIDDEN		never exported
 *
 * Whose a row is: its owner column's, and for RESOURCE_OWNED_BY_ADDRESS
 * resources also the person's whose address its blind index is (mail to
 * an address no user was named for). RESOURCE_ERASE_ROWS resources lose
 * the person's rows instead (personal fields sealed under the system key,
 * RESOURCE_SYSTEM_KEY, which erasure does not destroy).
 *
 * An export's id (resource_export_id) binds the links an export holds
 * (a recording's points, too many for the document) to the session that
 * made it.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/keyring.h"
#include "core/util.h"
#include "resource/resource.h"
#include "resource/resource_int.h"
#include "store/migrate.h"
#include "store/store.h"

#define GDPR_SQL_MAX (16 * 1024) /* bytes of a statement made here */

static pthread_once_t export_once = PTHREAD_ONCE_INIT;
static unsigned char  export_fallback[32];

static int erase_sql(
    const struct rdef *, uint32_t, const char *, struct buf *, json_t *);
static void export_fallback_init(void);
static void export_key(unsigned char[32]);

/* Rows by address only when the resource says so and there is one. */
static int
by_address(const struct rdef *rd, const char *address_index)
{
	return (rd->address >= 0 && address_index != NULL &&
	    address_index[0] != '\0');
}

int
gdpr_owned_where(
    const struct rdef *rd, const char *address_index, struct buf *b)
{
	if (!by_address(rd, address_index))
		return (buf_printf(b, " WHERE %s = ?", rd->res->owner_column));
	return (buf_printf(b, " WHERE (%s = ? OR %s_index = ?)",
	    rd->res->owner_column, rd->cols[rd->address].name));
}

int
gdpr_owned_bind(struct stmt *st, int i, const struct rdef *rd,
    const char *user_id, const char *address_index)
{
	store_bind_text(st, i++, user_id);
	if (by_address(rd, address_index))
		store_bind_text(st, i++, address_index);
	return (i);
}

int
resource_export_row(
    struct tx *tx, const struct resource *res, const char *id, json_t **out)
{
	const struct rdef *rd;
	struct stmt	  *st = NULL;
	struct buf	   sql;
	const char	  *select;
	uint32_t	   pending;
	size_t		   i;
	int		   rc;

	*out = NULL;
	if ((rd = rdef_find(res)) == NULL)
		return (ERR_INTERNAL);
	if ((rc = rdef_pending(tx, rd, &pending)) != OK)
		return (rc);
	if ((select = rdef_select(rd, pending)) == NULL)
		return (ERR_NOMEM);
	buf_init(&sql, GDPR_SQL_MAX);
	if ((rc = buf_printf(&sql, "%s WHERE id = ?", select)) != OK)
		goto out;
	if ((st = store_prepare(tx, sql.data)) == NULL) {
		rc = ERR_DB;
		goto out;
	}
	store_bind_text(st, 1, id);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		/* Every column, personal ones opened under the owner's key;
		 * then the hidden ones go. */
		if ((rc = rows_decode(tx, rd, st, NULL, SCOPE_ALL, 1, pending,
			 NULL, out, NULL)) != OK)
			goto out;
		for (i = 0; i < rd->ncols; i++)
			if (rd->cols[i].flags & FIELD_HIDDEN)
				json_object_del(*out, rd->cols[i].name);
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	}
out:
	store_finalize(st);
	buf_free(&sql);
	return (rc);
}

/*
 * What erasure does to the person's rows of rd, into sql: "DELETE FROM t
 * WHERE <theirs>" for RESOURCE_ERASE_ROWS, else "UPDATE t SET a = NULL,
 * ..., updated_at = ? WHERE <theirs>", empty when nothing is cleared.
 * Fields pending in pending (schema.c) have no column: not named (the
 * migration that adds one fills it with NULL).
 * The names cleared in a row that owns itself are appended to cleared
 * (may be NULL).
 */
static int
erase_sql(const struct rdef *rd, uint32_t pending, const char *address_index,
    struct buf *sql, json_t *cleared)
{
	const struct field *f;
	size_t		    i;
	int		    rc, n = 0;

	buf_reset(sql);
	if (rd->res->flags & RESOURCE_ERASE_ROWS) {
		if ((rc = buf_printf(sql, "DELETE FROM %s", rd->res->table)) ==
		    OK)
			rc = gdpr_owned_where(rd, address_index, sql);
		return (rc);
	}
	if ((rc = buf_printf(sql, "UPDATE %s SET", rd->res->table)) != OK)
		return (rc);
	for (i = 1; i < rd->ncols && rc == OK; i++) {
		f = &rd->cols[i];
		/* Computed, or its migration pending: no column. */
		if (f->sql != NULL || rdef_col_pending(rd, pending, i))
			continue;
		/* Personal fields where the column takes NULL: all of the
		 * row that owns itself, the nullable ones elsewhere. */
		if ((f->flags & FIELD_ERASE) ||
		    ((f->flags & FIELD_PERSONAL) &&
			(rd->owner_is_id || (f->flags & FIELD_NULLABLE)))) {
			rc = buf_printf(
			    sql, "%s %s = NULL", n++ > 0 ? "," : "", f->name);
			if (rc == OK && rd->owner_is_id && cleared != NULL &&
			    json_array_append_new(
				cleared, json_string(f->name)) != 0)
				rc = ERR_NOMEM;
		}
		if (rc == OK && (f->flags & FIELD_BLIND_INDEX))
			rc = buf_printf(sql, "%s %s_index = NULL",
			    n++ > 0 ? "," : "", f->name);
	}
	/* updated_at = ? (1st placeholder), unless it is computed. */
	if (rc == OK && n > 0 && rd->cols[rd->updated].sql == NULL)
		rc = buf_printf(sql, ", %s = ?", rd->cols[rd->updated].name);
	if (rc == OK && n > 0)
		rc = gdpr_owned_where(rd, address_index, sql);
	if (rc != OK || n == 0)
		buf_reset(sql);
	return (rc);
}

int
resource_erase_owned(struct tx *tx, const char *user_id,
    const char *address_index, json_t *cleared)
{
	const struct rdef *const *all;
	struct stmt		 *st;
	struct buf		  sql;
	size_t			  i, n;
	int64_t			  now;
	struct schema_set	  applied;
	uint32_t		  pending;
	int			  rc = OK, k, there;

	buf_init(&sql, GDPR_SQL_MAX);
	now = time_now_ms();
	/* Read now, not the cache: a column added since it was read is
	 * erased too; and no migration adds one until tx ends (on
	 * PostgreSQL under READ COMMITTED one committing just after the read
	 * would). The caller took it first, before touching any table (a
	 * no-op then). */
	if ((rc = migrate_lock_shared(tx)) != OK ||
	    (rc = schema_set_read(tx, &applied)) != OK) {
		buf_free(&sql);
		return (rc);
	}
	all = rdef_all(&n);
	for (i = 0; i < n && rc == OK; i++) {
		if (all[i]->res->owner_column == NULL)
			continue;
		pending = rdef_pending_in(all[i], &applied);
		if ((rc = erase_sql(all[i], pending, address_index, &sql,
			 cleared)) != OK ||
		    sql.len == 0)
			continue;
		/* Its migration pending or undone: nothing of theirs there
		 * (asked of the catalog: a failed statement would spend a
		 * PostgreSQL transaction). */
		if ((rc = store_table_exists(tx, all[i]->res->table, &there)) !=
			OK ||
		    !there)
			continue;
		if ((st = store_prepare(tx, sql.data)) == NULL) {
			rc = ERR_DB;
			break;
		}
		k = 1;
		if (!(all[i]->res->flags & RESOURCE_ERASE_ROWS) &&
		    all[i]->cols[all[i]->updated].sql == NULL)
			store_bind_int64(st, k++, now);
		gdpr_owned_bind(st, k, all[i], user_id, address_index);
		rc = store_step(st);
		store_finalize(st);
		rc = rc == STORE_DONE ? OK : rc;
	}
	buf_free(&sql);
	return (rc);
}

/* Export ids */

static void
export_fallback_init(void)
{
	randombytes_buf(export_fallback, sizeof(export_fallback));
}

/* Derived from the index key, as the cursors' are (page.c), so every
 * process of a deployment agrees; a random per-process key before
 * keyring_init (tests, tools). */
static void
export_key(unsigned char key[32])
{
	const unsigned char *k = keyring_key(KEY_INDEX);

	if (k == NULL) {
		pthread_once(&export_once, export_fallback_init);
		memcpy(key, export_fallback, 32);
		return;
	}
	crypto_generichash(
	    key, 32, (const unsigned char *)"carebase.export", 15, k, 32);
}

void
resource_export_id(const struct principal *who, const char *user_id,
    char out[RESOURCE_EXPORT_ID_LEN + 1])
{
	crypto_generichash_state st;
	unsigned char		 key[32], mac[RESOURCE_EXPORT_ID_LEN / 2];

	export_key(key);
	crypto_generichash_init(&st, key, sizeof(key), sizeof(mac));
	crypto_generichash_update(&st, (const unsigned char *)who->session_id,
	    strlen(who->session_id));
	crypto_generichash_update(&st, (const unsigned char *)"\n", 1);
	crypto_generichash_update(
	    &st, (const unsigned char *)user_id, strlen(user_id));
	crypto_generichash_final(&st, mac, sizeof(mac));
	sodium_memzero(key, sizeof(key));
	sodium_bin2hex(out, RESOURCE_EXPORT_ID_LEN + 1, mac, sizeof(mac));
}

int
resource_export_owns(
    const struct principal *who, const char *user_id, const char *export_id)
{
	char want[RESOURCE_EXPORT_ID_LEN + 1];

	if (who == NULL || who->session_id[0] == '\0' || user_id == NULL ||
	    export_id == NULL || strlen(export_id) != RESOURCE_EXPORT_ID_LEN)
		return (0);
	resource_export_id(who, user_id, want);
	return (sodium_memcmp(want, export_id, RESOURCE_EXPORT_ID_LEN) == 0);
}
