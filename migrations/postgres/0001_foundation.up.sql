-- Foundation: the job queue, failed jobs, recurring schedules, email log.
-- Times are BIGINT milliseconds since the epoch, UTC, on both dialects.

CREATE TABLE jobs (
	id		TEXT PRIMARY KEY,
	queue		TEXT NOT NULL DEFAULT 'default',
	kind		TEXT NOT NULL,
	payload		TEXT NOT NULL DEFAULT '{}',
	status		TEXT NOT NULL DEFAULT 'queued'
			CHECK (status IN ('queued', 'running')),
	attempts	INTEGER NOT NULL DEFAULT 0,
	max_attempts	INTEGER NOT NULL,
	run_at		BIGINT NOT NULL,
	locked_by	TEXT,
	locked_at	BIGINT,
	last_error	TEXT,
	created_at	BIGINT NOT NULL,
	updated_at	BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (status, run_at);

CREATE TABLE failed_jobs (
	id		TEXT PRIMARY KEY,
	job_id		TEXT NOT NULL,
	queue		TEXT NOT NULL,
	kind		TEXT NOT NULL,
	payload		TEXT NOT NULL,
	error		TEXT NOT NULL,
	attempts	INTEGER NOT NULL,
	failed_at	BIGINT NOT NULL
);
CREATE INDEX failed_jobs_failed_at ON failed_jobs (failed_at);

CREATE TABLE job_schedules (
	name		TEXT PRIMARY KEY,
	cron		TEXT NOT NULL,
	kind		TEXT NOT NULL,
	payload		TEXT NOT NULL DEFAULT '{}',
	next_run_at	BIGINT NOT NULL,
	last_run_at	BIGINT
);

-- Recipient, subject and template variables are personal data: sealed
-- (XChaCha20-Poly1305, the system key, bound to the row); recipient_index
-- is a keyed blind index so a person's mail can be found and erased, and
-- user_id names the user a mail was for (NULL: none), so mail to an
-- address they no longer use is found too. vars (which may hold a reset
-- link) is cleared once the mail is sent or has finally failed.
CREATE TABLE email_log (
	id		TEXT PRIMARY KEY,
	recipient	BYTEA NOT NULL,
	recipient_index	TEXT NOT NULL,
	subject		BYTEA NOT NULL,
	vars		BYTEA,
	user_id		TEXT,
	template	TEXT NOT NULL,
	status		TEXT NOT NULL
			CHECK (status IN ('queued', 'sent', 'failed')),
	attempts	INTEGER NOT NULL DEFAULT 0,
	sent_at		BIGINT,
	error		TEXT,
	job_id		TEXT,
	created_at	BIGINT NOT NULL,
	updated_at	BIGINT NOT NULL
);
CREATE INDEX email_log_created_at ON email_log (created_at);
CREATE INDEX email_log_recipient_index ON email_log (recipient_index);
CREATE INDEX email_log_user_id ON email_log (user_id);
