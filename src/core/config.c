#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/pdf_font.h"
#include "core/util.h"

struct config config;

enum config_type {
	CT_STRING,
	CT_INT,
	CT_ENUM /* string restricted to choices */
};

struct config_entry {
	const char	*name; /* snake_case, env CAREBASE_<UPPER> */
	enum config_type type;
	size_t		 offset;
	const char	*def;
	int64_t		 min, max; /* CT_INT */
	const char	*choices;  /* CT_ENUM, "|" separated */
	int		 secret;   /* 1: never printed; 2: a URL whose
				    * password is masked when printed */
	const char	*help;
};

#define S(f) offsetof(struct config, f)

/*
 * argon2id's cost: production keeps to the OWASP (2023) minimums. Below
 * them, down to libsodium's floor (1 pass, 8 KiB: the table's bounds), is
 * for anything else, with a warning at start-up: the test suite signs in
 * thousands of times and gains nothing from the production cost, except
 * in the tests about hashing, which ask for it.
 */
#define PASSWORD_OPSLIMIT_OWASP	    2
#define PASSWORD_MEMLIMIT_KIB_OWASP 19456

static const struct config_entry config_table[] = {
	{ "env", CT_ENUM, S(env), "development", 0, 0, "development|production",
	    0,
	    "deployment kind; production requires a master key file and an "
	    "erasure journal, the OWASP password cost, and --force for "
	    "`migrate down`" },
	{ "listen", CT_STRING, S(listen), "127.0.0.1", 0, 0, NULL, 0,
	    "address to listen on" },
	{ "port", CT_INT, S(port), "8080", 0, 65535, NULL, 0,
	    "TCP port (0 picks a free one)" },
	{ "metrics_token", CT_STRING, S(metrics_token), "", 0, 0, NULL, 1,
	    "static bearer token a scraper sends to /metrics, at least 32 "
	    "bytes (empty = none; a staff token with metrics:read:all works "
	    "too)" },
	{ "metrics_listen", CT_STRING, S(metrics_listen), "", 0, 0, NULL, 0,
	    "address:port of a second, plain-HTTP listener that serves only "
	    "/metrics, with no credentials, e.g. 127.0.0.1:9464 or "
	    "[::1]:9464 (port 0 picks one; empty = none): keep it private" },
	{ "metrics_public", CT_ENUM, S(metrics_public), "false", 0, 0,
	    "false|true", 0,
	    "true: /metrics on the main address needs no credentials" },
	{ "slow_threads", CT_INT, S(slow_threads), "0", 0, 256, NULL, 0,
	    "threads for sign-ins, uploads, exports and reports (0 = "
	    "threads)" },
	{ "slow_queue", CT_INT, S(slow_queue), "256", 1, 100000, NULL, 0,
	    "slow requests waiting at most; past it 503 SERVER_BUSY" },
	{ "threads", CT_INT, S(threads), "0", 0, 256, NULL, 0,
	    "HTTP worker threads (0 = number of cores)" },
	{ "database_url", CT_STRING, S(database_url),
	    "sqlite:///var/carebase.db", 0, 0, NULL, 2,
	    "sqlite:///relative/or//absolute/path or postgres://..." },
	{ "pool_min", CT_INT, S(pool_min), "2", 0, 1000, NULL, 0,
	    "PostgreSQL connections opened at start" },
	{ "pool_max", CT_INT, S(pool_max), "10", 1, 1000, NULL, 0,
	    "most database connections" },
	{ "db_busy_timeout_ms", CT_INT, S(db_busy_timeout_ms), "5000", 0,
	    600000, NULL, 0, "SQLite busy timeout" },
	{ "db_wait_timeout_ms", CT_INT, S(db_wait_timeout_ms), "35000", 100,
	    3600000, NULL, 0,
	    "PostgreSQL: the longest wait for a statement's answer (the "
	    "server's statement_timeout is 30 s, or 6/7 of this below 35 "
	    "s, so the server ends a slow statement first); past it 503 "
	    "UNAVAILABLE and the connection is closed" },
	{ "audit_flush_ms", CT_INT, S(audit_flush_ms), "10", 1, 1000, NULL, 0,
	    "the audit rows of reads (health data, exports) are written in "
	    "batches this long after the first; a crash loses at most these "
	    "milliseconds' rows" },
	{ "audit_queue_max", CT_INT, S(audit_queue_max), "4096", 1, 1000000,
	    NULL, 0, "reads' audit rows waiting to be written at most" },
	{ "audit_queue_wait_ms", CT_INT, S(audit_queue_wait_ms), "1000", 0,
	    60000, NULL, 0,
	    "a read finding the audit queue full waits this long for room, "
	    "then answers 503 UNAVAILABLE (never serving unaudited data)" },
	{ "audit_fail_max", CT_INT, S(audit_fail_max), "3", 1, 1000, NULL, 0,
	    "after this many failed writes of the audit queue in a row, "
	    "audited reads answer 503 AUDIT_UNAVAILABLE until one succeeds" },
	{ "audit_queue_age_ms", CT_INT, S(audit_queue_age_ms), "5000", 10,
	    600000, NULL, 0,
	    "while the oldest queued audit row of a read is older than this, "
	    "audited reads answer 503 AUDIT_UNAVAILABLE" },
	{ "audit_verify_max_ms", CT_INT, S(audit_verify_max_ms), "10000", 1,
	    600000, NULL, 0,
	    "POST /v1/audit-log/verify stops its walk of the chain past this "
	    "long and answers what it checked (complete false); `carebase "
	    "audit verify` walks it all" },
	{ "body_limit", CT_INT, S(body_limit), "1048576", 1024,
	    1024LL * 1024 * 1024, NULL, 0,
	    "largest request body in bytes (413 past it)" },
	{ "points_body_limit", CT_INT, S(points_body_limit), "67108864", 1024,
	    1024LL * 1024 * 1024, NULL, 0,
	    "largest biometric points batch body in bytes (413 past it)" },
	{ "points_page_max", CT_INT, S(points_page_max), "1048576", 1000,
	    4194304, NULL, 0,
	    "samples in one page of a recording's points linked from a GDPR "
	    "export (whole blocks: up to one block more)" },
	{ "max_connections", CT_INT, S(max_connections), "1000", 16, 1000000,
	    NULL, 0,
	    "connections open at once; past it a new one is closed at "
	    "accept" },
	{ "max_connections_per_client", CT_INT, S(max_connections_per_client),
	    "128", 0, 1000000, NULL, 0,
	    "connections open at once from one client address (an IPv6 "
	    "/64); 0 = no bound" },
	{ "header_timeout_s", CT_INT, S(header_timeout_s), "30", 1, 3600, NULL,
	    0,
	    "a request's line and headers must arrive within this of the "
	    "connection's start or its previous request's end" },
	{ "min_body_rate", CT_INT, S(min_body_rate), "4096", 0, 1000000000,
	    NULL, 0,
	    "bytes a second a body must arrive at on average, after "
	    "header_timeout_s of grace; 0 = no bound" },
	{ "body_inflight_max", CT_INT, S(body_inflight_max), "536870912",
	    1048576, 64LL * 1024 * 1024 * 1024, NULL, 0,
	    "bytes of request bodies held at once; past it 503 SERVER_BUSY" },
	{ "body_inflight_per_client", CT_INT, S(body_inflight_per_client),
	    "100663296", 65536, 64LL * 1024 * 1024 * 1024, NULL, 0,
	    "bytes of request bodies held at once for one client address; "
	    "past it 503 SERVER_BUSY" },
	{ "request_timeout_s", CT_INT, S(request_timeout_s), "30", 1, 3600,
	    NULL, 0, "idle connection timeout in seconds" },
	{ "log_level", CT_ENUM, S(log_level), "info", 0, 0,
	    "debug|info|warn|error|off", 0, "least severe level logged" },
	{ "log_flush_ms", CT_INT, S(log_flush_ms), "100", 0, 10000, NULL, 0,
	    "serve/worker write info lines in batches this often (0 = each "
	    "line)" },
	{ "log_ip", CT_ENUM, S(log_ip), "truncated", 0, 0,
	    "none|truncated|full", 0,
	    "the client address in each request's log line: none, its "
	    "network (IPv4 /24, IPv6 /48) or whole" },
	{ "master_key_file", CT_STRING, S(master_key_file), "var/master.key", 0,
	    0, NULL, 0,
	    "32-byte master key (hex); generated in development if missing" },
	{ "erasure_journal_file", CT_STRING, S(erasure_journal_file), "", 0, 0,
	    NULL, 0,
	    "append-only record of erasures (user ids and times), kept and "
	    "backed up with the master key, replayed after a restore (empty = "
	    "erasure.journal in the master key's folder); required in "
	    "production" },
	{ "backup_cron", CT_STRING, S(backup_cron), "", 0, 0, NULL, 0,
	    "when the backup job copies the SQLite database into backup_dir "
	    "(five cron fields, UTC, e.g. \"30 2 * * *\"; empty = no "
	    "scheduled backups; on PostgreSQL schedule pg_dump instead)" },
	{ "backup_dir", CT_STRING, S(backup_dir), "var/backups", 0, 0, NULL, 0,
	    "folder of the scheduled backups (made 0700; each file 0600)" },
	{ "backup_keep", CT_INT, S(backup_keep), "7", 1, 10000, NULL, 0,
	    "scheduled backups kept in backup_dir; older ones are deleted "
	    "after each run" },
	{ "backup_compress", CT_INT, S(backup_compress), "1", 0, 1, NULL, 0,
	    "1: scheduled backups are gzip-compressed" },
	{ "backup_key_file", CT_STRING, S(backup_key_file), "", 0, 0, NULL, 0,
	    "file of a 32-byte key (64 hex characters, mode 0600) that "
	    "scheduled backups are encrypted under, and `restore` reads "
	    "encrypted ones with; never the master key (empty = not "
	    "encrypted)" },
	{ "cors_origins", CT_STRING, S(cors_origins), "", 0, 0, NULL, 0,
	    "comma-separated origins allowed by CORS (empty = none)" },
	{ "rate_limit", CT_INT, S(rate_limit), "100", 0, 1000000, NULL, 0,
	    "requests per second per client IP (0 = off)" },
	{ "rate_burst", CT_INT, S(rate_burst), "200", 1, 10000000, NULL, 0,
	    "requests a client may make at once before the rate applies" },
	{ "trusted_proxies", CT_STRING, S(trusted_proxies), "", 0, 0, NULL, 0,
	    "comma-separated addresses and CIDR blocks of reverse proxies "
	    "whose X-Forwarded-For names the client (empty = none; at most "
	    "64)" },
	{ "tls_cert", CT_STRING, S(tls_cert), "", 0, 0, NULL, 0,
	    "PEM certificate file; with tls_key serves HTTPS" },
	{ "tls_key", CT_STRING, S(tls_key), "", 0, 0, NULL, 1,
	    "PEM private key file" },
	{ "shutdown_timeout_s", CT_INT, S(shutdown_timeout_s), "10", 0, 3600,
	    NULL, 0, "seconds to let in-flight requests finish on SIGTERM" },
	{ "job_workers", CT_INT, S(job_workers), "1", 0, 64, NULL, 0,
	    "job threads inside `serve` (0 = run `carebase worker` instead)" },
	{ "job_poll_ms", CT_INT, S(job_poll_ms), "500", 10, 60000, NULL, 0,
	    "how often an idle worker looks for jobs" },
	{ "job_max_attempts", CT_INT, S(job_max_attempts), "5", 1, 100, NULL, 0,
	    "default attempts before a job goes to failed_jobs" },
	{ "job_backoff_base_ms", CT_INT, S(job_backoff_base_ms), "1000", 1,
	    3600000, NULL, 0,
	    "first retry delay; doubles each attempt, with jitter" },
	{ "job_backoff_max_ms", CT_INT, S(job_backoff_max_ms), "3600000", 1,
	    86400000, NULL, 0, "longest retry delay" },
	{ "job_timeout_s", CT_INT, S(job_timeout_s), "300", 1, 86400, NULL, 0,
	    "a running job not finished after this is retried" },
	{ "smtp_url", CT_STRING, S(smtp_url), "", 0, 0, NULL, 0,
	    "smtp://host:port or smtps://host:port (empty = mail is logged, "
	    "not sent)" },
	{ "smtp_tls", CT_ENUM, S(smtp_tls), "starttls", 0, 0,
	    "none|starttls|tls", 0, "transport security for SMTP" },
	{ "smtp_user", CT_STRING, S(smtp_user), "", 0, 0, NULL, 0,
	    "SMTP user" },
	{ "smtp_password", CT_STRING, S(smtp_password), "", 0, 0, NULL, 1,
	    "SMTP password" },
	{ "smtp_ca_file", CT_STRING, S(smtp_ca_file), "", 0, 0, NULL, 0,
	    "PEM CA certificates that verify the SMTP server (empty = system "
	    "CAs)" },
	{ "mail_from", CT_STRING, S(mail_from), "carebase <no-reply@localhost>",
	    0, 0, NULL, 0, "From address of outgoing mail" },
	{ "smtp_timeout_s", CT_INT, S(smtp_timeout_s), "30", 1, 600, NULL, 0,
	    "SMTP connect and transfer timeout" },
	{ "public_url", CT_STRING, S(public_url), "http://127.0.0.1:8080", 0, 0,
	    NULL, 0, "base URL used in links sent by mail" },
	{ "templates_dir", CT_STRING, S(templates_dir), "", 0, 0, NULL, 0,
	    "folder of mail templates that override the built-in ones" },
	{ "session_idle_staff_s", CT_INT, S(session_idle_staff_s), "1800", 60,
	    86400, NULL, 0, "staff auth sessions end after this long idle" },
	{ "session_absolute_staff_s", CT_INT, S(session_absolute_staff_s),
	    "43200", 300, 2592000, NULL, 0,
	    "staff auth sessions end this long after login" },
	{ "session_idle_member_s", CT_INT, S(session_idle_member_s), "604800",
	    60, 31536000, NULL, 0,
	    "member auth sessions end after this long idle" },
	{ "session_absolute_member_s", CT_INT, S(session_absolute_member_s),
	    "2592000", 300, 31536000, NULL, 0,
	    "member auth sessions end this long after login" },
	{ "session_cache_size", CT_INT, S(session_cache_size), "4096", 0,
	    1048576, NULL, 0,
	    "auth sessions each process keeps read (0: none, every request "
	    "reads its session)" },
	{ "session_cache_ttl_ms", CT_INT, S(session_cache_ttl_ms), "5000", 0,
	    60000, NULL, 0,
	    "how long a process trusts a session it read (0: not at all)" },
	{ "session_cache_listen_url", CT_STRING, S(session_cache_listen_url),
	    "", 0, 0, NULL, 2,
	    "PostgreSQL: where each process LISTENs for session changes "
	    "(empty: database_url); it needs a session-mode connection, "
	    "never a pooler's transaction mode" },
	{ "session_cache_heartbeat_ms", CT_INT, S(session_cache_heartbeat_ms),
	    "5000", 100, 600000, NULL, 0,
	    "PostgreSQL: the listener notifies itself this often; one not "
	    "back within as long and the cache is off until it reconnects" },
	{ "list_cache_size", CT_INT, S(list_cache_size), "1024", 0, 1048576,
	    NULL, 0,
	    "pages of lists each process keeps read, of the resources that "
	    "say so (0: none, every list is read)" },
	{ "list_cache_ttl_ms", CT_INT, S(list_cache_ttl_ms), "2000", 0, 60000,
	    NULL, 0,
	    "how long a process answers a list page it read while no write "
	    "is told (0: not at all); a change made outside carebase shows "
	    "after this at most" },
	{ "list_cache_bytes", CT_INT, S(list_cache_bytes), "33554432", 0,
	    4294967296, NULL, 0,
	    "the kept pages' bodies in bytes at most, a process" },
	{ "login_backoff_after", CT_INT, S(login_backoff_after), "5", 1, 1000,
	    NULL, 0,
	    "failed logins for an account from one client address before "
	    "each next try from there must wait" },
	{ "login_max_failures_hour", CT_INT, S(login_max_failures_hour), "100",
	    1, 100, NULL, 0,
	    "failed logins for an account from one client address per hour "
	    "before that address is locked out of it" },
	{ "login_account_max_failures_hour", CT_INT,
	    S(login_account_max_failures_hour), "1000", 1, 1000000, NULL, 0,
	    "failed logins for an account from all addresses per hour before "
	    "it locks for everyone" },
	{ "login_ip_max_failures_hour", CT_INT, S(login_ip_max_failures_hour),
	    "1000", 1, 1000000, NULL, 0,
	    "failed logins per client address per hour (any account)" },
	{ "consent_ages", CT_STRING, S(consent_ages),
	    "AT:14,BE:13,BG:14,CY:14,CZ:15,DE:16,DK:13,EE:13,ES:14,FI:13,FR:15,"
	    "GB:13,GR:15,HR:16,HU:16,IE:16,IT:14,LT:14,LU:16,LV:13,MT:13,NL:16,"
	    "NO:13,PL:16,PT:13,RO:16,SE:13,SI:15,SK:16,US:13",
	    0, 0, NULL, 0,
	    "digital-consent age by country (ISO 3166-1 alpha-2)" },
	{ "consent_age_default", CT_INT, S(consent_age_default), "16", 13, 16,
	    NULL, 0,
	    "digital-consent age where consent_ages names no country" },
	{ "password_reset_path", CT_STRING, S(password_reset_path),
	    "/reset-password?token=", 0, 0, NULL, 0,
	    "appended to public_url, then the token, in reset mail" },
	{ "email_verify_ttl_s", CT_INT, S(email_verify_ttl_s), "172800", 600,
	    2592000, NULL, 0,
	    "how long the link that verifies a new account's address works" },
	{ "email_verify_resend_s", CT_INT, S(email_verify_resend_s), "60", 1,
	    86400, NULL, 0,
	    "how long after a verification link another may be asked for" },
	{ "staff_invite_ttl_s", CT_INT, S(staff_invite_ttl_s), "604800", 3600,
	    2592000, NULL, 0,
	    "how long a staff invitation's link to set a password works" },
	{ "password_reset_ttl_s", CT_INT, S(password_reset_ttl_s), "1800", 60,
	    86400, NULL, 0, "how long a password reset link works" },
	{ "guardian_min_age", CT_INT, S(guardian_min_age), "18", 16, 99, NULL,
	    0,
	    "how old a member must be to invite or add a child (and over "
	    "the digital-consent age)" },
	{ "family_invites_max", CT_INT, S(family_invites_max), "5", 1, 100,
	    NULL, 0,
	    "open family invitations (and children's accounts made) a member "
	    "may hold at once" },
	{ "family_invite_ttl_s", CT_INT, S(family_invite_ttl_s), "1209600",
	    3600, 7776000, NULL, 0,
	    "how long a family invitation stays open (it can be accepted, "
	    "and counts against family_invites_max)" },
	{ "family_refusal_path", CT_STRING, S(family_refusal_path),
	    "/not-me?token=", 0, 0, NULL, 0,
	    "appended to public_url, then the token, in a child's welcome "
	    "mail: the address's owner refuses it (family_invite_ttl_s)" },
	{ "password_opslimit", CT_INT, S(password_opslimit), "3", 1, 20, NULL,
	    0,
	    "argon2id passes (OWASP minimum 2, enforced in production); "
	    "raising it rehashes on next login" },
	{ "password_memlimit_kib", CT_INT, S(password_memlimit_kib), "65536", 8,
	    4194304, NULL, 0,
	    "argon2id memory in KiB (OWASP minimum 19456, enforced in "
	    "production); raising it rehashes on next login" },
	{ "terms_version", CT_STRING, S(terms_version), "2026-01", 0, 0, NULL,
	    0, "the terms of use users accept now" },
	{ "privacy_version", CT_STRING, S(privacy_version), "2026-01", 0, 0,
	    NULL, 0, "the privacy notice users accept now" },
	{ "webhook_body_limit", CT_INT, S(webhook_body_limit), "65536", 1024,
	    64LL * 1024 * 1024, NULL, 0,
	    "largest inbound webhook body kept and "
	    "processed (larger ones are refused, 413, and kept truncated)" },
	{ "webhook_inbox_retention_days", CT_INT,
	    S(webhook_inbox_retention_days), "30", 1, 365, NULL, 0,
	    "webhook inbox rows (bodies and outcomes) older than this are "
	    "deleted by the hourly webhooks.prune job, failed ones too" },
	{ "webhook_refused_max_per_address", CT_INT,
	    S(webhook_refused_max_per_address), "100", 0, 1000000, NULL, 0,
	    "webhook calls refused for their credentials are kept as metadata "
	    "only, at most this many rows per client address (past it they "
	    "are counted, not stored)" },
	{ "storyblok_webhook_secret", CT_STRING, S(storyblok_webhook_secret),
	    "", 0, 0, NULL, 1,
	    "CMS webhook secret: webhook-signature is the hex "
	    "HMAC-SHA1 of the body under it (empty = every call refused)" },
	{ "storyblok_api_url", CT_STRING, S(storyblok_api_url),
	    "https://api.storyblok.com/v2", 0, 0, NULL, 0,
	    "CMS content API base; stories are read from "
	    "<base>/cdn/stories/<id>" },
	{ "storyblok_token", CT_STRING, S(storyblok_token), "", 0, 0, NULL, 1,
	    "CMS content API token (published content)" },
	{ "storyblok_timeout_s", CT_INT, S(storyblok_timeout_s), "10", 1, 120,
	    NULL, 0, "CMS story fetch timeout (connect and transfer)" },
	{ "storyblok_story_limit", CT_INT, S(storyblok_story_limit), "4194304",
	    1024, 64LL * 1024 * 1024, NULL, 0,
	    "largest CMS story response in bytes" },
	{ "chat_sync_url", CT_STRING, S(chat_sync_url), "", 0, 0, NULL, 0,
	    "chat provider API base for profile sync, e.g. "
	    "https://api.crisp.chat/v1 (empty = profile sync off)" },
	{ "chat_sync_website_id", CT_STRING, S(chat_sync_website_id), "", 0, 0,
	    NULL, 0,
	    "the chat provider's website id (needed with chat_sync_url)" },
	{ "chat_sync_identifier", CT_STRING, S(chat_sync_identifier), "", 0, 0,
	    NULL, 0, "chat provider token identifier (HTTP basic auth user)" },
	{ "chat_sync_key", CT_STRING, S(chat_sync_key), "", 0, 0, NULL, 1,
	    "chat provider token key (HTTP basic auth password)" },
	{ "chat_sync_timeout_s", CT_INT, S(chat_sync_timeout_s), "10", 1, 120,
	    NULL, 0, "chat provider request timeout (connect and transfer)" },
	{ "chat_sync_delay_ms", CT_INT, S(chat_sync_delay_ms), "1000", 0,
	    600000, NULL, 0,
	    "how long a profile push waits after a change, so a burst "
	    "of changes makes one push" },
	{ "reminders_page", CT_INT, S(reminders_page), "500", 1, 10000, NULL, 0,
	    "bookings or certificates one read of the reminder jobs takes "
	    "(a run reads page after page to the end)" },
	{ "course_chat_page", CT_INT, S(course_chat_page), "200", 1, 10000,
	    NULL, 0,
	    "learners one run of the job learning.course_chat looks at; a "
	    "full page queues the next run" },
	{ "simplybook_webhook_secret", CT_STRING, S(simplybook_webhook_secret),
	    "", 0, 0, NULL, 1,
	    "booking webhook token, sent as X-Simplybook-Token "
	    "or Authorization: Bearer (empty = every call refused)" },
	{ "simplybook_timestamp_tolerance_s", CT_INT,
	    S(simplybook_timestamp_tolerance_s), "300", 1, 3600, NULL, 0,
	    "a booking webhook's timestamp, when sent, must be this close to "
	    "now" },
	{ "booking_cancel_url", CT_STRING, S(booking_cancel_url), "", 0, 0,
	    NULL, 0,
	    "http(s) URL told of in-app booking cancels by a signed POST "
	    "(empty = the booking system is not told)" },
	{ "booking_cancel_secret", CT_STRING, S(booking_cancel_secret), "", 0,
	    0, NULL, 1,
	    "HMAC-SHA256 key of X-Carebase-Signature on those POSTs "
	    "(needed with booking_cancel_url, at least 16 bytes)" },
	{ "report_max_rows", CT_INT, S(report_max_rows), "10000", 1, 1000000,
	    NULL, 0, "most rows one report answers (422 past it)" },
	{ "report_partner_min_count", CT_INT, S(report_partner_min_count), "5",
	    1, 1000, NULL, 0,
	    "a partner admin's reports: a count under this (above 0) is "
	    "withheld (null, an empty cell), and so is a total under it or "
	    "of a column with a withheld cell (1 = none withheld)" },
	{ "report_partner_max_days", CT_INT, S(report_partner_max_days), "400",
	    1, 1827, NULL, 0,
	    "longest range, in days, of a report a partner admin runs "
	    "(422 past it)" },
	{ "report_run_max_bytes", CT_INT, S(report_run_max_bytes), "16777216",
	    256, 256LL * 1024 * 1024, NULL, 0,
	    "largest answer of a report, "
	    "JSON, CSV, XLSX or PDF (422 RESULT_TOO_LARGE past it; a queued run fails)" },
	{ "pdf_font", CT_STRING, S(pdf_font), PDF_FONT_DEFAULT, 0, 0, NULL, 0,
	    "TrueType font embedded in the PDFs made (reports, certificates) "
	    "for their Unicode text (Debian's fonts-dejavu-core); serve and "
	    "worker check it at start" },
	{ "pdf_font_bold", CT_STRING, S(pdf_font_bold), PDF_FONT_BOLD_DEFAULT,
	    0, 0, NULL, 0, "its bold face (certificates), checked alike" },
	{ "report_run_retention_days", CT_INT, S(report_run_retention_days),
	    "7", 1, 365, NULL, 0,
	    "report runs (and their results) older than "
	    "this are deleted by the hourly report_runs.prune job" },
	{ "training_hold_minutes", CT_INT, S(training_hold_minutes), "30", 1,
	    1440, NULL, 0,
	    "minutes a new training booking holds its seats unless paid "
	    "(confirmed); then the training.expire_holds job frees them" },
	{ "training_inquiry_hold_minutes", CT_INT,
	    S(training_inquiry_hold_minutes), "1440", 1, 10080, NULL, 0,
	    "minutes a booking inquiry holds the seats it asks about" },
	{ "stripe_api_url", CT_STRING, S(stripe_api_url),
	    "https://api.stripe.com", 0, 0, NULL, 0,
	    "Stripe's REST API base (PaymentIntents and refunds are POSTed to "
	    "<base>/v1/...)" },
	{ "stripe_secret_key", CT_STRING, S(stripe_secret_key), "", 0, 0, NULL,
	    1,
	    "Stripe secret key (sk_...), sent as Authorization: Bearer (empty "
	    "= payments off)" },
	{ "stripe_webhook_secret", CT_STRING, S(stripe_webhook_secret), "", 0,
	    0, NULL, 1,
	    "Stripe webhook signing secret (whsec_...): Stripe-Signature's "
	    "HMAC-SHA256 key (empty = every webhook refused)" },
	{ "stripe_timeout_s", CT_INT, S(stripe_timeout_s), "10", 1, 60, NULL, 0,
	    "a Stripe request's timeout (connect and transfer)" },
	{ "training_refund_full_days", CT_INT, S(training_refund_full_days),
	    "14", 0, 365, NULL, 0,
	    "a refund asked for (or a booker's cancel) at least this many "
	    "calendar days (in Europe/London) before the course starts is "
	    "in full" },
	{ "training_refund_fee_percent", CT_INT, S(training_refund_fee_percent),
	    "25", 0, 99, NULL, 0,
	    "after that, this percentage of the amount is kept as a fee" },
	{ "training_refund_none_hours", CT_INT, S(training_refund_none_hours),
	    "48", 0, 8760, NULL, 0,
	    "no refund inside this many hours of the start (staff may "
	    "override with a reason)" },
	{ "sms_url", CT_STRING, S(sms_url), "", 0, 0, NULL, 0,
	    "SMS provider endpoint (an http(s) URL): notifications are POSTed "
	    "to it as JSON {to, from, body} (empty = no SMS is sent)" },
	{ "sms_token", CT_STRING, S(sms_token), "", 0, 0, NULL, 1,
	    "the SMS provider's credential, sent as Authorization: Bearer" },
	{ "sms_sender", CT_STRING, S(sms_sender), "carebase", 0, 0, NULL, 0,
	    "the sender id or E.164 number SMS come from" },
	{ "sms_timeout_s", CT_INT, S(sms_timeout_s), "10", 1, 60, NULL, 0,
	    "an SMS request's timeout (connect and transfer)" },
	{ "explain_lists", CT_INT, S(explain_lists), "0", 0, 1, NULL, 0,
	    "1 = log the database's plan of every resource list (event "
	    "list_plan), for tests and diagnosis" },
};

