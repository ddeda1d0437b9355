-- Issue 17 item 8: the training business's reports and report schedules
-- (src/reports/training_reports.c, schedules.c).
--
-- The training reports read each range through an index on the instant
-- it is over: bookings made, paid and cancelled, refunds asked for,
-- completed and rejected (course_schedules.start_time and certificates'
-- (status, expiry_date) have theirs already).
CREATE INDEX training_bookings_created_at ON training_bookings (created_at);
CREATE INDEX training_bookings_confirmed_at ON training_bookings (confirmed_at);
CREATE INDEX training_bookings_cancelled_at ON training_bookings (cancelled_at);
CREATE INDEX refunds_requested_at ON refunds (requested_at);
CREATE INDEX refunds_completed_at ON refunds (completed_at);
CREATE INDEX refunds_rejected_at ON refunds (rejected_at);

-- A report made daily, weekly or monthly over London's period just ended
-- (seed 004: reports.is_scheduled, schedule_frequency), mailed to
-- recipients: a JSON array of user ids of staff who may read reports,
-- never addresses. next_run_at is the end of the next period (London's
-- midnight, ms); the report_schedules.due job makes its run and moves it
-- on, once (a conditional update; the unique index below backs it).
CREATE TABLE report_schedules (
	id		TEXT PRIMARY KEY,
	report		TEXT NOT NULL,
	frequency	TEXT NOT NULL CHECK (frequency IN ('daily', 'weekly', 'monthly')),
	period		TEXT NOT NULL DEFAULT 'month' CHECK (period IN ('day', 'week', 'month')),
	format		TEXT NOT NULL DEFAULT 'json' CHECK (format IN ('json', 'csv', 'xlsx', 'pdf')),
	recipients	TEXT NOT NULL DEFAULT '[]',
	next_run_at	BIGINT NOT NULL,
	last_run_id	TEXT,
	last_run_at	BIGINT,
	created_at	BIGINT NOT NULL,
	updated_at	BIGINT NOT NULL,
	created_by	TEXT,
	updated_by	TEXT
);
CREATE INDEX report_schedules_next_run_at ON report_schedules (next_run_at);

-- A report run says whether a schedule made it, how often, and which
-- (the seed's reports row: generated_by is requested_by, report_type
-- report, parameters the range, period and format). schedule_id is kept
-- when the schedule is deleted (no foreign key): the run was its.
ALTER TABLE report_runs ADD COLUMN is_scheduled INTEGER NOT NULL DEFAULT 0
	CHECK (is_scheduled IN (0, 1));
ALTER TABLE report_runs ADD COLUMN schedule_frequency TEXT
	CHECK (schedule_frequency IN ('daily', 'weekly', 'monthly'));
ALTER TABLE report_runs ADD COLUMN schedule_id TEXT;
-- One run a schedule a period, whatever two workers do.
CREATE UNIQUE INDEX report_runs_schedule ON report_runs (schedule_id, range_from)
	WHERE schedule_id IS NOT NULL;

INSERT INTO permissions (name, description) VALUES
	('report_schedules:read:all', 'read the report schedules'),
	('report_schedules:create:all', 'schedule reports mailed to staff'),
	('report_schedules:delete:all', 'delete report schedules');
INSERT INTO role_permissions (role, permission) VALUES
	('admin', 'report_schedules:read:all'), ('admin', 'report_schedules:create:all'),
	('admin', 'report_schedules:delete:all');
