DROP TRIGGER roles_auth_gone;
DROP TRIGGER roles_auth_changed;
DROP TRIGGER users_auth_gone;
DROP TRIGGER users_auth_changed;
DROP TRIGGER auth_sessions_gone;
DROP TRIGGER auth_sessions_changed;
DROP TABLE auth_changes;
