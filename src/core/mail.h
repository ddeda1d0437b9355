/*
 * Outgoing mail: templates and SMTP through libcurl. No database here: the
 * mail job (ops module) sends through these and records email_log.
 *
 * Templates are named; each has a subject, a plain-text body and an
 * optional HTML body. {{name}} is replaced by the string value of name
 * from the variables object (HTML-escaped in the HTML body); an unknown
 * name is an error, so a typo never sends "{{frist_name}}" to a person.
 *
 * Every message is wrapped in the template named "layout" when there is
 * one (the ops module registers it; a deployment overrides it in
 * templates_dir as any other): its text and HTML take the message's
 * rendered text or HTML at {{body}} (the HTML as it is, not escaped),
 * {{logo}} (an <img> of brand_logo_url, or the brand's name when none)
 * and the variables, which carry the deployment's brand (brand_name,
 * brand_logo_url, brand_colour: the settings, through the ops module).
 */
#ifndef CORE_MAIL_H
#define CORE_MAIL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define MAIL_MAX_BODY (256 * 1024)

struct mail_msg {
	const char *to; /* one address */
	const char *subject;
	const char *text; /* plain-text body */
	const char *html; /* NULL = text only */
};

struct mail_template {
	const char *name;
	const char *subject;
	const char *text;
	const char *html; /* may be NULL */
	/* JSON object of sample variables for `carebase mail preview`
	 * (the brand's are added; a string that starts with '/' is a page
	 * path, public_url goes before it); NULL = none needed */
	const char *sample;
};

/* curl_global_init / curl_global_cleanup: main calls these once, before
 * any thread starts and after all have stopped. */
int  mail_init(void);
void mail_cleanup(void);
/* Register a built-in template (borrowed). */
int mail_template_register(const struct mail_template *);
/* The i-th registered template (borrowed), NULL past the last. */
const struct mail_template *mail_template_at(size_t i);
/*
 * Render template name with vars into malloc'd subject, text and html
 * (html NULL when the template has none). Looks in config templates_dir
 * first (NAME.subject, NAME.txt, NAME.html), then the built-ins.
 */
int mail_render(
    const char *name, json_t *vars, char **subject, char **text, char **html);
/*
 * Send through config smtp_url (smtp_tls none|starttls|tls, smtp_user,
 * smtp_password, mail_from). ERR_UNAVAILABLE when smtp_url is empty.
 * err (size errlen) gets a short reason on failure, without secrets.
 */
int mail_send(const struct mail_msg *, char *err, size_t errlen);
/* Messages mail_send sent, and calls of it that failed, in this process
 * (for /metrics). Either may be NULL. */
void mail_stats(uint64_t *sent, uint64_t *failed);
/* Build the RFC 5322 message (headers + MIME body); malloc'd. For tests.
 * Its Message-ID is under the domain of from's address. */
char *mail_build(const struct mail_msg *, const char *from, size_t *len);
/* 1 if s looks like one deliverable address (no CR/LF, one @, bounded). */
int mail_address_valid(const char *s);

#endif
