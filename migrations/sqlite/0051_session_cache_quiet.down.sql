DROP TRIGGER auth_sessions_changed;
CREATE TRIGGER auth_sessions_changed AFTER UPDATE ON auth_sessions
BEGIN
	UPDATE auth_changes SET n = n + 1 WHERE id = 1;
END;
