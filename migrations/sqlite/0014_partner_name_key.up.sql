-- Partner names are unique without regard to case, the same way on both
-- databases: name_key is the name under Unicode simple case folding,
-- computed in C (src/core/fold.c), never with SQL lower() (SQLite folds
-- ASCII only, PostgreSQL follows the server's locale). Every lookup by
-- name compares name_key. Rows from before this migration get their key
-- at start-up (partners_name_keys_fill in src/partners/partners.c); until
-- then, and for a row whose key another partner already holds, it is
-- NULL and the partner is found by id only.
ALTER TABLE partners ADD COLUMN name_key TEXT;
DROP INDEX partners_name;
CREATE UNIQUE INDEX partners_name_key ON partners (name_key);
