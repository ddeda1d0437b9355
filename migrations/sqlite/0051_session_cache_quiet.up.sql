-- Migration 0050's trigger on auth_sessions moved auth_changes.n on
-- every write of a session row, its last activity too (once a minute or
-- so a session in use): each moved it, and every process then read every
-- session again. What a process keeps of a session that such a write can
-- make old is only its last activity, and an old one errs the safe way:
-- last activity only grows, so a kept entry is at most less live than
-- the row, and one that looks idle is not taken but read again
-- (src/people/session_cache.c). So the counter moves when what decides
-- the session changes: ended, its expiry or idle timeout, its person, its
-- token, or its last activity moved back (never the server's doing: by
-- hand, it can make a kept session idle); a deletion as before.
DROP TRIGGER auth_sessions_changed;
CREATE TRIGGER auth_sessions_changed AFTER UPDATE ON auth_sessions
	FOR EACH ROW WHEN OLD.ended_at IS NOT NEW.ended_at OR
	    OLD.expires_at IS NOT NEW.expires_at OR
	    OLD.idle_timeout_ms IS NOT NEW.idle_timeout_ms OR
	    OLD.user_id IS NOT NEW.user_id OR
	    OLD.token_hash IS NOT NEW.token_hash OR
	    OLD.id IS NOT NEW.id OR
	    NEW.last_activity_at < OLD.last_activity_at
BEGIN
	UPDATE auth_changes SET n = n + 1 WHERE id = 1;
END;
