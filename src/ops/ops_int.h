/* Private to the ops module. */
#ifndef OPS_OPS_INT_H
#define OPS_OPS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/util.h"

struct store;
struct job;
struct resource;

/* mail_job.c: the email_log table, for the GDPR export and erasure. */
extern const struct resource email_log_resource;
/* The mail.send job: render, send, record in email_log. */
int mail_job_run(struct store *, const struct job *, char *err);
/* Register the built-in mail templates (ops_init). */
int mail_templates_init(void);

/*
 * inbox_refused.c: a webhook call refused for its credentials, recorded
 * as metadata only and at most webhook_refused_max_per_address rows per
 * client address. *stored tells whether a row was written (id names it).
 */
struct inbox_refusal {
	char	    id[UUID_STR_LEN];
	const char *source;
	const char *request_id;
	const char *client_addr; /* as seen (req->ip) */
	const char *client_key;	 /* what the bound counts by */
	const char *error;	 /* the reason, one line */
	size_t	    received;	 /* bytes of body */
	int	    http_status;
	int	    stored; /* out */
};
int inbox_refusal_record(struct store *, struct inbox_refusal *);
/* Refused calls counted, not stored, by this process so far. */
uint64_t inbox_refusals_dropped(void);

/* metrics.c: GET /metrics; ops_init marks the start time. */
struct request;
void ops_metrics(struct request *);
void ops_metrics_start(void);

/* inbox.c: carebase_webhooks_received_total, appended to b. */
struct buf;
int inbox_metrics(struct buf *);

/* inbox_result.c: free what r holds (out, errors) and zero it. */
struct inbox_result;
void inbox_result_reset(struct inbox_result *);

struct request;
/*
 * console.c: the admin console's operations over the command line's
 * functions: GET /v1/webhook-inbox, POST /v1/webhook-inbox/{id}/replay,
 * GET /v1/failed-jobs, POST /v1/failed-jobs/{id}/retry, POST
 * /v1/audit-log/verify.
 */
void ops_inbox_list(struct request *);
void ops_inbox_replay(struct request *);
void ops_failed_jobs_list(struct request *);
void ops_failed_job_retry(struct request *);
void ops_audit_verify(struct request *);

#endif
