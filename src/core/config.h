/*
 * Configuration: one table (config.c) of name, type, where it lands,
 * default and range (Redis's standardConfig). Each entry is read from the
 * environment as CAREBASE_<NAME> (DATABASE_URL is also read bare), then
 * from command-line flags --<name-with-dashes>=VALUE, which win. A bad value
 * stops start-up with one clear line.
 */
#ifndef CORE_CONFIG_H
#define CORE_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

/* Bounds on outside input, overridable in config where a key exists. */
#define CONFIG_MAX_BODY_DEFAULT	  (1024 * 1024)
#define CONFIG_MAX_HEAD_BYTES	  (24 * 1024) /* request line + headers */
#define CONFIG_MAX_STRING	  4096
#define BOOKING_CANCEL_SECRET_MIN 16 /* bytes of booking_cancel_secret */
#define CHAT_SYNC_REQUESTS	  5  /* of one chat job at most */
#define STRIPE_REQUESTS		  2  /* of one refund job at most */
#define METRICS_TOKEN_MIN	  32 /* bytes of metrics_token */

struct config {
	char   *env;	/* development | production */
	char   *listen; /* address to bind */
	int64_t port;
	char   *metrics_token;	/* static scrape token; "" = none */
	char   *metrics_listen; /* "host:port" serving /metrics only */
	char   *metrics_public; /* "true": /metrics needs nothing */
	int64_t threads;	/* HTTP worker threads */
	int64_t slow_threads;	/* ROUTE_SLOW handlers, 0 = threads */
	int64_t slow_queue;	/* slow requests waiting at most */
	char   *database_url;	/* sqlite:///path | postgres://... */
	int64_t pool_min;
	int64_t pool_max;
	int64_t db_busy_timeout_ms;
	int64_t db_wait_timeout_ms;

	/* The audit writer (resource/audit_queue.c). */
	int64_t audit_flush_ms;	     /* reads' rows written this long after */
	int64_t audit_queue_max;     /* reads' rows waiting at most */
	int64_t audit_queue_wait_ms; /* for room in it, then 503 */
	int64_t audit_fail_max;	     /* failed writes in a row, then 503 */
	int64_t audit_queue_age_ms;  /* oldest row queued, then 503 */
	int64_t audit_verify_max_ms; /* POST /v1/audit-log/verify's walk */

