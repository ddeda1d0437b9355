/*
 * The exchange with Stripe: its REST API over libcurl, and the check of
 * its webhooks' signatures. No database here, and never called inside a
 * transaction (a request can take stripe_timeout_s).
 *
 * Requests are form-encoded POSTs (and GETs) to <stripe_api_url><path>
 * with Authorization: Bearer <stripe_secret_key> and, for POSTs, an
 * Idempotency-Key: Stripe answers a request sent again with the same key
 * with the first one's answer, making nothing twice. At most
 * STRIPE_RESPONSE_MAX bytes of an answer are read, within
 * stripe_timeout_s (or what is left before a deadline: the pages of a
 * list share one request's time). The key is in no log line and no error, and wiped
 * from memory after use.
 *
 * Stripe-Signature (https://docs.stripe.com/webhooks#verify-manually):
 * "t=<unix seconds>,v1=<hex>,v1=<hex>,v0=...": a v1 is the hex
 * HMAC-SHA256 of "<t>.<raw body>" under the endpoint's signing secret.
 * One v1 that matches, compared in constant time, and t within
 * STRIPE_TOLERANCE_S of now (either way) make a valid signature; other
 * schemes are ignored.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/util.h"
#include "training/training_int.h"

#define STRIPE_HEADER_MAX 4096 /* bytes of a Stripe-Signature header */
#define STRIPE_CODE_MAX	  64   /* bytes of Stripe's error code kept */

static int    stripe_request(const char *method, const char *path,
       const char *form, const char *idem, long timeout_ms,
       struct stripe_reply *r);
static size_t stripe_write(char *, size_t, size_t, void *);
static void   stripe_error_code(json_t *doc, char *out, size_t n);
static int    hex_digit(int c);

int
stripe_configured(void)
{
	return (config.stripe_secret_key != NULL &&
	    config.stripe_secret_key[0] != '\0');
}

