/*
 * A notification's SMS: the training.notify_sms job (payload
 * {"notification_id"}) POSTs to the provider's endpoint (config sms_url)
 *
 *	{"to": "+447700900123", "from": sms_sender, "body": "<title>:
 *	 <message>", "reference": "<notification id>"}
 *
 * with Authorization: Bearer sms_token and Idempotency-Key: the
 * notification's id (a retry after a lost answer sends the same key), at
 * most sms_timeout_s. The number is the person's phone at the time of
 * sending (an E.164 number, else the SMS fails: not retried), opened
 * with their key; it is in no log line, no error and no job payload, and
 * wiped after use. The body is at most SMS_BODY_MAX bytes (cut on a
 * character's boundary).
 *
 * 2xx: sent. No answer, a timeout, 408, 429 or 5xx: retried with the job
 * queue's backoff; after the last attempt the job is in failed_jobs and
 * the notification's SMS failed. Any other answer, or no sms_url set:
 * failed at once, the job in failed_jobs (`carebase jobs retry ID` sends
 * it once put right). The network call is made outside any transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "resource/hooks.h"
#include "resource/resource.h"
#include "store/jobs.h"
#include "store/store.h"
#include "training/training_int.h"

#define SMS_BODY_MAX	 480	     /* bytes: three concatenated SMS */
#define SMS_RESPONSE_MAX (16 * 1024) /* bytes of an answer read */

/* What the job sends, opened in a read transaction. */
struct sms {
	const char *id;
	char	   *phone; /* wiped */
	char	   *text;
	int	    done; /* sent already: a repeat run */
	int	    gone; /* no row, or no one to send to */
	int	    bad_phone;
};

struct sms_outcome {
	const char *id;
	const char *status;
	const char *error;
};

static int    sms_load_tx(struct tx *, void *);
static int    sms_outcome_tx(struct tx *, void *);
static int    sms_post(const struct sms *, char *err, int *give_up);
static size_t sms_write(char *, size_t, size_t, void *);
static void   sms_free(struct sms *);
static void   utf8_cut(char *s, size_t max);

static void
utf8_cut(char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return;
	/* Back to the start of a character. */
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	s[max] = '\0';
}

static int
sms_load_tx(struct tx *tx, void *arg)
{
	struct sms	     *m = arg;
	struct person_contact pc;
	struct stmt	     *st;
	json_t		     *row = NULL;
	char		      user[UUID_STR_LEN];
	int		      rc;

	sms_free(m);
	st = store_prepare(tx,
	    "SELECT user_id, COALESCE(sms_status, '') FROM notifications "
	    "WHERE id = ?");
	store_bind_text(st, 1, m->id);
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(user, store_col_text(st, 0), sizeof(user));
		m->done = strcmp(store_col_text(st, 1), "sent") == 0;
	}
	store_finalize(st);
	if (rc != STORE_ROW) {
		m->gone = rc == STORE_DONE;
		return (rc == STORE_DONE ? OK : rc);
	}
	if (m->done)
		return (OK);
	memset(&pc, 0, sizeof(pc));
	if ((rc = hooks_contact(tx, user, 0, &pc)) != OK || pc.deleted) {
		hooks_contact_clear(&pc);
		m->gone = 1;
		return (rc == OK || rc == ERR_NOT_FOUND || rc == ERR_INVALID
			? OK
			: rc);
	}
	if (!training_e164_ok(pc.phone))
		m->bad_phone = 1;
	else if ((m->phone = strdup(pc.phone)) == NULL) {
		hooks_contact_clear(&pc);
		return (ERR_NOMEM);
	}
	hooks_contact_clear(&pc);
	if ((rc = resource_read(
		 tx, &notifications_resource, m->id, SCOPE_ALL, &row)) != OK)
		return (rc);
	if (asprintf(&m->text, "%s: %s",
		json_string_value(json_object_get(row, "title")) != NULL
		    ? json_string_value(json_object_get(row, "title"))
		    : "",
		json_string_value(json_object_get(row, "message")) != NULL
		    ? json_string_value(json_object_get(row, "message"))
		    : "") < 0)
		m->text = NULL;
	json_decref(row);
	if (m->text == NULL)
		return (ERR_NOMEM);
	utf8_cut(m->text, SMS_BODY_MAX);
	return (OK);
}

