-- Issue 17 item 7: analytics events (seed 004: analytics_events) for the
-- steps of the booking funnel, written by the training module
-- (src/training/analytics.c): schedule_viewed (GET of a course schedule by
-- a visitor, signed in or not; written in batches), hold_created (a
-- booking made: its seats held), payment_succeeded (a booking paid:
-- through Stripe, by staff's offline confirm, or nothing to pay) and
-- booking_cancelled; each but the first in the transaction of the step it
-- records. event_data holds non-personal fields only (ids of the
-- catalogue, amounts, counts, codes), never a name, address or free text.
-- user_id is the person (NULL for an anonymous visitor), cleared when they
-- are erased. Staff read them at /v1/analytics/events and
-- /v1/analytics/funnel; the nightly training.analytics_retention job
-- deletes those older than the setting analytics_retention_days.
CREATE TABLE analytics_events (
	id			TEXT PRIMARY KEY,
	event_type		TEXT NOT NULL CHECK (event_type IN ('schedule_viewed',
				'hold_created', 'payment_succeeded', 'booking_cancelled')),
	user_id			TEXT REFERENCES users (id),
	event_data		TEXT NOT NULL DEFAULT '{}',	-- JSON object
	created_at		BIGINT NOT NULL
);
-- The list and the retention job go by time; the funnel and the type
-- filter by type and time; erasure and the export by person.
CREATE INDEX analytics_events_time ON analytics_events (created_at, id);
CREATE INDEX analytics_events_type ON analytics_events (event_type, created_at);
CREATE INDEX analytics_events_user ON analytics_events (user_id);

INSERT INTO settings (id, key, value, value_type, category, display_name, description,
	is_public, is_editable, requires_restart, validation_rules, default_value,
	created_at, updated_at) VALUES
('5e771a65-0000-4000-8000-000000000053', 'analytics_retention_days', NULL, 'number',
	'system', 'Analytics retention (days)',
	'analytics events older than this many days are deleted each night', 0, 1, 0,
	'{"integer":true,"min":1,"max":3650}', '365', 0, 0)
ON CONFLICT (key) DO NOTHING;
-- Every process reloads its settings at its next read.
UPDATE settings_epoch SET epoch = epoch + 1 WHERE id = 1;

INSERT INTO permissions (name, description) VALUES
	('analytics_events:read:all', 'read the booking funnel''s analytics events');
INSERT INTO role_permissions (role, permission) VALUES
	('admin', 'analytics_events:read:all');
