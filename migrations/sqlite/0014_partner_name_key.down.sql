-- Back to 0013: names unique by SQL lower() again.
DROP INDEX partners_name_key;
ALTER TABLE partners DROP COLUMN name_key;
CREATE UNIQUE INDEX partners_name ON partners (lower(name));
