-- Queued report runs (issue 6, reports through the job queue;
-- src/partners/report_runs.c). A run names a report of the catalogue in
-- src/partners/reports.c and its parameters; the report_runs.make job
-- (job_id) makes it and keeps the answer in result (at most
-- report_run_max_bytes) with status succeeded, or sets status failed with
-- error_code and error. Reports answer counts by partner and by course, so
-- a result names no person. The hourly report_runs.prune job deletes runs
-- created more than report_run_retention_days ago. Times are BIGINT ms.
CREATE TABLE report_runs (
	id		TEXT PRIMARY KEY,
	report		TEXT NOT NULL,
	range_from	BIGINT NOT NULL,
	range_to	BIGINT NOT NULL,
	period		TEXT NOT NULL CHECK (period IN ('day', 'week', 'month')),
	format		TEXT NOT NULL CHECK (format IN ('json', 'csv')),
	status		TEXT NOT NULL DEFAULT 'queued' CHECK (status IN
			('queued', 'running', 'succeeded', 'failed')),
	attempts	INTEGER NOT NULL DEFAULT 0,
	error_code	TEXT,
	error		TEXT,
	job_id		TEXT,
	requested_by	TEXT REFERENCES users (id) ON DELETE SET NULL,
	result		BYTEA,
	result_bytes	BIGINT,
	result_rows	BIGINT,
	started_at	BIGINT,
	finished_at	BIGINT,
	created_at	BIGINT NOT NULL,
	updated_at	BIGINT NOT NULL,
	CHECK (range_to > range_from)
);
CREATE INDEX report_runs_created_at ON report_runs (created_at);
CREATE INDEX report_runs_status ON report_runs (status);
-- A run whose job was given up shows failed_jobs' error (report_runs.c).
CREATE INDEX failed_jobs_job_id ON failed_jobs (job_id);
