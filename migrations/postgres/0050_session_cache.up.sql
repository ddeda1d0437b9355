-- Each serving process keeps the sessions it read a few seconds
-- (src/people/session_cache.c) and LISTENs on carebase_auth. These
-- triggers tell it, whatever process or hand made the change, when what
-- it keeps may be old: a session's row changed (ended, or its last
-- activity written: at most once a step, people_activity_step) or gone,
-- or a person's role, is_active, deleted_at, password or audit pseudonym
-- changed (payload: the person's id); a role changed or went ("*":
-- everyone). NOTIFY is sent at commit, and not at all on rollback. (Role
-- permissions need none: every request reads their epoch still.)
CREATE FUNCTION auth_changed_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_TABLE_NAME = 'auth_sessions' THEN
		PERFORM pg_notify('carebase_auth', OLD.user_id::text);
	ELSIF TG_TABLE_NAME = 'users' THEN
		PERFORM pg_notify('carebase_auth', OLD.id::text);
	ELSE
		PERFORM pg_notify('carebase_auth', '*');
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER auth_sessions_changed AFTER UPDATE OR DELETE ON auth_sessions
	FOR EACH ROW EXECUTE FUNCTION auth_changed_notify();
CREATE TRIGGER users_auth_changed AFTER UPDATE ON users
	FOR EACH ROW WHEN (OLD.role IS DISTINCT FROM NEW.role OR
	    OLD.is_active IS DISTINCT FROM NEW.is_active OR
	    OLD.deleted_at IS DISTINCT FROM NEW.deleted_at OR
	    OLD.password_hash IS DISTINCT FROM NEW.password_hash OR
	    OLD.audit_ref IS DISTINCT FROM NEW.audit_ref)
	EXECUTE FUNCTION auth_changed_notify();
CREATE TRIGGER users_auth_gone AFTER DELETE ON users
	FOR EACH ROW EXECUTE FUNCTION auth_changed_notify();
CREATE TRIGGER roles_auth_changed AFTER UPDATE OR DELETE ON roles
	FOR EACH STATEMENT EXECUTE FUNCTION auth_changed_notify();

-- SQLite's change counter (see its 0050), here for the one schema both
-- dialects share: PostgreSQL tells by NOTIFY and leaves it at 0.
CREATE TABLE auth_changes (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	n INTEGER NOT NULL
);
INSERT INTO auth_changes (id, n) VALUES (1, 0);
