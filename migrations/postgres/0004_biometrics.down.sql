DELETE FROM role_permissions WHERE permission IN (SELECT name FROM permissions WHERE name LIKE 'data_types:%'
	OR name LIKE 'exercises:%' OR name LIKE 'recordings:%');
DELETE FROM permissions WHERE name LIKE 'data_types:%'
	OR name LIKE 'exercises:%' OR name LIKE 'recordings:%';
DROP TRIGGER users_erase_recordings ON users;
DROP FUNCTION users_erase_recordings();
DROP TABLE recording_batches;
DROP TABLE recording_blocks;
DROP TABLE recordings;
DROP TABLE exercises;
DROP TABLE data_types;
