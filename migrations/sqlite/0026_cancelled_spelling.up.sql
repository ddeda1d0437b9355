-- One spelling across the API (issue 15 item 7): "cancelled", as the
-- training business and the booking system already write it. Therapy
-- sessions and payment transactions said "canceled"; their stored rows,
-- CHECKs and the overlap triggers now say "cancelled". The API still reads
-- "canceled" on input until the release after 2026-12 (README,
-- Deprecated); it never answers it. The audit log keeps its old entries
-- (therapy_sessions.canceled, payment_transactions.canceled) as written:
-- they are hash-chained and append-only.
--
-- SQLite cannot alter a CHECK. Rebuilding the two tables would fire
-- their children's foreign-key actions (form_responses.session_id ON
-- DELETE SET NULL; refunds would refuse the drop: foreign_keys is on and
-- cannot be turned off inside the migration's transaction) and would drop
-- any column a later migration adds to them. So the CHECK's text is
-- edited in place, as SQLite documents for changing a CHECK ("Making
-- Other Kinds Of Table Schema Changes", lang_altertable.html): only the
-- quoted literal 'canceled' changes, which leaves the file's format as it
-- is; RESET reloads this connection's schema, and the DDL below bumps
-- the schema cookie so every other connection reloads it too. The rows
-- move only after the new CHECK and triggers are in place.
PRAGMA writable_schema = ON;
UPDATE sqlite_master SET sql = replace(sql, '''canceled''', '''cancelled''')
	WHERE type = 'table' AND name IN ('therapy_sessions', 'payment_transactions');
PRAGMA writable_schema = RESET;

-- A therapist's live sessions (not cancelled or rescheduled) never
-- overlap: 0006's backstops, with the new spelling.
DROP TRIGGER therapy_sessions_overlap_insert;
DROP TRIGGER therapy_sessions_overlap_update;
CREATE TRIGGER therapy_sessions_overlap_insert BEFORE INSERT ON therapy_sessions
WHEN NEW.status NOT IN ('cancelled', 'rescheduled')
BEGIN
	SELECT RAISE(ABORT, 'therapy_sessions: the therapist has another session at that time')
	WHERE EXISTS (SELECT 1 FROM therapy_sessions
		WHERE therapist_id = NEW.therapist_id
		AND status NOT IN ('cancelled', 'rescheduled')
		AND start_time < NEW.end_time AND end_time > NEW.start_time);
END;
CREATE TRIGGER therapy_sessions_overlap_update
BEFORE UPDATE OF therapist_id, start_time, end_time, status ON therapy_sessions
WHEN NEW.status NOT IN ('cancelled', 'rescheduled')
BEGIN
	SELECT RAISE(ABORT, 'therapy_sessions: the therapist has another session at that time')
	WHERE EXISTS (SELECT 1 FROM therapy_sessions
		WHERE therapist_id = NEW.therapist_id AND id <> NEW.id
		AND status NOT IN ('cancelled', 'rescheduled')
		AND start_time < NEW.end_time AND end_time > NEW.start_time);
END;

UPDATE therapy_sessions SET status = 'cancelled' WHERE status = 'canceled';
UPDATE payment_transactions SET status = 'cancelled' WHERE status = 'canceled';
