-- Back to 0020's spelling, "canceled", for therapy sessions and payment
-- transactions (the way in, in reverse: see the up migration).
PRAGMA writable_schema = ON;
UPDATE sqlite_master SET sql = replace(sql, '''cancelled''', '''canceled''')
	WHERE type = 'table' AND name IN ('therapy_sessions', 'payment_transactions');
PRAGMA writable_schema = RESET;

DROP TRIGGER therapy_sessions_overlap_insert;
DROP TRIGGER therapy_sessions_overlap_update;
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

UPDATE therapy_sessions SET status = 'canceled' WHERE status = 'cancelled';
UPDATE payment_transactions SET status = 'canceled' WHERE status = 'cancelled';
