-- Back to 0020: the requirements' defaults as 0018 made them (shared,
-- not confidential); every row keeps its values.
ALTER TABLE special_requirements
	ALTER COLUMN is_confidential SET DEFAULT 0,
	ALTER COLUMN share_with_trainer SET DEFAULT 1;

DELETE FROM role_permissions WHERE permission = 'training_bookings:confirm:own';
DELETE FROM permissions WHERE name = 'training_bookings:confirm:own';
