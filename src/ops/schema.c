/*
 * `carebase schema`: every table and column of the database, one
 * "table column type" line each, sorted, with types folded to a portable
 * class (text, integer, real, blob, boolean) so the SQLite and PostgreSQL
 * schemas can be compared line by line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "ops/ops.h"
#include "store/store.h"

static const char *type_class(const char *);

static const char *
type_class(const char *t)
{
	if (t == NULL)
		return ("text");
	if (strcasestr(t, "int") != NULL)
		return ("integer");
	if (strcasestr(t, "bool") != NULL)
		return ("boolean");
	if (strcasestr(t, "real") != NULL || strcasestr(t, "double") != NULL ||
	    strcasestr(t, "float") != NULL || strcasestr(t, "numeric") != NULL)
		return ("real");
	if (strcasestr(t, "blob") != NULL || strcasestr(t, "bytea") != NULL)
		return ("blob");
	return ("text");
}

int
ops_schema_print(struct store *db, FILE *out)
{
	struct tx   *tx = NULL;
	struct stmt *st;
	const char  *sql;
	int	     rc, step;

	if ((rc = store_tx_begin(db, STORE_TX_READ, &tx)) != OK)
		return (rc);
	sql = store_columns_sql(store_dialect(db));
	st = store_prepare(tx, sql);
	while ((step = store_step(st)) == STORE_ROW)
		fprintf(out, "%s %s %s\n", store_col_text(st, 0),
		    store_col_text(st, 1), type_class(store_col_text(st, 2)));
	rc = step == STORE_DONE ? OK : step;
	store_finalize(st);
	store_tx_rollback(tx);
	return (rc);
}
