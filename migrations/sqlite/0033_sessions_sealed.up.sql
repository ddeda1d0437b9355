-- Issue 15, item 9 (review point 7): auth sessions' client details sealed.
--
-- auth_sessions: ip, user_agent and device_fingerprint are sealed under
-- the signed-in user's data key (bound to "auth_sessions.<column>:<id>"),
-- so erasure makes them unreadable. Rows from before this migration hold
-- the text as it was (legacy_plain = 1) until the people module seals
-- them at start-up (people_sessions_seal_legacy); new rows are written
-- sealed.
--
-- login_failures: the client address in a subject ("ip:<addr>",
-- "account:<index>:ip:<addr>") becomes its keyed blind index. The counts
-- under clear addresses are dropped (at most an hour's, the window).
CREATE TABLE auth_sessions_new (
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
INSERT INTO auth_sessions_new (id, user_id, token_hash, ip, user_agent,
	device_fingerprint, legacy_plain, created_at, last_activity_at,
	idle_timeout_ms, expires_at, ended_at, end_reason)
	SELECT id, user_id, token_hash, CAST(ip AS BLOB),
	CAST(user_agent AS BLOB), CAST(device_fingerprint AS BLOB),
	CASE WHEN ip IS NULL AND user_agent IS NULL AND
	    device_fingerprint IS NULL THEN 0 ELSE 1 END,
	created_at, last_activity_at, idle_timeout_ms, expires_at, ended_at,
	end_reason FROM auth_sessions;
DROP TABLE auth_sessions;
ALTER TABLE auth_sessions_new RENAME TO auth_sessions;
CREATE INDEX auth_sessions_user ON auth_sessions (user_id);
CREATE INDEX auth_sessions_legacy_plain ON auth_sessions (legacy_plain);
DELETE FROM login_failures WHERE subject LIKE 'ip:%' OR
	subject LIKE 'account:%:ip:%';
