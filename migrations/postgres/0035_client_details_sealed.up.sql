-- Issue 15, review findings 2, 3 and 5: clients' addresses no longer kept
-- in clear.
--
-- auth_sessions.legacy_plain defaults to 1: a row written by an older
-- binary during a rolling upgrade (one that does not name the column) is
-- in clear, and is sealed at the next start-up like those 0033 carried
-- over; this binary writes 0 with every row it makes.
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
ALTER TABLE auth_sessions ALTER COLUMN legacy_plain SET DEFAULT 1;
ALTER TABLE password_resets ALTER COLUMN ip TYPE BYTEA USING NULL;
CREATE INDEX audit_log_action ON audit_log (action, seq);
