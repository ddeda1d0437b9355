/*
 * The ops module: health, readiness and metrics endpoints, and outgoing
 * mail as a job (mail.send) recorded in email_log.
 */
#ifndef OPS_OPS_H
#define OPS_OPS_H

#include <stdio.h>

#include <jansson.h>

struct store;
struct tx;
struct module;

extern const struct module ops_module;

/*
 * Queue a templated mail to one recipient inside tx: validates the
 * address, renders the template now (so a bad template or variable fails
 * the caller, not the job), writes an email_log row with status 'queued'
 * and enqueues mail.send. user_id names the user the mail is for (NULL
 * when it is for no user), so their mail is found for export and erasure
 * even after they change address. vars is borrowed; the job clears it from
 * the log once the mail is sent or has finally failed. log_id_out (37)
 * may be NULL. The deployment's brand and public_url join the variables
 * (ops_mail_vars). A mail the accounts module withholds (an address not
 * verified yet: hooks_mail_gate) is OK with nothing queued and
 * log_id_out "".
 */
int ops_mail_enqueue(struct tx *, const char *to, const char *user_id,
    const char *template, json_t *vars, char *log_id_out);
/* A copy of vars (NULL: none) with public_url and the brand (hooks.h:
 * hooks_mail_brand) set; NULL when out of memory. */
json_t *ops_mail_vars(struct tx *, json_t *vars, int *rc);
/*
 * `carebase mail preview [NAME]`: without a name, every template's name
 * on a line; with one, its subject, text and HTML filled with its sample
 * variables and the brand. ERR_NOT_FOUND for no such template.
 */
int ops_mail_preview(struct store *, const char *name, FILE *);

/* Print "table column typeclass" lines, sorted (`carebase schema`). */
int ops_schema_print(struct store *, FILE *);

#endif
