/*
 * Schema migrations. Files live in migrations/<dialect>/NNNN_name.up.sql
 * and NNNN_name.down.sql and are compiled into the binary (tools/embed).
 * Applied migrations are tracked in schema_migrations (name, batch,
 * applied_at). Each migration runs in its own transaction; a failing one
 * leaves the schema as it was and stops the batch.
 */
#ifndef STORE_MIGRATE_H
#define STORE_MIGRATE_H

#include <stdio.h>

struct store;

struct migration {
	const char *name; /* "0001_foundation" */
	const char *up;
	const char *down;
};

/* The embedded migrations for a dialect, sorted by name; *n gets the count. */
const struct migration *migrations_for(int dialect, size_t *n);

/* Apply every pending migration as one new batch; *applied gets the count. */
int migrate_up(struct store *, int *applied);
/* Roll back the newest batch, newest first; *reverted gets the count. */
int migrate_down(struct store *, int *reverted);
/* Print each migration with its batch and applied time, or "pending". */
int migrate_status(struct store *, FILE *);
/* OK when every embedded migration is applied; ERR_UNAVAILABLE if some are
 * pending; ERR_DB when the database cannot be read. */
int migrate_current(struct store *);
/* OK when migration name ("0013_chat_identity") is applied; ERR_NOT_FOUND
 * when it is not (or none is); ERR_DB when the database cannot be read.
 * For a module's start-up work that needs a migration's schema. */
int migrate_applied(struct store *, const char *name);

/* For tests: the same over a caller's list (sorted by name). */
int migrate_up_list(
    struct store *, const struct migration *, size_t, int *applied);
int migrate_down_list(
    struct store *, const struct migration *, size_t, int *reverted);
int migrate_status_list(
    struct store *, const struct migration *, size_t, FILE *);
int migrate_current_list(struct store *, const struct migration *, size_t);

#endif
