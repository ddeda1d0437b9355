-- The training catalogue (seed 004, issue 16 part 1): training courses
-- (the in-person first-aid courses the business sells), venues, trainers,
-- course materials and course schedules (one dated run of a course at a
-- venue by a trainer). Times are BIGINT ms, booleans 0/1, dates
-- "YYYY-MM-DD" text, money integer minor units with an ISO 4217 code.
-- The rules are the training module's (src/training), checked in the write
-- transaction with a clear problem; the CHECKs and triggers here are
-- backstops for any other path.

CREATE TABLE training_courses (
	id				TEXT PRIMARY KEY,
	name				TEXT NOT NULL,
	description			TEXT,
	course_type			TEXT NOT NULL CHECK (course_type IN
					('EFAW', 'FAW', 'Paediatric', 'requalification', 'refresher')),
	duration_hours			INTEGER NOT NULL CHECK (duration_hours > 0),
	duration_days			INTEGER NOT NULL CHECK (duration_days > 0),
	price_minor			BIGINT NOT NULL CHECK (price_minor >= 0),
	currency			TEXT NOT NULL DEFAULT 'GBP'
					CHECK (length(currency) = 3 AND upper(currency) = currency),
	max_capacity			INTEGER NOT NULL CHECK (max_capacity > 0),
	certification_validity_years	INTEGER NOT NULL DEFAULT 3,
	is_active			INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
	created_at			BIGINT NOT NULL,
	updated_at			BIGINT NOT NULL,
	created_by			TEXT,
	updated_by			TEXT,
	-- UK practice: EFAW 6 h in one day, FAW 18 h over three, Paediatric
	-- 12 h over two.
	CHECK (course_type <> 'EFAW' OR (duration_hours = 6 AND duration_days = 1)),
	CHECK (course_type <> 'FAW' OR (duration_hours = 18 AND duration_days = 3)),
	CHECK (course_type <> 'Paediatric' OR (duration_hours = 12 AND duration_days = 2))
);
CREATE INDEX training_courses_active ON training_courses (is_active, course_type);

CREATE TABLE venues (
	id			TEXT PRIMARY KEY,
	name			TEXT NOT NULL,
	address_line1		TEXT NOT NULL,
	address_line2		TEXT,
	city			TEXT NOT NULL,
	postcode		TEXT NOT NULL,
	capacity		INTEGER NOT NULL CHECK (capacity > 0),
	facilities		TEXT NOT NULL DEFAULT '[]',	-- JSON array of strings
	parking_info		TEXT,
	is_active		INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	created_by		TEXT,
	updated_by		TEXT
);
CREATE INDEX venues_active ON venues (is_active);

CREATE TABLE trainers (
	id			TEXT PRIMARY KEY,
	user_id			TEXT NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
	trainer_code		TEXT NOT NULL UNIQUE,
	qualification_number	TEXT,
	qualification_expiry	TEXT NOT NULL,			-- YYYY-MM-DD
	specializations		TEXT NOT NULL DEFAULT '[]',	-- JSON array of strings
	bio			TEXT,
	hourly_rate_minor	BIGINT CHECK (hourly_rate_minor >= 0),
	currency		TEXT NOT NULL DEFAULT 'GBP'
				CHECK (length(currency) = 3 AND upper(currency) = currency),
	is_active		INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
	is_available		INTEGER NOT NULL DEFAULT 1 CHECK (is_available IN (0, 1)),
	can_travel		INTEGER NOT NULL DEFAULT 0 CHECK (can_travel IN (0, 1)),
	max_travel_miles	INTEGER CHECK (max_travel_miles >= 0),
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	created_by		TEXT,
	updated_by		TEXT
);

CREATE TABLE course_materials (
	id			TEXT PRIMARY KEY,
	course_id		TEXT NOT NULL REFERENCES training_courses (id) ON DELETE CASCADE,
	title			TEXT NOT NULL,
	description		TEXT,
	material_type		TEXT NOT NULL CHECK (material_type IN
				('pdf', 'video', 'presentation', 'document', 'link', 'quiz', 'assessment')),
	file_url		TEXT NOT NULL,
	is_public		INTEGER NOT NULL DEFAULT 0 CHECK (is_public IN (0, 1)),
	requires_completion	INTEGER NOT NULL DEFAULT 0 CHECK (requires_completion IN (0, 1)),
	display_order		INTEGER NOT NULL DEFAULT 0,
	version			INTEGER NOT NULL DEFAULT 1 CHECK (version > 0),
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	created_by		TEXT,
	updated_by		TEXT
);
CREATE INDEX course_materials_course ON course_materials (course_id, display_order);

