/*
 * The web module: the web application and the API reference, served from
 * the files web/build.mjs bundles and the build embeds in the binary
 * (core/embedded.h, docs/WEB.md). GET /docs is the API reference,
 * GET /assets/{file} the scripts and stylesheets (named by their content's
 * hash: kept a year), and any other page path the application's
 * index.html (http_set_page_fallback), which picks the page in the
 * browser. Nothing is read from the disk.
 */
#ifndef WEB_WEB_H
#define WEB_WEB_H

struct module;

extern const struct module web_module;

/*
 * Headers of every HTML page: its scripts and styles come from this
 * origin only, as files (nothing inline), and no other site may frame it.
 */
#define WEB_CSP                                                                \
	"default-src 'self'; script-src 'self'; style-src 'self'; "            \
	"img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "      \
	"form-action 'self'"

#endif
