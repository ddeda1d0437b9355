/*
 * libFuzzer target for the Cookie header parser (src/http/cookie.c): the
 * input is one to several Cookie headers, one a line, each in a buffer of
 * its own size (no NUL after it, so a read past its end is ASan's), and
 * the cookie looked for is named by the input's first line when that is a
 * short name, else carebase_session. The scan must stay within its
 * bounds, and what it finds must agree with a plain reading of the same
 * headers: the first value of the name, how often it came, whether two
 * values differ.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "http/http.h"
#include "http/http_int.h"

#define HEADERS_MAX 8

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
ows(char c)
{
	return (c == ' ' || c == '\t');
}

/*
 * The reference: every ';' piece of s[0..n) whose name (spaces around
 * it off) is name, its value's spaces and one pair of quotes off.
 */
static void
reference(const char *s, size_t n, const char *name, const char **first,
    size_t *first_len, int *found, int *differ)
{
	size_t i = 0, j, a, b, e, nl = strlen(name);

	while (i <= n) {
		for (j = i; j < n && s[j] != ';'; j++)
			;
		for (a = i; a < j && ows(s[a]); a++)
			;
		for (e = a; e < j && s[e] != '='; e++)
			;
		if (e < j) {
			for (b = e; b > a && ows(s[b - 1]); b--)
				;
			if (b - a == nl && memcmp(s + a, name, nl) == 0) {
				for (a = e + 1; a < j && ows(s[a]); a++)
					;
				for (b = j; b > a && ows(s[b - 1]); b--)
					;
				if (b - a >= 2 && s[a] == '"' &&
				    s[b - 1] == '"') {
					a++;
					b--;
				}
				if (*found > 0 &&
				    (b - a != *first_len ||
					memcmp(s + a, *first, b - a) != 0))
					*differ = 1;
				if ((*found)++ == 0) {
					*first = s + a;
					*first_len = b - a;
				}
			}
		}
		i = j + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_cookie_scan cs;
	const char	       *s = (const char *)data, *rfirst = NULL;
	char		       *hdr[HEADERS_MAX], name[33] = "carebase_session";
	size_t			len[HEADERS_MAX], rlen = 0, i, nh = 0, k;
	size_t			at = 0, e;
	int			rc = OK, rfound = 0, rdiffer = 0, in = 0;

	if (size > 4 * HTTP_COOKIE_MAX_BYTES)
		return (0);
	/* A first line of 1..32 name characters names the cookie. */
	for (e = 0; e < size && e <= 32 && s[e] != '\n' && s[e] != ';' &&
	     s[e] != '=' && s[e] != '\0' && !ows(s[e]);
	     e++)
		;
	if (e > 0 && e <= 32 && e < size && s[e] == '\n') {
		memcpy(name, s, e);
		name[e] = '\0';
		at = e + 1;
	}
	/* Then a header a line, the last one up to the end. */
	while (at <= size && nh < HEADERS_MAX) {
		for (e = at; e < size && s[e] != '\n'; e++)
			;
		len[nh] = e - at;
		if ((hdr[nh] = malloc(len[nh] > 0 ? len[nh] : 1)) == NULL)
			goto out;
		memcpy(hdr[nh], s + at, len[nh]);
		nh++;
		at = e + 1;
	}
	memset(&cs, 0, sizeof(cs));
	cs.name = name;
	for (i = 0; i < nh && rc != ERR_TOO_LARGE; i++) {
		rc = http_cookie_scan(&cs, hdr[i], len[i]);
		if (rc != OK && rc != ERR_CONFLICT && rc != ERR_TOO_LARGE)
			abort();
		if (rc != ERR_TOO_LARGE)
			reference(hdr[i], len[i], name, &rfirst, &rlen, &rfound,
			    &rdiffer);
	}
	if (cs.bytes > HTTP_COOKIE_MAX_BYTES ||
	    cs.pairs > HTTP_COOKIE_MAX_PAIRS + 1 || cs.len > cs.bytes)
		abort();
	if (rc == ERR_TOO_LARGE)
		goto out; /* the rest is not read, and not promised */
	if (cs.found != rfound || cs.conflict != rdiffer ||
	    (rc == ERR_CONFLICT) != (rdiffer != 0))
		abort();
	if (cs.found > 0) {
		/* Where the reference found it, inside one header. */
		if (cs.value != rfirst || cs.len != rlen)
			abort();
		for (k = 0; k < nh; k++)
			if (cs.value >= hdr[k] &&
			    cs.value + cs.len <= hdr[k] + len[k])
				in = 1;
		if (!in || memchr(cs.value, ';', cs.len) != NULL)
			abort();
	}
out:
	for (i = 0; i < nh; i++)
		free(hdr[i]);
	return (0);
}
