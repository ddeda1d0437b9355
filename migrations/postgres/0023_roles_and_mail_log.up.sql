-- Issue 15, items 8 and 10: roles' permissions changed through the API
-- (PUT /v1/roles/{name}/permissions) and the command line (`carebase
-- roles set`), and the mail log read by admins (GET /v1/email-log).
--
-- Each process caches role permissions (src/resource/perms.c). Every
-- change adds one to epoch in its own transaction; the authenticator
-- reads the epoch in each request's transaction, and a process whose
-- cache was loaded under an older epoch reloads it before it decides
-- what the request may do, so a change holds at once for every session
-- already signed in, through any process. One row, read by primary key.
CREATE TABLE role_permissions_epoch (
	id		INTEGER PRIMARY KEY CHECK (id = 1),
	epoch		BIGINT NOT NULL
);
INSERT INTO role_permissions_epoch (id, epoch) VALUES (1, 0);

INSERT INTO permissions (name, description) VALUES
	('email_log:read:all', 'read the log of mail sent, recipients and subjects opened');
INSERT INTO role_permissions (role, permission) VALUES
	('admin', 'email_log:read:all');
