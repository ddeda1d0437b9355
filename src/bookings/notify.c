/*
 * Telling the booking system of an in-app cancel (issue 6). The booking
 * system (Simplybook) only sends to carebase; when a client cancels in
 * the app (app.c) the therapist would still expect them. With
 * booking_cancel_url set, the cancel's transaction also queues one
 * therapy_bookings.notify_cancel job (payload {"booking_code",
 * "cancelled_at", "cancelled_by"}: no personal data), which sends
 *
 *	POST <booking_cancel_url>
 *	Content-Type: application/json
 *	X-Carebase-Timestamp: <unix seconds of this attempt>
 *	X-Carebase-Signature: sha256=<hex HMAC-SHA256 of
 *	    "<timestamp>.<body>" under booking_cancel_secret>
 *	X-Carebase-Delivery: <the job's id, the same on every attempt>
 *
 *	{"event": "booking.cancelled", "booking_code": "...",
 *	 "cancelled_at": "<ISO 8601>", "cancelled_by": "client"|"staff"}
 *
 * to a relay (Zapier, a small service) that cancels the booking in the
 * booking system. A 2xx is success. No connection, a timeout
 * (BOOKINGS_NOTIFY_TIMEOUT_S, connect and transfer), 408, 429 and 5xx fail
 * the attempt and the queue retries with backoff (BOOKINGS_NOTIFY_ATTEMPTS
 * attempts). 404 means the booking system does not know the booking: a
 * warning with the code is logged and the job goes to failed_jobs at
 * once, as it does for any other answer (the status in its error). The
 * relay's echo (CANCELLED_BOOKING for the same code) finds the booking
 * cancelled and gives nothing back twice (webhook.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "bookings/bookings_int.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "store/jobs.h"
#include "store/store.h"

#define SIG_HEX_LEN (crypto_auth_hmacsha256_BYTES * 2 + 1)

static int out_payload(
    const char *, const char **, const char **, const char **, json_t **);
static void out_sign(const char *, const char *, char *);
static int  out_post(
     const struct job *, const char *, const char *, char *, int *);
static size_t out_discard(char *, size_t, size_t, void *);

int
bookings_notify_enabled(void)
{
	return (config.booking_cancel_url != NULL &&
	    config.booking_cancel_url[0] != '\0');
}

/*
 * Queue the notice inside the cancel's transaction; *state says what the
 * answer tells the caller: "queued" or "not_configured" (borrowed).
 */
