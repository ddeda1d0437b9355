/*
 * Paging. The generic lists' cursors: base64url of {"s": sort spec, "v":
 * last sort value, "i": last id} and a keyed MAC (derived from the index
 * key, so every process of a deployment agrees), so a client can neither
 * forge one nor reuse one with another sort. Hand-written lists (and
 * RESOURCE_ID_PAGED ones) page by a key of their rows as it is: the last
 * id (oldest or newest first), or the last of an integer sequence
 * (newest first).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/err.h"
#include "core/keyring.h"
#include "core/util.h"
#include "http/http.h"
#include "resource/resource.h"
#include "resource/resource_int.h"

/* The names page_only reads before it refuses the first unknown one. */
#define PAGE_PARAMS_MAX 8

#define CURSOR_MAC_LEN 16

static pthread_once_t cursor_once = PTHREAD_ONCE_INIT;
static unsigned char  cursor_fallback[32];

static void cursor_fallback_init(void);
static void cursor_key(unsigned char[32]);
static void cursor_mac(
    const unsigned char *, size_t, unsigned char[CURSOR_MAC_LEN]);
static int page_only(struct request *);

static void
cursor_fallback_init(void)
{
	randombytes_buf(cursor_fallback, sizeof(cursor_fallback));
}

/* Derived from the index key, so every process of a deployment agrees;
 * a random per-process key before keyring_init (tests, tools). */
static void
cursor_key(unsigned char key[32])
{
	const unsigned char *k = keyring_key(KEY_INDEX);

	if (k == NULL) {
		pthread_once(&cursor_once, cursor_fallback_init);
		memcpy(key, cursor_fallback, 32);
		return;
	}
	crypto_generichash(
	    key, 32, (const unsigned char *)"carebase.cursor", 15, k, 32);
}

static void
cursor_mac(const unsigned char *p, size_t n, unsigned char mac[CURSOR_MAC_LEN])
{
	unsigned char key[32];

	cursor_key(key);
	crypto_generichash(mac, CURSOR_MAC_LEN, p, n, key, sizeof(key));
	sodium_memzero(key, sizeof(key));
}

