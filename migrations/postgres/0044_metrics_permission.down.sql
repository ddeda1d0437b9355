DELETE FROM role_permissions WHERE permission = 'metrics:read:all';
DELETE FROM permissions WHERE name = 'metrics:read:all';
