DELETE FROM role_permissions WHERE permission IN (SELECT name FROM permissions WHERE name LIKE 'therapists:%'
	OR name LIKE 'therapy_sessions:%' OR name LIKE 'forms:%'
	OR name LIKE 'form_responses:%' OR name LIKE 'resources:%'
	OR name LIKE 'resource_assignments:%');
DELETE FROM permissions WHERE name LIKE 'therapists:%'
	OR name LIKE 'therapy_sessions:%' OR name LIKE 'forms:%'
	OR name LIKE 'form_responses:%' OR name LIKE 'resources:%'
	OR name LIKE 'resource_assignments:%';
DROP TABLE resource_assignments;
DROP TABLE resources;
DROP TABLE form_responses;
DROP TABLE forms;
DROP TABLE therapy_sessions;
DROP TABLE therapists;
