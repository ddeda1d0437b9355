DELETE FROM role_permissions WHERE permission LIKE 'analytics_events:%';
DELETE FROM permissions WHERE name LIKE 'analytics_events:%';
DELETE FROM settings WHERE key = 'analytics_retention_days';
UPDATE settings_epoch SET epoch = epoch + 1 WHERE id = 1;
DROP TABLE analytics_events;
