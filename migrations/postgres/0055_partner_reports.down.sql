DELETE FROM role_permissions WHERE permission = 'reports:read:related';
DELETE FROM permissions WHERE name = 'reports:read:related';
