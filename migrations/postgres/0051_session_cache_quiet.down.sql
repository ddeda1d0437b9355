DROP TRIGGER roles_auth_truncated ON roles;
DROP TRIGGER users_auth_truncated ON users;
DROP TRIGGER auth_sessions_truncated ON auth_sessions;
DROP TRIGGER auth_sessions_gone ON auth_sessions;
DROP TRIGGER auth_sessions_changed ON auth_sessions;
CREATE TRIGGER auth_sessions_changed AFTER UPDATE OR DELETE ON auth_sessions
	FOR EACH ROW EXECUTE FUNCTION auth_changed_notify();
CREATE OR REPLACE FUNCTION auth_changed_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
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
