/*
 * Mail as a job. ops_mail_enqueue validates and renders up front and
 * records the message in email_log as 'queued', recipient, subject and
 * variables sealed under the system key; the job payload names only the
 * log row. The mail.send job opens the row, renders again (templates are
 * deterministic), sends through SMTP and moves the row to 'sent', or
 * records the error, 'failed' after the last attempt. Once sent, the
 * variables are cleared: a reset link must not outlive the send. A mail
 * that failed keeps them, so `carebase jobs retry` can still send it.
 *
 * email_log is declared (email_log_resource): admins read it at
 * GET /v1/email-log (email_log:read:all, migration 0023), filtered by
 * status, template, recipient (through its blind index), created_at and
 * sent_at ranges, paged and sorted as every declared list; one row at
 * GET /v1/email-log/{id}. Nobody writes it through the API. Recipient and
 * subject are opened with the system key under the same binding the
 * layer uses ("email_log.<column>:<id>"), and shown to staff (scope all)
 * only; the variables, the job and the user it was for never. Once a
 * mail is sent or has failed for good, the module that queued it is told
 * in the same transaction (hooks_mail_outcome: a notification's email).
 * A person's GDPR export holds the mail for them (their user id) or to
 * their address (the blind index); erasure deletes those rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/config.h"
#include "core/err.h"
#include "core/keyring.h"
#include "core/log.h"
#include "core/mail.h"
#include "core/util.h"
#include "module.h"
#include "ops/ops.h"
#include "ops/ops_int.h"
#include "resource/hooks.h"
#include "resource/resource.h"
#include "store/jobs.h"
#include "store/store.h"

static int email_log_update(
    struct store *, const char *, const char *, int, const char *);

static const char *const mail_statuses[] = { "queued", "sent", "failed", NULL };

static const struct field email_log_fields[] = {
	{ "recipient", FIELD_EMAIL,
	    FIELD_REQUIRED | FIELD_PERSONAL | FIELD_BLIND_INDEX | FIELD_FILTER,
	    0, 0, NULL, NULL, NULL, SEE_ALL,
	    "the address; filter with ?recipient= (blind index)" },
	{ "subject", FIELD_TEXT, FIELD_REQUIRED | FIELD_PERSONAL, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, "the subject as sent" },
	{ "vars", FIELD_JSON, FIELD_NULLABLE | FIELD_PERSONAL | FIELD_HIDDEN, 0,
	    0, NULL, NULL, NULL, 0,
	    "the template's variables (a reset link): cleared once sent" },
	{ "user_id", FIELD_UUID, FIELD_NULLABLE | FIELD_HIDDEN, 0, 0, NULL,
	    NULL, "users", 0, "the user it was sent for, when named" },
	{ "template", FIELD_TEXT, FIELD_REQUIRED | FIELD_FILTER, 0, 0, NULL,
	    NULL, NULL, 0, "the template's name (the kind of mail)" },
	{ "status", FIELD_ENUM, FIELD_REQUIRED | FIELD_FILTER, 0, 0,
	    mail_statuses, NULL, NULL, 0, "queued, sent or failed" },
	{ "attempts", FIELD_INT, 0, 0, 0, NULL, "0", NULL, 0,
	    "sending attempts" },
	{ "sent_at", FIELD_TIME, FIELD_NULLABLE | FIELD_FILTER | FIELD_SORT, 0,
	    0, NULL, NULL, NULL, 0, "when the server took it" },
	{ "error", FIELD_TEXT, FIELD_NULLABLE, 0, 0, NULL, NULL, NULL, 0,
	    "the last failure" },
	{ "job_id", FIELD_TEXT, FIELD_NULLABLE | FIELD_HIDDEN, 0, 0, NULL, NULL,
	    NULL, 0, "the mail.send job" },
	{ "created_at", FIELD_TIME, FIELD_READONLY | FIELD_FILTER | FIELD_SORT,
	    0, 0, NULL, NULL, NULL, 0,
	    "queued; filter with ?created_at_from= and ?created_at_to=" },
	{ "updated_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
};

const struct resource email_log_resource = {
	.name = "email_log",
	.path = "/v1/email-log",
	.table = "email_log",
	.fields = email_log_fields,
	.nfields = NELEM(email_log_fields),
	.owner_column = "user_id",
	.actions = (1 << ACTION_LIST) | (1 << ACTION_READ),
	.flags = RESOURCE_EXPORT_TOP | RESOURCE_SYSTEM_KEY |
	    RESOURCE_ERASE_ROWS | RESOURCE_OWNED_BY_ADDRESS,
	.doc = "Mail queued and sent, with its status and the last error: "
	       "read by admins (filters status, template, recipient, "
	       "created_at and sent_at ranges), the recipient and subject "
	       "opened for staff only. A person's own are in their export "
	       "beside their account, and deleted with them.",
};

/*
 * The layout every message is wrapped in (core/mail.h): the brand's
 * colour as a band at the top with the logo, the message, and a foot
 * naming the deployment and linking to the person's account page.
 */
