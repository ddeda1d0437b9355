-- Back to 0020: the requirements' defaults as 0018 made them (shared,
-- not confidential); every row keeps its values.
CREATE TABLE special_requirements_new (
	id			TEXT PRIMARY KEY,
	booking_id		TEXT NOT NULL REFERENCES training_bookings (id) ON DELETE CASCADE,
	user_id			TEXT NOT NULL REFERENCES users (id),	-- the booker
	requirement_type	TEXT NOT NULL CHECK (requirement_type IN
				('dietary', 'accessibility', 'medical', 'language', 'learning', 'other')),
	details			BLOB,		-- sealed
	severity		TEXT NOT NULL DEFAULT 'low' CHECK (severity IN ('low', 'medium', 'high')),
	requires_action		INTEGER NOT NULL DEFAULT 0 CHECK (requires_action IN (0, 1)),
	action_completed	INTEGER NOT NULL DEFAULT 0 CHECK (action_completed IN (0, 1)),
	handled_by		TEXT,
	is_confidential		INTEGER NOT NULL DEFAULT 0 CHECK (is_confidential IN (0, 1)),
	share_with_trainer	INTEGER NOT NULL DEFAULT 1 CHECK (share_with_trainer IN (0, 1)),
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	created_by		TEXT,
	updated_by		TEXT
);
INSERT INTO special_requirements_new (id, booking_id, user_id, requirement_type,
	details, severity, requires_action, action_completed, handled_by,
	is_confidential, share_with_trainer, created_at, updated_at, created_by,
	updated_by)
	SELECT id, booking_id, user_id, requirement_type, details, severity,
	requires_action, action_completed, handled_by, is_confidential,
	share_with_trainer, created_at, updated_at, created_by, updated_by
	FROM special_requirements;
DROP TABLE special_requirements;
ALTER TABLE special_requirements_new RENAME TO special_requirements;
CREATE INDEX special_requirements_booking ON special_requirements (booking_id);
CREATE INDEX special_requirements_user ON special_requirements (user_id);

DELETE FROM role_permissions WHERE permission = 'training_bookings:confirm:own';
DELETE FROM permissions WHERE name = 'training_bookings:confirm:own';
