DROP TABLE auth_changes;
DROP TRIGGER roles_auth_changed ON roles;
DROP TRIGGER users_auth_gone ON users;
DROP TRIGGER users_auth_changed ON users;
DROP TRIGGER auth_sessions_changed ON auth_sessions;
DROP FUNCTION auth_changed_notify();
