-- Back to 0034: auth_sessions as 0033 made it (legacy_plain DEFAULT 0),
-- password_resets.ip as text again (sealed addresses cannot be opened in
-- SQL: NULL), no index on audit_log's action.
DROP INDEX audit_log_action;

CREATE TABLE password_resets_old (
	id		TEXT PRIMARY KEY,
	user_id		TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_hash	TEXT NOT NULL UNIQUE,
	ip		TEXT,
	created_at	BIGINT NOT NULL,
	expires_at	BIGINT NOT NULL,
	used_at		BIGINT
);
INSERT INTO password_resets_old (id, user_id, token_hash, ip, created_at,
	expires_at, used_at)
	SELECT id, user_id, token_hash, NULL, created_at, expires_at, used_at
	FROM password_resets;
DROP TABLE password_resets;
ALTER TABLE password_resets_old RENAME TO password_resets;

CREATE TABLE auth_sessions_old (
	id			TEXT PRIMARY KEY,
	user_id			TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_hash		TEXT NOT NULL UNIQUE,
	ip			BLOB,		-- sealed
	user_agent		BLOB,		-- sealed
	device_fingerprint	BLOB,		-- sealed
	legacy_plain		INTEGER NOT NULL DEFAULT 0,	-- 1: the three above in clear
	created_at		BIGINT NOT NULL,
	last_activity_at	BIGINT NOT NULL,
	idle_timeout_ms		BIGINT NOT NULL,
	expires_at		BIGINT NOT NULL,	-- absolute
	ended_at		BIGINT,
	end_reason		TEXT
);
INSERT INTO auth_sessions_old (id, user_id, token_hash, ip, user_agent,
	device_fingerprint, legacy_plain, created_at, last_activity_at,
	idle_timeout_ms, expires_at, ended_at, end_reason)
	SELECT id, user_id, token_hash, ip, user_agent, device_fingerprint,
	legacy_plain, created_at, last_activity_at, idle_timeout_ms,
	expires_at, ended_at, end_reason FROM auth_sessions;
DROP TABLE auth_sessions;
ALTER TABLE auth_sessions_old RENAME TO auth_sessions;
CREATE INDEX auth_sessions_user ON auth_sessions (user_id);
CREATE INDEX auth_sessions_legacy_plain ON auth_sessions (legacy_plain);
