/*
 * The browser's auth session, by cookie (docs/WEB.md, "Sessions in the
 * browser"): the web application never holds the token, so no script
 * that runs in its page can read it.
 *
 *	POST /v1/auth/login with X-Carebase-Client: web
 *		answers without the token and sets two cookies:
 *		carebase_session=<token>; HttpOnly (the token itself) and
 *		carebase_csrf=<value>; readable by the page's script
 *	GET  /v1/auth/session	signed in? the session's expiry, and its
 *				CSRF value (the cookie set again)
 *	GET  /v1/auth/csrf	the CSRF value alone (the cookie set again)
 *	POST /v1/auth/logout	by cookie: both cookies cleared
 *
 * Both cookies are Path=/, Secure, SameSite=Strict, with Max-Age the
 * session's absolute lifetime. A request with no Authorization header
 * is authenticated by its carebase_session cookie exactly as by a bearer
 * token (sessions.c: same expiry, idle timeout, revocation); with one,
 * the header wins and the cookie is not read. A cookie that does not
 * authenticate is answered 401 with both cookies cleared, so a browser
 * holding an ended session's cookie is not stuck with it.
 *
 * CSRF: a cookie goes with every request the browser makes to this site,
 * whichever page asks, so a cookie-authenticated request other than GET,
 * HEAD or OPTIONS must also carry X-CSRF-Token equal to the session's
 * CSRF value (compared in constant time), which only a page of this
 * origin can read (from the carebase_csrf cookie or GET /v1/auth/csrf),
 * and an Origin header, when present, must be this server's own: the
 * Host the request names, over http or https, or public_url's origin.
 * Else 403 CSRF_FAILED, decided from the headers before any byte of a
 * body is read. The value is bound to the session: BLAKE2b keyed under a
 * key derived from the index key (keyring.h), of the session's id, so
 * nothing is stored, every process of a deployment agrees, and another
 * session's value (an attacker's own, planted as a cookie) does not pass.
 * Bearer-authenticated requests need none of it: a page of another site
 * cannot make a browser send an Authorization header.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

#include "core/config.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/keyring.h"
#include "core/util.h"
#include "http/http.h"
#include "people/people.h"
#include "people/people_int.h"
#include "resource/resource.h"
#include "store/store.h"

#define COOKIE_ATTRS   "; Path=/; Max-Age=%lld; Secure; SameSite=Strict"
#define CSRF_KEY_LABEL "carebase.csrf"

static int token_chars(const char *, size_t);
static int cookie_refuse(struct request *, const char *detail);
static int csrf_refuse(struct request *, const char *detail);
static int origin_own(const struct request *, const char *origin);
static int session_times(
    struct request *, const char *session_id, int64_t *expires, int64_t *idle);
static void session_answer(struct request *, int whole);

int
people_web_client(const struct request *req)
{
	const char *v = http_header(req, "X-Carebase-Client");

	return (v != NULL && strcasecmp(v, "web") == 0);
}

int
people_web_by_cookie(const struct request *req)
{
	return (
	    req->caller != NULL && http_header(req, "Authorization") == NULL);
}

/* 1 if s[0..n) is all of the token alphabet (URL-safe base64). */
static int
token_chars(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
			(s[i] >= 'a' && s[i] <= 'z') ||
			(s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
			s[i] == '_'))
			return (0);
	return (1);
}

int
people_cookie_token(struct request *req, const char **tok, size_t *len)
{
	const char *v;
	size_t	    n;
	int	    rc;

	*tok = NULL;
	*len = 0;
	switch ((rc = http_cookie(req, PEOPLE_SESSION_COOKIE, &v, &n))) {
	case ERR_NOT_FOUND:
		return (OK);
	case ERR_TOO_LARGE:
		http_problem(req, ERR_HEAD_TOO_LARGE, "COOKIE_TOO_LARGE",
		    "The Cookie headers are over %d KiB or hold over %d "
		    "cookies.",
		    HTTP_COOKIE_MAX_BYTES / 1024, HTTP_COOKIE_MAX_PAIRS);
		return (ERR_HEAD_TOO_LARGE);
	case ERR_CONFLICT:
		return (cookie_refuse(req,
		    "more than one " PEOPLE_SESSION_COOKIE " cookie came"));
	case OK:
		break;
	default:
		return (rc);
	}
	if (n != TOKEN_LEN - 1 || !token_chars(v, n))
		return (cookie_refuse(req, "the session cookie is not valid"));
	*tok = v;
	*len = n;
	return (OK);
}