int
stripe_id_ok(const char *s)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n > STRIPE_ID_MAX)
		return (0);
	return (strspn(s,
		    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789_") == n);
}

/* Signature */

static int
hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

int
stripe_signature_check(const char *header, const char *body, size_t len,
    const char *secret, int64_t now_s, int64_t tolerance_s)
{
	crypto_auth_hmacsha256_state st;
	unsigned char		     want[crypto_auth_hmacsha256_BYTES];
	unsigned char		     got[crypto_auth_hmacsha256_BYTES];
	const char		    *p, *end, *item, *eq, *stamp = NULL;
	size_t			     stamp_len = 0, n, i;
	int64_t			     t = 0;
	int			     v1 = 0, match = 0, hi, lo;

	if (header == NULL || header[0] == '\0')
		return (STRIPE_SIG_MISSING);
	if (strlen(header) > STRIPE_HEADER_MAX)
		return (STRIPE_SIG_MALFORMED);
	/* The timestamp first: it is part of what is signed. */
	for (p = header; *p != '\0'; p = *end == ',' ? end + 1 : end) {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		item = p;
		while (item < end && *item == ' ')
			item++;
		if (end - item >= 2 && item[0] == 't' && item[1] == '=') {
			if (stamp != NULL)
				return (STRIPE_SIG_MALFORMED); /* twice */
			stamp = item + 2;
			stamp_len = (size_t)(end - stamp);
		}
	}
	if (stamp == NULL || stamp_len == 0 || stamp_len > 12)
		return (STRIPE_SIG_MALFORMED);
	for (i = 0; i < stamp_len; i++) {
		if (!isdigit((unsigned char)stamp[i]))
			return (STRIPE_SIG_MALFORMED);
		t = t * 10 + (stamp[i] - '0');
	}
	crypto_auth_hmacsha256_init(
	    &st, (const unsigned char *)secret, strlen(secret));
	crypto_auth_hmacsha256_update(
	    &st, (const unsigned char *)stamp, stamp_len);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
	crypto_auth_hmacsha256_final(&st, want);
	sodium_memzero(&st, sizeof(st));
	/* Every v1 is compared; any one that matches will do. */
	for (p = header; *p != '\0'; p = *end == ',' ? end + 1 : end) {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		item = p;
		while (item < end && *item == ' ')
			item++;
		if ((eq = memchr(item, '=', (size_t)(end - item))) == NULL ||
		    eq - item != 2 || strncmp(item, "v1", 2) != 0)
			continue;
		v1++;
		n = (size_t)(end - eq - 1);
		if (n != 2 * sizeof(got))
			continue;
		for (i = 0; i < sizeof(got); i++) {
			hi = hex_digit((unsigned char)eq[1 + 2 * i]);
			lo = hex_digit((unsigned char)eq[2 + 2 * i]);
			if (hi < 0 || lo < 0)
				break;
			got[i] = (unsigned char)(hi << 4 | lo);
		}
		if (i == sizeof(got) &&
		    sodium_memcmp(want, got, sizeof(want)) == 0)
			match = 1;
	}
	sodium_memzero(want, sizeof(want));
	if (v1 == 0)
		return (STRIPE_SIG_MALFORMED);
	if (!match)
		return (STRIPE_SIG_MISMATCH);
	if (now_s - t > tolerance_s || t - now_s > tolerance_s)
		return (STRIPE_SIG_STALE);
	return (STRIPE_SIG_OK);
}

/* Requests */

int
stripe_form_add(struct buf *b, const char *key, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	const char	 *s;
	int		  k, rc = OK;
	unsigned char	  c;

	if (b->len > 0)
		rc = buf_append(b, "&", 1);
	for (k = 0; k < 2 && rc == OK; k++) {
		if (k == 1)
			rc = buf_append(b, "=", 1);
		for (s = k == 0 ? key : value; *s != '\0' && rc == OK; s++) {
			c = (unsigned char)*s;
			if (isalnum(c) || strchr("-._~", c) != NULL)
				rc = buf_append(b, s, 1);
			else {
				char esc[3] = { '%', hex[c >> 4], hex[c & 15] };

				rc = buf_append(b, esc, 3);
			}
		}
	}
	return (rc);
}

int
stripe_post(const char *path, const char *form, const char *idem,
    struct stripe_reply *r)
{
	return (stripe_request(
	    "POST", path, form, idem, config.stripe_timeout_s * 1000L, r));
}

int
stripe_get(const char *path, struct stripe_reply *r)
{
	return (stripe_request(
	    "GET", path, NULL, NULL, config.stripe_timeout_s * 1000L, r));
}

int
stripe_get_until(const char *path, int64_t deadline_ms, struct stripe_reply *r)
{
	int64_t left = deadline_ms - time_mono_ns() / 1000000;

	if (left > config.stripe_timeout_s * 1000)
		left = config.stripe_timeout_s * 1000;
	if (left <= 0) {
		memset(r, 0, sizeof(*r));
		snprintf(r->error, sizeof(r->error),
		    "GET %s: no time left to ask Stripe", path);
		return (ERR_UNAVAILABLE);
	}
	return (stripe_request("GET", path, NULL, NULL, (long)left, r));
}

void
stripe_reply_free(struct stripe_reply *r)
{
	json_decref(r->doc);
	r->doc = NULL;
}

/* libcurl write callback: keep at most STRIPE_RESPONSE_MAX bytes; a
 * short count ends the transfer. */
static size_t
stripe_write(char *data, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	if (buf_append(b, data, size * n) != OK)
		return (0);
	return (size * n);
}

/* Stripe's {"error": {"code": "..."}} (else its type) when it is a plain
 * token, else "". */
static void
stripe_error_code(json_t *doc, char *out, size_t n)
{
	json_t	   *e = json_object_get(doc, "error");
	const char *c, *s;

	out[0] = '\0';
	if ((c = json_string_value(json_object_get(e, "code"))) == NULL &&
	    (c = json_string_value(json_object_get(e, "type"))) == NULL)
		return;
	if (strlen(c) == 0 || strlen(c) > STRIPE_CODE_MAX)
		return;
	for (s = c; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return;
	strlcpy_cb(out, c, n);
}

/*
 * One request: OK for a 2xx whose body is a JSON object (r->doc);
 * ERR_UNAVAILABLE for what a retry may mend (no answer, a timeout, 409:
 * the same key in flight, 429, 5xx); ERR_BAD_GATEWAY when Stripe refused
 * it (another answer) or answered something that is not an object;
 * ERR_CONFIG without a secret key. r->http and r->error say what
 * happened, r->code Stripe's error code.
 */
static int
stripe_request(const char *method, const char *path, const char *form,
    const char *idem, long timeout_ms, struct stripe_reply *r)
{
	CURL		  *c = NULL;
	CURLcode	   cc;
	struct curl_slist *hdrs = NULL, *h;
	struct buf	   b, auth, url;
	const char	  *base = config.stripe_api_url;
	size_t		   blen = strlen(base);
	int		   rc = ERR_NOMEM;

	memset(r, 0, sizeof(*r));
	buf_init(&b, STRIPE_RESPONSE_MAX);
	buf_init(&auth, 1024);
	buf_init(&url, 4096);
	if (!stripe_configured()) {
		snprintf(
		    r->error, sizeof(r->error), "stripe_secret_key is not set");
		rc = ERR_CONFIG;
		goto out;
	}
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	if (buf_append(&url, base, blen) != OK || buf_puts(&url, path) != OK ||
	    buf_printf(&auth, "Authorization: Bearer %s",
		config.stripe_secret_key) != OK ||
	    (h = curl_slist_append(hdrs, auth.data)) == NULL)
		goto nomem;
	hdrs = h;
	if (idem != NULL) {
		char hv[160];

		snprintf(hv, sizeof(hv), "Idempotency-Key: %s", idem);
		if ((h = curl_slist_append(hdrs, hv)) == NULL)
			goto nomem;
		hdrs = h;
	}
	if (form != NULL) {
		if ((h = curl_slist_append(hdrs,
			 "Content-Type: "
			 "application/"
			 "x-www-form-urlencoded")) == NULL)
			goto nomem;
		hdrs = h;
	}
	if ((c = curl_easy_init()) == NULL)
		goto nomem;
	curl_easy_setopt(c, CURLOPT_URL, url.data);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(
		    c, CURLOPT_POSTFIELDS, form != NULL ? form : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE,
		    (long)(form != NULL ? strlen(form) : 0));
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "carebase");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, stripe_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->http);
	if (cc == CURLE_OK && b.len > 0)
		r->doc = json_loadb(b.data, b.len, 0, NULL);
	stripe_error_code(r->doc, r->code, sizeof(r->code));
	rc = ERR_UNAVAILABLE;
	if (cc == CURLE_WRITE_ERROR)
		snprintf(r->error, sizeof(r->error),
		    "%s %s: Stripe's answer is over %d bytes", method, path,
		    STRIPE_RESPONSE_MAX);
	else if (cc == CURLE_OPERATION_TIMEDOUT)
		snprintf(r->error, sizeof(r->error),
		    "%s %s: Stripe did not answer within %ldms", method, path,
		    timeout_ms);
	else if (cc != CURLE_OK)
		snprintf(r->error, sizeof(r->error),
		    "%s %s: Stripe could not be reached: %s", method, path,
		    curl_easy_strerror(cc));
	else if (r->http >= 200 && r->http <= 299) {
		if (json_is_object(r->doc))
			rc = OK;
		else {
			rc = ERR_BAD_GATEWAY;
			snprintf(r->error, sizeof(r->error),
			    "%s %s: Stripe's answer is not a JSON object",
			    method, path);
		}
	} else if (r->http == 408 || r->http == 409 || r->http == 429 ||
	    r->http >= 500)
		snprintf(r->error, sizeof(r->error),
		    "%s %s: Stripe answered HTTP %ld%s%s", method, path,
		    r->http, r->code[0] != '\0' ? ", code " : "", r->code);
	else {
		rc = ERR_BAD_GATEWAY;
		snprintf(r->error, sizeof(r->error),
		    "%s %s: Stripe refused it with HTTP %ld%s%s%s", method,
		    path, r->http, r->code[0] != '\0' ? ", code " : "", r->code,
		    r->http == 401 ? " (check stripe_secret_key)" : "");
	}
	if (rc != OK) {
		json_decref(r->doc);
		r->doc = NULL;
	}
	goto out;
nomem:
	snprintf(r->error, sizeof(r->error), "out of memory");
out:
	if (auth.data != NULL)
		sodium_memzero(auth.data, auth.len);
	/* curl's copy of the Authorization line, the first. */
	if (hdrs != NULL && hdrs->data != NULL)
		sodium_memzero(hdrs->data, strlen(hdrs->data));
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	buf_free(&auth);
	buf_free(&url);
	buf_free(&b);
	return (rc);
}
