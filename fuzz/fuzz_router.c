// sources: src/http/response.c src/http/router.c src/http/server.c src/http/metrics.c src/http/ratelimit.c src/store/store.c src/store/stmt.c src/store/sqlite.c src/store/pg.c
/*
 * Fuzz the router and path decoder with a fixed table: any path must give
 * a clean answer, and a match must satisfy the path policy.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/log.h"
#include "http/http.h"
#include "http/http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
h(struct request *r)
{
	(void)r;
}

static const struct route routes[] = {
	{ HTTP_GET, "/", h, 0, NULL },
	{ HTTP_GET, "/v1/jobs", h, 0, NULL },
	{ HTTP_POST, "/v1/jobs", h, ROUTE_JSON_BODY, NULL },
	{ HTTP_GET, "/v1/jobs/stats", h, 0, NULL },
	{ HTTP_GET, "/v1/jobs/{id}", h, 0, NULL },
	{ HTTP_POST, "/v1/jobs/{id}/retry", h, 0, NULL },
	{ HTTP_GET, "/v1/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}", h, 0, NULL },
	{ HTTP_GET, "/v1/users/{u}/notes/{n}", h, 0, NULL },
	{ HTTP_DELETE, "/v1/users/{u}/notes/{n}", h, 0, NULL },
};
static const struct route_table table = { "fuzz", routes, 9 };
static struct router	       *router;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct route_table *t = &table;
	struct router_match	  m;
	struct arena		 *a;
	char			 *path, allow[96];
	int			  method, rc, i;

	if (router == NULL) {
		log_set_level(LOG_OFF);
		if (router_new(&t, 1, &router) != OK)
			abort();
	}
	if (size < 1)
		return (0);
	method = 1 << (data[0] % 8);
	if ((a = arena_new(0)) == NULL)
		return (0);
	path = arena_strndup(a, (const char *)data + 1, size - 1);
	rc = router_match(router, a, path, method, &m);
	switch (rc) {
	case OK:
		if (m.route == NULL || m.nparams > HTTP_MAX_PARAMS)
			abort();
		for (i = 0; i < m.nparams; i++)
			if (m.params[i].value[0] == '\0' ||
			    strchr(m.params[i].value, '/') != NULL ||
			    !http_utf8_valid(
				m.params[i].value, strlen(m.params[i].value)))
				abort();
		break;
	case ERR_METHOD:
		if (m.allow == 0)
			abort();
		http_allow_format(m.allow, allow, sizeof(allow));
		break;
	case ERR_NOT_FOUND:
	case ERR_MALFORMED:
		break;
	default:
		abort();
	}
	arena_free(a);
	return (0);
}
