/*
 * Schema migrations. Files live in migrations/<dialect>/NNNN_name.up.sql
 * and NNNN_name.down.sql and are compiled into the binary (tools/embed).
 * Applied migrations are tracked in schema_migrations (name, batch,
 * applied_at). Each migration runs in its own transaction; a failing one
 * leaves the schema as it was and stops the batch.
 */
#ifndef STORE_MIGRATE_H
#define STORE_MIGRATE_H

#include <stdint.h>
#include <stdio.h>

struct store;
struct tx;

struct migration {
	const char *name; /* "0001_foundation" */
	const char *up;
	const char *down;
};

/* The embedded migrations for a dialect, sorted by name; *n gets the count. */
const struct migration *migrations_for(int dialect, size_t *n);

/* Apply every pending migration as one new batch; *applied gets the count. */
int migrate_up(struct store *, int *applied);
/*
 * Keep migrations out until tx ends: on PostgreSQL the shared form of the
 * advisory lock each migration's transaction takes, waiting up to
 * MIGRATE_LOCK_WAIT_MS for one being applied to commit, else
 * ERR_UNAVAILABLE (a migration is running: tell 503 MIGRATIONS_PENDING
 * with Retry-After, nothing done); on SQLite nothing to do in a write
 * transaction, which migrations' write transactions already wait for.
 * For a transaction that reads which migrations are applied and goes by
 * it (erasure: a column added after the read would not be erased). Take
 * it before touching any table, a read too: a statement's lock (ACCESS
 * SHARE for a read) is held to the end, and a migration waiting for it
 * while this waits for the migration would deadlock.
 */
#define MIGRATE_LOCK_WAIT_MS 5000
int migrate_lock_shared(struct tx *);
/* Roll back the newest batch, newest first; *reverted gets the count. */
int migrate_down(struct store *, int *reverted);
/* An applied migration: its name and the batch that applied it. */
struct migrate_row {
	char   *name;
	int64_t batch;
};
/* The applied migrations, oldest (by name) first, into *rows (free with
 * migrate_history_free); *n gets the count. */
int  migrate_history(struct store *, struct migrate_row **rows, size_t *n);
void migrate_history_free(struct migrate_row *, size_t);
/* Roll back the named migrations in the order given (newest first), each
 * in its own transaction; one no longer applied is passed over. *reverted
 * gets the count. ERR_INVALID for a name without a down migration. */
int migrate_down_names(
    struct store *, const char *const *names, size_t n, int *reverted);
/* Print each migration with its batch and applied time, or "pending". */
int migrate_status(struct store *, FILE *);
/* OK when every embedded migration is applied; ERR_UNAVAILABLE if some are
 * pending; ERR_DB when the database cannot be read. */
int migrate_current(struct store *);
/* OK when migration name ("0013_chat_identity") is applied; ERR_NOT_FOUND
 * when it is not (or none is); ERR_DB when the database cannot be read.
 * For a module's start-up work that needs a migration's schema. */
int migrate_applied(struct store *, const char *name);

/*
 * 1 when the up script of migration number num ("0053_...") of dialect adds
 * column col to table (ALTER TABLE [IF EXISTS] [ONLY] [schema.]table
 * [*] ADD [COLUMN] [IF NOT EXISTS] col, any of the ADDs of one ALTER, any
 * case and spacing; a "quoted" name compared as written; comments,
 * '...' strings and $tag$ bodies skipped); 0 when it does not or there is
 * no such migration. For a resource field a later migration adds
 * (resource.c): its number is checked against the SQL.
 */
int migration_adds_column(
    int dialect, int num, const char *table, const char *col);
/* The same over one script (for tests). */
int migration_sql_adds_column(
    const char *sql, const char *table, const char *col);

/* For tests: the same over a caller's list (sorted by name). */
int migrate_up_list(
    struct store *, const struct migration *, size_t, int *applied);
int migrate_down_list(
    struct store *, const struct migration *, size_t, int *reverted);
int migrate_status_list(
    struct store *, const struct migration *, size_t, FILE *);
int migrate_current_list(struct store *, const struct migration *, size_t);

#endif
