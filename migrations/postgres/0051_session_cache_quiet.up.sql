-- Migration 0050's trigger on auth_sessions sent NOTIFY carebase_auth on
-- every write of a session row, its last activity too (once a minute or
-- so a session in use), and every process then dropped that person's
-- sessions. What a process keeps of a session that such a write can make
-- old is only its last activity, and an old one errs the safe way: last
-- activity only grows, so a kept entry is at most less live than the row,
-- and one that looks idle is not taken but read again
-- (src/people/session_cache.c). So a session's update is told when what
-- decides the session changes: ended, its expiry or idle timeout, its
-- person, its token, or its last activity moved back (never the server's
-- doing: by hand, it can make a kept session idle); a deletion as before.
--
-- TRUNCATE fires no row trigger: a TRUNCATE of auth_sessions, users or
-- roles (by hand, or a restore's) tells everyone ("*").
CREATE OR REPLACE FUNCTION auth_changed_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'TRUNCATE' THEN
		PERFORM pg_notify('carebase_auth', '*');
	ELSIF TG_TABLE_NAME = 'auth_sessions' THEN
		PERFORM pg_notify('carebase_auth', OLD.user_id::text);
	ELSIF TG_TABLE_NAME = 'users' THEN
		PERFORM pg_notify('carebase_auth', OLD.id::text);
	ELSE
		PERFORM pg_notify('carebase_auth', '*');
	END IF;
	RETURN NULL;
END
$$;

DROP TRIGGER auth_sessions_changed ON auth_sessions;
CREATE TRIGGER auth_sessions_changed AFTER UPDATE ON auth_sessions
	FOR EACH ROW WHEN (OLD.ended_at IS DISTINCT FROM NEW.ended_at OR
	    OLD.expires_at IS DISTINCT FROM NEW.expires_at OR
	    OLD.idle_timeout_ms IS DISTINCT FROM NEW.idle_timeout_ms OR
	    OLD.user_id IS DISTINCT FROM NEW.user_id OR
	    OLD.token_hash IS DISTINCT FROM NEW.token_hash OR
	    OLD.id IS DISTINCT FROM NEW.id OR
	    NEW.last_activity_at < OLD.last_activity_at)
	EXECUTE FUNCTION auth_changed_notify();
CREATE TRIGGER auth_sessions_gone AFTER DELETE ON auth_sessions
	FOR EACH ROW EXECUTE FUNCTION auth_changed_notify();
CREATE TRIGGER auth_sessions_truncated AFTER TRUNCATE ON auth_sessions
	FOR EACH STATEMENT EXECUTE FUNCTION auth_changed_notify();
CREATE TRIGGER users_auth_truncated AFTER TRUNCATE ON users
	FOR EACH STATEMENT EXECUTE FUNCTION auth_changed_notify();
CREATE TRIGGER roles_auth_truncated AFTER TRUNCATE ON roles
	FOR EACH STATEMENT EXECUTE FUNCTION auth_changed_notify();
