DELETE FROM role_permissions WHERE permission IN ('courses:read:all',
	'course_enrolments:read:all', 'course_enrolments:read:related',
	'course_enrolments:read:own', 'course_session_progress:read:all',
	'course_session_progress:read:related', 'course_session_progress:read:own');
DELETE FROM permissions WHERE name IN ('courses:read:all',
	'course_enrolments:read:all', 'course_enrolments:read:related',
	'course_enrolments:read:own', 'course_session_progress:read:all',
	'course_session_progress:read:related', 'course_session_progress:read:own');
DROP TABLE course_session_progress;
DROP TABLE course_enrolments;
DROP TABLE course_session_partners;
DROP TABLE course_sessions;
DROP TABLE course_partners;
DROP TABLE courses;
DROP TABLE webhook_inbox;
