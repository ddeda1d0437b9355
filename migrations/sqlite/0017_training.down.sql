DELETE FROM role_permissions WHERE permission IN (SELECT name FROM permissions
	WHERE name LIKE 'training_courses:%' OR name LIKE 'venues:%'
	OR name LIKE 'trainers:%' OR name LIKE 'course_materials:%'
	OR name LIKE 'course_schedules:%');
DELETE FROM permissions WHERE name LIKE 'training_courses:%' OR name LIKE 'venues:%'
	OR name LIKE 'trainers:%' OR name LIKE 'course_materials:%'
	OR name LIKE 'course_schedules:%';
DROP TRIGGER IF EXISTS course_schedules_overlap_update;
DROP TRIGGER IF EXISTS course_schedules_overlap_insert;
DROP TABLE course_schedules;
DROP TABLE course_materials;
DROP TABLE trainers;
DROP TABLE venues;
DROP TABLE training_courses;
