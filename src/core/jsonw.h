/*
 * Compact JSON text of a jansson value, appended to a buf: the same bytes
 * as json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) (members in insertion
 * order, non-ASCII kept as UTF-8, control characters escaped, reals as
 * "%.17g" with ".0" added to integral values and the exponent's "+" and
 * leading zeros dropped), written in one pass into the buffer instead of
 * through jansson's per-token callback. Every response body goes through
 * it.
 */
#ifndef CORE_JSONW_H
#define CORE_JSONW_H

#include <jansson.h>

#include "core/buf.h"

#define JSONW_MAX_DEPTH 2048

/*
 * OK, ERR_MALFORMED (a string or key that is not valid UTF-8, or nesting
 * deeper than JSONW_MAX_DEPTH), ERR_TOO_LARGE past the buf's ceiling or
 * ERR_NOMEM. On failure the buf is left at its length on entry.
 */
int jsonw_compact(struct buf *, json_t *);

#endif
