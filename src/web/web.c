/*
 * The web module's answers (web.h): embedded files by path, with their
 * caching, conditional and gzip rules, and the page policy on HTML.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/embedded.h"
#include "core/err.h"
#include "http/http.h"
#include "module.h"
#include "web/web.h"

#define WEB_IMMUTABLE "public, max-age=31536000, immutable"
#define WEB_PATH_MAX  256 /* an asset's path: "/assets/docs-NYAMUZYU.js" */

static int  etag_matches(const char *, const char *);
static int  gzip_accepted(const char *);
static void asset_send(struct request *, const struct embedded_asset *, int);
static void page_send(struct request *, const char *);
static void docs_get(struct request *);
static void assets_get(struct request *);
static void app_page(struct request *);
static int  web_init(struct store *);

static const struct route web_routes[] = {
	{ HTTP_GET, "/docs", docs_get, ROUTE_PUBLIC,
	    "the API reference: every operation by tag, searchable, with "
	    "examples and \"try it\" against this server",
	    NULL,
	    "{\"answers\":{\"200\":{\"description\":\"the page\","
	    "\"schema\":{\"type\":\"string\"},\"type\":\"text/html\"},"
	    "\"304\":{\"description\":\"the page is unchanged "
	    "(If-None-Match)\"}}}" },
	{ HTTP_GET, "/assets/{file}", assets_get, ROUTE_PUBLIC,
	    "a script or stylesheet of the web pages, named by its "
	    "content's hash (cached a year)",
	    NULL,
	    "{\"answers\":{\"200\":{\"description\":\"the file\","
	    "\"content\":{\"text/javascript\":{\"type\":\"string\"},"
	    "\"text/css\":{\"type\":\"string\"}}},"
	    "\"304\":{\"description\":\"the file is unchanged "
	    "(If-None-Match)\"}},"
	    "\"problems\":{\"404\":\"no such file\"}}" },
};

/* Not in the route table: the dispatcher hands it what no route matches
 * and asks for a page (http_set_page_fallback). */
static const struct route web_fallback = { HTTP_GET, "/*", app_page,
	ROUTE_PUBLIC, "the web application's pages", NULL, NULL, NULL };

const struct module web_module = {
	"web",
	web_routes,
	NELEM(web_routes),
	NULL,
	0,
	NULL,
	0,
	NULL,
	0,
	web_init,
	NULL,
	NULL,
};

static int
web_init(struct store *db)
{
	http_set_page_fallback(&web_fallback);
	return (OK);
}

/* If-None-Match (a list of entity tags, or "*") names etag; a weak
 * tag (W/"...") matches too, as RFC 9110 has it for this header. */
static int
etag_matches(const char *header, const char *etag)
{
	size_t n = strlen(etag), len;

	while (header != NULL && *header != '\0') {
		header += strspn(header, " \t,");
		if (*header == '*')
			return (1);
		if (strncmp(header, "W/", 2) == 0)
			header += 2;
		len = strcspn(header, ", \t");
		if (len == n && strncmp(header, etag, n) == 0)
			return (1);
		header += len;
	}
	return (0);
}

/* Accept-Encoding names gzip (or *), and not with q=0. */
static int
gzip_accepted(const char *header)
{
	const char *p = header, *q;
	char	    el[64];
	size_t	    len, n;

	while (p != NULL && *p != '\0') {
		p += strspn(p, " \t,");
		len = strcspn(p, " \t;,");
		n = strcspn(p, ","); /* the whole element, q and all */
		if ((len == 4 && strncasecmp(p, "gzip", 4) == 0) ||
		    (len == 1 && *p == '*')) {
			snprintf(el, sizeof(el), "%.*s", (int)n, p);
			q = strstr(el, "q=");
			return (q == NULL || strtod(q + 2, NULL) > 0);
		}
		p += n;
	}
	return (0);
}

/*
 * Answer with an embedded file: 304 when the client holds this version,
 * else its bytes, gzipped (the "NAME.gz" beside it) when the client
 * takes that. The bytes are the binary's own: not copied.
 */
static void
asset_send(struct request *req, const struct embedded_asset *a, int immutable)
{
	const struct embedded_asset *gz, *body = a;
	char			     path[WEB_PATH_MAX];

	if (snprintf(path, sizeof(path), "%s.gz", a->path) <
		(int)sizeof(path) &&
	    (gz = embedded_asset_find(path)) != NULL) {
		http_header_add(req, "Vary", "Accept-Encoding");
		if (gzip_accepted(http_header(req, "Accept-Encoding"))) {
			http_header_add(req, "Content-Encoding", "gzip");
			body = gz; /* another representation: its own tag */
		}
	}
	http_header_add(req, "ETag", body->etag);
	http_header_add(
	    req, "Cache-Control", immutable ? WEB_IMMUTABLE : "no-cache");
	if (etag_matches(http_header(req, "If-None-Match"), body->etag)) {
		http_send_static(req, 304, NULL, NULL, 0);
		return;
	}
	http_send_static(req, 200, a->content_type, body->data, body->len);
}

/* An HTML page: asked again each time (no-cache, answered 304 while it is
 * the same), under the page policy. */
static void
page_send(struct request *req, const char *path)
{
	const struct embedded_asset *a;

	if ((a = embedded_asset_find(path)) == NULL) {
		/* Not reached: web/build.mjs makes every page. */
		http_problem(req, ERR_NOT_FOUND, NULL, "No such page.");
		return;
	}
	http_header_add(req, "Content-Security-Policy", WEB_CSP);
	asset_send(req, a, 0);
}

static void
docs_get(struct request *req)
{
	page_send(req, "/docs.html");
}

static void
assets_get(struct request *req)
{
	const struct embedded_asset *a = NULL;
	const char		    *file = http_param(req, "file");
	char			     path[WEB_PATH_MAX];
	size_t			     n = file != NULL ? strlen(file) : 0;

	/* Only a name from the table answers: "../x", "a/b" and the
	 * gzipped twins ("x.js.gz", served as x.js) find nothing. */
	if (n > 3 && strcmp(file + n - 3, ".gz") != 0 &&
	    snprintf(path, sizeof(path), "/assets/%s", file) <
		(int)sizeof(path))
		a = embedded_asset_find(path);
	if (a == NULL) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such file.");
		return;
	}
	asset_send(req, a, 1);
}

/* Any page path: the application, which reads the path itself. A missing
 * asset stays a 404 (a browser asking for a script must not get HTML). */
static void
app_page(struct request *req)
{
	if (strncmp(req->path, "/assets/", 8) == 0) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such file.");
		return;
	}
	page_send(req, "/index.html");
}