static const struct mail_template builtin_templates[] = {
	{
	    "layout",
	    "{{brand_name}}",
	    "{{brand_name}}\n\n{{body}}\n--\n{{brand_name}}\n"
	    "Your account: {{public_url}}/account\n",
	    "<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width\">"
	    "<title>{{brand_name}}</title></head>"
	    "<body style=\"margin:0;background:#f4f5f7;font-family:"
	    "Helvetica,Arial,sans-serif;color:#1a1a1a\">"
	    "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" "
	    "cellspacing=\"0\"><tr><td align=\"center\">"
	    "<table role=\"presentation\" width=\"600\" cellpadding=\"0\" "
	    "cellspacing=\"0\" style=\"max-width:600px;background:#ffffff\">"
	    "<tr><td style=\"background:{{brand_colour}};padding:16px 24px;"
	    "color:#ffffff;font-size:20px;font-weight:bold\">{{logo}}</td></tr>"
	    "<tr><td style=\"padding:24px;font-size:16px;line-height:1.5\">"
	    "{{body}}</td></tr>"
	    "<tr><td style=\"padding:16px 24px;font-size:13px;color:#555555;"
	    "border-top:1px solid #e5e7eb\">{{brand_name}} &middot; "
	    "<a href=\"{{public_url}}/account\" style=\"color:{{brand_colour}}"
	    "\">Your account</a></td></tr>"
	    "</table></td></tr></table></body></html>",
	    "{\"body\":\"The message goes here.\"}",
	},
	{
	    "test",
	    "carebase test message",
	    "Hello,\n\nThis is a test message from {{brand_name}} at "
	    "{{public_url}}/account.\n"
	    "If you can read it, outgoing mail works.\n",
	    "<p>Hello,</p><p>This is a test message from {{brand_name}} at "
	    "<a href=\"{{public_url}}/account\">{{public_url}}/account</a>."
	    "</p><p>If you can read it, outgoing mail works.</p>",
	    "{}",
	},
};

int
mail_templates_init(void)
{
	size_t i;
	int    rc;

	for (i = 0;
	     i < sizeof(builtin_templates) / sizeof(builtin_templates[0]); i++)
		if ((rc = mail_template_register(&builtin_templates[i])) != OK)
			return (rc);
	return (OK);
}

/* AD binding a sealed email_log column to its row. */
static void
mail_ad(char *out, size_t n, const char *column, const char *log_id)
{
	snprintf(out, n, "email_log.%s:%s", column, log_id);
}

json_t *
ops_mail_vars(struct tx *tx, json_t *vars, int *rc)
{
	json_t *all;

	*rc = ERR_NOMEM;
	if ((all = vars != NULL ? json_deep_copy(vars) : json_object()) == NULL)
		return (NULL);
	if (json_object_get(all, "public_url") == NULL &&
	    json_object_set_new(
		all, "public_url", json_string(config.public_url)) != 0) {
		json_decref(all);
		return (NULL);
	}
	if ((*rc = hooks_mail_brand(tx, all)) != OK) {
		json_decref(all);
		return (NULL);
	}
	return (all);
}

