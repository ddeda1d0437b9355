/*
 * What handlers call: parameters, query, headers in; JSON, bytes and
 * problem documents out. Also the small parsers of outside input that the
 * transport and the router use, kept pure so tests and fuzzers reach them.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <microhttpd.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/jsonw.h"
#include "core/log.h"
#include "http/http.h"
#include "http/http_int.h"
#include "store/store.h"

#define HTTP_ARENA_CAP	 (32u * 1024 * 1024)
#define HTTP_SCRATCH_MAX (64u * 1024 * 1024)

/* Per-thread spare arena and serialising buffer, freed at thread exit. */
struct tcache {
	struct arena *spare;
	struct buf    scratch;
};

static pthread_key_t  tcache_key;
static pthread_once_t tcache_once = PTHREAD_ONCE_INIT;

static void	      tcache_make_key(void);
static void	      tcache_destroy(void *);
static struct tcache *tcache_get(void);
static int	      hexval(int);
static int	      json_set(struct request *, int, json_t *);
static void problem_vset(struct request *, int, const char *, json_t *,
    const char *, va_list) __attribute__((format(printf, 5, 0)));

static void
tcache_destroy(void *p)
{
	struct tcache *tc = p;

	arena_free(tc->spare);
	buf_free(&tc->scratch);
	free(tc);
}

static void
tcache_make_key(void)
{
	pthread_key_create(&tcache_key, tcache_destroy);
}

static struct tcache *
tcache_get(void)
{
	struct tcache *tc;

	pthread_once(&tcache_once, tcache_make_key);
	if ((tc = pthread_getspecific(tcache_key)) != NULL)
		return (tc);
	if ((tc = calloc(1, sizeof(*tc))) == NULL)
		return (NULL);
	buf_init(&tc->scratch, HTTP_SCRATCH_MAX);
	if (pthread_setspecific(tcache_key, tc) != 0) {
		free(tc);
		return (NULL);
	}
	return (tc);
}

struct buf *
http_scratch(void)
{
	struct tcache *tc;

	if ((tc = tcache_get()) == NULL)
		return (NULL);
	buf_reset(&tc->scratch);
	return (&tc->scratch);
}

struct arena *
http_arena_get(void)
{
	struct tcache *tc;
	struct arena  *a;

	if ((tc = tcache_get()) != NULL && tc->spare != NULL) {
		a = tc->spare;
		tc->spare = NULL;
		return (a);
	}
	return (arena_new(HTTP_ARENA_CAP));
}

void
http_arena_put(struct arena *a)
{
	struct tcache *tc;

	if (a == NULL)
		return;
	if ((tc = tcache_get()) != NULL && tc->spare == NULL) {
		arena_reset(a);
		tc->spare = a;
		return;
	}
	arena_free(a);
}

/* Pure parsers */

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

long
http_pct_decode(char *dst, const char *src, size_t len, int plus)
{
	size_t i, o = 0;
	int    hi, lo;
	char   c;

	for (i = 0; i < len; i++) {
		c = src[i];
		if (c == '%') {
			if (i + 2 >= len)
				return (-1);
			if ((hi = hexval((unsigned char)src[i + 1])) < 0 ||
			    (lo = hexval((unsigned char)src[i + 2])) < 0)
				return (-1);
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus)
			c = ' ';
		if (c == '\0')
			return (-1);
		dst[o++] = c;
	}
	dst[o] = '\0';
	return ((long)o);
}

int
http_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t		     i = 0, n, k;
	unsigned int	     cp, min;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			n = 1;
			cp = s[i] & 0x1f;
			min = 0x80;
		} else if ((s[i] & 0xf0) == 0xe0) {
			n = 2;
			cp = s[i] & 0x0f;
			min = 0x800;
		} else if ((s[i] & 0xf8) == 0xf0) {
			n = 3;
			cp = s[i] & 0x07;
			min = 0x10000;
		} else
			return (0);
		if (len - i <= n)
			return (0);
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return (0);
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return (0);
		i += n + 1;
	}
	return (1);
}

