DELETE FROM role_permissions WHERE permission = 'reports:read:related';
DELETE FROM permissions WHERE name = 'reports:read:related';
-- Tell the servers' permission caches (role_permissions_epoch).
UPDATE role_permissions_epoch SET epoch = epoch + 1 WHERE id = 1;
