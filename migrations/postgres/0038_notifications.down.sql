DELETE FROM role_permissions WHERE permission LIKE 'notifications:%'
	OR permission LIKE 'notification_preferences:%';
DELETE FROM permissions WHERE name LIKE 'notifications:%'
	OR name LIKE 'notification_preferences:%';
DELETE FROM settings WHERE key = 'certificate_reminder_days';
UPDATE settings SET default_value = '[72,24]',
	description = 'when learners are reminded of a course; kept for the notifications to come'
	WHERE key = 'reminder_hours_before' AND default_value = '[24,2]';
UPDATE settings_epoch SET epoch = epoch + 1 WHERE id = 1;
DROP TABLE notification_reminders;
DROP TABLE notification_preferences;
DROP TABLE notifications;