int
bookings_notify_cancel(struct tx *tx, const char *code,
    const char *cancelled_at, const char *by, const char **state)
{
	json_t *pl;
	char   *text;
	int	rc;

	*state = "not_configured";
	if (!bookings_notify_enabled())
		return (OK);
	if ((pl = json_pack("{s:s,s:s,s:s}", "booking_code", code,
		 "cancelled_at", cancelled_at, "cancelled_by", by)) == NULL)
		return (ERR_NOMEM);
	text = json_dumps(pl, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(pl);
	if (text == NULL)
		return (ERR_NOMEM);
	rc = jobs_enqueue(
	    tx, BOOKINGS_NOTIFY_KIND, text, BOOKINGS_NOTIFY_QUEUE, 0, NULL);
	free(text);
	if (rc == OK)
		*state = "queued";
	return (rc);
}

/* The job's payload, checked: the members borrowed from *doc (owned). */
static int
out_payload(const char *text, const char **code, const char **at,
    const char **by, json_t **doc)
{
	int64_t ms;

	if ((*doc = json_loads(text, 0, NULL)) == NULL ||
	    json_unpack(*doc, "{s:s,s:s,s:s}", "booking_code", code,
		"cancelled_at", at, "cancelled_by", by) != 0 ||
	    (*code)[0] == '\0' || strlen(*code) > BOOKING_CODE_MAX ||
	    time_parse_iso(*at, &ms) != 0 ||
	    (strcmp(*by, "client") != 0 && strcmp(*by, "staff") != 0))
		return (ERR_INVALID);
	return (OK);
}

/* Hex HMAC-SHA256 of "<stamp>.<body>" under booking_cancel_secret. */
static void
out_sign(const char *stamp, const char *body, char *out)
{
	crypto_auth_hmacsha256_state s;
	unsigned char		     mac[crypto_auth_hmacsha256_BYTES];
	const char		    *key = config.booking_cancel_secret;

	crypto_auth_hmacsha256_init(
	    &s, (const unsigned char *)key, strlen(key));
	crypto_auth_hmacsha256_update(
	    &s, (const unsigned char *)stamp, strlen(stamp));
	crypto_auth_hmacsha256_update(&s, (const unsigned char *)".", 1);
	crypto_auth_hmacsha256_update(
	    &s, (const unsigned char *)body, strlen(body));
	crypto_auth_hmacsha256_final(&s, mac);
	sodium_memzero(&s, sizeof(s));
	hex_encode(mac, sizeof(mac), out);
}

/* The therapy_bookings.notify_cancel job. */
int
bookings_notify_job(struct store *db, const struct job *job, char *err)
{
	json_t	   *pl = NULL, *doc = NULL;
	const char *code, *at, *by;
	char	   *body = NULL, qcode[BOOKING_CODE_MAX + 8];
	int	    rc, give_up = 0;

	(void)db;
	if (out_payload(job->payload, &code, &at, &by, &pl) != OK) {
		snprintf(err, JOB_ERR_LEN, "%s: malformed payload",
		    BOOKINGS_NOTIFY_KIND);
		rc = ERR_INVALID;
		give_up = 1;
		goto out;
	}
	log_quote(qcode, sizeof(qcode), code);
	if (!bookings_notify_enabled()) {
		/* Turned off since it was queued: kept for a retry by hand. */
		snprintf(err, JOB_ERR_LEN,
		    "%s: booking_cancel_url is not set; "
		    "booking %s not sent",
		    BOOKINGS_NOTIFY_KIND, qcode);
		rc = ERR_CONFIG;
		give_up = 1;
		goto out;
	}
	if ((doc = json_pack("{s:s,s:s,s:s,s:s}", "event", "booking.cancelled",
		 "booking_code", code, "cancelled_at", at, "cancelled_by",
		 by)) == NULL ||
	    (body = json_dumps(doc, JSON_COMPACT)) == NULL) {
		snprintf(err, JOB_ERR_LEN, "%s: out of memory",
		    BOOKINGS_NOTIFY_KIND);
		rc = ERR_NOMEM;
		goto out;
	}
	rc = out_post(job, body, qcode, err, &give_up);
	if (rc == OK)
		log_info("event=booking_cancel_sent code=%s attempt=%d", qcode,
		    job->attempt);
	else if (rc == ERR_NOT_FOUND)
		log_warn(
		    "event=booking_cancel_unknown code=%s detail=\"the "
		    "booking system does not know the booking (HTTP 404)\"",
		    qcode);
out:
	if (give_up && job->give_up != NULL)
		*job->give_up = 1;
	free(body);
	json_decref(doc);
	json_decref(pl);
	return (rc);
}

/* libcurl write callback: the answer's body is not needed. */
static size_t
out_discard(char *data, size_t size, size_t n, void *arg)
{
	(void)data;
	(void)arg;
	return (size * n);
}

/*
 * POST body to booking_cancel_url, signed: OK for a 2xx; ERR_UNAVAILABLE
 * for what a retry may mend; otherwise *give_up with ERR_NOT_FOUND for
 * 404 and ERR_FORBIDDEN for the rest. err says why, without the URL (it
 * may hold a relay's key).
 */
static int
out_post(const struct job *job, const char *body, const char *qcode, char *err,
    int *give_up)
{
	CURL		  *c = NULL;
	CURLcode	   cc;
	struct curl_slist *hdrs = NULL, *h;
	char		   stamp[24], sig[SIG_HEX_LEN], hv[4][128];
	long		   code = 0;
	int		   rc = ERR_NOMEM;
	size_t		   i;

	snprintf(stamp, sizeof(stamp), "%lld", (long long)time(NULL));
	out_sign(stamp, body, sig);
	snprintf(hv[0], sizeof(hv[0]), "Content-Type: application/json");
	snprintf(hv[1], sizeof(hv[1]), "X-Carebase-Timestamp: %s", stamp);
	snprintf(hv[2], sizeof(hv[2]), "X-Carebase-Signature: sha256=%s", sig);
	snprintf(hv[3], sizeof(hv[3]), "X-Carebase-Delivery: %s", job->id);
	for (i = 0; i < sizeof(hv) / sizeof(hv[0]); i++) {
		if ((h = curl_slist_append(hdrs, hv[i])) == NULL)
			goto nomem;
		hdrs = h;
	}
	if ((c = curl_easy_init()) == NULL)
		goto nomem;
	curl_easy_setopt(c, CURLOPT_URL, config.booking_cancel_url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "carebase");
	curl_easy_setopt(
	    c, CURLOPT_CONNECTTIMEOUT, (long)BOOKINGS_NOTIFY_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)BOOKINGS_NOTIFY_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, out_discard);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	rc = ERR_UNAVAILABLE;
	if (cc == CURLE_OPERATION_TIMEDOUT)
		snprintf(err, JOB_ERR_LEN,
		    "%s: booking %s: the booking system "
		    "did not answer within %ds",
		    BOOKINGS_NOTIFY_KIND, qcode, BOOKINGS_NOTIFY_TIMEOUT_S);
	else if (cc != CURLE_OK)
		snprintf(err, JOB_ERR_LEN,
		    "%s: booking %s: the booking system "
		    "could not be reached: %s",
		    BOOKINGS_NOTIFY_KIND, qcode, curl_easy_strerror(cc));
	else if (code >= 200 && code <= 299)
		rc = OK;
	else if (code == 408 || code == 429 || code >= 500)
		snprintf(err, JOB_ERR_LEN,
		    "%s: booking %s: the booking system "
		    "answered HTTP %ld",
		    BOOKINGS_NOTIFY_KIND, qcode, code);
	else {
		rc = code == 404 ? ERR_NOT_FOUND : ERR_FORBIDDEN;
		*give_up = 1;
		snprintf(err, JOB_ERR_LEN,
		    "%s: booking %s: the booking system "
		    "refused it with HTTP %ld%s; not retried",
		    BOOKINGS_NOTIFY_KIND, qcode, code,
		    code == 404			     ? " (it does not know the "
						       "booking)"
			: code == 401 || code == 403 ? " (check "
						       "booking_cancel_secret)"
						     : "");
	}
	goto out;
nomem:
	snprintf(err, JOB_ERR_LEN, "%s: out of memory", BOOKINGS_NOTIFY_KIND);
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return (rc);
}