	int64_t body_limit;	   /* bytes */
	int64_t points_body_limit; /* bytes, POST .../points batches */
	int64_t points_page_max;   /* samples a page of an export's points */
	int64_t request_timeout_s; /* idle connection timeout */
	int64_t max_connections;   /* http/conn.c */
	int64_t max_connections_per_client;
	int64_t header_timeout_s;
	int64_t min_body_rate;
	int64_t body_inflight_max;
	int64_t body_inflight_per_client;
	char   *log_level;
	int64_t log_flush_ms; /* info lines batched, 0 = each */
	char   *log_ip;	      /* request lines: none|truncated|full */
	char   *master_key_file;
	char   *erasure_journal_file; /* "" = erasure.journal by the key */
	char   *backup_cron;	      /* scheduled backups; "" = none */
	char   *backup_dir;	      /* where they go */
	int64_t backup_keep;	      /* how many are kept */
	int64_t backup_compress;      /* 1: gzip */
	char   *backup_key_file;      /* "" = not encrypted */
	char   *cors_origins;	      /* comma-separated, exact match */
	int64_t rate_limit;	      /* requests per second per IP, 0 = off */
	int64_t rate_burst;
	char   *trusted_proxies; /* CIDRs whose X-Forwarded-For is believed */
	char   *tls_cert;	 /* PEM file, enables TLS with tls_key */
	char   *tls_key;
	int64_t shutdown_timeout_s; /* wait for in-flight requests */
	int64_t job_workers;	    /* job threads in `serve`, 0 = none */
	int64_t job_poll_ms;
	int64_t job_max_attempts;
	int64_t job_backoff_base_ms;
	int64_t job_backoff_max_ms;
	int64_t job_timeout_s; /* a claimed job is re-run after */
	char   *smtp_url;      /* smtp://host:port or smtps://host:port */
	char   *smtp_tls;      /* none | starttls | tls */
	char   *smtp_user;
	char   *smtp_password;
	char   *smtp_ca_file; /* PEM CA bundle to verify the SMTP server */
	char   *mail_from;
	int64_t smtp_timeout_s;
	char   *public_url;    /* base for links in mail, never from requests */
	char   *templates_dir; /* extra mail templates override built-ins */
	int64_t session_idle_staff_s; /* auth sessions of staff roles */
	int64_t session_absolute_staff_s;
	int64_t session_idle_member_s; /* auth sessions of members */
	int64_t session_absolute_member_s;
	int64_t session_cache_size;	    /* sessions a process keeps read */
	int64_t session_cache_ttl_ms;	    /* for this long at most */
	char   *session_cache_listen_url;   /* PostgreSQL: "" database_url */
	int64_t session_cache_heartbeat_ms; /* the listener's heartbeat */
	int64_t list_cache_size;	    /* lists a process keeps read */
	int64_t list_cache_ttl_ms;	    /* for this long at most */
	int64_t list_cache_bytes;	    /* their bodies' bytes at most */
	int64_t login_backoff_after;	    /* failures before backoff starts */
	int64_t login_max_failures_hour;    /* per account and address */
	int64_t login_ip_max_failures_hour; /* per client address */
	int64_t login_account_max_failures_hour; /* per account */
	char   *consent_ages; /* "GB:13,US:13,DE:16": digital consent */
	int64_t consent_age_default;
	char *password_reset_path; /* appended to public_url, then the token */
	int64_t password_reset_ttl_s;
	int64_t email_verify_ttl_s;    /* a sign-up's verification link */
	int64_t email_verify_resend_s; /* between two such links */
	int64_t staff_invite_ttl_s;    /* a staff invitation's link */
	int64_t guardian_min_age;      /* a member who adds a child: this old */
	int64_t family_invites_max; /* open family invitations a member holds */
	int64_t family_invite_ttl_s; /* how long a family invitation is open */
	char   *family_refusal_path; /* a child's welcome: "this is not me" */
	int64_t password_opslimit;   /* argon2id passes */
	int64_t password_memlimit_kib; /* argon2id memory */
	char   *terms_version;	       /* current terms users accept */
	char   *privacy_version;
	int64_t webhook_body_limit; /* bytes of an inbound webhook body */
	int64_t webhook_inbox_retention_days; /* inbox rows older are deleted */
	int64_t webhook_refused_max_per_address; /* credential refusals kept */
	char   *storyblok_webhook_secret; /* HMAC-SHA1 key of the CMS webhook */
	char   *storyblok_api_url;	  /* CMS content API base */
	char   *storyblok_token;	  /* CMS content API token */
	int64_t storyblok_timeout_s;	  /* CMS fetch connect + transfer */
	int64_t storyblok_story_limit;	  /* bytes of one fetched story */
	char   *chat_sync_url; /* chat provider API base; empty = sync off */
	char   *chat_sync_website_id; /* the provider's website id */
	char   *chat_sync_identifier; /* HTTP basic auth user */
	char   *chat_sync_key;	      /* HTTP basic auth password */
	int64_t chat_sync_timeout_s;  /* connect + transfer */
	int64_t
	    chat_sync_delay_ms;	  /* wait after a change, so bursts coalesce */
	int64_t course_chat_page; /* learners one course_chat run looks at */
	int64_t reminders_page;	  /* candidates one reminder read takes */
	char   *simplybook_webhook_secret; /* token of the booking webhook */
	int64_t simplybook_timestamp_tolerance_s; /* webhook timestamp skew */
	int64_t report_max_rows;	  /* rows of one report answer */
	int64_t report_partner_min_count; /* a partner's smallest count shown */
	int64_t report_partner_max_days;  /* a partner admin's longest range */
	int64_t
	      report_run_max_bytes; /* bytes of a report's answer, run or not */
	char *pdf_font;		    /* TrueType font the PDFs embed */
	char *pdf_font_bold;	    /* and its bold face */
	int64_t report_run_retention_days; /* report runs older are deleted */
	char   *booking_cancel_url;    /* told of in-app cancels; empty = off */
	char   *booking_cancel_secret; /* HMAC-SHA256 key of those POSTs */
	int64_t training_hold_minutes; /* an unpaid booking's hold */
	int64_t training_inquiry_hold_minutes; /* an inquiry's hold */
	char   *stripe_api_url;		       /* Stripe's REST API base */
	char   *stripe_secret_key;     /* sk_...: Authorization: Bearer */
	char   *stripe_webhook_secret; /* whsec_...: Stripe-Signature's key */
	int64_t stripe_timeout_s; /* a Stripe request, connect + transfer */
	int64_t training_refund_full_days; /* full refund until N days before */
	int64_t training_refund_fee_percent; /* the fee after that */
	int64_t training_refund_none_hours;  /* no refund inside N hours */
	char   *sms_url;       /* SMS provider endpoint; empty = SMS off */
	char   *sms_token;     /* its credential: Authorization: Bearer */
	char   *sms_sender;    /* the sender id or number messages come from */
	int64_t sms_timeout_s; /* an SMS request, connect + transfer */
	int64_t explain_lists; /* 1 = log each list's plan (list_plan) */
};

extern struct config config;

/* Fill config from defaults, environment, then argv flags it knows.
 * Unknown --flags are errors. On error writes one line to err. */
int config_load(int argc, char **argv, char *err, size_t errlen);
/* 1 if name (n bytes, dashes or underscores) is a config key. */
int config_has(const char *name, size_t n);
/*
 * Split "host:port" or "[v6]:port" (port 0..65535) into host (hostlen
 * bytes) and *port; ERR_CONFIG when it is not that.
 */
int config_host_port(const char *, char *host, size_t hostlen, int *port);
/* Release strings. */
void config_free(void);
/* Print the table (name, env var, default, description) to stdout. */
void config_usage(void);
/* Print every value in force and where it came from (default,
 * environment CAREBASE_X, flag --x), secrets masked, to fp. */
void config_print(FILE *fp);
/* 1 when env is "production". */
int config_is_production(void);

#endif
