/*
 * Files compiled into the binary by tools/embed: the SQL files under
 * migrations/ and the files under templates/ (paths as in the tree), and
 * the web application's files, web/dist/ as web/build.mjs makes it
 * (paths as served: "/docs.html", "/assets/docs-NYAMUZYU.js").
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

struct embedded_asset {
	const char *path;	  /* "/assets/docs-NYAMUZYU.js" */
	const char *content_type; /* from the extension */
	const char *data;	  /* NUL-terminated */
	size_t	    len;
	const char *etag; /* "\"0123456789abcdef\"", quotes included */
};

/* Sorted by path, then an entry whose path is NULL. */
extern const struct embedded_asset embedded_assets[];
extern const size_t		   embedded_nassets;

/* The asset served at path, or NULL (borrowed). */
const struct embedded_asset *embedded_asset_find(const char *path);

#endif
