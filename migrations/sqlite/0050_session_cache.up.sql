-- Each serving process keeps the sessions it read a few seconds
-- (src/people/session_cache.c). On SQLite (one file, perhaps several
-- processes) these triggers add one to auth_changes.n whenever what it
-- keeps may be old, whatever process or hand made the change: a
-- session's row changed (ended, or its last activity written: at most
-- once a step, people_activity_step) or gone, a person's role,
-- is_active, deleted_at, password or audit pseudonym changed, a role
-- changed or went. A kept session is used only while n is what it was
-- read with. (Role permissions need no trigger: every request reads
-- their epoch still.)
CREATE TABLE auth_changes (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	n INTEGER NOT NULL
);
INSERT INTO auth_changes (id, n) VALUES (1, 0);

CREATE TRIGGER auth_sessions_changed AFTER UPDATE ON auth_sessions
BEGIN
	UPDATE auth_changes SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER auth_sessions_gone AFTER DELETE ON auth_sessions
BEGIN
	UPDATE auth_changes SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER users_auth_changed AFTER UPDATE ON users
	FOR EACH ROW WHEN OLD.role IS NOT NEW.role OR
	    OLD.is_active IS NOT NEW.is_active OR
	    OLD.deleted_at IS NOT NEW.deleted_at OR
	    OLD.password_hash IS NOT NEW.password_hash OR
	    OLD.audit_ref IS NOT NEW.audit_ref
BEGIN
	UPDATE auth_changes SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER users_auth_gone AFTER DELETE ON users
BEGIN
	UPDATE auth_changes SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER roles_auth_changed AFTER UPDATE ON roles
BEGIN
	UPDATE auth_changes SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER roles_auth_gone AFTER DELETE ON roles
BEGIN
	UPDATE auth_changes SET n = n + 1 WHERE id = 1;
END;
