/*
 * The answers libmicrohttpd gives by itself, as problem documents.
 *
 * A few requests never reach carebase's handlers: a head too large for
 * the connection's memory pool (431, or 414 while the request line is
 * still coming), a request line or chunked body libmicrohttpd cannot
 * parse (400), an HTTP version it does not speak (505). libmicrohttpd
 * 0.9.75 answers those itself with a fixed HTML page (or an empty body),
 * queued through MHD_queue_response like any other answer, and that call
 * goes through the library's procedure linkage table. This file defines
 * MHD_queue_response in the executable (exported by the Makefile's
 * --export-dynamic-symbol), so the library's own call lands here and the
 * HTML is replaced by a problem document with the status's stable code;
 * carebase's own answers call the library's function directly
 * (http_mhd_queue). Should a future libmicrohttpd bind the call inside
 * the library, its own page is answered again and nothing else changes
 * (tests/api/test_http.py checks the problem document).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "http/http_int.h"

typedef enum MHD_Result (*queue_fn)(
    struct MHD_Connection *, unsigned int, struct MHD_Response *);

static pthread_once_t queue_once = PTHREAD_ONCE_INIT;
static queue_fn	      queue_real;

static void
queue_resolve(void)
{
	void *p = dlsym(RTLD_NEXT, "MHD_queue_response");

	/* A function pointer from dlsym, as POSIX allows. */
	memcpy(&queue_real, &p, sizeof(queue_real));
}

enum MHD_Result
http_mhd_queue(
    struct MHD_Connection *c, unsigned int status, struct MHD_Response *r)
{
	pthread_once(&queue_once, queue_resolve);
	if (queue_real == NULL)
		return (MHD_NO);
	return (queue_real(c, status, r));
}

/* The problem document for a status libmicrohttpd answers by itself. */
static size_t
mhd_problem(unsigned int status, char *out, size_t n, char *rid)
{
	const char *code, *type, *title, *detail;
	char	    id[UUID_STR_LEN];
	int	    len;

	switch (status) {
	case 431:
		code = "HEADERS_TOO_LARGE";
		type = PROBLEM_BASE "headers_too_large";
		title = "Request Header Fields Too Large";
		detail = "The request line and headers are too large.";
		break;
	case 414:
		code = "URI_TOO_LONG";
		type = PROBLEM_BASE "uri_too_long";
		title = "URI Too Long";
		detail = "The request line is too long.";
		break;
	case 413:
		code = "TOO_LARGE";
		type = PROBLEM_BASE "too_large";
		title = "Content Too Large";
		detail = "The request body is too large.";
		break;
	case 505:
		code = "HTTP_VERSION_NOT_SUPPORTED";
		type = "about:blank";
		title = "HTTP Version Not Supported";
		detail = "Only HTTP/1.0 and HTTP/1.1 are served.";
		break;
	case 500:
		code = "INTERNAL";
		type = "about:blank";
		title = "Internal Server Error";
		detail = "The server could not complete the request.";
		break;
	default:
		code = "MALFORMED";
		type = PROBLEM_BASE "malformed";
		title = "Bad Request";
		detail = "The request could not be parsed.";
		break;
	}
	uuid_v7(id);
	snprintf(rid, UUID_STR_LEN, "%s", id);
	len = snprintf(out, n,
	    "{\"type\":\"%s\",\"title\":\"%s\",\"status\":%u,"
	    "\"detail\":\"%s\",\"code\":\"%s\",\"request_id\":\"%s\"}",
	    type, title, status, detail, code, id);
	return (len > 0 && (size_t)len < n ? (size_t)len : 0);
}

/*
 * libmicrohttpd's own answers arrive here (see above). Anything that is
 * not an error is passed on untouched.
 */
enum MHD_Result
MHD_queue_response(
    struct MHD_Connection *c, unsigned int status, struct MHD_Response *r)
{
	struct MHD_Response *p;
	enum MHD_Result	     ret;
	char		     body[512], rid[UUID_STR_LEN];
	size_t		     n;

	if (status < 400 ||
	    (n = mhd_problem(status, body, sizeof(body), rid)) == 0)
		return (http_mhd_queue(c, status, r));
	p = MHD_create_response_from_buffer(n, body, MHD_RESPMEM_MUST_COPY);
	if (p == NULL)
		return (http_mhd_queue(c, status, r));
	MHD_add_response_header(p, "Content-Type", "application/problem+json");
	MHD_add_response_header(p, "Cache-Control", "no-store");
	MHD_add_response_header(p, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(p, "X-Frame-Options", "DENY");
	MHD_add_response_header(p, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(p, "X-Request-Id", rid);
	metrics_refused(METRIC_REFUSED_TRANSPORT);
	ret = http_mhd_queue(c, status, p);
	MHD_destroy_response(p);
	return (ret);
}
