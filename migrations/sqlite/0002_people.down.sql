DROP TABLE audit_log;
DROP TABLE IF EXISTS audit_pages; -- 0058's, kept by its down
DROP TABLE relationships;
DROP TABLE password_resets;
DROP TABLE login_failures;
DROP TABLE auth_sessions;
DROP TABLE user_keys;
DROP TABLE users;
DROP TABLE role_permissions;
DROP TABLE permissions;
DROP TABLE roles;
