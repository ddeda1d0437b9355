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

extern const struct module	ops_module;

/*
 * Queue a templated mail to one recipient inside tx: validates the
 * address, renders the template now (so a bad template or variable fails
 * the caller, not the job), writes an email_log row with status 'queued'
 * and enqueues mail.send. vars is borrowed. log_id_out (37) may be NULL.
 */
int	 ops_mail_enqueue(struct tx *, const char *to, const char *template,
	    json_t *vars, char *log_id_out);

/* Print "table column typeclass" lines, sorted (`carebase schema`). */
int	 ops_schema_print(struct store *, FILE *);

#endif