const char *
http_query_parse(struct arena *a, const char *qs, const char *name)
{
	const char *p, *amp, *eq, *vs;
	char	   *key, *val;
	size_t	    klen, vlen, nlen;
	long	    n;

	if (qs == NULL || name == NULL)
		return (NULL);
	nlen = strlen(name);
	for (p = qs; *p != '\0'; p = amp + 1) {
		if ((amp = strchr(p, '&')) == NULL)
			amp = p + strlen(p);
		eq = memchr(p, '=', (size_t)(amp - p));
		klen = (size_t)((eq ? eq : amp) - p);
		/* Decoding never lengthens: skip keys that cannot match. */
		if (klen >= nlen && klen <= 3 * nlen) {
			if ((key = arena_alloc(a, klen + 1)) == NULL)
				return (NULL);
			if (http_pct_decode(key, p, klen, 1) >= 0 &&
			    strcmp(key, name) == 0) {
				vs = eq ? eq + 1 : amp;
				vlen = (size_t)(amp - vs);
				if ((val = arena_alloc(a, vlen + 1)) == NULL ||
				    (n = http_pct_decode(val, vs, vlen, 1)) <
					0 ||
				    !http_utf8_valid(val, (size_t)n))
					return (NULL);
				return (val);
			}
		}
		if (*amp == '\0')
			break;
	}
	return (NULL);
}

int
http_content_type_json(const char *ct)
{
	static const char want[] = "application/json";
	size_t		  n = sizeof(want) - 1;

	if (ct == NULL)
		return (0);
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, want, n) != 0)
		return (0);
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return (*ct == '\0' || *ct == ';');
}

int
http_request_id_valid(const char *s)
{
	size_t n;

	if (s == NULL)
		return (0);
	for (n = 0; s[n] != '\0'; n++) {
		if (n == HTTP_MAX_REQUEST_ID)
			return (0);
		if (!isalnum((unsigned char)s[n]) && s[n] != '.' &&
		    s[n] != '_' && s[n] != '-')
			return (0);
		if ((unsigned char)s[n] >= 0x80)
			return (0);
	}
	return (n > 0);
}

int
http_origin_allowed(const char *list, const char *origin)
{
	const char *p, *end, *e;
	size_t	    olen;

	if (list == NULL || origin == NULL || (olen = strlen(origin)) == 0)
		return (0);
	for (p = list; *p != '\0'; p = *end ? end + 1 : end) {
		if ((end = strchr(p, ',')) == NULL)
			end = p + strlen(p);
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		for (e = end; e > p && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		if ((size_t)(e - p) == olen && memcmp(p, origin, olen) == 0)
			return (1);
	}
	return (0);
}

int
http_json_depth(const char *s, size_t len)
{
	size_t i;
	int    depth = 0, max = 0, instr = 0;

	for (i = 0; i < len; i++) {
		if (instr) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				instr = 0;
			continue;
		}
		switch (s[i]) {
		case '"':
			instr = 1;
			break;
		case '[':
		case '{':
			if (++depth > max)
				max = depth;
			break;
		case ']':
		case '}':
			depth--;
			break;
		}
	}
	return (max);
}

/* Request accessors */

const char *
http_param(const struct request *req, const char *name)
{
	int i;

	for (i = 0; i < req->nparams; i++)
		if (strcmp(req->params[i].name, name) == 0)
			return (req->params[i].value);
	return (NULL);
}

const char *
http_query(const struct request *req, const char *name)
{
	const struct hreq *h = req->conn;

	if (h == NULL)
		return (NULL);
	return (http_query_parse(req->arena, h->query, name));
}

const char *
http_query_raw(const struct request *req)
{
	const struct hreq *h = req->conn;

	return (h != NULL ? h->query : NULL);
}

int
http_query_names(struct request *req, const char **names, int max, int *n)
{
	const char *q = http_query_raw(req), *p, *amp, *eq;
	char	   *key;
	size_t	    klen;
	int	    i;

	*n = 0;
	for (p = q; p != NULL && *p != '\0'; p = *amp ? amp + 1 : amp) {
		if ((amp = strchr(p, '&')) == NULL)
			amp = p + strlen(p);
		eq = memchr(p, '=', (size_t)(amp - p));
		klen = (size_t)((eq ? eq : amp) - p);
		if (klen == 0)
			continue;
		if ((key = arena_alloc(req->arena, klen + 1)) == NULL)
			return (ERR_NOMEM);
		if (http_pct_decode(key, p, klen, 1) < 0 ||
		    !http_utf8_valid(key, strlen(key)))
			return (ERR_MALFORMED);
		for (i = 0; i < *n; i++)
			if (strcmp(names[i], key) == 0)
				break;
		if (i < *n)
			continue;
		if (*n == max)
			return (ERR_TOO_LARGE);
		names[(*n)++] = key;
	}
	return (OK);
}

