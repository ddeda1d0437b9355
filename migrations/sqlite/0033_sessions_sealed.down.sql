-- Back to 0032. Sealed values cannot be opened in SQL: sessions written
-- sealed lose their address, user agent and device fingerprint (NULL);
-- rows still in clear (legacy_plain = 1) keep them. Failed-login counts
-- by address (under blind indexes 0032 does not read) are dropped.
CREATE TABLE auth_sessions_old (
	id			TEXT PRIMARY KEY,
	user_id			TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_hash		TEXT NOT NULL UNIQUE,
	ip			TEXT,
	user_agent		TEXT,
	device_fingerprint	TEXT,
	created_at		BIGINT NOT NULL,
	last_activity_at	BIGINT NOT NULL,
	idle_timeout_ms		BIGINT NOT NULL,
	expires_at		BIGINT NOT NULL,	-- absolute
	ended_at		BIGINT,
	end_reason		TEXT
);
INSERT INTO auth_sessions_old (id, user_id, token_hash, ip, user_agent,
	device_fingerprint, created_at, last_activity_at, idle_timeout_ms,
	expires_at, ended_at, end_reason)
	SELECT id, user_id, token_hash,
	CASE WHEN legacy_plain = 1 THEN CAST(ip AS TEXT) END,
	CASE WHEN legacy_plain = 1 THEN CAST(user_agent AS TEXT) END,
	CASE WHEN legacy_plain = 1 THEN CAST(device_fingerprint AS TEXT) END,
	created_at, last_activity_at, idle_timeout_ms, expires_at, ended_at,
	end_reason FROM auth_sessions;
DROP TABLE auth_sessions;
ALTER TABLE auth_sessions_old RENAME TO auth_sessions;
CREATE INDEX auth_sessions_user ON auth_sessions (user_id);
DELETE FROM login_failures WHERE subject LIKE 'ip:%' OR
	subject LIKE 'account:%:ip:%';