int
ops_mail_enqueue(struct tx *tx, const char *to, const char *user_id,
    const char *template, json_t *vars, char *log_id_out)
{
	char  log_id[UUID_STR_LEN], job_id[JOB_ID_LEN], ad[96];
	char  index[65], payload[96];
	char *subject = NULL, *text = NULL, *html = NULL, *vjson = NULL;
	unsigned char *s_to = NULL, *s_subject = NULL, *s_vars = NULL;
	size_t	       n_to, n_subject, n_vars;
	struct stmt   *st;
	int64_t	       now = time_now_ms();
	int	       rc, allowed;

	if (log_id_out != NULL)
		log_id_out[0] = '\0';
	if (!mail_address_valid(to))
		return (ERR_INVALID);
	if ((rc = hooks_mail_gate(tx, to, user_id, template, &allowed)) != OK)
		return (rc);
	if (!allowed) {
		log_info("event=mail_withheld template=%s "
			 "reason=address_not_verified",
		    template);
		return (OK);
	}
	if ((vars = ops_mail_vars(tx, vars, &rc)) == NULL)
		return (rc);
	if ((rc = mail_render(template, vars, &subject, &text, &html)) != OK)
		goto out;
	uuid_v7(log_id);
	rc = ERR_NOMEM;
	if ((vjson = json_dumps(vars, JSON_COMPACT)) == NULL)
		goto out;
	mail_ad(ad, sizeof(ad), "recipient", log_id);
	if ((rc = keyring_seal_text(KEY_SYSTEM, ad, to, &s_to, &n_to)) != OK)
		goto out;
	mail_ad(ad, sizeof(ad), "subject", log_id);
	if ((rc = keyring_seal_text(
		 KEY_SYSTEM, ad, subject, &s_subject, &n_subject)) != OK)
		goto out;
	mail_ad(ad, sizeof(ad), "vars", log_id);
	if ((rc = keyring_seal_text(KEY_SYSTEM, ad, vjson, &s_vars, &n_vars)) !=
	    OK)
		goto out;
	keyring_email_index(to, index);
	/* The payload names the log row only: no personal data in jobs. */
	snprintf(payload, sizeof(payload), "{\"log_id\":\"%s\"}", log_id);
	if ((rc = jobs_enqueue(tx, "mail.send", payload, "mail", 0, job_id)) !=
	    OK)
		goto out;
	st = store_prepare(tx,
	    "INSERT INTO email_log (id, recipient, "
	    "recipient_index, subject, vars, user_id, template, status, "
	    "attempts, "
	    "job_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, "
	    "'queued', 0, ?, ?, ?)");
	store_bind_text(st, 1, log_id);
	store_bind_blob(st, 2, s_to, n_to);
	store_bind_text(st, 3, index);
	store_bind_blob(st, 4, s_subject, n_subject);
	store_bind_blob(st, 5, s_vars, n_vars);
	store_bind_text(st, 6, user_id); /* NULL binds NULL */
	store_bind_text(st, 7, template);
	store_bind_text(st, 8, job_id);
	store_bind_int64(st, 9, now);
	store_bind_int64(st, 10, now);
	rc = store_step(st) == STORE_DONE ? OK : ERR_DB;
	store_finalize(st);
	if (rc == OK && log_id_out != NULL)
		memcpy(log_id_out, log_id, UUID_STR_LEN);
out:
	json_decref(vars); /* the copy */
	free(subject);
	free(text);
	free(html);
	free(vjson);
	free(s_to);
	free(s_subject);
	free(s_vars);
	return (rc);
}

/* What the job needs from email_log, opened. */
struct mail_row {
	const char *log_id;
	char	   *to;
	char *template;
	char *vars;
	int   done;    /* sent already */
	int   cleared; /* failed finally: variables gone */
};

