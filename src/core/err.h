/*
 * One status code for the whole program (curl's CURLcode, SQLite's rc).
 * 0 is success; every other value maps to one HTTP status and one stable
 * problem code in err.c.
 */
#ifndef CORE_ERR_H
#define CORE_ERR_H

enum status {
	OK = 0,
	ERR_NOMEM,	    /* out of memory */
	ERR_INVALID,	    /* bad input: 400/422 */
	ERR_MALFORMED,	    /* unparseable body: 400 */
	ERR_UNAUTHORIZED,   /* no or bad credentials: 401 */
	ERR_FORBIDDEN,	    /* known caller, not allowed: 403 */
	ERR_NOT_FOUND,	    /* 404 */
	ERR_METHOD,	    /* method not allowed: 405 */
	ERR_CONFLICT,	    /* unique or state conflict: 409 */
	ERR_PRECONDITION,   /* If-Match mismatch: 412 */
	ERR_TOO_LARGE,	    /* body or buffer over its cap: 413 */
	ERR_HEAD_TOO_LARGE, /* request line + headers over the bound: 431 */
	ERR_MEDIA_TYPE,	    /* wrong content type: 415 */
	ERR_RATE_LIMIT,	    /* 429 */
	ERR_BUSY,	    /* database busy / serialization failure: retry */
	ERR_DB,		    /* database error: 500, never leaked */
	ERR_IO,		    /* file or network error */
	ERR_CONFIG,	    /* bad configuration */
	ERR_UNAVAILABLE,    /* dependency down: 503 */
	ERR_INTERNAL,	    /* invariant broken: 500 */
	ERR_PRECONDITION_REQUIRED, /* a change that needs If-Match lacks it: 428 */
	ERR_BAD_GATEWAY, /* an outside service refused or failed: 502 */
	ERR_USAGE,	 /* the command line is wrong: `carebase` exits 2 */
	STATUS_COUNT
};

/* HTTP status for a status code. */
int err_http_status(int rc);
/* Stable machine code, e.g. "NOT_FOUND" (borrowed). */
const char *err_code(int rc);
/* Short human title, e.g. "Not Found" (borrowed). */
const char *err_title(int rc);

#endif
