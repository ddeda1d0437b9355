DELETE FROM role_permissions WHERE permission LIKE 'settings:%';
DELETE FROM permissions WHERE name LIKE 'settings:%';
DROP TABLE settings_epoch;
DROP TABLE settings;
