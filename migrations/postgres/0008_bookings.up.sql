-- Therapy bookings (seeds 000 and 002: Therapy Session): appointments
-- booked in an external system (Simplybook) with an external provider,
-- copied here by its webhook (src/partners/bookings.c). They have no
-- carebase therapist or practitioner relationship, so they are not
-- therapy_sessions. A NEW_BOOKING spends one session of the user's oldest
-- active partner access with therapy (partner_access_id names it); a
-- cancellation gives it back once. client_email is sealed under the
-- user's data key (bound to "therapy_bookings.client_email:<id>") and
-- found through its keyed blind index, like users.email. action is the
-- last one applied. Times are BIGINT ms.

CREATE TABLE therapy_bookings (
	id			TEXT PRIMARY KEY,
	action			TEXT NOT NULL CHECK (action IN ('NEW_BOOKING',
				'UPDATED_BOOKING', 'CANCELLED_BOOKING')),
	user_id			TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	partner_access_id	TEXT REFERENCES partner_access (id) ON DELETE SET NULL,
	partner_id		TEXT REFERENCES partners (id) ON DELETE SET NULL,
	client_email		BYTEA,		-- sealed; unreadable once the user is erased
	client_email_index	TEXT,		-- keyed blind index
	client_timezone		TEXT,
	booking_code		TEXT NOT NULL UNIQUE,
	service_name		TEXT NOT NULL,
	service_provider_name	TEXT NOT NULL,
	service_provider_email	TEXT NOT NULL,
	start_date_time		BIGINT NOT NULL,
	end_date_time		BIGINT NOT NULL,
	rescheduled_from	BIGINT,		-- the start before the last reschedule
	cancelled_at		BIGINT,
	completed_at		BIGINT,
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	CHECK (end_date_time > start_date_time)
);
CREATE INDEX therapy_bookings_user ON therapy_bookings (user_id, start_date_time);
CREATE INDEX therapy_bookings_partner ON therapy_bookings (partner_id, id);
CREATE INDEX therapy_bookings_created_at ON therapy_bookings (created_at);
CREATE INDEX therapy_bookings_cancelled_at ON therapy_bookings (cancelled_at);
CREATE INDEX therapy_bookings_email_index ON therapy_bookings (client_email_index);

-- The reports' date ranges (src/partners/reports.c).
CREATE INDEX partner_access_created_at ON partner_access (created_at);
CREATE INDEX partner_access_activated_at ON partner_access (activated_at);
CREATE INDEX course_enrolments_started_at ON course_enrolments (started_at);
CREATE INDEX course_enrolments_completed_at ON course_enrolments (completed_at);
CREATE INDEX course_session_progress_started_at ON course_session_progress (started_at);
CREATE INDEX course_session_progress_completed_at ON course_session_progress (completed_at);

-- therapy_bookings scopes: all = every row; related = the rows of the
-- partner the caller administers; own = the caller's.
INSERT INTO permissions (name, description) VALUES
	('therapy_bookings:read:all', 'read every therapy booking'),
	('therapy_bookings:read:related', 'read the therapy bookings of the partner you administer (without client email)'),
	('therapy_bookings:read:own', 'read your therapy bookings'),
	('therapy_bookings:cancel:all', 'cancel any therapy booking'),
	('therapy_bookings:cancel:own', 'cancel your own therapy bookings'),
	('reports:read:all', 'run reports (aggregates, no personal data)');

INSERT INTO role_permissions (role, permission) VALUES
	('admin', 'therapy_bookings:read:all'),
	('admin', 'therapy_bookings:cancel:all'),
	('admin', 'reports:read:all'),
	('partner_admin', 'therapy_bookings:read:related'),
	('partner_admin', 'therapy_bookings:cancel:own'),
	('member', 'therapy_bookings:read:own'),
	('member', 'therapy_bookings:cancel:own'),
	('therapist', 'therapy_bookings:read:own'),
	('therapist', 'therapy_bookings:cancel:own'),
	('instructor', 'therapy_bookings:read:own'),
	('instructor', 'therapy_bookings:cancel:own');
