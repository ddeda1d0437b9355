-- Issue 17 item 6: settings (seed 004: settings), typed values staff
-- change through /v1/settings and the code reads where they apply
-- (src/training/settings.c). value is the value as text, read by
-- value_type; NULL until set, and then default_value holds, or for a
-- setting backed by a config key (booking_hold_minutes: config
-- training_hold_minutes; the refund policy's three) that key's value.
-- Each process caches them; every change adds one to settings_epoch in
-- its transaction, and a process that reads a newer epoch reloads them
-- first, so a change made through any process holds at its next request.
CREATE TABLE settings (
	id			TEXT PRIMARY KEY,
	key			TEXT NOT NULL UNIQUE,
	value			TEXT,
	value_type		TEXT NOT NULL CHECK (value_type IN
				('string', 'number', 'boolean', 'json', 'date')),
	category		TEXT NOT NULL CHECK (category IN ('business', 'booking',
				'email', 'payment', 'certificates', 'system')),
	display_name		TEXT NOT NULL,
	description		TEXT,
	is_public		INTEGER NOT NULL DEFAULT 0 CHECK (is_public IN (0, 1)),
	is_editable		INTEGER NOT NULL DEFAULT 1 CHECK (is_editable IN (0, 1)),
	requires_restart	INTEGER NOT NULL DEFAULT 0 CHECK (requires_restart IN (0, 1)),
	validation_rules	TEXT,		-- JSON object
	default_value		TEXT,
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	created_by		TEXT,
	updated_by		TEXT
);
CREATE INDEX settings_category ON settings (category);
CREATE TABLE settings_epoch (
	id		INTEGER PRIMARY KEY CHECK (id = 1),
	epoch		BIGINT NOT NULL
);
INSERT INTO settings_epoch (id, epoch) VALUES (1, 0);

-- The seed's settings: business, booking rules, email, payment,
-- certificates, and the system's maintenance mode. Idempotent (a key
-- there already is left as it is).
INSERT INTO settings (id, key, value, value_type, category, display_name, description,
	is_public, is_editable, requires_restart, validation_rules, default_value,
	created_at, updated_at) VALUES
('5e771a65-0000-4000-8000-000000000001', 'business_name', NULL, 'string', 'business',
	'Business name', 'the name on certificates, mail and pages', 1, 1, 0,
	'{"min_length":1,"max_length":200}', 'React Fast Training', 0, 0),
('5e771a65-0000-4000-8000-000000000002', 'business_email', NULL, 'string', 'business',
	'Contact address', 'where customers write to', 1, 1, 0,
	'{"format":"email"}', 'info@reactfasttraining.co.uk', 0, 0),
('5e771a65-0000-4000-8000-000000000003', 'business_phone', NULL, 'string', 'business',
	'Contact phone', NULL, 1, 1, 0, '{"max_length":40}', '07447 485644', 0, 0),
('5e771a65-0000-4000-8000-000000000004', 'business_timezone', NULL, 'string', 'business',
	'Time zone', 'dates of the business are London''s', 1, 0, 1,
	'{"enum":["Europe/London"]}', 'Europe/London', 0, 0),
('5e771a65-0000-4000-8000-000000000011', 'booking_buffer_days', NULL, 'number', 'booking',
	'Booking buffer (days)',
	'no booking within this many London calendar days of the start (0: until it starts)',
	1, 1, 0, '{"integer":true,"min":0,"max":365}', '0', 0, 0),
('5e771a65-0000-4000-8000-000000000012', 'booking_hold_minutes', NULL, 'number', 'booking',
	'Booking hold (minutes)',
	'minutes a new booking holds its seats unless paid; default: config training_hold_minutes',
	0, 1, 0, '{"integer":true,"min":1,"max":1440}', NULL, 0, 0),