static void
sms_free(struct sms *m)
{
	if (m->phone != NULL) {
		sodium_memzero(m->phone, strlen(m->phone));
		free(m->phone);
	}
	free(m->text);
	m->phone = m->text = NULL;
	m->done = m->gone = m->bad_phone = 0;
}

static int
sms_outcome_tx(struct tx *tx, void *arg)
{
	struct sms_outcome *o = arg;
	struct stmt	   *st;
	int		    rc;

	st = store_prepare(tx,
	    "UPDATE notifications SET sms_status = ?, sms_error = ?, "
	    "updated_at = ? WHERE id = ?");
	store_bind_text(st, 1, o->status);
	store_bind_text(st, 2, o->error);
	store_bind_int64(st, 3, time_now_ms());
	store_bind_text(st, 4, o->id);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc);
	return (training_notify_status(tx, o->id));
}

static size_t
sms_write(char *data, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	if (buf_append(b, data, size * n) != OK)
		return (0);
	return (size * n);
}

/* One POST: OK for a 2xx, ERR_UNAVAILABLE for what a retry may mend,
 * ERR_FORBIDDEN with *give_up for the rest; err says which. */
static int
sms_post(const struct sms *m, char *err, int *give_up)
{
	CURL		  *c = NULL;
	CURLcode	   cc;
	struct curl_slist *hdrs = NULL, *h;
	struct buf	   b;
	json_t		  *doc;
	char		  *body = NULL, *auth = NULL, idem[96];
	long		   code = 0;
	int		   rc = ERR_NOMEM;

	buf_init(&b, SMS_RESPONSE_MAX);
	snprintf(idem, sizeof(idem), "Idempotency-Key: %s", m->id);
	doc = json_pack("{s:s,s:s,s:s,s:s}", "to", m->phone, "from",
	    config.sms_sender, "body", m->text, "reference", m->id);
	if (doc == NULL || (body = json_dumps(doc, JSON_COMPACT)) == NULL ||
	    (c = curl_easy_init()) == NULL)
		goto nomem;
	if ((h = curl_slist_append(hdrs, "Content-Type: application/json")) ==
	    NULL)
		goto nomem;
	hdrs = h;
	if ((h = curl_slist_append(hdrs, idem)) == NULL)
		goto nomem;
	hdrs = h;
	if (config.sms_token[0] != '\0') {
		if (asprintf(&auth, "Authorization: Bearer %s",
			config.sms_token) < 0) {
			auth = NULL;
			goto nomem;
		}
		if ((h = curl_slist_append(hdrs, auth)) == NULL)
			goto nomem;
		hdrs = h;
	}
	curl_easy_setopt(c, CURLOPT_URL, config.sms_url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "carebase");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)config.sms_timeout_s);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)config.sms_timeout_s);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sms_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	rc = ERR_UNAVAILABLE;
	if (cc == CURLE_OPERATION_TIMEDOUT)
		snprintf(err, JOB_ERR_LEN,
		    "%s: the SMS provider did not answer within %llds",
		    TRAINING_NOTIFY_SMS_JOB, (long long)config.sms_timeout_s);
	else if (cc == CURLE_WRITE_ERROR && code >= 200 && code <= 299)
		rc = OK; /* sent; only its long answer was cut */
	else if (cc != CURLE_OK && cc != CURLE_WRITE_ERROR)
		snprintf(err, JOB_ERR_LEN,
		    "%s: the SMS provider could not be reached: %s",
		    TRAINING_NOTIFY_SMS_JOB, curl_easy_strerror(cc));
	else if (code >= 200 && code <= 299)
		rc = OK;
	else if (code == 408 || code == 429 || code >= 500)
		snprintf(err, JOB_ERR_LEN,
		    "%s: the SMS provider answered HTTP %ld",
		    TRAINING_NOTIFY_SMS_JOB, code);
	else {
		rc = ERR_FORBIDDEN;
		*give_up = 1;
		snprintf(err, JOB_ERR_LEN,
		    "%s: the SMS provider refused it with HTTP %ld; not "
		    "retried%s",
		    TRAINING_NOTIFY_SMS_JOB, code,
		    code == 401 || code == 403 ? " (check sms_token)" : "");
	}
	goto out;