int
resource_cursor_encode(
    const char *spec, json_t *value, const char *id, char **out)
{
	json_t	      *o;
	char	      *js = NULL;
	unsigned char *raw = NULL;
	size_t	       n, cap;
	int	       rc = ERR_NOMEM;

	*out = NULL;
	o = json_pack("{s:s,s:O,s:s}", "s", spec, "v",
	    value ? value : json_null(), "i", id);
	if (o == NULL || (js = json_dumps(o, JSON_COMPACT)) == NULL)
		goto out;
	n = strlen(js);
	if ((raw = malloc(n + CURSOR_MAC_LEN)) == NULL)
		goto out;
	memcpy(raw, js, n);
	cursor_mac(raw, n, raw + n);
	cap = sodium_base64_ENCODED_LEN(
	    n + CURSOR_MAC_LEN, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if ((*out = malloc(cap)) == NULL)
		goto out;
	sodium_bin2base64(*out, cap, raw, n + CURSOR_MAC_LEN,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	rc = OK;
out:
	json_decref(o);
	free(js);
	free(raw);
	return (rc);
}

int
resource_cursor_decode(
    const char *cursor, const char *spec, json_t **value, char id[37])
{
	unsigned char raw[RESOURCE_CURSOR_MAX], mac[CURSOR_MAC_LEN];
	size_t	      n;
	json_t	     *o = NULL, *v;
	const char   *s, *i;
	int	      rc = ERR_INVALID;

	*value = NULL;
	if (cursor == NULL || strlen(cursor) > RESOURCE_CURSOR_MAX ||
	    sodium_base642bin(raw, sizeof(raw), cursor, strlen(cursor), NULL,
		&n, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    n <= CURSOR_MAC_LEN)
		return (ERR_INVALID);
	n -= CURSOR_MAC_LEN;
	cursor_mac(raw, n, mac);
	if (sodium_memcmp(mac, raw + n, CURSOR_MAC_LEN) != 0)
		return (ERR_INVALID);
	if ((o = json_loadb((const char *)raw, n, 0, NULL)) == NULL ||
	    (s = json_string_value(json_object_get(o, "s"))) == NULL ||
	    (i = json_string_value(json_object_get(o, "i"))) == NULL ||
	    (v = json_object_get(o, "v")) == NULL)
		goto out;
	if (strcmp(s, spec) != 0 || !uuid_valid(i) ||
	    !(json_is_null(v) || json_is_integer(v) || json_is_string(v)))
		goto out;
	strlcpy_cb(id, i, 37);
	*value = json_incref(v);
	rc = OK;
out:
	json_decref(o);
	return (rc);
}

/* Hand-written lists: by id either way, or by an integer sequence */

/* ?cursor= and ?limit= for a list keyed by key; bad ones into errs. */
void
resource_page_parse(struct request *req, int64_t max, enum page_key key,
    struct resource_page *pg, json_t *errs)
{
	const char *c = http_query(req, "cursor");
	const char *l = http_query(req, "limit");
	char	    detail[64];

	pg->key = key;
	pg->after = "";
	pg->after_seq = 0;
	pg->limit = RESOURCE_PAGE_DEFAULT < max ? RESOURCE_PAGE_DEFAULT : max;
	if (c != NULL &&
	    (key == PAGE_SEQ_DESC
		    ? parse_int64(c, 1, INT64_MAX, &pg->after_seq) != 0
		    : !uuid_valid(c))) {
		pg->after_seq = 0;
		resource_field_err(errs, "cursor", "invalid_format",
		    "must be the next_cursor of a previous page");
	} else if (c != NULL && key != PAGE_SEQ_DESC)
		pg->after = c;
	if (l != NULL && parse_int64(l, 1, max, &pg->limit) != 0) {
		snprintf(detail, sizeof(detail), "1 to %lld", (long long)max);
		resource_field_err(errs, "limit", "out_of_range", detail);
	}
}

void
page_parse(
    struct request *req, int64_t max, struct resource_page *pg, json_t *errs)
{
	resource_page_parse(req, max, PAGE_ID, pg, errs);
}

int
resource_page_args_by(struct request *req, int64_t max, enum page_key key,
    struct resource_page *pg)
{
	json_t *errs;

	if ((errs = json_array()) == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "Out of memory.");
		return (ERR_NOMEM);
	}
	resource_page_parse(req, max, key, pg, errs);
	return (resource_errs_answer(req, errs, "The query"));
}

int
resource_page_args(struct request *req, int64_t max, struct resource_page *pg)
{
	return (resource_page_args_by(req, max, PAGE_ID, pg));
}

void
resource_page_bad_limit(struct request *req, int64_t max)
{
	http_problem_ext(req, ERR_MALFORMED, "INVALID_PARAMETER",
	    json_pack("{s:s}", "parameter", "limit"),
	    "limit: must be an integer from 1 to %lld", (long long)max);
}

void
resource_page_bad_cursor(struct request *req)
{
	http_problem(req, ERR_MALFORMED, "INVALID_CURSOR",
	    "The cursor is not valid for this list and sort.");
}

/*
 * No parameter but limit and cursor: another is refused as a declared
 * list refuses it (400 UNKNOWN_PARAMETER naming it), so that a misspelt
 * ?limt= is not a silent first page.
 */
static int
page_only(struct request *req)
{
	const char *names[PAGE_PARAMS_MAX + 1];
	int	    i, n;

	switch (http_query_names(req, names, PAGE_PARAMS_MAX + 1, &n)) {
	case OK:
	case ERR_TOO_LARGE:
		break;
	case ERR_MALFORMED:
		http_problem(req, ERR_MALFORMED, "INVALID_PARAMETER",
		    "A query parameter name is not valid.");
		return (ERR_MALFORMED);
	default:
		http_problem(req, ERR_NOMEM, NULL, "Out of memory.");
		return (ERR_NOMEM);
	}
	for (i = 0; i < n; i++) {
		if (strcmp(names[i], "limit") == 0 ||
		    strcmp(names[i], "cursor") == 0)
			continue;
		http_problem_ext(req, ERR_MALFORMED, "UNKNOWN_PARAMETER",
		    json_pack("{s:s}", "parameter", names[i]),
		    "Unknown query parameter: %s", names[i]);
		return (ERR_MALFORMED);
	}
	return (OK);
}

int
resource_page_query(struct request *req, int64_t max, enum page_key key,
    struct resource_page *pg)
{
	json_t	   *errs, *e;
	const char *field;
	int	    rc = OK;

	if ((rc = page_only(req)) != OK)
		return (rc);
	if ((errs = json_array()) == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "Out of memory.");
		return (ERR_NOMEM);
	}
	resource_page_parse(req, max, key, pg, errs);
	if ((e = json_array_get(errs, 0)) != NULL) {
		field = json_string_value(json_object_get(e, "field"));
		if (field != NULL && strcmp(field, "limit") == 0)
			resource_page_bad_limit(req, max);
		else
			resource_page_bad_cursor(req);
		rc = ERR_MALFORMED;
	}
	json_decref(errs);
	return (rc);
}

json_t *
resource_page_json(const struct resource_page *pg, json_t *data)
{
	json_t *last = NULL, *next = NULL;
	char	seq[24];

	if (data == NULL)
		return (NULL);
	if (json_array_size(data) > (size_t)pg->limit) {
		/* Rows past the page: there is a next one. */
		while (json_array_size(data) > (size_t)pg->limit)
			json_array_remove(data, json_array_size(data) - 1);
		last = json_array_get(data, json_array_size(data) - 1);
	}
	if (last != NULL && pg->key == PAGE_SEQ_DESC &&
	    json_is_integer(json_object_get(last, "seq"))) {
		snprintf(seq, sizeof(seq), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(json_object_get(last, "seq")));
		next = json_string(seq);
	} else if (last != NULL && pg->key != PAGE_SEQ_DESC)
		next = json_incref(json_object_get(last, "id"));
	return (json_pack("{s:o,s:o}", "data", data, "next_cursor",
	    next != NULL ? next : json_null()));
}
