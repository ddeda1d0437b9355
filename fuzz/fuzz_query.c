// sources: src/http/response.c src/http/router.c src/http/server.c src/http/metrics.c src/http/ratelimit.c src/store/store.c src/store/stmt.c src/store/sqlite.c src/store/pg.c
/*
 * Fuzz the query-string parser and percent decoding: the first bytes up
 * to a NUL are the name, the rest the raw query string.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "http/http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena  *a;
	const uint8_t *nul;
	const char    *v;
	char	      *name, *qs, *dec;
	size_t	       nlen;
	long	       n;

	if ((nul = memchr(data, '\0', size)) == NULL)
		return (0);
	nlen = (size_t)(nul - data);
	if ((a = arena_new(0)) == NULL)
		return (0);
	name = arena_strndup(a, (const char *)data, nlen);
	qs = arena_strndup(a, (const char *)nul + 1, size - nlen - 1);
	if ((v = http_query_parse(a, qs, name)) != NULL &&
	    !http_utf8_valid(v, strlen(v)))
		abort();
	dec = arena_alloc(a, size + 1);
	n = http_pct_decode(dec, (const char *)data, size, 1);
	if (n > (long)size || (n >= 0 && memchr(dec, '\0', (size_t)n) != NULL))
		abort();
	http_content_type_json(qs);
	http_request_id_valid(qs);
	http_origin_allowed(name, qs);
	arena_free(a);
	return (0);
}