nomem:
	snprintf(
	    err, JOB_ERR_LEN, "%s: out of memory", TRAINING_NOTIFY_SMS_JOB);
out:
	if (body != NULL) {
		sodium_memzero(body, strlen(body)); /* holds the number */
		free(body);
	}
	json_decref(doc);
	if (auth != NULL) {
		sodium_memzero(auth, strlen(auth));
		free(auth);
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	buf_free(&b);
	return (rc);
}

int
training_notify_sms_job(struct store *db, const struct job *job, char *err)
{
	struct sms	   m;
	struct sms_outcome o;
	json_t		  *p;
	int		   rc, urc, give_up = 0;

	memset(&m, 0, sizeof(m));
	if ((p = json_loads(job->payload, 0, NULL)) == NULL ||
	    (m.id = json_string_value(json_object_get(p, "notification_id"))) ==
		NULL ||
	    !uuid_valid(m.id)) {
		snprintf(err, JOB_ERR_LEN, "%s: malformed payload",
		    TRAINING_NOTIFY_SMS_JOB);
		json_decref(p);
		*job->give_up = 1;
		return (ERR_INVALID);
	}
	if ((rc = store_run(db, STORE_TX_READ, sms_load_tx, &m)) != OK) {
		snprintf(err, JOB_ERR_LEN, "%s: notification %s: %s",
		    TRAINING_NOTIFY_SMS_JOB, m.id, err_code(rc));
		goto out;
	}
	if (m.done || m.gone)
		goto out; /* a repeat run, or no one to send to any more */
	if (config.sms_url[0] == '\0') {
		rc = ERR_CONFIG;
		give_up = 1;
		snprintf(err, JOB_ERR_LEN,
		    "%s: sms_url is not set: no SMS can be sent",
		    TRAINING_NOTIFY_SMS_JOB);
	} else if (m.bad_phone) {
		rc = ERR_INVALID;
		give_up = 1;
		snprintf(err, JOB_ERR_LEN,
		    "%s: the person's phone is not an E.164 number",
		    TRAINING_NOTIFY_SMS_JOB);
	} else
		rc = sms_post(&m, err, &give_up);
	o.id = m.id;
	if (rc == OK) {
		o.status = "sent";
		o.error = NULL;
	} else if (give_up || job->attempt >= job->max_attempts) {
		o.status = "failed";
		o.error = err;
	} else
		o.status = NULL; /* tried again later: still queued */
	/* Sent but not recorded: the job runs again and sends the same
	 * Idempotency-Key, which the provider answers without a second
	 * message. */
	if (o.status != NULL &&
	    (urc = store_run(db, STORE_TX_WRITE, sms_outcome_tx, &o)) != OK) {
		log_warn("event=training_notify_sms_update_failed "
			 "notification_id=%s",
		    m.id);
		if (rc == OK) {
			rc = urc;
			snprintf(err, JOB_ERR_LEN, "%s: sent, not recorded: %s",
			    TRAINING_NOTIFY_SMS_JOB, err_code(urc));
		}
	}
	if (give_up)
		*job->give_up = 1;
out:
	sms_free(&m);
	json_decref(p);
	return (rc);
}