('5e771a65-0000-4000-8000-000000000013', 'inquiry_hold_minutes', NULL, 'number', 'booking',
	'Inquiry hold (minutes)',
	'minutes an inquiry holds its seats; default: config training_inquiry_hold_minutes',
	0, 1, 0, '{"integer":true,"min":1,"max":10080}', NULL, 0, 0),
('5e771a65-0000-4000-8000-000000000014', 'reminder_hours_before', NULL, 'json', 'booking',
	'Reminders (hours before the start)',
	'when learners are reminded of a course; kept for the notifications to come',
	0, 1, 0, '{"min_items":0,"max_items":5,"integer":true,"min":1,"max":720}',
	'[72,24]', 0, 0),
('5e771a65-0000-4000-8000-000000000021', 'email_from_name', NULL, 'string', 'email',
	'Sender name', 'the name mail is sent under', 0, 1, 0, '{"min_length":1,"max_length":100}',
	'React Fast Training', 0, 0),
('5e771a65-0000-4000-8000-000000000022', 'email_reply_to', NULL, 'string', 'email',
	'Reply-to address', NULL, 0, 1, 0, '{"format":"email"}',
	'bookings@reactfasttraining.co.uk', 0, 0),
('5e771a65-0000-4000-8000-000000000031', 'payment_currency', NULL, 'string', 'payment',
	'Currency', 'prices are in it', 1, 0, 1, '{"enum":["GBP"]}', 'GBP', 0, 0),
('5e771a65-0000-4000-8000-000000000032', 'refund_full_days', NULL, 'number', 'payment',
	'Full refund until (days before)',
	'the cancellation policy; default: config training_refund_full_days', 1, 1, 0,
	'{"integer":true,"min":0,"max":365}', NULL, 0, 0),
('5e771a65-0000-4000-8000-000000000033', 'refund_fee_percent', NULL, 'number', 'payment',
	'Cancellation fee (percent)',
	'the cancellation policy; default: config training_refund_fee_percent', 1, 1, 0,
	'{"integer":true,"min":0,"max":100}', NULL, 0, 0),
('5e771a65-0000-4000-8000-000000000034', 'refund_none_hours', NULL, 'number', 'payment',
	'No refund inside (hours)',
	'the cancellation policy; default: config training_refund_none_hours', 1, 1, 0,
	'{"integer":true,"min":0,"max":8760}', NULL, 0, 0),
('5e771a65-0000-4000-8000-000000000041', 'auto_issue_certificates', NULL, 'boolean',
	'certificates', 'Issue certificates automatically',
	'on: completing a schedule issues the certificates of those eligible; off: staff issue them',
	0, 1, 0, NULL, 'true', 0, 0),
('5e771a65-0000-4000-8000-000000000042', 'certificate_late_minutes', NULL, 'number',
	'certificates', 'Late arrival still certified (minutes)',
	'an attendee marked late who checked in at most this many minutes after the start may be certified',
	0, 1, 0, '{"integer":true,"min":0,"max":240}', '15', 0, 0),
('5e771a65-0000-4000-8000-000000000051', 'maintenance_mode', NULL, 'boolean', 'system',
	'Maintenance mode', 'on: writes are refused with 503 and Retry-After, staff excepted',
	1, 1, 0, NULL, 'false', 0, 0),
('5e771a65-0000-4000-8000-000000000052', 'maintenance_retry_after_s', NULL, 'number',
	'system', 'Maintenance Retry-After (seconds)', NULL, 0, 1, 0,
	'{"integer":true,"min":1,"max":86400}', '600', 0, 0)
ON CONFLICT (key) DO NOTHING;

INSERT INTO permissions (name, description) VALUES
	('settings:read:all', 'read every setting'),
	('settings:create:all', 'add settings'),
	('settings:update:all', 'change settings');
INSERT INTO role_permissions (role, permission) VALUES
	('admin', 'settings:read:all'), ('admin', 'settings:create:all'),
	('admin', 'settings:update:all');
