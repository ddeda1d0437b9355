-- A partner admin's reports (src/reports/reports.c): the reports open to
-- partners (sign-ups, access codes, therapy bookings, course progress),
-- run over the partner the caller administers only; the server takes the
-- partner from partner_admins, never from the request. Report runs and
-- report schedules stay admins' (reports:read:all).
INSERT INTO permissions (name, description) VALUES
	('reports:read:related', 'run the reports open to partners, over the partner you administer');
INSERT INTO role_permissions (role, permission) VALUES
	('partner_admin', 'reports:read:related');
-- Tell the servers' permission caches (role_permissions_epoch).
UPDATE role_permissions_epoch SET epoch = epoch + 1 WHERE id = 1;
