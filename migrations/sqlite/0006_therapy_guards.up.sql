-- Backstops in the database for rules the therapy module checks first in
-- its write transactions: a therapist's live sessions (not canceled or
-- rescheduled) never overlap, and a session ends after it starts. The
-- module's own check gives the clear 409 SESSION_OVERLAP / 422; these
-- triggers make sure no other path (a script, a future bug) can break it.

CREATE TRIGGER therapy_sessions_times_insert BEFORE INSERT ON therapy_sessions
WHEN NEW.end_time <= NEW.start_time
BEGIN
	SELECT RAISE(ABORT, 'therapy_sessions: end_time must be after start_time');
END;

CREATE TRIGGER therapy_sessions_times_update BEFORE UPDATE OF start_time, end_time ON therapy_sessions
WHEN NEW.end_time <= NEW.start_time
BEGIN
	SELECT RAISE(ABORT, 'therapy_sessions: end_time must be after start_time');
END;

CREATE TRIGGER therapy_sessions_overlap_insert BEFORE INSERT ON therapy_sessions
WHEN NEW.status NOT IN ('canceled', 'rescheduled')
BEGIN
	SELECT RAISE(ABORT, 'therapy_sessions: the therapist has another session at that time')
	WHERE EXISTS (SELECT 1 FROM therapy_sessions
		WHERE therapist_id = NEW.therapist_id
		AND status NOT IN ('canceled', 'rescheduled')
		AND start_time < NEW.end_time AND end_time > NEW.start_time);
END;

CREATE TRIGGER therapy_sessions_overlap_update
BEFORE UPDATE OF therapist_id, start_time, end_time, status ON therapy_sessions
WHEN NEW.status NOT IN ('canceled', 'rescheduled')
BEGIN
	SELECT RAISE(ABORT, 'therapy_sessions: the therapist has another session at that time')
	WHERE EXISTS (SELECT 1 FROM therapy_sessions
		WHERE therapist_id = NEW.therapist_id AND id <> NEW.id
		AND status NOT IN ('canceled', 'rescheduled')
		AND start_time < NEW.end_time AND end_time > NEW.start_time);
END;

-- Booleans are 0 or 1.
CREATE TRIGGER therapists_is_active_bool BEFORE INSERT ON therapists
WHEN NEW.is_active NOT IN (0, 1)
BEGIN
	SELECT RAISE(ABORT, 'therapists.is_active must be 0 or 1');
END;
CREATE TRIGGER therapists_is_active_bool_update BEFORE UPDATE OF is_active ON therapists
WHEN NEW.is_active NOT IN (0, 1)
BEGIN
	SELECT RAISE(ABORT, 'therapists.is_active must be 0 or 1');
END;
CREATE TRIGGER forms_is_active_bool BEFORE INSERT ON forms
WHEN NEW.is_active NOT IN (0, 1)
BEGIN
	SELECT RAISE(ABORT, 'forms.is_active must be 0 or 1');
END;
CREATE TRIGGER forms_is_active_bool_update BEFORE UPDATE OF is_active ON forms
WHEN NEW.is_active NOT IN (0, 1)
BEGIN
	SELECT RAISE(ABORT, 'forms.is_active must be 0 or 1');
END;
CREATE TRIGGER resources_is_public_bool BEFORE INSERT ON resources
WHEN NEW.is_public NOT IN (0, 1)
BEGIN
	SELECT RAISE(ABORT, 'resources.is_public must be 0 or 1');
END;
CREATE TRIGGER resources_is_public_bool_update BEFORE UPDATE OF is_public ON resources
WHEN NEW.is_public NOT IN (0, 1)
BEGIN
	SELECT RAISE(ABORT, 'resources.is_public must be 0 or 1');
END;
