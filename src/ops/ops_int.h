/* Private to the ops module. */
#ifndef OPS_OPS_INT_H
#define OPS_OPS_INT_H

struct store;
struct job;

/* The mail.send job: render, send, record in email_log. */
int mail_job_run(struct store *, const struct job *, char *err);
/* Register the built-in mail templates. */
int mail_templates_init(void);

#endif
