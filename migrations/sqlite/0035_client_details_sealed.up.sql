-- Issue 15, review findings 2, 3 and 5: clients' addresses no longer kept
-- in clear.
--
-- auth_sessions.legacy_plain defaults to 1: a row written by an older
-- binary during a rolling upgrade (one that does not name the column) is
-- in clear, and is sealed at the next start-up like those 0033 carried
-- over; this binary writes 0 with every row it makes. SQLite cannot alter
-- a column's default: the table is made again as 0033 left it, but for
-- the default, with its indexes.
--
-- password_resets.ip: the address that asked for a reset link is sealed
-- under the person's data key (bound to "password_resets.ip:<id>") and is
-- in their export. The addresses of links asked for before are dropped,
-- not carried over: a link lives 30 minutes, and the address was only a
-- record.
--
-- audit_log (action, seq): GET /v1/audit-log?action= reads by it, newest
-- first. (Its ip and user_agent columns keep their type: since this
-- migration the server writes them sealed or as a blind index, and rows
-- written before keep the text they were hashed with.)
CREATE TABLE auth_sessions_new (
	id			TEXT PRIMARY KEY,
	user_id			TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_hash		TEXT NOT NULL UNIQUE,
	ip			BLOB,		-- sealed
	user_agent		BLOB,		-- sealed
	device_fingerprint	BLOB,		-- sealed
	legacy_plain		INTEGER NOT NULL DEFAULT 1,	-- 1: the three above in clear
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
	SELECT id, user_id, token_hash, ip, user_agent, device_fingerprint,
	legacy_plain, created_at, last_activity_at, idle_timeout_ms,
	expires_at, ended_at, end_reason FROM auth_sessions;
DROP TABLE auth_sessions;
ALTER TABLE auth_sessions_new RENAME TO auth_sessions;
CREATE INDEX auth_sessions_user ON auth_sessions (user_id);
CREATE INDEX auth_sessions_legacy_plain ON auth_sessions (legacy_plain);

CREATE TABLE password_resets_new (
	id		TEXT PRIMARY KEY,
	user_id		TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_hash	TEXT NOT NULL UNIQUE,
	ip		BLOB,		-- sealed
	created_at	BIGINT NOT NULL,
	expires_at	BIGINT NOT NULL,
	used_at		BIGINT
);
INSERT INTO password_resets_new (id, user_id, token_hash, ip, created_at,
	expires_at, used_at)
	SELECT id, user_id, token_hash, NULL, created_at, expires_at, used_at
	FROM password_resets;
DROP TABLE password_resets;
ALTER TABLE password_resets_new RENAME TO password_resets;

CREATE INDEX audit_log_action ON audit_log (action, seq);