static int
mail_row_load_tx(struct tx *tx, void *arg)
{
	struct mail_row *m = arg;
	struct stmt	*st;
	const void	*b;
	size_t		 n;
	char		 ad[96];
	int		 rc;

	st = store_prepare(tx,
	    "SELECT recipient, vars, template, status FROM "
	    "email_log WHERE id = ?");
	store_bind_text(st, 1, m->log_id);
	if ((rc = store_step(st)) != STORE_ROW) {
		rc = rc == STORE_DONE ? ERR_NOT_FOUND : rc;
		goto out;
	}
	/* No variables: the mail was sent (a repeat run), or its variables
	 * were cleared some other way and it cannot be rendered again. */
	if (store_col_is_null(st, 1)) {
		if (strcmp(store_col_text(st, 3), "sent") == 0)
			m->done = 1;
		else
			m->cleared = 1;
		rc = OK;
		goto out;
	}
	b = store_col_blob(st, 0, &n);
	mail_ad(ad, sizeof(ad), "recipient", m->log_id);
	if ((rc = keyring_open_text(KEY_SYSTEM, ad, b, n, &m->to)) != OK)
		goto out;
	b = store_col_blob(st, 1, &n);
	mail_ad(ad, sizeof(ad), "vars", m->log_id);
	if ((rc = keyring_open_text(KEY_SYSTEM, ad, b, n, &m->vars)) != OK)
		goto out;
	rc = (m->template = strdup(store_col_text(st, 2))) == NULL ? ERR_NOMEM
								   : OK;
out:
	store_finalize(st);
	return (rc);
}

static void
mail_row_free(struct mail_row *m)
{
	if (m->to != NULL)
		sodium_memzero(m->to, strlen(m->to));
	free(m->to);
	free(m->template);
	if (m->vars != NULL)
		sodium_memzero(m->vars, strlen(m->vars));
	free(m->vars);
}

struct log_update {
	const char *log_id;
	const char *status;
	int	    attempt;
	const char *error;
};

static int
email_log_update_tx(struct tx *tx, void *arg)
{
	struct log_update *u = arg;
	struct stmt	  *st;
	int64_t		   now = time_now_ms();
	int		   rc;

	/* Sent: the variables (a reset link) go. */
	st = store_prepare(tx,
	    "UPDATE email_log SET status = ?, attempts = ?, "
	    "error = ?, sent_at = ?, updated_at = ?, vars = CASE WHEN ? = 1 "
	    "THEN NULL ELSE vars END WHERE id = ?");
	store_bind_text(st, 1, u->status);
	store_bind_int64(st, 2, u->attempt);
	store_bind_text(st, 3, u->error);
	if (strcmp(u->status, "sent") == 0)
		store_bind_int64(st, 4, now);
	else
		store_bind_null(st, 4);
	store_bind_int64(st, 5, now);
	store_bind_int64(st, 6, strcmp(u->status, "sent") == 0);
	store_bind_text(st, 7, u->log_id);
	rc = store_step(st) == STORE_DONE ? OK : ERR_DB;
	store_finalize(st);
	/* Whoever queued it and keeps a state of its own is told. */
	if (rc == OK && strcmp(u->status, "queued") != 0)
		rc = hooks_mail_outcome(tx, u->log_id, u->status);
	return (rc);
}

static int
email_log_update(struct store *db, const char *log_id, const char *status,
    int attempt, const char *error)
{
	struct log_update u = { log_id, status, attempt, error };

	return (store_run(db, STORE_TX_WRITE, email_log_update_tx, &u));
}