#define CONFIG_COUNT   (sizeof(config_table) / sizeof(config_table[0]))
#define CONFIG_SRC_LEN 160 /* "environment " and an envname[128] */

/* Where each value in force came from, for `carebase config`. */
static char config_src[CONFIG_COUNT][CONFIG_SRC_LEN];

static int config_set(
    const struct config_entry *, const char *, const char *, char *, size_t);
static int config_value_set(
    const struct config_entry *, const char *, const char *, char *, size_t);
static const struct config_entry *config_find(const char *, size_t);
static int	   consent_ages_check(const char *, char *, size_t);
static int	   booking_cancel_check(char *, size_t);
static int	   url_check(const char *, const char *, char *, size_t);
static int	   training_payments_check(char *, size_t);
static int	   sms_check(char *, size_t);
static int	   password_cost_check(char *, size_t);
static int	   listen_check(char *, size_t);
static int	   metrics_check(char *, size_t);
static const char *config_source(const char *);
static void	   url_masked(const char *, char *, size_t);

/*
 * consent_ages: "CC:NN,CC:NN": ISO 3166-1 alpha-2 codes in capitals and
 * ages from 13 to 16, the range the GDPR (article 8) allows.
 */
static int
consent_ages_check(const char *s, char *err, size_t errlen)
{
	const char *p = s;

	while (*p != '\0') {
		if (!(p[0] >= 'A' && p[0] <= 'Z' && p[1] >= 'A' &&
			p[1] <= 'Z' && p[2] == ':' && p[3] == '1' &&
			p[4] >= '3' && p[4] <= '6' &&
			(p[5] == '\0' || (p[5] == ',' && p[6] != '\0')))) {
			snprintf(err, errlen,
			    "config: consent_ages must be "
			    "CC:NN,... with country codes in capitals and ages "
			    "13 to 16, near \"%.12s\"",
			    p);
			return (ERR_CONFIG);
		}
		p += p[5] == ',' ? 6 : 5;
	}
	return (OK);
}

