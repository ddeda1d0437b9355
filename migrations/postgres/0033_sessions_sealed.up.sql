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
ALTER TABLE auth_sessions
	ALTER COLUMN ip TYPE BYTEA USING convert_to(ip, 'UTF8'),
	ALTER COLUMN user_agent TYPE BYTEA USING convert_to(user_agent, 'UTF8'),
	ALTER COLUMN device_fingerprint TYPE BYTEA
	    USING convert_to(device_fingerprint, 'UTF8'),
	ADD COLUMN legacy_plain INTEGER NOT NULL DEFAULT 0;
UPDATE auth_sessions SET legacy_plain = 1 WHERE ip IS NOT NULL OR
	user_agent IS NOT NULL OR device_fingerprint IS NOT NULL;
CREATE INDEX auth_sessions_legacy_plain ON auth_sessions (legacy_plain);
DELETE FROM login_failures WHERE subject LIKE 'ip:%' OR
	subject LIKE 'account:%:ip:%';
