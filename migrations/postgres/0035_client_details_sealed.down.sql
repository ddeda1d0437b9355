-- Back to 0034: auth_sessions as 0033 made it (legacy_plain DEFAULT 0),
-- password_resets.ip as text again (sealed addresses cannot be opened in
-- SQL: NULL), no index on audit_log's action.
DROP INDEX audit_log_action;
ALTER TABLE password_resets ALTER COLUMN ip TYPE TEXT USING NULL;
ALTER TABLE auth_sessions ALTER COLUMN legacy_plain SET DEFAULT 0;