/*
 * booking_cancel_url, when set: http:// or https:// and a host, no blanks
 * or control characters, and a booking_cancel_secret of at least
 * BOOKING_CANCEL_SECRET_MIN bytes to sign with.
 */
static int
booking_cancel_check(char *err, size_t errlen)
{
	if (config.booking_cancel_url[0] == '\0')
		return (OK);
	if (url_check("booking_cancel_url", config.booking_cancel_url, err,
		errlen) != OK)
		return (ERR_CONFIG);
	if (strlen(config.booking_cancel_secret) < BOOKING_CANCEL_SECRET_MIN) {
		snprintf(err, errlen,
		    "config: booking_cancel_secret must be "
		    "set, at least %d bytes, when booking_cancel_url is",
		    BOOKING_CANCEL_SECRET_MIN);
		return (ERR_CONFIG);
	}
	return (OK);
}

/* An http:// or https:// URL with a host, no blanks or control bytes. */
static int
url_check(const char *name, const char *u, char *err, size_t errlen)
{
	const char *rest, *p;

	rest = strncmp(u, "http://", 7) == 0 ? u + 7
	    : strncmp(u, "https://", 8) == 0 ? u + 8
					     : NULL;
	for (p = u; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			break;
	if (rest == NULL || rest[0] == '\0' || rest[0] == '/' || *p != '\0') {
		snprintf(err, errlen,
		    "config: %s must be an http:// or https:// URL with a host "
		    "and no blanks",
		    name);
		return (ERR_CONFIG);
	}
	return (OK);
}

/*
 * stripe_api_url is a URL; a Stripe request ends well before a job can be
 * reclaimed (a refund job makes one); the refund policy's "none" window
 * lies inside its "full" one.
 */
static int
training_payments_check(char *err, size_t errlen)
{
	if (url_check("stripe_api_url", config.stripe_api_url, err, errlen) !=
	    OK)
		return (ERR_CONFIG);
	if (STRIPE_REQUESTS * config.stripe_timeout_s >= config.job_timeout_s) {
		snprintf(err, errlen,
		    "config: stripe_timeout_s (%lld) times %d, the requests "
		    "one refund job may make, must be less than job_timeout_s "
		    "(%lld)",
		    (long long)config.stripe_timeout_s, STRIPE_REQUESTS,
		    (long long)config.job_timeout_s);
		return (ERR_CONFIG);
	}
	if (config.training_refund_none_hours >
	    config.training_refund_full_days * 24) {
		snprintf(err, errlen,
		    "config: training_refund_none_hours (%lld) must be at most "
		    "training_refund_full_days (%lld) x 24",
		    (long long)config.training_refund_none_hours,
		    (long long)config.training_refund_full_days);
		return (ERR_CONFIG);
	}
	return (OK);
}

/*
 * sms_url, when set, is a URL, and an SMS request ends well before its
 * job can be reclaimed.
 */
static int
sms_check(char *err, size_t errlen)
{
	if (config.sms_url[0] == '\0')
		return (OK);
	if (url_check("sms_url", config.sms_url, err, errlen) != OK)
		return (ERR_CONFIG);
	if (config.sms_timeout_s >= config.job_timeout_s) {
		snprintf(err, errlen,
		    "config: sms_timeout_s (%lld) must be less than "
		    "job_timeout_s (%lld)",
		    (long long)config.sms_timeout_s,
		    (long long)config.job_timeout_s);
		return (ERR_CONFIG);
	}
	return (OK);
}

/*
 * The password cost below the OWASP minimums: refused in production,
 * otherwise allowed (config_load warns once the log level is set).
 */
static int
password_cost_check(char *err, size_t errlen)
{
	if (config.password_opslimit >= PASSWORD_OPSLIMIT_OWASP &&
	    config.password_memlimit_kib >= PASSWORD_MEMLIMIT_KIB_OWASP)
		return (OK);
	if (!config_is_production())
		return (OK);
	snprintf(err, errlen,
	    "config: password_opslimit (%lld) and password_memlimit_kib "
	    "(%lld) must be at least the OWASP minimums %d and %d in "
	    "production",
	    (long long)config.password_opslimit,
	    (long long)config.password_memlimit_kib, PASSWORD_OPSLIMIT_OWASP,
	    PASSWORD_MEMLIMIT_KIB_OWASP);
	return (ERR_CONFIG);
}

/*
 * listen: an IPv4 or IPv6 address, or a host name, without a port (the
 * port is its own key): "127.0.0.1:8080" is refused here with one line,
 * not later by the resolver as an internal error.
 */
static int
listen_check(char *err, size_t errlen)
{
	const char   *l = config.listen, *p;
	unsigned char addr[16];

	if (l[0] == '\0' || inet_pton(AF_INET, l, addr) == 1 ||
	    inet_pton(AF_INET6, l, addr) == 1)
		return (OK);
	for (p = l; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
			break;
	if (*p == '\0' && strlen(l) <= 253 && l[0] != '-' && l[0] != '.')
		return (OK);
	snprintf(err, errlen,
	    "config: listen (%s) must be an address such as 127.0.0.1, ::1 "
	    "or 0.0.0.0, or a host name, without a port (the port is "
	    "--port), got \"%.64s\"",
	    config_source("listen"), l);
	return (ERR_CONFIG);
}

/*
 * metrics_listen: empty, or an address and a port ("127.0.0.1:9464",
 * "[::1]:9464", "localhost:9464"), split by config_host_port; a
 * metrics_token long enough not to be guessed.
 */
static int
metrics_check(char *err, size_t errlen)
{
	char host[256];
	int  port;

	if (config.metrics_listen[0] != '\0' &&
	    config_host_port(
		config.metrics_listen, host, sizeof(host), &port) != OK) {
		snprintf(err, errlen,
		    "config: metrics_listen (%s) must be an address and a "
		    "port such as 127.0.0.1:9464 or [::1]:9464, got \"%.64s\"",
		    config_source("metrics_listen"), config.metrics_listen);
		return (ERR_CONFIG);
	}
	if (config.metrics_token[0] != '\0' &&
	    strlen(config.metrics_token) < METRICS_TOKEN_MIN) {
		snprintf(err, errlen,
		    "config: metrics_token (%s) must be at least %d bytes",
		    config_source("metrics_token"), METRICS_TOKEN_MIN);
		return (ERR_CONFIG);
	}
	return (OK);
}

int
config_host_port(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon, *h = s, *p;
	size_t	    n;
	int64_t	    v;

	if ((colon = strrchr(s, ':')) == NULL)
		return (ERR_CONFIG);
	n = (size_t)(colon - s);
	if (s[0] == '[') { /* [IPv6]:port */
		if (n < 3 || s[n - 1] != ']')
			return (ERR_CONFIG);
		h = s + 1;
		n -= 2;
	} else if (memchr(s, ':', n) != NULL)
		return (ERR_CONFIG); /* a bare IPv6 address: brackets */
	if (n == 0 || n >= hostlen || parse_int64(colon + 1, 0, 65535, &v) != 0)
		return (ERR_CONFIG);
	for (p = h; p < h + n; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
			*p == ':'))
			return (ERR_CONFIG);
	memcpy(host, h, n);
	host[n] = '\0';
	*port = (int)v;
	return (OK);
}

static const char *
config_source(const char *name)
{
	size_t i;

	for (i = 0; i < CONFIG_COUNT; i++)
		if (strcmp(config_table[i].name, name) == 0)
			return (config_src[i]);
	return ("");
}

/* Set e from value, and remember where it came from (from: "default",
 * "environment CAREBASE_X", "flag --x"). */
static int
config_set(const struct config_entry *e, const char *value, const char *from,
    char *err, size_t errlen)
{
	snprintf(config_src[e - config_table], CONFIG_SRC_LEN, "%s", from);
	return (config_value_set(e, value, from, err, errlen));
}

static int
config_value_set(const struct config_entry *e, const char *value,
    const char *from, char *err, size_t errlen)
{
	char	  **sp;
	int64_t	   *ip, v;
	const char *c;
	size_t	    n;

	if (strlen(value) > CONFIG_MAX_STRING) {
		snprintf(err, errlen, "config: %s (%s) is longer than %d bytes",
		    e->name, from, CONFIG_MAX_STRING);
		return (ERR_CONFIG);
	}
	switch (e->type) {
	case CT_INT:
		ip = (int64_t *)(void *)((char *)&config + e->offset);
		if (parse_int64(value, e->min, e->max, &v) != 0) {
			snprintf(err, errlen,
			    "config: %s (%s) must be an integer from %lld to "
			    "%lld, got \"%.64s\"",
			    e->name, from, (long long)e->min, (long long)e->max,
			    value);
			return (ERR_CONFIG);
		}
		*ip = v;
		return (OK);
	case CT_ENUM:
		n = strlen(value);
		for (c = e->choices; c != NULL; c = strchr(c, '|')) {
			if (*c == '|')
				c++;
			if (strncmp(c, value, n) == 0 &&
			    (c[n] == '|' || c[n] == '\0'))
				break;
		}
		if (c == NULL || n == 0) {
			snprintf(err, errlen,
			    "config: %s (%s) must be one of %s, got \"%.64s\"",
			    e->name, from, e->choices, value);
			return (ERR_CONFIG);
		}
		/* FALLTHROUGH */
	case CT_STRING:
		sp = (char **)(void *)((char *)&config + e->offset);
		free(*sp);
		if ((*sp = strdup(value)) == NULL)
			return (ERR_NOMEM);
		return (OK);
	}
	return (ERR_INTERNAL);
}

static const struct config_entry *
config_find(const char *name, size_t n)
{
	size_t i, j;

	for (i = 0; i < CONFIG_COUNT; i++) {
		const char *e = config_table[i].name;

		if (strlen(e) != n)
			continue;
		for (j = 0; j < n; j++) {
			char c = name[j] == '-' ? '_' : name[j];

			if (c != e[j])
				break;
		}
		if (j == n)
			return (&config_table[i]);
	}
	return (NULL);
}

int
config_has(const char *name, size_t n)
{
	return (config_find(name, n) != NULL);
}

int
config_load(int argc, char **argv, char *err, size_t errlen)
{
	const struct config_entry *e;
	char			   envname[128], from[CONFIG_SRC_LEN];
	const char		  *v, *eq, *env;
	size_t			   i, j;
	int			   rc, k;

	for (i = 0; i < CONFIG_COUNT; i++) {
		e = &config_table[i];
		if ((rc = config_set(e, e->def, "default", err, errlen)) != OK)
			return (rc);
		snprintf(envname, sizeof(envname), "CAREBASE_");
		for (j = 0; e->name[j] != '\0' && j + 10 < sizeof(envname); j++)
			envname[9 + j] =
			    (char)(e->name[j] >= 'a' && e->name[j] <= 'z'
				    ? e->name[j] - 32
				    : e->name[j]);
		envname[9 + j] = '\0';
		env = envname;
		v = getenv(envname);
		if (v == NULL && strcmp(e->name, "database_url") == 0)
			v = getenv(env = "DATABASE_URL");
		snprintf(from, sizeof(from), "environment %s", env);
		if (v != NULL &&
		    (rc = config_set(e, v, from, err, errlen)) != OK)
			return (rc);
	}
	for (k = 0; k < argc; k++) {
		const char *a = argv[k];

		if (strncmp(a, "--", 2) != 0)
			continue;
		a += 2;
		if ((eq = strchr(a, '=')) == NULL)
			continue; /* not a config flag; commands parse it */
		if ((e = config_find(a, (size_t)(eq - a))) == NULL)
			continue;
		snprintf(from, sizeof(from), "flag --%.*s", (int)(eq - a), a);
		if ((rc = config_set(e, eq + 1, from, err, errlen)) != OK)
			return (rc);
	}
	if (config.pool_min > config.pool_max) {
		snprintf(err, errlen,
		    "config: pool_min (%lld) is above pool_max (%lld)",
		    (long long)config.pool_min, (long long)config.pool_max);
		return (ERR_CONFIG);
	}
	if ((config.tls_cert[0] == '\0') != (config.tls_key[0] == '\0')) {
		snprintf(err, errlen,
		    "config: tls_cert and tls_key must be set together");
		return (ERR_CONFIG);
	}
	if (strncmp(config.database_url, "sqlite://", 9) != 0 &&
	    strncmp(config.database_url, "postgres://", 11) != 0 &&
	    strncmp(config.database_url, "postgresql://", 13) != 0) {
		snprintf(err, errlen,
		    "config: database_url must start with sqlite:// or "
		    "postgres://");
		return (ERR_CONFIG);
	}
	if (config.body_inflight_per_client < config.body_limit ||
	    config.body_inflight_per_client < config.points_body_limit ||
	    config.body_inflight_max < config.body_inflight_per_client) {
		snprintf(err, errlen,
		    "config: body_inflight_per_client (%lld) must hold the "
		    "largest body (body_limit %lld, points_body_limit %lld) "
		    "and be at most body_inflight_max (%lld)",
		    (long long)config.body_inflight_per_client,
		    (long long)config.body_limit,
		    (long long)config.points_body_limit,
		    (long long)config.body_inflight_max);
		return (ERR_CONFIG);
	}
	if (listen_check(err, errlen) != OK || metrics_check(err, errlen) != OK)
		return (ERR_CONFIG);
	/* The oldest row waits a flush interval before it is written: an
	 * age bound at or below it would call every audited read behind. */
	if (config.audit_queue_age_ms <= config.audit_flush_ms) {
		snprintf(err, errlen,
		    "config: audit_queue_age_ms (%lld, %s) must be more than "
		    "audit_flush_ms (%lld, %s): rows wait that long to be "
		    "written, and every audited read would answer 503",
		    (long long)config.audit_queue_age_ms,
		    config_source("audit_queue_age_ms"),
		    (long long)config.audit_flush_ms,
		    config_source("audit_flush_ms"));
		return (ERR_CONFIG);
	}
	if (consent_ages_check(config.consent_ages, err, errlen) != OK)
		return (ERR_CONFIG);
	if (booking_cancel_check(err, errlen) != OK)
		return (ERR_CONFIG);
	if (sms_check(err, errlen) != OK)
		return (ERR_CONFIG);
	if (training_payments_check(err, errlen) != OK)
		return (ERR_CONFIG);
	if (password_cost_check(err, errlen) != OK)
		return (ERR_CONFIG);
	/* A chat job makes up to CHAT_SYNC_REQUESTS requests of up to
	 * chat_sync_timeout_s each: it must end before it can be reclaimed. */
	if (config.chat_sync_url[0] != '\0' &&
	    CHAT_SYNC_REQUESTS * config.chat_sync_timeout_s >=
		config.job_timeout_s) {
		snprintf(err, errlen,
		    "config: chat_sync_timeout_s (%lld) times "
		    "%d, the requests one chat job may make, must be less than "
		    "job_timeout_s (%lld)",
		    (long long)config.chat_sync_timeout_s, CHAT_SYNC_REQUESTS,
		    (long long)config.job_timeout_s);
		return (ERR_CONFIG);
	}
	log_set_level(log_level_parse(config.log_level));
	if (config.password_opslimit < PASSWORD_OPSLIMIT_OWASP ||
	    config.password_memlimit_kib < PASSWORD_MEMLIMIT_KIB_OWASP)
		log_warn("event=password_cost_below_owasp opslimit=%lld "
			 "memlimit_kib=%lld msg=\"not for production: argon2id "
			 "below the OWASP minimums (%d passes, %d KiB)\"",
		    (long long)config.password_opslimit,
		    (long long)config.password_memlimit_kib,
		    PASSWORD_OPSLIMIT_OWASP, PASSWORD_MEMLIMIT_KIB_OWASP);
	return (OK);
}

void
config_free(void)
{
	size_t i;

	for (i = 0; i < CONFIG_COUNT; i++) {
		if (config_table[i].type != CT_INT) {
			char **sp = (char **)(void *)((char *)&config +
			    config_table[i].offset);

			free(*sp);
			*sp = NULL;
		}
	}
}

void
config_usage(void)
{
	size_t i, j;
	char   flag[64];

	printf("Configuration (environment CAREBASE_<NAME>, or "
	       "--<name>=VALUE):\n\n");
	for (i = 0; i < CONFIG_COUNT; i++) {
		const struct config_entry *e = &config_table[i];

		for (j = 0; e->name[j] != '\0' && j + 1 < sizeof(flag); j++)
			flag[j] = e->name[j] == '_' ? '-' : e->name[j];
		flag[j] = '\0';
		printf("  --%-22s %s\n  %-24s default: %s\n", flag, e->help, "",
		    e->secret == 1 && e->def[0] != '\0'
			? "(set)"
			: (e->def[0] ? e->def : "(empty)"));
	}
}

/*
 * A URL with its secrets masked: the user-info's password
 * ("smtps://u:PW@h") and the values of parameters named token, key,
 * secret, password or signature ("...?token=T&...", or a conninfo's
 * "password=PW"), so that `carebase config` shows where it connects
 * without what it connects with.
 */
static void
url_masked(const char *u, char *out, size_t outlen)
{
	static const char *const names[] = { "token", "key", "secret",
		"password", "signature" };
	const char		*host, *at, *colon, *slash, *p, *end;
	size_t			 n = 0, i, len;

	out[0] = '\0';
	if ((host = strstr(u, "://")) != NULL) {
		host += 3;
		at = strchr(host, '@');
		slash = strchr(host, '/');
		colon =
		    at != NULL ? memchr(host, ':', (size_t)(at - host)) : NULL;
		if (colon != NULL && (slash == NULL || slash > at)) {
			n = (size_t)snprintf(out, outlen, "%.*s********",
			    (int)(colon + 1 - u), u);
			u = at;
		}
	}
	/* A parameter starts the text, or follows ?, &, ; or a blank. */
	for (p = u; n < outlen && *p != '\0'; p++) {
		if (p != u && strchr("?&; ", p[-1]) == NULL)
			continue;
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			len = strlen(names[i]);
			if (strncasecmp(p, names[i], len) == 0 && p[len] == '=')
				break;
		}
		if (i == sizeof(names) / sizeof(names[0]))
			continue;
		len = strlen(names[i]) + 1;
		end = p + len + strcspn(p + len, "&;# ");
		n += (size_t)snprintf(
		    out + n, outlen - n, "%.*s********", (int)(p + len - u), u);
		u = p = end;
		if (*p == '\0')
			break;
	}
	if (n < outlen)
		snprintf(out + n, outlen - n, "%s", u);
}

