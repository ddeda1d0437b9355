/*
 * The exchange with the chat provider (the shape of Crisp's people data
 * API; see chatsync.c): the push of a profile, the delete of one, and the
 * one request both are made of, with HTTP basic auth (chat_sync_identifier
 * : chat_sync_key) and X-Crisp-Tier: plugin, at most chat_sync_timeout_s
 * each. 2xx is success; 408, 429, 5xx, a timeout or no connection may be
 * mended by a retry; any other answer gives up (with the status and
 * Crisp's reason). At most CHAT_RESPONSE_MAX bytes of an answer are read.
 * The person's address is sent to the provider only: it is in no error
 * and no log line, and wiped from memory after use.
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
#include "module.h"
#include "ops/chatsync_int.h"
#include "store/jobs.h"

#define CHAT_RESPONSE_MAX (64 * 1024) /* bytes of an answer read */
#define CHAT_REASON_MAX	  64

static int chat_request(const char *kind, const char *method, const char *path,
    const char *people_id, const char *body, char *err, int *give_up);
static size_t chat_write(char *, size_t, size_t, void *);
static void   chat_reason(const struct buf *, char *out, size_t n);

int
chat_push(const struct profile *p, char *err, int *give_up)
{
	json_t *doc;
	char   *data = NULL, *person = NULL;
	int	rc = ERR_NOMEM;

	doc = json_pack("{s:O}", "data", p->data);
	if (doc == NULL ||
	    (data = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		goto nomem;
	json_decref(doc);
	doc = NULL;
	rc = chat_request(CHAT_SYNC_KIND, "PUT", "people/data/", p->email, data,
	    err, give_up);
	if (rc != ERR_NOT_FOUND)
		goto out;
	/* No such person yet: make the profile, then send the data again. */
	doc = json_pack("{s:s,s:{s:s}}", "email", p->email, "person",
	    "nickname", p->nickname);
	if (doc == NULL ||
	    (person = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		goto nomem;
	json_decref(doc); /* it holds the email too */
	doc = NULL;
	rc = chat_request(CHAT_SYNC_KIND, "POST", "people/profile", NULL,
	    person, err, give_up);
	if (rc != OK && rc != ERR_CONFLICT) /* 409: made meanwhile */
		goto out;
	if ((rc = chat_request(CHAT_SYNC_KIND, "PUT", "people/data/", p->email,
		 data, err, give_up)) == ERR_NOT_FOUND) {
		*give_up = 1;
		snprintf(err, JOB_ERR_LEN,
		    "%s: the chat provider made the "
		    "profile but still has no such person (HTTP 404)",
		    CHAT_SYNC_KIND);
	}
	goto out;
nomem:
	json_decref(doc);
	rc = ERR_NOMEM;
	snprintf(err, JOB_ERR_LEN, "%s: out of memory", CHAT_SYNC_KIND);
out:
	if (person != NULL) {
		sodium_memzero(person, strlen(person));
		free(person);
	}
	free(data);
	return (rc);
}

/* libcurl write callback: keep at most CHAT_RESPONSE_MAX bytes; a short
 * count ends the transfer. */
static size_t
chat_write(char *data, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	if (buf_append(b, data, size * n) != OK)
		return (0);
	return (size * n);
}

/* Crisp's {"reason": "..."} when it is a plain token, else "". */
static void
chat_reason(const struct buf *b, char *out, size_t n)
{
	json_t	   *doc;
	const char *r, *s;

	out[0] = '\0';
	if (b->len == 0 || (doc = json_loadb(b->data, b->len, 0, NULL)) == NULL)
		return;
	if ((r = json_string_value(json_object_get(doc, "reason"))) != NULL &&
	    strlen(r) > 0 && strlen(r) <= CHAT_REASON_MAX) {
		for (s = r; *s != '\0'; s++)
			if (!islower((unsigned char)*s) &&
			    !isdigit((unsigned char)*s) && *s != '_')
				break;
		if (*s == '\0')
			strlcpy_cb(out, r, n);
	}
	json_decref(doc);
}

/*
 * Delete the profile under people_id at the provider: OK when it went or
 * was not there (404); else as chat_request (a 409 gives up).
 */
int
chat_forget(const char *kind, const char *people_id, char *err, int *give_up)
{
	int rc;

	rc = chat_request(
	    kind, "DELETE", "people/profile/", people_id, NULL, err, give_up);
	if (rc == ERR_NOT_FOUND)
		return (OK);
	if (rc == ERR_CONFLICT) {
		*give_up = 1;
		snprintf(err, JOB_ERR_LEN,
		    "%s: DELETE people/profile/: the "
		    "chat provider refused it with HTTP 409; not retried",
		    kind);
	}
	return (rc);
}

/*
 * One request to <chat_sync_url>/website/<id>/<path>[<people_id>], with
 * body (NULL: none): OK for a 2xx, ERR_NOT_FOUND for 404 and ERR_CONFLICT
 * for 409 (err untouched); ERR_UNAVAILABLE for what a retry may mend and
 * ERR_FORBIDDEN with *give_up set for the rest (err says which, prefixed
 * with the job kind, without the people id).
 */
static int
chat_request(const char *kind, const char *method, const char *path,
    const char *people_id, const char *body, char *err, int *give_up)
{
	static const char *const headers[] = {
		"Content-Type: application/json",
		"Accept: application/json",
		"X-Crisp-Tier: plugin",
	};
	CURL		  *c = NULL;
	CURLcode	   cc;
	struct curl_slist *hdrs = NULL, *h;
	struct buf	   b;
	const char	  *base = config.chat_sync_url;
	char		  *site = NULL, *pid = NULL, *url = NULL;
	char		   reason[CHAT_REASON_MAX + 1];
	size_t		   blen = strlen(base), ulen, i;
	long		   code = 0;
	int		   rc = ERR_NOMEM;

	buf_init(&b, CHAT_RESPONSE_MAX);
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	if ((c = curl_easy_init()) == NULL ||
	    (site = curl_easy_escape(c, config.chat_sync_website_id, 0)) ==
		NULL ||
	    (people_id != NULL &&
		(pid = curl_easy_escape(c, people_id, 0)) == NULL))
		goto nomem;
	ulen = blen + strlen(site) + strlen(path) +
	    (pid != NULL ? strlen(pid) : 0) + 16;
	if ((url = malloc(ulen)) == NULL)
		goto nomem;
	snprintf(url, ulen, "%.*s/website/%s/%s%s", (int)blen, base, site, path,
	    pid != NULL ? pid : "");
	for (i = 0; i < NELEM(headers); i++) {
		if ((h = curl_slist_append(hdrs, headers[i])) == NULL)
			goto nomem;
		hdrs = h;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "carebase");
	if (config.chat_sync_identifier[0] != '\0') {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(
		    c, CURLOPT_USERNAME, config.chat_sync_identifier);
		curl_easy_setopt(c, CURLOPT_PASSWORD, config.chat_sync_key);
	}
	curl_easy_setopt(
	    c, CURLOPT_CONNECTTIMEOUT, (long)config.chat_sync_timeout_s);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)config.chat_sync_timeout_s);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, chat_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	chat_reason(&b, reason, sizeof(reason));
	rc = ERR_UNAVAILABLE;
	if (cc == CURLE_WRITE_ERROR)
		snprintf(err, JOB_ERR_LEN,
		    "%s: %s %s: the chat provider's "
		    "answer is over %d bytes",
		    kind, method, path, CHAT_RESPONSE_MAX);
	else if (cc == CURLE_OPERATION_TIMEDOUT)
		snprintf(err, JOB_ERR_LEN,
		    "%s: %s %s: the chat provider did "
		    "not answer within %llds",
		    kind, method, path, (long long)config.chat_sync_timeout_s);
	else if (cc != CURLE_OK)
		snprintf(err, JOB_ERR_LEN,
		    "%s: %s %s: the chat provider could "
		    "not be reached: %s",
		    kind, method, path, curl_easy_strerror(cc));
	else if (code >= 200 && code <= 299)
		rc = OK;
	else if (code == 404)
		rc = ERR_NOT_FOUND;
	else if (code == 409)
		rc = ERR_CONFLICT;
	else if (code == 408 || code == 429 || code >= 500)
		snprintf(err, JOB_ERR_LEN,
		    "%s: %s %s: the chat provider "
		    "answered HTTP %ld%s%s",
		    kind, method, path, code,
		    reason[0] != '\0' ? ", reason " : "", reason);
	else {
		rc = ERR_FORBIDDEN;
		*give_up = 1;
		snprintf(err, JOB_ERR_LEN,
		    "%s: %s %s: the chat provider "
		    "refused it with HTTP %ld%s%s; not retried%s",
		    kind, method, path, code,
		    reason[0] != '\0' ? ", reason " : "", reason,
		    code == 401 || code == 403 ? " (check chat_sync_identifier "
						 "and chat_sync_key)"
					       : "");
	}
	goto out;
nomem:
	snprintf(err, JOB_ERR_LEN, "%s: out of memory", kind);
out:
	if (url != NULL) {
		sodium_memzero(url, strlen(url)); /* holds the email */
		free(url);
	}
	if (pid != NULL) {
		sodium_memzero(pid, strlen(pid));
		curl_free(pid);
	}
	curl_free(site);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	buf_free(&b);
	return (rc);
}
