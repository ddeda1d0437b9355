DELETE FROM role_permissions WHERE permission IN ('webhook_inbox:read:all',
	'webhook_inbox:replay:all', 'failed_jobs:read:all',
	'failed_jobs:retry:all');
DELETE FROM permissions WHERE name IN ('webhook_inbox:read:all',
	'webhook_inbox:replay:all', 'failed_jobs:read:all',
	'failed_jobs:retry:all');
