/*
 * Files compiled into the binary by tools/embed: the SQL files under
 * migrations/ and the files under templates/. Paths are as in the tree.
 */
#ifndef CORE_EMBEDDED_H
#define CORE_EMBEDDED_H

#include <stddef.h>

struct embedded_file {
	const char *path; /* "migrations/sqlite/0001_foundation.up.sql" */
	const char *data; /* NUL-terminated */
	size_t	    len;
};

/* Terminated by an entry whose path is NULL; sorted by path. */
extern const struct embedded_file embedded_files[];

/* The file at path, or NULL (borrowed). */
const struct embedded_file *embedded_find(const char *path);

#endif
