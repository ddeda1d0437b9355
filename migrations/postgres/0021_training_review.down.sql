-- Back to 0020, in the reverse order of the up migration.

-- The refunds the bookers' cancels made are kept, as asked for by the
-- booker (cause request): 0019's causes have no other for them.
UPDATE refunds SET cause = 'request' WHERE cause = 'booker_cancelled';
ALTER TABLE refunds DROP CONSTRAINT refunds_cause_check,
	ADD CONSTRAINT refunds_cause_check CHECK (cause IN ('request',
	'schedule_cancelled', 'staff_cancelled', 'late_payment', 'duplicate_payment'));
UPDATE permissions SET description = 'cancel your own pending training booking'
	WHERE name = 'training_bookings:cancel:own';

DELETE FROM role_permissions WHERE permission = 'training_bookings:confirm:own';
DELETE FROM permissions WHERE name = 'training_bookings:confirm:own';

-- The requirements' defaults as 0018 made them (shared, not
-- confidential); every row keeps its values.
ALTER TABLE special_requirements
	ALTER COLUMN is_confidential SET DEFAULT 0,
	ALTER COLUMN share_with_trainer SET DEFAULT 1;
