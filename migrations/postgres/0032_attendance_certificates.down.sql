DELETE FROM role_permissions WHERE permission LIKE 'attendance_records:%'
	OR permission LIKE 'certificates:%';
DELETE FROM permissions WHERE name LIKE 'attendance_records:%' OR name LIKE 'certificates:%';
ALTER TABLE training_courses DROP COLUMN requalifies;
DROP TABLE certificates;
DROP TABLE attendance_records;
