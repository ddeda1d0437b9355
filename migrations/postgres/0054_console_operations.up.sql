-- The admin console's operations (src/ops/console.c): the webhook inbox
-- (GET /v1/webhook-inbox, POST .../replay) and the failed jobs (GET
-- /v1/failed-jobs, POST .../retry), admins as seeded; what the command
-- line's `webhooks` and `jobs` do with the database's own access.
INSERT INTO permissions (name, description) VALUES
	('webhook_inbox:read:all', 'list inbound webhooks and their outcomes'),
	('webhook_inbox:replay:all', 'run a stored inbound webhook again'),
	('failed_jobs:read:all', 'list jobs that gave up'),
	('failed_jobs:retry:all', 'queue a failed job again');
INSERT INTO role_permissions (role, permission) VALUES
	('admin', 'webhook_inbox:read:all'),
	('admin', 'webhook_inbox:replay:all'),
	('admin', 'failed_jobs:read:all'),
	('admin', 'failed_jobs:retry:all');