static int
cookie_refuse(struct request *req, const char *detail)
{
	people_web_cookies_clear(req);
	http_header_add(req, "WWW-Authenticate", "Bearer");
	http_problem(req, ERR_UNAUTHORIZED, "UNAUTHORIZED", "%s", detail);
	return (ERR_UNAUTHORIZED);
}

void
people_web_refused(struct request *req)
{
	const char *v;
	size_t	    n;

	if (http_header(req, "Authorization") == NULL &&
	    http_cookie(req, PEOPLE_SESSION_COOKIE, &v, &n) == OK)
		people_web_cookies_clear(req);
}

int
people_csrf_value(const char *session_id, char out[TOKEN_LEN])
{
	const unsigned char *k = keyring_key(KEY_INDEX);
	unsigned char	     key[32], mac[32];

	out[0] = '\0';
	if (k == NULL)
		return (ERR_UNAVAILABLE);
	crypto_generichash(key, sizeof(key),
	    (const unsigned char *)CSRF_KEY_LABEL, strlen(CSRF_KEY_LABEL), k,
	    SEAL_KEY_LEN);
	crypto_generichash(mac, sizeof(mac), (const unsigned char *)session_id,
	    strlen(session_id), key, sizeof(key));
	sodium_bin2base64(out, TOKEN_LEN, mac, sizeof(mac),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(mac, sizeof(mac));
	return (OK);
}

int
people_csrf_check(struct request *req, const char *session_id)
{
	const char *origin, *sent;
	char	    want[TOKEN_LEN];
	int	    rc, ok;

	if (req->method == HTTP_GET || req->method == HTTP_HEAD ||
	    req->method == HTTP_OPTIONS)
		return (OK);
	if ((origin = http_header(req, "Origin")) != NULL &&
	    !origin_own(req, origin))
		return (csrf_refuse(req,
		    "a change made with the session cookie must come from "
		    "this server's own pages (Origin)"));
	if ((rc = people_csrf_value(session_id, want)) != OK) {
		http_problem(req, rc, NULL, "The CSRF value cannot be made.");
		return (rc);
	}
	sent = http_header(req, "X-CSRF-Token");
	ok = sent != NULL && strlen(sent) == TOKEN_LEN - 1 &&
	    sodium_memcmp(sent, want, TOKEN_LEN - 1) == 0;
	sodium_memzero(want, sizeof(want));
	if (!ok)
		return (csrf_refuse(req,
		    "a change made with the session cookie needs "
		    "X-CSRF-Token: the value of the " PEOPLE_CSRF_COOKIE
		    " cookie"));
	return (OK);
}

static int
csrf_refuse(struct request *req, const char *detail)
{
	http_problem(req, ERR_FORBIDDEN, "CSRF_FAILED", "%s", detail);
	return (ERR_FORBIDDEN);
}

/*
 * Is origin (an Origin header: "scheme://host[:port]") this server's?
 * The Host the request was sent to, by http or https (behind a TLS
 * proxy the browser's scheme is not the one carebase sees), or the
 * origin of public_url.
 */
static int
origin_own(const struct request *req, const char *origin)
{
	const char *host, *rest, *u = config.public_url, *e;

	if (u != NULL && (e = strstr(u, "://")) != NULL) {
		e += 3;
		e += strcspn(e, "/?#");
		if (strlen(origin) == (size_t)(e - u) &&
		    strncasecmp(origin, u, (size_t)(e - u)) == 0)
			return (1);
	}
	if ((host = http_header(req, "Host")) == NULL || host[0] == '\0')
		return (0);
	if (strncasecmp(origin, "http://", 7) == 0)
		rest = origin + 7;
	else if (strncasecmp(origin, "https://", 8) == 0)
		rest = origin + 8;
	else
		return (0);
	return (strcasecmp(rest, host) == 0);
}

int
people_web_cookies_set(struct request *req, const char *token,
    const char *session_id, int64_t max_age_s, int with_session)
{
	char csrf[TOKEN_LEN], v[256];
	int  rc;

	if ((rc = people_csrf_value(session_id, csrf)) != OK)
		return (rc);
	if (max_age_s < 0)
		max_age_s = 0;
	if (with_session) {
		snprintf(v, sizeof(v),
		    PEOPLE_SESSION_COOKIE "=%s" COOKIE_ATTRS "; HttpOnly",
		    token, (long long)max_age_s);
		http_header_add(req, "Set-Cookie", v);
		sodium_memzero(v, sizeof(v));
	}
	snprintf(v, sizeof(v), PEOPLE_CSRF_COOKIE "=%s" COOKIE_ATTRS, csrf,
	    (long long)max_age_s);
	http_header_add(req, "Set-Cookie", v);
	sodium_memzero(csrf, sizeof(csrf));
	return (OK);
}

void
people_web_cookies_clear(struct request *req)
{
	http_header_add(req, "Set-Cookie",
	    PEOPLE_SESSION_COOKIE "=; Path=/; Max-Age=0; Secure; "
				  "SameSite=Strict; HttpOnly");
	http_header_add(req, "Set-Cookie",
	    PEOPLE_CSRF_COOKIE "=; Path=/; Max-Age=0; Secure; SameSite=Strict");
}

/* The absolute expiry and idle timeout of the caller's session. */
static int
session_times(struct request *req, const char *session_id, int64_t *expires,
    int64_t *idle)
{
	struct tx   *tx;
	struct stmt *st;
	int	     rc;

	if ((rc = store_tx_begin(req->db, STORE_TX_READ, &tx)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "SELECT expires_at, idle_timeout_ms FROM auth_sessions "
	    "WHERE id = ?");
	store_bind_text(st, 1, session_id);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		*expires = store_col_int64(st, 0);
		*idle = store_col_int64(st, 1);
		rc = OK;
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND; /* ended and erased meanwhile */
		break;
	default:
		rc = rc == ERR_BUSY ? ERR_BUSY : ERR_DB;
		break;
	}
	store_finalize(st);
	store_tx_rollback(tx);
	return (rc);
}

/*
 * The caller's session: whole, who and until when (GET /v1/auth/session),
 * else the CSRF value alone (GET /v1/auth/csrf). By cookie, the csrf
 * cookie is set again (a page that lost it gets it back).
 */
static void
session_answer(struct request *req, int whole)
{
	const struct principal *who = req->caller;
	json_t		       *o;
	char			csrf[TOKEN_LEN], exp[ISO_TIME_LEN];
	int64_t			expires = 0, idle = 0;
	int			rc, by_cookie = people_web_by_cookie(req);

	if ((rc = session_times(req, who->session_id, &expires, &idle)) != OK ||
	    (rc = people_csrf_value(who->session_id, csrf)) != OK) {
		http_problem(req, rc == ERR_NOT_FOUND ? ERR_UNAUTHORIZED : rc,
		    NULL, "The session cannot be read.");
		return;
	}
	if (by_cookie &&
	    (rc = people_web_cookies_set(req, NULL, who->session_id,
		 (expires - time_now_ms()) / 1000, 0)) != OK) {
		http_problem(req, rc, NULL, "The CSRF cookie cannot be set.");
		return;
	}
	if (whole)
		o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s?}", "user_id",
		    who->user_id, "role", who->role, "session_id",
		    who->session_id, "authenticated_by",
		    by_cookie ? "cookie" : "bearer", "expires_at",
		    time_format_iso(expires, exp), "idle_timeout_s",
		    (json_int_t)(idle / 1000), "csrf_token",
		    by_cookie ? csrf : NULL);
	else
		o = json_pack("{s:s}", "csrf_token", csrf);
	sodium_memzero(csrf, sizeof(csrf));
	http_json(req, 200, o);
}

/* GET /v1/auth/session */
void
people_auth_session_get(struct request *req)
{
	session_answer(req, 1);
}

/* GET /v1/auth/csrf */
void
people_auth_csrf_get(struct request *req)
{
	session_answer(req, 0);
}