/* Authentication: one authenticator, run at most once per request. */

static http_auth_fn authenticator;

void
http_set_authenticator(http_auth_fn fn)
{
	authenticator = fn;
}

/* The gate before a handler: one, set at start-up. */

static http_gate_fn gate;

void
http_set_gate(http_gate_fn fn)
{
	gate = fn;
}

int
http_gate_sees(int method, const char *path)
{
	if (method == HTTP_GET || method == HTTP_HEAD || method == HTTP_OPTIONS)
		return (0);
	return (strcmp(path, "/v1/auth/login") != 0 &&
	    strcmp(path, "/v1/auth/logout") != 0 &&
	    strncmp(path, "/v1/webhooks/", 13) != 0);
}

int
http_gate(struct request *req)
{
	int rc;

	if (gate == NULL)
		return (OK);
	rc = gate(req);
	/* Kept aside for the handler and not taken by the gate: still so. */
	if (!store_tx_parked(&req->tx))
		http_read_tx_end(req);
	return (rc);
}

int
http_authenticate(struct request *req)
{
	struct principal *who = NULL;

	if (req->auth_ran)
		return (req->auth_rc);
	/* Marked before the call: an authenticator that asks again sees
	 * an anonymous caller rather than recursing. */
	req->auth_ran = 1;
	req->auth_rc = authenticator != NULL ? authenticator(req, &who) : OK;
	req->caller = req->auth_rc == OK ? who : NULL;
	/* Its read transaction ends with it (a handler that authenticates,
	 * a public route's optional sign-in, then begins its own), or is
	 * kept for the handler when the dispatcher says it may. */
	http_read_tx_keep(req);
	return (req->auth_rc);
}

const char *
http_header(const struct request *req, const char *name)
{
	const struct hreq *h = req->conn;

	if (h == NULL || h->mhd == NULL)
		return (NULL);
	return (MHD_lookup_connection_value(h->mhd, MHD_HEADER_KIND, name));
}

/* Responses */

/* Serialise body (reference stolen) as the response; ERR_* on failure. */
static int
json_set(struct request *req, int status, json_t *body)
{
	struct buf *b;
	char	   *out;
	int	    rc = ERR_INTERNAL;

	if (body == NULL || (b = http_scratch()) == NULL ||
	    jsonw_compact(b, body) != OK ||
	    (out = arena_strndup(req->arena, b->data ? b->data : "", b->len)) ==
		NULL)
		goto out;
	req->status = status;
	req->content_type = "application/json";
	req->resp_body = out;
	req->resp_len = b->len;
	req->responded = 1;
	rc = OK;
out:
	json_decref(body);
	return (rc);
}

void
http_json(struct request *req, int status, json_t *body)
{
	if (req->responded) {
		log_warn("event=second_response id=%s", req->id);
		json_decref(body);
		return;
	}
	if (json_set(req, status, body) != OK)
		http_problem(req, ERR_INTERNAL, NULL, "response not encoded");
}

void
http_send(struct request *req, int status, const char *content_type,
    const void *body, size_t len)
{
	char *copy = NULL;

	if (req->responded) {
		log_warn("event=second_response id=%s", req->id);
		return;
	}
	if (len > 0 && (copy = arena_alloc(req->arena, len)) == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "out of memory");
		return;
	}
	if (len > 0)
		memcpy(copy, body, len);
	req->status = status;
	req->content_type = content_type;
	req->resp_body = copy;
	req->resp_len = len;
	req->responded = 1;
}

void
http_send_static(struct request *req, int status, const char *content_type,
    const char *body, size_t len)
{
	if (req->responded) {
		log_warn("event=second_response id=%s", req->id);
		return;
	}
	req->status = status;
	req->content_type = content_type;
	req->resp_body = len > 0 ? body : NULL;
	req->resp_len = len;
	req->responded = 1;
}

