DELETE FROM role_permissions WHERE permission = 'metrics:read:all';
DELETE FROM permissions WHERE name = 'metrics:read:all';
UPDATE role_permissions_epoch SET epoch = epoch + 1 WHERE id = 1;
