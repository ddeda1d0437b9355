-- The ids a read of many rows names, kept once (src/resource/audit.c,
-- "Pages"). A list read is audited with the ids of every row it showed:
-- {"ids":[...]}, 50 ids and 2 KB a row, thousands of times a second for
-- one list read again and again. Now such a row's changes name the page
-- of ids instead, {"$ids":"<digest>"}, and the page is here once: body
-- is the text the row's changes were ({"ids":[...]}, compact, keys
-- sorted), digest its hex SHA-256. The chain hashes the row as stored,
-- so it covers the digest, and the digest the body: `carebase audit
-- verify` checks both. Readers of the log show the body in the row's
-- place, as before. Going back to 0057 keeps the table (see its down),
-- so made again here only when it is not there.
CREATE TABLE IF NOT EXISTS audit_pages (
	digest	TEXT PRIMARY KEY,
	body	TEXT NOT NULL
);
-- Append-only, as audit_log is.
CREATE OR REPLACE FUNCTION audit_pages_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit_pages is append-only';
END
$$;
DROP TRIGGER IF EXISTS audit_pages_append_only ON audit_pages;
CREATE TRIGGER audit_pages_append_only BEFORE UPDATE OR DELETE ON audit_pages
	FOR EACH ROW EXECUTE FUNCTION audit_pages_append_only();