void
http_send_take(struct request *req, int status, const char *content_type,
    char *body, size_t len)
{
	if (req->responded) {
		log_warn("event=second_response id=%s", req->id);
		free(body);
		return;
	}
	req->status = status;
	req->content_type = content_type;
	req->resp_body = body;
	req->resp_len = len;
	req->resp_owned = body;
	req->responded = 1;
}

static void
problem_vset(struct request *req, int rc, const char *code, json_t *extra,
    const char *fmt, va_list ap)
{
	json_t	   *o = NULL;
	char	    detail[512], type[128];
	const char *c;
	size_t	    i, n;
	int	    status, lost = 0;

	/* No request: a rule refused a row made outside one (the demo
	 * seed through resource_create); the status the caller returns
	 * tells. */
	if (req == NULL || req->responded) {
		json_decref(extra);
		return;
	}
	/* A failure that came of the database server's silence is told as
	 * such, whatever the handler made of it (store_lost_take). */
	if (err_http_status(rc) == 500 && (lost = store_lost_take()) != 0) {
		rc = ERR_UNAVAILABLE;
		code = NULL;
	}
	status = err_http_status(rc);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	c = code != NULL ? code : err_code(rc);
	if (lost == STORE_LOST_COMMIT) {
		/* A write's COMMIT went and its answer never came: it may
		 * have been applied. Not a plain 503 (no Retry-After), which
		 * a client may take to repeat a write that is not
		 * idempotent. */
		c = "COMMIT_OUTCOME_UNKNOWN";
		snprintf(detail, sizeof(detail), "%s",
		    "The database server stopped answering as the change "
		    "was committed: it may have been applied. Read it back "
		    "before trying again.");
		json_decref(extra);
		extra = NULL;
		snprintf(type, sizeof(type), "%s%s", PROBLEM_BASE,
		    "commit_outcome_unknown");
	} else if (status >= 500) {
		/* Never leak internals: the detail goes to the debug log only. */
		log_debug("event=problem id=%s code=%s", req->id, c);
		snprintf(detail, sizeof(detail), "%s",
		    "The server could not complete the request.");
		json_decref(extra);
		extra = NULL;
		snprintf(type, sizeof(type), "about:blank");
	} else {
		n = (size_t)snprintf(type, sizeof(type), "%s", PROBLEM_BASE);
		for (i = 0; c[i] != '\0' && n + 1 < sizeof(type); i++)
			type[n++] = (char)tolower((unsigned char)c[i]);
		type[n] = '\0';
	}
	o = json_object();
	json_object_set_new(o, "type", json_string(type));
	json_object_set_new(o, "title", json_string(err_title(rc)));
	json_object_set_new(o, "status", json_integer(status));
	json_object_set_new(o, "detail", json_string(detail));
	if (req->path != NULL)
		json_object_set_new(o, "instance", json_string(req->path));
	json_object_set_new(o, "code", json_string(c));
	json_object_set_new(o, "request_id", json_string(req->id));
	if (extra != NULL && json_is_object(extra))
		json_object_update_missing(o, extra);
	json_decref(extra);
	if (json_set(req, status, o) != OK) {
		/* Last resort, no allocation. */
		req->status = 500;
		req->resp_body = "{\"type\":\"about:blank\",\"status\":500,"
				 "\"code\":\"INTERNAL\"}";
		req->resp_len = strlen(req->resp_body);
		req->responded = 1;
	}
	req->content_type = "application/problem+json";
}

void
http_problem(
    struct request *req, int rc, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	problem_vset(req, rc, code, NULL, fmt, ap);
	va_end(ap);
}

void
http_problem_ext(struct request *req, int rc, const char *code, json_t *extra,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	problem_vset(req, rc, code, extra, fmt, ap);
	va_end(ap);
}

void
http_header_add(struct request *req, const char *name, const char *value)
{
	char *n, *v;

	if (req->nresp_hdrs == HTTP_MAX_HEADERS ||
	    strpbrk(name, "\r\n:") != NULL || strpbrk(value, "\r\n") != NULL) {
		log_warn("event=header_dropped id=%s", req->id);
		return;
	}
	if ((n = arena_strdup(req->arena, name)) == NULL ||
	    (v = arena_strdup(req->arena, value)) == NULL)
		return;
	req->resp_hdr_name[req->nresp_hdrs] = n;
	req->resp_hdr_value[req->nresp_hdrs] = v;
	req->nresp_hdrs++;
}
