/*
 * Database helpers shared by the unit tests (include after cmocka.h and
 * store/store.h). Static, so each test binary takes what it uses.
 */
#ifndef TESTS_UNIT_TESTDB_H
#define TESTS_UNIT_TESTDB_H

/* Run SQL (several statements allowed) in its own committed transaction. */
static inline int
db_exec(struct store *s, const char *sql)
{
	struct tx *tx;
	int	   rc;

	if ((rc = store_tx_begin(s, STORE_TX_WRITE, &tx)) != OK)
		return (rc);
	if ((rc = store_exec(tx, sql)) != OK) {
		store_tx_rollback(tx);
		return (rc);
	}
	return (store_tx_commit(tx));
}

/* The first column of the first row of sql as an integer, -1 if none. */
static inline int64_t
db_count(struct store *s, const char *sql)
{
	struct tx   *tx;
	struct stmt *st;
	int64_t	     n = -1;

	assert_int_equal(store_tx_begin(s, STORE_TX_READ, &tx), OK);
	st = store_prepare(tx, sql);
	if (store_step(st) == STORE_ROW)
		n = store_col_int64(st, 0);
	store_finalize(st);
	store_tx_rollback(tx);
	return (n);
}

#endif
