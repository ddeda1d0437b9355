-- Backstops in the database for rules the therapy module checks first in
-- its write transactions (which give the clear 409 SESSION_OVERLAP / 422):
-- a therapist's live sessions (not canceled or rescheduled) never overlap,
-- a session ends after it starts, and booleans are 0 or 1. btree_gist is a
-- trusted extension (PostgreSQL 13+): the database owner may create it.

CREATE EXTENSION IF NOT EXISTS btree_gist;

ALTER TABLE therapy_sessions ADD CONSTRAINT therapy_sessions_end_after_start
	CHECK (end_time > start_time);

ALTER TABLE therapy_sessions ADD CONSTRAINT therapy_sessions_no_overlap
	EXCLUDE USING gist (therapist_id WITH =, int8range(start_time, end_time) WITH &&)
	WHERE (status NOT IN ('canceled', 'rescheduled'));

ALTER TABLE therapists ADD CONSTRAINT therapists_is_active_bool CHECK (is_active IN (0, 1));
ALTER TABLE forms ADD CONSTRAINT forms_is_active_bool CHECK (is_active IN (0, 1));
ALTER TABLE resources ADD CONSTRAINT resources_is_public_bool CHECK (is_public IN (0, 1));
