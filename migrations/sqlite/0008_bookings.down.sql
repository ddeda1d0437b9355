DELETE FROM role_permissions WHERE permission IN ('therapy_bookings:read:all',
	'therapy_bookings:read:related', 'therapy_bookings:read:own',
	'therapy_bookings:cancel:all', 'therapy_bookings:cancel:own',
	'reports:read:all');
DELETE FROM permissions WHERE name IN ('therapy_bookings:read:all',
	'therapy_bookings:read:related', 'therapy_bookings:read:own',
	'therapy_bookings:cancel:all', 'therapy_bookings:cancel:own',
	'reports:read:all');
DROP INDEX course_session_progress_completed_at;
DROP INDEX course_session_progress_started_at;
DROP INDEX course_enrolments_completed_at;
DROP INDEX course_enrolments_started_at;
DROP INDEX partner_access_activated_at;
DROP INDEX partner_access_created_at;
DROP TABLE therapy_bookings;
