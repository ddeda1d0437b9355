DELETE FROM role_permissions WHERE permission IN (SELECT name FROM permissions
	WHERE name LIKE 'partners:%' OR name LIKE 'features:%'
	OR name LIKE 'partner_features:%' OR name LIKE 'partner_admins:%'
	OR name LIKE 'partner_access:%');
DELETE FROM permissions WHERE name LIKE 'partners:%' OR name LIKE 'features:%'
	OR name LIKE 'partner_features:%' OR name LIKE 'partner_admins:%'
	OR name LIKE 'partner_access:%';
DROP TABLE partner_code_failures;
DROP TABLE partner_access;
DROP TABLE partner_admins;
DROP TABLE partner_features;
DROP TABLE features;
DROP TABLE partners;
