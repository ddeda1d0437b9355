-- Back to 0032. Sealed values cannot be opened in SQL: sessions written
-- sealed lose their address, user agent and device fingerprint (NULL);
-- rows still in clear (legacy_plain = 1) keep them. Failed-login counts
-- by address (under blind indexes 0032 does not read) are dropped.
DROP INDEX auth_sessions_legacy_plain;
ALTER TABLE auth_sessions
	ALTER COLUMN ip TYPE TEXT USING CASE WHEN legacy_plain = 1
	    THEN convert_from(ip, 'UTF8') END,
	ALTER COLUMN user_agent TYPE TEXT USING CASE WHEN legacy_plain = 1
	    THEN convert_from(user_agent, 'UTF8') END,
	ALTER COLUMN device_fingerprint TYPE TEXT USING CASE WHEN
	    legacy_plain = 1 THEN convert_from(device_fingerprint, 'UTF8') END;
ALTER TABLE auth_sessions DROP COLUMN legacy_plain;
DELETE FROM login_failures WHERE subject LIKE 'ip:%' OR
	subject LIKE 'account:%:ip:%';
