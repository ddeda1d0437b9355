-- Learning (seeds 000 and 002: Course, Session, CourseUser, SessionUser)
-- and the webhook inbox. Courses and course sessions are copies of CMS
-- (Storyblok) stories, upserted by story uuid from the CMS webhook
-- (src/learning/storyblok.c); enrolments and progress are a user's
-- started/completed state (src/learning/progress.c). Times are BIGINT ms,
-- booleans 0/1, JSON as text.

-- Every inbound webhook body with its outcome (src/ops/inbox.c), refused
-- ones too. The body may hold personal data (booking webhooks carry an
-- email address): it is sealed under the system key, bound to its row.
-- Only a few harmless headers are kept, never credentials or signatures.
CREATE TABLE webhook_inbox (
	id			TEXT PRIMARY KEY,
	source			TEXT NOT NULL,
	received_at		BIGINT NOT NULL,
	request_id		TEXT,
	headers			TEXT NOT NULL DEFAULT '{}',	-- JSON object
	body			BLOB NOT NULL,			-- sealed, at most webhook_body_limit bytes
	body_bytes		BIGINT NOT NULL,		-- length as received
	signature_ok		INTEGER NOT NULL DEFAULT 0,
	outcome			TEXT NOT NULL DEFAULT 'pending' CHECK (outcome IN
				('pending', 'processed', 'refused', 'failed')),
	http_status		INTEGER,			-- last answer (replays too)
	error			TEXT,				-- why refused or failed
	processed_at		BIGINT,				-- last attempt's end
	attempts		INTEGER NOT NULL DEFAULT 0,
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL
);
CREATE INDEX webhook_inbox_outcome ON webhook_inbox (outcome, received_at);
CREATE INDEX webhook_inbox_source ON webhook_inbox (source, received_at);

-- One table for every course, self-guided or in-person: kind self_guided ones come from
-- the CMS and carry the story's id and uuid; in_person ones (the training
-- module) have none. status is the story's: published, unpublished or
-- deleted (a moved story is fetched again and stays published).
CREATE TABLE courses (
	id			TEXT PRIMARY KEY,
	kind			TEXT NOT NULL DEFAULT 'self_guided' CHECK (kind IN
				('self_guided', 'in_person')),
	storyblok_id		BIGINT,
	storyblok_uuid		TEXT UNIQUE,
	name			TEXT NOT NULL,
	slug			TEXT NOT NULL,			-- the story's full_slug
	status			TEXT NOT NULL CHECK (status IN
				('published', 'unpublished', 'deleted')),
	description		TEXT,
	themes			TEXT NOT NULL DEFAULT '[]',	-- JSON array of strings
	included_for_partners	TEXT NOT NULL DEFAULT '[]',	-- JSON array, as the CMS names them
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL
);
CREATE INDEX courses_storyblok_id ON courses (storyblok_id);
CREATE INDEX courses_status ON courses (status, id);

-- The partners a course is included for, by lower-cased partner name as
-- the CMS names them ("public" = everyone; no row = everyone), for the
-- visibility rule (src/learning/learning_int.h). Keyed by name, not by a
-- foreign key: the CMS may name a partner before it exists here.
CREATE TABLE course_partners (
	course_id		TEXT NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
	partner_name		TEXT NOT NULL,
	PRIMARY KEY (course_id, partner_name)
);
CREATE INDEX course_partners_name ON course_partners (partner_name);

CREATE TABLE course_sessions (
	id			TEXT PRIMARY KEY,
	storyblok_id		BIGINT NOT NULL,
	storyblok_uuid		TEXT NOT NULL UNIQUE,
	course_id		TEXT NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
	name			TEXT NOT NULL,
	slug			TEXT NOT NULL,
	status			TEXT NOT NULL CHECK (status IN
				('published', 'unpublished', 'deleted')),
	included_for_partners	TEXT NOT NULL DEFAULT '[]',
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL
);
CREATE INDEX course_sessions_storyblok_id ON course_sessions (storyblok_id);
CREATE INDEX course_sessions_course ON course_sessions (course_id, status);

CREATE TABLE course_session_partners (
	session_id		TEXT NOT NULL REFERENCES course_sessions (id) ON DELETE CASCADE,
	partner_name		TEXT NOT NULL,
	PRIMARY KEY (session_id, partner_name)
);

-- A user's enrolment in a course (seed: CourseUser), made when they first
-- start, complete or mark incomplete one of its sessions. completed is 1
-- exactly when every published session of the course (at least one) is
-- completed by the user: recomputed on every progress change and on every
-- change of a session's status or course, in the same transaction.
CREATE TABLE course_enrolments (
	id			TEXT PRIMARY KEY,
	user_id			TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	course_id		TEXT NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
	completed		INTEGER NOT NULL DEFAULT 0,
	started_at		BIGINT NOT NULL,
	completed_at		BIGINT,
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	UNIQUE (user_id, course_id)
);
CREATE INDEX course_enrolments_course ON course_enrolments (course_id);

-- A user's progress in one course session (seed: SessionUser).
CREATE TABLE course_session_progress (
	id			TEXT PRIMARY KEY,
	user_id			TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	session_id		TEXT NOT NULL REFERENCES course_sessions (id) ON DELETE CASCADE,
	completed		INTEGER NOT NULL DEFAULT 0,
	started_at		BIGINT NOT NULL,
	completed_at		BIGINT,
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	UNIQUE (user_id, session_id)
);
CREATE INDEX course_session_progress_session ON course_session_progress (session_id);

INSERT INTO permissions (name, description) VALUES
	('courses:read:all', 'read every course and course session, unpublished ones and every partner''s too'),
	('course_enrolments:read:all', 'read every user''s course enrolments'),
	('course_enrolments:read:related', 'read your course enrolments and those of the people you lead'),
	('course_enrolments:read:own', 'read your course enrolments'),
	('course_session_progress:read:all', 'read every user''s course session progress'),
	('course_session_progress:read:related', 'read your course session progress and that of the people you lead'),
	('course_session_progress:read:own', 'read your course session progress');

INSERT INTO role_permissions (role, permission) VALUES
	('admin', 'courses:read:all'),
	('admin', 'course_enrolments:read:all'),
	('admin', 'course_session_progress:read:all'),
	('member', 'course_enrolments:read:related'),
	('member', 'course_session_progress:read:related'),
	('therapist', 'course_enrolments:read:own'),
	('therapist', 'course_session_progress:read:own'),
	('instructor', 'course_enrolments:read:own'),
	('instructor', 'course_session_progress:read:own'),
	('partner_admin', 'course_enrolments:read:own'),
	('partner_admin', 'course_session_progress:read:own');
