DELETE FROM role_permissions WHERE permission IN (SELECT name FROM permissions
	WHERE name LIKE 'training_courses:%' OR name LIKE 'venues:%'
	OR name LIKE 'trainers:%' OR name LIKE 'course_materials:%'
	OR name LIKE 'course_schedules:%');
DELETE FROM permissions WHERE name LIKE 'training_courses:%' OR name LIKE 'venues:%'
	OR name LIKE 'trainers:%' OR name LIKE 'course_materials:%'
	OR name LIKE 'course_schedules:%';
DROP FUNCTION IF EXISTS unixepoch();
DROP TABLE course_schedules;
DROP TABLE course_materials;
DROP TABLE trainers;
DROP TABLE venues;
DROP TABLE training_courses;
-- btree_gist is left installed: other objects use it.
