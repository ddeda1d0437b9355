/*
 * The Cookie request header, as browsers send it (RFC 6265 section 5.4):
 * "name=value" pairs separated by ";" and optional spaces, a value
 * perhaps in double quotes (taken off). Names compare exactly. A piece
 * with no "=" names no cookie and is passed over, as browsers do.
 *
 * Bounded before it is read: HTTP_COOKIE_MAX_BYTES over every Cookie
 * header of the request and HTTP_COOKIE_MAX_PAIRS pieces, past either
 * ERR_TOO_LARGE, so a request's cookies cost at most one pass over a
 * few KiB whatever a client sends. A name that comes twice with two
 * values (a second cookie of that name planted from a parent domain, or
 * with a longer path) is ERR_CONFLICT: which one the browser meant
 * cannot be told, so neither is taken.
 */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "core/err.h"
#include "http/http.h"
#include "http/http_int.h"

static int	       is_ows(char);
static enum MHD_Result cookie_header(
    void *, enum MHD_ValueKind, const char *, const char *);

static int
is_ows(char c)
{
	return (c == ' ' || c == '\t');
}

int
http_cookie_scan(struct http_cookie_scan *cs, const char *s, size_t n)
{
	const char *end, *seg, *eq, *v, *ve, *ne;

	if (cs->bytes + n > HTTP_COOKIE_MAX_BYTES) {
		cs->too_large = 1;
		return (ERR_TOO_LARGE);
	}
	cs->bytes += n;
	for (end = s + n; s < end; s = seg + 1) {
		if ((seg = memchr(s, ';', (size_t)(end - s))) == NULL)
			seg = end;
		if (++cs->pairs > HTTP_COOKIE_MAX_PAIRS) {
			cs->too_large = 1;
			return (ERR_TOO_LARGE);
		}
		while (s < seg && is_ows(*s))
			s++;
		if ((eq = memchr(s, '=', (size_t)(seg - s))) == NULL)
			continue;
		for (ne = eq; ne > s && is_ows(ne[-1]); ne--)
			;
		if ((size_t)(ne - s) != strlen(cs->name) ||
		    memcmp(s, cs->name, (size_t)(ne - s)) != 0)
			continue;
		for (v = eq + 1; v < seg && is_ows(*v); v++)
			;
		for (ve = seg; ve > v && is_ows(ve[-1]); ve--)
			;
		if (ve - v >= 2 && *v == '"' && ve[-1] == '"') {
			v++;
			ve--;
		}
		if (cs->found > 0 &&
		    ((size_t)(ve - v) != cs->len ||
			memcmp(v, cs->value, cs->len) != 0))
			cs->conflict = 1;
		if (cs->found++ == 0) {
			cs->value = v;
			cs->len = (size_t)(ve - v);
		}
	}
	return (cs->conflict ? ERR_CONFLICT : OK);
}

/* Scan one Cookie header of the request into the scan at arg. */
static enum MHD_Result
cookie_header(
    void *arg, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct http_cookie_scan *cs = arg;

	if (value == NULL || strcasecmp(key, "Cookie") != 0)
		return (MHD_YES);
	return (http_cookie_scan(cs, value, strlen(value)) == ERR_TOO_LARGE
		? MHD_NO
		: MHD_YES);
}

int
http_cookie(const struct request *req, const char *name, const char **value,
    size_t *len)
{
	const struct hreq      *h = req->conn;
	struct http_cookie_scan cs;

	*value = NULL;
	*len = 0;
	if (h == NULL || h->mhd == NULL)
		return (ERR_NOT_FOUND);
	memset(&cs, 0, sizeof(cs));
	cs.name = name;
	MHD_get_connection_values(h->mhd, MHD_HEADER_KIND, cookie_header, &cs);
	if (cs.too_large)
		return (ERR_TOO_LARGE);
	if (cs.conflict)
		return (ERR_CONFLICT);
	if (cs.found == 0)
		return (ERR_NOT_FOUND);
	*value = cs.value;
	*len = cs.len;
	return (OK);
}