void
config_print(FILE *fp)
{
	char   masked[CONFIG_MAX_STRING + 64];
	size_t i;

	fprintf(fp,
	    "# the configuration in force: key, value, where it came from "
	    "(default, environment, flag); secrets masked\n");
	for (i = 0; i < CONFIG_COUNT; i++) {
		const struct config_entry *e = &config_table[i];
		const char		  *v = NULL;
		char			   num[32];

		if (e->type == CT_INT) {
			snprintf(num, sizeof(num), "%lld",
			    (long long)*(int64_t *)(void *)((char *)&config +
				e->offset));
			v = num;
		} else
			v = *(char **)(void *)((char *)&config + e->offset);
		if (v == NULL)
			v = "";
		if (e->secret == 1 && v[0] != '\0')
			v = "******** (set)";
		else if (e->secret == 2 ||
		    (e->type == CT_STRING && strstr(v, "://") != NULL)) {
			url_masked(v, masked, sizeof(masked));
			v = masked;
		}
		fprintf(fp, "%-34s %-40s  %s\n", e->name,
		    v[0] != '\0' ? v : "(empty)",
		    config_src[i][0] != '\0' ? config_src[i] : "default");
	}
}

/* Not before config_load (tests use config without loading it). */
int
config_is_production(void)
{
	return (config.env != NULL && strcmp(config.env, "production") == 0);
}
