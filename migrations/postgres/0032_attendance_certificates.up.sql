-- Issue 17 items 1, 2 and 4: attendance records, certificates and their
-- public verification (seed 004: attendance_records, certificates).
--
-- An attendance record is one attendee's at one schedule (unique),
-- marked by the schedule's trainer or staff once the schedule has
-- started; trainer_feedback is sealed under the booker's key. A
-- certificate is one attendee's for one schedule (unique), issued to
-- those marked present (or late within certificate_late_minutes) who
-- passed; holder_name is sealed under the booker's key, so erasing the
-- person leaves it unreadable and its verification answers 404.
-- verification_token (unguessable, printed on the certificate) is what
-- GET /v1/certificate-verifications/{token} finds it by.
CREATE TABLE attendance_records (
	id			TEXT PRIMARY KEY,
	booking_id		TEXT NOT NULL REFERENCES training_bookings (id),
	schedule_id		TEXT NOT NULL REFERENCES course_schedules (id),
	attendee_id		TEXT NOT NULL REFERENCES training_booking_attendees (id),
	user_id			TEXT NOT NULL REFERENCES users (id),	-- the booker
	marked_by		TEXT,
	status			TEXT NOT NULL CHECK (status IN
				('present', 'absent', 'late', 'partial', 'excused')),
	check_in_time		BIGINT,
	check_out_time		BIGINT,
	certificate_eligible	INTEGER NOT NULL DEFAULT 0 CHECK (certificate_eligible IN (0, 1)),
	participation_score	INTEGER CHECK (participation_score BETWEEN 0 AND 100),
	passed_assessment	INTEGER NOT NULL DEFAULT 0 CHECK (passed_assessment IN (0, 1)),
	trainer_feedback	BYTEA,		-- sealed
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	created_by		TEXT,
	updated_by		TEXT,
	UNIQUE (schedule_id, attendee_id)
);
CREATE INDEX attendance_records_booking ON attendance_records (booking_id);
CREATE INDEX attendance_records_user ON attendance_records (user_id);

CREATE TABLE certificates (
	id			TEXT PRIMARY KEY,
	booking_id		TEXT NOT NULL REFERENCES training_bookings (id),
	schedule_id		TEXT NOT NULL REFERENCES course_schedules (id),
	attendee_id		TEXT NOT NULL REFERENCES training_booking_attendees (id),
	user_id			TEXT NOT NULL REFERENCES users (id),	-- the booker
	course_id		TEXT NOT NULL REFERENCES training_courses (id),
	course_family		TEXT NOT NULL,	-- EFAW, FAW, Paediatric
	holder_name		BYTEA,		-- sealed
	certificate_number	TEXT NOT NULL UNIQUE,
	verification_token	TEXT NOT NULL UNIQUE,
	issue_date		TEXT NOT NULL,
	expiry_date		TEXT,
	status			TEXT NOT NULL DEFAULT 'active' CHECK (status IN
				('active', 'expired', 'revoked')),
	revocation_reason	TEXT,
	revoked_at		BIGINT,
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	created_by		TEXT,
	updated_by		TEXT,
	UNIQUE (schedule_id, attendee_id)
);
CREATE INDEX certificates_user ON certificates (user_id, course_family);
CREATE INDEX certificates_expiry ON certificates (status, expiry_date);

-- A requalification course requalifies one family (EFAW, FAW,
-- Paediatric): only holders of such a certificate, valid or expired at
-- most a month ago, book it.
ALTER TABLE training_courses ADD COLUMN requalifies TEXT CHECK (requalifies IN
	('EFAW', 'FAW', 'Paediatric'));

INSERT INTO permissions (name, description) VALUES
	('attendance_records:read:all', 'read every attendance record'),
	('attendance_records:read:related', 'read the attendance of the schedules you teach'),
	('attendance_records:read:own', 'read the attendance of your bookings'),
	('attendance_records:create:all', 'mark attendance at any schedule'),
	('attendance_records:create:related', 'mark attendance at the schedules you teach'),
	('attendance_records:update:all', 'change any attendance record'),
	('attendance_records:update:related', 'change the attendance of the schedules you teach'),
	('certificates:read:all', 'read every certificate'),
	('certificates:read:own', 'read the certificates of your bookings'),
	('certificates:create:all', 'issue certificates'),
	('certificates:revoke:all', 'revoke certificates');
INSERT INTO role_permissions (role, permission) VALUES
	('admin', 'attendance_records:read:all'), ('admin', 'attendance_records:create:all'),
	('admin', 'attendance_records:update:all'), ('admin', 'certificates:read:all'),
	('admin', 'certificates:create:all'), ('admin', 'certificates:revoke:all'),
	('instructor', 'attendance_records:read:related'),
	('instructor', 'attendance_records:create:related'),
	('instructor', 'attendance_records:update:related'),
	('member', 'attendance_records:read:own'), ('member', 'certificates:read:own');
