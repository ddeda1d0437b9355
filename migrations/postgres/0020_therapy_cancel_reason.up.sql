-- Why a therapy session was cancelled (issue 15: therapy actions respect
-- time). The session's therapist or an admin cancels a session that has
-- started only with a reason; a client may give one before the start.
-- Sealed under the client's data key, as the session's notes are.
ALTER TABLE therapy_sessions ADD COLUMN cancel_reason BYTEA;
