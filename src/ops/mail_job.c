/*
 * Mail as a job. ops_mail_enqueue validates and renders up front and
 * records the message in email_log as 'queued'; the mail.send job renders
 * again (templates are deterministic), sends through SMTP and moves the
 * log row to 'sent', or records the error, 'failed' after the last attempt.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/log.h"
#include "core/mail.h"
#include "core/util.h"
#include "ops/ops.h"
#include "ops/ops_int.h"
#include "store/jobs.h"
#include "store/store.h"

static int	email_log_update(struct store *, const char *, const char *,
		    int, const char *);

static const struct mail_template builtin_templates[] = {
	{
		"test",
		"carebase test message",
		"Hello,\n\nThis is a test message from carebase at {{public_url}}.\n"
		"If you can read it, outgoing mail works.\n",
		"<p>Hello,</p><p>This is a test message from carebase at "
		"<a href=\"{{public_url}}\">{{public_url}}</a>.</p>"
		"<p>If you can read it, outgoing mail works.</p>",
	},
};

int
mail_templates_init(void)
{
	size_t	 i;
	int	 rc;

	for (i = 0; i < sizeof(builtin_templates) / sizeof(builtin_templates[0]);
	    i++)
		if ((rc = mail_template_register(&builtin_templates[i])) != OK)
			return (rc);
	return (OK);
}

int
ops_mail_enqueue(struct tx *tx, const char *to, const char *template,
    json_t *vars, char *log_id_out)
{
	char		 log_id[UUID_STR_LEN], job_id[JOB_ID_LEN];
	char		*subject = NULL, *text = NULL, *html = NULL, *payload = NULL;
	json_t		*p = NULL;
	struct stmt	*st;
	int64_t		 now = time_now_ms();
	int		 rc;

	if (!mail_address_valid(to))
		return (ERR_INVALID);
	if ((rc = mail_render(template, vars, &subject, &text, &html)) != OK)
		goto out;
	uuid_v7(log_id);
	rc = ERR_NOMEM;
	if ((p = json_pack("{s:s, s:s, s:O, s:s}", "to", to, "template",
	    template, "vars", vars != NULL ? vars : json_object(), "log_id",
	    log_id)) == NULL ||
	    (payload = json_dumps(p, JSON_COMPACT)) == NULL)
		goto out;
	if ((rc = jobs_enqueue(tx, "mail.send", payload, "mail", 0, job_id)) != OK)
		goto out;
	st = store_prepare(tx, "INSERT INTO email_log (id, recipient, subject, "
	    "template, status, attempts, job_id, created_at, updated_at) "
	    "VALUES (?, ?, ?, ?, 'queued', 0, ?, ?, ?)");
	store_bind_text(st, 1, log_id);
	store_bind_text(st, 2, to);
	store_bind_text(st, 3, subject);
	store_bind_text(st, 4, template);
	store_bind_text(st, 5, job_id);
	store_bind_int64(st, 6, now);
	store_bind_int64(st, 7, now);
	rc = store_step(st) == STORE_DONE ? OK : ERR_DB;
	store_finalize(st);
	if (rc == OK && log_id_out != NULL)
		memcpy(log_id_out, log_id, UUID_STR_LEN);
out:
	free(subject);
	free(text);
	free(html);
	free(payload);
	json_decref(p);
	return (rc);
}

struct log_update {
	const char	*log_id;
	const char	*status;
	int		 attempt;
	const char	*error;
};

static int
email_log_update_tx(struct tx *tx, void *arg)
{
	struct log_update	*u = arg;
	struct stmt		*st;
	int64_t			 now = time_now_ms();
	int			 rc;

	st = store_prepare(tx, "UPDATE email_log SET status = ?, attempts = ?, "
	    "error = ?, sent_at = ?, updated_at = ? WHERE id = ?");
	store_bind_text(st, 1, u->status);
	store_bind_int64(st, 2, u->attempt);
	store_bind_text(st, 3, u->error);
	if (strcmp(u->status, "sent") == 0)
		store_bind_int64(st, 4, now);
	else
		store_bind_null(st, 4);
	store_bind_int64(st, 5, now);
	store_bind_text(st, 6, u->log_id);
	rc = store_step(st) == STORE_DONE ? OK : ERR_DB;
	store_finalize(st);
	return (rc);
}

static int
email_log_update(struct store *db, const char *log_id, const char *status,
    int attempt, const char *error)
{
	struct log_update u = {log_id, status, attempt, error};

	return (store_run(db, STORE_TX_WRITE, email_log_update_tx, &u));
}

int
mail_job_run(struct store *db, const struct job *job, char *err)
{
	struct mail_msg	 msg;
	json_t		*p;
	json_error_t	 jerr;
	const char	*to, *template, *log_id;
	char		*subject = NULL, *text = NULL, *html = NULL;
	int		 rc, last;

	if ((p = json_loads(job->payload, 0, &jerr)) == NULL ||
	    json_unpack(p, "{s:s, s:s, s:s}", "to", &to, "template", &template,
	    "log_id", &log_id) != 0) {
		snprintf(err, JOB_ERR_LEN, "mail.send: malformed payload");
		json_decref(p);
		return (ERR_INVALID);
	}
	last = job->attempt >= job->max_attempts;
	if ((rc = mail_render(template, json_object_get(p, "vars"), &subject,
	    &text, &html)) != OK) {
		snprintf(err, JOB_ERR_LEN, "mail.send: template %s does not render",
		    template);
		goto out;
	}
	msg.to = to;
	msg.subject = subject;
	msg.text = text;
	msg.html = html;
	if ((rc = mail_send(&msg, err, JOB_ERR_LEN)) != OK) {
		if (err[0] == '\0')
			snprintf(err, JOB_ERR_LEN, "mail.send: %s", err_code(rc));
		goto out;
	}
	if (email_log_update(db, log_id, "sent", job->attempt, NULL) != OK)
		log_warn("event=email_log_update_failed job=%s", job->id);
out:
	if (rc != OK && email_log_update(db, log_id, last ? "failed" : "queued",
	    job->attempt, err) != OK)
		log_warn("event=email_log_update_failed job=%s", job->id);
	free(subject);
	free(text);
	free(html);
	json_decref(p);
	return (rc);
}