-- A trainer never teaches two overlapping schedules that are not
-- cancelled: checked in the write transaction, serialised per trainer
-- (src/training/schedules.c); the exclusion constraint below is the
-- backstop.
CREATE TABLE course_schedules (
	id			TEXT PRIMARY KEY,
	course_id		TEXT NOT NULL REFERENCES training_courses (id),
	venue_id		TEXT NOT NULL REFERENCES venues (id),
	trainer_id		TEXT NOT NULL REFERENCES trainers (id),
	start_time		BIGINT NOT NULL,
	end_time		BIGINT NOT NULL,
	status			TEXT NOT NULL DEFAULT 'scheduled' CHECK (status IN
				('scheduled', 'confirmed', 'in_progress', 'completed', 'cancelled')),
	capacity		INTEGER NOT NULL CHECK (capacity > 0),
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	created_by		TEXT,
	updated_by		TEXT,
	CHECK (end_time > start_time)
);
CREATE INDEX course_schedules_trainer ON course_schedules (trainer_id, start_time);
CREATE INDEX course_schedules_start ON course_schedules (start_time);
CREATE INDEX course_schedules_course ON course_schedules (course_id);
CREATE INDEX course_schedules_venue ON course_schedules (venue_id);

-- The backstop of the overlap rule: the database refuses a second live
-- schedule of a trainer that overlaps another (btree_gist is a trusted
-- extension, PostgreSQL 13+, also made by 0006).
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE course_schedules ADD CONSTRAINT course_schedules_no_overlap
	EXCLUDE USING gist (trainer_id WITH =, int8range(start_time, end_time) WITH &&)
	WHERE (status <> 'cancelled');

-- SQLite's unixepoch() (3.38+), so that one SQL text says "now" on both
-- dialects: the public list of upcoming schedules reads
-- start_time > unixepoch() * 1000. Seconds since the epoch at the start
-- of the transaction.
CREATE OR REPLACE FUNCTION unixepoch() RETURNS bigint LANGUAGE sql STABLE
	AS $$ SELECT floor(extract(epoch FROM now()))::bigint $$;

-- Staff only write: admins manage the catalogue; instructors (who teach
-- in-person courses) read it whole and their own trainer profile. Anyone
-- reads active courses, active venues and upcoming schedules without a
-- token, and public materials with one (the modules' declarations).
INSERT INTO permissions (name, description) VALUES
	('training_courses:read:all', 'read every training course, inactive ones too'),
	('training_courses:create:all', 'create training courses'),
	('training_courses:update:all', 'update training courses'),
	('training_courses:delete:all', 'delete training courses'),
	('venues:read:all', 'read every venue, inactive ones too'),
	('venues:create:all', 'create venues'),
	('venues:update:all', 'update venues'),
	('venues:delete:all', 'delete venues'),
	('trainers:read:all', 'read every trainer profile'),
	('trainers:read:own', 'read your own trainer profile'),
	('trainers:create:all', 'create trainer profiles'),
	('trainers:update:all', 'update trainer profiles'),
	('trainers:delete:all', 'delete trainer profiles'),
	('course_materials:read:all', 'read every course material, staff-only ones too'),
	('course_materials:create:all', 'create course materials'),
	('course_materials:update:all', 'update course materials'),
	('course_materials:delete:all', 'delete course materials'),
	('course_schedules:read:all', 'read every course schedule, past and cancelled ones too'),
	('course_schedules:create:all', 'schedule courses'),
	('course_schedules:update:all', 'change course schedules and move their status');

INSERT INTO role_permissions (role, permission)
	SELECT 'admin', name FROM permissions WHERE name LIKE 'training_courses:%'
	OR name LIKE 'venues:%' OR name LIKE 'trainers:%'
	OR name LIKE 'course_materials:%' OR name LIKE 'course_schedules:%';
INSERT INTO role_permissions (role, permission) VALUES
	('instructor', 'training_courses:read:all'), ('instructor', 'venues:read:all'),
	('instructor', 'trainers:read:own'), ('instructor', 'course_materials:read:all'),
	('instructor', 'course_schedules:read:all');