int
mail_job_run(struct store *db, const struct job *job, char *err)
{
	struct mail_row row;
	struct mail_msg msg;
	json_t	       *p = NULL, *vars = NULL;
	json_error_t	jerr;
	const char     *log_id;
	char	       *subject = NULL, *text = NULL, *html = NULL;
	int		rc, last;

	memset(&row, 0, sizeof(row));
	if ((p = json_loads(job->payload, 0, &jerr)) == NULL ||
	    json_unpack(p, "{s:s}", "log_id", &log_id) != 0) {
		snprintf(err, JOB_ERR_LEN, "mail.send: malformed payload");
		json_decref(p);
		return (ERR_INVALID);
	}
	row.log_id = log_id;
	last = job->attempt >= job->max_attempts;
	if ((rc = store_run(db, STORE_TX_READ, mail_row_load_tx, &row)) != OK) {
		snprintf(err, JOB_ERR_LEN, "mail.send: email_log row %s %s",
		    log_id, rc == ERR_NOT_FOUND ? "is gone" : "does not open");
		goto out;
	}
	if (row.done)
		goto out; /* a repeat run: nothing left to send */
	if (row.cleared) {
		rc = ERR_NOT_FOUND; /* the row stays 'failed' */
		snprintf(err, JOB_ERR_LEN,
		    "mail.send: email_log row %s has no "
		    "variables left to render; queue the mail anew",
		    log_id);
		goto out;
	}
	if ((vars = json_loads(row.vars, 0, &jerr)) == NULL ||
	    (rc = mail_render(row.template, vars, &subject, &text, &html)) !=
		OK) {
		rc = rc == OK ? ERR_INVALID : rc;
		snprintf(err, JOB_ERR_LEN,
		    "mail.send: template %s does not render", row.template);
		goto out;
	}
	msg.to = row.to;
	msg.subject = subject;
	msg.text = text;
	msg.html = html;
	if ((rc = mail_send(&msg, err, JOB_ERR_LEN)) != OK) {
		if (err[0] == '\0')
			snprintf(
			    err, JOB_ERR_LEN, "mail.send: %s", err_code(rc));
		goto out;
	}
	if (email_log_update(db, log_id, "sent", job->attempt, NULL) != OK)
		log_warn("event=email_log_update_failed job=%s", job->id);
out:
	if (rc != OK && rc != ERR_NOT_FOUND &&
	    email_log_update(db, log_id, last ? "failed" : "queued",
		job->attempt, err) != OK)
		log_warn("event=email_log_update_failed job=%s", job->id);
	free(subject);
	free(text);
	free(html);
	mail_row_free(&row);
	json_decref(vars);
	json_decref(p);
	return (rc);
}

/* `carebase mail preview` */

struct preview {
	const char *name;
	FILE	   *out;
};

static int
preview_tx(struct tx *tx, void *arg)
{
	struct preview		   *p = arg;
	const struct mail_template *t = NULL;
	json_t			   *sample = NULL, *vars = NULL, *v;
	json_error_t		    jerr;
	const char		   *key;
	char			   *link = NULL;
	char			   *subject = NULL, *text = NULL, *html = NULL;
	size_t			    i;
	int			    rc;

	for (i = 0; mail_template_at(i) != NULL; i++)
		if (strcmp(mail_template_at(i)->name, p->name) == 0)
			t = mail_template_at(i);
	if (t == NULL)
		return (ERR_NOT_FOUND);
	if ((sample = json_loads(
		 t->sample != NULL ? t->sample : "{}", 0, &jerr)) == NULL) {
		log_warn("event=mail_preview_failed template=%s "
			 "reason=sample_not_json",
		    t->name);
		return (ERR_INTERNAL);
	}
	/* "/bookings/ID": a page path, under this deployment's public_url */
	json_object_foreach(sample, key, v) {
		if (!json_is_string(v) || json_string_value(v)[0] != '/')
			continue;
		if (asprintf(&link, "%s%s", config.public_url,
			json_string_value(v)) < 0 ||
		    json_string_set(v, link) != 0) {
			free(link);
			json_decref(sample);
			return (ERR_NOMEM);
		}
		free(link);
	}
	if ((vars = ops_mail_vars(tx, sample, &rc)) != NULL &&
	    (rc = mail_render(t->name, vars, &subject, &text, &html)) == OK)
		fprintf(p->out,
		    "template: %s\nsubject: %s\n\n--- text ---\n%s\n"
		    "--- html ---\n%s\n",
		    t->name, subject, text, html != NULL ? html : "");
	free(subject);
	free(text);
	free(html);
	json_decref(vars);
	json_decref(sample);
	return (rc);
}

int
ops_mail_preview(struct store *db, const char *name, FILE *out)
{
	struct preview p = { name, out };
	size_t	       i;

	if (name == NULL) {
		for (i = 0; mail_template_at(i) != NULL; i++)
			fprintf(out, "%s\n", mail_template_at(i)->name);
		return (OK);
	}
	return (store_run(db, STORE_TX_READ, preview_tx, &p));
}
